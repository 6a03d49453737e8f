/* A mutation fuzzer without dependencies for the readers the programs share
 * (targets.c): the committed corpus files, then mutations of them (input i a
 * function of seed, target, corpus and i only), in child processes a batch at
 * a time; a failing batch is rerun an input at a time and the culprit saved.
 * make test runs its short round, which replays every corpus and crasher file;
 * make fuzz runs the same targets under libFuzzer (libfuzzer.c, README.md). */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "hash.h"

#define MAX_BYTES (64u << 10)
#define ROOT "tests/fuzz"

/* Under AddressSanitizer a huge allocation returns NULL, as malloc would on
 * a machine without the memory, instead of ending the run: the readers'
 * out-of-memory paths are under test too. (Unused without ASan.) */
__attribute__((used)) const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=1024";
}

typedef struct Run {
    const FuzzTarget *t;
    FuzzSeeds seeds;    /* the files of ROOT/corpus/NAME/, in name order */
    char **seed_names;  /* their names */
    size_t n_seed_names;
    char dir[4096];  /* scratch folder: the target writes its input files here */
    uint64_t seed;
    const char *crashes;
    unsigned n_failed;
} Run;

/* ---- making input i */

static uint64_t rnd(uint64_t *st, uint64_t n) { return n ? splitmix64(st) % n : 0; }

static const uint64_t edge_ints[] = { 0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 1023, 1024,
                                      4095, 4096, 32767, 32768, 65535, 65536, 0x7fffffff, 0x80000000, 0xffffffff,
                                      0x100000000ull, 0x7fffffffffffffffull, ~0ull };
static const unsigned char edge_bytes[] = { 0, 1, 0x7f, 0x80, 0xff, 0xc0, 0xed, 0xf4, '"', '\\', '{', '}', '[', ']',
                                            ',', ':', '\n', '\r', ' ', '\t', 'u', '0', '9', '-', '.', 'e', '=' };

static void put(Buf *b, size_t at, const void *p, size_t n)
{
    if (!n || buf_reserve(b, n)) return; /* n 0: data may be NULL, which memmove must not get */
    memmove(b->data + at + n, b->data + at, b->len - at);
    memcpy(b->data + at, p, n);
    b->len += n;
}

static void cut(Buf *b, size_t at, size_t n)
{
    if (at + n > b->len) n = b->len - at;
    memmove(b->data + at, b->data + at + n, b->len - at - n);
    b->len -= n;
}

