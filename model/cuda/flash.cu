/* Causal self-attention in bf16, fused in the flash-attention manner: scores,
 * causal mask, online softmax, dropout mask and the product with V run tile by
 * tile in shared memory and registers, so no (T,T) matrix ever reaches device
 * memory (materialised, B 16 T 1024 with 12 heads is 800 MB of probabilities a
 * layer). The forward keeps each row's log-sum-exp; the backward recomputes P
 * from it once, a block a key tile: it owns that tile's dK and dV, and adds
 * its share of each query tile's dQ into float32 partial sums in a fixed
 * order (key tile 0 first, the last one writing the bf16 result), each warp
 * waiting for the same warp of the key tile before it. So every sum runs in
 * a fixed order: no floating-point atomics, and a rerun gives the same bits.
 * The products run on the tensor cores (bf16 in, float32 sums: mma.sync
 * m16n8k16, sm_80 and newer); softmax, masks and scaling in float32; the
 * probabilities and dS enter their products rounded to bf16, as every flash
 * attention does. float32 stays on attention.cu's materialised path, which
 * equals the CPU; this one is within bf16 of it (tests/model/test_cuda.c). */
#include "common.cuh"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

/* Every kernel here: 4 warps. Tiles are row-major bf16 [rows][HSP + 8]: the
 * head dimension hs padded with zeros to HSP (a multiple of 32), and 8 more
 * so that the 8 rows an ldmatrix phase reads fall on distinct banks. Key
 * tiles (and the backward's query tiles) have FL_TILE rows; the forward's
 * query tile has 16 FW_MB rows a warp (fwd_mb). */
static constexpr int FL_WARPS = KERN_CUDA_FLASH_WARPS, FL_THREADS = 32 * FL_WARPS, FL_TILE = KERN_CUDA_FLASH_TILE;
static_assert(FL_TILE == 16 * FL_WARPS, "a backward block: 16 keys a warp");
static constexpr int FL_NT = FL_TILE / 8; /* 8-column tiles of a (16, FL_TILE) score block */
static constexpr float FL_LOG2E = 1.4426950408889634f, FL_LN2 = 0.6931471805599453f;

/* The forward's 16-row blocks a warp: two where the registers allow (each
 * K and V fragment then feeds two products) */
template <int HSP> __host__ __device__ static constexpr int fwd_mb() { return HSP <= 64 ? 2 : 1; }

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

/* 2^x by the special function unit (relative error about 2^-22; 0 for -inf) */
static __device__ __forceinline__ float fl_ex2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
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

/* The A fragments (HSP / 16 k-steps) of rows a0..a0+15 of a tile [.][HSP + 8]:
 * the operand a warp keeps in registers while the other side streams past. */
template <int HSP>
static __device__ __forceinline__ void fl_frags(uint32_t (&a)[HSP / 16][4], const bf16 *As, int a0, int lane)
{
#pragma unroll
    for (int kk = 0; kk < HSP / 16; kk++)
        fl_ldsm(a[kk], As + (a0 + (lane & 7) + 8 * ((lane >> 3) & 1)) * (HSP + 8) + 16 * kk + 8 * (lane >> 4));
}

/* acc[i] (16 x FL_TILE) = A_i B^T over HSP, for MB row blocks of A held as
 * fragments (fl_frags) and the FL_TILE rows of tile Bs [.][HSP + 8]: each B
 * fragment read once for all MB. Q K^T for the scores, K Q^T and V dO^T in
 * the backward. */
template <int HSP, int MB>
static __device__ __forceinline__ void fl_abt(float (&acc)[MB][FL_NT][4], const uint32_t (&a)[MB][HSP / 16][4],
                                              const bf16 *Bs, int lane)
{
    constexpr int P = HSP + 8;
#pragma unroll
    for (int i = 0; i < MB; i++)
#pragma unroll
        for (int n = 0; n < FL_NT; n++) acc[i][n][0] = acc[i][n][1] = acc[i][n][2] = acc[i][n][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < HSP / 16; kk++) {
#pragma unroll
        for (int n = 0; n < FL_NT; n += 2) {
            uint32_t b[4]; /* rows 8n.. and 8(n+1).. of Bs, columns 16kk.. and 16kk+8.. */
            fl_ldsm(b, Bs + (8 * n + (lane & 7) + 8 * (lane >> 4)) * P + 16 * kk + 8 * ((lane >> 3) & 1));
#pragma unroll
            for (int i = 0; i < MB; i++) {
                fl_mma(acc[i][n], a[i][kk], b[0], b[1]);
                fl_mma(acc[i][n + 1], a[i][kk], b[2], b[3]);
            }
        }
    }
}

