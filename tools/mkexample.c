/*
 * Draws the images of the bundled example site (examples/site/img): a pipeline diagram (lossless
 * WebP), a bar chart (PNG), a harbour picture (lossy WebP), a white paper cover and the blog
 * book's cover (PNG). They are made here, from shapes and DejaVu Sans text, so that the example
 * owes nothing to anyone.
 *
 *   cc -O2 -o mkexample tools/mkexample.c $(pkg-config --cflags --libs freetype2 libpng libwebp) -lm
 *   ./mkexample examples/site/img [FONT.ttf]
 *
 * The output is deterministic: the same font gives the same bytes.
 */
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <webp/encode.h>

#include <ft2build.h>
#include FT_FREETYPE_H

typedef struct canvas {
    int w, h;
    uint8_t *px; /* RGBA */
} canvas;

typedef struct rgb {
    uint8_t r, g, b;
} rgb;

static FT_Library ft;
static FT_Face face, bold;

static canvas *canvas_new(int w, int h, rgb bg) {
    canvas *c = malloc(sizeof *c);
    c->w = w;
    c->h = h;
    c->px = malloc((size_t)w * h * 4);
    for (int i = 0; i < w * h; i++) {
        c->px[i * 4] = bg.r;
        c->px[i * 4 + 1] = bg.g;
        c->px[i * 4 + 2] = bg.b;
        c->px[i * 4 + 3] = 255;
    }
    return c;
}

static void blend(canvas *c, int x, int y, rgb col, double a) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h || a <= 0) return;
    if (a > 1) a = 1;
    uint8_t *p = c->px + ((size_t)y * c->w + x) * 4;
    p[0] = (uint8_t)lround(p[0] + (col.r - p[0]) * a);
    p[1] = (uint8_t)lround(p[1] + (col.g - p[1]) * a);
    p[2] = (uint8_t)lround(p[2] + (col.b - p[2]) * a);
}

/* Coverage of a shape by 4x4 samples per pixel. */
typedef int (*inside_fn)(const double *shape, double x, double y);

static void fill_shape(canvas *c, const double *shape, inside_fn in, double x0, double y0, double x1, double y1, rgb col,
                       double alpha) {
    for (int y = (int)floor(y0); y <= (int)ceil(y1); y++)
        for (int x = (int)floor(x0); x <= (int)ceil(x1); x++) {
            int n = 0;
            for (int sy = 0; sy < 4; sy++)
                for (int sx = 0; sx < 4; sx++) n += in(shape, x + (sx + 0.5) / 4, y + (sy + 0.5) / 4);
            if (n) blend(c, x, y, col, alpha * n / 16.0);
        }
}

static int in_rrect(const double *s, double x, double y) {
    double l = s[0], t = s[1], r = s[2], b = s[3], rad = s[4];
    if (x < l || x > r || y < t || y > b) return 0;
    double cx = x < l + rad ? l + rad : x > r - rad ? r - rad : x;
    double cy = y < t + rad ? t + rad : y > b - rad ? b - rad : y;
    return (x - cx) * (x - cx) + (y - cy) * (y - cy) <= rad * rad;
}

static void rrect(canvas *c, double l, double t, double r, double b, double rad, rgb col, double alpha) {
    double s[5] = {l, t, r, b, rad};
    fill_shape(c, s, in_rrect, l, t, r, b, col, alpha);
}

static int in_circle(const double *s, double x, double y) {
    return (x - s[0]) * (x - s[0]) + (y - s[1]) * (y - s[1]) <= s[2] * s[2];
}

static void circle(canvas *c, double cx, double cy, double r, rgb col, double alpha) {
    double s[3] = {cx, cy, r};
    fill_shape(c, s, in_circle, cx - r, cy - r, cx + r, cy + r, col, alpha);
}

static int in_segment(const double *s, double x, double y) {
    double ax = s[0], ay = s[1], bx = s[2], by = s[3], hw = s[4];
    double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    double t = len2 ? ((x - ax) * dx + (y - ay) * dy) / len2 : 0;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    double px = ax + t * dx - x, py = ay + t * dy - y;
    return px * px + py * py <= hw * hw;
}

static void line(canvas *c, double ax, double ay, double bx, double by, double width, rgb col) {
    double s[5] = {ax, ay, bx, by, width / 2};
    double pad = width;
    fill_shape(c, s, in_segment, fmin(ax, bx) - pad, fmin(ay, by) - pad, fmax(ax, bx) + pad, fmax(ay, by) + pad, col, 1);
}

