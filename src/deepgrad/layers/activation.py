"""Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh, GELU, SiLU (deepgrad.ops underneath)."""

from .. import _validate as v
from .. import ops
from ._base import BufferCache, Layer


class Activation(Layer):
    """An elementwise activation as a layer; `name` is a key of deepgrad.ops.ACTIVATIONS."""

    def __init__(self, name, **kwargs):
        if name not in ops.ACTIVATIONS:
            raise ValueError(f"Activation: unknown activation {name!r}; expected one of "
                             f"{sorted(ops.ACTIVATIONS)}")
        self.name = name
        self.kwargs = kwargs
        self._forward_fn, self._backward_fn, self._saves = ops.ACTIVATIONS[name]
        self._buffers = BufferCache()
        self._x = self._y = None

    def forward(self, x):
        x = v.float_array(x, "x", f"{type(self).__name__}.forward")
        y = self._buffers.get("y", x.shape, x.dtype)
        self._forward_fn(x, out=y, **self.kwargs)
        self._x, self._y = x, y
        return y

    @property
    def last_output(self):
        """The output of the last forward (a reused buffer: valid until the next forward)."""
        return self._y

    def backward(self, grad_out):
        func = f"{type(self).__name__}.backward"
        if self._y is None:
            raise RuntimeError(f"{func}: call forward before backward")
        saved = self._y if self._saves == "y" else self._x
        grad_in = self._buffers.get("grad_in", saved.shape, saved.dtype)
        return self._backward_fn(grad_out, saved, out=grad_in, **self.kwargs)

    def __repr__(self):
        args = ", ".join(f"{k}={val!r}" for k, val in self.kwargs.items())
        return f"{type(self).__name__}({args})"


class ReLU(Activation):
    def __init__(self):
        super().__init__("relu")


class LeakyReLU(Activation):
    def __init__(self, negative_slope=0.01):
        super().__init__("leaky_relu", negative_slope=v.finite_float(negative_slope, "negative_slope", "LeakyReLU"))


class Sigmoid(Activation):
    def __init__(self):
        super().__init__("sigmoid")


class Tanh(Activation):
    def __init__(self):
        super().__init__("tanh")


class GELU(Activation):
    def __init__(self, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        super().__init__("gelu", approximate=approximate)


class SiLU(Activation):
    def __init__(self):
        super().__init__("silu")


ACTIVATION_LAYERS = {"relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh,
                     "gelu": GELU, "silu": SiLU}

