/* PDF: the layout engine and the libharu backend, checked with real readers when they are
 * installed (qpdf, pdffonts, pdftotext, mutool, pdftoppm; each check says so when it is skipped):
 * valid files, embedded fonts, extractable text with curly quotes and accents in order, every word
 * inside the margins, outline and links, byte-identical reruns, images of every awkward kind
 * drawn with the right colours, Knuth–Plass and hyphenation on their own. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hyphen.h>
#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include "harness.h"
#include "layout.h"

static char dir[] = "/tmp/octavo-test-pdf-XXXXXX";

static int have(const char *tool) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

static char *run(const char *fmt, ...) OV_PRINTF(1, 2);

/* The words pdftotext -bbox finds in pdf less than 17.5 pt from a page's left or right edge, or,
 * when edge_y > 0, less than edge_y from its top or bottom, one per line: "" when none (free it;
 * NULL when the command could not run). */
static char *words_outside(const char *pdf, double edge_y) {
    return run("pdftotext -bbox '%s' - | awk -F'\"' -v y=%g '/<page /{w=$2;h=$4} /<word /{ if ($2 < 17.5 || "
               "$6 > w-17.5 || (y > 0 && ($4 < y || $8 > h-y))) print }'",
               pdf, edge_y);
}

/* How many times needle occurs in s (NULL: none). */
static int count_of(const char *s, const char *needle) {
    int n = 0;
    for (const char *q = s; q && (q = strstr(q, needle)); q++)
        n++;
    return n;
}

static char *run(const char *fmt, ...) {
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    size_t k;
    while (out && (k = fread(out + n, 1, cap - n - 1, p)) > 0) {
        n += k;
        if (n + 1 >= cap)
            out = realloc(out, cap *= 2);
    }
    pclose(p);
    if (out)
        out[n] = 0;
    return out;
}

static int render(const char *name, const char *md, unsigned flags, const char *out, unsigned *pages) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.resource_root = dir;
    o.flags = flags | OCTAVO_NO_CACHE;
    octavo_error err;
    octavo *ov = octavo_new(&o, &err);
    if (!ov)
        return -1;
    octavo_doc *doc = NULL;
    int rc = octavo_doc_load(ov, name, md, strlen(md), &doc, &err);
    if (rc == OCTAVO_OK) {
        rc = octavo_render_file(doc, OCTAVO_FORMAT_PDF, out, &err);
        if (rc)
            fprintf(stderr, "render: %s\n", err.message);
        if (pages)
            *pages = octavo_doc_pdf_pages(doc);
    } else
        fprintf(stderr, "load: %s\n", err.message);
    octavo_doc_free(doc);
    octavo_free(ov);
    return rc;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = 0;
        if (len)
            *len = (size_t)n;
    }
    return b;
}

static const char *DOC =
    "---\n"
    "title: \xE2\x80\x9CQuoted\xE2\x80\x9D title \xE2\x80\x94 a test\n"
    "author: Zo\xC3\xAB Caf\xC3\xA9\n"
    "date: 2023-03-15\n"
    "description: A document that uses every block the engine knows.\n"
    "tags: [pdf, layout]\n"
    "---\n\n"
    "The caf\xC3\xA9\xE2\x80\x99s owner said \xE2\x80\x9Chello\xE2\x80\x9D \xE2\x80\x94 and then left; pages 3\xE2\x80\x93""5 "
    "were torn. Justified paragraphs are set with the Knuth\xE2\x80\x93Plass algorithm, which chooses breakpoints "
    "for the whole paragraph at once, so that the spaces between words stay even from line to line, and "
    "hyphenation breaks words where the dictionary allows it: internationalization, representatives, "
    "incomprehensibility.\n\n"
    "## Section one\n\n"
    "Text with *emphasis*, **strong**, ~~struck~~, `inline code`, a [link](<https://example.org/a b>) and an "
    "[anchor](#section-two). A long URL "
    "https://github.com/kata-containers/kata-containers/blob/main/docs/design/architecture/README.md must break.\n\n"
    "- first item\n- second item\n  - nested item\n- [x] done task\n\n"
    "3. three\n4. four\n\n"
    "> A quotation that runs long enough to wrap onto a second line, so that the rule at its left is seen "
    "to cover both lines of the quote.\n\n"
    "```c\nint main(void) { return printf(\"a very long line of code that cannot fit in the text width of an A4 page at all\"); }\n```\n\n"
    "---\n\n"
    "| Name | Value |\n|---|--:|\n| alpha | 1 |\n| beta | 22 |\n\n"
    "## Section two\n\n"
    "A footnote reference.[^1] \xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xCE\xB1\xCE\xB2\xCE\xB3 \xE2\x86\x92 done.\n\n"
    "### Sub section\n\nLast words here.\n\n"
    "[^1]: The note itself.\n";

