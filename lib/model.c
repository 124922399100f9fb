/*
 * The document model: the Markdown AST rendered by cmark-gfm as HTML, parsed back with libxml2's
 * HTML parser into a DOM, and normalised in place. Every backend (HTML, EPUB, PDF) walks this DOM.
 *
 * Why a DOM: cmark splits inline raw HTML ("<a href=x>", "text", "</a>") into separate nodes, and
 * raw HTML blocks are opaque strings. Re-parsing the whole rendering joins them into one tree.
 *
 * What the normalisation does, in one walk (document order) plus a heading pass:
 *
 *  Sanitising. Both modes (trusted and untrusted) drop, with their content:
 *    script, style, template, object, embed, applet, param, base, meta, link, title,
 *    head, frame, frameset, noframes, noembed, portal, basefont, bgsound, spacer, isindex, keygen,
 *    menuitem; every event-handler attribute (on*); every URL attribute whose scheme is
 *    javascript:, vbscript:, livescript: or data: (data:image/... is kept on <img src>); comments.
 *    style attributes holding script URLs, url(), expression(), bindings, @import or CSS escapes;
 *    svg, math and noscript are unwrapped (an HTML4 parser cannot build foreign content right;
 *    their sanitised text stays).
 *  Untrusted mode (the library default: no OCTAVO_TRUSTED flag) also drops:
 *    form controls (input — except the disabled checkboxes of task lists —,
 *    button, select, textarea, option, optgroup, datalist), unwraps <form> (its text stays),
 *    keeps only http(s)/mailto/tel/ftp-like URL schemes (and relative URLs), drops style
 *    attributes other than a plain "text-align", srcdoc/srcset/formaction/action attributes, and
 *    keeps an <iframe> only with an http(s) src.
 *  Trusted mode keeps everything else of the raw HTML that is valid HTML5.
 *
 *  Validity (both modes), so that pages pass the W3C Nu checker:
 *    - obsolete elements become their modern equivalent (center -> div with text-align,
 *      font/big/blink/marquee/nobr -> span, tt -> code, strike -> s, acronym -> abbr,
 *      dir -> ul, listing/xmp/plaintext -> pre, image -> img); unknown elements are unwrapped
 *      (their content stays);
 *    - attributes not defined for the element in HTML5 are dropped; obsolete presentational ones
 *      (align -> style text-align; frameborder, border, bgcolor, valign, width on tables, ...)
 *      are dropped or converted; <a name=x> becomes id="x"; values that would be invalid
 *      (non-numeric widths, ids with spaces, unknown rel keywords) are fixed or dropped;
 *    - URLs get their illegal characters percent-encoded;
 *    - content models: a <p> or <span> holding block content becomes a <div>; nested links are
 *      unwrapped; non-<li> children of lists are wrapped in <li>, stray <li> in a <ul>; void
 *      elements lose children the HTML4 parser gave them; <img> always has alt and src.
 *
 *  Headings: the document title is level 1 (the page renders it). Body headings (Markdown and raw
 *  HTML) are fitted into levels 2..6 that never skip: shifted down by one if any is an h1, then
 *  level = min(level, previous + 1). With doc->title_from_heading the first Markdown heading is
 *  removed from the body. Each gets a unique GitHub-style id (slug, deduplicated with -1, -2
 *  against every id of the document) and is listed in doc->headings.
 *
 *  Positions: cmark's data-sourcepos (body-relative "line:col-line:col") stays on block elements;
 *  top-level elements of raw HTML blocks get the block's start as "line:col". ov_model_position
 *  maps them into the original file. Backends drop data-sourcepos when writing.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm-extension_api.h>
#include <cmark-gfm.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "internal.h"

/* ---------------------------------------------------------------------------------------------
 * Element table (sorted by name for bsearch).
 */
enum {
    E_VOID = 1,        /* no end tag, no content */
    E_FLOW = 2,        /* flow content that is not phrasing (may not sit in a <p>) */
    E_DROP = 4,        /* always dropped with its content */
    E_DROP_UNTR = 8,   /* dropped with its content in untrusted mode */
    E_UNWRAP_UNTR = 16,/* unwrapped in untrusted mode */
    E_TRANSP = 32,     /* transparent content model */
    E_HEADING = 64,
    E_UNWRAP = 128     /* always unwrapped: the tag goes, its (sanitised) content stays */
};

typedef struct el_info {
    const char *name;
    unsigned flags;
    const char *rename;   /* obsolete element: the modern one */
} el_info;

static const el_info elements[] = {
    {"a", E_TRANSP, NULL},
    {"abbr", 0, NULL},
    {"acronym", 0, "abbr"},
    {"address", E_FLOW, NULL},
    {"applet", E_DROP, NULL},
    {"area", E_VOID, NULL},
    {"article", E_FLOW, NULL},
    {"aside", E_FLOW, NULL},
    {"audio", E_TRANSP, NULL},
    {"b", 0, NULL},
    {"base", E_DROP | E_VOID, NULL},
    {"basefont", E_DROP | E_VOID, NULL},
    {"bdi", 0, NULL},
    {"bdo", 0, NULL},
    {"bgsound", E_DROP | E_VOID, NULL},
    {"big", 0, "span"},
    {"blink", 0, "span"},
    {"blockquote", E_FLOW, NULL},
    {"br", E_VOID, NULL},
    {"button", E_DROP_UNTR, NULL},
    {"canvas", E_TRANSP, NULL},
    {"caption", E_FLOW, NULL},
    {"center", E_FLOW, "div"},
    {"cite", 0, NULL},
    {"code", 0, NULL},
    {"col", E_FLOW | E_VOID, NULL},
    {"colgroup", E_FLOW, NULL},
    {"data", 0, NULL},
    {"datalist", E_DROP_UNTR, NULL},
    {"dd", E_FLOW, NULL},
    {"del", E_TRANSP, NULL},
    {"details", E_FLOW, NULL},
    {"dfn", 0, NULL},
    {"dialog", E_FLOW, NULL},
    {"dir", E_FLOW, "ul"},
    {"div", E_FLOW, NULL},
    {"dl", E_FLOW, NULL},
    {"dt", E_FLOW, NULL},
    {"em", 0, NULL},
    {"embed", E_DROP | E_VOID, NULL},
    {"fieldset", E_FLOW, NULL},
    {"figcaption", E_FLOW, NULL},
    {"figure", E_FLOW, NULL},
    {"font", 0, "span"},
    {"footer", E_FLOW, NULL},
    {"form", E_FLOW | E_UNWRAP_UNTR, NULL},
    {"frame", E_DROP | E_VOID, NULL},
    {"frameset", E_DROP, NULL},
    {"h1", E_FLOW | E_HEADING, NULL},
    {"h2", E_FLOW | E_HEADING, NULL},
    {"h3", E_FLOW | E_HEADING, NULL},
    {"h4", E_FLOW | E_HEADING, NULL},
    {"h5", E_FLOW | E_HEADING, NULL},
    {"h6", E_FLOW | E_HEADING, NULL},
    {"head", E_DROP, NULL},
    {"header", E_FLOW, NULL},
    {"hgroup", E_FLOW, NULL},
    {"hr", E_FLOW | E_VOID, NULL},
    {"i", 0, NULL},
    {"iframe", 0, NULL},
    {"image", E_VOID, "img"},
    {"img", E_VOID, NULL},
    {"input", E_VOID, NULL},            /* untrusted: task-list checkboxes only */
    {"ins", E_TRANSP, NULL},
    {"isindex", E_DROP | E_VOID, NULL},
    {"kbd", 0, NULL},
    {"keygen", E_DROP | E_VOID, NULL},
    {"label", 0, NULL},
    {"legend", E_FLOW, NULL},
    {"li", E_FLOW, NULL},
    {"link", E_DROP | E_VOID, NULL},
    {"listing", E_FLOW, "pre"},
    {"main", E_FLOW, "div"},  /* the page has its own <main> */
    {"map", E_TRANSP, NULL},
    {"mark", 0, NULL},
    {"marquee", 0, "span"},
    {"math", E_UNWRAP, NULL},
    {"menu", E_FLOW, NULL},
    {"menuitem", E_DROP, NULL},
    {"meta", E_DROP | E_VOID, NULL},
    {"meter", 0, NULL},
    {"nav", E_FLOW, NULL},
    {"nobr", 0, "span"},
    {"noembed", E_DROP, NULL},
    {"noframes", E_DROP, NULL},
    {"noscript", E_UNWRAP, NULL},
    {"object", E_DROP, NULL},
    {"ol", E_FLOW, NULL},
    {"optgroup", E_FLOW | E_DROP_UNTR, NULL},
    {"option", E_FLOW | E_DROP_UNTR, NULL},
    {"output", 0, NULL},
    {"p", E_FLOW, NULL},
    {"param", E_DROP | E_VOID, NULL},
    {"picture", 0, NULL},
    {"plaintext", E_FLOW, "pre"},
    {"portal", E_DROP, NULL},
    {"pre", E_FLOW, NULL},
    {"progress", 0, NULL},
    {"q", 0, NULL},
    {"rp", 0, NULL},
    {"rt", 0, NULL},
    {"ruby", 0, NULL},
    {"s", 0, NULL},
    {"samp", 0, NULL},
    {"script", E_DROP, NULL},
    {"search", E_FLOW, NULL},
    {"section", E_FLOW, NULL},
    {"select", E_DROP_UNTR, NULL},
    {"small", 0, NULL},
    {"source", E_VOID, NULL},
    {"spacer", E_DROP, NULL},
    {"span", 0, NULL},
    {"strike", 0, "s"},
    {"strong", 0, NULL},
    {"style", E_DROP, NULL},
    {"sub", 0, NULL},
    {"summary", E_FLOW, NULL},
    {"sup", 0, NULL},
    {"svg", E_UNWRAP, NULL},
    {"table", E_FLOW, NULL},
    {"tbody", E_FLOW, NULL},
    {"td", E_FLOW, NULL},
    {"template", E_DROP, NULL},
    {"textarea", E_DROP_UNTR, NULL},
    {"tfoot", E_FLOW, NULL},
    {"th", E_FLOW, NULL},
    {"thead", E_FLOW, NULL},
    {"time", 0, NULL},
    {"title", E_DROP, NULL},
    {"tr", E_FLOW, NULL},
    {"track", E_VOID, NULL},
    {"tt", 0, "code"},
    {"u", 0, NULL},
    {"ul", E_FLOW, NULL},
    {"var", 0, NULL},
    {"video", E_TRANSP, NULL},
    {"wbr", E_VOID, NULL},
    {"xmp", E_FLOW, "pre"},
};

