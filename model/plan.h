/* `model plan`: what a GPT-2 shape costs (parameters, training memory, FLOPs,
 * time at this machine's sgemm rate, or timed from a few real training steps
 * with --measure; or on a GPU, this one or one of a table of vendors'
 * figures, with the GPU trainer's memory layout) and what the literature
 * predicts for it (Chinchilla, Kaplan et al., Levine et al.'s depth-to-width
 * fit, head size). Every figure is computed by a function returning a struct
 * (plan.c); printing (table, reasons, budget list, JSON) is separate
 * (plan_print.c), so tests check the numbers directly. */
#ifndef PLAN_H
#define PLAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "device.h"
#include "err.h"
#include "gpt2.h"

/* ---- the literature, as pure functions ---- */

/* Hoffmann et al. 2022 (Chinchilla), approach 3: L(N, D) = E + A/N^alpha + B/D^beta,
 * N parameters, D training tokens. */
#define CHIN_E 1.69
#define CHIN_A 406.4
#define CHIN_B 410.7
#define CHIN_ALPHA 0.34
#define CHIN_BETA 0.28
#define CHIN_TOKENS_PER_PARAM 20.0 /* the rule of thumb from their approaches 1 and 2 */
double plan_chinchilla_loss(double n_params, double n_tokens);
/* The (N, D) that minimise the fit's loss under C = 6 N D. */
void plan_chinchilla_optimal(double flops, double *n_params, double *n_tokens);

/* Kaplan et al. 2020, L(N, D) = [(Nc/N)^(aN/aD) + Dc/D]^aD with N the
 * non-embedding parameters; n_tokens <= 0: the data-unlimited L(N) = (Nc/N)^aN. */
#define KAPLAN_ALPHA_N 0.076
#define KAPLAN_ALPHA_D 0.103
#define KAPLAN_NC 6.4e13
#define KAPLAN_DC 1.8e13
double plan_kaplan_loss(double n_nonembed, double n_tokens);

/* Levine et al. 2020 (arXiv 2006.12467), the fit: the best
 * width for depth L is exp(5.039 + 0.0555 L). */
#define LEVINE_A 5.039
#define LEVINE_B 0.0555
#define LEVINE_MIN_DEPTH 6  /* depths their experiments covered */
#define LEVINE_MAX_DEPTH 48
#define LEVINE_TOLERANCE 1.5 /* "about right": width within this factor of the fit's */
double plan_levine_width(double n_layer);
double plan_levine_depth(double n_embd);
typedef enum { LEVINE_ABOUT_RIGHT, LEVINE_TOO_DEEP, LEVINE_TOO_SHALLOW } LevineVerdict;
LevineVerdict plan_levine_verdict(int n_layer, int n_embd);
const char *plan_levine_name(LevineVerdict v);
/* The depth (real) and width on the fit's curve with 12 L D^2 = n_nonembed. */
void plan_levine_shape(double n_nonembed, double *n_layer, double *n_embd);

/* ---- GPUs ---- */

/* A GPU of the --gpu table, with its vendor's published figures. */
typedef struct PlanGpu {
    const char *key;    /* the --gpu name: "rtx4090" */
    const char *name;   /* "RTX 4090" */
    double mem_gb;      /* memory as the vendor states it; GPU memory's "GB" are 2^30 bytes */
    double bf16_tflops; /* dense bf16 on the tensor cores with float32 accumulation (what bf16 runs) */
    double fp32_tflops; /* float32 without tensor cores (the fp32 path runs no TF32) */
    const char *source; /* where the vendor publishes them */
    int smem_kb;        /* shared memory a block may opt in to, KB (CUDA's compute capability table) */
    int hopper;         /* 1: Hopper (sm_90), which runs the attention's warpgroup kernels */
} PlanGpu;

/* The table: *n GPUs. */
const PlanGpu *plan_gpus(size_t *n);
/* The GPU a --gpu name means: case, spaces and punctuation do not matter, nor
 * a leading "nvidia" or "geforce" or a trailing "gb" ("RTX 4090", rtx4090,
 * 4090, H100-SXM, "A100 80GB"). NULL, with a message listing the names, when
 * none or two match ("a100"). */
