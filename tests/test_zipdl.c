/* libzip is loaded only when an EPUB is written (lib/zipdl.c):
 *  - the CLI does not load it for HTML or PDF output, and does for EPUB (LD_DEBUG=files lists
 *    every library the dynamic loader opens);
 *  - when it cannot be loaded, writing an EPUB fails with OCTAVO_E_ZIP naming libzip, leaves no
 *    file behind, and the same handle still writes HTML. (In a child process: the library loads
 *    libzip once per process.) */
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"
#include "testhooks.h"

static const char *build_dir(void) {
    const char *b = getenv("B");
    return b && *b ? b : "build";
}

static const char DOC[] = "---\ntitle: Zip\ndate: 2024-05-01\n---\n# Zip\n\nSome text.\n";

/* Runs the CLI on a small document with LD_DEBUG=files; 1 when libzip was opened, 0 when not,
 * -1 when the conversion failed. */
static int cli_loads_libzip(const char *dir, const char *ext) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "LD_DEBUG=files %s/octavo convert %s/z.md -o %s/z.%s -q 2>%s/ld.txt", build_dir(), dir,
             dir, ext, dir);
    if (system(cmd) != 0) return -1;
    snprintf(cmd, sizeof cmd, "grep -q 'file=libzip' %s/ld.txt", dir);
    return system(cmd) == 0;
}

TEST(cli_loads_libzip_for_epub_only) {
    char dir[] = "/tmp/octavo-zipdl-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/z.md", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(DOC, f);
    fclose(f);
    CHECK_INT(cli_loads_libzip(dir, "html"), 0);
    CHECK_INT(cli_loads_libzip(dir, "pdf"), 0);
    CHECK_INT(cli_loads_libzip(dir, "epub"), 1);
    t_rm_rf(dir);
    CHECK(access(dir, F_OK) != 0);
}

/* in the child: 0 when every expectation held, else the number of the one that failed */
static int child_without_libzip(const char *dir, int unused) {
    (void)unused;
    ov_test_zip_soname = "libzip-not-installed.so.99";
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    octavo_error e;
    octavo *ov = octavo_new(&o, &e);
    if (!ov) return 1;
    octavo_doc *d = NULL;
    if (octavo_doc_load(ov, "z.md", DOC, sizeof DOC - 1, &d, &e)) return 2;
    char out[256];
    snprintf(out, sizeof out, "%s/z.epub", dir);
    int rc = octavo_render_file(d, OCTAVO_FORMAT_EPUB, out, &e);
    if (rc != OCTAVO_E_ZIP || e.code != OCTAVO_E_ZIP) return 3;
    if (!strstr(e.message, "libzip") || !strstr(e.message, "libzip-not-installed.so.99")) return 4;
    struct stat st;
    if (stat(out, &st) == 0) return 5; /* no half-written file */
    /* a second try fails the same way, without crashing */
    if (octavo_render_file(d, OCTAVO_FORMAT_EPUB, out, &e) != OCTAVO_E_ZIP) return 6;
    snprintf(out, sizeof out, "%s/z.html", dir);
    if (octavo_render_file(d, OCTAVO_FORMAT_HTML, out, &e) != OCTAVO_OK) return 7;
    if (stat(out, &st) != 0 || st.st_size == 0) return 8;
    octavo_doc_free(d);
    octavo_free(ov);
    return 0;
}

TEST(missing_libzip_is_an_error) {
    char dir[] = "/tmp/octavo-zipdl-XXXXXX";
    t_in_child(dir, child_without_libzip, 0, "libzip");
}

int main(void) {
    RUN(cli_loads_libzip_for_epub_only);
    RUN(missing_libzip_is_an_error);
    return t_done();
}
