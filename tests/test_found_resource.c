/* The built-in resolver's confinement to the resource root, and the caller's resolver. Builds a
 * small tree in a temporary folder:
 *
 *   T/outside.txt                     a file next to the root, never to be read
 *   T/root/img/a.png                  "IMG-A"
 *   T/root/img/inner -> a.png         a symlink that stays inside
 *   T/root/img/escape -> T/outside.txt
 *   T/root/img/dir -> ..  /  T/root/img/up -> ../..
 *   T/root/pages/blog/post.md, local.png ("LOCAL"), "sp ace.png"
 */
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"

static char T[256], ROOT[300];

static void put(const char *rel, const char *text) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", T, rel);
    FILE *f = fopen(p, "w");
    if (f) { fputs(text, f); fclose(f); }
}

static void mk(const char *rel) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", T, rel);
    mkdir(p, 0755);
}

static int resolve(octavo_doc *d, const char *target, char *got, size_t size) {
    octavo_blob b;
    octavo_error e;
    memset(&e, 0, sizeof e);
    int rc = ov_resolve(d, target, &b, &e);
    if (got) got[0] = 0;
    if (!rc) {
        if (got) snprintf(got, size, "%.*s", (int)b.len, (const char *)b.data);
        ov_blob_release(&b);
        CHECK(b.data == NULL && b.release == NULL);
    } else {
        CHECK(b.data == NULL);
        CHECK_INT(e.code, rc);
        CHECK_INT(e.stage, OCTAVO_STAGE_RESOURCE);
    }
    return rc;
}

static octavo_doc *doc_in(octavo *ov, const char *name) {
    octavo_doc *d = NULL;
    octavo_error e;
    octavo_doc_load(ov, name, "# x\n", 4, &d, &e);
    return d;
}

TEST(confinement) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.resource_root = ROOT;
    octavo_error e;
    octavo *ov = octavo_new(&o, &e);
    CHECK(ov != NULL);
    if (!ov) return;
    /* the document named relative to the root (the process's folder is elsewhere) */
    octavo_doc *d = doc_in(ov, "pages/blog/post.md");
    char got[64];
    CHECK_INT(resolve(d, "/img/a.png", got, sizeof got), OCTAVO_OK);
    CHECK_STR(got, "IMG-A");
    CHECK_INT(resolve(d, "local.png", got, sizeof got), OCTAVO_OK);
    CHECK_STR(got, "LOCAL");
    CHECK_INT(resolve(d, "./local.png?v=2#frag", got, sizeof got), OCTAVO_OK);
    CHECK_STR(got, "LOCAL");
    CHECK_INT(resolve(d, "sp%20ace.png", got, sizeof got), OCTAVO_OK);
    CHECK_STR(got, "SPACE");
    CHECK_INT(resolve(d, "/img/a%2Epng", got, sizeof got), OCTAVO_OK);
    CHECK_INT(resolve(d, "../../img/a.png", got, sizeof got), OCTAVO_OK); /* up, but inside */
    CHECK_INT(resolve(d, "/img/inner", got, sizeof got), OCTAVO_OK);
    CHECK_STR(got, "IMG-A");
    char *rel = ov_resolve_relpath(d, "/img/inner", &e);
    CHECK_STR(rel, "img/a.png");
    ov_free(rel);
    rel = ov_resolve_relpath(d, "local.png", &e);
    CHECK_STR(rel, "pages/blog/local.png");
    ov_free(rel);

    /* escapes */
    CHECK_INT(resolve(d, "../../../outside.txt", got, sizeof got), OCTAVO_E_ACCESS);
    CHECK_INT(resolve(d, "/../outside.txt", got, sizeof got), OCTAVO_E_ACCESS);
    CHECK_INT(resolve(d, "%2E%2E/%2E%2E/%2E%2E/outside.txt", got, sizeof got), OCTAVO_E_ACCESS);
    CHECK_INT(resolve(d, "/img/escape", got, sizeof got), OCTAVO_E_ACCESS);  /* symlink out */
    CHECK_INT(resolve(d, "/img/up/outside.txt", got, sizeof got), OCTAVO_E_ACCESS); /* via a symlinked folder */
    char abs[600];
    snprintf(abs, sizeof abs, "%s/outside.txt", T); /* an absolute path is taken inside the root */
    CHECK(resolve(d, abs, got, sizeof got) != OCTAVO_OK);
    CHECK(strcmp(got, "SECRET") != 0);
    CHECK(resolve(d, "/etc/passwd", got, sizeof got) != OCTAVO_OK);
    snprintf(abs, sizeof abs, "file://%s/outside.txt", T);
    CHECK_INT(resolve(d, abs, got, sizeof got), OCTAVO_E_ACCESS);
    CHECK_INT(resolve(d, "https://example.org/x.png", got, sizeof got), OCTAVO_E_RESOURCE); /* not fetched */
    CHECK_INT(resolve(d, "/img/a.png%00.txt", got, sizeof got), OCTAVO_E_ACCESS);
    CHECK_INT(resolve(d, "/img/missing.png", got, sizeof got), OCTAVO_E_NOT_FOUND);
    CHECK(resolve(d, "/img", got, sizeof got) != OCTAVO_OK); /* a folder */
    CHECK(resolve(d, "", got, sizeof got) != OCTAVO_OK);
    octavo_doc_free(d);

    /* the document named by its filesystem path: its real folder counts */
    char name[600];
    snprintf(name, sizeof name, "%s/pages/blog/../blog/post.md", ROOT);
    d = doc_in(ov, name);
    CHECK_INT(resolve(d, "local.png", got, sizeof got), OCTAVO_OK);
    CHECK_STR(got, "LOCAL");
    octavo_doc_free(d);
    /* a document outside the root reads nothing relative to itself */
    snprintf(name, sizeof name, "%s/elsewhere.md", T);
    d = doc_in(ov, name);
    CHECK(resolve(d, "outside.txt", got, sizeof got) != OCTAVO_OK);
    CHECK_INT(resolve(d, "/img/a.png", got, sizeof got), OCTAVO_OK);
    octavo_doc_free(d);
    octavo_free(ov);

    /* the image_bytes limit */
    o.limits.image_bytes = 3;
    ov = octavo_new(&o, &e);
    d = doc_in(ov, "x.md");
    CHECK_INT(resolve(d, "/img/a.png", got, sizeof got), OCTAVO_E_LIMIT);
    octavo_doc_free(d);
    octavo_free(ov);
}

