/* Every subcommand's command line: its help text, and argv parsed into the
 * options struct of its logic (train.h, plan.h, sweep.h, sample.h,
 * evaluate.h, export.h, import.h) with the usage checks that need no data.
 * Nothing here reads a file or runs the model: main.c hands the options to
 * the logic, whose errors args_report shows. */
#include "args.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "path.h"
#include "poolsize.h"

#define PROG ARGS_PROG

int args_report(const char *prog, const char *cmd, int code, const Err *e)
{
    if (code == 2) cli_bad_usage_for(prog, cmd, "%s", e->msg);
    else if (code) err_print(prog, e);
    return code;
}

/* ---- options several subcommands share ---- */

/* cli_common_option (--progress --quiet -j), with -j refused past the threads
 * OpenBLAS was built for: our pool's threads all call it, and past its limit
 * it crashes (-j 1000 was a segfault). */
static int common_option(const char *prog, CommonOpts *c, int argc, char **argv, int *i)
{
    int rc = cli_common_option(prog, c, argc, argv, i);
    unsigned limit = gpool_blas_limit();
    if (rc == 1 && c->threads > limit)
        return cli_bad_usage(prog, "-j %u is more threads than OpenBLAS here is built for: at most %u", c->threads,
                             limit);
    return rc;
}

/* The lines of --device and --precision, for the help of every subcommand
 * that runs the model. */
#define DEVICE_LINES                                                                   \
    "  --device cpu|cuda    where to run (default: cuda when this build has it and a\n" \
    "                       GPU is visible, else cpu)\n"                                \
    "  --precision fp32|bf16   the working precision (default: bf16 on a GPU, with\n" \
    "                       float32 master weights, moments and sums; the CPU has\n"  \
    "                       fp32 only)\n"
static const char device_help[] = "Device:\n" DEVICE_LINES;

/* --device cpu|cuda and --precision fp32|bf16, taken as cli_common_option
 * takes its options: 1 when argv[*i] was one (its value taken, *i advanced),
 * 0 when it is not, 2 after printing a bad-usage message. */
static int device_option(const char *prog, DeviceOpts *d, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    int is_device = !strcmp(a, "--device");
    if (!is_device && strcmp(a, "--precision")) return 0;
    if (*i + 1 >= argc) return cli_bad_usage(prog, "%s needs a value", a);
    const char *v = argv[++*i];
    if (is_device) {
        if (!strcmp(v, "cpu")) d->device = KERN_CPU;
        else if (!strcmp(v, "cuda")) d->device = KERN_CUDA;
        else return cli_bad_usage(prog, "%s is cpu or cuda, not '%s'", a, v);
    } else {
        if (!strcmp(v, "fp32")) d->prec = PREC_FP32;
        else if (!strcmp(v, "bf16")) d->prec = PREC_BF16;
        else return cli_bad_usage(prog, "%s is fp32 or bf16, not '%s'", a, v);
    }
    return 1;
}

/* A folder argument without its trailing slashes, so that what the programs
 * print reads "run/latest", not "run//latest" (argv's strings are the
 * program's to change). */
static const char *dir_arg(const char *v) { return path_tidy((char *)v); }

/* The bad usage of a value that is not a whole number in [lo, hi]: the
 * message states the range ("--layers must be a whole number in 1..1000, not
 * '0'"), bounds that are powers of two from 2^20 up written as such. */
static int bad_whole(const char *prog, const char *a, const char *v, uint64_t lo, uint64_t hi)
{
    char his[32];
    int log2 = 0;
    while (log2 < 63 && (UINT64_C(1) << log2) < hi) log2++;
    if (log2 >= 20 && (UINT64_C(1) << log2) == hi) snprintf(his, sizeof his, "2^%d", log2);
    else snprintf(his, sizeof his, "%llu", (unsigned long long)hi);
    return cli_bad_usage(prog, "%s must be a whole number in %llu..%s, not '%s'", a, (unsigned long long)lo, his, v);
}

/* The same for a number in [lo, hi]. */
static int bad_number(const char *prog, const char *a, const char *v, double lo, double hi)
{
    return cli_bad_usage(prog, "%s must be a number in %.10g..%.10g, not '%s'", a, lo, hi, v);
}

/* A GPU's memory for --gpu-memory (plan's and train's): bytes with a
 * unit, as --memory's (k M G T are powers of 1000, Ki Mi Gi of 1024,
 * fractions that come out whole) with a "B" after the unit allowed: 24G,
 * 24GB, 24GiB, 24000M, 1.5T. A card sold as "24 GB" has 24Gi. At least 1 MiB,
 * so that a bare "24" is refused rather than taken as 24 bytes. 0 or -1. */
static int parse_gpu_memory(const char *s, uint64_t *out)
{
    char v[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof v) return -1;
    memcpy(v, s, n + 1);
    if (n >= 2 && v[n - 1] == 'B' && strchr("kKMGTi", v[n - 2])) v[n - 1] = 0;
    return cli_u64(v, (uint64_t)1 << 20, UINT64_MAX, out);
}

/* The help of the options train_shared_option takes. */
static const char train_shared_help[] =
    "Data and batch (as 'model train'):\n"
    "  --context T          tokens a sequence (default: meta.json's, else 1024)\n"
    "  --batch TOKENS       tokens a step (default: one micro-batch); gradients\n"
    "                       accumulate over micro-batches\n"
    "  --micro-batch SEQS   sequences a forward/backward pass (default 8)\n"
    "  --vocab-size N --eot ID   for bare llm.c shards (default GPT-2's 50257, 50256)\n"
    "  --seed N             initial weights and data order (default 1337)\n"
    "AdamW (GPT-3's):\n"
    "  --weight-decay W     (default 0.1)   --clip N   gradient-norm clipping (default 1.0)\n"
    "  --beta1 B --beta2 B --eps E   (default 0.9, 0.95, 1e-8)\n";

/* The training options sweep and lr-find share with `model train` (--context
 * --vocab-size --eot --batch --micro-batch --weight-decay --beta1 --beta2 --eps
 * --clip --seed): 1 when argv[*i] was one (its value taken, *i advanced), 0
 * when it is not, 2 after printing a bad-usage message. */
static int train_shared_option(const char *prog, TrainOpts *o, int argc, char **argv, int *i)
{
    static const char *const names[] = { "--context", "--vocab-size", "--eot", "--batch", "--micro-batch",
                                         "--weight-decay", "--beta1", "--beta2", "--eps", "--clip", "--seed" };
    const char *a = argv[*i];
    size_t k = 0;
    while (k < sizeof names / sizeof names[0] && strcmp(a, names[k])) k++;
    if (k == sizeof names / sizeof names[0]) return 0;
    if (*i + 1 >= argc) return cli_bad_usage(prog, "%s needs a value", a);
    const char *v = argv[++*i];
    uint64_t n = 0;
    double d = 0;
#define WHOLE(lo, hi) if (cli_u64(v, lo, hi, &n)) return bad_whole(prog, a, v, lo, hi)
#define NUMBER(lo, hi) if (cli_double(v, lo, hi, &d)) return bad_number(prog, a, v, lo, hi)
    switch (k) {
    case 0: WHOLE(1, 1 << 20); o->context = (int)n; break;
    case 1: WHOLE(2, 1u << 31); o->vocab_size = (int)n; break;
    case 2: WHOLE(0, 1u << 31); o->eot_id = (int)n; break;
    case 3: WHOLE(1, UINT64_C(1) << 40); o->batch_tokens = n; break;
    case 4: WHOLE(1, 1 << 16); o->micro_batch = (int)n; break;
    case 5: NUMBER(0, 10); o->adam.weight_decay = (float)d; break;
    case 6: NUMBER(0, 0.999999); o->adam.beta1 = (float)d; break;
    case 7: NUMBER(0, 0.999999999); o->adam.beta2 = (float)d; break;
    case 8: NUMBER(1e-30, 1); o->adam.eps = (float)d; break;
    case 9: NUMBER(0, 1e9); o->adam.clip = (float)d; break;
    default: WHOLE(0, INT64_MAX); o->seed = n; break;
    }
#undef WHOLE
#undef NUMBER
    return 1;
}

/* `else if` arms of train, sweep and lr-find for an option a whose value v is
 * a whole number (U64) or a number (DBL) in [min, max], into dst; n and d are
 * the caller's scratch. */
#define U64(name, min, max, dst)                                                                   \
    else if (!strcmp(a, name)) {                                                                   \
        if (cli_u64(v, min, max, &n)) return bad_whole(PROG, a, v, min, max);                     \
        dst = n;                                                                                   \
    }
