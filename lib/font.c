/*
 * Font metrics for the layout engine: the faces of fonts/fonts.conf, loaded once per process with
 * HarfBuzz (coverage, advances, vertical metrics) and shaped with HarfBuzz for kerning. Ligatures
 * and contextual alternates are off: the PDF backend draws one glyph per character (libharu maps
 * codes to glyphs through the font's cmap), so what we measure is what is drawn.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <hb-ot.h>
#include <hb.h>

#include "layout.h"

#ifndef OV_FONT_SERIF
#define OV_FONT_SERIF ""
#endif
#ifndef OV_FONT_SERIF_BOLD
#define OV_FONT_SERIF_BOLD ""
#endif
#ifndef OV_FONT_SERIF_ITALIC
#define OV_FONT_SERIF_ITALIC ""
#endif
#ifndef OV_FONT_SERIF_BOLDITALIC
#define OV_FONT_SERIF_BOLDITALIC ""
#endif
#ifndef OV_FONT_SANS
#define OV_FONT_SANS ""
#endif
#ifndef OV_FONT_SANS_BOLD
#define OV_FONT_SANS_BOLD ""
#endif
#ifndef OV_FONT_SANS_ITALIC
#define OV_FONT_SANS_ITALIC ""
#endif
#ifndef OV_FONT_SANS_BOLDITALIC
#define OV_FONT_SANS_BOLDITALIC ""
#endif
#ifndef OV_FONT_MONO
#define OV_FONT_MONO ""
#endif
#ifndef OV_FONT_MONO_BOLD
#define OV_FONT_MONO_BOLD ""
#endif
#ifndef OV_FONT_MONO_ITALIC
#define OV_FONT_MONO_ITALIC ""
#endif
#ifndef OV_FONT_MONO_BOLDITALIC
#define OV_FONT_MONO_BOLDITALIC ""
#endif
#ifndef OV_FONT_FALLBACK_SANS
#define OV_FONT_FALLBACK_SANS ""
#endif
#ifndef OV_FONT_FALLBACK_SANS_BOLD
#define OV_FONT_FALLBACK_SANS_BOLD ""
#endif
#ifndef OV_FONT_FALLBACK_SERIF
#define OV_FONT_FALLBACK_SERIF ""
#endif
#ifndef OV_FONT_FALLBACK_MONO
#define OV_FONT_FALLBACK_MONO ""
#endif
#ifndef OV_FONT_FALLBACK_CJK
#define OV_FONT_FALLBACK_CJK ""
#endif

static const char *const face_paths[OV_NFACES] = {
    OV_FONT_SERIF, OV_FONT_SERIF_BOLD, OV_FONT_SERIF_ITALIC, OV_FONT_SERIF_BOLDITALIC,
    OV_FONT_SANS, OV_FONT_SANS_BOLD, OV_FONT_SANS_ITALIC, OV_FONT_SANS_BOLDITALIC,
    OV_FONT_MONO, OV_FONT_MONO_BOLD, OV_FONT_MONO_ITALIC, OV_FONT_MONO_BOLDITALIC,
    OV_FONT_FALLBACK_SANS, OV_FONT_FALLBACK_SANS_BOLD, OV_FONT_FALLBACK_SERIF, OV_FONT_FALLBACK_MONO,
    OV_FONT_FALLBACK_CJK,
};

typedef struct ov_face {
    const char *path;          /* NULL: not installed */
    hb_blob_t *blob;
    hb_face_t *face;
    hb_font_t *font;
    unsigned upem;
    double scale;              /* 1000 / upem */
    double ascent, descent, capheight;
    unsigned char *cover;      /* BMP coverage bitmap (8 KiB) */
    uint16_t *adv_cache;       /* nominal advances of U+0000..U+2FFF in font units + 1 (0: unknown) */
    /* glyf/loca for composite closure */
    const unsigned char *glyf, *loca;
    unsigned glyf_len, loca_len;
    int long_loca;
    unsigned nglyphs;
} ov_face;

struct ov_fonts {
    ov_face faces[OV_NFACES];
    int alias[OV_NFACES];      /* the face that stands in for an uninstalled one */
    int chain[OV_NFACES][8];   /* fallback chains, -1 terminated */
};

static ov_fonts g_fonts;
static int g_fonts_ok;
static pthread_once_t g_fonts_once = PTHREAD_ONCE_INIT;

