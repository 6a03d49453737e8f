/* The CUDA backend's size arithmetic in plain C, compiled in every build: the
 * attention's state and scratch, the matmul scratch and the backend's own
 * buffers. cuda/'s size ops call these, and a sizes-only Kern carries them
 * where there is no GPU, so `model plan --gpu` lays out the GPU trainer's
 * memory with gpt_memory_for, the trainer's own function, not an estimate of
 * it. Nothing here allocates or touches a GPU. */
#include "kernels.h"

#include <string.h>

size_t kern_cuda_attention_state(KernPrec prec, int B, int T, int NH)
{
    if (prec == PREC_BF16) return (size_t)B * NH * T;
    return (size_t)B * NH * T * T;
}

size_t kern_cuda_attention_scratch(KernPrec prec, int B, int T, int NH)
{
    if (prec == PREC_BF16) return (size_t)B * NH * T;
    return 2 * (size_t)B * NH * T * T;
}

size_t kern_cuda_flash_counters(int B, int T, int NH)
{
    size_t tiles = ((size_t)T + KERN_CUDA_FLASH_TILE - 1) / KERN_CUDA_FLASH_TILE;
    return 1 + (size_t)B * NH * tiles * KERN_CUDA_FLASH_WARPS;
}

size_t kern_cuda_flash_sums(int B, int T, int C, int NH)
{
    size_t tiles = ((size_t)T + KERN_CUDA_FLASH_TILE - 1) / KERN_CUDA_FLASH_TILE, blocks = (size_t)(C / NH + 7) / 8;
    return (size_t)B * NH * tiles * KERN_CUDA_FLASH_TILE * 8 * blocks * sizeof(float);
}

size_t kern_cuda_flash_scratch(int B, int T, int C, int NH)
{
    size_t counters = (kern_cuda_flash_counters(B, T, NH) * sizeof(unsigned) + 255) / 256 * 256;
    return counters + kern_cuda_flash_sums(B, T, C, NH);
}

size_t kern_cuda_flash_smem(int hsp, int hopper, int backward)
{
    const size_t tile = KERN_CUDA_FLASH_TILE, row = tile * sizeof(float);
    /* a tile's row: mma.sync pads it by 8 elements (ldmatrix's banks), Hopper's bricks do not */
    size_t cols = (size_t)hsp + (hopper ? 0 : 8);
    if (backward) { /* K, V; Q, dO, lse, D KERN_CUDA_FLASH_Q_BUFS buffers of each; dS^T */
        size_t bufs = KERN_CUDA_FLASH_Q_BUFS, ds = tile * (tile + (hopper ? 0 : 8)) * 2;
        return (2 + 2 * bufs) * tile * cols * 2 + ds + 2 * bufs * row;
    }
    /* the query tile (Hopper: two warpgroups of 64 rows; mma.sync: 4 warps of
     * 32 rows up to 64 dimensions, else 16), then K and V a buffer each,
     * KERN_CUDA_FLASH_KV_BUFS_HOPPER on Hopper, else two */
    size_t rows = hopper ? 128 : hsp <= 64 ? 128 : 64, bufs = hopper ? KERN_CUDA_FLASH_KV_BUFS_HOPPER : 2;
    return (rows + 2 * bufs * tile) * cols * 2;
}

static int flash_fits(size_t smem, int hsp, int hopper)
{
    int ok = kern_cuda_flash_smem(hsp, 0, 0) <= smem && kern_cuda_flash_smem(hsp, 0, 1) <= smem;
    if (hopper) ok = ok && kern_cuda_flash_smem(hsp, 1, 0) <= smem && (hsp > KERN_CUDA_FLASH_WG_BWD_MAX || kern_cuda_flash_smem(hsp, 1, 1) <= smem);
    return ok;
}

int kern_cuda_flash_max_head_dim(size_t smem, int hopper)
{
    for (int hsp = KERN_CUDA_BF16_MAX_HEAD_DIM; hsp > 32; hsp -= 32)
        if (flash_fits(smem, hsp, hopper)) return hsp;
    return 32;
}

