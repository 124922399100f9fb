/*
 * One chapter: the model's DOM (HTML, already sanitised) -> an EPUB 3 XHTML content document that
 * epubcheck accepts.
 *
 * The model is HTML5 as a browser reads it; an EPUB content document is XML checked against the
 * HTML5 schema. So this writer does its own serialisation instead of libxml2's: every element is
 * looked up in a table of what EPUB XHTML allows (kept, renamed, unwrapped or dropped), attributes
 * are kept from a list (with values checked: numbers, enumerations, ids as XML names), text goes
 * out as UTF-8 with the five XML escapes only, and the content models that the schema checks are
 * kept: block elements met where only phrasing content is allowed become spans (a paragraph
 * holding blocks becomes a div), list items, cells and rows outside their containers become divs
 * or spans, and stray content inside lists and tables is wrapped in an item or a cell.
 *
 * Replacements: <iframe>, <video> and <audio> become a link to the media (a YouTube embed becomes
 * its watch page) with the title as text; task-list checkboxes become a ballot box character;
 * images are packed (epub.c) or become their alternative text, with a link for remote ones;
 * footnote references and notes get epub:type noteref / footnotes / footnote.
 * Links to other documents of the book point into the book; ids get the chapter's prefix ("c3-")
 * so that they are XML names and unique in the whole book.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "epub.h"

/* ---- the element table */
enum {
    E_VOID = 1 << 0,        /* empty: written as <x/> */
    E_PHRASING = 1 << 1,    /* phrasing content: allowed inside paragraphs */
    E_PCONTENT = 1 << 2,    /* its content is phrasing content */
    E_TRANSPARENT = 1 << 3, /* its content model is its parent's (a, del, ins) */
    E_DROP = 1 << 4,        /* dropped with its content */
    E_UNWRAP = 1 << 5,      /* the element goes, its content stays */
    E_SPECIAL = 1 << 6,     /* replaced by code of its own */
    E_HEADING = 1 << 7,
    E_ALIGN = 1 << 8,       /* an align attribute becomes text-align */
};

typedef struct elem {
    const char *name;
    const char *out;        /* the name written (NULL: the same) */
    unsigned flags;
    const char *parents;    /* the only parents allowed (" a b "), or NULL */
    const char *children;   /* the only element children allowed, or NULL */
    const char *wrap_open, *wrap_close; /* what wraps other children */
} elem;

