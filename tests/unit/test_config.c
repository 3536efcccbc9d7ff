/* test_config.c - the config file parser, the command line and their precedence.
 *
 * Also the statistics helpers (stats.c), which are small enough to share this file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "stats.h"

static char err[1024];

static bool parse(struct config *c, const char *text)
{
    config_defaults(c);
    err[0] = '\0';
    return config_parse_text(c, text, strlen(text), "test.conf", err, sizeof err);
}

/* argv from a NULL-terminated list; argv[0] is added. */
static enum config_args_result args_v(struct config *c, const char **v)
{
    const char *argv[64] = {"swarmd"};
    int n = 1;
    while (v[n - 1] && n < 63) {
        argv[n] = v[n - 1];
        n++;
    }
    argv[n] = NULL;
    err[0] = '\0';
    return config_parse_args(c, n, (char **)argv, err, sizeof err);
}
#define ARGS(c, ...) args_v((c), (const char *[]){__VA_ARGS__, NULL})

static bool has(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* Run fn with stdout redirected; returns its output (static buffer). */
static char captured[16384];
static const char *capture(void (*fn)(void *), void *arg)
{
    FILE *tmp = tmpfile();
    int saved;
    size_t n;
    fflush(stdout);
    saved = dup(1);
    dup2(fileno(tmp), 1);
    fn(arg);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    rewind(tmp);
    n = fread(captured, 1, sizeof captured - 1, tmp);
    captured[n] = '\0';
    fclose(tmp);
    return captured;
}

static char tmpname[64];
static const char *write_tmp(const char *text)
{
    snprintf(tmpname, sizeof tmpname, "/tmp/swarmd-test-XXXXXX");
    int fd = mkstemp(tmpname);
    if (fd < 0)
        return NULL;
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        close(fd);
        return NULL;
    }
    close(fd);
    return tmpname;
}

TEST(defaults)
{
    struct config c;
    config_defaults(&c);
    CHECK_EQ_INT(c.http_port, 6969);
    CHECK_EQ_INT(c.udp_port, 6969);
    CHECK_EQ_INT(c.n_listen, 0);
    CHECK_EQ_INT(c.workers, 0);
    CHECK_EQ_INT(c.interval, 1800);
    CHECK_EQ_INT(c.min_interval, 900);
    CHECK_EQ_INT(c.peer_timeout, 2700);
    CHECK_EQ_INT(c.numwant, 50);
    CHECK_EQ_INT(c.max_numwant, 200);
    CHECK_EQ_INT(c.scrape_max_hashes, 64);
    CHECK(c.fullscrape);
    CHECK_EQ_INT(c.fullscrape_cache, 10);
    CHECK_STR(c.redirect_url, "");
    CHECK_EQ_INT(c.http_head_max, 8192);
    CHECK_EQ_INT(c.http_idle_timeout, 30);
    CHECK_EQ_INT(c.http_max_conns, 10000);
    CHECK_EQ_INT(c.log_level, 2);
    CHECK(!c.check_config);
    CHECK(config_validate(&c, err, sizeof err));

    /* No arguments at all: the same, validated. */
    const char *argv[] = {"swarmd", NULL};
    CHECK_EQ_INT(config_parse_args(&c, 1, (char **)argv, err, sizeof err), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.interval, 1800);
    CHECK_EQ_INT(c.min_interval, 900);
}

TEST(default_binds)
{
    struct config c;
    struct config_bind b[CONFIG_MAX_BINDS];
    config_defaults(&c);
    unsigned n = config_binds(&c, b);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(b[0].proto, LISTEN_TCP);
    CHECK_EQ_INT(b[0].addr.family, ADDR_V4);
    CHECK_EQ_INT(b[0].addr.port, 6969);
    CHECK(!b[0].optional);
    CHECK_EQ_INT(b[1].proto, LISTEN_TCP);
    CHECK_EQ_INT(b[1].addr.family, ADDR_V6);
    CHECK(b[1].optional);
    CHECK_EQ_INT(b[2].proto, LISTEN_UDP);
    CHECK_EQ_INT(b[2].addr.family, ADDR_V4);
    CHECK_EQ_INT(b[3].proto, LISTEN_UDP);
    CHECK_EQ_INT(b[3].addr.family, ADDR_V6);
    CHECK(b[3].optional);
    static const uint8_t zero[16];
    CHECK_MEM(b[1].addr.ip, zero, 16);

    /* -p / -P apply to the defaults. */
    CHECK_EQ_INT(ARGS(&c, "-p", "80", "-P", "81"), CONFIG_ARGS_RUN);
    n = config_binds(&c, b);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(b[0].addr.port, 80);
    CHECK_EQ_INT(b[1].addr.port, 80);
    CHECK_EQ_INT(b[2].addr.port, 81);
    CHECK_EQ_INT(b[3].addr.port, 81);
}

struct uint_key {
    const char *key;
    size_t off, size;
    unsigned long long min, max;
};

