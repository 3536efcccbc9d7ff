/* ws_tracker.c - WebSocket connections, WebSocket swarms and the offer/answer relay.
 *
 * Threads: everything below runs on the module's own thread except ws_tracker_adopt (queue
 * under hand_lock, then one byte into a pipe to wake the loop). The swarm table here is the
 * relay index (who is connected where) and only this thread touches it; the numbers of
 * WebSocket seeders and leechers, and completions, go to the torrent's entry in the store
 * (store_ws_update) as they change, so that everything counting torrents counts them and
 * the caps refuse a new swarm here like any other.
 *
 * A connection costs its struct plus a small member array; input is read into one
 * thread-wide buffer and only an incomplete frame is kept per connection, so an idle peer
 * holds no buffers. Output is only queued while events are handled and each connection's
 * queue goes out in one send at the end of the loop turn (ws_flush, the loop's flush hook):
 * under load a peer gets several offers per turn, and one send per message was most of the
 * cost (loopback TCP work per segment). Connections that must go while a relay loop may
 * still be walking a swarm are only marked (conn_kill) and freed at the end of the event
 * (reap). */
#include "ws_tracker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/conn_limit.h"
#include "net/loop.h"
#include "proto/websocket.h"
#include "proto/ws_json.h"
#include "stats.h"
#include "caps.h"
#include "store/store.h"
#include "tracker.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/rng.h"
#include "util/siphash.h"
#include "worker.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

#define WS_TICK_MS 100
#define WS_DRAIN_TICK_MS 5 /* while draining: stop soon after the last connection closes */
#define WS_STRIPES 16
#define WS_RBUF_CAP (WS_MAX_MESSAGE + WS_FRAME_HEADER_MAX + 16384)
#define WS_OUT_CAP (WS_MAX_MESSAGE + 1024) /* one reply; relayed messages are smaller */
/* Queued output past this is sent before the end of the turn, to bound the memory a busy
 * turn holds (and so that max_queued counts what the kernel refuses, not one turn's batch). */
#define WS_FLUSH_AT 65536
#define WS_READS_PER_EVENT 4 /* reads per readable event while each one fills the buffer */

struct ws_conn;
struct ws_swarm;

/* One peer in one swarm. */
struct ws_member {
    struct ws_swarm *sw;
    struct ws_conn *conn;
    uint32_t idx; /* position in sw->members */
    bool seeder;
    uint8_t peer_id[PEER_ID_LEN];
};

struct ws_swarm {
    uint8_t hash[INFO_HASH_LEN];
    struct ws_swarm *next; /* bucket chain */
    struct ws_member **members;
    uint32_t n, cap;
};

struct ws_stripe {
    struct ws_swarm **buckets;
    size_t nbuckets;
    size_t nswarms;
};

struct ws_conn {
    struct loop_watch watch;
    struct ws_tracker *ws;
    struct ws_conn *prev, *next; /* all connections, or the dead list */
    uint64_t last_ms;            /* last frame received */
    bool dead, closing;
    bool in_msg;                 /* a fragmented message is being reassembled */
    uint8_t msg_op;
    uint8_t *in;                 /* bytes of an incomplete frame */
    size_t in_len;
    uint8_t *msg;                /* fragments so far */
    size_t msg_len;
    uint8_t *out;                /* queued output: [out_off, out_len) still to send */
    size_t out_off, out_len, out_cap;
    uint32_t dirty_slot;         /* 1 + index in ws->dirty while output waits for the flush */
    struct ws_member **members;
    unsigned nmembers, cap_members;
    uint32_t addr_ticket;        /* per-address slot (conn_limit), released when freed */
};

struct hand_item {
    struct hand_item *next;
    int fd;
    uint32_t addr_ticket;
    struct peer_addr peer;
    size_t out_len, in_len;
    uint8_t data[]; /* out bytes, then in bytes */
};

struct ws_tracker {
    struct tracker *t;
    struct ws_tracker_config cfg;
    unsigned stats_id;
    struct worker_stats *stats;
    struct tracker_worker *tw; /* for the access list and the PRNG */
    loop_t *loop;
    pthread_t thread;
    bool started;
    int stop;                  /* atomic */
    uint64_t drain_deadline;   /* atomic; 0: serving, else going away by then (clock_now_ms) */
    bool draining;             /* this thread has sent every connection its close frame */
    int wake[2];               /* pipe: hand-over notifications */
    struct loop_watch wake_watch;
    pthread_mutex_t hand_lock;
    struct hand_item *hand_head, *hand_tail;
    unsigned hand_pending;     /* atomic: adopted but not yet served (counts against the cap) */
    unsigned nconns;           /* atomic */
    struct ws_conn *conns, *dead;
    struct ws_conn **dirty;    /* connections with output queued this turn (NULL: killed) */
    size_t ndirty, dirty_cap;
    uint64_t now_ms, last_idle_ms;
    uint8_t hash_key[16];
    struct ws_stripe stripes[WS_STRIPES];
    uint8_t rbuf[WS_RBUF_CAP];
    uint8_t obuf[WS_FRAME_HEADER_MAX + WS_OUT_CAP];
};

static void count(struct ws_tracker *ws, enum stat_counter k)
{
    stat_inc(ws->stats, k);
}

/* ---- swarm table ---- */

static struct ws_stripe *stripe_of(struct ws_tracker *ws, const uint8_t *hash)
{
    return &ws->stripes[hash[0] % WS_STRIPES];
}

static size_t bucket_of(struct ws_tracker *ws, const struct ws_stripe *st, const uint8_t *hash)
{
    return (size_t)(siphash24(ws->hash_key, hash, INFO_HASH_LEN) & (st->nbuckets - 1));
}

static struct ws_swarm *swarm_find(struct ws_tracker *ws, struct ws_stripe *st,
                                   const uint8_t *hash)
{
    if (!st->nbuckets)
        return NULL;
    for (struct ws_swarm *sw = st->buckets[bucket_of(ws, st, hash)]; sw; sw = sw->next)
        if (memcmp(sw->hash, hash, INFO_HASH_LEN) == 0)
            return sw;
    return NULL;
}

