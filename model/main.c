/* model: GPT-2 on OpenBLAS. A subcommand is one entry of `commands`: its
 * argv parsed into its options (args.c), its logic called (train.c, plan.c,
 * sweep.c, lrfind.c, sample.c, evaluate.c, export.c, import.c) and what that
 * returned reported. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "iofile.h"

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
          "  export     write a run as a Hugging Face GPT-2 (model.safetensors, configs, tokenizer)\n"
          "  import     a Hugging Face GPT-2 folder or an llm.c gpt2_124M.bin into a run folder\n"
          "\n"
          "  example: packer -o data/ web.tok && model train --data data/ -o run/ --preset tiny --steps 200\n",
          f);
    return code;
}

#define PROG ARGS_PROG

/* Each subcommand: parse, run, report. */
static int plan_cmd(int argc, char **argv)
{
    PlanOpts o;
    int rc = args_parse_plan(argc, argv, &o);
    if (rc != ARGS_RUN) return rc;
    Err e = { { 0 } };
    return args_report(ARGS_PROG_PLAN, ARGS_PROG_PLAN, plan_run(&o, stdout, &e), &e);
}

static int train_cmd(int argc, char **argv)
{
    TrainOpts o;
    int rc = args_parse_train(argc, argv, &o);
    if (rc != ARGS_RUN) return rc;
    Err e = { { 0 } };
    return args_report(PROG, "model train", train_run(&o, &e), &e);
}

static int sweep_cmd(int argc, char **argv)
{
    SweepOpts o;
    int rc = args_parse_sweep(argc, argv, &o);
    if (rc != ARGS_RUN) return rc;
    Err e = { { 0 } };
    return args_report(PROG, "model sweep", sweep_run(&o, &e), &e);
}

static int lrfind_cmd(int argc, char **argv)
{
    LrOpts o;
    int rc = args_parse_lrfind(argc, argv, &o);
    if (rc != ARGS_RUN) return rc;
    Err e = { { 0 } };
    return args_report(PROG, "model lr-find", lrfind_run(&o, &e), &e);
}

static int sample_cmd(int argc, char **argv)
{
    SampleOpts o;
    int rc = args_parse_sample(argc, argv, &o);
    if (rc != ARGS_RUN) return rc;
    Err e = { { 0 } };
    return args_report(PROG, "model sample", sample_run(&o, &e), &e);
}

static int eval_cmd(int argc, char **argv)
{
    EvalOpts o;
    int rc = args_parse_eval(argc, argv, &o);
    if (rc != ARGS_RUN) return rc;
    Err e = { { 0 } };
    return args_report(PROG, "model eval", eval_run(&o, &e), &e);
}

static int export_cmd(int argc, char **argv)
{
    ExportOpts o;
    int rc = args_parse_export(argc, argv, &o);
    if (rc != ARGS_RUN) return rc;
    Err e = { { 0 } };
    return args_report(PROG, "model export", export_run(&o, &e), &e);
}

static int import_cmd(int argc, char **argv)
{
    ImportOpts o;
    int rc = args_parse_import(argc, argv, &o);
    if (rc != ARGS_RUN) return rc;
    Err e = { { 0 } };
    return args_report(PROG, "model import", import_run(&o, &e), &e);
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
} commands[] = {
    { "plan", plan_cmd },
    { "train", train_cmd },
    { "sweep", sweep_cmd },
    { "lr-find", lrfind_cmd },
    { "sample", sample_cmd },
    { "eval", eval_cmd },
    { "export", export_cmd },
    { "import", import_cmd },
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
