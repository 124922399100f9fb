/* Documents: source split, frontmatter, Markdown (cmark-gfm) and the rules every backend shares:
 * title, author, language and summary. Also the streaming loader.
 *
 * The AST holds the body only: cmark's line 1 is the original file's src.body_line, so a node's
 * line in the file is cmark_node_get_start_line(node) + src.body_line - 1. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmark-gfm.h>
#include <cmark-gfm-core-extensions.h>

#include "guard.h"
#include "internal.h"

/* ---- cmark-gfm setup: the extension registry is global in cmark-gfm, so register it once.
 *
 * cmark-gfm 0.29.0.gfm.6 (Debian 12) keeps the table of special inline characters in a global
 * that every parser changes while it parses inlines: each extension adds its characters (autolink
 * adds ':' and 'w') and removes them when done. Two threads parsing at once then lose autolinks at
 * random (found by tests/test_found_threads.c; github/cmark-gfm PR #176 keeps the table per parser,
 * later releases add locks). So parsing is serialised here; rendering the AST needs no lock. */
static pthread_once_t ext_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;
static void ext_register(void) { cmark_gfm_core_extensions_ensure_registered(); }

static const char *const extension_names[] = {"table", "strikethrough", "autolink", "tagfilter", "tasklist"};

#define OV_CMARK_OPTIONS (CMARK_OPT_SOURCEPOS | CMARK_OPT_FOOTNOTES | CMARK_OPT_UNSAFE)

static cmark_node *parse_markdown(const char *text, size_t len) {
    pthread_once(&ext_once, ext_register);
    pthread_mutex_lock(&parse_lock);
    cmark_node *doc = NULL;
    cmark_parser *p = cmark_parser_new(OV_CMARK_OPTIONS);
    if (p) {
        for (size_t i = 0; i < sizeof extension_names / sizeof *extension_names; i++) {
            cmark_syntax_extension *e = cmark_find_syntax_extension(extension_names[i]);
            if (e) cmark_parser_attach_syntax_extension(p, e);
        }
        cmark_parser_feed(p, text, len);
        doc = cmark_parser_finish(p);
        cmark_parser_free(p);
    }
    pthread_mutex_unlock(&parse_lock);
    return doc;
}

/* ---- plain text of inline content */

static void plain_text(cmark_node *root, ov_buf *b, int with_images) {
    cmark_iter *it = cmark_iter_new(root);
    cmark_event_type ev;
    int skip = 0; /* inside an image we leave out */
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *n = cmark_iter_get_node(it);
        cmark_node_type t = cmark_node_get_type(n);
        if (t == CMARK_NODE_IMAGE && !with_images) {
            skip += ev == CMARK_EVENT_ENTER ? 1 : -1;
            continue;
        }
        if (skip || ev != CMARK_EVENT_ENTER) continue;
        switch (t) {
        case CMARK_NODE_TEXT:
        case CMARK_NODE_CODE: {
            const char *s = cmark_node_get_literal(n);
            if (s) ov_buf_puts(b, s);
            break;
        }
        case CMARK_NODE_SOFTBREAK:
        case CMARK_NODE_LINEBREAK:
            ov_buf_putc(b, ' ');
            break;
        default:
            break;
        }
    }
    cmark_iter_free(it);
}

/* Collapses runs of white space to one space and trims, in place. */
static void collapse_ws(char *s) {
    char *w = s;
    int space = 1;
    for (char *r = s; *r; r++) {
        if (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r') {
            if (!space) *w++ = ' ';
            space = 1;
        } else {
            *w++ = *r;
            space = 0;
        }
    }
    if (w > s && w[-1] == ' ') w--;
    *w = 0;
}

static char *node_text(cmark_node *n) {
    ov_buf b;
    ov_buf_init(&b);
    ov_buf_put(&b, "", 0);
    plain_text(n, &b, 0);
    if (b.failed) { ov_buf_free(&b); return NULL; }
    char *s = ov_buf_detach(&b, NULL);
    collapse_ws(s);
    return s;
}

/* ---- limits on the parsed body: nesting and table sizes */

