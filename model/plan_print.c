/* `model plan`'s output: the table of figures (one column a shape), the
 * reasoning under it, the GPU's notes (memory by part, what fits), the budget
 * list, --gpu list and the JSON document. Nothing here computes a figure:
 * plan.c fills PlanFacts and PlanEnv, and this only formats them. */
#include "plan.h"

#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

/* ---- formatting ---- */

static const char *count(char *buf, size_t n, double v)
{
    if (v >= 1e12) snprintf(buf, n, "%.2fT", v / 1e12);
    else if (v >= 1e9) snprintf(buf, n, "%.2fB", v / 1e9);
    else if (v >= 1e6) snprintf(buf, n, "%.2fM", v / 1e6);
    else if (v >= 1e3) snprintf(buf, n, "%.1fk", v / 1e3);
    else snprintf(buf, n, "%.0f", v);
    return buf;
}

const char *plan_bytes_str(char *buf, size_t n, double v)
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
    return env->gpu ? gib(buf, n, v) : plan_bytes_str(buf, n, v);
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

const char *plan_shape_name(char *buf, size_t n, const GptConfig *c)
{
    snprintf(buf, n, "%dx%dx%d", c->n_layer, c->n_embd, c->n_head);
    return buf;
}

/* ---- --gpu list ---- */

void plan_gpu_list(FILE *f)
{
    fputs("GPUs for model plan --gpu, with their vendors' published figures (dense: without sparsity):\n\n", f);
    fprintf(f, "%-11s %-10s %7s %10s %10s  %s\n", "--gpu", "GPU", "memory", "bf16", "fp32", "source");
    size_t n;
    const PlanGpu *gpus = plan_gpus(&n);
    for (size_t i = 0; i < n; i++) {
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

/* ---- the table ---- */

#define CELL 64
#define CELL_MIN 18 /* columns are at least this wide, wider where a cell is */
#define MAX_ROWS 64
typedef void (*CellFn)(char *buf, size_t n, const PlanFacts *f);

/* The table's rows, a label and a cell function each, gathered before any is
 * printed: a column is as wide as its widest cell ("n/a: outside its fit"),
 * so every row of the next column starts at the same place. */
typedef struct Table {
    size_t n_rows;
    char label[MAX_ROWS][CELL];
    CellFn fn[MAX_ROWS];
} Table;

static void row(Table *t, const char *label, CellFn fn)
{
    assert(t->n_rows < MAX_ROWS); /* the table has under 40 rows */
    snprintf(t->label[t->n_rows], CELL, "%s", label);
    t->fn[t->n_rows++] = fn;
}

/* Shape f's column: as wide as its widest cell, CELL_MIN at least. (The
 * cells are formatted again for each row: some 40 x 40 snprintfs a shape.) */
static int col_width(const Table *t, const PlanFacts *f)
{
    int w = CELL_MIN;
    for (size_t r = 0; r < t->n_rows; r++) {
        char buf[CELL];
        t->fn[r](buf, sizeof buf, f);
        if ((int)strlen(buf) > w) w = (int)strlen(buf);
    }
    return w;
}

static void table_print(FILE *out, const Table *t, const PlanFacts *facts, size_t n)
{
    for (size_t r = 0; r < t->n_rows; r++) {
        fprintf(out, "%-30s", t->label[r]);
        for (size_t i = 0; i < n; i++) {
            char buf[CELL];
            t->fn[r](buf, sizeof buf, &facts[i]);
            /* nothing follows the last column: it keeps the padding to CELL_MIN it always had */
            fprintf(out, "  %-*s", i + 1 < n ? col_width(t, &facts[i]) : CELL_MIN, buf);
        }
        fputc('\n', out);
    }
}

#define C_(name) static void name(char *b, size_t n, const PlanFacts *f)
C_(c_shape) { plan_shape_name(b, n, &f->cfg); }
C_(c_params) { count(b, n, f->n_params); }
C_(c_nonemb) { count(b, n, f->n_nonembed); }
C_(c_embshare) { snprintf(b, n, "%.0f%%", 100.0 * (1 - f->n_nonembed / f->n_params)); }
C_(c_mlp) { snprintf(b, n, "%d", f->cfg.n_mlp); }
C_(c_head) { snprintf(b, n, "%d%s", f->head_dim, f->head_dim < 32 ? " (small)" : f->head_dim > 128 ? " (large)" : ""); }
C_(c_memtot) { plan_bytes_str(b, n, f->need_bytes); }
C_(c_memstate) { plan_bytes_str(b, n, (double)(f->mem.params + f->mem.grads + f->mem.adam)); }
C_(c_memacts) { plan_bytes_str(b, n, (double)(f->mem.acts + f->mem.scratch)); }
C_(c_mematt) { plan_bytes_str(b, n, f->att_bytes); }
C_(c_fit) { snprintf(b, n, "%s", f->fit == FIT_YES ? "yes" : f->fit == FIT_NOT_NOW ? "not now (free)" : "NO"); }
C_(c_gtot) { gib(b, n, f->need_bytes); }
C_(c_gweights) { gib(b, n, (double)f->mem.params); }
C_(c_gstate) { gib(b, n, (double)(f->mem.grads + f->mem.adam)); }
C_(c_gacts) { gib(b, n, (double)f->mem.acts); }
C_(c_gscratch) { gib(b, n, (double)f->mem.scratch); }
C_(c_gatt) { gib(b, n, f->att_bytes); }
C_(c_gover) { if (f->overhead_bytes > 0) gib(b, n, f->overhead_bytes); else snprintf(b, n, "held (in free)"); }
C_(c_gfit)
{
    snprintf(b, n, "%s",
             f->fit == FIT_YES ? "yes"
             : f->head_too_wide ? "NO: heads too wide"
             : f->fix.found ? "NO (see below)"
                            : "NO: nothing fits");
}
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
                     "  kernels, classifier, AdamW and the time between kernels as on an H200, scaled by the matrix\n"
                     "  rate)\n",
                100 * PLAN_GPU_MM_EFF, env->rate / 1e12, env->rate_from);
    else
        fprintf(out, "times at %.1f%% MFU of %.1f TFLOP/s (%s)\n", 100 * env->mfu, env->rate / 1e12, env->rate_from);
}

