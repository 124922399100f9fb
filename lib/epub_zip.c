/*
 * A reproducible zip for the EPUB container, through libzip, streamed into the sink.
 *
 * Two libzip sources of our own:
 *  - entries: each text entry is deflated here, once, with one z_stream reused for the whole book
 *    (libzip would set up and tear down a 268 KB deflate state per entry, which for 60 chapters
 *    cost more than the compression). The source's stat reports the method, CRC and both sizes, so
 *    libzip copies the bytes as they are (zip_close.c: no recompression when the source's method
 *    is the entry's). An entry's bytes are freed as soon as libzip has copied them.
 *  - cached images: stored entries whose bytes are a cache file's, read in 64 KiB chunks into one
 *    fixed buffer as libzip copies them, their CRC (libzip's, in the header it rewrites after the
 *    data) checked against the cache's (bytes changed since the book was planned fail the archive,
 *    never go into it silently).
 *  - the archive: libzip writes an entry's local header, its data, seeks back to rewrite the
 *    header, then seeks to the end. Into an atomic output file (ov_sink_fd) the write source
 *    writes at those offsets (pwrite, through a 64 KiB write-behind buffer for libzip's small
 *    writes): nothing is held. Into a write callback, everything before the end is final, so the
 *    write source hands it to the sink there: only one entry is ever buffered, never the archive.
 *    Both give the same bytes.
 * Reproducible: entries in the order added, one timestamp for all, fixed Unix attributes, deflate
 * at a fixed level, no extra fields (libzip adds none of its own to new entries).
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>
#include <zlib.h>

#include "epub.h"
#include "zipdl.h" /* after <zip.h>: libzip is loaded on first use */

#define DEFLATE_LEVEL 3
#define CHUNK ((size_t)64 << 10) /* the write-behind buffer; the chunks cached files are read in */

/* ---- the archive's write source */
typedef struct wsrc {
    ov_sink *sink;
    ov_buf buf;                /* callback sink: bytes [base, base + buf.len) not yet sent */
    zip_uint64_t base, pos, end;
    int direct;                /* file sink: written at offsets */
    unsigned char *stage;      /* direct: CHUNK bytes, [stage_at, stage_at + slen) not yet written */
    zip_uint64_t stage_at;
    size_t slen;
    zip_error_t error;
    int sink_failed;
    /* a file entry just copied: the next write is libzip rewriting its local header, with the
     * CRC-32 libzip computed of the bytes it copied, which must be the one the cache recorded */
    int expect;
    uint32_t expect_crc;
    char *why;                 /* the writer's message buffer (OCTAVO_ERROR_SIZE) */
    char expect_why[OCTAVO_ERROR_SIZE];
} wsrc;

/* Checks the local header libzip rewrites after a file entry's data (see wsrc.expect). */
static int header_ok(wsrc *w, const void *data, zip_uint64_t len) {
    if (!w->expect) return 1;
    w->expect = 0;
    const unsigned char *h = data;
    if (len < 30 || memcmp(h, "PK\3\4", 4)) return 1; /* not a local header: libzip changed its order */
    uint32_t crc = (uint32_t)ov_le_get(h + 14, 4);
    if (crc == w->expect_crc) return 1;
    memcpy(w->why, w->expect_why, OCTAVO_ERROR_SIZE);
    return 0;
}

static zip_int64_t werr(wsrc *w, int ze, int se) {
    zip_error_set(&w->error, ze, se);
    return -1;
}

static int wflush(wsrc *w) {
    if (w->buf.len && ov_sink_write(w->sink, w->buf.data, w->buf.len)) {
        w->sink_failed = 1;
        return -1;
    }
    w->base += w->buf.len;
    w->buf.len = 0;
    return 0;
}

/* ---- direct: pwrite at libzip's offsets, small contiguous writes gathered */
static int dflush(wsrc *w) {
    if (w->slen && ov_sink_pwrite(w->sink, w->stage, w->slen, w->stage_at)) {
        w->sink_failed = 1;
        return -1;
    }
    w->slen = 0;
    return 0;
}

