#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *cli_prog = "octavo";

void *cli_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "%s: out of memory\n", cli_prog);
        exit(1);
    }
    return q;
}

char *cli_xstrdup(const char *s) {
    if (!s) s = "";
    size_t n = strlen(s);
    char *d = cli_xrealloc(NULL, n + 1);
    memcpy(d, s, n + 1);
    return d;
}

char *cli_xasprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    char *s = cli_xrealloc(NULL, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

const char cli_common_help[] =
    "  --root DIR          resource root: site-absolute targets (/img/x.webp) resolve against it;\n"
    "                      nothing outside it is read (default: the input file's folder)\n"
    "  --base-url URL      the site's address (canonical links, links to pages outside the output)\n"
    "  --untrusted         drop scripts, styles, event handlers and javascript: URLs from raw HTML\n"
    "  --lang LANG         language when the frontmatter has none (default: en)\n"
    "  --author NAME       author when the frontmatter has none\n"
    "  --paper a4|letter   PDF page size (default: a4)\n"
    "  --toc               a table of contents\n"
    "  --ragged            PDF: ragged-right text instead of justified\n"
    "  --no-cache          do not use the cache (converted images, font subsets, shaped words)\n"
    "  --cache-dir DIR     the cache (default: $XDG_CACHE_HOME/octavo)\n"
    "  --template FILE     an HTML page template replacing the built-in page (see README)\n"
    "  --set NAME=VALUE    any library option by name (see octavo_options_set)\n"
    "  -q, --quiet         no warnings\n"
    "  -v, --verbose       more messages\n";

void cli_common_init(cli_common *c) {
    memset(c, 0, sizeof *c);
    octavo_options_init(&c->opt, sizeof c->opt);
    c->opt.flags |= OCTAVO_TRUSTED; /* the CLI converts the user's own files */
    c->opt.diag = cli_diag;
    c->opt.diag_ud = c;
}

static const char *value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", cli_prog, argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* The template's text lives until the process ends (octavo_new copies it; the CLI makes one
 * handle per command). */
static char *template_text;
static void free_template(void) { free(template_text); }

static int read_template(cli_common *c, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s: cannot read the template: %s\n", cli_prog, path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    for (size_t r; b && (r = fread(b + n, 1, cap - n - 1, f)) > 0;) {
        n += r;
        if (n + 1 == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); b = NULL; }
            b = nb;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!b || bad) {
        free(b);
        fprintf(stderr, "%s: %s: cannot read the template\n", cli_prog, path);
        return -1;
    }
    b[n] = 0;
    if (!template_text) atexit(free_template);
    free(template_text);
    template_text = b;
    c->opt.html_template = template_text;
    return 0;
}

int cli_common_option(cli_common *c, int argc, char **argv, int *i) {
    const char *a = argv[*i], *v;
    static const struct { const char *flag, *name; } valued[] = {
        {"--root", "resource_root"}, {"--base-url", "base_url"}, {"--lang", "lang"},
        {"--author", "default_author"}, {"--paper", "paper"}, {"--cache-dir", "cache_dir"},
    };
    for (size_t k = 0; k < sizeof valued / sizeof *valued; k++) {
        if (strcmp(a, valued[k].flag)) continue;
        if (!(v = value(argc, argv, i))) return -1;
        if (octavo_options_set(&c->opt, valued[k].name, v)) {
            fprintf(stderr, "%s: invalid value for %s: '%s'\n", cli_prog, a, v);
            return -1;
        }
        return 1;
    }
    if (!strcmp(a, "--template")) {
        if (!(v = value(argc, argv, i))) return -1;
        return read_template(c, v) ? -1 : 1;
    }
    if (!strcmp(a, "--untrusted")) { c->opt.flags &= ~OCTAVO_TRUSTED; return 1; }
    if (!strcmp(a, "--trusted")) { c->opt.flags |= OCTAVO_TRUSTED; return 1; }
    if (!strcmp(a, "--toc")) { c->opt.flags |= OCTAVO_TOC; return 1; }
    if (!strcmp(a, "--ragged")) { c->opt.flags |= OCTAVO_RAGGED; return 1; }
    if (!strcmp(a, "--no-cache")) { c->opt.flags |= OCTAVO_NO_CACHE; return 1; }
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { c->quiet = 1; return 1; }
    if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) { c->verbose = 1; return 1; }
    if (!strcmp(a, "--set")) {
        if (!(v = value(argc, argv, i))) return -1;
        const char *eq = strchr(v, '=');
        char name[128];
        if (!eq || (size_t)(eq - v) >= sizeof name) {
            fprintf(stderr, "%s: --set wants NAME=VALUE, got '%s'\n", cli_prog, v);
            return -1;
        }
        memcpy(name, v, (size_t)(eq - v));
        name[eq - v] = 0;
        int rc = octavo_options_set(&c->opt, name, eq + 1);
        if (rc) {
            fprintf(stderr, "%s: --set %s: %s\n", cli_prog, v,
                    rc == OCTAVO_E_NOT_FOUND ? "no such option" : "invalid value");
            return -1;
        }
        return 1;
    }
    return 0;
}

int cli_diag_format(const octavo_diag *d, char *buf, size_t size) {
    const char *kind = d->severity == OCTAVO_WARNING ? "warning" : "note";
    if (d->file && *d->file && d->line)
        return snprintf(buf, size, "%s:%u:%u: %s: %s\n", d->file, d->line, d->column ? d->column : 1, kind, d->message);
    if (d->file && *d->file) return snprintf(buf, size, "%s: %s: %s\n", d->file, kind, d->message);
    return snprintf(buf, size, "%s: %s: %s\n", cli_prog, kind, d->message);
}

void cli_diag(void *ud, const octavo_diag *d) {
    cli_common *c = ud;
    if (c) c->warnings++;
    if (c && c->quiet) return;
    char buf[OCTAVO_ERROR_SIZE + OCTAVO_PATH_SIZE + 64];
    cli_diag_format(d, buf, sizeof buf);
    fputs(buf, stderr);
}

void cli_error(const octavo_error *err) {
    char buf[OCTAVO_ERROR_SIZE + OCTAVO_PATH_SIZE + 64];
    octavo_error_format(err, buf, sizeof buf);
    if (!err->file[0]) fprintf(stderr, "%s: %s\n", cli_prog, buf);
    else fprintf(stderr, "%s\n", buf);
}
