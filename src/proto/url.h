/* url.h - URL query-string iteration and percent-decoding.
 *
 * Pure; never allocates; never reads outside [s, s+len). */
#ifndef SWARMD_URL_H
#define SWARMD_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct query_iter {
    const char *p, *end;
};

static inline void query_iter_init(struct query_iter *it, const char *q, size_t len)
{
    it->p = q;
    it->end = q + len;
}

/* Next "key=value" pair separated by '&' (empty pairs skipped; a pair without '=' has an
 * empty value). Key and value are still encoded. Returns false at the end. */
bool query_next(struct query_iter *it, const char **key, size_t *key_len, const char **val,
                size_t *val_len);

/* Decode %XX and '+' (space) from in[0..len) into out (cap bytes).
 * Returns the decoded length, or -1 on a malformed escape or when out is too small. */
long url_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/* Compare an encoded key with a plain name (keys are compared after decoding). */
bool url_key_is(const char *key, size_t key_len, const char *name);

#endif
