/* dist.h on MPI (OpenMPI; built with it where the Makefile finds it: then
 * GPTKIT_MPI is defined). Sums use MPI_Allreduce, whose reduction order for
 * a given number of ranks and length does not change from call to call. */
#include "dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef GPTKIT_MPI
#include <mpi.h>
#endif

/* The variables OpenMPI's mpirun, PMIx (srun --mpi=pmix) and PMI-1/2 set. */
int dist_launched(void)
{
    static const char *vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE" };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

int dist_init(Dist *d, Err *e)
{
    memset(d, 0, sizeof *d);
    d->size = d->local_size = 1;
    if (!dist_launched()) return 0;
#ifdef GPTKIT_MPI
    int ok = 0;
    MPI_Initialized(&ok);
    if (!ok && MPI_Init(NULL, NULL) != MPI_SUCCESS) return err_set(e, "MPI_Init failed");
    d->mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &d->local_rank);
    MPI_Comm_size(local, &d->local_size);
    MPI_Comm_free(&local);
    return 0;
#else
    return err_set(e, "started by an MPI launcher, but this build has no MPI (Debian: libopenmpi-dev, then rebuild)");
#endif
}

void dist_sum_floats(const Dist *d, float *x, size_t n)
{
#ifdef GPTKIT_MPI
    if (d->size < 2) return;
    /* in pieces: MPI counts are ints */
    for (size_t off = 0; off < n;) {
        size_t k = n - off < ((size_t)1 << 30) ? n - off : (size_t)1 << 30;
        MPI_Allreduce(MPI_IN_PLACE, x + off, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        off += k;
    }
#else
    (void)d, (void)x, (void)n;
#endif
}

void dist_bcast(const Dist *d, void *buf, size_t bytes)
{
#ifdef GPTKIT_MPI
    if (d->size > 1) MPI_Bcast(buf, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
#else
    (void)d, (void)buf, (void)bytes;
#endif
}

double dist_sum(const Dist *d, double x)
{
#ifdef GPTKIT_MPI
    if (d->size > 1) MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#else
    (void)d;
#endif
    return x;
}

void dist_gather(const Dist *d, uint64_t v, uint64_t *all)
{
#ifdef GPTKIT_MPI
    if (d->size > 1) {
        MPI_Allgather(&v, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
        return;
    }
#endif
    (void)d;
    all[0] = v;
}

double dist_sum_ordered(const Dist *d, double x)
{
#ifdef GPTKIT_MPI
    if (d->size > 1) {
        double *all = malloc((size_t)d->size * sizeof *all);
        if (!all) dist_abort(d, 1);
        MPI_Allgather(&x, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, MPI_COMM_WORLD);
        x = 0;
        for (int i = 0; i < d->size; i++) x += all[i];
        free(all);
    }
#else
    (void)d;
#endif
    return x;
}

void dist_slices(const Dist *d, size_t n, size_t *lo)
{
    for (int r = 0; r < d->size; r++) lo[r] = (size_t)((unsigned __int128)n * r / d->size) / 16 * 16;
    lo[d->size] = n;
}

#ifdef GPTKIT_MPI
/* MPI's counts and displacements are ints: slices past INT_MAX elements stop the run. */
static int *slice_counts(const Dist *d, const size_t *lo, int **displs)
{
    int *c = malloc(2 * (size_t)d->size * sizeof *c);
    if (!c) dist_abort(d, 1);
    *displs = c + d->size;
    for (int r = 0; r < d->size; r++) {
        if (lo[r + 1] > INT_MAX) {
            fprintf(stderr, "model: rank %d: --zero 1 slices past %d floats are not supported\n", d->rank, INT_MAX);
            dist_abort(d, 1);
        }
        c[r] = (int)(lo[r + 1] - lo[r]);
        (*displs)[r] = (int)lo[r];
    }
    return c;
}
#endif

void dist_sum_slice(const Dist *d, float *x, const size_t *lo)
{
#ifdef GPTKIT_MPI
    if (d->size < 2) return;
    int *displs, *counts = slice_counts(d, lo, &displs);
    /* in place: every rank's whole x in, this rank's sums at the start of x */
    MPI_Reduce_scatter(MPI_IN_PLACE, x, counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    memmove(x + lo[d->rank], x, (size_t)counts[d->rank] * sizeof *x);
    free(counts);
#else
    (void)d, (void)x, (void)lo;
#endif
}

void dist_share_slices(const Dist *d, float *x, const size_t *lo)
{
#ifdef GPTKIT_MPI
    if (d->size < 2) return;
    int *displs, *counts = slice_counts(d, lo, &displs);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, counts, displs, MPI_FLOAT, MPI_COMM_WORLD);
    free(counts);
#else
    (void)d, (void)x, (void)lo;
#endif
}

void dist_gather_slices(const Dist *d, const float *mine, float *all, const size_t *lo)
{
    if (d->rank == 0) memcpy(all + lo[0], mine, (lo[1] - lo[0]) * sizeof *all);
#ifdef GPTKIT_MPI
    if (d->size < 2) return;
    int *displs, *counts = slice_counts(d, lo, &displs);
    if (d->rank == 0)
        MPI_Gatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, counts, displs, MPI_FLOAT, 0, MPI_COMM_WORLD);
    else
        MPI_Gatherv(mine, counts[d->rank], MPI_FLOAT, NULL, NULL, NULL, MPI_FLOAT, 0, MPI_COMM_WORLD);
    free(counts);
#endif
}

int dist_differs(const Dist *d, uint64_t v)
{
#ifdef GPTKIT_MPI
    if (d->size < 2) return 0;
    uint64_t *all = malloc((size_t)d->size * sizeof *all);
    if (!all) dist_abort(d, 1);
    dist_gather(d, v, all);
    int bad = 0;
    for (int i = 1; i < d->size && !bad; i++)
        if (all[i] != all[0]) bad = i;
    free(all);
    return bad;
#else
    (void)d, (void)v;
    return 0;
#endif
}

void dist_abort(const Dist *d, int code)
{
#ifdef GPTKIT_MPI
    if (d->mpi && d->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)d;
#endif
    exit(code);
}

void dist_finalize(Dist *d)
{
#ifdef GPTKIT_MPI
    if (d->mpi) MPI_Finalize();
#endif
    d->mpi = 0;
}