static void mutate(Buf *b, uint64_t *st, const Run *r)
{
    size_t n = b->len;
    switch (rnd(st, 11)) {
    case 0: /* flip a bit */
        if (n) b->data[rnd(st, n)] ^= (char)(1u << rnd(st, 8));
        break;
    case 1: /* an edge byte */
        if (n) b->data[rnd(st, n)] = (char)edge_bytes[rnd(st, sizeof edge_bytes)];
        break;
    case 2: { /* an edge integer (or the size, give or take one), 1 to 8 bytes, often aligned */
        size_t w = (size_t)1 << rnd(st, 4);
        if (n < w) break;
        uint64_t v = rnd(st, 4) ? edge_ints[rnd(st, sizeof edge_ints / sizeof *edge_ints)] : n + rnd(st, 3) - 1;
        if (rnd(st, 2)) v = 0 - v;
        size_t at = rnd(st, n - w + 1);
        if (rnd(st, 2)) at &= ~(w - 1);
        memcpy(b->data + at, &v, w); /* little-endian, as the formats */
        break;
    }
    case 3: /* cut a range */
        if (n) cut(b, rnd(st, n), 1 + rnd(st, rnd(st, 2) ? 8 : 256));
        break;
    case 4: { /* copy a range elsewhere */
        if (!n) break;
        size_t from = rnd(st, n), len = 1 + rnd(st, n - from < 256 ? n - from : 256);
        char tmp[256];
        memcpy(tmp, b->data + from, len);
        put(b, rnd(st, n + 1), tmp, len);
        break;
    }
    case 5: /* end early */
        b->len = rnd(st, n + 1);
        break;
    case 6: { /* a splice: this one's start, another seed's end */
        const Buf *o = &r->seeds.v[rnd(st, r->seeds.n)];
        size_t keep = rnd(st, n + 1), from = rnd(st, o->len + 1);
        b->len = keep;
        put(b, keep, o->data + from, o->len - from);
        break;
    }
    case 7: /* repeat a range */
        if (n) {
            size_t from = rnd(st, n), len = 1 + rnd(st, n - from < 64 ? n - from : 64), k = 2 + rnd(st, 200);
            char tmp[64];
            memcpy(tmp, b->data + from, len);
            for (size_t i = 0; i < k && b->len < MAX_BYTES; i++) put(b, from, tmp, len);
        }
        break;
    case 8: { /* random bytes */
        unsigned char tmp[8];
        size_t len = 1 + rnd(st, 8);
        for (size_t i = 0; i < len; i++) tmp[i] = (unsigned char)rnd(st, 256);
        put(b, rnd(st, n + 1), tmp, len);
        break;
    }
    default: { /* a token of the dictionary, inserted or over what is there */
        const char *const *d = r->t->dict;
        size_t k = 0;
        while (d && d[k]) k++;
        if (!k) break;
        const char *tok = d[rnd(st, k)];
        size_t len = strlen(tok), at = rnd(st, n + 1);
        if (rnd(st, 2) && at + len <= n) memcpy(b->data + at, tok, len);
        else put(b, at, tok, len);
    }
    }
    if (b->len > MAX_BYTES) b->len = MAX_BYTES;
}

/* Input i: the seeds themselves first, then mutations of them. */
static void make_input(const Run *r, uint64_t i, Buf *b)
{
    uint64_t st = r->seed ^ hash64(r->t->name, strlen(r->t->name), 0) ^ (i * 0x9e3779b97f4a7c15ull);
    const Buf *s = &r->seeds.v[i < r->seeds.n ? i : rnd(&st, r->seeds.n)];
    b->len = 0;
    if (s->len && buf_append(b, s->data, s->len)) return;
    if (i < r->seeds.n) return;
    unsigned k = rnd(&st, 4) ? 1 + (unsigned)rnd(&st, 3) : 1 + (unsigned)rnd(&st, 8);
    for (unsigned j = 0; j < k; j++) mutate(b, &st, r);
}

/* ---- running inputs in a child */

/* Inputs [from, to) in a child; its wait status (0: all fine). quiet: its
 * stderr (the readers' warnings) to /dev/null, for batches: a failing input
 * is run again alone, and says what it has to say then. */
static int child(const Run *r, uint64_t from, uint64_t to, unsigned timeout_s, int quiet)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("test_fuzz: fork");
        return -1;
    }
    if (pid == 0) {
        alarm(timeout_s);
        if (quiet && !freopen("/dev/null", "w", stderr)) exit(4);
#ifndef __SANITIZE_ADDRESS__
        /* a reader that asks for the moon gets NULL, as on a small machine */
        struct rlimit lim = { (rlim_t)2 << 30, (rlim_t)2 << 30 };
        setrlimit(RLIMIT_AS, &lim);
#endif
        Buf in = { 0 };
        for (uint64_t i = from; i < to; i++) {
            make_input(r, i, &in);
            if (r->t->run((const uint8_t *)(in.data ? in.data : ""), in.len, r->dir)) {
                fprintf(stderr, "    (%s input %llu)\n", r->t->name, (unsigned long long)i);
                buf_free(&in);
                exit(3);
            }
        }
        buf_free(&in);
        exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return st;
}

