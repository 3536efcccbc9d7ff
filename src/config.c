/* config.c - built-in defaults, the "key value" config file and the command line.
 *
 * One table describes every config key (type, field, range, default text, help) so that the
 * file parser, the --KEY / -o flags and --help can never disagree. Parsing is pure apart from
 * config_load_file reading the file, and never allocates except for the file's text. Every
 * error names the flag or "FILE:LINE" and the key, and stops start-up: nothing is ignored. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "request.h"
#include "store/store.h"

#define MAX_CONFIG_FILE (1024 * 1024)
#define MAX_KEY_LEN 64
#define MAX_VALUE_LEN 1024

enum key_kind { KEY_UINT, KEY_BOOL, KEY_LISTEN, KEY_URL, KEY_PATH, KEY_NETLIST,
                KEY_STATS_PATH, KEY_ENGINE, KEY_NAME, KEY_NODES, KEY_ADDR, KEY_SIZE };

struct key_def {
    const char *name;
    enum key_kind kind;
    size_t off, size;   /* the field in struct config */
    uint64_t min, max;  /* KEY_UINT: accepted range; KEY_LISTEN: min is the protocol */
    const char *what;   /* KEY_UINT: what the number is, for error messages */
    const char *arg;    /* placeholder in --help */
    const char *def;    /* default, for --help */
    const char *help;
    const char *alias_of; /* non-NULL: same as that key (shown once in --help) */
};

#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)
#define NOFIELD 0, 0

