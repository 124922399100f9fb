/*
 * octavo site SITE_DIR -o OUT_DIR [--base-url URL] [--untrusted]: a site folder as a
 * self-contained HTML bundle, through the public API only.
 *
 *   - every .md under SITE_DIR (also the resource root) becomes OUT_DIR/<same path>.html;
 *   - links between pages and to files of the site are rewritten by a link callback
 *     (site_links_init) into relative links inside the bundle; the files a page uses are copied
 *     into the bundle once; targets not in the bundle go to the base URL or are dropped with a
 *     warning;
 *   - OUT_DIR/index.html lists the dated documents newest first (title, date, author, summary)
 *     and links every page; OUT_DIR/feed.xml is an Atom feed of the dated documents.
 * Every file is written atomically (a temporary renamed into place).
 *
 * The build is a list of documents, each with its own steps (today: its HTML page); the
 * collateral build (collateral.c) reuses the page, link and listing steps through collateral.h.
 */
#include "site.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collateral.h"
#include "common.h"

/* ---------------------------------------------------------------------------------------------
 * Small helpers.
 */
typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) { fprintf(stderr, "%s: out of memory\n", cli_prog); exit(1); }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}
static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }
static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) { sb_putn(b, tmp, (size_t)n); return; }
    char *big = malloc((size_t)n + 1);
    if (!big) return;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_putn(b, big, (size_t)n);
    free(big);
}
/* Escapes for HTML and XML text and attributes. */
static void sb_esc(sbuf *b, const char *s) {
    if (!s) return;
    for (; *s; s++) {
        switch (*s) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') sb_puts(b, " ");
            else sb_putn(b, s, 1);
        }
    }
}
/* A path as a URL path: what may not stand raw is percent-encoded ('/' and UTF-8 stay). */
static void sb_url(sbuf *b, const char *p) {
    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7f || strchr("%\"<>\\^`{|}[]#?'", c)) sb_printf(b, "%%%02X", c);
        else sb_putn(b, p, 1);
    }
}



static int mkdirs(const char *path) {
    struct stat st0;
    if (!stat(path, &st0) && S_ISDIR(st0.st_mode)) return 0; /* the usual case: one call */
    char *p = cli_xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) && errno != EEXIST) { free(p); return -1; }
        *s = '/';
    }
    int rc = mkdir(p, 0777) && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

static int mkparent(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return 0;
    char *d = strndup(path, (size_t)(slash - path));
    int rc = d ? mkdirs(d) : -1;
    free(d);
    return rc;
}

/* Writes data to path atomically: a hidden temporary ".NAME.XXXXXX" in the same folder, renamed
 * into place (the collateral build sweeps such names after a kill). */
static int write_atomic(const char *path, const void *data, size_t len) {
    if (mkparent(path)) return -1;
    return coll_write_file(path, data, len);
}

static int copy_atomic(const char *src, const char *dst) {
    /* a hard link when the bundle is on the same file system: instant, and as atomic */
    if (!mkparent(dst)) {
        const char *slash = strrchr(dst, '/');
        char *tmp = slash ? cli_xasprintf("%.*s/.%s.XXXXXX", (int)(slash - dst), dst, slash + 1) : cli_xasprintf(".%s.XXXXXX", dst);
        int fd = mkstemp(tmp); /* a fresh name, then the link takes its place */
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
            if (!link(src, tmp)) {
                int rc = rename(tmp, dst);
                if (rc) unlink(tmp);
                free(tmp);
                if (!rc) return 0;
            } else {
                free(tmp);
            }
        } else {
            free(tmp);
        }
    }
    return coll_copy_file(src, dst) < 0 ? -1 : 0;
}

static int is_file(const char *p) {
    struct stat st;
    return !stat(p, &st) && S_ISREG(st.st_mode);
}

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int is_markdown(const char *name) { return has_suffix(name, ".md") || has_suffix(name, ".markdown"); }

/* ---------------------------------------------------------------------------------------------
 * Finding the documents.
 */
typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

static void sl_add(strlist *l, char *s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) { fprintf(stderr, "%s: out of memory\n", cli_prog); exit(1); }
    }
    l->v[l->n++] = s;
}

