/*
 * Codecs: PNG (libpng), JPEG (libjpeg), WebP (libwebp), GIF (giflib) to 8-bit pixels, and pixels
 * back to PNG and JPEG in memory.
 *
 * libpng and libjpeg report errors by longjmp. Each decoder keeps everything it must free in a
 * heap-allocated job (so no automatic variable changes between setjmp and longjmp) and frees it
 * on the one exit path. The pixel limit is checked again on the header the codec itself reads.
 */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <gif_lib.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <webp/decode.h>
#include <webp/demux.h>
#include <zlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "image.h"
#include "image_int.h"

void ov_image_codec_tag(char *buf, size_t size) {
    int wv = WebPGetDecoderVersion();
    snprintf(buf, size, "w%d.%d.%d-p%lu-j%d-z%s", (wv >> 16) & 255, (wv >> 8) & 255, wv & 255,
             (unsigned long)png_access_version_number(), LIBJPEG_TURBO_VERSION_NUMBER, zlibVersion());
}

static int nomem(octavo_error *err) {
    return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_IMAGE, NULL, 0, 0, NULL);
}

/* Gives back the memory of pixel rows an encoder has consumed (the whole pages within
 * [base + from, base + to)) of pixels of total bytes: the caller frees the pixels afterwards and
 * never reads them again. The encoded output grows while the pixels shrink, so a conversion holds
 * one of the two, not both (measured: a 22 MB conversion's peak 22 -> 12 MB). Only for pixels of
 * DISCARD_MIN bytes or more: smaller ones often lie in a heap of huge pages (the CLI's book), where
 * each madvise splits a 2 MiB page and the next image faults the range back 4 KiB at a time
 * (measured on the cold blog EPUB: 371 madvise calls, 18-22k page faults -> 14k, CPU 1.0 -> 0.86 s,
 * the same 40-41 MB peak, which two images of under 16 MB at once do not decide). */
#define DISCARD_MIN ((size_t)16 << 20)
static void discard_rows(const unsigned char *base, size_t total, size_t from, size_t to) {
#if defined(__linux__) && defined(MADV_DONTNEED)
    if (total < DISCARD_MIN) return;
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0) return;
    uintptr_t a = ((uintptr_t)(base + from) + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    uintptr_t b = (uintptr_t)(base + to) & ~((uintptr_t)pg - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_DONTNEED);
#else
    (void)base; (void)total; (void)from; (void)to;
#endif
}
#define DISCARD_STEP ((size_t)1 << 20) /* bytes of consumed rows per madvise */


/* w x h x ch bytes, or NULL when that overflows or the allocation fails. */
static unsigned char *alloc_pixels(unsigned w, unsigned h, int ch) {
    uint64_t n = (uint64_t)w * h * (unsigned)ch;
    if (n > SIZE_MAX || n == 0) return NULL;
    return ov_malloc((size_t)n);
}

/* ================================================================================ PNG decode */

/* Palette of at most 256 RGBA colors found in px, or 0 when there are more (a small open hash). */
typedef struct palette {
    uint32_t color[256];
    int n;
    uint32_t slot_color[1024];
    short slot_index[1024]; /* -1: empty */
} palette;

typedef struct png_job {
    palette *pal;              /* encoder: the palette, when one fits */
    png_structp png;
    png_infop info;
    const unsigned char *data;
    size_t len, pos;
    unsigned char *pix;
    png_bytep *rows;
    unsigned char *out;        /* encoder output */
    size_t out_len, out_cap;
    int code;                  /* an octavo_code set before png_error, else OCTAVO_E_IMAGE */
    char msg[200];
} png_job;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_job *j = png_get_error_ptr(png);
    snprintf(j->msg, sizeof j->msg, "%s", msg ? msg : "error");
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void png_read_mem(png_structp png, png_bytep out, size_t n) {
    png_job *j = png_get_io_ptr(png);
    if (n > j->len - j->pos) png_error(png, "truncated data");
    memcpy(out, j->data + j->pos, n);
    j->pos += n;
}

static void png_job_free(png_job *j, int reading) {
    if (j->png) {
        if (reading) png_destroy_read_struct(&j->png, &j->info, NULL);
        else png_destroy_write_struct(&j->png, &j->info);
    }
    ov_free(j->rows);
    ov_free(j->pix);
    ov_free(j->out);
    ov_free(j->pal);
    ov_free(j);
}

static int decode_png(const octavo *ov, const unsigned char *data, size_t len, ov_pixels *out, octavo_error *err) {
    png_job *j = ov_calloc(1, sizeof *j);
    if (!j) return nomem(err);
    j->data = data;
    j->len = len;
    j->code = OCTAVO_E_IMAGE;
    j->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, j, png_on_error, png_on_warning);
    if (!j->png || !(j->info = png_create_info_struct(j->png))) {
        png_job_free(j, 1);
        return nomem(err);
    }
    if (setjmp(png_jmpbuf(j->png))) {
        int code = j->code;
        if (code == OCTAVO_E_IMAGE) ov_image_fail(err, "PNG: %s", j->msg);
        png_job_free(j, 1);
        return code;
    }
    png_set_read_fn(j->png, j, png_read_mem);
    png_read_info(j->png, j->info);
    png_uint_32 w = png_get_image_width(j->png, j->info), h = png_get_image_height(j->png, j->info);
    if (ov_image_check_pixels(ov, w, h, err)) {
        j->code = OCTAVO_E_LIMIT;
        png_longjmp(j->png, 1);
    }
    png_set_expand(j->png);      /* palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha */
    png_set_scale_16(j->png);    /* 16 -> 8 bits, rounded */
    int passes = 1;
    if (png_get_interlace_type(j->png, j->info) != PNG_INTERLACE_NONE) passes = png_set_interlace_handling(j->png);
    png_read_update_info(j->png, j->info);
    int ch = png_get_channels(j->png, j->info);
    size_t rowbytes = png_get_rowbytes(j->png, j->info);
    if (ch < 1 || ch > 4 || rowbytes != (size_t)w * ch) png_error(j->png, "unexpected row layout");
    if (!out) { /* verifying: every row of every pass through one row's buffer, nothing kept */
        j->pix = ov_malloc(rowbytes);
        if (!j->pix) {
            j->code = OCTAVO_E_NOMEM;
            nomem(err);
            png_longjmp(j->png, 1);
        }
        for (int pass = 0; pass < passes; pass++)
            for (png_uint_32 y = 0; y < h; y++) png_read_row(j->png, j->pix, NULL);
        png_read_end(j->png, NULL);
        png_job_free(j, 1);
        return OCTAVO_OK;
    }
    j->pix = alloc_pixels(w, h, ch);
    j->rows = ov_malloc((size_t)h * sizeof *j->rows);
    if (!j->pix || !j->rows) {
        j->code = OCTAVO_E_NOMEM;
        nomem(err);
        png_longjmp(j->png, 1);
    }
    for (png_uint_32 y = 0; y < h; y++) j->rows[y] = j->pix + (size_t)y * rowbytes;
    png_read_image(j->png, j->rows);
    png_read_end(j->png, NULL); /* the rest, so a truncated or corrupt tail is an error too */
    out->width = w;
    out->height = h;
    out->channels = ch;
    out->data = j->pix;
    j->pix = NULL;
    png_job_free(j, 1);
    return OCTAVO_OK;
}

