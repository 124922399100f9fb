/* Chinese text with Latin words in it, set justified in a PDF and read back with pdftotext:
 *  - the text comes back whole: no space where the source has none (justification spreads a line's
 *    slack over the gaps between ideographs, each under pdftotext's word-break gap), no character lost;
 *  - every line but the last ends flush with the right margin (within 0.5 pt);
 *  - lines may break between an ideograph and a Latin word (no line is left short because a Latin
 *    word glued to ideographs could not move), but never before a closing mark (，。：);
 *  - where the punctuation of a line can be compressed or its characters spaced a little, lines end
 *    between clauses (after ，。、 and the like) rather than inside a run of ideographs: with
 *    neither, a justified line ends wherever the grid of full-width characters runs out.
 * Skipped when no CJK font is installed (fonts/fonts.conf names one). */
#include <math.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"

static const char *build_dir(void) {
    const char *b = getenv("B");
    return b && *b ? b : "build";
}

/* our own text: a paragraph of mixed Chinese and Latin words, no spaces around the Latin ones */
static const char PARA[] =
    "我们在周末测试了新的编译器版本，结果显示性能提升了百分之二十。团队使用Rust和C语言编写核心模块，"
    "并在ARM64与x86_64平台上运行基准测试，每一轮测试都记录了CPU时间、内存峰值和页面错误的次数。"
    "测试报告指出，在启用LTO之后启动时间缩短了三毫秒，而在关闭调试符号以后二进制文件变小了百分之十五。"
    "下一步我们计划把解析器移植到WebAssembly上，让浏览器里的编辑器也能实时预览排版效果，"
    "同时继续改进断行算法，使中文与English混排的段落也能够两端对齐。";

static int has_cjk_font(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "grep -q 'FALLBACK_CJK \"/' %s/fonts.h", build_dir());
    return system(cmd) == 0;
}

/* 1, saying so, when the tests below cannot run */
static int no_cjk_font(void) {
    if (has_cjk_font()) return 0;
    printf("no CJK font installed: skipped\n");
    return 1;
}

/* strips ASCII spaces and newlines */
static void squeeze(const char *s, char *out, size_t size) {
    size_t n = 0;
    for (; *s && n + 1 < size; s++)
        if (*s != ' ' && *s != '\n' && *s != '\f') out[n++] = *s;
    out[n] = 0;
}

/* Writes para as a Chinese document titled T into a new folder dir (a "/tmp/octavo-cjk-XXXXXX"
 * buffer), converts it to dir/zh.pdf with the CLI, and opens pdftotext's reading of it without
 * the title, blank lines and the page footer; NULL when a step failed (checked). */
static FILE *convert_zh(char *dir, const char *para) {
    char path[300], cmd[1200];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/zh.md", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return NULL;
    fprintf(f, "---\ntitle: T\nlang: zh\n---\n%s\n", para);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s/octavo convert %s/zh.md -o %s/zh.pdf -q --no-cache", build_dir(), dir, dir);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 %s/zh.pdf - | grep -v '^T$' | grep -v '^ *$' | grep -v '/'", dir);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    return p;
}

/* The next line of p without its line end (nor a page's form feed), empty ones skipped, and
 * appended to text (tn bytes so far, of size); its length, 0 at the end. */
static size_t next_line(FILE *p, char *line, size_t size, char *text, size_t *tn, size_t text_size) {
    while (fgets(line, (int)size, p)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\f')) line[--l] = 0;
        if (!l) continue;
        if (*tn + l + 1 < text_size) {
            memcpy(text + *tn, line, l);
            *tn += l;
            text[*tn] = 0;
        }
        return l;
    }
    return 0;
}

