"""Losses as objects: MSELoss, CrossEntropyLoss (mean reduction, as PyTorch's defaults).

    loss = CrossEntropyLoss()
    value = loss.forward(logits, target)   # a Python float (also loss(logits, target))
    grad = loss.backward()                 # d value / d logits, same shape as logits

A loss has no parameters and is not a Layer; backward() returns the gradient of the
mean loss (already divided by N, as torch), optionally scaled by `grad`.
The returned gradient lives in a buffer reused by the next backward of the same shape.
"""
from ..ops import loss as L
from ._base import BufferCache


class _Loss:
    """forward(pred, target) -> float and backward(grad=1.0) -> d loss / d pred, for a loss
    defined by three functions of deepgrad.ops.loss: `_prepare` (checks and converts the
    operands), `_value` and `_gradient`."""

    _name = "Loss"

    def __init__(self):
        self._buffers = BufferCache()
        self._saved = None

    def __call__(self, pred, target):
        return self.forward(pred, target)

    def forward(self, pred, target):
        pred, target = self._prepare(pred, target, f"{self._name}.forward")
        value = self._value(pred, target)
        self._saved = (pred, target)
        return value

    def backward(self, grad=1.0):
        if self._saved is None:
            raise RuntimeError(f"{self._name}.backward: call forward before backward")
        pred, target = self._saved
        out = self._buffers.get("grad", pred.shape, pred.dtype)
        return self._gradient(pred, target, grad, out=out)

    def __repr__(self):
        return f"{self._name}()"


class MSELoss(_Loss):
    """mean((pred - target)**2) (torch.nn.MSELoss())."""

    _name = "MSELoss"
    _prepare = staticmethod(L._pair)
    _value = staticmethod(L.mse_loss)
    _gradient = staticmethod(L.mse_loss_backward)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of (N, C) logits with integer targets (torch.nn.CrossEntropyLoss())."""

    _name = "CrossEntropyLoss"
    _prepare = staticmethod(L._class_targets)
    _value = staticmethod(L.cross_entropy)
    _gradient = staticmethod(L.cross_entropy_backward)
