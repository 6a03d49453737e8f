/* `model export` (export.c): a trained run as a Hugging Face GPT-2 folder.
 * args.c fills ExportOpts from argv; export_run is the logic, which tests
 * call directly. */
#ifndef EXPORT_H
#define EXPORT_H

#include "cli.h"
#include "err.h"

typedef struct ExportOpts {
    const char *run_dir; /* required */
    const char *ckpt;    /* NULL: RUN/latest's */
    const char *out_dir; /* required */
    CommonOpts common;
} ExportOpts;

/* Defaults for every field. */
void export_opts_init(ExportOpts *o);
/* Write out_dir; returns the exit status: 0, or 1 (data or I/O error,
 * message in e). */
int export_run(const ExportOpts *o, Err *e);

#endif
