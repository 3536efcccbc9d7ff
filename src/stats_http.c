/* stats_http.c - routing and access for the statistics pages, and opentracker's /stats modes.
 *
 * The text modes copy the layouts of opentracker's stats page (as captured from Debian's
 * package in tests/golden/opentracker/), because operators' graphing scripts (MRTG style:
 * two numbers, an uptime line, a title) parse them by line; only the program name and the
 * numbers differ. Replies are built into a blob of their own: the XML and the per-worker
 * metrics can outgrow the worker's reply buffer. */
#include "stats_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "forwarded.h"
#include "metrics.h"
#include "dashboard.h"
#include "proto/http_reply.h"
#include "proto/url.h"
#include "stats_text.h"
#include "stats_top.h"

void stats_snapshot_read(const struct tracker *t, uint32_t now, struct stats_snapshot *out)
{
    memset(out, 0, sizeof *out);
    for (unsigned k = 0; k < STAT_COUNT; k++)
        out->sum[k] = stats_sum(t->stats, tracker_stat_blocks(t), (enum stat_counter)k);
    if (t->store)
        store_get_stats(t->store, &out->store);
    out->uptime = (int32_t)(now - t->started) > 0 ? now - t->started : 0;
    out->workers = t->nworkers;
}

bool stats_http_allowed(const struct config *cfg, const struct peer_addr *client)
{
    if (cfg->stats_nets.n == 0)
        return addr_is_loopback(client);
    return netlist_contains(&cfg->stats_nets, client);
}

static bool path_is(const struct http_request *req, const char *p)
{
    size_t n = strlen(p);
    return req->path_len == n && memcmp(req->path, p, n) == 0;
}

enum page { PAGE_NONE, PAGE_STATS, PAGE_METRICS, PAGE_JSON, PAGE_DASHBOARD };

static enum page page_of(const struct config *cfg, const struct http_request *req)
{
    if (path_is(req, cfg->stats_path))
        return PAGE_STATS;
    if (path_is(req, "/metrics"))
        return PAGE_METRICS;
    if (path_is(req, "/stats.json"))
        return PAGE_JSON;
    if (path_is(req, "/dashboard"))
        return PAGE_DASHBOARD;
    return PAGE_NONE;
}

bool stats_http_match(const struct tracker_worker *w, const struct http_request *req)
{
    return page_of(w->t->cfg, req) != PAGE_NONE;
}

/* ---- replies ---- */

static enum http_action send_blob(const struct http_request *req, struct http_out *out,
                                  int status, const char *ctype, struct blob *b,
                                  const char *extra)
{
    http_reply_head(&out->buf, status, ctype, b->len, req->keep_alive, extra);
    out->body = b;
    return out->buf.overflow ? HTTP_CLOSE : HTTP_KEEP;
}

static enum http_action send_small(const struct http_request *req, struct http_out *out,
                                   int status, const char *text)
{
    size_t n = strlen(text);
    http_reply_head(&out->buf, status, NULL, n, req->keep_alive, NULL);
    buf_put(&out->buf, text, n);
    return out->buf.overflow ? HTTP_CLOSE : HTTP_KEEP;
}

/* ---- opentracker's modes ---- */

static uint64_t per(uint64_t n, uint32_t secs) { return n / (secs ? secs : 1); }

/* The MRTG-style pages: two numbers, the uptime, a title line without a final newline. */
static void mrtg(struct text *t, uint64_t a, uint64_t b, uint32_t up)
{
    tprintf(t, "%llu\n%llu\n%u seconds (%u hours)\n", (unsigned long long)a,
            (unsigned long long)b, up, up / 3600);
}

