/* check.h - the unit tests' minimal harness.
 *
 * Each test file is its own program: TEST(name) { ... } functions registered in main with
 * RUN(name). CHECK(cond) records a failure with file:line and goes on. Output is one line per
 * test, "ok - file: name" or "not ok - file: name", which tests/run.sh counts. Exit status is
 * non-zero when any test failed. */
#ifndef SWARMD_CHECK_H
#define SWARMD_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failed_now, check_tests_failed, check_tests_run;

#define TEST(name) static void test_##name(void)

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            check_failed_now = 1;                                                            \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);       \
        }                                                                                    \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                   \
    do {                                                                                     \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                      \
        if (check_a_ != check_b_) {                                                          \
            check_failed_now = 1;                                                            \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, \
                    #a, check_a_, #b, check_b_);                                             \
        }                                                                                    \
    } while (0)

#define CHECK_MEM(p, q, n) CHECK(memcmp((p), (q), (n)) == 0)
#define CHECK_STR(s, lit) CHECK((s) != NULL && strcmp((s), (lit)) == 0)

#define RUN(name)                                                                            \
    do {                                                                                     \
        check_failed_now = 0;                                                                \
        test_##name();                                                                       \
        check_tests_run++;                                                                   \
        if (check_failed_now)                                                                \
            check_tests_failed++;                                                            \
        printf("%s - %s: %s\n", check_failed_now ? "not ok" : "ok", __FILE__, #name);        \
        fflush(stdout);                                                                      \
    } while (0)

#define CHECK_DONE() (check_tests_failed ? 1 : 0)

#endif
