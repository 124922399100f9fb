/* The octavo handle: options, limits, errors, diagnostics and allocation. */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testhooks.h"

/* ---- allocation, with failure injection for the allocation-failure tests. The count is the
 * process's, not a thread's: the EPUB and PDF backends hand work to threads, and which thread makes
 * which allocation depends on scheduling, while their total does not. Nothing is counted until a
 * test arms the injection, so production allocations pay one relaxed load. */
static atomic_int counting;
static atomic_long fail_countdown = -1; /* -1: never fail; 0: this and every later one fails */
static atomic_long alloc_count;

void ov_test_alloc_fail_after(long n) {
    atomic_store(&fail_countdown, n);
    atomic_store(&alloc_count, 0);
    atomic_store(&counting, 1);
}
long ov_test_alloc_count(void) { return atomic_load(&alloc_count); }

static int inject(void) {
    if (!atomic_load_explicit(&counting, memory_order_relaxed)) return 0;
    atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed);
    long c = atomic_load(&fail_countdown);
    while (c > 0)
        if (atomic_compare_exchange_weak(&fail_countdown, &c, c - 1)) return 0;
    return c == 0;
}

void *ov_malloc(size_t n) { return inject() ? NULL : malloc(n ? n : 1); }
void *ov_calloc(size_t n, size_t size) { return inject() ? NULL : calloc(n ? n : 1, size ? size : 1); }
void *ov_realloc(void *p, size_t n) { return inject() ? NULL : realloc(p, n ? n : 1); }
void ov_free(void *p) { free(p); }

char *ov_strndup(const char *s, size_t n) {
    if (!s) return NULL;
    char *d = ov_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *ov_strdup(const char *s) { return s ? ov_strndup(s, strlen(s)) : NULL; }

/* ---- version */
const char *octavo_version(void) { return OCTAVO_VERSION_STRING; }
unsigned octavo_version_number(void) { return OCTAVO_VERSION_NUMBER; }

/* ---- errors */
static const char *const messages[] = {
    [OCTAVO_OK] = "no error",
    [OCTAVO_E_NOMEM] = "out of memory",
    [OCTAVO_E_ARG] = "invalid argument",
    [OCTAVO_E_VERSION] = "options struct of an unknown size",
    [OCTAVO_E_IO] = "cannot read file",
    [OCTAVO_E_WRITE] = "cannot write output",
    [OCTAVO_E_ENCODING] = "invalid UTF-8",
    [OCTAVO_E_YAML] = "invalid YAML in the frontmatter",
    [OCTAVO_E_FRONTMATTER] = "frontmatter is not a map",
    [OCTAVO_E_UNTERMINATED] = "unterminated frontmatter",
    [OCTAVO_E_LIMIT] = "a limit was reached",
    [OCTAVO_E_RESOURCE] = "resource not available",
    [OCTAVO_E_ACCESS] = "resource outside the resource root",
    [OCTAVO_E_IMAGE] = "cannot decode image",
    [OCTAVO_E_FONT] = "no usable font",
    [OCTAVO_E_PDF] = "PDF backend failure",
    [OCTAVO_E_ZIP] = "cannot write the EPUB container",
    [OCTAVO_E_TEMPLATE] = "malformed template",
    [OCTAVO_E_TYPE] = "value of the wrong type",
    [OCTAVO_E_NOT_FOUND] = "not found",
    [OCTAVO_E_FORMAT] = "unknown output format",
    [OCTAVO_E_INTERNAL] = "internal error",
};

const char *octavo_strerror(int code) {
    if (code < 0 || (size_t)code >= sizeof messages / sizeof *messages || !messages[code])
        return "unknown error";
    return messages[code];
}

int octavo_error_format(const octavo_error *e, char *buf, size_t size) {
    if (!e) return snprintf(buf, size, "error: %s", octavo_strerror(OCTAVO_E_ARG));
    const char *msg = e->message[0] ? e->message : octavo_strerror(e->code);
    if (e->file[0] && e->line)
        return snprintf(buf, size, "%s:%u:%u: error: %s", e->file, e->line, e->column ? e->column : 1, msg);
    if (e->file[0]) return snprintf(buf, size, "%s: error: %s", e->file, msg);
    return snprintf(buf, size, "error: %s", msg);
}

int ov_error(octavo_error *err, int code, int stage, const char *file, unsigned line, unsigned col,
             const char *fmt, ...) {
    if (!err) return code;
    err->code = code;
    err->stage = stage;
    err->line = line;
    err->column = col;
    err->offset = 0;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    } else {
        snprintf(err->message, sizeof err->message, "%s", octavo_strerror(code));
    }
    return code;
}

