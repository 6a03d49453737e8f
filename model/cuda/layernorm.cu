/* LayerNorm over C on the GPU, eps 1e-5: a warp a row for the forward and for
 * the input's gradient (+= into dinp: the residual stream's gradient adds up
 * there, as on the CPU). The weight and bias gradients are sums over the N
 * rows: partial sums over fixed chunks of LN_CHUNK rows go to cuda_scratch,
 * then one thread a channel adds the chunks in order into dw, db, so the bits
 * depend on the shapes only (no atomics). Statistics are float32. */
#include "common.cuh"

static constexpr int LN_WARPS = 8;             /* rows a block, forward and dinp */
static constexpr int LN_COLS = 32;             /* channels a block of the dw, db partials */
static constexpr int LN_LANES = 8;             /* row lanes a block of the dw, db partials */
static constexpr int LN_CHUNK = 256;           /* rows a partial sum of dw, db */
static_assert(LN_CHUNK == KERN_CUDA_LN_CHUNK, "kern_cuda_sizes.c sizes the partial sums");
static constexpr int LN_SUM_BLOCK = 256;

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

/* dinp (N,C) += (w dout - mean(w dout) - norm mean(w dout norm)) rstd, with
 * norm = (inp - mean) rstd; a warp a row */
template <typename X, int P>
__global__ __launch_bounds__(LN_WARPS * 32) void layernorm_dinp_kernel(X *dinp, const X *dout, const X *inp,
                                                                       const X *w, const float *mean,
                                                                       const float *rstd, int N, int C)
{
    int row = blockIdx.x * LN_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    size_t off = (size_t)row * C;
    const X *x = inp + off, *d = dout + off;
    X *di = dinp + off;
    float m = mean[row], s = rstd[row], dmean = 0.0f, dnorm_mean = 0.0f;
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
        }
        store_pack<P>(di + c, g);
    }
}

/* Partial sums over chunk blockIdx.y (rows [y LN_CHUNK, (y+1) LN_CHUNK)) of
 * dout norm and dout, for LN_COLS channels: pw, pb (n_chunks, C). Row lane ly
 * takes rows ly, ly + LN_LANES, ... of the chunk; the lanes then add up in
 * lane order. */
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

/* dw, db (C) += the partial sums pw, pb (n_chunks, C), chunks in order */
__global__ void layernorm_dwdb_sum_kernel(float *dw, float *db, const float *pw, const float *pb, int n_chunks,
                                          int C)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float aw = 0.0f, ab = 0.0f;
    for (int i = 0; i < n_chunks; i++) {
        aw += pw[(size_t)i * C + c];
        ab += pb[(size_t)i * C + c];
    }
    dw[c] += aw;
    db[c] += ab;
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

/* Scratch: 2 ceil(N / LN_CHUNK) C floats (the partial sums of dw and db). */
template <typename X>
static void layernorm_backward_as(Kern *k, X *dinp, float *dw, float *db, const X *dout, const X *inp, const X *w,
                                  const float *mean, const float *rstd, int N, int C)
{
    constexpr int P = 16 / sizeof(X);
    cudaStream_t st = cuda_stream(k);
    unsigned grid = cuda_blocks(N, LN_WARPS);
    if (C % P == 0 && aligned16(dinp) && aligned16(dout) && aligned16(inp) && aligned16(w))
        layernorm_dinp_kernel<X, P><<<grid, LN_WARPS * 32, 0, st>>>(dinp, dout, inp, w, mean, rstd, N, C);
    else
        layernorm_dinp_kernel<X, 1><<<grid, LN_WARPS * 32, 0, st>>>(dinp, dout, inp, w, mean, rstd, N, C);
    LAUNCH_CHECK("layernorm_dinp_kernel");

    int n_chunks = (N + LN_CHUNK - 1) / LN_CHUNK;
    float *pw = (float *)cuda_scratch(k, 2 * (size_t)n_chunks * C * sizeof(float)), *pb = pw + (size_t)n_chunks * C;
    dim3 pgrid(cuda_blocks(C, LN_COLS), n_chunks);
    layernorm_dwdb_partial_kernel<X><<<pgrid, LN_COLS * LN_LANES, 0, st>>>(pw, pb, dout, inp, mean, rstd, N, C);
    LAUNCH_CHECK("layernorm_dwdb_partial_kernel");
    layernorm_dwdb_sum_kernel<<<cuda_blocks(C, LN_SUM_BLOCK), LN_SUM_BLOCK, 0, st>>>(dw, db, pw, pb, n_chunks, C);
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