static const struct key_def keys[] = {
    {"listen.tcp", KEY_LISTEN, NOFIELD, LISTEN_TCP, 0, NULL, "ADDR[:PORT]", "0.0.0.0, ::",
     "serve HTTP on ADDR (repeatable; no port: -p's)", NULL},
    {"listen.udp", KEY_LISTEN, NOFIELD, LISTEN_UDP, 0, NULL, "ADDR[:PORT]", "0.0.0.0, ::",
     "serve UDP on ADDR (repeatable; no port: -P's)", NULL},
    {"listen.tcp_udp", KEY_LISTEN, NOFIELD, LISTEN_BOTH, 0, NULL, "ADDR[:PORT]", "",
     "serve HTTP and UDP on ADDR (repeatable)", NULL},
    {"tracker.workers", KEY_UINT, FIELD(workers), 0, CONFIG_MAX_WORKERS, "a thread count",
     "N", "0", "worker threads; 0 = one per usable CPU (-t)", NULL},
    {"listen.udp.workers", KEY_UINT, FIELD(workers), 0, CONFIG_MAX_WORKERS, "a thread count",
     "N", "0", NULL, "tracker.workers"},
    {"tracker.interval", KEY_UINT, FIELD(interval), 1, 86400, "seconds", "SEC", "1800",
     "announce interval sent to clients (--interval)", NULL},
    {"tracker.min_interval", KEY_UINT, FIELD(min_interval), 1, 86400, "seconds", "SEC",
     "interval/2", "minimum announce interval sent to clients", NULL},
    {"tracker.peer_timeout", KEY_UINT, FIELD(peer_timeout), 1, STORE_MAX_PEER_TIMEOUT,
     "seconds", "SEC", "2700", "drop peers silent this long (--peer-timeout)", NULL},
    {"tracker.numwant", KEY_UINT, FIELD(numwant), 0, CONFIG_MAX_NUMWANT, "a peer count", "N",
     "50", "peers returned when the client does not say", NULL},
    {"tracker.max_numwant", KEY_UINT, FIELD(max_numwant), 1, CONFIG_MAX_NUMWANT,
     "a peer count", "N", "200", "most peers returned (UDP: fewer if a packet is full)", NULL},
    {"tracker.scrape_max_hashes", KEY_UINT, FIELD(scrape_max_hashes), 1, SCRAPE_MAX_HASHES,
     "a hash count", "N", "64", "most info_hashes in one HTTP scrape (UDP: 74)", NULL},
    {"tracker.fullscrape", KEY_BOOL, FIELD(fullscrape), 0, 0, NULL, "on|off", "on",
     "allow /scrape without info_hash (full scrape)", NULL},
    {"tracker.fullscrape_cache", KEY_UINT, FIELD(fullscrape_cache), 1, 3600, "seconds", "SEC",
     "10", "how long one full scrape is reused", NULL},
    {"tracker.redirect_url", KEY_URL, FIELD(redirect_url), 0, 0, NULL, "URL", "none",
     "GET / redirects there (-r)", NULL},
    {"http.head_max", KEY_UINT, FIELD(http_head_max), 1024, 65536, "bytes", "BYTES", "8192",
     "longest HTTP request head", NULL},
    {"http.idle_timeout", KEY_UINT, FIELD(http_idle_timeout), 1, 3600, "seconds", "SEC", "30",
     "close an HTTP connection idle this long", NULL},
    {"tracker.statefile", KEY_PATH, FIELD(statefile), 0, 0, NULL, "FILE", "none",
     "keep swarms in FILE across restarts", NULL},
    {"tracker.snapshot_interval", KEY_UINT, FIELD(snapshot_interval), 1, 86400, "seconds",
     "SEC", "300", "save the state file this often", NULL},
    {"http.max_connections", KEY_UINT, FIELD(http_max_conns), 1, 1000000, "a connection count",
     "N", "10000", "most open HTTP connections, all workers", NULL},
    {"tracker.max_torrents", KEY_UINT, FIELD(max_torrents), 0, 1000000000ULL,
     "a torrent count", "N", "5000000", "most torrents (0: no cap)",
     NULL},
    {"tracker.max_peers_per_torrent", KEY_UINT, FIELD(max_peers_per_torrent), 0, 100000000,
     "a peer count", "N", "200000", "most peers in one torrent (0: no cap)",
     NULL},
    {"tracker.max_memory", KEY_UINT, FIELD(max_memory_mib), 0, 16777216, "MiB", "MIB", "2048",
     "swarm table memory budget (0: no cap)", NULL},
    {"tracker.evict", KEY_BOOL, FIELD(evict), 0, 0, NULL, "on|off", "on",
     "new torrents at a cap evict swarms of <= 1 peer", NULL},
    {"tracker.enforce_min_interval", KEY_BOOL, FIELD(enforce_min_interval), 0, 0, NULL,
     "on|off", "off", "re-announce within min_interval/2: no peers", NULL},
    {"http.max_connections_per_ip", KEY_UINT, FIELD(http_max_conns_per_ip), 0, 1000000,
     "a connection count", "N", "256", "most HTTP connections per address (0: no cap)",
     NULL},
    {"http.header_timeout", KEY_UINT, FIELD(http_header_timeout), 0, 3600, "seconds", "SEC",
     "10", "longest time to send one request head (0: no limit)", NULL},
    {"http.max_pipeline", KEY_UINT, FIELD(http_max_pipeline), 1, 100000, "a request count", "N",
     "32", "pipelined requests answered per turn", NULL},
    {"udp.rcvbuf", KEY_UINT, FIELD(udp_rcvbuf), 0, 1073741824, "bytes", "BYTES", "4194304",
     "UDP socket receive buffer (0: OS default)", NULL},
    {"udp.sndbuf", KEY_UINT, FIELD(udp_sndbuf), 0, 1073741824, "bytes", "BYTES", "4194304",
     "UDP socket send buffer (0: OS default)", NULL},
    {"websocket.enable", KEY_BOOL, FIELD(ws_enable), 0, 0, NULL, "on|off", "on",
     "serve WebTorrent's WebSocket tracker on the HTTP port", NULL},
    {"websocket.max_connections", KEY_UINT, FIELD(ws_max_conns), 1, 1000000,
     "a connection count", "N", "10000", "most open WebSocket connections", NULL},
    {"websocket.max_torrents", KEY_UINT, FIELD(ws_max_torrents), 1, 65536, "a torrent count",
     "N", "128", "most torrents per WebSocket connection", NULL},
    {"websocket.max_queued_bytes", KEY_UINT, FIELD(ws_max_queued), 65536, 1u << 30, "bytes",
     "BYTES", "262144", "unsent bytes per WebSocket peer", NULL},
    {"access.whitelist", KEY_PATH, FIELD(whitelist), 0, 0, NULL, "FILE", "none",
     "serve only the info-hashes in FILE (-w; SIGHUP reloads)", NULL},
    {"access.blacklist", KEY_PATH, FIELD(blacklist), 0, 0, NULL, "FILE", "none",
     "refuse the info-hashes in FILE (-b; SIGHUP reloads)", NULL},
    {"access.proxy", KEY_NETLIST, FIELD(proxies), 0, 0, NULL, "NET", "none",
     "trusted reverse proxy network (repeatable; X-Forwarded-For)", NULL},
    {"access.trust_ip_param", KEY_BOOL, FIELD(trust_ip_param), 0, 0, NULL, "on|off", "off",
     "honour ip=/ipv4=/ipv6= and the UDP ip field from anyone", NULL},
    {"tracker.user", KEY_PATH, FIELD(user), 0, 0, NULL, "NAME", "none",
     "after binding, switch to this user (-u)", NULL},
    {"tracker.udp_secret_file", KEY_PATH, FIELD(udp_secret_file), 0, 0, NULL, "FILE",
     "random", "UDP connection-id keys for all nodes (SIGHUP reloads)", NULL},
    {"tracker.rootdir", KEY_PATH, FIELD(rootdir), 0, 0, NULL, "DIR", "none",
     "after binding, chroot here; later paths are inside it (-d)", NULL},
    {"access.stats", KEY_NETLIST, FIELD(stats_nets), 0, 0, NULL, "NET", "loopback",
     "who may read statistics pages (repeatable; -A)", NULL},
    {"access.stats_path", KEY_STATS_PATH, FIELD(stats_path), 0, 0, NULL, "PATH", "/stats",
     "path of the opentracker-style statistics", NULL},
    {"log.syslog", KEY_BOOL, FIELD(log_syslog), 0, 0, NULL, "on|off", "off",
     "also send log lines to syslog (daemon facility)", NULL},
    {"cluster.engine", KEY_ENGINE, FIELD(cluster_engine), 0, 0, NULL, "redis://HOST:PORT",
     "none", "cluster mode: share swarms with other nodes via this Redis", NULL},
    {"cluster.name", KEY_NAME, FIELD(cluster_name), 0, 0, NULL, "NAME", "swarmd",
     "cluster name (part of the Redis keys; same on every node)", NULL},
    {"cluster.node_id", KEY_UINT, FIELD(cluster_node_id), 1, 65535, "a node id", "N", "none",
     "this node's id (required with cluster.engine)", NULL},
    {"cluster.nodes", KEY_NODES, FIELD(cluster_nodes), 0, 0, NULL, "N,N,...", "none",
     "every node id of the cluster, this one included", NULL},
    {"cluster.auth_file", KEY_PATH, FIELD(cluster_auth_file), 0, 0, NULL, "FILE", "none",
     "Redis credentials: one line \"USER PASSWORD\" or \"PASSWORD\"", NULL},
    {"cluster.flush_ms", KEY_UINT, FIELD(cluster_flush_ms), 1, 10000, "milliseconds", "MS",
     "100", "send a partial batch after this long", NULL},
    {"cluster.batch_bytes", KEY_UINT, FIELD(cluster_batch_bytes), 1024, 1048576, "bytes",
     "BYTES", "16384", "largest batch of peer deltas", NULL},
    {"cluster.retention", KEY_UINT, FIELD(cluster_retention), 100, 100000000, "an entry count",
     "N", "100000", "batches kept in the own stream", NULL},
    {"cluster.outage_buffer", KEY_SIZE, FIELD(cluster_outage_buffer), 0, 1ULL << 34, "bytes",
     "BYTES", "16M", "batches kept while the engine is down (k/M/G suffix)", NULL},
    {"cluster.sync_renew", KEY_UINT, FIELD(cluster_sync_renew), 1, 86400, "seconds", "SEC",
     "600", "re-publish a known peer's announce after this long", NULL},
    {"cluster.bind", KEY_ADDR, FIELD(cluster_bind), 0, 0, NULL, "ADDR", "any",
     "source address of the engine connection", NULL},
    {"cluster.publish_rate", KEY_UINT, FIELD(cluster_publish_rate), 0, 100000000,
     "deltas per second", "N", "100000", "deltas/s published at most (0: no cap)",
     NULL},
    {"cluster.timeout_ms", KEY_UINT, FIELD(cluster_timeout_ms), 100, 60000, "milliseconds", "MS",
     "1000", "time limit of every engine call", NULL},
};
#define NKEYS (sizeof keys / sizeof keys[0])

/* Keys (opentracker's, and ours from the design) whose feature this version lacks. Refusing
 * them loudly beats starting a tracker that silently serves torrents it was told to block. */
static const char *const unsupported_keys[] = {
    "access.fifo_add", "access.fifo_delete",
};
static const char *const unsupported_prefixes[] = {"livesync.", "batchsync."};