static unsigned long long field(const struct config *c, const struct uint_key *k)
{
    const char *p = (const char *)c + k->off;
    if (k->size == 2) {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    if (k->size == 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

#define UK(key, f, lo, hi) {key, offsetof(struct config, f), sizeof(((struct config *)0)->f), lo, hi}

TEST(numeric_keys)
{
    static const struct uint_key ks[] = {
        UK("tracker.workers", workers, 0, 1024),
        UK("listen.udp.workers", workers, 0, 1024),
        UK("tracker.interval", interval, 1, 86400),
        UK("tracker.min_interval", min_interval, 1, 86400),
        UK("tracker.peer_timeout", peer_timeout, 1, 28800),
        UK("tracker.numwant", numwant, 0, 1000),
        UK("tracker.max_numwant", max_numwant, 1, 1000),
        UK("tracker.scrape_max_hashes", scrape_max_hashes, 1, 256),
        UK("tracker.fullscrape_cache", fullscrape_cache, 1, 3600),
        UK("http.head_max", http_head_max, 1024, 65536),
        UK("http.idle_timeout", http_idle_timeout, 1, 3600),
        UK("http.max_connections", http_max_conns, 1, 1000000),
        UK("websocket.max_connections", ws_max_conns, 1, 1000000),
        UK("websocket.max_torrents", ws_max_torrents, 1, 65536),
        UK("websocket.max_queued_bytes", ws_max_queued, 65536, 1073741824),
    };
    static const char *const bad[] = {"", "abc", "-1", "+5", "0x10", "1.5", "5s", "1e3",
                                      "99999999999999999999999", "12 34"};
    struct config c;
    char text[256];

    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        const struct uint_key *k = &ks[i];
        /* both ends of the range are accepted */
        snprintf(text, sizeof text, "# comment\n\n%s %llu\n", k->key, k->min);
        CHECK(parse(&c, text));
        CHECK_EQ_INT(field(&c, k), k->min);
        snprintf(text, sizeof text, "%s %llu\n", k->key, k->max);
        CHECK(parse(&c, text));
        CHECK_EQ_INT(field(&c, k), k->max);
        /* just outside is refused, naming file, line and key */
        snprintf(text, sizeof text, "\n\n%s %llu\n", k->key, k->max + 1);
        CHECK(!parse(&c, text));
        CHECK(has(err, "test.conf:3: "));
        CHECK(has(err, k->key));
        CHECK(has(err, "invalid value"));
        if (k->min > 0) {
            snprintf(text, sizeof text, "%s %llu\n", k->key, k->min - 1);
            CHECK(!parse(&c, text));
            CHECK(has(err, "test.conf:1: "));
        }
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            snprintf(text, sizeof text, "%s %s", k->key, bad[j]);
            CHECK(!parse(&c, text));
            CHECK(has(err, "test.conf:1: "));
            CHECK(has(err, k->key));
        }
    }
    /* The message the brief asks for, verbatim in its first part. */
    CHECK(!parse(&c, "tracker.interval abc\n"));
    CHECK(has(err, "test.conf:1: tracker.interval: invalid value 'abc' (expected seconds 1.."));
    /* leading zeros are still decimal */
    CHECK(parse(&c, "tracker.interval 010"));
    CHECK_EQ_INT(c.interval, 10);
}

TEST(bool_key)
{
    static const char *const on[] = {"on", "yes", "true", "1", "ON", "Yes", "TRUE"};
    static const char *const off[] = {"off", "no", "false", "0", "OFF", "No"};
    struct config c;
    char text[64];
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) {
        snprintf(text, sizeof text, "tracker.fullscrape off\ntracker.fullscrape %s", on[i]);
        CHECK(parse(&c, text));
        CHECK(c.fullscrape);
    }
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
        snprintf(text, sizeof text, "tracker.fullscrape %s\n", off[i]);
        CHECK(parse(&c, text));
        CHECK(!c.fullscrape);
    }
    CHECK(!parse(&c, "tracker.fullscrape maybe\n"));
    CHECK(has(err, "test.conf:1: tracker.fullscrape: invalid value 'maybe'"));
    CHECK(!parse(&c, "tracker.fullscrape\n"));
    CHECK(has(err, "tracker.fullscrape"));
    CHECK(!parse(&c, "tracker.fullscrape 2\n"));
}

TEST(redirect_url)
{
    struct config c;
    CHECK(parse(&c, "tracker.redirect_url https://example.org/about?x=1\n"));
    CHECK_STR(c.redirect_url, "https://example.org/about?x=1");
    CHECK(parse(&c, "tracker.redirect_url http://x\ntracker.redirect_url\n"));
    CHECK_STR(c.redirect_url, ""); /* empty: no redirect */
    CHECK(!parse(&c, "tracker.redirect_url ftp://x\n"));
    CHECK(has(err, "test.conf:1: tracker.redirect_url: invalid value"));
    CHECK(!parse(&c, "tracker.redirect_url http://a b\n"));
    CHECK(!parse(&c, "tracker.redirect_url example.org\n"));
    /* a CR would end the Location header early: refused through config_set too */
    config_defaults(&c);
    CHECK(!config_set(&c, "tracker.redirect_url", "http://x/\r\nSet-Cookie: a", err,
                      sizeof err));
    CHECK(!config_set(&c, "tracker.redirect_url", "http://x/\xc3\xa9", err, sizeof err));
    char longurl[600];
    memset(longurl, 'a', sizeof longurl);
    memcpy(longurl, "http://", 7);
    longurl[sizeof longurl - 1] = '\0';
    CHECK(!config_set(&c, "tracker.redirect_url", longurl, err, sizeof err));
    CHECK(has(err, "tracker.redirect_url"));
    longurl[511] = '\0';
    CHECK(config_set(&c, "tracker.redirect_url", longurl, err, sizeof err));
    CHECK_EQ_INT(strlen(c.redirect_url), 511);
}

