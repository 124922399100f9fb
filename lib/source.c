/* Source bytes: size limit, UTF-8 check, BOM, and the split into YAML frontmatter and Markdown body.
 *
 * A frontmatter opens with a first line "---" (after an optional UTF-8 BOM, trailing blanks
 * allowed) and closes with a line "---" or "..."; CRLF and CR line ends are accepted anywhere.
 * Positions are 1-based lines and columns counted in characters in the original bytes; a BOM
 * takes no column. */
#include <string.h>

#include "internal.h"

static const char BOM[] = "\xEF\xBB\xBF";

void ov_source_position(const char *text, size_t len, size_t offset, unsigned *line, unsigned *col) {
    unsigned l = 1, c = 1;
    size_t i = 0;
    if (offset > len) offset = len;
    if (len >= 3 && memcmp(text, BOM, 3) == 0 && offset >= 3) i = 3;
    while (i < offset) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') { l++; c = 1; i++; continue; }
        if (ch == '\r') {
            if (i + 1 < len && text[i + 1] == '\n') { i++; continue; } /* the \n counts */
            l++; c = 1; i++; continue;
        }
        if ((ch & 0xC0) != 0x80) c++; /* count characters, not bytes */
        i++;
    }
    /* the increment above counted the char at offset's lead if offset is mid-char: harmless */
    if (line) *line = l;
    if (col) *col = c;
}

/* Length of the line starting at p (without its line end) and, in *next, where the next starts. */
static size_t line_at(const char *t, size_t len, size_t p, size_t *next) {
    size_t e = p;
    while (e < len && t[e] != '\n' && t[e] != '\r') e++;
    if (e >= len) *next = e;
    else if (t[e] == '\r' && e + 1 < len && t[e + 1] == '\n') *next = e + 2;
    else *next = e + 1;
    return e - p;
}

/* A delimiter line: exactly the three characters, then only blanks. */
static int is_delim(const char *s, size_t n, const char *d) {
    if (n < 3 || memcmp(s, d, 3) != 0) return 0;
    for (size_t i = 3; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t') return 0;
    return 1;
}

int ov_source_split(const octavo *ov, const char *name, const char *text, size_t len, ov_source *out,
                    octavo_error *err) {
    memset(out, 0, sizeof *out);
    out->text = text;
    out->len = len;
    out->fm_line = 0;
    out->body_line = 1;
    if (!text && len) return ov_error(err, OCTAVO_E_ARG, OCTAVO_STAGE_LOAD, name, 0, 0, "no source bytes");
    size_t max = ov ? ov->opt.limits.input_bytes : 0;
    if (max && len > max)
        return ov_error(err, OCTAVO_E_LIMIT, OCTAVO_STAGE_LOAD, name, 0, 0,
                        "the source is %zu bytes, over limit.input_bytes (%zu)", len, max);
    size_t bad;
    if (!ov_utf8_valid(text, len, &bad)) {
        unsigned l, c;
        ov_source_position(text, len, bad, &l, &c);
        ov_error(err, OCTAVO_E_ENCODING, OCTAVO_STAGE_LOAD, name, l, c,
                 "invalid UTF-8 byte 0x%02X", (unsigned char)text[bad]);
        if (err) err->offset = bad;
        return OCTAVO_E_ENCODING;
    }
    size_t p = (len >= 3 && memcmp(text, BOM, 3) == 0) ? 3 : 0;
    out->body_start = p;
    size_t next;
    size_t n = line_at(text, len, p, &next);
    if (!is_delim(text + p, n, "---")) return OCTAVO_OK;

    /* a frontmatter: look for its closing line */
    unsigned line = 2;
    size_t q = next;
    out->fm_start = next;
    out->fm_line = 2;
    while (q < len) {
        size_t nn;
        size_t ln = line_at(text, len, q, &nn);
        if (is_delim(text + q, ln, "---") || is_delim(text + q, ln, "...")) {
            out->has_frontmatter = 1;
            out->fm_len = q - out->fm_start;
            out->body_start = nn;
            out->body_line = line + 1;
            return OCTAVO_OK;
        }
        q = nn;
        line++;
    }
    memset(out, 0, sizeof *out);
    out->text = text;
    out->len = len;
    ov_error(err, OCTAVO_E_UNTERMINATED, OCTAVO_STAGE_FRONTMATTER, name, 1, 1,
             "the frontmatter opened here has no closing \"---\" or \"...\" line");
    if (err) err->offset = p;
    return OCTAVO_E_UNTERMINATED;
}
