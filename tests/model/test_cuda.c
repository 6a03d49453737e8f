/* The CUDA backend against its CPU twin (kern_cpu.c), float32: every kernel
 * on random inputs (never zeros), forward and backward, odd shapes (T not a
 * multiple of a tile, a vocabulary that is not a multiple of 64, head
 * dimensions 8 to 128), error ||gpu - cpu|| / ||cpu|| <= 1e-5; then the whole
 * model: logits 1e-4, loss 1e-5, every gradient 1e-4 relative, 10 AdamW steps
 * 1e-4, with and without dropout; and two identical GPU runs give the same
 * bits. Then the bf16 backend's fused attention (flash.cu) against the CPU's
 * float32 on the same bf16-rounded inputs, 2e-2 relative, with a rerun of its
 * backward bit for bit. Skipped, with the reason, on a build without CUDA or
 * a machine without a GPU. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../model/gpt2.h"
#include "../../model/sched.h"
#include "parity.h"

#ifndef GPTKIT_CUDA
int main(void)
{
    printf("test_cuda: skipped: this build has no CUDA backend (no nvcc, or CUDA=0)\n");
    return 0;
}
#else

static Kern cpu, gpu, gpu16; /* gpu16: the bf16 backend */
static uint64_t rng = 20261201;

static void die(const Err *e)
{
    fprintf(stderr, "test_cuda: %s\n", e->msg);
    exit(2);
}

/* n floats of normal(0, scale), never all zero */
static float *randn(size_t n, float scale)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) exit(2);
    for (size_t i = 0; i < n; i++) p[i] = scale * gpt_rand_normal(&rng);
    return p;
}

/* A copy of host floats in the backend's memory. */
static void *dev(Kern *k, const void *host, size_t bytes)
{
    void *d = k->ops->alloc(k, bytes);
    if (!d) {
        fprintf(stderr, "test_cuda: out of memory for %zu bytes\n", bytes);
        exit(2);
    }
    k->ops->upload(k, d, host, bytes);
    return d;
}

static float *host(Kern *k, const void *d, size_t n)
{
    float *h = malloc((n ? n : 1) * sizeof *h);
    if (!h) exit(2);
    k->ops->download(k, h, d, n * sizeof *h);
    return h;
}

static double rel(const float *a, const float *ref, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)a[i] - ref[i];
        d += x * x;
        r += (double)ref[i] * ref[i];
    }
    if (isnan(d)) return INFINITY;
    return sqrt(d) / (sqrt(r) + 1e-30);
}

static double worst_kernel;

/* Compare n floats at cpu pointer c and gpu pointer g. */
static void same(const char *what, const void *c, const void *g, size_t n, double tol)
{
    float *hc = host(&cpu, c, n), *hg = host(&gpu, g, n);
    double r = rel(hg, hc, n);
    if (r > worst_kernel && tol <= 1e-5) worst_kernel = r;
    char msg[256];
    snprintf(msg, sizeof msg, "%s: relative error %.3g, limit %g", what, r, tol);
    check_report(r <= tol, __FILE__, __LINE__, msg);
    free(hc);
    free(hg);
}

/* The same random buffer on both backends. */
typedef struct Pair {
    void *c, *g;
    size_t n;
} Pair;

static Pair pair(size_t n, float scale)
{
    float *h = randn(n, scale);
    Pair p = { dev(&cpu, h, n * 4), dev(&gpu, h, n * 4), n };
    free(h);
    return p;
}

static Pair pair_ints(const int *h, size_t n)
{
    Pair p = { dev(&cpu, h, n * sizeof(int)), dev(&gpu, h, n * sizeof(int)), n };
    return p;
}

static void unpair(Pair *p)
{
    cpu.ops->release(&cpu, p->c);
    gpu.ops->release(&gpu, p->g);
}

static const double TOL = 1e-5;

static void test_layernorm(int N, int C)
{
    Pair out = pair(N * C, 1), mean = pair(N, 1), rstd = pair(N, 1), inp = pair(N * C, 2), w = pair(C, 1),
         b = pair(C, 1);
    cpu.ops->layernorm_forward(&cpu, out.c, mean.c, rstd.c, inp.c, w.c, b.c, N, C);
    gpu.ops->layernorm_forward(&gpu, out.g, mean.g, rstd.g, inp.g, w.g, b.g, N, C);
    same("layernorm_forward out", out.c, out.g, out.n, TOL);
    same("layernorm_forward rstd", rstd.c, rstd.g, rstd.n, TOL);
    Pair dinp = pair(N * C, 1), dw = pair(C, 1), db = pair(C, 1), dout = pair(N * C, 1);
    cpu.ops->layernorm_backward(&cpu, dinp.c, dw.c, db.c, dout.c, inp.c, w.c, mean.c, rstd.c, N, C);
    gpu.ops->layernorm_backward(&gpu, dinp.g, dw.g, db.g, dout.g, inp.g, w.g, mean.g, rstd.g, N, C);
    same("layernorm_backward dinp (+=)", dinp.c, dinp.g, dinp.n, TOL);
    same("layernorm_backward dw (+=)", dw.c, dw.g, dw.n, TOL);
    same("layernorm_backward db (+=)", db.c, db.g, db.n, TOL);
    Pair *all[] = { &out, &mean, &rstd, &inp, &w, &b, &dinp, &dw, &db, &dout };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) unpair(all[i]);
}

static void test_matmul(int N, int K, int OC)
{
    Pair out = pair((size_t)N * OC, 1), inp = pair((size_t)N * K, 1), w = pair((size_t)OC * K, 0.1f),
         bias = pair(OC, 1), resid = pair((size_t)N * OC, 1);
    cpu.ops->matmul_forward(&cpu, out.c, inp.c, w.c, bias.c, resid.c, N, K, OC);
    gpu.ops->matmul_forward(&gpu, out.g, inp.g, w.g, bias.g, resid.g, N, K, OC);
    same("matmul_forward (bias, resid)", out.c, out.g, out.n, TOL);
    cpu.ops->matmul_forward(&cpu, out.c, inp.c, w.c, NULL, NULL, N, K, OC);
    gpu.ops->matmul_forward(&gpu, out.g, inp.g, w.g, NULL, NULL, N, K, OC);
    same("matmul_forward (plain)", out.c, out.g, out.n, TOL);
    Pair dinp = pair((size_t)N * K, 1), dw = pair((size_t)OC * K, 1), db = pair(OC, 1), dout = pair((size_t)N * OC, 1);
    size_t ns = cpu.ops->matmul_scratch(&cpu, N, K, OC), ng = gpu.ops->matmul_scratch(&gpu, N, K, OC);
    void *sc = ns ? cpu.ops->alloc(&cpu, ns * 4) : NULL, *sg = ng ? gpu.ops->alloc(&gpu, ng * 4) : NULL;
    cpu.ops->matmul_backward(&cpu, dinp.c, dw.c, db.c, dout.c, inp.c, w.c, N, K, OC, sc);
    gpu.ops->matmul_backward(&gpu, dinp.g, dw.g, db.g, dout.g, inp.g, w.g, N, K, OC, sg);
    same("matmul_backward dinp", dinp.c, dinp.g, dinp.n, TOL);
    same("matmul_backward dw (+=)", dw.c, dw.g, dw.n, TOL);
    same("matmul_backward db (+=)", db.c, db.g, db.n, TOL);
    if (sc) cpu.ops->release(&cpu, sc);
    if (sg) gpu.ops->release(&gpu, sg);
    Pair *all[] = { &out, &inp, &w, &bias, &resid, &dinp, &dw, &db, &dout };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) unpair(all[i]);
}

