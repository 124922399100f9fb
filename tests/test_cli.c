/* The command-line tool, run as a user runs it: help and version, the collateral of the bundled
 * example site, --jobs giving the same bytes, incremental rebuilds, a malformed document among
 * good ones, configuration errors with positions, and silence in a pipe. Runs $B/octavo (make
 * check sets B) from the source tree's root. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static char octavo_bin[4096];
static char tmp[] = "/tmp/octavo-cli-XXXXXX";

/* Runs a shell command; stdout and stderr go to files; returns the exit status (or 128+signal). */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st == -1) return -1;
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

/* Runs octavo with args; its stderr is kept in TMP/err, stdout in TMP/out. */
static int run(const char *args) {
    return sh("%s %s >%s/out 2>%s/err", octavo_bin, args, tmp, tmp);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = 0;
    fclose(f);
    return b;
}

static char *err_text(void) {
    char p[4200];
    snprintf(p, sizeof p, "%s/err", tmp);
    return slurp(p);
}

static int exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int exists(const char *fmt, ...) {
    char p[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof p, fmt, ap);
    va_end(ap);
    struct stat st;
    return stat(p, &st) == 0 && st.st_size > 0;
}

/* Counts files under dir whose name ends with ext. */
static int count_ext(const char *dir, const char *ext) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st)) continue;
        if (S_ISDIR(st.st_mode)) n += count_ext(p, ext);
        else {
            size_t l = strlen(e->d_name), el = strlen(ext);
            if (l > el && !strcmp(e->d_name + l - el, ext)) n++;
        }
    }
    closedir(d);
    return n;
}

TEST(help_and_version) {
    CHECK_INT(run("--help"), 0);
    char p[4200];
    snprintf(p, sizeof p, "%s/out", tmp);
    char *out = slurp(p);
    CHECK(out && strstr(out, "site SITE_DIR"));
    free(out);
    CHECK_INT(run("--version"), 0);
    out = slurp(p);
    CHECK(out && !strncmp(out, "octavo ", 7));
    free(out);
    CHECK_INT(run("site --help"), 0);
    CHECK_INT(run("site"), 2);
    CHECK_INT(run("site examples/site"), 2); /* no -o */
    CHECK_INT(run("site examples/site -o /dev/null/x --bogus"), 2);
}

TEST(example_site) {
    char args[4400];
    snprintf(args, sizeof args, "site examples/site -o %s/j1 --jobs 1", tmp);
    CHECK_INT(run(args), 0);
    char *e = err_text();
    CHECKF(e && strstr(e, "4 documents, 4 built, 0 up to date, 0 failed"), "stderr: %s", e ? e : "");
    /* piped: no progress, no control codes */
    CHECK(e && !strchr(e, '\r') && !strchr(e, '\033'));
    free(e);
    CHECK(exists("%s/j1/pages/blog/introducing-tidewater-2.html", tmp));
    CHECK(exists("%s/j1/pages/blog/introducing-tidewater-2.pdf", tmp));
    CHECK(exists("%s/j1/pages/papers/durable-queues.pdf", tmp));
    CHECK(exists("%s/j1/pages/about.pdf", tmp));
    CHECK(exists("%s/j1/blog.epub", tmp));
    CHECK(exists("%s/j1/blog.pdf", tmp));
    CHECK(exists("%s/j1/index.html", tmp));
    CHECK(exists("%s/j1/downloads.html", tmp));
    CHECK(exists("%s/j1/.octavo-manifest", tmp));
    /* the cover named by the white paper's frontmatter is copied and shown */
    CHECK(exists("%s/j1/img/durable-queues-cover.png", tmp));
    char p[4200];
    snprintf(p, sizeof p, "%s/j1/downloads.html", tmp);
    char *dl = slurp(p);
    CHECK(dl && strstr(dl, "href=\"blog.epub\""));
    CHECK(dl && strstr(dl, "href=\"blog.pdf\""));
    CHECK(dl && strstr(dl, "href=\"pages/papers/durable-queues.pdf\""));
    CHECK(dl && strstr(dl, "href=\"pages/about.pdf\""));
    CHECK(dl && strstr(dl, "src=\"img/durable-queues-cover.png\""));
    CHECK(dl && strstr(dl, " bytes"));
    CHECK(dl && strstr(dl, "2 chapters"));
    CHECK(dl && strstr(dl, "</html>"));
    free(dl);
    snprintf(p, sizeof p, "%s/j1/index.html", tmp);
    char *ix = slurp(p);
    CHECK(ix && strstr(ix, "downloads.html"));
    free(ix);
    /* no temporaries left behind */
    CHECK_INT(sh("find %s/j1 -name '.*.[A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9]' | grep -q .", tmp), 1);

    /* the same bytes with two jobs */
    snprintf(args, sizeof args, "site examples/site -o %s/j2 --jobs 2", tmp);
    CHECK_INT(run(args), 0);
    CHECK_INT(sh("diff -r %s/j1 %s/j2 >/dev/null", tmp, tmp), 0);

    /* unchanged: nothing rebuilt */
    snprintf(args, sizeof args, "site examples/site -o %s/j1", tmp);
    CHECK_INT(run(args), 0);
    e = err_text();
    CHECKF(e && strstr(e, "4 documents, 0 built, 4 up to date, 0 failed, 0 warnings"), "stderr: %s", e ? e : "");
    free(e);
    /* --force rebuilds everything */
    snprintf(args, sizeof args, "site examples/site -o %s/j1 --force -q", tmp);
    CHECK_INT(run(args), 0);
    e = err_text();
    CHECKF(e && !*e, "quiet run printed: %s", e ? e : "");
    free(e);
    /* a missing output is rebuilt, alone */
    snprintf(p, sizeof p, "%s/j1/pages/about.pdf", tmp);
    unlink(p);
    snprintf(args, sizeof args, "site examples/site -o %s/j1 -v", tmp);
    CHECK_INT(run(args), 0);
    e = err_text();
    CHECKF(e && strstr(e, "4 documents, 1 built, 3 up to date"), "stderr: %s", e ? e : "");
    CHECK(e && strstr(e, "built pages/about.html, pages/about.pdf ("));
    free(e);
    CHECK(exists("%s/j1/pages/about.pdf", tmp));

    /* on a terminal (script(1) gives one), a progress display: done/total, redrawn with \r */
    if (sh("command -v script >/dev/null") == 0) {
        CHECK_INT(sh("script -qec '%s site examples/site -o %s/tty --force' /dev/null >%s/tty.log 2>&1", octavo_bin,
                     tmp, tmp),
                  0);
        char tp[4200];
        snprintf(tp, sizeof tp, "%s/tty.log", tmp);
        char *t = slurp(tp);
        CHECKF(t && strstr(t, "/6") && strchr(t, '\r'), "terminal output: %s", t ? t : "");
        CHECK(t && strstr(t, "4 documents, 4 built"));
        free(t);
    }
}