static int in_triangle(const double *s, double x, double y) {
    double d1 = (x - s[2]) * (s[1] - s[3]) - (s[0] - s[2]) * (y - s[3]);
    double d2 = (x - s[4]) * (s[3] - s[5]) - (s[2] - s[4]) * (y - s[5]);
    double d3 = (x - s[0]) * (s[5] - s[1]) - (s[4] - s[0]) * (y - s[1]);
    int neg = d1 < 0 || d2 < 0 || d3 < 0, pos = d1 > 0 || d2 > 0 || d3 > 0;
    return !(neg && pos);
}

static void arrow(canvas *c, double ax, double ay, double bx, double by, double width, rgb col) {
    double dx = bx - ax, dy = by - ay, len = sqrt(dx * dx + dy * dy);
    double ux = dx / len, uy = dy / len, head = width * 4;
    line(c, ax, ay, bx - ux * head, by - uy * head, width, col);
    double s[6] = {bx, by, bx - ux * head - uy * head * 0.6, by - uy * head + ux * head * 0.6,
                   bx - ux * head + uy * head * 0.6, by - uy * head - ux * head * 0.6};
    fill_shape(c, s, in_triangle, fmin(fmin(s[0], s[2]), s[4]) - 1, fmin(fmin(s[1], s[3]), s[5]) - 1,
               fmax(fmax(s[0], s[2]), s[4]) + 1, fmax(fmax(s[1], s[3]), s[5]) + 1, col, 1);
}

/* ---- text (UTF-8, no shaping: the labels are plain Latin) */

static uint32_t next_cp(const char **s) {
    const unsigned char *p = (const unsigned char *)*s;
    uint32_t cp;
    int n;
    if (p[0] < 0x80) { cp = p[0]; n = 1; }
    else if ((p[0] & 0xE0) == 0xC0) { cp = p[0] & 0x1F; n = 2; }
    else if ((p[0] & 0xF0) == 0xE0) { cp = p[0] & 0x0F; n = 3; }
    else { cp = p[0] & 0x07; n = 4; }
    for (int i = 1; i < n; i++) cp = (cp << 6) | (p[i] & 0x3F);
    *s += n;
    return cp;
}

static double text_width(FT_Face f, int size, const char *s) {
    FT_Set_Pixel_Sizes(f, 0, (FT_UInt)size);
    double w = 0;
    while (*s) {
        if (FT_Load_Char(f, next_cp(&s), FT_LOAD_DEFAULT)) continue;
        w += f->glyph->advance.x / 64.0;
    }
    return w;
}

/* Draws s with its baseline at y; align: 0 left of x, 1 centred on x, 2 right of x. */
static void text(canvas *c, FT_Face f, int size, double x, double y, int align, rgb col, const char *s) {
    double w = text_width(f, size, s);
    double pen = align == 1 ? x - w / 2 : align == 2 ? x - w : x;
    FT_Set_Pixel_Sizes(f, 0, (FT_UInt)size);
    while (*s) {
        if (FT_Load_Char(f, next_cp(&s), FT_LOAD_RENDER)) continue;
        FT_GlyphSlot g = f->glyph;
        int ox = (int)lround(pen) + g->bitmap_left, oy = (int)lround(y) - g->bitmap_top;
        for (unsigned r = 0; r < g->bitmap.rows; r++)
            for (unsigned k = 0; k < g->bitmap.width; k++)
                blend(c, ox + (int)k, oy + (int)r, col, g->bitmap.buffer[r * g->bitmap.pitch + k] / 255.0);
        pen += g->advance.x / 64.0;
    }
}

/* ---- output */

static int save_png(const canvas *c, const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); return -1; }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) { fclose(f); return -1; }
    png_init_io(png, f);
    png_set_compression_level(png, 9);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    uint8_t *row = malloc((size_t)c->w * 3);
    for (int y = 0; y < c->h; y++) {
        for (int x = 0; x < c->w; x++) memcpy(row + x * 3, c->px + ((size_t)y * c->w + x) * 4, 3);
        png_write_row(png, row);
    }
    free(row);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return fclose(f);
}