static void test_attention(int B, int T, int NH, int hs, float p)
{
    int C = NH * hs;
    char what[160];
    KDrop d = gpt_dropout_site(77, 1, 1, p);
    const KDrop *drop = p > 0 ? &d : NULL;
    Pair qkv = pair((size_t)B * T * 3 * C, 1), out = pair((size_t)B * T * C, 1);
    Pair st = { cpu.ops->alloc(&cpu, cpu.ops->attention_state(&cpu, B, T, NH) * 4),
                gpu.ops->alloc(&gpu, gpu.ops->attention_state(&gpu, B, T, NH) * 4), 0 };
    Pair sc = { cpu.ops->alloc(&cpu, cpu.ops->attention_scratch(&cpu, B, T, NH) * 4),
                gpu.ops->alloc(&gpu, gpu.ops->attention_scratch(&gpu, B, T, NH) * 4), 0 };
    cpu.ops->attention_forward(&cpu, out.c, st.c, sc.c, qkv.c, B, T, C, NH, drop);
    gpu.ops->attention_forward(&gpu, out.g, st.g, sc.g, qkv.g, B, T, C, NH, drop);
    snprintf(what, sizeof what, "attention_forward B %d T %d heads %d x %d dropout %.1f", B, T, NH, hs, p);
    same(what, out.c, out.g, out.n, TOL);
    Pair dqkv = pair((size_t)B * T * 3 * C, 1), dout = pair((size_t)B * T * C, 1);
    cpu.ops->attention_backward(&cpu, dqkv.c, sc.c, dout.c, qkv.c, out.c, st.c, B, T, C, NH, drop);
    gpu.ops->attention_backward(&gpu, dqkv.g, sc.g, dout.g, qkv.g, out.g, st.g, B, T, C, NH, drop);
    snprintf(what, sizeof what, "attention_backward B %d T %d heads %d x %d dropout %.1f", B, T, NH, hs, p);
    same(what, dqkv.c, dqkv.g, dqkv.n, TOL);
    Pair *all[] = { &qkv, &out, &st, &sc, &dqkv, &dout };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) unpair(all[i]);
}

static void test_cached(int max_T, int NH, int hs)
{
    int C = NH * hs;
    Pair kc = pair((size_t)max_T * C, 1), vc = pair((size_t)max_T * C, 1), y = pair((size_t)max_T * C, 1);
    size_t ns = cpu.ops->attention_cached_scratch(&cpu, max_T), ng = gpu.ops->attention_cached_scratch(&gpu, max_T);
    void *sc = cpu.ops->alloc(&cpu, (ns ? ns : 1) * 4), *sg = gpu.ops->alloc(&gpu, (ng ? ng : 1) * 4);
    /* a prompt of 7 rows, then one row at a time */
    for (int p0 = 0, n = 7; p0 + n <= max_T; p0 += n, n = 1) {
        Pair qkv = pair((size_t)n * 3 * C, 1);
        cpu.ops->attention_cached(&cpu, y.c, kc.c, vc.c, qkv.c, n, p0, C, NH, sc);
        gpu.ops->attention_cached(&gpu, y.g, kc.g, vc.g, qkv.g, n, p0, C, NH, sg);
        char what[96];
        snprintf(what, sizeof what, "attention_cached rows %d at %d, heads %d x %d", n, p0, NH, hs);
        if (p0 < 10 || p0 + n == max_T) same(what, y.c, y.g, (size_t)n * C, TOL);
        unpair(&qkv);
    }
    same("attention_cached: the key cache", kc.c, kc.g, kc.n, TOL);
    cpu.ops->release(&cpu, sc);
    gpu.ops->release(&gpu, sg);
    unpair(&kc);
    unpair(&vc);
    unpair(&y);
}

/* The embeddings' backward where one token is on every other row: its run
 * of rows is longer than the GPU kernel reads at a time (128), and its sum
 * must still be the CPU's, row by row in order: the same bits. */
static void test_embedding_runs(int B, int T, int C)
{
    enum { V = 1000, Vp = 1024 };
    size_t N = (size_t)B * T, n = N * C;
    int *ids = malloc(N * sizeof *ids);
    if (!ids) exit(2);
    for (size_t i = 0; i < N; i++) ids[i] = i % 2 ? (int)(gpt_rand_u64(&rng) % V) : 7;
    Pair inp = pair_ints(ids, N), dout = pair(n, 1);
    Pair dwte = pair((size_t)Vp * C, 1), dwpe = pair((size_t)T * C, 1);
    cpu.ops->encoder_backward(&cpu, dwte.c, dwpe.c, dout.c, inp.c, B, T, C);
    gpu.ops->encoder_backward(&gpu, dwte.g, dwpe.g, dout.g, inp.g, B, T, C);
    char what[96];
    snprintf(what, sizeof what, "encoder_backward dwte, token 7 on %zu of %zu rows, C %d", (N + 1) / 2, N, C);
    same(what, dwte.c, dwte.g, dwte.n, 0);
    Pair *all[] = { &inp, &dout, &dwte, &dwpe };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) unpair(all[i]);
    free(ids);
}

