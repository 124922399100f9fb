/*
 * The PDF layout engine, between two narrow interfaces (STYLE.md §8):
 *
 *   font metrics in   font.c        faces, coverage, per-character fallback, shaping (HarfBuzz:
 *                                   advances with kerning, no ligatures: one glyph per character),
 *                                   subsets for embedding (hb-subset)
 *   line breaking     linebreak.c   Knuth–Plass total fit over boxes, glue and penalties
 *                     hyphenate.c   libhyphen patterns for the document's language
 *   layout            layout.c      DOM (model.c) -> vertical list -> pages of positioned boxes
 *   boxes out         ov_layout     pages of text runs, rules, rectangles, images, links; outline,
 *                                   named destinations, page labels, document information
 *   backend           pdf.c         ov_layout -> PDF with libharu (every libharu call lives there)
 *
 * Layout never calls libharu; the backend never measures or breaks anything. Units are PostScript
 * points; box coordinates are PDF coordinates (origin at the page's bottom left, y upwards).
 */
#ifndef OCTAVO_LAYOUT_H
#define OCTAVO_LAYOUT_H

#include "internal.h"
#include "image.h"

/* ---- fonts (font.c) ------------------------------------------------------------------------
 * Faces 0..11 are the roles of fonts/fonts.conf: family * 4 + style. The faces after them make the
 * fallback chain tried per character when the primary face lacks a glyph.
 */
enum { OV_SERIF = 0, OV_SANS = 1, OV_MONO = 2 };
enum { OV_BOLD = 1, OV_ITALIC = 2 };
#define OV_FACE(family, style) ((family) * 4 + (style))
enum {
    OV_FACE_FB_SANS = 12,      /* DejaVu Sans: symbols, Greek, Cyrillic, U+FFFD */
    OV_FACE_FB_SANS_BOLD = 13,
    OV_FACE_FB_SERIF = 14,     /* DejaVu Serif */
    OV_FACE_FB_MONO = 15,      /* DejaVu Sans Mono: box drawing, arrows */
    OV_FACE_FB_CJK = 16,       /* a TrueType CJK font when installed */
    OV_NFACES = 17
};
#define OV_REPLACEMENT_CHAR 0xFFFDu

typedef struct ov_fonts ov_fonts;

/** The process-wide font set (thread-safe, never freed before exit; each face is loaded the first
 *  time it is asked about). Loads HarfBuzz first (pdfdl.h), so every function taking the set may
 *  call it. Returns OCTAVO_E_PDF with err filled when HarfBuzz cannot be loaded, OCTAVO_E_FONT
 *  when the body font cannot be. */
int ov_fonts_get(const ov_fonts **out, octavo_error *err);
/** The font file of a face, or NULL when it is not installed. */
const char *ov_font_path(const ov_fonts *f, int face);
/** What a subset of the face depends on besides its characters, for caches: a SHA-256 of the
 *  font file's identity (path, inode, size, modification time) and of the subsetter (HarfBuzz's
 *  version, font.c's settings). Returns 0, or -1 when the face cannot be loaded. */
int ov_font_identity(const ov_fonts *f, int face, unsigned char id[32]);
/** Whether the face has a glyph for the code point. */
int ov_font_has(const ov_fonts *f, int face, uint32_t cp);
/** The face that draws cp: face itself, else the first of its fallback chain that has it; -1 when
 *  none has (the caller then draws OV_REPLACEMENT_CHAR and warns). */
int ov_font_pick(const ov_fonts *f, int face, uint32_t cp);
/** Nominal advance of a character (its glyph's hmtx width) in 1/1000 em; 0 when missing. */
double ov_font_advance(const ov_fonts *f, int face, uint32_t cp);
/** The ink of a character's glyph, from its origin, in 1/1000 em: 1, or 0 when the face lacks it
 *  or the glyph draws nothing (a space). */
int ov_font_ink(const ov_fonts *f, int face, uint32_t cp, double *xmin, double *xmax);
/** Ascender, descender (negative), cap height and x-height in 1/1000 em. */
double ov_font_ascent(const ov_fonts *f, int face);
double ov_font_descent(const ov_fonts *f, int face);
double ov_font_capheight(const ov_fonts *f, int face);

/** A face cut down to the characters a document uses, for embedding (HarfBuzz's subsetter): the
 *  glyphs of those characters and the components of composite ones, renumbered; no hinting and no
 *  layout tables. Deterministic: the same characters give the same bytes. */
typedef struct ov_font_subset {
    unsigned char *data;       /* the TrueType font program */
    size_t len;
    uint16_t *gid;             /* per requested character: its glyph in the subset (0: none) */
    double *width;             /* per requested character: its advance in 1/1000 em */
    char psname[64];           /* the PostScript name, reduced to characters a PDF name takes */
    double bbox[4];            /* font bounding box in 1/1000 em */
    double ascent, descent, capheight, italic_angle, stemv;
    int flags;                 /* PDF font descriptor flags */
} ov_font_subset;
/** Subsets a face to the n characters cps (sorted or not). Returns an octavo_code: OCTAVO_E_PDF
 *  when HarfBuzz's subsetter cannot be loaded (ov_pdf_load_hb_subset says why). */
