/* bpe: byte-level BPE: train, encode, decode, info, convert.
 * Not built yet: issue #4 fills it in. Until then this main only says what the
 * program will do (--help) and refuses any other use with exit 2. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int usage(FILE *f, int code)
{
    fputs(
        "usage: bpe train [options] [FILE...] -o tokenizer.json\n"
        "       bpe encode -t tokenizer.json [FILE...] > tokens.tok\n"
        "       bpe decode -t tokenizer.json [tokens.tok]\n"
        "       bpe info -t tokenizer.json | bpe convert r50k_base.tiktoken -o tokenizer.json\n"
        "\n"
        "train learns a byte-level BPE vocabulary from documents (JSON Lines or plain\n"
        "text) into a Hugging Face tokenizer.json; merges never cross a pre-tokenizer\n"
        "boundary (GPT-2, GPT-4 or o200k patterns, any PCRE2 pattern, or character\n"
        "classes for custom alphabets such as ARPAbet). encode turns documents into a\n"
        "token stream with end-of-text after each document, identical to tiktoken and\n"
        "Hugging Face tokenizers on the same vocabulary; decode turns it back.\n"
        "\n"
        "  example: bpe encode -t tok.json < unique.jsonl > corpus.tok\n"
        "\n"
        "Not built yet (issue #4): today only --help and --version work.\n",
        f);
    return code;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(stdout, 0);
        if (!strcmp(argv[i], "--version")) return cli_version("bpe");
    }
    return cli_bad_usage("bpe", "not built yet (issue #4); --help says what it will do");
}
