/*
 * The EPUB chapter cache: a rebuild of a book reuses each chapter that did not change instead of
 * building its model, walking it twice and deflating it again.
 *
 * An entry is keyed by the SHA-256 of everything a chapter is made from: this code (the build
 * id), the document's name and bytes, its place in the book, its language and the handle's
 * options. It holds
 *   - the first walk's results: the ids the chapter keeps, its sections, the target of each
 *     <img> (registered again, in the book's order, so that the images come out as before) and
 *     how many have no alternative text;
 *   - the second walk's output: the chapter's deflated XHTML (with its size and CRC-32) and the
 *     warnings given while writing it;
 *   - the book digest it was written against: what the second walk reads of the rest of the book
 *     (every chapter's file, title and ids and which image each of its <img> is, every image's
 *     name and outcome). A chapter whose
 *     digest differs (another chapter's anchors or an image changed) is written again from its
 *     model, its first walk still taken from the entry.
 * The entries go through the cache's own checks (cache.c: length and CRC-32); a damaged or
 * malformed entry is a miss. Cold, warm and uncached books are the same bytes (tests/test_epub.c).
 *
 * Payload, integers as 8 bytes little-endian, strings NUL-terminated:
 *   "OVEC3" NUL | the entry's key, NUL | book digest (32) | imgs_no_alt
 *   | nids, then (orig, id) each | nsecs, then (id index, level, text) each
 *   | nimg, then (0 | 1 target) each | warnings length, warnings | size | crc | zlen, deflated bytes
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cmark-gfm.h>
#include <libxml/parser.h>
#include <nettle/sha2.h>
#include <yaml.h>
#include <zlib.h>

#include "epub.h"

#define MAGIC "OVEC3"
#define MAGIC_LEN 6

/* ---- the key */
static void feed_u64(struct sha256_ctx *h, uint64_t v) {
    unsigned char b[8];
    ov_le_put(b, v, 8);
    sha256_update(h, sizeof b, b);
}

static void feed(struct sha256_ctx *h, const void *p, size_t n) {
    feed_u64(h, n);
    if (n) sha256_update(h, n, p);
}

static void feed_str(struct sha256_ctx *h, const char *s) {
    if (!s) { feed_u64(h, UINT64_MAX); return; } /* NULL: a length no string has (a string's bytes may be "\xff") */
    feed(h, s, strlen(s));
}

static void chapter_key(const ov_epub *e, const ov_epub_chapter *c, char out[72]) {
    const octavo *ov = e->ov;
    struct sha256_ctx h;
    sha256_init(&h);
    size_t idlen;
    const unsigned char *id = ov_build_id(&idlen);
    feed(&h, "octavo epub chapter", 19);
    feed(&h, id, idlen);
    /* the libraries whose output goes into the entry, linked shared in liboctavo.so: an upgrade of
     * one changes what a fresh build gives (the build-id covers only our own code) */
    feed_str(&h, zlibVersion());
    feed_str(&h, xmlParserVersion);
    feed_str(&h, cmark_version_string());
    feed_str(&h, yaml_get_version_string());
    feed_str(&h, c->doc->name);
    feed(&h, c->doc->text, c->doc->len);
    feed_u64(&h, c->index);
    feed_str(&h, c->file);
    feed_str(&h, c->lang);
    feed_u64(&h, ov->opt.flags & ~(unsigned)OCTAVO_NO_CACHE);
    feed_str(&h, ov->resource_root);
    feed_str(&h, ov->base_url);
    feed_str(&h, ov->lang);
    feed_str(&h, ov->default_author);
    feed_u64(&h, ov->opt.resolve != NULL);
    const size_t *lim = &ov->opt.limits.input_bytes;
    for (size_t i = 0; i < sizeof ov->opt.limits / sizeof *lim; i++) feed_u64(&h, lim[i]);
    unsigned char d[32];
    sha256_digest(&h, sizeof d, d);
    memcpy(out, "ch-", 3);
    ov_hex(d, sizeof d, out + 3);
}

void ov_epub_cache_digest(ov_epub *e) {
    struct sha256_ctx h;
    sha256_init(&h);
    feed_u64(&h, e->nch);
    for (size_t i = 0; i < e->nch; i++) {
        const ov_epub_chapter *c = &e->ch[i];
        feed_str(&h, c->key);
        feed_str(&h, c->file);
        feed_str(&h, octavo_doc_title(c->doc));
        feed_u64(&h, (uint64_t)c->doc->title_from_heading);
        feed_u64(&h, c->nids);
        for (size_t k = 0; k < c->nids; k++) {
            feed_str(&h, c->ids[k].orig);
            feed_str(&h, c->ids[k].id);
        }
        /* which of the book's images each <img> is: the same targets can name other files (a
         * symbolic link retargeted, the document's real folder) while the book's images stay
         * the same list */
        feed_u64(&h, c->nimgs);
        for (size_t k = 0; k < c->nimgs; k++) feed_u64(&h, (uint64_t)(int64_t)c->imgs[k]);
    }
    feed_u64(&h, e->nimg);
    for (size_t i = 0; i < e->nimg; i++) {
        const ov_epub_image *im = &e->img[i];
        feed_str(&h, im->target);
        feed_str(&h, im->relpath);
        feed_u64(&h, (uint64_t)(int64_t)im->code);
        feed_str(&h, im->message);
        feed_u64(&h, (uint64_t)(int64_t)im->alias);
        feed_str(&h, im->href);
        feed_str(&h, im->out.mime);
    }
    sha256_digest(&h, sizeof e->digest, e->digest);
}

