/* Images: probing, decoding every PNG/JPEG/WebP/GIF variant, limits, bad bytes, pixel operations,
 * the EPUB conversion and its cache. Every test image is made here, by the codecs' own encoders
 * (or by hand for hostile headers), so the expected pixels are known exactly. */
#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gif_lib.h>
#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>
#include <zlib.h>

#include "harness.h"
#include "image.h"
#include "image_int.h"
#include "testhooks.h"

/* ---------------------------------------------------------------- helpers */

typedef struct mem {
    unsigned char *p;
    size_t n, cap;
} mem;

static void mem_put(mem *m, const void *p, size_t n) {
    if (!n) return;
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2 + 256;
        m->p = realloc(m->p, m->cap);
    }
    memcpy(m->p + m->n, p, n);
    m->n += n;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static octavo *handle(unsigned flags, const char *cache_dir) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.flags = flags;
    o.cache_dir = cache_dir;
    return octavo_new(&o, NULL);
}

/* A test pattern: every channel varies, so a wrong channel order or row stride shows. */
static unsigned char pat(unsigned x, unsigned y, int c) {
    switch (c) {
    case 0: return (unsigned char)(x * 7 + y * 3);
    case 1: return (unsigned char)(y * 11 + 40);
    case 2: return (unsigned char)((x ^ y) * 5);
    default: return (unsigned char)(x * 16 + y * 9 + 1);
    }
}

/* A smooth pattern for lossy codecs (tolerances stay meaningful). */
static unsigned char smooth(unsigned x, unsigned y, int c) {
    switch (c) {
    case 0: return (unsigned char)(x * 2);
    case 1: return (unsigned char)(y * 2);
    case 2: return (unsigned char)(128 + (x + y) / 2);
    default: return (unsigned char)(x < 16 ? 0 : x < 32 ? 128 : 255);
    }
}

static unsigned char *make_pixels(unsigned w, unsigned h, int ch, unsigned char (*f)(unsigned, unsigned, int)) {
    unsigned char *p = malloc((size_t)w * h * ch);
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) p[((size_t)y * w + x) * ch + c] = f(x, y, c);
    return p;
}

/* Largest channel difference between decoded pixels and a pattern, where alpha is not 0
 * (lossless WebP may change the color of invisible pixels). */
static int max_diff_visible(const ov_pixels *px, unsigned char (*f)(unsigned, unsigned, int)) {
    int worst = 0;
    for (unsigned y = 0; y < px->height; y++)
        for (unsigned x = 0; x < px->width; x++) {
            const unsigned char *q = px->data + ((size_t)y * px->width + x) * px->channels;
            if (px->channels == 4 && q[3] == 0 && f(x, y, 3) == 0) continue;
            for (int c = 0; c < px->channels; c++) {
                int d = abs((int)q[c] - (int)f(x, y, c));
                if (d > worst) worst = d;
            }
        }
    return worst;
}

static double mean_diff(const ov_pixels *px, unsigned char (*f)(unsigned, unsigned, int), int channels) {
    double sum = 0;
    size_t n = 0;
    for (unsigned y = 0; y < px->height; y++)
        for (unsigned x = 0; x < px->width; x++)
            for (int c = 0; c < channels; c++, n++)
                sum += abs((int)px->data[((size_t)y * px->width + x) * px->channels + c] - (int)f(x, y, c));
    return n ? sum / n : 0;
}

/* ---------------------------------------------------------------- encoders for the test images */

static void png_out(png_structp png, png_bytep p, size_t n) { mem_put(png_get_io_ptr(png), p, n); }
static void png_noflush(png_structp png) { (void)png; }

/* A PNG of the pattern: color type, bit depth (8 or 16; palettes take 8 colors), interlace. */
static mem make_png(unsigned w, unsigned h, int color_type, int depth, int interlace) {
    mem m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_set_write_fn(png, &m, png_out, png_noflush);
    png_set_IHDR(png, info, w, h, depth, color_type, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[8];
        png_byte trans[8];
        for (int i = 0; i < 8; i++) {
            pal[i].red = (png_byte)(i * 30);
            pal[i].green = (png_byte)(255 - i * 20);
            pal[i].blue = (png_byte)(i * 7);
            trans[i] = (png_byte)(i == 0 ? 0 : i == 1 ? 128 : 255);
        }
        png_set_PLTE(png, info, pal, 8);
        png_set_tRNS(png, info, trans, 2, NULL);
    }
    png_write_info(png, info);
    if (depth == 16) png_set_swap(png); /* we fill rows little-endian */
    int ch = color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_PALETTE ? 1
             : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : color_type == PNG_COLOR_TYPE_RGB ? 3 : 4;
    size_t bpc = depth == 16 ? 2 : 1;
    unsigned char *img = malloc((size_t)w * h * ch * bpc);
    png_bytep *rows = malloc(h * sizeof *rows);
    for (unsigned y = 0; y < h; y++) {
        rows[y] = img + (size_t)y * w * ch * bpc;
        for (unsigned x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                unsigned v = color_type == PNG_COLOR_TYPE_PALETTE ? (x + y) % 8 : pat(x, y, c);
                if (ch == 2 && c == 1) v = pat(x, y, 3);
                unsigned char *d = rows[y] + ((size_t)x * ch + c) * bpc;
                if (bpc == 2) { unsigned v16 = v * 257; d[0] = (unsigned char)v16; d[1] = (unsigned char)(v16 >> 8); }
                else d[0] = (unsigned char)v;
            }
    }
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(img);
    return m;
}

static void crc_chunk(mem *m, const char *type, const unsigned char *data, uint32_t n) {
    unsigned char b[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
    mem_put(m, b, 4);
    mem_put(m, type, 4);
    mem_put(m, data, n);
    uLong crc = crc32(0, (const Bytef *)type, 4);
    crc = crc32(crc, data, n);
    unsigned char c[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16), (unsigned char)(crc >> 8), (unsigned char)crc};
    mem_put(m, c, 4);
}

/* A 57-byte PNG declaring w x h RGBA, with valid CRCs and an IDAT of a few zlib bytes. */
static mem crafted_png(uint32_t w, uint32_t h) {
    mem m = {0};
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    mem_put(&m, sig, 8);
    unsigned char ihdr[13] = {(unsigned char)(w >> 24), (unsigned char)(w >> 16), (unsigned char)(w >> 8), (unsigned char)w,
                              (unsigned char)(h >> 24), (unsigned char)(h >> 16), (unsigned char)(h >> 8), (unsigned char)h,
                              8, 6, 0, 0, 0};
    crc_chunk(&m, "IHDR", ihdr, 13);
    static const unsigned char idat[] = {0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01};
    crc_chunk(&m, "IDAT", idat, sizeof idat);
    crc_chunk(&m, "IEND", NULL, 0);
    return m;
}

static mem crafted_webp(uint32_t w, uint32_t h) {
    mem m = {0};
    unsigned char b[30] = {'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X', 10, 0, 0, 0, 0x10, 0, 0, 0};
    w--, h--;
    b[24] = (unsigned char)w; b[25] = (unsigned char)(w >> 8); b[26] = (unsigned char)(w >> 16);
    b[27] = (unsigned char)h; b[28] = (unsigned char)(h >> 8); b[29] = (unsigned char)(h >> 16);
    mem_put(&m, b, sizeof b);
    return m;
}

static mem crafted_jpeg(unsigned w, unsigned h) {
    mem m = {0};
    unsigned char b[] = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, (unsigned char)(h >> 8), (unsigned char)h,
                         (unsigned char)(w >> 8), (unsigned char)w, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
                         0xFF, 0xD9};
    mem_put(&m, b, sizeof b);
    return m;
}

static mem crafted_gif(unsigned w, unsigned h) {
    mem m = {0};
    unsigned char b[] = {'G', 'I', 'F', '8', '9', 'a', (unsigned char)w, (unsigned char)(w >> 8), (unsigned char)h,
                         (unsigned char)(h >> 8), 0x80, 0, 0, 0, 0, 0, 255, 255, 255,
                         0x2C, 0, 0, 0, 0, (unsigned char)w, (unsigned char)(w >> 8), (unsigned char)h,
                         (unsigned char)(h >> 8), 0, 2, 2, 0x4C, 0x01, 0, 0x3B};
    mem_put(&m, b, sizeof b);
    return m;
}

/* JPEG of the smooth pattern: 1 (gray), 3 (RGB) or 4 (Adobe CMYK, stored inverted) components. */
static int exif_orient; /* make_jpeg writes an Exif orientation when nonzero (negative: big-endian) */

static mem make_jpeg(unsigned w, unsigned h, int comps, int quality, int progressive) {
    mem m = {0};
    unsigned char *buf = NULL;
    unsigned long n = 0;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &n);
    c.image_width = w;
    c.image_height = h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    if (exif_orient) {
        int be = exif_orient < 0, o = abs(exif_orient);
        unsigned char ex[6 + 8 + 2 + 12 + 4] = {'E', 'x', 'i', 'f', 0, 0};
        unsigned char *t = ex + 6;
        memcpy(t, be ? "MM\0*\0\0\0\x08" : "II*\0\x08\0\0\0", 8);
        unsigned char *ent = t + 8;
        if (be) { ent[1] = 1; ent[2] = 0x01; ent[3] = 0x12; ent[5] = 3; ent[9] = 1; ent[11] = (unsigned char)o; }
        else { ent[0] = 1; ent[2] = 0x12; ent[3] = 0x01; ent[4] = 3; ent[6] = 1; ent[10] = (unsigned char)o; }
        jpeg_write_marker(&c, JPEG_APP0 + 1, ex, sizeof ex);
    }
    unsigned char *row = malloc((size_t)w * comps);
    while (c.next_scanline < h) {
        unsigned y = c.next_scanline;
        for (unsigned x = 0; x < w; x++) {
            if (comps == 4) { /* stored as 255 - ink, as Photoshop writes: C, M from the pattern, Y 0, K 64 */
                row[x * 4 + 0] = smooth(x, y, 0);
                row[x * 4 + 1] = smooth(x, y, 1);
                row[x * 4 + 2] = 255;
                row[x * 4 + 3] = 255 - 64;
            } else {
                for (int k = 0; k < comps; k++) row[x * comps + k] = smooth(x, y, comps == 1 ? 2 : k);
            }
        }
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    mem_put(&m, buf, n);
    free(buf);
    return m;
}

