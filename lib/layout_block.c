/*
 * Blocks: the DOM's block elements set into the vertical list — paragraphs, headings (with
 * destinations and outline entries), lists, block quotes, code, rules, images and figures,
 * tables; everything else shows its content.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "layout_int.h"

#define PARA_GAP 6.0f

const char *attr(xmlNodePtr n, const char *name) {
    if (!n || n->type != XML_ELEMENT_NODE)
        return NULL;
    xmlAttrPtr a = xmlHasProp(n, BAD_CAST name);
    if (!a)
        return NULL;
    if (a->children && (a->children->type == XML_TEXT_NODE) && a->children->content)
        return (const char *)a->children->content;
    return "";
}

int has_class(xmlNodePtr n, const char *cls) {
    const char *c = attr(n, "class");
    if (!c)
        return 0;
    size_t l = strlen(cls);
    for (const char *p = c; (p = strstr(p, cls)) != NULL; p += l)
        if ((p == c || p[-1] == ' ') && (p[l] == 0 || p[l] == ' '))
            return 1;
    return 0;
}

static int name_is(xmlNodePtr n, const char *name) {
    return n && n->type == XML_ELEMENT_NODE && strcasecmp((const char *)n->name, name) == 0;
}

int is_block_element(xmlNodePtr n) {
    static const char *const blocks[] = { "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li",
                                          "blockquote", "pre", "hr", "table", "section", "figure", "figcaption",
                                          "dl", "dt", "dd", "details", "summary", "header", "footer", "article",
                                          "aside", "nav", "main", "center", "address", "fieldset", "form",
                                          "thead", "tbody", "tr", "video", "audio", "picture" };
    if (!n || n->type != XML_ELEMENT_NODE)
        return 0;
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        if (strcasecmp((const char *)n->name, blocks[i]) == 0)
            return 1;
    return 0;
}

static void finish_para(lay *L, para *P, bctx *c, float gap) {
    if (para_empty(P)) {
        para_finish(L, P, c, L->lead, 0, 1);
        return;
    }
    int align = c->in_table ? c->in_table - 1 : 0;
    if (align == 0 && c->in_table)
        align = 1;
    para_finish(L, P, c, L->lead, align, 1);
    lay_glue(L, c, gap);
}

void lay_blocks(lay *L, xmlNodePtr parent, bctx *c) {
    if (L->depth > 200)
        return;
    L->depth++;
    para *P = para_new(L, c);
    if (!P) {
        L->depth--;
        return;
    }
    istyle st = style_body(L);
    for (xmlNodePtr n = parent->children; n && !L->nomem; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && is_block_element(n)) {
            if (!para_empty(P))
                finish_para(L, P, c, c->in_table ? 0 : 2);
            lay_block(L, n, c);
        } else if (n->type == XML_ELEMENT_NODE) {
            /* an inline element: into the anonymous paragraph */
            if (name_is(n, "img") && para_empty(P)) {
                lay_image(L, n, c, 1);
                continue;
            }
            para_inline_node(L, P, n, st);
        } else if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content)
                para_text(L, P, (const char *)n->content, strlen((const char *)n->content), &st, 0);
        }
    }
    if (!para_empty(P))
        finish_para(L, P, c, c->in_table ? 0 : 2);
    else
        para_finish(L, P, c, L->lead, 0, 1);
    para_free(P);
    L->depth--;
}

