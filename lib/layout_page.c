/*
 * The page builder: breaks the vertical list into pages (ragged bottom; a break only where the
 * lines allow it: no orphan, widow or heading left alone; a table row page repeats its header),
 * sets footnotes at the bottom of the page of their reference (a note longer than the space left
 * goes on at the bottom of the next page), then places the boxes, the running
 * head and foot, fills in contents page numbers and resolves internal links.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layout_int.h"

typedef struct prange {
    size_t s, e;           /* vbox range */
    int repeat;            /* header row to repeat on top, -1 */
    size_t p0, np;         /* its footnote pieces */
} prange;

/* Lines [a, b) of footnote f, set at the bottom of a page. A footnote longer than the space its
 * page has left continues at the bottom of the next (before that page's own notes). */
typedef struct fpiece {
    size_t f, a, b;
} fpiece;

#define FN_SEP 14.0f       /* the rule above the notes and its space */
#define FN_GAP 2.0f        /* between notes */

/* The height of vbox range [s, e) as placed at the top of a page (leading glue skipped). */
static float body_height(const vlist *V, size_t s, size_t e) {
    float y = 0;
    int started = 0;
    for (size_t i = s; i < e; i++) {
        const vbox *v = &V->v[i];
        if (v->kind == VL_GLUE) {
            if (started)
                y += v->h;
        } else if (v->kind == VL_LINE) {
            started = 1;
            y += v->h + v->d;
        }
    }
    return y;
}

/* The height of lines [a, b) of a footnote (leading glue left out, as place_lines does). */
static float fn_height(const footnote *f, size_t a, size_t b) {
    return body_height(&f->lines, a, b < f->lines.n ? b : f->lines.n);
}

/* The end of the longest piece of footnote f from line a that fits in space (only after a line;
 * glue between paragraphs is not left at a piece's end): a when not even its first line fits. */
static size_t fn_fit(const footnote *f, size_t a, float space, float *used) {
    float h = 0;
    int started = 0;
    size_t best = a;
    *used = 0;
    for (size_t k = a; k < f->lines.n; k++) {
        const vbox *v = &f->lines.v[k];
        if (v->kind == VL_GLUE) {
            if (started)
                h += v->h;
            continue;
        }
        if (v->kind != VL_LINE)
            continue;
        started = 1;
        h += v->h + v->d;
        if (h > space + 0.01f)
            break;
        best = k + 1;
        *used = h;
    }
    /* nothing but glue after it: the whole note */
    if (best > a) {
        size_t k = best;
        while (k < f->lines.n && f->lines.v[k].kind != VL_LINE)
            k++;
        if (k == f->lines.n)
            best = f->lines.n;
    }
    return best;
}

/* The first line's height of footnote f from line a (what must fit for it to start on a page). */
static float fn_first_line(const footnote *f, size_t a) {
    for (size_t k = a; k < f->lines.n; k++)
        if (f->lines.v[k].kind == VL_LINE)
            return f->lines.v[k].h + f->lines.v[k].d;
    return 0;
}


static ov_page *new_page(lay *L) {
    ov_layout *ly = L->ly;
    if (ly->npages == ly->cap_pages) {
        size_t nc = ly->cap_pages ? ly->cap_pages * 2 : 16;
        ov_page *p = ov_realloc(ly->pages, nc * sizeof *p);
        if (!p) {
            L->nomem = 1;
            return NULL;
        }
        ly->pages = p;
        ly->cap_pages = nc;
    }
    ov_page *pg = &ly->pages[ly->npages++];
    memset(pg, 0, sizeof *pg);
    return pg;
}

static void page_box(lay *L, ov_page *pg, const ov_box *b, float dx, float dy) {
    if (pg->n == pg->cap) {
        size_t nc = pg->cap ? pg->cap * 2 : 64;
        ov_box *p = ov_realloc(pg->boxes, nc * sizeof *p);
        if (!p) {
            L->nomem = 1;
            return;
        }
        pg->boxes = p;
        pg->cap = nc;
    }
    ov_box x = *b;
    x.x += dx;
    x.y += dy;
    pg->boxes[pg->n++] = x;
}