static int el_cmp(const void *k, const void *e) { return strcmp((const char *)k, ((const el_info *)e)->name); }

static const el_info *el_lookup(const char *name) {
    return bsearch(name, elements, sizeof elements / sizeof *elements, sizeof *elements, el_cmp);
}

static int is(const xmlNode *n, const char *name) {
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* ---------------------------------------------------------------------------------------------
 * A string set with a per-key suffix counter, for unique ids in O(1) per id.
 */
typedef struct id_entry {
    char *key;
    unsigned next;       /* the next suffix to try for this base */
} id_entry;

typedef struct id_set {
    id_entry *slots;
    size_t cap, count;
    int failed;
} id_set;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static id_entry *set_find(id_set *s, const char *key) {
    if (!s->cap) return NULL;
    size_t i = hash_str(key) & (s->cap - 1);
    while (s->slots[i].key) {
        if (!strcmp(s->slots[i].key, key)) return &s->slots[i];
        i = (i + 1) & (s->cap - 1);
    }
    return NULL;
}

static int set_grow(id_set *s) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    id_entry *slots = ov_calloc(cap, sizeof *slots);
    if (!slots) { s->failed = 1; return -1; }
    for (size_t j = 0; j < s->cap; j++) {
        if (!s->slots[j].key) continue;
        size_t i = hash_str(s->slots[j].key) & (cap - 1);
        while (slots[i].key) i = (i + 1) & (cap - 1);
        slots[i] = s->slots[j];
    }
    ov_free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

/* Adds key (copied); returns the entry or NULL on allocation failure. */
static id_entry *set_add(id_set *s, const char *key) {
    if ((s->count + 1) * 2 > s->cap && set_grow(s)) return NULL;
    size_t i = hash_str(key) & (s->cap - 1);
    while (s->slots[i].key) i = (i + 1) & (s->cap - 1);
    s->slots[i].key = ov_strdup(key);
    if (!s->slots[i].key) { s->failed = 1; return NULL; }
    s->slots[i].next = 1;
    s->count++;
    return &s->slots[i];
}

static void set_free(id_set *s) {
    for (size_t i = 0; i < s->cap; i++) ov_free(s->slots[i].key);
    ov_free(s->slots);
    memset(s, 0, sizeof *s);
}

/* A unique id from base: base itself, else base-1, base-2, ... Registered; ov_free the result. */
static char *unique_id(id_set *s, const char *base) {
    id_entry *e = set_find(s, base);
    if (!e) {
        if (!set_add(s, base)) return NULL;
        return ov_strdup(base);
    }
    size_t n = strlen(base) + 24;
    char *cand = ov_malloc(n);
    if (!cand) { s->failed = 1; return NULL; }
    for (;;) {
        snprintf(cand, n, "%s-%u", base, e->next++);
        if (!set_find(s, cand)) break;
    }
    if (!set_add(s, cand)) { ov_free(cand); return NULL; }
    return cand;
}

/* ---------------------------------------------------------------------------------------------
 * Small DOM helpers.
 */
static char *attr_get(xmlNodePtr n, const char *name) {
    return (char *)xmlGetProp(n, BAD_CAST name); /* xmlFree it */
}

static int has_attr(xmlNodePtr n, const char *name) { return xmlHasProp(n, BAD_CAST name) != NULL; }

/* Tree surgery that never merges text nodes (libxml2's xmlAdd* free a text node they merge,
 * which would leave the walk holding a freed node). c must be unlinked. */
static xmlNodePtr put_before(xmlNodePtr ref, xmlNodePtr c) {
    c->parent = ref->parent;
    c->prev = ref->prev;
    c->next = ref;
    if (ref->prev) ref->prev->next = c;
    else if (ref->parent) ref->parent->children = c;
    ref->prev = c;
    return c;
}

static xmlNodePtr put_after(xmlNodePtr ref, xmlNodePtr c) {
    c->parent = ref->parent;
    c->next = ref->next;
    c->prev = ref;
    if (ref->next) ref->next->prev = c;
    else if (ref->parent) ref->parent->last = c;
    ref->next = c;
    return c;
}

static xmlNodePtr put_last(xmlNodePtr parent, xmlNodePtr c) {
    c->parent = parent;
    c->next = NULL;
    c->prev = parent->last;
    if (parent->last) parent->last->next = c;
    else parent->children = c;
    parent->last = c;
    return c;
}

/* Removes n from the tree and frees it. */
static void drop_node(xmlNodePtr n) {
    xmlUnlinkNode(n);
    xmlFreeNode(n);
}

/* Replaces n by its children; returns the first of them (or NULL when n was empty). */
static xmlNodePtr unwrap_node(xmlNodePtr n) {
    xmlNodePtr first = n->children;
    xmlNodePtr c = n->children;
    while (c) {
        xmlNodePtr next = c->next;
        xmlUnlinkNode(c);
        put_before(n, c);
        c = next;
    }
    drop_node(n);
    return first;
}

/* Appends "prop: value" to n's style attribute. */
static void style_add(xmlNodePtr n, const char *prop, const char *value) {
    char *old = attr_get(n, "style");
    char buf[256];
    if (old && *old)
        snprintf(buf, sizeof buf, "%s%s %s: %s", old, old[strlen(old) - 1] == ';' ? "" : ";", prop, value);
    else
        snprintf(buf, sizeof buf, "%s: %s", prop, value);
    xmlSetProp(n, BAD_CAST "style", BAD_CAST buf);
    xmlFree(old);
}

static int str_ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

static int starts_ci(const char *s, const char *prefix) {
    for (; *prefix; s++, prefix++)
        if (tolower((unsigned char)*s) != *prefix) return 0;
    return 1;
}

static int in_list(const char *v, const char *const *list) {
    for (; *list; list++)
        if (str_ieq(v, *list)) return 1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * URLs.
 */
static int is_url_attr(const char *a) {
    static const char *const names[] = {"href", "src", "cite", "action", "formaction", "poster", "background",
                                        "data", "longdesc", "manifest", "codebase", "lowsrc", "dynsrc", "ping",
                                        "usemap", "xlink:href", NULL};
    return in_list(a, names);
}

/* The scheme of a URL as a browser reads it (ASCII whitespace and controls ignored, lower case)
 * into out; returns 0 when the URL is relative. */
static int url_scheme(const char *v, char *out, size_t size) {
    size_t n = 0;
    while (*v && (unsigned char)*v <= 0x20) v++;
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        if (c == '\t' || c == '\n' || c == '\r') continue;
        if (c == ':') {
            out[n] = 0;
            return n > 0;
        }
        if (!(isalnum(c) || c == '+' || c == '-' || c == '.')) return 0;
        if (n == 0 && !isalpha(c)) return 0;
        if (n + 1 >= size) return 0;
        out[n++] = (char)tolower(c);
    }
    return 0;
}

/* Whether a URL value may stay: 1 keep, 0 drop. */
static int url_allowed(const char *v, int untrusted, int img_src) {
    char scheme[32];
    if (!url_scheme(v, scheme, sizeof scheme)) return 1; /* relative */
    if (!strcmp(scheme, "data")) {
        if (!img_src) return 0;
        const char *p = strchr(v, ':') + 1;
        while (*p && (unsigned char)*p <= 0x20) p++;
        return starts_ci(p, "image/");
    }
    static const char *const bad[] = {"javascript", "vbscript", "livescript", "mocha", "jscript", NULL};
    if (in_list(scheme, bad)) return 0;
    if (!untrusted) return 1;
    static const char *const ok[] = {"http", "https", "mailto", "tel", "ftp", "ftps", "sftp", "ssh", "git",
                                     "irc", "ircs", "news", "nntp", "xmpp", "sip", "sips", "sms", "magnet",
                                     "geo", "webcal", NULL};
    return in_list(scheme, ok);
}

static int is_hex(int c) { return isxdigit((unsigned char)c) != 0; }

/* A URL with what HTML5 forbids in it percent-encoded (spaces, controls, quotes, angle brackets,
 * backslashes, a second '#', a '%' that starts no escape); tabs and newlines removed, outer
 * whitespace trimmed. NULL when out of memory. */
static char *url_clean(const char *v) {
    ov_buf b;
    ov_buf_init(&b);
    size_t n = strlen(v);
    while (n && (unsigned char)v[n - 1] <= 0x20) n--;
    size_t i = 0;
    while (i < n && (unsigned char)v[i] <= 0x20) i++;
    /* where the path starts: brackets are kept inside an authority (IPv6 hosts) */
    size_t path_start = i;
    {
        size_t j = i;
        while (j < n && (isalnum((unsigned char)v[j]) || v[j] == '+' || v[j] == '-' || v[j] == '.')) j++;
        if (j < n && v[j] == ':' && j > i) path_start = j + 1;
        if (path_start + 1 < n && v[path_start] == '/' && v[path_start + 1] == '/') {
            path_start += 2;
            while (path_start < n && v[path_start] != '/' && v[path_start] != '?' && v[path_start] != '#')
                path_start++;
        }
    }
    int hash = 0;
    ov_buf_put(&b, "", 0); /* an empty URL stays a (NUL-terminated) string */
    for (; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '\t' || c == '\n' || c == '\r') continue;
        int enc = c < 0x21 || c == 0x7f || strchr("\"<>\\^`{|}", c) != NULL;
        if ((c == '[' || c == ']') && i >= path_start) enc = 1;
        if (c == '%' && !(i + 2 < n && is_hex(v[i + 1]) && is_hex(v[i + 2]))) enc = 1;
        if (c == '#') {
            if (hash) enc = 1;
            hash = 1;
        }
        if (enc) ov_buf_printf(&b, "%%%02X", c);
        else ov_buf_putc(&b, c);
    }
    if (b.failed) { ov_buf_free(&b); return NULL; }
    return ov_buf_detach(&b, NULL);
}

