# octavo — plain Makefile. Targets: all static shared cli check install uninstall deps bench
#   make SAN=1 ...   builds into build-san/ with AddressSanitizer + UndefinedBehaviorSanitizer
#   make PREFIX=/usr DESTDIR=/tmp/x install

VERSION := $(shell cat VERSION)
MAJOR   := $(word 1,$(subst ., ,$(VERSION)))
MINOR   := $(word 2,$(subst ., ,$(VERSION)))
PATCH   := $(word 3,$(subst ., ,$(VERSION)))
# soname policy: the soname carries MAJOR; it changes only when the ABI breaks (see README).
SONAME  := liboctavo.so.$(MAJOR)

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
PCDIR   ?= $(LIBDIR)/pkgconfig

CC      ?= cc
# Debian packages the library needs (make deps installs them; the installed octavo.pc names the
# pkg-config modules linked, LINK_PKGS below; libhpdf and libhyphen ship no .pc file).
PKGS    := libcmark-gfm yaml-0.1 libzip libxml-2.0 libwebp libwebpdemux libpng libjpeg libgif freetype2 harfbuzz harfbuzz-subset zlib nettle
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Loaded with dlopen on first use rather than linked (DL_PKGS; the headers are still needed):
#  - libzip, by lib/zipdl.c when the first EPUB is written (it brings libcrypto, ~2 ms at every
#    process start);
#  - HarfBuzz, its subsetter and libharu (no .pc file: -lhpdf is simply not linked), by
#    lib/pdfdl.c when the first PDF is made (they bring glib, pcre2, graphite2, freetype and
#    brotli: 2.7 ms at every process start). freetype2 is here for HarfBuzz's headers only:
#    octavo calls no FreeType function.
# Each soname is the one of the library the headers belong to. -ldl: dlopen is in libc from glibc
# 2.34 on (then -ldl finds only the empty libdl.a and adds nothing).
DL_PKGS    := libzip harfbuzz harfbuzz-subset freetype2
LINK_PKGS  := $(filter-out $(DL_PKGS),$(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(LINK_PKGS) 2>/dev/null) -lcmark-gfm-extensions -lhyphen -ldl -lm -lpthread
soname_of   = $(shell readelf -d $(1) 2>/dev/null | sed -n 's/.*soname: \[\(.*\)\].*/\1/p')
ZIP_SONAME := $(call soname_of,$$(pkg-config --variable=libdir libzip 2>/dev/null)/libzip.so)
HB_SONAME  := $(call soname_of,$$(pkg-config --variable=libdir harfbuzz 2>/dev/null)/libharfbuzz.so)
HBS_SONAME := $(call soname_of,$$(pkg-config --variable=libdir harfbuzz-subset 2>/dev/null)/libharfbuzz-subset.so)
HPDF_SONAME := $(call soname_of,$(shell $(CC) -print-file-name=libhpdf.so))
DL_DEF     := $(if $(ZIP_SONAME),-DOV_LIBZIP_SONAME='"$(ZIP_SONAME)"') \
              $(if $(HB_SONAME),-DOV_HB_SONAME='"$(HB_SONAME)"') \
              $(if $(HBS_SONAME),-DOV_HB_SUBSET_SONAME='"$(HBS_SONAME)"') \
              $(if $(HPDF_SONAME),-DOV_HPDF_SONAME='"$(HPDF_SONAME)"')
# the tests read EPUBs back with libzip, and test_font.c asks HarfBuzz itself
TEST_LIBS  := $(PKG_LIBS) $(shell pkg-config --libs libzip harfbuzz 2>/dev/null)

ifeq ($(SAN),1)
B       ?= build-san
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDSAN   := -fsanitize=address,undefined
else
B       ?= build
OPT     ?= -O2 -g
LDSAN   :=
endif

WARN    := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS_ALL := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT) $(WARN) $(CFLAGS) \
              -Iinclude -I$(B)/include -Ilib $(PKG_CFLAGS)

