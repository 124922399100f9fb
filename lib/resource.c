/* Resources: the caller's resolver, or the built-in one that reads files confined to the
 * resource root.
 *
 * Confinement: a target is percent-decoded and stripped of ?query and #fragment; "/x" is taken
 * against the root, "x" against the document's folder. The path is normalised and must stay in
 * the root; then realpath() follows every symlink and the result must still start with the root
 * and a '/'. file: and other URLs are never read; with no root the built-in resolver reads nothing. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int ov_url_has_scheme(const char *t) {
    if (!t || !((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z'))) return 0;
    size_t i = 1;
    while ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= '0' && t[i] <= '9') ||
           t[i] == '+' || t[i] == '.' || t[i] == '-')
        i++;
    return t[i] == ':' && i >= 2; /* "c:" alone is a drive letter, not a scheme */
}

int ov_is_remote(const char *t) {
    if (!t) return 0;
    return (t[0] == '/' && t[1] == '/') || ov_url_has_scheme(t);
}

void ov_blob_release(octavo_blob *b) {
    if (!b) return;
    if (b->release && b->data) b->release(b->release_ud, b->data);
    memset(b, 0, sizeof *b);
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The target without ?query/#fragment, percent-decoded; NULL when it holds a NUL byte. */
static char *clean_target(const char *t, int *nul) {
    size_t n = strcspn(t, "?#");
    char *s = ov_malloc(n + 1);
    if (!s) return NULL;
    size_t j = 0;
    *nul = 0;
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (t[i] == '%' && i + 2 < n && (h = hexval((unsigned char)t[i + 1])) >= 0 &&
            (l = hexval((unsigned char)t[i + 2])) >= 0) {
            int c = h * 16 + l;
            if (!c) *nul = 1;
            s[j++] = (char)c;
            i += 2;
        } else {
            s[j++] = t[i];
        }
    }
    s[j] = 0;
    if (*nul) { ov_free(s); return NULL; }
    return s;
}

/* Collapses "//", "/./" and "/x/.." in an absolute path, in place. A ".." that climbs above "/"
 * stays at "/" when clamp is set; otherwise the call returns 0. */
static int normalise(char *p, int clamp) {
    char *w = p;         /* write position; p[0] is '/' */
    const char *r = p;
    while (*r) {
        while (*r == '/') r++;
        if (!*r) break;
        const char *e = r;
        while (*e && *e != '/') e++;
        size_t n = (size_t)(e - r);
        if (n == 1 && r[0] == '.') {
            /* skip */
        } else if (n == 2 && r[0] == '.' && r[1] == '.') {
            if (w == p && !clamp) return 0;
            while (w > p && *--w != '/') {}
        } else {
            *w++ = '/';
            memmove(w, r, n);
            w += n;
        }
        r = e;
    }
    if (w == p) *w++ = '/';
    *w = 0;
    return 1;
}

char *ov_path_absolute(const char *base, const char *path) {
    ov_buf b;
    ov_buf_init(&b);
    if (path[0] != '/') {
        if (base) ov_buf_puts(&b, base);
        else {
            char cwd[PATH_MAX];
            if (getcwd(cwd, sizeof cwd)) ov_buf_puts(&b, cwd);
        }
        ov_buf_putc(&b, '/');
    }
    ov_buf_puts(&b, path);
    if (b.failed) { ov_buf_free(&b); return NULL; }
    if (b.data[0] != '/') { /* no base and no working folder: anchor at "/" */
        ov_buf_putc(&b, 0);
        if (b.failed) { ov_buf_free(&b); return NULL; }
        memmove(b.data + 1, b.data, b.len);
        b.data[0] = '/';
    }
    normalise(b.data, 1);
    return b.data;
}

static int inside(const char *root, const char *path) {
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/') return path[0] == '/';
    return !strncmp(path, root, n) && path[n] == '/';
}

/* The folder relative targets of doc are taken against: its real folder when that lies in the
 * root, else its name's folder read relative to the root. ov_free it. */
