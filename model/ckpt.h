/* Checkpoint files, run/ckpt-STEP.bin (format in model/README.md): a header
 * (magic "GPTKCKPT", version, a JSON text with the config, options and
 * training state), then the weights and both AdamW moments as float32, then an
 * XXH3-64 checksum of everything before it. Written to a temporary name,
 * fsynced and renamed (lib's OutFile), so a crash leaves the old file whole. */
#ifndef CKPT_H
#define CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CKPT_MAGIC "GPTKCKPT"
#define CKPT_VERSION 1
/* The fixed header: magic 8, version 4, JSON length 4, n_params 8 bytes. The
 * JSON text starts at this offset (errors about it point there). */
#define CKPT_HEAD_BYTES 24

/* Test hook: when the environment variable GPTKIT_TEST_CKPT_PAUSE is set and
 * its value occurs in path, the writer stops for a minute after the weights,
 * with the file half-written, so that a test can kill it there. */
int ckpt_write(const char *path, const char *json, const float *params, const float *m,
               const float *v, size_t n_params, Err *e);

typedef struct CkptFile {
    const char *path; /* borrowed */
    char *json;       /* the header text, NUL-terminated */
    size_t n_params;
    uint64_t body_off;
    int fd;
} CkptFile;

/* Open and check magic, version and size; read the header. Caller ends with ckpt_close(). */
int ckpt_open(CkptFile *c, const char *path, Err *e);
/* Read the three arrays (n_params each) and verify the checksum. */
int ckpt_read(CkptFile *c, float *params, float *m, float *v, Err *e); /* m, v NULL: skipped, still checked */
void ckpt_close(CkptFile *c);

#endif
