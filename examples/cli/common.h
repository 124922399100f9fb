/* What the CLI's commands share: common options, diagnostics printing, messages. */
#ifndef OCTAVO_CLI_COMMON_H
#define OCTAVO_CLI_COMMON_H
#include <stdio.h>

#include "octavo.h"

/* Options every command accepts. Strings point into argv. */
typedef struct cli_common {
    octavo_options opt;
    int quiet, verbose;
    unsigned long warnings;     /* counted by cli_diag */
} cli_common;

/** Initialises c with the CLI's defaults (trusted input, diagnostics to stderr). */
void cli_common_init(cli_common *c);
/** If argv[*i] is a common option, consumes it (and its value), sets c and returns 1; returns 0
 *  when it is not one; prints an error and returns -1 when its value is missing or wrong. */
int cli_common_option(cli_common *c, int argc, char **argv, int *i);
/** The help text for the common options. */
extern const char cli_common_help[];
/** Prints "file:line:column: warning: message" (the diagnostics callback; ud is a cli_common). */
void cli_diag(void *ud, const octavo_diag *d);
/** Formats a diagnostic as cli_diag prints it (with the final newline) into buf; returns the length
 *  it needed, like snprintf. */
int cli_diag_format(const octavo_diag *d, char *buf, size_t size);
/** Prints an error as "file:line:column: error: message". */
void cli_error(const octavo_error *err);
/** The program's name for messages. */
extern const char *cli_prog;
/** realloc, strdup (NULL gives "") and asprintf that print "out of memory" and exit(1) rather
 *  than return NULL: the CLI has nothing better to do then. */
void *cli_xrealloc(void *p, size_t n);
char *cli_xstrdup(const char *s);
char *cli_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
