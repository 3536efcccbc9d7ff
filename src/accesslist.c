/* accesslist.c - parse, sort and look up info-hash access lists; swap them in safely.
 *
 * The list is one allocation (count + packed 20-byte hashes) so a lookup touches only the
 * cache lines binary search needs, and a million hashes cost 20 MB. Reloads never block the
 * workers: they only ever do one atomic load per lookup. */
#include "accesslist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define ACCESSLIST_MAX_FILE (1024UL * 1024 * 1024)

/* Hex digit values, -1 for anything else: a table, because a million-line list is 41 MB of
 * digits and this is the parser's inner loop. */
static const int8_t hex_table[256] = {
    ['0'] = 0 + 1, ['1'] = 1 + 1, ['2'] = 2 + 1, ['3'] = 3 + 1, ['4'] = 4 + 1,
    ['5'] = 5 + 1, ['6'] = 6 + 1, ['7'] = 7 + 1, ['8'] = 8 + 1, ['9'] = 9 + 1,
    ['a'] = 10 + 1, ['b'] = 11 + 1, ['c'] = 12 + 1, ['d'] = 13 + 1, ['e'] = 14 + 1,
    ['f'] = 15 + 1, ['A'] = 10 + 1, ['B'] = 11 + 1, ['C'] = 12 + 1, ['D'] = 13 + 1,
    ['E'] = 14 + 1, ['F'] = 15 + 1,
}; /* stored plus one so that the zero default means "not a digit" */

static inline int hexval(unsigned char ch) { return hex_table[ch] - 1; }

static bool is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

/* One line without its '\n'. 1 = hash written to h, 0 = nothing on it, -1 = bad (why set). */
static int parse_line(const char *p, size_t n, uint8_t h[ACCESS_HASH_LEN], const char **why)
{
    size_t i = 0, digits = 0;

    while (i < n && is_blank(p[i]))
        i++;
    if (i == n || p[i] == '#')
        return 0;
    while (i + digits < n && hexval((unsigned char)p[i + digits]) >= 0)
        digits++;
    size_t j = i + digits;
    while (j < n && is_blank(p[j]))
        j++;
    if (j < n && (p[j] != '#' || j == i + digits)) {
        *why = digits == 0 ? "not a hex info-hash" : "unexpected character after the hash";
        return -1;
    }
    if (digits != 40 && digits != 64) {
        *why = "an info-hash has 40 hex digits (or 64 for a v2 hash)";
        return -1;
    }
    /* A v2 (SHA-256) hash is looked up by its first 20 bytes, as BEP 52 clients announce. */
    for (size_t k = 0; k < ACCESS_HASH_LEN; k++)
        h[k] = (uint8_t)(hexval((unsigned char)p[i + 2 * k]) << 4 |
                         hexval((unsigned char)p[i + 2 * k + 1]));
    return 1;
}

size_t accesslist_parse(const char *text, size_t len, uint8_t (*out)[ACCESS_HASH_LEN],
                        size_t cap, accesslist_bad_fn bad, void *ctx)
{
    size_t pos = 0, count = 0;
    unsigned line = 0;

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        uint8_t h[ACCESS_HASH_LEN];
        const char *why = NULL;
        line++;
        int r = parse_line(text + pos, end - pos, h, &why);
        if (r > 0) {
            if (count < cap)
                memcpy(out[count], h, ACCESS_HASH_LEN);
            count++;
        } else if (r < 0 && bad) {
            bad(ctx, line, why);
        }
        pos = nl ? end + 1 : len;
    }
    return count;
}

size_t accesslist_max_entries(size_t len)
{
    /* A hash line is at least 40 digits; the last one needs no newline. */
    return len / 41 + 1;
}

struct accesslist *accesslist_alloc(size_t cap)
{
    if (cap > (SIZE_MAX - sizeof(struct accesslist)) / ACCESS_HASH_LEN)
        return NULL;
    struct accesslist *l = malloc(sizeof *l + cap * ACCESS_HASH_LEN);
    if (l)
        l->n = 0;
    return l;
}

void accesslist_free(struct accesslist *l) { free(l); }

static int cmp_hash(const void *a, const void *b) { return memcmp(a, b, ACCESS_HASH_LEN); }

/* Order within one radix bucket: insertion sort for the usual handful, qsort when a
 * (hostile or unlucky) list piles many hashes onto the same two leading bytes. */
