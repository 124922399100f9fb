/* The warm EPUB build's machinery: the zip writer (a forward stream; cached files checked as they
 * are copied), file and callback sinks giving the same bytes, the source index (stat-keyed hashes
 * of source images: trusted when the stat is the same, ignored when damaged, bypassed when the
 * file changed), and books built on several threads giving the bytes of one. */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <webp/encode.h>
#include <zip.h>
#include <zlib.h>

#include "epub.h"
#include "harness.h"
#include "internal.h"

static char root[] = "/tmp/octavo-epub-speed-XXXXXX";

static void path_of(char *p, size_t size, const char *rel) { snprintf(p, size, "%s/%s", root, rel); }

static void write_file(const char *rel, const void *data, size_t len) { t_write_under(root, rel, data, len); }

static void write_text(const char *rel, const char *text) { write_file(rel, text, strlen(text)); }


static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

/* A WebP of w x h; seed varies the pixels; alpha makes it lossless with transparency. */
static void make_webp(const char *rel, int w, int h, int seed, int alpha) {
    uint8_t *px = malloc((size_t)w * h * 4);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * w + x) * 4;
            p[0] = (uint8_t)(x * 7 + seed);
            p[1] = (uint8_t)(y * 5 + seed * 3);
            p[2] = (uint8_t)((x ^ y) + seed);
            p[3] = (uint8_t)(alpha && x < 3 ? 0 : 255);
        }
    uint8_t *out = NULL;
    size_t n = alpha ? WebPEncodeLosslessRGBA(px, w, h, w * 4, &out) : WebPEncodeRGBA(px, w, h, w * 4, 80, &out);
    if (!n) { fprintf(stderr, "WebP encode failed\n"); exit(2); }
    write_file(rel, out, n);
    WebPFree(out);
    free(px);
}

/* ---- sinks */
static int buf_put(void *ud, const void *p, size_t n) { return ov_buf_put(ud, p, n); }
static int fail_put(void *ud, const void *p, size_t n) {
    (void)p;
    (void)n;
    return ++*(int *)ud > 1; /* the second write fails */
}

