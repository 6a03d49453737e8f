/* bench/model/flash.c: the bf16 fused attention of the GPU backend alone,
 * forward and backward, on the shapes the trainer runs. For each shape
 * "B T NH hs" (arguments, else gpt2's, gpt2-large's and 18x1280's with 64
 * heads) it times REPS calls of each after a warm-up and prints one line:
 *
 *   flash B T NH hs fwd_ms bwd_ms fwd_tflops bwd_tflops
 *
 * FLOPs as flash attention counts them, causal: the forward's two products
 * over the T(T+1)/2 query-key pairs a head, 4 hs flops a pair; the backward
 * 2.5 times that (its five products). flash.sh prints these beside PyTorch's
 * scaled_dot_product_attention on the same shapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../model/gpt2.h"

#ifndef GPTKIT_CUDA
int main(void)
{
    printf("flash: skipped: this build has no CUDA backend\n");
    return 0;
}
#else

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void *alloc_or_die(Kern *k, size_t bytes)
{
    void *p = k->ops->alloc(k, bytes);
    if (!p) {
        fprintf(stderr, "flash: out of GPU memory for %zu bytes\n", bytes);
        exit(2);
    }
    return p;
}

/* n random bf16 in (-2, 2), through a float32 upload and cast_x */
static void *rand_x(Kern *k, size_t n, unsigned seed)
{
    float *h = malloc(n * sizeof *h);
    if (!h) exit(2);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        h[i] = (float)((seed >> 8) * (4.0 / 16777216.0) - 2.0);
    }
    float *f = alloc_or_die(k, n * sizeof *f);
    k->ops->upload(k, f, h, n * sizeof *f);
    void *x = alloc_or_die(k, n * kern_x_bytes(k));
    k->ops->cast_x(k, x, f, n);
    k->ops->release(k, f);
    free(h);
    return x;
}

static void sync(Kern *k, void *x)
{
    float f;
    k->ops->download_x(k, &f, x, 1);
}

static void run(Kern *k, int B, int T, int NH, int hs, int reps)
{
    int C = NH * hs;
    size_t nqkv = (size_t)B * T * 3 * C, ny = (size_t)B * T * C;
    void *qkv = rand_x(k, nqkv, 1), *dout = rand_x(k, ny, 2), *y = rand_x(k, ny, 3), *dqkv = rand_x(k, nqkv, 4);
    float *st = alloc_or_die(k, k->ops->attention_state(k, B, T, NH) * 4);
    float *sc = alloc_or_die(k, k->ops->attention_scratch(k, B, T, NH) * 4);
    for (int i = 0; i < 3; i++) {
        k->ops->attention_forward(k, y, st, sc, qkv, B, T, C, NH, NULL);
        k->ops->attention_backward(k, dqkv, sc, dout, qkv, y, st, B, T, C, NH, NULL);
    }
    sync(k, y);
    double t0 = now();
    for (int i = 0; i < reps; i++) k->ops->attention_forward(k, y, st, sc, qkv, B, T, C, NH, NULL);
    sync(k, y);
    double t1 = now();
    for (int i = 0; i < reps; i++) k->ops->attention_backward(k, dqkv, sc, dout, qkv, y, st, B, T, C, NH, NULL);
    sync(k, dqkv);
    double t2 = now();
    double fwd = (t1 - t0) / reps, bwd = (t2 - t1) / reps;
    double flops = 4.0 * hs * B * NH * (T * (T + 1.0) / 2);
    printf("flash %d %d %d %d %.4f %.4f %.1f %.1f\n", B, T, NH, hs, 1e3 * fwd, 1e3 * bwd, flops / fwd / 1e12,
           2.5 * flops / bwd / 1e12);
    fflush(stdout);
    k->ops->release(k, qkv);
    k->ops->release(k, dout);
    k->ops->release(k, y);
    k->ops->release(k, dqkv);
    k->ops->release(k, st);
    k->ops->release(k, sc);
}

int main(int argc, char **argv)
{
    Err e = { { 0 } };
    if (!kern_cuda_visible()) {
        printf("flash: skipped: no GPU visible\n");
        return 0;
    }
    GPool *pool = gpool_new(1);
    Kern k;
    if (!pool || kern_cuda_init(&k, PREC_BF16, pool, &e)) {
        fprintf(stderr, "flash: %s\n", e.msg);
        return 2;
    }
    const char *kn = getenv("KERNELS"); /* "mma": mma.sync's even on Hopper */
    int hopper = kern_cuda_flash_hopper(&k, !(kn && !strcmp(kn, "mma")));
    fprintf(stderr, "flash: %s kernels\n", hopper ? "Hopper's (wgmma)" : "mma.sync's");
    const char *r = getenv("REPS");
    int reps = r ? atoi(r) : 20;
    if (argc > 1 && (argc - 1) % 4 == 0) {
        for (int i = 1; i < argc; i += 4) run(&k, atoi(argv[i]), atoi(argv[i + 1]), atoi(argv[i + 2]), atoi(argv[i + 3]), reps);
    } else if (argc > 1) {
        fprintf(stderr, "usage: flash [B T NH hs]...\n");
        return 2;
    } else {
        run(&k, 32, 1024, 12, 64, reps);
        run(&k, 16, 1024, 20, 64, reps);
        run(&k, 16, 1024, 64, 20, reps);
    }
    kern_free(&k);
    gpool_free(pool);
    return 0;
}
#endif
