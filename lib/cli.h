/* Command-line helpers shared by every program: number parsing with range
 * checks, bad usage ("prog: what\ntry 'prog --help'", exit 2), --version, and
 * the options every document reader takes, with their help text. */
#ifndef CLI_H
#define CLI_H

#include <stdint.h>
#include <stdio.h>

#include "docio.h"
#include "progress.h"

#define TOOLKIT_NAME "gptkit"
#define TOOLKIT_VERSION "0.1.0"

/* Decimal count with an optional suffix k/K (1e3), M (1e6), G/B (1e9), T (1e12),
 * or Ki/Mi/Gi (powers of 1024); "300M" is 300000000. A decimal fraction is
 * taken when the value it gives is whole: "1.2M" is 1200000, "1.5Ki" 1536;
 * "1.5" and "1.0000001M" are refused. 0 ok, -1 not a whole number in
 * [min, max] (then *out is untouched). */
int cli_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* A finite decimal number in [min, max]; a trailing '%' divides by 100. */
int cli_double(const char *s, double min, double max, double *out);

/* Print "prog: <what>" and "try 'prog --help'" on stderr; returns 2. */
int cli_bad_usage(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, the hint naming cmd's help ("try 'model train --help'") where
 * the program's subcommands have their own. */
int cli_bad_usage_for(const char *prog, const char *cmd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Print "prog (gptkit) VERSION" on stdout; returns 0. */
int cli_version(const char *prog);

typedef struct CommonOpts {
    ProgressMode progress;
    unsigned threads; /* 0: every core */
} CommonOpts;

unsigned cli_cores(void);

/* If argv[*i] is one of the shared options, take it (and its value, advancing
 * *i) and return 1; return 0 when it is not one of them; print the problem and
 * return 2 when its value is bad. cli_doc_option: --field --format --sep --encoding
 * --on-error --bad-lines --max-line. cli_common_option: --progress --quiet -j
 * (also attached, -j4). */
int cli_doc_option(const char *prog, DocOpts *o, int argc, char **argv, int *i);
int cli_common_option(const char *prog, CommonOpts *c, int argc, char **argv, int *i);

/* Help text for those options, for a program's usage(). */
extern const char cli_doc_help[];
extern const char cli_common_help[];

#endif
