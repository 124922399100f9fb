/*
 * Line breaking: Knuth & Plass, "Breaking Paragraphs into Lines" (1981), total fit over boxes,
 * glue and penalties with fitness classes, flagged (hyphen) penalties and demerits as in TeX.
 * Passes: tolerance 200 (spaces between -100% shrink and +126% stretch), then 2000 with
 * emergency stretch, then first fit (never fails: every box is narrower than the line because
 * the caller splits longer ones).
 */
#include <math.h>
#include <string.h>

#include "layout.h"

typedef struct kp_node {
    size_t pos;                /* the breakpoint item */
    int line;
    int fitness;
    double tw, ty, tz;         /* sums of width, stretch, shrink after the break */
    double demerits;
    int prev;                  /* index of the previous node, -1 for the start */
    int flagged;
} kp_node;

typedef struct kp_state {
    kp_node *nodes;
    size_t nnodes, cap;
    int *active;
    size_t nactive, capact;
} kp_state;

static int push_node(kp_state *s, const kp_node *n) {
    if (s->nnodes == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        kp_node *p = ov_realloc(s->nodes, nc * sizeof *p);
        if (!p)
            return -1;
        s->nodes = p;
        s->cap = nc;
    }
    s->nodes[s->nnodes] = *n;
    return (int)s->nnodes++;
}

static int push_active(kp_state *s, int idx) {
    if (s->nactive == s->capact) {
        size_t nc = s->capact ? s->capact * 2 : 32;
        int *p = ov_realloc(s->active, nc * sizeof *p);
        if (!p)
            return -1;
        s->active = p;
        s->capact = nc;
    }
    s->active[s->nactive++] = idx;
    return 0;
}

static int fitness_of(double r) {
    if (r < -0.5) return 0;   /* tight */
    if (r <= 0.5) return 1;   /* decent */
    if (r <= 1.0) return 2;   /* loose */
    return 3;                 /* very loose */
}

/* A break may fall at a penalty under infinity, and at a glue right after a box unless the glue
 * is flagged (layout_para.c: the last seams of a Chinese paragraph). */
static int legal_break(const ov_lb_item *it, size_t b) {
    const ov_lb_item *x = &it[b];
    if (x->type == OV_LB_PENALTY)
        return x->penalty < OV_LB_INF;
    return x->type == OV_LB_GLUE && !x->flagged && b > 0 && it[b - 1].type == OV_LB_BOX;
}

