/* PDF images prepared ahead of the writer (pdf.c) and the codec paths they use (image_codec.c):
 *  - a document with images of every kind (lossy WebP photos, lossy WebP with alpha, lossless
 *    WebP, PNG, JPEG placed as it is and JPEG scaled, one image drawn twice, one undecodable)
 *    gives the same bytes and the same warnings in the same order with 0, 1, 2 and 5 preparing
 *    threads, without cache, cold and warm;
 *  - ov_image_decode_fit (a WebP scaled while decoding) is close to an exact area average of the
 *    full decode and has ov_pixels_fit_size's size;
 *  - ov_image_webp_jpeg (Y'CbCr planes straight to JPEG) is close to the WebP's own RGB decode,
 *    scaled or not, at every awkward size, and refuses what it cannot do. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include "harness.h"
#include "image.h"
#include "layout.h"

static char dir[] = "/tmp/octavo-test-pdfimg-XXXXXX";

/* A photo-like pattern: smooth gradients, a sharp diagonal edge and some texture. */
static unsigned char *pattern(unsigned w, unsigned h, int ch, unsigned seed) {
    unsigned char *p = malloc((size_t)w * h * (size_t)ch);
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++) {
            unsigned char *q = p + ((size_t)y * w + x) * (size_t)ch;
            unsigned t = (x * 7 + y * 13 + seed) % 23;
            q[0] = (unsigned char)(x * 255 / (w ? w : 1));
            q[1] = (unsigned char)(y * 255 / (h ? h : 1));
            q[2] = (unsigned char)((x + y < (w + h) / 2 ? 40 : 210) + t);
            if (ch == 4)
                q[3] = (unsigned char)(x < w / 3 ? 255 : x < 2 * w / 3 ? 128 : 0);
        }
    return p;
}

static int write_file(const char *name, const void *p, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t k = fwrite(p, 1, n, f);
    fclose(f);
    return k == n ? 0 : -1;
}

static int webp_file(const char *name, unsigned w, unsigned h, int alpha, int lossless, unsigned seed) {
    unsigned char *px = pattern(w, h, alpha ? 4 : 3, seed);
    uint8_t *out = NULL;
    size_t n;
    if (lossless)
        n = alpha ? WebPEncodeLosslessRGBA(px, (int)w, (int)h, (int)w * 4, &out)
                  : WebPEncodeLosslessRGB(px, (int)w, (int)h, (int)w * 3, &out);
    else
        n = alpha ? WebPEncodeRGBA(px, (int)w, (int)h, (int)w * 4, 80, &out)
                  : WebPEncodeRGB(px, (int)w, (int)h, (int)w * 3, 80, &out);
    free(px);
    int rc = n ? write_file(name, out, n) : -1;
    WebPFree(out);
    return rc;
}

static int png_file(const char *name, unsigned w, unsigned h) {
    ov_pixels px = { w, h, 4, pattern(w, h, 4, 3) };
    unsigned char *out = NULL;
    size_t n = 0;
    int rc = ov_image_encode_png(&px, &out, &n) == OCTAVO_OK ? write_file(name, out, n) : -1;
    free(px.data);
    ov_free(out);
    return rc;
}

static int jpeg_file(const char *name, unsigned w, unsigned h) {
    ov_pixels px = { w, h, 3, pattern(w, h, 3, 5) };
    unsigned char *out = NULL;
    size_t n = 0;
    int rc = ov_image_encode_jpeg(&px, 90, &out, &n) == OCTAVO_OK ? write_file(name, out, n) : -1;
    free(px.data);
    ov_free(out);
    return rc;
}

/* ---- parallel preparation gives the serial bytes */

typedef struct diags {
    char text[4096];
    int n;
} diags;

static void on_diag(void *ud, const octavo_diag *d) {
    diags *g = ud;
    size_t l = strlen(g->text);
    snprintf(g->text + l, sizeof g->text - l, "%d:%s|", d->code, d->message);
    g->n++;
}

static const char *DOC =
    "---\ntitle: Images\n---\n\n"
    "A photo, scaled while decoded:\n\n![](photo-big.webp)\n\n"
    "A small one:\n\n![](photo-small.webp)\n\n"
    "With alpha, scaled:\n\n![](alpha-big.webp)\n\n"
    "Lossless:\n\n![](lossless.webp)\n\n"
    "A PNG:\n\n![](drawing.png)\n\n"
    "A JPEG placed as it is:\n\n![](small.jpg)\n\n"
    "A JPEG scaled:\n\n![](big.jpg)\n\n"
    "Undecodable:\n\n![](broken.webp)\n\n"
    "The photo again:\n\n![](photo-big.webp)\n\n"
    "An odd size:\n\n![](odd.webp)\n";