/* "http://" with no host (or "https:///x"): not a URL an HTML checker accepts. */
static int empty_host(const char *v) {
    char scheme[32];
    if (!url_scheme(v, scheme, sizeof scheme)) return 0;
    if (strcmp(scheme, "http") && strcmp(scheme, "https") && strcmp(scheme, "ftp")) return 0;
    const char *p = strchr(v, ':') + 1;
    if (p[0] != '/' || p[1] != '/') return 1;
    p += 2;
    return !*p || *p == '/' || *p == '?' || *p == '#' || *p == ':' || *p == '@';
}

/* ---------------------------------------------------------------------------------------------
 * Attributes allowed per element (HTML5), beyond the global ones.
 */
static int global_attr(const char *a) {
    static const char *const g[] = {"id", "class", "title", "lang", "dir", "hidden", "tabindex", "accesskey",
                                    "translate", "draggable", "spellcheck", "style", "role", "itemprop",
                                    "itemscope", "itemtype", "itemid", "itemref", "inert", "autocapitalize",
                                    "inputmode", "enterkeyhint", "contenteditable", "slot", NULL};
    if (in_list(a, g)) return 1;
    if (!strncmp(a, "data-", 5)) {
        if (!a[5]) return 0;
        for (const char *p = a + 5; *p; p++)
            if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
                return 0;
        return 1;
    }
    static const char *const aria[] = {
        "aria-label", "aria-labelledby", "aria-describedby", "aria-hidden", "aria-expanded", "aria-controls",
        "aria-current", "aria-live", "aria-atomic", "aria-busy", "aria-checked", "aria-disabled", "aria-haspopup",
        "aria-level", "aria-pressed", "aria-selected", "aria-valuemax", "aria-valuemin", "aria-valuenow",
        "aria-valuetext", "aria-details", "aria-owns", "aria-roledescription", "aria-keyshortcuts",
        "aria-posinset", "aria-setsize", "aria-sort", "aria-readonly", "aria-required", "aria-invalid",
        "aria-orientation", "aria-modal", "aria-multiline", "aria-multiselectable", "aria-placeholder",
        "aria-relevant", "aria-errormessage", "aria-flowto", "aria-activedescendant", "aria-colcount",
        "aria-colindex", "aria-colspan", "aria-rowcount", "aria-rowindex", "aria-rowspan", "aria-autocomplete",
        NULL};
    return in_list(a, aria);
}

typedef struct el_attrs {
    const char *el;
    const char *attrs; /* space-separated, with a leading and trailing space */
} el_attrs;

static const el_attrs attr_table[] = {
    {"a", " href target rel download hreflang type referrerpolicy "},
    {"area", " alt coords shape href target rel download hreflang referrerpolicy "},
    {"audio", " src controls autoplay loop muted preload crossorigin "},
    {"blockquote", " cite "},
    {"button", " type name value disabled form autofocus "},
    {"canvas", " width height "},
    {"col", " span "},
    {"colgroup", " span "},
    {"data", " value "},
    {"del", " cite datetime "},
    {"details", " open name "},
    {"dialog", " open "},
    {"fieldset", " disabled name form "},
    {"form", " action method name target novalidate autocomplete enctype accept-charset rel "},
    {"iframe", " src srcdoc name sandbox allow allowfullscreen width height referrerpolicy loading "},
    {"img", " src alt width height srcset sizes loading decoding crossorigin referrerpolicy usemap ismap "
            "fetchpriority "},
    {"input", " type checked disabled name value placeholder readonly required min max step pattern size "
              "maxlength minlength multiple list autocomplete autofocus form alt src accept "},
    {"ins", " cite datetime "},
    {"label", " for form "},
    {"li", " value "},
    {"map", " name "},
    {"meter", " value min max low high optimum "},
    {"ol", " start reversed type "},
    {"optgroup", " label disabled "},
    {"option", " value label selected disabled "},
    {"output", " for name form "},
    {"progress", " value max "},
    {"q", " cite "},
    {"select", " name multiple size disabled required form autocomplete autofocus "},
    {"slot", " name "},
    {"source", " src type srcset sizes media width height "},
    {"td", " colspan rowspan headers "},
    {"textarea", " name rows cols disabled readonly placeholder maxlength minlength required wrap form "
                 "autocomplete autofocus "},
    {"th", " colspan rowspan headers scope abbr "},
    {"time", " datetime "},
    {"track", " kind src srclang label default "},
    {"video", " src controls autoplay loop muted preload crossorigin poster width height playsinline "},
};

static int attr_ok(const char *el, const char *a) {
    if (global_attr(a)) return 1;
    size_t alen = strlen(a);
    if (alen > 40) return 0;
    for (size_t i = 0; i < sizeof attr_table / sizeof *attr_table; i++) {
        if (strcmp(attr_table[i].el, el)) continue;
        const char *p = attr_table[i].attrs;
        while ((p = strstr(p, a)) != NULL) {
            if (p[-1] == ' ' && p[alen] == ' ') return 1;
            p += alen;
        }
        return 0;
    }
    return 0;
}

static int bool_attr(const char *a) {
    static const char *const b[] = {"allowfullscreen", "checked", "disabled", "readonly", "required", "multiple",
                                    "autofocus", "autoplay", "controls", "loop", "muted", "playsinline",
                                    "reversed", "open", "novalidate", "default", "selected", "ismap",
                                    "itemscope", "inert", NULL};
    return in_list(a, b);
}

static int valid_lang(const char *v) {
    if (!*v) return 1;
    const char *p = v;
    size_t n = 0;
    while (isalpha((unsigned char)*p)) p++, n++;
    if (n < 2 || n > 8) return 0;
    while (*p == '-') {
        p++;
        n = 0;
        while (isalnum((unsigned char)*p)) p++, n++;
        if (n < 1 || n > 8) return 0;
    }
    return *p == 0;
}

static int valid_int(const char *v, int allow_negative) {
    if (allow_negative && *v == '-') v++;
    return all_digits(v) && strlen(v) < 10;
}

/* Filters rel tokens to the registered keywords; returns a new string (ov_free) or NULL. */
static char *filter_rel(const char *v) {
    static const char *const ok[] = {"alternate", "author", "bookmark", "external", "help", "license", "next",
                                     "nofollow", "noopener", "noreferrer", "opener", "prev", "search", "tag",
                                     "privacy-policy", "terms-of-service", "me", NULL};
    ov_buf b;
    ov_buf_init(&b);
    const char *p = v;
    while (*p) {
        while (*p && isspace((unsigned char)*p)) p++;
        const char *s = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        if (p > s && (size_t)(p - s) < 40) {
            char tok[40];
            memcpy(tok, s, (size_t)(p - s));
            tok[p - s] = 0;
            for (char *t = tok; *t; t++) *t = (char)tolower((unsigned char)*t);
            if (in_list(tok, ok)) {
                if (b.len) ov_buf_putc(&b, ' ');
                ov_buf_puts(&b, tok);
            }
        }
    }
    if (b.failed || !b.len) { ov_buf_free(&b); return NULL; }
    return ov_buf_detach(&b, NULL);
}

