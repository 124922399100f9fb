/*
 * Font metrics for the layout engine: the faces of fonts/fonts.conf, each loaded with HarfBuzz
 * the first time a document needs it (coverage and advances learnt per character, vertical
 * metrics), kept for the process, and kerned: from the GPOS pair tables here (kern_word) where
 * that gives what HarfBuzz gives, else shaped with HarfBuzz. Ligatures and contextual alternates
 * are off: the PDF backend draws one glyph per character, so what we measure is what is drawn.
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

#include <hb-ot.h>
#include <hb-subset.h>
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

typedef struct ov_kern ov_kern;

typedef struct ov_face {
    const char *path;          /* NULL: not installed */
    atomic_int state;          /* 0: not loaded yet, 1: loaded, 2: failed to load */
    hb_blob_t *blob;
    hb_face_t *face;
    hb_font_t *font;
    hb_face_t *kern_face;      /* the same tables but GSUB, for shaping: only kerning is wanted, and
                                  HarfBuzz then neither sanitizes nor plans the substitutions */
    hb_font_t *kern_font;
    ov_kern *kern;             /* kerning read from GPOS (kern_word), NULL: HarfBuzz shapes */
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
 * every installed face by tests/test_kern.c). Any thread may learn a bit: the coverage bit is set
 * before the known bit is released. */
static int face_has(const ov_face *fc, uint32_t cp) {
    if (cp >= 0x10000)
        return 0;
    unsigned char bit = (unsigned char)(1u << (cp & 7));
    if (atomic_load_explicit(&fc->known[cp >> 3], memory_order_acquire) & bit)
        return (atomic_load_explicit(&fc->cover[cp >> 3], memory_order_relaxed) & bit) != 0;
    hb_codepoint_t g = 0;
    int has = hb_font_get_nominal_glyph(fc->font, cp, &g) ? 1 : 0;
    if (has)
        atomic_fetch_or_explicit(&fc->cover[cp >> 3], bit, memory_order_relaxed);
    atomic_fetch_or_explicit(&fc->known[cp >> 3], bit, memory_order_release);
    return has;
}

/* ---- kerning read from GPOS. Shaping a word with HarfBuzz costs ~10,000 instructions, and its
 * first use per face builds the GPOS accelerators (~600,000): a third of a one-document run's
 * layout. With substitutions and every positioning feature but kerning off, what HarfBuzz does to
 * a word of letters of one script is: nominal advances, then each lookup of the language system's
 * 'kern' feature in lookup order, each glyph in turn trying the lookup's subtables until one
 * applies (OpenType pair positioning, formats 1 and 2; a pair with a second value record moves
 * on past its second glyph). That much is done here, straight from the table's bytes (validated
 * once). Everything else goes to HarfBuzz: faces whose kerning is contextual (Noto Sans), uses
 * feature variations, lookup flags other than IgnoreMarks, a required feature, legacy 'kern' or
 * AAT tables; words with characters outside Latin and common punctuation, marks, format or space
 * characters, characters the face lacks, or glyphs GDEF calls marks (HarfBuzz zeroes their
 * advances). tests/test_kern.c compares the two on every face over thousands of words. */
#define KERN_MAX_SUBS 64
#define KG_KNOWN 0x80000000u
#define KG_OK 0x40000000u
#define KG_SLOTS (0x250 + 0x60)
#define WORD_CACHE_MAX 48

typedef struct kern_sub {
    uint32_t cov, cd1, cd2;    /* offsets in GPOS of the coverage and class definitions */
    uint32_t data;             /* format 1: the PairSet offsets' array; format 2: the records */
    uint16_t fmt, vf1, vf2, c1n, c2n, len1, len2; /* len: value record sizes in 16-bit words */
    uint16_t xa1, xa2;         /* the XAdvance's word in each record, 0xFFFF: none */
} kern_sub;

typedef struct kern_set {      /* the lookups of one script's 'kern' feature */
    int ok;                    /* 1: words of this script can be kerned here */
    uint16_t nlookups;
    uint16_t first[KERN_MAX_SUBS + 1]; /* lookup k's subtables: sub[first[k]] .. sub[first[k + 1] - 1] */
} kern_set;

