/* LayerNorm over C on the GPU, eps 1e-5: a warp a row for the forward and for
 * the input's gradient (+= into dinp: the residual stream's gradient adds up
 * there, as on the CPU). The backward reads dout and inp once: one kernel
 * takes a chunk of LN_CHUNK rows a block of 4 warps, warp w the rows w, w + 4,
 * ... of the chunk, and besides dinp adds each row's dout norm and dout into
 * the warp's own slice of shared memory (a channel's sum runs over the warp's
 * rows in order); the block then adds the 4 slices in warp order into the
 * chunk's partial sums of dw, db in cuda_scratch. A second kernel adds the
 * chunks a channel: chunk lane l of 32 the chunks l, l + 32, ... in order,
 * then the lanes in a fixed tree (lane l + h into lane l, h = 16, 8, ..., 1),
 * into dw, db (+=).
 * Where the 4 slices (32 C bytes) pass a block's shared memory (C > 7264 on
 * an H200), dinp and the partial sums are two kernels, dout and inp read
 * twice. No atomics: the bits depend on the shapes (and that limit) only.
 * Statistics are float32. */
#include "common.cuh"

static constexpr int LN_WARPS = 8;             /* rows a block: forward, and dinp alone */
static constexpr int LN_BWD_WARPS = 4;         /* warps a chunk of the backward */
static constexpr int LN_COLS = 32;             /* channels a block of the dw, db partials */
static constexpr int LN_LANES = 8;             /* row lanes a block of the dw, db partials */
static constexpr int LN_CHUNK = 32;            /* rows a partial sum of dw, db (and a block of the backward) */
static constexpr int LN_SUM_COLS = 16;         /* channels a block of the chunks' sum */
static constexpr int LN_SUM_LANES = 32;        /* chunk lanes a block of the chunks' sum */
static_assert(LN_CHUNK == KERN_CUDA_LN_CHUNK, "kern_cuda_sizes.c sizes the partial sums");

/* The sum over a warp by xor shuffles: every lane gets the same bits. */
static __device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* ---- kernels ---- */

/* out (N,C) = (inp - mean) rstd w + b; mean, rstd (N). Lane l takes the packs
 * l, l + 32, ... of its row; the row is read three times (mean, variance,
 * output), from L1 after the first. */
template <typename X, int P>
__global__ __launch_bounds__(LN_WARPS * 32) void layernorm_forward_kernel(X *out, float *mean, float *rstd,
                                                                          const X *inp, const X *w, const X *b,
                                                                          int N, int C)
{
    int row = blockIdx.x * LN_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    const X *x = inp + (size_t)row * C;
    float f[P], sum = 0.0f;
    for (int c = lane * P; c < C; c += 32 * P) {
        load_pack<P>(f, x + c);
#pragma unroll
        for (int j = 0; j < P; j++) sum += f[j];
    }
    float m = warp_sum(sum) / (float)C;
    float var = 0.0f;
    for (int c = lane * P; c < C; c += 32 * P) {
        load_pack<P>(f, x + c);
#pragma unroll
        for (int j = 0; j < P; j++) var += (f[j] - m) * (f[j] - m);
    }
    float s = 1.0f / sqrtf(warp_sum(var) / (float)C + 1e-5f);
    X *o = out + (size_t)row * C;
    for (int c = lane * P; c < C; c += 32 * P) {
        float wf[P], bf[P];
        load_pack<P>(f, x + c);
        load_pack<P>(wf, w + c);
        load_pack<P>(bf, b + c);
#pragma unroll
        for (int j = 0; j < P; j++) f[j] = (f[j] - m) * s * wf[j] + bf[j];
        store_pack<P>(o + c, f);
    }
    if (lane == 0) {
        mean[row] = m;
        rstd[row] = s;
    }
}

/* Where element j of the pack at channel c (a multiple of P) lies in a warp's
 * slice of C sums. Lane-major, so that the lanes' P consecutive channels fall
 * in 32 banks: the packs go in groups of 32 (the last may have n < 32), and
 * element j of a group's pack l lies at j n + l after the group's start.
 * P = 1 keeps channel order. */
template <int P> static __device__ __forceinline__ int ln_slot(int c, int j, int C)
{
    int g = c / (32 * P) * 32, n = min(32, C / P - g); /* the group's first pack, its packs */
    return g * P + j * n + c / P - g;
}

