# Bindings of csrc/norm.c and csrc/residual.c (included by _core.pyx).
#
# 2-d arrays are (rows, cols), C-contiguous; the Python layer (deepgrad.ops.norm)
# has reshaped any-ndim input to that, checked shapes/dtypes/aliasing, and handles
# the empty cases (rows == 0 or cols == 0) itself: these wrappers return at once then.
# Optional 1-d arrays (weight, bias, their gradients, running statistics) are None
# for "absent" and reach C as NULL.


cdef inline const floating *_in_ptr(const floating[::1] a) noexcept:
    """&a[0], or NULL when a is None (an absent optional argument) or empty."""
    if a is None or a.shape[0] == 0:
        return NULL
    return &a[0]


cdef inline floating *_out_ptr(floating[::1] a) noexcept:
    if a is None or a.shape[0] == 0:
        return NULL
    return &a[0]


def layernorm_forward(floating[:, ::1] out not None,      # OUT normalized rows
                      floating[::1] mean not None,         # OUT cache: row means
                      floating[::1] rstd not None,         # OUT cache: 1/sqrt(var + eps) per row
                      const floating[:, ::1] x not None,   # IN
                      const floating[::1] weight,          # IN (cols,) or None
                      const floating[::1] bias,            # IN (cols,) or None
                      double eps, bint naive=False):
    # NumPy: m = x.mean(1); v = x.var(1); out = (x - m[:, None]) / sqrt(v + eps)[:, None] * w + b
    cdef int64_t rows = x.shape[0], cols = x.shape[1]
    if rows == 0 or cols == 0:
        return
    cdef const floating *w = _in_ptr(weight)
    cdef const floating *b = _in_ptr(bias)
    with nogil:
        if floating is float:
            if naive:
                layernorm_forward_naive_f32(&out[0, 0], &mean[0], &rstd[0], &x[0, 0], w, b, eps, rows, cols)
            else:
                layernorm_forward_f32(&out[0, 0], &mean[0], &rstd[0], &x[0, 0], w, b, eps, rows, cols)
        else:
            if naive:
                layernorm_forward_naive_f64(&out[0, 0], &mean[0], &rstd[0], &x[0, 0], w, b, eps, rows, cols)
            else:
                layernorm_forward_f64(&out[0, 0], &mean[0], &rstd[0], &x[0, 0], w, b, eps, rows, cols)


def layernorm_backward(floating[:, ::1] dinp not None,        # OUT gradient wrt x (written)
                       floating[::1] dweight,                  # OUT accumulated (+=), or None
                       floating[::1] dbias,                    # OUT accumulated (+=), or None
                       const floating[:, ::1] dout not None,   # IN upstream gradient
                       const floating[:, ::1] x not None,      # IN forward input
                       const floating[::1] mean not None,      # IN cache
                       const floating[::1] rstd not None,      # IN cache
                       const floating[::1] weight):            # IN or None
    cdef int64_t rows = x.shape[0], cols = x.shape[1]
    cdef int status = 0
    if rows == 0 or cols == 0:
        return
    cdef floating *dw = _out_ptr(dweight)
    cdef floating *db = _out_ptr(dbias)
    cdef const floating *w = _in_ptr(weight)
    with nogil:
        if floating is float:
            status = layernorm_backward_f32(&dinp[0, 0], dw, db, &dout[0, 0], &x[0, 0], &mean[0], &rstd[0], w, rows, cols)
        else:
            status = layernorm_backward_f64(&dinp[0, 0], dw, db, &dout[0, 0], &x[0, 0], &mean[0], &rstd[0], w, rows, cols)
    if status != 0:
        raise MemoryError("layer_norm_backward: cannot allocate the parameter-gradient scratch")


def rmsnorm_forward(floating[:, ::1] out not None,      # OUT
                    floating[::1] rstd not None,         # OUT cache: 1/sqrt(mean(x^2) + eps) per row
                    const floating[:, ::1] x not None,   # IN
                    const floating[::1] weight,          # IN (cols,) or None
                    double eps):
    # NumPy: r = 1 / sqrt((x**2).mean(1) + eps); out = x * r[:, None] * w
    cdef int64_t rows = x.shape[0], cols = x.shape[1]
    if rows == 0 or cols == 0:
        return
    cdef const floating *w = _in_ptr(weight)
    with nogil:
        if floating is float:
            rmsnorm_forward_f32(&out[0, 0], &rstd[0], &x[0, 0], w, eps, rows, cols)
        else:
            rmsnorm_forward_f64(&out[0, 0], &rstd[0], &x[0, 0], w, eps, rows, cols)