#define ADV_CACHE_N 0x3000

static int load_face(ov_face *fc, const char *path) {
    memset(fc, 0, sizeof *fc);
    if (!path || !*path)
        return 0;
    hb_blob_t *blob = hb_blob_create_from_file(path);
    if (!blob || hb_blob_get_length(blob) == 0) {
        hb_blob_destroy(blob);
        return 0;
    }
    fc->blob = blob;
    fc->face = hb_face_create(blob, 0);
    fc->upem = hb_face_get_upem(fc->face);
    if (!fc->upem)
        fc->upem = 1000;
    fc->nglyphs = hb_face_get_glyph_count(fc->face);
    fc->font = hb_font_create(fc->face);
    hb_font_set_scale(fc->font, (int)fc->upem, (int)fc->upem);
    hb_font_make_immutable(fc->font);
    fc->scale = 1000.0 / fc->upem;
    hb_position_t v = 0;
    if (hb_ot_metrics_get_position(fc->font, HB_OT_METRICS_TAG_HORIZONTAL_ASCENDER, &v))
        fc->ascent = v * fc->scale;
    else
        fc->ascent = 800;
    if (hb_ot_metrics_get_position(fc->font, HB_OT_METRICS_TAG_HORIZONTAL_DESCENDER, &v))
        fc->descent = v * fc->scale;
    else
        fc->descent = -200;
    if (hb_ot_metrics_get_position(fc->font, HB_OT_METRICS_TAG_CAP_HEIGHT, &v) && v > 0)
        fc->capheight = v * fc->scale;
    else
        fc->capheight = 0.7 * fc->ascent;
    fc->cover = calloc(8192, 1);
    fc->adv_cache = calloc(ADV_CACHE_N, sizeof(uint16_t));
    if (!fc->cover || !fc->adv_cache)
        return 0;
    hb_set_t *set = hb_set_create();
    hb_face_collect_unicodes(fc->face, set);
    hb_codepoint_t cp = HB_SET_VALUE_INVALID;
    while (hb_set_next(set, &cp) && cp < 0x10000)
        fc->cover[cp >> 3] |= (unsigned char)(1u << (cp & 7));
    hb_set_destroy(set);
    for (uint32_t c = 0; c < ADV_CACHE_N; c++) {
        if (!(fc->cover[c >> 3] & (1u << (c & 7))))
            continue;
        hb_codepoint_t g = 0;
        if (hb_font_get_nominal_glyph(fc->font, c, &g)) {
            hb_position_t a = hb_font_get_glyph_h_advance(fc->font, g);
            fc->adv_cache[c] = (uint16_t)(a + 1 > 65535 ? 65535 : a + 1);
        }
    }
    /* glyf and loca, for the composite-glyph closure the backend needs */
    hb_blob_t *head = hb_face_reference_table(fc->face, HB_TAG('h', 'e', 'a', 'd'));
    unsigned hl = 0;
    const unsigned char *hd = (const unsigned char *)hb_blob_get_data(head, &hl);
    if (hd && hl >= 54)
        fc->long_loca = (hd[50] << 8 | hd[51]) != 0;
    hb_blob_destroy(head);
    hb_blob_t *glyf = hb_face_reference_table(fc->face, HB_TAG('g', 'l', 'y', 'f'));
    hb_blob_t *loca = hb_face_reference_table(fc->face, HB_TAG('l', 'o', 'c', 'a'));
    /* the tables live as long as the face blob (process lifetime): keep the data pointers */
    fc->glyf = (const unsigned char *)hb_blob_get_data(glyf, &fc->glyf_len);
    fc->loca = (const unsigned char *)hb_blob_get_data(loca, &fc->loca_len);
    fc->path = path;
    return 1;
}