/* The channel of slot s: ln_slot's inverse. */
template <int P> static __device__ __forceinline__ int ln_channel(int s, int C)
{
    if constexpr (P == 1) return s;
    int g = s / (32 * P) * 32, n = min(32, C / P - g), r = s - g * P;
    return (g + r % n) * P + r / n;
}

/* One row, a warp: di (C) += (w d - mean(w d) - norm mean(w d norm)) rstd,
 * with norm = (x - mean) rstd; where SUMS, d norm and d are added into the
 * warp's slices sw, sw + C (ln_slot's order). */
template <typename X, int P, bool SUMS>
static __device__ __forceinline__ void ln_backward_row(X *di, const X *d, const X *x, const X *w, float m, float s,
                                                       int C, float *sw)
{
    int lane = threadIdx.x % 32;
    float dmean = 0.0f, dnorm_mean = 0.0f;
    float xf[P], df[P], wf[P];
    for (int c = lane * P; c < C; c += 32 * P) {
        load_pack<P>(xf, x + c);
        load_pack<P>(df, d + c);
        load_pack<P>(wf, w + c);
#pragma unroll
        for (int j = 0; j < P; j++) {
            float dn = wf[j] * df[j];
            dmean += dn;
            dnorm_mean += dn * (xf[j] - m) * s;
        }
    }
    dmean = warp_sum(dmean) / (float)C;
    dnorm_mean = warp_sum(dnorm_mean) / (float)C;
    for (int c = lane * P; c < C; c += 32 * P) {
        float g[P];
        load_pack<P>(xf, x + c);
        load_pack<P>(df, d + c);
        load_pack<P>(wf, w + c);
        load_pack<P>(g, di + c);
#pragma unroll
        for (int j = 0; j < P; j++) {
            float norm = (xf[j] - m) * s;
            g[j] += (wf[j] * df[j] - dmean - norm * dnorm_mean) * s;
            if constexpr (SUMS) {
                int at = ln_slot<P>(c, j, C);
                sw[at] += df[j] * norm;
                sw[C + at] += df[j];
            }
        }
        store_pack<P>(di + c, g);
    }
}

/* The backward of chunk blockIdx.x (rows [x LN_CHUNK, (x+1) LN_CHUNK)): dinp
 * (N,C) += its rows' gradient, and pw, pb (n_chunks, C) = the chunk's sums
 * of dout norm and dout. Dynamic shared memory: LN_BWD_WARPS slices of 2 C
 * floats, a warp's own. */
template <typename X, int P>
__global__ __launch_bounds__(LN_BWD_WARPS * 32) void layernorm_backward_kernel(X *dinp, float *pw, float *pb,
                                                                              const X *dout, const X *inp,
                                                                              const X *w, const float *mean,
                                                                              const float *rstd, int N, int C)
{
    extern __shared__ float ln_sums[]; /* (LN_BWD_WARPS, 2, C) */
    int warp = threadIdx.x / 32;
    float *sw = ln_sums + (size_t)warp * 2 * C;
    for (int i = threadIdx.x % 32; i < 2 * C; i += 32) sw[i] = 0.0f;
    __syncwarp(); /* a lane's zeros lie in other lanes' slots */
    int r0 = blockIdx.x * LN_CHUNK, r1 = min(r0 + LN_CHUNK, N);
    for (int row = r0 + warp; row < r1; row += LN_BWD_WARPS) {
        size_t off = (size_t)row * C;
        ln_backward_row<X, P, true>(dinp + off, dout + off, inp + off, w, mean[row], rstd[row], C, sw);
    }
    __syncthreads();
    for (int s = threadIdx.x; s < C; s += LN_BWD_WARPS * 32) {
        float aw = 0.0f, ab = 0.0f;
#pragma unroll
        for (int v = 0; v < LN_BWD_WARPS; v++) {
            aw += ln_sums[(size_t)v * 2 * C + s];
            ab += ln_sums[(size_t)v * 2 * C + C + s];
        }
        int c = ln_channel<P>(s, C);
        pw[(size_t)blockIdx.x * C + c] = aw;
        pb[(size_t)blockIdx.x * C + c] = ab;
    }
}

/* dinp (N,C) += its gradient alone, a warp a row: the backward where C is too
 * wide for layernorm_backward_kernel's shared memory */
