/*
 * Paragraphs: inline DOM -> boxes, glue and penalties (words shaped per face run, hyphenation
 * points, break points inside long URLs and code tokens) -> Knuth–Plass breaks -> lines of text
 * runs with per-character adjustments (kerning and justification as TJ numbers).
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "layout_int.h"

typedef struct pitem {
    int type;              /* OV_LB_BOX, OV_LB_GLUE, OV_LB_PENALTY */
    float w, st, sh;
    int pen, flagged;
    int face;
    float size, rise;
    uint32_t color;
    uint32_t c0, nc;       /* characters in P->cp, advances (points) in P->adv */
    uint32_t link;         /* offset+1 in ly->strs */
    int internal, strike, code;
    int hyph;              /* penalty: a hyphen is drawn when the line breaks here */
    int cjk;               /* glue: between two characters of Chinese or Japanese text (no space of
                            * its own: its stretch or shrink moves the next character) */
    int fn;                /* footnote referenced, -1 */
    int dest;              /* destination anchored here, -1 */
} pitem;

struct para {
    pitem *it;
    size_t n, cap;
    uint32_t *cp;
    float *adv;
    size_t ncp, capcp;
    int space;             /* whitespace seen since the last box */
    istyle space_style;
    int content;
    bctx *c;
    float lead;
    int warned;
    int nohyph;            /* set flush left or centred (titles, contents, cells): no hyphens */
};

#define WORD_MAX 512

istyle style_body(lay *L) {
    istyle s = { 0 };
    s.family = OV_SERIF;
    s.style = 0;
    s.size = L->body_size;
    s.color = C_TEXT;
    s.fn = -1;
    return s;
}

para *para_new(lay *L, const bctx *c) {
    para *P = ov_calloc(1, sizeof *P);
    if (!P) {
        L->nomem = 1;
        return NULL;
    }
    P->c = (bctx *)c;
    P->lead = L->lead;
    return P;
}

void para_free(para *P) {
    if (!P)
        return;
    ov_free(P->it);
    ov_free(P->cp);
    ov_free(P->adv);
    ov_free(P);
}

int para_empty(const para *P) { return !P || !P->content; }

static pitem *push_item(lay *L, para *P) {
    if (P->n == P->cap) {
        size_t nc = P->cap ? P->cap * 2 : 64;
        pitem *p = ov_realloc(P->it, nc * sizeof *p);
        if (!p) {
            L->nomem = 1;
            return NULL;
        }
        P->it = p;
        P->cap = nc;
    }
    pitem *x = &P->it[P->n++];
    memset(x, 0, sizeof *x);
    x->fn = -1;
    x->dest = -1;
    return x;
}

static int push_chars(lay *L, para *P, size_t n) {
    if (P->ncp + n > P->capcp) {
        size_t nc = P->capcp ? P->capcp * 2 : 256;
        while (nc < P->ncp + n)
            nc *= 2;
        uint32_t *a = ov_realloc(P->cp, nc * sizeof *a);
        if (!a) {
            L->nomem = 1;
            return -1;
        }
        P->cp = a;
        float *b = ov_realloc(P->adv, nc * sizeof *b);
        if (!b) {
            L->nomem = 1;
            return -1;
        }
        P->adv = b;
        P->capcp = nc;
    }
    return 0;
}

static int face_of_style(const istyle *st) { return OV_FACE(st->code ? OV_MONO : st->family, st->style & 3); }

static float style_size(const istyle *st) { return st->size; }

int lay_inline_style(const char *name, int *style, int *code, float *size) {
    if (!strcasecmp(name, "em") || !strcasecmp(name, "i") || !strcasecmp(name, "cite") || !strcasecmp(name, "var") ||
        !strcasecmp(name, "dfn")) {
        *style ^= OV_ITALIC;
        return 1;
    }
    if (!strcasecmp(name, "strong") || !strcasecmp(name, "b")) {
        *style |= OV_BOLD;
        return 1;
    }
    if (!strcasecmp(name, "code") || !strcasecmp(name, "kbd") || !strcasecmp(name, "samp") || !strcasecmp(name, "tt")) {
        if (!*code) {
            *code = 1;
            *size *= 0.86f;
        }
        return 1;
    }
    return 0;
}

static void push_glue(lay *L, para *P, const istyle *st) {
    int face = face_of_style(st);
    float size = style_size(st);
    double sp = ov_font_advance(L->fonts, face, ' ') * size / 1000.0;
    if (sp <= 0)
        sp = size * 0.25;
    pitem *g = push_item(L, P);
    if (!g)
        return;
    g->type = OV_LB_GLUE;
    g->w = (float)sp;
    if (st->code) {
        g->st = (float)(sp * 0.5);
        g->sh = (float)(sp * 0.2);
    } else {
        g->st = (float)(sp * 0.6);
        g->sh = (float)(sp * 0.3);
    }
    g->face = face;
    g->size = size;
    g->color = st->color;
    g->link = st->link;
    g->internal = st->internal;
}

static void set_box_style(pitem *b, const istyle *st, int face) {
    b->type = OV_LB_BOX;
    b->face = face;
    b->size = style_size(st);
    b->rise = st->rise ? st->size * 0.5f : 0;
    b->color = st->link ? C_LINK : st->color;
    b->link = st->link;
    b->internal = st->internal;
    b->strike = st->strike;
    b->code = st->code;
    b->fn = st->fn;
}

static int cjk_no_break_before(uint32_t c);

/* A space before a mark that may not start a line (a Chinese or Japanese full stop, comma or
 * closing bracket: kinsoku) is no break either: "… [link](url) 。" would put the full stop alone
 * at the start of a line. An infinite penalty goes between the word before and the space. */
