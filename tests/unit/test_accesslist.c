/* test_accesslist.c - access list parsing, lookup, file loading and the hot swap. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accesslist.h"
#include "check.h"
#include "util/log.h"

#define H1 "0123456789abcdef0123456789abcdef01234567"
#define H2 "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"

struct bads {
    unsigned lines[16];
    unsigned n;
};

static void note_bad(void *ctx, unsigned line, const char *why)
{
    struct bads *b = ctx;
    CHECK(why != NULL && why[0] != '\0');
    if (b->n < 16)
        b->lines[b->n++] = line;
}

static struct accesslist *from_text(const char *text, struct bads *b)
{
    size_t len = strlen(text), cap = accesslist_max_entries(len);
    struct accesslist *l = accesslist_alloc(cap);
    l->n = accesslist_parse(text, len, l->hashes, cap, note_bad, b);
    CHECK(l->n <= cap);
    accesslist_finish(l);
    return l;
}

static void hash_of(const char *hex, uint8_t out[20])
{
    for (int i = 0; i < 20; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

TEST(parse_lines_and_comments)
{
    struct bads b = {{0}, 0};
    struct accesslist *l = from_text("# a comment\n\n  " H1 "  \r\n" H2 " # trailing\n"
                                     "nothex\n" H1 "0\n" H1 "x\n",
                                     &b);
    uint8_t h[20];
    CHECK_EQ_INT(l->n, 2);
    hash_of(H1, h);
    CHECK(accesslist_contains(l, h));
    hash_of(H2, h);
    CHECK(accesslist_contains(l, h));
    h[19] = 0;
    CHECK(!accesslist_contains(l, h));
    CHECK_EQ_INT(b.n, 3);
    CHECK_EQ_INT(b.lines[0], 5);
    CHECK_EQ_INT(b.lines[1], 6);
    CHECK_EQ_INT(b.lines[2], 7);
    accesslist_free(l);
}

TEST(v2_hash_truncated)
{
    struct bads b = {{0}, 0};
    struct accesslist *l =
        from_text(H1 "aaaaaaaaaaaaaaaaaaaaaaaa\n" H1 "aaaaaaaaaaaaaaaaaaaaaaa\n", &b);
    uint8_t h[20];
    hash_of(H1, h);
    CHECK_EQ_INT(l->n, 1);
    CHECK(accesslist_contains(l, h));
    CHECK_EQ_INT(b.n, 1); /* 63 digits: neither v1 nor v2 */
    accesslist_free(l);
}

TEST(sorted_unique_and_search)
{
    char *text = malloc(1000 * 41 + 1);
    size_t pos = 0;
    for (unsigned i = 0; i < 1000; i++)
        pos += (size_t)sprintf(text + pos, "%08x%032x\n", (i * 7919u) % 500, 0u);
    struct bads b = {{0}, 0};
    struct accesslist *l = from_text(text, &b);
    CHECK_EQ_INT(l->n, 500);
    CHECK_EQ_INT(b.n, 0);
    for (size_t i = 1; i < l->n; i++)
        CHECK(memcmp(l->hashes[i - 1], l->hashes[i], 20) < 0);
    uint8_t h[20] = {0};
    for (unsigned v = 0; v < 520; v++) {
        h[0] = (uint8_t)(v >> 24);
        h[1] = (uint8_t)(v >> 16);
        h[2] = (uint8_t)(v >> 8);
        h[3] = (uint8_t)v;
        CHECK(accesslist_contains(l, h) == (v < 500));
    }
    accesslist_free(l);
    free(text);
}

/* Enough hashes for the radix path, with one crowded bucket (same two leading bytes). */
TEST(radix_sort_large)
{
    size_t n = 5000;
    char *text = malloc(n * 41 + 1);
    size_t pos = 0;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (i % 3 == 0)
            pos += (size_t)sprintf(text + pos, "abcd%020llx%016zx\n", (unsigned long long)x, i);
        else
            pos += (size_t)sprintf(text + pos, "%016llx%024zx\n", (unsigned long long)x, i);
    }
    struct bads b = {{0}, 0};
    struct accesslist *l = from_text(text, &b);
    CHECK_EQ_INT(b.n, 0);
    CHECK_EQ_INT(l->n, n);
    for (size_t i = 1; i < l->n; i++)
        CHECK(memcmp(l->hashes[i - 1], l->hashes[i], 20) < 0);
    uint8_t h[20];
    for (size_t i = 0; i < n; i += 97) {
        hash_of(text + i * 41, h);
        CHECK(accesslist_contains(l, h));
    }
    accesslist_free(l);
    free(text);
}

