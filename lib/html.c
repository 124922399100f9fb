/*
 * HTML backend: the document model (model.c) written as an HTML5 page or fragment.
 *
 * The page: <!DOCTYPE html>, lang, charset, viewport, <title>, meta description (description,
 * seo.description, summary, else the document's summary), author, generator, Open Graph
 * (og:title, og:description, og:type article, og:url and <link rel=canonical>: the frontmatter's
 * seo.url or url, else the page's place under the base URL when one is set; og:image from
 * seo.image/image made absolute, article:published_time), the built-in stylesheet, and a header
 * with the title, byline and date above the body.
 *
 * Templates (octavo_options.html_template) replace the built-in page. Placeholders:
 *   {{title}}        the title, escaped for text and attributes
 *   {{lang}}         the language code
 *   {{meta}}         the head metadata (meta description, author, Open Graph, canonical link)
 *   {{style}}        the built-in stylesheet as a <style> element
 *   {{header}}       the <header> with the title (h1), byline and date
 *   {{toc}}          the table of contents (<nav class="toc">), "" when there are no headings
 *   {{body}}         the document's body
 *   {{description}}  the description, escaped ("" when none)
 *   {{author}}       the author, escaped ("" when none)
 *   {{date}}         the date as YYYY-MM-DD ("" when none)
 * Spaces inside the braces are allowed ({{ body }}). An unknown placeholder or an unclosed "{{"
 * is OCTAVO_E_TEMPLATE, with the template's line and column. Nothing else is interpreted.
 *
 * Links and images: the handle's link callback (octavo_options.link) sees every href and src
 * first. Without one (or when it returns 0): remote targets stay; a site-absolute "/x" becomes
 * base_url + "x" when a base URL is set; other local targets stay as written. A link whose
 * target the callback reports as existing nowhere (-1) keeps its text and loses its link; such an
 * image becomes its alt text; both are warned about with the file, line and column.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>

#include "internal.h"

/* The built-in stylesheet: readable on a phone and on paper. */
static const char style_css[] =
    ":root{color-scheme:light dark;--fg:#1f2328;--bg:#fff;--muted:#59636e;--line:#d1d9e0;--code:#f6f8fa;"
    "--link:#0969da}"
    "@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;--line:#3d444d;"
    "--code:#151b23;--link:#4493f8}}"
    "*,*::before,*::after{box-sizing:border-box}"
    "html{-webkit-text-size-adjust:100%;text-size-adjust:100%}"
    "body{margin:0;padding:1rem;color:var(--fg);background:var(--bg);font:1.0625rem/1.6 system-ui,-apple-system,"
    "\"Segoe UI\",Roboto,\"Noto Sans\",sans-serif;overflow-wrap:break-word}"
    "main,article{display:block;max-width:46rem;margin:0 auto}"
    "header.doc{margin:1rem 0 2rem;padding-bottom:1rem;border-bottom:1px solid var(--line)}"
    "header.doc h1{margin:0 0 .5rem;font-size:2rem;line-height:1.25}"
    ".byline{margin:0;color:var(--muted);font-size:.95rem}"
    "h1,h2,h3,h4,h5,h6{line-height:1.3;margin:2rem 0 .75rem}"
    "h2{font-size:1.5rem;padding-bottom:.3rem;border-bottom:1px solid var(--line)}h3{font-size:1.25rem}"
    "h4{font-size:1.1rem}h5,h6{font-size:1rem}"
    "a{color:var(--link)}a.anchor{margin-left:.4rem;text-decoration:none;opacity:0;font-weight:400}"
    "h2:hover a.anchor,h3:hover a.anchor,h4:hover a.anchor,h5:hover a.anchor,h6:hover a.anchor,"
    "a.anchor:focus{opacity:.6}"
    "img,video,iframe{max-width:100%;height:auto}iframe{aspect-ratio:16/9;width:100%;border:0}"
    "pre{overflow-x:auto;padding:.9rem 1rem;background:var(--code);border-radius:6px;line-height:1.45}"
    "code,kbd,samp,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,\"Liberation Mono\",monospace;"
    "font-size:.9em}"
    ":not(pre)>code{padding:.15em .35em;background:var(--code);border-radius:4px}"
    "blockquote{margin:1rem 0;padding:0 1rem;color:var(--muted);border-left:.25rem solid var(--line)}"
    "table{display:block;overflow-x:auto;border-collapse:collapse;margin:1rem 0}"
    "th,td{padding:.4rem .75rem;border:1px solid var(--line)}th{background:var(--code)}"
    "hr{border:0;border-top:1px solid var(--line);margin:2rem 0}"
    "ul.contains-task-list{list-style:none;padding-left:1.2rem}.task-list-item-checkbox{margin-right:.4rem}"
    "section.footnotes{margin-top:2rem;padding-top:1rem;border-top:1px solid var(--line);font-size:.9rem}"
    "sup.footnote-ref a{text-decoration:none}"
    "nav.toc{margin:1rem 0 2rem;padding:.75rem 1rem;border:1px solid var(--line);border-radius:6px}"
    "nav.toc ol{margin:.25rem 0;padding-left:1.2rem}.toc-title{margin:0;font-weight:600}"
    "@media print{body{padding:0;font-size:11pt;color:#000;background:#fff}a{color:#000}"
    "a.anchor{display:none}pre{white-space:pre-wrap;border:1px solid #ccc}"
    "h1,h2,h3,h4,h5,h6{break-after:avoid}img,pre,table,blockquote{break-inside:avoid}"
    "iframe{display:none}}";

