/*
 * Hyphenation with the Debian dictionaries in /usr/share/hyphen (hyphen-en-us & co): TeX patterns
 * as libhyphen (the hyphenator of LibreOffice) reads them. Dictionaries are loaded once per
 * process per language, when a paragraph first needs one, and shared read-only between threads.
 *
 * A dictionary of one level (all that Debian ships for English) is matched here with Liang's
 * algorithm straight from the file's text: loading is one pass that hashes each pattern's
 * letters (about 1 M instructions for hyph_en_US, where hnj_hyphen_load takes 37 M building its
 * automaton), and every pattern that occurs in the word is applied. libhyphen's automaton applies,
 * at each position, the pattern of the longest match only; the dictionaries are prepared for it
 * (substrings.pl folds every embedded pattern into the longer ones), so both give the same breaks
 * (tests/test_pdf.c compares them word by word). Dictionaries with a compound level (NEXTLEVEL)
 * are handed to libhyphen itself.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hyphen.h>

#include "layout.h"

#define HYPH_DIR "/usr/share/hyphen/"
#define MAX_DICTS 16
#define MAX_KEY 48

struct ov_hyphenator {
    char lang[16];
    int loaded;                /* a dictionary was found and read */
    /* Liang's patterns, read from the file's text */
    const char *text;          /* the dictionary file, mapped */
    size_t len;
    uint32_t *slot;            /* open addressing: the hash's top byte << 24 | (offset of the pattern
                                  + 1); 0: empty (a 64 KB table for English: memory touched costs) */
    uint32_t mask;
    int maxkey;                /* the longest pattern, in bytes of letters */
    int lhmin, rhmin;          /* LEFTHYPHENMIN, RIGHTHYPHENMIN of the dictionary */
    int nonstandard;           /* some patterns carry replacements (word/repl,pos,cut) */
    HyphenDict *dict;          /* libhyphen, for dictionaries with a compound level */
};

static struct ov_hyphenator g_dicts[MAX_DICTS];
static size_t g_ndicts;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static int is_digit(int c) { return c >= '0' && c <= '9'; }

static uint32_t fnv_step(uint32_t h, unsigned char c) { return (h ^ c) * 16777619u; }

/* What a byte is inside a pattern: a letter (hashed), a digit (a value) or its end (a blank, a
 * line end, '/' before a replacement, '%' before a comment). One table lookup a byte where a chain
 * of comparisons took a third of the load's 2.1 M instructions. */
enum { C_LETTER = 0, C_DIGIT = 1, C_END = 2 };
static const unsigned char g_class[256] = {
    ['0'] = C_DIGIT, ['1'] = C_DIGIT, ['2'] = C_DIGIT, ['3'] = C_DIGIT, ['4'] = C_DIGIT,
    ['5'] = C_DIGIT, ['6'] = C_DIGIT, ['7'] = C_DIGIT, ['8'] = C_DIGIT, ['9'] = C_DIGIT,
    ['\n'] = C_END, ['\r'] = C_END, [' '] = C_END, ['\t'] = C_END, ['/'] = C_END, ['%'] = C_END,
};

/* The number of line feeds in n bytes, eight at a time (a memchr call per line cost more). */
static size_t count_lines(const char *p, size_t n) {
    size_t count = 0, i = 0;
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        uint64_t x = w ^ (ones * '\n'); /* a zero byte where a line feed was */
        uint64_t z = ~(((x & ~highs) + ~highs) | x) & highs; /* exactly the zero bytes' high bits */
        count += (size_t)(((z >> 7) * ones) >> 56); /* the sum of the 0/1 bytes (no popcnt in -march=x86-64) */
    }
    for (; i < n; i++)
        count += p[i] == '\n';
    return count;
}

/* The end of the pattern starting at p (a blank, a '/', a comment, a line end or the end). */
static const char *pattern_end(const char *p, const char *end) {
    while (p < end && *p != '\n' && *p != '\r' && *p != ' ' && *p != '\t' && *p != '/' && *p != '%')
        p++;
    return p;
}

static int slot_insert(struct ov_hyphenator *h, uint32_t hash, size_t off) {
    uint32_t i = hash & h->mask;
    while (h->slot[i])
        i = (i + 1) & h->mask;
    h->slot[i] = (hash & 0xFF000000u) | (uint32_t)(off + 1);
    return 0;
}

/* The dictionary file, mapped read-only with its pages populated at once (this kind of machine
 * charges ~12 us per page touched one at a time, 2-3 us populated: reading the 104 KB English
 * file into a buffer cost ~680 us, mapping it ~200 us). NULL when it cannot be mapped. */
static const char *map_file(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *p = MAP_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size < (16l << 20))
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    *len = (size_t)st.st_size;
    return p;
}

/* Zeroed memory for the pattern table, populated at once likewise (never freed, like the
 * dictionaries). */
