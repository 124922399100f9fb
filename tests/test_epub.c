/* EPUB backend: books built from hand-written documents (and the corpus when present), unzipped
 * with libzip, every XML part parsed back with libxml2, navigation, images, links, footnotes,
 * reproducibility, write and allocation failures, each chapter's words against cmark-gfm's
 * rendering of its source, and epubcheck when java and epubcheck are installed. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm-extension_api.h>
#include <cmark-gfm.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <webp/encode.h>
#include <zip.h>

#include "harness.h"
#include "internal.h"
#include "testhooks.h"

/* ---- files */
static char root[] = "/tmp/octavo-epub-XXXXXX";

static void write_file(const char *rel, const void *data, size_t len) { t_write_under(root, rel, data, len); }

static void write_text(const char *rel, const char *text) { write_file(rel, text, strlen(text)); }


/* Images made here: a lossless WebP with transparency (becomes PNG), a lossy photo-like one
 * (becomes JPEG), an SVG (passes through). */
static void make_images(void) {
    enum { W = 24, H = 16 };
    uint8_t rgba[W * H * 4], rgb[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = rgba + (y * W + x) * 4, *q = rgb + (y * W + x) * 3;
            p[0] = q[0] = (uint8_t)(x * 10);
            p[1] = q[1] = (uint8_t)(y * 15);
            p[2] = q[2] = (uint8_t)((x * y) & 255);
            p[3] = (uint8_t)(x < 4 ? 0 : 255);
        }
    uint8_t *out = NULL;
    size_t n = WebPEncodeLosslessRGBA(rgba, W, H, W * 4, &out);
    if (!n) { fprintf(stderr, "WebP encode failed\n"); exit(2); }
    write_file("img/grad.webp", out, n);
    WebPFree(out);
    n = WebPEncodeRGB(rgb, W, H, W * 3, 80, &out);
    if (!n) { fprintf(stderr, "WebP encode failed\n"); exit(2); }
    write_file("img/photo.webp", out, n);
    write_file("img/photo-copy.webp", out, n); /* same bytes, another name: packed twice is fine */
    WebPFree(out);
    write_text("img/logo.svg", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\" viewBox=\"0 0 10 10\">"
                               "<rect width=\"10\" height=\"10\" fill=\"#36c\"/></svg>\n");
    /* what diagram tools write: a DOCTYPE, an entity, the tool's own attribute, a link, a script,
     * a remote image */
    write_text("img/draw.svg",
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- made by hand -->\n"
               "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\" "
               "[<!ENTITY fill \"#c63\">]>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"20\" "
               "height=\"10\" content=\"&lt;mxfile/&gt;\" onload=\"alert(1)\">"
               "<script>alert(2)</script>"
               "<a xlink:href=\"https://example.org/\" target=\"_blank\"><rect width=\"10\" height=\"10\" fill=\"&fill;\"/></a>"
               "<image xlink:href=\"https://example.org/remote.png\" width=\"5\" height=\"5\"/>"
               "<text x=\"11\" y=\"8\">Box</text></svg>\n");
    write_text("img/evil.svg", "<?xml version=\"1.0\"?>\n<!DOCTYPE svg [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
                               "<svg xmlns=\"http://www.w3.org/2000/svg\"><text>&x;</text></svg>\n");
}

static const char DOC_ONE[] =
    "---\n"
    "title: \"First & foremost <ideas>\"\n"
    "author: Ada Lovelace\n"
    "date: 2021-03-04T05:06:07Z\n"
    "---\n"
    "Intro paragraph with a [link to the details](two.md#details), a [site link](/pages/three/),\n"
    "a [page outside](/elsewhere/page) and an [external one](<https://example.org/a b>).\n"
    "\n"
    "Line one<br>line two&nbsp;and a non-breaking space.\n"
    "\n"
    "<iframe width=\"560\" height=\"315\" src=\"https://www.youtube.com/embed/abc123?rel=0\" title=\"Demo video\" "
    "frameborder=\"0\" allowfullscreen></iframe>\n"
    "\n"
    "- item one\n"
    "  - nested alpha\n"
    "  - nested beta\n"
    "- item two\n"
    "\n"
    "1. first\n"
    "2. second\n"
    "\n"
    "- [ ] open task\n"
    "- [x] done task\n"
    "\n"
    "| Left | Right |\n"
    "|:-----|------:|\n"
    "| a1   | b1    |\n"
    "\n"
    "A claim with a footnote[^1] and [an anchor](#inner-section).\n"
    "\n"
    "## Inner section\n"
    "\n"
    "<div align=\"center\"><p>Centered <b>raw</b> block</p></div>\n"
    "\n"
    "<p>Raw paragraph <span>with a <div>block</div> inside</span></p>\n"
    "\n"
    "![A gradient](/img/grad.webp)\n"
    "![A photo](/img/photo.webp \"Photo title\")\n"
    "![The gradient again](../img/grad.webp)\n"
    "![Logo](/img/logo.svg)\n"
    "![Missing picture](/img/missing.png)\n"
    "![Remote picture](https://example.org/remote.png)\n"
    "\n"
    "[^1]: The note text.\n";

