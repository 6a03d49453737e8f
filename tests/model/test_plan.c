/* model/plan.c: parameter counts of the GPT-2 family against their published
 * values, FLOPs and the literature's formulas against hand computations, the
 * Chinchilla optimum against its first-order condition, Levine's verdicts, the
 * --compare table, --json through jansson, --data, --budget, --measure (real
 * steps of tiny shapes: its derived figures against its own step time, never
 * a timing threshold), bad usage (exit 2, one line + try, nothing on
 * stdout) and -j against OpenBLAS's thread limit. GPU plans (--gpu NAME,
 * without CUDA): the CUDA backend's sizes, memory by part against the
 * trainer's layout, heads against attention memory in bf16 and fp32, what does
 * not fit and the flags that make it fit (replanned with them), the table and
 * its names, --gpu-memory. Command lines go through args.c's parser into
 * plan_run, as bin/model runs them; plan_run is also called on a PlanOpts
 * filled here. Every CPU run but one passes --rate. */
#include <cblas.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <sys/stat.h>

#include "check.h"
#include "../../model/args.h"
#include "../../model/plan.h"
#include "../../model/dist.h"
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
        rc = args_report(ARGS_PROG_PLAN, ARGS_PROG_PLAN, plan_run(&po, o, &e), &e);
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

/* The table stays aligned when a cell is wider than the usual 18 columns
 * ("n/a: outside its fit", "about right (extrap.)"): in every row of the
 * table, each shape's cell starts where its name starts in the first row,
 * after two spaces. */