int ov_font_make_subset(const ov_fonts *f, int face, const uint32_t *cps, size_t n, ov_font_subset *out);
void ov_font_subset_free(ov_font_subset *s);

/** A shaper: per-thread scratch for shaping (HarfBuzz buffer). */
typedef struct ov_shaper ov_shaper;
ov_shaper *ov_shaper_new(const ov_fonts *f);
void ov_shaper_free(ov_shaper *s);
/** Shapes n characters that face has (no ligatures, kerning on); adv[i] receives the advance of
 *  character i in 1/1000 em, kerning with the next one included. Returns the total. */
double ov_shape(ov_shaper *s, int face, const uint32_t *cp, size_t n, float *adv);
/** Keeps the words the shaper shapes for the document doc (its bytes: text, len) in ov's cache:
 *  they are read back when a shaper starts on the same bytes (the fonts and HarfBuzz unchanged),
 *  so that they need no shaping, and stored when the shaper is freed. Call it before shaping the
 *  document's words; calls for the same doc do nothing, and a second document ends the caching
 *  (books: what the first one shaped is stored). Results are the same with or without it. */
void ov_shaper_cache(ov_shaper *s, const octavo *ov, const void *doc, const void *text, size_t len);

/* ---- hyphenation (hyphenate.c) ---------------------------------------------------------------- */
typedef struct ov_hyphenator ov_hyphenator;
/** The hyphenation patterns for a language ("en", "en-US", "de"...), loaded once per process;
 *  NULL when no dictionary is installed for it. */
const ov_hyphenator *ov_hyphenator_get(const char *lang);
/** Marks the allowed break points of a lower- or mixed-case word of n ASCII/UTF-8 letters:
 *  out[i] = 1 when a hyphen may follow character i (characters, not bytes). Returns the count. */
int ov_hyphenate(const ov_hyphenator *h, const uint32_t *word, size_t n, unsigned char *out);

/* ---- line breaking (linebreak.c) ------------------------------------------------------------- */
enum { OV_LB_BOX = 0, OV_LB_GLUE = 1, OV_LB_PENALTY = 2 };
#define OV_LB_INF 10000
#define OV_LB_LAST_RESORT 500 /* penalties from here on: breaks a ragged line takes only when it has no other */
typedef struct ov_lb_item {
    int type;
    double width, stretch, shrink;  /* glue: all three; box: width; penalty: width when broken */
    int penalty;                    /* penalty: cost (>= OV_LB_INF: no break; <= -OV_LB_INF: forced) */
    int flagged;                    /* penalty: a hyphen break (consecutive ones cost more);
                                       glue: no break there */
} ov_lb_item;
/** Chooses breakpoints (indices of glue or penalty items) for lines of width line_width.
 *  Total fit (Knuth–Plass) with tolerance, then a looser pass with emergency stretch, then first
 *  fit. ragged: first fit with natural spaces. *breaks is ov_malloc'd; the last is the final item.
 *  Returns the number of lines, -1 on allocation failure. */
int ov_linebreak(const ov_lb_item *items, size_t n, double line_width, int ragged, size_t **breaks);
/** One total-fit pass at a tolerance (the largest stretch ratio allowed; 1.0 is TeX's
 *  \pretolerance of 100), no emergency stretch: TeX's first pass, tried before hyphenating.
 *  Returns the number of lines, 0 when no breaks are within the tolerance, -1 on allocation
 *  failure. */
int ov_linebreak_pass(const ov_lb_item *items, size_t n, double line_width, double tolerance, size_t **breaks);

/* ---- the output: pages of boxes --------------------------------------------------------------- */
typedef enum ov_box_kind {
    OV_BOX_TEXT = 1,   /* a run of characters in one face and size on one baseline */
    OV_BOX_RECT = 2,   /* a filled rectangle */
    OV_BOX_LINE = 3,   /* a stroked line from (x, y) to (x + w, y + h) */
    OV_BOX_IMAGE = 4,  /* an image placed at (x, y) with size w x h */
    OV_BOX_LINK = 5,   /* a link rectangle: a URI or an internal destination */
    OV_BOX_FRAME = 6   /* a stroked rectangle */
} ov_box_kind;