const PlanGpu *plan_gpu_find(const char *name, Err *e);
/* --gpu list: the table, its units and sources (plan_print.c). */
void plan_gpu_list(FILE *f);

/* Time. On the CPU training reaches an MFU of the sgemm rate of the
 * trainer's threads (bench/model measured MFUs of 40-90%): PLAN_CPU_MFU.
 *
 * On a GPU in bf16 one MFU does not fit every shape (GPT-2 reached 44% of
 * the matrix rate, gpt2-large 52%, 18 x 1280 with 64 heads 33%), so the plan
 * adds up a step by part, each part's cost taken from one profiled step of
 * GPT-2 124M at micro-batch 32 x 1024 on an H200 (bench/model/profile.sh:
 * 62.2 ms, of which matrix products 36.1 (GELU in their epilogues), attention
 * 16.3, the classifier and the embeddings' backward 2.3, LayerNorm 3.4,
 * AdamW 0.9, the rest 3.1), the attention timed alone
 * (build/bench/model/flash, as bench/model/flash.sh runs it: 1.09 ms a layer
 * forward and backward at that shape, 13.1 ms a step; gpt2-large's 0.92 ms a
 * layer at 16, 5.5e-12 a score on both):
 *   matrix products   6 N FLOPs a token at PLAN_GPU_MM_EFF of the matrix rate
 *   attention         PLAN_GPU_ATT_S a score, L B NH T (T+1) / 2 scores a
 *                     micro-batch: it costs by the score (softmax, masks,
 *                     the backward's recomputation), not by its FLOPs, so
 *                     thin heads cost about as much as wide ones (20
 *                     dimensions: 5.9e-12 a score, 64: 5.5e-12); heads
 *                     over 64 dimensions times head_dim_padded / 64 (not
 *                     measured)
 *   elementwise       PLAN_GPU_EW_S a token, layer and width unit
 *   classifier        PLAN_GPU_VOCAB_S a token and vocabulary entry
 *   AdamW             PLAN_GPU_ADAM_S a parameter, once a step
 *   the rest          PLAN_GPU_GAP_S a layer of each micro-batch: the step's
 *                     wall time beyond its kernels' durations as the
 *                     profiler times them one at a time (the GPU idle
 *                     between kernels, and kernels slower in a sustained run
 *                     than alone: which of the two is not measured);
 *                     GPT-2's 3.1 ms over 12 layers and gpt2-large's 13.1 ms
 *                     over 36 (its profile at micro-batch 16) average 0.31 ms
 * The parts other than the products are times on the H200; on another GPU
 * they are scaled by its matrix rate against PLAN_GPU_REF_RATE (the rate
 * cuBLASLt measured there), a rough rule (memory bandwidth does not follow
 * the matrix rate exactly). On the shapes the constants come from, on the
 * same H200 with the attention of 2026-12-02: GPT-2 at 32 planned 59.8 ms a
 * step against 60.9 measured (bench/model/cuda.sh), gpt2-large at 16 172.3
 * against 174.2 (model train alone), 18 x 1280 with 64 heads at 16 128.3
 * against 128.5 (cuda.sh).
 *
 * With --recompute the backward runs each layer's two LayerNorm forwards and
 * its GELU forward again: the elementwise part grows by PLAN_GPU_RECOMPUTE_EW
 * of itself. That share is estimated, not timed with --recompute: in the
 * profiled step the 25 LayerNorm forwards took 0.78 ms (two a layer: 0.75 ms),
 * and a GELU forward, which reads and writes a (B,T,4C) array, took 1.85 ms
 * for 12 in an earlier profile (two fifths of the GELU kernels' 4.6 ms, by
 * the bytes they move), before the GELU moved into the products' epilogues:
 * 2.6 ms, 0.76 of the 3.4 ms.
 *
 * In fp32, and wherever --mfu is given, the plan times FLOPs at an MFU of the
 * matrix rate (PLAN_GPU_FP32_MFU: GPT-2 at micro-batch 16 on the H200, 85%
 * of the 50 TFLOP/s cuBLAS measured). For a GPU named with --gpu the matrix
 * rate is the vendor's figure times PLAN_GPU_MATMUL_SHARE, what cuBLASLt
 * measured on the H200 (4096^3 bf16 products) against its 989 TFLOP/s. */