static char *doc_folder(const octavo_doc *doc, const char *root) {
    const char *name = doc->name ? doc->name : "";
    const char *slash = strrchr(name, '/');
    char *dir = slash ? ov_strndup(name, (size_t)(slash - name) + (slash == name)) : ov_strdup(".");
    if (!dir) return NULL;
    char *rp = realpath(dir, NULL);
    if (rp && (inside(root, rp) || !strcmp(rp, root))) {
        char *r = ov_strdup(rp);
        free(rp);
        ov_free(dir);
        return r;
    }
    free(rp);
    ov_buf b;
    ov_buf_init(&b);
    if (dir[0] == '/') ov_buf_puts(&b, "/nonexistent-outside-root"); /* an absolute folder outside */
    else ov_buf_printf(&b, "%s/%s", root, strcmp(dir, ".") ? dir : "");
    ov_free(dir);
    return ov_buf_detach(&b, NULL);
}

char *ov_resolve_relpath(const octavo_doc *doc, const char *target, octavo_error *err) {
    const char *name = doc ? doc->name : NULL;
    if (!doc || !target || !*target) {
        ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_RESOURCE, name, 0, 0, "an empty target");
        return NULL;
    }
    const char *root = doc->ov->resource_root;
    if (!strncmp(target, "file:", 5) || !strncmp(target, "FILE:", 5)) {
        ov_error(err, OCTAVO_E_ACCESS, OCTAVO_STAGE_RESOURCE, name, 0, 0, "file: URLs are never read: %s", target);
        return NULL;
    }
    if (ov_is_remote(target)) {
        ov_error(err, OCTAVO_E_RESOURCE, OCTAVO_STAGE_RESOURCE, name, 0, 0, "remote target not fetched: %s", target);
        return NULL;
    }
    if (!root) {
        ov_error(err, OCTAVO_E_ACCESS, OCTAVO_STAGE_RESOURCE, name, 0, 0,
                 "no resource root: the built-in resolver reads no file (%s)", target);
        return NULL;
    }
    int nul = 0;
    char *t = clean_target(target, &nul);
    if (!t) {
        if (nul) ov_error(err, OCTAVO_E_ACCESS, OCTAVO_STAGE_RESOURCE, name, 0, 0, "a NUL byte in the target %s", target);
        else ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_RESOURCE, name, 0, 0, NULL);
        return NULL;
    }
    if (!*t) {
        ov_free(t);
        ov_error(err, OCTAVO_E_NOT_FOUND, OCTAVO_STAGE_RESOURCE, name, 0, 0, "an empty path in %s", target);
        return NULL;
    }
    ov_buf b;
    ov_buf_init(&b);
    if (t[0] == '/') {
        ov_buf_printf(&b, "%s%s", root, t);
    } else {
        char *dir = doc_folder(doc, root);
        if (!dir) { ov_free(t); ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_RESOURCE, name, 0, 0, NULL); return NULL; }
        ov_buf_printf(&b, "%s/%s", dir, t);
        ov_free(dir);
    }
    ov_free(t);
    char *cand = ov_buf_detach(&b, NULL);
    if (!cand) { ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_RESOURCE, name, 0, 0, NULL); return NULL; }
    if (!normalise(cand, 0) || !inside(root, cand)) {
        ov_free(cand);
        ov_error(err, OCTAVO_E_ACCESS, OCTAVO_STAGE_RESOURCE, name, 0, 0, "%s is outside the resource root", target);
        return NULL;
    }
    char *real = realpath(cand, NULL);
    ov_free(cand);
    if (!real) {
        int e = errno;
        ov_error(err, e == ENOENT || e == ENOTDIR ? OCTAVO_E_NOT_FOUND : OCTAVO_E_RESOURCE, OCTAVO_STAGE_RESOURCE, name,
                 0, 0, "%s: %s", target, strerror(e));
        return NULL;
    }
    if (!inside(root, real)) {
        free(real);
        ov_error(err, OCTAVO_E_ACCESS, OCTAVO_STAGE_RESOURCE, name, 0, 0,
                 "%s leads outside the resource root (through a symbolic link)", target);
        return NULL;
    }
    size_t rl = strlen(root);
    char *rel = ov_strdup(real + (rl == 1 ? 1 : rl + 1));
    free(real);
    if (!rel) ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_RESOURCE, name, 0, 0, NULL);
    return rel;
}

