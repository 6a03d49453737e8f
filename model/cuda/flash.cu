/* Causal self-attention in bf16, fused in the flash-attention manner: scores,
 * causal mask, online softmax, dropout mask and the product with V run tile by
 * tile in shared memory and registers, so no (T,T) matrix ever reaches device
 * memory (materialised, B 16 T 1024 with 12 heads is 800 MB of probabilities a
 * layer). The forward keeps each row's log-sum-exp; the backward recomputes P
 * from it in two kernels that each own their outputs (dK and dV a key tile,
 * dQ a query tile), so every sum runs in a fixed order: no atomics, and a
 * rerun gives the same bits. The products run on the tensor cores (bf16 in,
 * float32 sums: mma.sync m16n8k16, sm_80 and newer); softmax, masks and
 * scaling in float32; the probabilities and dS enter their products rounded
 * to bf16, as every flash attention does. float32 stays on attention.cu's
 * materialised path, which equals the CPU; this one is within bf16 of it
 * (tests/model/test_cuda.c). */
#include "common.cuh"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

/* Every kernel here: 4 warps, a block owns FL_TILE rows (queries, or keys in
 * the dK/dV kernel), 16 a warp, and streams tiles of FL_TILE rows of the
 * other side through shared memory. Tiles are row-major bf16 [FL_TILE][HSP +
 * 8]: the head dimension hs padded with zeros to HSP (a multiple of 32), and 8
 * more so that the 8 rows an ldmatrix phase reads fall on distinct banks. */
static constexpr int FL_WARPS = 4, FL_THREADS = 32 * FL_WARPS, FL_TILE = 16 * FL_WARPS;
static constexpr int FL_NT = FL_TILE / 8; /* 8-column tiles of a (16, FL_TILE) score block */
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

static __device__ __forceinline__ float flash_warp_sum(float x)
{
    for (int o = 16; o; o >>= 1) x += __shfl_xor_sync(0xffffffff, x, o);
    return x;
}

/* ---- the tensor-core pieces ----
 * A warp's mma.sync m16n8k16 multiplies a 16x16 A (row-major) by a 16x8 B
 * into a 16x8 float32 C. Lane l holds, with g = l / 4 and c = 2 (l % 4):
 * C elements [0] (g, c), [1] (g, c+1), [2] (g+8, c), [3] (g+8, c+1); A pairs
 * (g, c..), (g+8, c..), (g, c+8..), (g+8, c+8..); B pairs (k c.., n g) and
 * (k c+8.., n g). ldmatrix loads those fragments from shared memory. */
static __device__ __forceinline__ void fl_mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