/* A copy of the example site to change. */
static void copy_site(const char *name) {
    sh("rm -rf %s/%s && cp -r examples/site %s/%s", tmp, name, tmp, name);
}

TEST(image_change_rebuilds_its_document) {
    copy_site("s1");
    char args[4400];
    snprintf(args, sizeof args, "site %s/s1 -o %s/o1", tmp, tmp);
    CHECK_INT(run(args), 0);
    /* an image only the case study names */
    sh("touch -d '2030-01-01' %s/s1/img/harbour.webp", tmp);
    CHECK_INT(run(args), 0);
    char *e = err_text();
    CHECKF(e && strstr(e, "4 documents, 1 built, 3 up to date"), "stderr: %s", e ? e : "");
    free(e);
    /* a new document: every page is redone (links), only its PDF is new */
    sh("printf -- '---\\ntitle: New\\n---\\nNew page.\\n' > %s/s1/pages/new.md", tmp);
    CHECK_INT(run(args), 0);
    CHECK(exists("%s/o1/pages/new.pdf", tmp));
    /* a document removed: its outputs go */
    sh("rm %s/s1/pages/new.md", tmp);
    CHECK_INT(run(args), 0);
    CHECK(!exists("%s/o1/pages/new.pdf", tmp));
    CHECK(!exists("%s/o1/pages/new.html", tmp));
}

TEST(malformed_document) {
    copy_site("s2");
    sh("printf -- '---\\ntitle: Broken\\ndate: 2024-01-01\\ntags: [a, b\\nauthor: x\\n---\\n\\nBody.\\n' > "
       "%s/s2/pages/blog/zz-broken.md",
       tmp);
    char args[4400];
    snprintf(args, sizeof args, "site %s/s2 -o %s/o2", tmp, tmp);
    CHECK_INT(run(args), 1);
    char *e = err_text();
    CHECKF(e && strstr(e, "zz-broken.md:") && strstr(e, ": error: "), "stderr: %s", e ? e : "");
    /* file:line:column */
    const char *at = e ? strstr(e, "zz-broken.md:") : NULL;
    unsigned line = 0, col = 0;
    CHECK(at && sscanf(at, "zz-broken.md:%u:%u: error:", &line, &col) == 2 && line >= 4 && col >= 1);
    CHECKF(e && strstr(e, "5 documents, 4 built, 0 up to date, 1 failed"), "stderr: %s", e ? e : "");
    free(e);
    char d[4200];
    snprintf(d, sizeof d, "%s/o2", tmp);
    CHECK_INT(count_ext(d, ".pdf"), 5); /* four documents and the blog */
    CHECK(exists("%s/o2/downloads.html", tmp));
    CHECK(!exists("%s/o2/pages/blog/zz-broken.pdf", tmp));
    /* still failing next time, the rest up to date */
    CHECK_INT(run(args), 1);
    e = err_text();
    CHECKF(e && strstr(e, "5 documents, 0 built, 4 up to date, 1 failed"), "stderr: %s", e ? e : "");
    free(e);
}