static int check_limits(octavo_doc *doc, octavo_error *err) {
    const octavo_limits *L = &doc->ov->opt.limits;
    cmark_iter *it = cmark_iter_new(doc->ast);
    if (!it) return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_MARKDOWN, doc->name, 0, 0, NULL);
    /* the ancestors of the current node; a node's depth is their count (EXIT events ignored, so
     * this does not depend on which node types the iterator treats as leaves) */
    size_t nesting = L->nesting < ((size_t)1 << 20) ? L->nesting : ((size_t)1 << 20);
    cmark_node **stack = ov_malloc((nesting + 3) * sizeof *stack);
    if (!stack) { cmark_iter_free(it); return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_MARKDOWN, doc->name, 0, 0, NULL); }
    cmark_event_type ev;
    size_t depth = 0;
    int rc = OCTAVO_OK;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        if (ev != CMARK_EVENT_ENTER) continue;
        cmark_node *n = cmark_iter_get_node(it), *parent = cmark_node_parent(n);
        while (depth && stack[depth - 1] != parent) depth--;
        stack[depth++] = n;
        const char *what = NULL;
        size_t limit = 0;
        if (depth > nesting + 1) { /* the document node is depth 1 */
            what = "nesting";
            limit = nesting;
        } else if (!strcmp(cmark_node_get_type_string(n), "table")) {
            size_t cols = cmark_gfm_extensions_get_table_columns(n), rows = 0;
            for (cmark_node *r = cmark_node_first_child(n); r; r = cmark_node_next(r)) rows++;
            if (cols > L->table_columns) { what = "table_columns"; limit = L->table_columns; }
            else if (cols && rows > L->table_cells / cols) { what = "table_cells"; limit = L->table_cells; }
        }
        if (what) {
            unsigned line = (unsigned)cmark_node_get_start_line(n), col = (unsigned)cmark_node_get_start_column(n);
            rc = ov_error(err, OCTAVO_E_LIMIT, OCTAVO_STAGE_MARKDOWN, doc->name,
                          line ? line + doc->src.body_line - 1 : 0, col, "the Markdown goes past limit.%s (%zu)",
                          what, limit);
            break;
        }
    }
    ov_free(stack);
    cmark_iter_free(it);
    return rc;
}

/* ---- the title rule */

static char *base_name_title(const char *name) {
    if (!name || !*name) return ov_strdup("Untitled");
    const char *s = strrchr(name, '/');
    s = s ? s + 1 : name;
    const char *dot = strrchr(s, '.');
    size_t n = dot && dot != s ? (size_t)(dot - s) : strlen(s);
    if (!n) return ov_strdup("Untitled");
    return ov_strndup(s, n);
}

/* The frontmatter's title, collapsed; 1 when there is one, 0 when none, -1 when out of memory. */
static int title_from_meta(octavo_doc *doc) {
    const char *t = octavo_meta_string(octavo_meta_get(doc->meta, "title"));
    if (!t) return 0;
    char *c = ov_strdup(t);
    if (!c) return -1;
    collapse_ws(c);
    if (*c) {
        doc->title = c;
        return 1;
    }
    ov_free(c);
    return 0;
}

/* The rest of the title rule, on the parsed body: its first heading, else the file name. */
static int title_from_body(octavo_doc *doc) {
    cmark_node *first = cmark_node_first_child(doc->ast), *h = NULL;
    cmark_iter *it = cmark_iter_new(doc->ast);
    if (!it) return OCTAVO_E_NOMEM;
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *n = cmark_iter_get_node(it);
        if (ev == CMARK_EVENT_ENTER && cmark_node_get_type(n) == CMARK_NODE_HEADING) { h = n; break; }
    }
    cmark_iter_free(it);
    if (h) {
        char *c = node_text(h);
        if (!c) return OCTAVO_E_NOMEM;
        if (*c) {
            doc->title = c;
            doc->title_from_heading = h == first;
            return OCTAVO_OK;
        }
        ov_free(c);
    }
    doc->title = base_name_title(doc->name);
    return doc->title ? OCTAVO_OK : OCTAVO_E_NOMEM;
}

/* ---- loading */

/* The byte offset of a 1-based line and column (in characters) of the original text, for errors
 * whose stage knew only the line and column. */
