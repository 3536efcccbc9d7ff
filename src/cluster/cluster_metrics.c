/* cluster_metrics.c - cluster_render (cluster.h): the CLUSTER-SPEC.md metric families, read
 * from the relaxed atomics the threads keep; the lag is computed here, at read time. */
#ifdef SWARMD_HAVE_HIREDIS

#include "cluster/cluster_internal.h"

static const char *const drop_names[DROP_COUNT] = {"ring_full", "outage_buffer", "rate"};

static void fam(struct text *t, bool prom, const char *name, const char *type, const char *help)
{
    if (prom)
        tprintf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void cluster_render(struct cluster *c, struct text *t, bool prom)
{
    uint64_t ring_full = 0;
    for (unsigned i = 0; i < c->nworkers; i++)
        ring_full += cluster_ring_dropped(&c->rings[i]);

    fam(t, prom, "swarmd_cluster_engine_up", "gauge", "1 while both engine connections work.");
    tprintf(t, "swarmd_cluster_engine_up %d\n",
            __atomic_load_n(&c->out_up, __ATOMIC_RELAXED) &&
                __atomic_load_n(&c->in_up, __ATOMIC_RELAXED));
    fam(t, prom, "swarmd_cluster_published_total", "counter",
        "Peer deltas this node wrote to its stream.");
    tprintf(t, "swarmd_cluster_published_total %llu\n", (unsigned long long)get(&c->published));
    fam(t, prom, "swarmd_cluster_dropped_total", "counter",
        "Peer deltas this node did not publish, by reason.");
    for (int i = 0; i < DROP_COUNT; i++)
        tprintf(t, "swarmd_cluster_dropped_total{reason=\"%s\"} %llu\n", drop_names[i],
                (unsigned long long)(i == DROP_RING_FULL ? ring_full : get(&c->dropped[i])));
    fam(t, prom, "swarmd_cluster_applied_total", "counter",
        "Peer deltas from other nodes applied here, by origin node.");
    for (unsigned i = 0; i < c->n_origins; i++)
        tprintf(t, "swarmd_cluster_applied_total{origin=\"%u\"} %llu\n", c->origins[i].id,
                (unsigned long long)get(&c->origins[i].applied));
    fam(t, prom, "swarmd_cluster_rejected_total", "counter",
        "Batches (bad header) or records refused from the bus, by reason.");
    for (int i = 1; i < BATCH_REJECT_COUNT; i++)
        tprintf(t, "swarmd_cluster_rejected_total{reason=\"%s\"} %llu\n",
                batch_reject_name((enum batch_reject)i), (unsigned long long)get(&c->rejected[i]));
    fam(t, prom, "swarmd_cluster_lag_seconds", "gauge",
        "Now minus the origin time (whole seconds) of the last batch applied from that node.");
    uint64_t now_ms = cluster_wall_ms();
    for (unsigned i = 0; i < c->n_origins; i++) {
        uint64_t origin_ms = get(&c->origins[i].origin_ms);
        if (!origin_ms)
            continue; /* nothing applied from it yet: no series rather than a made-up value */
        /* An origin clock ahead of ours (up to the 60 s the batch check allows) reads 0. */
        uint64_t ms = now_ms > origin_ms ? now_ms - origin_ms : 0;
        tprintf(t, "swarmd_cluster_lag_seconds{origin=\"%u\"} %llu.%03u\n", c->origins[i].id,
                (unsigned long long)(ms / 1000), (unsigned)(ms % 1000));
    }
    fam(t, prom, "swarmd_cluster_gaps_total", "counter",
        "Sequence jumps seen in other nodes' streams (dropped or trimmed batches).");
    tprintf(t, "swarmd_cluster_gaps_total %llu\n", (unsigned long long)get(&c->gaps));
    fam(t, prom, "swarmd_cluster_outage_buffer_bytes", "gauge",
        "Batches waiting for the engine, bytes.");
    tprintf(t, "swarmd_cluster_outage_buffer_bytes %llu\n",
            (unsigned long long)get(&c->outage_bytes));
    fam(t, prom, "swarmd_cluster_stream_length", "gauge",
        "Entries in this node's stream (XLEN, read every 5 s).");
    tprintf(t, "swarmd_cluster_stream_length %llu\n", (unsigned long long)get(&c->stream_len));
}

#endif
