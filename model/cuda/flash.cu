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
 * The products run on the tensor cores (bf16 in, float32 sums): on Hopper
 * (sm_90a) as warpgroup products (wgmma) from shared memory, elsewhere as
 * mma.sync m16n8k16 (sm_80 and newer); each kernel is one template with a
 * flag WG for the two. Softmax, masks and scaling in float32; the
 * probabilities and dS enter their products rounded to bf16, as every flash
 * attention does. float32 stays on attention.cu's materialised path, which
 * equals the CPU; this one is within bf16 of it (tests/model/test_cuda.c). */
#include "common.cuh"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

/* The backward: 4 warps a block (one warpgroup); the forward: 4, or on
 * Hopper 8 (two warpgroups). Tiles hold the head dimension hs padded with
 * zeros to HSP (a multiple of 32): mma.sync's row-major [rows][HSP + 8], the
 * 8 more so that the 8 rows an ldmatrix phase reads fall on distinct banks;
 * Hopper's in bricks (fl_at). Key tiles (and the backward's query tiles)
 * have FL_TILE rows; the forward's query tile 16 rows a warp, mma.sync's
 * twice that where the registers allow (fwd_mb). */
static constexpr int FL_WARPS = KERN_CUDA_FLASH_WARPS, FL_THREADS = 32 * FL_WARPS, FL_TILE = KERN_CUDA_FLASH_TILE;
static_assert(FL_TILE == 16 * FL_WARPS, "a backward block: 16 keys a warp");
static constexpr int FL_NT = FL_TILE / 8; /* 8-column tiles of a (16, FL_TILE) score block */
/* the backward's buffers of query tiles: the next one loads while this one
 * is worked on (a third, loading two ahead, was no faster on Hopper once
 * its copies no longer sat under the dQ release's fence; see below) */
static constexpr int FL_Q_BUFS = KERN_CUDA_FLASH_Q_BUFS;
/* The widest padded head whose backward reads dQ's sums so far while its
 * last products run (Hopper; wider, the sums no longer fit the registers of
 * three blocks an SM) */
static constexpr int FL_EARLY_MAX = 32;
static constexpr float FL_LN2 = 0.6931471805599453f;

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

/* Row g + 8r of a warp's 16-row block of fragments x (its lane's two
 * columns of each 8-column block) times mul, in bf16, the columns below hs:
 * the kernels' results (out, dQ, dK, dV), dst the row's column 0. The two
 * columns in one 4-byte store where the row allows. */
template <int ND>
static __device__ __forceinline__ void fl_store_row(bf16 *dst, const float (&x)[ND][4], int r, float mul, int hs,
                                                    int c2)
{
    bool pairs = hs % 2 == 0 && (uintptr_t)dst % 4 == 0;
#pragma unroll
    for (int n = 0; n < ND; n++) {
        int d = 8 * n + c2;
        if (pairs && d < hs) {
            *(__nv_bfloat162 *)(dst + d) = __floats2bfloat162_rn(x[n][2 * r] * mul, x[n][2 * r + 1] * mul);
            continue;
        }
#pragma unroll
        for (int j = 0; j < 2; j++)
            if (d + j < hs) dst[d + j] = __float2bfloat16(x[n][2 * r + j] * mul);
    }
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

/* ---- Hopper's warpgroup products (sm_90a) ----
 * wgmma.mma_async: the 4 warps of a warpgroup multiply a 64-row A by a B of
 * N columns (here 32 or 64) over k = 16 into a float32 C whose fragments are
 * mma.sync's, warp w holding rows 16w..16w+15 (lane l: rows g, g+8, columns
 * 8n + c2 (+1) of each 8-column block n). A comes from shared memory or from
 * registers (mma.sync's A fragments); B from shared memory. The operands in
 * shared memory lie in "bricks" of 8 rows x 8 columns (128 contiguous bytes,
 * row by row; fl_at), brick after brick along a row: read with the columns
 * as k ("K-major") the bricks along k are 128 bytes apart and those along
 * the rows a brick row apart; read with the rows as k ("MN-major",
 * transposed) the other way round. The same tile thus serves both ways, and
 * a brick is one conflict-free wavefront. The products run asynchronously:
 * wg_fence before (registers the warp wrote), wg_commit and wg_wait<0>
 * after, then wg_hold on the results so that nothing reads them earlier.
 * Built for other GPUs these helpers trap: the launchers only pick the
 * Hopper kernels where flash_hopper_probe found them compiled in. */
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FL_HOPPER 1
#else
#define FL_HOPPER 0
#endif

/* Element (r, c) of a tile of `cols` columns: bricks (Hopper) or rows padded
 * by 8 (mma.sync: ldmatrix's 8 rows then fall on distinct banks). */
template <int COLS, bool WG> static constexpr __host__ __device__ __forceinline__ int fl_at(int r, int c)
{
    if constexpr (WG) return ((r >> 3) * (COLS / 8) + (c >> 3)) * 64 + (r & 7) * 8 + (c & 7);
    else return r * (COLS + 8) + c;
}

/* A warp's 16 result rows (fragments x as the products leave them, row g
 * times mul[0], row g + 8 times mul[1]) in bf16 into rows t.. of dst (the
 * head's row 0, column 0; rows `stride` apart), rows from T on left out:
 * through 16 x HSP elements of shared memory that only this warp uses now
 * (st, 16-byte aligned, laid out in bricks: both sides conflict-free), so
 * that each lane stores 16 bytes and each store of the warp fills whole
 * 32-byte sectors; row by row (fl_store_row) where hs, stride or dst do
 * not allow 16-byte pieces. */
template <int HSP>
static __device__ __forceinline__ void fl_store_tile(bf16 *dst, size_t stride, int t, int T, int hs,
                                                     const float (&x)[HSP / 8][4], const float (&mul)[2], bf16 *st,
                                                     int lane)
{
    int g = lane >> 2, c2 = 2 * (lane & 3);
    if (hs % 8 || stride % 8 || (uintptr_t)dst % 16) {
#pragma unroll
        for (int r = 0; r < 2; r++)
            if (t + g + 8 * r < T) fl_store_row(dst + (size_t)(t + g + 8 * r) * stride, x, r, mul[r], hs, c2);
        return;
    }
    constexpr int V = HSP / 8; /* 16-byte pieces a row */
    __syncwarp();
#pragma unroll
    for (int n = 0; n < V; n++)
#pragma unroll
        for (int r = 0; r < 2; r++)
            *(uint32_t *)(st + fl_at<HSP, true>(g + 8 * r, 8 * n + c2)) =
                fl_pack(x[n][2 * r] * mul[r], x[n][2 * r + 1] * mul[r]);
    __syncwarp();
#pragma unroll
    for (int j = 0; j < V / 2; j++) { /* fl_load's order: 8 rows of a brick, then the next brick along */
        int i = lane + 32 * j, r = (i & 7) + 8 * (i / (8 * V)), d = 8 * (i / 8 % V);
        if (t + r < T && d < hs)
            *(uint4 *)(dst + (size_t)(t + r) * stride + d) = *(const uint4 *)(st + fl_at<HSP, true>(r, d));
    }
}

/* The shared-memory descriptor of an operand whose first element is at p,
 * its bricks `kstep` bytes apart along k and `mnstep` along M or N (no
 * swizzle). */
static __device__ __forceinline__ uint64_t wg_desc(const bf16 *p, uint32_t kstep, uint32_t mnstep)
{
    uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
    return (uint64_t)((a & 0x3ffff) >> 4) | (uint64_t)(kstep >> 4) << 16 | (uint64_t)(mnstep >> 4) << 32;
}

static __device__ __forceinline__ void wg_fence()
{
#if FL_HOPPER
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
static __device__ __forceinline__ void wg_commit()
{
#if FL_HOPPER
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
template <int N> static __device__ __forceinline__ void wg_wait()
{
#if FL_HOPPER
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}
/* Shared memory written by the threads (copies, stores) made visible to the
 * products' reads; before the barrier that publishes it. */
static __device__ __forceinline__ void wg_publish()
{
#if FL_HOPPER
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}
/* The N/8 fragments at d: not read nor written before the wait above. */
template <int N> static __device__ __forceinline__ void wg_hold(float (*d)[4])
{
#pragma unroll
    for (int i = 0; i < N / 8; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) asm volatile("" : "+f"(d[i][j])::"memory");
}

#define WG_F4(m, d, i) m(d[i][0]), m(d[i][1]), m(d[i][2]), m(d[i][3])
#define WG_F16(m, d, i) WG_F4(m, d, i), WG_F4(m, d, i + 1), WG_F4(m, d, i + 2), WG_F4(m, d, i + 3)
#define WG_R16 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}"
#define WG_R32                                                                                             \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, " \
    "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"

/* d (64 x N) = A B, + d when ACC (else d is only written): A and B in
 * shared memory, TA / TB 1 where read transposed (MN-major). */
template <int N, int TA, int TB, bool ACC>
static __device__ __forceinline__ void wg_mma_ss(float (*d)[4], uint64_t a, uint64_t b)
{
#if FL_HOPPER
    static_assert(N == 32 || N == 64, "wg_mma_ss: N 32 or 64");
    if constexpr (N == 64 && ACC)
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " WG_R32 ", %32, %33, p, 1, 1, %35, %36;\n}\n"
                     : WG_F16("+f", d, 0), WG_F16("+f", d, 4)
                     : "l"(a), "l"(b), "r"(1), "n"(TA), "n"(TB));
    else if constexpr (N == 64)
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " WG_R32 ", %32, %33, p, 1, 1, %35, %36;\n}\n"
                     : WG_F16("=f", d, 0), WG_F16("=f", d, 4)
                     : "l"(a), "l"(b), "r"(0), "n"(TA), "n"(TB));
    else if constexpr (ACC)
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %18, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 " WG_R16 ", %16, %17, p, 1, 1, %19, %20;\n}\n"
                     : WG_F16("+f", d, 0)
                     : "l"(a), "l"(b), "r"(1), "n"(TA), "n"(TB));
    else
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %18, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 " WG_R16 ", %16, %17, p, 1, 1, %19, %20;\n}\n"
                     : WG_F16("=f", d, 0)
                     : "l"(a), "l"(b), "r"(0), "n"(TA), "n"(TB));
