/* fuzz_store.c - libFuzzer harness for the swarm table (src/store/), checked against a model.
 *
 * Each input is a store configuration (4 bytes: shards, hash key, clock start, peer timeout,
 * torrent_keep, and the caps: max torrents, peers per torrent, a memory budget a few KiB over
 * the empty store's size, eviction on/off) and then a program of small operations on a
 * fresh store: announces over 8 info-hashes x 2 families x 64 addresses x 4 ports with any
 * event, seeder flag, numwant and both_families; bursts of announces or stops (big swarms:
 * vector growth and shrinking); scrapes and full walks; time steps followed by a full expiry
 * sweep. A plain-array model of the same swarms predicts every count, and every reply's peers
 * are checked: the right number, distinct, present, never the announcer, leechers first for a
 * seeder. The model also predicts every cap: a refusal exactly when a cap is reached (with the
 * right kind, nothing changed, no peers); with eviction on, a new torrent at a cap either
 * evicts exactly one torrent of at most one peer from its own shard (or the first following
 * shard that has one), the most expendable there (no peer, lone leecher, lone seeder; oldest
 * first), or is refused because no shard holds one. Cluster mode is in it too: announces may
 * ask for the publish decision (checked against the model's rule), and batches of remote
 * deltas go through store_apply_remote (in stores without caps: remote records are refused,
 * never evict, at a cap). store_check runs after every operation; any mismatch aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/remote.h"
#include "store/shard.h"
#include "store/store.h"

#define NH 8
#define NA 64
#define NP 4
#define NPEERS (NA * NP)
#define MAXWANT 255

struct mpeer {
    bool present, seeder;
    uint32_t t;
};

struct mtorrent {
    bool exists;
    uint32_t completed, active;
    unsigned n[2], seeds[2];   /* kept with p, so that checking costs O(1) per announce */
    struct mpeer p[2][NPEERS]; /* [0] v4, [1] v6; index = address * NP + port */
};

struct fuzz {
    store_t *s;
    uint32_t now, timeout, keep;
    uint64_t max_torrents, max_bytes;
    uint32_t max_peers;
    unsigned nshards;
    bool evict;
    uint64_t rng;
    struct mtorrent m[NH];
    uint8_t hashes[NH][INFO_HASH_LEN];
    uint8_t out4[MAXWANT * 6], out6[MAXWANT * 18];
};

static struct fuzz F;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_store: %s\n", what);
    abort();
}

static struct peer_addr make_addr(int fam, unsigned idx)
{
    struct peer_addr a;
    memset(&a, 0, sizeof a);
    unsigned addr = idx / NP, port = idx % NP;
    if (fam == 0) {
        a.family = ADDR_V4;
        a.ip[0] = 10;
        a.ip[3] = (uint8_t)addr;
    } else {
        a.family = ADDR_V6;
        a.ip[0] = 0x20;
        a.ip[1] = 0x01;
        a.ip[2] = 0x0d;
        a.ip[3] = 0xb8;
        a.ip[15] = (uint8_t)addr;
    }
    a.port = (uint16_t)(1000 + port);
    return a;
}

/* Packed reply entry back to a model index; -1 if it is no address we ever used. */
static int decode(int fam, const uint8_t *e)
{
    static const uint8_t pre4[4] = {10, 0, 0, 0}, pre6[16] = {0x20, 0x01, 0x0d, 0xb8};
    size_t alen = fam == 0 ? 4 : 16;
    if (memcmp(e, fam == 0 ? pre4 : pre6, alen - 1) != 0)
        return -1;
    unsigned addr = e[alen - 1], port = (unsigned)(e[alen] << 8 | e[alen + 1]);
    if (addr >= NA || port < 1000 || port >= 1000 + NP)
        return -1;
    return (int)(addr * NP + (port - 1000));
}

static void model_counts(const struct mtorrent *t, struct swarm_counts *c, unsigned *n)
{
    memset(c, 0, sizeof *c);
    n[0] = n[1] = 0;
    if (!t->exists)
        return;
    c->completed = t->completed;
    c->seeders = t->seeds[0] + t->seeds[1];
    c->leechers = t->n[0] + t->n[1] - c->seeders;
    n[0] = t->n[0];
    n[1] = t->n[1];
}

