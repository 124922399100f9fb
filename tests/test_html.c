/* HTML backend and document model: real output parsed back with libxml2 and checked by XPath. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/HTMLparser.h>
#include <libxml/xpath.h>

#include "harness.h"
#include "internal.h"

/* ---- rendering helpers */
static char last_warning[OCTAVO_ERROR_SIZE];
static unsigned last_line, last_col, nwarnings;

static void diag(void *ud, const octavo_diag *d) {
    (void)ud;
    snprintf(last_warning, sizeof last_warning, "%s", d->message);
    last_line = d->line;
    last_col = d->column;
    nwarnings++;
}

typedef struct ropts {
    unsigned flags;
    const char *tpl;
    const char *base_url;
    octavo_link_fn link;
    size_t table_columns;
    int *code;          /* when set, receives the render's code (and failures are expected) */
} ropts;

static char *render_with(const char *md, const ropts *ro) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.flags = ro ? ro->flags : 0;
    o.html_template = ro ? ro->tpl : NULL;
    o.base_url = ro ? ro->base_url : NULL;
    o.link = ro ? ro->link : NULL;
    if (ro && ro->table_columns) o.limits.table_columns = ro->table_columns;
    o.diag = diag;
    octavo_error err;
    memset(&err, 0, sizeof err);
    octavo *ov = octavo_new(&o, &err);
    if (!ov) return NULL;
    octavo_doc *doc = NULL;
    char *out = NULL;
    size_t len = 0;
    int rc = octavo_doc_load(ov, "test.md", md, strlen(md), &doc, &err);
    if (!rc) rc = octavo_render_buffer(doc, OCTAVO_FORMAT_HTML, &out, &len, &err);
    if (ro && ro->code) *ro->code = rc;
    else if (rc) fprintf(stderr, "render failed: %d %s\n", rc, err.message);
    char *copy = out ? strdup(out) : NULL;
    octavo_buffer_free(out);
    octavo_doc_free(doc);
    octavo_free(ov);
    return copy;
}

static char *render(const char *md, unsigned flags) {
    ropts ro = {0};
    ro.flags = flags;
    return render_with(md, &ro);
}

static xmlDocPtr parse(const char *html) {
    if (!html) return NULL;
    return htmlReadMemory(html, (int)strlen(html), NULL, "UTF-8",
                          HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
}

static int count(xmlDocPtr d, const char *xpath) {
    if (!d) return -1;
    xmlXPathContextPtr c = xmlXPathNewContext(d);
    xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST xpath, c);
    int n = -1;
    if (r) {
        if (r->type == XPATH_NODESET) n = r->nodesetval ? r->nodesetval->nodeNr : 0;
        else if (r->type == XPATH_NUMBER) n = (int)r->floatval;
        else if (r->type == XPATH_BOOLEAN) n = r->boolval;
    }
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(c);
    return n;
}

/* The string value of an XPath expression (static buffer). */
static const char *str(xmlDocPtr d, const char *xpath) {
    static char buf[4096];
    buf[0] = 0;
    if (!d) return buf;
    xmlXPathContextPtr c = xmlXPathNewContext(d);
    xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST xpath, c);
    if (r) {
        xmlChar *s = xmlXPathCastToString(r);
        snprintf(buf, sizeof buf, "%s", s ? (const char *)s : "");
        xmlFree(s);
    }
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(c);
    return buf;
}