static const struct key_def *key_find(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static bool key_unsupported(const char *name)
{
    for (size_t i = 0; i < sizeof unsupported_keys / sizeof unsupported_keys[0]; i++)
        if (strcmp(unsupported_keys[i], name) == 0)
            return true;
    for (size_t i = 0; i < sizeof unsupported_prefixes / sizeof unsupported_prefixes[0]; i++)
        if (strncmp(unsupported_prefixes[i], name, strlen(unsupported_prefixes[i])) == 0)
            return true;
    return false;
}

/* A printable, bounded copy of user input for an error message (it may hold any byte). */
static const char *shown(const char *s, char *out, size_t cap)
{
    size_t n = 0, i = 0;
    for (; s[i] && n + 4 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (s[i] && cap >= 4) {
        n = n > cap - 4 ? cap - 4 : n;
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    c->http_port = CONFIG_DEFAULT_PORT;
    c->udp_port = CONFIG_DEFAULT_PORT;
    c->workers = 0;
    c->interval = 1800;
    c->min_interval = 900;
    c->peer_timeout = 2700;
    c->numwant = 50;
    c->max_numwant = 200;
    c->scrape_max_hashes = 64;
    c->fullscrape = true;
    c->fullscrape_cache = 10;
    c->snapshot_interval = 300;
    c->http_head_max = 8192;
    c->http_idle_timeout = 30;
    c->http_max_conns = 10000;
    c->max_torrents = 5000000;
    c->max_peers_per_torrent = 200000;
    c->max_memory_mib = 2048;
    c->evict = true;
    c->http_max_conns_per_ip = 256;
    c->http_header_timeout = 10;
    c->http_max_pipeline = 32;
    c->udp_rcvbuf = 4 * 1024 * 1024;
    c->udp_sndbuf = 4 * 1024 * 1024;
    c->ws_enable = true;
    c->ws_max_conns = 10000;
    c->ws_max_torrents = 128;
    c->ws_max_queued = 256 * 1024;
    c->log_level = 2;
    memcpy(c->stats_path, "/stats", sizeof "/stats");
    memcpy(c->cluster_name, "swarmd", sizeof "swarmd");
    c->cluster_flush_ms = 100;
    c->cluster_batch_bytes = 16384;
    c->cluster_retention = 100000;
    c->cluster_outage_buffer = 16u << 20;
    c->cluster_sync_renew = 600;
    c->cluster_publish_rate = 100000;
    c->cluster_timeout_ms = 1000;
}

/* Decimal digits only: no sign, no spaces, no hex, no overflow. */
static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"on", "yes", "true", "1"};
    static const char *const no[] = {"off", "no", "false", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            *out = strcasecmp(s, yes[i]) == 0;
            return true;
        }
    }
    return false;
}

static bool parse_port(const char *s, uint16_t *out)
{
    uint64_t v;
    if (!parse_uint(s, 65535, &v))
        return false;
    *out = (uint16_t)v;
    return true;
}

static bool parse_listen(const char *s, struct listen_spec *out, enum listen_proto proto)
{
    struct listen_spec l;
    memset(&l, 0, sizeof l);
    if (!*s || !addr_parse_hostport(&l.addr, s, strlen(s), &l.has_port))
        return false;
    if (!l.has_port)
        l.addr.port = 0;
    l.proto = proto;
    *out = l;
    return true;
}

static bool add_listen(struct config *c, const struct listen_spec *l, char *msg, size_t cap)
{
    if (c->n_listen >= CONFIG_MAX_LISTEN) {
        snprintf(msg, cap, "too many listen addresses (at most %d)", CONFIG_MAX_LISTEN);
        return false;
    }
    c->listen[c->n_listen++] = *l;
    return true;
}

/* The redirect target ends up in a Location header: printable ASCII without spaces only, so
 * nothing can be smuggled into the response head. */
