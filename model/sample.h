/* `model sample` (sample.c): text from a trained run, streamed to stdout.
 * args.c fills SampleOpts from argv; sample_run is the logic, which tests
 * call directly. */
#ifndef SAMPLE_H
#define SAMPLE_H

#include <stdint.h>

#include "cli.h"
#include "device.h"
#include "err.h"

typedef struct SampleOpts {
    const char *run_dir;  /* required */
    const char *ckpt;     /* NULL: RUN/latest's */
    const char *prompt;   /* NULL: none, start of a document */
    uint64_t max_tokens;
    double temperature;   /* 0: greedy */
    double top_p;         /* 1: all */
    int top_k;            /* 0: all */
    uint64_t seed;
    int keep_going;       /* do not stop at end-of-text */
    int no_cache;         /* full forward on the window for every token */
    CommonOpts common;
    DeviceOpts dev;
} SampleOpts;

/* Defaults for every field (256 tokens, temperature 1, seed 1337). */
void sample_opts_init(SampleOpts *o);
/* Sample; returns the exit status: 0, or 1 (data or I/O error, message in e). */
int sample_run(const SampleOpts *o, Err *e);

#endif
