/*
 * ICU's converter entry points, for the CLI's static link of libxml2 (see the Makefile, CLI_XML):
 * each reports that no ICU converter exists.
 *
 * Debian builds libxml2 with ICU, and its archive refers to seven ucnv_ functions for one job:
 * character sets that iconv lacks (encoding.c tries iconv first, then ICU). octavo hands libxml2
 * nothing but UTF-8, which libxml2 reads itself. Yet a shared libxml2 brings libicuuc, libstdc++
 * and their relocations into every process: 3 ms of each CLI start (9.1 -> 6.0 ms for
 * `octavo --version`, about a fifth of converting a blog post to PDF). A static libicuuc is no way
 * out: it pulls ICU's 30 MB data table into the executable, copied at every start.
 *
 * With these, libxml2's openIcuConverter() sees ucnv_open fail and returns no handler, as for an
 * unknown character set; iconv still serves every other one. The names carry ICU's version suffix
 * (OV_ICU_SUFFIX, read from the archive by the Makefile, which links libxml2 shared when the
 * archive asks for anything else). The library itself (liboctavo.a/.so) links libxml2 as usual.
 */
#include <stddef.h>
#include <stdint.h>

#ifndef OV_ICU_SUFFIX
#error "OV_ICU_SUFFIX (ICU's version suffix, e.g. _72) is set by the Makefile"
#endif
#define OV_CAT2(a, b) a##b
#define OV_CAT(a, b) OV_CAT2(a, b)
#define ICU(name) OV_CAT(name, OV_ICU_SUFFIX)

typedef int UErrorCode; /* ICU's enum: > 0 is a failure */
#define OV_NO_CONVERTER 4 /* U_FILE_ACCESS_ERROR: "the requested file cannot be found" */

static void fail(UErrorCode *err) {
    if (err && *err <= 0) *err = OV_NO_CONVERTER;
}

void *ICU(ucnv_open)(const char *name, UErrorCode *err);
void ICU(ucnv_close)(void *cnv);
void ICU(ucnv_convertEx)(void *to, void *from, char **target, const char *target_limit, const char **source,
                         const char *source_limit, uint16_t *pivot_start, uint16_t **pivot_source,
                         uint16_t **pivot_target, const uint16_t *pivot_limit, int8_t reset, int8_t flush,
                         UErrorCode *err);
void ICU(ucnv_setToUCallBack)(void *cnv, void *action, const void *context, void *old_action,
                              const void **old_context, UErrorCode *err);
void ICU(ucnv_setFromUCallBack)(void *cnv, void *action, const void *context, void *old_action,
                                const void **old_context, UErrorCode *err);
void ICU(UCNV_TO_U_CALLBACK_STOP)(const void *context, void *args, const char *units, int32_t length,
                                  int reason, UErrorCode *err);
void ICU(UCNV_FROM_U_CALLBACK_STOP)(const void *context, void *args, const uint16_t *units, int32_t length,
                                    int32_t code_point, int reason, UErrorCode *err);

void *ICU(ucnv_open)(const char *name, UErrorCode *err) {
    (void)name;
    fail(err);
    return NULL;
}

void ICU(ucnv_close)(void *cnv) { (void)cnv; }

void ICU(ucnv_convertEx)(void *to, void *from, char **target, const char *target_limit, const char **source,
                         const char *source_limit, uint16_t *pivot_start, uint16_t **pivot_source,
                         uint16_t **pivot_target, const uint16_t *pivot_limit, int8_t reset, int8_t flush,
                         UErrorCode *err) {
    (void)to, (void)from, (void)target, (void)target_limit, (void)source, (void)source_limit;
    (void)pivot_start, (void)pivot_source, (void)pivot_target, (void)pivot_limit, (void)reset, (void)flush;
    fail(err);
}

void ICU(ucnv_setToUCallBack)(void *cnv, void *action, const void *context, void *old_action,
                              const void **old_context, UErrorCode *err) {
    (void)cnv, (void)action, (void)context, (void)old_action, (void)old_context;
    fail(err);
}

void ICU(ucnv_setFromUCallBack)(void *cnv, void *action, const void *context, void *old_action,
                                const void **old_context, UErrorCode *err) {
    (void)cnv, (void)action, (void)context, (void)old_action, (void)old_context;
    fail(err);
}

void ICU(UCNV_TO_U_CALLBACK_STOP)(const void *context, void *args, const char *units, int32_t length,
                                  int reason, UErrorCode *err) {
    (void)context, (void)args, (void)units, (void)length, (void)reason;
    fail(err);
}

void ICU(UCNV_FROM_U_CALLBACK_STOP)(const void *context, void *args, const uint16_t *units, int32_t length,
                                    int32_t code_point, int reason, UErrorCode *err) {
    (void)context, (void)args, (void)units, (void)length, (void)code_point, (void)reason;
    fail(err);
}