/* ---------------------------------------------------------------------------------------------
 * Escaping.
 */

/* Text or attribute value: escapes & < > " and replaces what HTML forbids (controls other than
 * tab/LF/CR/FF, noncharacters) with U+FFFD. */
static void put_esc(ov_buf *b, const char *s, size_t n, int attr) {
    size_t start = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        size_t skip = 1;
        if (c == '&') rep = "&amp;";
        else if (c == '<') rep = "&lt;";
        else if (c == '>') rep = "&gt;";
        else if (c == '"' && attr) rep = "&quot;";
        else if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7f) rep = "\xEF\xBF\xBD";
        else if (c == '\r') rep = "&#13;";
        else if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9F) {
            rep = "\xEF\xBF\xBD"; /* C1 controls */
            skip = 2;
        } else if (c == 0xEF && i + 2 < n && (unsigned char)s[i + 1] == 0xB7 && (unsigned char)s[i + 2] >= 0x90 &&
                   (unsigned char)s[i + 2] <= 0xAF) {
            rep = "\xEF\xBF\xBD"; /* U+FDD0..U+FDEF */
            skip = 3;
        } else if (c >= 0xEF && i + 2 < n) {
            /* U+xFFFE and U+xFFFF noncharacters */
            uint32_t cp;
            int l = ov_utf8_decode(s + i, n - i, &cp);
            if (l > 0 && (cp & 0xFFFE) == 0xFFFE) { rep = "\xEF\xBF\xBD"; skip = (size_t)l; }
        }
        if (rep) {
            ov_buf_put(b, s + start, i - start);
            ov_buf_puts(b, rep);
            i += skip;
            start = i;
        } else {
            i++;
        }
    }
    ov_buf_put(b, s + start, n - start);
}

static void put_text(ov_buf *b, const char *s) { if (s) put_esc(b, s, strlen(s), 0); }
static void put_attr(ov_buf *b, const char *s) { if (s) put_esc(b, s, strlen(s), 1); }

/* ---------------------------------------------------------------------------------------------
 * Serialising the DOM.
 */
typedef struct hctx {
    const octavo_doc *doc;
    const octavo *ov;
    ov_buf *b;
    int code;
} hctx;

static int is_el(const xmlNode *n, const char *name) {
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static int is_void(const char *name) {
    static const char *const v[] = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                                    "meta", "source", "track", "wbr", NULL};
    for (const char *const *p = v; *p; p++)
        if (!strcmp(*p, name)) return 1;
    return 0;
}