/* ---- reading a zip back */
static zip_t *zopen(const char *data, size_t len, zip_source_t **src) {
    zip_error_t ze;
    zip_error_init(&ze);
    *src = zip_source_buffer_create(data, len, 0, &ze);
    zip_t *za = *src ? zip_open_from_source(*src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
    zip_error_fini(&ze);
    if (!za && *src) zip_source_free(*src);
    return za;
}

static char *zentry(zip_t *za, const char *name, size_t *len) {
    zip_stat_t st;
    if (zip_stat(za, name, 0, &st)) return NULL;
    zip_file_t *f = zip_fopen(za, name, 0);
    if (!f) return NULL;
    char *buf = malloc(st.size + 1);
    zip_int64_t n = zip_fread(f, buf, st.size);
    zip_fclose(f);
    if (n < 0 || (zip_uint64_t)n != st.size) { free(buf); return NULL; }
    buf[st.size] = 0;
    *len = st.size;
    return buf;
}

static int same(const char *a, size_t al, const char *b, size_t bl) { return a && b && al == bl && !memcmp(a, b, al); }

/* The zip writer alone: entries stored, deflated and copied from a file come back as they went
 * in; a file that changed after its CRC was taken, or is shorter, fails the archive. */
TEST(test_zip_writer) {
    size_t big = 300000; /* several staging buffers */
    unsigned char *payload = malloc(big);
    for (size_t i = 0; i < big; i++) payload[i] = (unsigned char)(i * 131 + (i >> 9));
    unsigned char hdr[16] = "0123456789abcdef"; /* the file's payload starts at 16, as cache entries */
    char file[1024];
    path_of(file, sizeof file, "zipsrc.bin");
    FILE *f = fopen(file, "wb");
    fwrite(hdr, 1, 16, f);
    fwrite(payload, 1, big, f);
    fclose(f);
    uint32_t crc = (uint32_t)crc32(crc32(0, Z_NULL, 0), payload, (uInt)big);
    const char *text = "<p>Some text, some text, some text, some text.</p>\n";

    ov_buf first; /* variant 0's bytes */
    ov_buf_init(&first);
    /* variants 4 and 5: 0 and 1 into a file, written at offsets */
    for (int variant = 0; variant < 6; variant++) {
        ov_buf out;
        ov_buf_init(&out);
        int fails = 0;
        ov_sink sink = {variant == 3 ? fail_put : buf_put, variant == 3 ? (void *)&fails : (void *)&out, 0, (size_t)1 << 30, 0};
        char zfile[1024];
        path_of(zfile, sizeof zfile, "direct.zip");
        int fd = -1;
        if (variant >= 4) {
            fd = open(zfile, O_RDWR | O_CREAT | O_TRUNC, 0644);
            CHECK(fd >= 0);
            ov_test_fd_sink(&sink, fd);
        }
        octavo_error err;
        memset(&err, 0, sizeof err);
        ov_zipw *z = NULL;
        int rc = ov_zipw_open(&z, &sink, 1700000000, &err);
        CHECK(rc == OCTAVO_OK && z);
        if (rc) continue;
        rc = ov_zipw_add(z, "mimetype", (void *)"application/epub+zip", 20, 0, 0, &err);
        if (!rc) rc = ov_zipw_add(z, "a/text.xhtml", (void *)text, strlen(text), 0, 1, &err);
        if (!rc) rc = ov_zipw_add(z, "a/big-stored.bin", payload, big, 0, 0, &err);
        if (!rc) {
            /* variant 1: the file changed after its CRC was taken; 2: it is shorter */
            uint32_t c = variant == 1 || variant == 5 ? crc ^ 1 : crc;
            size_t n = variant == 2 ? big + 1 : big;
            rc = ov_zipw_add_file(z, "a/big-file.bin", file, 16, n, c, &err);
        }
        if (!rc) rc = ov_zipw_finish(z, &err);
        else ov_zipw_discard(z);
        if (fd >= 0) close(fd);
        if (variant == 4) {
            size_t n;
            char *d = read_file(zfile, &n);
            CHECKF(rc == OCTAVO_OK && d && same(d, n, first.data, first.len), "%d %s", rc, err.message);
            free(d);
        } else if (variant == 0) {
            ov_buf_put(&first, out.data, out.len);
            CHECKF(rc == OCTAVO_OK, "%d %s", rc, err.message);
            CHECK(out.len > 38 && !memcmp(out.data + 30, "mimetypeapplication/epub+zip", 28));
            zip_source_t *src;
            zip_t *za = zopen(out.data, out.len, &src);
            CHECK(za != NULL);
            if (za) {
                CHECK_INT(zip_get_num_entries(za, 0), 4);
                size_t n;
                char *t = zentry(za, "a/text.xhtml", &n);
                CHECK(t && n == strlen(text) && !memcmp(t, text, n));
                free(t);
                for (int k = 0; k < 2; k++) {
                    char *b = zentry(za, k ? "a/big-file.bin" : "a/big-stored.bin", &n);
                    CHECK(b && n == big && !memcmp(b, payload, big));
                    free(b);
                }
                zip_stat_t st;
                CHECK(zip_stat(za, "a/text.xhtml", 0, &st) == 0 && st.comp_method == ZIP_CM_DEFLATE);
                CHECK(zip_stat(za, "a/big-file.bin", 0, &st) == 0 && st.comp_method == ZIP_CM_STORE && st.crc == crc);
                /* 2023-11-14T22:13:20Z in every time zone */
                struct tm tm;
                CHECK(zip_stat(za, "mimetype", 0, &st) == 0 && localtime_r(&st.mtime, &tm) && tm.tm_year == 123 &&
                      tm.tm_mon == 10 && tm.tm_mday == 14 && tm.tm_hour == 22 && tm.tm_min == 13 && tm.tm_sec == 20);
                zip_discard(za);
            }
        } else if (variant == 3) {
            CHECK_INT(rc, OCTAVO_E_WRITE);
        } else {
            CHECKF(rc == OCTAVO_E_ZIP && strstr(err.message, "a/big-file.bin"), "%d %s", rc, err.message);
        }
        ov_buf_free(&out);
    }
    ov_buf_free(&first);
    free(payload);
}

/* ---- books */
static const char DOC_A[] = "---\ntitle: Alpha\ndate: 2020-01-01\n---\n\nText ![one](/img/one.webp) and ![two](../img/two.webp).\n\n"
                            "## Part\n\n![three](/img/three.png)\n";
static const char DOC_B[] = "---\ntitle: Beta\ndate: 2020-02-01\n---\n\nAgain ![one](/img/one.webp), a [link](alpha.md).\n";

static unsigned nwarn;
static void diag(void *ud, const octavo_diag *d) {
    (void)ud;
    (void)d;
    nwarn++;
}

static octavo *handle(const char *cache) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.resource_root = root;
    o.diag = diag;
    o.flags = OCTAVO_TRUSTED | (cache ? 0 : OCTAVO_NO_CACHE);
    o.cache_dir = cache;
    octavo_error err;
    octavo *ov = octavo_new(&o, &err);
    if (!ov) fprintf(stderr, "octavo_new: %s\n", err.message);
    return ov;
}

