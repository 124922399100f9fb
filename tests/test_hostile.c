/* The bad-input battery (issue 8): each case names its input and its expected outcome, an error
 * code with its line:column, or a render in HTML, EPUB and PDF with checked properties. Outputs
 * are read back (libxml2, libzip, pdftotext, pdfinfo, qpdf): nothing from outside the resource
 * root, no script in untrusted output, every hostile title escaped in each syntax. */
#include <signal.h>
#include <sys/resource.h>

#include "hostile_util.h"

static int cases;           /* cases run, each with its expected outcome */
static octavo *OV;          /* untrusted, root T/root */
static octavo *OVT;         /* trusted */
static const char *FMT[] = {"html", "epub", "pdf"};

/* ---- load failures: code, line, column and a word of the message */
static void expect_fail(const char *label, octavo *ov, const char *src, size_t len, int code, unsigned line,
                        unsigned col, const char *msg_has) {
    t_name = label;
    cases++;
    octavo_error e;
    memset(&e, 0, sizeof e);
    octavo_doc *d = (octavo_doc *)1;
    struct timespec t0;
    clock_gettime(H_CLOCK, &t0);
    h_seed_doc(src, len);
    int rc = octavo_doc_load(ov, "bad.md", src, len, &d, &e);
    double ms = h_ms(&t0);
    CHECKF(rc == code, "got %d (%s), want %d", rc, e.message, code);
    CHECK(d == NULL);
    CHECK_INT(e.code, code);
    if (line) { CHECK_INT(e.line, line); CHECK_INT(e.column, col); }
    if (msg_has) CHECKF(strstr(e.message, msg_has) != NULL, "message \"%s\" lacks \"%s\"", e.message, msg_has);
    CHECKF(ms < 1000 * H_SLOW, "took %.0f ms of CPU", ms);
    octavo_doc_free(d == (octavo_doc *)1 ? NULL : d);
}

/* ---- loads, then renders in every format; check() looks at each output */
typedef void (*out_check)(int fmt, const blob *out, void *ud);

static octavo_doc *load_ok(octavo *ov, const char *name, const char *src, size_t len) {
    octavo_error e;
    octavo_doc *d = NULL;
    h_seed_doc(src, len);
    int rc = octavo_doc_load(ov, name, src, len, &d, &e);
    CHECKF(rc == OCTAVO_OK, "load: %d %s at %u:%u", rc, e.message, e.line, e.column);
    return d;
}

static void expect_renders(const char *label, octavo *ov, const char *src, out_check check, void *ud) {
    t_name = label;
    cases++;
    octavo_doc *d = load_ok(ov, "case.md", src, strlen(src));
    if (!d) return;
    for (int f = 0; f < 3; f++) {
        blob out;
        octavo_error e;
        int rc = rendered(d, f, &out, &e);
        CHECKF(rc == OCTAVO_OK, "%s: %d %s", FMT[f], rc, e.message);
        CHECKF(out.n > 0 && !memchr(out.p, 0, f == OCTAVO_FORMAT_HTML ? out.n : 0), "%s: empty or NUL", FMT[f]);
        if (rc == OCTAVO_OK && check) check(f, &out, ud);
        octavo_buffer_free(out.p);
    }
    octavo_doc_free(d);
}

/* Outputs are well-formed: the HTML parses, every XML part of the EPUB parses strictly, the PDF
 * has its header and trailer. */
static void ck_wellformed(int fmt, const blob *out, void *ud) {
    (void)ud;
    if (fmt == OCTAVO_FORMAT_HTML) {
        xmlDocPtr x = html_parse(out);
        CHECK(x && find_elem(xmlDocGetRootElement(x), "body"));
        xmlFreeDoc(x);
    } else if (fmt == OCTAVO_FORMAT_PDF) {
        CHECK(out->n > 8 && !memcmp(out->p, "%PDF-", 5) && h_has(out->p + out->n - 8, 8, "%%EOF"));
    } else {
        const char *parts[] = {".opf", ".ncx", "nav.xhtml", "container.xml"};
        for (size_t i = 0; i < 4; i++) {
            blob b = epub_get(out, parts[i]);
            xmlDocPtr x = b.p ? xml_parse(b.p, b.n) : NULL;
            CHECKF(x != NULL, "%s is missing or not well-formed", parts[i]);
            xmlFreeDoc(x);
            free(b.p);
        }
    }
}

