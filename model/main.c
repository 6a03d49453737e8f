/* model: GPT-2 on OpenBLAS. This main parses argv for each subcommand and
 * calls its logic (train: train.c); a subcommand is one entry of `commands`.
 * Later subcommands (sample, eval, plan, sweep, lr-find, export, import: issue
 * #9) are added as more entries. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "import.h"
#include "iofile.h"
#include "plan.h"
#include "sample.h"
#include "sweep.h"
#include "train.h"

static int usage(FILE *f, int code)
{
    fputs("usage: model SUBCOMMAND [options]     ('model SUBCOMMAND --help' for each)\n"
          "       model train --data DIR -o RUN [--preset NAME | --layers L --width D --heads H] [options]\n"
          "       model train --resume RUN\n"
          "\n"
          "model trains a GPT-2 (learned positions, pre-LayerNorm, GELU MLP, output tied\n"
          "to the token embedding) on llm.c shards written by packer, with AdamW, warmup +\n"
          "cosine decay, clipping, evaluation, crash-safe checkpoints and exact resume;\n"
          "matrix products go through OpenBLAS. 'model train --help' lists its options.\n"
          "\n"
          "subcommands:\n"
          "  plan       which shape to train: parameters, memory, FLOPs, time, scaling laws\n"
          "  train      train a model, or continue one (--resume)\n"
          "  sweep      short trainings over a grid of shapes: which one learns best\n"
          "  lr-find    LR range test: loss against a rising rate, and a suggested --lr\n"
          "  sample     continue a prompt with a trained run (model sample RUN --prompt TEXT)\n"
          "  eval       loss, perplexity and bits per byte of a run on shards or text\n"
          "  export     write a run as a Hugging Face GPT-2 (model.safetensors, config.json)\n"
          "  import     a Hugging Face GPT-2 folder or an llm.c gpt2_124M.bin into a run folder\n"
          "\n"
          "  example: packer -o data/ web.tok && model train --data data/ -o run/ --preset tiny --steps 200\n",
          f);
    return code;
}

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
          "  --resume RUN         continue RUN from RUN/latest with its own settings,\n"
          "                       bit-identical to a run that never stopped; --steps N\n"
          "                       changes the total, --data DIR where the shards are now\n",
          f);
    fputs(cli_common_help, f);
    fputs("\n  example: model train --data data/ -o run/ --preset tiny --context 128 --steps 500\n", f);
    return code;
}

#define PROG "model"

static int bad(const char *fmt, const char *a, const char *v)
{
    return cli_bad_usage(PROG, fmt, a, v);
}

static int train_main(int argc, char **argv)
{
    TrainOpts o;
    train_opts_init(&o);
    CommonOpts common = { 0 };
    const char *fixed = NULL; /* an option --resume cannot take: the checkpoint has its own */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = cli_common_option(PROG, &common, argc, argv, &i);
        if (rc == 2) return 2;
        if (rc == 1) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return train_usage(stdout, 0);
        if (a[0] != '-') return cli_bad_usage(PROG, "train takes no file arguments ('%s'): use --data DIR", a);
        if (i + 1 >= argc) return cli_bad_usage(PROG, "%s needs a value (or is not an option)", a);
        const char *v = argv[++i];
        if (strcmp(a, "--data") && strcmp(a, "--resume") && strcmp(a, "--steps") && strcmp(a, "-o") &&
            strcmp(a, "--out"))
            fixed = a;
        uint64_t n = 0;
        double d = 0;
#define U64(name, lo, hi, dst)                                                                     \
    else if (!strcmp(a, name)) {                                                                   \
        if (cli_u64(v, lo, hi, &n)) return bad("%s needs a whole number in range, not '%s'", a, v); \
        dst = n;                                                                                   \
    }