static void compare_aligned(void)
{
    char *out, *err;
    const char *args[] = { "--compare", "4x128x4,2x192x4,8x96x4", "--micro-batch", "16", "--rate", "100",
                           "--memory", "64G", NULL };
    CHECK_INT(0, run(args, &out, &err));
    CHECK_HAS("n/a: outside its fit", out);
    CHECK_HAS("about right (extrap.)", out);
    const char *first = strstr(out, "\nshape (layers x width x heads)");
    CHECK(first != NULL);
    if (first) {
        first++;
        const char *names[] = { "4x128x4", "2x192x4", "8x96x4" };
        size_t col[3];
        for (int k = 0; k < 3; k++) {
            const char *q = strstr(first, names[k]);
            col[k] = q ? (size_t)(q - first) : 0;
        }
        int rows = 0, bad = 0;
        for (const char *l = first; *l && *l != '\n'; l += strcspn(l, "\n") + 1) {
            size_t len = strcspn(l, "\n");
            int ok = 1;
            for (int k = 0; k < 3; k++)
                ok = ok && col[k] >= 2 && col[k] < len && l[col[k] - 1] == ' ' && l[col[k] - 2] == ' ' &&
                     l[col[k]] != ' ';
            if (!ok && !bad++) fprintf(stderr, "misaligned row: %.*s\n", (int)len, l);
            rows++;
        }
        CHECK(rows >= 25);
        CHECK_INT(0, bad);
    }
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

/* ---- GPU plans ---- */

static PlanEnv gpu_env_for(const char *gpu, KernPrec prec)
{
    Err e = { { 0 } };
    const PlanGpu *g = plan_gpu_find(gpu, &e);
    CHECK(g != NULL);
    PlanEnv env = { .micro_batch = 8, .gpu = 1, .prec = prec, .gpu_name = g ? g->name : "?",
                    .gpu_overhead = KERN_CUDA_OVERHEAD, .mfu = PLAN_GPU_FP32_MFU, .parts = prec == PREC_BF16,
                    .rate_from = "test",
                    .mem_from = "test" };
    env.vendor_rate = g ? (prec == PREC_BF16 ? g->bf16_tflops : g->fp32_tflops) * 1e12 : 1e12;
    env.rate = env.vendor_rate * PLAN_GPU_MATMUL_SHARE;
    env.mem_limit = g ? g->mem_gb * 1073741824.0 : 1e10;
    env.max_head_dim = g ? kern_cuda_flash_max_head_dim((size_t)g->smem_kb * 1024, g->hopper) : 128;
    return env;
}

static double r256(double bytes) { return ceil(bytes / 256) * 256; }

/* kern_cuda_sizes.c: what the CUDA backend's size ops return, without a GPU. */
static void gpu_sizes(void)
{
    Kern k;
    kern_cuda_sizes(&k, PREC_BF16);
    CHECK_INT(KERN_CUDA, k.device);
    CHECK_INT(2, kern_x_bytes(&k));
    CHECK_INT(128, k.max_head_dim);
    /* bf16: a log-sum-exp a row; fp32: the (T,T) probabilities */
    CHECK_INT(8 * 12 * 1024, k.ops->attention_state(&k, 8, 1024, 12));
    CHECK_INT(8 * 12 * 1024, k.ops->attention_scratch(&k, 8, 1024, 12));
    CHECK_INT(0, k.ops->matmul_scratch(&k, 8192, 768, 50304));
    Kern k32;
    kern_cuda_sizes(&k32, PREC_FP32);
    CHECK_INT(4, kern_x_bytes(&k32));
    CHECK_INT(8LL * 12 * 1024 * 1024, (long long)k32.ops->attention_state(&k32, 8, 1024, 12));
    CHECK_INT(2LL * 8 * 12 * 1024 * 1024, (long long)k32.ops->attention_scratch(&k32, 8, 1024, 12));
    /* the workspace: fp32's largest scratch is the attention's 7 (B,T,C) floats,
     * grown by a quarter, whatever the heads; bf16's is the attention
     * backward's dQ sums (B,T,C floats) after its counters (a head's 16 query
     * tiles times 4 warps, and one), grown by a quarter */
    size_t n = 8 * 1024 * 768;
    size_t w32 = kern_cuda_workspace_bytes(PREC_FP32, 8, 1024, 768, 12);
    size_t w16 = kern_cuda_workspace_bytes(PREC_BF16, 8, 1024, 768, 12);
    CHECK_INT((long long)(KERN_CUDA_LT_WORKSPACE + 7 * n * 4 + 7 * n * 4 / 4 + 8 * 1024 * 4), (long long)w32);
    CHECK_INT((long long)w32, (long long)kern_cuda_workspace_bytes(PREC_FP32, 8, 1024, 768, 48));
    CHECK_INT(1 + 8 * 12 * 16 * 4, (long long)kern_cuda_flash_counters(8, 1024, 12));
    size_t f16 = (1 + 8 * 12 * 16 * 4) * 4, f48 = (1 + 8 * 48 * 16 * 4) * 4;
    f16 = (f16 + 255) / 256 * 256 + n * 4, f48 = (f48 + 255) / 256 * 256 + n * 4;
    CHECK_INT((long long)f16, (long long)kern_cuda_flash_scratch(8, 1024, 768, 12));
    /* dQ's sums lie a float4 a lane: whole 64-row tiles and 8-column blocks,
     * so T 130 takes 3 tiles and heads of 20 dimensions 24 columns */
    CHECK_INT(8LL * 1024 * 768 * 4, (long long)kern_cuda_flash_sums(8, 1024, 768, 12));
    CHECK_INT(2LL * 3 * (3 * 64) * 24 * 4, (long long)kern_cuda_flash_sums(2, 130, 60, 3));
    CHECK_INT((long long)(KERN_CUDA_LT_WORKSPACE + f16 + f16 / 4 + 8 * 1024 * 2), (long long)w16);
    CHECK_INT((long long)(KERN_CUDA_LT_WORKSPACE + f48 + f48 / 4 + 8 * 1024 * 2),
              (long long)kern_cuda_workspace_bytes(PREC_BF16, 8, 1024, 768, 48));
    CHECK_INT((long long)w16, (long long)k.ops->workspace_bytes(&k, 8, 1024, 768, 12));
}

/* A GPU plan's memory is the sum of its parts; each part is the trainer's own
 * (gpt_memory_for on the CUDA sizes), and the activations are the layout's
 * arrays counted by hand for a shape where no array needs rounding. */
static void gpu_memory_parts(void)
{
    KernPrec precs[] = { PREC_BF16, PREC_FP32 };
    for (int i = 0; i < 2; i++) {
        for (int rc = 0; rc < 2; rc++) {
            PlanEnv env = gpu_env_for("h100-sxm", precs[i]);
            env.recompute = rc;
            GptConfig c = shape(12, 768, 12, 50257, 1024);
            PlanFacts f;
            Err e;
            CHECK_INT(0, plan_facts(&c, &env, &f, &e));
            double np = (double)gpt_n_params(&f.cfg);
            CHECK_NEAR(4 * np, f.master_bytes, 0);
            CHECK_NEAR(precs[i] == PREC_BF16 ? 2 * np : 0, f.copy_bytes, 0);
            CHECK_INT((long long)(f.master_bytes + f.copy_bytes), (long long)f.mem.params);
            CHECK_NEAR(4 * np, (double)f.mem.grads, 0);
            CHECK_NEAR(8 * np, (double)f.mem.adam, 0);
            CHECK_NEAR((double)KERN_CUDA_OVERHEAD, f.overhead_bytes, 0);
            CHECK_NEAR(f.master_bytes + f.copy_bytes + f.mem.grads + f.mem.adam + f.mem.acts + f.mem.scratch +
                           f.overhead_bytes,
                       f.need_bytes, 0);
            Kern k;
            kern_cuda_sizes(&k, precs[i]);
            GptMemory m;
            gpt_memory_for(&k, &f.cfg, 8, 1024, GPT_TRAIN | (rc ? GPT_RECOMPUTE : 0), &m);
            CHECK_INT((long long)m.params, (long long)f.mem.params);
            CHECK_INT((long long)m.acts, (long long)f.mem.acts);
            CHECK_INT((long long)m.scratch, (long long)f.mem.scratch);
            CHECK_NEAR((double)m.total + KERN_CUDA_OVERHEAD, f.need_bytes, 0);
            CHECK(m.scratch >= kern_cuda_workspace_bytes(precs[i], 8, 1024, 768, 12));
            /* the attention's two arrays: state (L, ...) and the scratch every layer shares */
            double att = precs[i] == PREC_BF16
                             ? r256(12.0 * 8 * 12 * 1024 * 4) + r256(8.0 * 12 * 1024 * 4)
                             : r256(12.0 * 8 * 12 * 1024 * 1024 * 4) + r256(2.0 * 8 * 12 * 1024 * 1024 * 4);
            CHECK_NEAR(att, f.att_bytes, 0);
        }
    }
    /* the activations by hand: L 2, C 64, NH 4, MLP 256, V 64, B 2, T 32 (N 64 rows):
     * every array a multiple of 256 bytes, bf16 X arrays, float32 statistics */
    PlanEnv env = gpu_env_for("h100-sxm", PREC_BF16);
    env.micro_batch = 2;
    GptConfig c = shape(2, 64, 4, 64, 32);
    PlanFacts f;
    Err e;
    CHECK_INT(0, plan_facts(&c, &env, &f, &e));
    double N = 64, L = 2, C = 64, M = 256, Vp = 64;
    double x = N * C * (1 + L * (1 + 3 + 1 + 1 + 1 + 1) + 1) + L * N * M * 2 + N * Vp; /* encoded..res3, lnf; fch, gelu; logits */
    double fl = 4 * L * N + 2 * N + N + L * 2 * 4 * 32;                           /* ln stats, lnf stats, losses, LSE */
    CHECK_NEAR(2 * x + 4 * fl + 2 * N * 4, (double)f.mem.acts, 0);                  /* + the ids and targets */
}

/* In bf16 the heads cost no attention memory (flash attention keeps a
 * log-sum-exp a row, never (T,T)); in fp32 they cost the probabilities. */
static void gpu_heads(void)
{
    KernPrec precs[] = { PREC_BF16, PREC_FP32 };
    for (int i = 0; i < 2; i++) {
        PlanEnv env = gpu_env_for("h200", precs[i]);
        PlanFacts f[3];
        int heads[3] = { 6, 12, 48 };
        Err e;
        for (int h = 0; h < 3; h++) {
            GptConfig c = shape(12, 768, heads[h], 50257, 1024);
            CHECK_INT(0, plan_facts(&c, &env, &f[h], &e));
        }
        for (int h = 1; h < 3; h++) {
            /* everything but the attention's arrays is the same bytes, but in
             * bf16 the counters of the backward's scratch (a quarter more) */
            double ctr = precs[i] == PREC_BF16 ? 5.0 * (kern_cuda_flash_counters(8, 1024, heads[h]) -
                                                        kern_cuda_flash_counters(8, 1024, heads[0]))
                                               : 0;
            CHECK(fabs(f[h].need_bytes - f[h].att_bytes - (f[0].need_bytes - f[0].att_bytes) - ctr) <= 512);
            double dh = heads[h] - heads[0], grow = f[h].need_bytes - f[0].need_bytes;
            if (precs[i] == PREC_BF16) /* 13 (B,NH,T) float arrays: a row each, not T; the counters */
                CHECK(grow <= 13 * 8 * dh * 1024 * 4 + ctr + 512);
            else /* the probabilities: 12 layers of (B,NH,T,T) kept and 2 of scratch */
                CHECK_NEAR(14 * 8 * dh * 1024 * 1024 * 4, grow, 1e-9);
        }
    }
    /* the report says so, and does not blame the heads for memory in bf16 */
    char *out, *err;
    const char *a1[] = { "--gpu", "h200", "--layers", "12", "--width", "768", "--heads", "48", NULL };
    CHECK_INT(0, run(a1, &out, &err));
    CHECK_HAS("no\n    (T,T) probabilities, so the heads cost no attention memory", out);
    CHECK(!strstr(out, "of attention probabilities"));
    CHECK_HAS("of which attention: LSE", out);
    free(out);
    free(err);
    const char *a2[] = { "--gpu", "h200", "--layers", "12", "--width", "768", "--heads", "48", "--precision", "fp32",
                         NULL };
    CHECK_INT(0, run(a2, &out, &err));
    CHECK_HAS("of attention probabilities", out);
    CHECK_HAS("fp32 attention keeps the (T,T) probabilities", out);
    free(out);
    free(err);
    /* heads wider than the bf16 attention takes: refused, as model train refuses them */
    PlanEnv env = gpu_env_for("h200", PREC_BF16);
    GptConfig c = shape(2, 512, 2, 50257, 1024);
    PlanFacts fw;
    Err e;
    CHECK_INT(0, plan_facts(&c, &env, &fw, &e));
    CHECK_INT(FIT_NO, fw.fit);
    CHECK(fw.head_too_wide && !fw.fix.found);
    /* the attention's shared memory: heads of 128 run on an A100 and an H200,
     * not on a GPU of 99 KB a block, where model train refuses them */
    CHECK_INT(128, gpu_env_for("a100-80gb", PREC_BF16).max_head_dim);
    CHECK_INT(128, env.max_head_dim);
    PlanEnv ada = gpu_env_for("rtx4090", PREC_BF16);
    CHECK_INT(96, ada.max_head_dim);
    GptConfig c128 = shape(2, 512, 4, 50257, 1024), c96 = shape(2, 384, 4, 50257, 1024);
    CHECK_INT(0, plan_facts(&c128, &ada, &fw, &e));
    CHECK(fw.head_too_wide && fw.fit == FIT_NO);
    CHECK_INT(0, plan_facts(&c96, &ada, &fw, &e));
    CHECK(!fw.head_too_wide && fw.fit == FIT_YES);
    const char *a128[] = { "--gpu", "rtx4090", "--layers", "2", "--width", "512", "--heads", "4", NULL };
    CHECK_INT(0, run(a128, &out, &err));
    CHECK_HAS("the GPU's bf16 attention takes 1 to 96 on this GPU (128 on\n    GPUs with more shared memory", out);
    CHECK_HAS("NO: heads too wide", out);
    CHECK(!strstr(out, "Nor does it fit"));
    free(out);
    free(err);
    /* too wide and too large: both said (more heads alone would not make it fit) */
    const char *both[] = { "--gpu", "rtx4090", "--layers", "48", "--width", "2048", "--heads", "16", NULL };
    CHECK_INT(0, run(both, &out, &err));
    CHECK_HAS("takes 1 to 96 on this GPU", out);
    CHECK_HAS("Nor does it fit the RTX 4090's 24.00 GiB: it needs", out);
    free(out);
    free(err);
    env.prec = PREC_FP32;
    CHECK_INT(0, plan_facts(&c, &env, &fw, &e));
    CHECK_INT(FIT_YES, fw.fit);
}

static json_t *run_json(const char *const *args, int *rc)
{
    char *out, *err;
    *rc = run(args, &out, &err);
    json_t *root = json_loads(out, 0, NULL);
    free(out);
    free(err);
    return root;
}

static json_t *shape0_memory(json_t *root)
{
    return json_object_get(json_array_get(json_object_get(root, "shapes"), 0), "memory_bytes");
}

/* Re-plan with the flags a plan proposed: it must fit, with the memory the
 * proposal said. */
static void replan(const char *const *base, const char *flags, json_t *fix)
{
    const char *args[32];
    char buf[128];
    int k = 0;
    for (; base[k]; k++) args[k] = base[k];
    snprintf(buf, sizeof buf, "%s", flags);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t && k < 30; t = strtok_r(NULL, " ", &save)) args[k++] = t;
    args[k++] = "--json";
    args[k] = NULL;
    int rc;
    json_t *root = run_json(args, &rc);
    CHECK_INT(0, rc);
    CHECK(root != NULL);
    if (!root) return;
    json_t *m = shape0_memory(root), *s = json_array_get(json_object_get(root, "shapes"), 0);
    CHECK_STR("yes", json_string_value(json_object_get(m, "fits")));
    double total = json_number_value(json_object_get(m, "total"));
    double limit = json_number_value(json_object_get(json_object_get(root, "machine"), "memory_limit_bytes"));
    CHECK(total <= limit);
    CHECK_NEAR(json_number_value(json_object_get(fix, "total")), total, 0);
    CHECK_NEAR(json_number_value(json_object_get(fix, "batch_tokens")), jnum(s, "batch_tokens"), 0);
    CHECK_NEAR(json_number_value(json_object_get(fix, "accumulation")), jnum(s, "accumulation"), 0);
    json_decref(root);
}

