/*
 * EPUB backend internals, shared by epub.c (the book: metadata, package documents, images, zip),
 * epub_xhtml.c (one chapter: the model's DOM -> EPUB XHTML) and epub_zip.c (a reproducible zip
 * through libzip). Nothing here is used outside these files.
 *
 * A chapter is walked twice by the same code (ov_epub_chapter_walk): first to collect what the
 * book needs before any chapter is written (the ids every element keeps, the sections for the
 * navigation, the images to pack), then to write the XHTML. Both walks take the same decisions in
 * the same order, so the second one reads the first one's results through cursors.
 */
#ifndef OCTAVO_EPUB_H
#define OCTAVO_EPUB_H

#include <time.h>
#include <zlib.h>

#include "image.h"
#include "internal.h"

/* An id of the chapter: as the source wrote it, and as the book writes it ("c3-intro"). */
typedef struct ov_epub_id {
    char *orig;
    char *id;
} ov_epub_id;

/* A section of a chapter for the navigation. */
typedef struct ov_epub_section {
    const char *id;            /* the chapter's id (owned by the chapter's ids) */
    char *text;
    int level;                 /* 2..6 */
} ov_epub_section;

typedef struct ov_epub_chapter {
    octavo_doc *doc;
    size_t index;              /* 1-based */
    char file[48];             /* "chapter-N.xhtml" */
    char *key;                 /* the document's path, absolute and normalised, without extension */
    char lang[64];
    ov_epub_id *ids;
    size_t nids, capids;
    size_t *by_orig, *by_id;   /* hash indexes into ids (index + 1; 0: empty slot) */
    size_t hcap;               /* slots of each, a power of two */
    int *imgs;                 /* per <img> in document order: an image of the book, or -1 */
    size_t nimgs, capimgs;
    ov_epub_section *secs;
    size_t nsecs, capsecs;
    /* the chapter cache (epub_cache.c) */
    char **img_src;            /* per <img>: the target registered by the first walk, or NULL */
    size_t nimg_src;
    size_t imgs_no_alt;        /* this chapter's <img> without alternative text */
    ov_buf warns;              /* the second walk's warnings, recorded for the cache */
    char ckey[72];             /* the entry's key ("" when the book is not cached) */
    int hit;                   /* the first walk's results came from the cache */
    unsigned char *centry;     /* the entry read (hit) */
    size_t centry_len;
    size_t cwarn_off, cwarn_len, cz_off, cz_len, csize; /* into centry: warnings, deflated bytes */
    uint32_t ccrc;
    unsigned char cbook[32];   /* the book digest the entry's XHTML was written against */
} ov_epub_chapter;

/* An image of the book, packed once. */
typedef struct ov_epub_image {
    const octavo_doc *doc;     /* the first document referring to it (to resolve the target) */
    char *target;              /* as written */
    char *relpath;             /* the resolved path under the resource root, or NULL */
    int code;                  /* the outcome of resolving and converting: 0 or an octavo_code */
    char message[OCTAVO_ERROR_SIZE];
    ov_image_out out;          /* the bytes to pack */
    unsigned char sha[32];     /* of the bytes as resolved, to pack equal images once */
    int alias;                 /* -1, or an earlier image with the same bytes */
    char *href;                /* "images/name.png", relative to the package document */
    octavo_blob blob;          /* the resolved bytes, until converted */
    size_t cost;               /* bytes of pixels its conversion decodes */
    char *cached;              /* found converted in the cache: the entry's file (out.data NULL) */
    uint32_t cached_crc;
    int have_sha;              /* sha is set */
} ov_epub_image;

typedef struct ov_epub {
    octavo_book *book;
    octavo *ov;
    ov_epub_chapter *ch;
    size_t nch;
    char **keys;               /* ch[i].key, borrowed, for ov_book_find */
    ov_epub_image *img;
    size_t nimg, capimg;
    int cover;                 /* the cover image, or -1 */
    size_t imgs_no_alt;        /* <img> elements of the chapters without alternative text */
    int nomem;                 /* an allocation failed where no code could be returned */
    int cached;                /* chapters go through the chapter cache */
    unsigned char digest[32];  /* what a chapter's XHTML reads of the rest of the book */
    octavo_error *err;
} ov_epub;

/* ---- epub_xhtml.c */
/** Collects (emit 0) or writes (emit 1, into out) chapter c. Returns an octavo_code. */
int ov_epub_chapter_walk(ov_epub *e, ov_epub_chapter *c, int emit, ov_buf *out);
/** Writes text escaped for XML, leaving out characters XML does not allow. */
void ov_epub_put_text(ov_buf *b, const char *s, size_t n, int attr);
/** Whether s is a language tag we can write (BCP 47 shape). */
int ov_epub_lang_ok(const char *s);

