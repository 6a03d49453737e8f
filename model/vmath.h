/* Vector loops the trainer spends its non-BLAS time in: exp for softmax,
 * GELU and its derivative, scaling. AVX2+FMA when the CPU has it (chosen once,
 * at first use), plain C otherwise; both use the same Cephes polynomial for
 * exp (within 2 ulp of expf). Per machine the results are fixed, whatever -j. */
#ifndef VMATH_H
#define VMATH_H

#include <stddef.h>

/* Pick the code path for this CPU; call once before any thread uses the rest. */
void vm_init(void);

/* x[i] = exp(x[i] - shift); returns the sum of the new x (summed in 8 lanes,
 * then lane by lane, in a fixed order). */
float vm_exp_sum(float *x, size_t n, float shift);
float vm_max(const float *x, size_t n);
void vm_scale(float *x, size_t n, float a);
/* GELU, tanh form: out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
void vm_gelu(float *out, const float *in, size_t n);
/* d[i] *= GELU'(in[i]). */
void vm_gelu_backward(float *d, const float *in, size_t n);

#endif