static mem make_webp(unsigned w, unsigned h, int alpha, int lossless, unsigned char (*f)(unsigned, unsigned, int)) {
    int ch = alpha ? 4 : 3;
    unsigned char *px = make_pixels(w, h, ch, f);
    uint8_t *out = NULL;
    size_t n;
    if (lossless) n = alpha ? WebPEncodeLosslessRGBA(px, w, h, w * 4, &out) : WebPEncodeLosslessRGB(px, w, h, w * 3, &out);
    else n = alpha ? WebPEncodeRGBA(px, w, h, w * 4, 90, &out) : WebPEncodeRGB(px, w, h, w * 3, 90, &out);
    mem m = {0};
    mem_put(&m, out, n);
    WebPFree(out);
    free(px);
    return m;
}

static void put_le(mem *m, uint32_t v, int n) {
    for (int i = 0; i < n; i++) {
        unsigned char b = (unsigned char)(v >> (8 * i));
        mem_put(m, &b, 1);
    }
}

static unsigned char framepat(unsigned x, unsigned y, int c) { return c < 3 ? pat(x, y, c) : (unsigned char)(100 + x + y); }

/* An animated WebP put together by hand: a 30x20 canvas, a first frame of 20x10 at (4, 2) that
 * does not blend, then a full frame; the first frame's chunk is the VP8L of a still image. */
static mem make_anim_webp(void) {
    unsigned char *px = make_pixels(20, 10, 4, framepat);
    uint8_t *f1;
    size_t n1 = WebPEncodeLosslessRGBA(px, 20, 10, 80, &f1);
    free(px);
    px = make_pixels(30, 20, 4, smooth);
    uint8_t *f2;
    size_t n2 = WebPEncodeLosslessRGBA(px, 30, 20, 120, &f2);
    free(px);
    mem body = {0};
    mem_put(&body, "WEBPVP8X", 8);
    put_le(&body, 10, 4);
    put_le(&body, 0x12, 4); /* animation, alpha */
    put_le(&body, 29, 3);
    put_le(&body, 19, 3);
    mem_put(&body, "ANIM", 4);
    put_le(&body, 6, 4);
    put_le(&body, 0xffffffff, 4);
    put_le(&body, 0, 2);
    const struct { uint8_t *p; size_t n; unsigned x, y, w, h; } fr[2] = {{f1, n1, 4, 2, 20, 10}, {f2, n2, 0, 0, 30, 20}};
    for (int k = 0; k < 2; k++) {
        size_t sub = fr[k].n - 12; /* the VP8L chunk with its header and padding */
        mem_put(&body, "ANMF", 4);
        put_le(&body, (uint32_t)(16 + sub), 4);
        put_le(&body, fr[k].x / 2, 3);
        put_le(&body, fr[k].y / 2, 3);
        put_le(&body, fr[k].w - 1, 3);
        put_le(&body, fr[k].h - 1, 3);
        put_le(&body, 100, 3);
        put_le(&body, 0x02, 1); /* do not blend */
        mem_put(&body, fr[k].p + 12, sub);
    }
    WebPFree(f1);
    WebPFree(f2);
    mem m = {0};
    mem_put(&m, "RIFF", 4);
    put_le(&m, (uint32_t)body.n, 4);
    mem_put(&m, body.p, body.n);
    free(body.p);
    return m;
}

static int gif_out(GifFileType *g, const GifByteType *b, int n) {
    mem_put(g->UserData, b, (size_t)n);
    return n;
}

/* A GIF89a: screen sw x sh, one frame at (fl, ft) of fw x fh, pixel index (x + y) % 4, index 3
 * transparent when transp, rows written in interlaced order when interlace. */
