/*
 * The PDF backend: ov_layout (pages of positioned boxes) -> PDF with libharu 2.3.0. Every libharu
 * call and every workaround of ../shared/notes/libharu-2.3.0.md lives in this file:
 *  - fonts embedded as HarfBuzz subsets of the characters drawn (font.c), written here as Type0 /
 *    CIDFontType2 objects with libharu's object API: libharu's TrueType loader is not used (it
 *    maps 65,536 code points per font, embeds whole tables, drops nested composite glyphs and
 *    writes a wrong ToUnicode);
 *  - text as raw content: BT, Tf, Tm and TJ arrays of literal two-byte codes carrying kerning and
 *    justification (Tw is ignored by viewers with two-byte codes);
 *  - /ToUnicode a bfchar CMap of the characters used; /W the advances the layout measured with;
 *  - images decoded by image.c to 8-bit pixels (16-bit and interlaced PNG never reach libharu),
 *    downsampled to 300 dpi at their placed size, photos as JPEG, drawings as deflated planes with
 *    a deflated SMask, both kept in the converted-image cache; JPEGs placed as they are only when
 *    upright and not CMYK;
 *  - page content, images and the saved file bypass libharu's memory streams (which copy every
 *    byte twice with a byte loop): streams read our buffers, the save writes into the sink;
 *  - a tagged structure tree (P, H1-H6, Figure with /Alt, Caption, Note, Code) over marked
 *    content, furniture as artifacts;
 *  - link annotations without borders, URIs percent-encoded; destinations [page /XYZ x y null];
 *  - outline and Info as PDF text strings (UTF-16 where not ASCII), frontmatter dates (no clock),
 *    /Lang, page labels, a content-derived /ID: identical input gives identical bytes;
 *  - an error handler that records and returns (no longjmp); every status is checked.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "image_int.h"
#include "layout.h"
#include "pdfdl.h" /* libharu (and HarfBuzz), loaded on the first PDF */

/* A deflater kept across streams (zlib keeps ~270 KB of state: made once, not once per stream, it
 * is also the pages of memory touched once): the document's, and one per image-preparing thread. */
typedef struct zctx {
    z_stream zs;
    int ready, level;
} zctx;

typedef struct pfont {
    const char *path;
    int face;                  /* the first face using it (for metrics and subsetting) */
    HPDF_Dict font;            /* the Type0 font */
    uint64_t *used;            /* BMP bitmap of code points drawn (1024 words) */
    uint16_t rank[1024];       /* code points used before each word of the bitmap */
    size_t count;
} pfont;

typedef struct pdfw {
    HPDF_Doc pdf;
    ov_layout *ly;
    const octavo *ov;
    const char *docname;
    HPDF_STATUS error, detail;
    int nomem;                 /* one of our own allocations failed (an OCTAVO_E_NOMEM, not libharu's) */
    zctx z;                    /* the compressor of every stream written here (pdf_deflate) */
    pfont fonts[OV_NFACES];
    int nfonts;
    int face_font[OV_NFACES];  /* face -> index in fonts, -1 */
    HPDF_Image *images;
    HPDF_Page *pages;
    unsigned char hash[32];
    /* tagged PDF: the marked-content sequences written, in order (page, MCID, element) */
    struct mcref {
        uint32_t page, mcid;
        int32_t tag;
    } *mc;
    size_t nmc, capmc;
} pdfw;

static void on_error(HPDF_STATUS error_no, HPDF_STATUS detail_no, void *user_data) {
    pdfw *w = user_data;
    if (!w->error) {
        w->error = error_no;
        w->detail = detail_no;
    }
}

static int fail(pdfw *w, octavo_error *err, const char *what) {
    if (w->nomem)
        return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_PDF, w->docname, 0, 0, NULL);
    return ov_error(err, OCTAVO_E_PDF, OCTAVO_STAGE_PDF, w->docname, 0, 0, "libharu failed %s (error 0x%04X, detail %u)",
                    what, (unsigned)w->error, (unsigned)w->detail);
}

/* ---- fonts. libharu's own TrueType path is not used: it maps all 65,536 code points through each
 * font's cmap when a font is made, writes whole tables but glyf, drops nested composite glyphs and
 * writes a wrong ToUnicode. Instead every font used is subset with HarfBuzz (font.c) to the
 * characters drawn and embedded here as a Type0 font over a CIDFontType2: codes 1..n number the
 * characters used in code point order, /CIDToGIDMap maps them to the subset's glyphs, /W gives
 * the advances the layout measured with, /ToUnicode gives each code its character. */

/* The font slot of a face (by font file: faces that stand in for each other share one). */
static int font_slot(pdfw *w, int face, octavo_error *err) {
    if (face < 0 || face >= OV_NFACES)
        face = 0;
    if (w->face_font[face] != -1)
        return w->face_font[face];
    const char *path = ov_font_path(w->ly->fonts, face);
    if (!path) {
        w->face_font[face] = -3;
        return -3;
    }
    for (int i = 0; i < w->nfonts; i++)
        if (strcmp(w->fonts[i].path, path) == 0) {
            w->face_font[face] = i;
            return i;
        }
    pfont *pf = &w->fonts[w->nfonts];
    memset(pf, 0, sizeof *pf);
    pf->path = path;
    pf->face = face;
    pf->used = ov_calloc(1024, sizeof *pf->used);
    if (!pf->used) {
        ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_PDF, w->docname, 0, 0, "out of memory");
        return -2;
    }
    w->face_font[face] = w->nfonts;
    return w->nfonts++;
}

/* The code of a character in its font: 1 + the number of used code points below it. */
static unsigned font_code(const pfont *pf, uint16_t ch) {
    uint64_t bits = pf->used[ch >> 6] & ((UINT64_C(1) << (ch & 63)) - 1);
    return 1u + pf->rank[ch >> 6] + (unsigned)__builtin_popcountll(bits);
}

/* Every character of every text box, per font: what the subsets hold. */
static int collect_fonts(pdfw *w, octavo_error *err) {
    ov_layout *ly = w->ly;
    for (size_t p = 0; p < ly->npages; p++) {
        const ov_page *pg = &ly->pages[p];
        for (size_t i = 0; i < pg->n; i++) {
            const ov_box *b = &pg->boxes[i];
            if (b->kind != OV_BOX_TEXT || !b->n)
                continue;
            int fi = font_slot(w, b->face, err);
            if (fi == -2)
                return -1;
            if (fi < 0)
                continue;
            uint64_t *used = w->fonts[fi].used;
            for (uint32_t k = 0; k < b->n; k++) {
                uint16_t ch = ly->cp[b->off + k];
                used[ch >> 6] |= UINT64_C(1) << (ch & 63);
            }
        }
    }
    for (int i = 0; i < w->nfonts; i++) {
        pfont *pf = &w->fonts[i];
        pf->used[0] &= ~UINT64_C(1); /* U+0000 is never drawn */
        size_t acc = 0;
        for (int k = 0; k < 1024; k++) {
            pf->rank[k] = (uint16_t)acc;
            acc += (size_t)__builtin_popcountll(pf->used[k]);
        }
        pf->count = acc;
    }
    return 0;
}

static HPDF_Dict new_dict(pdfw *w) {
    HPDF_Dict d = HPDF_Dict_New(w->pdf->mmgr);
    if (d && HPDF_Xref_Add(w->pdf->xref, d) != HPDF_OK)
        return NULL; /* Xref_Add frees it on failure */
    return d;
}

/* ---- streams over our own buffers. libharu's memory streams copy every byte in and out with a
 * byte loop (HPDF_MemCpy, ~10 instructions a byte both ways); large data (page content, images)
 * is handed over instead: the dictionary's stream reads straight from our buffer, which it frees
 * with the document when it owns it. */
typedef struct bufsrc {
    const unsigned char *data;
    size_t len, pos;
    void *owned;               /* freed with the stream (ov_free), or NULL */
} bufsrc;

static HPDF_STATUS bufsrc_read(HPDF_Stream s, HPDF_BYTE *p, HPDF_UINT *n) {
    bufsrc *b = s->attr;
    size_t left = b->len - b->pos;
    if (*n > left) {
        memcpy(p, b->data + b->pos, left);
        b->pos = b->len;
        *n = (HPDF_UINT)left;
        return HPDF_STREAM_EOF;
    }
    memcpy(p, b->data + b->pos, *n);
    b->pos += *n;
    return HPDF_OK;
}

static HPDF_STATUS bufsrc_seek(HPDF_Stream s, HPDF_INT pos, HPDF_WhenceMode mode) {
    bufsrc *b = s->attr;
    long long to = mode == HPDF_SEEK_SET ? pos : mode == HPDF_SEEK_CUR ? (long long)b->pos + pos : (long long)b->len + pos;
    if (to < 0 || (size_t)to > b->len)
        return HPDF_SetError(s->error, HPDF_STREAM_EOF, 0);
    b->pos = (size_t)to;
    return HPDF_OK;
}

static HPDF_INT32 bufsrc_tell(HPDF_Stream s) { return (HPDF_INT32)((bufsrc *)s->attr)->pos; }
static HPDF_UINT32 bufsrc_size(HPDF_Stream s) { return (HPDF_UINT32)((bufsrc *)s->attr)->len; }

static void bufsrc_free(HPDF_Stream s) {
    bufsrc *b = s->attr;
    if (b) {
        ov_free(b->owned);
        ov_free(b);
    }
    s->attr = NULL;
}

/* Makes data the content of stream dictionary d (owned: freed with the document, and at once on
 * failure). Returns 0, or -1 when out of memory. */
static int stream_take(pdfw *w, HPDF_Dict d, const void *data, size_t len, void *owned) {
    bufsrc *b = ov_malloc(sizeof *b);
    HPDF_Stream s = b ? HPDF_GetMem(w->pdf->mmgr, sizeof(HPDF_Stream_Rec)) : NULL;
    if (!s) {
        if (!b)
            w->nomem = 1;
        ov_free(b);
        ov_free(owned);
        return -1;
    }
    memset(s, 0, sizeof *s);
    s->sig_bytes = HPDF_STREAM_SIG_BYTES;
    s->type = HPDF_STREAM_UNKNOWN; /* not a memory stream: libharu treats it through its functions only */
    s->mmgr = w->pdf->mmgr;
    s->error = w->pdf->mmgr->error;
    s->size = (HPDF_UINT)len;
    s->read_fn = bufsrc_read;
    s->seek_fn = bufsrc_seek;
    s->tell_fn = bufsrc_tell;
    s->size_fn = bufsrc_size;
    s->free_fn = bufsrc_free;
    b->data = data;
    b->len = len;
    b->pos = 0;
    b->owned = owned;
    s->attr = b;
    HPDF_Stream_Free(d->stream);
    d->stream = s;
    return 0;
}

/* A stream whose data is compressed already (or cached so): libharu copies it as it is. It writes
 * /Filter from dict->filter, which must then stay NONE, so the dictionary's write callback names
 * the filter. */