#define P (E_PHRASING | E_PCONTENT)
static const elem elems[] = { /* sorted by name */
    {"a", NULL, E_PHRASING | E_TRANSPARENT | E_SPECIAL, NULL, NULL, NULL, NULL},
    {"abbr", NULL, P, NULL, NULL, NULL, NULL},
    {"acronym", "abbr", P, NULL, NULL, NULL, NULL},
    {"address", NULL, 0, NULL, NULL, NULL, NULL},
    {"applet", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"area", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"article", NULL, 0, NULL, NULL, NULL, NULL},
    {"aside", NULL, 0, NULL, NULL, NULL, NULL},
    {"audio", NULL, E_SPECIAL | E_PHRASING, NULL, NULL, NULL, NULL},
    {"b", NULL, P, NULL, NULL, NULL, NULL},
    {"base", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"basefont", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"bdi", NULL, P, NULL, NULL, NULL, NULL},
    {"bdo", "span", P, NULL, NULL, NULL, NULL},
    {"big", "span", P, NULL, NULL, NULL, NULL},
    {"blink", "span", P, NULL, NULL, NULL, NULL},
    {"blockquote", NULL, 0, NULL, NULL, NULL, NULL},
    {"body", NULL, E_UNWRAP, NULL, NULL, NULL, NULL},
    {"br", NULL, E_VOID | E_PHRASING, NULL, NULL, NULL, NULL},
    {"button", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"canvas", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"caption", NULL, E_ALIGN, " table ", NULL, NULL, NULL},
    {"center", "div", 0, NULL, NULL, NULL, NULL},
    {"cite", NULL, P, NULL, NULL, NULL, NULL},
    {"code", NULL, P, NULL, NULL, NULL, NULL},
    {"col", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"colgroup", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"data", "span", P, NULL, NULL, NULL, NULL},
    {"datalist", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"dd", NULL, 0, " dl ", NULL, NULL, NULL},
    {"del", NULL, E_PHRASING | E_TRANSPARENT, NULL, NULL, NULL, NULL},
    {"details", "div", 0, NULL, NULL, NULL, NULL},
    {"dfn", NULL, P, NULL, NULL, NULL, NULL},
    {"dialog", "div", 0, NULL, NULL, NULL, NULL},
    {"dir", "ul", 0, NULL, " li ", "<li>", "</li>"},
    {"div", NULL, E_ALIGN, NULL, NULL, NULL, NULL},
    {"dl", NULL, 0, NULL, " dt dd ", "<dd>", "</dd>"},
    {"dt", NULL, E_PCONTENT, " dl ", NULL, NULL, NULL},
    {"em", NULL, P, NULL, NULL, NULL, NULL},
    {"embed", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"fieldset", "div", 0, NULL, NULL, NULL, NULL},
    {"figcaption", NULL, 0, " figure ", NULL, NULL, NULL},
    {"figure", NULL, 0, NULL, NULL, NULL, NULL},
    {"font", "span", P, NULL, NULL, NULL, NULL},
    {"footer", NULL, 0, NULL, NULL, NULL, NULL},
    {"form", NULL, E_UNWRAP, NULL, NULL, NULL, NULL},
    {"frame", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"frameset", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"h1", NULL, E_PCONTENT | E_HEADING | E_ALIGN, NULL, NULL, NULL, NULL},
    {"h2", NULL, E_PCONTENT | E_HEADING | E_ALIGN, NULL, NULL, NULL, NULL},
    {"h3", NULL, E_PCONTENT | E_HEADING | E_ALIGN, NULL, NULL, NULL, NULL},
    {"h4", NULL, E_PCONTENT | E_HEADING | E_ALIGN, NULL, NULL, NULL, NULL},
    {"h5", NULL, E_PCONTENT | E_HEADING | E_ALIGN, NULL, NULL, NULL, NULL},
    {"h6", NULL, E_PCONTENT | E_HEADING | E_ALIGN, NULL, NULL, NULL, NULL},
    {"head", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"header", NULL, 0, NULL, NULL, NULL, NULL},
    {"hgroup", "div", 0, NULL, NULL, NULL, NULL},
    {"hr", NULL, E_VOID, NULL, NULL, NULL, NULL},
    {"html", NULL, E_UNWRAP, NULL, NULL, NULL, NULL},
    {"i", NULL, P, NULL, NULL, NULL, NULL},
    {"iframe", NULL, E_SPECIAL | E_PHRASING, NULL, NULL, NULL, NULL},
    {"img", NULL, E_SPECIAL | E_PHRASING | E_VOID, NULL, NULL, NULL, NULL},
    {"input", NULL, E_SPECIAL | E_PHRASING | E_VOID, NULL, NULL, NULL, NULL},
    {"ins", NULL, E_PHRASING | E_TRANSPARENT, NULL, NULL, NULL, NULL},
    {"kbd", NULL, P, NULL, NULL, NULL, NULL},
    {"label", "span", P, NULL, NULL, NULL, NULL},
    {"legend", "p", E_PCONTENT, NULL, NULL, NULL, NULL},
    {"li", NULL, 0, " ul ol ", NULL, NULL, NULL},
    {"link", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"listing", "pre", E_PCONTENT, NULL, NULL, NULL, NULL},
    {"main", "div", 0, NULL, NULL, NULL, NULL},
    {"map", NULL, E_UNWRAP, NULL, NULL, NULL, NULL},
    {"mark", NULL, P, NULL, NULL, NULL, NULL},
    {"marquee", "div", 0, NULL, NULL, NULL, NULL},
    {"math", NULL, E_SPECIAL | E_PHRASING, NULL, NULL, NULL, NULL},
    {"menu", "ul", 0, NULL, " li ", "<li>", "</li>"},
    {"meta", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"meter", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"nav", "div", 0, NULL, NULL, NULL, NULL},
    {"nobr", "span", P, NULL, NULL, NULL, NULL},
    {"noembed", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"noframes", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"noscript", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"object", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"ol", NULL, 0, NULL, " li ", "<li>", "</li>"},
    {"optgroup", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"option", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"output", "span", P, NULL, NULL, NULL, NULL},
    {"p", NULL, E_PCONTENT | E_ALIGN, NULL, NULL, NULL, NULL},
    {"param", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"picture", NULL, E_UNWRAP, NULL, NULL, NULL, NULL},
    {"plaintext", "pre", E_PCONTENT, NULL, NULL, NULL, NULL},
    {"pre", NULL, E_PCONTENT, NULL, NULL, NULL, NULL},
    {"progress", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"q", NULL, P, NULL, NULL, NULL, NULL},
    {"rb", "span", P, NULL, NULL, NULL, NULL},
    {"rp", NULL, P, " ruby ", NULL, NULL, NULL},
    {"rt", NULL, P, " ruby ", NULL, NULL, NULL},
    {"ruby", NULL, P, NULL, NULL, NULL, NULL},
    {"s", NULL, P, NULL, NULL, NULL, NULL},
    {"samp", NULL, P, NULL, NULL, NULL, NULL},
    {"script", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"section", NULL, 0, NULL, NULL, NULL, NULL},
    {"select", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"small", NULL, P, NULL, NULL, NULL, NULL},
    {"source", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"span", NULL, P, NULL, NULL, NULL, NULL},
    {"strike", "s", P, NULL, NULL, NULL, NULL},
    {"strong", NULL, P, NULL, NULL, NULL, NULL},
    {"style", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"sub", NULL, P, NULL, NULL, NULL, NULL},
    {"summary", "p", E_PCONTENT, NULL, NULL, NULL, NULL},
    {"sup", NULL, P, NULL, NULL, NULL, NULL},
    {"svg", NULL, E_SPECIAL | E_PHRASING, NULL, NULL, NULL, NULL},
    {"table", NULL, 0, NULL, " caption thead tbody tfoot tr ", "<tr><td>", "</td></tr>"},
    {"tbody", NULL, 0, " table ", " tr ", "<tr><td>", "</td></tr>"},
    {"td", NULL, E_ALIGN, " tr ", NULL, NULL, NULL},
    {"template", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"textarea", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"tfoot", NULL, 0, " table ", " tr ", "<tr><td>", "</td></tr>"},
    {"th", NULL, E_ALIGN, " tr ", NULL, NULL, NULL},
    {"thead", NULL, 0, " table ", " tr ", "<tr><td>", "</td></tr>"},
    {"time", "span", P, NULL, NULL, NULL, NULL},
    {"title", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"tr", NULL, 0, " table thead tbody tfoot ", " td th ", "<td>", "</td>"},
    {"track", NULL, E_DROP, NULL, NULL, NULL, NULL},
    {"tt", "code", P, NULL, NULL, NULL, NULL},
    {"u", NULL, P, NULL, NULL, NULL, NULL},
    {"ul", NULL, 0, NULL, " li ", "<li>", "</li>"},
    {"var", NULL, P, NULL, NULL, NULL, NULL},
    {"video", NULL, E_SPECIAL | E_PHRASING, NULL, NULL, NULL, NULL},
    {"wbr", NULL, E_VOID | E_PHRASING, NULL, NULL, NULL, NULL},
    {"xmp", "pre", E_PCONTENT, NULL, NULL, NULL, NULL},
};
#undef P

/* Elements we do not know: their content stays. */
static const elem unknown_elem = {"", NULL, E_UNWRAP, NULL, NULL, NULL, NULL};

static int elem_cmp(const void *k, const void *e) { return strcmp(k, ((const elem *)e)->name); }