#define DBL(name, min, max, dst)                                                                   \
    else if (!strcmp(a, name)) {                                                                   \
        if (cli_double(v, min, max, &d)) return bad_number(PROG, a, v, min, max);                  \
        dst = d;                                                                                   \
    }

/* ---- train ---- */

static int train_usage(FILE *f, int code)
{
    fputs("usage: model train --data DIR -o RUN [options]\n"
          "       model train --resume RUN [--steps N] [-j N]\n"
          "\n"
          "Reads DIR/train*.bin (every *.bin without 'val' in its name) and DIR/val*.bin,\n"
          "llm.c shards as packer writes them, memory-mapped, and DIR/meta.json (vocabulary,\n"
          "end-of-text id, context, window mode) when it is there. Writes into RUN/:\n"
          "log.csv (step, tokens, loss, val_loss, lr, grad_norm, tokens_per_s, mfu),\n"
          "loss.png (gnuplot), ckpt-STEP.bin checkpoints and 'latest' (the newest), and\n"
          "tokenizer.json (DIR's copy). Before training it prints the plan: parameters,\n"
          "memory, tokens a step, FLOPs a token; it refuses a plan that does not fit in\n"
          "the memory available. Progress (step, loss, tokens/s, MFU, ETA) goes to stderr.\n"
          "\n"
          "Shape:\n"
          "  --preset NAME        tiny (4x128, 4 heads; default), small (6x384, 6),\n"
          "                       mosaic-52m (8x512, 8), mosaic-83m (10x640, 10),\n"
          "                       mosaic-125m (12x768, 12), gpt2 (12x768, 12),\n"
          "                       gpt2-medium (24x1024, 16), gpt2-large (36x1280, 20),\n"
          "                       gpt2-xl (48x1600, 25)\n"
          "  --layers L --width D --heads H   override the preset's; D must divide by H\n"
          "  --mlp N              MLP hidden width (default 4 x width)\n"
          "  --recompute          keep one layer of LayerNorm and GELU outputs and recompute\n"
          "                       them in the backward: less memory for larger shapes, the\n"
          "                       same results bit for bit (the plan shows the memory)\n"
          "  --master-weights on|off   off: keep the weights in bf16 alone, AdamW rounding\n"
          "                       its updates into them stochastically, instead of a float32\n"
          "                       master copy beside them (default on): 4 bytes a parameter\n"
          "                       less, for shapes that do not fit otherwise (GPU, bf16 only;\n"
          "                       model plan proposes it when needed)\n"
          "  --zero 0|1           1: under mpirun, each rank keeps and updates the AdamW\n"
          "                       moments of its slice of the weights only, then the ranks\n"
          "                       share the new weights (ZeRO-1): the moments' memory / N\n"
          "                       (default 0; CPU or GPU ranks)\n"
          "  --rank-timeout S     under mpirun, a rank that waits more than S seconds for\n"
          "                       the others in a sum stops the run, and rank 0 names the\n"
          "                       ranks that never came (default 900; 0: wait for ever).\n"
          "                       Longer than rank 0's evaluation and checkpoint writing\n"
          "  --dropout P          training dropout where GPT-2 has it (embeddings, attention\n"
          "                       probabilities, both projections before the residual\n"
          "                       adds), 0..0.9 (default 0: none); never at evaluation\n"
          "  --context T          tokens a sequence (default: meta.json's context, else\n"
          "                       1024); best-fit data only trains at its own context\n"
          "  --vocab-size N --eot ID   for bare llm.c shards whose header says neither\n"
          "                       (default GPT-2's 50257 and 50256)\n"
          "Length and batch:\n"
          "  --steps N            optimizer steps (default: one epoch of the data)\n"
          "  --tokens N           or train this many tokens (rounded up to whole steps)\n"
          "  --batch TOKENS       global batch in tokens (default: one micro-batch); a\n"
          "                       multiple of micro-batch x context, gradients accumulate\n"
          "  --micro-batch SEQS   sequences a forward/backward pass (default 8)\n"
          "Optimizer (GPT-3's AdamW):\n"
          "  --lr LR              peak learning rate (default: the preset's, e.g. tiny 2e-3,\n"
          "                       gpt2 6e-4)\n"
          "  --schedule S         cosine (default), linear, constant or wsd (warmup, stable,\n"
          "                       linear decay over the last --decay-frac, default 0.2)\n"
          "  --warmup N           linear warmup steps (default 5% of the steps)\n"
          "  --min-lr-frac F      cosine/linear/wsd end at F x lr (default 0.1)\n"
          "  --weight-decay W     on matrices and embeddings, not biases or gains (default 0.1)\n"
          "  --beta1 B --beta2 B --eps E   (default 0.9, 0.95, 1e-8)\n"
          "  --clip N             global gradient-norm clipping, 0 for none (default 1.0)\n"
          "  --seed N             initial weights and data order (default 1337)\n"
          "Evaluation and checkpoints:\n"
          "  --eval-every N       validation loss every N steps and at the end (default:\n"
          "                       ten a run)\n"
          "  --eval-batches N     micro-batches of validation windows, the first ones in\n"
          "                       the shards (default 20)\n"
          "  --ckpt-every N       checkpoint every N steps and at the end (default: at each\n"
          "                       evaluation)\n"
          "  --keep N             newest checkpoints kept (default 2)\n"
          "  --no-checkpoint      write none: for runs that only time or try a setting;\n"
          "                       such a run cannot be resumed, sampled or exported\n"
          "  --resume RUN         continue RUN from RUN/latest with its own settings,\n"
          "                       bit-identical to a run that never stopped; --steps N\n"
          "                       changes the total, --data DIR where the shards are now\n"
          "Samples while training (as llm.c prints them; they change nothing the run\n"
          "computes, and a resume may add, change or drop them):\n"
          "  --sample-every N     every N steps and at the end, print on stderr a sample of\n"
          "                       the model so far between lines of '---' (default: none;\n"
          "                       --quiet does not silence it); needs the run's tokenizer\n"
          "                       (DIR/tokenizer.json)\n"
          "  --prompt TEXT        what the samples continue, after an end-of-text as in\n"
          "                       model sample (default: none, a document's start)\n"
          "  --sample-tokens N    tokens a sample at most; end-of-text stops it (default 64)\n"
          "  --sample-temperature T   0 is greedy (default 1.0: the model's distribution);\n"
          "                       the sample at step S uses seed --seed + S: with the\n"
          "                       default seed, model sample RUN --ckpt RUN/ckpt-000100.bin\n"
          "                       --seed 1437 (and the same prompt and tokens) prints\n"
          "                       step 100's sample\n",
          f);
    fputs(device_help, f);
    fputs("  --gpu-memory SIZE    train as if the GPU had only SIZE (24Gi, 24G = 24GB = 24000M:\n"
          "                       a card sold as 24 GB has 24Gi), its context included: the\n"
          "                       plan is checked against it and no allocation goes past it,\n"
          "                       so a run for a smaller card can be tried on a larger one\n",
          f);
    fputs(cli_common_help, f);
    fputs("\n  example: model train --data data/ -o run/ --preset tiny --context 128 --steps 500\n"
          "           model train --data data/ -o run/ --steps 500 --sample-every 100 --prompt 'The king said'\n", f);
    return code;
}

