/* Books: documents collected in an order, with the book's own metadata; rendered as EPUB or PDF. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

octavo_book *octavo_book_new(octavo *ov) {
    if (!ov) return NULL;
    octavo_book *b = ov_calloc(1, sizeof *b);
    if (b) b->ov = ov;
    return b;
}

void octavo_book_free(octavo_book *b) {
    if (!b) return;
    for (size_t i = 0; i < b->ndocs; i++) octavo_doc_free(b->docs[i]);
    ov_free(b->docs);
    ov_free(b->title);
    ov_free(b->lang);
    ov_free(b->description);
    ov_free(b->publisher);
    ov_free(b->identifier);
    ov_free(b->date);
    ov_free(b->cover);
    for (size_t i = 0; i < b->nauthors; i++) ov_free(b->authors[i]);
    ov_free(b->authors);
    ov_free(b);
}

size_t octavo_book_count(const octavo_book *b) { return b ? b->ndocs : 0; }

int octavo_book_add(octavo_book *b, octavo_doc *doc, octavo_error *err) {
    if (!b || !doc) {
        octavo_doc_free(doc);
        return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_NONE, NULL, 0, 0, "no book or no document");
    }
    if (b->ndocs == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        octavo_doc **d = ov_realloc(b->docs, cap * sizeof *d);
        if (!d) {
            octavo_doc_free(doc);
            return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_NONE, NULL, 0, 0, NULL);
        }
        b->docs = d;
        b->cap = cap;
    }
    b->docs[b->ndocs++] = doc;
    return OCTAVO_OK;
}

static int set_str(char **slot, const char *v) {
    char *c = ov_strdup(v);
    if (!c) return OCTAVO_E_NOMEM;
    ov_free(*slot);
    *slot = c;
    return OCTAVO_OK;
}

int octavo_book_set(octavo_book *b, const char *key, const char *value) {
    if (!b || !key || !value) return OCTAVO_E_ARG;
    if (!strcmp(key, "title")) return set_str(&b->title, value);
    if (!strcmp(key, "lang")) return set_str(&b->lang, value);
    if (!strcmp(key, "description")) return set_str(&b->description, value);
    if (!strcmp(key, "publisher")) return set_str(&b->publisher, value);
    if (!strcmp(key, "identifier")) return set_str(&b->identifier, value);
    if (!strcmp(key, "cover")) return set_str(&b->cover, value);
    if (!strcmp(key, "date")) {
        /* YYYY-MM-DD, optionally followed by a time */
        const char *v = value;
        int ok = strlen(v) >= 10;
        for (int i = 0; ok && i < 10; i++) ok = (i == 4 || i == 7) ? v[i] == '-' : (v[i] >= '0' && v[i] <= '9');
        if (!ok) return OCTAVO_E_TYPE;
        return set_str(&b->date, value);
    }
    if (!strcmp(key, "author")) {
        char **a = ov_realloc(b->authors, (b->nauthors + 1) * sizeof *a);
        if (!a) return OCTAVO_E_NOMEM;
        b->authors = a;
        if (!(a[b->nauthors] = ov_strdup(value))) return OCTAVO_E_NOMEM;
        b->nauthors++;
        return OCTAVO_OK;
    }
    return OCTAVO_E_NOT_FOUND;
}

int octavo_book_order(octavo_book *b, octavo_order order) {
    if (!b || (order != OCTAVO_ORDER_GIVEN && order != OCTAVO_ORDER_DATE && order != OCTAVO_ORDER_DATE_DESC))
        return OCTAVO_E_ARG;
    b->order = order;
    return OCTAVO_OK;
}

/* Stable order by date: a merge sort on (dated?, epoch, index). Undated documents go last, in the
 * order they were added, whichever direction the dates run. */
typedef struct keyed {
    octavo_doc *doc;
    int dated;
    int64_t epoch;
    size_t index;
} keyed;

static int before(const keyed *a, const keyed *b, int desc) {
    if (a->dated != b->dated) return a->dated;
    if (a->dated && a->epoch != b->epoch) return desc ? a->epoch > b->epoch : a->epoch < b->epoch;
    return a->index < b->index;
}

