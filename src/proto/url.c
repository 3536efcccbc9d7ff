/* url.c - query-string iteration and percent-decoding (application/x-www-form-urlencoded).
 *
 * Pure functions over caller memory: every read is bounded by the given length, nothing is
 * allocated. A '%' must be followed by exactly two hex digits; anything else is malformed,
 * because a lenient decoder would let two different spellings name the same info_hash. */
#include "proto/url.h"
#include "util/bytes.h"

#include <string.h>

bool query_next(struct query_iter *it, const char **key, size_t *key_len, const char **val,
                size_t *val_len)
{
    while (it->p < it->end) {
        /* Keys are short: scan them bytewise up to '=' or '&'. Values can be long (an escaped
         * info_hash is 60 bytes), so their end is found with memchr. */
        const char *s = it->p, *k = s;
        while (k < it->end && *k != '=' && *k != '&')
            k++;
        const char *e = k;
        if (k < it->end && *k == '=') {
            e = memchr(k + 1, '&', (size_t)(it->end - k - 1));
            if (!e)
                e = it->end;
        }
        it->p = e < it->end ? e + 1 : e;
        if (e == s)
            continue; /* "&&" or a leading/trailing '&' */
        *key = s;
        *key_len = (size_t)(k - s);
        if (k < e) { /* k points at the '=' */
            *val = k + 1;
            *val_len = (size_t)(e - k - 1);
        } else {
            *val = e;
            *val_len = 0;
        }
        return true;
    }
    return false;
}

long url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            if (len - i < 3)
                return -1;
            int hi = hex_value((unsigned char)in[i + 1]);
            int lo = hex_value((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o == cap)
            return -1;
        out[o++] = c;
    }
    return (long)o;
}

bool url_key_is(const char *key, size_t key_len, const char *name)
{
    size_t i = 0;
    for (; i < key_len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c == '%') {
            if (key_len - i < 3)
                return false;
            int hi = hex_value((unsigned char)key[i + 1]);
            int lo = hex_value((unsigned char)key[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        /* A decoded NUL never matches: it would end name early. */
        if (c == 0 || (unsigned char)*name != c)
            return false;
        name++;
    }
    return *name == '\0';
}
