/*
 * Font metrics for the layout engine: the faces of fonts/fonts.conf, each loaded with HarfBuzz
 * the first time a document needs it (coverage and advances learnt per character, vertical
 * metrics), kept for the process, and shaped with HarfBuzz for kerning. Ligatures and contextual
 * alternates are off: the PDF backend draws one glyph per character, so what we measure is what
 * is drawn.
 * The backend embeds subsets made here with HarfBuzz's subsetter (ov_font_make_subset): only the
 * glyphs of the characters a document uses (composite glyphs' components included), no hinting,
 * no layout tables.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "pdfdl.h" /* HarfBuzz, loaded by ov_fonts_get */

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
    atomic_int state;          /* 0: not loaded yet, 1: loaded, 2: failed to load */
    hb_blob_t *blob;
    hb_face_t *face;
    hb_font_t *font;
    hb_face_t *kern_face;      /* the same tables but GSUB, for shaping: only kerning is wanted, and
                                  HarfBuzz then neither sanitizes nor plans the substitutions */
    hb_font_t *kern_font;
    unsigned upem;
    double scale;              /* 1000 / upem */
    double ascent, descent, capheight;
    unsigned char id[32];      /* the file and the subsetter, for caches (ov_font_identity) */
    atomic_uchar *cover;       /* BMP coverage bitmap (8 KiB), valid where known has the bit */
    atomic_uchar *known;       /* code points asked about already (face_has) */
    atomic_ushort *adv_cache;  /* nominal advances of U+0000..U+2FFF in font units + 1 (0: not known
                                  yet), filled as characters are asked about (any thread) */
} ov_face;

struct ov_fonts {
    ov_face faces[OV_NFACES];
    int alias[OV_NFACES];      /* the face that stands in for an uninstalled one */
    int chain[OV_NFACES][8];   /* fallback chains, -1 terminated */
};

static ov_fonts g_fonts;
static int g_fonts_ok;
static pthread_once_t g_fonts_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_load_lock = PTHREAD_MUTEX_INITIALIZER;

#define ADV_CACHE_N 0x3000

static hb_blob_t *tables_but_gsub(hb_face_t *face, hb_tag_t tag, void *user_data) {
    (void)face;
    if (tag == HB_TAG('G', 'S', 'U', 'B'))
        return NULL;
    return hb_face_reference_table((hb_face_t *)user_data, tag);
}

/* Whether the face maps cp (BMP) to a glyph, learnt on first ask: a cmap lookup per distinct
 * character where listing every code point of each face at load (hb_face_collect_unicodes, and
 * 28,596 of them for the CJK fallback) cost ~250,000 instructions a face. The same answer:
 * a code point is in the face's code point set exactly when it has a nominal glyph (checked on
 * every installed face by tests/test_font.c). Any thread may learn a bit: the coverage bit is set
 * before the known bit is released. */
static int face_learn(const ov_face *fc, uint32_t cp);

static inline int face_has(const ov_face *fc, uint32_t cp) {
    if (cp >= 0x10000)
        return 0;
    unsigned char bit = (unsigned char)(1u << (cp & 7));
    if (atomic_load_explicit(&fc->known[cp >> 3], memory_order_acquire) & bit)
        return (atomic_load_explicit(&fc->cover[cp >> 3], memory_order_relaxed) & bit) != 0;
    return face_learn(fc, cp);
}

/* face_has the first time cp is asked about (out of line: the rare path). */
static int face_learn(const ov_face *fc, uint32_t cp) {
    unsigned char bit = (unsigned char)(1u << (cp & 7));
    hb_codepoint_t g = 0;
    int has = hb_font_get_nominal_glyph(fc->font, cp, &g) ? 1 : 0;
    if (has)
        atomic_fetch_or_explicit(&fc->cover[cp >> 3], bit, memory_order_relaxed);
    atomic_fetch_or_explicit(&fc->known[cp >> 3], bit, memory_order_release);
    return has;
}

/* What a cached subset depends on besides its characters: which file (path, device, inode, size,
 * modification time: a replaced or edited font gets a new identity without its bytes being read),
 * and how it is subset (HarfBuzz's version and SUBSET_RECIPE, to be changed with the subsetting
 * code below). The length HarfBuzz read goes in too, should the file change under the stat. */
#define SUBSET_RECIPE "subset-1: glyf loca head hhea hmtx maxp cmap OS/2 post name; no hinting"

