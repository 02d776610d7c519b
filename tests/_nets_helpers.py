"""Pure-NumPy stand-ins for the Dense layer and the losses (the real ones are C kernels
written elsewhere); they follow the same protocols, so Sequential, the optimizers and
train() can be tested on their own. Allocation-free after the first call of a shape,
like the real layers, so the no-allocation tests measure Sequential/optimizers only."""
import numpy as np

from deepgrad.init import as_generator
from deepgrad.layers import BufferCache, Layer, Parameter


class Linear(Layer):
    """y = x W^T + b; W (out, in); backward accumulates dW += g^T x, db += sum_rows g."""

    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=np.float64):
        gen = as_generator(rng)
        bound = 1.0 / np.sqrt(in_features)
        self.weight = Parameter(gen.uniform(-bound, bound, (out_features, in_features)).astype(dtype), "weight")
        self.bias = Parameter(gen.uniform(-bound, bound, out_features).astype(dtype), "bias") if bias else None
        self._buf = BufferCache()
        self._x = None
        self.modes = []          # training flag seen at each forward (for tests)

    def _own_parameters(self):
        return (self.weight,) if self.bias is None else (self.weight, self.bias)

    def forward(self, x):
        self.modes.append(self.training)
        y = self._buf.get("y", (x.shape[0], self.weight.shape[0]), x.dtype)
        np.matmul(x, self.weight.data.T, out=y)
        if self.bias is not None:
            np.add(y, self.bias.data, out=y)
        self._x = x
        return y

    def backward(self, g):
        dw = self._buf.get("dw", self.weight.shape, g.dtype)
        np.matmul(g.T, self._x, out=dw)
        np.add(self.weight.grad, dw, out=self.weight.grad)
        if self.bias is not None:
            db = self._buf.get("db", self.bias.shape, g.dtype)
            np.add.reduce(g, axis=0, out=db)
            np.add(self.bias.grad, db, out=self.bias.grad)
        gx = self._buf.get("gx", self._x.shape, g.dtype)
        np.matmul(g, self.weight.data, out=gx)
        return gx

    def __repr__(self):
        return f"Linear({self.weight.shape[1]}, {self.weight.shape[0]})"


class MSELoss:
    """mean((pred - target)^2); backward: 2 (pred - target) / pred.size."""

    def forward(self, pred, target):
        self._diff = pred - target.reshape(pred.shape)
        return float(np.mean(self._diff.astype(np.float64) ** 2))

    def backward(self):
        return (2.0 / self._diff.size) * self._diff


class CrossEntropyLoss:
    """mean over rows of -log softmax(logits)[label]; backward: (softmax - onehot) / batch."""

    def forward(self, logits, labels):
        z = logits - logits.max(axis=1, keepdims=True)
        logsum = np.log(np.exp(z).sum(axis=1, keepdims=True))
        self._p = np.exp(z - logsum)
        self._labels = np.array(labels)
        return float(-np.mean((z - logsum)[np.arange(len(labels)), labels]))

    def backward(self):
        g = self._p.copy()
        g[np.arange(len(self._labels)), self._labels] -= 1.0
        return g / len(self._labels)


def mlp(sizes, activation, rng=0, dtype=np.float64):
    """Sequential(Linear, act, Linear, act, ..., Linear) with deepgrad activation layers."""
    from deepgrad.layers import ACTIVATION_LAYERS, Sequential
    gen = as_generator(rng)
    layers = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(a, b, rng=gen, dtype=dtype))
        if k < len(sizes) - 2:
            layers.append(ACTIVATION_LAYERS[activation]())
    return Sequential(*layers)