struct ov_kern {
    hb_blob_t *gpos_blob, *gdef_blob;
    const unsigned char *g;    /* GPOS */
    size_t glen;
    const unsigned char *cd;   /* GDEF's glyph class definition, or NULL */
    size_t cdlen;
    kern_sub sub[KERN_MAX_SUBS];
    unsigned nsub;
    kern_set latn, dflt;       /* words with a Latin letter; words of common characters only */
    atomic_uint glyph[KG_SLOTS]; /* per character kern_word takes (kern_slot): 0 not known yet, else
                                    KG_KNOWN | KG_OK when usable | advance << 16 | glyph */
};

static unsigned k16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }

/* A coverage or class definition table at off: 1 when it lies inside the table. */
static int kern_cov_valid(const unsigned char *t, size_t len, size_t off) {
    if (off + 4 > len)
        return 0;
    unsigned fmt = k16(t + off), n = k16(t + off + 2);
    if (fmt == 1)
        return off + 4 + 2 * (size_t)n <= len;
    if (fmt == 2)
        return off + 4 + 6 * (size_t)n <= len;
    return 0;
}
static int kern_cd_valid(const unsigned char *t, size_t len, size_t off) {
    if (off + 6 > len)
        return 0;
    unsigned fmt = k16(t + off);
    if (fmt == 1)
        return off + 6 + 2 * (size_t)k16(t + off + 4) <= len;
    if (fmt == 2)
        return off + 4 + 6 * (size_t)k16(t + off + 2) <= len;
    return 0;
}

/* The coverage index of glyph gid, -1 when not covered. */
static long kern_cov(const unsigned char *c, unsigned gid) {
    unsigned fmt = k16(c), n = k16(c + 2);
    long lo = 0, hi = (long)n - 1;
    if (fmt == 1) {
        while (lo <= hi) {
            long mid = (lo + hi) >> 1;
            unsigned v = k16(c + 4 + 2 * mid);
            if (gid < v)
                hi = mid - 1;
            else if (gid > v)
                lo = mid + 1;
            else
                return mid;
        }
        return -1;
    }
    while (lo <= hi) {
        long mid = (lo + hi) >> 1;
        const unsigned char *r = c + 4 + 6 * mid;
        if (gid < k16(r))
            hi = mid - 1;
        else if (gid > k16(r + 2))
            lo = mid + 1;
        else
            return (long)k16(r + 4) + (long)(gid - k16(r));
    }
    return -1;
}

/* The class of glyph gid (0 when it has none). */
static unsigned kern_class(const unsigned char *c, unsigned gid) {
    unsigned fmt = k16(c);
    if (fmt == 1) {
        unsigned start = k16(c + 2), n = k16(c + 4);
        return gid >= start && gid - start < n ? k16(c + 6 + 2 * (gid - start)) : 0;
    }
    long lo = 0, hi = (long)k16(c + 2) - 1;
    while (lo <= hi) {
        long mid = (lo + hi) >> 1;
        const unsigned char *r = c + 4 + 6 * mid;
        if (gid < k16(r))
            hi = mid - 1;
        else if (gid > k16(r + 2))
            lo = mid + 1;
        else
            return k16(r + 4);
    }
    return 0;
}

static uint16_t value_len(unsigned vf) { return (uint16_t)__builtin_popcount(vf & 0xFF); }

