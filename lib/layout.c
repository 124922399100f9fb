/*
 * The layout engine's driver: page geometry from the options, the document's title block,
 * footnotes, the outline and the document information; then the block walk (layout_block.c) and
 * the page builder (layout_page.c). Books: cover, contents, each document on a new page.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "layout_int.h"

/* ---- small pools */
#define GROW(ptr, n, cap, extra, fail)                                                       \
    do {                                                                                     \
        if ((n) + (extra) > (cap)) {                                                         \
            size_t nc_ = (cap) ? (cap) * 2 : 64;                                             \
            while (nc_ < (n) + (extra)) nc_ *= 2;                                            \
            void *p_ = ov_realloc((ptr), nc_ * sizeof *(ptr));                               \
            if (!p_) { fail; }                                                               \
            (ptr) = p_;                                                                      \
            (cap) = nc_;                                                                     \
        }                                                                                    \
    } while (0)

int lay_box(lay *L, const ov_box *b) {
    GROW(L->lb, L->nlb, L->caplb, 1, L->nomem = 1; return -1);
    ov_box *x = &L->lb[L->nlb++];
    *x = *b;
    if (!x->tag) /* boxes copied from a table cell keep theirs */
        x->tag = x->kind == OV_BOX_TEXT || x->kind == OV_BOX_IMAGE || x->kind == OV_BOX_LINK ? L->cur_tag : -1;
    return 0;
}

/* A new structure element in the current group: its index + 1, or 0 out of memory. */
static int32_t add_tag(lay *L, int type, const char *alt) {
    ov_layout *ly = L->ly;
    GROW(ly->tags, ly->ntags, ly->cap_tags, 1, L->nomem = 1; return 0);
    ov_tag *t = &ly->tags[ly->ntags++];
    t->type = type;
    t->alt = alt && *alt ? lay_str(L, alt) + 1 : 0;
    t->parent = L->tag_group;
    return (int32_t)ly->ntags;
}

void lay_tag(lay *L, int type, const char *alt) {
    int32_t t = add_tag(L, type, alt);
    if (t) L->cur_tag = t;
}

int32_t lay_tag_group(lay *L, int type) {
    int32_t back = L->tag_group, t = add_tag(L, type, NULL);
    if (t) L->tag_group = t;
    return back;
}

void lay_tag_end(lay *L, int32_t back) { L->tag_group = back; }

const ov_hyphenator *lay_hyphenator(lay *L) {
    if (!L->hyph_loaded) {
        L->hyph = L->hyphenate ? ov_hyphenator_get(L->lang) : NULL;
        L->hyph_loaded = 1;
    }
    return L->hyph;
}

int lay_vpush(lay *L, vlist *v, const vbox *b) {
    GROW(v->v, v->n, v->cap, 1, L->nomem = 1; return -1);
    v->v[v->n++] = *b;
    return 0;
}

static void add_quote_rules(lay *L, const bctx *c, float top, float bottom) {
    for (int q = 0; q < c->nquote && q < 16; q++) {
        ov_box r = { 0 };
        r.kind = OV_BOX_RECT;
        r.color = C_QUOTE;
        r.x = c->quote_x[q];
        r.w = 2.0f;
        r.y = bottom;
        r.h = top - bottom;
        lay_box(L, &r);
    }
    if (c->frame) {
        for (int k = 0; k < 2; k++) {
            ov_box r = { 0 };
            r.kind = OV_BOX_LINE;
            r.color = C_RULE;
            r.size = 0.6f;
            r.x = k ? c->frame_x1 : c->frame_x0;
            r.y = bottom;
            r.h = top - bottom;
            lay_box(L, &r);
        }
    }
}

/* A line from the boxes pushed since b0; takes the context's pending marker and the document's
 * pending destinations and footnote references. */
size_t lay_line(lay *L, const bctx *c, float h, float d, size_t b0) {
    if (c->marker) {
        bctx *mc = (bctx *)c;
        float w = lay_text_width(L, c->marker_face, c->marker_size, c->marker);
        size_t m0 = L->nlb;
        lay_text_box(L, c->marker_face, c->marker_size, C_TEXT, c->left - w - 5.0f, 0, c->marker);
        /* the marker first among the line's boxes: read (and tagged) before the item's text */
        size_t nm = L->nlb - m0;
        if (nm && m0 > b0 && nm <= 8) {
            ov_box tmp[8];
            memcpy(tmp, L->lb + m0, nm * sizeof *tmp);
            memmove(L->lb + b0 + nm, L->lb + b0, (m0 - b0) * sizeof *tmp);
            memcpy(L->lb + b0, tmp, nm * sizeof *tmp);
        }
        mc->marker = NULL;
    }
    add_quote_rules(L, c, h, -d);
    vbox v = { 0 };
    v.kind = VL_LINE;
    v.h = h;
    v.d = d;
    v.b0 = b0;
    v.nb = L->nlb - b0;
    v.nobreak = L->keep_next;
    L->keep_next = 0;
    v.header = -1;
    v.dest = -1;
    if (L->npending) {
        GROW(L->ldest, L->nldest, L->capldest, L->npending, L->nomem = 1; return 0);
        v.d0 = L->nldest;
        v.nd = L->npending;
        memcpy(L->ldest + L->nldest, L->pending_dest, L->npending * sizeof(size_t));
        L->nldest += L->npending;
        L->npending = 0;
    }
    lay_vpush(L, L->v, &v);
    return L->v->n - 1;
}