static size_t offset_of(const char *t, size_t len, unsigned line, unsigned col) {
    size_t i = (len >= 3 && !memcmp(t, "\xEF\xBB\xBF", 3)) ? 3 : 0;
    for (unsigned l = 1; l < line && i < len; i++) {
        if (t[i] == '\n' || (t[i] == '\r' && (i + 1 >= len || t[i + 1] != '\n'))) l++;
    }
    for (unsigned c = 1; c < col && i < len && t[i] != '\n' && t[i] != '\r'; c++) {
        i++;
        while (i < len && ((unsigned char)t[i] & 0xC0) == 0x80) i++;
    }
    return i;
}

void octavo_doc_free(octavo_doc *doc) {
    if (!doc) return;
    ov_model_free(doc);
    if (doc->ast) cmark_node_free(doc->ast);
    ov_meta_free(doc->meta);
    ov_free(doc->name);
    ov_free(doc->text);
    ov_free(doc->title);
    ov_free(doc->summary);
    ov_free(doc->author);
    ov_free(doc->authors);
    ov_free(doc);
}

static int set_author(octavo_doc *doc);

int octavo_doc_load(octavo *ov, const char *name, const void *data, size_t len, octavo_doc **out,
                    octavo_error *err) {
    if (out) *out = NULL;
    if (!ov || !out || (!data && len))
        return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_LOAD, name, 0, 0, "octavo_doc_load: a NULL argument");
    if (!name) name = "";
    if (ov->opt.limits.input_bytes && len > ov->opt.limits.input_bytes) /* before copying it */
        return ov_error(err, OCTAVO_E_LIMIT, OCTAVO_STAGE_LOAD, name, 0, 0,
                        "the source is %zu bytes, over limit.input_bytes (%zu)", len, ov->opt.limits.input_bytes);
    int rc;
    octavo_doc *doc = ov_calloc(1, sizeof *doc);
    if (!doc) return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_LOAD, name, 0, 0, NULL);
    doc->ov = ov;
    doc->name = ov_strdup(name);
    doc->text = ov_malloc(len + 1);
    if (!doc->name || !doc->text) { rc = OCTAVO_E_NOMEM; goto nomem; }
    if (len) memcpy(doc->text, data, len);
    doc->text[len] = 0;
    doc->len = len;

    if ((rc = ov_source_split(ov, name, doc->text, len, &doc->src, err))) goto fail;
    if ((rc = ov_meta_parse(ov, name, doc->text + doc->src.fm_start, doc->src.fm_len, doc->src.fm_line, &doc->meta,
                            err)))
        goto fail;
    /* bounds what cmark-gfm 0.29 would take too long or too much memory to parse (guard.c) */
    if ((rc = ov_markdown_guard(ov, name, doc->text + doc->src.body_start, len - doc->src.body_start,
                                doc->src.body_line, err)))
        goto fail;
    if ((rc = set_author(doc))) goto nomem;
    int titled = title_from_meta(doc);
    if (titled < 0) goto nomem;
    if (!titled && ((rc = ov_doc_parse(doc, err)) || (rc = title_from_body(doc)))) {
        if (rc == OCTAVO_E_NOMEM) goto nomem;
        goto fail;
    }
    *out = doc;
    return OCTAVO_OK;
nomem:
    rc = ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_LOAD, name, 0, 0, NULL);
fail:
    if (err && err->line && !err->offset && doc->text) err->offset = offset_of(doc->text, doc->len, err->line, err->column);
    octavo_doc_free(doc);
    return rc;
}

/* The body is parsed when first needed (see octavo_doc_load in octavo.h): a rebuild whose chapters
 * all come from the cache needs none of the 60 parse trees of a blog (measured: 8-13 ms of a warm
 * 60-post EPUB's ~37 went to loading, most of it cmark-gfm building trees nobody read). */
int ov_doc_parse(octavo_doc *doc, octavo_error *err) {
    if (doc->ast) return OCTAVO_OK;
    doc->ast = parse_markdown(doc->text + doc->src.body_start, doc->len - doc->src.body_start);
    if (!doc->ast) return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_MARKDOWN, doc->name, 0, 0, NULL);
    int rc = check_limits(doc, err);
    if (rc) {
        cmark_node_free(doc->ast);
        doc->ast = NULL;
        if (err && err->line && !err->offset) err->offset = offset_of(doc->text, doc->len, err->line, err->column);
    }
    return rc;
}

