/* base64.h - base64 encoding (RFC 4648, standard alphabet, '=' padding).
 *
 * Only encoding is needed (the WebSocket accept key). Pure, no allocation. */
#ifndef SWARMD_BASE64_H
#define SWARMD_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters base64_encode writes for n input bytes (without a terminator). */
#define BASE64_LEN(n) (((n) + 2) / 3 * 4)

/* Writes BASE64_LEN(len) characters and a NUL to out, which must hold BASE64_LEN(len) + 1.
 * Returns the number of characters written (without the NUL). */
size_t base64_encode(const uint8_t *in, size_t len, char *out);

#endif
