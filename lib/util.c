/* Small helpers shared by the stages: UTF-8, slugs, SHA-256 (nettle), the build identity, RFC 3339
 * times. */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <nettle/sha2.h>

#include "internal.h"

/* ---- UTF-8 */

int ov_utf8_decode(const char *str, size_t n, uint32_t *cp) {
    const unsigned char *s = (const unsigned char *)str;
    uint32_t c, min;
    int len;
    if (!n) return 0;
    c = s[0];
    if (c < 0x80) { *cp = c; return 1; }
    if (c < 0xC2) return -1;                       /* continuation byte or overlong lead */
    if (c < 0xE0) { len = 2; c &= 0x1F; min = 0x80; }
    else if (c < 0xF0) { len = 3; c &= 0x0F; min = 0x800; }
    else if (c < 0xF5) { len = 4; c &= 0x07; min = 0x10000; }
    else return -1;
    if ((size_t)len > n) return -1;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return -1;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return -1;
    *cp = c;
    return len;
}

int ov_utf8_valid(const char *s, size_t n, size_t *bad) {
    size_t i = 0;
    while (i < n) {
        /* fast path over ASCII: eight bytes at a time while none has its top bit (the loads are
         * memcpy'd, so unaligned is fine), then a byte at a time */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= n) break;
        if ((unsigned char)s[i] < 0x80) { i++; continue; }
        uint32_t cp;
        int l = ov_utf8_decode(s + i, n - i, &cp);
        if (l <= 0) {
            if (bad) *bad = i;
            return 0;
        }
        i += (size_t)l;
    }
    return 1;
}

/* ---- slugs, as GitHub makes heading anchors: lower case; letters, digits, '-', '_' kept;
 * spaces become '-'; other ASCII punctuation and Unicode punctuation dropped. */

static int unicode_punct(uint32_t c) {
    return (c >= 0x00A1 && c <= 0x00BF && c != 0x00AA && c != 0x00B5 && c != 0x00BA) || c == 0x00D7 ||
           c == 0x00F7 || (c >= 0x2000 && c <= 0x206F) || (c >= 0x2190 && c <= 0x2BFF) ||
           (c >= 0x3000 && c <= 0x303F) || (c >= 0xFE10 && c <= 0xFE6F) || (c >= 0xFF01 && c <= 0xFF0F) ||
           (c >= 0x1F000 && c <= 0x1FAFF) || c == 0xFEFF;
}

char *ov_slug(const char *text) {
    ov_buf b;
    ov_buf_init(&b);
    ov_buf_put(&b, "", 0);
    size_t n = text ? strlen(text) : 0;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        int l = ov_utf8_decode(text + i, n - i, &c);
        if (l <= 0) { i++; continue; }
        if (c < 0x80) {
            if (c >= 'A' && c <= 'Z') ov_buf_putc(&b, (int)(c + 32));
            else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')
                ov_buf_putc(&b, (int)c);
            else if (c == ' ') ov_buf_putc(&b, '-');
        } else if (!unicode_punct(c)) {
            if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) {
                char u[2] = {(char)(0xC0 | ((c + 32) >> 6)), (char)(0x80 | ((c + 32) & 0x3F))};
                ov_buf_put(&b, u, 2);
            } else {
                ov_buf_put(&b, text + i, (size_t)l);
            }
        }
        i += (size_t)l;
    }
    if (b.failed) { ov_buf_free(&b); return NULL; }
    return ov_buf_detach(&b, NULL);
}

/* ---- SHA-256 from nettle (a maintained, constant-reviewed implementation) */
void ov_sha256(const void *data, size_t len, unsigned char out[32]) {
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, len, (const uint8_t *)data);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}

/* ---- byte encodings shared by the caches and the PDF's font entries */
void ov_hex(const unsigned char *d, size_t n, char *out) {
    static const char x[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = x[d[i] >> 4];
        out[2 * i + 1] = x[d[i] & 15];
    }
    out[2 * n] = 0;
}

void ov_le_put(unsigned char *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t ov_le_get(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* ---- the library's build identity: its GNU build-id note (the linker's hash of the code), so
 * that caches of what this code writes never outlive a change of the code. Without the note, the
 * version and this file's compile time. */
typedef struct build_id {
    unsigned char id[64];
    size_t len;
} build_id;

static build_id the_build_id;
static pthread_once_t build_id_once = PTHREAD_ONCE_INIT;

static int find_note(struct dl_phdr_info *info, size_t size, void *ud) {
    (void)size;
    uintptr_t me = (uintptr_t)ud;
    int mine = 0;
    for (int i = 0; i < info->dlpi_phnum && !mine; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && me >= lo && me - lo < ph->p_memsz) mine = 1;
    }
    if (!mine) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
            size_t nsz = (nh->n_namesz + 3) & ~(size_t)3, dsz = (nh->n_descsz + 3) & ~(size_t)3;
            const unsigned char *name = p + sizeof *nh, *desc = name + nsz;
            if ((size_t)(end - name) < nsz + dsz) break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4) && nh->n_descsz &&
                nh->n_descsz <= sizeof the_build_id.id) {
                memcpy(the_build_id.id, desc, nh->n_descsz);
                the_build_id.len = nh->n_descsz;
                return 1;
            }
            p = desc + dsz;
        }
    }
    return 1;
}

static void build_id_init(void) {
    dl_iterate_phdr(find_note, (void *)(uintptr_t)&ov_build_id);
    if (!the_build_id.len) {
        int n = snprintf((char *)the_build_id.id, sizeof the_build_id.id, "%s %s %s", octavo_version(), __DATE__,
                         __TIME__);
        the_build_id.len = n > 0 && (size_t)n < sizeof the_build_id.id ? (size_t)n : sizeof the_build_id.id - 1;
    }
}

const unsigned char *ov_build_id(size_t *len) {
    pthread_once(&build_id_once, build_id_init);
    *len = the_build_id.len;
    return the_build_id.id;
}

/* ---- times */

/* Howard Hinnant's civil_from_days: days since 1970-01-01 to y-m-d. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

void ov_time_rfc3339(const octavo_time *t, char *buf, size_t size) {
    if (!buf || !size) return;
    if (!t) { buf[0] = 0; return; }
    int64_t e = t->epoch;
    int64_t days = (e >= 0 ? e : e - 86399) / 86400;
    int64_t secs = e - days * 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, size, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d, (unsigned)(secs / 3600),
             (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= UINT64_C(0xBF58476D1CE4E5B9);
    x ^= x >> 27;
    x *= UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

void ov_hash128_feed(ov_hash128 *h, const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t a = h->a, b = h->b;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
                     (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
        a = (a ^ v) * UINT64_C(0x9E3779B97F4A7C15);
        a ^= a >> 32;
        b = (b + v) * UINT64_C(0xC2B2AE3D27D4EB4F);
        b ^= b >> 29;
    }
    uint64_t t = (uint64_t)n << 56;
    for (size_t k = 0; k < n; k++)
        t |= (uint64_t)p[k] << (8 * k);
    h->a = mix64(a ^ t);
    h->b = mix64(b + t + h->a);
}
