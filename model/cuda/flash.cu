/* Causal self-attention in bf16, fused in the flash-attention manner: scores,
 * causal mask, online softmax, dropout mask and the product with V run tile by
 * tile in shared memory and registers, so no (T,T) matrix ever reaches device
 * memory (materialised, B 16 T 1024 with 12 heads is 800 MB of probabilities a
 * layer). The forward keeps each row's log-sum-exp; the backward recomputes P
 * from it in two kernels that each own their outputs (dK and dV a key tile,
 * dQ a query tile), so every sum runs in one thread in a fixed order: no
 * atomics, and a rerun gives the same bits. bf16 loads, float32 arithmetic
 * (scalar FMAs; no tensor cores yet). float32 stays on attention.cu's
 * materialised path, which equals the CPU; this one is within bf16 of it
 * (tests/model/test_cuda.c). */
#include "common.cuh"

#include <math.h>
#include <stdio.h>

/* Every kernel here: 8 warps; a block owns TILE rows (queries, or keys in the
 * dK/dV kernel), TILE / 8 a warp, and streams tiles of TILE of the other side,
 * TILE / 32 a lane. The head dimension hs is padded with zeros to HSP, a
 * multiple of 32 (a lane holds HSP / 32 of a row's columns): HSP 32 and 64
 * take 64-row tiles, 96 and 128 take 32 so that shared memory stays under the
 * 99 KB a block gets on sm_86/89. */
static constexpr int FL_THREADS = 256, FL_WARPS = FL_THREADS / 32;
static constexpr float FL_LOG2E = 1.4426950408889634f, FL_LN2 = 0.6931471805599453f;

/* kernels.h's KDrop, by value; on 0: no dropout */
struct FlashDrop {
    uint64_t base;
    uint32_t thresh;
    float scale;
    int on;
};

/* The mask's index of probability (b,h,t,s): the CPU's (B,NH,T,T) layout. */
static __device__ __forceinline__ float flash_mask(const FlashDrop &d, int bh, int T, int t, int s)
{
    return cuda_drop_mul(d.base, d.thresh, d.scale, ((uint64_t)bh * T + t) * T + s);
}

/* Butterfly reductions: every lane ends with the same bits (a + b == b + a). */
static __device__ __forceinline__ float flash_warp_max(float x)
{
    for (int o = 16; o; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffff, x, o));
    return x;
}
static __device__ __forceinline__ float flash_warp_sum(float x)
{
    for (int o = 16; o; o >>= 1) x += __shfl_xor_sync(0xffffffff, x, o);
    return x;
}

/* Rows r0..r0+TILE-1 of one head's q, k, v or dout (src: row 0, column 0 of
 * the head; rows `stride` apart) times mul into shared memory as float, zero
 * past T and past hs: row-major dst[r][HSP], or transposed dst[d][TILE + 1]
 * (the +1 keeps both a row's and a column's reads on distinct banks). */
template <int HSP, int TILE, bool TRANS>
static __device__ __forceinline__ void flash_load(float *dst, const bf16 *src, size_t stride, int r0, int T, int hs,
                                                  float mul)
{
    for (int i = threadIdx.x; i < TILE * HSP; i += FL_THREADS) {
        int r = i / HSP, d = i % HSP, t = r0 + r;
        float x = t < T && d < hs ? to_f(src[(size_t)t * stride + d]) * mul : 0.0f;
        if (TRANS) dst[d * (TILE + 1) + r] = x;
        else dst[r * HSP + d] = x;
    }
}

/* Shared memory of each kernel, in floats (the layouts are in the kernels). */
/* The backward's two products at once, for a warp's RPW rows against the
 * lane's KPL columns: sc[r][c] = A_r . B_c and dp[r][c] = A2_r . B2_c over
 * HSP dimensions, A and A2 row-major (HSP a row), B and B2 transposed in
 * shared memory (column c of dimension d at d * PITCH + lane + 32 c). Used
 * with (K, V; Q, dO) by the dK/dV kernel and (Q, dO; K, V) by the dQ kernel. */