TEST(test_document) {
    char out[512], out2[512];
    snprintf(out, sizeof out, "%s/doc.pdf", dir);
    snprintf(out2, sizeof out2, "%s/doc2.pdf", dir);
    unsigned pages = 0;
    CHECK_INT(render("doc.md", DOC, 0, out, &pages), OCTAVO_OK);
    CHECK(pages >= 1);
    size_t n1 = 0, n2 = 0;
    char *a = slurp(out, &n1);
    CHECK(a && n1 > 1000 && memcmp(a, "%PDF-", 5) == 0);
    CHECK_INT(render("doc.md", DOC, 0, out2, NULL), OCTAVO_OK);
    char *b = slurp(out2, &n2);
    CHECKF(a && b && n1 == n2 && memcmp(a, b, n1) == 0, "two runs differ (%zu vs %zu bytes)", n1, n2);
    CHECK(a && memmem(a, n1, "/ID [", 5) != NULL);
    free(a);
    free(b);
    if (have("qpdf")) {
        char *r = run("qpdf --check '%s' 2>&1", out);
        CHECKF(r && strstr(r, "No syntax or stream encoding errors") && !strstr(r, "WARNING"), "qpdf: %s", r ? r : "");
        free(r);
        r = run("qpdf --qdf --object-streams=disable '%s' - 2>/dev/null | grep -a -c '/Subtype /Link'", out);
        CHECKF(r && atoi(r) >= 3, "link annotations: %s", r ? r : "");
        free(r);
        r = run("qpdf --qdf --object-streams=disable '%s' - 2>/dev/null | tr -d ' \\n' | grep -a -o '/Border\\[000\\]' | wc -l", out);
        CHECKF(r && atoi(r) >= 3, "borderless links: %s", r ? r : "");
        free(r);
        r = run("qpdf --qdf --object-streams=disable '%s' - 2>/dev/null | grep -a -c 'example.org/a%%20b'", out);
        CHECKF(r && atoi(r) >= 1, "percent-encoded URI: %s", r ? r : "");
        free(r);
    } else
        printf("note: qpdf not installed, validity not checked\n");
    if (have("pdffonts")) {
        char *r = run("pdffonts '%s' | tail -n +3 | awk '{ if ($(NF-4) != \"yes\") print }'", out);
        CHECKF(r && !*r, "fonts not embedded: %s", r ? r : "");
        free(r);
        /* subsets (a six-letter tag) with a ToUnicode map */
        r = run("pdffonts '%s' | tail -n +3 | awk '{ if ($(NF-3) != \"yes\" || $(NF-2) != \"yes\" || $1 !~ /^[A-Z][A-Z][A-Z][A-Z][A-Z][A-Z]\\+/) print }'", out);
        CHECKF(r && !*r, "fonts not subset or without ToUnicode: %s", r ? r : "");
        free(r);
    } else
        printf("note: pdffonts not installed\n");
    if (have("pdftotext")) {
        char *r = run("pdftotext -enc UTF-8 '%s' - 2>&1", out);
        CHECK(r && strstr(r, "caf\xC3\xA9\xE2\x80\x99s owner said \xE2\x80\x9Chello\xE2\x80\x9D \xE2\x80\x94 and"));
        CHECK(r && strstr(r, "3\xE2\x80\x93""5"));
        CHECK(r && strstr(r, "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"));
        CHECK(r && strstr(r, "\xCE\xB1\xCE\xB2\xCE\xB3"));
        CHECK(r && strstr(r, "The note itself."));
        CHECK(r && strstr(r, "Syntax Error") == NULL);
        const char *order[] = { "Quoted", "Section one", "emphasis", "first item", "nested item", "three",
                                "quotation", "int main", "alpha", "Section two", "Sub section", "Last words" };
        const char *p = r;
        for (size_t i = 0; p && i < sizeof order / sizeof order[0]; i++) {
            const char *q = strstr(p, order[i]);
            CHECKF(q != NULL, "'%s' missing or out of order", order[i]);
            p = q ? q : p;
        }
        free(r);
        /* every word at least 18 pt inside the page */
        r = words_outside(out, 9);
        CHECKF(r && !*r, "words outside the text area: %.300s", r ? r : "");
        free(r);
    } else
        printf("note: pdftotext not installed\n");
    if (have("mutool")) {
        char *r = run("mutool show '%s' outline 2>/dev/null | grep -c .", out);
        CHECKF(r && atoi(r) >= 4, "outline entries: %s", r ? r : "");
        free(r);
        r = run("mutool show '%s' outline 2>/dev/null", out);
        /* nesting: the sub section is indented below section two */
        CHECK(r && strstr(r, "Section two") && strstr(r, "\t\t") );
        free(r);
    } else
        printf("note: mutool not installed\n");
}

TEST(test_ragged_and_letter) {
    char out[512];
    snprintf(out, sizeof out, "%s/ragged.pdf", dir);
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.flags = OCTAVO_RAGGED | OCTAVO_NO_HYPHENATE;
    o.paper = OCTAVO_PAPER_LETTER;
    octavo_error err;
    octavo *ov = octavo_new(&o, &err);
    CHECK(ov != NULL);
    octavo_doc *doc = NULL;
    CHECK_INT(octavo_doc_load(ov, "r.md", DOC, strlen(DOC), &doc, &err), OCTAVO_OK);
    char *buf = NULL;
    size_t len = 0;
    CHECK_INT(octavo_render_buffer(doc, OCTAVO_FORMAT_PDF, &buf, &len, &err), OCTAVO_OK);
    CHECK(buf && len > 1000 && strstr(buf, "/MediaBox [ 0 0 612 792 ]"));
    octavo_buffer_free(buf);
    octavo_doc_free(doc);
    octavo_free(ov);
}

/* ---- images: decoded by us, never handed raw to libharu */
static int write_png(const char *path, unsigned w, unsigned h, int depth16, int interlace, int alpha) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p))) {
        fclose(f);
        return -1;
    }
    png_init_io(p, f);
    int ch = alpha ? 4 : 3;
    png_set_IHDR(p, info, w, h, depth16 ? 16 : 8, alpha ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, info);
    if (depth16)
        png_set_swap(p);
    int passes = interlace ? png_set_interlace_handling(p) : 1;
    size_t bpc = depth16 ? 2 : 1;
    unsigned char *row = malloc(w * ch * bpc);
    for (int pass = 0; pass < passes; pass++)
        for (unsigned y = 0; y < h; y++) {
            for (unsigned x = 0; x < w; x++) {
                /* left half blue and opaque, right half red; with alpha the right half is clear */
                unsigned v[4] = { x < w / 2 ? 0 : 65535, 0, x < w / 2 ? 65535 : 0, x < w / 2 ? 65535 : 0 };
                if (!alpha && depth16) { v[0] = 65535; v[1] = 0; v[2] = 0; } /* all red */
                for (int c = 0; c < ch; c++) {
                    if (depth16) {
                        row[(x * ch + c) * 2] = (unsigned char)(v[c] & 255);
                        row[(x * ch + c) * 2 + 1] = (unsigned char)(v[c] >> 8);
                    } else
                        row[x * ch + c] = (unsigned char)(v[c] >> 8);
                }
            }
            png_write_row(p, row);
        }
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    free(row);
    fclose(f);
    return 0;
}

static int write_webp(const char *path, unsigned w, unsigned h) {
    unsigned char *px = malloc(w * h * 4);
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++) {
            unsigned char *q = px + (y * w + x) * 4;
            q[0] = 0; q[1] = 160; q[2] = 0;
            q[3] = x < w / 2 ? 255 : 0; /* left half green, right half clear */
        }
    uint8_t *out = NULL;
    size_t n = WebPEncodeLosslessRGBA(px, (int)w, (int)h, (int)w * 4, &out);
    free(px);
    if (!n)
        return -1;
    FILE *f = fopen(path, "wb");
    fwrite(out, 1, n, f);
    fclose(f);
    WebPFree(out);
    return 0;
}