static int is_heading(const xmlNode *n) {
    return n->type == XML_ELEMENT_NODE && n->name[0] == 'h' && n->name[1] >= '1' && n->name[1] <= '6' && !n->name[2];
}

enum { LINK_KEEP, LINK_NEW, LINK_DEAD };

/* Resolves a link or image target for the page: LINK_NEW with *out set (ov_free it), LINK_KEEP or
 * LINK_DEAD. */
static int map_target(hctx *h, const char *t, char **out) {
    *out = NULL;
    if (!t || !*t || t[0] == '#') return LINK_KEEP;
    const octavo *ov = h->ov;
    if (ov->opt.link) {
        char buf[OCTAVO_PATH_SIZE * 2];
        buf[0] = 0;
        int r = ov->opt.link(ov->opt.link_ud, h->doc->name, t, buf, sizeof buf);
        if (r < 0) return LINK_DEAD;
        if (r > 0) {
            buf[sizeof buf - 1] = 0;
            *out = ov_strdup(buf);
            return *out ? LINK_NEW : LINK_KEEP;
        }
    }
    if (ov_is_remote(t)) return LINK_KEEP;
    if (t[0] == '/' && t[1] != '/' && ov->base_url) {
        size_t n = strlen(ov->base_url) + strlen(t);
        *out = ov_malloc(n + 1);
        if (!*out) return LINK_KEEP;
        snprintf(*out, n + 1, "%s%s", ov->base_url, t + 1);
        return LINK_NEW;
    }
    return LINK_KEEP;
}

/* Warns about a target at its own place in the source: the block's position (the model knows it)
 * refined by finding the target as written from the block's start on. */
static void warn_at(hctx *h, xmlNodePtr n, int code, const char *fmt, const char *what) {
    unsigned line = 0, col = 0;
    const octavo_doc *doc = h->doc;
    ov_model_position(doc, n, &line, &col);
    const char *text = doc->text;
    size_t len = doc->len, tl = strlen(what);
    if (line && text && tl) {
        size_t i = 0;
        for (unsigned l = 1; l < line && i < len; i++)
            if (text[i] == '\n') l++;
        size_t end = len - i > 65536 ? i + 65536 : len;
        /* where a destination starts: "(x", "<x>", "=x", "\"x", "'x", "]: x" */
        size_t any = SIZE_MAX;
        for (size_t j = i; j + tl <= end; j++) {
            if (text[j] != what[0] || memcmp(text + j, what, tl)) continue;
            if (any == SIZE_MAX) any = j;
            if (j > 0 && strchr("(<=\"' ", text[j - 1])) { any = j; break; }
        }
        if (any != SIZE_MAX) ov_source_position(text, len, any, &line, &col);
    }
    ov_warn(h->ov, code, doc->name, line, col, fmt, what);
}

static void ser_children(hctx *h, xmlNodePtr n);

/* A local image the page keeps as written: when the handle has a resource root and no callback of
 * the caller's decides where targets are, say so if it is not under the root (the page will show
 * its alt text wherever it is served from with the site). Remote and data: images are not
 * checked. */
static void check_local_image(hctx *h, xmlNodePtr n, const char *src) {
    const octavo *ov = h->ov;
    if (!*src || src[0] == '#' || ov_is_remote(src) || !ov->resource_root || ov->opt.link || ov->opt.resolve) return;
    octavo_error e;
    memset(&e, 0, sizeof e);
    char *rel = ov_resolve_relpath(h->doc, src, &e);
    if (rel) {
        ov_free(rel);
        return;
    }
    if (e.code == OCTAVO_E_NOT_FOUND)
        warn_at(h, n, OCTAVO_E_NOT_FOUND, "image %s is not found under the resource root: readers will see its alt text", src);
    else if (e.code == OCTAVO_E_ACCESS)
        warn_at(h, n, OCTAVO_E_ACCESS, "image %s is outside the resource root: readers will likely see its alt text", src);
}

