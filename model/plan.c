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
 * the flags that make it fit. GPU steps are not measured here. This file
 * holds the figures and the subcommand; plan_print.c prints them (table,
 * reasons, budget list, JSON). */
#include "plan.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "data.h"
#include "dist.h"
#include "poolsize.h"
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
 * usually quoted for them. The shared memory a block is the CUDA programming
 * guide's for the compute capability: 99 KB on 8.6 and 8.9, 163 KB on 8.0,
 * 227 KB on 9.0. */
static const PlanGpu gpus[] = {
    { "rtx3090", "RTX 3090", 24, 71, 35.6, "NVIDIA Ampere GA102 GPU architecture whitepaper, appendix A", 99, 0 },
    { "rtx4090", "RTX 4090", 24, 165.2, 82.6, "NVIDIA Ada GPU architecture whitepaper", 99, 0 },
    { "l4", "L4", 24, 121, 30.3, "NVIDIA L4 datasheet (bf16: 242 with sparsity)", 99, 0 },
    { "a100-40gb", "A100 40GB", 40, 312, 19.5, "NVIDIA A100 datasheet (bf16: 624 with sparsity)", 163, 0 },
    { "a100-80gb", "A100 80GB", 80, 312, 19.5, "NVIDIA A100 datasheet (bf16: 624 with sparsity)", 163, 0 },
    { "h100-sxm", "H100 SXM", 80, 989, 67, "NVIDIA H100 datasheet (bf16: 1,979 with sparsity)", 227, 1 },
    { "h100-pcie", "H100 PCIe", 80, 756, 51, "NVIDIA H100 datasheet (bf16: 1,513 with sparsity)", 227, 1 },
    { "h200", "H200", 141, 989, 67, "NVIDIA H200 datasheet, SXM (bf16: 1,979 with sparsity)", 227, 1 },
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

const char plan_above_ln_v[] = "above ln V";

double plan_gpu_step_s(const GptConfig *c, int T, double batch_tokens, const PlanEnv *env)
{
    double L = c->n_layer, D = c->n_embd, NH = c->n_head, V = c->padded_vocab;
    double micro = batch_tokens / T; /* sequences a step */
    int hs = c->n_embd / c->n_head, hsp = hs <= 32 ? 32 : hs <= 64 ? 64 : hs <= 96 ? 96 : 128;
    double scale = PLAN_GPU_REF_RATE / env->rate; /* the parts timed on the H200, at this GPU's rate */
    double mm = 6.0 * (double)gpt_n_params(c) * batch_tokens / (env->rate * PLAN_GPU_MM_EFF);
    double att = PLAN_GPU_ATT_S * (hsp > 64 ? hsp / 64.0 : 1.0) * L * micro * NH * T * (T + 1.0) / 2;
    double ew = PLAN_GPU_EW_S * L * D * batch_tokens;
    if (env->recompute) ew *= 1 + PLAN_GPU_RECOMPUTE_EW; /* the LayerNorm and GELU forwards again */
    double cls = PLAN_GPU_VOCAB_S * V * batch_tokens;
    double adam = PLAN_GPU_ADAM_S * (double)gpt_n_params(c);
    double micro_steps = batch_tokens / ((env->micro_batch > 0 ? env->micro_batch : micro) * (double)T);
    double gaps = PLAN_GPU_GAP_S * L * micro_steps;
    return mm + scale * (att + ew + cls + adam + gaps);
}

/* --ranks N --zero 1: mem's AdamW moments the largest slice model train
 * --zero 1 cuts them into (every rank or GPU keeps its own), the total with
 * them. 0, or -1 with e set. */
static int zero_slice(const GptConfig *k, const PlanEnv *env, GptMemory *mem, Err *e)
{
    if (env->zero_ranks < 2) return 0;
    Dist d = { .size = env->zero_ranks };
    size_t *lo = malloc(((size_t)d.size + 1) * sizeof *lo), slice = 0;
    if (!lo) return err_set(e, "out of memory");
    dist_slices(&d, gpt_n_params(k), lo);
    for (int r = 0; r < d.size; r++)
        if (lo[r + 1] - lo[r] > slice) slice = lo[r + 1] - lo[r];
    free(lo);
    mem->total -= mem->adam;
    mem->adam = 2 * sizeof(float) * slice;
    mem->total += mem->adam;
    return 0;
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
        double whole_adam = (double)f->mem.adam;
        if (zero_slice(k, env, &f->mem, e)) return -1;
        f->need_bytes -= whole_adam - (double)f->mem.adam;
        f->master_bytes = env->no_master && env->prec == PREC_BF16 ? 0 : (double)gpt_n_params(k) * sizeof(float);
        f->copy_bytes = (double)f->mem.params - f->master_bytes;
        f->overhead_bytes = env->gpu_overhead;
        f->att_bytes = (double)(round256(k->n_layer * kern_cuda_attention_state(env->prec, B, T, k->n_head) *
                                         sizeof(float)) +
                                round256(kern_cuda_attention_scratch(env->prec, B, T, k->n_head) * sizeof(float)));
        f->head_too_wide = env->prec == PREC_BF16 && env->max_head_dim && f->head_dim > env->max_head_dim;
        f->fit = f->need_bytes > env->mem_limit || f->head_too_wide ? FIT_NO : FIT_YES;
        if (f->fit == FIT_NO) find_fix(f, env, &f->fix);
    } else {
        Kern cpu = { .ops = kern_cpu_ops(), .device = KERN_CPU, .prec = PREC_FP32 }; /* sizes only */
        gpt_memory_for(&cpu, k, B, T, GPT_TRAIN | (env->recompute ? GPT_RECOMPUTE : 0), &f->mem);
        if (zero_slice(k, env, &f->mem, e)) return -1;
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
    if (f->chin_loss > ln_v) f->chin_na = plan_above_ln_v;
    else if (f->n_params < 70e6 || f->n_params > 16e9 || f->tokens < 5e9 || f->tokens > 500e9)
        f->chin_na = "outside its fit";
    if (f->kaplan_loss > ln_v) f->kaplan_na = plan_above_ln_v;
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
                       plan_shape_name(s, sizeof s, &f->cfg), plan_bytes_str(b1, sizeof b1, f->need_bytes), env->micro_batch,
                       f->cfg.context, plan_bytes_str(b2, sizeof b2, have), avail > 0 ? "available" : "of memory");
    }
    return 0;
}

