/* Guards run on the Markdown source before cmark-gfm sees it (guard.c). */
#ifndef OCTAVO_GUARD_H
#define OCTAVO_GUARD_H

#include "internal.h"

/**
 * Scans the Markdown body (text, len; its first line is line first_line of the file) in one pass
 * and refuses, with OCTAVO_E_LIMIT and the position, what cmark-gfm 0.29 would take too long or
 * too much memory to parse:
 *  - a line opening more than limits.nesting block quotes and list items;
 *  - a table whose delimiter row has more than limits.table_columns cells, or whose columns times
 *    rows exceed limits.table_cells;
 *  - a line whose '@' signs would make the autolink extension copy the rest of the line once per
 *    address (about min(count, 1000) x length bytes) past 4 x limits.input_bytes;
 *  - more Markdown elements (estimated from the characters that make them) than
 *    limits.input_bytes / 32 (at least 65536): each costs 300-700 bytes of memory once parsed
 *    and modelled, so 16 MiB of "*a* " would otherwise take about 6 GB.
 * The exact checks on the parsed tree (document.c) stay; these only keep the parser bounded.
 */
int ov_markdown_guard(const octavo *ov, const char *name, const char *text, size_t len, unsigned first_line,
                      octavo_error *err);

#endif