/* The book rendered into a buffer: a copy of its bytes (free), NULL on failure (err says why). */
static char *render_copy(octavo_book *b, size_t *len, octavo_error *err) {
    char *out = NULL, *res = NULL;
    if (!octavo_book_render_buffer(b, OCTAVO_FORMAT_EPUB, &out, len, err) && (res = malloc(*len ? *len : 1)))
        memcpy(res, out, *len);
    octavo_buffer_free(out);
    return res;
}

/* The book of the two documents: into a buffer (file NULL) or a file; bytes returned (free). */
static char *book(const char *cache, const char *file, size_t *len) {
    octavo *ov = handle(cache);
    octavo_book *b = octavo_book_new(ov);
    octavo_error err;
    memset(&err, 0, sizeof err);
    const char *docs[] = {"pages/alpha.md", "pages/beta.md"};
    for (int i = 0; i < 2; i++) {
        char p[1024];
        path_of(p, sizeof p, docs[i]);
        octavo_doc *d = NULL;
        if (octavo_doc_load_file(ov, p, &d, &err)) fprintf(stderr, "load %s: %s\n", p, err.message);
        octavo_book_add(b, d, &err);
    }
    octavo_book_set(b, "title", "Speed");
    char *res = NULL;
    if (file) {
        if (!octavo_book_render_file(b, OCTAVO_FORMAT_EPUB, file, &err)) res = read_file(file, len);
    } else {
        res = render_copy(b, len, &err);
    }
    if (!res) fprintf(stderr, "book: %s\n", err.message);
    octavo_book_free(b);
    octavo_free(ov);
    return res;
}


/* The cache entries whose names start with prefix ("src-": the source index, "ch-": chapters). */
static int count_prefix(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += !strncmp(e->d_name, prefix, strlen(prefix));
    if (d) closedir(d);
    return n;
}

/* Every entry whose name starts with prefix damaged: cut to half its length (odd) or its last
 * byte changed (even). */
static void damage_entries(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    int k = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix))) continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        CHECK(stat(p, &st) == 0);
        if (k++ % 2) {
            CHECK(truncate(p, st.st_size / 2) == 0);
        } else {
            FILE *f = fopen(p, "r+b");
            fseek(f, -1, SEEK_END);
            int c = fgetc(f);
            fseek(f, -1, SEEK_END);
            fputc(c ^ 1, f);
            fclose(f);
        }
    }
    if (d) closedir(d);
}

