/*
 * Tables: column widths from the cells' content (minimum: the longest word; preferred: the text on
 * one line), cells set as ragged paragraphs in their column, book rules (a heavier rule above the
 * header and below the table, a thin one under the header, hairlines between rows), the header
 * row repeated on every page the table spans (the page builder does that from vbox.header), and
 * smaller type when the minimum widths do not fit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "layout_int.h"

typedef struct tcell {
    xmlNodePtr node;
    int header, align;     /* align: 1 left, 2 center, 3 right */
    int col;
} tcell;

typedef struct trow {
    size_t c0, n;
    int header;
} trow;

typedef struct tbl {
    tcell *cells;
    size_t ncells, capc;
    trow *rows;
    size_t nrows, capr;
} tbl;

static int is(xmlNodePtr n, const char *name) {
    return n && n->type == XML_ELEMENT_NODE && strcasecmp((const char *)n->name, name) == 0;
}

static int cell_align(xmlNodePtr n) {
    const char *a = attr(n, "align");
    const char *st = attr(n, "style");
    const char *v = NULL;
    if (st && (v = strstr(st, "text-align"))) {
        v = strchr(v, ':');
        if (v) {
            v++;
            while (*v == ' ')
                v++;
        }
    } else
        v = a;
    if (!v)
        return 1;
    if (!strncasecmp(v, "right", 5))
        return 3;
    if (!strncasecmp(v, "center", 6))
        return 2;
    return 1;
}

static void add_row(lay *L, tbl *t, xmlNodePtr tr, int in_head) {
    if (t->nrows == t->capr) {
        size_t nc = t->capr ? t->capr * 2 : 16;
        trow *p = ov_realloc(t->rows, nc * sizeof *p);
        if (!p) {
            L->nomem = 1;
            return;
        }
        t->rows = p;
        t->capr = nc;
    }
    trow *r = &t->rows[t->nrows];
    r->c0 = t->ncells;
    r->n = 0;
    int all_th = 1;
    for (xmlNodePtr c = tr->children; c; c = c->next) {
        if (!is(c, "td") && !is(c, "th"))
            continue;
        if (t->ncells == t->capc) {
            size_t nc = t->capc ? t->capc * 2 : 64;
            tcell *p = ov_realloc(t->cells, nc * sizeof *p);
            if (!p) {
                L->nomem = 1;
                return;
            }
            t->cells = p;
            t->capc = nc;
        }
        tcell *x = &t->cells[t->ncells++];
        x->node = c;
        x->header = in_head || is(c, "th");
        x->align = cell_align(c);
        x->col = (int)r->n;
        all_th &= is(c, "th");
        r->n++;
    }
    r->header = in_head || (all_th && r->n > 0 && t->nrows == 0);
    if (r->n)
        t->nrows++;
}

static void collect(lay *L, tbl *t, xmlNodePtr n, int in_head, int depth) {
    if (depth > 4)
        return;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (is(c, "tr"))
            add_row(L, t, c, in_head);
        else if (is(c, "thead"))
            collect(L, t, c, 1, depth + 1);
        else if (is(c, "tbody") || is(c, "tfoot"))
            collect(L, t, c, 0, depth + 1);
    }
}

/* The widths of a cell's longest word and of its longest line, each text run measured in the
 * face and size the paragraph will set it in (inline code is monospace at 0.86 of the size,
 * strong bold, em italic): measuring code as body text gave columns too narrow for the code
 * they hold, whose identifiers then broke inside ("x86_" / "64"). A word runs on across runs
 * ("`aarch64`," is one); a <br> or a block ends a line. Code counts by its pieces between the
 * separators it may break after ("grpc." "CreateContainerRequest"), as the paragraph breaks it. */
typedef struct measure_st {
    lay *L;
    float word, line, minw, prefw;
    float whole, minwhole;     /* the same with code words kept whole */
    float indent;              /* of the list items the text is in (lay_list_indent) */
} measure_st;

static void measure_end_piece(measure_st *m) {
    if (m->word > 0 && m->indent + m->word > m->minw) m->minw = m->indent + m->word;
    m->word = 0;
}

static void measure_end_word(measure_st *m) {
    measure_end_piece(m);
    if (m->whole > 0 && m->indent + m->whole > m->minwhole) m->minwhole = m->indent + m->whole;
    m->whole = 0;
}