static bool valid_url(const char *s)
{
    if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

static void store_uint(struct config *c, const struct key_def *k, uint64_t v)
{
    char *p = (char *)c + k->off;
    switch (k->size) {
    case sizeof(uint16_t): {
        uint16_t x = (uint16_t)v;
        memcpy(p, &x, sizeof x);
        break;
    }
    case sizeof(uint32_t): {
        uint32_t x = (uint32_t)v;
        memcpy(p, &x, sizeof x);
        break;
    }
    default: {
        uint64_t x = v;
        memcpy(p, &x, sizeof x);
        break;
    }
    }
}

/* access.stats_path: a plain absolute path, so it can be compared with the request's path
 * as it arrives (no query, no escapes, nothing a head could be smuggled through). */
static bool set_stats_path(struct config *c, const char *value, char *msg, size_t cap)
{
    char v[64];
    bool ok = value[0] == '/' && strlen(value) < sizeof c->stats_path;
    for (const char *p = value; ok && *p; p++)
        ok = (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f && *p != '?' && *p != '%'
             && *p != '#';
    if (!ok) {
        snprintf(msg, cap, "invalid value '%s' (expected a path starting with '/', without "
                 "spaces, '?', '%%' or '#', shorter than %zu bytes)", shown(value, v, sizeof v),
                 sizeof c->stats_path);
        return false;
    }
    memcpy(c->stats_path, value, strlen(value) + 1);
    return true;
}

/* ---- cluster.* values ---- */

/* redis://HOST[:PORT] with HOST a DNS name, an IPv4 literal or a bracketed IPv6 literal. */
static bool set_engine(struct config *c, const char *value, char *msg, size_t cap)
{
    char v[64];
    const char *h = value + 8, *end;
    size_t hlen;
    uint16_t port = 6379;

    if (!*value) { /* an empty value turns cluster mode off again */
        c->cluster_engine[0] = c->cluster_host[0] = '\0';
        return true;
    }
    if (strncmp(value, "redis://", 8) != 0 || strlen(value) >= sizeof c->cluster_engine)
        goto bad;
    if (*h == '[') {
        end = strchr(h, ']');
        if (!end)
            goto bad;
        h++;
        hlen = (size_t)(end - h);
        end++;
    } else {
        end = h + strcspn(h, ":/");
        hlen = (size_t)(end - h);
    }
    if (hlen == 0 || hlen >= sizeof c->cluster_host)
        goto bad;
    for (size_t i = 0; i < hlen; i++) {
        char ch = h[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == ':' || ch == '_'))
            goto bad;
    }
    if (*end == ':') {
        char num[8];
        size_t plen = strcspn(end + 1, "/");
        if (plen == 0 || plen >= sizeof num)
            goto bad;
        memcpy(num, end + 1, plen);
        num[plen] = '\0';
        if (!parse_port(num, &port) || port == 0)
            goto bad;
        end += 1 + plen;
    }
    if (*end && strcmp(end, "/") != 0) /* no database number or options: one keyspace */
        goto bad;
    memcpy(c->cluster_engine, value, strlen(value) + 1);
    memcpy(c->cluster_host, h, hlen);
    c->cluster_host[hlen] = '\0';
    c->cluster_port = port;
    return true;
bad:
    snprintf(msg, cap, "invalid value '%s' (expected redis://HOST:PORT, e.g. "
             "redis://127.0.0.1:6379 or redis://[::1]:6379)", shown(value, v, sizeof v));
    return false;
}

/* Names end up inside Redis keys ("swarmd:{NAME}:d:N"): no braces, colons or spaces. */
static bool set_name(struct config *c, const char *value, char *msg, size_t cap)
{
    char v[64];
    bool ok = *value && strlen(value) < sizeof c->cluster_name;
    for (const char *p = value; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '-' || *p == '_' || *p == '.';
    if (!ok) {
        snprintf(msg, cap, "invalid value '%s' (expected letters, digits, '-', '_' or '.', "
                 "at most %zu)", shown(value, v, sizeof v), sizeof c->cluster_name - 1);
        return false;
    }
    memcpy(c->cluster_name, value, strlen(value) + 1);
    return true;
}

/* "1,2,3": distinct ids 1..65535. */
static bool set_nodes(struct config *c, const char *value, char *msg, size_t cap)
{
    char v[64], one[8];
    uint16_t ids[CONFIG_MAX_CLUSTER_NODES];
    unsigned n = 0;
    const char *p = value;

    while (*p) {
        size_t len = strcspn(p, ",");
        uint64_t id;
        if (len == 0 || len >= sizeof one)
            goto bad;
        memcpy(one, p, len);
        one[len] = '\0';
        if (!parse_uint(one, 65535, &id) || id == 0 || n == CONFIG_MAX_CLUSTER_NODES)
            goto bad;
        for (unsigned i = 0; i < n; i++)
            if (ids[i] == id)
                goto bad;
        ids[n++] = (uint16_t)id;
        p += len;
        if (*p == ',' && *++p == '\0')
            goto bad;
    }
    if (n == 0)
        goto bad;
    memcpy(c->cluster_nodes, ids, sizeof ids[0] * n);
    c->cluster_n_nodes = n;
    return true;
bad:
    snprintf(msg, cap, "invalid value '%s' (expected distinct node ids 1..65535 separated by "
             "commas, at most %d)", shown(value, v, sizeof v), CONFIG_MAX_CLUSTER_NODES);
    return false;
}

/* A byte count with an optional k, M or G suffix (powers of 1024). */
static bool set_size(struct config *c, const struct key_def *k, const char *value, char *msg,
                     size_t cap)
{
    char v[64], num[32];
    size_t len = strlen(value);
    unsigned shift = 0;
    uint64_t n;

    if (len > 0 && len < sizeof num) {
        char last = value[len - 1];
        shift = (last == 'k' || last == 'K') ? 10 : (last == 'M' || last == 'm') ? 20
              : (last == 'G' || last == 'g') ? 30 : 0;
        memcpy(num, value, len + 1);
        if (shift)
            num[len - 1] = '\0';
        if (parse_uint(num, k->max >> shift, &n) && (n << shift) >= k->min) {
            store_uint(c, k, n << shift);
            return true;
        }
    }
    snprintf(msg, cap, "invalid value '%s' (expected %s %llu..%llu, k/M/G suffix allowed)",
             shown(value, v, sizeof v), k->what, (unsigned long long)k->min,
             (unsigned long long)k->max);
    return false;
}

/* Apply value to key k; on failure a message without the key's name in msg. */
static bool set_key(struct config *c, const struct key_def *k, const char *value, char *msg,
                    size_t cap)
{
    char v[64];
    uint64_t n;
    bool b;
    struct listen_spec l;

    switch (k->kind) {
    case KEY_UINT:
        if (!parse_uint(value, k->max, &n) || n < k->min) {
            snprintf(msg, cap, "invalid value '%s' (expected %s %llu..%llu)",
                     shown(value, v, sizeof v), k->what, (unsigned long long)k->min,
                     (unsigned long long)k->max);
            return false;
        }
        store_uint(c, k, n);
        if (k->off == offsetof(struct config, min_interval))
            c->min_interval_set = true;
        if (k->off == offsetof(struct config, numwant))
            c->numwant_set = true;
        return true;
    case KEY_BOOL:
        if (!parse_bool(value, &b)) {
            snprintf(msg, cap, "invalid value '%s' (expected on or off)",
                     shown(value, v, sizeof v));
            return false;
        }
        *(bool *)((char *)c + k->off) = b;
        return true;
    case KEY_LISTEN:
        if (!parse_listen(value, &l, (enum listen_proto)k->min)) {
            snprintf(msg, cap,
                     "invalid value '%s' (expected ADDR or ADDR:PORT with a literal IPv4 or "
                     "IPv6 address, e.g. 0.0.0.0:6969 or [::]:6969)",
                     shown(value, v, sizeof v));
            return false;
        }
        return add_listen(c, &l, msg, cap);
    case KEY_URL:
        if (*value && (!valid_url(value) || strlen(value) >= k->size)) {
            snprintf(msg, cap,
                     "invalid value '%s' (expected an http:// or https:// URL of printable "
                     "characters without spaces, shorter than %zu bytes)",
                     shown(value, v, sizeof v), k->size);
            return false;
        }
        memcpy((char *)c + k->off, value, strlen(value) + 1);
        return true;
    case KEY_PATH:
        if (!*value || strlen(value) >= k->size) {
            snprintf(msg, cap, "invalid value '%s' (expected a name shorter than %zu bytes)",
                     shown(value, v, sizeof v), k->size);
            return false;
        }
        memcpy((char *)c + k->off, value, strlen(value) + 1);
        return true;
    case KEY_NETLIST: {
        struct net_prefix np;
        if (!netlist_parse_prefix(value, strlen(value), &np)) {
            snprintf(msg, cap,
                     "invalid value '%s' (expected an address or CIDR network, e.g. "
                     "10.0.0.0/8 or 2001:db8::/32)",
                     shown(value, v, sizeof v));
            return false;
        }
        if (!netlist_add((struct netlist *)((char *)c + k->off), &np)) {
            snprintf(msg, cap, "too many networks (at most %d)", NETLIST_MAX);
            return false;
        }
        return true;
    }
    case KEY_STATS_PATH:
        return set_stats_path(c, value, msg, cap);
    case KEY_ENGINE:
        return set_engine(c, value, msg, cap);
    case KEY_NAME:
        return set_name(c, value, msg, cap);
    case KEY_NODES:
        return set_nodes(c, value, msg, cap);
    case KEY_SIZE:
        return set_size(c, k, value, msg, cap);
    case KEY_ADDR: {
        struct peer_addr a;
        if (!addr_parse_ip(&a, value, strlen(value))) {
            snprintf(msg, cap, "invalid value '%s' (expected a literal IPv4 or IPv6 address)",
                     shown(value, v, sizeof v));
            return false;
        }
        c->cluster_bind = a;
        return true;
    }
    }
    return false;
}

/* Everything config_set does, with the message not yet prefixed by a location. */
static bool set_named(struct config *c, const char *key, const char *value, char *msg,
                      size_t cap)
{
    char kbuf[MAX_KEY_LEN + 4], inner[384];
    const struct key_def *k = key_find(key);
    if (!value)
        value = "";
    if (!k) {
        if (key_unsupported(key))
            snprintf(msg, cap, "%s: not supported by this version of swarmd",
                     shown(key, kbuf, sizeof kbuf));
        else
            snprintf(msg, cap, "unknown key '%s'", shown(key, kbuf, sizeof kbuf));
        return false;
    }
    if (!set_key(c, k, value, inner, sizeof inner)) {
        snprintf(msg, cap, "%s: %s", k->name, inner);
        return false;
    }
    return true;
}

bool config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
    char msg[512];
    if (set_named(c, key, value, msg, sizeof msg))
        return true;
    snprintf(err, errlen, "%s", msg);
    return false;
}

static bool is_space(char ch) { return ch == ' ' || ch == '\t'; }

/* One line without its '\n'. Returns false with a message (no location) in msg. */
static bool parse_line(struct config *c, const char *p, size_t n, char *msg, size_t cap)
{
    char key[MAX_KEY_LEN + 1], value[MAX_VALUE_LEN + 1];
    size_t i = 0, klen, vstart, vend;

    while (n > 0 && (is_space(p[n - 1]) || p[n - 1] == '\r'))
        n--;
    for (size_t j = 0; j < n; j++) {
        unsigned char ch = (unsigned char)p[j];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            snprintf(msg, cap, "invalid control character 0x%02x", ch);
            return false;
        }
    }
    while (i < n && is_space(p[i]))
        i++;
    if (i == n || p[i] == '#')
        return true;

    klen = 0;
    while (i + klen < n && !is_space(p[i + klen]))
        klen++;
    if (klen > MAX_KEY_LEN) {
        memcpy(key, p + i, MAX_KEY_LEN - 3);
        memcpy(key + MAX_KEY_LEN - 3, "...", 4);
        snprintf(msg, cap, "unknown key '%s'", key);
        return false;
    }
    memcpy(key, p + i, klen);
    key[klen] = '\0';

    vstart = i + klen;
    while (vstart < n && is_space(p[vstart]))
        vstart++;
    /* A '#' starting a word begins a comment, so "key value  # why" works. */
    vend = vstart;
    while (vend < n && !(p[vend] == '#' && (vend == vstart || is_space(p[vend - 1]))))
        vend++;
    while (vend > vstart && is_space(p[vend - 1]))
        vend--;
    if (vend - vstart > MAX_VALUE_LEN) {
        snprintf(msg, cap, "%s: value too long (at most %d bytes)", key, MAX_VALUE_LEN);
        return false;
    }
    memcpy(value, p + vstart, vend - vstart);
    value[vend - vstart] = '\0';
    return set_named(c, key, value, msg, cap);
}

