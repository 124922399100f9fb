/* Font faces (font.c): coverage, learnt per character from the cmap (face_has), is the set of
 * code points HarfBuzz lists for each installed font file, over the whole BMP; advances of
 * missing characters are 0; shaping remembers words per shaper. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hb.h>

#include "harness.h"
#include "layout.h"

static const ov_fonts *F;
static int faces[OV_NFACES], nfaces; /* one face per font file */

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
            if (!want && cp < 0x3000)
                diff += ov_font_advance(F, faces[fi], cp) != 0;
        }
        CHECKF(diff == 0 && n > 100, "%s: %ld of the BMP's code points differ (%ld covered)",
               ov_font_path(F, faces[fi]), diff, n);
        /* asked again: the same answers from what was learnt */
        long again = 0;
        for (uint32_t cp = 0; cp < 0x10000; cp++)
            again += ov_font_has(F, faces[fi], cp) != (hb_set_has(set, cp) ? 1 : 0);
        CHECK_INT(again, 0);
        hb_set_destroy(set);
        hb_face_destroy(f);
        hb_blob_destroy(b);
    }
    CHECK(!ov_font_has(F, 0, 0x1F600)); /* outside the BMP: never */
    CHECK(ov_font_pick(F, 0, 'a') == 0 || ov_font_has(F, ov_font_pick(F, 0, 'a'), 'a'));
}

TEST(test_shape_memo) {
    ov_shaper *s = ov_shaper_new(F);
    CHECK(s != NULL);
    if (!s)
        return;
    static const char *const words[] = { "AVATAR", "Typography", "Kerning", "WAVE", "office" };
    for (int round = 0; round < 2; round++)
        for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
            uint32_t w[16];
            float a[16], b[16];
            size_t n = strlen(words[k]);
            for (size_t i = 0; i < n; i++)
                w[i] = (unsigned char)words[k][i];
            double t1 = ov_shape(s, 0, w, n, a), t2 = ov_shape(s, 0, w, n, b);
            CHECK(t1 == t2 && memcmp(a, b, n * sizeof *a) == 0 && t1 > 0);
        }
    ov_shaper_free(s);
}

int main(void) {
    octavo_error err;
    if (ov_fonts_get(&F, &err) != OCTAVO_OK) {
        printf("no fonts: %s\n", err.message);
        return t_done();
    }
    for (int i = 0; i < OV_NFACES; i++) {
        const char *p = ov_font_path(F, i);
        int dup = !p;
        for (int j = 0; j < nfaces && !dup; j++)
            dup = strcmp(ov_font_path(F, faces[j]), p) == 0;
        if (!dup)
            faces[nfaces++] = i;
    }
    RUN(test_coverage);
    RUN(test_shape_memo);
    return t_done();
}
