/* The foundation: loading, the frontmatter split, the YAML tree and its getters, errors with
 * positions, the title rule, the streaming loader. Expected values are worked out from YAML's
 * and CommonMark's rules by hand, never by asking the code under test. */
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmark-gfm.h>

#include "harness.h"
#include "internal.h"
#include "testhooks.h"

static octavo *OV;

static octavo_doc *load(const char *name, const char *s, octavo_error *err) {
    octavo_doc *d = NULL;
    memset(err, 0, sizeof *err);
    octavo_doc_load(OV, name, s, strlen(s), &d, err);
    return d;
}

/* The error's byte offset points at its line and column: count them back by hand. */
static void check_offset(const char *s, const octavo_error *e) {
    unsigned line = 1, col = 1;
    size_t i = strncmp(s, "\xEF\xBB\xBF", 3) ? 0 : 3;
    for (; i < e->offset && s[i]; i++) {
        if (s[i] == '\r' && s[i + 1] == '\n') continue;
        if (s[i] == '\n' || s[i] == '\r') { line++; col = 1; }
        else if (((unsigned char)s[i] & 0xC0) != 0x80) col++;
    }
    CHECKF(line == e->line && col == e->column, "offset %zu is %u:%u, the error says %u:%u", e->offset, line, col,
           e->line, e->column);
}

/* Loads s and expects a failure with code at line:col. */
#define EXPECT_ERR(s, want_code, want_line, want_col)                                              \
    do {                                                                                           \
        octavo_error e_;                                                                           \
        octavo_doc *d_ = load("bad.md", (s), &e_);                                                 \
        CHECK(d_ == NULL);                                                                         \
        CHECKF(e_.code == (want_code) && e_.line == (want_line) && e_.column == (want_col),        \
               "got code %d at %u:%u (%s), want %d at %u:%u", e_.code, e_.line, e_.column,         \
               e_.message, (want_code), (want_line), (want_col));                                  \
        CHECK_STR(e_.file, "bad.md");                                                              \
        check_offset((s), &e_);                                                                    \
        octavo_doc_free(d_);                                                                       \
    } while (0)

TEST(no_frontmatter) {
    octavo_error e;
    octavo_doc *d = load("notes/plain.md", "Just a paragraph.\n", &e);
    CHECK(d != NULL);
    if (!d) return;
    CHECK_INT(octavo_meta_kind(octavo_doc_meta(d)), OCTAVO_META_MAP);
    CHECK_INT(octavo_meta_count(octavo_doc_meta(d)), 0);
    CHECK_STR(octavo_doc_title(d), "plain"); /* the file name without folder and extension */
    CHECK_STR(octavo_doc_lang(d), "en");
    CHECK(octavo_doc_author(d) == NULL);
    CHECK_INT(d->src.body_line, 1);
    CHECK_INT(d->src.has_frontmatter, 0);
    octavo_doc_free(d);
    /* a thematic break is not a frontmatter unless it is the very first line */
    d = load("x.md", "text\n---\nmore\n", &e);
    CHECK(d && !d->src.has_frontmatter);
    octavo_doc_free(d);
}

TEST(empty_frontmatter) {
    octavo_error e;
    const char *cases[] = {"---\n---\nBody\n", "---\n...\nBody\n", "---\n# a comment\n---\nBody\n",
                           "---   \n---\t\nBody\n"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        octavo_doc *d = load("e.md", cases[i], &e);
        CHECKF(d != NULL, "case %zu: %s", i, e.message);
        if (!d) continue;
        CHECK(d->src.has_frontmatter);
        CHECK_INT(octavo_meta_count(octavo_doc_meta(d)), 0);
        CHECK_INT(d->src.body_line, i == 2 ? 4 : 3);
        CHECK_STR(octavo_doc_title(d), "e");
        octavo_doc_free(d);
    }
}

TEST(dots_terminator) {
    octavo_error e;
    octavo_doc *d = load("d.md", "---\ntitle: Dots\n...\n# Heading\n", &e);
    CHECK(d != NULL);
    if (!d) return;
    CHECK_STR(octavo_doc_title(d), "Dots");
    CHECK_INT(d->src.body_line, 4);
    CHECK_INT(d->title_from_heading, 0);
    octavo_doc_free(d);
}

