/* bencode.c - bencode writer (BEP 3): integers, strings, and key/integer pairs.
 *
 * Each item is appended with as few buf_put calls as possible; overflow is sticky in the buf,
 * so a partly written item is harmless: the caller checks b->overflow once and discards. */
#include "proto/bencode.h"

#include <string.h>

void bencode_put_int(struct buf *b, int64_t v)
{
    buf_putc(b, 'i');
    buf_put_i64(b, v);
    buf_putc(b, 'e');
}

void bencode_put_str(struct buf *b, const void *s, size_t len)
{
    buf_put_u64(b, (uint64_t)len);
    buf_putc(b, ':');
    buf_put(b, s, len);
}

void bencode_put_cstr(struct buf *b, const char *s)
{
    bencode_put_str(b, s, strlen(s));
}

void bencode_put_key_int(struct buf *b, const char *key, int64_t v)
{
    bencode_put_str(b, key, strlen(key));
    bencode_put_int(b, v);
}