static HPDF_STATUS name_flate_filter(HPDF_Dict d, HPDF_Stream s) {
    (void)d;
    return HPDF_Stream_WriteStr(s, "/Filter /FlateDecode\012");
}
static HPDF_STATUS name_dct_filter(HPDF_Dict d, HPDF_Stream s) {
    (void)d;
    return HPDF_Stream_WriteStr(s, "/Filter /DCTDecode\012");
}

/* Deflates with z's compressor, at level. NULL when out of memory (*nomem set) or when zlib fails. */
static unsigned char *zctx_deflate(zctx *z, const void *p, size_t n, int level, size_t *zlen, int *nomem) {
    if (!z->ready) {
        memset(&z->zs, 0, sizeof z->zs);
        if (deflateInit(&z->zs, level) != Z_OK) {
            *nomem = 1;
            return NULL;
        }
        z->ready = 1;
        z->level = level;
    } else {
        deflateReset(&z->zs);
        if (level != z->level && deflateParams(&z->zs, level, Z_DEFAULT_STRATEGY) == Z_OK)
            z->level = level;
    }
    uLong cap = deflateBound(&z->zs, (uLong)n);
    unsigned char *out = ov_malloc(cap ? cap : 1);
    if (!out) {
        *nomem = 1;
        return NULL;
    }
    z->zs.next_in = (Bytef *)p;
    z->zs.avail_in = (uInt)n;
    z->zs.next_out = out;
    z->zs.avail_out = (uInt)cap;
    if (deflate(&z->zs, Z_FINISH) != Z_STREAM_END) {
        ov_free(out);
        return NULL;
    }
    *zlen = cap - z->zs.avail_out;
    return out;
}

/* The same into out (cap bytes, at least deflateBound of n): 0 and *zlen, or -1. */
static int zctx_deflate_to(zctx *z, const void *p, size_t n, int level, unsigned char *out, size_t cap, size_t *zlen) {
    if (!z->ready) {
        memset(&z->zs, 0, sizeof z->zs);
        if (deflateInit(&z->zs, level) != Z_OK)
            return -1;
        z->ready = 1;
        z->level = level;
    } else {
        deflateReset(&z->zs);
        if (level != z->level && deflateParams(&z->zs, level, Z_DEFAULT_STRATEGY) == Z_OK)
            z->level = level;
    }
    z->zs.next_in = (Bytef *)p;
    z->zs.avail_in = (uInt)n;
    z->zs.next_out = out;
    z->zs.avail_out = (uInt)cap;
    if (deflate(&z->zs, Z_FINISH) != Z_STREAM_END)
        return -1;
    *zlen = cap - z->zs.avail_out;
    return 0;
}

static void zctx_end(zctx *z) {
    if (z->ready)
        deflateEnd(&z->zs);
    z->ready = 0;
}

/* Deflates n bytes with the document's one compressor. NULL when out of memory. */
static unsigned char *pdf_deflate(pdfw *w, const void *p, size_t n, int level, size_t *zlen) {
    return zctx_deflate(&w->z, p, n, level, zlen, &w->nomem);
}

static int add_num(HPDF_Dict d, const char *key, double v) {
    if (v == floor(v) && fabs(v) < 1e9)
        return HPDF_Dict_AddNumber(d, key, (HPDF_INT32)v);
    return HPDF_Dict_AddReal(d, key, (HPDF_REAL)v);
}

static int array_num(HPDF_Array a, double v) {
    v = floor(v * 1000 + 0.5) / 1000;
    if (v == floor(v))
        return HPDF_Array_AddNumber(a, (HPDF_INT32)v);
    return HPDF_Array_AddReal(a, (HPDF_REAL)v);
}

static void hex4(char *o, unsigned v) {
    static const char hx[] = "0123456789ABCDEF";
    o[0] = hx[(v >> 12) & 15];
    o[1] = hx[(v >> 8) & 15];
    o[2] = hx[(v >> 4) & 15];
    o[3] = hx[v & 15];
}

/* ---- a font's embedded data, cached. Subsetting a font (HarfBuzz) and deflating its program were
 * most of a one-document conversion's font work (12% of a run), and the same characters of the
 * same font file always give the same bytes: they are kept in the cache folder, under a key of
 * everything they depend on (the font file's and the subsetter's identity, the characters, the
 * face, the library's and zlib's versions, the compression level). An entry holds what the font's
 * objects are made of, in one block, numbers little-endian:
 *     "OVF1" | n | Length1 | Flags | 9 doubles: ItalicAngle, Ascent, Descent, CapHeight, StemV,
 *     FontBBox | PostScript name (64 bytes, NUL-padded) | the 3 streams' lengths | n widths
 *     (doubles) | font program | CIDToGIDMap | ToUnicode (the streams deflated)
 * A cold run makes the entry, stores it, then builds the objects from it exactly as a warm run
 * builds them from the cached copy: the two cannot give different bytes. An entry that does not
 * parse is a miss (the cache already refuses torn and altered files by their CRC). */
#define FONT_LEVEL 6 /* as libharu would; the cost is paid once per font and character set */
/* page content streams (text operators): zlib level 1. Measured on the six benchmark posts, warm:
 * level 5 -> 1 is 12% less CPU per conversion for 1% more bytes (657 -> 664 KB) */
#define CONTENT_LEVEL 1
#define FONT_HEAD (4 + 4 * 4 + 9 * 8 + 64 + 3 * 4)

typedef struct font_entry {
    size_t n;
    uint32_t len1;
    int flags;
    double m[9];               /* ItalicAngle, Ascent, Descent, CapHeight, StemV, FontBBox */
    char psname[64];
    const unsigned char *width; /* n doubles */
    const unsigned char *prog, *map, *uni;
    size_t prog_len, map_len, uni_len;
} font_entry;

static void fe_put32(unsigned char *p, uint32_t v) { ov_le_put(p, v, 4); }
static uint32_t fe_get32(const unsigned char *p) { return (uint32_t)ov_le_get(p, 4); }
static void fe_putd(unsigned char *p, double d) {
    uint64_t v;
    memcpy(&v, &d, 8);
    ov_le_put(p, v, 8);
}
static double fe_getd(const unsigned char *p) {
    uint64_t v = ov_le_get(p, 8);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static int psname_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
}

/* The cache key of a font's entry: "font-" and 64 hex digits. -1 when the face cannot be had. */
static int font_key(pdfw *w, const pfont *pf, const unsigned char cps_hash[32], size_t n, char key[72]) {
    unsigned char id[32], h[32];
    if (ov_font_identity(w->ly->fonts, pf->face, id) != 0)
        return -1;
    char s[256];
    int k = snprintf(s, sizeof s, "octavo-pdf-font-1|%s|zlib %s|level %d|face %d|n %zu|", OCTAVO_VERSION_STRING,
                     zlibVersion(), FONT_LEVEL, pf->face, n);
    if (k < 0 || (size_t)k + 64 > sizeof s)
        return -1;
    memcpy(s + k, id, 32);
    memcpy(s + k + 32, cps_hash, 32);
    ov_sha256(s, (size_t)k + 64, h);
    static const char hx[] = "0123456789abcdef";
    memcpy(key, "font-", 5);
    for (int i = 0; i < 32; i++) {
        key[5 + 2 * i] = hx[h[i] >> 4];
        key[6 + 2 * i] = hx[h[i] & 15];
    }
    key[69] = 0;
    return 0;
}

/* Reads an entry made for n characters; 0, or -1 when it is not one. */
static int font_entry_parse(const unsigned char *e, size_t len, size_t n, font_entry *fe) {
    if (len < FONT_HEAD || memcmp(e, "OVF1", 4) != 0 || fe_get32(e + 4) != n)
        return -1;
    fe->n = n;
    fe->len1 = fe_get32(e + 8);
    fe->flags = (int)fe_get32(e + 12);
    const unsigned char *p = e + 20;
    for (int k = 0; k < 9; k++, p += 8) {
        fe->m[k] = fe_getd(p);
        if (!isfinite(fe->m[k]) || fabs(fe->m[k]) > 1e6)
            return -1;
    }
    memcpy(fe->psname, p, 64);
    p += 64;
    if (fe->psname[63] || !fe->psname[0])
        return -1;
    for (const char *s = fe->psname; *s; s++)
        if (!psname_char(*s))
            return -1;
    fe->prog_len = fe_get32(p);
    fe->map_len = fe_get32(p + 4);
    fe->uni_len = fe_get32(p + 8);
    p += 12;
    if (!fe->len1 || fe->flags < 0 || fe->flags > 0x7FFFF || (len - FONT_HEAD) / 8 < n ||
        len - FONT_HEAD - 8 * n != fe->prog_len + fe->map_len + fe->uni_len || !fe->prog_len || !fe->map_len ||
        !fe->uni_len)
        return -1;
    fe->width = p;
    for (size_t i = 0; i < n; i++) {
        double d = fe_getd(p + 8 * i);
        if (!isfinite(d) || fabs(d) > 1e6)
            return -1;
    }
    fe->prog = p + 8 * n;
    fe->map = fe->prog + fe->prog_len;
    fe->uni = fe->map + fe->map_len;
    return 0;
}

/* Subsets the font to the n characters cps and makes its entry (ov_malloc'd). NULL with *rc an
 * octavo_code, or OCTAVO_E_PDF when deflating failed. */
