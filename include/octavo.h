/*
 * octavo — Markdown with YAML frontmatter to HTML pages, typeset PDF and EPUB 3.
 *
 * Usage, in a handful of calls:
 *
 *     octavo_options o;
 *     octavo_options_init(&o, sizeof o);
 *     o.resource_root = "site";                 // where /img/x.webp is looked up
 *     octavo *ov = octavo_new(&o, &err);
 *     octavo_doc *doc;
 *     if (octavo_doc_load_file(ov, "site/pages/post.md", &doc, &err) == OCTAVO_OK) {
 *         octavo_render_file(doc, OCTAVO_FORMAT_PDF, "post.pdf", &err);
 *         octavo_doc_free(doc);
 *     }
 *     octavo_free(ov);
 *
 * Conventions (see README.md, "Library"):
 *  - Every function that can fail returns an octavo_code (0 is OCTAVO_OK) and, when the caller
 *    passes an octavo_error, fills it with the code, the stage, the file, a 1-based line and column
 *    counted in the original file (frontmatter included) and a message.
 *  - Handles are opaque; every *_new/_load has its *_free, and *_free(NULL) is a no-op.
 *  - Output goes through a write callback (octavo_write_fn), a memory buffer or a file written
 *    atomically (a temporary file renamed into place, removed on failure).
 *  - Threads: an octavo handle is configured once and may then be shared by any number of threads
 *    that each load and render their own documents; the diagnostics, resolver and link callbacks
 *    may then be called from several threads at once. A document or book is used by one thread at
 *    a time.
 */
#ifndef OCTAVO_H
#define OCTAVO_H

#include <stddef.h>
#include <stdint.h>

#include "octavo_version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define OCTAVO_API
#elif defined(__GNUC__)
#define OCTAVO_API __attribute__((visibility("default")))
#else
#define OCTAVO_API
#endif

/* ---------------------------------------------------------------------------------------------
 * Version
 */

/** The library's version as "MAJOR.MINOR.PATCH" (static string). */
OCTAVO_API const char *octavo_version(void);
/** The library's version as OCTAVO_VERSION_NUMBER packs it (MAJOR << 16 | MINOR << 8 | PATCH). */
OCTAVO_API unsigned octavo_version_number(void);

/* ---------------------------------------------------------------------------------------------
 * Errors. Codes are never reused nor renumbered; new ones are added at the end.
 */
typedef enum octavo_code {
    OCTAVO_OK = 0,
    OCTAVO_E_NOMEM = 1,          /* an allocation failed */
    OCTAVO_E_ARG = 2,            /* a bad argument or option value */
    OCTAVO_E_VERSION = 3,        /* an options struct of a size this library does not know */
    OCTAVO_E_IO = 4,             /* a file could not be read */
    OCTAVO_E_WRITE = 5,          /* the write callback failed, or the output file could not be written */
    OCTAVO_E_ENCODING = 6,       /* the input is not valid UTF-8 */
    OCTAVO_E_YAML = 7,           /* the frontmatter is not valid YAML */
    OCTAVO_E_FRONTMATTER = 8,    /* the frontmatter is valid YAML but not a map */
    OCTAVO_E_UNTERMINATED = 9,   /* a frontmatter opened with --- has no closing --- or ... */
    OCTAVO_E_LIMIT = 10,         /* a limit of the handle was reached; the message names it */
    OCTAVO_E_RESOURCE = 11,      /* an image or other resource could not be had */
    OCTAVO_E_ACCESS = 12,        /* a resource outside the resource root was refused */
    OCTAVO_E_IMAGE = 13,         /* an image could not be decoded */
    OCTAVO_E_FONT = 14,          /* no usable font */
    OCTAVO_E_PDF = 15,           /* the PDF backend failed */
    OCTAVO_E_ZIP = 16,           /* the EPUB container could not be written */
    OCTAVO_E_TEMPLATE = 17,      /* a page template is malformed */
    OCTAVO_E_TYPE = 18,          /* a metadata value is not of the requested type */
    OCTAVO_E_NOT_FOUND = 19,     /* a metadata path or resource does not exist */
    OCTAVO_E_FORMAT = 20,        /* an unknown output format */
    OCTAVO_E_INTERNAL = 21       /* a bug: please report it */
} octavo_code;