static void release_own(void *ud, const void *data) {
    (void)ud;
    ov_free((void *)data);
}

static int read_confined(const octavo_doc *doc, const char *target, octavo_blob *out, octavo_error *err) {
    const char *name = doc->name;
    char *rel = ov_resolve_relpath(doc, target, err);
    if (!rel) return err ? err->code : OCTAVO_E_RESOURCE;
    ov_buf p;
    ov_buf_init(&p);
    const char *root = doc->ov->resource_root;
    ov_buf_printf(&p, "%s%s%s", root, strcmp(root, "/") ? "/" : "", rel);
    ov_free(rel);
    if (p.failed) { ov_buf_free(&p); return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_RESOURCE, name, 0, 0, NULL); }
    int fd = open(p.data, O_RDONLY | O_CLOEXEC);
    ov_buf_free(&p);
    if (fd < 0)
        return ov_error(err, errno == ENOENT ? OCTAVO_E_NOT_FOUND : OCTAVO_E_RESOURCE, OCTAVO_STAGE_RESOURCE, name, 0,
                        0, "%s: %s", target, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return ov_error(err, OCTAVO_E_NOT_FOUND, OCTAVO_STAGE_RESOURCE, name, 0, 0, "%s is not a file", target);
    }
    size_t max = doc->ov->opt.limits.image_bytes;
    if ((uint64_t)st.st_size > (uint64_t)max) {
        close(fd);
        return ov_error(err, OCTAVO_E_LIMIT, OCTAVO_STAGE_RESOURCE, name, 0, 0,
                        "%s is %lld bytes, over limit.image_bytes (%zu)", target, (long long)st.st_size, max);
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *data = ov_malloc(size + 1);
    if (!data) { close(fd); return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_RESOURCE, name, 0, 0, NULL); }
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != size) {
        ov_free(data);
        return ov_error(err, OCTAVO_E_RESOURCE, OCTAVO_STAGE_RESOURCE, name, 0, 0, "%s: short read", target);
    }
    out->data = data;
    out->len = size;
    out->release = release_own;
    out->release_ud = NULL;
    return OCTAVO_OK;
}

int ov_resolve(const octavo_doc *doc, const char *target, octavo_blob *out, octavo_error *err) {
    if (!out) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_RESOURCE, NULL, 0, 0, "no output blob");
    memset(out, 0, sizeof *out);
    if (!doc || !target || !*target)
        return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_RESOURCE, doc ? doc->name : NULL, 0, 0, "an empty target");
    const octavo *ov = doc->ov;
    if (!ov->opt.resolve) return read_confined(doc, target, out, err);
    int rc = ov->opt.resolve(ov->opt.resolve_ud, doc->name, target, out);
    if (rc) {
        memset(out, 0, sizeof *out);
        if (rc < 0 || rc > OCTAVO_E_INTERNAL) rc = OCTAVO_E_RESOURCE;
        return ov_error(err, rc, OCTAVO_STAGE_RESOURCE, doc->name, 0, 0, "the resolver could not give %s: %s", target,
                        octavo_strerror(rc));
    }
    if (!out->data && out->len) {
        memset(out, 0, sizeof *out);
        return ov_error(err, OCTAVO_E_RESOURCE, OCTAVO_STAGE_RESOURCE, doc->name, 0, 0, "the resolver gave no bytes for %s",
                        target);
    }
    if (out->len > ov->opt.limits.image_bytes) {
        ov_blob_release(out);
        return ov_error(err, OCTAVO_E_LIMIT, OCTAVO_STAGE_RESOURCE, doc->name, 0, 0,
                        "%s is over limit.image_bytes (%zu)", target, ov->opt.limits.image_bytes);
    }
    return OCTAVO_OK;
}
