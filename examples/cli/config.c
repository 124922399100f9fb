/* octavo.yaml: parsed with libyaml's document loader, checked against a fixed schema; every
 * problem is reported with the line and column of the offending key or value. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common.h"

typedef struct cfg_ctx {
    cli_config *cfg;
    yaml_document_t *doc;
    int errors;
} cfg_ctx;

static void cfg_error(cfg_ctx *c, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cfg_error(cfg_ctx *c, const yaml_node_t *n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (n) fprintf(stderr, "%s:%lu:%lu: error: ", c->cfg->file, (unsigned long)n->start_mark.line + 1,
                   (unsigned long)n->start_mark.column + 1);
    else fprintf(stderr, "%s: error: ", c->cfg->file);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    c->errors++;
}


static const char *scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static int is_plain(const yaml_node_t *n) { return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE; }

static const char *kind_name(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a map";
    case YAML_SEQUENCE_NODE: return "a list";
    default: return "a scalar";
    }
}

/* A string value: any scalar (a YAML null, "~" or empty plain, reads as unset). */
static void get_string(cfg_ctx *c, const char *key, const yaml_node_t *v, char **slot) {
    if (v->type != YAML_SCALAR_NODE) {
        cfg_error(c, v, "'%s' wants a string, not %s", key, kind_name(v));
        return;
    }
    const char *s = scalar(v);
    if (is_plain(v) && (!*s || !strcmp(s, "~") || !strcmp(s, "null"))) return;
    free(*slot);
    *slot = cli_xstrdup(s);
}

static void get_bool(cfg_ctx *c, const char *key, const yaml_node_t *v, int *slot) {
    const char *s = v->type == YAML_SCALAR_NODE ? scalar(v) : NULL;
    if (s && is_plain(v)) {
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") || !strcmp(s, "yes") || !strcmp(s, "on")) {
            *slot = 1;
            return;
        }
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE") || !strcmp(s, "no") || !strcmp(s, "off")) {
            *slot = 0;
            return;
        }
    }
    cfg_error(c, v, "'%s' wants true or false, not %s%s%s", key, s ? "'" : kind_name(v), s ? s : "", s ? "'" : "");
}

static void get_number(cfg_ctx *c, const char *key, const yaml_node_t *v, double *slot) {
    const char *s = v->type == YAML_SCALAR_NODE ? scalar(v) : NULL;
    if (s && is_plain(v) && *s) {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (!*end && !errno && d >= 0) {
            *slot = d;
            return;
        }
    }
    cfg_error(c, v, "'%s' wants a number of points, not %s%s%s", key, s ? "'" : kind_name(v), s ? s : "", s ? "'" : "");
}

/* A list of strings; a single string is a list of one. */
static void get_list(cfg_ctx *c, const char *key, const yaml_node_t *v, cli_strlist *out) {
    if (v->type == YAML_SCALAR_NODE) {
        char *s = NULL;
        get_string(c, key, v, &s);
        if (!s) return;
        out->v = realloc(out->v, (out->n + 1) * sizeof *out->v);
        if (!out->v) exit(1);
        out->v[out->n++] = s;
        return;
    }
    if (v->type != YAML_SEQUENCE_NODE) {
        cfg_error(c, v, "'%s' wants a list of strings, not %s", key, kind_name(v));
        return;
    }
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(c->doc, *it);
        if (!e) continue;
        if (e->type != YAML_SCALAR_NODE) {
            cfg_error(c, e, "'%s' wants a list of strings; this item is %s", key, kind_name(e));
            continue;
        }
        out->v = realloc(out->v, (out->n + 1) * sizeof *out->v);
        if (!out->v) exit(1);
        out->v[out->n++] = cli_xstrdup(scalar(e));
    }
}

static void get_where(cfg_ctx *c, const yaml_node_t *v, cli_select *sel) {
    if (v->type != YAML_MAPPING_NODE) {
        cfg_error(c, v, "'where' wants a map of frontmatter keys to values, not %s", kind_name(v));
        return;
    }
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *val = yaml_document_get_node(c->doc, p->value);
        if (!k || !val) continue;
        if (k->type != YAML_SCALAR_NODE) {
            cfg_error(c, k, "a 'where' key must be a frontmatter path such as templateKey or seo.title");
            continue;
        }
        cli_where w = {cli_xstrdup(scalar(k)), {NULL, 0}};
        get_list(c, w.path, val, &w.values);
        sel->where = realloc(sel->where, (sel->nwhere + 1) * sizeof *sel->where);
        if (!sel->where) exit(1);
        sel->where[sel->nwhere++] = w;
    }
}

/* Iterates a map's pairs, checking for duplicate keys; calls fn for each. */
typedef void (*pair_fn)(cfg_ctx *c, const char *key, const yaml_node_t *k, const yaml_node_t *v, void *ud);