static unsigned char *font_entry_make(pdfw *w, const pfont *pf, const uint32_t *cps, size_t n, size_t *len, int *rc) {
    ov_font_subset sub;
    *rc = ov_font_make_subset(w->ly->fonts, pf->face, cps, n, &sub);
    if (*rc)
        return NULL;
    unsigned char *e = NULL, *zp = NULL, *zm = NULL, *zu = NULL;
    size_t lp = 0, lm = 0, lu = 0;
    *rc = OCTAVO_E_NOMEM;
    /* codes -> glyphs */
    unsigned char *map = ov_calloc(n + 1, 2);
    ov_buf m;
    ov_buf_init(&m);
    if (!map || sub.len > UINT32_MAX)
        goto out;
    for (size_t i = 0; i < n; i++) {
        map[2 * (i + 1)] = (unsigned char)(sub.gid[i] >> 8);
        map[2 * (i + 1) + 1] = (unsigned char)sub.gid[i];
    }
    /* ToUnicode: a bfchar CMap (a bfrange one broke Ghostscript 10.0) */
    ov_buf_puts(&m, "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
                    "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
                    "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
                    "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n");
    for (size_t i = 0; i < n; i += 100) {
        size_t nb = n - i < 100 ? n - i : 100;
        ov_buf_printf(&m, "%zu beginbfchar\n", nb);
        for (size_t k = i; k < i + nb; k++) {
            char line[16] = "<0000> <0000>\n";
            hex4(line + 1, (unsigned)(k + 1));
            hex4(line + 8, cps[k]);
            ov_buf_put(&m, line, 14);
        }
        ov_buf_puts(&m, "endbfchar\n");
    }
    ov_buf_puts(&m, "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    if (m.failed)
        goto out;
    zp = pdf_deflate(w, sub.data, sub.len, FONT_LEVEL, &lp);
    zm = zp ? pdf_deflate(w, map, (n + 1) * 2, FONT_LEVEL, &lm) : NULL;
    zu = zm ? pdf_deflate(w, m.data, m.len, FONT_LEVEL, &lu) : NULL;
    if (!zu) {
        if (!w->nomem)
            *rc = OCTAVO_E_PDF;
        goto out;
    }
    if (lp > UINT32_MAX || lm > UINT32_MAX || lu > UINT32_MAX)
        goto out;
    *len = FONT_HEAD + 8 * n + lp + lm + lu;
    e = ov_malloc(*len);
    if (!e)
        goto out;
    memcpy(e, "OVF1", 4);
    fe_put32(e + 4, (uint32_t)n);
    fe_put32(e + 8, (uint32_t)sub.len);
    fe_put32(e + 12, (uint32_t)sub.flags);
    fe_put32(e + 16, 0);
    double mv[9] = { sub.italic_angle, sub.ascent, sub.descent, sub.capheight, sub.stemv,
                     sub.bbox[0], sub.bbox[1], sub.bbox[2], sub.bbox[3] };
    unsigned char *p = e + 20;
    for (int k = 0; k < 9; k++, p += 8)
        fe_putd(p, mv[k]);
    memset(p, 0, 64);
    memcpy(p, sub.psname, strnlen(sub.psname, 63));
    p += 64;
    fe_put32(p, (uint32_t)lp);
    fe_put32(p + 4, (uint32_t)lm);
    fe_put32(p + 8, (uint32_t)lu);
    p += 12;
    for (size_t i = 0; i < n; i++, p += 8)
        fe_putd(p, sub.width[i]);
    memcpy(p, zp, lp);
    memcpy(p + lp, zm, lm);
    memcpy(p + lp + lm, zu, lu);
    *rc = OCTAVO_OK;
out:
    if (*rc == OCTAVO_E_NOMEM)
        w->nomem = 1;
    ov_free(map);
    ov_buf_free(&m);
    ov_free(zp);
    ov_free(zm);
    ov_free(zu);
    ov_font_subset_free(&sub);
    return e;
}

/* A new stream object over data encoded already, read from our buffer (owned: freed with the
 * document, or at once on failure); write_fn names its filter in the dictionary. */
static HPDF_Dict encoded_stream(pdfw *w, const void *data, size_t len, void *owned, HPDF_Dict_OnWriteFunc write_fn) {
    HPDF_Dict d = HPDF_DictStream_New(w->pdf->mmgr, w->pdf->xref);
    if (!d) {
        ov_free(owned);
        return NULL;
    }
    if (stream_take(w, d, data, len, owned) < 0)
        return NULL;
    d->filter = HPDF_STREAM_FILTER_NONE;
    d->write_fn = write_fn;
    return d;
}

/* A stream of data deflated already. */
static HPDF_Dict deflated_stream(pdfw *w, const unsigned char *z, size_t zlen, void *owned) {
    return encoded_stream(w, z, zlen, owned, name_flate_filter);
}

/* Subsets a font to what its pages draw and makes its PDF objects (the subset and its streams
 * from the cache when they are there). */
static int embed_font(pdfw *w, pfont *pf, octavo_error *err) {
    if (!pf->count)
        return 0;
    uint32_t *cps = ov_malloc(pf->count * sizeof *cps);
    if (!cps)
        return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_PDF, w->docname, 0, 0, "out of memory");
    size_t n = 0;
    for (uint32_t k = 0; k < 1024; k++)
        for (uint64_t bits = pf->used[k]; bits; bits &= bits - 1)
            cps[n++] = k * 64 + (uint32_t)__builtin_ctzll(bits);
    unsigned char h[32];
    ov_sha256(cps, n * sizeof *cps, h);
    char key[72];
    int cached = font_key(w, pf, h, n, key) == 0;
    unsigned char *e = NULL;
    size_t elen = 0;
    font_entry fe;
    if (cached && ov_cache_get(w->ov, key, &e, &elen) && font_entry_parse(e, elen, n, &fe) != 0) {
        ov_free(e);
        e = NULL;
    }
    if (!e) {
        /* HarfBuzz's subsetter is loaded on the first subset not in the cache: never on a warm run */
        int rc = ov_pdf_load_hb_subset(err);
        if (rc) {
            ov_free(cps);
            return rc;
        }
        e = font_entry_make(w, pf, cps, n, &elen, &rc);
        if (!e) {
            ov_free(cps);
            if (rc == OCTAVO_E_PDF)
                return fail(w, err, "to embed a font");
            return ov_error(err, rc, OCTAVO_STAGE_PDF, w->docname, 0, 0,
                            rc == OCTAVO_E_NOMEM ? NULL : "cannot subset the font %s", pf->path);
        }
        if (font_entry_parse(e, elen, n, &fe) != 0) {
            ov_free(e);
            ov_free(cps);
            return ov_error(err, OCTAVO_E_FONT, OCTAVO_STAGE_PDF, w->docname, 0, 0, "cannot subset the font %s",
                            pf->path);
        }
        if (cached)
            ov_cache_put(w->ov, key, e, elen);
    }
    ov_free(cps);
    /* a subset tag from the characters: the same text gives the same name */
    char base[96];
    for (int k = 0; k < 6; k++)
        base[k] = (char)('A' + h[k] % 26);
    base[6] = '+';
    snprintf(base + 7, sizeof base - 7, "%s", fe.psname);
    HPDF_MMgr mm = w->pdf->mmgr;
    int ok = 1;
    /* the font program; its stream owns the entry, which the others read (all live as long as the
     * document) */
    HPDF_Dict file = deflated_stream(w, fe.prog, fe.prog_len, e);
    ok = ok && file && HPDF_Dict_AddNumber(file, "Length1", (HPDF_INT32)fe.len1) == HPDF_OK;
    /* the descriptor */
    HPDF_Dict desc = ok ? new_dict(w) : NULL;
    ok = ok && desc;
    if (ok) {
        HPDF_Array bbox = HPDF_Array_New(mm);
        ok = bbox && HPDF_Dict_AddName(desc, "Type", "FontDescriptor") == HPDF_OK &&
             HPDF_Dict_AddName(desc, "FontName", base) == HPDF_OK &&
             HPDF_Dict_AddNumber(desc, "Flags", fe.flags) == HPDF_OK && HPDF_Dict_Add(desc, "FontBBox", bbox) == HPDF_OK &&
             add_num(desc, "ItalicAngle", floor(fe.m[0] * 100 + 0.5) / 100) == HPDF_OK &&
             add_num(desc, "Ascent", floor(fe.m[1] + 0.5)) == HPDF_OK &&
             add_num(desc, "Descent", floor(fe.m[2] + 0.5)) == HPDF_OK &&
             add_num(desc, "CapHeight", floor(fe.m[3] + 0.5)) == HPDF_OK &&
             add_num(desc, "StemV", floor(fe.m[4] + 0.5)) == HPDF_OK && HPDF_Dict_Add(desc, "FontFile2", file) == HPDF_OK;
        for (int k = 0; k < 4 && ok; k++)
            ok = HPDF_Array_AddNumber(bbox, (HPDF_INT32)floor(fe.m[5 + k] + 0.5)) == HPDF_OK;
    }
    /* codes -> glyphs */
    HPDF_Dict cidmap = ok ? deflated_stream(w, fe.map, fe.map_len, NULL) : NULL;
    ok = ok && cidmap;
    /* the descendant font */
    HPDF_Dict cid = ok ? new_dict(w) : NULL;
    ok = ok && cid;
    if (ok) {
        HPDF_Dict info = HPDF_Dict_New(mm);
        HPDF_Array W = HPDF_Array_New(mm), run = HPDF_Array_New(mm);
        ok = info && W && run && HPDF_Dict_AddName(cid, "Type", "Font") == HPDF_OK &&
             HPDF_Dict_AddName(cid, "Subtype", "CIDFontType2") == HPDF_OK &&
             HPDF_Dict_AddName(cid, "BaseFont", base) == HPDF_OK && HPDF_Dict_Add(cid, "CIDSystemInfo", info) == HPDF_OK &&
             HPDF_Dict_Add(info, "Registry", HPDF_String_New(mm, "Adobe", NULL)) == HPDF_OK &&
             HPDF_Dict_Add(info, "Ordering", HPDF_String_New(mm, "Identity", NULL)) == HPDF_OK &&
             HPDF_Dict_AddNumber(info, "Supplement", 0) == HPDF_OK &&
             HPDF_Dict_Add(cid, "FontDescriptor", desc) == HPDF_OK && HPDF_Dict_AddNumber(cid, "DW", 0) == HPDF_OK &&
             HPDF_Dict_Add(cid, "W", W) == HPDF_OK && HPDF_Array_AddNumber(W, 1) == HPDF_OK &&
             HPDF_Array_Add(W, run) == HPDF_OK && HPDF_Dict_Add(cid, "CIDToGIDMap", cidmap) == HPDF_OK;
        /* the advances the layout measured with (exact: no rounding to whole units) */
        for (size_t i = 0; i < n && ok; i++)
            ok = array_num(run, fe_getd(fe.width + 8 * i)) == HPDF_OK;
    }
    /* ToUnicode: the characters of the codes */
    HPDF_Dict tounicode = ok ? deflated_stream(w, fe.uni, fe.uni_len, NULL) : NULL;
    ok = ok && tounicode;
    /* the font */
    HPDF_Dict font = ok ? new_dict(w) : NULL;
    ok = ok && font;
    if (ok) {
        HPDF_Array desc_fonts = HPDF_Array_New(mm);
        ok = desc_fonts && HPDF_Dict_AddName(font, "Type", "Font") == HPDF_OK &&
             HPDF_Dict_AddName(font, "Subtype", "Type0") == HPDF_OK &&
             HPDF_Dict_AddName(font, "BaseFont", base) == HPDF_OK &&
             HPDF_Dict_AddName(font, "Encoding", "Identity-H") == HPDF_OK &&
             HPDF_Dict_Add(font, "DescendantFonts", desc_fonts) == HPDF_OK && HPDF_Array_Add(desc_fonts, cid) == HPDF_OK &&
             HPDF_Dict_Add(font, "ToUnicode", tounicode) == HPDF_OK;
    }
    if (!ok || w->error)
        return fail(w, err, "to embed a font");
    pf->font = font;
    return 0;
}

/* ---- numbers in content streams: short, locale-independent (at most 3 decimals) */
static void put_num(ov_buf *b, double v) {
    char tmp[32], *e = tmp + sizeof tmp, *q = e;
    if (fabs(v) < 0.0005)
        v = 0;
    long long i = llround(v * 1000.0);
    int neg = i < 0;
    if (neg)
        i = -i;
    unsigned long long ip = (unsigned long long)i / 1000, fp = (unsigned long long)i % 1000;
    if (fp) {
        int digits = 3;
        while (fp % 10 == 0) {
            fp /= 10;
            digits--;
        }
        for (int k = 0; k < digits; k++, fp /= 10)
            *--q = (char)('0' + fp % 10);
        *--q = '.';
    }
    do
        *--q = (char)('0' + ip % 10);
    while ((ip /= 10) > 0);
    if (neg)
        *--q = '-';
    ov_buf_put(b, q, (size_t)(e - q));
}