static mem make_gif(unsigned sw, unsigned sh, unsigned fl, unsigned ft, unsigned fw, unsigned fh, int transp,
                    int interlace) {
    mem m = {0};
    int e;
    GifFileType *g = EGifOpen(&m, gif_out, &e);
    EGifSetGifVersion(g, true);
    GifColorType colors[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
    ColorMapObject *cm = GifMakeMapObject(4, colors);
    EGifPutScreenDesc(g, (int)sw, (int)sh, 2, 0, cm);
    if (transp) {
        GraphicsControlBlock gcb = {DISPOSAL_UNSPECIFIED, false, 0, 3};
        GifByteType ext[4];
        size_t n = EGifGCBToExtension(&gcb, ext);
        EGifPutExtension(g, GRAPHICS_EXT_FUNC_CODE, (int)n, ext);
    }
    EGifPutImageDesc(g, (int)fl, (int)ft, (int)fw, (int)fh, interlace != 0, NULL);
    GifPixelType *row = malloc(fw);
    static const unsigned start[] = {0, 4, 2, 1}, step[] = {8, 8, 4, 2};
    for (int pass = 0; pass < (interlace ? 4 : 1); pass++)
        for (unsigned y = interlace ? start[pass] : 0; y < fh; y += interlace ? step[pass] : 1) {
            for (unsigned x = 0; x < fw; x++) row[x] = (GifPixelType)((x + y) % 4);
            EGifPutLine(g, row, (int)fw);
        }
    EGifCloseFile(g, &e);
    GifFreeMapObject(cm);
    free(row);
    return m;
}

/* ---------------------------------------------------------------- probing */

TEST(probe_formats) {
    mem png = make_png(33, 17, PNG_COLOR_TYPE_RGB_ALPHA, 8, 0);
    ov_image_info i;
    CHECK_INT(ov_image_probe(NULL, png.p, png.n, &i, NULL), OCTAVO_OK);
    CHECK_INT(i.format, OV_IMG_PNG);
    CHECK_INT(i.width, 33);
    CHECK_INT(i.height, 17);
    CHECK(i.has_alpha && i.lossless && !i.is_photo);
    CHECK_STR(i.mime, "image/png");
    CHECK_STR(i.ext, "png");
    free(png.p);

    png = make_png(8, 8, PNG_COLOR_TYPE_PALETTE, 8, 0);
    CHECK_INT(ov_image_probe(NULL, png.p, png.n, &i, NULL), OCTAVO_OK);
    CHECK(i.has_alpha); /* from tRNS */
    free(png.p);
    png = make_png(8, 8, PNG_COLOR_TYPE_RGB, 8, 0);
    CHECK_INT(ov_image_probe(NULL, png.p, png.n, &i, NULL), OCTAVO_OK);
    CHECK(!i.has_alpha);
    free(png.p);

    mem jpg = make_jpeg(40, 30, 3, 90, 1);
    CHECK_INT(ov_image_probe(NULL, jpg.p, jpg.n, &i, NULL), OCTAVO_OK);
    CHECK_INT(i.format, OV_IMG_JPEG);
    CHECK_INT(i.width, 40);
    CHECK_INT(i.height, 30);
    CHECK_INT(i.components, 3);
    CHECK(i.progressive && i.is_photo && !i.has_alpha && !i.lossless);
    CHECK_STR(i.mime, "image/jpeg");
    CHECK_STR(i.ext, "jpg");
    free(jpg.p);
    jpg = make_jpeg(9, 7, 4, 90, 0);
    CHECK_INT(ov_image_probe(NULL, jpg.p, jpg.n, &i, NULL), OCTAVO_OK);
    CHECK_INT(i.components, 4);
    CHECK(i.adobe && !i.progressive);
    free(jpg.p);

    mem w = make_webp(31, 9, 1, 1, pat);
    CHECK_INT(ov_image_probe(NULL, w.p, w.n, &i, NULL), OCTAVO_OK);
    CHECK_INT(i.format, OV_IMG_WEBP);
    CHECK_INT(i.width, 31);
    CHECK_INT(i.height, 9);
    CHECK(i.has_alpha && i.lossless && !i.is_photo);
    CHECK_STR(i.mime, "image/webp");
    free(w.p);
    w = make_webp(50, 20, 0, 0, smooth);
    CHECK_INT(ov_image_probe(NULL, w.p, w.n, &i, NULL), OCTAVO_OK);
    CHECK(!i.has_alpha && !i.lossless && i.is_photo);
    CHECK_INT(i.width, 50);
    free(w.p);
    w = make_webp(50, 20, 1, 0, smooth);
    CHECK_INT(ov_image_probe(NULL, w.p, w.n, &i, NULL), OCTAVO_OK);
    CHECK(i.has_alpha && !i.lossless && i.is_photo);
    free(w.p);

    mem g = make_gif(20, 10, 0, 0, 20, 10, 0, 0);
    CHECK_INT(ov_image_probe(NULL, g.p, g.n, &i, NULL), OCTAVO_OK);
    CHECK_INT(i.format, OV_IMG_GIF);
    CHECK_INT(i.width, 20);
    CHECK_INT(i.height, 10);
    CHECK(!i.has_alpha && i.lossless);
    CHECK_STR(i.mime, "image/gif");
    free(g.p);
    g = make_gif(20, 10, 0, 0, 20, 10, 1, 0);
    CHECK_INT(ov_image_probe(NULL, g.p, g.n, &i, NULL), OCTAVO_OK);
    CHECK(i.has_alpha);
    free(g.p);
}

TEST(probe_svg) {
    ov_image_info i;
    const char *a = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"40px\"><rect/></svg>";
    CHECK_INT(ov_image_probe(NULL, a, strlen(a), &i, NULL), OCTAVO_OK);
    CHECK_INT(i.format, OV_IMG_SVG);
    CHECK_INT(i.width, 120);
    CHECK_INT(i.height, 40);
    CHECK_STR(i.mime, "image/svg+xml");
    CHECK_STR(i.ext, "svg");
    const char *b = "\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!-- a comment -->\n<!DOCTYPE svg>\n"
                    "<svg stroke-width=\"3\" viewBox=\"0 0 300.5 150\" xmlns=\"http://www.w3.org/2000/svg\"></svg>";
    CHECK_INT(ov_image_probe(NULL, b, strlen(b), &i, NULL), OCTAVO_OK);
    CHECK_INT(i.format, OV_IMG_SVG);
    CHECK_INT(i.width, 301);
    CHECK_INT(i.height, 150);
    const char *c = "<svg width=\"100%\" height=\"50%\"></svg>";
    CHECK_INT(ov_image_probe(NULL, c, strlen(c), &i, NULL), OCTAVO_OK);
    CHECK_INT(i.width, 0);
    CHECK_INT(i.height, 0);
    const char *d = "<?xml version=\"1.0\"?><html><body>svgish</body></html>";
    CHECK_INT(ov_image_probe(NULL, d, strlen(d), &i, NULL), OCTAVO_E_IMAGE);
    const char *e = "<svgfoo></svgfoo>";
    CHECK_INT(ov_image_probe(NULL, e, strlen(e), &i, NULL), OCTAVO_E_IMAGE);
    ov_pixels px;
    CHECK_INT(ov_image_decode(NULL, a, strlen(a), &px, NULL), OCTAVO_E_IMAGE);
}

TEST(probe_garbage) {
    ov_image_info i;
    octavo_error e;
    memset(&e, 0, sizeof e);
    CHECK_INT(ov_image_probe(NULL, "", 0, &i, &e), OCTAVO_E_IMAGE);
    CHECK_INT(e.code, OCTAVO_E_IMAGE);
    CHECK_INT(e.stage, OCTAVO_STAGE_IMAGE);
    CHECK_INT(ov_image_probe(NULL, "hello world", 11, &i, NULL), OCTAVO_E_IMAGE);
    CHECK_INT(i.format, OV_IMG_UNKNOWN);
    static const unsigned char sigs[][12] = {
        {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, {0xFF, 0xD8, 0xFF}, {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P'},
        {'G', 'I', 'F', '8', '9', 'a'}};
    static const size_t lens[] = {8, 3, 12, 6};
    for (int k = 0; k < 4; k++) {
        CHECK_INT(ov_image_probe(NULL, sigs[k], lens[k], &i, NULL), OCTAVO_E_IMAGE);
        ov_pixels px;
        CHECK_INT(ov_image_decode(NULL, sigs[k], lens[k], &px, NULL), OCTAVO_E_IMAGE);
        CHECK(px.data == NULL);
    }
    /* the byte limit comes first, and says so */
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.flags = OCTAVO_NO_CACHE;
    o.limits.image_bytes = 100;
    octavo *ov = octavo_new(&o, NULL);
    mem png = make_png(64, 64, PNG_COLOR_TYPE_RGB, 8, 0);
    CHECK_INT(ov_image_probe(ov, png.p, png.n, &i, &e), OCTAVO_E_LIMIT);
    CHECK(strstr(e.message, "limit.image_bytes (100)") != NULL);
    free(png.p);
    octavo_free(ov);
}

/* ---------------------------------------------------------------- limits */

static size_t peak_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (size_t)ru.ru_maxrss;
}

TEST(limit_huge_headers) {
    octavo *ov = handle(OCTAVO_NO_CACHE, NULL);
    mem m[4] = {crafted_png(50000, 50000), crafted_webp(50000, 50000), crafted_jpeg(50000, 50000),
                crafted_gif(50000, 50000)};
    static const char *const names[] = {"png", "webp", "jpeg", "gif"};
    size_t rss0 = peak_rss_kb();
    for (int k = 0; k < 4; k++) {
        t_name = names[k];
        octavo_error e;
        memset(&e, 0, sizeof e);
        double t0 = now();
        ov_test_alloc_fail_after(-1);
        ov_image_info i;
        CHECK_INT(ov_image_probe(ov, m[k].p, m[k].n, &i, &e), OCTAVO_E_LIMIT);
        CHECK_STR(e.message, "image of 50000x50000 pixels exceeds limit.image_pixels (100000000)");
        ov_pixels px;
        CHECK_INT(ov_image_decode(ov, m[k].p, m[k].n, &px, &e), OCTAVO_E_LIMIT);
        CHECK(px.data == NULL);
        ov_image_out out;
        CHECK_INT(ov_image_for_epub(ov, m[k].p, m[k].n, &out, &e), OCTAVO_E_LIMIT);
        CHECK(out.data == NULL);
        CHECK_INT(e.code, OCTAVO_E_LIMIT);
        CHECK(ov_test_alloc_count() < 5); /* nothing the size of the image was asked for */
        CHECKF(now() - t0 < 1.0, "%.3f s", now() - t0);
        free(m[k].p);
    }
    t_name = "limit_huge_headers";
    CHECKF(peak_rss_kb() - rss0 < 50 * 1024, "peak RSS grew by %zu KB", peak_rss_kb() - rss0);
    octavo_free(ov);
}

TEST(limit_side) {
    /* a 1 x 2000000 strip is within the area limit but longer than any side we handle */
    mem m[2] = {crafted_png(1, 2000000), crafted_webp(2000000, 1)};
    for (int k = 0; k < 2; k++) {
        octavo_error e;
        ov_image_info i;
        CHECK_INT(ov_image_probe(NULL, m[k].p, m[k].n, &i, &e), OCTAVO_E_IMAGE);
        CHECK(strstr(e.message, "sides longer than 1000000 pixels") != NULL);
        free(m[k].p);
    }
}

TEST(limit_decoder_header) {
    /* the limit is read from the handle and also checked on the codec's own header */
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.flags = OCTAVO_NO_CACHE;
    o.limits.image_pixels = 1000;
    octavo *ov = octavo_new(&o, NULL);
    mem imgs[5] = {make_png(40, 30, PNG_COLOR_TYPE_RGB, 8, 0), make_jpeg(40, 30, 3, 80, 0),
                   make_webp(40, 30, 0, 1, pat), make_gif(40, 30, 0, 0, 40, 30, 0, 0),
                   make_gif(10, 10, 0, 0, 40, 30, 0, 0) /* frame larger than its screen */};
    for (int k = 0; k < 5; k++) {
        octavo_error e;
        ov_pixels px;
        CHECK_INT(ov_image_decode(ov, imgs[k].p, imgs[k].n, &px, &e), OCTAVO_E_LIMIT);
        CHECK(strstr(e.message, "limit.image_pixels (1000)") != NULL);
        free(imgs[k].p);
    }
    octavo_free(ov);
}

/* ---------------------------------------------------------------- decoding */

static void check_png(const char *name, int ct, int depth, int interlace, int want_ch) {
    t_name = name;
    mem m = make_png(37, 23, ct, depth, interlace);
    ov_pixels px;
    octavo_error e;
    int rc = ov_image_decode(NULL, m.p, m.n, &px, &e);
    CHECKF(rc == OCTAVO_OK, "%s", e.message);
    if (rc == OCTAVO_OK) {
        CHECK_INT(px.width, 37);
        CHECK_INT(px.height, 23);
        CHECK_INT(px.channels, want_ch);
        int bad = 0;
        for (unsigned y = 0; y < 23; y++)
            for (unsigned x = 0; x < 37; x++) {
                const unsigned char *q = px.data + ((size_t)y * 37 + x) * px.channels;
                for (int c = 0; c < px.channels; c++) {
                    int want;
                    if (ct == PNG_COLOR_TYPE_PALETTE) {
                        int i = (int)((x + y) % 8);
                        want = c == 0 ? i * 30 : c == 1 ? 255 - i * 20 : c == 2 ? i * 7 : (i == 0 ? 0 : i == 1 ? 128 : 255);
                    } else if (px.channels == 2) {
                        want = c == 0 ? pat(x, y, 0) : pat(x, y, 3);
                    } else {
                        want = pat(x, y, c);
                    }
                    bad += q[c] != want;
                }
            }
        CHECKF(bad == 0, "%d channel values differ", bad);
    }
    ov_pixels_free(&px);
    free(m.p);
}

TEST(decode_png) {
    check_png("png rgb8", PNG_COLOR_TYPE_RGB, 8, 0, 3);
    check_png("png rgba8", PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, 4);
    check_png("png rgb16", PNG_COLOR_TYPE_RGB, 16, 0, 3);
    check_png("png rgba16", PNG_COLOR_TYPE_RGB_ALPHA, 16, 0, 4);
    check_png("png rgba8 interlaced", PNG_COLOR_TYPE_RGB_ALPHA, 8, 1, 4);
    check_png("png rgba16 interlaced", PNG_COLOR_TYPE_RGB_ALPHA, 16, 1, 4);
    check_png("png gray8", PNG_COLOR_TYPE_GRAY, 8, 0, 1);
    check_png("png gray16 interlaced", PNG_COLOR_TYPE_GRAY, 16, 1, 1);
    check_png("png gray+alpha", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, 2);
    check_png("png palette+tRNS", PNG_COLOR_TYPE_PALETTE, 8, 0, 4);
    check_png("png palette+tRNS interlaced", PNG_COLOR_TYPE_PALETTE, 8, 1, 4);
}

TEST(decode_png_lowbit_gray) {
    /* 1-bit gray: expanded to 0 / 255 */
    mem m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_set_write_fn(png, &m, png_out, png_noflush);
    png_set_IHDR(png, info, 10, 2, 1, PNG_COLOR_TYPE_GRAY, 0, 0, 0);
    png_write_info(png, info);
    unsigned char r0[2] = {0xAA, 0xC0}, r1[2] = {0x55, 0x00}; /* 1010101011, 0101010100 */
    png_write_row(png, r0);
    png_write_row(png, r1);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    ov_pixels px;
    CHECK_INT(ov_image_decode(NULL, m.p, m.n, &px, NULL), OCTAVO_OK);
    CHECK_INT(px.channels, 1);
    CHECK(px.data && px.data[0] == 255 && px.data[1] == 0 && px.data[8] == 255 && px.data[9] == 255 &&
          px.data[10] == 0 && px.data[11] == 255 && px.data[19] == 0);
    ov_pixels_free(&px);
    free(m.p);
}

TEST(decode_jpeg) {
    static const struct { int comps, progressive, want_ch; const char *name; } cases[] = {
        {3, 0, 3, "jpeg rgb"}, {3, 1, 3, "jpeg rgb progressive"}, {1, 0, 1, "jpeg gray"}, {4, 0, 3, "jpeg adobe cmyk"}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        t_name = cases[k].name;
        mem m = make_jpeg(64, 48, cases[k].comps, 95, cases[k].progressive);
        ov_pixels px;
        octavo_error e;
        int rc = ov_image_decode(NULL, m.p, m.n, &px, &e);
        CHECKF(rc == OCTAVO_OK, "%s", e.message);
        if (rc == OCTAVO_OK) {
            CHECK_INT(px.width, 64);
            CHECK_INT(px.height, 48);
            CHECK_INT(px.channels, cases[k].want_ch);
            double d = 0;
            if (cases[k].comps == 1) {
                size_t n = 0;
                for (unsigned y = 0; y < 48; y++)
                    for (unsigned x = 0; x < 64; x++, n++) d += abs(px.data[y * 64 + x] - smooth(x, y, 2));
                d /= n;
            } else if (cases[k].comps == 3) {
                d = mean_diff(&px, smooth, 3);
            } else { /* stored * (255 - black ink) / 255 per channel; yellow ink 0, black ink 64 */
                size_t n = 0;
                for (unsigned y = 0; y < 48; y++)
                    for (unsigned x = 0; x < 64; x++) {
                        const unsigned char *q = px.data + ((size_t)y * 64 + x) * 3;
                        int r = smooth(x, y, 0) * 191 / 255, g = smooth(x, y, 1) * 191 / 255, b = 191;
                        d += abs(q[0] - r) + abs(q[1] - g) + abs(q[2] - b);
                        n += 3;
                    }
                d /= n;
            }
            CHECKF(d < 3.0, "mean difference %.2f", d);
        }
        ov_pixels_free(&px);
        free(m.p);
    }
}

/* A PNG or JPEG an EPUB copies as it is is decoded first: sound ones (interlaced, 16-bit,
 * progressive, gray) pass and are copied byte for byte; a truncated one, a flipped byte in a PNG's
 * compressed data or a JPEG cut short is an OCTAVO_E_IMAGE error, so it never goes into a book. */
TEST(epub_pass_through_verified) {
    mem good[5] = { make_png(40, 30, PNG_COLOR_TYPE_RGB, 8, 0), make_png(40, 30, PNG_COLOR_TYPE_RGB_ALPHA, 16, 1),
                    make_png(17, 9, PNG_COLOR_TYPE_GRAY, 8, 1), make_jpeg(64, 48, 3, 90, 0),
                    make_jpeg(64, 48, 1, 90, 1) };
    for (int k = 0; k < 5; k++) {
        ov_image_out out;
        octavo_error e;
        CHECK_INT(ov_image_verify(NULL, good[k].p, good[k].n, &e), OCTAVO_OK);
        CHECK_INT(ov_image_for_epub(NULL, good[k].p, good[k].n, &out, &e), OCTAVO_OK);
        CHECK(out.len == good[k].n && !memcmp(out.data, good[k].p, out.len));
        ov_free(out.data);
    }
    for (int k = 0; k < 5; k++) {
        /* cut in the middle of the image data */
        size_t cut = good[k].n * 2 / 3;
        ov_image_out out;
        octavo_error e;
        memset(&e, 0, sizeof e);
        CHECKF(ov_image_for_epub(NULL, good[k].p, cut, &out, &e) == OCTAVO_E_IMAGE, "image %d cut", k);
        CHECK(out.data == NULL);
        CHECK(strstr(e.message, k < 3 ? "PNG" : "JPEG") != NULL);
    }
    /* one byte of a PNG's compressed data flipped: its CRC no longer matches */
    for (int k = 0; k < 3; k++) {
        unsigned char *p = good[k].p;
        size_t n = good[k].n, at = 0;
        for (size_t i = 8; i + 8 < n; i++)
            if (!memcmp(p + i, "IDAT", 4)) { at = i + 4 + 10; break; }
        CHECK(at > 0 && at < n);
        if (!at || at >= n) continue;
        p[at] ^= 0x5a;
        octavo_error e;
        CHECKF(ov_image_verify(NULL, p, n, &e) == OCTAVO_E_IMAGE, "png %d flipped", k);
    }
    for (int k = 0; k < 5; k++) free(good[k].p);
}

TEST(decode_webp) {
    static const struct { int alpha, lossless; const char *name; } cases[] = {
        {0, 1, "webp lossless rgb"}, {1, 1, "webp lossless rgba"}, {0, 0, "webp lossy rgb"}, {1, 0, "webp lossy rgba"}};
    for (size_t k = 0; k < 4; k++) {
        t_name = cases[k].name;
        unsigned char (*f)(unsigned, unsigned, int) = cases[k].lossless ? pat : smooth;
        mem m = make_webp(64, 48, cases[k].alpha, cases[k].lossless, f);
        ov_pixels px;
        octavo_error e;
        int rc = ov_image_decode(NULL, m.p, m.n, &px, &e);
        CHECKF(rc == OCTAVO_OK, "%s", e.message);
        if (rc == OCTAVO_OK) {
            CHECK_INT(px.width, 64);
            CHECK_INT(px.height, 48);
            CHECK_INT(px.channels, cases[k].alpha ? 4 : 3);
            if (cases[k].lossless) CHECK_INT(max_diff_visible(&px, f), 0);
            else {
                double d = mean_diff(&px, f, 3);
                CHECKF(d < 4.0, "mean difference %.2f", d);
                if (cases[k].alpha) { /* alpha is coded losslessly even in lossy WebP */
                    int bad = 0;
                    for (unsigned y = 0; y < 48; y++)
                        for (unsigned x = 0; x < 64; x++) bad += px.data[((size_t)y * 64 + x) * 4 + 3] != f(x, y, 3);
                    CHECK_INT(bad, 0);
                }
            }
        }
        ov_pixels_free(&px);
        free(m.p);
    }
}

static int decode_rc(const void *p, size_t n) {
    ov_pixels px;
    int rc = ov_image_decode(NULL, p, n, &px, NULL);
    if (rc == OCTAVO_OK) CHECK(px.data != NULL);
    else CHECK(px.data == NULL);
    ov_pixels_free(&px);
    return rc;
}

TEST(decode_webp_animated) {
    mem m = make_anim_webp();
    ov_image_info i;
    CHECK_INT(ov_image_probe(NULL, m.p, m.n, &i, NULL), OCTAVO_OK);
    CHECK(i.animated && i.has_alpha && i.width == 30 && i.height == 20);
    ov_pixels px;
    octavo_error e;
    int rc = ov_image_decode(NULL, m.p, m.n, &px, &e);
    CHECKF(rc == OCTAVO_OK, "%s", e.message);
    if (rc == OCTAVO_OK) {
        CHECK(px.width == 30 && px.height == 20 && px.channels == 4);
        int bad = 0;
        for (unsigned y = 0; y < 20; y++)
            for (unsigned x = 0; x < 30; x++) {
                const unsigned char *q = px.data + ((size_t)y * 30 + x) * 4;
                int inside = x >= 4 && x < 24 && y >= 2 && y < 12;
                for (int c = 0; c < 4; c++) bad += q[c] != (inside ? framepat(x - 4, y - 2, c) : 0);
            }
        CHECKF(bad == 0, "%d channel values differ", bad);
    }
    ov_pixels_free(&px);
    ov_image_out out;
    CHECK_INT(ov_image_for_epub(NULL, m.p, m.n, &out, NULL), OCTAVO_OK);
    CHECK_STR(out.ext, "png");
    ov_free(out.data);
    /* cut short and bent: clean errors */
    int bad = 0;
    for (size_t n = 0; n < m.n; n += 7) bad += decode_rc(m.p, n) != OCTAVO_E_IMAGE;
    CHECK_INT(bad, 0);
    for (size_t k = 0; k < m.n; k++) {
        m.p[k] ^= 0x33;
        int r = decode_rc(m.p, m.n);
        bad += r != OCTAVO_OK && r != OCTAVO_E_IMAGE && r != OCTAVO_E_LIMIT;
        m.p[k] ^= 0x33;
    }
    CHECK_INT(bad, 0);
    free(m.p);
}

TEST(decode_jpeg_orientation) {
    for (int o = -8; o <= 8; o++) {
        if (o == 0 || o == -1) continue;
        char name[32];
        snprintf(name, sizeof name, "exif orientation %d", o);
        t_name = name;
        exif_orient = o;
        mem m = make_jpeg(64, 40, 3, 95, 0);
        exif_orient = 0;
        int a = abs(o), turned = a >= 5;
        ov_image_info i;
        CHECK_INT(ov_image_probe(NULL, m.p, m.n, &i, NULL), OCTAVO_OK);
        CHECK_INT(i.orientation, a);
        CHECK_INT(i.width, turned ? 40 : 64);
        CHECK_INT(i.height, turned ? 64 : 40);
        ov_pixels px;
        CHECK_INT(ov_image_decode(NULL, m.p, m.n, &px, NULL), OCTAVO_OK);
        CHECK(px.width == i.width && px.height == i.height);
        double d = 0;
        for (unsigned y = 0; px.data && y < px.height; y++)
            for (unsigned x = 0; x < px.width; x++) {
                unsigned sx, sy, w = 64, h = 40;
                switch (a) {
                case 1: sx = x; sy = y; break;
                case 2: sx = w - 1 - x; sy = y; break;
                case 3: sx = w - 1 - x; sy = h - 1 - y; break;
                case 4: sx = x; sy = h - 1 - y; break;
                case 5: sx = y; sy = x; break;
                case 6: sx = y; sy = h - 1 - x; break;
                case 7: sx = w - 1 - y; sy = h - 1 - x; break;
                default: sx = w - 1 - y; sy = x; break;
                }
                const unsigned char *q = px.data + ((size_t)y * px.width + x) * 3;
                for (int c = 0; c < 3; c++) d += abs(q[c] - smooth(sx, sy, c));
            }
        d /= 64 * 40 * 3;
        CHECKF(d < 3.0, "mean difference %.2f", d);
        ov_pixels_free(&px);
        ov_image_out out;
        CHECK_INT(ov_image_for_epub(NULL, m.p, m.n, &out, NULL), OCTAVO_OK);
        CHECK(out.width == i.width && out.height == i.height);
        ov_free(out.data);
        free(m.p);
    }
}

static void check_gif(const char *name, unsigned sw, unsigned sh, unsigned fl, unsigned ft, unsigned fw, unsigned fh,
                      int transp, int interlace, int want_ch) {
    t_name = name;
    mem m = make_gif(sw, sh, fl, ft, fw, fh, transp, interlace);
    ov_pixels px;
    octavo_error e;
    int rc = ov_image_decode(NULL, m.p, m.n, &px, &e);
    CHECKF(rc == OCTAVO_OK, "%s", e.message);
    if (rc == OCTAVO_OK) {
        CHECK_INT(px.width, sw);
        CHECK_INT(px.height, sh);
        CHECK_INT(px.channels, want_ch);
        static const unsigned char colors[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
        int bad = 0;
        for (unsigned y = 0; y < sh; y++)
            for (unsigned x = 0; x < sw; x++) {
                const unsigned char *q = px.data + ((size_t)y * sw + x) * px.channels;
                int inside = x >= fl && x < fl + fw && y >= ft && y < ft + fh;
                int ix = inside ? (int)((x - fl + y - ft) % 4) : -1;
                int opaque = inside && !(transp && ix == 3);
                if (opaque) bad += q[0] != colors[ix][0] || q[1] != colors[ix][1] || q[2] != colors[ix][2];
                if (px.channels == 4) bad += q[3] != (opaque ? 255 : 0);
            }
        CHECKF(bad == 0, "%d pixels differ", bad);
    }
    ov_pixels_free(&px);
    free(m.p);
}

TEST(decode_gif) {
    check_gif("gif opaque", 21, 13, 0, 0, 21, 13, 0, 0, 3);
    check_gif("gif transparent", 21, 13, 0, 0, 21, 13, 1, 0, 4);
    check_gif("gif interlaced", 19, 30, 0, 0, 19, 30, 0, 1, 3);
    check_gif("gif frame inside the screen", 30, 20, 5, 3, 10, 12, 0, 0, 4);
    check_gif("gif frame past the screen", 12, 12, 6, 6, 10, 10, 1, 0, 4);
}

/* ---------------------------------------------------------------- bad bytes */

TEST(truncated) {
    mem imgs[] = {make_png(40, 30, PNG_COLOR_TYPE_RGB_ALPHA, 8, 1), make_png(40, 30, PNG_COLOR_TYPE_RGB, 16, 0),
                  make_jpeg(40, 30, 3, 90, 0), make_jpeg(40, 30, 3, 90, 1), make_webp(40, 30, 1, 1, pat),
                  make_webp(40, 30, 0, 0, smooth), make_webp(40, 30, 1, 0, smooth),
                  make_gif(40, 30, 0, 0, 40, 30, 1, 0)};
    static const char *const names[] = {"png interlaced", "png 16", "jpeg", "jpeg progressive", "webp lossless",
                                        "webp lossy", "webp lossy alpha", "gif"};
    for (size_t k = 0; k < sizeof imgs / sizeof *imgs; k++) {
        t_name = names[k];
        CHECK_INT(decode_rc(imgs[k].p, imgs[k].n), OCTAVO_OK);
        int gif = k == 7;
        size_t cuts[] = {1, 10, imgs[k].n / 5, imgs[k].n / 2, imgs[k].n * 4 / 5, gif ? imgs[k].n * 4 / 5 : imgs[k].n - 1};
        for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
            int rc = decode_rc(imgs[k].p, cuts[c]);
            CHECKF(rc == OCTAVO_E_IMAGE, "cut at %zu of %zu: %d", cuts[c], imgs[k].n, rc);
            ov_image_out out;
            if (cuts[c] < 13) CHECK_INT(ov_image_for_epub(NULL, imgs[k].p, cuts[c], &out, NULL), OCTAVO_E_IMAGE);
        }
        /* a truncated WebP is refused by the EPUB conversion too */
        if (k >= 4 && k <= 6) {
            ov_image_out out;
            CHECK_INT(ov_image_for_epub(NULL, imgs[k].p, imgs[k].n / 2, &out, NULL), OCTAVO_E_IMAGE);
        }
    }
    /* every prefix of a small image: never a crash, a clean answer each time */
    for (size_t k = 0; k < sizeof imgs / sizeof *imgs; k++) {
        t_name = names[k];
        int bad = 0;
        for (size_t n = 0; n < imgs[k].n; n += 1 + imgs[k].n / 300) {
            int rc = decode_rc(imgs[k].p, n);
            bad += rc != OCTAVO_E_IMAGE && rc != OCTAVO_OK;
        }
        CHECK_INT(bad, 0);
        free(imgs[k].p);
    }
}

static size_t find_bytes(const mem *m, const void *needle, size_t n) {
    for (size_t i = 0; i + n <= m->n; i++)
        if (memcmp(m->p + i, needle, n) == 0) return i;
    return (size_t)-1;
}

TEST(corrupt) {
    /* PNG: a flipped byte in IDAT fails its CRC */
    mem png = make_png(40, 30, PNG_COLOR_TYPE_RGB, 8, 0);
    size_t at = find_bytes(&png, "IDAT", 4);
    CHECK(at != (size_t)-1);
    png.p[at + 10] ^= 0x55;
    CHECK_INT(decode_rc(png.p, png.n), OCTAVO_E_IMAGE);
    png.p[at + 10] ^= 0x55;
    png.p[16] = 0x80; /* width > 2^31 */
    CHECK_INT(decode_rc(png.p, png.n), OCTAVO_E_IMAGE);
    free(png.p);
    /* JPEG: a bad component id in the scan header, a bogus quantisation table index */
    mem jpg = make_jpeg(40, 30, 3, 90, 0);
    at = find_bytes(&jpg, "\xFF\xDA", 2);
    CHECK(at != (size_t)-1);
    jpg.p[at + 5] = 0x77;
    CHECK_INT(decode_rc(jpg.p, jpg.n), OCTAVO_E_IMAGE);
    free(jpg.p);
    jpg = make_jpeg(40, 30, 3, 90, 0);
    at = find_bytes(&jpg, "\xFF\xDB", 2);
    jpg.p[at + 4] = 0x0F;
    CHECK_INT(decode_rc(jpg.p, jpg.n), OCTAVO_E_IMAGE);
    free(jpg.p);
    /* WebP: a bad VP8L signature, an unknown first chunk, a RIFF size past the end */
    mem w = make_webp(40, 30, 1, 1, pat);
    w.p[20] = 0x2e;
    CHECK_INT(decode_rc(w.p, w.n), OCTAVO_E_IMAGE);
    w.p[20] = 0x2f;
    w.p[15] = 'Q';
    CHECK_INT(decode_rc(w.p, w.n), OCTAVO_E_IMAGE);
    free(w.p);
    w = make_webp(40, 30, 0, 0, smooth);
    w.p[4] += 100;
    CHECK_INT(decode_rc(w.p, w.n), OCTAVO_E_IMAGE);
    free(w.p);
    /* GIF: no color table at all */
    mem g = make_gif(10, 10, 0, 0, 10, 10, 0, 0);
    g.p[10] &= 0x7f; /* says: no global color table, so the palette bytes become blocks */
    CHECK_INT(decode_rc(g.p, g.n), OCTAVO_E_IMAGE);
    free(g.p);
    /* any byte flipped anywhere: a clean answer, never a crash (more under SAN=1) */
    mem imgs[] = {make_png(24, 16, PNG_COLOR_TYPE_PALETTE, 8, 1), make_jpeg(24, 16, 3, 90, 1),
                  make_webp(24, 16, 1, 1, pat), make_webp(24, 16, 1, 0, smooth), make_gif(24, 16, 2, 2, 20, 12, 1, 1)};
    for (size_t k = 0; k < sizeof imgs / sizeof *imgs; k++) {
        int bad = 0;
        for (size_t i = 0; i < imgs[k].n; i++) {
            unsigned char save = imgs[k].p[i];
            imgs[k].p[i] ^= (unsigned char)(0x5A + i);
            int rc = decode_rc(imgs[k].p, imgs[k].n);
            bad += rc != OCTAVO_OK && rc != OCTAVO_E_IMAGE && rc != OCTAVO_E_LIMIT;
            imgs[k].p[i] = save;
        }
        CHECK_INT(bad, 0);
        free(imgs[k].p);
    }
}

TEST(alloc_failures) {
    /* every allocation of ours made to fail in turn: NOMEM (or a clean result), no leak (SAN=1) */
    mem imgs[] = {make_png(20, 10, PNG_COLOR_TYPE_RGB_ALPHA, 16, 1), make_jpeg(20, 10, 4, 90, 0),
                  make_webp(20, 10, 1, 0, smooth), make_gif(20, 10, 1, 1, 10, 5, 1, 0), make_webp(20, 10, 0, 0, smooth)};
    for (size_t k = 0; k < sizeof imgs / sizeof *imgs; k++) {
        for (long n = 0; n < 50; n++) {
            ov_pixels px;
            ov_test_alloc_fail_after(n);
            int rc = ov_image_decode(NULL, imgs[k].p, imgs[k].n, &px, NULL);
            ov_test_alloc_fail_after(-1);
            CHECK(rc == OCTAVO_OK || rc == OCTAVO_E_NOMEM);
            if (rc == OCTAVO_OK) {
                unsigned char *enc, *enc2;
                size_t len, len2;
                for (long m = 0; m < 10; m++) {
                    ov_test_alloc_fail_after(m);
                    int r2 = ov_image_encode_png(&px, &enc, &len);
                    ov_test_alloc_fail_after(m);
                    int r3 = ov_image_encode_jpeg(&px, 80, &enc2, &len2);
                    ov_test_alloc_fail_after(-1);
                    CHECK(r2 == OCTAVO_OK || r2 == OCTAVO_E_NOMEM);
                    CHECK(r3 == OCTAVO_OK || r3 == OCTAVO_E_NOMEM);
                    CHECK(r2 == OCTAVO_OK || enc == NULL);
                    CHECK(r3 == OCTAVO_OK || enc2 == NULL);
                    ov_free(enc);
                    ov_free(enc2);
                }
                ov_test_alloc_fail_after(3);
                CHECK(ov_pixels_downscale(&px, 5, 5) == OCTAVO_OK || px.width == 20);
                ov_test_alloc_fail_after(-1);
                ov_pixels_free(&px);
                break;
            }
        }
        for (long n = 0; n < 50; n++) {
            ov_image_out out;
            ov_test_alloc_fail_after(n);
            int rc = ov_image_for_epub(NULL, imgs[k].p, imgs[k].n, &out, NULL);
            ov_test_alloc_fail_after(-1);
            CHECK(rc == OCTAVO_OK || rc == OCTAVO_E_NOMEM);
            ov_free(out.data);
            if (rc == OCTAVO_OK) break;
        }
        free(imgs[k].p);
    }
}

/* ---------------------------------------------------------------- pixel operations */

TEST(drop_opaque_alpha) {
    unsigned char d[] = {1, 2, 3, 255, 4, 5, 6, 255};
    ov_pixels px = {2, 1, 4, ov_malloc(8)};
    memcpy(px.data, d, 8);
    ov_pixels_drop_opaque_alpha(&px);
    CHECK_INT(px.channels, 3);
    CHECK(memcmp(px.data, "\1\2\3\4\5\6", 6) == 0);
    ov_pixels_free(&px);
    unsigned char g[] = {9, 255, 8, 254};
    px = (ov_pixels){2, 1, 2, ov_malloc(4)};
    memcpy(px.data, g, 4);
    ov_pixels_drop_opaque_alpha(&px);
    CHECK_INT(px.channels, 2); /* one pixel is not opaque */
    px.data[3] = 255;
    ov_pixels_drop_opaque_alpha(&px);
    CHECK_INT(px.channels, 1);
    CHECK(px.data[0] == 9 && px.data[1] == 8);
    ov_pixels_free(&px);
}

TEST(downscale) {
    /* 4x2 gray -> 2x1: means of 2x2 boxes */
    unsigned char g[] = {0, 10, 100, 200, 20, 30, 100, 0};
    ov_pixels px = {4, 2, 1, ov_malloc(8)};
    memcpy(px.data, g, 8);
    CHECK_INT(ov_pixels_downscale(&px, 2, 2), OCTAVO_OK);
    CHECK_INT(px.width, 2);
    CHECK_INT(px.height, 1);
    CHECK(px.data[0] == 15 && px.data[1] == 100);
    CHECK_INT(ov_pixels_downscale(&px, 10, 10), OCTAVO_OK); /* no-op when smaller */
    CHECK_INT(px.width, 2);
    ov_pixels_free(&px);
    /* alpha-weighted: a transparent red next to an opaque blue stays blue, half transparent */
    unsigned char c[] = {255, 0, 0, 0, 0, 0, 255, 255};
    px = (ov_pixels){2, 1, 4, ov_malloc(8)};
    memcpy(px.data, c, 8);
    CHECK_INT(ov_pixels_downscale(&px, 1, 1), OCTAVO_OK);
    CHECK(px.data[0] == 0 && px.data[1] == 0 && px.data[2] == 255 && px.data[3] == 128);
    ov_pixels_free(&px);
    /* aspect kept, sizes within the box */
    px = (ov_pixels){1000, 10, 3, make_pixels(1000, 10, 3, pat)};
    unsigned char *copy = px.data;
    px.data = ov_malloc(30000);
    memcpy(px.data, copy, 30000);
    free(copy);
    CHECK_INT(ov_pixels_downscale(&px, 100, 100), OCTAVO_OK);
    CHECK_INT(px.width, 100);
    CHECK_INT(px.height, 1);
    ov_pixels_free(&px);
    /* a flat image stays flat; a big one is fast */
    px = (ov_pixels){3000, 2000, 4, ov_malloc((size_t)3000 * 2000 * 4)};
    memset(px.data, 77, (size_t)3000 * 2000 * 4);
    double t0 = now();
    CHECK_INT(ov_pixels_downscale(&px, 1000, 1000), OCTAVO_OK);
    double t = now() - t0;
    CHECKF(t < 1.5, "%.3f s", t); /* ~0.05 s at -O2; sanitizers and a busy machine are slower */
    CHECK_INT(px.width, 1000);
    CHECK_INT(px.height, 667);
    int bad = 0;
    for (size_t i = 0; i < (size_t)1000 * 667 * 4; i++) bad += px.data[i] != 77;
    CHECK_INT(bad, 0);
    ov_pixels_free(&px);
    CHECK_INT(ov_pixels_downscale(&px, 10, 10), OCTAVO_E_ARG);
}

/* ---------------------------------------------------------------- encoding */

static void roundtrip_png(const char *name, unsigned w, unsigned h, int ch, unsigned char (*f)(unsigned, unsigned, int)) {
    t_name = name;
    unsigned char *src = make_pixels(w, h, ch, f);
    ov_pixels px = {w, h, ch, src};
    unsigned char *enc;
    size_t len;
    CHECK_INT(ov_image_encode_png(&px, &enc, &len), OCTAVO_OK);
    ov_pixels back;
    CHECK_INT(ov_image_decode(NULL, enc, len, &back, NULL), OCTAVO_OK);
    CHECK_INT(back.width, w);
    CHECK_INT(back.height, h);
    CHECK_INT(back.channels, ch);
    CHECK(back.data && memcmp(back.data, src, (size_t)w * h * ch) == 0);
    /* deterministic: the same bytes twice, no time chunk */
    unsigned char *enc2;
    size_t len2;
    CHECK_INT(ov_image_encode_png(&px, &enc2, &len2), OCTAVO_OK);
    CHECK(len == len2 && memcmp(enc, enc2, len) == 0);
    CHECK(find_bytes(&(mem){enc, len, len}, "tIME", 4) == (size_t)-1);
    ov_free(enc);
    ov_free(enc2);
    ov_pixels_free(&back);
    free(src);
}

static unsigned char few(unsigned x, unsigned y, int c) { return (unsigned char)(((x / 4 + y / 3) % 5) * 50 + c); }

TEST(encode_png) {
    roundtrip_png("png enc gray", 31, 17, 1, pat);
    roundtrip_png("png enc gray+alpha", 31, 17, 2, pat);
    roundtrip_png("png enc rgb", 31, 17, 3, pat);
    roundtrip_png("png enc rgba", 31, 17, 4, pat);
    roundtrip_png("png enc rgb few colors (palette)", 40, 30, 3, few);
    roundtrip_png("png enc rgba few colors (palette+tRNS)", 40, 30, 4, few);
    roundtrip_png("png enc 1 pixel", 1, 1, 4, pat);
    ov_pixels bad = {0, 0, 3, NULL};
    unsigned char *o;
    size_t n;
    CHECK_INT(ov_image_encode_png(&bad, &o, &n), OCTAVO_E_ARG);
    CHECK_INT(ov_image_encode_jpeg(&bad, 80, &o, &n), OCTAVO_E_ARG);
}

TEST(encode_jpeg) {
    for (int ch = 1; ch <= 4; ch++) {
        unsigned char *src = make_pixels(64, 48, ch, smooth);
        ov_pixels px = {64, 48, ch, src};
        unsigned char *enc;
        size_t len;
        CHECK_INT(ov_image_encode_jpeg(&px, 90, &enc, &len), OCTAVO_OK);
        ov_pixels back;
        CHECK_INT(ov_image_decode(NULL, enc, len, &back, NULL), OCTAVO_OK);
        CHECK_INT(back.channels, ch >= 3 ? 3 : 1);
        if (ch >= 3) {
            double d = mean_diff(&back, smooth, 3);
            CHECKF(d < 3.0, "channels %d: mean difference %.2f", ch, d);
        } else {
            double d = 0;
            for (unsigned i = 0; i < 64 * 48; i++) d += abs(back.data[i] - src[i * ch]);
            CHECKF(d / (64 * 48) < 3.0, "channels %d: mean difference %.2f", ch, d / (64 * 48));
        }
        unsigned char *enc2;
        size_t len2;
        CHECK_INT(ov_image_encode_jpeg(&px, 90, &enc2, &len2), OCTAVO_OK);
        CHECK(len == len2 && memcmp(enc, enc2, len) == 0);
        ov_free(enc);
        ov_free(enc2);
        ov_pixels_free(&back);
        free(src);
    }
    /* a big image grows the output block several times */
    unsigned char *src = make_pixels(900, 700, 3, pat);
    ov_pixels px = {900, 700, 3, src};
    unsigned char *enc;
    size_t len;
    CHECK_INT(ov_image_encode_jpeg(&px, 100, &enc, &len), OCTAVO_OK);
    CHECK(len > 200000);
    ov_image_info i;
    CHECK_INT(ov_image_probe(NULL, enc, len, &i, NULL), OCTAVO_OK);
    CHECK(i.width == 900 && i.height == 700);
    ov_free(enc);
    free(src);
}

/* ---------------------------------------------------------------- EPUB conversion and cache */

static char tmp_root[256];


/* Files in dir: count, and the one name when there is one. */
static int list_dir(const char *dir, char *one, size_t size) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
        if (one && n == 0) snprintf(one, size, "%s", e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

TEST(epub_pass_through) {
    octavo *ov = handle(OCTAVO_NO_CACHE, NULL);
    mem imgs[] = {make_png(10, 10, PNG_COLOR_TYPE_RGB_ALPHA, 16, 1), make_jpeg(10, 10, 3, 80, 0),
                  make_gif(10, 10, 0, 0, 10, 10, 1, 0), {0}};
    const char *svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"12\" height=\"8\"/>";
    mem_put(&imgs[3], svg, strlen(svg));
    static const char *const mimes[] = {"image/png", "image/jpeg", "image/gif", "image/svg+xml"};
    static const char *const exts[] = {"png", "jpg", "gif", "svg"};
    for (int k = 0; k < 4; k++) {
        ov_image_out out;
        CHECK_INT(ov_image_for_epub(ov, imgs[k].p, imgs[k].n, &out, NULL), OCTAVO_OK);
        CHECK(out.len == imgs[k].n && memcmp(out.data, imgs[k].p, out.len) == 0);
        CHECK_STR(out.mime, mimes[k]);
        CHECK_STR(out.ext, exts[k]);
        CHECK_INT(out.width, k == 3 ? 12 : 10);
        ov_free(out.data);
        free(imgs[k].p);
    }
    octavo_free(ov);
}

TEST(epub_webp_choice) {
    octavo *ov = handle(OCTAVO_NO_CACHE, NULL);
    static const struct { int alpha, lossless; const char *ext; } cases[] = {
        {0, 0, "jpg"}, {1, 0, "png"}, {0, 1, "png"}, {1, 1, "png"}};
    for (int k = 0; k < 4; k++) {
        unsigned char (*f)(unsigned, unsigned, int) = cases[k].lossless ? pat : smooth;
        mem w = make_webp(64, 48, cases[k].alpha, cases[k].lossless, f);
        ov_image_out out;
        CHECK_INT(ov_image_for_epub(ov, w.p, w.n, &out, NULL), OCTAVO_OK);
        CHECK_STR(out.ext, cases[k].ext);
        CHECK_STR(out.mime, cases[k].ext[0] == 'p' ? "image/png" : "image/jpeg");
        CHECK(out.width == 64 && out.height == 48);
        ov_pixels px;
        CHECK_INT(ov_image_decode(NULL, out.data, out.len, &px, NULL), OCTAVO_OK);
        if (cases[k].lossless) CHECK_INT(max_diff_visible(&px, f), 0); /* exact through WebP and PNG */
        else CHECK(mean_diff(&px, f, 3) < 5.0);
        ov_pixels_free(&px);
        ov_free(out.data);
        free(w.p);
    }
    /* a lossy WebP whose alpha is all opaque becomes a JPEG */
    unsigned char *p = make_pixels(32, 32, 4, smooth);
    for (int i = 0; i < 32 * 32; i++) p[i * 4 + 3] = 255;
    uint8_t *o;
    size_t n = WebPEncodeRGBA(p, 32, 32, 128, 90, &o);
    ov_image_out out;
    CHECK_INT(ov_image_for_epub(ov, o, n, &out, NULL), OCTAVO_OK);
    CHECK_STR(out.ext, "jpg");
    ov_free(out.data);
    WebPFree(o);
    free(p);
    octavo_free(ov);
}

TEST(cache) {
    char dir[512], dir2[512], file[1024], name[256];
    snprintf(dir, sizeof dir, "%s/a/b/cache", tmp_root);
    snprintf(dir2, sizeof dir2, "%s/other", tmp_root);
    mem w = make_webp(64, 48, 0, 0, smooth);
    mem wa = make_webp(64, 48, 1, 1, pat);

    /* cold: converts and stores one entry (the folders made on the way), no temporary left */
    octavo *ov = handle(0, dir);
    ov_image_out cold, warm, other;
    CHECK_INT(ov_image_for_epub(ov, w.p, w.n, &cold, NULL), OCTAVO_OK);
    CHECK_INT(list_dir(dir, name, sizeof name), 1);
    CHECK(strlen(name) > 64 + 4 && strcmp(name + strlen(name) - 4, ".jpg") == 0);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    /* warm: the same bytes */
    CHECK_INT(ov_image_for_epub(ov, w.p, w.n, &warm, NULL), OCTAVO_OK);
    CHECK(warm.len == cold.len && memcmp(warm.data, cold.data, cold.len) == 0);
    CHECK_STR(warm.ext, "jpg");
    CHECK(warm.width == 64 && warm.height == 48);
    ov_free(warm.data);
    /* and the warm one really came from the cache: plant another valid entry under the key */
    char key[OV_IMAGE_KEY_SIZE], ename[OV_IMAGE_KEY_SIZE + 8];
    CHECK_INT(ov_image_cache_key(w.p, w.n, NULL, "epub3", key), 0);
    unsigned char sha[32];
    ov_sha256(w.p, w.n, sha);
    char key2[OV_IMAGE_KEY_SIZE];
    CHECK_INT(ov_image_cache_key(NULL, 0, sha, "epub3", key2), 0);
    CHECK_STR(key, key2);
    CHECK_INT(ov_image_for_epub_sha(ov, w.p, w.n, sha, &warm, NULL), OCTAVO_OK);
    CHECK(warm.len == cold.len && memcmp(warm.data, cold.data, cold.len) == 0);
    ov_free(warm.data);
    snprintf(ename, sizeof ename, "%s.jpg", key);
    CHECK_STR(ename, name);
    mem planted = make_jpeg(8, 8, 3, 50, 0);
    ov_cache_put(ov, ename, planted.p, planted.n);
    CHECK_INT(ov_image_for_epub(ov, w.p, w.n, &warm, NULL), OCTAVO_OK);
    CHECK(warm.len == planted.n && memcmp(warm.data, planted.p, planted.n) == 0);
    CHECK(warm.width == 8);
    ov_free(warm.data);
    free(planted.p);

    /* a corrupt entry (one byte changed) is recomputed, and the entry repaired */
    snprintf(file, sizeof file, "%s/%s", dir, name);
    ov_cache_put(ov, ename, cold.data, cold.len);
    int fd = open(file, O_RDWR);
    CHECK(fd >= 0);
    unsigned char b;
    CHECK(pread(fd, &b, 1, 200) == 1);
    b ^= 1;
    CHECK(pwrite(fd, &b, 1, 200) == 1);
    close(fd);
    CHECK_INT(ov_image_for_epub(ov, w.p, w.n, &warm, NULL), OCTAVO_OK);
    CHECK(warm.len == cold.len && memcmp(warm.data, cold.data, cold.len) == 0);
    ov_free(warm.data);
    unsigned char *d;
    size_t dn;
    CHECK_INT(ov_cache_get(ov, ename, &d, &dn), 1);
    CHECK(dn == cold.len && memcmp(d, cold.data, dn) == 0);
    ov_free(d);
    /* a truncated entry, an empty one, and one with a wrong header: misses */
    CHECK(truncate(file, 100) == 0);
    CHECK_INT(ov_cache_get(ov, ename, &d, &dn), 0);
    CHECK(d == NULL && dn == 0);
    CHECK_INT(ov_image_for_epub(ov, w.p, w.n, &warm, NULL), OCTAVO_OK);
    CHECK(warm.len == cold.len && memcmp(warm.data, cold.data, cold.len) == 0);
    ov_free(warm.data);
    CHECK(truncate(file, 0) == 0);
    CHECK_INT(ov_cache_get(ov, ename, &d, &dn), 0);
    CHECK_INT(ov_image_for_epub(ov, w.p, w.n, &warm, NULL), OCTAVO_OK);
    CHECK(warm.len == cold.len && memcmp(warm.data, cold.data, cold.len) == 0);
    ov_free(warm.data);
    /* an entry that checks out but is no image we store is not used either */
    ov_cache_put(ov, ename, "not an image", 12);
    CHECK_INT(ov_image_for_epub(ov, w.p, w.n, &warm, NULL), OCTAVO_OK);
    CHECK(warm.len == cold.len && memcmp(warm.data, cold.data, cold.len) == 0);
    ov_free(warm.data);

    /* keys that are not plain file names are refused */
    ov_cache_put(ov, "../escape", "x", 1);
    ov_cache_put(ov, ".hidden", "x", 1);
    ov_cache_put(ov, "a/b", "x", 1);
    CHECK_INT(ov_cache_get(ov, "../escape", &d, &dn), 0);
    snprintf(file, sizeof file, "%s/a/b/escape", tmp_root);
    CHECK(access(file, F_OK) != 0);
    CHECK_INT(list_dir(dir, NULL, 0), 1);

    /* lossless with alpha: a .png entry, same cold and warm */
    CHECK_INT(ov_image_for_epub(ov, wa.p, wa.n, &other, NULL), OCTAVO_OK);
    CHECK_STR(other.ext, "png");
    CHECK_INT(list_dir(dir, NULL, 0), 2);
    CHECK_INT(ov_image_for_epub(ov, wa.p, wa.n, &warm, NULL), OCTAVO_OK);
    CHECK_STR(warm.ext, "png");
    CHECK(warm.len == other.len && memcmp(warm.data, other.data, other.len) == 0);
    ov_free(warm.data);
    octavo_free(ov);

    /* another handle, another folder: the same bytes (byte-identical cold or warm) */
    ov = handle(0, dir2);
    CHECK_INT(ov_image_for_epub(ov, w.p, w.n, &warm, NULL), OCTAVO_OK);
    CHECK(warm.len == cold.len && memcmp(warm.data, cold.data, cold.len) == 0);
    ov_free(warm.data);
    octavo_free(ov);

    /* NO_CACHE: nothing read, nothing written, even with a folder named */
    char dir3[512];
    snprintf(dir3, sizeof dir3, "%s/nocache", tmp_root);
    ov = handle(OCTAVO_NO_CACHE, dir3);
    CHECK_INT(ov_image_for_epub(ov, w.p, w.n, &warm, NULL), OCTAVO_OK);
    CHECK(warm.len == cold.len && memcmp(warm.data, cold.data, cold.len) == 0);
    ov_free(warm.data);
    CHECK(access(dir3, F_OK) != 0);
    CHECK_INT(ov_cache_get(ov, ename, &d, &dn), 0);
    octavo_free(ov);
    /* a cache folder that cannot be made: the conversion still works */
    snprintf(file, sizeof file, "%s/plainfile", tmp_root);
    FILE *f = fopen(file, "w");
    fclose(f);
    snprintf(dir3, sizeof dir3, "%s/plainfile/sub", tmp_root);
    ov = handle(0, dir3);
    CHECK_INT(ov_image_for_epub(ov, w.p, w.n, &warm, NULL), OCTAVO_OK);
    CHECK(warm.len == cold.len && memcmp(warm.data, cold.data, cold.len) == 0);
    ov_free(warm.data);
    octavo_free(ov);

    ov_free(cold.data);
    ov_free(other.data);
    free(w.p);
    free(wa.p);
}

typedef struct job {
    octavo *ov;
    const mem *imgs;
    int n;
    unsigned char *out[8];
    size_t len[8];
    int rc;
} job;

static void *convert_all(void *arg) {
    job *j = arg;
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < j->n; i++) {
            ov_image_out o;
            int rc = ov_image_for_epub(j->ov, j->imgs[i].p, j->imgs[i].n, &o, NULL);
            if (rc) { j->rc = rc; continue; }
            if (r == 0) { j->out[i] = o.data; j->len[i] = o.len; }
            else {
                if (o.len != j->len[i] || memcmp(o.data, j->out[i], o.len)) j->rc = -1;
                ov_free(o.data);
            }
        }
    return NULL;
}

TEST(threads) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/threads", tmp_root);
    octavo *ov = handle(0, dir);
    mem imgs[4] = {make_webp(200, 150, 0, 0, smooth), make_webp(200, 150, 1, 0, smooth), make_webp(120, 90, 1, 1, pat),
                   make_png(50, 50, PNG_COLOR_TYPE_RGB, 8, 0)};
    job jobs[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        memset(&jobs[t], 0, sizeof jobs[t]);
        jobs[t].ov = ov;
        jobs[t].imgs = imgs;
        jobs[t].n = 4;
        pthread_create(&th[t], NULL, convert_all, &jobs[t]);
    }
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 4; t++) {
        CHECK_INT(jobs[t].rc, 0);
        for (int i = 0; i < 4; i++) {
            CHECK(jobs[t].len[i] == jobs[0].len[i] && memcmp(jobs[t].out[i], jobs[0].out[i], jobs[0].len[i]) == 0);
        }
    }
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 4; i++) ov_free(jobs[t].out[i]);
    CHECK_INT(list_dir(dir, NULL, 0), 3); /* three WebPs, and no temporary file left behind */
    for (int i = 0; i < 4; i++) free(imgs[i].p);
    octavo_free(ov);
}

