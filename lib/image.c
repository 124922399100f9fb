/*
 * Images: sniffing and header probing (no decoding), pixel operations and the EPUB conversion.
 * The codecs (libpng, libjpeg, libwebp, giflib) live in image_codec.c, the cache in cache.c.
 *
 * Every size a header declares is checked against limits.image_bytes and limits.image_pixels
 * before a decoder sees the bytes, so a tiny file declaring 50000x50000 costs nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "image_int.h"

/* ---- limits */

size_t ov_image_limit_pixels(const octavo *ov) {
    size_t l = ov ? ov->opt.limits.image_pixels : 0;
    return l ? l : (size_t)100 * 1000 * 1000;
}

static size_t limit_bytes(const octavo *ov) {
    size_t l = ov ? ov->opt.limits.image_bytes : 0;
    return l ? l : (size_t)64 << 20;
}

/* libpng's own ceiling for a side (png_set_user_limits' default), applied to every format so that
 * whatever decodes can also be re-encoded, and a 1-pixel-wide strip cannot need a row table of
 * hundreds of megabytes. */
#define MAX_SIDE 1000000u

int ov_image_check_pixels(const octavo *ov, unsigned w, unsigned h, octavo_error *err) {
    size_t lim = ov_image_limit_pixels(ov);
    if ((uint64_t)w * h > (uint64_t)lim)
        return ov_error(err, OCTAVO_E_LIMIT, OCTAVO_STAGE_IMAGE, NULL, 0, 0,
                        "image of %ux%u pixels exceeds limit.image_pixels (%zu)", w, h, lim);
    if (w > MAX_SIDE || h > MAX_SIDE)
        return ov_error(err, OCTAVO_E_IMAGE, OCTAVO_STAGE_IMAGE, NULL, 0, 0,
                        "image of %ux%u pixels: sides longer than %u pixels are not supported", w, h, MAX_SIDE);
    return OCTAVO_OK;
}

int ov_image_fail(octavo_error *err, const char *fmt, ...) {
    char msg[OCTAVO_ERROR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ov_error(err, OCTAVO_E_IMAGE, OCTAVO_STAGE_IMAGE, NULL, 0, 0, "%s", msg);
}

/* ---- byte readers */

static unsigned be16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }
static unsigned le16(const unsigned char *p) { return (unsigned)p[1] << 8 | p[0]; }
static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t le24(const unsigned char *p) { return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }
static uint32_t le32(const unsigned char *p) { return (uint32_t)p[3] << 24 | le24(p); }

/* ---- format descriptions */

static void set_kind(ov_image_info *info, ov_image_format f) {
    static const char *const mime[] = {"application/octet-stream", "image/png", "image/jpeg", "image/webp",
                                       "image/gif", "image/svg+xml"};
    static const char *const ext[] = {"bin", "png", "jpg", "webp", "gif", "svg"};
    info->format = f;
    info->mime = mime[f];
    info->ext = ext[f];
}

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* Skips a UTF-8 BOM and XML white space; returns the offset of the first other byte. */
static size_t skip_ws(const unsigned char *p, size_t len) {
    size_t i = 0;
    if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) i = 3;
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')) i++;
    return i;
}

static const unsigned char *find(const unsigned char *hay, size_t n, const char *needle) {
    size_t m = strlen(needle);
    if (m == 0 || n < m) return NULL;
    for (size_t i = 0; i + m <= n; i++)
        if (hay[i] == (unsigned char)needle[0] && memcmp(hay + i, needle, m) == 0) return hay + i;
    return NULL;
}

/* How far into an XML prologue we look for the <svg root (comments, doctype, licences). */
#define SVG_SNIFF 65536

static const unsigned char *svg_root(const unsigned char *p, size_t len) {
    size_t i = skip_ws(p, len);
    if (i >= len || p[i] != '<') return NULL;
    size_t n = len - i < SVG_SNIFF ? len - i : SVG_SNIFF;
    const unsigned char *s = p + i;
    for (;;) {
        const unsigned char *t = find(s, n - (size_t)(s - (p + i)), "<svg");
        if (!t) return NULL;
        size_t after = (size_t)(t - p) + 4;
        if (after < len && (p[after] == ' ' || p[after] == '>' || p[after] == '\t' || p[after] == '\n' ||
                            p[after] == '\r' || p[after] == '/'))
            return t;
        s = t + 4;
    }
}

