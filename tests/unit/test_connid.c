/* test_connid.c - connection IDs: tick || tag format (checked against an independent
 * computation), bound to the address but not the port, accepted for 8 ticks back and 1
 * ahead under the current or previous key, unforgeable; the secret file's format, its mode
 * check and the lock-free key swap; plus rng_os_bytes and the clock they rely on. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "proto/connid.h"
#include "udp_secret.h"
#include "util/clock.h"
#include "util/rng.h"
static struct connid_key key;
static struct connid_keys keys; /* {key}, no previous */

static struct peer_addr addr(const char *s, uint16_t port)
{
    struct peer_addr a;
    memset(&a, 0, sizeof(a));
    if (!addr_parse_ip(&a, s, strlen(s)))
        CHECK(0);
    a.port = port;
    return a;
}

TEST(init)
{
    struct connid_key a, b;
    CHECK(connid_init(&a));
    CHECK(connid_init(&b));
    CHECK(memcmp(a.k, b.k, 16) != 0); /* 2^-128 chance of a false failure */
    CHECK(connid_init(&key));
    memset(&keys, 0, sizeof(keys));
    keys.cur = key;
}

/* Known answers computed outside C (Python SipHash-2-4 over tick || ::ffff:a.b.c.d, or the
 * 16 IPv6 bytes), key 00 01 .. 0f, unix time 1764000000: tick 0x4810. */
TEST(format_known_answer)
{
    struct connid_key k;
    for (int i = 0; i < 16; i++)
        k.k[i] = (uint8_t)i;
    struct peer_addr a = addr("192.0.2.1", 6881), b = addr("2001:db8::1", 6881);
    CHECK(connid_make(&k, &a, 1764000000) == 0x481084431c9dde0fULL);
    CHECK(connid_make(&k, &b, 1764000000) == 0x4810b9628228d377ULL);
    /* The top 16 bits are the tick: unix time / 16, mod 2^16. */
    for (uint32_t t = 0; t < 3000000; t += 99991)
        CHECK_EQ_INT(connid_make(&key, &a, t) >> 48, (t / 16) & 0xffff);
}

TEST(deterministic)
{
    struct peer_addr a = addr("192.0.2.1", 6881);
    CHECK(connid_make(&key, &a, 1600) == connid_make(&key, &a, 1600));
    /* Same tick, different second: same id; next tick: another one. */
    CHECK(connid_make(&key, &a, 1600) == connid_make(&key, &a, 1615));
    CHECK(connid_make(&key, &a, 1615) != connid_make(&key, &a, 1616));
    CHECK(connid_check(&keys, &a, 1600, connid_make(&key, &a, 1600)));
}

TEST(bound_to_address_not_port)
{
    uint32_t now = 5000;
    struct peer_addr a = addr("192.0.2.1", 6881);
    uint64_t id = connid_make(&key, &a, now);

    /* Another socket of the same client: same id, accepted (clients use several). */
    struct peer_addr other_port = addr("192.0.2.1", 6882);
    CHECK(connid_make(&key, &other_port, now) == id);
    CHECK(connid_check(&keys, &other_port, now, id));

    struct peer_addr other_ip = addr("192.0.2.2", 6881);
    struct peer_addr v6 = addr("2001:db8::1", 6881);
    struct peer_addr v6b = addr("2001:db8::2", 6881);
    CHECK(connid_make(&key, &other_ip, now) != id);
    CHECK(connid_make(&key, &v6, now) != connid_make(&key, &v6b, now));
    CHECK(!connid_check(&keys, &other_ip, now, id));
    CHECK(!connid_check(&keys, &v6, now, id));

    /* An IPv6 address whose first four bytes equal an IPv4 address, with the rest zero,
     * is another address (IPv4 is hashed as ::ffff:a.b.c.d). */
    struct peer_addr fake6 = a;
    fake6.family = ADDR_V6;
    CHECK(connid_make(&key, &fake6, now) != id);
    CHECK(!connid_check(&keys, &fake6, now, id));

    /* Another key, another id. */
    struct connid_keys k2 = keys;
    k2.cur.k[0] ^= 1;
    CHECK(connid_make(&k2.cur, &a, now) != id);
    CHECK(!connid_check(&k2, &a, now, id));
}