#else
    __trap();
#endif
}

/* d (64 x N) += A B: A the warp's mma.sync A fragment of rows 16w.., B in
 * shared memory (TB as above). */
template <int N, int TB>
static __device__ __forceinline__ void wg_mma_rs(float (*d)[4], const uint32_t (&a)[4], uint64_t b)
{
#if FL_HOPPER
    static_assert(N == 32 || N == 64, "wg_mma_rs: N 32 or 64");
    if constexpr (N == 64)
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " WG_R32
                     ", {%32, %33, %34, %35}, %36, p, 1, 1, %38;\n}\n"
                     : WG_F16("+f", d, 0), WG_F16("+f", d, 4)
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1), "n"(TB));
    else
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %21, 0;\n"
                     "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 " WG_R16
                     ", {%16, %17, %18, %19}, %20, p, 1, 1, %22;\n}\n"
                     : WG_F16("+f", d, 0)
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1), "n"(TB));
#else
    __trap();
#endif
}

/* acc (the warpgroup's 64 x FL_TILE) = A B^T over HSP: A 64 rows of a brick
 * tile of HSP columns from As, B FL_TILE rows of one from Bs, both read with
 * the columns as k. Q K^T, K Q^T and V dO^T. Committed, not waited for. */
template <int HSP> static __device__ __forceinline__ void wg_abt(float (&acc)[FL_NT][4], const bf16 *As, const bf16 *Bs)
{
    static_assert(FL_TILE == 64, "wg_abt: one m64n64 product a k step");
    constexpr uint32_t row = HSP / 8 * 128; /* bytes a brick row */
    wg_mma_ss<64, 0, 0, false>(acc, wg_desc(As, 128, row), wg_desc(Bs, 128, row));
#pragma unroll
    for (int kk = 1; kk < HSP / 16; kk++)
        wg_mma_ss<64, 0, 0, true>(acc, wg_desc(As + 16 * kk * 8, 128, row), wg_desc(Bs + 16 * kk * 8, 128, row));
}

/* X (64 x FL_TILE, the float32 fragments wg_abt leaves) rounded to bf16 as
 * the A fragments of its k steps (fl_xb's packing) */
static __device__ __forceinline__ void wg_pack(uint32_t (&a)[FL_NT / 2][4], const float (&x)[FL_NT][4])
{
#pragma unroll
    for (int kc = 0; kc < FL_NT / 2; kc++) {
        a[kc][0] = fl_pack(x[2 * kc][0], x[2 * kc][1]);
        a[kc][1] = fl_pack(x[2 * kc][2], x[2 * kc][3]);
        a[kc][2] = fl_pack(x[2 * kc + 1][0], x[2 * kc + 1][1]);
        a[kc][3] = fl_pack(x[2 * kc + 1][2], x[2 * kc + 1][3]);
    }
}

