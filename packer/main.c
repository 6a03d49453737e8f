/* packer: token streams to llm.c training shards: mix, shuffle, split, pack.
 * This file only parses the command line into PackOpts; packer.c does the work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "iofile.h"
#include "path.h"
#include "packer.h"
#include "pretok.h"

static int usage(FILE *f, int code)
{
    fputs(
        "usage: packer -o DIR [options] STREAM[:WEIGHT]...\n"
        "\n"
        "Reads token streams from bpe encode (files, or - / nothing for stdin), mixes\n"
        "the sources by weight (GPT-3's \"weight in training mix\"), shuffles whole\n"
        "documents with a seed, holds out validation documents, joins documents with\n"
        "end-of-text and writes llm.c shards DIR/train_000000.bin ... and\n"
        "DIR/val_000000.bin ..., then DIR/meta.json (vocabulary, end-of-text id,\n"
        "context, window mode, seed, per-source documents, tokens and epochs) and, with\n"
        "-t, DIR/tokenizer.json. Shards are staged under temporary names and renamed\n"
        "together at the end: a failed run leaves no shard. A table on stderr reports\n"
        "documents, tokens, share, epochs and padding per source.\n"
        "\n"
        "  example: bpe encode -t tok.json < web.jsonl > web.tok\n"
        "           packer -o data/ -t tok.json web.tok:0.6 books.tok:0.2 wiki.tok:0.2 --tokens 300M\n"
        "           packer -o data/ --best-fit --context 2048 --val-tokens 1M all.tok\n"
        "\n"
        "Inputs:\n"
        "  STREAM[:WEIGHT]      a token stream (.tok, plain or gzip; - is stdin). WEIGHT\n"
        "                       (0.6, 60%, any number >= 0; normalised to shares of\n"
        "                       --tokens) needs --tokens; give it to every source or to\n"
        "                       none. Every source must have the same vocabulary size\n"
        "                       and end-of-text id.\n"
        "  --tokens N           training tokens in all (300M, 2G, ...), shared by weight\n"
        "                       (without weights: in proportion to the sources' sizes);\n"
        "                       a source whose share is larger than it is repeated (whole\n"
        "                       epochs, then a seeded sample), a smaller one is sampled.\n"
        "                       Default: every source once, weights not allowed.\n"
        "  -t, --tokenizer F    copy this tokenizer.json to DIR/tokenizer.json\n"
        "  --tiktoken FILE --pattern NAME\n"
        "                       instead of -t, for streams bpe encode wrote with the same\n"
        "                       options: write DIR/tokenizer.json from the rank file (what\n"
        "                       bpe convert writes), so that model eval and sample find it\n"
        "\n"
        "Output:\n"
        "  -o DIR               the output folder (created if missing; refused if it\n"
        "                       already holds packed data, unless --force)\n"
        "  --force              replace packed data already in DIR (its old shards are\n"
        "                       removed only once the new ones are in place)\n"
        "  --val F              validation: this fraction of each source's tokens, whole\n"
        "                       documents, never in train (default 0.5%; 0 for none)\n"
        "  --val-tokens N       validation: N tokens in all, from each source in\n"
        "                       proportion to its size (instead of --val)\n"
        "  --context T          context length T, recorded in meta.json; best-fit windows\n"
        "                       are T+1 tokens (default 1024)\n"
        "  --best-fit           windows of exactly T+1 tokens that never split a document\n"
        "                       that fits in one, filled by best-fit decreasing and padded\n"
        "                       with end-of-text (padding stays in the loss: a .bin has no\n"
        "                       mask). Default: --stream, one token stream in which each\n"
        "                       document is preceded by end-of-text, as llm.c's scripts do;\n"
        "                       the trainer takes T+1 tokens stepping by T.\n"
        "  --shard-tokens N     tokens a shard at most (default 100M; at least context + 1;\n"
        "                       best-fit rounds it down to whole windows)\n"
        "  --seed N             shuffle seed (default 1337); the same seed and inputs give\n"
        "                       byte-identical shards\n"
        "  --no-shuffle         keep the input order (sources one after another)\n"
        "  --concat             the streams given are one source, read in the order given\n"
        "                       (shards of one stream: they pack as their concatenation\n"
        "                       would, validation included); copied, not mapped; no weights\n"
        "  --mem BYTES          memory for tokens read from pipes or gzip files (default\n"
        "                       1Gi); beyond it they spill to an unlinked temporary file in\n"
        "                       DIR. Regular files are memory-mapped, not copied. Document\n"
        "                       offsets (8 bytes a document) are always kept in memory.\n"
        "\n",
        f);
    fputs(cli_common_help, f);
    fputs("  (packer runs on one thread: it is bound by I/O, and -j has no effect.)\n", f);
    return code;
}

static void free_inputs(PackInput *in, size_t n)
{
    for (size_t i = 0; i < n; i++) free((char *)in[i].path);
    free(in);
}

int main(int argc, char **argv)
{
    PackOpts opt = { .context = 1024, .shard_tokens = 100000000, .seed = 1337,
                     .val_frac = 0.005, .mem_bytes = 1ull << 30, .catch_signals = 1 };
    CommonOpts common = { 0 };
    PackInput *in = calloc((size_t)argc, sizeof *in);
    if (!in) {
        fputs("packer: out of memory\n", stderr);
        return 1;
    }
    size_t n_in = 0;
    int rc = 0, n_weights = 0, n_stdin = 0, have_val = 0, concat = 0;
    const char **more = NULL;
    char *concat_name = NULL;
    Err e = { { 0 } };
#define BAD(...)                                                                               \
    do {                                                                                       \
        rc = cli_bad_usage("packer", __VA_ARGS__);                                             \
        goto done;                                                                             \
    } while (0)
#define NUM(min, max, dst)                                                                     \
    do {                                                                                       \
        if (i + 1 >= argc) BAD("%s needs a value", a);                                         \
        if (cli_u64(argv[++i], (min), (max), (dst)))                                           \
            BAD("%s %s: expected a count from %llu to %llu (suffixes k M G Ki Mi Gi)", a,      \
                argv[i], (unsigned long long)(min), (unsigned long long)(max));                \
    } while (0)
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int c = cli_common_option("packer", &common, argc, argv, &i);
        if (c == 2) {
            rc = 2;
            goto done;
        }
        if (c) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            free_inputs(in, n_in);
            return usage(stdout, 0);
        } else if (!strcmp(a, "--version")) {
            free_inputs(in, n_in);
            return cli_version("packer");
        } else if (!strcmp(a, "-o")) {
            if (i + 1 >= argc || !*argv[i + 1]) BAD("-o needs a folder");
            opt.out_dir = path_tidy(argv[++i]);
        } else if (!strcmp(a, "-t") || !strcmp(a, "--tokenizer")) {
            if (i + 1 >= argc) BAD("%s needs a file", a);
            opt.tokenizer = argv[++i];
        } else if (!strcmp(a, "--tiktoken") || !strcmp(a, "--pattern")) {
            if (i + 1 >= argc) BAD("%s needs a value", a);
            *(!strcmp(a, "--tiktoken") ? &opt.tiktoken : &opt.pattern) = argv[++i];
        } else if (!strcmp(a, "--tokens")) {
            NUM(1, UINT64_MAX / 4, &opt.total_tokens);
        } else if (!strcmp(a, "--val")) {
            if (i + 1 >= argc) BAD("--val needs a fraction");
            if (cli_double(argv[++i], 0, 0.999999, &opt.val_frac))
                BAD("--val %s: expected a fraction in [0, 1) such as 0.005 or 0.5%%", argv[i]);
            have_val = 1;
        } else if (!strcmp(a, "--val-tokens")) {
            NUM(0, UINT64_MAX / 4, &opt.val_tokens);
            opt.val_by_tokens = 1;
        } else if (!strcmp(a, "--context")) {
            NUM(1, 1u << 24, &opt.context);
        } else if (!strcmp(a, "--best-fit")) {
            opt.window = PACK_BEST_FIT;
        } else if (!strcmp(a, "--stream")) {
            opt.window = PACK_STREAM;
        } else if (!strcmp(a, "--shard-tokens")) {
            NUM(1, 2147483647, &opt.shard_tokens);
        } else if (!strcmp(a, "--seed")) {
            NUM(0, UINT64_MAX, &opt.seed);
        } else if (!strcmp(a, "--no-shuffle")) {
            opt.no_shuffle = 1;
        } else if (!strcmp(a, "--mem")) {
            NUM(0, UINT64_MAX, &opt.mem_bytes);
        } else if (!strcmp(a, "--force")) {
            opt.force = 1;
        } else if (!strcmp(a, "--concat")) {
            concat = 1;
        } else if (a[0] == '-' && a[1]) {
            BAD("unknown option %s", a);
        } else {
            if (packer_parse_input(a, &in[n_in], &e)) BAD("%s", e.msg);
            n_weights += in[n_in].has_weight;
            n_stdin += !strcmp(in[n_in].path, "-");
            n_in++;
        }
    }
    if (!opt.out_dir) BAD("-o DIR is required: the folder for the shards and meta.json");
    if (opt.tokenizer && opt.tiktoken) BAD("-t and --tiktoken: give one of them");
    if (opt.pattern && !opt.tiktoken) BAD("--pattern goes with --tiktoken FILE (a tokenizer.json holds its own)");
    if (opt.tiktoken && !opt.pattern)
        BAD("--tiktoken needs --pattern gpt2|gpt4|o200k (rank files hold no pattern)");
    if (opt.tiktoken && !pretok_builtin(opt.pattern))
        BAD("--pattern is gpt2 (r50k), gpt4 (cl100k) or o200k, not '%s'", opt.pattern);
    if (!n_in) {
        if (!(in[0].path = strdup("-"))) {
            fputs("packer: out of memory\n", stderr);
            rc = 1;
            goto done;
        }
        n_in = n_stdin = 1;
    }
    if (n_stdin > 1) BAD("standard input (-) can be read only once");
    if (have_val && opt.val_by_tokens) BAD("--val and --val-tokens are alternatives: give one");
    if (concat && n_weights) BAD("--concat makes the streams one source: weights mean nothing there");
    if (n_weights && n_weights != (int)n_in)
        BAD("%d of %zu sources have a weight: give every source a weight, or none", n_weights, n_in);
    if (n_weights && !opt.total_tokens)
        BAD("weights need --tokens (the total they share); without it every source is used once");
    if (n_weights) {
        double sum = 0;
        for (size_t k = 0; k < n_in; k++) sum += in[k].weight;
        if (!(sum > 0)) BAD("the weights sum to zero");
    }
    /* A stream shard shorter than a window holds no training sample: the
     * trainer refuses it (and --shard-tokens 1 would write a file a token). */
    if (opt.shard_tokens < opt.context + 1)
        BAD("--shard-tokens %llu is smaller than one %s window: at least context + 1 = %llu",
            (unsigned long long)opt.shard_tokens, opt.window == PACK_BEST_FIT ? "best-fit" : "stream",
            (unsigned long long)opt.context + 1);
    opt.inputs = in;
    opt.n_inputs = n_in;
    if (concat && n_in > 1) { /* one source: the first stream, then the others in order */
        size_t len = strlen(in[0].path) + 32;
        if (!(more = malloc((n_in - 1) * sizeof *more)) || !(concat_name = malloc(len))) {
            fputs("packer: out of memory\n", stderr);
            rc = 1;
            goto done;
        }
        for (size_t k = 1; k < n_in; k++) more[k - 1] = in[k].path;
        snprintf(concat_name, len, "%s (+%zu more)", in[0].path, n_in - 1);
        in[0].more = more;
        in[0].n_more = n_in - 1;
        in[0].name = concat_name;
        opt.n_inputs = 1;
    }
    opt.progress = common.progress;
    err_prog("packer");
    out_cleanup_on_signal();
    int failed = packer_run(&opt, NULL, &e);
    err_warn_summary();
    if (failed == 2) rc = cli_bad_usage("packer", "%s", e.msg);
    else if (failed) {
        err_print("packer", &e);
        rc = 1;
    }
done:
    free(more);
    free(concat_name);
    free_inputs(in, n_in);
    return rc;
}