/* Renders a document holding one image and reads page 1 as 72 dpi pixels; counts pixels near
 * want (RGB) and how wide the band of them is. */
static void image_case(const char *file, unsigned want, int expect_half) {
    char md[512], out[512];
    snprintf(md, sizeof md, "---\ntitle: Image\n---\n\n![](%s)\n", file);
    snprintf(out, sizeof out, "%s/%s.pdf", dir, file);
    CHECK_INT(render("img.md", md, 0, out, NULL), OCTAVO_OK);
    char ppm[600];
    snprintf(ppm, sizeof ppm, "%s/%s-page", dir, file);
    char *r = run("pdftoppm -r 72 -f 1 -l 1 -singlefile '%s' '%s' 2>&1", out, ppm);
    free(r);
    char path[700];
    snprintf(path, sizeof path, "%s.ppm", ppm);
    size_t len = 0;
    char *img = slurp(path, &len);
    CHECKF(img != NULL, "no pixels for %s", file);
    if (!img)
        return;
    int w, h, mx, off = 0;
    if (sscanf(img, "P6 %d %d %d%n", &w, &h, &mx, &off) != 3) {
        CHECK(!"bad ppm");
        free(img);
        return;
    }
    const unsigned char *px = (const unsigned char *)img + off + 1;
    int minx = w, maxx = -1, count = 0, dark = 0;
    int wr = (int)(want >> 16 & 255), wg = (int)(want >> 8 & 255), wb = (int)(want & 255);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const unsigned char *q = px + ((size_t)y * w + x) * 3;
            if (abs(q[0] - wr) < 40 && abs(q[1] - wg) < 40 && abs(q[2] - wb) < 40) {
                count++;
                if (x < minx) minx = x;
                if (x > maxx) maxx = x;
            }
            if (q[0] < 30 && q[1] < 30 && q[2] < 30)
                dark++;
        }
    /* the image is 200 px = 150 pt wide: the coloured band is all of it, or half of it */
    int band = maxx - minx + 1;
    CHECKF(count > 2000, "%s: %d pixels of the colour", file, count);
    if (expect_half)
        CHECKF(band > 60 && band < 90, "%s: coloured band %d px wide, want about 75", file, band);
    else
        CHECKF(band > 135 && band < 165, "%s: coloured band %d px wide, want about 150", file, band);
    free(img);
}

TEST(test_images) {
    if (!have("pdftoppm")) {
        printf("note: pdftoppm not installed, image pixels not checked\n");
        return;
    }
    char p[600];
    snprintf(p, sizeof p, "%s/deep.png", dir);
    CHECK_INT(write_png(p, 200, 100, 1, 0, 0), 0);
    snprintf(p, sizeof p, "%s/inter.png", dir);
    CHECK_INT(write_png(p, 200, 100, 0, 1, 1), 0);
    snprintf(p, sizeof p, "%s/alpha.webp", dir);
    CHECK_INT(write_webp(p, 200, 100), 0);
    image_case("deep.png", 0xFF0000, 0);
    image_case("inter.png", 0x0000FF, 1);
    image_case("alpha.webp", 0x00A000, 1);
    /* tagged: the figure carries its alternate text; text is in paragraphs and headings */
    char out[512];
    snprintf(out, sizeof out, "%s/alt.pdf", dir);
    CHECK_INT(render("alt.md", "---\ntitle: Alt\n---\n\n## Part\n\nBefore.\n\n![A red \xC3\xA9tude](deep.png)\n\nAfter.\n",
                     0, out, NULL),
              OCTAVO_OK);
    if (have("pdfinfo")) {
        char *r = run("pdfinfo '%s' | grep Tagged", out);
        CHECKF(r && strstr(r, "yes"), "not tagged: %s", r ? r : "");
        free(r);
        r = run("pdfinfo -struct-text '%s' 2>&1", out);
        CHECKF(r && strstr(r, "Document") && strstr(r, "H2") && strstr(r, "Figure") && strstr(r, "\"Before.\""),
               "structure: %s", r ? r : "");
        free(r);
    }
    if (have("qpdf")) {
        char *r = run("qpdf --qdf --object-streams=disable '%s' - 2>/dev/null | grep -a -A1 -B8 '/S /Figure'", out);
        /* "A red étude" as UTF-16BE */
        CHECKF(r && strstr(r, "/Alt <feff00410020007200650064002000e90074007500640065>"),
               "figure without its alternate text: %s", r ? r : "");
        free(r);
    }
}

/* A 200 x 100 JPEG: left half colour a, right half colour b (RGB). cmyk: stored as Adobe CMYK
 * (inverted, as Photoshop writes it); orientation: an EXIF orientation tag when not 1. */
static int write_jpeg(const char *path, unsigned a, unsigned b, int cmyk, int orientation) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = 200;
    c.image_height = 100;
    c.input_components = cmyk ? 4 : 3;
    c.in_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    if (orientation > 1) {
        unsigned char exif[] = { 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 0x2A, 0, 8, 0, 0, 0, 1, 0,
                                 0x12, 0x01, 3, 0, 1, 0, 0, 0, (unsigned char)orientation, 0, 0, 0, 0, 0, 0, 0 };
        jpeg_write_marker(&c, JPEG_APP0 + 1, exif, sizeof exif);
    }
    unsigned char row[200 * 4];
    for (unsigned y = 0; y < 100; y++) {
        for (unsigned x = 0; x < 200; x++) {
            unsigned v = x < 100 ? a : b;
            unsigned r = v >> 16 & 255, g = v >> 8 & 255, bl = v & 255;
            if (cmyk) {
                /* C = 1 - R etc. with no black; Adobe stores each inverted: 255 - C = R */
                unsigned char *q = row + x * 4;
                q[0] = (unsigned char)r;
                q[1] = (unsigned char)g;
                q[2] = (unsigned char)bl;
                q[3] = 255;
            } else {
                unsigned char *q = row + x * 3;
                q[0] = (unsigned char)r;
                q[1] = (unsigned char)g;
                q[2] = (unsigned char)bl;
            }
        }
        JSAMPROW rp = row;
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    return 0;
}