static void put_color(ov_buf *b, uint32_t c, const char *op) {
    put_num(b, ((c >> 16) & 255) / 255.0);
    ov_buf_putc(b, ' ');
    put_num(b, ((c >> 8) & 255) / 255.0);
    ov_buf_putc(b, ' ');
    put_num(b, (c & 255) / 255.0);
    ov_buf_putc(b, ' ');
    ov_buf_puts(b, op);
    ov_buf_putc(b, '\n');
}

/* ---- images */

/* An image XObject dictionary over data (see stream_take for owned). */
static HPDF_Dict image_dict(pdfw *w, unsigned iw, unsigned ih, int color, const void *data, size_t len, void *owned,
                            HPDF_Dict_OnWriteFunc filter) {
    HPDF_Dict img = encoded_stream(w, data, len, owned, filter);
    if (!img)
        return NULL;
    img->header.obj_class |= HPDF_OSUBCLASS_XOBJECT;
    if (HPDF_Dict_AddName(img, "Type", "XObject") != HPDF_OK || HPDF_Dict_AddName(img, "Subtype", "Image") != HPDF_OK ||
        HPDF_Dict_AddName(img, "ColorSpace", color == 3 ? "DeviceRGB" : "DeviceGray") != HPDF_OK ||
        HPDF_Dict_AddNumber(img, "Width", (HPDF_INT32)iw) != HPDF_OK ||
        HPDF_Dict_AddNumber(img, "Height", (HPDF_INT32)ih) != HPDF_OK ||
        HPDF_Dict_AddNumber(img, "BitsPerComponent", 8) != HPDF_OK)
        return NULL;
    return img;
}

/* An image of 8-bit gray or RGB planes, deflated, with an optional deflated alpha SMask. */
static HPDF_Image flate_image(pdfw *w, unsigned iw, unsigned ih, int color, const unsigned char *z, size_t zlen,
                              void *z_owned, const unsigned char *za, size_t zalen, void *za_owned) {
    HPDF_Dict img = image_dict(w, iw, ih, color, z, zlen, z_owned, name_flate_filter);
    if (!img) {
        ov_free(za_owned);
        return NULL;
    }
    if (za) {
        HPDF_Dict sm = image_dict(w, iw, ih, 1, za, zalen, za_owned, name_flate_filter);
        if (!sm || HPDF_Dict_Add(img, "SMask", sm) != HPDF_OK)
            return NULL;
    }
    return (HPDF_Image)img;
}

/* A baseline or progressive JPEG, gray or RGB, passed through (DCTDecode). */
static HPDF_Image jpeg_image(pdfw *w, const unsigned char *data, size_t len, void *owned) {
    ov_image_info info;
    if (ov_image_probe(w->ov, data, len, &info, NULL) != OCTAVO_OK || info.format != OV_IMG_JPEG ||
        (info.components != 1 && info.components != 3) || info.orientation > 1 || !info.width || !info.height) {
        ov_free(owned);
        return NULL;
    }
    return (HPDF_Image)image_dict(w, info.width, info.height, info.components, data, len, owned, name_dct_filter);
}

static void put_le32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}
static uint32_t get_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- images prepared ahead of the writer. What an image becomes at its placed size (photos a
 * JPEG, drawings an "OVF1" entry: width, height, colour planes (1 or 3), colour data length, the
 * deflated colour plane, the deflated alpha plane (empty: none)) is exactly what the
 * converted-image cache keeps, so that a warm rebuild decodes and compresses nothing. Making it
 * (decode, downscale, encode: nearly all of a cold build's time) touches neither libharu nor the
 * diagnostics, so it runs on worker threads while the writer embeds fonts and writes pages; the
 * writer only wraps ready bytes in image objects, in page order, so the file is the same whichever
 * thread prepared what. */

enum { PREP_TODO, PREP_RUNNING, PREP_DONE };

typedef struct prep {
    const unsigned char *data_in; /* the image file's bytes (the layout's) */
    size_t len_in;
    ov_image_info info;
    unsigned max_w, max_h;
    int photo;                 /* becomes a JPEG (else an OVF1 entry) */
    int pass;                  /* a JPEG the writer tries to place as it is first (not prepared ahead) */
    int dup;                   /* an earlier image with the same bytes and size whose result is shared, or -1 */
    int state;
    size_t cost;               /* bytes of pixels it holds while prepared */
    unsigned char *data;       /* the result (ov_free, after the document is saved); NULL: none */
    size_t len;
    int nomem;                 /* an allocation of ours failed (the render fails) */
    int warn;                  /* a warning the writer gives when it places the image (a code), or 0 */
    char msg[OCTAVO_ERROR_SIZE];
} prep;

/* Whether cached or prepared bytes are what the writer can place (the cache's own checks cover
 * length and CRC; this covers a foreign or stale entry). */
static int prep_bytes_ok(const octavo *ov, int photo, const unsigned char *c, size_t n) {
    if (photo) {
        ov_image_info info;
        return ov_image_probe(ov, c, n, &info, NULL) == OCTAVO_OK && info.format == OV_IMG_JPEG &&
               (info.components == 1 || info.components == 3) && info.orientation <= 1 && info.width && info.height;
    }
    if (n < 20 || memcmp(c, "OVF1", 4) != 0)
        return 0;
    uint32_t iw = get_le32(c + 4), ih = get_le32(c + 8), color = get_le32(c + 12), zlen = get_le32(c + 16);
    return iw && ih && (color == 1 || color == 3) && zlen <= n - 20;
}

/* What a preparing thread keeps from one image to the next: its deflater and scratch buffers
 * (the planes of a JPEG, the planes of a drawing and their deflated bytes), so that the pixels of
 * each image do not land on fresh pages (a fault each when first touched). */
typedef struct prepctx {
    zctx *z;
    ov_image_buf yuv, pix, planes, zout;
} prepctx;

static void prepctx_free(prepctx *t) {
    ov_image_buf_free(&t->yuv);
    ov_image_buf_free(&t->pix);
    ov_image_buf_free(&t->planes);
    ov_image_buf_free(&t->zout);
}

/* After an image: scratch buffers larger than the common case are given back (a few images of
 * tens of megabytes would otherwise stay held by every thread that met one). */
#define PREP_KEEP ((size_t)4 << 20)
static void prepctx_trim(prepctx *t) {
    if (t->yuv.cap > PREP_KEEP) ov_image_buf_free(&t->yuv);
    if (t->pix.cap > PREP_KEEP) ov_image_buf_free(&t->pix);
    if (t->planes.cap > PREP_KEEP) ov_image_buf_free(&t->planes);
    if (t->zout.cap > PREP_KEEP) ov_image_buf_free(&t->zout);
}

/* Makes j's result: from the cache, else decoded, downscaled and encoded (and cached). Runs on any
 * thread: t is that thread's. */
static void prepare_image_in(const octavo *ov, prep *j, prepctx *t);
static void prepare_image(const octavo *ov, prep *j, prepctx *t) {
    prepare_image_in(ov, j, t);
    prepctx_trim(t);
}

static void prepare_image_in(const octavo *ov, prep *j, prepctx *t) {
    int photo = j->photo;
    char key[OV_IMAGE_KEY_SIZE + 8] = "";
    if (ov->cache_dir && !(ov->opt.flags & OCTAVO_NO_CACHE)) {
        char tag[64];
        snprintf(tag, sizeof tag, "pdf4-%s-%ux%u", photo ? "jpeg" : "flate", j->max_w, j->max_h);
        if (ov_image_cache_key(j->data_in, j->len_in, NULL, tag, key) == 0)
            strcat(key, photo ? ".jpg" : ".bin");
        else
            key[0] = 0;
    }
    if (key[0]) {
        unsigned char *cached = NULL;
        size_t clen = 0;
        if (ov_cache_get(ov, key, &cached, &clen) == 1) {
            if (prep_bytes_ok(ov, photo, cached, clen)) {
                j->data = cached;
                j->len = clen;
                return;
            }
            ov_free(cached);
        }
    }
    octavo_error e = { 0 };
    if (photo && j->info.format == OV_IMG_WEBP && !j->info.lossless && !j->info.animated) {
        /* a lossy WebP photo: its Y'CbCr planes straight into the JPEG encoder, scaled on the way
         * (OCTAVO_E_ARG: a size it does not scale to, made below) */
        int rc = ov_image_webp_jpeg(ov, j->data_in, j->len_in, j->max_w, j->max_h, 85, OV_JPEG_STD_HUFFMAN, &t->yuv,
                                    &j->data, &j->len,
                                    NULL, NULL, &e);
        if (rc == OCTAVO_OK) {
            if (key[0])
                ov_cache_put(ov, key, j->data, j->len);
            return;
        }
        if (rc != OCTAVO_E_ARG) {
            j->warn = e.code ? e.code : OCTAVO_E_IMAGE;
            snprintf(j->msg, sizeof j->msg, "%s", e.message);
            return;
        }
        memset(&e, 0, sizeof e);
    }
    ov_pixels px;
    memset(&px, 0, sizeof px);
    /* downsampled to 300 dpi at the placed size (a WebP while it is decoded, into this thread's
     * scratch: borrowed, not freed) */
    int rc = OCTAVO_E_ARG, borrowed = 0;
    if (j->info.format == OV_IMG_WEBP && !j->info.animated) {
        rc = ov_image_webp_decode_into(ov, j->data_in, j->len_in, j->max_w, j->max_h, &t->pix, &px, &e);
        borrowed = rc == OCTAVO_OK;
    }
    if (rc == OCTAVO_E_ARG) {
        memset(&e, 0, sizeof e);
        rc = ov_image_decode_fit(ov, j->data_in, j->len_in, j->max_w, j->max_h, &px, &e);
    }
    if (rc != OCTAVO_OK) {
        j->warn = e.code ? e.code : OCTAVO_E_IMAGE;
        snprintf(j->msg, sizeof j->msg, "%s", e.message);
        return;
    }
    ov_pixels_drop_opaque_alpha(&px);
    int alpha = px.channels == 2 || px.channels == 4;
    int color = px.channels >= 3 ? 3 : 1;
    size_t npx = (size_t)px.width * px.height;
    if (photo && !alpha) {
        unsigned char *jpg = NULL;
        size_t jlen = 0;
        if (ov_image_encode_jpeg(&px, 85, &jpg, &jlen) == OCTAVO_OK) {
            j->data = jpg;
            j->len = jlen;
        }
    } else {
        /* the colour and alpha planes, each deflated here at level 3: measured on the corpus's
         * WebP images with alpha, level 6 took 213 ms for 2.97 MB, level 3 112 ms for 3.18 MB */
        size_t nc = npx * (size_t)color, na = alpha ? npx : 0;
        /* the colour plane is compacted in place, the alpha plane goes to scratch */
        unsigned char *rgb = px.data, *a = alpha ? ov_image_buf_get(&t->planes, na) : NULL;
        size_t bc = compressBound((uLong)nc), ba = alpha ? compressBound((uLong)na) : 0;
        unsigned char *zc = ov_image_buf_get(&t->zout, bc + ba + 1), *za = zc ? zc + bc : NULL;
        size_t zlen = 0, zalen = 0;
        int ok = zc && (!alpha || a);
        if (ok) {
            const unsigned char *q = px.data;
            if (!alpha)
                ; /* the pixels are the plane */
            else if (color == 3)
                for (size_t i = 0; i < npx; i++, q += 4) {
                    rgb[3 * i] = q[0];
                    rgb[3 * i + 1] = q[1];
                    rgb[3 * i + 2] = q[2];
                    a[i] = q[3];
                }
            else
                for (size_t i = 0; i < npx; i++, q += 2) {
                    rgb[i] = q[0];
                    a[i] = q[1];
                }
            ok = zctx_deflate_to(t->z, rgb, nc, 3, zc, bc, &zlen) == 0 &&
                 (!alpha || zctx_deflate_to(t->z, a, na, 3, za, ba, &zalen) == 0);
        } else {
            j->nomem = 1;
        }
        unsigned char *entry = ok ? ov_malloc(20 + zlen + zalen) : NULL;
        if (entry) {
            memcpy(entry, "OVF1", 4);
            put_le32(entry + 4, px.width);
            put_le32(entry + 8, px.height);
            put_le32(entry + 12, (uint32_t)color);
            put_le32(entry + 16, (uint32_t)zlen);
            memcpy(entry + 20, zc, zlen);
            if (zalen)
                memcpy(entry + 20 + zlen, za, zalen);
            j->data = entry;
            j->len = 20 + zlen + zalen;
        } else if (ok) {
            j->nomem = 1;
        }
    }
    if (!borrowed)
        ov_pixels_free(&px);
    if (j->data && key[0])
        ov_cache_put(ov, key, j->data, j->len);
}

/* The preparing threads. A job is queued as soon as the layout places an image (ov_pdf_prep_add),
 * so the images are made while the layout goes on, then while the writer embeds fonts and writes
 * pages. Workers take them in the order they were placed (the order the pages draw them); the
 * writer takes one itself when it needs it before a worker did. The largest preparations hold
 * tens of megabytes of pixels: a worker starts one only while the running ones leave it room in a
 * budget (or when none runs). */
#define PREP_MAX_THREADS 7
#define PREP_BUDGET ((size_t)32 << 20)

struct ov_imgprep {
    const octavo *ov;
    prep **jobs;               /* one per layout image (index = ref), NULL while none could be made */
    size_t n, cap;
    size_t next;               /* jobs before it are all taken */
    size_t used;               /* cost of the running preparations */
    size_t running;
    int stop;
    int threads;               /* the workers wanted (started at the first job) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th[PREP_MAX_THREADS];
    size_t nth;                /* started; 0: everything on the writer's thread */
    prepctx wt;                /* the writer's scratch (its deflater is the document's) */
};

/* Workers per render: the online CPUs less the writer's own thread (it prepares too while it waits),
 * capped; 0 runs everything on the writer's thread, as it needs it. */
static _Thread_local int g_prep_threads = -1;
void ov_test_pdf_prep_threads(int n) { g_prep_threads = n; }

/* The first job waiting that fits in the budget, or NULL. Called locked. */
static prep *prep_next(ov_imgprep *p) {
    while (p->next < p->n && (!p->jobs[p->next] || p->jobs[p->next]->state != PREP_TODO || p->jobs[p->next]->pass ||
                              p->jobs[p->next]->dup >= 0))
        p->next++;
    for (size_t k = p->next; k < p->n && !p->stop; k++) {
        prep *c = p->jobs[k];
        if (!c || c->state != PREP_TODO || c->pass || c->dup >= 0)
            continue;
        if (p->running && p->used + c->cost > PREP_BUDGET)
            continue;
        return c;
    }
    return NULL;
}

/* Prepares job j on this thread, counted against the budget; called and returns with p->mu held. */
static void run_job(ov_imgprep *p, prep *j, prepctx *t) {
    j->state = PREP_RUNNING;
    p->used += j->cost;
    p->running++;
    pthread_mutex_unlock(&p->mu);
    prepare_image(p->ov, j, t);
    pthread_mutex_lock(&p->mu);
    j->state = PREP_DONE;
    p->used -= j->cost;
    p->running--;
    pthread_cond_broadcast(&p->cv);
}

static void *prep_worker(void *arg) {
    ov_imgprep *p = arg;
    zctx z;
    memset(&z, 0, sizeof z);
    prepctx t = { &z, { 0 }, { 0 }, { 0 }, { 0 } };
    pthread_mutex_lock(&p->mu);
    for (;;) {
        prep *j = prep_next(p);
        if (!j) {
            if (p->stop)
                break;
            /* none fits, or none yet: more may come from the layout */
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        run_job(p, j, &t);
    }
    pthread_mutex_unlock(&p->mu);
    prepctx_free(&t);
    zctx_end(&z);
    return NULL;
}

/* The pool of ly, made at its first image: its workers start with it. NULL when out of memory. */
static ov_imgprep *prep_pool(ov_layout *ly) {
    if (ly->prep)
        return ly->prep;
    ov_imgprep *p = ov_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->ov = ly->ov;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = g_prep_threads >= 0 ? (size_t)g_prep_threads : cpus > 1 ? (size_t)cpus - 1 : 0;
    if (nt > PREP_MAX_THREADS)
        nt = PREP_MAX_THREADS;
    ly->prep = p;
    if (!nt || pthread_mutex_init(&p->mu, NULL) != 0)
        return p;
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        return p;
    }
    for (size_t i = 0; i < nt; i++) {
        if (pthread_create(&p->th[p->nth], NULL, prep_worker, p) != 0)
            break;
        p->nth++;
    }
    if (!p->nth) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
    }
    return p;
}

