/* tracker.c - announce and scrape policy between the protocol codecs and the store.
 *
 * Everything a tracker operator would call "policy" lives here: which address counts for a
 * peer, how many peers a reply may carry per protocol, which address families it carries,
 * and the announce interval with jitter. The codecs never see the store and the store never
 * sees a protocol. */
#include "tracker.h"

#include <string.h>
#include <time.h>

#include "caps.h"
#include "cluster/cluster.h"
#include "proto/udp.h"
#include "util/clock.h"
#include "util/rng.h"
#include "ws_tracker.h"

bool tracker_init(struct tracker *t, const struct config *cfg, store_t *store,
                  struct fullscrape *fs, struct worker_stats *stats, unsigned nworkers)
{
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    t->store = store;
    t->fullscrape = fs;
    t->stats = stats;
    t->nworkers = nworkers;
    t->started = clock_now();
    return udp_secret_init_random(&t->connid);
}

void tracker_worker_init(struct tracker_worker *w, struct tracker *t, unsigned id)
{
    memset(w, 0, sizeof *w);
    w->t = t;
    w->id = id;
    w->stats = &t->stats[id];
    w->now = clock_now();
    w->unix_now = (uint32_t)time(NULL);
    if (!rng_os_bytes(&w->rng, sizeof w->rng))
        w->rng = (uint64_t)id * 0x9e3779b97f4a7c15ULL ^ (uint64_t)clock_now_ms();
}

/* Spread re-announces over +-5% of the interval so that a tracker restart, or a crowd that
 * joined together, does not come back as one wave every interval. */
static uint32_t jittered(struct tracker_worker *w, uint32_t interval)
{
    uint32_t spread = interval / 10;
    if (spread == 0)
        return interval;
    return interval - spread / 2 + rng_below(&w->rng, spread + 1);
}

/* The address that counts for the peer. Normally the packet's or connection's source:
 * client-claimed addresses (ip=, ipv4=, ipv6=, the UDP ip field) are spoofable, and a tracker
 * that believed them could be told to send a swarm to any victim. A connection from a
 * trusted proxy (access.proxy) speaks for its client: its forwarded address counts, else the
 * ip= it passes on. access.trust_ip_param extends ip= to everyone (closed networks). A UDP
 * reply carries only the source's family, so there only a same-family claim is taken. */
static struct peer_addr peer_address(const struct config *cfg, const struct announce_req *req,
                                     const struct peer_addr *src, enum tracker_proto proto)
{
    bool proxy = cfg->proxies.n > 0 && netlist_contains(&cfg->proxies, src);
    const struct peer_addr *own = src->family == ADDR_V4 ? &req->claimed4 : &req->claimed6;
    const struct peer_addr *other = src->family == ADDR_V4 ? &req->claimed6 : &req->claimed4;

    if (proxy && req->forwarded.family)
        return req->forwarded;
    if (proxy || cfg->trust_ip_param) {
        if (own->family)
            return *own;
        if (other->family && proto == TRACKER_HTTP)
            return *other;
    }
    return *src;
}

bool tracker_allowed(struct tracker_worker *w, const uint8_t *info_hash)
{
    return access_ctl_allowed(w->t->access, info_hash);
}

const char *tracker_announce(struct tracker_worker *w, const struct announce_req *req,
                             const struct peer_addr *src, enum tracker_proto proto,
                             struct announce_reply *out)
{
    const struct config *cfg = w->t->cfg;

    if (req->port == 0 && req->event != EVENT_STOPPED)
        return "invalid port";
    if (!access_ctl_allowed(w->t->access, req->info_hash))
        return "torrent not allowed";

    struct store_announce_in in = {
        .info_hash = req->info_hash,
        .peer = peer_address(cfg, req, src, proto),
        .seeder = req->left == 0,
        .event = req->event,
        .now = w->now,
        .out4 = w->peers4,
        .out6 = w->peers6,
        .rng = &w->rng,
    };
    in.peer.port = req->port;

    unsigned numwant = req->numwant < 0 ? cfg->numwant : (unsigned)req->numwant;
    if (numwant > cfg->max_numwant)
        numwant = cfg->max_numwant;
    if (proto == TRACKER_UDP) {
        /* A UDP reply carries only the request's family (BEP 15 has one peer format per
         * address family) and must fit one unfragmented packet. */
        unsigned cap = src->family == ADDR_V4 ? UDP_MAX_PEERS4 : UDP_MAX_PEERS6;
        if (numwant > cap)
            numwant = cap;
        in.both_families = false;
    } else {
        /* HTTP replies have peers and peers6 side by side: dual-stack clients get both. */
        in.both_families = true;
    }
    in.numwant = numwant;
    /* Announce-rate enforcement: well inside min interval is "far more often". */
    if (cfg->enforce_min_interval)
        in.min_age = cfg->min_interval / 2 ? cfg->min_interval / 2 : 1;

    if (w->t->cluster)
        in.publish_renew = cluster_renew(w->t->cluster);

    struct store_announce_out res;
    if (!store_announce(w->t->store, &in, &res))
        return "tracker out of memory";
    if (res.publish)
        cluster_publish(w->t->cluster, w->id, req->info_hash, &in.peer,
                        req->event == EVENT_STOPPED, in.seeder, res.completed_counted);
    if (res.refused) {
        caps_note_refusal(w, res.refused);
        return caps_reason(res.refused);
    }
    if (res.evicted)
        caps_note_eviction(w, res.evicted);
    if (res.throttled)
        stat_inc(w->stats, STAT_ANNOUNCE_THROTTLED); /* counts only: res has no peers */
    if (req->event == EVENT_COMPLETED)
        stat_inc(w->stats, STAT_COMPLETED);

    out->counts = res.counts;
    out->interval = jittered(w, cfg->interval);
    out->min_interval = cfg->min_interval;
    out->peers4 = w->peers4;
    out->n4 = res.n4;
    out->peers6 = w->peers6;
    out->n6 = res.n6;
    return NULL;
}

void tracker_prefetch(struct tracker_worker *w, const uint8_t *const *info_hashes, unsigned n)
{
    store_prefetch(w->t->store, info_hashes, n);
}

void tracker_scrape(struct tracker_worker *w, const struct scrape_req *req,
                    struct swarm_counts *counts)
{
    for (unsigned i = 0; i < req->count; i++) {
        if (access_ctl_allowed(w->t->access, req->hashes[i])) {
            store_scrape(w->t->store, req->hashes[i], &counts[i]);
        } else {
            /* Not served here: nothing to tell, not even whether we know it. */
            memset(&counts[i], 0, sizeof counts[i]);
        }
    }
}
