/* model/plan.c: parameter counts of the GPT-2 family against their published
 * values, FLOPs and the literature's formulas against hand computations, the
 * Chinchilla optimum against its first-order condition, Levine's verdicts, the
 * --compare table, --json through jansson, --data, --budget, --measure (real
 * steps of tiny shapes: its derived figures against its own step time, never
 * a timing threshold), bad usage (exit 2, one line + try, nothing on
 * stdout) and -j against OpenBLAS's thread limit. Command lines go through
 * args.c's parser into plan_run, as bin/model runs them; plan_run is also
 * called on a PlanOpts filled here.
 * Every run but one passes --rate. */
#include <cblas.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <sys/stat.h>

#include "check.h"
#include "../../model/args.h"
#include "../../model/plan.h"
#include "lib/testutil.h"
#include "tokfile.h"

#define CHECK_NEAR(expected, got, rel)                                                         \
    do {                                                                                       \
        double e_ = (expected), g_ = (got);                                                    \
        char m_[256];                                                                          \
        snprintf(m_, sizeof m_, "expected %s = %.12g, got %.12g", #got, e_, g_);               \
        check_report(fabs(e_ - g_) <= (rel) * fabs(e_), __FILE__, __LINE__, m_);               \
    } while (0)

static PlanEnv test_env(void)
{
    return (PlanEnv){ .micro_batch = 8, .rate = 100e9, .mfu = 0.5, .mem_limit = 1e12 };
}

static GptConfig shape(int L, int D, int H, int V, int T)
{
    return (GptConfig){ .n_layer = L, .n_embd = D, .n_head = H, .n_mlp = 4 * D, .vocab_size = V, .context = T };
}

static void gpt2_counts(void)
{
    PlanEnv env = test_env();
    Err e;
    PlanFacts f;
    struct { int L, D, H; double n; } fam[] = {
        { 12, 768, 12, 124439808 }, { 24, 1024, 16, 354823168 },
        { 36, 1280, 20, 774030080 }, { 48, 1600, 25, 1557611200 },
    };
    for (int i = 0; i < 4; i++) {
        GptConfig c = shape(fam[i].L, fam[i].D, fam[i].H, 50257, 1024);
        CHECK_INT(0, plan_facts(&c, &env, &f, &e));
        CHECK_INT((long long)fam[i].n, (long long)f.n_params);
        CHECK_INT((long long)fam[i].n - (50257LL + 1024) * fam[i].D, (long long)f.n_nonembed);
    }
    /* gpt2 small without embeddings: the 85M of Kaplan-style counts */
    GptConfig c = shape(12, 768, 12, 50257, 1024);
    plan_facts(&c, &env, &f, &e);
    CHECK_INT(85056000, (long long)f.n_nonembed);
    CHECK_INT(64, f.head_dim);
    /* memory is the trainer's own figure plus its batch buffers */
    GptMemory m;
    GptConfig cc = c;
    gpt_config_check(&cc, &e);
    gpt_memory(&cc, 8, 1024, &m);
    CHECK_INT((long long)m.total + 2LL * 4 * 8 * 1024, (long long)f.need_bytes);
}

static void flops_by_hand(void)
{
    /* L 2, D 64, V 100, T 16, MLP 256:
     * N = V D + T D + L (12 D^2 + 13 D) + 2 D = 6400 + 1024 + 2 (49152 + 832) + 128 = 107520;
     * FLOPs = 6 (N - T D) + 12 L D T = 6 * 106496 + 12 * 2 * 64 * 16 = 638976 + 24576 = 663552. */
    PlanEnv env = test_env();
    env.tokens = 1e6;
    Err e;
    PlanFacts f;
    GptConfig c = shape(2, 64, 4, 100, 16);
    CHECK_INT(0, plan_facts(&c, &env, &f, &e));
    CHECK_INT(107520, (long long)f.n_params);
    CHECK_NEAR(663552.0, f.flops_token, 1e-12);
    /* one micro-batch of 8 x 16 tokens a step at 50% of 100 GFLOP/s */
    CHECK_INT(128, (long long)f.batch_tokens);
    CHECK_NEAR(663552.0 * 128 / 50e9, f.step_s, 1e-12);
    CHECK_NEAR(ceil(1e6 / 128), f.steps, 0);
    CHECK_NEAR(6.0 * 107520 * 1e6, f.flops, 1e-12);
    CHECK_STR("--tokens", f.tokens_from);
    /* --hours: tokens = H * 3600 * rate * mfu / FLOPs a token */
    env.tokens = 0;
    env.hours = 2;
    plan_facts(&c, &env, &f, &e);
    CHECK_NEAR(2 * 3600 * 50e9 / 663552.0, f.tokens, 1e-12);
    CHECK_STR("--hours", f.tokens_from);
}

static void literature(void)
{
    /* Chinchilla approach 3 by hand (python3: E + A/N**a + B/D**b) */
    CHECK_NEAR(2.5800478722379934, plan_chinchilla_loss(1e9, 2e10), 1e-12);
    CHECK_NEAR(3.369730929509553, plan_chinchilla_loss(124439808, 2.48879616e9), 1e-12);
    /* Kaplan L(N, D) and L(N) */
    CHECK_NEAR(2.819551639489241, plan_kaplan_loss(85056000, 1e10), 1e-12);
    CHECK_NEAR(2.7964824712188068, plan_kaplan_loss(85056000, 0), 1e-12);

    /* the compute-optimal point: on C = 6ND, and a A / N^a = b B / D^b (dL/dN = 0 along it) */
    double cs[] = { 1e18, 5.76e23, 1e21 };
    for (int i = 0; i < 3; i++) {
        double n, d;
        plan_chinchilla_optimal(cs[i], &n, &d);
        CHECK_NEAR(cs[i], 6 * n * d, 1e-12);
        CHECK_NEAR(CHIN_ALPHA * CHIN_A / pow(n, CHIN_ALPHA), CHIN_BETA * CHIN_B / pow(d, CHIN_BETA), 1e-9);
        double l = plan_chinchilla_loss(n, d);
        CHECK(plan_chinchilla_loss(n * 1.05, d / 1.05) > l);
        CHECK(plan_chinchilla_loss(n / 1.05, d * 1.05) > l);
    }

    /* Levine: the fit and its verdicts */
    CHECK_NEAR(1137.9685749209164, plan_levine_width(36), 1e-12);
    CHECK_NEAR(38.119195620066, plan_levine_depth(1280), 1e-12);
    CHECK_INT(LEVINE_TOO_DEEP, plan_levine_verdict(48, 512));     /* fit: 512 suits 21.6 layers */
    CHECK_INT(LEVINE_TOO_SHALLOW, plan_levine_verdict(6, 2048));  /* fit: 2048 suits 46.6 */
    CHECK_INT(LEVINE_ABOUT_RIGHT, plan_levine_verdict(36, 1280));
    CHECK_STR("too deep", plan_levine_name(LEVINE_TOO_DEEP));
    /* What the paper's abstract says, checked against the quoted fit: GPT-3 (96 x 12288)
     * too deep for its size, and a width of about 30K optimal at 1 trillion parameters. */
    CHECK_INT(LEVINE_TOO_DEEP, plan_levine_verdict(96, 12288));
    double L, D;
    plan_levine_shape(1e12, &L, &D);
    CHECK_NEAR(1e12, 12 * L * D * D, 1e-9);
    CHECK(D > 27000 && D < 33000);
}

/* `model plan ARGS...` as bin/model runs it: args_parse_plan, plan_run and
 * args_report; stdout into *out, stderr into *err (caller frees both). */
static int run(const char *const *args, char **out, char **err)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "plan";
    for (; *args; args++) argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    const char *op = scratch("out.txt"), *ep = scratch("err.txt");
    FILE *o = fopen(op, "w");
    fflush(stderr);
    int saved = dup(2);
    int fd = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    PlanOpts po;
    int rc = args_parse_plan(argc, argv, &po);
    if (rc == ARGS_RUN) {
        Err e = { { 0 } };
        rc = args_report(ARGS_PROG_PLAN, plan_run(&po, o, &e), &e);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(o);
    *out = read_file(op, NULL);
    *err = read_file(ep, NULL);
    return rc;
}

static void compare_table(void)
{
    char *out, *err;
    const char *args[] = { "--compare", "36x1280x20,18x1280x64", "--rate", "100", "--memory", "1T", NULL };
    CHECK_INT(0, run(args, &out, &err));
    CHECK_HAS("36x1280x20", out);
    CHECK_HAS("18x1280x64", out);
    CHECK_HAS("774.03M", out);
    CHECK_HAS("419.84M", out);
    CHECK_HAS("20 (small)", out);
    CHECK_HAS("about right", out);
    CHECK_HAS("too shallow", out);
    CHECK_HAS("Hoffmann et al. 2022", out);
    CHECK_HAS("Kaplan et al. 2020", out);
    CHECK_HAS("arXiv 2006.12467", out);
    CHECK_HAS("0.54x the parameters", out);
    /* the table's rows: one line with both parameter counts side by side */
    const char *p = strstr(out, "\nparameters");
    CHECK(p && strstr(p, "774.03M") && strstr(p, "419.84M") < strchr(p + 1, '\n'));
    CHECK_HAS("2 shapes planned", err);
    free(out);
    free(err);
}

static void json_output(void)
{
    char *out, *err;
    const char *args[] = { "--compare", "12x768x12,24x1024x16", "--rate", "50", "--memory", "1T",
                           "--tokens", "10B", "--json", NULL };
    CHECK_INT(0, run(args, &out, &err));
    json_error_t je;
    json_t *root = json_loads(out, 0, &je);
    CHECK(root != NULL);
    if (root) {
        CHECK_STR("compare", json_string_value(json_object_get(root, "mode")));
        json_t *shapes = json_object_get(root, "shapes");
        CHECK_INT(2, json_array_size(shapes));
        json_t *s0 = json_array_get(shapes, 0), *s1 = json_array_get(shapes, 1);
        CHECK_INT(124439808, json_integer_value(json_object_get(s0, "params")));
        CHECK_INT(354823168, json_integer_value(json_object_get(s1, "params")));
        CHECK_NEAR(1e10, json_real_value(json_object_get(s0, "tokens")), 1e-12);
        json_t *ch = json_object_get(s0, "chinchilla");
        CHECK_NEAR(plan_chinchilla_loss(124439808, 1e10), json_real_value(json_object_get(ch, "loss")), 1e-9);
        CHECK_NEAR(20.0 * 124439808, json_real_value(json_object_get(ch, "tokens_20_per_param")), 1e-9);
        json_t *lv = json_object_get(s0, "levine");
        CHECK_STR("too shallow", json_string_value(json_object_get(lv, "verdict")));
        CHECK_HAS("not checked", json_string_value(json_object_get(lv, "source")));
        CHECK_NEAR(50e9, json_real_value(json_object_get(json_object_get(root, "machine"), "sgemm_flops")), 1e-12);
        json_decref(root);
    }
    free(out);
    free(err);
}

static void data_folder(void)
{
    const char *dir = scratch("data");
    mkdir(dir, 0755);
    char path[512];
    snprintf(path, sizeof path, "%s/train_000000.bin", dir);
    Err e;
    BinWriter *w = binw_open(path, 2, 300, 299, &e);
    CHECK(w != NULL);
    uint32_t ids[1000];
    for (int i = 0; i < 1000; i++) ids[i] = (uint32_t)(i * 7 % 299);
    for (int k = 0; k < 10 && w; k++) binw_write(w, ids, 1000, &e);
    if (w) CHECK_INT(0, binw_close(w, &e));
    snprintf(path, sizeof path, "%s/meta.json", dir);
    const char meta[] = "{\"vocab_size\": 300, \"eot_id\": 299, \"context\": 64}\n";
    write_file(path, meta, sizeof meta - 1);

    char *out, *err;
    const char *args[] = { "--preset", "tiny", "--data", dir, "--rate", "10", "--memory", "1T", "--json", NULL };
    CHECK_INT(0, run(args, &out, &err));
    json_t *root = json_loads(out, 0, NULL);
    CHECK(root != NULL);
    if (root) {
        json_t *s = json_array_get(json_object_get(root, "shapes"), 0);
        CHECK_INT(300, json_integer_value(json_object_get(s, "vocab_size")));
        CHECK_INT(64, json_integer_value(json_object_get(s, "context")));
        CHECK_NEAR(10000, json_real_value(json_object_get(s, "tokens")), 0);
        CHECK_NEAR(1, json_real_value(json_object_get(s, "epochs")), 1e-12);
        CHECK_STR("one epoch of --data", json_string_value(json_object_get(s, "tokens_from")));
        json_decref(root);
    }
    free(out);
    free(err);

    /* a folder without shards: a data error, exit 1, nothing on stdout */
    const char *empty = scratch("empty");
    mkdir(empty, 0755);
    const char *args2[] = { "--data", empty, "--rate", "10", NULL };
    CHECK_INT(1, run(args2, &out, &err));
    CHECK_STR("", out);
    CHECK_HAS("model plan: ", err);
    CHECK_HAS("no training shards", err);
    free(out);
    free(err);
}

static double jnum(json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

/* The measured figures of one shape: positive, and consistent with each other
 * and with the plan's own (tokens a step, steps, FLOPs a token, sgemm rate). */
static void check_measured(json_t *root, json_t *s, int steps, int accum, const char *from)
{
    json_t *m = json_object_get(s, "measured");
    CHECK(m != NULL);
    if (!m) return;
    double step = jnum(m, "step_seconds"), tps = jnum(m, "tokens_per_second");
    CHECK(step > 0 && isfinite(step));
    CHECK(jnum(m, "forward_backward_seconds") > 0 && jnum(m, "adamw_seconds") > 0);
    CHECK_INT(steps, json_integer_value(json_object_get(m, "steps")));
    CHECK_INT(1, json_integer_value(json_object_get(m, "warmup_steps")));
    CHECK_STR(from, json_string_value(json_object_get(m, "tokens_from")));
    CHECK_INT(accum, json_integer_value(json_object_get(s, "accumulation")));
    CHECK_NEAR(accum * jnum(m, "forward_backward_seconds") + jnum(m, "adamw_seconds"), step, 1e-9);
    CHECK_NEAR(jnum(s, "batch_tokens") / step, tps, 1e-9);
    CHECK_NEAR(jnum(s, "steps") * step, jnum(m, "run_seconds"), 1e-9);
    double rate = jnum(json_object_get(root, "machine"), "sgemm_flops");
    CHECK(rate > 0);
    CHECK_NEAR(tps * jnum(s, "flops_per_token") / rate, jnum(m, "mfu"), 1e-9);
    /* the sgemm estimate is still there, unchanged by the measurement */
    CHECK_NEAR(jnum(s, "flops_per_token") * jnum(s, "batch_tokens") / (rate * 0.5), jnum(s, "step_seconds"), 1e-9);
    /* a real forward: at GPT-2's init the loss is about ln V */
    double lnv = log((double)json_integer_value(json_object_get(s, "vocab_size")));
    CHECK(fabs(jnum(m, "loss") - lnv) < 0.5);
}

static void measure(void)
{
    char *out, *err;
    /* random tokens, the sgemm rate measured (the one run without --rate), -j 2 */
    const char *a1[] = { "--layers", "2", "--width", "64", "--heads", "4", "--vocab", "300", "--context", "32",
                         "--micro-batch", "4", "--tokens", "1M", "--hours", "2", "--memory", "1T", "-j", "2",
                         "--measure", "2", "--json", NULL };
    CHECK_INT(0, run(a1, &out, &err));
    json_t *root = json_loads(out, 0, NULL);
    CHECK(root != NULL);
    if (root) {
        json_t *s = json_array_get(json_object_get(root, "shapes"), 0);
        check_measured(root, s, 2, 1, "random");
        json_t *m = json_object_get(s, "measured");
        CHECK_NEAR(2 * 3600.0 * jnum(m, "tokens_per_second"), jnum(m, "tokens_in_hours"), 1e-9);
        CHECK_INT(2, json_integer_value(json_object_get(json_object_get(root, "machine"), "threads")));
        json_decref(root);
    }
    CHECK_HAS("2 steps each measured", err);
    free(out);
    free(err);

    /* two micro-batches a step (--batch), one thread, the default 3 steps */
    const char *a2[] = { "--layers", "1", "--width", "32", "--heads", "2", "--vocab", "100", "--context", "16",
                         "--micro-batch", "2", "--batch", "64", "--rate", "100", "--memory", "1T", "-j", "1",
                         "--measure", "--json", NULL };
    CHECK_INT(0, run(a2, &out, &err));
    root = json_loads(out, 0, NULL);
    CHECK(root != NULL);
    if (root) {
        check_measured(root, json_array_get(json_object_get(root, "shapes"), 0), 3, 2, "random");
        CHECK_NEAR(100e9, jnum(json_object_get(root, "machine"), "sgemm_flops"), 1e-12);
        json_decref(root);
    }
    free(out);
    free(err);

    /* --compare: each shape measured, both times labelled in the table */
    const char *a3[] = { "--compare", "2x64x4,1x32x2", "--vocab", "300", "--context", "32", "--micro-batch", "2",
                         "--rate", "100", "--memory", "1T", "--measure", "1", NULL };
    CHECK_INT(0, run(a3, &out, &err));
    CHECK_HAS("measured: 1 training step after a warm-up", out);
    CHECK_HAS("time a step (sgemm x 50%)", out);
    CHECK_HAS("time a step (measured)", out);
    CHECK_HAS("tokens/s (measured)", out);
    CHECK_HAS("MFU (measured)", out);
    CHECK_HAS("time (measured)", out);
    const char *p = strstr(out, "2x64x4: ");
    CHECK(p && strstr(p, "Measured here:") && strstr(p, "1x32x2: ") && strstr(strstr(p, "1x32x2: "), "Measured here:"));
    CHECK_HAS("2 shapes planned, 1 step each measured", err);
    free(out);
    free(err);

    /* --data: the windows of the folder data_folder() wrote */
    const char *a4[] = { "--layers", "2", "--width", "64", "--heads", "4", "--data", scratch("data"), "--micro-batch", "2",
                         "--rate", "100", "--memory", "1T", "--measure", "1", "--json", NULL };
    CHECK_INT(0, run(a4, &out, &err));
    root = json_loads(out, 0, NULL);
    CHECK(root != NULL);
    if (root) {
        json_t *s = json_array_get(json_object_get(root, "shapes"), 0);
        CHECK_INT(64, json_integer_value(json_object_get(s, "context")));
        check_measured(root, s, 1, 1, "--data");
        json_decref(root);
    }
    free(out);
    free(err);

    /* without --measure there is no measured figure */
    const char *a5[] = { "--preset", "tiny", "--rate", "100", "--memory", "1T", "--json", NULL };
    CHECK_INT(0, run(a5, &out, &err));
    root = json_loads(out, 0, NULL);
    CHECK(root && !json_object_get(json_array_get(json_object_get(root, "shapes"), 0), "measured"));
    json_decref(root);
    free(out);
    free(err);

    /* too big for this machine (whatever --memory says): refused, exit 1, no output */
    const char *a6[] = { "--layers", "200", "--width", "16384", "--heads", "128", "--rate", "100", "--memory", "100T",
                         "--measure", NULL };
    CHECK_INT(1, run(a6, &out, &err));
    CHECK_STR("", out);
    CHECK_HAS("model plan: --measure: 200x16384x128 needs ", err);
    CHECK_HAS("GB to train (micro-batch 8 x context 1024)", err);
    CHECK_HAS("no steps run", err);
    free(out);
    free(err);
}

static void budget(void)
{
    PlanEnv env = test_env();
    GptConfig base = { .vocab_size = 50257, .context = 1024 };
    PlanCandidate *c;
    size_t n;
    Err e;
    CHECK_INT(0, plan_budget(&base, 124e6, 64, &env, &c, &n, &e));
    CHECK(n >= 5);
    int has_gpt2 = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(fabs(c[i].f.n_params - 124e6) <= 0.1 * 124e6);
        CHECK_INT(64, c[i].f.head_dim);
        if (i) CHECK(c[i - 1].score <= c[i].score);
        if (c[i].f.cfg.n_layer == 12 && c[i].f.cfg.n_embd == 768) has_gpt2 = 1;
    }
    CHECK(has_gpt2);
    if (n) CHECK_INT(LEVINE_ABOUT_RIGHT, c[0].f.verdict);
    free(c);
    /* a budget smaller than the embeddings: no shape, and no error */
    CHECK_INT(0, plan_budget(&base, 1e6, 64, &env, &c, &n, &e));
    CHECK_INT(0, n);
    free(c);

    char *out, *err;
    const char *args[] = { "--budget-flops", "1e19", "--rate", "100", "--memory", "1T", NULL };
    CHECK_INT(0, run(args, &out, &err));
    double on, od;
    plan_chinchilla_optimal(1e19, &on, &od);
    char want[64];
    snprintf(want, sizeof want, "N = %.2fM, D = %.2fB", on / 1e6, od / 1e9);
    CHECK_HAS(want, out);
    CHECK_HAS("rank", out);
    CHECK_HAS("about right", out);
    free(out);
    free(err);
}

static void bad_usage(void)
{
    struct { const char *args[8]; const char *msg; } cases[] = {
        { { "--layers", "12", "--width", "770", "--heads", "12" }, "width 770 is not divisible by 12 heads" },
        { { "--preset", "gpt5" }, "unknown preset 'gpt5'" },
        { { "--tokens", "lots" }, "--tokens needs a count" },
        { { "--layers", "0", "--width", "64", "--heads", "1" }, "--layers needs a whole number" },
        { { "--compare", "12x768" }, "is not LAYERSxWIDTHxHEADS" },
        { { "--compare", "12x770x12" }, "not divisible by 12 heads" },
        { { "--layers", "4" }, "go together" },
        { { "--budget", "1M", "--preset", "gpt2" }, "budget mode takes no" },
        { { "--batch", "1000" }, "not a multiple of micro-batch x context" },
        { { "--mfu", "2" }, "--mfu needs a number" },
        { { "--frobnicate", "1" }, "unknown option '--frobnicate'" },
        { { "file.txt" }, "takes no file arguments" },
        { { "--measure", "0" }, "--measure takes a number of steps in 1..1000" },
        { { "--budget", "1M", "--measure" }, "--measure times one shape or --compare's" },
        { { "--device", "gpu" }, "--device is cpu or cuda, not 'gpu'" },
        { { "--precision", "fp16" }, "--precision is fp32 or bf16, not 'fp16'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *args[12];
        int k = 0;
        for (int j = 0; j < 8 && cases[i].args[j]; j++) args[k++] = cases[i].args[j];
        args[k++] = "--rate";
        args[k++] = "1";
        args[k] = NULL;
        char *out, *err;
        CHECK_INT(2, run(args, &out, &err));
        CHECK_STR("", out);
        CHECK_HAS(cases[i].msg, err);
        CHECK_HAS("try 'model plan --help'", err);
        free(out);
        free(err);
    }
    /* --help goes to stdout, exit 0 */
    const char *hp = scratch("help.txt");
    fflush(stdout);
    int saved = dup(1);
    int fd = open(hp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    close(fd);
    char *argv[] = { "plan", "--help", NULL };
    PlanOpts po;
    int rc = args_parse_plan(2, argv, &po);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    CHECK_INT(0, rc);
    char *help = read_file(hp, NULL);
    CHECK_HAS("usage: model plan", help);
    CHECK_HAS("--measure", help);
    CHECK_HAS("--device cpu|cuda", help);
    CHECK_HAS("--precision fp32|bf16", help);
    CHECK_HAS("example", help);
    free(help);
}

/* --device and --precision: auto unless given, parsed into the options. */
static void device_options(void)
{
    PlanOpts o;
    char *a0[] = { "plan", NULL };
    CHECK_INT(ARGS_RUN, args_parse_plan(1, a0, &o));
    CHECK_INT(DEVICE_AUTO, o.dev.device);
    CHECK_INT(DEVICE_AUTO, o.dev.prec);
    char *a1[] = { "plan", "--device", "cuda", "--precision", "bf16", NULL };
    CHECK_INT(ARGS_RUN, args_parse_plan(5, a1, &o));
    CHECK_INT(KERN_CUDA, o.dev.device);
    CHECK_INT(PREC_BF16, o.dev.prec);
    char *a2[] = { "plan", "--device", "cpu", "--precision", "fp32", NULL };
    CHECK_INT(ARGS_RUN, args_parse_plan(5, a2, &o));
    CHECK_INT(KERN_CPU, o.dev.device);
    CHECK_INT(PREC_FP32, o.dev.prec);
}

/* -j and OpenBLAS's thread limit (issue 13, item 2: -j 1000 segfaulted in
 * OpenBLAS): a -j over it is bad usage naming the limit, and the default,
 * every core, stops at it on a machine with more cores. */
static void thread_limit(void)
{
    unsigned limit = gpool_blas_limit();
    CHECK(limit >= 1);
    const char *cfg = openblas_get_config();
    const char *at = cfg ? strstr(cfg, "MAX_THREADS=") : NULL;
    CHECK_INT(at ? atoi(at + strlen("MAX_THREADS=")) : 64, limit);
    CHECK_INT(limit < 2 ? limit : 2, gpool_size(0, 2));
    CHECK_INT(limit, gpool_size(0, 4 * limit)); /* the default on a machine with more cores */
    CHECK_INT(limit, gpool_size(0, limit + 1));
    CHECK_INT(1, gpool_size(1, 4 * limit));
    CHECK_INT(limit, gpool_size(limit + 1, 2));
    char over[16], at_limit[16], want[96];
    snprintf(over, sizeof over, "%u", limit + 1);
    snprintf(at_limit, sizeof at_limit, "%u", limit);
    snprintf(want, sizeof want, "-j %u is more threads than OpenBLAS here is built for: at most %u", limit + 1,
             limit);
    const char *a1[] = { "--preset", "tiny", "--rate", "1", "-j", over, NULL };
    char *out, *err;
    CHECK_INT(2, run(a1, &out, &err));
    CHECK_STR("", out);
    CHECK_HAS(want, err);
    CHECK_HAS("try 'model plan --help'", err);
    free(out);
    free(err);
    const char *a2[] = { "--preset", "tiny", "--rate", "1", "-j", "1000", NULL };
    CHECK_INT(2, run(a2, &out, &err));
    CHECK_HAS("at most", err);
    free(out);
    free(err);
    PlanOpts po;
    char *a3[] = { "plan", "-j", at_limit, NULL };
    CHECK_INT(ARGS_RUN, args_parse_plan(3, a3, &po));
    CHECK_INT(limit, po.common.threads);
    /* train, sample and eval parse -j the same way */
    char *a4[] = { "train", "--data", "d", "-o", "r", "-j", over, NULL };
    TrainOpts to;
    fflush(stderr);
    int saved = dup(2), fd = open("/dev/null", O_WRONLY);
    dup2(fd, 2);
    close(fd);
    int rc_train = args_parse_train(7, a4, &to);
    char *a5[] = { "sample", "run", "-j1000", NULL };
    SampleOpts so;
    int rc_sample = args_parse_sample(3, a5, &so);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    CHECK_INT(2, rc_train);
    CHECK_INT(2, rc_sample);
}

/* plan_run on options filled here, without a command line: the report goes
 * to the FILE given, an error to the Err with the exit status. */
static void opts_direct(void)
{
    PlanOpts o;
    plan_opts_init(&o);
    o.preset = "tiny";
    o.rate = 100;
    o.memory = 1e12;
    o.json = 1;
    o.common.progress = PROGRESS_QUIET;
    const char *op = scratch("direct.txt");
    FILE *f = fopen(op, "w");
    Err e = { { 0 } };
    CHECK_INT(0, plan_run(&o, f, &e));
    fclose(f);
    char *out = read_file(op, NULL);
    json_t *root = out ? json_loads(out, 0, NULL) : NULL;
    CHECK(root != NULL);
    if (root) {
        json_t *s = json_array_get(json_object_get(root, "shapes"), 0);
        CHECK_INT(4, json_integer_value(json_object_get(s, "layers")));
        CHECK_INT(50257, json_integer_value(json_object_get(s, "vocab_size")));
        json_decref(root);
    }
    free(out);
    /* a usage error: exit status 2 and the message in e, nothing printed */
    o.batch = 1000;
    f = fopen(op, "w");
    CHECK_INT(2, plan_run(&o, f, &e));
    fclose(f);
    CHECK_HAS("not a multiple of micro-batch x context", e.msg);
    out = read_file(op, NULL);
    CHECK_STR("", out);
    free(out);
}

int main(void)
{
    gpt2_counts();
    flops_by_hand();
    literature();
    compare_table();
    json_output();
    data_folder();
    measure();
    budget();
    bad_usage();
    device_options();
    thread_limit();
    opts_direct();
    scratch_cleanup();
    return check_done("test_plan");
}
