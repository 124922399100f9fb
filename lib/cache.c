/*
 * The converted-image cache: one file per entry under the handle's cache folder, named by its key
 * (a content hash plus the conversion's version, so an entry can never be stale).
 *
 * An entry is a 16-byte header, then the payload:
 *     "OVC2" | payload length (8 bytes, little-endian) | CRC-32 of the payload (little-endian)
 * A get that finds a short, long or altered file treats it as a miss (and the next put replaces it).
 * The check guards against torn and damaged files, not against someone who may write the folder
 * (they could write any valid entry): CRC-32 catches every burst of up to 32 bits and anything
 * else but 1 in 4e9, at 5 GB/s, where SHA-256 ran at 1.4 GB/s here and a warm EPUB rebuild of
 * the corpus verifies 7.7 MB of entries (5.4 ms vs 1.4 ms of a ~25 ms budget).
 * A put writes a temporary file in the same folder and renames it into place, so concurrent
 * readers (threads or processes) see the old entry, no entry, or the whole new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "image.h"

#define HDR 16
static const char magic[4] = {'O', 'V', 'C', '2'};

static const char *cache_dir(const octavo *ov) {
    if (!ov || !ov->cache_dir || !*ov->cache_dir || (ov->opt.flags & OCTAVO_NO_CACHE)) return NULL;
    return ov->cache_dir;
}

int ov_cache_on(const octavo *ov) { return cache_dir(ov) != NULL; }

/* Keys name files: letters, digits, '-', '_' and '.', not starting with '.', not too long. */
static int key_ok(const char *key) {
    size_t n = 0;
    if (!key || !*key || key[0] == '.') return 0;
    for (const char *p = key; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return 0;
    }
    return n <= 200;
}

static char *entry_path(const char *dir, const char *name) {
    ov_buf b;
    ov_buf_init(&b);
    ov_buf_printf(&b, "%s/%s", dir, name);
    return ov_buf_detach(&b, NULL);
}

static uint32_t crc(const unsigned char *p, size_t n) {
    uLong c = crc32(0, Z_NULL, 0);
    while (n) { /* crc32 takes a uInt length */
        uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

static int read_all(int fd, unsigned char *p, size_t n) {
    while (n) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads and checks an entry's header from fd: a regular file with our magic whose recorded length
 * is the rest of the file and within the output limit. 1 with *n that length and *want its CRC. */
static int read_header(const octavo *ov, int fd, struct stat *st, uint64_t *n, uint32_t *want) {
    unsigned char hdr[HDR];
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || st->st_size < HDR || read_all(fd, hdr, HDR) != 0 ||
        memcmp(hdr, magic, 4) != 0)
        return 0;
    uint64_t len = ov_le_get(hdr + 4, 8);
    size_t lim = ov->opt.limits.output_bytes ? ov->opt.limits.output_bytes : (size_t)1 << 30;
    if (len != (uint64_t)st->st_size - HDR || len > lim)
        return 0;
    *n = len;
    *want = (uint32_t)ov_le_get(hdr + 12, 4);
    return 1;
}

int ov_cache_get(const octavo *ov, const char *key, unsigned char **data, size_t *len) {
    const char *dir = cache_dir(ov);
    if (data) *data = NULL;
    if (len) *len = 0;
    if (!dir || !key_ok(key) || !data || !len) return 0;
    char *path = entry_path(dir, key);
    if (!path) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ov_free(path);
    if (fd < 0) return 0;
    unsigned char *p = NULL;
    struct stat st;
    uint64_t n;
    uint32_t want;
    int ok = 0;
    if (read_header(ov, fd, &st, &n, &want) && (p = ov_malloc(n ? (size_t)n : 1)) && read_all(fd, p, (size_t)n) == 0 &&
        crc(p, (size_t)n) == want) {
        *data = p;
        *len = (size_t)n;
        ok = 1;
    }
    close(fd);
    if (!ok) ov_free(p);
    return ok;
}

/* The racily-clean margin (see the source index below): how long after a file's last change a
 * later change may still leave the same stat. A local file system stamps files from the kernel's
 * coarse clock, the one CLOCK_REALTIME reads, in steps of a scheduler tick (at most 10 ms): 50 ms
 * covers it five times. Any other (NFS, SMB, FUSE: stamps from another machine's clock, maybe
 * behind ours; FAT: 2 s steps) keeps 3 s. The margin used to be 1 s everywhere, which made every
 * rebuild in the second after a build check its images whole (a warm blog EPUB: +5 ms). */
#define MARGIN_LOCAL_NS 50000000L
#define MARGIN_OTHER_NS 3000000000L
static long margin_override = -1; /* a test's, when >= 0 */

void ov_test_src_index_margin(long ns) { margin_override = ns; }

static int local_fs(const char *path) {
    struct statfs f;
    if (statfs(path, &f) != 0) return 0;
    switch ((unsigned long)f.f_type) {
    case 0xEF53UL:     /* ext2, ext3, ext4 */
    case 0x58465342UL: /* xfs */
    case 0x9123683EUL: /* btrfs */
    case 0x01021994UL: /* tmpfs */
    case 0xF2F52010UL: /* f2fs */
    case 0x2FC12FC1UL: /* zfs */
    case 0x794C7630UL: /* overlayfs (containers), over one of these */
        return 1;
    default:
        return 0;
    }
}

/* The margin for path, a file on device dev: found once per device and process. */
static long src_margin_ns(const char *path, dev_t dev) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static struct { dev_t dev; long margin; } seen[8];
    static size_t nseen;
    if (margin_override >= 0) return margin_override;
    long m = -1;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nseen && m < 0; i++)
        if (seen[i].dev == dev) m = seen[i].margin;
    pthread_mutex_unlock(&lock);
    if (m >= 0) return m;
    m = local_fs(path) ? MARGIN_LOCAL_NS : MARGIN_OTHER_NS;
    pthread_mutex_lock(&lock);
    if (nseen < sizeof seen / sizeof *seen) {
        seen[nseen].dev = dev;
        seen[nseen++].margin = m;
    }
    pthread_mutex_unlock(&lock);
    return m;
}