static void each_pair(cfg_ctx *c, const yaml_node_t *map, const char *section, pair_fn fn, void *ud) {
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key), *v = yaml_document_get_node(c->doc, p->value);
        if (!k || !v) continue;
        if (k->type != YAML_SCALAR_NODE) {
            cfg_error(c, k, "%s%skeys must be names", section ? section : "", section ? ": " : "");
            continue;
        }
        int dup = 0;
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p && !dup; q++) {
            yaml_node_t *qk = yaml_document_get_node(c->doc, q->key);
            dup = qk && qk->type == YAML_SCALAR_NODE && !strcmp(scalar(qk), scalar(k));
        }
        if (dup) {
            cfg_error(c, k, "'%s%s%s' is given twice", section ? section : "", section ? "." : "", scalar(k));
            continue;
        }
        fn(c, scalar(k), k, v, ud);
    }
}

static int want_map(cfg_ctx *c, const char *key, const yaml_node_t *v) {
    if (v->type == YAML_MAPPING_NODE) return 1;
    if (v->type == YAML_SCALAR_NODE && is_plain(v) && !*scalar(v)) return 0; /* "pdf:" alone: empty */
    cfg_error(c, v, "'%s' wants a map, not %s", key, kind_name(v));
    return 0;
}

static int select_key(cfg_ctx *c, const char *key, const yaml_node_t *v, cli_select *sel) {
    if (!strcmp(key, "include")) get_list(c, key, v, &sel->include);
    else if (!strcmp(key, "exclude")) get_list(c, key, v, &sel->exclude);
    else if (!strcmp(key, "where")) get_where(c, v, sel);
    else return 0;
    sel->given = 1;
    return 1;
}

static void pdf_pair(cfg_ctx *c, const char *key, const yaml_node_t *k, const yaml_node_t *v, void *ud) {
    (void)ud;
    if (!select_key(c, key, v, &c->cfg->pdf))
        cfg_error(c, k, "unknown key 'pdf.%s' (known: include, exclude, where)", key);
}

static void book_pair(cfg_ctx *c, const char *key, const yaml_node_t *k, const yaml_node_t *v, void *ud) {
    (void)ud;
    cli_config *cfg = c->cfg;
    if (select_key(c, key, v, &cfg->book.sel)) return;
    if (!strcmp(key, "file")) {
        get_string(c, key, v, &cfg->book.file);
        const char *f = cfg->book.file;
        if (f && (!*f || strchr(f, '/') || f[0] == '.'))
            cfg_error(c, v, "'book.file' is a file name without folder or extension, such as 'blog'");
    } else if (!strcmp(key, "title")) get_string(c, key, v, &cfg->book.title);
    else if (!strcmp(key, "author")) get_string(c, key, v, &cfg->book.author);
    else if (!strcmp(key, "description")) get_string(c, key, v, &cfg->book.description);
    else if (!strcmp(key, "publisher")) get_string(c, key, v, &cfg->book.publisher);
    else if (!strcmp(key, "cover")) get_string(c, key, v, &cfg->book.cover);
    else if (!strcmp(key, "toc")) get_bool(c, key, v, &cfg->book.toc);
    else if (!strcmp(key, "order")) {
        char *o = NULL;
        get_string(c, key, v, &o);
        if (o && !strcmp(o, "date")) cfg->book.order = OCTAVO_ORDER_DATE;
        else if (o && !strcmp(o, "-date")) cfg->book.order = OCTAVO_ORDER_DATE_DESC;
        else if (o) cfg_error(c, v, "'book.order' is date (oldest first) or -date (newest first), not '%s'", o);
        free(o);
    } else
        cfg_error(c, k,
                  "unknown key 'book.%s' (known: file, title, author, description, publisher, cover, order, toc, "
                  "include, exclude, where)",
                  key);
}

