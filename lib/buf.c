/* Growable byte buffer: nothing but reserve/append/free, and the huge-page
 * hint for big blocks. */
#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int buf_reserve(Buf *b, size_t extra)
{
    if (b->cap - b->len >= extra) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        if (cap > ((size_t)-1) / 2) return -1;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) return -1;
    b->data = p;
    b->cap = cap;
    buf_advise_huge(p, cap);
    return 0;
}

int buf_append(Buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n)) return -1;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void buf_free(Buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_advise_huge(void *p, size_t n_bytes)
{
#ifdef MADV_HUGEPAGE
    if (n_bytes < BUF_HUGE_MIN) return;
    /* The pages p[0..n_bytes) touches, whole: malloc (glibc past its mmap
     * threshold) maps a block this big on its own, so these are its mapping,
     * which stays one piece: realloc can still move it with mremap, where
     * advice on a part would split it and make realloc copy. */
    const uintptr_t page = 4096;
    uintptr_t a = (uintptr_t)p & ~(page - 1), b = ((uintptr_t)p + n_bytes + page - 1) & ~(page - 1);
    (void)madvise((void *)a, b - a, MADV_HUGEPAGE); /* a hint: its failure changes nothing */
#else
    (void)p, (void)n_bytes;
#endif
}