static long long ns_of(const struct timespec *t) { return (long long)t->tv_sec * 1000000000LL + t->tv_nsec; }

/* A hit checked without holding the payload: read through a small buffer for the CRC; the first
 * head_size bytes are kept for the caller to probe. The EPUB writer then copies the entry's file
 * into the zip (OV_CACHE_HDR bytes in), so a warm build holds no image in memory. */
int ov_cache_peek(const octavo *ov, const char *key, unsigned char *head, size_t head_size, size_t *head_len,
                  size_t *len, uint32_t *crc_out, char **path_out) {
    return ov_cache_peek_trust(ov, key, head, head_size, head_len, len, crc_out, path_out, NULL, NULL, 0);
}

int ov_cache_peek_trust(const octavo *ov, const char *key, unsigned char *head, size_t head_size, size_t *head_len,
                        size_t *len, uint32_t *crc_out, char **path_out, const char *trust, char *token,
                        size_t token_size) {
    const char *dir = cache_dir(ov);
    *head_len = 0;
    *len = 0;
    *crc_out = 0;
    *path_out = NULL;
    if (token && token_size) token[0] = 0;
    if (!dir || !key_ok(key)) return 0;
    char *path = entry_path(dir, key);
    if (!path) return 0;
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now)) now.tv_sec = 0, now.tv_nsec = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { ov_free(path); return 0; }
    unsigned char chunk[32768];
    struct stat st;
    uint64_t n;
    uint32_t want;
    int ok = 0;
    if (read_header(ov, fd, &st, &n, &want)) {
        /* what identifies this very file as it is: the name and the stat a change would alter */
        char tok[300];
        snprintf(tok, sizeof tok, "%s %ju %ju %jd %jd %ld %jd %ld", key, (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
                 (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec,
                 (intmax_t)st.st_ctim.tv_sec, (long)st.st_ctim.tv_nsec);
        int trusted = trust && *trust && !strcmp(trust, tok);
        uLong c = crc32(0, Z_NULL, 0);
        uint64_t left = n;
        ok = 1;
        /* checked whole, or (trusted: checked so by an earlier build, unchanged since) only
         * its head read; the EPUB writer checks the CRC again as it copies the bytes */
        while (left && ok && (!trusted || *head_len < head_size)) {
            size_t k = left > sizeof chunk ? sizeof chunk : (size_t)left;
            if (trusted && k > head_size - *head_len) k = head_size - *head_len;
            if (read_all(fd, chunk, k)) { ok = 0; break; }
            if (*head_len < head_size) {
                size_t h = head_size - *head_len < k ? head_size - *head_len : k;
                memcpy(head + *head_len, chunk, h);
                *head_len += h;
            }
            if (!trusted) c = crc32(c, chunk, (uInt)k);
            left -= k;
        }
        if (ok && (trusted || (uint32_t)c == want)) {
            *len = (size_t)n;
            *crc_out = want;
            /* a token only for a file older than the margin: a later change alters its ctime */
            long long at = ns_of(&now) - src_margin_ns(path, st.st_dev);
            if (token && token_size && ns_of(&st.st_ctim) <= at && ns_of(&st.st_mtim) <= at &&
                strlen(tok) < token_size)
                memcpy(token, tok, strlen(tok) + 1);
        } else {
            ok = 0;
        }
    }
    close(fd);
    if (ok) *path_out = path;
    else ov_free(path);
    return ok;
}

/* mkdir -p, the folders made private to the user */
static int make_dirs(const char *dir) {
    struct stat st;
    if (stat(dir, &st) == 0) return S_ISDIR(st.st_mode) ? 0 : -1;
    char *p = ov_strdup(dir);
    if (!p) return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0700) != 0 && errno != EEXIST) { ov_free(p); return -1; }
        *s = '/';
    }
    int rc = mkdir(p, 0700) != 0 && errno != EEXIST ? -1 : 0;
    ov_free(p);
    return rc;
}

