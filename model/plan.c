/* `model plan`: parameters, training memory, FLOPs and time for GPT-2 shapes,
 * and what Chinchilla, Kaplan et al. and Levine et al. predict for them; side
 * by side (--compare) or the best shapes for a parameter or compute budget
 * (--budget, --budget-flops). Counts come from gpt2.c (the trainer's own);
 * time from the sgemm rate train.c measures for MFU, and with --measure from a
 * few real training steps of each shape (random weights; random tokens or
 * --data's windows): nothing is saved. On a GPU (--device cuda, or --gpu NAME
 * from the vendors' figures, without CUDA) the memory is the GPU trainer's
 * layout, sized by gpt_memory_for on kern_cuda_sizes' Kern, and the time a
 * calibrated share of the GPU's matrix rate; a shape that does not fit gets
 * the flags that make it fit. GPU steps are not measured here. */
#include "plan.h"

#include <cblas.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "data.h"
#include "gpool.h"
#include "progress.h"
#include "train.h"

#define PROG "model plan"

/* ---- the literature ---- */

double plan_chinchilla_loss(double n_params, double n_tokens)
{
    return CHIN_E + CHIN_A / pow(n_params, CHIN_ALPHA) + CHIN_B / pow(n_tokens, CHIN_BETA);
}

/* Minimising E + A/N^a + B/D^b on N D = C/6 gives a A / N^a = b B / D^b, so
 * N = G (C/6)^(b/(a+b)) and D = (C/6) / N with G = (a A / (b B))^(1/(a+b)). */
void plan_chinchilla_optimal(double flops, double *n_params, double *n_tokens)
{
    double x = flops / 6.0;
    double g = pow(CHIN_ALPHA * CHIN_A / (CHIN_BETA * CHIN_B), 1.0 / (CHIN_ALPHA + CHIN_BETA));
    *n_params = g * pow(x, CHIN_BETA / (CHIN_ALPHA + CHIN_BETA));
    *n_tokens = x / *n_params;
}

double plan_kaplan_loss(double n_nonembed, double n_tokens)
{
    if (n_tokens <= 0) return pow(KAPLAN_NC / n_nonembed, KAPLAN_ALPHA_N);
    return pow(pow(KAPLAN_NC / n_nonembed, KAPLAN_ALPHA_N / KAPLAN_ALPHA_D) + KAPLAN_DC / n_tokens,
               KAPLAN_ALPHA_D);
}

double plan_levine_width(double n_layer) { return exp(LEVINE_A + LEVINE_B * n_layer); }
double plan_levine_depth(double n_embd) { return (log(n_embd) - LEVINE_A) / LEVINE_B; }

LevineVerdict plan_levine_verdict(int n_layer, int n_embd)
{
    double r = n_embd / plan_levine_width(n_layer);
    if (r < 1.0 / LEVINE_TOLERANCE) return LEVINE_TOO_DEEP; /* too narrow for that many layers */
    if (r > LEVINE_TOLERANCE) return LEVINE_TOO_SHALLOW;
    return LEVINE_ABOUT_RIGHT;
}

const char *plan_levine_name(LevineVerdict v)
{
    return v == LEVINE_TOO_DEEP ? "too deep" : v == LEVINE_TOO_SHALLOW ? "too shallow" : "about right";
}

/* 12 L w(L)^2 grows with L: bisect on it. */
void plan_levine_shape(double n_nonembed, double *n_layer, double *n_embd)
{
    double lo = 0, hi = 2000;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi), w = plan_levine_width(mid);
        if (12.0 * mid * w * w < n_nonembed) lo = mid;
        else hi = mid;
    }
    *n_layer = 0.5 * (lo + hi);
    *n_embd = plan_levine_width(*n_layer);
}

/* ---- GPUs ---- */

/* The vendors' figures: dense (without 2:4 sparsity, which halves the
 * datasheets' headline numbers), bf16 with float32 accumulation. GeForce cards
 * accumulate bf16 in float32 at half their fp16-accumulate rate, the figure
 * usually quoted for them. */
static const PlanGpu gpus[] = {
    { "rtx3090", "RTX 3090", 24, 71, 35.6, "NVIDIA Ampere GA102 GPU architecture whitepaper, appendix A" },
    { "rtx4090", "RTX 4090", 24, 165.2, 82.6, "NVIDIA Ada GPU architecture whitepaper" },
    { "l4", "L4", 24, 121, 30.3, "NVIDIA L4 datasheet (bf16: 242 with sparsity)" },
    { "a100-40gb", "A100 40GB", 40, 312, 19.5, "NVIDIA A100 datasheet (bf16: 624 with sparsity)" },
    { "a100-80gb", "A100 80GB", 80, 312, 19.5, "NVIDIA A100 datasheet (bf16: 624 with sparsity)" },
    { "h100-sxm", "H100 SXM", 80, 989, 67, "NVIDIA H100 datasheet (bf16: 1,979 with sparsity)" },
    { "h100-pcie", "H100 PCIe", 80, 756, 51, "NVIDIA H100 datasheet (bf16: 1,513 with sparsity)" },
    { "h200", "H200", 141, 989, 67, "NVIDIA H200 datasheet, SXM (bf16: 1,979 with sparsity)" },
};
#define N_GPUS (sizeof gpus / sizeof gpus[0])

const PlanGpu *plan_gpus(size_t *n)
{
    *n = N_GPUS;
    return gpus;
}

/* s lowercased, letters and digits only, without a leading "nvidia" or
 * "geforce" and a trailing "gb": "NVIDIA A100 80GB" -> "a10080". */
static void gpu_key(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        if ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
            out[k++] = (char)(*s | 0x20);
    out[k] = 0;
    static const char *const prefixes[] = { "nvidia", "geforce" };
    for (int i = 0; i < 2; i++) {
        size_t p = strlen(prefixes[i]);
        if (!strncmp(out, prefixes[i], p)) memmove(out, out + p, strlen(out + p) + 1);
    }
    k = strlen(out);
    if (k > 2 && !strcmp(out + k - 2, "gb")) out[k - 2] = 0;
}

/* A name of the table matches its key, and also without "rtx" or with "sxm5"
 * for "sxm": 4090, h100sxm5. "h200sxm" is the H200 (SXM is the one listed). */
static int gpu_matches(const PlanGpu *g, const char *want)
{
    char k[32], alt[40];
    gpu_key(g->key, k, sizeof k);
    if (!strcmp(want, k)) return 1;
    if (!strncmp(k, "rtx", 3) && !strcmp(want, k + 3)) return 1;
    snprintf(alt, sizeof alt, "%s5", k);
    if (strstr(k, "sxm") && !strcmp(want, alt)) return 1;
    snprintf(alt, sizeof alt, "%ssxm", k);
    if (!strcmp(k, "h200") && (!strcmp(want, alt) || !strcmp(want, "h200sxm5"))) return 1;
    return 0;
}

static void gpu_names(char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < N_GPUS && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", gpus[i].key);
}

const PlanGpu *plan_gpu_find(const char *name, Err *e)
{
    char want[64], names[256];
    gpu_key(name, want, sizeof want);
    const PlanGpu *hit = NULL;
    int hits = 0;
    size_t k_hits = 0;
    char hit_names[128] = "";
    for (size_t i = 0; i < N_GPUS; i++) {
        /* the model without its variant ("a100" of "a100-40gb") matches every variant */
        char model[32], k[32];
        snprintf(model, sizeof model, "%.*s", (int)strcspn(gpus[i].key, "-"), gpus[i].key);
        gpu_key(model, k, sizeof k);
        if (gpu_matches(&gpus[i], want) || (strchr(gpus[i].key, '-') && !strcmp(want, k))) {
            hit = &gpus[i], hits++;
            if (k_hits < sizeof hit_names)
                k_hits += (size_t)snprintf(hit_names + k_hits, sizeof hit_names - k_hits, "%s%s",
                                           hits > 1 ? " or " : "", gpus[i].key);
        }
    }
    if (hits == 1) return hit;
    gpu_names(names, sizeof names);
    if (hits > 1)
        err_set(e, "--gpu '%s' is %s: say which (--gpu list shows their figures)", name, hit_names);
    else
        err_set(e, "unknown GPU '%s': --gpu takes %s (--gpu list shows their figures)", name, names);
    return NULL;
}

void plan_gpu_list(FILE *f)
{
    fputs("GPUs for model plan --gpu, with their vendors' published figures (dense: without sparsity):\n\n", f);
    fprintf(f, "%-11s %-10s %7s %10s %10s  %s\n", "--gpu", "GPU", "memory", "bf16", "fp32", "source");
    for (size_t i = 0; i < N_GPUS; i++) {
        const PlanGpu *g = &gpus[i];
        char mem[16], b[16], s[16];
        snprintf(mem, sizeof mem, "%.0f GB", g->mem_gb);
        snprintf(b, sizeof b, "%g", g->bf16_tflops);
        snprintf(s, sizeof s, "%g", g->fp32_tflops);
        fprintf(f, "%-11s %-10s %7s %10s %10s  %s\n", g->key, g->name, mem, b, s, g->source);
    }
    fprintf(f,
            "\nmemory: as the vendor states it (GPU memory's GB are 2^30 bytes: 24 GB is 25.8e9 bytes;\n"
            "  a card with ECC on GDDR memory, such as the L4, shows about 6%% less).\n"
            "bf16: TFLOP/s of dense bf16 products on the tensor cores with float32 accumulation, which\n"
            "  is what --precision bf16 runs (GeForce cards do that at half the rate usually quoted\n"
            "  for them, which accumulates in fp16).\n"
            "fp32: TFLOP/s of float32 without tensor cores: the fp32 path uses no TF32.\n"
            "The plan times steps at a share of these: cuBLASLt's measured rate was %.0f%% of the\n"
            "vendor's figure on an H200; a bf16 step is the sum of its parts (matrix products at %.0f%%\n"
            "of that rate, attention, elementwise kernels, classifier, AdamW) as profiled on the H200\n"
            "and scaled by the rate, fp32 steps reach %.0f%% of it; --rate and --mfu override them.\n",
            100 * PLAN_GPU_MATMUL_SHARE, 100 * PLAN_GPU_MM_EFF, 100 * PLAN_GPU_FP32_MFU);
}

/* ---- one shape ---- */

static size_t round256(size_t bytes) { return (bytes + 255) / 256 * 256; }

/* The GPU trainer's memory for shape k (checked) at micro-batch B x context:
 * gpt_memory_for on the CUDA backend's sizes in env's precision. Returns the
 * bytes the plan needs (the context and allocator added). */
