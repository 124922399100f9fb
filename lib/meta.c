/* Frontmatter: YAML (libyaml's event parser) into a tree of octavo_meta nodes, and its getters.
 *
 * Aliases are expanded into copies, but only after counting: every anchor knows the size and
 * height of its subtree, so an alias that would take the tree past limits.yaml_nodes or
 * limits.yaml_depth fails before anything is copied (a "billion laughs" fails at once).
 * Positions are libyaml's 0-based marks moved to the original file: line + first_line, column + 1. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "internal.h"

/* ---- nodes */

void ov_meta_free(octavo_meta *m) {
    if (!m) return;
    for (size_t i = 0; i < m->count; i++) {
        if (m->keys) ov_free(m->keys[i]);
        if (m->items) ov_meta_free(m->items[i]);
    }
    ov_free(m->keys);
    ov_free(m->items);
    ov_free(m->text);
    ov_free(m);
}

static octavo_meta *node_new(octavo_meta_type t, const yaml_mark_t *mk, unsigned first_line) {
    octavo_meta *m = ov_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->type = t;
    if (mk) {
        m->line = (unsigned)mk->line + first_line;
        m->column = (unsigned)mk->column + 1;
    }
    return m;
}

static octavo_meta *node_copy(const octavo_meta *s) {
    octavo_meta *m = ov_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->type = s->type;
    m->line = s->line;
    m->column = s->column;
    m->plain = s->plain;
    if (s->text && !(m->text = ov_strdup(s->text))) goto fail;
    if (s->count) {
        m->items = ov_calloc(s->count, sizeof *m->items);
        if (!m->items) goto fail;
        if (s->keys && !(m->keys = ov_calloc(s->count, sizeof *m->keys))) goto fail;
        for (size_t i = 0; i < s->count; i++) {
            m->count = i + 1;
            if (s->keys && !(m->keys[i] = ov_strdup(s->keys[i]))) goto fail;
            if (!(m->items[i] = node_copy(s->items[i]))) goto fail;
        }
    }
    return m;
fail:
    ov_meta_free(m);
    return NULL;
}

/* ---- the builder */

typedef struct anchor {
    char *name;
    octavo_meta *node;     /* NULL while the anchored collection is still open */
    size_t size;           /* nodes in its subtree, aliases expanded */
    size_t height;         /* collections nested in it, itself included: 0 for a scalar */
    int owned;             /* node is the anchor's own (an anchored scalar used as a key) */
} anchor;

typedef struct frame {
    octavo_meta *node;
    size_t cap;
    char *key;             /* a map's pending key */
    int has_key;
    unsigned key_line, key_col;
    unsigned *kpos;        /* a map's key positions: line, column pairs */
    size_t nodes_at_start; /* the builder's node count when the collection opened */
    size_t height;         /* of the tallest child so far */
    long anchor;           /* index in the anchor table, or -1 */
} frame;

typedef struct builder {
    const octavo *ov;
    const char *name;
    const char *yaml;
    size_t yaml_len;
    unsigned first_line;
    octavo_error *err;
    frame *stack;
    size_t depth, stack_cap;
    anchor *anchors;
    size_t nanchors, anchors_cap;
    size_t nodes;
    size_t max_nodes, max_depth;
    octavo_meta *root;
    size_t root_height;
} builder;

static int b_error(builder *b, int code, const yaml_mark_t *mk, const char *fmt, const char *arg) {
    unsigned l = mk ? (unsigned)mk->line + b->first_line : 0, c = mk ? (unsigned)mk->column + 1 : 0;
    ov_error(b->err, code, OCTAVO_STAGE_FRONTMATTER, b->name, l, c, fmt, arg);
    return code;
}

static int b_nomem(builder *b) {
    return ov_error(b->err, OCTAVO_E_NOMEM, OCTAVO_STAGE_FRONTMATTER, b->name, 0, 0, NULL);
}

