/*
 * Images (image.c): probing, decoding, re-encoding and the converted-image cache, shared by the
 * EPUB backend (WebP -> PNG/JPEG) and the PDF backend (every format -> pixels or JPEG bytes).
 */
#ifndef OCTAVO_IMAGE_H
#define OCTAVO_IMAGE_H

#include "internal.h"

typedef enum ov_image_format {
    OV_IMG_UNKNOWN = 0,
    OV_IMG_PNG,
    OV_IMG_JPEG,
    OV_IMG_WEBP,
    OV_IMG_GIF,
    OV_IMG_SVG
} ov_image_format;

/** What the header says, read without decoding the pixels. */
typedef struct ov_image_info {
    ov_image_format format;
    unsigned width, height;    /* 0 for SVG without a size */
    int has_alpha;             /* an alpha channel or transparency */
    int lossless;              /* PNG, GIF, lossless WebP */
    int is_photo;              /* a lossy original (JPEG, lossy WebP) */
    const char *mime;          /* "image/png", ... */
    const char *ext;           /* "png", ... */
    /* added by the image engineer (additive): */
    int components;            /* JPEG: 1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK; PNG: channels of its color type */
    int adobe;                 /* JPEG: an Adobe APP14 marker (CMYK is then stored inverted) */
    int progressive;           /* JPEG: progressive */
    int animated;              /* WebP: an animation (its first frame is what ov_image_decode gives) */
    int orientation;           /* JPEG: the EXIF orientation, 1 (as stored) to 8; width and height above
                                  are as displayed, and ov_image_decode turns the pixels upright */
} ov_image_info;

/** The format by magic bytes only (no size check); OV_IMG_UNKNOWN when none we know. */
ov_image_format ov_image_sniff(const void *data, size_t len);

/** Reads the header. OCTAVO_E_IMAGE when the bytes are no image we know or are truncated before
 *  the size; OCTAVO_E_LIMIT when width x height exceeds limits.image_pixels (before any decoding). */
int ov_image_probe(const octavo *ov, const void *data, size_t len, ov_image_info *info, octavo_error *err);

/** Decoded pixels, 8 bits per channel, rows top to bottom, no padding. */
typedef struct ov_pixels {
    unsigned width, height;
    int channels;              /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    unsigned char *data;       /* ov_free */
} ov_pixels;

/** Decodes PNG (any bit depth, interlaced, palette), JPEG, WebP or the first frame of a GIF or an
 *  animated WebP.
 *  Checks the pixel limit before decoding. */
/* Decodes a PNG, JPEG or GIF whole, row by row, keeping no pixels: OCTAVO_OK when it is sound,
 * OCTAVO_E_IMAGE (a corrupt or truncated image), OCTAVO_E_LIMIT or OCTAVO_E_NOMEM otherwise. Other
 * formats are not checked. */
int ov_image_verify(const octavo *ov, const void *data, size_t len, octavo_error *err);
int ov_image_decode(const octavo *ov, const void *data, size_t len, ov_pixels *out, octavo_error *err);
void ov_pixels_free(ov_pixels *px);
/** Drops an alpha channel that is fully opaque (4 -> 3, 2 -> 1 channels). */
void ov_pixels_drop_opaque_alpha(ov_pixels *px);
/** Turns pixels stored with an EXIF orientation (2..8) upright; 1 or others: no-op.
 *  ov_image_decode already does this for JPEG. */
int ov_pixels_orient(ov_pixels *px, int orientation);
/** Scales down (area averaging) so that neither side exceeds max_w x max_h; no-op when smaller. */
int ov_pixels_downscale(ov_pixels *px, unsigned max_w, unsigned max_h);
/** The size ov_pixels_downscale gives w x h pixels (the aspect kept, rounded, at least 1 x 1):
 *  1 when that is smaller than w x h, else 0 (*nw, *nh = w, h). */
int ov_pixels_fit_size(unsigned w, unsigned h, unsigned max_w, unsigned max_h, unsigned *nw, unsigned *nh);
/** ov_image_decode then ov_pixels_downscale to at most max_w x max_h, in one step where the codec
 *  can scale while decoding (a still WebP: libwebp's rescaler, a fractional area average, so no
 *  full-size pixels are ever held). The size is ov_pixels_fit_size's; the limits apply to the
 *  image's own size. Pixels as ov_image_decode's, alpha included even when opaque. */
int ov_image_decode_fit(const octavo *ov, const void *data, size_t len, unsigned max_w, unsigned max_h,
                        ov_pixels *out, octavo_error *err);

/** A buffer its owner keeps across calls (a worker thread's scratch), so that large temporary
 *  buffers are not taken fresh from the system for every image: fresh pages cost a fault each
 *  when first touched (5-25 us here). */
typedef struct ov_image_buf {
    unsigned char *p;
    size_t cap;
} ov_image_buf;
/** At least n bytes of b, contents not kept; NULL when out of memory (b keeps what it had). */
unsigned char *ov_image_buf_get(ov_image_buf *b, size_t n);
/** Frees b's memory; b is empty afterwards. */
void ov_image_buf_free(ov_image_buf *b);