ov_image_format ov_image_sniff(const void *data, size_t len) {
    const unsigned char *p = data;
    if (!p) return OV_IMG_UNKNOWN;
    if (len >= 8 && memcmp(p, png_sig, 8) == 0) return OV_IMG_PNG;
    if (len >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return OV_IMG_JPEG;
    if (len >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0) return OV_IMG_WEBP;
    if (len >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0)) return OV_IMG_GIF;
    if (svg_root(p, len)) return OV_IMG_SVG;
    return OV_IMG_UNKNOWN;
}

/* ---- probes, one per format: the size and a few facts from the headers only */

static int probe_png(const unsigned char *p, size_t len, ov_image_info *info, octavo_error *err) {
    /* signature, then IHDR: length 13, "IHDR", width, height, depth, color type, ... */
    if (len < 8 + 8 + 13) return ov_image_fail(err, "PNG: truncated before its header");
    if (be32(p + 8) != 13 || memcmp(p + 12, "IHDR", 4) != 0)
        return ov_image_fail(err, "PNG: no IHDR chunk first");
    uint32_t w = be32(p + 16), h = be32(p + 20);
    unsigned depth = p[24], ct = p[25];
    if (w == 0 || h == 0 || w > 0x7fffffffu || h > 0x7fffffffu)
        return ov_image_fail(err, "PNG: invalid size in IHDR");
    if (!(depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16) || ct == 1 || ct == 5 || ct > 6)
        return ov_image_fail(err, "PNG: invalid bit depth or color type");
    info->width = w;
    info->height = h;
    info->lossless = 1;
    info->has_alpha = (ct & 4) != 0;
    info->components = ct == 0 ? 1 : ct == 4 ? 2 : ct == 6 ? 4 : 3;
    /* a tRNS chunk before the image data also means transparency */
    size_t pos = 8 + 8 + 13 + 4;
    while (pos + 8 <= len) {
        uint32_t clen = be32(p + pos);
        if (memcmp(p + pos + 4, "IDAT", 4) == 0) break;
        if (memcmp(p + pos + 4, "tRNS", 4) == 0) { info->has_alpha = 1; break; }
        if (clen > 0x7fffffffu || clen > len - pos - 8) break;
        pos += 12 + (size_t)clen;
    }
    return OCTAVO_OK;
}