static void describe(int st, unsigned timeout_s, char *out, size_t n)
{
    if (st == -1) snprintf(out, n, "could not be run");
    else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) snprintf(out, n, "ran past %u s (a hang?)", timeout_s);
    else if (WIFSIGNALED(st)) snprintf(out, n, "died of signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else if (WEXITSTATUS(st) == 3) snprintf(out, n, "broke a property (above)");
    else snprintf(out, n, "exited %d (a sanitizer's report above?)", WEXITSTATUS(st));
}

static int mkdirs(const char *path)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) && errno != EEXIST) return -1;
            *s = '/';
        }
    return mkdir(p, 0755) && errno != EEXIST ? -1 : 0;
}

/* Input i failed alone with status st: say so and save it (a corpus file,
 * which is saved already: say which). */
static void failed(Run *r, uint64_t i, int st, unsigned timeout_s)
{
    char how[128], path[8192] = "";
    describe(st, timeout_s, how, sizeof how);
    r->n_failed++;
    if (i < r->seeds.n) {
        printf("test_fuzz: %s: the corpus file %s/corpus/%s/%s %s; test_fuzz --target %s --replay that file\n",
               r->t->name, ROOT, r->t->name, r->seed_names[i], how, r->t->name);
        return;
    }
    Buf in = { 0 };
    make_input(r, i, &in);
    char folder[4096];
    snprintf(folder, sizeof folder, "%s/%s", r->crashes ? r->crashes : "", r->t->name);
    if (r->crashes && !mkdirs(folder)) {
        snprintf(path, sizeof path, "%s/test_fuzz-s%llu-i%llu", folder, (unsigned long long)r->seed,
                 (unsigned long long)i);
        FILE *f = fopen(path, "wb");
        int bad = !f || (in.len && fwrite(in.data, 1, in.len, f) != in.len);
        if ((f && fclose(f)) || bad) path[0] = 0;
    }
    printf("test_fuzz: %s: input %llu (--seed %llu, %zu bytes) %s", r->t->name, (unsigned long long)i,
           (unsigned long long)r->seed, in.len, how);
    if (path[0]) printf("; saved as %s: test_fuzz --target %s --replay %s", path, r->t->name, path);
    printf("\n");
    buf_free(&in);
}

/* Inputs [from, to) in one child; when it fails, each alone. */
static void batch(Run *r, uint64_t from, uint64_t to)
{
    const unsigned batch_timeout = 120, one_timeout = 10;
    if (child(r, from, to, batch_timeout, 1) == 0) return;
    unsigned before = r->n_failed;
    for (uint64_t i = from; i < to && r->n_failed - before < 5; i++) {
        int st = child(r, i, i + 1, one_timeout, 0);
        if (st) failed(r, i, st, one_timeout);
    }
    if (r->n_failed == before) {
        r->n_failed++;
        printf("test_fuzz: %s: inputs %llu..%llu failed together but each passes alone (state kept between "
               "inputs?)\n",
               r->t->name, (unsigned long long)from, (unsigned long long)to - 1);
    }
}

/* ---- set up and tear down */

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }
static int not_hidden(const struct dirent *d) { return d->d_name[0] != '.'; }

/* The files of folder, sorted by name (the same inputs on every machine),
 * for the caller to free(), each and the array. 0 with *n 0 when there is no
 * folder; -1 (said on stderr) when it cannot be read. */