def rmsnorm_backward(floating[:, ::1] dinp not None,        # OUT
                     floating[::1] dweight,                  # OUT accumulated (+=), or None
                     const floating[:, ::1] dout not None,   # IN
                     const floating[:, ::1] x not None,      # IN
                     const floating[::1] rstd not None,      # IN cache
                     const floating[::1] weight):            # IN or None
    cdef int64_t rows = x.shape[0], cols = x.shape[1]
    cdef int status = 0
    if rows == 0 or cols == 0:
        return
    cdef floating *dw = _out_ptr(dweight)
    cdef const floating *w = _in_ptr(weight)
    with nogil:
        if floating is float:
            status = rmsnorm_backward_f32(&dinp[0, 0], dw, &dout[0, 0], &x[0, 0], &rstd[0], w, rows, cols)
        else:
            status = rmsnorm_backward_f64(&dinp[0, 0], dw, &dout[0, 0], &x[0, 0], &rstd[0], w, rows, cols)
    if status != 0:
        raise MemoryError("rms_norm_backward: cannot allocate the parameter-gradient scratch")


def batchnorm_forward(floating[:, ::1] out not None,       # OUT
                      floating[::1] save_mean not None,     # OUT cache: mean used per feature
                      floating[::1] save_rstd not None,     # OUT cache: 1/sqrt(var + eps) used
                      floating[::1] running_mean,           # IN/OUT (updated in training), or None
                      floating[::1] running_var,            # IN/OUT (updated in training), or None
                      const floating[:, ::1] x not None,    # IN (batch, features)
                      const floating[::1] weight,           # IN or None
                      const floating[::1] bias,             # IN or None
                      bint train, double momentum, double eps):
    cdef int64_t rows = x.shape[0], cols = x.shape[1]
    if rows == 0 or cols == 0:
        return
    cdef int status = 0
    cdef floating *rm = _out_ptr(running_mean)
    cdef floating *rv = _out_ptr(running_var)
    cdef const floating *w = _in_ptr(weight)
    cdef const floating *b = _in_ptr(bias)
    with nogil:
        if floating is float:
            status = batchnorm_forward_f32(&out[0, 0], &save_mean[0], &save_rstd[0], rm, rv, &x[0, 0], w, b,
                                           train, momentum, eps, rows, cols)
        else:
            status = batchnorm_forward_f64(&out[0, 0], &save_mean[0], &save_rstd[0], rm, rv, &x[0, 0], w, b,
                                           train, momentum, eps, rows, cols)
    if status != 0:
        raise MemoryError("batch_norm: cannot allocate the statistics scratch")


def batchnorm_backward(floating[:, ::1] dinp not None,        # OUT
                       floating[::1] dweight,                  # OUT accumulated (+=), or None
                       floating[::1] dbias,                    # OUT accumulated (+=), or None
                       const floating[:, ::1] dout not None,   # IN
                       const floating[:, ::1] x not None,      # IN
                       const floating[::1] save_mean not None, # IN cache
                       const floating[::1] save_rstd not None, # IN cache
                       const floating[::1] weight,             # IN or None
                       bint train):
    cdef int64_t rows = x.shape[0], cols = x.shape[1]
    if rows == 0 or cols == 0:
        return
    cdef int status = 0
    cdef floating *dw = _out_ptr(dweight)
    cdef floating *db = _out_ptr(dbias)
    cdef const floating *w = _in_ptr(weight)
    with nogil:
        if floating is float:
            status = batchnorm_backward_f32(&dinp[0, 0], dw, db, &dout[0, 0], &x[0, 0], &save_mean[0],
                                   &save_rstd[0], w, train, rows, cols)
        else:
            status = batchnorm_backward_f64(&dinp[0, 0], dw, db, &dout[0, 0], &x[0, 0], &save_mean[0],
                                            &save_rstd[0], w, train, rows, cols)
    if status != 0:
        raise MemoryError("batch_norm_backward: cannot allocate the scratch")


def residual_forward(floating[::1] out not None,          # OUT x + fx (may be x or fx itself)
                     const floating[::1] x not None,      # IN the identity path
                     const floating[::1] fx not None):    # IN the branch output f(x)
    cdef int64_t n = x.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            residual_forward_f32(&out[0], &x[0], &fx[0], n)
        else:
            residual_forward_f64(&out[0], &x[0], &fx[0], n)


def residual_backward(floating[::1] dinp not None,         # OUT dout + dfx (may be dout or dfx itself)
                      const floating[::1] dout not None,   # IN the gradient highway (identity path)
                      const floating[::1] dfx not None):   # IN the gradient through the branch f
    cdef int64_t n = dout.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            residual_backward_f32(&dinp[0], &dout[0], &dfx[0], n)
        else:
            residual_backward_f64(&dinp[0], &dout[0], &dfx[0], n)
