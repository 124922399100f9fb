/* Shared by the fuzz targets: options from the first input byte, a sink that discards. */
#ifndef OCTAVO_FUZZ_COMMON_H
#define OCTAVO_FUZZ_COMMON_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "octavo.h"

static int fuzz_discard(void *ud, const void *p, size_t n) {
    (void)p;
    size_t *total = ud;
    *total += n;
    return 0;
}

/* Byte 0 picks the options: trusted, fragment, ragged, toc, letter paper, a resource root (the
 * test data folder, so image resolution runs) and small limits (so the limit paths run). */
static octavo *fuzz_handle(const uint8_t **data, size_t *size) {
    unsigned bits = *size ? (*data)[0] : 0;
    if (*size) { (*data)++; (*size)--; }
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.flags |= OCTAVO_NO_CACHE;
    /* images up to 4 megapixels: the default 100 MP lets an 83 MP canvas take seconds per input */
    o.limits.image_pixels = 4u << 20;
    if (bits & 1) o.flags |= OCTAVO_TRUSTED;
    if (bits & 2) o.flags |= OCTAVO_FRAGMENT;
    if (bits & 4) o.flags |= OCTAVO_RAGGED;
    if (bits & 8) o.flags |= OCTAVO_TOC;
    if (bits & 16) o.paper = OCTAVO_PAPER_LETTER;
    if (bits & 32) o.resource_root = getenv("OCTAVO_FUZZ_ROOT");
    if (bits & 64) {
        o.limits.nesting = 16;
        o.limits.yaml_depth = 8;
        o.limits.yaml_nodes = 256;
        o.limits.table_columns = 8;
        o.limits.table_cells = 64;
        o.limits.pages = 4;
        o.limits.output_bytes = 1 << 20;
    }
    if (bits & 128) o.base_url = "https://example.org/";
    return octavo_new(&o, NULL);
}

/* Loads the rest of the input as a document and renders it in fmt (-1: load only). */
static int fuzz_render(const uint8_t *data, size_t size, int fmt) {
    octavo *ov = fuzz_handle(&data, &size);
    if (!ov) return 0;
    octavo_doc *doc = NULL;
    octavo_error err;
    if (octavo_doc_load(ov, "fuzz.md", data, size, &doc, &err) == OCTAVO_OK) {
        (void)octavo_doc_parse(doc, &err); /* the body, whatever the frontmatter says */
        (void)octavo_doc_title(doc);
        (void)octavo_doc_summary(doc, 200);
        if (fmt >= 0) {
            size_t total = 0;
            (void)octavo_render(doc, (octavo_format)fmt, fuzz_discard, &total, &err);
        }
        octavo_doc_free(doc);
    }
    octavo_free(ov);
    return 0;
}

#ifdef OV_REPLAY
#define FUZZ_ENTRY(name) static int name(const uint8_t *data, size_t size)
#else
#define FUZZ_ENTRY(name) \
    static int name(const uint8_t *data, size_t size); \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return name(data, size); } \
    static int name(const uint8_t *data, size_t size)
#endif
#endif