void lay_glue(lay *L, const bctx *c, float amount) {
    if (amount <= 0)
        return;
    size_t b0 = L->nlb;
    if (c)
        add_quote_rules(L, c, 0, -amount);
    vbox v = { 0 };
    v.kind = VL_GLUE;
    v.h = amount;
    v.b0 = b0;
    v.nb = L->nlb - b0;
    v.header = -1;
    v.dest = -1;
    /* glue after a kept line keeps the keep for the next line */
    lay_vpush(L, L->v, &v);
}

void lay_mark(lay *L, size_t dest) {
    GROW(L->pending_dest, L->npending, L->cappending, 1, L->nomem = 1; return);
    L->pending_dest[L->npending++] = dest;
}

void lay_break(lay *L) {
    vbox v = { 0 };
    v.kind = VL_BREAK;
    v.header = -1;
    v.dest = -1;
    lay_vpush(L, L->v, &v);
}

uint32_t lay_str(lay *L, const char *s) {
    uint32_t off = (uint32_t)L->ly->strs.len;
    ov_buf_puts(&L->ly->strs, s);
    ov_buf_putc(&L->ly->strs, 0);
    if (L->ly->strs.failed)
        L->nomem = 1;
    return off;
}

/* A destination by name (created unplaced when new). */
int lay_dest(lay *L, const char *name) {
    ov_layout *ly = L->ly;
    for (size_t i = ly->ndests; i-- > 0;)
        if (ly->dests[i].name && strcmp(ly->dests[i].name, name) == 0)
            return (int)i;
    GROW(ly->dests, ly->ndests, ly->cap_dests, 1, L->nomem = 1; return -1);
    ov_dest *d = &ly->dests[ly->ndests];
    d->name = ov_strdup(name);
    if (!d->name) {
        L->nomem = 1;
        return -1;
    }
    d->page = -1;
    d->y = 0;
    return (int)ly->ndests++;
}

int lay_doc_dest(lay *L, size_t doc, const char *id) {
    char buf[512];
    snprintf(buf, sizeof buf, "%zu#%s", doc, id ? id : "");
    return lay_dest(L, buf);
}

/* ---- links between documents (as the EPUB backend finds its chapters) */
static int hexval(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}
static void pct_decode(char *s) {
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            *o++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        } else
            *o++ = *p;
    }
    *o = 0;
}

/* The document of the book a local path names: site-absolute ("/blog/x": the document whose path
 * ends so, or its folder's index), else relative to the current document's folder (or to the
 * document as a folder, for pretty URLs). -1 when none. */
static long find_doc(lay *L, const char *path) {
    if (!L->keys) {
        L->keys = ov_calloc(L->ndocs ? L->ndocs : 1, sizeof *L->keys);
        if (!L->keys) {
            L->nomem = 1;
            return -1;
        }
        for (size_t i = 0; i < L->ndocs; i++)
            L->keys[i] = ov_book_key(L->docs[i]->name, NULL);
    }
    return ov_book_find(L->keys, L->ndocs, L->docidx < L->ndocs ? (long)L->docidx : -1, path);
}

static uint32_t doc_link(lay *L, size_t doc, const char *frag) {
    char buf[600];
    snprintf(buf, sizeof buf, "%zu#%s", doc, frag);
    return lay_str(L, buf);
}

/* target (a path, then ?query and #fragment) as a document of the book: 1 with *off its link, 0
 * when the book has no such document, -1 out of memory. An empty path is this document when
 * empty_is_self. */
static int book_link(lay *L, const char *target, int empty_is_self, uint32_t *off) {
    char *path = ov_strndup(target, strcspn(target, "?#"));
    if (!path) {
        L->nomem = 1;
        return -1;
    }
    pct_decode(path);
    long k = *path || !empty_is_self ? find_doc(L, path) : (long)L->docidx;
    ov_free(path);
    if (k < 0)
        return 0;
    const char *hash = strchr(target, '#');
    char frag[512] = "";
    if (hash)
        snprintf(frag, sizeof frag, "%s", hash + 1);
    pct_decode(frag);
    *off = doc_link(L, (size_t)k, frag);
    return 1;
}

