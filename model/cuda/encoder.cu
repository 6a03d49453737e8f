/* The embeddings on the GPU: out = wte[token] + wpe[position], and their
 * gradients without atomics: a stable radix sort groups the rows by token,
 * then blocks add each token's rows; in float32 one after another in row
 * order as kern_cpu.c does (the CPU's bits), in bf16 in pieces of
 * WTE_CHUNK sorted positions added in a fixed order (the same bits on every
 * run). The sort is our own: CUB's headers include <sched.h>, which -Imodel
 * finds as model/sched.h. */
#include "common.cuh"

static constexpr int ENC_BLOCK = 256;
static constexpr int SORT_BITS = 8;                 /* a digit a pass: 4 passes over 32-bit ids */
static constexpr int SORT_DIGITS = 1 << SORT_BITS;
static constexpr int SORT_TILE = SORT_DIGITS;       /* keys a block; a thread a key, and a digit when counting */
static constexpr int SCAN_BLOCK = 1024;
static_assert(SORT_TILE == SORT_DIGITS, "sort_count_kernel: a thread a digit");
static_assert(SORT_TILE == KERN_CUDA_SORT_TILE && SORT_DIGITS == KERN_CUDA_SORT_DIGITS, "kern_cuda_sizes.c sizes the sort");

/* ---- kernels ---- */

/* out (N,C) row r = wte (V,C) row inp[r] + wpe (T,C) row r % T; one block a row */
template <typename X>
__global__ void encoder_forward_kernel(X *out, const int *inp, const X *wte, const X *wpe, int T, int C)
{
    int r = blockIdx.x;
    const X *te = wte + (size_t)inp[r] * C, *pe = wpe + (size_t)(r % T) * C;
    X *o = out + (size_t)r * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = from_f<X>(to_f(te[c]) + to_f(pe[c]));
}

/* The stable LSD radix sort of the token ids, one digit a pass: count each
 * tile's digits, scan the counts digit-major (every tile's 0s, then every
 * tile's 1s, ...), scatter each key to its digit's offset plus its rank among
 * the tile's keys of that digit before it. Counting by comparisons in shared
 * memory (SORT_TILE a thread) is cheap for the N of a micro-batch and needs no
 * atomics. */
static __device__ __forceinline__ int digit_of(unsigned key, int shift) { return (key >> shift) & (SORT_DIGITS - 1); }

/* counts (SORT_DIGITS, n_tiles)[d][tile] = the keys (n) of the tile with digit d */
__global__ __launch_bounds__(SORT_TILE) void sort_count_kernel(int *counts, const unsigned *keys, int n, int shift)
{
    __shared__ int dg[SORT_TILE];
    int i = blockIdx.x * SORT_TILE + threadIdx.x;
    dg[threadIdx.x] = i < n ? digit_of(keys[i], shift) : -1;
    __syncthreads();
    int c = 0;
    for (int j = 0; j < SORT_TILE; j++) c += dg[j] == (int)threadIdx.x;
    counts[(size_t)threadIdx.x * gridDim.x + blockIdx.x] = c;
}

/* counts (m) -> their exclusive prefix sums, in place; one block: thread t
 * scans its own contiguous run, the runs' totals are scanned in shared memory */
__global__ __launch_bounds__(SCAN_BLOCK) void sort_scan_kernel(int *counts, int m)
{
    __shared__ int sh[SCAN_BLOCK];
    int per = (m + SCAN_BLOCK - 1) / SCAN_BLOCK, i0 = threadIdx.x * per;
    int i1 = i0 + per < m ? i0 + per : m, total = 0;
    for (int i = i0; i < i1; i++) total += counts[i];
    sh[threadIdx.x] = total;
    __syncthreads();
    for (int o = 1; o < SCAN_BLOCK; o <<= 1) { /* inclusive scan of the totals */
        int v = threadIdx.x >= o ? sh[threadIdx.x - o] : 0;
        __syncthreads();
        sh[threadIdx.x] += v;
        __syncthreads();
    }
    int run = sh[threadIdx.x] - total;
    for (int i = i0; i < i1; i++) {
        int c = counts[i];
        counts[i] = run;
        run += c;
    }
}

/* keys_out, vals_out (n) = keys, vals (n) stably ordered by the digit at
 * shift; offsets: sort_scan_kernel's. vals NULL: the row numbers 0..n-1. */
