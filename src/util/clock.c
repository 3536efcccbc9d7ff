/* clock.c - process-relative monotonic seconds and milliseconds.
 *
 * Both clocks count from the same origin, taken by clock_init (or lazily by the first call):
 * clock_now() is 1 at the origin and clock_now_ms() is 1000, so clock_now_ms() / 1000 and
 * clock_now() agree and 0 stays free to mean "never". clock_now uses the coarse clock on
 * Linux: it is read on every request and only whole seconds matter. */
#include "util/clock.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#if defined(__linux__) && defined(CLOCK_MONOTONIC_COARSE)
#define CLOCK_SECONDS CLOCK_MONOTONIC_COARSE
#else
#define CLOCK_SECONDS CLOCK_MONOTONIC
#endif

/* Origin in nanoseconds of CLOCK_MONOTONIC; 0 = not yet taken. Written once (first CAS
 * wins), read lock-free from every thread. */
static uint64_t origin_ns;

static uint64_t read_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0) /* cannot fail for these clocks; keep time standing */
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t origin(void)
{
    uint64_t o = __atomic_load_n(&origin_ns, __ATOMIC_ACQUIRE);
    if (o == 0) {
        uint64_t mine = read_ns(CLOCK_MONOTONIC);
        if (mine == 0)
            mine = 1;
        uint64_t expected = 0;
        if (__atomic_compare_exchange_n(&origin_ns, &expected, mine, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            o = mine;
        else
            o = expected; /* another thread got there first */
    }
    return o;
}

void clock_init(void) { (void)origin(); }

/* Elapsed nanoseconds since the origin. The coarse clock lags the fine one by up to a tick,
 * so a reading just after the origin can be below it: clamp at zero. */
static uint64_t elapsed_ns(clockid_t id)
{
    uint64_t o = origin();
    uint64_t now = read_ns(id);
    return now > o ? now - o : 0;
}

uint32_t clock_now(void) { return (uint32_t)(elapsed_ns(CLOCK_SECONDS) / 1000000000ULL) + 1; }

uint64_t clock_now_ms(void) { return elapsed_ns(CLOCK_MONOTONIC) / 1000000ULL + 1000; }