static void model_set(struct mtorrent *t, int fam, unsigned idx, bool present, bool seeder)
{
    struct mpeer *p = &t->p[fam][idx];
    if (p->present) {
        t->n[fam]--;
        t->seeds[fam] -= p->seeder;
    }
    p->present = present;
    p->seeder = present && seeder;
    if (present) {
        t->n[fam]++;
        t->seeds[fam] += seeder;
        p->t = F.now;
    }
}

static void check_store(void)
{
    char err[256];
    if (!store_check(F.s, err, sizeof err))
        fail(err);

    struct store_stats st, want;
    memset(&want, 0, sizeof want);
    for (unsigned h = 0; h < NH; h++) {
        struct swarm_counts c;
        unsigned n[2];
        model_counts(&F.m[h], &c, n);
        want.torrents += F.m[h].exists;
        want.peers4 += n[0];
        want.peers6 += n[1];
        want.seeders += c.seeders;
        want.leechers += c.leechers;
    }
    store_get_stats(F.s, &st);
    if (st.torrents != want.torrents || st.peers4 != want.peers4 || st.peers6 != want.peers6 ||
        st.seeders != want.seeders || st.leechers != want.leechers)
        fail("stats differ from the model");
}

static void same_counts(const struct swarm_counts *a, const struct swarm_counts *b)
{
    if (a->seeders != b->seeders || a->leechers != b->leechers || a->completed != b->completed)
        fail("counts differ from the model");
}

/* Check one family's part of a reply. */
static void check_peers(const struct mtorrent *t, int fam, const uint8_t *out, unsigned n,
                        unsigned expect, int self, bool seeder_asks)
{
    static bool seen[NPEERS];
    size_t rs = fam == 0 ? 6 : 18;
    unsigned leechers_out = 0, leechers_avail;

    if (n != expect)
        fail("reply has the wrong number of peers");
    memset(seen, 0, sizeof seen);
    for (unsigned i = 0; i < n; i++) {
        int idx = decode(fam, out + i * rs);
        if (idx < 0 || !t->p[fam][idx].present)
            fail("reply holds a peer that is not in the swarm");
        if (idx == self)
            fail("reply holds the announcer itself");
        if (seen[idx])
            fail("reply holds a peer twice");
        seen[idx] = true;
        leechers_out += !t->p[fam][idx].seeder;
    }
    if (!seeder_asks)
        return;
    leechers_avail = t->n[fam] - t->seeds[fam]; /* the announcer, a seeder, is not among them */
    if (leechers_out != (n < leechers_avail ? n : leechers_avail))
        fail("a seeder was not given the leechers first");
}

/* Eviction order of a model torrent, as the store ranks it: -1 never, else lower first. */
static int model_rank(const struct mtorrent *t)
{
    unsigned n = t->n[0] + t->n[1];
    if (n > 1)
        return -1;
    return n == 0 ? 0 : t->seeds[0] + t->seeds[1] ? 2 : 1;
}

static unsigned shard_of(unsigned h)
{
    uint64_t hv;
    return store_shard_of(F.s, F.hashes[h], &hv);
}

/* The cap a new torrent (or a new peer in torrent h) reaches now, before the announce. */
static enum store_refusal model_cap(unsigned h, bool new_torrent)
{
    uint64_t mem = store_memory(F.s);
    if (new_torrent) {
        unsigned n = 0;
        for (unsigned i = 0; i < NH; i++)
            n += F.m[i].exists;
        if (F.max_torrents && n >= F.max_torrents)
            return STORE_FULL_TORRENTS;
        if (F.max_bytes && mem >= F.max_bytes - F.max_bytes / 16)
            return STORE_FULL_MEMORY;
        return STORE_OK;
    }
    if (F.max_peers && F.m[h].n[0] + F.m[h].n[1] >= F.max_peers)
        return STORE_FULL_PEERS;
    if (F.max_bytes && mem >= F.max_bytes)
        return STORE_FULL_MEMORY;
    return STORE_OK;
}

/* True when torrent a is a better eviction victim than b (both evictable). */
static bool better_victim(const struct mtorrent *a, const struct mtorrent *b)
{
    int ra = model_rank(a), rb = model_rank(b);
    return ra < rb || (ra == rb && F.now - a->active > F.now - b->active);
}

/* The shard an eviction for new torrent h must come from: h's own if it holds an evictable
 * torrent, else the first of the following shards that does (the store tries up to 64, which
 * with at most 16 shards here is all of them); -1 when none does. */