static void face_identity(ov_face *fc, const struct stat *st, unsigned blob_len) {
    char s[1024];
    int n = snprintf(s, sizeof s, "%s|%llu|%llu|%lld|%lld.%09ld|%u|%s|%s", fc->path, (unsigned long long)st->st_dev,
                     (unsigned long long)st->st_ino, (long long)st->st_size, (long long)st->st_mtim.tv_sec,
                     (long)st->st_mtim.tv_nsec, blob_len, hb_version_string(), SUBSET_RECIPE);
    ov_sha256(s, n > 0 && (size_t)n < sizeof s ? (size_t)n : sizeof s - 1, fc->id);
}

/* Loads a face's HarfBuzz objects, coverage and advance cache. Returns 1 on success. */
static int load_face(ov_face *fc) {
    struct stat st;
    if (stat(fc->path, &st) != 0)
        return 0;
    hb_blob_t *blob = hb_blob_create_from_file(fc->path);
    if (!blob || hb_blob_get_length(blob) == 0) {
        hb_blob_destroy(blob);
        return 0;
    }
    fc->blob = blob;
    face_identity(fc, &st, hb_blob_get_length(blob));
    fc->face = hb_face_create(blob, 0);
    fc->upem = hb_face_get_upem(fc->face);
    if (!fc->upem)
        fc->upem = 1000;
    fc->font = hb_font_create(fc->face);
    hb_font_set_scale(fc->font, (int)fc->upem, (int)fc->upem);
    hb_font_make_immutable(fc->font);
    fc->kern_face = hb_face_create_for_tables(tables_but_gsub, fc->face, NULL);
    hb_face_set_upem(fc->kern_face, fc->upem);
    fc->kern_font = hb_font_create(fc->kern_face);
    hb_font_set_scale(fc->kern_font, (int)fc->upem, (int)fc->upem);
    hb_font_make_immutable(fc->kern_font);
    fc->scale = 1000.0 / fc->upem;
    /* the face's tables in one mapping populated at once: calloc cleared the 8 KB + 24 KB page by
     * page (~8 first touches a face at ~12 us each here) where 10 populated pages cost ~25 us;
     * kept for the process like the rest of the face */
    size_t mem_size = 16384 + ADV_CACHE_N * sizeof *fc->adv_cache;
    unsigned char *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED && !(mem = calloc(1, mem_size)))
        return 0;
    fc->cover = (atomic_uchar *)mem;
    fc->known = (atomic_uchar *)(mem + 8192);
    fc->adv_cache = (atomic_ushort *)(mem + 16384);
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
    return 1;
}

/* The face, loaded on first use (faces are process-wide and read-only once loaded). NULL when the
 * face is not installed or cannot be read. */
static ov_face *ready_slow(ov_face *fc);

static inline ov_face *ready(ov_face *fc) {
    if (atomic_load_explicit(&fc->state, memory_order_acquire) == 1)
        return fc; /* loaded: every call after the first (inline, ~10,000 times a document) */
    return ready_slow(fc);
}

static ov_face *ready_slow(ov_face *fc) {
    int st = atomic_load_explicit(&fc->state, memory_order_acquire);
    if (st == 1)
        return fc;
    if (st == 2 || !fc->path)
        return NULL;
    pthread_mutex_lock(&g_load_lock);
    st = atomic_load_explicit(&fc->state, memory_order_relaxed);
    if (st == 0) {
        st = load_face(fc) ? 1 : 2;
        atomic_store_explicit(&fc->state, st, memory_order_release);
    }
    pthread_mutex_unlock(&g_load_lock);
    return st == 1 ? fc : NULL;
}

