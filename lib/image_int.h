/* Private to image.c, image_codec.c and cache.c. */
#ifndef OCTAVO_IMAGE_INT_H
#define OCTAVO_IMAGE_INT_H

#include "image.h"

/** limits.image_pixels of the handle (the default when ov is NULL). */
size_t ov_image_limit_pixels(const octavo *ov);
/** OCTAVO_E_LIMIT naming limit.image_pixels when w x h exceeds it. */
int ov_image_check_pixels(const octavo *ov, unsigned w, unsigned h, octavo_error *err);
/** Fills err with OCTAVO_E_IMAGE (stage image) and returns it. */
int ov_image_fail(octavo_error *err, const char *fmt, ...) OV_PRINTF(2, 3);
/** libwebp's view of the headers: alpha, lossless, animation (size already probed). */
int ov_webp_features(const unsigned char *p, size_t len, ov_image_info *info, octavo_error *err);
/** A short string naming the codec library versions (at run time), for cache keys. */
void ov_image_codec_tag(char *buf, size_t size);

/** "<hex sha256 of data>-<tag>-<codec versions>", NUL-terminated; sha: the hash if known, or NULL. */
#define OV_IMAGE_KEY_SIZE 160
int ov_image_cache_key(const void *data, size_t len, const unsigned char *sha, const char *tag,
                       char key[OV_IMAGE_KEY_SIZE]);

/** Encoders for a conversion that frees the pixels right after (image.c's EPUB path): they give
 *  the pixel rows already encoded back to the system as they go, so the pixels and the growing
 *  output are never both held whole. px->data is unusable afterwards (only ov_pixels_free). */
int ov_image_encode_png_consume(ov_pixels *px, unsigned char **out, size_t *len);
int ov_image_encode_jpeg_consume(ov_pixels *px, int quality, unsigned char **out, size_t *len);

#endif