void ov_warn(const octavo *ov, int code, const char *file, unsigned line, unsigned col, const char *fmt, ...) {
    if (!ov || !ov->opt.diag) return;
    char msg[OCTAVO_ERROR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    octavo_diag d = {OCTAVO_WARNING, code, file ? file : "", line, col, msg};
    ov->opt.diag(ov->opt.diag_ud, &d);
}

/* ---- options */
static const octavo_limits default_limits = {
    .input_bytes = 16u << 20,
    .nesting = 256,
    .yaml_depth = 64,
    .yaml_nodes = 100000,
    .image_pixels = 100u * 1000 * 1000,
    .image_bytes = 64u << 20,
    .table_columns = 200,
    .table_cells = 200000,
    .pages = 10000,
    .output_bytes = (size_t)1 << 30,
};

int octavo_options_init(octavo_options *o, size_t size) {
    if (!o || size != sizeof(octavo_options)) return OCTAVO_E_VERSION;
    memset(o, 0, sizeof *o);
    o->size = size;
    o->paper = OCTAVO_PAPER_A4;
    o->limits = default_limits;
    return OCTAVO_OK;
}

static int parse_bool(const char *v, int *out) {
    if (!v) return OCTAVO_E_TYPE;
    if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1")) { *out = 1; return 0; }
    if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0")) { *out = 0; return 0; }
    return OCTAVO_E_TYPE;
}

static int parse_size(const char *v, size_t *out) {
    if (!v || !*v) return OCTAVO_E_TYPE;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || v[0] == '-') return OCTAVO_E_TYPE;
    *out = (size_t)n;
    return 0;
}

/* The named-option table: one place for the C API, configuration files and frontmatter keys. */
enum { K_FLAG, K_NOFLAG, K_STR, K_PAPER, K_MARGIN, K_LIMIT };
static const struct named_option {
    const char *name;
    int kind;
    unsigned flag;            /* K_FLAG / K_NOFLAG */
    size_t offset;            /* K_STR: offset of the char* ; K_LIMIT: offset in octavo_limits */
} named[] = {
    {"trusted", K_FLAG, OCTAVO_TRUSTED, 0},
    {"fragment", K_FLAG, OCTAVO_FRAGMENT, 0},
    {"ragged", K_FLAG, OCTAVO_RAGGED, 0},
    {"toc", K_FLAG, OCTAVO_TOC, 0},
    {"cache", K_NOFLAG, OCTAVO_NO_CACHE, 0},
    {"hyphenate", K_NOFLAG, OCTAVO_NO_HYPHENATE, 0},
    {"resource_root", K_STR, 0, offsetof(octavo_options, resource_root)},
    {"base_url", K_STR, 0, offsetof(octavo_options, base_url)},
    {"lang", K_STR, 0, offsetof(octavo_options, lang)},
    {"default_author", K_STR, 0, offsetof(octavo_options, default_author)},
    {"cache_dir", K_STR, 0, offsetof(octavo_options, cache_dir)},
    {"html_template", K_STR, 0, offsetof(octavo_options, html_template)},
    {"paper", K_PAPER, 0, 0},
    {"margin", K_MARGIN, 0, 0},
    {"limit.input_bytes", K_LIMIT, 0, offsetof(octavo_limits, input_bytes)},
    {"limit.nesting", K_LIMIT, 0, offsetof(octavo_limits, nesting)},
    {"limit.yaml_depth", K_LIMIT, 0, offsetof(octavo_limits, yaml_depth)},
    {"limit.yaml_nodes", K_LIMIT, 0, offsetof(octavo_limits, yaml_nodes)},
    {"limit.image_pixels", K_LIMIT, 0, offsetof(octavo_limits, image_pixels)},
    {"limit.image_bytes", K_LIMIT, 0, offsetof(octavo_limits, image_bytes)},
    {"limit.table_columns", K_LIMIT, 0, offsetof(octavo_limits, table_columns)},
    {"limit.table_cells", K_LIMIT, 0, offsetof(octavo_limits, table_cells)},
    {"limit.pages", K_LIMIT, 0, offsetof(octavo_limits, pages)},
    {"limit.output_bytes", K_LIMIT, 0, offsetof(octavo_limits, output_bytes)},
};

