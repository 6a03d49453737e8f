/* Error messages with their location. Formatting only: nothing here exits or prints,
 * except err_print, which a main calls once before it exits 1, and the warnings
 * (err_warn, and err_warn_summary at the end of a run). */
#include "err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *err_name(const char *path)
{
    return (!path || !strcmp(path, "-")) ? "<stdin>" : path;
}

static int vput(Err *e, size_t at, const char *fmt, va_list ap)
{
    if (at < sizeof e->msg) vsnprintf(e->msg + at, sizeof e->msg - at, fmt, ap);
    return -1;
}

int err_set(Err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vput(e, 0, fmt, ap);
    va_end(ap);
    return -1;
}

int err_code(Err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vput(e, 0, fmt, ap);
    va_end(ap);
    return code;
}

int err_at(Err *e, const char *path, uint64_t lineno, const char *fmt, ...)
{
    int n = snprintf(e->msg, sizeof e->msg, "%s:%" PRIu64 ": ", err_name(path), lineno);
    va_list ap;
    va_start(ap, fmt);
    vput(e, n < 0 ? 0 : (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

int err_off(Err *e, const char *path, uint64_t off_bytes, const char *fmt, ...)
{
    int n = snprintf(e->msg, sizeof e->msg, "%s: offset %" PRIu64 ": ", err_name(path), off_bytes);
    va_list ap;
    va_start(ap, fmt);
    vput(e, n < 0 ? 0 : (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

int err_sys(Err *e, const char *path, const char *what)
{
    int saved = errno;
    snprintf(e->msg, sizeof e->msg, "%s: %s: %s", err_name(path), what, strerror(saved));
    return -1;
}

void err_print(const char *prog, const Err *e)
{
    fprintf(stderr, "%s: %s\n", prog, e->msg);
}

static const char *warn_prog = "warning";
static uint64_t n_warned;

void err_prog(const char *prog) { warn_prog = prog; }

void err_warn(const Err *e)
{
    if (n_warned++ < ERR_WARN_SHOWN) fprintf(stderr, "%s: %s\n", warn_prog, e->msg);
    if (n_warned == ERR_WARN_SHOWN + 1)
        fprintf(stderr, "%s: (further warnings are counted, not shown)\n", warn_prog);
}

void err_warn_summary(void)
{
    uint64_t n = n_warned > ERR_WARN_SHOWN ? n_warned - ERR_WARN_SHOWN : 0;
    if (n) fprintf(stderr, "%s: %" PRIu64 " more warning%s not shown\n", warn_prog, n, n == 1 ? "" : "s");
    n_warned = n_warned < ERR_WARN_SHOWN ? n_warned : ERR_WARN_SHOWN; /* said once */
}
