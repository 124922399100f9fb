/*
 * Private to the layout engine (layout.c, layout_para.c, layout_block.c, layout_page.c): the
 * vertical list that blocks are set into and that the page builder breaks into pages.
 */
#ifndef OCTAVO_LAYOUT_INT_H
#define OCTAVO_LAYOUT_INT_H

#include "layout.h"

/* colours */
#define C_TEXT 0x1a1a1au
#define C_HEAD 0x17324du
#define C_LINK 0x1f4e8cu
#define C_GRAY 0x6b6b6bu
#define C_RULE 0x9a9a9au
#define C_CODEBG 0xf2f1edu
#define C_QUOTE 0xc4c4c4u

enum { VL_LINE = 1, VL_GLUE = 2, VL_BREAK = 3, VL_MARK = 4 };

typedef struct vbox {
    int kind;
    float h, d;            /* line: extent above and below its reference; glue: h is the amount */
    size_t b0, nb;         /* boxes in L->lb: x from the text area's left; line: y from the
                            * baseline; glue: y from the glue's top (negative downwards) */
    int nobreak;           /* no page break before this line */
    size_t f0, nf;         /* footnotes referenced from this line (L->lfn) */
    size_t d0, nd;         /* destinations anchored at this line's top (L->ldest) */
    int dest;              /* VL_MARK: a destination */
    int header;            /* a table row: the vbox index of its header row to repeat, or -1 */
    int is_header;         /* a table header row */
} vbox;

typedef struct vlist {
    vbox *v;
    size_t n, cap;
} vlist;

typedef struct footnote {
    char *id;              /* the element id the references point to */
    vlist lines;           /* its lines, set at footnote size */
    float height;
} footnote;

/* a block context: where lines go across the page */
typedef struct bctx {
    float left, width;     /* the text column, from the text area's left */
    int nquote;
    float quote_x[16];     /* rules of enclosing block quotes */
    const char *marker;    /* a list marker waiting for the first line (UTF-8), or NULL */
    int marker_face;
    float marker_size;
    int depth;             /* list nesting */
    int in_table;          /* inside a table cell: 1 + the cell's alignment */
    int frame;             /* draw side rules at frame_x0 and frame_x1 */
    float frame_x0, frame_x1;
} bctx;

typedef struct lay {
    const octavo *ov;
    octavo_doc *doc;       /* the document being set (books: the current one) */
    ov_layout *ly;
    const ov_fonts *fonts;
    ov_shaper *shaper;
    const ov_hyphenator *hyph; /* loaded when a paragraph first needs it (lay_hyphenator) */
    int hyph_loaded;
    char lang[32];
    int ragged, hyphenate;
    float margin, text_left, text_top, text_bottom, text_w;
    float body_size, lead;
    ov_box *lb;            /* boxes of lines, relative */
    size_t nlb, caplb;
    vlist *v;              /* where lines go now */
    vlist main;
    size_t *lfn;           /* footnote indices per line */
    size_t nlfn, caplfn;
    size_t *ldest;         /* destinations per line */
    size_t nldest, capldest;
    size_t *pending_dest;  /* destinations waiting for the next line */
    size_t npending, cappending;
    footnote *fn;
    size_t nfn, capfn;
    size_t *pending_fn;    /* footnotes referenced in the paragraph being set */
    int keep_next;         /* the next line may not be separated from what precedes */
    int table_header;      /* when setting a table row: header index for VL lines */
    int depth;             /* nesting guard */
    int outline_base;      /* outline level of the document title (books: 1) */
    int32_t cur_tag;       /* the structure element new text and images belong to (ov_box.tag) */
    int32_t tag_group;     /* the group new elements go in (index + 1 in ly->tags, 0: the document) */
    int next_tag;          /* the type of the next paragraph's element (0: para_tag) */
    int para_tag;          /* the type of paragraphs here (P, or Note in footnotes) */
    /* the documents being set (a book's, or the one), for links between them; destination names
     * are per document: "<index>#<id>", the document's start "<index>#" */
    octavo_doc **docs;
    size_t ndocs, docidx;
    char **keys;           /* each document's path, absolute, without its page extension */
    size_t fn0;            /* the current document's first footnote in fn */
    const char *running_title;
    int doc_first_page;
    int nomem;
    int fail_code;         /* a layout error (a limit): the first one wins */
    unsigned fail_line, fail_col;
    const char *fail_file;
    char fail_msg[256];
} lay;

