/*
 * octavo site SITE_DIR -o OUT_DIR: a site's whole collateral.
 *
 * The build runs in phases, each of them parallel over the documents where it pays:
 *   A  read every Markdown file and compute its key: a hash of its bytes, of the images it names
 *      (path, size, modification time), of the options and of octavo's version;
 *   -  when every key, the set of files and the options match OUT_DIR/.octavo-manifest and every
 *      output exists, there is nothing to do (no document is even parsed);
 *   B  load every document once (frontmatter and Markdown): the index, the feed, the downloads
 *      page and the book's membership need them all;
 *   C  render what is out of date: each document's HTML page and PDF from the one loaded
 *      document, and the blog's EPUB and PDF (loaded again from the bytes already in memory,
 *      because a book owns its documents and runs on its own thread), longest jobs first;
 *   D  the pages that list everything (index, feed, downloads.html), sorted so that the output
 *      does not depend on the number of threads; then the manifest.
 * An interrupted run finishes the documents in hand, removes temporaries and writes no listing.
 */
#include "collateral.h"

#include <dirent.h>
#include <errno.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jobs.h"
#include "site.h"

#define MANIFEST ".octavo-manifest"
#define MANIFEST_MAGIC "octavo-manifest 1"

const char collateral_help[] =
    "site options:\n"
    "  -o, --output DIR    where the collateral goes (required)\n"
    "  -j, --jobs N        documents built in parallel (default: the number of processors)\n"
    "  --force             rebuild everything, even what is up to date\n"
    "  --config FILE       the configuration (default: SITE_DIR/octavo.yaml when it exists)\n"
    "  --title TITLE       the site's title (default: the configuration's, else the folder's name)\n";

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 */




void coll_putn(coll_str *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap) cap *= 2;
        b->s = cli_xrealloc(b->s, cap);
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void coll_puts(coll_str *b, const char *s) { coll_putn(b, s, strlen(s)); }

void coll_printf(coll_str *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + (size_t)n + 1 > cap) cap *= 2;
        b->s = cli_xrealloc(b->s, cap);
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void coll_put_html(coll_str *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': coll_puts(b, "&amp;"); break;
        case '<': coll_puts(b, "&lt;"); break;
        case '>': coll_puts(b, "&gt;"); break;
        case '"': coll_puts(b, "&quot;"); break;
        case '\'': coll_puts(b, "&#39;"); break;
        default: coll_putn(b, s, 1);
        }
    }
}

void coll_put_url(coll_str *b, const char *path) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~/!$()*,;=:@", *p))
            coll_putn(b, (const char *)p, 1);
        else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            coll_putn(b, e, 3);
        }
    }
}