/* acc[i] (16 x HSP) += X_i Bs: X_i (16 x FL_TILE) float32 fragments as
 * fl_abt leaves them (rounded to bf16 here), Bs a tile [FL_TILE][HSP + 8]
 * read as its rows times columns, each fragment once for all MB. P V in the
 * forward, P^T dO and dS^T Q for dV and dK. */
template <int HSP, int MB>
static __device__ __forceinline__ void fl_xb(float (&acc)[MB][HSP / 8][4], const float (&x)[MB][FL_NT][4],
                                             const bf16 *Bs, int lane)
{
    constexpr int P = HSP + 8;
#pragma unroll
    for (int kc = 0; kc < FL_NT / 2; kc++) {
        /* C fragments of columns 16kc.. and 16kc+8.. are the A fragment of k-step kc */
        uint32_t a[MB][4];
#pragma unroll
        for (int i = 0; i < MB; i++) {
            a[i][0] = fl_pack(x[i][2 * kc][0], x[i][2 * kc][1]);
            a[i][1] = fl_pack(x[i][2 * kc][2], x[i][2 * kc][3]);
            a[i][2] = fl_pack(x[i][2 * kc + 1][0], x[i][2 * kc + 1][1]);
            a[i][3] = fl_pack(x[i][2 * kc + 1][2], x[i][2 * kc + 1][3]);
        }
#pragma unroll
        for (int n = 0; n < HSP / 8; n += 2) {
            uint32_t b[4]; /* rows 16kc.. and 16kc+8.., columns 8n.. and 8(n+1).., transposed */
            fl_ldsm_t(b, Bs + (16 * kc + (lane & 7) + 8 * ((lane >> 3) & 1)) * P + 8 * n + 8 * (lane >> 4));
#pragma unroll
            for (int i = 0; i < MB; i++) {
                fl_mma(acc[i][n], a[i], b[0], b[1]);
                fl_mma(acc[i][n + 1], a[i], b[2], b[3]);
            }
        }
    }
}

/* Rows r0..r0+ROWS-1 of one head's q, k, v or dout (src: row 0, column 0 of
 * the head; rows `stride` apart) into tile dst [ROWS][HSP + 8], zero past T
 * and past hs, in pieces of vw elements (8, 4 or 2: hs, stride and src's
 * alignment allow it): asynchronous copies, which land once fl_wait says so,
 * so the next tile loads while this one is worked on; vw 1: plain loads. */
