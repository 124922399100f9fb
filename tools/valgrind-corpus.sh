#!/bin/sh
# valgrind memcheck over the whole corpus: every page alone to HTML, EPUB and PDF, and the blog as
# one EPUB and one PDF, in one process (tools/corpus_render.c), with no error and no definite or
# indirect leak allowed.
#   tools/valgrind-corpus.sh [CORPUS]      default: $OCTAVO_CORPUS or ../shared/corpus/katacontainers.io
#   B=build                                the build folder whose liboctavo.a is used (built if needed)
# Exits 0 when clean, 99 when valgrind found an error or a leak, 1 when a render failed, and 0
# with a note when there is no corpus or no valgrind.
set -e
cd "$(dirname "$0")/.."
B=${B:-build}
CC=${CC:-cc}
corpus=${1:-${OCTAVO_CORPUS:-../shared/corpus/katacontainers.io}}
if [ ! -d "$corpus/pages" ]; then echo "valgrind-corpus: no corpus at $corpus, skipped"; exit 0; fi
if ! command -v valgrind >/dev/null 2>&1; then echo "valgrind-corpus: valgrind not installed, skipped"; exit 0; fi
make -s B="$B" static
# linked as the library is: not what it loads with dlopen (DL_PKGS: libzip, HarfBuzz; libharu)
pkgs=$(sed -n 's/^PKGS *:= *//p' Makefile)
dl_pkgs=$(sed -n 's/^DL_PKGS *:= *//p' Makefile)
link_pkgs=$(for p in $pkgs; do case " $dl_pkgs " in *" $p "*) ;; *) printf '%s ' "$p" ;; esac; done)
# shellcheck disable=SC2086
$CC -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O1 -g -Iinclude -I"$B/include" \
    -o "$B/corpus_render" tools/corpus_render.c "$B/liboctavo.a" \
    $(pkg-config --libs $link_pkgs) -lcmark-gfm-extensions -lhyphen -ldl -lm -lpthread
start=$(date +%s)
status=0
valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    --error-exitcode=99 --num-callers=30 "$B/corpus_render" "$corpus" || status=$?
echo "valgrind-corpus: exit $status after $(( $(date +%s) - start )) s"
exit $status
