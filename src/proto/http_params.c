/* http_params.c - announce and scrape query strings into struct announce_req / scrape_req.
 *
 * Pure: one pass over the query with url.c's iterator; values are decoded straight into the
 * request or into small stack buffers. Keys are matched after decoding (a client may escape
 * any byte). A malformed escape in a parameter we read fails the whole request with
 * "malformed query": guessing at its meaning could file a peer under the wrong torrent.
 * The values of unknown parameters are never decoded, so their escapes may be anything. */
#include "proto/http_params.h"
#include "util/bytes.h"

#include <string.h>

#include "proto/url.h"
#include "util/addr.h"

/* The longest parameter name we act on ("downloaded", "no_peer_id") is 10 bytes. */
#define KEY_MAX 10
/* Longest address text worth trying: "[" 45-char v6 literal "]:65535". */
#define ADDR_TEXT_MAX 56

/* Every '%' in v[0..n) is followed by two hex digits. */
static bool escapes_ok(const char *v, size_t n)
{
    const char *p = v, *end = v + n;
    while ((p = memchr(p, '%', (size_t)(end - p))) != NULL) {
        if (end - p < 3 || hex_value((unsigned char)p[1]) < 0 || hex_value((unsigned char)p[2]) < 0)
            return false;
        p += 3;
    }
    return true;
}

/* Results of the value helpers below. */
enum { V_OK = 0, V_BAD_ESCAPE = -1, V_TOO_LONG = -2, V_INVALID = -3 };

/* Decode into out[0..cap): the decoded length, V_BAD_ESCAPE, or V_TOO_LONG when the value is
 * well-formed but does not fit. The success path is a single pass; only a failure rescans to
 * tell the two apart. */
static long decode(const char *v, size_t n, void *out, size_t cap)
{
    long r = url_decode(v, n, out, cap);
    if (r < 0)
        return escapes_ok(v, n) ? V_TOO_LONG : V_BAD_ESCAPE;
    return r;
}

/* The next decoded byte of v[0..n) at *i, advancing *i; -1 for a malformed escape. */
static inline int next_byte(const char *v, size_t n, size_t *i)
{
    unsigned char c = (unsigned char)v[*i];
    if (c == '%') {
        int hi, lo;
        if (n - *i < 3 || (hi = hex_value((unsigned char)v[*i + 1])) < 0 ||
            (lo = hex_value((unsigned char)v[*i + 2])) < 0)
            return -1;
        *i += 3;
        return hi << 4 | lo;
    }
    *i += 1;
    return c == '+' ? ' ' : c;
}

/* A decimal number: digits only (which may be percent-encoded like any byte), no sign, no
 * blanks, nothing past UINT64_MAX. Leading zeros are fine. V_OK, V_BAD_ESCAPE or V_INVALID;
 * a malformed escape anywhere wins over an invalid digit before it. */
static int parse_u64(const char *v, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    bool invalid = n == 0;
    for (size_t i = 0; i < n;) {
        int c = next_byte(v, n, &i);
        if (c < 0)
            return V_BAD_ESCAPE;
        if (invalid)
            continue;
        unsigned d = (unsigned)c - '0';
        if (d > 9 || x > (UINT64_MAX - d) / 10)
            invalid = true;
        else
            x = x * 10 + d;
    }
    if (invalid)
        return V_INVALID;
    *out = x;
    return V_OK;
}

/* key=: an opaque token the client repeats across announces (libtorrent sends 8 hex digits,
 * others decimal or random letters). Up to 8 hex digits are kept as their value; anything else
 * is folded to 32 bits with FNV-1a, so the same token always gives the same key. */
static int parse_key(const char *v, size_t n, uint32_t *key, bool *has_key)
{
    uint32_t hex = 0, fnv = 2166136261u;
    size_t count = 0;
    bool all_hex = true;
    for (size_t i = 0; i < n; count++) {
        int c = next_byte(v, n, &i);
        if (c < 0)
            return V_BAD_ESCAPE;
        int h = hex_value((unsigned char)c);
        if (h < 0)
            all_hex = false;
        else
            hex = hex << 4 | (uint32_t)h;
        fnv = (fnv ^ (uint32_t)c) * 16777619u;
    }
    if (count == 0)
        return V_OK; /* "key=" says nothing */
    *key = all_hex && count <= 8 ? hex : fnv;
    *has_key = true;
    return V_OK;
}

/* The parameters we act on, matched on their decoded names. */
enum param {
    P_OTHER, P_INFO_HASH, P_PEER_ID, P_PORT, P_UPLOADED, P_DOWNLOADED, P_LEFT, P_EVENT,
    P_COMPACT, P_NO_PEER_ID, P_NUMWANT, P_KEY, P_IP, P_IPV4, P_IPV6,
};

