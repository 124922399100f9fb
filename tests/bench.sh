#!/bin/sh
# make bench: throughput of octavo against the tools installed here, as ratios, in one run.
# Each row is a function below: it prints "name: octavo X MB/s, ANCHOR Y MB/s, ratio R x (goal G)".
# To add a row (HTML vs pandoc, EPUB vs pandoc, PDF vs WeasyPrint ...), write a bench_* function
# and add it to ROWS at the end.
#   B=build        the build folder (the Makefile passes it)
#   OCTAVO_CORPUS  the Markdown corpus (default ../shared/corpus/katacontainers.io, else examples/site)
#   BENCH_SECONDS  how long each measurement runs, at least (default 1)
set -e
B=${B:-build}
CC=${CC:-cc}
corpus=${OCTAVO_CORPUS:-../shared/corpus/katacontainers.io}
if [ -d "$corpus/pages" ]; then corpus=$corpus/pages; else corpus=examples/site; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

find "$corpus" -name '*.md' | sort > "$work/files"
nfiles=$(wc -l < "$work/files")
if [ "$nfiles" -eq 0 ]; then echo "bench: no Markdown under $corpus"; exit 1; fi
# shellcheck disable=SC2046
cat $(cat "$work/files") > "$work/all.md"
bytes=$(wc -c < "$work/all.md")
echo "bench: $nfiles documents, $bytes bytes from $corpus"

now() { date +%s.%N; }
# mbps BYTES SECONDS
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / s / 1e6 }'; }
# row NAME OURS_BYTES OURS_SECONDS ANCHOR ANCHOR_BYTES ANCHOR_SECONDS GOAL
row() {
    ours=$(mbps "$2" "$3"); theirs=$(mbps "$5" "$6")
    ratio=$(awk -v a="$2" -v b="$3" -v c="$5" -v d="$6" 'BEGIN { printf "%.2f", (a / b) / (c / d) }')
    ok=$(awk -v r="$ratio" -v g="$7" 'BEGIN { print (r >= g) ? "ok" : "BELOW GOAL" }')
    echo "$1: octavo $ours MB/s, $4 $theirs MB/s, ratio ${ratio}x (goal >= ${7}x) $ok"
}
# repeat_time N CMD...: runs CMD N times, prints the seconds it took
repeat_time() {
    n=$1; shift
    t0=$(now); i=0
    while [ "$i" -lt "$n" ]; do "$@" > /dev/null; i=$((i + 1)); done
    awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.6f", b - a }'
}

# ---- row: loading (frontmatter + Markdown parse) vs cmark-gfm turning the same bytes into HTML
bench_load_vs_cmark() {
    if ! command -v cmark-gfm >/dev/null 2>&1; then echo "load: cmark-gfm not installed, skipped"; return; fi
    $CC -O2 -Iinclude -I"$B/include" tests/bench_load.c -L"$B" -loctavo -Wl,-rpath,"$PWD/$B" -o "$work/bench_load"
    # shellcheck disable=SC2046
    set -- $("$work/bench_load" $(cat "$work/files"))
    ob=$1 os=$2
    # cmark-gfm on one input of the whole corpus, repeated to run about as long
    reps=$(awk -v b="$ob" -v t="$bytes" 'BEGIN { r = int(b / t / 4); print (r < 1) ? 1 : r }')
    i=0; : > "$work/rep.md"
    while [ "$i" -lt 4 ]; do cat "$work/all.md" >> "$work/rep.md"; i=$((i + 1)); done
    cs=$(repeat_time "$reps" sh -c "cmark-gfm -e table -e strikethrough -e autolink -e tagfilter -e tasklist --unsafe '$work/rep.md'")
    cb=$(awk -v r="$reps" -v t="$bytes" 'BEGIN { printf "%.0f", r * t * 4 }')
    row "load (frontmatter + parse)" "$ob" "$os" "cmark-gfm to HTML" "$cb" "$cs" 0.5
}

# ---- rows to come: each measures the CLI on the same documents against an anchor tool.
bench_html_vs_pandoc() { :; }   # octavo convert --to html   vs  pandoc -f gfm -t html
bench_epub_vs_pandoc() { :; }   # octavo book -o x.epub      vs  pandoc -o x.epub
bench_pdf_vs_weasyprint() { :; } # octavo convert --to pdf   vs  weasyprint on pandoc's HTML

ROWS="bench_load_vs_cmark bench_html_vs_pandoc bench_epub_vs_pandoc bench_pdf_vs_weasyprint"
for r in $ROWS; do $r; done