static int dwrite(wsrc *w, const void *data, size_t len) {
    if (w->slen && w->pos >= w->stage_at && w->pos - w->stage_at <= w->slen && len <= w->slen - (w->pos - w->stage_at)) {
        /* a local header rewritten while its entry is still gathered */
        memcpy(w->stage + (w->pos - w->stage_at), data, len);
        return 0;
    }
    if (w->slen && (w->pos != w->stage_at + w->slen || w->slen + len > CHUNK) && dflush(w)) return -1;
    if (!w->slen) w->stage_at = w->pos;
    if (len >= CHUNK) { /* big: straight to the file */
        if (ov_sink_pwrite(w->sink, data, len, w->pos)) { w->sink_failed = 1; return -1; }
    } else {
        memcpy(w->stage + w->slen, data, len);
        w->slen += len;
    }
    return 0;
}

/* Where a seek of libzip's on the archive goes (validated by the caller). */
static zip_int64_t seek_target(const wsrc *w, const zip_source_args_seek_t *a) {
    return a->whence == SEEK_SET   ? a->offset
           : a->whence == SEEK_CUR ? (zip_int64_t)w->pos + a->offset
                                   : (zip_int64_t)w->end + a->offset;
}

static zip_int64_t wsrc_direct(wsrc *w, void *data, zip_uint64_t len, zip_source_cmd_t cmd) {
    switch (cmd) {
    case ZIP_SOURCE_BEGIN_WRITE:
        w->pos = w->end = 0;
        w->slen = 0;
        return 0;
    case ZIP_SOURCE_WRITE:
        if (len > SIZE_MAX || dwrite(w, data, (size_t)len)) return werr(w, ZIP_ER_WRITE, EIO);
        w->pos += len;
        if (w->pos > w->end) w->end = w->pos;
        return (zip_int64_t)len;
    case ZIP_SOURCE_SEEK_WRITE: {
        zip_source_args_seek_t *a = ZIP_SOURCE_GET_ARGS(zip_source_args_seek_t, data, len, &w->error);
        if (!a) return -1;
        zip_int64_t to = seek_target(w, a);
        if (to < 0 || (zip_uint64_t)to > w->end) return werr(w, ZIP_ER_SEEK, EINVAL);
        w->pos = (zip_uint64_t)to;
        return 0;
    }
    case ZIP_SOURCE_COMMIT_WRITE:
        if (dflush(w) || ov_sink_pwrite_end(w->sink)) {
            w->sink_failed = 1;
            return werr(w, ZIP_ER_WRITE, EIO);
        }
        return 0;
    case ZIP_SOURCE_ROLLBACK_WRITE:
        w->slen = 0;
        return 0;
    default:
        return werr(w, ZIP_ER_OPNOTSUPP, 0);
    }
}

static zip_int64_t wsrc_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd) {
    wsrc *w = ud;
    if (cmd == ZIP_SOURCE_WRITE && !header_ok(w, data, len)) return werr(w, ZIP_ER_CRC, 0);
    if (w->direct && (cmd == ZIP_SOURCE_BEGIN_WRITE || cmd == ZIP_SOURCE_WRITE || cmd == ZIP_SOURCE_SEEK_WRITE ||
                      cmd == ZIP_SOURCE_COMMIT_WRITE || cmd == ZIP_SOURCE_ROLLBACK_WRITE))
        return wsrc_direct(w, data, len, cmd);
    switch (cmd) {
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_SEEK,
                                              ZIP_SOURCE_TELL, ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE,
                                              ZIP_SOURCE_BEGIN_WRITE, ZIP_SOURCE_COMMIT_WRITE,
                                              ZIP_SOURCE_ROLLBACK_WRITE, ZIP_SOURCE_WRITE, ZIP_SOURCE_SEEK_WRITE,
                                              ZIP_SOURCE_TELL_WRITE, ZIP_SOURCE_REMOVE, -1);
    case ZIP_SOURCE_STAT:
        return werr(w, ZIP_ER_READ, ENOENT); /* a new archive: nothing to read */
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&w->error, data, len);
    case ZIP_SOURCE_BEGIN_WRITE:
        w->base = w->pos = w->end = 0;
        w->buf.len = 0;
        return 0;
    case ZIP_SOURCE_WRITE: {
        if (w->pos < w->base || w->pos - w->base > w->buf.len) return werr(w, ZIP_ER_SEEK, EINVAL);
        size_t at = (size_t)(w->pos - w->base);
        size_t over = w->buf.len - at; /* rewriting bytes already there (a local header) */
        if (over > len) over = (size_t)len;
        if (over) memcpy(w->buf.data + at, data, over);
        if (len > over && ov_buf_put(&w->buf, (const char *)data + over, (size_t)len - over))
            return werr(w, ZIP_ER_MEMORY, 0);
        w->pos += len;
        if (w->pos > w->end) w->end = w->pos;
        return (zip_int64_t)len;
    }
    case ZIP_SOURCE_SEEK_WRITE: {
        zip_source_args_seek_t *a = ZIP_SOURCE_GET_ARGS(zip_source_args_seek_t, data, len, &w->error);
        if (!a) return -1;
        zip_int64_t to = seek_target(w, a);
        if (to < 0 || (zip_uint64_t)to < w->base || (zip_uint64_t)to > w->end) return werr(w, ZIP_ER_SEEK, EINVAL);
        w->pos = (zip_uint64_t)to;
        /* back at the end after rewriting a header: all before it is final */
        if (w->pos == w->end && wflush(w)) return werr(w, ZIP_ER_WRITE, EIO);
        return 0;
    }
    case ZIP_SOURCE_TELL_WRITE:
        return (zip_int64_t)w->pos;
    case ZIP_SOURCE_COMMIT_WRITE:
        if (wflush(w)) return werr(w, ZIP_ER_WRITE, EIO);
        return 0;
    case ZIP_SOURCE_ROLLBACK_WRITE:
        w->buf.len = 0;
        return 0;
    case ZIP_SOURCE_REMOVE:
    case ZIP_SOURCE_CLOSE:
        return 0;
    case ZIP_SOURCE_FREE:
        return 0; /* the writer owns w */
    default:
        return werr(w, ZIP_ER_OPNOTSUPP, 0);
    }
}