bool config_parse_text(struct config *c, const char *text, size_t len, const char *fname,
                       char *err, size_t errlen)
{
    char msg[512];
    size_t pos = 0, used = 0;
    unsigned line = 0, errors = 0;

    /* Editors on some systems start UTF-8 files with a byte-order mark. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    if (errlen)
        err[0] = '\0';
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        line++;
        /* Report every bad line, one per line of err, not just the first: an operator moving
         * an opentracker config over sees all the keys to change in one go. */
        if (!parse_line(c, text + pos, end - pos, msg, sizeof msg)) {
            errors++;
            if (used < errlen) {
                int n = snprintf(err + used, errlen - used, "%s%s:%u: %s", errors > 1 ? "\n" : "",
                                 fname, line, msg);
                used += n > 0 ? (size_t)n : 0;
            }
        }
        pos = nl ? end + 1 : len;
    }
    return errors == 0;
}

bool config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
    struct stat st;
    char *text;
    size_t len = 0;
    bool ok;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return false;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        close(fd);
        return false;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > MAX_CONFIG_FILE) {
        snprintf(err, errlen, "cannot read %s: %s", path,
                 S_ISDIR(st.st_mode)   ? "is a directory"
                 : S_ISREG(st.st_mode) ? "larger than 1 MiB"
                                       : "not a regular file");
        close(fd);
        return false;
    }
    text = malloc((size_t)st.st_size + 1);
    if (!text) {
        snprintf(err, errlen, "cannot read %s: out of memory", path);
        close(fd);
        return false;
    }
    for (;;) {
        ssize_t r = read(fd, text + len, (size_t)st.st_size + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
            free(text);
            close(fd);
            return false;
        }
        if (r == 0 || (len += (size_t)r) > (size_t)st.st_size)
            break;
    }
    close(fd);
    if (len > (size_t)st.st_size) {
        snprintf(err, errlen, "cannot read %s: file changed while being read", path);
        free(text);
        return false;
    }
    ok = config_parse_text(c, text, len, path, err, errlen);
    free(text);
    return ok;
}

void config_finish(struct config *c)
{
    if (!c->min_interval_set)
        c->min_interval = c->interval / 2 ? c->interval / 2 : 1;
    if (!c->numwant_set && c->numwant > c->max_numwant)
        c->numwant = c->max_numwant;
}

