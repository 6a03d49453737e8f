/* model: GPT-2 on OpenBLAS: train, sample, eval, plan, sweep, lr-find, export.
 * Not built yet: issue #8 fills it in. Until then this main only says what the
 * program will do (--help) and refuses any other use with exit 2. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int usage(FILE *f, int code)
{
    fputs(
        "usage: model train --data DIR -o RUN [--preset NAME | --layers L --width D --heads H]\n"
        "       model sample RUN | eval RUN | plan | sweep | lr-find | export RUN | import\n"
        "\n"
        "train trains a GPT-2 (learned positions, pre-LayerNorm, GELU MLP, tied output)\n"
        "on llm.c shards written by packer, with AdamW, warmup + cosine decay, clipping,\n"
        "evaluation, crash-safe checkpoints and exact resume; matrix products go through\n"
        "OpenBLAS. plan answers which shape to train (parameters, memory, FLOPs, time,\n"
        "what scaling laws predict); sweep and lr-find measure it on your data.\n"
        "\n"
        "  example: model train --data data/ -o run/ --preset tiny --steps 200\n"
        "\n"
        "Not built yet (issue #8): today only --help and --version work.\n",
        f);
    return code;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(stdout, 0);
        if (!strcmp(argv[i], "--version")) return cli_version("model");
    }
    return cli_bad_usage("model", "not built yet (issue #8); --help says what it will do");
}