int lay_link(lay *L, xmlNodePtr node, const char *href, uint32_t *off) {
    *off = 0;
    if (!href || !*href)
        return -1;
    if (href[0] == '#') {
        char frag[512];
        snprintf(frag, sizeof frag, "%s", href + 1);
        pct_decode(frag);
        *off = doc_link(L, L->docidx, frag);
        return 1;
    }
    /* the site's own address: a page of the book when it holds it */
    const char *base = L->ov->base_url;
    if (base && L->ndocs && !strncmp(href, base, strlen(base)) && href[strlen(base)] != '#') {
        char site[2100];
        snprintf(site, sizeof site, "/%s", href + strlen(base));
        int r = book_link(L, site, 0, off);
        if (r)
            return r;
    }
    if (ov_is_remote(href)) {
        if (!strncasecmp(href, "javascript:", 11) || !strncasecmp(href, "vbscript:", 9) ||
            !strncasecmp(href, "data:", 5)) {
            lay_warn(L, node, OCTAVO_E_RESOURCE, "link to '%.60s' dropped: not allowed in a PDF", href);
            return -1;
        }
        if (href[0] == '/') {
            char buf[2100];
            snprintf(buf, sizeof buf, "https:%s", href);
            *off = lay_str(L, buf);
        } else
            *off = lay_str(L, href);
        return 0;
    }
    /* a local path: a document of the book (or this one)? */
    int r = book_link(L, href, 1, off);
    if (r)
        return r;
    if (href[0] == '/' && L->ov->base_url) {
        ov_buf u;
        ov_buf_init(&u);
        ov_buf_puts(&u, L->ov->base_url);
        ov_buf_puts(&u, href + 1);
        if (u.failed) {
            ov_buf_free(&u);
            L->nomem = 1;
            return -1;
        }
        *off = lay_str(L, u.data);
        ov_buf_free(&u);
        return 0;
    }
    lay_warn(L, node, OCTAVO_E_NOT_FOUND,
             href[0] == '/' ? "link to '%.200s' is plain text: not in the PDF, and no base URL to make it absolute"
                            : "link to '%.200s' is plain text: not in the PDF",
             href);
    return -1;
}

uint32_t lay_chars(lay *L, const uint32_t *cp, const float *adj, size_t n) {
    ov_layout *ly = L->ly;
    if (ly->ncp + n > ly->cap_cp) {
        size_t nc = ly->cap_cp ? ly->cap_cp * 2 : 4096;
        while (nc < ly->ncp + n)
            nc *= 2;
        uint16_t *p = ov_realloc(ly->cp, nc * sizeof *p);
        if (!p) {
            L->nomem = 1;
            return 0;
        }
        ly->cp = p;
        float *q = ov_realloc(ly->adj, nc * sizeof *q);
        if (!q) {
            L->nomem = 1;
            return 0;
        }
        ly->adj = q;
        ly->cap_cp = nc;
    }
    uint32_t off = (uint32_t)ly->ncp;
    for (size_t i = 0; i < n; i++) {
        ly->cp[off + i] = (uint16_t)cp[i];
        ly->adj[off + i] = adj ? adj[i] : 0;
    }
    ly->ncp += n;
    return off;
}

static int utf8_next(const char **s, const char *end, uint32_t *cp) {
    const unsigned char *p = (const unsigned char *)*s;
    if (p >= (const unsigned char *)end)
        return 0;
    uint32_t c = *p++;
    int extra = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    if (extra) {
        c &= extra == 1 ? 0x1F : extra == 2 ? 0x0F : 0x07;
        for (int i = 0; i < extra; i++) {
            if (p >= (const unsigned char *)end || (*p & 0xC0) != 0x80) {
                c = OV_REPLACEMENT_CHAR;
                break;
            }
            c = c << 6 | (*p++ & 0x3F);
        }
    }
    *s = (const char *)p;
    *cp = c;
    return 1;
}

float lay_text_width(lay *L, int face, float size, const char *utf8) {
    double w = 0;
    const char *s = utf8, *end = utf8 + strlen(utf8);
    uint32_t c;
    while (utf8_next(&s, end, &c)) {
        int f = ov_font_pick(L->fonts, face, c);
        if (f < 0)
            f = ov_font_pick(L->fonts, face, OV_REPLACEMENT_CHAR), c = OV_REPLACEMENT_CHAR;
        w += ov_font_advance(L->fonts, f < 0 ? face : f, c);
    }
    return (float)(w * size / 1000.0);
}

/* Simple text (markers, running heads, captions of furniture): one box per face change. */
int lay_text_box(lay *L, int face, float size, uint32_t color, float x, float y, const char *utf8) {
    ov_layout *ly = L->ly;
    const char *s = utf8, *end = utf8 + strlen(utf8);
    uint32_t c;
    int cur = -1;
    ov_box b = { 0 };
    while (utf8_next(&s, end, &c)) {
        int f = ov_font_pick(L->fonts, face, c);
        if (f < 0) {
            c = OV_REPLACEMENT_CHAR;
            f = ov_font_pick(L->fonts, face, c);
            if (f < 0)
                continue;
        }
        if (f != cur) {
            if (cur >= 0) {
                lay_box(L, &b);
                x += b.w;
            }
            memset(&b, 0, sizeof b);
            b.kind = OV_BOX_TEXT;
            b.face = f;
            b.size = size;
            b.color = color;
            b.x = x;
            b.y = y;
            b.off = (uint32_t)ly->ncp;
            cur = f;
        }
        lay_chars(L, &c, NULL, 1);
        if (L->nomem)
            return -1;
        b.n++;
        b.w += (float)(ov_font_advance(L->fonts, f, c) * size / 1000.0);
    }
    if (cur >= 0)
        lay_box(L, &b);
    return 0;
}

