# Declarations of the C kernels (csrc/deepgrad.h) for the Cython bindings.
from libc.stdint cimport int64_t

cdef extern from "deepgrad.h" nogil:
    # ---- runtime
    int DG_ISA_PORTABLE, DG_ISA_AVX2, DG_ISA_AVX512
    int dg_isa_supported()
    int dg_isa_active()
    int dg_set_isa(int level)
    int dg_num_threads()
    void dg_set_num_threads(int n)

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