static bool stripe_grow(struct ws_tracker *ws, struct ws_stripe *st)
{
    size_t nb = st->nbuckets ? st->nbuckets * 2 : 64;
    struct ws_swarm **b = calloc(nb, sizeof *b);
    if (!b)
        return false;
    size_t old = st->nbuckets;
    struct ws_swarm **ob = st->buckets;
    st->buckets = b;
    st->nbuckets = nb;
    for (size_t i = 0; i < old; i++) {
        for (struct ws_swarm *sw = ob[i], *next; sw; sw = next) {
            next = sw->next;
            size_t k = bucket_of(ws, st, sw->hash);
            sw->next = b[k];
            b[k] = sw;
        }
    }
    free(ob);
    return true;
}

static struct ws_swarm *swarm_get(struct ws_tracker *ws, const uint8_t *hash)
{
    struct ws_stripe *st = stripe_of(ws, hash);
    struct ws_swarm *sw = swarm_find(ws, st, hash);
    if (sw)
        return sw;
    sw = calloc(1, sizeof *sw);
    if (!sw)
        return NULL;
    memcpy(sw->hash, hash, INFO_HASH_LEN);
    if (st->nswarms >= st->nbuckets && !stripe_grow(ws, st) && !st->nbuckets) {
        free(sw);
        return NULL;
    }
    size_t k = bucket_of(ws, st, hash);
    sw->next = st->buckets[k];
    st->buckets[k] = sw;
    st->nswarms++;
    return sw;
}

/* Free a swarm without members (the store keeps its completed count). */
static void swarm_drop_if_empty(struct ws_tracker *ws, struct ws_swarm *sw)
{
    if (sw->n)
        return;
    struct ws_stripe *st = stripe_of(ws, sw->hash);
    struct ws_swarm **pp = &st->buckets[bucket_of(ws, st, sw->hash)];
    while (*pp && *pp != sw)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = sw->next;
        st->nswarms--;
    }
    free(sw->members);
    free(sw);
}

/* The member of sw on connection c with this peer_id. A peer is (connection, peer_id), not
 * the connection alone: WebTorrent clients in one page share one socket per tracker URL
 * (bittorrent-tracker's socket pool), so two peers of one swarm may arrive on it. */
static struct ws_member *conn_member(struct ws_conn *c, const struct ws_swarm *sw,
                                     const uint8_t *peer_id)
{
    for (unsigned i = 0; i < c->nmembers; i++)
        if (c->members[i]->sw == sw &&
            memcmp(c->members[i]->peer_id, peer_id, PEER_ID_LEN) == 0)
            return c->members[i];
    return NULL;
}

/* Report a change of the swarm's WebSocket counts to the store. false when refused
 * (*refused says why) or out of memory (*refused == STORE_OK). */
static bool store_note(struct ws_tracker *ws, const uint8_t *hash, int seeders, int leechers,
                       bool completed, enum store_refusal *refused)
{
    struct store_ws_in in = {.info_hash = hash, .seeders = seeders, .leechers = leechers,
                             .completed = completed, .now = ws->tw->now};
    enum store_refusal r;
    bool ok = store_ws_update(ws->t->store, &in, &r);
    if (refused)
        *refused = r;
    return ok && r == STORE_OK;
}

/* Add connection c to swarm sw. NULL when a cap or memory runs out (*refused says which
 * store cap, STORE_OK for memory). */
static struct ws_member *member_add(struct ws_tracker *ws, struct ws_conn *c,
                                    struct ws_swarm *sw, bool seeder, enum store_refusal *refused)
{
    *refused = STORE_OK;
    if (c->nmembers >= ws->cfg.max_swarms)
        return NULL;
    if (c->nmembers == c->cap_members) {
        unsigned nc = c->cap_members ? c->cap_members * 2 : 4;
        struct ws_member **a = realloc(c->members, nc * sizeof *a);
        if (!a)
            return NULL;
        c->members = a;
        c->cap_members = nc;
    }
    if (sw->n == sw->cap) {
        uint32_t nc = sw->cap ? sw->cap * 2 : 4;
        struct ws_member **a = realloc(sw->members, nc * sizeof *a);
        if (!a)
            return NULL;
        sw->members = a;
        sw->cap = nc;
    }
    struct ws_member *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    /* Last, since it is the one step with an effect outside this module. */
    if (!store_note(ws, sw->hash, seeder, !seeder, false, refused)) {
        free(m);
        return NULL;
    }
    m->sw = sw;
    m->conn = c;
    m->seeder = seeder;
    m->idx = sw->n;
    sw->members[sw->n++] = m;
    c->members[c->nmembers++] = m;
    return m;
}

/* Set the member's seeder flag; completed: it finished downloading (counted once, when it
 * was not a seeder already, as the store does for HTTP/UDP peers). */
static void member_set_seeder(struct ws_tracker *ws, struct ws_member *m, bool seeder,
                              bool completed)
{
    completed = completed && !m->seeder;
    if (m->seeder == seeder && !completed)
        return;
    int d = m->seeder == seeder ? 0 : seeder ? 1 : -1;
    /* Moves between counts and completions never need new memory: cannot be refused. */
    store_note(ws, m->sw->hash, d, -d, completed, NULL);
    m->seeder = seeder;
}

/* Remove m from its swarm and its connection, free it, and free the swarm if empty. */
static void member_del(struct ws_tracker *ws, struct ws_member *m)
{
    struct ws_swarm *sw = m->sw;
    struct ws_conn *c = m->conn;
    struct ws_member *last = sw->members[--sw->n];
    sw->members[m->idx] = last;
    last->idx = m->idx;
    store_note(ws, sw->hash, -(int)m->seeder, -(int)!m->seeder, false, NULL);
    for (unsigned i = 0; i < c->nmembers; i++) {
        if (c->members[i] == m) {
            c->members[i] = c->members[--c->nmembers];
            break;
        }
    }
    free(m);
    swarm_drop_if_empty(ws, sw);
}