static void fonts_init(void) {
    ov_fonts *f = &g_fonts;
    /* which faces are installed; none is loaded until a document needs it */
    for (int i = 0; i < OV_NFACES; i++) {
        f->faces[i].path = face_paths[i][0] && access(face_paths[i], R_OK) == 0 ? face_paths[i] : NULL;
        atomic_init(&f->faces[i].state, 0);
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
    /* every other entry point here takes the font set this returns: HarfBuzz is loaded before it
     * is given out (the layout, and tests that call the font functions directly) */
    int rc = ov_pdf_load_hb(err);
    if (rc) {
        *out = NULL;
        return rc;
    }
    pthread_once(&g_fonts_once, fonts_init);
    if (g_fonts_ok && !ready(&g_fonts.faces[g_fonts.alias[0]]))
        g_fonts_ok = 0;
    if (!g_fonts_ok) {
        *out = NULL;
        return ov_error(err, OCTAVO_E_FONT, OCTAVO_STAGE_LAYOUT, NULL, 0, 0,
                        "no usable body font: install the packages named in fonts/fonts.conf (%s)",
                        face_paths[0][0] ? face_paths[0] : "not found at build time");
    }
    *out = &g_fonts;
    return OCTAVO_OK;
}

/* The loaded face standing for a role (NULL when it cannot be had). The font set is the process's
 * single mutable instance: loading a face on first use is the only change ever made to it. */
static ov_face *face_of(const ov_fonts *f, int face) {
    if (face < 0 || face >= OV_NFACES)
        face = 0;
    ov_fonts *m = (ov_fonts *)f;
    return ready(&m->faces[f->alias[face]]);
}

const char *ov_font_path(const ov_fonts *f, int face) {
    const ov_face *fc = face_of(f, face);
    return fc ? fc->path : NULL;
}

int ov_font_identity(const ov_fonts *f, int face, unsigned char id[32]) {
    const ov_face *fc = face_of(f, face);
    if (!fc)
        return -1;
    memcpy(id, fc->id, 32);
    return 0;
}

int ov_font_has(const ov_fonts *f, int face, uint32_t cp) {
    const ov_face *fc = face_of(f, face);
    if (!fc || cp >= 0x10000)
        return 0;
    return face_has(fc, cp);
}

int ov_font_pick(const ov_fonts *f, int face, uint32_t cp) {
    if (face < 0 || face >= OV_NFACES)
        face = 0;
    if (cp >= 0x10000)
        return -1;
    ov_fonts *m = (ov_fonts *)f;
    for (int k = 0; f->chain[face][k] >= 0; k++) {
        int c = f->chain[face][k];
        const ov_face *fc = ready(&m->faces[c]);
        if (fc && face_has(fc, cp))
            return c;
    }
    return -1;
}

double ov_font_advance(const ov_fonts *f, int face, uint32_t cp) {
    const ov_face *fc = face_of(f, face);
    if (!fc)
        return 0;
    if (cp < ADV_CACHE_N) {
        unsigned a = atomic_load_explicit(&fc->adv_cache[cp], memory_order_relaxed);
        if (a)
            return (a - 1) * fc->scale;
    }
    hb_codepoint_t g = 0;
    hb_position_t a = 0;
    if (cp < 0x10000 && face_has(fc, cp) && hb_font_get_nominal_glyph(fc->font, cp, &g))
        a = hb_font_get_glyph_h_advance(fc->font, g);
    if (a < 0)
        a = 0;
    if (cp < ADV_CACHE_N)
        atomic_store_explicit(&fc->adv_cache[cp], (unsigned short)(a + 1 > 65535 ? 65535 : a + 1),
                              memory_order_relaxed);
    return a * fc->scale;
}

int ov_font_ink(const ov_fonts *f, int face, uint32_t cp, double *xmin, double *xmax) {
    const ov_face *fc = face_of(f, face);
    hb_codepoint_t g = 0;
    hb_glyph_extents_t e;
    if (!fc || cp >= 0x10000 || !face_has(fc, cp) || !hb_font_get_nominal_glyph(fc->font, cp, &g) ||
        !hb_font_get_glyph_extents(fc->font, g, &e) || e.width <= 0)
        return 0;
    *xmin = e.x_bearing * fc->scale;
    *xmax = (e.x_bearing + e.width) * fc->scale;
    return 1;
}

double ov_font_ascent(const ov_fonts *f, int face) {
    const ov_face *fc = face_of(f, face);
    return fc ? fc->ascent : 800;
}
double ov_font_descent(const ov_fonts *f, int face) {
    const ov_face *fc = face_of(f, face);
    return fc ? fc->descent : -200;
}
double ov_font_capheight(const ov_fonts *f, int face) {
    const ov_face *fc = face_of(f, face);
    return fc ? fc->capheight : 700;
}

/* ---- subsets for embedding */
static unsigned rd16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }
static unsigned long rd32(const unsigned char *p) {
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}

/* The tables a PDF reader needs from an embedded TrueType font (ISO 32000 9.9, less the hinting
 * tables: hinting is dropped, as most PDF makers do; readers rasterise without it). */
static int table_kept(hb_tag_t t) {
    static const char *const keep[] = { "glyf", "loca", "head", "hhea", "hmtx", "maxp", "cmap", "OS/2", "post", "name" };
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (t == hb_tag_from_string(keep[i], 4))
            return 1;
    return 0;
}

