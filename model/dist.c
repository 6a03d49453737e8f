/* dist.h on MPI (OpenMPI; built with it where the Makefile finds it: then
 * GPTKIT_MPI is defined). Sums use MPI's reductions, whose order for a given
 * number of ranks and length does not change from call to call. Every
 * collective is started non-blocking and polled against d->timeout (dist_wait). */
#include "dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

#ifdef GPTKIT_MPI
enum { DIST_TAG_ARRIVED = 7 };

/* The arrival notes: each rank numbers the collectives it reaches (count)
 * and sends rank 0 that number before waiting in one; rank 0 keeps the
 * latest number of every rank (seen). */
struct DistWait {
    uint64_t count, sent;  /* this rank's: collectives reached; the number its last note carries */
    MPI_Request note;      /* that note, in flight (MPI_REQUEST_NULL: none) */
    uint64_t *seen;        /* rank 0's: the last number each rank sent */
};

/* Rank 0: every note that has come, into seen. */
static void take_notes(const Dist *d)
{
    struct DistWait *w = d->wait;
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, DIST_TAG_ARRIVED, MPI_COMM_WORLD, &flag, &st);
        if (!flag) return;
        uint64_t n;
        MPI_Recv(&n, 1, MPI_UINT64_T, st.MPI_SOURCE, DIST_TAG_ARRIVED, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (n > w->seen[st.MPI_SOURCE]) w->seen[st.MPI_SOURCE] = n;
    }
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Past the deadline in collective number n (what: its name): rank 0 names
 * the ranks whose note for it never came, then every rank is stopped. */
__attribute__((noreturn)) static void overdue(const Dist *d, uint64_t n, const char *what)
{
    struct DistWait *w = d->wait;
    if (d->rank == 0) {
        take_notes(d);
        char late[256] = "";
        size_t len = 0;
        int count = 0;
        for (int r = 1; r < d->size; r++) {
            if (w->seen[r] >= n) continue;
            if (count++ < 8 && len < sizeof late - 16)
                len += (size_t)snprintf(late + len, sizeof late - len, "%s%d", len ? ", " : "", r);
        }
        if (count)
            fprintf(stderr, "model: rank 0 of %d: rank%s %s%s did not reach %s within %g s (--rank-timeout): "
                    "stopped, hung or gone; stopping every rank\n", d->size, count > 1 ? "s" : "", late,
                    count > 8 ? ", ..." : "", what, d->timeout);
        else
            fprintf(stderr, "model: rank 0 of %d: %s did not finish within %g s (--rank-timeout), though every "
                    "rank reached it; stopping every rank\n", d->size, what, d->timeout);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    /* rank 0 names the late ones if it can: give it time to, then stop anyway */
    double until = now_s() + 10;
    while (now_s() < until) {
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
    fprintf(stderr, "model: rank %d of %d: %s did not finish within %g s (--rank-timeout), and rank 0 said "
            "nothing: rank 0 is late or gone; stopping every rank\n", d->rank, d->size, what, d->timeout);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1); /* MPI_Abort does not return */
}

/* This rank reached a collective: its note to rank 0 (the last one is done by
 * now, or will be: rank 0 takes notes in every collective). */
static uint64_t arrive(const Dist *d)
{
    struct DistWait *w = d->wait;
    w->count++;
    if (d->rank == 0) return w->count;
    MPI_Wait(&w->note, MPI_STATUS_IGNORE);
    w->sent = w->count;
    MPI_Isend(&w->sent, 1, MPI_UINT64_T, 0, DIST_TAG_ARRIVED, MPI_COMM_WORLD, &w->note);
    return w->count;
}

/* req (the collective numbered n, started after arrive) to its end, polled:
 * busy for the first millisecond, then every 100 microseconds. */
static void dist_wait(const Dist *d, uint64_t n, MPI_Request *req, const char *what)
{
    double t0 = now_s();
    for (long spins = 0;; spins++) {
        int done = 0;
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (done) break;
        if (d->rank == 0) take_notes(d);
        if (spins > 1000) {
            if (d->timeout > 0 && now_s() - t0 > d->timeout) overdue(d, n, what);
            struct timespec us = { 0, 100000 };
            nanosleep(&us, NULL);
        }
    }
    if (d->rank == 0) take_notes(d);
}
#endif

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
    if (!(d->wait = calloc(1, sizeof *d->wait)) || !(d->wait->seen = calloc((size_t)d->size, sizeof(uint64_t))))
        return err_set(e, "out of memory");
    d->wait->note = MPI_REQUEST_NULL;
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
        uint64_t no = arrive(d);
        MPI_Request req;
        MPI_Iallreduce(MPI_IN_PLACE, x + off, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req);
        dist_wait(d, no, &req, "the sum of the gradients");
        off += k;
    }
