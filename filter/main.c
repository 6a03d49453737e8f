/* filter: per-document quality decisions (heuristics, PCRE2 rules, the GPT-3 classifier).
 * Not built yet: issue #5 fills it in. Until then this main only says what the
 * program will do (--help) and refuses any other use with exit 2. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int usage(FILE *f, int code)
{
    fputs(
        "usage: filter [options] [FILE...]\n"
        "       filter train --pos FILES --neg FILES -o quality.model\n"
        "\n"
        "Reads documents (JSON Lines or plain text, .gz too, stdin by default) and writes\n"
        "the ones it keeps as JSON Lines to stdout or -o FILE, every field passed through.\n"
        "Quality rules: Gopher quality and repetition rules on by default, C4 and FineWeb\n"
        "line rules as opt-in sets, your own PCRE2 rules from a file. With --model, the\n"
        "GPT-3 quality classifier (hashed unigram+bigram features, logistic regression)\n"
        "adds \"quality\": score and keeps a document when pareto(9) > 1 - score.\n"
        "Dropped documents go to --rejects FILE with a \"filter_reason\" field.\n"
        "\n"
        "  example: filter --rejects dropped.jsonl < raw.jsonl > kept.jsonl\n"
        "\n"
        "Not built yet (issue #5): today only --help and --version work.\n",
        f);
    return code;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(stdout, 0);
        if (!strcmp(argv[i], "--version")) return cli_version("filter");
    }
    return cli_bad_usage("filter", "not built yet (issue #5); --help says what it will do");
}
