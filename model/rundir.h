/* The run folder RUN/ that model train writes and the other subcommands read
 * (rundir.c): RUN/latest, one line naming the newest complete checkpoint;
 * the checkpoints RUN/ckpt-STEP.bin (STEP zero-padded to 6 digits; the file
 * format is ckpt.h's, the content of its JSON header is here); saving one
 * (checkpoint, then latest, then the folder fsynced, then the old ones
 * pruned); and reading a header back, strictly for a resume or leniently for
 * the subcommands that only read the model. Not here: log.csv, loss.png and
 * the tokenizer copy (train.c). */
#ifndef RUNDIR_H
#define RUNDIR_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "train.h"

/* Everything a run is, as it goes into a checkpoint's JSON header:
 * "config" (cfg, eot_id, T, o.dropout and, only when the data recorded one,
 * "tokenizer_fingerprint": tok_fp as 16 hex digits), "options" (data_dir, best_fit, B,
 * accum and the settings of o that shape the run: steps, lr, schedule,
 * min_frac, decay_frac, warmup, adam, eval_every, eval_batches, ckpt_every,
 * keep, seed; the rest of o is not saved) and "state" (step and after). */
typedef struct RunHeader {
    GptConfig cfg;            /* cfg.context == T */
    int eot_id;               /* -1: none */
    int T, B, accum;          /* context; sequences a micro-batch; micro-batches a step */
    int best_fit;             /* the training data's window mode */
    char data_dir[PATH_MAX];  /* absolute; "" in the checkpoint model import writes */
    TrainOpts o;
    uint64_t step, tokens;    /* optimizer steps and tokens trained */
    uint64_t epoch, index;    /* the data order: its epoch and the next window in it */
    int prec;                 /* the working precision it trained in (PREC_FP32 or PREC_BF16) */
    uint64_t tok_fp;          /* the fingerprint of the tokenizer of its tokens; 0: not recorded */
} RunHeader;

/* h as the header's JSON text; NULL when out of memory. Caller frees with free().
 * "precision": "bf16" is in "options" only for a bf16 run, so that float32
 * checkpoints stay what they were before there was a choice. */
char *rundir_header_json(const RunHeader *h);
/* The inverse of rundir_header_json, for a resume: every saved field into h
 * (a header without "dropout" means 0, a run from before it had none); the
 * fields not saved are left as they were. A field missing or unknown, or
 * settings that do not fit together, is a corrupt checkpoint: -1 with the
 * message at path's header offset. */
int rundir_header_parse(RunHeader *h, const char *text, const char *path, Err *e);
/* What the subcommands that only read the model need, leniently: cfg, T,
 * eot_id (-1 when absent or outside the vocabulary), B (8 when absent or out
 * of range), o.eval_batches (20 likewise), best_fit, step and tok_fp (0 when
 * absent; a value that is not 16 hex digits is an error); no other field
 * is read, so a newer trainer may add some. The rest of h is zero. -1 with
 * the message when the JSON or the shape is impossible. */
int rundir_header_peek(RunHeader *h, const char *text, const char *path, Err *e);

/* "dir/latest" into buf (n bytes); returns buf. */
const char *rundir_latest_path(char *buf, size_t n, const char *dir);
/* The checkpoint dir/latest names: its path into path (n bytes) and its step
 * into *step (NULL: not wanted). Errors name dir/latest. */
int rundir_latest(const char *dir, char *path, size_t n, uint64_t *step, Err *e);
/* dir exists and is a folder: the subcommands that read a run say so before
 * they look for dir/latest. */
int rundir_check(const char *dir, Err *e);

/* Create the folder dir (not its parents); one that exists is fine. */
int rundir_create(const char *dir, Err *e);
/* Save a checkpoint into dir: ckpt-STEP.bin of step h->step with h's header
 * and params, m, v (n_params floats each, host memory), then latest names it,
 * the folder is fsynced, and the checkpoints older than the newest h->o.keep
 * are removed. A crash at any point leaves the previous checkpoint and latest
 * whole. */
int rundir_save(const char *dir, const RunHeader *h, const float *params, const float *m, const float *v,
                size_t n_params, Err *e);
/* Remove what saves a crash interrupted left (ckpt-*.bin.tmp.*): only one
 * trainer works in a run folder. */
void rundir_remove_stale(const char *dir);
/* Replace the file path with text (a temporary file renamed onto it). */
int rundir_write_text(const char *path, const char *text, Err *e);

#endif