/* A srcset with every candidate's URL mapped like a src; candidates that exist nowhere are left
 * out. NULL when none is left (ov_free the result). */
static char *map_srcset(hctx *h, const char *v) {
    ov_buf b;
    ov_buf_init(&b);
    const char *p = v;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p)) p++;
        if (!*p) break;
        const char *u = p;
        while (*p && !isspace((unsigned char)*p) && *p != ',') p++;
        char *url = ov_strndup(u, (size_t)(p - u));
        const char *d = p;
        while (*p && *p != ',') p++;
        if (!url) break;
        char *m = NULL;
        int r = map_target(h, url, &m);
        if (r != LINK_DEAD) {
            if (b.len) ov_buf_puts(&b, ", ");
            ov_buf_puts(&b, r == LINK_NEW ? m : url);
            while (d < p && isspace((unsigned char)*d)) d++;
            const char *e = p;
            while (e > d && isspace((unsigned char)e[-1])) e--;
            if (e > d) {
                ov_buf_putc(&b, ' ');
                ov_buf_put(&b, d, (size_t)(e - d));
            }
        }
        ov_free(m);
        ov_free(url);
    }
    if (b.failed || !b.len) { ov_buf_free(&b); return NULL; }
    return ov_buf_detach(&b, NULL);
}

static void ser_attrs(hctx *h, xmlNodePtr n, const char *url_attr, const char *url_value) {
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        const char *an = (const char *)a->name;
        if (!strcmp(an, "data-sourcepos")) continue;
        if (url_attr && !strcmp(an, url_attr)) {
            if (!url_value) continue; /* dropped */
            ov_buf_printf(h->b, " %s=\"", an);
            put_attr(h->b, url_value);
            ov_buf_putc(h->b, '"');
            continue;
        }
        xmlChar *v = xmlNodeGetContent((xmlNodePtr)a);
        char *mapped = NULL;
        const char *val = (const char *)v;
        if (v && !strcmp(an, "srcset")) {
            mapped = map_srcset(h, (const char *)v);
            val = mapped;
        } else if (v && !strcmp(an, "poster")) {
            int r = map_target(h, (const char *)v, &mapped);
            val = r == LINK_NEW ? mapped : r == LINK_DEAD ? NULL : val;
        }
        if (val) {
            ov_buf_putc(h->b, ' ');
            ov_buf_puts(h->b, an);
            ov_buf_puts(h->b, "=\"");
            put_attr(h->b, val);
            ov_buf_putc(h->b, '"');
        }
        ov_free(mapped);
        xmlFree(v);
    }
}