/* ---- connections: output ---- */

static void conn_kill(struct ws_tracker *ws, struct ws_conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    if (c->dirty_slot) {
        ws->dirty[c->dirty_slot - 1] = NULL;
        c->dirty_slot = 0;
    }
    loop_del(ws->loop, &c->watch);
    /* Closing the socket is "stopped" for every swarm of the connection. */
    while (c->nmembers)
        member_del(ws, c->members[c->nmembers - 1]);
    if (c->prev)
        c->prev->next = c->next;
    else
        ws->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = ws->dead;
    ws->dead = c;
}

/* Give back a connection's per-address slot (taken by the HTTP server before upgrade). */
static void release_slot(struct ws_tracker *ws, uint32_t ticket)
{
    if (ticket && ws->t->conn_limit)
        conn_limit_release(ws->t->conn_limit, ticket);
}

static void reap(struct ws_tracker *ws)
{
    while (ws->dead) {
        struct ws_conn *c = ws->dead;
        ws->dead = c->next;
        close(c->watch.fd);
        free(c->in);
        free(c->msg);
        free(c->out);
        free(c->members);
        release_slot(ws, c->addr_ticket);
        free(c);
        __atomic_fetch_sub(&ws->nconns, 1, __ATOMIC_RELAXED);
    }
}

/* Send what is queued, as far as the socket takes it; the rest waits for writability. Fully
 * sent: the buffer is freed (an idle peer holds none), and a closing connection goes. */
static void conn_flush(struct ws_tracker *ws, struct ws_conn *c)
{
    ssize_t w = send(c->watch.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            conn_kill(ws, c);
            return;
        }
        w = 0;
    }
    c->out_off += (size_t)w;
    if (c->out_off < c->out_len) {
        if (loop_set(ws->loop, &c->watch, c->closing ? LOOP_WRITE : LOOP_READ | LOOP_WRITE) < 0)
            conn_kill(ws, c);
        return;
    }
    free(c->out);
    c->out = NULL;
    c->out_off = c->out_len = c->out_cap = 0;
    if (c->closing) {
        conn_kill(ws, c);
        return;
    }
    if (loop_set(ws->loop, &c->watch, LOOP_READ) < 0)
        conn_kill(ws, c);
}

/* Mark c for the end-of-turn flush; without room in the list, flush now. */
static void conn_mark_dirty(struct ws_tracker *ws, struct ws_conn *c)
{
    if (c->dirty_slot)
        return;
    if (ws->ndirty == ws->dirty_cap) {
        size_t nc = ws->dirty_cap ? ws->dirty_cap * 2 : 256;
        struct ws_conn **d = realloc(ws->dirty, nc * sizeof *d);
        if (!d) {
            conn_flush(ws, c);
            return;
        }
        ws->dirty = d;
        ws->dirty_cap = nc;
    }
    ws->dirty[ws->ndirty++] = c;
    c->dirty_slot = (uint32_t)ws->ndirty;
}

/* Queue header + payload for the end-of-turn flush (a busy turn's big queue goes out
 * earlier). A connection whose unsent output would pass max_queued is a reader too slow to
 * keep: killed. */
