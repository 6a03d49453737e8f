/* vmath.h's loops. exp: Cephes' expf (range reduction by ln 2, degree-5
 * polynomial, exponent bits), written once for 8 AVX2 lanes and once in C for
 * the tail and for CPUs without AVX2. Measured by bench/model: libm's expf and
 * tanhf in scalar loops were a quarter of a tiny model's step. */
#include "vmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#define EXP_HI 88.3762626647949f
#define EXP_LO -88.3762626647949f
#define LOG2E 1.44269504088896341f
#define C1 0.693359375f
#define C2 -2.12194440e-4f
#define P0 1.9875691500e-4f
#define P1 1.3981999507e-3f
#define P2 8.3334519073e-3f
#define P3 4.1665795894e-2f
#define P4 1.6666665459e-1f
#define P5 5.0000001201e-1f
#define GELU_K 0.7978845608028654f
#define GELU_A 0.044715f

static inline float exp1(float x)
{
    x = x > EXP_HI ? EXP_HI : x < EXP_LO ? EXP_LO : x;
    float fx = floorf(x * LOG2E + 0.5f);
    x = x - fx * C1 - fx * C2;
    float z = x * x;
    float y = ((((P0 * x + P1) * x + P2) * x + P3) * x + P4) * x + P5;
    y = y * z + x + 1.0f;
    int32_t e = ((int32_t)fx + 127) << 23;
    float s;
    memcpy(&s, &e, 4);
    return y * s;
}

static inline float tanh1(float u)
{
    if (u > 15.0f) return 1.0f;
    if (u < -15.0f) return -1.0f;
    return 1.0f - 2.0f / (exp1(2.0f * u) + 1.0f);
}

#ifdef HAVE_X86
#define AVX __attribute__((target("avx2,fma")))

AVX static inline __m256 exp8(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_LO)), _mm256_set1_ps(EXP_HI));
    __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(LOG2E), _mm256_set1_ps(0.5f)));
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(C1), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(C2), x);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 y = _mm256_set1_ps(P0);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(P1));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(P2));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(P3));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(P4));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(P5));
    y = _mm256_fmadd_ps(y, z, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

AVX static inline __m256 tanh8(__m256 u)
{
    u = _mm256_min_ps(_mm256_max_ps(u, _mm256_set1_ps(-15.0f)), _mm256_set1_ps(15.0f));
    __m256 e = exp8(_mm256_add_ps(u, u));
    return _mm256_sub_ps(_mm256_set1_ps(1.0f),
                         _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
}

AVX static float exp_sum_avx(float *x, size_t n, float shift)
{
    __m256 acc = _mm256_setzero_ps(), sh = _mm256_set1_ps(shift);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
        _mm256_storeu_ps(x + i, v);
        acc = _mm256_add_ps(acc, v);
    }
    float lanes[8], sum = 0.0f;
    _mm256_storeu_ps(lanes, acc);
    for (int k = 0; k < 8; k++) sum += lanes[k];
    for (; i < n; i++) sum += (x[i] = exp1(x[i] - shift));
    return sum;
}

AVX static float max_avx(const float *x, size_t n)
{
    __m256 m = _mm256_set1_ps(-INFINITY);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
    float lanes[8], r = -INFINITY;
    _mm256_storeu_ps(lanes, m);
    for (int k = 0; k < 8; k++) r = lanes[k] > r ? lanes[k] : r;
    for (; i < n; i++) r = x[i] > r ? x[i] : r;
    return r;
}

AVX static void scale_avx(float *x, size_t n, float a)
{
    __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), va));
    for (; i < n; i++) x[i] *= a;
}

AVX static void gelu_avx(float *out, const float *in, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(in + i);
        __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
        __m256 u = _mm256_mul_ps(_mm256_set1_ps(GELU_K), _mm256_fmadd_ps(x3, _mm256_set1_ps(GELU_A), x));
        __m256 t = tanh8(u);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x),
                                                _mm256_add_ps(_mm256_set1_ps(1.0f), t)));
    }
    for (; i < n; i++) {
        float x = in[i];
        out[i] = 0.5f * x * (1.0f + tanh1(GELU_K * (x + GELU_A * x * x * x)));
    }
}

AVX static void gelu_backward_avx(float *d, const float *in, size_t n)
{
    size_t i = 0;
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(in + i), x2 = _mm256_mul_ps(x, x);
        __m256 u = _mm256_mul_ps(_mm256_set1_ps(GELU_K), _mm256_fmadd_ps(_mm256_mul_ps(x2, x), _mm256_set1_ps(GELU_A), x));
        __m256 t = tanh8(u);
        __m256 sech2 = _mm256_fnmadd_ps(t, t, one);
        __m256 du = _mm256_mul_ps(_mm256_set1_ps(GELU_K), _mm256_fmadd_ps(x2, _mm256_set1_ps(3.0f * GELU_A), one));
        __m256 g = _mm256_fmadd_ps(_mm256_mul_ps(half, x), _mm256_mul_ps(sech2, du), _mm256_mul_ps(half, _mm256_add_ps(one, t)));
        _mm256_storeu_ps(d + i, _mm256_mul_ps(_mm256_loadu_ps(d + i), g));
    }
    for (; i < n; i++) {
        float x = in[i], u = GELU_K * (x + GELU_A * x * x * x), t = tanh1(u);
        d[i] *= 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_A * x * x);
    }
}

static int use_avx = -1;
void vm_init(void)
{
    if (use_avx >= 0) return;
    __builtin_cpu_init();
    use_avx = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
static inline int avx(void) { return use_avx > 0; }
#else
void vm_init(void) {}
static inline int avx(void) { return 0; }
#define exp_sum_avx(x, n, s) 0.0f
#define max_avx(x, n) 0.0f
#define scale_avx(x, n, a)
#define gelu_avx(o, i, n)
#define gelu_backward_avx(d, i, n)
#endif

float vm_exp_sum(float *x, size_t n, float shift)
{
    if (avx()) return exp_sum_avx(x, n, shift);
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) s += (x[i] = exp1(x[i] - shift));
    return s;
}

float vm_max(const float *x, size_t n)
{
    if (avx()) return max_avx(x, n);
    float r = -INFINITY;
    for (size_t i = 0; i < n; i++) r = x[i] > r ? x[i] : r;
    return r;
}

void vm_scale(float *x, size_t n, float a)
{
    if (avx()) {
        scale_avx(x, n, a);
        return;
    }
    for (size_t i = 0; i < n; i++) x[i] *= a;
}

void vm_gelu(float *out, const float *in, size_t n)
{
    if (avx()) {
        gelu_avx(out, in, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        out[i] = 0.5f * x * (1.0f + tanh1(GELU_K * (x + GELU_A * x * x * x)));
    }
}

void vm_gelu_backward(float *d, const float *in, size_t n)
{
    if (avx()) {
        gelu_backward_avx(d, in, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float x = in[i], u = GELU_K * (x + GELU_A * x * x * x), t = tanh1(u);
        d[i] *= 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_A * x * x);
    }
}
