/* HarfBuzz, its subsetter and libharu are loaded only when a PDF needs them (lib/pdfdl.c):
 *  - the CLI loads none of them for HTML or EPUB output, all three for a PDF with a cold cache,
 *    and no subsetter when the font subsets come from the cache (LD_DEBUG=files lists every
 *    library the dynamic loader opens); neither the shared library nor the CLI links them;
 *  - PDF output and the font functions work when the libraries are loaded this way;
 *  - when one cannot be loaded, a PDF fails with OCTAVO_E_PDF naming the library and its Debian
 *    package, leaves no file behind, leaks nothing (the children exit through exit(), so the
 *    sanitizer build checks for leaks), and the same handle still writes HTML. (In child
 *    processes: the library loads each of them once per process.) */
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"
#include "layout.h"
#include "pdfdl.h"
#include "testhooks.h"

static const char *build_dir(void) {
    const char *b = getenv("B");
    return b && *b ? b : "build";
}

static const char DOC[] = "---\ntitle: Lazy\ndate: 2024-05-01\n---\n# Lazy\n\nSome text.\n";

static int contains(const char *p, size_t n, const char *s) {
    size_t k = strlen(s);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(p + i, s, k)) return 1;
    return 0;
}

/* 1 when the command's output names the file (grep -q), 0 when not, -1 when the command failed */
static int run_and_grep(const char *cmd, const char *log, const char *needle) {
    if (system(cmd) != 0) return -1;
    char g[1024];
    snprintf(g, sizeof g, "grep -q '%s' %s", needle, log);
    return system(g) == 0;
}

/* Runs the CLI on z.md with LD_DEBUG=files and the cache in dir/cache; the libraries it opened go
 * to dir/ld.txt. */
static int cli(const char *dir, const char *ext) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "XDG_CACHE_HOME=%s/cache LD_DEBUG=files %s/octavo convert %s/z.md -o %s/z.%s -q 2>%s/ld.txt", dir,
             build_dir(), dir, dir, ext, dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int opened(const char *dir, const char *lib) {
    char log[300];
    snprintf(log, sizeof log, "%s/ld.txt", dir);
    return run_and_grep("true", log, lib);
}

TEST(cli_loads_pdf_libraries_for_pdf_only) {
    char dir[] = "/tmp/octavo-pdfdl-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/z.md", dir);
    t_write_under(dir, "z.md", DOC, sizeof DOC - 1);
    const char *libs[] = { "file=libharfbuzz.so", "file=libharfbuzz-subset.so", "file=libhpdf", "file=libglib" };
    CHECK_INT(cli(dir, "html"), 0);
    for (int i = 0; i < 4; i++) CHECKF(opened(dir, libs[i]) == 0, "HTML opened %s", libs[i]);
    CHECK_INT(cli(dir, "epub"), 0);
    for (int i = 0; i < 4; i++) CHECKF(opened(dir, libs[i]) == 0, "EPUB opened %s", libs[i]);
    /* a cold cache: every font subset is made */
    CHECK_INT(cli(dir, "pdf"), 0);
    for (int i = 0; i < 3; i++) CHECKF(opened(dir, libs[i]) == 1, "a cold PDF did not open %s", libs[i]);
    /* warm: the subsets come from the cache, the subsetter is not loaded */
    CHECK_INT(cli(dir, "pdf"), 0);
    CHECK_INT(opened(dir, "file=libharfbuzz.so"), 1);
    CHECK_INT(opened(dir, "file=libhpdf"), 1);
    CHECK_INT(opened(dir, "file=libharfbuzz-subset.so"), 0);
    /* nothing links them */
    char cmd[1024], log[300];
    snprintf(log, sizeof log, "%s/needed.txt", dir);
    snprintf(cmd, sizeof cmd, "(readelf -d %s/liboctavo.so; readelf -d %s/octavo) > %s 2>&1", build_dir(), build_dir(), log);
    CHECK_INT(run_and_grep(cmd, log, "NEEDED"), 1);
    const char *not_needed[] = { "harfbuzz", "hpdf", "glib", "graphite2", "freetype" };
    for (int i = 0; i < 5; i++) CHECKF(run_and_grep("true", log, not_needed[i]) == 0, "%s is linked", not_needed[i]);
    t_rm_rf(dir);
}

static int pdf_write(void *ud, const void *p, size_t n) { return ov_buf_put(ud, p, n); }

