/* Shared by the hostile-input tests (test_hostile*.c, test_allocfail.c): a scratch folder with a
 * resource root, images made here (good, truncated, corrupt, huge), a secret outside the root,
 * renders into memory and readers of what came out (libxml2, libzip, pdftotext, pdfinfo, qpdf). */
#ifndef OCTAVO_HOSTILE_UTIL_H
#define OCTAVO_HOSTILE_UTIL_H
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <webp/encode.h>
#include <zip.h>
#include <zlib.h>

#include "harness.h"
#include "image.h"
#include "internal.h"
#include "octavo.h"

#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function" /* each test uses a part */
#endif

/* a marker that only the secret files outside the root hold */
#define SECRET "OCTAVO-SECRET-8c1f0e77d2"
/* the secret image's size: its /Width in a PDF would betray it */
#define SECRET_W 37
#define SECRET_H 23

static char T[] = "/tmp/octavo-hostile-XXXXXX";
static char ROOT[512];

typedef struct { char *p; size_t n; } blob;

static void h_write(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    if (len) fwrite(data, 1, len, f);
    fclose(f);
}

static void h_seed(const char *target, const void *data, size_t len, int doc);
/* Writes T/rel; images of the root also become image seeds and, with OCTAVO_SEED_DIR set, land in
 * the fuzzers' resource root (OCTAVO_SEED_DIR/../root/img) under the same names. */
static void h_writef(const char *rel, const void *data, size_t len) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", T, rel);
    h_write(p, data, len);
    const char *dir = getenv("OCTAVO_SEED_DIR");
    if (dir && !strncmp(rel, "root/img/", 9) && strcmp(rel, "root/img/inside.png")) {
        h_seed("image", data, len, 1);
        snprintf(p, sizeof p, "%s/../root", dir);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/../root/img", dir);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/../root/%s", dir, rel + 5);
        h_write(p, data, len);
    }
}

static blob h_read(const char *path) {
    blob b = {0, 0};
    FILE *f = fopen(path, "rb");
    if (!f) return b;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc((size_t)n + 1);
    b.n = fread(b.p, 1, (size_t)n, f);
    b.p[b.n] = 0;
    fclose(f);
    return b;
}


static int h_has(const void *hay, size_t n, const char *needle) {
    size_t k = strlen(needle);
    const char *h = hay;
    if (!h || !k || n < k) return 0;
    for (const char *p = h; (p = memchr(p, needle[0], n - k + 1 - (size_t)(p - h))); p++)
        if (!memcmp(p, needle, k)) return 1;
    return 0;
}

/* Time budgets are in CPU time of this thread (other jobs on the machine do not count), and the
 * sanitizer build gets four times as much. */
