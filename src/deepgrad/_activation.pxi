# Bindings of csrc/activation.c (included by _core.pyx).
#
# The kernels with the same signature are called through per-dtype tables
# indexed by a kernel id, so there is one wrapper per signature, not one per kernel.

ctypedef void (*forward_f32_fn)(float *, const float *, int64_t) noexcept nogil
ctypedef void (*forward_f64_fn)(double *, const double *, int64_t) noexcept nogil
ctypedef void (*backward_f32_fn)(float *, const float *, const float *, int64_t) noexcept nogil
ctypedef void (*backward_f64_fn)(double *, const double *, const double *, int64_t) noexcept nogil

# kernel ids (the Python layer maps names to these)
ACT_RELU, ACT_SIGMOID, ACT_TANH, ACT_GELU, ACT_GELU_TANH, ACT_SILU, ACT_SIGMOID_LIBM, ACT_COPY = range(8)
DEF N_ACT = 8
# leaky_relu takes a parameter: not in the tables, only in the fast path below
ACT_LEAKY_RELU = N_ACT

cdef forward_f32_fn forward_f32[N_ACT]
cdef forward_f64_fn forward_f64[N_ACT]
cdef backward_f32_fn backward_f32[N_ACT]
cdef backward_f64_fn backward_f64[N_ACT]

forward_f32[:] = [relu_forward_f32, sigmoid_forward_f32, tanh_forward_f32, gelu_forward_f32,
                  gelu_tanh_forward_f32, silu_forward_f32, sigmoid_libm_forward_f32, copy_forward_f32]
forward_f64[:] = [relu_forward_f64, sigmoid_forward_f64, tanh_forward_f64, gelu_forward_f64,
                  gelu_tanh_forward_f64, silu_forward_f64, sigmoid_libm_forward_f64, copy_forward_f64]
# (no backward for the libm sigmoid and the copy: their slots are never used)
backward_f32[:] = [relu_backward_f32, sigmoid_backward_f32, tanh_backward_f32, gelu_backward_f32,
                   gelu_tanh_backward_f32, silu_backward_f32, sigmoid_backward_f32, sigmoid_backward_f32]
backward_f64[:] = [relu_backward_f64, sigmoid_backward_f64, tanh_backward_f64, gelu_backward_f64,
                   gelu_tanh_backward_f64, silu_backward_f64, sigmoid_backward_f64, sigmoid_backward_f64]


# ---------------------------------------------------------------- fast path
# The common call -- plain float32/float64 C-contiguous arrays of one shape, `out` None,
# an input itself, or an array sharing no memory with the inputs -- checked here in C
# with the NumPy C API (~0.1 us instead of ~1.3 us for the same checks in Python, which
# is 10-30% of a 64K-element activation). Anything else returns None and deepgrad.ops
# runs the full checks in deepgrad._validate, which copy or raise as documented there.

cdef int plain_typenum(object a) noexcept:
    """NPY_FLOAT or NPY_DOUBLE when `a` is exactly an ndarray of that native dtype,
    C-contiguous and aligned (what the kernels take as it is); -1 otherwise."""
    if type(a) is not cnp.ndarray:
        return -1
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if not (cnp.PyArray_IS_C_CONTIGUOUS(arr) and cnp.PyArray_ISALIGNED(arr)
            and cnp.PyArray_ISNOTSWAPPED(arr)):
        return -1
    cdef int t = cnp.PyArray_TYPE(arr)
    return t if t == cnp.NPY_FLOAT or t == cnp.NPY_DOUBLE else -1


cdef bint same_shape(cnp.ndarray a, cnp.ndarray b) noexcept:
    cdef int d
    if cnp.PyArray_NDIM(a) != cnp.PyArray_NDIM(b):
        return False
    for d in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_DIM(a, d) != cnp.PyArray_DIM(b, d):
            return False
    return True


cdef bint apart(object a, object b) noexcept:
    """The memory of a and b (contiguous ndarrays, or None) does not overlap."""
    if a is None or b is None:
        return True
    cdef char *pa = <char *>cnp.PyArray_DATA(<cnp.ndarray>a)
    cdef char *pb = <char *>cnp.PyArray_DATA(<cnp.ndarray>b)
    return (pa + cnp.PyArray_NBYTES(<cnp.ndarray>a) <= pb
            or pb + cnp.PyArray_NBYTES(<cnp.ndarray>b) <= pa)


cdef bint separate_or_same(cnp.ndarray out, cnp.ndarray a) noexcept:
    """out and a (same shape and dtype, both contiguous) are the same memory or disjoint."""
    return cnp.PyArray_DATA(out) == cnp.PyArray_DATA(a) or apart(out, a)