template <int HSP, int ROWS>
static __device__ __forceinline__ void fl_load(bf16 *dst, const bf16 *src, size_t stride, int r0, int T, int hs,
                                               int vw)
{
    constexpr int P = HSP + 8;
    if (vw == 1) {
        for (int i = threadIdx.x; i < ROWS * HSP; i += FL_THREADS) {
            int r = i / HSP, d = i % HSP, t = r0 + r;
            dst[r * P + d] = t < T && d < hs ? src[(size_t)t * stride + d] : __float2bfloat16(0.0f);
        }
        return;
    }
    int V = HSP / vw; /* pieces a row */
    for (int i = threadIdx.x; i < ROWS * V; i += FL_THREADS) {
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
    static constexpr size_t fwd = (fwd_mb<HSP>() + 4) * tile;                     /* Q; K, V twice */
    static constexpr size_t ds = (size_t)FL_TILE * (FL_TILE + 8) * sizeof(bf16); /* dS^T of a tile pair */
    static constexpr size_t bwd = 6 * tile + ds + 4 * row; /* K, V; Q, dO, lse, D twice; dS^T */
};

/* out (B,T,C) bf16 and lse (B,NH,T) float (natural log, the scale included)
 * from qkv (B,T,3C) bf16. A block a (query tile of 16 MB rows a warp,
 * b*NH+h), a head's tiles side by side (so its K and V are read from L2
 * rather than memory), its last query tiles (the most key tiles) first. Warp w owns query
 * rows 16 MB w.. of the tile, in MB blocks of 16, their Q fragments in
 * registers; lane l rows g = l/4 and g+8 of each block. Scores in log2 units
 * (times scale*log2(e) = qmul). */
template <int HSP>
__global__ void __launch_bounds__(FL_THREADS, HSP <= 64 ? 2 : 1)
    flash_forward(bf16 *out, float *lse, const bf16 *qkv, int T, int NH, int hs, float qmul, int vec,
                  FlashDrop dr)
{
    constexpr int P = HSP + 8, ND = HSP / 8, MB = fwd_mb<HSP>(), BM = FL_TILE * MB;
    extern __shared__ float4 flash_smem[];
    bf16 *Qs = (bf16 *)flash_smem, *KV = Qs + BM * P; /* KV: buffer i's K at 2i, V at 2i+1 tiles */
    int nq = (T + BM - 1) / BM, qt = nq - 1 - (int)(blockIdx.x % nq), bh = (int)(blockIdx.x / nq);
    int b = bh / NH, h = bh % NH, C = NH * hs, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int g = lane >> 2, c2 = 2 * (lane & 3);
    size_t stride = 3 * (size_t)C;
    const bf16 *q = qkv + (size_t)b * T * stride + h * hs, *k = q + C, *v = q + 2 * C;
    int t0 = qt * BM, r0 = t0 + 16 * MB * warp; /* the warp's first row */
    int last = min(t0 + BM - 1, T - 1) / FL_TILE; /* the last key tile any row sees */
    fl_load<HSP, BM>(Qs, q, stride, t0, T, hs, vec);
    fl_load<HSP, FL_TILE>(KV, k, stride, 0, T, hs, vec);
    fl_load<HSP, FL_TILE>(KV + FL_TILE * P, v, stride, 0, T, hs, vec);
    fl_commit();
    /* o: the rows' outputs times l, unnormalised; m: the running max; l: this
     * lane's share of the running sum (its columns), rescaled with m */
    uint32_t qf[MB][HSP / 16][4];
    float o[MB][ND][4], m[MB][2], l[MB][2];
#pragma unroll
    for (int i = 0; i < MB; i++) {
        m[i][0] = m[i][1] = -INFINITY;
        l[i][0] = l[i][1] = 0.0f;
#pragma unroll
        for (int n = 0; n < ND; n++) o[i][n][0] = o[i][n][1] = o[i][n][2] = o[i][n][3] = 0.0f;
    }
    /* key tiles up to the diagonal; tile 0 holds key 0, which every row sees,
     * so m is finite from the first tile on */
    for (int kt = 0; kt <= last; kt++) {
        int s0 = kt * FL_TILE;
        const bf16 *Ks = KV + 2 * (kt & 1) * FL_TILE * P, *Vs = Ks + FL_TILE * P;
        if (kt < last) { /* the next tile into the other buffer, read two iterations ago */
            bf16 *Kn = KV + 2 * (~kt & 1) * FL_TILE * P;
            fl_load<HSP, FL_TILE>(Kn, k, stride, s0 + FL_TILE, T, hs, vec);
            fl_load<HSP, FL_TILE>(Kn + FL_TILE * P, v, stride, s0 + FL_TILE, T, hs, vec);
            fl_commit();
            fl_wait<1>();
        } else {
            fl_wait<0>();
        }
        __syncthreads();
        if (kt == 0)
#pragma unroll
            for (int i = 0; i < MB; i++) fl_frags<HSP>(qf[i], Qs, 16 * (MB * warp + i), lane);
        /* a warp whose rows all come before this tile's keys sits it out */
        if (r0 + 16 * MB - 1 >= s0) {
            float s[MB][FL_NT][4];
            fl_abt<HSP, MB>(s, qf, Ks, lane);
            if (s0 + FL_TILE - 1 > r0) /* some key past some row of the warp: the causal mask */
#pragma unroll
                for (int i = 0; i < MB; i++)
#pragma unroll
                    for (int n = 0; n < FL_NT; n++)
#pragma unroll
                        for (int j = 0; j < 4; j++)
                            if (s0 + 8 * n + c2 + (j & 1) > r0 + 16 * i + g + 8 * (j >> 1)) s[i][n][j] = -INFINITY;
#pragma unroll
            for (int i = 0; i < MB; i++) {
                /* the new running max, in log2 units (qmul > 0: the raw scores' max,
                 * scaled); maxima and sums as trees, not chains of dependent steps */
                float mx[2];
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    float t[FL_NT];
#pragma unroll
                    for (int n = 0; n < FL_NT; n++) t[n] = fmaxf(s[i][n][2 * r], s[i][n][2 * r + 1]);
#pragma unroll
                    for (int w = FL_NT / 2; w; w >>= 1)
#pragma unroll
                        for (int n = 0; n < w; n++) t[n] = fmaxf(t[n], t[n + w]);
                    mx[r] = t[0];
                }
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 1));
                    mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 2));
                    mx[r] = fmaxf(m[i][r], mx[r] * qmul);
                    float alpha = fl_ex2(m[i][r] - mx[r]);
                    m[i][r] = mx[r];
                    l[i][r] *= alpha;