/* Two nodes with the same key and clock give one client the same id. */
TEST(same_key_same_id_across_nodes)
{
    struct connid_key node_a = key, node_b;
    memcpy(node_b.k, key.k, 16);
    struct peer_addr a = addr("203.0.113.50", 1000), b = addr("203.0.113.50", 2000);
    CHECK(connid_make(&node_a, &a, 1764000003) == connid_make(&node_b, &b, 1764000012));
}

TEST(lifetime)
{
    struct peer_addr a = addr("198.51.100.7", 1234);
    /* Made at the start of a tick: the current tick and 8 more, i.e. 144 s. */
    uint32_t t0 = 16 * 100000;
    uint64_t id = connid_make(&key, &a, t0);
    for (uint32_t dt = 0; dt < 144; dt++)
        CHECK(connid_check(&keys, &a, t0 + dt, id));
    CHECK(!connid_check(&keys, &a, t0 + 144, id));
    CHECK(!connid_check(&keys, &a, t0 + 180, id)); /* three minutes old */
    CHECK(!connid_check(&keys, &a, t0 + 3600, id));
    /* Made at the end of a tick: still at least 128 s (BEP 15 asks for 2 minutes). */
    uint32_t t1 = 16 * 200000 + 15;
    id = connid_make(&key, &a, t1);
    for (uint32_t dt = 0; dt <= 128; dt++)
        CHECK(connid_check(&keys, &a, t1 + dt, id));
    CHECK(!connid_check(&keys, &a, t1 + 129, id));
    /* Every id lives at least 128 s and is dead at 3 minutes. */
    for (uint32_t t = 1000; t < 1100; t++) {
        uint64_t x = connid_make(&key, &a, t);
        CHECK(connid_check(&keys, &a, t + 128, x));
        CHECK(!connid_check(&keys, &a, t + 144, x));
        CHECK(!connid_check(&keys, &a, t + 180, x));
    }
}

/* Another node's clock may run ahead by up to one tick; more is refused. */
TEST(clock_skew_one_tick_ahead)
{
    struct peer_addr a = addr("198.51.100.8", 1);
    uint32_t t = 16 * 300000;
    CHECK(connid_check(&keys, &a, t, connid_make(&key, &a, t + 16)));
    CHECK(connid_check(&keys, &a, t + 15, connid_make(&key, &a, t + 31)));
    CHECK(!connid_check(&keys, &a, t, connid_make(&key, &a, t + 32)));
    CHECK(!connid_check(&keys, &a, t + 15, connid_make(&key, &a, t + 32)));
}

/* The tick wraps every 2^16 * 16 s (12 days); ages are computed modulo that. */
TEST(tick_wraps)
{
    struct peer_addr a = addr("10.0.0.1", 1);
    uint32_t wrap = 65536u * 16 * 3; /* tick 0 again */
    uint64_t x = connid_make(&key, &a, wrap - 1);  /* tick 0xffff */
    CHECK_EQ_INT(x >> 48, 0xffff);
    CHECK(connid_check(&keys, &a, wrap, x));       /* age 1 across the wrap */
    CHECK(connid_check(&keys, &a, wrap + 16 * 7, x));
    CHECK(!connid_check(&keys, &a, wrap + 16 * 8, x));
    uint64_t y = connid_make(&key, &a, wrap);      /* tick 0, one ahead of 0xffff */
    CHECK(connid_check(&keys, &a, wrap - 1, y));
    for (uint32_t t = 1; t < 400; t++)
        CHECK(connid_check(&keys, &a, t + 120, connid_make(&key, &a, t)));
    x = connid_make(&key, &a, UINT32_MAX);
    CHECK(connid_check(&keys, &a, UINT32_MAX, x));
}

TEST(previous_key)
{
    struct peer_addr a = addr("192.0.2.77", 4000);
    struct connid_keys rotated = {.has_prev = true};
    CHECK(connid_init(&rotated.cur));
    rotated.prev = key;
    uint64_t old_id = connid_make(&key, &a, 9000);
    uint64_t new_id = connid_make(&rotated.cur, &a, 9000);
    CHECK(old_id != new_id);
    CHECK(connid_check(&rotated, &a, 9000, old_id));
    CHECK(connid_check(&rotated, &a, 9000, new_id));
    CHECK(!connid_check(&keys, &a, 9000, new_id));
    /* Previous line removed: old ids fail. */
    rotated.has_prev = false;
    CHECK(!connid_check(&rotated, &a, 9000, old_id));
    CHECK(connid_check(&rotated, &a, 9000, new_id));
    /* The age rule holds for the previous key too. */
    rotated.has_prev = true;
    CHECK(!connid_check(&rotated, &a, 9000 + 180, old_id));
}