int octavo_options_set(octavo_options *o, const char *name, const char *value) {
    if (!o || !name || o->size != sizeof(octavo_options)) return OCTAVO_E_ARG;
    for (size_t i = 0; i < sizeof named / sizeof *named; i++) {
        const struct named_option *n = &named[i];
        if (strcmp(n->name, name)) continue;
        int b;
        switch (n->kind) {
        case K_FLAG:
        case K_NOFLAG:
            if (parse_bool(value, &b)) return OCTAVO_E_TYPE;
            if (n->kind == K_NOFLAG) b = !b;
            if (b) o->flags |= n->flag; else o->flags &= ~n->flag;
            return OCTAVO_OK;
        case K_STR:
            *(const char **)((char *)o + n->offset) = value;
            return OCTAVO_OK;
        case K_PAPER:
            if (value && !strcmp(value, "a4")) o->paper = OCTAVO_PAPER_A4;
            else if (value && !strcmp(value, "letter")) o->paper = OCTAVO_PAPER_LETTER;
            else return OCTAVO_E_TYPE;
            return OCTAVO_OK;
        case K_MARGIN: {
            if (!value) return OCTAVO_E_TYPE;
            char *end;
            double m = strtod(value, &end);
            if (*end || end == value || !(m >= 0 && m < 300)) return OCTAVO_E_TYPE;
            o->margin_pt = m;
            return OCTAVO_OK;
        }
        case K_LIMIT: {
            size_t v;
            if (parse_size(value, &v)) return OCTAVO_E_TYPE;
            *(size_t *)((char *)&o->limits + n->offset) = v;
            return OCTAVO_OK;
        }
        }
    }
    return OCTAVO_E_NOT_FOUND;
}

/* ---- the handle */
static char *cache_dir_default(void) {
    const char *x = getenv("XDG_CACHE_HOME");
    ov_buf b;
    ov_buf_init(&b);
    if (x && x[0] == '/') ov_buf_printf(&b, "%s/octavo", x);
    else {
        const char *h = getenv("HOME");
        if (!h || !*h) return NULL;
        ov_buf_printf(&b, "%s/.cache/octavo", h);
    }
    return ov_buf_detach(&b, NULL);
}

void octavo_free(octavo *ov) {
    if (!ov) return;
    ov_free(ov->resource_root);
    ov_free(ov->base_url);
    ov_free(ov->lang);
    ov_free(ov->default_author);
    ov_free(ov->cache_dir);
    ov_free(ov->html_template);
    ov_free(ov);
}

octavo *octavo_new(const octavo_options *o, octavo_error *err) {
    octavo_options def;
    if (!o) {
        octavo_options_init(&def, sizeof def);
        o = &def;
    }
    if (o->size != sizeof(octavo_options)) {
        ov_error(err, OCTAVO_E_VERSION, OCTAVO_STAGE_NONE, NULL, 0, 0,
                 "octavo_options of size %zu; this library knows %zu", o->size, sizeof(octavo_options));
        return NULL;
    }
    octavo *ov = ov_calloc(1, sizeof *ov);
    if (!ov) { ov_error(err, OCTAVO_E_NOMEM, 0, NULL, 0, 0, NULL); return NULL; }
    ov->opt = *o;
    /* limits left at 0 take their defaults */
    size_t *lim = (size_t *)&ov->opt.limits;
    const size_t *dl = (const size_t *)&default_limits;
    for (size_t i = 0; i < sizeof(octavo_limits) / sizeof(size_t); i++)
        if (!lim[i]) lim[i] = dl[i];
    int nomem = 0;
    if (o->resource_root) {
        char *rp = realpath(o->resource_root, NULL);
        if (!rp) {
            ov_error(err, OCTAVO_E_IO, OCTAVO_STAGE_RESOURCE, o->resource_root, 0, 0,
                     "resource root: %s", strerror(errno));
            octavo_free(ov);
            return NULL;
        }
        ov->resource_root = ov_strdup(rp);
        free(rp);
        nomem |= !ov->resource_root;
    }
    if (o->base_url && *o->base_url) {
        size_t n = strlen(o->base_url);
        ov_buf b;
        ov_buf_init(&b);
        ov_buf_puts(&b, o->base_url);
        if (o->base_url[n - 1] != '/') ov_buf_putc(&b, '/');
        ov->base_url = ov_buf_detach(&b, NULL);
        nomem |= !ov->base_url;
    }
    ov->lang = ov_strdup(o->lang && *o->lang ? o->lang : "en");
    nomem |= !ov->lang;
    if (o->default_author) nomem |= !(ov->default_author = ov_strdup(o->default_author));
    if (o->html_template) nomem |= !(ov->html_template = ov_strdup(o->html_template));
    if (!(o->flags & OCTAVO_NO_CACHE)) {
        ov->cache_dir = o->cache_dir ? ov_strdup(o->cache_dir) : cache_dir_default();
        /* no HOME and no XDG_CACHE_HOME: no cache, which is not an error */
        nomem |= o->cache_dir && !ov->cache_dir;
    }
    if (nomem) {
        ov_error(err, OCTAVO_E_NOMEM, 0, NULL, 0, 0, NULL);
        octavo_free(ov);
        return NULL;
    }
    /* the pointers in opt would dangle: point them at our copies */
    ov->opt.resource_root = ov->resource_root;
    ov->opt.base_url = ov->base_url;
    ov->opt.lang = ov->lang;
    ov->opt.default_author = ov->default_author;
    ov->opt.cache_dir = ov->cache_dir;
    ov->opt.html_template = ov->html_template;
    return ov;
}