/* Checks that adding a subtree of size and height at the current depth stays within limits. */
static int b_account(builder *b, size_t size, size_t height, const yaml_mark_t *mk) {
    if (size > b->max_nodes - b->nodes || b->nodes + size > b->max_nodes) {
        ov_error(b->err, OCTAVO_E_LIMIT, OCTAVO_STAGE_FRONTMATTER, b->name, (unsigned)mk->line + b->first_line,
                 (unsigned)mk->column + 1, "the frontmatter has more than %zu nodes (limit.yaml_nodes)",
                 b->max_nodes);
        return OCTAVO_E_LIMIT;
    }
    if (b->depth + height > b->max_depth) {
        ov_error(b->err, OCTAVO_E_LIMIT, OCTAVO_STAGE_FRONTMATTER, b->name, (unsigned)mk->line + b->first_line,
                 (unsigned)mk->column + 1, "the frontmatter nests deeper than %zu (limit.yaml_depth)",
                 b->max_depth);
        return OCTAVO_E_LIMIT;
    }
    b->nodes += size;
    return OCTAVO_OK;
}

static int b_anchor(builder *b, const yaml_char_t *name, const yaml_mark_t *mk, long *idx) {
    *idx = -1;
    if (!name) return OCTAVO_OK;
    for (size_t i = 0; i < b->nanchors; i++)
        if (!strcmp(b->anchors[i].name, (const char *)name))
            return b_error(b, OCTAVO_E_YAML, mk, "found duplicate anchor &%s", (const char *)name);
    if (b->nanchors == b->anchors_cap) {
        size_t nc = b->anchors_cap ? 2 * b->anchors_cap : 8;
        anchor *na = ov_realloc(b->anchors, nc * sizeof *na);
        if (!na) return b_nomem(b);
        b->anchors = na;
        b->anchors_cap = nc;
    }
    anchor *a = &b->anchors[b->nanchors];
    memset(a, 0, sizeof *a);
    if (!(a->name = ov_strdup((const char *)name))) return b_nomem(b);
    *idx = (long)b->nanchors++;
    return OCTAVO_OK;
}

/* Adds a finished node (owned by the builder from now on) to the open collection, or makes it
 * the root. height is the node's height. */
static int b_add(builder *b, octavo_meta *m, size_t height, const yaml_mark_t *mk) {
    if (!b->depth) {
        if (b->root) { ov_meta_free(m); return OCTAVO_OK; } /* libyaml gives one document only here */
        b->root = m;
        b->root_height = height;
        return OCTAVO_OK;
    }
    frame *f = &b->stack[b->depth - 1];
    octavo_meta *p = f->node;
    if (height > f->height) f->height = height;
    if (p->type == OCTAVO_META_MAP && !f->has_key) {
        if (m->type == OCTAVO_META_MAP || m->type == OCTAVO_META_SEQ) {
            unsigned l = m->line, c = m->column;
            ov_meta_free(m);
            return ov_error(b->err, OCTAVO_E_FRONTMATTER, OCTAVO_STAGE_FRONTMATTER, b->name, l, c,
                            "a map key must be a scalar");
        }
        f->key_line = m->line;
        f->key_col = m->column;
        anchor *a = b->nanchors ? &b->anchors[b->nanchors - 1] : NULL;
        if (a && a->node == m) {
            /* "&k key: v": the anchor keeps the scalar for later aliases, the map a copy */
            a->owned = 1;
            f->key = ov_strdup(m->text ? m->text : "");
        } else {
            f->key = m->text ? m->text : ov_strdup("");
            m->text = NULL;
            ov_meta_free(m);
        }
        if (!f->key) return b_nomem(b);
        f->has_key = 1;
        return OCTAVO_OK;
    }
    if (p->count == f->cap) {
        size_t nc = f->cap ? 2 * f->cap : 4;
        octavo_meta **ni = ov_realloc(p->items, nc * sizeof *ni);
        if (!ni) { ov_meta_free(m); return b_nomem(b); }
        p->items = ni;
        if (p->type == OCTAVO_META_MAP) {
            char **nk = ov_realloc(p->keys, nc * sizeof *nk);
            if (!nk) { ov_meta_free(m); return b_nomem(b); }
            p->keys = nk;
            unsigned *np = ov_realloc(f->kpos, nc * 2 * sizeof *np);
            if (!np) { ov_meta_free(m); return b_nomem(b); }
            f->kpos = np;
        }
        f->cap = nc;
    }
    if (p->type == OCTAVO_META_MAP) {
        p->keys[p->count] = f->key;
        f->kpos[2 * p->count] = f->key_line;
        f->kpos[2 * p->count + 1] = f->key_col;
        f->key = NULL;
        f->has_key = 0;
    }
    p->items[p->count++] = m;
    return OCTAVO_OK;
}