static void heading(lay *L, xmlNodePtr n, bctx *c, int level) {
    static const float sizes[7] = { 22, 22, 16, 13.5f, 12, 11, 10.5f };
    static const float before[7] = { 20, 20, 16, 13, 11, 10, 10 };
    if (level < 1) level = 1;
    if (level > 6) level = 6;
    float size = sizes[level];
    lay_glue(L, c, before[level]);
    const char *id = attr(n, "id");
    /* the model gives headings their ids; find ours in the heading list as well */
    if ((!id || !*id) && L->doc) {
        for (size_t i = 0; i < L->doc->nheadings; i++)
            if (L->doc->headings[i].node == n) {
                id = L->doc->headings[i].id;
                break;
            }
    }
    char autoname[48];
    if (!id || !*id) {
        snprintf(autoname, sizeof autoname, "ov-h-%zu", L->ly->ndests);
        id = autoname;
    }
    int dest = lay_doc_dest(L, L->docidx, id);
    if (dest >= 0) {
        lay_mark(L, (size_t)dest);
        char *title = ov_model_text(n);
        ov_layout *ly = L->ly;
        if (title && *title) {
            if (ly->noutline == ly->cap_outline) {
                size_t nc = ly->cap_outline ? ly->cap_outline * 2 : 32;
                void *p = ov_realloc(ly->outline, nc * sizeof *ly->outline);
                if (!p) {
                    L->nomem = 1;
                    ov_free(title);
                    return;
                }
                ly->outline = p;
                ly->cap_outline = nc;
            }
            ov_outline_entry *e = &ly->outline[ly->noutline++];
            e->title = title;
            e->level = L->outline_base + level - 1;
            e->dest = dest;
        } else
            ov_free(title);
    }
    para *P = para_new(L, c);
    if (!P)
        return;
    istyle st = style_body(L);
    st.family = OV_SANS;
    st.style = level <= 5 ? OV_BOLD : OV_BOLD | OV_ITALIC;
    st.size = size;
    st.color = C_HEAD;
    para_inline(L, P, n, st);
    L->next_tag = OV_TAG_H1 + (level - 1); /* level 1..6 (the model fits body headings to 2..6; the title is H1) */
    para_finish(L, P, c, size * 1.28f, 1, 2);
    L->next_tag = 0;
    para_free(P);
    lay_glue(L, c, level <= 2 ? 6 : 4);
    L->keep_next = 1;
}

/* A list's first number, and its items. */
static long list_start(xmlNodePtr n, int ordered, size_t *count) {
    long start = 1;
    const char *s = attr(n, "start");
    if (ordered && s && *s)
        start = strtol(s, NULL, 10);
    *count = 0;
    for (xmlNodePtr li = n->children; li; li = li->next)
        *count += name_is(li, "li");
    return start;
}

float lay_list_indent(lay *L, xmlNodePtr n) {
    int ordered = !strcasecmp((const char *)n->name, "ol");
    size_t count;
    long start = list_start(n, ordered, &count);
    if (!ordered)
        return 18;
    char big[32];
    snprintf(big, sizeof big, "%ld.", start + (long)count);
    float indent = lay_text_width(L, OV_FACE(OV_SERIF, 0), L->body_size, big) + 9;
    return indent < 18 ? 18 : indent;
}

static void list(lay *L, xmlNodePtr n, bctx *c, int ordered) {
    size_t count;
    long start = list_start(n, ordered, &count);
    int reversed = ordered && attr(n, "reversed") != NULL;
    float indent = lay_list_indent(L, n);
    long num = reversed ? start + (long)count - 1 : start;
    int32_t back = lay_tag_group(L, OV_TAG_L);
    for (xmlNodePtr li = n->children; li && !L->nomem; li = li->next) {
        if (!name_is(li, "li"))
            continue;
        int32_t back_item = lay_tag_group(L, OV_TAG_LI);
        int32_t back_body = lay_tag_group(L, OV_TAG_LBODY);
        bctx lc = *c;
        lc.left += indent;
        lc.width -= indent;
        lc.depth = c->depth + 1;
        char marker[32];
        static const char *const bullets[3] = { "\xE2\x80\xA2", "\xE2\x97\xA6", "\xE2\x96\xAA" };
        /* a task item shows its check box instead of a bullet */
        int task = 0;
        for (xmlNodePtr k = li->children; k; k = k->next) {
            if (k->type == XML_TEXT_NODE && k->content && strspn((const char *)k->content, " \t\r\n") ==
                                                              strlen((const char *)k->content))
                continue;
            xmlNodePtr first = k;
            if (name_is(first, "p"))
                for (first = k->children; first && first->type == XML_TEXT_NODE; first = first->next) {}
            task = name_is(first, "input");
            break;
        }
        if (ordered)
            snprintf(marker, sizeof marker, "%ld.", num);
        else
            snprintf(marker, sizeof marker, "%s", bullets[c->depth % 3]);
        lc.marker = task ? NULL : marker;
        lc.marker_face = OV_FACE(OV_SERIF, 0);
        lc.marker_size = L->body_size;
        lay_blocks(L, li, &lc);
        if (lc.marker) {
            /* an empty item still shows its marker */
            size_t b0 = L->nlb;
            lay_line(L, &lc, L->lead * 0.74f, L->lead * 0.26f, b0);
        }
        lay_tag_end(L, back_body);
        lay_tag_end(L, back_item);
        num += reversed ? -1 : 1;
    }
    lay_tag_end(L, back);
    lay_glue(L, c, c->depth ? 0 : PARA_GAP - 2);
}