TEST(no_root_reads_nothing) {
    octavo_error e;
    octavo *ov = octavo_new(NULL, &e);
    char name[600];
    snprintf(name, sizeof name, "%s/pages/blog/post.md", ROOT);
    octavo_doc *d = doc_in(ov, name);
    char got[64];
    CHECK_INT(resolve(d, "local.png", got, sizeof got), OCTAVO_E_ACCESS);
    CHECK_INT(resolve(d, "/img/a.png", got, sizeof got), OCTAVO_E_ACCESS);
    CHECK_STR(got, "");
    octavo_doc_free(d);
    octavo_free(ov);
    /* a root that does not exist is an error of octavo_new */
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.resource_root = "/nonexistent/octavo/root";
    CHECK(octavo_new(&o, &e) == NULL);
    CHECK_INT(e.code, OCTAVO_E_IO);
}

static int released;
static void my_release(void *ud, const void *data) {
    (void)data;
    released += *(int *)ud;
}
static int my_resolve(void *ud, const char *doc_name, const char *target, octavo_blob *out) {
    (void)ud;
    if (strcmp(doc_name, "mine.md")) return OCTAVO_E_ARG;
    if (!strcmp(target, "gone.png")) return OCTAVO_E_NOT_FOUND;
    if (!strcmp(target, "huge.png")) {
        out->data = "0123456789";
        out->len = 10;
        out->release = my_release;
        out->release_ud = ud;
        return OCTAVO_OK;
    }
    out->data = target;
    out->len = strlen(target);
    out->release = my_release;
    out->release_ud = ud;
    return OCTAVO_OK;
}

TEST(callers_resolver) {
    static int one = 1;
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.resolve = my_resolve;
    o.resolve_ud = &one;
    o.limits.image_bytes = 9;
    octavo_error e;
    octavo *ov = octavo_new(&o, &e);
    octavo_doc *d = doc_in(ov, "mine.md");
    char got[64];
    released = 0;
    CHECK_INT(resolve(d, "//r/x.png", got, sizeof got), OCTAVO_OK); /* remote: the caller decides */
    CHECK_STR(got, "//r/x.png");
    CHECK_INT(released, 1);
    CHECK_INT(resolve(d, "gone.png", got, sizeof got), OCTAVO_E_NOT_FOUND);
    CHECK_INT(resolve(d, "huge.png", got, sizeof got), OCTAVO_E_LIMIT);
    CHECK_INT(released, 2); /* released even when refused */
    octavo_doc_free(d);
    octavo_free(ov);
}

TEST(remote_detection) {
    CHECK(ov_is_remote("http://a/b"));
    CHECK(ov_is_remote("HTTPS://a/b"));
    CHECK(ov_is_remote("//cdn.example.org/x.png"));
    CHECK(ov_is_remote("mailto:x@example.org"));
    CHECK(ov_is_remote("data:image/png;base64,AAAA"));
    CHECK(!ov_is_remote("/img/x.webp"));
    CHECK(!ov_is_remote("img/x.webp"));
    CHECK(!ov_is_remote("a:b")); /* too short for a scheme: a drive-letter-like path */
    CHECK(!ov_is_remote("x.png?a=http://b"));
    CHECK(!ov_is_remote(""));
    CHECK(!ov_is_remote(NULL));
}

int main(void) {
    snprintf(T, sizeof T, "/tmp/octavo-res-XXXXXX");
    if (!mkdtemp(T)) { perror("mkdtemp"); return 1; }
    snprintf(ROOT, sizeof ROOT, "%s/root", T);
    mk("root");
    mk("root/img");
    mk("root/pages");
    mk("root/pages/blog");
    put("outside.txt", "SECRET");
    put("root/img/a.png", "IMG-A");
    put("root/pages/blog/local.png", "LOCAL");
    put("root/pages/blog/sp ace.png", "SPACE");
    char p[700], q[700];
    snprintf(p, sizeof p, "%s/root/img/inner", T);
    int ok = symlink("a.png", p) == 0;
    snprintf(p, sizeof p, "%s/root/img/escape", T);
    snprintf(q, sizeof q, "%s/outside.txt", T);
    ok &= symlink(q, p) == 0;
    snprintf(p, sizeof p, "%s/root/img/up", T);
    ok &= symlink("../..", p) == 0;
    CHECK(ok);
    RUN(confinement);
    RUN(no_root_reads_nothing);
    RUN(callers_resolver);
    RUN(remote_detection);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", T);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", T);
    return t_done();
}
