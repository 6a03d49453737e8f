/* libFuzzer's entry points for the target of targets.c named when it is built
 * (-DFUZZ_TARGET='"json"'; make fuzz-build, one binary a target). It checks
 * nothing itself: a property that does not hold (run() returns 1) becomes an
 * abort(), which libFuzzer reports and saves like any crash. Run it from the
 * repository's top folder: the data target reads tests/fuzz/corpus/. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#ifndef FUZZ_TARGET
#error "build with -DFUZZ_TARGET='\"name\"', a target of targets.c"
#endif

/* As in test_fuzz.c: a huge allocation returns NULL, as malloc would on a
 * machine without the memory, instead of ending the run: the readers'
 * out-of-memory paths are under test too. */
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=1024";
}

static const FuzzTarget *target;
static char scratch[4096]; /* the target's files: $TMPDIR/gptkit-fuzz-XXXXXX, one a process */

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static void rm_scratch(void)
{
    if (scratch[0]) nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The target's dictionary in libFuzzer's format (-dict=): one "token" a
 * line, with \\, \" and bytes outside printable ASCII as \xNN. */
static int write_dict(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "fuzz_%s: cannot write %s: %s\n", target->name, path, strerror(errno));
        return 1;
    }
    fprintf(f, "# fuzz_%s's dictionary (from tests/fuzz/targets.c)\n", target->name);
    for (const char *const *d = target->dict; d && *d; d++) {
        fputc('"', f);
        for (const unsigned char *s = (const unsigned char *)*d; *s; s++)
            if (*s == '\\' || *s == '"') fprintf(f, "\\%c", *s);
            else if (*s < 0x20 || *s > 0x7e) fprintf(f, "\\x%02X", *s);
            else fputc(*s, f);
        fputs("\"\n", f);
    }
    if (fclose(f)) {
        fprintf(stderr, "fuzz_%s: cannot write %s\n", target->name, path);
        return 1;
    }
    return 0;
}

/* Our one flag, -write_dict=FILE (write the dictionary and exit), is taken
 * out of argv before libFuzzer reads its own. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (size_t k = 0; k < fuzz_n_targets; k++)
        if (!strcmp(fuzz_targets[k].name, FUZZ_TARGET)) target = &fuzz_targets[k];
    if (!target) {
        fprintf(stderr, "fuzz: no target '%s' in targets.c\n", FUZZ_TARGET);
        exit(2);
    }
    for (int i = 1; i < *argc; i++)
        if (!strncmp((*argv)[i], "-write_dict=", 12)) exit(write_dict((*argv)[i] + 12));
    /* $TMPDIR, else /dev/shm where there is one: the targets' files (and the
     * library's fsyncs) stay in memory */
    const char *tmp = getenv("TMPDIR");
    struct stat st;
    if (!tmp || !*tmp)
        tmp = !stat("/dev/shm", &st) && S_ISDIR(st.st_mode) && !access("/dev/shm", W_OK) ? "/dev/shm" : "/tmp";
    snprintf(scratch, sizeof scratch, "%s/gptkit-fuzz-XXXXXX", tmp);
    if (!mkdtemp(scratch)) {
        fprintf(stderr, "fuzz_%s: mkdtemp %s: %s\n", target->name, scratch, strerror(errno));
        exit(1);
    }
    atexit(rm_scratch); /* a crash leaves it behind: run.sh gives each run its own $TMPDIR */
    if (target->setup && target->setup(scratch)) exit(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (target->run(data ? data : (const uint8_t *)"", n, scratch)) {
        fprintf(stderr, "fuzz_%s: a property does not hold (above)\n", target->name);
        abort();
    }
    return 0;
}