static void subset_metrics(const ov_face *fc, int face, ov_font_subset *out) {
    hb_face_t *F = fc->face;
    out->ascent = fc->ascent;
    out->descent = fc->descent;
    out->capheight = fc->capheight;
    int italic = 0, fixed = 0;
    unsigned weight = 400;
    unsigned len = 0;
    hb_blob_t *b = hb_face_reference_table(F, HB_TAG('h', 'e', 'a', 'd'));
    const unsigned char *p = (const unsigned char *)hb_blob_get_data(b, &len);
    if (p && len >= 54) {
        for (int k = 0; k < 4; k++)
            out->bbox[k] = (int16_t)rd16(p + 36 + 2 * k) * fc->scale;
        italic |= (rd16(p + 44) & 2) != 0;
    } else {
        out->bbox[0] = 0, out->bbox[1] = fc->descent, out->bbox[2] = 1000, out->bbox[3] = fc->ascent;
    }
    hb_blob_destroy(b);
    b = hb_face_reference_table(F, HB_TAG('p', 'o', 's', 't'));
    p = (const unsigned char *)hb_blob_get_data(b, &len);
    if (p && len >= 16) {
        out->italic_angle = (int32_t)rd32(p + 4) / 65536.0;
        fixed = rd32(p + 12) != 0;
    }
    hb_blob_destroy(b);
    b = hb_face_reference_table(F, HB_TAG('O', 'S', '/', '2'));
    p = (const unsigned char *)hb_blob_get_data(b, &len);
    if (p && len >= 6)
        weight = rd16(p + 4);
    hb_blob_destroy(b);
    if (out->italic_angle != 0)
        italic = 1;
    /* StemV is not in TrueType fonts: the usual estimate from the weight class */
    out->stemv = 50 + (weight / 65.0) * (weight / 65.0);
    int serif = face / 4 == OV_SERIF || face == OV_FACE_FB_SERIF;
    out->flags = (fixed ? 1 : 0) | (serif ? 2 : 0) | 32 | (italic ? 64 : 0);
    /* the PostScript name, as a PDF name may hold it */
    char name[64];
    unsigned nl = sizeof name;
    if (!hb_ot_name_get_utf8(F, HB_OT_NAME_ID_POSTSCRIPT_NAME, HB_LANGUAGE_INVALID, &nl, name))
        name[0] = 0;
    size_t o = 0;
    for (const char *s = name; *s && o + 1 < sizeof out->psname; s++)
        if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
            *s == '_' || *s == '.')
            out->psname[o++] = *s;
    out->psname[o] = 0;
    if (!o)
        snprintf(out->psname, sizeof out->psname, "OctavoFace%d", face);
}

int ov_font_make_subset(const ov_fonts *f, int face, const uint32_t *cps, size_t n, ov_font_subset *out) {
    memset(out, 0, sizeof *out);
    if (ov_pdf_load_hb_subset(NULL)) /* loaded on the first subset not found in the cache */
        return OCTAVO_E_PDF;
    const ov_face *fc = face_of(f, face);
    if (!fc)
        return OCTAVO_E_FONT;
    out->gid = ov_calloc(n ? n : 1, sizeof *out->gid);
    out->width = ov_calloc(n ? n : 1, sizeof *out->width);
    if (!out->gid || !out->width) {
        ov_font_subset_free(out);
        return OCTAVO_E_NOMEM;
    }
    hb_subset_input_t *in = hb_subset_input_create_or_fail();
    if (!in) {
        ov_font_subset_free(out);
        return OCTAVO_E_NOMEM;
    }
    hb_set_t *uni = hb_subset_input_unicode_set(in);
    for (size_t i = 0; i < n; i++)
        hb_set_add(uni, cps[i]);
    hb_set_t *drop = hb_subset_input_set(in, HB_SUBSET_SETS_DROP_TABLE_TAG);
    hb_tag_t tags[64];
    unsigned start = 0, nt;
    do {
        nt = 64;
        hb_face_get_table_tags(fc->face, start, &nt, tags);
        for (unsigned i = 0; i < nt; i++)
            if (!table_kept(tags[i]))
                hb_set_add(drop, tags[i]);
        start += nt;
    } while (nt == 64);
    hb_subset_input_set_flags(in, HB_SUBSET_FLAGS_NO_HINTING);
    int rc = OCTAVO_E_FONT;
    hb_subset_plan_t *plan = hb_subset_plan_create_or_fail(fc->face, in);
    hb_subset_input_destroy(in);
    if (!plan)
        goto fail;
    const hb_map_t *map = hb_subset_plan_old_to_new_glyph_mapping(plan);
    for (size_t i = 0; i < n; i++) {
        hb_codepoint_t g = 0;
        if (!hb_font_get_nominal_glyph(fc->font, cps[i], &g))
            continue;
        hb_codepoint_t ng = hb_map_get(map, g);
        if (ng != HB_MAP_VALUE_INVALID && ng < 65536)
            out->gid[i] = (uint16_t)ng;
        out->width[i] = hb_font_get_glyph_h_advance(fc->font, g) * fc->scale;
    }
    hb_face_t *sub = hb_subset_plan_execute_or_fail(plan);
    hb_subset_plan_destroy(plan);
    if (!sub)
        goto fail;
    hb_blob_t *blob = hb_face_reference_blob(sub);
    unsigned len = 0;
    const char *data = hb_blob_get_data(blob, &len);
    if (data && len) {
        out->data = ov_malloc(len);
        if (out->data) {
            memcpy(out->data, data, len);
            out->len = len;
            rc = OCTAVO_OK;
        } else
            rc = OCTAVO_E_NOMEM;
    }
    hb_blob_destroy(blob);
    hb_face_destroy(sub);
    if (rc)
        goto fail;
    subset_metrics(fc, face, out);
    return OCTAVO_OK;
fail:
    ov_font_subset_free(out);
    return rc;
}

