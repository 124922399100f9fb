/* Hyphenation (hyphenate.c) against libhyphen, the hyphenator the dictionaries are made for:
 * every word of the corpus's pages (real words, not the patterns test_pdf.c combines), in lower,
 * capitalised and upper case, and the dictionary's keywords as read (LEFTHYPHENMIN 2,
 * RIGHTHYPHENMIN 3 in hyph_en_US: no break after the first letter nor before the last three). */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hyphen.h>

#include "harness.h"
#include "layout.h"

static const ov_hyphenator *H;
static HyphenDict *D;
static size_t compared, differ;

static void cmp_word(const char *w, size_t wn) {
    if (wn < 5 || wn > 60)
        return;
    uint32_t cps[64];
    unsigned char mine[64], hy[72];
    char lw[64];
    for (size_t i = 0; i < wn; i++) {
        cps[i] = (unsigned char)w[i];
        lw[i] = (char)tolower((unsigned char)w[i]);
    }
    lw[wn] = 0;
    int count = ov_hyphenate(H, cps, wn, mine);
    char **rep = NULL;
    int *pos = NULL, *cut = NULL;
    if (hnj_hyphen_hyphenate3(D, lw, (int)wn, (char *)hy, NULL, &rep, &pos, &cut, 2, 3, 2, 2) != 0)
        return;
    int same = 1, n = 0;
    for (size_t i = 0; i < wn; i++) {
        int want = i >= 1 && i + 4 <= wn && (hy[i] & 1);
        same &= mine[i] == want;
        n += want;
    }
    same &= count == n;
    compared++;
    if (!same && differ++ < 5)
        fprintf(stderr, "hyphenation of %s differs from libhyphen\n", w);
}

static void corpus_dir(const char *path, int depth) {
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        size_t l = strlen(e->d_name);
        if (l > 3 && !strcmp(e->d_name + l - 3, ".md")) {
            FILE *f = fopen(p, "rb");
            if (!f)
                continue;
            char w[64];
            size_t n = 0;
            int c;
            while ((c = fgetc(f)) != EOF) {
                if (isalpha(c) && c < 128 && n < 63) {
                    w[n++] = (char)c;
                    continue;
                }
                w[n] = 0;
                cmp_word(w, n);
                if (n >= 5) {
                    char v[64];
                    for (size_t i = 0; i <= n; i++)
                        v[i] = (char)toupper((unsigned char)w[i]);
                    cmp_word(v, n);
                }
                n = 0;
            }
            fclose(f);
        } else if (depth < 4)
            corpus_dir(p, depth + 1);
    }
    closedir(d);
}

TEST(test_corpus_words) {
    corpus_dir(t_corpus(), 0);
    printf("%zu corpus words compared with libhyphen\n", compared);
    CHECKF(differ == 0, "%zu of %zu words hyphenated differently", differ, compared);
}

TEST(test_margins) {
    /* LEFTHYPHENMIN 2 / RIGHTHYPHENMIN 3 and the library's own 2 and 3: never a break within the
     * first two or the last three letters */
    static const char *const words[] = { "abandonment", "extraordinary", "uncharacteristically", "university",
                                         "hyphenation", "representation", "parallelization" };
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
        uint32_t cps[64];
        unsigned char out[64];
        size_t n = strlen(words[k]);
        for (size_t i = 0; i < n; i++)
            cps[i] = (unsigned char)words[k][i];
        int c = ov_hyphenate(H, cps, n, out);
        CHECKF(c > 0, "%s has no break", words[k]);
        CHECK(out[0] == 0 && out[n - 1] == 0 && out[n - 2] == 0 && out[n - 3] == 0);
    }
    /* the same dictionary for every spelling of the language, loaded once */
    CHECK(ov_hyphenator_get("en") == ov_hyphenator_get("en"));
    CHECK(ov_hyphenator_get("EN-us") != NULL);
    CHECK(ov_hyphenator_get("xx-none") == NULL);
}

int main(void) {
    H = ov_hyphenator_get("en-US");
    D = hnj_hyphen_load("/usr/share/hyphen/hyph_en_US.dic");
    if (!H || !D) {
        printf("no English hyphenation dictionary: skipped\n");
        if (D)
            hnj_hyphen_free(D);
        return t_done();
    }
    RUN(test_margins);
    RUN(test_corpus_words);
    hnj_hyphen_free(D);
    return t_done();
}
