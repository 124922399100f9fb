/* Replays every kept fuzz input (tests/fuzz/regress/TARGET/) through its target, without
 * libFuzzer: crashers found once stay tests. Built and run by `make check` as test_fuzz_replay. */
#define OV_REPLAY 1
#include <dirent.h>
#include <stdio.h>

#include "fuzz_load.c"
#include "fuzz_html.c"
#include "fuzz_epub.c"
#include "fuzz_pdf.c"
#include "fuzz_image.c"
#include "harness.h"

static void replay_dir(const char *dir, int (*fn)(const uint8_t *, size_t)) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
        size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
        fclose(f);
        t_name = path;
        CHECK(buf && fn(buf, got) == 0); /* a crash ends the binary: run.sh reports it */
        free(buf);
    }
    closedir(d);
}

int main(int argc, char **argv) {
    const char *top = argc > 1 ? argv[1] : "tests/fuzz/regress";
    char dir[4096];
    static const struct { const char *name; int (*fn)(const uint8_t *, size_t); } targets[] = {
        {"load", fuzz_load}, {"html", fuzz_html}, {"epub", fuzz_epub}, {"pdf", fuzz_pdf}, {"image", fuzz_image},
    };
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        snprintf(dir, sizeof dir, "%s/%s", top, targets[i].name);
        replay_dir(dir, targets[i].fn);
    }
    return t_done();
}
