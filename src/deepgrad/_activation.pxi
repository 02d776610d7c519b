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