/* ---- 1. frontmatter, encoding and garbage */
TEST(bad_sources) {
    expect_fail("frontmatter: a sequence", OV, "---\n- a\n- b\n---\nx\n", 17, OCTAVO_E_FRONTMATTER, 2, 1, NULL);
    expect_fail("frontmatter: a scalar", OV, "---\njust words\n---\nx\n", 21, OCTAVO_E_FRONTMATTER, 2, 1, NULL);
    expect_fail("frontmatter: invalid YAML", OV, "---\ntitle: [a, b\n---\n", 20, OCTAVO_E_YAML, 3, 1, NULL);
    expect_fail("frontmatter: tab indentation", OV, "---\na:\n\t- b\n---\n", 16, OCTAVO_E_YAML, 3, 1, NULL);
    expect_fail("frontmatter: unterminated", OV, "---\ntitle: x\nbody\n", 18, OCTAVO_E_UNTERMINATED, 1, 1, NULL);
    expect_fail("frontmatter: a NUL byte", OV, "---\ntitle: a\0b\n---\n", 19, OCTAVO_E_YAML, 2, 9, NULL);
    expect_fail("frontmatter: a duplicate key", OV, "---\na: 1\na: 2\n---\n", 18, OCTAVO_E_YAML, 3, 1, NULL);
    expect_fail("UTF-8: a stray continuation byte", OV, "ok\n\x80\n", 5, OCTAVO_E_ENCODING, 2, 1, NULL);
    expect_fail("UTF-8: a truncated sequence at the end", OV, "caf\xC3", 4, OCTAVO_E_ENCODING, 1, 4, NULL);
    expect_fail("UTF-8: a code point past U+10FFFF", OV, "ab\xF4\x90\x80\x80", 6, OCTAVO_E_ENCODING, 1, 3, NULL);
    expect_fail("UTF-16 with its BOM", OV, "\xFF\xFE#\0 \0x\0", 8, OCTAVO_E_ENCODING, 1, 1, NULL);
    /* binary garbage: random bytes (fixed seed); the first invalid byte's position is computed */
    {
        unsigned char g[4096];
        uint32_t s = 12345;
        for (size_t i = 0; i < sizeof g; i++) { s = s * 1103515245u + 12345u; g[i] = (unsigned char)(s >> 16); }
        size_t bad;
        CHECK(!ov_utf8_valid((const char *)g, sizeof g, &bad));
        unsigned l, c;
        ov_source_position((const char *)g, sizeof g, bad, &l, &c);
        expect_fail("binary garbage", OV, (const char *)g, sizeof g, OCTAVO_E_ENCODING, l, c, "invalid UTF-8");
    }
    /* NUL bytes in the body are valid UTF-8: they become U+FFFD, and no output holds a NUL
     * where text goes */
    {
        t_name = "NUL bytes in the body";
        cases++;
        static const char s[] = "# A\0B\n\npara\0graph\n";
        octavo_doc *d = load_ok(OV, "nul.md", s, sizeof s - 1);
        if (d) {
            blob h;
            octavo_error e;
            CHECK_INT(rendered(d, OCTAVO_FORMAT_HTML, &h, &e), OCTAVO_OK);
            CHECK(h_has(h.p, h.n, "para\xEF\xBF\xBDgraph") && !memchr(h.p, 0, h.n));
            CHECK_STR(octavo_doc_title(d), "A\xEF\xBF\xBD" "B");
            octavo_buffer_free(h.p);
            for (int f = 1; f < 3; f++) {
                CHECK_INT(rendered(d, f, &h, &e), OCTAVO_OK);
                octavo_buffer_free(h.p);
            }
            octavo_doc_free(d);
        }
    }
    expect_renders("an empty document", OV, "", ck_wellformed, NULL);
    expect_renders("only a frontmatter", OV, "---\ntitle: T\n---\n", ck_wellformed, NULL);
    expect_renders("control characters and lone CRs", OV, "a\x01\x02\x1b[31m b\rc\r\n\x7f\n", ck_wellformed, NULL);
}

/* ---- 2. sizes and nesting: refused fast, at the right place, naming the limit */
static char *repeat(const char *unit, size_t times, const char *tail) {
    size_t u = strlen(unit), t = strlen(tail);
    char *s = malloc(u * times + t + 1), *p = s;
    for (size_t i = 0; i < times; i++, p += u) memcpy(p, unit, u);
    memcpy(p, tail, t + 1);
    return s;
}

