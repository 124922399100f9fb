/*
 * Internals shared by the stages of the pipeline. Nothing here is installed or exported.
 *
 *   source.c    bytes -> BOM/CRLF/UTF-8 checks, frontmatter split with positions
 *   meta.c      frontmatter YAML (libyaml) -> octavo_meta tree, typed getters
 *   document.c  Markdown (cmark-gfm) -> AST; title, author, summary; octavo_doc_* API
 *   model.c     AST -> normalised DOM (libxml2): raw HTML parsed and sanitised, heading levels
 *               fitted, unique ids, positions kept as data-sourcepos; what every backend walks
 *   resource.c  resolver: resource root confinement, built-in file reader, remote detection
 *   image.c     image decoding/encoding (PNG, JPEG, WebP, GIF), limits, conversion cache
 *   html.c      DOM -> HTML5 page or fragment
 *   epub.c      DOM -> XHTML chapters -> EPUB 3 (libzip)
 *   layout.c    DOM -> positioned boxes on pages (font metrics in, boxes out)
 *   pdf.c       boxes -> PDF via libharu (every libharu workaround lives there)
 *   book.c      octavo_book: ordering, metadata, dispatch to epub.c / pdf
 *   output.c    sinks: write callback, memory buffer, atomic file
 *   context.c   octavo handle, options, errors, diagnostics, allocation
 *
 * Internal names are prefixed ov_; functions private to a file are static.
 */
#ifndef OCTAVO_INTERNAL_H
#define OCTAVO_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "octavo.h"

typedef struct cmark_node cmark_node;

#if defined(__GNUC__)
#define OV_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define OV_PRINTF(a, b)
#endif

/* ---- allocation (context.c). Every internal allocation goes through these, so that tests can
 * make the n-th one fail (ov_alloc_fail_after) and count what is still live. */
void *ov_malloc(size_t n);
void *ov_calloc(size_t n, size_t size);
void *ov_realloc(void *p, size_t n);
void ov_free(void *p);
char *ov_strdup(const char *s);
char *ov_strndup(const char *s, size_t n);

/* ---- growable byte buffer (buf.c). After a failed allocation .failed is set and later puts are
 * no-ops, so a chain of puts is checked once at its end. */
typedef struct ov_buf {
    char *data;   /* always NUL-terminated when non-NULL */
    size_t len, cap;
    int failed;
} ov_buf;
void ov_buf_init(ov_buf *b);
void ov_buf_free(ov_buf *b);
int ov_buf_put(ov_buf *b, const void *p, size_t n);
int ov_buf_puts(ov_buf *b, const char *s);
int ov_buf_putc(ov_buf *b, int c);
int ov_buf_printf(ov_buf *b, const char *fmt, ...) OV_PRINTF(2, 3);
/** Escapes & < > " ' for XML/HTML text and attributes. */
int ov_buf_put_xml(ov_buf *b, const char *s, size_t n);
int ov_buf_puts_xml(ov_buf *b, const char *s);
/** Hands the data to the caller (ov_free it); the buffer is empty afterwards. */
char *ov_buf_detach(ov_buf *b, size_t *len);

/* ---- errors and diagnostics (context.c) */
/** Fills err (may be NULL) and returns code. */
int ov_error(octavo_error *err, int code, int stage, const char *file, unsigned line, unsigned col,
             const char *fmt, ...) OV_PRINTF(7, 8);
/** Sends a warning to the handle's diagnostics callback. */
void ov_warn(const octavo *ov, int code, const char *file, unsigned line, unsigned col, const char *fmt, ...)
    OV_PRINTF(6, 7);

/* ---- the handle (context.c) */
struct octavo {
    octavo_options opt;        /* strings below are the handle's own copies */
    char *resource_root;       /* realpath of the root, or NULL */
    char *base_url;            /* always ends in '/' when set */
    char *lang;
    char *default_author;
    char *cache_dir;           /* resolved cache folder, NULL when off */
    char *html_template;
};

/* ---- source (source.c) */
typedef struct ov_source {
    const char *text;          /* the original bytes (BOM included) */
    size_t len;
    size_t fm_start, fm_len;   /* the YAML between the delimiters (0,0: none) */
    unsigned fm_line;          /* 1-based line of the first YAML line */
    size_t body_start;         /* where the Markdown starts */
    unsigned body_line;        /* 1-based line of the body's first line */
    int has_frontmatter;
} ov_source;
/** Checks UTF-8 and splits frontmatter and body; errors carry positions. */
int ov_source_split(const octavo *ov, const char *name, const char *text, size_t len, ov_source *out,
                    octavo_error *err);
/** 1-based line and column (in characters) of a byte offset. */
void ov_source_position(const char *text, size_t len, size_t offset, unsigned *line, unsigned *col);