int ov_pdf_prep_add(ov_layout *ly, size_t idx) {
    if (idx >= ly->nimages)
        return -1;
    ov_imgprep *p = prep_pool(ly);
    if (!p)
        return -1;
    if (idx < p->n && p->jobs[idx])
        return 0;
    prep *j = ov_calloc(1, sizeof *j);
    if (!j)
        return -1;
    ov_layout_image *im = &ly->images[idx];
    j->data_in = im->blob.data;
    j->len_in = im->blob.len;
    j->info = im->info;
    j->dup = -1;
    j->max_w = (unsigned)ceil(im->placed_w / 72.0 * 300.0);
    j->max_h = (unsigned)ceil(im->placed_h / 72.0 * 300.0);
    if (j->max_w < 1) j->max_w = 1;
    if (j->max_h < 1) j->max_h = 1;
    j->photo = im->info.is_photo && !im->info.has_alpha;
    /* a JPEG small enough passes through unchanged, unless it is CMYK (Adobe's are stored inverted
     * and libharu writes no /Decode: a negative) or stored turned (libharu knows no EXIF
     * orientation: it would be drawn sideways and stretched) */
    j->pass = im->info.format == OV_IMG_JPEG && im->info.components != 4 && im->info.orientation <= 1 &&
              im->info.width <= j->max_w * 1.1 && im->info.height <= j->max_h * 1.1;
    /* the bytes it holds at its peak: a still WebP is decoded at its placed size (a photo as 1.5
     * bytes a pixel of planes and 3 of libjpeg's coefficients; RGBA, then split planes and their
     * deflated bytes), other formats whole first */
    unsigned fw, fh;
    (void)ov_pixels_fit_size(im->info.width, im->info.height, j->max_w, j->max_h, &fw, &fh);
    size_t full = (size_t)im->info.width * im->info.height, placed = (size_t)fw * fh;
    if (im->info.format == OV_IMG_WEBP && !im->info.animated)
        j->cost = placed * (j->photo ? 5 : 12);
    else
        j->cost = full * 4 + placed * (j->photo ? 5 : 12);
    /* the same bytes at the same size (an image placed several times) are prepared once */
    for (size_t k = 0; k < p->n && !j->pass; k++) {
        prep *o = p->jobs[k];
        if (o && o->dup < 0 && !o->pass && o->max_w == j->max_w && o->max_h == j->max_h && o->photo == j->photo &&
            o->len_in == j->len_in && (o->data_in == j->data_in || !memcmp(o->data_in, j->data_in, j->len_in))) {
            j->dup = (int)k;
            break;
        }
    }
    if (p->nth)
        pthread_mutex_lock(&p->mu);
    int rc = 0;
    if (idx >= p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 16;
        while (nc <= idx)
            nc *= 2;
        prep **q = ov_realloc(p->jobs, nc * sizeof *q);
        if (q) {
            memset(q + p->cap, 0, (nc - p->cap) * sizeof *q);
            p->jobs = q;
            p->cap = nc;
        } else {
            rc = -1;
        }
    }
    if (!rc) {
        p->jobs[idx] = j;
        if (idx >= p->n)
            p->n = idx + 1;
        if (idx < p->next)
            p->next = idx;
    }
    if (p->nth) {
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    if (rc)
        ov_free(j);
    return rc;
}

/* Every image of ly with its job (those the layout could not queue, out of memory, are made
 * now); -1 when out of memory. */
static int prep_complete(ov_layout *ly) {
    for (size_t i = 0; i < ly->nimages; i++)
        if ((!ly->prep || i >= ly->prep->n || !ly->prep->jobs[i]) && ov_pdf_prep_add(ly, i) < 0)
            return -1;
    return 0;
}

/* Image ref prepared: by a worker (waited for) or here, now. */
static prep *prep_take(ov_imgprep *p, size_t ref, zctx *z) {
    prep *j = p->jobs[ref];
    p->wt.z = z;
    if (j->dup >= 0)
        j = p->jobs[j->dup];
    if (!p->nth) {
        if (j->state == PREP_TODO) {
            prepare_image(p->ov, j, &p->wt);
            j->state = PREP_DONE;
        }
        return j;
    }
    pthread_mutex_lock(&p->mu);
    if (j->state == PREP_TODO) { /* needed now: it starts whatever the budget says */
        run_job(p, j, &p->wt);
    }
    /* while a worker finishes it, the writer makes the next images rather than wait idle */
    while (j->state != PREP_DONE) {
        prep *h = prep_next(p);
        if (!h) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        run_job(p, h, &p->wt);
    }
    pthread_mutex_unlock(&p->mu);
    return j;
}

/* Stops the workers once every job queued is taken (the writer has waited for what it placed; the
 * rest is not wanted) and frees every result: after the document, whose image streams read them. */
void ov_pdf_prep_free(ov_layout *ly) {
    ov_imgprep *p = ly ? ly->prep : NULL;
    if (!p)
        return;
    if (p->nth) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        for (size_t i = 0; i < p->nth; i++)
            pthread_join(p->th[i], NULL);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
    }
    for (size_t i = 0; i < p->n; i++)
        if (p->jobs[i]) {
            ov_free(p->jobs[i]->data);
            ov_free(p->jobs[i]);
        }
    ov_free(p->jobs);
    prepctx_free(&p->wt);
    ov_free(p);
    ly->prep = NULL;
}

