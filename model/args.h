/* Every subcommand's command line (args.c): its help text, and argv parsed
 * into the options struct of its logic, with the usage checks that need no
 * data. main.c parses with these, calls the logic (xxx_run) and reports what
 * it returned with args_report; a test can do the same, or fill the options
 * struct itself. */
#ifndef ARGS_H
#define ARGS_H

#include "err.h"
#include "evaluate.h"
#include "export.h"
#include "import.h"
#include "plan.h"
#include "sample.h"
#include "sweep.h"
#include "train.h"

/* How messages name the program: plan's name its subcommand too. */
#define ARGS_PROG "model"
#define ARGS_PROG_PLAN "model plan"

/* Returned by the parsers when o is ready for the logic. */
#define ARGS_RUN (-1)

/* argv[0] is the subcommand's name. Each fills o (defaults first) and returns
 * ARGS_RUN, or the exit status to end with at once: 0 after --help (printed
 * on stdout), 2 after a bad usage (one line and "try ... --help" on stderr).
 * Strings in o point into argv. */
int args_parse_train(int argc, char **argv, TrainOpts *o);
int args_parse_plan(int argc, char **argv, PlanOpts *o);
int args_parse_sweep(int argc, char **argv, SweepOpts *o);
int args_parse_lrfind(int argc, char **argv, LrOpts *o);
int args_parse_sample(int argc, char **argv, SampleOpts *o);
int args_parse_eval(int argc, char **argv, EvalOpts *o);
int args_parse_export(int argc, char **argv, ExportOpts *o);
int args_parse_import(int argc, char **argv, ImportOpts *o);

/* Report the exit status code that a subcommand's logic returned, with its
 * message in e: 2 as a bad usage of prog (the message, then "try 'cmd
 * --help'", cmd the subcommand: "model train"), 1 as "prog: message", 0
 * silently. Returns code. */
int args_report(const char *prog, const char *cmd, int code, const Err *e);

#endif