static void test_elementwise(void)
{
    enum { B = 3, T = 37, C = 72, V = 1000, Vp = 1024 };
    size_t n = (size_t)B * T * C, N = (size_t)B * T;
    int ids[B * T], tg[B * T];
    for (size_t i = 0; i < N; i++) {
        ids[i] = (int)(gpt_rand_u64(&rng) % V);
        tg[i] = (int)(gpt_rand_u64(&rng) % V);
    }
    Pair inp = pair_ints(ids, N), tgt = pair_ints(tg, N);
    Pair wte = pair((size_t)Vp * C, 1), wpe = pair((size_t)T * C, 1), x = pair(n, 1);
    cpu.ops->encoder_forward(&cpu, x.c, inp.c, wte.c, wpe.c, B, T, C);
    gpu.ops->encoder_forward(&gpu, x.g, inp.g, wte.g, wpe.g, B, T, C);
    same("encoder_forward", x.c, x.g, n, TOL);
    Pair dwte = pair((size_t)Vp * C, 1), dwpe = pair((size_t)T * C, 1), dx = pair(n, 1);
    cpu.ops->encoder_backward(&cpu, dwte.c, dwpe.c, dx.c, inp.c, B, T, C);
    gpu.ops->encoder_backward(&gpu, dwte.g, dwpe.g, dx.g, inp.g, B, T, C);
    same("encoder_backward dwte (+=)", dwte.c, dwte.g, dwte.n, TOL);
    same("encoder_backward dwpe (+=)", dwpe.c, dwpe.g, dwpe.n, TOL);

    Pair g = pair(n, 2), h = pair(n, 1);
    cpu.ops->gelu_forward(&cpu, h.c, g.c, n);
    gpu.ops->gelu_forward(&gpu, h.g, g.g, n);
    same("gelu_forward", h.c, h.g, n, TOL);
    cpu.ops->gelu_backward(&cpu, dx.c, g.c, n);
    gpu.ops->gelu_backward(&gpu, dx.g, g.g, n);
    same("gelu_backward", dx.c, dx.g, n, TOL);
    KDrop d = gpt_dropout_site(5, 2, 3, 0.25f);
    cpu.ops->residual_forward(&cpu, h.c, g.c, x.c, &d, n);
    gpu.ops->residual_forward(&gpu, h.g, g.g, x.g, &d, n);
    same("residual_forward (dropout 0.25)", h.c, h.g, n, TOL); /* a mask bit apart would be an O(1) error */
    cpu.ops->residual_forward(&cpu, x.c, g.c, x.c, NULL, n);
    gpu.ops->residual_forward(&gpu, x.g, g.g, x.g, NULL, n);
    same("residual_forward (in place)", x.c, x.g, n, TOL);

    Pair lg = pair(N * Vp, 3), losses = pair(N, 1);
    cpu.ops->classifier_forward(&cpu, losses.c, lg.c, tgt.c, (int)N, V, Vp, 0.0f);
    gpu.ops->classifier_forward(&gpu, losses.g, lg.g, tgt.g, (int)N, V, Vp, 0.0f);
    same("classifier_forward losses", losses.c, losses.g, N, TOL);
    same("classifier_forward probabilities", lg.c, lg.g, lg.n, TOL);
    cpu.ops->classifier_backward(&cpu, lg.c, tgt.c, (int)N, V, Vp, 0.01f);
    gpu.ops->classifier_backward(&gpu, lg.g, tgt.g, (int)N, V, Vp, 0.01f);
    same("classifier_backward", lg.c, lg.g, lg.n, TOL);
    { /* fused: the forward makes the gradient itself, the same as the two passes */
        Pair lf = pair(N * Vp, 3);
        cpu.ops->classifier_forward(&cpu, losses.c, lf.c, tgt.c, (int)N, V, Vp, 0.01f);
        gpu.ops->classifier_forward(&gpu, losses.g, lf.g, tgt.g, (int)N, V, Vp, 0.01f);
        same("classifier_forward fused with the backward: losses", losses.c, losses.g, N, TOL);
        same("classifier_forward fused with the backward: gradient", lf.c, lf.g, lf.n, TOL);
        unpair(&lf);
    }

    size_t sizes[3] = { 70001, 3, 16385 };
    int decays[3] = { 1, 0, 1 };
    KTensors t = { 3, sizes, decays };
    size_t np = sizes[0] + sizes[1] + sizes[2];
    Pair pr = pair(np, 1), m = pair(np, 0.1f), v = pair(np, 0), gr = pair(np, 0.5f);
    { /* second moments must be >= 0 */
        float *hv = randn(np, 0.1f);
        for (size_t i = 0; i < np; i++) hv[i] *= hv[i];
        cpu.ops->upload(&cpu, v.c, hv, np * 4);
        gpu.ops->upload(&gpu, v.g, hv, np * 4);
        free(hv);
    }
    double nc = cpu.ops->grad_norm2(&cpu, gr.c, &t), ng = gpu.ops->grad_norm2(&gpu, gr.g, &t);
    char msg[128];
    snprintf(msg, sizeof msg, "grad_norm2: cpu %.10g gpu %.10g", nc, ng);
    check_report(fabs(nc - ng) <= 1e-9 * nc, __FILE__, __LINE__, msg);
    AdamArgs a = { .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .clip_coef = 0.7f,
                   .bc1 = 0.1f, .bc2_sqrt = 0.2f };
    cpu.ops->adamw(&cpu, pr.c, NULL, m.c, v.c, gr.c, &t, &a);
    gpu.ops->adamw(&gpu, pr.g, NULL, m.g, v.g, gr.g, &t, &a);
    same("adamw params", pr.c, pr.g, np, TOL);
    same("adamw m", m.c, m.g, np, TOL);
    same("adamw v", v.c, v.g, np, TOL);
    Pair *all[] = { &inp, &tgt, &wte, &wpe, &x, &dwte, &dwpe, &dx, &g, &h, &lg, &losses, &pr, &m, &v, &gr };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) unpair(all[i]);
}

/* ---- bf16: the fused attention ---- */

/* x rounded to the nearest bf16, ties to even (cast_x's rounding; no NaNs here) */
static float bf16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* n host floats in gpu16's working precision (through cast_x on the device) */
static void *dev_x(const float *h, size_t n)
{
    float *f = dev(&gpu16, h, n * sizeof *f);
    void *x = gpu16.ops->alloc(&gpu16, n * kern_x_bytes(&gpu16));
    if (!x) {
        fprintf(stderr, "test_cuda: out of memory for %zu bf16\n", n);
        exit(2);
    }
    gpu16.ops->cast_x(&gpu16, x, f, n);
    gpu16.ops->release(&gpu16, f);
    return x;
}

static float *host_x(const void *x, size_t n)
{
    float *h = malloc((n ? n : 1) * sizeof *h);
    if (!h) exit(2);
    gpu16.ops->download_x(&gpu16, h, x, n);
    return h;
}

