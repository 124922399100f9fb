/* A growable byte buffer: the one way internal code builds strings. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

void ov_buf_init(ov_buf *b) { memset(b, 0, sizeof *b); }

void ov_buf_free(ov_buf *b) {
    ov_free(b->data);
    memset(b, 0, sizeof *b);
}

static int grow(ov_buf *b, size_t need) {
    if (b->failed) return -1;
    if (need < b->len || need == SIZE_MAX) { b->failed = 1; return -1; }
    if (need + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need + 1) {
        if (cap > SIZE_MAX / 2) { b->failed = 1; return -1; }
        cap *= 2;
    }
    char *p = ov_realloc(b->data, cap);
    if (!p) { b->failed = 1; return -1; }
    b->data = p;
    b->cap = cap;
    return 0;
}

int ov_buf_put(ov_buf *b, const void *p, size_t n) {
    if (grow(b, b->len + n)) return -1;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int ov_buf_puts(ov_buf *b, const char *s) { return ov_buf_put(b, s, strlen(s)); }

int ov_buf_putc(ov_buf *b, int c) {
    char ch = (char)c;
    return ov_buf_put(b, &ch, 1);
}

int ov_buf_printf(ov_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || grow(b, b->len + (size_t)n)) { b->failed = 1; return -1; }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int ov_buf_put_xml(ov_buf *b, const char *s, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep) {
            ov_buf_put(b, s + start, i - start);
            ov_buf_puts(b, rep);
            start = i + 1;
        }
    }
    ov_buf_put(b, s + start, n - start);
    return b->failed ? -1 : 0;
}

int ov_buf_puts_xml(ov_buf *b, const char *s) { return ov_buf_put_xml(b, s, strlen(s)); }

char *ov_buf_detach(ov_buf *b, size_t *len) {
    if (b->failed) { ov_buf_free(b); return NULL; }
    if (!b->data && grow(b, 0)) return NULL;
    if (!b->data) return NULL;
    b->data[b->len] = 0;
    char *d = b->data;
    if (len) *len = b->len;
    memset(b, 0, sizeof *b);
    return d;
}