static double gpu_memory(const GptConfig *k, const PlanEnv *env, int B, int recompute, int no_master,
                         GptMemory *m)
{
    Kern sizes;
    kern_cuda_sizes(&sizes, env->prec);
    no_master = no_master && env->prec == PREC_BF16;
    gpt_memory_for(&sizes, k, B, k->context,
                   GPT_TRAIN | (recompute ? GPT_RECOMPUTE : 0) | (no_master ? GPT_NO_MASTER : 0), m);
    return (double)m->total + env->gpu_overhead;
}

/* f's shape does not fit env's GPU: --recompute at the largest micro-batch
 * that fits and divides the global batch's sequences (f->batch_tokens is kept
 * by accumulating), the micro-batch asked for first; where none does in
 * bf16, the same with --master-weights off. */
static void find_fix(const PlanFacts *f, const PlanEnv *env, PlanFix *x)
{
    const GptConfig *k = &f->cfg;
    int T = k->context;
    uint64_t seqs = f->batch_tokens / (uint64_t)T;
    GptMemory m;
    memset(x, 0, sizeof *x);
    x->state_bytes = (double)(f->mem.params + f->mem.grads + f->mem.adam) + env->gpu_overhead;
    x->min_bytes = gpu_memory(k, env, 1, 1, 1, &m); /* bf16: without master weights too */
    if (f->head_too_wide) return;
    for (int off = env->no_master; off <= (env->prec == PREC_BF16); off++) {
        for (int b = env->micro_batch; b >= 1; b--) {
            if (seqs % (uint64_t)b) continue;
            double need = gpu_memory(k, env, b, 1, off, &m);
            if (need > env->mem_limit) continue;
            x->found = 1;
            x->recompute = 1;
            x->no_master = off;
            x->micro_batch = b;
            x->batch_tokens = f->batch_tokens;
            x->accum = (int)(seqs / (uint64_t)b);
            x->need_bytes = need;
            const char *mw = off && !env->no_master ? " --master-weights off" : "";
            if (b == env->micro_batch) snprintf(x->flags, sizeof x->flags, "--recompute%s", mw);
            else
                snprintf(x->flags, sizeof x->flags, "--recompute%s --micro-batch %d --batch %llu", mw, b,
                         (unsigned long long)x->batch_tokens);
            return;
        }
    }
}

/* Why a loss fit does not apply: its loss is above ln V (compared by pointer). */
static const char PLAN_ABOVE_LN_V[] = "above ln V";

double plan_gpu_step_s(const GptConfig *c, int T, double batch_tokens, const PlanEnv *env)
{
    double L = c->n_layer, D = c->n_embd, NH = c->n_head, V = c->padded_vocab;
    double micro = batch_tokens / T; /* sequences a step */
    int hs = c->n_embd / c->n_head, hsp = hs <= 32 ? 32 : hs <= 64 ? 64 : hs <= 96 ? 96 : 128;
    double scale = PLAN_GPU_REF_RATE / env->rate; /* the parts timed on the H200, at this GPU's rate */
    double mm = 6.0 * (double)gpt_n_params(c) * batch_tokens / (env->rate * PLAN_GPU_MM_EFF);
    double att = PLAN_GPU_ATT_S * (hsp > 64 ? hsp / 64.0 : 1.0) * L * micro * NH * T * (T + 1.0) / 2;
    double ew = PLAN_GPU_EW_S * L * D * batch_tokens;
    double cls = PLAN_GPU_VOCAB_S * V * batch_tokens;
    double adam = PLAN_GPU_ADAM_S * (double)gpt_n_params(c);
    return mm + scale * (att + ew + cls + adam);
}

int plan_facts(const GptConfig *c, const PlanEnv *env, PlanFacts *f, Err *e)
{
    memset(f, 0, sizeof *f);
    f->cfg = *c;
    if (gpt_config_check(&f->cfg, e)) return -1;
    const GptConfig *k = &f->cfg;
    int T = k->context, B = env->micro_batch;
    f->n_params = (double)gpt_n_params_real(k);
    f->n_nonembed = f->n_params - ((double)k->vocab_size + k->context) * k->n_embd;
    f->head_dim = k->n_embd / k->n_head;
    f->flops_token = gpt_flops_per_token(k, T);
    f->batch_tokens = env->batch_tokens ? env->batch_tokens : (uint64_t)B * T;
    f->accum = (int)(f->batch_tokens / ((uint64_t)B * T));
    if (env->gpu) {
        /* the GPU trainer's own arrays: nothing of the host (the shards and the
         * window order stay there), the context and allocator added */
        f->need_bytes = gpu_memory(k, env, B, env->recompute, env->no_master, &f->mem);
        f->master_bytes = env->no_master && env->prec == PREC_BF16 ? 0 : (double)gpt_n_params(k) * sizeof(float);
        f->copy_bytes = (double)f->mem.params - f->master_bytes;
        f->overhead_bytes = env->gpu_overhead;
        f->att_bytes = (double)(round256(k->n_layer * kern_cuda_attention_state(env->prec, B, T, k->n_head) *
                                         sizeof(float)) +
                                round256(kern_cuda_attention_scratch(env->prec, B, T, k->n_head) * sizeof(float)));
        f->head_too_wide = env->prec == PREC_BF16 && f->head_dim > KERN_CUDA_BF16_MAX_HEAD_DIM;
        f->fit = f->need_bytes > env->mem_limit || f->head_too_wide ? FIT_NO : FIT_YES;
        if (f->fit == FIT_NO) find_fix(f, env, &f->fix);
    } else {
        Kern cpu = { .ops = kern_cpu_ops(), .device = KERN_CPU, .prec = PREC_FP32 }; /* sizes only */
        gpt_memory_for(&cpu, k, B, T, GPT_TRAIN | (env->recompute ? GPT_RECOMPUTE : 0), &f->mem);
        /* (L,B,NH,T,T) probabilities kept for backward, (B,NH,T,T) one layer's gradients */
        f->att_bytes = 4.0 * ((double)k->n_layer + 1) * B * k->n_head * (double)T * T;
        f->need_bytes = (double)f->mem.total + 2.0 * sizeof(int) * B * T + 4.0 * env->data_windows;
        if (f->need_bytes > env->mem_limit) f->fit = FIT_NO;
        else if (env->mem_avail > 0 && f->need_bytes > env->mem_avail) f->fit = FIT_NOT_NOW;
        else f->fit = FIT_YES;
    }

    if (env->parts) f->step_s = plan_gpu_step_s(k, T, (double)f->batch_tokens, env);
    else f->step_s = f->flops_token * (double)f->batch_tokens / (env->rate * env->mfu);
    f->mfu = f->flops_token * (double)f->batch_tokens / f->step_s / env->rate;
    if (env->hours > 0) f->hours_tokens = env->hours * 3600.0 / f->step_s * (double)f->batch_tokens;
    f->chin_tokens = CHIN_TOKENS_PER_PARAM * f->n_params;
    if (env->tokens > 0) f->tokens = env->tokens, f->tokens_from = "--tokens";
    else if (env->data_tokens > 0) f->tokens = env->data_tokens, f->tokens_from = "one epoch of --data";
    else if (env->hours > 0) f->tokens = f->hours_tokens, f->tokens_from = "--hours";
    else f->tokens = f->chin_tokens, f->tokens_from = "20 tokens/parameter";
    f->steps = ceil(f->tokens / (double)f->batch_tokens);
    f->run_s = f->steps * f->step_s;
    f->epochs = env->data_tokens > 0 ? f->tokens / env->data_tokens : 0;

    f->chin_loss = plan_chinchilla_loss(f->n_params, f->tokens);
    f->flops = 6.0 * f->n_params * f->tokens;
    plan_chinchilla_optimal(f->flops, &f->chin_opt_n, &f->chin_opt_d);
    f->chin_opt_loss = plan_chinchilla_loss(f->chin_opt_n, f->chin_opt_d);
    f->kaplan_loss = plan_kaplan_loss(f->n_nonembed, f->tokens);
    f->kaplan_loss_inf = plan_kaplan_loss(f->n_nonembed, 0);
    double ln_v = log((double)k->vocab_size);
    if (f->chin_loss > ln_v) f->chin_na = PLAN_ABOVE_LN_V;
    else if (f->n_params < 70e6 || f->n_params > 16e9 || f->tokens < 5e9 || f->tokens > 500e9)
        f->chin_na = "outside its fit";
    if (f->kaplan_loss > ln_v) f->kaplan_na = PLAN_ABOVE_LN_V;
    else if (f->n_nonembed < 768 || f->n_nonembed > 1.5e9 || f->tokens < 22e6 || f->tokens > 23e9)
        f->kaplan_na = "outside its fit";
    f->levine_depth = plan_levine_depth(k->n_embd);
    f->levine_width = plan_levine_width(k->n_layer);
    f->verdict = plan_levine_verdict(k->n_layer, k->n_embd);
    f->levine_in_range = k->n_layer >= LEVINE_MIN_DEPTH && k->n_layer <= LEVINE_MAX_DEPTH;
    plan_levine_shape(f->n_nonembed, &f->levine_opt_depth, &f->levine_opt_width);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (sorts v). */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Micro-batch number k: B windows of data from window k*B on (wrapping), or
 * random ids. */
static int fill_batch(const Shards *data, uint64_t k, int B, int T, int V, uint64_t *rng, int *x,
                      int *y, Err *e)
{
    size_t bt = (size_t)B * T;
    if (!data) {
        /* y is x shifted by one, as windows are: the loss is over real next tokens */
        int prev = (int)(gpt_rand_u64(rng) % (uint64_t)V);
        for (size_t i = 0; i < bt; i++) {
            x[i] = prev;
            y[i] = prev = (int)(gpt_rand_u64(rng) % (uint64_t)V);
        }
        return 0;
    }
    for (int b = 0; b < B; b++) {
        uint64_t w = (k * (uint64_t)B + (uint64_t)b) % data->n_windows;
        if (shards_window(data, w, V, x + (size_t)b * T, y + (size_t)b * T, e)) return -1;
    }
    return 0;
}

int plan_measure(PlanFacts *f, const PlanEnv *env, GPool *pool, const Shards *data, int steps, Err *e)
{
    const GptConfig *c = &f->cfg;
    int B = env->micro_batch, T = c->context;
    if (steps < 1) return err_set(e, "--measure needs at least one step");
    if (data && !data->n_windows) return err_set(e, "--data has no training window of %d tokens", T + 1);
    Gpt g = { 0 };
    Kern kern;
    if (kern_cpu_init(&kern, pool, e)) return -1;
    if (gpt_init(&g, c, B, T, &kern, GPT_TRAIN | (env->recompute ? GPT_RECOMPUTE : 0), e) ||
        gpt_init_weights(&g, 1, e)) {
        gpt_free(&g);
        kern_free(&kern);
        return -1;
    }
    TrainOpts to;
    train_opts_init(&to); /* AdamW's betas, decay and clipping as model train */
    const float lr = 6e-4f; /* any rate costs the same */
    size_t bt = (size_t)B * T;
    int *x = malloc(2 * bt * sizeof *x);
    double *fb = malloc(2 * (size_t)steps * sizeof *fb), *ad = fb ? fb + steps : NULL;
    int rc = 0;
    if (!x || !fb) {
        rc = err_set(e, "out of memory");
        goto done;
    }
    int *y = x + bt;
    uint64_t rng = 0x706c616eULL, micro = 0;
    double loss = 0;
    for (int s = -1; s < steps; s++) { /* step -1 warms up: first touch of every buffer */
        if (fill_batch(data, micro++, B, T, c->vocab_size, &rng, x, y, e)) {
            rc = -1;
            goto done;
        }
        double t0 = progress_now();
        gpt_zero_grad(&g);
        double t1 = progress_now();
        gpt_set_backward(&g, 1.0f / (float)f->accum);
        gpt_forward(&g, x, y, B, T);
        gpt_backward(&g, 1.0f / (float)f->accum);
        double t2 = progress_now();
        gpt_adamw_step(&g, &to.adam, lr);
        double t3 = progress_now();
        if (!isfinite(g.loss)) {
            rc = err_set(e, "--measure: the loss is %g at step %d: the shape does not train", (double)g.loss, s + 2);
            goto done;
        }
        if (s < 0) continue;
        fb[s] = t2 - t1;
        ad[s] = (t1 - t0) + (t3 - t2);
        loss += g.loss;
    }
    PlanMeasure *m = &f->meas;
    memset(m, 0, sizeof *m);
    m->steps = steps;
    m->real_data = data != NULL;
    m->fb_s = median(fb, steps);
    m->adam_s = median(ad, steps);
    m->step_s = f->accum * m->fb_s + m->adam_s;
    m->tokens_s = (double)f->batch_tokens / m->step_s;
    m->mfu = m->tokens_s * f->flops_token / env->rate;
    m->run_s = f->steps * m->step_s;
    m->hours_tokens = env->hours > 0 ? env->hours * 3600.0 * m->tokens_s : 0;
    m->loss = loss / steps;
    f->measured = 1;
done:
    free(x);
    free(fb);
    gpt_free(&g);
    kern_free(&kern);
    return rc;
}

static int parse_dim(const char **p, int *out)
{
    char *end;
    long v = strtol(*p, &end, 10);
    if (end == *p || v < 1 || v > 1 << 20) return -1;
    *out = (int)v;
    *p = end;
    return 0;
}

int plan_parse_shape(const char *s, GptConfig *c, Err *e)
{
    const char *p = s;
    int L, D, H;
    if (parse_dim(&p, &L) || (*p != 'x' && *p != 'X') || (++p, parse_dim(&p, &D)) ||
        (*p != 'x' && *p != 'X') || (++p, parse_dim(&p, &H)) || *p)
        return err_set(e, "shape '%s' is not LAYERSxWIDTHxHEADS (e.g. 36x1280x20)", s);
    if (L > 1000) return err_set(e, "shape '%s': layers must be 1..1000", s);
    if (D % H) return err_set(e, "shape '%s': width %d is not divisible by %d heads", s, D, H);
    c->n_layer = L;
    c->n_embd = D;
    c->n_head = H;
    c->n_mlp = 4 * D;
    return 0;
}

/* ---- budget ---- */

static int cmp_candidate(const void *a, const void *b)
{
    const PlanCandidate *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return x->f.cfg.n_layer - y->f.cfg.n_layer;
}

int plan_budget(const GptConfig *base, double n_params, int head_dim, const PlanEnv *env,
                PlanCandidate **out, size_t *n, Err *e)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    for (int D = head_dim; D <= 65536; D += head_dim) {
        /* per layer with MLP 4D: qkv 3D^2+3D, projection D^2+D, MLP 8D^2+5D, two LayerNorms 4D */
        double layer = 12.0 * D * D + 13.0 * D;
        double fixed = ((double)base->vocab_size + base->context) * D + 2.0 * D;
        if (fixed + layer > 1.1 * n_params) break;
        long L = lround((n_params - fixed) / layer);
        if (L < 1 || L > 1000) continue;
        GptConfig c = *base;
        c.n_layer = (int)L;
        c.n_embd = D;
        c.n_head = D / head_dim;
        c.n_mlp = 4 * D;
        PlanCandidate cand;
        if (plan_facts(&c, env, &cand.f, e)) {
            free(*out);
            *out = NULL;
            *n = 0;
            return -1;
        }
        if (fabs(cand.f.n_params - n_params) > 0.1 * n_params) continue;
        cand.score = fabs(log(D / plan_levine_width((double)L)));
        if (*n == cap) {
            cap = cap ? 2 * cap : 32;
            PlanCandidate *p = realloc(*out, cap * sizeof *p);
            if (!p) {
                free(*out);
                *out = NULL;
                *n = 0;
                return err_set(e, "out of memory");
            }
            *out = p;
        }
        (*out)[(*n)++] = cand;
    }
    if (*n) qsort(*out, *n, sizeof **out, cmp_candidate);
    return 0;
}

