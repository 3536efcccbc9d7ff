/* buf.h - an append-only byte buffer over caller-owned memory.
 *
 * Never allocates and never writes past cap: an append that does not fit sets `overflow`
 * and writes nothing, so a writer can append freely and check once at the end. */
#ifndef SWARMD_BUF_H
#define SWARMD_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct buf {
    uint8_t *data;
    size_t len, cap;
    bool overflow;
};

static inline void buf_init(struct buf *b, void *mem, size_t cap)
{
    b->data = mem;
    b->len = 0;
    b->cap = cap;
    b->overflow = false;
}

static inline void buf_put(struct buf *b, const void *p, size_t n)
{
    if (b->overflow || n > b->cap - b->len) {
        b->overflow = true;
        return;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void buf_putc(struct buf *b, uint8_t c) { buf_put(b, &c, 1); }
static inline void buf_puts(struct buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* Decimal text of an unsigned / signed integer. */
void buf_put_u64(struct buf *b, uint64_t v);
void buf_put_i64(struct buf *b, int64_t v);

#endif
