/* The site configuration: SITE_DIR/octavo.yaml, optional.
 *
 *   title: Example Site          # the site's name (index, downloads page, book title)
 *   description: ...             # a sentence about the site
 *   base_url: https://example.org/
 *   language: en                 # default language (also: lang)
 *   author: Jane Doe             # default author
 *   trusted: true                # keep raw HTML (false: drop scripts, styles, handlers)
 *   paper: a4                    # or letter
 *   margin: 56.7                 # PDF margin in points
 *   toc: false                   # a contents page in every document's PDF
 *   ragged: false                # PDF: ragged-right text
 *   hyphenate: true              # PDF: hyphenation
 *   exclude: [drafts]             # Markdown files that are not part of the site
 *   pdf:                         # which documents get a PDF (default: all)
 *     include: ["**"]
 *     exclude: []
 *     where: {templateKey: blog-post}
 *   book:                        # the blog as one EPUB and one PDF (default: every dated document)
 *     file: blog                 # OUT/blog.epub and OUT/blog.pdf
 *     title: ...  author: ...  description: ...  publisher: ...  cover: /img/cover.png
 *     order: date                # date (oldest first) or -date
 *     toc: true                  # the PDF's contents pages
 *     include: [pages/blog]  exclude: []  where: {templateKey: blog-post}
 *
 * Unknown keys and values of the wrong type are errors reported as
 * "octavo.yaml:line:column: error: message".
 */
#ifndef OCTAVO_CLI_CONFIG_H
#define OCTAVO_CLI_CONFIG_H
#include <stddef.h>

#include "octavo.h"

typedef struct cli_strlist {
    char **v;
    size_t n;
} cli_strlist;

/** One frontmatter condition: the value at a dotted path equals one of values (a sequence in the
 *  frontmatter matches when any of its scalars does). */
typedef struct cli_where {
    char *path;
    cli_strlist values;
} cli_where;

/** A selection of documents: include globs (none: all), exclude globs, frontmatter conditions. */
typedef struct cli_select {
    int given;               /* the section (or one of its keys) was in the file */
    cli_strlist include, exclude;
    cli_where *where;
    size_t nwhere;
} cli_select;

typedef struct cli_config {
    char *file;              /* the path used in messages; NULL when there is no file */
    char *text;              /* the file's bytes (they key the incremental build), or NULL */
    size_t len;
    char *title, *description, *base_url, *lang, *author, *paper;
    int trusted, toc, ragged, hyphenate;   /* -1: not set */
    double margin;                         /* < 0: not set */
    cli_strlist exclude;
    cli_select pdf;
    struct {
        char *file, *title, *author, *description, *publisher, *cover;
        int order;           /* OCTAVO_ORDER_DATE or OCTAVO_ORDER_DATE_DESC */
        int toc;             /* default 1 */
        cli_select sel;
    } book;
} cli_config;

/** Reads SITE_DIR/octavo.yaml (or path, when not NULL) into cfg. Returns 0 when it was read or
 *  when there is none (then cfg holds the defaults), -1 after printing every error found. */
int cli_config_load(cli_config *cfg, const char *site_dir, const char *path);
/** Sets the handle options the configuration names (command-line options applied later win). */
int cli_config_apply(const cli_config *cfg, octavo_options *opt);
void cli_config_free(cli_config *cfg);

/** 1 when the relative path rel matches the glob ("*" and "?" stop at "/", "**" does not;
 *  a pattern without "/" matches the file name in any folder). */
int cli_glob_match(const char *pattern, const char *rel);
/** 1 when a document (its path relative to the site and its frontmatter) is selected. */
int cli_select_match(const cli_select *sel, const char *rel, const octavo_doc *doc);
/** 1 when sel can be decided without loading the document (it has no frontmatter condition). */
int cli_select_needs_doc(const cli_select *sel);
#endif
