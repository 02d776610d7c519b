# Bindings of csrc/gemm.c and csrc/dense.c (included by _core.pyx).
#
# 2-d operands arrive as strided memoryviews whose rows are contiguous (the Python layer
# guarantees stride[1] == itemsize); the row stride becomes the BLAS leading dimension,
# so a slice like big[:, :k] is used in place. Optional arrays (bias, gradients) may be None.

cdef inline int64_t _ld(int64_t stride_bytes, int64_t itemsize, int64_t cols) noexcept nogil:
    # leading dimension in elements; a single row may carry any stride
    cdef int64_t ld = stride_bytes // itemsize
    return ld if ld >= cols and ld >= 1 else (cols if cols >= 1 else 1)


cdef enum _GemmKernel:
    GEMM_FAST = 0      # gemm_*: packed, micro-kernel, threads
    GEMM_NAIVE = 1     # gemm_naive_*: the three-loop reference
    GEMM_BLOCKED = 2   # gemm_blocked_*: cache blocking only (docs/gemm.md, benches/gemm_steps.py)


cdef _gemm(floating[:, :] c, const floating[:, :] a, const floating[:, :] b,
           const floating[::1] bias, bint trans_a, bint trans_b, double alpha, double beta, int kernel):
    cdef int64_t m = c.shape[0], n = c.shape[1]
    cdef int64_t k = a.shape[0] if trans_a else a.shape[1]
    cdef int64_t isz = sizeof(floating)
    cdef int64_t lda = _ld(a.strides[0], isz, a.shape[1])
    cdef int64_t ldb = _ld(b.strides[0], isz, b.shape[1])
    cdef int64_t ldc = _ld(c.strides[0], isz, n)
    cdef const floating *pa = NULL
    cdef const floating *pb = NULL
    cdef const floating *pbias = NULL
    if m == 0 or n == 0:
        return
    if k > 0:
        pa = &a[0, 0]
        pb = &b[0, 0]
    if bias is not None:
        pbias = &bias[0]
    with nogil:
        if floating is float:
            if kernel == GEMM_NAIVE:
                gemm_naive_f32(&c[0, 0], pa, pb, pbias, m, n, k, lda, ldb, ldc, trans_a, trans_b,
                               <float>alpha, <float>beta)
            elif kernel == GEMM_BLOCKED:
                gemm_blocked_f32(&c[0, 0], pa, pb, pbias, m, n, k, lda, ldb, ldc, trans_a, trans_b,
                                 <float>alpha, <float>beta)
            else:
                gemm_f32(&c[0, 0], pa, pb, pbias, m, n, k, lda, ldb, ldc, trans_a, trans_b,
                         <float>alpha, <float>beta)
        else:
            if kernel == GEMM_NAIVE:
                gemm_naive_f64(&c[0, 0], pa, pb, pbias, m, n, k, lda, ldb, ldc, trans_a, trans_b,
                               alpha, beta)
            elif kernel == GEMM_BLOCKED:
                gemm_blocked_f64(&c[0, 0], pa, pb, pbias, m, n, k, lda, ldb, ldc, trans_a, trans_b,
                                 alpha, beta)
            else:
                gemm_f64(&c[0, 0], pa, pb, pbias, m, n, k, lda, ldb, ldc, trans_a, trans_b,
                         alpha, beta)


def gemm(floating[:, :] c not None,        # OUT m x n (rows contiguous), C = alpha op(A) op(B) + beta C + bias
         const floating[:, :] a not None,  # IN  op(A) is m x k (A stored k x m if trans_a)
         const floating[:, :] b not None,  # IN  op(B) is k x n (B stored n x k if trans_b)
         const floating[::1] bias,         # IN  length n, or None
         bint trans_a, bint trans_b, double alpha, double beta, bint naive=False,
         bint blocked=False):
    """C = alpha * op(A) @ op(B) + beta * C (+ bias per column); shapes checked by the caller.
    numpy: c[...] = alpha * (a.T if trans_a else a) @ (b.T if trans_b else b) + beta * c + bias
    naive=True runs the three-loop reference gemm_naive_*, blocked=True the cache-blocked
    teaching kernel gemm_blocked_* (private: tests and benches/gemm_steps.py)."""
    if naive and blocked:
        raise ValueError("gemm: naive and blocked are exclusive, got both True")
    _gemm(c, a, b, bias, trans_a, trans_b, alpha, beta,
          GEMM_NAIVE if naive else (GEMM_BLOCKED if blocked else GEMM_FAST))


