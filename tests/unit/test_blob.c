/* test_blob.c - reference-counted blobs, and log.c (the other small utility with no test
 * file of its own): prefix, one line per call, cutting, level filter, errno kept. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "util/blob.h"
#include "util/log.h"

TEST(new_and_free)
{
    struct blob *b = blob_new(100);
    CHECK(b != NULL);
    if (b == NULL)
        return;
    CHECK_EQ_INT(b->refs, 1);
    CHECK_EQ_INT(b->len, 100);
    memset(b->data, 0x42, b->len); /* the whole length is writable */
    blob_unref(b);                 /* ASan reports a leak if this did not free */

    b = blob_new(0);
    CHECK(b != NULL);
    if (b != NULL) {
        CHECK_EQ_INT(b->len, 0);
        blob_unref(b);
    }
    blob_unref(NULL);
    CHECK(blob_ref(NULL) == NULL);
    /* A size that cannot be allocated fails cleanly instead of wrapping. */
    CHECK(blob_new(SIZE_MAX) == NULL);
    CHECK(blob_new(SIZE_MAX - 4) == NULL);
}

TEST(ref_unref)
{
    struct blob *b = blob_new(8);
    CHECK(b != NULL);
    if (b == NULL)
        return;
    CHECK(blob_ref(b) == b);
    CHECK(blob_ref(b) == b);
    CHECK_EQ_INT(b->refs, 3);
    blob_unref(b);
    blob_unref(b);
    CHECK_EQ_INT(b->refs, 1);
    memcpy(b->data, "still ok", 8); /* alive until the last unref */
    blob_unref(b);
}

/* Big blobs are mapped on their own (so freeing one returns its pages at once); small ones
 * come from malloc. Both hold their whole length, also after len is lowered. */
TEST(big_blobs_are_mapped)
{
    struct blob *small = blob_new(1000), *big = blob_new(1u << 20);
    CHECK(small != NULL && big != NULL);
    if (!small || !big)
        return;
    CHECK_EQ_INT(small->mapped, 0);
    CHECK(big->mapped >= (1u << 20) + sizeof(struct blob));
    memset(big->data, 0xab, 1u << 20);
    CHECK_EQ_INT(big->data[(1u << 20) - 1], 0xab);
    big->len = 10; /* as the full scrape does once it knows the real size */
    CHECK(blob_ref(big) == big);
    blob_unref(big);
    CHECK_EQ_INT(big->data[9], 0xab);
    blob_unref(big);
    blob_unref(small);
}

#define THREADS 8
#define ROUNDS 100000

static void *hammer(void *arg)
{
    struct blob *b = arg;
    for (int i = 0; i < ROUNDS; i++) {
        blob_ref(b);
        if (b->data[0] != 0x5a) /* the bytes stay readable while a reference is held */
            abort();
        blob_unref(b);
    }
    blob_unref(b); /* drop the reference main handed over */
    return NULL;
}

TEST(threads)
{
    pthread_t t[THREADS];
    struct blob *b = blob_new(16);
    CHECK(b != NULL);
    if (b == NULL)
        return;
    memset(b->data, 0x5a, 16);
    for (int i = 0; i < THREADS; i++)
        blob_ref(b);
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, hammer, b) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(b->refs, 1);
    blob_unref(b);
}

/* Run fn with stderr redirected into a pipe; return what it wrote (NUL-terminated). */
static size_t capture_stderr(void (*fn)(void), char *out, size_t cap)
{
    int p[2], saved;
    size_t len = 0;

    if (pipe(p) != 0)
        return 0;
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    for (;;) {
        ssize_t n = read(p[0], out + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(p[0]);
    out[len] = '\0';
    return len;
}

static void log_levels(void)
{
    log_set_level(LOG_INFO);
    log_error("e%d", 1);
    log_warn("w");
    log_info("i %s", "x");
    log_debug("d"); /* filtered */
    log_set_level(LOG_DEBUG);
    log_debug("d2");
    log_set_level(LOG_ERROR);
    log_warn("w2"); /* filtered */
    log_error("trailing newline\n");
    log_set_level(LOG_INFO);
}

TEST(log_format_and_levels)
{
    char out[4096];
    capture_stderr(log_levels, out, sizeof(out));
    CHECK_STR(out, "swarmd: e1\nswarmd: w\nswarmd: i x\nswarmd: d2\nswarmd: trailing newline\n");
}

static void log_long(void)
{
    char big[3000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_error("%s", big);
    log_error("after");
}

TEST(log_cuts_long_lines)
{
    char out[8192];
    size_t n = capture_stderr(log_long, out, sizeof(out));
    char *nl = strchr(out, '\n');
    CHECK(nl != NULL);
    if (nl == NULL)
        return;
    CHECK(strncmp(out, "swarmd: aaaa", 12) == 0);
    CHECK((size_t)(nl - out) < 1024); /* one line, cut, newline kept */
    CHECK(nl - out > 900);
    CHECK_STR(nl + 1, "swarmd: after\n");
    CHECK(n == (size_t)(nl - out) + 1 + 14);
}

static void log_errno(void)
{
    errno = ERANGE;
    log_error("x");
    if (errno != ERANGE)
        abort();
}

TEST(log_keeps_errno)
{
    char out[256];
    capture_stderr(log_errno, out, sizeof(out));
    CHECK_STR(out, "swarmd: x\n");
}

int main(void)
{
    RUN(big_blobs_are_mapped);
    RUN(new_and_free);
    RUN(ref_unref);
    RUN(threads);
    RUN(log_format_and_levels);
    RUN(log_cuts_long_lines);
    RUN(log_keeps_errno);
    return CHECK_DONE();
}
