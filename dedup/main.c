/* dedup: exact and near-duplicate removal, and decontamination against evaluation sets.
 * Not built yet: issue #6 fills it in. Until then this main only says what the
 * program will do (--help) and refuses any other use with exit 2. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int usage(FILE *f, int code)
{
    fputs(
        "usage: dedup [options] [FILE...]\n"
        "       dedup minhash | decontam --eval FILES | sig | cluster | apply --drop LIST\n"
        "\n"
        "Reads documents (JSON Lines or plain text, .gz too, stdin by default) and writes\n"
        "the first of each group of duplicates to stdout or -o FILE. Exact duplicates by\n"
        "XXH3-128 of the normalised text; near duplicates by MinHash over word 5-grams\n"
        "(14 bands x 8 rows) with LSH, keeping the first; 13-gram decontamination\n"
        "against evaluation sets as the GPT-3 paper does it. Across shards: sig | sort |\n"
        "cluster | apply gives the same result as one run over the concatenation.\n"
        "Dropped documents go to --rejects FILE with \"dedup_reason\" and \"dup_of\".\n"
        "\n"
        "  example: dedup --rejects dups.jsonl < kept.jsonl > unique.jsonl\n"
        "\n"
        "Not built yet (issue #6): today only --help and --version work.\n",
        f);
    return code;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(stdout, 0);
        if (!strcmp(argv[i], "--version")) return cli_version("dedup");
    }
    return cli_bad_usage("dedup", "not built yet (issue #6); --help says what it will do");
}