static void top_text(struct text *t, const struct top_lists *tl, unsigned k)
{
    static const char hex[] = "0123456789ABCDEF";
    for (int list = 0; list < 2; list++) {
        const struct store_entry *v = list ? tl->by_seeds : tl->by_peers;
        tprintf(t, "Top %u torrents by %s:\n", k, list ? "seeds" : "peers");
        for (unsigned i = 0; i < tl->n && i < k; i++) {
            char h[2 * INFO_HASH_LEN + 1];
            for (int j = 0; j < INFO_HASH_LEN; j++) {
                h[2 * j] = hex[v[i].hash[j] >> 4];
                h[2 * j + 1] = hex[v[i].hash[j] & 15];
            }
            h[2 * INFO_HASH_LEN] = '\0';
            uint64_t n = list ? v[i].c.seeders : (uint64_t)v[i].c.seeders + v[i].c.leechers;
            tprintf(t, "\t%llu\t%s\n", (unsigned long long)n, h);
        }
    }
}

/* opentracker's debug section: a histogram of re-announce intervals in minutes, 0..44. swarmd
 * does not keep it (it would cost a counter per announce for a debugging aid), so the
 * layout is there with zeros. */
#define RENEW_BUCKETS 45

static void everything_xml(struct text *t, const struct stats_snapshot *s, uint32_t tracker_id,
                           struct cluster *cl)
{
    const uint64_t *c = s->sum;
    uint64_t udp = c[STAT_UDP_CONNECT] + c[STAT_UDP_ANNOUNCE] + c[STAT_UDP_SCRAPE] +
                   c[STAT_UDP_MALFORMED];
    tprintf(t, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<stats>\n");
    tprintf(t, "  <tracker_id>%u</tracker_id>\n", tracker_id);
    tprintf(t, "  <version>\nswarmd %s\n  </version>\n", SWARMD_VERSION);
    tprintf(t, "  <uptime>%u</uptime>\n", s->uptime);
    tprintf(t, "  <torrents>\n    <count_mutex>%llu</count_mutex>\n"
               "    <count_iterator>%llu</count_iterator>\n  </torrents>\n",
            (unsigned long long)s->store.torrents, (unsigned long long)s->store.torrents);
    tprintf(t, "  <peers>\n    <count>%llu</count>\n  </peers>\n",
            (unsigned long long)(s->store.peers4 + s->store.peers6 + s->store.peers_ws));
    tprintf(t, "  <seeds>\n    <count>%llu</count>\n  </seeds>\n",
            (unsigned long long)s->store.seeders);
    tprintf(t, "  <completed>\n    <count>%llu</count>\n  </completed>\n",
            (unsigned long long)c[STAT_COMPLETED]);
    tprintf(t, "  <connections>\n    <tcp>\n      <accept>%llu</accept>\n"
               "      <announce>%llu</announce>\n      <scrape>%llu</scrape>\n    </tcp>\n",
            (unsigned long long)c[STAT_HTTP_CONN_ACCEPTED],
            (unsigned long long)c[STAT_HTTP_ANNOUNCE],
            (unsigned long long)(c[STAT_HTTP_SCRAPE] + c[STAT_HTTP_FULLSCRAPE]));
    tprintf(t, "    <udp>\n      <overall>%llu</overall>\n      <connect>%llu</connect>\n"
               "      <announce>%llu</announce>\n      <scrape>%llu</scrape>\n"
               "      <missmatch>%llu</missmatch>\n    </udp>\n",
            (unsigned long long)udp, (unsigned long long)c[STAT_UDP_CONNECT],
            (unsigned long long)c[STAT_UDP_ANNOUNCE], (unsigned long long)c[STAT_UDP_SCRAPE],
            (unsigned long long)c[STAT_UDP_BAD_CONNID]);
    tprintf(t, "    <livesync>\n      <count>0</count>\n    </livesync>\n  </connections>\n");
    tprintf(t, "  <debug>\n    <renew>\n");
    for (int i = 0; i < RENEW_BUCKETS; i++)
        tprintf(t, "      <count interval=\"%02d\">0</count>\n", i);
    tprintf(t, "    </renew>\n    <http_error>\n");
    const struct {
        const char *name;
        uint64_t n;
    } herr[] = {
        {"302 Redirect", 0},
        {"400 Parse Error", c[STAT_HTTP_BAD_REQUEST]},
        {"400 Invalid Parameter", c[STAT_HTTP_FAILURE]},
        {"400 Invalid Parameter (compact=0)", 0},
        {"400 Not Modest", 0},
        {"402 Payment Required", 0},
        {"403 Access Denied", c[STAT_HTTP_STATS_DENIED]},
        {"404 Not found", c[STAT_HTTP_NOT_FOUND]},
        {"500 Internal Server Error", 0},
    };
    for (size_t i = 0; i < sizeof herr / sizeof herr[0]; i++)
        tprintf(t, "      <count code=\"%s\">%llu</count>\n", herr[i].name,
                (unsigned long long)herr[i].n);
    tprintf(t, "    </http_error>\n    <mutex_stall>\n      <count>0</count>\n"
               "    </mutex_stall>\n  </debug>\n");
    if (cl) { /* cluster mode: the mode=cluster lines (metric names, labels with quotes) */
        tprintf(t, "  <cluster><![CDATA[\n");
        cluster_render(cl, t, false);
        tprintf(t, "]]></cluster>\n");
    }
    tprintf(t, "</stats>");
}

/* The value of query parameter name (still encoded; these values are plain words). */
static bool query_get(const struct http_request *req, const char *name, const char **v,
                      size_t *vlen)
{
    struct query_iter it;
    const char *k;
    size_t klen;
    query_iter_init(&it, req->query ? req->query : "", req->query ? req->query_len : 0);
    while (query_next(&it, &k, &klen, v, vlen))
        if (url_key_is(k, klen, name))
            return true;
    return false;
}

static bool word_is(const char *v, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(v, w, n) == 0;
}

static enum http_action serve_tpbs(struct tracker_worker *w, const struct http_request *req,
                                   struct http_out *out)
{
    static const char *const names[TPBS_NFORMATS] = {"bin", "url", "txt", "txtp"};
    const char *v;
    size_t n;
    if (!query_get(req, "format", &v, &n))
        return send_small(req, out, 400, "mode=tpbs needs format=bin|ben|url|txt|txtp\n");
    if (word_is(v, n, "ben")) {
        /* The same bytes as the full scrape: reuse its background build and cache. */
        bool gzip = req->accept_gzip;
        struct blob *b = fullscrape_get(w->t->fullscrape, gzip, w->now);
        if (!b)
            return HTTP_PENDING;
        return send_blob(req, out, 200, NULL, b, gzip ? "Content-Encoding: gzip\r\n" : NULL);
    }
    for (int f = 0; f < TPBS_NFORMATS; f++) {
        if (!word_is(v, n, names[f]))
            continue;
        bool oom;
        struct blob *b = stats_tpbs_get(w->t->store, (enum tpbs_format)f, w->now, &oom);
        if (!b)
            return oom ? send_small(req, out, 503, "out of memory, try again later\n")
                       : HTTP_PENDING;
        return send_blob(req, out, 200, f == TPBS_BIN ? "application/octet-stream" : NULL,
                         b, NULL);
    }
    return send_small(req, out, 400, "unknown tpbs format (bin, ben, url, txt, txtp)\n");
}

static enum http_action serve_stats(struct tracker_worker *w, const struct http_request *req,
                                    struct http_out *out)
{
    const char *mode = "peer";
    size_t mlen = 4;
    query_get(req, "mode", &mode, &mlen);
    if (word_is(mode, mlen, "tpbs"))
        return serve_tpbs(w, req, out);