/* --ranks N --zero 1: a rank's AdamW moments are the largest of the slices
 * model train --zero 1 cuts (dist_slices), the rest is unchanged; said in the
 * reasons; a GPU plan likewise. */
static void zero_ranks(void)
{
    GptConfig c = shape(6, 384, 6, 50257, 256);
    PlanEnv env = { .micro_batch = 8, .rate = 1e11, .mfu = 0.5, .mem_limit = 1e12 };
    PlanFacts whole, sliced;
    Err e;
    CHECK_INT(0, plan_facts(&c, &env, &whole, &e));
    env.zero_ranks = 3;
    CHECK_INT(0, plan_facts(&c, &env, &sliced, &e));
    Dist d = { .size = 3 };
    size_t lo[4], big = 0;
    dist_slices(&d, gpt_n_params(&sliced.cfg), lo);
    for (int r = 0; r < 3; r++)
        if (lo[r + 1] - lo[r] > big) big = lo[r + 1] - lo[r];
    CHECK_NEAR(8.0 * (double)big, (double)sliced.mem.adam, 0);
    CHECK_NEAR((double)whole.mem.adam - (double)sliced.mem.adam, whole.need_bytes - sliced.need_bytes, 0);
    CHECK_NEAR((double)whole.mem.params, (double)sliced.mem.params, 0);
    char *out, *err;
    const char *a[] = { "--preset", "small", "--rate", "100", "--memory", "8G", "--ranks", "4", "--zero", "1", NULL };
    CHECK_INT(0, run(a, &out, &err));
    CHECK_HAS("Memory a rank, with --zero 1 over 4 ranks (mpirun -np 4)", out);
    free(out);
    free(err);
    /* a GPU plan: the same slice a GPU, the need less by the moments not kept */
    PlanEnv genv = { .micro_batch = 8, .gpu = 1, .prec = PREC_BF16, .rate = 5e14, .mem_limit = 1e12, .parts = 1 };
    CHECK_INT(0, plan_facts(&c, &genv, &whole, &e));
    genv.zero_ranks = 3;
    CHECK_INT(0, plan_facts(&c, &genv, &sliced, &e));
    CHECK_NEAR(8.0 * (double)big, (double)sliced.mem.adam, 0);
    CHECK_NEAR((double)whole.mem.adam - (double)sliced.mem.adam, whole.need_bytes - sliced.need_bytes, 0);
    const char *g[] = { "--gpu", "h200", "--preset", "gpt2-xl", "--ranks", "2", "--zero", "1", NULL };
    CHECK_INT(0, run(g, &out, &err));
    CHECK_HAS("Memory a GPU, with --zero 1 over 2 ranks (mpirun -np 2)", out);
    free(out);
    free(err);
}