struct ov_zipw {
    unsigned char *scratch;    /* CHUNK bytes: a chunk of the file entry being copied */
    zip_t *za;
    wsrc *w;
    zip_source_t *src;
    time_t mtime;              /* as libzip wants it: local time giving the fields we chose */
    char why[OCTAVO_ERROR_SIZE]; /* what went wrong with a file entry, when it did */
    ov_zip_deflater d;         /* for the entries deflated by the writer */
};

/* ---- entries */
typedef struct entry {
    unsigned char *data;       /* as stored: deflated or not */
    char *path;                /* or, stored, bytes [off, off + len) of this file (read when copied) */
    off_t off;
    ov_zipw *z;                /* its scratch buffer holds a chunk of the file while libzip copies it */
    int fd;                    /* the file, while libzip copies it; -1 */
    size_t got;                /* bytes of the file read so far */
    size_t chunk_at;           /* the scratch holds [chunk_at, got) */
    size_t len;                /* stored size */
    size_t size;               /* uncompressed size */
    uLong crc;
    int deflated;
    size_t at;                 /* read position */
    char *name;                /* file entries: the entry's name, for the error */
    zip_error_t error;
} entry;

/* A file entry (a cache entry checked when the book was planned) is read in chunks as libzip
 * copies it, and checked again: libzip computes the CRC-32 of a stored entry as it copies it and
 * writes it into the entry's local header once the data is out; the write source compares it with
 * the CRC the cache recorded (wsrc.expect), so the bytes are hashed once, not twice. Bytes changed
 * since the book was planned (someone wrote into the cache meanwhile) fail the archive there,
 * and a failed archive never takes the output's place (an atomic file is removed; a callback
 * sink has not been given the entry, which is held until its header is final). */
static int file_open(entry *e) {
    ov_zipw *z = e->z;
    if (!z->scratch && !(z->scratch = ov_malloc(CHUNK))) {
        zip_error_set(&e->error, ZIP_ER_MEMORY, 0);
        return -1;
    }
    e->fd = open(e->path, O_RDONLY | O_CLOEXEC);
    if (e->fd < 0) {
        zip_error_set(&e->error, ZIP_ER_OPEN, errno);
        snprintf(z->why, sizeof z->why, "zip: %s: cannot open the cached file %s: %s", e->name, e->path, strerror(errno));
        return -1;
    }
    e->got = e->chunk_at = e->at = 0;
    return 0;
}

static void file_close(entry *e) {
    if (e->fd >= 0) close(e->fd);
    e->fd = -1;
}

