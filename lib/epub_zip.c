/*
 * A reproducible zip for the EPUB container, written straight into the sink as entries are added.
 *
 * Every entry's CRC-32 and sizes are known before its bytes are written (text entries are
 * deflated here, once, with one z_stream reused for the whole book; stored ones are whole in
 * memory, or a cache file whose CRC was checked when the book was planned), so each local header
 * is final when written: the archive is one forward stream, the same through a write callback or
 * into a file, and never held whole. Bytes go out through one fixed 64 KiB staging buffer: a
 * cached image is read into it from its file, its CRC checked as it goes (bytes changed since the
 * book was planned fail the archive, never go into it silently), so a warm build holds no image
 * in memory and touches no fresh pages for one. The central directory is kept (names and numbers)
 * and written at the end.
 *
 * Reproducible: entries in the order added, one timestamp for all (its UTC fields, in every time
 * zone), fixed Unix attributes 0644, deflate at a fixed level, no extra fields. No ZIP64: an
 * archive over 4 GiB or 65535 entries is OCTAVO_E_LIMIT (EPUB readers want plain zips anyway).
 *
 * (libzip, used before, took 22% of a warm build of the corpus's blog book: each entry buffered
 * whole in fresh pages so that its local header could be rewritten, 8 KiB copies, a third CRC
 * of every image; and it loads libcrypto at start-up.)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "epub.h"

#define DEFLATE_LEVEL 3
#define STAGE ((size_t)64 << 10) /* the staging buffer */

typedef struct cdir_entry {
    char *name;
    uint32_t crc, csize, usize, off;
    uint16_t method, flags;
} cdir_entry;

struct ov_zipw {
    ov_sink *sink;
    unsigned char *stage;      /* STAGE bytes; [0, slen) not yet sent */
    size_t slen;
    uint64_t off;              /* bytes of the archive so far (sent or staged) */
    cdir_entry *cd;
    size_t n, cap;
    uint16_t dos_time, dos_date;
    z_stream zs;
    int zs_ready;
    unsigned char *dbuf;       /* deflated bytes of the entry being added (reused) */
    size_t dcap;
    int sink_failed;
};

static int nomem(octavo_error *err) { return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_EPUB, NULL, 0, 0, NULL); }

static int sink_fail(ov_zipw *z, octavo_error *err) {
    z->sink_failed = 1;
    return ov_error(err, OCTAVO_E_WRITE, OCTAVO_STAGE_OUTPUT, NULL, 0, 0, "the write callback failed");
}

static int flush(ov_zipw *z, octavo_error *err) {
    if (z->slen && ov_sink_write(z->sink, z->stage, z->slen)) return sink_fail(z, err);
    z->slen = 0;
    return OCTAVO_OK;
}

static int put(ov_zipw *z, const void *p, size_t n, octavo_error *err) {
    if (z->sink_failed) return sink_fail(z, err);
    z->off += n;
    if (z->slen + n <= STAGE) {
        if (n) memcpy(z->stage + z->slen, p, n);
        z->slen += n;
        return OCTAVO_OK;
    }
    if (flush(z, err)) return OCTAVO_E_WRITE;
    if (n >= STAGE) return ov_sink_write(z->sink, p, n) ? sink_fail(z, err) : OCTAVO_OK;
    memcpy(z->stage, p, n);
    z->slen = n;
    return OCTAVO_OK;
}