static char *raw_text(xmlNodePtr n) {
    xmlChar *t = xmlNodeGetContent(n);
    if (!t)
        return NULL;
    char *r = ov_strdup((const char *)t);
    xmlFree(t);
    return r;
}

static int utf8_step(const char *s, const char *end, uint32_t *cp) {
    const unsigned char *p = (const unsigned char *)s;
    uint32_t c = *p;
    int n = c < 0x80 ? 1 : c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (s + n > end) {
        *cp = OV_REPLACEMENT_CHAR;
        return 1;
    }
    if (n == 1) {
        *cp = c < 0x80 ? c : OV_REPLACEMENT_CHAR;
        return 1;
    }
    c &= n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07;
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *cp = OV_REPLACEMENT_CHAR;
            return i;
        }
        c = c << 6 | (p[i] & 0x3F);
    }
    *cp = c;
    return n;
}

/* One code line segment: runs per face at x, nominal advances (monospace: no kerning). */
static void code_runs(lay *L, const uint32_t *cp, size_t n, float x, float size, uint32_t color) {
    size_t i = 0;
    while (i < n) {
        int f = ov_font_pick(L->fonts, OV_FACE(OV_MONO, 0), cp[i]);
        size_t j = i + 1;
        while (j < n && ov_font_pick(L->fonts, OV_FACE(OV_MONO, 0), cp[j]) == f)
            j++;
        uint32_t buf[256];
        size_t m = 0;
        ov_box b = { 0 };
        b.kind = OV_BOX_TEXT;
        b.face = f < 0 ? ov_font_pick(L->fonts, OV_FACE(OV_MONO, 0), OV_REPLACEMENT_CHAR) : f;
        if (b.face < 0)
            b.face = OV_FACE(OV_MONO, 0);
        b.size = size;
        b.color = color;
        b.x = x;
        b.off = (uint32_t)L->ly->ncp;
        for (size_t k = i; k < j; k++) {
            uint32_t ch = f < 0 ? OV_REPLACEMENT_CHAR : cp[k];
            buf[m++] = ch;
            b.w += (float)(ov_font_advance(L->fonts, b.face, ch) * size / 1000.0);
            if (m == 256) {
                lay_chars(L, buf, NULL, m);
                b.n += (uint32_t)m;
                m = 0;
            }
        }
        if (m) {
            lay_chars(L, buf, NULL, m);
            b.n += (uint32_t)m;
        }
        lay_box(L, &b);
        x += b.w;
        i = j;
    }
}