void lay_warn(lay *L, xmlNodePtr node, int code, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    unsigned line = 0, col = 0;
    if (node && L->doc)
        ov_model_position(L->doc, node, &line, &col);
    ov_warn(L->ov, code, L->doc ? L->doc->name : "", line, col, "%s", msg);
}

void lay_fail(lay *L, xmlNodePtr node, int code, const char *fmt, ...) {
    if (L->fail_code)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->fail_msg, sizeof L->fail_msg, fmt, ap);
    va_end(ap);
    L->fail_code = code;
    L->fail_file = L->doc ? L->doc->name : NULL;
    if (node && L->doc)
        ov_model_position(L->doc, node, &L->fail_line, &L->fail_col);
}

/* ---- the document information and title block */
static char *keywords_of(const octavo_doc *doc) {
    ov_buf b;
    ov_buf_init(&b);
    static const char *const keys[] = { "tags", "keywords", "categories", "category" };
    for (size_t k = 0; k < 4; k++) {
        const octavo_meta *m = octavo_meta_get(octavo_doc_meta(doc), keys[k]);
        if (!m)
            continue;
        size_t n = octavo_meta_kind(m) == OCTAVO_META_SEQ ? octavo_meta_count(m) : 1;
        for (size_t i = 0; i < n; i++) {
            const octavo_meta *e = octavo_meta_kind(m) == OCTAVO_META_SEQ ? octavo_meta_at(m, i) : m;
            const char *s = NULL;
            if (octavo_meta_kind(e) == OCTAVO_META_SCALAR)
                s = octavo_meta_string(e);
            else if (octavo_meta_kind(e) == OCTAVO_META_MAP)
                s = octavo_meta_string(octavo_meta_get(e, "label"));
            if (s && *s) {
                if (b.len)
                    ov_buf_puts(&b, ", ");
                ov_buf_puts(&b, s);
            }
        }
    }
    if (b.failed || !b.len) {
        ov_buf_free(&b);
        return NULL;
    }
    return ov_buf_detach(&b, NULL);
}

static void format_date(const octavo_time *t, char *buf, size_t size) {
    static const char *const months[] = { "January", "February", "March", "April", "May", "June", "July",
                                           "August", "September", "October", "November", "December" };
    if (t->month >= 1 && t->month <= 12)
        snprintf(buf, size, "%d %s %d", t->day, months[t->month - 1], t->year);
    else
        snprintf(buf, size, "%d", t->year);
}

static void set_text(lay *L, const bctx *c, const char *text, int family, int style, float size, uint32_t color,
                     float lead, int align) {
    para *P = para_new(L, c);
    if (!P) {
        L->nomem = 1;
        return;
    }
    istyle st = style_body(L);
    st.family = family;
    st.style = style;
    st.size = size;
    st.color = color;
    para_text(L, P, text, strlen(text), &st, 0);
    para_finish(L, P, c, lead, align, 0);
    para_free(P);
}

static void title_block(lay *L, octavo_doc *doc, bctx *c, int outline_level) {
    const char *title = octavo_doc_title(doc);
    /* the document's own destination ("<index>#": links to the document land here, and links to
     * its title's anchor when the title was its first heading) and outline entry */
    int dest = lay_doc_dest(L, L->docidx, "");
    if (doc->title_from_heading) {
        char *slug = ov_slug(title);
        int alias = slug && *slug ? lay_doc_dest(L, L->docidx, slug) : -1;
        ov_free(slug);
        if (alias >= 0)
            lay_mark(L, (size_t)alias);
    }
    if (dest >= 0) {
        lay_mark(L, (size_t)dest);
        ov_layout *ly = L->ly;
        if (ly->noutline + 1 > ly->cap_outline) {
            size_t nc = ly->cap_outline ? ly->cap_outline * 2 : 32;
            void *p = ov_realloc(ly->outline, nc * sizeof *ly->outline);
            if (!p) {
                L->nomem = 1;
                return;
            }
            ly->outline = p;
            ly->cap_outline = nc;
        }
        ov_outline_entry *e = &ly->outline[ly->noutline++];
        e->title = ov_strdup(title);
        e->level = outline_level;
        e->dest = dest;
        if (!e->title)
            L->nomem = 1;
    }
    L->next_tag = OV_TAG_H1;
    set_text(L, c, title, OV_SANS, OV_BOLD, 22, C_HEAD, 27, 1);
    const char *desc = octavo_doc_get(doc, "description");
    if (!desc)
        desc = octavo_doc_get(doc, "subTitle");
    if (desc && *desc) {
        lay_glue(L, c, 4);
        set_text(L, c, desc, OV_SERIF, OV_ITALIC, 12.5f, C_GRAY, 17, 1);
    }
    char line[300] = "";
    const char *author = octavo_doc_author(doc);
    octavo_time t;
    char date[64] = "";
    if (octavo_doc_date(doc, &t) == OCTAVO_OK)
        format_date(&t, date, sizeof date);
    if (author && *date)
        snprintf(line, sizeof line, "%s \xC2\xB7 %s", author, date);
    else if (author)
        snprintf(line, sizeof line, "%s", author);
    else if (*date)
        snprintf(line, sizeof line, "%s", date);
    if (*line) {
        lay_glue(L, c, 6);
        set_text(L, c, line, OV_SANS, 0, 9.5f, C_GRAY, 13, 1);
    }
    /* a rule under the block */
    lay_glue(L, c, 8);
    size_t b0 = L->nlb;
    ov_box r = { 0 };
    r.kind = OV_BOX_RECT;
    r.color = C_RULE;
    r.x = c->left;
    r.w = c->width;
    r.h = 0.6f;
    r.y = 0;
    lay_box(L, &r);
    lay_line(L, c, 1, 0, b0);
    lay_glue(L, c, 16);
}