/* ---- printing ---- */

static const char *count(char *buf, size_t n, double v)
{
    if (v >= 1e12) snprintf(buf, n, "%.2fT", v / 1e12);
    else if (v >= 1e9) snprintf(buf, n, "%.2fB", v / 1e9);
    else if (v >= 1e6) snprintf(buf, n, "%.2fM", v / 1e6);
    else if (v >= 1e3) snprintf(buf, n, "%.1fk", v / 1e3);
    else snprintf(buf, n, "%.0f", v);
    return buf;
}

static const char *bytes(char *buf, size_t n, double v)
{
    if (v >= 1e9) snprintf(buf, n, "%.2f GB", v / 1e9);
    else snprintf(buf, n, "%.1f MB", v / 1e6);
    return buf;
}

/* GPU memory: in GiB, the unit of the vendors' "GB" */
static const char *gib(char *buf, size_t n, double v)
{
    if (v >= 1073741824.0) snprintf(buf, n, "%.2f GiB", v / 1073741824.0);
    else snprintf(buf, n, "%.1f MiB", v / 1048576.0);
    return buf;
}

/* Memory in the plan's unit: GB on the CPU, GiB on a GPU. */
static const char *mem_str(char *buf, size_t n, double v, const PlanEnv *env)
{
    return env->gpu ? gib(buf, n, v) : bytes(buf, n, v);
}

static const char *duration(char *buf, size_t n, double s)
{
    if (!isfinite(s)) snprintf(buf, n, "-");
    else if (s >= 86400 * 365.25) snprintf(buf, n, "%.1f years", s / (86400 * 365.25));
    else if (s >= 2 * 86400) snprintf(buf, n, "%.1f days", s / 86400);
    else if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60) snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else if (s >= 1) snprintf(buf, n, "%.2f s", s);
    else snprintf(buf, n, "%.1f ms", s * 1e3);
    return buf;
}

static const char *shape_name(char *buf, size_t n, const GptConfig *c)
{
    snprintf(buf, n, "%dx%dx%d", c->n_layer, c->n_embd, c->n_head);
    return buf;
}

#define CELL 64
typedef void (*CellFn)(char *buf, size_t n, const PlanFacts *f);

static void row(FILE *out, const char *label, const PlanFacts *facts, size_t n, CellFn fn)
{
    fprintf(out, "%-30s", label);
    for (size_t i = 0; i < n; i++) {
        char buf[CELL];
        fn(buf, sizeof buf, &facts[i]);
        fprintf(out, "  %-18s", buf);
    }
    fputc('\n', out);
}

