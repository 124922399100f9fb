/*
 * A reproducible zip for the EPUB container, through libzip, built in memory.
 *
 * libzip writes an entry's local header, its data, then seeks back to fix the sizes, so it cannot
 * stream into a write callback: the archive is built in a buffer source and read back into the
 * sink when it is complete. Reproducible means: entries in the order added, one timestamp for
 * all, fixed Unix attributes, deflate at a fixed level, no extra fields (libzip adds none of its
 * own to new entries).
 */
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "epub.h"

#define DEFLATE_LEVEL 6

struct ov_zipw {
    zip_source_t *src;         /* the archive's bytes */
    zip_t *za;
    time_t mtime;              /* as libzip wants it: local time giving the fields we chose */
    void **owned;              /* data handed to libzip, freed once the archive is written */
    size_t nowned, capowned;
};

static int zip_fail(octavo_error *err, const char *what, zip_error_t *ze) {
    return ov_error(err, OCTAVO_E_ZIP, OCTAVO_STAGE_EPUB, NULL, 0, 0, "zip: %s: %s", what,
                    ze ? zip_error_strerror(ze) : "failed");
}

/* libzip turns a time_t into DOS date and time fields with localtime(): hand it the time_t whose
 * local time has the UTC fields of t, so that the archive is the same in every time zone. DOS
 * dates start in 1980. */
static time_t dos_time(time_t t) {
    struct tm tm;
    if (t < 315532800) t = 315532800; /* 1980-01-01T00:00:00Z */
    if (!gmtime_r(&t, &tm)) return t;
    if (tm.tm_year > 2107 - 1900) { tm.tm_year = 2107 - 1900; }
    tm.tm_isdst = -1;
    time_t l = mktime(&tm);
    return l == (time_t)-1 ? t : l;
}

int ov_zipw_open(ov_zipw **out, time_t mtime, octavo_error *err) {
    *out = NULL;
    ov_zipw *z = ov_calloc(1, sizeof *z);
    if (!z) return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_EPUB, NULL, 0, 0, NULL);
    zip_error_t ze;
    zip_error_init(&ze);
    z->src = zip_source_buffer_create(NULL, 0, 0, &ze);
    if (!z->src) {
        int rc = zip_fail(err, "creating the archive", &ze);
        zip_error_fini(&ze);
        ov_free(z);
        return rc;
    }
    zip_source_keep(z->src); /* it outlives the zip_t: the archive is read from it afterwards */
    z->za = zip_open_from_source(z->src, ZIP_CREATE | ZIP_TRUNCATE, &ze);
    if (!z->za) {
        int rc = zip_fail(err, "opening the archive", &ze);
        zip_error_fini(&ze);
        zip_source_free(z->src);
        ov_free(z);
        return rc;
    }
    zip_error_fini(&ze);
    z->mtime = dos_time(mtime);
    *out = z;
    return OCTAVO_OK;
}

static void free_owned(ov_zipw *z) {
    for (size_t i = 0; i < z->nowned; i++) ov_free(z->owned[i]);
    ov_free(z->owned);
    z->owned = NULL;
    z->nowned = z->capowned = 0;
}

void ov_zipw_discard(ov_zipw *z) {
    if (!z) return;
    if (z->za) zip_discard(z->za);
    if (z->src) zip_source_free(z->src);
    free_owned(z);
    ov_free(z);
}

int ov_zipw_add(ov_zipw *z, const char *name, void *data, size_t len, int take, int compress, octavo_error *err) {
    if (!take && len) {
        void *copy = ov_malloc(len);
        if (!copy) return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_EPUB, NULL, 0, 0, NULL);
        memcpy(copy, data, len);
        data = copy;
    } else if (!len) {
        if (take) ov_free(data);
        data = NULL;
    }
    if (data && z->nowned == z->capowned) {
        size_t cap = z->capowned ? z->capowned * 2 : 64;
        void **o = ov_realloc(z->owned, cap * sizeof *o);
        if (!o) {
            ov_free(data);
            return ov_error(err, OCTAVO_E_NOMEM, OCTAVO_STAGE_EPUB, NULL, 0, 0, NULL);
        }
        z->owned = o;
        z->capowned = cap;
    }
    if (data) z->owned[z->nowned++] = data;
    zip_source_t *s = zip_source_buffer(z->za, data, len, 0);
    if (!s) return zip_fail(err, name, zip_get_error(z->za));
    zip_int64_t idx = zip_file_add(z->za, name, s, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
        zip_source_free(s);
        return zip_fail(err, name, zip_get_error(z->za));
    }
    if (zip_set_file_compression(z->za, (zip_uint64_t)idx, compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE,
                                 compress ? DEFLATE_LEVEL : 0) ||
        zip_file_set_mtime(z->za, (zip_uint64_t)idx, z->mtime, 0) ||
        zip_file_set_external_attributes(z->za, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX, 0100644u << 16))
        return zip_fail(err, name, zip_get_error(z->za));
    return OCTAVO_OK;
}

int ov_zipw_finish(ov_zipw *z, ov_sink *out, octavo_error *err) {
    int rc = OCTAVO_OK;
    if (zip_close(z->za) < 0) {
        rc = zip_fail(err, "writing the archive", zip_get_error(z->za));
        ov_zipw_discard(z);
        return rc;
    }
    z->za = NULL;
    free_owned(z); /* libzip has copied every entry into the archive */
    if (zip_source_open(z->src) < 0) {
        rc = zip_fail(err, "reading the archive", zip_source_error(z->src));
    } else {
        char chunk[1 << 16];
        for (;;) {
            zip_int64_t n = zip_source_read(z->src, chunk, sizeof chunk);
            if (n < 0) { rc = zip_fail(err, "reading the archive", zip_source_error(z->src)); break; }
            if (n == 0) break;
            if (ov_sink_write(out, chunk, (size_t)n)) {
                rc = ov_error(err, OCTAVO_E_WRITE, OCTAVO_STAGE_OUTPUT, NULL, 0, 0, "the write callback failed");
                break;
            }
        }
        zip_source_close(z->src);
    }
    ov_zipw_discard(z);
    return rc;
}
