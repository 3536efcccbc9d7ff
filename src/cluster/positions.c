/* positions.c - the resume positions (cluster_internal.h): for every origin the last stream
 * id read and the incarnation and seq last applied, kept as an optional section of the state
 * file (docs/statefile.md, tag SWCL), one text line per origin, so that a restarted node
 * XREADs exactly what its snapshot lacks. */
#ifdef SWARMD_HAVE_HIREDIS

#include <stdio.h>
#include <string.h>

#include "cluster/cluster_internal.h"
#include "persist/persist.h"
#include "util/log.h"

bool cluster_valid_id(const char *s, size_t len)
{
    if (len == 0 || len >= sizeof((struct origin *)0)->last_id)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

#define POSITIONS_TAG "SWCL"

/* "origin incarnation seq stream-id" lines into buf; returns the length (0 if it does not
 * fit). Caller holds pos_lock, or no sync-in thread runs. */
static size_t format_positions(const struct origin *o, unsigned n, uint8_t *buf, size_t cap)
{
    size_t len = 0;
    for (unsigned i = 0; i < n; i++) {
        int w = snprintf((char *)buf + len, cap - len, "%u %016llx %u %s\n", o[i].id,
                         (unsigned long long)o[i].inc, o[i].known ? o[i].seq : 0,
                         o[i].last_id);
        if (w < 0 || (size_t)w >= cap - len)
            return 0;
        len += (size_t)w;
    }
    return len;
}

/* The snapshot hook (persist.h): the positions are taken just before the swarms are copied
 * into the same file, so after a crash the file describes one moment and a restart re-reads
 * exactly what the snapshot lacks. (Records applied between the capture and the copy are
 * read again: upserts are idempotent; a completed event in that instant may count twice.) */
static size_t positions_capture(void *ctx, uint8_t *buf, size_t cap)
{
    struct cluster *c = ctx;
    pthread_mutex_lock(&c->pos_lock);
    size_t n = format_positions(c->origins, c->n_origins, buf, cap);
    pthread_mutex_unlock(&c->pos_lock);
    return n;
}

/* After cluster_stop the final snapshot still needs the positions: a copy that outlives c. */
static uint8_t final_positions[PERSIST_SECTION_MAX];
static size_t final_len;

static size_t final_capture(void *ctx, uint8_t *buf, size_t cap)
{
    (void)ctx;
    if (final_len > cap)
        return 0;
    memcpy(buf, final_positions, final_len);
    return final_len;
}

static void load_positions(struct cluster *c)
{
    static char text[PERSIST_SECTION_MAX + 1];
    size_t len = persist_restored_section(POSITIONS_TAG, (uint8_t *)text, PERSIST_SECTION_MAX);
    if (!len)
        return;
    text[len] = '\0';
    char id[48];
    unsigned origin, seq, n = 0;
    unsigned long long inc;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (sscanf(line, "%u %llx %u %47s", &origin, &inc, &seq, id) != 4 ||
            !cluster_valid_id(id, strlen(id)))
            continue;
        for (unsigned i = 0; i < c->n_origins; i++) {
            struct origin *o = &c->origins[i];
            if (o->id != origin)
                continue;
            snprintf(o->last_id, sizeof o->last_id, "%s", id);
            o->inc = inc;
            o->seq = seq;
            o->known = seq != 0;
            n++;
        }
    }
    log_info("cluster: resuming %u stream%s from the state file", n, n == 1 ? "" : "s");
}

void cluster_positions_start(struct cluster *c)
{
    if (!c->cfg->statefile[0])
        return;
    load_positions(c);
    struct persist_hook ph = {POSITIONS_TAG, positions_capture, c};
    persist_set_hook(&ph);
    c->hooked = true;
}

void cluster_positions_stop(struct cluster *c)
{
    if (!c->hooked)
        return;
    /* Nothing applies any more: main's final snapshot, right after, holds exactly the
     * swarms these positions lead to. */
    final_len = format_positions(c->origins, c->n_origins, final_positions,
                                 sizeof final_positions);
    struct persist_hook ph = {POSITIONS_TAG, final_capture, NULL};
    persist_set_hook(c->in_started ? &ph : NULL);
}

#endif
