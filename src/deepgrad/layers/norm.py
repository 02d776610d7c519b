"""Normalization layers: LayerNorm, RMSNorm, BatchNorm (deepgrad.ops.norm underneath).

Parameters in PyTorch's order (weight, then bias); weight starts at 1, bias at 0,
as torch. Forward/backward write into buffers reused per input shape; parameter
gradients accumulate into .grad (call zero_grad() between steps).
"""
import numpy as np

from .. import _validate as v
from ..ops import norm as F
from ._base import BufferCache, Layer, Parameter


def _features_input(layer, x, func, ndim=None):
    x = v.float_array(x, "x", func, dtype=layer.dtype, ndim=ndim)
    if x.ndim < 1 or x.shape[-1] != layer.features:
        raise ValueError(f"{func}: x must have {layer.features} features in its last dimension, "
                         f"got shape {x.shape}")
    return np.ascontiguousarray(x)


def _need_forward(saved, func):
    if saved is None:
        raise RuntimeError(f"{func}: call forward before backward")


class LayerNorm(Layer):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last dimension
    (torch.nn.LayerNorm(features, eps, elementwise_affine, bias))."""

    def __init__(self, features, eps=1e-5, *, elementwise_affine=True, bias=True, dtype=np.float32):
        func = "LayerNorm"
        self.features = v.positive_int(features, "features", func)
        self.eps = F._eps(eps, func)
        self.dtype = v.check_dtype_arg(dtype, func)
        self.weight = Parameter(np.ones(self.features, self.dtype), "weight") if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.features, self.dtype), "bias") \
            if elementwise_affine and bias else None
        self._buffers = BufferCache()
        self._x = self._mean = self._rstd = None

    def _own_parameters(self):
        return [p for p in (self.weight, self.bias) if p is not None]

    def forward(self, x):
        x = _features_input(self, x, "LayerNorm.forward")
        stats_shape = x.shape[:-1]
        y, mean, rstd = F.layer_norm(
            x, self.weight.data if self.weight is not None else None, self.bias.data if self.bias is not None else None, self.eps,
            out=self._buffers.get("y", x.shape, x.dtype), return_stats=True)
        self._x, self._mean, self._rstd = x, mean.reshape(stats_shape), rstd.reshape(stats_shape)
        return y

    def backward(self, grad_out):
        func = "LayerNorm.backward"
        _need_forward(self._x, func)
        grad_x, _, _ = F.layer_norm_backward(
            grad_out, self._x, self._mean, self._rstd, self.weight.data if self.weight is not None else None,
            grad_weight=self.weight.grad if self.weight is not None else None,
            grad_bias=self.bias.grad if self.bias is not None else None,
            out=self._buffers.get("grad_x", self._x.shape, self._x.dtype))
        return grad_x

    def __repr__(self):
        return f"LayerNorm({self.features}, eps={self.eps}, elementwise_affine={self.weight is not None})"


class RMSNorm(Layer):
    """y = x / sqrt(mean(x**2) + eps) * weight over the last dimension (torch.nn.RMSNorm).
    eps=None uses the machine epsilon of the dtype, as torch."""

    def __init__(self, features, eps=None, *, elementwise_affine=True, dtype=np.float32):
        func = "RMSNorm"
        self.features = v.positive_int(features, "features", func)
        self.dtype = v.check_dtype_arg(dtype, func)
        self.eps = None if eps is None else F._eps(eps, func)
        self.weight = Parameter(np.ones(self.features, self.dtype), "weight") if elementwise_affine else None
        self._buffers = BufferCache()
        self._x = self._rstd = None

    def _own_parameters(self):
        return [self.weight] if self.weight is not None else []

    def forward(self, x):
        x = _features_input(self, x, "RMSNorm.forward")
        y, rstd = F.rms_norm(x, self.weight.data if self.weight is not None else None, self.eps,
                             out=self._buffers.get("y", x.shape, x.dtype), return_stats=True)
        self._x, self._rstd = x, rstd
        return y

    def backward(self, grad_out):
        _need_forward(self._x, "RMSNorm.backward")
        grad_x, _ = F.rms_norm_backward(
            grad_out, self._x, self._rstd, self.weight.data if self.weight is not None else None,
            grad_weight=self.weight.grad if self.weight is not None else None,
            out=self._buffers.get("grad_x", self._x.shape, self._x.dtype))
        return grad_x

    def __repr__(self):
        return f"RMSNorm({self.features}, eps={self.eps})"


class BatchNorm(Layer):
    """Batch normalization of (batch, features) input over the batch (torch.nn.BatchNorm1d).

    train(): batch statistics; running_mean/running_var updated in place with
    momentum (unbiased variance, as torch); num_batches_tracked counts the updates.
    eval(): the running statistics. A training batch of one raises ValueError.
    """

    def __init__(self, features, eps=1e-5, momentum=0.1, *, affine=True, track_running_stats=True,
                 dtype=np.float32):
        func = "BatchNorm"
        self.features = v.positive_int(features, "features", func)
        self.eps = F._eps(eps, func)
        self.momentum = v.finite_float(momentum, "momentum", func)
        self.dtype = v.check_dtype_arg(dtype, func)
        self.affine = bool(affine)
        self.weight = Parameter(np.ones(self.features, self.dtype), "weight") if self.affine else None
        self.bias = Parameter(np.zeros(self.features, self.dtype), "bias") if self.affine else None
        self.track_running_stats = bool(track_running_stats)
        if self.track_running_stats:
            self.running_mean = np.zeros(self.features, self.dtype)
            self.running_var = np.ones(self.features, self.dtype)
        else:
            self.running_mean = self.running_var = None
        self.num_batches_tracked = 0
        self._buffers = BufferCache()
        self._x = self._mean = self._rstd = None
        self._batch_stats = True

    def _own_parameters(self):
        return [p for p in (self.weight, self.bias) if p is not None]

    def forward(self, x):
        x = _features_input(self, x, "BatchNorm.forward", ndim=2)
        # as torch: batch statistics in training, or always without running statistics
        batch_stats = self.training or not self.track_running_stats
        update = self.training and self.track_running_stats
        if update:
            self.num_batches_tracked += 1
        try:
            y, mean, rstd = F.batch_norm(
                x, self.weight.data if self.affine else None, self.bias.data if self.affine else None,
                self.running_mean if update or not batch_stats else None,
                self.running_var if update or not batch_stats else None,
                training=batch_stats, momentum=self.momentum, eps=self.eps,
                out=self._buffers.get("y", x.shape, x.dtype), return_stats=True)
        except ValueError as e:
            if update:
                self.num_batches_tracked -= 1
            raise ValueError(str(e).replace("batch_norm:", "BatchNorm.forward:", 1)) from None
        self._x, self._mean, self._rstd, self._batch_stats = x, mean, rstd, batch_stats
        return y

    def backward(self, grad_out):
        _need_forward(self._x, "BatchNorm.backward")
        grad_x, _, _ = F.batch_norm_backward(
            grad_out, self._x, self._mean, self._rstd, self.weight.data if self.affine else None,
            training=self._batch_stats,
            grad_weight=self.weight.grad if self.affine else None,
            grad_bias=self.bias.grad if self.affine else None,
            out=self._buffers.get("grad_x", self._x.shape, self._x.dtype))
        return grad_x

    def __repr__(self):
        return (f"BatchNorm({self.features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats})")