void ov_cache_put(const octavo *ov, const char *key, const void *data, size_t len) {
    const char *dir = cache_dir(ov);
    if (!dir || !key_ok(key) || (!data && len)) return;
    if (make_dirs(dir)) return;
    unsigned char hdr[HDR];
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr, magic, 4);
    ov_le_put(hdr + 4, len, 8);
    uint32_t c = crc(data, len);
    ov_le_put(hdr + 12, c, 4);
    ov_buf b;
    ov_buf_init(&b);
    ov_buf_printf(&b, "%s/.tmp-%s-XXXXXX", dir, key);
    char *tmp = ov_buf_detach(&b, NULL);
    char *path = entry_path(dir, key);
    if (!tmp || !path) goto out;
    int fd = mkstemp(tmp);
    if (fd < 0) goto out;
    int bad = write_all(fd, hdr, HDR) || write_all(fd, data, len);
    bad |= close(fd) != 0;
    if (bad || rename(tmp, path) != 0) unlink(tmp);
out:
    ov_free(tmp);
    ov_free(path);
}

/* ---- the source index: a source file's SHA-256, remembered under its path with the stat facts
 * it had when hashed, so that a rebuild finds its conversion without reading and hashing the
 * source again (ccache's direct mode and git's index do the same). Entry "src-<sha256 of the
 * path>", one per path (replaced when the file changes), holding one line of text:
 *     OVS1 sha-hex flags-hex dev ino size mtime.s mtime.ns ctime.s ctime.ns path crc32-hex\n
 * the CRC covering everything before its space; then, once a build has checked the conversion's
 * cache entry whole, "OVE1 token crc32-hex\n" with the entry's name and stat (ov_cache_peek_trust):
 * while they are the same, the next build reads only its head (the EPUB writer checks the CRC as
 * it copies the bytes, and fails rather than pack changed ones). The entry must be the very line rebuilt from the
 * file's stat now: any difference (a field, the path, a short, long or altered entry) is a miss,
 * and the caller hashes the bytes as before. An entry is only written for a file whose ctime and
 * mtime are older than the moment it was read by a margin: a change after that moment gives a
 * later ctime, so it can never be recorded as clean ("racily clean" in git). */
static char *src_entry_name(const char *path) {
    unsigned char h[32];
    ov_sha256(path, strlen(path), h);
    char *n = ov_malloc(4 + 64 + 1);
    if (!n) return NULL;
    memcpy(n, "src-", 4);
    ov_hex(h, 32, n + 4);
    return n;
}

/* The line an entry holds for path, st, sha and flags, without its CRC. */
static char *src_line(const char *path, const struct stat *st, const unsigned char sha[32], unsigned flags) {
    char hex[65];
    ov_hex(sha, 32, hex);
    ov_buf b;
    ov_buf_init(&b);
    ov_buf_printf(&b, "OVS1 %s %02x %ju %ju %jd %jd %ld %jd %ld %s", hex, flags & 0xffu, (uintmax_t)st->st_dev,
                  (uintmax_t)st->st_ino, (intmax_t)st->st_size, (intmax_t)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec,
                  (intmax_t)st->st_ctim.tv_sec, (long)st->st_ctim.tv_nsec, path);
    return ov_buf_detach(&b, NULL);
}

