/* Character classes for custom alphabets (bpe train --classes FILE): which
 * characters make words, which may lead a word (like GPT-2's space), and which
 * sequences are units never split (an ARPAbet vowel and its stress digit). */
#ifndef CLASSES_H
#define CLASSES_H

#include <stddef.h>

#include "err.h"

typedef struct BpeClasses {
    char *regex;  /* the pre-tokenizer pattern the classes compile to */
    char **units; /* (n_units) NUL-terminated, in file order */
    size_t n_units;
} BpeClasses;

/* Read path. Caller frees with bpe_classes_free(). */
int bpe_classes_load(const char *path, BpeClasses *c, Err *e);
void bpe_classes_free(BpeClasses *c);

#endif