static const elem *lookup(xmlNodePtr n) {
    const char *name = (const char *)n->name;
    char low[16];
    size_t i = 0;
    for (; name[i] && i < sizeof low - 1; i++) low[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    if (name[i]) return &unknown_elem;
    low[i] = 0;
    const elem *e = bsearch(low, elems, sizeof elems / sizeof *elems, sizeof *elems, elem_cmp);
    return e ? e : &unknown_elem;
}

static const char *out_name(const elem *e) { return e->out ? e->out : e->name; }

static int in_list(const char *list, const char *name) {
    if (!list) return 1;
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p++)
        if (p[-1] == ' ' && p[n] == ' ') return 1;
    return 0;
}

/* ---- text */
void ov_epub_put_text(ov_buf *b, const char *s, size_t n, int attr) {
    size_t start = 0, i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        size_t len = 1;
        int skip = 0;
        if (c == '&') rep = "&amp;";
        else if (c == '<') rep = "&lt;";
        else if (c == '>') rep = "&gt;";
        else if (c == '"' && attr) rep = "&quot;";
        else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') skip = 1;
        else if (c == '\r' || ((c == '\n' || c == '\t') && attr)) rep = c == '\r' ? "&#13;" : c == '\n' ? "&#10;" : "&#9;";
        else if (c >= 0x80) {
            uint32_t cp;
            int l = ov_utf8_decode(s + i, n - i, &cp);
            if (l <= 0) { skip = 1; }
            else {
                len = (size_t)l;
                /* not XML characters: U+FFFE, U+FFFF, surrogates, C1 controls are allowed but
                 * discouraged; keep them out as well */
                if (cp == 0xFFFE || cp == 0xFFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp <= 0x9F))
                    skip = 1;
            }
        }
        if (rep || skip) {
            ov_buf_put(b, s + start, i - start);
            if (rep) ov_buf_puts(b, rep);
            i += len;
            start = i;
        } else {
            i += len;
        }
    }
    ov_buf_put(b, s + start, n - start);
}

static void put_esc(ov_buf *b, const char *s, int attr) { if (s) ov_epub_put_text(b, s, strlen(s), attr); }

int ov_epub_lang_ok(const char *s) {
    if (!s || !*s) return 0;
    size_t part = 0, i = 0, nparts = 0;
    for (;; i++) {
        char c = s[i];
        if (c == '-' || c == 0) {
            if (part == 0 || part > 8) return 0;
            /* the primary language: 2-3 letters, 5-8 registered, or the singletons x- and i- */
            if (nparts == 0 && (part == 4 || (part == 1 && (!c || !strchr("xXiI", s[0]))))) return 0;
            nparts++;
            part = 0;
            if (!c) break;
            continue;
        }
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        int digit = c >= '0' && c <= '9';
        if (nparts == 0 ? !alpha : !(alpha || digit)) return 0;
        part++;
    }
    return i < 64;
}

/* ---- the walk */
typedef struct walker {
    ov_epub *e;
    ov_epub_chapter *c;
    int emit;
    ov_buf *b;
    size_t id_cur, img_cur;
    int rc;
} walker;

typedef struct ctx {
    int phrasing;              /* only phrasing content is allowed here */
    int in_a;                  /* inside a link: no interactive content */
    int in_notes;              /* inside the footnotes section */
    const char *parent;        /* the name of the enclosing element as written */
    const elem *container;     /* the enclosing element when it restricts its children */
} ctx;

static void walk_children(walker *w, xmlNodePtr parent, ctx c);

static char *attr(xmlNodePtr n, const char *name) { return (char *)xmlGetProp(n, (const xmlChar *)name); }

/* An attribute's value without copying it, when it is one text node (the parser's usual result);
 * NULL when absent or stored otherwise. */
static const char *attr_ref(xmlNodePtr n, const char *name) {
    for (xmlAttrPtr a = n->properties; a; a = a->next)
        if (!a->ns && !strcmp((const char *)a->name, name)) {
            xmlNodePtr t = a->children;
            if (!t) return "";
            if (t->type == XML_TEXT_NODE && !t->next) return (const char *)t->content;
            return NULL;
        }
    return NULL;
}

static int has_class(xmlNodePtr n, const char *cls) {
    if (!xmlHasProp(n, (const xmlChar *)"class")) return 0;
    const char *ref = attr_ref(n, "class");
    char *v = ref ? NULL : attr(n, "class");
    const char *s = ref ? ref : v;
    int found = 0;
    if (s) {
        size_t l = strlen(cls);
        for (const char *p = s; (p = strstr(p, cls)); p++)
            if ((p == s || p[-1] == ' ') && (p[l] == 0 || p[l] == ' ')) { found = 1; break; }
    }
    xmlFree(v);
    return found;
}

static int is_space(const char *s) {
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != '\f') return 0;
    return 1;
}

/* A warning of the second walk, also recorded for the chapter cache (code, line, column and
 * message, each ended by a NUL; epub_cache.c gives them again). */
static void warn_at(walker *w, xmlNodePtr n, int code, const char *fmt, const char *arg) {
    if (!w->emit) return;
    unsigned line = 0, col = 0;
    ov_model_position(w->c->doc, n, &line, &col);
    char msg[OCTAVO_ERROR_SIZE];
    snprintf(msg, sizeof msg, fmt, arg ? arg : "");
    ov_warn(w->e->ov, code, w->c->doc->name, line, col, "%s", msg);
    if (w->e->cached) {
        ov_buf *r = &w->c->warns;
        ov_buf_printf(r, "%d%c%u%c%u%c", code, 0, line, 0, col, 0);
        ov_buf_put(r, msg, strlen(msg) + 1);
    }
}

/* An id as an XML name unique in the chapter, with the chapter's prefix. */
static int name_char(uint32_t cp) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') || cp == '-' ||
           cp == '_' || cp == '.' || cp == 0xB7 || (cp >= 0xC0 && cp <= 0xD6) || (cp >= 0xD8 && cp <= 0xF6) ||
           (cp >= 0xF8 && cp <= 0x37D) || (cp >= 0x37F && cp <= 0x1FFF) || cp == 0x200C || cp == 0x200D ||
           cp == 0x203F || cp == 0x2040 || (cp >= 0x2070 && cp <= 0x218F) || (cp >= 0x2C00 && cp <= 0x2FEF) ||
           (cp >= 0x3001 && cp <= 0xD7FF) || (cp >= 0xF900 && cp <= 0xFDCF) || (cp >= 0xFDF0 && cp <= 0xFFFD) ||
           (cp >= 0x10000 && cp <= 0xEFFFF);
}