#define PLAN_CPU_MFU 0.5
#define PLAN_GPU_FP32_MFU 0.85
#define PLAN_GPU_MATMUL_SHARE (770.0 / 989.0)
#define PLAN_GPU_REF_RATE 770e12
#define PLAN_GPU_MM_EFF 0.879
#define PLAN_GPU_ATT_S 5.5e-12
#define PLAN_GPU_EW_S 1.12e-11
#define PLAN_GPU_VOCAB_S 1.40e-12
#define PLAN_GPU_ADAM_S 7.6e-12
#define PLAN_GPU_GAP_S 3.1e-4
#define PLAN_GPU_RECOMPUTE_EW 0.76

/* ---- one shape on this machine ---- */

/* What the plan assumes about the run and the machine. */
typedef struct PlanEnv {
    int micro_batch;       /* sequences a forward/backward */
    uint64_t batch_tokens; /* 0: one micro-batch */
    double tokens;         /* training tokens; 0: unknown */
    double hours;          /* time budget; 0: none */
    double data_tokens;    /* tokens in --data's training shards; 0: no data */
    double data_windows;   /* their training windows at this context (the trainer's order array) */
    double rate;           /* sgemm FLOP/s of this machine */
    double mfu;            /* fraction of rate training reaches */
    double mem_limit;      /* bytes the plan must fit in */
    double mem_avail;      /* MemAvailable now (0: unknown or --memory given) */
    unsigned threads;      /* of the sgemm rate and --measure (0: neither ran) */
    int recompute;         /* --recompute: the layout keeps one layer of LayerNorm and GELU outputs */
    int no_master;         /* --master-weights off: bf16 weights alone (a GPU in bf16) */
    int zero_ranks;        /* --zero 1 --ranks N: AdamW's moments shared by N ranks; 0: not */
    /* GPU plans: rate is the matrix-product rate in prec, mem_limit the GPU's memory */
    int gpu;               /* 1: the GPU trainer's layout and a GPU's rate */
    KernPrec prec;         /* its working precision */
    const char *gpu_name;  /* "RTX 4090", or this GPU's own name */
    double vendor_rate;    /* --gpu: the vendor's figure (FLOP/s) rate derives from; 0: measured here */
    const char *rate_from; /* how rate was found, for the output ("cuBLASLt bf16, measured") */
    const char *mem_from;  /* how mem_limit was found ("the vendor's figure", "free now", "--gpu-memory") */
    int parts;             /* bf16 without --mfu: steps timed by plan_gpu_step_s's parts */
    double gpu_overhead;   /* KERN_CUDA_OVERHEAD, counted in each plan; 0 when mem_limit is the free
                            * memory measured by this process, which holds its context already */
    int max_head_dim;      /* bf16 on a GPU: the widest head its attention takes (its shared memory) */
} PlanEnv;

typedef enum { FIT_YES, FIT_NOT_NOW, FIT_NO } PlanFit;

/* On a GPU, what makes a shape that does not fit fit: --recompute, then the
 * largest micro-batch that fits, with --batch keeping the global batch by
 * accumulation, and in bf16 where none does --master-weights off too. found
 * 0: nothing does. */
typedef struct PlanFix {
    int found;
    int recompute;          /* --recompute */
    int no_master;          /* --master-weights off */
    int micro_batch;        /* --micro-batch */
    uint64_t batch_tokens;  /* --batch: the global batch, kept */
    int accum;              /* micro-batches a step */
    double need_bytes;      /* the memory with these flags */
    char flags[96];         /* the flags to pass, e.g. "--recompute --micro-batch 4 --batch 8192" */
    double state_bytes;     /* what no micro-batch changes: weights and working copy, gradients,
                             * moments, the CUDA context and allocator */
    double min_bytes;       /* micro-batch 1 with --recompute: the least this shape takes */
} PlanFix;
/* --measure: training steps of the shape timed on this machine. */
typedef struct PlanMeasure {
    int steps;           /* timed steps, after one warm-up step */
    int real_data;       /* windows of --data, else random tokens */
    double fb_s;         /* forward + backward of one micro-batch: median of the steps */
    double adam_s;       /* zeroing the gradients + one AdamW step (clipping included): median */
    double step_s;       /* accum x fb_s + adam_s: one optimizer step of batch_tokens */
    double tokens_s;     /* batch_tokens / step_s */
    double mfu;          /* tokens_s x FLOPs a token / sgemm rate */
    double run_s;        /* planned steps x step_s */
    double hours_tokens; /* tokens trainable in --hours at tokens_s; 0: no --hours */
    double loss;         /* mean loss of the timed micro-batches (about ln V at init) */
} PlanMeasure;