TEST(mixed_paragraph) {
    if (no_cjk_font()) return;
    char dir[] = "/tmp/octavo-cjk-XXXXXX", cmd[1200];
    /* the paragraph's lines as pdftotext reads them */
    FILE *p = convert_zh(dir, PARA);
    if (!p) return;
    static char text[8192], line[2048];
    size_t tn = 0, l;
    text[0] = 0;
    int lines = 0, inner_spaces = 0;
    while ((l = next_line(p, line, sizeof line, text, &tn, sizeof text))) {
        lines++;
        /* a space between two non-ASCII characters, or between one and a Latin letter, is one the
         * source does not have ("English混排" has none either) */
        for (size_t i = 1; i + 1 < l; i++)
            if (line[i] == ' ' && ((unsigned char)line[i - 1] >= 0x80 || (unsigned char)line[i + 1] >= 0x80)) inner_spaces++;
    }
    pclose(p);
    static char want[8192], got[8192];
    squeeze(PARA, want, sizeof want);
    squeeze(text, got, sizeof got);
    CHECK_STR(got, want);
    CHECKF(inner_spaces == 0, "%d spaces pdftotext saw inside the text", inner_spaces);
    CHECKF(lines >= 4, "%d lines", lines);

    /* flush right: the right end of every line but the last */
    snprintf(cmd, sizeof cmd,
             "pdftotext -bbox-layout %s/zh.pdf - | grep '<line ' | "
             "sed 's/.*xMin=\"\\([0-9.]*\\)\".*xMax=\"\\([0-9.]*\\)\".*/\\1 \\2/'", dir);
    p = popen(cmd, "r");
    CHECK(p != NULL);
    if (!p) return;
    double right[64], left[64];
    int nr = 0;
    while (nr < 64 && fgets(line, sizeof line, p) && sscanf(line, "%lf %lf", &left[nr], &right[nr]) == 2) nr++;
    pclose(p);
    /* the lines at the left margin: the title, then the paragraph's (the page footer is centred) */
    double lm = 1e9;
    for (int i = 0; i < nr; i++) lm = fmin(lm, left[i]);
    int k = 0;
    for (int i = 0; i < nr; i++)
        if (fabs(left[i] - lm) < 1) left[k] = left[i], right[k++] = right[i];
    nr = k;
    double margin = 0;
    for (int i = 0; i < nr; i++) margin = fmax(margin, right[i]);
    int ragged = 0;
    for (int i = 1; i + 1 < nr; i++)
        if (fabs(right[i] - margin) > 0.5) ragged++;
    CHECKF(nr >= 5 && ragged == 0, "%d of %d lines not flush (margin %.2f)", ragged, nr, margin);

    /* no line starts with a closing mark */
    snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 %s/zh.pdf - | grep -c '^\\(，\\|。\\|：\\|、\\)'", dir);
    p = popen(cmd, "r");
    int bad = -1;
    if (p) {
        if (fscanf(p, "%d", &bad) != 1) bad = -1;
        pclose(p);
    }
    CHECK_INT(bad, 0);
    t_rm_rf(dir);
    CHECK(access(dir, F_OK) != 0);
}

/* our own text: short clauses, so that a clause ends within a few characters of where each line
 * would end if the line were set solid */
static const char CLAUSES[] =
    "春雨落下，田野变绿，农人早早出门，牛羊走上山坡。河水涨了，小桥边的石阶被淹没，孩子们只好绕路上学。"
    "午后天晴，云朵散开，阳光照在屋顶的瓦片上，燕子在檐下来回穿梭。集市开张，摊主们摆出新鲜的蔬菜，"
    "竹篮里装满了鸡蛋，茶馆里坐满了客人。傍晚收工，炊烟升起，远处传来钟声，一天就这样过去了。"
    "清晨的雾气慢慢散去，湖面上渐渐露出远山的轮廓。渔船从码头出发，船夫们一边整理渔网，一边低声交谈，"
    "谈论着今年的收成、孩子的学业和镇上新开的书店。岸边的柳树刚刚抽出新芽，几只白鹭在浅水里踱步，"
    "偶尔抬头张望。村口的老人坐在石凳上晒太阳，手里握着一杯热茶，看着来来往往的行人。"
    "夜里风停，星星出来，狗也不叫了，整个村子安静下来。";

/* whether a UTF-8 line ends with a mark that closes a clause */
static int ends_clause(const char *line) {
    static const char *marks[] = { "，", "。", "、", "；", "：", "！", "？", "）", "」", "』", "》", "】" };
    size_t l = strlen(line);
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        size_t m = strlen(marks[i]);
        if (l >= m && memcmp(line + l - m, marks[i], m) == 0) return 1;
    }
    return 0;
}