/* Every id is unique and every "#x" link has a target. */
static int ids_sound(xmlDocPtr d) {
    xmlXPathContextPtr c = xmlXPathNewContext(d);
    xmlXPathObjectPtr ids = xmlXPathEvalExpression(BAD_CAST "//@id", c);
    xmlXPathObjectPtr hrefs = xmlXPathEvalExpression(BAD_CAST "//a[starts-with(@href, '#')]/@href", c);
    int ok = 1;
    int n = ids && ids->nodesetval ? ids->nodesetval->nodeNr : 0;
    for (int i = 0; i < n && ok; i++)
        for (int j = i + 1; j < n && ok; j++) {
            xmlChar *a = xmlNodeGetContent(ids->nodesetval->nodeTab[i]);
            xmlChar *b = xmlNodeGetContent(ids->nodesetval->nodeTab[j]);
            if (!strcmp((char *)a, (char *)b)) {
                fprintf(stderr, "duplicate id %s\n", a);
                ok = 0;
            }
            xmlFree(a);
            xmlFree(b);
        }
    int m = hrefs && hrefs->nodesetval ? hrefs->nodesetval->nodeNr : 0;
    for (int i = 0; i < m && ok; i++) {
        xmlChar *h = xmlNodeGetContent(hrefs->nodesetval->nodeTab[i]);
        int found = 0;
        for (int j = 0; j < n && !found; j++) {
            xmlChar *a = xmlNodeGetContent(ids->nodesetval->nodeTab[j]);
            found = !strcmp((char *)a, (char *)h + 1);
            xmlFree(a);
        }
        if (!found) {
            fprintf(stderr, "dangling link %s\n", h);
            ok = 0;
        }
        xmlFree(h);
    }
    xmlXPathFreeObject(ids);
    xmlXPathFreeObject(hrefs);
    xmlXPathFreeContext(c);
    return ok;
}

/* Heading levels in document order never skip. */
static int levels_sound(xmlDocPtr d) {
    xmlXPathContextPtr c = xmlXPathNewContext(d);
    xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST "//h1|//h2|//h3|//h4|//h5|//h6", c);
    int ok = 1, prev = 0;
    for (int i = 0; r && r->nodesetval && i < r->nodesetval->nodeNr; i++) {
        int l = r->nodesetval->nodeTab[i]->name[1] - '0';
        if (l > prev + 1) ok = 0;
        prev = l;
    }
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(c);
    return ok;
}

/* ---- tests */
TEST(heading_fitting) {
    char *h = render("---\ntitle: Page\n---\n# A\n\n#### B\n\n## C\n\n###### D\n", 0);
    xmlDocPtr d = parse(h);
    CHECK_INT(count(d, "//h1"), 1);
    CHECK_STR(str(d, "//h1"), "Page");
    CHECK_INT(count(d, "//h2[@id='a']"), 1);
    CHECK_INT(count(d, "//h3[@id='b']"), 1);
    CHECK_INT(count(d, "//h3[@id='c']"), 1);
    CHECK_INT(count(d, "//h4[@id='d']"), 1);
    CHECK(levels_sound(d));
    xmlFreeDoc(d);
    free(h);

    /* the first heading is the title: it leaves the body; an h4 under it becomes an h2 */
    h = render("# Title\n\n#### Deep\n\ntext\n\n<h1>Raw one</h1>\n\n<h5>Raw five</h5>\n", 0);
    d = parse(h);
    CHECK_INT(count(d, "//h1"), 1);
    CHECK_STR(str(d, "//h1"), "Title");
    CHECK_INT(count(d, "//h2[@id='deep']"), 1);
    CHECK_INT(count(d, "//h2[@id='raw-one']"), 1);
    CHECK_INT(count(d, "//h3[@id='raw-five']"), 1);
    CHECK(levels_sound(d));
    xmlFreeDoc(d);
    free(h);
}

TEST(unique_ids_and_self_links) {
    char *h = render("---\ntitle: T\n---\n## Intro\n\n<div id=\"intro-1\">x</div>\n\n## Intro\n\n## Intro\n\n"
                     "<p id=\"dup\">a</p><p id=\"dup\">b</p>\n",
                     OCTAVO_TRUSTED);
    xmlDocPtr d = parse(h);
    CHECK(ids_sound(d));
    CHECK_INT(count(d, "//h2[@id='intro']"), 1);
    CHECK_INT(count(d, "//div[@id='intro-1']"), 1);
    CHECK_INT(count(d, "//h2"), 3);
    CHECK_INT(count(d, "//h2[@id='intro']/a[@class='anchor' and @href='#intro']"), 1);
    CHECK_INT(count(d, "//h2/a[@class='anchor']"), 3);
    xmlFreeDoc(d);
    free(h);
}