static void le16(unsigned char *p, unsigned v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void le32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* DOS date and time fields of t's UTC time; DOS dates run from 1980 to 2107. */
static void dos_time(time_t t, uint16_t *tm_out, uint16_t *date_out) {
    struct tm tm;
    if (t < 315532800) t = 315532800; /* 1980-01-01T00:00:00Z */
    if (!gmtime_r(&t, &tm)) {
        memset(&tm, 0, sizeof tm);
        tm.tm_year = 80;
        tm.tm_mday = 1;
    }
    if (tm.tm_year > 2107 - 1900) {
        tm.tm_year = 2107 - 1900;
        tm.tm_mon = 11;
        tm.tm_mday = 31;
        tm.tm_hour = 23;
        tm.tm_min = 59;
        tm.tm_sec = 58;
    }
    *tm_out = (uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
    *date_out = (uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
}

int ov_zipw_open(ov_zipw **out, ov_sink *sink, time_t mtime, octavo_error *err) {
    *out = NULL;
    ov_zipw *z = ov_calloc(1, sizeof *z);
    if (!z) return nomem(err);
    z->stage = ov_malloc(STAGE);
    if (!z->stage) {
        ov_free(z);
        return nomem(err);
    }
    z->sink = sink;
    dos_time(mtime, &z->dos_time, &z->dos_date);
    *out = z;
    return OCTAVO_OK;
}

void ov_zipw_discard(ov_zipw *z) {
    if (!z) return;
    for (size_t i = 0; i < z->n; i++) ov_free(z->cd[i].name);
    ov_free(z->cd);
    if (z->zs_ready) deflateEnd(&z->zs);
    ov_free(z->dbuf);
    ov_free(z->stage);
    ov_free(z);
}

/* Records the entry and writes its local header: everything about it is known. */
static int begin_entry(ov_zipw *z, const char *name, uint32_t crc, size_t csize, size_t usize, int deflated,
                       octavo_error *err) {
    size_t nl = strlen(name);
    if (nl > 0xFFFF || z->n >= 0xFFFF || csize > 0xFFFFFFFFu || usize > 0xFFFFFFFFu ||
        z->off + 30 + nl + csize > 0xFFFFFFFFu)
        return ov_error(err, OCTAVO_E_LIMIT, OCTAVO_STAGE_EPUB, NULL, 0, 0,
                        "zip: %s: the book is too large for a zip without ZIP64 (4 GiB, 65535 entries)", name);
    if (z->n == z->cap) {
        size_t cap = z->cap ? z->cap * 2 : 64;
        cdir_entry *v = ov_realloc(z->cd, cap * sizeof *v);
        if (!v) return nomem(err);
        z->cd = v;
        z->cap = cap;
    }
    cdir_entry *c = &z->cd[z->n];
    c->name = ov_strdup(name);
    if (!c->name) return nomem(err);
    z->n++;
    c->crc = crc;
    c->csize = (uint32_t)csize;
    c->usize = (uint32_t)usize;
    c->off = (uint32_t)z->off;
    c->method = deflated ? 8 : 0;
    c->flags = 0;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p >= 0x80) c->flags = 1u << 11; /* the name is UTF-8 */
    unsigned char h[30];
    le32(h, 0x04034b50);
    le16(h + 4, deflated ? 20 : 10); /* version needed: 2.0 for deflate, 1.0 stored */
    le16(h + 6, c->flags);
    le16(h + 8, c->method);
    le16(h + 10, z->dos_time);
    le16(h + 12, z->dos_date);
    le32(h + 14, c->crc);
    le32(h + 18, c->csize);
    le32(h + 22, c->usize);
    le16(h + 26, (unsigned)nl);
    le16(h + 28, 0);
    int rc = put(z, h, sizeof h, err);
    return rc ? rc : put(z, name, nl, err);
}

static uint32_t crc_of(const void *data, size_t len) {
    uLong c = crc32(0L, Z_NULL, 0);
    const unsigned char *p = data;
    while (len) {
        uInt k = len > 0x40000000u ? 0x40000000u : (uInt)len;
        c = crc32(c, p, k);
        p += k;
        len -= k;
    }
    return (uint32_t)c;
}

/* Deflates data (raw, no zlib header) into z->dbuf; *out_len its size. */
static int deflate_into(ov_zipw *z, const void *data, size_t len, size_t *out_len) {
    if (!z->zs_ready) {
        memset(&z->zs, 0, sizeof z->zs);
        if (deflateInit2(&z->zs, DEFLATE_LEVEL, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return OCTAVO_E_ZIP;
        z->zs_ready = 1;
    } else if (deflateReset(&z->zs) != Z_OK) {
        return OCTAVO_E_ZIP;
    }
    if (len > (uInt)-1 / 2) return OCTAVO_E_LIMIT;
    uLong bound = deflateBound(&z->zs, (uLong)len);
    if (bound > z->dcap) { /* the old bytes are not needed: no realloc copy */
        ov_free(z->dbuf);
        z->dcap = 0;
        size_t cap = bound < 16384 ? 16384 : bound + bound / 4;
        z->dbuf = ov_malloc(cap);
        if (!z->dbuf) return OCTAVO_E_NOMEM;
        z->dcap = cap;
    }
    z->zs.next_in = (Bytef *)data;
    z->zs.avail_in = (uInt)len;
    z->zs.next_out = z->dbuf;
    z->zs.avail_out = (uInt)z->dcap;
    if (deflate(&z->zs, Z_FINISH) != Z_STREAM_END) return OCTAVO_E_ZIP;
    *out_len = (size_t)z->zs.total_out;
    return OCTAVO_OK;
}

int ov_zipw_add(ov_zipw *z, const char *name, void *data, size_t len, int take, int compress, octavo_error *err) {
    int rc = OCTAVO_OK;
    uint32_t crc = crc_of(data, len);
    if (compress && len) {
        size_t clen = 0;
        rc = deflate_into(z, data, len, &clen);
        if (take) ov_free(data);
        if (rc)
            return ov_error(err, rc, OCTAVO_STAGE_EPUB, NULL, 0, 0, "zip: %s: %s", name,
                            rc == OCTAVO_E_NOMEM ? "out of memory" : rc == OCTAVO_E_LIMIT ? "too large" : "deflate failed");
        if (!(rc = begin_entry(z, name, crc, clen, len, 1, err))) rc = put(z, z->dbuf, clen, err);
        return rc;
    }
    if (!(rc = begin_entry(z, name, crc, len, len, 0, err))) rc = put(z, data, len, err);
    if (take) ov_free(data);
    return rc;
}

int ov_zipw_add_file(ov_zipw *z, const char *name, const char *path, size_t off, size_t len, uint32_t crc,
                     octavo_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ov_error(err, OCTAVO_E_ZIP, OCTAVO_STAGE_EPUB, NULL, 0, 0, "zip: %s: cannot open the cached %s: %s", name,
                        path, strerror(errno));
    int rc = begin_entry(z, name, crc, len, len, 0, err);
    uLong c = crc32(0L, Z_NULL, 0);
    size_t left = len;
    off_t at = (off_t)off;
    while (!rc && left) {
        if (z->slen == STAGE && flush(z, err)) { rc = OCTAVO_E_WRITE; break; }
        size_t k = STAGE - z->slen < left ? STAGE - z->slen : left;
        ssize_t got = pread(fd, z->stage + z->slen, k, at);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            rc = ov_error(err, OCTAVO_E_ZIP, OCTAVO_STAGE_EPUB, NULL, 0, 0, "zip: %s: the cached %s is shorter than when checked",
                          name, path);
            break;
        }
        c = crc32(c, z->stage + z->slen, (uInt)got);
        z->slen += (size_t)got;
        z->off += (uint64_t)got;
        at += got;
        left -= (size_t)got;
        /* the last bytes are not sent before the whole is known good */
        if (!left && (uint32_t)c != crc) {
            z->slen -= (size_t)got;
            rc = ov_error(err, OCTAVO_E_ZIP, OCTAVO_STAGE_EPUB, NULL, 0, 0,
                          "zip: %s: the cached %s changed after it was checked", name, path);
        }
    }
    close(fd);
    return rc;
}

int ov_zipw_finish(ov_zipw *z, octavo_error *err) {
    int rc = OCTAVO_OK;
    uint64_t cd_start = z->off;
    for (size_t i = 0; i < z->n && !rc; i++) {
        const cdir_entry *c = &z->cd[i];
        size_t nl = strlen(c->name);
        unsigned char h[46];
        le32(h, 0x02014b50);
        le16(h + 4, 3u << 8 | 20); /* made by: Unix, zip 2.0 */
        le16(h + 6, c->method ? 20 : 10);
        le16(h + 8, c->flags);
        le16(h + 10, c->method);
        le16(h + 12, z->dos_time);
        le16(h + 14, z->dos_date);
        le32(h + 16, c->crc);
        le32(h + 20, c->csize);
        le32(h + 24, c->usize);
        le16(h + 28, (unsigned)nl);
        le16(h + 30, 0); /* extra */
        le16(h + 32, 0); /* comment */
        le16(h + 34, 0); /* disk */
        le16(h + 36, 0); /* internal attributes */
        le32(h + 38, 0100644u << 16);
        le32(h + 42, c->off);
        rc = put(z, h, sizeof h, err);
        if (!rc) rc = put(z, c->name, nl, err);
    }
    uint64_t cd_len = z->off - cd_start;
    if (!rc && (cd_start > 0xFFFFFFFFu || cd_len > 0xFFFFFFFFu || z->off + 22 > 0xFFFFFFFFu))
        rc = ov_error(err, OCTAVO_E_LIMIT, OCTAVO_STAGE_EPUB, NULL, 0, 0,
                      "zip: the book is too large for a zip without ZIP64 (4 GiB, 65535 entries)");
    if (!rc) {
        unsigned char h[22];
        le32(h, 0x06054b50);
        le16(h + 4, 0);
        le16(h + 6, 0);
        le16(h + 8, (unsigned)z->n);
        le16(h + 10, (unsigned)z->n);
        le32(h + 12, (uint32_t)cd_len);
        le32(h + 16, (uint32_t)cd_start);
        le16(h + 20, 0);
        rc = put(z, h, sizeof h, err);
    }
    if (!rc) rc = flush(z, err);
    ov_zipw_discard(z);
    return rc;
}
