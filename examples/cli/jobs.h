/* Parallel work for the CLI: a pool of threads with big stacks, a progress display on a terminal,
 * messages that do not tear it, and SIGINT/SIGTERM turned into a flag the work checks. */
#ifndef OCTAVO_CLI_JOBS_H
#define OCTAVO_CLI_JOBS_H
#include <stddef.h>

/** Runs fn(ctx, item) for item = order[0], order[1], ... order[n-1] (or 0..n-1 when order is NULL)
 *  on nthreads threads (the calling thread is one of them), taking items in that order; stops
 *  taking new items once cli_interrupted(). Each thread gets a stack of at least 16 MiB.
 *  Returns 0, or -1 when a thread could not be started (the work is then done by fewer). */
int jobs_run(unsigned nthreads, size_t n, const size_t *order, void (*fn)(void *ctx, size_t item), void *ctx);

/** The number of processors online (at least 1). */
unsigned jobs_cores(void);

/* ---- interruption */
/** Installs SIGINT/SIGTERM/SIGHUP handlers that set the flag; a second signal kills at once. */
void cli_interrupt_install(void);
/** The signal that interrupted the run, or 0. */
int cli_interrupted(void);
/** Restores the default handlers and re-raises the signal that interrupted the run, if any
 *  (so that the exit status says "killed by SIGINT", as shells expect). */
void cli_interrupt_finish(void);

/* ---- messages and the progress display (all stderr output of a build goes through these) */
/** Starts the display: drawn only when enabled (stderr is a terminal and not --quiet). */
void progress_start(size_t total, int enabled);
/** Notes that item name has started (shown as the current file). */
void progress_begin(const char *name);
/** Notes that an item is finished. */
void progress_done(void);
/** Adds to the total (work discovered late, such as the books). */
void progress_add(size_t n);
/** Clears the display for good. */
void progress_end(void);
/** Writes a whole message (one or more lines ending in '\n') to stderr without tearing the
 *  display: the bar is cleared, the text written, the bar drawn again. */
void progress_print(const char *text, size_t len);
/** printf-like progress_print. */
void progress_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