static void keep_before(lay *L, para *P, uint32_t first) {
    if (!cjk_no_break_before(first) || P->n < 2 || P->it[P->n - 1].type != OV_LB_GLUE ||
        P->it[P->n - 2].type != OV_LB_BOX)
        return;
    pitem glue = P->it[P->n - 1];
    pitem *pe = push_item(L, P); /* may move the array */
    if (!pe)
        return;
    pitem pen = *pe;             /* a fresh item */
    pen.type = OV_LB_PENALTY;
    pen.pen = OV_LB_INF;
    P->it[P->n - 2] = pen;
    P->it[P->n - 1] = glue;
}

/* A word (no spaces): one box per face run, shaped. */
static void push_word(lay *L, para *P, const uint32_t *w, size_t n, const istyle *st) {
    int base = face_of_style(st);
    size_t i = 0;
    if (n)
        keep_before(L, P, w[0]);
    while (i < n) {
        int f = ov_font_pick(L->fonts, base, w[i]);
        size_t j = i + 1;
        while (j < n && ov_font_pick(L->fonts, base, w[j]) == f)
            j++;
        if (push_chars(L, P, j - i) < 0)
            return;
        uint32_t *dst = P->cp + P->ncp;
        for (size_t k = i; k < j; k++)
            dst[k - i] = w[k];
        if (f < 0) {
            /* no font has these characters: a visible replacement, and a warning */
            for (size_t k = 0; k < j - i; k++)
                dst[k] = OV_REPLACEMENT_CHAR;
            f = ov_font_pick(L->fonts, base, OV_REPLACEMENT_CHAR);
            if (!P->warned) {
                lay_warn(L, NULL, OCTAVO_E_FONT, "no font has the character U+%04X; drawn as U+FFFD",
                         (unsigned)w[i]);
                P->warned = 1;
            }
            if (f < 0) {
                i = j;
                continue;
            }
        }
        float size = style_size(st);
        float *adv = P->adv + P->ncp;
        if (L->doc)
            ov_shaper_cache(L->shaper, L->ov, L->doc, L->doc->text, L->doc->len);
        double total = ov_shape(L->shaper, f, dst, j - i, adv);
        for (size_t k = 0; k < j - i; k++)
            adv[k] = adv[k] * size / 1000.0f;
        pitem *b = push_item(L, P);
        if (!b)
            return;
        set_box_style(b, st, f);
        b->c0 = (uint32_t)P->ncp;
        b->nc = (uint32_t)(j - i);
        b->w = (float)(total * size / 1000.0);
        P->ncp += j - i;
        P->content = 1;
        i = j;
    }
}

static int utf8_dec(const unsigned char **p, const unsigned char *end, uint32_t *cp) {
    const unsigned char *s = *p;
    if (s >= end)
        return 0;
    uint32_t c = *s++;
    int extra = c < 0x80 ? 0 : c < 0xC0 ? -1 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    if (extra < 0) {
        *p = s;
        *cp = OV_REPLACEMENT_CHAR;
        return 1;
    }
    if (extra) {
        c &= extra == 1 ? 0x1F : extra == 2 ? 0x0F : 0x07;
        for (int i = 0; i < extra; i++) {
            if (s >= end || (*s & 0xC0) != 0x80) {
                c = OV_REPLACEMENT_CHAR;
                break;
            }
            c = c << 6 | (*s++ & 0x3F);
        }
    }
    *p = s;
    *cp = c;
    return 1;
}

