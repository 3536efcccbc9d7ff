/* websocket.c - RFC 6455 handshake and frame codec (see websocket.h). */
#include "proto/websocket.h"

#include <string.h>

#include "util/base64.h"
#include "util/sha1.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Whether a comma-separated header value lists token (case-insensitive). */
static bool list_has_token(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end - start == tl) {
            size_t k = 0;
            while (k < tl && lower((unsigned char)v[start + k]) == token[k])
                k++;
            if (k == tl)
                return true;
        }
    }
    return false;
}

static bool header_has_token(const struct http_request *req, const char *name, const char *tok)
{
    /* A header may be repeated; any copy listing the token counts. */
    size_t nl = strlen(name);
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name_len != nl)
            continue;
        size_t k = 0;
        while (k < nl && lower((unsigned char)h->name[k]) == lower((unsigned char)name[k]))
            k++;
        if (k == nl && list_has_token(h->value, h->value_len, tok))
            return true;
    }
    return false;
}

bool ws_is_upgrade(const struct http_request *req)
{
    return header_has_token(req, "upgrade", "websocket");
}

static bool is_b64(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

void ws_accept_key(const char *key, size_t key_len, char accept[WS_ACCEPT_LEN + 1])
{
    struct sha1 c;
    uint8_t d[SHA1_LEN];
    sha1_init(&c);
    sha1_update(&c, key, key_len);
    sha1_update(&c, ws_guid, sizeof ws_guid - 1);
    sha1_final(&c, d);
    base64_encode(d, sizeof d, accept);
}

int ws_handshake_check(const struct http_request *req, char accept[WS_ACCEPT_LEN + 1])
{
    if (req->method_len != 3 || memcmp(req->method, "GET", 3) != 0)
        return 400;
    if (req->minor_version < 1 || req->has_body)
        return 400;
    if (!ws_is_upgrade(req) || !header_has_token(req, "connection", "upgrade"))
        return 400;
    const struct http_header *v = http_find_header(req, "sec-websocket-version");
    if (!v)
        return 400;
    if (v->value_len != 2 || memcmp(v->value, "13", 2) != 0)
        return 426;
    const struct http_header *k = http_find_header(req, "sec-websocket-key");
    /* 16 bytes in base64: 22 significant characters and "==". */
    if (!k || k->value_len != 24 || k->value[22] != '=' || k->value[23] != '=')
        return 400;
    for (size_t i = 0; i < 22; i++)
        if (!is_b64((unsigned char)k->value[i]))
            return 400;
    /* The last significant character carries 2 bits: its low 4 bits must be zero. */
    if (!strchr("AQgw", k->value[21]))
        return 400;
    ws_accept_key(k->value, k->value_len, accept);
    return 0;
}

int ws_frame_parse(const uint8_t *buf, size_t len, bool require_mask, uint64_t max_payload,
                   struct ws_frame *f)
{
    if (len < 2)
        return WS_PARSE_INCOMPLETE;
    uint8_t b0 = buf[0], b1 = buf[1];
    if (b0 & 0x70)
        return WS_PARSE_PROTOCOL; /* RSV1-3: no extension was negotiated */
    f->fin = (b0 & 0x80) != 0;
    f->opcode = b0 & 0x0f;
    switch (f->opcode) {
    case WS_OP_CONT:
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        break;
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        if (!f->fin || (b1 & 0x7f) > 125)
            return WS_PARSE_PROTOCOL;
        break;
    default:
        return WS_PARSE_PROTOCOL;
    }
    f->masked = (b1 & 0x80) != 0;
    if (f->masked != require_mask)
        return WS_PARSE_PROTOCOL;
    size_t need = 2;
    uint64_t plen = b1 & 0x7f;
    if (plen == 126) {
        need += 2;
        if (len < need)
            return WS_PARSE_INCOMPLETE;
        plen = (uint64_t)buf[2] << 8 | buf[3];
        if (plen < 126)
            return WS_PARSE_PROTOCOL; /* the shortest form is required */
    } else if (plen == 127) {
        need += 8;
        if (len < need)
            return WS_PARSE_INCOMPLETE;
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = plen << 8 | buf[2 + i];
        if (plen >> 63)
            return WS_PARSE_PROTOCOL;
        if (plen < 65536)
            return WS_PARSE_PROTOCOL;
    }
    if (plen > max_payload)
        return WS_PARSE_TOO_BIG;
    if (f->masked) {
        if (len < need + 4)
            return WS_PARSE_INCOMPLETE;
        memcpy(f->mask, buf + need, 4);
        need += 4;
    } else {
        memset(f->mask, 0, 4);
    }
    f->payload_len = plen;
    f->header_len = need;
    return (int)need;
}

void ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t offset)
{
    /* 8 bytes at a time with the mask repeated from the right phase (a 4 KB offer is most
     * of a relay's input), then the tail byte by byte. */
    uint8_t m8[8];
    for (size_t k = 0; k < 8; k++)
        m8[k] = mask[(offset + k) & 3];
    uint64_t m;
    memcpy(&m, m8, 8);
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= m;
        memcpy(p + i, &w, 8);
    }
    for (; i < n; i++)
        p[i] ^= mask[(offset + i) & 3];
}

size_t ws_frame_header(uint8_t *out, uint8_t opcode, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len < 65536) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

bool ws_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t extra;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        if (cp >= 0xd800 && cp <= 0xdfff)
            return false;
        i += extra + 1;
    }
    return true;
}

bool ws_close_payload_ok(const uint8_t *p, size_t n)
{
    if (n == 0)
        return true;
    if (n == 1)
        return false;
    unsigned code = (unsigned)p[0] << 8 | p[1];
    bool ok = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
              (code >= 3000 && code <= 4999);
    return ok && ws_utf8_valid(p + 2, n - 2);
}
