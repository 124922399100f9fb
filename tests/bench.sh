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

# ---- rows against pandoc and WeasyPrint: the CLI on the blog's posts, in wall time (what a user
# waits; the acceptance checks measure it) and in CPU time (user + system: steadier when other jobs
# share the machine), with the peak memory of the largest process. Wall-time ratios on a loaded
# machine read low; the CPU ratio then says more.
blog=""
if [ -d "$corpus/blog" ]; then blog=$corpus/blog; fi
root=$(dirname "$corpus")
# timed FILE: runs each line of FILE (a command, words split as the shell would) in turn, output
# dropped; prints "WALL CPU MAXRSS_MB" over all of them
timed() {
    python3 -c 'import resource, shlex, subprocess, sys, time
cmds = [shlex.split(l) for l in open(sys.argv[1]) if l.strip()]
r0 = resource.getrusage(resource.RUSAGE_CHILDREN); t = time.perf_counter()
for c in cmds:
    subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
w = time.perf_counter() - t; r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.4f %.4f %d" % (w, r.ru_utime + r.ru_stime - r0.ru_utime - r0.ru_stime, r.ru_maxrss // 1024))' "$1"
}
# best FILE [N]: the least wall time of N (default 3) runs of timed (with that run's CPU and memory)
best() {
    b=""
    for try in $(seq "${2:-3}"); do
        t=$(timed "$1")
        b=$(printf '%s\n%s\n' "$t" "$b" | awk 'NF' | sort -n | head -1)
    done
    echo "$b"
}
# best_cold FILE CACHE_DIR: the best of two runs of timed, each with CACHE_DIR emptied first
best_cold() {
    b=""
    for try in 1 2; do
        rm -rf "$2"
        t=$(timed "$1")
        b=$(printf '%s\n%s\n' "$t" "$b" | awk 'NF' | sort -n | head -1)
    done
    echo "$b"
}
# cmp_row NAME "WALL CPU MB" (octavo) "WALL CPU MB" (anchor) ANCHOR GOAL [EXTRA]
cmp_row() {
    echo "$2 $3" | awk -v n="$1" -v a="$4" -v g="$5" -v x="$6" '{
        rw = $4 / $1; rc = $5 / $2
        printf "%s: octavo %.3f s (CPU %.3f s, %d MB), %s %.2f s (CPU %.2f s, %d MB): %.1fx wall, %.1fx CPU (goal >= %sx) %s%s\n",
            n, $1, $2, $3, a, $4, $5, $6, rw, rc, g, (rw >= g ? "ok" : (rc >= g ? "ok in CPU time" : "BELOW GOAL")), x }'
}
# a copy of the posts whose /img/ targets pandoc can find (it has no resource root)
pandoc_posts() {
    mkdir -p "$work/pp"
    for f in "$blog"/*.md; do
        sed "s|](/img/|]($root/img/|g" "$f" > "$work/pp/$(basename "$f")"
    done
}

# ---- row: 60 standalone HTML pages: octavo convert per post vs pandoc -s per post (pandoc on
# every third post, scaled: it takes some 0.2 s a page)
bench_html_vs_pandoc() {
    if [ -z "$blog" ] || ! command -v pandoc >/dev/null 2>&1; then echo "html: no blog posts or no pandoc, skipped"; return; fi
    [ -d "$work/pp" ] || pandoc_posts
    mkdir -p "$work/html"
    : > "$work/html.cmds"; : > "$work/phtml.cmds"
    n=0; k=0
    for f in "$blog"/*.md; do
        b=$(basename "$f" .md); n=$((n + 1))
        echo "$B/octavo convert '$f' -o '$work/html/$b.html' --root '$root' -q" >> "$work/html.cmds"
        if [ $((n % 3)) -eq 0 ]; then k=$((k + 1)); echo "pandoc -s '$work/pp/$b.md' -o '$work/html/p.html'" >> "$work/phtml.cmds"; fi
    done
    o=$(best "$work/html.cmds")
    p=$(timed "$work/phtml.cmds" | awk -v s="$n" -v k="$k" '{ printf "%.4f %.4f %d", $1 * s / k, $2 * s / k, $3 }')
    pages=$(awk -v n="$n" -v t="${o%% *}" 'BEGIN { printf "%.0f", n / t }')
    cmp_row "html, one process a page ($n pages, $pages pages/s)" "$o" "$p" "pandoc -s" 100 \
        " (the issue's 100x is for the site bundle: see the site row)"
    echo "$p" > "$work/phtml.time"
}

# ---- row: octavo site on the whole corpus (one process: HTML pages, index, feed and, when the
# site builds them, PDF and EPUB downloads; image cache warm, output folder fresh) vs the same
# from pandoc (HTML pages) + pandoc (the blog EPUB) + pandoc+WeasyPrint (a PDF per page),
# estimated per document from the rows above, as the acceptance check does
bench_site() {
    if [ ! -f "$work/phtml.time" ]; then echo "site: needs the html row, skipped"; return; fi
    site=$(dirname "$corpus")
    echo "$B/octavo site '$site' -o '$work/site' -q --cache-dir '$work/cache'" > "$work/site.cmds"
    rm -rf "$work/site"; timed "$work/site.cmds" > /dev/null # fills the image cache
    : > "$work/site.best"
    for try in 1 2 3; do rm -rf "$work/site"; timed "$work/site.cmds" >> "$work/site.best"; done
    o=$(sort -n "$work/site.best" | head -1)
    ndocs=$nfiles; nposts=$(ls "$blog"/*.md | wc -l)
    pdfs=$(find "$work/site" -name '*.pdf' | wc -l)
    p=$(cat "$work/phtml.time" "$work/pepub.time" "$work/ppdf.time" 2>/dev/null | awk -v d="$ndocs" -v n="$nposts" -v pdfs="$pdfs" '
        NR == 1 { w = $1 * d / n; c = $2 * d / n; m = $3 }
        NR == 2 && pdfs > 0 { w += $1; c += $2; if ($3 > m) m = $3 }
        NR == 3 && pdfs > 0 { w += $1 / 6 * d; c += $2 / 6 * d; if ($3 > m) m = $3 }
        END { printf "%.4f %.4f %d", w, c, m }')
    if [ "$pdfs" -gt 0 ]; then
        cmp_row "site ($ndocs documents: HTML, $pdfs PDFs, EPUB)" "$o" "$p" "pandoc+WeasyPrint (estimated)" 50
    else
        cmp_row "site ($ndocs HTML pages)" "$o" "$p" "pandoc -s (estimated)" 100
    fi
}

# ---- rows: the blog as one EPUB, cold (fresh image cache: 44 WebP conversions) and warm (the
# converted images from the cache) vs pandoc building an EPUB of the same posts
bench_epub_vs_pandoc() {
    if [ -z "$blog" ] || ! command -v pandoc >/dev/null 2>&1; then echo "epub: no blog posts or no pandoc, skipped"; return; fi
    [ -d "$work/pp" ] || pandoc_posts
    # shellcheck disable=SC2046
    echo "$B/octavo book $(for f in "$blog"/*.md; do printf "'%s' " "$f"; done) -o '$work/o.epub' --root '$root' -q --cache-dir '$work/cache'" > "$work/epub.cmds"
    echo "pandoc $(for f in "$work"/pp/*.md; do printf "'%s' " "$f"; done) -o '$work/p.epub'" > "$work/pepub.cmds"
    cold=$(best_cold "$work/epub.cmds" "$work/cache")
    warm=$(best "$work/epub.cmds" 5)
    p=$(timed "$work/pepub.cmds")
    echo "$p" > "$work/pepub.time"
    os=$(wc -c < "$work/o.epub"); ps=$(wc -c < "$work/p.epub")
    sizes=$(awk -v a="$os" -v b="$ps" 'BEGIN { printf ", EPUB %.1f MB vs %.1f MB", a / 1e6, b / 1e6 }')
    cmp_row "epub cold (44 WebP converted)" "$cold" "$p" "pandoc" 2 "$sizes"
    cmp_row "epub warm (images from the cache)" "$warm" "$p" "pandoc" 50
    echo "$cold $warm" | awk '{ m = ($3 > $6) ? $3 : $6; printf "epub peak memory: %d MB cold, %d MB warm (goal < 50 MB) %s\n", $3, $6, (m < 50 ? "ok" : "ABOVE GOAL") }'
}

# ---- rows: 6 posts as PDF one by one, cold and warm, vs pandoc -s to HTML then WeasyPrint
bench_pdf_vs_weasyprint() {
    if [ -z "$blog" ] || ! command -v pandoc >/dev/null 2>&1 || ! command -v weasyprint >/dev/null 2>&1; then
        echo "pdf: no blog posts, pandoc or weasyprint, skipped"; return
    fi
    [ -d "$work/pp" ] || pandoc_posts
    : > "$work/pdf.cmds"; : > "$work/ppdf.cmds"
    i=0
    for f in "$blog"/*.md; do
        i=$((i + 1)); [ $((i % 10)) -eq 1 ] || continue
        b=$(basename "$f" .md)
        echo "$B/octavo convert '$f' -o '$work/$b.pdf' --root '$root' -q --cache-dir '$work/pcache'" >> "$work/pdf.cmds"
        echo "pandoc -s '$work/pp/$b.md' -o '$work/w.html'" >> "$work/ppdf.cmds"
        echo "weasyprint '$work/w.html' '$work/w-$b.pdf'" >> "$work/ppdf.cmds"
    done
    rm -rf "$work/pcache"
    cold=$(timed "$work/pdf.cmds")
    warm=$(best "$work/pdf.cmds")
    p=$(timed "$work/ppdf.cmds")
    echo "$p" > "$work/ppdf.time"
    pages=0; wpages=0
    if command -v pdfinfo >/dev/null 2>&1; then
        for f in "$work"/*.pdf; do
            n=$(pdfinfo "$f" 2>/dev/null | awk '/^Pages:/ { print $2 }')
            case "$f" in "$work"/w-*) wpages=$((wpages + ${n:-0}));; *) pages=$((pages + ${n:-0}));; esac
        done
    fi
    os=$(cat "$work"/*.pdf | wc -c); ws=$(cat "$work"/w-*.pdf | wc -c); os=$((os - ws))
    extra=$(echo "$warm $p" | awk -v a="$pages" -v b="$wpages" -v s="$os" -v t="$ws" '{
        printf ", %d pages (%.0f pages/s) vs %d (%.1f pages/s), %.1f MB vs %.1f MB", a, a / $1, b, b / $4, s / 1e6, t / 1e6 }')
    cmp_row "pdf cold (6 posts)" "$cold" "$p" "pandoc+WeasyPrint" 30
    cmp_row "pdf warm (6 posts)" "$warm" "$p" "pandoc+WeasyPrint" 50 "$extra"
}

# ---- rows: the 60 posts as one PDF book (octavo book), cold (fresh image cache) and warm, vs
# pandoc making one standalone HTML of the same posts, then WeasyPrint (issue: 20x cold, 50x warm)
bench_blog_pdf_vs_weasyprint() {
    if [ -z "$blog" ] || ! command -v pandoc >/dev/null 2>&1 || ! command -v weasyprint >/dev/null 2>&1; then
        echo "blog pdf: no blog posts, pandoc or weasyprint, skipped"; return
    fi
    [ -d "$work/pp" ] || pandoc_posts
    # shellcheck disable=SC2046
    echo "$B/octavo book $(for f in "$blog"/*.md; do printf "'%s' " "$f"; done) -o '$work/blog.pdf' --root '$root' -q --cache-dir '$work/bcache'" > "$work/bpdf.cmds"
    echo "pandoc -s --metadata title=Blog $(for f in "$work"/pp/*.md; do printf "'%s' " "$f"; done) -o '$work/blog.html'" > "$work/pbpdf.cmds"
    echo "weasyprint '$work/blog.html' '$work/w-blog.pdf'" >> "$work/pbpdf.cmds"
    cold=$(best_cold "$work/bpdf.cmds" "$work/bcache")
    warm=$(best "$work/bpdf.cmds" 5)
    p=$(timed "$work/pbpdf.cmds")
    extra=""
    if command -v pdfinfo >/dev/null 2>&1; then
        a=$(pdfinfo "$work/blog.pdf" 2>/dev/null | awk '/^Pages:/ { print $2 }')
        b=$(pdfinfo "$work/w-blog.pdf" 2>/dev/null | awk '/^Pages:/ { print $2 }')
        extra=$(echo "$warm" | awk -v a="${a:-0}" -v b="${b:-0}" -v s="$(wc -c < "$work/blog.pdf")" -v t="$(wc -c < "$work/w-blog.pdf")" '{
            printf ", %d pages (%.0f pages/s) vs %d, %.1f MB vs %.1f MB", a, a / $1, b, s / 1e6, t / 1e6 }')
    fi
    rm -f "$work/w-blog.pdf" "$work/blog.pdf"
    cmp_row "blog pdf cold (60 posts, one book)" "$cold" "$p" "pandoc+WeasyPrint" 20
    cmp_row "blog pdf warm (60 posts, one book)" "$warm" "$p" "pandoc+WeasyPrint" 50 "$extra"
}

ROWS=${BENCH_ROWS:-"bench_load_vs_cmark bench_html_vs_pandoc bench_epub_vs_pandoc bench_pdf_vs_weasyprint bench_blog_pdf_vs_weasyprint bench_site"}
for r in $ROWS; do $r; done