/* What does not fit a 24 GB card, why, and what makes it fit. */
static void gpu_fit(void)
{
    /* gpt2-xl: 16 bytes a parameter of float32 state and 2 of the bf16 copy
     * are more than the card before any activation; without the float32
     * master weights (14 bytes a parameter) micro-batch 1 with --recompute
     * fits, and the plan proposes it */
    char *out, *err;
    const char *xl[] = { "--gpu", "rtx4090", "--preset", "gpt2-xl", NULL };
    const char *xl_json[] = { "--gpu", "rtx4090", "--preset", "gpt2-xl", "--json", NULL };
    CHECK_INT(0, run(xl, &out, &err));
    CHECK_HAS("Fits with --recompute --master-weights off --micro-batch 1 --batch 8192", out);
    CHECK_HAS("--master-weights off keeps the weights in bf16 alone", out);
    free(out);
    free(err);
    int rc;
    json_t *root = run_json(xl_json, &rc);
    CHECK_INT(0, rc);
    if (root) {
        json_t *fix = json_object_get(shape0_memory(root), "fix");
        CHECK(json_is_false(json_object_get(fix, "master_weights")));
        CHECK_INT(1, json_integer_value(json_object_get(fix, "micro_batch")));
        replan(xl, json_string_value(json_object_get(fix, "flags")), fix);
        json_decref(root);
    }
    PlanEnv env = gpu_env_for("rtx4090", PREC_BF16);
    GptConfig c = shape(48, 1600, 25, 50257, 1024);
    PlanFacts f;
    Err e;
    CHECK_INT(0, plan_facts(&c, &env, &f, &e));
    CHECK_INT(FIT_NO, f.fit);
    CHECK(f.fix.found && f.fix.no_master && f.fix.recompute);
    CHECK_NEAR(18.0 * gpt_n_params(&f.cfg) + KERN_CUDA_OVERHEAD, f.fix.state_bytes, 1e-12);
    CHECK(f.fix.state_bytes > env.mem_limit);
    CHECK_NEAR(24.0 * 1073741824, env.mem_limit, 0);
    /* with it asked for, the layout has no float32 weights: 4 bytes a parameter less */
    PlanEnv off = env;
    off.no_master = 1;
    PlanFacts f2;
    CHECK_INT(0, plan_facts(&c, &off, &f2, &e));
    CHECK_NEAR(f.need_bytes - 4.0 * gpt_n_params(&f.cfg), f2.need_bytes, 1e-12);
    CHECK_NEAR(0, f2.master_bytes, 0);
    /* in fp32 there is no such way out: nothing fits */
    const char *xl32[] = { "--gpu", "rtx4090", "--preset", "gpt2-xl", "--precision", "fp32", NULL };
    CHECK_INT(0, run(xl32, &out, &err));
    CHECK_HAS("Nothing fits the RTX 4090's 24.00 GiB: even micro-batch 1 with --recompute needs", out);
    CHECK_HAS("NO: nothing fits", out);
    free(out);
    free(err);
    /* a 2.4B shape is too large before any activation, even at 14 bytes a parameter */
    const char *huge[] = { "--gpu", "rtx4090", "--layers", "48", "--width", "2048", "--heads", "32", NULL };
    CHECK_INT(0, run(huge, &out, &err));
    CHECK_HAS("Nothing fits the RTX 4090's 24.00 GiB. Float32 master weights, gradients and AdamW\n"
              "    moments are 16 bytes a parameter", out);
    CHECK_HAS("bf16 working copy 2 more", out);
    CHECK_HAS("No --micro-batch, --recompute\n    or --master-weights off (14 bytes a parameter) changes that", out);
    free(out);
    free(err);
    const char *huge32[] = { "--gpu", "rtx4090", "--layers", "48", "--width", "2048", "--heads", "16", "--precision",
                             "fp32", NULL };
    CHECK_INT(0, run(huge32, &out, &err));
    CHECK_HAS("No --micro-batch or --recompute\n    changes that", out);
    free(out);
    free(err);

    /* gpt2-large: --recompute at micro-batch 8 fits; the plan with it says so */
    const char *large[] = { "--gpu", "rtx4090", "--preset", "gpt2-large", NULL };
    const char *large_json[] = { "--gpu", "rtx4090", "--preset", "gpt2-large", "--json", NULL };
    root = run_json(large_json, &rc);
    CHECK_INT(0, rc);
    CHECK(root != NULL);
    if (root) {
        json_t *m = shape0_memory(root), *fix = json_object_get(m, "fix");
        CHECK_STR("no", json_string_value(json_object_get(m, "fits")));
        CHECK(json_is_true(json_object_get(fix, "found")));
        CHECK_STR("--recompute", json_string_value(json_object_get(fix, "flags")));
        CHECK_NEAR(24.0 * 1073741824, jnum(json_object_get(root, "machine"), "memory_limit_bytes"), 1e-9);
        replan(large, json_string_value(json_object_get(fix, "flags")), fix);
        json_decref(root);
    }
    /* at micro-batch 16 even --recompute is too much: a smaller micro-batch,
     * accumulated to the same 16384-token step */
    const char *l16[] = { "--gpu", "rtx4090", "--preset", "gpt2-large", "--micro-batch", "16", NULL };
    const char *l16_json[] = { "--gpu", "rtx4090", "--preset", "gpt2-large", "--micro-batch", "16", "--json", NULL };
    root = run_json(l16_json, &rc);
    CHECK_INT(0, rc);
    if (root) {
        json_t *fix = json_object_get(shape0_memory(root), "fix");
        const char *flags = json_string_value(json_object_get(fix, "flags"));
        CHECK(flags && strstr(flags, "--recompute --micro-batch ") && strstr(flags, "--batch 16384"));
        int mb = (int)json_integer_value(json_object_get(fix, "micro_batch"));
        CHECK(mb >= 1 && mb < 16 && 16 % mb == 0);
        CHECK_INT(16 / mb, json_integer_value(json_object_get(fix, "accumulation")));
        /* the next micro-batch up that keeps the step would not have fitted */
        for (int up = mb + 1; up < 16; up++) {
            if (16 % up) continue;
            PlanEnv e2 = gpu_env_for("rtx4090", PREC_BF16);
            e2.micro_batch = up;
            e2.recompute = 1;
            e2.batch_tokens = 16384;
            GptConfig cl = shape(36, 1280, 20, 50257, 1024);
            PlanFacts fu;
            CHECK_INT(0, plan_facts(&cl, &e2, &fu, &e));
            CHECK_INT(FIT_NO, fu.fit);
            break;
        }
        if (flags) replan(l16, flags, fix);
        json_decref(root);
    }
    CHECK_INT(0, run(l16, &out, &err));
    CHECK_HAS("Does not fit the RTX 4090's 24.00 GiB", out);
    CHECK_HAS("accumulated into each step of\n    16384 tokens as before", out);
    free(out);
    free(err);

    /* --gpu-memory: the same card taken as 48 GiB fits gpt2-large as asked */
    const char *big[] = { "--gpu", "rtx4090", "--preset", "gpt2-large", "--gpu-memory", "48GiB", "--json", NULL };
    root = run_json(big, &rc);
    CHECK_INT(0, rc);
    if (root) {
        CHECK_STR("yes", json_string_value(json_object_get(shape0_memory(root), "fits")));
        CHECK_NEAR(48.0 * 1073741824, jnum(json_object_get(root, "machine"), "memory_limit_bytes"), 1e-9);
        json_decref(root);
    }
}

