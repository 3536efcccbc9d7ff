/* privdrop.h - chroot and switch to an unprivileged user after the sockets are bound.
 *
 * Order: look the user up (needs /etc/passwd, so before the chroot), chroot and chdir("/"),
 * then setgroups (the user's primary group only), setgid, setuid, and finally check that
 * root cannot be regained. Call it before any thread exists, so every thread runs with the
 * final credentials. Refuses (false with a message) rather than continue as root when a user
 * was configured and the switch did not happen. */
#ifndef SWARMD_PRIVDROP_H
#define SWARMD_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>

/* user and rootdir may be "" (not configured). */
bool privdrop_apply(const char *user, const char *rootdir, char *err, size_t errlen);

#endif