static void code_block(lay *L, xmlNodePtr pre, bctx *c) {
    char *text = raw_text(pre);
    if (!text)
        return;
    size_t len = strlen(text);
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = 0;
    float size = L->body_size * 0.82f, lead = size * 1.36f;
    float h = lead * 0.76f, d = lead - h, pad = 6;
    float cw = (float)(ov_font_advance(L->fonts, OV_FACE(OV_MONO, 0), 'M') * size / 1000.0);
    float avail = c->width - 2 * pad;
    float mark_w = 2 * cw;
    lay_glue(L, c, 2);
    lay_tag(L, OV_TAG_CODE, NULL);
    size_t first = L->v->n;
    uint32_t *cps = ov_malloc((len + 1) * sizeof *cps * 4);
    float *adv = ov_malloc((len + 1) * sizeof *adv * 4);
    if (!cps || !adv) {
        ov_free(cps);
        ov_free(adv);
        ov_free(text);
        L->nomem = 1;
        return;
    }
    const char *p = text, *end = text + len;
    int nlines = 0;
    while (p <= end && !L->nomem) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        /* decode with tabs expanded */
        size_t n = 0;
        for (const char *q = p; q < le;) {
            uint32_t ch;
            q += utf8_step(q, le, &ch);
            if (ch == '\r')
                continue;
            if (ch == '\t') {
                do cps[n++] = ' ';
                while (n % 4);
                continue;
            }
            if (ch >= 0x10000)
                ch = OV_REPLACEMENT_CHAR;
            cps[n++] = ch;
        }
        for (size_t k = 0; k < n; k++) {
            int f = ov_font_pick(L->fonts, OV_FACE(OV_MONO, 0), cps[k]);
            adv[k] = (float)(ov_font_advance(L->fonts, f < 0 ? OV_FACE(OV_MONO, 0) : f, cps[k]) * size / 1000.0);
        }
        size_t s = 0;
        int cont = 0;
        do {
            float room = avail - (cont ? mark_w : 0);
            float acc = 0;
            size_t e = s;
            while (e < n && acc + adv[e] <= room)
                acc += adv[e++];
            if (e < n) {
                /* wrap after a space or punctuation in the last 40% when there is one */
                size_t k = e;
                while (k > s + 1 && (e - k) * cw < room * 0.4f && !(cps[k - 1] == ' ' || cps[k - 1] == ',' ||
                                                                     cps[k - 1] == '/' || cps[k - 1] == ';' ||
                                                                     cps[k - 1] == '&' || cps[k - 1] == '|'))
                    k--;
                if (k > s + 1 && (cps[k - 1] == ' ' || cps[k - 1] == ',' || cps[k - 1] == '/' ||
                                  cps[k - 1] == ';' || cps[k - 1] == '&' || cps[k - 1] == '|'))
                    e = k;
                if (e == s)
                    e = s + 1;
            }
            size_t b0 = L->nlb;
            ov_box bg = { 0 };
            bg.kind = OV_BOX_RECT;
            bg.color = C_CODEBG;
            bg.x = c->left;
            bg.w = c->width;
            float top = h + (nlines == 0 ? pad * 0.6f : 0);
            bg.y = -d;
            bg.h = top + d;
            lay_box(L, &bg);
            float x = c->left + pad;
            if (cont) {
                lay_text_box(L, OV_FACE(OV_MONO, 0), size, C_GRAY, x, 0, "\xE2\x86\xAA");
                x += mark_w;
            }
            code_runs(L, cps + s, e - s, x, size, C_TEXT);
            lay_line(L, c, top, d, b0);
            nlines++;
            s = e;
            cont = 1;
        } while (s < n);
        if (!nl)
            break;
        p = nl + 1;
    }
    /* bottom padding: extend the last line's background */
    if (L->v->n > first) {
        vbox *v = &L->v->v[L->v->n - 1];
        for (size_t b = v->b0; b < v->b0 + v->nb; b++)
            if (L->lb[b].kind == OV_BOX_RECT && L->lb[b].color == C_CODEBG) {
                L->lb[b].y -= pad * 0.6f;
                L->lb[b].h += pad * 0.6f;
            }
        v->d += pad * 0.6f;
        size_t nl = L->v->n - first;
        for (size_t k = first + 1; k < L->v->n; k++)
            if (k == first + 1 || k == L->v->n - 1 || nl <= 4)
                L->v->v[k].nobreak = 1;
    }
    ov_free(cps);
    ov_free(adv);
    ov_free(text);
    lay_glue(L, c, PARA_GAP + 2);
}