/** Where an error happened. */
typedef enum octavo_stage {
    OCTAVO_STAGE_NONE = 0,
    OCTAVO_STAGE_LOAD,           /* reading the source, UTF-8 */
    OCTAVO_STAGE_FRONTMATTER,    /* YAML */
    OCTAVO_STAGE_MARKDOWN,
    OCTAVO_STAGE_RESOURCE,       /* resolving images and links */
    OCTAVO_STAGE_IMAGE,
    OCTAVO_STAGE_HTML,
    OCTAVO_STAGE_EPUB,
    OCTAVO_STAGE_LAYOUT,
    OCTAVO_STAGE_PDF,
    OCTAVO_STAGE_OUTPUT
} octavo_stage;

#define OCTAVO_ERROR_SIZE 512
#define OCTAVO_PATH_SIZE 1024

/** An error, filled by any function that fails (when the caller passes one). */
typedef struct octavo_error {
    int code;                        /* an octavo_code */
    int stage;                       /* an octavo_stage */
    unsigned line, column;           /* 1-based, in the original file; 0 when unknown */
    size_t offset;                   /* byte offset in the original file */
    char file[OCTAVO_PATH_SIZE];     /* the document's name or path, "" when none */
    char message[OCTAVO_ERROR_SIZE]; /* a sentence, without the position */
} octavo_error;

/** A static, never NULL, English description of a code. */
OCTAVO_API const char *octavo_strerror(int code);

/** Formats an error as "file:line:column: error: message" (parts that are unknown are left out)
 *  into buf; returns the length it needed, like snprintf. */
OCTAVO_API int octavo_error_format(const octavo_error *err, char *buf, size_t size);

/* ---------------------------------------------------------------------------------------------
 * Diagnostics: warnings that do not stop a render (a missing image, a dead link, a missing glyph).
 */
typedef enum octavo_severity { OCTAVO_WARNING = 1, OCTAVO_NOTE = 2 } octavo_severity;

typedef struct octavo_diag {
    int severity;                   /* an octavo_severity */
    int code;                       /* an octavo_code describing the problem */
    const char *file;               /* the document's name, "" when none */
    unsigned line, column;          /* 1-based in the original file; 0 when unknown */
    const char *message;
} octavo_diag;

/** Receives a diagnostic; the pointers are valid during the call only. */
typedef void (*octavo_diag_fn)(void *ud, const octavo_diag *diag);

/* ---------------------------------------------------------------------------------------------
 * Resources. A resolver turns an image target into bytes.
 */

/** Bytes handed out by a resolver. The library calls release(release_ud, data) when done. */
typedef struct octavo_blob {
    const void *data;
    size_t len;
    void (*release)(void *release_ud, const void *data);
    void *release_ud;
} octavo_blob;

/**
 * Resolves target (as written in the document: "/img/x.webp", "a.png", "https://...") for the
 * document named doc_name. Returns OCTAVO_OK and fills out, or an octavo_code (OCTAVO_E_NOT_FOUND,
 * OCTAVO_E_ACCESS, ...): the library then treats the image as missing and warns.
 * With no resolver of the caller's, the built-in one reads files under resource_root only.
 */
typedef int (*octavo_resolve_fn)(void *ud, const char *doc_name, const char *target, octavo_blob *out);

/**
 * Rewrites a link or image target for the HTML backend (a site bundle maps "/blog/post" to
 * "../blog/post.html"). Writes the new target into out (NUL-terminated) and returns 1; returns 0
 * to keep the library's own handling, -1 to say the target exists nowhere (the link is dropped,
 * its text kept, and a warning given).
 */