size_t kern_cuda_matmul_scratch(KernPrec prec, int N, int K, int OC)
{
    (void)prec, (void)N, (void)K, (void)OC;
    return 0;
}

static size_t max2(size_t a, size_t b) { return a > b ? a : b; }

/* The cuda_scratch requests of one training step, by kernel:
 *   encoder_backward    (4 N + KERN_CUDA_SORT_DIGITS ceil(N / KERN_CUDA_SORT_TILE)) ints,
 *                       and in bf16 2 ceil(N / KERN_CUDA_WTE_CHUNK) C floats
 *   layernorm_backward  2 ceil(N / KERN_CUDA_LN_CHUNK) C floats
 *   attention, fp32     4 (forward) and 7 (backward) B T C floats: q, k, v
 *                       and their gradients split by head; bf16 (flash.cu's
 *                       backward) B T C floats of dQ's partial sums and its
 *                       counters (kern_cuda_flash_scratch)
 *   grad_norm2          (ceil(params / 16384) + 1) doubles: not counted, as
 *                       this op is not told the parameter count (under 1 MB
 *                       up to 2B parameters: KERN_CUDA_OVERHEAD covers it)
 * with N = B T rows. cuda_scratch grows to a request plus a quarter, so the
 * high-water mark is at most the largest request's 5/4. */
size_t kern_cuda_workspace_bytes(KernPrec prec, int B, int T, int C, int NH)
{
    size_t N = (size_t)B * T, xb = prec == PREC_BF16 ? 2 : 4;
    size_t enc = (4 * N + KERN_CUDA_SORT_DIGITS * ((N + KERN_CUDA_SORT_TILE - 1) / KERN_CUDA_SORT_TILE)) * sizeof(int);
    if (prec == PREC_BF16) /* the pieces of the runs of dwte's rows */
        enc += 2 * ((N + KERN_CUDA_WTE_CHUNK - 1) / KERN_CUDA_WTE_CHUNK) * (size_t)C * sizeof(float);
    size_t ln = 2 * ((N + KERN_CUDA_LN_CHUNK - 1) / KERN_CUDA_LN_CHUNK) * (size_t)C * sizeof(float);
    size_t att = prec == PREC_FP32 ? 7 * N * C * sizeof(float) : kern_cuda_flash_scratch(B, T, C, NH);
    size_t scratch = max2(enc, max2(ln, att));
    size_t ones = N * xb; /* matmul.cu's ones of the bias gradients: N of them */
    return KERN_CUDA_LT_WORKSPACE + scratch + scratch / 4 + ones;
}

static size_t op_attention_state(const Kern *k, int B, int T, int NH)
{
    return kern_cuda_attention_state(k->prec, B, T, NH);
}

static size_t op_attention_scratch(const Kern *k, int B, int T, int NH)
{
    return kern_cuda_attention_scratch(k->prec, B, T, NH);
}

static size_t op_matmul_scratch(const Kern *k, int N, int K, int OC)
{
    return kern_cuda_matmul_scratch(k->prec, N, K, OC);
}

static size_t op_workspace_bytes(const Kern *k, int B, int T, int C, int NH)
{
    return kern_cuda_workspace_bytes(k->prec, B, T, C, NH);
}

static size_t op_cached_scratch(const Kern *k, int max_T)
{
    (void)k, (void)max_T;
    return 0;
}

static const KernOps sizes_ops = {
    .matmul_scratch = op_matmul_scratch,
    .attention_state = op_attention_state,
    .attention_scratch = op_attention_scratch,
    .attention_cached_scratch = op_cached_scratch,
    .workspace_bytes = op_workspace_bytes,
};

void kern_cuda_sizes(Kern *k, KernPrec prec)
{
    memset(k, 0, sizeof *k);
    k->ops = &sizes_ops;
    k->device = KERN_CUDA;
    k->prec = prec;
    k->max_head_dim = prec == PREC_BF16 ? KERN_CUDA_BF16_MAX_HEAD_DIM : 0;
}