cdef object fast_output(object out, cnp.ndarray like, int typenum):
    """A new array like `like`, or `out` when it is a plain writeable array of the same
    dtype and shape; None when `out` needs the full checks."""
    if out is None:
        return cnp.PyArray_EMPTY(cnp.PyArray_NDIM(like), cnp.PyArray_DIMS(like), typenum, 0)
    if plain_typenum(out) != typenum:
        return None
    cdef cnp.ndarray o = <cnp.ndarray>out
    if not (cnp.PyArray_ISWRITEABLE(o) and same_shape(o, like)):
        return None
    return out


def activation_forward_fast(int kernel, x, out, double param=0):
    """out = f(x) when x (and out) take the fast path (see above); None otherwise.
    param: leaky_relu's negative slope (kernel ACT_LEAKY_RELU), unused otherwise."""
    if kernel < 0 or kernel > N_ACT:
        raise ValueError(f"unknown activation kernel {kernel}")
    cdef int t = plain_typenum(x)
    if t < 0:
        return None
    result = fast_output(out, <cnp.ndarray>x, t)
    if result is None or not separate_or_same(<cnp.ndarray>result, <cnp.ndarray>x):
        return None
    cdef void *po = cnp.PyArray_DATA(<cnp.ndarray>result)
    cdef const void *px = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef int64_t n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    if n > 0:
        with nogil:
            if kernel == N_ACT:
                if t == cnp.NPY_FLOAT:
                    leaky_relu_forward_f32(<float *>po, <const float *>px, <float>param, n)
                else:
                    leaky_relu_forward_f64(<double *>po, <const double *>px, param, n)
            elif t == cnp.NPY_FLOAT:
                forward_f32[kernel](<float *>po, <const float *>px, n)
            else:
                forward_f64[kernel](<double *>po, <const double *>px, n)
    return result


def activation_backward_fast(int kernel, dout, saved, out, double param=0):
    """out = dout * f'(saved) when all operands take the fast path; None otherwise."""
    if kernel < 0 or kernel > N_ACT:
        raise ValueError(f"unknown activation kernel {kernel}")
    cdef int t = plain_typenum(dout)
    if t < 0 or plain_typenum(saved) != t or not same_shape(<cnp.ndarray>dout, <cnp.ndarray>saved):
        return None
    result = fast_output(out, <cnp.ndarray>dout, t)
    if result is None or not (separate_or_same(<cnp.ndarray>result, <cnp.ndarray>dout)
                              and separate_or_same(<cnp.ndarray>result, <cnp.ndarray>saved)):
        return None
    cdef void *po = cnp.PyArray_DATA(<cnp.ndarray>result)
    cdef const void *pg = cnp.PyArray_DATA(<cnp.ndarray>dout)
    cdef const void *ps = cnp.PyArray_DATA(<cnp.ndarray>saved)
    cdef int64_t n = cnp.PyArray_SIZE(<cnp.ndarray>dout)
    if n > 0:
        with nogil:
            if kernel == N_ACT:
                if t == cnp.NPY_FLOAT:
                    leaky_relu_backward_f32(<float *>po, <const float *>pg, <const float *>ps, <float>param, n)
                else:
                    leaky_relu_backward_f64(<double *>po, <const double *>pg, <const double *>ps, param, n)
            elif t == cnp.NPY_FLOAT:
                backward_f32[kernel](<float *>po, <const float *>pg, <const float *>ps, n)
            else:
                backward_f64[kernel](<double *>po, <const double *>pg, <const double *>ps, n)
    return result


def activation_forward(int kernel,
                       floating[::1] out not None,      # OUT f(x), may be x itself
                       const floating[::1] x not None):  # IN
    """out = f(x) for kernel id `kernel`; 1-d contiguous arrays of equal length."""
    cdef int64_t n = x.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            forward_f32[kernel](&out[0], &x[0], n)
        else:
            forward_f64[kernel](&out[0], &x[0], n)


def activation_backward(int kernel,
                        floating[::1] dinp not None,          # OUT dout * f'(saved)
                        const floating[::1] dout not None,    # IN upstream gradient
                        const floating[::1] saved not None):  # IN x (relu, gelu, silu) or y (sigmoid, tanh)
    cdef int64_t n = dout.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            backward_f32[kernel](&dinp[0], &dout[0], &saved[0], n)
        else:
            backward_f64[kernel](&dinp[0], &dout[0], &saved[0], n)


def leaky_relu_forward(floating[::1] out not None,       # OUT
                       const floating[::1] x not None,   # IN
                       double negative_slope):
    cdef int64_t n = x.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            leaky_relu_forward_f32(&out[0], &x[0], <float>negative_slope, n)
        else:
            leaky_relu_forward_f64(&out[0], &x[0], negative_slope, n)


def leaky_relu_backward(floating[::1] dinp not None,       # OUT
                        const floating[::1] dout not None,  # IN
                        const floating[::1] x not None,     # IN saved input
                        double negative_slope):
    cdef int64_t n = dout.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            leaky_relu_backward_f32(&dinp[0], &dout[0], &x[0], <float>negative_slope, n)
        else:
            leaky_relu_backward_f64(&dinp[0], &dout[0], &x[0], negative_slope, n)