TEST(code_tasks_tables_strike) {
    char *h = render("```python\nprint(1)\n```\n\n```\n\nleading blank line\n```\n\n- [x] done\n- [ ] todo\n\n"
                     "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n~~gone~~\n",
                     0);
    xmlDocPtr d = parse(h);
    CHECK_INT(count(d, "//pre/code[@class='language-python']"), 1);
    CHECK(strstr(h, "<pre><code>\nleading") != NULL); /* a leading blank line survives */
    CHECK_INT(count(d, "//ul[@class='contains-task-list']/li[@class='task-list-item']"), 2);
    CHECK_INT(count(d, "//li/input[@type='checkbox' and @disabled]"), 2);
    CHECK_INT(count(d, "//li/input[@checked]"), 1);
    CHECK_INT(count(d, "//table//th"), 2);
    CHECK_INT(count(d, "//*[@align]"), 0);
    CHECK_INT(count(d, "//th[@style='text-align: left']"), 1);
    CHECK_INT(count(d, "//td[@style='text-align: right']"), 1);
    CHECK_INT(count(d, "//del"), 1);
    CHECK_INT(count(d, "//*[@data-sourcepos]"), 0);
    xmlFreeDoc(d);
    free(h);
}

TEST(footnotes) {
    char *h = render("One[^1] two[^n] again[^1].\n\n<div id=\"fn-1\">taken</div>\n\n[^1]: First.\n[^n]: Named.\n",
                     OCTAVO_TRUSTED);
    xmlDocPtr d = parse(h);
    CHECK_INT(count(d, "//section[@class='footnotes']/ol/li"), 2);
    CHECK_INT(count(d, "//sup[@class='footnote-ref']/a"), 3);
    CHECK_INT(count(d, "//a[@class='footnote-backref']"), 3);
    CHECK(ids_sound(d)); /* the raw id "fn-1" forced a rename, and the links followed it */
    xmlFreeDoc(d);
    free(h);
}

TEST(modernised) {
    char *h = render("<a name=\"old\"></a>\n\n<center>c</center> <font color=red>f</font>\n\n"
                     "<iframe width=\"560\" height=\"315\" src=\"https://www.youtube.com/embed/x\" title=\"Video\" "
                     "frameborder=\"0\" allowfullscreen></iframe>\n\n<p className=\"x\">jsx</p>\n\n"
                     "<table border=1 width=100%><tr><td align=center valign=top>c</td></tr></table>\n",
                     OCTAVO_TRUSTED);
    xmlDocPtr d = parse(h);
    CHECK_INT(count(d, "//a[@id='old']"), 1);
    CHECK_INT(count(d, "//article//*[@name]"), 0);
    CHECK_INT(count(d, "//iframe[@title='Video']"), 1);
    CHECK_INT(count(d, "//iframe[@frameborder]"), 0);
    CHECK_INT(count(d, "//center|//font"), 0);
    CHECK_INT(count(d, "//div[contains(@style,'center')]"), 1);
    CHECK_INT(count(d, "//p[@class='x']"), 1);
    CHECK_INT(count(d, "//*[@border]|//*[@valign]|//*[@align]|//table[@width]"), 0);
    CHECK_INT(count(d, "//td[contains(@style,'text-align: center')]"), 1);
    xmlFreeDoc(d);
    free(h);
}

static const char *const hostile[] = {
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<script/src=x.js></script>",
    "<img src=x onerror=alert(1)>",
    "<img src=\"x\" ONERROR=\"alert(1)\">",
    "<a href=\"javascript:alert(1)\">a</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">a</a>",
    "<a href=\" javascript:alert(1)\">a</a>",
    "<a href=\"java&#x09;script:alert(1)\">a</a>",
    "<a href=\"jav&#x0A;ascript:alert(1)\">a</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">a</a>",
    "<a href=\"&#x6A;avascript&colon;alert(1)\">a</a>",
    "<a href=\"vbscript:msgbox(1)\">a</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">a</a>",
    "[md link](javascript:alert(1))",
    "[md link](JAVASCRIPT:alert(1))",
    "![md image](javascript:alert(1))",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<style>body{display:none}</style>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<form action=\"javascript:alert(1)\"><input type=submit></form>",
    "<button formaction=\"javascript:alert(1)\">x</button>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<base href=\"javascript:alert(1)//\">",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<details open ontoggle=alert(1)>x</details>",
    "<body onload=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<link rel=stylesheet href=x.css>",
    "<input onfocus=alert(1) autofocus>",
    "<select onchange=alert(1)><option>1</option></select>",
    "<textarea onfocus=alert(1) autofocus>x</textarea>",
    "<marquee onstart=alert(1)>m</marquee>",
    "<template><script>alert(1)</script></template>",
    "<a href=\"#\" onclick=\"alert(1)\">x</a>",
    "<div onmouseover\n=alert(1)>x</div>",
    "<object><param name=src value=javascript:alert(1)></object>",
    "<img src=\"javascript:alert(1)\">",
    "<a href=\"java\nscript:alert(1)\">a</a>",
    "<A HREF=\"livescript:alert(1)\">a</A>",
    "<table background=\"javascript:alert(1)\"><tr><td>x</td></tr></table>",
    "<blockquote cite=\"javascript:alert(1)\">q</blockquote>",
    "<video poster=\"javascript:alert(1)\"></video>",
};

