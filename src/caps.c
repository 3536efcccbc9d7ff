/* caps.c - failure reasons, counters and rate-limited log lines for refused announces.
 *
 * A flood of junk info-hashes refuses thousands of announces a second once a cap is reached;
 * logging each would turn the flood into a disk-filling one, so each kind of refusal logs at
 * most once per CAPS_LOG_INTERVAL seconds, with the running total. */
#include "caps.h"

#include "tracker.h"
#include "util/log.h"

const char *caps_reason(enum store_refusal r)
{
    switch (r) {
    case STORE_FULL_TORRENTS:
        return "tracker full: too many torrents";
    case STORE_FULL_PEERS:
        return "torrent full: too many peers";
    case STORE_FULL_MEMORY:
        return "tracker full: out of memory budget";
    case STORE_OK:
        break;
    }
    return "refused";
}

static enum stat_counter counter_of(enum store_refusal r)
{
    switch (r) {
    case STORE_FULL_PEERS:
        return STAT_REFUSED_PEERS;
    case STORE_FULL_MEMORY:
        return STAT_REFUSED_MEMORY;
    default:
        return STAT_REFUSED_TORRENTS;
    }
}

/* clock_now() of each kind's last log line, 0 = never. */
static uint32_t last_logged[STORE_FULL_MEMORY + 1];
static uint32_t last_evict_logged;

/* True for the one caller (of those racing) that may log now, at most once per interval. */
static bool may_log(uint32_t *last_at, uint32_t now)
{
    uint32_t last = __atomic_load_n(last_at, __ATOMIC_RELAXED);
    if (last && now - last < CAPS_LOG_INTERVAL)
        return false;
    /* Only the thread that moves the stamp logs, so concurrent events give one line. */
    return __atomic_compare_exchange_n(last_at, &last, now ? now : 1, false, __ATOMIC_RELAXED,
                                       __ATOMIC_RELAXED);
}

void caps_note_eviction(struct tracker_worker *w, enum store_refusal r)
{
    stat_inc(w->stats, STAT_EVICTED);
    if (!may_log(&last_evict_logged, w->now))
        return;
    const struct config *cfg = w->t->cfg;
    unsigned long long total = stats_sum(w->t->stats, tracker_stat_blocks(w->t), STAT_EVICTED);
    if (r == STORE_FULL_TORRENTS)
        log_warn("cap: tracker.max_torrents (%llu) reached, evicting torrents of at most one "
                 "peer for new ones (evicted %llu so far)",
                 (unsigned long long)cfg->max_torrents, total);
    else
        log_warn("cap: tracker.max_memory (%u MiB) reached, evicting torrents of at most one "
                 "peer for new ones (evicted %llu so far)",
                 cfg->max_memory_mib, total);
}

void caps_note_refusal(struct tracker_worker *w, enum store_refusal r)
{
    enum stat_counter k = counter_of(r);
    stat_inc(w->stats, k);
    if ((unsigned)r > STORE_FULL_MEMORY || !may_log(&last_logged[r], w->now))
        return;
    const struct config *cfg = w->t->cfg;
    unsigned long long total = stats_sum(w->t->stats, w->t->nworkers, k);
    switch (r) {
    case STORE_FULL_TORRENTS:
        log_warn("cap: tracker.max_torrents (%llu) reached, new torrents refused "
                 "(%s %llu so far)",
                 (unsigned long long)cfg->max_torrents, stat_name(k), total);
        break;
    case STORE_FULL_PEERS:
        log_warn("cap: tracker.max_peers_per_torrent (%u) reached, new peers refused "
                 "(%s %llu so far)",
                 cfg->max_peers_per_torrent, stat_name(k), total);
        break;
    default:
        log_warn("cap: tracker.max_memory (%u MiB) reached, new torrents and peers refused "
                 "(%s %llu so far)",
                 cfg->max_memory_mib, stat_name(k), total);
        break;
    }
}
