/* The pool: workers sleep on a condition variable between jobs and take task
 * numbers from an atomic counter. The caller's thread works too (in gpool_run,
 * or in gpool_wait after a gpool_start). A job costs a broadcast and a wait,
 * tens of microseconds: the trainer runs a few hundred a step, so it is not
 * worth spinning. It knows nothing of BLAS: the model sizes it (model/poolsize.c). */
#include "gpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct PoolThread {
    struct GPool *pool;
    unsigned index; /* 1..n_threads-1 */
} PoolThread;

struct GPool {
    unsigned n_threads;
    pthread_t *tids;
    PoolThread *args;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned long gen;   /* bumped for each job */
    unsigned busy;       /* workers still in the current job */
    int quit;
    GPoolFn fn;          /* the job: fn, or tfn with the thread's number */
    GPoolThreadFn tfn;
    void *ctx;
    size_t n_tasks;
    atomic_size_t next;
};

static void work(GPool *p, unsigned thread)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n_tasks) return;
        if (p->tfn) p->tfn(p->ctx, i, thread);
        else p->fn(p->ctx, i);
    }
}

static void *worker(void *arg)
{
    PoolThread *t = arg;
    GPool *p = t->pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->quit) pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit) break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        work(p, t->index);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

GPool *gpool_new(unsigned n_threads)
{
    if (n_threads < 1) n_threads = 1;
    GPool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->tids = calloc(n_threads, sizeof *p->tids);
    p->args = calloc(n_threads, sizeof *p->args);
    if (!p->tids || !p->args) {
        p->n_threads = 1;
        gpool_free(p);
        return NULL;
    }
    for (unsigned i = 1; i < n_threads; i++) {
        p->args[i] = (PoolThread){ p, i };
        if (pthread_create(&p->tids[i], NULL, worker, &p->args[i])) {
            p->n_threads = i; /* stop the ones that started */
            gpool_free(p);
            return NULL;
        }
    }
    return p;
}

unsigned gpool_threads(const GPool *p) { return p->n_threads; }

/* Hand the job to the pool's threads; the caller then works too (work(p, 0))
 * and waits in wait_job. */
static void start_job(GPool *p, size_t n_tasks, GPoolFn fn, GPoolThreadFn tfn, void *ctx)
{
    p->fn = fn;
    p->tfn = tfn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    if (p->n_threads == 1 || n_tasks == 0) return; /* busy stays 0 */
    pthread_mutex_lock(&p->mu);
    p->busy = p->n_threads - 1;
    p->gen++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

static void wait_job(GPool *p)
{
    work(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->busy) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void gpool_run(GPool *p, size_t n_tasks, GPoolFn fn, void *ctx)
{
    if (n_tasks == 0) return;
    if (p->n_threads == 1 || n_tasks == 1) {
        for (size_t i = 0; i < n_tasks; i++) fn(ctx, i);
        return;
    }
    start_job(p, n_tasks, fn, NULL, ctx);
    wait_job(p);
}

void gpool_start(GPool *p, size_t n_tasks, GPoolThreadFn fn, void *ctx)
{
    start_job(p, n_tasks, NULL, fn, ctx);
}

void gpool_wait(GPool *p) { wait_job(p); }

void gpool_free(GPool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 1; i < p->n_threads; i++) pthread_join(p->tids[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->tids);
    free(p->args);
    free(p);
}