/* ---- reading an entry: every step checks what is left, so a malformed entry is a miss */
typedef struct rd {
    const unsigned char *p;
    size_t n, at;
    int bad;
} rd;

static uint64_t rd_u64(rd *r) {
    if (r->bad || r->n - r->at < 8) { r->bad = 1; return 0; }
    uint64_t v = ov_le_get(r->p + r->at, 8);
    r->at += 8;
    return v;
}

static const char *rd_str(rd *r) {
    if (r->bad) return NULL;
    const unsigned char *z = memchr(r->p + r->at, 0, r->n - r->at);
    if (!z) { r->bad = 1; return NULL; }
    const char *s = (const char *)r->p + r->at;
    r->at = (size_t)(z - r->p) + 1;
    return s;
}

static const unsigned char *rd_bytes(rd *r, uint64_t len) {
    if (r->bad || len > r->n - r->at) { r->bad = 1; return NULL; }
    const unsigned char *s = r->p + r->at;
    r->at += (size_t)len;
    return s;
}

/* Walks the entry; with c, restores it into the chapter (and registers its images). */
static int parse(ov_epub *e, ov_epub_chapter *c, ov_epub_chapter *into) {
    rd r = {c->centry, c->centry_len, 0, 0};
    const unsigned char *m = rd_bytes(&r, MAGIC_LEN);
    if (!m || memcmp(m, MAGIC, MAGIC_LEN)) return -1;
    const char *key = rd_str(&r); /* the entry's own key: a file under another's name is a miss */
    if (!key || strcmp(key, c->ckey)) return -1;
    const unsigned char *digest = rd_bytes(&r, 32);
    uint64_t no_alt = rd_u64(&r);
    if (digest && !into) memcpy(c->cbook, digest, 32);
    if (into) into->imgs_no_alt = (size_t)no_alt;
    uint64_t nids = rd_u64(&r);
    for (uint64_t i = 0; i < nids && !r.bad; i++) {
        const char *orig = rd_str(&r), *id = rd_str(&r);
        if (into && !r.bad && ov_epub_id_add(into, orig, id)) return OCTAVO_E_NOMEM;
    }
    uint64_t nsecs = rd_u64(&r);
    if (!r.bad && nsecs > r.n) r.bad = 1;
    if (into && !r.bad && nsecs) {
        into->secs = ov_calloc((size_t)nsecs, sizeof *into->secs);
        if (!into->secs) return OCTAVO_E_NOMEM;
        into->capsecs = (size_t)nsecs;
    }
    for (uint64_t i = 0; i < nsecs && !r.bad; i++) {
        uint64_t k = rd_u64(&r), level = rd_u64(&r);
        const char *text = rd_str(&r);
        if (!r.bad && (k >= nids || level < 2 || level > 6)) r.bad = 1;
        if (into && !r.bad) {
            ov_epub_section *s = &into->secs[into->nsecs];
            s->id = into->ids[k].id;
            s->level = (int)level;
            if (!(s->text = ov_strdup(text))) return OCTAVO_E_NOMEM;
            into->nsecs++;
        }
    }
    uint64_t nimg = rd_u64(&r);
    for (uint64_t i = 0; i < nimg && !r.bad; i++) {
        const unsigned char *has = rd_bytes(&r, 1);
        const char *src = has && *has ? rd_str(&r) : NULL;
        if (!r.bad && has && *has > 1) r.bad = 1;
        if (into && !r.bad) {
            int idx = src ? ov_epub_image_ref(e, into, src) : -1;
            if (e->nomem || ov_epub_img_src_add(into, src)) return OCTAVO_E_NOMEM;
            if (into->nimgs == into->capimgs) {
                size_t cap = into->capimgs ? into->capimgs * 2 : 8;
                int *v = ov_realloc(into->imgs, cap * sizeof *v);
                if (!v) return OCTAVO_E_NOMEM;
                into->imgs = v;
                into->capimgs = cap;
            }
            into->imgs[into->nimgs++] = idx;
        }
    }
    uint64_t wlen = rd_u64(&r);
    size_t woff = r.at;
    if (wlen && (!rd_bytes(&r, wlen) || r.p[r.at - 1] != 0)) r.bad = 1;
    uint64_t size = rd_u64(&r), crc = rd_u64(&r), zlen = rd_u64(&r);
    size_t zoff = r.at;
    if (!rd_bytes(&r, zlen) || r.at != r.n || crc > 0xFFFFFFFFu) r.bad = 1;
    if (r.bad) return -1;
    c->cwarn_off = woff;
    c->cwarn_len = (size_t)wlen;
    c->cz_off = zoff;
    c->cz_len = (size_t)zlen;
    c->csize = (size_t)size;
    c->ccrc = (uint32_t)crc;
    return 0;
}