static void measure_end_line(measure_st *m) {
    measure_end_word(m);
    if (m->line > 0 && m->indent + m->line > m->prefw) m->prefw = m->indent + m->line;
    m->line = 0;
}

/* Code may break after these, as the paragraph breaks it (layout_para.c, inside URLs and code). */
static int code_break_after(char c) { return c && strchr("/.?&=#_-,;:\\|+)]", c) != NULL; }

static void measure_text(measure_st *m, const char *t, int face, float size, int code) {
    char buf[256];
    size_t n = 0;
    for (const char *p = t;; p++) {
        int end = !*p, space = !end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f');
        /* in code, a piece ends after a separator followed by something else: its longest
         * piece, not the whole identifier, is what the column cannot be narrower than */
        int piece = code && !end && !space && code_break_after(*p) && p[1] && !code_break_after(p[1]) &&
                    p[1] != ' ' && m->word + n > 0;
        if (!end && !space) {
            buf[n++] = *p;
            if (!piece && (n < sizeof buf - 8 || (p[1] & 0xC0) == 0x80))
                continue; /* a long run is measured in pieces, cut between characters */
        }
        if (n) {
            buf[n] = 0;
            float w = lay_text_width(m->L, face, size, buf);
            m->word += w;
            m->whole += w;
            m->line += w;
            n = 0;
        }
        if (end)
            break;
        if (piece)
            measure_end_piece(m);
        else if (space && m->whole > 0) { /* a space ends a word; runs of spaces count once */
            measure_end_word(m);
            m->line += lay_text_width(m->L, face, size, " ");
        }
    }
}

static void measure_walk(measure_st *m, xmlNodePtr n, int style, int code, float size) {
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            if (c->content)
                measure_text(m, (const char *)c->content, OV_FACE(code ? OV_MONO : OV_SERIF, style), size, code);
            continue;
        }
        if (c->type != XML_ELEMENT_NODE)
            continue;
        const char *name = (const char *)c->name;
        int st = style, cd = code;
        float sz = size;
        if (!strcasecmp(name, "br")) {
            measure_end_line(m);
            continue;
        }
        lay_inline_style(name, &st, &cd, &sz); /* as the paragraph will set it */
        int block = is_block_element(c);
        float indent = !strcasecmp(name, "ul") || !strcasecmp(name, "ol") ? lay_list_indent(m->L, c) : 0;
        if (block)
            measure_end_line(m);
        m->indent += indent;
        measure_walk(m, c, st, cd, sz);
        m->indent -= indent;
        if (block)
            measure_end_line(m);
    }
}

/* *minw counts code by its pieces, *minwhole with its words whole (the narrowest a column can be
 * without breaking inside a code word). */
static void measure(lay *L, xmlNodePtr cell, int bold, float size, float *minw, float *minwhole, float *prefw) {
    measure_st m = { L, 0, 0, 0, 0, 0, 0, 0 };
    measure_walk(&m, cell, bold ? OV_BOLD : 0, 0, size);
    measure_end_line(&m);
    /* and a point for what rounding and kerning may add when the paragraph sets it */
    *minw = m.minw + 1;
    *minwhole = (m.minwhole > m.minw ? m.minwhole : m.minw) + 1;
    *prefw = m.prefw + 1;
}

/* Widths of the columns of a group (indices cols[0..n)) for the space avail: preferred widths
 * when they fit, else minimum widths and the rest given out (below), else the minimums scaled
 * down (words then break inside: nothing overflows). */
