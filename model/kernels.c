/* What every backend shares: freeing one, and the size of its working
 * precision. The backends themselves are kern_cpu.c and cuda/. */
#include "kernels.h"

#include <stdio.h>
#include <string.h>

void kern_free(Kern *k)
{
    if (!k || !k->ops) return;
    if (k->ops->free) k->ops->free(k);
    k->ops = NULL;
    k->impl = NULL;
}

size_t kern_x_bytes(const Kern *k) { return k->prec == PREC_BF16 ? 2 : 4; }

/* A GPU trains in bf16 unless told otherwise (float32 master weights and
 * moments, float32 sums); the CPU has float32 only. */
#define GPU_DEFAULT_PREC PREC_BF16

int kern_open(Kern *k, int device, int prec, GPool *pool, Err *e)
{
    memset(k, 0, sizeof *k);
    if (prec == PREC_BF16 && !kern_would_use_gpu(device))
        return err_set(e, "--precision bf16 runs on a GPU only (--device cuda); the CPU trains in fp32");
    if (device == KERN_CUDA) {
#ifdef GPTKIT_CUDA
        return kern_cuda_init(k, prec < 0 ? GPU_DEFAULT_PREC : (KernPrec)prec, pool, e);
#else
        return err_set(e, "--device cuda: this build has no CUDA backend (install the CUDA toolkit, 12 or "
                          "newer, so that nvcc is on PATH, then run make again)");
#endif
    }
#ifdef GPTKIT_CUDA
    if (device < 0 && kern_cuda_visible()) return kern_cuda_init(k, prec < 0 ? GPU_DEFAULT_PREC : (KernPrec)prec, pool, e);
#endif
    return kern_cpu_init(k, pool, e);
}

int kern_gpu_for_rank(int local_rank, int local_size, Err *e)
{
#ifdef GPTKIT_CUDA
    return kern_cuda_for_rank(local_rank, local_size, e);
#else
    (void)local_rank, (void)local_size, (void)e;
    return 0;
#endif
}

int kern_would_use_gpu(int device)
{
#ifdef GPTKIT_CUDA
    return device == KERN_CUDA || (device < 0 && kern_cuda_visible());
#else
    (void)device;
    return 0;
#endif
}

const char *kern_describe(const Kern *k, char *buf, size_t n)
{
    if (k->device == KERN_CPU) snprintf(buf, n, "cpu, fp32");
    else snprintf(buf, n, "cuda (%s), %s", k->name[0] ? k->name : "GPU", k->prec == PREC_BF16 ? "bf16" : "fp32");
    return buf;
}
