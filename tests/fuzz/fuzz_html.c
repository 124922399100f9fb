/* libFuzzer target: frontmatter + Markdown rendered as html. */
#include "fuzz_common.h"
FUZZ_ENTRY(fuzz_html) { return fuzz_render(data, size, OCTAVO_FORMAT_HTML); }