#define C_(name) static void name(char *b, size_t n, const PlanFacts *f)
C_(c_shape) { shape_name(b, n, &f->cfg); }
C_(c_params) { count(b, n, f->n_params); }
C_(c_nonemb) { count(b, n, f->n_nonembed); }
C_(c_embshare) { snprintf(b, n, "%.0f%%", 100.0 * (1 - f->n_nonembed / f->n_params)); }
C_(c_mlp) { snprintf(b, n, "%d", f->cfg.n_mlp); }
C_(c_head) { snprintf(b, n, "%d%s", f->head_dim, f->head_dim < 32 ? " (small)" : f->head_dim > 128 ? " (large)" : ""); }
C_(c_memtot) { bytes(b, n, f->need_bytes); }
C_(c_memstate) { bytes(b, n, (double)(f->mem.params + f->mem.grads + f->mem.adam)); }
C_(c_memacts) { bytes(b, n, (double)(f->mem.acts + f->mem.scratch)); }
C_(c_mematt) { bytes(b, n, f->att_bytes); }
C_(c_fit) { snprintf(b, n, "%s", f->fit == FIT_YES ? "yes" : f->fit == FIT_NOT_NOW ? "not now (free)" : "NO"); }
C_(c_gtot) { gib(b, n, f->need_bytes); }
C_(c_gweights) { gib(b, n, (double)f->mem.params); }
C_(c_gstate) { gib(b, n, (double)(f->mem.grads + f->mem.adam)); }
C_(c_gacts) { gib(b, n, (double)f->mem.acts); }
C_(c_gscratch) { gib(b, n, (double)f->mem.scratch); }
C_(c_gatt) { gib(b, n, f->att_bytes); }
C_(c_gover) { if (f->overhead_bytes > 0) gib(b, n, f->overhead_bytes); else snprintf(b, n, "held (in free)"); }
C_(c_gfit) { snprintf(b, n, "%s", f->fit == FIT_YES ? "yes" : f->fix.found ? "NO (see below)" : "NO: nothing fits"); }
C_(c_flops) { count(b, n, f->flops_token); }
C_(c_batch) { snprintf(b, n, "%llu (x%d)", (unsigned long long)f->batch_tokens, f->accum); }
C_(c_step) { duration(b, n, f->step_s); }
C_(c_tokens) { count(b, n, f->tokens); }
C_(c_steps) { count(b, n, f->steps); }
C_(c_run) { duration(b, n, f->run_s); }
C_(c_mstep) { if (f->measured) duration(b, n, f->meas.step_s); else snprintf(b, n, "-"); }
C_(c_mtps) { if (f->measured) count(b, n, f->meas.tokens_s); else snprintf(b, n, "-"); }
C_(c_emfu) { snprintf(b, n, "%.0f%%", 100 * f->mfu); }
C_(c_mmfu) { if (f->measured) snprintf(b, n, "%.0f%%", 100 * f->meas.mfu); else snprintf(b, n, "-"); }
C_(c_mrun) { if (f->measured) duration(b, n, f->meas.run_s); else snprintf(b, n, "-"); }
C_(c_mhours) { if (f->measured) count(b, n, f->meas.hours_tokens); else snprintf(b, n, "-"); }
C_(c_epochs) { snprintf(b, n, "%.2f", f->epochs); }
C_(c_hours) { count(b, n, f->hours_tokens); }
C_(c_chin20) { count(b, n, f->chin_tokens); }
C_(c_chinloss) {
    if (f->chin_na) snprintf(b, n, "n/a: %s", f->chin_na);
    else snprintf(b, n, "%.3f", f->chin_loss);
}
C_(c_flopsC) { snprintf(b, n, "%.2e", f->flops); }
C_(c_chinopt) {
    char x[24], y[24];
    snprintf(b, n, "%s, %s", count(x, sizeof x, f->chin_opt_n), count(y, sizeof y, f->chin_opt_d));
}
C_(c_chinoptloss) { snprintf(b, n, "%.3f", f->chin_opt_loss); }
C_(c_kaplan) {
    if (f->kaplan_na) snprintf(b, n, "n/a: %s", f->kaplan_na);
    else snprintf(b, n, "%.3f", f->kaplan_loss);
}
C_(c_kaplaninf) {
    if (f->kaplan_na) snprintf(b, n, "n/a");
    else snprintf(b, n, "%.3f", f->kaplan_loss_inf);
}
C_(c_levdepth) { if (f->levine_depth < 1) snprintf(b, n, "< 1"); else snprintf(b, n, "%.1f", f->levine_depth); }
C_(c_levwidth) { snprintf(b, n, "%.0f", f->levine_width); }
C_(c_verdict) { snprintf(b, n, "%s%s", plan_levine_name(f->verdict), f->levine_in_range ? "" : " (extrap.)"); }
C_(c_levshape) { snprintf(b, n, "%.0f x %.0f", f->levine_opt_depth, f->levine_opt_width); }
#undef C_

/* The GPU's lines under the table's first: its memory and rate, and where they come from. */
static void gpu_header(FILE *out, const PlanEnv *env)
{
    char b1[32];
    const char *kind = env->prec == PREC_BF16 ? "dense bf16, float32 accumulation" : "fp32, no tensor cores";
    gib(b1, sizeof b1, env->mem_limit);
    if (env->vendor_rate > 0)
        fprintf(out, "GPU %s: %s (%s); %.4g TFLOP/s %s (the vendor's)\n", env->gpu_name, b1, env->mem_from,
                env->vendor_rate / 1e12, kind);
    else
        fprintf(out, "GPU %s: %s (%s)\n", env->gpu_name, b1, env->mem_from);
    if (env->parts)
        fprintf(out, "times by part (matrix products at %.0f%% of %.1f TFLOP/s (%s); attention, elementwise\n"
                     "  kernels, classifier and AdamW as on an H200, scaled by the matrix rate)\n",
                100 * PLAN_GPU_MM_EFF, env->rate / 1e12, env->rate_from);
    else
        fprintf(out, "times at %.1f%% MFU of %.1f TFLOP/s (%s)\n", 100 * env->mfu, env->rate / 1e12, env->rate_from);
}

void plan_print_table(FILE *out, const PlanFacts *facts, size_t n, const PlanEnv *env)
{
    const PlanFacts *f0 = &facts[0];
    char b1[32], b2[64];
    if (env->gpu) {
        fprintf(out, "model plan: vocabulary %d, context %d, micro-batch %d%s; GPU %s, %s\n", f0->cfg.vocab_size,
                f0->cfg.context, env->micro_batch, env->recompute ? ", --recompute" : "", env->gpu_name,
                env->prec == PREC_BF16 ? "bf16" : "fp32");
        gpu_header(out, env);
    } else {
        fprintf(out, "model plan: vocabulary %d, context %d, micro-batch %d; sgemm %.1f GFLOP/s, "
                     "times at %.0f%% of it (MFU)\n",
                f0->cfg.vocab_size, f0->cfg.context, env->micro_batch, env->rate / 1e9, 100 * env->mfu);
    }
    if (f0->measured)
        fprintf(out, "measured: %d training step%s after a warm-up, %u thread%s, %s\n", f0->meas.steps,
                f0->meas.steps == 1 ? "" : "s", env->threads, env->threads == 1 ? "" : "s",
                f0->meas.real_data ? "windows of --data" : "random tokens");
    row(out, "shape (layers x width x heads)", facts, n, c_shape);
    row(out, "parameters", facts, n, c_params);
    row(out, "  without embeddings", facts, n, c_nonemb);
    row(out, "  embedding share", facts, n, c_embshare);
    row(out, "MLP width", facts, n, c_mlp);
    row(out, "head dimension", facts, n, c_head);
    if (env->gpu) {
        int bf16 = env->prec == PREC_BF16;
        row(out, bf16 ? "GPU memory (bf16)" : "GPU memory (fp32)", facts, n, c_gtot);
        row(out, bf16 ? "  weights: fp32 + bf16 copy" : "  weights (fp32)", facts, n, c_gweights);
        row(out, "  fp32 gradients+AdamW", facts, n, c_gstate);
        row(out, bf16 ? "  activations (bf16)" : "  activations (fp32)", facts, n, c_gacts);
        row(out, "  scratch+workspace", facts, n, c_gscratch);
        row(out, bf16 ? "  of which attention: LSE" : "  of which attention: TxT", facts, n, c_gatt);
        row(out, "  CUDA context+allocator", facts, n, c_gover);
        snprintf(b2, sizeof b2, "fits %s?", gib(b1, sizeof b1, env->mem_limit));
        row(out, b2, facts, n, c_gfit);
    } else {
        row(out, "training memory", facts, n, c_memtot);
        row(out, "  weights+grads+AdamW", facts, n, c_memstate);
        row(out, "  activations+scratch", facts, n, c_memacts);
        row(out, "  of which attention probs", facts, n, c_mematt);
        snprintf(b2, sizeof b2, "fits %s?", bytes(b1, sizeof b1, env->mem_avail > 0 ? env->mem_avail : env->mem_limit));
        row(out, b2, facts, n, c_fit);
    }
    const char *per = env->gpu ? "matmul" : "sgemm";
    row(out, "FLOPs a token (6N+12LDT)", facts, n, c_flops);
    row(out, "tokens a step (x accum)", facts, n, c_batch);
    if (env->parts) {
        row(out, "time a step (by part)", facts, n, c_step);
        row(out, "  MFU (of the matrix rate)", facts, n, c_emfu);
    } else {
        snprintf(b2, sizeof b2, "time a step (%s x %.0f%%)", per, 100 * env->mfu);
        row(out, b2, facts, n, c_step);
    }
    if (f0->measured) {
        row(out, "time a step (measured)", facts, n, c_mstep);
        row(out, "  tokens/s (measured)", facts, n, c_mtps);
        row(out, "  MFU (measured)", facts, n, c_mmfu);
    }
    snprintf(b2, sizeof b2, "tokens (%s)", f0->tokens_from);
    row(out, b2, facts, n, c_tokens);
    row(out, "  steps", facts, n, c_steps);
    if (env->parts) snprintf(b2, sizeof b2, "  time (by part)");
    else snprintf(b2, sizeof b2, "  time (%s x %.0f%%)", per, 100 * env->mfu);
    row(out, b2, facts, n, c_run);
    if (f0->measured) row(out, "  time (measured)", facts, n, c_mrun);
    if (env->data_tokens > 0) row(out, "  epochs of --data", facts, n, c_epochs);
    if (env->hours > 0) {
        snprintf(b2, sizeof b2, "tokens in %.3g hours", env->hours);
        row(out, b2, facts, n, c_hours);
        if (f0->measured) row(out, "  at the measured rate", facts, n, c_mhours);
    }
    row(out, "Chinchilla 20 tokens/param", facts, n, c_chin20);
    row(out, "Chinchilla fit loss", facts, n, c_chinloss);
    row(out, "  compute C = 6ND (FLOP)", facts, n, c_flopsC);
    row(out, "  fit's optimum N, D for C", facts, n, c_chinopt);
    row(out, "  fit's loss at optimum", facts, n, c_chinoptloss);
    row(out, "Kaplan L(N,D)", facts, n, c_kaplan);
    row(out, "  with unlimited data", facts, n, c_kaplaninf);
    row(out, "Levine best depth for width", facts, n, c_levdepth);
    row(out, "  best width for depth", facts, n, c_levwidth);
    row(out, "  verdict", facts, n, c_verdict);
    row(out, "  fit's shape at this size", facts, n, c_levshape);
}

static void head_note(FILE *out, const PlanFacts *f, const PlanEnv *env)
{
    int hd = f->head_dim;
    char b[32];
    if (env->gpu && env->prec == PREC_BF16 && hd <= KERN_CUDA_BF16_MAX_HEAD_DIM) {
        /* flash attention: a log-sum-exp a row whatever the heads, never (T,T) */
        if (hd < 32)
            fprintf(out,
                    "  - Heads of %d dimensions are small: each head's attention scores are a rank-%d\n"
                    "    product (Bhojanapalli et al. 2020, arXiv 2002.07028: a low-rank bottleneck when\n"
                    "    the head dimension is below the context), and the attention kernel's work a head\n"
                    "    is thin. In bf16 they cost no attention memory: no (T,T) probabilities are kept.\n",
                    hd, hd);
        else
            fprintf(out, "  - Head dimension %d is in the usual range (GPT-2 uses 64 at every size, GPT-3\n"
                         "    64 to 128); heads change neither parameters nor FLOPs, nor in bf16 memory.\n",
                    hd);
        return;
    }
    if (hd < 32)
        fprintf(out,
                "  - Heads of %d dimensions are small: each head's attention scores are a rank-%d\n"
                "    product (Bhojanapalli et al. 2020, arXiv 2002.07028: a low-rank bottleneck when\n"
                "    the head dimension is below the context), the trainer's per-head products are thin\n"
                "    (they run below the sgemm rate), and %d heads keep %s of attention probabilities.\n",
                hd, hd, f->cfg.n_head, mem_str(b, sizeof b, f->att_bytes, env));
    else if (hd > 128)
        fprintf(out,
                "  - Heads of %d dimensions are large: only %d attention patterns a layer; GPT-2 uses 64\n"
                "    at every size and GPT-3 64 to 128. Same parameters and FLOPs either way.\n",
                hd, f->cfg.n_head);
    else
        fprintf(out, "  - Head dimension %d is in the usual range (GPT-2 uses 64 at every size, GPT-3\n"
                     "    64 to 128); heads change neither parameters nor FLOPs, only attention memory.\n",
                hd);
}