/* ||a - ref|| / ||ref|| over columns c0..c0+nc-1 of rows `stride` wide */
static double rel_cols(const float *a, const float *ref, size_t rows, size_t stride, size_t c0, size_t nc)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = c0; j < c0 + nc; j++) {
            double x = (double)a[i * stride + j] - ref[i * stride + j];
            d += x * x;
            r += (double)ref[i * stride + j] * ref[i * stride + j];
        }
    if (isnan(d)) return INFINITY;
    return sqrt(d) / (sqrt(r) + 1e-30);
}

static double worst_flash;
static const char *flash_kernels = "mma.sync"; /* or Hopper's (kern_cuda_flash_hopper) */

/* The bf16 attention against the CPU in float32 on the same bf16-rounded qkv
 * and dout, so that only the kernel's own error remains (its bf16 outputs
 * are most of it); dqkv starts as garbage, since the kernel overwrites it. */
static void test_flash(int B, int T, int NH, int hs, float p)
{
    int C = NH * hs;
    size_t nqkv = (size_t)B * T * 3 * C, ny = (size_t)B * T * C, rows = (size_t)B * T;
    KDrop d = gpt_dropout_site(78, 2, 1, p);
    const KDrop *drop = p > 0 ? &d : NULL;
    float *hq = randn(nqkv, 1), *hg = randn(ny, 1), *junk = randn(nqkv, 1);
    for (size_t i = 0; i < nqkv; i++) hq[i] = bf16_round(hq[i]);
    for (size_t i = 0; i < ny; i++) hg[i] = bf16_round(hg[i]);

    void *cq = dev(&cpu, hq, nqkv * 4), *cg = dev(&cpu, hg, ny * 4), *cy = dev(&cpu, hg, ny * 4);
    void *cd = dev(&cpu, junk, nqkv * 4);
    void *cst = cpu.ops->alloc(&cpu, cpu.ops->attention_state(&cpu, B, T, NH) * 4);
    void *csc = cpu.ops->alloc(&cpu, cpu.ops->attention_scratch(&cpu, B, T, NH) * 4);
    cpu.ops->attention_forward(&cpu, cy, cst, csc, cq, B, T, C, NH, drop);
    cpu.ops->attention_backward(&cpu, cd, csc, cg, cq, cy, cst, B, T, C, NH, drop);
    float *ry = host(&cpu, cy, ny), *rd = host(&cpu, cd, nqkv);

    void *gq = dev_x(hq, nqkv), *gg = dev_x(hg, ny), *gy = dev_x(hg, ny), *gd = dev_x(junk, nqkv);
    void *gd2 = dev_x(junk, nqkv);
    void *gst = gpu16.ops->alloc(&gpu16, gpu16.ops->attention_state(&gpu16, B, T, NH) * 4);
    void *gsc = gpu16.ops->alloc(&gpu16, gpu16.ops->attention_scratch(&gpu16, B, T, NH) * 4);
    if (!gst || !gsc) exit(2);
    gpu16.ops->attention_forward(&gpu16, gy, gst, gsc, gq, B, T, C, NH, drop);
    gpu16.ops->attention_backward(&gpu16, gd, gsc, gg, gq, gy, gst, B, T, C, NH, drop);
    float *xy = host_x(gy, ny), *xd = host_x(gd, nqkv);

    double ey = rel(xy, ry, ny), ed = rel(xd, rd, nqkv);
    double eq = rel_cols(xd, rd, rows, 3 * C, 0, C), ek = rel_cols(xd, rd, rows, 3 * C, C, C),
           ev = rel_cols(xd, rd, rows, 3 * C, 2 * C, C);
    worst_flash = fmax(worst_flash, fmax(ey, ed));
    char msg[256];
    snprintf(msg, sizeof msg,
             "bf16 attention (%s) B %d T %d heads %d x %d dropout %.1f: out %.3g, dqkv %.3g (dq %.3g dk %.3g "
             "dv %.3g), limit 2e-2",
             flash_kernels, B, T, NH, hs, p, ey, ed, eq, ek, ev);
    check_report(ey <= 2e-2 && ed <= 2e-2, __FILE__, __LINE__, msg);
    printf("test_cuda: %s\n", msg);

    /* the backward again: the same bits (no atomics in any sum) */
    gpu16.ops->attention_backward(&gpu16, gd2, gsc, gg, gq, gy, gst, B, T, C, NH, drop);
    size_t bytes = nqkv * kern_x_bytes(&gpu16);
    unsigned char *b1 = malloc(bytes), *b2 = malloc(bytes);
    if (!b1 || !b2) exit(2);
    gpu16.ops->download(&gpu16, b1, gd, bytes);
    gpu16.ops->download(&gpu16, b2, gd2, bytes);
    snprintf(msg, sizeof msg, "bf16 attention B %d T %d heads %d x %d dropout %.1f: the backward twice, the same bits",
             B, T, NH, hs, p);
    check_report(!memcmp(b1, b2, bytes), __FILE__, __LINE__, msg);

    free(b1);
    free(b2);
    free(hq);
    free(hg);
    free(junk);
    free(ry);
    free(rd);
    free(xy);
    free(xd);
    void *cpu_bufs[] = { cq, cg, cy, cd, cst, csc };
    for (size_t i = 0; i < sizeof cpu_bufs / sizeof *cpu_bufs; i++) cpu.ops->release(&cpu, cpu_bufs[i]);
    void *gpu_bufs[] = { gq, gg, gy, gd, gd2, gst, gsc };
    for (size_t i = 0; i < sizeof gpu_bufs / sizeof *gpu_bufs; i++) gpu16.ops->release(&gpu16, gpu_bufs[i]);
}

/* ---- bf16: every other kernel against its CPU twin on bf16-rounded inputs ---- */

static double worst_bf16;

/* The same random values on the CPU (rounded to bf16, kept in float) and on
 * gpu16: in its working precision (x) or in float32 (!x). */
static Pair pair16(size_t n, float scale, int x)
{
    float *h = randn(n, scale);
    if (x)
        for (size_t i = 0; i < n; i++) h[i] = bf16_round(h[i]);
    Pair p = { dev(&cpu, h, n * 4), x ? dev_x(h, n) : dev(&gpu16, h, n * 4), n };
    free(h);
    return p;
}

static void unpair16(Pair *p)
{
    cpu.ops->release(&cpu, p->c);
    gpu16.ops->release(&gpu16, p->g);
}

static void same16(const char *what, const Pair *p, int x)
{
    float *hc = host(&cpu, p->c, p->n), *hg = x ? host_x(p->g, p->n) : host(&gpu16, p->g, p->n);
    double r = rel(hg, hc, p->n);
    if (r > worst_bf16) worst_bf16 = r;
    char msg[256];
    snprintf(msg, sizeof msg, "bf16 %s: relative error %.3g, limit 2e-2", what, r);
    check_report(r <= 2e-2, __FILE__, __LINE__, msg);
    free(hc);
    free(hg);
}

