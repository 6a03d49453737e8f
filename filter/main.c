/* filter: per-document quality decisions (heuristics, PCRE2 rules, the GPT-3
 * classifier). This file parses argv into FilterOpts or TrainOpts and calls
 * filter_run (judging, or measuring for `filter stats`), filter_train or
 * filter_print_rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "filter.h"
#include "iofile.h"

static int usage(FILE *f, int code)
{
    fputs("usage: filter [options] [FILE...]\n"
          "       filter rules [rule options]\n"
          "       filter stats [options] [-o FILE] [FILE...]\n"
          "       filter train --pos FILE --neg FILE [...] -o quality.model\n"
          "\n"
          "Reads documents (JSON Lines or plain text, .gz too; files, folders or stdin), judges each\n"
          "one, and writes the ones it keeps as JSON Lines to stdout or -o FILE, every member\n"
          "passed through. Judged in this order: your PCRE2 rules (--rules-file), the built-in\n"
          "rules (Gopher repetition and quality on by default; C4 and FineWeb line rules with\n"
          "--rules), then the GPT-3 quality classifier (--model). Dropped documents are\n"
          "counted by reason in the summary and, with --rejects FILE, written there as they\n"
          "came in plus \"filter_reason\": the rule's name, and \"filter_value\": what it measured.\n"
          "\n"
          "filter stats takes the same options and input, measures every built-in rule (on\n"
          "or off) on every document, and prints for each rule its threshold, the quantiles\n"
          "of its values (min, 1%, 10%, 50%, 90%, 99%, max), the share of documents that\n"
          "threshold fails and how many it dropped; with -o FILE, each document goes there\n"
          "as it came in with \"filter_stats\": {rule: value...} (and the reason and value a\n"
          "run would reject it with). A command of its own, as 'filter rules' is, because it\n"
          "writes a report, not the kept documents, and because measuring every rule to the\n"
          "end costs time the judging pass saves by stopping at the first rule that fails.\n"
          "\n"
          "  example: filter --rejects dropped.jsonl < raw.jsonl > kept.jsonl\n"
          "  example: filter stats raw.jsonl            (then pick thresholds from the table)\n"
          "  example: filter --preset none --rules c4 --rule c4_min_sentences=3 web.jsonl.gz\n"
          "  example: filter train --pos good.jsonl --neg bad.jsonl -o quality.model\n"
          "           filter --model quality.model --keep pareto:9 --seed 7 raw.jsonl > kept.jsonl\n"
          "\n"
          "Output:\n"
          "  -o FILE              kept documents (default stdout; FILE.gz is compressed)\n"
          "  --rejects FILE       dropped documents with \"filter_reason\" and \"filter_value\",\n"
          "                       and files skipped as binary (\"filter_reason\":\"binary\")\n"
          "                       in their place (default: none)\n"
          "  -o FILE (stats)      each document with its values (default: only the table)\n"
          "Rules (applied left to right; 'filter rules' lists them with their values):\n"
          "  --preset gopher|none gopher (default): the Gopher rules on; none: every rule off,\n"
          "                       for custom alphabets, then add what you want\n"
          "  --rules SET[,SET]    turn on every rule of a set: gopher, c4, fineweb\n"
          "  --rule NAME=VALUE    set a rule's threshold and turn it on (NAME alone: on)\n"
          "  --no-rule NAME       turn a rule off\n"
          "  --rules-file FILE    your rules, one a line: NAME drop-doc|drop-line PATTERN\n"
          "                       (PCRE2, UTF-8; '#' starts a comment line)\n"
          "Classifier:\n"
          "  --model FILE         score with a model from 'filter train'; adds \"quality\"\n"
          "  --keep pareto:A      keep when a Lomax(A) draw > 1 - score (GPT-3; default A=9)\n"
          "  --keep threshold:T   keep when score >= T\n"
          "  --keep all           keep every document, only add the score\n"
          "  --seed N             seed of the pareto draws (default 1)\n"
          "Training (filter train):\n"
          "  --pos FILE, --neg FILE   good and bad examples (each may be given many times)\n"
          "  --test-pos FILE, --test-neg FILE   held-out examples (default: --holdout of\n"
          "                       the training files, chosen by hash of --seed)\n"
          "  -o FILE              the model (required)\n"
          "  --buckets N          hash buckets, a power of two (default 1Mi = 2^20)\n"
          "  --epochs N           passes of Adagrad (default 5)\n"
          "  --lr X               Adagrad step (default 0.5)\n"
          "  --l2 X               L2 penalty per update (default 0)\n"
          "  --holdout F          fraction held out when no test files (default 0.1)\n"
          "  --seed N             shuffling, hashing and hold-out seed (default 1)\n"
          "  --dump-svm PREFIX    also write the features as PREFIX.{train,test}.svm\n"
          "                       (liblinear format, for comparison)\n",
          f);
    fputs(cli_doc_help, f);
    fputs(cli_common_help, f);
    fputs("Exit status: 0 success, 1 data or I/O error, 2 bad usage.\n", f);
    return code;
}

static const char *need(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_bad_usage("filter", "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* --preset, --rules, --rule, --no-rule. 1 taken, 0 not a rule option, 2 bad. */
static int rule_option(HeurConf *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--preset")) {
        if (!(v = need(argc, argv, i))) return 2;
        if (!strcmp(v, "none")) heur_conf_none(c);
        else if (!strcmp(v, "gopher")) heur_conf_default(c);
        else return cli_bad_usage("filter", "--preset is gopher or none, not '%s'", v);
    } else if (!strcmp(a, "--rules")) {
        if (!(v = need(argc, argv, i))) return 2;
        char set[64];
        for (const char *p = v;;) {
            size_t n = strcspn(p, ",");
            if (n >= sizeof set || (snprintf(set, sizeof set, "%.*s", (int)n, p), heur_enable_set(c, set)))
                return cli_bad_usage("filter", "--rules takes sets gopher, c4, fineweb, not '%.*s'", (int)n, p);
            if (!p[n]) break;
            p += n + 1;
        }
    } else if (!strcmp(a, "--rule") || !strcmp(a, "--no-rule")) {
        if (!(v = need(argc, argv, i))) return 2;
        const char *eq = strchr(v, '=');
        size_t n = eq ? (size_t)(eq - v) : strlen(v);
        int r = heur_find(v, n);
        if (r < 0) return cli_bad_usage("filter", "no rule named '%.*s' ('filter rules' lists them)", (int)n, v);
        if (a[2] == 'n') {
            if (eq) return cli_bad_usage("filter", "--no-rule takes a name, not '%s'", v);
            c->on[r] = 0;
            return 1;
        }
        if (eq) {
            if (heur_rules[r].is_flag)
                return cli_bad_usage("filter", "%s is on or off: use --rule %s or --no-rule %s", heur_rules[r].name,
                                     heur_rules[r].name, heur_rules[r].name);
            double x;
            if (cli_double(eq + 1, 0, 1e12, &x))
                return cli_bad_usage("filter", "--rule %s needs a number >= 0, not '%s'", heur_rules[r].name, eq + 1);
            c->v[r] = x;
        }
        c->on[r] = 1;
    } else {
        return 0;
    }
    return 1;
}