/* The step time at a GPU: FLOPs a step / (vendor's figure x cuBLASLt's share x MFU). */
static void gpu_time(void)
{
    int rc;
    const char *a1[] = { "--gpu", "h100-pcie", "--json", NULL };
    json_t *root = run_json(a1, &rc);
    CHECK_INT(0, rc);
    if (root) {
        json_t *m = json_object_get(root, "machine"), *s = json_array_get(json_object_get(root, "shapes"), 0);
        CHECK_NEAR(756e12, jnum(m, "vendor_flops"), 1e-12);
        CHECK_NEAR(756e12 * PLAN_GPU_MATMUL_SHARE, jnum(m, "matmul_flops"), 1e-9); /* JSON keeps 10 digits */
        CHECK_STR("by part", json_string_value(json_object_get(m, "step_time")));
        CHECK(json_object_get(m, "mfu") == NULL);
        CHECK_STR("bf16", json_string_value(json_object_get(m, "precision")));
        /* the shape's MFU is what its step time means */
        CHECK_NEAR(jnum(s, "flops_per_token") * jnum(s, "batch_tokens") / jnum(s, "step_seconds") /
                       (756e12 * PLAN_GPU_MATMUL_SHARE),
                   jnum(s, "mfu"), 1e-9);
        json_decref(root);
    }
    /* fp32: the vendor's fp32 figure; --rate and --mfu override */
    const char *a2[] = { "--gpu", "h100-pcie", "--precision", "fp32", "--rate", "40000", "--mfu", "0.5", "--json", NULL };
    root = run_json(a2, &rc);
    CHECK_INT(0, rc);
    if (root) {
        json_t *m = json_object_get(root, "machine"), *s = json_array_get(json_object_get(root, "shapes"), 0);
        CHECK_NEAR(51e12, jnum(m, "vendor_flops"), 1e-12);
        CHECK_NEAR(40e12, jnum(m, "matmul_flops"), 1e-12);
        CHECK_NEAR(jnum(s, "flops_per_token") * jnum(s, "batch_tokens") / (40e12 * 0.5), jnum(s, "step_seconds"), 1e-9);
        json_decref(root);
    }
}

