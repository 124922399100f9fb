/* Kerning: ov_shape kerns most words itself from the fonts' GPOS tables (font.c kern_word) and
 * must give exactly what HarfBuzz gives (ov_shape_harfbuzz), bit for bit, on every face: all
 * pairs of a set of Latin letters, digits and punctuation, random words of them, words that must
 * go to HarfBuzz (marks, other scripts, format characters), and the corpus's words when it is
 * there. The face that kerns natively must include the body font. Coverage, learnt per character,
 * is checked against HarfBuzz's list of each face's code points. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hb.h>

#include "harness.h"
#include "layout.h"

static const ov_fonts *F;
static long compared, mismatched;

/* Compares the two on one word in one face (a fresh memo each time is not needed: a word is
 * remembered with the result ov_shape computed, which is what is checked). */
static void cmp_word(ov_shaper *s, ov_shaper *ref, int face, const uint32_t *w, size_t n) {
    float a[64], b[64];
    if (n > 64)
        return;
    double ta = ov_shape(s, face, w, n, a);
    double tb = ov_shape_harfbuzz(ref, face, w, n, b);
    compared++;
    if (ta != tb || memcmp(a, b, n * sizeof *a) != 0) {
        if (mismatched++ < 10) {
            fprintf(stderr, "face %d word", face);
            for (size_t i = 0; i < n; i++)
                fprintf(stderr, " U+%04X", (unsigned)w[i]);
            fprintf(stderr, ": %.3f vs HarfBuzz %.3f\n", ta, tb);
        }
    }
}

static uint32_t CHARS[300];
static size_t NCHARS;

static void chars_init(void) {
    for (uint32_t c = 0x21; c < 0x7F; c++)
        CHARS[NCHARS++] = c;
    for (uint32_t c = 0xA1; c <= 0xFF; c++)
        CHARS[NCHARS++] = c;
    static const uint32_t more[] = { 0x100, 0x107, 0x10D, 0x141, 0x142, 0x152, 0x153, 0x160, 0x161, 0x178, 0x17D,
                                     0x2010, 0x2013, 0x2014, 0x2018, 0x2019, 0x201A, 0x201C, 0x201D, 0x201E,
                                     0x2022, 0x2026, 0x2030, 0x2039, 0x203A };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        CHARS[NCHARS++] = more[i];
}

/* The distinct font files among the faces. */
static int faces[OV_NFACES], nfaces;

TEST(test_native_used) {
    CHECKF(ov_font_kern_native(F, OV_FACE(OV_SERIF, 0)) == 3, "the body face is kerned by HarfBuzz only");
    int native = 0;
    for (int i = 0; i < nfaces; i++)
        native += ov_font_kern_native(F, faces[i]) != 0;
    printf("%d of %d font files kerned natively\n", native, nfaces);
}

TEST(test_pairs) {
    ov_shaper *s = ov_shaper_new(F), *ref = ov_shaper_new(F);
    for (int fi = 0; fi < nfaces; fi++) {
        int face = faces[fi];
        for (size_t i = 0; i < NCHARS; i++)
            for (size_t j = 0; j < NCHARS; j += (fi < 6 ? 1 : 3)) {
                uint32_t w[2] = { CHARS[i], CHARS[j] };
                if (ov_font_has(F, face, w[0]) && ov_font_has(F, face, w[1]))
                    cmp_word(s, ref, face, w, 2);
            }
    }
    CHECKF(mismatched == 0, "%ld of %ld pairs differ from HarfBuzz", mismatched, compared);
    ov_shaper_free(s);
    ov_shaper_free(ref);
}

/* ov_font_has learns coverage per character from the cmap (face_has): the same set as the
 * face's code points listed by HarfBuzz, on every font file and the whole BMP. */
TEST(test_coverage) {
    for (int fi = 0; fi < nfaces; fi++) {
        hb_blob_t *b = hb_blob_create_from_file(ov_font_path(F, faces[fi]));
        hb_face_t *f = hb_face_create(b, 0);
        hb_set_t *set = hb_set_create();
        hb_face_collect_unicodes(f, set);
        long diff = 0, n = 0;
        for (uint32_t cp = 0; cp < 0x10000; cp++) {
            int want = hb_set_has(set, cp) ? 1 : 0;
            n += want;
            diff += ov_font_has(F, faces[fi], cp) != want;
        }
        CHECKF(diff == 0 && n > 100, "%s: %ld of the BMP's code points differ (%ld covered)",
               ov_font_path(F, faces[fi]), diff, n);
        hb_set_destroy(set);
        hb_face_destroy(f);
        hb_blob_destroy(b);
    }
    CHECK(!ov_font_has(F, 0, 0x1F600)); /* outside the BMP: never */
}