static void group_widths(const float *minc, const float *prefc, const size_t *cols, size_t n, float avail, float *wc) {
    float smin = 0, spref = 0;
    for (size_t k = 0; k < n; k++) {
        smin += minc[cols[k]];
        spref += prefc[cols[k]];
    }
    if (spref <= avail) {
        float f = spref > avail * 0.6f ? avail / spref : 1;
        for (size_t k = 0; k < n; k++)
            wc[k] = prefc[cols[k]] * f;
    } else if (smin <= avail) {
        /* first the columns that want little more than their minimum (no more than an even share
         * of what is left) get their preferred width, smallest want first: a short column is
         * not wrapped to give a long one a sliver; then the rest is shared by how much more each
         * would like */
        float extra = avail - smin;
        size_t open = 0;
        for (size_t k = 0; k < n; k++) {
            wc[k] = minc[cols[k]];
            open += prefc[cols[k]] > minc[cols[k]];
        }
        while (open) {
            size_t best = n;
            for (size_t k = 0; k < n; k++)
                if (wc[k] < prefc[cols[k]] &&
                    (best == n || prefc[cols[k]] - minc[cols[k]] < prefc[cols[best]] - minc[cols[best]]))
                    best = k;
            float want = prefc[cols[best]] - minc[cols[best]];
            if (want > extra / (float)open)
                break;
            wc[best] = prefc[cols[best]];
            extra -= want;
            open--;
        }
        float span = 0;
        for (size_t k = 0; k < n; k++)
            if (wc[k] < prefc[cols[k]])
                span += prefc[cols[k]] - minc[cols[k]];
        for (size_t k = 0; k < n; k++)
            if (wc[k] < prefc[cols[k]] && span > 0)
                wc[k] += extra * (prefc[cols[k]] - minc[cols[k]]) / span;
    } else {
        for (size_t k = 0; k < n; k++)
            wc[k] = minc[cols[k]] * avail / smin;
    }
}

/* The next line of a cell from item *i on, *off moved past the glue before it to the line's top
 * (points down from the top of the cell's content); NULL at the end. */
static const vbox *cell_line(const vlist *cell, size_t *i, float *off) {
    for (; *i < cell->n; (*i)++) {
        const vbox *v = &cell->v[*i];
        if (v->kind == VL_GLUE) {
            *off += v->h;
        } else if (v->kind == VL_LINE) {
            (*i)++;
            return v;
        }
    }
    return NULL;
}

/* Where a slice of a row that would end at `want` (below `from`, in points down from the top of
 * the cells' content) may end: no line of any cell cut through; a line taller than the slice is
 * cut as a last resort. */
static float slice_end(const vlist *cells, size_t ncols, float from, float want) {
    float y = want;
    for (int moved = 1; moved;) {
        moved = 0;
        for (size_t k = 0; k < ncols; k++) {
            size_t i = 0;
            float off = 0;
            for (const vbox *v; (v = cell_line(&cells[k], &i, &off));) {
                float top = off;
                off = off + v->h + v->d;
                if (top < y - 0.01f && off > y + 0.01f) {
                    y = top;
                    moved = 1;
                }
            }
        }
    }
    return y > from + 0.01f ? y : want;
}

/* Places the cells' lines whose tops are in [from, to) (points down from the top of the cells'
 * content), the slice's content starting `top` points above the bottom of its line. */
static void place_slice(lay *L, const vlist *cells, size_t ncols, const float *wc, float x, float from, float to,
                        float top) {
    for (size_t k = 0; k < ncols; k++) {
        size_t i = 0;
        float off = 0;
        for (const vbox *v; (v = cell_line(&cells[k], &i, &off)); off += v->h + v->d) {
            if (off < from - 0.01f || off >= to - 0.01f)
                continue;
            float base = top - (off - from) - v->h;
            for (size_t bb = v->b0; bb < v->b0 + v->nb; bb++) {
                ov_box bx = L->lb[bb];
                bx.x += x;
                bx.y += base;
                lay_box(L, &bx);
            }
        }
        x += wc[k];
    }
}

/* Sets the rows of a table with the columns cols[0..ncols) of widths wc (the body size and
 * leading are the table's). */