#if defined(__SANITIZE_ADDRESS__)
#define H_SLOW 4
#else
#define H_SLOW 1
#endif
#define H_CLOCK CLOCK_THREAD_CPUTIME_ID
static double h_ms(const struct timespec *a) {
    struct timespec b;
    clock_gettime(H_CLOCK, &b);
    return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

/* ---- images */
static blob png_rgb(unsigned w, unsigned h) {
    ov_pixels px = {w, h, 3, malloc((size_t)w * h * 3)};
    for (size_t i = 0; i < (size_t)w * h * 3; i++) px.data[i] = (unsigned char)(i * 7);
    blob b = {0, 0};
    unsigned char *o = NULL;
    if (ov_image_encode_png(&px, &o, &b.n) == OCTAVO_OK) { b.p = malloc(b.n); memcpy(b.p, o, b.n); ov_free(o); }
    free(px.data);
    return b;
}

static blob jpeg_rgb(unsigned w, unsigned h) {
    ov_pixels px = {w, h, 3, malloc((size_t)w * h * 3)};
    for (size_t i = 0; i < (size_t)w * h * 3; i++) px.data[i] = (unsigned char)(i * 13);
    blob b = {0, 0};
    unsigned char *o = NULL;
    if (ov_image_encode_jpeg(&px, 80, &o, &b.n) == OCTAVO_OK) { b.p = malloc(b.n); memcpy(b.p, o, b.n); ov_free(o); }
    free(px.data);
    return b;
}

static blob webp_rgb(unsigned w, unsigned h) {
    uint8_t *rgb = malloc((size_t)w * h * 3), *o = NULL;
    for (size_t i = 0; i < (size_t)w * h * 3; i++) rgb[i] = (uint8_t)(i * 5);
    blob b = {0, 0};
    b.n = WebPEncodeRGB(rgb, (int)w, (int)h, (int)w * 3, 80, &o);
    if (b.n) { b.p = malloc(b.n); memcpy(b.p, o, b.n); }
    WebPFree(o);
    free(rgb);
    return b;
}

static void put32(unsigned char *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = (unsigned char)v; }

/* A PNG chunk (length, type, data, CRC) appended to b. */
static void png_chunk(blob *b, const char *type, const void *data, uint32_t len) {
    b->p = realloc(b->p, b->n + 12 + len);
    unsigned char *q = (unsigned char *)b->p + b->n;
    put32(q, len);
    memcpy(q + 4, type, 4);
    if (len) memcpy(q + 8, data, len);
    put32(q + 8 + len, (uint32_t)crc32(0, q + 4, 4 + len));
    b->n += 12 + len;
}

/* The secret image: a valid PNG of SECRET_W x SECRET_H with the marker in a tEXt chunk. */
static blob secret_png(void) {
    blob src = png_rgb(SECRET_W, SECRET_H), b = {malloc(33), 33};
    memcpy(b.p, src.p, 33); /* signature + IHDR */
    char text[64];
    int tn = snprintf(text, sizeof text, "Comment%c%s", 0, SECRET);
    png_chunk(&b, "tEXt", text, (uint32_t)tn);
    b.p = realloc(b.p, b.n + src.n - 33);
    memcpy(b.p + b.n, src.p + 33, src.n - 33);
    b.n += src.n - 33;
    free(src.p);
    return b;
}

/* A PNG whose header declares w x h and whose data is one tiny IDAT. */
static blob png_header_only(uint32_t w, uint32_t h) {
    blob b = {malloc(8), 8};
    memcpy(b.p, "\x89PNG\r\n\x1a\n", 8);
    unsigned char ihdr[13] = {0};
    put32(ihdr, w);
    put32(ihdr + 4, h);
    ihdr[8] = 8;
    ihdr[9] = 2;
    png_chunk(&b, "IHDR", ihdr, 13);
    png_chunk(&b, "IDAT", "\x78\x9c\x03\x00\x00\x00\x00\x01", 8);
    png_chunk(&b, "IEND", NULL, 0);
    return b;
}

/* The scratch folder:
 *   T/secret.txt, T/secret.png       outside the root, holding SECRET
 *   T/root/                          the resource root
 *   T/root/img/ok.png ...            good, truncated and corrupt images; huge.png declares 50000^2
 *   T/root/img/inside.png            the secret image's bytes inside the root (a positive control)
 *   T/root/leak.png -> ../secret.png, T/root/leak.txt -> ../secret.txt, T/root/up -> T   symlinks */
static void h_setup(void) {
    if (!mkdtemp(T)) { perror("mkdtemp"); exit(2); }
    snprintf(ROOT, sizeof ROOT, "%s/root", T);
    char p[1024];
    mkdir(ROOT, 0755);
    snprintf(p, sizeof p, "%s/img", ROOT);
    mkdir(p, 0755);
    h_writef("secret.txt", SECRET "\n", strlen(SECRET) + 1);
    blob s = secret_png();
    h_writef("secret.png", s.p, s.n);
    h_writef("root/img/inside.png", s.p, s.n);
    free(s.p);
    blob png = png_rgb(16, 12), jpg = jpeg_rgb(24, 16), wp = webp_rgb(20, 10);
    h_writef("root/img/ok.png", png.p, png.n);
    h_writef("root/img/ok.jpg", jpg.p, jpg.n);
    h_writef("root/img/ok.webp", wp.p, wp.n);
    h_writef("root/img/trunc.png", png.p, 40);           /* the header, then nothing */
    h_writef("root/img/trunc.jpg", jpg.p, 120);          /* cut inside the tables */
    h_writef("root/img/trunc.webp", wp.p, 24);           /* cut inside the VP8 header */
    for (size_t i = 60; i < png.n - 12; i++) png.p[i] ^= 0x5A; /* IDAT garbled: CRC and zlib fail */
    h_writef("root/img/corrupt.png", png.p, png.n);
    for (size_t i = 2; i < jpg.n - 2; i++) jpg.p[i] = (char)(i * 31); /* markers gone */
    h_writef("root/img/corrupt.jpg", jpg.p, jpg.n);
    for (size_t i = 20; i < wp.n; i++) wp.p[i] = (char)(i * 17);     /* RIFF/WEBP kept, VP8 junk */
    h_writef("root/img/corrupt.webp", wp.p, wp.n);
    h_writef("root/img/empty.png", "", 0);
    h_writef("root/img/text.png", "not an image at all\n", 20);
    free(png.p);
    free(jpg.p);
    free(wp.p);
    blob huge = png_header_only(50000, 50000);
    h_writef("root/img/huge.png", huge.p, huge.n);
    free(huge.p);
    snprintf(p, sizeof p, "%s/leak.png", ROOT);
    if (symlink("../secret.png", p)) perror(p);
    snprintf(p, sizeof p, "%s/img/leak2.png", ROOT);
    if (symlink("../../secret.png", p)) perror(p);
    snprintf(p, sizeof p, "%s/leak.txt", ROOT);
    if (symlink("../secret.txt", p)) perror(p);
    snprintf(p, sizeof p, "%s/up", ROOT);
    if (symlink(T, p)) perror(p);
}

static void h_teardown(void) { t_rm_rf(T); }

/* ---- fuzz seeds: with OCTAVO_SEED_DIR set, the tests' own inputs are written there as seeds
 * (tests/fuzz/seeds/TARGET/), documents with an options byte first (0x20: the resource root on) */
static void h_seed(const char *target, const void *data, size_t len, int doc) {
    const char *dir = getenv("OCTAVO_SEED_DIR");
    if (!dir || len > 200000) return;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, target);
    mkdir(dir, 0755);
    mkdir(p, 0755);
    unsigned long h = 5381;
    for (size_t i = 0; i < len; i++) h = h * 33 + ((const unsigned char *)data)[i];
    snprintf(p, sizeof p, "%s/%s/%s-%08lx", dir, target, doc ? "doc" : "img", h & 0xFFFFFFFFul);
    FILE *f = fopen(p, "wb");
    if (!f) return;
    if (doc) fputc(0x20, f);
    fwrite(data, 1, len, f);
    fclose(f);
}
static void h_seed_doc(const char *src, size_t len) {
    static const char *const targets[] = {"load", "html", "epub", "pdf"};
    for (int i = 0; i < 4; i++) h_seed(targets[i], src, len, 1);
}