template <int HSP, int RPW, int KPL, int PITCH>
static __device__ __forceinline__ void flash_dots2(float (&sc)[RPW][KPL], float (&dp)[RPW][KPL], const float *A,
                                                   const float *A2, const float *Bt, const float *B2t, int lane)
{
#pragma unroll
    for (int r = 0; r < RPW; r++)
#pragma unroll
        for (int c = 0; c < KPL; c++) sc[r][c] = dp[r][c] = 0.0f;
#pragma unroll 2
    for (int d = 0; d < HSP; d += 4) {
        float bb[4][KPL], b2[4][KPL];
#pragma unroll
        for (int u = 0; u < 4; u++)
#pragma unroll
            for (int c = 0; c < KPL; c++) {
                bb[u][c] = Bt[(d + u) * PITCH + lane + 32 * c];
                b2[u][c] = B2t[(d + u) * PITCH + lane + 32 * c];
            }
#pragma unroll
        for (int r = 0; r < RPW; r++) {
            float4 av = *(const float4 *)(A + r * HSP + d), a2 = *(const float4 *)(A2 + r * HSP + d);
#pragma unroll
            for (int c = 0; c < KPL; c++) {
                float s = sc[r][c], e = dp[r][c];
                s = fmaf(av.x, bb[0][c], s);
                s = fmaf(av.y, bb[1][c], s);
                s = fmaf(av.z, bb[2][c], s);
                s = fmaf(av.w, bb[3][c], s);
                e = fmaf(a2.x, b2[0][c], e);
                e = fmaf(a2.y, b2[1][c], e);
                e = fmaf(a2.z, b2[2][c], e);
                e = fmaf(a2.w, b2[3][c], e);
                sc[r][c] = s;
                dp[r][c] = e;
            }
        }
    }
}

template <int HSP, int TILE> struct FlashSmem {
    static constexpr size_t fwd = 2 * TILE * HSP + HSP * (TILE + 1) + TILE * TILE;
    static constexpr size_t kv = 2 * TILE * HSP + 2 * HSP * (TILE + 1) + 2 * TILE * TILE + 2 * TILE;
    static constexpr size_t q = 2 * TILE * HSP + 2 * HSP * (TILE + 1) + TILE * TILE;
};

/* out (B,T,C) bf16 and lse (B,NH,T) float (natural log, the scale included)
 * from qkv (B,T,3C) bf16. A block a (query tile, b*NH+h), the last query
 * tiles (the most key tiles) first. Warp w owns query rows w*RPW.., lane
 * keys lane + 32c of each key tile for the scores and columns lane + 32i of
 * the output. Scores are in log2 units: q is loaded times scale*log2(e). */
