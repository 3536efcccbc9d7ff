/* ws_json.c - bounded JSON reader and writer for the WebSocket tracker (see ws_json.h).
 *
 * A recursive-descent validator over the input with an explicit depth limit; the top-level
 * object's known keys are decoded on the way, everything else is validated and skipped. */
#include "proto/ws_json.h"
#include "util/bytes.h"

#include <stdint.h>
#include <string.h>

#include "proto/websocket.h"

struct jp {
    const char *s;
    size_t n, i;
};

static void skip_ws(struct jp *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

/* Consume c if it comes next (after whitespace). */
static bool eat(struct jp *p, char c)
{
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == c) {
        p->i++;
        return true;
    }
    return false;
}

/* After an element of an object or array: 1 when ',' says another follows, 0 when `close`
 * ended the container, -1 on anything else. */
static int next_elem(struct jp *p, char close)
{
    if (eat(p, ','))
        return 1;
    return eat(p, close) ? 0 : -1;
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Nonzero iff one of the 8 bytes of w needs a look of its own inside a string: '"', '\\',
 * a control byte (< 0x20) or a non-ASCII byte (>= 0x80). Exact as a yes/no answer. */
static uint64_t special8(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
    uint64_t zero_q = (q - ONES) & ~q, zero_b = (b - ONES) & ~b;
    uint64_t below_space = (w - ONES * 0x20) & ~w;
    return (zero_q | zero_b | below_space | w) & HIGHS;
}

/* Validate a string at p->i (which is '"'); tok gets the token, quotes included. Runs of
 * plain printable ASCII (SDP text between its escaped line ends) are skipped 8 bytes at a
 * time. */
static bool parse_string(struct jp *p, struct ws_span *tok)
{
    size_t start = p->i;
    if (p->i >= p->n || p->s[p->i] != '"')
        return false;
    p->i++;
    while (p->i < p->n) {
        while (p->n - p->i >= 8) {
            uint64_t w;
            memcpy(&w, p->s + p->i, 8);
            uint64_t m = special8(w);
            if (m) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                /* The lowest flagged byte is the first special one (the borrow that can
                 * flag a byte wrongly only runs upwards from a true one): go straight to it. */
                p->i += (size_t)__builtin_ctzll(m) / 8;
#endif
                break;
            }
            p->i += 8;
        }
        if (p->i >= p->n)
            break;
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->i++;
            tok->p = p->s + start;
            tok->len = p->i - start;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (p->n - p->i < 2)
                return false;
            char e = p->s[p->i + 1];
            if (e == 'u') {
                if (p->n - p->i < 6)
                    return false;
                for (int k = 2; k < 6; k++)
                    if (hex_value((unsigned char)p->s[p->i + k]) < 0)
                        return false;
                p->i += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                       e == 'r' || e == 't') {
                p->i += 2;
            } else {
                return false;
            }
            continue;
        }
        if (c < 0x80) {
            p->i++;
            continue;
        }
        /* One UTF-8 sequence: its length from the lead byte, then validated as a whole. */
        size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (p->n - p->i < len || !ws_utf8_valid((const uint8_t *)p->s + p->i, len))
            return false;
        p->i += len;
    }
    return false;
}

/* Decode a validated string token into bytes (one per code point <= U+00FF). */
static bool decode_binary(struct ws_span tok, uint8_t *out, size_t cap, size_t *outlen)
{
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)tok.p;
    size_t end = tok.len - 1;
    for (size_t i = 1; i < end;) {
        unsigned v;
        if (s[i] == '\\') {
            char e = (char)s[i + 1];
            if (e == 'u') {
                v = (unsigned)(hex_value(s[i + 2]) << 12 | hex_value(s[i + 3]) << 8 |
                               hex_value(s[i + 4]) << 4 | hex_value(s[i + 5]));
                i += 6;
            } else {
                static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                v = (unsigned char)to[strchr(from, e) - from];
                i += 2;
            }
        } else if (s[i] < 0x80) {
            v = s[i++];
        } else if (s[i] == 0xc2 || s[i] == 0xc3) {
            v = (unsigned)(s[i] & 0x1f) << 6 | (s[i + 1] & 0x3f);
            i += 2;
        } else {
            return false;
        }
        if (v > 0xff || o >= cap)
            return false;
        out[o++] = (uint8_t)v;
    }
    *outlen = o;
    return true;
}