TEST(pdf_and_fonts_work_loaded_lazily) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.flags |= OCTAVO_NO_CACHE; /* every font subset made: the subsetter is used */
    octavo_error e;
    octavo *ov = octavo_new(&o, &e);
    CHECK(ov != NULL);
    if (!ov) return;
    octavo_doc *d = NULL;
    CHECK_INT(octavo_doc_load(ov, "z.md", DOC, sizeof DOC - 1, &d, &e), OCTAVO_OK);
    ov_buf b;
    ov_buf_init(&b);
    CHECK_INT(octavo_render_pdf(d, pdf_write, &b, &e), OCTAVO_OK);
    CHECK(b.len > 1000 && memcmp(b.data, "%PDF-", 5) == 0);
    CHECK(b.len > 7 && contains(b.data + b.len - 7, 7, "%%EOF"));
    CHECK(contains(b.data, b.len, "/FontFile2")); /* a subset was embedded */
    CHECK_INT(octavo_doc_pdf_pages(d), 1);
    ov_buf_free(&b);
    /* the font functions, as the layout and the tests call them */
    const ov_fonts *f = NULL;
    CHECK_INT(ov_fonts_get(&f, &e), OCTAVO_OK);
    CHECK(f && ov_font_has(f, 0, 'A') && ov_font_advance(f, 0, 'A') > 0);
    /* all three, and every function of them */
    CHECK_INT(ov_pdf_load(&e), OCTAVO_OK);
#define NONNULL(name) CHECKF(ov_p_##name != NULL, "%s not loaded", #name);
    OV_HB_FUNCS(NONNULL)
    OV_HB_SUBSET_FUNCS(NONNULL)
    OV_HPDF_FUNCS(NONNULL)
#undef NONNULL
    octavo_doc_free(d);
    octavo_free(ov);
}

static int dir_is_empty(const char *dir) {
    DIR *dp = opendir(dir);
    if (!dp) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(dp);
    return n == 0;
}

/* In the child, with one library replaced by a soname that is not installed: 0 when every
 * expectation held, else the number of the one that failed. */
static int child_without(const char *dir, int lib) {
    const char *missing = "liboctavo-test-not-installed.so.99";
    const char *package = lib == 0 ? "libharfbuzz0b" : lib == 1 ? "libharfbuzz-subset0" : "libhpdf-2.3.0";
    if (lib == 0) ov_test_hb_soname = missing;
    else if (lib == 1) ov_test_hb_subset_soname = missing;
    else ov_test_hpdf_soname = missing;
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.flags |= OCTAVO_NO_CACHE; /* so the subsetter is needed */
    octavo_error e;
    octavo *ov = octavo_new(&o, &e);
    if (!ov) return 1;
    octavo_doc *d = NULL;
    if (octavo_doc_load(ov, "z.md", DOC, sizeof DOC - 1, &d, &e)) return 2;
    char out[256];
    snprintf(out, sizeof out, "%s/z.pdf", dir);
    for (int k = 0; k < 2; k++) { /* a second try fails the same way */
        memset(&e, 0, sizeof e);
        int rc = octavo_render_file(d, OCTAVO_FORMAT_PDF, out, &e);
        if (rc != OCTAVO_E_PDF || e.code != OCTAVO_E_PDF || e.stage != OCTAVO_STAGE_PDF) return 3;
        if (!strstr(e.message, package) || !strstr(e.message, missing)) {
            fprintf(stderr, "message: %s\n", e.message);
            return 4;
        }
        if (!dir_is_empty(dir)) return 5; /* no half-written file, no temporary left */
    }
    if (lib == 0) { /* the font functions' way in reports it too */
        const ov_fonts *f = (const ov_fonts *)1;
        memset(&e, 0, sizeof e);
        if (ov_fonts_get(&f, &e) != OCTAVO_E_PDF || f != NULL || !strstr(e.message, package)) return 6;
    }
    /* a book as well (it owns the document added) */
    octavo_doc *d2 = NULL;
    octavo_book *bk = octavo_book_new(ov);
    if (!bk || octavo_doc_load(ov, "z2.md", DOC, sizeof DOC - 1, &d2, &e) || octavo_book_add(bk, d2, &e)) return 7;
    if (octavo_book_render_file(bk, OCTAVO_FORMAT_PDF, out, &e) != OCTAVO_E_PDF || !dir_is_empty(dir)) return 8;
    octavo_book_free(bk);
    snprintf(out, sizeof out, "%s/z.html", dir);
    if (octavo_render_file(d, OCTAVO_FORMAT_HTML, out, &e) != OCTAVO_OK) return 9;
    struct stat st;
    if (stat(out, &st) != 0 || st.st_size == 0) return 10;
    octavo_doc_free(d);
    octavo_free(ov);
    return 0;
}

static void missing(int lib) {
    char dir[] = "/tmp/octavo-pdfdl-XXXXXX", what[32];
    snprintf(what, sizeof what, "library %d", lib);
    t_in_child(dir, child_without, lib, what);
}

TEST(missing_harfbuzz_is_an_error) { missing(0); }
TEST(missing_subsetter_is_an_error) { missing(1); }
TEST(missing_libharu_is_an_error) { missing(2); }

int main(void) {
    RUN(cli_loads_pdf_libraries_for_pdf_only);
    RUN(missing_harfbuzz_is_an_error);
    RUN(missing_subsetter_is_an_error);
    RUN(missing_libharu_is_an_error);
    RUN(pdf_and_fonts_work_loaded_lazily);
    return t_done();
}
