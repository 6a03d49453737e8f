/* The model pool's size within OpenBLAS's thread limit (poolsize.h). The
 * pool itself is lib/gpool.c, which knows nothing of BLAS. */
#include "poolsize.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

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