/* ---- the chapter's ids, hashed both ways: a document may hold many thousands */
static size_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)(h ^ (h >> 29));
}

/* The slot of key in table (by orig or by id), or of the empty slot where it would go. */
static size_t *slot(const ov_epub_chapter *c, size_t *table, int by_orig, const char *key) {
    size_t mask = c->hcap - 1;
    for (size_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
        size_t v = table[i];
        if (!v) return &table[i];
        const ov_epub_id *e = &c->ids[v - 1];
        if (!strcmp(by_orig ? e->orig : e->id, key)) return &table[i];
    }
}

static void index_one(ov_epub_chapter *c, size_t i) {
    size_t *o = slot(c, c->by_orig, 1, c->ids[i].orig);
    if (!*o) *o = i + 1; /* the first element with an id wins, as in a browser */
    size_t *d = slot(c, c->by_id, 0, c->ids[i].id);
    if (!*d) *d = i + 1;
}

/* Room for one more id (the tables stay at most half full). */
static int index_grow(ov_epub_chapter *c) {
    if ((c->nids + 1) * 2 <= c->hcap) return 0;
    size_t cap = c->hcap ? c->hcap * 2 : 64;
    size_t *a = ov_calloc(cap, sizeof *a), *b = ov_calloc(cap, sizeof *b);
    if (!a || !b) { ov_free(a); ov_free(b); return -1; }
    ov_free(c->by_orig);
    ov_free(c->by_id);
    c->by_orig = a;
    c->by_id = b;
    c->hcap = cap;
    for (size_t i = 0; i < c->nids; i++) index_one(c, i);
    return 0;
}

static char *make_id(ov_epub_chapter *c, const char *orig) {
    ov_buf b;
    ov_buf_init(&b);
    ov_buf_printf(&b, "c%zu-", c->index);
    size_t n = strlen(orig);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = ov_utf8_decode(orig + i, n - i, &cp);
        if (l <= 0) { i++; continue; }
        if (name_char(cp)) ov_buf_put(&b, orig + i, (size_t)l);
        else ov_buf_putc(&b, '_');
        i += (size_t)l;
    }
    size_t base = b.len;
    for (int k = 2; !b.failed && c->hcap && *slot(c, c->by_id, 0, b.data); k++) {
        b.len = base;
        ov_buf_printf(&b, "-%d", k);
    }
    return ov_buf_detach(&b, NULL);
}

/* Room for one more id, in the array and the tables. */
static int id_room(ov_epub_chapter *c) {
    if (c->nids == c->capids) {
        size_t cap = c->capids ? c->capids * 2 : 32;
        ov_epub_id *v = ov_realloc(c->ids, cap * sizeof *v);
        if (!v) return -1;
        c->ids = v;
        c->capids = cap;
    }
    return index_grow(c);
}

static void id_push(ov_epub_chapter *c, char *orig, char *id) {
    c->ids[c->nids].orig = orig;
    c->ids[c->nids].id = id;
    index_one(c, c->nids++);
}

const char *ov_epub_id_lookup(const ov_epub_chapter *c, const char *orig) {
    if (!c->hcap) return NULL;
    size_t v = *slot(c, c->by_orig, 1, orig);
    return v ? c->ids[v - 1].id : NULL;
}

/* The id an element keeps (collected on the first walk, read back on the second), or NULL. */
static const char *take_id(walker *w, xmlNodePtr n, const char *orig) {
    if (!orig || !*orig) return NULL;
    ov_epub_chapter *c = w->c;
    if (w->emit) return w->id_cur < c->nids ? c->ids[w->id_cur++].id : NULL;
    if (id_room(c)) { w->rc = OCTAVO_E_NOMEM; return NULL; }
    char *o = ov_strdup(orig), *id = make_id(c, orig);
    if (!o || !id) { ov_free(o); ov_free(id); w->rc = OCTAVO_E_NOMEM; return NULL; }
    id_push(c, o, id);
    return id;
}

int ov_epub_id_add(ov_epub_chapter *c, const char *orig, const char *id) {
    if (id_room(c)) return OCTAVO_E_NOMEM;
    char *o = ov_strdup(orig), *i = ov_strdup(id);
    if (!o || !i) { ov_free(o); ov_free(i); return OCTAVO_E_NOMEM; }
    id_push(c, o, i);
    return OCTAVO_OK;
}

static void add_section(walker *w, xmlNodePtr n, const char *id) {
    ov_epub_chapter *c = w->c;
    const octavo_doc *d = c->doc;
    if (w->emit || !id) return;
    for (size_t i = 0; i < d->nheadings; i++) {
        if (d->headings[i].node != n) continue;
        char *text = d->headings[i].text && *d->headings[i].text ? ov_strdup(d->headings[i].text) : ov_model_text(n);
        if (!text) { w->rc = OCTAVO_E_NOMEM; return; }
        if (is_space(text)) { ov_free(text); return; }
        if (c->nsecs == c->capsecs) {
            size_t cap = c->capsecs ? c->capsecs * 2 : 16;
            ov_epub_section *v = ov_realloc(c->secs, cap * sizeof *v);
            if (!v) { ov_free(text); w->rc = OCTAVO_E_NOMEM; return; }
            c->secs = v;
            c->capsecs = cap;
        }
        int level = d->headings[i].level;
        c->secs[c->nsecs].id = id;
        c->secs[c->nsecs].text = text;
        c->secs[c->nsecs].level = level < 2 ? 2 : level > 6 ? 6 : level;
        c->nsecs++;
        return;
    }
}