/* acc (64 x HSP) += X B: X packed by wg_pack (before the wg_fence that
 * precedes this), B FL_TILE rows (k) of a brick tile of HSP columns. P V,
 * P^T dO and dS^T Q. Committed, not waited for. */
template <int HSP>
static __device__ __forceinline__ void wg_xb(float (&acc)[HSP / 8][4], const uint32_t (&a)[FL_NT / 2][4], const bf16 *Bs)
{
    constexpr uint32_t row = HSP / 8 * 128;
#pragma unroll
    for (int kc = 0; kc < FL_NT / 2; kc++) {
        const bf16 *b = Bs + fl_at<HSP, true>(16 * kc, 0);
#pragma unroll
        for (int n = 0; n < HSP; n += 64) {
            if (HSP - n >= 64) wg_mma_rs<64, 1>(acc + n / 8, a[kc], wg_desc(b + n * 8, row, 128));
            else wg_mma_rs<32, 1>(acc + n / 8, a[kc], wg_desc(b + n * 8, row, 128));
        }
    }
}

/* Rows r0..r0+ROWS-1 of one head's q, k, v or dout (src: row 0, column 0 of
 * the head; rows `stride` apart) into tile dst (fl_at's layout, HSP
 * columns) by NTH threads, zero past T and past hs, in pieces of vw elements
 * (8, 4 or 2: hs, stride and src's alignment allow it): asynchronous copies,
 * which land once cp_async_wait says so, so the next tile loads while this one is
 * worked on; vw 1: plain loads. Consecutive threads fill the rows of one
 * brick (Hopper's layout), so that their stores are one wavefront. */
template <int HSP, int ROWS, int NTH = FL_THREADS, bool WG = false>
static __device__ __forceinline__ void fl_load(bf16 *dst, const bf16 *src, size_t stride, int r0, int T, int hs,
                                               int vw)
{
    if (vw == 1) {
        for (int i = threadIdx.x; i < ROWS * HSP; i += NTH) {
            int r = i / HSP, d = i % HSP, t = r0 + r;
            dst[fl_at<HSP, WG>(r, d)] = t < T && d < hs ? src[(size_t)t * stride + d] : __float2bfloat16(0.0f);
        }
        return;
    }
    if (vw == 8) { /* the usual case, its index arithmetic on constants */
        constexpr int V = HSP / 8;
        static_assert(ROWS * V % NTH == 0, "fl_load: whole rounds of copies");
#pragma unroll
        for (int j = 0; j < ROWS * V / NTH; j++) {
            unsigned i = threadIdx.x + j * NTH, r, d;
            if constexpr (WG) r = (i & 7) + 8 * (i / (8 * V)), d = 8 * (i / 8 % V);
            else r = i / V, d = 8 * (i % V);
            int t = r0 + (int)r;
            bf16 *to = dst + fl_at<HSP, WG>(r, d);
            if (t < T && d < hs) {
                cp_async<16>(smem_at(to), src + (size_t)t * stride + d);
            } else {
                *(uint4 *)to = make_uint4(0, 0, 0, 0);
            }
        }
        return;
    }
    int V = HSP / vw; /* pieces a row */
    for (int i = threadIdx.x; i < ROWS * V; i += NTH) {
        int r, d;
        if constexpr (WG) r = (i & 7) + 8 * (i / (8 * V)), d = vw * (i / 8 % V);
        else r = i / V, d = vw * (i % V);
        int t = r0 + r;
        bf16 *to = dst + fl_at<HSP, WG>(r, d);
        if (t < T && d < hs) {
            uint32_t a = smem_at(to);
            const bf16 *from = src + (size_t)t * stride + d;
            if (vw == 4) cp_async<8>(a, from);
            else cp_async<4>(a, from);
        } else {
            for (int j = 0; j < vw; j++) to[j] = __float2bfloat16(0.0f);
        }
    }
}

/* FL_TILE floats of a (B,NH,T) row (lse or D) from t0 on, zero past T: one
 * 4-byte asynchronous copy each. */
template <int NTH = FL_THREADS> static __device__ __forceinline__ void fl_load_row(float *dst, const float *src, int t0, int T)
{
    for (int i = threadIdx.x; i < FL_TILE; i += NTH) {
        if (t0 + i < T) {
            uint32_t a = smem_at(dst + i);
            cp_async<4>(a, src + t0 + i);
        } else {
            dst[i] = 0.0f;
        }
    }
}

/* Blocks an SM the kernels are built for (registers a thread up to 64K /
 * (threads x blocks)): on Hopper three for the forward on heads up to 32
 * wide and the backward (BWD) up to 64, whose tiles are short work between
 * waits that more blocks hide (the backward then keeps a few values in
 * local memory: heads of 64 at three blocks 0.837 -> 0.808 ms at GPT-2's
 * shape); otherwise up to 64 two; wider one. */
template <int HSP, bool WG, bool BWD = false> __host__ __device__ static constexpr int fl_min_blocks()
{
    return WG && HSP <= (BWD ? 64 : 32) ? 3 : HSP <= 64 ? 2 : 1;
}

/* The forward's warps a block: two warpgroups of 64 rows on Hopper (they
 * share each K and V tile), else FL_WARPS; its 16-row blocks a warp. */
template <bool WG> __host__ __device__ static constexpr int fwd_warps() { return WG ? 8 : FL_WARPS; }
template <int HSP, bool WG> __host__ __device__ static constexpr int fwd_rows()
{
    return 16 * (WG ? 1 : fwd_mb<HSP>()) * fwd_warps<WG>();
}

/* The forward's buffers of key tiles (K and V): the next one loads while
 * this one is worked on (Hopper: and the one before's P V may run on).
 * Each kernel's shared memory a block, as the kernels below lay it out, is
 * kern_cuda_flash_smem's (kern_cuda_sizes.c), which the plan shares. */
template <bool WG> __host__ __device__ static constexpr int fwd_bufs() { return WG ? KERN_CUDA_FLASH_KV_BUFS_HOPPER : 2; }

/* The max (MAX) or the sum of a lane's share of score row r (0: g, 1: g + 8)
 * of a (16, FL_TILE) block: a tree, not a chain of dependent steps. */
template <bool MAX> static __device__ __forceinline__ float fl_row_tree(const float (&s)[FL_NT][4], int r)
{
    float t[FL_NT];
#pragma unroll
    for (int n = 0; n < FL_NT; n++) t[n] = MAX ? fmaxf(s[n][2 * r], s[n][2 * r + 1]) : s[n][2 * r] + s[n][2 * r + 1];
#pragma unroll
    for (int w = FL_NT / 2; w; w >>= 1)
#pragma unroll
        for (int n = 0; n < w; n++) t[n] = MAX ? fmaxf(t[n], t[n + w]) : t[n] + t[n + w];
    return t[0];
}