static void ser_node(hctx *h, xmlNodePtr n) {
    if (n->type == XML_TEXT_NODE) {
        if (n->content) put_text(h->b, (const char *)n->content);
        return;
    }
    if (n->type != XML_ELEMENT_NODE) return;
    const char *name = (const char *)n->name;
    if (!strcmp(name, "source") && n->parent && is_el(n->parent, "picture")) {
        char *ss = (char *)xmlGetProp(n, BAD_CAST "srcset");
        char *m = ss ? map_srcset(h, ss) : NULL;
        int dead = !m;
        ov_free(m);
        xmlFree(ss);
        if (dead) return;
    }
    if (!strcmp(name, "picture")) {
        /* a picture whose image is missing is the image's alt text */
        xmlNodePtr img = NULL;
        for (xmlNodePtr c = n->children; c; c = c->next)
            if (is_el(c, "img")) img = c;
        char *src = img ? (char *)xmlGetProp(img, BAD_CAST "src") : NULL;
        char *mapped = NULL;
        int dead = !img || (src && map_target(h, src, &mapped) == LINK_DEAD);
        ov_free(mapped);
        xmlFree(src);
        if (dead) {
            if (img) ser_node(h, img);
            return;
        }
    }

    /* the target attribute of this element, mapped */
    const char *url_attr = NULL;
    if (is_el(n, "a") || is_el(n, "area")) url_attr = "href";
    else if (is_el(n, "img") || is_el(n, "iframe") || is_el(n, "source") || is_el(n, "video") ||
             is_el(n, "audio") || is_el(n, "track"))
        url_attr = "src";
    char *orig = url_attr ? (char *)xmlGetProp(n, BAD_CAST url_attr) : NULL;
    char *mapped = NULL;
    const char *value = orig;
    if (orig) {
        int r = map_target(h, orig, &mapped);
        if (r == LINK_KEEP && is_el(n, "img")) check_local_image(h, n, orig);
        if (r == LINK_NEW) value = mapped;
        else if (r == LINK_DEAD) {
            if (is_el(n, "a")) {
                warn_at(h, n, OCTAVO_E_NOT_FOUND, "link target %s exists nowhere: the link is dropped, its text kept", orig);
                xmlFree(orig);
                ser_children(h, n);
                return;
            }
            if (is_el(n, "img")) {
                warn_at(h, n, OCTAVO_E_RESOURCE, "image %s is missing: its alt text is shown instead", orig);
                char *alt = (char *)xmlGetProp(n, BAD_CAST "alt");
                if (alt) put_text(h->b, alt);
                xmlFree(alt);
                xmlFree(orig);
                return;
            }
            warn_at(h, n, OCTAVO_E_NOT_FOUND, "target %s exists nowhere: dropped", orig);
            if (is_el(n, "source") || is_el(n, "track")) { /* they need their target */
                xmlFree(orig);
                return;
            }
            value = NULL;
        }
    }

    ov_buf_putc(h->b, '<');
    ov_buf_puts(h->b, name);
    ser_attrs(h, n, orig ? url_attr : NULL, value);
    ov_buf_putc(h->b, '>');
    xmlFree(orig);
    ov_free(mapped);
    if (is_void(name)) return;

    if ((!strcmp(name, "pre") || !strcmp(name, "textarea")) && n->children && n->children->type == XML_TEXT_NODE &&
        n->children->content && n->children->content[0] == '\n')
        ov_buf_putc(h->b, '\n'); /* the parser eats a newline right after <pre> */

    ser_children(h, n);
    if (is_heading(n)) {
        char *id = (char *)xmlGetProp(n, BAD_CAST "id");
        if (id) {
            ov_buf_puts(h->b, "<a class=\"anchor\" href=\"#");
            put_attr(h->b, id);
            ov_buf_puts(h->b, "\" aria-hidden=\"true\" tabindex=\"-1\">#</a>");
            xmlFree(id);
        }
    }
    ov_buf_puts(h->b, "</");
    ov_buf_puts(h->b, name);
    ov_buf_putc(h->b, '>');
}

static void ser_children(hctx *h, xmlNodePtr n) {
    for (xmlNodePtr c = n->children; c; c = c->next) ser_node(h, c);
}

/* ---------------------------------------------------------------------------------------------
 * Page parts.
 */
static const char *doc_description(const octavo_doc *doc) {
    const char *d = octavo_doc_get(doc, "description");
    if (!d || !*d) d = octavo_doc_get(doc, "seo.description");
    if (!d || !*d) d = octavo_doc_get(doc, "summary");
    if (!d || !*d) d = octavo_doc_summary((octavo_doc *)doc, 200);
    return d && *d ? d : NULL;
}

/* The page's address on the site: base_url + its path under the resource root, .md -> .html. */
static char *page_url(const octavo_doc *doc) {
    const octavo *ov = doc->ov;
    if (!ov->base_url) return NULL;
    const char *rel = NULL;
    char *real = NULL;
    if (ov->resource_root) {
        real = realpath(doc->name, NULL);
        size_t rl = strlen(ov->resource_root);
        if (real && !strncmp(real, ov->resource_root, rl) && real[rl] == '/') rel = real + rl + 1;
    }
    if (!rel) { free(real); return NULL; }
    ov_buf b;
    ov_buf_init(&b);
    ov_buf_puts(&b, ov->base_url);
    size_t n = strlen(rel);
    if (n > 3 && !strcmp(rel + n - 3, ".md")) n -= 3;
    else if (n > 9 && !strcmp(rel + n - 9, ".markdown")) n -= 9;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)rel[i];
        if (isalnum(c) || strchr("/-._~", c) || c >= 0x80) ov_buf_putc(&b, c);
        else ov_buf_printf(&b, "%%%02X", c);
    }
    ov_buf_puts(&b, ".html");
    free(real);
    return ov_buf_detach(&b, NULL);
}

