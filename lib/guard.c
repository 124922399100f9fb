/* Guards on the Markdown source, before cmark-gfm parses it (see guard.h).
 *
 * cmark-gfm 0.29.0.gfm.6 (Debian 12) predates the upstream fixes for its costly cases; measured
 * here (CPU time, peak RSS of the cmark-gfm command):
 *  - a table row is split in time quadratic in its cells: 20 000 columns x 20 rows take 28 s, and
 *    ten rows of 20 000 cells under a 2-column table 13 s;
 *  - the autolink extension copies the rest of a text node once per e-mail address it links (up
 *    to 1000 per node): a 512 KB line of "a@b.cc " takes 515 MB, a 2 MB one 2 GB;
 *  - every node costs 150-250 bytes in cmark and as much again in our DOM: 1 MB of "*a* " takes
 *    300 MB through the HTML backend, 1 MB of "a\n\n" 470 MB; and the autolink extension makes
 *    every 'w' and ':' a special character that ends a text node, so 50 MB of "word " (10 million
 *    text nodes) take cmark-gfm 18 s and 2.3 GB (2 s and 350 MB without the extension);
 *  - block nesting costs one node per '>' or list marker: 16 MB of "> " would be 8 million
 *    nested block quotes.
 * One pass over the bytes bounds them all; the exact checks on the parsed tree (document.c and
 * model.c) then apply the limits precisely. */
#include <string.h>

#include "guard.h"

/* the characters that start Markdown elements, for the element estimate: a constant table, so
 * threads loading documents at once share it without a race */
static const unsigned char elem_char[256] = {
    ['*'] = 1, ['_'] = 1, ['`'] = 1, ['['] = 1, [']'] = 1, ['!'] = 1, ['<'] = 1, ['&'] = 1,
    ['\\'] = 1, ['~'] = 1, ['|'] = 1, ['@'] = 1, [':'] = 1, ['w'] = 1, ['W'] = 1, ['\n'] = 1,
};

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t') return 0;
    return 1;
}

/* A delimiter row of a table ("|---|:-:|"): only | - : and blanks, at least one '-'. Returns its
 * cells (the '|'-separated parts holding a '-'), 0 when the line is no delimiter row. */
static size_t delim_cells(const char *s, size_t n) {
    size_t cells = 0;
    int dash = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '-') dash = 1;
        else if (c == '|') { cells += dash; dash = 0; }
        else if (c != ':' && c != ' ' && c != '\t') return 0;
    }
    cells += dash;
    return cells;
}

/* Cells of a table row, at most: unescaped pipes + 1. */
static size_t row_cells(const char *s, size_t n) {
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    size_t pipes = 0, edges = (n && s[0] == '|') + (n > 1 && s[n - 1] == '|' && s[n - 2] != '\\');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') i++;
        else if (s[i] == '|') pipes++;
    }
    return pipes + 1 > edges ? pipes + 1 - edges : 1;
}

static int limit_error(const char *name, octavo_error *err, unsigned line, unsigned col, const char *fmt, size_t a,
                       size_t b) {
    return ov_error(err, OCTAVO_E_LIMIT, OCTAVO_STAGE_MARKDOWN, name, line, col, fmt, a, b);
}

