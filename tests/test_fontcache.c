/* The font-subset cache of the PDF backend (pdf.c embed_font) and the shaped-word cache of the
 * layout (font.c ov_shaper_cache): a warm run reuses what a cold run stored and gives the same
 * bytes; entries that are torn, altered or do not parse are ignored and replaced; another
 * character set is another entry; a failed allocation on the warm path is an OCTAVO_E_NOMEM or
 * costs nothing (LeakSanitizer checks the rest in make SAN=1 check). */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "harness.h"
#include "layout.h"
#include "testhooks.h"

static char dir[] = "/tmp/octavo-test-fontcache-XXXXXX";

static const char *DOC =
    "---\ntitle: Font cache\n---\n\n"
    "Plain serif text with *italic*, **bold** and `mono` words, caf\xC3\xA9 \xE2\x80\x9Cquoted\xE2\x80\x9D "
    "and a dash \xE2\x80\x94 long enough to wrap onto a second line of the page, so that the paragraph is "
    "justified and hyphenated: internationalization, representatives.\n\n"
    "## A heading in sans\n\nMore words.\n";
static const char *DOC2 = "---\ntitle: Other\n---\n\nOther characters: zygote, quixotic jumps.\n";

/* Renders md to a PDF in memory; flags 0 uses the cache folder cache (NULL: none). */
static char *render(const char *md, const char *cache, unsigned flags, size_t *len, int fail_at, int *rc_out) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.resource_root = dir;
    o.cache_dir = cache;
    o.flags = flags | (cache ? 0 : OCTAVO_NO_CACHE);
    octavo_error err;
    octavo *ov = octavo_new(&o, &err);
    if (!ov)
        return NULL;
    octavo_doc *doc = NULL;
    char *out = NULL;
    int rc = octavo_doc_load(ov, "doc.md", md, strlen(md), &doc, &err);
    if (rc == OCTAVO_OK) {
        if (fail_at >= 0)
            ov_test_alloc_fail_after(fail_at);
        rc = octavo_render_buffer(doc, OCTAVO_FORMAT_PDF, &out, len, &err);
        ov_test_alloc_fail_after(-1);
        if (rc && fail_at < 0)
            fprintf(stderr, "render: %s\n", err.message);
        if (rc && fail_at >= 0 && rc != OCTAVO_E_NOMEM)
            fprintf(stderr, "render under allocation failure: %d %s\n", rc, err.message);
    }
    if (rc_out)
        *rc_out = rc;
    octavo_doc_free(doc);
    octavo_free(ov);
    return out;
}

/* The entries of a cache folder named prefix... (up to 16 paths, sorted); returns the count. */
static int entries(const char *cache, const char *prefix, char paths[16][512]) {
    DIR *d = opendir(cache);
    int n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (!strncmp(e->d_name, prefix, strlen(prefix)) && n < 16)
            snprintf(paths[n++], 512, "%s/%s", cache, e->d_name);
    closedir(d);
    qsort(paths, (size_t)n, 512, (int (*)(const void *, const void *))strcmp);
    return n;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = b ? (size_t)n : 0;
    return b;
}