static char *absolute_url(const octavo *ov, const char *t) {
    if (!t || !*t) return NULL;
    if (ov_is_remote(t)) return ov_strdup(t);
    if (!ov->base_url) return NULL;
    size_t n = strlen(ov->base_url) + strlen(t) + 1;
    char *s = ov_malloc(n);
    if (s) snprintf(s, n, "%s%s", ov->base_url, t[0] == '/' ? t + 1 : t);
    return s;
}

/* The page's address as its frontmatter declares it (seo.url, else url): an http(s) URL as it is,
 * a site-relative one on the base URL. The author's word wins over the address computed from the
 * file's place (a page mirrored from another site keeps pointing search engines at the original). */
static char *declared_url(const octavo_doc *doc) {
    const char *u = octavo_doc_get(doc, "seo.url");
    if (!u || !*u) u = octavo_doc_get(doc, "url");
    if (!u || !*u) return NULL;
    if (!strncasecmp(u, "https://", 8) || !strncasecmp(u, "http://", 7)) return ov_strdup(u);
    if (u[0] == '/' && u[1] != '/') return absolute_url(doc->ov, u);
    return NULL; /* another scheme, protocol-relative or page-relative: not an address to declare */
}

static void put_meta(ov_buf *b, const char *attr, const char *name, const char *content) {
    if (!content || !*content) return;
    ov_buf_printf(b, "<meta %s=\"%s\" content=\"", attr, name);
    put_attr(b, content);
    ov_buf_puts(b, "\">\n");
}

static void build_meta(const octavo_doc *doc, ov_buf *b) {
    const octavo *ov = doc->ov;
    const char *title = octavo_doc_title(doc);
    const char *desc = doc_description(doc);
    const char *author = octavo_doc_author(doc);
    put_meta(b, "name", "description", desc);
    put_meta(b, "name", "author", author);
    ov_buf_printf(b, "<meta name=\"generator\" content=\"octavo %s\">\n", octavo_version());
    char *url = declared_url(doc);
    if (!url) url = page_url(doc);
    if (url) {
        ov_buf_puts(b, "<link rel=\"canonical\" href=\"");
        put_attr(b, url);
        ov_buf_puts(b, "\">\n");
    }
    put_meta(b, "property", "og:title", title);
    put_meta(b, "property", "og:description", desc);
    put_meta(b, "property", "og:type", "article");
    put_meta(b, "property", "og:url", url);
    const char *img = octavo_doc_get(doc, "seo.image");
    if (!img || !*img) img = octavo_doc_get(doc, "image");
    char *imgurl = absolute_url(ov, img);
    put_meta(b, "property", "og:image", imgurl);
    ov_free(imgurl);
    ov_free(url);
}

static const char *const month_names[] = {"January", "February", "March", "April", "May", "June", "July",
                                          "August", "September", "October", "November", "December"};

static void build_header(const octavo_doc *doc, ov_buf *b) {
    ov_buf_puts(b, "<header class=\"doc\">\n<h1>");
    put_text(b, octavo_doc_title(doc));
    ov_buf_puts(b, "</h1>\n");
    const char *author = octavo_doc_author(doc);
    octavo_time t;
    int dated = octavo_doc_date(doc, &t) == OCTAVO_OK && t.month >= 1 && t.month <= 12;
    if (author || dated) {
        ov_buf_puts(b, "<p class=\"byline\">");
        if (author) {
            ov_buf_puts(b, "By <span class=\"author\">");
            put_text(b, author);
            ov_buf_puts(b, "</span>");
        }
        if (author && dated) ov_buf_puts(b, " · ");
        if (dated) {
            char when[40];
            if (t.has_time) ov_time_rfc3339(&t, when, sizeof when);
            else snprintf(when, sizeof when, "%04d-%02d-%02d", t.year, t.month, t.day);
            ov_buf_printf(b, "<time datetime=\"%s\">%s %d, %04d</time>", when, month_names[t.month - 1], t.day, t.year);
        }
        ov_buf_puts(b, "</p>\n");
    }
    ov_buf_puts(b, "</header>\n");
}

