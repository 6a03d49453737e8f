/* Dropout in model/gpt2.c against PyTorch: tests/model/ref_gpt2.py, given
 * P SEED, replicates our hashed masks and applies them where GPT-2 does.
 * With p = 0.1: logits (1e-4 max abs), loss (1e-5), every gradient (1e-4
 * relative), 10 AdamW steps with a new mask each micro-batch (losses 1e-4,
 * weights 1e-4), the tolerances. Also: 1 thread == 2 threads bit for
 * bit, the masks drop about p, and p = 0 is the plain model bit for bit. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lib/testutil.h"
#include "../../model/gpt2.h"
#include "../../model/sched.h"
#include "parity.h"

enum { L = 2, C = 64, NH = 4, M = 256, V = 1000, CTX = 32, B = 3, T = 24, STEPS = 10, MICRO = 2,
       WARMUP = 3 };
static const double LR = 1e-2, MIN_FRAC = 0.1, B1 = 0.9, B2 = 0.95, EPS = 1e-8, WD = 0.1,
                    CLIP = 1.0;
static const float P = 0.1f;
static const uint64_t SEED = 1234;


/* 10 steps as the trainer takes them: key (SEED, step, micro-batch). */
static void train_steps(const GptConfig *cfg, unsigned threads, float p, const int *batches,
                        float *losses, float **params)
{
    GPool *pool = gpool_new(threads);
    Gpt g;
    Kern kn;
    cpu_model(&g, &kn, cfg, B, T, pool, 1, 42);
    AdamOpts o = { .beta1 = (float)B1, .beta2 = (float)B2, .eps = (float)EPS, .weight_decay = (float)WD,
                   .clip = (float)CLIP };
    Sched s = { .kind = SCHED_COSINE, .lr = LR, .min_frac = MIN_FRAC, .warmup = WARMUP, .total = STEPS };
    for (int step = 0; step < STEPS; step++) {
        gpt_zero_grad(&g);
        double sum = 0;
        for (int k = 0; k < MICRO; k++) {
            const int *x = batches + (size_t)(step * MICRO + k) * 2 * B * T;
            gpt_set_dropout(&g, p, gpt_dropout_key(SEED, (uint64_t)step, (uint64_t)k));
            gpt_forward(&g, x, x + B * T, B, T);
            gpt_backward(&g, 1.0f / MICRO);
            sum += g.loss;
        }
        gpt_adamw_step(&g, &o, (float)sched_lr(&s, step));
        losses[step] = (float)(sum / MICRO);
    }
    *params = malloc(g.n_params * sizeof(float));
    memcpy(*params, g.params, g.n_params * sizeof(float));
    gpt_free(&g);
    kern_free(&kn);
    gpool_free(pool);
}