/* An image of 8-bit gray or RGB planes from an OVF1 entry, whose bytes live until the save. */
static HPDF_Image image_from_entry(pdfw *w, const unsigned char *c, size_t n) {
    uint32_t iw = get_le32(c + 4), ih = get_le32(c + 8), color = get_le32(c + 12), zlen = get_le32(c + 16);
    size_t zalen = n - 20 - zlen;
    return flate_image(w, iw, ih, (int)color, c + 20, zlen, NULL, zalen ? c + 20 + zlen : NULL, zalen, NULL);
}

static HPDF_Image load_image(pdfw *w, size_t ref) {
    ov_layout_image *im = &w->ly->images[ref];
    ov_imgprep *p = w->ly->prep;
    prep *j0 = p->jobs[ref];
    if (j0->pass) {
        /* the file's bytes live as long as the layout, past the save */
        HPDF_Image img = jpeg_image(w, im->blob.data, im->blob.len, NULL);
        if (img && !w->error)
            return img;
        HPDF_ResetError(w->pdf);
        w->error = 0;
    }
    prep *j = prep_take(p, ref, &w->z);
    if (j->nomem)
        w->nomem = 1;
    if (j->warn) {
        ov_warn(w->ov, j->warn, w->docname, 0, 0, "image cannot be decoded: %s", j->msg);
        return NULL;
    }
    if (!j->data)
        return NULL;
    HPDF_Image img = j->photo ? jpeg_image(w, j->data, j->len, NULL) : image_from_entry(w, j->data, j->len);
    if (w->error) {
        HPDF_ResetError(w->pdf);
        w->error = 0;
        return NULL;
    }
    return img;
}

/* ---- links */
static char *percent_encode(const char *u) {
    ov_buf b;
    ov_buf_init(&b);
    for (const unsigned char *p = (const unsigned char *)u; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7F || *p == '"' || *p == '<' || *p == '>' || *p == '\\' || *p == '^' ||
            *p == '`' || *p == '{' || *p == '|' || *p == '}')
            ov_buf_printf(&b, "%%%02X", *p);
        else
            ov_buf_putc(&b, *p);
    }
    if (b.failed) {
        ov_buf_free(&b);
        return NULL;
    }
    return ov_buf_detach(&b, NULL);
}

static HPDF_Destination make_dest(pdfw *w, int d) {
    ov_dest *dd = &w->ly->dests[d];
    if (dd->page < 0 || (size_t)dd->page >= w->ly->npages)
        return NULL;
    HPDF_Page page = w->pages[dd->page];
    HPDF_Destination dst = HPDF_Page_CreateDestination(page);
    if (!dst)
        return NULL;
    /* [page /XYZ 0 y null]: keep the reader's zoom (SetXYZ refuses zoom 0) */
    HPDF_Array_Clear(dst);
    HPDF_Array_Add(dst, page);
    HPDF_Array_AddName(dst, "XYZ");
    HPDF_Array_AddReal(dst, 0);
    HPDF_Array_AddReal(dst, dd->y);
    HPDF_Array_Add(dst, HPDF_Null_New(w->pdf->mmgr));
    return w->error ? NULL : dst;
}

/* One byte of a literal string. */
static void put_code_byte(ov_buf *c, unsigned v) {
    if (v == '(' || v == ')' || v == '\\') {
        char e[2] = { '\\', (char)v };
        ov_buf_put(c, e, 2);
    } else if (v == '\r')
        ov_buf_put(c, "\\r", 2);
    else
        ov_buf_putc(c, (int)v);
}

/* ---- tagged PDF: every run of boxes is a marked-content sequence, of its structure element
 * (BDC with an MCID) or an artifact (rules, backgrounds, running heads and page numbers). The
 * sequences never cross the text objects' BT/ET. */
static const char *const g_tag_names[] = { "P",    "P",     "H1", "H2",    "H3", "H4", "H5", "H6", "Figure", "Caption",
                                           "Note", "Code",  "L",  "LI",    "LBody", "Table", "TR", "TH", "TD" };

static const char *tag_name(const ov_layout *ly, int32_t tag) {
    int t = tag > 0 && (size_t)tag <= ly->ntags ? ly->tags[tag - 1].type : 0;
    return t > 0 && t < (int)(sizeof g_tag_names / sizeof g_tag_names[0]) ? g_tag_names[t] : "P";
}

typedef struct mcstate {
    int open;                  /* a sequence is open */
    int32_t tag;               /* its element (> 0) or -1: an artifact */
    uint32_t next_mcid;
} mcstate;

static void mc_close(ov_buf *c, mcstate *m) {
    if (m->open)
        ov_buf_puts(c, "EMC\n");
    m->open = 0;
}

static int mc_open(pdfw *w, size_t pi, ov_buf *c, mcstate *m, int32_t tag) {
    if (tag <= 0 || (size_t)tag > w->ly->ntags)
        tag = -1;
    if (m->open && m->tag == tag)
        return 0;
    mc_close(c, m);
    m->open = 1;
    m->tag = tag;
    if (tag < 0) {
        ov_buf_puts(c, "/Artifact BMC\n");
        return 0;
    }
    if (w->nmc == w->capmc) {
        size_t nc = w->capmc ? w->capmc * 2 : 256;
        struct mcref *p = ov_realloc(w->mc, nc * sizeof *p);
        if (!p) {
            w->nomem = 1;
            c->failed = 1;
            return -1;
        }
        w->mc = p;
        w->capmc = nc;
    }
    w->mc[w->nmc++] = (struct mcref){ (uint32_t)pi, m->next_mcid, tag };
    ov_buf_printf(c, "/%s <</MCID %u>> BDC\n", tag_name(w->ly, tag), m->next_mcid++);
    return 0;
}

/* ---- the content of one page */
static int page_content(pdfw *w, size_t pi, ov_buf *c, octavo_error *err) {
    ov_layout *ly = w->ly;
    ov_page *pg = &ly->pages[pi];
    HPDF_Page page = w->pages[pi];
    int in_text = 0;
    int cur_font = -1;
    float cur_size = -1;
    uint32_t cur_fill = 0xFFFFFFFF, cur_stroke = 0xFFFFFFFF;
    mcstate mc = { 0, 0, 0 };
    for (size_t i = 0; i < pg->n; i++) {
        ov_box *b = &pg->boxes[i];
        if (b->kind == OV_BOX_TEXT) {
            if (!b->n)
                continue;
            int fi = font_slot(w, b->face, err);
            if (fi == -2)
                return -1;
            if (fi < 0 || !w->fonts[fi].font)
                continue;
            pfont *pf = &w->fonts[fi];
            if (!in_text) {
                mc_close(c, &mc);
                ov_buf_puts(c, "BT\n");
                in_text = 1;
                cur_font = -1;
            }
            if (mc_open(w, pi, c, &mc, b->tag) < 0)
                return -1;
            if (fi != cur_font || b->size != cur_size) {
                const char *local = HPDF_Page_GetLocalFontName(page, pf->font);
                if (!local)
                    return -1;
                ov_buf_printf(c, "/%s ", local);
                put_num(c, b->size);
                ov_buf_puts(c, " Tf\n");
                cur_font = fi;
                cur_size = b->size;
            }
            if (b->color != cur_fill) {
                put_color(c, b->color, "rg");
                cur_fill = b->color;
            }
            ov_buf_puts(c, "1 0 0 1 ");
            put_num(c, b->x);
            ov_buf_putc(c, ' ');
            put_num(c, b->y);
            /* the codes as a literal string of two-byte codes (a third smaller than hex, and
             * deflated in a third of the time); ( ) \\ and CR escaped */
            ov_buf_puts(c, " Tm\n[(");
            for (uint32_t k = 0; k < b->n; k++) {
                unsigned code = font_code(pf, ly->cp[b->off + k]);
                put_code_byte(c, code >> 8);
                put_code_byte(c, code & 255);
                float a = ly->adj[b->off + k];
                if (k + 1 < b->n && fabsf(a) > 0.05f) {
                    ov_buf_puts(c, ") ");
                    put_num(c, -a);
                    ov_buf_puts(c, " (");
                }
            }
            ov_buf_puts(c, ")] TJ\n");
            continue;
        }
        if (b->kind == OV_BOX_LINK || b->kind == 0)
            continue;
        if (in_text) {
            mc_close(c, &mc);
            ov_buf_puts(c, "ET\n");
            in_text = 0;
        }
        if (mc_open(w, pi, c, &mc, b->kind == OV_BOX_IMAGE ? b->tag : -1) < 0)
            return -1;
        if (b->kind == OV_BOX_RECT) {
            if (b->color != cur_fill) {
                put_color(c, b->color, "rg");
                cur_fill = b->color;
            }
            put_num(c, b->x); ov_buf_putc(c, ' ');
            put_num(c, b->y); ov_buf_putc(c, ' ');
            put_num(c, b->w); ov_buf_putc(c, ' ');
            put_num(c, b->h); ov_buf_puts(c, " re f\n");
        } else if (b->kind == OV_BOX_LINE || b->kind == OV_BOX_FRAME) {
            if (b->color != cur_stroke) {
                put_color(c, b->color, "RG");
                cur_stroke = b->color;
            }
            put_num(c, b->size > 0 ? b->size : 0.5); ov_buf_puts(c, " w ");
            put_num(c, b->x); ov_buf_putc(c, ' ');
            put_num(c, b->y);
            if (b->kind == OV_BOX_FRAME) {
                ov_buf_putc(c, ' ');
                put_num(c, b->w); ov_buf_putc(c, ' ');
                put_num(c, b->h); ov_buf_puts(c, " re S\n");
            } else {
                ov_buf_puts(c, " m ");
                put_num(c, b->x + b->w); ov_buf_putc(c, ' ');
                put_num(c, b->y + b->h); ov_buf_puts(c, " l S\n");
            }
        } else if (b->kind == OV_BOX_IMAGE) {
            if (b->ref < 0 || (size_t)b->ref >= ly->nimages)
                continue;
            HPDF_Image img = w->images[b->ref];
            if (!img) {
                img = load_image(w, (size_t)b->ref);
                w->images[b->ref] = img;
            }
            if (!img) {
                /* undecodable: a frame where it would be */
                put_color(c, 0x999999, "RG");
                cur_stroke = 0x999999;
                ov_buf_puts(c, "0.5 w ");
                put_num(c, b->x); ov_buf_putc(c, ' ');
                put_num(c, b->y); ov_buf_putc(c, ' ');
                put_num(c, b->w); ov_buf_putc(c, ' ');
                put_num(c, b->h); ov_buf_puts(c, " re S\n");
                continue;
            }
            const char *local = HPDF_Page_GetXObjectName(page, (HPDF_XObject)img);
            if (!local)
                return -1;
            ov_buf_puts(c, "q ");
            put_num(c, b->w); ov_buf_puts(c, " 0 0 ");
            put_num(c, b->h); ov_buf_putc(c, ' ');
            put_num(c, b->x); ov_buf_putc(c, ' ');
            put_num(c, b->y);
            ov_buf_printf(c, " cm /%s Do Q\n", local);
        }
    }
    mc_close(c, &mc);
    if (in_text)
        ov_buf_puts(c, "ET\n");
    return c->failed ? -1 : 0;
}

