/* The C API's contract: versioned options, named options, error strings and formatting, the
 * version header against the library, exported symbols (nm), the header compiled as C++, and the
 * small helpers of util.c. */
#include <stdint.h>

#include "harness.h"
#include "internal.h"

static const char *build_dir(void) {
    const char *b = getenv("B");
    return b && *b ? b : "build";
}

TEST(options_init_version) {
    octavo_options o;
    memset(&o, 0xAB, sizeof o);
    CHECK_INT(octavo_options_init(&o, sizeof o - 1), OCTAVO_E_VERSION);
    CHECK_INT(octavo_options_init(&o, sizeof o + 8), OCTAVO_E_VERSION);
    CHECK_INT(octavo_options_init(&o, 0), OCTAVO_E_VERSION);
    unsigned char *p = (unsigned char *)&o;
    int untouched = 1;
    for (size_t i = 0; i < sizeof o; i++) untouched &= p[i] == 0xAB;
    CHECK(untouched);
    CHECK_INT(octavo_options_init(NULL, sizeof o), OCTAVO_E_VERSION);
    CHECK_INT(octavo_options_init(&o, sizeof o), OCTAVO_OK);
    CHECK_INT(o.size, sizeof o);
    CHECK(o.flags == 0 && o.resource_root == NULL && o.resolve == NULL);
    CHECK_INT(o.limits.nesting, 256);
    CHECK_INT(o.limits.yaml_depth, 64);
    CHECK_INT(o.limits.yaml_nodes, 100000);
    CHECK_INT(o.limits.input_bytes, 16u << 20);
    /* a caller built against another layout */
    o.size = sizeof o - 8;
    octavo_error e;
    memset(&e, 0, sizeof e);
    CHECK(octavo_new(&o, &e) == NULL);
    CHECK_INT(e.code, OCTAVO_E_VERSION);
    octavo *ov = octavo_new(NULL, &e);
    CHECK(ov != NULL);
    octavo_free(ov);
    octavo_free(NULL);
}

TEST(options_set) {
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    CHECK_INT(octavo_options_set(&o, "trusted", "true"), OCTAVO_OK);
    CHECK(o.flags & OCTAVO_TRUSTED);
    CHECK_INT(octavo_options_set(&o, "trusted", "false"), OCTAVO_OK);
    CHECK(!(o.flags & OCTAVO_TRUSTED));
    CHECK_INT(octavo_options_set(&o, "hyphenate", "false"), OCTAVO_OK);
    CHECK(o.flags & OCTAVO_NO_HYPHENATE);
    CHECK_INT(octavo_options_set(&o, "cache", "false"), OCTAVO_OK);
    CHECK(o.flags & OCTAVO_NO_CACHE);
    CHECK_INT(octavo_options_set(&o, "toc", "maybe"), OCTAVO_E_TYPE);
    CHECK_INT(octavo_options_set(&o, "lang", "de"), OCTAVO_OK);
    CHECK_STR(o.lang, "de");
    CHECK_INT(octavo_options_set(&o, "paper", "letter"), OCTAVO_OK);
    CHECK_INT(o.paper, OCTAVO_PAPER_LETTER);
    CHECK_INT(octavo_options_set(&o, "paper", "a5"), OCTAVO_E_TYPE);
    CHECK_INT(octavo_options_set(&o, "margin", "40"), OCTAVO_OK);
    CHECK(o.margin_pt == 40.0);
    CHECK_INT(octavo_options_set(&o, "margin", "wide"), OCTAVO_E_TYPE);
    CHECK_INT(octavo_options_set(&o, "limit.yaml_depth", "8"), OCTAVO_OK);
    CHECK_INT(o.limits.yaml_depth, 8);
    CHECK_INT(octavo_options_set(&o, "limit.yaml_depth", "-1"), OCTAVO_E_TYPE);
    CHECK_INT(octavo_options_set(&o, "no-such-option", "1"), OCTAVO_E_NOT_FOUND);
    /* the named limit takes effect */
    octavo_error e;
    octavo *ov = octavo_new(&o, &e);
    octavo_doc *d = NULL;
    const char *deep = "---\na: [[[[[[[[[[1]]]]]]]]]]\n---\n";
    CHECK_INT(octavo_doc_load(ov, "d.md", deep, strlen(deep), &d, &e), OCTAVO_E_LIMIT);
    CHECK_STR(octavo_doc_lang(d), "en"); /* NULL document: the fallback */
    octavo_free(ov);
}