/* ---- diagnostics */
typedef struct { int code; unsigned line, col; char msg[256]; } h_diag;
static h_diag DIAGS[64];
static int NDIAG;
static void h_on_diag(void *ud, const octavo_diag *d) {
    (void)ud;
    if (NDIAG < 64) {
        DIAGS[NDIAG].code = d->code;
        DIAGS[NDIAG].line = d->line;
        DIAGS[NDIAG].col = d->column;
        snprintf(DIAGS[NDIAG].msg, sizeof DIAGS[NDIAG].msg, "%s", d->message);
    }
    NDIAG++;
}
/* Whether a warning with this code (0: any) was given. */
static int h_warned(int code) {
    for (int i = 0; i < NDIAG && i < 64; i++)
        if (!code || DIAGS[i].code == code) return 1;
    return 0;
}

static octavo *h_handle(unsigned flags, const octavo_limits *lim) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.flags = flags | OCTAVO_NO_CACHE;
    o.resource_root = ROOT;
    o.diag = h_on_diag;
    if (lim) o.limits = *lim;
    octavo_error e;
    octavo *ov = octavo_new(&o, &e);
    if (!ov) { fprintf(stderr, "octavo_new: %s\n", e.message); exit(2); }
    return ov;
}

/* ---- reading outputs */