/* ---- footnotes: laid out before the body, set at the bottom of the pages that refer to them */
static void collect_footnotes(lay *L, xmlNodePtr n, int depth) {
    if (depth > 64)
        return;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (has_class(c, "footnotes")) {
            /* each li with an id is one footnote */
            for (xmlNodePtr ol = c->children; ol; ol = ol->next) {
                if (ol->type != XML_ELEMENT_NODE || (xmlStrcasecmp(ol->name, BAD_CAST "ol") != 0 &&
                                                     xmlStrcasecmp(ol->name, BAD_CAST "ul") != 0))
                    continue;
                for (xmlNodePtr li = ol->children; li; li = li->next) {
                    if (li->type != XML_ELEMENT_NODE || xmlStrcasecmp(li->name, BAD_CAST "li") != 0)
                        continue;
                    const char *id = attr(li, "id");
                    if (!id || !*id)
                        continue;
                    GROW(L->fn, L->nfn, L->capfn, 1, L->nomem = 1; return);
                    footnote *f = &L->fn[L->nfn];
                    memset(f, 0, sizeof *f);
                    f->id = ov_strdup(id);
                    if (!f->id) {
                        L->nomem = 1;
                        return;
                    }
                    L->nfn++;
                    vlist *save = L->v;
                    L->v = &f->lines;
                    bctx fc = { 0 };
                    fc.left = 14;
                    fc.width = L->text_w - 14;
                    char num[16];
                    snprintf(num, sizeof num, "%zu.", L->nfn - L->fn0); /* numbered per document */
                    fc.marker = num;
                    fc.marker_face = OV_FACE(OV_SERIF, 0);
                    fc.marker_size = L->body_size * 0.8f;
                    float bs = L->body_size, ld = L->lead;
                    L->body_size = bs * 0.8f;
                    L->lead = ld * 0.8f;
                    L->para_tag = OV_TAG_NOTE;
                    int dst = lay_doc_dest(L, L->docidx, id);
                    if (dst >= 0)
                        lay_mark(L, (size_t)dst);
                    lay_blocks(L, li, &fc);
                    L->body_size = bs;
                    L->lead = ld;
                    L->para_tag = OV_TAG_P;
                    L->v = save;
                    float h = 0;
                    for (size_t k = 0; k < f->lines.n; k++)
                        h += f->lines.v[k].kind == VL_LINE || f->lines.v[k].kind == VL_GLUE
                                 ? f->lines.v[k].h + (f->lines.v[k].kind == VL_LINE ? f->lines.v[k].d : 0)
                                 : 0;
                    f->height = h;
                }
            }
            continue;
        }
        collect_footnotes(L, c, depth + 1);
    }
}

/* ---- setup */
static int lay_init(lay *L, const octavo *ov, ov_layout *ly, const char *lang, octavo_error *err) {
    memset(L, 0, sizeof *L);
    memset(ly, 0, sizeof *ly);
    ov_buf_init(&ly->strs);
    ov_buf_putc(&ly->strs, 0);  /* offset 0 is the empty string */
    L->ov = ov;
    L->ly = ly;
    ly->ov = ov;
    int rc = ov_fonts_get(&L->fonts, err);
    if (rc)
        return rc;
    ly->fonts = L->fonts;
    L->shaper = ov_shaper_new(L->fonts);
    if (!L->shaper)
        return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_LAYOUT, NULL, 0, 0, "out of memory");
    unsigned flags = ov->opt.flags;
    L->ragged = (flags & OCTAVO_RAGGED) != 0;
    L->hyphenate = !(flags & OCTAVO_NO_HYPHENATE);
    snprintf(L->lang, sizeof L->lang, "%s", lang ? lang : "en");
    if (ov->opt.paper == OCTAVO_PAPER_LETTER) {
        ly->page_w = 612;
        ly->page_h = 792;
    } else {
        ly->page_w = 595.276f;
        ly->page_h = 841.89f;
    }
    float m = ov->opt.margin_pt > 0 ? (float)ov->opt.margin_pt : 56.693f;
    if (m < 20)
        m = 20;  /* the furniture needs room and nothing may come within 18 pt of an edge */
    if (m > ly->page_w / 3)
        m = ly->page_w / 3;
    L->margin = m;
    L->text_left = m;
    L->text_w = ly->page_w - 2 * m;
    /* running head and foot live in the margins when they are wide enough, else inside */
    float band = m >= 42 ? 0 : 22;
    L->text_top = ly->page_h - m - band;
    L->text_bottom = m + band;
    L->body_size = 10.5f;
    L->lead = 14.5f;
    L->v = &L->main;
    L->table_header = -1;
    L->outline_base = 1;
    L->para_tag = OV_TAG_P;
    L->cur_tag = -1;
    ly->creator = ov_strdup("octavo " OCTAVO_VERSION_STRING);
    return OCTAVO_OK;
}