/* One Knuth–Plass pass. Returns the number of lines, 0 when no feasible breaks exist, -1 on OOM. */
static int kp_pass(const ov_lb_item *it, size_t n, const double *sw, const double *sy, const double *sz,
                   double width, double tolerance, double emergency, size_t **breaks) {
    kp_state s = { 0 };
    int result = 0;
    kp_node start = { 0, 0, 1, 0, 0, 0, 0, -1, 0 };
    if (push_node(&s, &start) < 0 || push_active(&s, 0) < 0)
        goto oom;
    for (size_t b = 0; b < n; b++) {
        const ov_lb_item *x = &it[b];
        if (!legal_break(it, b))
            continue;
        double pw = x->type == OV_LB_PENALTY ? x->width : 0;
        int pen = x->type == OV_LB_PENALTY ? x->penalty : 0;
        int forced = x->type == OV_LB_PENALTY && x->penalty <= -OV_LB_INF;
        /* best candidates per fitness class */
        double best_d[4] = { INFINITY, INFINITY, INFINITY, INFINITY };
        int best_from[4] = { -1, -1, -1, -1 };
        for (size_t ai = 0; ai < s.nactive;) {
            kp_node *a = &s.nodes[s.active[ai]];
            double L = sw[b] - a->tw + pw;
            double r;
            if (L < width) {
                double st = sy[b] - a->ty + emergency;
                r = st > 0 ? (width - L) / st : INFINITY;
            } else if (L > width) {
                double sh = sz[b] - a->tz;
                r = sh > 0 ? (width - L) / sh : -INFINITY;
            } else
                r = 0;
            if (r < -1 || forced) {
                /* the line from a is too long now (or a forced break ends every line): retire a,
                 * but first consider it as a candidate when feasible */
                if (r >= -1 && r <= tolerance) {
                    double bad = fmin(100.0 * fabs(r * r * r), OV_LB_INF);
                    double d = (10 + bad) * (10 + bad);
                    if (pen > 0) d += (double)pen * pen;
                    else if (pen > -OV_LB_INF) d -= (double)pen * pen;
                    int fc = fitness_of(r);
                    if (x->flagged && a->flagged) d += 3000;
                    if (abs(fc - a->fitness) > 1) d += 3000;
                    d += a->demerits;
                    if (d < best_d[fc]) {
                        best_d[fc] = d;
                        best_from[fc] = s.active[ai];
                    }
                }
                s.active[ai] = s.active[--s.nactive];
                continue;
            }
            if (r <= tolerance) {
                double bad = fmin(100.0 * fabs(r * r * r), OV_LB_INF);
                double d = (10 + bad) * (10 + bad);
                if (pen > 0) d += (double)pen * pen;
                else if (pen > -OV_LB_INF) d -= (double)pen * pen;
                int fc = fitness_of(r);
                if (x->flagged && a->flagged) d += 3000;
                if (abs(fc - a->fitness) > 1) d += 3000;
                d += a->demerits;
                if (d < best_d[fc]) {
                    best_d[fc] = d;
                    best_from[fc] = s.active[ai];
                }
            }
            ai++;
        }
        /* totals after the break: skip glue and penalties up to the next box */
        double tw = sw[b], ty = sy[b], tz = sz[b];
        if (x->type == OV_LB_GLUE) {
            tw += x->width; ty += x->stretch; tz += x->shrink;
        }
        for (size_t k = b + 1; k < n && it[k].type != OV_LB_BOX; k++) {
            if (it[k].type == OV_LB_PENALTY && it[k].penalty <= -OV_LB_INF && k > b)
                break;
            if (it[k].type == OV_LB_GLUE) {
                tw += it[k].width; ty += it[k].stretch; tz += it[k].shrink;
            }
        }
        for (int fc = 0; fc < 4; fc++) {
            if (best_from[fc] < 0)
                continue;
            kp_node nn = { b, s.nodes[best_from[fc]].line + 1, fc, tw, ty, tz, best_d[fc], best_from[fc],
                           x->flagged };
            int idx = push_node(&s, &nn);
            if (idx < 0 || push_active(&s, idx) < 0)
                goto oom;
        }
        if (s.nactive == 0)
            break;
    }
    /* the best node that ends at the last item */
    int best = -1;
    for (size_t ai = 0; ai < s.nactive; ai++) {
        kp_node *a = &s.nodes[s.active[ai]];
        if (a->pos == n - 1 && (best < 0 || a->demerits < s.nodes[best].demerits))
            best = s.active[ai];
    }
    if (best >= 0) {
        int lines = s.nodes[best].line;
        size_t *br = ov_malloc((size_t)lines * sizeof *br);
        if (!br)
            goto oom;
        for (int k = best, i = lines - 1; k > 0 && i >= 0; k = s.nodes[k].prev, i--)
            br[i] = s.nodes[k].pos;
        *breaks = br;
        result = lines;
    }
    ov_free(s.nodes);
    ov_free(s.active);
    return result;
oom:
    ov_free(s.nodes);
    ov_free(s.active);
    return -1;
}

