/* kernels.h's ranks_* on NCCL: the ranks of a run (one GPU each, on one
 * machine or several) sum their gradients on the devices, on the backend's
 * stream. Built with NCCL where the Makefile finds nccl.h (GPTKIT_NCCL);
 * without it the ops stay NULL and the trainer says what is missing. */
#include "common.cuh"

#include <stdio.h>
#include <string.h>

extern "C" int kern_cuda_for_rank(int local_rank, int local_size, Err *e)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) {
        cudaGetLastError();
        return 0; /* kern_open says that no GPU is visible, where one is asked for */
    }
    if (n == 1) return 0; /* each rank was given its own, or NCCL refuses two ranks on one */
    if (n < local_size)
        return err_set(e, "%d ranks on this machine but %d GPUs visible: one rank a GPU (mpirun -np %d, or "
                          "CUDA_VISIBLE_DEVICES naming one GPU a rank)", local_size, n, n);
    CUDA_CHECK(cudaSetDevice(local_rank));
    return 0;
}

#ifdef GPTKIT_NCCL
#include <nccl.h>

static_assert(sizeof(ncclUniqueId) == KERN_RANKS_ID_BYTES, "kernels.h's KERN_RANKS_ID_BYTES is NCCL's id");

/* NCCL failures inside a step are not recoverable: name the call and stop
 * (the launcher then stops the other ranks). */
#define NCCL_CHECK(call)                                                                          \
    do {                                                                                          \
        ncclResult_t r_ = (call);                                                                 \
        if (r_ != ncclSuccess) cuda_fail(ncclGetErrorString(r_), #call, __FILE__, __LINE__);      \
    } while (0)

struct Ranks {
    ncclComm_t comm;
    cudaEvent_t t0, t1;
};

int cu_ranks_id(Kern *k, void *id, Err *e)
{
    (void)k;
    ncclUniqueId u;
    ncclResult_t r = ncclGetUniqueId(&u);
    if (r != ncclSuccess) return err_set(e, "NCCL: cannot make the ranks' id: %s", ncclGetErrorString(r));
    memcpy(id, &u, sizeof u);
    return 0;
}

int cu_ranks_open(Kern *k, int rank, int size, const void *id, Err *e)
{
    CudaState *st = cuda_state(k);
    Ranks *rk = (Ranks *)calloc(1, sizeof *rk);
    if (!rk) return err_set(e, "out of memory");
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    ncclResult_t r = ncclCommInitRank(&rk->comm, size, u, rank);
    if (r != ncclSuccess) {
        free(rk);
        int dev = -1;
        cudaGetDevice(&dev);
        return err_set(e, "NCCL: rank %d of %d (GPU %d) cannot join the others: %s%s%s", rank, size, dev,
                       ncclGetErrorString(r), ncclGetLastError(NULL)[0] ? ": " : "", ncclGetLastError(NULL));
    }
    CUDA_CHECK(cudaEventCreate(&rk->t0));
    CUDA_CHECK(cudaEventCreate(&rk->t1));
    st->ranks = rk;
    return 0;
}

/* The collectives' timing: start() once this rank's work before them is
 * done, so that the time is theirs alone (the wait for a slower rank
 * included); finish() waits for them and returns the seconds. */
static Ranks *start(CudaState *st)
{
    CUDA_CHECK(cudaStreamSynchronize(st->stream));
    CUDA_CHECK(cudaEventRecord(st->ranks->t0, st->stream));
    return st->ranks;
}

static double finish(CudaState *st)
{
    Ranks *rk = st->ranks;
    CUDA_CHECK(cudaEventRecord(rk->t1, st->stream));
    CUDA_CHECK(cudaEventSynchronize(rk->t1));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, rk->t0, rk->t1));
    return ms / 1e3;
}

double cu_ranks_sum(Kern *k, float *x, size_t n)
{
    CudaState *st = cuda_state(k);
    Ranks *rk = start(st);
    NCCL_CHECK(ncclAllReduce(x, x, n, ncclFloat, ncclSum, rk->comm, st->stream));
    return finish(st);
}

/* Slices of unequal lengths (dist_slices cuts at multiples of 16), so not
 * ncclReduceScatter / ncclAllGather, which take equal ones: one Reduce or
 * Broadcast a slice, rooted at its rank, in one group. */
double cu_ranks_sum_slices(Kern *k, float *x, const size_t *lo, int size)
{
    CudaState *st = cuda_state(k);
    Ranks *rk = start(st);
    NCCL_CHECK(ncclGroupStart());
    for (int r = 0; r < size; r++)
        NCCL_CHECK(ncclReduce(x + lo[r], x + lo[r], lo[r + 1] - lo[r], ncclFloat, ncclSum, r, rk->comm, st->stream));
    NCCL_CHECK(ncclGroupEnd());
    return finish(st);
}

double cu_ranks_share_slices(Kern *k, void *x, size_t elem, const size_t *lo, int size)
{
    CudaState *st = cuda_state(k);
    Ranks *rk = start(st);
    char *p = (char *)x;
    NCCL_CHECK(ncclGroupStart());
    for (int r = 0; r < size; r++)
        NCCL_CHECK(ncclBroadcast(p + lo[r] * elem, p + lo[r] * elem, (lo[r + 1] - lo[r]) * elem, ncclUint8, r,
                                 rk->comm, st->stream));
    NCCL_CHECK(ncclGroupEnd());
    return finish(st);
}

void cu_ranks_free(CudaState *st)
{
    Ranks *rk = st->ranks;
    if (!rk) return;
    ncclCommDestroy(rk->comm);
    cudaEventDestroy(rk->t0);
    cudaEventDestroy(rk->t1);
    free(rk);
    st->ranks = NULL;
}
#else
void cu_ranks_free(CudaState *st) { (void)st; }
#endif
