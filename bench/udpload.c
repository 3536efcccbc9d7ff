/* udpload.c - BEP 15 (UDP tracker) load generator for the swarmd benchmark.
 *
 * Threads (-T) each drive several connected UDP sockets (-s) towards 127.0.0.1:PORT and keep a
 * fixed number of requests in flight per socket (-f), sent with sendmmsg and received with
 * recvmmsg. Every socket obtains a connection ID with a connect request and refreshes it every
 * 60 s, as a client would. Every reply is validated against the request it answers
 * (transaction id, action, exact size) and counted as ok, error (action 3), invalid or late.
 *
 * Workload: a population of --peers peers spread over --torrents torrents. Peer p always
 * announces the same torrent and port, so re-announces update existing peers instead of
 * growing the swarms; with --skew S > 0 the torrent of a peer follows a power law (rank r has
 * weight ~ 1/r^S, drawn by inverse CDF), so popular swarms are big and get most traffic;
 * --skew 0 spreads peers evenly (peer p in torrent p mod N). Trackers key a peer by source
 * address + announced port, and every socket has the one source address 127.0.0.1, so the
 * announced port is what makes peers distinct.
 *
 * Modes: load (default; warm-up, then a measured window), --fill N M (announce each of N*M
 * peers once, then stop; with --server-pid, the server's RSS growth per peer), --raw (count
 * any datagram as a reply: for a trivial responder that answers everything with fixed bytes),
 * --print-hashes N (the info-hashes of torrents 0..N-1, hex, one a line: for whitelists).
 * Prints one line of key=value pairs on stdout and a human summary on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROTOCOL_ID 0x41727101980ULL
#define MAX_INFLIGHT 256 /* the slot index lives in the low 8 bits of a transaction id */
#define MAX_HASHES 74    /* scrape hashes that fit one packet (BEP 15) */
#define SEND_MAX (16 + 20 * MAX_HASHES)
#define RECV_MAX 2048 /* larger than any valid reply (20 + 6 * 242) */
#define PORT_BASE 1024
#define PORT_SPAN 64512
#define PROBE_PORT 1 /* announced by the readiness probe only; real peers use PORT_BASE.. */

enum kind { K_FREE, K_CONNECT, K_ANNOUNCE, K_SCRAPE };
enum { EV_NONE = 0, EV_COMPLETED = 1, EV_STARTED = 2, EV_STOPPED = 3 };

struct config {
    uint16_t port;
    unsigned threads, sockets, inflight, batch_timeout_ms;
    double duration, warmup, timeout, refresh;
    double rate; /* requests/s over all threads; 0 = as fast as the in-flight window allows */
    uint64_t torrents, peers;
    double skew;
    unsigned w_announce, w_scrape, scrape_hashes;
    int numwant;
    unsigned seeder_pct;
    double event_pct;
    uint64_t seed;
    bool raw, fill, quiet;
    uint64_t fill_torrents, fill_per;
    long server_pid;
    double wait_ready, stall;
    /* Derived for the inverse CDF of the popularity law. */
    double zk, inv1s, log_n1;
};

static struct config cfg = {
    .threads = 1, .sockets = 4, .inflight = 16, .duration = 10, .warmup = 2,
    .timeout = 1.0, .refresh = 60, .torrents = 1000000, .peers = 2000000, .skew = 1.0,
    .w_announce = 100, .w_scrape = 1, .scrape_hashes = 1, .numwant = 30, .seeder_pct = 75,
    .event_pct = 1.0, .seed = 1, .wait_ready = 10, .stall = 10,
};

/* Counters are written by their own thread only and read by the main thread, so relaxed
 * atomic stores and loads suffice (plain moves on x86) and no increment takes a lock. */
struct counters {
    uint64_t sent, connects, announces, scrapes, raw;
    uint64_t errors, invalid, late, timeouts, send_errors;
    uint64_t self_peers, peers_returned;
    uint64_t fill_done, fill_failed;
};
#define NCOUNT (sizeof(struct counters) / sizeof(uint64_t))
#define INC(t, f, v) __atomic_store_n(&(t)->cnt.f, (t)->cnt.f + (v), __ATOMIC_RELAXED)

struct slot {
    uint32_t tid;
    uint32_t lost_tid; /* the transaction this slot last gave up on, to recognise it late */
    uint8_t kind, nhash, retries;
    uint16_t port;
    int32_t numwant;
    uint64_t peer; /* fill mode: which peer, to retry the same one after a time-out */
    double sent_at;
};

struct usock {
    int fd;
    uint64_t connid;
    bool have_connid, connect_pending;
    double conn_at, last_rx;
    uint32_t seq;
    unsigned busy, ring, nqueue;
    struct slot slots[MAX_INFLIGHT];
    uint8_t (*sbuf)[SEND_MAX];
    uint8_t (*rbuf)[RECV_MAX];
    struct mmsghdr *rmsg, *smsg;
    struct iovec *riov, *siov;
};