static void sl_free(strlist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every Markdown file under dir (relative paths), skipping hidden entries, symbolic links to
 * folders and the folder skip (the output, when it is inside the site). */
static void scan(const char *root, const char *rel, const char *skip_real, strlist *out) {
    char *path = *rel ? cli_xasprintf("%s/%s", root, rel) : cli_xstrdup(root);
    DIR *d = opendir(path);
    if (!d) { free(path); return; }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *r = *rel ? cli_xasprintf("%s/%s", rel, e->d_name) : cli_xstrdup(e->d_name);
        char *full = cli_xasprintf("%s/%s", path, e->d_name);
        struct stat lst, st;
        if (lstat(full, &lst) || stat(full, &st)) { free(r); free(full); continue; }
        if (S_ISDIR(st.st_mode)) {
            char *real = S_ISLNK(lst.st_mode) ? NULL : realpath(full, NULL);
            if (real && !(skip_real && !strcmp(real, skip_real))) scan(root, r, skip_real, out);
            free(real);
            free(r);
        } else if (S_ISREG(st.st_mode) && is_markdown(e->d_name)) {
            sl_add(out, r);
        } else {
            free(r);
        }
        free(full);
    }
    closedir(d);
    free(path);
}

/* ---------------------------------------------------------------------------------------------
 * The link mapping.
 */
static struct site_links {
    char *site_dir;          /* as given */
    char *site_real;
    char *out_dir;
    char *base_url;          /* ends in '/' */
    char *lang;              /* the pages' default language, for the listings */
    strlist pages;           /* Markdown sources, sorted */
    strlist copied;          /* files copied into the bundle (unsorted; under mu) */
    pthread_mutex_t mu;
    int ready;
} L;

char *site_page_path(const char *rel) {
    size_t n = strlen(rel);
    if (has_suffix(rel, ".md")) n -= 3;
    else if (has_suffix(rel, ".markdown")) n -= 9;
    return cli_xasprintf("%.*s.html", (int)n, rel);
}

static int page_exists(const char *rel, char **found) {
    char *const *hit = bsearch(&rel, L.pages.v, L.pages.n, sizeof *L.pages.v, cmp_str);
    if (hit) { *found = *hit; return 1; }
    for (size_t i = 0; i < L.pages.n; i++) /* a case-insensitive match, as web servers often allow */
        if (!strcasecmp(L.pages.v[i], rel)) { *found = L.pages.v[i]; return 1; }
    return 0;
}

/* Normalises a relative path in place ("a/./b/../c" -> "a/c"); -1 when it climbs above the top. */
static int normalize(char *p) {
    char *out = p;
    const char *s = p;
    while (*s) {
        while (*s == '/') s++;
        if (!*s) break;
        const char *e = s;
        while (*e && *e != '/') e++;
        size_t n = (size_t)(e - s);
        if (n == 1 && s[0] == '.') {
            /* nothing */
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (out == p) return -1;
            char *q = out;
            while (q > p && q[-1] != '/') q--;
            out = q > p ? q - 1 : p;
        } else {
            if (out != p) *out++ = '/';
            memmove(out, s, n);
            out += n;
        }
        s = e;
    }
    *out = 0;
    return 0;
}

/* The relative URL from the page at from_rel (a file path in the bundle) to the file to_rel. */
static void relative_url(sbuf *b, const char *from_rel, const char *to_rel) {
    const char *f = from_rel, *t = to_rel;
    /* skip common folders */
    for (;;) {
        const char *fs = strchr(f, '/'), *ts = strchr(t, '/');
        if (!fs || !ts || fs - f != ts - t || strncmp(f, t, (size_t)(fs - f))) break;
        f = fs + 1;
        t = ts + 1;
    }
    for (const char *p = f; (p = strchr(p, '/')) != NULL; p++) sb_puts(b, "../");
    sb_url(b, t);
}

static void percent_decode(char *s) {
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '%' && p[1] && p[2] && strchr("0123456789abcdefABCDEF", p[1]) && strchr("0123456789abcdefABCDEF", p[2])) {
            char h[3] = {p[1], p[2], 0};
            *o++ = (char)strtol(h, NULL, 16);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
}