static int valid_role(const char *v) {
    static const char *const roles[] = {
        "alert", "alertdialog", "application", "article", "banner", "button", "cell", "checkbox", "columnheader",
        "combobox", "complementary", "contentinfo", "definition", "dialog", "document", "feed", "figure", "form",
        "grid", "gridcell", "group", "heading", "img", "link", "list", "listbox", "listitem", "log", "main",
        "marquee", "math", "menu", "menubar", "menuitem", "menuitemcheckbox", "menuitemradio", "navigation", "none",
        "note", "option", "presentation", "progressbar", "radio", "radiogroup", "region", "row", "rowgroup",
        "rowheader", "scrollbar", "search", "searchbox", "separator", "slider", "spinbutton", "status", "switch",
        "tab", "table", "tablist", "tabpanel", "term", "textbox", "timer", "toolbar", "tooltip", "tree",
        "treegrid", "treeitem", NULL};
    return in_list(v, roles);
}

/* Whether a style attribute is only a text alignment (what cmark and our conversions write). */
static int style_is_align(const char *v) {
    static const char *const ok[] = {"text-align: left", "text-align: right", "text-align: center",
                                     "text-align: justify", "text-align: left;", "text-align: right;",
                                     "text-align: center;", "text-align: justify;", NULL};
    return in_list(v, ok);
}

/* A style attribute that could run script or load what a page did not ask for (both modes):
 * script URLs, IE expressions and behaviours, bindings, imports, CSS escapes hiding any of them. */
static int style_dangerous(const char *v) {
    char norm[1024];
    size_t n = 0;
    for (const char *p = v; *p && n + 1 < sizeof norm; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\\') return 1;
        if (c <= 0x20) continue;
        norm[n++] = (char)tolower(c);
    }
    norm[n] = 0;
    static const char *const bad[] = {"javascript:", "vbscript:", "expression(", "behavior:", "-moz-binding",
                                      "@import", "url(", "</", NULL};
    for (const char *const *b = bad; *b; b++)
        if (strstr(norm, *b)) return 1;
    return 0;
}

/* Enumerated attributes: the allowed values, or NULL when the attribute is not enumerated here. */
static const char *const *enum_values(const char *el, const char *a) {
    static const char *const dir[] = {"ltr", "rtl", "auto", NULL};
    static const char *const loading[] = {"lazy", "eager", NULL};
    static const char *const decoding[] = {"sync", "async", "auto", NULL};
    static const char *const cors[] = {"", "anonymous", "use-credentials", NULL};
    static const char *const refpol[] = {"", "no-referrer", "no-referrer-when-downgrade", "same-origin", "origin",
                                         "strict-origin", "origin-when-cross-origin",
                                         "strict-origin-when-cross-origin", "unsafe-url", NULL};
    static const char *const scope[] = {"row", "col", "rowgroup", "colgroup", NULL};
    static const char *const oltype[] = {"1", "a", "A", "i", "I", NULL};
    static const char *const shape[] = {"rect", "circle", "poly", "default", NULL};
    static const char *const preload[] = {"", "none", "metadata", "auto", NULL};
    static const char *const kind[] = {"subtitles", "captions", "descriptions", "chapters", "metadata", NULL};
    static const char *const method[] = {"get", "post", "dialog", NULL};
    static const char *const wrap[] = {"soft", "hard", NULL};
    static const char *const tf[] = {"true", "false", NULL};
    static const char *const hidden[] = {"", "hidden", "until-found", NULL};
    static const char *const prio[] = {"high", "low", "auto", NULL};
    if (!strcmp(a, "dir")) return dir;
    if (!strcmp(a, "loading")) return loading;
    if (!strcmp(a, "decoding")) return decoding;
    if (!strcmp(a, "crossorigin")) return cors;
    if (!strcmp(a, "referrerpolicy")) return refpol;
    if (!strcmp(a, "scope")) return scope;
    if (!strcmp(a, "type") && !strcmp(el, "ol")) return oltype;
    if (!strcmp(a, "shape")) return shape;
    if (!strcmp(a, "preload")) return preload;
    if (!strcmp(a, "kind")) return kind;
    if (!strcmp(a, "method")) return method;
    if (!strcmp(a, "wrap")) return wrap;
    if (!strcmp(a, "aria-hidden") || !strcmp(a, "draggable") || !strcmp(a, "spellcheck")) return tf;
    if (!strcmp(a, "hidden")) return hidden;
    if (!strcmp(a, "fetchpriority")) return prio;
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * The normalising walk.
 */
typedef struct mstate {
    octavo_doc *doc;
    xmlNodePtr root;          /* the wrapper div */
    int untrusted;
    id_set ids;
    xmlNodePtr *heads;        /* h1..h6 in document order */
    size_t nheads, capheads;
    xmlNodePtr *fn_targets;   /* footnote elements with ids (registered after the walk) */
    size_t nfn, capfn;
    xmlNodePtr *fn_links;     /* footnote references and back-references */
    size_t nfl, capfl;
    char cur_pos[32];         /* the position of the raw HTML block being walked, "" when none */
    size_t max_depth;
    int code;
    octavo_error *err;
} mstate;

static int push_node(xmlNodePtr **arr, size_t *n, size_t *cap, xmlNodePtr node) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        xmlNodePtr *p = ov_realloc(*arr, c * sizeof *p);
        if (!p) return -1;
        *arr = p;
        *cap = c;
    }
    (*arr)[(*n)++] = node;
    return 0;
}

static int fail(mstate *st, int code, xmlNodePtr at, const char *fmt, const char *what, size_t a, size_t b) {
    unsigned line = 0, col = 0;
    if (at) ov_model_position(st->doc, at, &line, &col);
    if (!st->code) {
        st->code = code;
        if (code == OCTAVO_E_NOMEM)
            ov_error(st->err, code, OCTAVO_STAGE_MARKDOWN, st->doc->name, line, col, "out of memory");
        else
            ov_error(st->err, code, OCTAVO_STAGE_MARKDOWN, st->doc->name, line, col, fmt, what, a, b);
    }
    return code;
}

/* Parses "L:C" or "L:C-L2:C2" (body-relative). Returns 1 when it has a start. */
static int parse_sourcepos(const char *v, unsigned *l, unsigned *c, unsigned *l2, int *range) {
    unsigned a = 0, b = 0, x = 0, y = 0;
    int n = sscanf(v, "%u:%u-%u:%u", &a, &b, &x, &y);
    if (n < 2) return 0;
    *l = a;
    *c = b;
    if (l2) *l2 = n == 4 ? x : a;
    if (range) *range = n == 4;
    return 1;
}

/* Raw HTML blocks carry no position of their own: before rendering, each gets a marker comment
 * "<!--ovpos:L:C-->" in front (the literal is restored afterwards); the walk hands the marker's
 * position to the top-level elements of the block that follows it. */
#define POS_MARK "ovpos:"

static void assign_block_pos(mstate *st, xmlNodePtr n) {
    if (!st->cur_pos[0]) return;
    xmlNodePtr parent = n->parent;
    if (parent != st->root && !is(parent, "li") && !is(parent, "blockquote")) return;
    xmlSetProp(n, BAD_CAST "data-sourcepos", BAD_CAST st->cur_pos);
}

/* The footnote section cmark-gfm writes: section[data-footnotes] > ol > li[id]. */
static int is_footnote_item(xmlNodePtr n) {
    return is(n, "li") && is(n->parent, "ol") && is(n->parent->parent, "section") &&
           has_attr(n->parent->parent, "data-footnotes");
}

