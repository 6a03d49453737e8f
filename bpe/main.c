/* bpe: byte-level BPE: train, encode, decode, info, convert. This file only
 * parses the command line; the work is in bpe.c (encode, decode, info,
 * convert), train.c and lib/tokenizer.c. */
#include <stdio.h>
#include <string.h>

#include "bpe.h"
#include "cli.h"
#include "iofile.h"
#include "pretok.h"
#include "train.h"

static int usage(FILE *f, int code)
{
    fputs(
        "usage: bpe train [options] [FILE...] -o tokenizer.json\n"
        "       bpe encode (-t tokenizer.json | --tiktoken FILE --pattern NAME) [FILE...] > x.tok\n"
        "       bpe decode (-t tokenizer.json | --tiktoken FILE --pattern NAME) [x.tok] > x.jsonl\n"
        "       bpe decode (...) --ids [x.ids] > x.jsonl\n"
        "       bpe info   (-t tokenizer.json | --tiktoken FILE --pattern NAME) [--vocab] [FILE...]\n"
        "       bpe convert FILE.tiktoken --pattern NAME -o tokenizer.json\n"
        "\n"
        "Byte-level BPE, identical to tiktoken and Hugging Face tokenizers on the same\n"
        "vocabulary. train learns a vocabulary from documents into a tokenizer.json that\n"
        "HF tokenizers loads; merges never cross a pre-tokenizer boundary. encode turns\n"
        "documents into a token stream (docs/formats.md) with end-of-text after each\n"
        "document; decode turns a stream (or encode --ids's id lists) back into\n"
        "documents; info describes a tokenizer (or lists its tokens) and, given\n"
        "documents, measures it on them; convert turns a tiktoken rank file into a\n"
        "tokenizer.json.\n"
        "\n"
        "  example: bpe train --vocab-size 8000 corpus.jsonl.gz -o tok.json\n"
        "           bpe encode -t tok.json < unique.jsonl > corpus.tok\n"
        "           bpe encode --tiktoken r50k_base.tiktoken --pattern gpt2 --ids < x.jsonl\n"
        "           bpe decode -t tok.json corpus.tok | head\n"
        "           echo '464 5822 531' | bpe decode --tiktoken r50k_base.tiktoken --pattern gpt2 --ids --text\n"
        "           bpe info -t tok.json --vocab corpus.jsonl.gz | sort -t$'\\t' -k6 -n | head\n"
        "\n"
        "The vocabulary (encode, decode, info):\n"
        "  -t, --tokenizer FILE tokenizer.json (ours, or a byte-level BPE one from HF)\n"
        "  --tiktoken FILE      a tiktoken rank file (e.g. gpt-tokenizer's data/r50k_base.tiktoken)\n"
        "  --pattern NAME       with --tiktoken: gpt2 (alias r50k), gpt4 (alias cl100k) or o200k;\n"
        "                       it brings the special tokens too (<|endoftext|> is 50256,\n"
        "                       100257 or 199999)\n"
        "\n"
        "train:\n"
        "  -o FILE              the tokenizer.json to write (required)\n"
        "  --vocab-size N       ids in all: 256 bytes + merges + specials (default 32000)\n"
        "  --min-frequency N    stop when the best pair is seen fewer than N times (default 2)\n"
        "  --special TEXT       a special token, repeatable (default: <|endoftext|>; the\n"
        "                       first --special replaces it); 'none' for no specials\n"
        "  --max-token-length N never make a token longer than N bytes (default: no limit)\n"
        "  --pattern NAME       pre-tokenizer: gpt2 (default), gpt4 or o200k\n"
        "  --pattern-regex RE   any PCRE2 pattern instead (UTF + UCP)\n"
        "  --classes FILE       character classes for custom alphabets (see bpe/README.md)\n"
        "  --hf-compat          mirror HF tokenizers' trainer: learn only bytes seen, its\n"
        "                       tie-breaking and alphabet order (see bpe/README.md)\n"
        "\n"
        "encode:\n"
        "  -o FILE              output (default: stdout)\n"
        "  --allow-special      special-token text in documents becomes its id (default: it\n"
        "                       is plain text). A literal <|endoftext|> then ends the document\n"
        "                       there and starts the next one.\n"
        "  --ids                write ids as decimal text, one document a line, instead of a\n"
        "                       token stream\n"
        "  Plain text must be UTF-8 (--encoding latin1 reads Latin-1), as in every program.\n"
        "\n"
        "decode:\n"
        "  -o FILE              output (default: stdout)\n"
        "  --ids                read decimal ids, one document a line (what encode --ids\n"
        "                       writes), instead of a token stream\n"
        "  --text               write each document's raw bytes (default: JSON Lines {\"text\":...})\n"
        "  --sep LINE           with --text: write LINE on a line of its own between documents\n"
        "\n"
        "info:\n"
        "  --top N              with documents: list the N most frequent tokens (default 20)\n"
        "  --vocab              instead of the summary, the vocabulary as a table, one token a\n"
        "                       line: id, kind (byte, token, special), length in bytes, the\n"
        "                       bytes in hex, the token quoted with escapes, and with\n"
        "                       documents its count on them\n"
        "\n",
        f);
    fputs(cli_doc_help, f);
    fputs("\n", f);
    fputs(cli_common_help, f);
    return code;
}