/* A bf16 GPU step by part: on the H200's rate GPT-2 at 32 x 1024 takes what
 * the constants' sources add up to (its profiled step's parts, 62.2 ms, with
 * the attention's 16.3 ms replaced by PLAN_GPU_ATT_S's 13.3 ms, the cost a
 * score of GPT-2's and gpt2-large's attention timed alone on 2026-12-02, and
 * the idle 3.1 ms taken as the average a layer of GPT-2's and gpt2-large's,
 * 3.7: 59.8 ms); a GPU twice as
 * fast takes half; the attention costs by the score, so 64 heads of 20
 * dimensions cost 64/20 of 20 heads of 64 at the same width and depth. */
static void gpu_step_parts(void)
{
    PlanEnv env = { .gpu = 1, .prec = PREC_BF16, .parts = 1, .rate = PLAN_GPU_REF_RATE, .micro_batch = 32 };
    GptConfig c = { .vocab_size = 50257, .context = 1024 };
    Err e = { { 0 } };
    CHECK(plan_parse_shape("12x768x12", &c, &e) == 0 && gpt_config_check(&c, &e) == 0);
    double t = plan_gpu_step_s(&c, 1024, 32 * 1024, &env);
    CHECK(t > 0.0598 * 0.99 && t < 0.0598 * 1.01);
    env.rate *= 2;
    CHECK_NEAR(t / 2, plan_gpu_step_s(&c, 1024, 32 * 1024, &env), 1e-12);
    env.rate = PLAN_GPU_REF_RATE;
    GptConfig wide = c, thin = c;
    wide.n_layer = thin.n_layer = 18, wide.n_embd = thin.n_embd = 1280, wide.n_mlp = thin.n_mlp = 4 * 1280;
    wide.n_head = 20, thin.n_head = 64;
    CHECK(gpt_config_check(&wide, &e) == 0 && gpt_config_check(&thin, &e) == 0);
    env.micro_batch = 16;
    double tw = plan_gpu_step_s(&wide, 1024, 16 * 1024, &env), tt = plan_gpu_step_s(&thin, 1024, 16 * 1024, &env);
    CHECK_NEAR(PLAN_GPU_ATT_S * 18 * 16 * (64 - 20) * 1024.0 * 1025 / 2, tt - tw, 1e-9);
}

/* --recompute runs each layer's two LayerNorm forwards and its GELU forward
 * again in the backward. In a bf16 step by part that is the elementwise part
 * grown by PLAN_GPU_RECOMPUTE_EW (at the H200's rate: GPT-2 at 32 x 1024,
 * 3.4 ms of elementwise kernels, gains 2.6 ms); the step, the MFU and the run
 * follow, and the header says so. On the CPU (FLOPs at an MFU) the time stays
 * and the report says why. */