/* Page 1 of a document holding one image, at 72 dpi: the box of pixels near colour want. */
static int color_box(const char *file, unsigned want, int box[4]) {
    char md[512], out[512], ppm[600], path[700];
    snprintf(md, sizeof md, "---\ntitle: Image\n---\n\n![](%s)\n", file);
    snprintf(out, sizeof out, "%s/%s.pdf", dir, file);
    if (render("img.md", md, 0, out, NULL) != OCTAVO_OK)
        return -1;
    snprintf(ppm, sizeof ppm, "%s/%s-page", dir, file);
    free(run("pdftoppm -r 72 -f 1 -l 1 -singlefile '%s' '%s' 2>&1", out, ppm));
    snprintf(path, sizeof path, "%s.ppm", ppm);
    size_t len = 0;
    char *img = slurp(path, &len);
    int w, h, mx, off = 0, count = 0;
    box[0] = box[1] = 1 << 30;
    box[2] = box[3] = -1;
    if (img && sscanf(img, "P6 %d %d %d%n", &w, &h, &mx, &off) == 3) {
        const unsigned char *px = (const unsigned char *)img + off + 1;
        int wr = (int)(want >> 16 & 255), wg = (int)(want >> 8 & 255), wb = (int)(want & 255);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                const unsigned char *q = px + ((size_t)y * w + x) * 3;
                if (abs(q[0] - wr) < 50 && abs(q[1] - wg) < 50 && abs(q[2] - wb) < 50) {
                    count++;
                    if (x < box[0]) box[0] = x;
                    if (y < box[1]) box[1] = y;
                    if (x > box[2]) box[2] = x;
                    if (y > box[3]) box[3] = y;
                }
            }
    }
    free(img);
    return count;
}

/* JPEGs that libharu cannot pass through: Adobe CMYK (stored inverted: a negative) and EXIF-turned
 * ones (drawn sideways and stretched); they are decoded upright instead. */
TEST(test_jpeg_cmyk_and_orientation) {
    if (!have("pdftoppm")) {
        printf("note: pdftoppm not installed, JPEG colours not checked\n");
        return;
    }
    char p[600];
    int box[4];
    snprintf(p, sizeof p, "%s/cmyk.jpg", dir);
    CHECK_INT(write_jpeg(p, 0xFF0000, 0x0000FF, 1, 1), 0);
    int red = color_box("cmyk.jpg", 0xFF0000, box);
    CHECKF(red > 2000 && box[2] - box[0] > 60 && box[2] - box[0] < 90, "CMYK JPEG: %d red pixels, %d px wide", red,
           box[2] - box[0] + 1);
    /* poppler and MuPDF undo Adobe's inversion themselves; readers that follow the DCTDecode
     * filter as written show a negative: the image must not stay CMYK */
    if (have("pdfimages")) {
        char *r = run("pdfimages -list '%s/cmyk.jpg.pdf' | tail -n +3 | awk '{ print $6 }'", dir);
        CHECKF(r && strstr(r, "rgb") && !strstr(r, "cmyk"), "CMYK JPEG embedded as %s", r ? r : "");
        free(r);
    }
    snprintf(p, sizeof p, "%s/turned.jpg", dir);
    CHECK_INT(write_jpeg(p, 0x0000FF, 0xFF0000, 0, 6), 0);
    /* stored 200 x 100 with blue on the left; shown turned clockwise: 75 x 150 pt, blue on top */
    int blue = color_box("turned.jpg", 0x0000FF, box);
    int bw = box[2] - box[0] + 1, bh = box[3] - box[1] + 1, blue_bottom = box[3];
    CHECKF(blue > 2000 && bw > 65 && bw < 85 && bh > 60 && bh < 90, "turned JPEG: blue %d pixels in %d x %d", blue, bw, bh);
    int red2 = color_box("turned.jpg", 0xFF0000, box);
    CHECKF(red2 > 2000 && box[1] >= blue_bottom - 3, "turned JPEG: red from y %d, blue down to %d", box[1], blue_bottom);
}

TEST(test_missing_image) {
    char out[512];
    snprintf(out, sizeof out, "%s/missing.pdf", dir);
    const char *md = "# Missing\n\n![A diagram of the parts](nothere.png)\n\n![remote](https://example.org/x.png)\n";
    CHECK_INT(render("m.md", md, 0, out, NULL), OCTAVO_OK);
    if (have("pdftotext")) {
        char *r = run("pdftotext '%s' - 2>&1", out);
        CHECK(r && strstr(r, "A diagram of the parts"));
        CHECK(r && strstr(r, "example.org/x.png"));
        free(r);
    }
}

/* Dark pixels of page 1 at 150 dpi, gray. */
static long ink(const char *pdf) {
    char base[600], path[700];
    snprintf(base, sizeof base, "%s-ink", pdf);
    char *r = run("pdftoppm -gray -r 150 -f 1 -l 1 -singlefile '%s' '%s' 2>&1", pdf, base);
    free(r);
    snprintf(path, sizeof path, "%s.pgm", base);
    size_t len = 0;
    char *img = slurp(path, &len);
    if (!img)
        return -1;
    int w, h, mx, off = 0;
    long dark = 0;
    if (sscanf(img, "P5 %d %d %d%n", &w, &h, &mx, &off) == 3)
        for (size_t i = (size_t)off + 1; i < len; i++)
            dark += (unsigned char)img[i] < 128;
    free(img);
    return dark;
}

/* Accented letters are composite glyphs (a base and an accent, some nested): the subsets must
 * keep their components, or the accents vanish. */
TEST(test_composite_glyphs) {
    if (!have("pdftoppm")) {
        printf("note: pdftoppm not installed, composite glyphs not checked\n");
        return;
    }
    const char *letters[3][2] = { { "e", "plain" }, { "\xC3\xA9", "acute" }, { "\xD1\x91", "cyrillic-io" } };
    long dark[3];
    for (int k = 0; k < 3; k++) {
        char md[4096] = "---\ntitle: x\n---\n\n";
        for (int i = 0; i < 300; i++) {
            strcat(md, letters[k][0]);
            if (i % 10 == 9)
                strcat(md, " ");
        }
        strcat(md, "\n");
        char out[512];
        snprintf(out, sizeof out, "%s/composite-%s.pdf", dir, letters[k][1]);
        CHECK_INT(render("c.md", md, 0, out, NULL), OCTAVO_OK);
        dark[k] = ink(out);
    }
    CHECKF(dark[0] > 0 && dark[1] > dark[0] * 1.05, "e %ld, e-acute %ld dark pixels", dark[0], dark[1]);
    CHECKF(dark[2] > dark[0] * 1.05, "e %ld, io %ld dark pixels", dark[0], dark[2]);
}