/* The document's path relative to the site folder, or NULL. */
static char *doc_rel(const char *doc_name) {
    size_t n = strlen(L.site_dir);
    if (!strncmp(doc_name, L.site_dir, n) && doc_name[n] == '/') {
        char *r = cli_xstrdup(doc_name + n + 1);
        if (!normalize(r)) return r;
        free(r);
    }
    char *real = realpath(doc_name, NULL);
    size_t m = strlen(L.site_real);
    char *r = NULL;
    if (real && !strncmp(real, L.site_real, m) && real[m] == '/') r = cli_xstrdup(real + m + 1);
    free(real);
    return r;
}

/* Copies the site's file rel into the bundle once. */
static int copy_once(const char *rel) {
    pthread_mutex_lock(&L.mu);
    for (size_t i = 0; i < L.copied.n; i++)
        if (!strcmp(L.copied.v[i], rel)) { pthread_mutex_unlock(&L.mu); return 0; }
    char *src = cli_xasprintf("%s/%s", L.site_real, rel);
    char *dst = cli_xasprintf("%s/%s", L.out_dir, rel);
    int rc = copy_atomic(src, dst);
    if (!rc) sl_add(&L.copied, cli_xstrdup(rel));
    free(src);
    free(dst);
    pthread_mutex_unlock(&L.mu);
    return rc;
}

/* Whether rel is a regular file inside the site (no escape through symbolic links). */
static int site_file(const char *rel) {
    char *full = cli_xasprintf("%s/%s", L.site_real, rel);
    char *real = realpath(full, NULL);
    size_t m = strlen(L.site_real);
    int ok = real && !strncmp(real, L.site_real, m) && real[m] == '/' && is_file(real);
    free(real);
    free(full);
    return ok;
}

static int put_out(const sbuf *b, char *out, size_t size) {
    if (!b->s || b->len + 1 > size) return 0;
    memcpy(out, b->s, b->len + 1);
    return 1;
}

static int site_link(void *ud, const char *doc_name, const char *target, char *out, size_t size) {
    (void)ud;
    if (!target[0] || target[0] == '#') return 0;
    if (target[0] == '/' && target[1] == '/') return 0;
    {   /* a scheme: remote (or mailto:, tel:, ...) */
        const char *p = target;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '+' ||
               *p == '-' || *p == '.')
            p++;
        if (*p == ':' && p - target >= 2) return 0;
    }
    size_t plen = strcspn(target, "?#");
    const char *suffix = target + plen;
    char *path = strndup(target, plen);
    if (!path) return 0;
    percent_decode(path);
    char *from = doc_rel(doc_name);
    if (!from) from = cli_xstrdup("index.md");
    char *from_page = site_page_path(from);

    /* the target's path in the site */
    char *sp;
    int absolute = path[0] == '/';
    if (absolute) sp = cli_xstrdup(path + 1);
    else {
        const char *slash = strrchr(from, '/');
        sp = slash ? cli_xasprintf("%.*s/%s", (int)(slash - from), from, path) : cli_xstrdup(path);
    }
    int trailing = plen > 0 && path[plen - 1] == '/';
    int ok = normalize(sp) == 0;
    int rc = 0;
    sbuf b = {0};
    char *page = NULL;
    if (ok && !*path) { /* "?x" or an empty path: this page */
        rc = 0;
    } else if (ok) {
        /* a page? */
        char *base = cli_xstrdup(sp);
        if (has_suffix(base, ".html")) base[strlen(base) - 5] = 0;
        else if (has_suffix(base, ".htm")) base[strlen(base) - 4] = 0;
        const char *pre[2] = {"", "pages/"};
        if (is_markdown(base) && !trailing) {
            page_exists(base, &page);
        } else {
            for (int k = 0; k < 2 && !page; k++) {
                if (!absolute && k == 1) break;
                char *c1 = *base ? cli_xasprintf("%s%s.md", pre[k], base) : NULL;
                char *c2 = *base ? cli_xasprintf("%s%s/index.md", pre[k], base) : cli_xasprintf("%sindex.md", pre[k]);
                char *c3 = *base ? cli_xasprintf("%s%s/README.md", pre[k], base) : cli_xasprintf("%sREADME.md", pre[k]);
                if (!(c1 && !trailing && page_exists(c1, &page)) && !page_exists(c2, &page)) page_exists(c3, &page);
                free(c1);
                free(c2);
                free(c3);
            }
        }
        free(base);
        if (page) {
            char *html = site_page_path(page);
            relative_url(&b, from_page, html);
            sb_puts(&b, suffix);
            free(html);
            rc = put_out(&b, out, size);
        } else if (*sp && site_file(sp)) {
            if (!copy_once(sp)) {
                relative_url(&b, from_page, sp);
                sb_puts(&b, suffix);
                rc = put_out(&b, out, size);
            } else {
                rc = -1;
            }
        } else if (L.base_url) {
            sb_puts(&b, L.base_url);
            sb_url(&b, sp);
            if (trailing && *sp) sb_puts(&b, "/");
            sb_puts(&b, suffix);
            rc = put_out(&b, out, size);
        } else {
            rc = -1;
        }
    } else {
        rc = L.base_url ? 0 : -1; /* climbs above the site */
    }
    free(b.s);
    free(sp);
    free(path);
    free(from);
    free(from_page);
    return rc;
}