typedef int (*octavo_link_fn)(void *ud, const char *doc_name, const char *target, char *out, size_t out_size);

/* ---------------------------------------------------------------------------------------------
 * Options and the octavo handle.
 */

/** Flag bits for octavo_options.flags. A bit's meaning never changes; retired bits stay unused. */
#define OCTAVO_TRUSTED      (1u << 0)  /* keep raw HTML (less script, style, handlers): trusted input */
#define OCTAVO_FRAGMENT     (1u << 1)  /* HTML: the body only, not a standalone page */
#define OCTAVO_RAGGED       (1u << 2)  /* PDF: ragged-right paragraphs instead of justified */
#define OCTAVO_TOC          (1u << 3)  /* a table of contents (PDF contents page, HTML nav) */
#define OCTAVO_NO_CACHE     (1u << 4)  /* do not use the cache (converted images, font subsets, shaped words) */
#define OCTAVO_NO_HYPHENATE (1u << 5)  /* PDF: no hyphenation */

typedef enum octavo_paper { OCTAVO_PAPER_A4 = 0, OCTAVO_PAPER_LETTER = 1 } octavo_paper;

/** Limits for hostile input; 0 means the default (see octavo_options_init). */
typedef struct octavo_limits {
    size_t input_bytes;     /* largest source document (default 16 MiB) */
    size_t nesting;         /* deepest Markdown nesting of blocks (default 256) */
    size_t yaml_depth;      /* deepest frontmatter nesting (default 64) */
    size_t yaml_nodes;      /* frontmatter nodes after alias expansion (default 100000) */
    size_t image_pixels;    /* width x height of one image (default 100 megapixels) */
    size_t image_bytes;     /* largest image file (default 64 MiB) */
    size_t table_columns;   /* columns of one table (default 200) */
    size_t table_cells;     /* cells of one table (default 200000) */
    size_t pages;           /* pages of one PDF (default 10000) */
    size_t output_bytes;    /* bytes of one output (default 1 GiB) */
} octavo_limits;

/**
 * Options of an octavo handle. Initialise with octavo_options_init(&o, sizeof o), then set fields.
 * Strings are copied by octavo_new.
 */
typedef struct octavo_options {
    size_t size;                 /* sizeof(octavo_options) as the caller knows it */
    unsigned flags;              /* OCTAVO_* flag bits */
    const char *resource_root;   /* folder that confines the built-in resolver; NULL: read no file */
    const char *base_url;        /* the site's address, e.g. "https://example.org/" or NULL */
    const char *lang;            /* default language when the frontmatter has no lang ("en") */
    const char *default_author;  /* author when the frontmatter has none (NULL) */
    const char *cache_dir;       /* the cache; NULL: $XDG_CACHE_HOME/octavo or ~/.cache/octavo */
    const char *html_template;   /* a page template replacing the built-in page (see README), or NULL */
    octavo_paper paper;          /* PDF page size */
    double margin_pt;            /* PDF page margin in points; 0: the default (56.7 pt = 2 cm) */
    octavo_diag_fn diag;         /* warnings; NULL: dropped */
    void *diag_ud;
    octavo_resolve_fn resolve;   /* NULL: the built-in resolver confined to resource_root */
    void *resolve_ud;
    octavo_link_fn link;         /* NULL: the library's own link handling */
    void *link_ud;
    octavo_limits limits;
} octavo_options;

/** Sets o to the defaults and o->size to size. Returns OCTAVO_E_VERSION if size is not one this
 *  library knows (then o is untouched). */
OCTAVO_API int octavo_options_init(octavo_options *o, size_t size);