/* The same in bf16, where a long run is summed in pieces of 64 sorted
 * positions (one token on every other row: its run spans several pieces,
 * starting inside one) */
static void test_embedding_runs16(int B, int T, int C)
{
    enum { V = 1000, Vp = 1024 };
    size_t N = (size_t)B * T, n = N * C;
    int *ids = malloc(N * sizeof *ids);
    if (!ids) exit(2);
    for (size_t i = 0; i < N; i++) ids[i] = i % 2 ? (int)(gpt_rand_u64(&rng) % V) : 900;
    Pair inp = { dev(&cpu, ids, N * sizeof *ids), dev(&gpu16, ids, N * sizeof *ids), N };
    Pair dout = pair16(n, 1, 1), dwte = pair16((size_t)Vp * C, 1, 0), dwpe = pair16((size_t)T * C, 1, 0);
    cpu.ops->encoder_backward(&cpu, dwte.c, dwpe.c, dout.c, inp.c, B, T, C);
    gpu16.ops->encoder_backward(&gpu16, dwte.g, dwpe.g, dout.g, inp.g, B, T, C);
    char what[96];
    snprintf(what, sizeof what, "encoder_backward dwte, token 900 on %zu of %zu rows, C %d", (N + 1) / 2, N, C);
    same16(what, &dwte, 0);
    Pair *all[] = { &inp, &dout, &dwte, &dwpe };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) unpair16(all[i]);
    free(ids);
}

/* The LayerNorm backward in bf16 at more shapes than test_bf16_kernels' (N
 * 111, C 72), on each backend's own forward statistics */
static void test_layernorm16(int N, int C)
{
    size_t n = (size_t)N * C;
    Pair x = pair16(n, 2, 1), w = pair16(C, 1, 1), b = pair16(C, 1, 1), out = pair16(n, 1, 1);
    Pair mean = pair16(N, 1, 0), rstd = pair16(N, 1, 0);
    cpu.ops->layernorm_forward(&cpu, out.c, mean.c, rstd.c, x.c, w.c, b.c, N, C);
    gpu16.ops->layernorm_forward(&gpu16, out.g, mean.g, rstd.g, x.g, w.g, b.g, N, C);
    Pair dinp = pair16(n, 1, 1), dw = pair16(C, 1, 0), db = pair16(C, 1, 0), dout = pair16(n, 1, 1);
    cpu.ops->layernorm_backward(&cpu, dinp.c, dw.c, db.c, dout.c, x.c, w.c, mean.c, rstd.c, N, C);
    gpu16.ops->layernorm_backward(&gpu16, dinp.g, dw.g, db.g, dout.g, x.g, w.g, mean.g, rstd.g, N, C);
    char what[96];
    snprintf(what, sizeof what, "layernorm_backward dinp, N %d, C %d", N, C);
    same16(what, &dinp, 1);
    snprintf(what, sizeof what, "layernorm_backward dw, N %d, C %d", N, C);
    same16(what, &dw, 0);
    snprintf(what, sizeof what, "layernorm_backward db, N %d, C %d", N, C);
    same16(what, &db, 0);
    Pair *all[] = { &x, &w, &b, &out, &mean, &rstd, &dinp, &dw, &db, &dout };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) unpair16(all[i]);
}