static char *render_pdf(int threads, const char *cache, size_t *len, diags *g) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.resource_root = dir;
    o.cache_dir = cache;
    o.flags = cache ? 0 : OCTAVO_NO_CACHE;
    o.diag = on_diag;
    o.diag_ud = g;
    memset(g, 0, sizeof *g);
    octavo_error err;
    octavo *ov = octavo_new(&o, &err);
    if (!ov)
        return NULL;
    octavo_doc *doc = NULL;
    char *out = NULL;
    *len = 0;
    ov_test_pdf_prep_threads(threads);
    if (octavo_doc_load(ov, "img.md", DOC, strlen(DOC), &doc, &err) == OCTAVO_OK &&
        octavo_render_buffer(doc, OCTAVO_FORMAT_PDF, &out, len, &err) != OCTAVO_OK)
        fprintf(stderr, "render: %s\n", err.message);
    ov_test_pdf_prep_threads(-1);
    octavo_doc_free(doc);
    octavo_free(ov);
    return out;
}

TEST(test_parallel_same_bytes) {
    CHECK_INT(webp_file("photo-big.webp", 3000, 1200, 0, 0, 1), 0); /* 300 dpi at ~480 pt: 2000 px */
    CHECK_INT(webp_file("photo-small.webp", 333, 211, 0, 0, 2), 0);
    CHECK_INT(webp_file("alpha-big.webp", 2600, 900, 1, 0, 3), 0);
    CHECK_INT(webp_file("lossless.webp", 301, 157, 1, 1, 4), 0);
    CHECK_INT(webp_file("odd.webp", 2017, 33, 0, 0, 6), 0);
    CHECK_INT(png_file("drawing.png", 640, 360), 0);
    CHECK_INT(jpeg_file("small.jpg", 320, 200), 0);
    CHECK_INT(jpeg_file("big.jpg", 2400, 1600), 0);
    static const char broken[] = "RIFF\x30\0\0\0WEBPVP8 \x20\0\0\0\x10\x02\0\x9d\x01\x2a\x40\0\x40\0garbage";
    CHECK_INT(write_file("broken.webp", broken, sizeof broken - 1), 0);

    diags g0, g;
    size_t n0 = 0, n = 0;
    char *ref = render_pdf(0, NULL, &n0, &g0);
    CHECK(ref != NULL && n0 > 1000);
    CHECKF(g0.n >= 1 && strstr(g0.text, "image cannot be decoded"), "warnings: %s", g0.text);
    static const int threads[] = { 1, 2, 5, -1 };
    for (size_t i = 0; i < sizeof threads / sizeof *threads; i++) {
        for (int rep = 0; rep < 3; rep++) {
            char *pdf = render_pdf(threads[i], NULL, &n, &g);
            CHECKF(pdf && n == n0 && memcmp(pdf, ref, n0) == 0, "%d threads: other bytes (%zu vs %zu)", threads[i], n, n0);
            CHECKF(g.n == g0.n && strcmp(g.text, g0.text) == 0, "%d threads: warnings %s vs %s", threads[i], g.text,
                   g0.text);
            octavo_buffer_free(pdf);
        }
    }
    /* with a cache: cold (parallel and serial) and warm give the bytes of a build without one */
    char cache[600];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    for (int round = 0; round < 3; round++) {
        int t = round == 1 ? 0 : 2;
        char *pdf = render_pdf(t, cache, &n, &g);
        CHECKF(pdf && n == n0 && memcmp(pdf, ref, n0) == 0, "cache round %d: other bytes", round);
        CHECKF(strcmp(g.text, g0.text) == 0, "cache round %d: warnings %s", round, g.text);
        octavo_buffer_free(pdf);
        if (round == 0) { /* a serial cold build too */
            char cmd[700];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache);
            CHECK(system(cmd) == 0);
        }
    }
    /* the images are there: two JPEG photos scaled to 300 dpi, a soft mask for the alpha one */
    CHECK(strstr(ref, "/SMask") != NULL || memmem(ref, n0, "/SMask", 6) != NULL);
    CHECK(memmem(ref, n0, "/DCTDecode", 10) != NULL);
    octavo_buffer_free(ref);
}