static void build_toc(const octavo_doc *doc, ov_buf *b) {
    if (!doc->nheadings) return;
    ov_buf_puts(b, "<nav class=\"toc\" aria-label=\"Contents\">\n<p class=\"toc-title\">Contents</p>\n");
    int base = 2, depth = 0; /* open <ol> levels */
    for (size_t i = 0; i < doc->nheadings; i++) {
        const ov_heading *hd = &doc->headings[i];
        int lvl = hd->level - base + 1; /* 1-based nesting */
        if (lvl < 1) lvl = 1;
        if (depth == 0) { ov_buf_puts(b, "<ol>\n<li>"); depth = 1; }
        else if (lvl > depth) {
            while (depth < lvl) { ov_buf_puts(b, "\n<ol>\n<li>"); depth++; }
        } else {
            while (depth > lvl) { ov_buf_puts(b, "</li>\n</ol>\n"); depth--; }
            ov_buf_puts(b, "</li>\n<li>");
        }
        ov_buf_puts(b, "<a href=\"#");
        put_attr(b, hd->id);
        ov_buf_puts(b, "\">");
        put_text(b, hd->text);
        ov_buf_puts(b, "</a>");
    }
    while (depth > 0) { ov_buf_puts(b, "</li>\n</ol>\n"); depth--; }
    ov_buf_puts(b, "</nav>\n");
}

/* ---------------------------------------------------------------------------------------------
 * Templates.
 */
enum { P_TITLE, P_LANG, P_META, P_STYLE, P_HEADER, P_TOC, P_BODY, P_DESC, P_AUTHOR, P_DATE, P_COUNT };
static const char *const placeholder_names[P_COUNT] = {"title", "lang", "meta", "style", "header",
                                                       "toc", "body", "description", "author", "date"};

/* Finds the next placeholder from *pos: returns its index, -1 at the end, -2 when malformed
 * (err filled). *start and *end delimit the placeholder with its braces. */
static int next_placeholder(const char *t, size_t *pos, size_t *start, size_t *end, octavo_error *err) {
    const char *p = strstr(t + *pos, "{{");
    if (!p) return -1;
    *start = (size_t)(p - t);
    const char *q = strstr(p + 2, "}}");
    unsigned line = 1, col = 1;
    for (const char *c = t; c < p; c++) {
        if (*c == '\n') { line++; col = 1; }
        else if (((unsigned char)*c & 0xC0) != 0x80) col++;
    }
    if (!q) {
        ov_error(err, OCTAVO_E_TEMPLATE, OCTAVO_STAGE_HTML, "template", line, col, "an unclosed \"{{\" in the template");
        return -2;
    }
    const char *a = p + 2, *z = q;
    while (a < z && isspace((unsigned char)*a)) a++;
    while (z > a && isspace((unsigned char)z[-1])) z--;
    for (int i = 0; i < P_COUNT; i++) {
        size_t n = strlen(placeholder_names[i]);
        if ((size_t)(z - a) == n && !memcmp(a, placeholder_names[i], n)) {
            *end = (size_t)(q - t) + 2;
            *pos = *end;
            return i;
        }
    }
    ov_error(err, OCTAVO_E_TEMPLATE, OCTAVO_STAGE_HTML, "template", line, col,
             "unknown placeholder \"{{%.*s}}\" in the template (title, lang, meta, style, header, toc, body, "
             "description, author, date)",
             (int)((z - a) > 60 ? 60 : (z - a)), a);
    return -2;
}