/* The markers a page must not hold after sanitising. */
static int survives(xmlDocPtr d, const char *html) {
    int bad = 0;
    bad += count(d, "//script") > 0;
    bad += count(d, "//body//style") > 0;
    bad += count(d, "//@*[starts-with(translate(name(), 'ON', 'on'), 'on')]") > 0;
    bad += count(d, "//svg|//math|//object|//embed|//base|//form|//input[not(@type='checkbox')]|//textarea|"
                    "//select|//button|//template|//noscript|//body//meta|//body//link") > 0;
    bad += count(d, "//iframe[@srcdoc]|//*[@formaction]|//*[@action]") > 0;
    /* URL attributes: no script schemes, however spelled */
    xmlXPathContextPtr c = xmlXPathNewContext(d);
    xmlXPathObjectPtr r = xmlXPathEvalExpression(
        BAD_CAST "//@href|//@src|//@action|//@formaction|//@poster|//@cite|//@background|//@data|//@style", c);
    for (int i = 0; r && r->nodesetval && i < r->nodesetval->nodeNr; i++) {
        xmlChar *v = xmlNodeGetContent(r->nodesetval->nodeTab[i]);
        char norm[512];
        size_t n = 0;
        for (const char *p = (const char *)v; *p && n + 1 < sizeof norm; p++)
            if (!isspace((unsigned char)*p) && (unsigned char)*p > 0x20) norm[n++] = (char)tolower((unsigned char)*p);
        norm[n] = 0;
        if (strstr(norm, "javascript:") || strstr(norm, "vbscript:") || strstr(norm, "livescript:") ||
            !strncmp(norm, "data:text", 9) || strstr(norm, "%6aavascript"))
            bad++;
        xmlFree(v);
    }
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(c);
    /* and in the raw text of the page */
    for (const char *p = html; *p; p++)
        if (!strncasecmp(p, "<script", 7) || !strncasecmp(p, "javascript:", 11)) {
            /* allowed only as escaped text (&lt;script) */
            bad++;
            break;
        }
    return bad;
}

TEST(untrusted_battery) {
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
        char md[1024];
        snprintf(md, sizeof md, "---\ntitle: T\n---\nBefore.\n\n%s\n\nAfter.\n", hostile[i]);
        char *h = render(md, 0);
        xmlDocPtr d = parse(h);
        CHECKF(h && d && !survives(d, h), "snippet %zu survives: %s", i, hostile[i]);
        if (!strstr(hostile[i], "<style><img")) /* an unclosed <style> is raw text to the end, as in browsers */
            CHECKF(h && strstr(h, "After."), "snippet %zu ate the rest: %s", i, hostile[i]);
        xmlFreeDoc(d);
        free(h);
        /* the whole battery at once, inline too */
        snprintf(md, sizeof md, "Text %s more\n", hostile[i]);
        h = render(md, 0);
        d = parse(h);
        CHECKF(h && d && !survives(d, h), "inline snippet %zu survives: %s", i, hostile[i]);
        xmlFreeDoc(d);
        free(h);
    }
}