static int victim_shard(unsigned h)
{
    for (unsigned k = 0; k < F.nshards; k++) {
        unsigned sh = (shard_of(h) + k) % F.nshards;
        for (unsigned u = 0; u < NH; u++)
            if (u != h && F.m[u].exists && shard_of(u) == sh && model_rank(&F.m[u]) >= 0)
                return (int)sh;
    }
    return -1;
}

/* Torrent h (new) evicted one: find it (the torrent the store no longer knows), check it was
 * the most expendable of the right shard, and drop it from the model. Runs after the
 * announce: vshard was computed before it. */
static void model_evicted(unsigned h, int vshard)
{
    int victim = -1;
    struct swarm_counts c;
    for (unsigned v = 0; v < NH; v++) {
        if (v == h || !F.m[v].exists || store_scrape(F.s, F.hashes[v], &c))
            continue;
        if (victim >= 0)
            fail("an eviction removed two torrents");
        victim = (int)v;
    }
    if (victim < 0)
        fail("an eviction was reported but no torrent is gone");
    struct mtorrent *vt = &F.m[victim];
    if ((int)shard_of((unsigned)victim) != vshard)
        fail("evicted a torrent of the wrong shard");
    if (model_rank(vt) < 0)
        fail("evicted a swarm of two or more peers");
    for (unsigned u = 0; u < NH; u++)
        if (u != h && (int)u != victim && F.m[u].exists && (int)shard_of(u) == vshard &&
            model_rank(&F.m[u]) >= 0 && better_victim(&F.m[u], vt))
            fail("evicted a torrent while a more expendable one was in the shard");
    memset(vt, 0, sizeof *vt);
}


static void do_announce(unsigned h, int fam, unsigned idx, enum announce_event ev, bool seeder,
                        unsigned numwant, bool both, uint32_t renew)
{
    struct mtorrent *t = &F.m[h];
    const struct mpeer before = t->p[fam][idx];
    bool was = t->exists && before.present;
    bool new_torrent = !t->exists, new_peer = t->exists && !t->p[fam][idx].present;
    enum store_refusal cap = STORE_OK;
    int vshard = -1;
    if (ev != EVENT_STOPPED && (new_torrent || new_peer))
        cap = model_cap(h, new_torrent);
    if (cap != STORE_OK && new_torrent && F.evict)
        vshard = victim_shard(h);
    struct store_announce_in in = {
        .info_hash = F.hashes[h],
        .peer = make_addr(fam, idx),
        .seeder = seeder,
        .event = ev,
        .now = F.now,
        .numwant = numwant,
        .both_families = both,
        .out4 = F.out4,
        .out6 = F.out6,
        .rng = &F.rng,
        .publish_renew = renew,
    };
    struct store_announce_out out;
    if (!store_announce(F.s, &in, &out))
        fail("store_announce failed");

    /* Caps: refused exactly at one (or, evicting, admitted by freeing one victim). */
    if (cap == STORE_OK) {
        if (out.refused != STORE_OK || out.evicted != STORE_OK)
            fail("refused or evicted below every cap");
    } else if (vshard >= 0) {
        if (out.refused != STORE_OK || out.evicted != cap)
            fail("a new torrent at a cap not admitted by evicting an evictable torrent");
        model_evicted(h, vshard);
    } else {
        if (out.refused != cap)
            fail("not refused, or refused for another cap, at a cap");
        if (out.evicted != STORE_OK)
            fail("refused and evicted at once");
    }
    if (out.refused != STORE_OK) {
        struct swarm_counts c;
        unsigned n[2];
        model_counts(t, &c, n);
        same_counts(&out.counts, &c);
        if (out.n4 || out.n6)
            fail("a refused announce got peers");
        if (out.publish)
            fail("a refused announce asks for publication");
        return;
    }
    if (F.max_bytes && store_memory(F.s) > F.max_bytes + 8192)
        fail("store memory far over the budget");

    /* The publish decision, as store.h states it (time only moves in do_expire, which drops
     * peers older than the timeout, so the model's ages are exact). */
    bool want = false;
    if (renew && ev == EVENT_STOPPED)
        want = was;
    else if (renew)
        want = !was || before.seeder != seeder || (ev == EVENT_COMPLETED && !before.seeder) ||
               F.now - before.t >= renew;
    if (out.publish != want)
        fail("publish decision differs from the model");

    /* The model. */
    if (ev == EVENT_STOPPED) {
        if (t->exists) {
            model_set(t, fam, idx, false, false);
            t->active = F.now;
        }
    } else {
        if (!t->exists) {
            memset(t, 0, sizeof *t);
            t->exists = true;
        }
        struct mpeer *p = &t->p[fam][idx];
        if (ev == EVENT_COMPLETED && !(p->present && p->seeder))
            t->completed++;
        model_set(t, fam, idx, true, seeder);
        t->active = F.now;
    }
    struct swarm_counts c;
    unsigned n[2];
    model_counts(t, &c, n);
    same_counts(&out.counts, &c);
    if (ev == EVENT_STOPPED) {
        if (t->exists && n[0] + n[1] == 0 && t->completed == 0)
            t->exists = false;
        if (out.n4 || out.n6)
            fail("a stopped announce got peers");
        return;
    }

    unsigned own = n[fam] - 1, other = n[!fam];
    unsigned got_own = numwant < own ? numwant : own;
    unsigned got_other = both ? (numwant - got_own < other ? numwant - got_own : other) : 0;
    check_peers(t, fam, fam == 0 ? F.out4 : F.out6, fam == 0 ? out.n4 : out.n6, got_own, (int)idx,
                seeder);
    check_peers(t, !fam, fam == 0 ? F.out6 : F.out4, fam == 0 ? out.n6 : out.n4, got_other, -1,
                seeder);
}