/* ---- the engine's parts */
TEST(test_linebreak) {
    /* ten boxes of 10 with glue 3 (+2 -1): width 50 fits 3 boxes and 2 glues (36) to 4 (49) */
    ov_lb_item it[32];
    size_t n = 0;
    for (int i = 0; i < 10; i++) {
        it[n++] = (ov_lb_item){ OV_LB_BOX, 10, 0, 0, 0, 0 };
        if (i < 9)
            it[n++] = (ov_lb_item){ OV_LB_GLUE, 3, 2, 1, 0, 0 };
    }
    it[n++] = (ov_lb_item){ OV_LB_GLUE, 0, 1e6, 0, 0, 0 };
    it[n++] = (ov_lb_item){ OV_LB_PENALTY, 0, 0, 0, -OV_LB_INF, 0 };
    size_t *br = NULL;
    int lines = ov_linebreak(it, n, 49, 0, &br);
    CHECK(lines >= 2 && lines <= 4);
    CHECK(br && br[lines - 1] == n - 1);
    free(br);
    /* a box wider than the line does not loop or fail */
    ov_lb_item wide[3] = { { OV_LB_BOX, 100, 0, 0, 0, 0 }, { OV_LB_GLUE, 0, 1e6, 0, 0, 0 },
                           { OV_LB_PENALTY, 0, 0, 0, -OV_LB_INF, 0 } };
    br = NULL;
    CHECK_INT(ov_linebreak(wide, 3, 50, 0, &br), 1);
    free(br);
    /* ragged: a code word as pieces, a separator break (50) after the first, last-resort breaks
     * (900) inside the second; the line ends at the separator, not deep in the second piece */
    ov_lb_item code[8] = { { OV_LB_BOX, 30, 0, 0, 0, 0 },         { OV_LB_PENALTY, 0, 0, 0, 50, 0 },
                           { OV_LB_BOX, 40, 0, 0, 0, 0 },         { OV_LB_PENALTY, 0, 0, 0, 900, 0 },
                           { OV_LB_BOX, 40, 0, 0, 0, 0 },         { OV_LB_GLUE, 0, 1e6, 0, 0, 0 },
                           { OV_LB_PENALTY, 0, 0, 0, -OV_LB_INF, 0 } };
    br = NULL;
    int nl = ov_linebreak(code, 7, 75, 1, &br);
    CHECKF(nl >= 2 && br && br[0] == 1, "%d lines, first break at %zu (want the separator, 1)", nl,
           br && nl > 0 ? br[0] : (size_t)0);
    free(br);
}

TEST(test_hyphenate) {
    const ov_hyphenator *h = ov_hyphenator_get("en-US");
    if (!h) {
        printf("note: no English hyphenation dictionary, hyphenation not checked\n");
        return;
    }
    const char *word = "hyphenation";
    uint32_t cp[32];
    unsigned char out[32];
    size_t n = strlen(word);
    for (size_t i = 0; i < n; i++)
        cp[i] = (unsigned char)word[i];
    CHECK(ov_hyphenate(h, cp, n, out) >= 2);
    CHECK(out[1] == 1);  /* hy-phen-ation */
    CHECK(out[0] == 0 && out[n - 1] == 0 && out[n - 2] == 0);
    uint32_t accented[6] = { 'c', 'a', 'f', 0xE9, 's', 's' };
    CHECK_INT(ov_hyphenate(h, accented, 6, out), 0);
    /* the same breaks as libhyphen's own matcher, word for word: words made of the dictionary's
     * patterns (each holds matches) and a few real ones */
    HyphenDict *d = hnj_hyphen_load("/usr/share/hyphen/hyph_en_US.dic");
    FILE *f = fopen("/usr/share/hyphen/hyph_en_US.dic", "r");
    if (!d || !f) {
        printf("note: hyph_en_US.dic not readable by libhyphen, not compared\n");
        if (d)
            hnj_hyphen_free(d);
        if (f)
            fclose(f);
        return;
    }
    static char keys[12000][32];
    size_t nk = 0;
    char line[128];
    while (nk < 12000 && fgets(line, sizeof line, f)) {
        size_t o = 0;
        for (const char *q = line; *q && *q != '\n' && o < 31; q++)
            if (*q >= 'a' && *q <= 'z')
                keys[nk][o++] = *q;
            else if (!(*q >= '0' && *q <= '9') && *q != '.') {
                o = 0;
                break;
            }
        keys[nk][o] = 0;
        if (o)
            nk++;
    }
    fclose(f);
    static const char *const real[] = { "hyphenation", "representatives", "incomprehensibility", "containers",
                                        "infrastructure", "confidential", "orchestration", "virtualization",
                                        "performance", "kubernetes", "technologies", "communities" };
    unsigned seed = 7;
    size_t compared = 0, differ = 0;
    for (size_t t = 0; t < 40000 + sizeof real / sizeof real[0]; t++) {
        char w[64] = "";
        if (t < sizeof real / sizeof real[0])
            snprintf(w, sizeof w, "%s", real[t]);
        else
            for (int parts = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 3; parts > 0; parts--) {
                seed = seed * 1103515245u + 12345u;
                const char *k = keys[(seed >> 8) % nk];
                if (strlen(w) + strlen(k) < 60)
                    strcat(w, k);
            }
        size_t wn = strlen(w);
        if (wn < 5)
            continue;
        uint32_t cps[64];
        unsigned char mine[64], hy[72];
        for (size_t i = 0; i < wn; i++)
            cps[i] = (unsigned char)w[i];
        ov_hyphenate(h, cps, wn, mine);
        char **rep = NULL;
        int *pos = NULL, *cut = NULL;
        hnj_hyphen_hyphenate3(d, w, (int)wn, (char *)hy, NULL, &rep, &pos, &cut, 2, 3, 2, 2);
        int same = 1;
        for (size_t i = 0; i < wn; i++)
            same &= mine[i] == (i >= 1 && i + 4 <= wn && (hy[i] & 1));
        compared++;
        if (!same && differ++ < 3)
            fprintf(stderr, "hyphenation of %s differs from libhyphen\n", w);
    }
    hnj_hyphen_free(d);
    CHECKF(differ == 0, "%zu of %zu words hyphenated differently from libhyphen", differ, compared);
    CHECK(compared > 30000);
}

