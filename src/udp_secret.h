/* udp_secret.h - the UDP connection-ID keys in use, their file and their hot swap.
 *
 * tracker.udp_secret_file holds the key every node of a cluster shares (format in
 * connid_parse_secret); without it each process makes a random key. The file must be a
 * regular file that group and others cannot access, since anyone who reads the key can mint
 * connection ids for spoofed addresses. Like the access lists, its path is opened after the
 * chroot, so it is relative to tracker.rootdir, and SIGHUP re-reads it.
 *
 * Hot swap: the keys sit in a seqlock (a sequence number around relaxed atomic words), so
 * readers on any thread copy a consistent pair without a lock and without ever seeing half
 * of a reload; the single writer is the main thread. */
#ifndef SWARMD_UDP_SECRET_H
#define SWARMD_UDP_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/connid.h"

struct udp_secret {
    uint32_t seq;      /* odd while a write is under way */
    uint64_t words[5]; /* cur key (2), prev key (2), has_prev */
    char path[512];    /* "" = random key, nothing to reload */
};

/* Random key, no file. false if the CSPRNG failed. */
bool udp_secret_init_random(struct udp_secret *s);

/* Read and check the file (regular, mode without group/other bits, well-formed) into keys.
 * false with the reason, naming the file, in err. */
bool udp_secret_load_file(const char *path, struct connid_keys *keys, char *err, size_t errlen);

/* Start-up: load path and keep it for reloads. false with the reason in err. */
bool udp_secret_open(struct udp_secret *s, const char *path, char *err, size_t errlen);

/* SIGHUP: re-read the file and swap the keys in; on any failure the old keys stay and the
 * reason is logged. Returns whether new keys are in use (false too when there is no file). */
bool udp_secret_reload(struct udp_secret *s);

/* Replace the keys (writer: one thread). */
void udp_secret_set(struct udp_secret *s, const struct connid_keys *keys);

/* Hot path, any thread: a consistent copy of the keys. */
void udp_secret_get(const struct udp_secret *s, struct connid_keys *keys);

#endif