/* The source's id of an element: id, else the name of an old-style anchor, else the id the model
 * gave a heading without writing it. */
static char *source_id(walker *w, xmlNodePtr n, const char *name) {
    char *id = n->properties ? attr(n, "id") : NULL;
    if (id && *id) return id;
    xmlFree(id);
    if (!strcmp(name, "a")) {
        id = attr(n, "name");
        if (id && *id) return id;
        xmlFree(id);
    }
    if (name[0] == 'h' && name[1] >= '1' && name[1] <= '6' && !name[2]) {
        const octavo_doc *d = w->c->doc;
        for (size_t i = 0; i < d->nheadings; i++)
            if (d->headings[i].node == n && d->headings[i].id) return (char *)xmlStrdup((const xmlChar *)d->headings[i].id);
    }
    return NULL;
}

/* ---- URLs */

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A URL as epubcheck wants it: spaces, quotes, non-ASCII bytes and the like percent-encoded, a
 * second '#' encoded, lone '%' encoded. */
static void put_url(ov_buf *b, const char *u) {
    static const char hex[] = "0123456789ABCDEF";
    ov_buf t;
    ov_buf_init(&t);
    int hash = 0;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++) {
        unsigned c = *p;
        int enc = c <= 0x20 || c >= 0x7F || strchr("\"<>\\^`{|}", (int)c);
        if (c == '#') { if (hash) enc = 1; hash = 1; }
        if (c == '%' && (hexval(p[1]) < 0 || hexval(p[2]) < 0)) enc = 1;
        if (enc) {
            ov_buf_putc(&t, '%');
            ov_buf_putc(&t, hex[c >> 4]);
            ov_buf_putc(&t, hex[c & 15]);
        } else {
            ov_buf_putc(&t, (int)c);
        }
    }
    if (t.data) ov_epub_put_text(b, t.data, t.len, 1);
    ov_buf_free(&t);
}

/* Decodes %XX in place. */
static void pct_decode(char *s) {
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            *o++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
}

/* Whether frag names the heading that became the chapter's title (the body leaves it out). */
static int is_title_anchor(const ov_epub_chapter *c, const char *frag) {
    if (!c->doc->title_from_heading) return 0;
    char *slug = ov_slug(octavo_doc_title(c->doc));
    int same = slug && !strcmp(slug, frag);
    ov_free(slug);
    return same;
}

/* Where a link goes in the book. Returns 1 with the new target in out, 0 when the link is to be
 * dropped (its text kept), after a warning. */
static int link_target(walker *w, xmlNodePtr n, const char *href, ov_buf *out) {
    ov_epub *e = w->e;
    if (!*href) return 0;
    if (href[0] == '/' && href[1] == '/') {
        ov_buf_puts(out, "https:");
        ov_buf_puts(out, href);
        return 1;
    }
    if (ov_url_has_scheme(href)) {
        if (!strncasecmp(href, "javascript:", 11) || !strncasecmp(href, "vbscript:", 9) ||
            !strncasecmp(href, "data:", 5) || !strncasecmp(href, "file:", 5)) {
            warn_at(w, n, OCTAVO_E_RESOURCE, "link to '%.60s' dropped: not allowed in a book", href);
            return 0;
        }
        ov_buf_puts(out, href);
        return 1;
    }
    const char *hash = strchr(href, '#');
    if (href[0] == '#') {
        char *frag = ov_strdup(href + 1);
        if (!frag) { w->rc = OCTAVO_E_NOMEM; return 0; }
        pct_decode(frag);
        const char *id = ov_epub_id_lookup(w->c, frag);
        if (!id && (!*frag || is_title_anchor(w->c, frag))) {
            ov_free(frag);
            ov_buf_printf(out, "#c%zu", w->c->index);
            return 1;
        }
        ov_free(frag);
        if (!id) {
            warn_at(w, n, OCTAVO_E_NOT_FOUND, "link to '%.200s' dropped: no such anchor in the document", href);
            return 0;
        }
        ov_buf_putc(out, '#');
        ov_buf_puts(out, id);
        return 1;
    }
    /* a local path: another document of the book? */
    size_t plen = strcspn(href, "?#");
    char *path = ov_strndup(href, plen);
    if (!path) { w->rc = OCTAVO_E_NOMEM; return 0; }
    pct_decode(path);
    ov_epub_chapter *to = ov_epub_find_chapter(e, w->c, path);
    ov_free(path);
    if (to) {
        ov_buf_puts(out, to->file);
        if (hash && hash[1]) {
            char *frag = ov_strdup(hash + 1);
            if (!frag) { w->rc = OCTAVO_E_NOMEM; return 0; }
            pct_decode(frag);
            const char *id = ov_epub_id_lookup(to, frag);
            if (id) {
                ov_buf_putc(out, '#');
                ov_buf_puts(out, id);
            } else if (!is_title_anchor(to, frag)) {
                warn_at(w, n, OCTAVO_E_NOT_FOUND, "link to '%.200s': no such anchor; it points to the chapter", href);
            }
            ov_free(frag);
        }
        return 1;
    }
    if (href[0] == '/' && e->ov->base_url) {
        ov_buf_puts(out, e->ov->base_url);
        ov_buf_puts(out, href + 1);
        return 1;
    }
    warn_at(w, n, OCTAVO_E_NOT_FOUND,
            href[0] == '/' ? "link to '%.200s' dropped: not in the book, and no base URL to make it absolute"
                           : "link to '%.200s' dropped: not in the book",
            href);
    return 0;
}

/* ---- writing elements */
static void open_tag(walker *w, const char *name) {
    if (!w->emit) return;
    ov_buf_putc(w->b, '<');
    ov_buf_puts(w->b, name);
}
static void put_attr(walker *w, const char *name, const char *value) {
    if (!w->emit || !value) return;
    ov_buf_putc(w->b, ' ');
    ov_buf_puts(w->b, name);
    ov_buf_puts(w->b, "=\"");
    put_esc(w->b, value, 1);
    ov_buf_putc(w->b, '"');
}
static void end_open(walker *w, int empty) { if (w->emit) ov_buf_puts(w->b, empty ? "/>" : ">"); }
static void close_tag(walker *w, const char *name) {
    if (!w->emit) return;
    ov_buf_puts(w->b, "</");
    ov_buf_puts(w->b, name);
    ov_buf_putc(w->b, '>');
}
static void raw(walker *w, const char *s) { if (w->emit) ov_buf_puts(w->b, s); }
static void text(walker *w, const char *s) { if (w->emit) put_esc(w->b, s, 0); }