static void rule(lay *L, bctx *c) {
    lay_glue(L, c, 8);
    size_t b0 = L->nlb;
    ov_box r = { 0 };
    r.kind = OV_BOX_LINE;
    r.color = C_RULE;
    r.size = 0.6f;
    r.x = c->left + c->width * 0.3f;
    r.w = c->width * 0.4f;
    lay_box(L, &r);
    lay_line(L, c, 0.5f, 0.5f, b0);
    lay_glue(L, c, 10);
}

/* the href of the nearest enclosing link */
static const char *enclosing_href(xmlNodePtr n) {
    for (xmlNodePtr p = n->parent; p && p->type == XML_ELEMENT_NODE; p = p->parent)
        if (name_is(p, "a")) {
            const char *h = attr(p, "href");
            if (h && *h)
                return h;
        }
    return NULL;
}

static void framed_alt(lay *L, xmlNodePtr img, bctx *c, const char *alt, const char *src, int remote) {
    bctx fc = *c;
    fc.frame = 1;
    fc.frame_x0 = c->left;
    fc.frame_x1 = c->left + c->width;
    fc.left += 8;
    fc.width -= 16;
    fc.marker = NULL;
    /* top rule */
    lay_glue(L, c, 3);
    size_t b0 = L->nlb;
    ov_box r = { 0 };
    r.kind = OV_BOX_LINE;
    r.color = C_RULE;
    r.size = 0.6f;
    r.x = c->left;
    r.w = c->width;
    lay_box(L, &r);
    lay_line(L, c, 0, 0, b0);
    lay_glue(L, &fc, 4);
    para *P = para_new(L, &fc);
    if (!P)
        return;
    istyle st = style_body(L);
    st.size = L->body_size * 0.9f;
    st.color = C_GRAY;
    st.style = OV_ITALIC;
    const char *lead = remote ? "Image: " : "Image not available: ";
    para_text(L, P, lead, strlen(lead), &st, 0);
    if (alt && *alt)
        para_text(L, P, alt, strlen(alt), &st, 0);
    if (src && *src) {
        istyle ls = st;
        ls.style = 0;
        if (remote) {
            ls.link = lay_str(L, src) + 1;
        }
        para_text(L, P, " ", 1, &ls, 0);
        para_text(L, P, src, strlen(src), &ls, 0);
    }
    const char *href = enclosing_href(img);
    (void)href;
    para_finish(L, P, &fc, L->lead * 0.9f, 1, 1);
    para_free(P);
    lay_glue(L, &fc, 4);
    b0 = L->nlb;
    lay_box(L, &r);
    lay_line(L, c, 0, 0, b0);
    lay_glue(L, c, PARA_GAP);
}