static void recompute_time(void)
{
    PlanEnv env = { .gpu = 1, .prec = PREC_BF16, .parts = 1, .rate = PLAN_GPU_REF_RATE, .micro_batch = 32 };
    GptConfig c = { .vocab_size = 50257, .context = 1024 };
    Err e = { { 0 } };
    CHECK(plan_parse_shape("12x768x12", &c, &e) == 0 && gpt_config_check(&c, &e) == 0);
    double t = plan_gpu_step_s(&c, 1024, 32 * 1024, &env);
    env.recompute = 1;
    double tr = plan_gpu_step_s(&c, 1024, 32 * 1024, &env);
    CHECK_NEAR(PLAN_GPU_RECOMPUTE_EW * PLAN_GPU_EW_S * 12 * 768 * 32 * 1024.0, tr - t, 1e-9);
    CHECK(tr - t > 2.5e-3 && tr - t < 3.2e-3);
    /* on another GPU scaled like the rest of the elementwise part */
    env.rate = PLAN_GPU_REF_RATE / 4;
    double t4r = plan_gpu_step_s(&c, 1024, 32 * 1024, &env);
    env.recompute = 0;
    CHECK_NEAR(4 * (tr - t), t4r - plan_gpu_step_s(&c, 1024, 32 * 1024, &env), 1e-9);

    /* the command line: the step, MFU and run follow, the memory shrinks */
    int rc;
    const char *a1[] = { "--gpu", "h200", "--preset", "gpt2", "--micro-batch", "32", "--json", NULL };
    const char *a2[] = { "--gpu", "h200", "--preset", "gpt2", "--micro-batch", "32", "--json", "--recompute", NULL };
    json_t *r1 = run_json(a1, &rc), *r2 = run_json(a2, &rc);
    CHECK(r1 && r2);
    if (r1 && r2) {
        json_t *s1 = json_array_get(json_object_get(r1, "shapes"), 0), *s2 = json_array_get(json_object_get(r2, "shapes"), 0);
        double st1 = jnum(s1, "step_seconds"), st2 = jnum(s2, "step_seconds");
        double rate = jnum(json_object_get(r1, "machine"), "matmul_flops");
        CHECK_NEAR(PLAN_GPU_RECOMPUTE_EW * PLAN_GPU_EW_S * 12 * 768 * 32 * 1024.0 * PLAN_GPU_REF_RATE / rate, st2 - st1,
                   1e-6);
        CHECK_NEAR(jnum(s1, "mfu") * st1 / st2, jnum(s2, "mfu"), 1e-9);
        CHECK_NEAR(jnum(s2, "steps") * st2, jnum(s2, "run_seconds"), 1e-9);
        CHECK(jnum(shape0_memory(r2), "total") < jnum(shape0_memory(r1), "total"));
    }
    json_decref(r1);
    json_decref(r2);
    char *out, *err;
    const char *a3[] = { "--gpu", "h200", "--preset", "gpt2", "--recompute", NULL };
    CHECK_INT(0, run(a3, &out, &err));
    CHECK_HAS("LayerNorm and GELU forwards again", out);
    free(out);
    free(err);

    /* the CPU: the same step time, and the report says why */
    const char *c1[] = { "--preset", "gpt2", "--rate", "100", "--memory", "64G", "--json", NULL };
    const char *c2[] = { "--preset", "gpt2", "--rate", "100", "--memory", "64G", "--json", "--recompute", NULL };
    r1 = run_json(c1, &rc), r2 = run_json(c2, &rc);
    CHECK(r1 && r2);
    if (r1 && r2)
        CHECK_NEAR(jnum(json_array_get(json_object_get(r1, "shapes"), 0), "step_seconds"),
                   jnum(json_array_get(json_object_get(r2, "shapes"), 0), "step_seconds"), 0);
    json_decref(r1);
    json_decref(r2);
    const char *c3[] = { "--preset", "gpt2", "--rate", "100", "--memory", "64G", "--recompute", NULL };
    CHECK_INT(0, run(c3, &out, &err));
    CHECK_HAS("--recompute: ", out);
    CHECK_HAS("the time is not raised", out);
    free(out);
    free(err);
    const char *c4[] = { "--preset", "gpt2", "--rate", "100", "--memory", "64G", NULL };
    CHECK_INT(0, run(c4, &out, &err));
    CHECK(!strstr(out, "--recompute"));
    free(out);
    free(err);
}

