/* wsload.c - WebSocket (WebTorrent) tracker load generator for bench/ws_relay.py.
 *
 *   wsload URL PEERS SWARMS WARMUP_S DURATION_S        (URL: ws://HOST:PORT/PATH)
 *
 * The same load and stdout protocol as bench/ws/load.mjs, in C on one epoll thread, so that
 * the generator is not what limits a fast tracker. It opens PEERS TCP connections, 100 at a
 * time (the next batch once the previous one has joined), each one WebTorrent peer of swarm
 * (i mod SWARMS): RFC 6455 client handshake (the 101 status and Sec-WebSocket-Accept are
 * checked), then one announce with event "started", numwant 0 and no offers. When every
 * peer's reply is in it prints "joined N" and waits for a line on stdin (the caller reads the
 * tracker's memory meanwhile; EOF instead of a line ends the program). Relay phase: every
 * connection keeps one announce in flight carrying 5 offers of ~500-byte SDP (numwant 5),
 * sending the next when the tracker's reply (a text message with "interval" or "complete")
 * arrives; every text message containing "offer":{ counts as a relayed offer. Prints "start"
 * after WARMUP_S, "end OFFERS ANNOUNCES SECONDS" after DURATION_S more (counts of that
 * window), then exits 0. A peer closed, reset or refused exits 2 with a message on stderr,
 * as does a protocol error from the tracker.
 *
 * Cost per message is kept to the sockets: a peer's offer ids do not change between
 * announces (trackers relay them verbatim), so its relay announce is built and masked once
 * as a complete client frame (fixed mask per connection) and each announce is one send();
 * received frames are parsed in place in a per-connection read buffer, and only text frames
 * are searched (memmem). Nothing is allocated per message. Info-hashes, peer ids and offer
 * ids are 20 random bytes JSON-encoded as code points U+0000-U+00FF, like load.mjs's
 * latin1 strings. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/base64.h"
#include "util/sha1.h"

#define BATCH 100               /* connections opened at a time (as load.mjs) */
#define OFFERS 5                /* offers per relay announce */
#define RBUF_INIT 16384         /* a turn's relayed offers (~5 x 700 B) fit in one read */
#define RBUF_MAX (16u << 20)    /* a larger frame from the tracker is an error */
#define JOIN_STALL_S 60         /* no peer joined for this long: give up (no silent hang) */
#define STDIN_TAG UINT32_MAX    /* epoll tag of stdin; peers are tagged by index */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* The SDP of load.mjs, already JSON-escaped (its \r\n as the two-character escapes). */
#define SDP_JSON                                                                           \
    "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n"         \
    "a=group:BUNDLE 0\\r\\na=msid-semantic: WMS\\r\\n"                                      \
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\\r\\n"                                \
    "c=IN IP4 0.0.0.0\\r\\na=ice-ufrag:abcd\\r\\na=ice-pwd:abcdefghijklmnopqrstuvwx\\r\\n"  \
    "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:"    \
    "44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\\r\\n"                                             \
    "a=setup:actpass\\r\\na=mid:0\\r\\na=sctp-port:5000\\r\\na=max-message-size:262144\\r\\n"

enum state { S_CONNECTING, S_HANDSHAKE, S_OPEN };
enum phase { P_JOIN, P_WAIT, P_RELAY, P_MEASURE };

struct peer {
    int fd;
    enum state state;
    bool joined;
    bool want_out;        /* EPOLLOUT registered */
    uint8_t mask[4];
    uint8_t id[20];
    char key[25];         /* Sec-WebSocket-Key (base64 of 16 bytes) */
    uint8_t *rbuf;        /* unparsed bytes: handshake response or frames */
    size_t rlen, rcap;
    uint8_t *obuf;        /* bytes the kernel did not take yet, sent on EPOLLOUT */
    size_t olen, ocap;
    uint8_t *relay;       /* the relay announce, a complete masked frame */
    size_t relay_len;
};

