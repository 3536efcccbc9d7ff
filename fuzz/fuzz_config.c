/* fuzz_config.c - libFuzzer harness for the config file parser and the command line.
 *
 * Normally the input is a config file: parsed from an exactly-sized heap copy (so ASan sees
 * any read past its end), then the parser's promises are checked with abort(): an error
 * names "fuzz.conf:LINE:" and fits its buffer, a success leaves every value in its documented
 * range, and parsing the same text twice gives the same result. An input starting with a NUL
 * byte is instead a NUL-separated argv for config_parse_args (flags that would read files or
 * print to stdout are left out). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "config.h"
#include "request.h"
#include "store/store.h"

static void check_ranges(const struct config *c)
{
    struct config_bind b[CONFIG_MAX_BINDS];

    REQUIRE(c->n_listen <= CONFIG_MAX_LISTEN);
    REQUIRE(c->workers <= CONFIG_MAX_WORKERS);
    REQUIRE(c->interval >= 1 && c->interval <= 86400);
    REQUIRE(c->min_interval >= 1 && c->min_interval <= 86400);
    REQUIRE(c->peer_timeout >= 1 && c->peer_timeout <= STORE_MAX_PEER_TIMEOUT);
    REQUIRE(c->numwant <= CONFIG_MAX_NUMWANT);
    REQUIRE(c->max_numwant >= 1 && c->max_numwant <= CONFIG_MAX_NUMWANT);
    REQUIRE(c->scrape_max_hashes >= 1 && c->scrape_max_hashes <= SCRAPE_MAX_HASHES);
    REQUIRE(c->fullscrape_cache >= 1 && c->fullscrape_cache <= 3600);
    REQUIRE(c->http_head_max >= 1024 && c->http_head_max <= 65536);
    REQUIRE(c->http_idle_timeout >= 1 && c->http_max_conns >= 1);
    REQUIRE(memchr(c->redirect_url, '\0', sizeof c->redirect_url) != NULL);
    /* The redirect URL goes into a response header: never a control character or space. */
    for (const char *p = c->redirect_url; *p; p++)
        REQUIRE((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f);
    for (unsigned i = 0; i < c->n_listen; i++) {
        const struct listen_spec *l = &c->listen[i];
        REQUIRE(l->addr.family == ADDR_V4 || l->addr.family == ADDR_V6);
        REQUIRE(l->proto == LISTEN_TCP || l->proto == LISTEN_UDP || l->proto == LISTEN_BOTH);
        REQUIRE(l->has_port || l->addr.port == 0);
    }
    unsigned n = config_binds(c, b);
    REQUIRE(n <= CONFIG_MAX_BINDS);
    REQUIRE(c->n_listen > 0 || n == 4);
    for (unsigned i = 0; i < n; i++) {
        REQUIRE(b[i].proto == LISTEN_TCP || b[i].proto == LISTEN_UDP);
        for (unsigned j = 0; j < i; j++)
            REQUIRE(!(b[i].proto == b[j].proto && b[i].addr.family == b[j].addr.family &&
                      b[i].addr.port == b[j].addr.port &&
                      memcmp(b[i].addr.ip, b[j].addr.ip, 16) == 0));
    }
}

static void check_err(const char *err, size_t cap, const char *prefix)
{
    size_t len = strnlen(err, cap);
    REQUIRE(len < cap);
    REQUIRE(len > 0);
    if (prefix)
        REQUIRE(strncmp(err, prefix, strlen(prefix)) == 0);
}

static void fuzz_text(const uint8_t *data, size_t size)
{
    static struct config a, b;
    char err[512], err2[512];
    char *text = malloc(size ? size : 1);
    if (!text)
        return;
    memcpy(text, data, size);

    config_defaults(&a);
    err[0] = '\0';
    bool ok = config_parse_text(&a, text, size, "fuzz.conf", err, sizeof err);
    config_defaults(&b);
    bool ok2 = config_parse_text(&b, text, size, "fuzz.conf", err2, sizeof err2);
    REQUIRE(ok == ok2);
    if (!ok) {
        check_err(err, sizeof err, "fuzz.conf:");
        REQUIRE(strcmp(err, err2) == 0);
        /* a small error buffer still gets a terminated, truncated message */
        char tiny[9];
        config_defaults(&b);
        REQUIRE(!config_parse_text(&b, text, size, "fuzz.conf", tiny, sizeof tiny));
        REQUIRE(strnlen(tiny, sizeof tiny) == sizeof tiny - 1);
    } else {
        REQUIRE(a.n_listen == b.n_listen && a.interval == b.interval &&
                a.peer_timeout == b.peer_timeout && a.numwant == b.numwant &&
                strcmp(a.redirect_url, b.redirect_url) == 0);
        for (unsigned i = 0; i < a.n_listen; i++)
            REQUIRE(a.listen[i].proto == b.listen[i].proto &&
                    a.listen[i].has_port == b.listen[i].has_port &&
                    a.listen[i].addr.port == b.listen[i].addr.port &&
                    memcmp(a.listen[i].addr.ip, b.listen[i].addr.ip, 16) == 0);
        check_ranges(&a);
        config_finish(&a);
        if (config_validate(&a, err, sizeof err)) {
            REQUIRE(a.min_interval <= a.interval && a.numwant <= a.max_numwant);
            check_ranges(&a);
        } else {
            check_err(err, sizeof err, NULL);
        }
    }
    free(text);
}

/* Flags that would read a file or print to stdout stay out of the fuzzer. */
static bool harmless(const char *s)
{
    return !(s[0] == '-' && (s[1] == 'f' || s[1] == 'h')) && strncmp(s, "--config", 8) != 0 &&
           strncmp(s, "--h", 3) != 0 && strncmp(s, "--v", 3) != 0;
}

static void fuzz_args(const uint8_t *data, size_t size)
{
    static struct config c;
    char *argv[34], err[512];
    int argc = 0;
    char *copy = malloc(size + 1);
    if (!copy)
        return;
    memcpy(copy, data, size);
    copy[size] = '\0';
    argv[argc++] = (char *)"swarmd";
    for (size_t pos = 1; pos <= size && argc < 33;) {
        char *tok = copy + pos;
        size_t len = strlen(tok);
        if (harmless(tok))
            argv[argc++] = tok;
        pos += len + 1;
    }
    argv[argc] = NULL;
    err[0] = '\0';
    enum config_args_result r = config_parse_args(&c, argc, argv, err, sizeof err);
    REQUIRE(r == CONFIG_ARGS_RUN || r == CONFIG_ARGS_ERROR);
    if (r == CONFIG_ARGS_ERROR) {
        check_err(err, sizeof err, NULL);
    } else {
        check_ranges(&c);
        REQUIRE(c.min_interval <= c.interval && c.numwant <= c.max_numwant);
        REQUIRE(c.log_level >= 1 && c.log_level <= 3);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == '\0')
        fuzz_args(data, size);
    else
        fuzz_text(data, size);
    return 0;
}