TEST(test_fonts) {
    const ov_fonts *f = NULL;
    octavo_error err;
    CHECK_INT(ov_fonts_get(&f, &err), OCTAVO_OK);
    if (!f)
        return;
    CHECK(ov_font_has(f, OV_FACE(OV_SERIF, 0), 'A'));
    CHECK(ov_font_advance(f, OV_FACE(OV_SERIF, 0), 'M') > 300);
    /* a character the body font lacks comes from the fallback chain */
    int arrow = ov_font_pick(f, OV_FACE(OV_SERIF, 0), 0x21AA);
    CHECK(arrow >= 0);
    CHECK_INT(ov_font_pick(f, OV_FACE(OV_SERIF, 0), 0x1F600), -1);
    /* kerning: "AV" is narrower than A + V */
    ov_shaper *s = ov_shaper_new(f);
    CHECK(s != NULL);
    uint32_t av[2] = { 'A', 'V' };
    float adv[2];
    double w = ov_shape(s, OV_FACE(OV_SERIF, 0), av, 2, adv);
    double nom = ov_font_advance(f, OV_FACE(OV_SERIF, 0), 'A') + ov_font_advance(f, OV_FACE(OV_SERIF, 0), 'V');
    CHECKF(w < nom, "AV %.1f, A+V %.1f", w, nom);
    ov_shaper_free(s);
}

TEST(test_book) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.flags = OCTAVO_NO_CACHE;
    octavo_error err;
    octavo *ov = octavo_new(&o, &err);
    octavo_book *book = octavo_book_new(ov);
    for (int i = 0; i < 3; i++) {
        char md[256];
        snprintf(md, sizeof md, "---\ntitle: Post number %d\ndate: 2024-0%d-01\n---\n\n## Part\n\nText of post %d.\n", i, i + 1, i);
        octavo_doc *doc = NULL;
        char name[32];
        snprintf(name, sizeof name, "p%d.md", i);
        CHECK_INT(octavo_doc_load(ov, name, md, strlen(md), &doc, &err), OCTAVO_OK);
        CHECK_INT(octavo_book_add(book, doc, &err), OCTAVO_OK);
    }
    octavo_book_set(book, "title", "The Book");
    char out[512];
    snprintf(out, sizeof out, "%s/book.pdf", dir);
    CHECK_INT(octavo_book_render_file(book, OCTAVO_FORMAT_PDF, out, &err), OCTAVO_OK);
    CHECK(octavo_book_pdf_pages(book) >= 5);
    if (have("mutool")) {
        char *r = run("mutool show '%s' outline | grep -c '^[-+|]\\?\t\"Post number'", out);
        CHECKF(r && atoi(r) == 3, "top-level outline entries: %s", r ? r : "");
        free(r);
    }
    if (have("pdftotext")) {
        char *r = run("pdftotext -layout '%s' - 2>&1", out);
        CHECK(r && strstr(r, "Contents"));
        free(r);
    }
    octavo_book_free(book);
    octavo_free(ov);
}

/* A table too wide even in smaller type is split into groups of columns, each after the first
 * repeating the first column: no word is broken inside and nothing crosses the margins. */
TEST(test_wide_table) {
    char md[8192] = "---\ntitle: Wide\n---\n\n";
    static const char *const cols[] = { "Component", "Architecture", "Hypervisor", "Virtualization", "Containerd",
                                        "Kubernetes", "Confidential", "Attestation", "Networking", "Performance",
                                        "Filesystem", "Observability", "Configuration", "Compatibility" };
    size_t nc = sizeof cols / sizeof cols[0];
    strcat(md, "|");
    for (size_t k = 0; k < nc; k++) {
        strcat(md, " ");
        strcat(md, cols[k]);
        strcat(md, " |");
    }
    strcat(md, "\n|");
    for (size_t k = 0; k < nc; k++)
        strcat(md, "---|");
    strcat(md, "\n");
    for (int r = 0; r < 6; r++) {
        strcat(md, "|");
        for (size_t k = 0; k < nc; k++) {
            char cell[64];
            if (k == 0)
                snprintf(cell, sizeof cell, " Row%dkey |", r);
            else
                snprintf(cell, sizeof cell, " %.4s%dcell |", cols[k], r);
            strcat(md, cell);
        }
        strcat(md, "\n");
    }
    char out[512];
    snprintf(out, sizeof out, "%s/wide.pdf", dir);
    CHECK_INT(render("wide.md", md, 0, out, NULL), OCTAVO_OK);
    if (!have("pdftotext"))
        return;
    char *r = run("pdftotext '%s' - 2>&1", out);
    /* every long header whole, and the first column's cells twice (once per group) */
    for (size_t k = 0; k < nc; k++)
        CHECKF(r && strstr(r, cols[k]), "header %s broken or missing", cols[k]);
    int twice = count_of(r, "Row0key");
    CHECKF(twice == 2, "the first column appears %d times", twice);
    free(r);
    r = words_outside(out, 0);
    CHECKF(r && !*r, "words outside the text area: %.300s", r ? r : "");
    free(r);
}

/* A table whose columns do not all fit at their preferred widths: a column of inline code is
 * measured in the monospace face it is set in, and a column that wants little more than its
 * minimum gets its preferred width, so its code stays whole on one line; the long unbreakable
 * words elsewhere still fit. */
TEST(test_table_code_column) {
    const char *md = "---\ntitle: Columns\n---\n\n"
                     "| Engine | Written in | Architectures | First check | Second check |\n"
                     "|-|-|-|-|-|\n"
                     "| Alpha, an engine whose description runs on for a while | rust | `arm64ab`, `amd64_64` "
                     "| :check_mark_here: | :check_mark_here: |\n"
                     "| Beta | C | `arm64ab`, `amd64_64` | :no: | :no: |\n";
    char out[512];
    snprintf(out, sizeof out, "%s/codecol.pdf", dir);
    CHECK_INT(render("codecol.md", md, 0, out, NULL), OCTAVO_OK);
    if (!have("pdftotext"))
        return;
    char *r = run("pdftotext -layout '%s' - 2>&1", out);
    int whole = count_of(r, "amd64_64"), one_line = count_of(r, "arm64ab, amd64_64");
    CHECKF(whole == 2, "a code word broken (%d of 2 whole): %.600s", whole, r ? r : "");
    CHECKF(one_line == 2, "the code cells wrapped (%d of 2 on one line): %.600s", one_line, r ? r : "");
    CHECKF(r && strstr(r, ":check_mark_here:"), "a long word broken: %.600s", r ? r : "");
    free(r);
    r = words_outside(out, 0);
    CHECKF(r && !*r, "words outside the text area: %.300s", r ? r : "");
    free(r);
}