/** Sets an option by name from a string, for configuration files and frontmatter keys:
 *  "trusted", "fragment", "ragged", "toc", "cache", "hyphenate" (booleans "true"/"false"),
 *  "resource_root", "base_url", "lang", "default_author", "cache_dir", "paper" ("a4", "letter"),
 *  "margin" (points), and the limits "limit.input_bytes" ... "limit.output_bytes".
 *  The strings stay the caller's: they must outlive the octavo_new that copies them.
 *  Returns OCTAVO_E_NOT_FOUND for an unknown name, OCTAVO_E_TYPE for a bad value. */
OCTAVO_API int octavo_options_set(octavo_options *o, const char *name, const char *value);

/** The handle: options, limits, callbacks and caches shared by the documents loaded with it. */
typedef struct octavo octavo;

/** Creates a handle from options (NULL: the defaults). Returns NULL and fills err on failure. */
OCTAVO_API octavo *octavo_new(const octavo_options *o, octavo_error *err);
/** Frees a handle; every document and book made with it must be freed first. NULL is a no-op. */
OCTAVO_API void octavo_free(octavo *ov);

/* ---------------------------------------------------------------------------------------------
 * Documents: YAML frontmatter + Markdown (cmark-gfm with tables, strikethrough, autolinks,
 * tagfilter, task lists and footnotes).
 */
typedef struct octavo_doc octavo_doc;

/** Loads a document from memory. name is used in messages and to resolve relative targets
 *  (a path relative to the resource root, or any label). On failure *out is NULL and err says why,
 *  with the position in the original bytes. The load reads the frontmatter and bounds the body
 *  (limit.input_bytes, and one pass for what would make the Markdown parser slow); the body is
 *  parsed when first needed: here when the title must come from its first heading, else by the
 *  first render or octavo_doc_summary(). A limit on the parsed body (limit.nesting, the table
 *  limits) is then that call's error, with the same position. */
OCTAVO_API int octavo_doc_load(octavo *ov, const char *name, const void *data, size_t len,
                               octavo_doc **out, octavo_error *err);
/** Parses the document's Markdown body now, if it is not yet (see octavo_doc_load), and reports
 *  what its first render would: a limit on the parsed body, with its position. For callers that
 *  want every error of a document before rendering anything. */
OCTAVO_API int octavo_doc_parse(octavo_doc *doc, octavo_error *err);
/** Loads a document from a file; its path is its name. */
OCTAVO_API int octavo_doc_load_file(octavo *ov, const char *path, octavo_doc **out, octavo_error *err);
/** Frees a document. NULL is a no-op. */
OCTAVO_API void octavo_doc_free(octavo_doc *doc);

/** Streaming: feed the source in pieces, then finish. */
typedef struct octavo_loader octavo_loader;
OCTAVO_API octavo_loader *octavo_loader_new(octavo *ov, const char *name);
OCTAVO_API int octavo_loader_feed(octavo_loader *ld, const void *data, size_t len, octavo_error *err);
/** Parses what was fed; frees the loader whatever the outcome. */
OCTAVO_API int octavo_loader_finish(octavo_loader *ld, octavo_doc **out, octavo_error *err);
/** Frees a loader that is not finished. NULL is a no-op. */
OCTAVO_API void octavo_loader_free(octavo_loader *ld);

/** The document's name as given to the loader. */
OCTAVO_API const char *octavo_doc_name(const octavo_doc *doc);
/** The title: the frontmatter title, else the text of the first heading, else the file name
 *  without folder and extension. Never NULL. Owned by the document. */
OCTAVO_API const char *octavo_doc_title(const octavo_doc *doc);
/** The author: the frontmatter's author or authors (a name, a {name: X} map, or a list of them,
 *  joined "A, B and C"), else the handle's default_author; NULL when none. */
OCTAVO_API const char *octavo_doc_author(const octavo_doc *doc);
/** The language (frontmatter lang, else the handle's lang). Never NULL. */
OCTAVO_API const char *octavo_doc_lang(const octavo_doc *doc);
/** A summary for indexes: description, seo.description, the text before <!-- more -->, or the
 *  first paragraph shortened at a word boundary to about max_chars characters. Owned by the
 *  document (valid until the next call or the document's free). Never NULL (maybe ""). */