static struct {
    const char *host, *path;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char hostport[300];
    unsigned npeers, nswarms;
    double warmup, duration;
    uint8_t (*hashes)[20];
    struct peer *peers;
    unsigned opened, joined;
    enum phase phase;
    double t_start;       /* relay phase: when the warm-up ends */
    int ep;
    uint64_t offers, announces, failures;
    uint64_t rng[2];
} g;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wsload: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p)
        die("out of memory (%zu bytes)", n);
    return p;
}

/* ---- random bytes: xoroshiro128+ seeded from getrandom (keys, ids and masks need to be
 * unpredictable between runs, not cryptographically strong) ---- */

static uint64_t rnd64(void)
{
    uint64_t s0 = g.rng[0], s1 = g.rng[1], r = s0 + s1;
    s1 ^= s0;
    g.rng[0] = ((s0 << 24) | (s0 >> 40)) ^ s1 ^ (s1 << 16);
    g.rng[1] = (s1 << 37) | (s1 >> 27);
    return r;
}

static void rnd_bytes(uint8_t *p, size_t n)
{
    while (n) {
        uint64_t r = rnd64();
        size_t k = n < 8 ? n : 8;
        memcpy(p, &r, k);
        p += k;
        n -= k;
    }
}

/* ---- Sec-WebSocket-Accept: swarmd's own SHA-1 and base64 (src/util, pure, linked in) ---- */

static void sha1(const void *data, size_t len, uint8_t out[SHA1_LEN])
{
    sha1_digest(data, len, out);
}

static void base64(const uint8_t *in, size_t n, char *out)
{
    base64_encode(in, n, out);
}

/* Self-test on the RFC 6455 section 1.3 example, so a broken SHA-1 fails loudly here rather
 * than as "bad Sec-WebSocket-Accept" from every tracker. */
