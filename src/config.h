/* config.h - run-time configuration: defaults, command-line flags and the config file.
 *
 * Precedence: built-in defaults < config file (-f) < command-line flags. Parsing is pure
 * (text in, struct out, error message naming the flag or "file:line" out); nothing here opens
 * sockets or files except config_load_file reading the file. The struct is read-only once the
 * workers start. */
#ifndef SWARMD_CONFIG_H
#define SWARMD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"
#include "util/netlist.h"

#define CONFIG_MAX_LISTEN 32
#define CONFIG_MAX_NUMWANT 1000
#define CONFIG_DEFAULT_PORT 6969
#define CONFIG_MAX_WORKERS 1024
/* Concrete sockets to bind: every listen entry expanded per protocol (see config_binds). */
#define CONFIG_MAX_BINDS (2 * CONFIG_MAX_LISTEN)

#define CONFIG_MAX_CLUSTER_NODES 64

#define SWARMD_VERSION "0.1.0"

enum listen_proto { LISTEN_TCP = 1, LISTEN_UDP = 2, LISTEN_BOTH = 3 };

struct listen_spec {
    struct peer_addr addr; /* port 0 with has_port false: use http_port / udp_port */
    bool has_port;
    enum listen_proto proto;
};

struct config {
    /* listen.* / -i / -p / -P. No entry at all: 0.0.0.0 and :: on both ports. */
    struct listen_spec listen[CONFIG_MAX_LISTEN];
    unsigned n_listen;
    uint16_t http_port, udp_port;     /* 6969, 6969 */

    unsigned workers;                 /* tracker.workers / listen.udp.workers / -t; 0 = CPUs */
    uint32_t interval, min_interval;  /* 1800, 900 */
    uint32_t peer_timeout;            /* 2700 */
    unsigned numwant, max_numwant;    /* 50, 200 */
    unsigned scrape_max_hashes;       /* tracker.scrape_max_hashes: 64 */
    bool fullscrape;                  /* tracker.fullscrape: on */
    unsigned fullscrape_cache;        /* tracker.fullscrape_cache SEC: 10 */
    char redirect_url[512];           /* tracker.redirect_url: "" = none */
    char statefile[512];              /* tracker.statefile: "" = none */
    unsigned snapshot_interval;       /* tracker.snapshot_interval SEC: 300 */

    size_t http_head_max;             /* http.head_max: 8192 */
    unsigned http_idle_timeout;       /* http.idle_timeout SEC: 30 */
    unsigned http_max_conns;          /* http.max_connections (total): 10000 */

    /* Resource caps (issue 4). 0 = no cap where the range allows it. */
    uint64_t max_torrents;            /* tracker.max_torrents: 5000000 */
    unsigned max_peers_per_torrent;   /* tracker.max_peers_per_torrent: 200000 */
    unsigned max_memory_mib;          /* tracker.max_memory MiB (store budget): 2048 */
    bool evict;                       /* tracker.evict: on (new torrents evict at a cap) */
    bool enforce_min_interval;        /* tracker.enforce_min_interval: off */
    unsigned http_max_conns_per_ip;   /* http.max_connections_per_ip: 256 */
    unsigned http_header_timeout;     /* http.header_timeout SEC: 10 */
    unsigned http_max_pipeline;       /* http.max_pipeline (per loop turn): 32 */
    unsigned udp_rcvbuf, udp_sndbuf;  /* udp.rcvbuf / udp.sndbuf bytes: 4 MiB, 4 MiB */

    /* WebSocket tracker (issue 10): WebTorrent peers on the HTTP port. */
    bool ws_enable;                   /* websocket.enable: on */
    unsigned ws_max_conns;            /* websocket.max_connections: 10000 */
    unsigned ws_max_torrents;         /* websocket.max_torrents (per connection): 128 */
    unsigned ws_max_queued;           /* websocket.max_queued_bytes (per connection): 256 KiB */

    /* Operating it for real (issue 6): access list, trusted proxies, privilege drop. Paths
     * are used after the chroot to tracker.rootdir, so they are relative to it. */
    char whitelist[512];              /* access.whitelist / -w: "" = none */
    char blacklist[512];              /* access.blacklist / -b: "" = none */
    struct netlist proxies;           /* access.proxy NET (repeatable): X-Forwarded-For, ip= */
    bool trust_ip_param;              /* access.trust_ip_param: honour ip= from anyone */
    char user[64];                    /* tracker.user / -u: "" = stay as started */
    char rootdir[512];                /* tracker.rootdir / -d: "" = no chroot */
    char udp_secret_file[512];        /* tracker.udp_secret_file: "" = random key */