TEST(test_books) {
    ov_test_src_index_margin(0); /* the files were just written */
    char cache[1100], file[1100];
    snprintf(cache, sizeof cache, "%s/cache", root);
    snprintf(file, sizeof file, "%s/out/book.epub", root);
    char outdir[1100];
    snprintf(outdir, sizeof outdir, "%s/out", root);
    mkdir(outdir, 0755);
    size_t l0, l1, l2, l3;
    char *b0 = book(NULL, NULL, &l0);
    CHECK(b0 != NULL);
    char *b1 = book(NULL, file, &l1);
    CHECK(same(b0, l0, b1, l1)); /* a file sink and a callback sink: the same bytes */
    free(b1);
    b1 = book(cache, file, &l1); /* cold */
    CHECK(same(b0, l0, b1, l1));
    free(b1);
    CHECK_INT(count_prefix(cache, "src-"), 2); /* the two WebP files, not the PNG */
    b1 = book(cache, NULL, &l1); /* warm, through the index */
    CHECK(same(b0, l0, b1, l1));
    free(b1);

    /* into a file, written at offsets: the output limit still holds, and nothing is left */
    {
        octavo_options o;
        octavo_options_init(&o, sizeof o);
        o.resource_root = root;
        o.diag = diag;
        o.flags = OCTAVO_TRUSTED | OCTAVO_NO_CACHE;
        o.limits.output_bytes = l0 / 2;
        octavo_error err;
        octavo *lov = octavo_new(&o, &err);
        octavo_book *b = octavo_book_new(lov);
        char p[1024];
        path_of(p, sizeof p, "pages/alpha.md");
        octavo_doc *d = NULL;
        octavo_doc_load_file(lov, p, &d, &err);
        octavo_book_add(b, d, &err);
        char lim[1100];
        snprintf(lim, sizeof lim, "%s/out/limited.epub", root);
        CHECK_INT(octavo_book_render_file(b, OCTAVO_FORMAT_EPUB, lim, &err), OCTAVO_E_LIMIT);
        struct stat ls;
        CHECK(stat(lim, &ls) != 0);
        DIR *od = opendir(outdir);
        int others = 0;
        for (struct dirent *de; od && (de = readdir(od));) others += strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "book.epub");
        if (od) closedir(od);
        CHECK_INT(others, 0);
        octavo_book_free(b);
        octavo_free(lov);
    }

    /* the index is what a warm build trusts: an entry's hash is the file's */
    char img[1024];
    path_of(img, sizeof img, "img/one.webp");
    struct stat st;
    CHECK(stat(img, &st) == 0);
    octavo *ov = handle(cache);
    unsigned char sha[32], want[32];
    unsigned fl = 0;
    size_t n;
    char *bytes = read_file(img, &n);
    ov_sha256(bytes, n, want);
    free(bytes);
    CHECK(ov_cache_src_get(ov, img, &st, sha, &fl, NULL, 0) == 1 && !memcmp(sha, want, 32) && (fl & 1));
    /* another path, or any stat field changed: a miss */
    char other[1024];
    path_of(other, sizeof other, "img/two.webp");
    CHECK(ov_cache_src_get(ov, other, &st, sha, &fl, NULL, 0) == 0);
    struct stat st2 = st;
    st2.st_mtim.tv_nsec ^= 1;
    CHECK(ov_cache_src_get(ov, img, &st2, sha, &fl, NULL, 0) == 0);
    st2 = st;
    st2.st_ctim.tv_nsec ^= 1;
    CHECK(ov_cache_src_get(ov, img, &st2, sha, &fl, NULL, 0) == 0);
    st2 = st;
    st2.st_ino++;
    CHECK(ov_cache_src_get(ov, img, &st2, sha, &fl, NULL, 0) == 0);
    st2 = st;
    st2.st_size++;
    CHECK(ov_cache_src_get(ov, img, &st2, sha, &fl, NULL, 0) == 0);
    /* nothing recorded for a file changed within the margin of its reading */
    ov_test_src_index_margin(1000000000L);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    st2 = st;
    st2.st_ctim = now;
    ov_cache_src_put(ov, other, &st2, &now, want, 1, NULL);
    CHECK(ov_cache_src_get(ov, other, &st2, sha, &fl, NULL, 0) == 0);
    /* the margin of the file's own file system: over 10 ms on any, under 4 s on any */
    ov_test_src_index_margin(-1);
    struct timespec at = now;
    st2.st_mtim = now;
    at.tv_nsec += 10000000L;
    if (at.tv_nsec >= 1000000000L) at.tv_sec++, at.tv_nsec -= 1000000000L;
    ov_cache_src_put(ov, other, &st2, &at, want, 1, NULL);
    CHECK(ov_cache_src_get(ov, other, &st2, sha, &fl, NULL, 0) == 0);
    at.tv_sec += 4;
    ov_cache_src_put(ov, other, &st2, &at, want, 1, NULL);
    CHECK(ov_cache_src_get(ov, other, &st2, sha, &fl, NULL, 0) == 1);
    ov_test_src_index_margin(0);
    octavo_free(ov);

    /* the source changes: same size, its old modification time put back; the ctime tells, the
     * bytes are hashed again, and the book has the new image, as a build without cache */
    struct timespec old[2] = {st.st_atim, st.st_mtim};
    struct stat st3;
    for (int seed = 2; seed < 2000; seed++) { /* other pixels, the same size */
        make_webp("img/one.webp", 40, 30, seed, 1);
        if (stat(img, &st3) == 0 && st3.st_size == st.st_size) break;
    }
    CHECK(utimensat(AT_FDCWD, img, old, 0) == 0);
    CHECK(stat(img, &st3) == 0 && st3.st_ino == st.st_ino && st3.st_size == st.st_size &&
          st3.st_mtim.tv_sec == st.st_mtim.tv_sec && st3.st_mtim.tv_nsec == st.st_mtim.tv_nsec);
    char *b2 = book(NULL, NULL, &l2);
    char *b3 = book(cache, NULL, &l3);
    CHECK(b2 && !same(b0, l0, b2, l2));
    CHECK(same(b2, l2, b3, l3));
    free(b3);
    b3 = book(cache, NULL, &l3); /* and warm again, through the new entry */
    CHECK(same(b2, l2, b3, l3));
    free(b3);

    /* damaged entries are ignored (the bytes are hashed) and replaced */
    damage_entries(cache, "src-");
    b3 = book(cache, NULL, &l3);
    CHECK(same(b2, l2, b3, l3));
    free(b3);
    b3 = book(cache, NULL, &l3);
    CHECK(same(b2, l2, b3, l3));
    free(b3);

    /* a warm build that checked the conversions whole records them: the next one reads only
     * their heads while their stat is the same, and the same book comes out */
    b3 = book(cache, NULL, &l3);
    CHECK(same(b2, l2, b3, l3));
    free(b3);
    {
        DIR *dd = opendir(cache);
        int trusted = 0;
        for (struct dirent *de; dd && (de = readdir(dd));) {
            if (strncmp(de->d_name, "src-", 4)) continue;
            char p[2048];
            snprintf(p, sizeof p, "%s/%s", cache, de->d_name);
            size_t tn;
            char *t = read_file(p, &tn);
            trusted += t && tn && memmem(t, tn, "\nOVE1 ", 6) != NULL;
            free(t);
        }
        if (dd) closedir(dd);
        CHECK_INT(trusted, 2);
    }
    b3 = book(cache, NULL, &l3);
    CHECK(same(b2, l2, b3, l3));
    free(b3);
    /* a trusted entry changed in place, its size and mtime as they were: the ctime tells, it is
     * checked whole, found damaged, converted again; the same book */
    DIR *d = opendir(cache);
    int flipped = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.' || !strncmp(e->d_name, "src-", 4)) continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", cache, e->d_name);
        struct stat es;
        CHECK(stat(p, &es) == 0);
        FILE *f = fopen(p, "r+b");
        fseek(f, 40, SEEK_SET);
        int c = fgetc(f);
        fseek(f, 40, SEEK_SET);
        fputc(c ^ 0x20, f);
        fclose(f);
        struct timespec keep[2] = {es.st_atim, es.st_mtim};
        CHECK(utimensat(AT_FDCWD, p, keep, 0) == 0);
        flipped++;
    }
    if (d) closedir(d);
    CHECK(flipped >= 2);
    b3 = book(cache, NULL, &l3);
    CHECK(same(b2, l2, b3, l3));
    free(b3);

    /* a cache entry damaged after the index found it: converted again, the same book */
    d = opendir(cache);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.' || !strncmp(e->d_name, "src-", 4)) continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", cache, e->d_name);
        CHECK(truncate(p, 30) == 0);
    }
    if (d) closedir(d);
    b3 = book(cache, NULL, &l3);
    CHECK(same(b2, l2, b3, l3));
    free(b3);
    free(b2);
    free(b0);
}

