/* buf.c - decimal integer appends for struct buf (the rest of buf.h is inline).
 *
 * Hot path: every reply writes a handful of integers, so digits are produced by a plain loop
 * into a small stack array and appended with one buf_put (all or nothing), never snprintf. */
#include "util/buf.h"

/* 20 digits for UINT64_MAX, one more for the sign of INT64_MIN. */
#define DEC_MAX 21

/* Writes the digits of v right-aligned ending at end; returns where they start. */
static char *dec_digits(char *end, uint64_t v)
{
    char *p = end;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

void buf_put_u64(struct buf *b, uint64_t v)
{
    char tmp[DEC_MAX];
    char *end = tmp + sizeof tmp;
    char *p = dec_digits(end, v);
    buf_put(b, p, (size_t)(end - p));
}

void buf_put_i64(struct buf *b, int64_t v)
{
    char tmp[DEC_MAX];
    char *end = tmp + sizeof tmp;
    /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = dec_digits(end, mag);
    if (v < 0)
        *--p = '-';
    buf_put(b, p, (size_t)(end - p));
}
