/* `model eval` (evaluate.c): a trained run's loss, perplexity and bits per
 * byte on shards or text. args.c fills EvalOpts from argv; eval_run is the
 * logic, which tests call directly. */
#ifndef EVALUATE_H
#define EVALUATE_H

#include <stdint.h>

#include "cli.h"
#include "device.h"
#include "err.h"

typedef struct EvalOpts {
    const char *run_dir;     /* required */
    const char *ckpt;        /* NULL: RUN/latest's */
    const char *data;        /* required: a packer folder, one .bin shard, or documents */
    const char *tokenizer;   /* NULL: RUN/tokenizer.json, else (shards) the data folder's, else none */
    const char *dump_logits; /* NULL: none */
    uint64_t max_windows;    /* 0: all */
    int json;                /* one JSON object on stdout instead of the line */
    DocOpts doc;             /* how documents are read when data is text */
    CommonOpts common;
    DeviceOpts dev;
} EvalOpts;

/* Defaults for every field. */
void eval_opts_init(EvalOpts *o);
/* Evaluate, printing the result on stdout; returns the exit status: 0, or 1
 * (data or I/O error, message in e). */
int eval_run(const EvalOpts *o, Err *e);

#endif