static int main_rules(int argc, char **argv)
{
    HeurConf c;
    heur_conf_default(&c);
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(stdout, 0);
        int k = rule_option(&c, argc, argv, &i);
        if (k == 2) return 2;
        if (!k) return cli_bad_usage("filter", "rules: unknown option '%s'", argv[i]);
    }
    filter_print_rules(stdout, &c);
    return fflush(stdout) ? 1 : 0;
}

static int push(const char ***list, size_t *n, const char *v)
{
    const char **p = realloc(*list, (*n + 2) * sizeof *p);
    if (!p) return -1;
    p[(*n)++] = v;
    p[*n] = NULL;
    *list = p;
    return 0;
}

static int main_train(int argc, char **argv)
{
    TrainOpts o = {.log2_buckets = 20, .epochs = 5, .lr = 0.5, .l2 = 0, .holdout = 0.1, .seed = 1};
    const char **lists[4] = {NULL, NULL, NULL, NULL};
    size_t counts[4] = {0, 0, 0, 0};
    static const char *const names[4] = {"--pos", "--neg", "--test-pos", "--test-neg"};
    int rc = 2;
    for (int k = 0; k < 4; k++)
        if (push(&lists[k], &counts[k], NULL)) goto out;
    for (int k = 0; k < 4; k++) counts[k] = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v;
        uint64_t u;
        int k, which = -1;
        for (int j = 0; j < 4; j++)
            if (!strcmp(a, names[j])) which = j;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            rc = usage(stdout, 0);
            goto out;
        } else if (which >= 0) {
            if (!(v = need(argc, argv, &i))) goto out;
            if (push(&lists[which], &counts[which], v)) goto out;
        } else if (!strcmp(a, "-o")) {
            if (!(v = need(argc, argv, &i))) goto out;
            o.out = v;
        } else if (!strcmp(a, "--buckets")) {
            if (!(v = need(argc, argv, &i))) goto out;
            if (cli_u64(v, 2, (uint64_t)1 << 30, &u) || (u & (u - 1))) {
                cli_bad_usage("filter", "--buckets needs a power of two from 2 to 2^30 (e.g. 1Mi), not '%s'", v);
                goto out;
            }
            o.log2_buckets = 0;
            while (((uint64_t)1 << o.log2_buckets) < u) o.log2_buckets++;
        } else if (!strcmp(a, "--epochs")) {
            if (!(v = need(argc, argv, &i))) goto out;
            if (cli_u64(v, 1, 1000, &u)) {
                cli_bad_usage("filter", "--epochs needs 1..1000, not '%s'", v);
                goto out;
            }
            o.epochs = (int)u;
        } else if (!strcmp(a, "--lr") || !strcmp(a, "--l2") || !strcmp(a, "--holdout")) {
            if (!(v = need(argc, argv, &i))) goto out;
            double x, hi = !strcmp(a, "--holdout") ? 0.9 : 100;
            if (cli_double(v, 0, hi, &x) || (!strcmp(a, "--lr") && x <= 0)) {
                cli_bad_usage("filter", "%s needs a number in %s, not '%s'", a,
                              hi < 1 ? "[0, 0.9]" : "(0, 100]", v);
                goto out;
            }
            *(!strcmp(a, "--lr") ? &o.lr : !strcmp(a, "--l2") ? &o.l2 : &o.holdout) = x;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = need(argc, argv, &i))) goto out;
            if (cli_u64(v, 0, UINT64_MAX, &o.seed)) {
                cli_bad_usage("filter", "--seed needs a whole number, not '%s'", v);
                goto out;
            }
        } else if (!strcmp(a, "--dump-svm")) {
            if (!(v = need(argc, argv, &i))) goto out;
            o.dump_svm = v;
        } else if ((k = cli_doc_option("filter", &o.doc, argc, argv, &i)) ||
                   (k = cli_common_option("filter", &o.common, argc, argv, &i))) {
            if (k == 2) goto out;
        } else {
            cli_bad_usage("filter", "train: unknown option or argument '%s'", a);
            goto out;
        }
    }
    if (!counts[0] || !counts[1]) {
        cli_bad_usage("filter", "train needs --pos FILE and --neg FILE");
        goto out;
    }
    if (!o.out) {
        cli_bad_usage("filter", "train needs -o MODEL");
        goto out;
    }
    if ((counts[2] == 0) != (counts[3] == 0)) {
        cli_bad_usage("filter", "give both --test-pos and --test-neg, or neither");
        goto out;
    }
    o.pos = lists[0], o.neg = lists[1], o.test_pos = lists[2], o.test_neg = lists[3];
    out_cleanup_on_signal();
    err_prog("filter");
    Err e = {{0}};
    rc = filter_train(&o, &e) ? 1 : 0;
    err_warn_summary();
    if (rc) err_print("filter", &e);