int args_parse_train(int argc, char **argv, TrainOpts *o)
{
    train_opts_init(o);
    CommonOpts common = { 0 };
    const char *fixed = NULL; /* an option --resume cannot take: the checkpoint has its own */
    const char *sample_opt = NULL; /* an option that needs --sample-every */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = common_option(PROG, &common, argc, argv, &i);
        if (rc == 0) rc = device_option(PROG, &o->dev, argc, argv, &i);
        if (rc == 2) return 2;
        if (rc == 1) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return train_usage(stdout, 0);
        if (!strcmp(a, "--recompute")) { /* memory, not results: a resume may change it */
            o->recompute = 1;
            continue;
        }
        if (!strcmp(a, "--no-checkpoint")) { /* not a result: a resume may ask for it */
            o->no_ckpt = 1;
            continue;
        }
        if (!strcmp(a, "--rank-timeout")) { /* not a result: a resume may change it */
            const char *v = i + 1 < argc ? argv[++i] : "";
            if (cli_double(v, 0, 1e9, &o->rank_timeout))
                return cli_bad_usage_for(PROG, "model train", "--rank-timeout needs seconds (0: none), not '%s'", v);
            continue;
        }
        if (!strcmp(a, "--zero")) { /* memory, not results (within rounding): a resume may change it */
            const char *v = i + 1 < argc ? argv[++i] : "";
            if (strcmp(v, "0") && strcmp(v, "1")) return cli_bad_usage_for(PROG, "model train", "--zero takes 0 or 1, not '%s'", v);
            o->zero = !strcmp(v, "1");
            continue;
        }
        if (!strcmp(a, "--master-weights")) { /* likewise: the checkpoints hold float32 either way */
            const char *v = i + 1 < argc ? argv[++i] : "";
            if (strcmp(v, "on") && strcmp(v, "off"))
                return cli_bad_usage_for(PROG, "model train", "--master-weights takes on or off, not '%s'", v);
            o->no_master = !strcmp(v, "off");
            continue;
        }
        if (!strcmp(a, "--gpu-memory")) { /* likewise */
            if (i + 1 >= argc) return cli_bad_usage_for(PROG, "model train", "--gpu-memory needs a size");
            const char *v = argv[++i];
            if (parse_gpu_memory(v, &o->dev.mem_cap))
                return cli_bad_usage_for(PROG, "model train", "--gpu-memory needs a size such as 24Gi, 24G, 24GB or 24000M, not '%s'", v);
            continue;
        }
        if (a[0] != '-') return cli_bad_usage_for(PROG, "model train", "train takes no file arguments ('%s'): use --data DIR", a);
        if (i + 1 >= argc) return cli_bad_usage_for(PROG, "model train", "%s needs a value (or is not an option)", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--prompt") || !strcmp(a, "--sample-tokens") || !strcmp(a, "--sample-temperature"))
            sample_opt = a;
        if (strcmp(a, "--data") && strcmp(a, "--resume") && strcmp(a, "--steps") && strcmp(a, "-o") &&
            strcmp(a, "--out") && strncmp(a, "--sample-", 9) && strcmp(a, "--prompt")) /* samples change no result */
            fixed = a;
        uint64_t n = 0;
        double d = 0;
        if (!strcmp(a, "--data")) o->data_dir = dir_arg(v);
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) o->out_dir = dir_arg(v);
        else if (!strcmp(a, "--resume")) o->resume_dir = dir_arg(v);
        else if (!strcmp(a, "--prompt")) o->prompt = v;
        else if (!strcmp(a, "--preset")) {
            if (!train_preset(v)) return cli_bad_usage_for(PROG, "model train", "%s: unknown preset '%s' (see model train --help)", a, v);
            o->preset = v;
        } else if (!strcmp(a, "--schedule")) {
            if (sched_parse(v, &o->schedule))
                return cli_bad_usage_for(PROG, "model train", "%s is cosine, linear, constant or wsd, not '%s'", a, v);
        }
        U64("--layers", 1, 1000, o->n_layer)
        U64("--width", 1, 1 << 16, o->n_embd)
        U64("--heads", 1, 1 << 12, o->n_head)
        U64("--mlp", 1, 1 << 18, o->n_mlp)
        U64("--context", 1, 1 << 20, o->context)
        U64("--vocab-size", 2, 1u << 31, o->vocab_size)
        U64("--eot", 0, 1u << 31, o->eot_id)
        U64("--steps", 1, UINT64_C(1) << 40, o->steps)
        U64("--tokens", 1, UINT64_C(1) << 50, o->tokens)
        U64("--batch", 1, UINT64_C(1) << 40, o->batch_tokens)
        U64("--micro-batch", 1, 1 << 16, o->micro_batch)
        U64("--warmup", 0, UINT64_C(1) << 40, o->warmup)
        U64("--eval-every", 1, UINT64_C(1) << 40, o->eval_every)
        U64("--eval-batches", 1, 1 << 20, o->eval_batches)
        U64("--ckpt-every", 1, UINT64_C(1) << 40, o->ckpt_every)
        U64("--keep", 1, 4096, o->keep)
        U64("--seed", 0, INT64_MAX, o->seed)
        U64("--sample-every", 1, UINT64_C(1) << 40, o->sample_every)
        U64("--sample-tokens", 1, 1 << 20, o->sample_tokens)
        DBL("--sample-temperature", 0, 100, o->sample_temperature)
        DBL("--lr", 1e-12, 10, o->lr)
        DBL("--dropout", 0, 0.9, o->dropout)
        DBL("--min-lr-frac", 0, 1, o->min_frac)
        DBL("--decay-frac", 0, 1, o->decay_frac)
        DBL("--weight-decay", 0, 10, o->adam.weight_decay)
        DBL("--beta1", 0, 0.999999, o->adam.beta1)
        DBL("--beta2", 0, 0.999999999, o->adam.beta2)
        DBL("--eps", 1e-30, 1, o->adam.eps)
        DBL("--clip", 0, 1e9, o->adam.clip)
        else return cli_bad_usage_for(PROG, "model train", "train: unknown option '%s'", a);
    }
    if (o->steps && o->tokens) return cli_bad_usage_for(PROG, "model train", "--steps and --tokens: give one of them");
    if (o->no_ckpt && o->ckpt_every)
        return cli_bad_usage_for(PROG, "model train", "--no-checkpoint writes none: drop --ckpt-every");
    if (sample_opt && !o->sample_every)
        return cli_bad_usage_for(PROG, "model train", "%s shapes the samples of --sample-every N: give it too (e.g. --sample-every 100)",
                             sample_opt);
    if (o->resume_dir) {
        if (fixed)
            return cli_bad_usage_for(PROG, "model train", "--resume continues with the checkpoint's settings: %s cannot change "
                                 "(only --steps, --data, --device, --precision, --recompute, --master-weights, --zero, --rank-timeout, --gpu-memory, --no-checkpoint, the sample options, "
                                 "-j, --progress, --quiet)", fixed);
        if (o->out_dir && strcmp(o->out_dir, o->resume_dir))
            return cli_bad_usage_for(PROG, "model train", "--resume RUN continues in RUN: drop -o");
    } else {
        if (!o->data_dir) return cli_bad_usage_for(PROG, "model train", "train needs --data DIR (the packer's output folder)");
        if (!o->out_dir) return cli_bad_usage_for(PROG, "model train", "train needs -o RUN (the folder for checkpoints and logs)");
    }
    o->threads = common.threads;
    o->progress = common.progress;
    return ARGS_RUN;
}

/* ---- sweep and lr-find ---- */

static int sweep_usage(FILE *f, int code)
{
    fputs("usage: model sweep --data DIR -o SWEEP --layers 2,4 --width 64,128 --heads 2,4 [--steps N | --tokens N] [--seeds N]\n"
          "       model sweep --data DIR -o SWEEP --layers ... --width ... --heads ... --budget-params P | --budget-flops F\n"
          "\n"
          "Short real trainings ('model train', same code) of every shape of the grid\n"
          "layers x width x heads, on DIR's shards, with the same seed, batch, schedule and\n"
          "tokens for each, to answer 'which shape learns best on my data' with numbers.\n"
          "Shapes whose width does not divide by the heads are skipped, with a message.\n"
          "Each point trains into SWEEP/L<layers>-D<width>-H<heads>/ (log.csv, loss.png,\n"
          "a checkpoint) and leaves result.json there when it finishes. Writes\n"
          "SWEEP/results.csv (layers, width, heads, head_dim, params, steps, tokens, flops,\n"
          "tokens_per_s, train_loss_mean_last_tenth, val_loss, run), prints the same table\n"
          "on stdout, draws SWEEP/sweep.png (validation loss against step for each shape,\n"
          "and final validation loss against parameters) and keeps every run's figures in\n"
          "SWEEP/sweep.json. The table's 'train loss last 10%' is the mean training loss\n"
          "of the last tenth of the steps (one batch is noisy), not the last step's that\n"
          "model train's summary prints ('last-step train loss'); 'val loss' is the last\n"
          "evaluation's, at the last step.\n"
          "One run a shape says nothing of the noise: --seeds N trains each shape N times\n"
          "(seeds S, S+1, ...: other initial weights and another data order each), and\n"
          "the table shows mean ± sample standard deviation; the summary says whether the\n"
          "lowest shape's lead over the runner-up is within that spread (their two\n"
          "ranges mean ± sd overlap: the seeds do not tell them apart).\n"
          "Resumable: run it again with the same options and finished points are not\n"
          "trained again (the table is rebuilt from their result.json), an interrupted one\n"
          "continues from its checkpoint, and grid values added since are trained. A\n"
          "SWEEP folder keeps its settings (SWEEP/sweep.json): other training options\n"
          "need another -o.\n"
          "\n"
          "Grid and length:\n"
          "  --layers LIST        layer counts, comma-separated (default 4)\n"
          "  --width LIST         widths (default 128)\n"
          "  --heads LIST         attention heads (default 4)\n"
          "  --steps N            optimizer steps of every point (default 200)\n"
          "  --tokens N           or tokens of every point (rounded up to whole steps)\n"
          "  --budget-params P    only the shapes whose parameters are within --tolerance\n"
          "                       of P (hold size fixed; compare aspect ratios)\n"
          "  --budget-flops F     every shape trains for F training FLOPs (6N + 12LDT a\n"
          "                       token): steps = F / (FLOPs a step), so small models see\n"
          "                       more tokens (an IsoFLOP profile, as Chinchilla's approach\n"
          "                       2); shapes whose whole steps miss F by more than\n"
          "                       --tolerance are skipped\n"
          "  --tolerance F        relative, for both budgets (default 0.2, i.e. +-20%)\n"
          "  --seeds N            runs of every shape, seeded --seed, --seed + 1, ... (default\n"
          "                       1); from 2, mean ± sample standard deviation and a verdict.\n"
          "                       The first seed's run keeps the folder L<l>-D<d>-H<h>; the\n"
          "                       others go to L<l>-D<d>-H<h>-seed<S>. Raise N later in the\n"
          "                       same SWEEP and only the new seeds train\n"
          "Training (as 'model train', the same for every point):\n"
          "  --lr LR              peak learning rate (default 2e-3, tiny's)\n"
          "  --schedule S         cosine (default), linear, constant or wsd\n"
          "  --warmup N           warmup steps (default 5% of the steps)\n"
          "  --min-lr-frac F --decay-frac F   (default 0.1, 0.2)\n"
          "  --eval-every N       validation every N steps (default: ten a run)\n"
          "  --eval-batches N     micro-batches of validation windows (default 20)\n",
          f);
    fputs(train_shared_help, f);
    fputs(device_help, f);
    fputs(cli_common_help, f);
    fputs("\n  example: model sweep --data data/ -o sweep/ --layers 2,4,8 --width 128,256 --heads 4,8 --steps 300 --context 128\n"
          "           model sweep --data data/ -o iso/ --layers 1,2,4,8 --width 64,128,256 --heads 4 --budget-flops 2e13\n"
          "           model sweep --data data/ -o sweep/ --layers 2,4 --width 128 --heads 4 --steps 150 --seeds 3\n",
          f);
    return code;
}