/* ================================================================================ PNG encode */

static void png_write_mem(png_structp png, png_bytep p, size_t n) {
    png_job *j = png_get_io_ptr(png);
    if (n > j->out_cap - j->out_len) {
        size_t cap = j->out_cap ? j->out_cap : 65536;
        while (cap - j->out_len < n) {
            if (cap > SIZE_MAX / 2) { j->code = OCTAVO_E_NOMEM; png_error(png, "output too large"); }
            cap *= 2;
        }
        unsigned char *q = ov_realloc(j->out, cap);
        if (!q) { j->code = OCTAVO_E_NOMEM; png_error(png, "out of memory"); }
        j->out = q;
        j->out_cap = cap;
    }
    memcpy(j->out + j->out_len, p, n);
    j->out_len += n;
}

static void png_flush_mem(png_structp png) { (void)png; }

/* RGBA packed as 0xRRGGBBAA; only RGB and RGBA images are palettised. */
static inline uint32_t px_color(const unsigned char *q, int ch) {
    return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | (ch == 4 ? q[3] : 255u);
}

static int pal_index(palette *p, uint32_t c, int add) {
    unsigned h = (c * 2654435761u) >> 22;
    for (;;) {
        if (p->slot_index[h] < 0) {
            if (!add || p->n == 256) return -1;
            p->slot_color[h] = c;
            p->slot_index[h] = (short)p->n;
            p->color[p->n] = c;
            return p->n++;
        }
        if (p->slot_color[h] == c) return p->slot_index[h];
        h = (h + 1) & 1023;
    }
}

/* Whether px (RGB or RGBA) has at most 256 colors; fills p. Runs of one color cost a compare. */
static int find_palette(const ov_pixels *px, palette *p) {
    memset(p->slot_index, 0xff, sizeof p->slot_index);
    p->n = 0;
    size_t n = (size_t)px->width * px->height;
    const unsigned char *q = px->data;
    uint32_t last = 0;
    int have_last = 0;
    if (px->channels == 4) {
        for (size_t i = 0; i < n; i++, q += 4) {
            uint32_t c = px_color(q, 4);
            if (have_last && c == last) continue;
            if (pal_index(p, c, 1) < 0) return 0;
            last = c;
            have_last = 1;
        }
    } else {
        for (size_t i = 0; i < n; i++, q += 3) {
            uint32_t c = px_color(q, 3);
            if (have_last && c == last) continue;
            if (pal_index(p, c, 1) < 0) return 0;
            last = c;
            have_last = 1;
        }
    }
    return 1;
}