static int save_webp(const canvas *c, const char *path, int lossless) {
    uint8_t *out = NULL;
    size_t n = lossless ? WebPEncodeLosslessRGBA(c->px, c->w, c->h, c->w * 4, &out)
                        : WebPEncodeRGBA(c->px, c->w, c->h, c->w * 4, 82, &out);
    if (!n) { fprintf(stderr, "%s: WebP encoding failed\n", path); return -1; }
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); WebPFree(out); return -1; }
    fwrite(out, 1, n, f);
    WebPFree(out);
    return fclose(f);
}

/* ---- the pictures */

static const rgb ink = {0x1f, 0x2a, 0x37}, paper = {0xf7, 0xf9, 0xfb}, teal = {0x0f, 0x76, 0x6e},
                 sand = {0xf4, 0xe4, 0xc1}, coral = {0xe0, 0x6c, 0x4f}, slate = {0x64, 0x74, 0x8b},
                 white = {0xff, 0xff, 0xff}, navy = {0x17, 0x2b, 0x4d};

static void box(canvas *c, double l, double t, double r, double b, rgb fill, const char *title, const char *sub) {
    rrect(c, l + 4, t + 6, r + 4, b + 6, 18, (rgb){0xcb, 0xd5, 0xe1}, 0.8); /* shadow */
    rrect(c, l, t, r, b, 18, fill, 1);
    text(c, bold, 30, (l + r) / 2, (t + b) / 2 + (sub ? 0 : 10), 1, white, title);
    if (sub) text(c, face, 20, (l + r) / 2, (t + b) / 2 + 34, 1, white, sub);
}

static canvas *pipeline(void) {
    canvas *c = canvas_new(1200, 520, paper);
    text(c, bold, 34, 60, 70, 0, ink, "How Tidewater publishes its documents");
    box(c, 60, 170, 330, 350, slate, "Markdown", "+ YAML frontmatter");
    box(c, 470, 170, 740, 350, teal, "octavo", "one load per file");
    const char *outs[][2] = {{"HTML", "pages + index"}, {"PDF", "one per document"}, {"EPUB", "the blog as a book"}};
    for (int i = 0; i < 3; i++) {
        double t = 110 + i * 130;
        box(c, 880, t, 1140, t + 100, i == 0 ? navy : i == 1 ? coral : (rgb){0x7c, 0x3a, 0xed}, outs[i][0], outs[i][1]);
        arrow(c, 740, 260, 876, t + 50, 6, ink);
    }
    arrow(c, 330, 260, 466, 260, 6, ink);
    text(c, face, 20, 60, 480, 0, slate, "Figure: sources on the left, artefacts on the right.");
    return c;
}

static canvas *chart(void) {
    canvas *c = canvas_new(1000, 560, white);
    text(c, bold, 30, 60, 60, 0, ink, "Median delivery latency (ms), lower is better");
    const char *labels[] = {"1.x, disk", "1.x, memory", "2.0, disk", "2.0, memory"};
    const double vals[] = {41, 27, 18, 9};
    double base = 480, top = 120, scale = (base - top) / 45.0;
    for (int g = 0; g <= 40; g += 10) {
        double y = base - g * scale;
        line(c, 110, y, 940, y, 1.5, (rgb){0xe2, 0xe8, 0xf0});
        char lab[8];
        snprintf(lab, sizeof lab, "%d", g);
        text(c, face, 18, 95, y + 6, 2, slate, lab);
    }
    for (int i = 0; i < 4; i++) {
        double x = 150 + i * 200, h = vals[i] * scale;
        rrect(c, x, base - h, x + 130, base, 8, i < 2 ? slate : teal, 1);
        char v[8];
        snprintf(v, sizeof v, "%.0f", vals[i]);
        text(c, bold, 22, x + 65, base - h - 12, 1, ink, v);
        text(c, face, 18, x + 65, base + 32, 1, ink, labels[i]);
    }
    line(c, 110, base, 940, base, 2.5, ink);
    return c;
}