void ov_font_subset_free(ov_font_subset *s) {
    if (!s)
        return;
    ov_free(s->data);
    ov_free(s->gid);
    ov_free(s->width);
    memset(s, 0, sizeof *s);
}

/* ---- shaping. Only kerning is wanted: the backend draws each character's nominal glyph, so
 * substitutions (ligatures, contextual and local forms, composition) would measure glyphs that are
 * not drawn, and mark positioning moves nothing we draw. Every other default feature is off, which
 * also makes shaping several times cheaper. Plans are kept per face and script, and the advances
 * of each word, which recur, are kept per shaper (a document). */
static const char *const g_off_features[] = { "-abvm", "-blwm", "-ccmp", "-locl", "-mark", "-mkmk", "-rlig",
                                              "-calt", "-clig", "-curs", "-dist", "-liga", "-rclt", "-dlig",
                                              "-ltra", "-ltrm", "-rvrn", "+kern" };
#define NFEAT (sizeof g_off_features / sizeof g_off_features[0])
#define NPLANS 16
#define WORD_CACHE_MAX 48

typedef struct shape_plan {
    int face;
    hb_script_t script;
    hb_language_t lang;
    hb_shape_plan_t *plan;
} shape_plan;

typedef struct word_entry {
    uint32_t hash;
    uint16_t face, n;
    uint32_t off;              /* in cps / advs */
    int fresh;                 /* loaded from the cache and not asked for yet */
    double total;              /* the total HarfBuzz gave (the first time a word is shaped, its
                                  total; later times the sum of its float advances, as ever) */
} word_entry;

struct ov_shaper {
    const ov_fonts *fonts;
    hb_buffer_t *buf;
    hb_feature_t feat[NFEAT];
    shape_plan plans[NPLANS];
    int nplans;
    word_entry *words;         /* open addressing, cap a power of two; hash 0: empty */
    size_t nwords, capwords;
    uint32_t *cps;
    float *advs;
    size_t npool, cappool;
    /* the words a document shaped, kept across runs (ov_shaper_cache) */
    const octavo *cache_ov;
    const void *cache_doc;     /* the document, or &g_cache_over once a second one came */
    char cache_key[72];
    int dirty;                 /* words shaped by HarfBuzz since the entry was read */
};

static const char g_cache_over = 0;
static void shaper_save(ov_shaper *s);

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
    for (size_t i = 0; i < NFEAT; i++)
        hb_feature_from_string(g_off_features[i], -1, &s->feat[i]);
    return s;
}

void ov_shaper_free(ov_shaper *s) {
    if (!s)
        return;
    shaper_save(s);
    for (int i = 0; i < s->nplans; i++)
        hb_shape_plan_destroy(s->plans[i].plan);
    hb_buffer_destroy(s->buf);
    ov_free(s->words);
    ov_free(s->cps);
    ov_free(s->advs);
    ov_free(s);
}

static uint32_t word_hash(int face, const uint32_t *cp, size_t n) {
    uint32_t h = 2166136261u ^ (uint32_t)face;
    for (size_t i = 0; i < n; i++)
        h = (h ^ cp[i]) * 16777619u;
    return h ? h : 1;
}

