/* Progress on stderr while a run works, and the one-line summary at its end.
 * Progress shows only when stderr is a terminal, unless the user forces it on
 * (--progress) or off (--quiet); --quiet also silences the summary. */
#ifndef PROGRESS_H
#define PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PROGRESS_AUTO, PROGRESS_ON, PROGRESS_QUIET } ProgressMode;

typedef struct Progress {
    const char *prog;
    int on, quiet, shown;
    double t0, t_next;
    uint64_t total; /* units of `done` for the percentage; 0: unknown */
    uint32_t calls;
} Progress;

double progress_now(void); /* seconds, monotonic */

void progress_start(Progress *p, const char *prog, ProgressMode mode, uint64_t total);
/* done: units of total (input bytes on disk); bytes: uncompressed bytes; items:
 * documents, tokens... named by `what`. Cheap to call per item: it looks at the
 * clock every 64 calls and redraws at most twice a second. */
void progress_update(Progress *p, uint64_t done, uint64_t bytes, uint64_t items, const char *what);
/* Clear the progress line. */
void progress_end(Progress *p);
/* "prog: <message>\n" on stderr unless quiet. */
void progress_summary(const Progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double progress_elapsed(const Progress *p);

/* v with an SI suffix for people: 1.24M, 3.5k, 2.00G, 12. */
void progress_si(char *out, size_t n, double v);

#endif