static int hexnib(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Parses n hex digits into bytes; 0 when one is not a lower-case hex digit. */
static int unhex(const char *s, size_t nbytes, unsigned char *out) {
    for (size_t i = 0; i < nbytes; i++) {
        int a = hexnib((unsigned char)s[2 * i]), b = hexnib((unsigned char)s[2 * i + 1]);
        if (a < 0 || b < 0) return 0;
        out[i] = (unsigned char)(a << 4 | b);
    }
    return 1;
}

#define SRC_MAX 4096 /* paths are at most PATH_MAX; the rest of a line is under 256 */

/* A line "TEXT crc32-hex\n" of n bytes (newline included) whose CRC is right: TEXT's length, or
 * 0 when it is not one. */
static size_t checked_line(const char *b, size_t n) {
    unsigned char c4[4];
    if (n < 11 || b[n - 1] != '\n' || b[n - 10] != ' ' || !unhex(b + n - 9, 4, c4)) return 0;
    uint32_t want = (uint32_t)c4[0] << 24 | (uint32_t)c4[1] << 16 | (uint32_t)c4[2] << 8 | c4[3];
    return crc((const unsigned char *)b, n - 10) == want ? n - 10 : 0;
}

int ov_cache_src_get(const octavo *ov, const char *path, const struct stat *st, unsigned char sha[32],
                     unsigned *flags, char *trust, size_t trust_size) {
    const char *dir = cache_dir(ov);
    if (trust && trust_size) trust[0] = 0;
    if (!dir || !path || !S_ISREG(st->st_mode)) return 0;
    char *name = src_entry_name(path);
    char *file = name ? entry_path(dir, name) : NULL;
    ov_free(name);
    if (!file) return 0;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    ov_free(file);
    if (fd < 0) return 0;
    char buf[SRC_MAX + 2 * 512 + 1];
    size_t n = 0;
    for (;;) { /* filling the buffer means an entry longer than any we write */
        ssize_t k = read(fd, buf + n, sizeof buf - n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        n += (size_t)k;
        if (n == sizeof buf) break;
    }
    close(fd);
    if (n == sizeof buf) return 0;
    const char *nl = memchr(buf, '\n', n);
    size_t n1 = nl ? (size_t)(nl - buf) + 1 : 0, t1 = checked_line(buf, n1);
    unsigned char s[32], f;
    if (!t1 || t1 < 5 + 65 + 3 || memcmp(buf, "OVS1 ", 5) || buf[69] != ' ' || !unhex(buf + 5, 32, s) ||
        buf[70 + 2] != ' ' || !unhex(buf + 70, 1, &f))
        return 0;
    buf[t1] = 0;
    char *line = src_line(path, st, s, f);
    int ok = line && !strcmp(line, buf);
    ov_free(line);
    if (!ok) return 0;
    memcpy(sha, s, 32);
    *flags = f;
    /* the conversion's cache entry as an earlier build checked it whole: "OVE1 token crc\n" */
    size_t t2 = n > n1 ? checked_line(buf + n1, n - n1) : 0;
    if (t2 > 5 && !memcmp(buf + n1, "OVE1 ", 5) && trust && t2 - 5 < trust_size) {
        memcpy(trust, buf + n1 + 5, t2 - 5);
        trust[t2 - 5] = 0;
    }
    return 1;
}

void ov_cache_src_put(const octavo *ov, const char *path, const struct stat *st, const struct timespec *read_at,
                      const unsigned char sha[32], unsigned flags, const char *token) {
    const char *dir = cache_dir(ov);
    if (!dir || !path || !S_ISREG(st->st_mode) || strlen(path) > SRC_MAX) return;
    /* racily clean: changed too close to when it was read to tell a later change by the stat */
    long long at = ns_of(read_at) - src_margin_ns(path, st->st_dev);
    if (ns_of(&st->st_ctim) > at || ns_of(&st->st_mtim) > at) return;
    if (make_dirs(dir)) return;
    char *name = src_entry_name(path);
    char *line = src_line(path, st, sha, flags);
    char *file = name ? entry_path(dir, name) : NULL;
    ov_buf b, t;
    ov_buf_init(&b);
    ov_buf_init(&t);
    if (line) ov_buf_printf(&b, "%s %08x\n", line, crc((const unsigned char *)line, strlen(line)));
    if (line && token && *token && strlen(token) < 500 && !strchr(token, '\n')) {
        size_t from = b.len;
        ov_buf_printf(&b, "OVE1 %s", token);
        if (!b.failed) ov_buf_printf(&b, " %08x\n", crc((const unsigned char *)b.data + from, b.len - from));
    }
    if (name) ov_buf_printf(&t, "%s/.tmp-%s-XXXXXX", dir, name);
    if (line && file && !b.failed && !t.failed && t.data) {
        int fd = mkstemp(t.data);
        if (fd >= 0) {
            int bad = write_all(fd, (const unsigned char *)b.data, b.len);
            bad |= close(fd) != 0;
            if (bad || rename(t.data, file) != 0) unlink(t.data);
        }
    }
    ov_buf_free(&b);
    ov_buf_free(&t);
    ov_free(file);
    ov_free(name);
    ov_free(line);
}