#pragma unroll
                    for (int n = 0; n < ND; n++) o[i][n][2 * r] *= alpha, o[i][n][2 * r + 1] *= alpha;
                }
#pragma unroll
                for (int n = 0; n < FL_NT; n++)
#pragma unroll
                    for (int j = 0; j < 4; j++) s[i][n][j] = fl_ex2(fmaf(s[i][n][j], qmul, -mx[j >> 1])); /* 0 where masked */
#pragma unroll
                for (int r = 0; r < 2; r++) { /* the normaliser takes the undropped P */
                    float t[FL_NT];
#pragma unroll
                    for (int n = 0; n < FL_NT; n++) t[n] = s[i][n][2 * r] + s[i][n][2 * r + 1];
#pragma unroll
                    for (int w = FL_NT / 2; w; w >>= 1)
#pragma unroll
                        for (int n = 0; n < w; n++) t[n] += t[n + w];
                    l[i][r] += t[0];
                }
            }
            if (dr.on)
#pragma unroll
                for (int i = 0; i < MB; i++)
#pragma unroll
                    for (int n = 0; n < FL_NT; n++)
#pragma unroll
                        for (int j = 0; j < 4; j++)
                            if (s[i][n][j] != 0.0f)
                                s[i][n][j] *= flash_mask(dr, bh, T, r0 + 16 * i + g + 8 * (j >> 1), s0 + 8 * n + c2 + (j & 1));
            fl_xb<HSP, MB>(o, s, Vs, lane);
        }
        __syncthreads(); /* this buffer is read: the next iteration refills it */
    }
#pragma unroll
    for (int i = 0; i < MB; i++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float sum = l[i][r];
            sum += __shfl_xor_sync(0xffffffff, sum, 1);
            sum += __shfl_xor_sync(0xffffffff, sum, 2);
            int t = r0 + 16 * i + g + 8 * r;
            if (t >= T) continue;
            float inv = 1.0f / sum;
            bf16 *y = out + ((size_t)b * T + t) * C + h * hs;
#pragma unroll
            for (int n = 0; n < ND; n++)
#pragma unroll
                for (int j = 0; j < 2; j++) {
                    int d = 8 * n + c2 + j;
                    if (d < hs) y[d] = __float2bfloat16(o[i][n][2 * r + j] * inv);
                }
            if ((lane & 3) == 0) lse[(size_t)bh * T + t] = (m[i][r] + log2f(sum)) * FL_LN2;
        }
}

/* D (B,NH,T) = rowsum(dout . out) per head. The (b,t,h) rows of hs elements
 * lie end to end in dout and out; G = hs / 8 threads a row, each 8 elements
 * in one 16-byte load of each (G a power of two up to 32 and the rows
 * 16-byte aligned: flash_row_dot_g), else a thread a row (flash_row_dot). */
static __device__ __forceinline__ void flash_row_store(float *D, float x, size_t row, int T, int NH)
{
    int h = (int)(row % NH), t = (int)(row / NH % T);
    size_t b = row / NH / T;
    D[(b * NH + h) * T + t] = x;
}