LIB_SRC := $(sort $(wildcard lib/*.c))
LIB_OBJ := $(LIB_SRC:lib/%.c=$(B)/obj/%.o)
PIC_OBJ := $(LIB_SRC:lib/%.c=$(B)/pic/%.o)
CLI_SRC := $(sort $(wildcard examples/cli/*.c))
CLI_OBJ := $(CLI_SRC:examples/cli/%.c=$(B)/cli/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)
VERSION_H := $(B)/include/octavo_version.h
FONTS_MK := $(B)/fonts.h

.PHONY: all static shared cli check install uninstall deps bench clean fuzz example
all: static shared cli

static: $(B)/liboctavo.a
shared: $(B)/liboctavo.so
cli: $(B)/octavo

$(VERSION_H): include/octavo_version.h.in VERSION
	@mkdir -p $(dir $@)
	sed -e 's/@MAJOR@/$(MAJOR)/; s/@MINOR@/$(MINOR)/; s/@PATCH@/$(PATCH)/; s/@VERSION@/$(VERSION)/' $< > $@

$(FONTS_MK): fonts/fonts.conf fonts/locate
	@mkdir -p $(dir $@)
	sh fonts/locate > $@.tmp && mv $@.tmp $@

$(B)/obj/%.o: lib/%.c $(VERSION_H) $(FONTS_MK) $(wildcard lib/*.h) include/octavo.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(DL_DEF) -fvisibility=hidden -include $(FONTS_MK) -c $< -o $@

$(B)/pic/%.o: lib/%.c $(VERSION_H) $(FONTS_MK) $(wildcard lib/*.h) include/octavo.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(DL_DEF) -fPIC -fvisibility=hidden -include $(FONTS_MK) -c $< -o $@

$(B)/liboctavo.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/liboctavo.so: $(PIC_OBJ) lib/octavo.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/octavo.map $(LDSAN) -o $(B)/liboctavo.so.$(VERSION) $(PIC_OBJ) $(PKG_LIBS)
	ln -sf liboctavo.so.$(VERSION) $(B)/$(SONAME)
	ln -sf $(SONAME) $@

$(B)/cli/%.o: examples/cli/%.c $(VERSION_H) include/octavo.h $(wildcard examples/cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Iexamples/cli -c $< -o $@

# The CLI links the static library: it runs from the build tree without LD_LIBRARY_PATH.
# It also links statically the dependencies whose Debian -dev package ships an archive and that
# no remaining shared library needs (CLI_STATIC): every shared library costs each process start
# its loading and symbol relocations, and the CLI is started once per document (measured: 9 fewer
# libraries take ~1.2 ms off every `octavo convert`). Where an archive is missing, the library is
# linked shared as before.
LD_STATIC  := -Wl,-Bstatic
LD_DYNAMIC := -Wl,-Bdynamic
CLI_STATIC_CAND := cmark-gfm-extensions cmark-gfm yaml webpdemux webp jpeg gif nettle hyphen
ifeq ($(SAN),1)
CLI_STATIC :=
else
CLI_STATIC := $(foreach l,$(CLI_STATIC_CAND),$(if $(filter /%,$(shell $(CC) -print-file-name=lib$(l).a)),$(l)))
endif
# libxml2 as well, without ICU (CLI_XML): Debian's libxml2 uses ICU only for character sets iconv
# lacks, octavo gives it UTF-8 only, and a shared libxml2 loads libicuuc and libstdc++ into every
# process (3 ms of each start: `octavo --version` 9.1 -> 6.0 ms). tools/icu_none.c answers the
# archive's few ucnv_ references with "no such converter". Only when the archive asks for no other
# ICU function than those (ICU_KNOWN); else libxml2 stays shared.
ICU_KNOWN := UCNV_FROM_U_CALLBACK_STOP UCNV_TO_U_CALLBACK_STOP ucnv_close ucnv_convertEx ucnv_open \
             ucnv_setFromUCallBack ucnv_setToUCallBack
ifneq ($(SAN),1)
XML2_A    := $(filter /%,$(shell $(CC) -print-file-name=libxml2.a))
LZMA_A    := $(filter /%,$(shell $(CC) -print-file-name=liblzma.a))
endif
XML2_ICU  := $(if $(XML2_A),$(shell nm -u $(XML2_A) 2>/dev/null | awk '$$1 == "U" && $$2 ~ /^(ucnv|UCNV|u_|icu|ubrk|uset|utf8_|utrans)/ { print $$2 }' | sort -u))
ICU_SUFFIX := $(shell echo '$(firstword $(XML2_ICU))' | sed -n 's/.*\(_[0-9][0-9]*\)$$/\1/p')
ICU_OK    := $(and $(XML2_A),$(LZMA_A),$(ICU_SUFFIX),$(if $(filter-out $(ICU_KNOWN:%=%$(ICU_SUFFIX)),$(XML2_ICU)),,yes))
CLI_XML_OBJ := $(if $(ICU_OK),$(B)/cli-icu_none.o)
CLI_XML   := $(if $(ICU_OK),-lxml2 -llzma)
CLI_LIBS := $(if $(CLI_STATIC)$(CLI_XML),$(LD_STATIC) $(CLI_STATIC:%=-l%) $(CLI_XML) $(LD_DYNAMIC)) $(PKG_LIBS)
$(B)/cli-icu_none.o: tools/icu_none.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DOV_ICU_SUFFIX=$(ICU_SUFFIX) -c $< -o $@
$(B)/octavo: $(CLI_OBJ) $(CLI_XML_OBJ) $(B)/liboctavo.a
	$(CC) $(LDSAN) -o $@ $(CLI_OBJ) $(CLI_XML_OBJ) $(B)/liboctavo.a $(CLI_LIBS)

# Tests link the static library too (they may use internal functions declared in lib/*.h).
$(B)/tests/%: tests/%.c tests/harness.h $(B)/liboctavo.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests -o $@ $< $(B)/liboctavo.a $(TEST_LIBS) $(LDSAN)

check: all $(TEST_BIN)
	@B=$(B) sh tests/run.sh $(TEST_BIN)

bench: all
	@B=$(B) sh tests/bench.sh

fuzz:
	@$(MAKE) -s -f tests/fuzz/Makefile

example: all
	$(B)/octavo site examples/site -o out/example

deps:
	@sh tools/deps.sh

install: all
	install -d $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(PCDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 644 include/octavo.h $(VERSION_H) $(DESTDIR)$(INCDIR)/
	install -m 644 $(B)/liboctavo.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(B)/liboctavo.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf liboctavo.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/liboctavo.so
	install -m 755 $(B)/octavo $(DESTDIR)$(BINDIR)/
	[ ! -f examples/cli/octavo.1 ] || install -m 644 examples/cli/octavo.1 $(DESTDIR)$(MANDIR)/man1/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCDIR@|$(INCDIR)|; s|@VERSION@|$(VERSION)|; s|@PKGS@|$(LINK_PKGS)|' \
	    pkgconfig/octavo.pc.in > $(DESTDIR)$(PCDIR)/octavo.pc

uninstall:
	rm -f $(DESTDIR)$(INCDIR)/octavo.h $(DESTDIR)$(INCDIR)/octavo_version.h
	rm -f $(DESTDIR)$(LIBDIR)/liboctavo.a $(DESTDIR)$(LIBDIR)/liboctavo.so $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/liboctavo.so.$(VERSION)
	rm -f $(DESTDIR)$(BINDIR)/octavo $(DESTDIR)$(MANDIR)/man1/octavo.1 $(DESTDIR)$(PCDIR)/octavo.pc

clean:
	rm -rf build build-san out
