/* serve_http.c - route one HTTP request and write the whole response.
 *
 * /announce and /scrape (also under any prefix, e.g. /<passkey>/announce), the full scrape,
 * the optional redirect of "/", and the plain HTTP errors. Tracker-level problems are answered
 * as HTTP 200 with a bencoded "failure reason", because clients only read bodies of 200s. */
#include "serve.h"

#include <stdlib.h>
#include <string.h>

#include "forwarded.h"
#include "proto/bencode.h"
#include "proto/http_params.h"
#include "proto/http_reply.h"
#include "proto/websocket.h"
#include "stats_http.h"
#include "tracker.h"
#include "ws_tracker.h"

static bool path_ends_with(const struct http_request *req, const char *word)
{
    size_t n = strlen(word);
    if (req->path_len < n + 1)
        return false;
    const char *tail = req->path + req->path_len - n;
    return tail[-1] == '/' && memcmp(tail, word, n) == 0;
}

/* Frame a body built in w->body: head into out, then the body after it. */
static enum http_action send_body(const struct http_request *req, struct http_out *out,
                                  int status, const struct buf *body, const char *extra)
{
    http_reply_head(&out->buf, status, NULL, body->len, req->keep_alive, extra);
    buf_put(&out->buf, body->data, body->len);
    return out->buf.overflow ? HTTP_CLOSE : HTTP_KEEP;
}

static enum http_action send_text(struct tracker_worker *w, const struct http_request *req,
                                  struct http_out *out, int status, const char *text,
                                  const char *extra)
{
    struct buf body;
    buf_init(&body, w->body, sizeof w->body);
    buf_puts(&body, text);
    buf_putc(&body, '\n');
    return send_body(req, out, status, &body, extra);
}

static enum http_action send_failure(struct tracker_worker *w, const struct http_request *req,
                                     struct http_out *out, const char *reason)
{
    struct buf body;
    buf_init(&body, w->body, sizeof w->body);
    http_reply_failure_body(&body, reason);
    stat_inc(w->stats, STAT_HTTP_FAILURE);
    return send_body(req, out, 200, &body, NULL);
}

static enum http_action do_announce(struct tracker_worker *w, const struct http_request *req,
                                    const struct peer_addr *client, struct http_out *out)
{
    struct announce_req ar;
    const char *err = http_parse_announce(req->query, req->query_len, &ar);
    struct announce_reply rep;
    const struct netlist *proxies = &w->t->cfg->proxies;
    if (!err && proxies->n && netlist_contains(proxies, client))
        forwarded_client(req, proxies, &ar.forwarded);
    if (!err)
        err = tracker_announce(w, &ar, client, TRACKER_HTTP, &rep);
    if (err)
        return send_failure(w, req, out, err);
    stat_inc(w->stats, STAT_HTTP_ANNOUNCE);

    struct buf body;
    buf_init(&body, w->body, sizeof w->body);
    http_reply_announce_body(&body, &rep, ar.compact);
    if (body.overflow)
        return send_failure(w, req, out, "reply too large, ask for fewer peers");
    return send_body(req, out, 200, &body, NULL);
}

static int cmp_hash(const void *a, const void *b) { return memcmp(a, b, INFO_HASH_LEN); }

static enum http_action do_fullscrape(struct tracker_worker *w, const struct http_request *req,
                                      struct http_out *out)
{
    if (!w->t->cfg->fullscrape)
        return send_failure(w, req, out, "full scrape disabled");
    bool gzip = req->accept_gzip;
    struct blob *b = fullscrape_get(w->t->fullscrape, gzip, w->now);
    if (!b)
        return HTTP_PENDING; /* being built off the hot path; the server asks again */
    stat_inc(w->stats, STAT_HTTP_FULLSCRAPE);
    stat_add(w->stats, STAT_HTTP_FULLSCRAPE_BYTES, b->len);
    http_reply_head(&out->buf, 200, NULL, b->len, req->keep_alive,
                    gzip ? "Content-Encoding: gzip\r\n" : NULL);
    out->body = b;
    return HTTP_KEEP;
}

static enum http_action do_scrape(struct tracker_worker *w, const struct http_request *req,
                                  struct http_out *out)
{
    struct scrape_req sr;
    const char *err = http_parse_scrape(req->query, req->query_len, w->scrape_hashes,
                                        w->t->cfg->scrape_max_hashes, &sr);
    if (err)
        return send_failure(w, req, out, err);
    if (sr.count == 0)
        return do_fullscrape(w, req, out);
    stat_inc(w->stats, STAT_HTTP_SCRAPE);

    /* Bencoded dictionaries need sorted, unique keys; torrents the access list refuses are
     * left out altogether. */
    qsort(w->scrape_hashes, sr.count, INFO_HASH_LEN, cmp_hash);
    unsigned n = 0;
    for (unsigned i = 0; i < sr.count; i++)
        if ((n == 0 || memcmp(w->scrape_hashes[n - 1], w->scrape_hashes[i], INFO_HASH_LEN)) &&
            tracker_allowed(w, w->scrape_hashes[i]))
            memmove(w->scrape_hashes[n++], w->scrape_hashes[i], INFO_HASH_LEN);
    sr.count = n;

    /* Unknown torrents are reported with zero counts rather than left out (present = NULL):
     * clients then show "0 seeders" instead of an error. */
    tracker_scrape(w, &sr, w->scrape_counts);

    struct buf body;
    buf_init(&body, w->body, sizeof w->body);
    http_reply_scrape_body(&body, (const uint8_t(*)[INFO_HASH_LEN])w->scrape_hashes,
                           w->scrape_counts, NULL, n);
    return send_body(req, out, 200, &body, NULL);
}

enum http_action serve_http(void *ctx, const struct http_request *req,
                            const struct peer_addr *client, struct http_out *out)
{
    struct tracker_worker *w = ctx;

    /* WebSocket (WebTorrent) on any path, when the WebSocket tracker runs. */
    if (w->t->ws && ws_is_upgrade(req))
        return ws_serve_upgrade(w, req, out);
    if (req->method_len != 3 || memcmp(req->method, "GET", 3) != 0) {
        stat_inc(w->stats, STAT_HTTP_BAD_METHOD);
        return send_text(w, req, out, 405, "405 method not allowed", "Allow: GET\r\n");
    }
    if (path_ends_with(req, "announce"))
        return do_announce(w, req, client, out);
    if (path_ends_with(req, "scrape"))
        return do_scrape(w, req, out);
    if (stats_http_match(w, req))
        return stats_http_serve(w, req, client, out);

    const char *redirect = w->t->cfg->redirect_url;
    if (redirect[0] && req->path_len == 1 && req->path[0] == '/') {
        char extra[sizeof w->t->cfg->redirect_url + 16];
        struct buf eb;
        buf_init(&eb, extra, sizeof extra - 1);
        buf_puts(&eb, "Location: ");
        buf_puts(&eb, redirect);
        buf_puts(&eb, "\r\n");
        extra[eb.len] = '\0';
        return send_text(w, req, out, 302, "302 found", extra);
    }
    stat_inc(w->stats, STAT_HTTP_NOT_FOUND);
    return send_text(w, req, out, 404, "404 not found", NULL);
}
