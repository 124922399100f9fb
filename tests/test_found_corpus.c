/* The real corpus: every page loads, and the use-cases page and a blog post read as their
 * frontmatter says. Expected values are read from the raw file by hand (YAML's folding rules
 * applied here, independently of the library), so no corpus text is copied into the project.
 * Skips, saying so, when the corpus is not there. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>

#include <cmark-gfm.h>

#include "harness.h"
#include "internal.h"

static octavo *OV;
static int nloaded, nimages;

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

static int load_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    size_t n = strlen(path);
    if (type != FTW_F || n < 3 || strcmp(path + n - 3, ".md")) return 0;
    octavo_error e;
    octavo_doc *d = NULL;
    int rc = octavo_doc_load_file(OV, path, &d, &e);
    char msg[2048];
    if (rc) octavo_error_format(&e, msg, sizeof msg);
    CHECKF(rc == OCTAVO_OK, "%s", msg);
    if (d) {
        CHECKF(*octavo_doc_title(d), "%s: empty title", path);
        octavo_doc_summary(d, 200);
        nloaded++;
        /* every local Markdown image resolves inside the site root */
        CHECKF(ov_doc_parse(d, &e) == OCTAVO_OK, "%s: %s", path, e.message);
        cmark_iter *it = cmark_iter_new(d->ast);
        cmark_event_type ev;
        while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
            cmark_node *node = cmark_iter_get_node(it);
            if (ev != CMARK_EVENT_ENTER || cmark_node_get_type(node) != CMARK_NODE_IMAGE) continue;
            const char *url = cmark_node_get_url(node);
            if (!url || !*url || ov_is_remote(url)) continue;
            char *rel = ov_resolve_relpath(d, url, &e);
            CHECKF(rel != NULL, "%s: image %s: %s", path, url, e.message);
            ov_free(rel);
            nimages++;
        }
        cmark_iter_free(it);
    }
    octavo_doc_free(d);
    return 0;
}

/* The value of the top-level key in the raw YAML: a plain or single-quoted one-line scalar. */
static char *raw_value(const char *text, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) || p[kl] != ':' || p[kl + 1] != ' ') continue;
        const char *v = p + kl + 2, *e = strchr(v, '\n');
        size_t n = e ? (size_t)(e - v) : strlen(v);
        while (n && (v[n - 1] == '\r' || v[n - 1] == ' ')) n--;
        char *out = malloc(n + 1), *w = out;
        if (n >= 2 && v[0] == '\'' && v[n - 1] == '\'') { /* single quotes: '' is a quote */
            for (size_t i = 1; i + 1 < n; i++) {
                *w++ = v[i];
                if (v[i] == '\'' && v[i + 1] == '\'') i++;
            }
        } else {
            memcpy(w, v, n);
            w += n;
        }
        *w = 0;
        return out;
    }
    return NULL;
}

/* seo.description written as a folded ">-" block: the more-indented lines after it, their
 * indentation removed, joined with single spaces (an empty line would be a line break), and no
 * final line break. */
static char *raw_folded(const char *text, const char *parent, const char *key) {
    const char *p = strstr(text, parent);
    if (!p) return NULL;
    char want[64];
    snprintf(want, sizeof want, "\n  %s: >-", key);
    p = strstr(p, want);
    if (!p) return NULL;
    p = strchr(p + 1, '\n');
    char *out = calloc(1, strlen(text) + 1);
    int pending_break = 0;
    while (p && *++p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        size_t ind = 0;
        while (ind < n && p[ind] == ' ') ind++;
        if (ind == n) { pending_break = 1; p = e; continue; }
        if (ind <= 2) break; /* back to the parent's keys */
        if (*out) strcat(out, pending_break ? "\n" : " ");
        pending_break = 0;
        strncat(out, p + ind, n - ind - (p[n - 1] == '\r'));
        p = e;
    }
    return out;
}

TEST(every_page_loads) {
    char pages[1024];
    snprintf(pages, sizeof pages, "%s/pages", t_corpus());
    nftw(pages, load_one, 16, FTW_PHYS);
    printf("corpus: %d documents loaded, %d local images resolved\n", nloaded, nimages);
    CHECK(nloaded > 0);
}