static int list_folder(const char *folder, char ***names, size_t *n)
{
    struct dirent **de;
    *names = NULL;
    *n = 0;
    int k = scandir(folder, &de, not_hidden, by_name);
    if (k < 0) {
        if (errno == ENOENT) return 0;
        fprintf(stderr, "test_fuzz: cannot read %s: %s\n", folder, strerror(errno));
        return -1;
    }
    int bad = !(*names = calloc((size_t)k + 1, sizeof **names));
    for (int i = 0; i < k; i++) {
        if (!bad && !((*names)[*n] = strdup(de[i]->d_name))) bad = 1;
        else if (!bad) ++*n;
        free(de[i]);
    }
    free(de);
    if (bad) fprintf(stderr, "test_fuzz: out of memory listing %s\n", folder);
    return bad ? -1 : 0;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* A scratch folder for the target's files: $TMPDIR, else /dev/shm where
 * there is one (the targets' files, and the library's fsyncs, stay in
 * memory). 0 or -1. */
static int make_scratch(char *dir, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    struct stat st;
    if (!tmp || !*tmp) tmp = !stat("/dev/shm", &st) && S_ISDIR(st.st_mode) && !access("/dev/shm", W_OK) ? "/dev/shm" : "/tmp";
    snprintf(dir, size, "%s/gptkit-fuzz-XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        perror("test_fuzz: mkdtemp");
        dir[0] = 0;
        return -1;
    }
    return 0;
}

static int run_init(Run *r, const FuzzTarget *t, uint64_t seed, const char *crashes)
{
    memset(r, 0, sizeof *r);
    r->t = t;
    r->seed = seed;
    r->crashes = crashes;
    if (make_scratch(r->dir, sizeof r->dir)) return -1;
    char folder[4096];
    snprintf(folder, sizeof folder, "%s/corpus/%s", ROOT, t->name);
    if (list_folder(folder, &r->seed_names, &r->n_seed_names)) return -1;
    for (size_t i = 0; i < r->n_seed_names; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", folder, r->seed_names[i]);
        if (fuzz_seed_file(&r->seeds, path)) return -1;
    }
    if (t->setup && t->setup(r->dir)) return -1;
    if (!r->seeds.n) {
        fprintf(stderr, "test_fuzz: %s: no seeds in %s (run from the repository's top folder)\n", t->name, folder);
        return -1;
    }
    return 0;
}

static void run_free(Run *r)
{
    if (r->dir[0]) nftw(r->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free_names(r->seed_names, r->n_seed_names);
    for (size_t i = 0; i < r->seeds.n; i++) buf_free(&r->seeds.v[i]);
    free(r->seeds.v);
}

static const FuzzTarget *find_target(const char *name)
{
    for (size_t k = 0; k < fuzz_n_targets; k++)
        if (!strcmp(fuzz_targets[k].name, name)) return &fuzz_targets[k];
    fprintf(stderr, "test_fuzz: no target '%s' (--list)\n", name);
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the modes */

/* Files given on the command line, in this process (for a debugger). */
static int replay_files(const FuzzTarget *t, char **files, int n)
{
    Run r;
    int bad = run_init(&r, t, 0, NULL);
    for (int k = 0; !bad && k < n; k++) {
        FuzzSeeds in = { 0 };
        if (fuzz_seed_file(&in, files[k])) bad = 1;
        else if (t->run((const uint8_t *)in.v[0].data, in.v[0].len, r.dir)) bad = 1;
        else printf("test_fuzz: %s: %s passes\n", t->name, files[k]);
        for (size_t i = 0; i < in.n; i++) buf_free(&in.v[i]);
        free(in.v);
    }
    run_free(&r);
    return bad;
}

/* Every input saved under tests/fuzz/crashers/TARGET/: the bugs found and
 * fixed, each in a child. Adds to *passed and *failed. */
static void regressions(const FuzzTarget *t, unsigned *passed, unsigned *failed)
{
    char folder[4096], **names;
    size_t n_names;
    snprintf(folder, sizeof folder, "%s/crashers/%s", ROOT, t->name);
    if (list_folder(folder, &names, &n_names)) {
        (*failed)++;
        return;
    }
    if (!n_names) {
        free_names(names, 0);
        return;
    }
    Run r;
    if (run_init(&r, t, 0, NULL)) {
        (*failed)++;
        free_names(names, n_names);
        run_free(&r);
        return;
    }
    for (size_t k = 0; k < n_names; k++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", folder, names[k]);
        FuzzSeeds in = { 0 };
        if (fuzz_seed_file(&in, path)) {
            (*failed)++;
            continue;
        }
        /* the saved input is this run's only seed, unmutated (input 0) */
        FuzzSeeds keep = r.seeds;
        r.seeds = in;
        int st = child(&r, 0, 1, 30, 0);
        r.seeds = keep;
        char how[128];
        describe(st, 30, how, sizeof how);
        if (st) printf("test_fuzz: %s: %s %s again\n", t->name, path, how);
        *(st ? failed : passed) += 1;
        for (size_t i = 0; i < in.n; i++) buf_free(&in.v[i]);
        free(in.v);
    }
    free_names(names, n_names);
    run_free(&r);
}

/* make_seeds' files (the binary formats, written by the library's writers)
 * into ROOT/corpus/TARGET/made-HASH: after a format changes, to commit. */
static int write_seeds(const FuzzTarget *only)
{
    int bad = 0;
    for (size_t k = 0; !bad && k < fuzz_n_targets; k++) {
        const FuzzTarget *t = &fuzz_targets[k];
        if ((only && only != t) || !t->make_seeds) continue;
        char dir[4096];
        FuzzSeeds s = { 0 };
        if (make_scratch(dir, sizeof dir)) return 1;
        bad = t->make_seeds(&s, dir) != 0;
        for (size_t i = 0; !bad && i < s.n; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/corpus/%s/made-%016llx", ROOT, t->name,
                     (unsigned long long)hash64(s.v[i].data, s.v[i].len, 0));
            FILE *f = fopen(path, "wb");
            bad = !f || (s.v[i].len && fwrite(s.v[i].data, 1, s.v[i].len, f) != s.v[i].len);
            if (f && fclose(f)) bad = 1;
            if (bad) fprintf(stderr, "test_fuzz: cannot write %s\n", path);
            else printf("test_fuzz: %s: %s (%zu bytes)\n", t->name, path, s.v[i].len);
        }
        for (size_t i = 0; i < s.n; i++) buf_free(&s.v[i]);
        free(s.v);
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    return bad;
}

static int usage(FILE *f, int code)
{
    fprintf(f, "usage: test_fuzz [--seconds S | --inputs N] [--seed N] [--target T] [--crashes DIR]\n"
               "       test_fuzz --target T --replay FILE...\n"
               "       test_fuzz --write-seeds [--target T]\n"
               "       test_fuzz --list\n"
               "Run from the repository's top folder. The first inputs of a target are the files of\n"
               ROOT "/corpus/TARGET/, in name order; the next, one of them mutated 1 to 8 times: bits\n"
               "flipped, bytes and integers set to edge values, ranges cut, copied and repeated, a splice\n"
               "with another seed, tokens of the target's dictionary. Input i of a target depends only on\n"
               "the seed, the target, its corpus and i.\n"
               "  (no option)    make test's round, seed 1: each target's corpus files, then its fixed\n"
               "                 number of mutated inputs, then every file under " ROOT "/crashers/TARGET/\n"
               "                 (bugs found and fixed), each in a child of its own\n"
               "  --seconds S    the targets in turn (S/targets, at most 5 s, each) for S seconds\n"
               "  --inputs N     the corpus and N mutated inputs of each target\n"
               "  --seed N       another sequence of inputs (default 1)\n"
               "  --target T     only this one (--list names them)\n"
               "  --crashes DIR  failing inputs go to DIR/TARGET/ (default $BUILD/fuzz/crashes, else\n"
               "                 build/fuzz/crashes)\n"
               "  --replay FILE  run saved inputs in this process (for a debugger), with --target\n"
               "  --write-seeds  write the seeds the library's writers make (the binary formats) into\n"
               "                 " ROOT "/corpus/TARGET/made-HASH, to commit after a format changes\n"
               "Inputs run in child processes a batch at a time; a crash, a sanitizer's report, a hang\n"
               "(an alarm) or a property that does not hold fails the batch, whose inputs then run one\n"
               "by one to find and save the culprit. Children exit(): LeakSanitizer checks each.\n");
    return code;
}

int main(int argc, char **argv)
{
    double seconds = 0;
    unsigned long long inputs = 0, seed = 1;
    const FuzzTarget *only = NULL;
    const char *crashes = NULL;
    int replay = 0, seeds_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout, 0);
        else if (!strcmp(a, "--list")) {
            for (size_t k = 0; k < fuzz_n_targets; k++) printf("%-9s %s\n", fuzz_targets[k].name, fuzz_targets[k].what);
            return 0;
        } else if (!strcmp(a, "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(a, "--inputs") && i + 1 < argc) inputs = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--crashes") && i + 1 < argc) crashes = argv[++i];
        else if (!strcmp(a, "--write-seeds")) seeds_only = 1;
        else if (!strcmp(a, "--target") && i + 1 < argc) {
            if (!(only = find_target(argv[++i]))) return 2;
        } else if (!strcmp(a, "--replay")) {
            replay = i + 1;
            break;
        } else return usage(stderr, 2);
    }
    if (replay) {
        if (!only || replay >= argc) return usage(stderr, 2);
        return replay_files(only, argv + replay, argc - replay);
    }
    if (seeds_only) return write_seeds(only);
    char default_crashes[4096];
    if (!crashes) {
        const char *build = getenv("BUILD");
        snprintf(default_crashes, sizeof default_crashes, "%s/fuzz/crashes", build && *build ? build : "build");
        crashes = default_crashes;
    }
    Run runs[16];
    size_t n_runs = 0;
    unsigned passed = 0, n_failed = 0;
    for (size_t k = 0; k < fuzz_n_targets && n_runs < 16; k++) {
        if (only && only != &fuzz_targets[k]) continue;
        if (run_init(&runs[n_runs], &fuzz_targets[k], seed, crashes)) {
            run_free(&runs[n_runs]);
            printf("test_fuzz: %s: cannot set up\n", fuzz_targets[k].name);
            n_failed++;
            continue;
        }
        n_runs++;
    }
    uint64_t done[16] = { 0 };
    double spent[16] = { 0 };
    const uint64_t per_batch = 250;
    if (seconds > 0) { /* the targets in turn, up to 5 s each, until the time is up: equal time, not inputs */
        double end = now() + seconds, slice = n_runs ? seconds / n_runs : seconds;
        if (slice > 5) slice = 5;
        while (now() < end)
            for (size_t k = 0; k < n_runs && now() < end; k++) {
                double t0 = now(), slice_end = t0 + slice < end ? t0 + slice : end;
                do {
                    batch(&runs[k], done[k], done[k] + per_batch);
                    done[k] += per_batch;
                } while (now() < slice_end);
                spent[k] += now() - t0;
            }
    } else {
        for (size_t k = 0; k < n_runs; k++) {
            uint64_t want = runs[k].seeds.n + (inputs ? inputs : runs[k].t->short_inputs);
            double t0 = now();
            for (uint64_t i = 0; i < want; i += per_batch) batch(&runs[k], i, i + per_batch < want ? i + per_batch : want);
            done[k] = want;
            spent[k] = now() - t0;
        }
    }
    for (size_t k = 0; k < n_runs; k++) {
        printf("test_fuzz: %-8s %8llu inputs (%zu corpus files, seed %llu) in %6.1f s, %6.0f a second: %u failed\n",
               runs[k].t->name, (unsigned long long)done[k], runs[k].seeds.n, seed, spent[k],
               spent[k] > 0 ? done[k] / spent[k] : 0.0, runs[k].n_failed);
        if (runs[k].n_failed) n_failed += runs[k].n_failed;
        else passed++;
        if (seconds <= 0 && !inputs) regressions(runs[k].t, &passed, &n_failed);
        run_free(&runs[k]);
    }
    printf("test_fuzz: %u passed, %u failed\n", passed, n_failed);
    return n_failed ? 1 : 0;
}