/* The orientation tag (0x0112) of IFD0 in an APP1 Exif segment [p, p + n); 1 when absent. */
static int exif_orientation(const unsigned char *p, size_t n) {
    if (n < 6 + 8 || memcmp(p, "Exif\0\0", 6) != 0) return 1;
    p += 6;
    n -= 6;
    int le;
    if (memcmp(p, "II*\0", 4) == 0) le = 1;
    else if (memcmp(p, "MM\0*", 4) == 0) le = 0;
    else return 1;
#define RD16(q) (le ? le16(q) : be16(q))
#define RD32(q) (le ? le32(q) : be32(q))
    uint32_t ifd = RD32(p + 4);
    if (ifd < 8 || ifd > n - 2) return 1;
    unsigned count = RD16(p + ifd);
    for (unsigned i = 0; i < count; i++) {
        size_t e = ifd + 2 + (size_t)i * 12;
        if (e + 12 > n) break;
        if (RD16(p + e) == 0x0112 && RD16(p + e + 2) == 3) {
            unsigned v = RD16(p + e + 8);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
#undef RD16
#undef RD32
}

static int is_sof(unsigned m) {
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

static int probe_jpeg(const unsigned char *p, size_t len, ov_image_info *info, octavo_error *err) {
    size_t pos = 2;
    info->is_photo = 1;
    info->orientation = 0; /* set by the first Exif segment, else 1 */
    for (;;) {
        if (pos >= len) return ov_image_fail(err, "JPEG: truncated before its frame header");
        if (p[pos] != 0xFF) return ov_image_fail(err, "JPEG: no marker where one is expected");
        while (pos < len && p[pos] == 0xFF) pos++; /* fill bytes */
        if (pos >= len) return ov_image_fail(err, "JPEG: truncated before its frame header");
        unsigned m = p[pos++];
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue; /* no length */
        if (m == 0xD9 || m == 0xDA) return ov_image_fail(err, "JPEG: no frame header before the image data");
        if (pos + 2 > len) return ov_image_fail(err, "JPEG: truncated before its frame header");
        unsigned seg = be16(p + pos);
        if (seg < 2) return ov_image_fail(err, "JPEG: invalid segment length");
        if (m == 0xEE && seg >= 14 && pos + 14 <= len && memcmp(p + pos + 2, "Adobe", 5) == 0)
            info->adobe = 1;
        if (m == 0xE1 && !info->orientation && seg >= 2 + 6 && pos + seg <= len &&
            memcmp(p + pos + 2, "Exif\0\0", 6) == 0)
            info->orientation = exif_orientation(p + pos + 2, seg - 2);
        if (is_sof(m)) {
            if (seg < 8 || pos + 8 > len) return ov_image_fail(err, "JPEG: truncated frame header");
            info->height = be16(p + pos + 3);
            info->width = be16(p + pos + 5);
            info->components = p[pos + 7];
            if (info->width == 0 || info->height == 0)
                return ov_image_fail(err, "JPEG: a frame of size 0 (DNL) is not supported");
            if (info->components != 1 && info->components != 3 && info->components != 4)
                return ov_image_fail(err, "JPEG: unsupported number of components");
            info->progressive = m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE;
            if (!info->orientation) info->orientation = 1;
            if (info->orientation >= 5) { /* displayed turned by a quarter */
                unsigned t = info->width;
                info->width = info->height;
                info->height = t;
            }
            /* the Adobe marker, if any, comes before the frame header in every file seen */
            return OCTAVO_OK;
        }
        pos += seg;
    }
}

/* The size from the first chunk (VP8X canvas, VP8 key frame, VP8L header), read here so that the
 * limit is checked even when the rest of the file is missing; libwebp then confirms. */
static int probe_webp(const unsigned char *p, size_t len, ov_image_info *info, octavo_error *err) {
    if (len < 12 + 8) return ov_image_fail(err, "WebP: truncated before its header");
    const unsigned char *c = p + 12, *d = p + 20;
    size_t avail = len - 20;
    if (memcmp(c, "VP8X", 4) == 0) {
        if (avail < 10) return ov_image_fail(err, "WebP: truncated VP8X header");
        info->width = le24(d + 4) + 1;
        info->height = le24(d + 7) + 1;
        info->has_alpha = (d[0] & 0x10) != 0;
        info->animated = (d[0] & 0x02) != 0;
    } else if (memcmp(c, "VP8 ", 4) == 0) {
        if (avail < 10) return ov_image_fail(err, "WebP: truncated VP8 header");
        if (d[3] != 0x9d || d[4] != 0x01 || d[5] != 0x2a) return ov_image_fail(err, "WebP: bad VP8 start code");
        info->width = le16(d + 6) & 0x3fff;
        info->height = le16(d + 8) & 0x3fff;
    } else if (memcmp(c, "VP8L", 4) == 0) {
        if (avail < 5) return ov_image_fail(err, "WebP: truncated VP8L header");
        if (d[0] != 0x2f) return ov_image_fail(err, "WebP: bad VP8L signature");
        uint32_t bits = le32(d + 1);
        info->width = (bits & 0x3fff) + 1;
        info->height = ((bits >> 14) & 0x3fff) + 1;
        info->has_alpha = (bits >> 28) & 1;
        info->lossless = 1;
    } else {
        return ov_image_fail(err, "WebP: unknown first chunk");
    }
    if (info->width == 0 || info->height == 0) return ov_image_fail(err, "WebP: size 0");
    return OCTAVO_OK;
}

/* The logical screen; and, walking the blocks up to the first image (cheap: no LZW), whether
 * that frame is transparent or leaves part of the screen uncovered. */
static int probe_gif(const unsigned char *p, size_t len, ov_image_info *info, octavo_error *err) {
    if (len < 13) return ov_image_fail(err, "GIF: truncated before its header");
    info->width = le16(p + 6);
    info->height = le16(p + 8);
    info->lossless = 1;
    size_t pos = 13;
    if (p[10] & 0x80) pos += 3u * (2u << (p[10] & 7));
    while (pos < len) {
        if (p[pos] == 0x21) { /* extension: label, then sub-blocks */
            if (pos + 2 > len) break;
            unsigned label = p[pos + 1];
            pos += 2;
            if (label == 0xF9 && pos + 5 <= len && p[pos] >= 4 && (p[pos + 1] & 1)) info->has_alpha = 1;
            while (pos < len && p[pos]) pos += 1 + (size_t)p[pos];
            pos++;
        } else if (p[pos] == 0x2C) { /* the first image descriptor */
            if (pos + 10 > len) break;
            unsigned l = le16(p + pos + 1), t = le16(p + pos + 3), w = le16(p + pos + 5), h = le16(p + pos + 7);
            if (info->width == 0 || info->height == 0) { info->width = l + w; info->height = t + h; }
            if (l > 0 || t > 0 || w < info->width || h < info->height) info->has_alpha = 1;
            break;
        } else {
            break;
        }
    }
    if (info->width == 0 || info->height == 0) return ov_image_fail(err, "GIF: size 0");
    return OCTAVO_OK;
}

/* An attribute's value inside the tag [s, e): name="value" preceded by white space. */
static int svg_attr(const unsigned char *s, const unsigned char *e, const char *name, const unsigned char **v,
                    size_t *vlen) {
    size_t n = strlen(name);
    for (const unsigned char *q = s; q + n < e; q++) {
        if (!(q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\n' || q[-1] == '\r')) continue;
        if (memcmp(q, name, n) != 0) continue;
        const unsigned char *r = q + n;
        while (r < e && (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')) r++;
        if (r >= e || *r != '=') continue;
        r++;
        while (r < e && (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')) r++;
        if (r >= e || (*r != '"' && *r != '\'')) continue;
        unsigned char quote = *r++;
        const unsigned char *end = r;
        while (end < e && *end != quote) end++;
        if (end >= e) return 0;
        *v = r;
        *vlen = (size_t)(end - r);
        return 1;
    }
    return 0;
}

/* A length in CSS pixels from "120", "120px", "12.5"; 0 for percentages, other units, junk. */
static double svg_len(const unsigned char *v, size_t n, size_t *used) {
    char buf[64];
    size_t i = 0;
    while (i < n && (v[i] == ' ' || v[i] == ',')) i++;
    size_t j = 0;
    while (i < n && j < sizeof buf - 1 && ((v[i] >= '0' && v[i] <= '9') || v[i] == '.' || v[i] == '-' ||
                                         v[i] == '+' || v[i] == 'e' || v[i] == 'E'))
        buf[j++] = (char)v[i++];
    buf[j] = 0;
    if (used) *used = i;
    if (!j) return 0;
    double d = strtod(buf, NULL);
    if (!used && !(i == n || (n - i == 2 && v[i] == 'p' && v[i + 1] == 'x'))) return 0;
    return d > 0 && d < 1e6 ? d : 0;
}

static void probe_svg(const unsigned char *p, size_t len, ov_image_info *info) {
    info->lossless = 1;
    info->has_alpha = 1;
    const unsigned char *s = svg_root(p, len);
    if (!s) return;
    const unsigned char *e = s;
    while (e < p + len && *e != '>') e++;
    const unsigned char *v;
    size_t vn;
    double w = 0, h = 0;
    if (svg_attr(s + 4, e, "width", &v, &vn)) w = svg_len(v, vn, NULL);
    if (svg_attr(s + 4, e, "height", &v, &vn)) h = svg_len(v, vn, NULL);
    if ((w <= 0 || h <= 0) && svg_attr(s + 4, e, "viewBox", &v, &vn)) {
        double box[4];
        size_t off = 0, used;
        int k;
        for (k = 0; k < 4 && off < vn; k++) {
            char buf[64];
            while (off < vn && (v[off] == ' ' || v[off] == ',')) off++;
            svg_len(v + off, vn - off, &used);
            size_t m = used < sizeof buf ? used : sizeof buf - 1;
            memcpy(buf, v + off, m);
            buf[m] = 0;
            box[k] = strtod(buf, NULL);
            off += used ? used : 1;
        }
        if (k == 4 && box[2] > 0 && box[3] > 0 && box[2] < 1e6 && box[3] < 1e6) {
            if (w > 0) h = w * box[3] / box[2];
            else if (h > 0) w = h * box[2] / box[3];
            else { w = box[2]; h = box[3]; }
        }
    }
    if (w > 0 && h > 0) {
        info->width = (unsigned)(w + 0.5);
        info->height = (unsigned)(h + 0.5);
        if (!info->width) info->width = 1;
        if (!info->height) info->height = 1;
    }
}

int ov_image_probe(const octavo *ov, const void *data, size_t len, ov_image_info *info, octavo_error *err) {
    ov_image_info tmp;
    if (!info) info = &tmp;
    memset(info, 0, sizeof *info);
    set_kind(info, OV_IMG_UNKNOWN);
    info->orientation = 1;
    if (!data && len) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_IMAGE, NULL, 0, 0, "no image bytes");
    size_t lb = limit_bytes(ov);
    if (len > lb)
        return ov_error(err, OCTAVO_E_LIMIT, OCTAVO_STAGE_IMAGE, NULL, 0, 0,
                        "image of %zu bytes exceeds limit.image_bytes (%zu)", len, lb);
    const unsigned char *p = data;
    ov_image_format f = ov_image_sniff(p, len);
    set_kind(info, f);
    int rc;
    switch (f) {
    case OV_IMG_PNG: rc = probe_png(p, len, info, err); break;
    case OV_IMG_JPEG: rc = probe_jpeg(p, len, info, err); break;
    case OV_IMG_WEBP: rc = probe_webp(p, len, info, err); break;
    case OV_IMG_GIF: rc = probe_gif(p, len, info, err); break;
    case OV_IMG_SVG: probe_svg(p, len, info); return OCTAVO_OK; /* vector: no pixel limit */
    default: return ov_image_fail(err, "not an image of a known format (PNG, JPEG, WebP, GIF, SVG)");
    }
    if (rc) return rc;
    if ((rc = ov_image_check_pixels(ov, info->width, info->height, err))) return rc;
    if (f == OV_IMG_WEBP && (rc = ov_webp_features(p, len, info, err))) return rc;
    return OCTAVO_OK;
}

/* ---- pixels */

unsigned char *ov_image_buf_get(ov_image_buf *b, size_t n) {
    if (n <= b->cap && b->p) return b->p;
    unsigned char *q = ov_malloc(n); /* not realloc: the old contents are not wanted */
    if (!q) return NULL;
    ov_free(b->p);
    b->p = q;
    b->cap = n;
    return q;
}

void ov_image_buf_free(ov_image_buf *b) {
    ov_free(b->p);
    b->p = NULL;
    b->cap = 0;
}

void ov_pixels_free(ov_pixels *px) {
    if (!px) return;
    ov_free(px->data);
    memset(px, 0, sizeof *px);
}

void ov_pixels_drop_opaque_alpha(ov_pixels *px) {
    if (!px || !px->data || (px->channels != 2 && px->channels != 4)) return;
    int ch = px->channels;
    size_t n = (size_t)px->width * px->height;
    const unsigned char *a = px->data + ch - 1;
    for (size_t i = 0; i < n; i++, a += ch)
        if (*a != 255) return;
    unsigned char *d = px->data;
    const unsigned char *s = px->data;
    if (ch == 4) {
        for (size_t i = 0; i < n; i++, s += 4, d += 3) { d[0] = s[0]; d[1] = s[1]; d[2] = s[2]; }
    } else {
        for (size_t i = 0; i < n; i++, s += 2) *d++ = s[0];
    }
    px->channels = ch - 1;
    /* keep the larger block: shrinking it buys nothing and could fail */
}

int ov_pixels_fit_size(unsigned w, unsigned h, unsigned max_w, unsigned max_h, unsigned *nw, unsigned *nh) {
    *nw = w;
    *nh = h;
    if (!max_w || !max_h || (w <= max_w && h <= max_h)) return 0;
    double s = (double)max_w / w;
    if ((double)max_h / h < s) s = (double)max_h / h;
    unsigned x = (unsigned)(w * s + 0.5), y = (unsigned)(h * s + 0.5);
    if (x < 1) x = 1;
    if (y < 1) y = 1;
    if (x > max_w) x = max_w;
    if (y > max_h) y = max_h;
    if (x > w) x = w;
    if (y > h) y = h;
    *nw = x;
    *nh = y;
    return 1;
}

/* Area averaging on integer box boundaries: output pixel (ox, oy) is the mean of the source box
 * [ox*w/nw, (ox+1)*w/nw) x [oy*h/nh, (oy+1)*h/nh). Color is averaged weighted by alpha, so that
 * the invisible color of transparent pixels does not bleed into edges. */
int ov_pixels_downscale(ov_pixels *px, unsigned max_w, unsigned max_h) {
    if (!px || !px->data || !px->width || !px->height) return OCTAVO_E_ARG;
    if (!max_w || !max_h) return OCTAVO_E_ARG;
    unsigned w = px->width, h = px->height, nw, nh;
    if (!ov_pixels_fit_size(w, h, max_w, max_h, &nw, &nh)) return OCTAVO_OK;
    int ch = px->channels, alpha = ch == 2 || ch == 4;
    unsigned char *out = ov_malloc((size_t)nw * nh * ch);
    uint64_t *acc = ov_calloc((size_t)nw * ch, sizeof *acc);
    unsigned *xs = ov_malloc(((size_t)nw + 1) * sizeof *xs);
    if (!out || !acc || !xs) {
        ov_free(out);
        ov_free(acc);
        ov_free(xs);
        return OCTAVO_E_NOMEM;
    }
    for (unsigned ox = 0; ox <= nw; ox++) xs[ox] = (unsigned)((uint64_t)ox * w / nw);
    size_t stride = (size_t)w * ch;
    for (unsigned oy = 0; oy < nh; oy++) {
        unsigned y0 = (unsigned)((uint64_t)oy * h / nh), y1 = (unsigned)((uint64_t)(oy + 1) * h / nh);
        memset(acc, 0, (size_t)nw * ch * sizeof *acc);
        for (unsigned y = y0; y < y1; y++) {
            const unsigned char *row = px->data + (size_t)y * stride;
            uint64_t *a = acc;
            for (unsigned ox = 0; ox < nw; ox++, a += ch) {
                const unsigned char *q = row + (size_t)xs[ox] * ch, *qe = row + (size_t)xs[ox + 1] * ch;
                if (!alpha) {
                    if (ch == 3) {
                        uint32_t r = 0, g = 0, b = 0;
                        for (; q < qe; q += 3) { r += q[0]; g += q[1]; b += q[2]; }
                        a[0] += r; a[1] += g; a[2] += b;
                    } else {
                        uint32_t v = 0;
                        for (; q < qe; q++) v += *q;
                        a[0] += v;
                    }
                } else if (ch == 4) {
                    uint64_t r = 0, g = 0, b = 0, t = 0;
                    for (; q < qe; q += 4) {
                        unsigned al = q[3];
                        r += (uint32_t)q[0] * al; g += (uint32_t)q[1] * al; b += (uint32_t)q[2] * al; t += al;
                    }
                    a[0] += r; a[1] += g; a[2] += b; a[3] += t;
                } else {
                    uint64_t v = 0, t = 0;
                    for (; q < qe; q += 2) { v += (uint32_t)q[0] * q[1]; t += q[1]; }
                    a[0] += v; a[1] += t;
                }
            }
        }
        unsigned char *o = out + (size_t)oy * nw * ch;
        const uint64_t *a = acc;
        for (unsigned ox = 0; ox < nw; ox++, a += ch, o += ch) {
            uint64_t n = (uint64_t)(xs[ox + 1] - xs[ox]) * (y1 - y0);
            if (!alpha) {
                for (int c = 0; c < ch; c++) o[c] = (unsigned char)((a[c] + n / 2) / n);
            } else {
                uint64_t t = a[ch - 1];
                for (int c = 0; c < ch - 1; c++) o[c] = t ? (unsigned char)((a[c] + t / 2) / t) : 0;
                o[ch - 1] = (unsigned char)((t + n / 2) / n);
            }
        }
    }
    ov_free(acc);
    ov_free(xs);
    ov_free(px->data);
    px->data = out;
    px->width = nw;
    px->height = nh;
    return OCTAVO_OK;
}

/* Turns pixels stored with EXIF orientation o (2..8) upright. */
int ov_pixels_orient(ov_pixels *px, int o) {
    if (!px || !px->data || o < 2 || o > 8) return OCTAVO_OK;
    unsigned w = px->width, h = px->height, W = o >= 5 ? h : w, H = o >= 5 ? w : h;
    int ch = px->channels;
    unsigned char *out = ov_malloc((size_t)w * h * ch);
    if (!out) return OCTAVO_E_NOMEM;
    unsigned char *d = out;
    for (unsigned y = 0; y < H; y++)
        for (unsigned x = 0; x < W; x++, d += ch) {
            unsigned sx, sy;
            switch (o) {
            case 2: sx = w - 1 - x; sy = y; break;
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;
            case 4: sx = x; sy = h - 1 - y; break;
            case 5: sx = y; sy = x; break;
            case 6: sx = y; sy = h - 1 - x; break;
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;
            default: sx = w - 1 - y; sy = x; break;
            }
            memcpy(d, px->data + ((size_t)sy * w + sx) * ch, (size_t)ch);
        }
    ov_free(px->data);
    px->data = out;
    px->width = W;
    px->height = H;
    return OCTAVO_OK;
}

/* ---- images for EPUB */

/* Bump when the conversion's output changes (encoder settings, the choice of format). */
#define EPUB_CONVERSION "epub3"

static int pass_through(const unsigned char *p, size_t len, const ov_image_info *info, ov_image_out *out,
                        octavo_error *err) {
    out->data = ov_malloc(len);
    if (!out->data) return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_IMAGE, NULL, 0, 0, NULL);
    memcpy(out->data, p, len);
    out->len = len;
    out->mime = info->mime;
    out->ext = info->ext;
    out->width = info->width;
    out->height = info->height;
    return OCTAVO_OK;
}

/* A cache entry is good when it probes as what we store (PNG or JPEG) and fits the limits. */
static int from_cache(const octavo *ov, const char *name, ov_image_out *out) {
    unsigned char *d;
    size_t n;
    if (!ov_cache_get(ov, name, &d, &n)) return 0;
    ov_image_info ci;
    if (ov_image_probe(ov, d, n, &ci, NULL) || (ci.format != OV_IMG_PNG && ci.format != OV_IMG_JPEG)) {
        ov_free(d);
        return 0;
    }
    out->data = d;
    out->len = n;
    out->mime = ci.mime;
    out->ext = ci.ext;
    out->width = ci.width;
    out->height = ci.height;
    return 1;
}

int ov_image_cache_key(const void *data, size_t len, const unsigned char *sha, const char *tag,
                       char key[OV_IMAGE_KEY_SIZE]) {
    unsigned char h[32];
    if (sha) memcpy(h, sha, 32);
    else ov_sha256(data, len, h);
    ov_hex(h, 32, key);
    key[64] = '-';
    /* the codecs' versions are part of the tag: an upgraded encoder must not meet old bytes */
    char t[128], codecs[96];
    ov_image_codec_tag(codecs, sizeof codecs);
    snprintf(t, sizeof t, "%s-%s", tag, codecs);
    size_t tl = strlen(t);
    if (65 + tl + 1 > OV_IMAGE_KEY_SIZE) return -1;
    memcpy(key + 65, t, tl + 1);
    return 0;
}

/* How much of a cached entry ov_image_epub_cached probes: our encoders write the PNG IHDR and
 * the JPEG frame header within the first few hundred bytes. */
#define PEEK_HEAD 4096

int ov_image_epub_cached(const octavo *ov, const void *data, size_t len, const unsigned char sha[32],
                         ov_image_out *out, char **path, uint32_t *crc) {
    memset(out, 0, sizeof *out);
    *path = NULL;
    *crc = 0;
    if (!ov_cache_on(ov)) return 0;
    ov_image_info info;
    if (ov_image_probe(ov, data, len, &info, NULL) || info.format != OV_IMG_WEBP) return 0;
    unsigned char h[32];
    if (sha) memcpy(h, sha, 32);
    else ov_sha256(data, len, h);
    return ov_image_epub_cached_sha(ov, h, info.lossless || info.has_alpha, NULL, NULL, 0, out, path, crc);
}

int ov_image_epub_cached_sha(const octavo *ov, const unsigned char sha[32], int png_first, const char *trust,
                             char *token, size_t token_size, ov_image_out *out, char **path, uint32_t *crc) {
    memset(out, 0, sizeof *out);
    *path = NULL;
    *crc = 0;
    if (!ov_cache_on(ov)) return 0;
    char key[OV_IMAGE_KEY_SIZE], name[OV_IMAGE_KEY_SIZE + 8];
    if (ov_image_cache_key(NULL, 0, sha, EPUB_CONVERSION, key)) return 0;
    const char *first = png_first ? "png" : "jpg";
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "%s.%s", key, k == 0 ? first : first[0] == 'p' ? "jpg" : "png");
        unsigned char head[PEEK_HEAD];
        size_t hn, n;
        if (!ov_cache_peek_trust(ov, name, head, sizeof head, &hn, &n, crc, path, trust, token, token_size)) continue;
        /* the same test as from_cache: it probes as what we store and fits the limits */
        ov_image_info ci;
        if (n <= limit_bytes(ov) && ov_image_probe(ov, head, hn, &ci, NULL) == OCTAVO_OK &&
            (ci.format == OV_IMG_PNG || ci.format == OV_IMG_JPEG)) {
            out->len = n;
            out->mime = ci.mime;
            out->ext = ci.ext;
            out->width = ci.width;
            out->height = ci.height;
            return 1;
        }
        ov_free(*path);
        *path = NULL;
        *crc = 0;
    }
    return 0;
}

/* A WebP converted for the book: out takes the encoded bytes; stored in the cache under key.png or
 * key.jpg when key is given. */
static void converted(const octavo *ov, const char *key, int png, unsigned char *enc, size_t n, unsigned w,
                      unsigned h, ov_image_out *out) {
    out->data = enc;
    out->len = n;
    out->mime = png ? "image/png" : "image/jpeg";
    out->ext = png ? "png" : "jpg";
    out->width = w;
    out->height = h;
    if (key) {
        char name[OV_IMAGE_KEY_SIZE + 8];
        snprintf(name, sizeof name, "%s.%s", key, out->ext);
        ov_cache_put(ov, name, enc, n);
    }
}

int ov_image_for_epub(const octavo *ov, const void *data, size_t len, ov_image_out *out, octavo_error *err) {
    return ov_image_for_epub_sha(ov, data, len, NULL, out, err);
}

int ov_image_for_epub_sha(const octavo *ov, const void *data, size_t len, const unsigned char sha[32],
                          ov_image_out *out, octavo_error *err) {
    if (!out) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_IMAGE, NULL, 0, 0, "no output");
    memset(out, 0, sizeof *out);
    ov_image_info info;
    int rc = ov_image_probe(ov, data, len, &info, err);
    if (rc) return rc;
    if (info.format != OV_IMG_WEBP) {
        /* copied as it is: decoded once first, so that a corrupt image does not go into the book */
        if ((rc = ov_image_verify(ov, data, len, err))) return rc;
        return pass_through(data, len, &info, out, err);
    }

    int cache = ov_cache_on(ov);
    char key[OV_IMAGE_KEY_SIZE], name[OV_IMAGE_KEY_SIZE + 8];
    if (cache && ov_image_cache_key(data, len, sha, EPUB_CONVERSION, key)) cache = 0;
    if (cache) { /* the likelier kind first: one lookup on a warm rebuild */
        const char *first = info.lossless || info.has_alpha ? "png" : "jpg";
        snprintf(name, sizeof name, "%s.%s", key, first);
        if (from_cache(ov, name, out)) return OCTAVO_OK;
        snprintf(name, sizeof name, "%s.%s", key, first[0] == 'p' ? "jpg" : "png");
        if (from_cache(ov, name, out)) return OCTAVO_OK;
    }

    if (!info.lossless && !info.has_alpha && !info.animated) {
        /* a photo: its Y'CbCr planes straight into the JPEG encoder (no RGB pixels), with the
         * standard Huffman tables: optimised ones need a second pass over a whole-image
         * coefficient buffer (3 bytes a pixel of fresh pages); measured on the blog book: CPU
         * 1.75-1.83 -> 1.31-1.35 s, page faults 57k -> 38k, EPUB 8.02 -> 8.30 MB, same pixels */
        unsigned char *jpg = NULL;
        size_t jn = 0;
        unsigned jw = 0, jh = 0;
        if ((rc = ov_image_webp_jpeg(ov, data, len, 0, 0, 85, OV_JPEG_STD_HUFFMAN, NULL, &jpg, &jn, &jw, &jh, err))) return rc;
        converted(ov, cache ? key : NULL, 0, jpg, jn, jw, jh, out);
        return OCTAVO_OK;
    }
    ov_pixels px;
    if ((rc = ov_image_decode(ov, data, len, &px, err))) return rc;
    ov_pixels_drop_opaque_alpha(&px);
    int png = info.lossless || px.channels == 4 || px.channels == 2;
    unsigned char *enc = NULL;
    size_t n = 0;
    /* the pixels are freed right after: the encoders give their rows back as they go */
    rc = png ? ov_image_encode_png_consume(&px, &enc, &n) : ov_image_encode_jpeg_consume(&px, 85, &enc, &n);
    unsigned w = px.width, h = px.height;
    ov_pixels_free(&px);
    if (rc) return ov_error(err, rc, OCTAVO_STAGE_IMAGE, NULL, 0, 0, "WebP conversion to %s failed: %s",
                            png ? "PNG" : "JPEG", octavo_strerror(rc));
    converted(ov, cache ? key : NULL, png, enc, n, w, h, out);
    return OCTAVO_OK;
}
