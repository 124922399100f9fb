/*
 * EPUB 3: a book of chapters, one per document, packed with libzip.
 *
 *   mimetype                   stored, first
 *   META-INF/container.xml
 *   OEBPS/content.opf          metadata, manifest, spine
 *   OEBPS/nav.xhtml            toc (chapters, their sections nested by level), landmarks
 *   OEBPS/toc.ncx              the same for EPUB 2 readers
 *   OEBPS/style.css
 *   OEBPS/cover.xhtml          the cover image, or OEBPS/titlepage.xhtml: title, authors, date
 *   OEBPS/chapter-N.xhtml      one per document, in the book's order
 *   OEBPS/images/NAME.EXT      every image once (WebP converted to PNG or JPEG)
 *
 * Steps: build every document's model; walk every chapter once to collect ids, sections and
 * images (epub_xhtml.c); resolve and convert the images on as many threads as there are cores;
 * write the package documents; walk every chapter again to write it; hand the zip to the sink.
 *
 * Dates: dc:date is the book's date, else the newest frontmatter date (a collection is published
 * when its last piece is), else the modification date. dcterms:modified and every zip timestamp
 * come from SOURCE_DATE_EPOCH, else the newest frontmatter date, else 1980-01-01: never the clock,
 * so that the same inputs give the same bytes.
 */
#include <errno.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "epub.h"
#include "zipdl.h" /* ov_zip_load */

#define MIMETYPE "application/epub+zip"

static const char CSS[] =
    "@charset \"UTF-8\";\n"
    "body { margin: 0 4%; line-height: 1.5; font-family: serif; text-align: left; "
    "hyphens: auto; -epub-hyphens: auto; overflow-wrap: break-word; word-wrap: break-word; }\n"
    "h1, h2, h3, h4, h5, h6 { font-family: sans-serif; line-height: 1.25; page-break-after: avoid; "
    "break-after: avoid; hyphens: none; -epub-hyphens: none; }\n"
    "h1 { font-size: 1.6em; margin: 1em 0 0.3em 0; }\n"
    "h2 { font-size: 1.35em; } h3 { font-size: 1.15em; } h4, h5, h6 { font-size: 1em; }\n"
    "p { margin: 0.6em 0; }\n"
    "a { color: inherit; }\n"
    ".byline { margin: 0 0 1.5em 0; color: #555; font-size: 0.9em; }\n"
    "img { max-width: 100%; height: auto; }\n"
    "figure { margin: 1em 0; }\n"
    "pre { white-space: pre-wrap; overflow-wrap: break-word; word-wrap: break-word; "
    "font-size: 0.85em; line-height: 1.35; background: #f4f4f4; padding: 0.5em; "
    "page-break-inside: auto; hyphens: none; -epub-hyphens: none; }\n"
    "code, kbd, samp { font-family: monospace; hyphens: none; -epub-hyphens: none; }\n"
    "blockquote { margin: 1em 1.5em; padding-left: 0.8em; border-left: 3px solid #ccc; }\n"
    "table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }\n"
    "th, td { border: 1px solid #999; padding: 0.2em 0.4em; vertical-align: top; }\n"
    "th { background: #eee; }\n"
    "hr { border: 0; border-top: 1px solid #999; margin: 1.5em 0; }\n"
    "section.footnotes, .footnotes { font-size: 0.85em; margin-top: 2em; border-top: 1px solid #ccc; }\n"
    ".task { font-family: sans-serif; }\n"
    ".titlepage { text-align: center; margin-top: 20%; }\n"
    ".titlepage h1 { font-size: 2em; }\n"
    ".cover { text-align: center; margin: 0; padding: 0; }\n"
    ".cover img { max-height: 100%; }\n"
    "nav ol { list-style-type: none; padding-left: 1em; }\n";

/* ---- small helpers */
static int blank(const char *s) {
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return 0;
    return 1;
}
static int nomem(ov_epub *e) { return ov_error(e->err, OCTAVO_E_NOMEM, OCTAVO_STAGE_EPUB, NULL, 0, 0, NULL); }

static void put_x(ov_buf *b, const char *s) { if (s) ov_epub_put_text(b, s, strlen(s), 1); }

ov_epub_chapter *ov_epub_find_chapter(ov_epub *e, ov_epub_chapter *from, const char *path) {
    long i = ov_book_find(e->keys, e->nch, from ? (long)(from - e->ch) : -1, path);
    return i < 0 ? NULL : &e->ch[i];
}

/* ---- images */

static int add_image(ov_epub *e, const octavo_doc *doc, const char *target, char *relpath) {
    if (e->nimg == e->capimg) {
        size_t cap = e->capimg ? e->capimg * 2 : 16;
        ov_epub_image *v = ov_realloc(e->img, cap * sizeof *v);
        if (!v) { ov_free(relpath); return -2; }
        e->img = v;
        e->capimg = cap;
    }
    ov_epub_image *im = &e->img[e->nimg];
    memset(im, 0, sizeof *im);
    im->doc = doc;
    im->target = ov_strdup(target);
    im->relpath = relpath;
    im->alias = -1;
    if (!im->target) { ov_free(relpath); return -2; }
    return (int)e->nimg++;
}

int ov_epub_image_ref(ov_epub *e, ov_epub_chapter *c, const char *target) {
    int remote = ov_is_remote(target);
    if (remote && !strncasecmp(target, "data:", 5)) return -1;
    if (remote && !e->ov->opt.resolve) return -1;
    char *relpath = NULL;
    if (!remote && !e->ov->opt.resolve) {
        octavo_error tmp;
        relpath = ov_resolve_relpath(c->doc, target, &tmp);
    }
    /* the same file, or the same remote address, is registered once */
    for (size_t i = 0; i < e->nimg; i++) {
        ov_epub_image *im = &e->img[i];
        if ((relpath && im->relpath && !strcmp(relpath, im->relpath)) ||
            (remote && !im->relpath && !strcmp(im->target, target))) {
            ov_free(relpath);
            return (int)i;
        }
    }
    int r = add_image(e, c->doc, target, relpath);
    if (r == -2) {
        e->nomem = 1;
        return -1;
    }
    return r;
}

/* Conversions run on every core, but decoded pixels are what a conversion holds: two large WebP
 * images at once would double the peak memory. Each conversion reserves its pixel bytes from a
 * budget first (one that alone exceeds the budget runs when nothing else does), and the largest
 * go first, while few converted images are held yet. 28 MB (with the costs below): the corpus's
 * 3.6 MP JPEG conversions run two at a time, peak RSS of the 60-post book 42 MB (32 MB: 50-53). */
#ifndef CONVERT_BUDGET
#define CONVERT_BUDGET ((size_t)28 << 20)
#endif
#define TRIM_COST ((size_t)4 << 20)

typedef struct pool {
    ov_epub *e;
    size_t *order;             /* images by decreasing cost */
    unsigned char *taken;      /* per entry of order */
    size_t n, left;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t used;               /* bytes reserved by running conversions */
    size_t running;
} pool;

static void set_failed(ov_epub_image *im, int rc, const octavo_error *er) {
    im->code = rc;
    snprintf(im->message, sizeof im->message, "image '%.200s': %.280s", im->target,
             er->message[0] ? er->message : octavo_strerror(rc));
    memset(&im->out, 0, sizeof im->out);
}

/* Reads an image's bytes and its header (main thread: the reads are short). With the built-in
 * resolver the bytes are read again when converted rather than held meanwhile. */
/* The source index's flags for an image. */
#define SRC_WEBP 1u
#define SRC_PNG_FIRST 2u