static word_entry *word_find(ov_shaper *s, uint32_t h, int face, const uint32_t *cp, size_t n) {
    if (!s->capwords)
        return NULL;
    for (size_t i = h & (s->capwords - 1); s->words[i].hash; i = (i + 1) & (s->capwords - 1)) {
        word_entry *e = &s->words[i];
        if (e->hash == h && e->face == face && e->n == n && !memcmp(s->cps + e->off, cp, n * sizeof *cp))
            return e;
    }
    return NULL;
}

/* Keeps a word's advances; a failed allocation only means it is not kept. */
static void word_put(ov_shaper *s, uint32_t h, int face, const uint32_t *cp, size_t n, const float *adv, double total,
                     int fresh) {
    if (s->npool + n > s->cappool) {
        size_t nc = s->cappool ? s->cappool * 2 : 4096;
        while (nc < s->npool + n)
            nc *= 2;
        uint32_t *a = ov_realloc(s->cps, nc * sizeof *a);
        if (!a)
            return;
        s->cps = a;
        float *b = ov_realloc(s->advs, nc * sizeof *b);
        if (!b)
            return;
        s->advs = b;
        s->cappool = nc;
    }
    if ((s->nwords + 1) * 2 > s->capwords) {
        size_t nc = s->capwords ? s->capwords * 2 : 1024;
        word_entry *t = ov_calloc(nc, sizeof *t);
        if (!t)
            return;
        for (size_t i = 0; i < s->capwords; i++)
            if (s->words[i].hash) {
                size_t j = s->words[i].hash & (nc - 1);
                while (t[j].hash)
                    j = (j + 1) & (nc - 1);
                t[j] = s->words[i];
            }
        ov_free(s->words);
        s->words = t;
        s->capwords = nc;
    }
    size_t i = h & (s->capwords - 1);
    while (s->words[i].hash)
        i = (i + 1) & (s->capwords - 1);
    s->words[i].hash = h;
    s->words[i].face = (uint16_t)face;
    s->words[i].n = (uint16_t)n;
    s->words[i].off = (uint32_t)s->npool;
    s->words[i].fresh = fresh;
    s->words[i].total = total;
    memcpy(s->cps + s->npool, cp, n * sizeof *cp);
    memcpy(s->advs + s->npool, adv, n * sizeof *adv);
    s->npool += n;
    s->nwords++;
}

static hb_shape_plan_t *plan_for(ov_shaper *s, int face, const ov_face *fc) {
    hb_segment_properties_t props;
    hb_buffer_get_segment_properties(s->buf, &props);
    for (int i = 0; i < s->nplans; i++)
        if (s->plans[i].face == face && s->plans[i].script == props.script && s->plans[i].lang == props.language)
            return s->plans[i].plan;
    hb_shape_plan_t *plan = hb_shape_plan_create_cached2(fc->kern_face, &props, s->feat, NFEAT, NULL, 0, NULL);
    if (s->nplans < NPLANS) {
        s->plans[s->nplans++] = (shape_plan){ face, props.script, props.language, plan };
        return plan;
    }
    /* more scripts than slots: use it once */
    return plan;
}

double ov_shape(ov_shaper *s, int face, const uint32_t *cp, size_t n, float *adv) {
    const ov_face *fc = face_of(s->fonts, face);
    if (!fc || n == 0)
        return 0;
    if (n == 1) {
        double a = ov_font_advance(s->fonts, face, cp[0]);
        if (adv)
            adv[0] = (float)a;
        return a;
    }
    float local[WORD_CACHE_MAX];
    float *out = adv ? adv : n <= WORD_CACHE_MAX ? local : NULL;
    uint32_t h = 0;
    if (out && n <= WORD_CACHE_MAX) {
        h = word_hash(face, cp, n);
        word_entry *e = word_find(s, h, face, cp, n);
        if (e) {
            double total = 0;
            for (size_t i = 0; i < n; i++)
                total += out[i] = s->advs[e->off + i];
            if (e->fresh) {
                /* the first time in this run: what HarfBuzz's shaping returned */
                e->fresh = 0;
                total = e->total;
            }
            return total;
        }
    }
    hb_buffer_clear_contents(s->buf);
    hb_buffer_add_utf32(s->buf, cp, (int)n, 0, (int)n);
    hb_buffer_guess_segment_properties(s->buf);
    hb_buffer_set_direction(s->buf, HB_DIRECTION_LTR);
    hb_buffer_set_cluster_level(s->buf, HB_BUFFER_CLUSTER_LEVEL_MONOTONE_CHARACTERS);
    hb_shape_plan_t *plan = plan_for(s, face, fc);
    int kept = s->nplans > 0 && s->plans[s->nplans - 1].plan == plan;
    for (int i = 0; i < s->nplans && !kept; i++)
        kept = s->plans[i].plan == plan;
    hb_shape_plan_execute(plan, fc->kern_font, s->buf, s->feat, NFEAT);
    if (!kept)
        hb_shape_plan_destroy(plan);
    unsigned ng = 0;
    hb_glyph_info_t *gi = hb_buffer_get_glyph_infos(s->buf, &ng);
    hb_glyph_position_t *gp = hb_buffer_get_glyph_positions(s->buf, &ng);
    double total = 0;
    if (out)
        for (size_t i = 0; i < n; i++)
            out[i] = 0;
    for (unsigned i = 0; i < ng; i++) {
        double a = gp[i].x_advance * fc->scale;
        total += a;
        if (out && gi[i].cluster < n)
            out[gi[i].cluster] += (float)a;
    }
    if (h) {
        word_put(s, h, face, cp, n, out, total, 0);
        s->dirty = 1;
    }
    return total;
}