TEST(trusted_mode) {
    /* trusted input keeps harmless raw HTML, but never scripts, styles or handlers */
    const char *md = "<details><summary>S</summary>D</details>\n\n<kbd>K</kbd> <input type=\"text\" name=\"q\">\n\n"
                     "<div style=\"color: red\">styled</div>\n\n<script>alert(1)</script>\n\n<img src=a.png onerror=x()>\n"
                     "\n<a href=\"javascript:alert(1)\">j</a>\n";
    char *h = render(md, OCTAVO_TRUSTED);
    xmlDocPtr d = parse(h);
    CHECK_INT(count(d, "//details/summary"), 1);
    CHECK_INT(count(d, "//kbd"), 1);
    CHECK_INT(count(d, "//input[@type='text']"), 1);
    CHECK_INT(count(d, "//div[@style='color: red']"), 1);
    CHECK_INT(count(d, "//script"), 0);
    CHECK_INT(count(d, "//img[@onerror]"), 0);
    CHECK_INT(count(d, "//a[@href]"), 0);
    xmlFreeDoc(d);
    free(h);
    h = render(md, 0);
    d = parse(h);
    CHECK_INT(count(d, "//details/summary"), 1);
    CHECK_INT(count(d, "//kbd"), 1);
    CHECK_INT(count(d, "//input"), 0);
    CHECK_INT(count(d, "//div[@style]"), 0);
    CHECK(strstr(h, "styled") != NULL);
    xmlFreeDoc(d);
    free(h);
}

TEST(templates_and_fragments) {
    ropts ro = {0};
    ro.tpl = "<!DOCTYPE html><html lang=\"{{lang}}\"><head><title>{{ title }}</title>{{meta}}{{style}}</head>"
             "<body>{{header}}{{toc}}<main>{{body}}</main><p>{{author}}|{{date}}|{{description}}</p></body></html>";
    char *h = render_with("---\ntitle: A & B\nauthor: Ann\ndate: 2022-01-26\ndescription: Desc\n---\n## Part\n\nText.\n", &ro);
    CHECK(h && !strncmp(h, "<!DOCTYPE html><html lang=\"en\"><head><title>A &amp; B</title>", 61));
    CHECK(h && strstr(h, "<main><h2 id=\"part\">"));
    CHECK(h && strstr(h, "<p>Ann|2022-01-26|Desc</p>"));
    CHECK(h && strstr(h, "<nav class=\"toc\""));
    CHECK(h && !strstr(h, "{{"));
    free(h);

    int code = 0;
    ro.code = &code;
    ro.tpl = "<p>{{nope}}</p>";
    h = render_with("x\n", &ro);
    CHECK_INT(code, OCTAVO_E_TEMPLATE);
    free(h);
    ro.tpl = "<p>{{title</p>";
    h = render_with("x\n", &ro);
    CHECK_INT(code, OCTAVO_E_TEMPLATE);
    free(h);

    h = render("---\ntitle: T\n---\nJust *this*.\n", OCTAVO_FRAGMENT);
    CHECK(h && !strstr(h, "<!DOCTYPE") && !strstr(h, "<html") && !strstr(h, "<head"));
    CHECK(h && strstr(h, "<p>Just <em>this</em>.</p>"));
    free(h);
}

TEST(page_metadata) {
    ropts ro = {0};
    ro.base_url = "https://example.org/";
    char *h = render_with("---\ntitle: Hello\nauthor: Ann\ndate: 2022-01-26\nlang: fr\nseo:\n  description: About it\n"
                          "  image: /img/card.png\n---\nSee [home](/about/) and ![i](/img/a.png).\n",
                          &ro);
    xmlDocPtr d = parse(h);
    CHECK_STR(str(d, "/html/@lang"), "fr");
    CHECK_STR(str(d, "//title"), "Hello");
    CHECK_STR(str(d, "//meta[@name='description']/@content"), "About it");
    CHECK_STR(str(d, "//meta[@name='author']/@content"), "Ann");
    CHECK_STR(str(d, "//meta[@property='og:title']/@content"), "Hello");
    CHECK_STR(str(d, "//meta[@property='og:image']/@content"), "https://example.org/img/card.png");
    CHECK_STR(str(d, "//header//time/@datetime"), "2022-01-26");
    CHECK_STR(str(d, "//article//p/a/@href"), "https://example.org/about/");
    CHECK_STR(str(d, "//article//p/img/@src"), "https://example.org/img/a.png");
    CHECK_INT(count(d, "//meta[@name='viewport']"), 1);
    CHECK_INT(count(d, "//head/style"), 1);
    xmlFreeDoc(d);
    free(h);
}