static void test_bf16_kernels(void)
{
    enum { B = 3, T = 37, C = 72, M = 288, V = 1000, Vp = 1024 };
    size_t N = (size_t)B * T, n = N * C;
    const int X = 1, F = 0;
    /* LayerNorm */
    Pair x = pair16(n, 2, X), w = pair16(C, 1, X), b = pair16(C, 1, X), out = pair16(n, 1, X);
    Pair mean = pair16(N, 1, F), rstd = pair16(N, 1, F);
    cpu.ops->layernorm_forward(&cpu, out.c, mean.c, rstd.c, x.c, w.c, b.c, (int)N, C);
    gpu16.ops->layernorm_forward(&gpu16, out.g, mean.g, rstd.g, x.g, w.g, b.g, (int)N, C);
    same16("layernorm_forward", &out, X);
    same16("layernorm_forward rstd", &rstd, F);
    Pair dinp = pair16(n, 1, X), dw = pair16(C, 1, F), db = pair16(C, 1, F), dout = pair16(n, 1, X);
    cpu.ops->layernorm_backward(&cpu, dinp.c, dw.c, db.c, dout.c, x.c, w.c, mean.c, rstd.c, (int)N, C);
    gpu16.ops->layernorm_backward(&gpu16, dinp.g, dw.g, db.g, dout.g, x.g, w.g, mean.g, rstd.g, (int)N, C);
    same16("layernorm_backward dinp", &dinp, X);
    same16("layernorm_backward dw", &dw, F);
    same16("layernorm_backward db", &db, F);
    /* matmul: out (N,M) = x W^T + bias + resid, and its backward */
    Pair W = pair16((size_t)M * C, 0.1f, X), bias = pair16(M, 1, X), res = pair16(N * M, 1, X), mo = pair16(N * M, 1, X);
    cpu.ops->matmul_forward(&cpu, mo.c, x.c, W.c, bias.c, res.c, (int)N, C, M);
    gpu16.ops->matmul_forward(&gpu16, mo.g, x.g, W.g, bias.g, res.g, (int)N, C, M);
    same16("matmul_forward", &mo, X);
    Pair mdout = pair16(N * M, 1, X), dW = pair16((size_t)M * C, 1, F), dbias = pair16(M, 1, F);
    size_t ns = cpu.ops->matmul_scratch(&cpu, (int)N, C, M);
    void *sc = ns ? cpu.ops->alloc(&cpu, ns * 4) : NULL;
    cpu.ops->matmul_backward(&cpu, dinp.c, dW.c, dbias.c, mdout.c, x.c, W.c, (int)N, C, M, sc);
    gpu16.ops->matmul_backward(&gpu16, dinp.g, dW.g, dbias.g, mdout.g, x.g, W.g, (int)N, C, M, NULL);
    same16("matmul_backward dinp", &dinp, X);
    same16("matmul_backward dW (float32)", &dW, F);
    same16("matmul_backward db (float32)", &dbias, F);
    if (sc) cpu.ops->release(&cpu, sc);
    /* GELU, the residual with a mask */
    Pair h = pair16(N * M, 2, X), hg = pair16(N * M, 1, X);
    cpu.ops->gelu_forward(&cpu, hg.c, h.c, N * M);
    gpu16.ops->gelu_forward(&gpu16, hg.g, h.g, N * M);
    same16("gelu_forward", &hg, X);
    cpu.ops->gelu_backward(&cpu, mdout.c, h.c, N * M);
    gpu16.ops->gelu_backward(&gpu16, mdout.g, h.g, N * M);
    same16("gelu_backward", &mdout, X);
    /* the MLP's first product with GELU in its epilogue, and the second's
     * backward with GELU's derivative in its own, against the CPU's product
     * then GELU */
    Pair pre = pair16(N * M, 1, X), act = pair16(N * M, 1, X);
    cpu.ops->matmul_forward(&cpu, pre.c, x.c, W.c, bias.c, NULL, (int)N, C, M);
    cpu.ops->gelu_forward(&cpu, act.c, pre.c, N * M);
    gpu16.ops->matmul_gelu_forward(&gpu16, act.g, pre.g, x.g, W.g, bias.g, (int)N, C, M);
    same16("matmul_gelu_forward", &act, X);
    same16("matmul_gelu_forward pre", &pre, X);
    Pair W2 = pair16((size_t)C * M, 0.1f, X), gin = pair16(N * M, 1, X), gpre = pair16(N * M, 2, X);
    Pair dh = pair16(N * M, 1, X), dW2 = pair16((size_t)C * M, 1, F), db2 = pair16(C, 1, F);
    ns = cpu.ops->matmul_scratch(&cpu, (int)N, M, C);
    sc = ns ? cpu.ops->alloc(&cpu, ns * 4) : NULL;
    cpu.ops->matmul_backward(&cpu, dh.c, dW2.c, db2.c, dout.c, gin.c, W2.c, (int)N, M, C, sc);
    cpu.ops->gelu_backward(&cpu, dh.c, gpre.c, N * M);
    gpu16.ops->matmul_dgelu_backward(&gpu16, dh.g, dW2.g, db2.g, dout.g, gin.g, W2.g, gpre.g, (int)N, M, C, NULL);
    same16("matmul_dgelu_backward dinp", &dh, X);
    same16("matmul_dgelu_backward dW (float32)", &dW2, F);
    same16("matmul_dgelu_backward db (float32)", &db2, F);
    if (sc) cpu.ops->release(&cpu, sc);
    KDrop d = gpt_dropout_site(3, 1, 2, 0.2f);
    cpu.ops->residual_forward(&cpu, out.c, dout.c, x.c, &d, n);
    gpu16.ops->residual_forward(&gpu16, out.g, dout.g, x.g, &d, n);
    same16("residual_forward (dropout 0.2)", &out, X);
    /* the embeddings */
    int ids[B * T], tg[B * T];
    for (size_t i = 0; i < N; i++) {
        ids[i] = i % 2 ? (int)(gpt_rand_u64(&rng) % V) : 7; /* a run of rows for the embeddings' backward */
        tg[i] = (int)(gpt_rand_u64(&rng) % V);
    }
    Pair inp = { dev(&cpu, ids, sizeof ids), dev(&gpu16, ids, sizeof ids), N };
    Pair tgt = { dev(&cpu, tg, sizeof tg), dev(&gpu16, tg, sizeof tg), N };
    Pair wte = pair16((size_t)Vp * C, 1, X), wpe = pair16((size_t)T * C, 1, X);
    cpu.ops->encoder_forward(&cpu, out.c, inp.c, wte.c, wpe.c, B, T, C);
    gpu16.ops->encoder_forward(&gpu16, out.g, inp.g, wte.g, wpe.g, B, T, C);
    same16("encoder_forward", &out, X);
    Pair dwte = pair16((size_t)Vp * C, 1, F), dwpe = pair16((size_t)T * C, 1, F);
    cpu.ops->encoder_backward(&cpu, dwte.c, dwpe.c, dout.c, inp.c, B, T, C);
    gpu16.ops->encoder_backward(&gpu16, dwte.g, dwpe.g, dout.g, inp.g, B, T, C);
    same16("encoder_backward dwte (float32)", &dwte, F);
    same16("encoder_backward dwpe (float32)", &dwpe, F);
    /* the classifier, plain and fused with its backward */
    Pair losses = pair16(N, 1, F);
    for (int fused = 0; fused < 2; fused++) {
        Pair lg = pair16(N * Vp, 3, X);
        cpu.ops->classifier_forward(&cpu, losses.c, lg.c, tgt.c, (int)N, V, Vp, fused ? 0.01f : 0.0f);
        gpu16.ops->classifier_forward(&gpu16, losses.g, lg.g, tgt.g, (int)N, V, Vp, fused ? 0.01f : 0.0f);
        same16(fused ? "classifier_forward fused: losses" : "classifier_forward: losses", &losses, F);
        same16(fused ? "classifier_forward fused: gradient" : "classifier_forward: probabilities", &lg, X);
        if (!fused) {
            cpu.ops->classifier_backward(&cpu, lg.c, tgt.c, (int)N, V, Vp, 0.01f);
            gpu16.ops->classifier_backward(&gpu16, lg.g, tgt.g, (int)N, V, Vp, 0.01f);
            same16("classifier_backward", &lg, X);
        }
        unpair16(&lg);
    }
    /* AdamW with the working copy of the weights */
    size_t sizes[2] = { 40000, 77 };
    int decays[2] = { 1, 0 };
    KTensors t = { 2, sizes, decays };
    size_t np = sizes[0] + sizes[1];
    Pair pr = pair16(np, 1, F), m = pair16(np, 0.1f, F), v = pair16(np, 0.1f, F), gr = pair16(np, 0.5f, F);
    Pair px = pair16(np, 1, X); /* the CPU has no working copy: compared with its float32 weights */
    { /* second moments >= 0 */
        float *hv = randn(np, 0.1f);
        for (size_t i = 0; i < np; i++) hv[i] *= hv[i];
        cpu.ops->upload(&cpu, v.c, hv, np * 4);
        gpu16.ops->upload(&gpu16, v.g, hv, np * 4);
        free(hv);
    }
    AdamArgs a = { .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .clip_coef = 0.7f,
                   .bc1 = 0.1f, .bc2_sqrt = 0.2f };
    cpu.ops->adamw(&cpu, pr.c, NULL, m.c, v.c, gr.c, &t, &a);
    gpu16.ops->adamw(&gpu16, pr.g, px.g, m.g, v.g, gr.g, &t, &a);
    same16("adamw master weights (float32)", &pr, F);
    Pair pxc = { pr.c, px.g, np }; /* the working copy against the CPU's new weights */
    same16("adamw working copy", &pxc, X);
    { /* without master weights: the bf16 weights updated in place, each new
       * weight (the CPU's float32 step from the same bf16 weight, equal bit
       * for bit) rounded with the bits kernels.h names: exactly those bf16 */
        Pair wx = pair16(np, 1, X), m2 = pair16(np, 0.1f, F), v2 = pair16(np, 0.1f, F);
        float *hv = host(&cpu, v.c, np); /* the updated second moments: >= 0 */
        cpu.ops->upload(&cpu, v2.c, hv, np * 4);
        gpu16.ops->upload(&gpu16, v2.g, hv, np * 4);
        free(hv);
        AdamArgs a2 = a;
        a2.round_key = 0x1234567;
        cpu.ops->adamw(&cpu, wx.c, NULL, m2.c, v2.c, gr.c, &t, &a2);
        gpu16.ops->adamw(&gpu16, NULL, wx.g, m2.g, v2.g, gr.g, &t, &a2);
        float *want = host(&cpu, wx.c, np);
        uint16_t *got = malloc(np * 2);
        gpu16.ops->download(&gpu16, got, wx.g, np * 2);
        size_t bad = 0, up = 0, between = 0;
        for (size_t i = 0; i < np; i++) {
            uint32_t u;
            memcpy(&u, &want[i], 4);
            uint16_t lo = (uint16_t)(u >> 16);
            uint16_t r = (uint16_t)((u + (uint32_t)(kdrop_mix64(a2.round_key + KDROP_GOLDEN * (i + 1)) >> 48)) >> 16);
            bad += got[i] != r;
            between += (u & 0xffff) != 0;
            up += got[i] != lo;
        }
        char msg[160];
        snprintf(msg, sizeof msg, "adamw without master weights: %zu of %zu bf16 weights differ from the stochastic "
                                  "rounding of the CPU's step", bad, np);
        check_report(bad == 0, __FILE__, __LINE__, msg);
        /* both ways taken: about as many rounded up as the fractions say (a loose check of the bits' use) */
        snprintf(msg, sizeof msg, "adamw without master weights: %zu of %zu rounded up", up, between);
        check_report(up > between / 4 && up < between * 3 / 4, __FILE__, __LINE__, msg);
        free(want);
        free(got);
        Pair *ps[] = { &wx, &m2, &v2 };
        for (int i = 0; i < 3; i++) unpair16(ps[i]);
    }
    Pair *all[] = { &x, &w, &b, &out, &mean, &rstd, &dinp, &dw, &db, &dout, &W, &bias, &res, &mo, &mdout, &dW, &dbias,
                    &h, &hg, &pre, &act, &W2, &gin, &gpre, &dh, &dW2, &db2, &inp, &tgt, &wte, &wpe, &dwte,
                    &dwpe, &losses, &pr, &m, &v, &gr, &px };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) unpair16(all[i]);
    printf("test_cuda: bf16 kernels: worst relative error %.3g (limit 2e-2)\n", worst_bf16);
}