/** Adds an id the first walk collected (the chapter cache restoring a chapter). */
int ov_epub_id_add(ov_epub_chapter *c, const char *orig, const char *id);

/* ---- epub_cache.c: a chapter's first walk and its deflated XHTML, kept under a key of everything
 * the chapter is made from; its XHTML is reused while the rest of the book it refers to (the
 * book digest: other chapters' files and ids, the images' names and outcomes) is the same. */
/** Sets c->ckey and reads c's entry: c->hit when there is a sound one. Returns an octavo_code. */
int ov_epub_cache_lookup(ov_epub *e, ov_epub_chapter *c);
/** Restores a hit's first walk (in the book's order, as the walk would have run: it registers
 *  the chapter's images). Returns an octavo_code. */
int ov_epub_cache_apply(ov_epub *e, ov_epub_chapter *c);
/** Records the target of the chapter's next <img> (NULL: none) for the cache. 0, or -1 when out of memory. */
int ov_epub_img_src_add(ov_epub_chapter *c, const char *src);
/** e->digest, once the images are named. */
void ov_epub_cache_digest(ov_epub *e);
/** Whether c's cached XHTML can be used as it is; then its warnings are given again. */
int ov_epub_cache_usable(ov_epub *e, ov_epub_chapter *c);
/** Stores c (after its second walk) with its deflated XHTML. Failures only cost the next build. */
void ov_epub_cache_store(ov_epub *e, ov_epub_chapter *c, const unsigned char *z, size_t zlen, size_t size, uint32_t crc);

/* ---- epub_svg.c */
/** An SVG image cleaned for EPUB (no DOCTYPE, scripts, links, remote references, non-SVG
 *  attributes); *out is ov_free'd by the caller. On failure why says why. */
int ov_epub_svg_clean(const void *data, size_t len, unsigned char **out, size_t *out_len, char *why, size_t why_size);

/* ---- epub.c */
/** Registers an image target met in chapter c; returns its index in e->img or -1 when it is not
 *  to be packed (remote without a resolver of the caller's, a data: URL). */
int ov_epub_image_ref(ov_epub *e, ov_epub_chapter *c, const char *target);
/** The chapter whose document a local link target names, or NULL. */
ov_epub_chapter *ov_epub_find_chapter(ov_epub *e, ov_epub_chapter *from, const char *path);
/** The book's id for an id of chapter c as the source wrote it, or NULL. */
const char *ov_epub_id_lookup(const ov_epub_chapter *c, const char *orig);

/* ---- epub_zip.c: a zip written by libzip into the sink, entries in the order added, every entry
 * with the same timestamp, Unix permissions 0644, no extra fields, deflate at a fixed level. */
typedef struct ov_zipw ov_zipw;
/** A zip whose bytes go to the sink as they are final. */
int ov_zipw_open(ov_zipw **out, ov_sink *sink, time_t mtime, octavo_error *err);
/** Adds an entry. The data is copied unless take is set (then the zip frees it with ov_free, also
 *  on failure). compress 0 stores it. */
int ov_zipw_add(ov_zipw *z, const char *name, void *data, size_t len, int take, int compress, octavo_error *err);
/** Adds a stored entry whose bytes are [off, off + len) of the file at path, with CRC-32 crc: read
 *  when the archive is written, and checked against crc then (a mismatch fails the archive). */
int ov_zipw_add_file(ov_zipw *z, const char *name, const char *path, size_t off, size_t len, uint32_t crc,
                     octavo_error *err);
/** Text deflated apart from the writer, on any thread (one deflater per thread; a zeroed one is
 *  ready, ov_zip_deflater_end frees it): ov_zip_pack gives the deflated bytes (*out, ov_free),
 *  their size and the CRC-32 of data; ov_zipw_add_deflated adds them as the entry name (it takes
 *  data, also on failure). The bytes are those ov_zipw_add would deflate. */
typedef struct ov_zip_deflater {
    z_stream zs;
    int ready;
    unsigned char *buf;        /* deflated bytes (reused) */
    size_t cap;
} ov_zip_deflater;
int ov_zip_pack(ov_zip_deflater *d, const void *data, size_t len, unsigned char **out, size_t *out_len, uint32_t *crc);
void ov_zip_deflater_end(ov_zip_deflater *d);
int ov_zipw_add_deflated(ov_zipw *z, const char *name, unsigned char *data, size_t len, size_t size, uint32_t crc,
                         octavo_error *err);
/** Finishes the archive (the rest of its bytes go to the sink) and frees the writer. */
int ov_zipw_finish(ov_zipw *z, octavo_error *err);
/** Frees a writer that is not finished. NULL is a no-op. */
void ov_zipw_discard(ov_zipw *z);

#endif