static const char DOC_TWO[] =
    "---\n"
    "title: Second\n"
    "date: 2020-01-01\n"
    "author: [Charles Babbage, Ada Lovelace]\n"
    "---\n"
    "## Details\n"
    "\n"
    "Text with a [back link](one.md) and a footnote[^n].\n"
    "\n"
    "### Deeper\n"
    "\n"
    "More text.\n"
    "\n"
    "#### Deepest\n"
    "\n"
    "> A quotation.\n"
    "\n"
    "[^n]: Another note.\n";

static const char DOC_THREE[] =
    "# Third from heading\n"
    "\n"
    "Body text with `code` and a copy ![Copy](/img/photo-copy.webp).\n"
    "\n"
    "![Diagram](/img/draw.svg) ![Evil diagram](/img/evil.svg)\n"
    "\n"
    "```c\n"
    "int main(void) { return 0; } /* a long line that an e-reader must wrap rather than cut off */\n"
    "```\n";

/* ---- rendering */
static unsigned nwarn;
static char warnings[8192];

static void diag(void *ud, const octavo_diag *d) {
    (void)ud;
    nwarn++;
    size_t l = strlen(warnings);
    snprintf(warnings + l, sizeof warnings - l, "%s\n", d->message);
}

static octavo *new_handle(const char *cache_dir, unsigned flags) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.resource_root = root;
    o.diag = diag;
    o.flags = flags | (cache_dir ? 0 : OCTAVO_NO_CACHE);
    o.cache_dir = cache_dir;
    octavo_error err;
    octavo *ov = octavo_new(&o, &err);
    if (!ov) fprintf(stderr, "octavo_new: %s\n", err.message);
    return ov;
}

static octavo_doc *load(octavo *ov, const char *rel) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    octavo_doc *d = NULL;
    octavo_error err;
    if (octavo_doc_load_file(ov, p, &d, &err)) fprintf(stderr, "load %s: %s\n", p, err.message);
    return d;
}

/* The three documents as a book, by date; returns the EPUB bytes (free) or NULL. */
static char *build_book(octavo *ov, size_t *len, int *code) {
    octavo_book *b = octavo_book_new(ov);
    octavo_error err;
    memset(&err, 0, sizeof err);
    octavo_book_add(b, load(ov, "pages/one.md"), &err);
    octavo_book_add(b, load(ov, "pages/two.md"), &err);
    octavo_book_add(b, load(ov, "pages/three.md"), &err);
    octavo_book_set(b, "title", "A Test Book");
    octavo_book_set(b, "publisher", "Octavo Tests");
    octavo_book_order(b, OCTAVO_ORDER_DATE);
    char *out = NULL;
    int rc = octavo_book_render_buffer(b, OCTAVO_FORMAT_EPUB, &out, len, &err);
    if (code) *code = rc;
    else if (rc) fprintf(stderr, "book: %s\n", err.message);
    char *copy = NULL;
    if (!rc) {
        copy = malloc(*len);
        memcpy(copy, out, *len);
    }
    octavo_buffer_free(out);
    octavo_book_free(b);
    return copy;
}

/* ---- reading the zip */
typedef struct epub {
    zip_t *za;
    zip_source_t *src;
} epub;

static int epub_open(epub *e, const char *data, size_t len) {
    zip_error_t ze;
    zip_error_init(&ze);
    e->src = zip_source_buffer_create(data, len, 0, &ze);
    e->za = e->src ? zip_open_from_source(e->src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
    zip_error_fini(&ze);
    if (!e->za && e->src) zip_source_free(e->src);
    return e->za != NULL;
}

static void epub_close(epub *e) {
    if (e->za) zip_discard(e->za);
}

static char *entry(epub *e, const char *name, size_t *len) {
    zip_stat_t st;
    if (zip_stat(e->za, name, 0, &st)) return NULL;
    zip_file_t *f = zip_fopen(e->za, name, 0);
    if (!f) return NULL;
    char *buf = malloc(st.size + 1);
    zip_int64_t n = zip_fread(f, buf, st.size);
    zip_fclose(f);
    if (n < 0 || (zip_uint64_t)n != st.size) { free(buf); return NULL; }
    buf[st.size] = 0;
    if (len) *len = st.size;
    return buf;
}

static int xml_errors;
static void xml_err(void *ud, xmlErrorPtr e) {
    (void)ud;
    xml_errors++;
    fprintf(stderr, "  XML error (%s:%d): %s", e->file ? e->file : "", e->line, e->message);
}

/* Parses as XML (no network, no entities from a DTD); NULL when not well-formed. */
static xmlDocPtr parse_xml(const char *data, size_t len, const char *name) {
    xml_errors = 0;
    xmlSetStructuredErrorFunc(NULL, xml_err);
    xmlDocPtr d = xmlReadMemory(data, (int)len, name, "UTF-8", XML_PARSE_NONET);
    xmlSetStructuredErrorFunc(NULL, NULL);
    if (d && xml_errors) { xmlFreeDoc(d); d = NULL; }
    return d;
}

static xmlNodePtr find_el(xmlNodePtr n, const char *name, const char *attr, const char *val) {
    for (; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name)) {
            if (!attr) return n;
            xmlChar *v = xmlGetProp(n, (const xmlChar *)attr);
            if (!v) v = xmlGetNsProp(n, (const xmlChar *)attr + (strchr(attr, ':') ? strchr(attr, ':') - attr + 1 : 0),
                                     (const xmlChar *)"http://www.idpf.org/2007/ops");
            int ok = v && !strcmp((const char *)v, val);
            xmlFree(v);
            if (ok) return n;
        }
        xmlNodePtr k = find_el(n->children, name, attr, val);
        if (k) return k;
    }
    return NULL;
}

