"""Normalizations over the last dimension (LayerNorm, RMSNorm) and over the batch
(BatchNorm), forward and backward (C kernels: csrc/norm.c).

Layout: LayerNorm and RMSNorm take any ndim >= 1 and normalize each vector along the
last axis (PyTorch's normalized_shape=(x.shape[-1],)); the caches (mean, rstd) have
shape x.shape[:-1]. BatchNorm takes a 2-d (batch, features) array, as nn.BatchNorm1d.

Policy: float32 or float64, never converted; every array of one call has the same
dtype. Non-contiguous input is copied. `out=` must be writeable, C-contiguous, of the
result's shape and dtype, and may not overlap any input (the kernels read each row
twice before writing it). Parameter gradients are ACCUMULATED into `grad_weight` /
`grad_bias` when you pass them (the layers do), otherwise returned in new arrays.
Statistics are computed in double, in an order that does not depend on the thread
count: results are bit-identical for any deepgrad.set_num_threads().
"""
import numpy as np

from .. import _core
from .. import _validate as v

_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _fast_eps(eps):
    """eps as a float when it is a plain finite float >= 0 (the fast paths), else None."""
    return eps if type(eps) is float and 0.0 <= eps < float("inf") else None


def _rows_input(x, func, name="x"):
    """x (any ndim >= 1) -> (C-contiguous x, its (rows, cols) view)."""
    x = v.float_array(x, name, func)
    if x.ndim < 1:
        raise ValueError(f"{func}: {name} must have at least 1 dimension, got a 0-d array")
    x = np.ascontiguousarray(x)
    cols = x.shape[-1]
    rows = x.size // cols if cols else int(np.prod(x.shape[:-1], dtype=np.int64))
    return x, x.reshape(rows, cols)


def _param(p, name, func, features, dtype):
    """An optional (features,) parameter of the input's dtype, as a contiguous array."""
    if p is None:
        return None
    p = v.float_array(p, name, func, ndim=1, dtype=dtype)
    if p.shape != (features,):
        raise ValueError(f"{func}: {name} must have shape ({features},) to match the last "
                         f"dimension of x, got shape {p.shape}")
    return np.ascontiguousarray(p)


def _eps(eps, func):
    eps = v.finite_float(eps, "eps", func)
    if eps < 0:
        raise ValueError(f"{func}: eps must be >= 0, got {eps}")
    return eps


def _stat(a, name, func, shape, dtype):
    """A per-row or per-feature cache (mean, rstd) given back to a backward function."""
    a = v.float_array(a, name, func, dtype=dtype)
    if a.shape != tuple(shape):
        raise ValueError(f"{func}: {name} must have shape {tuple(shape)}, got {a.shape}")
    return np.ascontiguousarray(a).reshape(-1)


def _grad_acc(g, name, func, features, dtype, inputs):
    """An accumulator for a parameter gradient: given (updated in place) or new zeros."""
    if g is None:
        return np.zeros(features, dtype=dtype)
    return v.output(g, name, func, shape=(features,), dtype=dtype, inputs=inputs, allow_alias=False)


def _grad_out(grad_out, x, func):
    g = v.float_array(grad_out, "grad_out", func, dtype=x.dtype)
    if g.shape != x.shape:
        raise ValueError(f"{func}: grad_out has shape {g.shape} but x has shape {x.shape}; "
                         f"they must match")
    return np.ascontiguousarray(g)


# ---------------------------------------------------------------- LayerNorm

