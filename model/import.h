/* `model import` (import.c): a GPT-2 from a Hugging Face folder or an llm.c
 * checkpoint into a run folder. args.c fills ImportOpts from argv;
 * import_run is the logic, which tests call directly. */
#ifndef IMPORT_H
#define IMPORT_H

#include "cli.h"
#include "err.h"

typedef struct ImportOpts {
    const char *src;       /* required: a Hugging Face folder or an llm.c .bin */
    const char *out_dir;   /* required: the run folder to write */
    const char *tokenizer; /* NULL: SRC/tokenizer.json when there is one */
    int eot_id;            /* IMPORT_EOT_FROM_SRC: from the source */
    CommonOpts common;
} ImportOpts;

#define IMPORT_EOT_FROM_SRC (-2)

/* Defaults for every field. */
void import_opts_init(ImportOpts *o);
/* Import; returns the exit status: 0, 1 (data or I/O error, message in e)
 * or 2 (bad usage: --eot outside the vocabulary, RUN not empty). */
int import_run(const ImportOpts *o, Err *e);

#endif