/* Cleans the attributes of element n (named tag). */
static int fix_attrs(mstate *st, xmlNodePtr n, const char *tag) {
    char *align = NULL;   /* an align value to turn into text-align */
    xmlAttrPtr next;
    for (xmlAttrPtr a = n->properties; a; a = next) {
        next = a->next;
        const char *an = (const char *)a->name;
        if (a->ns || (an[0] == 'o' && an[1] == 'n')) { xmlRemoveProp(a); continue; }
        xmlChar *xv = xmlNodeGetContent((xmlNodePtr)a);
        const char *v = xv ? (const char *)xv : "";
        int keep = 1;
        char *newv = NULL;
        if (!strcmp(an, "align")) {
            if (!align && (!strcmp(tag, "div") || !strcmp(tag, "p") || (tag[0] == 'h' && tag[1] && !tag[2]) ||
                           !strcmp(tag, "td") || !strcmp(tag, "th") || !strcmp(tag, "caption") ||
                           !strcmp(tag, "legend"))) {
                static const char *const al[] = {"left", "right", "center", "justify", NULL};
                if (in_list(v, al)) align = ov_strdup(v);
            }
            keep = 0;
        } else if (!strcmp(an, "name") && !strcmp(tag, "a")) {
            if (*v) {
                if (!has_attr(n, "id")) {
                    xmlSetProp(n, BAD_CAST "id", BAD_CAST v);
                    next = a->next; /* xmlSetProp may have appended the id after this attribute */
                } else {
                    char *id = attr_get(n, "id");
                    if (id && strcmp(id, v)) { /* keep the old anchor as an empty one before */
                        xmlNodePtr anchor = xmlNewDocNode(n->doc, NULL, BAD_CAST "a", NULL);
                        if (anchor) {
                            put_before(n, anchor);
                            xmlSetProp(anchor, BAD_CAST "id", BAD_CAST v);
                            /* registered by the walk when it reaches it? It is before n: do it now */
                            char *clean = ov_strdup(v);
                            if (clean) {
                                for (char *p = clean; *p; p++)
                                    if (isspace((unsigned char)*p)) *p = '-';
                                char *u = unique_id(&st->ids, clean);
                                if (u) xmlSetProp(anchor, BAD_CAST "id", BAD_CAST u);
                                ov_free(u);
                                ov_free(clean);
                            }
                        }
                    }
                    xmlFree(id);
                }
            }
            keep = 0;
        } else if (!strcmp(an, "classname")) { /* JSX in Markdown */
            if (!has_attr(n, "class") && *v) {
                xmlSetProp(n, BAD_CAST "class", BAD_CAST v);
                next = a->next;
            }
            keep = 0;
        } else if (!attr_ok(tag, an)) {
            keep = 0;
        } else if (is_url_attr(an)) {
            if (st->untrusted && (!strcmp(an, "action") || !strcmp(an, "formaction"))) keep = 0;
            else if (!url_allowed(v, st->untrusted, !strcmp(tag, "img") && !strcmp(an, "src"))) keep = 0;
            else {
                newv = url_clean(v);
                if (!newv || empty_host(newv)) keep = 0;
            }
        } else if (!strcmp(an, "id")) {
            if (!*v) keep = 0;
            else {
                newv = ov_strdup(v);
                if (newv)
                    for (char *p = newv; *p; p++)
                        if (isspace((unsigned char)*p)) *p = '-';
            }
        } else if (!strcmp(an, "style")) {
            if ((st->untrusted && !style_is_align(v)) || style_dangerous(v)) keep = 0;
        } else if (!strcmp(an, "srcdoc") || !strcmp(an, "srcset")) {
            if (st->untrusted) keep = 0;
        } else if (!strcmp(an, "width") || !strcmp(an, "height")) {
            size_t len = strlen(v);
            if (len > 2 && !strcmp(v + len - 2, "px")) {
                newv = ov_strndup(v, len - 2);
                if (newv && !all_digits(newv)) keep = 0;
            } else if (!all_digits(v) || len > 6) keep = 0;
        } else if (!strcmp(an, "colspan") || !strcmp(an, "rowspan") || !strcmp(an, "span") ||
                   !strcmp(an, "size") || !strcmp(an, "rows") || !strcmp(an, "cols") ||
                   !strcmp(an, "maxlength") || !strcmp(an, "minlength")) {
            if (!valid_int(v, 0) || (strcmp(an, "rowspan") && atoi(v) < 1) || atoi(v) > 1000) keep = 0;
        } else if (!strcmp(an, "start") || (!strcmp(an, "value") && !strcmp(tag, "li")) ||
                   !strcmp(an, "tabindex")) {
            if (!valid_int(v, 1)) keep = 0;
        } else if (!strcmp(an, "lang") || !strcmp(an, "hreflang") || !strcmp(an, "srclang")) {
            if (!valid_lang(v)) keep = 0;
        } else if (!strcmp(an, "target")) {
            static const char *const kw[] = {"_blank", "_self", "_parent", "_top", NULL};
            if (!*v || (v[0] == '_' && !in_list(v, kw))) keep = 0;
        } else if (!strcmp(an, "rel")) {
            newv = filter_rel(v);
            if (!newv) keep = 0;
        } else if (!strcmp(an, "role")) {
            if (!valid_role(v) && strncmp(v, "doc-", 4)) keep = 0;
        } else if (!strcmp(an, "name") && (!strcmp(tag, "iframe") || !strcmp(tag, "form"))) {
            if (!*v || v[0] == '_') keep = 0;
        } else if (!strcmp(an, "usemap")) {
            if (v[0] != '#' || !v[1]) keep = 0;
        } else if (bool_attr(an)) {
            if (*v && !str_ieq(v, an)) newv = ov_strdup("");
        } else {
            const char *const *vals = enum_values(tag, an);
            if (vals && !in_list(v, vals)) keep = 0;
        }
        if (!keep) xmlRemoveProp(a);
        else if (newv && strcmp(newv, v)) xmlSetProp(n, a->name, BAD_CAST newv);
        ov_free(newv);
        xmlFree(xv);
    }
    if (align) {
        style_add(n, "text-align", align);
        ov_free(align);
    }
    return 0;
}

enum { ACT_DESCEND, ACT_SKIP, ACT_DROP, ACT_UNWRAP };

static const int fostered = 1; /* marks nodes moved out of a table (their order kept) */

/* The rows of a table, in order (direct tr and those of thead, tbody, tfoot). */
static xmlNodePtr next_row(xmlNodePtr table, xmlNodePtr r) {
    xmlNodePtr c = r ? r->next : table->children;
    for (;;) {
        while (c && !is(c, "tr") && !is(c, "thead") && !is(c, "tbody") && !is(c, "tfoot")) c = c->next;
        if (!c && r && r->parent != table) { /* leave a row group */
            c = r->parent->next;
            r = NULL;
            while (c && !is(c, "tr") && !is(c, "thead") && !is(c, "tbody") && !is(c, "tfoot")) c = c->next;
        }
        if (!c) return NULL;
        if (is(c, "tr")) return c;
        /* a row group: its first row, or the next group when it has none */
        xmlNodePtr t = c->children;
        while (t && !is(t, "tr")) t = t->next;
        if (t) return t;
        c = c->next;
    }
}

/* A column that no cell begins in (spanned only) is invalid: colspans shrink to drop it. Tables
 * with rowspans are left as they are. */
static void fix_colspans(xmlNodePtr table) {
    unsigned char begins[1001];
    memset(begins, 0, sizeof begins);
    size_t width = 0;
    int spans = 0;
    for (xmlNodePtr r = next_row(table, NULL); r; r = next_row(table, r)) {
        size_t pos = 0;
        for (xmlNodePtr c = r->children; c; c = c->next) {
            if (!is(c, "td") && !is(c, "th")) continue;
            if (has_attr(c, "rowspan")) return;
            char *cs = attr_get(c, "colspan");
            int k = cs ? atoi(cs) : 1;
            xmlFree(cs);
            if (k < 1) k = 1;
            if (k > 1) spans = 1;
            if (pos < sizeof begins) begins[pos] = 1;
            pos += (size_t)k;
        }
        if (pos > width) width = pos;
    }
    if (!spans || width > sizeof begins) return;
    for (xmlNodePtr r = next_row(table, NULL); r; r = next_row(table, r)) {
        size_t pos = 0;
        for (xmlNodePtr c = r->children; c; c = c->next) {
            if (!is(c, "td") && !is(c, "th")) continue;
            char *cs = attr_get(c, "colspan");
            int k = cs ? atoi(cs) : 1;
            xmlFree(cs);
            if (k < 1) k = 1;
            int keep = 1;
            for (int j = 1; j < k; j++) keep += begins[pos + (size_t)j];
            if (keep != k) {
                if (keep == 1) xmlUnsetProp(c, BAD_CAST "colspan");
                else {
                    char buf[16];
                    snprintf(buf, sizeof buf, "%d", keep);
                    xmlSetProp(c, BAD_CAST "colspan", BAD_CAST buf);
                }
            }
            pos += (size_t)k;
        }
    }
}

static int count_table(mstate *st, xmlNodePtr table) {
    size_t cells = 0, maxcols = 0;
    size_t lim_cols = st->doc->ov->opt.limits.table_columns ? st->doc->ov->opt.limits.table_columns : 200;
    size_t lim_cells = st->doc->ov->opt.limits.table_cells ? st->doc->ov->opt.limits.table_cells : 200000;
    for (xmlNodePtr g = table->children; g; g = g->next) {
        xmlNodePtr rows = NULL;
        if (is(g, "tr")) rows = g;
        else if (is(g, "thead") || is(g, "tbody") || is(g, "tfoot")) rows = g->children;
        else continue;
        for (xmlNodePtr r = rows; r; r = (rows == g ? NULL : r->next)) {
            if (!is(r, "tr")) continue;
            size_t cols = 0;
            for (xmlNodePtr c = r->children; c; c = c->next)
                if (is(c, "td") || is(c, "th")) cols++;
            cells += cols;
            if (cols > maxcols) maxcols = cols;
            if (maxcols > lim_cols)
                return fail(st, OCTAVO_E_LIMIT, r, "%s: a table has %zu columns, over the limit of %zu",
                            "limit.table_columns", maxcols, lim_cols);
            if (cells > lim_cells)
                return fail(st, OCTAVO_E_LIMIT, r, "%s: a table has %zu cells, over the limit of %zu",
                            "limit.table_cells", cells, lim_cells);
        }
    }
    return 0;
}