static int encode_png(const ov_pixels *px, int consume, unsigned char **out, size_t *len) {
    if (!px || !px->data || !px->width || !px->height || px->channels < 1 || px->channels > 4 || !out || !len)
        return OCTAVO_E_ARG;
    *out = NULL;
    *len = 0;
    png_job *j = ov_calloc(1, sizeof *j);
    if (!j) return OCTAVO_E_NOMEM;
    j->code = OCTAVO_E_IMAGE;
    /* RGB(A) with few colors becomes a palette image: a quarter of the bytes to deflate */
    if (px->channels >= 3) {
        j->pal = ov_malloc(sizeof *j->pal);
        if (!j->pal) { png_job_free(j, 0); return OCTAVO_E_NOMEM; }
        if (!find_palette(px, j->pal)) { ov_free(j->pal); j->pal = NULL; }
    }
    j->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, j, png_on_error, png_on_warning);
    if (!j->png || !(j->info = png_create_info_struct(j->png))) {
        png_job_free(j, 0);
        return OCTAVO_E_NOMEM;
    }
    if (setjmp(png_jmpbuf(j->png))) {
        int code = j->code;
        png_job_free(j, 0);
        return code;
    }
    png_set_write_fn(j->png, j, png_write_mem, png_flush_mem);
    png_set_compression_level(j->png, 6);
    unsigned w = px->width, h = px->height;
    size_t gone = 0, total = (size_t)h * w * px->channels; /* bytes of rows given back (consume), of all */
    static const int types[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                PNG_COLOR_TYPE_RGB_ALPHA};
    palette *pal = j->pal;
    if (pal) {
        int depth = pal->n <= 2 ? 1 : pal->n <= 4 ? 2 : pal->n <= 16 ? 4 : 8;
        png_color colors[256];
        png_byte trans[256];
        int ntrans = 0;
        for (int i = 0; i < pal->n; i++) {
            colors[i].red = (png_byte)(pal->color[i] >> 24);
            colors[i].green = (png_byte)(pal->color[i] >> 16);
            colors[i].blue = (png_byte)(pal->color[i] >> 8);
            trans[i] = (png_byte)pal->color[i];
            if (trans[i] != 255) ntrans = i + 1;
        }
        png_set_IHDR(j->png, j->info, w, h, depth, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_set_PLTE(j->png, j->info, colors, pal->n);
        if (ntrans) png_set_tRNS(j->png, j->info, trans, ntrans, NULL);
        /* palette images compress best unfiltered */
        png_set_filter(j->png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
        png_write_info(j->png, j->info);
        if (depth < 8) png_set_packing(j->png);
        j->pix = ov_malloc(w);
        if (!j->pix) { j->code = OCTAVO_E_NOMEM; png_error(j->png, "out of memory"); }
        const unsigned char *q = px->data;
        for (unsigned y = 0; y < h; y++) {
            uint32_t last = px_color(q, px->channels);
            int li = pal_index(pal, last, 0);
            for (unsigned x = 0; x < w; x++, q += px->channels) {
                uint32_t c = px_color(q, px->channels);
                if (c != last) { last = c; li = pal_index(pal, c, 0); }
                j->pix[x] = (unsigned char)li;
            }
            png_write_row(j->png, j->pix);
            size_t done = (size_t)(q - px->data);
            if (consume && (done - gone >= DISCARD_STEP || y + 1 == h)) { discard_rows(px->data, total, gone, done); gone = done; }
        }
    } else {
        png_set_IHDR(j->png, j->info, w, h, 8, types[px->channels], PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        /* Measured on the corpus (decoded lossy WebP with alpha): Paeth rows with run-length
         * deflate are 3-4x faster than libpng's adaptive filters at level 6, within 0-15% of
         * the size (the largest image: 400 ms -> 95 ms, 1.585 -> 1.584 MB). */
        png_set_filter(j->png, PNG_FILTER_TYPE_BASE, PNG_FILTER_PAETH);
        png_set_compression_strategy(j->png, Z_RLE);
        png_write_info(j->png, j->info);
        size_t stride = (size_t)w * px->channels;
        for (unsigned y = 0; y < h; y++) {
            png_write_row(j->png, px->data + (size_t)y * stride);
            size_t done = (size_t)(y + 1) * stride;
            if (consume && (done - gone >= DISCARD_STEP || y + 1 == h)) { discard_rows(px->data, total, gone, done); gone = done; }
        }
    }
    png_write_end(j->png, NULL);
    *out = j->out;
    *len = j->out_len;
    j->out = NULL;
    png_job_free(j, 0);
    return OCTAVO_OK;
}

int ov_image_encode_png(const ov_pixels *px, unsigned char **out, size_t *len) {
    return encode_png(px, 0, out, len);
}

/* As ov_image_encode_png, but px's rows are given back as they are written: px must be freed
 * without being read again. */
int ov_image_encode_png_consume(ov_pixels *px, unsigned char **out, size_t *len) {
    return encode_png(px, 1, out, len);
}

/* ================================================================================ JPEG */

/* Progressive files with thousands of tiny scans cost minutes for a few bytes: refuse them. */
#define JPEG_MAX_SCANS 1000

typedef struct jpeg_job {
    struct jpeg_error_mgr jerr;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    int code;
    union {
        struct jpeg_decompress_struct d;
        struct jpeg_compress_struct c;
    } u;
    int created;
    struct jpeg_progress_mgr progress;
    struct jpeg_destination_mgr dest;
    unsigned char *pix;
    unsigned char *row;
    unsigned char *out;
    size_t out_cap;
} jpeg_job;

static void jpeg_on_error(j_common_ptr c) {
    jpeg_job *j = (jpeg_job *)c->err;
    (*c->err->format_message)(c, j->msg);
    longjmp(j->jb, 1);
}

/* Warnings are silent, except premature end of data: a truncated file is an error. */
static void jpeg_on_message(j_common_ptr c, int level) {
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) jpeg_on_error(c);
    if (level < 0) c->err->num_warnings++;
}

static void jpeg_on_progress(j_common_ptr c) {
    jpeg_job *j = (jpeg_job *)c->err;
    if (c->is_decompressor && ((j_decompress_ptr)c)->input_scan_number > JPEG_MAX_SCANS) {
        snprintf(j->msg, sizeof j->msg, "more than %d scans", JPEG_MAX_SCANS);
        longjmp(j->jb, 1);
    }
}

static void jpeg_job_free(jpeg_job *j, int decompress) {
    if (j->created) {
        if (decompress) jpeg_destroy_decompress(&j->u.d);
        else jpeg_destroy_compress(&j->u.c);
    }
    ov_free(j->pix);
    ov_free(j->row);
    ov_free(j->out);
    ov_free(j);
}

static jpeg_job *jpeg_job_new(void) {
    jpeg_job *j = ov_calloc(1, sizeof *j);
    if (!j) return NULL;
    jpeg_std_error(&j->jerr);
    j->jerr.error_exit = jpeg_on_error;
    j->jerr.emit_message = jpeg_on_message;
    j->code = OCTAVO_E_IMAGE;
    return j;
}

static int decode_jpeg(const octavo *ov, const unsigned char *data, size_t len, ov_pixels *out, octavo_error *err) {
    jpeg_job *j = jpeg_job_new();
    if (!j) return nomem(err);
    j_decompress_ptr d = &j->u.d;
    d->err = &j->jerr;
    if (setjmp(j->jb)) {
        int code = j->code;
        if (code == OCTAVO_E_IMAGE) ov_image_fail(err, "JPEG: %s", j->msg);
        jpeg_job_free(j, 1);
        return code;
    }
    jpeg_create_decompress(d);
    j->created = 1;
    j->progress.progress_monitor = jpeg_on_progress;
    d->progress = &j->progress;
    jpeg_mem_src(d, data, (unsigned long)len);
    jpeg_read_header(d, TRUE);
    if (ov_image_check_pixels(ov, d->image_width, d->image_height, err)) {
        j->code = OCTAVO_E_LIMIT;
        longjmp(j->jb, 1);
    }
    int cmyk = d->jpeg_color_space == JCS_CMYK || d->jpeg_color_space == JCS_YCCK;
    int inverted = cmyk && d->saw_Adobe_marker;
    if (cmyk) d->out_color_space = JCS_CMYK;
    else if (d->jpeg_color_space == JCS_GRAYSCALE) d->out_color_space = JCS_GRAYSCALE;
    else d->out_color_space = JCS_RGB;
    jpeg_start_decompress(d);
    unsigned w = d->output_width, h = d->output_height;
    int ch = cmyk ? 3 : d->output_components;
    if ((!cmyk && ch != 1 && ch != 3) || (cmyk && d->output_components != 4)) {
        snprintf(j->msg, sizeof j->msg, "unexpected output components");
        longjmp(j->jb, 1);
    }
    if (!out) { /* verifying: every scanline through one row's buffer, nothing kept */
        j->row = ov_malloc((size_t)w * (size_t)d->output_components);
        if (!j->row) {
            j->code = OCTAVO_E_NOMEM;
            nomem(err);
            longjmp(j->jb, 1);
        }
        while (d->output_scanline < h) {
            JSAMPROW r = j->row;
            if (jpeg_read_scanlines(d, &r, 1) != 1) {
                snprintf(j->msg, sizeof j->msg, "no scanline");
                longjmp(j->jb, 1);
            }
        }
        jpeg_finish_decompress(d);
        jpeg_job_free(j, 1);
        return OCTAVO_OK;
    }
    j->pix = alloc_pixels(w, h, ch);
    if (cmyk) j->row = ov_malloc((size_t)w * 4);
    if (!j->pix || (cmyk && !j->row)) {
        j->code = OCTAVO_E_NOMEM;
        nomem(err);
        longjmp(j->jb, 1);
    }
    while (d->output_scanline < h) {
        unsigned char *dst = j->pix + (size_t)d->output_scanline * w * ch;
        JSAMPROW r = cmyk ? j->row : dst;
        if (jpeg_read_scanlines(d, &r, 1) != 1) {
            snprintf(j->msg, sizeof j->msg, "no scanline");
            longjmp(j->jb, 1);
        }
        if (cmyk) {
            const unsigned char *s = j->row;
            for (unsigned x = 0; x < w; x++, s += 4, dst += 3) {
                unsigned c = s[0], m = s[1], yy = s[2], k = s[3];
                if (!inverted) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
                /* here c, m, y, k are 255 - ink: RGB = (1 - ink) * (1 - black) */
                dst[0] = (unsigned char)((c * k + 127) / 255);
                dst[1] = (unsigned char)((m * k + 127) / 255);
                dst[2] = (unsigned char)((yy * k + 127) / 255);
            }
        }
    }
    jpeg_finish_decompress(d);
    out->width = w;
    out->height = h;
    out->channels = ch;
    out->data = j->pix;
    j->pix = NULL;
    jpeg_job_free(j, 1);
    return OCTAVO_OK;
}

/* A destination growing an ov_malloc'd block, so the caller can ov_free the result. */
#define JPEG_CHUNK 65536

static void jdest_init(j_compress_ptr c) {
    jpeg_job *j = (jpeg_job *)c->err;
    j->out = ov_malloc(JPEG_CHUNK);
    if (!j->out) { j->code = OCTAVO_E_NOMEM; ERREXIT1(c, JERR_OUT_OF_MEMORY, 0); }
    j->out_cap = JPEG_CHUNK;
    j->dest.next_output_byte = j->out;
    j->dest.free_in_buffer = j->out_cap;
}

static boolean jdest_empty(j_compress_ptr c) {
    jpeg_job *j = (jpeg_job *)c->err;
    size_t used = j->out_cap; /* the whole block is full when libjpeg calls this */
    if (j->out_cap > SIZE_MAX / 2) { j->code = OCTAVO_E_NOMEM; ERREXIT1(c, JERR_OUT_OF_MEMORY, 1); }
    unsigned char *q = ov_realloc(j->out, j->out_cap * 2);
    if (!q) { j->code = OCTAVO_E_NOMEM; ERREXIT1(c, JERR_OUT_OF_MEMORY, 2); }
    j->out = q;
    j->out_cap *= 2;
    j->dest.next_output_byte = j->out + used;
    j->dest.free_in_buffer = j->out_cap - used;
    return TRUE;
}

static void jdest_term(j_compress_ptr c) { (void)c; }

/* Starts j's compressor writing into j's memory destination (after the caller's setjmp: libjpeg
 * reports errors by jumping there). */
static void jpeg_compress_start(jpeg_job *j) {
    jpeg_create_compress(&j->u.c);
    j->created = 1;
    j->dest.init_destination = jdest_init;
    j->dest.empty_output_buffer = jdest_empty;
    j->dest.term_destination = jdest_term;
    j->u.c.dest = &j->dest;
}

static int encode_jpeg(const ov_pixels *px, int quality, int consume, unsigned char **out, size_t *len) {
    if (!px || !px->data || !px->width || !px->height || px->channels < 1 || px->channels > 4 || !out || !len)
        return OCTAVO_E_ARG;
    *out = NULL;
    *len = 0;
    if (quality < 1) quality = 1;
    if (quality > 100) quality = 100;
    jpeg_job *j = jpeg_job_new();
    if (!j) return OCTAVO_E_NOMEM;
    j_compress_ptr c = &j->u.c;
    c->err = &j->jerr;
    if (setjmp(j->jb)) {
        int code = j->code;
        jpeg_job_free(j, 0);
        return code;
    }
    jpeg_compress_start(j);
    int ch = px->channels, color = ch >= 3 ? 3 : 1;
    c->image_width = px->width;
    c->image_height = px->height;
    c->input_components = color;
    c->in_color_space = color == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(c);
    jpeg_set_quality(c, quality, TRUE);
    c->optimize_coding = TRUE;
    if (ch == 2 || ch == 4) { /* the alpha channel is left out (a PDF keeps it as a soft mask) */
        j->row = ov_malloc((size_t)px->width * color);
        if (!j->row) { j->code = OCTAVO_E_NOMEM; longjmp(j->jb, 1); }
    }
    jpeg_start_compress(c, TRUE);
    size_t stride = (size_t)px->width * ch, gone = 0;
    while (c->next_scanline < c->image_height) {
        const unsigned char *src = px->data + (size_t)c->next_scanline * stride;
        JSAMPROW r;
        if (j->row) {
            unsigned char *d = j->row;
            for (unsigned x = 0; x < px->width; x++, src += ch)
                for (int k = 0; k < color; k++) *d++ = src[k];
            r = j->row;
        } else {
            r = (JSAMPROW)src;
        }
        jpeg_write_scanlines(c, &r, 1);
        size_t done = (size_t)c->next_scanline * stride;
        if (consume && (done - gone >= DISCARD_STEP || c->next_scanline == c->image_height)) {
            discard_rows(px->data, (size_t)px->height * stride, gone, done);
            gone = done;
        }
    }
    jpeg_finish_compress(c);
    *len = j->out_cap - j->dest.free_in_buffer;
    *out = j->out;
    j->out = NULL;
    jpeg_job_free(j, 0);
    return OCTAVO_OK;
}


int ov_image_encode_jpeg(const ov_pixels *px, int quality, unsigned char **out, size_t *len) {
    return encode_jpeg(px, quality, 0, out, len);
}

/* As ov_image_encode_jpeg, but px's rows are given back as they are compressed: px must be
 * freed without being read again. */
int ov_image_encode_jpeg_consume(ov_pixels *px, int quality, unsigned char **out, size_t *len) {
    return encode_jpeg(px, quality, 1, out, len);
}

/* ================================================================================ WebP */

int ov_webp_features(const unsigned char *p, size_t len, ov_image_info *info, octavo_error *err) {
    WebPBitstreamFeatures f;
    VP8StatusCode st = WebPGetFeatures(p, len, &f);
    if (st != VP8_STATUS_OK) {
        if (st == VP8_STATUS_NOT_ENOUGH_DATA) return ov_image_fail(err, "WebP: truncated data");
        return ov_image_fail(err, "WebP: invalid headers (status %d)", (int)st);
    }
    info->width = (unsigned)f.width;
    info->height = (unsigned)f.height;
    info->has_alpha = f.has_alpha != 0;
    info->animated = f.has_animation != 0;
    info->lossless = f.format == 2;
    info->is_photo = f.format == 1;
    return OCTAVO_OK;
}

/* An animation: its first frame on the canvas. The canvas starts transparent (the background
 * color is a hint players ignore), so the frame lands as it is, whatever its blend mode; it is
 * decoded straight into its place (libwebpdemux finds it), so memory is the canvas, once. */
static int decode_webp_anim(const unsigned char *data, size_t len, ov_pixels *out, octavo_error *err) {
    WebPData wd = {data, len};
    WebPDemuxer *dmx = WebPDemux(&wd);
    if (!dmx) return ov_image_fail(err, "WebP: corrupt or truncated animation");
    WebPIterator it;
    unsigned cw = WebPDemuxGetI(dmx, WEBP_FF_CANVAS_WIDTH), ch = WebPDemuxGetI(dmx, WEBP_FF_CANVAS_HEIGHT);
    int rc = OCTAVO_OK;
    unsigned char *pix = NULL;
    if (!WebPDemuxGetFrame(dmx, 1, &it)) {
        rc = ov_image_fail(err, "WebP: an animation without frames");
        goto done;
    }
    if (!cw || !ch || it.x_offset < 0 || it.y_offset < 0 || it.width <= 0 || it.height <= 0 ||
        (unsigned)it.x_offset + (unsigned)it.width > cw || (unsigned)it.y_offset + (unsigned)it.height > ch) {
        rc = ov_image_fail(err, "WebP: a frame outside its canvas");
        goto release;
    }
    pix = ov_calloc((size_t)cw * ch, 4);
    if (!pix) {
        rc = nomem(err);
        goto release;
    }
    size_t stride = (size_t)cw * 4, at = (size_t)it.y_offset * stride + (size_t)it.x_offset * 4;
    if (!WebPDecodeRGBAInto(it.fragment.bytes, it.fragment.size, pix + at, (size_t)cw * ch * 4 - at, (int)stride)) {
        rc = ov_image_fail(err, "WebP: corrupt or truncated animation frame");
        ov_free(pix);
        goto release;
    }
    out->data = pix;
    out->width = cw;
    out->height = ch;
    out->channels = 4;
    ov_pixels_drop_opaque_alpha(out);
release:
    WebPDemuxReleaseIterator(&it);
done:
    WebPDemuxDelete(dmx);
    return rc;
}

static int decode_webp(const octavo *ov, const unsigned char *data, size_t len, ov_pixels *out, octavo_error *err) {
    ov_image_info info;
    memset(&info, 0, sizeof info);
    int rc = ov_webp_features(data, len, &info, err);
    if (rc) return rc;
    if ((rc = ov_image_check_pixels(ov, info.width, info.height, err))) return rc;
    if (info.animated) return decode_webp_anim(data, len, out, err);
    int ch = info.has_alpha ? 4 : 3;
    unsigned char *pix = alloc_pixels(info.width, info.height, ch);
    if (!pix) return nomem(err);
    size_t size = (size_t)info.width * info.height * ch;
    int stride = (int)(info.width * (unsigned)ch);
    uint8_t *r = ch == 4 ? WebPDecodeRGBAInto(data, len, pix, size, stride)
                         : WebPDecodeRGBInto(data, len, pix, size, stride);
    if (!r) {
        ov_free(pix);
        return ov_image_fail(err, "WebP: corrupt or truncated image data");
    }
    out->width = info.width;
    out->height = info.height;
    out->channels = ch;
    out->data = pix;
    return OCTAVO_OK;
}

/* ================================================================================ GIF */

typedef struct gif_reader {
    const unsigned char *data;
    size_t len, pos;
} gif_reader;

static int gif_read(GifFileType *g, GifByteType *buf, int n) {
    gif_reader *r = g->UserData;
    if (n <= 0) return 0;
    size_t k = (size_t)n;
    if (k > r->len - r->pos) k = r->len - r->pos;
    memcpy(buf, r->data + r->pos, k);
    r->pos += k;
    return (int)k;
}

/* The first frame composed on the logical screen: pixels it does not cover and its transparent
 * color are transparent (as browsers show them). */
static int decode_gif(const octavo *ov, const unsigned char *data, size_t len, ov_pixels *out, octavo_error *err) {
    gif_reader rd = {data, len, 0};
    int gerr = 0, rc = OCTAVO_OK;
    GifFileType *g = DGifOpen(&rd, gif_read, &gerr);
    if (!g) return ov_image_fail(err, "GIF: %s", GifErrorString(gerr) ? GifErrorString(gerr) : "cannot open");
    unsigned char *pix = NULL, *line = NULL;
    int transparent = -1;
    unsigned sw = (unsigned)g->SWidth, sh = (unsigned)g->SHeight;
    for (;;) {
        GifRecordType type;
        if (DGifGetRecordType(g, &type) == GIF_ERROR) { rc = ov_image_fail(err, "GIF: truncated or corrupt data"); break; }
        if (type == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext;
            if (DGifGetExtension(g, &code, &ext) == GIF_ERROR) { rc = ov_image_fail(err, "GIF: corrupt extension"); break; }
            if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4) transparent = (ext[1] & 1) ? ext[4] : -1;
            while (ext) {
                if (DGifGetExtensionNext(g, &ext) == GIF_ERROR) { rc = ov_image_fail(err, "GIF: corrupt extension"); break; }
            }
            if (rc) break;
            continue;
        }
        if (type != IMAGE_DESC_RECORD_TYPE) { rc = ov_image_fail(err, "GIF: no image"); break; }
        if (DGifGetImageDesc(g) == GIF_ERROR) { rc = ov_image_fail(err, "GIF: corrupt image descriptor"); break; }
        GifImageDesc *id = &g->Image;
        unsigned fl = (unsigned)id->Left, ft = (unsigned)id->Top, fw = (unsigned)id->Width, fh = (unsigned)id->Height;
        if (!sw || !sh) { sw = fl + fw; sh = ft + fh; }
        if (!fw || !fh || !sw || !sh) { rc = ov_image_fail(err, "GIF: size 0"); break; }
        if ((rc = ov_image_check_pixels(ov, sw, sh, err)) || (rc = ov_image_check_pixels(ov, fw, fh, err))) break;
        ColorMapObject *cm = id->ColorMap ? id->ColorMap : g->SColorMap;
        if (!cm || !cm->Colors) { rc = ov_image_fail(err, "GIF: no color table"); break; }
        /* calloc: untouched pages of a big screen cost no memory until a row lands there */
        pix = ov_calloc((size_t)sw * sh, 4);
        line = ov_malloc(fw);
        if (!pix || !line) { rc = nomem(err); break; }
        static const int start[] = {0, 4, 2, 1}, step[] = {8, 8, 4, 2};
        int passes = id->Interlace ? 4 : 1;
        for (int pass = 0; pass < passes && !rc; pass++) {
            unsigned y0 = id->Interlace ? (unsigned)start[pass] : 0, dy = id->Interlace ? (unsigned)step[pass] : 1;
            for (unsigned y = y0; y < fh; y += dy) {
                if (DGifGetLine(g, line, (int)fw) == GIF_ERROR) {
                    rc = ov_image_fail(err, "GIF: truncated or corrupt image data");
                    break;
                }
                unsigned sy = ft + y;
                if (sy >= sh) continue;
                unsigned char *d = pix + ((size_t)sy * sw + fl) * 4;
                for (unsigned x = 0; x < fw && fl + x < sw; x++, d += 4) {
                    int ix = line[x];
                    if (ix == transparent) continue;
                    if (ix < cm->ColorCount) {
                        d[0] = cm->Colors[ix].Red;
                        d[1] = cm->Colors[ix].Green;
                        d[2] = cm->Colors[ix].Blue;
                    } else {
                        d[0] = d[1] = d[2] = 0;
                    }
                    d[3] = 255;
                }
            }
        }
        break;
    }
    int cerr;
    DGifCloseFile(g, &cerr);
    ov_free(line);
    if (rc) {
        ov_free(pix);
        return rc;
    }
    out->width = sw;
    out->height = sh;
    out->channels = 4;
    out->data = pix;
    ov_pixels_drop_opaque_alpha(out);
    return OCTAVO_OK;
}

