/* Threads: one shared octavo handle, four threads each loading and rendering HTML for every
 * document at once; each thread's output must equal the one-thread output, byte for byte.
 * Uses the corpus when it is there, a few documents of its own otherwise. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>

#include "harness.h"
#include "internal.h"

#define NTHREADS 4
#define MAXDOCS 256

static octavo *OV;
static char *names[MAXDOCS], *texts[MAXDOCS];
static size_t lens[MAXDOCS];
static int ndocs;
static unsigned char want[MAXDOCS][32];

static const char *const own[] = {
    "---\ntitle: One\ndate: 2022-01-26\n---\n# Heading\n\nSome *emphasis*, `code` and a [link](https://example.org).\n",
    "---\nauthors: [A]\n---\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n- [ ] todo\n\nNote[^1].\n\n[^1]: Foot.\n",
    "No frontmatter, ~~struck~~ and www.example.org.\n\n> quoted\n> > nested\n\n```c\nint x;\n```\n",
};

static int collect(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    size_t n = strlen(path);
    if (type != FTW_F || n < 3 || strcmp(path + n - 3, ".md") || ndocs >= MAXDOCS) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)len + 1);
    if (s && fread(s, 1, (size_t)len, f) == (size_t)len) {
        names[ndocs] = strdup(path);
        texts[ndocs] = s;
        lens[ndocs++] = (size_t)len;
    } else {
        free(s);
    }
    fclose(f);
    return 0;
}

static char *first_out[MAXDOCS];

/* Loads and renders document i; the SHA-256 of its HTML into h; keeps the output in *keep. */
static int render(int i, unsigned char h[32], char **keep) {
    octavo_error e;
    octavo_doc *d = NULL;
    int rc = octavo_doc_load(OV, names[i], texts[i], lens[i], &d, &e);
    if (rc) return rc;
    char *out = NULL;
    size_t len = 0;
    rc = octavo_render_buffer(d, OCTAVO_FORMAT_HTML, &out, &len, &e);
    if (rc) fprintf(stderr, "%s: %s\n", names[i], e.message);
    if (!rc) ov_sha256(out, len, h);
    if (!rc && keep) *keep = strdup(out);
    octavo_buffer_free(out);
    octavo_doc_free(d);
    return rc;
}

/* Says where a thread's output first differs from the one-thread output. */
static void report(int t, int i, const char *got) {
    const char *w = first_out[i];
    size_t k = 0;
    while (w && got && w[k] && w[k] == got[k]) k++;
    size_t from = k > 60 ? k - 60 : 0;
    fprintf(stderr, "thread %d, %s: differs at byte %zu:\n  want ...%.120s\n  got  ...%.120s\n", t, names[i], k,
            w ? w + from : "(none)", got ? got + from : "(render failed)");
}

struct job { int t; long bad; };

static void *worker(void *arg) {
    struct job *j = arg;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < ndocs; i++) {
            unsigned char h[32];
            char *out = NULL;
            if (render(i, h, &out) || memcmp(h, want[i], 32)) {
                if (!j->bad) report(j->t, i, out);
                j->bad++;
            }
            free(out);
        }
    return NULL;
}

TEST(four_threads) {
    int failed = 0;
    for (int i = 0; i < ndocs; i++) failed += render(i, want[i], &first_out[i]) != OCTAVO_OK;
    CHECK_INT(failed, 0);
    pthread_t th[NTHREADS];
    struct job jobs[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        jobs[t].t = t;
        jobs[t].bad = 0;
        CHECK(pthread_create(&th[t], NULL, worker, &jobs[t]) == 0);
    }
    for (int t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], NULL);
        CHECKF(jobs[t].bad == 0, "thread %d: %ld renders differ from the one-thread render", t, jobs[t].bad);
    }
    for (int i = 0; i < ndocs; i++) free(first_out[i]);
    printf("threads: %d documents rendered by %d threads twice over\n", ndocs, NTHREADS);
}

int main(void) {
    char pages[1024];
    snprintf(pages, sizeof pages, "%s/pages", t_corpus());
    nftw(pages, collect, 16, FTW_PHYS);
    int from_corpus = ndocs > 0;
    if (!ndocs) {
        printf("note: no corpus at %s; using the test's own documents\n", pages);
        for (size_t i = 0; i < sizeof own / sizeof *own; i++) {
            names[ndocs] = strdup("own.md");
            texts[ndocs] = strdup(own[i]);
            lens[ndocs++] = strlen(own[i]);
        }
    }
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.flags |= OCTAVO_NO_CACHE;
    if (from_corpus) o.resource_root = t_corpus(); /* images are looked up from all threads too */
    octavo_error e;
    OV = octavo_new(&o, &e);
    if (!OV) { fprintf(stderr, "octavo_new: %s\n", e.message); return 1; }
    RUN(four_threads);
    octavo_free(OV);
    for (int i = 0; i < ndocs; i++) { free(names[i]); free(texts[i]); }
    return t_done();
}