TEST(listen_lines)
{
    struct config c;
    /* opentracker's sample config lines */
    CHECK(parse(&c, "listen.tcp_udp 0.0.0.0\n"
                    "listen.tcp_udp 192.168.0.1:80\n"
                    "listen.tcp 10.0.0.5:6969\n"
                    "listen.udp [::1]:6970\n"
                    "listen.udp ::\n"
                    "listen.tcp [2001:db8::1]\n"));
    CHECK_EQ_INT(c.n_listen, 6);
    CHECK_EQ_INT(c.listen[0].proto, LISTEN_BOTH);
    CHECK(!c.listen[0].has_port);
    CHECK_EQ_INT(c.listen[0].addr.family, ADDR_V4);
    CHECK_EQ_INT(c.listen[1].addr.port, 80);
    CHECK(c.listen[1].has_port);
    CHECK_EQ_INT(c.listen[2].proto, LISTEN_TCP);
    CHECK_EQ_INT(c.listen[3].proto, LISTEN_UDP);
    CHECK_EQ_INT(c.listen[3].addr.family, ADDR_V6);
    CHECK_EQ_INT(c.listen[3].addr.port, 6970);
    CHECK(!c.listen[4].has_port);
    CHECK_EQ_INT(c.listen[4].addr.family, ADDR_V6);
    CHECK(!c.listen[5].has_port);

    struct config_bind b[CONFIG_MAX_BINDS];
    unsigned n = config_binds(&c, b);
    /* TCP: 0.0.0.0:6969, 192.168.0.1:80, 10.0.0.5:6969, [2001:db8::1]:6969;
     * UDP: 0.0.0.0:6969, 192.168.0.1:80, [::1]:6970, [::]:6969 */
    CHECK_EQ_INT(n, 8);
    unsigned ntcp = 0;
    for (unsigned i = 0; i < n; i++) {
        CHECK(!b[i].optional);
        ntcp += b[i].proto == LISTEN_TCP;
    }
    CHECK_EQ_INT(ntcp, 4);
    CHECK_EQ_INT(b[7].addr.port, 6969);
    CHECK_EQ_INT(b[7].addr.family, ADDR_V6);

    static const char *const bad[] = {"", "localhost", "1.2.3.4:", "1.2.3.4:65536",
                                      "1.2.3.4:x", "1.2.3", "[::1", "::1:80:", "*",
                                      "1.2.3.4 5"};
    char text[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "# x\nlisten.tcp %s\n", bad[i]);
        CHECK(!parse(&c, text));
        CHECK(has(err, "test.conf:2: listen.tcp: invalid value"));
    }
}

TEST(only_tcp_means_no_udp)
{
    struct config c;
    struct config_bind b[CONFIG_MAX_BINDS];
    CHECK(parse(&c, "listen.tcp 127.0.0.1\nlisten.tcp ::1\n"));
    unsigned n = config_binds(&c, b);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(b[0].proto, LISTEN_TCP);
    CHECK_EQ_INT(b[1].proto, LISTEN_TCP);
    CHECK(parse(&c, "listen.udp 127.0.0.1:7000\n"));
    n = config_binds(&c, b);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(b[0].proto, LISTEN_UDP);
    CHECK_EQ_INT(b[0].addr.port, 7000);
    /* duplicates collapse */
    CHECK(parse(&c, "listen.udp 127.0.0.1:7000\nlisten.tcp_udp 127.0.0.1:7000\n"));
    n = config_binds(&c, b);
    CHECK_EQ_INT(n, 2);
}

TEST(too_many_listen)
{
    struct config c;
    char text[4096] = "";
    for (int i = 0; i <= CONFIG_MAX_LISTEN; i++) {
        char line[64];
        snprintf(line, sizeof line, "listen.tcp 127.0.0.%d\n", i + 1);
        strcat(text, line);
    }
    CHECK(!parse(&c, text));
    CHECK(has(err, "test.conf:33: "));
    CHECK(has(err, "too many"));
}

TEST(file_syntax)
{
    struct config c;
    /* comments, blank lines, CRLF, tabs, trailing spaces, inline comments, a BOM */
    CHECK(parse(&c, "\xEF\xBB\xBF# swarmd.conf\r\n"
                    "\r\n"
                    "   \t \r\n"
                    "  # indented comment\n"
                    "tracker.interval\t600   \r\n"
                    "tracker.numwant 30 # why: small swarms\n"
                    "tracker.redirect_url http://x/#frag\n"
                    "tracker.peer_timeout   1200\t\n"
                    "tracker.fullscrape off"));
    CHECK_EQ_INT(c.interval, 600);
    CHECK_EQ_INT(c.numwant, 30);
    CHECK_STR(c.redirect_url, "http://x/#frag");
    CHECK_EQ_INT(c.peer_timeout, 1200);
    CHECK(!c.fullscrape);
    /* empty text and comment-only text are fine */
    CHECK(parse(&c, ""));
    CHECK(parse(&c, "#"));
    CHECK(parse(&c, "\n\n\n"));
    /* line numbers count every line, CRLF ones included */
    CHECK(!parse(&c, "# a\r\n\r\ntracker.numwant x\r\n"));
    CHECK(has(err, "test.conf:3: tracker.numwant: invalid value 'x'"));
    /* control characters and NUL bytes are refused, not truncated */
    CHECK(!parse(&c, "tracker.interval 60\x01\n"));
    CHECK(has(err, "test.conf:1: "));
    CHECK(has(err, "control character"));
    config_defaults(&c);
    CHECK(!config_parse_text(&c, "tracker.interval 6\0" "0\n", 20, "f", err, sizeof err));
    CHECK(has(err, "f:1: "));
    /* a key with a value too long */
    char text[2048];
    memset(text, '1', sizeof text);
    memcpy(text, "tracker.interval ", 17);
    text[sizeof text - 1] = '\0';
    CHECK(!parse(&c, text));
    CHECK(has(err, "test.conf:1: tracker.interval: value too long"));
}