/* A batch of remote deltas: n records walking over hashes, families and peers. */
static void do_remote(uint8_t a, uint8_t b, uint8_t c)
{
    static struct store_remote_rec r[32];
    unsigned n = (c & 31) + 1;
    for (unsigned i = 0; i < n; i++) {
        unsigned h = (a + i) & 7, idx = (b + i * 53u) % NPEERS;
        int fam = ((b >> 4) + i) & 1;
        memset(&r[i], 0, sizeof r[i]);
        memcpy(r[i].info_hash, F.hashes[h], INFO_HASH_LEN);
        r[i].peer = make_addr(fam, idx);
        r[i].stop = ((a >> 3) + i) % 4 == 0;
        r[i].seeder = ((c >> 5) + i) & 1;
        r[i].completed = !r[i].stop && ((a >> 6) + i) % 3 == 0;

        struct mtorrent *t = &F.m[h];
        if (r[i].stop) {
            if (t->exists) {
                model_set(t, fam, idx, false, false);
                t->active = F.now;
                if (t->n[0] + t->n[1] == 0 && t->completed == 0)
                    t->exists = false;
            }
            continue;
        }
        if (!t->exists) {
            memset(t, 0, sizeof *t);
            t->exists = true;
        }
        t->completed += r[i].completed;
        model_set(t, fam, idx, true, r[i].seeder);
        t->active = F.now;
    }
    uint8_t res[32];
    if (store_apply_remote(F.s, r, n, F.now, res) != n)
        fail("store_apply_remote refused records without caps");
}

static void do_expire(uint32_t delta)
{
    F.now += delta;
    store_expire_step(F.s, F.now, ~0u);
    for (unsigned h = 0; h < NH; h++) {
        struct mtorrent *t = &F.m[h];
        if (!t->exists)
            continue;
        bool any = false;
        for (int f = 0; f < 2; f++)
            for (unsigned i = 0; i < NPEERS; i++) {
                struct mpeer *p = &t->p[f][i];
                if (p->present && F.now - p->t > F.timeout)
                    model_set(t, f, i, false, false);
                any |= p->present;
            }
        if (!any && (t->completed == 0 || (int32_t)(F.now - t->active) >= (int64_t)F.keep))
            t->exists = false;
    }
}

static void count_visit(void *ctx, const uint8_t *info_hash, const struct swarm_counts *c)
{
    unsigned *n = ctx;
    for (unsigned h = 0; h < NH; h++) {
        if (memcmp(info_hash, F.hashes[h], INFO_HASH_LEN) == 0) {
            struct swarm_counts mc;
            unsigned np[2];
            model_counts(&F.m[h], &mc, np);
            if (!F.m[h].exists)
                fail("store_foreach visits a torrent the model does not have");
            same_counts(c, &mc);
            (*n)++;
            return;
        }
    }
    fail("store_foreach visits an unknown info-hash");
}

