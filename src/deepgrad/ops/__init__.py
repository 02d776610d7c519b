"""deepgrad.ops: every kernel as a function on NumPy arrays.

Each function validates its arguments (see deepgrad._validate for the policy),
allocates the result unless `out=` is given, and makes one C call with the GIL
released.
"""
from .activation import (
    ACTIVATIONS,
    copy,
    gelu,
    gelu_backward,
    leaky_relu,
    leaky_relu_backward,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    sigmoid_libm,
    silu,
    silu_backward,
    tanh,
    tanh_backward,
)
from .dense import dense_backward, dense_forward, matmul

__all__ = [
    "ACTIVATIONS", "copy", "gelu", "gelu_backward", "leaky_relu", "leaky_relu_backward", "relu",
    "relu_backward", "sigmoid", "sigmoid_backward", "sigmoid_libm", "silu", "silu_backward",
    "tanh", "tanh_backward", "dense_backward", "dense_forward", "matmul",
]
