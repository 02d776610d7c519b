/*
 * deepgrad.h -- every kernel deepgrad exports, with shapes, math and preconditions.
 *
 * Conventions (all kernels):
 *  - Names read <layer>_<forward|backward>_<f32|f64>. One source body generates both dtypes.
 *  - Arguments: outputs first, then caches, then const inputs, then sizes (int64_t).
 *  - Arrays are contiguous and valid; sizes are >= 0; pointers of empty arrays are
 *    never dereferenced. The C code does not validate, allocate in hot loops, print
 *    or exit: the Python layer has checked everything before the call.
 *  - Backward writes the input gradient (d<input>) and ACCUMULATES (+=) parameter
 *    gradients (dweight, dbias), so the caller zeroes them.
 *  - Elementwise kernels allow an output to be the very same array as an input
 *    (in place); partial overlap is not allowed.
 *  - Floating point follows IEEE 754: NaN propagates, no -ffast-math anywhere.
 */
#ifndef DEEPGRAD_H
#define DEEPGRAD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================ runtime */

/* Instruction-set levels of the dispatched kernels. */
enum { DG_ISA_PORTABLE = 0, DG_ISA_AVX2 = 1, DG_ISA_AVX512 = 2 };

int dg_isa_supported(void);   /* best level this CPU runs */
int dg_isa_active(void);      /* level the kernels use now */
int dg_set_isa(int level);    /* request a level (-1: best); returns the active one */

int dg_num_threads(void);     /* OpenMP threads every parallel region uses */
void dg_set_num_threads(int n); /* n <= 0: back to the default (omp_get_max_threads) */

/* ============================================================ activations */
/*
 * Elementwise over n values. Forward: out[i] = f(x[i]).
 * Backward: dinp[i] = dout[i] * f'(.) where f' is evaluated from the saved
 * input x (relu, leaky_relu, gelu, silu) or the saved output y (sigmoid, tanh),
 * exactly what PyTorch's backward saves. out/dinp may be the same array as an input.
 *
 *  relu        f(x) = max(x, 0)                 f'(x) = 1 if x > 0 else 0   (0 at x == 0, as PyTorch)
 *  leaky_relu  f(x) = x if x > 0 else s*x        f'(x) = 1 if x > 0 else s
 *  sigmoid     f(x) = 1 / (1 + e^-x)             f' = y (1 - y)
 *  tanh        f(x) = (e^x - e^-x)/(e^x + e^-x)  f' = 1 - y^2
 *  gelu        f(x) = x Phi(x), Phi(x) = (1 + erf(x/sqrt2))/2   f' = Phi(x) + x phi(x)
 *  gelu_tanh   f(x) = x/2 (1 + tanh(u)), u = sqrt(2/pi)(x + 0.044715 x^3)   (approximate="tanh")
 *  silu        f(x) = x sigmoid(x)               f' = s (1 + x (1 - s)),  s = sigmoid(x)
 *  sigmoid_libm: sigmoid through one libm exp() call per element (a benchmark baseline)
 *
 * Accuracy: float32 results within 4 ulp of the float64 function, float64 within
 * 1e-14 relative (see dg_math.h for the exp/expm1/erfc error bounds).
 */
#define DG_DECLARE_ACTIVATIONS(real, sfx)                                                          \
    void relu_forward_##sfx(real *out, const real *x, int64_t n);                                  \
    void relu_backward_##sfx(real *dinp, const real *dout, const real *x, int64_t n);              \
    void leaky_relu_forward_##sfx(real *out, const real *x, real negative_slope, int64_t n);       \
    void leaky_relu_backward_##sfx(real *dinp, const real *dout, const real *x,                    \
                                   real negative_slope, int64_t n);                                \
    void sigmoid_forward_##sfx(real *out, const real *x, int64_t n);                               \
    void sigmoid_backward_##sfx(real *dinp, const real *dout, const real *y, int64_t n);           \
    void sigmoid_libm_forward_##sfx(real *out, const real *x, int64_t n);                          \
    void tanh_forward_##sfx(real *out, const real *x, int64_t n);                                  \
    void tanh_backward_##sfx(real *dinp, const real *dout, const real *y, int64_t n);              \
    void gelu_forward_##sfx(real *out, const real *x, int64_t n);                                  \
    void gelu_backward_##sfx(real *dinp, const real *dout, const real *x, int64_t n);              \
    void gelu_tanh_forward_##sfx(real *out, const real *x, int64_t n);                             \
    void gelu_tanh_backward_##sfx(real *dinp, const real *dout, const real *x, int64_t n);         \
    void silu_forward_##sfx(real *out, const real *x, int64_t n);                                  \
    void silu_backward_##sfx(real *dinp, const real *dout, const real *x, int64_t n);              \
    /* a plain copy of n values: the memory-bandwidth roof the benchmarks compare against */       \
    void copy_forward_##sfx(real *out, const real *x, int64_t n);