void lay_image(lay *L, xmlNodePtr img, const bctx *cc, int figure) {
    bctx *c = (bctx *)cc;
    const char *src = attr(img, "src");
    const char *alt = attr(img, "alt");
    const char *title = attr(img, "title");
    if (!src || !*src) {
        if (alt && *alt)
            framed_alt(L, img, c, alt, NULL, 0);
        return;
    }
    if (ov_is_remote(src)) {
        framed_alt(L, img, c, alt, src, 1);
        return;
    }
    if (!L->doc) {
        framed_alt(L, img, c, alt, src, 0);
        return;
    }
    octavo_blob blob = { 0 };
    octavo_error e = { 0 };
    if (ov_resolve(L->doc, src, &blob, &e) != OCTAVO_OK) {
        lay_warn(L, img, e.code ? e.code : OCTAVO_E_RESOURCE, "image %s: %s", src,
                 e.message[0] ? e.message : "not found");
        framed_alt(L, img, c, alt, src, 0);
        return;
    }
    ov_image_info info;
    memset(&info, 0, sizeof info);
    if (ov_image_probe(L->ov, blob.data, blob.len, &info, &e) != OCTAVO_OK || info.format == OV_IMG_SVG ||
        !info.width || !info.height) {
        if (info.format == OV_IMG_SVG)
            lay_warn(L, img, OCTAVO_E_IMAGE, "image %s: SVG is not drawn in PDF; its text is shown", src);
        else
            lay_warn(L, img, e.code ? e.code : OCTAVO_E_IMAGE, "image %s: %s", src,
                     e.message[0] ? e.message : "cannot be read");
        ov_blob_release(&blob);
        framed_alt(L, img, c, alt, src, 0);
        return;
    }
    /* size: CSS pixels (96 per inch), a width attribute if given, fitted to the column and page */
    double w = info.width * 0.75, h = info.height * 0.75;
    const char *wa = attr(img, "width");
    if (wa && atof(wa) > 0 && !strchr(wa, '%')) {
        double nw = atof(wa) * 0.75;
        h *= nw / w;
        w = nw;
    }
    double maxh = (L->text_top - L->text_bottom) * 0.72;
    double s = 1;
    if (w > c->width)
        s = c->width / w;
    if (h * s > maxh)
        s = maxh / h;
    w *= s;
    h *= s;
    ov_layout *ly = L->ly;
    if (ly->nimages == ly->cap_images) {
        size_t nc = ly->cap_images ? ly->cap_images * 2 : 8;
        void *p = ov_realloc(ly->images, nc * sizeof *ly->images);
        if (!p) {
            ov_blob_release(&blob);
            L->nomem = 1;
            return;
        }
        ly->images = p;
        ly->cap_images = nc;
    }
    ov_layout_image *im = &ly->images[ly->nimages];
    memset(im, 0, sizeof *im);
    im->blob = blob;
    im->info = info;
    im->alt = alt ? ov_strdup(alt) : NULL;
    im->placed_w = (float)w;
    im->placed_h = (float)h;
    int idx = (int)ly->nimages++;
    (void)ov_pdf_prep_add(ly, (size_t)idx); /* made ready on other cores while the layout goes on */
    lay_glue(L, c, 4);
    lay_tag(L, OV_TAG_FIGURE, alt && *alt ? alt : title);
    size_t b0 = L->nlb;
    ov_box b = { 0 };
    b.kind = OV_BOX_IMAGE;
    b.x = (float)(c->left + (c->width - w) / 2);
    b.y = 0;
    b.w = (float)w;
    b.h = (float)h;
    b.ref = idx;
    lay_box(L, &b);
    const char *href = enclosing_href(img);
    uint32_t off = 0;
    int kind = href ? lay_link(L, img, href, &off) : -1;
    if (kind >= 0) {
        ov_box lk = b;
        lk.kind = OV_BOX_LINK;
        lk.ref = kind == 1 ? -3 : -1;
        lk.uri = off;
        lay_box(L, &lk);
    }
    lay_line(L, c, (float)h, 2, b0);
    const char *cap = title && *title ? title : NULL;
    if (figure && !cap && alt && *alt)
        cap = alt;
    if (figure && cap) {
        L->keep_next = 1;
        lay_glue(L, c, 4);
        L->keep_next = 1;
        para *P = para_new(L, c);
        if (P) {
            istyle st = style_body(L);
            st.size = L->body_size * 0.88f;
            st.style = OV_ITALIC;
            st.color = C_GRAY;
            para_text(L, P, cap, strlen(cap), &st, 0);
            L->next_tag = OV_TAG_CAPTION;
            para_finish(L, P, c, L->lead * 0.9f, 2, 1);
            L->next_tag = 0;
            para_free(P);
        }
    }
    lay_glue(L, c, PARA_GAP + 2);
}

/* a paragraph that holds one image and nothing else (but whitespace) */
static xmlNodePtr lone_image(xmlNodePtr p) {
    xmlNodePtr img = NULL;
    for (xmlNodePtr k = p->children; k; k = k->next) {
        if (k->type == XML_TEXT_NODE) {
            if (k->content && strspn((const char *)k->content, " \t\r\n") != strlen((const char *)k->content))
                return NULL;
            continue;
        }
        if (k->type != XML_ELEMENT_NODE)
            continue;
        xmlNodePtr e = k;
        if (name_is(e, "a")) {
            /* a linked image */
            xmlNodePtr only = NULL;
            for (xmlNodePtr q = e->children; q; q = q->next) {
                if (q->type == XML_TEXT_NODE && q->content &&
                    strspn((const char *)q->content, " \t\r\n") == strlen((const char *)q->content))
                    continue;
                if (only)
                    return NULL;
                only = q;
            }
            e = only;
        }
        if (!name_is(e, "img") || img)
            return NULL;
        img = e;
    }
    return img;
}

