/* dist: the ranks of one training run started by mpirun (or srun) on one or
 * more machines. Each rank trains its slice of every global batch and the
 * gradients are summed across ranks before the AdamW step, so every rank
 * holds the same weights; rank 0 writes the run folder. Nothing here knows
 * the device: the sums are of host memory (the CPU's gradients). A process
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
} Dist;

/* Whether an MPI launcher started this process (its environment says so). */
int dist_launched(void);
/* Join the run's ranks when launched by one, else be rank 0 of 1. 0, or -1
 * with a message (launched, but this build has no MPI). */
int dist_init(Dist *d, Err *e);
/* x (n) = the sum over ranks of every rank's x, the same bits on every rank. */
void dist_sum_floats(const Dist *d, float *x, size_t n);
/* The sum over ranks of x. */
double dist_sum(const Dist *d, double x);
/* 0 when every rank passed the same v, else the first rank (from 1) whose v
 * differs from rank 0's. */
int dist_differs(const Dist *d, uint64_t v);
/* Stop every rank with exit status code (after this rank's message). */
void dist_abort(const Dist *d, int code) __attribute__((noreturn));
void dist_finalize(Dist *d);

#endif
