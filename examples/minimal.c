/* The smallest octavo program: Markdown (with YAML frontmatter) on standard input, a standalone
 * HTML page on standard output.
 *
 *     cc examples/minimal.c $(pkg-config --cflags --libs octavo) -o minimal
 *     ./minimal < post.md > post.html
 */
#include <stdio.h>

#include <octavo.h>

static int write_out(void *ud, const void *data, size_t len) {
    return fwrite(data, 1, len, (FILE *)ud) == len ? 0 : -1; /* nonzero stops the render */
}

static int fail(const octavo_error *err) {
    char msg[2048];
    octavo_error_format(err, msg, sizeof msg); /* "file:line:column: error: message" */
    fprintf(stderr, "minimal: %s\n", msg);
    return 1;
}

int main(void) {
    static octavo_error err;
    octavo *ov = octavo_new(NULL, &err); /* default options: no resource root, so no file is read */
    if (!ov) return fail(&err);

    /* feed standard input as it comes; octavo_doc_load does the same from one buffer */
    octavo_loader *ld = octavo_loader_new(ov, "stdin");
    char chunk[65536];
    size_t n;
    int rc = ld ? OCTAVO_OK : OCTAVO_E_NOMEM;
    while (rc == OCTAVO_OK && (n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        rc = octavo_loader_feed(ld, chunk, n, &err);
    octavo_doc *doc = NULL;
    if (rc == OCTAVO_OK) rc = octavo_loader_finish(ld, &doc, &err); /* frees the loader */
    else octavo_loader_free(ld);

    if (rc == OCTAVO_OK) rc = octavo_render_html(doc, write_out, stdout, &err);
    if (rc == OCTAVO_OK && fflush(stdout)) rc = err.code = OCTAVO_E_WRITE;

    octavo_doc_free(doc);
    octavo_free(ov);
    if (rc != OCTAVO_OK) {
        if (!err.code) err.code = rc; /* e.g. no memory for the loader */
        return fail(&err);
    }
    return 0;
}
