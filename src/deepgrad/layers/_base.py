"""The layer protocol every deepgrad layer follows.

    y = layer.forward(x)            # also layer(x)
    grad_x = layer.backward(grad_y) # after forward; accumulates parameter .grad
    layer.parameters()              # [Parameter, ...] in torch.nn.Module.parameters() order
    layer.zero_grad(); layer.train(); layer.eval()

Buffers: forward and backward write into arrays allocated once per input shape and
reused by the next call of the same shape, so a training step allocates nothing.
Copy a returned array if you need it after the next call.
"""
import numpy as np


class Parameter:
    """A trainable array and its gradient (same shape and dtype)."""

    __slots__ = ("data", "grad", "name")

    def __init__(self, data, name=""):
        self.data = np.ascontiguousarray(data)
        self.grad = np.zeros_like(self.data)
        self.name = name

    @property
    def shape(self):
        return self.data.shape

    def zero_grad(self):
        self.grad.fill(0)

    def __repr__(self):
        return f"Parameter({self.name or '?'}, shape={self.data.shape}, dtype={self.data.dtype})"


class Layer:
    """Base class: subclasses implement forward/backward and list their parameters."""

    training = True

    def forward(self, x):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    def parameters(self):
        """Parameters of this layer and its children, in PyTorch's order."""
        params = list(self._own_parameters())
        for child in self.children():
            params.extend(child.parameters())
        return params

    def _own_parameters(self):
        return ()

    def children(self):
        return ()

    def zero_grad(self):
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode=True):
        self.training = bool(mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)


class BufferCache:
    """Arrays reused across calls: one per (key, shape, dtype)."""

    __slots__ = ("_arrays",)

    def __init__(self):
        self._arrays = {}

    def get(self, key, shape, dtype):
        a = self._arrays.get(key)
        if a is None or a.shape != tuple(shape) or a.dtype != dtype:
            a = np.empty(shape, dtype=dtype)
            self._arrays[key] = a
        return a