/* Reads a pair-positioning subtable at off into k->sub; 0, or -1 when it is not one we can read. */
static int kern_add_sub(ov_kern *k, size_t off) {
    const unsigned char *t = k->g;
    size_t len = k->glen;
    if (k->nsub >= KERN_MAX_SUBS || off + 10 > len)
        return -1;
    kern_sub s = { 0 };
    s.fmt = (uint16_t)k16(t + off);
    s.cov = (uint32_t)(off + k16(t + off + 2));
    s.vf1 = (uint16_t)k16(t + off + 4);
    s.vf2 = (uint16_t)k16(t + off + 6);
    if ((s.vf1 | s.vf2) & 0xFF00 || !kern_cov_valid(t, len, s.cov))
        return -1;
    s.len1 = value_len(s.vf1);
    s.len2 = value_len(s.vf2);
    s.xa1 = s.vf1 & 4 ? value_len(s.vf1 & 3) : 0xFFFF;
    s.xa2 = s.vf2 & 4 ? value_len(s.vf2 & 3) : 0xFFFF;
    size_t rec = 2 * ((size_t)s.len1 + s.len2);
    if (s.fmt == 1) {
        unsigned nsets = k16(t + off + 8);
        if (off + 10 + 2 * (size_t)nsets > len)
            return -1;
        s.data = (uint32_t)(off + 10);
        for (unsigned i = 0; i < nsets; i++) {
            size_t ps = off + k16(t + off + 10 + 2 * i);
            if (ps + 2 > len || ps + 2 + (size_t)k16(t + ps) * (2 + rec) > len)
                return -1;
        }
        /* coverage indices past the sets are checked at use */
        s.c1n = (uint16_t)nsets;
    } else if (s.fmt == 2) {
        if (off + 16 > len)
            return -1;
        s.cd1 = (uint32_t)(off + k16(t + off + 8));
        s.cd2 = (uint32_t)(off + k16(t + off + 10));
        s.c1n = (uint16_t)k16(t + off + 12);
        s.c2n = (uint16_t)k16(t + off + 14);
        s.data = (uint32_t)(off + 16);
        if (!kern_cd_valid(t, len, s.cd1) || !kern_cd_valid(t, len, s.cd2) ||
            off + 16 + (size_t)s.c1n * s.c2n * rec > len)
            return -1;
    } else
        return -1;
    k->sub[k->nsub++] = s;
    return 0;
}

/* Whether a chained-context positioning subtable (format 3) at off starts only on glyphs GDEF
 * calls marks: its first input coverage holds nothing else. */
static int kern_marks_only(const ov_kern *k, size_t off) {
    const unsigned char *t = k->g;
    size_t len = k->glen;
    if (!k->cd || off + 4 > len || k16(t + off) != 3)
        return 0;
    size_t p = off + 4 + 2 * (size_t)k16(t + off + 2); /* past the backtrack coverages */
    if (p + 4 > len || k16(t + p) == 0)
        return 0;
    size_t cov = off + k16(t + p + 2);
    if (!kern_cov_valid(t, len, cov))
        return 0;
    unsigned fmt = k16(t + cov), n = k16(t + cov + 2);
    for (unsigned i = 0; i < n; i++) {
        if (fmt == 1) {
            if (kern_class(k->cd, k16(t + cov + 4 + 2 * i)) != 3)
                return 0;
        } else {
            unsigned a = k16(t + cov + 4 + 6 * i), b = k16(t + cov + 6 + 6 * i);
            if (b < a || b - a > 4096)
                return 0;
            for (unsigned g = a; g <= b; g++)
                if (kern_class(k->cd, g) != 3)
                    return 0;
        }
    }
    return 1;
}

/* The lookups of the 'kern' feature for a script, as HarfBuzz chooses them: the script (tag, else
 * DFLT, dflt, latn), the language system of the default language's tags (else the default one),
 * the first 'kern' feature it lists. Fills set; set->ok stays 0 when something is beyond us. */
