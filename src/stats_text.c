/* stats_text.c - pages written into a blob with printf. */
#include "stats_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void text_init(struct text *t, size_t cap)
{
    t->b = blob_new(cap);
    t->len = 0;
    t->cap = cap;
    t->oom = t->b == NULL;
}

void tprintf(struct text *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf((char *)t->b->data + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len) {
        t->oom = true; /* sizes are estimated generously; being wrong must not cut a page */
        return;
    }
    t->len += (size_t)n;
}

void tput(struct text *t, const void *p, size_t n)
{
    if (t->oom)
        return;
    if (n > t->cap - t->len) {
        t->oom = true;
        return;
    }
    memcpy(t->b->data + t->len, p, n);
    t->len += n;
}

struct blob *text_done(struct text *t)
{
    if (t->oom) {
        blob_unref(t->b);
        return NULL;
    }
    t->b->len = t->len;
    return t->b;
}