OCTAVO_API const char *octavo_doc_summary(octavo_doc *doc, size_t max_chars);

/* ---------------------------------------------------------------------------------------------
 * Frontmatter: a typed tree of maps, sequences and scalars, owned by its document.
 */
typedef struct octavo_meta octavo_meta;

typedef enum octavo_meta_type {
    OCTAVO_META_NONE = 0,   /* a NULL node */
    OCTAVO_META_MAP,
    OCTAVO_META_SEQ,
    OCTAVO_META_SCALAR
} octavo_meta_type;

/** A point in time from a YAML timestamp. */
typedef struct octavo_time {
    int year, month, day;            /* the calendar date */
    int hour, minute, second;        /* 0 when the value is a date only */
    long nanosecond;
    int has_time;                    /* the value had a time of day */
    int has_zone;                    /* the value had Z or an offset */
    int zone_minutes;                /* the offset east of UTC, in minutes */
    int64_t epoch;                   /* seconds since 1970-01-01T00:00:00Z (no zone: read as UTC) */
} octavo_time;

/** The frontmatter's root map (an empty map when the document has none). Never NULL. */
OCTAVO_API const octavo_meta *octavo_doc_meta(const octavo_doc *doc);
/** Looks up a dotted path: "seo.description", "category.0.label". NULL when absent. */
OCTAVO_API const octavo_meta *octavo_meta_get(const octavo_meta *node, const char *path);
OCTAVO_API octavo_meta_type octavo_meta_kind(const octavo_meta *node);
/** Entries of a map or a sequence; 0 for a scalar or NULL. */
OCTAVO_API size_t octavo_meta_count(const octavo_meta *node);
/** The i-th value of a map or sequence, or NULL. */
OCTAVO_API const octavo_meta *octavo_meta_at(const octavo_meta *node, size_t i);
/** The i-th key of a map, or NULL. */
OCTAVO_API const char *octavo_meta_key(const octavo_meta *node, size_t i);
/** A scalar's text (folded and literal block scalars as YAML defines them), or NULL. */
OCTAVO_API const char *octavo_meta_string(const octavo_meta *node);
/** 1-based position of the node in the original file. */
OCTAVO_API unsigned octavo_meta_line(const octavo_meta *node);
OCTAVO_API unsigned octavo_meta_column(const octavo_meta *node);
/** Typed getters: OCTAVO_OK, OCTAVO_E_NOT_FOUND (NULL node) or OCTAVO_E_TYPE. */
OCTAVO_API int octavo_meta_int(const octavo_meta *node, long long *out);
OCTAVO_API int octavo_meta_bool(const octavo_meta *node, int *out);
OCTAVO_API int octavo_meta_double(const octavo_meta *node, double *out);
OCTAVO_API int octavo_meta_time(const octavo_meta *node, octavo_time *out);
/** Shorthand: the string at path in the document's frontmatter, or NULL. */
OCTAVO_API const char *octavo_doc_get(const octavo_doc *doc, const char *path);
/** The document's date (frontmatter date) as a time: OCTAVO_OK or OCTAVO_E_NOT_FOUND/TYPE. */
OCTAVO_API int octavo_doc_date(const octavo_doc *doc, octavo_time *out);

/* ---------------------------------------------------------------------------------------------
 * Output.
 */

/** Receives output bytes; return 0 to go on, nonzero to stop the render with OCTAVO_E_WRITE. */
typedef int (*octavo_write_fn)(void *ud, const void *data, size_t len);

typedef enum octavo_format {
    OCTAVO_FORMAT_HTML = 0,
    OCTAVO_FORMAT_EPUB = 1,
    OCTAVO_FORMAT_PDF = 2
} octavo_format;

/** The format a file name's extension names (.html/.htm, .epub, .pdf), or -1. */
OCTAVO_API int octavo_format_from_path(const char *path);

