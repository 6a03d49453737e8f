/* packer: token streams to llm.c training shards: mix, shuffle, split, pack.
 * Not built yet: issue #7 fills it in. Until then this main only says what the
 * program will do (--help) and refuses any other use with exit 2. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int usage(FILE *f, int code)
{
    fputs(
        "usage: packer -o DIR [options] STREAM[:WEIGHT]...\n"
        "\n"
        "Reads token streams from bpe encode (files or -), mixes the sources by weight\n"
        "(the GPT-3 \"weight in training mix\"), shuffles whole documents with a seed,\n"
        "splits train/validation by documents, joins documents with end-of-text, and\n"
        "writes llm.c shards DIR/train_000000.bin ... DIR/val_000000.bin with a\n"
        "DIR/meta.json and a copy of the tokenizer. Reports tokens, documents and\n"
        "epochs per source.\n"
        "\n"
        "  example: packer -o data/ -t tok.json web.tok:0.6 books.tok:0.4 --tokens 300M\n"
        "\n"
        "Not built yet (issue #7): today only --help and --version work.\n",
        f);
    return code;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(stdout, 0);
        if (!strcmp(argv[i], "--version")) return cli_version("packer");
    }
    return cli_bad_usage("packer", "not built yet (issue #7); --help says what it will do");
}
