# Declarations of the C kernels (csrc/deepgrad.h) for the Cython bindings.
from libc.stdint cimport int64_t

cdef extern from "deepgrad.h" nogil:
    # ---- runtime
    int DG_ISA_PORTABLE, DG_ISA_AVX2, DG_ISA_AVX512
    int DG_MAX_THREADS
    int dg_isa_supported()
    int dg_isa_active()
    int dg_set_isa(int level)
    int dg_num_threads()
    void dg_set_num_threads(int n)
    int DG_SPECIAL_ADAPTIVE, DG_SPECIAL_ALWAYS, DG_SPECIAL_NEVER
    int dg_special_mode()
    void dg_set_special_mode(int mode)
    int dg_fp_status_flags(int clear)
    int64_t dg_norm_stream_touch()
    void dg_set_norm_stream_touch(int64_t nbytes)

    # ---- activations (csrc/activation.c)
    void relu_forward_f32(float *out, const float *x, int64_t n)
    void relu_forward_f64(double *out, const double *x, int64_t n)
    void relu_backward_f32(float *dinp, const float *dout, const float *x, int64_t n)
    void relu_backward_f64(double *dinp, const double *dout, const double *x, int64_t n)
    void leaky_relu_forward_f32(float *out, const float *x, float negative_slope, int64_t n)
    void leaky_relu_forward_f64(double *out, const double *x, double negative_slope, int64_t n)
    void leaky_relu_backward_f32(float *dinp, const float *dout, const float *x, float negative_slope, int64_t n)
    void leaky_relu_backward_f64(double *dinp, const double *dout, const double *x, double negative_slope, int64_t n)
    void sigmoid_forward_f32(float *out, const float *x, int64_t n)
    void sigmoid_forward_f64(double *out, const double *x, int64_t n)
    void sigmoid_backward_f32(float *dinp, const float *dout, const float *y, int64_t n)
    void sigmoid_backward_f64(double *dinp, const double *dout, const double *y, int64_t n)
    void sigmoid_libm_forward_f32(float *out, const float *x, int64_t n)
    void sigmoid_libm_forward_f64(double *out, const double *x, int64_t n)
    void tanh_forward_f32(float *out, const float *x, int64_t n)
    void tanh_forward_f64(double *out, const double *x, int64_t n)
    void tanh_backward_f32(float *dinp, const float *dout, const float *y, int64_t n)
    void tanh_backward_f64(double *dinp, const double *dout, const double *y, int64_t n)
    void gelu_forward_f32(float *out, const float *x, int64_t n)
    void gelu_forward_f64(double *out, const double *x, int64_t n)
    void gelu_backward_f32(float *dinp, const float *dout, const float *x, int64_t n)
    void gelu_backward_f64(double *dinp, const double *dout, const double *x, int64_t n)
    void gelu_tanh_forward_f32(float *out, const float *x, int64_t n)
    void gelu_tanh_forward_f64(double *out, const double *x, int64_t n)
    void gelu_tanh_backward_f32(float *dinp, const float *dout, const float *x, int64_t n)
    void gelu_tanh_backward_f64(double *dinp, const double *dout, const double *x, int64_t n)
    void silu_forward_f32(float *out, const float *x, int64_t n)
    void silu_forward_f64(double *out, const double *x, int64_t n)
    void silu_backward_f32(float *dinp, const float *dout, const float *x, int64_t n)
    void silu_backward_f64(double *dinp, const double *dout, const double *x, int64_t n)
    void copy_forward_f32(float *out, const float *x, int64_t n)
    void copy_forward_f64(double *out, const double *x, int64_t n)

    # ---- normalization (csrc/norm.c)
    void layernorm_forward_f32(float *out, float *mean, float *rstd, const float *x, const float *weight, const float *bias, double eps, int64_t rows, int64_t cols)
    void layernorm_forward_f64(double *out, double *mean, double *rstd, const double *x, const double *weight, const double *bias, double eps, int64_t rows, int64_t cols)
    void layernorm_forward_naive_f32(float *out, float *mean, float *rstd, const float *x, const float *weight, const float *bias, double eps, int64_t rows, int64_t cols)
    void layernorm_forward_naive_f64(double *out, double *mean, double *rstd, const double *x, const double *weight, const double *bias, double eps, int64_t rows, int64_t cols)
    int layernorm_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout, const float *x, const float *mean, const float *rstd, const float *weight, int64_t rows, int64_t cols)
    int layernorm_backward_f64(double *dinp, double *dweight, double *dbias, const double *dout, const double *x, const double *mean, const double *rstd, const double *weight, int64_t rows, int64_t cols)
    void rmsnorm_forward_f32(float *out, float *rstd, const float *x, const float *weight, double eps, int64_t rows, int64_t cols)
    void rmsnorm_forward_f64(double *out, double *rstd, const double *x, const double *weight, double eps, int64_t rows, int64_t cols)
    int rmsnorm_backward_f32(float *dinp, float *dweight, const float *dout, const float *x, const float *rstd, const float *weight, int64_t rows, int64_t cols)
    int rmsnorm_backward_f64(double *dinp, double *dweight, const double *dout, const double *x, const double *rstd, const double *weight, int64_t rows, int64_t cols)
    int batchnorm_forward_f32(float *out, float *save_mean, float *save_rstd, float *running_mean, float *running_var, const float *x, const float *weight, const float *bias, int train, double momentum, double eps, int64_t rows, int64_t cols)
    int batchnorm_forward_f64(double *out, double *save_mean, double *save_rstd, double *running_mean, double *running_var, const double *x, const double *weight, const double *bias, int train, double momentum, double eps, int64_t rows, int64_t cols)
    int batchnorm_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout, const float *x, const float *save_mean, const float *save_rstd, const float *weight, int train, int64_t rows, int64_t cols)
    int batchnorm_backward_f64(double *dinp, double *dweight, double *dbias, const double *dout, const double *x, const double *save_mean, const double *save_rstd, const double *weight, int train, int64_t rows, int64_t cols)

    # ---- residual (csrc/residual.c)
    void residual_forward_f32(float *out, const float *x, const float *fx, int64_t n)
    void residual_forward_f64(double *out, const double *x, const double *fx, int64_t n)
    void residual_backward_f32(float *dinp, const float *dout, const float *dfx, int64_t n)
    void residual_backward_f64(double *dinp, const double *dout, const double *dfx, int64_t n)

    # ---- losses (csrc/loss.c)
    void mse_loss_forward_f32(float *loss, const float *pred, const float *target, int64_t n)
    void mse_loss_forward_f64(double *loss, const double *pred, const double *target, int64_t n)
    void mse_loss_backward_f32(float *dpred, const float *pred, const float *target, float dloss, int64_t n)
    void mse_loss_backward_f64(double *dpred, const double *pred, const double *target, double dloss, int64_t n)
    void cross_entropy_forward_f32(float *loss, const float *logits, const int64_t *target, int64_t rows, int64_t cols)
    void cross_entropy_forward_f64(double *loss, const double *logits, const int64_t *target, int64_t rows, int64_t cols)
    void cross_entropy_backward_f32(float *dlogits, const float *logits, const int64_t *target, float dloss, int64_t rows, int64_t cols)
    void cross_entropy_backward_f64(double *dlogits, const double *logits, const int64_t *target, double dloss, int64_t rows, int64_t cols)
    # ---- gemm (csrc/gemm.c) and dense (csrc/dense.c)
    void gemm_f32(float *C, const float *A, const float *B, const float *bias, int64_t m, int64_t n,
                  int64_t k, int64_t lda, int64_t ldb, int64_t ldc, int trans_a, int trans_b,
                  float alpha, float beta)
    void gemm_f64(double *C, const double *A, const double *B, const double *bias, int64_t m, int64_t n,
                  int64_t k, int64_t lda, int64_t ldb, int64_t ldc, int trans_a, int trans_b,
                  double alpha, double beta)
    void gemm_naive_f32(float *C, const float *A, const float *B, const float *bias, int64_t m,
                        int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc, int trans_a,
                        int trans_b, float alpha, float beta)
    void gemm_naive_f64(double *C, const double *A, const double *B, const double *bias, int64_t m,
                        int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc, int trans_a,
                        int trans_b, double alpha, double beta)
    void gemm_blocked_f32(float *C, const float *A, const float *B, const float *bias, int64_t m,
                          int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc, int trans_a,
                          int trans_b, float alpha, float beta)
    void gemm_blocked_f64(double *C, const double *A, const double *B, const double *bias, int64_t m,
                          int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc, int trans_a,
                          int trans_b, double alpha, double beta)
    void dense_forward_f32(float *out, const float *x, const float *weight, const float *bias,
                           int64_t B, int64_t in_features, int64_t out_features)
    void dense_forward_f64(double *out, const double *x, const double *weight, const double *bias,
                           int64_t B, int64_t in_features, int64_t out_features)
    void dense_backward_f32(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *x, const float *weight, int64_t B, int64_t in_features,
                            int64_t out_features)
    void dense_backward_f64(double *dinp, double *dweight, double *dbias, const double *dout,
                            const double *x, const double *weight, int64_t B, int64_t in_features,
                            int64_t out_features)