/* The nav document's top-level toc entries, joined with '|'. */
static void nav_titles(xmlDocPtr nav, char *out, size_t size) {
    out[0] = 0;
    xmlNodePtr toc = find_el(xmlDocGetRootElement(nav), "nav", "epub:type", "toc");
    xmlNodePtr ol = toc ? find_el(toc->children, "ol", NULL, NULL) : NULL;
    for (xmlNodePtr li = ol ? ol->children : NULL; li; li = li->next) {
        if (li->type != XML_ELEMENT_NODE) continue;
        xmlNodePtr a = find_el(li->children, "a", NULL, NULL);
        xmlChar *t = a ? xmlNodeGetContent(a) : NULL;
        size_t l = strlen(out);
        snprintf(out + l, size - l, "%s%s", l ? "|" : "", t ? (const char *)t : "");
        xmlFree(t);
    }
}

/* ---- words */
typedef struct words {
    char **w;
    size_t n, cap;
} words;

static void words_add_text(words *ws, const char *s) {
    while (*s) {
        while (*s && !((unsigned char)*s >= 0x80 || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
                       (*s >= 'A' && *s <= 'Z')))
            s++;
        const char *b = s;
        while (*s && ((unsigned char)*s >= 0x80 || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
                      (*s >= 'A' && *s <= 'Z')))
            s++;
        if (s == b) continue;
        /* non-ASCII punctuation (quotes, dashes, arrows, ballot boxes) is not a word */
        int ascii = 0;
        for (const char *p = b; p < s; p++) ascii |= (unsigned char)*p < 0x80;
        if (!ascii) continue;
        if (ws->n == ws->cap) {
            ws->cap = ws->cap ? ws->cap * 2 : 256;
            ws->w = realloc(ws->w, ws->cap * sizeof *ws->w);
        }
        char *w = strndup(b, (size_t)(s - b));
        for (char *p = w; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
        ws->w[ws->n++] = w;
    }
}

static void words_free(words *ws) {
    for (size_t i = 0; i < ws->n; i++) free(ws->w[i]);
    free(ws->w);
    memset(ws, 0, sizeof *ws);
}

/* Text of a DOM subtree, leaving out what readers of the source would not see either. */
static void collect_text(xmlNodePtr n, words *ws) {
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content) words_add_text(ws, (const char *)n->content);
        } else if (n->type == XML_ELEMENT_NODE) {
            const char *nm = (const char *)n->name;
            if (!strcasecmp(nm, "script") || !strcasecmp(nm, "style") || !strcasecmp(nm, "iframe") ||
                !strcasecmp(nm, "template") || !strcasecmp(nm, "noscript"))
                continue;
            collect_text(n->children, ws);
        }
    }
}