static int same_stat(const struct stat *a, const struct stat *b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size && a->st_mode == b->st_mode &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void resolve_one(ov_epub *e, ov_epub_image *im) {
    octavo_error er;
    memset(&er, 0, sizeof er);
    /* A rebuild: a local file whose stat is what the source index recorded with its hash is a
     * WebP known by that hash, and its conversion is looked up without reading the source. Only
     * with the built-in resolver (a caller's may give other bytes for the same path). */
    int cache = ov_cache_on(e->ov);
    char *real = NULL;
    struct stat st;
    struct timespec t0;
    int indexed = 0;
    if (cache && im->relpath && !e->ov->opt.resolve && e->ov->resource_root) {
        ov_buf p;
        ov_buf_init(&p);
        const char *root = e->ov->resource_root;
        ov_buf_printf(&p, "%s%s%s", root, strcmp(root, "/") ? "/" : "", im->relpath);
        real = ov_buf_detach(&p, NULL);
        /* the time first: a change after it gives a later ctime than the stat's */
        if (real && clock_gettime(CLOCK_REALTIME, &t0) == 0 && lstat(real, &st) == 0 && S_ISREG(st.st_mode)) {
            indexed = 1;
            unsigned char sha[32];
            unsigned fl = 0;
            char trust[512], token[512];
            if (ov_cache_src_get(e->ov, real, &st, sha, &fl, trust, sizeof trust) && (fl & SRC_WEBP) &&
                ov_image_epub_cached_sha(e->ov, sha, (fl & SRC_PNG_FIRST) != 0, trust, token, sizeof token, &im->out,
                                         &im->cached, &im->cached_crc)) {
                memcpy(im->sha, sha, 32);
                im->have_sha = 1;
                /* the entry checked whole this time: the next build need only read its head */
                if (token[0] && strcmp(token, trust)) ov_cache_src_put(e->ov, real, &st, &t0, sha, fl, token);
                ov_free(real);
                return;
            }
        }
    }
    int rc = ov_resolve(im->doc, im->target, &im->blob, &er);
    if (rc) { memset(&im->blob, 0, sizeof im->blob); set_failed(im, rc, &er); ov_free(real); return; }
    /* equal files are found by their path; without one, by their bytes */
    if (!im->relpath) {
        ov_sha256(im->blob.data, im->blob.len, im->sha);
        im->have_sha = 1;
    }
    ov_image_info info;
    if (ov_image_probe(e->ov, im->blob.data, im->blob.len, &info, &er) == OCTAVO_OK && info.format == OV_IMG_WEBP) {
        /* converted before (a rebuild): the cache entry is checked now and copied into the zip
         * from its file, so that its bytes are never held; the hash is kept for a conversion */
        if (cache && !im->have_sha) {
            ov_sha256(im->blob.data, im->blob.len, im->sha);
            im->have_sha = 1;
        }
        /* remembered for the next build when the file is as it was before it was read */
        struct stat st2;
        if (indexed && lstat(real, &st2) == 0 && same_stat(&st, &st2))
            ov_cache_src_put(e->ov, real, &st, &t0, im->sha,
                             SRC_WEBP | (info.lossless || info.has_alpha ? SRC_PNG_FIRST : 0), NULL);
        ov_free(real);
        real = NULL;
        if (cache && ov_image_epub_cached(e->ov, im->blob.data, im->blob.len, im->sha, &im->out, &im->cached, &im->cached_crc)) {
            ov_blob_release(&im->blob);
            return;
        }
        /* measured peak RSS of single conversions (the encoders give the pixel rows back as
         * they consume them): to JPEG 1.5 bytes a pixel (the WebP's Y'CbCr planes go straight
         * to libjpeg, standard Huffman tables: no RGB, no coefficient buffer), to PNG with alpha
         * 5 (RGBA and the decoder's alpha plane) plus about 6 MB */
        size_t px = (size_t)info.width * info.height;
        im->cost = info.lossless || info.has_alpha ? px * 4 + ((size_t)7 << 20) : px * 3 / 2 + ((size_t)1 << 20);
    }
    ov_free(real);
    if (!e->ov->opt.resolve) ov_blob_release(&im->blob);
}

static void convert_one(pool *p, ov_epub_image *im) {
    octavo_error er;
    memset(&er, 0, sizeof er);
    int rc = OCTAVO_OK;
    /* bytes read again may differ from those hashed: then they are hashed again, so that a
     * conversion is never stored under another file's key */
    int reread = !im->blob.data;
    if (reread) rc = ov_resolve(im->doc, im->target, &im->blob, &er);
    if (!rc)
        rc = ov_image_for_epub_sha(p->e->ov, im->blob.data, im->blob.len, im->have_sha && !reread ? im->sha : NULL,
                                   &im->out, &er);
    ov_blob_release(&im->blob);
    if (!rc && im->out.mime && !strcmp(im->out.mime, "image/svg+xml")) {
        unsigned char *svg;
        size_t n;
        rc = ov_epub_svg_clean(im->out.data, im->out.len, &svg, &n, er.message, sizeof er.message);
        ov_free(im->out.data);
        im->out.data = svg;
        im->out.len = n;
    }
    if (rc) set_failed(im, rc, &er);
}

/* The next conversion: the largest that fits in what the running ones leave of the budget, or
 * the largest of all when none runs. Called locked; returns n when none may start now. */
static size_t pick(pool *p) {
    for (size_t k = 0; k < p->n; k++) {
        if (p->taken[k]) continue;
        if (!p->running || p->used + p->e->img[p->order[k]].cost <= CONVERT_BUDGET) return k;
    }
    return p->n;
}

static void *worker(void *arg) {
    pool *p = arg;
    pthread_mutex_lock(&p->mu);
    while (p->left) {
        size_t k = pick(p);
        if (k == p->n) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        ov_epub_image *im = &p->e->img[p->order[k]];
        p->taken[k] = 1;
        p->left--;
        p->used += im->cost;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        convert_one(p, im);
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OV_EPUB_ASAN 1 /* clang's way of saying it */
#endif
#endif
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(OV_EPUB_ASAN)
        /* glibc keeps freed pixel buffers in each thread's arena (its mmap threshold grows after
         * the first large free): give them back, or two arenas hold two peaks. (Not under
         * AddressSanitizer: its allocator replaces glibc's, whose malloc_trim then crashes.) */
        if (im->cost >= TRIM_COST) malloc_trim(0);
#endif
        pthread_mutex_lock(&p->mu);
        p->used -= im->cost;
        p->running--;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Resolves and converts every image, on up to one thread per core (the WebP conversions are
 * what a cold build spends its time on). */
static int convert_images(ov_epub *e) {
    if (!e->nimg) return OCTAVO_OK;
    size_t *order = ov_malloc(e->nimg * sizeof *order);
    unsigned char *taken = ov_calloc(e->nimg, 1);
    if (!order || !taken) { ov_free(order); ov_free(taken); return nomem(e); }
    size_t n = 0;
    for (size_t i = 0; i < e->nimg; i++) {
        resolve_one(e, &e->img[i]);
        if (e->img[i].code || e->img[i].cached) continue;
        /* insertion by decreasing cost, stable */
        size_t k = n++;
        while (k > 0 && e->img[order[k - 1]].cost < e->img[i].cost) { order[k] = order[k - 1]; k--; }
        order[k] = i;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = cores > 1 ? (size_t)cores : 1;
    if (nt > 8) nt = 8;
    if (nt > n) nt = n;
    xmlInitParser(); /* before threads parse SVG */
    pool p;
    memset(&p, 0, sizeof p);
    p.e = e;
    p.order = order;
    p.taken = taken;
    p.n = p.left = n;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    pthread_t th[8];
    size_t started = 0;
    for (size_t i = 0; i < nt && nt > 1; i++) {
        if (pthread_create(&th[started], NULL, worker, &p)) break;
        started++;
    }
    /* With threads this one only waits: what the calling thread allocates then does not depend
     * on which conversions it would have won (the allocation-failure tests count it; they
     * failed now and then when it converted one image more than in the counting run). A warm
     * build converts nothing and starts no thread. */
    if (!started) worker(&p);
    for (size_t i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    ov_free(order);
    ov_free(taken);
    return OCTAVO_OK;
}

/* ---- the models: every chapter's DOM (cmark-gfm's HTML parsed by libxml2) is independent of
 * the others' and warns nothing (errors go to its own octavo_error), so they are built on up to
 * one thread per core. The result is the serial one: the error of the first chapter (in the
 * book's order) that failed. Small books are built on this thread: starting a thread costs more
 * than such a model. */
#ifndef MODEL_THREADS_FROM
#define MODEL_THREADS_FROM 4
#endif

typedef struct mpool {
    ov_epub *e;
    size_t next;               /* the next chapter to take */
    size_t failed;             /* the first chapter that failed (nch: none yet) */
    int code;
    octavo_error err;          /* its error */
    pthread_mutex_t mu;
} mpool;

static void *model_worker(void *arg) {
    mpool *p = arg;
    octavo_error er;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next < p->failed ? p->next++ : p->e->nch; /* none after a failure */
        pthread_mutex_unlock(&p->mu);
        if (i >= p->e->nch) break;
        memset(&er, 0, sizeof er);
        if (p->e->ch[i].hit) continue; /* its walks come from the chapter cache */
        int rc = ov_model_build(p->e->ch[i].doc, &er);
        if (rc) {
            pthread_mutex_lock(&p->mu);
            if (i < p->failed) {
                p->failed = i;
                p->code = rc;
                p->err = er;
            }
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

/* libzip is loaded (zipdl.c: dlopen, 2 to 5 ms of mapping and relocating libzip and what it
 * links) on a thread of its own from the start of the book, rather than the writer waiting for it
 * when the zip is opened; a failure is reported then. */
static void *zip_loader(void *arg) {
    (void)arg;
    octavo_error er;
    (void)ov_zip_load(&er);
    return NULL;
}

static int test_threads; /* tests: the threads a book's models are built on (0: as above) */
void ov_test_epub_threads(int n) { test_threads = n < 0 ? 0 : n > 8 ? 8 : n; }

/* The threads a book's models are built on (its chapters deflated on, when more than one). */
static size_t model_threads(const ov_epub *e) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = cores > 1 ? (size_t)cores : 1;
    if (nt > 8) nt = 8;
    if (e->nch < MODEL_THREADS_FROM) nt = 1;
    if (test_threads) nt = (size_t)test_threads;
    if (nt > e->nch) nt = e->nch;
    return nt;
}

static int build_models(ov_epub *e) {
    size_t todo = 0;
    for (size_t i = 0; i < e->nch; i++) todo += !e->ch[i].hit;
    if (!todo) return OCTAVO_OK; /* every chapter's walks come from the chapter cache */
    size_t nt = model_threads(e);
    if (nt <= 1) {
        for (size_t i = 0; i < e->nch; i++) {
            if (e->ch[i].hit) continue;
            int rc = ov_model_build(e->ch[i].doc, e->err);
            if (rc) return rc;
        }
        return OCTAVO_OK;
    }
    xmlInitParser(); /* before threads parse */
    mpool p;
    memset(&p, 0, sizeof p);
    p.e = e;
    p.failed = e->nch;
    if (pthread_mutex_init(&p.mu, NULL)) return ov_error(e->err, OCTAVO_E_INTERNAL, OCTAVO_STAGE_EPUB, NULL, 0, 0, "mutex");
    pthread_t th[8];
    size_t started = 0;
    for (size_t i = 1; i < nt; i++) {
        if (pthread_create(&th[started], NULL, model_worker, &p)) break;
        started++;
    }
    model_worker(&p); /* this thread works too; with no thread started it builds them all */
    for (size_t i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.mu);
    if (p.failed < e->nch) {
        *e->err = p.err;
        return p.code;
    }
    return OCTAVO_OK;
}

/* Equal bytes are packed once; names from the source file, made safe and unique. */
static int name_images(ov_epub *e) {
    for (size_t i = 0; i < e->nimg; i++) {
        ov_epub_image *im = &e->img[i];
        if (im->code) continue;
        for (size_t j = 0; j < i; j++) {
            ov_epub_image *o = &e->img[j];
            if (!o->code && o->alias < 0 && !o->relpath && !im->relpath && !memcmp(o->sha, im->sha, 32)) {
                im->alias = (int)j;
                ov_free(im->out.data);
                im->out.data = NULL;
                break;
            }
        }
        if (im->alias >= 0) continue;
        const char *src = im->relpath ? im->relpath : im->target;
        size_t sl = strcspn(src, "?#");
        const char *base = src;
        for (size_t k = 0; k < sl; k++)
            if (src[k] == '/') base = src + k + 1;
        size_t bl = (size_t)(src + sl - base);
        const char *dot = NULL;
        for (size_t k = 0; k < bl; k++)
            if (base[k] == '.') dot = base + k;
        if (dot && dot > base) bl = (size_t)(dot - base);
        ov_buf b;
        ov_buf_init(&b);
        ov_buf_puts(&b, "images/");
        size_t start = b.len;
        for (size_t k = 0; k < bl && b.len - start < 64; k++) {
            char c = base[k];
            int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
            ov_buf_putc(&b, ok ? c : '_');
        }
        if (b.len == start) ov_buf_puts(&b, "image");
        size_t stem = b.len;
        for (int k = 1; !b.failed; k++) {
            b.len = stem;
            if (k > 1) ov_buf_printf(&b, "-%d", k);
            ov_buf_printf(&b, ".%s", im->out.ext ? im->out.ext : "bin");
            int clash = 0;
            for (size_t j = 0; j < i && !clash; j++)
                clash = e->img[j].href && !strcasecmp(e->img[j].href, b.data);
            if (!clash) break;
        }
        im->href = ov_buf_detach(&b, NULL);
        if (!im->href) return nomem(e);
    }
    return OCTAVO_OK;
}

/* ---- metadata */
typedef struct meta {
    const char *title;
    char lang[64];
    const char **authors;
    size_t nauthors;
    char identifier[256];
    char date[32];             /* dc:date */
    char modified[32];         /* dcterms:modified */
    time_t mtime;
    const char *description;
    const char *publisher;
    int has_images, has_gif;
} meta;

static void fmt_utc(time_t t, char *buf, size_t size) {
    struct tm tm;
    if (!gmtime_r(&t, &tm)) { snprintf(buf, size, "1980-01-01T00:00:00Z"); return; }
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int source_date_epoch(time_t *out) {
    const char *s = getenv("SOURCE_DATE_EPOCH");
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0 || v > 253402300799LL) return 0;
    *out = (time_t)v;
    return 1;
}

static int build_meta(ov_epub *e, meta *m) {
    octavo_book *bk = e->book;
    memset(m, 0, sizeof *m);
    m->title = !blank(bk->title) ? bk->title : bk->ndocs == 1 ? octavo_doc_title(bk->docs[0]) : "Untitled";
    if (blank(m->title)) m->title = "Untitled";
    const char *lang = bk->lang;
    if (!ov_epub_lang_ok(lang) && bk->ndocs) lang = octavo_doc_lang(bk->docs[0]);
    if (!ov_epub_lang_ok(lang)) lang = e->ov->lang;
    if (!ov_epub_lang_ok(lang)) lang = "en";
    snprintf(m->lang, sizeof m->lang, "%s", lang);

    /* authors: the book's, else each document's once, in the book's order */
    size_t n = bk->nauthors;
    for (size_t i = 0; !bk->nauthors && i < bk->ndocs; i++) {
        const char *const *names;
        n += ov_doc_authors(bk->docs[i], &names);
    }
    m->authors = ov_calloc(n ? n : 1, sizeof *m->authors);
    if (!m->authors) return nomem(e);
    if (bk->nauthors) {
        for (size_t i = 0; i < bk->nauthors; i++)
            if (bk->authors[i] && *bk->authors[i]) m->authors[m->nauthors++] = bk->authors[i];
    } else { /* each name once: a document's list gives one creator each */
        for (size_t i = 0; i < bk->ndocs; i++) {
            const char *const *names;
            size_t k = ov_doc_authors(bk->docs[i], &names);
            for (size_t x = 0; x < k; x++) {
                const char *a = names[x];
                if (!a || !*a) continue;
                int seen = 0;
                for (size_t j = 0; j < m->nauthors && !seen; j++) seen = !strcmp(m->authors[j], a);
                if (!seen) m->authors[m->nauthors++] = a;
            }
        }
    }

    /* dates */
    int dated = 0;
    octavo_time newest;
    memset(&newest, 0, sizeof newest);
    for (size_t i = 0; i < bk->ndocs; i++) {
        octavo_time t;
        if (octavo_doc_date(bk->docs[i], &t) == OCTAVO_OK && (!dated || t.epoch > newest.epoch)) {
            newest = t;
            dated = 1;
        }
    }
    time_t sde;
    if (source_date_epoch(&sde)) m->mtime = sde;
    else if (dated) m->mtime = (time_t)newest.epoch;
    else m->mtime = 315532800; /* 1980-01-01 */
    if (m->mtime < 315532800) m->mtime = 315532800; /* zip times start in 1980: so does modified */
    fmt_utc(m->mtime, m->modified, sizeof m->modified);
    if (bk->date && strlen(bk->date) >= 10) snprintf(m->date, sizeof m->date, "%.10s", bk->date);
    else if (dated && newest.year > 0 && newest.year < 10000)
        snprintf(m->date, sizeof m->date, "%04d-%02d-%02d", newest.year, newest.month, newest.day);
    else snprintf(m->date, sizeof m->date, "%.10s", m->modified);

    m->description = bk->description && *bk->description ? bk->description : NULL;
    if (!m->description && bk->ndocs == 1) {
        const char *s = octavo_doc_summary(bk->docs[0], 300);
        if (s && *s) m->description = s;
    }
    m->publisher = bk->publisher && *bk->publisher ? bk->publisher : NULL;

    /* identifier: the caller's, else a name-based UUID from the content */
    if (bk->identifier && *bk->identifier) {
        snprintf(m->identifier, sizeof m->identifier, "%s", bk->identifier);
    } else {
        ov_buf h;
        ov_buf_init(&h);
        ov_buf_printf(&h, "octavo-epub\n%s\n%s\n", m->title, m->lang);
        for (size_t i = 0; i < m->nauthors; i++) ov_buf_printf(&h, "%s\n", m->authors[i]);
        unsigned char d[32];
        for (size_t i = 0; i < bk->ndocs; i++) {
            ov_sha256(bk->docs[i]->text, bk->docs[i]->len, d);
            ov_buf_put(&h, d, sizeof d);
        }
        if (h.failed) { ov_buf_free(&h); return nomem(e); }
        ov_sha256(h.data, h.len, d);
        ov_buf_free(&h);
        d[6] = (unsigned char)((d[6] & 0x0F) | 0x50); /* version 5: name-based (SHA) */
        d[8] = (unsigned char)((d[8] & 0x3F) | 0x80);
        snprintf(m->identifier, sizeof m->identifier,
                 "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", d[0], d[1], d[2],
                 d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]);
    }
    for (size_t i = 0; i < e->nimg; i++) {
        const ov_epub_image *im = &e->img[i];
        if (im->code || im->alias >= 0) continue;
        m->has_images = 1;
        if (im->out.mime && !strcmp(im->out.mime, "image/gif")) m->has_gif = 1;
    }
    return OCTAVO_OK;
}

/* ---- package documents */

/* A chapter's title; never empty (readers and epubcheck want text in every navigation entry). */
static const char *chapter_title(const ov_epub_chapter *c, char *buf, size_t size) {
    const char *t = octavo_doc_title(c->doc);
    if (!blank(t)) return t;
    snprintf(buf, size, "Chapter %zu", c->index);
    return buf;
}

static void xhtml_head(ov_buf *b, const char *lang, const char *title, const char *css) {
    ov_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE html>\n"
                   "<html xmlns=\"http://www.w3.org/1999/xhtml\" xmlns:epub=\"http://www.idpf.org/2007/ops\" lang=\"");
    put_x(b, lang);
    ov_buf_puts(b, "\" xml:lang=\"");
    put_x(b, lang);
    ov_buf_puts(b, "\">\n<head>\n<meta charset=\"UTF-8\"/>\n<title>");
    put_x(b, title && *title ? title : "Untitled");
    ov_buf_puts(b, "</title>\n<link rel=\"stylesheet\" type=\"text/css\" href=\"");
    ov_buf_puts(b, css);
    ov_buf_puts(b, "\"/>\n</head>\n");
}

static char *container_xml(void) {
    ov_buf b;
    ov_buf_init(&b);
    ov_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<container version=\"1.0\" xmlns=\"urn:oasis:names:tc:opendocument:xmlns:container\">\n"
                    "  <rootfiles>\n"
                    "    <rootfile full-path=\"OEBPS/content.opf\" media-type=\"application/oebps-package+xml\"/>\n"
                    "  </rootfiles>\n"
                    "</container>\n");
    return ov_buf_detach(&b, NULL);
}

static void opf_dc(ov_buf *b, const char *el, const char *id, const char *value) {
    ov_buf_printf(b, "    <dc:%s", el);
    if (id) ov_buf_printf(b, " id=\"%s\"", id);
    ov_buf_putc(b, '>');
    put_x(b, value);
    ov_buf_printf(b, "</dc:%s>\n", el);
}

static void opf_meta(ov_buf *b, const char *property, const char *value) {
    ov_buf_printf(b, "    <meta property=\"%s\">", property);
    put_x(b, value);
    ov_buf_puts(b, "</meta>\n");
}

static char *content_opf(ov_epub *e, const meta *m, int cover_page) {
    ov_buf b;
    ov_buf_init(&b);
    ov_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<package xmlns=\"http://www.idpf.org/2007/opf\" version=\"3.0\" unique-identifier=\"bookid\" xml:lang=\"");
    put_x(&b, m->lang);
    ov_buf_puts(&b, "\">\n  <metadata xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n");
    opf_dc(&b, "identifier", "bookid", m->identifier);
    opf_dc(&b, "title", "title", m->title);
    opf_dc(&b, "language", NULL, m->lang);
    for (size_t i = 0; i < m->nauthors; i++) {
        char id[32];
        snprintf(id, sizeof id, "creator%zu", i + 1);
        opf_dc(&b, "creator", id, m->authors[i]);
        ov_buf_printf(&b, "    <meta refines=\"#%s\" property=\"role\" scheme=\"marc:relators\">aut</meta>\n", id);
    }
    opf_dc(&b, "date", NULL, m->date);
    if (m->description) opf_dc(&b, "description", NULL, m->description);
    if (m->publisher) opf_dc(&b, "publisher", NULL, m->publisher);
    opf_meta(&b, "dcterms:modified", m->modified);
    /* accessibility (schema.org, as EPUB Accessibility 1.0 asks) */
    opf_meta(&b, "schema:accessMode", "textual");
    if (m->has_images) opf_meta(&b, "schema:accessMode", "visual");
    int all_alt = e->imgs_no_alt == 0;
    if (!m->has_images || all_alt) opf_meta(&b, "schema:accessModeSufficient", "textual");
    if (m->has_images) opf_meta(&b, "schema:accessModeSufficient", "textual,visual");
    opf_meta(&b, "schema:accessibilityFeature", "structuralNavigation");
    opf_meta(&b, "schema:accessibilityFeature", "tableOfContents");
    opf_meta(&b, "schema:accessibilityFeature", "readingOrder");
    if (m->has_images && all_alt) opf_meta(&b, "schema:accessibilityFeature", "alternativeText");
    opf_meta(&b, "schema:accessibilityHazard", m->has_gif ? "unknown" : "none");
    ov_buf summary;
    ov_buf_init(&summary);
    ov_buf_puts(&summary, "Text with headings marked up for navigation and a table of contents of every chapter "
                          "and its sections; reading order follows the source.");
    if (m->has_images)
        ov_buf_puts(&summary, all_alt ? " Every image has a text alternative."
                                      : " Some images have no text alternative in the source.");
    opf_meta(&b, "schema:accessibilitySummary", summary.data ? summary.data : "");
    ov_buf_free(&summary);
    if (e->cover >= 0) {
        const ov_epub_image *c = &e->img[e->cover];
        ov_buf_printf(&b, "    <meta name=\"cover\" content=\"img%d\"/>\n", (c->alias >= 0 ? c->alias : e->cover) + 1);
    }
    ov_buf_puts(&b, "  </metadata>\n  <manifest>\n");
    ov_buf_puts(&b, "    <item id=\"nav\" href=\"nav.xhtml\" media-type=\"application/xhtml+xml\" properties=\"nav\"/>\n"
                    "    <item id=\"ncx\" href=\"toc.ncx\" media-type=\"application/x-dtbncx+xml\"/>\n"
                    "    <item id=\"css\" href=\"style.css\" media-type=\"text/css\"/>\n");
    ov_buf_printf(&b, "    <item id=\"front\" href=\"%s\" media-type=\"application/xhtml+xml\"/>\n",
                  cover_page ? "cover.xhtml" : "titlepage.xhtml");
    for (size_t i = 0; i < e->nch; i++)
        ov_buf_printf(&b, "    <item id=\"ch%zu\" href=\"%s\" media-type=\"application/xhtml+xml\"/>\n", i + 1, e->ch[i].file);
    int cover_idx = -1;
    if (e->cover >= 0) cover_idx = e->img[e->cover].alias >= 0 ? e->img[e->cover].alias : e->cover;
    for (size_t i = 0; i < e->nimg; i++) {
        const ov_epub_image *im = &e->img[i];
        if (im->code || im->alias >= 0 || !im->href) continue;
        ov_buf_printf(&b, "    <item id=\"img%zu\" href=\"", i + 1);
        put_x(&b, im->href);
        ov_buf_printf(&b, "\" media-type=\"%s\"%s/>\n", im->out.mime ? im->out.mime : "application/octet-stream",
                      (int)i == cover_idx ? " properties=\"cover-image\"" : "");
    }
    ov_buf_puts(&b, "  </manifest>\n  <spine toc=\"ncx\">\n    <itemref idref=\"front\"/>\n    <itemref idref=\"nav\"/>\n");
    for (size_t i = 0; i < e->nch; i++) ov_buf_printf(&b, "    <itemref idref=\"ch%zu\"/>\n", i + 1);
    ov_buf_puts(&b, "  </spine>\n</package>\n");
    return ov_buf_detach(&b, NULL);
}

/* Sections nested by level: an entry holds the following deeper ones. */
static void nav_sections(ov_buf *b, const ov_epub_chapter *c, size_t *i, int parent, int depth) {
    ov_buf_printf(b, "%*s<ol>\n", depth * 2, "");
    while (*i < c->nsecs && c->secs[*i].level > parent) {
        const ov_epub_section *s = &c->secs[*i];
        ov_buf_printf(b, "%*s<li><a href=\"%s#", depth * 2 + 2, "", c->file);
        put_x(b, s->id);
        ov_buf_puts(b, "\">");
        put_x(b, s->text);
        ov_buf_puts(b, "</a>");
        (*i)++;
        if (*i < c->nsecs && c->secs[*i].level > s->level) {
            ov_buf_putc(b, '\n');
            nav_sections(b, c, i, s->level, depth + 2);
            ov_buf_printf(b, "%*s", depth * 2 + 2, "");
        }
        ov_buf_puts(b, "</li>\n");
    }
    ov_buf_printf(b, "%*s</ol>\n", depth * 2, "");
}

static char *nav_xhtml(ov_epub *e, const meta *m, int cover_page) {
    ov_buf b;
    ov_buf_init(&b);
    xhtml_head(&b, m->lang, "Contents", "style.css");
    ov_buf_puts(&b, "<body>\n<nav epub:type=\"toc\" id=\"toc\">\n  <h1>Contents</h1>\n  <ol>\n");
    for (size_t i = 0; i < e->nch; i++) {
        const ov_epub_chapter *c = &e->ch[i];
        char tb[32];
        ov_buf_printf(&b, "    <li><a href=\"%s\">", c->file);
        put_x(&b, chapter_title(c, tb, sizeof tb));
        ov_buf_puts(&b, "</a>");
        if (c->nsecs) {
            size_t k = 0;
            ov_buf_putc(&b, '\n');
            nav_sections(&b, c, &k, 1, 3);
            ov_buf_puts(&b, "    ");
        }
        ov_buf_puts(&b, "</li>\n");
    }
    ov_buf_puts(&b, "  </ol>\n</nav>\n<nav epub:type=\"landmarks\" id=\"landmarks\" hidden=\"hidden\">\n"
                    "  <h2>Landmarks</h2>\n  <ol>\n");
    if (cover_page) ov_buf_puts(&b, "    <li><a epub:type=\"cover\" href=\"cover.xhtml\">Cover</a></li>\n");
    else ov_buf_puts(&b, "    <li><a epub:type=\"titlepage\" href=\"titlepage.xhtml\">Title page</a></li>\n");
    ov_buf_puts(&b, "    <li><a epub:type=\"toc\" href=\"nav.xhtml#toc\">Contents</a></li>\n");
    if (e->nch) ov_buf_printf(&b, "    <li><a epub:type=\"bodymatter\" href=\"%s\">Start</a></li>\n", e->ch[0].file);
    ov_buf_puts(&b, "  </ol>\n</nav>\n</body>\n</html>\n");
    return ov_buf_detach(&b, NULL);
}

static void ncx_sections(ov_buf *b, const ov_epub_chapter *c, size_t *i, int parent, int depth, int *order) {
    while (*i < c->nsecs && c->secs[*i].level > parent) {
        const ov_epub_section *s = &c->secs[*i];
        int po = ++*order;
        ov_buf_printf(b, "%*s<navPoint id=\"np%d\" playOrder=\"%d\"><navLabel><text>", depth * 2, "", po, po);
        put_x(b, s->text);
        ov_buf_printf(b, "</text></navLabel><content src=\"%s#", c->file);
        put_x(b, s->id);
        ov_buf_puts(b, "\"/>");
        (*i)++;
        if (*i < c->nsecs && c->secs[*i].level > s->level) {
            ov_buf_putc(b, '\n');
            ncx_sections(b, c, i, s->level, depth + 1, order);
            ov_buf_printf(b, "%*s", depth * 2, "");
        }
        ov_buf_puts(b, "</navPoint>\n");
    }
}

static int sec_depth(const ov_epub_chapter *c, size_t *i, int parent) {
    int best = 0;
    while (*i < c->nsecs && c->secs[*i].level > parent) {
        int lv = c->secs[(*i)++].level, d = 1;
        if (*i < c->nsecs && c->secs[*i].level > lv) d += sec_depth(c, i, lv);
        if (d > best) best = d;
    }
    return best;
}

static char *toc_ncx(ov_epub *e, const meta *m, int cover_page) {
    int depth = 1;
    for (size_t i = 0; i < e->nch; i++) {
        size_t k = 0;
        int d = 1 + sec_depth(&e->ch[i], &k, 1);
        if (d > depth) depth = d;
    }
    ov_buf b;
    ov_buf_init(&b);
    ov_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<ncx xmlns=\"http://www.daisy.org/z3986/2005/ncx/\" version=\"2005-1\" xml:lang=\"");
    put_x(&b, m->lang);
    ov_buf_puts(&b, "\">\n  <head>\n    <meta name=\"dtb:uid\" content=\"");
    put_x(&b, m->identifier);
    ov_buf_printf(&b, "\"/>\n    <meta name=\"dtb:depth\" content=\"%d\"/>\n"
                      "    <meta name=\"dtb:totalPageCount\" content=\"0\"/>\n"
                      "    <meta name=\"dtb:maxPageNumber\" content=\"0\"/>\n  </head>\n  <docTitle><text>", depth);
    put_x(&b, m->title);
    ov_buf_puts(&b, "</text></docTitle>\n  <navMap>\n");
    int order = 0;
    ++order;
    ov_buf_printf(&b, "    <navPoint id=\"np%d\" playOrder=\"%d\"><navLabel><text>%s</text></navLabel>"
                      "<content src=\"%s\"/></navPoint>\n",
                  order, order, cover_page ? "Cover" : "Title page", cover_page ? "cover.xhtml" : "titlepage.xhtml");
    for (size_t i = 0; i < e->nch; i++) {
        const ov_epub_chapter *c = &e->ch[i];
        int po = ++order;
        ov_buf_printf(&b, "    <navPoint id=\"np%d\" playOrder=\"%d\"><navLabel><text>", po, po);
        char tb[32];
        put_x(&b, chapter_title(c, tb, sizeof tb));
        ov_buf_printf(&b, "</text></navLabel><content src=\"%s\"/>", c->file);
        if (c->nsecs) {
            size_t k = 0;
            ov_buf_putc(&b, '\n');
            ncx_sections(&b, c, &k, 1, 3, &order);
            ov_buf_puts(&b, "    ");
        }
        ov_buf_puts(&b, "</navPoint>\n");
    }
    ov_buf_puts(&b, "  </navMap>\n</ncx>\n");
    return ov_buf_detach(&b, NULL);
}

static void human_date(ov_buf *b, const char *date) {
    /* "2019-04-22" as it is: unambiguous in every language */
    put_x(b, date);
}

static char *front_page(ov_epub *e, const meta *m, int cover_page) {
    ov_buf b;
    ov_buf_init(&b);
    xhtml_head(&b, m->lang, m->title, "style.css");
    if (cover_page) {
        const ov_epub_image *c = &e->img[e->cover];
        if (c->alias >= 0) c = &e->img[c->alias];
        ov_buf_puts(&b, "<body class=\"cover\">\n<section epub:type=\"cover\" class=\"cover\">\n<img src=\"");
        put_x(&b, c->href);
        ov_buf_puts(&b, "\" alt=\"");
        put_x(&b, m->title);
        ov_buf_puts(&b, "\"/>\n</section>\n</body>\n</html>\n");
        return ov_buf_detach(&b, NULL);
    }
    ov_buf_puts(&b, "<body>\n<section epub:type=\"titlepage\" class=\"titlepage\">\n<h1>");
    put_x(&b, m->title);
    ov_buf_puts(&b, "</h1>\n");
    if (m->nauthors) {
        ov_buf_puts(&b, "<p class=\"authors\">");
        for (size_t i = 0; i < m->nauthors; i++) {
            if (i) ov_buf_puts(&b, i + 1 == m->nauthors ? " and " : ", ");
            put_x(&b, m->authors[i]);
        }
        ov_buf_puts(&b, "</p>\n");
    }
    if (m->publisher) {
        ov_buf_puts(&b, "<p class=\"publisher\">");
        put_x(&b, m->publisher);
        ov_buf_puts(&b, "</p>\n");
    }
    ov_buf_puts(&b, "<p class=\"date\"><time datetime=\"");
    put_x(&b, m->date);
    ov_buf_puts(&b, "\">");
    human_date(&b, m->date);
    ov_buf_puts(&b, "</time></p>\n</section>\n</body>\n</html>\n");
    return ov_buf_detach(&b, NULL);
}

/* A chapter: its title, author and date, then its body. */
static int chapter_xhtml(ov_epub *e, ov_epub_chapter *c, ov_buf *b) {
    octavo_doc *d = c->doc;
    char tb[32];
    const char *title = chapter_title(c, tb, sizeof tb);
    xhtml_head(b, c->lang, title, "style.css");
    ov_buf_printf(b, "<body>\n<section epub:type=\"chapter\" id=\"c%zu\">\n<h1>", c->index);
    put_x(b, title);
    ov_buf_puts(b, "</h1>\n");
    const char *author = octavo_doc_author(d);
    octavo_time t;
    int dated = octavo_doc_date(d, &t) == OCTAVO_OK && t.year > 0 && t.year < 10000;
    if ((author && *author) || dated) {
        ov_buf_puts(b, "<p class=\"byline\">");
        if (author && *author) {
            ov_buf_puts(b, "<span class=\"author\">");
            put_x(b, author);
            ov_buf_puts(b, "</span>");
        }
        if (author && *author && dated) ov_buf_puts(b, " \xC2\xB7 ");
        if (dated) {
            char iso[40], day[16];
            if (t.has_time) ov_time_rfc3339(&t, iso, sizeof iso);
            else snprintf(iso, sizeof iso, "%04d-%02d-%02d", t.year, t.month, t.day);
            snprintf(day, sizeof day, "%04d-%02d-%02d", t.year, t.month, t.day);
            ov_buf_puts(b, "<time datetime=\"");
            put_x(b, iso);
            ov_buf_puts(b, "\">");
            human_date(b, day);
            ov_buf_puts(b, "</time>");
        }
        ov_buf_puts(b, "</p>\n");
    }
    int rc = ov_epub_chapter_walk(e, c, 1, b);
    if (rc) return rc;
    ov_buf_puts(b, "\n</section>\n</body>\n</html>\n");
    return b->failed ? nomem(e) : OCTAVO_OK;
}

/* ---- the chapters into the zip. This thread writes every chapter's XHTML, in order (the
 * warnings come out in the book's order); deflating them is shared with a helper thread that
 * deflates each chapter as soon as it is written, with its own deflater; the entries are added
 * in the book's order, the bytes those of one thread. Books whose models are built on one thread
 * are written so too: one buffer for every chapter, each deflated before the next is written. */
typedef struct zjob {
    char *xhtml;               /* written, not yet deflated (NULL once taken) */
    size_t len;
    unsigned char *z;          /* deflated */
    size_t zlen;
    uint32_t crc;
    int done;                  /* deflated, or failed (rc) */
    int rc;
    int cached;                /* from the chapter cache: nothing to deflate or store */
} zjob;

typedef struct zpool {
    zjob *jobs;
    size_t n;
    size_t written;            /* chapters whose XHTML is there */
    size_t taken;              /* chapters taken to deflate */
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} zpool;

/* Deflates the next chapter written and not taken, if any: called locked, returns locked. */
static int deflate_next(zpool *p, ov_zip_deflater *d) {
    while (p->taken < p->written && p->jobs[p->taken].done) p->taken++; /* from the cache */
    if (p->stop || p->taken >= p->written) return 0;
    zjob *j = &p->jobs[p->taken++];
    char *x = j->xhtml;
    j->xhtml = NULL;
    pthread_mutex_unlock(&p->mu);
    unsigned char *out;
    size_t n;
    uint32_t crc = 0;
    int rc = ov_zip_pack(d, x, j->len, &out, &n, &crc);
    ov_free(x);
    pthread_mutex_lock(&p->mu);
    j->z = out;
    j->zlen = n;
    j->crc = crc;
    j->rc = rc;
    j->done = 1;
    pthread_cond_broadcast(&p->cv);
    return 1;
}

static void *zworker(void *arg) {
    zpool *p = arg;
    ov_zip_deflater d;
    memset(&d, 0, sizeof d);
    pthread_mutex_lock(&p->mu);
    while (!p->stop && p->taken < p->n)
        if (!deflate_next(p, &d) && !p->stop && p->taken < p->n) pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    ov_zip_deflater_end(&d);
    return NULL;
}

/* Chapter c as the chapter cache has it, when it can be used as it is (its warnings are given
 * again): j is filled with a copy of its deflated XHTML and returns 1. -1: out of memory. */
static int from_cache(ov_epub *e, ov_epub_chapter *c, zjob *j) {
    if (!ov_epub_cache_usable(e, c)) return 0;
    j->z = ov_malloc(c->cz_len ? c->cz_len : 1);
    if (!j->z) return -1;
    memcpy(j->z, c->centry + c->cz_off, c->cz_len);
    j->zlen = c->cz_len;
    j->len = c->csize;
    j->crc = c->ccrc;
    j->cached = 1;
    j->done = 1;
    return 1;
}

/* A chapter's XHTML, from its model (built now when the cache gave its first walk only). */
static int write_one(ov_epub *e, ov_epub_chapter *c, ov_buf *b) {
    int rc = c->hit ? ov_model_build(c->doc, e->err) : OCTAVO_OK;
    return rc ? rc : chapter_xhtml(e, c, b);
}

/* Adds chapter i's deflated entry (the zip takes j->z), storing it in the chapter cache first. */
static int add_job(ov_epub *e, ov_zipw *z, size_t i, zjob *j) {
    char name[64];
    snprintf(name, sizeof name, "OEBPS/%s", e->ch[i].file);
    if (j->rc) {
        ov_free(j->z);
        j->z = NULL;
        return ov_error(e->err, j->rc, OCTAVO_STAGE_EPUB, NULL, 0, 0, "zip: %s: %s", name,
                        j->rc == OCTAVO_E_NOMEM ? "out of memory" : "deflate failed");
    }
    if (!j->cached) ov_epub_cache_store(e, &e->ch[i], j->z, j->zlen, j->len, j->crc);
    int rc = ov_zipw_add_deflated(z, name, j->z, j->zlen, j->len, j->crc, e->err);
    j->z = NULL;
    return rc;
}

static int write_chapters(ov_epub *e, ov_zipw *z) {
    int rc = OCTAVO_OK;
    if (model_threads(e) <= 1) {
        ov_buf b;
        ov_buf_init(&b);
        ov_zip_deflater d;
        memset(&d, 0, sizeof d);
        for (size_t i = 0; i < e->nch && !rc; i++) {
            zjob j;
            memset(&j, 0, sizeof j);
            int got = from_cache(e, &e->ch[i], &j);
            if (got < 0) { rc = nomem(e); break; }
            if (!got) {
                b.len = 0;
                if ((rc = write_one(e, &e->ch[i], &b))) break;
                j.len = b.len;
                j.rc = ov_zip_pack(&d, b.data, b.len, &j.z, &j.zlen, &j.crc);
            }
            rc = add_job(e, z, i, &j);
        }
        ov_zip_deflater_end(&d);
        ov_buf_free(&b);
        return rc;
    }
    zpool p;
    memset(&p, 0, sizeof p);
    p.n = e->nch;
    p.jobs = ov_calloc(e->nch, sizeof *p.jobs);
    if (!p.jobs) return nomem(e);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    pthread_t th;
    int started = pthread_create(&th, NULL, zworker, &p) == 0;
    ov_zip_deflater d;
    memset(&d, 0, sizeof d);
    for (size_t i = 0; i < e->nch && !rc; i++) {
        zjob cj;
        memset(&cj, 0, sizeof cj);
        int got = from_cache(e, &e->ch[i], &cj);
        if (got < 0) { rc = nomem(e); break; }
        char *x = NULL;
        size_t len = 0;
        if (!got) {
            ov_buf b;
            ov_buf_init(&b);
            rc = write_one(e, &e->ch[i], &b);
            len = b.len;
            x = rc ? NULL : ov_buf_detach(&b, &len);
            ov_buf_free(&b);
            if (!rc && !x) rc = nomem(e);
            if (rc) break;
        }
        pthread_mutex_lock(&p.mu);
        if (got) p.jobs[i] = cj;
        else {
            p.jobs[i].xhtml = x;
            p.jobs[i].len = len;
        }
        p.written = i + 1;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
    }
    /* then this thread deflates too, and adds each chapter once it and those before it are */
    size_t added = 0;
    pthread_mutex_lock(&p.mu);
    if (rc) {
        p.stop = 1;
        pthread_cond_broadcast(&p.cv);
    }
    while (!rc && added < p.n) {
        zjob *j = &p.jobs[added];
        if (j->done) {
            pthread_mutex_unlock(&p.mu);
            rc = add_job(e, z, added, j);
            pthread_mutex_lock(&p.mu);
            added++;
            if (rc) {
                p.stop = 1;
                pthread_cond_broadcast(&p.cv);
            }
        } else if (!deflate_next(&p, &d)) {
            pthread_cond_wait(&p.cv, &p.mu);
        }
    }
    pthread_mutex_unlock(&p.mu);
    if (started) pthread_join(th, NULL);
    ov_zip_deflater_end(&d);
    for (size_t i = 0; i < p.n; i++) {
        ov_free(p.jobs[i].xhtml);
        ov_free(p.jobs[i].z);
    }
    ov_free(p.jobs);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    return rc;
}

/* ---- the book */
static void free_epub(ov_epub *e) {
    for (size_t i = 0; i < e->nch; i++) {
        ov_epub_chapter *c = &e->ch[i];
        ov_free(c->key);
        for (size_t k = 0; k < c->nids; k++) {
            ov_free(c->ids[k].orig);
            ov_free(c->ids[k].id);
        }
        ov_free(c->ids);
        ov_free(c->by_orig);
        ov_free(c->by_id);
        ov_free(c->imgs);
        for (size_t k = 0; k < c->nsecs; k++) ov_free(c->secs[k].text);
        ov_free(c->secs);
        for (size_t k = 0; k < c->nimg_src; k++) ov_free(c->img_src[k]);
        ov_free(c->img_src);
        ov_buf_free(&c->warns);
        ov_free(c->centry);
    }
    ov_free(e->ch);
    ov_free(e->keys);
    for (size_t i = 0; i < e->nimg; i++) {
        ov_free(e->img[i].target);
        ov_free(e->img[i].relpath);
        ov_free(e->img[i].out.data);
        ov_free(e->img[i].href);
        ov_free(e->img[i].cached);
        ov_blob_release(&e->img[i].blob);
    }
    ov_free(e->img);
}

/* Adds a generated text entry (NULL: out of memory). */
static int add_text(ov_epub *e, ov_zipw *z, const char *name, char *text) {
    if (!text) return nomem(e);
    return ov_zipw_add(z, name, text, strlen(text), 1, 1, e->err);
}

int ov_epub_render(octavo_book *book, ov_sink *out, octavo_error *err) {
    octavo_error local;
    if (!err) err = &local;
    if (!book || !book->ov) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_EPUB, NULL, 0, 0, "no book");
    ov_epub e;
    memset(&e, 0, sizeof e);
    e.book = book;
    e.ov = book->ov;
    e.cover = -1;
    e.err = err;
    memset(err, 0, sizeof *err);
    int rc = OCTAVO_OK;
    ov_zipw *z = NULL;
    meta m;
    memset(&m, 0, sizeof m);

    e.ch = ov_calloc(book->ndocs ? book->ndocs : 1, sizeof *e.ch);
    e.keys = ov_calloc(book->ndocs ? book->ndocs : 1, sizeof *e.keys);
    if (!e.ch || !e.keys) {
        ov_free(e.ch);
        ov_free(e.keys);
        return nomem(&e);
    }
    e.nch = book->ndocs;
    for (size_t i = 0; i < e.nch && !rc; i++) {
        ov_epub_chapter *c = &e.ch[i];
        c->doc = book->docs[i];
        c->index = i + 1;
        snprintf(c->file, sizeof c->file, "chapter-%zu.xhtml", i + 1);
        const char *lang = octavo_doc_lang(c->doc);
        snprintf(c->lang, sizeof c->lang, "%s", ov_epub_lang_ok(lang) ? lang : "en");
        if (c->doc->name && *c->doc->name) {
            c->key = ov_book_key(c->doc->name, NULL);
            if (!c->key) { rc = nomem(&e); break; }
            e.keys[i] = c->key;
        }
    }
    pthread_t zl;
    int zl_started = !rc && pthread_create(&zl, NULL, zip_loader, NULL) == 0;
    e.cached = ov_cache_on(e.ov);
    for (size_t i = 0; i < e.nch && !rc; i++) rc = ov_epub_cache_lookup(&e, &e.ch[i]);
    if (!rc) rc = build_models(&e);
    /* first walk: ids, sections, images (or what the chapter cache kept of it) */
    for (size_t i = 0; i < e.nch && !rc; i++) {
        ov_epub_chapter *c = &e.ch[i];
        rc = c->hit ? ov_epub_cache_apply(&e, c) : ov_epub_chapter_walk(&e, c, 0, NULL);
        if (!rc && e.nomem) rc = nomem(&e);
        e.imgs_no_alt += c->imgs_no_alt;
    }
    if (!rc && book->cover && *book->cover) {
        if (!book->ndocs) {
            ov_warn(e.ov, OCTAVO_E_RESOURCE, NULL, 0, 0, "cover '%s': a book without documents has no place to find it", book->cover);
        } else {
            char *relpath = NULL;
            int remote = ov_is_remote(book->cover);
            if (!remote && !e.ov->opt.resolve) {
                octavo_error tmp;
                relpath = ov_resolve_relpath(book->docs[0], book->cover, &tmp);
            }
            e.cover = add_image(&e, book->docs[0], book->cover, relpath);
            if (e.cover == -2) rc = nomem(&e);
        }
    }
    if (rc) goto done;
    if ((rc = convert_images(&e))) goto done;
    if (e.cover >= 0) {
        ov_epub_image *c = &e.img[e.cover];
        if (c->code == OCTAVO_OK && c->out.mime && strcmp(c->out.mime, "image/png") && strcmp(c->out.mime, "image/jpeg") &&
            strcmp(c->out.mime, "image/gif") && strcmp(c->out.mime, "image/svg+xml")) {
            c->code = OCTAVO_E_IMAGE;
            snprintf(c->message, sizeof c->message, "image '%.200s': not a format a cover can be", c->target);
        }
        if (c->code) {
            ov_warn(e.ov, c->code, book->docs[0]->name, 0, 0, "cover: %s; a title page stands in", c->message);
            e.cover = -1;
        }
    }
    if ((rc = name_images(&e))) goto done;
    if (e.cached) ov_epub_cache_digest(&e);
    if ((rc = build_meta(&e, &m))) goto done;
    int cover_page = e.cover >= 0;

    if (zl_started) {
        pthread_join(zl, NULL);
        zl_started = 0;
    }
    if ((rc = ov_zipw_open(&z, out, m.mtime, err))) goto done;
    if ((rc = ov_zipw_add(z, "mimetype", (void *)MIMETYPE, strlen(MIMETYPE), 0, 0, err))) goto done;
    if ((rc = add_text(&e, z, "META-INF/container.xml", container_xml()))) goto done;
    if ((rc = add_text(&e, z, "OEBPS/content.opf", content_opf(&e, &m, cover_page)))) goto done;
    if ((rc = add_text(&e, z, "OEBPS/nav.xhtml", nav_xhtml(&e, &m, cover_page)))) goto done;
    if ((rc = add_text(&e, z, "OEBPS/toc.ncx", toc_ncx(&e, &m, cover_page)))) goto done;
    if ((rc = ov_zipw_add(z, "OEBPS/style.css", (void *)CSS, sizeof CSS - 1, 0, 1, err))) goto done;
    if ((rc = add_text(&e, z, cover_page ? "OEBPS/cover.xhtml" : "OEBPS/titlepage.xhtml", front_page(&e, &m, cover_page))))
        goto done;
    /* second walk: the chapters */
    if ((rc = write_chapters(&e, z))) goto done;
    for (size_t i = 0; i < e.nimg; i++) {
        ov_epub_image *im = &e.img[i];
        if (im->code || im->alias >= 0 || !im->href) continue;
        char name[128];
        snprintf(name, sizeof name, "OEBPS/%s", im->href);
        /* images are compressed already: stored, which is also faster */
        int svg = im->out.mime && !strcmp(im->out.mime, "image/svg+xml");
        if (im->cached) rc = ov_zipw_add_file(z, name, im->cached, OV_CACHE_HDR, im->out.len, im->cached_crc, err);
        else rc = ov_zipw_add(z, name, im->out.data, im->out.len, 1, svg, err);
        im->out.data = NULL;
        if (rc) goto done;
    }
    rc = ov_zipw_finish(z, err);
    z = NULL;
done:
    
    if (zl_started) pthread_join(zl, NULL);
    ov_zipw_discard(z);
    ov_free(m.authors);
    free_epub(&e);
    
    if (rc && !err->code) ov_error(err, rc, OCTAVO_STAGE_EPUB, NULL, 0, 0, NULL);
    return rc;
}