static void *table_alloc(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* The number after a keyword on the line [p, end), as atoi would read it, bounded. */
static int keyword_value(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    int v = 0;
    while (p < end && is_digit((unsigned char)*p) && v < 1000)
        v = v * 10 + (*p++ - '0');
    return v;
}

static int starts_with(const char *p, const char *end, const char *kw) {
    size_t n = strlen(kw);
    return (size_t)(end - p) >= n && memcmp(p, kw, n) == 0;
}

/* Reads a one-level dictionary into h; returns 1, or 0 when the file cannot be read or holds a
 * compound level (the caller then uses libhyphen). */
static int load_patterns(struct ov_hyphenator *h, const char *path) {
    size_t n = 0;
    const char *text = map_file(path, &n); /* offsets take 24 bits: map_file stops at 16 MB */
    if (!text)
        return 0;
    const char *end = text + n;
    /* the table: at least half as many slots again as lines */
    size_t lines = 1 + count_lines(text, n);
    uint32_t cap = 1024;
    while (cap < lines + lines / 2 && cap < (1u << 30))
        cap <<= 1;
    h->slot = table_alloc(cap * sizeof *h->slot);
    if (!h->slot) {
        munmap((void *)text, n);
        return 0;
    }
    h->mask = cap - 1;
    h->text = text;
    h->len = n;
    /* the first line names the character set */
    const char *p = memchr(text, '\n', n);
    p = p ? p + 1 : end;
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c == '%' || (c >= 'A' && c <= 'Z')) {
            /* a comment, or a keyword line (LEFTHYPHENMIN 2, NOHYPHEN ..., NEXTLEVEL) */
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            if (!eol)
                eol = end;
            if (starts_with(p, eol, "NEXTLEVEL")) {
                munmap(h->slot, cap * sizeof *h->slot);
                munmap((void *)text, n);
                h->slot = NULL;
                h->text = NULL;
                return 0;
            }
            if (starts_with(p, eol, "LEFTHYPHENMIN"))
                h->lhmin = keyword_value(p + 13, eol);
            else if (starts_with(p, eol, "RIGHTHYPHENMIN"))
                h->rhmin = keyword_value(p + 14, eol);
            p = eol < end ? eol + 1 : end;
            continue;
        }
        if (c == '\n' || c == '\r' || c == ' ' || c == '\t') {
            p++;
            continue;
        }
        /* a pattern: hash its letters (digits are the values between them) */
        const char *q = p;
        uint32_t hash = 2166136261u;
        int keylen = 0;
        for (; q < end; q++) {
            c = (unsigned char)*q;
            unsigned char k = g_class[c];
            if (k == C_LETTER) {
                hash = fnv_step(hash, c);
                keylen++;
            } else if (k == C_END)
                break;
        }
        if (q < end && *q == '/')
            h->nonstandard = 1;
        if (keylen > 0 && keylen <= MAX_KEY) {
            slot_insert(h, hash, (size_t)(p - text));
            if (keylen > h->maxkey)
                h->maxkey = keylen;
        }
        /* past a replacement part or a comment, to the next blank */
        while (q < end && *q == '/' ) {
            while (q < end && *q != ' ' && *q != '\t' && *q != '\r' && *q != '\n')
                q++;
        }
        if (q < end && *q == '%') {
            const char *eol = memchr(q, '\n', (size_t)(end - q));
            q = eol ? eol : end;
        }
        p = q;
    }
    return 1;
}

static int path_readable(char *path, size_t size, const char *name) {
    snprintf(path, size, HYPH_DIR "hyph_%s.dic", name);
    return access(path, R_OK) == 0;
}

static int try_load(struct ov_hyphenator *h, const char *name) {
    char path[256];
    if (!path_readable(path, sizeof path, name))
        return 0;
    if (load_patterns(h, path))
        return 1;
    h->dict = hnj_hyphen_load(path);
    return h->dict != NULL;
}

static int load_for(struct ov_hyphenator *h, const char *lang) {
    /* "en-us" -> ll "en", cc "US" */
    char ll[8] = "", cc[8] = "", name[24];
    size_t i = 0;
    for (; lang[i] && lang[i] != '-' && lang[i] != '_' && i < 7; i++)
        ll[i] = (char)tolower((unsigned char)lang[i]);
    ll[i] = 0;
    if (lang[i] == '-' || lang[i] == '_') {
        size_t j = 0;
        for (i++; lang[i] && isalpha((unsigned char)lang[i]) && j < 7; i++)
            cc[j++] = (char)toupper((unsigned char)lang[i]);
        cc[j] = 0;
    }
    if (!ll[0])
        return 0;
    if (cc[0]) {
        snprintf(name, sizeof name, "%s_%s", ll, cc);
        if (try_load(h, name))
            return 1;
    }
    static const char *const def[][2] = { { "en", "en_US" }, { "de", "de_DE" }, { "fr", "fr_FR" },
                                          { "es", "es_ES" }, { "it", "it_IT" }, { "pt", "pt_PT" },
                                          { "nl", "nl_NL" }, { "ru", "ru_RU" }, { "pl", "pl_PL" } };
    for (size_t k = 0; k < sizeof def / sizeof def[0]; k++)
        if (strcmp(def[k][0], ll) == 0 && try_load(h, def[k][1]))
            return 1;
    return try_load(h, ll);
}