static void sort_bucket(uint8_t (*h)[ACCESS_HASH_LEN], size_t n)
{
    if (n > 32) {
        qsort(h, n, ACCESS_HASH_LEN, cmp_hash);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        uint8_t x[ACCESS_HASH_LEN];
        size_t j = i;
        memcpy(x, h[i], ACCESS_HASH_LEN);
        while (j > 0 && memcmp(h[j - 1], x, ACCESS_HASH_LEN) > 0) {
            memcpy(h[j], h[j - 1], ACCESS_HASH_LEN);
            j--;
        }
        memcpy(h[j], x, ACCESS_HASH_LEN);
    }
}

#define RADIX_BUCKETS 65536

/* One counting-sort pass on the first two bytes, then tiny sorts per bucket: a million
 * hashes sort several times faster than with qsort alone. Falls back to qsort when the
 * scratch memory is not available. */
static void sort_hashes(uint8_t (*h)[ACCESS_HASH_LEN], size_t n)
{
    size_t *start = n > 1024 ? calloc(RADIX_BUCKETS + 1, sizeof *start) : NULL;
    uint8_t (*tmp)[ACCESS_HASH_LEN] = start ? malloc(n * ACCESS_HASH_LEN) : NULL;

    if (!tmp) {
        free(start);
        qsort(h, n, ACCESS_HASH_LEN, cmp_hash);
        return;
    }
    for (size_t i = 0; i < n; i++)
        start[((size_t)h[i][0] << 8 | h[i][1]) + 1]++;
    for (size_t b = 0; b < RADIX_BUCKETS; b++)
        start[b + 1] += start[b];
    /* start[b] is bucket b's next free slot while scattering; afterwards its end. */
    for (size_t i = 0; i < n; i++)
        memcpy(tmp[start[(size_t)h[i][0] << 8 | h[i][1]]++], h[i], ACCESS_HASH_LEN);
    memcpy(h, tmp, n * ACCESS_HASH_LEN);
    for (size_t b = 0, begin = 0; b < RADIX_BUCKETS; b++) {
        sort_bucket(h + begin, start[b] - begin);
        begin = start[b];
    }
    free(tmp);
    free(start);
}

void accesslist_finish(struct accesslist *l)
{
    size_t n = 0;
    if (l->n == 0)
        return;
    sort_hashes(l->hashes, l->n);
    for (size_t i = 0; i < l->n; i++)
        if (n == 0 || memcmp(l->hashes[n - 1], l->hashes[i], ACCESS_HASH_LEN) != 0)
            memmove(l->hashes[n++], l->hashes[i], ACCESS_HASH_LEN);
    l->n = n;
}

bool accesslist_contains(const struct accesslist *l, const uint8_t *hash)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(l->hashes[mid], hash, ACCESS_HASH_LEN);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

struct bad_ctx {
    const char *path;
    unsigned reported;
};

/* A file full of garbage should not flood the log: the first lines tell the story. */
#define ACCESSLIST_MAX_REPORTS 20

static void log_bad(void *ctx, unsigned line, const char *why)
{
    struct bad_ctx *b = ctx;
    if (b->reported < ACCESSLIST_MAX_REPORTS)
        log_warn("%s:%u: %s; line skipped", b->path, line, why);
    else if (b->reported == ACCESSLIST_MAX_REPORTS)
        log_warn("%s: more bad lines skipped without notice", b->path);
    b->reported++;
}