int site_links_init(octavo_options *o, const char *site_dir, const char *out_dir) {
    site_links_free();
    L.site_real = realpath(site_dir, NULL);
    if (!L.site_real) {
        fprintf(stderr, "%s: error: %s\n", site_dir, strerror(errno));
        return -1;
    }
    if (mkdirs(out_dir)) {
        fprintf(stderr, "%s: error: cannot create the output folder: %s\n", out_dir, strerror(errno));
        return -1;
    }
    L.site_dir = cli_xstrdup(site_dir);
    size_t n = strlen(L.site_dir);
    while (n > 1 && L.site_dir[n - 1] == '/') L.site_dir[--n] = 0;
    L.out_dir = cli_xstrdup(out_dir);
    L.lang = cli_xstrdup(o->lang && *o->lang ? o->lang : "en");
    if (o->base_url && *o->base_url) {
        size_t b = strlen(o->base_url);
        L.base_url = cli_xasprintf("%s%s", o->base_url, o->base_url[b - 1] == '/' ? "" : "/");
    }
    char *out_real = realpath(out_dir, NULL);
    scan(L.site_real, "", out_real, &L.pages);
    free(out_real);
    qsort(L.pages.v, L.pages.n, sizeof *L.pages.v, cmp_str);
    pthread_mutex_init(&L.mu, NULL);
    L.ready = 1;
    o->link = site_link;
    o->link_ud = &L;
    return 0;
}

void site_links_set_pages(const char *const *rels, size_t n) {
    sl_free(&L.pages);
    for (size_t i = 0; i < n; i++) sl_add(&L.pages, cli_xstrdup(rels[i]));
    qsort(L.pages.v, L.pages.n, sizeof *L.pages.v, cmp_str);
}

void site_links_free(void) {
    if (!L.ready) return;
    free(L.site_dir);
    free(L.site_real);
    free(L.out_dir);
    free(L.base_url);
    free(L.lang);
    sl_free(&L.pages);
    sl_free(&L.copied);
    pthread_mutex_destroy(&L.mu);
    memset(&L, 0, sizeof L);
}

/* ---------------------------------------------------------------------------------------------
 * Pages and listings.
 */
int site_render_page(octavo_doc *doc, const char *rel, const char *out_path, octavo_error *err) {
    (void)rel;
    if (mkparent(out_path)) {
        memset(err, 0, sizeof *err);
        err->code = OCTAVO_E_WRITE;
        snprintf(err->file, sizeof err->file, "%s", out_path);
        snprintf(err->message, sizeof err->message, "cannot create the folder: %s", strerror(errno));
        return OCTAVO_E_WRITE;
    }
    return octavo_render_file(doc, OCTAVO_FORMAT_HTML, out_path, err);
}