/* ---- scaled decoding */

/* Exact area average (alpha-weighted colour) of full at nw x nh, in double. */
static unsigned char *exact_average(const ov_pixels *full, unsigned nw, unsigned nh) {
    int ch = full->channels;
    unsigned W = full->width, H = full->height;
    double sx = (double)W / nw, sy = (double)H / nh;
    unsigned char *ex = malloc((size_t)nw * nh * (size_t)ch);
    for (unsigned oy = 0; oy < nh; oy++)
        for (unsigned ox = 0; ox < nw; ox++) {
            double acc[4] = { 0 }, wt = 0, y0 = oy * sy, y1 = (oy + 1) * sy, x0 = ox * sx, x1 = (ox + 1) * sx;
            for (unsigned y = (unsigned)y0; y < H && y < y1; y++) {
                double wy = (y + 1 < y1 ? y + 1 : y1) - (y > y0 ? y : y0);
                for (unsigned x = (unsigned)x0; x < W && x < x1; x++) {
                    double wx = (x + 1 < x1 ? x + 1 : x1) - (x > x0 ? x : x0), ww = wx * wy;
                    const unsigned char *p = full->data + ((size_t)y * W + x) * (size_t)ch;
                    double al = ch == 4 ? p[3] / 255.0 : 1;
                    for (int k = 0; k < 3; k++)
                        acc[k] += p[k] * ww * al;
                    acc[3] += al * ww;
                    wt += ww;
                }
            }
            unsigned char *o = ex + ((size_t)oy * nw + ox) * (size_t)ch;
            for (int k = 0; k < 3; k++)
                o[k] = acc[3] > 0 ? (unsigned char)(acc[k] / acc[3] + 0.5) : 0;
            if (ch == 4)
                o[3] = (unsigned char)(acc[3] / wt * 255 + 0.5);
        }
    return ex;
}

/* Mean absolute difference of the colour (weighted by alpha) and of the alpha. */
static double mean_diff(const unsigned char *a, const unsigned char *b, size_t npx, int ch) {
    double sum = 0, wsum = 0;
    for (size_t i = 0; i < npx; i++)
        for (int k = 0; k < ch; k++) {
            double wgt = ch == 4 && k < 3 ? b[i * 4 + 3] / 255.0 : 1;
            sum += fabs((double)a[i * (size_t)ch + (size_t)k] - b[i * (size_t)ch + (size_t)k]) * wgt;
            wsum += wgt;
        }
    return wsum > 0 ? sum / wsum : 0;
}

static unsigned char *slurp(const char *name, size_t *n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long l = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)l);
    if (b && fread(b, 1, (size_t)l, f) != (size_t)l) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)l;
    return b;
}

static void fit_case(const char *name, unsigned w, unsigned h, int alpha, int lossless, unsigned mw, unsigned mh) {
    CHECK_INT(webp_file(name, w, h, alpha, lossless, 9), 0);
    size_t n = 0;
    unsigned char *d = slurp(name, &n);
    if (!d) {
        CHECK(!"no file");
        return;
    }
    ov_pixels full, fit;
    CHECK_INT(ov_image_decode(NULL, d, n, &full, NULL), OCTAVO_OK);
    CHECK_INT(ov_image_decode_fit(NULL, d, n, mw, mh, &fit, NULL), OCTAVO_OK);
    unsigned nw, nh;
    int smaller = ov_pixels_fit_size(w, h, mw, mh, &nw, &nh);
    CHECKF(fit.width == nw && fit.height == nh, "%s: %ux%u, want %ux%u", name, fit.width, fit.height, nw, nh);
    CHECK_INT(fit.channels, full.channels);
    if (fit.data && full.data && fit.width == nw && fit.height == nh && fit.channels == full.channels) {
        unsigned char *ex = smaller ? exact_average(&full, nw, nh) : NULL;
        double md = mean_diff(fit.data, ex ? ex : full.data, (size_t)nw * nh, fit.channels);
        CHECKF(md < 1.5, "%s: mean difference %.2f from the exact average", name, md);
        /* and no worse than the integer-box downscale of the full decode */
        if (ex) {
            ov_pixels box = full;
            box.data = malloc((size_t)w * h * (size_t)full.channels);
            memcpy(box.data, full.data, (size_t)w * h * (size_t)full.channels);
            CHECK_INT(ov_pixels_downscale(&box, mw, mh), OCTAVO_OK);
            double mb = mean_diff(box.data, ex, (size_t)nw * nh, fit.channels);
            CHECKF(md <= mb + 0.6, "%s: scaled decode %.2f, box downscale %.2f", name, md, mb);
            free(box.data);
        }
        free(ex);
    }
    ov_pixels_free(&full);
    ov_pixels_free(&fit);
    free(d);
}

