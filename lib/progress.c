/* Progress line and summary. Redraws with '\r' in place; never writes to stdout. */
#include "progress.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_start(Progress *p, const char *prog, ProgressMode mode, uint64_t total)
{
    *p = (Progress){ .prog = prog, .total = total };
    p->quiet = mode == PROGRESS_QUIET;
    p->on = mode == PROGRESS_ON || (mode == PROGRESS_AUTO && isatty(2));
    p->t0 = progress_now();
    p->t_next = p->t0 + 0.5;
}

double progress_elapsed(const Progress *p) { return progress_now() - p->t0; }

void progress_update(Progress *p, uint64_t done, uint64_t bytes, uint64_t items, const char *what)
{
    if (!p->on || (++p->calls & 63)) return;
    double now = progress_now();
    if (now < p->t_next) return;
    p->t_next = now + 0.5;
    double secs = now - p->t0;
    char eta[64] = "";
    if (p->total && done <= p->total && done > 0) {
        double left = secs * (double)(p->total - done) / (double)done;
        snprintf(eta, sizeof eta, "  %5.1f%%  ETA %.0fs", 100.0 * (double)done / (double)p->total,
                 left);
    }
    fprintf(stderr, "\r%s: %" PRIu64 " %s, %.1f MB, %.1f MB/s, %.0f %s/s%s\033[K", p->prog, items,
            what, (double)bytes / 1e6, (double)bytes / 1e6 / secs, (double)items / secs, what, eta);
    p->shown = 1;
}

void progress_end(Progress *p)
{
    if (p->shown) fputs("\r\033[K", stderr);
    p->shown = 0;
}

void progress_summary(const Progress *p, const char *fmt, ...)
{
    if (p->quiet) return;
    fprintf(stderr, "%s: ", p->prog);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void progress_si(char *out, size_t n, double v)
{
    if (v >= 1e12) snprintf(out, n, "%.2fT", v / 1e12);
    else if (v >= 1e9) snprintf(out, n, "%.2fG", v / 1e9);
    else if (v >= 1e6) snprintf(out, n, "%.2fM", v / 1e6);
    else if (v >= 1e3) snprintf(out, n, "%.1fk", v / 1e3);
    else snprintf(out, n, "%.0f", v);
}
