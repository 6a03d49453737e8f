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

#endif
