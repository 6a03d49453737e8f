/* model/infer.c (the KV cache) against model/gpt2.c's full forward on random
 * weights (biases and LayerNorms perturbed so they count): the logits of
 * infer_step at every position, of infer_window on a whole window at once,
 * growing and slid past the context (positions shift: the cache is rebuilt),
 * all within 1e-5 of gpt_forward's row; the same bits for 1 and 2 threads and
 * after infer_reset. The vocabulary is large enough that the output layer is
 * split into pieces on the pool. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../model/gpt2.h"
#include "../../model/infer.h"
#include "parity.h"

enum { L = 2, C = 48, NH = 4, M = 192, V = 6000, CTX = 24, EXTRA = 9 };
static const double TOL = 1e-5;

static void die(const Err *e)
{
    fprintf(stderr, "test_infer: %s\n", e->msg);
    exit(2);
}

/* Max |a - b| over the V real logits. */
static double max_diff(const float *a, const float *b)
{
    double d = 0;
    for (int i = 0; i < V; i++) {
        double x = fabs((double)a[i] - b[i]);
        if (!(x <= d)) d = x; /* NaN counts as a difference */
    }
    return d;
}

/* The last logits row of the full forward on window[0..n). */
static const float *full_last(Gpt *g, const int *window, int n)
{
    static float row[V + 64]; /* Vp */
    gpt_forward(g, window, NULL, 1, n);
    gpt_logits_get(g, (size_t)n - 1, 1, row);
    return row;
}

int main(void)
{
    uint64_t seed = 20240917;
    printf("test_infer: seed %llu\n", (unsigned long long)seed);
    GptConfig cfg = { .n_layer = L, .n_embd = C, .n_head = NH, .n_mlp = M, .vocab_size = V, .context = CTX };
    Err e = { { 0 } };
    if (gpt_config_check(&cfg, &e)) die(&e);
    GPool *pool1 = gpool_new(1), *pool2 = gpool_new(2);
    if (!pool1 || !pool2) return 2;
    Gpt g;
    Kern k2, k1;
    cpu_model(&g, &k2, &cfg, 1, CTX, pool2, 0, seed);
    if (kern_cpu_init(&k1, pool1, &e)) die(&e);
    uint64_t st = seed;
    {
        float *w = malloc(g.n_params * sizeof *w), *p = w;
        if (!w) return 2;
        gpt_params_get(&g, w);
        size_t s[GPT_N_TENSORS];
        gpt_tensor_sizes(&cfg, s);
        for (int t = 0; t < GPT_N_TENSORS; p += s[t], t++) {
            if (t == GPT_WTE) continue; /* keep its zero padding rows */
            for (size_t i = 0; i < s[t]; i++) p[i] += 0.05f * gpt_rand_normal(&st);
        }
        gpt_params_set(&g, w);
        free(w);
    }

    int seq[CTX + EXTRA];
    for (int i = 0; i < CTX + EXTRA; i++) seq[i] = (int)(gpt_rand_u64(&st) % V);
    gpt_forward(&g, seq, NULL, 1, CTX);
    float *full = logits_copy(&g, CTX);

    /* one token at a time: position t's logits = row t of the full forward */
    Infer *inf = infer_new(&g, &e);
    if (!inf) die(&e);
    double worst = 0;
    float *steps = malloc((size_t)CTX * V * sizeof *steps);
    if (!steps) return 2;
    for (int t = 0; t < CTX; t++) {
        const float *lg = infer_step(inf, seq[t]);
        memcpy(steps + (size_t)t * V, lg, V * sizeof *lg);
        double d = max_diff(lg, full + (size_t)t * cfg.padded_vocab);
        if (d > worst) worst = d;
        if (!CHECK(d <= TOL)) fprintf(stderr, "  infer_step at position %d: max diff %g\n", t, d);
    }
    printf("test_infer: infer_step vs gpt_forward, every position: max |diff| %.3g\n", worst);
    CHECK_INT(CTX, infer_len(inf));
    /* the logits are not all alike (a broken model giving one row everywhere would pass the rest) */
    CHECK(max_diff(steps, steps + (size_t)(CTX - 1) * V) > 1e-3);

    /* the same bits again after a reset, and on a 1-thread pool */
    Gpt g1 = g;
    g1.k = &k1;
    Infer *inf1 = infer_new(&g1, &e);
    if (!inf1) die(&e);
    infer_reset(inf);
    CHECK_INT(0, infer_len(inf));
    int same = 1, same1 = 1;
    for (int t = 0; t < CTX; t++) {
        const float *lg = infer_step(inf, seq[t]);
        same &= !memcmp(lg, steps + (size_t)t * V, V * sizeof *lg);
        lg = infer_step(inf1, seq[t]);
        same1 &= !memcmp(lg, steps + (size_t)t * V, V * sizeof *lg);
    }
    CHECK(same);
    CHECK(same1);

    /* a whole window at once (the prompt: sgemm rows), then extending it */
    infer_reset(inf);
    double d = max_diff(infer_window(inf, seq, CTX / 2), full + (size_t)(CTX / 2 - 1) * cfg.padded_vocab);
    if (!CHECK(d <= TOL)) fprintf(stderr, "  infer_window of %d tokens: max diff %g\n", CTX / 2, d);
    CHECK_INT(CTX / 2, infer_len(inf));
    for (int n = CTX / 2 + 1; n <= CTX; n++) {
        d = max_diff(infer_window(inf, seq, n), full + (size_t)(n - 1) * cfg.padded_vocab);
        if (!CHECK(d <= TOL)) fprintf(stderr, "  infer_window growing to %d: max diff %g\n", n, d);
        CHECK_INT(n, infer_len(inf));
    }
    /* the same window again: only its last row is recomputed, same logits */
    d = max_diff(infer_window(inf, seq, CTX), full + (size_t)(CTX - 1) * cfg.padded_vocab);
    CHECK(d <= TOL);

    /* past the context, as sample slides: the window is the last CTX tokens
     * from position 0, every position moved, and the logits still equal the
     * full forward on that window */
    worst = 0;
    for (int end = CTX + 1; end <= CTX + EXTRA; end++) {
        const int *w = seq + end - CTX;
        float ref[V];
        memcpy(ref, full_last(&g, w, CTX), sizeof ref);
        d = max_diff(infer_window(inf, w, CTX), ref);
        if (d > worst) worst = d;
        if (!CHECK(d <= TOL)) fprintf(stderr, "  slid window ending at %d: max diff %g\n", end, d);
        CHECK_INT(CTX, infer_len(inf));
    }
    printf("test_infer: slid windows (rebuilt cache) vs gpt_forward: max |diff| %.3g\n", worst);
    /* and a shorter window after that: rebuilt from position 0 */
    d = max_diff(infer_window(inf, seq + 3, 5), full_last(&g, seq + 3, 5));
    CHECK(d <= TOL);
    CHECK_INT(5, infer_len(inf));

    infer_free(inf);
    infer_free(inf1);
    infer_free(NULL);
    free(full);
    free(steps);
    gpt_free(&g);
    kern_free(&k1);
    kern_free(&k2);
    gpool_free(pool1);
    gpool_free(pool2);
    return check_done("test_infer");
}