/* A plain (decoded) name to the parameter it names. */
static enum param match_name(const char *k, size_t n)
{
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(k, lit, sizeof(lit) - 1) == 0)
    switch (n) {
    case 2:
        return IS("ip") ? P_IP : P_OTHER;
    case 3:
        return IS("key") ? P_KEY : P_OTHER;
    case 4:
        if (IS("port"))
            return P_PORT;
        if (IS("left"))
            return P_LEFT;
        if (IS("ipv4"))
            return P_IPV4;
        if (IS("ipv6"))
            return P_IPV6;
        return P_OTHER;
    case 5:
        return IS("event") ? P_EVENT : P_OTHER;
    case 7:
        if (IS("peer_id"))
            return P_PEER_ID;
        if (IS("compact"))
            return P_COMPACT;
        if (IS("numwant"))
            return P_NUMWANT;
        return P_OTHER;
    case 8:
        return IS("uploaded") ? P_UPLOADED : P_OTHER;
    case 9:
        return IS("info_hash") ? P_INFO_HASH : P_OTHER;
    case 10:
        if (IS("downloaded"))
            return P_DOWNLOADED;
        if (IS("no_peer_id"))
            return P_NO_PEER_ID;
        return P_OTHER;
    default:
        return P_OTHER;
    }
#undef IS
}

static enum param classify(const char *key, size_t key_len)
{
    /* Fast path: clients send plain names, and no name we read contains '%' or '+', so a raw
     * match is the decoded match. */
    enum param p = match_name(key, key_len);
    if (p != P_OTHER)
        return p;
    /* Even fully escaped, a name we read takes at most 3 * KEY_MAX bytes. */
    if (key_len > 3 * KEY_MAX)
        return P_OTHER;
    bool escaped = false;
    for (size_t i = 0; i < key_len; i++)
        escaped |= key[i] == '%' || key[i] == '+';
    if (!escaped)
        return P_OTHER;
    char k[KEY_MAX];
    long r = url_decode(key, key_len, (uint8_t *)k, sizeof k);
    return r < 0 ? P_OTHER : match_name(k, (size_t)r); /* malformed: not a name we read */
}

/* A flag such as compact= or no_peer_id=: "0" is false, anything else (even empty) true. */
static int parse_flag(const char *v, size_t n, bool *flag)
{
    uint8_t c[1];
    long r = decode(v, n, c, sizeof c);
    if (r == V_BAD_ESCAPE)
        return V_BAD_ESCAPE;
    *flag = !(r == 1 && c[0] == '0');
    return V_OK;
}

static int parse_event(const char *v, size_t n, enum announce_event *ev)
{
    char s[sizeof "completed"];
    long r = decode(v, n, s, sizeof s);
    if (r == V_BAD_ESCAPE)
        return V_BAD_ESCAPE;
    *ev = EVENT_NONE; /* empty, too long, "paused" (BEP 21), anything unknown */
    if (r == 7 && memcmp(s, "started", 7) == 0)
        *ev = EVENT_STARTED;
    else if (r == 9 && memcmp(s, "completed", 9) == 0)
        *ev = EVENT_COMPLETED;
    else if (r == 7 && memcmp(s, "stopped", 7) == 0)
        *ev = EVENT_STOPPED;
    return V_OK;
}

/* ip= / ipv4= / ipv6=: a literal address, filed by the family it turns out to be. Names and
 * garbage are ignored (never resolved); only a malformed escape is an error. */
static int parse_claimed(const char *v, size_t n, bool with_port, struct announce_req *out)
{
    char s[ADDR_TEXT_MAX];
    struct peer_addr a;
    bool has_port = false;
    long r = decode(v, n, s, sizeof s);
    if (r == V_BAD_ESCAPE)
        return V_BAD_ESCAPE;
    if (r <= 0)
        return V_OK;
    bool ok = with_port ? addr_parse_hostport(&a, s, (size_t)r, &has_port)
                        : addr_parse_ip(&a, s, (size_t)r);
    if (!ok)
        return V_OK;
    if (!has_port)
        a.port = 0;
    if (a.family == ADDR_V4)
        out->claimed4 = a;
    else if (a.family == ADDR_V6)
        out->claimed6 = a;
    return V_OK;
}

/* Exactly 20 decoded bytes into out: V_OK, V_BAD_ESCAPE or V_INVALID (wrong length). */
static int parse_hash(const char *v, size_t n, uint8_t out[INFO_HASH_LEN])
{
    long r = decode(v, n, out, INFO_HASH_LEN);
    if (r == V_BAD_ESCAPE)
        return V_BAD_ESCAPE;
    return r == INFO_HASH_LEN ? V_OK : V_INVALID;
}

static const char ERR_MALFORMED[] = "malformed query";