TEST(bom_and_crlf) {
    octavo_error e;
    octavo_doc *d = load("b.md", "\xEF\xBB\xBF---\r\ntitle: With BOM\r\ntags:\r\n  - a\r\n  - b\r\n---\r\nBody\r\n", &e);
    CHECKF(d != NULL, "%s", e.message);
    if (!d) return;
    CHECK_STR(octavo_doc_title(d), "With BOM");
    const octavo_meta *b = octavo_meta_get(octavo_doc_meta(d), "tags.1");
    CHECK_STR(octavo_meta_string(b), "b");
    CHECK_INT(octavo_meta_line(b), 5);   /* "  - b" is the file's fifth line */
    CHECK_INT(octavo_meta_column(b), 5); /* after two spaces, the dash and a space */
    CHECK_INT(octavo_meta_line(octavo_meta_get(octavo_doc_meta(d), "title")), 2);
    CHECK_INT(octavo_meta_column(octavo_meta_get(octavo_doc_meta(d), "title")), 8);
    CHECK_INT(d->src.body_line, 7);
    octavo_doc_free(d);
    /* a BOM with no frontmatter: the BOM is not text */
    d = load("b.md", "\xEF\xBB\xBF# Title\n", &e);
    CHECK(d && !strcmp(octavo_doc_title(d), "Title") && d->title_from_heading);
    octavo_doc_free(d);
    /* CRLF errors count lines the same way: the flow sequence's error below is on line 4 */
    EXPECT_ERR("---\r\ntitle: x\r\ntags: [a, b\r\nauthor: me\r\n---\r\n", OCTAVO_E_YAML, 4, 7);
    /* a BOM takes no column: the scalar root starts at 2:1 */
    EXPECT_ERR("\xEF\xBB\xBF---\n- a\n---\n", OCTAVO_E_FRONTMATTER, 2, 1);
    /* a bad byte after a BOM on line 1 */
    EXPECT_ERR("\xEF\xBB\xBF" "ab\xFF\n", OCTAVO_E_ENCODING, 1, 3);
}

/* Ten and more malformed frontmatters, each with its code and exact position (1-based, in the
 * file, the opening "---" being line 1). */
TEST(malformed) {
    /* 1. a tab in indentation: YAML forbids tabs there; the scanner stops at the tab */
    EXPECT_ERR("---\ntitle: x\ntags:\n\t- a\n---\n", OCTAVO_E_YAML, 4, 1);
    /* 2. an unclosed flow sequence followed by more lines: "b author" is read as one plain
     *    scalar across the line end, then the ':' at 4:7 cannot go on a flow sequence */
    EXPECT_ERR("---\ntitle: x\ntags: [a, b\nauthor: me\n---\nbody\n", OCTAVO_E_YAML, 4, 7);
    /* 3. bad indentation: " c" is less indented than "  b" but more than "a" */
    EXPECT_ERR("---\na:\n  b: 1\n c: 2\n---\n", OCTAVO_E_YAML, 4, 2);
    /* 4. an undefined alias, at its '*' */
    EXPECT_ERR("---\na: *nope\n---\n", OCTAVO_E_YAML, 2, 4);
    /* 5. a duplicate anchor, at the second '&' */
    EXPECT_ERR("---\na: &x 1\nb: &x 2\n---\n", OCTAVO_E_YAML, 3, 4);
    /* 6. a sequence as root */
    EXPECT_ERR("---\n- a\n- b\n---\n", OCTAVO_E_FRONTMATTER, 2, 1);
    /* 7. a scalar as root */
    EXPECT_ERR("---\njust some text\n---\n", OCTAVO_E_FRONTMATTER, 2, 1);
    /* 8. unterminated: the position is the opening line */
    EXPECT_ERR("---\ntitle: x\n\nbody\n", OCTAVO_E_UNTERMINATED, 1, 1);
    /* 9. invalid UTF-8 in the frontmatter: "title: caf" is 10 characters, the bad byte is the 11th */
    EXPECT_ERR("---\ntitle: caf\xC3(\n---\n", OCTAVO_E_ENCODING, 2, 11);
    /* 10. a billion laughs. Nodes (keys count): root 1; a 1+11; b 1+111; c 1+1111; d 1+11111
     *     = 12349; key e and its sequence: 12351; each *d adds 11111, and the 8th takes the total
     *     over 100000. "e: &e [" is 7 characters, so the 8th "*d," starts at column 8 + 7*3 = 29. */
    EXPECT_ERR("---\n"
               "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
               "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
               "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
               "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
               "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
               "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
               "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
               "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
               "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]\n---\n",
               OCTAVO_E_LIMIT, 6, 29);
    /* 11. nesting deeper than yaml_depth (64): the root map is level 1, so the 64th '[' (column
     *     3 + 64 = 67) opens level 65 */
    {
        char deep[400] = "---\na: ";
        for (int i = 0; i < 100; i++) strcat(deep, "[");
        for (int i = 0; i < 100; i++) strcat(deep, "]");
        strcat(deep, "\n---\n");
        EXPECT_ERR(deep, OCTAVO_E_LIMIT, 2, 67);
    }
    /* 12. a duplicate key, at the second key */
    EXPECT_ERR("---\ntitle: a\ntitle: b\n---\n", OCTAVO_E_YAML, 3, 1);
    /* 13. a control character: "title: a" is 8 characters, the U+0001 is the 9th */
    EXPECT_ERR("---\ntitle: a\x01z\n---\n", OCTAVO_E_YAML, 2, 9);
    /* 14. a mapping value where none may be: the second ':' at 2:5 */
    EXPECT_ERR("---\na: b: c\n---\n", OCTAVO_E_YAML, 2, 5);
    /* 15. an unclosed double quote: the stream ends at the start of line 3 (the YAML ends there) */
    EXPECT_ERR("---\ntitle: \"abc\n---\n", OCTAVO_E_YAML, 3, 1);
    /* 16. a recursive alias (its anchor's collection still open), at the '*' */
    EXPECT_ERR("---\na: &a [*a]\n---\n", OCTAVO_E_YAML, 2, 8);
    /* 17. a sequence as a map key */
    EXPECT_ERR("---\n? [a]\n: b\n---\n", OCTAVO_E_FRONTMATTER, 2, 3);
    /* 18. invalid UTF-8 in the body, after a frontmatter: line 4, after "ab" */
    EXPECT_ERR("---\nt: 1\n---\nab\x80\n", OCTAVO_E_ENCODING, 4, 3);
    /* 19. an overlong encoding and a surrogate are invalid too */
    EXPECT_ERR("x\xC0\xAF\n", OCTAVO_E_ENCODING, 1, 2);
    EXPECT_ERR("\xED\xA0\x80\n", OCTAVO_E_ENCODING, 1, 1);
}