static void do_scrape(unsigned h)
{
    struct swarm_counts c, mc;
    unsigned n[2], visited = 0, exist = 0;
    bool known = store_scrape(F.s, F.hashes[h], &c);
    if (known != F.m[h].exists)
        fail("scrape: known/unknown differs from the model");
    model_counts(&F.m[h], &mc, n);
    same_counts(&c, &mc);
    store_foreach(F.s, count_visit, &visited);
    for (unsigned i = 0; i < NH; i++)
        exist += F.m[i].exists;
    if (visited != exist)
        fail("store_foreach missed torrents");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t starts[4] = {1, 32700, 65000, 4294966000u};
    static const uint32_t peer_caps[4] = {0, 1, 3, 40};
    static const uint32_t budgets[4] = {0, 512, 3000, 12000};
    if (size < 4)
        return 0;

    struct store_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.shards_log2 = 1 + (data[0] & 3);
    cfg.peer_timeout = 30 + data[1];
    cfg.torrent_keep = (uint32_t)data[2] * 4;
    for (int i = 0; i < 16; i++)
        cfg.hash_key[i] = (uint8_t)(i ^ data[0]);
    /* Caps: byte 3 = evict(1) budget(2) peers(2) torrents(3), high bit first. The budget is
     * counted from the empty store's own size, learnt from a store without one. */
    cfg.max_torrents = data[3] & 7;
    cfg.max_peers = peer_caps[(data[3] >> 3) & 3];
    cfg.evict = (data[3] >> 7) & 1;
    if (budgets[(data[3] >> 5) & 3]) {
        store_t *probe = store_new(&cfg);
        if (!probe)
            fail("store_new failed");
        cfg.max_bytes = store_memory(probe) + budgets[(data[3] >> 5) & 3];
        store_free(probe);
    }
    F.max_torrents = cfg.max_torrents;
    F.max_peers = cfg.max_peers;
    F.max_bytes = cfg.max_bytes;
    F.evict = cfg.evict;
    F.nshards = 1u << cfg.shards_log2;
    memset(&F.m, 0, sizeof F.m);
    F.now = starts[data[0] >> 6] + (data[0] >> 2 & 15) * 61;
    F.timeout = cfg.peer_timeout;
    F.keep = cfg.torrent_keep;
    F.rng = data[1];
    for (unsigned h = 0; h < NH; h++) {
        memset(F.hashes[h], 0x11 * (h + 1), INFO_HASH_LEN);
        F.hashes[h][19] = (uint8_t)h;
    }
    F.s = store_new(&cfg);
    if (!F.s)
        fail("store_new failed");
    data += 4;
    size -= 4;

    while (size >= 4) {
        uint8_t op = data[0], a = data[1], b = data[2], c = data[3];
        data += 4;
        size -= 4;
        unsigned h = a & 7;
        int fam = (a >> 3) & 1;
        switch (op & 7) {
        case 0:
        case 1:
        case 2:
        case 3:
            do_announce(h, fam, b, (enum announce_event)((a >> 4) & 3), (a >> 6) & 1, c,
                        (a >> 7) & 1, (op & 8) ? 1 + ((op >> 4) & 15) * 8u : 0);
            break;
        case 4:
            if ((op & 8) && !F.max_torrents && !F.max_peers && !F.max_bytes)
                do_remote(a, b, c);
            else
                do_scrape(h);
            break;
        case 5:
            do_expire((uint32_t)b | (uint32_t)(op >> 6) << 8);
            break;
        case 6: /* a burst of started/regular announces: big swarms */
            for (unsigned i = 0; i < b; i++) {
                unsigned idx = (c + i * 37u) % NPEERS;
                do_announce(h, fam, idx, (a >> 4) & 1 ? EVENT_STARTED : EVENT_NONE,
                            (i >> ((a >> 5) & 3)) & 1, (op >> 3) & 31, (a >> 7) & 1, 0);
            }
            break;
        default: /* a burst of stops */
            for (unsigned i = 0; i < b; i++)
                do_announce(h, fam, (c + i * 37u) % NPEERS, EVENT_STOPPED, false, 0, false,
                            (op & 8) ? 30 : 0);
            break;
        }
        check_store();
    }
    store_free(F.s);
    F.s = NULL;
    return 0;
}