def layer_norm(x, weight=None, bias=None, eps=1e-5, *, out=None, return_stats=False, naive=False):
    """Normalize each vector along the last axis: (x - mean) / sqrt(var + eps) * weight + bias.

    As torch.nn.functional.layer_norm(x, (x.shape[-1],), weight, bias, eps); var is
    the biased variance. weight/bias: (features,) or None.
    return_stats=True returns (y, mean, rstd), the caches layer_norm_backward takes
    (shape x.shape[:-1]). naive=True runs the plain reference kernel.
    """
    if naive is False and type(return_stats) is bool:  # the common case, checked in C
        e = _fast_eps(eps)
        r = _core.layer_norm_fast(x, weight, bias, e, out) if e is not None else None
        if r is not None:
            return r if return_stats else r[0]
    func = "layer_norm"
    return_stats = v.flag(return_stats, "return_stats", func)
    naive = v.flag(naive, "naive", func)
    x, x2 = _rows_input(x, func)
    rows, cols = x2.shape
    weight = _param(weight, "weight", func, cols, x.dtype)
    bias = _param(bias, "bias", func, cols, x.dtype)
    eps = _eps(eps, func)
    out = v.output(out, "out", func, shape=x.shape, dtype=x.dtype,
                   inputs=[("x", x), ("weight", weight), ("bias", bias)], allow_alias=False)
    mean = np.empty(x.shape[:-1], dtype=x.dtype)
    rstd = np.empty(x.shape[:-1], dtype=x.dtype)
    if cols == 0:  # nothing to normalize: the statistics of an empty row
        mean.fill(0)
        rstd.fill(1 / np.sqrt(eps) if eps > 0 else np.inf)
    else:
        _core.layernorm_forward(out.reshape(rows, cols), mean.reshape(-1), rstd.reshape(-1), x2,
                                weight, bias, eps, naive)
    return (out, mean, rstd) if return_stats else out


def layer_norm_backward(grad_out, x, mean, rstd, weight=None, *, grad_weight=None, grad_bias=None,
                        out=None):
    """Gradients of layer_norm: returns (grad_x, grad_weight, grad_bias).

    mean, rstd: the caches from layer_norm(..., return_stats=True).
    grad_x is written (into `out` if given). grad_weight is None when weight is None;
    grad_bias is computed when weight is given or an accumulator is passed. Given
    accumulators are updated in place (+=) and returned.
    """
    r = _core.layer_norm_backward_fast(grad_out, x, mean, rstd, weight, grad_weight, grad_bias, out)
    if r is not None:  # the common case, checked in C
        return r
    func = "layer_norm_backward"
    x, x2 = _rows_input(x, func)
    rows, cols = x2.shape
    g = _grad_out(grad_out, x, func)
    mean = _stat(mean, "mean", func, x.shape[:-1], x.dtype)
    rstd = _stat(rstd, "rstd", func, x.shape[:-1], x.dtype)
    weight = _param(weight, "weight", func, cols, x.dtype)
    inputs = [("grad_out", g), ("x", x), ("mean", mean), ("rstd", rstd), ("weight", weight)]
    out = v.output(out, "out", func, shape=x.shape, dtype=x.dtype, inputs=inputs, allow_alias=False)
    gw = _grad_acc(grad_weight, "grad_weight", func, cols, x.dtype, inputs + [("out", out)]) \
        if weight is not None else None
    gb = _grad_acc(grad_bias, "grad_bias", func, cols, x.dtype, inputs + [("out", out), ("grad_weight", gw)]) \
        if (weight is not None or grad_bias is not None) else None
    if cols > 0:
        _core.layernorm_backward(out.reshape(rows, cols), gw, gb, g.reshape(rows, cols), x2, mean, rstd,
                                 weight)
    return out, gw, gb


# ------------------------------------------------------------------ RMSNorm