#define BAD(...) cli_bad_usage("bpe", __VA_ARGS__)
#define MAX_INPUTS 4096

/* The options that name a vocabulary. 1 taken, 0 not one, 2 bad usage. */
static int source_option(BpeSource *s, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    int takes = !strcmp(a, "-t") || !strcmp(a, "--tokenizer") || !strcmp(a, "--tiktoken") ||
                !strcmp(a, "--pattern");
    if (!takes) return 0;
    if (*i + 1 >= argc) return BAD("%s needs a value", a);
    const char *v = argv[++*i];
    if (!strcmp(a, "--tiktoken")) s->tiktoken = v;
    else if (!strcmp(a, "--pattern")) s->pattern = v;
    else s->json = v;
    return 1;
}

static int check_source(const BpeSource *s)
{
    if (!s->json && !s->tiktoken) return BAD("name the vocabulary: -t tokenizer.json or --tiktoken FILE --pattern NAME");
    if (s->json && s->tiktoken) return BAD("-t and --tiktoken: give one of them");
    if (s->tiktoken && !s->pattern) return BAD("--tiktoken needs --pattern gpt2|gpt4|o200k (rank files hold no pattern)");
    if (s->tiktoken && !pretok_builtin(s->pattern))
        return BAD("--pattern is gpt2 (r50k), gpt4 (cl100k) or o200k, not '%s'", s->pattern);
    if (s->json && s->pattern) return BAD("--pattern goes with --tiktoken (a tokenizer.json holds its own)");
    return 0;
}

static int fail(const Err *e)
{
    err_warn_summary(); /* before the error, which ends the output */
    err_print("bpe", e);
    return 1;
}

/* The command's status, after saying how many warnings were not shown. */
static int warned(int rc)
{
    err_warn_summary();
    return rc;
}

static int cmd_encode(int argc, char **argv)
{
    BpeEncodeOpts o = { 0 };
    const char *inputs[MAX_INPUTS];
    size_t n = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int k;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout, 0);
        if ((k = source_option(&o.src, argc, argv, &i))) { if (k == 2) return 2; continue; }
        if ((k = cli_doc_option("bpe", &o.doc, argc, argv, &i))) { if (k == 2) return 2; continue; }
        if ((k = cli_common_option("bpe", &o.common, argc, argv, &i))) { if (k == 2) return 2; continue; }
        if (!strcmp(a, "-o") && i + 1 < argc) o.out = argv[++i];
        else if (!strcmp(a, "--allow-special")) o.allow_special = 1;
        else if (!strcmp(a, "--ids")) o.ids = 1;
        else if (a[0] == '-' && a[1]) return BAD("encode: unknown option '%s'", a);
        else if (n == MAX_INPUTS) return BAD("more than %d input files", MAX_INPUTS);
        else inputs[n++] = a;
    }
    if (check_source(&o.src)) return 2;
    o.inputs = inputs;
    o.n_inputs = n;
    Err e = { 0 };
    return bpe_encode(&o, &e) ? fail(&e) : 0;
}