template <typename X, int P>
__global__ __launch_bounds__(LN_WARPS * 32) void layernorm_dinp_kernel(X *dinp, const X *dout, const X *inp,
                                                                       const X *w, const float *mean,
                                                                       const float *rstd, int N, int C)
{
    int row = blockIdx.x * LN_WARPS + threadIdx.x / 32;
    if (row >= N) return;
    size_t off = (size_t)row * C;
    ln_backward_row<X, P, false>(dinp + off, dout + off, inp + off, w, mean[row], rstd[row], C, nullptr);
}

/* Partial sums over chunk blockIdx.y (rows [y LN_CHUNK, (y+1) LN_CHUNK)) of
 * dout norm and dout, for LN_COLS channels: pw, pb (n_chunks, C), as
 * layernorm_backward_kernel's but read apart from dinp. Row lane ly takes rows
 * ly, ly + LN_LANES, ... of the chunk; the lanes then add up in lane order. */
template <typename X>
__global__ __launch_bounds__(LN_COLS * LN_LANES) void layernorm_dwdb_partial_kernel(float *pw, float *pb,
                                                                                    const X *dout, const X *inp,
                                                                                    const float *mean,
                                                                                    const float *rstd, int N,
                                                                                    int C)
{
    __shared__ float sw[LN_LANES][LN_COLS], sb[LN_LANES][LN_COLS];
    int lx = threadIdx.x % LN_COLS, ly = threadIdx.x / LN_COLS;
    int c = blockIdx.x * LN_COLS + lx, r0 = blockIdx.y * LN_CHUNK;
    int r1 = r0 + LN_CHUNK < N ? r0 + LN_CHUNK : N;
    float aw = 0.0f, ab = 0.0f;
    if (c < C) {
        for (int r = r0 + ly; r < r1; r += LN_LANES) {
            float d = to_f(dout[(size_t)r * C + c]), x = to_f(inp[(size_t)r * C + c]);
            aw += d * (x - mean[r]) * rstd[r];
            ab += d;
        }
    }
    sw[ly][lx] = aw;
    sb[ly][lx] = ab;
    __syncthreads();
    if (ly == 0 && c < C) {
        for (int l = 1; l < LN_LANES; l++) {
            aw += sw[l][lx];
            ab += sb[l][lx];
        }
        pw[(size_t)blockIdx.y * C + c] = aw;
        pb[(size_t)blockIdx.y * C + c] = ab;
    }
}

/* dw, db (C) += the partial sums pw, pb (n_chunks, C), LN_SUM_COLS channels
 * a block: chunk lane ly adds the chunks ly, ly + LN_SUM_LANES, ... in order,
 * then the lanes add in a tree (lane l + h into lane l, h = 16, 8, ..., 1). */
__global__ __launch_bounds__(LN_SUM_COLS * LN_SUM_LANES) void layernorm_dwdb_sum_kernel(float *dw, float *db,
                                                                                        const float *pw,
                                                                                        const float *pb,
                                                                                        int n_chunks, int C)
{
    __shared__ float sw[LN_SUM_LANES][LN_SUM_COLS], sb[LN_SUM_LANES][LN_SUM_COLS];
    int lx = threadIdx.x % LN_SUM_COLS, ly = threadIdx.x / LN_SUM_COLS, c = blockIdx.x * LN_SUM_COLS + lx;
    float aw = 0.0f, ab = 0.0f;
    if (c < C) {
        for (int i = ly; i < n_chunks; i += LN_SUM_LANES) {
            aw += pw[(size_t)i * C + c];
            ab += pb[(size_t)i * C + c];
        }
    }
    sw[ly][lx] = aw;
    sb[ly][lx] = ab;
#pragma unroll
    for (int h = LN_SUM_LANES / 2; h > 0; h /= 2) {
        __syncthreads(); /* lanes [h, 2h) have written theirs */
        if (ly < h) {
            sw[ly][lx] = aw += sw[ly + h][lx];
            sb[ly][lx] = ab += sb[ly + h][lx];
        }
    }
    if (ly == 0 && c < C) {
        dw[c] += aw;
        db[c] += ab;
    }
}

/* ---- launchers ---- */