/* First fit: the longest line that fits at natural width, else the first break after. */
static int first_fit(const ov_lb_item *it, size_t n, const double *sw, double width, size_t **breaks) {
    size_t cap = 16, nb = 0;
    size_t *br = ov_malloc(cap * sizeof *br);
    if (!br)
        return -1;
    double start_w = 0;
    size_t last_legal = (size_t)-1, last_good = (size_t)-1;
    for (size_t b = 0; b < n; b++) {
        const ov_lb_item *x = &it[b];
        int legal = legal_break(it, b);
        /* a last-resort break (anywhere inside a word too long for the line) is taken only when
         * the line has no other: "kata_shim_pod_" / "overhead_cpu", not "kata_shim_pod_overh" */
        int good = legal && !(x->type == OV_LB_PENALTY && x->penalty >= OV_LB_LAST_RESORT);
        int forced = x->type == OV_LB_PENALTY && x->penalty <= -OV_LB_INF;
        double L = sw[b] - start_w + (x->type == OV_LB_PENALTY ? x->width : 0);
        size_t take = (size_t)-1;
        size_t cand = last_good != (size_t)-1 ? last_good : last_legal;
        int boxes_after = 0;
        if (cand != (size_t)-1)
            for (size_t k = cand + 1; k < b && !boxes_after; k++)
                boxes_after = it[k].type == OV_LB_BOX;
        /* break at the last legal point, unless only glue would be left for the next line */
        if (legal && L > width + 0.01 && cand != (size_t)-1 && (boxes_after || !forced))
            take = cand;
        if (take != (size_t)-1) {
            if (nb == cap) {
                size_t *p = ov_realloc(br, (cap *= 2) * sizeof *p);
                if (!p) { ov_free(br); return -1; }
                br = p;
            }
            br[nb++] = take;
            start_w = sw[take] + (it[take].type == OV_LB_GLUE ? it[take].width : 0);
            for (size_t k = take + 1; k < n && it[k].type != OV_LB_BOX; k++)
                if (it[k].type == OV_LB_GLUE) start_w += it[k].width;
            last_legal = last_good = (size_t)-1;
            b = take;
            continue;
        }
        if (forced) {
            if (nb == cap) {
                size_t *p = ov_realloc(br, (cap *= 2) * sizeof *p);
                if (!p) { ov_free(br); return -1; }
                br = p;
            }
            br[nb++] = b;
            start_w = sw[b];
            for (size_t k = b + 1; k < n && it[k].type != OV_LB_BOX; k++)
                if (it[k].type == OV_LB_GLUE) start_w += it[k].width;
            last_legal = last_good = (size_t)-1;
            continue;
        }
        if (legal)
            last_legal = b;
        if (good)
            last_good = b;
    }
    if (nb == 0 || br[nb - 1] != n - 1) {
        if (nb == cap) {
            size_t *p = ov_realloc(br, (cap + 1) * sizeof *p);
            if (!p) { ov_free(br); return -1; }
            br = p;
        }
        br[nb++] = n - 1;
    }
    *breaks = br;
    return (int)nb;
}

/* Sums of width, stretch and shrink of everything before item i (3 arrays of n + 1). */
static double *sums(const ov_lb_item *items, size_t n) {
    double *sw = ov_malloc(3 * (n + 1) * sizeof *sw);
    if (!sw)
        return NULL;
    double *sy = sw + n + 1, *sz = sy + n + 1;
    sw[0] = sy[0] = sz[0] = 0;
    for (size_t i = 0; i < n; i++) {
        double w = 0, y = 0, z = 0;
        if (items[i].type == OV_LB_BOX) w = items[i].width;
        else if (items[i].type == OV_LB_GLUE) { w = items[i].width; y = items[i].stretch; z = items[i].shrink; }
        sw[i + 1] = sw[i] + w;
        sy[i + 1] = sy[i] + y;
        sz[i + 1] = sz[i] + z;
    }
    return sw;
}

int ov_linebreak_pass(const ov_lb_item *items, size_t n, double line_width, double tolerance, size_t **breaks) {
    *breaks = NULL;
    if (n == 0)
        return 0;
    double *sw = sums(items, n);
    if (!sw)
        return -1;
    int lines = kp_pass(items, n, sw, sw + n + 1, sw + 2 * (n + 1), line_width, tolerance, 0, breaks);
    ov_free(sw);
    return lines;
}

int ov_linebreak(const ov_lb_item *items, size_t n, double line_width, int ragged, size_t **breaks) {
    *breaks = NULL;
    if (n == 0)
        return 0;
    double *sw = sums(items, n);
    if (!sw)
        return -1;
    double *sy = sw + n + 1, *sz = sy + n + 1;
    int lines = 0;
    if (!ragged) {
        /* tolerance as a ratio: badness 200 ~ r 1.26; 536 ~ r 1.75; 2000 ~ r 2.7. The middle pass
         * keeps a paragraph that cannot be set within 1.26 from going straight to the loosest
         * (on code-heavy documentation: 17 -> 15 lines with spaces over twice normal) */
        lines = kp_pass(items, n, sw, sy, sz, line_width, 1.26, 0, breaks);
        if (lines == 0)
            lines = kp_pass(items, n, sw, sy, sz, line_width, 1.75, 0, breaks);
        if (lines == 0)
            lines = kp_pass(items, n, sw, sy, sz, line_width, 2.72, line_width * 0.1, breaks);
    }
    if (lines == 0)
        lines = first_fit(items, n, sw, line_width, breaks);
    ov_free(sw);
    return lines;
}