const char *http_parse_announce(const char *query, size_t len, struct announce_req *out)
{
    struct query_iter it;
    const char *k, *v;
    size_t kl, vl;
    bool have_hash = false, have_peer_id = false, have_port = false;
    uint64_t num;
    int r;

    memset(out, 0, sizeof *out);
    out->event = EVENT_NONE;
    out->numwant = -1;
    out->compact = true; /* BEP 23: compact unless the client asks otherwise */
    if (query == NULL)
        return "missing info_hash";

    query_iter_init(&it, query, len);
    while (query_next(&it, &k, &kl, &v, &vl)) {
        switch (classify(k, kl)) {
        case P_INFO_HASH:
            if (have_hash)
                return "duplicate info_hash";
            r = parse_hash(v, vl, out->info_hash);
            if (r == V_BAD_ESCAPE)
                return ERR_MALFORMED;
            if (r != V_OK)
                return "invalid info_hash";
            have_hash = true;
            break;
        case P_PEER_ID:
            r = parse_hash(v, vl, out->peer_id);
            if (r == V_BAD_ESCAPE)
                return ERR_MALFORMED;
            if (r != V_OK)
                return "invalid peer_id";
            have_peer_id = true;
            break;
        case P_PORT:
            r = parse_u64(v, vl, &num);
            if (r == V_BAD_ESCAPE)
                return ERR_MALFORMED;
            if (r != V_OK || num > 65535)
                return "invalid port";
            out->port = (uint16_t)num;
            have_port = true;
            break;
        case P_UPLOADED:
            r = parse_u64(v, vl, &out->uploaded);
            if (r == V_BAD_ESCAPE)
                return ERR_MALFORMED;
            if (r != V_OK)
                return "invalid uploaded";
            break;
        case P_DOWNLOADED:
            r = parse_u64(v, vl, &out->downloaded);
            if (r == V_BAD_ESCAPE)
                return ERR_MALFORMED;
            if (r != V_OK)
                return "invalid downloaded";
            break;
        case P_LEFT:
            r = parse_u64(v, vl, &out->left);
            if (r == V_BAD_ESCAPE)
                return ERR_MALFORMED;
            if (r != V_OK)
                return "invalid left";
            break;
        case P_NUMWANT:
            r = parse_u64(v, vl, &num);
            if (r == V_BAD_ESCAPE)
                return ERR_MALFORMED;
            /* numwant is only a hint: "-1" (UDP's "default"), empty or junk means the
             * default rather than a refused announce. */
            out->numwant = r != V_OK ? -1 : num > INT32_MAX ? INT32_MAX : (int32_t)num;
            break;
        case P_EVENT:
            if (parse_event(v, vl, &out->event) != V_OK)
                return ERR_MALFORMED;
            break;
        case P_COMPACT:
            if (parse_flag(v, vl, &out->compact) != V_OK)
                return ERR_MALFORMED;
            break;
        case P_NO_PEER_ID:
            if (parse_flag(v, vl, &out->no_peer_id) != V_OK)
                return ERR_MALFORMED;
            break;
        case P_KEY:
            if (parse_key(v, vl, &out->key, &out->has_key) != V_OK)
                return ERR_MALFORMED;
            break;
        case P_IP:
        case P_IPV4:
            if (parse_claimed(v, vl, false, out) != V_OK)
                return ERR_MALFORMED;
            break;
        case P_IPV6:
            /* BEP 7: ipv6= may carry a port as "[addr]:port". */
            if (parse_claimed(v, vl, true, out) != V_OK)
                return ERR_MALFORMED;
            break;
        case P_OTHER:
            break;
        }
    }

    if (!have_hash)
        return "missing info_hash";
    if (!have_peer_id)
        return "missing peer_id";
    if (!have_port)
        return "missing port";
    /* A stopping client may not know (or care about) its port any more. */
    if (out->port == 0 && out->event != EVENT_STOPPED)
        return "invalid port";
    return NULL;
}

const char *http_parse_scrape(const char *query, size_t len, uint8_t (*hashes)[INFO_HASH_LEN],
                              unsigned cap, struct scrape_req *out)
{
    struct query_iter it;
    const char *k, *v;
    size_t kl, vl;

    out->hashes = (const uint8_t(*)[INFO_HASH_LEN])hashes;
    out->count = 0;
    if (query == NULL || len == 0)
        return NULL; /* full scrape */

    query_iter_init(&it, query, len);
    while (query_next(&it, &k, &kl, &v, &vl)) {
        if (classify(k, kl) != P_INFO_HASH)
            continue;
        if (out->count == cap)
            return "too many info_hash";
        int r = parse_hash(v, vl, hashes[out->count]);
        if (r == V_BAD_ESCAPE)
            return ERR_MALFORMED;
        if (r != V_OK)
            return "invalid info_hash";
        out->count++;
    }
    return NULL;
}