template <int HSP, int TILE>
__global__ void __launch_bounds__(FL_THREADS, 2)
    flash_forward(bf16 *out, float *lse, const bf16 *qkv, int T, int NH, int hs, int BH, float qmul, FlashDrop dr)
{
    constexpr int RPW = TILE / FL_WARPS, KPL = TILE / 32, DPT = HSP / 32, KS = TILE + 1;
    extern __shared__ float4 flash_smem[];
    float *Qs = (float *)flash_smem; /* [TILE][HSP] */
    float *Kt = Qs + TILE * HSP;     /* [HSP][KS] */
    float *Vs = Kt + HSP * KS;       /* [TILE][HSP] */
    float *Ps = Vs + TILE * HSP;     /* [TILE][TILE]: the (dropped) probabilities */
    int nt = (T + TILE - 1) / TILE, qt = nt - 1 - (int)(blockIdx.x / BH), bh = (int)(blockIdx.x % BH);
    int b = bh / NH, h = bh % NH, C = NH * hs, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    size_t stride = 3 * (size_t)C;
    const bf16 *q = qkv + (size_t)b * T * stride + h * hs, *k = q + C, *v = q + 2 * C;
    int t0 = qt * TILE;
    flash_load<HSP, TILE, false>(Qs, q, stride, t0, T, hs, qmul);
    const float *Qw = Qs + warp * RPW * HSP;
    float *Pw = Ps + warp * RPW * TILE;
    /* o: the row's output times l, unnormalised; m: the running max (log2
     * units); l: this lane's share of the running sum, rescaled with m */
    float o[RPW][DPT], m[RPW], l[RPW];
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
#pragma unroll
        for (int i = 0; i < DPT; i++) o[r][i] = 0.0f;
    }
    /* key tiles up to the diagonal; tile 0 holds key 0, which every row sees,
     * so m is finite from the first tile on */
    for (int kt = 0; kt <= qt; kt++) {
        int s0 = kt * TILE;
        __syncthreads(); /* the last tile's Kt, Vs and Ps are read */
        flash_load<HSP, TILE, true>(Kt, k, stride, s0, T, hs, 1.0f);
        flash_load<HSP, TILE, false>(Vs, v, stride, s0, T, hs, 1.0f);
        __syncthreads();
        float sc[RPW][KPL];
#pragma unroll
        for (int r = 0; r < RPW; r++)
#pragma unroll
            for (int c = 0; c < KPL; c++) sc[r][c] = 0.0f;
#pragma unroll 4
        for (int d = 0; d < HSP; d += 4) {
            float kk[4][KPL];
#pragma unroll
            for (int u = 0; u < 4; u++)
#pragma unroll
                for (int c = 0; c < KPL; c++) kk[u][c] = Kt[(d + u) * KS + lane + 32 * c];
#pragma unroll
            for (int r = 0; r < RPW; r++) {
                float4 qv = *(const float4 *)(Qw + r * HSP + d);
#pragma unroll
                for (int c = 0; c < KPL; c++) {
                    float s = sc[r][c];
                    s = fmaf(qv.x, kk[0][c], s);
                    s = fmaf(qv.y, kk[1][c], s);
                    s = fmaf(qv.z, kk[2][c], s);
                    s = fmaf(qv.w, kk[3][c], s);
                    sc[r][c] = s;
                }
            }
        }
#pragma unroll
        for (int r = 0; r < RPW; r++) {
            int t = t0 + warp * RPW + r;
            float mx = m[r];
#pragma unroll
            for (int c = 0; c < KPL; c++) {
                if (s0 + lane + 32 * c > t) sc[r][c] = -INFINITY;
                mx = fmaxf(mx, sc[r][c]);
            }
            mx = flash_warp_max(mx);
            float alpha = exp2f(m[r] - mx);
            m[r] = mx;
            l[r] *= alpha;
#pragma unroll
            for (int i = 0; i < DPT; i++) o[r][i] *= alpha;
#pragma unroll
            for (int c = 0; c < KPL; c++) {
                int s = s0 + lane + 32 * c;
                float p = exp2f(sc[r][c] - mx); /* 0 where masked */
                l[r] += p; /* the normaliser takes the undropped P */
                if (dr.on && p != 0.0f) p *= flash_mask(dr, bh, T, t, s);
                Pw[r * TILE + lane + 32 * c] = p;
            }
        }
        __syncwarp();
#pragma unroll 2
        for (int j = 0; j < TILE; j += 4) {
            float vv[4][DPT];
#pragma unroll
            for (int u = 0; u < 4; u++)
#pragma unroll
                for (int i = 0; i < DPT; i++) vv[u][i] = Vs[(j + u) * HSP + lane + 32 * i];
#pragma unroll
            for (int r = 0; r < RPW; r++) {
                float4 p = *(const float4 *)(Pw + r * TILE + j);
#pragma unroll
                for (int i = 0; i < DPT; i++) {
                    float y = o[r][i];
                    y = fmaf(p.x, vv[0][i], y);
                    y = fmaf(p.y, vv[1][i], y);
                    y = fmaf(p.z, vv[2][i], y);
                    y = fmaf(p.w, vv[3][i], y);
                    o[r][i] = y;
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        float sum = flash_warp_sum(l[r]);
        int t = t0 + warp * RPW + r;
        if (t >= T) continue; /* the same for the whole warp */
        float inv = 1.0f / sum;
        bf16 *y = out + ((size_t)b * T + t) * C + h * hs;
#pragma unroll
        for (int i = 0; i < DPT; i++) {
            int d = lane + 32 * i;
            if (d < hs) y[d] = from_f<bf16>(o[r][i] * inv);
        }
        if (lane == 0) lse[(size_t)bh * T + t] = (m[r] + log2f(sum)) * FL_LN2;
    }
}

/* D (B,NH,T) = rowsum(dout . out) per head: a warp a (b,t,h) row of hs. */
__global__ void flash_row_dot(float *D, const bf16 *dout, const bf16 *out, int T, int NH, int hs, size_t rows)
{
    size_t row = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) / 32; /* ((b*T + t)*NH + h) */
    int lane = threadIdx.x % 32;
    if (row >= rows) return; /* the same for the whole warp */
    const bf16 *g = dout + row * hs, *y = out + row * hs;
    float x = 0.0f;
    for (int d = lane; d < hs; d += 32) x = fmaf(to_f(g[d]), to_f(y[d]), x);
    x = flash_warp_sum(x);
    int h = (int)(row % NH), t = (int)(row / NH % T);
    size_t b = row / NH / T;
    if (lane == 0) D[(b * NH + h) * T + t] = x;
}

/* dK, dV of one key tile (dqkv columns C + h*hs and 2C + h*hs), over the
 * query tiles from the diagonal on. A block a (key tile, b*NH+h), key tile 0
 * (the most query tiles) first. Warp w owns keys w*RPW.., lane queries
 * lane + 32c for P and dP and columns lane + 32i of dK and dV. */
template <int HSP, int TILE>
__global__ void __launch_bounds__(FL_THREADS, 2)
    flash_backward_kv(bf16 *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *D, int T, int NH,
                      int hs, int BH, float kmul, float scale, FlashDrop dr)
{
    constexpr int RPW = TILE / FL_WARPS, KPL = TILE / 32, DPT = HSP / 32, QS = TILE + 1;
    extern __shared__ float4 flash_smem[];
    float *Ks = (float *)flash_smem; /* [TILE][HSP], times scale*log2(e) */
    float *Vs = Ks + TILE * HSP;     /* [TILE][HSP] */
    float *Qt = Vs + TILE * HSP;     /* [HSP][QS] */
    float *Gt = Qt + HSP * QS;       /* [HSP][QS]: dout */
    float *Ps = Gt + HSP * QS;       /* [TILE keys][TILE queries]: P . mask */
    float *Ss = Ps + TILE * TILE;    /* [TILE][TILE]: dS */
    float *Ls = Ss + TILE * TILE;    /* [TILE]: the queries' lse, log2 units */
    float *Ds = Ls + TILE;           /* [TILE]: the queries' D */
    int nt = (T + TILE - 1) / TILE, kt = (int)(blockIdx.x / BH), bh = (int)(blockIdx.x % BH);
    int b = bh / NH, h = bh % NH, C = NH * hs, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    size_t stride = 3 * (size_t)C;
    const bf16 *q = qkv + (size_t)b * T * stride + h * hs, *k = q + C, *v = q + 2 * C;
    const bf16 *g = dout + (size_t)b * T * C + h * hs;
    const float *lse_h = lse + (size_t)bh * T, *D_h = D + (size_t)bh * T;
    int s0 = kt * TILE;
    flash_load<HSP, TILE, false>(Ks, k, stride, s0, T, hs, kmul);
    flash_load<HSP, TILE, false>(Vs, v, stride, s0, T, hs, 1.0f);
    const float *Kw = Ks + warp * RPW * HSP, *Vw = Vs + warp * RPW * HSP;
    float *Pw = Ps + warp * RPW * TILE, *Sw = Ss + warp * RPW * TILE;
    float dk[RPW][DPT], dv[RPW][DPT];
#pragma unroll
    for (int r = 0; r < RPW; r++)
#pragma unroll
        for (int i = 0; i < DPT; i++) dk[r][i] = dv[r][i] = 0.0f;
    for (int qt = kt; qt < nt; qt++) {
        int t0 = qt * TILE;
        __syncthreads(); /* the last tile's Qt, Gt, Ps, Ss are read */
        flash_load<HSP, TILE, true>(Qt, q, stride, t0, T, hs, 1.0f);
        flash_load<HSP, TILE, true>(Gt, g, C, t0, T, hs, 1.0f);
        for (int i = threadIdx.x; i < TILE; i += FL_THREADS) {
            int t = t0 + i;
            Ls[i] = t < T ? lse_h[t] * FL_LOG2E : 0.0f;
            Ds[i] = t < T ? D_h[t] : 0.0f;
        }
        __syncthreads();
        /* sc = S (log2 units), dp = dO V^T, for the warp's keys x the lane's queries */
        float sc[RPW][KPL], dp[RPW][KPL];
        flash_dots2<HSP, RPW, KPL, QS>(sc, dp, Kw, Vw, Qt, Gt, lane);
        /* P from the saved lse; dS = P (dP . mask - D) */
#pragma unroll
        for (int r = 0; r < RPW; r++) {
            int s = s0 + warp * RPW + r;
#pragma unroll
            for (int c = 0; c < KPL; c++) {
                int tl = lane + 32 * c, t = t0 + tl;
                float p = 0.0f, ds = 0.0f;
                if (s <= t && t < T) {
                    float pu = exp2f(sc[r][c] - Ls[tl]), e = dp[r][c];
                    p = pu;
                    if (dr.on) {
                        float mk = flash_mask(dr, bh, T, t, s);
                        p *= mk;
                        e *= mk;
                    }
                    ds = pu * (e - Ds[tl]);
                }
                Pw[r * TILE + tl] = p;
                Sw[r * TILE + tl] = ds;
            }
        }
        __syncwarp();
        /* dV += (P . mask)^T dO, dK += dS^T Q (scaled at the end) */
#pragma unroll 2
        for (int j = 0; j < TILE; j += 4) {
            float gg[4][DPT], qq[4][DPT];
#pragma unroll
            for (int u = 0; u < 4; u++)
#pragma unroll
                for (int i = 0; i < DPT; i++) {
                    gg[u][i] = Gt[(lane + 32 * i) * QS + j + u];
                    qq[u][i] = Qt[(lane + 32 * i) * QS + j + u];
                }
#pragma unroll
            for (int r = 0; r < RPW; r++) {
                float4 p = *(const float4 *)(Pw + r * TILE + j), ds = *(const float4 *)(Sw + r * TILE + j);
#pragma unroll
                for (int i = 0; i < DPT; i++) {
                    float x = dv[r][i], y = dk[r][i];
                    x = fmaf(p.x, gg[0][i], x);
                    x = fmaf(p.y, gg[1][i], x);
                    x = fmaf(p.z, gg[2][i], x);
                    x = fmaf(p.w, gg[3][i], x);
                    y = fmaf(ds.x, qq[0][i], y);
                    y = fmaf(ds.y, qq[1][i], y);
                    y = fmaf(ds.z, qq[2][i], y);
                    y = fmaf(ds.w, qq[3][i], y);
                    dv[r][i] = x;
                    dk[r][i] = y;
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        int s = s0 + warp * RPW + r;
        if (s >= T) continue;
        bf16 *dst = dqkv + ((size_t)b * T + s) * stride + h * hs;
#pragma unroll
        for (int i = 0; i < DPT; i++) {
            int d = lane + 32 * i;
            if (d < hs) {
                dst[C + d] = from_f<bf16>(dk[r][i] * scale);
                dst[2 * C + d] = from_f<bf16>(dv[r][i]);
            }
        }
    }
}

/* dQ of one query tile (dqkv columns h*hs) over the key tiles up to the
 * diagonal. A block a (query tile, b*NH+h), the last tiles first. Warp w owns
 * query rows w*RPW.., lane keys lane + 32c for P and dP and columns
 * lane + 32i of dQ. */
template <int HSP, int TILE>
__global__ void __launch_bounds__(FL_THREADS, 2)
    flash_backward_q(bf16 *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *D, int T, int NH,
                     int hs, int BH, float qmul, float scale, FlashDrop dr)
{
    constexpr int RPW = TILE / FL_WARPS, KPL = TILE / 32, DPT = HSP / 32, KS = TILE + 1;
    extern __shared__ float4 flash_smem[];
    float *Qs = (float *)flash_smem; /* [TILE][HSP], times scale*log2(e) */
    float *Gs = Qs + TILE * HSP;     /* [TILE][HSP]: dout */
    float *Kt = Gs + TILE * HSP;     /* [HSP][KS] */
    float *Vt = Kt + HSP * KS;       /* [HSP][KS] */
    float *Ss = Vt + HSP * KS;       /* [TILE queries][TILE keys]: dS */
    int nt = (T + TILE - 1) / TILE, qt = nt - 1 - (int)(blockIdx.x / BH), bh = (int)(blockIdx.x % BH);
    int b = bh / NH, h = bh % NH, C = NH * hs, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    size_t stride = 3 * (size_t)C;
    const bf16 *q = qkv + (size_t)b * T * stride + h * hs, *k = q + C, *v = q + 2 * C;
    const bf16 *g = dout + (size_t)b * T * C + h * hs;
    int t0 = qt * TILE;
    flash_load<HSP, TILE, false>(Qs, q, stride, t0, T, hs, qmul);
    flash_load<HSP, TILE, false>(Gs, g, C, t0, T, hs, 1.0f);
    const float *Qw = Qs + warp * RPW * HSP, *Gw = Gs + warp * RPW * HSP;
    float *Sw = Ss + warp * RPW * TILE;
    float lse2[RPW], Dr[RPW], dq[RPW][DPT];
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        int t = t0 + warp * RPW + r;
        lse2[r] = t < T ? lse[(size_t)bh * T + t] * FL_LOG2E : 0.0f;
        Dr[r] = t < T ? D[(size_t)bh * T + t] : 0.0f;
#pragma unroll
        for (int i = 0; i < DPT; i++) dq[r][i] = 0.0f;
    }
    for (int kt = 0; kt <= qt; kt++) {
        int s0 = kt * TILE;
        __syncthreads(); /* the last tile's Kt, Vt, Ss are read */
        flash_load<HSP, TILE, true>(Kt, k, stride, s0, T, hs, 1.0f);
        flash_load<HSP, TILE, true>(Vt, v, stride, s0, T, hs, 1.0f);
        __syncthreads();
        float sc[RPW][KPL], dp[RPW][KPL];
        flash_dots2<HSP, RPW, KPL, KS>(sc, dp, Qw, Gw, Kt, Vt, lane);
#pragma unroll
        for (int r = 0; r < RPW; r++) {
            int t = t0 + warp * RPW + r;
#pragma unroll
            for (int c = 0; c < KPL; c++) {
                int s = s0 + lane + 32 * c;
                float ds = 0.0f;
                if (s <= t && t < T) {
                    float e = dp[r][c];
                    if (dr.on) e *= flash_mask(dr, bh, T, t, s);
                    ds = exp2f(sc[r][c] - lse2[r]) * (e - Dr[r]);
                }
                Sw[r * TILE + lane + 32 * c] = ds;
            }
        }
        __syncwarp();
        /* dQ += dS K (scaled at the end) */
#pragma unroll 2
        for (int j = 0; j < TILE; j += 4) {
            float kk[4][DPT];
#pragma unroll
            for (int u = 0; u < 4; u++)
#pragma unroll
                for (int i = 0; i < DPT; i++) kk[u][i] = Kt[(lane + 32 * i) * KS + j + u];
#pragma unroll
            for (int r = 0; r < RPW; r++) {
                float4 ds = *(const float4 *)(Sw + r * TILE + j);
#pragma unroll
                for (int i = 0; i < DPT; i++) {
                    float x = dq[r][i];
                    x = fmaf(ds.x, kk[0][i], x);
                    x = fmaf(ds.y, kk[1][i], x);
                    x = fmaf(ds.z, kk[2][i], x);
                    x = fmaf(ds.w, kk[3][i], x);
                    dq[r][i] = x;
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < RPW; r++) {
        int t = t0 + warp * RPW + r;
        if (t >= T) continue;
        bf16 *dst = dqkv + ((size_t)b * T + t) * stride + h * hs;
#pragma unroll
        for (int i = 0; i < DPT; i++) {
            int d = lane + 32 * i;
            if (d < hs) dst[d] = from_f<bf16>(dq[r][i] * scale);
        }
    }
}

/* ---- launchers ---- */

static FlashDrop flash_drop(const KDrop *d)
{
    FlashDrop f = { 0, 0, 1.0f, 0 };
    if (d) f = { d->base, d->thresh, d->scale, 1 };
    return f;
}

/* Raise a kernel's dynamic shared memory limit past the default 48 KB. */
template <typename F> static void flash_allow(F *kernel, size_t floats)
{
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)(floats * sizeof(float))));
}

/* The padded head dimension for hs, 0 past 128. */
static int flash_hsp(int hs)
{
    return hs <= 32 ? 32 : hs <= 64 ? 64 : hs <= 96 ? 96 : hs <= 128 ? 128 : 0;
}

[[noreturn]] static void flash_refuse(int hs, const char *call, int line)
{
    static char msg[160];
    snprintf(msg, sizeof msg,
             "the bf16 attention takes head dimensions (n_embd / n_head) 1 to 128; this one is %d (float32 takes any)",
             hs);
    cuda_fail(msg, call, __FILE__, line);
}

template <int HSP, int TILE>
static void flash_forward_run(Kern *k, bf16 *out, float *lse, const bf16 *qkv, int B, int T, int NH, int hs,
                              const KDrop *drop)
{
    int BH = B * NH, nt = (T + TILE - 1) / TILE;
    size_t floats = FlashSmem<HSP, TILE>::fwd;
    float qmul = FL_LOG2E / sqrtf((float)hs);
    flash_allow(flash_forward<HSP, TILE>, floats);
    flash_forward<HSP, TILE><<<(unsigned)((size_t)nt * BH), FL_THREADS, floats * sizeof(float), cuda_stream(k)>>>(
        out, lse, qkv, T, NH, hs, BH, qmul, flash_drop(drop));
    LAUNCH_CHECK("flash_forward");
}

template <int HSP, int TILE>
static void flash_backward_run(Kern *k, bf16 *dqkv, const float *D, const bf16 *dout, const bf16 *qkv,
                               const float *lse, int B, int T, int NH, int hs, const KDrop *drop)
{
    int BH = B * NH, nt = (T + TILE - 1) / TILE;
    unsigned grid = (unsigned)((size_t)nt * BH);
    float scale = 1.0f / sqrtf((float)hs), mul = scale * FL_LOG2E;
    FlashDrop dr = flash_drop(drop);
    cudaStream_t s = cuda_stream(k);
    size_t kv = FlashSmem<HSP, TILE>::kv, q = FlashSmem<HSP, TILE>::q;
    flash_allow(flash_backward_kv<HSP, TILE>, kv);
    flash_backward_kv<HSP, TILE><<<grid, FL_THREADS, kv * sizeof(float), s>>>(dqkv, qkv, dout, lse, D, T, NH, hs, BH,
                                                                               mul, scale, dr);
    LAUNCH_CHECK("flash_backward_kv");
    flash_allow(flash_backward_q<HSP, TILE>, q);
    flash_backward_q<HSP, TILE><<<grid, FL_THREADS, q * sizeof(float), s>>>(dqkv, qkv, dout, lse, D, T, NH, hs, BH, mul,
                                                                             scale, dr);
    LAUNCH_CHECK("flash_backward_q");
}

void cu_flash_forward(Kern *k, bf16 *out, float *lse, const bf16 *qkv, int B, int T, int C, int NH,
                      const KDrop *drop)
{
    int hs = C / NH;
    if (B < 1 || T < 1) return;
    switch (flash_hsp(hs)) {
    case 32: flash_forward_run<32, 64>(k, out, lse, qkv, B, T, NH, hs, drop); break;
    case 64: flash_forward_run<64, 64>(k, out, lse, qkv, B, T, NH, hs, drop); break;
    case 96: flash_forward_run<96, 32>(k, out, lse, qkv, B, T, NH, hs, drop); break;
    case 128: flash_forward_run<128, 32>(k, out, lse, qkv, B, T, NH, hs, drop); break;
    default: flash_refuse(hs, "cu_flash_forward", __LINE__);
    }
}

void cu_flash_backward(Kern *k, bf16 *dqkv, float *D, const bf16 *dout, const bf16 *qkv, const bf16 *out,
                       const float *lse, int B, int T, int C, int NH, const KDrop *drop)
{
    int hs = C / NH, HSP = flash_hsp(hs);
    if (!HSP) flash_refuse(hs, "cu_flash_backward", __LINE__);
    if (B < 1 || T < 1) return;
    size_t rows = (size_t)B * T * NH;
    flash_row_dot<<<cuda_blocks(rows * 32, FL_THREADS), FL_THREADS, 0, cuda_stream(k)>>>(D, dout, out, T, NH, hs, rows);
    LAUNCH_CHECK("flash_row_dot");
    switch (HSP) {
    case 32: flash_backward_run<32, 64>(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    case 64: flash_backward_run<64, 64>(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    case 96: flash_backward_run<96, 32>(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    default: flash_backward_run<128, 32>(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    }
}