static int is_int(const char *s, int neg_ok) {
    if (!s || !*s) return 0;
    if (*s == '-' && neg_ok) s++;
    if (!*s || strlen(s) > 9) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

/* The attributes kept: global ones and a few per element, values checked. */
static void put_attrs(walker *w, xmlNodePtr n, const char *oname, const elem *el) {
    if (!w->emit) return;
    const char *align = NULL;
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        const char *an = (const char *)a->name;
        if (!strcmp(an, "id") || !strcmp(an, "href") || !strcmp(an, "src")) continue;
        char *v = (char *)xmlNodeListGetString(n->doc, a->children, 1);
        const char *val = v ? v : "";
        int keep = 0;
        if (!strcmp(an, "class")) keep = !is_space(val);
        else if (!strcmp(an, "title")) keep = 1;
        else if (!strcmp(an, "lang")) keep = ov_epub_lang_ok(val);
        else if (!strcmp(an, "dir")) keep = !strcmp(val, "ltr") || !strcmp(val, "rtl") || !strcmp(val, "auto");
        else if (!strcmp(an, "aria-label")) keep = *val != 0;
        else if (!strcmp(an, "aria-hidden")) keep = !strcmp(val, "true") || !strcmp(val, "false");
        else if (!strcmp(an, "align") && (el->flags & E_ALIGN)) {
            if (!strcasecmp(val, "left")) align = "text-align: left";
            else if (!strcasecmp(val, "right")) align = "text-align: right";
            else if (!strcasecmp(val, "center")) align = "text-align: center";
            else if (!strcasecmp(val, "justify")) align = "text-align: justify";
        } else if (!strcmp(oname, "ol")) {
            if (!strcmp(an, "start")) keep = is_int(val, 1);
            else if (!strcmp(an, "reversed")) { xmlFree(v); v = NULL; put_attr(w, "reversed", "reversed"); continue; }
            else if (!strcmp(an, "type")) keep = !strcmp(val, "1") || !strcmp(val, "a") || !strcmp(val, "A") ||
                                                 !strcmp(val, "i") || !strcmp(val, "I");
        } else if (!strcmp(oname, "li")) {
            keep = !strcmp(an, "value") && is_int(val, 1) && n->parent && n->parent->name &&
                   !strcasecmp((const char *)n->parent->name, "ol");
        } else if (!strcmp(oname, "td") || !strcmp(oname, "th")) {
            if (!strcmp(an, "colspan")) keep = is_int(val, 0) && atoi(val) >= 1 && atoi(val) <= 1000;
            else if (!strcmp(an, "rowspan")) keep = is_int(val, 0) && atoi(val) <= 65534;
            else if (!strcmp(an, "scope") && !strcmp(oname, "th"))
                keep = !strcmp(val, "row") || !strcmp(val, "col") || !strcmp(val, "rowgroup") || !strcmp(val, "colgroup");
        }
        if (keep) put_attr(w, an, val);
        xmlFree(v);
    }
    if (align) put_attr(w, "style", align);
}

/* The id an element keeps. Taken before any decision that depends on the context, so that both
 * walks take the same ids in the same order. */
static const char *get_id(walker *w, xmlNodePtr n, const char *name) {
    char *src = source_id(w, n, name);
    const char *id = take_id(w, n, src);
    xmlFree(src);
    if (id && name[0] == 'h' && name[1] >= '2' && name[1] <= '6' && !name[2]) add_section(w, n, id);
    return id;
}

/* Whether a paragraph holds blocks (then it is written as a div). */
static int has_block_child(xmlNodePtr n) {
    for (xmlNodePtr k = n->children; k; k = k->next) {
        if (k->type != XML_ELEMENT_NODE) continue;
        const elem *el = lookup(k);
        if (el->flags & E_DROP) continue;
        if (el->flags & E_UNWRAP) {
            if (has_block_child(k)) return 1;
            continue;
        }
        if (!(el->flags & E_PHRASING)) return 1;
    }
    return 0;
}

/* A video's page from its embed address. */
static void media_url(const char *src, ov_buf *out) {
    const char *s = src;
    if (s[0] == '/' && s[1] == '/') s += 2;
    else if (!strncasecmp(s, "https://", 8)) s += 8;
    else if (!strncasecmp(s, "http://", 7)) s += 7;
    else { ov_buf_puts(out, src); return; }
    static const char *const yt[] = {"www.youtube.com/embed/", "youtube.com/embed/", "www.youtube-nocookie.com/embed/",
                                     "youtube-nocookie.com/embed/", "m.youtube.com/embed/"};
    for (size_t i = 0; i < sizeof yt / sizeof *yt; i++) {
        size_t l = strlen(yt[i]);
        if (!strncasecmp(s, yt[i], l) && s[l] && s[l] != '?') {
            size_t idl = strcspn(s + l, "?#/&");
            ov_buf_puts(out, "https://www.youtube.com/watch?v=");
            ov_buf_put(out, s + l, idl);
            return;
        }
    }
    if (!strncasecmp(s, "player.vimeo.com/video/", 23)) {
        ov_buf_puts(out, "https://vimeo.com/");
        ov_buf_put(out, s + 23, strcspn(s + 23, "?#/&"));
        return;
    }
    if (src[0] == '/' && src[1] == '/') ov_buf_puts(out, "https:");
    ov_buf_puts(out, src);
}

