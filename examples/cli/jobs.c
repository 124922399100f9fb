/* Thread pool, progress display and interruption for the CLI (see jobs.h). */
#include "jobs.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* ---- interruption */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
    if (interrupted) {
        /* a second signal: the user insists */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    interrupted = sig;
}

void cli_interrupt_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int cli_interrupted(void) { return interrupted; }

void cli_interrupt_finish(void) {
    int sig = interrupted;
    if (!sig) return;
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- the pool */

typedef struct pool {
    pthread_mutex_t mu;
    size_t next, n;
    const size_t *order;
    void (*fn)(void *, size_t);
    void *ctx;
} pool;

static void *worker(void *arg) {
    pool *p = arg;
    for (;;) {
        if (interrupted) break;
        pthread_mutex_lock(&p->mu);
        size_t i = p->next < p->n ? p->next++ : (size_t)-1;
        pthread_mutex_unlock(&p->mu);
        if (i == (size_t)-1) break;
        p->fn(p->ctx, p->order ? p->order[i] : i);
    }
    return NULL;
}

unsigned jobs_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

int jobs_run(unsigned nthreads, size_t n, const size_t *order, void (*fn)(void *ctx, size_t item), void *ctx) {
    pool p = {PTHREAD_MUTEX_INITIALIZER, 0, n, order, fn, ctx};
    if (nthreads < 1) nthreads = 1;
    if (nthreads > n) nthreads = n ? (unsigned)n : 1;
    int status = 0;
    pthread_t *t = calloc(nthreads, sizeof *t);
    unsigned started = 0;
    if (t) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        /* libharu puts 128 KB on the stack when it loads a font, and the layout recurses: every
         * item runs on a thread with a big stack, also with --jobs 1 */
        pthread_attr_setstacksize(&attr, (size_t)16 << 20);
        /* the workers leave signals to the main thread, which sets the flag they check */
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &block, &old);
        for (unsigned k = 0; k < nthreads; k++) {
            if (pthread_create(&t[started], &attr, worker, &p)) {
                status = -1;
                break;
            }
            started++;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
    } else {
        status = -1;
    }
    if (!started) worker(&p); /* no thread at all: do the work here */
    for (unsigned k = 0; k < started; k++) pthread_join(t[k], NULL);
    free(t);
    pthread_mutex_destroy(&p.mu);
    return status;
}

/* ---- progress and messages */

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int enabled, shown;
    size_t done, total;
    char current[512];
    struct timespec last;
} prog;

static unsigned term_width(void) {
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
    return 80;
}

/* Width in terminal columns of a UTF-8 string's first bytes: counts characters. */
static size_t utf8_cut(const char *s, size_t max_cols, size_t *cols) {
    size_t i = 0, c = 0;
    while (s[i] && c < max_cols) {
        i++;
        while ((s[i] & 0xC0) == 0x80) i++;
        c++;
    }
    *cols = c;
    return i;
}

static void draw(void) {
    if (!prog.enabled) return;
    unsigned w = term_width();
    char line[1024];
    int pct = prog.total ? (int)(prog.done * 100 / prog.total) : 0;
    char head[96];
    unsigned barw = w >= 100 ? 30 : w >= 60 ? 20 : 10;
    char bar[64];
    unsigned fill = prog.total ? (unsigned)(prog.done * barw / prog.total) : 0;
    for (unsigned k = 0; k < barw; k++) bar[k] = k < fill ? '#' : '-';
    bar[barw] = 0;
    int hl = snprintf(head, sizeof head, "[%s] %zu/%zu %3d%% ", bar, prog.done, prog.total, pct);
    size_t room = w > (unsigned)hl + 1 ? w - (unsigned)hl - 1 : 0, cols;
    const char *cur = prog.current;
    size_t total_cols;
    utf8_cut(cur, (size_t)-1, &total_cols);
    size_t cut;
    char shown[600];
    if (total_cols > room && room > 4) {
        /* keep the end of the path, which names the file */
        size_t skip = total_cols - (room - 3), i = 0, c = 0;
        while (cur[i] && c < skip) {
            i++;
            while ((cur[i] & 0xC0) == 0x80) i++;
            c++;
        }
        snprintf(shown, sizeof shown, "...%s", cur + i);
    } else {
        cut = utf8_cut(cur, room, &cols);
        snprintf(shown, sizeof shown, "%.*s", (int)cut, cur);
    }
    int n = snprintf(line, sizeof line, "\r%s%s\033[K", head, shown);
    if (n > 0) fwrite(line, 1, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1, stderr);
    fflush(stderr);
    prog.shown = 1;
    clock_gettime(CLOCK_MONOTONIC, &prog.last);
}

static void clear(void) {
    if (prog.shown) {
        fputs("\r\033[K", stderr);
        prog.shown = 0;
    }
}

void progress_start(size_t total, int enabled) {
    pthread_mutex_lock(&out_mu);
    prog.enabled = enabled;
    prog.done = 0;
    prog.total = total;
    prog.current[0] = 0;
    prog.shown = 0;
    draw();
    pthread_mutex_unlock(&out_mu);
}

void progress_add(size_t n) {
    pthread_mutex_lock(&out_mu);
    prog.total += n;
    pthread_mutex_unlock(&out_mu);
}

void progress_begin(const char *name) {
    pthread_mutex_lock(&out_mu);
    snprintf(prog.current, sizeof prog.current, "%s", name);
    /* redraw at most 30 times a second: a terminal is slow */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - prog.last.tv_sec) * 1000 + (now.tv_nsec - prog.last.tv_nsec) / 1000000;
    if (ms >= 33 || !prog.shown) draw();
    pthread_mutex_unlock(&out_mu);
}

void progress_done(void) {
    pthread_mutex_lock(&out_mu);
    prog.done++;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - prog.last.tv_sec) * 1000 + (now.tv_nsec - prog.last.tv_nsec) / 1000000;
    if (ms >= 33 || prog.done == prog.total) draw();
    pthread_mutex_unlock(&out_mu);
}

void progress_end(void) {
    pthread_mutex_lock(&out_mu);
    clear();
    fflush(stderr);
    prog.enabled = 0;
    pthread_mutex_unlock(&out_mu);
}

void progress_print(const char *text, size_t len) {
    pthread_mutex_lock(&out_mu);
    clear();
    fwrite(text, 1, len, stderr);
    if (prog.enabled) draw();
    else fflush(stderr);
    pthread_mutex_unlock(&out_mu);
}

void progress_printf(const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    progress_print(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}