TEST(billion_laughs_fast) {
    /* each level multiplies by 10; expanding it all would take 10^9 nodes */
    char s[2048] = "---\nl0: &l0 [lol,lol,lol,lol,lol,lol,lol,lol,lol,lol]\n";
    for (int i = 1; i < 9; i++) {
        char line[128];
        snprintf(line, sizeof line, "l%d: &l%d [*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d]\n", i, i, i - 1,
                 i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        strcat(s, line);
    }
    strcat(s, "---\n");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    octavo_error e;
    octavo_doc *d = load("lol.md", s, &e);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    CHECK(d == NULL);
    CHECK_INT(e.code, OCTAVO_E_LIMIT);
    CHECKF(ms < 1000, "took %.0f ms", ms);
    CHECK(strstr(e.message, "yaml_nodes") != NULL);
    octavo_doc_free(d);
}

TEST(block_scalars) {
    octavo_error e;
    octavo_doc *d = load("s.md",
                         "---\n"
                         "folded: >-\n"
                         "  one\n"
                         "  two\n"
                         "\n"
                         "  three\n"
                         "folded_keep: >\n"
                         "  a\n"
                         "  b\n"
                         "literal: |\n"
                         "  x\n"
                         "    y\n"
                         "  z\n"
                         "literal_strip: |-\n"
                         "  end\n"
                         "quoted: 'it''s'\n"
                         "dq: \"tab\\there \\u00e9\"\n"
                         "multi: plain\n"
                         "  continued\n"
                         "---\n",
                         &e);
    CHECKF(d != NULL, "%s", e.message);
    if (!d) return;
    /* folding: single line breaks become spaces, an empty line stays a line break; '-' strips
     * the final break, '>' keeps one, '|' keeps every break and the extra indentation */
    CHECK_STR(octavo_doc_get(d, "folded"), "one two\nthree");
    CHECK_STR(octavo_doc_get(d, "folded_keep"), "a b\n");
    CHECK_STR(octavo_doc_get(d, "literal"), "x\n  y\nz\n");
    CHECK_STR(octavo_doc_get(d, "literal_strip"), "end");
    CHECK_STR(octavo_doc_get(d, "quoted"), "it's");
    CHECK_STR(octavo_doc_get(d, "dq"), "tab\there \xC3\xA9");
    CHECK_STR(octavo_doc_get(d, "multi"), "plain continued");
    octavo_doc_free(d);
}

TEST(paths_and_getters) {
    octavo_error e;
    octavo_doc *d = load("p.md",
                         "---\n"
                         "category:\n"
                         "  - value: category-a\n"
                         "    label: News & Announcements\n"
                         "  - value: category-b\n"
                         "    label: Other\n"
                         "seo:\n"
                         "  description: Short\n"
                         "count: 42\n"
                         "neg: -7\n"
                         "hex: 0x1F\n"
                         "big: 99999999999999999999\n"
                         "qint: '42'\n"
                         "ratio: 2.5\n"
                         "exp: 1e3\n"
                         "inf: -.inf\n"
                         "yes: true\n"
                         "no: False\n"
                         "word: maybe\n"
                         "nothing: ~\n"
                         "empty:\n"
                         "a.b: dotted\n"
                         "d1: 2022-01-26\n"
                         "d2: 2022-06-07T01:32:05.627Z\n"
                         "d3: 2024-09-17 23:37:20\n"
                         "d4: '2024-09-17 23:37:20 +05:30'\n"
                         "d5: 2022-02-30\n"
                         "d6: 2000-02-29\n"
                         "---\n",
                         &e);
    CHECKF(d != NULL, "%s", e.message);
    if (!d) return;
    const octavo_meta *m = octavo_doc_meta(d);
    CHECK_STR(octavo_doc_get(d, "category.0.label"), "News & Announcements");
    CHECK_STR(octavo_doc_get(d, "category.1.value"), "category-b");
    CHECK(octavo_meta_get(m, "category.2.label") == NULL);
    CHECK(octavo_meta_get(m, "category.x") == NULL);
    CHECK(octavo_meta_get(m, "missing.path") == NULL);
    CHECK_STR(octavo_doc_get(d, "seo.description"), "Short");
    CHECK_STR(octavo_doc_get(d, "a.b"), "dotted");
    CHECK_INT(octavo_meta_count(octavo_meta_get(m, "category")), 2);
    CHECK_INT(octavo_meta_kind(octavo_meta_get(m, "category")), OCTAVO_META_SEQ);
    CHECK_STR(octavo_meta_key(octavo_meta_at(octavo_meta_get(m, "category"), 0), 1), "label");
    CHECK_INT(octavo_meta_line(octavo_meta_get(m, "category.1.label")), 6);
    CHECK_INT(octavo_meta_column(octavo_meta_get(m, "category.1.label")), 12);
    CHECK(octavo_doc_get(d, "category") == NULL); /* not a scalar */
    CHECK_INT(octavo_meta_kind(octavo_meta_get(m, "nothing")), OCTAVO_META_NONE);
    CHECK_INT(octavo_meta_kind(octavo_meta_get(m, "empty")), OCTAVO_META_NONE);

    long long i = 0;
    CHECK_INT(octavo_meta_int(octavo_meta_get(m, "count"), &i), OCTAVO_OK);
    CHECK_INT(i, 42);
    CHECK_INT(octavo_meta_int(octavo_meta_get(m, "neg"), &i), OCTAVO_OK);
    CHECK_INT(i, -7);
    CHECK_INT(octavo_meta_int(octavo_meta_get(m, "hex"), &i), OCTAVO_OK);
    CHECK_INT(i, 31);
    CHECK_INT(octavo_meta_int(octavo_meta_get(m, "big"), &i), OCTAVO_E_TYPE);
    CHECK_INT(octavo_meta_int(octavo_meta_get(m, "qint"), &i), OCTAVO_E_TYPE); /* quoted: a string */
    CHECK_INT(octavo_meta_int(octavo_meta_get(m, "ratio"), &i), OCTAVO_E_TYPE);
    CHECK_INT(octavo_meta_int(octavo_meta_get(m, "category"), &i), OCTAVO_E_TYPE);
    CHECK_INT(octavo_meta_int(octavo_meta_get(m, "absent"), &i), OCTAVO_E_NOT_FOUND);
    CHECK_INT(octavo_meta_int(octavo_meta_get(m, "nothing"), &i), OCTAVO_E_TYPE);

    double x = 0;
    CHECK_INT(octavo_meta_double(octavo_meta_get(m, "ratio"), &x), OCTAVO_OK);
    CHECK(x == 2.5);
    CHECK_INT(octavo_meta_double(octavo_meta_get(m, "exp"), &x), OCTAVO_OK);
    CHECK(x == 1000.0);
    CHECK_INT(octavo_meta_double(octavo_meta_get(m, "count"), &x), OCTAVO_OK);
    CHECK(x == 42.0);
    CHECK_INT(octavo_meta_double(octavo_meta_get(m, "inf"), &x), OCTAVO_OK);
    CHECK(x < -1e308);
    CHECK_INT(octavo_meta_double(octavo_meta_get(m, "word"), &x), OCTAVO_E_TYPE);

    int b = -1;
    CHECK_INT(octavo_meta_bool(octavo_meta_get(m, "yes"), &b), OCTAVO_OK);
    CHECK_INT(b, 1);
    CHECK_INT(octavo_meta_bool(octavo_meta_get(m, "no"), &b), OCTAVO_OK);
    CHECK_INT(b, 0);
    CHECK_INT(octavo_meta_bool(octavo_meta_get(m, "word"), &b), OCTAVO_E_TYPE);
    CHECK_INT(octavo_meta_bool(NULL, &b), OCTAVO_E_NOT_FOUND);

    octavo_time t;
    CHECK_INT(octavo_meta_time(octavo_meta_get(m, "d1"), &t), OCTAVO_OK);
    CHECK(t.year == 2022 && t.month == 1 && t.day == 26 && !t.has_time && !t.has_zone);
    CHECK_INT(t.epoch, 1643155200); /* 19018 days after 1970-01-01 */
    CHECK_INT(octavo_meta_time(octavo_meta_get(m, "d2"), &t), OCTAVO_OK);
    CHECK(t.hour == 1 && t.minute == 32 && t.second == 5 && t.nanosecond == 627000000 && t.has_time && t.has_zone);
    CHECK_INT(t.zone_minutes, 0);
    CHECK_INT(t.epoch, 1654565525);
    CHECK_INT(octavo_meta_time(octavo_meta_get(m, "d3"), &t), OCTAVO_OK);
    CHECK(t.has_time && !t.has_zone && t.hour == 23 && t.second == 20);
    CHECK_INT(t.epoch, 1726616240);
    CHECK_INT(octavo_meta_time(octavo_meta_get(m, "d4"), &t), OCTAVO_OK); /* quoted dates are read too */
    CHECK_INT(t.zone_minutes, 330);
    CHECK_INT(t.epoch, 1726616240 - 330 * 60);
    CHECK_INT(octavo_meta_time(octavo_meta_get(m, "d5"), &t), OCTAVO_E_TYPE); /* no 30 February */
    CHECK_INT(octavo_meta_time(octavo_meta_get(m, "d6"), &t), OCTAVO_OK);
    CHECK_INT(t.epoch, 951782400);
    CHECK_INT(octavo_meta_time(octavo_meta_get(m, "word"), &t), OCTAVO_E_TYPE);
    CHECK_INT(octavo_meta_time(octavo_meta_get(m, "category"), &t), OCTAVO_E_TYPE);
    CHECK_INT(octavo_meta_time(NULL, &t), OCTAVO_E_NOT_FOUND);
    char buf[40];
    octavo_meta_time(octavo_meta_get(m, "d2"), &t);
    ov_time_rfc3339(&t, buf, sizeof buf);
    CHECK_STR(buf, "2022-06-07T01:32:05Z");
    CHECK_INT(octavo_doc_date(d, &t), OCTAVO_E_NOT_FOUND);
    octavo_doc_free(d);
}

TEST(aliases_expand) {
    octavo_error e;
    octavo_doc *d = load("a.md", "---\nbase: &b\n  name: Ann\n  tags: [x, y]\ncopy: *b\n---\n", &e);
    CHECKF(d != NULL, "%s", e.message);
    if (!d) return;
    CHECK_STR(octavo_doc_get(d, "copy.name"), "Ann");
    CHECK_STR(octavo_doc_get(d, "copy.tags.1"), "y");
    CHECK_INT(octavo_meta_line(octavo_meta_get(octavo_doc_meta(d), "copy")), 5);
    CHECK(octavo_doc_author(d) == NULL);
    octavo_doc_free(d);
    /* an anchored key: the alias repeats the key's text (the mutation test found this freed) */
    d = load("k.md", "---\n&k key: v\nother: *k\n*k : again\n---\n", &e);
    CHECKF(d == NULL && e.code == OCTAVO_E_YAML && e.line == 4 && e.column == 1, "%d %u:%u %s", e.code, e.line, e.column, e.message);
    octavo_doc_free(d);
    d = load("k.md", "---\n&k key: v\nother: *k\n---\n", &e);
    CHECK(d && !strcmp(octavo_doc_get(d, "other"), "key") && !strcmp(octavo_doc_get(d, "key"), "v"));
    octavo_doc_free(d);
}

TEST(title_rule) {
    octavo_error e;
    /* 1. the frontmatter title wins over a heading */
    octavo_doc *d = load("dir/a.md", "---\ntitle: From YAML\n---\n# From heading\n", &e);
    CHECK(d && !strcmp(octavo_doc_title(d), "From YAML") && !d->title_from_heading);
    octavo_doc_free(d);
    /* 2. else the first heading, as plain text; first block: the body leaves it out */
    d = load("dir/b.md", "---\nauthor: X\n---\n\n## The *first* `one`\n\ntext\n\n# Second\n", &e);
    CHECK(d != NULL);
    if (d) {
        CHECK_STR(octavo_doc_title(d), "The first one");
        CHECK_INT(d->title_from_heading, 1);
    }
    octavo_doc_free(d);
    /* a heading that is not the first block names the document but stays in the body */
    d = load("dir/c.md", "Intro.\n\nSetext heading\n==============\n", &e);
    CHECK(d && !strcmp(octavo_doc_title(d), "Setext heading") && !d->title_from_heading);
    octavo_doc_free(d);
    /* 3. else the file name without folder and extension */
    d = load("some/dir/file-name.v2.md", "no heading here\n", &e);
    CHECK(d && !strcmp(octavo_doc_title(d), "file-name.v2"));
    octavo_doc_free(d);
    d = load("", "text\n", &e);
    CHECK(d && octavo_doc_title(d) && *octavo_doc_title(d));
    octavo_doc_free(d);
    /* an empty title falls through to the heading */
    d = load("x.md", "---\ntitle: ''\n---\n# H\n", &e);
    CHECK(d && !strcmp(octavo_doc_title(d), "H"));
    octavo_doc_free(d);
}

TEST(author_lang_summary) {
    octavo_error e;
    octavo_doc *d = load("a.md", "---\nauthors:\n  - name: First Person\n  - Second\nlang: de\n---\nA first paragraph that is rather long and goes on for a while.\n", &e);
    CHECK(d != NULL);
    if (d) {
        CHECK_STR(octavo_doc_author(d), "First Person and Second");
        CHECK_STR(octavo_doc_lang(d), "de");
        CHECK_STR(octavo_doc_summary(d, 0), "A first paragraph that is rather long and goes on for a while.");
        /* 20 characters: cut at the last space before, "A first paragraph" + ellipsis */
        const char *s = octavo_doc_summary(d, 20);
        CHECK_STR(s, "A first paragraph\xE2\x80\xA6");
    }
    octavo_doc_free(d);
    d = load("a.md", "---\nauthor:\n  - Ada\n  - ''\n  - name: Grace\n  - Linus\n---\nText.\n", &e);
    CHECK(d && !strcmp(octavo_doc_author(d), "Ada, Grace and Linus")); /* a list under author too */
    octavo_doc_free(d);
    d = load("a.md", "---\nauthors: [Solo]\n---\n# T\n\n![img](x.png)\n\nIntro *text*.\n\n<!-- more -->\n\nRest.\n", &e);
    CHECK(d && !strcmp(octavo_doc_author(d), "Solo"));
    if (d) CHECK_STR(octavo_doc_summary(d, 5), "Intro text.");
    octavo_doc_free(d);
    d = load("a.md", "---\nauthor:\n  name: Mapped\n  url: https://example.org\nauthors: [Not me]\n---\nx\n", &e);
    CHECK(d && !strcmp(octavo_doc_author(d), "Mapped"));
    octavo_doc_free(d);
    d = load("a.md", "---\ndescription: ' Given  here '\nseo:\n  description: not this\n---\nBody.\n", &e);
    if (d) CHECK_STR(octavo_doc_summary(d, 100), "Given here");
    octavo_doc_free(d);
    d = load("a.md", "---\nseo:\n  description: From SEO\n---\nBody.\n", &e);
    if (d) CHECK_STR(octavo_doc_summary(d, 100), "From SEO");
    octavo_doc_free(d);
    d = load("a.md", "", &e);
    CHECK(d != NULL);
    if (d) CHECK_STR(octavo_doc_summary(d, 100), "");
    octavo_doc_free(d);
}

TEST(default_author_and_lang) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.default_author = "House Author";
    o.lang = "fr";
    octavo_error e;
    octavo *ov = octavo_new(&o, &e);
    octavo_doc *d = NULL;
    CHECK_INT(octavo_doc_load(ov, "x.md", "hi\n", 3, &d, &e), OCTAVO_OK);
    CHECK_STR(octavo_doc_author(d), "House Author");
    CHECK_STR(octavo_doc_lang(d), "fr");
    octavo_doc_free(d);
    octavo_free(ov);
}