int args_parse_sweep(int argc, char **argv, SweepOpts *s)
{
    sweep_opts_init(s);
    CommonOpts common = { 0 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = common_option(PROG, &common, argc, argv, &i);
        if (rc == 0) rc = device_option(PROG, &s->t.dev, argc, argv, &i);
        if (rc == 2) return 2;
        if (rc == 1) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return sweep_usage(stdout, 0);
        if ((rc = train_shared_option(PROG, &s->t, argc, argv, &i)) == 2) return 2;
        if (rc == 1) continue;
        if (a[0] != '-') return cli_bad_usage_for(PROG, "model sweep", "sweep takes no file arguments ('%s'): use --data DIR", a);
        if (i + 1 >= argc) return cli_bad_usage_for(PROG, "model sweep", "sweep: unknown option '%s' (or it needs a value)", a);
        const char *v = argv[++i];
        uint64_t n = 0;
        double d = 0;
        if (!strcmp(a, "--data")) s->t.data_dir = dir_arg(v);
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) s->out_dir = dir_arg(v);
        else if (!strcmp(a, "--layers")) {
            if ((s->n_layers = sweep_parse_list(v, 1, 1000, s->layers, SWEEP_MAX_LIST)) < 0)
                return cli_bad_usage_for(PROG, "model sweep", "--layers needs distinct whole numbers separated by commas, not '%s'", v);
        } else if (!strcmp(a, "--width")) {
            if ((s->n_widths = sweep_parse_list(v, 1, 1 << 16, s->widths, SWEEP_MAX_LIST)) < 0)
                return cli_bad_usage_for(PROG, "model sweep", "--width needs distinct whole numbers separated by commas, not '%s'", v);
        } else if (!strcmp(a, "--heads")) {
            if ((s->n_heads = sweep_parse_list(v, 1, 1 << 12, s->heads, SWEEP_MAX_LIST)) < 0)
                return cli_bad_usage_for(PROG, "model sweep", "--heads needs distinct whole numbers separated by commas, not '%s'", v);
        } else if (!strcmp(a, "--schedule")) {
            if (sched_parse(v, &s->t.schedule))
                return cli_bad_usage_for(PROG, "model sweep", "%s is cosine, linear, constant or wsd, not '%s'", a, v);
        }
        U64("--steps", 1, UINT64_C(1) << 40, s->steps)
        U64("--tokens", 1, UINT64_C(1) << 50, s->tokens)
        U64("--warmup", 0, UINT64_C(1) << 40, s->t.warmup)
        U64("--eval-every", 1, UINT64_C(1) << 40, s->t.eval_every)
        U64("--eval-batches", 1, 1 << 20, s->t.eval_batches)
        U64("--mlp", 1, 1 << 18, s->t.n_mlp)
        DBL("--lr", 1e-12, 10, s->t.lr)
        DBL("--min-lr-frac", 0, 1, s->t.min_frac)
        DBL("--decay-frac", 0, 1, s->t.decay_frac)
        DBL("--budget-params", 1, 1e15, s->budget_params)
        DBL("--budget-flops", 1, 1e30, s->budget_flops)
        DBL("--tolerance", 0, 10, s->tolerance)
        U64("--seeds", 1, 1000, s->seeds)
        else return cli_bad_usage_for(PROG, "model sweep", "sweep: unknown option '%s'", a);
    }
    if (!s->t.data_dir) return cli_bad_usage_for(PROG, "model sweep", "sweep needs --data DIR (the packer's output folder)");
    if (!s->out_dir) return cli_bad_usage_for(PROG, "model sweep", "sweep needs -o SWEEP (the folder for its runs and results)");
    if (s->steps && s->tokens) return cli_bad_usage_for(PROG, "model sweep", "--steps and --tokens: give one of them");
    if (s->budget_flops > 0 && (s->steps || s->tokens))
        return cli_bad_usage_for(PROG, "model sweep", "--budget-flops sets each point's steps: drop --steps/--tokens");
    s->t.threads = common.threads;
    s->t.progress = common.progress;
    return ARGS_RUN;
}

static int lr_usage(FILE *f, int code)
{
    fputs("usage: model lr-find --data DIR -o OUT [--min 1e-6 --max 1 --steps 100] [shape options]\n"
          "\n"
          "The LR range test (Smith 2015; fastai's lr_find): from a fresh init, one AdamW\n"
          "step at each of --steps learning rates rising exponentially from --min to --max\n"
          "(no warmup, no decay), each on the next training batch of DIR (llm.c shards and\n"
          "meta.json, as for 'model train'). The loss falls while the rate is too small to\n"
          "matter, then fast, then the model blows up. Writes OUT/lr.csv (step, lr, loss,\n"
          "smoothed) and OUT/lr.png (loss against lr, log scale, gnuplot), and prints the\n"
          "suggested rate with its reasoning on stdout: the rate where the smoothed loss\n"
          "falls fastest (steepest slope against ln lr), before its minimum and so before\n"
          "it diverges (smoothed loss above --div-factor x its minimum). Use it as --lr of\n"
          "'model train' (a peak rate: train warms up to it and decays from it).\n"
          "The smoothing is a running median, then a moving average: a single batch whose\n"
          "loss spikes is dropped by the median instead of bending the average, whose\n"
          "recovery from the spike would otherwise look like the steepest descent. The\n"
          "median leaves stretches where the loss only falls (or only rises) unchanged.\n"
          "\n"
          "Range test:\n"
          "  --min LR             first learning rate (default 1e-6)\n"
          "  --max LR             last learning rate (default 1)\n"
          "  --steps N            steps, one rate each (default 100); lr.csv has N rows unless\n"
          "                       the loss stops being a number\n"
          "  --median K           first smoothing: the median of each K losses around a\n"
          "                       step (odd, default 5: spikes of 1 or 2 steps vanish; 1:\n"
          "                       no median). --stop-div then stops K/2 steps later\n"
          "  --smooth B           then an exponential moving average with weight B on the\n"
          "                       past, bias-corrected (default 0.9)\n"
          "  --div-factor F       diverged once the smoothed loss exceeds F x its minimum\n"
          "                       (default 4)\n"
          "  --stop-div           stop at the divergence instead of running all the steps\n"
          "Shape (as 'model train'):\n"
          "  --preset NAME        tiny (default), small, mosaic-52m, ... (model train --help)\n"
          "  --layers L --width D --heads H --mlp N   override the preset's\n",
          f);
    fputs(train_shared_help, f);
    fputs(device_help, f);
    fputs(cli_common_help, f);
    fputs("\n  example: model lr-find --data data/ -o lr/ --preset tiny --context 128 --steps 100\n"
          "           model train --data data/ -o run/ --preset tiny --context 128 --lr <suggested>\n",
          f);
    return code;
}

