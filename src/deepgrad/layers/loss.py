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
    _name = "Loss"

    def __init__(self):
        self._buffers = BufferCache()
        self._saved = None

    def __call__(self, pred, target):
        return self.forward(pred, target)

    def _saved_or_raise(self):
        if self._saved is None:
            raise RuntimeError(f"{self._name}.backward: call forward before backward")
        return self._saved

    def __repr__(self):
        return f"{self._name}()"


class MSELoss(_Loss):
    """mean((pred - target)**2) (torch.nn.MSELoss())."""

    _name = "MSELoss"

    def forward(self, pred, target):
        pred, target = L._pair(pred, target, "MSELoss.forward")
        value = L.mse_loss(pred, target)
        self._saved = (pred, target)
        return value

    def backward(self, grad=1.0):
        pred, target = self._saved_or_raise()
        out = self._buffers.get("grad", pred.shape, pred.dtype)
        return L.mse_loss_backward(pred, target, grad, out=out)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of (N, C) logits with integer targets (torch.nn.CrossEntropyLoss())."""

    _name = "CrossEntropyLoss"

    def forward(self, pred, target):
        logits, target = L._class_targets(pred, target, "CrossEntropyLoss.forward")
        value = L.cross_entropy(logits, target)
        self._saved = (logits, target)
        return value

    def backward(self, grad=1.0):
        logits, target = self._saved_or_raise()
        out = self._buffers.get("grad", logits.shape, logits.dtype)
        return L.cross_entropy_backward(logits, target, grad, out=out)