/* ---------------------------------------------------------------- the corpus */

static mem read_file(const char *path) {
    mem m = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return m;
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) mem_put(&m, buf, n);
    fclose(f);
    return m;
}

TEST(corpus) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/img", t_corpus());
    DIR *d = opendir(dir);
    if (!d) {
        printf("corpus images not found at %s: skipped\n", dir);
        return;
    }
    octavo *ov = handle(OCTAVO_NO_CACHE, NULL);
    struct dirent *e;
    int n = 0, webp = 0;
    double t_webp = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        mem m = read_file(path);
        if (!m.p) continue;
        t_name = e->d_name;
        n++;
        ov_image_info i;
        octavo_error err;
        int rc = ov_image_probe(ov, m.p, m.n, &i, &err);
        CHECKF(rc == OCTAVO_OK, "%s", err.message);
        const char *dot = strrchr(e->d_name, '.');
        if (rc == OCTAVO_OK && dot) {
            const char *want = !strcmp(dot, ".webp") ? "webp" : !strcmp(dot, ".png") ? "png"
                             : !strcmp(dot, ".svg") ? "svg" : !strcmp(dot, ".gif") ? "gif" : "jpg";
            CHECK_STR(i.ext, want);
        }
        if (rc == OCTAVO_OK && i.format != OV_IMG_SVG) {
            ov_pixels px;
            rc = ov_image_decode(ov, m.p, m.n, &px, &err);
            CHECKF(rc == OCTAVO_OK, "%s", err.message);
            CHECK(rc || (px.width == i.width && px.height == i.height));
            ov_pixels_free(&px);
        }
        double t0 = cpu_now();
        ov_image_out out;
        rc = ov_image_for_epub(ov, m.p, m.n, &out, &err);
        if (i.format == OV_IMG_WEBP) { t_webp += cpu_now() - t0; webp++; }
        CHECKF(rc == OCTAVO_OK, "%s", err.message);
        if (rc == OCTAVO_OK) {
            CHECK(out.width == i.width && out.height == i.height);
            CHECK(strcmp(out.ext, "webp") != 0);
        }
        ov_free(out.data);
        free(m.p);
    }
    closedir(d);
    t_name = "corpus";
    printf("corpus: %d images probed, decoded and converted; %d WebP -> PNG/JPEG in %.2f CPU s\n", n, webp, t_webp);
    CHECK(n >= 100);
    octavo_free(ov);
}

int main(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/octavo-test-image-XXXXXX");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(limit_huge_headers); /* first: its memory check reads the process's peak */
    RUN(limit_side);
    RUN(limit_decoder_header);
    RUN(probe_formats);
    RUN(probe_svg);
    RUN(probe_garbage);
    RUN(decode_png);
    RUN(decode_png_lowbit_gray);
    RUN(decode_jpeg);
    RUN(epub_pass_through_verified);
    RUN(decode_jpeg_orientation);
    RUN(decode_webp);
    RUN(decode_webp_animated);
    RUN(decode_gif);
    RUN(truncated);
    RUN(corrupt);
    RUN(alloc_failures);
    RUN(drop_opaque_alpha);
    RUN(downscale);
    RUN(encode_png);
    RUN(encode_jpeg);
    RUN(epub_pass_through);
    RUN(epub_webp_choice);
    RUN(cache);
    RUN(threads);
    RUN(corpus);
    t_rm_rf(tmp_root);
    return t_done();
}