    /* access.stats / -A: who may read /stats, /metrics, /dashboard; empty = loopback only. */
    struct netlist stats_nets;
    char stats_path[128];             /* access.stats_path: "/stats" */
    bool log_syslog;                  /* log.syslog: off */

    /* Cluster mode (issue 9, docs/cluster.md): off unless cluster.engine is set. */
    char cluster_engine[300];         /* cluster.engine redis://HOST:PORT as given: "" = off */
    char cluster_host[256];           /* HOST from it (literal address or DNS name) */
    uint16_t cluster_port;            /* PORT from it (6379 when omitted) */
    char cluster_name[64];            /* cluster.name: "swarmd" */
    unsigned cluster_node_id;         /* cluster.node_id 1..65535 (required with an engine) */
    uint16_t cluster_nodes[CONFIG_MAX_CLUSTER_NODES]; /* cluster.nodes 1,2,3 */
    unsigned cluster_n_nodes;
    char cluster_auth_file[512];      /* cluster.auth_file: "" = no AUTH */
    unsigned cluster_flush_ms;        /* cluster.flush_ms: 100 */
    unsigned cluster_batch_bytes;     /* cluster.batch_bytes: 16384 */
    unsigned cluster_retention;       /* cluster.retention (stream entries): 100000 */
    uint64_t cluster_outage_buffer;   /* cluster.outage_buffer bytes: 16 MiB */
    unsigned cluster_sync_renew;      /* cluster.sync_renew SEC: 600 */
    struct peer_addr cluster_bind;    /* cluster.bind ADDR: family 0 = any */
    unsigned cluster_publish_rate;    /* cluster.publish_rate deltas/s: 100000 (0 = no cap) */
    unsigned cluster_timeout_ms;      /* cluster.timeout_ms: 1000 */

    int log_level;                    /* -q / -v: 1 warn, 2 info (default), 3 debug */
    char config_file[512];            /* -f */
    bool check_config;                /* --check-config */

    /* Internal to config.c: whether a value was given explicitly, so config_finish can
     * derive the ones that were not (min_interval = interval / 2, numwant <= max_numwant). */
    bool min_interval_set, numwant_set;
};

/* One socket to bind: address with its final port, and exactly one protocol. */
struct config_bind {
    struct peer_addr addr;   /* port resolved: the entry's own, else http_port / udp_port */
    enum listen_proto proto; /* LISTEN_TCP or LISTEN_UDP */
    bool optional;           /* a built-in default (::) that may fail on a host without IPv6 */
};

void config_defaults(struct config *c);

/* Apply one "key value" setting (value may be empty). false + err on unknown key/bad value. */
bool config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);

/* Parse a config file's text: "key value" lines, '#' comments, blank lines. Every bad line
 * is reported, one "FILE:LINE: message" per line of err (cut at errlen); the good lines are
 * still applied, but the result is false if any line was bad. */
bool config_parse_text(struct config *c, const char *text, size_t len, const char *fname,
                       char *err, size_t errlen);

enum config_args_result { CONFIG_ARGS_RUN, CONFIG_ARGS_EXIT_OK, CONFIG_ARGS_ERROR };
/* Parse argv: starts from config_defaults, reads the -f file (wherever -f stands), applies
 * the other flags over it, then config_finish and config_validate. -i (and listen.* given by
 * -o / --KEY) replace the file's listen entries; -p / -P set the ports of entries without
 * one. --help and --version print to stdout and return CONFIG_ARGS_EXIT_OK; --check-config
 * only sets check_config (main prints "configuration ok"), and is set even when an error
 * follows, so that main can choose the exit status. */
enum config_args_result config_parse_args(struct config *c, int argc, char **argv, char *err,
                                          size_t errlen);

/* Read and parse a config file (at most 1 MiB). Errors are "FILE:LINE: message" or
 * "cannot read FILE: reason". */
bool config_load_file(struct config *c, const char *path, char *err, size_t errlen);

/* Fill in values derived from others when they were not set explicitly: min_interval defaults
 * to interval / 2, numwant is lowered to max_numwant. config_parse_args calls it. */
void config_finish(struct config *c);

/* Check cross-field consistency after everything is applied (e.g. min_interval <= interval). */
bool config_validate(const struct config *c, char *err, size_t errlen);

/* Expand the listen entries into the sockets to bind, TCP ones first; duplicates are dropped.
 * No entry at all gives 0.0.0.0 and :: (optional) for TCP on http_port and UDP on udp_port.
 * Returns the count (at most CONFIG_MAX_BINDS). */
unsigned config_binds(const struct config *c, struct config_bind *out);

void config_print_help(void);

#endif