static void kern_script(ov_kern *k, hb_script_t script, kern_set *set) {
    const unsigned char *t = k->g;
    size_t len = k->glen;
    set->ok = 0;
    set->nlookups = 0;
    unsigned sl = k16(t + 4), fl = k16(t + 6), ll = k16(t + 8);
    if (sl + 2 > len || fl + 2 > len || ll + 2 > len)
        return;
    hb_tag_t stags[HB_OT_MAX_TAGS_PER_SCRIPT], ltags[HB_OT_MAX_TAGS_PER_LANGUAGE];
    unsigned ns = HB_OT_MAX_TAGS_PER_SCRIPT, nl = HB_OT_MAX_TAGS_PER_LANGUAGE;
    hb_ot_tags_from_script_and_language(script, hb_language_get_default(), &ns, stags, &nl, ltags);
    hb_tag_t want[HB_OT_MAX_TAGS_PER_SCRIPT + 3];
    unsigned nw = 0;
    for (unsigned i = 0; i < ns; i++)
        want[nw++] = stags[i];
    want[nw++] = HB_TAG('D', 'F', 'L', 'T');
    want[nw++] = HB_TAG('d', 'f', 'l', 't');
    want[nw++] = HB_TAG('l', 'a', 't', 'n');
    unsigned nscripts = k16(t + sl);
    if (sl + 2 + 6 * (size_t)nscripts > len)
        return;
    size_t script_off = 0;
    for (unsigned w = 0; w < nw && !script_off; w++)
        for (unsigned i = 0; i < nscripts; i++) {
            const unsigned char *r = t + sl + 2 + 6 * i;
            if (((hb_tag_t)k16(r) << 16 | k16(r + 2)) == want[w]) {
                script_off = sl + k16(r + 4);
                break;
            }
        }
    if (!script_off) {
        set->ok = 1; /* no script: no features */
        return;
    }
    if (script_off + 4 > len)
        return;
    size_t ls = k16(t + script_off) ? script_off + k16(t + script_off) : 0;
    unsigned nlang = k16(t + script_off + 2);
    if (script_off + 4 + 6 * (size_t)nlang > len)
        return;
    int found = 0;
    for (unsigned w = 0; w < nl && !found; w++)
        for (unsigned i = 0; i < nlang; i++) {
            const unsigned char *r = t + script_off + 4 + 6 * i;
            if (((hb_tag_t)k16(r) << 16 | k16(r + 2)) == ltags[w]) {
                ls = script_off + k16(r + 4);
                found = 1;
                break;
            }
        }
    for (unsigned i = 0; i < nlang && !found; i++) {
        const unsigned char *r = t + script_off + 4 + 6 * i;
        if (((hb_tag_t)k16(r) << 16 | k16(r + 2)) == HB_TAG('d', 'f', 'l', 't')) {
            ls = script_off + k16(r + 4);
            found = 1;
        }
    }
    if (!ls) {
        set->ok = 1;
        return;
    }
    if (ls + 6 > len || k16(t + ls + 2) != 0xFFFF) /* a required feature: not ours */
        return;
    unsigned nf = k16(t + ls + 4), nfeat = k16(t + fl);
    if (ls + 6 + 2 * (size_t)nf > len || fl + 2 + 6 * (size_t)nfeat > len)
        return;
    size_t feat = 0;
    for (unsigned i = 0; i < nf; i++) {
        unsigned fi = k16(t + ls + 6 + 2 * i);
        if (fi >= nfeat)
            return;
        const unsigned char *r = t + fl + 2 + 6 * fi;
        hb_tag_t tag = (hb_tag_t)k16(r) << 16 | k16(r + 2);
        if (tag == HB_TAG('r', 'a', 'n', 'd') || tag == HB_TAG('t', 'r', 'a', 'k'))
            return; /* features HarfBuzz turns on that we do not apply */
        if (tag == HB_TAG('k', 'e', 'r', 'n') && !feat)
            feat = fl + k16(r + 4);
    }
    if (!feat) {
        /* HarfBuzz would then apply a legacy 'kern' table: kern_init refuses faces that have one */
        set->ok = 1;
        return;
    }
    if (feat + 4 > len)
        return;
    unsigned nidx = k16(t + feat + 2), nlook = k16(t + ll);
    if (feat + 4 + 2 * (size_t)nidx > len || ll + 2 + 2 * (size_t)nlook > len || nidx > KERN_MAX_SUBS)
        return;
    /* the lookups in index order, each once */
    uint16_t idx[KERN_MAX_SUBS];
    unsigned n = 0;
    for (unsigned i = 0; i < nidx; i++) {
        unsigned v = k16(t + feat + 4 + 2 * i), j = n;
        if (v >= nlook)
            return;
        while (j > 0 && idx[j - 1] > v)
            j--;
        if (j > 0 && idx[j - 1] == v)
            continue;
        memmove(idx + j + 1, idx + j, (n - j) * sizeof *idx);
        idx[j] = (uint16_t)v;
        n++;
    }
    for (unsigned i = 0; i < n; i++) {
        size_t lk = ll + k16(t + ll + 2 + 2 * idx[i]);
        if (lk + 6 > len)
            return;
        unsigned type = k16(t + lk), flag = k16(t + lk + 2), nsub = k16(t + lk + 4);
        if ((flag & ~0x0009u) || lk + 6 + 2 * (size_t)nsub > len)
            return; /* only RightToLeft (meaningless here) and IgnoreMarks */
        set->first[set->nlookups] = (uint16_t)k->nsub;
        unsigned pairs = 0;
        for (unsigned s = 0; s < nsub; s++) {
            size_t st = lk + k16(t + lk + 6 + 2 * s);
            unsigned ty = type;
            if (type == 9) {
                if (st + 8 > len || k16(t + st) != 1)
                    return;
                ty = k16(t + st + 2);
                st += ((size_t)k16(t + st + 4) << 16) | k16(t + st + 6);
            }
            if (ty == 2 && kern_add_sub(k, st) == 0)
                pairs++;
            else if (ty != 8 || !kern_marks_only(k, st))
                return;
        }
        /* a lookup of contexts that start on marks only (Noto Sans: a wider mark before a
         * closing bracket) never applies to the words kerned here, which have no marks */
        if (pairs && pairs != nsub)
            return;
        if (pairs)
            set->nlookups++;
    }
    set->first[set->nlookups] = (uint16_t)k->nsub;
    set->ok = 1;
}

