/*
 * The PDF backend's libraries loaded on first use (see pdfdl.h for why): dlopen of the sonames the
 * library was built against, every function looked up once, all or nothing.
 */
#include <pthread.h>

#include "dl.h"
#include "pdfdl.h"
#include "testhooks.h"

#ifndef OV_HB_SONAME
#define OV_HB_SONAME "libharfbuzz.so.0"
#endif
#ifndef OV_HB_SUBSET_SONAME
#define OV_HB_SUBSET_SONAME "libharfbuzz-subset.so.0"
#endif
#ifndef OV_HPDF_SONAME
#define OV_HPDF_SONAME "libhpdf-2.3.0.so"
#endif

/* the pointers, of the types pdfdl.h declared them with */
#define OV_PDFDL_DEF(name) __typeof__(ov_p_##name) ov_p_##name;
OV_HB_FUNCS(OV_PDFDL_DEF)
OV_HB_SUBSET_FUNCS(OV_PDFDL_DEF)
OV_HPDF_FUNCS(OV_PDFDL_DEF)
#undef OV_PDFDL_DEF

const char *ov_test_hb_soname, *ov_test_hb_subset_soname, *ov_test_hpdf_soname;

/* In loading order: HarfBuzz's subsetter links HarfBuzz, which is then found loaded. */
enum { LIB_HB, LIB_HB_SUBSET, LIB_HPDF, NLIBS };
/* each library's functions: their names and the pointers to fill in */
static const char *const g_hb_names[] = { OV_HB_FUNCS(OV_DL_NAME) };
static void *const g_hb_slots[] = { OV_HB_FUNCS(OV_DL_SLOT) };
static const char *const g_hb_subset_names[] = { OV_HB_SUBSET_FUNCS(OV_DL_NAME) };
static void *const g_hb_subset_slots[] = { OV_HB_SUBSET_FUNCS(OV_DL_SLOT) };
static const char *const g_hpdf_names[] = { OV_HPDF_FUNCS(OV_DL_NAME) };
static void *const g_hpdf_slots[] = { OV_HPDF_FUNCS(OV_DL_SLOT) };

#define OV_COUNT(a) (sizeof a / sizeof *a)
static const struct {
    const char *soname, *what, *package;
    const char *const *names;
    void *const *slots;
    size_t n;
} g_libs[NLIBS] = {
    { OV_HB_SONAME, "HarfBuzz", "libharfbuzz0b", g_hb_names, g_hb_slots, OV_COUNT(g_hb_names) },
    { OV_HB_SUBSET_SONAME, "HarfBuzz's subsetter", "libharfbuzz-subset0", g_hb_subset_names, g_hb_subset_slots,
      OV_COUNT(g_hb_subset_names) },
    { OV_HPDF_SONAME, "libharu", "libhpdf-2.3.0", g_hpdf_names, g_hpdf_slots, OV_COUNT(g_hpdf_names) },
};

/* Each library is loaded on its own, when first needed: HarfBuzz by the layout's fonts, the
 * subsetter when a font subset is not in the cache (a warm run never loads it), libharu when the
 * file is written. */
static struct {
    pthread_once_t once;
    int ok;           /* every function was found */
    char why[240];    /* otherwise, why not */
} g_lib[NLIBS] = { { PTHREAD_ONCE_INIT, 0, "" }, { PTHREAD_ONCE_INIT, 0, "" }, { PTHREAD_ONCE_INIT, 0, "" } };

static const char *soname_of(int lib) {
    const char *t = lib == LIB_HB ? ov_test_hb_soname : lib == LIB_HB_SUBSET ? ov_test_hb_subset_soname
                                                                              : ov_test_hpdf_soname;
    return t ? t : g_libs[lib].soname;
}

/* One library and every function of it, or none. */
static void load_lib(int lib) {
    g_lib[lib].ok = ov_dl_open(soname_of(lib), g_libs[lib].names, g_libs[lib].slots, g_libs[lib].n, g_lib[lib].why,
                               sizeof g_lib[lib].why);
}

static void load_hb(void) { load_lib(LIB_HB); }
static void load_hb_subset(void) { load_lib(LIB_HB_SUBSET); }
static void load_hpdf(void) { load_lib(LIB_HPDF); }
static void (*const g_loaders[NLIBS])(void) = { load_hb, load_hb_subset, load_hpdf };

static int load(int lib, octavo_error *err) {
    pthread_once(&g_lib[lib].once, g_loaders[lib]);
    if (g_lib[lib].ok)
        return OCTAVO_OK;
    return ov_error(err, OCTAVO_E_PDF, OCTAVO_STAGE_PDF, NULL, 0, 0,
                    "PDF output needs %s, which could not be loaded: %s (install the %s package)", g_libs[lib].what,
                    g_lib[lib].why, g_libs[lib].package);
}

int ov_pdf_load_hb(octavo_error *err) { return load(LIB_HB, err); }

int ov_pdf_load_hb_subset(octavo_error *err) {
    int rc = load(LIB_HB, err); /* the subsetter's functions take HarfBuzz's objects */
    return rc ? rc : load(LIB_HB_SUBSET, err);
}

int ov_pdf_load_hpdf(octavo_error *err) { return load(LIB_HPDF, err); }

int ov_pdf_load(octavo_error *err) {
    int rc = ov_pdf_load_hb_subset(err);
    return rc ? rc : ov_pdf_load_hpdf(err);
}