/* Decides what to do with element n, fixing it in place when it stays. */
static int visit(mstate *st, xmlNodePtr n) {
    const char *tag = (const char *)n->name;
    const el_info *info = el_lookup(tag);
    if (!info) return ACT_UNWRAP; /* unknown or custom element: its content stays */
    if (info->flags & (E_DROP | E_DROP_UNTR)) {
        if ((info->flags & E_DROP) || st->untrusted) {
            /* the HTML4 parser may have put what follows a void element inside it: keep that */
            if (info->flags & E_VOID) {
                while (n->last) {
                    xmlNodePtr c = n->last;
                    xmlUnlinkNode(c);
                    put_after(n, c);
                }
            }
            return ACT_DROP;
        }
    }
    if (info->flags & E_UNWRAP) return ACT_UNWRAP;
    if (st->untrusted && (info->flags & E_UNWRAP_UNTR)) return ACT_UNWRAP;
    if (!strcmp(tag, "input") && st->untrusted) {
        char *type = attr_get(n, "type");
        int task = type && str_ieq(type, "checkbox") && has_attr(n, "disabled");
        xmlFree(type);
        if (!task) {
            while (n->last) {
                xmlNodePtr c = n->last;
                xmlUnlinkNode(c);
                put_after(n, c);
            }
            return ACT_DROP;
        }
    }
    if (info->rename) {
        if (!strcmp(tag, "center")) style_add(n, "text-align", "center");
        xmlNodeSetName(n, BAD_CAST info->rename);
        tag = (const char *)n->name;
        info = el_lookup(tag);
        if (!info) return ACT_UNWRAP;
    }
    if (!strcmp(tag, "a")) {
        for (xmlNodePtr p = n->parent; p && p != st->root; p = p->parent)
            if (is(p, "a")) return ACT_UNWRAP; /* links do not nest */
    }
    if (!strcmp(tag, "time") && !has_attr(n, "datetime")) return ACT_UNWRAP;

    fix_attrs(st, n, tag);

    if (!strcmp(tag, "img")) {
        if (!has_attr(n, "src")) {
            char *alt = attr_get(n, "alt");
            if (alt && *alt) {
                xmlNodePtr t = xmlNewDocText(n->doc, BAD_CAST alt);
                if (t) put_before(n, t);
            }
            xmlFree(alt);
            return ACT_DROP;
        }
        if (!has_attr(n, "alt")) xmlSetProp(n, BAD_CAST "alt", BAD_CAST "");
    }
    if (!strcmp(tag, "track") && !has_attr(n, "src")) return ACT_DROP;
    if (!strcmp(tag, "source")) {
        int media = is(n->parent, "video") || is(n->parent, "audio");
        if (is(n->parent, "picture") ? !has_attr(n, "srcset") : !media || !has_attr(n, "src")) return ACT_DROP;
    }
    if (!strcmp(tag, "picture")) {
        /* sources and one image, nothing else */
        for (xmlNodePtr c = n->children, nx; c; c = nx) {
            nx = c->next;
            if (c->type == XML_TEXT_NODE && xmlIsBlankNode(c)) drop_node(c);
        }
    }
    if (!strcmp(tag, "iframe") && st->untrusted) {
        char *src = attr_get(n, "src");
        char scheme[32];
        int ok = src && url_scheme(src, scheme, sizeof scheme) && (!strcmp(scheme, "http") || !strcmp(scheme, "https"));
        xmlFree(src);
        if (!ok) return ACT_DROP;
    }
    if (info->flags & E_VOID) {
        /* the HTML4 parser may have given an HTML5 void element (source, track, wbr) content */
        while (n->last) {
            xmlNodePtr c = n->last;
            xmlUnlinkNode(c);
            put_after(n, c);
        }
    }
    if (info->flags & E_FLOW) {
        /* a <pre> or a heading holds phrasing only: a block inside one goes, its content stays */
        for (xmlNodePtr p = n->parent; p && p != st->root; p = p->parent) {
            if (is(p, "pre")) return ACT_UNWRAP;
            const el_info *pi = p->type == XML_ELEMENT_NODE ? el_lookup((const char *)p->name) : NULL;
            if (pi && (pi->flags & E_HEADING)) return ACT_UNWRAP;
        }
        /* table parts belong in their table, options in their select */
        const char *need = NULL;
        if (!strcmp(tag, "td") || !strcmp(tag, "th")) need = "tr";
        else if (!strcmp(tag, "tr")) need = is(n->parent, "thead") || is(n->parent, "tbody") || is(n->parent, "tfoot") ? NULL : "table";
        else if (!strcmp(tag, "thead") || !strcmp(tag, "tbody") || !strcmp(tag, "tfoot") || !strcmp(tag, "caption") ||
                 !strcmp(tag, "colgroup"))
            need = "table";
        else if (!strcmp(tag, "option")) need = is(n->parent, "optgroup") || is(n->parent, "datalist") ? NULL : "select";
        else if (!strcmp(tag, "optgroup")) need = "select";
        else if (!strcmp(tag, "summary")) need = "details";
        else if (!strcmp(tag, "legend")) need = "fieldset";
        else if (!strcmp(tag, "dt") || !strcmp(tag, "dd")) need = is(n->parent, "div") && is(n->parent->parent, "dl") ? NULL : "dl";
        else if (!strcmp(tag, "figcaption")) need = "figure";
        if (need && !is(n->parent, need)) return ACT_UNWRAP;
        if (!strcmp(tag, "col") && !is(n->parent, "colgroup") && !is(n->parent, "table")) return ACT_DROP;
        /* block content may not sit in a paragraph or a span: those become divs */
        for (xmlNodePtr p = n->parent, up; p && p != st->root && p->type == XML_ELEMENT_NODE; p = up) {
            up = p->parent;
            if (is(p, "p") || is(p, "span")) { xmlNodeSetName(p, BAD_CAST "div"); continue; }
            const el_info *pi = el_lookup((const char *)p->name);
            if (!pi || (pi->flags & (E_FLOW | E_HEADING))) break;
            if (pi->flags & E_TRANSP) continue;
            /* a phrasing element (em, strong, code...) cannot hold blocks: it goes, its content stays */
            unwrap_node(p);
        }
    }
    if (!strcmp(tag, "li") && !is(n->parent, "ul") && !is(n->parent, "ol") && !is(n->parent, "menu")) {
        xmlNodePtr ul = xmlNewDocNode(n->doc, NULL, BAD_CAST "ul", NULL);
        if (!ul) return fail(st, OCTAVO_E_NOMEM, NULL, NULL, NULL, 0, 0), ACT_SKIP;
        put_before(n, ul);
        xmlNodePtr c = n;
        while (c) {
            xmlNodePtr nx = c->next;
            if (!is(c, "li") && !(c->type == XML_TEXT_NODE && xmlIsBlankNode(c))) break;
            xmlUnlinkNode(c);
            put_last(ul, c);
            c = nx;
        }
    }
    if (!strcmp(tag, "ul") || !strcmp(tag, "ol") || !strcmp(tag, "menu")) {
        /* lists hold list items only */
        xmlNodePtr c = n->children, li = NULL;
        while (c) {
            xmlNodePtr nx = c->next;
            if (is(c, "li") || c->type == XML_COMMENT_NODE || (c->type == XML_TEXT_NODE && xmlIsBlankNode(c) && !li)) {
                li = NULL;
            } else {
                if (!li) {
                    li = xmlNewDocNode(n->doc, NULL, BAD_CAST "li", NULL);
                    if (!li) return fail(st, OCTAVO_E_NOMEM, NULL, NULL, NULL, 0, 0), ACT_SKIP;
                    put_before(c, li);
                }
                xmlUnlinkNode(c);
                put_last(li, c);
            }
            c = nx;
        }
    }
    if (!strcmp(tag, "li") && has_attr(n, "data-sourcepos")) {
        /* a task list item of cmark's: GitHub's classes */
        xmlNodePtr c = n->children;
        while (c && c->type == XML_TEXT_NODE && xmlIsBlankNode(c)) c = c->next;
        if (c && is(c, "p")) c = c->children;
        if (c && is(c, "input")) {
            xmlSetProp(n, BAD_CAST "class", BAD_CAST "task-list-item");
            xmlSetProp(c, BAD_CAST "class", BAD_CAST "task-list-item-checkbox");
            if (n->parent && !has_attr(n->parent, "class"))
                xmlSetProp(n->parent, BAD_CAST "class", BAD_CAST "contains-task-list");
        }
    }
    if (!strcmp(tag, "table") || !strcmp(tag, "thead") || !strcmp(tag, "tbody") || !strcmp(tag, "tfoot") ||
        !strcmp(tag, "tr") || !strcmp(tag, "colgroup")) {
        /* what has no place in a table's structure goes out of it (after it, so that the walk
         * still reaches it; browsers put it before) */
        xmlNodePtr table = n;
        while (table && !is(table, "table")) table = table->parent;
        xmlNodePtr anchor = table;
        while (anchor && anchor->next && anchor->next->_private == (void *)&fostered) anchor = anchor->next;
        for (xmlNodePtr c = n->children, nx; c && table; c = nx) {
            nx = c->next;
            int ok;
            if (c->type == XML_TEXT_NODE) ok = xmlIsBlankNode(c);
            else if (c->type != XML_ELEMENT_NODE) ok = 1;
            else if (!strcmp(tag, "table"))
                ok = is(c, "caption") || is(c, "colgroup") || is(c, "col") || is(c, "thead") || is(c, "tbody") ||
                     is(c, "tfoot") || is(c, "tr");
            else if (!strcmp(tag, "tr")) ok = is(c, "td") || is(c, "th");
            else if (!strcmp(tag, "colgroup")) ok = is(c, "col");
            else ok = is(c, "tr");
            if (!ok) {
                xmlUnlinkNode(c);
                put_after(anchor, c);
                c->_private = (void *)&fostered;
                anchor = c;
            }
        }
    }
    if (!strcmp(tag, "table")) {
        if (count_table(st, n)) return ACT_SKIP;
        fix_colspans(n);
    }
    if (!strcmp(tag, "iframe")) {
        while (n->children) drop_node(n->children);
    }
    if (!strcmp(tag, "details")) {
        xmlNodePtr c = n->children;
        while (c && c->type == XML_TEXT_NODE && xmlIsBlankNode(c)) c = c->next;
        if (!is(c, "summary")) {
            xmlNodePtr s = xmlNewDocNode(n->doc, NULL, BAD_CAST "summary", BAD_CAST "Details");
            if (s) {
                if (n->children) put_before(n->children, s);
                else put_last(n, s);
            }
        }
    }

    if (!has_attr(n, "data-sourcepos")) assign_block_pos(st, n);
    else st->cur_pos[0] = 0;

    /* ids: unique across the document; footnote ids are settled after the walk */
    if (!strcmp(tag, "a") && (has_attr(n, "data-footnote-ref") || has_attr(n, "data-footnote-backref"))) {
        if (push_node(&st->fn_links, &st->nfl, &st->capfl, n)) return fail(st, OCTAVO_E_NOMEM, NULL, NULL, NULL, 0, 0), ACT_SKIP;
    }
    char *id = attr_get(n, "id");
    if (id) {
        if ((!strcmp(tag, "a") && has_attr(n, "data-footnote-ref")) || is_footnote_item(n)) {
            if (push_node(&st->fn_targets, &st->nfn, &st->capfn, n)) {
                xmlFree(id);
                return fail(st, OCTAVO_E_NOMEM, NULL, NULL, NULL, 0, 0), ACT_SKIP;
            }
        } else {
            char *u = unique_id(&st->ids, id);
            if (!u) { xmlFree(id); return fail(st, OCTAVO_E_NOMEM, NULL, NULL, NULL, 0, 0), ACT_SKIP; }
            if (strcmp(u, id)) xmlSetProp(n, BAD_CAST "id", BAD_CAST u);
            ov_free(u);
        }
        xmlFree(id);
    }
    if (info->flags & E_HEADING) {
        if (push_node(&st->heads, &st->nheads, &st->capheads, n)) return fail(st, OCTAVO_E_NOMEM, NULL, NULL, NULL, 0, 0), ACT_SKIP;
    }
    if (info->flags & E_VOID) return ACT_SKIP;
    return ACT_DESCEND;
}

