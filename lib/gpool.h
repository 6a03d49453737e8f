/* A small pthread pool: the model trainer's non-BLAS work and its matrix
 * products split into fixed tasks, and the document passes (lib/docpass.c).
 * Tasks are numbered 0..n-1 and handed out dynamically, so a task's result
 * must depend only on its number, never on which thread ran it: that is what
 * makes training byte-identical for any -j. */
#ifndef GPOOL_H
#define GPOOL_H

#include <stddef.h>

typedef void (*GPoolFn)(void *ctx, size_t task);
/* thread: 0 for the caller's thread, 1..n_threads-1 for the pool's; for
 * per-thread scratch state, never for the result */
typedef void (*GPoolThreadFn)(void *ctx, size_t task, unsigned thread);
typedef struct GPool GPool;

/* n_threads >= 1 (the caller's thread is one of them). NULL when out of
 * memory or threads cannot start. Caller frees with gpool_free(). */
GPool *gpool_new(unsigned n_threads);
/* Run fn(ctx, i) for i in [0, n_tasks) and return when all are done. */
void gpool_run(GPool *p, size_t n_tasks, GPoolFn fn, void *ctx);
/* Start fn(ctx, i, thread) for i in [0, n_tasks) on the pool's threads and
 * return at once: the caller does other work (reads the next batch), then
 * calls gpool_wait, which takes tasks on the caller's thread (thread 0) too
 * and returns when all are done. With one thread every task runs in
 * gpool_wait. One job at a time: no gpool_run or gpool_start before the
 * gpool_wait. */
void gpool_start(GPool *p, size_t n_tasks, GPoolThreadFn fn, void *ctx);
void gpool_wait(GPool *p);
unsigned gpool_threads(const GPool *p);
void gpool_free(GPool *p);

#endif
