/* Where a subcommand that runs the model (train, eval, sample, sweep,
 * lr-find, plan) runs it and in what working precision: --device cpu|cuda and
 * --precision fp32|bf16, parsed in args.c into its options' `dev`. Each is
 * DEVICE_AUTO unless given: the backend then picks (cuda when this build has
 * it and a GPU is visible, else cpu; bf16 on a GPU, fp32 on the CPU). */
#ifndef DEVICE_H
#define DEVICE_H

#include "kernels.h"

#define DEVICE_AUTO (-1)

typedef struct DeviceOpts {
    int device;       /* DEVICE_AUTO, KERN_CPU or KERN_CUDA */
    int prec;         /* DEVICE_AUTO, PREC_FP32 or PREC_BF16 */
    uint64_t mem_cap; /* model train --gpu-memory: bytes the GPU is taken to have; 0: its own */
} DeviceOpts;

/* Both automatic: for initializers, `.dev = DEVICE_OPTS_AUTO`. */
#define DEVICE_OPTS_AUTO { DEVICE_AUTO, DEVICE_AUTO, 0 }

#endif