TEST(bad_encoding_is_a_warning) {
    /* Latin-1 bytes in a UTF-8 site: the page and PDF are still made, with U+FFFD, and warned */
    copy_site("s5");
    sh("printf -- '---\\ntitle: Caf\\351\\n---\\nCaf\\351 cr\\350me.\\n' > %s/s5/pages/latin1.md", tmp);
    char args[4400];
    snprintf(args, sizeof args, "site %s/s5 -o %s/o5", tmp, tmp);
    CHECK_INT(run(args), 0);
    char *e = err_text();
    CHECKF(e && strstr(e, "latin1.md:2:11: warning: ") && strstr(e, "U+FFFD"), "stderr: %s", e ? e : "");
    CHECKF(e && strstr(e, "5 documents, 5 built, 0 up to date, 0 failed"), "stderr: %s", e ? e : "");
    free(e);
    CHECK(exists("%s/o5/pages/latin1.html", tmp));
    CHECK(exists("%s/o5/pages/latin1.pdf", tmp));
}

TEST(configuration_errors) {
    copy_site("s3");
    char args[4400];
    snprintf(args, sizeof args, "site %s/s3 -o %s/o3", tmp, tmp);
    sh("printf 'title: X\\nbook:\\n  file: blog\\n  colour: blue\\n' > %s/s3/octavo.yaml", tmp);
    CHECK_INT(run(args), 2);
    char *e = err_text();
    CHECKF(e && strstr(e, "octavo.yaml:4:3: error: unknown key 'book.colour'"), "stderr: %s", e ? e : "");
    free(e);
    sh("printf 'title: X\\ntrusted: maybe\\npaper: [a4]\\n' > %s/s3/octavo.yaml", tmp);
    CHECK_INT(run(args), 2);
    e = err_text();
    CHECKF(e && strstr(e, "octavo.yaml:2:10: error: 'trusted' wants true or false"), "stderr: %s", e ? e : "");
    CHECKF(e && strstr(e, "octavo.yaml:3:8: error: 'paper' wants a string"), "stderr: %s", e ? e : "");
    free(e);
    sh("printf 'title: [unclosed\\n' > %s/s3/octavo.yaml", tmp);
    CHECK_INT(run(args), 2);
    e = err_text();
    CHECKF(e && strstr(e, "octavo.yaml:2:1: error:"), "stderr: %s", e ? e : "");
    free(e);
    CHECK(!exists("%s/o3/downloads.html", tmp));
    /* selections: PDFs of white papers only, no book */
    sh("printf 'pdf:\\n  where: {templateKey: white-paper}\\nbook:\\n  include: [nothing]\\n' > %s/s3/octavo.yaml",
       tmp);
    CHECK_INT(run(args), 0);
    char d[4200];
    snprintf(d, sizeof d, "%s/o3", tmp);
    CHECK_INT(count_ext(d, ".pdf"), 1);
    CHECK_INT(count_ext(d, ".epub"), 0);
    CHECK_INT(count_ext(d, ".html"), 6); /* four pages, index, downloads */
    /* an excluded folder: no page, no PDF, and no link to it from the other pages */
    sh("printf 'exclude: [pages/papers]\\n' > %s/s3/octavo.yaml", tmp);
    CHECK_INT(run(args), 0);
    CHECK(!exists("%s/o3/pages/papers/durable-queues.html", tmp));
    CHECK(!exists("%s/o3/pages/papers/durable-queues.pdf", tmp));
    char p[4200];
    snprintf(p, sizeof p, "%s/o3/pages/about.html", tmp);
    char *about = slurp(p);
    CHECK(about && !strstr(about, "durable-queues.html"));
    free(about);
}

TEST(interrupt_leaves_no_partial_file) {
    /* best effort on a small site: whatever the moment of the signal, no temporary remains and
     * every file there is complete */
    copy_site("s4");
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "%s site %s/s4 -o %s/o4 --jobs 1 -q", octavo_bin, tmp, tmp);
    for (int delay = 0; delay < 3; delay++) {
        sh("rm -rf %s/o4", tmp);
        pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        usleep(30000 + delay * 60000);
        kill(pid, SIGINT);
        int st;
        waitpid(pid, &st, 0);
        CHECK_INT(sh("find %s/o4 -name '.*.[A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9]' 2>/dev/null | grep -q .", tmp), 1);
    }
}

int main(void) {
    const char *b = getenv("B");
    snprintf(octavo_bin, sizeof octavo_bin, "%s/octavo", b && *b ? b : "build");
    if (access(octavo_bin, X_OK) || access("examples/site/octavo.yaml", R_OK)) {
        printf("test_cli: skipped (run from the source tree after make: no %s or examples/site)\n", octavo_bin);
        return t_done();
    }
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(help_and_version);
    RUN(example_site);
    RUN(image_change_rebuilds_its_document);
    RUN(malformed_document);
    RUN(bad_encoding_is_a_warning);
    RUN(configuration_errors);
    RUN(interrupt_leaves_no_partial_file);
    if (!t_failed) sh("rm -rf %s", tmp);
    else fprintf(stderr, "test_cli: outputs kept in %s\n", tmp);
    return t_done();
}