__global__ __launch_bounds__(SORT_TILE) void sort_scatter_kernel(unsigned *keys_out, int *vals_out,
                                                                 const unsigned *keys, const int *vals,
                                                                 const int *offsets, int n, int shift)
{
    __shared__ int dg[SORT_TILE];
    int i = blockIdx.x * SORT_TILE + threadIdx.x;
    int d = i < n ? digit_of(keys[i], shift) : -1;
    dg[threadIdx.x] = d;
    __syncthreads();
    if (i >= n) return;
    int rank = 0;
    for (int j = 0; j < (int)threadIdx.x; j++) rank += dg[j] == d;
    int dst = offsets[(size_t)d * gridDim.x + blockIdx.x] + rank;
    keys_out[dst] = keys[i];
    vals_out[dst] = vals ? vals[i] : i;
}

/* dwte (V,C) row id += the rows of dout (N,C) whose token is id. ids (N)
 * sorted, rows (N) their row numbers (ascending within an id: the sort is
 * stable). Blocks (i, y) take the packs of channels y WTE_BLOCK P .. of the
 * id at sorted position i, a thread a pack; wte_rows rows are loaded before
 * any is added, so the loads overlap and only the additions are serial. */
static constexpr int WTE_BLOCK = 128;
static constexpr int WTE_CHUNK = KERN_CUDA_WTE_CHUNK; /* sorted positions a partial sum (bf16) */
static_assert(WTE_CHUNK <= WTE_BLOCK, "wte_segment_kernel: a thread a position of its chunk");
/* rows loaded before they are added: 8 packs of 16 bytes, or 16 of less */
template <int P> __host__ __device__ static constexpr int wte_rows() { return P >= 8 ? 8 : 16; }

/* P floats of dwte: float4s where P is a pack of 16 bytes of X (4 or 8) */
template <int P> static __device__ __forceinline__ void floats_io(float (&f)[P], float *p, bool store)
{
    constexpr int W = P == 1 ? 1 : 4;
#pragma unroll
    for (int h = 0; h < P; h += W) {
        float (&part)[W] = *reinterpret_cast<float (*)[W]>(&f[h]);
        if (store) store_pack<W>(p + h, part);
        else load_pack<W>(part, p + h);
    }
}

/* acc += rows run[0..n) of dout at channels c.., in order */
template <typename X, int P>
static __device__ __forceinline__ void wte_add_rows(float (&acc)[P], const X *dout, const int *run, int n, int C, int c)
{
    constexpr int R = wte_rows<P>();
    for (int r0 = 0; r0 < n; r0 += R) {
        float f[R][P];
#pragma unroll
        for (int q = 0; q < R; q++)
            if (r0 + q < n) load_pack<P>(f[q], dout + (size_t)run[r0 + q] * C + c);
#pragma unroll
        for (int q = 0; q < R; q++)
            if (r0 + q < n)
#pragma unroll
                for (int e = 0; e < P; e++) acc[e] += f[q][e];
    }
}

/* float32: each token's rows added to dwte one after another, in row order,
 * as the CPU does (the same bits). Only the block at the start of a token's
 * run works; it reads the run WTE_BLOCK positions at a time, its length not
 * being known beforehand. A token's chain of additions is as long as its
 * count: on byte-level data thousands of rows. */
template <typename X, int P>
__global__ __launch_bounds__(WTE_BLOCK) void wte_backward_kernel(float *dwte, const X *dout, const unsigned *ids,
                                                                 const int *rows, int N, int C)
{
    __shared__ int run[WTE_BLOCK];
    int i = blockIdx.x;
    unsigned id = ids[i];
    if (i > 0 && ids[i - 1] == id) return;
    int c = (blockIdx.y * WTE_BLOCK + threadIdx.x) * P;
    bool mine = c < C;
    float *dw = dwte + (size_t)id * C + c, acc[P];
    if (mine) floats_io<P>(acc, dw, false);
    for (int j0 = i;; j0 += WTE_BLOCK) {
        int j = j0 + threadIdx.x;
        bool same = j < N && ids[j] == id;
        if (same) run[threadIdx.x] = rows[j];
        int n = __syncthreads_count(same); /* the run's rows here: a prefix, the ids being sorted */
        if (mine) wte_add_rows<X, P>(acc, dout, run, n, C, c);
        if (n < WTE_BLOCK) break;
        __syncthreads(); /* run is refilled */
    }
    if (mine) floats_io<P>(acc, dw, true);
}