const ov_hyphenator *ov_hyphenator_get(const char *lang) {
    if (!lang || !*lang)
        lang = "en";
    const ov_hyphenator *r = NULL;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_ndicts; i++)
        if (strcmp(g_dicts[i].lang, lang) == 0) {
            r = &g_dicts[i];
            break;
        }
    if (!r && g_ndicts < MAX_DICTS && strlen(lang) < sizeof g_dicts[0].lang) {
        struct ov_hyphenator *h = &g_dicts[g_ndicts++];
        snprintf(h->lang, sizeof h->lang, "%s", lang);
        h->loaded = load_for(h, lang);
        r = h;
    }
    pthread_mutex_unlock(&g_lock);
    return r && r->loaded ? r : NULL;
}

/* Liang: every pattern that occurs in ".word." raises the values between its letters; an odd
 * value between two letters allows a break there. v[k] is the value before prep[k]. */
static int liang(const ov_hyphenator *h, const char *prep, size_t plen, unsigned char *v) {
    memset(v, 0, plen + 1);
    const char *end = h->text + h->len;
    for (size_t i = 0; i < plen; i++) {
        uint32_t hash = 2166136261u;
        for (size_t l = 1; l <= (size_t)h->maxkey && i + l <= plen; l++) {
            hash = fnv_step(hash, (unsigned char)prep[i + l - 1]);
            for (uint32_t s = hash & h->mask; h->slot[s]; s = (s + 1) & h->mask) {
                if ((h->slot[s] & 0xFF000000u) != (hash & 0xFF000000u))
                    continue;
                const char *p = h->text + (h->slot[s] & 0xFFFFFFu) - 1;
                const char *pe = pattern_end(p, end);
                /* the letters must be prep[i, i + l) */
                size_t k = 0;
                const char *r = p;
                for (; r < pe; r++) {
                    if (is_digit((unsigned char)*r))
                        continue;
                    if (k >= l || *r != prep[i + k])
                        break;
                    k++;
                }
                if (r < pe || k != l)
                    continue;
                if (pe < end && *pe == '/')
                    return -1; /* a replacement pattern: libhyphen would not hyphenate plainly */
                k = 0;
                for (r = p; r < pe; r++) {
                    if (is_digit((unsigned char)*r)) {
                        unsigned char d = (unsigned char)(*r - '0');
                        if (d > v[i + k])
                            v[i + k] = d;
                    } else
                        k++;
                }
            }
        }
    }
    return 0;
}

int ov_hyphenate(const ov_hyphenator *h, const uint32_t *word, size_t n, unsigned char *out) {
    memset(out, 0, n);
    if (!h || !h->loaded || n < 5 || n > 60)
        return 0;
    /* only plain ASCII letters: bytes are characters, and the dictionary knows the words */
    char w[64];
    for (size_t i = 0; i < n; i++) {
        if (word[i] > 127 || !isalpha((int)word[i]))
            return 0;
        w[i] = (char)tolower((int)word[i]);
    }
    w[n] = 0;
    int count = 0;
    /* at least 2 letters before a break and 3 after, or more when the dictionary asks */
    size_t lmin = h->lhmin > 2 ? (size_t)h->lhmin : 2, rmin = h->rhmin > 3 ? (size_t)h->rhmin : 3;
    if (h->dict) {
        char hy[72];
        char **rep = NULL;
        int *pos = NULL, *cut = NULL;
        if (hnj_hyphen_hyphenate3(h->dict, w, (int)n, hy, NULL, &rep, &pos, &cut, 2, 3, 2, 2) != 0)
            return 0;
        if (rep) {
            /* non-standard hyphenation (not in the languages we set): not used */
            for (size_t i = 0; i < n; i++)
                free(rep[i]);
            free(rep);
            free(pos);
            free(cut);
            return 0;
        }
        for (size_t i = 1; i + 4 <= n; i++)
            if (hy[i] & 1) {
                out[i] = 1;
                count++;
            }
        return count;
    }
    char prep[64 + 2];
    unsigned char v[64 + 3];
    prep[0] = '.';
    memcpy(prep + 1, w, n);
    prep[n + 1] = '.';
    if (liang(h, prep, n + 2, v) < 0)
        return 0;
    /* a break after word[i] is the value before prep[i + 2] */
    for (size_t i = lmin - 1; i + rmin < n; i++)
        if (v[i + 2] & 1) {
            out[i] = 1;
            count++;
        }
    return count;
}