static void conn_queue(struct ws_tracker *ws, struct ws_conn *c, const uint8_t *p, size_t n)
{
    size_t pending = c->out_len - c->out_off;
    if (pending && pending + n > WS_FLUSH_AT && !(c->watch.events & LOOP_WRITE)) {
        conn_flush(ws, c);
        if (c->dead)
            return;
        pending = c->out_len - c->out_off;
    }
    if (pending + n > ws->cfg.max_queued) {
        count(ws, STAT_WS_SLOW_CLOSED);
        conn_kill(ws, c);
        return;
    }
    if (c->out_len + n > c->out_cap) {
        if (c->out_off) {
            memmove(c->out, c->out + c->out_off, pending);
            c->out_len = pending;
            c->out_off = 0;
        }
        size_t cap = c->out_cap * 2;
        if (cap < c->out_len + n)
            cap = c->out_len + n < 2048 ? 2048 : c->out_len + n;
        uint8_t *o = realloc(c->out, cap);
        if (!o) {
            conn_kill(ws, c);
            return;
        }
        c->out = o;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    conn_mark_dirty(ws, c);
}

/* Nothing is sent after a close frame. */
static void conn_write(struct ws_tracker *ws, struct ws_conn *c, const uint8_t *p, size_t n)
{
    if (!c->dead && !c->closing)
        conn_queue(ws, c, p, n);
}

/* The loop's flush hook: one send per connection that got output this turn (those waiting
 * for writability are left to it), then free what died. */
static void ws_flush(loop_t *loop, void *ctx)
{
    (void)loop;
    struct ws_tracker *ws = ctx;
    for (size_t i = 0; i < ws->ndirty; i++) {
        struct ws_conn *c = ws->dirty[i];
        if (!c)
            continue;
        c->dirty_slot = 0;
        if (c->out_len > c->out_off && !(c->watch.events & LOOP_WRITE))
            conn_flush(ws, c);
    }
    ws->ndirty = 0;
    reap(ws);
}

/* Frame and send a payload that sits in ws->obuf after WS_FRAME_HEADER_MAX bytes. */
static void conn_send_obuf(struct ws_tracker *ws, struct ws_conn *c, uint8_t op, size_t len)
{
    uint8_t h[WS_FRAME_HEADER_MAX];
    size_t hl = ws_frame_header(h, op, len);
    uint8_t *start = ws->obuf + WS_FRAME_HEADER_MAX - hl;
    memcpy(start, h, hl);
    conn_write(ws, c, start, hl + len);
}

static void conn_send_frame(struct ws_tracker *ws, struct ws_conn *c, uint8_t op,
                            const uint8_t *p, size_t n)
{
    uint8_t f[WS_FRAME_HEADER_MAX + 125];
    size_t hl = ws_frame_header(f, op, n);
    memcpy(f + hl, p, n); /* control frames only: n <= 125 */
    conn_write(ws, c, f, hl + n);
}

/* Send a close frame and close once it is written; reads stop. */
static void conn_close_with(struct ws_tracker *ws, struct ws_conn *c, unsigned code)
{
    if (c->dead || c->closing)
        return;
    uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    conn_send_frame(ws, c, WS_OP_CLOSE, p, code ? 2 : 0);
    c->closing = true; /* the flush closes it once the close frame is out */
    if (!c->dead && c->out_off == c->out_len) /* sent at once: the flush list could not grow */
        conn_kill(ws, c);
}

/* The reply buffer: JSON goes after room for the frame header. */
static struct buf reply_buf(struct ws_tracker *ws)
{
    struct buf b;
    buf_init(&b, ws->obuf + WS_FRAME_HEADER_MAX, WS_OUT_CAP);
    return b;
}

static void send_json(struct ws_tracker *ws, struct ws_conn *c, const struct buf *b)
{
    if (!b->overflow)
        conn_send_obuf(ws, c, WS_OP_TEXT, b->len);
}

static void send_failure(struct ws_tracker *ws, struct ws_conn *c, const struct ws_msg *m,
                         const char *reason)
{
    /* Clients ignore a reply without "action", and an announce failure without the
     * info_hash they asked about. */
    struct buf b = reply_buf(ws);
    buf_puts(&b, "{\"action\":");
    buf_puts(&b, m->action == WS_ACTION_SCRAPE ? "\"scrape\"" : "\"announce\"");
    if (m->hash_given && m->nhashes == 1 && !m->hash_list) {
        buf_puts(&b, ",\"info_hash\":");
        ws_json_put_bytes(&b, m->hashes[0], INFO_HASH_LEN);
    }
    buf_puts(&b, ",\"failure reason\":");
    ws_json_put_text(&b, reason);
    buf_putc(&b, '}');
    count(ws, STAT_WS_FAILURE);
    send_json(ws, c, &b);
}

/* ---- messages ---- */

static void do_answer(struct ws_tracker *ws, struct ws_conn *c, const struct ws_msg *m)
{
    struct ws_swarm *sw = swarm_find(ws, stripe_of(ws, m->hashes[0]), m->hashes[0]);
    struct ws_member *to = NULL;
    if (sw && conn_member(c, sw, m->peer_id)) {
        for (uint32_t i = 0; i < sw->n; i++) {
            if (memcmp(sw->members[i]->peer_id, m->to_peer_id, PEER_ID_LEN) == 0 &&
                !sw->members[i]->conn->dead) {
                to = sw->members[i];
                break;
            }
        }
    }
    if (!to) {
        count(ws, STAT_WS_ANSWER_DROPPED);
        return;
    }
    struct buf b = reply_buf(ws);
    buf_puts(&b, "{\"action\":\"announce\",\"info_hash\":");
    ws_json_put_bytes(&b, m->hashes[0], INFO_HASH_LEN);
    buf_puts(&b, ",\"peer_id\":");
    ws_json_put_bytes(&b, m->peer_id, PEER_ID_LEN);
    buf_puts(&b, ",\"offer_id\":");
    buf_put(&b, m->offer_id.p, m->offer_id.len);
    buf_puts(&b, ",\"answer\":");
    buf_put(&b, m->answer.p, m->answer.len);
    buf_putc(&b, '}');
    count(ws, STAT_WS_ANSWER_RELAYED);
    send_json(ws, to->conn, &b);
}

/* Send up to min(numwant, offers) other members of sw one offer each, chosen at random. */
static void relay_offers(struct ws_tracker *ws, struct ws_member *self, const struct ws_msg *m)
{
    struct ws_swarm *sw = self->sw;
    unsigned k = m->noffers;
    unsigned want = m->numwant < 0 ? k : (unsigned)m->numwant;
    if (want < k)
        k = want;
    if (k > sw->n - 1)
        k = sw->n - 1;
    if (!k)
        return;
    uint32_t chosen[WS_MAX_OFFERS];
    unsigned nc = 0;
    if (k == sw->n - 1) {
        for (uint32_t i = 0; i < sw->n; i++)
            if (i != self->idx)
                chosen[nc++] = i;
    } else {
        /* k <= 20 < n - 1: rejection sampling ends quickly. */
        while (nc < k) {
            uint32_t i = rng_below(&ws->tw->rng, sw->n);
            bool dup = i == self->idx;
            for (unsigned j = 0; j < nc && !dup; j++)
                dup = chosen[j] == i;
            if (!dup)
                chosen[nc++] = i;
        }
    }
    /* Snapshot the targets: a slow target killed while sending leaves the swarm and
     * reorders its member array. Dead connections stay allocated until reap. */
    struct ws_conn *targets[WS_MAX_OFFERS];
    for (unsigned j = 0; j < nc; j++)
        targets[j] = sw->members[chosen[j]]->conn;
    /* What every relayed offer of this announce starts with, escaped once: up to 6 bytes
     * per escaped byte of the two binary strings, and the fixed text. */
    uint8_t head_mem[64 + 2 * (2 + 6 * INFO_HASH_LEN)];
    struct buf head;
    buf_init(&head, head_mem, sizeof head_mem);
    buf_puts(&head, "{\"action\":\"announce\",\"info_hash\":");
    ws_json_put_bytes(&head, sw->hash, INFO_HASH_LEN);
    buf_puts(&head, ",\"peer_id\":");
    ws_json_put_bytes(&head, m->peer_id, PEER_ID_LEN);
    buf_puts(&head, ",\"offer_id\":");
    for (unsigned j = 0; j < nc; j++) {
        const struct ws_offer *o = &m->offers[j];
        struct buf b = reply_buf(ws);
        buf_put(&b, head.data, head.len);
        b.overflow |= head.overflow;
        buf_put(&b, o->offer_id.p, o->offer_id.len);
        buf_puts(&b, ",\"offer\":");
        buf_put(&b, o->offer.p, o->offer.len);
        buf_putc(&b, '}');
        if (!targets[j]->dead && !targets[j]->closing)
            count(ws, STAT_WS_OFFER_RELAYED);
        send_json(ws, targets[j], &b);
    }
}

static void do_announce(struct ws_tracker *ws, struct ws_conn *c, const struct ws_msg *m)
{
    if (!m->hash_given || m->hash_list || m->nhashes != 1) {
        send_failure(ws, c, m, "invalid info_hash");
        return;
    }
    if (!m->has_peer_id) {
        send_failure(ws, c, m, "invalid peer_id");
        return;
    }
    if (!tracker_allowed(ws->tw, m->hashes[0])) {
        send_failure(ws, c, m, "torrent not allowed");
        return;
    }
    count(ws, STAT_WS_ANNOUNCE);
    if (m->answer.p) {
        if (!m->has_to_peer_id || !m->offer_id.p) {
            send_failure(ws, c, m, "an answer needs to_peer_id and offer_id");
            return;
        }
        /* An answer is not an announce of its own: no reply (clients expect none). */
        do_answer(ws, c, m);
        return;
    }
    struct ws_stripe *st = stripe_of(ws, m->hashes[0]);
    struct ws_swarm *sw = swarm_find(ws, st, m->hashes[0]);
    struct ws_member *me = sw ? conn_member(c, sw, m->peer_id) : NULL;
    bool seeder = m->has_left && m->left == 0;
    if (m->event == EVENT_STOPPED) {
        if (me)
            member_del(ws, me);
        me = NULL;
    } else {
        if (!me) {
            if (c->nmembers >= ws->cfg.max_swarms) {
                send_failure(ws, c, m, "too many torrents on one connection");
                return;
            }
            enum store_refusal refused = STORE_OK;
            sw = swarm_get(ws, m->hashes[0]);
            me = sw ? member_add(ws, c, sw, seeder, &refused) : NULL;
            if (!me) {
                if (sw)
                    swarm_drop_if_empty(ws, sw);
                if (refused != STORE_OK)
                    caps_note_refusal(ws->tw, refused);
                send_failure(ws, c, m,
                             refused != STORE_OK ? caps_reason(refused) : "tracker out of memory");
                return;
            }
            /* A peer joining with event=completed finished here (as HTTP/UDP count it). */
            if (m->event == EVENT_COMPLETED)
                store_note(ws, m->hashes[0], 0, 0, true, NULL);
        } else {
            /* "stopped" may come without "left"; an update without it keeps the flag. */
            bool done = m->event == EVENT_COMPLETED;
            member_set_seeder(ws, me, done || (m->has_left ? seeder : me->seeder), done);
        }
        if (m->event == EVENT_COMPLETED)
            stat_inc(ws->stats, STAT_COMPLETED);
        memcpy(me->peer_id, m->peer_id, PEER_ID_LEN);
    }
    struct swarm_counts sc;
    store_scrape(ws->t->store, m->hashes[0], &sc);
    struct buf b = reply_buf(ws);
    buf_puts(&b, "{\"action\":\"announce\",\"info_hash\":");
    ws_json_put_bytes(&b, m->hashes[0], INFO_HASH_LEN);
    buf_puts(&b, ",\"interval\":");
    buf_put_u64(&b, WS_INTERVAL);
    buf_puts(&b, ",\"complete\":");
    buf_put_u64(&b, sc.seeders);
    buf_puts(&b, ",\"incomplete\":");
    buf_put_u64(&b, sc.leechers);
    buf_putc(&b, '}');
    send_json(ws, c, &b);
    if (me && !c->dead && m->noffers)
        relay_offers(ws, me, m);
}

static void put_file(struct buf *b, const uint8_t *hash, const struct swarm_counts *sc)
{
    if (b->data[b->len - 1] != '{')
        buf_putc(b, ',');
    ws_json_put_bytes(b, hash, INFO_HASH_LEN);
    buf_puts(b, ":{\"complete\":");
    buf_put_u64(b, sc->seeders);
    buf_puts(b, ",\"incomplete\":");
    buf_put_u64(b, sc->leechers);
    buf_puts(b, ",\"downloaded\":");
    buf_put_u64(b, sc->completed);
    buf_putc(b, '}');
}

struct full_ctx {
    struct ws_tracker *ws;
    struct buf *b;
};

/* Leave room for the closing braces; a full scrape stops at what one message holds. */
#define WS_FULL_RESERVE 256

static void full_visit(void *ctx, const uint8_t *hash, const struct swarm_counts *counts)
{
    struct full_ctx *f = ctx;
    if (f->b->len + WS_FULL_RESERVE > f->b->cap || !access_ctl_allowed(f->ws->t->access, hash))
        return;
    put_file(f->b, hash, counts);
}

static void do_scrape(struct ws_tracker *ws, struct ws_conn *c, const struct ws_msg *m)
{
    count(ws, STAT_WS_SCRAPE);
    struct buf b = reply_buf(ws);
    buf_puts(&b, "{\"action\":\"scrape\",\"files\":{");
    if (!m->hash_given) {
        if (!ws->t->cfg->fullscrape) {
            send_failure(ws, c, m, "full scrape disabled");
            return;
        }
        struct full_ctx f = {.ws = ws, .b = &b};
        store_foreach(ws->t->store, full_visit, &f);
    } else {
        for (unsigned i = 0; i < m->nhashes; i++) {
            struct swarm_counts sc;
            if (!tracker_allowed(ws->tw, m->hashes[i]))
                continue;
            store_scrape(ws->t->store, m->hashes[i], &sc);
            put_file(&b, m->hashes[i], &sc);
        }
    }
    buf_puts(&b, "}}");
    send_json(ws, c, &b);
}

static void on_message(struct ws_tracker *ws, struct ws_conn *c, uint8_t op, uint8_t *p,
                       size_t n)
{
    if (op != WS_OP_TEXT) {
        conn_close_with(ws, c, WS_CLOSE_UNSUPPORTED);
        return;
    }
    struct ws_msg m;
    const char *field;
    enum ws_json_error e = ws_json_parse((const char *)p, n, &m, &field);
    if (e == WS_JSON_SYNTAX) {
        send_failure(ws, c, &m, "invalid JSON message");
        return;
    }
    if (e == WS_JSON_BAD_FIELD) {
        char why[64];
        size_t fl = strlen(field);
        memcpy(why, "invalid ", 8);
        memcpy(why + 8, field, fl + 1);
        send_failure(ws, c, &m, fl ? why : "invalid field");
        return;
    }
    if (m.action == WS_ACTION_ANNOUNCE)
        do_announce(ws, c, &m);
    else if (m.action == WS_ACTION_SCRAPE)
        do_scrape(ws, c, &m);
    else
        send_failure(ws, c, &m, "invalid action");
}

/* ---- connections: input ---- */

/* Handle one complete frame (payload unmasked). */
static void on_frame(struct ws_tracker *ws, struct ws_conn *c, const struct ws_frame *f,
                     uint8_t *p)
{
    size_t n = (size_t)f->payload_len;
    switch (f->opcode) {
    case WS_OP_PING:
        conn_send_frame(ws, c, WS_OP_PONG, p, n);
        return;
    case WS_OP_PONG:
        return;
    case WS_OP_CLOSE:
        if (!ws_close_payload_ok(p, n)) {
            conn_close_with(ws, c, WS_CLOSE_PROTOCOL);
            return;
        }
        conn_close_with(ws, c, n ? (unsigned)p[0] << 8 | p[1] : WS_CLOSE_NORMAL);
        return;
    case WS_OP_CONT:
        if (!c->in_msg) {
            conn_close_with(ws, c, WS_CLOSE_PROTOCOL);
            return;
        }
        break;
    default: /* TEXT, BINARY */
        if (c->in_msg) {
            conn_close_with(ws, c, WS_CLOSE_PROTOCOL);
            return;
        }
        if (f->fin) {
            on_message(ws, c, f->opcode, p, n);
            return;
        }
        c->in_msg = true;
        c->msg_op = f->opcode;
        c->msg_len = 0;
        break;
    }
    /* A fragment: append within the message cap. */
    if (c->msg_len + n > WS_MAX_MESSAGE) {
        count(ws, STAT_WS_BAD_FRAME);
        conn_close_with(ws, c, WS_CLOSE_TOO_BIG);
        return;
    }
    if (n) {
        uint8_t *g = realloc(c->msg, c->msg_len + n);
        if (!g) {
            conn_kill(ws, c);
            return;
        }
        c->msg = g;
        memcpy(c->msg + c->msg_len, p, n);
        c->msg_len += n;
    }
    if (f->fin) {
        uint8_t *msg = c->msg;
        size_t len = c->msg_len;
        c->msg = NULL;
        c->msg_len = 0;
        c->in_msg = false;
        on_message(ws, c, c->msg_op, msg ? msg : (uint8_t *)"", len);
        free(msg);
    }
}

/* Parse and handle the complete frames in buf; returns the bytes consumed. */
static size_t conn_frames(struct ws_tracker *ws, struct ws_conn *c, uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (!c->dead && !c->closing && off < len) {
        struct ws_frame f;
        int r = ws_frame_parse(buf + off, len - off, true, WS_MAX_MESSAGE, &f);
        if (r == WS_PARSE_INCOMPLETE)
            break;
        if (r < 0) {
            count(ws, STAT_WS_BAD_FRAME);
            conn_close_with(ws, c, r == WS_PARSE_TOO_BIG ? WS_CLOSE_TOO_BIG : WS_CLOSE_PROTOCOL);
            break;
        }
        if (len - off - f.header_len < f.payload_len)
            break;
        uint8_t *p = buf + off + f.header_len;
        ws_unmask(p, (size_t)f.payload_len, f.mask, 0);
        off += f.header_len + (size_t)f.payload_len;
        c->last_ms = ws->now_ms;
        on_frame(ws, c, &f, p);
    }
    return off;
}

/* Keep rbuf[off..len), an incomplete frame, in the connection (an idle peer keeps none). */
static void conn_keep(struct ws_tracker *ws, struct ws_conn *c, size_t off, size_t len)
{
    size_t rest = len - off;
    free(c->in);
    c->in = NULL;
    c->in_len = 0;
    if (!rest)
        return;
    uint8_t *in = malloc(rest);
    if (!in) {
        conn_kill(ws, c);
        return;
    }
    memcpy(in, ws->rbuf + off, rest);
    c->in = in;
    c->in_len = rest;
}

/* Process rbuf[0..len): complete frames, then keep the incomplete rest in the connection. */
static void conn_consume(struct ws_tracker *ws, struct ws_conn *c, size_t len)
{
    size_t off = conn_frames(ws, c, ws->rbuf, len);
    if (!c->dead && !c->closing)
        conn_keep(ws, c, off, len);
}

/* Read and handle frames; a read that filled the buffer is followed by another (up to
 * WS_READS_PER_EVENT), so a burst is taken in big reads without an extra read per event
 * just to see EAGAIN. */
static void conn_readable(struct ws_tracker *ws, struct ws_conn *c)
{
    /* The kept partial frame is at most header + WS_MAX_MESSAGE, so there is always room to
     * read more after it. */
    size_t len = c->in_len;
    if (len)
        memcpy(ws->rbuf, c->in, len);
    for (unsigned round = 1;; round++) {
        size_t room = sizeof ws->rbuf - len;
        ssize_t r = read(c->watch.fd, ws->rbuf + len, room);
        if (r < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                conn_kill(ws, c);
            else if (round > 1)
                conn_keep(ws, c, 0, len);
            return;
        }
        if (r == 0) {
            conn_kill(ws, c);
            return;
        }
        len += (size_t)r;
        size_t off = conn_frames(ws, c, ws->rbuf, len);
        if (c->dead || c->closing)
            return;
        if ((size_t)r < room || round == WS_READS_PER_EVENT) {
            conn_keep(ws, c, off, len);
            return;
        }
        memmove(ws->rbuf, ws->rbuf + off, len - off);
        len -= off;
    }
}

static void conn_event(loop_t *loop, struct loop_watch *w, int events)
{
    (void)loop;
    struct ws_conn *c = w->data;
    struct ws_tracker *ws = c->ws;
    if ((events & LOOP_WRITE) && c->out_len > c->out_off)
        conn_flush(ws, c);
    if (!c->dead && !c->closing && (events & LOOP_READ))
        conn_readable(ws, c);
    reap(ws);
}

/* ---- hand-over ---- */

static void drain_begin(struct ws_tracker *ws);

static void adopt_one(struct ws_tracker *ws, struct hand_item *h)
{
    struct ws_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(h->fd);
        release_slot(ws, h->addr_ticket);
        __atomic_fetch_sub(&ws->nconns, 1, __ATOMIC_RELAXED);
        return;
    }
    c->ws = ws;
    c->addr_ticket = h->addr_ticket;
    c->watch.fd = h->fd;
    c->watch.fn = conn_event;
    c->watch.data = c;
    c->last_ms = ws->now_ms;
    if (loop_add(ws->loop, &c->watch, LOOP_READ) < 0) {
        close(h->fd);
        release_slot(ws, h->addr_ticket);
        free(c);
        __atomic_fetch_sub(&ws->nconns, 1, __ATOMIC_RELAXED);
        return;
    }
    c->next = ws->conns;
    if (ws->conns)
        ws->conns->prev = c;
    ws->conns = c;
    count(ws, STAT_WS_CONN_ACCEPTED);
    if (h->out_len)
        conn_write(ws, c, h->data, h->out_len);
    if (h->in_len && !c->dead && h->in_len <= sizeof ws->rbuf) {
        memcpy(ws->rbuf, h->data + h->out_len, h->in_len);
        conn_consume(ws, c, h->in_len);
    }
    if (ws->draining) /* upgraded during the shutdown: answered what it sent, now goes away */
        conn_close_with(ws, c, WS_CLOSE_GOING_AWAY);
}

