/* Libraries loaded when first needed (see dl.h). */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "dl.h"

int ov_dl_open(const char *soname, const char *const *names, void *const *slots, size_t n, char *why,
               size_t why_size) {
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, why_size, "%s", e ? e : soname);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        void *s = dlsym(h, names[i]);
        if (!s) {
            snprintf(why, why_size, "%s has no %s", soname, names[i]);
            dlclose(h);
            return 0;
        }
        memcpy(slots[i], &s, sizeof s); /* a data pointer from dlsym as a function pointer, as POSIX allows */
    }
    return 1;
}
