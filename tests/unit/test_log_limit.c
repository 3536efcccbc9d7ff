/* test_log_limit.c - rate-limited log lines: one per period, the rest counted. */
#include <pthread.h>

#include "check.h"
#include "util/log_limit.h"

TEST(one_line_per_period)
{
    struct log_limit l = LOG_LIMIT_INIT;
    uint32_t n = 99;
    CHECK(log_limit_allow(&l, 1000, 10, &n));
    CHECK_EQ_INT(n, 0);
    for (int i = 0; i < 5; i++)
        CHECK(!log_limit_allow(&l, 1005, 10, &n));
    CHECK(!log_limit_allow(&l, 1009, 10, &n));
    CHECK(log_limit_allow(&l, 1010, 10, &n));
    CHECK_EQ_INT(n, 6); /* the lines left out are reported with the next one */
    CHECK(log_limit_allow(&l, 2000, 0, &n)); /* period 0 means one second */
    CHECK_EQ_INT(n, 0);
    CHECK(!log_limit_allow(&l, 2000, 0, &n));
    CHECK(log_limit_allow(&l, 2001, 0, &n));
    CHECK_EQ_INT(n, 1);
}

static struct log_limit shared = LOG_LIMIT_INIT;
static int wins[4];

static void *hammer(void *arg)
{
    int id = *(int *)arg;
    uint32_t n;
    for (int i = 0; i < 10000; i++)
        if (log_limit_allow(&shared, 5000, 60, &n))
            wins[id]++;
    return NULL;
}

TEST(threads_one_winner)
{
    pthread_t t[4];
    int ids[4] = {0, 1, 2, 3};
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, &ids[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(wins[0] + wins[1] + wins[2] + wins[3], 1);
    CHECK_EQ_INT(shared.suppressed, 4 * 10000 - 1);
}

int main(void)
{
    RUN(one_line_per_period);
    RUN(threads_one_winner);
    return CHECK_DONE();
}