/* The listing's file name: index.html, unless a page of the site is already index.html. */
static const char *listing_name(const char *out_dir, const site_entry *e, size_t n) {
    (void)out_dir;
    for (size_t i = 0; i < n; i++)
        if (e && e[i].html_rel && !strcmp(e[i].html_rel, "index.html")) return "site-index.html";
    return "index.html";
}

int site_listing_exists(const char *out_dir) {
    char *a = cli_xasprintf("%s/index.html", out_dir), *b = cli_xasprintf("%s/feed.xml", out_dir);
    char *c = cli_xasprintf("%s/site-index.html", out_dir);
    int ok = (is_file(a) || is_file(c)) && is_file(b);
    free(a);
    free(b);
    free(c);
    return ok;
}

typedef struct dated {
    const site_entry *e;
    octavo_time t;
} dated;

static int cmp_dated_desc(const void *a, const void *b) {
    const dated *x = a, *y = b;
    if (x->t.epoch != y->t.epoch) return x->t.epoch < y->t.epoch ? 1 : -1;
    return strcmp(x->e->rel, y->e->rel);
}

static void rfc3339(const octavo_time *t, char *buf, size_t size) {
    time_t e = (time_t)t->epoch;
    struct tm tm;
    gmtime_r(&e, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *const months[] = {"January", "February", "March", "April", "May", "June", "July",
                                     "August", "September", "October", "November", "December"};

/* A urn:uuid from content (FNV-1a, 128 bits, formatted as a version 5-like UUID). */
static void content_uuid(char *buf, size_t size, const char *a, const char *b, const char *c) {
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
    const char *parts[3] = {a ? a : "", b ? b : "", c ? c : ""};
    for (int k = 0; k < 3; k++) {
        for (const unsigned char *p = (const unsigned char *)parts[k]; ; p++) {
            unsigned char ch = *p;
            h1 = (h1 ^ ch) * 0x100000001b3ull;
            h2 = (h2 ^ ch) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull;
            if (!ch) break;
        }
    }
    snprintf(buf, size, "urn:uuid:%08x-%04x-5%03x-%04x-%012llx", (unsigned)(h1 >> 32), (unsigned)(h1 >> 16) & 0xffff,
             (unsigned)h1 & 0xfff, (unsigned)((h2 >> 48) & 0x3fff) | 0x8000,
             (unsigned long long)(h2 & 0xffffffffffffull));
}

int site_write_listing(octavo *ov, const char *out_dir, const char *title, const site_entry *entries, size_t n) {
    (void)ov;
    const char *index_name = listing_name(out_dir, entries, n);
    dated *d = calloc(n ? n : 1, sizeof *d);
    size_t nd = 0;
    int pdfs = 0;
    for (size_t i = 0; i < n; i++) {
        if (entries[i].pdf_rel) pdfs = 1;
        if (octavo_doc_date(entries[i].doc, &d[nd].t) == OCTAVO_OK) d[nd++].e = &entries[i];
    }
    qsort(d, nd, sizeof *d, cmp_dated_desc);
    const char *base = NULL;
    char *base_own = NULL;
    /* the base URL the pages were made with, when site_links_init saw one */
    if (L.base_url) base = L.base_url;
    (void)base_own;

    /* index.html */
    sbuf h = {0};
    sb_puts(&h, "<!DOCTYPE html>\n<html lang=\"");
    sb_esc(&h, L.lang ? L.lang : "en");
    sb_puts(&h, "\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    sb_esc(&h, title);
    sb_puts(&h, "</title>\n<link rel=\"alternate\" type=\"application/atom+xml\" href=\"feed.xml\" title=\"");
    sb_esc(&h, title);
    sb_puts(&h, "\">\n");
    if (base) {
        sb_puts(&h, "<link rel=\"canonical\" href=\"");
        sb_esc(&h, base);
        sb_puts(&h, "\">\n");
    }
    sb_puts(&h,
            "<style>body{margin:0;padding:1rem;font:1.0625rem/1.6 system-ui,-apple-system,\"Segoe UI\",Roboto,"
            "sans-serif;color:#1f2328;background:#fff}main{max-width:46rem;margin:0 auto}"
            "article{margin:0 0 1.75rem}article h2{margin:0 0 .25rem;font-size:1.25rem;line-height:1.3}"
            ".byline{margin:0;color:#59636e;font-size:.9rem}a{color:#0969da}"
            "@media (prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}.byline{color:#9198a1}"
            "a{color:#4493f8}}</style>\n</head>\n<body>\n<main>\n<h1>");
    sb_esc(&h, title);
    sb_puts(&h, "</h1>\n");
    if (pdfs) sb_puts(&h, "<p><a href=\"downloads.html\">Downloads: PDF and EPUB</a></p>\n");
    if (nd) {
        sb_puts(&h, "<section aria-labelledby=\"posts\">\n<h2 id=\"posts\">Posts</h2>\n");
        for (size_t i = 0; i < nd; i++) {
            const site_entry *e = d[i].e;
            octavo_doc *doc = e->doc;
            sb_puts(&h, "<article>\n<h3><a href=\"");
            sb_url(&h, e->html_rel);
            sb_puts(&h, "\">");
            sb_esc(&h, octavo_doc_title(doc));
            sb_puts(&h, "</a></h3>\n<p class=\"byline\">");
            const octavo_time *t = &d[i].t;
            char when[40];
            rfc3339(t, when, sizeof when);
            sb_printf(&h, "<time datetime=\"%.10s\">%s %d, %04d</time>", when,
                      t->month >= 1 && t->month <= 12 ? months[t->month - 1] : "", t->day, t->year);
            const char *author = octavo_doc_author(doc);
            if (author) {
                sb_puts(&h, " · ");
                sb_esc(&h, author);
            }
            sb_puts(&h, "</p>\n");
            const char *sum = octavo_doc_summary(doc, 280);
            if (sum && *sum) {
                sb_puts(&h, "<p>");
                sb_esc(&h, sum);
                sb_puts(&h, "</p>\n");
            }
            sb_puts(&h, "</article>\n");
        }
        sb_puts(&h, "</section>\n");
    }
    sb_puts(&h, "<section aria-labelledby=\"pages\">\n<h2 id=\"pages\">All pages</h2>\n<ul>\n");
    for (size_t i = 0; i < n; i++) {
        sb_puts(&h, "<li><a href=\"");
        sb_url(&h, entries[i].html_rel);
        sb_puts(&h, "\">");
        sb_esc(&h, octavo_doc_title(entries[i].doc));
        sb_puts(&h, "</a></li>\n");
    }
    sb_puts(&h, "</ul>\n</section>\n<p><a href=\"feed.xml\">Atom feed</a></p>\n</main>\n</body>\n</html>\n");

    /* feed.xml */
    sbuf f = {0};
    char when[40], id[96];
    sb_puts(&f, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>");
    sb_esc(&f, title);
    sb_puts(&f, "</title>\n");
    if (base) {
        sb_puts(&f, "<id>");
        sb_esc(&f, base);
        sb_puts(&f, "</id>\n<link href=\"");
        sb_esc(&f, base);
        sb_puts(&f, "\"/>\n<link rel=\"self\" href=\"");
        sb_esc(&f, base);
        sb_puts(&f, "feed.xml\"/>\n");
    } else {
        content_uuid(id, sizeof id, "feed", title, NULL);
        sb_printf(&f, "<id>%s</id>\n<link href=\"%s\"/>\n", id, index_name);
    }
    if (nd) rfc3339(&d[0].t, when, sizeof when);
    else snprintf(when, sizeof when, "1970-01-01T00:00:00Z");
    sb_printf(&f, "<updated>%s</updated>\n<author><name>", when);
    sb_esc(&f, title);
    sb_printf(&f, "</name></author>\n<generator version=\"%s\">octavo</generator>\n", octavo_version());
    for (size_t i = 0; i < nd; i++) {
        const site_entry *e = d[i].e;
        octavo_doc *doc = e->doc;
        rfc3339(&d[i].t, when, sizeof when);
        sb_puts(&f, "<entry>\n<title>");
        sb_esc(&f, octavo_doc_title(doc));
        sb_puts(&f, "</title>\n");
        sbuf link = {0};
        if (base) sb_puts(&link, base);
        sb_url(&link, e->html_rel);
        if (base) {
            sb_puts(&f, "<id>");
            sb_esc(&f, link.s);
            sb_puts(&f, "</id>\n");
        } else {
            content_uuid(id, sizeof id, e->rel, octavo_doc_title(doc), when);
            sb_printf(&f, "<id>%s</id>\n", id);
        }
        sb_puts(&f, "<link rel=\"alternate\" type=\"text/html\" href=\"");
        sb_esc(&f, link.s);
        sb_puts(&f, "\"/>\n");
        free(link.s);
        sb_printf(&f, "<published>%s</published>\n<updated>%s</updated>\n", when, when);
        const char *author = octavo_doc_author(doc);
        if (author) {
            sb_puts(&f, "<author><name>");
            sb_esc(&f, author);
            sb_puts(&f, "</name></author>\n");
        }
        const char *sum = octavo_doc_summary(doc, 280);
        if (sum && *sum) {
            sb_puts(&f, "<summary>");
            sb_esc(&f, sum);
            sb_puts(&f, "</summary>\n");
        }
        sb_puts(&f, "</entry>\n");
    }
    sb_puts(&f, "</feed>\n");

    char *ip = cli_xasprintf("%s/%s", out_dir, index_name), *fp = cli_xasprintf("%s/feed.xml", out_dir);
    int rc = 0;
    if (write_atomic(ip, h.s, h.len)) {
        fprintf(stderr, "%s: error: %s\n", ip, strerror(errno));
        rc = -1;
    }
    if (write_atomic(fp, f.s, f.len)) {
        fprintf(stderr, "%s: error: %s\n", fp, strerror(errno));
        rc = -1;
    }
    free(ip);
    free(fp);
    free(h.s);
    free(f.s);
    free(d);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Documents whose frontmatter or encoding is broken.
 */

/* The length of the well-formed UTF-8 character at p (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF, no NUL), or 0. */
static size_t utf8_valid_at(const unsigned char *p, size_t len) {
    unsigned char c = p[0];
    if (c >= 0x01 && c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (len < n || p[1] < lo || p[1] > hi) return 0;
    for (size_t k = 2; k < n; k++)
        if ((p[k] & 0xC0) != 0x80) return 0;
    return n;
}

int site_load_degraded(octavo *ov, const char *path, const char *text, size_t len, octavo_doc **out,
                       octavo_error *err, char *warning, size_t wsize) {
    int code = err->code;
    /* a YAML syntax error is the author's mistake to fix: it stays an error */
    if (code != OCTAVO_E_FRONTMATTER && code != OCTAVO_E_UNTERMINATED && code != OCTAVO_E_ENCODING) return -1;
    sbuf fixed = {0};
    if (code != OCTAVO_E_ENCODING) sb_putn(&fixed, "\n", 1); /* not a frontmatter any more: all Markdown */
    for (size_t i = 0; i < len;) {
        size_t n = utf8_valid_at((const unsigned char *)text + i, len - i);
        if (n) sb_putn(&fixed, text + i, n);
        else sb_puts(&fixed, "\xEF\xBF\xBD");
        i += n ? n : 1;
    }
    char msg[OCTAVO_ERROR_SIZE];
    snprintf(msg, sizeof msg, "%s", err->message);
    unsigned line = err->line, col = err->column;
    int rc = octavo_doc_load(ov, path, fixed.s ? fixed.s : "", fixed.len, out, err);
    if (!rc)
        snprintf(warning, wsize, "%s:%u:%u: warning: %s: %s\n", path, line ? line : 1, col ? col : 1, msg,
                 code == OCTAVO_E_ENCODING ? "rendered with U+FFFD in place of the bad bytes"
                                           : "the whole file is rendered as Markdown");
    free(fixed.s);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * The command: the whole collateral (collateral.c), of which the bundle is the HTML part.
 */
int cli_site(int argc, char **argv) { return collateral_main(argc, argv); }
