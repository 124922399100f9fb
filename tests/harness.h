/* A small test harness: CHECK records a failure with its place and goes on; each test binary
 * ends with "N passed, N failed" and exits non-zero when something failed. tests/run.sh sums. */
#ifndef OCTAVO_TEST_HARNESS_H
#define OCTAVO_TEST_HARNESS_H
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int t_passed, t_failed;
static const char *t_name = "";

#define CHECK(cond) do { if (cond) t_passed++; else { t_failed++; \
    fprintf(stderr, "FAIL %s:%d: [%s] %s\n", __FILE__, __LINE__, t_name, #cond); } } while (0)
#define CHECKF(cond, ...) do { if (cond) t_passed++; else { t_failed++; \
    fprintf(stderr, "FAIL %s:%d: [%s] %s: ", __FILE__, __LINE__, t_name, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); \
    if (a_ && b_ && strcmp(a_, b_) == 0) t_passed++; else { t_failed++; \
    fprintf(stderr, "FAIL %s:%d: [%s] %s == %s: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, t_name, \
            #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } } while (0)
#define CHECK_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ == b_) t_passed++; else { t_failed++; \
    fprintf(stderr, "FAIL %s:%d: [%s] %s == %s: got %lld, want %lld\n", __FILE__, __LINE__, t_name, \
            #a, #b, a_, b_); } } while (0)
#define TEST(name) static void name(void)
#define RUN(name) do { t_name = #name; name(); } while (0)

static inline int t_done(void) {
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}

/* Removes a file or a folder with everything in it (symbolic links are removed, not followed). */
static inline void t_rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st)) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[4096];
            if (snprintf(p, sizeof p, "%s/%s", path, e->d_name) >= (int)sizeof p) continue;
            t_rm_rf(p);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Runs fn(dir, arg) in a child process, dir a new folder made from tmpl (a mkdtemp template),
 * and checks that it exited with 0 (else: the number of the step that failed, reported as what's);
 * the folder is removed afterwards. The child ends with exit(), so a sanitizer's leak check runs. */
static inline void t_in_child(char *tmpl, int (*fn)(const char *dir, int arg), int arg, const char *what) {
    CHECK(mkdtemp(tmpl) != NULL);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) exit(fn(tmpl, arg));
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECKF(WEXITSTATUS(status) == 0, "%s: child failed at step %d", what, WEXITSTATUS(status));
    t_rm_rf(tmpl);
    CHECK(access(tmpl, F_OK) != 0);
}

/* Writes len bytes to root/rel, making the folders on the way; exits when it cannot (a test
 * set-up failure, not a finding). */
static inline void t_write_under(const char *root, const char *rel, const void *data, size_t len) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        mkdir(p, 0755);
        *s = '/';
    }
    FILE *f = fopen(p, "wb");
    if (!f) { perror(p); exit(2); }
    fwrite(data, 1, len, f);
    fclose(f);
}

/* The shared corpus, when it is there (tests that need it skip otherwise). */
static inline const char *t_corpus(void) {
    const char *c = getenv("OCTAVO_CORPUS");
    return c ? c : "../shared/corpus/katacontainers.io";
}
#endif