#else
    (void)d, (void)x, (void)n;
#endif
}

void dist_gather(const Dist *d, uint64_t v, uint64_t *all)
{
#ifdef GPTKIT_MPI
    if (d->size > 1) {
        uint64_t no = arrive(d);
        MPI_Request req;
        MPI_Iallgather(&v, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD, &req);
        dist_wait(d, no, &req, "the exchange of the ranks' settings");
        return;
    }
#endif
    (void)d;
    all[0] = v;
}

void dist_bcast(const Dist *d, void *buf, size_t bytes)
{
#ifdef GPTKIT_MPI
    if (d->size < 2) return;
    uint64_t no = arrive(d);
    MPI_Request req;
    MPI_Ibcast(buf, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD, &req);
    dist_wait(d, no, &req, "rank 0's broadcast");
#else
    (void)d, (void)buf, (void)bytes;
#endif
}

double dist_sum(const Dist *d, double x)
{
#ifdef GPTKIT_MPI
    if (d->size > 1) {
        uint64_t no = arrive(d);
        MPI_Request req;
        MPI_Iallreduce(MPI_IN_PLACE, &x, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &req);
        dist_wait(d, no, &req, "the sum of the losses");
    }
#else
    (void)d;
#endif
    return x;
}

double dist_sum_ordered(const Dist *d, double x)
{
#ifdef GPTKIT_MPI
    if (d->size > 1) {
        double *all = malloc((size_t)d->size * sizeof *all);
        if (!all) dist_abort(d, 1);
        uint64_t no = arrive(d);
        MPI_Request req;
        MPI_Iallgather(&x, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, MPI_COMM_WORLD, &req);
        dist_wait(d, no, &req, "the gradient norm's parts");
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
    uint64_t no = arrive(d);
    MPI_Request req;
    MPI_Ireduce_scatter(MPI_IN_PLACE, x, counts, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req);
    dist_wait(d, no, &req, "the sum of the gradients");
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
    uint64_t no = arrive(d);
    MPI_Request req;
    MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x, counts, displs, MPI_FLOAT, MPI_COMM_WORLD, &req);
    dist_wait(d, no, &req, "the exchange of the new weights");
    free(counts);
#else
    (void)d, (void)x, (void)lo;
#endif
}

void dist_gather_slices(const Dist *d, const float *mine, float *all, const size_t *lo)
{
    if (d->rank == 0 && mine != all + lo[0]) memcpy(all + lo[0], mine, (lo[1] - lo[0]) * sizeof *all);
#ifdef GPTKIT_MPI
    if (d->size < 2) return;
    int *displs, *counts = slice_counts(d, lo, &displs);
    uint64_t no = arrive(d);
    MPI_Request req;
    if (d->rank == 0)
        MPI_Igatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, counts, displs, MPI_FLOAT, 0, MPI_COMM_WORLD, &req);
    else
        MPI_Igatherv(mine, counts[d->rank], MPI_FLOAT, NULL, NULL, NULL, MPI_FLOAT, 0, MPI_COMM_WORLD, &req);
    dist_wait(d, no, &req, "the gathering of the AdamW moments for a checkpoint");
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
    if (d->mpi) {
        if (d->wait) {
            MPI_Wait(&d->wait->note, MPI_STATUS_IGNORE);
            if (d->rank == 0) take_notes(d);
        }
        MPI_Finalize();
    }
    if (d->wait) free(d->wait->seen);
    free(d->wait);
    d->wait = NULL;
#endif
    d->mpi = 0;
}