static void on_wake(loop_t *loop, struct loop_watch *w, int events)
{
    (void)loop;
    (void)events;
    struct ws_tracker *ws = w->data;
    uint8_t junk[64];
    while (read(ws->wake[0], junk, sizeof junk) > 0) {
    }
    pthread_mutex_lock(&ws->hand_lock);
    struct hand_item *h = ws->hand_head;
    ws->hand_head = ws->hand_tail = NULL;
    pthread_mutex_unlock(&ws->hand_lock);
    drain_begin(ws); /* before adopting: connections handed over now close after answering */
    while (h) {
        struct hand_item *next = h->next;
        adopt_one(ws, h);
        free(h);
        h = next;
    }
    reap(ws);
}

/* Wake the thread (any thread). A full pipe already holds a wake-up: nothing is lost. */
static void wake(struct ws_tracker *ws)
{
    uint8_t one = 1;
    ssize_t r = write(ws->wake[1], &one, 1);
    (void)r;
}

bool ws_tracker_adopt(void *ctx, int fd, const struct peer_addr *peer, uint32_t addr_ticket,
                      const uint8_t *pre_out, size_t pre_out_len, const uint8_t *pre_in,
                      size_t pre_in_len)
{
    struct ws_tracker *ws = ctx;
    unsigned n = __atomic_fetch_add(&ws->nconns, 1, __ATOMIC_RELAXED);
    if (n >= ws->cfg.max_conns) {
        __atomic_fetch_sub(&ws->nconns, 1, __ATOMIC_RELAXED);
        close(fd);
        release_slot(ws, addr_ticket);
        return false;
    }
    struct hand_item *h = malloc(sizeof *h + pre_out_len + pre_in_len);
    if (!h) {
        __atomic_fetch_sub(&ws->nconns, 1, __ATOMIC_RELAXED);
        close(fd);
        release_slot(ws, addr_ticket);
        return false;
    }
    h->next = NULL;
    h->fd = fd;
    h->addr_ticket = addr_ticket;
    h->peer = *peer;
    h->out_len = pre_out_len;
    h->in_len = pre_in_len;
    if (pre_out_len)
        memcpy(h->data, pre_out, pre_out_len);
    if (pre_in_len)
        memcpy(h->data + pre_out_len, pre_in, pre_in_len);
    pthread_mutex_lock(&ws->hand_lock);
    bool was_empty = !ws->hand_head;
    if (ws->hand_tail)
        ws->hand_tail->next = h;
    else
        ws->hand_head = h;
    ws->hand_tail = h;
    pthread_mutex_unlock(&ws->hand_lock);
    if (was_empty)
        wake(ws);
    return true;
}