static void set_rows(lay *L, tbl *t, const size_t *cols, size_t ncols, const float *wc, bctx *c, float pad, float padv) {
    float total = 0;
    for (size_t k = 0; k < ncols; k++)
        total += wc[k];
    vlist *cells = ov_calloc(ncols ? ncols : 1, sizeof *cells);
    if (!cells) {
        L->nomem = 1;
        return;
    }
    int header_v = -1;
    int first_body = 1;
    for (size_t r = 0; r < t->nrows && !L->nomem; r++) {
        trow *row = &t->rows[r];
        /* each cell into its own list */
        float rowh = 0;
        vlist *save = L->v;
        int32_t back_row = lay_tag_group(L, OV_TAG_TR);
        for (size_t k = 0; k < ncols; k++) {
            memset(&cells[k], 0, sizeof cells[k]);
            if (cols[k] >= row->n)
                continue; /* a short row */
            tcell *x = &t->cells[row->c0 + cols[k]];
            int32_t back_cell = lay_tag_group(L, x->header ? OV_TAG_TH : OV_TAG_TD);
            L->v = &cells[k];
            bctx cc = { 0 };
            cc.left = 0;
            cc.width = wc[k] - 2 * pad;
            if (cc.width < 4)
                cc.width = 4;
            cc.in_table = x->align + 1;
            int blocks = 0;
            for (xmlNodePtr q = x->node->children; q; q = q->next)
                blocks |= is_block_element(q);
            if (blocks) {
                lay_blocks(L, x->node, &cc);
            } else {
                para *P = para_new(L, &cc);
                if (P) {
                    istyle st = style_body(L);
                    if (x->header)
                        st.style = OV_BOLD;
                    para_inline(L, P, x->node, st);
                    para_finish(L, P, &cc, L->lead, x->align, 0);
                    para_free(P);
                }
            }
            float h = 0;
            for (size_t i = 0; i < cells[k].n; i++)
                h += cells[k].v[i].kind == VL_LINE ? cells[k].v[i].h + cells[k].v[i].d
                     : cells[k].v[i].kind == VL_GLUE ? cells[k].v[i].h : 0;
            /* trailing glue does not count */
            if (cells[k].n && cells[k].v[cells[k].n - 1].kind == VL_GLUE)
                h -= cells[k].v[cells[k].n - 1].h;
            if (h > rowh)
                rowh = h;
            lay_tag_end(L, back_cell);
        }
        lay_tag_end(L, back_row);
        L->v = save;
        L->npending = 0; /* anchors inside cells are not kept */
        rowh += 2 * padv;
        /* a row taller than most of a page goes on in slices cut between lines, each a line of
         * the page flow (the header repeating above those on a new page); any other row is kept
         * whole */
        float page_h = L->text_top - L->text_bottom, content = rowh - 2 * padv;
        int split = !row->header && page_h > 0 && rowh > page_h * 0.8f;
        float from = 0;
        for (int first = 1; !L->nomem; first = 0) {
            float to = content;
            if (split && from + page_h * 0.3f < content)
                to = slice_end(cells, ncols, from, from + page_h * 0.3f);
            int lastslice = to >= content - 0.01f;
            float top_pad = first ? padv : 0, sh = (to - from) + top_pad + (lastslice ? padv : 0);
            size_t b0 = L->nlb;
            place_slice(L, cells, ncols, wc, c->left + pad, from, to, sh - top_pad);
            /* rules */
            ov_box rl = { 0 };
            rl.kind = OV_BOX_LINE;
            rl.x = c->left;
            rl.w = total;
            if (row->header) {
                rl.color = C_TEXT;
                rl.size = 0.9f;
                rl.y = sh;
                lay_box(L, &rl);
                rl.size = 0.5f;
                rl.y = 0;
                lay_box(L, &rl);
            } else if (!lastslice) {
                /* no rule inside a row */
            } else if (r + 1 == t->nrows) {
                rl.color = C_TEXT;
                rl.size = 0.9f;
                rl.y = 0;
                lay_box(L, &rl);
            } else {
                rl.color = 0xd6d6d6;
                rl.size = 0.3f;
                rl.y = 0;
                lay_box(L, &rl);
            }
            if (r == 0 && !row->header && first) {
                rl.color = C_TEXT;
                rl.size = 0.9f;
                rl.y = sh;
                lay_box(L, &rl);
            }
            size_t vi = lay_line(L, c, sh, 0, b0);
            if (vi < L->v->n) {
                vbox *v = &L->v->v[vi];
                if (row->header) {
                    header_v = (int)vi;
                    v->is_header = 1;
                    v->header = -1;
                    L->keep_next = 1;
                } else {
                    v->header = header_v;
                    if (first && first_body && header_v >= 0)
                        v->nobreak = 1;
                }
            }
            if (lastslice)
                break;
            from = to;
        }
        if (!row->header)
            first_body = 0;
        for (size_t k = 0; k < ncols; k++) {
            ov_free(cells[k].v);
            cells[k].v = NULL;
        }
    }
    ov_free(cells);
}