struct thread {
    _Alignas(64) struct counters cnt;
    unsigned id;
    pthread_t th;
    uint64_t rng;
    double now;
    struct usock *socks;
    uint64_t fill_next; /* fill mode: next peer index this thread announces */
    bool fill_exhausted;
    double tokens; /* --rate: requests this thread may still send (a 5 ms bucket) */
    bool done; /* the thread has left its loop (fill mode: everything answered) */
    char first_error[64];
};

static struct thread *threads;
static int stop_flag; /* set once by the main thread; read with atomic loads */

/* ---- small helpers ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t rnd(struct thread *t)
{
    t->rng += 0x9e3779b97f4a7c15ULL;
    uint64_t z = t->rng;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) without a division: the high half of a 64x64 product. */
static uint64_t rnd_below(struct thread *t, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)rnd(t) * n) >> 64);
}

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, (uint16_t)v); }
static void put64(uint8_t *p, uint64_t v) { put32(p, v >> 32); put32(p + 4, (uint32_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

/* ---- the workload model: pure functions of the seed, so --print-hashes, --fill and the load
 * runs (separate processes) agree on every torrent, peer and port ---- */

static void info_hash(uint64_t t, uint8_t h[20])
{
    uint64_t a = mix64(cfg.seed * 0x2545f4914f6cdd1dULL ^ t);
    uint64_t b = mix64(a ^ 0x5851f42d4c957f2dULL);
    uint64_t c = mix64(b ^ 0x14057b7ef767814fULL);
    put64(h, a);
    put64(h + 8, b);
    put32(h + 16, (uint32_t)c);
}

static uint64_t torrent_of(uint64_t p)
{
    if (cfg.skew <= 0)
        return p % cfg.torrents;
    /* Continuous power law on [1, N+1) with density ~ x^-s, sampled by inverse CDF. */
    double u = (double)(mix64(p ^ (cfg.seed << 32) ^ 0x7a3c) >> 11) * 0x1p-53;
    double x = cfg.skew == 1.0 ? exp(u * cfg.log_n1) : pow(1.0 + u * cfg.zk, cfg.inv1s);
    uint64_t r = x < 1.0 ? 0 : (uint64_t)x - 1;
    return r < cfg.torrents ? r : cfg.torrents - 1;
}

static uint16_t port_of(uint64_t p)
{
    /* Uniform spread: the peers of one torrent are p, p+N, p+2N...: distinct ports. Skewed:
     * a hash, so big swarms only collide (merge two peers) beyond tens of thousands. */
    if (cfg.skew <= 0)
        return (uint16_t)(PORT_BASE + (p / cfg.torrents) % PORT_SPAN);
    return (uint16_t)(PORT_BASE + mix64(p ^ 0x51ed27) % PORT_SPAN);
}

static bool is_seeder(uint64_t p)
{
    return mix64(p ^ 0xa11ce) % 100 < cfg.seeder_pct;
}

/* ---- request building ---- */

static size_t build_connect(uint8_t *b, uint32_t tid)
{
    put64(b, PROTOCOL_ID);
    put32(b + 8, 0);
    put32(b + 12, tid);
    return 16;
}

static size_t build_announce(uint8_t *b, uint64_t connid, uint32_t tid, uint64_t p,
                             uint32_t event, int32_t numwant)
{
    put64(b, connid);
    put32(b + 8, 1);
    put32(b + 12, tid);
    info_hash(torrent_of(p), b + 16);
    memcpy(b + 36, "-UL0001-", 8);
    put32(b + 44, (uint32_t)(p >> 32));
    put64(b + 48, mix64(p));
    bool seeder = is_seeder(p);
    put64(b + 56, seeder ? 1u << 30 : 1u << 20);    /* downloaded */
    put64(b + 64, seeder ? 0 : (1u << 30) - (p & 0xfffff)); /* left */
    put64(b + 72, 1u << 22);                          /* uploaded */
    put32(b + 80, event);
    put32(b + 84, 0); /* ip: the source address */
    put32(b + 88, (uint32_t)mix64(p ^ 0x6b6579));   /* key */
    put32(b + 92, (uint32_t)numwant);
    put16(b + 96, port_of(p));
    return 98;
}

/* The readiness probe: torrent N-1's hash (the last one a whitelist holds) announced from
 * the reserved PROBE_PORT, so it never coincides with a workload peer. */
static size_t build_probe(uint8_t *b, uint64_t connid, uint32_t tid, uint32_t event)
{
    size_t len = build_announce(b, connid, tid, 0, event, 0);
    info_hash(cfg.torrents - 1, b + 16);
    put16(b + 96, PROBE_PORT);
    return len;
}

static size_t build_scrape(struct thread *t, uint8_t *b, uint64_t connid, uint32_t tid,
                           unsigned nh)
{
    put64(b, connid);
    put32(b + 8, 2);
    put32(b + 12, tid);
    /* Popular torrents are scraped more: pick the torrent of a random peer. */
    for (unsigned i = 0; i < nh; i++)
        info_hash(torrent_of(rnd_below(t, cfg.peers)), b + 16 + 20 * i);
    return 16 + 20 * (size_t)nh;
}

static void queue_send(struct usock *s, unsigned i, size_t len)
{
    s->siov[i].iov_len = len;
    s->smsg[s->nqueue].msg_hdr.msg_iov = &s->siov[i];
    s->smsg[s->nqueue].msg_hdr.msg_iovlen = 1;
    s->nqueue++;
}

static void flush(struct thread *t, struct usock *s)
{
    unsigned done = 0;
    while (done < s->nqueue) {
        int r = sendmmsg(s->fd, s->smsg + done, s->nqueue - done, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            /* EAGAIN (a full socket buffer) or ECONNREFUSED (nobody listening yet): the
             * requests are lost; their slots time out and are reissued. */
            INC(t, send_errors, s->nqueue - done);
            break;
        }
        INC(t, sent, (unsigned)r);
        done += (unsigned)r;
    }
    s->nqueue = 0;
}

/* Fill mode: the next peer of this thread's share (p = id, id + T, id + 2T, ...). */
static bool fill_take(struct thread *t, uint64_t *p)
{
    if (t->fill_next >= cfg.peers) {
        t->fill_exhausted = true;
        return false;
    }
    *p = t->fill_next;
    t->fill_next += cfg.threads;
    return true;
}

/* The steady workload's next request (announce or scrape) into slot sl; returns its length. */
static size_t issue_load(struct thread *t, struct usock *s, struct slot *sl, uint8_t *b,
                         uint32_t tid)
{
    if (rnd_below(t, cfg.w_announce + cfg.w_scrape) < cfg.w_announce) {
        uint64_t p = rnd_below(t, cfg.peers);
        uint32_t ev = EV_NONE;
        if (cfg.event_pct > 0 && (double)rnd_below(t, 1000000) < cfg.event_pct * 10000)
            ev = 1 + (uint32_t)rnd_below(t, 3); /* completed, started or stopped */
        sl->kind = K_ANNOUNCE;
        sl->peer = p;
        sl->port = port_of(p);
        sl->numwant = cfg.numwant;
        return build_announce(b, s->connid, tid, p, ev, cfg.numwant);
    }
    sl->kind = K_SCRAPE;
    sl->nhash = (uint8_t)cfg.scrape_hashes;
    return build_scrape(t, b, s->connid, tid, cfg.scrape_hashes);
}

/* Puts a new request into free slot i of s (or leaves it free when there is nothing to send
 * yet: no connection ID, or the fill is done). retry_peer >= 0 re-announces that peer. */
static void issue(struct thread *t, struct usock *s, unsigned i, int64_t retry_peer,
                  unsigned retries)
{
    struct slot *sl = &s->slots[i];
    uint8_t *b = s->sbuf[i];
    size_t len;

    s->seq++;
    uint32_t tid = (s->seq << 8) | i;
    sl->tid = tid;
    sl->sent_at = t->now;
    sl->retries = (uint8_t)retries;

    if (cfg.raw) {
        /* A trivial responder needs no connection ID; send the workload's requests anyway so
         * packet sizes and generator work match the real runs. */
        if (rnd_below(t, cfg.w_announce + cfg.w_scrape) < cfg.w_announce)
            len = build_announce(b, 0, tid, rnd_below(t, cfg.peers), EV_NONE, cfg.numwant);
        else
            len = build_scrape(t, b, 0, tid, cfg.scrape_hashes);
        sl->kind = K_ANNOUNCE;
        s->busy++;
        queue_send(s, i, len);
        return;
    }

    bool stale = s->have_connid && t->now - s->conn_at >= cfg.refresh;
    if ((!s->have_connid || stale) && !s->connect_pending) {
        sl->kind = K_CONNECT;
        s->connect_pending = true;
        s->busy++;
        queue_send(s, i, build_connect(b, tid));
        return;
    }
    if (!s->have_connid) {
        sl->kind = K_FREE; /* filled when the connect reply arrives */
        return;
    }

    if (cfg.fill) {
        uint64_t p;
        if (retry_peer >= 0)
            p = (uint64_t)retry_peer;
        else if (!fill_take(t, &p)) {
            sl->kind = K_FREE;
            return;
        }
        sl->kind = K_ANNOUNCE;
        sl->peer = p;
        sl->port = port_of(p);
        sl->numwant = 0; /* only the insertion matters, and short replies fill faster */
        len = build_announce(b, s->connid, tid, p, EV_STARTED, 0);
    } else {
        if (cfg.rate > 0) {
            if (t->tokens < 1) {
                sl->kind = K_FREE; /* paced: the loop fills it when the bucket has refilled */
                return;
            }
            t->tokens -= 1;
        }
        len = issue_load(t, s, sl, b, tid);
    }
    s->busy++;
    queue_send(s, i, len);
}

static void fill_free_slots(struct thread *t, struct usock *s)
{
    for (unsigned i = 0; i < cfg.inflight; i++)
        if (s->slots[i].kind == K_FREE)
            issue(t, s, i, -1, 0);
}

/* ---- reply validation ---- */

static void note_error(struct thread *t, const uint8_t *b, size_t len)
{
    if (t->first_error[0])
        return;
    size_t n = len - 8 < sizeof t->first_error - 1 ? len - 8 : sizeof t->first_error - 1;
    for (size_t k = 0; k < n; k++)
        t->first_error[k] = (b[8 + k] >= 32 && b[8 + k] < 127) ? (char)b[8 + k] : '?';
    t->first_error[n] = 0;
    if (!n)
        strcpy(t->first_error, "(empty)");
}

static bool valid_announce(struct thread *t, const struct slot *sl, const uint8_t *b,
                           size_t len)
{
    if (len < 20 || (len - 20) % 6)
        return false;
    size_t n = (len - 20) / 6;
    uint64_t leechers = get32(b + 12), seeders = get32(b + 16);
    if (n > (size_t)sl->numwant || n > leechers + seeders)
        return false;
    unsigned self = 0;
    for (size_t k = 0; k < n; k++) {
        const uint8_t *e = b + 20 + 6 * k;
        if (e[0] == 127 && e[1] == 0 && e[2] == 0 && e[3] == 1 && get16(e + 4) == sl->port)
            self++;
    }
    if (self)
        INC(t, self_peers, self);
    INC(t, peers_returned, n);
    return true;
}

static void on_reply(struct thread *t, struct usock *s, const uint8_t *b, size_t len,
                     bool truncated)
{
    if (cfg.raw) {
        INC(t, raw, 1);
        if (s->busy)
            s->busy--;
        issue(t, s, s->ring++ % cfg.inflight, -1, 0);
        return;
    }
    if (len < 8 || truncated) {
        INC(t, invalid, 1);
        return;
    }
    uint32_t action = get32(b), tid = get32(b + 4);
    unsigned i = tid & 0xff;
    struct slot *sl = &s->slots[i];
    if (i >= cfg.inflight || sl->kind == K_FREE || sl->tid != tid) {
        /* The transaction this slot timed out on, answered after all, is late; anything else
         * matches no request at all. */
        if (i < cfg.inflight && tid == sl->lost_tid && tid)
            INC(t, late, 1);
        else
            INC(t, invalid, 1);
        return;
    }

    bool ok = false;
    if (action == 3) {
        INC(t, errors, 1);
        note_error(t, b, len);
        if (sl->kind == K_CONNECT)
            s->connect_pending = false;
        else
            s->have_connid = false; /* as a client would: get a fresh connection ID */
        if (cfg.fill && sl->kind == K_ANNOUNCE)
            INC(t, fill_failed, 1);
        ok = true; /* answered, if negatively */
    } else if (sl->kind == K_CONNECT) {
        if (action == 0 && len == 16) {
            s->connid = get64(b + 8);
            s->have_connid = true;
            s->conn_at = t->now;
            INC(t, connects, 1);
            ok = true;
        }
        s->connect_pending = false;
    } else if (sl->kind == K_ANNOUNCE) {
        if (action == 1 && valid_announce(t, sl, b, len)) {
            INC(t, announces, 1);
            if (cfg.fill)
                INC(t, fill_done, 1);
            ok = true;
        }
    } else if (sl->kind == K_SCRAPE) {
        if (action == 2 && len == 8 + 12 * (size_t)sl->nhash) {
            INC(t, scrapes, 1);
            ok = true;
        }
    }
    if (!ok) {
        INC(t, invalid, 1);
        if (cfg.fill && sl->kind == K_ANNOUNCE)
            INC(t, fill_failed, 1);
    }
    bool got_connid = sl->kind == K_CONNECT && s->have_connid;
    sl->kind = K_FREE;
    s->busy--;
    issue(t, s, i, -1, 0);
    if (got_connid)
        fill_free_slots(t, s);
}

static void check_timeouts(struct thread *t, struct usock *s)
{
    if (cfg.raw) {
        /* No transaction ids to match: if a socket heard nothing for a whole time-out, count
         * everything outstanding as lost and start over. */
        if (s->busy && t->now - s->last_rx > cfg.timeout) {
            INC(t, timeouts, s->busy);
            s->busy = 0;
            s->last_rx = t->now;
            for (unsigned i = 0; i < cfg.inflight; i++)
                issue(t, s, s->ring++ % cfg.inflight, -1, 0);
        }
        return;
    }
    for (unsigned i = 0; i < cfg.inflight; i++) {
        struct slot *sl = &s->slots[i];
        if (sl->kind == K_FREE || t->now - sl->sent_at < cfg.timeout)
            continue;
        INC(t, timeouts, 1);
        sl->lost_tid = sl->tid;
        int64_t retry = -1;
        unsigned retries = 0;
        if (sl->kind == K_CONNECT)
            s->connect_pending = false;
        else if (cfg.fill && sl->kind == K_ANNOUNCE) {
            if (sl->retries < 5) {
                retry = (int64_t)sl->peer;
                retries = sl->retries + 1u;
            } else {
                INC(t, fill_failed, 1);
            }
        }
        sl->kind = K_FREE;
        s->busy--;
        issue(t, s, i, retry, retries);
    }
    fill_free_slots(t, s);
}

/* ---- threads ---- */

static int open_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int sz = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(cfg.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* connect(): sendmmsg needs no address and the kernel drops datagrams from elsewhere. */
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int setup_socket(struct usock *s)
{
    memset(s, 0, sizeof *s);
    s->fd = open_socket();
    s->sbuf = calloc(cfg.inflight, sizeof *s->sbuf);
    s->rbuf = calloc(cfg.inflight, sizeof *s->rbuf);
    s->rmsg = calloc(cfg.inflight, sizeof *s->rmsg);
    s->smsg = calloc(cfg.inflight * 2, sizeof *s->smsg);
    s->riov = calloc(cfg.inflight, sizeof *s->riov);
    s->siov = calloc(cfg.inflight, sizeof *s->siov);
    if (s->fd < 0 || !s->sbuf || !s->rbuf || !s->rmsg || !s->smsg || !s->riov || !s->siov)
        return -1;
    for (unsigned i = 0; i < cfg.inflight; i++) {
        s->riov[i] = (struct iovec){s->rbuf[i], RECV_MAX};
        s->rmsg[i].msg_hdr.msg_iov = &s->riov[i];
        s->rmsg[i].msg_hdr.msg_iovlen = 1;
        s->siov[i].iov_base = s->sbuf[i];
    }
    return 0;
}

static void drain(struct thread *t, struct usock *s)
{
    for (;;) {
        int n = recvmmsg(s->fd, s->rmsg, cfg.inflight, MSG_DONTWAIT, NULL);
        if (n <= 0)
            break; /* EAGAIN; ECONNREFUSED (server not up) is retried by the time-outs */
        s->last_rx = t->now;
        for (int k = 0; k < n; k++) {
            struct mmsghdr *m = &s->rmsg[k];
            on_reply(t, s, s->rbuf[k], m->msg_len, (m->msg_hdr.msg_flags & MSG_TRUNC) != 0);
            m->msg_hdr.msg_flags = 0;
        }
        flush(t, s);
        if ((unsigned)n < cfg.inflight)
            break;
    }
}

static void *thread_main(void *arg)
{
    struct thread *t = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event *evs = calloc(cfg.sockets, sizeof *evs);
    if (ep < 0 || !evs) {
        perror("udpload: epoll");
        exit(1);
    }
    t->now = now_s();
    for (unsigned k = 0; k < cfg.sockets; k++) {
        struct usock *s = &t->socks[k];
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
        epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
        s->last_rx = t->now;
        for (unsigned i = 0; i < cfg.inflight; i++)
            issue(t, s, i, -1, 0);
        flush(t, s);
    }
    double next_check = t->now + 0.05, last_refill = t->now;
    double share = cfg.rate / cfg.threads, burst = share * 0.005 > 1 ? share * 0.005 : 1;
    while (!__atomic_load_n(&stop_flag, __ATOMIC_RELAXED)) {
        int n = epoll_wait(ep, evs, (int)cfg.sockets, cfg.rate > 0 ? 1 : 20);
        t->now = now_s();
        for (int k = 0; k < n; k++)
            drain(t, evs[k].data.ptr);
        if (cfg.rate > 0 && !cfg.fill) {
            t->tokens += share * (t->now - last_refill);
            last_refill = t->now;
            if (t->tokens > burst)
                t->tokens = burst;
            for (unsigned k = 0; k < cfg.sockets && t->tokens >= 1; k++) {
                fill_free_slots(t, &t->socks[k]);
                flush(t, &t->socks[k]);
            }
        }
        if (t->now >= next_check) {
            next_check = t->now + 0.05;
            bool idle = true;
            for (unsigned k = 0; k < cfg.sockets; k++) {
                check_timeouts(t, &t->socks[k]);
                flush(t, &t->socks[k]);
                if (t->socks[k].busy)
                    idle = false;
            }
            if (cfg.fill && t->fill_exhausted && idle)
                break;
        }
    }
    __atomic_store_n(&t->done, true, __ATOMIC_RELEASE);
    close(ep);
    free(evs);
    return NULL;
}

static void snapshot(struct counters *sum)
{
    memset(sum, 0, sizeof *sum);
    for (unsigned k = 0; k < cfg.threads; k++) {
        uint64_t *src = (uint64_t *)&threads[k].cnt, *dst = (uint64_t *)sum;
        for (size_t i = 0; i < NCOUNT; i++)
            dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
    }
}

/* ---- the server process, from /proc ---- */

static double server_cpu(void)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", cfg.server_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may contain spaces */
    if (!p)
        return -1;
    unsigned long long utime = 0, stime = 0;
    /* After ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime (fields 3..15 of proc(5)). */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
               &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static long server_rss(void)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%ld/status", cfg.server_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

/* Before measuring anything, wait until the tracker answers an announce for the last torrent
 * of the workload (opentracker loads its whitelist in a thread after it starts answering), as
 * a peer on PROBE_PORT, which it then withdraws again. */
static bool wait_ready(void)
{
    int fd = open_socket();
    if (fd < 0)
        return false;
    /* Blocking with a short receive time-out keeps the probe loop simple. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    struct timeval tv = {0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    struct thread t = {.rng = cfg.seed};
    uint8_t b[RECV_MAX];
    double deadline = now_s() + cfg.wait_ready;
    bool ready = false;
    unsigned connects = 0, announces = 0;
    ssize_t last = -1;
    uint32_t last_action = 0;
    uint64_t connid = 0;
    while (!ready && now_s() < deadline) {
        uint32_t tid = (uint32_t)rnd(&t);
        send(fd, b, build_connect(b, tid), 0);
        ssize_t n = recv(fd, b, sizeof b, 0);
        if (n != 16 || get32(b) != 0 || get32(b + 4) != tid) {
            usleep(50000);
            continue;
        }
        connects++;
        connid = get64(b + 8);
        tid = (uint32_t)rnd(&t);
        send(fd, b, build_probe(b, connid, tid, EV_STARTED), 0);
        last = recv(fd, b, sizeof b, 0);
        last_action = last >= 4 ? get32(b) : 0;
        if (last >= 20 && get32(b) == 1 && get32(b + 4) == tid)
            ready = true;
        else {
            announces += last >= 0;
            usleep(50000);
        }
    }
    if (ready) {
        send(fd, b, build_probe(b, connid, 7, EV_STOPPED), 0);
        (void)recv(fd, b, sizeof b, 0);
    } else {
        fprintf(stderr, "udpload: probe: %u connects answered, %u announces answered wrongly"
                " (last: %zd bytes, action %u)\n", connects, announces, last, last_action);
    }
    close(fd);
    return ready;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: udpload -p PORT [options]        BEP 15 load against 127.0.0.1:PORT\n"
        "       udpload --print-hashes N [--seed S]\n"
        "  -T N              threads (1)\n"
        "  -s N              sockets per thread (4)\n"
        "  -f N              requests in flight per socket (16, at most 256)\n"
        "  -d SEC            measured duration (10)\n"
        "  -w SEC            warm-up before measuring (2)\n"
        "  --torrents N      torrents (1000000)\n"
        "  --peers N         peers (2000000)\n"
        "  --skew S          popularity exponent: torrent rank r gets ~1/r^S of the peers\n"
        "                    (1.0; 0 = peers spread evenly, peer p in torrent p mod N)\n"
        "  --mix A:S         announce:scrape weights (100:1)\n"
        "  --scrape-hashes N info-hashes per scrape (1, at most 74)\n"
        "  --numwant N       peers wanted per announce (30)\n"
        "  --seeders PCT     share of peers that are seeders (75)\n"
        "  --events PCT      share of announces with started/completed/stopped (1)\n"
        "  --seed N          seed of the info-hashes and peer placement (1)\n"
        "  --timeout SEC     a request unanswered this long is lost and reissued (1)\n"
        "  --refresh SEC     age at which a socket gets a new connection ID (60)\n"
        "  --rate N          send at most N requests/s in all (0 = no limit; then -T, -s\n"
        "                    and -f must allow it)\n"
        "  --fill N M        announce N torrents x M peers once each, then stop\n"
        "                    (sets --torrents N --peers N*M; use --skew 0 for exactly M each)\n"
        "  --raw             count any datagram as a reply (trivial responders)\n"
        "  --server-pid PID  report the server's CPU time per reply over the measured\n"
        "                    window (load) or its RSS growth per peer (fill)\n"
        "  --wait-ready SEC  wait this long for the tracker to answer first (10)\n"
        "  --stall SEC       fill: give up after this long without any reply (10)\n"
        "  --print-hashes N  print the info-hashes of torrents 0..N-1 in hex and exit\n"
        "  -q                no human summary on stderr\n");
}

static double num_arg(const char *opt, const char *v, double lo, double hi)
{
    char *end;
    double d = v ? strtod(v, &end) : 0;
    if (!v || end == v || *end || d < lo || d > hi) {
        fprintf(stderr, "udpload: bad value for %s: %s (%g..%g)\n", opt, v ? v : "(none)", lo,
                hi);
        exit(2);
    }
    return d;
}

static void parse_args(int argc, char **argv, long *print_hashes)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NUM(lo, hi) (i++, num_arg(o, v, (lo), (hi)))
        if (!strcmp(o, "-p"))
            cfg.port = (uint16_t)NUM(1, 65535);
        else if (!strcmp(o, "-T"))
            cfg.threads = (unsigned)NUM(1, 64);
        else if (!strcmp(o, "-s"))
            cfg.sockets = (unsigned)NUM(1, 4096);
        else if (!strcmp(o, "-f"))
            cfg.inflight = (unsigned)NUM(1, MAX_INFLIGHT);
        else if (!strcmp(o, "-d"))
            cfg.duration = NUM(0.1, 86400);
        else if (!strcmp(o, "-w"))
            cfg.warmup = NUM(0, 86400);
        else if (!strcmp(o, "--torrents"))
            cfg.torrents = (uint64_t)NUM(1, 1e9);
        else if (!strcmp(o, "--peers"))
            cfg.peers = (uint64_t)NUM(1, 1e10);
        else if (!strcmp(o, "--skew"))
            cfg.skew = NUM(0, 10);
        else if (!strcmp(o, "--mix")) {
            i++;
            if (!v || sscanf(v, "%u:%u", &cfg.w_announce, &cfg.w_scrape) != 2 ||
                cfg.w_announce + cfg.w_scrape == 0) {
                fprintf(stderr, "udpload: --mix wants A:S, e.g. 100:1\n");
                exit(2);
            }
        } else if (!strcmp(o, "--scrape-hashes"))
            cfg.scrape_hashes = (unsigned)NUM(1, MAX_HASHES);
        else if (!strcmp(o, "--numwant"))
            cfg.numwant = (int)NUM(0, 200);
        else if (!strcmp(o, "--seeders"))
            cfg.seeder_pct = (unsigned)NUM(0, 100);
        else if (!strcmp(o, "--events"))
            cfg.event_pct = NUM(0, 100);
        else if (!strcmp(o, "--seed"))
            cfg.seed = (uint64_t)NUM(0, 1e15);
        else if (!strcmp(o, "--timeout"))
            cfg.timeout = NUM(0.01, 60);
        else if (!strcmp(o, "--refresh"))
            cfg.refresh = NUM(0.1, 86400);
        else if (!strcmp(o, "--rate"))
            cfg.rate = NUM(0, 1e9);
        else if (!strcmp(o, "--fill")) {
            cfg.fill = true;
            cfg.fill_torrents = (uint64_t)NUM(1, 1e9);
            o = "--fill M";
            v = i + 1 < argc ? argv[i + 1] : NULL;
            cfg.fill_per = (uint64_t)NUM(1, 1e6);
        } else if (!strcmp(o, "--raw"))
            cfg.raw = true;
        else if (!strcmp(o, "--server-pid"))
            cfg.server_pid = (long)NUM(1, 1e9);
        else if (!strcmp(o, "--stall"))
            cfg.stall = NUM(0.5, 3600);
        else if (!strcmp(o, "--wait-ready"))
            cfg.wait_ready = NUM(0, 600);
        else if (!strcmp(o, "--print-hashes"))
            *print_hashes = (long)NUM(0, 1e9);
        else if (!strcmp(o, "-q"))
            cfg.quiet = true;
        else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "udpload: unknown option %s\n", o);
            usage(stderr);
            exit(2);
        }
#undef NUM
    }
    if (cfg.fill) {
        cfg.torrents = cfg.fill_torrents;
        cfg.peers = cfg.fill_torrents * cfg.fill_per;
    }
    double n1 = (double)cfg.torrents + 1.0;
    cfg.log_n1 = log(n1);
    if (cfg.skew > 0 && cfg.skew != 1.0) {
        cfg.zk = pow(n1, 1.0 - cfg.skew) - 1.0;
        cfg.inv1s = 1.0 / (1.0 - cfg.skew);
    }
}

static void print_load(const struct counters *a, const struct counters *b, double secs,
                       double cpu)
{
    uint64_t ok = cfg.raw ? b->raw - a->raw
                          : (b->announces - a->announces) + (b->scrapes - a->scrapes) +
                                (b->connects - a->connects);
    uint64_t err = b->errors - a->errors, inv = b->invalid - a->invalid;
    uint64_t answered = ok + err + inv;
    double rps = ok / secs;
    double us = cpu >= 0 && answered ? cpu * 1e6 / (double)answered : -1;
    uint64_t ann = b->announces - a->announces;
    double avg_peers = ann ? (double)(b->peers_returned - a->peers_returned) / (double)ann : 0;
    printf("mode=%s rps=%.0f replies=%llu announces=%llu scrapes=%llu connects=%llu "
           "errors=%llu invalid=%llu late=%llu timeouts=%llu send_errors=%llu self=%llu "
           "avg_peers=%.2f seconds=%.3f server_cpu_s=%.3f cpu_us_per_req=%.3f\n",
           cfg.raw ? "raw" : "load", rps, (unsigned long long)ok, (unsigned long long)ann,
           (unsigned long long)(b->scrapes - a->scrapes),
           (unsigned long long)(b->connects - a->connects), (unsigned long long)err,
           (unsigned long long)inv, (unsigned long long)(b->late - a->late),
           (unsigned long long)(b->timeouts - a->timeouts),
           (unsigned long long)(b->send_errors - a->send_errors),
           (unsigned long long)(b->self_peers - a->self_peers), avg_peers, secs, cpu, us);
    if (!cfg.quiet) {
        fprintf(stderr, "udpload: %.0f replies/s over %.1f s (%llu errors, %llu invalid, "
                "%llu timeouts)", rps, secs, (unsigned long long)err, (unsigned long long)inv,
                (unsigned long long)(b->timeouts - a->timeouts));
        if (us >= 0)
            fprintf(stderr, "; server %.2f us CPU per reply", us);
        fprintf(stderr, "\n");
    }
}

int main(int argc, char **argv)
{
    long print_hashes = -1;
    parse_args(argc, argv, &print_hashes);
    if (print_hashes >= 0) {
        uint8_t h[20];
        for (long t = 0; t < print_hashes; t++) {
            info_hash((uint64_t)t, h);
            for (int k = 0; k < 20; k++)
                printf("%02x", h[k]);
            putchar('\n');
        }
        return 0;
    }
    if (!cfg.port) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!cfg.raw && cfg.wait_ready > 0 && !wait_ready()) {
        fprintf(stderr, "udpload: no valid announce reply from 127.0.0.1:%u within %.0f s\n",
                cfg.port, cfg.wait_ready);
        return 1;
    }

    threads = aligned_alloc(64, sizeof *threads * cfg.threads);
    if (!threads)
        return 1;
    memset(threads, 0, sizeof *threads * cfg.threads);
    for (unsigned k = 0; k < cfg.threads; k++) {
        struct thread *t = &threads[k];
        t->id = k;
        t->rng = mix64(cfg.seed * 1000003 + k + (uint64_t)time(NULL));
        t->fill_next = k;
        t->socks = calloc(cfg.sockets, sizeof *t->socks);
        if (!t->socks)
            return 1;
        for (unsigned s = 0; s < cfg.sockets; s++)
            if (setup_socket(&t->socks[s]) < 0) {
                perror("udpload: socket");
                return 1;
            }
    }

    long rss0 = cfg.fill && cfg.server_pid ? server_rss() : -1;
    double t0 = now_s();
    for (unsigned k = 0; k < cfg.threads; k++)
        pthread_create(&threads[k].th, NULL, thread_main, &threads[k]);

    struct counters a, b;
    if (cfg.fill) {
        /* A tracker that stops answering would keep the fill retrying for ever: give up
         * after --stall seconds without a single reply. */
        uint64_t seen = 0;
        double last_progress = now_s();
        bool stalled = false;
        for (;;) {
            usleep(100000);
            bool all_done = true;
            for (unsigned k = 0; k < cfg.threads; k++)
                if (!__atomic_load_n(&threads[k].done, __ATOMIC_ACQUIRE))
                    all_done = false;
            if (all_done)
                break;
            snapshot(&b);
            uint64_t now_seen = b.announces + b.connects + b.errors + b.invalid;
            if (now_seen != seen) {
                seen = now_seen;
                last_progress = now_s();
            } else if (now_s() - last_progress > cfg.stall) {
                stalled = true;
                __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
                break;
            }
        }
        for (unsigned k = 0; k < cfg.threads; k++)
            pthread_join(threads[k].th, NULL);
        if (stalled)
            fprintf(stderr, "udpload: no reply for %.0f s: fill abandoned\n", cfg.stall);
        double secs = now_s() - t0;
        snapshot(&b);
        usleep(300000); /* let the server finish what it queued before reading its RSS */
        long rss1 = rss0 >= 0 ? server_rss() : -1;
        double per = rss0 >= 0 && rss1 >= 0 ? (double)(rss1 - rss0) / (double)cfg.peers : -1;
        printf("mode=fill torrents=%llu peers=%llu ok=%llu failed=%llu errors=%llu "
               "invalid=%llu timeouts=%llu seconds=%.3f rate=%.0f rss_before=%ld "
               "rss_after=%ld bytes_per_peer=%.2f\n",
               (unsigned long long)cfg.torrents, (unsigned long long)cfg.peers,
               (unsigned long long)b.fill_done, (unsigned long long)b.fill_failed,
               (unsigned long long)b.errors, (unsigned long long)b.invalid,
               (unsigned long long)b.timeouts, secs, (double)b.fill_done / secs, rss0, rss1,
               per);
        if (!cfg.quiet) {
            fprintf(stderr, "udpload: filled %llu peers in %llu torrents in %.1f s",
                    (unsigned long long)b.fill_done, (unsigned long long)cfg.torrents, secs);
            if (per >= 0)
                fprintf(stderr, "; server RSS +%.1f MiB = %.1f bytes per peer",
                        (double)(rss1 - rss0) / 1048576.0, per);
            fprintf(stderr, "\n");
        }
        for (unsigned k = 0; k < cfg.threads; k++)
            if (threads[k].first_error[0] && !cfg.quiet)
                fprintf(stderr, "udpload: first error reply: %s\n", threads[k].first_error);
        return b.fill_done == cfg.peers ? 0 : 1;
    }

    struct timespec ws = {(time_t)cfg.warmup, (long)((cfg.warmup - (time_t)cfg.warmup) * 1e9)};
    nanosleep(&ws, NULL);
    double c0 = cfg.server_pid ? server_cpu() : -1;
    double m0 = now_s();
    snapshot(&a);
    struct timespec ds = {(time_t)cfg.duration,
                          (long)((cfg.duration - (time_t)cfg.duration) * 1e9)};
    nanosleep(&ds, NULL);
    snapshot(&b);
    double m1 = now_s();
    double c1 = cfg.server_pid ? server_cpu() : -1;
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
    for (unsigned k = 0; k < cfg.threads; k++)
        pthread_join(threads[k].th, NULL);
    print_load(&a, &b, m1 - m0, c0 >= 0 && c1 >= 0 ? c1 - c0 : -1);
    for (unsigned k = 0; k < cfg.threads; k++)
        if (threads[k].first_error[0] && !cfg.quiet)
            fprintf(stderr, "udpload: first error reply: %s\n", threads[k].first_error);
    return 0;
}