DG_DECLARE_ACTIVATIONS(float, f32)
DG_DECLARE_ACTIVATIONS(double, f64)

/* ================================================================= gemm */
/*
 * C = alpha * op(A) op(B) + beta * C + 1 bias^T       (csrc/gemm.c, no BLAS involved)
 *   op(A) is m x k: A (m x k, row stride lda) or, if trans_a, A^T with A stored k x m;
 *   op(B) is k x n: B (k x n, row stride ldb) or, if trans_b, B^T with B stored n x k;
 *   C is m x n with row stride ldc; bias (length n, may be NULL) is added to every row.
 * PyTorch: torch.addmm(beta*C + bias, op(A), op(B), alpha=alpha) / BLAS ?gemm in row-major.
 * Preconditions: m, n, k >= 0; lda >= max(1, cols of the stored A) (k, or m if trans_a),
 * ldb likewise, ldc >= max(1, n); C does not overlap A, B or bias.
 * beta == 0: C is only written (it may hold NaN/garbage). k == 0 or alpha == 0: A and B
 * are not read and C = beta * C + bias. Results do not depend on the thread count.
 * gemm_naive_*: the same contract, three plain loops (the reference the tests use).
 */
#define DG_DECLARE_GEMM(real, sfx)                                                                 \
    void gemm_##sfx(real *C, const real *A, const real *B, const real *bias, int64_t m, int64_t n, \
                    int64_t k, int64_t lda, int64_t ldb, int64_t ldc, int trans_a, int trans_b,    \
                    real alpha, real beta);                                                        \
    void gemm_naive_##sfx(real *C, const real *A, const real *B, const real *bias, int64_t m,     \
                          int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc,             \
                          int trans_a, int trans_b, real alpha, real beta);

DG_DECLARE_GEMM(float, f32)
DG_DECLARE_GEMM(double, f64)

/* ================================================================ dense */
/*
 * Fully connected layer, PyTorch's nn.Linear convention (csrc/dense.c, on the GEMM above):
 *   x: (B, in)   weight W: (out, in)   bias b: (out) or NULL   y: (B, out)
 * forward:   y = x W^T + b                      (bias fused into the GEMM write-back)
 * backward:  dinp     = dout W                  (written; skipped if dinp == NULL)
 *            dweight += dout^T x                (accumulated; skipped if NULL)
 *            dbias   += sum over rows of dout   (accumulated, rows summed in order 0..B-1
 *                                                for every thread count; skipped if NULL)
 * Preconditions: contiguous arrays, sizes >= 0, outputs do not overlap inputs.
 */
#define DG_DECLARE_DENSE(real, sfx)                                                                \
    void dense_forward_##sfx(real *out, const real *x, const real *weight, const real *bias,      \
                             int64_t B, int64_t in_features, int64_t out_features);               \
    void dense_backward_##sfx(real *dinp, real *dweight, real *dbias, const real *dout,           \
                              const real *x, const real *weight, int64_t B, int64_t in_features,  \
                              int64_t out_features);

DG_DECLARE_DENSE(float, f32)
DG_DECLARE_DENSE(double, f64)

#ifdef __cplusplus
}
#endif
#endif /* DEEPGRAD_H */