/* A table row taller than a page goes on over the next page, cut between lines, the header
 * repeated: every entry inside the text area, all of them there and in order. */
TEST(test_tall_row) {
    char *md = malloc(16384);
    strcpy(md, "---\ntitle: Tall\n---\n\n| Name | Values |\n|-|-|\n| first | <ul>");
    for (int i = 0; i < 150; i++)
        sprintf(md + strlen(md), "<li><code>entry%03d</code></li>", i);
    strcat(md, "</ul> |\n| second | after |\n");
    char out[512];
    snprintf(out, sizeof out, "%s/tall.pdf", dir);
    unsigned pages = 0;
    CHECK_INT(render("tall.md", md, 0, out, &pages), OCTAVO_OK);
    free(md);
    CHECK(pages >= 2);
    if (!have("pdftotext"))
        return;
    char *r = words_outside(out, 17.5);
    CHECKF(r && !*r, "words outside the page's area: %.300s", r ? r : "");
    free(r);
    r = run("pdftotext '%s' - 2>&1", out);
    const char *q = r;
    int in_order = 0;
    for (int i = 0; i < 150 && q; i++) {
        char want[32];
        snprintf(want, sizeof want, "entry%03d", i);
        q = strstr(q, want);
        in_order += q != NULL;
    }
    CHECKF(in_order == 150, "%d of 150 entries found in order", in_order);
    int heads = count_of(r, "Values");
    CHECKF(heads >= 2, "the header appears %d times", heads);
    free(r);
}

/* The tagged structure nests lists (L > LI > LBody > P, a nested list inside its item) and tables
 * (Table > TR > TH/TD > P); the header row a long table repeats on every page is pagination (an
 * artifact), so the tree holds each header cell once. Read back with pdfinfo -struct. */
static int count_lines(const char *text, const char *line) {
    int n = 0;
    size_t l = strlen(line);
    for (const char *q = text; q && *q;) {
        const char *e = strchr(q, '\n');
        size_t len = e ? (size_t)(e - q) : strlen(q);
        if (len == l && !memcmp(q, line, l)) n++;
        q = e ? e + 1 : NULL;
    }
    return n;
}

TEST(test_structure_tree) {
    static char md[32768];
    snprintf(md, sizeof md, "---\ntitle: Tree\n---\nIntro.\n\n- one\n- two\n  1. inner a\n  2. inner b\n- three\n\n"
                            "| Key | Value |\n|-----|-------|\n");
    for (int r = 0; r < 120; r++) {
        char row[64];
        snprintf(row, sizeof row, "| k%d | v%d |\n", r, r);
        strcat(md, row);
    }
    strcat(md, "\nEnd.\n");
    char out[512];
    snprintf(out, sizeof out, "%s/tree.pdf", dir);
    unsigned pages = 0;
    CHECK_INT(render("tree.md", md, 0, out, &pages), OCTAVO_OK);
    CHECKF(pages >= 3, "the table should span pages (%u)", pages);
    if (!have("pdfinfo"))
        return;
    char *r = run("pdfinfo -struct '%s' 2>&1", out);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK_INT(count_lines(r, "  L (block)"), 1);
    CHECK_INT(count_lines(r, "    LI (block)"), 3);
    CHECK_INT(count_lines(r, "      LBody (block)"), 3);
    CHECK_INT(count_lines(r, "        L (block)"), 1);          /* the inner list, in the second item */
    CHECK_INT(count_lines(r, "          LI (block)"), 2);
    CHECK_INT(count_lines(r, "              P (block)"), 2);    /* inner items' paragraphs */
    CHECK_INT(count_lines(r, "  Table (block)"), 1);
    CHECK_INT(count_lines(r, "    TR"), 121);
    CHECK_INT(count_lines(r, "      TH"), 2);                   /* once, though repeated on every page */
    CHECK_INT(count_lines(r, "      TD"), 240);
    CHECK(strstr(r, "Document\n  H1 (block)\n  P (block)\n  L (block)") != NULL);
    free(r);
    /* the header's text belongs to the tree once: its repetitions are artifacts */
    r = run("pdfinfo -struct-text '%s' 2>&1 | grep -c '\"Key\"'", out);
    CHECKF(r && atoi(r) == 1, "the header text is in the tree %s times", r ? r : "?");
    free(r);
    /* the repeated header is still drawn on every page */
    r = run("pdftotext '%s' - | grep -c '^Key$'", out);
    CHECKF(r && atoi(r) == (int)pages, "header on %s of %u pages", r ? r : "?", pages);
    free(r);
    r = run("qpdf --check '%s' 2>&1", out);
    CHECKF(r && strstr(r, "No syntax or stream encoding errors"), "qpdf: %.300s", r ? r : "");
    free(r);
}

/* A footnote longer than the space its page has left starts on the page of its reference and
 * goes on at the bottom of the next page; nothing overlaps or leaves the text area. */