static void fonts_init(void) {
    ov_fonts *f = &g_fonts;
    for (int i = 0; i < OV_NFACES; i++) {
        load_face(&f->faces[i], face_paths[i]);
        f->alias[i] = i;
    }
    /* a role that is not installed stands in with its DejaVu counterpart or its regular style */
    for (int i = 0; i < 12; i++) {
        if (f->faces[i].path)
            continue;
        int fam = i / 4, st = i % 4;
        int cand[3] = { OV_FACE(fam, 0),
                        fam == OV_SERIF ? OV_FACE_FB_SERIF : fam == OV_MONO ? OV_FACE_FB_MONO
                                                                        : (st & OV_BOLD) ? OV_FACE_FB_SANS_BOLD
                                                                                         : OV_FACE_FB_SANS,
                        OV_FACE_FB_SANS };
        for (int k = 0; k < 3; k++)
            if (f->faces[cand[k]].path) {
                f->alias[i] = cand[k];
                break;
            }
    }
    for (int i = 0; i < OV_NFACES; i++) {
        int n = 0;
        int want[7] = { f->alias[i],
                        (i < 12 && (i % 4) & OV_BOLD) ? OV_FACE_FB_SANS_BOLD : OV_FACE_FB_SANS,
                        OV_FACE_FB_SANS, OV_FACE_FB_SERIF, OV_FACE_FB_MONO, OV_FACE_FB_CJK, -1 };
        for (int k = 0; k < 6; k++) {
            int c = want[k];
            if (!f->faces[c].path)
                continue;
            int dup = 0;
            for (int j = 0; j < n; j++)
                dup |= f->chain[i][j] == c;
            if (!dup)
                f->chain[i][n++] = c;
        }
        f->chain[i][n] = -1;
    }
    g_fonts_ok = f->faces[f->alias[0]].path != NULL;
}

int ov_fonts_get(const ov_fonts **out, octavo_error *err) {
    pthread_once(&g_fonts_once, fonts_init);
    if (!g_fonts_ok) {
        *out = NULL;
        return ov_error(err, OCTAVO_E_FONT, OCTAVO_STAGE_LAYOUT, NULL, 0, 0,
                        "no usable body font: install the packages named in fonts/fonts.conf (%s)",
                        face_paths[0][0] ? face_paths[0] : "not found at build time");
    }
    *out = &g_fonts;
    return OCTAVO_OK;
}

static const ov_face *face_of(const ov_fonts *f, int face) {
    if (face < 0 || face >= OV_NFACES)
        face = 0;
    return &f->faces[f->alias[face]];
}

const char *ov_font_path(const ov_fonts *f, int face) { return face_of(f, face)->path; }

int ov_font_has(const ov_fonts *f, int face, uint32_t cp) {
    const ov_face *fc = face_of(f, face);
    if (!fc->path || cp >= 0x10000)
        return 0;
    return (fc->cover[cp >> 3] >> (cp & 7)) & 1;
}

int ov_font_pick(const ov_fonts *f, int face, uint32_t cp) {
    if (face < 0 || face >= OV_NFACES)
        face = 0;
    if (cp >= 0x10000)
        return -1;
    for (int k = 0; f->chain[face][k] >= 0; k++) {
        int c = f->chain[face][k];
        if ((f->faces[c].cover[cp >> 3] >> (cp & 7)) & 1)
            return c;
    }
    return -1;
}

double ov_font_advance(const ov_fonts *f, int face, uint32_t cp) {
    const ov_face *fc = face_of(f, face);
    if (!fc->path)
        return 0;
    if (cp < ADV_CACHE_N) {
        uint16_t a = fc->adv_cache[cp];
        return a ? (a - 1) * fc->scale : 0;
    }
    hb_codepoint_t g = 0;
    if (!hb_font_get_nominal_glyph(fc->font, cp, &g))
        return 0;
    return hb_font_get_glyph_h_advance(fc->font, g) * fc->scale;
}

double ov_font_ascent(const ov_fonts *f, int face) { return face_of(f, face)->ascent; }
double ov_font_descent(const ov_fonts *f, int face) { return face_of(f, face)->descent; }
double ov_font_capheight(const ov_fonts *f, int face) { return face_of(f, face)->capheight; }

unsigned ov_font_glyph(const ov_fonts *f, int face, uint32_t cp) {
    const ov_face *fc = face_of(f, face);
    hb_codepoint_t g = 0;
    if (!fc->path || !hb_font_get_nominal_glyph(fc->font, cp, &g))
        return 0;
    return g;
}

static unsigned rd16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }
static unsigned long rd32(const unsigned char *p) {
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}