/* Structure elements of the tagged PDF, in reading order: what a run of boxes is. */
typedef enum ov_tag_type {
    OV_TAG_P = 1,
    OV_TAG_H1, OV_TAG_H2, OV_TAG_H3, OV_TAG_H4, OV_TAG_H5, OV_TAG_H6,
    OV_TAG_FIGURE,     /* an image, with its alternate description */
    OV_TAG_CAPTION,
    OV_TAG_NOTE,       /* a footnote */
    OV_TAG_CODE,       /* a code block */
    /* groups: elements that hold others, never text of their own */
    OV_TAG_L,          /* a list, */
    OV_TAG_LI,         /* its items */
    OV_TAG_LBODY,      /* and their contents */
    OV_TAG_TABLE,      /* a table, */
    OV_TAG_TR,         /* its rows */
    OV_TAG_TH,         /* and their header */
    OV_TAG_TD          /* and data cells */
} ov_tag_type;

typedef struct ov_tag {
    int type;                  /* ov_tag_type */
    uint32_t alt;              /* figures: offset + 1 of the alternate text in ly->strs, 0: none */
    int32_t parent;            /* the group it is in: index + 1 in ly->tags, 0: the document */
} ov_tag;

typedef struct ov_box {
    int kind;
    int32_t tag;           /* the structure element it belongs to: index + 1 in ly->tags; -1 or 0:
                            * an artifact (rules, backgrounds, running heads, page numbers) */
    int face;              /* text */
    uint32_t color;        /* 0xRRGGBB: text and rect fill, line and frame stroke */
    float x, y, w, h;      /* text: baseline start and advance width */
    float size;            /* text: font size; line, frame: line width */
    uint32_t off, n;       /* text: characters ly->cp[off..off+n) with adjustments ly->adj[off..] */
    int32_t ref;           /* image: index in ly->images; link: destination index, or -1 */
    uint32_t uri;          /* link: offset of the URI in ly->strs when ref < 0 */
} ov_box;

typedef struct ov_page {
    ov_box *boxes;
    size_t n, cap;
} ov_page;

typedef struct ov_dest {       /* a named destination (heading id, footnote) */
    char *name;
    int page;                  /* 0-based; -1 until placed */
    float y;                   /* PDF y of the top of what it names */
} ov_dest;

typedef struct ov_outline_entry {
    char *title;               /* UTF-8 */
    int level;                 /* 1 = top */
    int dest;                  /* index in dests */
} ov_outline_entry;

typedef struct ov_label_range { /* page labels: from page first on, style 'D' or 'r', numbered from start */
    int first;
    char style;
    int start;
} ov_label_range;

typedef struct ov_layout_image {
    octavo_blob blob;          /* the image file's bytes */
    ov_image_info info;
    char *alt;
    float placed_w, placed_h;  /* the largest size it is placed at, in points */
} ov_layout_image;

typedef struct ov_imgprep ov_imgprep; /* pdf.c: images made ready for the PDF on worker threads */

typedef struct ov_layout {
    const octavo *ov;
    const ov_fonts *fonts;
    float page_w, page_h;
    ov_page *pages;
    size_t npages, cap_pages;
    uint16_t *cp;              /* the characters of every text box (BMP only) */
    float *adj;                /* per character: extra advance after it in 1/1000 em (may be < 0) */
    size_t ncp, cap_cp;
    ov_buf strs;               /* URIs and other strings, NUL-separated */
    ov_dest *dests;
    size_t ndests, cap_dests;
    ov_outline_entry *outline;
    size_t noutline, cap_outline;
    ov_label_range *labels;
    size_t nlabels, cap_labels;
    ov_layout_image *images;
    size_t nimages, cap_images;
    ov_tag *tags;              /* structure elements, in the order they were set */
    size_t ntags, cap_tags;
    /* document information (UTF-8, owned) */
    char *title, *author, *subject, *keywords, *lang, *creator;
    octavo_time created, modified;
    int has_created, has_modified;
    int nomem;
    ov_imgprep *prep;          /* the images being prepared (ov_pdf_prep_add), or NULL */
} ov_layout;

/** Lays out one document. */
int ov_layout_doc(octavo_doc *doc, ov_layout *out, octavo_error *err);
/** Lays out a book: cover, contents, the documents in order. */
int ov_layout_book(octavo_book *book, ov_layout *out, octavo_error *err);
void ov_layout_free(ov_layout *ly);

/** pdf.c: queues ly->images[idx], just placed, to be made ready for the PDF (decoded, scaled to
 *  its placed size, encoded, cached) on worker threads while the layout goes on. 0, or -1 when out
 *  of memory (the writer then queues it itself). */
int ov_pdf_prep_add(ov_layout *ly, size_t idx);
/** pdf.c: stops the preparing threads and frees what they made (ov_layout_free calls it). */
void ov_pdf_prep_free(ov_layout *ly);

/** Test hook (pdf.c): the number of threads that prepare a PDF's images ahead of the writer, for
 *  renders started from the calling thread afterwards; -1 (the default): one per online CPU but
 *  the writer's, 0: none (each image prepared when the writer reaches it). */
void ov_test_pdf_prep_threads(int n);

#endif