/* ================================================================================ dispatch */

int ov_image_verify(const octavo *ov, const void *data, size_t len, octavo_error *err) {
    ov_image_info info;
    int rc = ov_image_probe(ov, data, len, &info, err);
    if (rc) return rc;
    if (info.format == OV_IMG_PNG) return decode_png(ov, data, len, NULL, err);
    if (info.format == OV_IMG_JPEG) return decode_jpeg(ov, data, len, NULL, err);
    if (info.format == OV_IMG_GIF) { /* small: the first frame decoded as usual */
        ov_pixels px;
        if ((rc = decode_gif(ov, data, len, &px, err))) return rc;
        ov_pixels_free(&px);
    }
    return OCTAVO_OK;
}

int ov_image_decode(const octavo *ov, const void *data, size_t len, ov_pixels *out, octavo_error *err) {
    if (!out) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_IMAGE, NULL, 0, 0, "no output");
    memset(out, 0, sizeof *out);
    ov_image_info info;
    int rc = ov_image_probe(ov, data, len, &info, err);
    if (rc) return rc;
    switch (info.format) {
    case OV_IMG_PNG: return decode_png(ov, data, len, out, err);
    case OV_IMG_JPEG:
        if ((rc = decode_jpeg(ov, data, len, out, err))) return rc;
        if (info.orientation > 1 && (rc = ov_pixels_orient(out, info.orientation))) {
            ov_pixels_free(out);
            return nomem(err);
        }
        return OCTAVO_OK;
    case OV_IMG_WEBP: return decode_webp(ov, data, len, out, err);
    case OV_IMG_GIF: return decode_gif(ov, data, len, out, err);
    case OV_IMG_SVG: return ov_image_fail(err, "SVG images are not rasterised");
    default: return ov_image_fail(err, "not an image of a known format");
    }
}