TEST(strerror_every_code) {
    const char *seen[OCTAVO_E_INTERNAL + 1];
    for (int c = OCTAVO_OK; c <= OCTAVO_E_INTERNAL; c++) {
        const char *s = octavo_strerror(c);
        CHECKF(s && *s && strcmp(s, "unknown error"), "code %d", c);
        seen[c] = s;
        for (int k = 0; k < c; k++) CHECKF(strcmp(seen[k], s) != 0, "codes %d and %d share a string", k, c);
    }
    CHECK_STR(octavo_strerror(-1), "unknown error");
    CHECK_STR(octavo_strerror(OCTAVO_E_INTERNAL + 1), "unknown error");
    CHECK_STR(octavo_strerror(1 << 30), "unknown error");
}

TEST(error_format) {
    octavo_error e;
    memset(&e, 0, sizeof e);
    e.code = OCTAVO_E_YAML;
    snprintf(e.file, sizeof e.file, "post.md");
    e.line = 3;
    e.column = 7;
    snprintf(e.message, sizeof e.message, "bad thing");
    char buf[256];
    int n = octavo_error_format(&e, buf, sizeof buf);
    CHECK_STR(buf, "post.md:3:7: error: bad thing");
    CHECK_INT(n, strlen("post.md:3:7: error: bad thing"));
    char small[8];
    CHECK_INT(octavo_error_format(&e, small, sizeof small), n); /* the length it needed */
    CHECK_STR(small, "post.md");
    e.line = e.column = 0;
    octavo_error_format(&e, buf, sizeof buf);
    CHECK_STR(buf, "post.md: error: bad thing");
    e.file[0] = 0;
    e.message[0] = 0;
    octavo_error_format(&e, buf, sizeof buf);
    CHECK_STR(buf, "error: invalid YAML in the frontmatter");
    CHECK(octavo_error_format(NULL, buf, sizeof buf) > 0);
    /* ov_error fills everything */
    ov_error(&e, OCTAVO_E_LIMIT, OCTAVO_STAGE_MARKDOWN, "x.md", 4, 2, "limit %s", "nesting");
    CHECK(e.code == OCTAVO_E_LIMIT && e.stage == OCTAVO_STAGE_MARKDOWN && e.line == 4 && e.column == 2);
    CHECK_STR(e.message, "limit nesting");
    CHECK_INT(ov_error(NULL, OCTAVO_E_IO, 0, NULL, 0, 0, NULL), OCTAVO_E_IO);
}

TEST(version) {
    CHECK_INT(octavo_version_number(), OCTAVO_VERSION_NUMBER);
    CHECK_STR(octavo_version(), OCTAVO_VERSION_STRING);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", OCTAVO_VERSION_MAJOR, OCTAVO_VERSION_MINOR, OCTAVO_VERSION_PATCH);
    CHECK_STR(octavo_version(), want);
    CHECK(OCTAVO_AT_LEAST_VERSION(0, 0, 0));
    CHECK(!OCTAVO_AT_LEAST_VERSION(OCTAVO_VERSION_MAJOR + 1, 0, 0));
}

/* Only octavo_* leaves the shared library (names starting with '_' are the toolchain's). */
TEST(exports_only_api) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "nm -D --defined-only %s/liboctavo.so 2>&1", build_dir());
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p) return;
    char line[512];
    static char exported[400][64];
    int api = 0, bad = 0;
    while (fgets(line, sizeof line, p)) {
        char addr[64], type[8], name[64];
        if (sscanf(line, "%63s %7s %63s", addr, type, name) != 3) continue;
        if (!strchr("TDBRVWiu", type[0])) continue;
        if (!strncmp(name, "octavo_", 7)) {
            if (api < 400) snprintf(exported[api++], sizeof exported[0], "%s", name);
        } else if (name[0] != '_') {
            bad++;
            fprintf(stderr, "exported: %s %s\n", type, name);
        }
    }
    int rc = pclose(p);
    CHECKF(rc == 0, "%s failed", cmd);
    CHECK_INT(bad, 0);
    /* and every function the header declares is there */
    FILE *h = fopen("include/octavo.h", "r");
    CHECK(h != NULL);
    int declared = 0, missing = 0;
    while (h && fgets(line, sizeof line, h)) {
        if (strncmp(line, "OCTAVO_API ", 11)) continue;
        char *paren = strchr(line, '(');
        if (!paren) continue;
        char *e = paren, *b = paren;
        while (b > line && (b[-1] == '_' || (b[-1] >= 'a' && b[-1] <= 'z') || (b[-1] >= '0' && b[-1] <= '9'))) b--;
        *e = 0;
        declared++;
        int found = 0;
        for (int i = 0; i < api && !found; i++) found = !strcmp(exported[i], b);
        if (!found) { missing++; fprintf(stderr, "declared but not exported: %s\n", b); }
    }
    if (h) fclose(h);
    CHECK(declared >= 50);
    CHECK_INT(missing, 0);
}

