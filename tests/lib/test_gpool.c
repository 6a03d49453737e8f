/* lib/gpool.c: gpool_run runs every task once; gpool_start hands a job to the
 * pool and returns while the caller does other work, gpool_wait takes tasks
 * on the caller's thread (number 0) and returns when all are done; thread
 * numbers stay below the pool's size; a job of no tasks and a pool of one
 * thread work; jobs follow each other on one pool. */
#include <stdatomic.h>
#include <stdlib.h>

#include "check.h"
#include "gpool.h"

#define N_TASKS 10000

typedef struct Job {
    atomic_int runs[N_TASKS];
    unsigned thread_of[N_TASKS];
    unsigned n_threads;
    atomic_int bad_thread;
} Job;

static void task(void *ctx, size_t i)
{
    Job *j = ctx;
    atomic_fetch_add(&j->runs[i], 1);
}

static void thread_task(void *ctx, size_t i, unsigned thread)
{
    Job *j = ctx;
    if (thread >= j->n_threads) atomic_store(&j->bad_thread, 1);
    j->thread_of[i] = thread;
    atomic_fetch_add(&j->runs[i], 1);
}

static int all_once(Job *j, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (atomic_load(&j->runs[i]) != 1) return 0;
    return 1;
}

static void pool_of(unsigned n_threads)
{
    GPool *p = gpool_new(n_threads);
    CHECK(p != NULL);
    if (!p) return;
    CHECK_INT(n_threads, gpool_threads(p));
    Job *j = calloc(1, sizeof *j);
    j->n_threads = n_threads;
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < N_TASKS; i++) atomic_store(&j->runs[i], 0);
        gpool_run(p, N_TASKS, task, j);
        CHECK(all_once(j, N_TASKS));

        for (size_t i = 0; i < N_TASKS; i++) atomic_store(&j->runs[i], 0);
        gpool_start(p, N_TASKS, thread_task, j);
        volatile double busy = 0; /* the caller's own work meanwhile */
        for (int k = 0; k < 100000; k++) busy += k;
        gpool_wait(p);
        CHECK(all_once(j, N_TASKS));
        CHECK_INT(0, atomic_load(&j->bad_thread));
        if (n_threads == 1)
            for (size_t i = 0; i < N_TASKS; i++) CHECK_INT(0, j->thread_of[i]);

        gpool_start(p, 0, thread_task, j); /* nothing to do */
        gpool_wait(p);
        gpool_start(p, 1, thread_task, j);
        gpool_wait(p);
        CHECK_INT(2, atomic_load(&j->runs[0]));
    }
    free(j);
    gpool_free(p);
}

int main(void)
{
    pool_of(1);
    pool_of(2);
    pool_of(5);
    gpool_free(NULL);
    return check_done("test_gpool");
}