/* The words of a Markdown source: cmark-gfm's HTML (raw HTML kept), its text. */
static void source_words(const char *md, size_t len, words *ws) {
    if (len >= 4 && !strncmp(md, "---", 3) && (md[3] == '\n' || md[3] == '\r')) {
        const char *p = md + 3;
        while ((p = strstr(p, "\n")) != NULL) {
            p++;
            if (!strncmp(p, "---", 3) || !strncmp(p, "...", 3)) {
                const char *e = strchr(p, '\n');
                len -= (size_t)((e ? e + 1 : md + len) - md);
                md = e ? e + 1 : md + len;
                break;
            }
        }
    }
    cmark_gfm_core_extensions_ensure_registered();
    cmark_parser *ps = cmark_parser_new(CMARK_OPT_UNSAFE | CMARK_OPT_FOOTNOTES);
    const char *exts[] = {"table", "strikethrough", "autolink", "tasklist"};
    for (size_t i = 0; i < 4; i++) cmark_parser_attach_syntax_extension(ps, cmark_find_syntax_extension(exts[i]));
    cmark_parser_feed(ps, md, len);
    cmark_node *docn = cmark_parser_finish(ps);
    char *html = cmark_render_html(docn, CMARK_OPT_UNSAFE | CMARK_OPT_FOOTNOTES, cmark_parser_get_syntax_extensions(ps));
    htmlDocPtr h = htmlReadMemory(html, (int)strlen(html), "src.html", "UTF-8",
                                  HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
    if (h) collect_text(xmlDocGetRootElement(h), ws);
    xmlFreeDoc(h);
    free(html);
    cmark_node_free(docn);
    cmark_parser_free(ps);
}

/* Whether every source word appears in the chapter, in order; reports the first that does not. */
static int in_order(const words *src, const words *got, const char *what) {
    size_t j = 0;
    for (size_t i = 0; i < src->n; i++) {
        size_t k = j;
        while (k < got->n && strcmp(got->w[k], src->w[i])) k++;
        if (k == got->n) {
            fprintf(stderr, "  %s: word %zu of %zu '%s' missing (after '%s')\n", what, i + 1, src->n, src->w[i],
                    i ? src->w[i - 1] : "");
            return 0;
        }
        j = k + 1;
    }
    return 1;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); fclose(f); return NULL; }
    b[n] = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return b;
}

/* ---- epubcheck */
static int have_epubcheck(void) {
    return access("/usr/share/java/epubcheck.jar", R_OK) == 0 && system("java -version >/dev/null 2>&1") == 0;
}

/* 0 when epubcheck reports no message at all; prints its report otherwise. */
static int epubcheck(const char *data, size_t len, const char *name) {
    char path[1100], log[1200], cmd[3000];
    snprintf(path, sizeof path, "%s/%s", root, name);
    snprintf(log, sizeof log, "%s.log", path);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "java -jar /usr/share/java/epubcheck.jar '%s' >'%s' 2>&1", path, log);
    int rc = system(cmd);
    char *out = read_all(log, NULL);
    int clean = rc == 0 && out && strstr(out, "No errors or warnings detected") &&
                strstr(out, "0 fatals / 0 errors / 0 warnings");
    if (!clean) fprintf(stderr, "epubcheck %s:\n%s\n", name, out ? out : "(no output)");
    free(out);
    return clean ? 0 : 1;
}

/* ---- tests */
static char *book1;
static size_t book1_len;