/* The chin_na and kaplan_na of a fit whose loss is above ln V, compared by pointer. */
extern const char plan_above_ln_v[];

typedef struct PlanFacts {
    GptConfig cfg;
    double n_params;       /* total, vocabulary V, tied output layer counted once */
    double n_nonembed;     /* without token and position embeddings */
    int head_dim;
    GptMemory mem;         /* what the trainer allocates for micro_batch x context */
    double need_bytes;     /* mem.total + batch buffers + window order: what train checks;
                            * on a GPU mem.total + overhead_bytes */
    double att_bytes;      /* of mem.acts + mem.scratch: the attention probabilities (on a GPU:
                            * the attention's state and scratch, the layout's two arrays) */
    PlanFit fit;
    /* GPU plans (env->gpu) */
    double master_bytes;   /* of mem.params: the float32 master weights */
    double copy_bytes;     /* of mem.params: their working-precision copy (0 in fp32) */
    double overhead_bytes; /* the CUDA context and allocator (env->gpu_overhead) */
    int head_too_wide;     /* the bf16 attention does not take heads this wide */
    PlanFix fix;           /* when fit is FIT_NO */
    double flops_token;    /* 6N + 12 L D T */
    uint64_t batch_tokens;
    int accum;             /* micro-batches a step */
    double step_s;         /* at rate x mfu, or by part (env->parts) */
    double mfu;            /* what step_s means: FLOPs a step / step_s / rate */
    double tokens;         /* planned: --tokens, else --data's, else --hours', else 20 N */
    const char *tokens_from; /* "--tokens", "data", "--hours", "20 tokens/parameter" */
    double steps, run_s, epochs; /* epochs: 0 without data */
    double hours_tokens;   /* tokens trainable in --hours (0: no --hours) */
    double chin_tokens;    /* 20 N */
    double chin_loss;      /* fit at (N, tokens) */
    double flops;          /* C = 6 N tokens */
    double chin_opt_n, chin_opt_d, chin_opt_loss; /* the fit's optimum for C */
    double kaplan_loss, kaplan_loss_inf; /* at (N', tokens) and with unlimited data */
    const char *chin_na, *kaplan_na; /* NULL, or why the fit does not apply here: its loss is above
                                      * ln V (plan_above_ln_v: guessing uniformly does better), or N
                                      * or D is outside what it was fitted on */
    double levine_depth;   /* best depth for this width */
    double levine_width;   /* best width for this depth */
    LevineVerdict verdict;
    int levine_in_range;   /* depth within the fit's experiments */
    double levine_opt_depth, levine_opt_width; /* the fit's shape at this size */
    int measured;          /* meas is filled (plan_measure) */
    PlanMeasure meas;
} PlanFacts;

/* Seconds of one GPU step of c at context T, batch_tokens tokens in
 * micro-batches of env->micro_batch, at env->rate, by the parts above. */
double plan_gpu_step_s(const GptConfig *c, int T, double batch_tokens, const PlanEnv *env);

/* Fill f for shape c (checked with gpt_config_check). 0, or -1 with a message. */
int plan_facts(const GptConfig *c, const PlanEnv *env, PlanFacts *f, Err *e);

struct Shards;
/* Time `steps` training steps, after one warm-up step, of f's shape (filled by
 * plan_facts with env) on pool, as model train runs them: env->micro_batch x
 * context, GPT-2 init, AdamW with train's defaults, gradients scaled for
 * f->accum micro-batches. The batches are windows of data (NULL: random
 * tokens from a fixed seed). Fills f->meas, sets f->measured. It allocates
 * what the trainer does (f->mem): the caller checks the memory first.
 * 0, or -1 with a message. */
