"""Losses with mean reduction, as PyTorch's defaults (C kernels: csrc/loss.c).

    mse_loss(pred, target)              -> float  mean((pred - target)**2)
    cross_entropy(logits, target)       -> float  mean(logsumexp(logits[i]) - logits[i, target[i]])
    *_backward(..., grad=1.0, out=None) -> gradient of grad * loss with respect to pred/logits

The loss value is a Python float computed in double and rounded to the input's dtype;
its bits do not depend on the thread count. Empty input gives NaN (0/0), as torch.
"""
import numpy as np

from .. import _core
from .. import _validate as v


def _pair(pred, target, func):
    pred = v.float_array(pred, "pred", func)
    target = v.float_array(target, "target", func, dtype=pred.dtype)
    if target.shape != pred.shape:
        raise ValueError(f"{func}: target has shape {target.shape} but pred has shape {pred.shape}; "
                         f"they must match (deepgrad does not broadcast losses)")
    # np.asarray(order="C"), not np.ascontiguousarray: that one turns a 0-d array into shape (1,)
    return np.asarray(pred, order="C"), np.asarray(target, order="C")


def _grad(grad, func):
    return v.finite_float(grad, "grad", func)


def mse_loss(pred, target):
    """mean((pred - target)**2) over all elements (torch.nn.functional.mse_loss)."""
    pred, target = _pair(pred, target, "mse_loss")
    return _core.mse_loss_forward(pred.reshape(-1), target.reshape(-1))


def mse_loss_backward(pred, target, grad=1.0, out=None):
    """d(grad * mse_loss)/d pred = grad * 2 (pred - target) / pred.size."""
    func = "mse_loss_backward"
    pred, target = _pair(pred, target, func)
    grad = _grad(grad, func)
    out = v.output(out, "out", func, shape=pred.shape, dtype=pred.dtype,
                   inputs=[("pred", pred), ("target", target)], allow_alias=True)
    _core.mse_loss_backward(out.reshape(-1), pred.reshape(-1), target.reshape(-1), grad)
    return out


def _class_targets(logits, target, func):
    """(N, C) float logits and (N,) integer targets in [0, C), as (logits, int64 target)."""
    logits = np.ascontiguousarray(v.float_array(logits, "logits", func, ndim=2))
    if not isinstance(target, np.ndarray):
        raise TypeError(f"{func}: target must be a numpy.ndarray of integer class indices, "
                        f"got {type(target).__name__}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{func}: target must have an integer dtype (class indices), got {target.dtype}")
    if target.ndim != 1:
        raise ValueError(f"{func}: target must be 1-d (one class index per row), got shape {target.shape}")
    rows, classes = logits.shape
    if target.shape[0] != rows:
        raise ValueError(f"{func}: target has {target.shape[0]} entries but logits has {rows} rows "
                         f"(shape {logits.shape}); they must match")
    if rows:
        bad = np.flatnonzero((target < 0) | (target >= classes))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{func}: target[{i}] = {int(target[i])} is out of range for {classes} "
                             f"classes (expected 0 <= target < {classes})")
    return logits, np.require(target, np.int64, ["C", "A"])  # contiguous, aligned, native int64


def cross_entropy(logits, target):
    """Softmax cross-entropy of (N, C) logits with (N,) integer targets, mean over N
    (torch.nn.functional.cross_entropy). Stable for logits of any magnitude (log-sum-exp)."""
    logits, target = _class_targets(logits, target, "cross_entropy")
    return _core.cross_entropy_forward(logits, target)


def cross_entropy_backward(logits, target, grad=1.0, out=None):
    """d(grad * cross_entropy)/d logits = grad * (softmax(logits) - onehot(target)) / N."""
    func = "cross_entropy_backward"
    logits, target = _class_targets(logits, target, func)
    grad = _grad(grad, func)
    out = v.output(out, "out", func, shape=logits.shape, dtype=logits.dtype,
                   inputs=[("logits", logits)], allow_alias=False)
    _core.cross_entropy_backward(out, logits, target, grad)
    return out