void plan_opts_init(PlanOpts *o)
{
    *o = (PlanOpts){ .micro = 8, .top = 10, .head_dim = 64, .ranks = 1, .dev = DEVICE_OPTS_AUTO };
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
        env->max_head_dim = kern_cuda_flash_max_head_dim((size_t)o->gpu->smem_kb * 1024, o->gpu->hopper);
    } else {
        Kern k;
        Err ke = { { 0 } };
        /* bf16 as the GPU's default: kern_open then says what is missing, not that bf16 needs a GPU */
        if (kern_open(&k, KERN_CUDA, env->prec == PREC_FP32 ? PREC_FP32 : DEVICE_AUTO, NULL, &ke))
            return err_code(e, 1, "%s; or plan for a GPU by name, without one: --gpu NAME (--gpu list)", ke.msg);
        snprintf(name, n, "%s", k.name[0] ? k.name : "GPU");
        env->max_head_dim = k.max_head_dim;
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

/* Flush out: 0, or 1 with "<stdout>: write: No space left on device" in err.
 * errno is cleared first: a stream that failed earlier (ferror) and has
 * nothing left to flush says only that it failed. */
static int flush_out(FILE *out, Err *err)
{
    errno = 0;
    if (!fflush(out) && !ferror(out)) return 0;
    int saved = errno;
    return err_code(err, 1, "%s: write: %s", out == stdout ? "<stdout>" : "the plan's output",
                    saved ? strerror(saved) : "error");
}

int plan_run(const PlanOpts *o, FILE *out, Err *err)
{
    Err e = { { 0 } }; /* what the functions called here say; passed on in err */
    int on_gpu = o->gpu || o->dev.device == KERN_CUDA;
    if (o->gpu_list) {
        plan_gpu_list(out);
        return flush_out(out, err);
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
                    .no_master = o->no_master, .zero_ranks = o->zero && o->ranks > 1 ? o->ranks : 0 };
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
        if (o->budget_flops > 0) {
            double opt_d;
            plan_chinchilla_optimal(o->budget_flops, &budget, &opt_d);
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
        } else
            plan_print_budget(out, cand, nc, (size_t)o->top, budget, o->budget_flops, &env);
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
                            plan_shape_name(sn, sizeof sn, &facts[i].cfg), o->measure, o->measure == 1 ? "" : "s");
                    pr.shown = 1;
                }
                if (plan_measure(&facts[i], &env, pool, windows, o->measure, &e)) {
                    progress_end(&pr);
                    code = err_code(err, 1, "%s: %s", plan_shape_name(sn, sizeof sn, &facts[i].cfg), e.msg);
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
    if ((code = flush_out(out, err))) goto done;
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
