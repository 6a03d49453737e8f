/* `model train`: options, presets, the plan printed before training, and the
 * training loop (data, AdamW steps, evaluation, log.csv, loss.png, checkpoints,
 * exact resume). args.c fills TrainOpts from argv; main.c calls train_run. */
#ifndef TRAIN_H
#define TRAIN_H

#include <stdint.h>

#include "device.h"
#include "err.h"
#include "gpt2.h"
#include "progress.h"
#include "sched.h"

typedef struct TrainPreset {
    const char *name;
    int n_layer, n_embd, n_head;
    double lr; /* default learning rate for this size (GPT-3 paper's table where it has one) */
} TrainPreset;

/* NULL-terminated table; train_preset() finds one by name (NULL: unknown). */
extern const TrainPreset train_presets[];
const TrainPreset *train_preset(const char *name);

typedef struct TrainOpts {
    const char *data_dir, *out_dir, *resume_dir;
    const char *preset;
    int n_layer, n_embd, n_head, n_mlp; /* 0: from the preset (tiny when none) */
    int context;                        /* 0: meta.json's, else 1024 */
    int vocab_size, eot_id;             /* 0 / -1: from the data, else GPT-2's */
    uint64_t steps, tokens;             /* 0 and 0: one epoch of the training windows */
    uint64_t batch_tokens;              /* 0: one micro-batch */
    int micro_batch;                    /* sequences per forward/backward */
    double lr;                          /* 0: the preset's */
    SchedKind schedule;
    double min_frac, decay_frac;
    double dropout;                     /* 0..0.9; 0: none (the default) */
    int recompute;                      /* recompute LayerNorm and GELU outputs in the backward */
    int no_master;                      /* --master-weights off: bf16 weights alone (GPT_NO_MASTER) */
    int zero;                           /* --zero 1: the ranks share AdamW's moments (ZeRO-1) */
    double rank_timeout;                /* --rank-timeout: seconds a rank waits for the others; 0: for ever */
    int64_t warmup;                     /* steps; -1: 5% of the steps */
    AdamOpts adam;
    uint64_t eval_every;                /* 0: ten evaluations a run */
    int eval_batches;                   /* micro-batches of validation windows */
    uint64_t ckpt_every;                /* 0: at each evaluation */
    int keep;                           /* checkpoints kept */
    int no_ckpt;                        /* --no-checkpoint: none written (timing runs) */
    uint64_t seed;
    unsigned threads;                   /* 0: every core */
    ProgressMode progress;
    DeviceOpts dev;                     /* --device, --precision; not in the checkpoint */
    /* Samples printed while training (none of these is in the checkpoint:
     * they change nothing the run computes) */
    uint64_t sample_every;              /* a sample every N steps and at the end; 0: none */
    const char *prompt;                 /* what the samples continue, after end-of-text; NULL: none */
    uint64_t sample_tokens;             /* tokens a sample at most */
    double sample_temperature;          /* 0: greedy */
} TrainOpts;

/* Defaults for every field. */
void train_opts_init(TrainOpts *o);
/* Train; returns the exit status: 0, 1 (data or I/O error, message in e) or
 * 2 (bad usage, message in e). */
int train_run(const TrainOpts *o, Err *e);

/* Write dir/ckpt-000000.bin and dir/latest for weights trained elsewhere
 * (model import): params (gpt_n_params(cfg), padding rows zero) with AdamW
 * moments zero at step 0, train_opts_init's options and the lr of the preset
 * of that shape (else 6e-4); no data folder, and steps, warmup, evaluation and
 * checkpoint intervals unset: the first `train --resume DIR --data D --steps N`
 * settles them as a fresh run would. cfg must have passed gpt_config_check. */
int train_write_imported(const char *dir, const GptConfig *cfg, int eot_id, const float *params, Err *e);

/* Bytes of memory the kernel says are available now (MemAvailable), 0 when
 * unknown: what the plan is checked against before training. */
double train_mem_available(void);

/* Floating-point rate of cblas_sgemm (FLOP/s) with this pool, each thread on
 * its own 256x256x256 products: the denominator of MFU, and model plan's.
 * From CPU time, not wall time, so another process's load does not lower it;
 * the best round of about TRAIN_RATE_SECONDS. */
#define TRAIN_RATE_SECONDS 0.2
double train_sgemm_rate(GPool *pool);

#endif