/* ---- frontmatter tree (meta.c) */
struct octavo_meta {
    octavo_meta_type type;
    unsigned line, column;
    char *text;                /* scalars */
    int plain;                 /* a plain (unquoted) scalar: typed getters may read it */
    size_t count;              /* maps and sequences */
    char **keys;               /* maps */
    octavo_meta **items;
};
/** Parses YAML (a map, or nothing) into a tree; positions are offset by line_offset. */
int ov_meta_parse(const octavo *ov, const char *name, const char *yaml, size_t len, unsigned first_line,
                  octavo_meta **out, octavo_error *err);
void ov_meta_free(octavo_meta *m);

/* ---- documents (document.c) */
typedef struct ov_heading {
    xmlNodePtr node;           /* the h2..h6 element in the DOM */
    int level;                 /* fitted level: 2..6 (the document title is level 1) */
    char *id;                  /* unique slug */
    char *text;                /* plain text */
} ov_heading;

struct octavo_doc {
    octavo *ov;
    char *name;                /* as given */
    char *text;                /* the original bytes, owned */
    size_t len;
    ov_source src;
    octavo_meta *meta;         /* root map, never NULL */
    cmark_node *ast;           /* the Markdown body, once parsed (ov_doc_parse) */
    char *title;               /* the title rule's result */
    int title_from_heading;    /* the title is the first heading, which the body then leaves out */
    char *summary;
    char *author;              /* the frontmatter's author(s), a list joined ("A, B and C"), or NULL */
    const char **authors;      /* each of them (the meta's strings), nauthors of them */
    size_t nauthors;
    unsigned pdf_pages;        /* set by the PDF renderer */
    /* the model, built on first use (model.c) */
    xmlDocPtr dom;
    xmlNodePtr body;           /* a <div> holding the content */
    ov_heading *headings;
    size_t nheadings;
    int model_code;            /* the model's build result, once built */
};

/** Parses the Markdown body once, on first use, and checks the limits on its tree (an error with
 *  the position then, and the next call tries again). Returns an octavo_code. */
int ov_doc_parse(octavo_doc *doc, octavo_error *err);
/** Builds the normalised DOM once (lazily). Returns an octavo_code. */
int ov_model_build(octavo_doc *doc, octavo_error *err);
/** The document's authors one by one (the frontmatter's, else the handle's default author);
 *  *names is owned by the document. Returns their number (0: none). */
size_t ov_doc_authors(const octavo_doc *doc, const char *const **names);
void ov_model_free(octavo_doc *doc);
/** 1-based line and column in the original file of the nearest positioned ancestor of node. */
void ov_model_position(const octavo_doc *doc, xmlNodePtr node, unsigned *line, unsigned *col);
/** Plain text of a DOM subtree (whitespace collapsed), ov_free it. */
char *ov_model_text(xmlNodePtr node);

/* ---- resources (resource.c) */
/** 1 for http:, https:, //host and other absolute URLs with a scheme, 0 for local targets. */
int ov_is_remote(const char *target);
/** path made absolute (against base, or the working folder when base is NULL) with "//", "." and
 *  ".." collapsed (".." stops at "/"); ov_free it; NULL when out of memory. */
char *ov_path_absolute(const char *base, const char *path);
/** 1 when target starts with a URL scheme of two or more characters ("https:", "mailto:", "data:"). */
int ov_url_has_scheme(const char *target);
/** Resolves a target of doc to bytes through the caller's resolver or the built-in one. */
int ov_resolve(const octavo_doc *doc, const char *target, octavo_blob *out, octavo_error *err);
void ov_blob_release(octavo_blob *b);
/** The path of a local target relative to the resource root ("img/x.webp"), normalised, checked
 *  against the root (no escape, symlinks included); NULL with err when it cannot be had. */
char *ov_resolve_relpath(const octavo_doc *doc, const char *target, octavo_error *err);

/* ---- the source index (cache.c): a local source's SHA-256 remembered with the stat facts it
 * had when hashed, so that a rebuild trusts an unchanged file without reading it. path is the
 * canonical (real) path. get: 1 when the entry matches st exactly (sha, flags filled), else 0.
 * put: records it unless the cache is off or the file changed within a margin of read_at (the
 * time taken before st and before the bytes were read). flags: 8 bits of the caller's. */
struct stat;
struct timespec;
int ov_cache_src_get(const octavo *ov, const char *path, const struct stat *st, unsigned char sha[32],
                     unsigned *flags, char *trust, size_t trust_size);
void ov_cache_src_put(const octavo *ov, const char *path, const struct stat *st, const struct timespec *read_at,
                      const unsigned char sha[32], unsigned flags, const char *token);
/** The entry's trust (src_get: *trust, "" when none; src_put: token, NULL or "" for none) is a
 *  token of ov_cache_peek_trust: a cache entry it checked whole, by name and stat. Given back as
 *  trust while the entry's stat is the same, the peek reads only the head (the CRC is checked
 *  when the bytes are copied). token (>= 512 bytes) is set when the entry was checked and is
 *  older than the racily-clean margin, else "". The rest as ov_cache_peek (image.h). */
int ov_cache_peek_trust(const octavo *ov, const char *key, unsigned char *head, size_t head_size, size_t *head_len,
                        size_t *len, uint32_t *crc_out, char **path_out, const char *trust, char *token,
                        size_t token_size);
