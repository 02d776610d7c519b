"""Matrix multiply and the dense (fully connected) layer (C kernels: csrc/gemm.c, csrc/dense.c).

Everything runs on deepgrad's own GEMM (no BLAS): float32 or float64, never converted.
Operands whose rows are contiguous (C order, a row slice like big[:, :k]) are used in
place through their leading dimension; F-ordered operands are used in place as the
transpose; anything else is copied once. `out=` must be C-contiguous, writeable and
not overlap an input.
"""
import math

import numpy as np

from .. import _core
from .. import _validate as v


def _rowmajor(x):
    """(array whose rows are contiguous, flipped) for a checked 2-d float array x;
    flipped means the array returned is x.T."""
    isz = x.itemsize
    rows, cols = x.shape
    s0, s1 = x.strides
    if x.size > 0:
        # rows contiguous, row stride a whole number of elements >= a row: use in place
        if s1 == isz and (rows == 1 or (s0 % isz == 0 and s0 >= cols * isz)):
            return x, False
        # columns contiguous (F order or a column slice of it): its transpose has contiguous rows
        if s0 == isz and (cols == 1 or (s1 % isz == 0 and s1 >= rows * isz)):
            return x.T, True
    return np.ascontiguousarray(x), False


def _scalar(value, name, func):
    if type(value) is float and math.isfinite(value):  # the common case, without NumPy
        return value
    return v.finite_float(value, name, func)


_GEMM = {np.dtype(np.float32): _core.gemm_f32_nobias, np.dtype(np.float64): _core.gemm_f64_nobias}


_check_flag = v.flag


def matmul(a, b, trans_a=False, trans_b=False, out=None, *, alpha=1.0, beta=0.0):
    """out = alpha * op(a) @ op(b) + beta * out, with op(x) = x.T when trans_x.

    a, b: 2-d float32 or float64 arrays of one dtype; op(a) is (m, k), op(b) is (k, n).
    beta != 0 needs `out` (its values are read); with beta == 0 `out` is only written.
    NumPy equivalent: ``alpha * (a.T if trans_a else a) @ (b.T if trans_b else b) + beta * out``.
    """
    # Fast path for the common call (C-contiguous operands of one float dtype, plain
    # arguments): the same checks as below, fewer Python calls. Anything else falls through.
    gemm = _GEMM.get(getattr(a, "dtype", None))
    if (gemm is not None and type(a) is np.ndarray and type(b) is np.ndarray and b.dtype == a.dtype
            and a.ndim == 2 and b.ndim == 2 and (trans_a is False or trans_a is True)
            and (trans_b is False or trans_b is True) and type(alpha) is float and type(beta) is float
            and math.isfinite(alpha) and beta == 0.0 and a.flags.c_contiguous and b.flags.c_contiguous
            and a.flags.aligned and b.flags.aligned):
        m, k = a.shape[::-1] if trans_a else a.shape
        k2, n = b.shape[::-1] if trans_b else b.shape
        if k == k2:
            if out is None:
                out = np.empty((m, n), dtype=a.dtype)
                gemm(out, a, b, trans_a, trans_b, alpha, 0.0)
                return out
            if (type(out) is np.ndarray and out.dtype == a.dtype and out.shape == (m, n)
                    and out.flags.c_contiguous and out.flags.writeable and out.flags.aligned
                    and not np.may_share_memory(out, a) and not np.may_share_memory(out, b)):
                gemm(out, a, b, trans_a, trans_b, alpha, 0.0)
                return out
    func = "matmul"
    trans_a = _check_flag(trans_a, "trans_a", func)
    trans_b = _check_flag(trans_b, "trans_b", func)
    alpha = _scalar(alpha, "alpha", func)
    beta = _scalar(beta, "beta", func)
    a = v.float_array(a, "a", func, ndim=2)
    b = v.float_array(b, "b", func, ndim=2, dtype=a.dtype)
    m, k = a.shape[::-1] if trans_a else a.shape
    k2, n = b.shape[::-1] if trans_b else b.shape
    if k != k2:
        raise ValueError(f"{func}: inner dimensions do not match: op(a) has shape {(m, k)} "
                         f"(a {a.shape}{', transposed' if trans_a else ''}) but op(b) has shape "
                         f"{(k2, n)} (b {b.shape}{', transposed' if trans_b else ''})")
    if beta != 0 and out is None:
        raise ValueError(f"{func}: beta={beta} reads `out`, so out must be given")
    out = v.output(out, "out", func, shape=(m, n), dtype=a.dtype,
                   inputs=[("a", a), ("b", b)], allow_alias=False)
    a_rm, flip_a = _rowmajor(a)
    b_rm, flip_b = _rowmajor(b)
    _GEMM[a.dtype](out, a_rm, b_rm, trans_a != flip_a, trans_b != flip_b, alpha, beta)
    return out


