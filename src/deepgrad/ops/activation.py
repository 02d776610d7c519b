"""Activation functions and their backward passes (C kernels: csrc/activation.c).

Any shape, float32 or float64 (never converted), C- or F-ordered or strided input
(strided input is copied). `out=` must match shape and dtype, be writeable and
contiguous; it may be the input itself (in place).

Backward functions take what PyTorch's autograd saves: sigmoid and tanh the
forward *output* y, the others the forward *input* x.
"""
import numpy as np

from .. import _core
from .. import _validate as v

#: activation name -> (forward, backward, what backward takes: "x" or "y")
ACTIVATIONS = {}


# The Cython functions are fused over float/double; picking the specialization here
# by dtype skips the generic dispatch (~0.1 us per call, which shows at 4K elements).
_FORWARD = {np.dtype(np.float32): _core.activation_forward["float"],
            np.dtype(np.float64): _core.activation_forward["double"]}
_BACKWARD = {np.dtype(np.float32): _core.activation_backward["float"],
             np.dtype(np.float64): _core.activation_backward["double"]}


def _forward(func, kernel, x, out):
    result = _core.activation_forward_fast(kernel, x, out)  # the common case, checked in C
    if result is not None:
        return result
    flat_out, (flat_x,), out = v.elementwise(func, [("x", x)], out)
    _FORWARD[flat_x.dtype](kernel, flat_out, flat_x)
    return out


def _backward(func, kernel, grad_out, saved, saved_name, out):
    result = _core.activation_backward_fast(kernel, grad_out, saved, out)
    if result is not None:
        return result
    flat_out, (flat_g, flat_s), out = v.elementwise(func, [("grad_out", grad_out), (saved_name, saved)], out)
    _BACKWARD[flat_g.dtype](kernel, flat_out, flat_g, flat_s)
    return out


def relu(x, out=None):
    """max(x, 0) elementwise (NaN stays NaN)."""
    return _forward("relu", _core.ACT_RELU, x, out)


def relu_backward(grad_out, x, out=None):
    """grad_out where x > 0, else 0 (0 at x == 0, as PyTorch)."""
    return _backward("relu_backward", _core.ACT_RELU, grad_out, x, "x", out)


def _slope(negative_slope, func):
    return v.finite_float(negative_slope, "negative_slope", func)


def leaky_relu(x, negative_slope=0.01, out=None):
    """x where x > 0, else negative_slope * x."""
    slope = _slope(negative_slope, "leaky_relu")
    result = _core.activation_forward_fast(_core.ACT_LEAKY_RELU, x, out, slope)
    if result is not None:
        return result
    flat_out, (flat_x,), out = v.elementwise("leaky_relu", [("x", x)], out)
    _core.leaky_relu_forward(flat_out, flat_x, slope)
    return out


def leaky_relu_backward(grad_out, x, negative_slope=0.01, out=None):
    """grad_out where x > 0, else negative_slope * grad_out."""
    slope = _slope(negative_slope, "leaky_relu_backward")
    result = _core.activation_backward_fast(_core.ACT_LEAKY_RELU, grad_out, x, out, slope)
    if result is not None:
        return result
    flat_out, (flat_g, flat_x), out = v.elementwise(
        "leaky_relu_backward", [("grad_out", grad_out), ("x", x)], out)
    _core.leaky_relu_backward(flat_out, flat_g, flat_x, slope)
    return out


def sigmoid(x, out=None):
    """1 / (1 + exp(-x)), computed without overflow (sigmoid(-1000) == 0 exactly)."""
    return _forward("sigmoid", _core.ACT_SIGMOID, x, out)


def sigmoid_backward(grad_out, y, out=None):
    """grad_out * y * (1 - y), from the forward output y."""
    return _backward("sigmoid_backward", _core.ACT_SIGMOID, grad_out, y, "y", out)


def sigmoid_libm(x, out=None):
    """sigmoid through one libm exp() call per element: the baseline the benchmarks compare to."""
    return _forward("sigmoid_libm", _core.ACT_SIGMOID_LIBM, x, out)


def tanh(x, out=None):
    """Hyperbolic tangent."""
    return _forward("tanh", _core.ACT_TANH, x, out)


def tanh_backward(grad_out, y, out=None):
    """grad_out * (1 - y**2), from the forward output y."""
    return _backward("tanh_backward", _core.ACT_TANH, grad_out, y, "y", out)


def _gelu_kernel(approximate, func):
    if approximate == "none":
        return _core.ACT_GELU
    if approximate == "tanh":
        return _core.ACT_GELU_TANH
    raise ValueError(f"{func}: approximate must be 'none' or 'tanh', got {approximate!r}")


def gelu(x, approximate="none", out=None):
    """x * Phi(x) (exact erf form) or its tanh approximation, as torch.nn.functional.gelu."""
    return _forward("gelu", _gelu_kernel(approximate, "gelu"), x, out)


def gelu_backward(grad_out, x, approximate="none", out=None):
    return _backward("gelu_backward", _gelu_kernel(approximate, "gelu_backward"), grad_out, x, "x", out)


def silu(x, out=None):
    """x * sigmoid(x) (a.k.a. swish)."""
    return _forward("silu", _core.ACT_SILU, x, out)


def silu_backward(grad_out, x, out=None):
    return _backward("silu_backward", _core.ACT_SILU, grad_out, x, "x", out)


def copy(x, out=None):
    """A plain copy through the same machinery: the memory-bandwidth roof of the benchmarks."""
    return _forward("copy", _core.ACT_COPY, x, out)


ACTIVATIONS.update({
    "relu": (relu, relu_backward, "x"),
    "leaky_relu": (leaky_relu, leaky_relu_backward, "x"),
    "sigmoid": (sigmoid, sigmoid_backward, "y"),
    "tanh": (tanh, tanh_backward, "y"),
    "gelu": (gelu, gelu_backward, "x"),
    "gelu_tanh": (lambda x, out=None: gelu(x, "tanh", out),
                  lambda g, x, out=None: gelu_backward(g, x, "tanh", out), "x"),
    "silu": (silu, silu_backward, "x"),
})