TEST(forged_rejected)
{
    struct peer_addr a = addr("203.0.113.9", 51413);
    uint32_t now = 77777;
    uint64_t real = connid_make(&key, &a, now);
    uint64_t s = 12345;
    int accepted = 0;
    for (int i = 0; i < 100000; i++) {
        /* Random tags under the current tick: only the 48-bit tag protects. */
        uint64_t guess = (real & 0xffff000000000000ULL) | (rng_next(&s) >> 16);
        if (guess != real && connid_check(&keys, &a, now, guess))
            accepted++;
    }
    CHECK_EQ_INT(accepted, 0);
    CHECK(!connid_check(&keys, &a, now, 0));
    CHECK(!connid_check(&keys, &a, now, UINT64_MAX));
    CHECK(!connid_check(&keys, &a, now, 0x41727101980ULL)); /* the connect magic */
    /* Every single-bit change of a real id is refused, tick bits included. */
    for (int bit = 0; bit < 64; bit++)
        CHECK(!connid_check(&keys, &a, now, real ^ (1ULL << bit)));
}

/* A v4-mapped source on a dual-stack socket gets the same id as the plain IPv4 one, and
 * so can connect over one socket and announce over another. */
TEST(v4mapped_normalised)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct peer_addr a4, a6;
    memset(&sin, 0, sizeof(sin));
    memset(&sin6, 0, sizeof(sin6));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(6881);
    CHECK(inet_pton(AF_INET, "192.0.2.55", &sin.sin_addr) == 1);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(6881);
    CHECK(inet_pton(AF_INET6, "::ffff:192.0.2.55", &sin6.sin6_addr) == 1);
    CHECK(addr_from_sockaddr(&a4, (struct sockaddr *)&sin, sizeof(sin)));
    CHECK(addr_from_sockaddr(&a6, (struct sockaddr *)&sin6, sizeof(sin6)));
    CHECK_EQ_INT(a6.family, ADDR_V4);
    uint64_t id = connid_make(&key, &a4, 4242);
    CHECK(connid_make(&key, &a6, 4242) == id);
    CHECK(connid_check(&keys, &a6, 4242, id));

    /* Stray bytes after a v4 address do not change the id. */
    struct peer_addr dirty = a4;
    dirty.ip[10] = 0xff;
    dirty.ip[11] = 0xff;
    CHECK(connid_make(&key, &dirty, 4242) == id);
}

static bool parse(const char *text, struct connid_keys *k, char *err)
{
    return connid_parse_secret(text, strlen(text), k, err, 128);
}

#define KEY_A "000102030405060708090a0b0c0d0e0f"
#define KEY_B "F0E1D2C3B4A5968778695A4B3C2D1E0F"

TEST(secret_file_format)
{
    struct connid_keys k;
    char err[128];
    static const uint8_t a[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static const uint8_t b[16] = {0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87,
                                  0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f};
    CHECK(parse(KEY_A "\n", &k, err));
    CHECK_MEM(k.cur.k, a, 16);
    CHECK(!k.has_prev);
    CHECK(parse(KEY_A, &k, err) && !k.has_prev);          /* no final newline */
    CHECK(parse(KEY_A "  \r\n\n", &k, err) && !k.has_prev); /* blanks, CRLF, empty line 2 */
    CHECK(parse(KEY_B "\n" KEY_A "\n", &k, err));
    CHECK_MEM(k.cur.k, b, 16);
    CHECK_MEM(k.prev.k, a, 16);
    CHECK(k.has_prev);
    CHECK(parse(KEY_B "\r\n" KEY_A "\r\n\r\n", &k, err) && k.has_prev);

    CHECK(!parse("", &k, err));
    CHECK(strstr(err, "line 1") != NULL);
    CHECK(!parse("\n" KEY_A "\n", &k, err));
    CHECK(!parse("000102030405060708090a0b0c0d0e\n", &k, err));     /* 30 digits */
    CHECK(!parse(KEY_A "00\n", &k, err));                           /* 34 digits */
    CHECK(!parse("000102030405060708090a0b0c0d0e0g\n", &k, err));   /* not hex */
    CHECK(!parse(" " KEY_A "\n", &k, err));                         /* leading blank */
    CHECK(!parse("# key\n" KEY_A "\n", &k, err));                   /* no comments */
    CHECK(!parse(KEY_A "\nnope\n", &k, err));
    CHECK(strstr(err, "line 2") != NULL);
    CHECK(!parse(KEY_A "\n" KEY_B "\n" KEY_A "\n", &k, err));       /* three keys */
    CHECK(strstr(err, "two lines") != NULL);
}

static char tmpdir[64];

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    CHECK(chmod(path, mode) == 0);
}