void lay_block(lay *L, xmlNodePtr n, bctx *c) {
    if (L->depth > 200 || L->nomem)
        return;
    const char *name = (const char *)n->name;
    if (has_class(n, "footnotes"))
        return; /* set at the bottom of the pages */
    L->depth++;
    if (!strcasecmp(name, "p")) {
        xmlNodePtr img = lone_image(n);
        if (img) {
            lay_image(L, img, c, 1);
        } else {
            para *P = para_new(L, c);
            if (P) {
                para_inline(L, P, n, style_body(L));
                finish_para(L, P, c, c->in_table ? 0 : PARA_GAP);
                para_free(P);
            }
        }
    } else if ((name[0] == 'h' || name[0] == 'H') && name[1] >= '1' && name[1] <= '6' && !name[2]) {
        heading(L, n, c, name[1] - '0');
    } else if (!strcasecmp(name, "ul") || !strcasecmp(name, "ol")) {
        list(L, n, c, !strcasecmp(name, "ol"));
    } else if (!strcasecmp(name, "blockquote")) {
        bctx qc = *c;
        if (qc.nquote < 16)
            qc.quote_x[qc.nquote++] = c->left + 1;
        qc.left += 14;
        qc.width -= 14;
        qc.marker = NULL;
        if (c->marker) {
            qc.marker = c->marker;
            c->marker = NULL;
        }
        lay_glue(L, c, 2);
        lay_blocks(L, n, &qc);
        lay_glue(L, c, 4);
    } else if (!strcasecmp(name, "pre")) {
        code_block(L, n, c);
    } else if (!strcasecmp(name, "hr")) {
        rule(L, c);
    } else if (!strcasecmp(name, "table")) {
        lay_table(L, n, c);
    } else if (!strcasecmp(name, "img")) {
        lay_image(L, n, c, 1);
    } else if (!strcasecmp(name, "dd")) {
        bctx dc = *c;
        dc.left += 18;
        dc.width -= 18;
        lay_blocks(L, n, &dc);
    } else if (!strcasecmp(name, "dt") || !strcasecmp(name, "summary") || !strcasecmp(name, "figcaption")) {
        para *P = para_new(L, c);
        if (P) {
            istyle st = style_body(L);
            if (name[0] == 'f') {
                st.style = OV_ITALIC;
                st.size *= 0.88f;
                st.color = C_GRAY;
            } else
                st.style = OV_BOLD;
            para_inline(L, P, n, st);
            para_finish(L, P, c, L->lead, name[0] == 'f' ? 2 : 1, 1);
            lay_glue(L, c, 3);
            para_free(P);
        }
    } else if (!strcasecmp(name, "video") || !strcasecmp(name, "audio")) {
        const char *src = attr(n, "src");
        para *P = para_new(L, c);
        if (P) {
            istyle st = style_body(L);
            if (src) {
                uint32_t off = 0;
                int kind = lay_link(L, n, src, &off);
                if (kind >= 0) {
                    st.link = off + 1;
                    st.internal = kind == 1;
                }
                para_text(L, P, src, strlen(src), &st, 0);
            }
            para_inline(L, P, n, style_body(L));
            finish_para(L, P, c, PARA_GAP);
            para_free(P);
        }
    } else if (!strcasecmp(name, "script") || !strcasecmp(name, "style") || !strcasecmp(name, "template")) {
        /* nothing */
    } else {
        /* div, section, figure, li outside a list, tbody...: the content */
        lay_blocks(L, n, c);
    }
    L->depth--;
}