/* layout.c */
int lay_box(lay *L, const ov_box *b);
/** Starts a structure element of the type (alt: a figure's alternate text, or NULL): the text and
 *  images boxed from now on belong to it. */
void lay_tag(lay *L, int type, const char *alt);
/* Opens a group element (a list, an item, a table, a row, a cell) in the current one and makes it
 * current; returns the group to go back to (lay_tag_end). */
int32_t lay_tag_group(lay *L, int type);
void lay_tag_end(lay *L, int32_t back);
/** The document language's hyphenation patterns, loaded on first use; NULL when none or off. */
const ov_hyphenator *lay_hyphenator(lay *L);
size_t lay_line(lay *L, const bctx *c, float h, float d, size_t b0);
void lay_glue(lay *L, const bctx *c, float amount);
void lay_mark(lay *L, size_t dest);
void lay_break(lay *L);
uint32_t lay_str(lay *L, const char *s);
int lay_dest(lay *L, const char *name);
/** The destination named id in document doc (created unplaced when new); id "" is its start. */
int lay_doc_dest(lay *L, size_t doc, const char *id);
/** Where a link of the current document goes: returns 1 for a place in the book (*off: the
 *  destination's name in ly->strs, for OV_BOX_LINK ref -3), 0 for a URI (*off: the URI), -1 when
 *  it goes nowhere the PDF can reach (the text stays, without a link; warned). */
int lay_link(lay *L, xmlNodePtr node, const char *href, uint32_t *off);
uint32_t lay_chars(lay *L, const uint32_t *cp, const float *adj, size_t n);
int lay_text_box(lay *L, int face, float size, uint32_t color, float x, float y, const char *utf8);
float lay_text_width(lay *L, int face, float size, const char *utf8);
void lay_warn(lay *L, xmlNodePtr node, int code, const char *fmt, ...) OV_PRINTF(4, 5);
/** Fails the layout with code (the document's render then returns it, with node's position). */
void lay_fail(lay *L, xmlNodePtr node, int code, const char *fmt, ...) OV_PRINTF(4, 5);
int lay_vpush(lay *L, vlist *v, const vbox *b);

/* layout_para.c: inline content -> lines */
typedef struct istyle {
    int family, style;
    float size;
    uint32_t color;
    uint32_t link;         /* offset+1 of the target in ly->strs, 0: none */
    int internal;          /* the link is #anchor */
    int strike, code, rise;
    int fn;                /* a footnote reference: the footnote's index, else -1 */
} istyle;

typedef struct para para;
para *para_new(lay *L, const bctx *c);
void para_free(para *P);
void para_inline(lay *L, para *P, xmlNodePtr n, istyle st);
void para_inline_node(lay *L, para *P, xmlNodePtr n, istyle st);
void para_text(lay *L, para *P, const char *s, size_t len, const istyle *st, int pre);
int para_empty(const para *P);
/** Sets the paragraph into lines of the context; align: 0 justify, 1 left, 2 center. */
void para_finish(lay *L, para *P, const bctx *c, float lead, int align, int keep_lines);
istyle style_body(lay *L);

/* layout_block.c */
void lay_blocks(lay *L, xmlNodePtr parent, bctx *c);
void lay_block(lay *L, xmlNodePtr n, bctx *c);
int is_block_element(xmlNodePtr n);
/** The indent of a list's items (a bullet's, or room for its largest number). */
float lay_list_indent(lay *L, xmlNodePtr list);
/** What an inline element does to the type it is in: italic (em...), bold (strong, b) or code
 *  (code...: monospace at 0.86 of the size, once). 1 when name is one of those. */
int lay_inline_style(const char *name, int *style, int *code, float *size);
void lay_image(lay *L, xmlNodePtr img, const bctx *c, int figure);
void lay_table(lay *L, xmlNodePtr table, bctx *c);
int has_class(xmlNodePtr n, const char *cls);
const char *attr(xmlNodePtr n, const char *name);

/* layout_page.c */
int lay_paginate(lay *L);

#endif
