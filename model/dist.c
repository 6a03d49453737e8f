/* dist.h on MPI (OpenMPI; built with it where the Makefile finds it: then
 * GPTKIT_MPI is defined). Sums use MPI_Allreduce, whose reduction order for
 * a given number of ranks and length does not change from call to call. */
#include "dist.h"

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

double dist_sum(const Dist *d, double x)
{
#ifdef GPTKIT_MPI
    if (d->size > 1) MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#else
    (void)d;
#endif
    return x;
}

int dist_differs(const Dist *d, uint64_t v)
{
#ifdef GPTKIT_MPI
    if (d->size < 2) return 0;
    uint64_t *all = malloc((size_t)d->size * sizeof *all);
    if (!all) dist_abort(d, 1);
    MPI_Allgather(&v, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
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