static bool config_validate_cluster(const struct config *c, char *err, size_t errlen)
{
#ifndef SWARMD_HAVE_HIREDIS
    snprintf(err, errlen, "cluster.engine: this swarmd was built without hiredis (install "
             "libhiredis-dev and rebuild for cluster mode)");
    return false;
#endif
    /* Every node must accept the connection ids the others hand out, so they need one key;
     * a random key per node would make a client that moved between nodes fail. */
    if (!c->udp_secret_file[0]) {
        snprintf(err, errlen, "cluster.engine needs tracker.udp_secret_file (the UDP "
                 "connection-id key shared by every node)");
        return false;
    }
    if (c->cluster_node_id == 0) {
        snprintf(err, errlen, "cluster.engine needs cluster.node_id");
        return false;
    }
    if (c->cluster_n_nodes == 0) {
        snprintf(err, errlen, "cluster.engine needs cluster.nodes (every node id)");
        return false;
    }
    bool found = false;
    for (unsigned i = 0; i < c->cluster_n_nodes; i++)
        found = found || c->cluster_nodes[i] == c->cluster_node_id;
    if (!found) {
        snprintf(err, errlen, "cluster.node_id %u is not in cluster.nodes",
                 c->cluster_node_id);
        return false;
    }
    if (c->cluster_outage_buffer < c->cluster_batch_bytes) {
        snprintf(err, errlen, "cluster.outage_buffer (%llu) is smaller than one batch "
                 "(cluster.batch_bytes %u)", (unsigned long long)c->cluster_outage_buffer,
                 c->cluster_batch_bytes);
        return false;
    }
    return true;
}

bool config_validate(const struct config *c, char *err, size_t errlen)
{
    if (c->min_interval > c->interval) {
        snprintf(err, errlen, "tracker.min_interval (%u) is larger than tracker.interval (%u)",
                 (unsigned)c->min_interval, (unsigned)c->interval);
        return false;
    }
    if (c->numwant > c->max_numwant) {
        snprintf(err, errlen, "tracker.numwant (%u) is larger than tracker.max_numwant (%u)",
                 c->numwant, c->max_numwant);
        return false;
    }
    if (c->whitelist[0] && c->blacklist[0]) {
        snprintf(err, errlen, "access.whitelist and access.blacklist are both set (use one)");
        return false;
    }
    if (c->cluster_engine[0] && !config_validate_cluster(c, err, errlen))
        return false;
    if (c->n_listen > CONFIG_MAX_LISTEN || c->workers > CONFIG_MAX_WORKERS ||
        c->peer_timeout < 1 || c->peer_timeout > STORE_MAX_PEER_TIMEOUT ||
        c->interval < 1 || c->max_numwant > CONFIG_MAX_NUMWANT || c->scrape_max_hashes < 1 ||
        c->scrape_max_hashes > SCRAPE_MAX_HASHES || c->http_head_max < 1024 ||
        c->http_head_max > 65536) {
        snprintf(err, errlen, "a configuration value is out of range");
        return false;
    }
    return true;
}

static bool same_bind(const struct config_bind *a, const struct config_bind *b)
{
    return a->proto == b->proto && a->addr.family == b->addr.family &&
           a->addr.port == b->addr.port && memcmp(a->addr.ip, b->addr.ip, 16) == 0;
}

static void add_bind(struct config_bind *out, unsigned *n, const struct peer_addr *a,
                     uint16_t port, enum listen_proto proto, bool optional)
{
    struct config_bind b;
    memset(&b, 0, sizeof b);
    b.addr = *a;
    b.addr.port = port;
    b.proto = proto;
    b.optional = optional;
    for (unsigned i = 0; i < *n; i++)
        if (same_bind(&out[i], &b))
            return;
    if (*n < CONFIG_MAX_BINDS)
        out[(*n)++] = b;
}

unsigned config_binds(const struct config *c, struct config_bind *out)
{
    static const enum listen_proto protos[2] = {LISTEN_TCP, LISTEN_UDP};
    unsigned n = 0;
    struct peer_addr any4, any6;

    memset(&any4, 0, sizeof any4);
    memset(&any6, 0, sizeof any6);
    any4.family = ADDR_V4;
    any6.family = ADDR_V6;
    for (unsigned p = 0; p < 2; p++) {
        enum listen_proto proto = protos[p];
        uint16_t port = proto == LISTEN_TCP ? c->http_port : c->udp_port;
        if (c->n_listen == 0) {
            add_bind(out, &n, &any4, port, proto, false);
            add_bind(out, &n, &any6, port, proto, true);
            continue;
        }
        for (unsigned i = 0; i < c->n_listen && i < CONFIG_MAX_LISTEN; i++) {
            const struct listen_spec *l = &c->listen[i];
            if (l->proto & proto)
                add_bind(out, &n, &l->addr, l->has_port ? l->addr.port : port, proto, false);
        }
    }
    return n;
}

/* ---- command line ---- */

enum flag_id {
    F_CONFIG, F_LISTEN, F_HTTP_PORT, F_UDP_PORT, F_WORKERS, F_REDIRECT, F_INTERVAL,
    F_PEER_TIMEOUT, F_SET, F_QUIET, F_VERBOSE, F_HELP, F_VERSION, F_CHECK, F_UNSUPPORTED,
    F_KEY, /* --KEY[=VALUE] for any config key */
    F_WHITELIST, F_BLACKLIST, F_USER, F_ROOTDIR,
    F_STATS_NET
};

struct flag_def {
    const char *name; /* "-p" or "--peer-timeout" */
    enum flag_id id;
    bool has_arg;
    const char *arg;  /* placeholder in --help */
    const char *help; /* NULL: not shown (unsupported flags are listed separately) */
};

static const struct flag_def flags[] = {
    {"-f", F_CONFIG, true, "FILE", "read the config file FILE first (flags override it)"},
    {"--config", F_CONFIG, true, "FILE", NULL},
    {"-i", F_LISTEN, true, "ADDR[:PORT]",
     "listen on ADDR (repeatable): HTTP on the -p port, UDP on the -P\n"
     "port; replaces the file's listen.* lines (default: 0.0.0.0 and ::)"},
    {"-p", F_HTTP_PORT, true, "PORT", "HTTP (TCP) port, 0 = any free port (default 6969)"},
    {"-P", F_UDP_PORT, true, "PORT", "UDP port, 0 = any free port (default 6969)"},
    {"-t", F_WORKERS, true, "N", "worker threads (tracker.workers; default: usable CPUs)"},
    {"-r", F_REDIRECT, true, "URL", "GET / redirects to URL (tracker.redirect_url)"},
    {"--interval", F_INTERVAL, true, "SEC", "announce interval (tracker.interval; 1800)"},
    {"--peer-timeout", F_PEER_TIMEOUT, true, "SEC",
     "drop peers silent this long (tracker.peer_timeout; 2700)"},
    {"-o", F_SET, true, "KEY=VALUE",
     "set any config key (also --KEY=VALUE or --KEY VALUE)"},
    {"-q", F_QUIET, false, NULL, "log warnings and errors only"},
    {"-v", F_VERBOSE, false, NULL, "log debugging detail too"},
    {"--check-config", F_CHECK, false, NULL,
     "check the configuration, print \"configuration ok\" and exit"},
    {"-h", F_HELP, false, NULL, "print this help and exit (also --help)"},
    {"--help", F_HELP, false, NULL, NULL},
    {"--version", F_VERSION, false, NULL, "print \"swarmd " SWARMD_VERSION "\" and exit"},
    /* opentracker's flags for features this version does not have. */
    {"-w", F_WHITELIST, true, "FILE", "serve only the info-hashes in FILE (access.whitelist)"},
    {"-b", F_BLACKLIST, true, "FILE", "refuse the info-hashes in FILE (access.blacklist)"},
    {"-A", F_STATS_NET, true, "NET", "allow NET to read statistics (access.stats)"},
    {"-u", F_USER, true, "NAME", "switch to user NAME after binding (tracker.user)"},
    {"-d", F_ROOTDIR, true, "DIR", "chroot to DIR after binding (tracker.rootdir)"},
};
#define NFLAGS (sizeof flags / sizeof flags[0])