/* A book of many chapters built on one thread and on several: the same bytes, the same
 * warnings in the same order; a failing model is reported for the first chapter that fails. */
static char wlog[8192];
static void diag_log(void *ud, const octavo_diag *d) {
    (void)ud;
    size_t l = strlen(wlog);
    snprintf(wlog + l, sizeof wlog - l, "%s:%u: %s\n", d->file, d->line, d->message);
}

/* Options for the books below: the test's resource root, warnings into wlog (emptied), through
 * the chapter cache when cache is set. */
static void cache_options(octavo_options *o, const char *cache) {
    wlog[0] = 0;
    octavo_options_init(o, sizeof *o);
    o->resource_root = root;
    o->diag = diag_log;
    o->flags = cache ? 0 : OCTAVO_NO_CACHE;
    o->cache_dir = cache;
}

/* The book of nine chapters that link to each other's headings, miss an image, link outside the
 * book (warnings of both walks), and nest raw <div>s deep in chapters 3 and 7; its bytes (free,
 * NULL with *code on failure, msg "file:line: message" when given) and the warnings in wlog.
 * Through the chapter cache when cache is set; nesting: the limit (0: the default); chapter
 * `heading` gets another heading (its anchor changes), chapter `text_of` other text (-1: none). */
static char *many_book(int threads, const char *cache, size_t nesting, int heading, int text_of, size_t *len, int *code,
                       char *msg, size_t msg_size) {
    ov_test_epub_threads(threads);
    octavo_options o;
    cache_options(&o, cache);
    if (nesting) o.limits.nesting = nesting;
    octavo_error err;
    memset(&err, 0, sizeof err);
    octavo *ov = octavo_new(&o, &err);
    octavo_book *b = octavo_book_new(ov);
    for (int i = 0; i < 9; i++) {
        char name[64], text[2048], deep[1200] = "";
        for (int k = 0; i % 4 == 3 && k < 70; k++) strcat(deep, "<div>");
        snprintf(name, sizeof name, "%s/pages/many-%d.md", root, i);
        snprintf(text, sizeof text,
                 "---\ntitle: Chapter %d\ndate: 2021-01-%02d\n---\n\n## %s %d\n\nSee [%d](many-%d.md#head-%d), "
                 "![missing %d](/img/none-%d.png), ![one](/img/one.webp)%s.\n\n[gone](/gone-%d)\n\n%s\n"
                 "<div onclick=\"x()\">raw %d</div>\n",
                 i, i + 1, i == heading ? "Other" : "Head", i, i, (i + 1) % 9, (i + 1) % 9, i, i,
                 i == text_of ? " and more" : "", i, deep, i);
        octavo_doc *d = NULL;
        if (octavo_doc_load(ov, name, text, strlen(text), &d, &err)) fprintf(stderr, "load: %s\n", err.message);
        octavo_book_add(b, d, &err);
    }
    octavo_book_set(b, "title", "Many");
    char *res = render_copy(b, len, &err);
    *code = res ? OCTAVO_OK : err.code;
    if (msg) snprintf(msg, msg_size, "%s:%u: %s", err.file, err.line, *code ? err.message : "");
    octavo_book_free(b);
    octavo_free(ov);
    ov_test_epub_threads(0);
    return res;
}