/* The next chunk of a file entry into the scratch buffer. */
static int file_fill(entry *e) {
    unsigned char *b = e->z->scratch;
    size_t want = e->len - e->got < CHUNK ? e->len - e->got : CHUNK, n = 0;
    while (n < want) {
        ssize_t k = pread(e->fd, b + n, want - n, e->off + (off_t)(e->got + n));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        n += (size_t)k;
    }
    if (n != want) {
        zip_error_set(&e->error, ZIP_ER_READ, EIO);
        snprintf(e->z->why, sizeof e->z->why, "zip: %s: the cached file %s is shorter than when it was checked",
                 e->name, e->path);
        return -1;
    }
    e->chunk_at = e->got;
    e->got += n;
    return 0;
}

static zip_int64_t entry_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd) {
    entry *e = ud;
    switch (cmd) {
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                              ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
    case ZIP_SOURCE_OPEN:
        if (e->path) return file_open(e);
        if (!e->data && e->len) {
            zip_error_set(&e->error, ZIP_ER_INTERNAL, 0);
            return -1;
        }
        e->at = 0;
        return 0;
    case ZIP_SOURCE_READ: {
        if (e->path) {
            if (e->at == e->got && e->got < e->len && file_fill(e)) return -1;
            size_t n = e->got - e->at;
            if (n > len) n = (size_t)len;
            if (n) memcpy(data, e->z->scratch + (e->at - e->chunk_at), n);
            e->at += n;
            return (zip_int64_t)n;
        }
        size_t n = e->len - e->at;
        if (n > len) n = (size_t)len;
        if (n) memcpy(data, e->data + e->at, n);
        e->at += n;
        return (zip_int64_t)n;
    }
    case ZIP_SOURCE_CLOSE:
        if (e->path) {
            file_close(e);
            if (e->at == e->len) { /* copied whole: its CRC is checked in the header libzip writes next */
                wsrc *w = e->z->w;
                w->expect = 1;
                w->expect_crc = (uint32_t)e->crc;
                snprintf(w->expect_why, sizeof w->expect_why, "zip: %s: the cached file %s changed after it was checked",
                         e->name, e->path);
            }
            return 0;
        }
        /* libzip reads an entry once; its bytes are in the archive now */
        if (e->at == e->len) {
            ov_free(e->data);
            e->data = NULL;
        }
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len, &e->error);
        if (!st) return -1;
        zip_stat_init(st);
        st->valid = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD | ZIP_STAT_CRC | ZIP_STAT_ENCRYPTION_METHOD;
        st->size = e->size;
        st->comp_size = e->len;
        st->comp_method = e->deflated ? ZIP_CM_DEFLATE : ZIP_CM_STORE;
        st->crc = (zip_uint32_t)e->crc;
        st->encryption_method = ZIP_EM_NONE;
        return sizeof *st;
    }
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&e->error, data, len);
    case ZIP_SOURCE_FREE:
        if (e->path) file_close(e);
        ov_free(e->path);
        ov_free(e->name);
        ov_free(e->data);
        zip_error_fini(&e->error);
        ov_free(e);
        return 0;
    default:
        zip_error_set(&e->error, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
}


static int zip_fail(octavo_error *err, const char *what, zip_error_t *ze) {
    if (ze && zip_error_code_zip(ze) == ZIP_ER_MEMORY)
        return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_EPUB, NULL, 0, 0, "zip: %s: out of memory", what);
    return ov_error(err, OCTAVO_E_ZIP, OCTAVO_STAGE_EPUB, NULL, 0, 0, "zip: %s: %s", what,
                    ze ? zip_error_strerror(ze) : "failed");
}

/* libzip turns a time_t into DOS date and time fields with localtime(): hand it the time_t whose
 * local time has the UTC fields of t, so that the archive is the same in every time zone. DOS
 * dates run from 1980 to 2107. */
static time_t dos_time(time_t t) {
    struct tm tm;
    if (t < 315532800) t = 315532800; /* 1980-01-01T00:00:00Z */
    if (!gmtime_r(&t, &tm)) return t;
    if (tm.tm_year > 2107 - 1900) tm.tm_year = 2107 - 1900;
    tm.tm_isdst = -1;
    time_t l = mktime(&tm);
    return l == (time_t)-1 ? t : l;
}