uint64_t coll_hash(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t hash_str(uint64_t h, const char *s) { return coll_hash(h, s ? s : "", s ? strlen(s) + 1 : 1); }
static uint64_t hash_u64(uint64_t h, uint64_t v) { return coll_hash(h, &v, sizeof v); }

int coll_mkdirs(const char *path) {
    struct stat st0;
    if (!stat(path, &st0) && S_ISDIR(st0.st_mode)) return 0; /* the usual case: one call */
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) && errno != EEXIST) return -1;
    struct stat st;
    if (stat(buf, &st) || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* The umask, read once (reading it means setting it: not from several threads at once). */
static mode_t process_umask(void) {
    static mode_t um = (mode_t)-1;
    if (um == (mode_t)-1) {
        um = umask(0);
        umask(um);
    }
    return um;
}

/* Opens "DIR/.NAME.XXXXXX" next to path; *tmp receives its name (free it). */
static int open_temp(const char *path, char **tmp) {
    const char *slash = strrchr(path, '/');
    *tmp = slash ? cli_xasprintf("%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1) : cli_xasprintf(".%s.XXXXXX", path);
    int fd = mkstemp(*tmp);
    if (fd < 0) {
        free(*tmp);
        *tmp = NULL;
        return -1;
    }
    fchmod(fd, 0666 & ~process_umask());
    return fd;
}

static int write_all(int fd, const void *data, size_t len) {
    const char *c = data;
    while (len) {
        ssize_t w = write(fd, c, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += w;
        len -= (size_t)w;
    }
    return 0;
}

static int finish_temp(int fd, char *tmp, const char *path, int ok) {
    int e = 0;
    if (close(fd) && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(tmp, path)) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        if (!e) e = errno;
        unlink(tmp);
    }
    free(tmp);
    errno = e;
    return ok ? 0 : -1;
}

int coll_write_file(const char *path, const void *data, size_t len) {
    char *tmp;
    int fd = open_temp(path, &tmp);
    if (fd < 0) return -1;
    int ok = write_all(fd, data, len) == 0;
    int e = errno;
    int rc = finish_temp(fd, tmp, path, ok);
    if (!ok) errno = e;
    return rc;
}

int coll_copy_file(const char *src, const char *dst) {
    struct stat ss, ds;
    if (stat(src, &ss)) return -1;
    if (!stat(dst, &ds) && ds.st_size == ss.st_size && ds.st_mtime >= ss.st_mtime) return 0;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return -1;
    char *tmp;
    int out = open_temp(dst, &tmp);
    if (out < 0) {
        int e = errno;
        close(in);
        errno = e;
        return -1;
    }
    char buf[1 << 16];
    int ok = 1;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { ok = 0; break; }
        if (r == 0) break;
        if (write_all(out, buf, (size_t)r)) { ok = 0; break; }
    }
    int e = errno;
    close(in);
    if (finish_temp(out, tmp, dst, ok)) {
        if (!ok) errno = e;
        return -1;
    }
    return 1;
}

static int read_whole(const char *path, char **data, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EISDIR;
        return -1;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *b = cli_xrealloc(NULL, cap);
    for (;;) {
        if (n + 1 >= cap) b = cli_xrealloc(b, cap *= 2);
        ssize_t r = read(fd, b + n, cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            free(b);
            close(fd);
            errno = e;
            return -1;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    b[n] = 0;
    *data = b;
    *len = n;
    return 0;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------------------------------------
 * The build's state
 */

typedef struct cdoc {
    char *rel;              /* relative to the site folder: "pages/blog/x.md" */
    char *path;             /* as opened: SITE_DIR "/" rel */
    char *html_rel, *pdf_rel;   /* outputs, relative to OUT_DIR */
    char *text;             /* the bytes (kept: the books load them again) */
    size_t len;
    int read_failed;
    uint64_t key;           /* content + images + options */
    uint64_t html_key;      /* key + the set of documents (links between pages) */
    /* from the previous build */
    int m_have, m_pdf, m_book;
    uint64_t m_key, m_html_key;
    unsigned m_pages;
    /* this build */
    octavo_doc *doc;
    int want_pdf, in_book;
    int need_html, need_pdf;
    int failed, built;
    unsigned pages;
    char *title;
    char date[11];          /* YYYY-MM-DD or "" */
    int64_t epoch;
    char *cover_src;        /* the cover image, relative to the site folder */
    unsigned cover_line, cover_col;
    double cost;            /* for scheduling: bytes of Markdown */
    coll_str msgs;          /* diagnostics gathered while the document is worked on */
    unsigned warnings;
    int degraded;           /* loaded as plain Markdown after a frontmatter or encoding error */
} cdoc;

typedef struct cbook {
    const char *kind;       /* "EPUB" or "PDF" */
    octavo_format fmt;
    char *out_rel;
    uint64_t key, m_key;
    int m_have;
    unsigned m_count;       /* pages (PDF) or chapters (EPUB) last time */
    int need, failed, built;
    unsigned count;
    coll_str msgs;
    unsigned warnings;
} cbook;

typedef struct build {
    cli_common c;
    cli_config cfg;
    const char *site_dir, *out_dir, *config_path, *title_opt;
    char *site_real, *out_real;
    char *site_title;
    unsigned jobs;
    int force, tty, links;
    octavo *ov, *ov_toc;
    uint64_t opt_key;
    uint64_t m_opt_key;
    int m_have_opts;
    cdoc *docs;
    size_t ndocs;
    size_t *book_members;   /* indexes into docs, in the book's order as the library sorts */
    size_t nmembers;
    cbook books[2];         /* EPUB, PDF */
    char *book_file;
    /* the previous manifest's documents, to remove outputs of documents that are gone */
    char **m_gone;
    size_t nm_gone;
    unsigned long warnings, failures;
    pthread_mutex_t mu;
} build;

/* Diagnostics arrive on whichever thread renders; each thread says what it works on. */
static _Thread_local coll_str *cur_msgs;
static _Thread_local unsigned *cur_warnings;

static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *seen;
static size_t nseen, capseen;

/* 1 the first time a message is seen: a warning about an image shows once, not once for the page,
 * once for its PDF and once more for each book. */
static int first_time(const char *msg, size_t len) {
    uint64_t h = coll_hash(COLL_HASH_INIT, msg, len);
    int first = 1;
    pthread_mutex_lock(&seen_mu);
    for (size_t i = 0; i < nseen && first; i++) first = seen[i] != h;
    if (first) {
        if (nseen == capseen) seen = cli_xrealloc(seen, (capseen = capseen ? capseen * 2 : 64) * sizeof *seen);
        seen[nseen++] = h;
    }
    pthread_mutex_unlock(&seen_mu);
    return first;
}

static void build_diag(void *ud, const octavo_diag *d) {
    build *b = ud;
    char buf[OCTAVO_ERROR_SIZE + OCTAVO_PATH_SIZE + 64];
    int n = cli_diag_format(d, buf, sizeof buf);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
    if (!first_time(buf, len)) return;
    if (cur_warnings) (*cur_warnings)++;
    else {
        pthread_mutex_lock(&b->mu);
        b->warnings++;
        pthread_mutex_unlock(&b->mu);
    }
    if (b->c.quiet) return;
    if (cur_msgs) coll_putn(cur_msgs, buf, len);
    else progress_print(buf, len);
}

static void msg_error(coll_str *m, const octavo_error *err) {
    char buf[OCTAVO_ERROR_SIZE + OCTAVO_PATH_SIZE + 64];
    octavo_error_format(err, buf, sizeof buf);
    if (!err->file[0]) coll_printf(m, "%s: %s\n", cli_prog, buf);
    else coll_printf(m, "%s\n", buf);
}

static void flush_msgs(coll_str *m) {
    if (m->len) progress_print(m->s, m->len);
    free(m->s);
    memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------------------------------------
 * Finding the documents
 */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct scan {
    build *b;
    char **rels;
    size_t n, cap;
    dev_t out_dev;
    ino_t out_ino;
    int have_out;
} scan;

static void scan_dir(scan *s, const char *dir, const char *rel) {
    DIR *d = opendir(dir);
    if (!d) {
        progress_printf("%s: error: cannot read the folder: %s\n", dir, strerror(errno));
        s->b->failures++;
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (n[0] == '.' || !strcmp(n, "node_modules")) continue; /* hidden files, dependencies */
        char *path = cli_xasprintf("%s/%s", dir, n);
        char *r = *rel ? cli_xasprintf("%s/%s", rel, n) : cli_xstrdup(n);
        struct stat st, lst;
        if (stat(path, &st) || lstat(path, &lst)) {
            free(path);
            free(r);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            int is_out = s->have_out && st.st_dev == s->out_dev && st.st_ino == s->out_ino;
            if (!is_out && !S_ISLNK(lst.st_mode)) scan_dir(s, path, r); /* no loops through links */
            free(r);
        } else if (S_ISREG(st.st_mode)) {
            size_t l = strlen(n);
            int md = (l > 3 && !strcasecmp(n + l - 3, ".md")) || (l > 9 && !strcasecmp(n + l - 9, ".markdown"));
            int excluded = 0;
            for (size_t k = 0; md && k < s->b->cfg.exclude.n && !excluded; k++)
                excluded = cli_glob_match(s->b->cfg.exclude.v[k], r);
            if (md && !excluded) {
                if (s->n == s->cap) s->rels = cli_xrealloc(s->rels, (s->cap = s->cap ? s->cap * 2 : 64) * sizeof *s->rels);
                s->rels[s->n++] = r;
            } else {
                free(r);
            }
        } else {
            free(r);
        }
        free(path);
    }
    closedir(d);
}

/* "pages/blog/x.md" -> "pages/blog/x" + ext */
static char *swap_ext(const char *rel, const char *ext) {
    const char *dot = strrchr(rel, '.');
    const char *slash = strrchr(rel, '/');
    size_t n = dot && (!slash || dot > slash) ? (size_t)(dot - rel) : strlen(rel);
    return cli_xasprintf("%.*s%s", (int)n, rel, ext);
}

static int find_documents(build *b) {
    scan s;
    memset(&s, 0, sizeof s);
    s.b = b;
    struct stat st;
    if (!stat(b->out_dir, &st)) {
        s.have_out = 1;
        s.out_dev = st.st_dev;
        s.out_ino = st.st_ino;
    }
    scan_dir(&s, b->site_dir, "");
    qsort(s.rels, s.n, sizeof *s.rels, cmp_str);
    b->docs = cli_xrealloc(NULL, (s.n ? s.n : 1) * sizeof *b->docs);
    memset(b->docs, 0, (s.n ? s.n : 1) * sizeof *b->docs);
    b->ndocs = s.n;
    for (size_t i = 0; i < s.n; i++) {
        cdoc *d = &b->docs[i];
        d->rel = s.rels[i];
        d->path = cli_xasprintf("%s/%s", b->site_dir, d->rel);
        d->html_rel = site_page_path(d->rel);
        d->pdf_rel = swap_ext(d->html_rel, ".pdf");
    }
    free(s.rels);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Keys
 */

static int is_img_ext(const char *p, size_t n) {
    static const char *const exts[] = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".avif", ".bmp", ".tif", ".tiff"};
    for (size_t k = 0; k < sizeof exts / sizeof *exts; k++) {
        size_t l = strlen(exts[k]);
        if (n >= l && !strncasecmp(p + n - l, exts[k], l)) return 1;
    }
    return 0;
}

static int stops_target(unsigned char c) { return c <= ' ' || strchr("\"'()<>[]{}|`,;=", c) != NULL; }

/* Every local path in the text that names an image ("/img/x.webp", "a.png", in Markdown, raw HTML
 * or frontmatter): its size and modification time go into the key, and so does its absence, so that
 * an image that changes, appears or goes away rebuilds the documents that name it. */
static uint64_t hash_images(uint64_t h, const build *b, const cdoc *d) {
    const char *t = d->text, *end = d->text + d->len;
    const char *dir_end = strrchr(d->rel, '/');
    for (const char *p = t; p < end;) {
        if (stops_target((unsigned char)*p)) {
            p++;
            continue;
        }
        const char *q = p;
        while (q < end && !stops_target((unsigned char)*q)) q++;
        size_t n = (size_t)(q - p);
        /* a token ending in an image extension, maybe with ?query or #fragment */
        size_t m = n;
        for (size_t k = 0; k < n; k++)
            if (p[k] == '?' || p[k] == '#') { m = k; break; }
        int remote = 0;
        for (size_t k = 0; k + 2 < m && !remote; k++) remote = p[k] == ':' && p[k + 1] == '/' && p[k + 2] == '/';
        if (m && is_img_ext(p, m) && !remote && strncmp(p, "data:", 5)) {
            char *path;
            if (p[0] == '/') path = cli_xasprintf("%s%.*s", b->site_dir, (int)m, p);
            else if (dir_end) path = cli_xasprintf("%s/%.*s/%.*s", b->site_dir, (int)(dir_end - d->rel), d->rel, (int)m, p);
            else path = cli_xasprintf("%s/%.*s", b->site_dir, (int)m, p);
            struct stat st;
            h = coll_hash(h, p, m);
            if (!stat(path, &st)) {
                h = hash_u64(h, (uint64_t)st.st_size);
                h = hash_u64(h, (uint64_t)st.st_mtim.tv_sec);
                h = hash_u64(h, (uint64_t)st.st_mtim.tv_nsec);
            } else {
                h = hash_u64(h, UINT64_MAX);
            }
            free(path);
        }
        p = q;
    }
    return h;
}

static void options_key(build *b) {
    const octavo_options *o = &b->c.opt;
    uint64_t h = hash_str(COLL_HASH_INIT, octavo_version());
    h = hash_u64(h, o->flags & ~(unsigned)OCTAVO_NO_CACHE);
    h = hash_str(h, o->base_url);
    h = hash_str(h, o->lang);
    h = hash_str(h, o->default_author);
    h = hash_str(h, o->html_template);
    h = hash_str(h, o->resource_root);
    h = hash_u64(h, (uint64_t)o->paper);
    h = coll_hash(h, &o->margin_pt, sizeof o->margin_pt);
    h = coll_hash(h, &o->limits, sizeof o->limits);
    h = hash_str(h, b->site_title);
    h = coll_hash(h, b->cfg.text ? b->cfg.text : "", b->cfg.len);
    if (o->html_template) {
        char *t;
        size_t n;
        if (!read_whole(o->html_template, &t, &n)) {
            h = coll_hash(h, t, n);
            free(t);
        }
    }
    b->opt_key = h;
}

/* ---------------------------------------------------------------------------------------------
 * The manifest: what the last build made, from what.
 *   octavo-manifest 1
 *   options <key>
 *   doc <key> <html-key> <pages> <flags> <rel>        flags: p (a PDF), b (in the book), - (none)
 *   book <epub|pdf> <key> <count> <file>
 */

static cdoc *doc_by_rel(build *b, const char *rel) {
    size_t lo = 0, hi = b->ndocs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(b->docs[mid].rel, rel);
        if (!c) return &b->docs[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static void read_manifest(build *b) {
    char *path = cli_xasprintf("%s/%s", b->out_dir, MANIFEST), *text;
    size_t len;
    int rc = read_whole(path, &text, &len);
    free(path);
    if (rc) return;
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    if (!line || strcmp(line, MANIFEST_MAGIC)) {
        free(text);
        return;
    }
    while ((line = strtok_r(NULL, "\n", &save))) {
        unsigned long long k1, k2;
        unsigned count;
        int off = 0;
        char flags[8], kind[8];
        if (sscanf(line, "options %llx", &k1) == 1) {
            b->m_opt_key = k1;
            b->m_have_opts = 1;
        } else if (sscanf(line, "doc %llx %llx %u %7s %n", &k1, &k2, &count, flags, &off) == 4 && off) {
            cdoc *d = doc_by_rel(b, line + off);
            if (!d) {
                b->m_gone = cli_xrealloc(b->m_gone, (b->nm_gone + 1) * sizeof *b->m_gone);
                b->m_gone[b->nm_gone++] = cli_xstrdup(line + off);
                continue;
            }
            d->m_have = 1;
            d->m_key = k1;
            d->m_html_key = k2;
            d->m_pages = count;
            d->m_pdf = strchr(flags, 'p') != NULL;
            d->m_book = strchr(flags, 'b') != NULL;
        } else if (sscanf(line, "book %7s %llx %u %n", kind, &k1, &count, &off) == 3 && off) {
            cbook *bk = !strcmp(kind, "epub") ? &b->books[0] : !strcmp(kind, "pdf") ? &b->books[1] : NULL;
            if (bk && !strcmp(line + off, bk->out_rel)) {
                bk->m_have = 1;
                bk->m_key = k1;
                bk->m_count = count;
            }
        }
    }
    free(text);
}

static int write_manifest(build *b) {
    coll_str m = {0};
    coll_printf(&m, "%s\noptions %016llx\n", MANIFEST_MAGIC, (unsigned long long)b->opt_key);
    for (size_t i = 0; i < b->ndocs; i++) {
        cdoc *d = &b->docs[i];
        if (d->failed || d->read_failed) continue;
        /* a document whose work was cut short by an interruption keeps its old entry when its
         * outputs are still those of that entry; otherwise it has none and is built next time */
        int done = !d->need_html && !d->need_pdf;
        if (!done) continue;
        coll_printf(&m, "doc %016llx %016llx %u %s%s%s %s\n", (unsigned long long)d->key,
                    (unsigned long long)d->html_key, d->pages, d->want_pdf ? "p" : "", d->in_book ? "b" : "",
                    !d->want_pdf && !d->in_book ? "-" : "", d->rel);
    }
    for (int k = 0; k < 2; k++) {
        cbook *bk = &b->books[k];
        if (!bk->out_rel || bk->need || bk->failed || !b->nmembers) continue;
        coll_printf(&m, "book %s %016llx %u %s\n", k ? "pdf" : "epub", (unsigned long long)bk->key, bk->count, bk->out_rel);
    }
    char *path = cli_xasprintf("%s/%s", b->out_dir, MANIFEST);
    int rc = coll_write_file(path, m.s, m.len);
    if (rc) progress_printf("%s: error: cannot write the manifest: %s\n", path, strerror(errno));
    free(path);
    free(m.s);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Phase A: read and key every document
 */

static void phase_read(void *ctx, size_t i) {
    build *b = ctx;
    cdoc *d = &b->docs[i];
    if (read_whole(d->path, &d->text, &d->len)) {
        progress_printf("%s: error: cannot read: %s\n", d->path, strerror(errno));
        d->read_failed = 1;
        return;
    }
    uint64_t h = hash_u64(b->opt_key, d->len);
    h = hash_str(h, d->rel);
    h = coll_hash(h, d->text, d->len);
    d->key = hash_images(h, b, d);
    d->cost = (double)d->len;
}

static uint64_t site_set_key(const build *b) {
    uint64_t h = b->opt_key;
    for (size_t i = 0; i < b->ndocs; i++) h = hash_str(h, b->docs[i].rel);
    return h;
}

static int outputs_exist(build *b, const char *rel) {
    char *p = cli_xasprintf("%s/%s", b->out_dir, rel);
    int ok = file_exists(p);
    free(p);
    return ok;
}

/* ---------------------------------------------------------------------------------------------
 * Phase B: load every document; what it is (title, date, cover) and what becomes of it
 */

static const char *const cover_keys[] = {"cover", "image", "featuredImage", "featured_image", "thumbnail", "seo.image"};

static void find_cover(build *b, cdoc *d) {
    const octavo_meta *root = octavo_doc_meta(d->doc);
    for (size_t k = 0; k < sizeof cover_keys / sizeof *cover_keys; k++) {
        const octavo_meta *m = octavo_meta_get(root, cover_keys[k]);
        const char *t = m ? octavo_meta_string(m) : NULL;
        if (!t || !*t) continue;
        if (strstr(t, "://") || !strncmp(t, "data:", 5)) continue; /* remote: not ours to copy */
        /* relative to the site folder, without leaving it */
        char *rel;
        const char *slash = strrchr(d->rel, '/');
        if (t[0] == '/') rel = cli_xstrdup(t + 1);
        else if (slash) rel = cli_xasprintf("%.*s/%s", (int)(slash - d->rel), d->rel, t);
        else rel = cli_xstrdup(t);
        char *q = strpbrk(rel, "?#");
        if (q) *q = 0;
        char *full = cli_xasprintf("%s/%s", b->site_dir, rel);
        char *real = realpath(full, NULL);
        size_t sl = strlen(b->site_real);
        int ok = real && !strncmp(real, b->site_real, sl) && real[sl] == '/' && file_exists(real) && is_img_ext(real, strlen(real));
        if (ok) {
            free(rel);
            d->cover_src = cli_xstrdup(real + sl + 1);
        } else {
            char buf[1024];
            snprintf(buf, sizeof buf, "%s:%u:%u: warning: the cover image %s %s\n", d->path, octavo_meta_line(m),
                     octavo_meta_column(m), t, real ? "is not an image inside the site folder" : "does not exist");
            d->warnings++;
            if (!b->c.quiet && first_time(buf, strlen(buf))) coll_puts(&d->msgs, buf);
            free(rel);
        }
        free(real);
        free(full);
        return;
    }
}

static void phase_load(void *ctx, size_t i) {
    build *b = ctx;
    cdoc *d = &b->docs[i];
    if (d->read_failed) return;
    cur_msgs = &d->msgs;
    cur_warnings = &d->warnings;
    octavo_error err;
    char warning[OCTAVO_ERROR_SIZE + OCTAVO_PATH_SIZE + 128];
    int first = octavo_doc_load(b->ov, d->path, d->text, d->len, &d->doc, &err);
    if (first && site_load_degraded(b->ov, d->path, d->text, d->len, &d->doc, &err, warning, sizeof warning)) {
        msg_error(&d->msgs, &err);
        d->failed = 1;
    } else {
        if (first) { /* loaded the second time, as plain Markdown */
            d->warnings++;
            if (!b->c.quiet && first_time(warning, strlen(warning))) coll_puts(&d->msgs, warning);
            d->degraded = 1;
        }
        d->title = cli_xstrdup(octavo_doc_title(d->doc));
        octavo_time t;
        if (octavo_doc_date(d->doc, &t) == OCTAVO_OK) {
            snprintf(d->date, sizeof d->date, "%04d-%02d-%02d", t.year, t.month, t.day);
            d->epoch = t.epoch;
        }
        d->want_pdf = cli_select_match(&b->cfg.pdf, d->rel, d->doc);
        /* the book: what the configuration names, else every dated document */
        if (b->cfg.book.sel.given) d->in_book = cli_select_match(&b->cfg.book.sel, d->rel, d->doc);
        else d->in_book = d->date[0] != 0;
        find_cover(b, d);
    }
    cur_msgs = NULL;
    cur_warnings = NULL;
    if (d->failed) flush_msgs(&d->msgs); /* errors at once; warnings with the document's work */
}

/* ---------------------------------------------------------------------------------------------
 * Phase C: render
 */

static void render_doc(build *b, cdoc *d) {
    cur_msgs = &d->msgs;
    cur_warnings = &d->warnings;
    progress_begin(d->rel);
    double t0 = now_s();
    octavo_error err;
    int html_done = !d->need_html, pdf_done = !d->need_pdf;
    if (d->need_html) {
        char *out = cli_xasprintf("%s/%s", b->out_dir, d->html_rel);
        if (site_render_page(d->doc, d->rel, out, &err)) {
            msg_error(&d->msgs, &err);
            d->failed = 1;
        } else {
            d->built = 1;
            html_done = 1;
        }
        free(out);
    }
    if (d->need_pdf && !d->failed && !cli_interrupted()) {
        char *out = cli_xasprintf("%s/%s", b->out_dir, d->pdf_rel);
        if (octavo_render_file(d->doc, OCTAVO_FORMAT_PDF, out, &err)) {
            msg_error(&d->msgs, &err);
            d->failed = 1;
        } else {
            d->built = 1;
            d->pages = octavo_doc_pdf_pages(d->doc);
            pdf_done = 1;
        }
        free(out);
    }
    /* done, unless it failed or an interruption stopped it between its two outputs */
    if (!d->failed && html_done && pdf_done) d->need_html = d->need_pdf = 0;
    cur_msgs = NULL;
    cur_warnings = NULL;
    if (b->c.verbose && d->built && !d->failed) {
        if (d->want_pdf)
            coll_printf(&d->msgs, "built %s, %s (%u page%s, %.2f s)\n", d->html_rel, d->pdf_rel, d->pages,
                        d->pages == 1 ? "" : "s", now_s() - t0);
        else
            coll_printf(&d->msgs, "built %s (%.2f s)\n", d->html_rel, now_s() - t0);
    }
    flush_msgs(&d->msgs);
    progress_done();
}

static void book_set(build *b, octavo_book *book, const char *key, const char *value) {
    if (!value || !*value) return;
    int rc = octavo_book_set(book, key, value);
    if (rc) progress_printf("%s: warning: the book's %s '%s': %s\n", b->cfg.file ? b->cfg.file : cli_prog, key, value,
                            octavo_strerror(rc));
}

static void render_book(build *b, cbook *bk) {
    cur_msgs = &bk->msgs;
    cur_warnings = &bk->warnings;
    progress_begin(bk->out_rel);
    double t0 = now_s();
    octavo *ov = bk->fmt == OCTAVO_FORMAT_PDF && b->ov_toc ? b->ov_toc : b->ov;
    octavo_book *book = octavo_book_new(ov);
    octavo_error err;
    int ok = book != NULL;
    if (ok) {
        const char *title = b->cfg.book.title;
        char *own = NULL;
        if (!title) title = own = cli_xasprintf("%s — Blog", b->site_title);
        book_set(b, book, "title", title);
        free(own);
        book_set(b, book, "author", b->cfg.book.author ? b->cfg.book.author : b->cfg.author);
        book_set(b, book, "lang", b->c.opt.lang);
        book_set(b, book, "description", b->cfg.book.description ? b->cfg.book.description : b->cfg.description);
        book_set(b, book, "publisher", b->cfg.book.publisher);
        book_set(b, book, "cover", b->cfg.book.cover);
        if (b->c.opt.base_url) {
            char *id = cli_xasprintf("%s%s%s", b->c.opt.base_url,
                                 b->c.opt.base_url[strlen(b->c.opt.base_url) - 1] == '/' ? "" : "/", bk->out_rel);
            book_set(b, book, "identifier", id);
            free(id);
        }
        /* the book's date: its newest document's, so that the output depends on the inputs only */
        const char *newest = "";
        for (size_t k = 0; k < b->nmembers; k++)
            if (strcmp(b->docs[b->book_members[k]].date, newest) > 0) newest = b->docs[b->book_members[k]].date;
        book_set(b, book, "date", newest);
        octavo_book_order(book, (octavo_order)b->cfg.book.order);
    }
    for (size_t k = 0; ok && k < b->nmembers; k++) {
        cdoc *d = &b->docs[b->book_members[k]];
        octavo_doc *doc = NULL;
        char warning[OCTAVO_ERROR_SIZE + OCTAVO_PATH_SIZE + 128];
        if (octavo_doc_load(ov, d->path, d->text, d->len, &doc, &err) &&
            site_load_degraded(ov, d->path, d->text, d->len, &doc, &err, warning, sizeof warning)) {
            msg_error(&bk->msgs, &err);
            ok = 0;
        } else if (octavo_book_add(book, doc, &err)) {
            msg_error(&bk->msgs, &err);
            ok = 0;
        }
    }
    if (!book) coll_printf(&bk->msgs, "%s: out of memory\n", cli_prog);
    if (ok && !cli_interrupted()) {
        char *out = cli_xasprintf("%s/%s", b->out_dir, bk->out_rel);
        if (octavo_book_render_file(book, bk->fmt, out, &err)) {
            msg_error(&bk->msgs, &err);
            ok = 0;
        } else {
            bk->built = 1;
            bk->need = 0;
            bk->count = bk->fmt == OCTAVO_FORMAT_PDF ? octavo_book_pdf_pages(book) : (unsigned)octavo_book_count(book);
        }
        free(out);
    }
    if (!ok) bk->failed = 1;
    octavo_book_free(book);
    cur_msgs = NULL;
    cur_warnings = NULL;
    if (b->c.verbose && bk->built)
        coll_printf(&bk->msgs, "built %s (%u %s, %.2f s)\n", bk->out_rel, bk->count,
                    bk->fmt == OCTAVO_FORMAT_PDF ? (bk->count == 1 ? "page" : "pages") : (bk->count == 1 ? "chapter" : "chapters"),
                    now_s() - t0);
    flush_msgs(&bk->msgs);
    progress_done();
}

/* Items: 0 and 1 are the books, 2 + i the documents. */
static void phase_render(void *ctx, size_t item) {
    build *b = ctx;
    if (item < 2) render_book(b, &b->books[item]);
    else render_doc(b, &b->docs[item - 2]);
}

typedef struct job_cost {
    size_t item;
    double cost;
} job_cost;

static int cmp_cost(const void *x, const void *y) {
    const job_cost *a = x, *c = y;
    if (a->cost != c->cost) return a->cost < c->cost ? 1 : -1;
    return a->item < c->item ? -1 : a->item > c->item;
}

/* ---------------------------------------------------------------------------------------------
 * Phase D: the downloads page
 */

static void put_size(coll_str *s, long long n) {
    if (n < 1000) coll_printf(s, "%lld bytes", n);
    else {
        static const char *const u[] = {"kB", "MB", "GB", "TB"};
        double v = (double)n / 1000;
        int k = 0;
        while (v >= 999.95 && k < 3) {
            v /= 1000;
            k++;
        }
        coll_printf(s, v < 9.995 ? "%.2f %s" : v < 99.95 ? "%.1f %s" : "%.0f %s", v, u[k]);
        /* the exact count, grouped in thousands */
        char digits[32], grouped[48];
        int nd = snprintf(digits, sizeof digits, "%lld", n), g = 0;
        for (int i = 0; i < nd; i++) {
            if (i && (nd - i) % 3 == 0) grouped[g++] = ',';
            grouped[g++] = digits[i];
        }
        grouped[g] = 0;
        coll_printf(s, " (%s bytes)", grouped);
    }
}

static const build *listing_build; /* qsort has no context argument in C11 */

static int cmp_listing(const void *x, const void *y) {
    const build *b = listing_build;
    const cdoc *a = &b->docs[*(const size_t *)x], *c = &b->docs[*(const size_t *)y];
    /* dated documents first, newest first; then the others by path */
    if (a->date[0] && c->date[0]) {
        if (a->epoch != c->epoch) return a->epoch > c->epoch ? -1 : 1;
    } else if (a->date[0] != c->date[0]) {
        return a->date[0] ? -1 : 1;
    }
    return strcmp(a->rel, c->rel);
}

static void put_entry_meta(coll_str *s, const char *date, const char *kind, unsigned count, const char *unit,
                           const char *units, long long size) {
    coll_puts(s, "<p class=\"meta\">");
    if (date && *date) coll_printf(s, "<time datetime=\"%s\">%s</time> · ", date, date);
    coll_printf(s, "%s · %u %s · ", kind, count, count == 1 ? unit : units);
    put_size(s, size);
    coll_puts(s, "</p>\n");
}

static const char downloads_css[] =
    ":root{color-scheme:light dark;--fg:#1d1d1f;--muted:#5f6368;--bg:#fff;--line:#dadce0;--accent:#0b57d0}\n"
    "@media (prefers-color-scheme:dark){:root{--fg:#e8eaed;--muted:#9aa0a6;--bg:#202124;--line:#3c4043;--accent:#8ab4f8}}\n"
    "body{margin:0 auto;max-width:46rem;padding:1.5rem 1rem 3rem;font:1rem/1.55 system-ui,-apple-system,\"Segoe UI\","
    "Roboto,sans-serif;color:var(--fg);background:var(--bg)}\n"
    "a{color:var(--accent)}\n"
    "header nav a{text-decoration:none;font-weight:600}\n"
    "h1{font-size:2rem;margin:.5rem 0 .25rem}\n"
    "h2{font-size:1.3rem;margin:2.5rem 0 .5rem;padding-bottom:.25rem;border-bottom:1px solid var(--line)}\n"
    "h3{font-size:1.05rem;margin:0}\n"
    "ul.downloads{list-style:none;margin:0;padding:0}\n"
    "ul.downloads li{display:flex;gap:1rem;align-items:flex-start;padding:.8rem 0;border-bottom:1px solid var(--line)}\n"
    "ul.downloads img{width:4.5rem;height:4.5rem;object-fit:cover;border-radius:.3rem;flex:none;background:var(--line)}\n"
    ".meta{margin:.2rem 0 0;color:var(--muted);font-size:.9rem}\n"
    ".also{margin:.2rem 0 0;font-size:.9rem}\n"
    "footer{margin-top:3rem;color:var(--muted);font-size:.85rem}\n";

static char *copy_cover(build *b, const char *src_rel) {
    char *src = cli_xasprintf("%s/%s", b->site_dir, src_rel);
    char *dst = cli_xasprintf("%s/%s", b->out_dir, src_rel);
    char *dir = cli_xstrdup(dst);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    int rc = coll_mkdirs(dir) ? -1 : coll_copy_file(src, dst);
    if (rc < 0) progress_printf("%s: warning: cannot copy the cover image: %s\n", dst, strerror(errno));
    free(dir);
    free(src);
    free(dst);
    return rc < 0 ? NULL : cli_xstrdup(src_rel);
}

static int write_downloads(build *b) {
    coll_str s = {0};
    const char *lang = b->c.opt.lang ? b->c.opt.lang : "en";
    coll_printf(&s, "<!DOCTYPE html>\n<html lang=\"");
    coll_put_html(&s, lang);
    coll_puts(&s, "\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Downloads · ");
    coll_put_html(&s, b->site_title);
    coll_puts(&s, "</title>\n<meta name=\"description\" content=\"");
    coll_puts(&s, "The documents of ");
    coll_put_html(&s, b->site_title);
    coll_puts(&s, " as PDF files, and its blog as an EPUB book and a PDF.\">\n<meta name=\"generator\" content=\"octavo ");
    coll_put_html(&s, octavo_version());
    coll_printf(&s, "\">\n<style>\n%s</style>\n</head>\n<body>\n<header>\n<nav><a href=\"index.html\">", downloads_css);
    coll_put_html(&s, b->site_title);
    coll_puts(&s, "</a></nav>\n<h1>Downloads</h1>\n</header>\n<main>\n");

    /* the books */
    int any_book = 0;
    for (int k = 0; k < 2; k++) {
        cbook *bk = &b->books[k];
        char *p = bk->out_rel ? cli_xasprintf("%s/%s", b->out_dir, bk->out_rel) : NULL;
        long long size = p ? file_size(p) : -1;
        free(p);
        if (size < 0 || bk->failed || !b->nmembers) continue;
        if (!any_book) {
            coll_puts(&s, "<section aria-labelledby=\"book\">\n<h2 id=\"book\">The blog as a book</h2>\n");
            coll_printf(&s, "<p>All %zu articles in one file, %s.</p>\n<ul class=\"downloads\">\n", b->nmembers,
                        b->cfg.book.order == OCTAVO_ORDER_DATE_DESC ? "newest first" : "oldest first");
            any_book = 1;
        }
        coll_puts(&s, "<li>\n");
        if (b->cfg.book.cover) {
            const char *c = b->cfg.book.cover[0] == '/' ? b->cfg.book.cover + 1 : b->cfg.book.cover;
            char *full = cli_xasprintf("%s/%s", b->site_dir, c);
            if (file_exists(full)) {
                char *rel = copy_cover(b, c);
                if (rel) {
                    coll_puts(&s, "<img src=\"");
                    coll_put_url(&s, rel);
                    coll_puts(&s, "\" alt=\"\">\n");
                    free(rel);
                }
            }
            free(full);
        }
        coll_puts(&s, "<div>\n<h3><a href=\"");
        coll_put_url(&s, bk->out_rel);
        coll_printf(&s, "\" type=\"%s\">", bk->fmt == OCTAVO_FORMAT_PDF ? "application/pdf" : "application/epub+zip");
        const char *title = b->cfg.book.title;
        if (title) coll_put_html(&s, title);
        else {
            coll_put_html(&s, b->site_title);
            coll_puts(&s, " — Blog");
        }
        coll_printf(&s, " (%s)</a></h3>\n", bk->kind);
        /* the range of dates it covers */
        const char *first = NULL, *last = NULL;
        for (size_t m = 0; m < b->nmembers; m++) {
            const char *dt = b->docs[b->book_members[m]].date;
            if (!*dt) continue;
            if (!first || strcmp(dt, first) < 0) first = dt;
            if (!last || strcmp(dt, last) > 0) last = dt;
        }
        coll_puts(&s, "<p class=\"meta\">");
        if (first && last)
            coll_printf(&s, "<time datetime=\"%s\">%s</time> to <time datetime=\"%s\">%s</time> · ", first, first, last, last);
        if (bk->fmt == OCTAVO_FORMAT_PDF) coll_printf(&s, "PDF · %u page%s · ", bk->count, bk->count == 1 ? "" : "s");
        else coll_printf(&s, "EPUB 3 · %u chapter%s · ", bk->count, bk->count == 1 ? "" : "s");
        put_size(&s, size);
        coll_puts(&s, "</p>\n</div>\n</li>\n");
    }
    if (any_book) coll_puts(&s, "</ul>\n</section>\n");

    /* the documents */
    size_t *order = cli_xrealloc(NULL, (b->ndocs ? b->ndocs : 1) * sizeof *order), n = 0;
    for (size_t i = 0; i < b->ndocs; i++) {
        cdoc *d = &b->docs[i];
        if (d->doc && d->want_pdf && !d->failed) order[n++] = i;
    }
    listing_build = b;
    qsort(order, n, sizeof *order, cmp_listing);
    if (n) {
        coll_puts(&s, "<section aria-labelledby=\"documents\">\n<h2 id=\"documents\">Documents</h2>\n");
        coll_printf(&s, "<p>%zu document%s as PDF, newest first.</p>\n<ul class=\"downloads\">\n", n, n == 1 ? "" : "s");
    }
    for (size_t k = 0; k < n; k++) {
        cdoc *d = &b->docs[order[k]];
        char *p = cli_xasprintf("%s/%s", b->out_dir, d->pdf_rel);
        long long size = file_size(p);
        free(p);
        if (size < 0) continue;
        coll_puts(&s, "<li>\n");
        if (d->cover_src) {
            char *rel = copy_cover(b, d->cover_src);
            if (rel) {
                coll_puts(&s, "<img src=\"");
                coll_put_url(&s, rel);
                coll_puts(&s, "\" alt=\"\">\n");
                free(rel);
            }
        }
        coll_puts(&s, "<div>\n<h3><a href=\"");
        coll_put_url(&s, d->pdf_rel);
        coll_puts(&s, "\" type=\"application/pdf\">");
        coll_put_html(&s, d->title ? d->title : d->rel);
        coll_puts(&s, "</a></h3>\n");
        put_entry_meta(&s, d->date, "PDF", d->pages, "page", "pages", size);
        char *hp = cli_xasprintf("%s/%s", b->out_dir, d->html_rel);
        if (file_exists(hp)) {
            coll_puts(&s, "<p class=\"also\"><a href=\"");
            coll_put_url(&s, d->html_rel);
            coll_puts(&s, "\">Read online</a></p>\n");
        }
        free(hp);
        coll_puts(&s, "</div>\n</li>\n");
    }
    if (n) coll_puts(&s, "</ul>\n</section>\n");
    if (!n && !any_book) coll_puts(&s, "<p>Nothing to download yet.</p>\n");
    free(order);
    coll_puts(&s, "</main>\n<footer>\n<p>Made with octavo ");
    coll_put_html(&s, octavo_version());
    coll_puts(&s, ".</p>\n</footer>\n</body>\n</html>\n");
    char *path = cli_xasprintf("%s/downloads.html", b->out_dir);
    int rc = coll_write_file(path, s.s, s.len);
    if (rc) progress_printf("%s: error: cannot write: %s\n", path, strerror(errno));
    free(path);
    free(s.s);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Temporaries and outputs of documents that are gone
 */

/* Removes the "DIR/.NAME.XXXXXX" temporaries (as mkstemp names them) of outputs under dir: those
 * of a run that was killed outright, or of a write cut short. Only names of the kinds this build
 * writes are touched. */
static int is_temporary(const char *n) {
    size_t l = strlen(n);
    if (n[0] != '.' || l < 10 || n[l - 7] != '.') return 0;
    for (size_t j = l - 6; j < l; j++)
        if (!((n[j] >= 'a' && n[j] <= 'z') || (n[j] >= 'A' && n[j] <= 'Z') || (n[j] >= '0' && n[j] <= '9'))) return 0;
    const char *name = n + 1;
    size_t nl = l - 8;
    static const char *const exts[] = {".html", ".pdf", ".epub", ".xml", ".css", ".js"};
    for (size_t k = 0; k < sizeof exts / sizeof *exts; k++) {
        size_t el = strlen(exts[k]);
        if (nl > el && !strncmp(name + nl - el, exts[k], el)) return 1;
    }
    if (nl == strlen(MANIFEST) && !strncmp(name, MANIFEST, nl)) return 1;
    if (is_img_ext(name, nl)) return 1;
    return 0;
}

static void remove_temporaries_in(const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
        char *p = cli_xasprintf("%s/%s", dir, n);
        struct stat st;
        if (!lstat(p, &st)) {
            if (S_ISDIR(st.st_mode) && n[0] != '.' && depth < 32) remove_temporaries_in(p, depth + 1);
            else if (S_ISREG(st.st_mode) && is_temporary(n)) unlink(p);
        }
        free(p);
    }
    closedir(d);
}

static void remove_temporaries(build *b) { remove_temporaries_in(b->out_dir, 0); }

static void remove_output(build *b, const char *rel) {
    char *p = cli_xasprintf("%s/%s", b->out_dir, rel);
    if (!unlink(p) && b->c.verbose) progress_printf("removed %s\n", rel);
    free(p);
}

/* ---------------------------------------------------------------------------------------------
 * The command
 */

static int parse_jobs(const char *v, unsigned *out) {
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 1 || n > 1024) {
        fprintf(stderr, "%s: --jobs wants a number from 1 to 1024, not '%s'\n", cli_prog, v);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

/* Options that take a value, so that the first pass over the arguments can skip them. */
static int takes_value(const char *a) {
    static const char *const v[] = {"-o", "--output", "-j", "--jobs", "--config", "--title", "--root", "--base-url",
                                    "--lang", "--author", "--paper", "--cache-dir", "--set"};
    for (size_t k = 0; k < sizeof v / sizeof *v; k++)
        if (!strcmp(a, v[k])) return 1;
    return 0;
}

static int parse_args(build *b, int argc, char **argv) {
    /* first pass: the site folder and the configuration, which the options then override */
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config") && i + 1 < argc) b->config_path = argv[i + 1];
        if (takes_value(a)) {
            i++;
            continue;
        }
        if (a[0] == '-' && a[1]) continue;
        if (b->site_dir) {
            fprintf(stderr, "%s: site takes one folder ('%s' and '%s')\n", cli_prog, b->site_dir, a);
            return 2;
        }
        b->site_dir = a;
    }
    if (!b->site_dir) {
        fprintf(stderr, "%s: site needs a site folder and -o OUT_DIR\n", cli_prog);
        return 2;
    }
    if (cli_config_load(&b->cfg, b->site_dir, b->config_path)) return 2;
    cli_config_apply(&b->cfg, &b->c.opt);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int r = cli_common_option(&b->c, argc, argv, &i);
        if (r < 0) return 2;
        if (r) continue;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (i + 1 >= argc) goto missing;
            b->out_dir = argv[++i];
        } else if (!strcmp(a, "-j") || !strcmp(a, "--jobs")) {
            if (i + 1 >= argc) goto missing;
            if (parse_jobs(argv[++i], &b->jobs)) return 2;
        } else if (!strncmp(a, "--jobs=", 7)) {
            if (parse_jobs(a + 7, &b->jobs)) return 2;
        } else if (!strncmp(a, "-j", 2) && a[2]) {
            if (parse_jobs(a + 2, &b->jobs)) return 2;
        } else if (!strcmp(a, "--force")) {
            b->force = 1;
        } else if (!strcmp(a, "--config")) {
            i++;
        } else if (!strcmp(a, "--title")) {
            if (i + 1 >= argc) goto missing;
            b->title_opt = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "%s: site: unknown option '%s' (see %s --help)\n", cli_prog, a, cli_prog);
            return 2;
        }
        continue;
    missing:
        fprintf(stderr, "%s: %s needs a value\n", cli_prog, a);
        return 2;
    }
    if (!b->out_dir) {
        fprintf(stderr, "%s: site needs -o OUT_DIR\n", cli_prog);
        return 2;
    }
    return 0;
}

static void build_free(build *b) {
    for (size_t i = 0; i < b->ndocs; i++) {
        cdoc *d = &b->docs[i];
        octavo_doc_free(d->doc);
        free(d->rel);
        free(d->path);
        free(d->html_rel);
        free(d->pdf_rel);
        free(d->text);
        free(d->title);
        free(d->cover_src);
        free(d->msgs.s);
    }
    free(b->docs);
    for (size_t i = 0; i < b->nm_gone; i++) free(b->m_gone[i]);
    free(b->m_gone);
    free(b->book_members);
    for (int k = 0; k < 2; k++) {
        free(b->books[k].out_rel);
        free(b->books[k].msgs.s);
    }
    free(b->book_file);
    free(b->site_real);
    free(b->out_real);
    free(b->site_title);
    octavo_free(b->ov);
    octavo_free(b->ov_toc);
    if (b->links) site_links_free();
    cli_config_free(&b->cfg);
}

int collateral_main(int argc, char **argv) {
    double t0 = now_s();
#if defined(__GLIBC__)
    /* The renderers allocate and free large buffers over and over (zlib's windows, decoded
     * images): by default glibc maps and unmaps each one and trims every thread's arena after
     * it, so that each use page-faults afresh. A build keeps its memory: on the corpus, a
     * quarter fewer page faults and a tenth less CPU. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_TOP_PAD, 16 << 20);
#endif
    process_umask();
    build bs, *b = &bs;
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    cli_common_init(&b->c);
    int status = parse_args(b, argc, argv);
    if (status) {
        cli_config_free(&b->cfg);
        return status;
    }
    b->c.opt.diag = build_diag;
    b->c.opt.diag_ud = b;
    if (!b->jobs) b->jobs = jobs_cores();
    b->tty = isatty(STDERR_FILENO) && !b->c.quiet;

    b->site_real = realpath(b->site_dir, NULL);
    struct stat st;
    if (!b->site_real || stat(b->site_real, &st) || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: error: not a folder: %s\n", b->site_dir, b->site_real ? "" : strerror(errno));
        build_free(b);
        return 2;
    }
    if (!b->c.opt.resource_root) b->c.opt.resource_root = b->site_dir;
    if (coll_mkdirs(b->out_dir)) {
        fprintf(stderr, "%s: error: cannot create the output folder: %s\n", b->out_dir, strerror(errno));
        build_free(b);
        return 1;
    }
    b->out_real = realpath(b->out_dir, NULL);
    if (b->out_real && !strcmp(b->out_real, b->site_real)) {
        fprintf(stderr, "%s: error: the output folder must not be the site folder\n", b->out_dir);
        build_free(b);
        return 2;
    }
    /* the site's title: the option, the configuration, else the folder's name */
    if (b->title_opt) b->site_title = cli_xstrdup(b->title_opt);
    else if (b->cfg.title) b->site_title = cli_xstrdup(b->cfg.title);
    else {
        char *tmp = cli_xstrdup(b->site_real);
        b->site_title = cli_xstrdup(basename(tmp));
        free(tmp);
    }
    b->book_file = cli_xstrdup(b->cfg.book.file ? b->cfg.book.file : "blog");
    b->books[0] = (cbook){.kind = "EPUB", .fmt = OCTAVO_FORMAT_EPUB, .out_rel = cli_xasprintf("%s.epub", b->book_file)};
    b->books[1] = (cbook){.kind = "PDF", .fmt = OCTAVO_FORMAT_PDF, .out_rel = cli_xasprintf("%s.pdf", b->book_file)};

    if (site_links_init(&b->c.opt, b->site_dir, b->out_dir)) {
        build_free(b);
        return 1;
    }
    b->links = 1;
    octavo_error err;
    b->ov = octavo_new(&b->c.opt, &err);
    if (!b->ov) {
        cli_error(&err);
        build_free(b);
        return 2;
    }
    if (b->cfg.book.toc && !(b->c.opt.flags & OCTAVO_TOC)) {
        octavo_options o = b->c.opt;
        o.flags |= OCTAVO_TOC;
        b->ov_toc = octavo_new(&o, &err);
        if (!b->ov_toc) {
            cli_error(&err);
            build_free(b);
            return 2;
        }
    }
    options_key(b);
    cli_interrupt_install();

    /* A: read and key */
    find_documents(b);
    {
        /* links go to the pages this build makes (configured exclusions included) */
        const char **rels = cli_xrealloc(NULL, (b->ndocs ? b->ndocs : 1) * sizeof *rels);
        for (size_t i = 0; i < b->ndocs; i++) rels[i] = b->docs[i].rel;
        site_links_set_pages(rels, b->ndocs);
        free(rels);
    }
    read_manifest(b);
    remove_temporaries(b); /* left by a run that was killed outright */
    jobs_run(b->jobs, b->ndocs, NULL, phase_read, b);
    double t_read = now_s();
    if (cli_interrupted()) { /* nothing was written yet: the manifest stands as it is */
        fprintf(stderr, "%s: interrupted\n", cli_prog);
        build_free(b);
        cli_interrupt_finish();
        return 130;
    }
    uint64_t set_key = site_set_key(b);
    int opts_same = b->m_have_opts && b->m_opt_key == b->opt_key && !b->force;
    int all_clean = opts_same && !b->nm_gone;
    for (size_t i = 0; i < b->ndocs; i++) {
        cdoc *d = &b->docs[i];
        d->html_key = hash_u64(d->key, set_key);
        int clean = opts_same && !d->read_failed && d->m_have && d->m_key == d->key;
        if (clean) {
            /* what the last build found; loading the document confirms it */
            d->want_pdf = d->m_pdf;
            d->in_book = d->m_book;
            d->pages = d->m_pages;
        }
        d->need_pdf = !clean;
        d->need_html = !clean || d->m_html_key != d->html_key || !outputs_exist(b, d->html_rel);
        if (clean && d->m_pdf && !outputs_exist(b, d->pdf_rel)) d->need_pdf = 1;
        if (d->need_pdf || d->need_html || d->read_failed) all_clean = 0;
    }
    if (all_clean) {
        /* the books and listings of the last build stand when their files do */
        int members = 0;
        for (size_t i = 0; i < b->ndocs; i++) members |= b->docs[i].m_book;
        for (int k = 0; k < 2; k++) {
            if (b->books[k].m_have && !outputs_exist(b, b->books[k].out_rel)) all_clean = 0;
            if (members && !b->books[k].m_have) all_clean = 0; /* it failed last time: try again */
        }
        if (!outputs_exist(b, "downloads.html") || !site_listing_exists(b->out_dir)) all_clean = 0;
    }
    size_t built = 0, fresh = 0, failed = 0;
    unsigned long warnings = 0;
    if (all_clean) {
        if (b->c.verbose) progress_printf("%zu documents up to date (checked in %.3f s)\n", b->ndocs, t_read - t0);
        goto summary;
    }

    /* B: load everything */
    jobs_run(b->jobs, b->ndocs, NULL, phase_load, b);
    double t_load = now_s();
    if (cli_interrupted()) goto interrupted;
    for (size_t i = 0; i < b->ndocs; i++) {
        cdoc *d = &b->docs[i];
        if (d->failed || d->read_failed) continue;
        if (!d->want_pdf) d->need_pdf = 0;
        else if (d->m_have && !d->m_pdf) d->need_pdf = 1; /* newly selected for a PDF */
        if (!d->need_pdf && d->want_pdf) d->pages = d->m_pages;
        if (d->in_book) {
            b->book_members = cli_xrealloc(b->book_members, (b->nmembers + 1) * sizeof *b->book_members);
            b->book_members[b->nmembers++] = i;
        }
    }
    uint64_t book_key = hash_u64(b->opt_key, b->nmembers);
    if (b->cfg.book.cover) { /* the cover image is part of the books */
        const char *c = b->cfg.book.cover;
        char *p = cli_xasprintf("%s/%s", b->site_dir, c[0] == '/' ? c + 1 : c);
        struct stat cs;
        if (!stat(p, &cs)) {
            book_key = hash_u64(book_key, (uint64_t)cs.st_size);
            book_key = hash_u64(book_key, (uint64_t)cs.st_mtim.tv_sec);
            book_key = hash_u64(book_key, (uint64_t)cs.st_mtim.tv_nsec);
        }
        free(p);
    }
    for (size_t k = 0; k < b->nmembers; k++) {
        const cdoc *d = &b->docs[b->book_members[k]];
        book_key = hash_str(book_key, d->rel);
        book_key = hash_u64(book_key, d->key);
    }
    for (int k = 0; k < 2; k++) {
        cbook *bk = &b->books[k];
        bk->key = hash_u64(book_key, (uint64_t)k);
        bk->need = b->nmembers && (!opts_same || !bk->m_have || bk->m_key != bk->key || !outputs_exist(b, bk->out_rel));
        if (!bk->need) bk->count = bk->m_count;
    }

    /* the folders of the outputs */
    for (size_t i = 0; i < b->ndocs; i++) {
        cdoc *d = &b->docs[i];
        if (!d->need_html && !d->need_pdf) continue;
        char *p = cli_xasprintf("%s/%s", b->out_dir, d->html_rel);
        char *slash = strrchr(p, '/');
        *slash = 0;
        if (coll_mkdirs(p)) {
            progress_printf("%s: error: cannot create the folder: %s\n", p, strerror(errno));
            d->failed = 1;
        }
        free(p);
    }

    /* C: render, the longest jobs first */
    job_cost *jc = cli_xrealloc(NULL, (b->ndocs + 2) * sizeof *jc);
    size_t nj = 0;
    double book_cost = 0;
    for (size_t k = 0; k < b->nmembers; k++) book_cost += b->docs[b->book_members[k]].cost;
    for (int k = 0; k < 2; k++)
        if (b->books[k].need) jc[nj++] = (job_cost){(size_t)k, book_cost * (k ? 1.2 : 0.5)};
    for (size_t i = 0; i < b->ndocs; i++) {
        cdoc *d = &b->docs[i];
        if (d->failed || d->read_failed || (!d->need_html && !d->need_pdf)) continue;
        jc[nj++] = (job_cost){i + 2, d->cost * (d->need_pdf ? 1.0 : 0.1)};
    }
    qsort(jc, nj, sizeof *jc, cmp_cost);
    size_t *order = cli_xrealloc(NULL, (nj ? nj : 1) * sizeof *order);
    for (size_t k = 0; k < nj; k++) order[k] = jc[k].item;
    free(jc);
    progress_start(nj, b->tty);
    jobs_run(b->jobs, nj, order, phase_render, b);
    progress_end();
    free(order);
    double t_render = now_s();

    /* messages of documents that needed no work (warnings found while loading) */
    for (size_t i = 0; i < b->ndocs; i++) flush_msgs(&b->docs[i].msgs);
    if (cli_interrupted()) goto interrupted;

    /* D: outputs of documents that failed or are gone; the listings; the manifest */
    for (size_t i = 0; i < b->ndocs; i++) {
        cdoc *d = &b->docs[i];
        if (d->failed || d->read_failed) {
            if (!d->built) remove_output(b, d->html_rel);
            remove_output(b, d->pdf_rel);
        } else if (!d->want_pdf && d->m_pdf) {
            remove_output(b, d->pdf_rel);
        }
    }
    for (size_t i = 0; i < b->nm_gone; i++) {
        char *h = site_page_path(b->m_gone[i]), *p = swap_ext(h, ".pdf");
        remove_output(b, h);
        remove_output(b, p);
        free(h);
        free(p);
    }
    if (!b->nmembers)
        for (int k = 0; k < 2; k++) remove_output(b, b->books[k].out_rel);
    {
        site_entry *entries = cli_xrealloc(NULL, (b->ndocs ? b->ndocs : 1) * sizeof *entries);
        size_t ne = 0;
        for (size_t i = 0; i < b->ndocs; i++) {
            cdoc *d = &b->docs[i];
            if (!d->doc || (d->failed && !d->built)) continue;
            entries[ne++] = (site_entry){d->doc, d->rel, d->html_rel, d->want_pdf && !d->failed ? d->pdf_rel : NULL};
        }
        if (site_write_listing(b->ov, b->out_dir, b->site_title, entries, ne)) b->failures++;
        free(entries);
    }
    if (write_downloads(b)) b->failures++;
    write_manifest(b);
    if (b->c.verbose)
        progress_printf("read %.3f s, loaded %.3f s, rendered %.3f s, listings %.3f s\n", t_read - t0, t_load - t_read,
                        t_render - t_load, now_s() - t_render);

summary:
    warnings = b->warnings;
    for (size_t i = 0; i < b->ndocs; i++) {
        cdoc *d = &b->docs[i];
        warnings += d->warnings;
        if (d->failed || d->read_failed) failed++;
        else if (d->built) built++;
        else fresh++;
    }
    for (int k = 0; k < 2; k++) {
        warnings += b->books[k].warnings;
        if (b->books[k].failed) b->failures++;
    }
    if (!b->c.quiet || failed || b->failures)
        progress_printf("%zu document%s, %zu built, %zu up to date, %zu failed, %lu warning%s\n", b->ndocs,
                        b->ndocs == 1 ? "" : "s", built, fresh, failed, warnings, warnings == 1 ? "" : "s");
    status = failed || b->failures ? 1 : 0;
    build_free(b);
    cli_interrupt_finish(); /* a signal during the listings: they were finished, now stop as asked */
    return status;

interrupted:
    progress_end();
    for (size_t i = 0; i < b->ndocs; i++) flush_msgs(&b->docs[i].msgs);
    remove_temporaries(b);
    write_manifest(b); /* what was finished need not be done again */
    remove_temporaries(b);
    fprintf(stderr, "%s: interrupted; what was finished is kept, the rest is built next time\n", cli_prog);
    build_free(b);
    cli_interrupt_finish();
    return 130;
}