TEST(unknown_and_unsupported_keys)
{
    struct config c;
    CHECK(!parse(&c, "tracker.interval 60\nfoo 1\n"));
    CHECK_STR(err, "test.conf:2: unknown key 'foo'");
    CHECK(!parse(&c, "\n\n\naccess.fifo_add /x\n"));
    CHECK_STR(err, "test.conf:4: access.fifo_add: not supported by this version of swarmd");
    static const char *const unsup[] = {
        "livesync.cluster.listen 224.0.23.5:9696",
        "access.fifo_add /tmp/x", "batchsync.cluster.admin_ip 10.1.1.1"};
    for (size_t i = 0; i < sizeof unsup / sizeof unsup[0]; i++) {
        CHECK(!parse(&c, unsup[i]));
        CHECK(has(err, "test.conf:1: "));
        CHECK(has(err, "not supported by this version of swarmd"));
    }
    /* a key without any value is still checked for existence first */
    CHECK(!parse(&c, "nosuchkey"));
    CHECK_STR(err, "test.conf:1: unknown key 'nosuchkey'");
    /* a very long key is cut in the message, not overflowing anything */
    char text[400];
    memset(text, 'k', sizeof text);
    text[sizeof text - 1] = '\0';
    CHECK(!parse(&c, text));
    CHECK(has(err, "unknown key 'kkkk"));
    CHECK(strlen(err) < 120);
    /* non-printable bytes in keys are shown as '?' */
    CHECK(!parse(&c, "f\xff\xfeo 1"));
    CHECK_STR(err, "test.conf:1: unknown key 'f??o'");
}

TEST(config_set_api)
{
    struct config c;
    config_defaults(&c);
    CHECK(config_set(&c, "tracker.numwant", "20", err, sizeof err));
    CHECK_EQ_INT(c.numwant, 20);
    CHECK(!config_set(&c, "tracker.numwant", NULL, err, sizeof err));
    CHECK(has(err, "tracker.numwant: invalid value ''"));
    CHECK(!config_set(&c, "bogus", "1", err, sizeof err));
    CHECK_STR(err, "unknown key 'bogus'");
    /* err is always terminated and bounded */
    char small[8];
    CHECK(!config_set(&c, "bogus", "1", small, sizeof small));
    CHECK_EQ_INT(strlen(small), 7);
}