/* Two chapter entries exchange names. */
static void swap_two_chapter_entries(const char *dir) {
    DIR *d = opendir(dir);
    char a[2048] = "", b[2048] = "", t[2100];
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, "ch-", 3)) continue;
        snprintf(a[0] ? b : a, sizeof a, "%s/%s", dir, e->d_name);
        if (b[0]) break;
    }
    if (d) closedir(d);
    snprintf(t, sizeof t, "%s.swap", a);
    CHECK(a[0] && b[0] && rename(a, t) == 0 && rename(b, a) == 0 && rename(t, b) == 0);
}

/* The chapter cache: a rebuild reuses the chapters that did not change and gives the bytes and
 * the warnings of a build without the cache, whatever changed in between. */
TEST(test_chapter_cache) {
    char cache[1100];
    snprintf(cache, sizeof cache, "%s/chcache", root);
    for (int threads = 1; threads <= 2; threads++) {
        t_rm_rf(cache);
        size_t lu, lc, lw;
        int cu, cc, cw;
        char wu[8192];
        char *u = many_book(threads, NULL, 0, -1, -1, &lu, &cu, NULL, 0);
        snprintf(wu, sizeof wu, "%s", wlog);
        CHECK(strstr(wu, "none-4.png") && strstr(wu, "/gone-4")); /* warnings of both walks' kinds */
        (void)ov_test_epub_reused();
        char *c = many_book(threads, cache, 0, -1, -1, &lc, &cc, NULL, 0); /* cold: fills the cache */
        CHECK(cu == 0 && cc == 0 && same(u, lu, c, lc));
        CHECK_STR(wlog, wu);
        CHECK_INT(ov_test_epub_reused(), 0);
        CHECK_INT(count_prefix(cache, "ch-"), 9);
        char *w = many_book(threads, cache, 0, -1, -1, &lw, &cw, NULL, 0); /* warm: every chapter reused */
        CHECK(cw == 0 && same(u, lu, w, lw));
        CHECK_STR(wlog, wu); /* the warnings given again, in the same order */
        CHECK_INT(ov_test_epub_reused(), 9);
        free(c);
        free(w);
        free(u);

        /* chapter 4's heading changes, and with it its anchor (chapter 3 links to it, and now
         * warns): what chapters read of each other changed, so each is written again from its
         * model, its first walk taken from the cache */
        u = many_book(threads, NULL, 0, 4, -1, &lu, &cu, NULL, 0);
        snprintf(wu, sizeof wu, "%s", wlog);
        CHECK(strstr(wu, "many-4.md#head-4"));
        (void)ov_test_epub_reused();
        w = many_book(threads, cache, 0, 4, -1, &lw, &cw, NULL, 0);
        CHECK(cw == 0 && same(u, lu, w, lw));
        CHECK_STR(wlog, wu);
        CHECK_INT(ov_test_epub_reused(), 0);
        free(u);
        free(w);

        /* chapter 6's text changes (not its anchors): only chapter 6 is written again */
        w = many_book(threads, cache, 0, 4, -1, &lw, &cw, NULL, 0); /* first, the entries of the edit above */
        CHECK_INT(ov_test_epub_reused(), 9);
        free(w);
        u = many_book(threads, NULL, 0, 4, 6, &lu, &cu, NULL, 0);
        snprintf(wu, sizeof wu, "%s", wlog);
        w = many_book(threads, cache, 0, 4, 6, &lw, &cw, NULL, 0);
        CHECK(cw == 0 && same(u, lu, w, lw));
        CHECK_STR(wlog, wu);
        CHECK_INT(ov_test_epub_reused(), 8);
        free(w);

        /* damaged entries are misses: the book is built from the documents, the same bytes */
        damage_entries(cache, "ch-");
        w = many_book(threads, cache, 0, 4, 6, &lw, &cw, NULL, 0);
        CHECK(cw == 0 && same(u, lu, w, lw));
        CHECK_STR(wlog, wu);
        CHECK_INT(ov_test_epub_reused(), 0);
        free(w);
        w = many_book(threads, cache, 0, 4, 6, &lw, &cw, NULL, 0); /* and rewritten */
        CHECK(cw == 0 && same(u, lu, w, lw));
        CHECK_INT(ov_test_epub_reused(), 9);
        free(w);
        /* two sound entries under each other's names: both are misses, not the wrong chapters */
        t_rm_rf(cache);
        free(many_book(threads, cache, 0, 4, 6, &lw, &cw, NULL, 0)); /* a cache of this book's 9 entries only */
        (void)ov_test_epub_reused();
        swap_two_chapter_entries(cache);
        w = many_book(threads, cache, 0, 4, 6, &lw, &cw, NULL, 0);
        CHECK(cw == 0 && same(u, lu, w, lw));
        CHECK_STR(wlog, wu);
        CHECK_INT(ov_test_epub_reused(), 7);
        free(w);
        free(u);
    }
    t_rm_rf(cache);
}