/* What --recompute does to the time: by part on a GPU in bf16, the
 * elementwise kernels' share; timed by FLOPs (the CPU, fp32 or --mfu on a
 * GPU), nothing, and why. */
static void recompute_note(FILE *out, const PlanEnv *env)
{
    if (!env->recompute) return;
    if (env->parts)
        fprintf(out, "--recompute: the elementwise kernels take %.0f%% longer (the LayerNorm and GELU forwards again in\n"
                     "  the backward), for one layer of their outputs kept instead of every layer's\n",
                100 * PLAN_GPU_RECOMPUTE_EW);
    else
        fprintf(out, "--recompute: one layer of LayerNorm and GELU outputs kept, the rest recomputed in the backward;\n"
                     "  the time is not raised: those forwards are elementwise, their FLOPs grow with the width and\n"
                     "  the products' with its square%s\n",
                env->gpu ? "" : " (--measure runs them)");
}

void plan_print_table(FILE *out, const PlanFacts *facts, size_t n, const PlanEnv *env)
{
    const PlanFacts *f0 = &facts[0];
    char b1[32], b2[64];
    Table t = { 0 };
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
    recompute_note(out, env);
    if (f0->measured)
        fprintf(out, "measured: %d training step%s after a warm-up, %u thread%s, %s\n", f0->meas.steps,
                f0->meas.steps == 1 ? "" : "s", env->threads, env->threads == 1 ? "" : "s",
                f0->meas.real_data ? "windows of --data" : "random tokens");
    row(&t, "shape (layers x width x heads)", c_shape);
    row(&t, "parameters", c_params);
    row(&t, "  without embeddings", c_nonemb);
    row(&t, "  embedding share", c_embshare);
    row(&t, "MLP width", c_mlp);
    row(&t, "head dimension", c_head);
    if (env->gpu) {
        int bf16 = env->prec == PREC_BF16;
        row(&t, bf16 ? "GPU memory (bf16)" : "GPU memory (fp32)", c_gtot);
        row(&t, bf16 ? "  weights: fp32 + bf16 copy" : "  weights (fp32)", c_gweights);
        row(&t, "  fp32 gradients+AdamW", c_gstate);
        row(&t, bf16 ? "  activations (bf16)" : "  activations (fp32)", c_gacts);
        row(&t, "  scratch+workspace", c_gscratch);
        row(&t, bf16 ? "  of which attention: LSE" : "  of which attention: TxT", c_gatt);
        row(&t, "  CUDA context+allocator", c_gover);
        snprintf(b2, sizeof b2, "fits %s?", gib(b1, sizeof b1, env->mem_limit));
        row(&t, b2, c_gfit);
    } else {
        row(&t, "training memory", c_memtot);
        row(&t, "  weights+grads+AdamW", c_memstate);
        row(&t, "  activations+scratch", c_memacts);
        row(&t, "  of which attention probs", c_mematt);
        snprintf(b2, sizeof b2, "fits %s?", plan_bytes_str(b1, sizeof b1, env->mem_avail > 0 ? env->mem_avail : env->mem_limit));
        row(&t, b2, c_fit);
    }
    const char *per = env->gpu ? "matmul" : "sgemm";
    row(&t, "FLOPs a token (6N+12LDT)", c_flops);
    row(&t, "tokens a step (x accum)", c_batch);
    if (env->parts) {
        row(&t, "time a step (by part)", c_step);
        row(&t, "  MFU (of the matrix rate)", c_emfu);
    } else {
        snprintf(b2, sizeof b2, "time a step (%s x %.0f%%)", per, 100 * env->mfu);
        row(&t, b2, c_step);
    }
    if (f0->measured) {
        row(&t, "time a step (measured)", c_mstep);
        row(&t, "  tokens/s (measured)", c_mtps);
        row(&t, "  MFU (measured)", c_mmfu);
    }
    snprintf(b2, sizeof b2, "tokens (%s)", f0->tokens_from);
    row(&t, b2, c_tokens);
    row(&t, "  steps", c_steps);
    if (env->parts) snprintf(b2, sizeof b2, "  time (by part)");
    else snprintf(b2, sizeof b2, "  time (%s x %.0f%%)", per, 100 * env->mfu);
    row(&t, b2, c_run);
    if (f0->measured) row(&t, "  time (measured)", c_mrun);
    if (env->data_tokens > 0) row(&t, "  epochs of --data", c_epochs);
    if (env->hours > 0) {
        snprintf(b2, sizeof b2, "tokens in %.3g hours", env->hours);
        row(&t, b2, c_hours);
        if (f0->measured) row(&t, "  at the measured rate", c_mhours);
    }
    row(&t, "Chinchilla 20 tokens/param", c_chin20);
    row(&t, "Chinchilla fit loss", c_chinloss);
    row(&t, "  compute C = 6ND (FLOP)", c_flopsC);
    row(&t, "  fit's optimum N, D for C", c_chinopt);
    row(&t, "  fit's loss at optimum", c_chinoptloss);
    row(&t, "Kaplan L(N,D)", c_kaplan);
    row(&t, "  with unlimited data", c_kaplaninf);
    row(&t, "Levine best depth for width", c_levdepth);
    row(&t, "  best width for depth", c_levwidth);
    row(&t, "  verdict", c_verdict);
    row(&t, "  fit's shape at this size", c_levshape);
    table_print(out, &t, facts, n);
}

