/* Learning-rate schedules: linear warmup, then cosine or linear decay to
 * min_frac * lr, constant, or warmup-stable-decay (a linear decay over the
 * last decay_frac of the steps). Steps count from 0. */
#ifndef SCHED_H
#define SCHED_H

#include <stdint.h>

typedef enum { SCHED_COSINE, SCHED_LINEAR, SCHED_CONSTANT, SCHED_WSD } SchedKind;

typedef struct Sched {
    SchedKind kind;
    double lr, min_frac, decay_frac;
    uint64_t warmup, total; /* steps */
} Sched;

double sched_lr(const Sched *s, uint64_t step);
/* 0, or -1 when name is not one of cosine, linear, constant, wsd. */
int sched_parse(const char *name, SchedKind *kind);
const char *sched_name(SchedKind kind);

#endif
