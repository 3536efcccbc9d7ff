/* persist.c - the state file's I/O: crash-safe replace, restore with move-aside, a thread.
 *
 * Wall-clock time (time(2)) is used only here, to measure the downtime between a save and
 * the restore; the store itself keeps running on the monotonic process clock. */
#include "persist/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "persist/statefile.h"
#include "store/snapshot.h"
#include "util/clock.h"
#include "util/log.h"

static pthread_mutex_t save_lock = PTHREAD_MUTEX_INITIALIZER;
static struct persist_hook hook; /* under save_lock */
/* What the last restore found in the file's section (main thread, before any save). */
static uint8_t restored[PERSIST_SECTION_MAX];
static size_t restored_len;
static char restored_tag[4];

size_t persist_restored_section(const char tag[4], uint8_t *buf, size_t cap)
{
    if (!restored_len || memcmp(tag, restored_tag, 4) != 0 || restored_len > cap)
        return 0;
    memcpy(buf, restored, restored_len);
    return restored_len;
}

void persist_set_hook(const struct persist_hook *h)
{
    pthread_mutex_lock(&save_lock);
    if (h)
        hook = *h;
    else
        memset(&hook, 0, sizeof hook);
    pthread_mutex_unlock(&save_lock);
}

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool add_torrent(void *ctx, const struct snap_torrent *t)
{
    return statefile_add(ctx, t);
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* fsync the folder holding path, so the rename itself is durable. */
static bool sync_dir_of(const char *path)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return false;
    bool ok = fsync(fd) == 0 || errno == EINVAL; /* some file systems cannot sync folders */
    close(fd);
    return ok;
}

static bool tmp_path(const char *path, char *out, size_t cap)
{
    return (size_t)snprintf(out, cap, "%s.tmp", path) < cap;
}