TEST(short_buffer_counts_all)
{
    uint8_t out[1][20];
    const char *t = H1 "\n" H2 "\n";
    CHECK_EQ_INT(accesslist_parse(t, strlen(t), out, 1, NULL, NULL), 2);
    CHECK_EQ_INT(accesslist_parse("", 0, out, 1, NULL, NULL), 0);
}

TEST(load_file)
{
    char path[] = "/tmp/swarmd-test-al-XXXXXX", err[256];
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *t = "# list\n" H1 "\nbad\n";
    CHECK(write(fd, t, strlen(t)) == (ssize_t)strlen(t));
    close(fd);
    log_set_level(LOG_ERROR); /* the bad line's warning is expected */
    struct accesslist *l = accesslist_load_file(path, err, sizeof err);
    CHECK(l != NULL && l->n == 1);
    accesslist_free(l);
    unlink(path);
    CHECK(accesslist_load_file(path, err, sizeof err) == NULL);
    CHECK(strstr(err, path) != NULL);
    CHECK(accesslist_load_file("/tmp", err, sizeof err) == NULL);
}

TEST(modes)
{
    struct access_ctl c;
    struct bads b = {{0}, 0};
    uint8_t in[20], out[20] = {0};
    hash_of(H1, in);
    CHECK(access_ctl_allowed(NULL, in));
    CHECK(access_ctl_init(&c, ACCESS_WHITELIST, from_text(H1 "\n", &b), 1));
    CHECK(access_ctl_allowed(&c, in));
    CHECK(!access_ctl_allowed(&c, out));
    access_ctl_destroy(&c);
    CHECK(access_ctl_init(&c, ACCESS_BLACKLIST, from_text(H1 "\n", &b), 1));
    CHECK(!access_ctl_allowed(&c, in));
    CHECK(access_ctl_allowed(&c, out));
    access_ctl_destroy(&c);
    CHECK(access_ctl_init(&c, ACCESS_OPEN, NULL, 1));
    CHECK(access_ctl_allowed(&c, in));
    access_ctl_destroy(&c);
}

/* Readers hammer the list while the main thread swaps it 50 times; under ASan any read of a
 * freed list would abort. */
struct reader {
    struct access_ctl *c;
    unsigned id;
    int stop;
    unsigned long lookups;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    uint8_t h[20];
    hash_of(H1, h);
    while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
        for (int i = 0; i < 100; i++)
            r->lookups += access_ctl_allowed(r->c, h);
        access_ctl_quiesce(r->c, r->id);
    }
    return NULL;
}

TEST(swap_under_readers)
{
    struct access_ctl c;
    struct bads b = {{0}, 0};
    struct reader r[2];
    pthread_t th[2];
    CHECK(access_ctl_init(&c, ACCESS_WHITELIST, from_text(H1 "\n", &b), 2));
    for (unsigned i = 0; i < 2; i++) {
        r[i] = (struct reader){&c, i, 0, 0};
        pthread_create(&th[i], NULL, reader_main, &r[i]);
    }
    for (int i = 0; i < 50; i++)
        CHECK(access_ctl_swap(&c, from_text(H2 "\n" H1 "\n", &b), 2000));
    for (unsigned i = 0; i < 2; i++) {
        __atomic_store_n(&r[i].stop, 1, __ATOMIC_RELAXED);
        pthread_join(th[i], NULL);
        CHECK(r[i].lookups > 0);
    }
    access_ctl_destroy(&c);
}

TEST(swap_times_out_without_quiesce)
{
    struct access_ctl c;
    struct bads b = {{0}, 0};
    struct accesslist *old = from_text(H1 "\n", &b);
    log_set_level(LOG_ERROR);
    CHECK(access_ctl_init(&c, ACCESS_WHITELIST, old, 1));
    CHECK(!access_ctl_swap(&c, from_text(H2 "\n", &b), 20)); /* worker 0 never ticks */
    accesslist_free(old); /* the leaked one, so ASan's leak check stays quiet */
    access_ctl_destroy(&c);
}

int main(void)
{
    RUN(parse_lines_and_comments);
    RUN(v2_hash_truncated);
    RUN(sorted_unique_and_search);
    RUN(radix_sort_large);
    RUN(short_buffer_counts_all);
    RUN(load_file);
    RUN(modes);
    RUN(swap_under_readers);
    RUN(swap_times_out_without_quiesce);
    return CHECK_DONE();
}