template <int G>
__global__ void flash_row_dot_g(float *D, const bf16 *dout, const bf16 *out, int T, int NH, size_t rows)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x, row = i / G; /* the warp's rows: whole groups */
    float x = 0.0f;
    if (row < rows) {
        uint4 a = ((const uint4 *)dout)[i], c = ((const uint4 *)out)[i];
        const __nv_bfloat162 *pa = (const __nv_bfloat162 *)&a, *pc = (const __nv_bfloat162 *)&c;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            float2 fa = __bfloat1622float2(pa[j]), fc = __bfloat1622float2(pc[j]);
            x = fmaf(fa.x, fc.x, fmaf(fa.y, fc.y, x));
        }
    }
#pragma unroll
    for (int o = G / 2; o; o >>= 1) x += __shfl_xor_sync(0xffffffff, x, o);
    if (row < rows && i % G == 0) flash_row_store(D, x, row, T, NH);
}

__global__ void flash_row_dot(float *D, const bf16 *dout, const bf16 *out, int T, int NH, int hs, size_t rows)
{
    size_t row = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (row >= rows) return;
    const bf16 *a = dout + row * hs, *c = out + row * hs;
    float x = 0.0f;
    for (int d = 0; d < hs; d++) x = fmaf(to_f(a[d]), to_f(c[d]), x);
    flash_row_store(D, x, row, T, NH);
}

/* Ordered hand-over between blocks: an acquiring load and a releasing store
 * of a counter in device memory. */
static __device__ __forceinline__ unsigned fl_acquire(const unsigned *p)
{
    unsigned v;
    asm volatile("ld.acquire.gpu.global.u32 %0, [%1];\n" : "=r"(v) : "l"(p) : "memory");
    return v;
}

static __device__ __forceinline__ void fl_release(unsigned *p, unsigned v)
{
    asm volatile("st.release.gpu.global.u32 [%0], %1;\n" ::"l"(p), "r"(v) : "memory");
}

/* dK, dV of one key tile (dqkv columns C + h*hs and 2C + h*hs) over the query
 * tiles from the diagonal on, and this tile's share of their dQ. Blocks take
 * their (key tile, b*NH+h) in the order they start, from a counter (ctr[0]):
 * a head's key tiles side by side (its Q and dO are then read from L2), the
 * last key tile (the fewest query tiles) first. Warp w owns keys 16w.. of the
 * tile; the score blocks are transposed (keys x queries): lane l keys g and
 * g+8, queries 8n + c2 (+1). dQ: dS^T goes through shared memory, warp w
 * computes the query rows 16w.. of dS K and adds them to the float32 partial
 * sums dq (B,NH,T,hs) in the order of the key tiles from the diagonal's down
 * to 0: it waits until warp w of key tile kt+1 has added its own (the
 * counter of the query tile and warp in ctr says how many have); key tile
 * kt+1 is one query tile ahead of kt, so the wait is short, and it started
 * earlier, so every wait ends. The diagonal's key tile writes the sums, key
 * tile 0 writes dQ in bf16. */