struct arg {
    const struct flag_def *flag;
    const struct key_def *key; /* F_KEY */
    char name[MAX_KEY_LEN + 4]; /* as typed, without "=value", for messages */
    const char *value;
};

/* Read the flag at argv[*i] (advancing *i past its value). 0 = done, 1 = got one, -1 = error. */
static int next_arg(int argc, char **argv, int *i, struct arg *a, char *err, size_t errlen)
{
    static const struct flag_def key_flag = {"--KEY", F_KEY, true, NULL, NULL};
    char shown_buf[80];
    const char *s, *eq;
    size_t nlen;

    if (*i >= argc)
        return 0;
    s = argv[(*i)++];
    memset(a, 0, sizeof *a);
    if (strcmp(s, "--") == 0) {
        if (*i < argc) {
            snprintf(err, errlen, "unexpected argument '%s'",
                     shown(argv[*i], shown_buf, sizeof shown_buf));
            return -1;
        }
        return 0;
    }
    if (s[0] != '-' || s[1] == '\0') {
        snprintf(err, errlen, "unexpected argument '%s'", shown(s, shown_buf, sizeof shown_buf));
        return -1;
    }
    if (s[1] == '-') {
        eq = strchr(s, '=');
        nlen = eq ? (size_t)(eq - s) : strlen(s);
        if (nlen >= sizeof a->name)
            nlen = sizeof a->name - 1;
        memcpy(a->name, s, nlen);
        a->name[nlen] = '\0';
        for (size_t f = 0; f < NFLAGS; f++)
            if (flags[f].name[1] == '-' && strcmp(flags[f].name, a->name) == 0)
                a->flag = &flags[f];
        if (!a->flag && (a->key = key_find(a->name + 2)) != NULL)
            a->flag = &key_flag;
        if (!a->flag && key_unsupported(a->name + 2)) {
            snprintf(err, errlen, "%s: not supported by this version of swarmd", a->name);
            return -1;
        }
        if (!a->flag) {
            snprintf(err, errlen, "unknown option '%s' (see --help)",
                     shown(a->name, shown_buf, sizeof shown_buf));
            return -1;
        }
        if (eq && !a->flag->has_arg) {
            snprintf(err, errlen, "%s: takes no value", a->name);
            return -1;
        }
        if (eq) {
            a->value = eq + 1;
            return 1;
        }
    } else {
        for (size_t f = 0; f < NFLAGS; f++)
            if (flags[f].name[1] == s[1] && flags[f].name[2] == '\0')
                a->flag = &flags[f];
        if (!a->flag || (!a->flag->has_arg && s[2] != '\0')) {
            snprintf(err, errlen, "unknown option '%s' (see --help)",
                     shown(s, shown_buf, sizeof shown_buf));
            return -1;
        }
        memcpy(a->name, s, 2);
        a->name[2] = '\0';
        if (a->flag->has_arg && s[2] != '\0') {
            a->value = s + 2; /* "-p80" */
            return 1;
        }
    }
    if (a->flag->has_arg) {
        if (*i >= argc) {
            snprintf(err, errlen, "%s: missing value", a->name);
            return -1;
        }
        a->value = argv[(*i)++];
    }
    return 1;
}

/* Apply one flag of the second pass; message in err names the flag. */
static bool apply_arg(struct config *c, const struct arg *a, bool *cmdline_listen, char *err,
                      size_t errlen)
{
    char msg[512], v[64];
    const char *key = NULL;
    struct listen_spec l;

    switch (a->flag->id) {
    case F_CONFIG: case F_HELP: case F_VERSION: case F_CHECK:
        return true; /* handled in the first pass */
    case F_QUIET:
        c->log_level = 1;
        return true;
    case F_VERBOSE:
        c->log_level = 3;
        return true;
    case F_HTTP_PORT:
    case F_UDP_PORT:
        if (!parse_port(a->value, a->flag->id == F_HTTP_PORT ? &c->http_port : &c->udp_port)) {
            snprintf(err, errlen, "%s: invalid value '%s' (expected a port 0..65535)", a->name,
                     shown(a->value, v, sizeof v));
            return false;
        }
        return true;
    case F_LISTEN:
        if (!parse_listen(a->value, &l, LISTEN_BOTH)) {
            snprintf(err, errlen,
                     "%s: invalid value '%s' (expected a literal IPv4 or IPv6 address, "
                     "optionally with :PORT)",
                     a->name, shown(a->value, v, sizeof v));
            return false;
        }
        if (!*cmdline_listen)
            c->n_listen = 0;
        *cmdline_listen = true;
        if (!add_listen(c, &l, msg, sizeof msg)) {
            snprintf(err, errlen, "%s: %s", a->name, msg);
            return false;
        }
        return true;
    case F_UNSUPPORTED:
        snprintf(err, errlen, "%s: not supported by this version of swarmd (%s)", a->name,
                 a->flag->arg);
        return false;
    case F_WORKERS:
        key = "tracker.workers";
        break;
    case F_REDIRECT:
        key = "tracker.redirect_url";
        break;
    case F_INTERVAL:
        key = "tracker.interval";
        break;
    case F_PEER_TIMEOUT:
        key = "tracker.peer_timeout";
        break;
    case F_STATS_NET:
        key = "access.stats";
        break;
    case F_KEY:
        key = a->key->name;
        break;
    case F_WHITELIST:
        key = "access.whitelist";
        break;
    case F_BLACKLIST:
        key = "access.blacklist";
        break;
    case F_USER:
        key = "tracker.user";
        break;
    case F_ROOTDIR:
        key = "tracker.rootdir";
        break;
    case F_SET: {
        char kbuf[MAX_KEY_LEN + 1];
        const char *eq = strchr(a->value, '=');
        size_t klen = eq ? (size_t)(eq - a->value) : 0;
        if (!eq || klen == 0 || klen > MAX_KEY_LEN) {
            snprintf(err, errlen, "%s: invalid value '%s' (expected KEY=VALUE)", a->name,
                     shown(a->value, v, sizeof v));
            return false;
        }
        memcpy(kbuf, a->value, klen);
        kbuf[klen] = '\0';
        const struct key_def *k = key_find(kbuf);
        if (k && k->kind == KEY_LISTEN) {
            if (!*cmdline_listen)
                c->n_listen = 0;
            *cmdline_listen = true;
        }
        if (!set_named(c, kbuf, eq + 1, msg, sizeof msg)) {
            snprintf(err, errlen, "%s: %s", a->name, msg);
            return false;
        }
        return true;
    }
    }
    const struct key_def *k = key_find(key);
    if (k->kind == KEY_LISTEN) {
        if (!*cmdline_listen)
            c->n_listen = 0;
        *cmdline_listen = true;
    }
    if (!set_key(c, k, a->value, msg, sizeof msg)) {
        snprintf(err, errlen, "%s: %s", a->name, msg);
        return false;
    }
    return true;
}