TEST(secret_file_load)
{
    char path[128], err[768];
    struct connid_keys k;
    struct udp_secret s;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/swarmd-connid-XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);
    snprintf(path, sizeof(path), "%s/secret", tmpdir);

    write_file(path, KEY_A "\n", 0600);
    CHECK(udp_secret_load_file(path, &k, err, sizeof(err)));
    CHECK(!k.has_prev && k.cur.k[15] == 15);
    write_file(path, KEY_A "\n", 0400);
    CHECK(udp_secret_load_file(path, &k, err, sizeof(err)));

    /* Readable (or writable) by group or others: refused, saying why. */
    write_file(path, KEY_A "\n", 0640);
    CHECK(!udp_secret_load_file(path, &k, err, sizeof(err)));
    CHECK(strstr(err, "group or others") != NULL && strstr(err, "0640") != NULL);
    write_file(path, KEY_A "\n", 0604);
    CHECK(!udp_secret_load_file(path, &k, err, sizeof(err)));
    write_file(path, KEY_A "\n", 0620);
    CHECK(!udp_secret_load_file(path, &k, err, sizeof(err)));

    /* Malformed: refused, naming the file and the line. */
    write_file(path, "hello\n", 0600);
    CHECK(!udp_secret_load_file(path, &k, err, sizeof(err)));
    CHECK(strstr(err, path) != NULL && strstr(err, "line 1") != NULL);
    CHECK(!udp_secret_load_file("/nonexistent/swarmd-secret", &k, err, sizeof(err)));
    CHECK(strstr(err, "cannot open") != NULL);
    CHECK(!udp_secret_load_file(tmpdir, &k, err, sizeof(err))); /* a directory */

    /* Start-up, then reloads: a bad file keeps the keys in use. */
    write_file(path, KEY_A "\n", 0600);
    CHECK(udp_secret_open(&s, path, err, sizeof(err)));
    udp_secret_get(&s, &k);
    CHECK(!k.has_prev && k.cur.k[1] == 1);
    write_file(path, KEY_B "\n" KEY_A "\n", 0600);
    CHECK(udp_secret_reload(&s));
    udp_secret_get(&s, &k);
    CHECK(k.has_prev && k.cur.k[0] == 0xf0 && k.prev.k[1] == 1);
    write_file(path, "garbage\n", 0600);
    CHECK(!udp_secret_reload(&s));
    udp_secret_get(&s, &k);
    CHECK(k.has_prev && k.cur.k[0] == 0xf0);
    write_file(path, KEY_B "\n", 0644);
    CHECK(!udp_secret_reload(&s));
    udp_secret_get(&s, &k);
    CHECK(k.has_prev);
    write_file(path, KEY_B "\n", 0600);
    CHECK(udp_secret_reload(&s));
    udp_secret_get(&s, &k);
    CHECK(!k.has_prev && k.cur.k[0] == 0xf0);
    unlink(path);
    rmdir(tmpdir);

    /* No file: a random key and nothing to reload. */
    CHECK(udp_secret_init_random(&s));
    CHECK(!udp_secret_reload(&s));
    udp_secret_get(&s, &k);
    CHECK(!k.has_prev);
}

/* Readers racing a writer that flips between two key sets always see one whole set. */
static struct udp_secret race;
static int race_stop;

static void *race_writer(void *arg)
{
    const struct connid_keys *sets = arg;
    for (unsigned i = 0; !__atomic_load_n(&race_stop, __ATOMIC_RELAXED); i++)
        udp_secret_set(&race, &sets[i & 1]);
    return NULL;
}

