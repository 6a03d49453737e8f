/* dedup: exact and near-duplicate removal, the sharded chain, and 13-gram
 * decontamination. This main only parses argv into options and calls the logic
 * in dedup.c, shard.c and decontam.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dedup.h"

static const char *prog = "dedup";

static int usage(FILE *f, int code)
{
    fputs(
        "usage: dedup [exact|minhash] [options] [FILE...]\n"
        "       dedup decontam --eval EVAL [--eval EVAL2 ...] [options] [FILE...]\n"
        "       dedup decontam count --eval EVAL ... [-o COUNTS] [FILE...]\n"
        "       dedup sig [exact|minhash] [options] SHARD... | LC_ALL=C sort -S 1G |\n"
        "         dedup cluster > drop.tsv\n"
        "       dedup apply --drop drop.tsv [-o OUT] [--rejects FILE] SHARD\n"
        "\n"
        "Reads documents (JSON Lines or plain text, .gz too; files, folders or stdin) and\n"
        "writes to stdout (or -o FILE) the first document of every group of duplicates,\n"
        "in input order, every member passed through. Dropped documents go to --rejects\n"
        "FILE with \"dedup_reason\" (exact, near, decontam) and \"dup_of\" (\"FILE:LINE\"\n"
        "of the kept document it duplicates) appended; files skipped as binary go there\n"
        "too, in their place, as {\"text\":\"\",\"path\":FILE,\"dedup_reason\":\"binary\"}.\n"
        "\n"
        "  dedup          exact duplicates, then near duplicates (the default)\n"
        "  dedup exact    only exact: XXH3-128 of the normalised text\n"
        "  dedup minhash  only near: MinHash of word shingles with LSH banding.\n"
        "                 Streaming keep-first: a document is dropped when it shares a\n"
        "                 band with an earlier KEPT document (and with --verify when\n"
        "                 their Jaccard similarity is >= the threshold too).\n"
        "\n"
        "Options (dedup, exact, minhash, sig):\n"
        "  -o FILE              kept documents (default stdout; .gz compresses)\n"
        "  --rejects FILE       dropped documents, with dedup_reason and dup_of\n"
        "  --normalize M        simple (default): NFKC, case folded, punctuation and\n"
        "                       symbols to spaces, digits to 0, white space collapsed;\n"
        "                       nfkc-lower: NFKC and case folding only; none: as is\n"
        "  --ngram N            words per shingle (default 5, 1..64)\n"
        "  --bands B --rows R   LSH shape (default 14 x 8: a 112-value signature)\n"
        "  --threshold J        Jaccard threshold (default 0.8). Used by --verify; given\n"
        "                       without --bands/--rows it also picks them: the B x R <= 112\n"
        "                       minimising the false positive + false negative areas of\n"
        "                       the S-curve 1-(1-s^R)^B around J (datasketch's rule)\n"
        "  --verify [MODE]      drop only when the Jaccard with the kept document is >= J\n"
        "                       as well (off by default). MODE exact (the default of\n"
        "                       --verify): the true Jaccard of the two sets of shingles,\n"
        "                       as 64-bit XXH3 hashes (kept documents' words are spilled\n"
        "                       to an unlinked file in $TMPDIR or /tmp, re-read on a\n"
        "                       collision);\n"
        "                       estimate: the share of equal signature values (112 values:\n"
        "                       about +-0.04, so pairs just under J pass). Also --verify=MODE\n"
        "  --seed S             seed of the hash functions a_i, b_i (default 1)\n"
        "\n"
        "MinHash: each shingle is hashed with XXH3-64 and reduced mod p = 2^61-1, then\n"
        "h_i = (a_i*x + b_i) mod p with 128-bit products; band keys are XXH3-64 of the rows.\n"
        "Memory grows only with the KEPT documents: each holds B band entries (16 bytes)\n"
        "and an exact entry (24) in hash tables 3/8 to 3/4 full that double when full,\n"
        "and its place (16): at most 72 x B + 112 bytes at a table's doubling, so\n"
        "about 1.1 KB per kept document with 14 bands (870 measured at a million,\n"
        "bench/dedup). --verify exact adds 8 bytes (the words' place in the spill\n"
        "file; the words themselves, about the size of the text, go to disk);\n"
        "--verify estimate adds the signature, 8 x B x R bytes (896). Plus three batches\n"
        "of up to 4096 documents (1 MB a thread, 16 MB at most; with --verify exact\n"
        "their words too): -j N threads compute the keys of one while the next is read\n"
        "(dedup, exact, minhash and sig; decontam finds its grams so); the decisions\n"
        "and sig's lines stay in input order, so the output is the same for any -j.\n"
        "\n"
        "Across shards (global order: shard names in byte order, then line):\n"
        "  dedup sig [exact|minhash] [options] SHARD...  key lines: exact keys, band\n"
        "                       keys, with --verify each document's normalised words\n"
        "                       (exact) or signature (estimate) (text, 'KEY\\tSHARD:LINE');\n"
        "                       give it the options of the run\n"
        "  dedup cluster [FILE...]  reads them sorted (LC_ALL=C sort), replays keep-first\n"
        "                       over the colliding groups in global order, writes the drop\n"
        "                       list 'SHARD:LINE\\tREASON\\tDUP_OF' (-o FILE or stdout)\n"
        "  dedup apply --drop LIST SHARD...  the shards minus the listed documents; a\n"
        "                       name on the list is matched by the file it names\n"
        "                       (./s.jsonl is s.jsonl), with a warning when none matches\n"
        "                       and the list names files that are not here\n"
        "The result equals one dedup run with the same options over all the shards given\n"
        "in that order.\n"
        "\n"
        "dedup decontam: GPT-3's 13-gram decontamination. Grams are lowercase words (split\n"
        "at white space) without punctuation or symbols. Each hit in a training document\n"
        "removes the 13-gram and --window characters on each side and splits the document\n"
        "there; pieces (written as documents of their own, with \"decontam_piece\":K)\n"
        "under --min-piece characters are dropped; a document split into more than\n"
        "--max-pieces pieces is dropped whole.\n"
        "  --eval FILE          an evaluation set (documents); repeat for more (up to 64)\n"
        "  --gram N             words per gram (default 13)\n"
        "  --window C           characters removed on each side of a hit (default 200)\n"
        "  --min-piece C        shortest piece kept, in characters (default 200)\n"
        "  --max-pieces N       more pieces: drop the document (default 10)\n"
        "  --max-doc-freq N     ignore grams found in more than N training documents\n"
        "                       (default 10; 0: never). Needs a first counting pass: files\n"
        "                       are read twice; stdin is first copied to a temporary file\n"
        "  --doc-freq FILE      take the counts from this count file instead (repeat: the\n"
        "                       files are summed) and read the input once. Across shards:\n"
        "                         dedup decontam count --eval E SHARD -o SHARD.count\n"
        "                       on each shard (the first pass alone: a line a gram found),\n"
        "                       then each shard with --doc-freq for every SHARD.count:\n"
        "                       each decides as one run over all the shards would\n"
        "  --removed FILE       the removed spans and dropped short pieces, as JSON Lines\n"
        "  -o FILE, --rejects FILE  as above (rejects: the documents dropped whole)\n"
        "\n",
        f);
    fputs(cli_doc_help, f);
    fputs(cli_common_help, f);
    fputs("\n"
          "  example: dedup --rejects dups.jsonl < kept.jsonl > unique.jsonl\n"
          "  example: dedup decontam --eval eval.jsonl.gz unique.jsonl -o clean.jsonl\n",
          f);
    return code;
}

/* The value of the option at argv[*i], or NULL after printing bad usage. */
static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_bad_usage(prog, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

static int bad_number(const char *opt, const char *v)
{
    return cli_bad_usage(prog, "%s: bad value '%s'", opt, v);
}

/* evals, files and freqs: room for argc names each, freed by the caller. */
static int decontam_main(int argc, char **argv, int first, const char **evals, const char **files,
                         const char **freqs)
{
    DecontamOpts o = { .gram = 13, .window = 200, .min_piece = 200, .max_pieces = 10,
                       .max_doc_freq = 10 };
    size_t n_files = 0, n_evals = 0, n_freqs = 0;
    int rc;
    if (first < argc && !strcmp(argv[first], "count")) { /* the first pass alone, for shards */
        o.count_only = 1;
        first++;
    }
    for (int i = first; i < argc; i++) {
        const char *a = argv[i], *v;
        uint64_t u;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout, 0);
        if (!strcmp(a, "--version")) return cli_version(prog);
        if ((rc = cli_doc_option(prog, &o.doc, argc, argv, &i))) {
            if (rc == 2) return 2;
        } else if ((rc = cli_common_option(prog, &o.common, argc, argv, &i))) {
            if (rc == 2) return 2;
        } else if (!strcmp(a, "--doc-freq")) {
            if (!(v = value(argc, argv, &i))) return 2;
            freqs[n_freqs++] = v;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--rejects") || !strcmp(a, "--removed") ||
                   !strcmp(a, "--eval")) {
            if (!(v = value(argc, argv, &i))) return 2;
            if (a[1] == 'o') o.out = v;
            else if (a[3] == 'e' && a[4] == 'j') o.rejects = v;
            else if (a[2] == 'r') o.removed = v;
            else evals[n_evals++] = v;
        } else if (!strcmp(a, "--gram") || !strcmp(a, "--window") || !strcmp(a, "--min-piece") ||
                   !strcmp(a, "--max-pieces") || !strcmp(a, "--max-doc-freq")) {
            if (!(v = value(argc, argv, &i))) return 2;
            uint64_t lo = !strcmp(a, "--gram") || !strcmp(a, "--max-pieces") ? 1 : 0;
            uint64_t hi = !strcmp(a, "--gram") ? 64 : (uint64_t)1 << 40;
            if (cli_u64(v, lo, hi, &u)) return bad_number(a, v);
            if (!strcmp(a, "--gram")) o.gram = (unsigned)u;
            else if (!strcmp(a, "--window")) o.window = (size_t)u;
            else if (!strcmp(a, "--min-piece")) o.min_piece = (size_t)u;
            else if (!strcmp(a, "--max-pieces")) o.max_pieces = (unsigned)(u > 1000000 ? 1000000 : u);
            else o.max_doc_freq = u;
        } else if (a[0] == '-' && a[1]) {
            return cli_bad_usage(prog, "unknown option %s for decontam", a);
        } else {
            files[n_files++] = a;
        }
    }
    if (!n_evals) return cli_bad_usage(prog, "decontam needs at least one --eval FILE");
    if (n_evals > 64) return cli_bad_usage(prog, "decontam takes at most 64 --eval sets");
    if (o.count_only && (n_freqs || o.rejects || o.removed))
        return cli_bad_usage(prog, "decontam count writes only the counts: no --doc-freq, --rejects or --removed");
    if (n_freqs && !o.max_doc_freq)
        return cli_bad_usage(prog, "--doc-freq goes with --max-doc-freq N > 0 (it says what N counts)");
    o.doc_freq = freqs;
    o.n_doc_freq = n_freqs;
    o.evals = evals;
    o.n_evals = n_evals;
    err_prog(prog);
    out_cleanup_on_signal();
    Err e = { { 0 } };
    DecontamCounts c;
    rc = decontam_run(&o, files, n_files, &c, &e) ? 1 : 0;
    err_warn_summary();
    if (rc) err_print(prog, &e);
    decontam_counts_free(&c);
    return rc;
}

