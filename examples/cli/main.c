/*
 * octavo — the example command-line tool built on liboctavo.
 *
 *   octavo convert IN.md -o OUT.{html,pdf,epub} [--to FORMAT] [options]
 *   octavo book IN.md... -o OUT.{epub,pdf} [--title T] [--order date|-date|given] [options]
 *   octavo site SITE_DIR -o OUT_DIR [options]
 */
#include <errno.h>
#include <libgen.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collateral.h"
#include "common.h"
#include "octavo.h"
#include "site.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: %s convert IN.md -o OUT [--to html|pdf|epub] [options]\n"
            "       %s book IN.md... -o OUT.epub|OUT.pdf [--title T] [--order date|-date|given] [options]\n"
            "       %s site SITE_DIR -o OUT_DIR [options]\n"
            "       %s --help | --version\n"
            "\n"
            "convert  turns one Markdown document (with YAML frontmatter) into HTML, PDF or EPUB;\n"
            "         '-' reads standard input or writes standard output (then --to names the format)\n"
            "book     collects documents into one EPUB or PDF (default order: by date, oldest first)\n"
            "site     builds a site folder's collateral: HTML pages, index, feed and downloads\n"
            "\n"
            "options:\n%s"
            "book options:\n"
            "  --title T           the book's title (also --description, --publisher, --identifier,\n"
            "                      --date YYYY-MM-DD, --cover IMAGE, --book-author NAME)\n"
            "  --order ORDER       date (oldest first), -date (newest first) or given\n"
            "%s",
            cli_prog, cli_prog, cli_prog, cli_prog, cli_common_help, collateral_help);
}

static int stdout_write(void *ud, const void *p, size_t n) {
    return fwrite(p, 1, n, (FILE *)ud) == n ? 0 : -1;
}

static int parse_format(const char *s) {
    if (!strcmp(s, "html")) return OCTAVO_FORMAT_HTML;
    if (!strcmp(s, "pdf")) return OCTAVO_FORMAT_PDF;
    if (!strcmp(s, "epub")) return OCTAVO_FORMAT_EPUB;
    return -1;
}

/* The input file's folder, as the default resource root (a static buffer). */
static const char *folder_of(const char *path) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    return dirname(buf);
}

static int read_stdin(char **data, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    if (!b) return -1;
    for (;;) {
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); return -1; }
            b = nb;
        }
        size_t r = fread(b + n, 1, cap - n, stdin);
        n += r;
        if (r == 0) break;
    }
    if (ferror(stdin)) { free(b); return -1; }
    *data = b;
    *len = n;
    return 0;
}

static int cmd_convert(int argc, char **argv) {
    cli_common c;
    cli_common_init(&c);
    const char *in = NULL, *out = NULL;
    int fmt = -1;
    for (int i = 2; i < argc; i++) {
        int r = cli_common_option(&c, argc, argv, &i);
        if (r < 0) return 2;
        if (r) continue;
        if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--to") && i + 1 < argc) {
            if ((fmt = parse_format(argv[++i])) < 0) {
                fprintf(stderr, "%s: unknown format '%s' (html, pdf or epub)\n", cli_prog, argv[i]);
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "%s: convert: unknown option '%s'\n", cli_prog, argv[i]);
            return 2;
        } else if (!in) in = argv[i];
        else {
            fprintf(stderr, "%s: convert takes one input (use 'book' for many)\n", cli_prog);
            return 2;
        }
    }
    if (!in || !out) {
        fprintf(stderr, "%s: convert needs an input and -o OUTPUT\n", cli_prog);
        usage(stderr);
        return 2;
    }
    if (fmt < 0 && (fmt = octavo_format_from_path(out)) < 0) {
        fprintf(stderr, "%s: cannot tell the format of '%s': use --to html|pdf|epub\n", cli_prog, out);
        return 2;
    }
    int from_stdin = !strcmp(in, "-");
    if (!c.opt.resource_root && !from_stdin) c.opt.resource_root = folder_of(in);

    octavo_error err;
    octavo *ov = octavo_new(&c.opt, &err);
    if (!ov) { cli_error(&err); return 1; }
    octavo_doc *doc = NULL;
    int rc;
    if (from_stdin) {
        char *data;
        size_t len;
        if (read_stdin(&data, &len)) {
            fprintf(stderr, "%s: cannot read standard input: %s\n", cli_prog, strerror(errno));
            octavo_free(ov);
            return 1;
        }
        rc = octavo_doc_load(ov, "<stdin>", data, len, &doc, &err);
        free(data);
    } else {
        rc = octavo_doc_load_file(ov, in, &doc, &err);
    }
    if (rc == OCTAVO_OK) {
        if (!strcmp(out, "-")) {
            rc = octavo_render(doc, (octavo_format)fmt, stdout_write, stdout, &err);
            if (fflush(stdout) && !rc) {
                fprintf(stderr, "%s: cannot write standard output: %s\n", cli_prog, strerror(errno));
                rc = OCTAVO_E_WRITE;
                err.code = 0;
            }
        } else {
            rc = octavo_render_file(doc, (octavo_format)fmt, out, &err);
        }
    }
    if (rc && err.code) cli_error(&err);
    octavo_doc_free(doc);
    octavo_free(ov);
    return rc ? 1 : 0;
}