/* One document through the chapter cache (cache NULL: without it), with a default author (NULL:
 * none); its bytes (free) and the warnings in wlog. */
static char *one_chapter(const char *cache, const char *author, const char *text, size_t *len) {
    octavo_options o;
    cache_options(&o, cache);
    o.default_author = author;
    octavo_error err;
    memset(&err, 0, sizeof err);
    octavo *ov = octavo_new(&o, &err);
    octavo_book *b = octavo_book_new(ov);
    char name[1100];
    path_of(name, sizeof name, "pages/one.md");
    octavo_doc *d = NULL;
    if (octavo_doc_load(ov, name, text, strlen(text), &d, &err)) fprintf(stderr, "load: %s\n", err.message);
    octavo_book_add(b, d, &err);
    char *res = render_copy(b, len, &err);
    if (!res) fprintf(stderr, "one_chapter: %s\n", err.message);
    octavo_book_free(b);
    octavo_free(ov);
    return res;
}

/* What a chapter's XHTML depends on beyond its key and the book's list of images: which image
 * each <img> is (the same target, a symbolic link retargeted between builds, names another of
 * the book's images), and an option that is NULL in one build and "\xff" in the next. */
TEST(test_chapter_cache_keys) {
    char cache[1100], ln[1100];
    snprintf(cache, sizeof cache, "%s/chkeys", root);
    path_of(ln, sizeof ln, "img/ln.png");
    t_rm_rf(cache);
    const char *text = "---\ntitle: One\n---\n\n![a](/img/three.png) ![b](/img/one.webp) ![c](/img/ln.png)\n";
    for (int round = 0; round < 2; round++) {
        unlink(ln);
        CHECK(symlink(round ? "one.webp" : "three.png", ln) == 0);
        size_t lu, lw;
        char *u = one_chapter(NULL, NULL, text, &lu);
        char wu[8192];
        snprintf(wu, sizeof wu, "%s", wlog);
        char *w = one_chapter(cache, NULL, text, &lw); /* cold, then warm after the link changed */
        CHECK(u && w && same(u, lu, w, lw));
        CHECK_STR(wlog, wu);
        free(u);
        free(w);
    }
    unlink(ln);
    t_rm_rf(cache);
    const char *plain = "---\ntitle: Two\n---\n\nText.\n";
    for (int round = 0; round < 2; round++) {
        const char *author = round ? "\xff" : NULL;
        size_t lu, lw;
        char *u = one_chapter(NULL, author, plain, &lu);
        char *w = one_chapter(cache, author, plain, &lw);
        CHECK(u && w && same(u, lu, w, lw));
        free(u);
        free(w);
    }
    t_rm_rf(cache);
}

