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

/* The most threads of ours that may call OpenBLAS at once: the MAX_THREADS
 * its build was configured with (openblas_get_config(); Debian 12's 0.3.21
 * says 64), or 64 when it does not say. Past it OpenBLAS runs out of its
 * per-thread buffers and crashes (Debian's: a segfault from about -j 512). */
unsigned gpool_blas_limit(void);
/* The pool for -j asked (0: every one of the machine's cores), never more
 * than gpool_blas_limit(): on a machine with more cores the default stops
 * there (args.c refuses a larger -j with a message). */
unsigned gpool_size(unsigned asked, unsigned cores);

#endif