void lay_table(lay *L, xmlNodePtr table, bctx *c) {
    tbl t = { 0 };
    collect(L, &t, table, 0, 0);
    if (!t.nrows || L->nomem) {
        ov_free(t.cells);
        ov_free(t.rows);
        return;
    }
    size_t ncols = 0;
    for (size_t r = 0; r < t.nrows; r++)
        if (t.rows[r].n > ncols)
            ncols = t.rows[r].n;
    size_t maxcols = L->ov->opt.limits.table_columns ? L->ov->opt.limits.table_columns : 200;
    if (ncols > maxcols) {
        /* (Markdown tables are refused when the document loads; this is a raw HTML one) */
        lay_fail(L, table, OCTAVO_E_LIMIT, "a table of %zu columns goes past limit.table_columns (%zu)", ncols,
                 maxcols);
        ov_free(t.cells);
        ov_free(t.rows);
        return;
    }
    float *minc = ov_calloc(ncols * 5 + 1, sizeof *minc);
    size_t *cols = ov_calloc(ncols + 1, sizeof *cols);
    if (!minc || !cols) {
        L->nomem = 1;
        ov_free(minc);
        ov_free(cols);
        ov_free(t.cells);
        ov_free(t.rows);
        return;
    }
    float *prefc = minc + ncols, *wc = prefc + ncols, *piece = wc + ncols;
    float pad = 5, padv = 3;
    float size = L->body_size * 0.95f;
    float avail = c->width;
    /* smaller type while the longest words do not fit, down to 60% of the body size */
    for (int attempt = 0; attempt < 4; attempt++) {
        memset(minc, 0, ncols * 2 * sizeof *minc);
        memset(piece, 0, ncols * sizeof *piece);
        for (size_t i = 0; i < t.ncells; i++) {
            tcell *x = &t.cells[i];
            if ((size_t)x->col >= ncols)
                continue;
            float mn, mw, pf;
            measure(L, x->node, x->header, size, &mn, &mw, &pf);
            if (mn + 2 * pad > piece[x->col]) piece[x->col] = mn + 2 * pad;
            if (mw + 2 * pad > minc[x->col]) minc[x->col] = mw + 2 * pad;
            if (pf + 2 * pad > prefc[x->col]) prefc[x->col] = pf + 2 * pad;
        }
        float smin = 0;
        for (size_t k = 0; k < ncols; k++)
            smin += minc[k];
        int last = attempt == 3 || size <= L->body_size * 0.6f + 0.01f;
        /* code words are kept whole, the type made smaller while they do not fit; at the smallest
         * size, columns let their code break between pieces ("grpc." "CreateContainerRequest")
         * rather than anywhere: the column that frees just enough, the least of those (a column
         * of long keys stays whole when a code word in the comments can give the room), else the
         * one that frees most */
        while (last && smin > avail) {
            size_t enough = ncols, most = ncols;
            for (size_t k = 0; k < ncols; k++) {
                float gain = minc[k] - piece[k];
                if (gain <= 0)
                    continue;
                if (gain >= smin - avail && (enough == ncols || gain < minc[enough] - piece[enough]))
                    enough = k;
                if (most == ncols || gain > minc[most] - piece[most])
                    most = k;
            }
            size_t k = enough != ncols ? enough : most;
            if (k == ncols)
                break;
            smin -= minc[k] - piece[k];
            minc[k] = piece[k];
        }
        if (smin <= avail || last)
            break;
        size *= fmaxf(0.72f, fminf(0.9f, avail / smin));
        if (size < L->body_size * 0.6f)
            size = L->body_size * 0.6f;
    }
    float bs = L->body_size, ld = L->lead;
    L->body_size = size;
    L->lead = size * 1.32f;
    lay_glue(L, c, 6);
    int32_t back = lay_tag_group(L, OV_TAG_TABLE);
    /* then groups of columns that fit, each after the first repeating the first column */
    size_t next = 0, group = 0;
    while (next < ncols && !L->nomem) {
        size_t n = 0;
        float sum = 0;
        if (next > 0) {
            cols[n++] = 0;
            sum = minc[0];
        }
        while (next < ncols && (n < 2 || sum + minc[next] <= avail)) {
            cols[n++] = next;
            sum += minc[next];
            next++;
        }
        if (group > 0)
            lay_glue(L, c, 10);
        group_widths(minc, prefc, cols, n, avail, wc);
        set_rows(L, &t, cols, n, wc, c, pad, padv);
        group++;
    }
    lay_tag_end(L, back);
    L->body_size = bs;
    L->lead = ld;
    lay_glue(L, c, 8);
    ov_free(minc);
    ov_free(cols);
    ov_free(t.cells);
    ov_free(t.rows);
}