/* <iframe>, <video>, <audio>: a link to the media, in a paragraph where blocks are allowed. */
static void walk_media(walker *w, xmlNodePtr n, const char *name, ctx c) {
    char *src = attr(n, "src");
    if ((!src || !*src) && strcmp(name, "iframe")) {
        for (xmlNodePtr k = n->children; k && (!src || !*src); k = k->next)
            if (k->type == XML_ELEMENT_NODE && !strcasecmp((const char *)k->name, "source")) {
                xmlFree(src);
                src = attr(k, "src");
            }
    }
    char *title = attr(n, "title");
    if (!title || is_space(title)) { xmlFree(title); title = attr(n, "aria-label"); }
    const char *label = title && !is_space(title) ? title : !strcmp(name, "audio") ? "Audio" : "Video";
    if (w->emit) {
        ov_buf url;
        ov_buf_init(&url);
        int linked = 0;
        if (src && *src && !c.in_a) {
            ov_buf tmp;
            ov_buf_init(&tmp);
            media_url(src, &tmp);
            if (tmp.data && (ov_url_has_scheme(tmp.data) || tmp.data[0] == '/')) {
                if (ov_url_has_scheme(tmp.data)) { ov_buf_puts(&url, tmp.data); linked = 1; }
                else linked = link_target(w, n, tmp.data, &url);
            }
            ov_buf_free(&tmp);
        }
        if (!c.phrasing) raw(w, "<p class=\"media\">");
        if (linked && url.data) {
            raw(w, "<a href=\"");
            put_url(w->b, url.data);
            raw(w, "\">");
            text(w, label);
            raw(w, "</a>");
        } else {
            raw(w, "<span class=\"media\">");
            text(w, label);
            raw(w, "</span>");
        }
        if (!c.phrasing) raw(w, "</p>");
        ov_buf_free(&url);
    }
    xmlFree(src);
    xmlFree(title);
}

static void walk_img(walker *w, xmlNodePtr n, ctx c) {
    ov_epub *e = w->e;
    char *src = attr(n, "src");
    char *alt = attr(n, "alt");
    char *title = attr(n, "title");
    int idx = -1;
    if (!w->emit) {
        ov_epub_chapter *ch = w->c;
        if (!alt || is_space(alt)) ch->imgs_no_alt++;
        if (src && *src) idx = ov_epub_image_ref(e, w->c, src);
        if (e->cached && ov_epub_img_src_add(ch, src && *src ? src : NULL)) { w->rc = OCTAVO_E_NOMEM; goto done; }
        if (ch->nimgs == ch->capimgs) {
            size_t cap = ch->capimgs ? ch->capimgs * 2 : 8;
            int *v = ov_realloc(ch->imgs, cap * sizeof *v);
            if (!v) { w->rc = OCTAVO_E_NOMEM; goto done; }
            ch->imgs = v;
            ch->capimgs = cap;
        }
        ch->imgs[ch->nimgs++] = idx;
        goto done;
    }
    idx = w->img_cur < w->c->nimgs ? w->c->imgs[w->img_cur++] : -1;
    const char *alt_text = alt && !is_space(alt) ? alt : title && !is_space(title) ? title : NULL;
    if (idx >= 0) {
        ov_epub_image *im = &e->img[idx];
        if (im->alias >= 0) im = &e->img[im->alias];
        if (im->code == OCTAVO_OK && im->href) {
            raw(w, "<img src=\"");
            put_url(w->b, im->href);
            raw(w, "\" alt=\"");
            put_esc(w->b, alt ? alt : "", 1);
            raw(w, "\"");
            if (title && !is_space(title)) put_attr(w, "title", title);
            raw(w, "/>");
            goto done;
        }
        warn_at(w, n, im->code ? im->code : OCTAVO_E_RESOURCE, "%s; its alternative text stands in", im->message);
        if (alt_text) {
            raw(w, "<span class=\"missing-image\">");
            text(w, alt_text);
            raw(w, "</span>");
        }
        goto done;
    }
    /* remote (or a data: URL): its alternative text, with a link to it */
    if (src && ov_url_has_scheme(src) && !strncasecmp(src, "data:", 5)) {
        if (alt_text) text(w, alt_text);
        goto done;
    }
    if (src && *src && !c.in_a) {
        raw(w, "<a class=\"remote-image\" href=\"");
        if (src[0] == '/' && src[1] == '/') raw(w, "https:");
        put_url(w->b, src);
        raw(w, "\">");
        text(w, alt_text ? alt_text : "Image");
        raw(w, "</a>");
    } else if (alt_text) {
        text(w, alt_text);
    }
done:
    xmlFree(src);
    xmlFree(alt);
    xmlFree(title);
}

static int is_noteref(xmlNodePtr n) {
    if (xmlHasProp(n, (const xmlChar *)"data-footnote-ref") || has_class(n, "footnote-ref")) return 1;
    xmlNodePtr p = n->parent;
    return p && p->type == XML_ELEMENT_NODE && !strcasecmp((const char *)p->name, "sup") && has_class(p, "footnote-ref");
}

static int is_backref(xmlNodePtr n) {
    return xmlHasProp(n, (const xmlChar *)"data-footnote-backref") || has_class(n, "footnote-backref");
}

static int is_notes(xmlNodePtr n) {
    if (!n->properties) return 0;
    return xmlHasProp(n, (const xmlChar *)"data-footnotes") || has_class(n, "footnotes");
}

static void walk_a(walker *w, xmlNodePtr n, const elem *el, ctx c) {
    char *href = attr(n, "href");
    ov_buf url;
    ov_buf_init(&url);
    int linked = 0;
    if (!c.in_a && href && w->emit) linked = link_target(w, n, href, &url);
    else if (!c.in_a && href) linked = 1; /* first walk: whether it is a link does not matter */
    const char *id = get_id(w, n, "a");
    const char *oname = c.in_a || !href ? "span" : "a";
    if (c.in_a || (w->emit && !linked)) oname = "span";
    open_tag(w, oname);
    put_attr(w, "id", id);
    if (!strcmp(oname, "a") && url.data) {
        if (w->emit) {
            ov_buf_puts(w->b, " href=\"");
            put_url(w->b, url.data);
            ov_buf_putc(w->b, '"');
        }
        if (is_noteref(n)) put_attr(w, "epub:type", "noteref");
        else if (is_backref(n)) put_attr(w, "role", "doc-backlink");
    }
    put_attrs(w, n, oname, el);
    end_open(w, 0);
    ov_buf_free(&url);
    xmlFree(href);
    ctx k = c;
    k.in_a = 1;
    k.parent = oname;
    k.container = NULL;
    if (!strcmp(oname, "span")) k.phrasing = 1;
    walk_children(w, n, k);
    close_tag(w, oname);
}

