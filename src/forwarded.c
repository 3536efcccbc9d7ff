/* forwarded.c - pick the client out of X-Forwarded-For / X-Real-IP (see forwarded.h). */
#include "forwarded.h"

#include <string.h>
#include <strings.h>

static bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }

/* One list entry (blanks trimmed here): an address, optionally with a port. */
static bool parse_entry(const char *s, size_t n, struct peer_addr *out)
{
    bool has_port;
    while (n > 0 && is_blank(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_blank(s[n - 1]))
        n--;
    if (n == 0 || !addr_parse_hostport(out, s, n, &has_port))
        return false;
    out->port = 0;
    return true;
}

static bool name_is(const struct http_header *h, const char *name)
{
    return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

/* Walk X-Forwarded-For right to left. 1 = client found, 0 = no header, -1 = unusable. */
static int from_xff(const struct http_request *req, const struct netlist *trusted,
                    struct peer_addr *out)
{
    struct peer_addr leftmost;
    bool any = false;

    for (size_t i = req->num_headers; i-- > 0;) {
        const struct http_header *h = &req->headers[i];
        if (!name_is(h, "X-Forwarded-For"))
            continue;
        size_t end = h->value_len;
        for (;;) {
            size_t start = end;
            while (start > 0 && h->value[start - 1] != ',')
                start--;
            struct peer_addr a;
            if (!parse_entry(h->value + start, end - start, &a))
                return -1;
            if (!netlist_contains(trusted, &a)) {
                *out = a;
                return 1;
            }
            leftmost = a;
            any = true;
            if (start == 0)
                break;
            end = start - 1;
        }
    }
    if (!any)
        return 0;
    /* Every hop is one of ours: the earliest one is the best we know. */
    *out = leftmost;
    return 1;
}

bool forwarded_client(const struct http_request *req, const struct netlist *trusted,
                      struct peer_addr *out)
{
    if (from_xff(req, trusted, out) == 1)
        return true;
    const struct http_header *h = http_find_header(req, "X-Real-IP");
    return h && parse_entry(h->value, h->value_len, out);
}