#define DBL(name, lo, hi, dst)                                                                     \
    else if (!strcmp(a, name)) {                                                                   \
        if (cli_double(v, lo, hi, &d)) return bad("%s needs a number in range, not '%s'", a, v);   \
        dst = d;                                                                                   \
    }
        if (!strcmp(a, "--data")) o.data_dir = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) o.out_dir = v;
        else if (!strcmp(a, "--resume")) o.resume_dir = v;
        else if (!strcmp(a, "--preset")) {
            if (!train_preset(v)) return bad("%s: unknown preset '%s' (see model train --help)", a, v);
            o.preset = v;
        } else if (!strcmp(a, "--schedule")) {
            if (sched_parse(v, &o.schedule)) return bad("%s is cosine, linear, constant or wsd, not '%s'", a, v);
        }
        U64("--layers", 1, 1000, o.n_layer)
        U64("--width", 1, 1 << 16, o.n_embd)
        U64("--heads", 1, 1 << 12, o.n_head)
        U64("--mlp", 1, 1 << 18, o.n_mlp)
        U64("--context", 1, 1 << 20, o.context)
        U64("--vocab-size", 2, 1u << 31, o.vocab_size)
        U64("--eot", 0, 1u << 31, o.eot_id)
        U64("--steps", 1, UINT64_C(1) << 40, o.steps)
        U64("--tokens", 1, UINT64_C(1) << 50, o.tokens)
        U64("--batch", 1, UINT64_C(1) << 40, o.batch_tokens)
        U64("--micro-batch", 1, 1 << 16, o.micro_batch)
        U64("--warmup", 0, UINT64_C(1) << 40, o.warmup)
        U64("--eval-every", 1, UINT64_C(1) << 40, o.eval_every)
        U64("--eval-batches", 1, 1 << 20, o.eval_batches)
        U64("--ckpt-every", 1, UINT64_C(1) << 40, o.ckpt_every)
        U64("--keep", 1, 4096, o.keep)
        U64("--seed", 0, INT64_MAX, o.seed)
        DBL("--lr", 1e-12, 10, o.lr)
        DBL("--dropout", 0, 0.9, o.dropout)
        DBL("--min-lr-frac", 0, 1, o.min_frac)
        DBL("--decay-frac", 0, 1, o.decay_frac)
        DBL("--weight-decay", 0, 10, o.adam.weight_decay)
        DBL("--beta1", 0, 0.999999, o.adam.beta1)
        DBL("--beta2", 0, 0.999999999, o.adam.beta2)
        DBL("--eps", 1e-30, 1, o.adam.eps)
        DBL("--clip", 0, 1e9, o.adam.clip)
        else return cli_bad_usage(PROG, "train: unknown option '%s'", a);
#undef U64
#undef DBL
    }
    if (o.steps && o.tokens) return cli_bad_usage(PROG, "--steps and --tokens: give one of them");
    if (o.resume_dir) {
        if (fixed)
            return cli_bad_usage(PROG, "--resume continues with the checkpoint's settings: %s cannot change "
                                 "(only --steps, --data, -j, --progress, --quiet)", fixed);
        if (o.out_dir && strcmp(o.out_dir, o.resume_dir))
            return cli_bad_usage(PROG, "--resume RUN continues in RUN: drop -o");
    } else {
        if (!o.data_dir) return cli_bad_usage(PROG, "train needs --data DIR (the packer's output folder)");
        if (!o.out_dir) return cli_bad_usage(PROG, "train needs -o RUN (the folder for checkpoints and logs)");
    }
    o.threads = common.threads;
    o.progress = common.progress;
    Err e = { { 0 } };
    int code = train_run(&o, &e);
    if (code) {
        if (code == 2) cli_bad_usage(PROG, "%s", e.msg);
        else err_print(PROG, &e);
    }
    return code;
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
} commands[] = {
    { "plan", plan_main },
    { "train", train_main },
    { "sweep", sweep_main },
    { "lr-find", lrfind_main },
    { "sample", sample_main },
    { "eval", eval_main },
    { "export", export_main },
    { "import", import_main },
};

int main(int argc, char **argv)
{
    out_cleanup_on_signal();
    if (argc < 2) return cli_bad_usage(PROG, "which subcommand? (plan, train, sweep, lr-find, sample, eval, export, import)");
    const char *a = argv[1];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout, 0);
    if (!strcmp(a, "--version")) return cli_version(PROG);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(a, commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    if (a[0] == '-') return cli_bad_usage(PROG, "unknown option '%s'", a);
    return cli_bad_usage(PROG, "unknown subcommand '%s' (plan, train, sweep, lr-find, sample, eval, export, import)", a);
}