/* --gpu list, loose names, unknown and ambiguous names, the GPU options' usage. */
static void gpu_names(void)
{
    size_t n;
    const PlanGpu *g = plan_gpus(&n);
    CHECK_INT(8, n); /* the list: 3090, 4090, L4, A100 40 and 80, H100 SXM and PCIe, H200 */
    char *out, *err;
    const char *a1[] = { "--gpu", "list", NULL };
    CHECK_INT(0, run(a1, &out, &err));
    for (size_t i = 0; i < n; i++) {
        char line[160];
        snprintf(line, sizeof line, "\n%-11s %-10s", g[i].key, g[i].name);
        CHECK_HAS(line, out);
        CHECK(g[i].mem_gb > 0 && g[i].bf16_tflops > g[i].fp32_tflops && g[i].source[0]);
    }
    CHECK_HAS("vendors' published figures", out);
    free(out);
    free(err);
    struct { const char *name, *key; } loose[] = {
        { "RTX 4090", "rtx4090" }, { "rtx4090", "rtx4090" }, { "4090", "rtx4090" },
        { "NVIDIA GeForce RTX 3090", "rtx3090" }, { "h100-sxm", "h100-sxm" }, { "H100 SXM5", "h100-sxm" },
        { "h100_pcie", "h100-pcie" }, { "A100 80GB", "a100-80gb" }, { "a100-40", "a100-40gb" },
        { "H200", "h200" }, { "l4", "l4" },
    };
    for (size_t i = 0; i < sizeof loose / sizeof *loose; i++) {
        Err e = { { 0 } };
        const PlanGpu *hit = plan_gpu_find(loose[i].name, &e);
        CHECK(hit != NULL);
        if (hit) CHECK_STR(loose[i].key, hit->key);
    }
    /* unknown: bad usage naming every GPU; a model with two variants: which one */
    const char *a2[] = { "--gpu", "tpu-v5", "--preset", "gpt2", NULL };
    CHECK_INT(2, run(a2, &out, &err));
    CHECK_STR("", out);
    CHECK_HAS("unknown GPU 'tpu-v5'", err);
    for (size_t i = 0; i < n; i++) CHECK_HAS(g[i].key, err);
    CHECK_HAS("try 'model plan --help'", err);
    free(out);
    free(err);
    const char *a3[] = { "--gpu", "a100", NULL };
    CHECK_INT(2, run(a3, &out, &err));
    CHECK_HAS("'a100' is a100-40gb or a100-80gb", err);
    free(out);
    free(err);

    /* --gpu-memory's sizes: G and GB 10^9, Gi and GiB 2^30 */
    struct { const char *v; double bytes; } sizes[] = {
        { "24G", 24e9 }, { "24GB", 24e9 }, { "24000M", 24e9 }, { "24000MB", 24e9 }, { "24Gi", 24 * 1073741824.0 },
        { "24GiB", 24 * 1073741824.0 }, { "1.5T", 1.5e12 },
    };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char *argv[] = { "plan", "--gpu", "l4", "--gpu-memory", (char *)sizes[i].v, NULL };
        PlanOpts o;
        CHECK_INT(ARGS_RUN, args_parse_plan(5, argv, &o));
        CHECK_NEAR(sizes[i].bytes, o.gpu_memory, 0);
    }
    struct { const char *args[8]; const char *msg; } bad[] = {
        { { "--gpu", "l4", "--gpu-memory", "24" }, "--gpu-memory needs a size such as 24Gi" },
        { { "--gpu", "l4", "--gpu-memory", "24XB" }, "--gpu-memory needs a size" },
        { { "--gpu-memory", "24G" }, "--gpu-memory is for GPU plans" },
        { { "--gpu", "l4", "--device", "cpu" }, "--gpu plans for a GPU: not with --device cpu" },
        { { "--gpu", "l4", "--measure" }, "--measure runs steps on this CPU only" },
        { { "--precision", "bf16" }, "--precision bf16 runs on a GPU only" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_INT(2, run(bad[i].args, &out, &err));
        CHECK_STR("", out);
        CHECK_HAS(bad[i].msg, err);
        CHECK_HAS("try 'model plan --help'", err);
        free(out);
        free(err);
    }
    /* --device cuda measures this machine's GPU; without one (or without CUDA)
     * it says so and names --gpu */
    const char *a4[] = { "--device", "cuda", "--json", NULL };
    int rc = run(a4, &out, &err);
    if (!kern_would_use_gpu(DEVICE_AUTO)) { /* no CUDA in this build, or no GPU visible */
        CHECK_INT(1, rc);
        CHECK_HAS("--gpu NAME", err);
    } else {
        CHECK_INT(0, rc);
        json_t *root = json_loads(out, 0, NULL);
        json_t *m = root ? json_object_get(root, "machine") : NULL;
        CHECK(m && jnum(m, "matmul_flops") > 0 && jnum(m, "memory_limit_bytes") > 0);
        json_decref(root);
    }
    free(out);
    free(err);
    /* the CPU's --recompute: the trainer's layout with GPT_RECOMPUTE */
    PlanEnv env = test_env();
    env.recompute = 1;
    GptConfig c = shape(12, 768, 12, 50257, 1024);
    PlanFacts f;
    Err e;
    CHECK_INT(0, plan_facts(&c, &env, &f, &e));
    Kern cpu = { .ops = kern_cpu_ops(), .device = KERN_CPU, .prec = PREC_FP32 };
    GptMemory m, full;
    gpt_memory_for(&cpu, &f.cfg, 8, 1024, GPT_TRAIN | GPT_RECOMPUTE, &m);
    gpt_memory(&f.cfg, 8, 1024, &full);
    CHECK_INT((long long)m.total + 2LL * 4 * 8 * 1024, (long long)f.need_bytes);
    CHECK(m.total < full.total);
}

/* A fit that does not apply says so instead of a number: above ln V (a
 * vocabulary of 60), outside the sizes it was fitted on (Chinchilla below
 * 70M parameters), and a number where it applies. */
static void fits_apply(void)
{
    int rc;
    const char *a1[] = { "--preset", "tiny", "--vocab", "60", "--context", "256", "--rate", "100", "--json", NULL };
    json_t *root = run_json(a1, &rc), *s;
    CHECK_INT(0, rc);
    if (root) {
        s = json_array_get(json_object_get(root, "shapes"), 0);
        json_t *ch = json_object_get(s, "chinchilla"), *ka = json_object_get(s, "kaplan");
        CHECK(json_is_false(json_object_get(ch, "applies")));
        CHECK_STR("above ln V", json_string_value(json_object_get(ch, "why_not")));
        CHECK(jnum(ch, "loss") > log(60.0));
        CHECK(json_is_false(json_object_get(ka, "applies")));
        json_decref(root);
    }
    const char *a2[] = { "--preset", "small", "--vocab", "8192", "--rate", "100", "--json", NULL };
    root = run_json(a2, &rc);
    CHECK_INT(0, rc);
    if (root) {
        s = json_array_get(json_object_get(root, "shapes"), 0);
        json_t *ch = json_object_get(s, "chinchilla"), *ka = json_object_get(s, "kaplan");
        CHECK_STR("outside its fit", json_string_value(json_object_get(ch, "why_not")));
        CHECK(json_is_true(json_object_get(ka, "applies")));
        json_decref(root);
    }
    const char *a3[] = { "--preset", "gpt2", "--tokens", "10e9", "--rate", "100", "--json", NULL };
    root = run_json(a3, &rc);
    CHECK_INT(0, rc);
    if (root) {
        s = json_array_get(json_object_get(root, "shapes"), 0);
        CHECK(json_is_true(json_object_get(json_object_get(s, "chinchilla"), "applies")));
        CHECK(json_is_true(json_object_get(json_object_get(s, "kaplan"), "applies")));
        json_decref(root);
    }
}

int main(void)
{
    fits_apply();
    gpt2_counts();
    flops_by_hand();
    literature();
    compare_table();
    compare_aligned();
    json_output();
    data_folder();
    measure();
    budget();
    bad_usage();
    device_options();
    thread_limit();
    opts_direct();
    gpu_sizes();
    gpu_memory_parts();
    gpu_heads();
    gpu_fit();
    zero_ranks();
    gpu_time();
    gpu_step_parts();
    recompute_time();
    gpu_names();
    scratch_cleanup();
    return check_done("test_plan");
}
