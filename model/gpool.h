/* A small pthread pool for the trainer's non-BLAS work and for splitting
 * matrix products into fixed tasks. Tasks are numbered 0..n-1 and handed out
 * dynamically, so a task's result must depend only on its number, never on
 * which thread ran it: that is what makes training byte-identical for any -j. */
#ifndef GPOOL_H
#define GPOOL_H

#include <stddef.h>

typedef void (*GPoolFn)(void *ctx, size_t task);
typedef struct GPool GPool;

/* n_threads >= 1 (the caller's thread is one of them). NULL when out of
 * memory or threads cannot start. Caller frees with gpool_free(). */
GPool *gpool_new(unsigned n_threads);
/* Run fn(ctx, i) for i in [0, n_tasks) and return when all are done. */
void gpool_run(GPool *p, size_t n_tasks, GPoolFn fn, void *ctx);
unsigned gpool_threads(const GPool *p);
void gpool_free(GPool *p);

#endif
