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
void dg_set_num_threads(int n); /* n <= 0: back to the default (omp_get_max_threads);
                                  n > DG_MAX_THREADS is clamped to it */
#define DG_MAX_THREADS 1024

/* How the exp-based activations treat special inputs (subnormal, tiny or saturated; see
 * activation.inc, "special inputs"): DG_SPECIAL_ADAPTIVE (the default) runs the plain loops
 * until a block raises the underflow or denormal flag, then takes the special inputs out of
 * the rest; DG_SPECIAL_ALWAYS takes them out from the start; DG_SPECIAL_NEVER never does.
 * Results are the same in every mode (to the last bit but for the sign of a zero gradient
 * and subnormal results that were a rounding off); only the time differs. */
enum { DG_SPECIAL_ADAPTIVE = 0, DG_SPECIAL_ALWAYS = 1, DG_SPECIAL_NEVER = 2 };
int dg_special_mode(void);
void dg_set_special_mode(int mode);
/* The norm kernels write outputs of 8 MiB or more with non-temporal (streaming) stores, which
 * skip reading each destination line but send it to memory, past the caches: that pays only
 * when the bytes a call touches (inputs and output) cannot stay in the last-level cache
 * anyway. A call streams when its output has at least 8 MiB and it touches at least
 * dg_norm_stream_touch() bytes: a quarter of the last-level cache as the OS reports it
 * (sysconf, read once), or what dg_set_norm_stream_touch(bytes >= 0) set (-1: back to the
 * cache-based figure; 0: every output of 8 MiB or more streams, for tests). */
int64_t dg_norm_stream_touch(void);
void dg_set_norm_stream_touch(int64_t bytes);
/* The x86 floating-point status flags of the calling thread (MXCSR bits 0-5: invalid,
 * denormal operand, divide by zero, overflow, underflow, inexact); clear: reset them after
 * reading. -1 where there is no MXCSR. For tests. */
int dg_fp_status_flags(int clear);

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

/* ========================================================= normalization */
/*
 * Row layout: x is (rows, cols) row-major; LayerNorm and RMSNorm normalize each row
 * (the last dimension), BatchNorm normalizes each column over the rows (the batch).
 * weight/bias may be NULL (affine=False: weight 1, bias 0); dweight/dbias are then
 * ignored (pass NULL). Caches (mean, rstd) have the dtype of x.
 * Statistics are accumulated in double for both dtypes, and every reduction runs in
 * an order that depends only on the shape, so results are bit-identical for any
 * thread count (they may differ between SIMD paths in the last bits).
 * out may not overlap x; dinp may not overlap any input (rows are read twice).
 *
 * layernorm_forward   PyTorch F.layer_norm(x, (cols,), weight, bias, eps)
 *   mean_r = sum_j x_rj / cols,  var_r = sum_j (x_rj - mean_r)^2 / cols   (two-pass)
 *   rstd_r = 1 / sqrt(var_r + eps),  out_rj = (x_rj - mean_r) rstd_r w_j + b_j
 *   caches: mean[rows], rstd[rows]. cols == 0: mean 0, rstd 1/sqrt(eps).
 * layernorm_backward  with xhat = (x - mean) rstd, g = dout * w:
 *   dinp_rj = rstd_r (g_rj - mean_j(g_rj) - xhat_rj mean_j(g_rj xhat_rj))
 *   dweight_j += sum_r dout_rj xhat_rj,  dbias_j += sum_r dout_rj
 *   Returns 0, or -1 if the scratch (16 * 2 * cols doubles at most) cannot be allocated.
 *
 * rmsnorm_forward     PyTorch nn.RMSNorm((cols,), eps) (weight only)
 *   rstd_r = 1 / sqrt(sum_j x_rj^2 / cols + eps),  out_rj = x_rj rstd_r w_j
 * rmsnorm_backward    with xhat = x rstd, g = dout * w:
 *   dinp_rj = rstd_r (g_rj - xhat_rj mean_j(g_rj xhat_rj)),  dweight_j += sum_r dout_rj xhat_rj
 *   Returns 0 or -1 (no memory), as layernorm_backward.
 *
 * batchnorm_forward   PyTorch nn.BatchNorm1d on a (rows=batch, cols=features) array
 *   training (train != 0, rows >= 2): per column c, Welford over fixed row blocks merged in block
 *     order (Chan et al.), all in double:
 *     mean_c, var_c = biased variance, rstd_c = 1/sqrt(var_c + eps) -> caches save_mean, save_rstd
 *     running_mean = (1 - momentum) running_mean + momentum mean_c
 *     running_var  = (1 - momentum) running_var  + momentum var_c rows / (rows - 1)
 *     (running_mean/running_var may be NULL: track_running_stats=False)
 *   evaluation (train == 0): mean_c = running_mean_c, rstd_c = 1/sqrt(running_var_c + eps),
 *     also written to save_mean/save_rstd for the backward pass; running stats unchanged.
 *   out_rc = (x_rc - mean_c) rstd_c w_c + b_c
 * batchnorm_backward  with xhat = (x - save_mean) save_rstd:
 *   dweight_c += sum_r dout_rc xhat_rc,  dbias_c += sum_r dout_rc
 *   training: dinp_rc = w_c rstd_c (dout_rc - mean_r(dout_rc) - xhat_rc mean_r(dout_rc xhat_rc))
 *   evaluation: dinp_rc = w_c rstd_c dout_rc   (the statistics are constants)
 *   Both return 0, or -1 if the scratch ((16 * 2 + 3) * cols values at most) cannot be allocated.
 */