int ov_epub_cache_lookup(ov_epub *e, ov_epub_chapter *c) {
    c->hit = 0;
    c->ckey[0] = 0;
    if (!e->cached) return OCTAVO_OK;
    chapter_key(e, c, c->ckey);
    if (!ov_cache_get(e->ov, c->ckey, &c->centry, &c->centry_len)) return OCTAVO_OK;
    if (parse(e, c, NULL)) {
        ov_free(c->centry);
        c->centry = NULL;
        return OCTAVO_OK;
    }
    c->hit = 1;
    return OCTAVO_OK;
}

int ov_epub_cache_apply(ov_epub *e, ov_epub_chapter *c) {
    int rc = parse(e, c, c);
    if (rc > 0) return ov_error(e->err, rc, OCTAVO_STAGE_EPUB, c->doc->name, 0, 0, NULL);
    if (rc) return ov_error(e->err, OCTAVO_E_INTERNAL, OCTAVO_STAGE_EPUB, c->doc->name, 0, 0, "chapter cache entry");
    return OCTAVO_OK;
}

int ov_epub_img_src_add(ov_epub_chapter *c, const char *src) {
    if ((c->nimg_src & (c->nimg_src - 1)) == 0) { /* 0, 1, 2, 4...: grow to the next power of two */
        char **v = ov_realloc(c->img_src, (c->nimg_src ? c->nimg_src * 2 : 4) * sizeof *v);
        if (!v) return -1;
        c->img_src = v;
    }
    char *s = NULL;
    if (src && !(s = ov_strdup(src))) return -1;
    c->img_src[c->nimg_src++] = s;
    return 0;
}

static atomic_size_t reused; /* tests: chapters taken whole from the cache (ov_epub_cache_usable) */
size_t ov_test_epub_reused(void) { return atomic_exchange(&reused, 0); }

int ov_epub_cache_usable(ov_epub *e, ov_epub_chapter *c) {
    if (!c->hit || !c->centry || memcmp(c->cbook, e->digest, 32)) return 0;
    atomic_fetch_add(&reused, 1);
    /* the warnings as the second walk gave them: code, line, column, message */
    const char *w = (const char *)c->centry + c->cwarn_off, *end = w + c->cwarn_len;
    while (w < end) {
        const char *f[4];
        for (int k = 0; k < 4; k++) {
            f[k] = w;
            w += strlen(w) + 1;
        }
        if (w > end) break;
        ov_warn(e->ov, atoi(f[0]), c->doc->name, (unsigned)strtoul(f[1], NULL, 10), (unsigned)strtoul(f[2], NULL, 10),
                "%s", f[3]);
    }
    return 1;
}

static void put_u64(ov_buf *b, uint64_t v) {
    unsigned char x[8];
    ov_le_put(x, v, 8);
    ov_buf_put(b, x, 8);
}

static void put_str(ov_buf *b, const char *s) { ov_buf_put(b, s ? s : "", strlen(s ? s : "") + 1); }

void ov_epub_cache_store(ov_epub *e, ov_epub_chapter *c, const unsigned char *z, size_t zlen, size_t size, uint32_t crc) {
    if (!e->cached || !c->ckey[0]) return;
    ov_buf b;
    ov_buf_init(&b);
    ov_buf_put(&b, MAGIC, MAGIC_LEN);
    put_str(&b, c->ckey);
    ov_buf_put(&b, e->digest, 32);
    put_u64(&b, c->imgs_no_alt);
    put_u64(&b, c->nids);
    for (size_t i = 0; i < c->nids; i++) {
        put_str(&b, c->ids[i].orig);
        put_str(&b, c->ids[i].id);
    }
    put_u64(&b, c->nsecs);
    for (size_t i = 0; i < c->nsecs; i++) {
        size_t k = 0;
        while (k < c->nids && c->ids[k].id != c->secs[i].id) k++;
        if (k == c->nids) { ov_buf_free(&b); return; } /* cannot be: a section's id is one of the chapter's */
        put_u64(&b, k);
        put_u64(&b, (uint64_t)c->secs[i].level);
        put_str(&b, c->secs[i].text);
    }
    put_u64(&b, c->nimg_src);
    for (size_t i = 0; i < c->nimg_src; i++) {
        unsigned char has = c->img_src[i] != NULL;
        ov_buf_put(&b, &has, 1);
        if (has) put_str(&b, c->img_src[i]);
    }
    put_u64(&b, c->warns.len);
    if (c->warns.len) ov_buf_put(&b, c->warns.data, c->warns.len);
    put_u64(&b, size);
    put_u64(&b, crc);
    put_u64(&b, zlen);
    ov_buf_put(&b, z, zlen);
    if (!b.failed && !c->warns.failed) ov_cache_put(e->ov, c->ckey, b.data, b.len);
    ov_buf_free(&b);
}