static int cmd_decode(int argc, char **argv)
{
    BpeDecodeOpts o = { 0 };
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int k;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout, 0);
        if ((k = source_option(&o.src, argc, argv, &i))) { if (k == 2) return 2; continue; }
        if ((k = cli_common_option("bpe", &o.common, argc, argv, &i))) { if (k == 2) return 2; continue; }
        if (!strcmp(a, "-o") && i + 1 < argc) o.out = argv[++i];
        else if (!strcmp(a, "--text")) o.text = 1;
        else if (!strcmp(a, "--ids")) o.ids = 1;
        else if (!strcmp(a, "--sep") && i + 1 < argc) o.sep = argv[++i];
        else if (a[0] == '-' && a[1]) return BAD("decode: unknown option '%s'", a);
        else if (o.in) return BAD("decode reads one input (a token stream, or id lists with --ids)");
        else o.in = a;
    }
    if (check_source(&o.src)) return 2;
    if (o.sep && !o.text) return BAD("--sep goes with --text");
    Err e = { 0 };
    return bpe_decode(&o, &e) ? fail(&e) : 0;
}

static int cmd_info(int argc, char **argv)
{
    BpeInfoOpts o = { .top = 20 };
    const char *inputs[MAX_INPUTS];
    size_t n = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int k;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout, 0);
        if ((k = source_option(&o.src, argc, argv, &i))) { if (k == 2) return 2; continue; }
        if ((k = cli_doc_option("bpe", &o.doc, argc, argv, &i))) { if (k == 2) return 2; continue; }
        if ((k = cli_common_option("bpe", &o.common, argc, argv, &i))) { if (k == 2) return 2; continue; }
        if (!strcmp(a, "--top") && i + 1 < argc) {
            uint64_t v;
            if (cli_u64(argv[++i], 0, 1000000, &v)) return BAD("--top needs 0..1000000, not '%s'", argv[i]);
            o.top = (unsigned)v;
        } else if (!strcmp(a, "--vocab")) o.vocab = 1;
        else if (a[0] == '-' && a[1]) return BAD("info: unknown option '%s'", a);
        else if (n == MAX_INPUTS) return BAD("more than %d input files", MAX_INPUTS);
        else inputs[n++] = a;
    }
    if (check_source(&o.src)) return 2;
    o.inputs = inputs;
    o.n_inputs = n;
    Err e = { 0 };
    return bpe_info(&o, &e) ? fail(&e) : 0;
}

static int cmd_convert(int argc, char **argv)
{
    BpeSource src = { 0 };
    CommonOpts common = { 0 };
    const char *out = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int k;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout, 0);
        if (!strcmp(a, "--pattern") && i + 1 < argc) src.pattern = argv[++i];
        else if (!strcmp(a, "--tiktoken") && i + 1 < argc && !src.tiktoken) src.tiktoken = argv[++i];
        else if ((k = cli_common_option("bpe", &common, argc, argv, &i))) { if (k == 2) return 2; }
        else if (!strcmp(a, "-o") && i + 1 < argc) out = argv[++i];
        else if (a[0] == '-' && a[1]) return BAD("convert: unknown option '%s'", a);
        else if (src.tiktoken) return BAD("convert reads one rank file");
        else src.tiktoken = a;
    }
    if (!src.tiktoken) return BAD("convert needs a .tiktoken rank file");
    if (check_source(&src)) return 2;
    if (!out) return BAD("convert needs -o tokenizer.json (or -o - for stdout)");
    Err e = { 0 };
    return bpe_convert(&src, out, common, &e) ? fail(&e) : 0;
}