TEST(test_decode_fit) {
    fit_case("fit-photo.webp", 1200, 800, 0, 0, 500, 500);
    fit_case("fit-near.webp", 1000, 400, 0, 0, 930, 1000);   /* a ratio near 1: integer boxes alias */
    fit_case("fit-alpha.webp", 900, 300, 1, 0, 400, 400);
    fit_case("fit-lossless.webp", 640, 480, 1, 1, 200, 200);
    fit_case("fit-thin.webp", 1500, 3, 0, 0, 100, 100);      /* a side of 1 pixel */
    fit_case("fit-thin2.webp", 1500, 30, 0, 0, 100, 100);
    fit_case("fit-thin3.webp", 1500, 60, 0, 0, 100, 100);
    fit_case("fit-thin4.webp", 1500, 240, 0, 0, 100, 100);
    fit_case("fit-thin5.webp", 30, 1500, 0, 0, 100, 100);
    fit_case("fit-none.webp", 200, 100, 0, 0, 400, 400);     /* no scaling: the plain decode */
    /* the pixel limit applies to the image's own size */
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.limits.image_pixels = 1000;
    octavo_error err;
    octavo *ov = octavo_new(&o, &err);
    size_t n = 0;
    unsigned char *d = slurp("fit-photo.webp", &n);
    ov_pixels px;
    CHECK_INT(ov_image_decode_fit(ov, d, n, 10, 10, &px, &err), OCTAVO_E_LIMIT);
    CHECK(px.data == NULL);
    /* truncated: an error, nothing held */
    CHECK(ov_image_decode_fit(NULL, d, n / 2, 100, 100, &px, NULL) != OCTAVO_OK);
    CHECK(px.data == NULL);
    free(d);
    octavo_free(ov);
}

/* ---- lossy WebP straight to JPEG */

static double psnr(const unsigned char *a, const unsigned char *b, size_t n) {
    double se = 0;
    for (size_t k = 0; k < n; k++) {
        double df = (double)a[k] - b[k];
        se += df * df;
    }
    return se == 0 ? 99 : 10 * log10(255.0 * 255.0 / (se / (double)n));
}

static void jpeg_case(unsigned w, unsigned h, unsigned mw, unsigned mh, ov_image_buf *scratch) {
    char name[64];
    snprintf(name, sizeof name, "yuv-%ux%u.webp", w, h);
    CHECK_INT(webp_file(name, w, h, 0, 0, 11), 0);
    size_t n = 0;
    unsigned char *d = slurp(name, &n);
    if (!d) {
        CHECK(!"no file");
        return;
    }
    unsigned char *jpg = NULL;
    size_t jn = 0;
    unsigned jw = 0, jh = 0;
    CHECK_INT(ov_image_webp_jpeg(NULL, d, n, mw, mh, 85, scratch ? OV_JPEG_STD_HUFFMAN : 0, scratch, &jpg, &jn, &jw, &jh, NULL), OCTAVO_OK);
    ov_pixels ref, got;
    CHECK_INT(ov_image_decode_fit(NULL, d, n, mw ? mw : w, mh ? mh : h, &ref, NULL), OCTAVO_OK);
    CHECK_INT(ov_image_decode(NULL, jpg, jn, &got, NULL), OCTAVO_OK);
    CHECKF(jw == ref.width && jh == ref.height && got.width == jw && got.height == jh && got.channels == 3,
           "%ux%u: JPEG %ux%u, want %ux%u", w, h, got.width, got.height, ref.width, ref.height);
    if (got.data && ref.data && got.width == ref.width && got.height == ref.height && got.channels == ref.channels) {
        double db = psnr(got.data, ref.data, (size_t)jw * jh * 3);
        CHECKF(db > 30, "%ux%u -> %ux%u: PSNR %.1f dB", w, h, jw, jh, db);
        /* no tint: the mean of each channel stays */
        for (int k = 0; k < 3; k++) {
            double sa = 0, sb = 0;
            for (size_t i = 0; i < (size_t)jw * jh; i++) {
                sa += got.data[i * 3 + (size_t)k];
                sb += ref.data[i * 3 + (size_t)k];
            }
            double npx = (double)jw * jh;
            CHECKF(fabs(sa / npx - sb / npx) < 2.0, "%ux%u channel %d: mean %.1f vs %.1f", w, h, k, sa / npx, sb / npx);
        }
    }
    ov_pixels_free(&ref);
    ov_pixels_free(&got);
    ov_free(jpg);
    free(d);
}