static canvas *harbour(void) {
    canvas *c = canvas_new(1200, 630, white);
    for (int y = 0; y < 630; y++) {
        double t = y / 630.0;
        rgb sky = {(uint8_t)(0x1e + t * 0xb0), (uint8_t)(0x3a + t * 0x90), (uint8_t)(0x8a + t * 0x50)};
        for (int x = 0; x < 1200; x++) blend(c, x, y, sky, 1);
    }
    circle(c, 880, 250, 90, (rgb){0xff, 0xd1, 0x66}, 1);
    circle(c, 880, 250, 130, (rgb){0xff, 0xd1, 0x66}, 0.25);
    /* the sea, in bands of waves */
    for (int y = 380; y < 630; y++) {
        double t = (y - 380) / 250.0;
        rgb sea = {(uint8_t)(0x0b + t * 0x10), (uint8_t)(0x4f - t * 0x20), (uint8_t)(0x6c - t * 0x20)};
        for (int x = 0; x < 1200; x++) {
            double wave = sin(x / (18.0 + t * 40) + y * 0.9) * 0.5 + 0.5;
            blend(c, x, y, sea, 1);
            if (wave > 0.93) blend(c, x, y, white, 0.35 * (1 - t));
        }
    }
    /* cranes and stacked containers on the quay */
    rrect(c, 0, 360, 1200, 392, 0, (rgb){0x33, 0x3d, 0x4a}, 1);
    const rgb boxes[] = {coral, teal, sand, navy, slate, coral, teal};
    for (int i = 0; i < 14; i++) {
        double x = 60 + i * 52, lvl = (i * 7 % 3) + 1;
        for (int k = 0; k < lvl; k++) rrect(c, x, 336 - k * 26, x + 48, 360 - k * 26, 2, boxes[(i + k) % 7], 1);
    }
    for (int k = 0; k < 2; k++) {
        double x = 860 + k * 180;
        line(c, x, 360, x, 150, 10, ink);
        line(c, x - 60, 160, x + 120, 160, 8, ink);
        line(c, x + 100, 160, x + 100, 250, 3, ink);
        rrect(c, x + 80, 250, x + 120, 270, 2, coral, 1);
    }
    return c;
}

static canvas *cover(void) {
    canvas *c = canvas_new(800, 1040, navy);
    for (int i = 0; i < 9; i++) {
        double y = 120 + i * 70;
        rrect(c, 80 + (i % 3) * 40, y, 720 - ((i + 1) % 3) * 60, y + 34, 17, i % 2 ? teal : (rgb){0x1d, 0x4e, 0x89},
              0.9);
    }
    circle(c, 620, 260, 70, coral, 1);
    text(c, face, 28, 80, 820, 0, sand, "WHITE PAPER");
    text(c, bold, 52, 80, 890, 0, white, "Designing");
    text(c, bold, 52, 80, 952, 0, white, "durable queues");
    return c;
}

static canvas *blog_cover(void) {
    canvas *c = canvas_new(800, 1040, sand);
    /* a tide table: rising and falling bars */
    for (int i = 0; i < 12; i++) {
        double h = 120 + 110 * sin(i * 0.55);
        rrect(c, 80 + i * 54, 620 - h, 80 + i * 54 + 40, 620, 6, i % 3 == 2 ? coral : teal, 1);
    }
    line(c, 60, 622, 740, 622, 4, ink);
    text(c, face, 28, 80, 780, 0, slate, "THE");
    text(c, bold, 64, 80, 860, 0, navy, "Tidewater");
    text(c, bold, 64, 80, 935, 0, navy, "Blog");
    return c;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s OUT_DIR [FONT.ttf [BOLD.ttf]]\n", argv[0]);
        return 2;
    }
    const char *font = argc > 2 ? argv[2] : "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    const char *bfont = argc > 3 ? argv[3] : "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";
    if (FT_Init_FreeType(&ft) || FT_New_Face(ft, font, 0, &face) || FT_New_Face(ft, bfont, 0, &bold)) {
        fprintf(stderr, "%s: cannot load the fonts %s, %s\n", argv[0], font, bfont);
        return 1;
    }
    char p[4096];
    int rc = 0;
    snprintf(p, sizeof p, "%s/pipeline.webp", argv[1]);
    rc |= save_webp(pipeline(), p, 1);
    snprintf(p, sizeof p, "%s/latency.png", argv[1]);
    rc |= save_png(chart(), p);
    snprintf(p, sizeof p, "%s/harbour.webp", argv[1]);
    rc |= save_webp(harbour(), p, 0);
    snprintf(p, sizeof p, "%s/durable-queues-cover.png", argv[1]);
    rc |= save_png(cover(), p);
    snprintf(p, sizeof p, "%s/blog-cover.png", argv[1]);
    rc |= save_png(blog_cover(), p);
    return rc ? 1 : 0;
}