TEST(derived_and_cross_checks)
{
    struct config c;
    /* min_interval follows interval unless set */
    CHECK_EQ_INT(ARGS(&c, "--interval", "600"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.interval, 600);
    CHECK_EQ_INT(c.min_interval, 300);
    CHECK_EQ_INT(ARGS(&c, "--interval=1"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.min_interval, 1);
    CHECK_EQ_INT(ARGS(&c, "--interval", "600", "-o", "tracker.min_interval=600"),
                 CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.min_interval, 600);
    CHECK_EQ_INT(ARGS(&c, "--interval", "600", "-o", "tracker.min_interval=601"),
                 CONFIG_ARGS_ERROR);
    CHECK(has(err, "tracker.min_interval"));
    CHECK(has(err, "tracker.interval"));
    /* numwant follows a lower max_numwant unless set */
    CHECK_EQ_INT(ARGS(&c, "-o", "tracker.max_numwant=30"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.numwant, 30);
    CHECK_EQ_INT(ARGS(&c, "-o", "tracker.max_numwant=30", "-o", "tracker.numwant=31"),
                 CONFIG_ARGS_ERROR);
    CHECK(has(err, "tracker.numwant"));
    CHECK_EQ_INT(ARGS(&c, "-o", "tracker.max_numwant=30", "-o", "tracker.numwant=0"),
                 CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.numwant, 0);
}

/* ---- command line ---- */

static bool same_binds(const struct config *a, const struct config *b)
{
    struct config_bind x[CONFIG_MAX_BINDS], y[CONFIG_MAX_BINDS];
    unsigned n = config_binds(a, x), m = config_binds(b, y);
    if (n != m)
        return false;
    for (unsigned i = 0; i < n; i++)
        if (x[i].proto != y[i].proto || x[i].addr.family != y[i].addr.family ||
            x[i].addr.port != y[i].addr.port || memcmp(x[i].addr.ip, y[i].addr.ip, 16) != 0 ||
            x[i].optional != y[i].optional)
            return false;
    return true;
}

TEST(flags_order_does_not_matter)
{
    struct config a, b, c, d;
    CHECK_EQ_INT(ARGS(&a, "-i", "127.0.0.1", "-p", "8080", "-P", "8081", "-i", "::1"),
                 CONFIG_ARGS_RUN);
    CHECK_EQ_INT(ARGS(&b, "-p", "8080", "-P", "8081", "-i", "127.0.0.1", "-i", "::1"),
                 CONFIG_ARGS_RUN);
    CHECK_EQ_INT(ARGS(&c, "-P8081", "-i127.0.0.1", "-p8080", "-i::1"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(ARGS(&d, "-i", "127.0.0.1", "-i", "::1", "-P", "8081", "-p", "8080"),
                 CONFIG_ARGS_RUN);
    CHECK(same_binds(&a, &b));
    CHECK(same_binds(&a, &c));
    CHECK(same_binds(&a, &d));

    struct config_bind x[CONFIG_MAX_BINDS];
    unsigned n = config_binds(&a, x);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(x[0].proto, LISTEN_TCP);
    CHECK_EQ_INT(x[0].addr.port, 8080);
    CHECK_EQ_INT(x[0].addr.ip[0], 127);
    CHECK_EQ_INT(x[1].proto, LISTEN_TCP);
    CHECK_EQ_INT(x[1].addr.family, ADDR_V6);
    CHECK_EQ_INT(x[1].addr.ip[15], 1);
    CHECK_EQ_INT(x[2].proto, LISTEN_UDP);
    CHECK_EQ_INT(x[2].addr.port, 8081);
    CHECK_EQ_INT(x[3].addr.port, 8081);
    /* -i with its own port: both protocols on that port */
    CHECK_EQ_INT(ARGS(&a, "-i", "[::1]:7000", "-p", "1"), CONFIG_ARGS_RUN);
    n = config_binds(&a, x);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(x[0].addr.port, 7000);
    CHECK_EQ_INT(x[1].addr.port, 7000);
    /* port 0 is allowed (kernel picks) */
    CHECK_EQ_INT(ARGS(&a, "-p", "0", "-P", "0"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(a.http_port, 0);
    CHECK_EQ_INT(a.udp_port, 0);
}

TEST(flag_forms)
{
    struct config c;
    CHECK_EQ_INT(ARGS(&c, "-p80"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.http_port, 80);
    CHECK_EQ_INT(ARGS(&c, "--peer-timeout=30"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.peer_timeout, 30);
    CHECK_EQ_INT(ARGS(&c, "--peer-timeout", "31"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.peer_timeout, 31);
    CHECK_EQ_INT(ARGS(&c, "-t", "3"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.workers, 3);
    CHECK_EQ_INT(ARGS(&c, "-t0"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.workers, 0);
    CHECK_EQ_INT(ARGS(&c, "-r", "http://example.org/"), CONFIG_ARGS_RUN);
    CHECK_STR(c.redirect_url, "http://example.org/");
    CHECK_EQ_INT(ARGS(&c, "-q"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.log_level, 1);
    CHECK_EQ_INT(ARGS(&c, "-v"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.log_level, 3);
    CHECK_EQ_INT(ARGS(&c, "-q", "-v"), CONFIG_ARGS_RUN); /* last wins */
    CHECK_EQ_INT(c.log_level, 3);
    /* generic settings: -o KEY=VALUE, --KEY=VALUE, --KEY VALUE */
    CHECK_EQ_INT(ARGS(&c, "-o", "tracker.numwant=7", "--tracker.max_numwant=9",
                      "--http.head_max", "2048", "-ohttp.idle_timeout=5"),
                 CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.numwant, 7);
    CHECK_EQ_INT(c.max_numwant, 9);
    CHECK_EQ_INT(c.http_head_max, 2048);
    CHECK_EQ_INT(c.http_idle_timeout, 5);
    CHECK_EQ_INT(ARGS(&c, "-o", "tracker.fullscrape=off"), CONFIG_ARGS_RUN);
    CHECK(!c.fullscrape);
    CHECK_EQ_INT(ARGS(&c, "--check-config"), CONFIG_ARGS_RUN);
    CHECK(c.check_config);
    /* "--" ends the flags (and nothing may follow) */
    CHECK_EQ_INT(ARGS(&c, "-p", "81", "--"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.http_port, 81);
}

TEST(flag_errors)
{
    struct config c;
    CHECK_EQ_INT(ARGS(&c, "-x"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "unknown option '-x'"));
    CHECK_EQ_INT(ARGS(&c, "--frobnicate=3"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "unknown option '--frobnicate'"));
    CHECK_EQ_INT(ARGS(&c, "-qv"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "'-qv'"));
    CHECK_EQ_INT(ARGS(&c, "-p"), CONFIG_ARGS_ERROR);
    CHECK_STR(err, "-p: missing value");
    CHECK_EQ_INT(ARGS(&c, "-i", "1.2.3.4", "--peer-timeout"), CONFIG_ARGS_ERROR);
    CHECK_STR(err, "--peer-timeout: missing value");
    CHECK_EQ_INT(ARGS(&c, "-p", "65536"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "-p: invalid value '65536'"));
    CHECK_EQ_INT(ARGS(&c, "-P", "-1"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "-P: invalid value '-1'"));
    CHECK_EQ_INT(ARGS(&c, "-p", ""), CONFIG_ARGS_ERROR);
    CHECK(has(err, "-p: invalid value ''"));
    CHECK_EQ_INT(ARGS(&c, "-i", "example.org"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "-i: invalid value 'example.org'"));
    CHECK_EQ_INT(ARGS(&c, "-t", "many"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "-t: invalid value 'many'"));
    CHECK_EQ_INT(ARGS(&c, "--peer-timeout=0"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "--peer-timeout: invalid value '0' (expected seconds 1..28800)"));
    CHECK_EQ_INT(ARGS(&c, "--peer-timeout=28801"), CONFIG_ARGS_ERROR);
    CHECK_EQ_INT(ARGS(&c, "--interval", "x"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "--interval: invalid value 'x'"));
    CHECK_EQ_INT(ARGS(&c, "--help=1"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "--help: takes no value"));
    CHECK_EQ_INT(ARGS(&c, "stray"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "unexpected argument 'stray'"));
    CHECK_EQ_INT(ARGS(&c, "--", "stray"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "unexpected argument 'stray'"));
    CHECK_EQ_INT(ARGS(&c, "-"), CONFIG_ARGS_ERROR);
    CHECK_EQ_INT(ARGS(&c, "-o", "tracker.numwant"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "-o: invalid value 'tracker.numwant' (expected KEY=VALUE)"));
    CHECK_EQ_INT(ARGS(&c, "-o", "nokey=1"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "-o: unknown key 'nokey'"));
    CHECK_EQ_INT(ARGS(&c, "-o", "tracker.numwant=x"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "-o: tracker.numwant: invalid value 'x'"));
    CHECK_EQ_INT(ARGS(&c, "--tracker.numwant=x"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "--tracker.numwant: invalid value 'x'"));
    /* every opentracker flag is supported now: -A is access.stats */
    CHECK_EQ_INT(ARGS(&c, "-A", "x"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "-A: invalid value 'x'"));
    CHECK_EQ_INT(ARGS(&c, "--access.fifo_add=/x"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "not supported by this version of swarmd"));
    /* the first error wins; a later --check-config is still noticed first */
    CHECK_EQ_INT(ARGS(&c, "-t", "x", "--check-config"), CONFIG_ARGS_ERROR);
    CHECK(c.check_config);
    CHECK_EQ_INT(ARGS(&c, "-x", "--check-config"), CONFIG_ARGS_ERROR);
    CHECK(c.check_config);
    CHECK_EQ_INT(ARGS(&c, "-x"), CONFIG_ARGS_ERROR);
    CHECK(!c.check_config);
}

/* Issue 6: access lists, proxies, privilege drop. */
TEST(operator_keys)
{
    struct config c;
    CHECK(parse(&c, "access.whitelist /etc/wl\naccess.proxy 10.0.0.0/8\naccess.proxy ::1\n"
                    "tracker.user swarmd\ntracker.rootdir /var/empty\n"));
    CHECK_STR(c.whitelist, "/etc/wl");
    CHECK_EQ_INT(c.proxies.n, 2);
    CHECK_STR(c.user, "swarmd");
    CHECK_STR(c.rootdir, "/var/empty");
    CHECK(!c.trust_ip_param);
    CHECK(!parse(&c, "access.proxy 10.0.0.0/33\n"));
    CHECK(has(err, "test.conf:1: access.proxy: invalid value '10.0.0.0/33'"));
    CHECK(!parse(&c, "tracker.user\n"));
    CHECK(has(err, "tracker.user: invalid value"));
    CHECK_EQ_INT(ARGS(&c, "-w", "/a", "-u", "nobody", "-d", "/r"), CONFIG_ARGS_RUN);
    CHECK_STR(c.whitelist, "/a");
    CHECK_STR(c.user, "nobody");
    CHECK_STR(c.rootdir, "/r");
    CHECK_EQ_INT(ARGS(&c, "-b", "/b", "-o", "access.trust_ip_param=on"), CONFIG_ARGS_RUN);
    CHECK_STR(c.blacklist, "/b");
    CHECK(c.trust_ip_param);
    CHECK_EQ_INT(ARGS(&c, "-w", "/a", "-b", "/b"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "access.whitelist and access.blacklist are both set"));
}

/* tracker.udp_secret_file: a path like the access lists; cluster mode cannot start without
 * it, because every node must accept the connection ids the others hand out. */
TEST(udp_secret_file)
{
    struct config c;
    CHECK(parse(&c, "tracker.udp_secret_file /etc/swarmd/udp_secret\n"));
    CHECK_STR(c.udp_secret_file, "/etc/swarmd/udp_secret");
    CHECK(config_validate(&c, err, sizeof err));
    CHECK(parse(&c, "tracker.interval 60\n"));
    CHECK_STR(c.udp_secret_file, "");
    CHECK_EQ_INT(ARGS(&c, "-o", "tracker.udp_secret_file=/k"), CONFIG_ARGS_RUN);
    CHECK_STR(c.udp_secret_file, "/k");

    const char *cluster = "cluster.engine redis://127.0.0.1:6379\ncluster.node_id 1\n"
                          "cluster.nodes 1,2\n";
    CHECK(parse(&c, cluster));
    CHECK(!config_validate(&c, err, sizeof err));
#ifdef SWARMD_HAVE_HIREDIS
    CHECK(has(err, "cluster.engine needs tracker.udp_secret_file"));
    char text[256];
    snprintf(text, sizeof text, "%stracker.udp_secret_file /k\n", cluster);
    CHECK(parse(&c, text));
    CHECK(config_validate(&c, err, sizeof err));
#else
    CHECK(has(err, "built without hiredis"));
#endif
}

static void print_help(void *arg)
{
    (void)arg;
    config_print_help();
}

struct args_call {
    const char **argv;
    int argc;
    enum config_args_result r;
};

static void call_args(void *arg)
{
    struct args_call *a = arg;
    struct config c;
    a->r = config_parse_args(&c, a->argc, (char **)a->argv, err, sizeof err);
}

TEST(help_and_version)
{
    const char *out = capture(print_help, NULL);
    /* every flag and key is mentioned, with defaults */
    static const char *const must[] = {
        "-f FILE", "-i ADDR[:PORT]", "-p PORT", "-P PORT", "-t N", "--interval SEC",
        "--peer-timeout SEC", "-o KEY=VALUE", "-q", "-v", "--check-config", "--help",
        "--version", "-r URL", "listen.tcp ", "listen.udp ", "listen.tcp_udp", "tracker.workers",
        "listen.udp.workers", "tracker.interval", "tracker.min_interval", "tracker.peer_timeout",
        "tracker.numwant", "tracker.max_numwant", "tracker.scrape_max_hashes",
        "tracker.fullscrape ", "tracker.fullscrape_cache", "tracker.redirect_url",
        "http.head_max", "http.idle_timeout", "http.max_connections", "6969", "1800", "2700",
        "access.whitelist",
        "websocket.enable", "websocket.max_connections", "websocket.max_torrents",
        "websocket.max_queued_bytes"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        if (!has(out, must[i])) {
            fprintf(stderr, "  help lacks '%s'\n", must[i]);
            CHECK(0);
        }
    /* every line fits 100 columns */
    const char *line = out;
    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > 100) {
            fprintf(stderr, "  help line too long (%zu): %.*s\n", len, (int)len, line);
            CHECK(0);
        }
        line += len + (nl != NULL);
    }

    const char *v1[] = {"swarmd", "--version", NULL};
    struct args_call a = {v1, 2, CONFIG_ARGS_ERROR};
    out = capture(call_args, &a);
    CHECK_EQ_INT(a.r, CONFIG_ARGS_EXIT_OK);
    CHECK_STR(out, "swarmd " SWARMD_VERSION "\n");
    CHECK_STR(SWARMD_VERSION, "0.1.0");

    const char *v2[] = {"swarmd", "-p", "80", "-h", NULL};
    a.argv = v2;
    a.argc = 4;
    out = capture(call_args, &a);
    CHECK_EQ_INT(a.r, CONFIG_ARGS_EXIT_OK);
    CHECK(has(out, "Usage: swarmd"));
    const char *v3[] = {"swarmd", "--help", "-f", "/nonexistent/file", NULL};
    a.argv = v3;
    out = capture(call_args, &a);
    CHECK_EQ_INT(a.r, CONFIG_ARGS_EXIT_OK); /* help does not need a readable config */
}

TEST(file_and_precedence)
{
    struct config c;
    const char *path = write_tmp("# test\n"
                                 "tracker.interval 1000\n"
                                 "tracker.peer_timeout 2000\n"
                                 "tracker.numwant 40\n"
                                 "listen.tcp_udp 127.0.0.1:7001\n"
                                 "listen.udp.workers 2\n");
    CHECK(path != NULL);
    /* file only */
    CHECK_EQ_INT(ARGS(&c, "-f", path), CONFIG_ARGS_RUN);
    CHECK_STR(c.config_file, path);
    CHECK_EQ_INT(c.interval, 1000);
    CHECK_EQ_INT(c.min_interval, 500);
    CHECK_EQ_INT(c.peer_timeout, 2000);
    CHECK_EQ_INT(c.numwant, 40);
    CHECK_EQ_INT(c.workers, 2);
    CHECK_EQ_INT(c.n_listen, 1);
    /* flags win over the file, whichever side of -f they are on */
    CHECK_EQ_INT(ARGS(&c, "--peer-timeout", "30", "-f", path, "-t", "5"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.peer_timeout, 30);
    CHECK_EQ_INT(c.workers, 5);
    CHECK_EQ_INT(c.interval, 1000);
    CHECK_EQ_INT(ARGS(&c, "-o", "tracker.numwant=3", "--config", path), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.numwant, 3);
    /* -i replaces the file's listen entries; -p alone does not */
    CHECK_EQ_INT(ARGS(&c, "-i", "::1", "-f", path), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.n_listen, 1);
    CHECK_EQ_INT(c.listen[0].addr.family, ADDR_V6);
    CHECK_EQ_INT(ARGS(&c, "-f", path, "-p", "1"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.n_listen, 1);
    CHECK_EQ_INT(c.listen[0].addr.port, 7001);
    CHECK_EQ_INT(ARGS(&c, "-f", path, "-o", "listen.udp=127.0.0.2"), CONFIG_ARGS_RUN);
    CHECK_EQ_INT(c.n_listen, 1);
    CHECK_EQ_INT(c.listen[0].proto, LISTEN_UDP);
    /* only one config file */
    CHECK_EQ_INT(ARGS(&c, "-f", path, "-f", path), CONFIG_ARGS_ERROR);
    CHECK(has(err, "-f: only one config file"));
    unlink(path);

    /* an error in the file names the file and line, and stops */
    path = write_tmp("tracker.interval 60\n\naccess.fifo_add /x\n");
    CHECK_EQ_INT(ARGS(&c, "-f", path), CONFIG_ARGS_ERROR);
    char want[256];
    snprintf(want, sizeof want, "%s:3: access.fifo_add: not supported by this version of swarmd",
             path);
    CHECK_STR(err, want);
    CHECK_EQ_INT(ARGS(&c, "--check-config", "-f", path), CONFIG_ARGS_ERROR);
    CHECK(c.check_config);
    unlink(path);

    /* a missing file, a directory */
    CHECK_EQ_INT(ARGS(&c, "-f", "/nonexistent/swarmd.conf"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "cannot read /nonexistent/swarmd.conf: "));
    CHECK_EQ_INT(ARGS(&c, "-f", "/tmp"), CONFIG_ARGS_ERROR);
    CHECK(has(err, "cannot read /tmp: is a directory"));
    config_defaults(&c);
    CHECK(!config_load_file(&c, "/nonexistent", err, sizeof err));
}

TEST(stats_helpers)
{
    struct worker_stats s[3];
    memset(s, 0, sizeof s);
    stat_inc(&s[0], STAT_UDP_MALFORMED);
    stat_add(&s[1], STAT_UDP_MALFORMED, 10);
    stat_add(&s[2], STAT_UDP_MALFORMED, 5);
    stat_inc(&s[2], STAT_HTTP_ANNOUNCE);
    CHECK_EQ_INT(stats_sum(s, 3, STAT_UDP_MALFORMED), 16);
    CHECK_EQ_INT(stats_sum(s, 2, STAT_UDP_MALFORMED), 11);
    CHECK_EQ_INT(stats_sum(s, 3, STAT_HTTP_ANNOUNCE), 1);
    CHECK_EQ_INT(stats_sum(s, 3, STAT_COMPLETED), 0);
    CHECK_EQ_INT(stats_sum(s, 0, STAT_COMPLETED), 0);
    CHECK_EQ_INT(sizeof(struct worker_stats) % 64, 0);
    CHECK_STR(stat_name(STAT_HTTP_ANNOUNCE), "http_announce");
    CHECK_STR(stat_name(STAT_UDP_MALFORMED), "udp_malformed");
    CHECK_STR(stat_name(STAT_COUNT), "unknown");
    /* every counter has a distinct snake_case name */
    for (int k = 0; k < STAT_COUNT; k++) {
        const char *n = stat_name((enum stat_counter)k);
        CHECK(strcmp(n, "unknown") != 0);
        for (const char *p = n; *p; p++)
            CHECK((*p >= 'a' && *p <= 'z') || *p == '_' || (*p >= '0' && *p <= '9'));
        for (int j = 0; j < k; j++)
            CHECK(strcmp(n, stat_name((enum stat_counter)j)) != 0);
    }
}

/* An opentracker config with several keys swarmd lacks: each one is named, one per line. */
TEST(every_bad_line_reported)
{
    struct config c;
    CHECK(!parse(&c, "livesync.cluster.listen 224.0.23.5:9696\ntracker.interval 60\n"
                     "batchsync.cluster.admin_ip 10.1.1.1\nfoo 1\n"));
    CHECK_STR(err, "test.conf:1: livesync.cluster.listen: not supported by this version of swarmd\n"
                   "test.conf:3: batchsync.cluster.admin_ip: not supported by this version of "
                   "swarmd\n"
                   "test.conf:4: unknown key 'foo'");
    CHECK_EQ_INT(c.interval, 60); /* good lines still apply */
}

TEST(cluster_keys)
{
    struct config c;
    CHECK(parse(&c, "tracker.interval 60\n"));
    CHECK(!c.cluster_engine[0]); /* off by default */
    CHECK_STR(c.cluster_name, "swarmd");
    CHECK_EQ_INT(c.cluster_flush_ms, 100);
    CHECK_EQ_INT(c.cluster_batch_bytes, 16384);
    CHECK_EQ_INT(c.cluster_retention, 100000);
    CHECK_EQ_INT(c.cluster_outage_buffer, 16 << 20);
    CHECK_EQ_INT(c.cluster_sync_renew, 600);
    CHECK_EQ_INT(c.cluster_publish_rate, 100000);
    CHECK_EQ_INT(c.cluster_timeout_ms, 1000);

    CHECK(parse(&c, "cluster.engine redis://10.0.0.10:6380\ncluster.name prod-eu\n"
                    "cluster.node_id 2\ncluster.nodes 1,2,3\ncluster.outage_buffer 4M\n"
                    "cluster.bind 10.0.0.2\ncluster.flush_ms 20\ncluster.publish_rate 0\n"
                    "tracker.udp_secret_file /etc/swarmd/udp.key\n"));
    CHECK_STR(c.cluster_host, "10.0.0.10");
    CHECK_EQ_INT(c.cluster_port, 6380);
    CHECK_STR(c.cluster_name, "prod-eu");
    CHECK_EQ_INT(c.cluster_node_id, 2);
    CHECK_EQ_INT(c.cluster_n_nodes, 3);
    CHECK_EQ_INT(c.cluster_nodes[2], 3);
    CHECK_EQ_INT(c.cluster_outage_buffer, 4 << 20);
    CHECK_EQ_INT(c.cluster_bind.family, ADDR_V4);
    CHECK_EQ_INT(c.cluster_publish_rate, 0);
#ifdef SWARMD_HAVE_HIREDIS
    CHECK(config_validate(&c, err, sizeof err));
#else
    CHECK(!config_validate(&c, err, sizeof err) && has(err, "built without hiredis"));
#endif
    CHECK(parse(&c, "cluster.engine redis://[::1]\n"));
    CHECK_STR(c.cluster_host, "::1");
    CHECK_EQ_INT(c.cluster_port, 6379);
    CHECK(parse(&c, "cluster.engine redis://redis.example:7000/\n"));
    CHECK_STR(c.cluster_host, "redis.example");

    static const char *const bad[] = {
        "cluster.engine http://1.2.3.4:6379", "cluster.engine redis://", "cluster.engine "
        "redis://1.2.3.4:0", "cluster.engine redis://1.2.3.4:6379/2", "cluster.engine "
        "redis://a b", "cluster.name x{y}", "cluster.name a:b", "cluster.node_id 0",
        "cluster.node_id 65536", "cluster.nodes 1,,2", "cluster.nodes 1,1", "cluster.nodes 0",
        "cluster.nodes 1,", "cluster.nodes", "cluster.outage_buffer 12Q", "cluster.bind host",
        "cluster.batch_bytes 100", "cluster.timeout_ms 10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!parse(&c, bad[i]));
        if (!has(err, "test.conf:1: cluster."))
            fprintf(stderr, "  %s -> %s\n", bad[i], err);
    }

#ifdef SWARMD_HAVE_HIREDIS
    /* Cross-field checks: node_id and nodes required, node_id among them. */
    CHECK(parse(&c, "cluster.engine redis://127.0.0.1:6379\ntracker.udp_secret_file /k\ncluster.nodes 1,2\n"));
    CHECK(!config_validate(&c, err, sizeof err) && has(err, "cluster.node_id"));
    CHECK(parse(&c, "cluster.engine redis://127.0.0.1:6379\ntracker.udp_secret_file /k\ncluster.node_id 1\n"));
    CHECK(!config_validate(&c, err, sizeof err) && has(err, "cluster.nodes"));
    CHECK(parse(&c, "cluster.engine redis://127.0.0.1:6379\ntracker.udp_secret_file /k\ncluster.node_id 4\n"
                    "cluster.nodes 1,2,3\n"));
    CHECK(!config_validate(&c, err, sizeof err) && has(err, "not in cluster.nodes"));
    CHECK(parse(&c, "cluster.engine redis://127.0.0.1:6379\ntracker.udp_secret_file /k\ncluster.node_id 1\n"
                    "cluster.nodes 1\ncluster.outage_buffer 1k\n"));
    CHECK(!config_validate(&c, err, sizeof err) && has(err, "cluster.outage_buffer"));
#endif
    /* Without cluster.engine the other keys change nothing and need nothing. */
    CHECK(parse(&c, "cluster.node_id 7\n"));
    CHECK(config_validate(&c, err, sizeof err));
}

int main(void)
{
    RUN(defaults);
    RUN(every_bad_line_reported);
    RUN(default_binds);
    RUN(numeric_keys);
    RUN(bool_key);
    RUN(redirect_url);
    RUN(listen_lines);
    RUN(only_tcp_means_no_udp);
    RUN(too_many_listen);
    RUN(file_syntax);
    RUN(unknown_and_unsupported_keys);
    RUN(operator_keys);
    RUN(config_set_api);
    RUN(derived_and_cross_checks);
    RUN(flags_order_does_not_matter);
    RUN(flag_forms);
    RUN(flag_errors);
    RUN(help_and_version);
    RUN(udp_secret_file);
    RUN(file_and_precedence);
    RUN(stats_helpers);
    RUN(cluster_keys);
    return CHECK_DONE();
}
