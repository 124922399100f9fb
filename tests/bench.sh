#!/bin/sh
# make bench: throughput of octavo against the tools installed here, as ratios, in one run.
# Each row is a function below: it prints "name: octavo X MB/s, ANCHOR Y MB/s, ratio R x (goal G)",
# in CPU time (user + system), so that other jobs on the machine do not skew the ratio.
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

# mbps BYTES SECONDS
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / s / 1e6 }'; }
# row NAME OURS_BYTES OURS_SECONDS ANCHOR ANCHOR_BYTES ANCHOR_SECONDS GOAL
row() {
    ours=$(mbps "$2" "$3"); theirs=$(mbps "$5" "$6")
    ratio=$(awk -v a="$2" -v b="$3" -v c="$5" -v d="$6" 'BEGIN { printf "%.2f", (a / b) / (c / d) }')
    ok=$(awk -v r="$ratio" -v g="$7" 'BEGIN { print (r >= g) ? "ok" : "BELOW GOAL" }')
    echo "$1: octavo $ours MB/s, $4 $theirs MB/s, ratio ${ratio}x (goal >= ${7}x) $ok"
}
# cpu_time CMD...: runs CMD (output dropped), prints the CPU seconds (user + system) it took.
# CPU time rather than wall time: several builds may share this machine.
cpu_time() {
    python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.6f" % (r.ru_utime + r.ru_stime))' "$@"
}
# best_of_3 CMD...: the least CPU time of three runs
best_of_3() {
    best=""
    for try in 1 2 3; do
        t=$(cpu_time "$@")
        best=$(awk -v a="$t" -v b="$best" 'BEGIN { if (b == "" || a + 0 < b + 0) print a; else print b }')
    done
    echo "$best"
}

# ---- row: loading (frontmatter + Markdown parse) vs cmark-gfm turning the same bytes into HTML
bench_load_vs_cmark() {
    if ! command -v cmark-gfm >/dev/null 2>&1; then echo "load: cmark-gfm not installed, skipped"; return; fi
    $CC -O2 -Iinclude -I"$B/include" tests/bench_load.c -L"$B" -loctavo -Wl,-rpath,"$PWD/$B" -o "$work/bench_load"
    # both read the corpus about 20 times over (some 8 MB), so that starting a process weighs
    # nothing: cmark-gfm as one input of that many copies, octavo as that many rounds of loading
    # each document; the best of three runs each
    copies=$(awk -v t="$bytes" 'BEGIN { c = int(8e6 / t); print (c < 1) ? 1 : c }')
    i=0; : > "$work/rep.md"
    while [ "$i" -lt "$copies" ]; do cat "$work/all.md" >> "$work/rep.md"; i=$((i + 1)); done
    cb=$(wc -c < "$work/rep.md")
    os=$(best_of_3 env BENCH_ROUNDS="$copies" "$work/bench_load" $(cat "$work/files"))
    cs=$(best_of_3 cmark-gfm -e table -e strikethrough -e autolink -e tagfilter -e tasklist --unsafe "$work/rep.md")
    row "load (frontmatter + parse)" "$cb" "$os" "cmark-gfm to HTML" "$cb" "$cs" 0.5
}

# ---- rows to come: each measures the CLI on the same documents against an anchor tool.
bench_html_vs_pandoc() { :; }   # octavo convert --to html   vs  pandoc -f gfm -t html
bench_epub_vs_pandoc() { :; }   # octavo book -o x.epub      vs  pandoc -o x.epub
bench_pdf_vs_weasyprint() { :; } # octavo convert --to pdf   vs  weasyprint on pandoc's HTML

ROWS="bench_load_vs_cmark bench_html_vs_pandoc bench_epub_vs_pandoc bench_pdf_vs_weasyprint"
for r in $ROWS; do $r; done