TEST(limits) {
    char *s;
    s = repeat("> ", 100000, "x\n");
    expect_fail("100000 nested block quotes", OV, s, strlen(s), OCTAVO_E_LIMIT, 1, 513, "limit.nesting (256)");
    free(s);
    s = repeat("- ", 100000, "x\n");
    expect_fail("100000 nested list items", OV, s, strlen(s), OCTAVO_E_LIMIT, 1, 513, "limit.nesting (256)");
    free(s);
    s = repeat("1. ", 100000, "x\n");
    expect_fail("100000 nested ordered items", OV, s, strlen(s), OCTAVO_E_LIMIT, 1, 769, "limit.nesting (256)");
    free(s);
    s = repeat(">", 100000, "\n");
    expect_fail("100000 '>' without blanks", OV, s, strlen(s), OCTAVO_E_LIMIT, 1, 257, "limit.nesting");
    free(s);
    /* 3000 levels by indentation alone (9 MB): the parsed tree's check, still under a second */
    {
        size_t n = 3000;
        char *p = s = malloc(n * (2 * n + 4));
        for (size_t i = 0; i < n; i++) { memset(p, ' ', 2 * i); p += 2 * i; memcpy(p, "- x\n", 4); p += 4; }
        *p = 0;
        expect_fail("3000 list levels by indentation", OV, s, strlen(s), OCTAVO_E_LIMIT, 0, 0, "limit.nesting");
        free(s);
    }
    {   /* a table of 10 000 columns, refused before cmark-gfm splits it */
        char *a = repeat("a|", 10000, "\n"), *b = repeat("-|", 10000, "\n"), *c = repeat("1|", 10000, "\n");
        size_t n = strlen(a) + strlen(b) + 2 * strlen(c) + 16;
        s = malloc(n);
        snprintf(s, n, "|%s|%s|%s|%s", a, b, c, c);
        expect_fail("a table of 10000 columns", OV, s, strlen(s), OCTAVO_E_LIMIT, 1, 1, "limit.table_columns (200)");
        free(s);
        free(a); free(b); free(c);
    }
    {   /* rows of 20 000 cells under a table of two columns */
        char *row = repeat("b|", 20000, "\n");
        size_t n = 20 * strlen(row) + 64;
        s = malloc(n);
        strcpy(s, "| a | b |\n|---|---|\n");
        for (int i = 0; i < 20; i++) strcat(s, row);
        expect_fail("table rows of 20000 cells", OV, s, strlen(s), OCTAVO_E_LIMIT, 3, 1, "limit.table_columns (200)");
        free(s);
        free(row);
    }
    {   /* 200 columns x 1001 rows: 200 200 cells */
        char *hdr = repeat("h|", 200, "\n"), *del = repeat("-|", 200, "\n"), *row = repeat("c|", 200, "\n");
        size_t n = strlen(hdr) + strlen(del) + 1001 * strlen(row) + 8;
        s = malloc(n);
        strcpy(s, hdr);
        strcat(s, del);
        char *p = s + strlen(s);
        for (int i = 0; i < 1001; i++) { memcpy(p, row, strlen(row)); p += strlen(row); }
        *p = 0;
        expect_fail("a table of 200200 cells", OV, s, strlen(s), OCTAVO_E_LIMIT, 1, 1, "limit.table_cells (200000)");
        free(s);
        free(hdr); free(del); free(row);
    }
    {   /* the limit itself passes: 200 columns render, every cell there */
        char *hdr = repeat("| h ", 200, "|\n"), *del = repeat("|---", 200, "|\n"), *row = repeat("| c ", 200, "|\n");
        size_t n = strlen(hdr) + strlen(del) + strlen(row) + 1;
        s = malloc(n);
        snprintf(s, n, "%s%s%s", hdr, del, row);
        t_name = "a table of 200 columns";
        cases++;
        octavo_doc *d = load_ok(OV, "t.md", s, strlen(s));
        blob h;
        octavo_error e;
        if (d && rendered(d, OCTAVO_FORMAT_HTML, &h, &e) == OCTAVO_OK) {
            size_t th = 0;
            for (char *q = h.p; (q = strstr(q, "<th>")); q++) th++;
            CHECK_INT(th, 200);
            octavo_buffer_free(h.p);
            for (int f = 1; f < 3; f++) {
                CHECK_INT(rendered(d, f, &h, &e), OCTAVO_OK); /* the PDF warns and leaves columns out */
                octavo_buffer_free(h.p);
            }
        }
        octavo_doc_free(d);
        free(s);
        free(hdr); free(del); free(row);
    }
    s = repeat("- ", 300, "\n");
    expect_renders("a thematic break of 300 dashes", OV, s, ck_wellformed, NULL);
    free(s);
    /* the autolink extension copies a text node once per address: 512 KB of "a@b.cc " took 515 MB */
    s = repeat("a@b.cc ", 75000, "\n");
    expect_fail("a 512 KB line of e-mail addresses", OV, s, strlen(s), OCTAVO_E_LIMIT, 1, 1, "limit.input_bytes");
    free(s);
    s = repeat("*a* ", 500000, "\n");
    expect_fail("2 MB of emphasis", OV, s, strlen(s), OCTAVO_E_LIMIT, 1, 1, "limit.input_bytes / 32");
    free(s);
    s = repeat("www.a ", 300000, "\n");
    expect_fail("1.8 MB of www autolinks", OV, s, strlen(s), OCTAVO_E_LIMIT, 1, 1, "limit.input_bytes / 32");
    free(s);
    /* a 50 MB paragraph: over the default input_bytes (16 MiB) at once; with the limit raised,
     * 50 MB of "word " is still refused (the autolink extension makes each 'w' a text node:
     * 18 s and 2.3 GB in cmark-gfm) */
    {
        size_t n = 50u << 20;
        s = malloc(n + 1);
        for (size_t i = 0; i < n; i += 5) memcpy(s + i, "word ", n - i < 5 ? n - i : 5);
        s[n - 1] = '\n';
        s[n] = 0;
        expect_fail("a 50 MB paragraph", OV, s, n, OCTAVO_E_LIMIT, 0, 0, "limit.input_bytes (16777216)");
        octavo_limits L = {.input_bytes = 64u << 20};
        octavo *big = h_handle(0, &L);
        expect_fail("a 50 MB paragraph of 'w' words, input_bytes 64 MiB", big, s, n, OCTAVO_E_LIMIT, 0, 0,
                    "Markdown elements");
        octavo_free(big);
        free(s);
    }
    /* billion laughs: nine levels of ten aliases */
    {
        char y[2048] = "---\nl0: &l0 [lol,lol,lol,lol,lol,lol,lol,lol,lol,lol]\n";
        for (int i = 1; i < 9; i++) {
            char line[160];
            snprintf(line, sizeof line, "l%d: &l%d [*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d]\n", i, i, i - 1,
                     i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
            strcat(y, line);
        }
        strcat(y, "---\n");
        /* l0..l3 hold about 12 000 nodes and each alias of l3 adds 11 111: the 8th "*l3" of l4
         * (column 10 + 7 * 4 = 38) takes the total past 100 000 */
        expect_fail("billion laughs", OV, y, strlen(y), OCTAVO_E_LIMIT, 6, 38, "limit.yaml_nodes");
    }
    s = repeat("{a: ", 1000, "");
    {
        char *y = malloc(strlen(s) + 32);
        sprintf(y, "---\nk: %sb\n---\n", s);
        /* the root map is level 1: the 64th "{" (column 4 + 63 * 4 = 256) opens level 65 */
        expect_fail("frontmatter nested 1000 deep", OV, y, strlen(y), OCTAVO_E_LIMIT, 2, 256, "limit.yaml_depth");
        free(y);
    }
    free(s);
    {
        octavo_limits L = {.input_bytes = 100};
        octavo *small = h_handle(0, &L);
        s = repeat("x", 101, "");
        expect_fail("input_bytes of 100", small, s, 101, OCTAVO_E_LIMIT, 0, 0, "limit.input_bytes (100)");
        free(s);
        octavo_free(small);
    }
}

/* ---- 3. images that cannot be had: the document renders, with a warning at the image */
typedef struct { const char *file; int code; } img_case;

static void expect_image_warning(const char *label, const char *target, int code) {
    t_name = label;
    cases++;
    char src[512];
    snprintf(src, sizeof src, "# Images\n\nBefore.\n\n![pic](%s)\n\nAfter the image.\n", target);
    octavo_doc *d = load_ok(OV, "imgs.md", src, strlen(src));
    if (!d) return;
    for (int f = 0; f < 3; f++) {
        NDIAG = 0;
        blob out;
        octavo_error e;
        struct timespec t0;
        clock_gettime(H_CLOCK, &t0);
        int rc = rendered(d, f, &out, &e);
        double ms = h_ms(&t0);
        CHECKF(rc == OCTAVO_OK, "%s: %d %s", FMT[f], rc, e.message);
        CHECKF(ms < 2000 * H_SLOW, "%s took %.0f ms of CPU", FMT[f], ms);
        /* HTML links images without reading them, so it does not warn; the EPUB passes a PNG
         * or JPEG whose header probes well through without decoding it (a reader shows it broken) */
        int passes = f == OCTAVO_FORMAT_HTML ||
                     (f == OCTAVO_FORMAT_EPUB && (!strcmp(target, "img/trunc.png") || !strcmp(target, "img/corrupt.png")));
        if (!passes) {
            CHECKF(NDIAG > 0 && h_warned(0), "%s: no warning", FMT[f]);
            int good = 0;
            for (int i = 0; i < NDIAG && i < 64; i++)
                if (DIAGS[i].code == code || (code == OCTAVO_E_IMAGE && DIAGS[i].code == OCTAVO_E_LIMIT && !strcmp(target, "img/huge.png")))
                    good = 1;
            CHECKF(good, "%s: want a warning of code %d, got %d (%s)", FMT[f], code, NDIAG ? DIAGS[0].code : -1,
                   NDIAG ? DIAGS[0].msg : "");
            if (NDIAG && DIAGS[0].line) CHECKF(DIAGS[0].line == 5, "%s: warning at line %u", FMT[f], DIAGS[0].line);
        }
        if (rc == OCTAVO_OK) {
            ck_wellformed(f, &out, NULL);
            if (f == OCTAVO_FORMAT_HTML) CHECK(h_has(out.p, out.n, "After the image."));
            if (f == OCTAVO_FORMAT_EPUB) CHECK(epub_has(&out, "After the image.") == 1);
            if (f == OCTAVO_FORMAT_PDF) {
                blob t = pdf_text(&out);
                if (t.p) CHECK(h_has(t.p, t.n, "After the image."));
                free(t.p);
            }
        }
        octavo_buffer_free(out.p);
    }
    octavo_doc_free(d);
}

TEST(bad_images) {
    expect_image_warning("a missing image", "img/none.png", OCTAVO_E_NOT_FOUND);
    expect_image_warning("a truncated PNG", "img/trunc.png", OCTAVO_E_IMAGE);
    expect_image_warning("a corrupt PNG", "img/corrupt.png", OCTAVO_E_IMAGE);
    expect_image_warning("a truncated JPEG", "img/trunc.jpg", OCTAVO_E_IMAGE);
    expect_image_warning("a corrupt JPEG", "img/corrupt.jpg", OCTAVO_E_IMAGE);
    expect_image_warning("a truncated WebP", "img/trunc.webp", OCTAVO_E_IMAGE);
    expect_image_warning("a corrupt WebP", "img/corrupt.webp", OCTAVO_E_IMAGE);
    expect_image_warning("an empty file as PNG", "img/empty.png", OCTAVO_E_IMAGE);
    expect_image_warning("text as PNG", "img/text.png", OCTAVO_E_IMAGE);
    expect_image_warning("a 50000x50000 PNG header", "img/huge.png", OCTAVO_E_LIMIT);
    /* the same header through the decoder directly: refused before any pixel is allocated */
    {
        t_name = "50000x50000 probe";
        cases++;
        blob h = png_header_only(50000, 50000);
        octavo_error e;
        ov_image_info info;
        ov_pixels px;
        struct timespec t0;
        clock_gettime(H_CLOCK, &t0);
        CHECK_INT(ov_image_probe(OV, h.p, h.n, &info, &e), OCTAVO_E_LIMIT);
        CHECK_INT(ov_image_decode(OV, h.p, h.n, &px, &e), OCTAVO_E_LIMIT);
        CHECK(strstr(e.message, "limit.image_pixels") != NULL);
        CHECK(h_ms(&t0) < 1000 * H_SLOW);
        free(h.p);
    }
}

/* ---- 4. nothing from outside the root */
typedef struct { int leaks; } leak_ud;

static void ck_no_secret(int fmt, const blob *out, void *ud) {
    leak_ud *l = ud;
    char w[32];
    snprintf(w, sizeof w, "/Width %d", SECRET_W);
    int in_raw = h_has(out->p, out->n, SECRET), in = in_raw;
    if (fmt == OCTAVO_FORMAT_EPUB) in = epub_has(out, SECRET) != 0;
    if (fmt == OCTAVO_FORMAT_PDF) {
        blob t = pdf_text(out);
        in = in_raw || (t.p && h_has(t.p, t.n, SECRET)) || h_has(out->p, out->n, w);
        free(t.p);
    }
    CHECKF(!in, "%s: the secret is in the output", FMT[fmt]);
    l->leaks += in;
    ck_wellformed(fmt, out, NULL);
}

static void ck_has_secret(int fmt, const blob *out, void *ud) {
    (void)ud;
    char w[32];
    snprintf(w, sizeof w, "/Width %d", SECRET_W);
    if (fmt == OCTAVO_FORMAT_EPUB) CHECK(epub_has(out, SECRET) == 1);
    if (fmt == OCTAVO_FORMAT_PDF) CHECK(h_has(out->p, out->n, w));
}

static void expect_no_escape(const char *label, octavo *ov, const char *body, int warns) {
    leak_ud l = {0};
    NDIAG = 0;
    expect_renders(label, ov, body, ck_no_secret, &l);
    if (warns)
        CHECKF(h_warned(OCTAVO_E_ACCESS) || h_warned(OCTAVO_E_NOT_FOUND) || h_warned(OCTAVO_E_RESOURCE),
               "no warning for the refused target");
}

TEST(escapes) {
    /* the positive control: the same bytes inside the root do reach the EPUB and the PDF */
    expect_renders("control: the secret image inside the root", OV, "![in](img/inside.png)\n", ck_has_secret, NULL);
    char abs[1200];
    expect_no_escape("../ out of the root", OV, "![a](../secret.png)\n", 1);
    expect_no_escape("/../ out of the root", OV, "![a](/../secret.png)\n", 1);
    expect_no_escape("img/../../ out of the root", OV, "![a](img/../../secret.png)\n", 1);
    expect_no_escape("percent-encoded ../", OV, "![a](%2e%2e/secret.png)\n", 1);
    expect_no_escape("percent-encoded slash", OV, "![a](..%2fsecret.png)\n", 1);
    expect_no_escape("a symlink to a file outside", OV, "![a](leak.png)\n", 1);
    expect_no_escape("a symlink two levels up", OV, "![a](img/leak2.png)\n", 1);
    expect_no_escape("a symlinked folder", OV, "![a](up/secret.png)\n", 1);
    snprintf(abs, sizeof abs, "![a](file://%s/secret.png)\n\n![b](file:%s/secret.png)\n", T, T);
    expect_no_escape("file: URLs", OV, abs, 0);
    snprintf(abs, sizeof abs, "![a](%s/secret.png)\n", T);
    expect_no_escape("an absolute path", OV, abs, 1);
    snprintf(abs, sizeof abs, "<img src=\"../secret.png\"> <img src=\"file://%s/secret.png\">\n\n"
                              "<picture><source srcset=\"leak.png\"><img src=\"up/secret.png\"></picture>\n", T);
    expect_no_escape("raw HTML images, trusted", OVT, abs, 1);
    /* links are not fetched, but a bundling backend must not copy their files either */
    {
        leak_ud l = {0};
        expect_renders("links to files outside", OVT,
                       "[a](../secret.txt) [b](leak.txt) [c](up/secret.txt) [d](file:///etc/passwd)\n", ck_no_secret, &l);
    }
    /* a frontmatter cover and a book cover outside the root */
    expect_no_escape("a frontmatter image outside", OV, "---\ntitle: C\ncover: ../secret.png\nimage: leak.png\n---\n![x](leak.png)\n", 1);
    {
        t_name = "a book cover outside the root";
        cases++;
        octavo_book *b = octavo_book_new(OV);
        octavo_error e;
        CHECK_INT(octavo_book_add(b, load_ok(OV, "a.md", "# A\n\nx\n", 8), &e), OCTAVO_OK);
        CHECK_INT(octavo_book_set(b, "cover", "../secret.png"), OCTAVO_OK);
        for (int f = 1; f < 3; f++) {
            blob out;
            CHECK_INT(octavo_book_render_buffer(b, (octavo_format)f, &out.p, &out.n, &e), OCTAVO_OK);
            leak_ud l = {0};
            ck_no_secret(f, &out, &l);
            octavo_buffer_free(out.p);
        }
        octavo_book_free(b);
    }
}

/* ---- 5. untrusted input: no script in HTML or EPUB */
static const char XSS[] =
    "# Hostile\n\n"
    "<script>alert('S1')</script>\n\n"
    "<img src=\"img/ok.png\" onerror=\"alert('S2')\">\n\n"
    "[click](javascript:alert('S3')) [b](JaVaScRiPt:alert('S4')) [c](java&#x09;script:alert('S5'))\n\n"
    "<a href=\"  javascript:alert('S6')\">d</a> <a href=\"vbscript:msgbox\">e</a>\n\n"
    "<a href=\"data:text/html;base64,PHNjcmlwdD4=\">f</a>\n\n"
    "<svg><script>alert('S7')</script><a xlink:href=\"javascript:alert('S8')\"><text>t</text></a></svg>\n\n"
    "<iframe src=\"javascript:alert('S9')\"></iframe>\n\n"
    "<div style=\"background:url(javascript:alert('S10'))\">g</div>\n\n"
    "<object data=\"javascript:alert('S11')\"></object><embed src=\"x.swf\">\n\n"
    "<form action=\"javascript:alert('S12')\"><button formaction=\"javascript:alert('S13')\">h</button></form>\n\n"
    "<math><mi xlink:href=\"javascript:alert('S14')\">i</mi></math>\n\n"
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert('S15')\">\n\n"
    "<base href=\"javascript:alert('S16')//\">\n\n"
    "<details open ontoggle=\"alert('S17')\"><summary>s</summary>j</details>\n\n"
    "<noscript><p title=\"</noscript><img src=x onerror=alert('S18')>\"></noscript>\n\n"
    "<template><script>alert('S19')</script></template>\n\n"
    "<style>body{background:url(javascript:alert('S20'))}</style>\n\n"
    "<p><a href=\"#ok\" onclick=\"alert('S21')\" onmouseover=alert('S22')>k</a></p>\n\n"
    "<scr<script>ipt>alert('S23')</script> <<script>script>alert('S24')</script>\n\n"
    "<img src=x:x onerror=alert('S25')//>\n\n"
    "![img](javascript:alert('S26'))\n\n"
    "<video poster=\"javascript:alert('S27')\"></video> <a href=\"&#106;avascript:alert('S28')\">l</a>\n\n"
    "End.\n";

static void ck_no_script(int fmt, const blob *out, void *ud) {
    (void)ud;
    if (fmt == OCTAVO_FORMAT_HTML) {
        xmlDocPtr x = html_parse(out);
        const char *why = x ? script_in(xmlDocGetRootElement(x)) : "unparsable";
        CHECKF(why == NULL, "html: %s", why);
        xmlFreeDoc(x);
        CHECK(h_has(out->p, out->n, "End."));
    }
}

typedef struct { int parts, bad; } xhtml_ud;
static void xhtml_cb(const char *name, const char *data, size_t len, void *ud) {
    xhtml_ud *u = ud;
    size_t nl = strlen(name);
    if (nl < 6 || (strcmp(name + nl - 6, ".xhtml") && strcmp(name + nl - 5, ".html"))) return;
    u->parts++;
    xmlDocPtr x = xml_parse(data, len);
    const char *why = x ? script_in(xmlDocGetRootElement(x)) : "not well-formed";
    if (why) { u->bad++; fprintf(stderr, "  epub %s: %s\n", name, why); }
    xmlFreeDoc(x);
}

static void ck_no_script_all(int fmt, const blob *out, void *ud) {
    if (fmt == OCTAVO_FORMAT_EPUB) {
        xhtml_ud u = {0, 0};
        CHECK(epub_each(out, xhtml_cb, &u) > 0);
        CHECK(u.parts >= 2);
        CHECK_INT(u.bad, 0);
        CHECK(epub_has(out, "End.") == 1);
    } else {
        ck_no_script(fmt, out, ud);
    }
}

TEST(untrusted) {
    expect_renders("untrusted: 28 script vectors", OV, XSS, ck_no_script_all, NULL);
    TRUSTED_CHECK = 1;
    expect_renders("trusted: scripts and handlers still dropped", OVT, XSS, ck_no_script_all, NULL);
    TRUSTED_CHECK = 0;
    expect_renders("untrusted: script in the frontmatter title", OV,
                   "---\ntitle: \"<script>alert('T1')</script><img src=x onerror=alert(1)>\"\n"
                   "description: \"</title><script>alert(2)</script>\"\nauthor: \"<b onclick=x>A</b>\"\n---\nEnd.\n",
                   ck_no_script_all, NULL);
}

/* ---- 6. hostile titles, escaped in every syntax */
#define HT "T <b>&amp; ]]> ) \\ ( \"q\" 'a' </title><!-- -->"
static const char HOSTILE_DOC[] = "---\n"
                                  "title: \"T <b>&amp; ]]> ) \\\\ ( \\\"q\\\" 'a' </title><!-- -->\"\n"
                                  "author: \"A & <B> ]]> \\\\ )\"\n"
                                  "description: \"D ]]> & < ) \\\\\"\n"
                                  "---\n"
                                  "Intro.\n\n"
                                  "## H \\<x\\> & ]]> ) \\\\ ( \"q\"\n\n"
                                  "Text.\n";
#define HH "H <x> & ]]> ) \\ ( \"q\""

/* JSON string escaping as qpdf prints it */
static void json_esc(const char *s, char *out, size_t size) {
    size_t k = 0;
    for (; *s && k + 3 < size; s++) {
        if (*s == '"' || *s == '\\') out[k++] = '\\';
        out[k++] = *s;
    }
    out[k] = 0;
}

static void ck_titles(int fmt, const blob *out, void *ud) {
    (void)ud;
    if (fmt == OCTAVO_FORMAT_HTML) {
        xmlDocPtr x = html_parse(out);
        char *t = elem_text(x, "title"), *h = elem_text(x, "h2");
        CHECK_STR(t, HT);
        CHECKF(h && !strncmp(h, HH, strlen(HH)), "h2: %s", h); /* then its anchor "#" */
        xmlNodePtr head = x ? find_elem(xmlDocGetRootElement(x), "head") : NULL;
        CHECK(head && !find_elem(head->children, "b") && !find_elem(head->children, "script"));
        free(t);
        free(h);
        xmlFreeDoc(x);
    } else if (fmt == OCTAVO_FORMAT_EPUB) {
        blob opf = epub_get(out, ".opf"), ncx = epub_get(out, ".ncx"), nav = epub_get(out, "nav.xhtml");
        xmlDocPtr o = opf.p ? xml_parse(opf.p, opf.n) : NULL, n = ncx.p ? xml_parse(ncx.p, ncx.n) : NULL,
                  v = nav.p ? xml_parse(nav.p, nav.n) : NULL;
        CHECK(o && n && v);
        char *ot = elem_text(o, "title"), *oc = elem_text(o, "creator"), *nt = elem_text(n, "docTitle");
        CHECK_STR(ot, HT);
        CHECK_STR(oc, "A & <B> ]]> \\ )");
        CHECK_STR(nt, HT);
        /* the nav lists the heading with its text intact */
        CHECK(v && nav.p && (strstr(nav.p, "H &lt;x&gt; &amp; ]]&gt; ) \\ ( \"q\"") ||
                             strstr(nav.p, "H &lt;x&gt; &amp; ]]&gt; ) \\ ( &quot;q&quot;")));
        free(ot); free(oc); free(nt);
        xmlFreeDoc(o); xmlFreeDoc(n); xmlFreeDoc(v);
        free(opf.p); free(ncx.p); free(nav.p);
        xhtml_ud u = {0, 0};
        epub_each(out, xhtml_cb, &u); /* every XHTML part well-formed */
        CHECK_INT(u.bad, 0);
    } else {
        static int have_info = -1, have_qpdf = -1;
        if (have_info < 0) have_info = h_have("pdfinfo");
        if (have_qpdf < 0) have_qpdf = h_have("qpdf");
        if (have_info) {
            blob i = pdf_tool(out, "pdfinfo -enc UTF-8");
            CHECKF(i.p && strstr(i.p, "Title:           " HT "\n"), "pdfinfo: %s", i.p ? i.p : "(none)");
            CHECKF(i.p && strstr(i.p, "Author:          A & <B> ]]> \\ )\n"), "pdfinfo: %s", i.p ? i.p : "(none)");
            free(i.p);
        }
        if (have_qpdf) {
            blob j = pdf_tool(out, "qpdf --json --json-key=outlines");
            char want[256], w2[300];
            json_esc(HH, want, sizeof want);
            snprintf(w2, sizeof w2, "\"title\": \"%s\"", want);
            CHECKF(j.p && strstr(j.p, w2), "outline lacks %s", w2);
            free(j.p);
        }
        blob t = pdf_text(out);
        if (t.p) CHECK(h_has(t.p, t.n, "H <x> & ]]> ) \\ ( \"q\""));
        free(t.p);
    }
}

typedef struct { int bad; } names_ud;
static void names_cb(const char *name, const char *data, size_t len, void *ud) {
    (void)data; (void)len;
    names_ud *u = ud;
    int ok = name[0] && name[0] != '/' && !strstr(name, "..");
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("._-/", *c)))
            ok = 0;
    if (!ok) { u->bad++; fprintf(stderr, "  zip entry name \"%s\"\n", name); }
}