static int has_table(hb_face_t *face, hb_tag_t tag) {
    hb_blob_t *b = hb_face_reference_table(face, tag);
    int r = hb_blob_get_length(b) > 0;
    hb_blob_destroy(b);
    return r;
}

/* A face's kerning reader in k (zeroed memory), or NULL when HarfBuzz must shape all its words. */
static ov_kern *kern_init(hb_face_t *face, ov_kern *k) {
    static const hb_tag_t aat[] = { HB_TAG('m', 'o', 'r', 'x'), HB_TAG('m', 'o', 'r', 't'), HB_TAG('k', 'e', 'r', 'x'),
                                    HB_TAG('t', 'r', 'a', 'k'), HB_TAG('k', 'e', 'r', 'n') };
    for (size_t i = 0; i < sizeof aat / sizeof aat[0]; i++)
        if (has_table(face, aat[i]))
            return NULL;
    k->gpos_blob = hb_face_reference_table(face, HB_TAG('G', 'P', 'O', 'S'));
    unsigned len = 0;
    k->g = (const unsigned char *)hb_blob_get_data(k->gpos_blob, &len);
    k->glen = len;
    k->gdef_blob = hb_face_reference_table(face, HB_TAG('G', 'D', 'E', 'F'));
    unsigned dlen = 0;
    const unsigned char *d = (const unsigned char *)hb_blob_get_data(k->gdef_blob, &dlen);
    if (d && dlen >= 6 && k16(d) == 1 && k16(d + 4) && kern_cd_valid(d, dlen, k16(d + 4))) {
        k->cd = d + k16(d + 4);
        k->cdlen = dlen - k16(d + 4);
    }
    if (!k->g || k->glen < 10) {
        /* no GPOS: nominal advances */
        k->latn.ok = k->dflt.ok = 1;
        return k;
    }
    unsigned major = k16(k->g), minor = k16(k->g + 2);
    int varied = minor >= 1 && (k->glen < 14 || k16(k->g + 10) || k16(k->g + 12));
    if (major == 1 && !varied) {
        kern_script(k, HB_SCRIPT_LATIN, &k->latn);
        kern_script(k, HB_SCRIPT_INVALID, &k->dflt);
    }
    if (!k->latn.ok && !k->dflt.ok) {
        hb_blob_destroy(k->gpos_blob);
        hb_blob_destroy(k->gdef_blob);
        return NULL;
    }
    return k;
}