TEST(test_package) {
    nwarn = 0;
    warnings[0] = 0;
    unsetenv("SOURCE_DATE_EPOCH");
    octavo *ov = new_handle(NULL, OCTAVO_TRUSTED);
    book1 = build_book(ov, &book1_len, NULL);
    CHECK(book1 != NULL);
    if (!book1) { octavo_free(ov); return; }
    /* mimetype: first, stored, no extra field, exact content (local header read raw) */
    CHECK(book1_len > 58 && !memcmp(book1, "PK\3\4", 4));
    CHECK_INT((unsigned char)book1[8] | (unsigned char)book1[9] << 8, 0);     /* method: stored */
    CHECK_INT((unsigned char)book1[26] | (unsigned char)book1[27] << 8, 8);   /* name length */
    CHECK_INT((unsigned char)book1[28] | (unsigned char)book1[29] << 8, 0);   /* extra length */
    CHECK(!memcmp(book1 + 30, "mimetype", 8));
    CHECK(!memcmp(book1 + 38, "application/epub+zip", 20));

    epub e;
    CHECK(epub_open(&e, book1, book1_len));
    if (!e.za) { octavo_free(ov); return; }
    zip_int64_t n = zip_get_num_entries(e.za, 0);
    CHECK_STR(zip_get_name(e.za, 0, 0), "mimetype");
    /* every XML part well-formed */
    int images = 0, parts = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(e.za, (zip_uint64_t)i, 0);
        size_t l = strlen(name);
        if (l > 4 && (!strcmp(name + l - 6, ".xhtml") || !strcmp(name + l - 4, ".opf") || !strcmp(name + l - 4, ".ncx") ||
                      !strcmp(name + l - 4, ".xml"))) {
            size_t len;
            char *data = entry(&e, name, &len);
            xmlDocPtr d = data ? parse_xml(data, len, name) : NULL;
            CHECKF(d != NULL, "%s is not well-formed XML", name);
            CHECKF(!data || !strstr(data, "&nbsp;"), "%s has a named entity", name);
            CHECKF(!data || !strstr(data, "data-sourcepos"), "%s keeps data-sourcepos", name);
            xmlFreeDoc(d);
            free(data);
            parts++;
        }
        if (!strncmp(name, "OEBPS/images/", 13)) {
            images++;
            zip_stat_t ist;
            zip_stat_index(e.za, (zip_uint64_t)i, 0, &ist);
            /* images are compressed already: stored, not deflated again */
            CHECKF(ist.comp_method == ZIP_CM_STORE || strstr(name, ".svg"), "%s method %d", name, ist.comp_method);
        } else if (i > 0) {
            zip_stat_t tst;
            zip_stat_index(e.za, (zip_uint64_t)i, 0, &tst);
            CHECKF(tst.comp_method == ZIP_CM_DEFLATE, "%s method %d", name, tst.comp_method);
        }
        zip_stat_t st, first;
        zip_stat_index(e.za, (zip_uint64_t)i, 0, &st);
        zip_stat_index(e.za, 0, 0, &first);
        CHECKF(st.mtime == first.mtime, "%s has its own timestamp", name);
    }
    CHECK(parts >= 8);
    /* images: the gradient (twice referenced) once, photo and its copy, two SVGs */
    CHECK_INT(images, 5);
    size_t l;
    char *png = entry(&e, "OEBPS/images/grad.png", &l);
    CHECK(png && l > 8 && !memcmp(png, "\x89PNG", 4));
    free(png);
    char *jpg = entry(&e, "OEBPS/images/photo.jpg", &l);
    CHECK(jpg && l > 3 && !memcmp(jpg, "\xFF\xD8\xFF", 3));
    free(jpg);
    char *svg = entry(&e, "OEBPS/images/logo.svg", NULL);
    CHECK(svg && strstr(svg, "<svg"));
    free(svg);
    svg = entry(&e, "OEBPS/images/draw.svg", &l);
    CHECK(svg && strstr(svg, "<svg") && strstr(svg, ">Box</text>") && strstr(svg, "fill=\"#c63\""));
    CHECK(svg && !strstr(svg, "DOCTYPE") && !strstr(svg, "content=") && !strstr(svg, "onload") &&
          !strstr(svg, "<script") && !strstr(svg, "<a ") && !strstr(svg, "example.org") && !strstr(svg, "<!--"));
    xmlDocPtr sd = svg ? parse_xml(svg, l, "draw.svg") : NULL;
    CHECK(sd != NULL);
    xmlFreeDoc(sd);
    free(svg);
    CHECK(zip_name_locate(e.za, "OEBPS/images/evil.svg", 0) < 0);

    /* navigation: the chapters in date order (undated last), sections nested */
    char *navx = entry(&e, "OEBPS/nav.xhtml", &l);
    xmlDocPtr nav = navx ? parse_xml(navx, l, "nav") : NULL;
    char titles[1024] = "";
    if (nav) nav_titles(nav, titles, sizeof titles);
    CHECK_STR(titles, "Second|First & foremost <ideas>|Third from heading");
    CHECK(navx && strstr(navx, "chapter-1.xhtml#c1-details"));
    CHECK(navx && strstr(navx, "chapter-1.xhtml#c1-deeper"));
    CHECK(navx && strstr(navx, "epub:type=\"landmarks\""));
    xmlFreeDoc(nav);
    free(navx);

    /* package metadata */
    char *opf = entry(&e, "OEBPS/content.opf", NULL);
    CHECK(opf && strstr(opf, "<dc:title id=\"title\">A Test Book</dc:title>"));
    CHECK(opf && strstr(opf, "<dc:identifier id=\"bookid\">urn:uuid:"));
    CHECK(opf && strstr(opf, "<dc:language>en</dc:language>"));
    CHECK(opf && strstr(opf, ">Ada Lovelace</dc:creator>"));
    CHECK(opf && strstr(opf, ">Charles Babbage</dc:creator>"));
    int creators = 0; /* Second's two authors, one creator each; Ada once though First has her too */
    for (const char *q = opf; q && (q = strstr(q, "</dc:creator>")); q++)
        creators++;
    CHECK_INT(creators, 2);
    CHECK(opf && strstr(opf, "<dc:date>2021-03-04</dc:date>"));
    CHECK(opf && strstr(opf, "<dc:publisher>Octavo Tests</dc:publisher>"));
    CHECK(opf && strstr(opf, "<meta property=\"dcterms:modified\">2021-03-04T05:06:07Z</meta>"));
    CHECK(opf && strstr(opf, "schema:accessibilitySummary"));
    CHECK(opf && strstr(opf, "properties=\"nav\""));
    CHECK(opf && !strstr(opf, "remote-resources"));
    CHECK(opf && strstr(opf, "media-type=\"image/png\""));
    CHECK(opf && !strstr(opf, "image/webp"));
    char *ncx = entry(&e, "OEBPS/toc.ncx", NULL);
    const char *uid = opf ? strstr(opf, "urn:uuid:") : NULL;
    CHECK(ncx && uid && !strncmp(strstr(ncx, "urn:uuid:") ? strstr(ncx, "urn:uuid:") : "", uid, 45));
    free(ncx);
    free(opf);

    char *second = entry(&e, "OEBPS/chapter-1.xhtml", NULL);
    CHECK(second && strstr(second, "Charles Babbage and Ada Lovelace")); /* the byline names both */
    free(second);

    /* the chapter of one.md (second by date) */
    char *ch = entry(&e, "OEBPS/chapter-2.xhtml", NULL);
    CHECK(ch && strstr(ch, "<h1>First &amp; foremost &lt;ideas&gt;</h1>"));
    CHECK(ch && strstr(ch, "<time datetime=\"2021-03-04T05:06:07Z\">"));
    CHECK(ch && strstr(ch, "Ada Lovelace"));
    CHECK(ch && strstr(ch, "href=\"chapter-1.xhtml#c1-details\""));                  /* to another document */
    CHECK(ch && strstr(ch, "href=\"chapter-3.xhtml\""));                              /* site-relative, in the book */
    CHECK(ch && !strstr(ch, "/elsewhere/page"));                                      /* dropped: no base URL */
    CHECK(ch && strstr(ch, "href=\"https://example.org/a%20b\""));
    CHECK(ch && strstr(ch, "href=\"#c2-inner-section\""));
    CHECK(ch && strstr(ch, "<br/>"));
    CHECK(ch && strstr(ch, "two\xC2\xA0" "and"));
    CHECK(ch && strstr(ch, "href=\"https://www.youtube.com/watch?v=abc123\">Demo video</a>"));
    CHECK(ch && !strstr(ch, "<iframe") && !strstr(ch, "allowfullscreen") && !strstr(ch, "frameborder"));
    CHECK(ch && strstr(ch, "\xE2\x98\x91") && strstr(ch, "\xE2\x98\x90") && !strstr(ch, "<input"));
    CHECK(ch && strstr(ch, "epub:type=\"noteref\""));
    CHECK(ch && strstr(ch, "epub:type=\"footnotes\""));
    CHECK(ch && strstr(ch, "epub:type=\"footnote\""));
    CHECK(ch && !strstr(ch, " align="));
    CHECK(ch && strstr(ch, "src=\"images/grad.png\""));
    CHECK(ch && strstr(ch, "src=\"images/photo.jpg\""));
    CHECK(ch && strstr(ch, "src=\"images/logo.svg\""));
    CHECK(ch && strstr(ch, "Missing picture") && !strstr(ch, "missing.png"));
    CHECK(ch && strstr(ch, "href=\"https://example.org/remote.png\">Remote picture</a>") && !strstr(ch, "src=\"https:"));
    /* footnote ids unique across the book: chapter prefixes */
    CHECK(ch && strstr(ch, "id=\"c2-fn-1\""));
    free(ch);
    ch = entry(&e, "OEBPS/chapter-1.xhtml", NULL);
    CHECK(ch && strstr(ch, "id=\"c1-fn-n\""));
    CHECK(ch && strstr(ch, "href=\"chapter-2.xhtml\""));
    free(ch);
    ch = entry(&e, "OEBPS/chapter-3.xhtml", NULL);
    CHECK(ch && strstr(ch, "<h1>Third from heading</h1>"));
    CHECK(ch && strstr(ch, "src=\"images/photo-copy.jpg\""));
    CHECK(ch && strstr(ch, "src=\"images/draw.svg\"") && strstr(ch, "Evil diagram") && !strstr(ch, "evil.svg"));
    free(ch);
    char *css = entry(&e, "OEBPS/style.css", NULL);
    CHECK(css && strstr(css, "pre-wrap") && strstr(css, "max-width: 100%"));
    free(css);
    epub_close(&e);

    /* warnings: the missing image (with its position), the link that leads nowhere */
    CHECKF(strstr(warnings, "missing.png") != NULL, "%s", warnings);
    CHECKF(strstr(warnings, "/elsewhere/page") != NULL, "%s", warnings);
    CHECKF(strstr(warnings, "external entities") != NULL, "%s", warnings);
    octavo_free(ov);
}