/* The online softmax of a warp's MB blocks of 16 rows (from r0) against key
 * tile s0..: the causal mask where MASK (and some key is past some row),
 * the running max m, this lane's share of the running sum l and the
 * outputs o rescaled with m; s becomes P, dropped where DROP. Scores in log2
 * units (times scale*log2(e) = qmul). */
template <int HSP, int MB, bool MASK, bool DROP>
static __device__ __forceinline__ void fl_softmax(float (&s)[MB][FL_NT][4], float (&o)[MB][HSP / 8][4],
                                                  float (&m)[MB][2], float (&l)[MB][2], int s0, int r0, int g,
                                                  int c2, float qmul, const FlashDrop &dr, int bh, int T)
{
    constexpr int ND = HSP / 8;
    if (MASK && s0 + FL_TILE - 1 > r0) /* some key past some row of the warp: the causal mask */
#pragma unroll
        for (int i = 0; i < MB; i++)
#pragma unroll
            for (int n = 0; n < FL_NT; n++)
#pragma unroll
                for (int j = 0; j < 4; j++)
                    if (s0 + 8 * n + c2 + (j & 1) > r0 + 16 * i + g + 8 * (j >> 1)) s[i][n][j] = -INFINITY;
#pragma unroll
    for (int i = 0; i < MB; i++) {
        /* the new running max, in log2 units (qmul > 0: the raw scores' max, scaled) */
        float mx[2] = { fl_row_tree<true>(s[i], 0), fl_row_tree<true>(s[i], 1) };
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffff, mx[r], 2));
            mx[r] = fmaxf(m[i][r], mx[r] * qmul);
            float alpha = ex2_approx(m[i][r] - mx[r]);
            m[i][r] = mx[r];
            l[i][r] *= alpha;
#pragma unroll
            for (int n = 0; n < ND; n++) o[i][n][2 * r] *= alpha, o[i][n][2 * r + 1] *= alpha;
        }
#pragma unroll
        for (int n = 0; n < FL_NT; n++)
#pragma unroll
            for (int j = 0; j < 4; j++) s[i][n][j] = ex2_approx(fmaf(s[i][n][j], qmul, -mx[j >> 1])); /* 0 where masked */
#pragma unroll
        for (int r = 0; r < 2; r++) l[i][r] += fl_row_tree<false>(s[i], r); /* the normaliser takes the undropped P */
    }
    if constexpr (DROP)
#pragma unroll
        for (int i = 0; i < MB; i++)
#pragma unroll
            for (int n = 0; n < FL_NT; n++)
#pragma unroll
                for (int j = 0; j < 4; j++)
                    if (s[i][n][j] != 0.0f)
                        s[i][n][j] *= flash_mask(dr, bh, T, r0 + 16 * i + g + 8 * (j >> 1), s0 + 8 * n + c2 + (j & 1));
}

/* out (B,T,C) bf16 and lse (B,NH,T) float (natural log, the scale included)
 * from qkv (B,T,3C) bf16. A block a (query tile of BM rows, b*NH+h), a
 * head's tiles side by side (so its K and V are read from L2 rather than
 * memory), its last query tiles (the most key tiles) first. Warp w owns
 * query rows 16 MB w.. of the tile, in MB blocks of 16; lane l rows g = l/4
 * and g+8 of each block. mma.sync: the warp's Q fragments in registers;
 * Hopper: each warpgroup's 64 rows multiplied by the K and V tiles in
 * shared memory, in two runs: the key tiles before the block's first row,
 * which no row masks, with each tile's P V products left running while the
 * next tile's scores are worked out; then the diagonal's, one at a time
 * (a branch that rewrites the scores while products run makes ptxas
 * serialise every warpgroup product, hence the two runs and DROP as a
 * template flag). */
