/* The schedules of sched.h. Warmup follows llm.c: step s of w gets lr*(s+1)/w,
 * so the first step already moves. tests/model/ref_gpt2.py computes the same
 * numbers on its own for the parity test. */
#include "sched.h"

#include <math.h>
#include <string.h>

static const char *const names[] = { "cosine", "linear", "constant", "wsd" };

double sched_lr(const Sched *s, uint64_t step)
{
    double lo = s->lr * s->min_frac;
    if (step < s->warmup) return s->lr * (double)(step + 1) / (double)s->warmup;
    if (s->kind == SCHED_CONSTANT) return s->lr;
    uint64_t start = s->warmup;
    if (s->kind == SCHED_WSD) {
        uint64_t decay = (uint64_t)ceil(s->decay_frac * (double)s->total);
        if (s->total > decay && s->total - decay > start) start = s->total - decay;
        if (step < start) return s->lr;
    }
    if (s->total <= start + 1) return lo;
    double progress = (double)(step - start) / (double)(s->total - 1 - start);
    if (progress > 1.0) progress = 1.0;
    if (s->kind == SCHED_COSINE) return lo + 0.5 * (1.0 + cos(M_PI * progress)) * (s->lr - lo);
    return s->lr - (s->lr - lo) * progress;
}

int sched_parse(const char *name, SchedKind *kind)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i])) {
            *kind = (SchedKind)i;
            return 0;
        }
    return -1;
}

const char *sched_name(SchedKind kind) { return names[kind]; }