static bool replace_file(const char *path, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (!tmp_path(path, tmp, sizeof tmp)) {
        snprintf(err, errlen, "path too long");
        return false;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return false;
    }
    if (!write_all(fd, p, n) || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return false;
    }
    if (close(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return false;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        return false;
    }
    if (!sync_dir_of(path)) {
        snprintf(err, errlen, "cannot sync the folder of %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

bool persist_save(store_t *s, const char *path, struct persist_result *r, char *err,
                  size_t errlen)
{
    struct statefile_enc e;
    struct snap_scratch sc = {NULL, 0};
    struct store_stats st;
    double t0 = mono_seconds();
    bool ok = false;

    memset(&e, 0, sizeof e);
    memset(r, 0, sizeof *r);
    pthread_mutex_lock(&save_lock);
    /* Reserve about what the file will take, so the buffer rarely grows under a shard lock. */
    store_get_stats(s, &st);
    size_t hint = (size_t)(st.torrents * 32 + st.peers4 * SNAP_PEER4_SIZE +
                           st.peers6 * SNAP_PEER6_SIZE) + (size_t)(st.torrents * 32) / 8;
    uint32_t now = clock_now();
    uint8_t section[PERSIST_SECTION_MAX];
    size_t section_len = hook.capture ? hook.capture(hook.ctx, section, sizeof section) : 0;
    if (!statefile_begin(&e, (uint64_t)time(NULL), hint)) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (unsigned i = 0, n = store_snapshot_shards(s); i < n; i++) {
        if (!store_export_shard(s, i, now, &sc, add_torrent, &e)) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    }
    if ((section_len && !statefile_add_section(&e, hook.tag, section, section_len)) ||
        !statefile_finish(&e)) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (!replace_file(path, e.p, e.len, err, errlen))
        goto out;
    r->torrents = e.torrents;
    r->peers = e.peers;
    r->bytes = e.len;
    r->seconds = mono_seconds() - t0;
    ok = true;
out:
    pthread_mutex_unlock(&save_lock);
    free(sc.p);
    free(e.p);
    return ok;
}

/* ---- restore ---- */

static bool read_file(const char *path, uint8_t **out, size_t *len, int *eno)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    *out = NULL;
    *len = 0;
    if (fd < 0) {
        *eno = errno;
        return false;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        *eno = S_ISDIR(sb.st_mode) ? EISDIR : errno;
        close(fd);
        return false;
    }
    size_t cap = (size_t)sb.st_size + 1, n = 0;
    uint8_t *p = malloc(cap);
    if (!p) {
        *eno = ENOMEM;
        close(fd);
        return false;
    }
    for (;;) {
        if (n == cap) {
            uint8_t *q = realloc(p, cap * 2);
            if (!q) {
                free(p);
                close(fd);
                *eno = ENOMEM;
                return false;
            }
            p = q;
            cap *= 2;
        }
        ssize_t got = read(fd, p + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            *eno = errno;
            free(p);
            close(fd);
            return false;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    *out = p;
    *len = n;
    return true;
}

struct restore_ctx {
    store_t *store;
    uint32_t now, downtime;
    uint64_t torrents, peers;
};

static bool import_one(void *arg, const struct snap_torrent *t)
{
    struct restore_ctx *c = arg;
    c->torrents++;
    return store_import_torrent(c->store, t, c->now, c->downtime, &c->peers);
}

/* Rename a refused file out of the way, so the next save does not destroy the evidence. */
static void move_aside(const char *path, char *where, size_t cap)
{
    char aside[PATH_MAX];
    snprintf(aside, sizeof aside, "%s.corrupt-%lld", path, (long long)time(NULL));
    if (rename(path, aside) == 0)
        snprintf(where, cap, "moved to %s", aside);
    else
        snprintf(where, cap, "could not move it aside: %s", strerror(errno));
}

enum persist_load persist_restore(store_t *s, const char *path, struct persist_result *r,
                                  char *err, size_t errlen)
{
    char tmp[PATH_MAX], why[256], where[PATH_MAX + 64];
    uint8_t *data;
    size_t len;
    int eno = 0;
    double t0 = mono_seconds();

    memset(r, 0, sizeof *r);
    /* A leftover temporary file is a save that never completed: never trust it. */
    if (tmp_path(path, tmp, sizeof tmp))
        unlink(tmp);
    if (!read_file(path, &data, &len, &eno)) {
        if (eno == ENOENT)
            return PERSIST_MISSING;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(eno));
        return PERSIST_FAILED;
    }
    struct statefile_info info;
    if (!statefile_decode(data, len, &info, NULL, NULL, why, sizeof why)) {
        free(data);
        move_aside(path, where, sizeof where);
        snprintf(err, errlen, "%s refused: %s; %s", path, why, where);
        return PERSIST_REFUSED;
    }
    struct restore_ctx c = {s, clock_now(), 0, 0, 0};
    int64_t down = (int64_t)time(NULL) - (int64_t)info.saved_at;
    /* A clock set back counts as no downtime; a very long one as "everything expired". */
    c.downtime = down <= 0 ? 0 : down > INT32_MAX ? INT32_MAX : (uint32_t)down;
    bool ok = statefile_decode(data, len, &info, import_one, &c, why, sizeof why);
    restored_len = 0;
    if (ok && info.section && info.section_len <= sizeof restored) {
        memcpy(restored, info.section, info.section_len);
        memcpy(restored_tag, info.section_tag, sizeof restored_tag);
        restored_len = info.section_len;
    }
    free(data);
    r->torrents = c.torrents;
    r->peers = c.peers;
    r->bytes = len;
    r->seconds = mono_seconds() - t0;
    if (!ok) {
        snprintf(err, errlen, "%s: out of memory while restoring (%s)", path, why);
        return PERSIST_FAILED;
    }
    return PERSIST_LOADED;
}

/* ---- the snapshot thread ---- */

struct persist {
    store_t *store;
    char path[PATH_MAX];
    unsigned interval_s;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    pthread_t thread;
};

static void *persist_main(void *arg)
{
    struct persist *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += p->interval_s;
        while (!p->stop && pthread_cond_timedwait(&p->wake, &p->lock, &until) != ETIMEDOUT)
            ;
        if (p->stop)
            break;
        pthread_mutex_unlock(&p->lock);
        struct persist_result r;
        char err[PATH_MAX + 128];
        if (persist_save(p->store, p->path, &r, err, sizeof err))
            log_debug("state saved: %llu torrents, %llu peers, %llu bytes in %.3f s",
                      (unsigned long long)r.torrents, (unsigned long long)r.peers,
                      (unsigned long long)r.bytes, r.seconds);
        else
            log_error("state file: %s", err);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct persist *persist_start(store_t *s, const char *path, unsigned interval_s)
{
    struct persist *p = calloc(1, sizeof *p);
    pthread_condattr_t ca;
    if (!p)
        return NULL;
    p->store = s;
    snprintf(p->path, sizeof p->path, "%s", path);
    p->interval_s = interval_s ? interval_s : 1;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&p->thread, NULL, persist_main, p) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

void persist_stop(struct persist *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void persist_restore_logged(store_t *s, const char *path)
{
    struct persist_result r;
    char err[2 * PATH_MAX + 320];
    switch (persist_restore(s, path, &r, err, sizeof err)) {
    case PERSIST_LOADED:
        log_info("state restored from %s: %llu torrents, %llu live peers (%llu bytes, %.3f s)",
                 path, (unsigned long long)r.torrents, (unsigned long long)r.peers,
                 (unsigned long long)r.bytes, r.seconds);
        break;
    case PERSIST_MISSING:
        log_info("no state file %s yet: starting empty", path);
        break;
    case PERSIST_REFUSED:
        log_error("state file %s; starting empty", err);
        break;
    case PERSIST_FAILED:
        log_error("state file: %s; continuing with what was restored", err);
        break;
    }
}

bool persist_save_logged(store_t *s, const char *path)
{
    struct persist_result r;
    char err[PATH_MAX + 128];
    if (!persist_save(s, path, &r, err, sizeof err)) {
        log_error("state file: %s", err);
        return false;
    }
    log_info("state saved to %s: %llu torrents, %llu peers, %llu bytes in %.3f s", path,
             (unsigned long long)r.torrents, (unsigned long long)r.peers,
             (unsigned long long)r.bytes, r.seconds);
    return true;
}