template <typename X>
static void layernorm_forward_as(Kern *k, X *out, float *mean, float *rstd, const X *inp, const X *w, const X *b,
                                 int N, int C)
{
    constexpr int P = 16 / sizeof(X);
    unsigned grid = cuda_blocks(N, LN_WARPS);
    if (C % P == 0 && aligned16(out) && aligned16(inp) && aligned16(w) && aligned16(b))
        layernorm_forward_kernel<X, P><<<grid, LN_WARPS * 32, 0, cuda_stream(k)>>>(out, mean, rstd, inp, w, b, N, C);
    else
        layernorm_forward_kernel<X, 1><<<grid, LN_WARPS * 32, 0, cuda_stream(k)>>>(out, mean, rstd, inp, w, b, N, C);
    LAUNCH_CHECK("layernorm_forward_kernel");
}

void cu_layernorm_forward(Kern *k, floatX *out, float *mean, float *rstd, const floatX *inp, const floatX *w,
                          const floatX *b, int N, int C)
{
    if (N == 0 || C == 0) return;
    if (k->prec == PREC_BF16)
        layernorm_forward_as(k, (bf16 *)out, mean, rstd, (const bf16 *)inp, (const bf16 *)w, (const bf16 *)b, N, C);
    else
        layernorm_forward_as(k, (float *)out, mean, rstd, (const float *)inp, (const float *)w, (const float *)b, N,
                             C);
}

/* Scratch: 2 ceil(N / LN_CHUNK) C floats (the chunks' partial sums of dw and db). */
template <typename X>
static void layernorm_backward_as(Kern *k, X *dinp, float *dw, float *db, const X *dout, const X *inp, const X *w,
                                  const float *mean, const float *rstd, int N, int C)
{
    constexpr int P = 16 / sizeof(X);
    cudaStream_t st = cuda_stream(k);
    bool packs = C % P == 0 && aligned16(dinp) && aligned16(dout) && aligned16(inp) && aligned16(w);
    int n_chunks = (N + LN_CHUNK - 1) / LN_CHUNK;
    float *pw = (float *)cuda_scratch(k, 2 * (size_t)n_chunks * C * sizeof(float)), *pb = pw + (size_t)n_chunks * C;
    size_t smem = (size_t)LN_BWD_WARPS * 2 * C * sizeof(float);
    if (smem <= cuda_state(k)->smem_optin) {
        auto kernel = packs ? layernorm_backward_kernel<X, P> : layernorm_backward_kernel<X, 1>;
        cuda_allow_smem(kernel, smem);
        kernel<<<n_chunks, LN_BWD_WARPS * 32, smem, st>>>(dinp, pw, pb, dout, inp, w, mean, rstd, N, C);
        LAUNCH_CHECK("layernorm_backward_kernel");
    } else { /* the slices do not fit: dout and inp are read twice */
        unsigned grid = cuda_blocks(N, LN_WARPS);
        if (packs)
            layernorm_dinp_kernel<X, P><<<grid, LN_WARPS * 32, 0, st>>>(dinp, dout, inp, w, mean, rstd, N, C);
        else
            layernorm_dinp_kernel<X, 1><<<grid, LN_WARPS * 32, 0, st>>>(dinp, dout, inp, w, mean, rstd, N, C);
        LAUNCH_CHECK("layernorm_dinp_kernel");
        dim3 pgrid(cuda_blocks(C, LN_COLS), n_chunks);
        layernorm_dwdb_partial_kernel<X><<<pgrid, LN_COLS * LN_LANES, 0, st>>>(pw, pb, dout, inp, mean, rstd, N, C);
        LAUNCH_CHECK("layernorm_dwdb_partial_kernel");
    }
    layernorm_dwdb_sum_kernel<<<cuda_blocks(C, LN_SUM_COLS), LN_SUM_COLS * LN_SUM_LANES, 0, st>>>(dw, db, pw, pb,
                                                                                              n_chunks, C);
    LAUNCH_CHECK("layernorm_dwdb_sum_kernel");
}

void cu_layernorm_backward(Kern *k, floatX *dinp, float *dw, float *db, const floatX *dout, const floatX *inp,
                           const floatX *w, const float *mean, const float *rstd, int N, int C)
{
    if (N == 0 || C == 0) return;
    if (k->prec == PREC_BF16)
        layernorm_backward_as(k, (bf16 *)dinp, dw, db, (const bf16 *)dout, (const bf16 *)inp, (const bf16 *)w, mean,
                              rstd, N, C);
    else
        layernorm_backward_as(k, (float *)dinp, dw, db, (const float *)dout, (const float *)inp, (const float *)w,
                              mean, rstd, N, C);
}