int main(void)
{
    GptConfig cfg = { .n_layer = L, .n_embd = C, .n_head = NH, .n_mlp = M, .vocab_size = V, .context = CTX };
    Err e = { { 0 } };
    CHECK_INT(0, gpt_config_check(&cfg, &e));
    GPool *pool = gpool_new(2);
    Gpt g;
    Kern kn;
    cpu_model(&g, &kn, &cfg, B, T, pool, 1, 42);

    /* the masks drop about p, and differ between keys and sites */
    {
        uint64_t k0 = gpt_dropout_key(SEED, 0, 0), k1 = gpt_dropout_key(SEED, 0, 1), n = 1000000;
        uint64_t dropped = 0, differ = 0;
        for (uint64_t i = 0; i < n; i++) {
            int a = gpt_dropout_keeps(k0, 1, 2, i, P);
            dropped += !a;
            differ += a != gpt_dropout_keeps(k1, 1, 2, i, P) || a != gpt_dropout_keeps(k0, 1, 3, i, P);
        }
        printf("masks: %.4f dropped (p %.2f), %.3f differ across keys or sites\n", (double)dropped / n, P,
               (double)differ / n);
        CHECK(fabs((double)dropped / n - P) < 0.002);
        CHECK(differ > n / 10);
        CHECK_INT(1, gpt_dropout_keeps(k0, 0, 0, 7, 0.0f)); /* p 0 keeps everything */
    }

    uint64_t st = 11;
    int inp[B * T], tgt[B * T];
    random_tokens(&st, inp, tgt, B, T, V);
    int *batches = malloc(sizeof(int) * STEPS * MICRO * 2 * B * T);
    for (int i = 0; i < STEPS * MICRO; i++) {
        int *x = batches + (size_t)i * 2 * B * T;
        if (i < MICRO) random_tokens(&st, x, x + B * T, B, T, V);
        else memcpy(x, batches + (size_t)(i % MICRO) * 2 * B * T, sizeof(int) * 2 * B * T);
    }

    /* p = 0 is the plain model, bit for bit, whatever the key */
    gpt_forward(&g, inp, tgt, B, T);
    float loss_plain = g.loss;
    gpt_set_dropout(&g, 0.0f, 99);
    gpt_forward(&g, inp, tgt, B, T);
    CHECK(loss_plain == g.loss);

    const char *in_path = scratch("drop_in.bin"), *out_path = scratch("drop_out.bin");
    const int32_t hdr[11] = { L, C, NH, M, V, CTX, B, T, STEPS, MICRO, WARMUP };
    const double hyper[7] = { LR, MIN_FRAC, B1, B2, EPS, WD, CLIP };
    FILE *f = ref_open(in_path, hdr, hyper);
    for (int i = 0; i < GPT_N_TENSORS; i++) put(f, g.tensor[i], real_size(&cfg, i) * sizeof(float));
    put(f, inp, sizeof inp);
    put(f, tgt, sizeof tgt);
    put(f, batches, sizeof(int) * STEPS * MICRO * 2 * B * T);
    if (fclose(f)) { perror(in_path); return 2; }

    char dir[256], cmd[1024];
    snprintf(dir, sizeof dir, "%s", __FILE__);
    *strrchr(dir, '/') = 0;
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/ref_gpt2.py %s %s %.9g %llu", dir, in_path, out_path,
             (double)P, (unsigned long long)SEED);
    int rc = system(cmd);
    CHECK_INT(0, rc);
    size_t n_ref = 0;
    float *ref = (float *)read_file(out_path, &n_ref);
    size_t want = (size_t)B * T * V + 1 + STEPS;
    for (int i = 0; i < GPT_N_TENSORS; i++) want += 2 * real_size(&cfg, i);
    if (!CHECK_INT_RC(want * sizeof(float), n_ref) || rc) {
        fprintf(stderr, "test_dropout: no usable output from PyTorch (%s)\n", cmd);
        free(ref);
        return check_done("test_dropout");
    }

    /* logits and loss with the masks of key (SEED, 0, 0) */
    gpt_set_dropout(&g, P, gpt_dropout_key(SEED, 0, 0));
    gpt_forward(&g, inp, NULL, B, T);
    float *lg = logits_copy(&g, B * T);
    double max_abs = 0;
    for (int r = 0; r < B * T; r++)
        for (int v = 0; v < V; v++) {
            double d = fabs((double)lg[(size_t)r * cfg.padded_vocab + v] - ref[(size_t)r * V + v]);
            if (d > max_abs) max_abs = d;
        }
    printf("dropout %.2f: logits max abs difference %.3g (limit 1e-4)\n", P, max_abs);
    CHECK(max_abs <= 1e-4);
    free(lg);
    const float *rp = ref + (size_t)B * T * V;
    gpt_forward(&g, inp, tgt, B, T);
    printf("dropout %.2f: loss ours %.7f torch %.7f (without dropout %.7f), difference %.3g (limit 1e-5)\n", P,
           g.loss, rp[0], loss_plain, fabs(g.loss - rp[0]));
    CHECK(fabs(g.loss - rp[0]) <= 1e-5);
    CHECK(fabs(g.loss - loss_plain) > 1e-4); /* the masks did something */
    rp++;

    gpt_zero_grad(&g);
    gpt_backward(&g, 1.0f);
    double worst = 0;
    for (int i = 0; i < GPT_N_TENSORS; i++) {
        size_t n = real_size(&cfg, i);
        double r = rel_err(g.grad[i], rp, n);
        if (r > worst) worst = r;
        char msg[128];
        snprintf(msg, sizeof msg, "dropout: gradient of %s: relative error %.3g, limit 1e-4", gpt_tensor_name(i), r);
        check_report(r <= 1e-4, __FILE__, __LINE__, msg);
        rp += n;
    }
    printf("dropout %.2f: gradients worst relative error %.3g (limit 1e-4)\n", P, worst);

    /* evaluation turns it off: the plain loss again, bit for bit */
    gpt_set_dropout(&g, 0.0f, 0);
    gpt_forward(&g, inp, tgt, B, T);
    CHECK(loss_plain == g.loss);
    gpt_free(&g);
    kern_free(&kn);

    float l2[STEPS], l1[STEPS];
    float *w2, *w1;
    train_steps(&cfg, 2, P, batches, l2, &w2);
    double worst_loss = 0;
    for (int s = 0; s < STEPS; s++) {
        double d = fabs(l2[s] - rp[s]);
        if (d > worst_loss) worst_loss = d;
        char msg[128];
        snprintf(msg, sizeof msg, "dropout: step %d: loss %.6f, torch %.6f", s, l2[s], rp[s]);
        check_report(d <= 1e-4, __FILE__, __LINE__, msg);
    }
    printf("dropout %.2f: 10 AdamW steps: losses %.4f .. %.4f, worst difference %.3g (limit 1e-4)\n", P, l2[0],
           l2[STEPS - 1], worst_loss);
    CHECK(l2[STEPS - 1] < l2[0] - 0.1);
    rp += STEPS;
    size_t s_off[GPT_N_TENSORS + 1] = { 0 }, sz[GPT_N_TENSORS];
    gpt_tensor_sizes(&cfg, sz);
    for (int i = 0; i < GPT_N_TENSORS; i++) s_off[i + 1] = s_off[i] + sz[i];
    double worst_w = 0;
    for (int i = 0; i < GPT_N_TENSORS; i++) {
        size_t n = real_size(&cfg, i);
        float *ours = malloc(n * sizeof(float));
        memcpy(ours, w2 + s_off[i], n * sizeof(float));
        if (i == GPT_QKVB) /* the key bias: true gradient 0, rounding noise (test_gpt2.c) */
            for (int l = 0; l < L; l++)
                for (int j = C; j < 2 * C; j++) ours[l * 3 * C + j] = rp[l * 3 * C + j];
        double r = rel_err(ours, rp, n);
        free(ours);
        if (r > worst_w) worst_w = r;
        if (r > 1e-4) printf("  %s after 10 steps: relative error %.3g\n", gpt_tensor_name(i), r);
        rp += n;
    }
    printf("dropout %.2f: weights after 10 steps: worst relative error %.3g (limit 1e-4)\n", P, worst_w);
    CHECK(worst_w <= 1e-4);

    train_steps(&cfg, 1, P, batches, l1, &w1);
    CHECK(!memcmp(l1, l2, sizeof l1));
    CHECK(!memcmp(w1, w2, gpt_n_params(&cfg) * sizeof(float)));

    free(w1);
    free(w2);
    free(ref);
    free(batches);
    gpool_free(pool);
    scratch_cleanup();
    return check_done("test_dropout");
}