TEST(use_cases_page) {
    char path[1024];
    snprintf(path, sizeof path, "%s/pages/use-cases/index.md", t_corpus());
    char *raw = slurp(path);
    CHECK(raw != NULL);
    if (!raw) return;
    octavo_error e;
    octavo_doc *d = NULL;
    CHECK_INT(octavo_doc_load_file(OV, path, &d, &e), OCTAVO_OK);
    if (!d) { free(raw); return; }
    char *title = raw_value(raw, "title"), *sub = raw_value(raw, "subTitle");
    char *desc = raw_folded(raw, "\nseo:", "description");
    CHECK(title && sub && desc && *desc && !strchr(desc, '\n'));
    CHECK_STR(octavo_doc_title(d), title);
    CHECK_STR(octavo_doc_get(d, "subTitle"), sub);
    CHECK_STR(octavo_doc_get(d, "seo.description"), desc);
    CHECK_STR(octavo_doc_summary(d, 50), desc); /* seo.description is the summary */
    printf("use-cases title: %s\n", octavo_doc_title(d));
    printf("use-cases subTitle: %s\n", octavo_doc_get(d, "subTitle"));
    printf("use-cases seo.description: %s\n", octavo_doc_get(d, "seo.description"));
    free(title);
    free(sub);
    free(desc);
    free(raw);
    octavo_doc_free(d);
}

TEST(blog_date) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/pages/blog", t_corpus());
    DIR *dp = opendir(dir);
    CHECK(dp != NULL);
    if (!dp) return;
    /* the first post (by name) with a date */
    char best[256] = "";
    struct dirent *de;
    while ((de = readdir(dp))) {
        size_t n = strlen(de->d_name);
        if (n > 3 && !strcmp(de->d_name + n - 3, ".md") && (!*best || strcmp(de->d_name, best) < 0)) {
            char p[1400];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            char *raw = slurp(p);
            if (raw && strstr(raw, "\ndate: ")) snprintf(best, sizeof best, "%s", de->d_name);
            free(raw);
        }
    }
    closedir(dp);
    CHECK(*best);
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, best);
    char *raw = slurp(path);
    char *v = raw ? raw_value(raw, "date") : NULL;
    CHECK(v != NULL);
    if (!v) { free(raw); return; }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int n = sscanf(v, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
    CHECK(n == 3 || n == 6);
    int year = tm.tm_year, mon = tm.tm_mon;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t want = timegm(&tm);
    octavo_error e;
    octavo_doc *d = NULL;
    CHECK_INT(octavo_doc_load_file(OV, path, &d, &e), OCTAVO_OK);
    octavo_time t;
    CHECK_INT(octavo_doc_date(d, &t), OCTAVO_OK);
    CHECK_INT(t.year, year);
    CHECK_INT(t.month, mon);
    CHECK_INT(t.day, tm.tm_mday);
    CHECK_INT(t.epoch, (long long)want);
    char buf[40];
    ov_time_rfc3339(&t, buf, sizeof buf);
    printf("blog %s: date %s = %lld (%s)\n", best, v, (long long)t.epoch, buf);
    octavo_doc_free(d);
    free(v);
    free(raw);
}

int main(void) {
    struct stat st;
    char pages[1024];
    snprintf(pages, sizeof pages, "%s/pages", t_corpus());
    if (stat(pages, &st) || !S_ISDIR(st.st_mode)) {
        printf("SKIP: no corpus at %s (set OCTAVO_CORPUS)\n", pages);
        return t_done();
    }
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.resource_root = t_corpus(); /* the site root: pages name images /img/NAME */
    octavo_error e;
    OV = octavo_new(&o, &e);
    if (!OV) { fprintf(stderr, "octavo_new: %s\n", e.message); return 1; }
    RUN(every_page_loads);
    RUN(use_cases_page);
    RUN(blog_date);
    octavo_free(OV);
    return t_done();
}