static void check_accept_math(void)
{
    const char *in = "dGhlIHNhbXBsZSBub25jZQ==" WS_GUID;
    uint8_t d[20];
    char b[32];
    sha1(in, strlen(in), d);
    base64(d, 20, b);
    if (strcmp(b, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != 0)
        die("SHA-1/base64 self-test failed: %s", b);
}

/* ---- messages ---- */

/* 20 bytes as a JSON string of code points U+0000-U+00FF (JSON.stringify of a latin1 string):
 * bytes >= 0x80 as two-byte UTF-8, control bytes, '"' and '\' as \u00xx. Returns the end. */
static char *put_bin20(char *o, const uint8_t *b)
{
    static const char hex[] = "0123456789abcdef";
    *o++ = '"';
    for (int i = 0; i < 20; i++) {
        uint8_t c = b[i];
        if (c < 0x20 || c == '"' || c == '\\') {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else if (c < 0x80) {
            *o++ = (char)c;
        } else {
            *o++ = (char)(0xC0 | (c >> 6));
            *o++ = (char)(0x80 | (c & 0x3F));
        }
    }
    *o++ = '"';
    return o;
}

static char *put_str(char *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(o, s, n);
    return o + n;
}

/* A masked text frame of payload[0..n) into out (room for n + 14); returns its length. */
static size_t build_frame(uint8_t *out, const uint8_t mask[4], const char *payload, size_t n)
{
    size_t h = 0;
    out[h++] = 0x81; /* FIN, text */
    if (n < 126) {
        out[h++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t)(n >> 8);
        out[h++] = (uint8_t)n;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    memcpy(out + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        out[h + i] = (uint8_t)payload[i] ^ mask[i & 3];
    return h + n;
}

/* Largest announce text: the fixed parts plus 2 + 20 x 6 bytes per binary string. */
#define BIN20_MAX 122
#define ANNOUNCE_MAX (256 + 2 * BIN20_MAX + OFFERS * (sizeof(SDP_JSON) + 64 + BIN20_MAX))

static size_t announce_text(char *o0, const struct peer *p, unsigned i, bool relay)
{
    char *o = o0;
    o = put_str(o, "{\"action\":\"announce\",\"info_hash\":");
    o = put_bin20(o, g.hashes[i % g.nswarms]);
    o = put_str(o, ",\"peer_id\":");
    o = put_bin20(o, p->id);
    o = put_str(o, relay ? ",\"numwant\":5" : ",\"numwant\":0");
    o = put_str(o, ",\"uploaded\":0,\"downloaded\":0,\"left\":1000");
    if (!relay)
        return (size_t)(put_str(o, ",\"event\":\"started\",\"offers\":[]}") - o0);
    o = put_str(o, ",\"offers\":[");
    for (int k = 0; k < OFFERS; k++) {
        uint8_t oid[20];
        rnd_bytes(oid, sizeof oid);
        if (k)
            *o++ = ',';
        o = put_str(o, "{\"offer\":{\"type\":\"offer\",\"sdp\":\"" SDP_JSON "\"},\"offer_id\":");
        o = put_bin20(o, oid);
        *o++ = '}';
    }
    return (size_t)(put_str(o, "]}") - o0);
}

/* ---- sockets ---- */

static void set_events(struct peer *p, unsigned i, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u32 = i};
    if (epoll_ctl(g.ep, EPOLL_CTL_MOD, p->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    p->want_out = out;
}

/* Send bytes in order: straight to the kernel unless earlier bytes are still queued; what it
 * does not take is queued and sent on EPOLLOUT. */
static void peer_send(struct peer *p, unsigned i, const void *data, size_t n)
{
    const uint8_t *d = data;
    if (p->olen == 0) {
        ssize_t w = send(p->fd, d, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                die("peer %u: send: %s", i, strerror(errno));
            w = 0;
        }
        d += w;
        n -= (size_t)w;
        if (n == 0)
            return;
    }
    if (p->olen + n > p->ocap) {
        p->ocap = p->olen + n > 4096 ? p->olen + n : 4096;
        p->obuf = xrealloc(p->obuf, p->ocap);
    }
    memcpy(p->obuf + p->olen, d, n);
    p->olen += n;
    if (!p->want_out)
        set_events(p, i, true);
}

static void flush_out(struct peer *p, unsigned i)
{
    while (p->olen) {
        ssize_t w = send(p->fd, p->obuf, p->olen, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            die("peer %u: send: %s", i, strerror(errno));
        }
        memmove(p->obuf, p->obuf + w, p->olen - (size_t)w);
        p->olen -= (size_t)w;
    }
    set_events(p, i, false);
}

static void open_peer(unsigned i)
{
    struct peer *p = &g.peers[i];
    int fd = socket(g.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("peer %u: socket: %s", i, strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* as ws does */
    if (connect(fd, (struct sockaddr *)&g.addr, g.addrlen) < 0 && errno != EINPROGRESS)
        die("peer %u: connect: %s", i, strerror(errno));
    p->fd = fd;
    p->state = S_CONNECTING;
    rnd_bytes(p->mask, 4);
    rnd_bytes(p->id, 20);
    uint8_t k[16];
    rnd_bytes(k, 16);
    base64(k, 16, p->key);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = i};
    if (epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    p->want_out = true;
}

static void open_batch(void)
{
    unsigned end = g.opened + BATCH < g.npeers ? g.opened + BATCH : g.npeers;
    while (g.opened < end)
        open_peer(g.opened++);
}

static void connected(struct peer *p, unsigned i)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
        die("peer %u: connect: %s", i, strerror(err ? err : errno));
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     g.path, g.hostport, p->key);
    if (n < 0 || (size_t)n >= sizeof req)
        die("URL too long");
    p->state = S_HANDSHAKE;
    set_events(p, i, false);
    peer_send(p, i, req, (size_t)n);
}

static void on_stdin(void);

/* The tracker's reply to a peer's first announce: joined; every BATCH joins open the next
 * batch; all joined: report and wait for stdin. */
static void peer_joined(struct peer *p)
{
    if (p->joined)
        return;
    p->joined = true;
    if (++g.joined == g.npeers) {
        printf("joined %u\n", g.joined);
        fflush(stdout);
        g.phase = P_WAIT;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = STDIN_TAG};
        if (epoll_ctl(g.ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) < 0) {
            if (errno != EPERM) /* EPERM: a regular file, always readable */
                die("epoll_ctl(stdin): %s", strerror(errno));
            on_stdin();
        }
    } else if (g.joined % BATCH == 0) {
        open_batch();
    }
}

static void send_relay(struct peer *p, unsigned i)
{
    if (!p->relay) {
        static char text[ANNOUNCE_MAX];
        size_t n = announce_text(text, p, i, true);
        p->relay = xrealloc(NULL, n + 14);
        p->relay_len = build_frame(p->relay, p->mask, text, n);
    }
    peer_send(p, i, p->relay, p->relay_len);
}

static void on_text(struct peer *p, unsigned i, const uint8_t *d, size_t n)
{
    if (memmem(d, n, "\"offer\":{", 9)) {
        g.offers++;
        return;
    }
    if (!memmem(d, n, "\"interval\":", 11) && !memmem(d, n, "\"complete\":", 11)) {
        /* load.mjs ignores anything else; a failure reply would quietly stall this peer,
         * so the first is shown and all are counted. */
        if (memmem(d, n, "\"failure reason\"", 16) && g.failures++ == 0)
            fprintf(stderr, "wsload: peer %u: %.*s\n", i, (int)(n < 300 ? n : 300), d);
        return;
    }
    if (g.phase == P_JOIN || g.phase == P_WAIT) {
        peer_joined(p);
        return;
    }
    g.announces++;
    send_relay(p, i);
}

/* Parse the frames in p->rbuf; keep an incomplete one at the front. */
static void on_frames(struct peer *p, unsigned i)
{
    uint8_t *b = p->rbuf;
    size_t off = 0, len = p->rlen;
    while (len - off >= 2) {
        const uint8_t *h = b + off;
        unsigned op = h[0] & 0x0F;
        if ((h[0] & 0x70) != 0)
            die("peer %u: frame with RSV bits set", i);
        if (h[1] & 0x80)
            die("peer %u: masked frame from the server", i);
        uint64_t plen = h[1] & 0x7F;
        size_t hl = 2;
        if (plen == 126) {
            if (len - off < 4)
                break;
            plen = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (plen == 127) {
            if (len - off < 10)
                break;
            plen = 0;
            for (int k = 0; k < 8; k++)
                plen = plen << 8 | h[2 + k];
            hl = 10;
        }
        if (plen > RBUF_MAX - hl)
            die("peer %u: frame of %llu bytes", i, (unsigned long long)plen);
        if (len - off < hl + plen) {
            if (hl + plen > p->rcap) { /* make room for the whole frame */
                memmove(b, b + off, len - off);
                p->rlen = len - off;
                p->rcap = hl + plen;
                p->rbuf = xrealloc(p->rbuf, p->rcap);
                return;
            }
            break;
        }
        const uint8_t *d = h + hl;
        if (!(h[0] & 0x80) || op == 0)
            die("peer %u: fragmented message (not used by WebTorrent trackers)", i);
        switch (op) {
        case 1: /* text */
            on_text(p, i, d, (size_t)plen);
            break;
        case 2: /* binary: not part of the protocol; ignored like an unknown reply */
            break;
        case 8: /* close */
            die("peer %u closed by the tracker (close frame, code %u)", i,
                plen >= 2 ? (unsigned)d[0] << 8 | d[1] : 1005u);
        case 9: { /* ping: pong with the same payload (<= 125 bytes, a control frame) */
            uint8_t f[6 + 125];
            if (plen > 125)
                die("peer %u: ping of %llu bytes", i, (unsigned long long)plen);
            f[0] = 0x8A;
            f[1] = (uint8_t)(0x80 | plen);
            memcpy(f + 2, p->mask, 4);
            for (size_t k = 0; k < plen; k++)
                f[6 + k] = d[k] ^ p->mask[k & 3];
            peer_send(p, i, f, 6 + (size_t)plen);
            break;
        }
        case 10: /* pong */
            break;
        default:
            die("peer %u: frame with opcode %u", i, op);
        }
        off += hl + (size_t)plen; /* rbuf itself is never reallocated by a handler */
    }
    if (off) {
        memmove(b, b + off, len - off);
        p->rlen = len - off;
    }
}

/* The server's handshake response is in rbuf[0..rlen): check it once complete. */
static void on_handshake(struct peer *p, unsigned i)
{
    uint8_t *end = memmem(p->rbuf, p->rlen, "\r\n\r\n", 4);
    if (!end) {
        if (p->rlen == p->rcap)
            die("peer %u: handshake response too long", i);
        return;
    }
    size_t hlen = (size_t)(end - p->rbuf) + 4;
    char *r = (char *)p->rbuf;
    if (hlen < 16 || memcmp(r, "HTTP/1.1 101", 12) != 0)
        die("peer %u: handshake refused: %.*s", i, (int)((char *)memchr(r, '\r', hlen) - r), r);
    char want[64];
    {
        char src[64];
        uint8_t d[20];
        int n = snprintf(src, sizeof src, "%s%s", p->key, WS_GUID);
        sha1(src, (size_t)n, d);
        base64(d, 20, want);
    }
    bool ok = false;
    const char *line = memchr(r, '\n', hlen);
    while (line && line + 1 < r + hlen) {
        line++;
        static const char name[] = "sec-websocket-accept:";
        const char *eol = memchr(line, '\r', (size_t)(r + hlen - line));
        if (!eol)
            break;
        if ((size_t)(eol - line) > sizeof name - 1 &&
            strncasecmp(line, name, sizeof name - 1) == 0) {
            const char *v = line + sizeof name - 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            ok = (size_t)(ve - v) == strlen(want) && memcmp(v, want, strlen(want)) == 0;
            break;
        }
        line = memchr(line, '\n', (size_t)(r + hlen - line));
    }
    if (!ok)
        die("peer %u: missing or wrong Sec-WebSocket-Accept (want %s)", i, want);
    memmove(p->rbuf, p->rbuf + hlen, p->rlen - hlen);
    p->rlen -= hlen;
    p->state = S_OPEN;
    char text[ANNOUNCE_MAX];
    uint8_t frame[ANNOUNCE_MAX + 14];
    size_t n = announce_text(text, p, i, false);
    peer_send(p, i, frame, build_frame(frame, p->mask, text, n));
    if (p->rlen)
        on_frames(p, i);
}

static void on_readable(struct peer *p, unsigned i)
{
    if (!p->rbuf) {
        p->rcap = RBUF_INIT;
        p->rbuf = xrealloc(NULL, p->rcap);
    }
    for (;;) {
        size_t room = p->rcap - p->rlen;
        ssize_t r = recv(p->fd, p->rbuf + p->rlen, room, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            die("peer %u: recv: %s", i, strerror(errno));
        }
        if (r == 0)
            die("peer %u closed by the tracker (EOF)", i);
        p->rlen += (size_t)r;
        if (p->state == S_HANDSHAKE)
            on_handshake(p, i);
        else
            on_frames(p, i);
        if ((size_t)r < room) /* the socket is most likely drained: skip the EAGAIN call */
            return;
    }
}

static void on_event(unsigned i, uint32_t ev)
{
    struct peer *p = &g.peers[i];
    if (p->state == S_CONNECTING) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            connected(p, i);
        return;
    }
    if (ev & EPOLLOUT)
        flush_out(p, i);
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(p, i);
}

/* A line on stdin starts the relay phase; EOF before one ends the program quietly. */
static void on_stdin(void)
{
    char c;
    for (;;) {
        ssize_t r = read(STDIN_FILENO, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            exit(0);
        if (c == '\n')
            break;
    }
    epoll_ctl(g.ep, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
    g.phase = P_RELAY;
    g.t_start = now_s() + g.warmup;
    for (unsigned i = 0; i < g.npeers; i++)
        send_relay(&g.peers[i], i);
}

static void parse_url(const char *url)
{
    if (strncmp(url, "ws://", 5) != 0)
        die("URL must start with ws://: %s", url);
    const char *h = url + 5, *slash = strchr(h, '/');
    g.path = slash ? slash : "/";
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    if (hl == 0 || hl >= sizeof g.hostport)
        die("bad URL: %s", url);
    memcpy(g.hostport, h, hl);
    g.hostport[hl] = '\0';
    char host[300], *port;
    memcpy(host, h, hl + 1);
    host[hl] = '\0';
    char *hp = host;
    if (*hp == '[') { /* [v6]:port */
        char *rb = strchr(hp, ']');
        if (!rb)
            die("bad URL: %s", url);
        *rb = '\0';
        hp++;
        port = rb[1] == ':' ? rb + 2 : "80";
    } else {
        char *c = strrchr(hp, ':');
        port = c ? (*c = '\0', c + 1) : "80";
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    int e = getaddrinfo(hp, port, &hints, &ai);
    if (e)
        die("%s: %s", url, gai_strerror(e));
    memcpy(&g.addr, ai->ai_addr, ai->ai_addrlen);
    g.addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
}

static void more_fds(unsigned need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < need)
        die("need %u file descriptors, the limit is %llu", need,
            (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: wsload ws://HOST:PORT/PATH PEERS SWARMS WARMUP_S DURATION_S\n");
        return 2;
    }
    parse_url(argv[1]);
    long np = atol(argv[2]), ns = atol(argv[3]);
    g.warmup = atof(argv[4]);
    g.duration = atof(argv[5]);
    if (np <= 0 || np > 10000000 || ns <= 0 || ns > 10000000 || g.warmup < 0 || g.duration <= 0)
        die("bad arguments");
    g.npeers = (unsigned)np;
    g.nswarms = (unsigned)ns;
    check_accept_math();
    signal(SIGPIPE, SIG_IGN);
    more_fds(g.npeers + 64);
    if (getrandom(g.rng, sizeof g.rng, 0) != sizeof g.rng)
        die("getrandom: %s", strerror(errno));
    g.rng[0] |= 1;
    g.hashes = xrealloc(NULL, sizeof *g.hashes * g.nswarms);
    for (unsigned s = 0; s < g.nswarms; s++)
        rnd_bytes(g.hashes[s], 20);
    g.peers = calloc(g.npeers, sizeof *g.peers);
    if (!g.peers)
        die("out of memory");
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    if (g.ep < 0)
        die("epoll_create1: %s", strerror(errno));

    open_batch();
    static struct epoll_event evs[1024];
    double last_join = now_s(), t_end = 0, t0 = 0;
    unsigned joined_seen = 0;
    uint64_t o0 = 0, a0 = 0;
    for (;;) {
        int timeout = -1;
        double t = now_s();
        if (g.phase == P_JOIN) {
            if (g.joined != joined_seen) {
                joined_seen = g.joined;
                last_join = t;
            } else if (t - last_join > JOIN_STALL_S) {
                die("join stalled: %u of %u peers joined", g.joined, g.npeers);
            }
            timeout = 1000;
        } else if (g.phase == P_RELAY) {
            if (t >= g.t_start) {
                o0 = g.offers;
                a0 = g.announces;
                t0 = t;
                t_end = t + g.duration;
                g.phase = P_MEASURE;
                printf("start\n");
                fflush(stdout);
            }
        }
        if (g.phase == P_MEASURE && t >= t_end) {
            printf("end %llu %llu %.3f\n", (unsigned long long)(g.offers - o0),
                   (unsigned long long)(g.announces - a0), t - t0);
            fflush(stdout);
            if (g.failures)
                fprintf(stderr, "wsload: %llu failure replies\n", (unsigned long long)g.failures);
            return 0; /* the kernel closes the connections */
        }
        if (g.phase == P_RELAY)
            timeout = (int)((g.t_start - t) * 1000) + 1;
        else if (g.phase == P_MEASURE)
            timeout = (int)((t_end - t) * 1000) + 1;
        int n = epoll_wait(g.ep, evs, sizeof evs / sizeof evs[0], timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int k = 0; k < n; k++) {
            if (evs[k].data.u32 == STDIN_TAG)
                on_stdin();
            else
                on_event(evs[k].data.u32, evs[k].events);
        }
    }
}