/* Where the GPU plan's memory limit comes from: "the RTX 4090's 24.00 GiB". */
static const char *gpu_where(char *buf, size_t n, const PlanEnv *env)
{
    char b[32];
    gib(b, sizeof b, env->mem_limit);
    if (env->vendor_rate > 0 || env->gpu_overhead > 0) snprintf(buf, n, "the %s's %s", env->gpu_name, b);
    else snprintf(buf, n, "the %s free on %s", b, env->gpu_name);
    return buf;
}

/* A GPU plan's memory, by part, and the fit: why not, and what fits. */
static void gpu_notes(FILE *out, const PlanFacts *f, const PlanEnv *env)
{
    char b1[32], b2[32], b3[32], where[96];
    int bf16 = env->prec == PREC_BF16;
    gpu_where(where, sizeof where, env);
    int alone = bf16 && env->no_master;
    fprintf(out, "  - GPU memory, the GPU trainer's layout in %s%s (%d bytes a parameter before activations):\n",
            bf16 ? "bf16" : "fp32", alone ? " with --master-weights off" : "", alone ? 14 : bf16 ? 18 : 16);
    if (alone)
        fprintf(out, "      bf16 weights %s (no float32 master copy)\n", gib(b1, sizeof b1, f->copy_bytes));
    else if (bf16)
        fprintf(out, "      float32 master weights %s, their bf16 working copy %s\n", gib(b1, sizeof b1, f->master_bytes),
                gib(b2, sizeof b2, f->copy_bytes));
    else
        fprintf(out, "      float32 weights %s\n", gib(b1, sizeof b1, f->master_bytes));
    fprintf(out, "      float32 gradients %s, AdamW moments %s\n", gib(b1, sizeof b1, (double)f->mem.grads),
            gib(b2, sizeof b2, (double)f->mem.adam));
    fprintf(out, "      %s activations %s (micro-batch %d x %d%s)\n", bf16 ? "bf16" : "fp32",
            gib(b1, sizeof b1, (double)f->mem.acts), env->micro_batch, f->cfg.context,
            env->recompute ? ", --recompute" : "");
    fprintf(out, "      the backward's scratch and cuBLASLt's workspace %s\n", gib(b1, sizeof b1, (double)f->mem.scratch));
    if (f->overhead_bytes > 0)
        fprintf(out, "      CUDA context and allocator %s (as measured on an H200)\n",
                gib(b1, sizeof b1, f->overhead_bytes));
    else
        fprintf(out, "      CUDA context and allocator: held already, outside the free figure\n");
    if (bf16)
        fprintf(out, "    Of these, attention takes %s: flash attention keeps a log-sum-exp a row, no\n"
                     "    (T,T) probabilities, so the heads cost no attention memory.\n",
                gib(b1, sizeof b1, f->att_bytes));
    else
        fprintf(out, "    Of these, attention takes %s: fp32 attention keeps the (T,T) probabilities of\n"
                     "    every layer and head, which grow with the heads (bf16's flash attention keeps none).\n",
                gib(b1, sizeof b1, f->att_bytes));
    if (f->fit == FIT_YES) {
        fprintf(out, "  - Fits %s, %s to spare.\n", where, gib(b1, sizeof b1, env->mem_limit - f->need_bytes));
        return;
    }
    const PlanFix *x = &f->fix;
    if (f->head_too_wide) {
        fprintf(out, "  - Heads of %d dimensions: the GPU's bf16 attention takes 1 to %d (model train refuses\n"
                     "    the shape): more heads, or --precision fp32.\n",
                f->head_dim, KERN_CUDA_BF16_MAX_HEAD_DIM);
        return;
    }
    if (x->found) {
        fprintf(out, "  - Does not fit %s: it needs %s, of which activations %s.\n", where,
                gib(b1, sizeof b1, f->need_bytes), gib(b2, sizeof b2, (double)f->mem.acts));
        if (x->micro_batch == env->micro_batch)
            fprintf(out, "    Fits with %s: LayerNorm and GELU outputs kept for one layer and\n"
                         "    recomputed in the backward (the same results): %s in all.\n",
                    x->flags, gib(b3, sizeof b3, x->need_bytes));
        else
            fprintf(out, "    Fits with %s:\n"
                         "    LayerNorm and GELU outputs kept for one layer and recomputed in the backward (the\n"
                         "    same results), and micro-batches of %d, %d of them accumulated into each step of\n"
                         "    %llu tokens as before: %s in all.\n",
                    x->flags, x->micro_batch, x->accum, (unsigned long long)x->batch_tokens,
                    gib(b3, sizeof b3, x->need_bytes));
        if (x->no_master && !env->no_master)
            fprintf(out, "    --master-weights off keeps the weights in bf16 alone, with no float32 master copy\n"
                         "    (4 bytes a parameter less); AdamW rounds its updates into them stochastically, so\n"
                         "    small updates survive on average (llm.c offers the same).\n");
        return;
    }
    if (x->state_bytes > env->mem_limit) {
        double np = (double)gpt_n_params(&f->cfg);
        fprintf(out, "  - Nothing fits %s. Float32 master weights, gradients and AdamW\n"
                     "    moments are 16 bytes a parameter (%s)",
                where, gib(b1, sizeof b1, 16 * np));
        if (bf16) fprintf(out, " and the bf16 working copy 2 more (%s)", gib(b2, sizeof b2, f->copy_bytes));
        fprintf(out, ":\n    with the CUDA context, %s before any activation. %s, or a smaller shape.\n",
                gib(b3, sizeof b3, x->state_bytes),
                bf16 ? "No --micro-batch, --recompute\n    or --master-weights off (14 bytes a parameter) changes "
                       "that: a GPU with more\n    memory does"
                     : "No --micro-batch or --recompute\n    changes that: a GPU with more memory does");
        return;
    }
    fprintf(out, "  - Nothing fits %s: even micro-batch 1 with --recompute needs %s (%s of it\n"
                 "    before any activation): a shorter --context, or a GPU with more memory.\n",
            where, gib(b1, sizeof b1, x->min_bytes), gib(b2, sizeof b2, x->state_bytes));
}

/* Under a fit's paragraph: why it does not apply here (na, as plan_facts set
 * it), or nothing when it does; outside is the text for a shape outside the
 * sizes it was fitted on. */
static void fit_na_note(FILE *out, const char *na, int vocab_size, const char *outside)
{
    if (na == PLAN_ABOVE_LN_V)
        fprintf(out, "    That loss is above ln V = %.3f, what guessing uniformly over this vocabulary of %d\n"
                     "    scores: the fit does not apply to this vocabulary and data.\n",
                log((double)vocab_size), vocab_size);
    else if (na)
        fputs(outside, out);
}

void plan_print_reasons(FILE *out, const PlanFacts *facts, size_t n, const PlanEnv *env)
{
    for (size_t i = 0; i < n; i++) {
        const PlanFacts *f = &facts[i];
        char s[32], b1[24], b2[24], b3[24], b4[24];
        fprintf(out, "\n%s: %s parameters (%s without embeddings)\n", shape_name(s, sizeof s, &f->cfg),
                count(b1, sizeof b1, f->n_params), count(b2, sizeof b2, f->n_nonembed));
        fprintf(out,
                "  - Chinchilla (Hoffmann et al. 2022): about 20 tokens a parameter -> %s tokens. Their\n"
                "    approach-3 fit L = 1.69 + 406.4/N^0.34 + 410.7/D^0.28 gives %.3f at %s tokens; for\n"
                "    that compute (C = 6ND = %.2e FLOP) the fit's optimum is N = %s, D = %s\n"
                "    (%.0f tokens a parameter, loss %.3f): the fit favours %s than the rule of thumb.\n",
                count(b1, sizeof b1, f->chin_tokens), f->chin_loss, count(b2, sizeof b2, f->tokens),
                f->flops, count(b3, sizeof b3, f->chin_opt_n), count(b4, sizeof b4, f->chin_opt_d),
                f->chin_opt_d / f->chin_opt_n, f->chin_opt_loss,
                f->chin_opt_d / f->chin_opt_n > CHIN_TOKENS_PER_PARAM ? "more tokens" : "fewer tokens");
        fit_na_note(out, f->chin_na, f->cfg.vocab_size,
                    "    They trained 70M to 16B parameters on 5B to 500B tokens: outside that the fit does\n"
                    "    not apply, and its figures here are an extrapolation to compare with, not a prediction.\n");
        fprintf(out,
                "  - Kaplan et al. 2020: L(N,D) = [(6.4e13/N)^(0.076/0.103) + 1.8e13/D]^0.103 with N\n"
                "    without embeddings = %.3f (%.3f with unlimited data). They found the shape matters\n"
                "    little at a fixed N (a few percent of loss over a wide range of depth/width): N and\n"
                "    D are the levers, the aspect ratio is the fine tuning.\n",
                f->kaplan_loss, f->kaplan_loss_inf);
        fit_na_note(out, f->kaplan_na, f->cfg.vocab_size,
                    "    They trained 768 to 1.5B non-embedding parameters on 22M to 23B tokens: outside that\n"
                    "    the fit does not apply, and its figures here are an extrapolation, not a prediction.\n");
        char best[64];
        if (f->levine_depth < 1) snprintf(best, sizeof best, "is narrower than its 1-layer width (%.0f)", plan_levine_width(1));
        else snprintf(best, sizeof best, "is best at %.1f layers", f->levine_depth);
        fprintf(out,
                "  - Levine et al. 2020 (arXiv 2006.12467), fit d = exp(5.039 + 0.0555 L) (quoted, not\n"
                "    checked against the paper's text): width %d %s; %d layers is\n"
                "    %s for its width%s. At this size the fit's shape is %.0f layers x %.0f.\n",
                f->cfg.n_embd, best, f->cfg.n_layer, plan_levine_name(f->verdict),
                f->levine_in_range ? "" : " (outside the 6-48 layers they trained: an extrapolation)",
                f->levine_opt_depth, f->levine_opt_width);
        head_note(out, f, env);
        if (f->measured) {
            const PlanMeasure *m = &f->meas;
            char b5[24], b6[24], b7[24];
            fprintf(out,
                    "  - Measured here: %s a step (forward+backward %s x %d, AdamW %s), %s tokens/s,\n"
                    "    MFU %.0f%% of the sgemm rate (the estimate said %s a step): the run takes %s\n"
                    "    at the measured rate, %s at the estimate.\n",
                    duration(b1, sizeof b1, m->step_s), duration(b2, sizeof b2, m->fb_s), f->accum,
                    duration(b3, sizeof b3, m->adam_s), count(b4, sizeof b4, m->tokens_s), 100 * m->mfu,
                    duration(b5, sizeof b5, f->step_s), duration(b6, sizeof b6, m->run_s),
                    duration(b7, sizeof b7, f->run_s));
        }
        if (f->hours_tokens > 0 && strcmp(f->tokens_from, "--hours")) {
            char b5[24];
            double r = f->tokens / f->hours_tokens;
            fprintf(out, "  - Time: %s tokens take %.*fx the --hours budget, which trains %s tokens (%.2g a\n"
                         "    parameter)%s.\n",
                    count(b1, sizeof b1, f->tokens), r >= 10 ? 0 : 2, r, count(b5, sizeof b5, f->hours_tokens),
                    f->hours_tokens / f->n_params, r > 1 ? ": a smaller model, or more time" : "");
        }
        if (env->gpu) gpu_notes(out, f, env);
        else if (f->fit != FIT_YES)
            fprintf(out, "  - Training memory %s %s.\n", bytes(b1, sizeof b1, f->need_bytes),
                    f->fit == FIT_NO ? "does not fit this machine: lower --micro-batch or --context"
                                     : "fits this machine but not what is free now");
    }
    if (n > 1) {
        const PlanFacts *a = &facts[0];
        for (size_t i = 1; i < n; i++) {
            const PlanFacts *f = &facts[i];
            double r = f->n_params / a->n_params;
            if (fabs(r - 1) < 0.05) continue;
            char s1[32], s2[32];
            fprintf(out,
                    "\nNote: %s has %.2fx the parameters of %s: heads change neither parameters nor\n"
                    "FLOPs, only depth and width do, so this compares sizes more than shapes (Kaplan's\n"
                    "loss differs by %+.3f). For shapes of one size: --budget %.0f.\n",
                    shape_name(s1, sizeof s1, &f->cfg), r, shape_name(s2, sizeof s2, &a->cfg),
                    f->kaplan_loss - a->kaplan_loss, a->n_params);
        }
    }
    fputs("\nThe losses are the papers' fits in nats a token on their data and tokenizers (MassiveText,\n"
          "WebText2): use them to compare shapes, not as the loss your data will reach.\n",
          out);
}