/* ---- the whole model ---- */

enum { L = 2, MC = 64, MNH = 4, MM = 256, MV = 4133, CTX = 32, MB = 3, MT = 29, STEPS = 10, MICRO = 2 };

static void model_pair(Gpt *gc, Gpt *gg, const GptConfig *cfg, float **w0)
{
    Err e = { { 0 } };
    if (gpt_init(gc, cfg, MB, MT, &cpu, 1, &e) || gpt_init_weights(gc, 42, &e)) die(&e);
    if (gpt_init(gg, cfg, MB, MT, &gpu, 1, &e) || gpt_init_weights(gg, 42, &e)) die(&e);
    *w0 = malloc(gc->n_params * sizeof **w0);
    gpt_params_get(gc, *w0);
}

/* STEPS steps of MICRO micro-batches on g; the losses and the final weights. */
static void train(Gpt *g, const int *batches, float p, float *losses, float *params)
{
    AdamOpts o = { .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .clip = 1.0f };
    Sched s = { .kind = SCHED_COSINE, .lr = 1e-2, .min_frac = 0.1, .warmup = 3, .total = STEPS };
    for (int step = 0; step < STEPS; step++) {
        gpt_zero_grad(g);
        double sum = 0;
        for (int k = 0; k < MICRO; k++) {
            const int *x = batches + (size_t)(step * MICRO + k) * 2 * MB * MT;
            gpt_set_dropout(g, p, gpt_dropout_key(9, (uint64_t)step, (uint64_t)k));
            gpt_set_backward(g, 1.0f / MICRO); /* the fused classifier; the gradient check above runs the other */
            gpt_forward(g, x, x + MB * MT, MB, MT);
            gpt_backward(g, 1.0f / MICRO);
            sum += g->loss;
        }
        gpt_adamw_step(g, &o, (float)sched_lr(&s, step));
        losses[step] = (float)(sum / MICRO);
    }
    gpt_params_get(g, params);
}