TEST(titles) {
    expect_renders("hostile title, author, heading", OV, HOSTILE_DOC, ck_titles, NULL);
    /* a book of two documents with hostile names and titles: zip names stay plain */
    t_name = "book with hostile names";
    cases++;
    octavo_book *b = octavo_book_new(OV);
    octavo_error e;
    CHECK_INT(octavo_book_add(b, load_ok(OV, "../we<i>rd & \"x\" ]]>.md", HOSTILE_DOC, strlen(HOSTILE_DOC)), &e), OCTAVO_OK);
    CHECK_INT(octavo_book_add(b, load_ok(OV, "/abs/../../b\\c:d?.md", "# )\\ ]]> <&>\n\nx\n", 16), &e), OCTAVO_OK);
    CHECK_INT(octavo_book_set(b, "title", HT), OCTAVO_OK);
    CHECK_INT(octavo_book_set(b, "author", "A & <B> ]]> \\ )"), OCTAVO_OK);
    CHECK_INT(octavo_book_set(b, "identifier", "urn:x:<&>]]>"), OCTAVO_OK);
    blob out;
    CHECK_INT(octavo_book_render_buffer(b, OCTAVO_FORMAT_EPUB, &out.p, &out.n, &e), OCTAVO_OK);
    if (out.p) {
        names_ud u = {0};
        CHECK(epub_each(&out, names_cb, &u) >= 5);
        CHECK_INT(u.bad, 0);
        ck_titles(OCTAVO_FORMAT_EPUB, &out, NULL);
        blob opf = epub_get(&out, ".opf");
        xmlDocPtr o = opf.p ? xml_parse(opf.p, opf.n) : NULL;
        char *id = elem_text(o, "identifier");
        CHECK_STR(id, "urn:x:<&>]]>");
        free(id);
        xmlFreeDoc(o);
        free(opf.p);
    }
    octavo_buffer_free(out.p);
    CHECK_INT(octavo_book_render_buffer(b, OCTAVO_FORMAT_PDF, &out.p, &out.n, &e), OCTAVO_OK);
    if (out.p) ck_titles(OCTAVO_FORMAT_PDF, &out, NULL);
    octavo_buffer_free(out.p);
    octavo_book_free(b);
}