/* Every entry of an EPUB in memory: calls fn(name, data, len, ud); returns the entry count or -1. */
static int epub_each(const blob *e, void (*fn)(const char *, const char *, size_t, void *), void *ud) {
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(e->p, e->n, 0, &ze);
    zip_t *z = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
    if (!z) { if (src) zip_source_free(src); zip_error_fini(&ze); return -1; }
    zip_int64_t n = zip_get_num_entries(z, 0);
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        if (zip_stat_index(z, (zip_uint64_t)i, 0, &st)) continue;
        zip_file_t *f = zip_fopen_index(z, (zip_uint64_t)i, 0);
        char *data = malloc(st.size + 1);
        zip_int64_t got = f ? zip_fread(f, data, st.size) : -1;
        if (f) zip_fclose(f);
        data[got > 0 ? got : 0] = 0;
        fn(st.name, data, got > 0 ? (size_t)got : 0, ud);
        free(data);
    }
    zip_close(z);
    zip_error_fini(&ze);
    return (int)n;
}

typedef struct { const char *needle; int found; } find_ud;
static void find_cb(const char *name, const char *data, size_t len, void *ud) {
    find_ud *f = ud;
    if (h_has(data, len, f->needle) || strstr(name, f->needle)) f->found = 1;
}
/* The needle in the EPUB's raw bytes or in any entry's name or inflated content. */
static int epub_has(const blob *e, const char *needle) {
    find_ud f = {needle, 0};
    if (h_has(e->p, e->n, needle)) return 1;
    if (epub_each(e, find_cb, &f) < 0) return -1;
    return f.found;
}

typedef struct { const char *want; blob got; } get_ud;
static void get_cb(const char *name, const char *data, size_t len, void *ud) {
    get_ud *g = ud;
    size_t wl = strlen(g->want), nl = strlen(name);
    if (g->got.p || nl < wl || strcmp(name + nl - wl, g->want)) return;
    g->got.p = malloc(len + 1);
    memcpy(g->got.p, data, len);
    g->got.p[len] = 0;
    g->got.n = len;
}
/* The first entry whose name ends in suffix (free .p). */
static blob epub_get(const blob *e, const char *suffix) {
    get_ud g = {suffix, {0, 0}};
    epub_each(e, get_cb, &g);
    return g.got;
}

static int h_have(const char *tool) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

/* Runs "tool ARGS FILE" on a PDF in memory and returns what it printed (free .p), or .p NULL. */
static blob pdf_tool(const blob *pdf, const char *tool_args) {
    blob out = {0, 0};
    char path[1024], cmd[1400];
    snprintf(path, sizeof path, "%s/tool.pdf", T);
    h_write(path, pdf->p, pdf->n);
    snprintf(cmd, sizeof cmd, "%s '%s' 2>/dev/null", tool_args, path);
    FILE *p = popen(cmd, "r");
    if (!p) return out;
    size_t cap = 4096;
    out.p = malloc(cap);
    size_t n;
    while ((n = fread(out.p + out.n, 1, cap - out.n - 1, p)) > 0) {
        out.n += n;
        if (cap - out.n < 2048) out.p = realloc(out.p, cap *= 2);
    }
    out.p[out.n] = 0;
    pclose(p);
    unlink(path);
    return out;
}

/* The text pdftotext finds, or .p NULL without pdftotext. */
static blob pdf_text(const blob *pdf) {
    static int have = -1;
    if (have < 0) have = h_have("pdftotext");
    blob none = {0, 0};
    if (!have) return none;
    return pdf_tool(pdf, "sh -c 'pdftotext -enc UTF-8 \"$0\" -'");
}

static int rendered(octavo_doc *d, int fmt, blob *out, octavo_error *e) {
    out->p = NULL;
    out->n = 0;
    return octavo_render_buffer(d, (octavo_format)fmt, &out->p, &out->n, e);
}

