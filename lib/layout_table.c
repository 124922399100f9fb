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

/* the widths of the longest word and of the whole text, at size */
static void measure(lay *L, xmlNodePtr cell, int bold, float size, float *minw, float *prefw) {
    char *text = ov_model_text(cell);
    *minw = *prefw = 0;
    if (!text)
        return;
    int face = OV_FACE(OV_SERIF, bold ? OV_BOLD : 0);
    *prefw = lay_text_width(L, face, size, text);
    char *save = NULL;
    for (char *w = strtok_r(text, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        float ww = lay_text_width(L, face, size, w);
        if (ww > *minw)
            *minw = ww;
    }
    ov_free(text);
}

/* Widths of the columns of a group (indices cols[0..n)) for the space avail: preferred widths
 * when they fit, minimum widths and the rest shared by how much more each would like, else the
 * minimums scaled down (words then break inside: nothing overflows). */
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
        float extra = avail - smin, span = spref - smin;
        for (size_t k = 0; k < n; k++)
            wc[k] = minc[cols[k]] + (span > 0 ? extra * (prefc[cols[k]] - minc[cols[k]]) / span : 0);
    } else {
        for (size_t k = 0; k < n; k++)
            wc[k] = minc[cols[k]] * avail / smin;
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
        size_t b0 = L->nlb;
        float x0 = c->left;
        for (size_t k = 0; k < ncols; k++) {
            float y = rowh - padv;
            vlist *cv = &cells[k];
            for (size_t i = 0; i < cv->n; i++) {
                vbox *v = &cv->v[i];
                if (v->kind == VL_GLUE) {
                    y -= v->h;
                } else if (v->kind == VL_LINE) {
                    float base = y - v->h;
                    for (size_t bb = v->b0; bb < v->b0 + v->nb; bb++) {
                        ov_box bx = L->lb[bb];
                        bx.x += x0 + pad;
                        bx.y += base;
                        lay_box(L, &bx);
                    }
                    y -= v->h + v->d;
                }
            }
            x0 += wc[k];
            ov_free(cv->v);
            cv->v = NULL;
        }
        /* rules */
        ov_box rl = { 0 };
        rl.kind = OV_BOX_LINE;
        rl.x = c->left;
        rl.w = total;
        if (row->header) {
            rl.color = C_TEXT;
            rl.size = 0.9f;
            rl.y = rowh;
            lay_box(L, &rl);
            rl.size = 0.5f;
            rl.y = 0;
            lay_box(L, &rl);
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
        if (r == 0 && !row->header) {
            rl.color = C_TEXT;
            rl.size = 0.9f;
            rl.y = rowh;
            lay_box(L, &rl);
        }
        size_t vi = lay_line(L, c, rowh, 0, b0);
        if (vi < L->v->n) {
            vbox *v = &L->v->v[vi];
            if (row->header) {
                header_v = (int)vi;
                v->is_header = 1;
                v->header = -1;
                L->keep_next = 1;
            } else {
                v->header = header_v;
                if (first_body && header_v >= 0)
                    v->nobreak = 1;
                first_body = 0;
            }
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
    float *minc = ov_calloc(ncols * 3 + 1, sizeof *minc);
    size_t *cols = ov_calloc(ncols + 1, sizeof *cols);
    if (!minc || !cols) {
        L->nomem = 1;
        ov_free(minc);
        ov_free(cols);
        ov_free(t.cells);
        ov_free(t.rows);
        return;
    }
    float *prefc = minc + ncols, *wc = prefc + ncols;
    float pad = 5, padv = 3;
    float size = L->body_size * 0.95f;
    float avail = c->width;
    /* smaller type while the longest words do not fit, down to 60% of the body size */
    for (int attempt = 0; attempt < 4; attempt++) {
        memset(minc, 0, ncols * 2 * sizeof *minc);
        for (size_t i = 0; i < t.ncells; i++) {
            tcell *x = &t.cells[i];
            if ((size_t)x->col >= ncols)
                continue;
            float mn, pf;
            measure(L, x->node, x->header, size, &mn, &pf);
            if (mn + 2 * pad > minc[x->col]) minc[x->col] = mn + 2 * pad;
            if (pf + 2 * pad > prefc[x->col]) prefc[x->col] = pf + 2 * pad;
        }
        float smin = 0;
        for (size_t k = 0; k < ncols; k++)
            smin += minc[k];
        if (smin <= avail || attempt == 3 || size <= L->body_size * 0.6f + 0.01f)
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
