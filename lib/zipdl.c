/*
 * libzip loaded on first use (see zipdl.h for why): dlopen of the soname the library was built
 * against, every function looked up once, all or nothing (dl.c).
 */
#include <pthread.h>

#include "dl.h"
#include "testhooks.h"
#include "zipdl.h"

#ifndef OV_LIBZIP_SONAME
#define OV_LIBZIP_SONAME "libzip.so.4"
#endif

/* the pointers, of the types zipdl.h declared them with */
#define OV_ZIPDL_DEF(name) __typeof__(ov_p_##name) ov_p_##name;
OV_ZIP_FUNCS(OV_ZIPDL_DEF)
#undef OV_ZIPDL_DEF

static const char *const g_names[] = { OV_ZIP_FUNCS(OV_DL_NAME) };
static void *const g_slots[] = { OV_ZIP_FUNCS(OV_DL_SLOT) };

const char *ov_test_zip_soname;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_loaded;                 /* 1 when every function was found */
static char g_why[200];              /* otherwise, why not */

static void load(void) {
    g_loaded = ov_dl_open(ov_test_zip_soname ? ov_test_zip_soname : OV_LIBZIP_SONAME, g_names, g_slots,
                          sizeof g_names / sizeof *g_names, g_why, sizeof g_why);
}

int ov_zip_load(octavo_error *err) {
    pthread_once(&g_once, load);
    if (g_loaded) return OCTAVO_OK;
    return ov_error(err, OCTAVO_E_ZIP, OCTAVO_STAGE_EPUB, NULL, 0, 0,
                    "EPUB output needs libzip, which could not be loaded: %s (install the libzip4 package)", g_why);
}