static int is_space(uint32_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

void para_text(lay *L, para *P, const char *s, size_t len, const istyle *st, int pre) {
    (void)pre;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    uint32_t word[WORD_MAX];
    size_t wn = 0;
    uint32_t c;
    while (utf8_dec(&p, end, &c)) {
        if (is_space(c) || c == 0x200B || c == 0xAD) {
            if (wn) {
                push_word(L, P, word, wn, st);
                wn = 0;
            }
            if (c == 0x200B || c == 0xAD) {
                pitem *pe = push_item(L, P);
                if (pe) {
                    pe->type = OV_LB_PENALTY;
                    pe->pen = c == 0xAD ? 50 : 0;
                    pe->flagged = c == 0xAD;
                    pe->hyph = c == 0xAD;
                    int f = ov_font_pick(L->fonts, face_of_style(st), '-');
                    pe->face = f < 0 ? 0 : f;
                    pe->size = style_size(st);
                    pe->color = st->color;
                    pe->w = c == 0xAD ? (float)(ov_font_advance(L->fonts, pe->face, '-') * pe->size / 1000.0) : 0;
                }
                continue;
            }
            if (P->content) {
                if (!P->space)
                    P->space_style = *st;
                P->space = 1;
            }
            continue;
        }
        if (P->space) {
            push_glue(L, P, &P->space_style);
            P->space = 0;
        }
        if (c >= 0x10000) {
            if (!P->warned) {
                lay_warn(L, NULL, OCTAVO_E_FONT,
                         "the character U+%05X is outside the Basic Multilingual Plane; drawn as U+FFFD",
                         (unsigned)c);
                P->warned = 1;
            }
            c = OV_REPLACEMENT_CHAR;
        }
        word[wn++] = c;
        if (wn == WORD_MAX) {
            push_word(L, P, word, wn, st);
            wn = 0;
        }
    }
    if (wn)
        push_word(L, P, word, wn, st);
}

static void push_forced_break(lay *L, para *P) {
    if (!P->content)
        return;
    P->space = 0;
    pitem *g = push_item(L, P);
    if (!g)
        return;
    g->type = OV_LB_GLUE;
    g->st = 1e6f;
    pitem *p = push_item(L, P);
    if (!p)
        return;
    p->type = OV_LB_PENALTY;
    p->pen = -OV_LB_INF;
}

static void push_anchor(lay *L, para *P, int dest) {
    pitem *b = push_item(L, P);
    if (!b)
        return;
    b->type = OV_LB_BOX;
    b->dest = dest;
}

static int footnote_index(lay *L, const char *href) {
    if (!href || href[0] != '#')
        return -1;
    for (size_t i = L->fn0; i < L->nfn; i++) /* the current document's footnotes */
        if (strcmp(L->fn[i].id, href + 1) == 0)
            return (int)i;
    return -1;
}

void para_inline(lay *L, para *P, xmlNodePtr n, istyle st) {
    if (L->depth > 200)
        return;
    L->depth++;
    for (xmlNodePtr c = n->children; c; c = c->next)
        para_inline_node(L, P, c, st);
    L->depth--;
}

void para_inline_node(lay *L, para *P, xmlNodePtr c, istyle st) {
    {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            if (c->content)
                para_text(L, P, (const char *)c->content, strlen((const char *)c->content), &st, 0);
            return;
        }
        if (c->type != XML_ELEMENT_NODE)
            return;
        const char *name = (const char *)c->name;
        istyle s2 = st;
        if (lay_inline_style(name, &s2.style, &s2.code, &s2.size)) {
            para_inline(L, P, c, s2);
        } else if (!strcasecmp(name, "del") || !strcasecmp(name, "s") || !strcasecmp(name, "strike")) {
            s2.strike = 1;
            para_inline(L, P, c, s2);
        } else if (!strcasecmp(name, "sup") || !strcasecmp(name, "sub")) {
            s2.size = st.size * 0.7f;
            s2.rise = name[1] == 'u' && name[2] == 'p' ? 1 : 0;
            para_inline(L, P, c, s2);
        } else if (!strcasecmp(name, "a")) {
            const char *id = attr(c, "id");
            if (!id || !*id)
                id = attr(c, "name");
            if (id && *id) {
                int d = lay_doc_dest(L, L->docidx, id);
                if (d >= 0)
                    push_anchor(L, P, d);
            }
            const char *href = attr(c, "href");
            int fn = footnote_index(L, href);
            uint32_t off = 0;
            int kind = href && *href ? lay_link(L, c, href, &off) : -1;
            if (fn >= 0) {
                s2.fn = fn;
                if (kind >= 0) {
                    s2.link = off + 1;
                    s2.internal = kind == 1;
                }
                if (!st.rise) {
                    s2.size = st.size * 0.7f;
                    s2.rise = 1;
                }
            } else if (kind >= 0) {
                s2.link = off + 1;
                s2.internal = kind == 1;
            } else {
                s2.link = 0; /* a link nowhere the PDF reaches: plain text */
            }
            para_inline(L, P, c, s2);
        } else if (!strcasecmp(name, "br")) {
            push_forced_break(L, P);
        } else if (!strcasecmp(name, "img")) {
            /* images are blocks: set what came before, the image, then go on */
            if (P->content) {
                para_finish(L, P, P->c, P->lead, 0, 1);
            }
            lay_image(L, c, P->c, 0);
        } else if (!strcasecmp(name, "input")) {
            const char *type = attr(c, "type");
            if (type && !strcasecmp(type, "checkbox")) {
                const char *box = attr(c, "checked") ? "\xE2\x98\x91" : "\xE2\x98\x90";
                istyle s3 = st;
                s3.link = 0;
                para_text(L, P, box, strlen(box), &s3, 0);
                P->space_style = st;
                P->space = 1;
            }
        } else if (!strcasecmp(name, "script") || !strcasecmp(name, "style") || !strcasecmp(name, "template")) {
            return;
        } else if (!strcasecmp(name, "iframe")) {
            const char *src = attr(c, "src");
            const char *title = attr(c, "title");
            char buf[600];
            snprintf(buf, sizeof buf, "%s", title && *title ? title : src ? src : "embedded content");
            uint32_t off = 0;
            int kind = src && *src ? lay_link(L, c, src, &off) : -1;
            if (kind >= 0) {
                s2.link = off + 1;
                s2.internal = kind == 1;
            }
            para_text(L, P, buf, strlen(buf), &s2, 0);
        } else if (is_block_element(c)) {
            /* a block inside inline content: its own lines */
            if (P->content)
                para_finish(L, P, P->c, P->lead, 0, 1);
            lay_block(L, c, P->c);
        } else {
            para_inline(L, P, c, s2);
        }
    }
}

/* ---- breaking: hyphenation and emergency break points, then Knuth–Plass */