TEST(streaming_one_byte) {
    const char *s = "\xEF\xBB\xBF---\r\ntitle: Stream\r\nlist: [1, 2]\r\n---\r\n# Head\r\n\r\nA *para* \xE2\x80\x94 with | table |\r\n";
    octavo_error e;
    octavo_doc *whole = load("s.md", s, &e);
    octavo_loader *ld = octavo_loader_new(OV, "s.md");
    CHECK(ld != NULL);
    int rc = 0;
    for (size_t i = 0; s[i] && !rc; i++) rc = octavo_loader_feed(ld, s + i, 1, &e);
    CHECK_INT(rc, OCTAVO_OK);
    octavo_doc *fed = NULL;
    CHECK_INT(octavo_loader_finish(ld, &fed, &e), OCTAVO_OK);
    CHECK(whole && fed);
    if (whole && fed) {
        CHECK_STR(octavo_doc_title(fed), octavo_doc_title(whole));
        CHECK_STR(octavo_doc_get(fed, "list.1"), "2");
        CHECK_INT(fed->len, whole->len);
        CHECK(memcmp(fed->text, whole->text, whole->len) == 0);
        CHECK_INT(fed->src.body_line, whole->src.body_line);
    }
    octavo_doc_free(whole);
    octavo_doc_free(fed);
    /* errors come out of finish with their positions, and the loader is freed */
    ld = octavo_loader_new(OV, "bad.md");
    const char *bad = "---\na: [\n";
    for (size_t i = 0; bad[i]; i++) octavo_loader_feed(ld, bad + i, 1, &e);
    CHECK_INT(octavo_loader_finish(ld, &fed, &e), OCTAVO_E_UNTERMINATED);
    CHECK(fed == NULL);
    octavo_loader_free(NULL);
    octavo_loader_free(octavo_loader_new(OV, "unused"));
}