/* ---- 7. output failures */
typedef struct { size_t allow, seen; int calls; } failing;
static int fail_after(void *ud, const void *p, size_t n) {
    (void)p;
    failing *f = ud;
    f->calls++;
    if (f->seen + n > f->allow) return 1;
    f->seen += n;
    return 0;
}
static int count_write(void *ud, const void *p, size_t n) { (void)p; *(size_t *)ud += n; return 0; }

static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))) n++;
    if (d) closedir(d);
    return n;
}

TEST(write_failures) {
    octavo_doc *d = load_ok(OV, "w.md", HOSTILE_DOC, strlen(HOSTILE_DOC));
    if (!d) return;
    octavo_error e;
    for (int f = 0; f < 3; f++) {
        size_t total = 0;
        CHECK_INT(octavo_render(d, (octavo_format)f, count_write, &total, &e), OCTAVO_OK);
        size_t at[3] = {0, 1, total / 2};
        for (int k = 0; k < 3; k++) {
            char label[64];
            snprintf(label, sizeof label, "%s: the write callback fails after %zu bytes", FMT[f], at[k]);
            t_name = label;
            cases++;
            failing fl = {at[k], 0, 0};
            int rc = octavo_render(d, (octavo_format)f, fail_after, &fl, &e);
            CHECKF(rc == OCTAVO_E_WRITE, "got %d %s", rc, e.message);
            CHECK_INT(e.code, OCTAVO_E_WRITE);
            CHECK(fl.seen <= at[k]);
        }
    }
    /* files: a missing folder, a folder as the path, a file that cannot grow (RLIMIT_FSIZE: a
     * full disk), and the output limit; a good file already there stays as it was, and no
     * temporary file is left */
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/out", T);
    mkdir(dir, 0755);
    for (int f = 0; f < 3; f++) {
        snprintf(path, sizeof path, "%s/none/x.%s", T, FMT[f]);
        t_name = "render_file into a missing folder";
        cases++;
        CHECK_INT(octavo_render_file(d, (octavo_format)f, path, &e), OCTAVO_E_WRITE);
        t_name = "render_file onto a folder";
        cases++;
        CHECK_INT(octavo_render_file(d, (octavo_format)f, dir, &e), OCTAVO_E_WRITE);
        struct stat st;
        CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));

        snprintf(path, sizeof path, "%s/good.%s", dir, FMT[f]);
        h_write(path, "GOOD", 4);
        t_name = "render_file onto a full disk";
        cases++;
        struct rlimit old, small = {2048, 2048};
        getrlimit(RLIMIT_FSIZE, &old);
        small.rlim_max = old.rlim_max;
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &small);
        /* a document large enough in every format to pass 2048 bytes */
        char *big = repeat("Some words of text that fill the page. ", 400, "\n");
        octavo_doc *bd = load_ok(OV, "big.md", big, strlen(big));
        int rc = bd ? octavo_render_file(bd, (octavo_format)f, path, &e) : -1;
        setrlimit(RLIMIT_FSIZE, &old);
        signal(SIGXFSZ, prev);
        CHECKF(rc == OCTAVO_E_WRITE, "%s: got %d %s", FMT[f], rc, e.message);
        blob g = h_read(path);
        CHECK(g.n == 4 && !memcmp(g.p, "GOOD", 4));
        free(g.p);
        CHECKF(dir_entries(dir) == f + 1, "%s: %d entries in the folder", FMT[f], dir_entries(dir));

        t_name = "render_file past limit.output_bytes";
        cases++;
        octavo_limits L = {.output_bytes = 1000};
        octavo *lim = h_handle(0, &L);
        octavo_doc *ld = load_ok(lim, "big.md", big, strlen(big));
        rc = ld ? octavo_render_file(ld, (octavo_format)f, path, &e) : -1;
        CHECKF(rc == OCTAVO_E_LIMIT, "%s: got %d %s", FMT[f], rc, e.message);
        CHECK(strstr(e.message, "limit.output_bytes (1000)") != NULL);
        g = h_read(path);
        CHECK(g.n == 4 && !memcmp(g.p, "GOOD", 4));
        free(g.p);
        CHECK_INT(dir_entries(dir), f + 1);
        /* and the good render replaces it */
        if (bd) CHECK_INT(octavo_render_file(bd, (octavo_format)f, path, &e), OCTAVO_OK);
        g = h_read(path);
        CHECK(g.n > 2048);
        free(g.p);
        octavo_doc_free(ld);
        octavo_free(lim);
        octavo_doc_free(bd);
        free(big);
    }
    /* the page limit */
    {
        t_name = "PDF past limit.pages";
        cases++;
        octavo_limits L = {.pages = 2};
        octavo *lim = h_handle(0, &L);
        char *big = repeat("Some words of text that fill the page.\n\n", 400, "\n");
        octavo_doc *ld = load_ok(lim, "big.md", big, strlen(big));
        blob out;
        int rc = ld ? rendered(ld, OCTAVO_FORMAT_PDF, &out, &e) : -1;
        CHECKF(rc == OCTAVO_E_LIMIT, "got %d %s", rc, e.message);
        CHECK(strstr(e.message, "limit.pages") != NULL);
        CHECK(out.p == NULL);
        octavo_doc_free(ld);
        octavo_free(lim);
        free(big);
    }
    octavo_doc_free(d);
}