int args_parse_lrfind(int argc, char **argv, LrOpts *lo)
{
    lrfind_opts_init(lo);
    CommonOpts common = { 0 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = common_option(PROG, &common, argc, argv, &i);
        if (rc == 0) rc = device_option(PROG, &lo->t.dev, argc, argv, &i);
        if (rc == 2) return 2;
        if (rc == 1) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return lr_usage(stdout, 0);
        if (!strcmp(a, "--stop-div")) {
            lo->stop_div = 1;
            continue;
        }
        if ((rc = train_shared_option(PROG, &lo->t, argc, argv, &i)) == 2) return 2;
        if (rc == 1) continue;
        if (a[0] != '-') return cli_bad_usage_for(PROG, "model lr-find", "lr-find takes no file arguments ('%s'): use --data DIR", a);
        if (i + 1 >= argc) return cli_bad_usage_for(PROG, "model lr-find", "lr-find: unknown option '%s' (or it needs a value)", a);
        const char *v = argv[++i];
        uint64_t n = 0;
        double d = 0;
        if (!strcmp(a, "--data")) lo->t.data_dir = dir_arg(v);
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) lo->out_dir = dir_arg(v);
        else if (!strcmp(a, "--preset")) {
            if (!train_preset(v)) return cli_bad_usage_for(PROG, "model lr-find", "%s: unknown preset '%s' (see model train --help)", a, v);
            lo->t.preset = v;
        }
        U64("--layers", 1, 1000, lo->t.n_layer)
        U64("--width", 1, 1 << 16, lo->t.n_embd)
        U64("--heads", 1, 1 << 12, lo->t.n_head)
        U64("--mlp", 1, 1 << 18, lo->t.n_mlp)
        U64("--steps", 2, 1000000, lo->steps)
        DBL("--min", 1e-12, 1e3, lo->lr_min)
        DBL("--max", 1e-12, 1e3, lo->lr_max)
        U64("--median", 1, LR_MEDIAN_MAX, lo->median)
        DBL("--smooth", 0, 0.9999, lo->beta)
        DBL("--div-factor", 1.0001, 1e9, lo->div_factor)
        else return cli_bad_usage_for(PROG, "model lr-find", "lr-find: unknown option '%s'", a);
    }
    if (lo->median % 2 == 0)
        return cli_bad_usage_for(PROG, "model lr-find", "--median %d: the window must be odd (1 for no median)", lo->median);
    if (!lo->t.data_dir) return cli_bad_usage_for(PROG, "model lr-find", "lr-find needs --data DIR (the packer's output folder)");
    if (!lo->out_dir) return cli_bad_usage_for(PROG, "model lr-find", "lr-find needs -o OUT (the folder for lr.csv and lr.png)");
    if (!(lo->lr_min < lo->lr_max))
        return cli_bad_usage_for(PROG, "model lr-find", "--min %g must be below --max %g", lo->lr_min, lo->lr_max);
    lo->t.threads = common.threads;
    lo->t.progress = common.progress;
    return ARGS_RUN;
}

#undef U64
#undef DBL

/* ---- plan ---- */

static int plan_usage(FILE *f, int code)
{
    fputs("usage: model plan [--preset NAME | --layers L --width D --heads H] [options]\n"
          "       model plan --compare LxDxH,LxDxH,... [options]\n"
          "       model plan --budget PARAMS | --budget-flops FLOPS [options]\n"
          "       model plan --gpu NAME|list [...]\n"
          "\n"
          "Answers \"which shape should I train?\" before any training: for a GPT-2 shape it\n"
          "prints parameters (total, without embeddings), the training memory the trainer will\n"
          "allocate (weights, gradients, AdamW moments, activations of one micro-batch) and\n"
          "whether it fits this machine, FLOPs a token (6N + 12·L·D·T), time a step and for\n"
          "the run from this machine's sgemm rate (measured at start, as 'model train' does\n"
          "for MFU), and what the literature predicts, each with its source: Chinchilla\n"
          "(20 tokens a parameter, and the approach-3 fit with its compute-optimal N, D),\n"
          "Kaplan et al.'s L(N, D), Levine et al.'s depth-to-width fit with a verdict (too\n"
          "deep / too shallow / about right for its width), and the head dimension. Reads\n"
          "nothing unless --data; writes the report to stdout. Times are estimates from the\n"
          "sgemm rate, and with --measure also timed: a few real training steps of each shape\n"
          "(forward, backward, AdamW) with the trainer's code and threads. On a GPU (--device\n"
          "cuda, or --gpu NAME without one) it counts the GPU trainer's memory by part and\n"
          "times steps at a share of the GPU's matrix rate; a shape that does not fit gets the\n"
          "flags that make it fit.\n"
          "\n"
          "Shape (default: the preset gpt2):\n"
          "  --preset NAME        tiny, small, mosaic-52m, mosaic-83m, mosaic-125m, gpt2,\n"
          "                       gpt2-medium, gpt2-large, gpt2-xl (see model train --help)\n"
          "  --layers L --width D --heads H   instead of a preset; D must divide by H\n"
          "  --mlp M              MLP hidden width (default 4 x width)\n"
          "  --vocab V            vocabulary (default: --data's, else GPT-2's 50257)\n"
          "  --context T          tokens a sequence (default: --data's meta.json, else 1024)\n"
          "  --compare LIST       several shapes side by side, LAYERSxWIDTHxHEADS separated\n"
          "                       by commas (e.g. 36x1280x20,18x1280x64)\n"
          "  --budget PARAMS      list shapes of about PARAMS total parameters (e.g. 124M),\n"
          "                       ranked by Levine's fit, heads of --head-dim (default 64)\n"
          "  --budget-flops C     the same for the Chinchilla-optimal size of C FLOPs (e.g. 1e19)\n"
          "  --top N              shapes listed in budget mode (default 10)\n"
          "Run:\n"
          "  --tokens N           training tokens (default: one epoch of --data, else what\n"
          "                       --hours allows, else 20 a parameter); k/M/B/T suffixes\n"
          "  --data DIR           packer's folder: its training tokens, vocabulary, context\n"
          "  --hours H            time budget: tokens trainable in H hours\n"
          "  --batch TOKENS       tokens a step, a multiple of micro-batch x context\n"
          "                       (default one micro-batch)\n"
          "  --micro-batch SEQS   sequences a forward/backward (default 8, as model train)\n"
          "Machine:\n"
          "  --rate GFLOPS        sgemm rate to assume instead of measuring it (on a GPU: its\n"
          "                       matrix rate)\n"
          "  --mfu F              fraction of the sgemm rate training reaches (default 0.5;\n"
          "                       model train prints its MFU, bench/model measured 40-90%; on a\n"
          "                       GPU, of its matrix rate, instead of timing a bf16 step by part)\n"
          "  --measure [STEPS]    also time STEPS training steps (default 3) after a warm-up\n"
          "                       step, for each shape, on random tokens (or --data's windows):\n"
          "                       seconds a step, tokens/s, MFU, and the run's time measured;\n"
          "                       refused (exit 1) when the training memory does not fit\n"
          "  --memory BYTES       judge the fit against this much memory (e.g. 16Gi) instead of\n"
          "                       this machine's (default: MemAvailable now)\n"
          "  --recompute          plan for model train --recompute (less activation memory)\n"
          "  --ranks N --zero 1   memory a rank of mpirun -np N model train --zero 1: AdamW's\n"
          "                       moments cut into N slices (CPU or GPU ranks)\n"
          "  --master-weights on|off   plan for model train --master-weights off (bf16 weights\n"
          "                       alone, 4 bytes a parameter less; a GPU in bf16 only)\n"
          DEVICE_LINES
          "GPU (bf16 unless --precision fp32; no --measure):\n"
          "  --device cuda        plan for this machine's GPU: its bf16 (or fp32) matrix rate\n"
          "                       measured with cuBLASLt, as model train does, and its free memory\n"
          "                       (without it or --gpu, the figures are this CPU's)\n"
          "  --gpu NAME           plan for a GPU you do not have here, from its vendor's published\n"
          "                       figures (memory; dense bf16 with float32 accumulation, fp32):\n"
          "                       rtx3090, rtx4090, l4, a100-40gb, a100-80gb, h100-sxm, h100-pcie,\n"
          "                       h200 (spelling is loose: \"RTX 4090\", 4090); --gpu list shows them\n"
          "  --gpu-memory SIZE    treat the GPU as this large (24Gi, 24G = 24GB = 24000M); a card\n"
          "                       sold as \"24 GB\" has 24Gi\n"
          "  A bf16 step is timed by part (matrix products, attention, elementwise kernels,\n"
          "  classifier, AdamW), as profiled on an H200 and scaled by the matrix rate: measured,\n"
          "  or for --gpu a share of the vendor's figure (--mfu and --rate override).\n"
          "Output:\n"
          "  --json               one JSON object (for tools) instead of the table\n"
          "  -j N                 threads of the sgemm rate and --measure (default: every\n"
          "                       core, as model train; at most the threads OpenBLAS is\n"
          "                       built for, 64 in Debian's)\n"
          "  --quiet              no summary line on stderr\n"
          "  -h, --help           this help\n"
          "\n"
          "  examples: model plan --compare 36x1280x20,18x1280x64\n"
          "            model plan --preset gpt2 --data data/ --hours 24\n"
          "            model plan --budget 124M --context 512\n"
          "            model plan --preset tiny --data data/ --measure\n"
          "            model plan --gpu rtx4090 --preset gpt2-large\n",
          f);
    return code;
}

