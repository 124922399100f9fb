/* libFuzzer target: frontmatter + Markdown loading. */
#include "fuzz_common.h"
FUZZ_ENTRY(fuzz_load) { return fuzz_render(data, size, -1); }