/* ---- 8. the streaming loader fed one byte at a time gives the same document */
TEST(byte_at_a_time) {
    static const char *const srcs[] = {HOSTILE_DOC, XSS, "\xEF\xBB\xBF---\r\ntitle: CRLF \xC3\xA9\r\n---\r\n# H\r\n\r\nText\r\n"};
    for (size_t k = 0; k < 3; k++) {
        t_name = "the loader fed one byte at a time";
        cases++;
        octavo_loader *ld = octavo_loader_new(OV, "case.md");
        octavo_error e;
        int rc = OCTAVO_OK;
        for (size_t i = 0; srcs[k][i] && rc == OCTAVO_OK; i++) rc = octavo_loader_feed(ld, srcs[k] + i, 1, &e);
        CHECK_INT(rc, OCTAVO_OK);
        octavo_doc *a = NULL, *b = load_ok(OV, "case.md", srcs[k], strlen(srcs[k]));
        CHECK_INT(octavo_loader_finish(ld, &a, &e), OCTAVO_OK);
        blob ha = {0, 0}, hb = {0, 0};
        if (a && b) {
            CHECK_STR(octavo_doc_title(a), octavo_doc_title(b));
            CHECK_INT(rendered(a, OCTAVO_FORMAT_HTML, &ha, &e), OCTAVO_OK);
            CHECK_INT(rendered(b, OCTAVO_FORMAT_HTML, &hb, &e), OCTAVO_OK);
            CHECK(ha.n == hb.n && ha.n && !memcmp(ha.p, hb.p, ha.n));
        }
        octavo_buffer_free(ha.p);
        octavo_buffer_free(hb.p);
        octavo_doc_free(a);
        octavo_doc_free(b);
    }
    /* a byte past limit.input_bytes refuses the feed, and the finish says so */
    t_name = "the loader fed past input_bytes";
    cases++;
    octavo_limits L = {.input_bytes = 64};
    octavo *small = h_handle(0, &L);
    octavo_loader *ld = octavo_loader_new(small, "big.md");
    octavo_error e;
    int rc = OCTAVO_OK;
    size_t fed = 0;
    for (; fed < 100 && rc == OCTAVO_OK; fed++) rc = octavo_loader_feed(ld, "x", 1, &e);
    CHECK_INT(rc, OCTAVO_E_LIMIT);
    CHECK_INT(fed, 65);
    CHECK(strstr(e.message, "limit.input_bytes (64)") != NULL);
    octavo_doc *d = (octavo_doc *)1;
    CHECK_INT(octavo_loader_finish(ld, &d, &e), OCTAVO_E_LIMIT);
    CHECK(d == NULL);
    octavo_free(small);
}

int main(void) {
    xmlInitParser();
    h_setup();
    OV = h_handle(0, NULL);
    OVT = h_handle(OCTAVO_TRUSTED, NULL);
    RUN(bad_sources);
    RUN(limits);
    RUN(bad_images);
    RUN(escapes);
    RUN(untrusted);
    RUN(titles);
    RUN(write_failures);
    RUN(byte_at_a_time);
    t_name = "battery size";
    printf("test_hostile: %d cases\n", cases);
    CHECKF(cases >= 50, "%d cases", cases);
    octavo_free(OV);
    octavo_free(OVT);
    h_teardown();
    xmlCleanupParser();
    return t_done();
}
