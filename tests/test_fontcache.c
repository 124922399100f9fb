/* The font-subset cache of the PDF backend (pdf.c embed_font): a warm run reuses the subsets and
 * streams a cold run stored and gives the same bytes; entries that are torn, altered or do not
 * parse are ignored and replaced; another character set is another entry; a failed allocation on
 * the warm path is an OCTAVO_E_NOMEM or costs nothing (LeakSanitizer checks the rest in make
 * SAN=1 check). */
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

/* The font entries of a cache folder (up to 16 paths, sorted); returns the count. */
static int font_entries(const char *cache, char paths[16][512]) {
    DIR *d = opendir(cache);
    int n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (!strncmp(e->d_name, "font-", 5) && n < 16)
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
    int ne = font_entries(cache, paths);
    CHECKF(ne >= 3, "%d font entries after a cold run (serif, italic, bold, mono, sans are used)", ne);
    char *warm = render(DOC, cache, 0, &n2, -1, NULL);
    CHECKF(same(cold, n1, warm, n2), "cold and warm PDFs differ (%zu vs %zu bytes)", n1, n2);
    CHECKF(same(cold, n1, REF, NREF), "a cached run differs from an uncached one");
    CHECK_INT(font_entries(cache, paths), ne);
    /* another character set: other entries, the first ones kept */
    size_t n3 = 0;
    char *other = render(DOC2, cache, 0, &n3, -1, NULL);
    CHECK(other != NULL);
    CHECKF(font_entries(cache, paths) > ne, "a different text made no new entry");
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
    int ne = font_entries(cache, paths);
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
    int ne = font_entries(cache, paths);
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
    RUN(test_warm_allocfail);
    octavo_buffer_free(REF);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return t_done();
}