static __device__ __forceinline__ void fl_ldsm(uint32_t (&r)[4], const bf16 *p)
{
    uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

static __device__ __forceinline__ void fl_ldsm_t(uint32_t (&r)[4], const bf16 *p)
{
    uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

/* Two floats as a bf16 pair, the first in the low half (the lower column). */
static __device__ __forceinline__ uint32_t fl_pack(float lo, float hi)
{
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *(uint32_t *)&v;
}

/* acc (16 x FL_TILE) = A B^T over HSP: A the warp's 16 rows of a tile (row
 * a0 of tile As), B the FL_TILE rows of tile Bs; both [.][HSP + 8]. Q K^T for
 * the scores, dO V^T for dP, and with the roles swapped K Q^T and V dO^T. */
template <int HSP>
static __device__ __forceinline__ void fl_abt(float (&acc)[FL_NT][4], const bf16 *As, int a0, const bf16 *Bs, int lane)
{
    constexpr int P = HSP + 8;
#pragma unroll
    for (int n = 0; n < FL_NT; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < HSP; kk += 16) {
        uint32_t a[4];
        fl_ldsm(a, As + (a0 + (lane & 7) + 8 * ((lane >> 3) & 1)) * P + kk + 8 * (lane >> 4));
#pragma unroll
        for (int n = 0; n < FL_NT; n += 2) {
            uint32_t b[4]; /* rows 8n.. and 8(n+1).. of Bs, columns kk.. and kk+8.. */
            fl_ldsm(b, Bs + (8 * n + (lane & 7) + 8 * (lane >> 4)) * P + kk + 8 * ((lane >> 3) & 1));
            fl_mma(acc[n], a, b[0], b[1]);
            fl_mma(acc[n + 1], a, b[2], b[3]);
        }
    }
}

/* acc (16 x HSP) += X Bs: X (16 x FL_TILE) the float32 fragments fl_abt
 * leaves (rounded to bf16 here), Bs a tile [FL_TILE][HSP + 8] read as its
 * rows times columns. P V in the forward, P^T dO and dS^T Q for dV and dK,
 * dS K for dQ. */
template <int HSP>
static __device__ __forceinline__ void fl_xb(float (&acc)[HSP / 8][4], const float (&x)[FL_NT][4], const bf16 *Bs,
                                             int lane)
{
    constexpr int P = HSP + 8;
#pragma unroll
    for (int kc = 0; kc < FL_NT / 2; kc++) {
        /* C fragments of columns 16kc.. and 16kc+8.. are the A fragment of k-step kc */
        uint32_t a[4] = { fl_pack(x[2 * kc][0], x[2 * kc][1]), fl_pack(x[2 * kc][2], x[2 * kc][3]),
                          fl_pack(x[2 * kc + 1][0], x[2 * kc + 1][1]), fl_pack(x[2 * kc + 1][2], x[2 * kc + 1][3]) };
#pragma unroll
        for (int n = 0; n < HSP / 8; n += 2) {
            uint32_t b[4]; /* rows 16kc.. and 16kc+8.., columns 8n.. and 8(n+1).., transposed */
            fl_ldsm_t(b, Bs + (16 * kc + (lane & 7) + 8 * ((lane >> 3) & 1)) * P + 8 * n + 8 * (lane >> 4));
            fl_mma(acc[n], a, b[0], b[1]);
            fl_mma(acc[n + 1], a, b[2], b[3]);
        }
    }
}

/* Rows r0..r0+FL_TILE-1 of one head's q, k, v or dout (src: row 0, column 0
 * of the head; rows `stride` apart) into tile dst [FL_TILE][HSP + 8], zero
 * past T and past hs, in pieces of vw elements (8, 4 or 2: hs, stride and
 * src's alignment allow it): asynchronous copies, which land once fl_wait
 * says so, so the next tile loads while this one is worked on; vw 1: plain
 * loads. */
template <int HSP>
static __device__ __forceinline__ void fl_load(bf16 *dst, const bf16 *src, size_t stride, int r0, int T, int hs,
                                               int vw)
{
    constexpr int P = HSP + 8;
    if (vw == 1) {
        for (int i = threadIdx.x; i < FL_TILE * HSP; i += FL_THREADS) {
            int r = i / HSP, d = i % HSP, t = r0 + r;
            dst[r * P + d] = t < T && d < hs ? src[(size_t)t * stride + d] : __float2bfloat16(0.0f);
        }
        return;
    }
    int V = HSP / vw; /* pieces a row */
    for (int i = threadIdx.x; i < FL_TILE * V; i += FL_THREADS) {
        int r = i / V, d = vw * (i % V), t = r0 + r;
        bf16 *to = dst + r * P + d;
        if (t < T && d < hs) {
            uint32_t a = (uint32_t)__cvta_generic_to_shared(to);
            const bf16 *from = src + (size_t)t * stride + d;
            if (vw == 8) asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(a), "l"(from));
            else if (vw == 4) asm volatile("cp.async.ca.shared.global [%0], [%1], 8;\n" ::"r"(a), "l"(from));
            else asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(a), "l"(from));
        } else {
            for (int j = 0; j < vw; j++) to[j] = __float2bfloat16(0.0f);
        }
    }
}

/* FL_TILE floats of a (B,NH,T) row (lse or D) from t0 on, zero past T: one
 * 4-byte asynchronous copy each. */
static __device__ __forceinline__ void fl_load_row(float *dst, const float *src, int t0, int T)
{
    for (int i = threadIdx.x; i < FL_TILE; i += FL_THREADS) {
        if (t0 + i < T) {
            uint32_t a = (uint32_t)__cvta_generic_to_shared(dst + i);
            asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(a), "l"(src + t0 + i));
        } else {
            dst[i] = 0.0f;
        }
    }
}

/* Ends a group of copies; fl_wait<N> waits until at most N groups are in
 * flight (the block's threads then synchronise before reading). */
