"""Dense (fully connected) layer: y = x W^T + b, PyTorch's nn.Linear (deepgrad.ops underneath)."""
import math

import numpy as np

from .. import _validate as v
from .. import ops
from ._base import BufferCache, Layer, Parameter


def _as_generator(rng, func):
    if rng is None or isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"{func}: rng must be None, an int seed or a numpy.random.Generator, "
                    f"got {type(rng).__name__}")


def _resolve_init(init, func):
    """init -> callable(weight, rng) filling the (out, in) weight in place, or None (PyTorch default)."""
    if init is None or callable(init):
        return init
    if isinstance(init, str):
        from .. import init as init_module
        try:
            return init_module.get_initializer(init)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{func}: unknown init {init!r}: {exc}") from None
    raise TypeError(f"{func}: init must be None, a callable init(weight, rng) or a name, "
                    f"got {type(init).__name__}")


class Dense(Layer):
    """y = x @ W.T + b with W of shape (out_features, in_features), as torch.nn.Linear.

    init: None -> PyTorch's default, W and b ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform
          with a=sqrt(5)); a callable init(weight, rng) that fills the weight in place; or
          a name understood by deepgrad.init.get_initializer. The bias keeps the default.
    rng: None, an int seed or a numpy.random.Generator.
    forward accepts x of shape (..., in_features) and saves it for backward; backward
    returns grad_x and accumulates weight.grad and bias.grad.
    """

    def __init__(self, in_features, out_features, bias=True, init=None, dtype=np.float32, rng=None):
        func = "Dense"
        self.in_features = v.positive_int(in_features, "in_features", func)
        self.out_features = v.positive_int(out_features, "out_features", func)
        self.dtype = v.check_dtype_arg(dtype, func)
        gen = _as_generator(rng, func)
        init_fn = _resolve_init(init, func)
        bound = 1.0 / math.sqrt(self.in_features)
        w = np.empty((self.out_features, self.in_features), dtype=self.dtype)
        if init_fn is None:
            w[...] = gen.uniform(-bound, bound, size=w.shape)
        else:
            init_fn(w, gen)
        self.weight = Parameter(w, "weight")
        self.bias = None
        if bias:
            self.bias = Parameter(gen.uniform(-bound, bound, size=self.out_features).astype(self.dtype),
                                  "bias")
        self._buffers = BufferCache()
        self._x = None

    def _own_parameters(self):
        return (self.weight,) if self.bias is None else (self.weight, self.bias)

    def forward(self, x):
        func = "Dense.forward"
        x = v.float_array(x, "x", func, dtype=self.dtype)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"{func}: x has shape {x.shape}, expected (..., {self.in_features})")
        x = np.ascontiguousarray(x)
        y = self._buffers.get("y", x.shape[:-1] + (self.out_features,), self.dtype)
        ops.dense_forward(x, self.weight.data, None if self.bias is None else self.bias.data, out=y)
        self._x = x
        return y

    def backward(self, grad_out):
        func = "Dense.backward"
        if self._x is None:
            raise RuntimeError(f"{func}: call forward before backward")
        x = self._x
        grad_x = self._buffers.get("grad_x", x.shape, self.dtype)
        gx, _, _ = ops.dense_backward(grad_out, x, self.weight.data, need_bias=self.bias is not None,
                                      grad_x=grad_x, grad_W=self.weight.grad,
                                      grad_b=None if self.bias is None else self.bias.grad)
        return gx

    def __repr__(self):
        return (f"Dense(in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, dtype={np.dtype(self.dtype).name})")