    struct stats_snapshot s;
    stats_snapshot_read(w->t, w->now, &s);
    const uint64_t *c = s.sum;
    uint32_t up = s.uptime;
    uint64_t peers = s.store.peers4 + s.store.peers6 + s.store.peers_ws;
    uint64_t udp_all = c[STAT_UDP_CONNECT] + c[STAT_UDP_ANNOUNCE] + c[STAT_UDP_SCRAPE] +
                       c[STAT_UDP_MALFORMED];
    uint64_t udp_ok = c[STAT_UDP_ANNOUNCE] + c[STAT_UDP_SCRAPE];
    const char *ctype = NULL;
    struct text t;
    struct top_lists *tl = NULL;

    text_init(&t, 8192);
    if (word_is(mode, mlen, "peer")) {
        tprintf(&t, "%llu\n%llu\nswarmd serving %llu torrents\nswarmd",
                (unsigned long long)peers, (unsigned long long)s.store.seeders,
                (unsigned long long)s.store.torrents);
    } else if (word_is(mode, mlen, "torr")) {
        tprintf(&t, "%llu\n0\nswarmd serving %llu torrents\nswarmd",
                (unsigned long long)s.store.torrents, (unsigned long long)s.store.torrents);
    } else if (word_is(mode, mlen, "conn")) {
        uint64_t all = c[STAT_HTTP_CONN_ACCEPTED] + udp_all;
        uint64_t ok = c[STAT_HTTP_ANNOUNCE] + c[STAT_UDP_ANNOUNCE];
        mrtg(&t, all, ok, up);
        tprintf(&t, "swarmd connections, %llu conns/s :: %llu success/s.",
                (unsigned long long)per(all, up), (unsigned long long)per(ok, up));
    } else if (word_is(mode, mlen, "scrp")) {
        uint64_t tcp = c[STAT_HTTP_SCRAPE] + c[STAT_HTTP_FULLSCRAPE];
        mrtg(&t, tcp, c[STAT_UDP_SCRAPE], up);
        tprintf(&t, "swarmd scrape stats, %llu scrape/s (tcp and udp)",
                (unsigned long long)per(tcp + c[STAT_UDP_SCRAPE], up));
    } else if (word_is(mode, mlen, "udp4")) {
        mrtg(&t, udp_all, udp_ok, up);
        tprintf(&t, "swarmd udp4 stats, %llu conns/s :: %llu success/s.",
                (unsigned long long)per(udp_all, up), (unsigned long long)per(udp_ok, up));
    } else if (word_is(mode, mlen, "tcp4")) {
        uint64_t acc = c[STAT_HTTP_CONN_ACCEPTED];
        uint64_t ok = c[STAT_HTTP_ANNOUNCE] + c[STAT_HTTP_SCRAPE] + c[STAT_HTTP_FULLSCRAPE];
        mrtg(&t, acc, ok, up);
        tprintf(&t, "swarmd tcp4 stats, %llu conns/s :: %llu success/s.",
                (unsigned long long)per(acc, up), (unsigned long long)per(ok, up));
    } else if (word_is(mode, mlen, "fscr")) {
        mrtg(&t, c[STAT_HTTP_FULLSCRAPE], c[STAT_HTTP_FULLSCRAPE_BYTES], up);
        tprintf(&t, "swarmd full scrape stats, %llu conns/s :: %llu bytes/s.",
                (unsigned long long)per(c[STAT_HTTP_FULLSCRAPE], up),
                (unsigned long long)per(c[STAT_HTTP_FULLSCRAPE_BYTES], up));
    } else if (word_is(mode, mlen, "completed")) {
        mrtg(&t, c[STAT_COMPLETED], 0, up);
        tprintf(&t, "swarmd, %llu completed/h.",
                (unsigned long long)(c[STAT_COMPLETED] * 3600 / (up ? up : 1)));
    } else if (word_is(mode, mlen, "herr")) {
        tprintf(&t, "302 RED 0\n400 ... %llu\n400 PAR %llu\n400 COM 0\n403 IP  %llu\n"
                    "404 INV %llu\n500 SRV 0\n",
                (unsigned long long)c[STAT_HTTP_BAD_REQUEST],
                (unsigned long long)c[STAT_HTTP_FAILURE],
                (unsigned long long)c[STAT_HTTP_STATS_DENIED],
                (unsigned long long)c[STAT_HTTP_NOT_FOUND]);
    } else if (word_is(mode, mlen, "renew")) {
        for (int i = 0; i < RENEW_BUCKETS; i++)
            tprintf(&t, "%02d 0\n", i);
    } else if (word_is(mode, mlen, "version")) {
        tprintf(&t, "swarmd %s\n", SWARMD_VERSION);
    } else if (word_is(mode, mlen, "top10") || word_is(mode, mlen, "top100")) {
        tl = malloc(sizeof *tl);
        if (!tl) {
            blob_unref(t.b);
            return send_small(req, out, 503, "out of memory, try again later\n");
        }
        if (!stats_top_get(w->t->store, w->now, tl)) {
            free(tl);
            blob_unref(t.b);
            return HTTP_PENDING;
        }
        top_text(&t, tl, mlen == 5 ? 10 : 100);
        free(tl);
    } else if (word_is(mode, mlen, "cluster") && w->t->cluster) {
        cluster_render(w->t->cluster, &t, false);
    } else if (word_is(mode, mlen, "everything")) {
        /* opentracker's tracker_id is a random number chosen at start; ours is derived from
         * the start time, which is as unique between restarts and needs no state. */
        everything_xml(&t, &s, w->t->started * 2654435761u, w->t->cluster);
        ctype = "text/xml";
    } else {
        blob_unref(t.b);
        return send_small(req, out, 400,
                          "unknown mode (peer, torr, conn, scrp, udp4, tcp4, fscr, completed, "
                          "herr, renew, version, top10, top100, everything, tpbs, cluster)\n");
    }
    struct blob *b = text_done(&t);
    if (!b)
        return send_small(req, out, 503, "out of memory, try again later\n");
    return send_blob(req, out, 200, ctype, b, NULL);
}

enum http_action stats_http_serve(struct tracker_worker *w, const struct http_request *req,
                                  const struct peer_addr *client, struct http_out *out)
{
    /* Behind a trusted reverse proxy on this host every client would look like loopback:
     * judge the client the proxy names instead (and refuse when it names none). */
    const struct netlist *proxies = &w->t->cfg->proxies;
    struct peer_addr fwd;
    bool via_proxy = proxies->n && netlist_contains(proxies, client);
    if (via_proxy && forwarded_client(req, proxies, &fwd))
        client = &fwd;
    else if (via_proxy)
        client = NULL;
    if (!client || !stats_http_allowed(w->t->cfg, client)) {
        stat_inc(w->stats, STAT_HTTP_STATS_DENIED);
        return send_small(req, out, 403, "403 forbidden\n");
    }
    stat_inc(w->stats, STAT_HTTP_STATS);
    struct blob *b = NULL;
    switch (page_of(w->t->cfg, req)) {
    case PAGE_STATS:
        return serve_stats(w, req, out);
    case PAGE_METRICS: {
        struct stats_snapshot s;
        stats_snapshot_read(w->t, w->now, &s);
        b = metrics_render(w->t, &s);
        if (!b)
            break;
        return send_blob(req, out, 200, "text/plain; version=0.0.4; charset=utf-8", b, NULL);
    }
    case PAGE_JSON: {
        struct top_lists *tl = malloc(sizeof *tl);
        if (!tl)
            break;
        if (!stats_top_get(w->t->store, w->now, tl)) {
            free(tl);
            return HTTP_PENDING;
        }
        struct stats_snapshot s;
        stats_snapshot_read(w->t, w->now, &s);
        b = dashboard_json(&s, tl, w->now);
        free(tl);
        if (!b)
            break;
        return send_blob(req, out, 200, "application/json", b,
                         "Cache-Control: no-store\r\n");
    }
    case PAGE_DASHBOARD:
        b = dashboard_page();
        if (!b)
            break;
        return send_blob(req, out, 200, "text/html; charset=utf-8", b, NULL);
    case PAGE_NONE:
        return send_small(req, out, 404, "404 not found\n");
    }
    return send_small(req, out, 503, "out of memory, try again later\n");
}