def rms_norm(x, weight=None, eps=None, *, out=None, return_stats=False):
    """x / sqrt(mean(x**2) + eps) * weight along the last axis (torch.nn.RMSNorm).

    eps=None uses the machine epsilon of x's dtype, as PyTorch.
    return_stats=True returns (y, rstd), rstd of shape x.shape[:-1].
    """
    if type(return_stats) is bool and type(x) is np.ndarray:  # the common case, checked in C
        e = float(np.finfo(x.dtype).eps) if eps is None and x.dtype in _NATIVE_FLOATS else _fast_eps(eps)
        r = _core.layer_norm_fast(x, weight, None, e, out, False) if e is not None else None
        if r is not None:
            return (r[0], r[2]) if return_stats else r[0]
    func = "rms_norm"
    return_stats = v.flag(return_stats, "return_stats", func)
    x, x2 = _rows_input(x, func)
    rows, cols = x2.shape
    weight = _param(weight, "weight", func, cols, x.dtype)
    eps = float(np.finfo(x.dtype).eps) if eps is None else _eps(eps, func)
    out = v.output(out, "out", func, shape=x.shape, dtype=x.dtype,
                   inputs=[("x", x), ("weight", weight)], allow_alias=False)
    rstd = np.empty(x.shape[:-1], dtype=x.dtype)
    if cols == 0:
        rstd.fill(1 / np.sqrt(eps) if eps > 0 else np.inf)
    else:
        _core.rmsnorm_forward(out.reshape(rows, cols), rstd.reshape(-1), x2, weight, eps)
    return (out, rstd) if return_stats else out


def rms_norm_backward(grad_out, x, rstd, weight=None, *, grad_weight=None, out=None):
    """Gradients of rms_norm: returns (grad_x, grad_weight) (grad_weight None without weight)."""
    r = _core.layer_norm_backward_fast(grad_out, x, None, rstd, weight, grad_weight, None, out, False)
    if r is not None:  # the common case, checked in C
        return r[0], r[1]
    func = "rms_norm_backward"
    x, x2 = _rows_input(x, func)
    rows, cols = x2.shape
    g = _grad_out(grad_out, x, func)
    rstd = _stat(rstd, "rstd", func, x.shape[:-1], x.dtype)
    weight = _param(weight, "weight", func, cols, x.dtype)
    inputs = [("grad_out", g), ("x", x), ("rstd", rstd), ("weight", weight)]
    out = v.output(out, "out", func, shape=x.shape, dtype=x.dtype, inputs=inputs, allow_alias=False)
    gw = _grad_acc(grad_weight, "grad_weight", func, cols, x.dtype, inputs + [("out", out)]) \
        if weight is not None else None
    if cols > 0:
        _core.rmsnorm_backward(out.reshape(rows, cols), gw, g.reshape(rows, cols), x2, rstd, weight)
    return out, gw


# ---------------------------------------------------------------- BatchNorm

def _running(a, name, func, features, dtype, inputs):
    if a is None:
        return None
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{func}: {name} must be a numpy.ndarray or None, got {type(a).__name__}")
    # updated in place, so it must be usable as an output
    return v.output(a, name, func, shape=(features,), dtype=dtype, inputs=inputs, allow_alias=False)