/* A count with an optional k/M/B(=G)/T suffix; fractions allowed ("1.5B", "2e9"). */
static int parse_count(const char *s, double min, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s) return -1;
    double mul = 1;
    if (!strcmp(end, "k") || !strcmp(end, "K")) mul = 1e3;
    else if (!strcmp(end, "M")) mul = 1e6;
    else if (!strcmp(end, "B") || !strcmp(end, "G")) mul = 1e9;
    else if (!strcmp(end, "T")) mul = 1e12;
    else if (*end) return -1;
    v *= mul;
    if (!isfinite(v) || v < min || v > 1e30) return -1;
    *out = v;
    return 0;
}

int args_parse_plan(int argc, char **argv, PlanOpts *a)
{
    plan_opts_init(a);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int rc = common_option(ARGS_PROG_PLAN, &a->common, argc, argv, &i);
        if (rc == 0) rc = device_option(ARGS_PROG_PLAN, &a->dev, argc, argv, &i);
        if (rc == 2) return 2;
        if (rc == 1) continue;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) return plan_usage(stdout, 0);
        if (!strcmp(o, "--json")) {
            a->json = 1;
            continue;
        }
        if (!strcmp(o, "--recompute")) {
            a->recompute = 1;
            continue;
        }
        if (!strcmp(o, "--zero")) {
            const char *v = i + 1 < argc ? argv[++i] : "";
            if (strcmp(v, "0") && strcmp(v, "1")) return cli_bad_usage(ARGS_PROG_PLAN, "--zero takes 0 or 1, not '%s'", v);
            a->zero = !strcmp(v, "1");
            continue;
        }
        if (!strcmp(o, "--master-weights")) {
            const char *v = i + 1 < argc ? argv[++i] : "";
            if (strcmp(v, "on") && strcmp(v, "off"))
                return cli_bad_usage(ARGS_PROG_PLAN, "--master-weights takes on or off, not '%s'", v);
            a->no_master = !strcmp(v, "off");
            continue;
        }
        if (!strcmp(o, "--measure")) { /* an optional count: only a number is taken */
            a->measure = 3;
            if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9') {
                uint64_t st;
                if (cli_u64(argv[++i], 1, 1000, &st))
                    return cli_bad_usage(ARGS_PROG_PLAN, "--measure takes a number of steps in 1..1000, not '%s'", argv[i]);
                a->measure = (int)st;
            }
            continue;
        }
        if (o[0] != '-') return cli_bad_usage(ARGS_PROG_PLAN, "takes no file arguments ('%s')", o);
        if (i + 1 >= argc) return cli_bad_usage(ARGS_PROG_PLAN, "%s needs a value (or is not an option)", o);
        const char *v = argv[++i];
        uint64_t u = 0;
        double d = 0;
#define INT(name, lo, hi, dst)                                                                   \
    else if (!strcmp(o, name)) {                                                                 \
        if (cli_u64(v, lo, hi, &u)) return cli_bad_usage(ARGS_PROG_PLAN, "%s needs a whole number in %d..%d, not '%s'", o, lo, hi, v); \
        dst = (int)u;                                                                            \
    }
#define NUM(name, lo, hi, dst)                                                                   \
    else if (!strcmp(o, name)) {                                                                 \
        if (cli_double(v, lo, hi, &d)) return cli_bad_usage(ARGS_PROG_PLAN, "%s needs a number in range, not '%s'", o, v); \
        dst = d;                                                                                 \
    }
#define CNT(name, lo, dst)                                                                       \
    else if (!strcmp(o, name)) {                                                                 \
        if (parse_count(v, lo, &d)) return cli_bad_usage(ARGS_PROG_PLAN, "%s needs a count (e.g. 124M, 1.5B, 2e9), not '%s'", o, v); \
        dst = d;                                                                                 \
    }
        if (!strcmp(o, "--preset")) {
            if (!train_preset(v)) return cli_bad_usage(ARGS_PROG_PLAN, "unknown preset '%s'", v);
            a->preset = v;
        } else if (!strcmp(o, "--compare")) a->compare = v;
        else if (!strcmp(o, "--data")) a->data = dir_arg(v);
        else if (!strcmp(o, "--batch")) {
            if (cli_u64(v, 1, UINT64_C(1) << 40, &a->batch)) return cli_bad_usage(ARGS_PROG_PLAN, "--batch needs a whole number of tokens, not '%s'", v);
        }
        else if (!strcmp(o, "--memory")) {
            if (cli_u64(v, 1, UINT64_MAX, &u)) return cli_bad_usage(ARGS_PROG_PLAN, "--memory needs bytes (e.g. 16Gi, 8G), not '%s'", v);
            a->memory = (double)u;
        }
        else if (!strcmp(o, "--gpu")) {
            Err e = { { 0 } };
            if (!strcmp(v, "list")) a->gpu_list = 1;
            else if (!(a->gpu = plan_gpu_find(v, &e))) return cli_bad_usage(ARGS_PROG_PLAN, "%s", e.msg);
        }
        else if (!strcmp(o, "--gpu-memory")) {
            if (parse_gpu_memory(v, &u))
                return cli_bad_usage(ARGS_PROG_PLAN, "--gpu-memory needs a size such as 24Gi, 24G, 24GB or 24000M, not '%s'", v);
            a->gpu_memory = (double)u;
        }
        INT("--layers", 1, 1000, a->L)
        INT("--width", 1, 1 << 16, a->D)
        INT("--heads", 1, 1 << 12, a->H)
        INT("--mlp", 1, 1 << 18, a->M)
        INT("--vocab", 2, 1 << 30, a->V)
        INT("--context", 1, 1 << 20, a->T)
        INT("--micro-batch", 1, 1 << 16, a->micro)
        INT("--top", 1, 1000, a->top)
        INT("--ranks", 1, 1 << 20, a->ranks)
        INT("--head-dim", 1, 1 << 12, a->head_dim)
        NUM("--hours", 1e-6, 1e7, a->hours)
        NUM("--rate", 1e-3, 1e9, a->rate)
        NUM("--mfu", 1e-3, 1, a->mfu)
        NUM("--budget-flops", 1e6, 1e35, a->budget_flops)
        CNT("--budget", 1e3, a->budget)
        CNT("--tokens", 1, a->tokens)
        else return cli_bad_usage(ARGS_PROG_PLAN, "unknown option '%s'", o);
#undef INT
#undef NUM
#undef CNT
    }
    int shape_flags = (a->L > 0) + (a->D > 0) + (a->H > 0);
    int modes = !!a->compare + (a->budget > 0) + (a->budget_flops > 0);
    if (modes > 1) return cli_bad_usage(ARGS_PROG_PLAN, "--compare, --budget and --budget-flops go one at a time");
    if (modes && (a->preset || shape_flags))
        return cli_bad_usage(ARGS_PROG_PLAN, "%s takes no --preset/--layers/--width/--heads",
                             a->compare ? "--compare" : "budget mode");
    if (a->preset && shape_flags) return cli_bad_usage(ARGS_PROG_PLAN, "--preset or --layers/--width/--heads, not both");
    if (shape_flags && shape_flags < 3) return cli_bad_usage(ARGS_PROG_PLAN, "--layers, --width and --heads go together");
    if (a->D && a->H && a->D % a->H)
        return cli_bad_usage(ARGS_PROG_PLAN, "width %d is not divisible by %d heads", a->D, a->H);
    if (a->M && (a->budget > 0 || a->budget_flops > 0)) return cli_bad_usage(ARGS_PROG_PLAN, "budget mode uses MLP 4 x width: no --mlp");
    if (a->measure && (a->budget > 0 || a->budget_flops > 0))
        return cli_bad_usage(ARGS_PROG_PLAN, "--measure times one shape or --compare's shapes, not budget mode");
    /* the GPU options' combinations are plan_run's to check (exit 2 there too) */
    return ARGS_RUN;
}