TEST(test_threads) {
    size_t l1, l4;
    int c1, c4;
    char m1[2048], m4[2048], w1[8192];
    char *b1 = many_book(1, NULL, 0, -1, -1, &l1, &c1, m1, sizeof m1);
    snprintf(w1, sizeof w1, "%s", wlog);
    for (int threads = 2; threads <= 4; threads += 2) {
        char *b4 = many_book(threads, NULL, 0, -1, -1, &l4, &c4, m4, sizeof m4);
        CHECK(c1 == 0 && c4 == 0 && same(b1, l1, b4, l4));
        CHECK_STR(wlog, w1);
        free(b4);
    }
    CHECK(strstr(w1, "none-0.png") && strstr(w1, "none-8.png") && strstr(w1, "none-0.png") < strstr(w1, "none-8.png"));
    free(b1);
    /* chapters 3 and 7 nest deeper than the limit: chapter 3 is the one named, however built */
    b1 = many_book(1, NULL, 10, -1, -1, &l1, &c1, m1, sizeof m1);
    char *b4 = many_book(4, NULL, 10, -1, -1, &l4, &c4, m4, sizeof m4);
    CHECK(!b1 && !b4 && c1 == OCTAVO_E_LIMIT && c4 == OCTAVO_E_LIMIT);
    CHECKF(strstr(m1, "many-3.md") && !strcmp(m1, m4), "%s | %s", m1, m4);
    free(b1);
    free(b4);
}

int main(void) {
    if (!mkdtemp(root)) { perror("mkdtemp"); return 2; }
    make_webp("img/one.webp", 40, 30, 1, 1);
    make_webp("img/two.webp", 64, 48, 2, 0);
    /* a PNG passes through: made by hand, the smallest there is (1x1 gray) */
    static const unsigned char png[] = {0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49,
                                        0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
                                        0x00, 0x00, 0x00, 0x3a, 0x7e, 0x9b, 0x55, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44,
                                        0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x48,
                                        0xaf, 0xa4, 0x71, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42,
                                        0x60, 0x82};
    write_file("img/three.png", png, sizeof png);
    write_text("pages/alpha.md", DOC_A);
    write_text("pages/beta.md", DOC_B);
    RUN(test_zip_writer);
    RUN(test_books);
    RUN(test_threads);
    RUN(test_chapter_cache);
    RUN(test_chapter_cache_keys);
    t_rm_rf(root);
    return t_done();
}