static void *text_string(pdfw *w, const char *utf8);

/* The structure tree: a Document element holding one element per paragraph, heading, figure...
 * in the order they first appear on the pages, each with its marked-content sequences (MCIDs
 * on its page, MCRs on others); the parent tree maps each page's MCIDs back to them. */
static int struct_tree(pdfw *w) {
    ov_layout *ly = w->ly;
    HPDF_MMgr mm = w->pdf->mmgr;
    if (!w->nmc)
        return 0;
    /* our allocation first: a libharu object made but not yet attached would leak */
    HPDF_Dict *elem = ov_calloc(ly->ntags + 1, sizeof *elem);
    if (!elem) {
        w->nomem = 1;
        return -1;
    }
    HPDF_Dict root = new_dict(w), docel = root ? new_dict(w) : NULL;
    HPDF_Array rootk = NULL, dock = NULL, nums = NULL;
    HPDF_Dict ptree = NULL;
    int ok = docel && HPDF_Dict_AddName(root, "Type", "StructTreeRoot") == HPDF_OK &&
             (rootk = HPDF_Array_New(mm)) && HPDF_Dict_Add(root, "K", rootk) == HPDF_OK &&
             HPDF_Array_Add(rootk, docel) == HPDF_OK && (ptree = HPDF_Dict_New(mm)) &&
             HPDF_Dict_Add(root, "ParentTree", ptree) == HPDF_OK && (nums = HPDF_Array_New(mm)) &&
             HPDF_Dict_Add(ptree, "Nums", nums) == HPDF_OK &&
             HPDF_Dict_AddNumber(root, "ParentTreeNextKey", (HPDF_INT32)ly->npages) == HPDF_OK &&
             HPDF_Dict_AddName(docel, "Type", "StructElem") == HPDF_OK &&
             HPDF_Dict_AddName(docel, "S", "Document") == HPDF_OK && HPDF_Dict_Add(docel, "P", root) == HPDF_OK &&
             (dock = HPDF_Array_New(mm)) && HPDF_Dict_Add(docel, "K", dock) == HPDF_OK;
    /* the elements, in the order of their first sequence; a group (list, item, table, row, cell)
     * when the first element inside it is made, so that only groups with content appear */
    for (size_t i = 0; i < w->nmc && ok; i++) {
        struct mcref *r = &w->mc[i];
        HPDF_Dict e = elem[r->tag];
        if (!e) {
            /* the chain of groups above it not made yet, outermost first */
            int32_t chain[64];
            int nchain = 0;
            for (int32_t g = ly->tags[r->tag - 1].parent; g > 0 && !elem[g] && nchain < 64; g = ly->tags[g - 1].parent)
                chain[nchain++] = g;
            for (int c = nchain - 1; c >= -1 && ok; c--) {
                int32_t ti = c >= 0 ? chain[c] : r->tag;
                const ov_tag *t = &ly->tags[ti - 1];
                HPDF_Dict parent = t->parent > 0 && elem[t->parent] ? elem[t->parent] : docel;
                HPDF_Array pk = parent == docel ? dock : HPDF_Dict_GetItem(parent, "K", HPDF_OCLASS_ARRAY);
                HPDF_Array k = NULL;
                e = elem[ti] = new_dict(w);
                ok = e && pk && HPDF_Dict_AddName(e, "S", tag_name(ly, ti)) == HPDF_OK &&
                     HPDF_Dict_Add(e, "P", parent) == HPDF_OK &&
                     (c >= 0 || HPDF_Dict_Add(e, "Pg", w->pages[r->page]) == HPDF_OK) &&
                     (k = HPDF_Array_New(mm)) && HPDF_Dict_Add(e, "K", k) == HPDF_OK && HPDF_Array_Add(pk, e) == HPDF_OK;
                if (ok && t->alt) {
                    void *alt = text_string(w, ly->strs.data + t->alt - 1);
                    ok = alt && HPDF_Dict_Add(e, "Alt", alt) == HPDF_OK;
                }
            }
            if (!ok)
                break;
        }
        HPDF_Array k = HPDF_Dict_GetItem(e, "K", HPDF_OCLASS_ARRAY);
        HPDF_Dict first_pg = HPDF_Dict_GetItem(e, "Pg", HPDF_OCLASS_DICT);
        if (!k) {
            ok = 0;
            break;
        }
        if (first_pg == w->pages[r->page])
            ok = HPDF_Array_AddNumber(k, (HPDF_INT32)r->mcid) == HPDF_OK;
        else {
            HPDF_Dict mcr = HPDF_Dict_New(mm);
            ok = mcr && HPDF_Dict_AddName(mcr, "Type", "MCR") == HPDF_OK &&
                 HPDF_Dict_Add(mcr, "Pg", w->pages[r->page]) == HPDF_OK &&
                 HPDF_Dict_AddNumber(mcr, "MCID", (HPDF_INT32)r->mcid) == HPDF_OK && HPDF_Array_Add(k, mcr) == HPDF_OK;
        }
    }
    /* the parent tree: page index -> its MCIDs' elements (the sequences are in page order) */
    for (size_t i = 0; i < w->nmc && ok;) {
        uint32_t pgi = w->mc[i].page;
        HPDF_Array a = HPDF_Array_New(mm);
        ok = a && HPDF_Array_AddNumber(nums, (HPDF_INT32)pgi) == HPDF_OK && HPDF_Array_Add(nums, a) == HPDF_OK &&
             HPDF_Dict_AddNumber(w->pages[pgi], "StructParents", (HPDF_INT32)pgi) == HPDF_OK;
        for (; ok && i < w->nmc && w->mc[i].page == pgi; i++)
            ok = HPDF_Array_Add(a, elem[w->mc[i].tag]) == HPDF_OK;
    }
    ov_free(elem);
    if (ok) {
        HPDF_Dict mark = HPDF_Dict_New(mm);
        ok = mark && HPDF_Dict_Add(w->pdf->catalog, "StructTreeRoot", root) == HPDF_OK &&
             HPDF_Dict_Add(w->pdf->catalog, "MarkInfo", mark) == HPDF_OK &&
             HPDF_Dict_Add(mark, "Marked", HPDF_Boolean_New(mm, HPDF_TRUE)) == HPDF_OK;
    }
    return ok && !w->error ? 0 : -1;
}

static int page_links(pdfw *w, size_t pi) {
    ov_layout *ly = w->ly;
    ov_page *pg = &ly->pages[pi];
    HPDF_Page page = w->pages[pi];
    for (size_t i = 0; i < pg->n; i++) {
        ov_box *b = &pg->boxes[i];
        if (b->kind != OV_BOX_LINK || b->w <= 0.5f)
            continue;
        HPDF_Rect r = { b->x, b->y, b->x + b->w, b->y + b->h };
        HPDF_Annotation a = NULL;
        if (b->ref >= 0) {
            HPDF_Destination d = make_dest(w, b->ref);
            if (!d)
                continue;
            a = HPDF_Page_CreateLinkAnnot(page, r, d);
        } else {
            const char *uri = ly->strs.data + b->uri;
            char *enc = percent_encode(uri);
            if (!enc)
                return -2; /* out of memory */
            a = HPDF_Page_CreateURILinkAnnot(page, r, enc);
            ov_free(enc);
        }
        if (!a || HPDF_LinkAnnot_SetBorderStyle(a, 0, 0, 0) != HPDF_OK)
            return -1;
    }
    return w->error ? -1 : 0;
}

static HPDF_Date to_date(const octavo_time *t) {
    HPDF_Date d;
    memset(&d, 0, sizeof d);
    d.year = t->year;
    d.month = t->month >= 1 ? t->month : 1;
    d.day = t->day >= 1 ? t->day : 1;
    d.hour = t->hour;
    d.minutes = t->minute;
    d.seconds = t->second;
    if (t->has_zone && t->zone_minutes) {
        int z = t->zone_minutes;
        d.ind = z < 0 ? '-' : '+';
        if (z < 0)
            z = -z;
        d.off_hour = z / 60;
        d.off_minutes = z % 60;
    } else
        d.ind = 'Z';
    return d;
}

/* A PDF text string: ASCII as it is, anything else UTF-16BE with a byte order mark. (libharu's
 * UTF-8 encoder would do it too, but building it costs 1.4 M instructions per document.) */
static void *text_string(pdfw *w, const char *utf8) {
    size_t n = strlen(utf8);
    int ascii = 1;
    for (size_t i = 0; i < n && ascii; i++)
        ascii = (unsigned char)utf8[i] >= 0x20 && (unsigned char)utf8[i] < 0x7F;
    if (ascii)
        return HPDF_String_New(w->pdf->mmgr, utf8, NULL);
    unsigned char *u = ov_malloc(2 + 4 * n);
    if (!u) {
        w->nomem = 1;
        return NULL;
    }
    size_t o = 0;
    u[o++] = 0xFE;
    u[o++] = 0xFF;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        int k = ov_utf8_decode(utf8 + i, n - i, &c);
        if (k <= 0) {
            c = 0xFFFD;
            k = 1;
        }
        i += (size_t)k;
        if (c >= 0x10000) {
            c -= 0x10000;
            unsigned hi = 0xD800 + (c >> 10), lo = 0xDC00 + (c & 0x3FF);
            u[o++] = (unsigned char)(hi >> 8);
            u[o++] = (unsigned char)hi;
            u[o++] = (unsigned char)(lo >> 8);
            u[o++] = (unsigned char)lo;
        } else {
            u[o++] = (unsigned char)(c >> 8);
            u[o++] = (unsigned char)c;
        }
    }
    void *b = HPDF_Binary_New(w->pdf->mmgr, u, (HPDF_UINT)o);
    ov_free(u);
    return b;
}

static int outline(pdfw *w) {
    ov_layout *ly = w->ly;
    HPDF_Outline stack[16];
    int levels[16];
    int depth = 0;
    for (size_t i = 0; i < ly->noutline; i++) {
        ov_outline_entry *e = &ly->outline[i];
        while (depth > 0 && levels[depth - 1] >= e->level)
            depth--;
        HPDF_Outline parent = depth > 0 ? stack[depth - 1] : NULL;
        HPDF_Outline o = HPDF_CreateOutline(w->pdf, parent, "", NULL);
        void *title = o ? text_string(w, e->title) : NULL;
        if (!title || HPDF_Dict_Add(o, "Title", title) != HPDF_OK)
            return -1;
        HPDF_Destination d = make_dest(w, e->dest);
        if (d && HPDF_Outline_SetDestination(o, d) != HPDF_OK)
            return -1;
        HPDF_Outline_SetOpened(o, e->level <= 1 ? HPDF_TRUE : HPDF_FALSE);
        if (depth < 16) {
            stack[depth] = o;
            levels[depth] = e->level;
            depth++;
        }
    }
    return w->error ? -1 : 0;
}