/* ---- sample, eval, export, import ---- */

static int sample_usage(FILE *f, int code)
{
    fputs("usage: model sample RUN [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K]\n"
          "                        [--top-p P] [--seed S] [--ckpt FILE] [--no-cache]\n"
          "\n"
          "Reads RUN/latest's checkpoint (or --ckpt FILE) and RUN/tokenizer.json, encodes\n"
          "the prompt after an end-of-text token (as every document starts in the\n"
          "shards), and draws tokens one at a time, writing the prompt and then each new\n"
          "token's bytes to stdout as they come. Stops at end-of-text (not printed) or\n"
          "after --tokens. The window the model sees is capped at the trained context:\n"
          "past it the oldest tokens slide out. Same run, prompt, options and --seed give\n"
          "the same text, whatever -j is. A summary (tokens, why it stopped, time, and\n"
          "tokens/s after loading the checkpoint) goes to stderr.\n"
          "\n"
          "A KV cache (the keys and values of past positions, per layer) makes each new\n"
          "token cost one position instead of the whole window; once the window slides\n"
          "past the context every position moves, and the cache is rebuilt from the\n"
          "window for each token, so the text is the same as without the cache.\n"
          "\n"
          "  --prompt TEXT        text to continue (default: none, start of a document);\n"
          "                       '<|endoftext|>' in it is the special token\n"
          "  --tokens N           most tokens to generate (default 256); --max-tokens is\n"
          "                       the same option\n"
          "  --temperature T      divide the logits by T (default 1.0: the model's own\n"
          "                       distribution); 0 takes the most likely token (greedy)\n"
          "  --top-k K            draw only among the K most likely tokens (default 0: all)\n"
          "  --top-p P            draw only among the most likely tokens whose\n"
          "                       probabilities add up to P (default 1.0: all)\n"
          "  --seed S             random seed (default 1337)\n"
          "  --no-stop            go on past end-of-text (it is printed as its text)\n"
          "  --ckpt FILE          a checkpoint other than RUN/latest's (e.g. RUN/ckpt-000100.bin)\n"
          "  --no-cache           no KV cache: rerun the whole window for every token (the\n"
          "                       reference; same text, slower)\n",
          f);
    fputs(device_help, f);
    fputs(cli_common_help, f);
    fputs("\n  example: model sample run/ --prompt 'The king said' --tokens 100 --temperature 0.8 --top-k 40\n", f);
    return code;
}

int args_parse_sample(int argc, char **argv, SampleOpts *o)
{
    sample_opts_init(o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = common_option(PROG, &o->common, argc, argv, &i);
        if (rc == 0) rc = device_option(PROG, &o->dev, argc, argv, &i);
        if (rc == 2) return 2;
        if (rc == 1) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return sample_usage(stdout, 0);
        if (!strcmp(a, "--no-stop")) {
            o->keep_going = 1;
            continue;
        }
        if (!strcmp(a, "--no-cache")) {
            o->no_cache = 1;
            continue;
        }
        if (a[0] != '-') {
            if (o->run_dir) return cli_bad_usage_for(PROG, "model sample", "sample takes one RUN folder ('%s' and '%s')", o->run_dir, a);
            o->run_dir = dir_arg(a);
            continue;
        }
        if (i + 1 >= argc) return cli_bad_usage_for(PROG, "model sample", "sample: %s needs a value (or is not an option)", a);
        const char *v = argv[++i];
        uint64_t n;
        double d;
        if (!strcmp(a, "--prompt")) o->prompt = v;
        else if (!strcmp(a, "--ckpt")) o->ckpt = v;
        else if (!strcmp(a, "--tokens") || !strcmp(a, "--max-tokens")) {
            if (cli_u64(v, 1, UINT64_C(1) << 40, &o->max_tokens))
                return cli_bad_usage_for(PROG, "model sample", "%s needs a whole number of at least 1, not '%s'", a, v);
        } else if (!strcmp(a, "--top-k")) {
            if (cli_u64(v, 0, INT32_MAX, &n)) return cli_bad_usage_for(PROG, "model sample", "%s needs a whole number, not '%s'", a, v);
            o->top_k = (int)n;
        } else if (!strcmp(a, "--seed")) {
            if (cli_u64(v, 0, UINT64_MAX, &o->seed))
                return cli_bad_usage_for(PROG, "model sample", "%s needs a whole number, not '%s'", a, v);
        } else if (!strcmp(a, "--temperature")) {
            if (cli_double(v, 0, 100, &o->temperature))
                return cli_bad_usage_for(PROG, "model sample", "%s needs a number in 0..100, not '%s'", a, v);
        } else if (!strcmp(a, "--top-p")) {
            if (cli_double(v, 1e-9, 1, &d)) return cli_bad_usage_for(PROG, "model sample", "%s needs a number in (0, 1], not '%s'", a, v);
            o->top_p = d;
        } else return cli_bad_usage_for(PROG, "model sample", "sample: unknown option '%s'", a);
    }
    if (!o->run_dir) return cli_bad_usage_for(PROG, "model sample", "sample needs a RUN folder (model train -o RUN)");
    return ARGS_RUN;
}

static int eval_usage(FILE *f, int code)
{
    fputs("usage: model eval RUN --data DIR|SHARD.bin|TEXT [--windows N] [--json] [--ckpt FILE]\n"
          "                      [--tokenizer FILE]\n"
          "\n"
          "Reads RUN/latest's checkpoint (or --ckpt FILE) and RUN/tokenizer.json, and\n"
          "prints on stdout the model's loss (mean nats a predicted token), perplexity\n"
          "(e^loss) and bits per byte (summed loss in bits over the UTF-8 bytes of the\n"
          "predicted tokens; special tokens such as end-of-text count 0 bytes), which\n"
          "compares models with different tokenizers. A summary goes to stderr.\n"
          "Shards need a tokenizer only for bits per byte: when RUN has none (an imported\n"
          "model) the data folder's copy counts the bytes, and without either eval prints\n"
          "loss and perplexity alone. Text is always encoded with a tokenizer.\n"
          "\n"
          "  --data DIR           a packer folder: its val*.bin shards, in name order\n"
          "  --data FILE.bin      one llm.c shard\n"
          "  --data FILE          anything else is documents (JSONL, plain text, .gz; the\n"
          "                       document options below), encoded with the run's\n"
          "                       tokenizer, each preceded by end-of-text as in the shards\n"
          "  --windows N          evaluate only the first N windows (default: all). Shards\n"
          "                       are cut as the trainer cuts them (T+1 tokens, stepping by\n"
          "                       T, or T+1 for best-fit data): the trainer's validation\n"
          "                       loss is the first eval-batches x micro-batch windows of\n"
          "                       the val shards. The tokens past a shard's last window are\n"
          "                       not evaluated (counted in the summary); text ends with a\n"
          "                       shorter window instead\n"
          "  --json               print one JSON object (loss, perplexity, bits_per_byte,\n"
          "                       tokens, bytes, windows, context, checkpoint, data)\n"
          "  --dump-logits FILE   also write the logits of every predicted position, float32\n"
          "                       little-endian, (tokens, vocabulary) row-major (for tests)\n"
          "  --ckpt FILE          a checkpoint other than RUN/latest's\n"
          "  -t, --tokenizer FILE a tokenizer.json instead of RUN/tokenizer.json (it must\n"
          "                       have the fingerprint the checkpoint records, if any); for\n"
          "                       a tiktoken rank file, make one with bpe convert\n",
          f);
    fputs(cli_doc_help, f);
    fputs(device_help, f);
    fputs(cli_common_help, f);
    fputs("\n  example: model eval run/ --data data/ --json\n"
          "           model eval run/ --data held-out.jsonl.gz\n", f);
    return code;
}