static void print_budget(FILE *out, const PlanCandidate *c, size_t n, size_t top, double budget,
                         const PlanEnv *env)
{
    char b1[32], b2[32], b3[32], b4[32];
    if (env->gpu) {
        fprintf(out, "model plan: shapes of %s parameters (within 10%%), vocabulary %d, context %d, ranked by\n"
                     "distance to Levine et al.'s depth-to-width fit; GPU %s, %s, micro-batch %d%s\n",
                count(b1, sizeof b1, budget), n ? c[0].f.cfg.vocab_size : 0, n ? c[0].f.cfg.context : 0,
                env->gpu_name, env->prec == PREC_BF16 ? "bf16" : "fp32", env->micro_batch,
                env->recompute ? ", --recompute" : "");
        gpu_header(out, env);
    } else {
        fprintf(out, "model plan: shapes of %s parameters (within 10%%), vocabulary %d, context %d, ranked by\n"
                     "distance to Levine et al.'s depth-to-width fit; sgemm %.1f GFLOP/s at %.0f%% MFU\n",
                count(b1, sizeof b1, budget), n ? c[0].f.cfg.vocab_size : 0, n ? c[0].f.cfg.context : 0,
                env->rate / 1e9, 100 * env->mfu);
    }
    if (!n) {
        fputs("  no shape: the embeddings alone are larger than the budget\n", out);
        return;
    }
    fprintf(out, "%4s  %-14s %9s %8s %10s %9s %10s  %s\n", "rank", "shape", "params", "head", "memory",
            "FLOP/tok", "20 tok/p", "why");
    for (size_t i = 0; i < n && i < top; i++) {
        const PlanFacts *f = &c[i].f;
        char s[32], why[256], fit[128] = "";
        double emb = 1 - f->n_nonembed / f->n_params;
        if (f->fit == FIT_NO && env->gpu && f->fix.found) snprintf(fit, sizeof fit, "; fits with %s", f->fix.flags);
        else if (f->fit == FIT_NO) snprintf(fit, sizeof fit, "; does NOT fit in memory");
        snprintf(why, sizeof why, "best depth for width %d is %.1f: %s%s%s%s", f->cfg.n_embd,
                 f->levine_depth, plan_levine_name(f->verdict),
                 f->levine_in_range ? "" : " (extrapolated)", emb > 0.5 ? "; embeddings are most of it" : "", fit);
        fprintf(out, "%4zu  %-14s %9s %8d %10s %9s %10s  %s\n", i + 1, shape_name(s, sizeof s, &f->cfg),
                count(b1, sizeof b1, f->n_params), f->head_dim, mem_str(b2, sizeof b2, f->need_bytes, env),
                count(b3, sizeof b3, f->flops_token), count(b4, sizeof b4, f->chin_tokens), why);
    }
    if (n > top) fprintf(out, "  ... %zu more (--top N)\n", n - top);
    fputs("Kaplan et al. 2020: at a fixed size these differ by a few percent of loss at most; Levine's fit\n"
          "(quoted, not checked against the paper's text) says which depth suits which width.\n",
          out);
}

/* ---- JSON ---- */

static json_t *facts_json(const PlanFacts *f, const PlanEnv *env)
{
    json_t *o = json_object();
    char s[32];
    json_object_set_new(o, "shape", json_string(shape_name(s, sizeof s, &f->cfg)));
    json_object_set_new(o, "layers", json_integer(f->cfg.n_layer));
    json_object_set_new(o, "width", json_integer(f->cfg.n_embd));
    json_object_set_new(o, "heads", json_integer(f->cfg.n_head));
    json_object_set_new(o, "mlp", json_integer(f->cfg.n_mlp));
    json_object_set_new(o, "vocab_size", json_integer(f->cfg.vocab_size));
    json_object_set_new(o, "context", json_integer(f->cfg.context));
    json_object_set_new(o, "params", json_integer((json_int_t)f->n_params));
    json_object_set_new(o, "params_nonembedding", json_integer((json_int_t)f->n_nonembed));
    json_object_set_new(o, "head_dim", json_integer(f->head_dim));
    json_t *m = json_object();
    json_object_set_new(m, "weights", json_integer((json_int_t)f->mem.params));
    json_object_set_new(m, "grads", json_integer((json_int_t)f->mem.grads));
    json_object_set_new(m, "adamw", json_integer((json_int_t)f->mem.adam));
    json_object_set_new(m, "activations", json_integer((json_int_t)f->mem.acts));
    json_object_set_new(m, "scratch", json_integer((json_int_t)f->mem.scratch));
    json_object_set_new(m, "attention_probs", json_integer((json_int_t)f->att_bytes));
    json_object_set_new(m, "total", json_integer((json_int_t)f->need_bytes));
    json_object_set_new(m, "fits", json_string(f->fit == FIT_YES ? "yes" : f->fit == FIT_NOT_NOW ? "not now" : "no"));
    if (env->gpu) {
        /* the GPU's parts: weights = master_weights + working_copy, attention_probs is
         * the attention's state and scratch (bf16: log-sum-exps, no probabilities) */
        json_object_set_new(m, "master_weights", json_integer((json_int_t)f->master_bytes));
        json_object_set_new(m, "working_copy", json_integer((json_int_t)f->copy_bytes));
        json_object_set_new(m, "cuda_context_allocator", json_integer((json_int_t)f->overhead_bytes));
        if (f->head_too_wide) json_object_set_new(m, "head_too_wide", json_true());
        if (f->fit == FIT_NO) {
            const PlanFix *x = &f->fix;
            json_t *j = json_object();
            json_object_set_new(j, "found", json_boolean(x->found));
            if (x->found) {
                json_object_set_new(j, "flags", json_string(x->flags));
                json_object_set_new(j, "recompute", json_boolean(x->recompute));
                json_object_set_new(j, "master_weights", json_boolean(!x->no_master));
                json_object_set_new(j, "micro_batch", json_integer(x->micro_batch));
                json_object_set_new(j, "batch_tokens", json_integer((json_int_t)x->batch_tokens));
                json_object_set_new(j, "accumulation", json_integer(x->accum));
                json_object_set_new(j, "total", json_integer((json_int_t)x->need_bytes));
            }
            json_object_set_new(j, "state_bytes", json_integer((json_int_t)x->state_bytes));
            json_object_set_new(j, "least_bytes", json_integer((json_int_t)x->min_bytes));
            json_object_set_new(m, "fix", j);
        }
    }
    json_object_set_new(o, "memory_bytes", m);
    json_object_set_new(o, "flops_per_token", json_real(f->flops_token));
    json_object_set_new(o, "batch_tokens", json_integer((json_int_t)f->batch_tokens));
    json_object_set_new(o, "accumulation", json_integer(f->accum));
    json_object_set_new(o, "step_seconds", json_real(f->step_s));
    json_object_set_new(o, "mfu", json_real(f->mfu));
    json_object_set_new(o, "tokens", json_real(f->tokens));
    json_object_set_new(o, "tokens_from", json_string(f->tokens_from));
    json_object_set_new(o, "steps", json_real(f->steps));
    json_object_set_new(o, "run_seconds", json_real(f->run_s));
    if (f->measured) {
        const PlanMeasure *ms = &f->meas;
        json_t *j = json_object();
        json_object_set_new(j, "steps", json_integer(ms->steps));
        json_object_set_new(j, "warmup_steps", json_integer(1));
        json_object_set_new(j, "tokens_from", json_string(ms->real_data ? "--data" : "random"));
        json_object_set_new(j, "forward_backward_seconds", json_real(ms->fb_s));
        json_object_set_new(j, "adamw_seconds", json_real(ms->adam_s));
        json_object_set_new(j, "step_seconds", json_real(ms->step_s));
        json_object_set_new(j, "tokens_per_second", json_real(ms->tokens_s));
        json_object_set_new(j, "mfu", json_real(ms->mfu));
        json_object_set_new(j, "run_seconds", json_real(ms->run_s));
        if (ms->hours_tokens > 0) json_object_set_new(j, "tokens_in_hours", json_real(ms->hours_tokens));
        json_object_set_new(j, "loss", json_real(ms->loss));
        json_object_set_new(o, "measured", j);
    }
    if (f->epochs > 0) json_object_set_new(o, "epochs", json_real(f->epochs));
    if (f->hours_tokens > 0) json_object_set_new(o, "tokens_in_hours", json_real(f->hours_tokens));
    json_t *c = json_object();
    json_object_set_new(c, "source", json_string("Hoffmann et al. 2022, approach 3: L = 1.69 + 406.4/N^0.34 + 410.7/D^0.28"));
    json_object_set_new(c, "tokens_20_per_param", json_real(f->chin_tokens));
    json_object_set_new(c, "loss", json_real(f->chin_loss));
    json_object_set_new(c, "applies", json_boolean(!f->chin_na));
    if (f->chin_na) json_object_set_new(c, "why_not", json_string(f->chin_na));
    json_object_set_new(c, "compute_flops", json_real(f->flops));
    json_object_set_new(c, "optimal_params", json_real(f->chin_opt_n));
    json_object_set_new(c, "optimal_tokens", json_real(f->chin_opt_d));
    json_object_set_new(c, "optimal_loss", json_real(f->chin_opt_loss));
    json_object_set_new(o, "chinchilla", c);
    json_t *k = json_object();
    json_object_set_new(k, "source", json_string("Kaplan et al. 2020: L = [(6.4e13/N)^(0.076/0.103) + 1.8e13/D]^0.103, N non-embedding"));
    json_object_set_new(k, "loss", json_real(f->kaplan_loss));
    json_object_set_new(k, "applies", json_boolean(!f->kaplan_na));
    if (f->kaplan_na) json_object_set_new(k, "why_not", json_string(f->kaplan_na));
    json_object_set_new(k, "loss_unlimited_data", json_real(f->kaplan_loss_inf));
    json_object_set_new(o, "kaplan", k);
    json_t *l = json_object();
    json_object_set_new(l, "source", json_string("Levine et al. 2020 (arXiv 2006.12467): d = exp(5.039 + 0.0555 L), quoted, not checked against the paper's text"));
    json_object_set_new(l, "best_depth_for_width", json_real(f->levine_depth));
    json_object_set_new(l, "best_width_for_depth", json_real(f->levine_width));
    json_object_set_new(l, "verdict", json_string(plan_levine_name(f->verdict)));
    json_object_set_new(l, "in_fitted_range", json_boolean(f->levine_in_range));
    json_object_set_new(l, "shape_at_this_size_layers", json_real(f->levine_opt_depth));
    json_object_set_new(l, "shape_at_this_size_width", json_real(f->levine_opt_width));
    json_object_set_new(o, "levine", l);
    return o;
}