/* ---- shaped words kept across runs. A one-document conversion shaped some 700 words with
 * HarfBuzz, and made a shape plan per face (its first use builds HarfBuzz's GPOS accelerators):
 * ~12 M instructions, a fifth of a run. HarfBuzz's results for a document's words are stored in
 * the cache folder when the shaper is done, under a key of the document's bytes and of everything
 * shaping depends on (each font file's identity, HarfBuzz's version, the features), and read back
 * the next time the same document is set: its words then need no shaping at all. An entry is
 *     "OVW1" | the fonts' identity (32 bytes) | count | per word: face, n (bytes), n code points,
 *     n advances (float bits), the total (double bits), numbers little-endian
 * An entry is used only when it carries the same fonts' identity, and its words are compared
 * whole, so even another document's entry (a key collision) would give HarfBuzz's results; one
 * that does not parse is ignored and replaced. A word read back returns the total HarfBuzz gave
 * it the first time it is asked for, as when it was shaped: cold and warm runs set the same
 * lines. */
#define SHAPE_ENTRY_MAX (8u << 20)

static unsigned char g_fonts_id[32];
static pthread_once_t g_fonts_id_once = PTHREAD_ONCE_INIT;

/* The identity of every face's font file, HarfBuzz and the shaping features. */
static void fonts_id_init(void) {
    ov_buf b;
    ov_buf_init(&b);
    ov_buf_printf(&b, "octavo-shape-1|%s|hb %s|", OCTAVO_VERSION_STRING, hb_version_string());
    for (size_t i = 0; i < NFEAT; i++)
        ov_buf_puts(&b, g_off_features[i]);
    for (int i = 0; i < OV_NFACES; i++) {
        const char *p = g_fonts.faces[g_fonts.alias[i]].path;
        struct stat st;
        uint64_t v[6] = { (uint64_t)i, 0, 0, 0, 0, 0 };
        if (p && stat(p, &st) == 0) {
            v[1] = (uint64_t)st.st_dev, v[2] = (uint64_t)st.st_ino, v[3] = (uint64_t)st.st_size;
            v[4] = (uint64_t)st.st_mtim.tv_sec, v[5] = (uint64_t)st.st_mtim.tv_nsec;
            ov_buf_puts(&b, p);
        }
        ov_buf_put(&b, v, sizeof v);
    }
    if (b.failed)
        memset(g_fonts_id, 0, sizeof g_fonts_id); /* all zero: no cache */
    else
        ov_sha256(b.data, b.len, g_fonts_id);
    ov_buf_free(&b);
}

static void put32(unsigned char *p, uint32_t v) { ov_le_put(p, v, 4); }
static uint32_t get32(const unsigned char *p) { return (uint32_t)ov_le_get(p, 4); }