TEST(limits) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.limits.input_bytes = 10;
    o.limits.nesting = 5;
    octavo_error e;
    octavo *ov = octavo_new(&o, &e);
    octavo_doc *d = NULL;
    CHECK_INT(octavo_doc_load(ov, "x.md", "01234567890", 11, &d, &e), OCTAVO_E_LIMIT);
    CHECK(strstr(e.message, "input_bytes") != NULL);
    octavo_loader *ld = octavo_loader_new(ov, "x");
    CHECK_INT(octavo_loader_feed(ld, "0123456", 7, &e), OCTAVO_OK);
    CHECK_INT(octavo_loader_feed(ld, "0123456", 7, &e), OCTAVO_E_LIMIT);
    CHECK_INT(octavo_loader_finish(ld, &d, &e), OCTAVO_E_LIMIT);
    octavo_free(ov);

    o.limits.input_bytes = 0;
    ov = octavo_new(&o, &e);
    /* document 1, block quotes 2..6, paragraph 7: past a nesting of 5 */
    CHECK_INT(octavo_doc_load(ov, "n.md", "---\nt: 1\n---\n> > > > > > deep\n", 29, &d, &e), OCTAVO_E_LIMIT);
    CHECK_INT(e.line, 4);
    CHECK(strstr(e.message, "nesting") != NULL);
    CHECK_INT(octavo_doc_load(ov, "n.md", "> > > ok\n", 9, &d, &e), OCTAVO_OK);
    octavo_doc_free(d);
    /* with a title in the frontmatter the body is parsed when first rendered: the error the load
     * gives without one (nested lists, which the one-pass guard does not count), from the render,
     * at the same place; the summary of such a body is empty */
    const char *untitled = "---\nother: T\n---\n- a\n  - b\n    - c\n      - d\n";
    CHECK_INT(octavo_doc_load(ov, "t.md", untitled, strlen(untitled), &d, &e), OCTAVO_E_LIMIT);
    octavo_error eager = e;
    CHECK(eager.line > 4 && eager.offset > 20);
    const char *titled = "---\ntitle: T\n---\n- a\n  - b\n    - c\n      - d\n";
    CHECK_INT(octavo_doc_load(ov, "t.md", titled, strlen(titled), &d, &e), OCTAVO_OK);
    CHECK_STR(octavo_doc_title(d), "T");
    memset(&e, 0, sizeof e);
    CHECK_INT(octavo_doc_parse(d, &e), OCTAVO_E_LIMIT); /* asked for: the same error now */
    CHECK_INT(e.line, eager.line);
    CHECK_INT(e.offset, eager.offset);
    char *out = NULL;
    size_t outlen = 0;
    for (int fmt = OCTAVO_FORMAT_HTML; fmt <= OCTAVO_FORMAT_PDF; fmt++) {
        memset(&e, 0, sizeof e);
        CHECK_INT(octavo_render_buffer(d, (octavo_format)fmt, &out, &outlen, &e), OCTAVO_E_LIMIT);
        CHECK(out == NULL);
        CHECK_INT(e.line, eager.line);
        CHECK_INT(e.column, eager.column);
        CHECK_INT(e.offset, eager.offset);
        CHECK_STR(e.message, eager.message);
    }
    CHECK_STR(octavo_doc_summary(d, 100), "");
    octavo_doc_free(d);
    octavo_free(ov);

    /* a pathological nesting under the default limit fails fast instead of overflowing a stack */
    size_t n = 100000;
    char *deep = malloc(2 * n + 2);
    for (size_t i = 0; i < n; i++) { deep[2 * i] = '>'; deep[2 * i + 1] = ' '; }
    deep[2 * n] = 'x';
    deep[2 * n + 1] = 0;
    CHECK_INT(octavo_doc_load(OV, "deep.md", deep, strlen(deep), &d, &e), OCTAVO_E_LIMIT);
    for (size_t i = 0; i < n; i++) deep[i] = '[';
    deep[n] = 0;
    CHECK_INT(octavo_doc_load(OV, "brackets.md", deep, n, &d, &e), OCTAVO_OK); /* just text */
    octavo_doc_free(d);
    free(deep);
}

