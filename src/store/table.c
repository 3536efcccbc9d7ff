/* table.c - Robin Hood open addressing over inline 40-byte torrent slots (see table.h).
 *
 * Each slot's psl byte is 1 + its distance from its home slot (0 = free). Insertion lets a
 * newcomer take the slot of any resident closer to home ("rob the rich"), which keeps probe
 * lengths short and even at high load; deletion shifts the following run back by one, so no
 * tombstones accumulate. The hash is SipHash-2-4 keyed with a secret: an attacker choosing
 * info-hashes cannot aim them at one shard or one probe run. */
#include "store/table.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util/siphash.h"

#define MIN_CAP 8u
#define MAX_PSL 255u
/* Slot arrays this big are mapped directly, and their capacity rounded up to fill the
 * pages. A growing table frees its old array; from malloc's heap those freed arrays stay
 * resident as holes the next, larger arrays do not fit in (measured: +10 bytes per torrent at
 * 1M torrents; with a 32 KiB threshold, 11 MiB of holes beside 31.5 MiB of tables in the
 * flood test's 32 MiB budget, where tables of ~600 torrents sat just under it), while munmap
 * hands them back at once. Two pages: the rounding costs at most a page per shard. */
#define MMAP_MIN_BYTES (8u * 1024)
#define PAGE_BYTES 4096u

uint64_t table_hash(const uint8_t key[16], const uint8_t *info_hash)
{
    return siphash24(key, info_hash, INFO_HASH_LEN);
}

static inline uint32_t next_slot(uint32_t i, uint32_t cap)
{
    return i + 1 == cap ? 0 : i + 1;
}

struct torrent *table_find(const struct table *tb, uint64_t h, const uint8_t *info_hash)
{
    if (tb->cap == 0)
        return NULL;
    uint32_t i = table_home(tb->cap, h);
    /* Robin Hood order: the key cannot lie past a slot that is nearer its own home. */
    for (unsigned d = 1;; d++) {
        const struct torrent *t = &tb->slots[i];
        if (t->psl < d)
            return NULL;
        if (t->psl == d && memcmp(t->hash, info_hash, INFO_HASH_LEN) == 0)
            return (struct torrent *)t;
        i = next_slot(i, tb->cap);
    }
}

/* Put e into slots (e not present). NULL, with nothing changed, when a probe length would
 * overflow the psl byte (which a keyed hash at load <= 7/8 makes practically impossible; the
 * caller then grows the table). Returns where e landed. */
static struct torrent *place(struct torrent *slots, uint32_t cap, const struct torrent *e,
                             uint64_t h)
{
    uint32_t home = table_home(cap, h), i = home;
    unsigned run = 0, maxpsl = 0;

    /* Dry run to the first free slot: every resident on the way may move one slot on. */
    while (slots[i].psl) {
        if (slots[i].psl > maxpsl)
            maxpsl = slots[i].psl;
        if (++run >= MAX_PSL || maxpsl >= MAX_PSL)
            return NULL;
        i = next_slot(i, cap);
    }

    struct torrent cur = *e, tmp, *landed = NULL;
    cur.psl = 1;
    for (i = home;; i = next_slot(i, cap)) {
        struct torrent *s = &slots[i];
        if (!s->psl) {
            *s = cur;
            return landed ? landed : s;
        }
        if (s->psl < cur.psl) {
            tmp = *s;
            *s = cur;
            cur = tmp;
            if (!landed)
                landed = s;
        }
        cur.psl++;
    }
}

/* A zeroed slot array of at least *cap slots; *cap is updated to what it holds. */
static struct torrent *slots_alloc(uint32_t *cap)
{
    size_t bytes = (size_t)*cap * sizeof(struct torrent);
    if (bytes < MMAP_MIN_BYTES)
        return calloc(*cap, sizeof(struct torrent));
    bytes = (bytes + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    *cap = (uint32_t)(bytes / sizeof(struct torrent));
    return p;
}

static void slots_free(struct torrent *slots, uint32_t cap)
{
    size_t bytes = (size_t)cap * sizeof(struct torrent);
    if (bytes < MMAP_MIN_BYTES)
        free(slots);
    else
        munmap(slots, (bytes + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES);
}

/* Move every torrent into a new slot array of (at least) ncap slots. */
static bool resize(struct table *tb, uint32_t ncap, const uint8_t key[16], struct tally *tl)
{
    for (int attempt = 0; attempt < 4; attempt++, ncap += ncap / 2) {
        struct torrent *ns = slots_alloc(&ncap);
        if (!ns)
            return false;
        bool ok = true;
        for (uint32_t i = 0; i < tb->cap && ok; i++) {
            const struct torrent *t = &tb->slots[i];
            if (t->psl)
                ok = place(ns, ncap, t, table_hash(key, t->hash)) != NULL;
        }
        if (!ok) {
            slots_free(ns, ncap);
            continue;
        }
        if (tb->slots)
            slots_free(tb->slots, tb->cap);
        tl->bytes = tl->bytes - (uint64_t)tb->cap * sizeof *ns + (uint64_t)ncap * sizeof *ns;
        tb->slots = ns;
        tb->cap = ncap;
        return true;
    }
    return false;
}

struct torrent *table_add(struct table *tb, uint64_t h, const uint8_t *info_hash,
                          const uint8_t key[16], struct tally *tl)
{
    /* Keep the load at or below 7/8; grow by 1.25x so the average load stays near 0.8. */
    if ((uint64_t)(tb->count + 1) * 8 > (uint64_t)tb->cap * 7) {
        uint32_t ncap = tb->cap < MIN_CAP ? MIN_CAP : tb->cap + tb->cap / 4;
        if (!resize(tb, ncap, key, tl))
            return NULL;
    }
    struct torrent e;
    memset(&e, 0, sizeof e);
    memcpy(e.hash, info_hash, INFO_HASH_LEN);
    for (int attempt = 0; attempt < 4; attempt++) {
        struct torrent *t = place(tb->slots, tb->cap, &e, h);
        if (t) {
            tb->count++;
            return t;
        }
        if (!resize(tb, tb->cap + tb->cap / 2, key, tl))
            return NULL;
    }
    return NULL;
}

void table_del(struct table *tb, struct torrent *t)
{
    uint32_t i = (uint32_t)(t - tb->slots);
    for (;;) {
        uint32_t j = next_slot(i, tb->cap);
        if (tb->slots[j].psl <= 1)
            break; /* free, or at its home: the run ends here */
        tb->slots[i] = tb->slots[j];
        tb->slots[i].psl--;
        i = j;
    }
    memset(&tb->slots[i], 0, sizeof tb->slots[i]);
    tb->count--;
}

void table_shrink(struct table *tb, const uint8_t key[16], struct tally *tl)
{
    if (tb->count == 0) {
        table_free(tb, tl);
        return;
    }
    /* Below 1/4 load: rehash to load 1/2. A failed resize just keeps the larger table. */
    if (tb->cap > 4 * MIN_CAP && tb->count < tb->cap / 4)
        resize(tb, tb->count * 2 < MIN_CAP ? MIN_CAP : tb->count * 2, key, tl);
}

void table_free(struct table *tb, struct tally *tl)
{
    tl->bytes -= (uint64_t)tb->cap * sizeof(struct torrent);
    if (tb->slots)
        slots_free(tb->slots, tb->cap);
    tb->slots = NULL;
    tb->cap = tb->count = 0;
}