template <int HSP>
__global__ void __launch_bounds__(FL_THREADS, HSP <= 64 ? 2 : 1)
    flash_backward(bf16 *dqkv, float *dq, unsigned *ctr, const bf16 *qkv, const bf16 *dout, const float *lse,
                   const float *D, int T, int NH, int hs, float qmul, float scale, int vec, FlashDrop dr)
{
    constexpr int P = HSP + 8, ND = HSP / 8, PD = FL_TILE + 8;
    extern __shared__ float4 flash_smem[];
    __shared__ unsigned ticket;
    /* K, V; then twice: Q, dO tiles; dS^T; the queries' lse and D twice */
    bf16 *Ks = (bf16 *)flash_smem, *Vs = Ks + FL_TILE * P, *QG = Vs + FL_TILE * P, *DS = QG + 4 * FL_TILE * P;
    float *LD = (float *)(DS + FL_TILE * PD);
    if (threadIdx.x == 0) ticket = atomicAdd(ctr, 1u);
    __syncthreads();
    int nt = (T + FL_TILE - 1) / FL_TILE, kt = nt - 1 - (int)(ticket % nt), bh = (int)(ticket / nt);
    int b = bh / NH, h = bh % NH, C = NH * hs, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int g = lane >> 2, c2 = 2 * (lane & 3);
    size_t stride = 3 * (size_t)C;
    const bf16 *q = qkv + (size_t)b * T * stride + h * hs, *k = q + C, *v = q + 2 * C;
    const bf16 *go = dout + (size_t)b * T * C + h * hs;
    const float *lse_h = lse + (size_t)bh * T, *D_h = D + (size_t)bh * T;
    float *dq_h = dq + (size_t)bh * T * hs;
    unsigned *sem = ctr + 1 + (size_t)bh * nt * FL_WARPS + warp; /* query tile qt's: qt * FL_WARPS on */
    int s0 = kt * FL_TILE, sr[2] = { s0 + 16 * warp + g, s0 + 16 * warp + g + 8 };
    fl_load<HSP, FL_TILE>(Ks, k, stride, s0, T, hs, vec);
    fl_load<HSP, FL_TILE>(Vs, v, stride, s0, T, hs, vec);
    fl_load<HSP, FL_TILE>(QG, q, stride, s0, T, hs, vec);
    fl_load<HSP, FL_TILE>(QG + FL_TILE * P, go, C, s0, T, hs, vec);
    fl_load_row(LD, lse_h, s0, T);
    fl_load_row(LD + FL_TILE, D_h, s0, T);
    fl_commit();
    uint32_t kf[1][HSP / 16][4], vf[1][HSP / 16][4]; /* the warp's keys of K and V as A fragments */
    float dk[1][ND][4], dv[1][ND][4];
#pragma unroll
    for (int n = 0; n < ND; n++)
#pragma unroll
        for (int j = 0; j < 4; j++) dk[0][n][j] = dv[0][n][j] = 0.0f;
    for (int qt = kt; qt < nt; qt++) {
        int t0 = qt * FL_TILE, cur = (qt - kt) & 1;
        const bf16 *Qs = QG + 2 * cur * FL_TILE * P, *Gs = Qs + FL_TILE * P;
        const float *Ls = LD + 2 * cur * FL_TILE, *Ds = Ls + FL_TILE; /* lse (natural log), D */
        if (qt + 1 < nt) { /* the next tile into the other buffer, read two iterations ago */
            bf16 *Qn = QG + 2 * (cur ^ 1) * FL_TILE * P;
            float *Ln = LD + 2 * (cur ^ 1) * FL_TILE;
            fl_load<HSP, FL_TILE>(Qn, q, stride, t0 + FL_TILE, T, hs, vec);
            fl_load<HSP, FL_TILE>(Qn + FL_TILE * P, go, C, t0 + FL_TILE, T, hs, vec);
            fl_load_row(Ln, lse_h, t0 + FL_TILE, T);
            fl_load_row(Ln + FL_TILE, D_h, t0 + FL_TILE, T);
            fl_commit();
            fl_wait<1>();
        } else {
            fl_wait<0>();
        }
        __syncthreads();
        if (qt == kt || HSP > 64) { /* wide heads: reloaded, rather than held past the registers */
            fl_frags<HSP>(kf[0], Ks, 16 * warp, lane);
            fl_frags<HSP>(vf[0], Vs, 16 * warp, lane);
        }
        /* st = S^T, dp = (dO V^T)^T for the warp's keys x the tile's queries */
        float st[1][FL_NT][4], dp[1][FL_NT][4];
        fl_abt<HSP, 1>(st, kf, Qs, lane);
        fl_abt<HSP, 1>(dp, vf, Gs, lane);
        /* st becomes P . mask, dp becomes dS = P (dP . mask - D); P is 0 past
         * the diagonal and past T, on the diagonal's tile and the last */
        float lse2[FL_NT][2], Dq[FL_NT][2]; /* the columns' lse (log2 units) and D */
#pragma unroll
        for (int n = 0; n < FL_NT; n++)
#pragma unroll
            for (int j = 0; j < 2; j++) lse2[n][j] = Ls[8 * n + c2 + j] * FL_LOG2E, Dq[n][j] = Ds[8 * n + c2 + j];
        if (qt == kt || t0 + FL_TILE > T) {
#pragma unroll
            for (int n = 0; n < FL_NT; n++)
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    int t = t0 + 8 * n + c2 + (j & 1);
                    st[0][n][j] = sr[j >> 1] <= t && t < T ? fl_ex2(fmaf(st[0][n][j], qmul, -lse2[n][j & 1])) : 0.0f;
                }
        } else {
#pragma unroll
            for (int n = 0; n < FL_NT; n++)
#pragma unroll
                for (int j = 0; j < 4; j++) st[0][n][j] = fl_ex2(fmaf(st[0][n][j], qmul, -lse2[n][j & 1]));
        }
        if (dr.on) {
#pragma unroll
            for (int n = 0; n < FL_NT; n++)
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    float pu = st[0][n][j], mk = flash_mask(dr, bh, T, t0 + 8 * n + c2 + (j & 1), sr[j >> 1]);
                    dp[0][n][j] = pu * (dp[0][n][j] * mk - Dq[n][j & 1]);
                    st[0][n][j] = pu * mk;
                }
        } else {
#pragma unroll
            for (int n = 0; n < FL_NT; n++)
#pragma unroll
                for (int j = 0; j < 4; j++) dp[0][n][j] = st[0][n][j] * (dp[0][n][j] - Dq[n][j & 1]);
        }
        /* dS^T, rounded to bf16 as the products take it, for dQ */