static void top_pair(cfg_ctx *c, const char *key, const yaml_node_t *k, const yaml_node_t *v, void *ud) {
    (void)ud;
    cli_config *cfg = c->cfg;
    if (!strcmp(key, "title")) get_string(c, key, v, &cfg->title);
    else if (!strcmp(key, "description")) get_string(c, key, v, &cfg->description);
    else if (!strcmp(key, "base_url")) get_string(c, key, v, &cfg->base_url);
    else if (!strcmp(key, "language") || !strcmp(key, "lang")) get_string(c, key, v, &cfg->lang);
    else if (!strcmp(key, "author")) get_string(c, key, v, &cfg->author);
    else if (!strcmp(key, "trusted")) get_bool(c, key, v, &cfg->trusted);
    else if (!strcmp(key, "trust")) {
        char *t = NULL;
        get_string(c, key, v, &t);
        if (t && !strcmp(t, "trusted")) cfg->trusted = 1;
        else if (t && !strcmp(t, "untrusted")) cfg->trusted = 0;
        else if (t) cfg_error(c, v, "'trust' is trusted or untrusted, not '%s'", t);
        free(t);
    } else if (!strcmp(key, "paper")) {
        get_string(c, key, v, &cfg->paper);
        if (cfg->paper && strcmp(cfg->paper, "a4") && strcmp(cfg->paper, "letter"))
            cfg_error(c, v, "'paper' is a4 or letter, not '%s'", cfg->paper);
    } else if (!strcmp(key, "margin")) get_number(c, key, v, &cfg->margin);
    else if (!strcmp(key, "toc")) get_bool(c, key, v, &cfg->toc);
    else if (!strcmp(key, "ragged")) get_bool(c, key, v, &cfg->ragged);
    else if (!strcmp(key, "hyphenate")) get_bool(c, key, v, &cfg->hyphenate);
    else if (!strcmp(key, "exclude")) get_list(c, key, v, &cfg->exclude);
    else if (!strcmp(key, "pdf")) {
        if (want_map(c, key, v)) each_pair(c, v, "pdf", pdf_pair, NULL);
        cfg->pdf.given = 1;
    } else if (!strcmp(key, "book") || !strcmp(key, "blog")) {
        if (want_map(c, key, v)) each_pair(c, v, "book", book_pair, NULL);
    } else if (!strcmp(key, "fonts") || !strcmp(key, "font"))
        cfg_error(c, k,
                  "'%s': this octavo cannot choose fonts at run time; the PDF fonts are chosen when the "
                  "library is built (fonts/fonts.conf)",
                  key);
    else
        cfg_error(c, k,
                  "unknown key '%s' (known: title, description, base_url, language, author, trusted, paper, "
                  "margin, toc, ragged, hyphenate, exclude, pdf, book)",
                  key);
}

static int read_file(const char *path, char **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (!b) { fclose(f); return -1; }
        if (n + 1 >= cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); fclose(f); return -1; }
            b = nb;
        }
        size_t r = fread(b + n, 1, cap - n - 1, f);
        n += r;
        if (!r) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(b); return -1; }
    b[n] = 0;
    *data = b;
    *len = n;
    return 0;
}

static void config_init(cli_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->trusted = cfg->toc = cfg->ragged = cfg->hyphenate = -1;
    cfg->margin = -1;
    cfg->book.order = OCTAVO_ORDER_DATE;
    cfg->book.toc = 1;
}

int cli_config_load(cli_config *cfg, const char *site_dir, const char *path) {
    config_init(cfg);
    char buf[4096];
    int explicit = path != NULL;
    if (!path) {
        snprintf(buf, sizeof buf, "%s/octavo.yaml", site_dir);
        path = buf;
    }
    if (read_file(path, &cfg->text, &cfg->len)) {
        if (errno == ENOENT && !explicit) return 0;
        fprintf(stderr, "%s: error: cannot read the configuration: %s\n", path, strerror(errno));
        return -1;
    }
    cfg->file = cli_xstrdup(path);
    cfg_ctx c = {cfg, NULL, 0};
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        fprintf(stderr, "%s: out of memory\n", cli_prog);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)cfg->text, cfg->len);
    if (!yaml_parser_load(&parser, &doc)) {
        const yaml_mark_t *m = parser.problem ? &parser.problem_mark : &parser.context_mark;
        fprintf(stderr, "%s:%lu:%lu: error: %s%s%s\n", path, (unsigned long)m->line + 1, (unsigned long)m->column + 1,
                parser.problem ? parser.problem : "invalid YAML", parser.context ? " " : "",
                parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return -1;
    }
    c.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) {
        if (root->type == YAML_MAPPING_NODE) each_pair(&c, root, NULL, top_pair, NULL);
        else if (!(root->type == YAML_SCALAR_NODE && is_plain(root) && !*scalar(root)))
            cfg_error(&c, root, "the configuration must be a map of settings, not %s", kind_name(root));
    }
    /* a second document in the same file is a mistake worth reporting */
    yaml_document_t more;
    if (yaml_parser_load(&parser, &more)) {
        yaml_node_t *r2 = yaml_document_get_root_node(&more);
        if (r2) cfg_error(&c, r2, "the configuration is one YAML document; remove the second");
        yaml_document_delete(&more);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return c.errors ? -1 : 0;
}