template <int HSP, bool WG, bool DROP>
__global__ void __launch_bounds__(32 * fwd_warps<WG>(), fl_min_blocks<HSP, WG>())
    flash_forward(bf16 *out, float *lse, const bf16 *qkv, int T, int NH, int hs, float qmul, int vec,
                  FlashDrop dr)
{
    constexpr int ND = HSP / 8, MB = WG ? 1 : fwd_mb<HSP>(), NTH = 32 * fwd_warps<WG>(), BM = fwd_rows<HSP, WG>();
    constexpr int TE = fl_at<HSP, WG>(FL_TILE, 0); /* elements a key tile */
    extern __shared__ float4 flash_smem[];
    bf16 *Qs = (bf16 *)flash_smem, *KV = Qs + fl_at<HSP, WG>(BM, 0); /* KV: buffer i's K at 2i, V at 2i+1 tiles */
    constexpr int NBUF = fwd_bufs<WG>();
    int nq = (T + BM - 1) / BM, qt = nq - 1 - (int)(blockIdx.x % nq), bh = (int)(blockIdx.x / nq);
    int b = bh / NH, h = bh % NH, C = NH * hs, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int g = lane >> 2, c2 = 2 * (lane & 3);
    size_t stride = 3 * (size_t)C;
    const bf16 *q = qkv + (size_t)b * T * stride + h * hs, *k = q + C, *v = q + 2 * C;
    int t0 = qt * BM, r0 = t0 + 16 * MB * warp; /* the warp's first row */
    /* the last row of the rows that multiply together: the warp's, or its warpgroup's */
    int rlast = WG ? t0 + 64 * (warp / 4) + 63 : r0 + 16 * MB - 1;
    int last = min(t0 + BM - 1, T - 1) / FL_TILE; /* the last key tile any row sees */
    fl_load<HSP, BM, NTH, WG>(Qs, q, stride, t0, T, hs, vec);
    fl_load<HSP, FL_TILE, NTH, WG>(KV, k, stride, 0, T, hs, vec);
    fl_load<HSP, FL_TILE, NTH, WG>(KV + TE, v, stride, 0, T, hs, vec);
    cp_async_commit();
    /* o: the rows' outputs times l, unnormalised; m: the running max; l: this
     * lane's share of the running sum (its columns), rescaled with m */
    uint32_t qf[WG ? 1 : MB][HSP / 16][4];
    float o[MB][ND][4], m[MB][2], l[MB][2];
#pragma unroll
    for (int i = 0; i < MB; i++) {
        m[i][0] = m[i][1] = -INFINITY;
        l[i][0] = l[i][1] = 0.0f;
#pragma unroll
        for (int n = 0; n < ND; n++) o[i][n][0] = o[i][n][1] = o[i][n][2] = o[i][n][3] = 0.0f;
    }
    /* Key tile kt has landed; then the next one into the next buffer, which
     * is read: mma.sync's two by the last iteration's closing barrier,
     * Hopper's three by the last iteration's opening one (the P V products
     * left running read the tile before, and its warpgroup waited for them
     * before that barrier). The next one is only asked for now so that
     * wg_publish does not wait for it. Returns the tile's K (V follows). */
    auto arrive = [&](int kt) -> const bf16 * {
        cp_async_wait<0>();
        if constexpr (WG) wg_publish();
        __syncthreads();
        if (kt < last) {
            bf16 *Kn = KV + 2 * ((kt + 1) % NBUF) * TE;
            fl_load<HSP, FL_TILE, NTH, WG>(Kn, k, stride, (kt + 1) * FL_TILE, T, hs, vec);
            fl_load<HSP, FL_TILE, NTH, WG>(Kn + TE, v, stride, (kt + 1) * FL_TILE, T, hs, vec);
            cp_async_commit();
        }
        return KV + 2 * (kt % NBUF) * TE;
    };
    /* key tiles up to the diagonal; tile 0 holds key 0, which every row sees,
     * so m is finite from the first tile on */
    if constexpr (WG) {
        const bf16 *Qw = Qs + fl_at<HSP, true>(64 * (warp / 4), 0);
        int kt = 0, before = min(t0 / FL_TILE, last + 1); /* the tiles before every row */
        for (; kt < before; kt++) {
            const bf16 *Ks = arrive(kt), *Vs = Ks + TE;
            float s[1][FL_NT][4];
            wg_fence();
            wg_abt<HSP>(s[0], Qw, Ks);
            wg_commit();
            wg_wait<0>(); /* and the last tile's P V */
            wg_hold<FL_TILE>(s[0]);
            wg_hold<HSP>(o[0]);
            fl_softmax<HSP, 1, false, DROP>(s, o, m, l, kt * FL_TILE, r0, g, c2, qmul, dr, bh, T);
            uint32_t pa[FL_NT / 2][4];
            wg_pack(pa, s[0]);
            wg_fence();
            wg_xb<HSP>(o[0], pa, Vs);
            wg_commit(); /* waited for with the next tile's scores */
        }
        wg_wait<0>();
        wg_hold<HSP>(o[0]);
        for (; kt <= last; kt++) {
            const bf16 *Ks = arrive(kt), *Vs = Ks + TE;
            if (rlast < kt * FL_TILE) continue; /* the warpgroup's rows all come before these keys */
            float s[1][FL_NT][4];
            wg_fence();
            wg_abt<HSP>(s[0], Qw, Ks);
            wg_commit();
            wg_wait<0>();
            wg_hold<FL_TILE>(s[0]);
            fl_softmax<HSP, 1, true, DROP>(s, o, m, l, kt * FL_TILE, r0, g, c2, qmul, dr, bh, T);
            uint32_t pa[FL_NT / 2][4];
            wg_pack(pa, s[0]);
            wg_fence();
            wg_xb<HSP>(o[0], pa, Vs);
            wg_commit();
            wg_wait<0>();
            wg_hold<HSP>(o[0]);
        }
    } else {
        for (int kt = 0; kt <= last; kt++) {
            const bf16 *Ks = arrive(kt), *Vs = Ks + TE;
            if (kt == 0)
#pragma unroll
                for (int i = 0; i < MB; i++) fl_frags<HSP>(qf[i], Qs, 16 * (MB * warp + i), lane);
            if (rlast >= kt * FL_TILE) { /* else the warp's rows all come before these keys */
                float s[MB][FL_NT][4];
                fl_abt<HSP, MB>(s, qf, Ks, lane);
                fl_softmax<HSP, MB, true, DROP>(s, o, m, l, kt * FL_TILE, r0, g, c2, qmul, dr, bh, T);
                fl_xb<HSP, MB>(o, s, Vs, lane);
            }
            __syncthreads(); /* this buffer is read: the next iteration refills it */
        }
    }
    /* the outputs through the warp's own rows of Qs (Hopper: its
     * warpgroup's products read them all, and are done after this) */
    if constexpr (WG) __syncthreads();
#pragma unroll
    for (int i = 0; i < MB; i++) {
        float inv[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float sum = l[i][r];
            sum += __shfl_xor_sync(0xffffffff, sum, 1);
            sum += __shfl_xor_sync(0xffffffff, sum, 2);
            inv[r] = 1.0f / sum;
            int t = r0 + 16 * i + g + 8 * r;
            if (t < T && (lane & 3) == 0) lse[(size_t)bh * T + t] = (m[i][r] + log2f(sum)) * FL_LN2;
        }
        fl_store_tile<HSP>(out + (size_t)b * T * C + h * hs, C, r0 + 16 * i, T, hs, o[i], inv,
                           Qs + fl_at<HSP, WG>(r0 + 16 * i - t0, 0), lane);
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

/* Returns once `before` key tiles have added their dQ to a query tile's
 * sums (the counter at sw says how many have): lane 0 polls, then
 * acquires once, and the warp's loads of the sums come after. */
static __device__ __forceinline__ void fl_sums_wait(const unsigned *sw, unsigned before, int lane)
{
    if (lane == 0) {
        unsigned v;
        for (;;) {
            asm volatile("ld.relaxed.gpu.global.u32 %0, [%1];\n" : "=r"(v) : "l"(sw) : "memory");
            if (v >= before) break;
            __nanosleep(64);
        }
        fl_acquire(sw);
    }
    __syncwarp(); /* the lanes' loads after this come after lane 0's acquire */
}

/* dK, dV of one key tile (dqkv columns C + h*hs and 2C + h*hs) over the query
 * tiles from the diagonal on, and this tile's share of their dQ. Blocks take
 * their (key tile, b*NH+h) in the order they start, from a counter (ctr[0]):
 * a head's key tiles side by side (its Q and dO are then read from L2), the
 * last key tile (the fewest query tiles) first. Warp w owns keys 16w.. of the
 * tile; the score blocks are transposed (keys x queries): lane l keys g and
 * g+8, queries 8n + c2 (+1). dQ: dS^T goes through shared memory, warp w
 * computes the query rows 16w.. of dS K and adds them to the float32 partial
 * sums dq in the order of the key tiles from the diagonal's down to 0 (the
 * sums lie as the fragments do: for each head, query tile, warp and block of
 * 8 columns, a float4 a lane, so that a warp reads and writes whole lines):
 * it waits until warp w of key tile kt+1 has added its own (the counter of
 * the query tile and warp in ctr says how many have; a warp stores it after
 * the next query tile's first products, or on Hopper's heads up to 64 wide
 * once that tile's dS^T is whole, by when its sums are written); key
 * tile kt+1 is one query tile ahead of kt, so the wait is short, and it
 * started earlier and never waits for kt, so every wait ends. The diagonal's
 * key tile writes the sums, key tile 0 writes dQ in bf16. Hopper: the
 * products as warpgroup products; dV's start as soon as P is known, before
 * dS (DROP: the dropout mask, a template flag so that no warpgroup product
 * sits in a branch). */
template <int HSP, bool WG, bool DROP>
__global__ void __launch_bounds__(FL_THREADS, fl_min_blocks<HSP, WG, true>())
    flash_backward(bf16 *dqkv, float *dq, unsigned *ctr, const bf16 *qkv, const bf16 *dout, const float *lse,
                   const float *D, int T, int NH, int hs, float qmul, float scale, int vec, FlashDrop dr)
{
    constexpr int ND = HSP / 8, TE = fl_at<HSP, WG>(FL_TILE, 0); /* elements a tile */
    extern __shared__ float4 flash_smem[];
    __shared__ unsigned ticket;
    /* K, V; then QB times: Q, dO tiles; dS^T; the queries' lse and D QB times */
    constexpr int QB = FL_Q_BUFS;
    bf16 *Ks = (bf16 *)flash_smem, *Vs = Ks + TE, *QG = Vs + TE, *DS = QG + 2 * QB * TE;
    float *LD = (float *)(DS + fl_at<FL_TILE, WG>(FL_TILE, 0));
    if (threadIdx.x == 0) ticket = atomicAdd(ctr, 1u);
    __syncthreads();
    int nt = (T + FL_TILE - 1) / FL_TILE, kt = nt - 1 - (int)(ticket % nt), bh = (int)(ticket / nt);
    int b = bh / NH, h = bh % NH, C = NH * hs, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int g = lane >> 2, c2 = 2 * (lane & 3);
    size_t stride = 3 * (size_t)C;
    const bf16 *q = qkv + (size_t)b * T * stride + h * hs, *k = q + C, *v = q + 2 * C;
    const bf16 *go = dout + (size_t)b * T * C + h * hs;
    const float *lse_h = lse + (size_t)bh * T, *D_h = D + (size_t)bh * T;
    const int NB = (hs + 7) / 8; /* 8-column blocks of dQ's sums */
    float4 *dq_w = (float4 *)dq + ((size_t)bh * nt * FL_WARPS + warp) * NB * 32 + lane; /* query tile qt's: qt * FL_WARPS * NB * 32 on */
    unsigned *sem = ctr + 1 + (size_t)bh * nt * FL_WARPS + warp; /* query tile qt's: qt * FL_WARPS on */
    int s0 = kt * FL_TILE, sr[2] = { s0 + 16 * warp + g, s0 + 16 * warp + g + 8 };
    /* query tile kt + i's Q, dO, lse and D into buffer i % QB: one group of copies */
    auto load_q = [&](int i) {
        int t0 = s0 + i * FL_TILE, buf = i % QB;
        fl_load<HSP, FL_TILE, FL_THREADS, WG>(QG + 2 * buf * TE, q, stride, t0, T, hs, vec);
        fl_load<HSP, FL_TILE, FL_THREADS, WG>(QG + (2 * buf + 1) * TE, go, C, t0, T, hs, vec);
        fl_load_row(LD + 2 * buf * FL_TILE, lse_h, t0, T);
        fl_load_row(LD + (2 * buf + 1) * FL_TILE, D_h, t0, T);
        cp_async_commit();
    };
    fl_load<HSP, FL_TILE, FL_THREADS, WG>(Ks, k, stride, s0, T, hs, vec);
    fl_load<HSP, FL_TILE, FL_THREADS, WG>(Vs, v, stride, s0, T, hs, vec);
    load_q(0);
    uint32_t kf[1][HSP / 16][4], vf[1][HSP / 16][4]; /* mma.sync: the warp's keys of K and V as A fragments */
    float dk[1][ND][4], dv[1][ND][4];
#pragma unroll
    for (int n = 0; n < ND; n++)
#pragma unroll
        for (int j = 0; j < 4; j++) dk[0][n][j] = dv[0][n][j] = 0.0f;
    unsigned *rel = nullptr, relv = 0; /* the last query tile's counter and what to store in it */
    auto release = [&] {
        if (rel && lane == 0) fl_release(rel, relv);
        rel = nullptr;
    };
    /* Hopper: release the last query tile's dQ sums, then start the next
     * tile's copies (after the release, whose fence waits for every copy in
     * flight: none then). Done once this tile's first products are running;
     * on heads up to 64 wide (three blocks an SM), only once dS^T is whole,
     * when the sums' stores have landed and the fence is short (64 heads of
     * 20: 2.34 -> 2.21 ms; heads of 64 at two blocks were slower that way) */
    constexpr bool rel_late = HSP <= 64;
    auto release_then_load = [&](int i) {
        release();
        if (kt + i + QB - 1 < nt) load_q(i + QB - 1);
    };
    for (int qt = kt; qt < nt; qt++) {
        int t0 = qt * FL_TILE, i = qt - kt, buf = i % QB;
        const bf16 *Qs = QG + 2 * buf * TE, *Gs = Qs + TE;
        const float *Ls = LD + 2 * buf * FL_TILE, *Ds = Ls + FL_TILE; /* lse (natural log), D */
        /* this tile; then the next one into the buffer the last iteration read */
        cp_async_wait<0>();
        if constexpr (WG) wg_publish();
        __syncthreads();
        if (!WG && qt + QB - 1 < nt) load_q(i + QB - 1);
        /* st = S^T, dp = (dO V^T)^T for the warp's keys x the tile's queries */
        float st[1][FL_NT][4], dp[1][FL_NT][4];
        if constexpr (WG) {
            wg_fence();
            wg_abt<HSP>(st[0], Ks, Qs);
            wg_commit();
            wg_abt<HSP>(dp[0], Vs, Gs);
            wg_commit();
            if (!rel_late) release_then_load(i);
            wg_wait<1>(); /* S^T; dP^T's products run on while P is worked out */
            wg_hold<FL_TILE>(st[0]);
        } else {
            if (qt == kt || HSP > 64) { /* wide heads: reloaded, rather than held past the registers */
                fl_frags<HSP>(kf[0], Ks, 16 * warp, lane);
                fl_frags<HSP>(vf[0], Vs, 16 * warp, lane);
            }
            fl_abt<HSP, 1>(st, kf, Qs, lane);
            fl_abt<HSP, 1>(dp, vf, Gs, lane);
            release();
        }
        /* st becomes P . mask, dp becomes dS = P (dP . mask - D); P is 0 past
         * the diagonal and past T, on the diagonal's tile and the last */
        /* the columns' lse (log2 units) and D, read where used (registers) */
        auto lse2 = [&](int n, int j) { return Ls[8 * n + c2 + j] * LOG2E; };
        auto Dq = [&](int n, int j) { return Ds[8 * n + c2 + j]; };
        if (qt == kt || t0 + FL_TILE > T) {
#pragma unroll
            for (int n = 0; n < FL_NT; n++)
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    int t = t0 + 8 * n + c2 + (j & 1);
                    st[0][n][j] = sr[j >> 1] <= t && t < T ? ex2_approx(fmaf(st[0][n][j], qmul, -lse2(n, j & 1))) : 0.0f;
                }
        } else {
#pragma unroll
            for (int n = 0; n < FL_NT; n++)
#pragma unroll
                for (int j = 0; j < 4; j++) st[0][n][j] = ex2_approx(fmaf(st[0][n][j], qmul, -lse2(n, j & 1)));
        }
        uint32_t pa[FL_NT / 2][4]; /* Hopper: P^T as A fragments, without dropout its dV products started at once */
        if (WG && !DROP) {
            wg_pack(pa, st[0]);
            wg_fence();
            wg_xb<HSP>(dv[0], pa, Gs);
            wg_commit();
            wg_wait<1>(); /* dP^T */
        } else if constexpr (WG) {
            wg_wait<0>();
        }
        if constexpr (WG) wg_hold<FL_TILE>(dp[0]);
        if constexpr (DROP) {
#pragma unroll
            for (int n = 0; n < FL_NT; n++)
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    float pu = st[0][n][j], mk = flash_mask(dr, bh, T, t0 + 8 * n + c2 + (j & 1), sr[j >> 1]);
                    dp[0][n][j] = pu * (dp[0][n][j] * mk - Dq(n, j & 1));
                    st[0][n][j] = pu * mk;
                }
        } else {
#pragma unroll
            for (int n = 0; n < FL_NT; n++)
#pragma unroll
                for (int j = 0; j < 4; j++) dp[0][n][j] = st[0][n][j] * (dp[0][n][j] - Dq(n, j & 1));
        }
        /* dS^T, rounded to bf16 as the products take it, for dQ */
#pragma unroll
        for (int n = 0; n < FL_NT; n++) {
            *(uint32_t *)(DS + fl_at<FL_TILE, WG>(16 * warp + g, 8 * n + c2)) = fl_pack(dp[0][n][0], dp[0][n][1]);
            *(uint32_t *)(DS + fl_at<FL_TILE, WG>(16 * warp + g + 8, 8 * n + c2)) = fl_pack(dp[0][n][2], dp[0][n][3]);
        }
        /* dV += (P . mask)^T dO, dK += dS^T Q (scaled at the end); then this
         * key tile's dQ of the tile's queries: dS (dS^T read transposed)
         * times K, warp w holding queries 16w.., added in key-tile order to
         * the sums the key tile after this one left (it is one query tile
         * ahead: its warp w has usually added them already) */
        unsigned *sw = sem + (size_t)qt * FL_WARPS, before = qt - kt; /* key tiles qt down to kt+1 */
        constexpr bool early = WG && HSP <= FL_EARLY_MAX; /* the sums read while dQ's products run */
        float4 *sum = dq_w + (size_t)qt * FL_WARPS * NB * 32, old[ND];
        float acc[ND][4];
        if constexpr (WG) {
            uint32_t sa[FL_NT / 2][4];
            if constexpr (DROP) wg_pack(pa, st[0]);
            wg_pack(sa, dp[0]);
            wg_fence();
            if constexpr (DROP) wg_xb<HSP>(dv[0], pa, Gs);
            wg_xb<HSP>(dk[0], sa, Qs);
            wg_commit();
            wg_publish();
            __syncthreads(); /* dS^T is whole */
            if (rel_late) release_then_load(i);
            constexpr uint32_t krow = HSP / 8 * 128, drow = FL_TILE / 8 * 128;
#pragma unroll
            for (int kc = 0; kc < FL_TILE / 16; kc++) {
                uint64_t da = wg_desc(DS + fl_at<FL_TILE, true>(16 * kc, 0), drow, 128);
                const bf16 *kb = Ks + fl_at<HSP, true>(16 * kc, 0);
#pragma unroll
                for (int n = 0; n < HSP; n += 64) {
                    uint64_t db = wg_desc(kb + n * 8, krow, 128);
                    if (HSP - n >= 64 && kc == 0) wg_mma_ss<64, 1, 1, false>(acc + n / 8, da, db);
                    else if (HSP - n >= 64) wg_mma_ss<64, 1, 1, true>(acc + n / 8, da, db);
                    else if (kc == 0) wg_mma_ss<32, 1, 1, false>(acc + n / 8, da, db);
                    else wg_mma_ss<32, 1, 1, true>(acc + n / 8, da, db);
                }
            }
            wg_commit();
            if (early && before > 0) { /* the sums so far read while the products run (wider: past the registers) */
                fl_sums_wait(sw, before, lane);
#pragma unroll
                for (int n = 0; n < ND; n++)
                    if (n < NB) old[n] = __ldcg(sum + 32 * n);
            }
            wg_wait<0>();
            wg_hold<HSP>(dv[0]);
            wg_hold<HSP>(dk[0]);
            wg_hold<HSP>(acc);
        } else {
            constexpr int P = HSP + 8, PD = FL_TILE + 8;
            fl_xb<HSP, 1>(dv, st, Gs, lane);
            fl_xb<HSP, 1>(dk, dp, Qs, lane);
            __syncthreads(); /* dS^T is whole */
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
        }
        if (before > 0) {
            if (!early) fl_sums_wait(sw, before, lane);
#pragma unroll
            for (int n = 0; n < ND; n++)
                if (n < NB) {
                    if (!early) old[n] = __ldcg(sum + 32 * n);
                    acc[n][0] += old[n].x, acc[n][1] += old[n].y, acc[n][2] += old[n].z, acc[n][3] += old[n].w;
                }
        }
        if (kt > 0) {
#pragma unroll
            for (int n = 0; n < ND; n++)
                if (n < NB) __stcg(sum + 32 * n, make_float4(acc[n][0], acc[n][1], acc[n][2], acc[n][3]));
        } else {
#pragma unroll
            for (int r = 0; r < 2; r++) {
                int t = t0 + 16 * warp + g + 8 * r;
                if (t < T) fl_store_row(dqkv + ((size_t)b * T + t) * stride + h * hs, acc, r, scale, hs, c2);
            }
        }
        if (kt > 0) /* said in the next iteration, by when the stores are done */
            rel = sw, relv = (unsigned)before + 1;
        __syncthreads(); /* this buffer and dS^T are read: the next iteration refills them */
    }
    release();
    /* dK and dV through the warp's own rows of K and V (the loop's last
     * barrier: nothing reads them now) */
    bf16 *dst = dqkv + (size_t)b * T * stride + h * hs;
    const float kmul[2] = { scale, scale }, vmul[2] = { 1.0f, 1.0f };
    fl_store_tile<HSP>(dst + C, stride, s0 + 16 * warp, T, hs, dk[0], kmul, Ks + fl_at<HSP, WG>(16 * warp, 0), lane);
    fl_store_tile<HSP>(dst + 2 * C, stride, s0 + 16 * warp, T, hs, dv[0], vmul, Vs + fl_at<HSP, WG>(16 * warp, 0), lane);
}