# The same for one dtype each: no fused-type dispatch on the hot path of deepgrad.ops.matmul.
def gemm_f32_nobias(float[:, :] c not None, const float[:, :] a not None,
                    const float[:, :] b not None, bint trans_a, bint trans_b, double alpha, double beta):
    _gemm[float](c, a, b, None, trans_a, trans_b, alpha, beta, GEMM_FAST)


def gemm_f64_nobias(double[:, :] c not None, const double[:, :] a not None,
                    const double[:, :] b not None, bint trans_a, bint trans_b, double alpha, double beta):
    _gemm[double](c, a, b, None, trans_a, trans_b, alpha, beta, GEMM_FAST)


def dense_forward(floating[:, ::1] out not None,           # OUT y (B, out)
                  const floating[:, ::1] x not None,       # IN  x (B, in)
                  const floating[:, ::1] weight not None,  # IN  W (out, in)
                  const floating[::1] bias):               # IN  b (out) or None
    # numpy: out[...] = x @ weight.T + bias
    cdef int64_t B = x.shape[0], n_in = x.shape[1], n_out = weight.shape[0]
    cdef const floating *px = NULL
    cdef const floating *pw = NULL
    cdef const floating *pbias = NULL
    if B == 0 or n_out == 0:
        return
    if n_in > 0:
        px = &x[0, 0]
        pw = &weight[0, 0]
    if bias is not None:
        pbias = &bias[0]
    with nogil:
        if floating is float:
            dense_forward_f32(&out[0, 0], px, pw, pbias, B, n_in, n_out)
        else:
            dense_forward_f64(&out[0, 0], px, pw, pbias, B, n_in, n_out)


def dense_backward(const floating[:, ::1] dout not None,    # IN  dL/dy (B, out)
                   const floating[:, ::1] x not None,       # IN  x (B, in) saved by forward
                   const floating[:, ::1] weight not None,  # IN  W (out, in)
                   floating[:, ::1] dinp,                   # OUT dL/dx (B, in), written; or None
                   floating[:, ::1] dweight,                # OUT dL/dW (out, in), ACCUMULATED; or None
                   floating[::1] dbias):                    # OUT dL/db (out), ACCUMULATED; or None
    # numpy: dinp[...] = dout @ weight;  dweight += dout.T @ x;  dbias += dout.sum(0)
    cdef int64_t B = x.shape[0], n_in = x.shape[1], n_out = weight.shape[0]
    cdef floating *pdx = NULL
    cdef floating *pdw = NULL
    cdef floating *pdb = NULL
    cdef const floating *pdout = NULL
    cdef const floating *px = NULL
    cdef const floating *pw = NULL
    if B > 0 and n_out > 0:
        pdout = &dout[0, 0]
    if B > 0 and n_in > 0:
        px = &x[0, 0]
    if n_out > 0 and n_in > 0:
        pw = &weight[0, 0]
    if dinp is not None and B > 0 and n_in > 0:
        pdx = &dinp[0, 0]
    if dweight is not None and n_out > 0 and n_in > 0:
        pdw = &dweight[0, 0]
    if dbias is not None and n_out > 0:
        pdb = &dbias[0]
    with nogil:
        if floating is float:
            dense_backward_f32(pdx, pdw, pdb, pdout, px, pw, B, n_in, n_out)
        else:
            dense_backward_f64(pdx, pdw, pdb, pdout, px, pw, B, n_in, n_out)
