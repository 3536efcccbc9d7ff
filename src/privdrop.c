/* privdrop.c - chroot and user switch (see privdrop.h). */
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

bool privdrop_apply(const char *user, const char *rootdir, char *err, size_t errlen)
{
    uid_t uid = 0;
    gid_t gid = 0;

    if (user[0]) {
        errno = 0;
        struct passwd *pw = getpwnam(user);
        if (!pw) {
            snprintf(err, errlen, "tracker.user: no user '%s'%s%s", user, errno ? ": " : "",
                     errno ? strerror(errno) : "");
            return false;
        }
        uid = pw->pw_uid;
        gid = pw->pw_gid;
        if (uid == 0) {
            snprintf(err, errlen, "tracker.user: '%s' is root; name an unprivileged user",
                     user);
            return false;
        }
    }
    if (rootdir[0]) {
        if (chroot(rootdir) != 0 || chdir("/") != 0) {
            snprintf(err, errlen, "tracker.rootdir: cannot chroot to %s: %s", rootdir,
                     strerror(errno));
            return false;
        }
    }
    if (!user[0])
        return true;
    if (getuid() == uid && geteuid() == uid)
        return true; /* started as that user already (e.g. by systemd's User=) */
    /* Groups first: once the user id is gone, the group ids can no longer be changed. */
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        snprintf(err, errlen, "tracker.user: cannot switch to '%s': %s", user,
                 strerror(errno));
        return false;
    }
    if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid ||
        setuid(0) == 0) {
        snprintf(err, errlen, "tracker.user: switched to '%s' but root is still reachable",
                 user);
        return false;
    }
    return true;
}
