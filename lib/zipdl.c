/*
 * libzip loaded on first use (see zipdl.h for why): dlopen of the soname the library was built
 * against, every function looked up once, all or nothing.
 */
#define OV_ZIPDL_IMPL
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "testhooks.h"
#include "zipdl.h"

#ifndef OV_LIBZIP_SONAME
#define OV_LIBZIP_SONAME "libzip.so.4"
#endif

#define OV_ZIP_PTR(ret, name, params, args) static ret(*p_##name) params;
OV_ZIP_FUNCS(OV_ZIP_PTR)
#undef OV_ZIP_PTR
zip_int64_t (*ov_zip_make_command_bitmap)(zip_source_cmd_t first, ...);

#define OV_ZIP_WRAP(ret, name, params, args) \
    ret ov_##name params { return p_##name args; }
OV_ZIP_FUNCS(OV_ZIP_WRAP)
#undef OV_ZIP_WRAP

const char *ov_test_zip_soname;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_loaded;                 /* 1 when every function was found */
static char g_why[200];              /* otherwise, why not */

/* a data pointer from dlsym turned into a function pointer, as POSIX allows */
#define OV_ZIP_SYM(ret, name, params, args)                                   \
    if (ok) {                                                                 \
        void *s = dlsym(h, #name);                                            \
        if (s) memcpy(&p_##name, &s, sizeof s);                               \
        else { snprintf(g_why, sizeof g_why, "%s has no %s", OV_LIBZIP_SONAME, #name); ok = 0; } \
    }

static void load(void) {
    void *h = dlopen(ov_test_zip_soname ? ov_test_zip_soname : OV_LIBZIP_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(g_why, sizeof g_why, "%s", e ? e : "cannot load " OV_LIBZIP_SONAME);
        return;
    }
    int ok = 1;
    OV_ZIP_FUNCS(OV_ZIP_SYM)
    if (ok) {
        void *s = dlsym(h, "zip_source_make_command_bitmap");
        if (s) memcpy(&ov_zip_make_command_bitmap, &s, sizeof s);
        else { snprintf(g_why, sizeof g_why, "%s has no zip_source_make_command_bitmap", OV_LIBZIP_SONAME); ok = 0; }
    }
    if (!ok) {
        dlclose(h);
        return;
    }
    g_loaded = 1; /* kept loaded for the life of the process */
}
#undef OV_ZIP_SYM

int ov_zip_load(octavo_error *err) {
    pthread_once(&g_once, load);
    if (g_loaded) return OCTAVO_OK;
    return ov_error(err, OCTAVO_E_ZIP, OCTAVO_STAGE_EPUB, NULL, 0, 0,
                    "EPUB output needs libzip, which could not be loaded: %s (install the libzip4 package)", g_why);
}