static void head_note(FILE *out, const PlanFacts *f, const PlanEnv *env)
{
    int hd = f->head_dim;
    char b[32];
    if (env->gpu && env->prec == PREC_BF16 && hd <= env->max_head_dim) {
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
    double per_param = ((double)f->mem.params + (double)f->mem.grads + (double)f->mem.adam) /
                       (double)gpt_n_params(&f->cfg); /* 14, 18 or 16; less with --zero 1 */
    fprintf(out, "  - GPU memory, the GPU trainer's layout in %s%s%s (%.3g bytes a parameter before activations):\n",
            bf16 ? "bf16" : "fp32", alone ? " with --master-weights off" : "",
            env->zero_ranks > 1 ? ", --zero 1" : "", per_param);
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
        if (env->max_head_dim < KERN_CUDA_BF16_MAX_HEAD_DIM)
            fprintf(out, "  - Heads of %d dimensions: the GPU's bf16 attention takes 1 to %d on this GPU (%d on\n"
                         "    GPUs with more shared memory a block; model train refuses the shape): more heads,\n"
                         "    or --precision fp32.\n",
                    f->head_dim, env->max_head_dim, KERN_CUDA_BF16_MAX_HEAD_DIM);
        else
            fprintf(out, "  - Heads of %d dimensions: the GPU's bf16 attention takes 1 to %d (model train refuses\n"
                         "    the shape): more heads, or --precision fp32.\n",
                    f->head_dim, env->max_head_dim);
        if (f->need_bytes > env->mem_limit) /* the other reason, which more heads do not change */
            fprintf(out, "    Nor does it fit %s: it needs %s, of which activations %s.\n", where,
                    gib(b1, sizeof b1, f->need_bytes), gib(b2, sizeof b2, (double)f->mem.acts));
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
    if (na == plan_above_ln_v)
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
        fprintf(out, "\n%s: %s parameters (%s without embeddings)\n", plan_shape_name(s, sizeof s, &f->cfg),
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
        if (env->zero_ranks > 1) {
            char b5[24];
            fprintf(out, "  - Memory a %s, with --zero 1 over %d ranks (mpirun -np %d): AdamW's moments %s of\n"
                         "    %s; the rest every rank holds whole.%s\n",
                    env->gpu ? "GPU" : "rank", env->zero_ranks, env->zero_ranks,
                    plan_bytes_str(b1, sizeof b1, (double)f->mem.adam),
                    plan_bytes_str(b5, sizeof b5, 8.0 * (double)gpt_n_params(&f->cfg)),
                    env->gpu ? "" : " Ranks on one machine add up.");
        }
        if (env->gpu) gpu_notes(out, f, env);
        else if (f->fit != FIT_YES)
            fprintf(out, "  - Training memory %s %s.\n", plan_bytes_str(b1, sizeof b1, f->need_bytes),
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
                    plan_shape_name(s1, sizeof s1, &f->cfg), r, plan_shape_name(s2, sizeof s2, &a->cfg),
                    f->kaplan_loss - a->kaplan_loss, a->n_params);
        }
    }
    fputs("\nThe losses are the papers' fits in nats a token on their data and tokenizers (MassiveText,\n"
          "WebText2): use them to compare shapes, not as the loss your data will reach.\n",
          out);
}