/** A still WebP decoded as ov_image_decode_fit does, into scratch: out->data is scratch->p (never
 *  ov_pixels_free it; valid until scratch is used again). OCTAVO_E_ARG for any other image, or a
 *  size under 16 px to scale to (decode those with ov_image_decode_fit). */
int ov_image_webp_decode_into(const octavo *ov, const void *data, size_t len, unsigned max_w, unsigned max_h,
                              ov_image_buf *scratch, ov_pixels *out, octavo_error *err);

/** A lossy still WebP without alpha straight to a JPEG of that quality (its Y'CbCr 4:2:0 planes
 *  handed to libjpeg as they are: no RGB), scaled while decoding to at most max_w x max_h (0 x 0:
 *  its own size; ov_pixels_fit_size's size). *out is ov_free'd by the caller; *ow, *oh (may be
 *  NULL) get its size. scratch: where the planes are held (then kept), or NULL: allocated here and
 *  given back row by row as compressed (the least memory). OCTAVO_E_ARG for any other image, or a
 *  size under 16 px to scale to. */
int ov_image_webp_jpeg(const octavo *ov, const void *data, size_t len, unsigned max_w, unsigned max_h, int quality,
                       unsigned flags, ov_image_buf *scratch, unsigned char **out, size_t *outlen, unsigned *ow,
                       unsigned *oh, octavo_error *err);
/** ov_image_webp_jpeg flag: libjpeg's standard Huffman tables instead of optimised ones: one pass
 *  and no whole-image coefficient buffer (3 bytes a pixel, fresh pages): the corpus's cold PDF
 *  takes ~12% less CPU, its cold EPUB ~25%; the JPEG bytes are ~7% more. */
#define OV_JPEG_STD_HUFFMAN 1u

/** Encodes pixels; *out is ov_free'd by the caller. */
int ov_image_encode_png(const ov_pixels *px, unsigned char **out, size_t *len);
int ov_image_encode_jpeg(const ov_pixels *px, int quality, unsigned char **out, size_t *len);

/** An image made ready for a consumer that accepts only PNG, JPEG, GIF and SVG (EPUB, older
 *  readers): those pass through unchanged, WebP becomes PNG (lossless or alpha) or JPEG (photos).
 *  Conversions are kept in the handle's content-addressed cache (keyed by the SHA-256 of the input
 *  bytes and the conversion's version), so a rebuild never converts twice. */
typedef struct ov_image_out {
    unsigned char *data;       /* ov_free */
    size_t len;
    const char *mime;
    const char *ext;
    unsigned width, height;
} ov_image_out;
int ov_image_for_epub(const octavo *ov, const void *data, size_t len, ov_image_out *out, octavo_error *err);
/** The same, given the SHA-256 of data that the caller already computed (NULL: computed here when
 *  needed), so that the bytes are hashed once. */
int ov_image_for_epub_sha(const octavo *ov, const void *data, size_t len, const unsigned char sha[32],
                          ov_image_out *out, octavo_error *err);

/** The cache: look up or store bytes under a key (hex string). Both are no-ops (miss / success)
 *  when the handle has no cache. Stores are atomic (temporary file + rename).
 *  ov_cache_get returns 1 on a hit (*data is the caller's, ov_free it) and 0 on a miss; an entry
 *  whose length or CRC-32 does not match what was stored is a miss. Keys are file names:
 *  [A-Za-z0-9._-], not starting with '.'. */
int ov_cache_get(const octavo *ov, const char *key, unsigned char **data, size_t *len);
/** Whether the handle has a cache to use (a folder, and OCTAVO_NO_CACHE not set). */
int ov_cache_on(const octavo *ov);
void ov_cache_put(const octavo *ov, const char *key, const void *data, size_t len);


/* Added for the warm EPUB build (streamed from the cache, held nowhere in memory): */
/** Where an entry's payload starts in its file. */
#define OV_CACHE_HDR 16
/** A hit like ov_cache_get's (length and CRC-32 checked) without holding the payload: *path
 *  (ov_free) names the entry file, the payload has *len bytes from offset OV_CACHE_HDR and CRC-32
 *  *crc; its first bytes, up to head_size, are copied to head (*head_len of them). 0: a miss. */
int ov_cache_peek(const octavo *ov, const char *key, unsigned char *head, size_t head_size, size_t *head_len,
                  size_t *len, uint32_t *crc, char **path);
/** ov_image_for_epub_sha's cache lookup alone, leaving the bytes in the cache: 1 when data is a
 *  WebP whose conversion is there and intact; then out has no data (out->len, mime, ext, size
 *  set) and *path, *crc are those of ov_cache_peek. 0 otherwise (convert with
 *  ov_image_for_epub_sha). sha: of data, or NULL. */
int ov_image_epub_cached(const octavo *ov, const void *data, size_t len, const unsigned char sha[32],
                         ov_image_out *out, char **path, uint32_t *crc);
/** The same for a WebP source known by its SHA-256 alone (the source index): png_first when it is
 *  lossless or has alpha (the conversion that was likelier stored); trust, token: those of
 *  ov_cache_peek_trust (internal.h), or NULL. */
int ov_image_epub_cached_sha(const octavo *ov, const unsigned char sha[32], int png_first, const char *trust,
                             char *token, size_t token_size, ov_image_out *out, char **path, uint32_t *crc);

#endif