static void walk_input(walker *w, xmlNodePtr n) {
    char *type = attr(n, "type");
    if (type && !strcasecmp(type, "checkbox")) {
        int checked = xmlHasProp(n, (const xmlChar *)"checked") != NULL;
        raw(w, checked ? "<span class=\"task done\">\xE2\x98\x91</span>" : "<span class=\"task\">\xE2\x98\x90</span>");
    }
    xmlFree(type);
}

static void walk_element(walker *w, xmlNodePtr n, ctx c) {
    const elem *el = lookup(n);
    if (el->flags & E_DROP) return;
    if (el->flags & E_UNWRAP) {
        walk_children(w, n, c);
        return;
    }
    const char *name = el->name;
    if (el->flags & E_SPECIAL) {
        if (!strcmp(name, "img")) walk_img(w, n, c);
        else if (!strcmp(name, "a")) walk_a(w, n, el, c);
        else if (!strcmp(name, "input")) walk_input(w, n);
        else if (!strcmp(name, "iframe") || !strcmp(name, "video") || !strcmp(name, "audio")) walk_media(w, n, name, c);
        else if (!strcmp(name, "svg") || !strcmp(name, "math")) {
            warn_at(w, n, OCTAVO_E_RESOURCE, "inline <%s> left out of the book", name);
        }
        return;
    }
    const char *id = get_id(w, n, name);
    const char *oname = out_name(el);
    int phrasing_inside = (el->flags & E_PCONTENT) != 0;
    /* where only phrasing content is allowed, blocks become spans */
    if (c.phrasing && !(el->flags & E_PHRASING)) {
        if (el->flags & E_VOID) return; /* <hr> */
        oname = "span";
        phrasing_inside = 1;
    } else if (el->parents && !in_list(el->parents, c.parent)) {
        oname = c.phrasing ? "span" : "div";
        phrasing_inside = c.phrasing;
        el = &unknown_elem;
    } else if (!strcmp(name, "p") && has_block_child(n)) {
        oname = "div";
        phrasing_inside = 0;
    }
    open_tag(w, oname);
    put_attr(w, "id", id);
    if ((!strcmp(oname, "section") || !strcmp(oname, "div") || !strcmp(oname, "aside")) && is_notes(n)) {
        put_attr(w, "epub:type", "footnotes");
        c.in_notes = 1;
    } else if (c.in_notes && !strcmp(oname, "li") && xmlHasProp(n, (const xmlChar *)"id")) {
        put_attr(w, "epub:type", "footnote");
    }
    put_attrs(w, n, oname, el);
    if (el->flags & E_VOID) {
        end_open(w, 1);
        return;
    }
    end_open(w, 0);
    ctx k = c;
    k.phrasing = (el->flags & E_TRANSPARENT) ? c.phrasing : phrasing_inside;
    k.parent = oname;
    k.container = (!strcmp(oname, el->out ? el->out : el->name) && el->children) ? el : NULL;
    walk_children(w, n, k);
    close_tag(w, oname);
}

static void walk_node(walker *w, xmlNodePtr n, ctx c) {
    switch (n->type) {
    case XML_TEXT_NODE:
    case XML_CDATA_SECTION_NODE:
        if (!n->content) return;
        if (c.container && !is_space((const char *)n->content)) {
            raw(w, c.container->wrap_open);
            text(w, (const char *)n->content);
            raw(w, c.container->wrap_close);
        } else {
            text(w, (const char *)n->content);
        }
        return;
    case XML_ENTITY_REF_NODE: {
        xmlChar *t = xmlNodeGetContent(n);
        if (t) text(w, (const char *)t);
        else if (n->name) { text(w, "&"); text(w, (const char *)n->name); text(w, ";"); }
        xmlFree(t);
        return;
    }
    case XML_ELEMENT_NODE: {
        if (c.container) {
            const elem *el = lookup(n);
            if (el->flags & (E_DROP | E_UNWRAP)) {
                if (el->flags & E_UNWRAP) walk_children(w, n, c);
                return;
            }
            if (!in_list(c.container->children, out_name(el))) {
                raw(w, c.container->wrap_open);
                ctx k = c;
                k.container = NULL;
                k.phrasing = 0;
                /* the element now sits in an item or a cell */
                k.parent = strstr(c.container->wrap_open, "<td>") ? "td" : strstr(c.container->wrap_open, "<li>") ? "li" : "dd";
                walk_element(w, n, k);
                raw(w, c.container->wrap_close);
                return;
            }
        }
        walk_element(w, n, c);
        return;
    }
    default:
        return; /* comments, processing instructions */
    }
}

static void walk_children(walker *w, xmlNodePtr parent, ctx c) {
    for (xmlNodePtr k = parent->children; k && !w->rc; k = k->next) walk_node(w, k, c);
}

int ov_epub_chapter_walk(ov_epub *e, ov_epub_chapter *c, int emit, ov_buf *out) {
    walker w = {e, c, emit, out, 0, 0, 0};
    ctx k = {0, 0, 0, "section", NULL};
    if (c->doc->body) walk_children(&w, c->doc->body, k);
    if (w.rc) return ov_error(e->err, w.rc, OCTAVO_STAGE_EPUB, c->doc->name, 0, 0, NULL);
    if (emit && out->failed) return ov_error(e->err, OCTAVO_E_NOMEM, OCTAVO_STAGE_EPUB, c->doc->name, 0, 0, NULL);
    return OCTAVO_OK;
}