TEST(clause_breaks) {
    if (no_cjk_font()) return;
    char dir[] = "/tmp/octavo-cjk-XXXXXX";
    FILE *p = convert_zh(dir, CLAUSES);
    if (!p) return;
    static char text[8192], line[2048];
    size_t tn = 0, l;
    text[0] = 0;
    int lines = 0, at_clause = 0, inner_spaces = 0;
    while ((l = next_line(p, line, sizeof line, text, &tn, sizeof text))) {
        lines++;
        at_clause += ends_clause(line);
        for (size_t i = 0; i < l; i++) inner_spaces += line[i] == ' ';
    }
    pclose(p);
    /* compressed punctuation and spaced ideographs come back as the text, whole */
    CHECK_STR(text, CLAUSES);
    CHECK_INT(inner_spaces, 0);
    /* the last line ends the paragraph (with 。): the breaks are the lines before it */
    int breaks = lines - 1, clause_breaks = at_clause - 1;
    CHECKF(breaks >= 6, "%d lines", lines);
    CHECKF(clause_breaks * 2 >= breaks, "%d of %d line breaks between clauses", clause_breaks, breaks);
    t_rm_rf(dir);
    CHECK(access(dir, F_OK) != 0);
}

/* The opening of the Thousand Character Classic (6th century), for paragraphs of any length */
static const char CLASSIC[] =
    "天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏闰余成岁律吕调阳云腾致雨露结为霜金生丽水玉出昆冈"
    "剑号巨阙珠称夜光果珍李柰菜重芥姜海咸河淡鳞潜羽翔龙师火帝鸟官人皇始制文字乃服衣裳推位让国有虞陶唐"
    "吊民伐罪周发殷汤坐朝问道垂拱平章爱育黎首臣伏戎羌遐迩一体率宾归王鸣凤在竹白驹食场化被草木赖及万方";

/* The first n characters of CLASSIC (3 bytes each) appended to b. */
static void classic(char *b, size_t size, size_t n) {
    size_t l = strlen(b);
    if (3 * n > sizeof CLASSIC - 1) n = (sizeof CLASSIC - 1) / 3;
    if (l + 3 * n < size) {
        memcpy(b + l, CLASSIC, 3 * n);
        b[l + 3 * n] = 0;
    }
}

/* Paragraphs of 30 to 59 characters, each with a link and then, after a space, a full stop: the
 * end of the link falls at every place of a line in turn. No line starts with the full stop (the
 * space before it is no break), which the breaker used to do twice out of these 30. */
TEST(kinsoku_after_space) {
    if (no_cjk_font()) return;
    static char body[16384];
    body[0] = 0;
    for (size_t n = 30; n < 60; n++) {
        classic(body, sizeof body, n);
        strcat(body, "参见 [https://example.org/docs/a](https://example.org/docs/a) 。\n\n");
    }
    char dir[] = "/tmp/octavo-cjk-XXXXXX";
    FILE *p = convert_zh(dir, body);
    if (!p) return;
    static char text[32768], line[2048];
    size_t tn = 0;
    int lines = 0, bad = 0;
    while (next_line(p, line, sizeof line, text, &tn, sizeof text)) {
        lines++;
        if (!strncmp(line, "。", strlen("。"))) bad++;
    }
    pclose(p);
    CHECKF(lines >= 10, "%d lines", lines); /* those without the link (the filter drops lines with a slash) */
    CHECKF(bad == 0, "%d lines start with a full stop", bad);
    t_rm_rf(dir);
    CHECK(access(dir, F_OK) != 0);
}

/* Paragraphs of 40 to 139 characters and a full stop: none ends with a line of one character
 * (CLREQ's lone character), which the breaker used to give 3 of these 34. */
TEST(no_lone_last_character) {
    if (no_cjk_font()) return;
    static char body[65536];
    body[0] = 0;
    int paras = 0;
    for (size_t n = 40; n < 140; n += 3, paras++) {
        classic(body, sizeof body, n < 120 ? n : 120);
        if (n >= 120) classic(body, sizeof body, n - 120);
        strcat(body, "。\n\n");
    }
    char dir[] = "/tmp/octavo-cjk-XXXXXX";
    FILE *p = convert_zh(dir, body);
    if (!p) return;
    static char text[65536], line[2048];
    size_t tn = 0, l;
    int ends = 0, lone = 0;
    const size_t stop = strlen("。");
    while ((l = next_line(p, line, sizeof line, text, &tn, sizeof text))) {
        if (l < stop || strcmp(line + l - stop, "。")) continue;
        ends++;
        if (l - stop < 2 * 3) { /* fewer than two characters before the full stop */
            lone++;
            printf("  a last line '%s'\n", line);
        }
    }
    pclose(p);
    CHECK_INT(ends, paras);
    CHECK_INT(lone, 0);
    t_rm_rf(dir);
    CHECK(access(dir, F_OK) != 0);
}

int main(void) {
    RUN(mixed_paragraph);
    RUN(clause_breaks);
    RUN(kinsoku_after_space);
    RUN(no_lone_last_character);
    return t_done();
}