int octavo_doc_parse(octavo_doc *doc, octavo_error *err) {
    if (!doc) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_MARKDOWN, NULL, 0, 0, "octavo_doc_parse: no document");
    return ov_doc_parse(doc, err);
}

int octavo_doc_load_file(octavo *ov, const char *path, octavo_doc **out, octavo_error *err) {
    if (out) *out = NULL;
    if (!ov || !path || !out)
        return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_LOAD, path, 0, 0, "octavo_doc_load_file: a NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return ov_error(err, OCTAVO_E_IO, OCTAVO_STAGE_LOAD, path, 0, 0, "cannot open: %s", strerror(errno));
    struct stat st;
    size_t max = ov->opt.limits.input_bytes;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return ov_error(err, OCTAVO_E_IO, OCTAVO_STAGE_LOAD, path, 0, 0, "is a folder, not a file");
    }
    ov_buf b;
    ov_buf_init(&b);
    char chunk[65536];
    size_t n;
    int rc = OCTAVO_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > max) {
            rc = ov_error(err, OCTAVO_E_LIMIT, OCTAVO_STAGE_LOAD, path, 0, 0,
                          "the file is over limit.input_bytes (%zu)", max);
            break;
        }
        if (ov_buf_put(&b, chunk, n)) {
            rc = ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_LOAD, path, 0, 0, NULL);
            break;
        }
    }
    if (!rc && ferror(f)) rc = ov_error(err, OCTAVO_E_IO, OCTAVO_STAGE_LOAD, path, 0, 0, "read error: %s", strerror(errno));
    fclose(f);
    if (!rc) rc = octavo_doc_load(ov, path, b.data ? b.data : "", b.len, out, err);
    ov_buf_free(&b);
    return rc;
}

/* ---- streaming */

struct octavo_loader {
    octavo *ov;
    char *name;
    ov_buf buf;
    int code;     /* a failure met while feeding */
};

octavo_loader *octavo_loader_new(octavo *ov, const char *name) {
    if (!ov) return NULL;
    octavo_loader *ld = ov_calloc(1, sizeof *ld);
    if (!ld) return NULL;
    ld->ov = ov;
    ov_buf_init(&ld->buf);
    if (!(ld->name = ov_strdup(name ? name : ""))) { ov_free(ld); return NULL; }
    return ld;
}

void octavo_loader_free(octavo_loader *ld) {
    if (!ld) return;
    ov_buf_free(&ld->buf);
    ov_free(ld->name);
    ov_free(ld);
}

int octavo_loader_feed(octavo_loader *ld, const void *data, size_t len, octavo_error *err) {
    if (!ld || (!data && len)) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_LOAD, NULL, 0, 0, "octavo_loader_feed: a NULL argument");
    if (ld->code) return ov_error(err, ld->code, OCTAVO_STAGE_LOAD, ld->name, 0, 0, "the loader failed before");
    size_t max = ld->ov->opt.limits.input_bytes;
    if (len > max - ld->buf.len || ld->buf.len + len > max) {
        ld->code = OCTAVO_E_LIMIT;
        return ov_error(err, OCTAVO_E_LIMIT, OCTAVO_STAGE_LOAD, ld->name, 0, 0,
                        "the source is over limit.input_bytes (%zu)", max);
    }
    if (len && ov_buf_put(&ld->buf, data, len)) {
        ld->code = OCTAVO_E_NOMEM;
        return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_LOAD, ld->name, 0, 0, NULL);
    }
    return OCTAVO_OK;
}

int octavo_loader_finish(octavo_loader *ld, octavo_doc **out, octavo_error *err) {
    if (out) *out = NULL;
    if (!ld) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_LOAD, NULL, 0, 0, "octavo_loader_finish: no loader");
    int rc;
    if (!out) rc = ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_LOAD, ld->name, 0, 0, "octavo_loader_finish: no output");
    else if (ld->code) rc = ov_error(err, ld->code, OCTAVO_STAGE_LOAD, ld->name, 0, 0, "the loader failed before");
    else rc = octavo_doc_load(ld->ov, ld->name, ld->buf.data ? ld->buf.data : "", ld->buf.len, out, err);
    octavo_loader_free(ld);
    return rc;
}