int ov_markdown_guard(const octavo *ov, const char *name, const char *text, size_t len, unsigned first_line,
                      octavo_error *err) {
    static const octavo_limits zero;
    const octavo_limits *L = ov ? &ov->opt.limits : &zero;
    size_t nesting = L->nesting ? L->nesting : 256;
    size_t max_cols = L->table_columns ? L->table_columns : 200;
    size_t max_cells = L->table_cells ? L->table_cells : 200000;
    size_t input = L->input_bytes ? L->input_bytes : (size_t)16 << 20;
    size_t max_elems = input / 32 > 65536 ? input / 32 : 65536;
    size_t max_copy = input > ((size_t)4 << 20) ? (input > SIZE_MAX / 4 ? SIZE_MAX : input * 4) : (size_t)16 << 20;

    size_t elems = 0, copy = 0;
    int in_table = 0;
    size_t table_cols = 0, table_cells = 0;
    unsigned table_line = 0, table_col = 0;
    const char *prev = NULL; /* the previous line's content after its container prefix */
    size_t prev_n = 0;
    unsigned line = first_line;
    /* Every element the estimate counts is a byte of the text, or two more for a "://", or a line
     * end: a text of fewer than max_elems / 4 bytes cannot go past it, and its lines are only
     * searched for '@' (most documents: a blog post is 8 KB; the guard then runs ~5x faster). */
    int count_elems = len >= (max_elems - 1) / 4;
    size_t lf = 0; /* the next LF at or after p (len: none); kept, so that a text of lone CRs is
                    * not searched for a LF once per line */
    for (size_t p = 0; p < len; line++) {
        /* the line: up to a LF, a CR LF or a lone CR */
        if (lf < p || p == 0) {
            const char *f = memchr(text + p, '\n', len - p);
            lf = f ? (size_t)(f - text) : len;
        }
        size_t e = lf;
        const char *cr = memchr(text + p, '\r', e - p);
        if (cr) e = (size_t)(cr - text);
        const char *s = text + p;
        size_t n = e - p;
        size_t next = e < len ? (text[e] == '\r' && e + 1 < len && text[e + 1] == '\n' ? e + 2 : e + 1) : e;

        /* the container prefix: block quote markers and list markers */
        size_t j = 0, markers = 0, quotes = 0, tail = 0, over_at = 0, over_q_at = 0;
        char tail_ch = 0;
        int tail_same = 1;
        while (j < n) {
            char c = s[j];
            if (c == ' ' || c == '\t') { j++; continue; }
            size_t at = j;
            if (c == '>') {
                quotes++;
                tail = 0;
                tail_same = 1;
                j++;
                if (quotes == nesting + 1) over_q_at = at + 1;
            } else if ((c == '-' || c == '+' || c == '*') && (j + 1 == n || s[j + 1] == ' ' || s[j + 1] == '\t')) {
                if (tail && c != tail_ch) tail_same = 0;
                tail_ch = c;
                tail++;
                j++;
            } else if (c >= '0' && c <= '9') {
                size_t k = j;
                while (k < n && k - j < 9 && s[k] >= '0' && s[k] <= '9') k++;
                if (k < n && (s[k] == '.' || s[k] == ')') && (k + 1 == n || s[k + 1] == ' ' || s[k + 1] == '\t')) {
                    tail_same = 0;
                    tail++;
                    j = k + 1;
                } else break;
            } else break;
            if (++markers == nesting + 1) over_at = at + 1;
        }
        if (markers > nesting) {
            /* "- - - -" alone is a thematic break, not nested lists */
            int rule = j == n && tail >= 3 && tail_same && tail_ch != '+';
            if (!rule) return limit_error(name, err, line, (unsigned)over_at,
                                          "more than %zu nested block quotes and list items on one line: limit.nesting (%zu)",
                                          nesting, nesting);
            if (quotes > nesting) return limit_error(name, err, line, (unsigned)over_q_at,
                                                     "more than %zu nested block quotes on one line: limit.nesting (%zu)",
                                                     nesting, nesting);
        }
        const char *c = s + j;
        size_t cn = n - j;

        /* tables: the delimiter row, the header above it, and the rows below */
        if (in_table) {
            if (blank(c, cn)) in_table = 0;
            else {
                size_t rc = row_cells(c, cn);
                if (rc > max_cols)
                    return limit_error(name, err, line, (unsigned)j + 1,
                                       "a table row of %zu cells, over limit.table_columns (%zu)",
                                       rc, max_cols);
                table_cells += rc > table_cols ? rc : table_cols;
                if (table_cells > max_cells)
                    return limit_error(name, err, table_line, table_col,
                                       "a table of more than %zu cells: limit.table_cells (%zu)", max_cells, max_cells);
            }
        }
        if (!in_table && prev && !blank(prev, prev_n) && memchr(c, '-', cn)) {
            size_t dc = delim_cells(c, cn);
            if (dc) {
                size_t hc = row_cells(prev, prev_n);
                if (dc > max_cols || hc > max_cols)
                    return limit_error(name, err, line - 1, 1, "a table of %zu columns: limit.table_columns (%zu)",
                                       dc > max_cols ? dc : hc, max_cols);
                in_table = 1;
                table_cols = dc;
                table_cells = dc; /* the header row */
                table_line = line - 1;
                table_col = 1;
            }
        }

        /* the autolink extension's copies, and the element estimate */
        size_t ats = 0;
        if (count_elems) {
            for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)s[i];
                if (elem_char[ch]) {
                    elems++;
                    if (ch == '@') ats++;
                    else if (ch == ':' && i + 2 < n && s[i + 1] == '/' && s[i + 2] == '/') elems += 2; /* a URL */
                }
            }
        } else {
            for (const char *a = memchr(s, '@', n); a; a = memchr(a + 1, '@', n - (size_t)(a + 1 - s))) ats++;
        }
        elems++; /* the line end */
        if (ats) {
            size_t cost = (ats < 1000 ? ats : 1000) * n;
            copy += cost;
            if (copy > max_copy)
                return limit_error(name, err, line, 1,
                                   "a line of %zu bytes with many '@' would make the autolink extension copy it over "
                                   "and over, past %zu bytes (4 x limit.input_bytes)",
                                   n, max_copy);
        }
        if (elems > max_elems)
            return limit_error(name, err, line, 1,
                               "more than %zu Markdown elements: limit.input_bytes / 32, at least 65536 (%zu)",
                               max_elems, max_elems);
        prev = c;
        prev_n = cn;
        p = next;
        if (e == len) break;
    }
    return OCTAVO_OK;
}