/* Whether libwebp's rescaler is used for an output of nw x nh: not for slivers, where its 4:2:0
 * chroma rows (two source rows each) land a row off (1500 x 3 -> 100 x 1: mean error 12 against
 * the exact average); those are small to decode whole anyway. */
static int webp_scale_ok(unsigned nw, unsigned nh) { return nw >= 16 && nh >= 16; }

/* A still WebP decoded at nw x nh by libwebp's rescaler (a fractional area average, in YUV for
 * lossy images, alpha-premultiplied for lossless ones): closer to the exact average than
 * ov_pixels_downscale's integer boxes, about half the time of decoding whole, and never the
 * full-size pixels in memory. */
static int decode_webp_scaled(const unsigned char *data, size_t len, const ov_image_info *info, unsigned nw,
                              unsigned nh, ov_image_buf *into, ov_pixels *out, octavo_error *err) {
    WebPDecoderConfig cfg;
    if (!WebPInitDecoderConfig(&cfg)) return ov_image_fail(err, "WebP: decoder version mismatch");
    int ch = info->has_alpha ? 4 : 3;
    unsigned char *pix = into ? ov_image_buf_get(into, (size_t)nw * nh * (unsigned)ch) : alloc_pixels(nw, nh, ch);
    if (!pix) return nomem(err);
    if (nw != info->width || nh != info->height) {
        cfg.options.use_scaling = 1;
        cfg.options.scaled_width = (int)nw;
        cfg.options.scaled_height = (int)nh;
    }
    cfg.output.colorspace = ch == 4 ? MODE_RGBA : MODE_RGB;
    cfg.output.is_external_memory = 1;
    cfg.output.u.RGBA.rgba = pix;
    cfg.output.u.RGBA.stride = (int)(nw * (unsigned)ch);
    cfg.output.u.RGBA.size = (size_t)nw * nh * (unsigned)ch;
    VP8StatusCode st = WebPDecode(data, len, &cfg);
    WebPFreeDecBuffer(&cfg.output); /* external memory: frees nothing of ours */
    if (st != VP8_STATUS_OK) {
        if (!into) ov_free(pix);
        if (st == VP8_STATUS_OUT_OF_MEMORY) return nomem(err);
        return ov_image_fail(err, "WebP: corrupt or truncated image data");
    }
    out->width = nw;
    out->height = nh;
    out->channels = ch;
    out->data = pix;
    return OCTAVO_OK;
}