int cli_config_apply(const cli_config *cfg, octavo_options *opt) {
    if (cfg->base_url) opt->base_url = cfg->base_url;
    if (cfg->lang) opt->lang = cfg->lang;
    if (cfg->author) opt->default_author = cfg->author;
    if (cfg->paper) opt->paper = !strcmp(cfg->paper, "letter") ? OCTAVO_PAPER_LETTER : OCTAVO_PAPER_A4;
    if (cfg->margin >= 0) opt->margin_pt = cfg->margin;
    if (cfg->trusted == 1) opt->flags |= OCTAVO_TRUSTED;
    if (cfg->trusted == 0) opt->flags &= ~OCTAVO_TRUSTED;
    if (cfg->toc == 1) opt->flags |= OCTAVO_TOC;
    if (cfg->toc == 0) opt->flags &= ~OCTAVO_TOC;
    if (cfg->ragged == 1) opt->flags |= OCTAVO_RAGGED;
    if (cfg->ragged == 0) opt->flags &= ~OCTAVO_RAGGED;
    if (cfg->hyphenate == 1) opt->flags &= ~OCTAVO_NO_HYPHENATE;
    if (cfg->hyphenate == 0) opt->flags |= OCTAVO_NO_HYPHENATE;
    return 0;
}

static void list_free(cli_strlist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

static void select_free(cli_select *s) {
    list_free(&s->include);
    list_free(&s->exclude);
    for (size_t i = 0; i < s->nwhere; i++) {
        free(s->where[i].path);
        list_free(&s->where[i].values);
    }
    free(s->where);
}

void cli_config_free(cli_config *cfg) {
    if (!cfg) return;
    free(cfg->file);
    free(cfg->text);
    free(cfg->title);
    free(cfg->description);
    free(cfg->base_url);
    free(cfg->lang);
    free(cfg->author);
    free(cfg->paper);
    list_free(&cfg->exclude);
    select_free(&cfg->pdf);
    free(cfg->book.file);
    free(cfg->book.title);
    free(cfg->book.author);
    free(cfg->book.description);
    free(cfg->book.publisher);
    free(cfg->book.cover);
    select_free(&cfg->book.sel);
    memset(cfg, 0, sizeof *cfg);
}

/* ---- globs */

static int glob_at(const char *p, const char *s) {
    for (;;) {
        if (!*p) return !*s;
        if (p[0] == '*' && p[1] == '*') {
            p += 2;
            if (*p == '/') {
                /* "**" + "/": zero or more whole folders */
                if (glob_at(p + 1, s)) return 1;
            }
            for (const char *t = s;; t++) {
                if (glob_at(p, t)) return 1;
                if (!*t) return 0;
            }
        }
        if (*p == '*') {
            p++;
            for (const char *t = s;; t++) {
                if (glob_at(p, t)) return 1;
                if (!*t || *t == '/') return 0;
            }
        }
        if (!*s) return 0;
        if (*p == '?') {
            if (*s == '/') return 0;
            /* one character, not one byte */
            s++;
            while ((*s & 0xC0) == 0x80) s++;
            p++;
            continue;
        }
        if (*p != *s) return 0;
        p++;
        s++;
    }
}

int cli_glob_match(const char *pattern, const char *rel) {
    while (pattern[0] == '.' && pattern[1] == '/') pattern += 2;
    if (pattern[0] == '/') pattern++;
    if (!strchr(pattern, '/')) {
        const char *base = strrchr(rel, '/');
        if (glob_at(pattern, base ? base + 1 : rel)) return 1;
    }
    if (glob_at(pattern, rel)) return 1;
    /* a folder pattern ("drafts" or "drafts/") matches what is inside it */
    size_t n = strlen(pattern);
    while (n && pattern[n - 1] == '/') n--;
    if (n && !strncmp(pattern, rel, n) && rel[n] == '/' && !strpbrk(pattern, "*?")) return 1;
    return 0;
}

static int meta_matches(const octavo_meta *m, const cli_strlist *values) {
    if (!m) return 0;
    if (octavo_meta_kind(m) == OCTAVO_META_SEQ) {
        for (size_t i = 0; i < octavo_meta_count(m); i++)
            if (meta_matches(octavo_meta_at(m, i), values)) return 1;
        return 0;
    }
    const char *s = octavo_meta_string(m);
    if (!s) return 0;
    for (size_t i = 0; i < values->n; i++)
        if (!strcmp(s, values->v[i])) return 1;
    return 0;
}

int cli_select_needs_doc(const cli_select *sel) { return sel->nwhere > 0; }

int cli_select_match(const cli_select *sel, const char *rel, const octavo_doc *doc) {
    if (sel->include.n) {
        int in = 0;
        for (size_t i = 0; i < sel->include.n && !in; i++) in = cli_glob_match(sel->include.v[i], rel);
        if (!in) return 0;
    }
    for (size_t i = 0; i < sel->exclude.n; i++)
        if (cli_glob_match(sel->exclude.v[i], rel)) return 0;
    for (size_t i = 0; i < sel->nwhere; i++) {
        if (!doc) return 0;
        if (!meta_matches(octavo_meta_get(octavo_doc_meta(doc), sel->where[i].path), &sel->where[i].values)) return 0;
    }
    return 1;
}