static int is_null_plain(const char *s) {
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int key_cmp(const void *a, const void *b) {
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* Duplicate keys are an error (YAML says a map's keys are unique). Sorting pointers keeps this
 * O(n log n) for hostile maps. */
static int check_duplicates(builder *b, octavo_meta *m, const unsigned *kpos) {
    if (m->count < 2) return OCTAVO_OK;
    char ***v = ov_malloc(m->count * sizeof *v);
    if (!v) return b_nomem(b);
    for (size_t i = 0; i < m->count; i++) v[i] = &m->keys[i];
    qsort(v, m->count, sizeof *v, key_cmp);
    int rc = OCTAVO_OK;
    for (size_t i = 1; i < m->count; i++) {
        if (strcmp(*v[i], *v[i - 1])) continue;
        /* report the later of the two */
        size_t a = (size_t)(v[i] - m->keys), c = (size_t)(v[i - 1] - m->keys);
        size_t later = a > c ? a : c;
        ov_error(b->err, OCTAVO_E_YAML, OCTAVO_STAGE_FRONTMATTER, b->name, kpos[2 * later], kpos[2 * later + 1],
                 "duplicate key \"%s\"", m->keys[later]);
        rc = OCTAVO_E_YAML;
        break;
    }
    ov_free(v);
    return rc;
}

static int b_event(builder *b, yaml_event_t *ev) {
    int rc;
    long ai;
    const yaml_mark_t *mk = &ev->start_mark;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        if ((rc = b_account(b, 1, 0, mk))) return rc;
        if ((rc = b_anchor(b, ev->data.scalar.anchor, mk, &ai))) return rc;
        const char *v = (const char *)ev->data.scalar.value;
        int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        const char *tag = (const char *)ev->data.scalar.tag;
        if (tag && (!strcmp(tag, YAML_STR_TAG) || !strcmp(tag, "!"))) plain = 0;
        octavo_meta *m = node_new(plain && is_null_plain(v) ? OCTAVO_META_NONE : OCTAVO_META_SCALAR, mk,
                                  b->first_line);
        if (!m) return b_nomem(b);
        m->plain = plain;
        if (!(m->text = ov_strndup(v, ev->data.scalar.length))) { ov_meta_free(m); return b_nomem(b); }
        if (ai >= 0) {
            b->anchors[ai].node = m;
            b->anchors[ai].size = 1;
            b->anchors[ai].height = 0;
        }
        return b_add(b, m, 0, mk);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int map = ev->type == YAML_MAPPING_START_EVENT;
        if ((rc = b_account(b, 1, 1, mk))) return rc;
        if ((rc = b_anchor(b, map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor, mk, &ai)))
            return rc;
        if (b->depth == b->stack_cap) {
            size_t nc = b->stack_cap ? 2 * b->stack_cap : 16;
            frame *ns = ov_realloc(b->stack, nc * sizeof *ns);
            if (!ns) return b_nomem(b);
            b->stack = ns;
            b->stack_cap = nc;
        }
        octavo_meta *m = node_new(map ? OCTAVO_META_MAP : OCTAVO_META_SEQ, mk, b->first_line);
        if (!m) return b_nomem(b);
        frame *f = &b->stack[b->depth++];
        memset(f, 0, sizeof *f);
        f->node = m;
        f->nodes_at_start = b->nodes - 1;
        f->anchor = ai;
        return OCTAVO_OK;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        if (!b->depth) return OCTAVO_OK;
        frame f = b->stack[--b->depth];
        ov_free(f.key); /* NULL: with libyaml a key always gets its value */
        rc = f.node->type == OCTAVO_META_MAP ? check_duplicates(b, f.node, f.kpos) : OCTAVO_OK;
        ov_free(f.kpos);
        if (rc) {
            ov_meta_free(f.node);
            return rc;
        }
        if (f.anchor >= 0) {
            anchor *a = &b->anchors[f.anchor];
            a->node = f.node;
            a->size = b->nodes - f.nodes_at_start;
            a->height = f.height + 1;
        }
        return b_add(b, f.node, f.height + 1, mk);
    }
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        for (size_t i = b->nanchors; i-- > 0;) {
            anchor *a = &b->anchors[i];
            if (strcmp(a->name, name)) continue;
            if (!a->node) return b_error(b, OCTAVO_E_YAML, mk, "alias *%s refers to its own collection", name);
            if ((rc = b_account(b, a->size, a->height, mk))) return rc;
            octavo_meta *m = node_copy(a->node);
            if (!m) return b_nomem(b);
            m->line = (unsigned)mk->line + b->first_line;
            m->column = (unsigned)mk->column + 1;
            return b_add(b, m, a->height, mk);
        }
        return b_error(b, OCTAVO_E_YAML, mk, "found undefined alias *%s", name);
    }
    default:
        return OCTAVO_OK;
    }
}