/* The characters kerned here have a slot in ov_kern.glyph: U+0000..U+024F and U+2000..U+205F. */
static int kern_slot(uint32_t cp) { return cp < 0x250 ? (int)cp : cp >= 0x2000 && cp < 0x2060 ? (int)(cp - 0x2000 + 0x250) : -1; }

/* The characters kerned here: Latin letters and common punctuation, symbols and digits, no marks,
 * spaces, format or control characters (HarfBuzz hides, zeroes or substitutes those). *latin is
 * set when cp is a Latin letter. */
static int kern_char(uint32_t cp, int *latin) {
    if (cp < 0x21 || (cp > 0x24F && !(cp >= 0x2010 && cp <= 0x2027) && !(cp >= 0x2030 && cp <= 0x205E)) ||
        cp == 0x7F || (cp >= 0x80 && cp <= 0xA0) || cp == 0xAD || cp == 0x2044)
        return 0;
    if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z') || cp == 0xAA || cp == 0xBA ||
        (cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7))
        *latin = 1;
    return 1;
}

/* Kerns a word: x[i] receives glyph i's advance in font units. 0, or -1 when HarfBuzz must. */
static int kern_word(const ov_face *fc, const uint32_t *cp, size_t n, int32_t *x) {
    const ov_kern *k = fc->kern;
    if (!k || n > WORD_CACHE_MAX)
        return -1;
    uint16_t gl[WORD_CACHE_MAX];
    int latin = 0;
    for (size_t i = 0; i < n; i++) {
        if (!kern_char(cp[i], &latin))
            return -1;
        atomic_uint *slot = (atomic_uint *)&k->glyph[kern_slot(cp[i])];
        unsigned v = atomic_load_explicit(slot, memory_order_relaxed);
        if (!v) {
            /* the face's glyph, not a mark for GDEF, and its advance */
            hb_codepoint_t g = 0;
            hb_position_t a = 0;
            v = KG_KNOWN;
            if (face_has(fc, cp[i]) && hb_font_get_nominal_glyph(fc->font, cp[i], &g) &&
                g <= 0xFFFF && !(k->cd && kern_class(k->cd, g) == 3) &&
                (a = hb_font_get_glyph_h_advance(fc->font, g)) >= 0 && a < 0x3FFF)
                v |= KG_OK | (unsigned)a << 16 | g;
            atomic_store_explicit(slot, v, memory_order_relaxed);
        }
        if (!(v & KG_OK))
            return -1;
        gl[i] = (uint16_t)v;
        x[i] = (int32_t)(v >> 16 & 0x3FFF);
    }
    const kern_set *set = latin ? &k->latn : &k->dflt;
    if (!set->ok)
        return -1;
    const unsigned char *t = k->g;
    for (unsigned l = 0; l < set->nlookups; l++) {
        size_t i = 0;
        while (i < n) {
            size_t next = i + 1;
            if (i + 1 < n)
                for (unsigned si = set->first[l]; si < set->first[l + 1]; si++) {
                    const kern_sub *s = &k->sub[si];
                    long ci = kern_cov(t + s->cov, gl[i]);
                    if (ci < 0)
                        continue;
                    const unsigned char *rec = NULL;
                    if (s->fmt == 1) {
                        if (ci >= s->c1n)
                            continue;
                        const unsigned char *ps = t + s->data - 10 + k16(t + s->data + 2 * ci);
                        unsigned cnt = k16(ps), stride = 2 + 2 * ((unsigned)s->len1 + s->len2);
                        long lo = 0, hi = (long)cnt - 1;
                        while (lo <= hi) {
                            long mid = (lo + hi) >> 1;
                            unsigned v = k16(ps + 2 + stride * mid);
                            if (gl[i + 1] < v)
                                hi = mid - 1;
                            else if (gl[i + 1] > v)
                                lo = mid + 1;
                            else {
                                rec = ps + 2 + stride * mid + 2;
                                break;
                            }
                        }
                        if (!rec)
                            continue;
                    } else {
                        unsigned k1 = kern_class(t + s->cd1, gl[i]), k2 = kern_class(t + s->cd2, gl[i + 1]);
                        if (k1 >= s->c1n || k2 >= s->c2n)
                            continue;
                        rec = t + s->data + 2 * ((size_t)s->len1 + s->len2) * ((size_t)k1 * s->c2n + k2);
                    }
                    if (s->xa1 != 0xFFFF)
                        x[i] += (int16_t)k16(rec + 2 * s->xa1);
                    if (s->xa2 != 0xFFFF)
                        x[i + 1] += (int16_t)k16(rec + 2 * (s->len1 + s->xa2));
                    next = s->len2 ? i + 2 : i + 1;
                    break;
                }
            i = next;
        }
    }
    return 0;
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
    /* the face's tables in one mapping populated at once: calloc cleared all 8 KB + 24 KB + 5 KB
     * page by page (~8 first touches a face at ~12 us each here) where 10 populated pages cost
     * ~25 us; kept for the process like the rest of the face */
    size_t mem_size = 16384 + ADV_CACHE_N * sizeof *fc->adv_cache + sizeof(ov_kern);
    unsigned char *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED && !(mem = calloc(1, mem_size)))
        return 0;
    fc->cover = (atomic_uchar *)mem;
    fc->known = (atomic_uchar *)(mem + 8192);
    fc->adv_cache = (atomic_ushort *)(mem + 16384);
    fc->kern = kern_init(fc->face, (ov_kern *)(mem + 16384 + ADV_CACHE_N * sizeof *fc->adv_cache));
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
static ov_face *ready(ov_face *fc) {
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
    for (size_t i = 0; i < NFEAT; i++)
        hb_feature_from_string(g_off_features[i], -1, &s->feat[i]);
    return s;
}

