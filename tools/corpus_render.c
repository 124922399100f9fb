/* Renders a whole corpus in one process, for valgrind (tools/valgrind-corpus.sh): every page of
 * CORPUS/pages alone to HTML, EPUB and PDF, then the blog (CORPUS/pages/blog) as one EPUB and one
 * PDF, newest last. Outputs go to memory and are dropped; warnings are counted, errors printed.
 *   corpus_render CORPUS [OUTDIR]     (with OUTDIR: the outputs are written there too)
 * Exits 0 when everything loads and renders, 1 otherwise. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "octavo.h"

static long warnings;
static void on_diag(void *ud, const octavo_diag *d) { (void)ud; (void)d; warnings++; }

static char **files;
static size_t nfiles, capfiles;

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void walk(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st)) continue;
        size_t n = strlen(p);
        if (S_ISDIR(st.st_mode)) walk(p);
        else if (n > 3 && !strcmp(p + n - 3, ".md")) {
            if (nfiles == capfiles) files = realloc(files, (capfiles = capfiles ? capfiles * 2 : 64) * sizeof *files);
            files[nfiles++] = strdup(p);
        }
    }
    closedir(d);
}

static void save(const char *outdir, size_t i, const char *ext, const char *data, size_t len) {
    if (!outdir) return;
    char p[4096];
    snprintf(p, sizeof p, "%s/%04zu.%s", outdir, i, ext);
    FILE *f = fopen(p, "wb");
    if (f) { fwrite(data, 1, len, f); fclose(f); }
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: corpus_render CORPUS [OUTDIR]\n"); return 2; }
    const char *corpus = argv[1], *outdir = argc > 2 ? argv[2] : NULL;
    char pages[4096];
    snprintf(pages, sizeof pages, "%s/pages", corpus);
    walk(pages);
    qsort(files, nfiles, sizeof *files, cmp);
    octavo_options o;
    octavo_options_init(&o, sizeof o);
    o.resource_root = corpus;
    o.flags = OCTAVO_NO_CACHE | OCTAVO_TOC;
    o.diag = on_diag;
    octavo_error e;
    octavo *ov = octavo_new(&o, &e);
    if (!ov) { fprintf(stderr, "octavo_new: %s\n", e.message); return 1; }
    static const char *const ext[] = {"html", "epub", "pdf"};
    int bad = 0;
    size_t renders = 0;
    for (size_t i = 0; i < nfiles; i++) {
        octavo_doc *d;
        if (octavo_doc_load_file(ov, files[i], &d, &e)) {
            fprintf(stderr, "%s: load: %s\n", files[i], e.message);
            bad = 1;
            continue;
        }
        for (int f = 0; f < 3; f++) {
            char *out;
            size_t len;
            if (octavo_render_buffer(d, (octavo_format)f, &out, &len, &e)) {
                fprintf(stderr, "%s: %s: %s\n", files[i], ext[f], e.message);
                bad = 1;
                continue;
            }
            save(outdir, i, ext[f], out, len);
            octavo_buffer_free(out);
            renders++;
        }
        octavo_doc_free(d);
    }
    /* the blog as a book */
    for (int f = 1; f < 3; f++) {
        octavo_book *b = octavo_book_new(ov);
        octavo_book_set(b, "title", "The blog");
        octavo_book_order(b, OCTAVO_ORDER_DATE);
        size_t n = 0;
        for (size_t i = 0; i < nfiles; i++) {
            if (!strstr(files[i], "/pages/blog/")) continue;
            octavo_doc *d;
            if (octavo_doc_load_file(ov, files[i], &d, &e) == OCTAVO_OK && octavo_book_add(b, d, &e) == OCTAVO_OK) n++;
        }
        char *out;
        size_t len;
        if (octavo_book_render_buffer(b, (octavo_format)f, &out, &len, &e)) {
            fprintf(stderr, "blog book: %s: %s\n", ext[f], e.message);
            bad = 1;
        } else {
            save(outdir, 9999, ext[f], out, len);
            octavo_buffer_free(out);
            renders++;
        }
        printf("blog book %s: %zu documents, %u pages\n", ext[f], n, f == 2 ? octavo_book_pdf_pages(b) : 0);
        octavo_book_free(b);
    }
    octavo_free(ov);
    printf("corpus_render: %zu documents, %zu renders, %ld warnings, %s\n", nfiles, renders, warnings,
           bad ? "FAILED" : "ok");
    for (size_t i = 0; i < nfiles; i++) free(files[i]);
    free(files);
    return bad;
}