int plan_measure(PlanFacts *f, const PlanEnv *env, GPool *pool, const struct Shards *data, int steps,
                 Err *e);

/* "LxDxH" (layers x width x heads) into c's shape; mlp 4 D. 0 or -1 with a message. */
int plan_parse_shape(const char *s, GptConfig *c, Err *e);

/* ---- budget mode ---- */

typedef struct PlanCandidate {
    PlanFacts f;
    double score; /* |ln(width / Levine's width for its depth)|: 0 is on the fit */
} PlanCandidate;

/* Shapes of about n_params total parameters (within 10%), width a multiple of
 * head_dim, heads = width / head_dim, vocabulary and context from base, ranked
 * by closeness to Levine's fit. *out: caller frees with free(); *n may be 0. */
int plan_budget(const GptConfig *base, double n_params, int head_dim, const PlanEnv *env,
                PlanCandidate **out, size_t *n, Err *e);

/* ---- output (plan_print.c) ---- */

void plan_print_table(FILE *f, const PlanFacts *facts, size_t n, const PlanEnv *env);
void plan_print_reasons(FILE *f, const PlanFacts *facts, size_t n, const PlanEnv *env);
/* The first top of budget mode's n candidates; with budget_flops > 0, the
 * Chinchilla optimum for it first (budget is then the fit's N). */
void plan_print_budget(FILE *f, const PlanCandidate *c, size_t n, size_t top, double budget,
                       double budget_flops, const PlanEnv *env);
/* The facts as one JSON document (jansson); caller frees with free(). */
char *plan_json(const PlanFacts *facts, size_t n, const PlanEnv *env, const char *mode,
                double budget);
/* "36x1280x20" (layers x width x heads) into buf; returns buf. */
const char *plan_shape_name(char *buf, size_t n, const GptConfig *c);
/* Bytes as "1.23 GB" or "45.6 MB" (10^9, 10^6) into buf; returns buf. */
const char *plan_bytes_str(char *buf, size_t n, double v);

/* ---- the subcommand ---- */

/* `model plan`'s options (args.c fills them from argv). */
typedef struct PlanOpts {
    const char *preset;         /* NULL: gpt2, unless L, D, H or a mode */
    const char *compare;        /* "LxDxH,LxDxH,...": --compare mode; NULL: none */
    const char *data;           /* a packer folder; NULL: none */
    int L, D, H, M, V, T;       /* layers, width, heads, MLP, vocabulary, context; 0: default */
    double budget;              /* parameters, --budget mode; 0: none */
    double budget_flops;        /* FLOPs, --budget-flops mode; 0: none */
    double memory;              /* bytes to judge the fit against; 0: this machine's */
    double rate;                /* sgemm (GPU: matmul) GFLOP/s to assume; 0: measure it */
    double mfu;                 /* fraction of the rate training reaches; 0: the device's */
    const PlanGpu *gpu;         /* --gpu NAME: plan for it; NULL: --device's */
    int gpu_list;               /* --gpu list: print the table, plan nothing */
    double gpu_memory;          /* --gpu-memory: bytes of the GPU; 0: its own */
    int recompute;              /* --recompute */
    int no_master;              /* --master-weights off */
    int ranks, zero;            /* --ranks N (default 1), --zero 0|1: memory a rank under mpirun */
    double tokens, hours;       /* 0: none */
    uint64_t batch;             /* tokens a step; 0: one micro-batch */
    int micro, top, head_dim;   /* micro-batch sequences; shapes listed; budget mode's head size */
    int json;                   /* one JSON object instead of the table */
    int measure;                /* timed steps; 0: no --measure */
    CommonOpts common;
    DeviceOpts dev;
} PlanOpts;

/* Defaults for every field (micro-batch 8, the device's MFU, top 10, head size 64). */
void plan_opts_init(PlanOpts *o);
/* Plan, writing the report to out (the summary line to stderr); returns the
 * exit status: 0, 1 (data error, message in e) or 2 (bad usage, message in e). */
int plan_run(const PlanOpts *o, FILE *out, Err *e);

#endif