def batch_norm(x, weight=None, bias=None, running_mean=None, running_var=None, training=True,
               momentum=0.1, eps=1e-5, *, out=None, return_stats=False):
    """Batch normalization of a (batch, features) array over the batch (nn.BatchNorm1d).

    training=True: normalize with the batch mean and biased variance, and update the
    running statistics in place (when given): running = (1 - momentum) running +
    momentum batch_stat, with the UNBIASED variance for running_var, as PyTorch.
    A batch of one raises ValueError, as PyTorch.
    training=False: normalize with running_mean / running_var (both required).
    return_stats=True returns (y, save_mean, save_rstd): the mean and 1/sqrt(var + eps)
    used, which batch_norm_backward takes.
    """
    if (type(training) is bool and type(return_stats) is bool and type(momentum) is float
            and abs(momentum) < float("inf")):  # the common case, checked in C
        e = _fast_eps(eps)
        r = _core.batch_norm_fast(x, weight, bias, running_mean, running_var, training, momentum,
                                  e, out) if e is not None else None
        if r is not None:
            return r if return_stats else r[0]
    func = "batch_norm"
    x = v.float_array(x, "x", func, ndim=2)
    x = np.ascontiguousarray(x)
    rows, cols = x.shape
    weight = _param(weight, "weight", func, cols, x.dtype)
    bias = _param(bias, "bias", func, cols, x.dtype)
    eps = _eps(eps, func)
    momentum = v.finite_float(momentum, "momentum", func)
    training = v.flag(training, "training", func)
    return_stats = v.flag(return_stats, "return_stats", func)
    inputs = [("x", x), ("weight", weight), ("bias", bias)]
    running_mean = _running(running_mean, "running_mean", func, cols, x.dtype, inputs)
    running_var = _running(running_var, "running_var", func, cols, x.dtype,
                           inputs + [("running_mean", running_mean)])
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{func}: pass both running_mean and running_var, or neither")
    if not training and running_mean is None:
        raise ValueError(f"{func}: running_mean and running_var are required when training=False")
    if training and rows <= 1:
        raise ValueError(f"{func}: Expected more than 1 value per channel when training, "
                         f"got input of shape {x.shape}")
    out = v.output(out, "out", func, shape=x.shape, dtype=x.dtype,
                   inputs=inputs + [("running_mean", running_mean), ("running_var", running_var)],
                   allow_alias=False)
    save_mean = np.empty(cols, dtype=x.dtype)
    save_rstd = np.empty(cols, dtype=x.dtype)
    if rows == 0:  # evaluation of an empty batch: the statistics in use are the running ones
        if cols:
            save_mean[:] = running_mean
            save_rstd[:] = 1 / np.sqrt(running_var.astype(np.float64) + eps)
    else:
        _core.batchnorm_forward(out, save_mean, save_rstd, running_mean, running_var, x, weight, bias,
                                training, momentum, eps)
    return (out, save_mean, save_rstd) if return_stats else out


def batch_norm_backward(grad_out, x, save_mean, save_rstd, weight=None, training=True, *,
                        grad_weight=None, grad_bias=None, out=None):
    """Gradients of batch_norm: returns (grad_x, grad_weight, grad_bias).

    save_mean, save_rstd: from batch_norm(..., return_stats=True) in the same mode.
    training=True differentiates through the batch statistics; training=False treats
    the (running) statistics as constants: grad_x = grad_out * weight * rstd.
    grad_weight is None when weight is None; grad_bias is computed when weight is
    given or an accumulator is passed. Accumulators are updated in place (+=).
    """
    if type(training) is bool:  # the common case, checked in C
        r = _core.batch_norm_backward_fast(grad_out, x, save_mean, save_rstd, weight, training,
                                           grad_weight, grad_bias, out)
        if r is not None:
            return r
    func = "batch_norm_backward"
    training = v.flag(training, "training", func)
    x = np.ascontiguousarray(v.float_array(x, "x", func, ndim=2))
    rows, cols = x.shape
    g = _grad_out(grad_out, x, func)
    save_mean = _stat(save_mean, "save_mean", func, (cols,), x.dtype)
    save_rstd = _stat(save_rstd, "save_rstd", func, (cols,), x.dtype)
    weight = _param(weight, "weight", func, cols, x.dtype)
    inputs = [("grad_out", g), ("x", x), ("save_mean", save_mean), ("save_rstd", save_rstd),
              ("weight", weight)]
    out = v.output(out, "out", func, shape=x.shape, dtype=x.dtype, inputs=inputs, allow_alias=False)
    gw = _grad_acc(grad_weight, "grad_weight", func, cols, x.dtype, inputs + [("out", out)]) \
        if weight is not None else None
    gb = _grad_acc(grad_bias, "grad_bias", func, cols, x.dtype, inputs + [("out", out), ("grad_weight", gw)]) \
        if (weight is not None or grad_bias is not None) else None
    _core.batchnorm_backward(out, gw, gb, g, x, save_mean, save_rstd, weight, training)
    return out, gw, gb