/* The direct components of a composite glyph. */
static size_t direct_components(const ov_face *fc, unsigned gid, unsigned *out, size_t max) {
    if (!fc->glyf || !fc->loca || gid + 1 >= fc->nglyphs + 1)
        return 0;
    unsigned long a, b;
    if (fc->long_loca) {
        if ((gid + 2) * 4 > fc->loca_len)
            return 0;
        a = rd32(fc->loca + gid * 4);
        b = rd32(fc->loca + gid * 4 + 4);
    } else {
        if ((gid + 2) * 2 > fc->loca_len)
            return 0;
        a = rd16(fc->loca + gid * 2) * 2ul;
        b = rd16(fc->loca + gid * 2 + 2) * 2ul;
    }
    if (b <= a || b > fc->glyf_len || b - a < 10)
        return 0;
    const unsigned char *g = fc->glyf + a, *end = fc->glyf + b;
    int ncont = (int16_t)rd16(g);
    if (ncont >= 0)
        return 0;
    const unsigned char *p = g + 10;
    size_t n = 0;
    for (;;) {
        if (p + 4 > end)
            break;
        unsigned flags = rd16(p), comp = rd16(p + 2); /* unsigned 16-bit glyph ids */
        if (n < max)
            out[n++] = comp;
        p += 4;
        p += (flags & 1) ? 4 : 2;                       /* ARG_1_AND_2_ARE_WORDS */
        if (flags & 8) p += 2;                          /* WE_HAVE_A_SCALE */
        else if (flags & 0x40) p += 4;                  /* X_AND_Y_SCALE */
        else if (flags & 0x80) p += 8;                  /* TWO_BY_TWO */
        if (!(flags & 0x20))                            /* MORE_COMPONENTS */
            break;
    }
    return n;
}

size_t ov_font_components(const ov_fonts *f, int face, unsigned gid, unsigned *out, size_t max) {
    const ov_face *fc = face_of(f, face);
    size_t n = direct_components(fc, gid, out, max);
    /* transitively: walk what was found until nothing new appears */
    for (size_t i = 0; i < n && n < max; i++) {
        unsigned sub[16];
        size_t k = direct_components(fc, out[i], sub, 16);
        for (size_t j = 0; j < k && n < max; j++) {
            int seen = 0;
            for (size_t m = 0; m < n; m++)
                seen |= out[m] == sub[j];
            if (!seen)
                out[n++] = sub[j];
        }
    }
    return n;
}

/* ---- shaping */
struct ov_shaper {
    const ov_fonts *fonts;
    hb_buffer_t *buf;
    hb_feature_t feat[5];
};

ov_shaper *ov_shaper_new(const ov_fonts *f) {
    ov_shaper *s = ov_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fonts = f;
    s->buf = hb_buffer_create();
    if (!hb_buffer_allocation_successful(s->buf)) {
        hb_buffer_destroy(s->buf);
        ov_free(s);
        return NULL;
    }
    static const char *const off[5] = { "-liga", "-clig", "-dlig", "-calt", "-rlig" };
    for (int i = 0; i < 5; i++)
        hb_feature_from_string(off[i], -1, &s->feat[i]);
    return s;
}

void ov_shaper_free(ov_shaper *s) {
    if (!s)
        return;
    hb_buffer_destroy(s->buf);
    ov_free(s);
}

double ov_shape(ov_shaper *s, int face, const uint32_t *cp, size_t n, float *adv) {
    const ov_face *fc = face_of(s->fonts, face);
    if (!fc->path || n == 0)
        return 0;
    if (n == 1) {
        double a = ov_font_advance(s->fonts, face, cp[0]);
        if (adv)
            adv[0] = (float)a;
        return a;
    }
    hb_buffer_clear_contents(s->buf);
    hb_buffer_add_utf32(s->buf, cp, (int)n, 0, (int)n);
    hb_buffer_guess_segment_properties(s->buf);
    hb_buffer_set_direction(s->buf, HB_DIRECTION_LTR);
    hb_buffer_set_cluster_level(s->buf, HB_BUFFER_CLUSTER_LEVEL_MONOTONE_CHARACTERS);
    hb_shape(fc->font, s->buf, s->feat, 5);
    unsigned ng = 0;
    hb_glyph_info_t *gi = hb_buffer_get_glyph_infos(s->buf, &ng);
    hb_glyph_position_t *gp = hb_buffer_get_glyph_positions(s->buf, &ng);
    double total = 0;
    if (adv)
        for (size_t i = 0; i < n; i++)
            adv[i] = 0;
    for (unsigned i = 0; i < ng; i++) {
        double a = gp[i].x_advance * fc->scale;
        total += a;
        if (adv && gi[i].cluster < n)
            adv[gi[i].cluster] += (float)a;
    }
    return total;
}