#pragma unroll
        for (int n = 0; n < FL_NT; n++) {
            *(uint32_t *)(DS + (16 * warp + g) * PD + 8 * n + c2) = fl_pack(dp[0][n][0], dp[0][n][1]);
            *(uint32_t *)(DS + (16 * warp + g + 8) * PD + 8 * n + c2) = fl_pack(dp[0][n][2], dp[0][n][3]);
        }
        /* dV += (P . mask)^T dO, dK += dS^T Q (scaled at the end) */
        fl_xb<HSP, 1>(dv, st, Gs, lane);
        fl_xb<HSP, 1>(dk, dp, Qs, lane);
        __syncthreads(); /* dS^T is whole */
        /* this key tile's dQ of the warp's 16 queries: dS (read transposed) times K */
        float acc[ND][4];
#pragma unroll
        for (int n = 0; n < ND; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
#pragma unroll
        for (int kc = 0; kc < FL_NT / 2; kc++) {
            uint32_t a[4];
            fl_ldsm_t(a, DS + (16 * kc + (lane & 7) + 8 * (lane >> 4)) * PD + 16 * warp + 8 * ((lane >> 3) & 1));
#pragma unroll
            for (int n = 0; n < ND; n += 2) {
                uint32_t bb[4];
                fl_ldsm_t(bb, Ks + (16 * kc + (lane & 7) + 8 * ((lane >> 3) & 1)) * P + 8 * n + 8 * (lane >> 4));
                fl_mma(acc[n], a, bb[0], bb[1]);
                fl_mma(acc[n + 1], a, bb[2], bb[3]);
            }
        }
        /* added in key-tile order: wait for key tile kt-1's warp w, then read
         * all the sums it left before writing any */
        unsigned *sw = sem + (size_t)qt * FL_WARPS;
        float old[2][ND][2];
#pragma unroll
        for (int r = 0; r < 2; r++)
#pragma unroll
            for (int n = 0; n < ND; n++) old[r][n][0] = old[r][n][1] = 0.0f;
        int before = qt - kt; /* key tiles qt down to kt+1 */
        if (before > 0) {
            if (lane == 0)
                while (fl_acquire(sw) < (unsigned)before) __nanosleep(64);
            __syncwarp(); /* the lanes' loads below come after lane 0's acquire */
#pragma unroll
            for (int r = 0; r < 2; r++) {
                int t = t0 + 16 * warp + g + 8 * r;
                const float *sum = dq_h + (size_t)t * hs;
#pragma unroll
                for (int n = 0; n < ND; n++)
#pragma unroll
                    for (int j = 0; j < 2; j++)
                        if (t < T && 8 * n + c2 + j < hs) old[r][n][j] = __ldcg(sum + 8 * n + c2 + j);
            }
        }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            int t = t0 + 16 * warp + g + 8 * r;
            if (t >= T) continue;
            float *sum = dq_h + (size_t)t * hs;
            bf16 *dst = dqkv + ((size_t)b * T + t) * stride + h * hs;
#pragma unroll
            for (int n = 0; n < ND; n++)
#pragma unroll
                for (int j = 0; j < 2; j++) {
                    int d = 8 * n + c2 + j;
                    if (d >= hs) continue;
                    float x = acc[n][2 * r + j] + old[r][n][j];
                    if (kt == 0) dst[d] = __float2bfloat16(x * scale);
                    else __stcg(sum + d, x);
                }
        }
        if (kt > 0) {
            __syncwarp(); /* every lane's stores before lane 0's release */
            if (lane == 0) fl_release(sw, (unsigned)before + 1);
        }
        __syncthreads(); /* this buffer and dS^T are read: the next iteration refills them */
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
                    dst[C + d] = __float2bfloat16(dk[0][n][2 * i + j] * scale);
                    dst[2 * C + d] = __float2bfloat16(dv[0][n][2 * i + j]);
                }
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
    int BH = B * NH, BM = FL_TILE * fwd_mb<HSP>(), nq = (T + BM - 1) / BM;
    size_t bytes = FlashSmem<HSP>::fwd;
    float qmul = FL_LOG2E / sqrtf((float)hs);
    int vec = flash_vec(qkv, qkv, hs, NH * hs);
    flash_allow(flash_forward<HSP>, bytes);
    flash_forward<HSP><<<(unsigned)((size_t)nq * BH), FL_THREADS, bytes, cuda_stream(k)>>>(out, lse, qkv, T, NH, hs,
                                                                                           qmul, vec, flash_drop(drop));
    LAUNCH_CHECK("flash_forward");
}