/* ---- launchers ---- */

static FlashDrop flash_drop(const KDrop *d)
{
    FlashDrop f = { 0, 0, 1.0f, 0 };
    if (d) f = { d->base, d->thresh, d->scale, 1 };
    return f;
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

template <int HSP, bool WG>
static void flash_forward_run(Kern *k, bf16 *out, float *lse, const bf16 *qkv, int B, int T, int NH, int hs,
                              const KDrop *drop)
{
    int BH = B * NH, BM = fwd_rows<HSP, WG>(), nq = (T + BM - 1) / BM;
    size_t bytes = kern_cuda_flash_smem(HSP, WG, 0);
    float qmul = LOG2E / sqrtf((float)hs);
    int vec = flash_vec(qkv, qkv, hs, NH * hs);
    auto kernel = drop ? flash_forward<HSP, WG, true> : flash_forward<HSP, WG, false>; /* dropout or not */
    cuda_allow_smem(kernel, bytes);
    kernel<<<(unsigned)((size_t)nq * BH), 32 * fwd_warps<WG>(), bytes, cuda_stream(k)>>>(out, lse, qkv, T, NH, hs,
                                                                                         qmul, vec, flash_drop(drop));
    LAUNCH_CHECK("flash_forward");
}

template <int HSP, bool WG>
static void flash_backward_run(Kern *k, bf16 *dqkv, const float *D, const bf16 *dout, const bf16 *qkv,
                               const float *lse, int B, int T, int NH, int hs, const KDrop *drop)
{
    int BH = B * NH, nt = (T + FL_TILE - 1) / FL_TILE;
    float scale = 1.0f / sqrtf((float)hs), qmul = scale * LOG2E;
    int vec = flash_vec(qkv, dout, hs, NH * hs);
    cudaStream_t s = cuda_stream(k);
    size_t nctr = kern_cuda_flash_counters(B, T, NH), bytes = kern_cuda_flash_smem(HSP, WG, 1);
    size_t all = kern_cuda_flash_scratch(B, T, NH * hs, NH), sums = kern_cuda_flash_sums(B, T, NH * hs, NH);
    char *scratch = (char *)cuda_scratch(k, all);
    unsigned *ctr = (unsigned *)scratch;
    float *dq = (float *)(scratch + all - sums); /* after the counters, as kern_cuda_flash_scratch lays them out */
    CUDA_CHECK(cudaMemsetAsync(ctr, 0, nctr * sizeof(unsigned), s));
    auto kernel = drop ? flash_backward<HSP, WG, true> : flash_backward<HSP, WG, false>; /* dropout or not */
    cuda_allow_smem(kernel, bytes);
    kernel<<<(unsigned)((size_t)nt * BH), FL_THREADS, bytes, s>>>(
        dqkv, dq, ctr, qkv, dout, lse, D, T, NH, hs, qmul, scale, vec, flash_drop(drop));
    LAUNCH_CHECK("flash_backward");
}

void cu_flash_forward(Kern *k, bf16 *out, float *lse, const bf16 *qkv, int B, int T, int C, int NH,
                      const KDrop *drop)
{
    int hs = C / NH;
    if (B < 1 || T < 1) return;
    bool wg = cuda_state(k)->flash_hopper;
    switch (flash_hsp(hs)) {
    case 32: (wg ? flash_forward_run<32, true> : flash_forward_run<32, false>)(k, out, lse, qkv, B, T, NH, hs, drop); break;
    case 64: (wg ? flash_forward_run<64, true> : flash_forward_run<64, false>)(k, out, lse, qkv, B, T, NH, hs, drop); break;
    case 96: (wg ? flash_forward_run<96, true> : flash_forward_run<96, false>)(k, out, lse, qkv, B, T, NH, hs, drop); break;
    case 128: (wg ? flash_forward_run<128, true> : flash_forward_run<128, false>)(k, out, lse, qkv, B, T, NH, hs, drop); break;
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
    /* wider: past the registers; mma.sync's spills less */
    bool wg = cuda_state(k)->flash_hopper && HSP <= KERN_CUDA_FLASH_WG_BWD_MAX;
    switch (HSP) {
    case 32: (wg ? flash_backward_run<32, true> : flash_backward_run<32, false>)(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    case 64: (wg ? flash_backward_run<64, true> : flash_backward_run<64, false>)(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    case 96: (wg ? flash_backward_run<96, true> : flash_backward_run<96, false>)(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    default: flash_backward_run<128, false>(k, dqkv, D, dout, qkv, lse, B, T, NH, hs, drop); break;
    }
}

/* 1 in *out where this build's code for the present GPU has Hopper's
 * warpgroup products (sm_90a), else 0. */
__global__ void flash_hopper_probe(int *out) { *out = FL_HOPPER; }

int cu_flash_hopper_available(void)
{
    int *d = NULL, h = 0;
    CUDA_CHECK(cudaMalloc(&d, sizeof *d));
    flash_hopper_probe<<<1, 1>>>(d);
    LAUNCH_CHECK("flash_hopper_probe");
    CUDA_CHECK(cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaFree(d));
    return h;
}