enum config_args_result config_parse_args(struct config *c, int argc, char **argv, char *err,
                                          size_t errlen)
{
    struct arg a;
    int i, r;
    bool cmdline_listen = false;

    config_defaults(c);
    /* Known even if an earlier argument is broken, so the exit status follows --check-config. */
    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "--check-config") == 0)
            c->check_config = true;
    /* First pass: only what must happen before anything else, so that -f and --check-config
     * work wherever they are and the file is applied before every other flag. */
    for (i = 1; (r = next_arg(argc, argv, &i, &a, err, errlen)) == 1;) {
        switch (a.flag->id) {
        case F_HELP:
            config_print_help();
            return CONFIG_ARGS_EXIT_OK;
        case F_VERSION:
            printf("swarmd %s\n", SWARMD_VERSION);
            return CONFIG_ARGS_EXIT_OK;
        case F_CHECK:
            c->check_config = true;
            break;
        case F_CONFIG:
            if (c->config_file[0]) {
                snprintf(err, errlen, "%s: only one config file may be given", a.name);
                return CONFIG_ARGS_ERROR;
            }
            if (!a.value[0] || strlen(a.value) >= sizeof c->config_file) {
                snprintf(err, errlen, "%s: invalid file name", a.name);
                return CONFIG_ARGS_ERROR;
            }
            memcpy(c->config_file, a.value, strlen(a.value) + 1);
            break;
        default:
            break;
        }
    }
    if (r < 0)
        return CONFIG_ARGS_ERROR;
    if (c->config_file[0] && !config_load_file(c, c->config_file, err, errlen))
        return CONFIG_ARGS_ERROR;
    for (i = 1; (r = next_arg(argc, argv, &i, &a, err, errlen)) == 1;)
        if (!apply_arg(c, &a, &cmdline_listen, err, errlen))
            return CONFIG_ARGS_ERROR;
    if (r < 0)
        return CONFIG_ARGS_ERROR;
    config_finish(c);
    if (!config_validate(c, err, errlen))
        return CONFIG_ARGS_ERROR;
    return CONFIG_ARGS_RUN;
}

/* ---- help ---- */

/* "  NAME ARG" padded to a column, then the help text (continuation lines indented). */
static void help_line(const char *name, const char *arg, const char *text)
{
    char left[64];
    snprintf(left, sizeof left, "%s%s%s", name, arg ? " " : "", arg ? arg : "");
    printf("  %-30s ", left);
    for (; *text; text++) {
        putchar(*text);
        if (*text == '\n')
            printf("  %-30s ", "");
    }
    putchar('\n');
}

void config_print_help(void)
{
    char text[160];

    printf("swarmd %s - a BitTorrent tracker (HTTP and UDP, IPv4 and IPv6)\n\n"
           "Usage: swarmd [options]\n\n"
           "Options (later flags override earlier ones and the config file):\n",
           SWARMD_VERSION);
    for (size_t f = 0; f < NFLAGS; f++)
        if (flags[f].help)
            help_line(flags[f].name, flags[f].arg, flags[f].help);

    printf("\nConfig file keys (\"key value\" lines, '#' starts a comment; "
           "also -o KEY=VALUE):\n");
    for (size_t k = 0; k < NKEYS; k++) {
        if (keys[k].alias_of)
            continue;
        if (keys[k].kind == KEY_UINT)
            snprintf(text, sizeof text, "%s [%s; %llu..%llu]", keys[k].help, keys[k].def,
                     (unsigned long long)keys[k].min, (unsigned long long)keys[k].max);
        else if (keys[k].def[0])
            snprintf(text, sizeof text, "%s [%s]", keys[k].help, keys[k].def);
        else
            snprintf(text, sizeof text, "%s", keys[k].help);
        help_line(keys[k].name, keys[k].arg, text);
        for (size_t j = 0; j < NKEYS; j++)
            if (keys[j].alias_of && strcmp(keys[j].alias_of, keys[k].name) == 0)
                printf("  %-30s same as %s\n", keys[j].name, keys[k].name);
    }
    printf("\n  With no listen.* entry or -i, swarmd serves HTTP and UDP on 0.0.0.0 and :: (IPv4\n"
           "  only, with a warning, where the host has no IPv6). Only listen.tcp entries: no\n"
           "  UDP is served; only listen.udp entries: no HTTP. ADDR is a literal address:\n"
           "  1.2.3.4, 1.2.3.4:80, ::1, [::1]:80.\n");
    printf("\nNot supported by this version (an error if used):\n  ");
    for (size_t k = 0; k < sizeof unsupported_keys / sizeof unsupported_keys[0]; k++)
        printf("%s%s", unsupported_keys[k],
               k + 1 < sizeof unsupported_keys / sizeof unsupported_keys[0]
                   ? (k % 5 == 4 ? ",\n  " : ", ")
                   : ",\n");
    printf("  livesync.*, batchsync.*\n");
    printf("\nSIGINT or SIGTERM stops swarmd. Exit status: 0, 1 on a start-up failure, 2 on a "
           "bad\nconfiguration (1 with --check-config).\n");
}