static int is_letter_ascii(uint32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_alnum_ascii(uint32_t c) { return is_letter_ascii(c) || (c >= '0' && c <= '9'); }
static int url_break_after(uint32_t c) {
    return c == '/' || c == '.' || c == '?' || c == '&' || c == '=' || c == '#' || c == '_' || c == '-' ||
           c == ',' || c == ';' || c == ':' || c == '\\' || c == '|' || c == '+' || c == ')' || c == ']';
}

static int is_cjk(uint32_t c) {
    return (c >= 0x2E80 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0xFF00 && c <= 0xFFEF);
}
static int cjk_no_break_before(uint32_t c) {
    static const uint32_t s[] = { 0xFF0C, 0x3002, 0x3001, 0xFF1A, 0xFF1B, 0xFF01, 0xFF1F, 0xFF09, 0x300D,
                                  0x300F, 0x3009, 0x300B, 0x3011, 0xFF0E, 0x30FC };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        if (s[i] == c)
            return 1;
    return 0;
}
static int cjk_no_break_after(uint32_t c) {
    return c == 0xFF08 || c == 0x300C || c == 0x300E || c == 0x3008 || c == 0x300A || c == 0x3010;
}

/* A line may break between a and z, with a little stretch: between two ideographs, and between an
 * ideograph and a Latin letter or digit either way (UAX #14: ID ÷ ID, ID ÷ AL, AL ÷ ID, ID ÷ NU,
 * NU ÷ ID), not before closing nor after opening marks. Chinese text puts no space around the
 * Latin words it quotes, so without the mixed pairs such a word and its neighbours would be one
 * unbreakable stretch. */
static int cjk_break_between(uint32_t a, uint32_t z) {
    int ca = is_cjk(a), cz = is_cjk(z);
    if (!((ca && cz) || (ca && is_alnum_ascii(z)) || (cz && is_alnum_ascii(a))))
        return 0;
    return !cjk_no_break_before(z) && !cjk_no_break_after(a);
}

/* Justification of Chinese and Japanese lines. The stretch between two characters: 0.075 em at
 * ratio 1, 0.0945 em at the largest ratio the line breaker's first passes allow (1.26), under the
 * gap at which pdftotext splits a word (more than 0.1 em: poppler's minWordBreakSpace, measured on
 * our output), so that extracted text stays whole; CJK_MAX_GAP bounds it in emergencies. The
 * penalty of a break inside a run of ideographs: a preference for clause boundaries, worth a line
 * of badness ~90 (all its punctuation compressed by nine tenths of what it can give, or its
 * ideographs spaced 0.07 em apart), not a rule: breaking anywhere is ordinary in Chinese. */
#define CJK_STRETCH 0.075f
#define CJK_MAX_GAP 0.095
#define CJK_MID_PENALTY 100

/* Whether a break between a and z (one cjk_break_between allows) ends a clause: after a full
 * stop, comma, enumeration comma, colon, semicolon or closing mark, before an opening one. Readers
 * of Chinese take such breaks in their stride; a break inside a run of ideographs cuts a phrase
 * (and a word, for anyone who searches or copies the text). */
static int cjk_clause_break(uint32_t a, uint32_t z) { return cjk_no_break_before(a) || cjk_no_break_after(z); }

/* The blank a full-width punctuation mark may give up on its left and right (JIS X 4051 and
 * CLREQ's punctuation compression), in points at size: what the glyph leaves free on that side
 * but 0.05 em, and no more than half an em for the two sides together (a mark set half-width at
 * the most). Read from the glyph's ink, so that a font with marks in a corner (mainland style)
 * and one with marks in the middle (Taiwan style) are both compressed without touching the ink.
 * 0 for anything but the marks cjk_no_break_before and cjk_no_break_after name. */
static void cjk_punct_blank(lay *L, int face, float size, uint32_t c, double *left, double *right) {
    *left = *right = 0;
    if ((!cjk_no_break_before(c) && !cjk_no_break_after(c)) || c == 0x30FC)
        return;
    double adv = ov_font_advance(L->fonts, face, c), x0, x1;
    if (adv <= 0 || !ov_font_ink(L->fonts, face, c, &x0, &x1))
        return;
    double l = fmax(0, x0 - 50), r = fmax(0, adv - x1 - 50);
    if (l + r > 500) {
        double k = 500 / (l + r);
        l *= k;
        r *= k;
    }
    *left = l * size / 1000.0;
    *right = r * size / 1000.0;
}

static void cjk_item(pitem *g, const pitem *b, int type) {
    memset(g, 0, sizeof *g);
    g->type = type;
    g->fn = -1;
    g->dest = -1;
    g->face = b->face;
    g->size = b->size;
    g->color = b->color;
    g->link = b->link; /* inside a link, the link goes on across it */
    g->internal = b->internal;
}

/* The items between two characters a (in face fa) and z (in fz) of a Chinese or Japanese text, b
 * the box z is in; returns their number (at most 4), 0 when there is nothing between them.
 *  - where a line may break (cjk_break_between): a glue of no width with a little stretch, and the
 *    right blank of a as shrink (punctuation compressed inside a line, never at its end); behind a
 *    penalty when the break would fall inside a run of ideographs rather than between clauses.
 *    The stretch stays under pdftotext's word-break gap (0.1 em) at the largest ratio the first
 *    passes of the line breaker allow (1.26), so extracted text stays whole;
 *  - the left blank of z as shrink, and where no break is allowed the right blank of a too, behind
 *    an infinite penalty. */
static int cjk_seam(lay *L, uint32_t a, int fa, uint32_t z, int fz, const pitem *b, pitem *out) {
    double la, ra, lz, rz;
    cjk_punct_blank(L, fa, b->size, a, &la, &ra);
    cjk_punct_blank(L, fz, b->size, z, &lz, &rz);
    int n = 0;
    if (cjk_break_between(a, z)) {
        if (!cjk_clause_break(a, z)) {
            cjk_item(&out[n], b, OV_LB_PENALTY);
            out[n++].pen = CJK_MID_PENALTY;
        }
        cjk_item(&out[n], b, OV_LB_GLUE);
        out[n].st = b->size * CJK_STRETCH;
        out[n].cjk = 1;
        out[n++].sh = (float)ra;
        ra = 0;
    }
    if (ra + lz > 0 && (is_cjk(a) || is_cjk(z))) {
        cjk_item(&out[n], b, OV_LB_PENALTY);
        out[n++].pen = OV_LB_INF;
        cjk_item(&out[n], b, OV_LB_GLUE);
        out[n].cjk = 1;
        out[n++].sh = (float)(ra + lz);
    }
    return n;
}

static int out_push(lay *L, pitem **out, size_t *n, size_t *cap, const pitem *it) {
    if (*n + 1 > *cap) {
        size_t nc = *cap * 2 + 16;
        pitem *p = ov_realloc(*out, nc * sizeof *p);
        if (!p) {
            L->nomem = 1;
            return -1;
        }
        *out = p;
        *cap = nc;
    }
    (*out)[(*n)++] = *it;
    return 0;
}

/* Splits box item b of P into pieces at character boundaries given by cut[] (1 after char k),
 * with a penalty between pieces; writes the new items to out. */
static void emit_split(lay *L, para *P, const pitem *b, const unsigned char *cut, pitem **out, size_t *nout,
                       size_t *capout) {
    size_t start = 0;
    for (size_t k = 0; k < b->nc; k++) {
        if (k + 1 < b->nc && !cut[k])
            continue;
        /* piece [start, k] */
        if (*nout + 5 > *capout) {
            size_t nc = *capout * 2 + 16;
            pitem *p = ov_realloc(*out, nc * sizeof *p);
            if (!p) {
                L->nomem = 1;
                return;
            }
            *out = p;
            *capout = nc;
        }
        pitem piece = *b;
        piece.c0 = b->c0 + (uint32_t)start;
        piece.nc = (uint32_t)(k + 1 - start);
        float w = 0;
        for (size_t j = start; j <= k; j++)
            w += P->adv[b->c0 + j];
        piece.w = w;
        if (start > 0)
            piece.dest = -1;
        (*out)[(*nout)++] = piece;
        if (k + 1 < b->nc) {
            pitem pe = { 0 };
            pe.type = OV_LB_PENALTY;
            pe.fn = -1;
            pe.dest = -1;
            pe.face = b->face;
            pe.size = b->size;
            pe.color = b->color;
            if (cut[k] == 5) { /* Chinese or Japanese: breaks and punctuation compression */
                pitem seam[4];
                int ns = cjk_seam(L, P->cp[b->c0 + k], b->face, P->cp[b->c0 + k + 1], b->face, b, seam);
                for (int j = 0; j < ns; j++)
                    (*out)[(*nout)++] = seam[j];
                start = k + 1;
                continue;
            } else if (cut[k] == 1) { /* a hyphenation point */
                pe.pen = 50;
                pe.flagged = 1;
                pe.hyph = 1;
                pe.w = (float)(ov_font_advance(L->fonts, b->face, '-') * b->size / 1000.0);
            } else if (cut[k] == 2) { /* after an explicit hyphen or dash */
                pe.pen = 50;
                pe.flagged = 1;
            } else if (cut[k] == 3) { /* inside a URL or path */
                pe.pen = 50;
            } else { /* anywhere: a last resort */
                pe.pen = 900;
            }
            (*out)[(*nout)++] = pe;
        }
        start = k + 1;
    }
}

/* Splits the boxes of P at their break points (hyphenation when asked, hyphens and dashes, CJK,
 * URLs, boxes wider than the line). The split items go to a new array, made at the first box
 * that splits: when none does, P->it stays as it is (no copy: most paragraphs set without
 * hyphenation have nothing to split). Returns the array P->it had when it was replaced (the
 * caller frees or keeps it), NULL when P->it was kept. */
/* The first change to a paragraph's items (a box that splits, a glue between two boxes): the items
 * before item i, as they are, start the new list. */
static int materialise(lay *L, const para *P, size_t i, pitem **out, size_t *n, size_t *cap) {
    if (*out) return 0;
    *cap = P->n * 2 + 16;
    *out = ov_malloc(*cap * sizeof **out);
    if (!*out) {
        L->nomem = 1;
        return -1;
    }
    memcpy(*out, P->it, i * sizeof **out);
    *n = i;
    return 0;
}

static pitem *prepare_breaks(lay *L, para *P, float width, int hyphenate) {
    size_t cap = 0, n = 0;
    pitem *out = NULL;
    unsigned char cut[WORD_MAX + 8];
    for (size_t i = 0; i < P->n && !L->nomem; i++) {
        pitem *b = &P->it[i];
        /* boxes in two fonts side by side (an ideograph from the CJK font, a Latin word from the
         * text font): the same break as inside a box */
        const pitem *prev = out ? (n ? &out[n - 1] : NULL) : (i ? &P->it[i - 1] : NULL);
        pitem seam[4];
        int ns = 0;
        if (b->type == OV_LB_BOX && b->nc && prev && prev->type == OV_LB_BOX && prev->nc &&
            (is_cjk(P->cp[prev->c0 + prev->nc - 1]) || is_cjk(P->cp[b->c0])))
            ns = cjk_seam(L, P->cp[prev->c0 + prev->nc - 1], prev->face, P->cp[b->c0], b->face, b, seam);
        if (ns) {
            if (prev->link != b->link)
                for (int j = 0; j < ns; j++)
                    seam[j].link = 0, seam[j].internal = 0;
            if (materialise(L, P, i, &out, &n, &cap)) break;
            int failed = 0;
            for (int j = 0; j < ns && !failed; j++)
                failed = out_push(L, &out, &n, &cap, &seam[j]);
            if (failed) break;
        }
        if (b->type != OV_LB_BOX || b->nc < 2 || b->nc > WORD_MAX) {
            if (out && out_push(L, &out, &n, &cap, b)) break;
            continue;
        }
        const uint32_t *w = P->cp + b->c0;
        size_t nc = b->nc;
        memset(cut, 0, nc);
        int any = 0;
        /* explicit hyphens and dashes inside words */
        for (size_t k = 1; k + 2 < nc; k++)
            if ((w[k] == '-' || w[k] == 0x2010 || w[k] == 0x2013 || w[k] == 0x2014) && is_letter_ascii(w[k - 1]) &&
                w[k + 1] != '-')
                cut[k] = 2, any = 1;
        /* CJK: a break between any two ideographs, and between an ideograph and a Latin letter or
         * digit either way (UAX #14: ID ÷ AL, AL ÷ ID, ID ÷ NU, NU ÷ ID), not before closing nor
         * after opening marks; Chinese text puts no space around the Latin words it quotes */
        for (size_t k = 0; k + 1 < nc; k++) {
            pitem sm[4];
            if ((is_cjk(w[k]) || is_cjk(w[k + 1])) && cjk_seam(L, w[k], b->face, w[k + 1], b->face, b, sm))
                cut[k] = 5, any = 1;
        }
        /* URLs and paths: after separators */
        int urlish = 0;
        for (size_t k = 0; k < nc; k++)
            if (w[k] == '/' || (w[k] == '.' && k + 1 < nc && is_letter_ascii(w[k + 1])) || w[k] == '_')
                urlish++;
        if ((urlish && nc > 14) || b->code || b->link) {
            for (size_t k = 2; k + 2 < nc; k++)
                if (url_break_after(w[k]) && !url_break_after(w[k + 1]) && !cut[k])
                    cut[k] = 3, any = 1;
        }
        /* hyphenation of the letters of a whole word (a box between spaces) */
        int whole = (i == 0 || P->it[i - 1].type != OV_LB_BOX) && (i + 1 == P->n || P->it[i + 1].type != OV_LB_BOX);
        if (hyphenate && whole && !b->code && !b->link && b->nc >= 5 && b->size <= L->body_size * 1.05f) {
            size_t a = 0, z = nc;
            while (a < nc && !is_letter_ascii(w[a]) && (w[a] == '(' || w[a] == 0x201C || w[a] == 0x2018 ||
                                                        w[a] == '"' || w[a] == '\''))
                a++;
            while (z > a && !is_letter_ascii(w[z - 1]) &&
                   (w[z - 1] == '.' || w[z - 1] == ',' || w[z - 1] == ';' || w[z - 1] == ':' || w[z - 1] == ')' ||
                    w[z - 1] == '!' || w[z - 1] == '?' || w[z - 1] == 0x201D || w[z - 1] == 0x2019 ||
                    w[z - 1] == '"'))
                z--;
            int letters = z - a >= 5;
            for (size_t k = a; k < z && letters; k++)
                letters = is_letter_ascii(w[k]);
            const ov_hyphenator *hyph = letters ? lay_hyphenator(L) : NULL;
            if (hyph) {
                unsigned char hy[WORD_MAX];
                if (ov_hyphenate(hyph, w + a, z - a, hy) > 0)
                    for (size_t k = 0; k < z - a; k++)
                        if (hy[k])
                            cut[a + k] = 1, any = 1;
            }
        }
        /* a box wider than the line: break anywhere (a last resort that keeps it inside) */
        if (b->w > width) {
            float acc = 0;
            size_t last = 0;
            for (size_t k = 0; k < nc; k++) {
                acc += P->adv[b->c0 + k];
                if (acc > width * 0.95f && k > last) {
                    cut[k - 1] = cut[k - 1] ? cut[k - 1] : 4;
                    acc = P->adv[b->c0 + k];
                    last = k;
                    any = 1;
                }
            }
            for (size_t k = 0; k + 1 < nc; k++)
                if (!cut[k] && b->code)
                    cut[k] = 4;
        }
        if (!any) {
            if (out && out_push(L, &out, &n, &cap, b)) break;
            continue;
        }
        if (materialise(L, P, i, &out, &n, &cap)) break;
        pitem copy = *b;
        emit_split(L, P, &copy, cut, &out, &n, &cap);
    }
    if (!out)
        return NULL;
    if (L->nomem) {
        ov_free(out);
        return NULL;
    }
    pitem *old = P->it;
    P->it = out;
    P->n = n;
    P->cap = cap;
    return old;
}

/* ---- setting lines */
typedef struct run_acc {
    ov_box *boxes;
    size_t n, cap;
} run_acc;

static void acc_push(lay *L, run_acc *a, const ov_box *b) {
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 16;
        ov_box *p = ov_realloc(a->boxes, nc * sizeof *p);
        if (!p) {
            L->nomem = 1;
            return;
        }
        a->boxes = p;
        a->cap = nc;
    }
    a->boxes[a->n++] = *b;
}

