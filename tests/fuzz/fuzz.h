/* The fuzzer's targets (targets.c) as its drivers see them: test_fuzz.c (ours,
 * built by gcc, run by make test) and libfuzzer.c (make fuzz). A target takes
 * one input, bytes, in libFuzzer's manner: no state kept from one input to
 * the next. Its seeds are the files of tests/fuzz/corpus/NAME/. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Inputs in memory: a target's corpus files, or what its make_seeds writes. */
typedef struct FuzzSeeds {
    Buf *v;
    size_t n, cap;
} FuzzSeeds;
/* Append a copy of p[0..n). 0, or -1 when out of memory. */
int fuzz_seed_add(FuzzSeeds *s, const void *p, size_t n);
/* Append the whole file at path. 0, or -1 (with a message on stderr). */
int fuzz_seed_file(FuzzSeeds *s, const char *path);

typedef struct FuzzTarget {
    const char *name;
    const char *what; /* a line for --list: the reader and what is checked */
    /* Seeds written by the library's own writers (binary formats), in the
     * scratch folder dir; NULL: none. test_fuzz --write-seeds saves them
     * into the corpus folder, once a format changes. 0, or -1 with a
     * message on stderr. */
    int (*make_seeds)(FuzzSeeds *seeds, const char *dir);
    /* Once, before the first input: files the target reads besides the input,
     * in dir; NULL: none. 0 or -1. */
    int (*setup)(const char *dir);
    const char *const *dict; /* tokens the mutator inserts, NULL-terminated */
    /* One input, written where the target needs it under dir. 0: fine (an
     * error the library reports properly is fine); 1: a property does not
     * hold, said on stderr. Crashes, hangs and sanitizer reports are the
     * driver's to see. */
    int (*run)(const uint8_t *data, size_t n, const char *dir);
    unsigned short_inputs; /* inputs in make test's round */
} FuzzTarget;

extern const FuzzTarget fuzz_targets[];
extern const size_t fuzz_n_targets;

#endif