TEST(load_file) {
    octavo_error e;
    octavo_doc *d = NULL;
    CHECK_INT(octavo_doc_load_file(OV, "/nonexistent/nope.md", &d, &e), OCTAVO_E_IO);
    CHECK_STR(e.file, "/nonexistent/nope.md");
    CHECK_INT(octavo_doc_load_file(OV, "/", &d, &e), OCTAVO_E_IO);
    char path[] = "/tmp/octavo-found-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *s = "---\ntitle: [unclosed\n---\n";
    CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
    close(fd);
    CHECK_INT(octavo_doc_load_file(OV, path, &d, &e), OCTAVO_E_YAML);
    CHECK_STR(e.file, path);
    CHECK_INT(e.line, 3);
    char msg[2048];
    int n = octavo_error_format(&e, msg, sizeof msg);
    CHECK(n > 0 && strstr(msg, ":3:1: error: ") != NULL);
    unlink(path);
    CHECK_INT(octavo_doc_load(NULL, "x", "a", 1, &d, &e), OCTAVO_E_ARG);
    CHECK_INT(octavo_doc_load(OV, "x", NULL, 1, &d, &e), OCTAVO_E_ARG);
    octavo_doc_free(NULL);
}

TEST(markdown_extensions) {
    octavo_error e;
    octavo_doc *d = load("x.md",
                         "| a | b |\n|---|---|\n| 1 | 2 |\n\n~~gone~~ www.example.org\n\n- [x] done\n\nNote[^1].\n\n[^1]: Foot.\n", &e);
    CHECK(d != NULL);
    if (!d) return;
    int table = 0, strike = 0, footnote = 0, task = 0;
    cmark_iter *it = cmark_iter_new(d->ast);
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        if (ev != CMARK_EVENT_ENTER) continue;
        cmark_node *n = cmark_iter_get_node(it);
        const char *t = cmark_node_get_type_string(n);
        table |= !strcmp(t, "table");
        strike |= !strcmp(t, "strikethrough");
        footnote |= cmark_node_get_type(n) == CMARK_NODE_FOOTNOTE_DEFINITION;
        task |= !strcmp(t, "tasklist");
    }
    cmark_iter_free(it);
    CHECK(table && strike && footnote && task);
    CHECK_INT(cmark_node_get_start_line(cmark_node_first_child(d->ast)), 1);
    octavo_doc_free(d);
}