/* ---- the HTTP side ---- */

enum http_action ws_serve_upgrade(struct tracker_worker *w, const struct http_request *req,
                                  struct http_out *out)
{
    char accept[WS_ACCEPT_LEN + 1];
    int st = ws_handshake_check(req, accept);
    (void)w;
    if (st == 426) {
        buf_puts(&out->buf, "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"
                            "Content-Type: text/plain\r\nContent-Length: 17\r\n"
                            "Connection: close\r\n\r\nUpgrade Required\n");
        return HTTP_CLOSE;
    }
    if (st) {
        buf_puts(&out->buf, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 34\r\nConnection: close\r\n\r\n"
                            "Bad WebSocket handshake (RFC 6455)\n");
        return HTTP_CLOSE;
    }
    buf_puts(&out->buf, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: ");
    buf_puts(&out->buf, accept);
    buf_puts(&out->buf, "\r\n\r\n");
    return HTTP_UPGRADE;
}

/* ---- the thread ---- */

static void on_tick(loop_t *loop, void *ctx);

/* Once ws_tracker_drain was called (seen on the wake-up it sends, or a tick): every
 * connection gets its queued output, then a close frame (1001 "going away"), and is closed
 * once that is written; the tick then runs often, to stop soon after the last one. */
static void drain_begin(struct ws_tracker *ws)
{
    if (ws->draining || !__atomic_load_n(&ws->drain_deadline, __ATOMIC_RELAXED))
        return;
    ws->draining = true;
    for (struct ws_conn *c = ws->conns, *next; c; c = next) {
        next = c->next;
        conn_close_with(ws, c, WS_CLOSE_GOING_AWAY);
    }
    reap(ws);
    loop_set_tick(ws->loop, WS_DRAIN_TICK_MS, on_tick, ws);
}

static void on_tick(loop_t *loop, void *ctx)
{
    struct ws_tracker *ws = ctx;
    ws->now_ms = clock_now_ms();
    ws->tw->now = clock_now();
    access_ctl_quiesce(ws->t->access, ws->stats_id);
    uint64_t deadline = __atomic_load_n(&ws->drain_deadline, __ATOMIC_RELAXED);
    drain_begin(ws);
    if (__atomic_load_n(&ws->stop, __ATOMIC_RELAXED)) {
        /* The HTTP workers have stopped: no hand-over can arrive any more. */
        pthread_mutex_lock(&ws->hand_lock);
        bool handing = ws->hand_head != NULL;
        pthread_mutex_unlock(&ws->hand_lock);
        if (!deadline || ws->now_ms >= deadline || (!ws->conns && !handing))
            loop_stop(loop);
        return;
    }
    /* Idle connections: a full walk once a second (the list is capped by max_conns). */
    if (ws->cfg.idle_timeout_ms && ws->now_ms - ws->last_idle_ms >= 1000) {
        ws->last_idle_ms = ws->now_ms;
        for (struct ws_conn *c = ws->conns, *next; c; c = next) {
            next = c->next;
            if (ws->now_ms - c->last_ms >= ws->cfg.idle_timeout_ms) {
                count(ws, STAT_WS_CONN_TIMEOUT);
                conn_kill(ws, c);
            }
        }
        reap(ws);
    }
}

static void *ws_main(void *arg)
{
    struct ws_tracker *ws = arg;
    worker_block_signals();
    ws->now_ms = clock_now_ms();
    ws->tw->now = clock_now();
    loop_run(ws->loop);
    return NULL;
}

static bool set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
           fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}