static __device__ __forceinline__ void fl_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> static __device__ __forceinline__ void fl_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

/* Shared memory of each kernel: the streamed tiles twice (the next one loads
 * while this one is worked on). */
template <int HSP> struct FlashSmem {
    static constexpr size_t tile = (size_t)FL_TILE * (HSP + 8) * sizeof(bf16), row = FL_TILE * sizeof(float);
    static constexpr size_t fwd = 5 * tile;           /* Q; K, V twice */
    static constexpr size_t kv = 6 * tile + 4 * row;  /* K, V; Q, dO, lse, D twice */
    static constexpr size_t q = 6 * tile;             /* Q, dO; K, V twice */
};

/* out (B,T,C) bf16 and lse (B,NH,T) float (natural log, the scale included)
 * from qkv (B,T,3C) bf16. A block a (query tile, b*NH+h), the last query
 * tiles (the most key tiles) first. Warp w owns query rows 16w.. of the tile;
 * lane l rows g = l/4 and g+8 of those. Scores in log2 units (times
 * scale*log2(e) = qmul). */
template <int HSP>
__global__ void __launch_bounds__(FL_THREADS, HSP <= 64 ? 4 : 1)
    flash_forward(bf16 *out, float *lse, const bf16 *qkv, int T, int NH, int hs, int BH, float qmul, int vec,
                  FlashDrop dr)
{
    constexpr int P = HSP + 8, ND = HSP / 8;
    extern __shared__ float4 flash_smem[];
    bf16 *Qs = (bf16 *)flash_smem, *KV = Qs + FL_TILE * P; /* KV: buffer i's K at 2i, V at 2i+1 tiles */
    int nt = (T + FL_TILE - 1) / FL_TILE, qt = nt - 1 - (int)(blockIdx.x / BH), bh = (int)(blockIdx.x % BH);
    int b = bh / NH, h = bh % NH, C = NH * hs, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int g = lane >> 2, c2 = 2 * (lane & 3);
    size_t stride = 3 * (size_t)C;
    const bf16 *q = qkv + (size_t)b * T * stride + h * hs, *k = q + C, *v = q + 2 * C;
    int t0 = qt * FL_TILE, tr[2] = { t0 + 16 * warp + g, t0 + 16 * warp + g + 8 };
    fl_load<HSP>(Qs, q, stride, t0, T, hs, vec);
    fl_load<HSP>(KV, k, stride, 0, T, hs, vec);
    fl_load<HSP>(KV + FL_TILE * P, v, stride, 0, T, hs, vec);
    fl_commit();
    /* o: the rows' outputs times l, unnormalised; m: the running max; l: this
     * lane's share of the running sum (its columns), rescaled with m */
    float o[ND][4], m[2] = { -INFINITY, -INFINITY }, l[2] = { 0.0f, 0.0f };
#pragma unroll
    for (int n = 0; n < ND; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    /* key tiles up to the diagonal; tile 0 holds key 0, which every row sees,
     * so m is finite from the first tile on */
    for (int kt = 0; kt <= qt; kt++) {
        int s0 = kt * FL_TILE;
        const bf16 *Ks = KV + 2 * (kt & 1) * FL_TILE * P, *Vs = Ks + FL_TILE * P;
        if (kt < qt) { /* the next tile into the other buffer, read two iterations ago */
            bf16 *Kn = KV + 2 * (~kt & 1) * FL_TILE * P;
            fl_load<HSP>(Kn, k, stride, s0 + FL_TILE, T, hs, vec);
            fl_load<HSP>(Kn + FL_TILE * P, v, stride, s0 + FL_TILE, T, hs, vec);
            fl_commit();
            fl_wait<1>();
        } else {
            fl_wait<0>();
        }
        __syncthreads();
        float s[FL_NT][4];
        fl_abt<HSP>(s, Qs, 16 * warp, Ks, lane);
        float mx[2] = { m[0], m[1] };
#pragma unroll
        for (int n = 0; n < FL_NT; n++)
#pragma unroll
            for (int j = 0; j < 4; j++) {
                float x = s[n][j] * qmul;
                if (kt == qt && s0 + 8 * n + c2 + (j & 1) > tr[j >> 1]) x = -INFINITY;
                s[n][j] = x;
                mx[j >> 1] = fmaxf(mx[j >> 1], x);
            }
#pragma unroll
        for (int i = 0; i < 2; i++) {
            mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffff, mx[i], 1));
            mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffff, mx[i], 2));
            float alpha = exp2f(m[i] - mx[i]);
            m[i] = mx[i];
            l[i] *= alpha;