/* The node after n's subtree in document order within root; keeps *depth in step. */
static xmlNodePtr after(xmlNodePtr n, xmlNodePtr root, size_t *depth) {
    while (n && n != root) {
        if (n->next) return n->next;
        n = n->parent;
        (*depth)--;
    }
    return NULL;
}

static int walk(mstate *st) {
    xmlNodePtr root = st->root;
    xmlNodePtr n = root->children;
    size_t depth = 1;
    while (n && !st->code) {
        if (n->type == XML_ELEMENT_NODE) {
            if (depth > st->max_depth)
                return fail(st, OCTAVO_E_LIMIT, n, "%s: the document nests deeper than %zu levels%.0zu",
                            "limit.nesting", st->max_depth, (size_t)0);
            int act = visit(st, n);
            if (st->code) break;
            if (act == ACT_DROP) {
                xmlNodePtr nx = after(n, root, &depth);
                drop_node(n);
                n = nx;
            } else if (act == ACT_UNWRAP) {
                if (n->children) {
                    n = unwrap_node(n);
                } else {
                    xmlNodePtr nx = after(n, root, &depth);
                    drop_node(n);
                    n = nx;
                }
            } else if (act == ACT_DESCEND && n->children) {
                n = n->children;
                depth++;
            } else {
                n = after(n, root, &depth);
            }
        } else if (n->type == XML_TEXT_NODE) {
            n = after(n, root, &depth);
        } else if (n->type == XML_COMMENT_NODE && n->content &&
                   !strncmp((const char *)n->content, POS_MARK, sizeof POS_MARK - 1)) {
            snprintf(st->cur_pos, sizeof st->cur_pos, "%s", (const char *)n->content + sizeof POS_MARK - 1);
            xmlNodePtr nx = after(n, root, &depth);
            drop_node(n);
            n = nx;
        } else if (n->type == XML_CDATA_SECTION_NODE) {
            n->type = XML_TEXT_NODE;
            n = after(n, root, &depth);
        } else { /* comments, processing instructions, entity references... */
            xmlNodePtr nx = after(n, root, &depth);
            drop_node(n);
            n = nx;
        }
    }
    return st->code;
}

/* Footnote ids are unique too; their links follow a renamed id. */
static int settle_footnotes(mstate *st) {
    for (size_t i = 0; i < st->nfn; i++) {
        xmlNodePtr n = st->fn_targets[i];
        char *id = attr_get(n, "id");
        if (!id) continue;
        char *u = unique_id(&st->ids, id);
        if (!u) { xmlFree(id); return fail(st, OCTAVO_E_NOMEM, NULL, NULL, NULL, 0, 0); }
        if (strcmp(u, id)) {
            xmlSetProp(n, BAD_CAST "id", BAD_CAST u);
            size_t ol = strlen(id);
            for (size_t j = 0; j < st->nfl; j++) {
                char *href = attr_get(st->fn_links[j], "href");
                if (href && href[0] == '#' && !strncmp(href + 1, id, ol) && !href[ol + 1]) {
                    char buf[512];
                    snprintf(buf, sizeof buf, "#%s", u);
                    xmlSetProp(st->fn_links[j], BAD_CAST "href", BAD_CAST buf);
                }
                xmlFree(href);
            }
        }
        ov_free(u);
        xmlFree(id);
    }
    return 0;
}

/* Fits heading levels, gives ids, fills doc->headings. */
static int fit_headings(mstate *st) {
    octavo_doc *doc = st->doc;
    size_t first = 0;
    if (doc->title_from_heading) {
        for (size_t i = 0; i < st->nheads; i++) {
            if (has_attr(st->heads[i], "data-sourcepos")) {
                xmlNodePtr t = st->heads[i];
                size_t k = 0;
                for (size_t j = 0; j < st->nheads; j++) { /* forget it and whatever heading it holds */
                    xmlNodePtr a = st->heads[j];
                    while (a && a != t) a = a->parent;
                    if (!a) st->heads[k++] = st->heads[j];
                }
                st->nheads = k;
                drop_node(t);
                break;
            }
        }
    }
    (void)first;
    int shift = 0;
    for (size_t i = 0; i < st->nheads; i++)
        if (st->heads[i]->name[1] == '1') shift = 1;
    if (st->nheads) {
        doc->headings = ov_calloc(st->nheads, sizeof *doc->headings);
        if (!doc->headings) return fail(st, OCTAVO_E_NOMEM, NULL, NULL, NULL, 0, 0);
    }
    int prev = 1;
    for (size_t i = 0; i < st->nheads; i++) {
        xmlNodePtr h = st->heads[i];
        int lvl = h->name[1] - '0' + shift;
        if (lvl > prev + 1) lvl = prev + 1;
        if (lvl < 2) lvl = 2;
        if (lvl > 6) lvl = 6;
        prev = lvl;
        char name[3] = {'h', (char)('0' + lvl), 0};
        xmlNodeSetName(h, BAD_CAST name);
        ov_heading *oh = &doc->headings[doc->nheadings++];
        oh->node = h;
        oh->level = lvl;
        oh->text = ov_model_text(h);
        if (!oh->text) return fail(st, OCTAVO_E_NOMEM, NULL, NULL, NULL, 0, 0);
        char *id = attr_get(h, "id");
        if (id) {
            oh->id = ov_strdup(id);
            xmlFree(id);
        } else {
            char *slug = ov_slug(oh->text);
            if (!slug) return fail(st, OCTAVO_E_NOMEM, NULL, NULL, NULL, 0, 0);
            oh->id = unique_id(&st->ids, *slug ? slug : "section");
            ov_free(slug);
            if (oh->id) xmlSetProp(h, BAD_CAST "id", BAD_CAST oh->id);
        }
        if (!oh->id) return fail(st, OCTAVO_E_NOMEM, NULL, NULL, NULL, 0, 0);
    }
    return 0;
}

/* Puts a position marker in front of every raw HTML block (saved: the original literals). */
typedef struct saved_lit {
    cmark_node *node;
    char *literal;
} saved_lit;