template <int HSP>
static void flash_backward_run(Kern *k, bf16 *dqkv, const float *D, const bf16 *dout, const bf16 *qkv,
                               const float *lse, int B, int T, int NH, int hs, const KDrop *drop)
{
    int BH = B * NH, nt = (T + FL_TILE - 1) / FL_TILE;
    float scale = 1.0f / sqrtf((float)hs), qmul = scale * FL_LOG2E;
    int vec = flash_vec(qkv, dout, hs, NH * hs);
    cudaStream_t s = cuda_stream(k);
    size_t nctr = kern_cuda_flash_counters(B, T, NH), bytes = FlashSmem<HSP>::bwd;
    size_t all = kern_cuda_flash_scratch(B, T, NH * hs, NH), sums = (size_t)B * T * NH * hs * sizeof(float);
    char *scratch = (char *)cuda_scratch(k, all);
    unsigned *ctr = (unsigned *)scratch;
    float *dq = (float *)(scratch + all - sums); /* after the counters, as kern_cuda_flash_scratch lays them out */
    CUDA_CHECK(cudaMemsetAsync(ctr, 0, nctr * sizeof(unsigned), s));
    flash_allow(flash_backward<HSP>, bytes);
    flash_backward<HSP><<<(unsigned)((size_t)nt * BH), FL_THREADS, bytes, s>>>(
        dqkv, dq, ctr, qkv, dout, lse, D, T, NH, hs, qmul, scale, vec, flash_drop(drop));
    LAUNCH_CHECK("flash_backward");
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
    cudaStream_t s = cuda_stream(k);
    int G = hs % 8 == 0 ? hs / 8 : 0;
    bool grouped = G && 32 % G == 0 && (uintptr_t)dout % 16 == 0 && (uintptr_t)out % 16 == 0;
    if (grouped) {
        size_t n = rows * G;
        unsigned grid = cuda_blocks(n, 256);
        switch (G) {
        case 1: flash_row_dot_g<1><<<grid, 256, 0, s>>>(D, dout, out, T, NH, rows); break;
        case 2: flash_row_dot_g<2><<<grid, 256, 0, s>>>(D, dout, out, T, NH, rows); break;
        case 4: flash_row_dot_g<4><<<grid, 256, 0, s>>>(D, dout, out, T, NH, rows); break;
        case 8: flash_row_dot_g<8><<<grid, 256, 0, s>>>(D, dout, out, T, NH, rows); break;
        case 16: flash_row_dot_g<16><<<grid, 256, 0, s>>>(D, dout, out, T, NH, rows); break;
        default: flash_row_dot_g<32><<<grid, 256, 0, s>>>(D, dout, out, T, NH, rows); break;
        }
    } else {
        flash_row_dot<<<cuda_blocks(rows, 256), 256, 0, s>>>(D, dout, out, T, NH, hs, rows);
    }
    LAUNCH_CHECK("flash_row_dot");
    switch (HSP) {
    case 32: flash_backward_run<32>(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    case 64: flash_backward_run<64>(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    case 96: flash_backward_run<96>(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    default: flash_backward_run<128>(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    }
}