/* The save's writer: libharu writes token by token; whole buffers go to the sink. */
typedef struct outbuf {
    ov_sink *sink;
    size_t n;
    int failed;
    unsigned char buf[65536];
} outbuf;

static HPDF_STATUS out_write(HPDF_Stream s, const HPDF_BYTE *p, HPDF_UINT n) {
    outbuf *o = s->attr;
    if (o->failed)
        return HPDF_FILE_IO_ERROR;
    if (o->n + n > sizeof o->buf) {
        if (o->n && ov_sink_write(o->sink, o->buf, o->n) != 0)
            o->failed = 1;
        o->n = 0;
        if (!o->failed && n >= sizeof o->buf && ov_sink_write(o->sink, p, n) != 0)
            o->failed = 1;
        if (o->failed)
            return HPDF_FILE_IO_ERROR;
        if (n >= sizeof o->buf)
            return HPDF_OK;
    }
    memcpy(o->buf + o->n, p, n);
    o->n += n;
    return HPDF_OK;
}

static int render(ov_layout *ly, const octavo *ov, const char *docname, ov_sink *out, octavo_error *err) {
    pdfw w;
    memset(&w, 0, sizeof w);
    w.ly = ly;
    w.ov = ov;
    w.docname = docname;
    for (int i = 0; i < OV_NFACES; i++)
        w.face_font[i] = -1;
    int rc = ov_pdf_load_hpdf(err);
    if (rc)
        return rc;
    w.pdf = HPDF_New(on_error, &w);
    if (!w.pdf)
        return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_PDF, docname, 0, 0, "libharu could not start");
    if (HPDF_SetCompressionMode(w.pdf, HPDF_COMP_ALL) != HPDF_OK) {
        rc = fail(&w, err, "to set up the document");
        goto done;
    }
    w.pages = ov_calloc(ly->npages ? ly->npages : 1, sizeof *w.pages);
    w.images = ov_calloc(ly->nimages ? ly->nimages : 1, sizeof *w.images);
    if (!w.pages || !w.images || prep_complete(ly) < 0) {
        rc = ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_PDF, docname, 0, 0, "out of memory");
        goto done;
    }
    for (size_t p = 0; p < ly->npages; p++) {
        HPDF_Page page = HPDF_AddPage(w.pdf);
        if (!page || HPDF_Page_SetWidth(page, ly->page_w) != HPDF_OK ||
            HPDF_Page_SetHeight(page, ly->page_h) != HPDF_OK) {
            rc = fail(&w, err, "to add a page");
            goto done;
        }
        w.pages[p] = page;
    }
    /* fonts: subsets of what the pages draw */
    if (collect_fonts(&w, err) < 0) {
        rc = err && err->code ? err->code : OCTAVO_E_NOMEM;
        goto done;
    }
    for (int i = 0; i < w.nfonts; i++)
        if (embed_font(&w, &w.fonts[i], err) != 0) {
            rc = err && err->code ? err->code : OCTAVO_E_PDF;
            goto done;
        }
    /* content: raw operators straight into each page's stream */
    ov_buf c;
    ov_buf_init(&c);
    /* the /ID: a hash of the pages' content, the title and author */
    ov_hash128 idh = { UINT64_C(0x6F6374617630), UINT64_C(0x2D7064662D6964) };
    for (size_t p = 0; p < ly->npages; p++) {
        c.len = 0;
        if (c.data)
            c.data[0] = 0;
        if (page_content(&w, p, &c, err) < 0) {
            ov_buf_free(&c);
            if (!err || !err->code)
                rc = c.failed ? ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_PDF, docname, 0, 0, "out of memory")
                              : fail(&w, err, "to write a page");
            else
                rc = err->code;
            goto done;
        }
        ov_hash128_feed(&idh, c.data, c.len);
        /* the page's content, deflated here at level 5 (3% larger than libharu's 6 for a third
         * less time), read by its stream from our buffer */
        HPDF_PageAttr pa = (HPDF_PageAttr)w.pages[p]->attr;
        size_t zlen = 0;
        unsigned char *z = pdf_deflate(&w, c.data, c.len, CONTENT_LEVEL, &zlen);
        if (!z || stream_take(&w, pa->contents, z, zlen, z) < 0) {
            ov_buf_free(&c);
            rc = ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_PDF, docname, 0, 0, "out of memory");
            goto done;
        }
        pa->contents->filter = HPDF_STREAM_FILTER_NONE;
        pa->contents->write_fn = name_flate_filter;
        pa->stream = pa->contents->stream;
        int pl = page_links(&w, p);
        if (pl < 0) {
            ov_buf_free(&c);
            rc = pl == -2 ? ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_PDF, docname, 0, 0, NULL)
                          : fail(&w, err, "to add a link");
            goto done;
        }
    }
    ov_buf_free(&c);
    if (struct_tree(&w) < 0) {
        rc = fail(&w, err, "to write the structure tree");
        goto done;
    }
    if (outline(&w) < 0) {
        rc = fail(&w, err, "to write the outline");
        goto done;
    }
    /* page labels */
    for (size_t i = 0; i < ly->nlabels; i++)
        if (HPDF_AddPageLabel(w.pdf, (HPDF_UINT)ly->labels[i].first,
                              ly->labels[i].style == 'r' ? HPDF_PAGE_NUM_STYLE_LOWER_ROMAN : HPDF_PAGE_NUM_STYLE_DECIMAL,
                              (HPDF_UINT)ly->labels[i].start, NULL) != HPDF_OK) {
            rc = fail(&w, err, "to add page labels");
            goto done;
        }
    if (ly->noutline)
        HPDF_SetPageMode(w.pdf, HPDF_PAGE_MODE_USE_OUTLINE);
    /* the Info dictionary, as text strings (UTF-16 where not ASCII) */
    {
        const char *keys[5] = { "Title", "Author", "Subject", "Keywords", "Creator" };
        const char *vals[5] = { ly->title, ly->author, ly->subject, ly->keywords, ly->creator };
        if (!w.pdf->info)
            HPDF_SetInfoAttr(w.pdf, HPDF_INFO_CREATOR, "octavo"); /* makes the dictionary */
        HPDF_Dict info = w.pdf->info;
        for (int k = 0; k < 5 && info; k++) {
            if (!vals[k])
                continue;
            void *v = text_string(&w, vals[k]);
            if (!v || HPDF_Dict_Add(info, keys[k], v) != HPDF_OK)
                info = NULL;
        }
        if (!info) {
            rc = fail(&w, err, "to write the document information");
            goto done;
        }
    }
    if (ly->has_created) {
        HPDF_Date d = to_date(&ly->created);
        if (HPDF_SetInfoDateAttr(w.pdf, HPDF_INFO_CREATION_DATE, d) != HPDF_OK) {
            HPDF_ResetError(w.pdf);
            w.error = 0;
        }
        HPDF_Date m = ly->has_modified ? to_date(&ly->modified) : d;
        if (HPDF_SetInfoDateAttr(w.pdf, HPDF_INFO_MOD_DATE, m) != HPDF_OK) {
            HPDF_ResetError(w.pdf);
            w.error = 0;
        }
    }
    /* /Lang and /ID */
    if (ly->lang && *ly->lang) {
        if (HPDF_Dict_Add(w.pdf->catalog, "Lang", HPDF_String_New(w.pdf->mmgr, ly->lang, NULL)) != HPDF_OK) {
            rc = fail(&w, err, "to set the language");
            goto done;
        }
    }
    {
        if (ly->title)
            ov_hash128_feed(&idh, ly->title, strlen(ly->title) + 1);
        if (ly->author)
            ov_hash128_feed(&idh, ly->author, strlen(ly->author) + 1);
        char np[32];
        int npl = snprintf(np, sizeof np, "%zu", ly->npages);
        ov_hash128_feed(&idh, np, (size_t)npl);
        unsigned char h[16];
        for (int k = 0; k < 8; k++) {
            h[k] = (unsigned char)(idh.a >> (8 * k));
            h[8 + k] = (unsigned char)(idh.b >> (8 * k));
        }
        HPDF_Array ida = HPDF_Array_New(w.pdf->mmgr);
        if (!ida || HPDF_Dict_Add(w.pdf->trailer, "ID", ida) != HPDF_OK ||
            HPDF_Array_Add(ida, HPDF_Binary_New(w.pdf->mmgr, h, 16)) != HPDF_OK ||
            HPDF_Array_Add(ida, HPDF_Binary_New(w.pdf->mmgr, h, 16)) != HPDF_OK) {
            rc = fail(&w, err, "to write the document id");
            goto done;
        }
    }
    if (w.error || w.nomem) {
        rc = fail(&w, err, "while building the document");
        goto done;
    }
    /* saved straight into the sink (through a buffer) rather than into libharu's memory stream and
     * read back: two byte-by-byte copies of the whole file less */
    {
        outbuf *ob = ov_malloc(sizeof *ob);
        if (!ob) {
            rc = ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_PDF, docname, 0, 0, "out of memory");
            goto done;
        }
        ob->sink = out;
        ob->n = 0;
        ob->failed = 0;
        w.pdf->stream = HPDF_CallbackWriter_New(w.pdf->mmgr, out_write, ob);
        HPDF_STATUS st = w.pdf->stream ? HPDF_SaveToStream(w.pdf) : HPDF_FAILD_TO_ALLOC_MEM;
        if (st == HPDF_OK && ob->n && ov_sink_write(out, ob->buf, ob->n) != 0)
            ob->failed = 1;
        int failed = ob->failed;
        ov_free(ob);
        if (failed) {
            rc = ov_error(err, OCTAVO_E_WRITE, OCTAVO_STAGE_OUTPUT, docname, 0, 0, "the output could not be written");
            goto done;
        }
        if (st != HPDF_OK) {
            rc = fail(&w, err, "to save the document");
            goto done;
        }
    }
done:
    for (int i = 0; i < w.nfonts; i++)
        ov_free(w.fonts[i].used);
    ov_free(w.pages);
    ov_free(w.images);
    ov_free(w.mc);
    zctx_end(&w.z);
    HPDF_Free(w.pdf); /* ov_layout_free frees the prepared images, after this */
    return rc;
}

int ov_pdf_render_doc(octavo_doc *doc, ov_sink *out, octavo_error *err) {
    ov_layout ly;
    int rc = ov_layout_doc(doc, &ly, err);
    if (rc)
        return rc;
    rc = render(&ly, doc->ov, doc->name, out, err);
    if (rc == OCTAVO_OK)
        doc->pdf_pages = (unsigned)ly.npages;
    ov_layout_free(&ly);
    return rc;
}

int ov_pdf_render_book(octavo_book *book, ov_sink *out, octavo_error *err) {
    ov_layout ly;
    int rc = ov_layout_book(book, &ly, err);
    if (rc)
        return rc;
    rc = render(&ly, book->ov, book->title ? book->title : "book", out, err);
    if (rc == OCTAVO_OK)
        book->pdf_pages = (unsigned)ly.npages;
    ov_layout_free(&ly);
    return rc;
}