static unsigned long rng = 12345;
static unsigned rnd(unsigned n) {
    rng = rng * 6364136223846793005ul + 1442695040888963407ul;
    return (unsigned)(rng >> 33) % n;
}

TEST(test_words) {
    ov_shaper *s = ov_shaper_new(F), *ref = ov_shaper_new(F);
    long before = mismatched;
    static const uint32_t odd[] = { 0x301, 0xAD, 0x200B, 0x200D, 0x3B1, 0x416, 0x5D0, 0x4E2D, 0x20, 0xA0, 0x2044,
                                    0x2060, 0xFEFF, 0x1E9E, 0x2126, 0x212B, 0xFB01, 0x2011, 0x9 };
    for (int fi = 0; fi < nfaces; fi++) {
        int face = faces[fi];
        for (int k = 0; k < 1500; k++) {
            uint32_t w[40];
            size_t n = 2 + rnd(k < 1000 ? 10 : 38);
            for (size_t i = 0; i < n; i++) {
                unsigned r = rnd(100);
                w[i] = r < 60 ? (uint32_t)('a' + rnd(26)) : r < 70 ? (uint32_t)('A' + rnd(26))
                     : r < 97 ? CHARS[rnd((unsigned)NCHARS)] : odd[rnd(sizeof odd / sizeof odd[0])];
            }
            cmp_word(s, ref, face, w, n);
        }
        /* digits and punctuation only: the default script's lookups */
        static const char *const common[] = { "1.7", "(2020)", "--", "3,141", "10/12", "\"''\"", "T.V.", "7.", "17:30" };
        for (size_t k = 0; k < sizeof common / sizeof common[0]; k++) {
            uint32_t w[16];
            size_t n = 0;
            for (const char *c = common[k]; *c; c++)
                w[n++] = (unsigned char)*c;
            cmp_word(s, ref, face, w, n);
        }
    }
    CHECKF(mismatched == before, "%ld words differ from HarfBuzz", mismatched - before);
    ov_shaper_free(s);
    ov_shaper_free(ref);
}

/* Decodes UTF-8 words (runs of non-blanks) from a file and compares them in the first faces. */
static void corpus_file(ov_shaper *s, ov_shaper *ref, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    uint32_t w[64];
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        uint32_t cp = (uint32_t)c;
        if (c >= 0xC0) {
            int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
            cp = (uint32_t)c & (0x3Fu >> extra);
            for (int e = 0; e < extra; e++) {
                int d = fgetc(f);
                if (d == EOF)
                    break;
                cp = cp << 6 | ((uint32_t)d & 0x3F);
            }
        }
        if (cp <= 0x20 || n == 64) {
            for (int face = 0; face < 12 && n >= 2; face += 1)
                cmp_word(s, ref, face, w, n);
            n = 0;
            if (cp <= 0x20)
                continue;
        }
        w[n++] = cp;
    }
    fclose(f);
}

TEST(test_corpus_words) {
    char path[1024];
    snprintf(path, sizeof path, "%s/pages/blog", t_corpus());
    DIR *d = opendir(path);
    if (!d) {
        printf("no corpus: skipped\n");
        return;
    }
    ov_shaper *s = ov_shaper_new(F), *ref = ov_shaper_new(F);
    long before = mismatched, c0 = compared;
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL && files < 25) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 3, ".md"))
            continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        corpus_file(s, ref, p);
        files++;
    }
    closedir(d);
    printf("%ld corpus words compared\n", compared - c0);
    CHECKF(mismatched == before, "%ld corpus words differ from HarfBuzz", mismatched - before);
    ov_shaper_free(s);
    ov_shaper_free(ref);
}

int main(void) {
    octavo_error err;
    if (ov_fonts_get(&F, &err) != OCTAVO_OK) {
        printf("no fonts: %s\n", err.message);
        return t_done();
    }
    chars_init();
    for (int i = 0; i < OV_NFACES; i++) {
        const char *p = ov_font_path(F, i);
        int dup = !p;
        for (int j = 0; j < nfaces && !dup; j++)
            dup = strcmp(ov_font_path(F, faces[j]), p) == 0;
        if (!dup)
            faces[nfaces++] = i;
    }
    RUN(test_native_used);
    RUN(test_coverage);
    RUN(test_pairs);
    RUN(test_words);
    RUN(test_corpus_words);
    printf("%ld words compared with HarfBuzz\n", compared);
    return t_done();
}