/* places lines of a vlist from the top y (PDF) down; returns the height used */
static float place_lines(lay *L, ov_page *pg, int pageno, const vlist *V, size_t s, size_t e, float top, int skip_glue) {
    float y = 0;
    int started = !skip_glue;
    for (size_t i = s; i < e; i++) {
        const vbox *v = &V->v[i];
        if (v->kind == VL_GLUE) {
            if (!started)
                continue;
            for (size_t b = v->b0; b < v->b0 + v->nb; b++)
                page_box(L, pg, &L->lb[b], L->text_left, top - y);
            y += v->h;
        } else if (v->kind == VL_LINE) {
            started = 1;
            float base = top - y - v->h;
            for (size_t k = v->d0; k < v->d0 + v->nd; k++) {
                ov_dest *d = &L->ly->dests[L->ldest[k]];
                if (d->page < 0) {
                    d->page = pageno;
                    d->y = top - y + 4;
                }
            }
            for (size_t b = v->b0; b < v->b0 + v->nb; b++)
                page_box(L, pg, &L->lb[b], L->text_left, base);
            y += v->h + v->d;
        }
    }
    return y;
}

static void fmt_roman(int n, char *buf, size_t size) {
    static const char *const r[] = { "m", "cm", "d", "cd", "c", "xc", "l", "xl", "x", "ix", "v", "iv", "i" };
    static const int v[] = { 1000, 900, 500, 400, 100, 90, 50, 40, 10, 9, 5, 4, 1 };
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < 13 && n > 0; i++)
        while (n >= v[i] && o + 3 < size) {
            o += (size_t)snprintf(buf + o, size - o, "%s", r[i]);
            n -= v[i];
        }
}

static void page_label(const ov_layout *ly, int page, char *buf, size_t size) {
    const ov_label_range *r = NULL;
    for (size_t i = 0; i < ly->nlabels; i++)
        if (ly->labels[i].first <= page)
            r = &ly->labels[i];
    int num = r ? r->start + page - r->first : page + 1;
    if (r && r->style == 'r')
        fmt_roman(num, buf, size);
    else
        snprintf(buf, size, "%d", num);
}

/* Grows an array of n elements to hold one more. */
#define PUSH(arr, n, cap, fail)                                                                    \
    do {                                                                                          \
        if ((n) == (cap)) {                                                                       \
            size_t nc_ = (cap) ? (cap) * 2 : 16;                                                  \
            void *p_ = ov_realloc((arr), nc_ * sizeof *(arr));                                    \
            if (!p_) { fail; }                                                                    \
            (arr) = p_;                                                                           \
            (cap) = nc_;                                                                          \
        }                                                                                         \
    } while (0)