static void spit(const char *path, const unsigned char *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

/* Rewrites an entry file's cache header (length and CRC-32) for its payload: a valid entry. */
static void reseal(unsigned char *file, size_t n) {
    uint64_t len = n - 16;
    for (int i = 0; i < 8; i++)
        file[4 + i] = (unsigned char)(len >> (8 * i));
    uint32_t c = (uint32_t)crc32(crc32(0, Z_NULL, 0), file + 16, (uInt)len);
    for (int i = 0; i < 4; i++)
        file[12 + i] = (unsigned char)(c >> (8 * i));
}

static int same(const char *a, size_t na, const char *b, size_t nb) { return a && b && na == nb && !memcmp(a, b, na); }

static char *REF; /* the document rendered without a cache */
static size_t NREF;

TEST(test_cold_warm_identical) {
    char cache[600];
    snprintf(cache, sizeof cache, "%s/c1", dir);
    size_t n1 = 0, n2 = 0;
    char *cold = render(DOC, cache, 0, &n1, -1, NULL);
    char paths[16][512];
    int ne = entries(cache, "font-", paths);
    CHECKF(ne >= 3, "%d font entries after a cold run (serif, italic, bold, mono, sans are used)", ne);
    char *warm = render(DOC, cache, 0, &n2, -1, NULL);
    CHECKF(same(cold, n1, warm, n2), "cold and warm PDFs differ (%zu vs %zu bytes)", n1, n2);
    CHECKF(same(cold, n1, REF, NREF), "a cached run differs from an uncached one");
    CHECK_INT(entries(cache, "font-", paths), ne);
    /* another character set: other entries, the first ones kept */
    size_t n3 = 0;
    char *other = render(DOC2, cache, 0, &n3, -1, NULL);
    CHECK(other != NULL);
    CHECKF(entries(cache, "font-", paths) > ne, "a different text made no new entry");
    octavo_buffer_free(cold);
    octavo_buffer_free(warm);
    octavo_buffer_free(other);
}

/* A valid entry whose PostScript name was changed shows up in the warm PDF: the subset was reused. */
TEST(test_warm_reuses_entry) {
    char cache[600];
    snprintf(cache, sizeof cache, "%s/c2", dir);
    size_t n = 0;
    octavo_buffer_free(render(DOC, cache, 0, &n, -1, NULL));
    char paths[16][512];
    int ne = entries(cache, "font-", paths);
    CHECK(ne > 0);
    for (int i = 0; i < ne; i++) {
        size_t fl = 0;
        unsigned char *f = slurp(paths[i], &fl);
        CHECK(f && fl > 16 + 156 && !memcmp(f + 16, "OVF1", 4));
        if (!f || fl <= 16 + 156) {
            free(f);
            continue;
        }
        char name[64] = { 0 };
        snprintf(name, sizeof name, "CacheProbe%d", i);
        memset(f + 16 + 92, 0, 64);
        memcpy(f + 16 + 92, name, strlen(name));
        reseal(f, fl);
        spit(paths[i], f, fl);
        free(f);
    }
    char *warm = render(DOC, cache, 0, &n, -1, NULL);
    for (int i = 0; i < ne; i++) {
        char name[64];
        snprintf(name, sizeof name, "+CacheProbe%d", i);
        CHECKF(warm && memmem(warm, n, name, strlen(name)), "entry %d was not used", i);
    }
    octavo_buffer_free(warm);
}

/* Entries that are damaged (caught by the CRC) or sealed but not entries (caught by the parser)
 * are misses: the PDF is the uncached one's, and the entry is written anew. */
TEST(test_bad_entries_ignored) {
    char cache[600];
    snprintf(cache, sizeof cache, "%s/c3", dir);
    size_t n = 0;
    octavo_buffer_free(render(DOC, cache, 0, &n, -1, NULL));
    char paths[16][512];
    int ne = entries(cache, "font-", paths);
    CHECK(ne > 0);
    size_t gl = 0;
    unsigned char *good = ne ? slurp(paths[0], &gl) : NULL;
    CHECK(good != NULL);
    if (!good)
        return;
    for (int kind = 0; kind < 12; kind++) {
        unsigned char *f = malloc(gl + 64);
        memcpy(f, good, gl);
        size_t fl = gl;
        int sealed = 1;
        switch (kind) {
        case 0: f[gl / 2] ^= 0x40; sealed = 0; break;                   /* altered: bad CRC */
        case 1: fl = gl - 7; sealed = 0; break;                         /* torn */
        case 2: f[16] = 'X'; break;                                     /* not an entry */
        case 3: f[16 + 4] ^= 1; break;                                  /* another character count */
        case 4: fl = gl - 5; break;                                     /* streams shorter than said */
        case 5: memset(f + gl, 0, 9); fl = gl + 9; break;               /* longer */
        case 6: f[16 + 92 + 2] = '/'; break;                            /* a name a PDF name cannot hold */
        case 7: memset(f + 16 + 92, 'A', 64); break;                    /* a name without its end */
        case 8: memset(f + 16 + 20 + 8, 0xFF, 8); break;                /* a NaN ascent */
        case 9: memset(f + 16 + 156, 0xFF, 12); break;                  /* huge stream lengths */
        case 10: memset(f + 16 + 156, 0, 4); break;                     /* an empty font program */
        case 11: fl = 16 + 20; break;                                   /* only a header */
        }
        if (sealed)
            reseal(f, fl);
        spit(paths[0], f, fl);
        size_t wl = 0;
        char *warm = render(DOC, cache, 0, &wl, -1, NULL);
        CHECKF(same(warm, wl, REF, NREF), "damage %d: the PDF differs from the uncached one", kind);
        size_t al = 0;
        unsigned char *again = slurp(paths[0], &al);
        CHECKF(again && al == gl && !memcmp(again, good, gl), "damage %d: the entry was not replaced", kind);
        free(again);
        octavo_buffer_free(warm);
        free(f);
    }
    free(good);
}

/* Allocation failures on the warm path (and on a cold one, where the cache is written): an
 * OCTAVO_E_NOMEM or a complete, identical PDF. */
TEST(test_warm_allocfail) {
    char cache[600];
    snprintf(cache, sizeof cache, "%s/c4", dir);
    size_t n = 0;
    octavo_buffer_free(render(DOC, cache, 0, &n, -1, NULL));
    int done = 0, k_runs = 0;
    for (int k = 0; k < 100000 && !done; k += k < 300 ? 1 : 7) {
        int rc = 0;
        k_runs++;
        size_t wl = 0;
        char *warm = render(DOC, cache, 0, &wl, k, &rc);
        if (rc == OCTAVO_OK) {
            CHECKF(same(warm, wl, REF, NREF), "fail at %d: a different PDF", k);
            done = 1;
        } else if (rc != OCTAVO_E_NOMEM) {
            CHECKF(0, "fail at %d: code %d", k, rc);
            done = 1;
        }
        octavo_buffer_free(warm);
    }
    CHECK(done);
    printf("warm allocation failures: %d runs\n", k_runs);
}

/* The shaped words of a document (font.c ov_shaper_cache): stored by a cold run, read back by a
 * warm one (an entry whose advances were changed changes the warm PDF), ignored when damaged,
 * foreign (another fonts' identity) or not an entry, and then rewritten. */
TEST(test_shape_cache) {
    char cache[600];
    snprintf(cache, sizeof cache, "%s/c5", dir);
    size_t n = 0;
    octavo_buffer_free(render(DOC, cache, 0, &n, -1, NULL));
    char paths[16][512];
    CHECK_INT(entries(cache, "shape-", paths), 1);
    size_t gl = 0;
    unsigned char *good = slurp(paths[0], &gl);
    CHECK(good && gl > 16 + 40 && !memcmp(good + 16, "OVW1", 4));
    if (!good || gl <= 16 + 40)
        return;
    /* warm: the same bytes */
    char *warm = render(DOC, cache, 0, &n, -1, NULL);
    CHECKF(same(warm, n, REF, NREF), "a warm run with shaped words read back differs");
    octavo_buffer_free(warm);
    /* the words are used: every advance doubled, the lines change */
    {
        unsigned char *f = malloc(gl);
        memcpy(f, good, gl);
        size_t o = 16 + 40;
        uint32_t count = (uint32_t)f[16 + 36] | (uint32_t)f[16 + 37] << 8 | (uint32_t)f[16 + 38] << 16 |
                         (uint32_t)f[16 + 39] << 24;
        for (uint32_t w = 0; w < count && o + 2 <= gl; w++) {
            unsigned wn = f[o + 1];
            for (unsigned i = 0; i < wn; i++) {
                unsigned char *a = f + o + 2 + 4 * wn + 4 * i;
                uint32_t bits = (uint32_t)a[0] | (uint32_t)a[1] << 8 | (uint32_t)a[2] << 16 | (uint32_t)a[3] << 24;
                float v;
                memcpy(&v, &bits, 4);
                v *= 2;
                memcpy(&bits, &v, 4);
                for (int k = 0; k < 4; k++)
                    a[k] = (unsigned char)(bits >> (8 * k));
            }
            o += 2 + 8 * wn + 8;
        }
        CHECK(o == gl);
        reseal(f, gl);
        spit(paths[0], f, gl);
        free(f);
        char *w2 = render(DOC, cache, 0, &n, -1, NULL);
        CHECKF(w2 && !same(w2, n, REF, NREF), "the stored words were not used");
        octavo_buffer_free(w2);
    }
    /* damaged or foreign entries: the uncached PDF, and the entry written anew */
    for (int kind = 0; kind < 6; kind++) {
        unsigned char *f = malloc(gl + 16);
        memcpy(f, good, gl);
        size_t fl = gl;
        int sealed = 1;
        switch (kind) {
        case 0: f[gl - 3] ^= 0x10; sealed = 0; break;  /* bad CRC */
        case 1: f[16 + 10] ^= 1; break;                /* another fonts' identity */
        case 2: f[16] = 'X'; break;                    /* not an entry */
        case 3: fl = gl - 6; break;                    /* a word cut short */
        case 4: f[16 + 36] ^= 4; break;                /* another word count */
        case 5: f[16 + 40] = 99; break;                /* a face that does not exist */
        }
        if (sealed)
            reseal(f, fl);
        spit(paths[0], f, fl);
        size_t wl = 0;
        char *w3 = render(DOC, cache, 0, &wl, -1, NULL);
        CHECKF(same(w3, wl, REF, NREF), "shape entry damage %d: the PDF differs from the uncached one", kind);
        size_t al = 0;
        unsigned char *again = slurp(paths[0], &al);
        CHECKF(again && al == gl && !memcmp(again, good, gl), "shape entry damage %d: not replaced", kind);
        free(again);
        octavo_buffer_free(w3);
        free(f);
    }
    free(good);
}

/* A book of two documents (one shaper for both): cold, warm and uncached give the same bytes. */
static char *render_book(const char *cache, size_t *len) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.resource_root = dir;
    o.cache_dir = cache;
    o.flags = cache ? 0 : OCTAVO_NO_CACHE;
    octavo_error err;
    octavo *ov = octavo_new(&o, &err);
    if (!ov)
        return NULL;
    octavo_book *book = octavo_book_new(ov);
    octavo_doc *a = NULL, *b = NULL;
    char *out = NULL;
    int ok = book && octavo_doc_load(ov, "a.md", DOC, strlen(DOC), &a, &err) == OCTAVO_OK &&
             octavo_doc_load(ov, "b.md", DOC2, strlen(DOC2), &b, &err) == OCTAVO_OK;
    if (ok) {
        /* the book owns them from here, also on failure */
        ok = octavo_book_add(book, a, &err) == OCTAVO_OK;
        ok = octavo_book_add(book, b, &err) == OCTAVO_OK && ok;
        a = b = NULL;
    }
    if (ok && octavo_book_render_buffer(book, OCTAVO_FORMAT_PDF, &out, len, &err) != OCTAVO_OK)
        fprintf(stderr, "book: %s\n", err.message);
    octavo_doc_free(a);
    octavo_doc_free(b);
    octavo_book_free(book);
    octavo_free(ov);
    return out;
}

TEST(test_book) {
    char cache[600];
    snprintf(cache, sizeof cache, "%s/c6", dir);
    size_t n0 = 0, n1 = 0, n2 = 0;
    char *ref = render_book(NULL, &n0), *cold = render_book(cache, &n1), *warm = render_book(cache, &n2);
    CHECK(ref && n0 > 1000);
    CHECKF(same(ref, n0, cold, n1) && same(ref, n0, warm, n2), "book PDFs differ (%zu, %zu, %zu bytes)", n0, n1, n2);
    octavo_buffer_free(ref);
    octavo_buffer_free(cold);
    octavo_buffer_free(warm);
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    REF = render(DOC, NULL, 0, &NREF, -1, NULL);
    CHECK(REF && NREF > 1000);
    RUN(test_cold_warm_identical);
    RUN(test_warm_reuses_entry);
    RUN(test_bad_entries_ignored);
    RUN(test_shape_cache);
    RUN(test_book);
    RUN(test_warm_allocfail);
    octavo_buffer_free(REF);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return t_done();
}