static bool read_all(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

struct accesslist *accesslist_load_file(const char *path, char *err, size_t errlen)
{
    struct stat st;
    struct accesslist *l = NULL;
    char *text = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || (unsigned long long)st.st_size > ACCESSLIST_MAX_FILE) {
        snprintf(err, errlen, "cannot read %s: %s", path,
                 S_ISREG(st.st_mode) ? "larger than 1 GiB" : "not a regular file");
        close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    text = malloc(len ? len : 1);
    l = text ? accesslist_alloc(accesslist_max_entries(len)) : NULL;
    if (!text || !l) {
        snprintf(err, errlen, "cannot load %s: out of memory", path);
        goto fail;
    }
    errno = 0;
    if (!read_all(fd, text, len)) {
        int e = errno;
        snprintf(err, errlen, "cannot read %s: %s", path,
                 e ? strerror(e) : "file shrank while reading");
        goto fail;
    }
    struct bad_ctx bc = {path, 0};
    l->n = accesslist_parse(text, len, l->hashes, accesslist_max_entries(len), log_bad, &bc);
    accesslist_finish(l);
    free(text);
    close(fd);
    return l;
fail:
    free(text);
    accesslist_free(l);
    close(fd);
    return NULL;
}

/* ---- hot swap ---- */

bool access_ctl_init(struct access_ctl *c, enum access_mode mode, struct accesslist *list,
                     unsigned nworkers)
{
    void *mem = NULL;
    memset(c, 0, sizeof *c);
    c->mode = mode;
    c->nworkers = nworkers;
    if (nworkers && posix_memalign(&mem, 64, sizeof(struct access_epoch) * nworkers) != 0)
        return false;
    c->epochs = mem;
    if (c->epochs)
        memset(c->epochs, 0, sizeof(struct access_epoch) * nworkers);
    __atomic_store_n(&c->cur, list, __ATOMIC_RELEASE);
    return true;
}

void access_ctl_destroy(struct access_ctl *c)
{
    accesslist_free(c->cur);
    free(c->epochs);
    memset(c, 0, sizeof *c);
}

bool access_ctl_allowed(const struct access_ctl *c, const uint8_t *hash)
{
    if (!c || c->mode == ACCESS_OPEN)
        return true;
    const struct accesslist *l = __atomic_load_n(&c->cur, __ATOMIC_ACQUIRE);
    if (!l)
        return c->mode == ACCESS_BLACKLIST;
    bool listed = accesslist_contains(l, hash);
    return c->mode == ACCESS_WHITELIST ? listed : !listed;
}

void access_ctl_quiesce(struct access_ctl *c, unsigned w)
{
    if (!c || !c->epochs || w >= c->nworkers)
        return;
    /* Release: every read of the old list by this worker happens before the bump. */
    struct access_epoch *e = &c->epochs[w];
    __atomic_store_n(&e->ticks, __atomic_load_n(&e->ticks, __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELEASE);
}

bool access_ctl_swap(struct access_ctl *c, struct accesslist *list, unsigned timeout_ms)
{
    struct accesslist *old = __atomic_exchange_n(&c->cur, list, __ATOMIC_ACQ_REL);
    uint64_t *seen = c->nworkers ? calloc(c->nworkers, sizeof *seen) : NULL;
    struct timespec pause = {0, 5 * 1000000L};
    unsigned waited = 0;

    if (!old)
        goto done;
    if (c->nworkers && !seen)
        return false; /* cannot track the workers: leak rather than risk a use after free */
    for (unsigned w = 0; w < c->nworkers; w++)
        seen[w] = __atomic_load_n(&c->epochs[w].ticks, __ATOMIC_ACQUIRE);
    for (unsigned w = 0; w < c->nworkers;) {
        /* A worker that ticked after the exchange has dropped any pointer to old. */
        if (__atomic_load_n(&c->epochs[w].ticks, __ATOMIC_ACQUIRE) != seen[w]) {
            w++;
            continue;
        }
        if (waited >= timeout_ms) {
            log_warn("access list reload: worker %u did not pass a quiescent point in %u ms; "
                     "the old list is kept in memory",
                     w, timeout_ms);
            free(seen);
            return false;
        }
        nanosleep(&pause, NULL);
        waited += 5;
    }
    accesslist_free(old);
done:
    free(seen);
    return true;
}

bool access_ctl_open(struct access_ctl *c, const char *whitelist, const char *blacklist,
                     unsigned nworkers, char *err, size_t errlen)
{
    const char *path = whitelist[0] ? whitelist : blacklist;
    enum access_mode mode = whitelist[0]   ? ACCESS_WHITELIST
                            : blacklist[0] ? ACCESS_BLACKLIST
                                           : ACCESS_OPEN;
    struct accesslist *l = NULL;
    double t0 = 0;

    if (mode != ACCESS_OPEN) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
        if (!(l = accesslist_load_file(path, err, errlen)))
            return false;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        log_info("%s %s: %zu info-hashes (loaded in %.0f ms)",
                 mode == ACCESS_WHITELIST ? "whitelist" : "blacklist", path, l->n,
                 ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - t0) * 1000);
    }
    if (!access_ctl_init(c, mode, l, nworkers)) {
        accesslist_free(l);
        snprintf(err, errlen, "out of memory");
        return false;
    }
    if (path[0] && strlen(path) < sizeof c->path)
        memcpy(c->path, path, strlen(path) + 1);
    return true;
}

bool access_ctl_reload(struct access_ctl *c)
{
    char err[768];
    struct timespec a, b;

    if (c->mode == ACCESS_OPEN) {
        log_info("SIGHUP: no access list configured, nothing to reload");
        return false;
    }
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct accesslist *l = accesslist_load_file(c->path, err, sizeof err);
    if (!l) {
        log_warn("SIGHUP: %s; keeping the current access list", err);
        return false;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    size_t n = l->n;
    /* Workers tick every 100 ms; a second is ample, and a stuck worker only costs a leak. */
    access_ctl_swap(c, l, 1000);
    log_info("SIGHUP: %s reloaded: %zu info-hashes (parsed in %.0f ms)", c->path, n,
             ((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9) * 1000);
    return true;
}
