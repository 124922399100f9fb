/*
 * A library loaded with dlopen when first needed, for the dependencies only some outputs use
 * (zipdl.c: libzip; pdfdl.c: HarfBuzz, its subsetter, libharu). Their headers declare, for each
 * function used, a pointer of the function's own type (__typeof__), and define the function's name
 * as that pointer: calls keep their names and are type-checked as before.
 */
#ifndef OV_DL_H
#define OV_DL_H

#include <stddef.h>

/** Opens soname and looks up the n functions names[i] into the pointers slots[i] point at (each a
 *  function pointer object): all of them, or none (the library closed again, why says what was
 *  missing). 1 on success; the library then stays loaded for the life of the process. */
int ov_dl_open(const char *soname, const char *const *names, void *const *slots, size_t n, char *why,
               size_t why_size);

/* For an X-macro list of functions: their names, and the addresses of their pointers ov_p_NAME. */
#define OV_DL_NAME(name) #name,
#define OV_DL_SLOT(name) (void *)&ov_p_##name,

#endif