TEST(test_reproducible) {
    if (!book1) return;
    unsetenv("SOURCE_DATE_EPOCH");
    octavo *ov = new_handle(NULL, OCTAVO_TRUSTED);
    size_t l2;
    char *b2 = build_book(ov, &l2, NULL);
    CHECK(b2 && l2 == book1_len && !memcmp(b2, book1, l2));
    free(b2);
    octavo_free(ov);
    /* through the image cache, cold then warm: the same bytes again */
    char cache[1100];
    snprintf(cache, sizeof cache, "%s/cache", root);
    for (int run = 0; run < 2; run++) {
        ov = new_handle(cache, OCTAVO_TRUSTED);
        b2 = build_book(ov, &l2, NULL);
        CHECKF(b2 && l2 == book1_len && !memcmp(b2, book1, l2), "cache run %d", run);
        free(b2);
        octavo_free(ov);
    }
    /* a warm build copies cache entries into the zip from their files: damaged ones (a byte
     * changed, one cut short) are converted again, and the book is still the same */
    DIR *dir = opendir(cache);
    int damaged = 0;
    for (struct dirent *de; dir && (de = readdir(dir));) {
        if (de->d_name[0] == '.') continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", cache, de->d_name);
        FILE *f = fopen(path, "r+b");
        if (!f) continue;
        if (damaged++ % 2) {
            fseek(f, 40, SEEK_SET);
            int c = fgetc(f);
            fseek(f, 40, SEEK_SET);
            fputc(c ^ 0x20, f);
            fclose(f);
        } else {
            fclose(f);
            CHECK(truncate(path, 30) == 0);
        }
    }
    if (dir) closedir(dir);
    CHECK(damaged > 0);
    ov = new_handle(cache, OCTAVO_TRUSTED);
    b2 = build_book(ov, &l2, NULL);
    CHECK(b2 && l2 == book1_len && !memcmp(b2, book1, l2));
    free(b2);
    octavo_free(ov);
    /* SOURCE_DATE_EPOCH sets dcterms:modified and the zip timestamps */
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    ov = new_handle(NULL, OCTAVO_TRUSTED);
    b2 = build_book(ov, &l2, NULL);
    epub e;
    if (b2 && epub_open(&e, b2, l2)) {
        char *opf = entry(&e, "OEBPS/content.opf", NULL);
        CHECK(opf && strstr(opf, "<meta property=\"dcterms:modified\">2023-11-14T22:13:20Z</meta>"));
        free(opf);
        epub_close(&e);
    } else {
        CHECK(0);
    }
    free(b2);
    octavo_free(ov);
    unsetenv("SOURCE_DATE_EPOCH");
}