static bool decode_hash(struct ws_span tok, uint8_t out[20])
{
    size_t n;
    return decode_binary(tok, out, 20, &n) && n == 20;
}

/* Number grammar; *v gets the integer part (saturating), *neg its sign. */
static bool parse_number(struct jp *p, uint64_t *v, bool *neg)
{
    *v = 0;
    *neg = false;
    if (p->i < p->n && p->s[p->i] == '-') {
        *neg = true;
        p->i++;
    }
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
        return false;
    if (p->s[p->i] == '0') {
        p->i++;
    } else {
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
            unsigned d = (unsigned)(p->s[p->i] - '0');
            *v = *v > (UINT64_MAX - d) / 10 ? UINT64_MAX : *v * 10 + d;
            p->i++;
        }
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        size_t st = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
        if (p->i == st)
            return false;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        size_t st = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
        if (p->i == st)
            return false;
    }
    return true;
}

static bool parse_literal(struct jp *p, const char *lit)
{
    size_t n = strlen(lit);
    if (p->n - p->i < n || memcmp(p->s + p->i, lit, n) != 0)
        return false;
    p->i += n;
    return true;
}

/* Validate any value; span gets its text. */
/* An object member's key and the ':' after it. */
static bool parse_key(struct jp *p, struct ws_span *k)
{
    skip_ws(p);
    return parse_string(p, k) && eat(p, ':');
}

static bool skip_value(struct jp *p, unsigned depth, struct ws_span *span)
{
    skip_ws(p);
    size_t start = p->i;
    if (p->i >= p->n || depth > WS_JSON_MAX_DEPTH)
        return false;
    char c = p->s[p->i];
    bool ok;
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        p->i++;
        int more = eat(p, close) ? 0 : 1;
        while (more == 1) {
            struct ws_span tmp;
            if ((c == '{' && !parse_key(p, &tmp)) || !skip_value(p, depth + 1, &tmp))
                break;
            more = next_elem(p, close);
        }
        ok = more == 0;
    } else if (c == '"') {
        struct ws_span tmp;
        ok = parse_string(p, &tmp);
    } else if (c == 't') {
        ok = parse_literal(p, "true");
    } else if (c == 'f') {
        ok = parse_literal(p, "false");
    } else if (c == 'n') {
        ok = parse_literal(p, "null");
    } else {
        uint64_t v;
        bool neg;
        ok = parse_number(p, &v, &neg);
    }
    span->p = p->s + start;
    span->len = p->i - start;
    return ok;
}

static bool key_is(struct ws_span k, const char *name)
{
    size_t n = strlen(name);
    return k.len == n + 2 && memcmp(k.p + 1, name, n) == 0;
}

/* A string token compared with a plain word (no escapes expected). */
static bool str_is(struct ws_span tok, const char *word)
{
    return key_is(tok, word);
}

/* One element of "offers": {"offer": <value>, "offer_id": "<string>"}, validated and its two
 * fields picked in one pass (the SDP inside is most of an announce's bytes). Other keys are
 * validated and skipped; of a repeated key the last counts. */
static enum ws_json_error parse_offer(struct jp *p, struct ws_offer *o, bool keep)
{
    struct ws_offer got = {0};
    if (!eat(p, '{'))
        return WS_JSON_BAD_FIELD;
    int more = eat(p, '}') ? 0 : 1;
    while (more == 1) {
        struct ws_span k, v;
        if (!parse_key(p, &k) || !skip_value(p, 3, &v))
            return WS_JSON_SYNTAX;
        if (key_is(k, "offer"))
            got.offer = v;
        else if (key_is(k, "offer_id"))
            got.offer_id = v;
        more = next_elem(p, '}');
    }
    if (more < 0)
        return WS_JSON_SYNTAX;
    if (!keep)
        return WS_JSON_OK;
    *o = got;
    if (!o->offer.p || !o->offer_id.p || o->offer_id.p[0] != '"' ||
        o->offer_id.len > WS_OFFER_ID_MAX)
        return WS_JSON_BAD_FIELD;
    return WS_JSON_OK;
}

