/*
 * Hyphenation with libhyphen (the pattern hyphenator of LibreOffice, TeX patterns) and the Debian
 * dictionaries in /usr/share/hyphen (hyphen-en-us & co). Dictionaries are loaded once per process
 * per language and shared read-only between threads.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <hyphen.h>

#include "layout.h"

#define HYPH_DIR "/usr/share/hyphen/"
#define MAX_DICTS 16

struct ov_hyphenator {
    char lang[16];
    HyphenDict *dict;          /* NULL: none installed for the language */
};

static struct ov_hyphenator g_dicts[MAX_DICTS];
static size_t g_ndicts;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static HyphenDict *try_load(const char *name) {
    char path[256];
    snprintf(path, sizeof path, HYPH_DIR "hyph_%s.dic", name);
    if (access(path, R_OK) != 0)
        return NULL;
    return hnj_hyphen_load(path);
}

static HyphenDict *load_for(const char *lang) {
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
        return NULL;
    HyphenDict *d = NULL;
    if (cc[0]) {
        snprintf(name, sizeof name, "%s_%s", ll, cc);
        d = try_load(name);
    }
    if (!d) {
        static const char *const def[][2] = { { "en", "en_US" }, { "de", "de_DE" }, { "fr", "fr_FR" },
                                              { "es", "es_ES" }, { "it", "it_IT" }, { "pt", "pt_PT" },
                                              { "nl", "nl_NL" }, { "ru", "ru_RU" }, { "pl", "pl_PL" } };
        for (size_t k = 0; k < sizeof def / sizeof def[0] && !d; k++)
            if (strcmp(def[k][0], ll) == 0)
                d = try_load(def[k][1]);
    }
    if (!d)
        d = try_load(ll);
    return d;
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
        h->dict = load_for(lang);
        r = h;
    }
    pthread_mutex_unlock(&g_lock);
    return r && r->dict ? r : NULL;
}

int ov_hyphenate(const ov_hyphenator *h, const uint32_t *word, size_t n, unsigned char *out) {
    memset(out, 0, n);
    if (!h || !h->dict || n < 5 || n > 60)
        return 0;
    /* only plain ASCII letters: bytes are characters, and the dictionary knows the words */
    char w[64], hy[72];
    for (size_t i = 0; i < n; i++) {
        if (word[i] > 127 || !isalpha((int)word[i]))
            return 0;
        w[i] = (char)tolower((int)word[i]);
    }
    w[n] = 0;
    char **rep = NULL;
    int *pos = NULL, *cut = NULL;
    if (hnj_hyphen_hyphenate3(h->dict, w, (int)n, hy, NULL, &rep, &pos, &cut, 2, 3, 2, 2) != 0)
        return 0;
    int count = 0;
    if (rep) {
        /* non-standard hyphenation (not in the languages we set): not used */
        for (size_t i = 0; i < n; i++)
            free(rep[i]);
        free(rep);
        free(pos);
        free(cut);
        return 0;
    }
    for (size_t i = 1; i + 4 <= n; i++)  /* at least 2 letters before and 3 after */
        if (hy[i] & 1) {
            out[i] = 1;
            count++;
        }
    return count;
}