/* bf16: the sorted positions cut into chunks of WTE_CHUNK, and a token's run
 * into its pieces in each chunk, summed in parallel; a run within one chunk
 * is added to dwte here, the pieces of a longer one go to part (two slots of
 * C floats a chunk: 2k for the piece that starts chunk k, 2k + 1 for the one
 * that starts inside it and runs past its end) for wte_gather_kernel. The
 * same cut every time: the same bits on every run. */
template <typename X, int P>
__global__ __launch_bounds__(WTE_BLOCK) void wte_segment_kernel(float *dwte, float *part, const X *dout,
                                                                const unsigned *ids, const int *rows, int N, int C)
{
    __shared__ int run[WTE_CHUNK];
    int i = blockIdx.x, k = i / WTE_CHUNK;
    unsigned id = ids[i];
    bool first = i == 0 || ids[i - 1] != id;
    if (!first && i % WTE_CHUNK) return;
    int lim = min(N, (k + 1) * WTE_CHUNK), j = i + threadIdx.x;
    bool same = j < lim && ids[j] == id;
    if (same) run[threadIdx.x] = rows[j];
    int n = __syncthreads_count(same);
    int c = (blockIdx.y * WTE_BLOCK + threadIdx.x) * P;
    if (c >= C) return;
    float acc[P] = {};
    wte_add_rows<X, P>(acc, dout, run, n, C, c);
    bool whole = first && (i + n < lim || lim == N || ids[lim] != id);
    if (whole) {
        float *dw = dwte + (size_t)id * C + c, f[P];
        floats_io<P>(f, dw, false);
#pragma unroll
        for (int e = 0; e < P; e++) f[e] += acc[e];
        floats_io<P>(f, dw, true);
    } else {
        floats_io<P>(acc, part + (size_t)(2 * k + (i % WTE_CHUNK != 0)) * C + c, true);
    }
}

/* dwte row id += the pieces of a run longer than its first chunk, in chunk order */
template <int P>
__global__ __launch_bounds__(WTE_BLOCK) void wte_gather_kernel(float *dwte, float *part, const unsigned *ids, int N,
                                                               int C)
{
    int i = blockIdx.x, k = i / WTE_CHUNK;
    unsigned id = ids[i];
    if (i > 0 && ids[i - 1] == id) return;
    if ((k + 1) * WTE_CHUNK >= N || ids[(k + 1) * WTE_CHUNK] != id) return; /* whole in its first chunk */
    int c = (blockIdx.y * WTE_BLOCK + threadIdx.x) * P;
    if (c >= C) return;
    float *dw = dwte + (size_t)id * C + c, acc[P], f[P];
    floats_io<P>(acc, dw, false);
    for (int slot = 2 * k + (i % WTE_CHUNK != 0);; slot = 2 * ++k) {
        floats_io<P>(f, part + (size_t)slot * C + c, false);
#pragma unroll
        for (int e = 0; e < P; e++) acc[e] += f[e];
        if ((k + 1) * WTE_CHUNK >= N || ids[(k + 1) * WTE_CHUNK] != id) break;
    }
    floats_io<P>(acc, dw, true);
}

/* dwpe (T,C) += sum over b of dout (B,T,C) [b], b in order; a thread an element */
template <typename X>
__global__ void wpe_backward_kernel(float *dwpe, const X *dout, int B, size_t TC)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= TC) return;
    float acc = dwpe[i];
    for (int b = 0; b < B; b++) acc += to_f(dout[b * TC + i]);
    dwpe[i] = acc;
}

/* ---- launchers ---- */

template <typename X>
static void encoder_forward_as(Kern *k, X *out, const int *inp, const X *wte, const X *wpe, int B, int T, int C)
{
    encoder_forward_kernel<X><<<B * T, ENC_BLOCK, 0, cuda_stream(k)>>>(out, inp, wte, wpe, T, C);
    LAUNCH_CHECK("encoder_forward_kernel");
}

void cu_encoder_forward(Kern *k, floatX *out, const int *inp, const floatX *wte, const floatX *wpe, int B, int T,
                        int C)
{
    if (B * T == 0 || C == 0) return;
    if (k->prec == PREC_BF16)
        encoder_forward_as(k, (bf16 *)out, inp, (const bf16 *)wte, (const bf16 *)wpe, B, T, C);
    else
        encoder_forward_as(k, (float *)out, inp, (const float *)wte, (const float *)wpe, B, T, C);
}