/* Chinese and Japanese typesetting avoid a paragraph whose last line is one character and its
 * punctuation ("项目下" / "面。"; CLREQ calls it a lone character): no break between ideographs
 * (nor a Latin word and an ideograph) once fewer than two ideographs are left. A paragraph ending
 * in anything else (a Latin word, a space) is left alone. lb mirrors P's items, the final glue and
 * penalty break_lines adds included. */
static void keep_last_line(const para *P, ov_lb_item *lb) {
    size_t ideographs = 0;
    for (size_t i = P->n >= 2 ? P->n - 2 : 0; i-- > 0;) {
        const pitem *x = &P->it[i];
        if (x->type == OV_LB_BOX) {
            for (size_t k = x->nc; k-- > 0;) {
                uint32_t c = P->cp[x->c0 + k];
                if (cjk_no_break_before(c) || cjk_no_break_after(c))
                    continue; /* punctuation */
                if (!is_cjk(c))
                    return;
                ideographs++;
            }
            if (ideographs >= 2)
                return;
        } else if (x->type == OV_LB_GLUE && !x->cjk) {
            return; /* a space */
        } else if (x->type == OV_LB_GLUE) {
            lb[i].flagged = 1;
        } else if (x->type == OV_LB_PENALTY && x->pen < OV_LB_INF) {
            lb[i].penalty = OV_LB_INF;
        }
    }
}

