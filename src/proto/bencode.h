/* bencode.h - bencode writer (BEP 3) into a struct buf.
 *
 * Writes only; swarmd never needs to parse bencode. The caller writes dictionary keys in
 * sorted raw-byte order (bencoding requires it). Overflow is sticky in the buf. */
#ifndef SWARMD_BENCODE_H
#define SWARMD_BENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

void bencode_put_int(struct buf *b, int64_t v);                 /* i<v>e */
void bencode_put_str(struct buf *b, const void *s, size_t len); /* <len>:<bytes> */
void bencode_put_cstr(struct buf *b, const char *s);
static inline void bencode_open_dict(struct buf *b) { buf_putc(b, 'd'); }
static inline void bencode_open_list(struct buf *b) { buf_putc(b, 'l'); }
static inline void bencode_close(struct buf *b) { buf_putc(b, 'e'); }
/* A key and an integer value, the commonest pair. */
void bencode_put_key_int(struct buf *b, const char *key, int64_t v);

#endif