int ov_image_decode_fit(const octavo *ov, const void *data, size_t len, unsigned max_w, unsigned max_h,
                        ov_pixels *out, octavo_error *err) {
    if (!out) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_IMAGE, NULL, 0, 0, "no output");
    memset(out, 0, sizeof *out);
    if (!max_w || !max_h) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_IMAGE, NULL, 0, 0, "no size to fit");
    ov_image_info info;
    int rc = ov_image_probe(ov, data, len, &info, err);
    if (rc) return rc;
    unsigned nw, nh;
    if (info.format == OV_IMG_WEBP && !info.animated &&
        ov_pixels_fit_size(info.width, info.height, max_w, max_h, &nw, &nh) && webp_scale_ok(nw, nh))
        return decode_webp_scaled(data, len, &info, nw, nh, NULL, out, err);
    if ((rc = ov_image_decode(ov, data, len, out, err))) return rc;
    if ((rc = ov_pixels_downscale(out, max_w, max_h))) {
        ov_pixels_free(out);
        return ov_error(err, rc, OCTAVO_STAGE_IMAGE, NULL, 0, 0, "out of memory while scaling an image");
    }
    return OCTAVO_OK;
}

int ov_image_webp_decode_into(const octavo *ov, const void *data, size_t len, unsigned max_w, unsigned max_h,
                              ov_image_buf *scratch, ov_pixels *out, octavo_error *err) {
    if (!out || !scratch) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_IMAGE, NULL, 0, 0, "no output");
    memset(out, 0, sizeof *out);
    ov_image_info info;
    int rc = ov_image_probe(ov, data, len, &info, err);
    if (rc) return rc;
    unsigned nw = info.width, nh = info.height;
    int scale = max_w && max_h && ov_pixels_fit_size(info.width, info.height, max_w, max_h, &nw, &nh);
    if (info.format != OV_IMG_WEBP || info.animated || (scale && !webp_scale_ok(nw, nh)))
        return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_IMAGE, NULL, 0, 0, "not a still WebP to decode so");
    return decode_webp_scaled(data, len, &info, nw, nh, scratch, out, err);
}