static void lay_fini(lay *L) {
    ov_shaper_free(L->shaper);
    ov_free(L->lb);
    ov_free(L->main.v);
    ov_free(L->lfn);
    ov_free(L->ldest);
    ov_free(L->pending_dest);
    ov_free(L->pending_fn);
    for (size_t i = 0; i < L->nfn; i++) {
        ov_free(L->fn[i].id);
        ov_free(L->fn[i].lines.v);
    }
    ov_free(L->fn);
    for (size_t i = 0; L->keys && i < L->ndocs; i++)
        ov_free(L->keys[i]);
    ov_free(L->keys);
}

void ov_layout_free(ov_layout *ly) {
    if (!ly)
        return;
    ov_pdf_prep_free(ly); /* its threads read the images' bytes */
    for (size_t i = 0; i < ly->npages; i++)
        ov_free(ly->pages[i].boxes);
    ov_free(ly->pages);
    ov_free(ly->cp);
    ov_free(ly->adj);
    ov_buf_free(&ly->strs);
    for (size_t i = 0; i < ly->ndests; i++)
        ov_free(ly->dests[i].name);
    ov_free(ly->dests);
    for (size_t i = 0; i < ly->noutline; i++)
        ov_free(ly->outline[i].title);
    ov_free(ly->outline);
    ov_free(ly->labels);
    for (size_t i = 0; i < ly->nimages; i++) {
        ov_blob_release(&ly->images[i].blob);
        ov_free(ly->images[i].alt);
    }
    ov_free(ly->images);
    ov_free(ly->tags);
    ov_free(ly->title);
    ov_free(ly->author);
    ov_free(ly->subject);
    ov_free(ly->keywords);
    ov_free(ly->lang);
    ov_free(ly->creator);
    memset(ly, 0, sizeof *ly);
}

static void doc_body(lay *L, octavo_doc *doc, int outline_level) {
    L->doc = doc;
    L->fn0 = L->nfn;
    L->outline_base = outline_level;
    bctx c = { 0 };
    c.left = 0;
    c.width = L->text_w;
    title_block(L, doc, &c, outline_level);
    collect_footnotes(L, doc->body, 0);
    lay_blocks(L, doc->body, &c);
    /* destinations still waiting (an anchor at the very end) */
    if (L->npending) {
        size_t b0 = L->nlb;
        lay_line(L, &c, 0, 0, b0);
    }
}

static int toc_wanted(const octavo_doc *doc) {
    if (doc->ov->opt.flags & OCTAVO_TOC)
        return 1;
    int b = 0;
    return octavo_meta_bool(octavo_meta_get(octavo_doc_meta(doc), "toc"), &b) == OCTAVO_OK && b;
}

/* The contents: one line per outline entry from first on, with leaders and a page number that the
 * page builder fills in (the number's box is a text box of placeholder digits, patched later). */
static void contents(lay *L, size_t first, size_t last, int maxlevel, const char *heading);

int ov_layout_doc(octavo_doc *doc, ov_layout *ly, octavo_error *err) {
    int rc = ov_model_build(doc, err);
    if (rc)
        return rc;
    lay L;
    rc = lay_init(&L, doc->ov, ly, octavo_doc_lang(doc), err);
    if (rc) {
        lay_fini(&L);
        ov_layout_free(ly); /* lay_init may have started the string table */
        return rc;
    }
    ly->title = ov_strdup(octavo_doc_title(doc));
    ly->author = octavo_doc_author(doc) ? ov_strdup(octavo_doc_author(doc)) : NULL;
    const char *desc = octavo_doc_get(doc, "description");
    if (!desc)
        desc = octavo_doc_get(doc, "seo.description");
    ly->subject = desc ? ov_strdup(desc) : NULL;
    ly->keywords = keywords_of(doc);
    ly->lang = ov_strdup(octavo_doc_lang(doc));
    if (octavo_doc_date(doc, &ly->created) == OCTAVO_OK) {
        ly->has_created = 1;
        octavo_time t;
        if (octavo_meta_time(octavo_meta_get(octavo_doc_meta(doc), "lastmod"), &t) == OCTAVO_OK ||
            octavo_meta_time(octavo_meta_get(octavo_doc_meta(doc), "updated"), &t) == OCTAVO_OK) {
            ly->modified = t;
            ly->has_modified = 1;
        }
    }
    L.running_title = octavo_doc_title(doc);
    int toc = toc_wanted(doc);
    L.docs = &doc;
    L.ndocs = 1;
    L.docidx = 0;
    doc_body(&L, doc, 1);
    if (toc && ly->noutline > 1) {
        /* the contents go after the title block: set them, then move them there */
        vlist body = L.main;
        memset(&L.main, 0, sizeof L.main);
        L.v = &L.main;
        contents(&L, 1, ly->noutline, 3, "Contents");
        lay_break(&L);
        vlist toc_v = L.main;
        /* find the end of the title block: the first line after the rule (the 4th glue) */
        size_t at = 0;
        for (size_t i = 0; i < body.n; i++)
            if (body.v[i].kind == VL_LINE && body.v[i].h == 1 && body.v[i].d == 0) {
                at = i + 1;
                break;
            }
        vlist merged = { 0 };
        for (size_t i = 0; i < at; i++) lay_vpush(&L, &merged, &body.v[i]);
        for (size_t i = 0; i < toc_v.n; i++) lay_vpush(&L, &merged, &toc_v.v[i]);
        for (size_t i = at; i < body.n; i++) lay_vpush(&L, &merged, &body.v[i]);
        ov_free(body.v);
        ov_free(toc_v.v);
        L.main = merged;
        L.v = &L.main;
    }
    if (L.fail_code && !L.nomem)
        rc = ov_error(err, L.fail_code, OCTAVO_STAGE_LAYOUT, doc->name, L.fail_line, L.fail_col, "%s", L.fail_msg);
    else if (!L.nomem)
        rc = lay_paginate(&L);
    if (rc == OCTAVO_E_LIMIT && !L.fail_code)
        rc = ov_error(err, rc, OCTAVO_STAGE_LAYOUT, doc->name, 0, 0, "the document needs more pages than limit.pages");
    if (L.nomem || ly->strs.failed || rc == OCTAVO_E_NOMEM)
        rc = ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_LAYOUT, doc->name, 0, 0, "out of memory");
    lay_fini(&L);
    if (rc)
        ov_layout_free(ly);
    return rc;
}