static int cmd_book(int argc, char **argv) {
    cli_common c;
    cli_common_init(&c);
    const char *out = NULL;
    int fmt = -1;
    octavo_order order = OCTAVO_ORDER_DATE;
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    const char **meta = calloc((size_t)argc * 2, sizeof *meta); /* key, value pairs */
    size_t nin = 0, nmeta = 0;
    int status = 2;
    if (!inputs || !meta) goto done;
    static const struct { const char *flag, *key; } book_meta[] = {
        {"--title", "title"}, {"--description", "description"}, {"--publisher", "publisher"},
        {"--identifier", "identifier"}, {"--date", "date"}, {"--cover", "cover"},
        {"--book-author", "author"}, {"--book-lang", "lang"},
    };
    for (int i = 2; i < argc; i++) {
        int r = cli_common_option(&c, argc, argv, &i);
        if (r < 0) goto done;
        if (r) continue;
        int matched = 0;
        for (size_t k = 0; k < sizeof book_meta / sizeof *book_meta; k++) {
            if (!strcmp(argv[i], book_meta[k].flag) && i + 1 < argc) {
                meta[nmeta++] = book_meta[k].key;
                meta[nmeta++] = argv[++i];
                matched = 1;
                break;
            }
        }
        if (matched) continue;
        if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--to") && i + 1 < argc) fmt = parse_format(argv[++i]);
        else if (!strcmp(argv[i], "--order") && i + 1 < argc) {
            const char *o = argv[++i];
            if (!strcmp(o, "date")) order = OCTAVO_ORDER_DATE;
            else if (!strcmp(o, "-date")) order = OCTAVO_ORDER_DATE_DESC;
            else if (!strcmp(o, "given")) order = OCTAVO_ORDER_GIVEN;
            else {
                fprintf(stderr, "%s: --order takes date, -date or given, not '%s'\n", cli_prog, o);
                goto done;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "%s: book: unknown option '%s'\n", cli_prog, argv[i]);
            goto done;
        } else inputs[nin++] = argv[i];
    }
    if (!nin || !out) {
        fprintf(stderr, "%s: book needs inputs and -o OUTPUT\n", cli_prog);
        usage(stderr);
        goto done;
    }
    if (fmt < 0) fmt = octavo_format_from_path(out);
    if (fmt != OCTAVO_FORMAT_EPUB && fmt != OCTAVO_FORMAT_PDF) {
        fprintf(stderr, "%s: a book is an .epub or a .pdf ('%s')\n", cli_prog, out);
        goto done;
    }
    if (!c.opt.resource_root) c.opt.resource_root = folder_of(inputs[0]);

    octavo_error err;
    octavo *ov = octavo_new(&c.opt, &err);
    if (!ov) { cli_error(&err); status = 1; goto done; }
    octavo_book *book = octavo_book_new(ov);
    status = 0;
    if (!book) { fprintf(stderr, "%s: out of memory\n", cli_prog); status = 1; }
    for (size_t k = 0; book && k < nmeta; k += 2) {
        int rc = octavo_book_set(book, meta[k], meta[k + 1]);
        if (rc) {
            fprintf(stderr, "%s: book %s '%s': %s\n", cli_prog, meta[k], meta[k + 1], octavo_strerror(rc));
            status = 2;
        }
    }
    octavo_book_order(book, order);
    /* every document is loaded so that all errors are reported, then nothing is written */
    for (size_t k = 0; book && k < nin; k++) {
        octavo_doc *doc;
        if (octavo_doc_load_file(ov, inputs[k], &doc, &err)) { cli_error(&err); status = 1; continue; }
        if (octavo_book_add(book, doc, &err)) { cli_error(&err); status = 1; }
    }
    if (!status && octavo_book_render_file(book, (octavo_format)fmt, out, &err)) {
        cli_error(&err);
        status = 1;
    }
    octavo_book_free(book);
    octavo_free(ov);
done:
    free(inputs);
    free(meta);
    return status;
}

