/* The pool: workers sleep on a condition variable between runs and take task
 * numbers from an atomic counter. The caller's thread works too. A run costs
 * a broadcast and a wait, tens of microseconds: the trainer calls it a few
 * hundred times a step, so it is not worth spinning. The pool's threads call
 * OpenBLAS, so gpool_size keeps it within the threads OpenBLAS was built for. */
#include "gpool.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct GPool {
    unsigned n_threads;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned long gen;   /* bumped for each run */
    unsigned busy;       /* workers still in the current run */
    int quit;
    GPoolFn fn;
    void *ctx;
    size_t n_tasks;
    atomic_size_t next;
};

static void work(GPool *p)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n_tasks) return;
        p->fn(p->ctx, i);
    }
}

static void *worker(void *arg)
{
    GPool *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->quit) pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit) break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        work(p);
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
    if (!p->tids) {
        free(p);
        return NULL;
    }
    for (unsigned i = 1; i < n_threads; i++)
        if (pthread_create(&p->tids[i], NULL, worker, p)) {
            p->n_threads = i; /* stop the ones that started */
            gpool_free(p);
            return NULL;
        }
    return p;
}

unsigned gpool_threads(const GPool *p) { return p->n_threads; }

void gpool_run(GPool *p, size_t n_tasks, GPoolFn fn, void *ctx)
{
    if (n_tasks == 0) return;
    if (p->n_threads == 1 || n_tasks == 1) {
        for (size_t i = 0; i < n_tasks; i++) fn(ctx, i);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    p->busy = p->n_threads - 1;
    p->gen++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    work(p);
    pthread_mutex_lock(&p->mu);
    while (p->busy) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

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
    free(p);
}

/* Older OpenBLAS builds do not name their limit; 64 is Debian's, and the
 * default of OpenBLAS's own Makefile on a machine of up to 64 cores. */
#define BLAS_LIMIT_UNSAID 64u

unsigned gpool_blas_limit(void)
{
    const char *cfg = openblas_get_config();
    const char *at = cfg ? strstr(cfg, "MAX_THREADS=") : NULL;
    if (!at) return BLAS_LIMIT_UNSAID;
    unsigned long n = strtoul(at + strlen("MAX_THREADS="), NULL, 10);
    return n >= 1 && n <= 1u << 20 ? (unsigned)n : BLAS_LIMIT_UNSAID;
}

unsigned gpool_size(unsigned asked, unsigned cores)
{
    unsigned n = asked ? asked : cores, limit = gpool_blas_limit();
    if (n < 1) n = 1;
    return n < limit ? n : limit;
}