/* ---- accessors */

const char *octavo_doc_name(const octavo_doc *doc) { return doc ? doc->name : NULL; }
const char *octavo_doc_title(const octavo_doc *doc) { return doc && doc->title ? doc->title : "Untitled"; }
const octavo_meta *octavo_doc_meta(const octavo_doc *doc) { return doc ? doc->meta : NULL; }

const char *octavo_doc_get(const octavo_doc *doc, const char *path) {
    return doc ? octavo_meta_string(octavo_meta_get(doc->meta, path)) : NULL;
}

int octavo_doc_date(const octavo_doc *doc, octavo_time *out) {
    if (!doc) return OCTAVO_E_ARG;
    return octavo_meta_time(octavo_meta_get(doc->meta, "date"), out);
}

static const char *nonempty(const char *s) { return s && *s ? s : NULL; }

const char *octavo_doc_author(const octavo_doc *doc) {
    if (!doc) return NULL;
    return doc->author ? doc->author : doc->ov->default_author;
}

size_t ov_doc_authors(const octavo_doc *doc, const char *const **names) {
    if (doc && doc->nauthors) {
        *names = doc->authors;
        return doc->nauthors;
    }
    *names = doc && doc->ov->default_author ? (const char *const *)&doc->ov->default_author : NULL;
    return *names ? 1 : 0;
}

/* An author entry: a string, or a map with a name ({name: X}). */
static const char *author_name(const octavo_meta *m) {
    const char *a = nonempty(octavo_meta_string(m));
    return a ? a : nonempty(octavo_meta_string(octavo_meta_get(m, "name")));
}

/* The author rule: `author` or `authors`, each a name, a {name: X} map or a list of them; a list
 * is joined "A, B and C" (names left out when empty). NULL: none. */
static int set_author(octavo_doc *doc) {
    static const char *const keys[] = {"author", "authors"};
    for (size_t k = 0; k < 2; k++) {
        const octavo_meta *m = octavo_meta_get(doc->meta, keys[k]);
        if (!m) continue;
        int seq = octavo_meta_kind(m) == OCTAVO_META_SEQ;
        size_t n = seq ? octavo_meta_count(m) : 1, named = 0;
        for (size_t i = 0; i < n; i++) named += author_name(seq ? octavo_meta_at(m, i) : m) != NULL;
        if (!named) continue;
        doc->authors = ov_calloc(named, sizeof *doc->authors);
        if (!doc->authors) return OCTAVO_E_NOMEM;
        ov_buf b;
        ov_buf_init(&b);
        for (size_t i = 0; i < n; i++) {
            const char *a = author_name(seq ? octavo_meta_at(m, i) : m);
            if (!a) continue;
            if (doc->nauthors) ov_buf_puts(&b, doc->nauthors + 1 == named ? " and " : ", ");
            ov_buf_puts(&b, a);
            doc->authors[doc->nauthors++] = a;
        }
        if (b.failed) { ov_buf_free(&b); return OCTAVO_E_NOMEM; }
        doc->author = ov_buf_detach(&b, NULL);
        return doc->author ? OCTAVO_OK : OCTAVO_E_NOMEM;
    }
    return OCTAVO_OK;
}

const char *octavo_doc_lang(const octavo_doc *doc) {
    if (!doc) return "en";
    const char *l = nonempty(octavo_meta_string(octavo_meta_get(doc->meta, "lang")));
    return l ? l : doc->ov->lang ? doc->ov->lang : "en";
}

