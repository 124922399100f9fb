/*
 * libzip, loaded when the first EPUB is written rather than when the process starts.
 *
 * Debian's libzip links OpenSSL's libcrypto (for WinZip AES, which octavo never uses), plus
 * libbz2, liblzma and libzstd: loading and relocating them costs every process that links
 * liboctavo ~2 ms at start-up (measured on an empty program: 3.0 -> 5.3 ms), though only EPUB
 * output needs libzip. So the library links no libzip: epub_zip.c includes this header after
 * <zip.h>, and each libzip function it calls is a pointer of the function's own type, filled in by
 * ov_zip_load() with dlopen (dl.h), the function's name defined as that pointer.
 *
 * ov_zip_load() must have succeeded before any other function below is called; it is cheap after
 * the first call, thread-safe, and reports a missing or unusable libzip as an OCTAVO_E_ZIP error.
 */
#ifndef OV_ZIPDL_H
#define OV_ZIPDL_H

#include <zip.h>

#include "internal.h"

int ov_zip_load(octavo_error *err);

/* The functions used. */
#define OV_ZIP_FUNCS(X)                   \
    X(zip_close)                          \
    X(zip_discard)                        \
    X(zip_error_code_zip)                 \
    X(zip_error_fini)                     \
    X(zip_error_init)                     \
    X(zip_error_set)                      \
    X(zip_error_strerror)                 \
    X(zip_error_to_data)                  \
    X(zip_file_add)                       \
    X(zip_file_set_external_attributes)   \
    X(zip_file_set_mtime)                 \
    X(zip_get_error)                      \
    X(zip_open_from_source)               \
    X(zip_set_file_compression)           \
    X(zip_source_free)                    \
    X(zip_source_function_create)         \
    X(zip_source_make_command_bitmap)     \
    X(zip_stat_init)

#define OV_ZIPDL_EXTERN(name) extern __typeof__(name) *ov_p_##name;
OV_ZIP_FUNCS(OV_ZIPDL_EXTERN)
#undef OV_ZIPDL_EXTERN

/* every call from here on goes through the pointer */
#define zip_close (*ov_p_zip_close)
#define zip_discard (*ov_p_zip_discard)
#define zip_error_code_zip (*ov_p_zip_error_code_zip)
#define zip_error_fini (*ov_p_zip_error_fini)
#define zip_error_init (*ov_p_zip_error_init)
#define zip_error_set (*ov_p_zip_error_set)
#define zip_error_strerror (*ov_p_zip_error_strerror)
#define zip_error_to_data (*ov_p_zip_error_to_data)
#define zip_file_add (*ov_p_zip_file_add)
#define zip_file_set_external_attributes (*ov_p_zip_file_set_external_attributes)
#define zip_file_set_mtime (*ov_p_zip_file_set_mtime)
#define zip_get_error (*ov_p_zip_get_error)
#define zip_open_from_source (*ov_p_zip_open_from_source)
#define zip_set_file_compression (*ov_p_zip_set_file_compression)
#define zip_source_free (*ov_p_zip_source_free)
#define zip_source_function_create (*ov_p_zip_source_function_create)
#define zip_source_make_command_bitmap (*ov_p_zip_source_make_command_bitmap)
#define zip_stat_init (*ov_p_zip_stat_init)

#endif