static void ws_free(struct ws_tracker *ws)
{
    while (ws->conns)
        conn_kill(ws, ws->conns);
    reap(ws);
    free(ws->dirty);
    for (struct hand_item *h = ws->hand_head, *next; h; h = next) {
        next = h->next;
        close(h->fd);
        release_slot(ws, h->addr_ticket);
        free(h);
    }
    for (unsigned s = 0; s < WS_STRIPES; s++)
        free(ws->stripes[s].buckets);
    if (ws->loop) {
        if (ws->wake[0] >= 0)
            loop_del(ws->loop, &ws->wake_watch);
        loop_free(ws->loop);
    }
    if (ws->wake[0] >= 0)
        close(ws->wake[0]);
    if (ws->wake[1] >= 0)
        close(ws->wake[1]);
    pthread_mutex_destroy(&ws->hand_lock);
    free(ws->tw);
    free(ws);
}

struct ws_tracker *ws_tracker_start(struct tracker *t, unsigned stats_id,
                                    const struct ws_tracker_config *cfg)
{
    struct ws_tracker *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    ws->wake[0] = ws->wake[1] = -1;
    pthread_mutex_init(&ws->hand_lock, NULL);
    ws->t = t;
    ws->stats_id = stats_id;
    ws->stats = &t->stats[stats_id];
    if (cfg)
        ws->cfg = *cfg;
    if (!ws->cfg.max_conns)
        ws->cfg.max_conns = 10000;
    if (!ws->cfg.max_swarms)
        ws->cfg.max_swarms = 128;
    if (!ws->cfg.max_queued)
        ws->cfg.max_queued = 256 * 1024;
    if (!ws->cfg.idle_timeout_ms)
        ws->cfg.idle_timeout_ms = (unsigned)t->cfg->peer_timeout * 1000u;
    ws->tw = malloc(sizeof *ws->tw);
    ws->loop = loop_new(1024);
    if (!ws->tw || !ws->loop || !rng_os_bytes(ws->hash_key, sizeof ws->hash_key) ||
        pipe(ws->wake) < 0 || !set_nonblock(ws->wake[0]) || !set_nonblock(ws->wake[1])) {
        ws_free(ws);
        return NULL;
    }
    tracker_worker_init(ws->tw, t, stats_id);
    ws->wake_watch.fd = ws->wake[0];
    ws->wake_watch.fn = on_wake;
    ws->wake_watch.data = ws;
    if (loop_add(ws->loop, &ws->wake_watch, LOOP_READ) < 0) {
        ws_free(ws);
        return NULL;
    }
    loop_set_tick(ws->loop, WS_TICK_MS, on_tick, ws);
    loop_set_flush(ws->loop, ws_flush, ws);
    int e = pthread_create(&ws->thread, NULL, ws_main, ws);
    if (e) {
        log_error("websocket thread: pthread_create: %s", strerror(e));
        ws_free(ws);
        return NULL;
    }
    ws->started = true;
    return ws;
}

void ws_tracker_drain(struct ws_tracker *ws, uint64_t deadline_ms)
{
    if (!ws)
        return;
    __atomic_store_n(&ws->drain_deadline, deadline_ms ? deadline_ms : 1, __ATOMIC_RELAXED);
    wake(ws);
}

void ws_tracker_stop(struct ws_tracker *ws)
{
    if (!ws)
        return;
    if (ws->started) {
        __atomic_store_n(&ws->stop, 1, __ATOMIC_RELAXED);
        wake(ws);
        pthread_join(ws->thread, NULL);
    }
    ws_free(ws);
}