static int mark_blocks(cmark_node *ast, saved_lit **out, size_t *count) {
    size_t cap = 0, n = 0;
    saved_lit *v = NULL;
    cmark_iter *it = cmark_iter_new(ast);
    if (!it) return -1;
    cmark_event_type ev;
    int rc = 0;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *c = cmark_iter_get_node(it);
        if (ev != CMARK_EVENT_ENTER || cmark_node_get_type(c) != CMARK_NODE_HTML_BLOCK) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            saved_lit *p = ov_realloc(v, cap * sizeof *p);
            if (!p) { rc = -1; break; }
            v = p;
        }
        const char *lit = cmark_node_get_literal(c);
        v[n].node = c;
        v[n].literal = ov_strdup(lit ? lit : "");
        if (!v[n].literal) { rc = -1; break; }
        size_t len = strlen(v[n].literal) + 64;
        char *marked = ov_malloc(len);
        if (!marked) { ov_free(v[n].literal); rc = -1; break; }
        snprintf(marked, len, "<!--" POS_MARK "%d:%d-->%s", cmark_node_get_start_line(c),
                 cmark_node_get_start_column(c), v[n].literal);
        cmark_node_set_literal(c, marked);
        ov_free(marked);
        n++;
    }
    cmark_iter_free(it);
    *out = v;
    *count = n;
    return rc;
}

static void restore_blocks(saved_lit *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        cmark_node_set_literal(v[i].node, v[i].literal);
        ov_free(v[i].literal);
    }
    ov_free(v);
}

static char *render_markdown(octavo_doc *doc, size_t *len) {
    /* the extensions were registered when the document was loaded (document.c) */
    cmark_mem *mem = cmark_get_default_mem_allocator();
    cmark_llist *exts = NULL;
    static const char *const names[] = {"table", "strikethrough", "autolink", "tasklist"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        cmark_syntax_extension *e = cmark_find_syntax_extension(names[i]);
        if (e) exts = cmark_llist_append(mem, exts, e);
    }
    /* tagfilter is left out on purpose: our sanitiser is the policy, and it keeps <iframe> */
    int opts = CMARK_OPT_UNSAFE | CMARK_OPT_SOURCEPOS | CMARK_OPT_FOOTNOTES | CMARK_OPT_TABLE_PREFER_STYLE_ATTRIBUTES;
    char *html = cmark_render_html_with_mem(doc->ast, opts, exts, mem);
    cmark_llist_free(mem, exts);
    if (!html) return NULL;
    static const char head[] = "<html><body>", tail[] = "</body></html>";
    size_t n = strlen(html);
    char *out = ov_malloc(sizeof head - 1 + n + sizeof tail);
    if (out) {
        memcpy(out, head, sizeof head - 1);
        memcpy(out + sizeof head - 1, html, n);
        memcpy(out + sizeof head - 1 + n, tail, sizeof tail);
        *len = sizeof head - 1 + n + sizeof tail - 1;
    }
    mem->free(html);
    return out;
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void xml_init(void) { xmlInitParser(); }

int ov_model_build(octavo_doc *doc, octavo_error *err) {
    if (!doc) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_MARKDOWN, NULL, 0, 0, "no document");
    if (doc->dom) return OCTAVO_OK;
    if (doc->model_code)
        return ov_error(err, doc->model_code, OCTAVO_STAGE_MARKDOWN, doc->name, 0, 0, "%s",
                        octavo_strerror(doc->model_code));
    int prc = ov_doc_parse(doc, err);
    if (prc) return prc; /* not remembered: the next call parses again and says why again */
    pthread_once(&xml_once, xml_init);
    mstate st;
    memset(&st, 0, sizeof st);
    st.doc = doc;
    st.err = err;
    st.untrusted = !(doc->ov->opt.flags & OCTAVO_TRUSTED);
    size_t nest = doc->ov->opt.limits.nesting ? doc->ov->opt.limits.nesting : 256;
    st.max_depth = nest * 2 + 32;

    size_t len = 0, nsaved = 0;
    saved_lit *saved = NULL;
    int marked = doc->ast ? mark_blocks(doc->ast, &saved, &nsaved) : 0;
    char *html = doc->ast && !marked ? render_markdown(doc, &len)
                                     : (doc->ast ? NULL : ov_strdup("<html><body></body></html>"));
    if (doc->ast) restore_blocks(saved, nsaved);
    if (html && !len) len = strlen(html);
    if (!html || len > INT32_MAX) {
        ov_free(html);
        doc->model_code = OCTAVO_E_NOMEM;
        return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_MARKDOWN, doc->name, 0, 0, "out of memory");
    }
    xmlDocPtr dom = htmlReadMemory(html, (int)len, NULL, "UTF-8",
                                   HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
                                       HTML_PARSE_NODEFDTD | HTML_PARSE_COMPACT | XML_PARSE_HUGE);
    ov_free(html);
    xmlNodePtr root = dom ? xmlDocGetRootElement(dom) : NULL;
    xmlNodePtr body = NULL;
    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next)
        if (is(c, "body")) body = c;
    if (root && !body) body = xmlNewChild(root, NULL, BAD_CAST "body", NULL);
    xmlNodePtr div = body ? xmlNewDocNode(dom, NULL, BAD_CAST "div", NULL) : NULL;
    if (!div) {
        xmlFreeDoc(dom);
        doc->model_code = OCTAVO_E_NOMEM;
        return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_MARKDOWN, doc->name, 0, 0, "out of memory");
    }
    while (body->children) {
        xmlNodePtr c = body->children;
        xmlUnlinkNode(c);
        put_last(div, c);
    }
    put_last(body, div);
    doc->dom = dom;
    doc->body = div;
    st.root = div;

    walk(&st);
    if (!st.code) settle_footnotes(&st);
    if (!st.code) fit_headings(&st);
    if (!st.code && st.ids.failed) fail(&st, OCTAVO_E_NOMEM, NULL, NULL, NULL, 0, 0);

    set_free(&st.ids);
    ov_free(st.heads);
    ov_free(st.fn_targets);
    ov_free(st.fn_links);
    if (st.code) {
        ov_model_free(doc);
        doc->model_code = st.code;
        return st.code;
    }
    doc->model_code = OCTAVO_OK;
    return OCTAVO_OK;
}

void ov_model_free(octavo_doc *doc) {
    if (!doc) return;
    for (size_t i = 0; i < doc->nheadings; i++) {
        ov_free(doc->headings[i].id);
        ov_free(doc->headings[i].text);
    }
    ov_free(doc->headings);
    doc->headings = NULL;
    doc->nheadings = 0;
    if (doc->dom) xmlFreeDoc(doc->dom);
    doc->dom = NULL;
    doc->body = NULL;
    doc->model_code = 0;
}

void ov_model_position(const octavo_doc *doc, xmlNodePtr node, unsigned *line, unsigned *col) {
    unsigned l = 0, c = 0;
    for (xmlNodePtr n = node; n; n = n->parent) {
        if (n->type != XML_ELEMENT_NODE) continue;
        char *sp = attr_get(n, "data-sourcepos");
        int ok = sp && parse_sourcepos(sp, &l, &c, NULL, NULL);
        xmlFree(sp);
        if (ok) break;
        l = c = 0;
        if (doc && n == doc->body) break;
    }
    if (line) *line = 0;
    if (col) *col = 0;
    if (!l || !doc) return;
    unsigned body_line = doc->src.body_line ? doc->src.body_line : 1;
    if (line) *line = body_line + l - 1;
    if (!col) return;
    *col = c ? c : 1;
    /* cmark counts bytes; the column is counted in characters */
    const char *text = doc->text ? doc->text : doc->src.text;
    size_t len = doc->text ? doc->len : doc->src.len;
    if (!text || doc->src.body_start > len) return;
    size_t i = doc->src.body_start;
    for (unsigned k = 1; k < l && i < len; i++)
        if (text[i] == '\n') k++;
    unsigned chars = 0;
    for (size_t j = 0; j + 1 < c && i + j < len && text[i + j] != '\n'; j++)
        if (((unsigned char)text[i + j] & 0xC0) != 0x80) chars++;
    *col = chars + 1;
}

char *ov_model_text(xmlNodePtr node) {
    ov_buf b;
    ov_buf_init(&b);
    int space = 0;
    size_t depth = 0;
    xmlNodePtr n = node;
    while (n) {
        if (n->type == XML_TEXT_NODE && n->content) {
            for (const unsigned char *p = n->content; *p; p++) {
                if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f') {
                    space = 1;
                } else {
                    if (space && b.len) ov_buf_putc(&b, ' ');
                    space = 0;
                    ov_buf_putc(&b, *p);
                }
            }
        } else if (n->type == XML_ELEMENT_NODE && is(n, "br")) {
            space = 1;
        }
        if (n->type == XML_ELEMENT_NODE && n->children) {
            n = n->children;
            depth++;
            continue;
        }
        if (n == node) break;
        while (n && n != node) {
            if (n->next) { n = n->next; break; }
            n = n->parent;
            depth--;
        }
        if (n == node) break;
    }
    return ov_buf_detach(&b, NULL);
}
