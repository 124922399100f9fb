/*
 * libzip, loaded when the first EPUB is written rather than when the process starts.
 *
 * Debian's libzip links OpenSSL's libcrypto (for WinZip AES, which octavo never uses), plus
 * libbz2, liblzma and libzstd: loading and relocating them costs every process that links
 * liboctavo ~2 ms at start-up (measured on an empty program: 3.0 -> 5.3 ms), though only EPUB
 * output needs libzip. So the library links no libzip: epub_zip.c includes this header after
 * <zip.h>, and each libzip function it calls is a pointer filled in by ov_zip_load() with dlopen.
 *
 * ov_zip_load() must have succeeded before any other function below is called; it is cheap after
 * the first call, thread-safe, and reports a missing or unusable libzip as an OCTAVO_E_ZIP error.
 */
#ifndef OV_ZIPDL_H
#define OV_ZIPDL_H

#include <zip.h>

#include "internal.h"

int ov_zip_load(octavo_error *err);

/* The functions used, as X(return type, name, parameters, arguments). */
#define OV_ZIP_FUNCS(X)                                                                                         \
    X(int, zip_close, (zip_t * za), (za))                                                                       \
    X(void, zip_discard, (zip_t * za), (za))                                                                    \
    X(int, zip_error_code_zip, (const zip_error_t *e), (e))                                                     \
    X(void, zip_error_fini, (zip_error_t * e), (e))                                                             \
    X(void, zip_error_init, (zip_error_t * e), (e))                                                             \
    X(void, zip_error_set, (zip_error_t * e, int ze, int se), (e, ze, se))                                      \
    X(const char *, zip_error_strerror, (zip_error_t * e), (e))                                                 \
    X(zip_int64_t, zip_error_to_data, (const zip_error_t *e, void *data, zip_uint64_t len), (e, data, len))     \
    X(zip_int64_t, zip_file_add, (zip_t * za, const char *name, zip_source_t *s, zip_flags_t fl),               \
      (za, name, s, fl))                                                                                        \
    X(int, zip_file_set_external_attributes,                                                                    \
      (zip_t * za, zip_uint64_t idx, zip_flags_t fl, zip_uint8_t os, zip_uint32_t attr), (za, idx, fl, os, attr)) \
    X(int, zip_file_set_mtime, (zip_t * za, zip_uint64_t idx, time_t t, zip_flags_t fl), (za, idx, t, fl))      \
    X(zip_error_t *, zip_get_error, (zip_t * za), (za))                                                         \
    X(zip_t *, zip_open_from_source, (zip_source_t * s, int fl, zip_error_t *e), (s, fl, e))                    \
    X(int, zip_set_file_compression, (zip_t * za, zip_uint64_t idx, zip_int32_t m, zip_uint32_t fl),            \
      (za, idx, m, fl))                                                                                         \
    X(void, zip_source_free, (zip_source_t * s), (s))                                                           \
    X(zip_source_t *, zip_source_function_create, (zip_source_callback cb, void *ud, zip_error_t *e),           \
      (cb, ud, e))                                                                                              \
    X(void, zip_stat_init, (zip_stat_t * st), (st))

#define OV_ZIP_DECL(ret, name, params, args) ret ov_##name params;
OV_ZIP_FUNCS(OV_ZIP_DECL)
#undef OV_ZIP_DECL

#ifndef OV_ZIPDL_IMPL
#define zip_close ov_zip_close
#define zip_discard ov_zip_discard
#define zip_error_code_zip ov_zip_error_code_zip
#define zip_error_fini ov_zip_error_fini
#define zip_error_init ov_zip_error_init
#define zip_error_set ov_zip_error_set
#define zip_error_strerror ov_zip_error_strerror
#define zip_error_to_data ov_zip_error_to_data
#define zip_file_add ov_zip_file_add
#define zip_file_set_external_attributes ov_zip_file_set_external_attributes
#define zip_file_set_mtime ov_zip_file_set_mtime
#define zip_get_error ov_zip_get_error
#define zip_open_from_source ov_zip_open_from_source
#define zip_set_file_compression ov_zip_set_file_compression
#define zip_source_free ov_zip_source_free
#define zip_source_function_create ov_zip_source_function_create
#define zip_stat_init ov_zip_stat_init
/* variadic: called through its pointer */
#define zip_source_make_command_bitmap (*ov_zip_make_command_bitmap)
#endif

extern zip_int64_t (*ov_zip_make_command_bitmap)(zip_source_cmd_t first, ...);

#endif