/** Renders a document as HTML (a standalone page, or the body with OCTAVO_FRAGMENT). */
OCTAVO_API int octavo_render_html(const octavo_doc *doc, octavo_write_fn write, void *ud, octavo_error *err);
/** Renders a document as an EPUB 3 book of one chapter. */
OCTAVO_API int octavo_render_epub(const octavo_doc *doc, octavo_write_fn write, void *ud, octavo_error *err);
/** Renders a document as a typeset PDF. */
OCTAVO_API int octavo_render_pdf(const octavo_doc *doc, octavo_write_fn write, void *ud, octavo_error *err);
/** Renders in the given format through a write callback. */
OCTAVO_API int octavo_render(const octavo_doc *doc, octavo_format fmt, octavo_write_fn write, void *ud,
                             octavo_error *err);
/** Renders into a file, atomically: the file is replaced only by a complete output. */
OCTAVO_API int octavo_render_file(const octavo_doc *doc, octavo_format fmt, const char *path, octavo_error *err);
/** Renders into memory: *out (free with octavo_buffer_free) and *len. */
OCTAVO_API int octavo_render_buffer(const octavo_doc *doc, octavo_format fmt, char **out, size_t *len,
                                    octavo_error *err);
/** Frees a buffer returned by octavo_render_buffer or octavo_book_render_buffer. NULL is a no-op. */
OCTAVO_API void octavo_buffer_free(char *buf);

/* ---------------------------------------------------------------------------------------------
 * Books: many documents as one EPUB or PDF (the blog as a book).
 */
typedef struct octavo_book octavo_book;

typedef enum octavo_order {
    OCTAVO_ORDER_GIVEN = 0,      /* as added */
    OCTAVO_ORDER_DATE = 1,       /* by frontmatter date, oldest first (undated last, as added) */
    OCTAVO_ORDER_DATE_DESC = 2   /* newest first */
} octavo_order;

OCTAVO_API octavo_book *octavo_book_new(octavo *ov);
/** Frees a book and the documents it owns. NULL is a no-op. */
OCTAVO_API void octavo_book_free(octavo_book *book);
/** Adds a document; the book owns it from then on (also on failure). */
OCTAVO_API int octavo_book_add(octavo_book *book, octavo_doc *doc, octavo_error *err);
/** Sets book metadata: "title", "author" (repeatable: each call adds one), "lang", "description",
 *  "publisher", "identifier", "date" (YYYY-MM-DD), "cover" (an image target, resolved like the
 *  documents' images). Strings are copied. */
OCTAVO_API int octavo_book_set(octavo_book *book, const char *key, const char *value);
OCTAVO_API int octavo_book_order(octavo_book *book, octavo_order order);
/** Number of documents in the book. */
OCTAVO_API size_t octavo_book_count(const octavo_book *book);
/** Renders the book as EPUB or PDF (OCTAVO_FORMAT_HTML is OCTAVO_E_FORMAT). */
OCTAVO_API int octavo_book_render(octavo_book *book, octavo_format fmt, octavo_write_fn write, void *ud,
                                  octavo_error *err);
OCTAVO_API int octavo_book_render_file(octavo_book *book, octavo_format fmt, const char *path, octavo_error *err);
OCTAVO_API int octavo_book_render_buffer(octavo_book *book, octavo_format fmt, char **out, size_t *len,
                                         octavo_error *err);

/* ---------------------------------------------------------------------------------------------
 * Facts about a rendered output, for indexes and download pages.
 */

/** The number of pages of the last PDF this document rendered, 0 when none was. */
OCTAVO_API unsigned octavo_doc_pdf_pages(const octavo_doc *doc);
/** The number of pages of the last PDF this book rendered, 0 when none was. */
OCTAVO_API unsigned octavo_book_pdf_pages(const octavo_book *book);

#ifdef __cplusplus
}
#endif
#endif /* OCTAVO_H */
