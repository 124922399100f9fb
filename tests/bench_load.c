/* Loading throughput: reads the Markdown files named on the command line into memory once, then
 * loads (frontmatter + Markdown parse, octavo_doc_parse) all of them BENCH_ROUNDS times (default 1) and prints the
 * bytes it loaded. tests/bench.sh measures its CPU time exactly as it measures cmark-gfm's.
 * Links only the public API. */
#include <stdio.h>
#include <stdlib.h>

#include <octavo.h>

int main(int argc, char **argv) {
    int n = argc - 1;
    char **data = calloc((size_t)n + 1, sizeof *data);
    size_t *len = calloc((size_t)n + 1, sizeof *len);
    long rounds = getenv("BENCH_ROUNDS") ? atol(getenv("BENCH_ROUNDS")) : 1;
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(argv[i + 1], "rb");
        if (!f) { perror(argv[i + 1]); return 1; }
        fseek(f, 0, SEEK_END);
        len[i] = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        data[i] = malloc(len[i] + 1);
        if (fread(data[i], 1, len[i], f) != len[i]) { perror(argv[i + 1]); return 1; }
        fclose(f);
    }
    octavo_error err;
    octavo *ov = octavo_new(NULL, &err);
    if (!ov) { fprintf(stderr, "%s\n", err.message); return 1; }
    double bytes = 0;
    for (long r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++) {
            octavo_doc *doc;
            /* the body too: the load alone leaves it for the first render */
            if (octavo_doc_load(ov, argv[i + 1], data[i], len[i], &doc, &err) || octavo_doc_parse(doc, &err)) {
                char msg[2048];
                octavo_error_format(&err, msg, sizeof msg);
                fprintf(stderr, "%s\n", msg);
                return 1;
            }
            octavo_doc_free(doc);
            bytes += (double)len[i];
        }
    fprintf(stderr, "%.0f\n", bytes);
    octavo_free(ov);
    for (int i = 0; i < n; i++) free(data[i]);
    free(data);
    free(len);
    return 0;
}