/* A document alone: octavo_render_epub; title and metadata from the document. */
static char *render_single(const char *md, size_t *len, const char *base_url) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.resource_root = root;
    o.diag = diag;
    o.flags = OCTAVO_NO_CACHE;
    o.base_url = base_url;
    octavo_error err;
    octavo *ov = octavo_new(&o, &err);
    octavo_doc *d = NULL;
    char *out = NULL, *copy = NULL;
    if (!octavo_doc_load(ov, "pages/single.md", md, strlen(md), &d, &err) &&
        !octavo_render_buffer(d, OCTAVO_FORMAT_EPUB, &out, len, &err)) {
        copy = malloc(*len);
        memcpy(copy, out, *len);
    } else {
        fprintf(stderr, "single: %s\n", err.message);
    }
    octavo_buffer_free(out);
    octavo_doc_free(d);
    octavo_free(ov);
    return copy;
}

TEST(test_single) {
    size_t len;
    char *b = render_single("---\ntitle: Alone\nlang: de\ndescription: Short text.\n---\n"
                            "Hallo [Seite](/blog/other/) und [Anker](#nirgends).\n\n<video src=\"/media/v.mp4\"></video>\n",
                            &len, "https://example.org/site");
    CHECK(b != NULL);
    epub e;
    if (b && epub_open(&e, b, len)) {
        char *opf = entry(&e, "OEBPS/content.opf", NULL);
        CHECK(opf && strstr(opf, "<dc:title id=\"title\">Alone</dc:title>"));
        CHECK(opf && strstr(opf, "<dc:language>de</dc:language>"));
        CHECK(opf && strstr(opf, "<dc:description>Short text.</dc:description>"));
        CHECK(opf && strstr(opf, "<dc:date>1980-01-01</dc:date>"));
        free(opf);
        char *ch = entry(&e, "OEBPS/chapter-1.xhtml", NULL);
        CHECK(ch && strstr(ch, "xml:lang=\"de\""));
        CHECK(ch && strstr(ch, "href=\"https://example.org/site/blog/other/\""));
        CHECK(ch && !strstr(ch, "nirgends"));
        CHECK(ch && strstr(ch, "href=\"https://example.org/site/media/v.mp4\""));
        free(ch);
        epub_close(&e);
    }
    free(b);
}

static int fail_write(void *ud, const void *p, size_t n) {
    (void)ud; (void)p; (void)n;
    return -1;
}

TEST(test_failures) {
    octavo *ov = new_handle(NULL, 0);
    octavo_doc *d = load(ov, "pages/two.md");
    octavo_error err;
    CHECK_INT(octavo_render_epub(d, fail_write, NULL, &err), OCTAVO_E_WRITE);
    /* every allocation of the render made to fail in turn (strided): an error, never a crash */
    char *out = NULL;
    size_t len = 0;
    CHECK_INT(octavo_render_buffer(d, OCTAVO_FORMAT_EPUB, &out, &len, &err), OCTAVO_OK);
    octavo_buffer_free(out);
    ov_test_alloc_fail_after(-1); /* resets the count */
    out = NULL;
    octavo_render_buffer(d, OCTAVO_FORMAT_EPUB, &out, &len, &err);
    long total = ov_test_alloc_count();
    octavo_buffer_free(out);
    int failures = 0;
    long step = total / 97 + 1;
    for (long k = 0; k < total; k += step) {
        out = NULL;
        ov_test_alloc_fail_after(k);
        int rc = octavo_render_buffer(d, OCTAVO_FORMAT_EPUB, &out, &len, &err);
        ov_test_alloc_fail_after(-1);
        if (rc) {
            failures++;
            CHECKF(rc == OCTAVO_E_NOMEM, "allocation %ld: code %d %s", k, rc, err.message);
        }
        octavo_buffer_free(out);
    }
    CHECK(failures > 0);
    octavo_doc_free(d);
    octavo_free(ov);
}