static enum ws_json_error parse_offers(struct jp *p, struct ws_msg *m)
{
    if (!eat(p, '['))
        return WS_JSON_BAD_FIELD;
    m->has_offers = true;
    m->noffers = 0;
    int more = eat(p, ']') ? 0 : 1;
    for (unsigned seen = 0; more == 1; seen++) {
        bool keep = seen < WS_MAX_OFFERS;
        enum ws_json_error e = parse_offer(p, &m->offers[keep ? seen : 0], keep);
        if (e)
            return e;
        if (keep)
            m->noffers = seen + 1;
        more = next_elem(p, ']');
    }
    return more == 0 ? WS_JSON_OK : WS_JSON_SYNTAX;
}

static enum ws_json_error parse_hashes(struct jp *p, struct ws_msg *m)
{
    struct ws_span tok;
    skip_ws(p);
    m->hash_given = true;
    m->nhashes = 0;
    if (p->i < p->n && p->s[p->i] == '"') {
        if (!parse_string(p, &tok))
            return WS_JSON_SYNTAX;
        if (!decode_hash(tok, m->hashes[0]))
            return WS_JSON_BAD_FIELD;
        m->nhashes = 1;
        m->hash_list = false;
        return WS_JSON_OK;
    }
    if (!eat(p, '['))
        return WS_JSON_BAD_FIELD;
    m->hash_list = true;
    int more = eat(p, ']') ? 0 : 1;
    while (more == 1) {
        skip_ws(p);
        if (p->i >= p->n || p->s[p->i] != '"')
            return WS_JSON_BAD_FIELD;
        if (!parse_string(p, &tok))
            return WS_JSON_SYNTAX;
        if (m->nhashes >= WS_MAX_SCRAPE || !decode_hash(tok, m->hashes[m->nhashes]))
            return WS_JSON_BAD_FIELD;
        m->nhashes++;
        more = next_elem(p, ']');
    }
    return more == 0 ? WS_JSON_OK : WS_JSON_SYNTAX;
}

/* A number field; null reads as absent. */
static enum ws_json_error parse_count(struct jp *p, bool *present, uint64_t *v, bool *neg)
{
    skip_ws(p);
    *present = false;
    *v = 0;
    *neg = false;
    if (p->i < p->n && p->s[p->i] == 'n')
        return parse_literal(p, "null") ? WS_JSON_OK : WS_JSON_SYNTAX;
    if (p->i >= p->n || (p->s[p->i] != '-' && (p->s[p->i] < '0' || p->s[p->i] > '9'))) {
        struct ws_span tmp;
        return skip_value(p, 1, &tmp) ? WS_JSON_BAD_FIELD : WS_JSON_SYNTAX;
    }
    if (!parse_number(p, v, neg))
        return WS_JSON_SYNTAX;
    *present = true;
    return WS_JSON_OK;
}