int ov_zipw_open(ov_zipw **out, ov_sink *sink, time_t mtime, octavo_error *err) {
    *out = NULL;
    int lrc = ov_zip_load(err);
    if (lrc) return lrc;
    ov_zipw *z = ov_calloc(1, sizeof *z);
    wsrc *w = ov_calloc(1, sizeof *w);
    if (!z || !w) {
        ov_free(z);
        ov_free(w);
        return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_EPUB, NULL, 0, 0, NULL);
    }
    w->sink = sink;
    w->why = z->why;
    ov_buf_init(&w->buf);
    if (ov_sink_fd(sink) >= 0) {
        w->stage = ov_malloc(CHUNK);
        if (!w->stage) {
            ov_free(z);
            ov_free(w);
            return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_EPUB, NULL, 0, 0, NULL);
        }
        w->direct = 1;
    }
    zip_error_init(&w->error);
    z->w = w;
    zip_error_t ze;
    zip_error_init(&ze);
    z->src = zip_source_function_create(wsrc_cb, w, &ze);
    if (!z->src) {
        int rc = zip_fail(err, "creating the archive", &ze);
        zip_error_fini(&ze);
        ov_zipw_discard(z);
        return rc;
    }
    z->za = zip_open_from_source(z->src, ZIP_CREATE | ZIP_TRUNCATE, &ze);
    if (!z->za) {
        int rc = zip_fail(err, "opening the archive", &ze);
        zip_error_fini(&ze);
        ov_zipw_discard(z);
        return rc;
    }
    zip_error_fini(&ze);
    z->mtime = dos_time(mtime);
    *out = z;
    return OCTAVO_OK;
}

void ov_zipw_discard(ov_zipw *z) {
    if (!z) return;
    if (z->za) zip_discard(z->za); /* frees the archive source too */
    else if (z->src) zip_source_free(z->src);
    ov_zip_deflater_end(&z->d);
    ov_free(z->scratch);
    if (z->w) {
        ov_free(z->w->stage);
        ov_buf_free(&z->w->buf);
        zip_error_fini(&z->w->error);
        ov_free(z->w);
    }
    ov_free(z);
}

void ov_zip_deflater_end(ov_zip_deflater *d) {
    if (d->ready) deflateEnd(&d->zs);
    ov_free(d->buf);
    memset(d, 0, sizeof *d);
}

/* Deflates data (raw, no zlib header) into the deflater's buffer (reused), then a copy of its
 * size: fresh pages for the deflated bytes only, not for a bound of the original's size. */
int ov_zip_pack(ov_zip_deflater *d, const void *data, size_t len, unsigned char **out, size_t *out_len,
                uint32_t *crc) {
    *out = NULL;
    *out_len = 0;
    if (!d->ready) {
        memset(&d->zs, 0, sizeof d->zs);
        if (deflateInit2(&d->zs, DEFLATE_LEVEL, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return OCTAVO_E_ZIP;
        d->ready = 1;
    } else if (deflateReset(&d->zs) != Z_OK) {
        return OCTAVO_E_ZIP;
    }
    if (len > (uLong)-1 / 2) return OCTAVO_E_LIMIT;
    uLong bound = deflateBound(&d->zs, (uLong)len);
    if (bound > d->cap) { /* the old bytes are not needed: no realloc copy */
        ov_free(d->buf);
        d->cap = 0;
        size_t cap = bound < 16384 ? 16384 : bound + bound / 4;
        if (!(d->buf = ov_malloc(cap))) return OCTAVO_E_NOMEM;
        d->cap = cap;
    }
    d->zs.next_in = (Bytef *)data;
    d->zs.avail_in = (uInt)len;
    d->zs.next_out = d->buf;
    d->zs.avail_out = (uInt)d->cap;
    if (deflate(&d->zs, Z_FINISH) != Z_STREAM_END) return OCTAVO_E_ZIP;
    size_t n = (size_t)d->zs.total_out;
    *out = ov_malloc(n ? n : 1);
    if (!*out) return OCTAVO_E_NOMEM;
    memcpy(*out, d->buf, n);
    *out_len = n;
    *crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)len);
    return OCTAVO_OK;
}