/* the canonical address: the frontmatter's seo.url (or url) when it is one, else the computed one */
TEST(canonical_url) {
    ropts ro = {0};
    ro.base_url = "https://example.org/";
    static const struct { const char *fm, *want; } cases[] = {
        {"seo:\n  url: 'https://elsewhere.example/page/'\n", "https://elsewhere.example/page/"},
        {"url: /community/\n", "https://example.org/community/"},
        {"seo:\n  url: 'HTTP://Old.Example/x'\n", "HTTP://Old.Example/x"},
        {"seo:\n  url: 'javascript:alert(1)'\n", NULL},
        {"seo:\n  url: '//cdn.example/x'\n", NULL},
        {"seo:\n  url: ''\n", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char md[256];
        snprintf(md, sizeof md, "---\ntitle: T\n%s---\nText.\n", cases[i].fm);
        for (int with_base = 0; with_base < 2; with_base++) {
            ro.base_url = with_base ? "https://example.org/" : NULL;
            char *h = render_with(md, &ro);
            xmlDocPtr d = parse(h);
            const char *want = cases[i].want;
            /* test.md is outside any resource root: no computed address to fall back to */
            if (want && !with_base && !strncmp(want, "https://example.org/", 20)) want = NULL;
            if (want) {
                CHECK_STR(str(d, "//link[@rel='canonical']/@href"), want);
                CHECK_STR(str(d, "//meta[@property='og:url']/@content"), want);
            } else {
                CHECKF(count(d, "//link[@rel='canonical']") == 0, "case %zu base %d", i, with_base);
                CHECK_INT(count(d, "//meta[@property='og:url']"), 0);
            }
            xmlFreeDoc(d);
            free(h);
        }
    }
}

/* local images the page keeps are checked against the resource root: a missing one and one outside
 * the root are warned about at their place; present, remote and data: images are not */
TEST(local_images_checked) {
    char root[] = "/tmp/octavo-htmlimg-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char path[300];
    snprintf(path, sizeof path, "%s/img", root);
    CHECK(mkdir(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/img/ok.png", root);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) { fputs("not checked for being a PNG", f); fclose(f); }
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.resource_root = root;
    o.diag = diag;
    octavo_error err;
    octavo *ov = octavo_new(&o, &err);
    CHECK(ov != NULL);
    if (!ov) return;
    static const char md[] = "---\ntitle: T\n---\n![a](/img/ok.png) ![b](img/ok.png)\n\n"
                             "Text ![gone](/img/gone.webp)\n\n![c](https://example.org/x.png) ![d](data:image/png;base64,AA==)\n\n"
                             "<img src=\"../../../etc/passwd\" alt=\"e\">\n";
    snprintf(path, sizeof path, "%s/post.md", root);
    octavo_doc *doc = NULL;
    nwarnings = 0;
    char *out = NULL;
    size_t len = 0;
    CHECK_INT(octavo_doc_load(ov, path, md, sizeof md - 1, &doc, &err), OCTAVO_OK);
    CHECK_INT(octavo_render_buffer(doc, OCTAVO_FORMAT_HTML, &out, &len, &err), OCTAVO_OK);
    CHECK_INT(nwarnings, 2);
    CHECK(strstr(last_warning, "../../../etc/passwd") && strstr(last_warning, "outside the resource root"));
    CHECK_INT(last_line, 10);
    /* the first warning was the missing one, at its own place */
    nwarnings = 0;
    octavo_buffer_free(out);
    out = NULL;
    static const char md2[] = "---\ntitle: T\n---\nText ![gone](/img/gone.webp)\n";
    octavo_doc_free(doc);
    doc = NULL;
    CHECK_INT(octavo_doc_load(ov, path, md2, sizeof md2 - 1, &doc, &err), OCTAVO_OK);
    CHECK_INT(octavo_render_buffer(doc, OCTAVO_FORMAT_HTML, &out, &len, &err), OCTAVO_OK);
    CHECK_INT(nwarnings, 1);
    CHECK(strstr(last_warning, "/img/gone.webp") && strstr(last_warning, "not found"));
    CHECK_INT(last_line, 4);
    CHECK_INT(last_col, 14);
    CHECK(out && strstr(out, "src=\"/img/gone.webp\"")); /* kept as written */
    octavo_buffer_free(out);
    octavo_doc_free(doc);
    octavo_free(ov);
    char cmd[340];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
}

static int test_link(void *ud, const char *doc, const char *target, char *out, size_t size) {
    (void)ud;
    (void)doc;
    if (strstr(target, "missing")) return -1;
    if (!strcmp(target, "other.md")) { snprintf(out, size, "other.html"); return 1; }
    return 0;
}

TEST(links_and_warnings) {
    ropts ro = {0};
    ro.link = test_link;
    nwarnings = 0;
    char *h = render_with("---\ntitle: T\n---\nGo [there](other.md), [nowhere](missing.md) and "
                          "![alt text](missing.png) or [web](https://x.org).\n",
                          &ro);
    xmlDocPtr d = parse(h);
    CHECK_INT(count(d, "//a[@href='other.html']"), 1);
    CHECK_INT(count(d, "//a[contains(@href,'missing')]"), 0);
    CHECK(h && strstr(h, "nowhere"));
    CHECK(h && strstr(h, "alt text"));
    CHECK_INT(count(d, "//img"), 0);
    CHECK_INT(count(d, "//a[@href='https://x.org']"), 1);
    CHECK_INT(nwarnings, 2);
    CHECK_INT(last_line, 4); /* the line in the file, frontmatter counted */
    const char *line4 = "Go [there](other.md), [nowhere](missing.md) and ![alt text](missing.png)";
    CHECK_INT(last_col, strstr(line4, "(missing.png") - line4 + 2); /* the target's own column */
    xmlFreeDoc(d);
    free(h);
}

TEST(limits_and_positions) {
    ropts ro = {0};
    int code = 0;
    ro.code = &code;
    ro.table_columns = 2;
    char *h = render_with("| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |\n", &ro);
    CHECK_INT(code, OCTAVO_E_LIMIT);
    free(h);

    size_t n = 3000;
    char *deep = malloc(n * 11 + 16);
    char *p = deep;
    for (size_t i = 0; i < n; i++) p += sprintf(p, "<div>");
    strcpy(p, "x\n");
    ro.table_columns = 0;
    h = render_with(deep, &ro);
    CHECK_INT(code, OCTAVO_E_LIMIT);
    free(h);
    free(deep);

    /* model positions: body-relative cmark lines mapped into the file, columns in characters */
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    octavo *ov = octavo_new(&o, NULL);
    const char *md = "---\ntitle: T\n---\npara one\n\n* «é» item\n";
    octavo_doc *doc = NULL;
    octavo_error err;
    CHECK_INT(octavo_doc_load(ov, "p.md", md, strlen(md), &doc, &err), OCTAVO_OK);
    if (doc) {
        CHECK_INT(ov_model_build(doc, &err), OCTAVO_OK);
        unsigned line = 0, col = 0;
        xmlNodePtr li = NULL;
        for (xmlNodePtr c = doc->body->children; c; c = c->next)
            if (c->type == XML_ELEMENT_NODE && !strcmp((char *)c->name, "ul")) li = c;
        CHECK(li != NULL);
        if (li) {
            ov_model_position(doc, li, &line, &col);
            CHECK_INT(line, 6);
            CHECK_INT(col, 1);
        }
        char *t = ov_model_text(doc->body);
        CHECK_STR(t, "para one «é» item");
        ov_free(t);
    }
    octavo_doc_free(doc);
    octavo_free(ov);
}

/* The W3C Nu checker on a few rendered pages, when Java and vnu.jar are there. */
TEST(nu_checker) {
    const char *home = getenv("HOME");
    char jar[1024];
    snprintf(jar, sizeof jar, "%s/.cache/octavo-bars/node_modules/vnu-jar/build/dist/vnu.jar", home ? home : "");
    if (access(jar, R_OK) || system("java -version >/dev/null 2>&1")) {
        printf("nu_checker: skipped (no java or no vnu.jar)\n");
        return;
    }
    char dir[] = "/tmp/octavo-nu-XXXXXX";
    if (!mkdtemp(dir)) return;
    static const char *const docs[] = {
        "---\ntitle: All of it\nauthor: A\ndate: 2021-05-04\n---\n# Top\n\n#### Deep\n\nText[^1] ~~del~~ `code`.\n\n"
        "- [x] task\n- [ ] other\n\n| a | b |\n|:-|-:|\n| 1 | 2 |\n\n```js\nx()\n```\n\n<a name=\"n\"></a>\n\n"
        "<center><font size=2>old</font></center>\n\n<iframe src=\"https://www.youtube.com/embed/x\" title=\"v\" "
        "frameborder=\"0\" allowfullscreen width=\"560\" height=\"315\"></iframe>\n\n<p className=\"c\">x <insert it> y\n\n"
        "<section><p>s</p></section>\n\n<ul><p>not li</p></ul>\n\n[^1]: Note.\n",
        NULL, /* the hostile battery, trusted */
        NULL, /* the hostile battery, untrusted */
        "<h1 align=\"center\">P</h1>\n<p align=\"center\"><img src=\"logo.svg\" width=\"600px\" alt=\"l\"><br/></p>\n\n"
        "Text <details><summary>More</summary>Hidden</details> after.\n\n"
        "<picture><source media=\"(min-width: 1px)\" srcset=\"d.png\"><img src=\"l.png\" alt=\"l\"></picture>\n\n"
        "[bad](http://) [q](https://example.com/a b?c=d e#f#g) <a href=\"https://example.com/x y\">s</a>\n\n"
        "<p><em><ul><li>list in em</li></ul></em></p>\n\n<video src=\"v.mp4\" controls><track kind=\"captions\">"
        "</video>\n\n<table><tr><td colspan=\"2\">x</td></tr></table>\n\n<main>m</main> <time>bad</time>\n"
        "<p>unclosed <b>bold <i>both</p> after\n<ul><li>one<li>two</ul>\n\n- item\n\n  <pre>\n\n      ```bash\n"
        "      $ x\n      ```\n\n  <pre>\n\n- next\n",
    };
    int files = 0;
    char cmd[4096];
    int len = snprintf(cmd, sizeof cmd, "java -jar %s --errors-only --format gnu", jar);
    for (int k = 0; k < 4; k++) {
        char *md = NULL;
        if (docs[k]) md = strdup(docs[k]);
        else {
            size_t cap = 65536;
            md = malloc(cap);
            strcpy(md, "---\ntitle: Battery\n---\n");
            for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
                strcat(md, hostile[i]);
                strcat(md, "\n\nText.\n\n");
            }
        }
        char *h = render(md, k == 1 || k == 3 ? OCTAVO_TRUSTED : 0);
        free(md);
        if (!h) continue;
        char path[256];
        snprintf(path, sizeof path, "%s/p%d.html", dir, k);
        FILE *f = fopen(path, "w");
        if (f) {
            fputs(h, f);
            fclose(f);
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %s", path);
            files++;
        }
        free(h);
    }
    snprintf(cmd + len, sizeof cmd - (size_t)len, " 2>&1");
    FILE *pp = popen(cmd, "r");
    int errors = 0;
    char line[1024];
    while (pp && fgets(line, sizeof line, pp)) {
        if (strstr(line, "error")) {
            errors++;
            fprintf(stderr, "nu: %s", line);
        }
    }
    if (pp) pclose(pp);
    CHECK_INT(files, 4);
    CHECK_INT(errors, 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {}
}

int main(void) {
    RUN(heading_fitting);
    RUN(unique_ids_and_self_links);
    RUN(code_tasks_tables_strike);
    RUN(footnotes);
    RUN(modernised);
    RUN(untrusted_battery);
    RUN(trusted_mode);
    RUN(templates_and_fragments);
    RUN(page_metadata);
    RUN(canonical_url);
    RUN(local_images_checked);
    RUN(links_and_warnings);
    RUN(limits_and_positions);
    RUN(nu_checker);
    return t_done();
}