char *plan_json(const PlanFacts *facts, size_t n, const PlanEnv *env, const char *mode, double budget)
{
    json_t *root = json_object();
    json_object_set_new(root, "mode", json_string(mode));
    if (budget > 0) json_object_set_new(root, "budget", json_real(budget));
    json_t *m = json_object();
    if (env->gpu) {
        json_object_set_new(m, "device", json_string("cuda"));
        json_object_set_new(m, "gpu", json_string(env->gpu_name));
        json_object_set_new(m, "precision", json_string(env->prec == PREC_BF16 ? "bf16" : "fp32"));
        json_object_set_new(m, "matmul_flops", json_real(env->rate));
        json_object_set_new(m, "matmul_flops_from", json_string(env->rate_from));
        if (env->vendor_rate > 0) json_object_set_new(m, "vendor_flops", json_real(env->vendor_rate));
        json_object_set_new(m, "cuda_context_allocator_bytes", json_real(env->gpu_overhead));
        json_object_set_new(m, "recompute", json_boolean(env->recompute));
    } else {
        json_object_set_new(m, "sgemm_flops", json_real(env->rate));
        if (env->recompute) json_object_set_new(m, "recompute", json_true());
    }
    if (env->parts) json_object_set_new(m, "step_time", json_string("by part"));
    else json_object_set_new(m, "mfu", json_real(env->mfu));
    json_object_set_new(m, "memory_limit_bytes", json_real(env->mem_limit));
    if (env->mem_avail > 0) json_object_set_new(m, "memory_available_bytes", json_real(env->mem_avail));
    json_object_set_new(m, "micro_batch", json_integer(env->micro_batch));
    if (env->threads) json_object_set_new(m, "threads", json_integer(env->threads));
    json_object_set_new(root, "machine", m);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, facts_json(&facts[i], env));
    json_object_set_new(root, "shapes", a);
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(root);
    return s;
}

/* ---- the subcommand ---- */

/* Training tokens, windows, vocabulary and context of a packer folder; keep:
 * the mapped training shards (for --measure; caller frees with shards_free),
 * NULL: none kept. */
static int read_data(const char *dir, int context, double *tokens, double *windows, int *vocab,
                     int *meta_context, Shards *keep, Err *e)
{
    DataMeta meta;
    Shards train, val;
    if (data_scan(dir, &meta, &train, &val, e)) {
        shards_free(&train);
        shards_free(&val);
        return -1;
    }
    int T = context ? context : meta.context ? meta.context : 1024;
    int rc = shards_map(&train, T, meta.best_fit, e);
    if (!rc) {
        *tokens = (double)train.n_tokens;
        *windows = (double)train.n_windows;
        *vocab = meta.vocab_size;
        *meta_context = meta.context;
    }
    if (!rc && keep) *keep = train;
    else shards_free(&train);
    shards_free(&val);
    return rc;
}

/* Refuse --measure when a shape's training memory exceeds what this machine
 * has free (whatever --memory says: the steps run here). 0 or -1 with a message. */
static int measure_fits(const PlanFacts *facts, size_t n, const PlanEnv *env, Err *e)
{
    double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
    double avail = train_mem_available();
    double have = avail > 0 ? avail : phys;
    for (size_t i = 0; i < n; i++) {
        const PlanFacts *f = &facts[i];
        if (f->need_bytes <= have) continue;
        char s[32], b1[24], b2[24];
        return err_set(e, "--measure: %s needs %s to train (micro-batch %d x context %d) but this machine "
                          "has %s %s: no steps run; lower --micro-batch or --context, or plan without --measure",
                       shape_name(s, sizeof s, &f->cfg), bytes(b1, sizeof b1, f->need_bytes), env->micro_batch,
                       f->cfg.context, bytes(b2, sizeof b2, have), avail > 0 ? "available" : "of memory");
    }
    return 0;
}

void plan_opts_init(PlanOpts *o)
{
    *o = (PlanOpts){ .micro = 8, .top = 10, .head_dim = 64, .dev = DEVICE_OPTS_AUTO };
}

/* The GPU of a GPU plan: --gpu's vendor figures, or this machine's GPU
 * (--device cuda): its matrix rate in the precision, measured with cuBLASLt as
 * model train measures it, and its free memory. --rate and --gpu-memory
 * override. Fills env's GPU fields, rate, mfu and mem_limit; env->gpu_name
 * and env->rate_from may point to name and rate_from. 0, or an exit status
 * with the message in e. */
static int gpu_env(const PlanOpts *o, PlanEnv *env, char *name, size_t n, char *rate_from, size_t rate_n, Err *e)
{
    env->gpu = 1;
    env->prec = o->dev.prec == PREC_FP32 ? PREC_FP32 : PREC_BF16;
    env->mfu = o->mfu > 0 ? o->mfu : PLAN_GPU_FP32_MFU;
    env->gpu_overhead = KERN_CUDA_OVERHEAD;
    env->gpu_name = name;
    env->mem_from = "--gpu-memory";
    int bf16 = env->prec == PREC_BF16;
    env->parts = bf16 && !(o->mfu > 0);
    if (o->gpu) {
        snprintf(name, n, "%s", o->gpu->name);
        env->vendor_rate = (bf16 ? o->gpu->bf16_tflops : o->gpu->fp32_tflops) * 1e12;
        env->rate = env->vendor_rate * PLAN_GPU_MATMUL_SHARE;
        snprintf(rate_from, rate_n, "cuBLASLt's expected %s rate: %.0f%% of the vendor's figure, as%s on an H200",
                 bf16 ? "bf16" : "fp32", 100 * PLAN_GPU_MATMUL_SHARE, bf16 ? "" : " bf16");
        env->rate_from = rate_from;
        env->mem_limit = o->gpu_memory > 0 ? o->gpu_memory : o->gpu->mem_gb * 1073741824.0;
        if (!(o->gpu_memory > 0)) env->mem_from = "the vendor's figure";
    } else {
        Kern k;
        Err ke = { { 0 } };
        /* bf16 as the GPU's default: kern_open then says what is missing, not that bf16 needs a GPU */
        if (kern_open(&k, KERN_CUDA, env->prec == PREC_FP32 ? PREC_FP32 : DEVICE_AUTO, NULL, &ke))
            return err_code(e, 1, "%s; or plan for a GPU by name, without one: --gpu NAME (--gpu list)", ke.msg);
        snprintf(name, n, "%s", k.name[0] ? k.name : "GPU");
        if (!(o->rate > 0)) {
            env->rate = k.ops->matmul_rate ? k.ops->matmul_rate(&k) : 0;
            env->rate_from = bf16 ? "cuBLASLt bf16, measured" : "cuBLASLt fp32, measured";
        }
        if (o->gpu_memory > 0) env->mem_limit = o->gpu_memory;
        else {
            /* measured by this process, which holds its CUDA context already */
            env->mem_limit = k.ops->mem_free ? (double)k.ops->mem_free(&k) : 0;
            env->gpu_overhead = 0;
            env->mem_from = "free now";
        }
        kern_free(&k);
        if (!(o->rate > 0) && env->rate <= 0) return err_code(e, 1, "could not measure %s's matrix rate", name);
    }
    if (o->rate > 0) {
        env->rate = o->rate * 1e9;
        env->rate_from = "--rate";
    }
    return 0;
}