int lay_paginate(lay *L) {
    ov_layout *ly = L->ly;
    vlist *V = &L->main;
    float avail = L->text_top - L->text_bottom;
    size_t cap = 16, np = 0;
    prange *pr = ov_malloc(cap * sizeof *pr);
    size_t *fset = NULL;          /* footnotes referenced on the page being built */
    size_t capf = 0;
    fpiece *pieces = NULL, *carry = NULL, *ncarry = NULL;
    size_t npieces = 0, cappieces = 0, ncar = 0, capcar = 0, nnc = 0, capnc = 0;
    int rc = OCTAVO_OK;
    if (!pr)
        return OCTAVO_E_NOMEM;
    size_t limit = ly->ov->opt.limits.pages ? ly->ov->opt.limits.pages : 10000;
    size_t s = 0;
    for (;;) {
        while (s < V->n && (V->v[s].kind == VL_GLUE || V->v[s].kind == VL_BREAK))
            s++;
        if (s >= V->n && !ncar)
            break;
        float y = 0;
        size_t nset = 0;
        int repeat = -1;
        if (s < V->n && V->v[s].kind == VL_LINE && V->v[s].header >= 0 && (size_t)V->v[s].header != s) {
            repeat = V->v[s].header;
            y += V->v[repeat].h + V->v[repeat].d;
        }
        /* footnote space: what the notes continued from the last page take (at most half the
         * page), then each new note in full when it fits, else its first line (the rest goes on) */
        float reserved = 0;
        if (ncar) {
            float ch = 0;
            for (size_t k = 0; k < ncar; k++)
                ch += fn_height(&L->fn[carry[k].f], carry[k].a, L->fn[carry[k].f].lines.n) + FN_GAP;
            reserved = FN_SEP + fminf(ch, avail * 0.5f);
        }
        size_t cand = 0, e = V->n, next = V->n;
        for (size_t i = s; i < V->n; i++) {
            const vbox *v = &V->v[i];
            if (v->kind == VL_BREAK) {
                e = i;
                next = i + 1;
                break;
            }
            if (v->kind == VL_GLUE) {
                y += v->h;
                continue;
            }
            if (v->kind != VL_LINE)
                continue;
            if (i > s && !v->nobreak) {
                size_t k = i;
                while (k > s + 1 && V->v[k - 1].kind == VL_GLUE)
                    k--;
                cand = k;
            }
            float need_full = 0, need_min = 0;
            for (size_t k = v->f0; k < v->f0 + v->nf; k++) {
                int have = 0;
                for (size_t j = 0; j < nset; j++)
                    have |= fset[j] == L->lfn[k];
                if (have)
                    continue;
                const footnote *f = &L->fn[L->lfn[k]];
                need_full += f->height + FN_GAP;
                need_min += fn_first_line(f, 0) + FN_GAP;
            }
            float sep = reserved == 0 && need_full > 0 ? FN_SEP : 0;
            float lh = v->h + v->d;
            int full_page = 0;
            if (i > s && y + lh + reserved + sep + need_full > avail + 0.01f) {
                if (need_full > 0 && y + lh + reserved + sep + need_min <= avail + 0.01f)
                    full_page = 1; /* its notes start here and go on overleaf */
                else {
                    e = cand > s ? cand : i;
                    next = e;
                    break;
                }
            }
            y += lh;
            reserved = full_page ? avail - y : reserved + sep + need_full;
            for (size_t k = v->f0; k < v->f0 + v->nf; k++) {
                int have = 0;
                for (size_t j = 0; j < nset; j++)
                    have |= fset[j] == L->lfn[k];
                if (have)
                    continue;
                PUSH(fset, nset, capf, rc = OCTAVO_E_NOMEM; goto out);
                fset[nset++] = L->lfn[k];
            }
        }
        if (s >= V->n)
            e = next = V->n; /* a page of notes continued, past the end */
        /* the notes of this page: the ones continued first, then those its lines refer to */
        float space = avail - body_height(V, s, e) - (repeat >= 0 ? V->v[repeat].h + V->v[repeat].d : 0);
        size_t p0 = npieces;
        nnc = 0;
        int any = ncar > 0;
        for (size_t i = s; i < e && !any; i++)
            any = V->v[i].kind == VL_LINE && V->v[i].nf > 0;
        if (any)
            space -= FN_SEP;
        for (size_t k = 0; k < ncar; k++) {
            const footnote *f = &L->fn[carry[k].f];
            float used = 0;
            size_t b = nnc ? carry[k].a : fn_fit(f, carry[k].a, space, &used);
            if (b > carry[k].a) {
                PUSH(pieces, npieces, cappieces, rc = OCTAVO_E_NOMEM; goto out);
                pieces[npieces++] = (fpiece){ carry[k].f, carry[k].a, b };
                space -= used + FN_GAP;
            }
            if (b < f->lines.n) {
                PUSH(ncarry, nnc, capnc, rc = OCTAVO_E_NOMEM; goto out);
                ncarry[nnc++] = (fpiece){ carry[k].f, b, f->lines.n };
            }
        }
        size_t seen0 = npieces;
        for (size_t i = s; i < e; i++) {
            const vbox *v = &V->v[i];
            if (v->kind != VL_LINE)
                continue;
            for (size_t k = v->f0; k < v->f0 + v->nf; k++) {
                size_t fi = L->lfn[k];
                int have = 0;
                for (size_t j = seen0; j < npieces; j++)
                    have |= pieces[j].f == fi;
                for (size_t j = 0; j < nnc; j++)
                    have |= ncarry[j].f == fi;
                if (have)
                    continue;
                const footnote *f = &L->fn[fi];
                float used = 0;
                /* notes keep their order: after one that goes on, the next ones wait too */
                size_t b = nnc ? 0 : fn_fit(f, 0, space, &used);
                if (b > 0) {
                    PUSH(pieces, npieces, cappieces, rc = OCTAVO_E_NOMEM; goto out);
                    pieces[npieces++] = (fpiece){ fi, 0, b };
                    space -= used + FN_GAP;
                }
                if (b < f->lines.n) {
                    PUSH(ncarry, nnc, capnc, rc = OCTAVO_E_NOMEM; goto out);
                    ncarry[nnc++] = (fpiece){ fi, b, f->lines.n };
                }
            }
        }
        /* the continued notes become the next page's */
        {
            fpiece *t = carry;
            size_t tc = capcar;
            carry = ncarry;
            capcar = capnc;
            ncar = nnc;
            ncarry = t;
            capnc = tc;
            nnc = 0;
        }
        PUSH(pr, np, cap, rc = OCTAVO_E_NOMEM; goto out);
        pr[np].s = s;
        pr[np].e = e;
        pr[np].repeat = repeat;
        pr[np].p0 = p0;
        pr[np].np = npieces - p0;
        np++;
        if (np > limit) {
            rc = OCTAVO_E_LIMIT;
            goto out;
        }
        /* a page that took nothing (a note that fits nowhere): stop rather than loop */
        if (next == s && pr[np - 1].np == 0) {
            ncar = 0;
            if (s < V->n)
                next = s + 1;
        }
        s = next;
    }
    if (np == 0) {
        pr[0].s = pr[0].e = 0;
        pr[0].repeat = -1;
        pr[0].p0 = pr[0].np = 0;
        np = 1;
    }
    /* page labels */
    int body_page = 0;
    if (L->doc_first_page > 0) {
        for (size_t p = 0; p < np; p++)
            if (pr[p].s >= (size_t)L->doc_first_page) {
                body_page = (int)p;
                break;
            }
    }
    ly->labels = ov_calloc(2, sizeof *ly->labels);
    if (!ly->labels) {
        rc = OCTAVO_E_NOMEM;
        goto out;
    }
    if (body_page > 0) {
        ly->labels[0] = (ov_label_range){ 0, 'r', 1 };
        ly->labels[1] = (ov_label_range){ body_page, 'D', 1 };
        ly->nlabels = 2;
    } else {
        ly->labels[0] = (ov_label_range){ 0, 'D', 1 };
        ly->nlabels = 1;
    }
    /* place */
    for (size_t p = 0; p < np && !L->nomem; p++) {
        ov_page *pg = new_page(L);
        if (!pg)
            break;
        float top = L->text_top;
        if (pr[p].repeat >= 0) {
            const vbox *h = &V->v[pr[p].repeat];
            /* a repeated header is pagination: an artifact, not the table's content again */
            for (size_t b = h->b0; b < h->b0 + h->nb; b++) {
                ov_box rb = L->lb[b];
                rb.tag = -1;
                page_box(L, pg, &rb, L->text_left, top - h->h);
            }
            top -= h->h + h->d;
        }
        place_lines(L, pg, (int)p, V, pr[p].s, pr[p].e, top, 1);
        /* the footnotes (and pieces of them) of this page, above the bottom margin */
        if (pr[p].np) {
            float F = FN_SEP;
            for (size_t j = pr[p].p0; j < pr[p].p0 + pr[p].np; j++)
                F += fn_height(&L->fn[pieces[j].f], pieces[j].a, pieces[j].b) + FN_GAP;
            float ftop = L->text_bottom + F;
            ov_box r = { 0 };
            r.kind = OV_BOX_LINE;
            r.color = C_RULE;
            r.size = 0.5f;
            r.x = 0;
            r.w = 90;
            r.tag = -1;
            page_box(L, pg, &r, L->text_left, ftop - 6);
            ftop -= FN_SEP;
            for (size_t j = pr[p].p0; j < pr[p].p0 + pr[p].np; j++) {
                footnote *f = &L->fn[pieces[j].f];
                place_lines(L, pg, (int)p, &f->lines, pieces[j].a, pieces[j].b, ftop, 1);
                ftop -= fn_height(f, pieces[j].a, pieces[j].b) + FN_GAP;
            }
        }
    }
    /* the running head and foot: artifacts */
    L->cur_tag = -1;
    size_t npages = ly->npages;
    int body_pages = (int)npages - body_page;
    for (size_t p = 0; p < npages && !L->nomem; p++) {
        ov_page *pg = &ly->pages[p];
        float m = L->margin;
        float head_y = m >= 42 ? ly->page_h - m * 0.56f : L->text_top + 12;
        float foot_y = m >= 42 ? m * 0.5f : L->text_bottom - 16;
        char buf[64], lab[32];
        int is_front = (int)p < body_page;
        if (!is_front && (int)p != body_page && L->running_title) {
            /* the title, shortened to the measure */
            char t[200];
            snprintf(t, sizeof t, "%s", L->running_title);
            while (strlen(t) > 4 && lay_text_width(L, OV_FACE(OV_SANS, 0), 8, t) > L->text_w * 0.8f) {
                size_t l = strlen(t);
                while (l > 0 && (t[l - 1] & 0xC0) == 0x80)
                    l--;
                t[l > 4 ? l - 4 : 0] = 0;
                strcat(t, "\xE2\x80\xA6");
            }
            size_t b0 = L->nlb;
            lay_text_box(L, OV_FACE(OV_SANS, 0), 8, C_GRAY, 0, 0, t);
            for (size_t b = b0; b < L->nlb; b++)
                page_box(L, pg, &L->lb[b], L->text_left, head_y);
            L->nlb = b0;
            ov_box r = { 0 };
            r.kind = OV_BOX_LINE;
            r.color = C_RULE;
            r.size = 0.4f;
            r.w = L->text_w;
            page_box(L, pg, &r, L->text_left, head_y - 5);
        }
        page_label(ly, (int)p, lab, sizeof lab);
        if (is_front)
            snprintf(buf, sizeof buf, "%s", lab);
        else
            snprintf(buf, sizeof buf, "%s / %d", lab, body_pages);
        size_t b0 = L->nlb;
        float w = lay_text_width(L, OV_FACE(OV_SANS, 0), 8, buf);
        lay_text_box(L, OV_FACE(OV_SANS, 0), 8, C_GRAY, (L->text_w - w) / 2, 0, buf);
        for (size_t b = b0; b < L->nlb; b++)
            page_box(L, pg, &L->lb[b], L->text_left, foot_y);
        L->nlb = b0;
    }
    /* contents page numbers and internal links */
    for (size_t p = 0; p < npages; p++) {
        ov_page *pg = &ly->pages[p];
        for (size_t i = 0; i < pg->n; i++) {
            ov_box *b = &pg->boxes[i];
            if (b->kind == OV_BOX_TEXT && b->ref <= -2) {
                int d = -2 - b->ref;
                char num[32] = "";
                if (d >= 0 && (size_t)d < ly->ndests && ly->dests[d].page >= 0)
                    page_label(ly, ly->dests[d].page, num, sizeof num);
                size_t n = strlen(num);
                if (n > b->n)
                    n = b->n;
                float w = 0;
                for (size_t k = 0; k < n; k++) {
                    ly->cp[b->off + k] = (uint16_t)num[k];
                    ly->adj[b->off + k] = 0;
                    w += (float)(ov_font_advance(L->fonts, b->face, (uint32_t)num[k]) * b->size / 1000.0);
                }
                float right = b->x;
                b->n = (uint32_t)n;
                b->w = w;
                b->x = right - w;
                b->ref = 0;
            } else if (b->kind == OV_BOX_LINK && b->ref == -3) {
                const char *name = ly->strs.data + b->uri;
                int found = -1;
                for (size_t k = 0; k < ly->ndests; k++)
                    if (strcmp(ly->dests[k].name, name) == 0) {
                        found = (int)k;
                        break;
                    }
                if (found >= 0 && ly->dests[found].page >= 0)
                    b->ref = found;
                else
                    b->kind = 0; /* a link to nowhere: the text stays */
            } else if (b->kind == OV_BOX_LINK && b->ref >= 0 &&
                       ((size_t)b->ref >= ly->ndests || ly->dests[b->ref].page < 0)) {
                b->kind = 0;
            }
        }
    }
    rc = L->nomem ? OCTAVO_E_NOMEM : OCTAVO_OK;
out:
    ov_free(pr);
    ov_free(fset);
    ov_free(pieces);
    ov_free(carry);
    ov_free(ncarry);
    return rc;
}