static void merge_sort(keyed *v, keyed *tmp, size_t n, int desc) {
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(v, tmp, h, desc);
    merge_sort(v + h, tmp, n - h, desc);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = before(&v[j], &v[i], desc) ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

void ov_book_sort(octavo_book *b) {
    if (b->order == OCTAVO_ORDER_GIVEN || b->ndocs < 2) return;
    keyed *v = ov_malloc(b->ndocs * sizeof *v), *tmp = ov_malloc(b->ndocs * sizeof *tmp);
    if (v && tmp) {
        for (size_t i = 0; i < b->ndocs; i++) {
            octavo_time t;
            v[i].doc = b->docs[i];
            v[i].dated = octavo_doc_date(b->docs[i], &t) == OCTAVO_OK;
            v[i].epoch = v[i].dated ? t.epoch : 0;
            v[i].index = i;
        }
        merge_sort(v, tmp, b->ndocs, b->order == OCTAVO_ORDER_DATE_DESC);
        for (size_t i = 0; i < b->ndocs; i++) b->docs[i] = v[i].doc;
    }
    /* out of memory: the book stays in the given order, which is still a valid book */
    ov_free(v);
    ov_free(tmp);
}

int ov_book_single(octavo_doc *doc, octavo_book *tmp) {
    memset(tmp, 0, sizeof *tmp);
    tmp->ov = doc->ov;
    tmp->docs = ov_malloc(sizeof *tmp->docs);
    if (!tmp->docs) return OCTAVO_E_NOMEM;
    tmp->docs[0] = doc;
    tmp->ndocs = tmp->cap = 1;
    return OCTAVO_OK;
}

int octavo_book_render(octavo_book *b, octavo_format fmt, octavo_write_fn write, void *ud, octavo_error *err) {
    if (!b || !write) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_NONE, NULL, 0, 0, "no book or no write callback");
    if (!b->ndocs) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_NONE, NULL, 0, 0, "the book has no documents");
    ov_book_sort(b);
    ov_sink s = {write, ud, 0, b->ov->opt.limits.output_bytes, 0};
    int rc;
    switch (fmt) {
    case OCTAVO_FORMAT_EPUB: rc = ov_epub_render(b, &s, err); break;
    case OCTAVO_FORMAT_PDF: rc = ov_pdf_render_book(b, &s, err); break;
    default:
        return ov_error(err, OCTAVO_E_FORMAT, OCTAVO_STAGE_NONE, NULL, 0, 0, "a book renders as EPUB or PDF, not HTML");
    }
    return ov_sink_result(&s, rc, NULL, err);
}

/* ---- links between the documents of a book (EPUB chapters, PDF destinations) */

/* Drops a page extension (".md", ".html", ...) and trailing slashes. */
static void strip_page_ext(char *s) {
    size_t n = strlen(s);
    while (n > 1 && s[n - 1] == '/') s[--n] = 0;
    static const char *const ext[] = {".md", ".markdown", ".mdown", ".mkd", ".html", ".htm", ".xhtml"};
    char *slash = strrchr(s, '/');
    char *dot = strrchr(s, '.');
    if (!dot || (slash && dot < slash)) return;
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (!strcasecmp(dot, ext[i])) { *dot = 0; return; }
}

static int ends_with_path(const char *key, const char *tail) {
    size_t k = strlen(key), t = strlen(tail);
    if (t == 0 || t > k || strcmp(key + k - t, tail)) return 0;
    return t == k || key[k - t - 1] == '/' || tail[0] == '/';
}

char *ov_book_key(const char *path, const char *base) {
    char *k = ov_path_absolute(base, path);
    if (k) strip_page_ext(k);
    return k;
}

long ov_book_find(char *const *keys, size_t n, long from, const char *path) {
    if (!path || !*path) return -1;
    long best = -1;
    if (path[0] == '/') {
        /* site-relative: the document whose path ends with it ("/blog/x" -> ".../pages/blog/x.md"),
         * or its folder's index; the shortest such path wins */
        char *t = ov_book_key(path, "");
        if (!t) return -1;
        const char *tail = t[0] == '/' ? t + 1 : t;
        ov_buf idx;
        ov_buf_init(&idx);
        ov_buf_printf(&idx, "%s%sindex", tail, *tail ? "/" : "");
        for (size_t i = 0; i < n; i++) {
            const char *key = keys[i];
            if (key && ((*tail && ends_with_path(key, tail)) || (idx.data && ends_with_path(key, idx.data))) &&
                (best < 0 || strlen(key) < strlen(keys[best])))
                best = (long)i;
        }
        ov_buf_free(&idx);
        ov_free(t);
        return best;
    }
    const char *fk = from >= 0 && (size_t)from < n ? keys[from] : NULL;
    /* relative: to the document's folder, else to the document as a folder (pretty URLs) */
    for (int pass = 0; pass < 2 && fk && best < 0; pass++) {
        char *dir = ov_strdup(fk);
        if (!dir) return -1;
        char *slash = pass == 0 ? strrchr(dir, '/') : NULL;
        if (slash) *slash = 0;
        char *t = ov_book_key(path, dir);
        ov_free(dir);
        if (!t) return -1;
        size_t tl = strlen(t);
        for (size_t i = 0; i < n && best < 0; i++) {
            const char *key = keys[i];
            if (key && (!strcmp(key, t) || (!strncmp(key, t, tl) && !strcmp(key + tl, "/index")))) best = (long)i;
        }
        ov_free(t);
    }
    return best;
}
