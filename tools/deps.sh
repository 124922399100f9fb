#!/bin/sh
# make deps: the Debian packages octavo needs to build, run and test.
#  - as root: apt-get update, then apt-get install only what dpkg-query says is missing;
#  - otherwise: print the exact "sudo apt-get install ..." line and exit 1 when anything is missing.
# The font packages are read from fonts/fonts.conf (its PACKAGE column), so the fonts the PDF
# backend names are always installed with it.
set -e
here=$(cd "$(dirname "$0")/.." && pwd)

# to build the library and the CLI (pkg-config modules in the Makefile's PKGS, plus libharu and
# libhyphen, which ship no .pc file)
build="make gcc g++ clang pkg-config
  libcmark-gfm-dev libcmark-gfm-extensions-dev libyaml-dev libhpdf-dev libzip-dev libwebp-dev
  libxml2-dev libhyphen-dev hyphen-en-us libharfbuzz-dev libfreetype-dev libpng-dev libjpeg-dev
  libgif-dev zlib1g-dev nettle-dev"
# fonts for PDF: the PACKAGE column of fonts/fonts.conf (and DejaVu, the fallback)
fonts="fonts-dejavu-core fonts-dejavu-extra"
if [ -f "$here/fonts/fonts.conf" ]; then
    fonts="$fonts $(awk '!/^[[:space:]]*#/ && NF >= 3 { print $2 }' "$here/fonts/fonts.conf")"
fi
# to test: validators and dumpers the tests and CI call
tests="epubcheck poppler-utils qpdf mupdf-tools cmark-gfm libxml2-utils python3 python3-yaml valgrind
  default-jre-headless util-linux"

all=$(printf '%s\n' $build $fonts $tests | awk 'NF && !seen[$0]++')

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: this is not a Debian-like system; install the equivalents of:" >&2
    echo "  $(echo $all)" >&2
    exit 1
fi

missing=""
for p in $all; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed'; then
        missing="$missing $p"
    fi
done

# Every pkg-config module the Makefile names (PKGS) must be found once the packages are in:
# catches a module added to the Makefile whose -dev package this list lacks.
check_modules() {
    mods=$(sed -n 's/^PKGS[[:space:]]*:=//p' "$here/Makefile")
    bad=""
    for m in $mods; do pkg-config --exists "$m" 2>/dev/null || bad="$bad $m"; done
    if [ -n "$bad" ]; then
        echo "deps: pkg-config cannot find$bad: add the Debian package that holds it to tools/deps.sh" >&2
        echo "      (dpkg -S $(echo $bad | cut -d' ' -f1).pc, or apt-file search, names it)" >&2
        return 1
    fi
}

if [ -z "$missing" ]; then
    check_modules
    echo "deps: all $(echo $all | wc -w) packages are installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update </dev/null
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing </dev/null
    check_modules
else
    echo "deps: missing packages; run:" >&2
    echo "sudo apt-get install -y$missing"
    exit 1
fi