/* Scratch: the ids and row numbers twice (the sort's two buffers) and the
 * digit counts: 4 N + SORT_DIGITS ceil(N / SORT_TILE) ints; in bf16 then
 * 2 ceil(N / WTE_CHUNK) C floats of the runs' pieces. */
template <int P, typename X>
static void wte_backward_as(cudaStream_t st, float *dwte, float *part, const X *dout, const unsigned *ids,
                            const int *rows, int N, int C)
{
    dim3 grid(N, cuda_blocks((size_t)C / P, WTE_BLOCK));
    if constexpr (sizeof(X) == 2) {
        wte_segment_kernel<X, P><<<grid, WTE_BLOCK, 0, st>>>(dwte, part, dout, ids, rows, N, C);
        LAUNCH_CHECK("wte_segment_kernel");
        wte_gather_kernel<P><<<grid, WTE_BLOCK, 0, st>>>(dwte, part, ids, N, C);
        LAUNCH_CHECK("wte_gather_kernel");
    } else {
        wte_backward_kernel<X, P><<<grid, WTE_BLOCK, 0, st>>>(dwte, dout, ids, rows, N, C);
        LAUNCH_CHECK("wte_backward_kernel");
    }
}

template <typename X>
static void encoder_backward_as(Kern *k, float *dwte, float *dwpe, const X *dout, const int *inp, int B, int T,
                                int C)
{
    cudaStream_t st = cuda_stream(k);
    int N = B * T, tiles = (N + SORT_TILE - 1) / SORT_TILE;
    size_t ints = 4 * (size_t)N + (size_t)SORT_DIGITS * tiles; /* a multiple of 4: part is 16-byte aligned */
    size_t parts = sizeof(X) == 2 ? 2 * (size_t)((N + WTE_CHUNK - 1) / WTE_CHUNK) * C : 0;
    int *s = (int *)cuda_scratch(k, ints * sizeof(int) + parts * sizeof(float));
    unsigned *ids[2] = { (unsigned *)s, (unsigned *)(s + N) };
    int *rows[2] = { s + 2 * (size_t)N, s + 3 * (size_t)N }, *counts = s + 4 * (size_t)N;
    float *part = (float *)(s + ints);

    const unsigned *keys = (const unsigned *)inp; /* ids are >= 0: as unsigned they sort the same */
    const int *vals = nullptr;
    for (int pass = 0, shift = 0; shift < 32; pass++, shift += SORT_BITS) {
        sort_count_kernel<<<tiles, SORT_TILE, 0, st>>>(counts, keys, N, shift);
        LAUNCH_CHECK("sort_count_kernel");
        sort_scan_kernel<<<1, SCAN_BLOCK, 0, st>>>(counts, SORT_DIGITS * tiles);
        LAUNCH_CHECK("sort_scan_kernel");
        sort_scatter_kernel<<<tiles, SORT_TILE, 0, st>>>(ids[pass % 2], rows[pass % 2], keys, vals, counts, N, shift);
        LAUNCH_CHECK("sort_scatter_kernel");
        keys = ids[pass % 2];
        vals = rows[pass % 2];
    }
    constexpr int P = 16 / sizeof(X);
    if (C % P == 0 && aligned16(dout) && aligned16(dwte)) wte_backward_as<P>(st, dwte, part, dout, keys, vals, N, C);
    else wte_backward_as<1>(st, dwte, part, dout, keys, vals, N, C);
    size_t TC = (size_t)T * C;
    wpe_backward_kernel<X><<<cuda_blocks(TC, ENC_BLOCK), ENC_BLOCK, 0, st>>>(dwpe, dout, B, TC);
    LAUNCH_CHECK("wpe_backward_kernel");
}

void cu_encoder_backward(Kern *k, float *dwte, float *dwpe, const floatX *dout, const int *inp, int B, int T, int C)
{
    if (B * T == 0 || C == 0) return;
    if (k->prec == PREC_BF16) encoder_backward_as(k, dwte, dwpe, (const bf16 *)dout, inp, B, T, C);
    else encoder_backward_as(k, dwte, dwpe, (const float *)dout, inp, B, T, C);
}
