/* A growable byte buffer. The owner frees with buf_free(); buf_free on a zeroed
 * Buf does nothing. Growth doubles, so appends are amortised O(1). */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>

typedef struct Buf {
    char *data;
    size_t len, cap;
} Buf;

/* Make room for `extra` more bytes past len. 0, or -1 when out of memory. */
int buf_reserve(Buf *b, size_t extra);
int buf_append(Buf *b, const void *p, size_t n);
static inline int buf_putc(Buf *b, char c)
{
    if (b->len == b->cap && buf_reserve(b, 1)) return -1;
    b->data[b->len++] = c;
    return 0;
}
void buf_free(Buf *b);

/* Below this, buf_advise_huge does nothing. */
#define BUF_HUGE_MIN ((size_t)16 << 20)

/* Ask the kernel to back p[0..n_bytes) with transparent huge pages, for a
 * block of at least BUF_HUGE_MIN bytes (a smaller one is left alone: a huge
 * page may hold up to 2 MB past what is used). A long document's buffers are
 * written once each, and a fault a 4 KB page cost about 10 us on our virtual
 * machines: 30,000 of them on a 60 MB line (bench/filter/long.sh). Only a
 * hint: where the kernel has no huge pages, nothing changes. buf_reserve
 * calls it itself. */
void buf_advise_huge(void *p, size_t n_bytes);

#endif
