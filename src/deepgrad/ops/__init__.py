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
from .loss import cross_entropy, cross_entropy_backward, mse_loss, mse_loss_backward
from .norm import (
    batch_norm,
    batch_norm_backward,
    layer_norm,
    layer_norm_backward,
    rms_norm,
    rms_norm_backward,
)
from .residual import residual_add, residual_backward

__all__ = [
    "ACTIVATIONS", "copy", "gelu", "gelu_backward", "leaky_relu", "leaky_relu_backward", "relu",
    "relu_backward", "sigmoid", "sigmoid_backward", "sigmoid_libm", "silu", "silu_backward",
    "tanh", "tanh_backward",
    "batch_norm", "batch_norm_backward", "cross_entropy", "cross_entropy_backward", "layer_norm",
    "layer_norm_backward", "mse_loss", "mse_loss_backward", "residual_add", "residual_backward",
    "rms_norm", "rms_norm_backward",
    "dense_backward", "dense_forward", "matmul",
]