/* Adds entry e (freeing the source frees it). */
static int add_entry(ov_zipw *z, const char *name, entry *e, octavo_error *err) {
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *s = zip_source_function_create(entry_cb, e, &ze);
    if (!s) {
        int rc = zip_fail(err, name, &ze);
        zip_error_fini(&ze);
        ov_free(e->data);
        ov_free(e->path);
        ov_free(e->name);
        ov_free(e);
        return rc;
    }
    zip_error_fini(&ze);
    /* from here on, freeing the source frees the entry */
    zip_int64_t idx = zip_file_add(z->za, name, s, 0);
    if (idx < 0) {
        zip_source_free(s);
        return zip_fail(err, name, zip_get_error(z->za));
    }
    /* deflated entries keep the method their source states; stored ones must say so, or libzip
     * deflates them (its default) */
    if ((!e->deflated && zip_set_file_compression(z->za, (zip_uint64_t)idx, ZIP_CM_STORE, 0)) ||
        zip_file_set_mtime(z->za, (zip_uint64_t)idx, z->mtime, 0) ||
        zip_file_set_external_attributes(z->za, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX, 0100644u << 16))
        return zip_fail(err, name, zip_get_error(z->za));
    return OCTAVO_OK;
}

int ov_zipw_add_deflated(ov_zipw *z, const char *name, unsigned char *data, size_t len, size_t size, uint32_t crc,
                         octavo_error *err) {
    entry *e = ov_calloc(1, sizeof *e);
    if (!e) {
        ov_free(data);
        return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_EPUB, NULL, 0, 0, NULL);
    }
    zip_error_init(&e->error);
    e->data = data;
    e->len = len;
    e->size = size;
    e->crc = crc;
    e->deflated = 1;
    return add_entry(z, name, e, err);
}

int ov_zipw_add(ov_zipw *z, const char *name, void *data, size_t len, int take, int compress, octavo_error *err) {
    entry *e = ov_calloc(1, sizeof *e);
    if (!e) {
        if (take) ov_free(data);
        return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_EPUB, NULL, 0, 0, NULL);
    }
    zip_error_init(&e->error);
    e->size = len;
    int rc = OCTAVO_OK;
    if (compress && len) {
        /* stored entries get their CRC from libzip as it copies them */
        uint32_t c = 0;
        rc = ov_zip_pack(&z->d, data, len, &e->data, &e->len, &c);
        e->crc = c;
        e->deflated = 1;
        if (take) ov_free(data);
    } else if (take) {
        e->data = data;
        e->len = len;
    } else if (len) {
        e->data = ov_malloc(len);
        if (e->data) memcpy(e->data, data, len);
        else rc = OCTAVO_E_NOMEM;
        e->len = len;
    }
    if (rc) {
        ov_free(e->data);
        ov_free(e);
        return ov_error(err, rc, OCTAVO_STAGE_EPUB, NULL, 0, 0, "zip: %s: %s", name,
                        rc == OCTAVO_E_NOMEM ? "out of memory" : "deflate failed");
    }
    return add_entry(z, name, e, err);
}

int ov_zipw_add_file(ov_zipw *z, const char *name, const char *path, size_t off, size_t len, uint32_t crc,
                     octavo_error *err) {
    entry *e = ov_calloc(1, sizeof *e);
    char *p = ov_strdup(path), *nm = ov_strdup(name);
    if (!e || !p || !nm || len > (uInt)-1) {
        ov_free(e);
        ov_free(p);
        ov_free(nm);
        return ov_error(err, len > (uInt)-1 ? OCTAVO_E_LIMIT : OCTAVO_E_NOMEM, OCTAVO_STAGE_EPUB, NULL, 0, 0, NULL);
    }
    zip_error_init(&e->error);
    e->fd = -1;
    e->path = p;
    e->name = nm;
    e->off = (off_t)off;
    e->z = z;
    e->len = e->size = len;
    e->crc = crc;
    return add_entry(z, name, e, err); /* stored: e->deflated is 0 */
}

int ov_zipw_finish(ov_zipw *z, octavo_error *err) {
    int rc = OCTAVO_OK;
    if (zip_close(z->za) < 0) {
        if (z->w->sink_failed) rc = ov_error(err, OCTAVO_E_WRITE, OCTAVO_STAGE_OUTPUT, NULL, 0, 0, "the write callback failed");
        else if (z->why[0]) rc = ov_error(err, OCTAVO_E_ZIP, OCTAVO_STAGE_EPUB, NULL, 0, 0, "%s", z->why);
        else rc = zip_fail(err, "writing the archive", zip_get_error(z->za));
        ov_zipw_discard(z);
        return rc;
    }
    z->za = NULL;
    z->src = NULL; /* zip_close freed it */
    ov_zipw_discard(z);
    return rc;
}