TEST(swap_never_torn)
{
    struct connid_keys sets[2];
    memset(sets, 0, sizeof(sets));
    memset(sets[0].cur.k, 0x11, 16);
    memset(sets[1].cur.k, 0x22, 16);
    memset(sets[1].prev.k, 0x33, 16);
    sets[1].has_prev = true;
    udp_secret_set(&race, &sets[0]);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, race_writer, sets) == 0);
    int torn = 0, seen[2] = {0, 0};
    /* At least 2M reads, and until both sets were seen often (the writer thread may start
     * late on a busy machine), for at most 10 s. */
    time_t give_up = time(NULL) + 10;
    for (int i = 0; i < 2000000 || ((seen[0] < 1000 || seen[1] < 1000) && time(NULL) < give_up);
         i++) {
        struct connid_keys k;
        udp_secret_get(&race, &k);
        int which = k.cur.k[0] == 0x22;
        if (memcmp(&k.cur, &sets[which].cur, 16) != 0 ||
            memcmp(&k.prev, &sets[which].prev, 16) != 0 || k.has_prev != sets[which].has_prev)
            torn++;
        seen[which]++;
    }
    __atomic_store_n(&race_stop, 1, __ATOMIC_RELAXED);
    pthread_join(th, NULL);
    CHECK_EQ_INT(torn, 0);
    CHECK(seen[0] > 0 && seen[1] > 0);
}

TEST(rng_os_bytes_fills)
{
    uint8_t a[4096], b[4096];
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    CHECK(rng_os_bytes(a, sizeof(a))); /* above getrandom's 256-byte no-short-read size */
    CHECK(rng_os_bytes(b, sizeof(b)));
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    /* Every byte gets written: 4096 zero bytes would be astronomically unlikely, so look
     * at the tail in particular. */
    int zeros = 0;
    for (size_t i = sizeof(a) - 64; i < sizeof(a); i++)
        zeros += a[i] == 0;
    CHECK(zeros < 16);
    CHECK(rng_os_bytes(a, 0));
    CHECK(rng_os_bytes(a, 1));
}

TEST(rng_next_below)
{
    uint64_t s = 1;
    int hist[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint32_t v = rng_below(&s, 10);
        CHECK(v < 10);
        if (v < 10)
            hist[v]++;
    }
    for (int i = 0; i < 10; i++)
        CHECK(hist[i] > 9000 && hist[i] < 11000);
    CHECK_EQ_INT(rng_below(&s, 1), 0);
}

TEST(clock_monotonic)
{
    clock_init();
    uint32_t s0 = clock_now();
    uint64_t m0 = clock_now_ms();
    CHECK(s0 >= 1);
    CHECK(s0 < 5); /* the test starts within seconds of clock_init */
    CHECK(m0 >= 1000);
    struct timespec ts = {0, 30 * 1000 * 1000};
    nanosleep(&ts, NULL);
    uint64_t m1 = clock_now_ms();
    CHECK(m1 >= m0 + 25);
    CHECK(m1 < m0 + 5000);
    uint32_t prev = clock_now();
    for (int i = 0; i < 100000; i++) {
        uint32_t now = clock_now();
        CHECK(now >= prev);
        prev = now;
    }
    /* Same origin: seconds and milliseconds agree. */
    uint64_t ms = clock_now_ms();
    uint32_t sec = clock_now();
    CHECK(ms / 1000 + 1 >= sec && sec + 1 >= ms / 1000);
    clock_init(); /* a second call does not move the origin */
    CHECK(clock_now_ms() >= ms);
}

int main(void)
{
    RUN(init);
    RUN(format_known_answer);
    RUN(deterministic);
    RUN(bound_to_address_not_port);
    RUN(same_key_same_id_across_nodes);
    RUN(lifetime);
    RUN(clock_skew_one_tick_ahead);
    RUN(tick_wraps);
    RUN(previous_key);
    RUN(forged_rejected);
    RUN(v4mapped_normalised);
    RUN(secret_file_format);
    RUN(secret_file_load);
    RUN(swap_never_torn);
    RUN(rng_os_bytes_fills);
    RUN(rng_next_below);
    RUN(clock_monotonic);
    return CHECK_DONE();
}