static void b_cleanup(builder *b) {
    for (size_t i = b->depth; i-- > 0;) {
        ov_free(b->stack[i].key);
        ov_free(b->stack[i].kpos);
        ov_meta_free(b->stack[i].node);
    }
    ov_free(b->stack);
    for (size_t i = 0; i < b->nanchors; i++) {
        ov_free(b->anchors[i].name);
        if (b->anchors[i].owned) ov_meta_free(b->anchors[i].node);
    }
    ov_free(b->anchors);
}

static int yaml_failure(builder *b, yaml_parser_t *p) {
    unsigned line, col;
    const char *what = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_MEMORY_ERROR) return b_nomem(b);
    if (p->error == YAML_READER_ERROR) {
        ov_source_position(b->yaml, b->yaml_len, p->problem_offset, &line, &col);
        line += b->first_line - 1;
        ov_error(b->err, OCTAVO_E_YAML, OCTAVO_STAGE_FRONTMATTER, b->name, line, col, "%s", what);
        return OCTAVO_E_YAML;
    }
    line = (unsigned)p->problem_mark.line + b->first_line;
    col = (unsigned)p->problem_mark.column + 1;
    if (p->context)
        ov_error(b->err, OCTAVO_E_YAML, OCTAVO_STAGE_FRONTMATTER, b->name, line, col, "%s %s", what, p->context);
    else
        ov_error(b->err, OCTAVO_E_YAML, OCTAVO_STAGE_FRONTMATTER, b->name, line, col, "%s", what);
    return OCTAVO_E_YAML;
}

int ov_meta_parse(const octavo *ov, const char *name, const char *yaml, size_t len, unsigned first_line,
                  octavo_meta **out, octavo_error *err) {
    *out = NULL;
    builder b;
    memset(&b, 0, sizeof b);
    b.ov = ov;
    b.name = name;
    b.yaml = yaml;
    b.yaml_len = len;
    b.first_line = first_line ? first_line : 1;
    b.err = err;
    b.max_nodes = ov ? ov->opt.limits.yaml_nodes : 100000;
    b.max_depth = ov ? ov->opt.limits.yaml_depth : 64;
    if (!b.max_nodes) b.max_nodes = 100000;
    if (!b.max_depth) b.max_depth = 64;

    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return b_nomem(&b);
    yaml_parser_set_input_string(&p, (const unsigned char *)(yaml ? yaml : ""), yaml ? len : 0);
    yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
    int rc = OCTAVO_OK, done = 0;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) { rc = yaml_failure(&b, &p); break; }
        done = ev.type == YAML_STREAM_END_EVENT;
        /* only the first document counts ("---" and "..." inside end the frontmatter anyway) */
        if (ev.type == YAML_DOCUMENT_START_EVENT && b.root) {
            yaml_event_delete(&ev);
            break;
        }
        rc = b_event(&b, &ev);
        yaml_event_delete(&ev);
        if (rc) break;
    }
    yaml_parser_delete(&p);
    b_cleanup(&b);
    if (rc) {
        ov_meta_free(b.root);
        return rc;
    }
    octavo_meta *root = b.root;
    if (root && root->type == OCTAVO_META_NONE) {
        ov_meta_free(root); /* an empty or null document: no keys */
        root = NULL;
    }
    if (root && root->type != OCTAVO_META_MAP) {
        const char *what = root->type == OCTAVO_META_SEQ ? "a sequence" : "a scalar";
        ov_error(err, OCTAVO_E_FRONTMATTER, OCTAVO_STAGE_FRONTMATTER, name, root->line, root->column,
                 "the frontmatter is %s, not a map of keys and values", what);
        ov_meta_free(root);
        return OCTAVO_E_FRONTMATTER;
    }
    if (!root) {
        yaml_mark_t mk = {0, 0, 0};
        root = node_new(OCTAVO_META_MAP, &mk, b.first_line);
        if (!root) return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_FRONTMATTER, name, 0, 0, NULL);
    }
    *out = root;
    return OCTAVO_OK;
}