/* Ends the paragraph's items (\parfillskip and a forced break) and chooses the breaks: one pass
 * within the pretolerance (returns 0 when none fits it), or all of ov_linebreak's passes. */
static int break_lines(lay *L, para *P, float width, int ragged, int first_pass, size_t **br) {
    pitem *g = push_item(L, P);
    if (!g)
        return -1;
    g->type = OV_LB_GLUE;
    g->st = 1e6f;
    pitem *fe = push_item(L, P);
    if (!fe)
        return -1;
    fe->type = OV_LB_PENALTY;
    fe->pen = -OV_LB_INF;
    ov_lb_item *lb = ov_malloc(P->n * sizeof *lb);
    if (!lb)
        return -1;
    for (size_t i = 0; i < P->n; i++) {
        lb[i].type = P->it[i].type;
        lb[i].width = P->it[i].w;
        lb[i].stretch = P->it[i].st;
        lb[i].shrink = P->it[i].sh;
        lb[i].penalty = P->it[i].pen;
        lb[i].flagged = P->it[i].flagged;
    }
    keep_last_line(P, lb);
    int nlines = first_pass ? ov_linebreak_pass(lb, P->n, width, 1.0, br)
                            : ov_linebreak(lb, P->n, width, ragged, br);
    ov_free(lb);
    return nlines;
}