/* ================================================================================ WebP -> JPEG */

/* A lossy WebP is Y'CbCr 4:2:0 already, the layout of a default JPEG: its planes go to libjpeg as
 * raw data, without the round trip through RGB (libwebp's conversion and chroma upsampling, then
 * libjpeg's conversion and chroma downsampling), which is most of both codecs' work and a third
 * of the memory. WebP's samples are BT.601 limited range (Y 16-235, Cb/Cr 16-240 about 128), a
 * JPEG's full range: each sample is mapped by a table. The chroma is the original's, not a
 * resampling of it. */
int ov_image_webp_jpeg(const octavo *ov, const void *data, size_t len, unsigned max_w, unsigned max_h, int quality,
                       unsigned flags, ov_image_buf *scratch, unsigned char **out, size_t *outlen, unsigned *ow,
                       unsigned *oh, octavo_error *err) {
    if (!out || !outlen) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_IMAGE, NULL, 0, 0, "no output");
    *out = NULL;
    *outlen = 0;
    ov_image_info info;
    int rc = ov_image_probe(ov, data, len, &info, err);
    if (rc) return rc;
    if (info.format != OV_IMG_WEBP || info.lossless || info.has_alpha || info.animated)
        return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_IMAGE, NULL, 0, 0, "not a lossy still WebP without alpha");
    unsigned w = info.width, h = info.height;
    int scale = max_w && max_h && ov_pixels_fit_size(info.width, info.height, max_w, max_h, &w, &h);
    if (scale && !webp_scale_ok(w, h))
        return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_IMAGE, NULL, 0, 0, "too small a size to scale to");
    const int q = quality < 1 ? 1 : quality > 100 ? 100 : quality;
    /* planes padded to whole 16 x 16 MCUs (libjpeg reads raw data in whole blocks) */
    size_t yw = ((size_t)w + 15) & ~(size_t)15, yh = ((size_t)h + 15) & ~(size_t)15, cw = yw / 2, chh = yh / 2;
    size_t uw = ((size_t)w + 1) / 2, uh = ((size_t)h + 1) / 2;
    jpeg_job *j = jpeg_job_new();
    if (!j) return nomem(err);
    unsigned char *Y = scratch ? ov_image_buf_get(scratch, yw * yh + 2 * cw * chh) : (j->pix = ov_malloc(yw * yh + 2 * cw * chh));
    if (!Y) {
        jpeg_job_free(j, 0);
        return nomem(err);
    }
    unsigned char *U = Y + yw * yh, *V = U + cw * chh;
    WebPDecoderConfig cfg;
    if (!WebPInitDecoderConfig(&cfg)) {
        jpeg_job_free(j, 0);
        return ov_image_fail(err, "WebP: decoder version mismatch");
    }
    if (scale) {
        cfg.options.use_scaling = 1;
        cfg.options.scaled_width = (int)w;
        cfg.options.scaled_height = (int)h;
    }
    cfg.output.colorspace = MODE_YUV;
    cfg.output.is_external_memory = 1;
    cfg.output.u.YUVA.y = Y;
    cfg.output.u.YUVA.y_stride = (int)yw;
    cfg.output.u.YUVA.y_size = yw * yh;
    cfg.output.u.YUVA.u = U;
    cfg.output.u.YUVA.u_stride = (int)cw;
    cfg.output.u.YUVA.u_size = cw * chh;
    cfg.output.u.YUVA.v = V;
    cfg.output.u.YUVA.v_stride = (int)cw;
    cfg.output.u.YUVA.v_size = cw * chh;
    VP8StatusCode st = WebPDecode(data, len, &cfg);
    WebPFreeDecBuffer(&cfg.output);
    if (st != VP8_STATUS_OK) {
        jpeg_job_free(j, 0);
        if (st == VP8_STATUS_OUT_OF_MEMORY) return nomem(err);
        return ov_image_fail(err, "WebP: corrupt or truncated image data");
    }
    /* full range, and the padding as copies of the last column and row */
    unsigned char ly[256], lc[256];
    for (int v = 0; v < 256; v++) {
        int a = ((v - 16) * 255 * 2 + 219) / (219 * 2), b = 128 + ((v - 128) * 255 * 2 + (v >= 128 ? 224 : -224)) / (224 * 2);
        if (v < 16) a = 0;
        ly[v] = (unsigned char)(a < 0 ? 0 : a > 255 ? 255 : a);
        lc[v] = (unsigned char)(b < 0 ? 0 : b > 255 ? 255 : b);
    }
    struct { unsigned char *p; size_t stride, w, h, pw, ph; const unsigned char *lut; } pl[3] = {
        { Y, yw, w, h, yw, yh, ly }, { U, cw, uw, uh, cw, chh, lc }, { V, cw, uw, uh, cw, chh, lc } };
    for (int k = 0; k < 3; k++) {
        for (size_t y = 0; y < pl[k].h; y++) {
            unsigned char *r = pl[k].p + y * pl[k].stride;
            for (size_t x = 0; x < pl[k].w; x++) r[x] = pl[k].lut[r[x]];
            memset(r + pl[k].w, r[pl[k].w - 1], pl[k].pw - pl[k].w);
        }
        for (size_t y = pl[k].h; y < pl[k].ph; y++)
            memcpy(pl[k].p + y * pl[k].stride, pl[k].p + (pl[k].h - 1) * pl[k].stride, pl[k].pw);
    }
    j_compress_ptr c = &j->u.c;
    c->err = &j->jerr;
    if (setjmp(j->jb)) {
        int code = j->code;
        if (code == OCTAVO_E_NOMEM) nomem(err);
        else ov_image_fail(err, "JPEG: %s", j->msg);
        jpeg_job_free(j, 0);
        return code;
    }
    jpeg_compress_start(j);
    c->image_width = w;
    c->image_height = h;
    c->input_components = 3;
    c->in_color_space = JCS_YCbCr;
    jpeg_set_defaults(c); /* YCbCr, Y sampled 2 x 2, Cb and Cr 1 x 1: WebP's 4:2:0 */
    jpeg_set_quality(c, q, TRUE);
    c->optimize_coding = (flags & OV_JPEG_STD_HUFFMAN) ? FALSE : TRUE;
    c->raw_data_in = TRUE;
    jpeg_start_compress(c, TRUE);
    size_t gone = 0; /* bytes of Y given back (a quarter of that of U and of V) */
    JSAMPROW ry[16], ru[8], rv[8];
    JSAMPARRAY planes[3] = { ry, ru, rv };
    for (size_t y = 0; y < h; y += 16) {
        for (int i = 0; i < 16; i++) ry[i] = Y + (y + (size_t)i) * yw;
        for (int i = 0; i < 8; i++) {
            ru[i] = U + (y / 2 + (size_t)i) * cw;
            rv[i] = V + (y / 2 + (size_t)i) * cw;
        }
        if (jpeg_write_raw_data(c, planes, 16) != 16) {
            snprintf(j->msg, sizeof j->msg, "short raw write");
            longjmp(j->jb, 1);
        }
        /* the rows compressed are given back: the coefficients grow while the planes shrink */
        size_t done = (y + 16) * yw;
        if (!scratch && (done - gone >= DISCARD_STEP || y + 16 >= h)) {
            discard_rows(Y, yw * yh, gone, done);
            discard_rows(U, yw * yh, gone / 4, done / 4);
            discard_rows(V, yw * yh, gone / 4, done / 4);
            gone = done;
        }
    }
    jpeg_finish_compress(c);
    *outlen = j->out_cap - j->dest.free_in_buffer;
    *out = j->out;
    j->out = NULL;
    if (ow) *ow = w;
    if (oh) *oh = h;
    jpeg_job_free(j, 0);
    return OCTAVO_OK;
}