/* ---- getters */

octavo_meta_type octavo_meta_kind(const octavo_meta *m) { return m ? m->type : OCTAVO_META_NONE; }

size_t octavo_meta_count(const octavo_meta *m) {
    return m && (m->type == OCTAVO_META_MAP || m->type == OCTAVO_META_SEQ) ? m->count : 0;
}

const octavo_meta *octavo_meta_at(const octavo_meta *m, size_t i) {
    return m && (m->type == OCTAVO_META_MAP || m->type == OCTAVO_META_SEQ) && i < m->count ? m->items[i] : NULL;
}

const char *octavo_meta_key(const octavo_meta *m, size_t i) {
    return m && m->type == OCTAVO_META_MAP && i < m->count ? m->keys[i] : NULL;
}

const char *octavo_meta_string(const octavo_meta *m) {
    return m && m->type == OCTAVO_META_SCALAR ? m->text : NULL;
}

unsigned octavo_meta_line(const octavo_meta *m) { return m ? m->line : 0; }
unsigned octavo_meta_column(const octavo_meta *m) { return m ? m->column : 0; }

const octavo_meta *octavo_meta_get(const octavo_meta *m, const char *path) {
    if (!m || !path) return NULL;
    if (!*path) return m;
    size_t seg = strcspn(path, ".");
    if (m->type == OCTAVO_META_SEQ) {
        if (!seg || seg > 18) return NULL;
        size_t i = 0;
        for (size_t k = 0; k < seg; k++) {
            if (path[k] < '0' || path[k] > '9') return NULL;
            i = i * 10 + (size_t)(path[k] - '0');
        }
        if (i >= m->count) return NULL;
        return path[seg] ? octavo_meta_get(m->items[i], path + seg + 1) : m->items[i];
    }
    if (m->type != OCTAVO_META_MAP) return NULL;
    /* a key is matched whole; keys holding dots ("a.b") are found too */
    for (size_t i = 0; i < m->count; i++) {
        size_t kl = strlen(m->keys[i]);
        if (strncmp(path, m->keys[i], kl) || (path[kl] && path[kl] != '.')) continue;
        if (!path[kl]) return m->items[i];
        const octavo_meta *r = octavo_meta_get(m->items[i], path + kl + 1);
        if (r) return r;
    }
    return NULL;
}

static int typed_text(const octavo_meta *m, const char **s) {
    if (!m) return OCTAVO_E_NOT_FOUND;
    if (m->type != OCTAVO_META_SCALAR || !m->plain || !m->text) return OCTAVO_E_TYPE;
    *s = m->text;
    return OCTAVO_OK;
}

int octavo_meta_int(const octavo_meta *m, long long *out) {
    const char *s;
    int rc = typed_text(m, &s);
    if (rc) return rc;
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) { base = 16; p += 2; }
    else if (p[0] == '0' && p[1] == 'o') { base = 8; p += 2; }
    if (!*p) return OCTAVO_E_TYPE;
    unsigned long long v = 0;
    for (; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9') d = *p - '0';
        else if (base == 16 && isxdigit((unsigned char)*p)) d = (tolower((unsigned char)*p) - 'a') + 10;
        else return OCTAVO_E_TYPE;
        if (d >= base) return OCTAVO_E_TYPE;
        if (v > (ULLONG_MAX - (unsigned)d) / (unsigned)base) return OCTAVO_E_TYPE;
        v = v * (unsigned)base + (unsigned)d;
    }
    if (neg ? v > (unsigned long long)LLONG_MAX + 1 : v > (unsigned long long)LLONG_MAX) return OCTAVO_E_TYPE;
    if (out) *out = neg ? (long long)(0 - v) : (long long)v;
    return OCTAVO_OK;
}

int octavo_meta_bool(const octavo_meta *m, int *out) {
    const char *s;
    int rc = typed_text(m, &s);
    if (rc) return rc;
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (!strcmp(s, yes[i])) { if (out) *out = 1; return OCTAVO_OK; }
        if (!strcmp(s, no[i])) { if (out) *out = 0; return OCTAVO_OK; }
    }
    return OCTAVO_E_TYPE;
}