/* The public header compiles as C++ and as strict C99, alone. */
TEST(header_compiles) {
    char cmd[1024];
    if (system("command -v g++ >/dev/null 2>&1") != 0) {
        printf("SKIP: no g++ for the C++ header check\n");
    } else {
        snprintf(cmd, sizeof cmd,
                 "g++ -fsyntax-only -x c++ -std=c++11 -Wall -Wextra -pedantic -Werror -Iinclude -I%s/include "
                 "include/octavo.h",
                 build_dir());
        CHECKF(system(cmd) == 0, "%s", cmd);
    }
    snprintf(cmd, sizeof cmd,
             "cc -fsyntax-only -x c -std=c99 -Wall -Wextra -pedantic -Werror -Iinclude -I%s/include include/octavo.h",
             build_dir());
    CHECKF(system(cmd) == 0, "%s", cmd);
}

TEST(utf8) {
    uint32_t cp = 0;
    CHECK_INT(ov_utf8_decode("A", 1, &cp), 1);
    CHECK_INT(cp, 'A');
    CHECK_INT(ov_utf8_decode("\xC3\xA9", 2, &cp), 2);
    CHECK_INT(cp, 0xE9);
    CHECK_INT(ov_utf8_decode("\xE2\x80\x94", 3, &cp), 3);
    CHECK_INT(cp, 0x2014);
    CHECK_INT(ov_utf8_decode("\xF0\x9F\x98\x80", 4, &cp), 4);
    CHECK_INT(cp, 0x1F600);
    CHECK(ov_utf8_decode("\xE2\x80", 2, &cp) <= 0);      /* truncated */
    CHECK(ov_utf8_decode("\xC0\x80", 2, &cp) <= 0);      /* overlong */
    CHECK(ov_utf8_decode("\xF4\x90\x80\x80", 4, &cp) <= 0); /* past U+10FFFF */
    size_t bad = 99;
    CHECK(ov_utf8_valid("ok \xC3\xA9", 5, &bad));
    CHECK(!ov_utf8_valid("ok\xFF", 3, &bad));
    CHECK_INT(bad, 2);
    unsigned l, c;
    ov_source_position("ab\r\ncd\re\xC3\xA9x", 11, 10, &l, &c);
    CHECK_INT(l, 3);
    CHECK_INT(c, 3); /* 'e' and 'é' before: the third character */
}

TEST(slugs) {
    char *s;
    CHECK_STR(s = ov_slug("Hello, World!"), "hello-world"); ov_free(s);
    CHECK_STR(s = ov_slug("Kata 3.0 — what’s new?"), "kata-30--whats-new"); ov_free(s);
    CHECK_STR(s = ov_slug("snake_case and-dash"), "snake_case-and-dash"); ov_free(s);
    CHECK_STR(s = ov_slug("Ünïcode Straße"), "ünïcode-straße"); ov_free(s);
    CHECK_STR(s = ov_slug(""), ""); ov_free(s);
}

TEST(sha256) {
    unsigned char h[32];
    char hex[65];
    ov_sha256("abc", 3, h);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", h[i]);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"); /* FIPS 180-2 */
    ov_sha256("", 0, h);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", h[i]);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(rfc3339) {
    octavo_time t;
    memset(&t, 0, sizeof t);
    char buf[40];
    t.epoch = 0;
    ov_time_rfc3339(&t, buf, sizeof buf);
    CHECK_STR(buf, "1970-01-01T00:00:00Z");
    t.epoch = -1;
    ov_time_rfc3339(&t, buf, sizeof buf);
    CHECK_STR(buf, "1969-12-31T23:59:59Z");
    t.epoch = 951782400 + 86399; /* 2000-02-29, the last second */
    ov_time_rfc3339(&t, buf, sizeof buf);
    CHECK_STR(buf, "2000-02-29T23:59:59Z");
}

int main(void) {
    RUN(options_init_version);
    RUN(options_set);
    RUN(strerror_every_code);
    RUN(error_format);
    RUN(version);
    RUN(exports_only_api);
    RUN(header_compiles);
    RUN(utf8);
    RUN(slugs);
    RUN(sha256);
    RUN(rfc3339);
    return t_done();
}
