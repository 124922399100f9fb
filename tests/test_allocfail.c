/* Allocation-failure injection (the expat/sqlite technique): for loading, each renderer and a
 * book of two documents, the n-th allocation made through ov_malloc & co fails (and every one
 * after it), for n = 0, 1, 2, ... until a run completes. Each run must return OCTAVO_E_NOMEM or
 * succeed (a failed allocation may only cost an optional part: an image, a cache entry), never
 * crash; the sanitizer build (make SAN=1 check, LeakSanitizer on) checks that nothing leaks.
 *
 * Third-party libraries (cmark-gfm, libyaml, libxml2, libharu, libzip, HarfBuzz, FreeType and the
 * image codecs) allocate with malloc directly: their own allocations are not injected here. */
#include "hostile_util.h"
#include "testhooks.h"

/* Strided sweeps for the long runs unless OCTAVO_ALLOCFAIL_FULL=1: every failure point up to
 * FULL_UPTO, then about MAX_RUNS points spread over the rest (plus the last ones). */
#define FULL_UPTO 400
#define MAX_RUNS 400

static octavo *OV;
static long LAST_COUNT; /* allocations the last op made under injection */
static octavo_error LAST_ERR;
static const char DOC[] =
    "---\n"
    "title: \"Alloc <&> test\"\n"
    "author: [A, B]\n"
    "date: 2022-01-26\n"
    "tags: &t [x, y]\n"
    "again: *t\n"
    "---\n"
    "Intro with **bold**, `code`, a [link](https://example.org/) and a footnote[^1].\n\n"
    "## Section one\n\n"
    "- item\n- [ ] task\n  1. nested\n\n"
    "> quote\n\n"
    "| a | b |\n|---|:-:|\n| 1 | 2 |\n\n"
    "![png](img/ok.png) ![webp](img/ok.webp) ![jpeg](img/ok.jpg) ![missing](img/none.png)\n\n"
    "```c\nint x;\n```\n\n"
    "<div class=\"x\"><em>raw</em> html</div>\n\n"
    "### Deeper ~~strike~~ www.example.org\n\n"
    "Text that goes on for a while so that the paragraph breaks into lines and hyphenation runs.\n\n"
    "[^1]: The note.\n";
static const char DOC2[] = "---\ntitle: Second\ndate: 2021-05-01\n---\n# Two\n\nSecond *document*.\n\n![jpeg](img/ok.jpg)\n";

typedef int (*op_fn)(long fail_at);

static octavo_doc *load_plain(const char *name, const char *src) {
    octavo_doc *d = NULL;
    octavo_error e;
    if (octavo_doc_load(OV, name, src, strlen(src), &d, &e)) fprintf(stderr, "load: %s\n", e.message);
    return d;
}

static int op_load(long fail_at) {
    octavo_doc *d = NULL;
    octavo_error e;
    ov_test_alloc_fail_after(fail_at);
    int rc = octavo_doc_load(OV, "a.md", DOC, strlen(DOC), &d, &e);
    if (!rc) {
        (void)octavo_doc_summary(d, 40);
        (void)octavo_doc_title(d);
    }
    LAST_COUNT = ov_test_alloc_count();
    LAST_ERR = e;
    ov_test_alloc_fail_after(-1);
    if (rc) CHECKF(d == NULL, "a failed load left a document");
    octavo_doc_free(d);
    return rc;
}

static int render_one(int fmt, long fail_at) {
    octavo_doc *d = load_plain("a.md", DOC);
    if (!d) return OCTAVO_E_INTERNAL;
    char *out = NULL;
    size_t len = 0;
    octavo_error e;
    ov_test_alloc_fail_after(fail_at);
    int rc = octavo_render_buffer(d, (octavo_format)fmt, &out, &len, &e);
    LAST_COUNT = ov_test_alloc_count();
    LAST_ERR = e;
    ov_test_alloc_fail_after(-1);
    if (rc) CHECKF(out == NULL, "a failed render left a buffer");
    else CHECK(out && len > 0);
    octavo_buffer_free(out);
    octavo_doc_free(d);
    return rc;
}
static int op_html(long n) { return render_one(OCTAVO_FORMAT_HTML, n); }
static int op_epub(long n) { return render_one(OCTAVO_FORMAT_EPUB, n); }
static int op_pdf(long n) { return render_one(OCTAVO_FORMAT_PDF, n); }