/* ---- the DOM of an HTML page or an XHTML part */
static xmlDocPtr html_parse(const blob *b) {
    return htmlReadMemory(b->p, (int)b->n, "page.html", "UTF-8",
                          HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
}
/* Strict XML: NULL when the bytes are not well-formed. */
static xmlDocPtr xml_parse(const char *p, size_t n) {
    return xmlReadMemory(p, (int)n, "part.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static xmlNodePtr find_elem(xmlNodePtr n, const char *name) {
    for (; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && !xmlStrcasecmp(n->name, (const xmlChar *)name)) return n;
        xmlNodePtr c = find_elem(n->children, name);
        if (c) return c;
    }
    return NULL;
}

/* The text of the first element called name, whitespace collapsed (free it), or NULL. */
static char *elem_text(xmlDocPtr d, const char *name) {
    xmlNodePtr n = d ? find_elem(xmlDocGetRootElement(d), name) : NULL;
    if (!n) return NULL;
    xmlChar *c = xmlNodeGetContent(n);
    char *s = strdup(c ? (const char *)c : "");
    xmlFree(c);
    char *w = s;
    int sp = 1;
    for (char *r = s; *r; r++) {
        if (*r == ' ' || *r == '\n' || *r == '\t' || *r == '\r') { if (!sp) *w++ = ' '; sp = 1; }
        else { *w++ = *r; sp = 0; }
    }
    if (w > s && w[-1] == ' ') w--;
    *w = 0;
    return s;
}

/* Anything that would run script: a script element, an on* attribute, a javascript:/vbscript:/
 * data:text/html URL (after dropping blanks and control characters, any case), a meta refresh, a
 * base, and (unless TRUSTED_CHECK) an iframe, object or embed. Returns a description of the first one found, or NULL. */
static int TRUSTED_CHECK; /* trusted output may keep iframes, objects and embeds (with clean URLs) */
static const char *script_in(xmlNodePtr n) {
    static char why[256];
    static const char *const bad_elems[] = {"script", "base", "frame", "frameset", "applet", "iframe", "object", "embed"};
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        for (size_t i = 0; i < (TRUSTED_CHECK ? 5 : sizeof bad_elems / sizeof *bad_elems); i++)
            if (!xmlStrcasecmp(n->name, (const xmlChar *)bad_elems[i])) {
                snprintf(why, sizeof why, "<%s> element", n->name);
                return why;
            }
        if (!xmlStrcasecmp(n->name, (const xmlChar *)"meta")) {
            xmlChar *he = xmlGetProp(n, (const xmlChar *)"http-equiv");
            int refresh = he && !xmlStrcasecmp(he, (const xmlChar *)"refresh");
            xmlFree(he);
            if (refresh) return "meta refresh";
        }
        for (xmlAttrPtr a = n->properties; a; a = a->next) {
            if ((a->name[0] | 0x20) == 'o' && (a->name[1] | 0x20) == 'n') {
                snprintf(why, sizeof why, "<%s %s>", n->name, a->name);
                return why;
            }
            xmlChar *v = xmlNodeGetContent((xmlNodePtr)a);
            char norm[64];
            size_t k = 0;
            for (const xmlChar *c = v; c && *c && k < sizeof norm - 1; c++)
                if (*c > ' ') norm[k++] = (char)(*c | ((*c >= 'A' && *c <= 'Z') ? 0x20 : 0));
            norm[k] = 0;
            int bad = !strncmp(norm, "javascript:", 11) || !strncmp(norm, "vbscript:", 9) ||
                      !strncmp(norm, "data:text/html", 14) ||
                      (!xmlStrcasecmp(a->name, (const xmlChar *)"style") && strstr(norm, "javascript"));
            if (bad) snprintf(why, sizeof why, "<%s %s=\"%s\">", n->name, a->name, v);
            xmlFree(v);
            if (bad) return why;
        }
        const char *c = script_in(n->children);
        if (c) return c;
    }
    return NULL;
}
#endif