out:
    for (int k = 0; k < 4; k++) free(lists[k]);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "rules")) return main_rules(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "train")) return main_train(argc, argv);
    FilterOpts o = {.keep = KEEP_PARETO, .keep_value = 9, .seed = 1};
    o.stats = argc > 1 && !strcmp(argv[1], "stats");
    heur_conf_default(&o.heur);
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    if (!inputs) return 1;
    size_t n_in = 0;
    int rc = 2, keep_given = 0;
    for (int i = 1 + o.stats; i < argc; i++) {
        const char *a = argv[i], *v;
        int k;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            rc = usage(stdout, 0);
            goto out;
        } else if (o.stats && !strcmp(a, "--rejects")) {
            cli_bad_usage("filter", "stats writes no rejects: -o FILE gets every document with its values and reason");
            goto out;
        } else if (!strcmp(a, "--version")) {
            rc = cli_version("filter");
            goto out;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--rejects") || !strcmp(a, "--rules-file") ||
                   !strcmp(a, "--model")) {
            if (!(v = need(argc, argv, &i))) goto out;
            if (!strcmp(a, "-o")) o.out = v;
            else if (!strcmp(a, "--rejects")) o.rejects = v;
            else if (!strcmp(a, "--rules-file")) o.rules_file = v;
            else o.model = v;
        } else if (!strcmp(a, "--keep")) {
            if (!(v = need(argc, argv, &i))) goto out;
            keep_given = 1;
            if (!strcmp(v, "all")) o.keep = KEEP_ALL;
            else if (!strncmp(v, "pareto:", 7) && !cli_double(v + 7, 1e-3, 1e6, &o.keep_value)) o.keep = KEEP_PARETO;
            else if (!strcmp(v, "pareto")) o.keep = KEEP_PARETO, o.keep_value = 9;
            else if (!strncmp(v, "threshold:", 10) && !cli_double(v + 10, 0, 1, &o.keep_value))
                o.keep = KEEP_THRESHOLD;
            else {
                cli_bad_usage("filter", "--keep is pareto:ALPHA (> 0), threshold:T (0..1) or all, not '%s'", v);
                goto out;
            }
        } else if (!strcmp(a, "--seed")) {
            if (!(v = need(argc, argv, &i))) goto out;
            if (cli_u64(v, 0, UINT64_MAX, &o.seed)) {
                cli_bad_usage("filter", "--seed needs a whole number, not '%s'", v);
                goto out;
            }
        } else if ((k = rule_option(&o.heur, argc, argv, &i)) || (k = cli_doc_option("filter", &o.doc, argc, argv, &i)) ||
                   (k = cli_common_option("filter", &o.common, argc, argv, &i))) {
            if (k == 2) goto out;
        } else if (a[0] == '-' && a[1]) {
            cli_bad_usage("filter", "unknown option '%s'", a);
            goto out;
        } else {
            inputs[n_in++] = a;
        }
    }
    if (keep_given && !o.model) {
        cli_bad_usage("filter", "--keep needs --model");
        goto out;
    }
    o.inputs = inputs;
    o.n_inputs = n_in;
    out_cleanup_on_signal();
    err_prog("filter");
    Err e = {{0}};
    rc = filter_run(&o, &e) ? 1 : 0;
    err_warn_summary();
    if (rc) err_print("filter", &e);
out:
    free(inputs);
    return rc;
}