void para_finish(lay *L, para *P, const bctx *c, float lead, int align, int keep_lines) {
    if (P->space)
        P->space = 0;
    /* drop trailing glue and breaks */
    while (P->n && (P->it[P->n - 1].type != OV_LB_BOX))
        P->n--;
    if (!P->content || P->n == 0) {
        /* anchors alone: they name the next line */
        for (size_t i = 0; i < P->n; i++)
            if (P->it[i].dest >= 0)
                lay_mark(L, (size_t)P->it[i].dest);
        P->n = 0;
        P->ncp = 0;
        P->content = 0;
        return;
    }
    /* the paragraph's structure element */
    lay_tag(L, L->next_tag ? L->next_tag : L->para_tag, NULL);
    L->next_tag = 0;
    float width = c->width;
    P->nohyph = align != 0;
    int ragged = L->ragged || align != 0;
    int hyphenate = L->hyphenate && !P->nohyph;
    size_t *br = NULL;
    int nlines = 0;
    if (hyphenate && !ragged) {
        /* TeX's first pass: without hyphenation, within a pretolerance; only paragraphs that
         * cannot be set so well are hyphenated (and the patterns loaded only then) */
        size_t nsaved = P->n, capsaved = P->cap;
        pitem *saved = prepare_breaks(L, P, width, 0); /* the items as they were, when split */
        nlines = L->nomem ? -1 : break_lines(L, P, width, 0, 1, &br);
        if (nlines == 0) {
            /* back to the items as they were: the unsplit array (break_lines only appended to it) */
            if (saved) {
                ov_free(P->it);
                P->it = saved;
                P->cap = capsaved;
                saved = NULL;
            }
            P->n = nsaved;
        }
        ov_free(saved);
    }
    if (nlines == 0) {
        ov_free(prepare_breaks(L, P, width, hyphenate));
        nlines = L->nomem ? -1 : break_lines(L, P, width, ragged, 0, &br);
    }
    if (nlines < 0) {
        ov_free(br);
        L->nomem = 1;
        return;
    }
    float h = lead * 0.74f, d = lead - h;
    size_t start = 0;
    run_acc acc = { 0 };
    size_t first_line = L->v->n;
    for (int ln = 0; ln < nlines; ln++) {
        size_t end = br[ln];
        /* skip discardable items at the start of a line */
        while (start < end && P->it[start].type != OV_LB_BOX)
            start++;
        int hyph = P->it[end].type == OV_LB_PENALTY && P->it[end].hyph;
        double nat = 0, y = 0, z = 0;
        for (size_t i = start; i < end; i++) {
            const pitem *x = &P->it[i];
            if (x->type == OV_LB_BOX)
                nat += x->w;
            else if (x->type == OV_LB_GLUE) {
                nat += x->w;
                y += x->st;
                z += x->sh;
            }
        }
        if (hyph)
            nat += P->it[end].w;
        int last = ln == nlines - 1 || (end > 0 && P->it[end].type == OV_LB_PENALTY && P->it[end].pen <= -OV_LB_INF);
        double r = 0;
        if (nat > width && z > 0)
            r = fmax(-1.0, (width - nat) / z);
        else if (!ragged && !last && nat < width && y > 0)
            r = (width - nat) / y;
        if (y >= 1e5 && r > 0)
            r = 0;
        /* the stretch between ideographs stops at CJK_MAX_GAP (only a looser pass than the first
         * two can ask for more): the rest goes to the line's other glue, when it has any */
        double r_other = r;
        if (r > 0) {
            double taken = 0, yo = 0;
            int capped = 0;
            for (size_t i = start; i < end; i++) {
                const pitem *x = &P->it[i];
                if (x->type != OV_LB_GLUE)
                    continue;
                if (!x->cjk) {
                    yo += x->st;
                    continue;
                }
                double g = r * x->st, cap = CJK_MAX_GAP * x->size;
                if (g > cap)
                    g = cap, capped = 1;
                taken += g;
            }
            if (capped && yo > 0)
                r_other = (width - nat - taken) / yo;
        }
        double x0 = c->left;
        if (align == 2 && nat < width)
            x0 += (width - nat) / 2;
        else if (align == 3 && nat < width)
            x0 += width - nat;
        /* the line's boxes */
        acc.n = 0;
        ov_box run = { 0 };
        int open = 0;
        double x = x0;
        uint32_t cur_link = 0;
        int cur_internal = 0;
        double link_x0 = 0;
        ov_box deco[64];
        size_t ndeco = 0;
        for (size_t i = start; i <= end; i++) {
            const pitem *it = &P->it[i];
            int is_end = i == end;
            if (is_end && !(hyph))
                break;
            if (it->dest >= 0)
                lay_mark(L, (size_t)it->dest);
            /* links: a rectangle per run of boxes with the same target */
            uint32_t lk = it->type == OV_LB_BOX || it->type == OV_LB_GLUE ? it->link : cur_link;
            if (is_end)
                lk = cur_link;
            if (lk != cur_link) {
                if (cur_link && ndeco < 64) {
                    ov_box b = { 0 };
                    b.kind = OV_BOX_LINK;
                    b.x = (float)link_x0;
                    b.w = (float)(x - link_x0);
                    b.y = -d + 1;
                    b.h = h + d - 2;
                    b.ref = cur_internal ? -3 : -1;
                    b.uri = cur_link - 1;
                    deco[ndeco++] = b;
                }
                cur_link = lk;
                cur_internal = it->internal;
                link_x0 = x;
            }
            if (it->type == OV_LB_BOX || (is_end && hyph)) {
                int face = it->face;
                float size = it->size;
                float rise = it->rise;
                uint32_t color = it->color;
                size_t nc = is_end ? 1 : it->nc;
                if (nc == 0)
                    continue;
                if (!open || run.face != face || run.size != size || run.color != color || run.y != rise) {
                    if (open)
                        acc_push(L, &acc, &run);
                    memset(&run, 0, sizeof run);
                    run.kind = OV_BOX_TEXT;
                    run.face = face;
                    run.size = size;
                    run.color = color;
                    run.x = (float)x;
                    run.y = rise;
                    run.off = (uint32_t)L->ly->ncp;
                    open = 1;
                }
                double bw = 0;
                for (size_t k = 0; k < nc; k++) {
                    uint32_t ch = is_end ? '-' : P->cp[it->c0 + k];
                    double a = is_end ? it->w : P->adv[it->c0 + k];
                    double nom = ov_font_advance(L->fonts, face, ch);
                    float adj = (float)(a * 1000.0 / size - nom);
                    lay_chars(L, &ch, &adj, 1);
                    run.n++;
                    bw += a;
                }
                run.w += (float)bw;
                if ((it->strike || it->code) && !is_end && ndeco < 64) {
                    ov_box b = { 0 };
                    if (it->strike) {
                        b.kind = OV_BOX_LINE;
                        b.color = color;
                        b.size = size * 0.06f;
                        b.x = (float)x;
                        b.y = rise + size * 0.28f;
                        b.w = (float)bw;
                        deco[ndeco++] = b;
                    }
                    if (it->code && ndeco < 64) {
                        ov_box bg = { 0 };
                        bg.kind = OV_BOX_RECT;
                        bg.color = C_CODEBG;
                        bg.x = (float)x - 1;
                        bg.w = (float)bw + 2;
                        bg.y = -size * 0.28f;
                        bg.h = size * 1.16f;
                        /* backgrounds go first */
                        acc_push(L, &acc, &bg); /* (a failed push leaves boxes NULL: L->nomem says so) */
                    }
                }
                x += bw;
            } else if (it->type == OV_LB_GLUE) {
                double gw = it->w + (r > 0 ? r_other * it->st : r * it->sh);
                if (it->cjk && r > 0)
                    gw = fmin(r * it->st, CJK_MAX_GAP * it->size);
                if (it->st >= 1e5)
                    gw = it->w;
                if (open && it->w > 0) {
                    uint32_t sp = ' ';
                    double nom = ov_font_advance(L->fonts, run.face, ' ');
                    float adj = (float)(gw * 1000.0 / run.size - nom);
                    lay_chars(L, &sp, &adj, 1);
                    run.n++;
                    run.w += (float)gw;
                } else if (open && gw != 0 && run.n > 0 && L->ly->ncp == run.off + run.n) {
                    /* a glue of no width of its own that justification stretched (between
                     * ideographs): the run's last character advances by it, or the stretch would
                     * pile up where the run ends */
                    L->ly->adj[L->ly->ncp - 1] += (float)(gw * 1000.0 / run.size);
                    run.w += (float)gw;
                }
                x += gw;
            }
        }
        if (open)
            acc_push(L, &acc, &run);
        if (cur_link && ndeco < 64) {
            ov_box b = { 0 };
            b.kind = OV_BOX_LINK;
            b.x = (float)link_x0;
            b.w = (float)(x - link_x0);
            b.y = -d + 1;
            b.h = h + d - 2;
            b.ref = cur_internal ? -3 : -1;
            b.uri = cur_link - 1;
            deco[ndeco++] = b;
        }
        /* backgrounds first, then text, then decorations */
        size_t b0 = L->nlb;
        for (size_t k = 0; k < acc.n; k++)
            if (acc.boxes[k].kind == OV_BOX_RECT)
                lay_box(L, &acc.boxes[k]);
        for (size_t k = 0; k < acc.n; k++)
            if (acc.boxes[k].kind != OV_BOX_RECT)
                lay_box(L, &acc.boxes[k]);
        for (size_t k = 0; k < ndeco; k++)
            lay_box(L, &deco[k]);
        /* footnotes referenced from this line */
        size_t f0 = L->nlfn, nf = 0;
        for (size_t i = start; i < end; i++) {
            int fn = P->it[i].fn;
            if (fn < 0)
                continue;
            int dup = 0;
            for (size_t k = f0; k < L->nlfn; k++)
                dup |= L->lfn[k] == (size_t)fn;
            if (dup)
                continue;
            if (L->nlfn == L->caplfn) {
                size_t ncap = L->caplfn ? L->caplfn * 2 : 32;
                size_t *p = ov_realloc(L->lfn, ncap * sizeof *p);
                if (!p) {
                    L->nomem = 1;
                    break;
                }
                L->lfn = p;
                L->caplfn = ncap;
            }
            L->lfn[L->nlfn++] = (size_t)fn;
            nf++;
        }
        size_t vi = lay_line(L, c, h, d, b0);
        if (vi < L->v->n) {
            L->v->v[vi].f0 = f0;
            L->v->v[vi].nf = nf;
        }
        start = end + 1;
    }
    ov_free(acc.boxes);
    ov_free(br);
    /* widows and orphans: the first two and the last two lines stay together */
    size_t nl = L->v->n - first_line;
    if (keep_lines && nl >= 2) {
        for (size_t k = first_line + 1; k < L->v->n; k++) {
            size_t idx = k - first_line;
            if (keep_lines == 2 || idx == 1 || idx == nl - 1)
                L->v->v[k].nobreak = 1;
        }
    }
    P->n = 0;
    P->ncp = 0;
    P->content = 0;
    P->space = 0;
}
