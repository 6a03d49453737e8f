/* Error reports that say where: "path:line: what" for text, "path: offset N: what"
 * for binary data. lib/ fills an Err and returns -1; only a main prints it. */
#ifndef ERR_H
#define ERR_H

#include <stdint.h>

typedef struct Err {
    char msg[1024];
} Err;

/* Each returns -1 so that `return err_at(...)` reads naturally. */
int err_set(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int err_at(Err *e, const char *path, uint64_t lineno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int err_off(Err *e, const char *path, uint64_t off_bytes, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* As err_set, but returns code: for functions that return an exit status
 * (1 data or I/O error, 2 bad usage) rather than 0/-1. */
int err_code(Err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "path: what: strerror(errno)"; call right after the failing libc call. */
int err_sys(Err *e, const char *path, const char *what);

/* The name a path is shown under: "-" and NULL are standard input/output. */
const char *err_name(const char *path);

/* main() prints "prog: msg" once, on stderr. */
void err_print(const char *prog, const Err *e);

/* Warnings about data a run goes on past (a skipped bad line): "prog: msg" on
 * stderr for the first ERR_WARN_SHOWN, then only counted. main() names the
 * program once with err_prog() and, once the run has returned (after its
 * summary, before any error), calls err_warn_summary(): "prog: N more warnings
 * not shown" when some were hidden, --quiet or not, as the warnings are (once:
 * a second call says nothing). */
#define ERR_WARN_SHOWN 20
void err_prog(const char *prog);
void err_warn(const Err *e);
void err_warn_summary(void);

#endif