#define DG_DECLARE_NORMS(real, sfx)                                                                \
    void layernorm_forward_##sfx(real *out, real *mean, real *rstd, const real *x,                 \
                                 const real *weight, const real *bias, double eps,                 \
                                 int64_t rows, int64_t cols);                                      \
    int layernorm_backward_##sfx(real *dinp, real *dweight, real *dbias, const real *dout,         \
                                 const real *x, const real *mean, const real *rstd,                \
                                 const real *weight, int64_t rows, int64_t cols);                  \
    void layernorm_forward_naive_##sfx(real *out, real *mean, real *rstd, const real *x,           \
                                       const real *weight, const real *bias, double eps,           \
                                       int64_t rows, int64_t cols);                                \
    void rmsnorm_forward_##sfx(real *out, real *rstd, const real *x, const real *weight,           \
                               double eps, int64_t rows, int64_t cols);                            \
    int rmsnorm_backward_##sfx(real *dinp, real *dweight, const real *dout, const real *x,         \
                               const real *rstd, const real *weight, int64_t rows, int64_t cols);  \
    int batchnorm_forward_##sfx(real *out, real *save_mean, real *save_rstd, real *running_mean,  \
                                 real *running_var, const real *x, const real *weight,             \
                                const real *bias, int train, double momentum, double eps,          \
                                int64_t rows, int64_t cols);                                      \
    int batchnorm_backward_##sfx(real *dinp, real *dweight, real *dbias, const real *dout,        \
                                  const real *x, const real *save_mean, const real *save_rstd,     \
                                  const real *weight, int train, int64_t rows, int64_t cols);

DG_DECLARE_NORMS(float, f32)
DG_DECLARE_NORMS(double, f64)

/* ============================================================== residual */
/*
 * y = x + f(x): the identity path. Elementwise over n values; out may be the same
 * array as either input (in place), partial overlap is not allowed.
 *  residual_forward   out = x + fx                   (the block output f(x) added to its input)
 *  residual_backward  dinp = dout + dfx              (dout flows straight through the identity:
 *                                                     dy/dx = 1 + f'(x); dfx = dout through f)
 */
#define DG_DECLARE_RESIDUAL(real, sfx)                                                             \
    void residual_forward_##sfx(real *out, const real *x, const real *fx, int64_t n);              \
    void residual_backward_##sfx(real *dinp, const real *dout, const real *dfx, int64_t n);

DG_DECLARE_RESIDUAL(float, f32)
DG_DECLARE_RESIDUAL(double, f64)

/* ================================================================ losses */
/*
 * Mean reduction, as PyTorch's default. The sums run in double in an order that
 * depends only on the size (identical for any thread count). n == 0 gives NaN (0/0),
 * as torch. dloss is the upstream gradient of the loss value (1 for loss.backward()).
 *
 * mse_loss_forward    PyTorch F.mse_loss(pred, target): loss = sum_i (p_i - t_i)^2 / n
 * mse_loss_backward   dpred_i = dloss 2 (p_i - t_i) / n        (dpred may be pred or target)
 *
 * cross_entropy_forward   PyTorch F.cross_entropy(logits, target), logits (rows, cols),
 *   target[rows] in [0, cols) (checked by the caller):
 *   loss = sum_r (lse_r - x_r,t_r) / rows,  lse_r = m_r + log sum_j exp(x_rj - m_r), m_r = max_j x_rj
 * cross_entropy_backward  dlogits_rj = dloss (softmax(x_r)_j - [j == t_r]) / rows
 *   (the softmax is recomputed from the logits; dlogits may not overlap logits)
 */
#define DG_DECLARE_LOSSES(real, sfx)                                                               \
    void mse_loss_forward_##sfx(real *loss, const real *pred, const real *target, int64_t n);      \
    void mse_loss_backward_##sfx(real *dpred, const real *pred, const real *target, real dloss,    \
                                 int64_t n);                                                       \
    void cross_entropy_forward_##sfx(real *loss, const real *logits, const int64_t *target,        \
                                     int64_t rows, int64_t cols);                                  \
    void cross_entropy_backward_##sfx(real *dlogits, const real *logits, const int64_t *target,    \
                                      real dloss, int64_t rows, int64_t cols);

DG_DECLARE_LOSSES(float, f32)
DG_DECLARE_LOSSES(double, f64)
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
 * gemm_blocked_*: the same contract, cache-blocked loops without packing (a teaching
 *   step for docs/gemm.md and benches/gemm_steps.py; use gemm_* for real work).
 */
#define DG_DECLARE_GEMM(real, sfx)                                                                 \
    void gemm_##sfx(real *C, const real *A, const real *B, const real *bias, int64_t m, int64_t n, \
                    int64_t k, int64_t lda, int64_t ldb, int64_t ldc, int trans_a, int trans_b,    \
                    real alpha, real beta);                                                        \
    void gemm_naive_##sfx(real *C, const real *A, const real *B, const real *bias, int64_t m,     \
                          int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc,             \
                          int trans_a, int trans_b, real alpha, real beta);               \
    void gemm_blocked_##sfx(real *C, const real *A, const real *B, const real *bias, int64_t m,   \
                            int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc,           \
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