TEST(test_long_footnote) {
    static char md[32768];
    strcpy(md, "---\ntitle: Long note\n---\n\n");
    for (int i = 0; i < 12; i++) {
        char p[1024];
        snprintf(p, sizeof p, "Paragraph %d of the body. %s%s\n\n", i,
                 "Body words go on for a while here, and then some more of them follow. "
                 "Body words go on for a while here, and then some more of them follow. "
                 "Body words go on for a while here, and then some more of them follow. ",
                 i == 1 ? "A reference.[^long]" : "");
        strcat(md, p);
    }
    strcat(md, "[^long]: NoteStart");
    for (int k = 0; k < 130; k++)
        strcat(md, " Note sentence with some words in it, quite a few of them.");
    strcat(md, " NoteEnd.\n");
    char out[512];
    snprintf(out, sizeof out, "%s/longnote.pdf", dir);
    CHECK_INT(render("n.md", md, 0, out, NULL), OCTAVO_OK);
    if (!have("pdftotext"))
        return;
    char *r = run("pdftotext '%s' - 2>/dev/null | awk 'BEGIN{p=1} /\\f/{p++} /NoteStart/{print \"start\", p} "
                  "/NoteEnd/{print \"end\", p} /A reference/{print \"ref\", p}'", out);
    int ref = 0, start = 0, end = 0;
    const char *q;
    if (r && (q = strstr(r, "ref "))) ref = atoi(q + 4);
    if (r && (q = strstr(r, "start "))) start = atoi(q + 6);
    if (r && (q = strstr(r, "end "))) end = atoi(q + 4);
    CHECKF(ref >= 1 && start == ref && end == ref + 1, "reference on page %d, note from %d to %d", ref, start, end);
    free(r);
    /* nothing outside the page's text area (the running foot aside), and the note below the
     * body's last line */
    r = words_outside(out, 9);
    CHECKF(r && !*r, "words outside the text area: %.300s", r ? r : "");
    free(r);
    r = run("pdftotext -f %d -l %d -bbox '%s' - | awk -F'\"' '/>reference.</{b=$8} />NoteStart</{n=$4} END{print (b < n) ? \"below\" : \"overlap\", b, n}'",
            ref, ref, out);
    CHECKF(r && strncmp(r, "below", 5) == 0, "the note against the body: %s", r ? r : "");
    free(r);
}

/* Links between the documents of a book land on the right page; in a single document, a link to
 * a page it does not hold becomes an absolute URL under the base URL, or plain text. */
TEST(test_book_links) {
    if (!have("mutool")) {
        printf("note: mutool not installed, links between documents not checked\n");
        return;
    }
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.flags = OCTAVO_NO_CACHE;
    o.base_url = "https://example.org/";
    octavo_error err;
    octavo *ov = octavo_new(&o, &err);
    octavo_book *book = octavo_book_new(ov);
    char beta[8192] = "---\ntitle: Beta\n---\n\n## Part one\n\nOne.\n\n";
    for (int i = 0; i < 60; i++)
        strcat(beta, "Filler paragraph with enough words to push the second part onto a later page.\n\n");
    strcat(beta, "## Part two\n\nTwo.\n");
    const char *srcs[3][2] = {
        { "blog/alpha.md", "---\ntitle: Alpha\n---\n\nSee [b](beta.md), [b2](beta.md#part-two), [c](/blog/gamma), "
                           "[here](#sec), [gone](missing.md) and [away](/elsewhere/x).\n\n## Sec\n\nText.\n" },
        { "blog/beta.md", beta },
        { "blog/gamma.md", "---\ntitle: Gamma\n---\n\nBack to [alpha](../blog/alpha.md).\n" } };
    for (int i = 0; i < 3; i++) {
        octavo_doc *doc = NULL;
        CHECK_INT(octavo_doc_load(ov, srcs[i][0], srcs[i][1], strlen(srcs[i][1]), &doc, &err), OCTAVO_OK);
        CHECK_INT(octavo_book_add(book, doc, &err), OCTAVO_OK);
    }
    octavo_book_order(book, OCTAVO_ORDER_GIVEN);
    char out[512], js[512];
    snprintf(out, sizeof out, "%s/links.pdf", dir);
    CHECK_INT(octavo_book_render_file(book, OCTAVO_FORMAT_PDF, out, &err), OCTAVO_OK);
    /* each link annotation as "from -> to page" or "from -> URI" */
    snprintf(js, sizeof js, "%s/links.js", dir);
    FILE *f = fopen(js, "w");
    if (f) {
        fputs("var doc = new PDFDocument(scriptArgs[0]); var n = doc.countPages(); var pg = [];\n"
              "for (var i = 0; i < n; i++) pg.push(doc.findPage(i));\n"
              "for (var i = 0; i < n; i++) { var an = pg[i].Annots; if (!an) continue;\n"
              "  for (var k = 0; k < an.length; k++) { var a = an[k]; if (a.Subtype.toString() != '/Link') continue;\n"
              "    if (a.A) { print((i + 1) + ' ' + a.A.URI); continue; }\n"
              "    for (var j = 0; j < n; j++) if (pg[j].toString() == a.Dest[0].toString()) print((i + 1) + ' p' + (j + 1)); } }\n",
              f);
        fclose(f);
    }
    char *r = run("mutool run '%s' '%s' 2>&1", js, out);
    char *t = run("pdftotext '%s' - 2>/dev/null | awk 'BEGIN{p=1} /\\f/{p++} /^(Beta|Part two|Gamma)$/{print $0\":\"p}'", out);
    int pb = 0, pp = 0, pg = 0;
    if (t) {
        const char *q;
        if ((q = strstr(t, "Beta:"))) pb = atoi(q + 5);
        if ((q = strstr(t, "Part two:"))) pp = atoi(q + 9);
        if ((q = strstr(t, "Gamma:"))) pg = atoi(q + 6);
    }
    CHECKF(pb > 0 && pp > pb && pg > pp, "pages: Beta %d, Part two %d, Gamma %d (%s)", pb, pp, pg, t ? t : "");
    char want[64];
    snprintf(want, sizeof want, " p%d\n", pb);
    CHECKF(r && strstr(r, want), "no link to Beta's page %d: %s", pb, r ? r : "");
    snprintf(want, sizeof want, " p%d\n", pp);
    CHECKF(r && strstr(r, want), "no link to Part two's page %d: %s", pp, r ? r : "");
    snprintf(want, sizeof want, " p%d\n", pg);
    CHECKF(r && strstr(r, want), "no link to Gamma's page %d: %s", pg, r ? r : "");
    CHECKF(r && strstr(r, "https://example.org/elsewhere/x"), "no base-URL link: %s", r ? r : "");
    CHECKF(r && !strstr(r, "missing.md") && !strstr(r, "beta.md"), "a relative file link left as a URI: %s", r ? r : "");
    free(r);
    free(t);
    octavo_book_free(book);
    octavo_free(ov);
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    RUN(test_fonts);
    RUN(test_linebreak);
    RUN(test_hyphenate);
    RUN(test_document);
    RUN(test_ragged_and_letter);
    RUN(test_images);
    RUN(test_jpeg_cmyk_and_orientation);
    RUN(test_missing_image);
    RUN(test_composite_glyphs);
    RUN(test_book);
    RUN(test_book_links);
    RUN(test_wide_table);
    RUN(test_table_code_column);
    RUN(test_tall_row);
    RUN(test_structure_tree);
    RUN(test_long_footnote);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return t_done();
}