/** Tests only: the racily-clean margin in nanoseconds (default 1 s). */
void ov_test_src_index_margin(long ns);
/** Tests only: the threads an EPUB's chapter models are built on (0: one per core, from 4
 *  chapters on). */
void ov_test_epub_threads(int n);
/** Tests only: s writes into fd as an atomic output file's sink does (ov_sink_fd gives fd). */
struct ov_sink;
void ov_test_fd_sink(struct ov_sink *s, int fd);
/** Tests only: the EPUB chapters reused whole from the chapter cache since the last call. */
size_t ov_test_epub_reused(void);

/* ---- sinks (output.c) */
typedef struct ov_sink {
    octavo_write_fn write;
    void *ud;
    size_t written;
    size_t limit;              /* limits.output_bytes */
    int failed;
} ov_sink;
int ov_sink_write(ov_sink *s, const void *p, size_t n);
/** The file descriptor of an atomic-file sink (octavo_*_render_file), else -1. Such a sink may
 *  be written at offsets from its first byte with ov_sink_pwrite (the limit and failures count as
 *  for ov_sink_write; written becomes the furthest byte), then ov_sink_pwrite_end puts the file
 *  offset at that end. 0 or -1. */
int ov_sink_fd(const ov_sink *s);
int ov_sink_pwrite(ov_sink *s, const void *p, size_t n, uint64_t off);
int ov_sink_pwrite_end(ov_sink *s);
/** The render's result once the sink has had its say: a failed write or the output limit wins. */
int ov_sink_result(ov_sink *s, int rc, const char *name, octavo_error *err);

/* ---- backends. Each renders to a sink; book renderers take the ordered documents. */
int ov_html_render(const octavo_doc *doc, ov_sink *out, octavo_error *err);
int ov_epub_render(octavo_book *book, ov_sink *out, octavo_error *err);
int ov_pdf_render_doc(octavo_doc *doc, ov_sink *out, octavo_error *err);
int ov_pdf_render_book(octavo_book *book, ov_sink *out, octavo_error *err);

/* ---- books (book.c) */
struct octavo_book {
    octavo *ov;
    octavo_doc **docs;         /* in the order chosen */
    size_t ndocs, cap;
    octavo_order order;
    char *title, *lang, *description, *publisher, *identifier, *date, *cover;
    char **authors;
    size_t nauthors;
    unsigned pdf_pages;
};
/** A temporary book around one document (for octavo_render_epub). */
int ov_book_single(octavo_doc *doc, octavo_book *tmp);
/** The key a document is found by among its book's: path made absolute (against base, or the
 *  working folder) without its page extension (".md", ".html", ...). ov_free it. */
char *ov_book_key(const char *path, const char *base);
/** The index among keys[0..n) of the document a local link path names from document `from`:
 *  site-absolute ("/blog/x": the document whose path ends so, or that folder's index), else
 *  relative to from's folder (or to from as a folder, for pretty URLs). -1 when none. */
long ov_book_find(char *const *keys, size_t n, long from, const char *path);
/** Sorts the book's documents as its order asks (stable). */
void ov_book_sort(octavo_book *book);

/* ---- small helpers (util.c) */
/** A GitHub-style slug of text: lower case, spaces to '-', punctuation dropped. ov_free it. */
char *ov_slug(const char *text);
/** Whether s is valid UTF-8; on failure *bad is the offset of the first bad byte. */
int ov_utf8_valid(const char *s, size_t n, size_t *bad);
/** Decodes one UTF-8 character at s (n bytes left); returns its length, *cp the code point. */
int ov_utf8_decode(const char *s, size_t n, uint32_t *cp);
/** SHA-256 of data into out (32 bytes), for content-derived identifiers and cache keys. */
void ov_sha256(const void *data, size_t len, unsigned char out[32]);
/** A fast 128-bit hash (not a digest: it tells inputs apart and is the same for the same input;
 *  about 2 instructions a byte where SHA-256 takes 45). Start from any two seeds, feed pieces in
 *  order: the PDF's /ID, the shaped-word cache's document key. */
typedef struct ov_hash128 {
    uint64_t a, b;
} ov_hash128;
void ov_hash128_feed(ov_hash128 *h, const void *data, size_t n);
/** d as lower-case hex into out (2 n + 1 bytes, NUL-terminated). */
void ov_hex(const unsigned char *d, size_t n, char *out);
/** n (1..8) bytes little-endian: written from v, or read. */
void ov_le_put(unsigned char *p, uint64_t v, int n);
uint64_t ov_le_get(const unsigned char *p, int n);
/** The library's build identity (its GNU build-id), *len bytes: part of the keys of caches whose
 *  entries this code's output fills (EPUB chapters). */
const unsigned char *ov_build_id(size_t *len);
/** Formats a time as RFC 3339 UTC ("2022-01-26T01:32:05Z") into buf (at least 32 bytes). */
void ov_time_rfc3339(const octavo_time *t, char *buf, size_t size);

#endif