static void contents(lay *L, size_t first, size_t last, int maxlevel, const char *heading) {
    bctx c = { 0 };
    c.width = L->text_w;
    if (heading) {
        set_text(L, &c, heading, OV_SANS, OV_BOLD, 16, C_HEAD, 22, 1);
        lay_glue(L, &c, 8);
    }
    ov_layout *ly = L->ly;
    int minlevel = 99;
    for (size_t i = first; i < last; i++)
        if (ly->outline[i].level < minlevel)
            minlevel = ly->outline[i].level;
    float numw = 28;
    for (size_t i = first; i < last; i++) {
        ov_outline_entry *e = &ly->outline[i];
        if (e->level > minlevel + maxlevel - 1)
            continue;
        int lv = e->level - minlevel;
        bctx ec = c;
        ec.left = 14.0f * lv;
        ec.width = L->text_w - ec.left - numw - 10;
        int top = lv == 0;
        if (top && i > first)
            lay_glue(L, &c, 3);
        size_t before = L->v->n;
        set_text(L, &ec, e->title, top ? OV_SERIF : OV_SERIF, top ? OV_BOLD : 0, 10.5f, C_TEXT, 15, 1);
        if (L->v->n == before)
            continue;
        /* the last line of the entry: leaders and the number; the link covers the entry */
        vbox *v = &L->v->v[L->v->n - 1];
        float endx = ec.left;
        for (size_t b = v->b0; b < v->b0 + v->nb; b++)
            if (L->lb[b].kind == OV_BOX_TEXT && L->lb[b].x + L->lb[b].w > endx)
                endx = L->lb[b].x + L->lb[b].w;
        size_t b0 = L->nlb;
        float dotw = lay_text_width(L, OV_FACE(OV_SERIF, 0), 10.5f, ". ");
        float spw = lay_text_width(L, OV_FACE(OV_SERIF, 0), 10.5f, " ");
        float x0 = endx + spw, x1 = L->text_w - lay_text_width(L, OV_FACE(OV_SERIF, 0), 10.5f, "000") - spw;
        if (dotw > 0 && x1 - x0 > dotw) {
            /* leaders from just after the title to just before the number, spaced to fill */
            int k = (int)((x1 - x0) / dotw);
            if (k > 190)
                k = 190;
            char dots[400];
            for (int j = 0; j < k; j++) {
                dots[2 * j] = ' ';
                dots[2 * j + 1] = '.';
            }
            dots[2 * k] = 0;
            size_t lb0 = L->nlb;
            lay_text_box(L, OV_FACE(OV_SERIF, 0), 10.5f, C_GRAY, x0 - spw, 0, dots);
            if (L->nlb == lb0 + 1) {
                ov_box *db = &L->lb[lb0];
                float extra = (x1 - (x0 - spw) - db->w) / (float)k;
                for (int j = 0; j < k; j++)
                    L->ly->adj[db->off + 2 * j] += extra * 1000.0f / 10.5f;
                db->w = x1 - (x0 - spw);
            }
        }
        /* the page number: a right-aligned placeholder the page builder rewrites (ref = dest) */
        lay_text_box(L, OV_FACE(OV_SERIF, 0), 10.5f, C_TEXT, L->text_w, 0, "0000");
        L->lb[L->nlb - 1].ref = -2 - e->dest;  /* marks a page number to fill in */
        ov_box lk = { 0 };
        lk.kind = OV_BOX_LINK;
        lk.x = ec.left;
        lk.w = L->text_w - ec.left;
        lk.y = -v->d;
        lk.h = v->h + v->d;
        lk.ref = e->dest;
        lay_box(L, &lk);
        /* append the new boxes to the entry's last line (they were pushed after it) */
        size_t added = L->nlb - b0;
        if (v->b0 + v->nb == b0)
            v->nb += added;
    }
}