void plan_print_budget(FILE *out, const PlanCandidate *c, size_t n, size_t top, double budget,
                       double budget_flops, const PlanEnv *env)
{
    char b1[32], b2[32], b3[32], b4[32];
    if (budget_flops > 0) {
        double opt_n, opt_d, n20 = sqrt(budget_flops / (6.0 * CHIN_TOKENS_PER_PARAM));
        plan_chinchilla_optimal(budget_flops, &opt_n, &opt_d);
        fprintf(out,
                "model plan: compute budget %.3g FLOP (C = 6ND). Chinchilla (Hoffmann et al. 2022):\n"
                "  20 tokens a parameter: N = %s, D = %s\n"
                "  approach-3 fit L = 1.69 + 406.4/N^0.34 + 410.7/D^0.28: N = %s, D = %s, loss %.3f\n"
                "  the shapes below are for the fit's N\n\n",
                budget_flops, count(b1, sizeof b1, n20), count(b2, sizeof b2, 20 * n20),
                count(b3, sizeof b3, opt_n), count(b4, sizeof b4, opt_d), plan_chinchilla_loss(opt_n, opt_d));
    }
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
    recompute_note(out, env);
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
        fprintf(out, "%4zu  %-14s %9s %8d %10s %9s %10s  %s\n", i + 1, plan_shape_name(s, sizeof s, &f->cfg),
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
    json_object_set_new(o, "shape", json_string(plan_shape_name(s, sizeof s, &f->cfg)));
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
        if (env->zero_ranks > 1) json_object_set_new(m, "zero_ranks", json_integer(env->zero_ranks));
    }
    if (env->parts && env->recompute)
        json_object_set_new(m, "recompute_elementwise_share", json_real(PLAN_GPU_RECOMPUTE_EW));
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
