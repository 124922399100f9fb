/* Books: documents collected in an order, with the book's own metadata; rendered as EPUB or PDF. */
#include <stdlib.h>
#include <string.h>

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