/* Random byte mutations of a frontmatter: never a crash, only known codes, and positions inside
 * the file. Deterministic (a fixed LCG seed), so a failure is reproducible. */
TEST(mutations) {
    const char *base = "\xEF\xBB\xBF---\r\ntitle: 'A \xE2\x80\x94 title'\nseo:\n  description: >-\n    one\n    two\n"
                       "tags: [a, \"b\", &x c, *x]\nwhen: 2022-06-07T01:32:05.627Z\nlit: |\n  x\n---\n# H\n\n> q\n";
    size_t n = strlen(base);
    char *buf = malloc(n + 1);
    unsigned long long seed = 0x9E3779B97F4A7C15ull;
    int bad_code = 0, bad_pos = 0, ok = 0;
    for (int round = 0; round < 4000; round++) {
        memcpy(buf, base, n + 1);
        int edits = 1 + round % 4;
        for (int k = 0; k < edits; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(seed >> 33) % n;
            static const char pool[] = "-.:[]{}&*!|>'\"#\t\n\r \x80\xC3\xFF\x01%@`?,";
            buf[at] = pool[(seed >> 20) % (sizeof pool - 1)];
        }
        octavo_error e;
        memset(&e, 0, sizeof e);
        octavo_doc *d = NULL;
        int rc = octavo_doc_load(OV, "m.md", buf, n, &d, &e);
        if (rc == OCTAVO_OK) {
            ok++;
            octavo_doc_title(d);
            octavo_doc_summary(d, 20);
            octavo_time t;
            octavo_doc_date(d, &t);
            octavo_doc_free(d);
            continue;
        }
        if (rc != OCTAVO_E_YAML && rc != OCTAVO_E_FRONTMATTER && rc != OCTAVO_E_UNTERMINATED &&
            rc != OCTAVO_E_ENCODING && rc != OCTAVO_E_LIMIT)
            bad_code++;
        unsigned lines = 1;
        for (size_t i = 0; i < n; i++) lines += buf[i] == '\n' || (buf[i] == '\r' && buf[i + 1] != '\n');
        if (!e.line || e.line > lines + 1 || e.offset > n || e.code != rc) {
            if (!bad_pos) fprintf(stderr, "round %d: code %d at %u:%u offset %zu (%s)\n", round, rc, e.line, e.column, e.offset, e.message);
            bad_pos++;
        }
    }
    free(buf);
    CHECK_INT(bad_code, 0);
    CHECK_INT(bad_pos, 0);
    CHECK(ok > 100);
}