int ov_layout_book(octavo_book *book, ov_layout *ly, octavo_error *err) {
    for (size_t i = 0; i < book->ndocs; i++) {
        int rc = ov_model_build(book->docs[i], err);
        if (rc)
            return rc;
    }
    lay L;
    const char *lang = book->lang ? book->lang : book->ndocs ? octavo_doc_lang(book->docs[0]) : "en";
    int rc = lay_init(&L, book->ov, ly, lang, err);
    if (rc) {
        lay_fini(&L);
        ov_layout_free(ly); /* lay_init may have started the string table */
        return rc;
    }
    const char *btitle = book->title ? book->title : book->ndocs ? octavo_doc_title(book->docs[0]) : "Book";
    ly->title = ov_strdup(btitle);
    if (book->nauthors) {
        ov_buf a;
        ov_buf_init(&a);
        for (size_t i = 0; i < book->nauthors; i++) {
            if (i)
                ov_buf_puts(&a, ", ");
            ov_buf_puts(&a, book->authors[i]);
        }
        ly->author = ov_buf_detach(&a, NULL);
    }
    ly->subject = book->description ? ov_strdup(book->description) : NULL;
    ly->lang = ov_strdup(lang);
    L.running_title = btitle;
    bctx c = { 0 };
    c.width = L.text_w;
    /* cover */
    lay_glue(&L, &c, 150);
    set_text(&L, &c, btitle, OV_SANS, OV_BOLD, 30, C_HEAD, 36, 1);
    if (book->description) {
        lay_glue(&L, &c, 12);
        set_text(&L, &c, book->description, OV_SERIF, OV_ITALIC, 14, C_GRAY, 19, 1);
    }
    if (ly->author) {
        lay_glue(&L, &c, 30);
        set_text(&L, &c, ly->author, OV_SANS, 0, 13, C_TEXT, 18, 1);
    }
    if (book->date) {
        lay_glue(&L, &c, 8);
        set_text(&L, &c, book->date, OV_SANS, 0, 11, C_GRAY, 15, 1);
    }
    if (book->cover) {
        lay_glue(&L, &c, 24);
        L.doc = book->ndocs ? book->docs[0] : NULL;
        if (L.doc) {
            xmlNodePtr img = xmlNewNode(NULL, BAD_CAST "img");
            if (img) {
                xmlNewProp(img, BAD_CAST "src", BAD_CAST book->cover);
                xmlNewProp(img, BAD_CAST "alt", BAD_CAST "Cover");
                lay_image(&L, img, &c, 0);
                xmlFreeNode(img);
            }
        }
    }
    lay_break(&L);
    /* the documents, each on a new page; the contents are set after them and moved to the front */
    vlist front = L.main;
    memset(&L.main, 0, sizeof L.main);
    L.v = &L.main;
    size_t *doc_start = ov_calloc(book->ndocs + 1, sizeof *doc_start);
    if (!doc_start)
        L.nomem = 1;
    for (size_t i = 0; i < book->ndocs && !L.nomem; i++) {
        if (i)
            lay_break(&L);
        L.docs = book->docs;
        L.ndocs = book->ndocs;
        L.docidx = i;
        doc_body(&L, book->docs[i], 1);
    }
    vlist body = L.main;
    memset(&L.main, 0, sizeof L.main);
    L.v = &L.main;
    contents(&L, 0, ly->noutline, 1, "Contents");
    lay_break(&L);
    vlist toc = L.main;
    vlist all = { 0 };
    for (size_t i = 0; i < front.n; i++) lay_vpush(&L, &all, &front.v[i]);
    size_t toc_first = all.n;
    for (size_t i = 0; i < toc.n; i++) lay_vpush(&L, &all, &toc.v[i]);
    size_t body_first = all.n;
    for (size_t i = 0; i < body.n; i++) lay_vpush(&L, &all, &body.v[i]);
    (void)toc_first;
    ov_free(front.v);
    ov_free(toc.v);
    ov_free(body.v);
    ov_free(doc_start);
    L.main = all;
    L.v = &L.main;
    /* page labels: roman numbers for the cover and contents; the page builder finds where the
     * body starts through this marker */
    L.doc_first_page = (int)body_first;
    if (L.fail_code && !L.nomem)
        rc = ov_error(err, L.fail_code, OCTAVO_STAGE_LAYOUT, L.fail_file, L.fail_line, L.fail_col, "%s", L.fail_msg);
    else if (!L.nomem)
        rc = lay_paginate(&L);
    if (rc == OCTAVO_E_LIMIT && !L.fail_code)
        rc = ov_error(err, rc, OCTAVO_STAGE_LAYOUT, NULL, 0, 0, "the book needs more pages than limit.pages");
    if (L.nomem || ly->strs.failed || rc == OCTAVO_E_NOMEM)
        rc = ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_LAYOUT, NULL, 0, 0, "out of memory");
    lay_fini(&L);
    if (rc)
        ov_layout_free(ly);
    return rc;
}
