/* The collateral of a site: every document's PDF next to its HTML page, the blog as one EPUB and one
 * PDF, and downloads.html; built in parallel, incrementally (OUT_DIR/.octavo-manifest), with a
 * progress display, and without partial files when interrupted. */
#ifndef OCTAVO_CLI_COLLATERAL_H
#define OCTAVO_CLI_COLLATERAL_H
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "config.h"

/** `octavo site SITE_DIR -o OUT_DIR [options]`: returns the exit status. */
int collateral_main(int argc, char **argv);

/** The help text of the site command's own options. */
extern const char collateral_help[];

/* ---- helpers shared with the HTML bundle (site.c) */

/** Creates a folder and its parents; 0 or -1 (errno set). */
int coll_mkdirs(const char *path);
/** Writes data to path atomically (a hidden temporary in the same folder, renamed into place). */
int coll_write_file(const char *path, const void *data, size_t len);
/** Copies a file atomically unless dst exists with the same size and a modification time not older
 *  than src's. Returns 0, 1 when it copied, -1 on failure (errno set). */
int coll_copy_file(const char *src, const char *dst);
/** A growing string. */
typedef struct coll_str {
    char *s;
    size_t len, cap;
} coll_str;
void coll_puts(coll_str *b, const char *s);
void coll_putn(coll_str *b, const char *s, size_t n);
void coll_printf(coll_str *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Escapes text for HTML/XML content and attribute values. */
void coll_put_html(coll_str *b, const char *s);
/** A relative URL path: percent-encodes what a URL path must not hold raw (keeps '/'). */
void coll_put_url(coll_str *b, const char *path);
/** FNV-1a, 64 bits. */
uint64_t coll_hash(uint64_t h, const void *p, size_t n);
#define COLL_HASH_INIT 0xcbf29ce484222325ull

#endif