/* Every allocation of a load made to fail in turn: a clean OCTAVO_E_NOMEM each time, never a
 * crash or a leak (the sanitizer build checks the leaks). */
TEST(allocation_failures) {
    const char *s = "---\ntitle: T\nlist: &l [a, {b: c}]\ncopy: *l\nwhen: 2022-01-26\n---\n# H\n\nText <!-- more --> more.\n";
    int ok = 0, nomem = 0, other = 0;
    for (long n = 0; n < 10000; n++) {
        octavo_error e;
        octavo_doc *d = NULL;
        ov_test_alloc_fail_after(n);
        int rc = octavo_doc_load(OV, "a.md", s, strlen(s), &d, &e);
        const char *sum = d ? octavo_doc_summary(d, 10) : NULL;
        ov_test_alloc_fail_after(-1);
        if (rc == OCTAVO_OK) {
            CHECK(d != NULL && sum != NULL);
            octavo_doc_free(d);
            if (++ok == 3) break; /* past the last allocation */
        } else {
            CHECK(d == NULL);
            if (rc == OCTAVO_E_NOMEM) nomem++; else { other++; fprintf(stderr, "n=%ld: %d %s\n", n, rc, e.message); }
        }
    }
    CHECK(nomem > 10);
    CHECK_INT(other, 0);
    /* the loader, fed while allocations fail */
    for (long n = 0; n < 50; n++) {
        octavo_error e;
        octavo_doc *d = NULL;
        ov_test_alloc_fail_after(n);
        octavo_loader *ld = octavo_loader_new(OV, "s.md");
        int rc = ld ? octavo_loader_feed(ld, s, strlen(s), &e) : OCTAVO_E_NOMEM;
        if (ld) rc = rc ? (octavo_loader_free(ld), rc) : octavo_loader_finish(ld, &d, &e);
        ov_test_alloc_fail_after(-1);
        CHECK(rc == OCTAVO_OK || rc == OCTAVO_E_NOMEM);
        octavo_doc_free(d);
    }
}

int main(void) {
    octavo_error e;
    OV = octavo_new(NULL, &e);
    if (!OV) { fprintf(stderr, "octavo_new: %s\n", e.message); return 1; }
    RUN(no_frontmatter);
    RUN(empty_frontmatter);
    RUN(dots_terminator);
    RUN(bom_and_crlf);
    RUN(malformed);
    RUN(billion_laughs_fast);
    RUN(block_scalars);
    RUN(paths_and_getters);
    RUN(aliases_expand);
    RUN(title_rule);
    RUN(author_lang_summary);
    RUN(default_author_and_lang);
    RUN(streaming_one_byte);
    RUN(limits);
    RUN(load_file);
    RUN(markdown_extensions);
    RUN(allocation_failures);
    RUN(mutations);
    octavo_free(OV);
    return t_done();
}