static int run_decontam(int argc, char **argv, int first)
{
    const char **evals = calloc((size_t)argc, sizeof *evals);
    const char **files = calloc((size_t)argc, sizeof *files);
    const char **freqs = calloc((size_t)argc, sizeof *freqs);
    int rc = 1;
    if (!evals || !files || !freqs) fprintf(stderr, "dedup: out of memory\n");
    else rc = decontam_main(argc, argv, first, evals, files, freqs);
    free(evals);
    free(files);
    free(freqs);
    return rc;
}

/* files: room for argc names, freed by the caller. */
static int dedup_main(int argc, char **argv, const char **files)
{
    enum { RUN, SIG, CLUSTER, APPLY } cmd = RUN;
    DedupOpts o = { .mode = MODE_BOTH, .norm = NORM_SIMPLE, .ngram = 5, .threshold = 0.8,
                    .seed = 1 };
    int first = 1;
    if (argc > 1) {
        const char *s = argv[1];
        first = 2;
        if (!strcmp(s, "exact")) o.mode = MODE_EXACT;
        else if (!strcmp(s, "minhash")) o.mode = MODE_NEAR;
        else if (!strcmp(s, "sig")) {
            cmd = SIG; /* sig takes the mode of the run it stands for: sig [exact|minhash] */
            if (argc > 2 && !strcmp(argv[2], "exact")) o.mode = MODE_EXACT, first = 3;
            else if (argc > 2 && !strcmp(argv[2], "minhash")) o.mode = MODE_NEAR, first = 3;
        }
        else if (!strcmp(s, "cluster")) cmd = CLUSTER;
        else if (!strcmp(s, "apply")) cmd = APPLY;
        else first = 1;
    }
    size_t n_files = 0;
    int have_threshold = 0, have_shape = 0, rc;
    uint64_t bands = 14, rows = 8;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i], *v;
        uint64_t u;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout, 0);
        if (!strcmp(a, "--version")) return cli_version(prog);
        if ((rc = cli_doc_option(prog, &o.doc, argc, argv, &i))) {
            if (rc == 2) return 2;
        } else if ((rc = cli_common_option(prog, &o.common, argc, argv, &i))) {
            if (rc == 2) return 2;
        } else if (!strcmp(a, "-o")) {
            if (!(o.out = value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--rejects")) {
            if (!(o.rejects = value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--drop")) {
            if (!(o.drop = value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--normalize")) {
            if (!(v = value(argc, argv, &i))) return 2;
            if (norm_parse(v, &o.norm))
                return cli_bad_usage(prog, "--normalize is simple, nfkc-lower or none, not '%s'", v);
        } else if (!strcmp(a, "--ngram")) {
            if (!(v = value(argc, argv, &i))) return 2;
            if (cli_u64(v, 1, 64, &u)) return bad_number(a, v);
            o.ngram = (unsigned)u;
        } else if (!strcmp(a, "--bands") || !strcmp(a, "--rows")) {
            if (!(v = value(argc, argv, &i))) return 2;
            if (cli_u64(v, 1, MINHASH_MAX_PERM, &u)) return bad_number(a, v);
            if (a[2] == 'b') bands = u;
            else rows = u;
            have_shape = 1;
        } else if (!strcmp(a, "--threshold")) {
            if (!(v = value(argc, argv, &i))) return 2;
            if (cli_double(v, 0.0, 1.0, &o.threshold) || o.threshold <= 0)
                return cli_bad_usage(prog, "--threshold needs a number in (0, 1], not '%s'", v);
            have_threshold = 1;
        } else if (!strcmp(a, "--verify")) {
            /* an optional value: only the two words, so a FILE after --verify stays a FILE */
            o.verify = VERIFY_EXACT;
            if (i + 1 < argc && !verify_parse(argv[i + 1], &o.verify)) i++;
        } else if (!strncmp(a, "--verify=", 9)) {
            if (verify_parse(a + 9, &o.verify))
                return cli_bad_usage(prog, "--verify is exact or estimate, not '%s'", a + 9);
        } else if (!strcmp(a, "--seed")) {
            if (!(v = value(argc, argv, &i))) return 2;
            if (cli_u64(v, 0, UINT64_MAX, &o.seed)) return bad_number(a, v);
        } else if (a[0] == '-' && a[1]) {
            return cli_bad_usage(prog, "unknown option %s", a);
        } else {
            files[n_files++] = a;
        }
    }
    if (bands * rows > MINHASH_MAX_PERM)
        return cli_bad_usage(prog, "--bands x --rows is at most %d", MINHASH_MAX_PERM);
    o.bands = (unsigned)bands;
    o.rows = (unsigned)rows;
    if (have_threshold && !have_shape) minhash_pick(o.threshold, 112, &o.bands, &o.rows);
    if (cmd == APPLY && !o.drop) return cli_bad_usage(prog, "apply needs --drop LIST");
    if (cmd != APPLY && o.drop) return cli_bad_usage(prog, "--drop belongs to dedup apply");
    if (cmd == SIG && !n_files) return cli_bad_usage(prog, "sig needs SHARD files (their names are the order)");
    if (cmd == APPLY && !n_files) return cli_bad_usage(prog, "apply needs SHARD files");
    if ((cmd == SIG || cmd == CLUSTER) && o.rejects)
        return cli_bad_usage(prog, "--rejects belongs to dedup apply in the sharded chain");
    err_prog(prog);
    out_cleanup_on_signal();
    Err e = { { 0 } };
    DedupCounts c;
    /* sig and apply name documents SHARD:LINE: a folder stands for its files,
     * each a shard of its own (dedup_run's reader expands folders itself) */
    DocFiles shards = { 0 };
    if ((cmd == SIG || cmd == APPLY) && doc_files_expand(&shards, files, n_files, NULL, &e)) {
        err_print(prog, &e);
        return 1;
    }
    if ((cmd == SIG || cmd == APPLY) && !shards.n) {
        doc_files_free(&shards);
        fprintf(stderr, "%s: no shard files in the folders given\n", prog);
        return 1;
    }
    switch (cmd) {
    case RUN: rc = dedup_run(&o, files, n_files, &c, &e); break;
    case SIG: rc = dedup_sig(&o, shards.paths, shards.n, &e); break;
    case CLUSTER: rc = dedup_cluster(&o, files, n_files, &c, &e); break;
    default: rc = dedup_apply(&o, shards.paths, shards.n, &c, &e); break;
    }
    doc_files_free(&shards);
    err_warn_summary();
    if (rc) {
        err_print(prog, &e);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "decontam")) return run_decontam(argc, argv, 2);
    const char **files = calloc((size_t)argc, sizeof *files);
    if (!files) {
        fprintf(stderr, "dedup: out of memory\n");
        return 1;
    }
    int rc = dedup_main(argc, argv, files);
    free(files);
    return rc;
}