/* Each chapter's words against the source's: nothing the Markdown says may be missing. */
static void check_book_text(octavo *ov, char **paths, size_t n, const char *label) {
    octavo_book *b = octavo_book_new(ov);
    octavo_error err;
    for (size_t i = 0; i < n; i++) {
        octavo_doc *d = NULL;
        if (octavo_doc_load_file(ov, paths[i], &d, &err)) { CHECKF(0, "%s: %s", paths[i], err.message); continue; }
        octavo_book_add(b, d, &err);
    }
    octavo_book_order(b, OCTAVO_ORDER_GIVEN);
    char *out = NULL;
    size_t len = 0;
    int rc = octavo_book_render_buffer(b, OCTAVO_FORMAT_EPUB, &out, &len, &err);
    CHECKF(rc == OCTAVO_OK, "%s: %s", label, err.message);
    epub e;
    if (!rc && epub_open(&e, out, len)) {
        for (size_t i = 0; i < n; i++) {
            char name[64];
            snprintf(name, sizeof name, "OEBPS/chapter-%zu.xhtml", i + 1);
            size_t cl;
            char *ch = entry(&e, name, &cl);
            xmlDocPtr x = ch ? parse_xml(ch, cl, name) : NULL;
            CHECKF(x != NULL, "%s: %s", label, name);
            size_t sl;
            char *src = read_all(paths[i], &sl);
            words sw = {0}, cw = {0};
            if (src) source_words(src, sl, &sw);
            if (x) collect_text(xmlDocGetRootElement(x), &cw);
            CHECKF(sw.n == 0 || in_order(&sw, &cw, paths[i]), "%s: chapter %zu lacks source text", label, i + 1);
            words_free(&sw);
            words_free(&cw);
            free(src);
            xmlFreeDoc(x);
            free(ch);
        }
        epub_close(&e);
    }
    octavo_buffer_free(out);
    octavo_book_free(b);
}

TEST(test_chapter_text) {
    char p1[1100], p2[1100], p3[1100];
    snprintf(p1, sizeof p1, "%s/pages/one.md", root);
    snprintf(p2, sizeof p2, "%s/pages/two.md", root);
    snprintf(p3, sizeof p3, "%s/pages/three.md", root);
    char *paths[] = {p1, p2, p3};
    octavo *ov = new_handle(NULL, OCTAVO_TRUSTED);
    check_book_text(ov, paths, 3, "hand-written");
    octavo_free(ov);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The corpus's blog, when the corpus is there: 60 chapters, every word. */
TEST(test_corpus) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/pages/blog", t_corpus());
    DIR *d = opendir(dir);
    if (!d) { printf("test_epub: corpus not found, corpus tests skipped\n"); return; }
    char *paths[512];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 512) {
        size_t l = strlen(de->d_name);
        if (l > 3 && !strcmp(de->d_name + l - 3, ".md")) {
            char p[2048];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            paths[n++] = strdup(p);
        }
    }
    closedir(d);
    qsort(paths, n, sizeof *paths, cmp_str);
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.resource_root = t_corpus();
    o.flags = OCTAVO_TRUSTED;
    octavo_error err;
    octavo *ov = octavo_new(&o, &err);
    if (ov) check_book_text(ov, paths, n, "corpus blog");
    octavo_free(ov);
    for (size_t i = 0; i < n; i++) free(paths[i]);
}

TEST(test_epubcheck) {
    if (!book1) return;
    if (!have_epubcheck()) {
        printf("test_epub: java or epubcheck not installed, epubcheck skipped\n");
        return;
    }
    CHECK(epubcheck(book1, book1_len, "book.epub") == 0);
    size_t len;
    char *b = render_single("---\ntitle: Alone\n---\nText [x](/y) ![r](https://example.org/r.png)\n", &len, NULL);
    CHECK(b && epubcheck(b, len, "single.epub") == 0);
    free(b);
}

int main(void) {
    if (!mkdtemp(root)) { perror("mkdtemp"); return 2; }
    make_images();
    write_text("pages/one.md", DOC_ONE);
    write_text("pages/two.md", DOC_TWO);
    write_text("pages/three.md", DOC_THREE);
    RUN(test_package);
    RUN(test_reproducible);
    RUN(test_single);
    RUN(test_failures);
    RUN(test_chapter_text);
    RUN(test_corpus);
    RUN(test_epubcheck);
    free(book1);
    t_rm_rf(root);
    return t_done();
}
