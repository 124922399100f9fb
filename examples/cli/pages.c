/* Provisional HTML pages and listings for the collateral build, until the site bundle (site.c)
 * provides them: plain pages through octavo_render_file and a bare index that links the
 * downloads page. Replaced when the bundle lands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collateral.h"

char *coll_page_path(const char *rel) {
    const char *dot = strrchr(rel, '.'), *slash = strrchr(rel, '/');
    size_t n = dot && (!slash || dot > slash) ? (size_t)(dot - rel) : strlen(rel);
    char *p = malloc(n + 6);
    if (!p) return NULL;
    memcpy(p, rel, n);
    memcpy(p + n, ".html", 6);
    return p;
}

int coll_render_page(octavo_doc *doc, const char *rel, const char *out_path, octavo_error *err) {
    (void)rel;
    return octavo_render_file(doc, OCTAVO_FORMAT_HTML, out_path, err);
}

int coll_listing_exists(const char *out_dir) {
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/index.html", out_dir);
    return stat(p, &st) == 0;
}

int coll_write_listing(octavo *ov, const char *out_dir, const char *title, const coll_entry *e, size_t n) {
    (void)ov;
    coll_str s = {0};
    coll_puts(&s, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    coll_put_html(&s, title);
    coll_puts(&s, "</title>\n</head>\n<body>\n<h1>");
    coll_put_html(&s, title);
    coll_puts(&s, "</h1>\n<p><a href=\"downloads.html\">Downloads</a></p>\n<ul>\n");
    for (size_t i = 0; i < n; i++) {
        coll_puts(&s, "<li><a href=\"");
        coll_put_url(&s, e[i].html_rel);
        coll_puts(&s, "\">");
        coll_put_html(&s, octavo_doc_title(e[i].doc));
        coll_puts(&s, "</a></li>\n");
    }
    coll_puts(&s, "</ul>\n</body>\n</html>\n");
    char p[4096];
    snprintf(p, sizeof p, "%s/index.html", out_dir);
    int rc = coll_write_file(p, s.s, s.len);
    if (rc) fprintf(stderr, "%s: error: %s\n", p, strerror(errno));
    free(s.s);
    return rc;
}