static int cmd_train(int argc, char **argv)
{
    BpeTrainOpts o;
    bpe_train_defaults(&o);
    const char *inputs[MAX_INPUTS];
    size_t n = 0;
    int first_special = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int k;
        uint64_t v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout, 0);
        if ((k = cli_doc_option("bpe", &o.doc, argc, argv, &i))) { if (k == 2) return 2; continue; }
        if ((k = cli_common_option("bpe", &o.common, argc, argv, &i))) { if (k == 2) return 2; continue; }
        if (!strcmp(a, "-o") && i + 1 < argc) o.out = argv[++i];
        else if (!strcmp(a, "--vocab-size") && i + 1 < argc) {
            if (cli_u64(argv[++i], 1, 0x7ffffffe, &v)) return BAD("--vocab-size needs a count, not '%s'", argv[i]);
            o.vocab_size = (uint32_t)v;
        } else if (!strcmp(a, "--min-frequency") && i + 1 < argc) {
            if (cli_u64(argv[++i], 0, UINT64_MAX, &v)) return BAD("--min-frequency needs a count, not '%s'", argv[i]);
            o.min_frequency = v;
        } else if (!strcmp(a, "--max-token-length") && i + 1 < argc) {
            if (cli_u64(argv[++i], 2, 1u << 20, &v)) return BAD("--max-token-length needs 2 or more, not '%s'", argv[i]);
            o.max_token_length = (uint32_t)v;
        } else if (!strcmp(a, "--special") && i + 1 < argc) {
            const char *s = argv[++i];
            if (first_special) o.n_specials = 0;
            first_special = 0;
            if (!strcmp(s, "none")) continue;
            if (!*s) return BAD("--special needs a non-empty text");
            if (o.n_specials == BPE_MAX_SPECIALS) return BAD("at most %d --special", BPE_MAX_SPECIALS);
            o.specials[o.n_specials++] = s;
        } else if (!strcmp(a, "--pattern") && i + 1 < argc) {
            const char *s = argv[++i];
            if (!pretok_builtin(s)) return BAD("--pattern is gpt2 (r50k), gpt4 (cl100k) or o200k, not '%s'", s);
            o.regex = pretok_builtin(s);
        } else if (!strcmp(a, "--pattern-regex") && i + 1 < argc) {
            /* a regex given here that does not compile is bad usage, not bad data */
            Err re = { 0 };
            Pretok *p = pretok_new(argv[++i], &re);
            if (!p) return BAD("--pattern-regex: %s", re.msg);
            pretok_free(p);
            o.regex = argv[i];
            if (!*o.regex) { /* it compiles, and trained without a word (issue 13) */
                Err w;
                err_set(&w, "warning: --pattern-regex '' matches no text: each document is then one piece, "
                            "and merges cross words and spaces (GPT-2's split is --pattern gpt2, the default)");
                err_warn(&w);
            }
        } else if (!strcmp(a, "--classes") && i + 1 < argc) o.classes = argv[++i];
        else if (!strcmp(a, "--hf-compat")) o.hf_compat = 1;
        else if (a[0] == '-' && a[1]) return BAD("train: unknown option '%s'", a);
        else if (n == MAX_INPUTS) return BAD("more than %d input files", MAX_INPUTS);
        else inputs[n++] = a;
    }
    if (!o.out) return BAD("train needs -o tokenizer.json");
    if (o.classes && o.regex != pretok_builtin("gpt2") && o.regex)
        return BAD("--classes replaces the pattern: give it without --pattern/--pattern-regex");
    if (o.vocab_size < 256 + o.n_specials)
        return BAD("--vocab-size %u is below the 256 bytes + %zu specials", o.vocab_size, o.n_specials);
    o.inputs = inputs;
    o.n_inputs = n;
    Err e = { 0 };
    return bpe_train(&o, &e) ? fail(&e) : 0;
}

int main(int argc, char **argv)
{
    err_prog("bpe");
    out_cleanup_on_signal();
    if (argc < 2) return BAD("name a command: train, encode, decode, info or convert");
    const char *c = argv[1];
    if (!strcmp(c, "-h") || !strcmp(c, "--help")) return usage(stdout, 0);
    if (!strcmp(c, "--version")) return cli_version("bpe");
    if (!strcmp(c, "train")) return warned(cmd_train(argc, argv));
    if (!strcmp(c, "encode")) return warned(cmd_encode(argc, argv));
    if (!strcmp(c, "decode")) return cmd_decode(argc, argv);
    if (!strcmp(c, "info")) return cmd_info(argc, argv);
    if (!strcmp(c, "convert")) return cmd_convert(argc, argv);
    return BAD("unknown command '%s' (train, encode, decode, info, convert)", c);
}
