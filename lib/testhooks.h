/* Hooks for the project's own tests (linked statically; hidden from the shared library). */
#ifndef OCTAVO_TESTHOOKS_H
#define OCTAVO_TESTHOOKS_H
/** Makes the allocation after the next n ones fail, in any thread of the process, and every one
 * after it (-1: never); resets the count and starts counting. */
void ov_test_alloc_fail_after(long n);
/** Allocations made through ov_malloc & co in the process since the last reset. */
long ov_test_alloc_count(void);
/** The libzip soname zipdl.c loads instead of the real one (NULL: the real one); read once, at
 * the first EPUB a process writes. */
extern const char *ov_test_zip_soname;
/** The HarfBuzz, HarfBuzz subset and libharu sonames pdfdl.c loads instead of the real ones (NULL:
 * the real one); read once, at the first PDF a process makes. */
extern const char *ov_test_hb_soname, *ov_test_hb_subset_soname, *ov_test_hpdf_soname;
#endif
