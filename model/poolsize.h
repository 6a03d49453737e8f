/* How many threads the model's pool (lib/gpool.h) may have: its threads call
 * OpenBLAS, which has a limit of its own. */
#ifndef POOLSIZE_H
#define POOLSIZE_H

#include "gpool.h"

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
