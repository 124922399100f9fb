/* libFuzzer target: the image decoders (PNG, JPEG, WebP, GIF) and the EPUB conversion. */
#include "fuzz_common.h"
#include "image.h"
FUZZ_ENTRY(fuzz_image) {
    octavo *ov = fuzz_handle(&data, &size);
    if (!ov) return 0;
    ov_image_info info;
    if (ov_image_probe(ov, data, size, &info, NULL) == OCTAVO_OK) {
        ov_pixels px;
        if (ov_image_decode(ov, data, size, &px, NULL) == OCTAVO_OK) {
            ov_pixels_drop_opaque_alpha(&px);
            ov_pixels_downscale(&px, 64, 64);
            ov_pixels_free(&px);
        }
        ov_image_out out;
        if (ov_image_for_epub(ov, data, size, &out, NULL) == OCTAVO_OK) ov_free(out.data);
    }
    octavo_free(ov);
    return 0;
}