/* Reads an entry into the memo (empty before); 0, or -1 (nothing read) when it does not parse. */
static int shaper_load(ov_shaper *s, const unsigned char *e, size_t len) {
    if (len < 40 || memcmp(e, "OVW1", 4) != 0 || memcmp(e + 4, g_fonts_id, 32) != 0)
        return -1;
    uint32_t count = get32(e + 36);
    /* check all of it before keeping any */
    size_t o = 40;
    for (uint32_t w = 0; w < count; w++) {
        if (len - o < 2)
            return -1;
        unsigned face = e[o], n = e[o + 1];
        if (face >= OV_NFACES || n < 2 || n > WORD_CACHE_MAX || (len - o - 2) < 8u * n + 8)
            return -1;
        o += 2 + 8u * n + 8;
    }
    if (o != len)
        return -1;
    o = 40;
    for (uint32_t w = 0; w < count; w++) {
        unsigned face = e[o], n = e[o + 1];
        uint32_t cp[WORD_CACHE_MAX];
        float adv[WORD_CACHE_MAX];
        const unsigned char *p = e + o + 2;
        for (unsigned i = 0; i < n; i++) {
            cp[i] = get32(p + 4 * i);
            uint32_t bits = get32(p + 4 * n + 4 * i);
            memcpy(&adv[i], &bits, 4);
        }
        uint64_t tb = ov_le_get(p + 8 * n, 8);
        double total;
        memcpy(&total, &tb, 8);
        word_put(s, word_hash((int)face, cp, n), (int)face, cp, n, adv, total, 1);
        o += 2 + 8u * n + 8;
    }
    return 0;
}

/* Stores the memo's words (when HarfBuzz shaped any since the entry was read), best effort. */
static void shaper_save(ov_shaper *s) {
    if (!s->cache_ov || !s->dirty || !s->nwords)
        return;
    s->dirty = 0;
    size_t len = 40 + s->nwords * (2 + 8) + s->npool * 8;
    if (len > SHAPE_ENTRY_MAX)
        return;
    unsigned char *e = ov_malloc(len);
    if (!e)
        return;
    memcpy(e, "OVW1", 4);
    memcpy(e + 4, g_fonts_id, 32);
    put32(e + 36, (uint32_t)s->nwords);
    size_t o = 40;
    for (size_t i = 0; i < s->capwords; i++) {
        const word_entry *w = &s->words[i];
        if (!w->hash)
            continue;
        e[o] = (unsigned char)w->face;
        e[o + 1] = (unsigned char)w->n;
        unsigned char *p = e + o + 2;
        for (unsigned k = 0; k < w->n; k++) {
            uint32_t bits;
            memcpy(&bits, &s->advs[w->off + k], 4);
            put32(p + 4 * k, s->cps[w->off + k]);
            put32(p + 4 * w->n + 4 * k, bits);
        }
        uint64_t tb;
        memcpy(&tb, &w->total, 8);
        ov_le_put(p + 8 * w->n, tb, 8);
        o += 2 + 8u * w->n + 8;
    }
    ov_cache_put(s->cache_ov, s->cache_key, e, o);
    ov_free(e);
}

void ov_shaper_cache(ov_shaper *s, const octavo *ov, const void *doc, const void *text, size_t len) {
    if (!s || s->cache_doc == doc || s->cache_doc == &g_cache_over)
        return;
    if (s->cache_doc) {
        /* a second document (a book): what the first one shaped is stored, and no more */
        shaper_save(s);
        s->cache_ov = NULL;
        s->cache_doc = &g_cache_over;
        return;
    }
    s->cache_doc = doc;
    if (!ov_cache_on(ov) || s->nwords)
        return;
    pthread_once(&g_fonts_id_once, fonts_id_init);
    static const unsigned char zero[32];
    if (!memcmp(g_fonts_id, zero, 32))
        return;
    unsigned char h[32];
    {
        /* the document's bytes, then the fonts' identity */
        unsigned char d[48];
        /* a fast hash picks the entry; what is read must carry the fonts' identity, and its words
         * are compared whole */
        ov_hash128 dh = { UINT64_C(0x9E3779B97F4A7C15) ^ len, UINT64_C(0xC2B2AE3D27D4EB4F) };
        ov_hash128_feed(&dh, text, len);
        memcpy(d, &dh.a, 8);
        memcpy(d + 8, &dh.b, 8);
        memcpy(d + 16, g_fonts_id, 32);
        ov_sha256(d, sizeof d, h);
    }
    static const char hx[] = "0123456789abcdef";
    memcpy(s->cache_key, "shape-", 6);
    for (int i = 0; i < 32; i++) {
        s->cache_key[6 + 2 * i] = hx[h[i] >> 4];
        s->cache_key[7 + 2 * i] = hx[h[i] & 15];
    }
    s->cache_key[70] = 0;
    s->cache_ov = ov;
    unsigned char *e = NULL;
    size_t elen = 0;
    if (ov_cache_get(ov, s->cache_key, &e, &elen)) {
        if (shaper_load(s, e, elen) != 0)
            s->dirty = 1; /* replaced when the shaper is done */
        ov_free(e);
    }
}
