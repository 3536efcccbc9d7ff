/* udp_secret.c - load tracker.udp_secret_file and swap keys under a seqlock (see udp_secret.h).
 *
 * Why a seqlock and not the access list's pointer swap: the keys are 33 bytes, a reader
 * copies them in a few nanoseconds, and a copy needs no reclamation at all. The words are
 * relaxed atomics so the reader's racy copy is well defined; the fences order them against
 * the sequence number (Boehm, "Can seqlocks get along with programming language memory
 * models?", 2012). */
#include "udp_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

#define SECRET_FILE_MAX 4096 /* two keys and some blanks; anything bigger is not ours */

static uint64_t load8(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

void udp_secret_set(struct udp_secret *s, const struct connid_keys *keys)
{
    uint64_t w[5] = {load8(keys->cur.k), load8(keys->cur.k + 8), load8(keys->prev.k),
                     load8(keys->prev.k + 8), keys->has_prev};
    uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);

    __atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    for (int i = 0; i < 5; i++)
        __atomic_store_n(&s->words[i], w[i], __ATOMIC_RELAXED);
    __atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
}

void udp_secret_get(const struct udp_secret *s, struct connid_keys *keys)
{
    uint64_t w[5];
    uint32_t a, b;

    do {
        a = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
        for (int i = 0; i < 5; i++)
            w[i] = __atomic_load_n(&s->words[i], __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        b = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
    } while ((a & 1) || a != b);
    memcpy(keys->cur.k, &w[0], 8);
    memcpy(keys->cur.k + 8, &w[1], 8);
    memcpy(keys->prev.k, &w[2], 8);
    memcpy(keys->prev.k + 8, &w[3], 8);
    keys->has_prev = w[4] != 0;
}

bool udp_secret_init_random(struct udp_secret *s)
{
    struct connid_keys keys;

    memset(s, 0, sizeof(*s));
    memset(&keys, 0, sizeof(keys));
    if (!connid_init(&keys.cur))
        return false;
    udp_secret_set(s, &keys);
    return true;
}

bool udp_secret_load_file(const char *path, struct connid_keys *keys, char *err, size_t errlen)
{
    char text[SECRET_FILE_MAX];
    struct stat st;
    char why[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "tracker.udp_secret_file: cannot open %s: %s", path,
                 strerror(errno));
        return false;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "tracker.udp_secret_file: %s is not a regular file", path);
        close(fd);
        return false;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, errlen,
                 "tracker.udp_secret_file: %s is accessible by group or others (mode %04o); "
                 "anyone who reads the key can forge connection ids: chmod 600 it",
                 path, (unsigned)(st.st_mode & 07777));
        close(fd);
        return false;
    }
    ssize_t n, len = 0;
    while ((n = read(fd, text + len, sizeof(text) - (size_t)len)) > 0)
        len += n;
    int e = errno;
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "tracker.udp_secret_file: cannot read %s: %s", path,
                 strerror(e));
        return false;
    }
    if (len == (ssize_t)sizeof(text)) {
        snprintf(err, errlen, "tracker.udp_secret_file: %s is larger than %d bytes", path,
                 SECRET_FILE_MAX - 1);
        return false;
    }
    bool ok = connid_parse_secret(text, (size_t)len, keys, why, sizeof(why));
    memset(text, 0, sizeof(text)); /* no key bytes left on the stack */
    if (!ok) {
        snprintf(err, errlen, "tracker.udp_secret_file: %s: %s", path, why);
        return false;
    }
    return true;
}

bool udp_secret_open(struct udp_secret *s, const char *path, char *err, size_t errlen)
{
    struct connid_keys keys;

    memset(s, 0, sizeof(*s));
    if (strlen(path) >= sizeof(s->path)) {
        snprintf(err, errlen, "tracker.udp_secret_file: path too long");
        return false;
    }
    if (!udp_secret_load_file(path, &keys, err, errlen))
        return false;
    snprintf(s->path, sizeof(s->path), "%s", path);
    udp_secret_set(s, &keys);
    memset(&keys, 0, sizeof(keys));
    return true;
}

bool udp_secret_reload(struct udp_secret *s)
{
    struct connid_keys keys;
    char err[768];

    if (!s->path[0])
        return false;
    if (!udp_secret_load_file(s->path, &keys, err, sizeof(err))) {
        log_warn("SIGHUP: %s; keeping the current UDP connection-id keys", err);
        return false;
    }
    udp_secret_set(s, &keys);
    log_info("SIGHUP: %s reloaded: UDP connection-id key%s", s->path,
             keys.has_prev ? " and previous key" : " (no previous key)");
    memset(&keys, 0, sizeof(keys));
    return true;
}
