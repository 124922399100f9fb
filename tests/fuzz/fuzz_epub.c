/* libFuzzer target: frontmatter + Markdown rendered as epub. */
#include "fuzz_common.h"
FUZZ_ENTRY(fuzz_epub) { return fuzz_render(data, size, OCTAVO_FORMAT_EPUB); }