int octavo_meta_double(const octavo_meta *m, double *out) {
    const char *s;
    int rc = typed_text(m, &s);
    if (rc) return rc;
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
        if (out) *out = neg ? -HUGE_VAL : HUGE_VAL;
        return OCTAVO_OK;
    }
    if (p == s && (!strcmp(p, ".nan") || !strcmp(p, ".NaN") || !strcmp(p, ".NAN"))) {
        if (out) *out = NAN;
        return OCTAVO_OK;
    }
    /* digits, one '.', an exponent: nothing else (no hex floats, no "inf" words) */
    const char *q = p;
    int digits = 0;
    while (isdigit((unsigned char)*q)) { q++; digits++; }
    if (*q == '.') { q++; while (isdigit((unsigned char)*q)) { q++; digits++; } }
    if (!digits) return OCTAVO_E_TYPE;
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-') q++;
        if (!isdigit((unsigned char)*q)) return OCTAVO_E_TYPE;
        while (isdigit((unsigned char)*q)) q++;
    }
    if (*q) return OCTAVO_E_TYPE;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end) return OCTAVO_E_TYPE;
    if (out) *out = v;
    return OCTAVO_OK;
}

/* days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int num(const char **p, int min_digits, int max_digits, int *out) {
    int v = 0, n = 0;
    while (n < max_digits && isdigit((unsigned char)**p)) { v = v * 10 + (**p - '0'); (*p)++; n++; }
    if (n < min_digits) return 0;
    *out = v;
    return 1;
}

static int leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* A YAML timestamp: YYYY-MM-DD, or with [Tt ]+time[.fraction][blanks][Z|±HH[:MM]]. */
static int parse_time(const char *s, octavo_time *t) {
    memset(t, 0, sizeof *t);
    const char *p = s;
    while (*p == ' ') p++;
    if (!num(&p, 4, 4, &t->year) || *p++ != '-' || !num(&p, 1, 2, &t->month) || *p++ != '-' ||
        !num(&p, 1, 2, &t->day))
        return 0;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (t->month < 1 || t->month > 12 || t->day < 1) return 0;
    if (t->day > mdays[t->month - 1] + (t->month == 2 && leap(t->year))) return 0;
    if (*p == 'T' || *p == 't' || *p == ' ' || *p == '\t') {
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t') q++;
        if (*q) {
            p = q;
            if (!num(&p, 1, 2, &t->hour) || *p++ != ':' || !num(&p, 2, 2, &t->minute) || *p++ != ':' ||
                !num(&p, 2, 2, &t->second))
                return 0;
            if (t->hour > 23 || t->minute > 59 || t->second > 60) return 0;
            t->has_time = 1;
            if (*p == '.') {
                p++;
                long ns = 0;
                int n = 0;
                if (!isdigit((unsigned char)*p)) return 0;
                while (isdigit((unsigned char)*p)) {
                    if (n < 9) { ns = ns * 10 + (*p - '0'); n++; }
                    p++;
                }
                while (n++ < 9) ns *= 10;
                t->nanosecond = ns;
            }
            while (*p == ' ' || *p == '\t') p++;
            if (*p == 'Z' || *p == 'z') {
                t->has_zone = 1;
                p++;
            } else if (*p == '+' || *p == '-') {
                int sign = *p++ == '-' ? -1 : 1, hh, mm = 0;
                if (!num(&p, 1, 2, &hh)) return 0;
                if (*p == ':') { p++; if (!num(&p, 2, 2, &mm)) return 0; }
                else if (isdigit((unsigned char)*p) && !num(&p, 2, 2, &mm)) return 0;
                if (hh > 23 || mm > 59) return 0;
                t->has_zone = 1;
                t->zone_minutes = sign * (hh * 60 + mm);
            }
        }
    }
    while (*p == ' ' || *p == '\t') p++;
    if (*p) return 0;
    t->epoch = days_from_civil(t->year, (unsigned)t->month, (unsigned)t->day) * 86400 + t->hour * 3600 +
               t->minute * 60 + t->second - (int64_t)t->zone_minutes * 60;
    return 1;
}

int octavo_meta_time(const octavo_meta *m, octavo_time *out) {
    if (!m) return OCTAVO_E_NOT_FOUND;
    /* quoted dates count too: sites quote them to keep other tools from reading them as times */
    if (m->type != OCTAVO_META_SCALAR || !m->text) return OCTAVO_E_TYPE;
    octavo_time t;
    if (!parse_time(m->text, &t)) return OCTAVO_E_TYPE;
    if (out) *out = t;
    return OCTAVO_OK;
}