int args_parse_eval(int argc, char **argv, EvalOpts *o)
{
    eval_opts_init(o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = common_option(PROG, &o->common, argc, argv, &i);
        if (rc == 0) rc = cli_doc_option(PROG, &o->doc, argc, argv, &i);
        if (rc == 0) rc = device_option(PROG, &o->dev, argc, argv, &i);
        if (rc == 2) return 2;
        if (rc == 1) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return eval_usage(stdout, 0);
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (a[0] != '-') {
            if (o->run_dir)
                return cli_bad_usage_for(PROG, "model eval", "eval takes one RUN folder ('%s' and '%s'): data goes in --data",
                                     o->run_dir, a);
            o->run_dir = dir_arg(a);
            continue;
        }
        if (i + 1 >= argc) return cli_bad_usage_for(PROG, "model eval", "eval: %s needs a value (or is not an option)", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--data")) o->data = dir_arg(v);
        else if (!strcmp(a, "--ckpt")) o->ckpt = v;
        else if (!strcmp(a, "--dump-logits")) o->dump_logits = v;
        else if (!strcmp(a, "--tokenizer") || !strcmp(a, "-t")) o->tokenizer = v;
        else if (!strcmp(a, "--windows")) {
            if (cli_u64(v, 1, UINT64_C(1) << 40, &o->max_windows))
                return cli_bad_usage_for(PROG, "model eval", "%s needs a whole number of at least 1, not '%s'", a, v);
        } else return cli_bad_usage_for(PROG, "model eval", "eval: unknown option '%s'", a);
    }
    if (!o->run_dir) return cli_bad_usage_for(PROG, "model eval", "eval needs a RUN folder (model train -o RUN)");
    if (!o->data) return cli_bad_usage_for(PROG, "model eval", "eval needs --data DIR|SHARD.bin|TEXT");
    return ARGS_RUN;
}

static int export_usage(FILE *f, int code)
{
    fputs("usage: model export RUN -o DIR [--ckpt FILE]\n"
          "\n"
          "Reads RUN/latest's checkpoint (or --ckpt FILE) and writes a Hugging Face GPT-2\n"
          "into DIR (created if needed; each file written whole or not at all):\n"
          "  DIR/model.safetensors  float32 weights under GPT2LMHeadModel's names\n"
          "                         (transformer.wte.weight, transformer.h.0.attn.c_attn.weight,\n"
          "                         ...), linear weights as HF's Conv1D keeps them, (in, out);\n"
          "                         the vocabulary without the trainer's padding; no\n"
          "                         lm_head.weight: it is tied to transformer.wte.weight\n"
          "  DIR/config.json        GPT2Config: vocab_size, n_positions (the trained\n"
          "                         context), n_embd, n_layer, n_head, n_inner,\n"
          "                         activation_function gelu_new, layer_norm_epsilon 1e-5,\n"
          "                         bos/eos_token_id the end-of-text id\n"
          "  DIR/generation_config.json  bos/eos_token_id the end-of-text id, max_length\n"
          "                         the trained context\n"
          "and, when the run has a tokenizer (checked against the checkpoint first):\n"
          "  DIR/tokenizer.json     RUN/tokenizer.json, byte for byte\n"
          "  DIR/tokenizer_config.json  tokenizer_class (GPT2Tokenizer for GPT-2's\n"
          "                         pattern, else PreTrainedTokenizerFast), the end-of-text\n"
          "                         token as bos, eos and unk_token, model_max_length the\n"
          "                         context, add_prefix_space as tokenizer.json has it,\n"
          "                         clean_up_tokenization_spaces false: the ids and the text\n"
          "                         of bpe encode and decode\n"
          "In Python: GPT2LMHeadModel.from_pretrained(DIR) and AutoTokenizer.from_pretrained(DIR);\n"
          "in JavaScript, AutoTokenizer of @huggingface/transformers reads the same files.\n"
          "\n"
          "  -o DIR               the output folder (required)\n"
          "  --ckpt FILE          a checkpoint other than RUN/latest's\n",
          f);
    fputs("\n  example: model export run/ -o hf/ && python3 -c \"from transformers import pipeline; "
          "print(pipeline('text-generation', 'hf')('The king')[0]['generated_text'])\"\n", f);
    return code;
}

int args_parse_export(int argc, char **argv, ExportOpts *o)
{
    export_opts_init(o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = common_option(PROG, &o->common, argc, argv, &i);
        if (rc == 2) return 2;
        if (rc == 1) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return export_usage(stdout, 0);
        if (a[0] != '-') {
            if (o->run_dir) return cli_bad_usage_for(PROG, "model export", "export takes one RUN folder ('%s' and '%s')", o->run_dir, a);
            o->run_dir = dir_arg(a);
            continue;
        }
        if (i + 1 >= argc) return cli_bad_usage_for(PROG, "model export", "export: %s needs a value (or is not an option)", a);
        const char *v = argv[++i];
        if (!strcmp(a, "-o") || !strcmp(a, "--out")) o->out_dir = dir_arg(v);
        else if (!strcmp(a, "--ckpt")) o->ckpt = v;
        else return cli_bad_usage_for(PROG, "model export", "export: unknown option '%s'", a);
    }
    if (!o->run_dir) return cli_bad_usage_for(PROG, "model export", "export needs a RUN folder (model train -o RUN)");
    if (!o->out_dir) return cli_bad_usage_for(PROG, "model export", "export needs -o DIR (the folder for the Hugging Face files)");
    return ARGS_RUN;
}

static int import_usage(FILE *f, int code)
{
    fputs("usage: model import SRC -o RUN [--tokenizer FILE] [--eot ID]\n"
          "\n"
          "Reads a GPT-2 trained elsewhere and writes a run folder RUN (it must not exist or\n"
          "be empty; written whole or not at all) that model sample, eval, export and\n"
          "train --resume read:\n"
          "  RUN/ckpt-000000.bin  the weights (vocabulary padded to 64 with zero rows),\n"
          "                       AdamW moments zero, step 0\n"
          "  RUN/latest           names it\n"
          "  RUN/tokenizer.json   SRC/tokenizer.json or --tokenizer FILE, when there is one\n"
          "SRC is either\n"
          "  a folder with model.safetensors + config.json in the layout of Hugging Face's\n"
          "    GPT2LMHeadModel (what model export writes): float32 tensors named\n"
          "    transformer.h.0.attn.c_attn.weight ... or without the 'transformer.' prefix,\n"
          "    Conv1D weights (in, out); the attn.bias / attn.masked_bias mask buffers of\n"
          "    real GPT-2 files are skipped; lm_head.weight, when present, must equal the\n"
          "    token embedding (the output layer is tied). config.json gives the shape\n"
          "    (n_layer, n_embd, n_head, n_inner, vocab_size, n_positions) and every tensor\n"
          "    must have it; activation gelu_new, layer_norm_epsilon 1e-5.\n"
          "  or an llm.c checkpoint file (gpt2_124M.bin: magic 20240326, version 3 = float32;\n"
          "    version 5, bf16, is refused).\n"
          "To train on: model train --resume RUN --data DIR --steps N (the first resume\n"
          "settles warmup, evaluation and checkpoint intervals as a fresh run would).\n"
          "\n"
          "  -o RUN               the run folder to write (required)\n"
          "  --tokenizer FILE     tokenizer.json to copy into RUN (default: SRC's, if any);\n"
          "                       checked to cover the vocabulary\n"
          "  --eot ID             the end-of-text id (default: config.json's eos_token_id,\n"
          "                       refused when outside the vocabulary; for llm.c files 50256\n"
          "                       when the vocabulary is GPT-2's 50257, else none)\n",
          f);
    fputs(cli_common_help, f);
    fputs("\n  example: model export run/ -o hf/ && model import hf/ -o run2/ && model sample run2/ <<< 'Hello'\n"
          "           model import gpt2_124M.bin -o gpt2/ --tokenizer gpt2-tokenizer.json\n", f);
    return code;
}

int args_parse_import(int argc, char **argv, ImportOpts *o)
{
    import_opts_init(o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = common_option(PROG, &o->common, argc, argv, &i);
        if (rc == 2) return 2;
        if (rc == 1) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return import_usage(stdout, 0);
        if (a[0] != '-' || !a[1]) {
            if (o->src) return cli_bad_usage_for(PROG, "model import", "import takes one SRC ('%s' and '%s')", o->src, a);
            o->src = dir_arg(a);
            continue;
        }
        if (i + 1 >= argc) return cli_bad_usage_for(PROG, "model import", "import: %s needs a value (or is not an option)", a);
        const char *v = argv[++i];
        if (!strcmp(a, "-o") || !strcmp(a, "--out")) o->out_dir = dir_arg(v);
        else if (!strcmp(a, "--tokenizer")) o->tokenizer = v;
        else if (!strcmp(a, "--eot")) {
            uint64_t x;
            if (cli_u64(v, 0, INT32_MAX, &x)) return cli_bad_usage_for(PROG, "model import", "%s needs a token id, not '%s'", a, v);
            o->eot_id = (int)x;
        } else return cli_bad_usage_for(PROG, "model import", "import: unknown option '%s'", a);
    }
    if (!o->src) return cli_bad_usage_for(PROG, "model import", "import needs SRC (a Hugging Face folder or an llm.c .bin file)");
    if (!o->out_dir) return cli_bad_usage_for(PROG, "model import", "import needs -o RUN (the run folder to write)");
    return ARGS_RUN;
}