/* Shortens s in place to about max characters, at a word boundary, with an ellipsis. */
static char *shorten(char *s, size_t max) {
    if (!max) return s;
    size_t chars = 0, i = 0, cut = 0, last_space = 0;
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) == 0x80) continue;
        if (chars == max) { cut = i; break; }
        if (s[i] == ' ') last_space = i;
        chars++;
    }
    if (!s[i]) return s;
    size_t end = last_space > max / 2 ? last_space : cut;
    for (;;) { /* no trailing punctuation, and no ellipsis of the text's own before ours */
        if (end > 0 && strchr(" ,;:-.", s[end - 1])) end--;
        else if (end >= 3 && !memcmp(s + end - 3, "\xE2\x80\xA6", 3)) end -= 3;
        else break;
    }
    char *r = ov_malloc(end + 4);
    if (!r) return s;
    memcpy(r, s, end);
    memcpy(r + end, "\xE2\x80\xA6", 4); /* U+2026 */
    ov_free(s);
    return r;
}

static int is_more_marker(cmark_node *n) {
    cmark_node_type t = cmark_node_get_type(n);
    if (t != CMARK_NODE_HTML_BLOCK && t != CMARK_NODE_HTML_INLINE) return 0;
    const char *s = cmark_node_get_literal(n);
    if (!s) return 0;
    const char *c = strstr(s, "<!--");
    if (!c) return 0;
    c += 4;
    while (*c == ' ' || *c == '\t') c++;
    return !strncmp(c, "more", 4);
}

const char *octavo_doc_summary(octavo_doc *doc, size_t max_chars) {
    if (!doc) return "";
    ov_free(doc->summary);
    doc->summary = NULL;
    const char *d = nonempty(octavo_meta_string(octavo_meta_get(doc->meta, "description")));
    if (!d) d = nonempty(octavo_meta_string(octavo_meta_get(doc->meta, "seo.description")));
    if (d) {
        doc->summary = ov_strdup(d);
        if (doc->summary) collapse_ws(doc->summary);
        return doc->summary ? doc->summary : "";
    }
    /* the text before <!-- more --> (top-level blocks, or inside the paragraph that holds it); a
     * body that cannot be parsed (a limit) has none */
    if (ov_doc_parse(doc, NULL)) return "";
    cmark_node *marker = NULL;
    cmark_iter *it = cmark_iter_new(doc->ast);
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *n = cmark_iter_get_node(it);
        if (ev == CMARK_EVENT_ENTER && is_more_marker(n)) { marker = n; break; }
    }
    cmark_iter_free(it);
    ov_buf b;
    ov_buf_init(&b);
    ov_buf_put(&b, "", 0);
    if (marker) {
        cmark_node *top = marker;
        while (cmark_node_parent(top) && cmark_node_parent(top) != doc->ast) top = cmark_node_parent(top);
        for (cmark_node *n = cmark_node_first_child(doc->ast); n && n != top; n = cmark_node_next(n)) {
            if (n == cmark_node_first_child(doc->ast) && doc->title_from_heading) continue;
            cmark_node_type t = cmark_node_get_type(n);
            if (t == CMARK_NODE_HTML_BLOCK || t == CMARK_NODE_CODE_BLOCK || t == CMARK_NODE_THEMATIC_BREAK) continue;
            plain_text(n, &b, 0);
            ov_buf_putc(&b, ' ');
        }
        if (top != marker) /* inline marker: the paragraph's text before it */
            for (cmark_node *n = cmark_node_first_child(top); n && n != marker; n = cmark_node_next(n)) plain_text(n, &b, 0);
    } else {
        it = cmark_iter_new(doc->ast);
        while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
            cmark_node *n = cmark_iter_get_node(it);
            if (ev != CMARK_EVENT_ENTER || cmark_node_get_type(n) != CMARK_NODE_PARAGRAPH) continue;
            size_t before = b.len;
            plain_text(n, &b, 0);
            /* a paragraph of nothing but images or HTML says nothing: take the next */
            int blank = 1;
            for (size_t i = before; i < b.len; i++)
                if (b.data[i] != ' ' && b.data[i] != '\t' && b.data[i] != '\n') { blank = 0; break; }
            if (!blank) break;
        }
        cmark_iter_free(it);
    }
    char *s = ov_buf_detach(&b, NULL); /* NULL when any of it failed */
    if (!s) return "";
    collapse_ws(s);
    doc->summary = marker ? s : shorten(s, max_chars);
    return doc->summary;
}