int plan_run(const PlanOpts *o, FILE *out, Err *err)
{
    Err e = { { 0 } }; /* what the functions called here say; passed on in err */
    int on_gpu = o->gpu || o->dev.device == KERN_CUDA;
    if (o->gpu_list) {
        plan_gpu_list(out);
        return fflush(out) || ferror(out) ? err_code(err, 1, "write error") : 0;
    }
    if (o->gpu && o->dev.device == KERN_CPU)
        return err_code(err, 2, "--gpu plans for a GPU: not with --device cpu");
    if (!on_gpu && o->dev.prec == PREC_BF16)
        return err_code(err, 2, "--precision bf16 runs on a GPU only: plan for one with --gpu NAME or --device cuda");
    if (!on_gpu && o->gpu_memory > 0)
        return err_code(err, 2, "--gpu-memory is for GPU plans (--gpu NAME or --device cuda); --memory is this "
                                "machine's");
    if (on_gpu && o->measure)
        return err_code(err, 2, "--measure runs steps on this CPU only; model train --device cuda measures the "
                                "GPU's MFU as it trains");
    if (!on_gpu && o->dev.device < 0 && kern_would_use_gpu(DEVICE_AUTO) && o->common.progress != PROGRESS_QUIET)
        fprintf(stderr, "model plan: the figures here are this CPU's, but model train would run on the GPU "
                        "here: model plan --device cuda plans for it\n");

    int data_vocab = 0, meta_context = 0;
    PlanEnv env = { .micro_batch = o->micro, .tokens = o->tokens, .hours = o->hours,
                    .mfu = o->mfu > 0 ? o->mfu : PLAN_CPU_MFU, .recompute = o->recompute,
                    .no_master = o->no_master };
    char gpu_name[128] = "", rate_from[160] = "";
    Shards shards = { 0 }; /* --data's training windows, kept for --measure */
    const Shards *windows = NULL;
    if (o->data) {
        if (read_data(o->data, o->T, &env.data_tokens, &env.data_windows, &data_vocab, &meta_context,
                      o->measure ? &shards : NULL, &e)) {
            return err_code(err, 1, "%s", e.msg);
        }
        if (o->measure) windows = &shards;
    }
    GPool *pool = NULL;
    char *json = NULL;
    int code = 0;
    GptConfig base = { .vocab_size = o->V ? o->V : data_vocab ? data_vocab : 50257,
                       .context = o->T ? o->T : meta_context ? meta_context : 1024 };
    if (o->batch && o->batch % ((uint64_t)o->micro * base.context)) {
        code = err_code(err, 2, "--batch %llu is not a multiple of micro-batch x context = %llu",
                        (unsigned long long)o->batch, (unsigned long long)o->micro * base.context);
        goto done;
    }
    env.batch_tokens = o->batch;

    /* the shapes, checked before anything is measured */
    GptConfig shapes[64];
    size_t n = 0;
    if (o->compare) {
        char *list = strdup(o->compare), *save = NULL;
        if (!list) {
            code = err_code(err, 1, "out of memory");
            goto done;
        }
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (n == sizeof shapes / sizeof *shapes) {
                free(list);
                code = err_code(err, 2, "--compare takes at most %zu shapes", sizeof shapes / sizeof *shapes);
                goto done;
            }
            shapes[n] = base;
            if (plan_parse_shape(t, &shapes[n], &e)) {
                free(list);
                code = err_code(err, 2, "%s", e.msg);
                goto done;
            }
            n++;
        }
        free(list);
        if (!n) {
            code = err_code(err, 2, "--compare needs shapes, e.g. 36x1280x20,18x1280x64");
            goto done;
        }
    } else if (!(o->budget > 0 || o->budget_flops > 0)) {
        GptConfig c = base;
        const TrainPreset *p = train_preset(o->preset ? o->preset : "gpt2");
        c.n_layer = o->L ? o->L : p->n_layer;
        c.n_embd = o->D ? o->D : p->n_embd;
        c.n_head = o->H ? o->H : p->n_head;
        c.n_mlp = o->M ? o->M : 4 * c.n_embd;
        shapes[n++] = c;
    }
    for (size_t i = 0; i < n; i++) {
        if (o->M) shapes[i].n_mlp = o->M;
        GptConfig probe = shapes[i];
        if (gpt_config_check(&probe, &e)) {
            code = err_code(err, 2, "%s", e.msg);
            goto done;
        }
    }

    /* the machine: the trainer's threads, with OpenBLAS single-threaded; or the GPU */
    double t0 = progress_now();
    if (on_gpu) {
        if ((code = gpu_env(o, &env, gpu_name, sizeof gpu_name, rate_from, sizeof rate_from, &e))) {
            code = err_code(err, code, "%s", e.msg);
            goto done;
        }
    } else {
        if (o->rate <= 0 || o->measure) {
            env.threads = gpool_size(o->common.threads, cli_cores());
            openblas_set_num_threads(1); /* as the trainer: our threads split the products */
            if (!(pool = gpool_new(env.threads))) {
                code = err_code(err, 1, "cannot start %u threads", env.threads);
                goto done;
            }
        }
        if (o->rate > 0) env.rate = o->rate * 1e9;
        else if ((env.rate = train_sgemm_rate(pool)) <= 0) {
            code = err_code(err, 1, "could not measure the sgemm rate");
            goto done;
        }
    }
    double t_rate = progress_now() - t0;
    if (on_gpu) {
        /* gpu_env's */
    } else if (o->memory > 0) {
        env.mem_limit = o->memory;
    } else {
        env.mem_limit = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
        env.mem_avail = train_mem_available();
    }

    size_t n_out = 0;
    double t_measure = 0;
    if (o->budget > 0 || o->budget_flops > 0) {
        double budget = o->budget;
        double opt_n = 0, opt_d = 0;
        if (o->budget_flops > 0) {
            plan_chinchilla_optimal(o->budget_flops, &opt_n, &opt_d);
            budget = opt_n;
        }
        PlanCandidate *cand = NULL;
        size_t nc = 0;
        if (plan_budget(&base, budget, o->head_dim, &env, &cand, &nc, &e)) {
            code = err_code(err, 1, "%s", e.msg);
            goto done;
        }
        n_out = nc;
        if (o->json) {
            PlanFacts *fs = malloc((nc ? nc : 1) * sizeof *fs);
            if (!fs) {
                free(cand);
                code = err_code(err, 1, "out of memory");
                goto done;
            }
            size_t k = nc < (size_t)o->top ? nc : (size_t)o->top;
            for (size_t i = 0; i < k; i++) fs[i] = cand[i].f;
            json = plan_json(fs, k, &env, o->budget_flops > 0 ? "budget-flops" : "budget", budget);
            free(fs);
        } else {
            if (o->budget_flops > 0) {
                char b1[24], b2[24], b3[24], b4[24];
                double n20 = sqrt(o->budget_flops / (6.0 * CHIN_TOKENS_PER_PARAM));
                fprintf(out,
                        "model plan: compute budget %.3g FLOP (C = 6ND). Chinchilla (Hoffmann et al. 2022):\n"
                        "  20 tokens a parameter: N = %s, D = %s\n"
                        "  approach-3 fit L = 1.69 + 406.4/N^0.34 + 410.7/D^0.28: N = %s, D = %s, loss %.3f\n"
                        "  the shapes below are for the fit's N\n\n",
                        o->budget_flops, count(b1, sizeof b1, n20), count(b2, sizeof b2, 20 * n20),
                        count(b3, sizeof b3, opt_n), count(b4, sizeof b4, opt_d),
                        plan_chinchilla_loss(opt_n, opt_d));
            }
            print_budget(out, cand, nc, (size_t)o->top, budget, &env);
        }
        free(cand);
    } else {
        PlanFacts facts[64];
        for (size_t i = 0; i < n; i++) {
            if (plan_facts(&shapes[i], &env, &facts[i], &e)) {
                code = err_code(err, 2, "%s", e.msg);
                goto done;
            }
        }
        n_out = n;
        if (o->measure) {
            if (measure_fits(facts, n, &env, &e)) {
                code = err_code(err, 1, "%s", e.msg);
                goto done;
            }
            Progress pr;
            progress_start(&pr, PROG, o->common.progress, 0);
            double tm = progress_now();
            for (size_t i = 0; i < n; i++) {
                char sn[32];
                if (pr.on) {
                    fprintf(stderr, "\r" PROG ": measuring %s: a warm-up and %d step%s\033[K",
                            shape_name(sn, sizeof sn, &facts[i].cfg), o->measure, o->measure == 1 ? "" : "s");
                    pr.shown = 1;
                }
                if (plan_measure(&facts[i], &env, pool, windows, o->measure, &e)) {
                    progress_end(&pr);
                    code = err_code(err, 1, "%s: %s", shape_name(sn, sizeof sn, &facts[i].cfg), e.msg);
                    goto done;
                }
            }
            progress_end(&pr);
            t_measure = progress_now() - tm;
        }
        if (o->json) json = plan_json(facts, n, &env, o->compare ? "compare" : "shape", 0);
        else {
            plan_print_table(out, facts, n, &env);
            plan_print_reasons(out, facts, n, &env);
        }
    }
    if (o->json) {
        if (!json) {
            code = err_code(err, 1, "out of memory");
            goto done;
        }
        fprintf(out, "%s\n", json);
    }
    if (fflush(out) || ferror(out)) {
        code = err_code(err, 1, "write error");
        goto done;
    }
    if (o->common.progress != PROGRESS_QUIET) {
        char ms[64] = "";
        if (o->measure)
            snprintf(ms, sizeof ms, ", %d step%s each measured in %.1f s", o->measure, o->measure == 1 ? "" : "s",
                     t_measure);
        if (on_gpu && env.vendor_rate > 0)
            fprintf(stderr, PROG ": %zu shape%s planned for the %s from the vendor's figures\n", n_out,
                    n_out == 1 ? "" : "s", env.gpu_name);
        else if (on_gpu)
            fprintf(stderr, PROG ": %zu shape%s planned for the %s; matrix rate %.1f TFLOP/s %s %.2f s\n", n_out,
                    n_out == 1 ? "" : "s", env.gpu_name, env.rate / 1e12, o->rate > 0 ? "from --rate," : "measured in",
                    t_rate);
        else
            fprintf(stderr, PROG ": %zu shape%s planned%s; sgemm %.1f GFLOP/s %s %.2f s\n", n_out,
                    n_out == 1 ? "" : "s", ms, env.rate / 1e9, o->rate > 0 ? "from --rate," : "measured in", t_rate);
    }
done:
    free(json);
    gpool_free(pool);
    shards_free(&shards);
    return code;
}