static int render_book(int fmt, long fail_at) {
    octavo_doc *a = load_plain("a.md", DOC), *b = load_plain("b.md", DOC2);
    if (!a || !b) { octavo_doc_free(a); octavo_doc_free(b); return OCTAVO_E_INTERNAL; }
    octavo_error e;
    ov_test_alloc_fail_after(fail_at);
    octavo_book *bk = octavo_book_new(OV);
    int rc = bk ? OCTAVO_OK : OCTAVO_E_NOMEM;
    if (!rc) rc = octavo_book_add(bk, a, &e);
    else octavo_doc_free(a);
    if (bk) {
        int r2 = octavo_book_add(bk, b, &e);
        if (!rc) rc = r2;
    } else octavo_doc_free(b);
    if (!rc) rc = octavo_book_set(bk, "title", "The <book>");
    if (!rc) rc = octavo_book_set(bk, "author", "Me & you");
    if (!rc) rc = octavo_book_set(bk, "cover", "img/ok.png");
    if (!rc) rc = octavo_book_order(bk, OCTAVO_ORDER_DATE);
    char *out = NULL;
    size_t len = 0;
    if (!rc) rc = octavo_book_render_buffer(bk, (octavo_format)fmt, &out, &len, &e);
    LAST_COUNT = ov_test_alloc_count();
    LAST_ERR = e;
    ov_test_alloc_fail_after(-1);
    if (rc) CHECKF(out == NULL, "a failed render left a buffer");
    octavo_buffer_free(out);
    octavo_book_free(bk);
    return rc;
}
static int op_book_epub(long n) { return render_book(OCTAVO_FORMAT_EPUB, n); }
static int op_book_pdf(long n) { return render_book(OCTAVO_FORMAT_PDF, n); }

/* Runs op with no failure to count its allocations, then with each one failing in turn. */
static void sweep(const char *label, op_fn op) {
    t_name = label;
    ov_test_alloc_fail_after(-1);
    CHECK_INT(op(-1), OCTAVO_OK);
    long total = LAST_COUNT;
    const char *full = getenv("OCTAVO_ALLOCFAIL_FULL");
    long step = 1;
    if (!(full && *full == '1') && total > FULL_UPTO + MAX_RUNS) step = (total - FULL_UPTO) / MAX_RUNS + 1;
    long runs = 0, nomem = 0, ok = 0, other = 0;
    /* a run may allocate a little more than the counting one (an output buffer grows with the
     * output, whose zip dates vary): go a few past the count */
    for (long n = 0; n <= total + 4; n += (n < FULL_UPTO || n + 20 > total) ? 1 : step) {
        NDIAG = 0;
        int rc = op(n);
        runs++;
        if (rc == OCTAVO_OK) ok++;
        else if (rc == OCTAVO_E_NOMEM) nomem++;
        else {
            other++;
            if (other <= 5) fprintf(stderr, "  %s: allocation %ld failed: code %d: %s\n", label, n, rc, LAST_ERR.message);
        }
    }
    CHECK_INT(other, 0);
    CHECK(nomem > 0);
    CHECK(ok > 0); /* the runs past the last allocation succeed */
    printf("%s: %ld allocations, %ld runs (%ld OCTAVO_E_NOMEM, %ld completed)\n", label, total, runs, nomem, ok);
}

int main(void) {
    xmlInitParser();
    h_setup();
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.flags = OCTAVO_NO_CACHE | OCTAVO_TOC;
    o.resource_root = ROOT;
    o.diag = h_on_diag;
    octavo_error e;
    OV = octavo_new(&o, &e);
    /* octavo_new itself */
    t_name = "octavo_new";
    for (long n = 0; n < 100; n++) {
        ov_test_alloc_fail_after(n);
        octavo *ov = octavo_new(&o, &e);
        ov_test_alloc_fail_after(-1);
        if (ov) { octavo_free(ov); break; }
        CHECK_INT(e.code, OCTAVO_E_NOMEM);
    }
    sweep("load", op_load);
    sweep("html", op_html);
    sweep("epub", op_epub);
    sweep("pdf", op_pdf);
    sweep("book epub", op_book_epub);
    sweep("book pdf", op_book_pdf);
    octavo_free(OV);
    h_teardown();
    xmlCleanupParser();
    return t_done();
}