void ov_shaper_free(ov_shaper *s) {
    if (!s)
        return;
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

static const word_entry *word_find(const ov_shaper *s, uint32_t h, int face, const uint32_t *cp, size_t n) {
    if (!s->capwords)
        return NULL;
    for (size_t i = h & (s->capwords - 1); s->words[i].hash; i = (i + 1) & (s->capwords - 1)) {
        const word_entry *e = &s->words[i];
        if (e->hash == h && e->face == face && e->n == n && !memcmp(s->cps + e->off, cp, n * sizeof *cp))
            return e;
    }
    return NULL;
}

/* Keeps a word's advances; a failed allocation only means it is not kept. */
static void word_put(ov_shaper *s, uint32_t h, int face, const uint32_t *cp, size_t n, const float *adv) {
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

/* HarfBuzz's shaping of n characters: out[i] (when out) their advances; returns the total. */
static double shape_hb(ov_shaper *s, int face, const ov_face *fc, const uint32_t *cp, size_t n, float *out) {
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
    return total;
}

int ov_font_kern_native(const ov_fonts *f, int face) {
    const ov_face *fc = face_of(f, face);
    return fc && fc->kern ? (fc->kern->latn.ok ? 1 : 0) | (fc->kern->dflt.ok ? 2 : 0) : 0;
}

double ov_shape_harfbuzz(ov_shaper *s, int face, const uint32_t *cp, size_t n, float *adv) {
    const ov_face *fc = face_of(s->fonts, face);
    if (!fc || n == 0)
        return 0;
    return shape_hb(s, face, fc, cp, n, adv);
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
        const word_entry *e = word_find(s, h, face, cp, n);
        if (e) {
            double total = 0;
            for (size_t i = 0; i < n; i++)
                total += out[i] = s->advs[e->off + i];
            return total;
        }
    }
    double total = 0;
    int32_t x[WORD_CACHE_MAX];
    if (out && kern_word(fc, cp, n, x) == 0) {
        /* as shape_hb sums HarfBuzz's advances */
        for (size_t i = 0; i < n; i++) {
            double a = x[i] * fc->scale;
            total += a;
            out[i] = (float)a;
        }
    } else
        total = shape_hb(s, face, fc, cp, n, out);
    if (h)
        word_put(s, h, face, cp, n, out);
    return total;
}