TEST(test_webp_jpeg) {
    ov_image_buf scratch = { 0 };
    jpeg_case(640, 480, 0, 0, NULL);
    jpeg_case(17, 9, 0, 0, &scratch);  /* not whole MCUs: padding */
    jpeg_case(1, 1, 0, 0, NULL);
    jpeg_case(333, 1, 0, 0, &scratch);
    jpeg_case(1601, 803, 700, 700, &scratch); /* scaled, odd sizes; the scratch grows */
    jpeg_case(1601, 803, 700, 700, NULL);
    jpeg_case(900, 600, 1000, 1000, &scratch); /* nothing to scale; the scratch is reused */
    CHECK(scratch.cap >= 704 * 368 * 3 / 2);
    ov_image_buf_free(&scratch);
    CHECK(scratch.p == NULL && scratch.cap == 0);
    /* too small a size to scale to: refused (the caller takes the RGB path) */
    {
        size_t n = 0;
        unsigned char *d = slurp("yuv-640x480.webp", &n), *jpg = NULL;
        size_t jn = 0;
        CHECK_INT(ov_image_webp_jpeg(NULL, d, n, 10, 10, 85, 0, NULL, &jpg, &jn, NULL, NULL, NULL), OCTAVO_E_ARG);
        CHECK(jpg == NULL);
        free(d);
    }
    /* what it refuses: lossless, alpha, other formats; truncated data is an error */
    size_t n = 0;
    unsigned char *jpg = NULL;
    size_t jn = 0;
    unsigned char *d = slurp("fit-lossless.webp", &n);
    CHECK_INT(ov_image_webp_jpeg(NULL, d, n, 0, 0, 85, 0, NULL, &jpg, &jn, NULL, NULL, NULL), OCTAVO_E_ARG);
    CHECK(jpg == NULL);
    free(d);
    d = slurp("fit-alpha.webp", &n);
    CHECK_INT(ov_image_webp_jpeg(NULL, d, n, 0, 0, 85, 0, NULL, &jpg, &jn, NULL, NULL, NULL), OCTAVO_E_ARG);
    free(d);
    d = slurp("small.jpg", &n);
    CHECK_INT(ov_image_webp_jpeg(NULL, d, n, 0, 0, 85, 0, NULL, &jpg, &jn, NULL, NULL, NULL), OCTAVO_E_ARG);
    free(d);
    d = slurp("yuv-640x480.webp", &n);
    for (size_t cut = 30; d && cut < n; cut += n / 7) {
        int rc = ov_image_webp_jpeg(NULL, d, cut, 0, 0, 85, 0, NULL, &jpg, &jn, NULL, NULL, NULL);
        CHECKF(rc != OCTAVO_OK && jpg == NULL, "truncated at %zu: rc %d", cut, rc);
    }
    /* the EPUB conversion of a lossy photo is this JPEG */
    ov_image_out eo;
    CHECK_INT(ov_image_for_epub(NULL, d, n, &eo, NULL), OCTAVO_OK);
    CHECK_INT(ov_image_webp_jpeg(NULL, d, n, 0, 0, 85, OV_JPEG_STD_HUFFMAN, NULL, &jpg, &jn, NULL, NULL, NULL), OCTAVO_OK);
    CHECK(eo.len == jn && jpg && memcmp(eo.data, jpg, jn) == 0);
    CHECK_STR(eo.mime, "image/jpeg");
    ov_free(eo.data);
    ov_free(jpg);
    free(d);
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_parallel_same_bytes);
    RUN(test_decode_fit);
    RUN(test_webp_jpeg);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return t_done();
}
