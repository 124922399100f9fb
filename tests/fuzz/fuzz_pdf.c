/* libFuzzer target: frontmatter + Markdown rendered as pdf. */
#include "fuzz_common.h"
FUZZ_ENTRY(fuzz_pdf) { return fuzz_render(data, size, OCTAVO_FORMAT_PDF); }