#pragma unroll
            for (int n = 0; n < ND; n++) o[n][2 * i] *= alpha, o[n][2 * i + 1] *= alpha;
        }
#pragma unroll
        for (int n = 0; n < FL_NT; n++)
#pragma unroll
            for (int j = 0; j < 4; j++) {
                float p = exp2f(s[n][j] - m[j >> 1]); /* 0 where masked */
                l[j >> 1] += p; /* the normaliser takes the undropped P */
                if (dr.on && p != 0.0f) p *= flash_mask(dr, bh, T, tr[j >> 1], s0 + 8 * n + c2 + (j & 1));
                s[n][j] = p;
            }
        fl_xb<HSP>(o, s, Vs, lane);
        __syncthreads(); /* this buffer is read: the next iteration refills it */
    }
#pragma unroll
    for (int i = 0; i < 2; i++) {
        float sum = l[i];
        sum += __shfl_xor_sync(0xffffffff, sum, 1);
        sum += __shfl_xor_sync(0xffffffff, sum, 2);
        int t = tr[i];
        if (t >= T) continue;
        float inv = 1.0f / sum;
        bf16 *y = out + ((size_t)b * T + t) * C + h * hs;
#pragma unroll
        for (int n = 0; n < ND; n++)
#pragma unroll
            for (int j = 0; j < 2; j++) {
                int d = 8 * n + c2 + j;
                if (d < hs) y[d] = __float2bfloat16(o[n][2 * i + j] * inv);
            }
        if ((lane & 3) == 0) lse[(size_t)bh * T + t] = (m[i] + log2f(sum)) * FL_LN2;
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
 * (the most query tiles) first. Warp w owns keys 16w.. of the tile; the
 * score blocks are transposed (keys x queries): lane l keys g and g+8,
 * queries 8n + c2 (+1). */
template <int HSP>
__global__ void __launch_bounds__(FL_THREADS)
    flash_backward_kv(bf16 *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *D, int T, int NH,
                      int hs, int BH, float qmul, float scale, int vec, FlashDrop dr)
{
    constexpr int P = HSP + 8, ND = HSP / 8;
    extern __shared__ float4 flash_smem[];
    /* K, V; then twice: Q, dO tiles; the queries' lse and D */
    bf16 *Ks = (bf16 *)flash_smem, *Vs = Ks + FL_TILE * P, *QG = Vs + FL_TILE * P;
    float *LD = (float *)(QG + 4 * FL_TILE * P);
    int nt = (T + FL_TILE - 1) / FL_TILE, kt = (int)(blockIdx.x / BH), bh = (int)(blockIdx.x % BH);
    int b = bh / NH, h = bh % NH, C = NH * hs, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int g = lane >> 2, c2 = 2 * (lane & 3);
    size_t stride = 3 * (size_t)C;
    const bf16 *q = qkv + (size_t)b * T * stride + h * hs, *k = q + C, *v = q + 2 * C;
    const bf16 *go = dout + (size_t)b * T * C + h * hs;
    const float *lse_h = lse + (size_t)bh * T, *D_h = D + (size_t)bh * T;
    int s0 = kt * FL_TILE, sr[2] = { s0 + 16 * warp + g, s0 + 16 * warp + g + 8 };
    fl_load<HSP>(Ks, k, stride, s0, T, hs, vec);
    fl_load<HSP>(Vs, v, stride, s0, T, hs, vec);
    fl_load<HSP>(QG, q, stride, s0, T, hs, vec);
    fl_load<HSP>(QG + FL_TILE * P, go, C, s0, T, hs, vec);
    fl_load_row(LD, lse_h, s0, T);
    fl_load_row(LD + FL_TILE, D_h, s0, T);
    fl_commit();
    float dk[ND][4], dv[ND][4];
#pragma unroll
    for (int n = 0; n < ND; n++)
#pragma unroll
        for (int j = 0; j < 4; j++) dk[n][j] = dv[n][j] = 0.0f;
    for (int qt = kt; qt < nt; qt++) {
        int t0 = qt * FL_TILE, cur = (qt - kt) & 1;
        const bf16 *Qs = QG + 2 * cur * FL_TILE * P, *Gs = Qs + FL_TILE * P;
        const float *Ls = LD + 2 * cur * FL_TILE, *Ds = Ls + FL_TILE; /* lse (natural log), D */
        if (qt + 1 < nt) { /* the next tile into the other buffer, read two iterations ago */
            bf16 *Qn = QG + 2 * (cur ^ 1) * FL_TILE * P;
            float *Ln = LD + 2 * (cur ^ 1) * FL_TILE;
            fl_load<HSP>(Qn, q, stride, t0 + FL_TILE, T, hs, vec);
            fl_load<HSP>(Qn + FL_TILE * P, go, C, t0 + FL_TILE, T, hs, vec);
            fl_load_row(Ln, lse_h, t0 + FL_TILE, T);
            fl_load_row(Ln + FL_TILE, D_h, t0 + FL_TILE, T);
            fl_commit();
            fl_wait<1>();
        } else {
            fl_wait<0>();
        }
        __syncthreads();
        /* st = S^T, dp = (dO V^T)^T for the warp's keys x the tile's queries */
        float st[FL_NT][4], dp[FL_NT][4];
        fl_abt<HSP>(st, Ks, 16 * warp, Qs, lane);
        fl_abt<HSP>(dp, Vs, 16 * warp, Gs, lane);
        /* st becomes P . mask, dp becomes dS = P (dP . mask - D) */
#pragma unroll
        for (int n = 0; n < FL_NT; n++)
#pragma unroll
            for (int j = 0; j < 4; j++) {
                int tl = 8 * n + c2 + (j & 1), t = t0 + tl, s = sr[j >> 1];
                float p = 0.0f, ds = 0.0f;
                if (s <= t && t < T) {
                    float pu = exp2f(fmaf(st[n][j], qmul, -Ls[tl] * FL_LOG2E)), e = dp[n][j];
                    p = pu;
                    if (dr.on) {
                        float mk = flash_mask(dr, bh, T, t, s);
                        p *= mk;
                        e *= mk;
                    }
                    ds = pu * (e - Ds[tl]);
                }
                st[n][j] = p;
                dp[n][j] = ds;
            }
        /* dV += (P . mask)^T dO, dK += dS^T Q (scaled at the end) */
        fl_xb<HSP>(dv, st, Gs, lane);
        fl_xb<HSP>(dk, dp, Qs, lane);
        __syncthreads(); /* this buffer is read: the next iteration refills it */
    }
#pragma unroll
    for (int i = 0; i < 2; i++) {
        int s = sr[i];
        if (s >= T) continue;
        bf16 *dst = dqkv + ((size_t)b * T + s) * stride + h * hs;
#pragma unroll
        for (int n = 0; n < ND; n++)
#pragma unroll
            for (int j = 0; j < 2; j++) {
                int d = 8 * n + c2 + j;
                if (d < hs) {
                    dst[C + d] = __float2bfloat16(dk[n][2 * i + j] * scale);
                    dst[2 * C + d] = __float2bfloat16(dv[n][2 * i + j]);
                }
            }
    }
}

/* dQ of one query tile (dqkv columns h*hs) over the key tiles up to the
 * diagonal. A block a (query tile, b*NH+h), the last tiles first. Warp w
 * owns query rows 16w.. of the tile; lane l rows g and g+8, keys 8n + c2 (+1)
 * of the score blocks. */
template <int HSP>
__global__ void __launch_bounds__(FL_THREADS, HSP <= 64 ? 3 : 1)
    flash_backward_q(bf16 *dqkv, const bf16 *qkv, const bf16 *dout, const float *lse, const float *D, int T, int NH,
                     int hs, int BH, float qmul, float scale, int vec, FlashDrop dr)
{
    constexpr int P = HSP + 8, ND = HSP / 8;
    extern __shared__ float4 flash_smem[];
    bf16 *Qs = (bf16 *)flash_smem, *Gs = Qs + FL_TILE * P, *KV = Gs + FL_TILE * P; /* KV: K, V twice */
    int nt = (T + FL_TILE - 1) / FL_TILE, qt = nt - 1 - (int)(blockIdx.x / BH), bh = (int)(blockIdx.x % BH);
    int b = bh / NH, h = bh % NH, C = NH * hs, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int g = lane >> 2, c2 = 2 * (lane & 3);
    size_t stride = 3 * (size_t)C;
    const bf16 *q = qkv + (size_t)b * T * stride + h * hs, *k = q + C, *v = q + 2 * C;
    const bf16 *go = dout + (size_t)b * T * C + h * hs;
    int t0 = qt * FL_TILE, tr[2] = { t0 + 16 * warp + g, t0 + 16 * warp + g + 8 };
    fl_load<HSP>(Qs, q, stride, t0, T, hs, vec);
    fl_load<HSP>(Gs, go, C, t0, T, hs, vec);
    fl_load<HSP>(KV, k, stride, 0, T, hs, vec);
    fl_load<HSP>(KV + FL_TILE * P, v, stride, 0, T, hs, vec);
    fl_commit();
    float lse2[2], Dr[2], dq[ND][4];
#pragma unroll
    for (int i = 0; i < 2; i++) {
        lse2[i] = tr[i] < T ? lse[(size_t)bh * T + tr[i]] * FL_LOG2E : 0.0f;
        Dr[i] = tr[i] < T ? D[(size_t)bh * T + tr[i]] : 0.0f;
    }
#pragma unroll
    for (int n = 0; n < ND; n++) dq[n][0] = dq[n][1] = dq[n][2] = dq[n][3] = 0.0f;
    for (int kt = 0; kt <= qt; kt++) {
        int s0 = kt * FL_TILE;
        const bf16 *Ks = KV + 2 * (kt & 1) * FL_TILE * P, *Vs = Ks + FL_TILE * P;
        if (kt < qt) { /* the next tile into the other buffer, read two iterations ago */
            bf16 *Kn = KV + 2 * (~kt & 1) * FL_TILE * P;
            fl_load<HSP>(Kn, k, stride, s0 + FL_TILE, T, hs, vec);
            fl_load<HSP>(Kn + FL_TILE * P, v, stride, s0 + FL_TILE, T, hs, vec);
            fl_commit();
            fl_wait<1>();
        } else {
            fl_wait<0>();
        }
        __syncthreads();
        float sc[FL_NT][4], dp[FL_NT][4];
        fl_abt<HSP>(sc, Qs, 16 * warp, Ks, lane);
        fl_abt<HSP>(dp, Gs, 16 * warp, Vs, lane);
#pragma unroll
        for (int n = 0; n < FL_NT; n++)
#pragma unroll
            for (int j = 0; j < 4; j++) {
                int s = s0 + 8 * n + c2 + (j & 1), t = tr[j >> 1];
                float ds = 0.0f;
                if (s <= t && t < T) {
                    float e = dp[n][j];
                    if (dr.on) e *= flash_mask(dr, bh, T, t, s);
                    ds = exp2f(sc[n][j] * qmul - lse2[j >> 1]) * (e - Dr[j >> 1]);
                }
                sc[n][j] = ds;
            }
        /* dQ += dS K (scaled at the end) */
        fl_xb<HSP>(dq, sc, Ks, lane);
        __syncthreads(); /* this buffer is read: the next iteration refills it */
    }
#pragma unroll
    for (int i = 0; i < 2; i++) {
        int t = tr[i];
        if (t >= T) continue;
        bf16 *dst = dqkv + ((size_t)b * T + t) * stride + h * hs;
#pragma unroll
        for (int n = 0; n < ND; n++)
#pragma unroll
            for (int j = 0; j < 2; j++) {
                int d = 8 * n + c2 + j;
                if (d < hs) dst[d] = __float2bfloat16(dq[n][2 * i + j] * scale);
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
template <typename F> static void flash_allow(F *kernel, size_t bytes)
{
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
}

/* The padded head dimension for hs, 0 past 128. */
static int flash_hsp(int hs)
{
    return hs <= 32 ? 32 : hs <= 64 ? 64 : hs <= 96 ? 96 : hs <= 128 ? 128 : 0;
}

/* fl_load's piece: the most elements (8, 4, 2, else 1) that every row of q,
 * k, v and dout starts on a multiple of (hs and C divisible, a and b aligned) */
static int flash_vec(const void *a, const void *b, int hs, int C)
{
    for (int vw = 8; vw > 1; vw /= 2)
        if (hs % vw == 0 && C % vw == 0 && (uintptr_t)a % (2 * vw) == 0 && (uintptr_t)b % (2 * vw) == 0) return vw;
    return 1;
}

[[noreturn]] static void flash_refuse(int hs, const char *call, int line)
{
    static char msg[160];
    snprintf(msg, sizeof msg,
             "the bf16 attention takes head dimensions (n_embd / n_head) 1 to 128; this one is %d (float32 takes any)",
             hs);
    cuda_fail(msg, call, __FILE__, line);
}

template <int HSP>
static void flash_forward_run(Kern *k, bf16 *out, float *lse, const bf16 *qkv, int B, int T, int NH, int hs,
                              const KDrop *drop)
{
    int BH = B * NH, nt = (T + FL_TILE - 1) / FL_TILE;
    size_t bytes = FlashSmem<HSP>::fwd;
    float qmul = FL_LOG2E / sqrtf((float)hs);
    int vec = flash_vec(qkv, qkv, hs, NH * hs);
    flash_allow(flash_forward<HSP>, bytes);
    flash_forward<HSP><<<(unsigned)((size_t)nt * BH), FL_THREADS, bytes, cuda_stream(k)>>>(out, lse, qkv, T, NH, hs,
                                                                                           BH, qmul, vec,
                                                                                           flash_drop(drop));
    LAUNCH_CHECK("flash_forward");
}

template <int HSP>
static void flash_backward_run(Kern *k, bf16 *dqkv, const float *D, const bf16 *dout, const bf16 *qkv,
                               const float *lse, int B, int T, int NH, int hs, const KDrop *drop)
{
    int BH = B * NH, nt = (T + FL_TILE - 1) / FL_TILE;
    unsigned grid = (unsigned)((size_t)nt * BH);
    float scale = 1.0f / sqrtf((float)hs), qmul = scale * FL_LOG2E;
    int vec = flash_vec(qkv, dout, hs, NH * hs);
    FlashDrop dr = flash_drop(drop);
    cudaStream_t s = cuda_stream(k);
    size_t kv = FlashSmem<HSP>::kv, q = FlashSmem<HSP>::q;
    flash_allow(flash_backward_kv<HSP>, kv);
    flash_backward_kv<HSP><<<grid, FL_THREADS, kv, s>>>(dqkv, qkv, dout, lse, D, T, NH, hs, BH, qmul, scale, vec, dr);
    LAUNCH_CHECK("flash_backward_kv");
    flash_allow(flash_backward_q<HSP>, q);
    flash_backward_q<HSP><<<grid, FL_THREADS, q, s>>>(dqkv, qkv, dout, lse, D, T, NH, hs, BH, qmul, scale, vec, dr);
    LAUNCH_CHECK("flash_backward_q");
}

void cu_flash_forward(Kern *k, bf16 *out, float *lse, const bf16 *qkv, int B, int T, int C, int NH,
                      const KDrop *drop)
{
    int hs = C / NH;
    if (B < 1 || T < 1) return;
    switch (flash_hsp(hs)) {
    case 32: flash_forward_run<32>(k, out, lse, qkv, B, T, NH, hs, drop); break;
    case 64: flash_forward_run<64>(k, out, lse, qkv, B, T, NH, hs, drop); break;
    case 96: flash_forward_run<96>(k, out, lse, qkv, B, T, NH, hs, drop); break;
    case 128: flash_forward_run<128>(k, out, lse, qkv, B, T, NH, hs, drop); break;
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
    flash_row_dot<<<cuda_blocks(rows * 32, 256), 256, 0, cuda_stream(k)>>>(D, dout, out, T, NH, hs, rows);
    LAUNCH_CHECK("flash_row_dot");
    switch (HSP) {
    case 32: flash_backward_run<32>(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    case 64: flash_backward_run<64>(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    case 96: flash_backward_run<96>(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    default: flash_backward_run<128>(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    }
}