def _dense_args(func, x, W, b):
    W = v.float_array(W, "W", func, ndim=2)
    x = v.float_array(x, "x", func, ndim=(1, 2, 3, 4, 5, 6), dtype=W.dtype)
    out_features, in_features = W.shape
    if x.shape[-1] != in_features:
        raise ValueError(f"{func}: x has shape {x.shape}, its last dimension must equal "
                         f"in_features={in_features} of W with shape {W.shape} (out, in)")
    if b is not None:
        b = v.float_array(b, "b", func, ndim=1, dtype=W.dtype)
        if b.shape != (out_features,):
            raise ValueError(f"{func}: b has shape {b.shape}, expected ({out_features},) "
                             f"to match W with shape {W.shape}")
        b = np.ascontiguousarray(b)
    rows = int(np.prod(x.shape[:-1], dtype=np.int64))
    x2 = np.ascontiguousarray(x.reshape(rows, in_features))
    return x2, np.ascontiguousarray(W), b


def dense_forward(x, W, b=None, out=None):
    """y = x @ W.T + b, PyTorch's nn.Linear / F.linear convention.

    x: (..., in_features); W: (out_features, in_features); b: (out_features,) or None.
    Returns y of shape (..., out_features). The bias is added inside the GEMM's write-back.
    """
    func = "dense_forward"
    x2, W, b = _dense_args(func, x, W, b)
    shape = x.shape[:-1] + (W.shape[0],)
    out = v.output(out, "out", func, shape=shape, dtype=W.dtype,
                   inputs=[("x", x), ("W", W), ("b", b)], allow_alias=False)
    _core.dense_forward(out.reshape(x2.shape[0], W.shape[0]), x2, W, b)
    return out


def dense_backward(grad_out, x, W, need_bias=True, *, need_x=True, grad_x=None, grad_W=None,
                   grad_b=None):
    """Gradients of y = x @ W.T + b: returns (grad_x, grad_W, grad_b).

        grad_x  = grad_out @ W                 (written into grad_x, or a new array)
        grad_W += grad_out.T @ x               (accumulated into grad_W, or a new zero array)
        grad_b += grad_out.sum(axis=rows)      (accumulated into grad_b, or a new zero array)

    need_bias=False returns grad_b None; need_x=False skips grad_x (the first layer of a
    network does not need it) and returns None for it. grad_b's row sum runs in a fixed
    order, so results do not change with the thread count.
    """
    func = "dense_backward"
    need_bias = v.flag(need_bias, "need_bias", func)
    need_x = v.flag(need_x, "need_x", func)
    x2, W, _ = _dense_args(func, x, W, None)
    out_features, in_features = W.shape
    g = v.float_array(grad_out, "grad_out", func, dtype=W.dtype)
    if g.shape != x.shape[:-1] + (out_features,):
        raise ValueError(f"{func}: grad_out has shape {g.shape}, expected "
                         f"{x.shape[:-1] + (out_features,)} (x {x.shape}, W {W.shape})")
    g2 = np.ascontiguousarray(g.reshape(x2.shape[0], out_features))
    inputs = [("grad_out", g), ("x", x), ("W", W)]
    gx = None
    if need_x:
        gx = v.output(grad_x, "grad_x", func, shape=x.shape, dtype=W.dtype, inputs=inputs,
                      allow_alias=False)
    if grad_W is None:
        grad_W = np.zeros(W.shape, dtype=W.dtype)
    else:
        grad_W = v.output(grad_W, "grad_W", func, shape=W.shape, dtype=W.dtype, inputs=inputs,
                          allow_alias=False)
    gb = None
    if need_bias:
        if grad_b is None:
            gb = np.zeros(out_features, dtype=W.dtype)
        else:
            gb = v.output(grad_b, "grad_b", func, shape=(out_features,), dtype=W.dtype,
                          inputs=inputs, allow_alias=False)
    _core.dense_backward(g2, x2, W, None if gx is None else gx.reshape(x2.shape), grad_W, gb)
    return gx, grad_W, gb