/* A book or a site touches tens of megabytes of fresh heap in a process that lives for tens of
 * milliseconds, and each first touch of a 4 KiB page is a page fault (on this kind of virtual
 * machine, ~8 us each: 2258 of them were a third of a warm 60-post EPUB). The heap is grown 32 MiB
 * at a time and marked for transparent huge pages (where the system gives them on request), so a
 * fault brings in 2 MiB; glibc's own knob for this (glibc.malloc.hugetlb) can only be set in the
 * environment. Measured on the warm blog EPUB: 44.7 -> 40.6 ms, 1388 -> ~1100 faults. The
 * render's threads share this one heap instead of an arena each (whose fresh pages fault 4 KiB at
 * a time): the cold blog EPUB, whose image conversions decode tens of megabytes of pixels on
 * them, 0.80 -> 0.65 s, peak RSS 46 -> 44.5 MB (it must stay under 50). Not for `site`, whose
 * jobs allocate on several threads at once all along: one arena's lock made its rebuild 18%
 * slower. A single `convert` gains nothing (its heap is small) and is left alone. */
#ifdef MADV_POPULATE_WRITE
#define OV_MADV_POPULATE_WRITE MADV_POPULATE_WRITE
#else
#define OV_MADV_POPULATE_WRITE 23 /* Linux 5.14; an older kernel says EINVAL and nothing happens */
#endif
#if defined(__SANITIZE_ADDRESS__)
#define OV_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OV_SANITIZED 1
#endif
#endif
static void heap_for_batch(int one_arena) {
#if defined(__GLIBC__) && !defined(OV_SANITIZED) /* a sanitizer's allocator is not glibc's */
    static void *heap_filler; /* kept, so it is no leak: the block below the first huge page */
    const size_t huge = (size_t)2 << 20, pad = (size_t)32 << 20;
    if (one_arena) mallopt(M_ARENA_MAX, 1); /* the render's threads too: their pixels land here */
    mallopt(M_TOP_PAD, (int)pad);
    mallopt(M_TRIM_THRESHOLD, (int)(2 * pad));
    mallopt(M_MMAP_THRESHOLD, 4 << 20); /* so that the filler below grows the heap, with the pad */
    /* The heap starts where address randomisation put it, and the part of it below the first
     * 2 MiB boundary can only have small pages: malloc fills it first, so a warm EPUB, whose heap
     * stays under 2 MiB, never got a huge page (~350 faults in malloc). One block, never freed
     * nor touched (no memory, only addresses), fills that part. */
    char *probe = malloc(1);
    if (!probe) return;
    uintptr_t lo = ((uintptr_t)probe + 64 + huge - 1) & ~(uintptr_t)(huge - 1);
    heap_filler = malloc(lo - (uintptr_t)probe - 64);
    mallopt(M_MMAP_THRESHOLD, 128 << 10);
    free(probe);
    if (!heap_filler) return;
    uintptr_t hi = (uintptr_t)sbrk(0) & ~(uintptr_t)(huge - 1);
    if (hi > lo) {
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* advice: a failure changes nothing */
        /* and its first 2 MiB made present now, by a write: a region whose first access is a read
         * (calloc'd memory, which fresh heap needs no clearing for, read before it is written) gets
         * the zero page and then small pages, never a huge one */
        (void)madvise((void *)lo, hi - lo < huge ? hi - lo : huge, OV_MADV_POPULATE_WRITE);
    }
#endif
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) { usage(stdout); return 0; }
    if (!strcmp(cmd, "--version")) {
        printf("octavo %s\n", octavo_version());
        return 0;
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
    if (!strcmp(cmd, "convert")) return cmd_convert(argc, argv);
    if (!strcmp(cmd, "book") || !strcmp(cmd, "site")) heap_for_batch(!strcmp(cmd, "book"));
    if (!strcmp(cmd, "book")) return cmd_book(argc, argv);
    if (!strcmp(cmd, "site")) return cli_site(argc, argv);
    fprintf(stderr, "%s: unknown command '%s'\n", cli_prog, cmd);
    usage(stderr);
    return 2;
}