static void test_model(float p)
{
    GptConfig cfg = { .n_layer = L, .n_embd = MC, .n_head = MNH, .n_mlp = MM, .vocab_size = MV, .context = CTX };
    Err e = { { 0 } };
    if (gpt_config_check(&cfg, &e)) die(&e);
    Gpt gc, gg;
    float *w0;
    model_pair(&gc, &gg, &cfg, &w0);
    int inp[MB * MT], tgt[MB * MT];
    random_tokens(&rng, inp, tgt, MB, MT, MV);
    size_t R = (size_t)MB * MT, Vp = cfg.padded_vocab;
    char msg[160];

    gpt_set_dropout(&gc, p, 123);
    gpt_set_dropout(&gg, p, 123);
    gpt_forward(&gc, inp, NULL, MB, MT);
    gpt_forward(&gg, inp, NULL, MB, MT);
    float *lc = logits_copy(&gc, R), *lgg = logits_copy(&gg, R);
    double mx = 0;
    for (size_t i = 0; i < R * Vp; i++) mx = fmax(mx, fabs((double)lc[i] - lgg[i]));
    snprintf(msg, sizeof msg, "model dropout %.1f: logits max abs difference %.3g, limit 1e-4", p, mx);
    check_report(mx <= 1e-4, __FILE__, __LINE__, msg);
    printf("test_cuda: %s\n", msg);
    free(lc);
    free(lgg);
    gpt_forward(&gc, inp, tgt, MB, MT);
    gpt_forward(&gg, inp, tgt, MB, MT);
    snprintf(msg, sizeof msg, "model dropout %.1f: loss cpu %.7f gpu %.7f, limit 1e-5 relative", p, gc.loss, gg.loss);
    check_report(fabs(gc.loss - gg.loss) <= 1e-5 * fabs(gc.loss), __FILE__, __LINE__, msg);
    printf("test_cuda: %s\n", msg);
    gpt_zero_grad(&gc);
    gpt_zero_grad(&gg);
    gpt_backward(&gc, 1.0f);
    gpt_backward(&gg, 1.0f);
    size_t s[GPT_N_TENSORS], off = 0;
    gpt_tensor_sizes(&cfg, s);
    float *hc = host(&cpu, gc.grads, gc.n_params), *hg = host(&gpu, gg.grads, gg.n_params);
    double worst = 0;
    for (int i = 0; i < GPT_N_TENSORS; off += s[i], i++) {
        double r = rel(hg + off, hc + off, s[i]);
        if (r > worst) worst = r;
        snprintf(msg, sizeof msg, "model dropout %.1f: gradient of %s: relative error %.3g, limit 1e-4", p,
                 gpt_tensor_name(i), r);
        check_report(r <= 1e-4, __FILE__, __LINE__, msg);
    }
    printf("test_cuda: model dropout %.1f: gradients: worst relative error %.3g (limit 1e-4)\n", p, worst);
    free(hc);
    free(hg);

    /* 10 AdamW steps from the same weights, and the GPU run twice */
    int *batches = malloc(sizeof(int) * STEPS * MICRO * 2 * MB * MT);
    for (int i = 0; i < STEPS * MICRO; i++) {
        int *x = batches + (size_t)i * 2 * MB * MT;
        if (i < MICRO) random_tokens(&rng, x, x + MB * MT, MB, MT, MV);
        else memcpy(x, batches + (size_t)(i % MICRO) * 2 * MB * MT, sizeof(int) * 2 * MB * MT);
    }
    float lcpu[STEPS], lgpu[STEPS], lgpu2[STEPS];
    float *pc = malloc(gc.n_params * 4), *pg = malloc(gc.n_params * 4), *pg2 = malloc(gc.n_params * 4);
    gpt_params_set(&gc, w0);
    gpt_params_set(&gg, w0);
    train(&gc, batches, p, lcpu, pc);
    train(&gg, batches, p, lgpu, pg);
    double wl = 0;
    for (int i = 0; i < STEPS; i++) wl = fmax(wl, fabs((double)lgpu[i] - lcpu[i]) / fabs(lcpu[i]));
    snprintf(msg, sizeof msg, "model dropout %.1f: 10 AdamW steps: losses within %.3g relative (limit 1e-4), "
             "%.4f -> %.4f", p, wl, lcpu[0], lcpu[STEPS - 1]);
    check_report(wl <= 1e-4, __FILE__, __LINE__, msg);
    printf("test_cuda: %s\n", msg);
    double rw = rel(pg, pc, gc.n_params);
    snprintf(msg, sizeof msg, "model dropout %.1f: weights after 10 steps: relative error %.3g, limit 1e-4", p, rw);
    check_report(rw <= 1e-4, __FILE__, __LINE__, msg);
    CHECK(lcpu[STEPS - 1] < lcpu[0] - 0.5f); /* it learned something */
    /* the same run again on the GPU: the same bits (fresh moments, same weights) */
    gpt_free(&gg);
    if (gpt_init(&gg, &cfg, MB, MT, &gpu, 1, &e)) die(&e);
    gpt_params_set(&gg, w0);
    train(&gg, batches, p, lgpu2, pg2);
    snprintf(msg, sizeof msg, "model dropout %.1f: two GPU runs give the same bits", p);
    check_report(!memcmp(lgpu, lgpu2, sizeof lgpu) && !memcmp(pg, pg2, gc.n_params * 4), __FILE__, __LINE__, msg);
    free(batches);
    free(pc);
    free(pg);
    free(pg2);
    free(w0);
    gpt_free(&gc);
    gpt_free(&gg);
}

int main(void)
{
    Err e = { { 0 } };
    if (!kern_cuda_visible()) {
        printf("test_cuda: skipped: no GPU visible\n");
        return 0;
    }
    GPool *pool = gpool_new(2);
    if (!pool || kern_cpu_init(&cpu, pool, &e) || kern_cuda_init(&gpu, PREC_FP32, pool, &e)) die(&e);
    printf("test_cuda: %s against the CPU, seed %llu\n", gpu.name, (unsigned long long)rng);
    test_elementwise();
    test_embedding_runs(4, 150, 72); /* 16-byte packs */
    test_embedding_runs(2, 301, 18); /* a float at a time */
    test_layernorm(111, 72);
    test_layernorm(64, 1600);
    test_layernorm(9, 75);     /* one short chunk, a float at a time */
    test_layernorm(1000, 200); /* 32 chunks, the last short; 50 packs a row: a group of 32 and one of 18 */
    test_layernorm(130, 7300); /* past an H200's shared memory: dinp and the sums apart */
    test_matmul(111, 72, 216);
    test_matmul(64, 48, 4160);
    test_matmul(37, 20, 1);
    int heads[] = { 8, 20, 24, 32, 64, 80, 128 };
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) test_attention(2, 37, 3, heads[i], 0.0f);
    test_attention(2, 64, 4, 20, 0.1f);
    test_attention(1, 130, 2, 64, 0.0f);
    test_cached(40, 3, 20);
    printf("test_cuda: kernels: worst relative error %.3g (limit 1e-5)\n", worst_kernel);
    if (kern_cuda_init(&gpu16, PREC_BF16, pool, &e)) die(&e);
    /* on Hopper both kernels: its own (warpgroup products), then mma.sync's */
    for (int wg = kern_cuda_flash_hopper(&gpu16, 1); wg >= 0; wg--) {
        kern_cuda_flash_hopper(&gpu16, wg);
        flash_kernels = wg ? "Hopper" : "mma.sync";
        for (size_t i = 0; i < sizeof heads / sizeof *heads; i++)
            for (int t = 0; t < 2; t++)
                for (int dp = 0; dp < 2; dp++) test_flash(2, t ? 130 : 37, 3, heads[i], dp ? 0.1f : 0.0f);
    }
    kern_cuda_flash_hopper(&gpu16, 1);
    printf("test_cuda: bf16 attention: worst relative error %.3g (limit 2e-2)\n", worst_flash);
    test_bf16_kernels();
    test_layernorm16(9, 75);
    test_layernorm16(1000, 200);
    test_layernorm16(130, 7300);
    test_embedding_runs16(4, 150, 72); /* 16-byte packs */
    test_embedding_runs16(2, 301, 18); /* an element at a time */
    test_model(0.0f);
    test_model(0.1f);
    kern_free(&gpu16);
    kern_free(&gpu);
    kern_free(&cpu);
    gpool_free(pool);
    return check_done("test_cuda");
}
#endif
