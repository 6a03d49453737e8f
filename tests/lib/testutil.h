/* Small file helpers for the C tests: a scratch folder, writing and reading
 * whole files. Header-only; failures abort the test, they are not checks. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char scratch_dir[64];

/* A path in the test's scratch folder. The string lives in a ring of 8
 * buffers: keep a copy if it must outlive 8 more calls. */
static inline const char *scratch(const char *name)
{
    static char path[8][256];
    static int k;
    if (!scratch_dir[0]) {
        strcpy(scratch_dir, "/tmp/gptkit-test-XXXXXX");
        if (!mkdtemp(scratch_dir)) { perror("mkdtemp"); exit(2); }
    }
    k = (k + 1) % 8;
    snprintf(path[k], sizeof path[k], "%s/%s", scratch_dir, name);
    return path[k];
}

static inline void scratch_cleanup(void)
{
    if (!scratch_dir[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch_dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", scratch_dir);
}

static inline void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f)) { perror(path); exit(2); }
}

/* The whole file, NUL-terminated, caller frees; NULL when it does not exist. */
static inline char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0, k;
    char *p = malloc(cap + 1);
    while ((k = fread(p + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap) p = realloc(p, (cap *= 2) + 1);
    }
    fclose(f);
    p[len] = 0;
    if (n) *n = len;
    return p;
}

/* True when path exists, or any "path.tmp.*" left behind by a writer. */
static inline int file_or_temp_exists(const char *path)
{
    if (access(path, F_OK) == 0) return 1;
    char pat[4200];
    snprintf(pat, sizeof pat, "%s.tmp.*", path);
    glob_t g;
    int found = glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0;
    globfree(&g);
    return found;
}

#endif
