/* octavo site SITE_DIR -o OUT_DIR: the HTML bundle (link mapping, pages, index, feed), the part of
 * the collateral build (collateral.c) that makes the web pages. */
#ifndef OCTAVO_CLI_SITE_H
#define OCTAVO_CLI_SITE_H
#include "octavo.h"

/** `octavo site SITE_DIR -o OUT_DIR [options]`: the whole collateral (collateral_main). */
int cli_site(int argc, char **argv);

/**
 * Installs the site bundle's link mapping into o (o->link, o->link_ud); call it before
 * octavo_new, with the folders the pages are read from and written to. It indexes the Markdown
 * files under site_dir. The callback then rewrites, for every page rendered with the handle:
 *  - links to other Markdown files ("../design/x.md#part") and site-absolute page links
 *    ("/blog/post", "/blog/post/", "/use-cases/#x": the .md under site_dir/pages/ or site_dir/
 *    whose path matches, index.md for folders) to relative links to their .html pages;
 *  - local files that exist under site_dir ("/img/x.webp", "a.png") to relative links to a copy
 *    in out_dir, copied once (atomically);
 *  - other local targets to o->base_url when set, else reports them as existing nowhere.
 * The callback is thread-safe. Returns 0, or -1 after printing why.
 */
int site_links_init(octavo_options *o, const char *site_dir, const char *out_dir);
/** Replaces the pages the mapping links to (site_links_init found every Markdown file): the
 *  sources, relative to site_dir, that the build turns into pages. */
void site_links_set_pages(const char *const *rels, size_t n);
/** Frees what site_links_init made (after the last render). */
void site_links_free(void);

/** A document as the listings (index, feed) see it. */
typedef struct site_entry {
    octavo_doc *doc;
    const char *rel;         /* the source, relative to the site folder */
    const char *html_rel;    /* its page, relative to the output folder */
    const char *pdf_rel;     /* its PDF, or NULL (then the index links no downloads page) */
} site_entry;

/** The page a source becomes, relative to the output folder ("pages/x.md" -> "pages/x.html");
 *  free() it. */
char *site_page_path(const char *rel);
/** Renders a document's page into out_path (atomically, folders made). Thread-safe. */
int site_render_page(octavo_doc *doc, const char *rel, const char *out_path, octavo_error *err);
/** 1 when the listings of a previous build are in out_dir. */
int site_listing_exists(const char *out_dir);
/** Writes the listings: index.html (the dated entries newest first, then every page; it links
 *  downloads.html when an entry has a PDF) and the Atom feed feed.xml, atomically. Returns 0 or
 *  -1 after printing why. */
int site_write_listing(octavo *ov, const char *out_dir, const char *title, const site_entry *entries, size_t n);
/** A document whose load failed with err (an encoding error, an unterminated frontmatter, a
 *  frontmatter that is not a map) loaded again as plain Markdown, so that it still gets its page:
 *  returns 0 with *out set and a "file:line:column: warning: ..." line in warning; -1 when the
 *  error is not one of those (a YAML syntax error stays an error) or the second load failed. */
int site_load_degraded(octavo *ov, const char *path, const char *text, size_t len, octavo_doc **out,
                       octavo_error *err, char *warning, size_t wsize);
#endif