static enum ws_json_error parse_field(struct jp *p, struct ws_span k, struct ws_msg *m)
{
    struct ws_span v;
    skip_ws(p);
    if (key_is(k, "info_hash"))
        return parse_hashes(p, m);
    if (key_is(k, "offers"))
        return parse_offers(p, m);
    if (key_is(k, "numwant") || key_is(k, "left")) {
        bool present, neg;
        uint64_t n;
        enum ws_json_error e = parse_count(p, &present, &n, &neg);
        if (e)
            return e;
        if (key_is(k, "left")) {
            m->has_left = present;
            m->left = neg ? 0 : n;
        } else {
            m->numwant = !present || neg ? -1 : n > INT32_MAX ? INT32_MAX : (int64_t)n;
        }
        return WS_JSON_OK;
    }
    if (!skip_value(p, 1, &v))
        return WS_JSON_SYNTAX;
    bool is_str = v.p[0] == '"';
    if (key_is(k, "action")) {
        if (!is_str)
            return WS_JSON_BAD_FIELD;
        m->action = str_is(v, "announce") ? WS_ACTION_ANNOUNCE
                    : str_is(v, "scrape") ? WS_ACTION_SCRAPE
                                          : WS_ACTION_OTHER;
    } else if (key_is(k, "peer_id")) {
        if (!is_str || !decode_hash(v, m->peer_id))
            return WS_JSON_BAD_FIELD;
        m->has_peer_id = true;
    } else if (key_is(k, "to_peer_id")) {
        if (!is_str || !decode_hash(v, m->to_peer_id))
            return WS_JSON_BAD_FIELD;
        m->has_to_peer_id = true;
    } else if (key_is(k, "offer_id")) {
        if (!is_str || v.len > WS_OFFER_ID_MAX)
            return WS_JSON_BAD_FIELD;
        m->offer_id = v;
    } else if (key_is(k, "answer")) {
        m->answer = v;
    } else if (key_is(k, "event")) {
        if (v.p[0] == 'n')
            m->event = EVENT_NONE;
        else if (!is_str)
            return WS_JSON_BAD_FIELD;
        else if (str_is(v, "started"))
            m->event = EVENT_STARTED;
        else if (str_is(v, "stopped"))
            m->event = EVENT_STOPPED;
        else if (str_is(v, "completed"))
            m->event = EVENT_COMPLETED;
        else
            m->event = EVENT_NONE; /* "update", "paused", ...: a regular announce */
    }
    return WS_JSON_OK;
}

/* Error messages name the field with a constant string, never with input text. */
static const char *field_name(struct ws_span k)
{
    static const char *const names[] = {"info_hash", "offers", "numwant",  "left",
                                        "action",    "peer_id", "to_peer_id", "offer_id",
                                        "event"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (key_is(k, names[i]))
            return names[i];
    return "";
}

enum ws_json_error ws_json_parse(const char *text, size_t len, struct ws_msg *m,
                                 const char **field)
{
    struct jp p = {.s = text, .n = len, .i = 0};
    static const char *const none = "";
    memset(m, 0, sizeof *m);
    m->numwant = -1;
    *field = none;
    if (!eat(&p, '{'))
        return WS_JSON_SYNTAX;
    int more = eat(&p, '}') ? 0 : 1;
    while (more == 1) {
        struct ws_span k;
        if (!parse_key(&p, &k))
            return WS_JSON_SYNTAX;
        enum ws_json_error e = parse_field(&p, k, m);
        if (e == WS_JSON_BAD_FIELD)
            *field = field_name(k);
        if (e)
            return e;
        more = next_elem(&p, '}');
    }
    if (more < 0)
        return WS_JSON_SYNTAX;
    skip_ws(&p);
    return p.i == p.n ? WS_JSON_OK : WS_JSON_SYNTAX;
}

static const char hexdig[] = "0123456789abcdef";

static void put_escaped(struct buf *b, uint8_t c)
{
    char e[6] = {'\\', 'u', '0', '0', hexdig[c >> 4], hexdig[c & 15]};
    buf_put(b, e, 6);
}

void ws_json_put_bytes(struct buf *b, const uint8_t *p, size_t n)
{
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            put_escaped(b, c);
        else
            buf_putc(b, c);
    }
    buf_putc(b, '"');
}

void ws_json_put_text(struct buf *b, const char *s)
{
    buf_putc(b, '"');
    for (; *s; s++) {
        uint8_t c = (uint8_t)*s;
        if (c < 0x20 || c == '"' || c == '\\')
            put_escaped(b, c);
        else
            buf_putc(b, c);
    }
    buf_putc(b, '"');
}
