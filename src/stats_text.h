/* stats_text.h - a page of text built into a reference-counted blob, for the statistics
 * pages (sent with http_out.body, so a page may be larger than the worker's reply buffer).
 *
 * The capacity is fixed at text_init; writing past it marks the text failed and text_done
 * returns NULL (and frees the blob), so a page is whole or not sent. Not thread-safe. */
#ifndef SWARMD_STATS_TEXT_H
#define SWARMD_STATS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/blob.h"

struct text {
    struct blob *b;
    size_t len, cap;
    bool oom;
};

void text_init(struct text *t, size_t cap);
void tprintf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tput(struct text *t, const void *p, size_t n);
/* The finished page (len set), or NULL when it failed; either way t is used up. */
struct blob *text_done(struct text *t);

#endif