static int check_template(const char *t, unsigned *used, octavo_error *err) {
    size_t pos = 0, s, e;
    int i;
    *used = 0;
    while ((i = next_placeholder(t, &pos, &s, &e, err)) >= 0) *used |= 1u << i;
    return i == -2 ? OCTAVO_E_TEMPLATE : OCTAVO_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The page.
 */
int ov_html_render(const octavo_doc *cdoc, ov_sink *out, octavo_error *err) {
    octavo_doc *doc = (octavo_doc *)cdoc;
    const octavo *ov = doc->ov;
    const char *tpl = ov->html_template;
    unsigned used = 0;
    if (tpl) {
        int rc = check_template(tpl, &used, err);
        if (rc) return rc;
    }
    int rc = ov_model_build(doc, err);
    if (rc) return rc;

    ov_buf body;
    ov_buf_init(&body);
    hctx h = {doc, ov, &body, 0};
    ser_children(&h, doc->body);
    ov_buf_put(&body, "", 0);

    int toc = (ov->opt.flags & OCTAVO_TOC) != 0;
    ov_buf page;
    ov_buf_init(&page);
    if (ov->opt.flags & OCTAVO_FRAGMENT) {
        if (toc) build_toc(doc, &page);
        ov_buf_put(&page, body.data, body.len);
    } else if (!tpl) {
        const char *title = octavo_doc_title(doc);
        ov_buf_puts(&page, "<!DOCTYPE html>\n<html lang=\"");
        put_attr(&page, octavo_doc_lang(doc));
        ov_buf_puts(&page, "\">\n<head>\n<meta charset=\"utf-8\">\n"
                           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
        put_text(&page, title);
        ov_buf_puts(&page, "</title>\n");
        build_meta(doc, &page);
        ov_buf_puts(&page, "<style>");
        ov_buf_puts(&page, style_css);
        ov_buf_puts(&page, "</style>\n</head>\n<body>\n<main>\n<article>\n");
        build_header(doc, &page);
        if (toc) build_toc(doc, &page);
        ov_buf_put(&page, body.data, body.len);
        ov_buf_puts(&page, "</article>\n</main>\n</body>\n</html>\n");
    } else {
        size_t pos = 0, s, e, last = 0;
        int i;
        while ((i = next_placeholder(tpl, &pos, &s, &e, NULL)) >= 0) {
            ov_buf_put(&page, tpl + last, s - last);
            last = e;
            switch (i) {
            case P_TITLE: put_attr(&page, octavo_doc_title(doc)); break;
            case P_LANG: put_attr(&page, octavo_doc_lang(doc)); break;
            case P_META: build_meta(doc, &page); break;
            case P_STYLE:
                ov_buf_puts(&page, "<style>");
                ov_buf_puts(&page, style_css);
                ov_buf_puts(&page, "</style>");
                break;
            case P_HEADER: build_header(doc, &page); break;
            case P_TOC: build_toc(doc, &page); break;
            case P_BODY: ov_buf_put(&page, body.data, body.len); break;
            case P_DESC: put_attr(&page, doc_description(doc)); break;
            case P_AUTHOR: put_attr(&page, octavo_doc_author(doc)); break;
            case P_DATE: {
                octavo_time t;
                if (octavo_doc_date(doc, &t) == OCTAVO_OK)
                    ov_buf_printf(&page, "%04d-%02d-%02d", t.year, t.month, t.day);
                break;
            }
            }
        }
        ov_buf_puts(&page, tpl + last);
    }
    int failed = page.failed || body.failed;
    ov_buf_free(&body);
    if (failed) {
        ov_buf_free(&page);
        return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_HTML, doc->name, 0, 0, "out of memory");
    }
    rc = OCTAVO_OK;
    if (page.len && ov_sink_write(out, page.data, page.len))
        rc = ov_error(err, OCTAVO_E_WRITE, OCTAVO_STAGE_OUTPUT, doc->name, 0, 0, "the write callback failed");
    ov_buf_free(&page);
    return rc;
}
