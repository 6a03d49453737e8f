/* dist: the ranks of one training run started by mpirun (or srun) on one or
 * more machines. Each rank trains its slice of every global batch and the
 * gradients are summed across ranks before the AdamW step, so every rank
 * holds the same weights; rank 0 writes the run folder. Nothing here knows
 * the device: the sums are of host memory (the CPU's gradients; GPU ranks sum
 * theirs on the devices, kernels.h's ranks_*, after an id handed out here
 * with dist_bcast). A process
 * not started by an MPI launcher (or a build without MPI) is one rank of
 * one, and none of these calls reaches MPI. */
#ifndef DIST_H
#define DIST_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct Dist {
    int rank, size;             /* this rank of size; 0 of 1 without a launcher */
    int local_rank, local_size; /* among the ranks of this machine */
    int mpi;                    /* MPI_Init was called */
    double timeout;             /* seconds a collective may wait for the other ranks; 0: for ever */
    struct DistWait *wait;      /* dist.c's: the ranks' arrival notes */
} Dist;

/* Every collective below waits at most d->timeout seconds (set it after
 * dist_init) for the other ranks: MPI itself has no timeout, so each is
 * started non-blocking and polled. Each rank first posts rank 0 a note of
 * the collective it reached; past the deadline rank 0 names the ranks whose
 * note never came ("rank 3 did not reach ...") and stops every rank, and the
 * other ranks stop too, a little later, should rank 0 be the one missing. */

/* Whether an MPI launcher started this process (its environment says so). */
int dist_launched(void);
/* Join the run's ranks when launched by one, else be rank 0 of 1. 0, or -1
 * with a message (launched, but this build has no MPI). */
int dist_init(Dist *d, Err *e);
/* x (n) = the sum over ranks of every rank's x, the same bits on every rank. */
void dist_sum_floats(const Dist *d, float *x, size_t n);
/* all (d->size) = every rank's v, in rank order, on every rank. */
void dist_gather(const Dist *d, uint64_t v, uint64_t *all);
/* buf (bytes) = rank 0's buf on every rank. */
void dist_bcast(const Dist *d, void *buf, size_t bytes);
/* The sum over ranks of x. */
double dist_sum(const Dist *d, double x);
/* The sum over ranks of x, added in rank order: the same bits on every rank. */
double dist_sum_ordered(const Dist *d, double x);

/* ZeRO-1: n elements cut into d->size slices, rank r's [lo[r], lo[r+1])
 * (lo has size + 1 entries, lo[size] = n), cut at multiples of 16. */
void dist_slices(const Dist *d, size_t n, size_t *lo);
/* x (lo[size]) summed over ranks, into this rank's slice of x only (the rest
 * is left undefined): MPI_Reduce_scatter. */
void dist_sum_slice(const Dist *d, float *x, const size_t *lo);
/* Every rank's slice of x into every rank's x (MPI_Allgatherv). */
void dist_share_slices(const Dist *d, float *x, const size_t *lo);
/* Every rank's slice (mine: its lo[r+1] - lo[r] elements) into rank 0's all
 * (lo[size] elements; NULL on the other ranks): MPI_Gatherv. Rank 0's mine
 * may be its own slice of all. */
void dist_gather_slices(const Dist *d, const float *mine, float *all, const size_t *lo);
/* 0 when every rank passed the same v, else the first rank (from 1) whose v
 * differs from rank 0's. */
int dist_differs(const Dist *d, uint64_t v);
/* Stop every rank with exit status code (after this rank's message). */
void dist_abort(const Dist *d, int code) __attribute__((noreturn));
void dist_finalize(Dist *d);

#endif
