"""Edge tiles and tails of every kernel family, forward AND backward, on every SIMD path.

The family test modules sweep sizes 0..70 for most forward kernels; this module closes
the gaps the reliability audit found: activation backward, residual, losses and norms
(forward and backward) on each SIMD path in turn, and dense backward over m, n, k in
1..33. Every output is a slice of a NaN-filled buffer: values past the end must stay
NaN (an off-by-one write shows up even without the sanitizer build).
"""
import math

import numpy as np
import pytest

from deepgrad import ops

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 2e-5, np.float64: 1e-12}
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def guarded(shape, dtype, pad=40):
    """(out view of `shape`, whole buffer): the buffer is NaN past the view's end."""
    size = int(np.prod(shape))
    buf = np.full(size + pad, np.nan, dtype)
    return buf[:size].reshape(shape), buf, size


def check_guard(buf, size):
    assert np.isnan(buf[size:]).all(), "a kernel wrote past the end of its output"


def close(got, want, dtype, scale=1.0):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=TOL[dtype] * scale,
                               atol=TOL[dtype] * scale * 1e-2)


def sig(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


DERIV = {  # derivative as a function of the saved tensor (x, or y for sigmoid/tanh)
    "relu": lambda s: (s > 0) * 1.0,
    "leaky_relu": lambda s: np.where(s > 0, 1.0, 0.01),
    "sigmoid": lambda y: y * (1 - y),
    "tanh": lambda y: 1 - y * y,
    "gelu": lambda x: 0.5 * _erfc(-x / math.sqrt(2)) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi),
    "silu": lambda x: sig(x) * (1 + x * (1 - sig(x))),
}


@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_backward_every_size(simd_path, dtype):
    rng = np.random.default_rng(0)
    for n in range(71):
        x = rng.uniform(-4, 4, n).astype(dtype)
        g = rng.standard_normal(n).astype(dtype)
        for name, d in DERIV.items():
            f, b, saves = ops.ACTIVATIONS[name]
            saved = f(x) if saves == "y" else x
            out, buf, size = guarded(n, dtype)
            b(g, saved, out=out)
            check_guard(buf, size)
            close(out, g.astype(np.float64) * d(saved.astype(np.float64)), dtype, 10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_residual_and_mse_every_size(simd_path, dtype):
    rng = np.random.default_rng(1)
    for n in range(71):
        a, b = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
        for fn in (ops.residual_add, ops.residual_backward):
            out, buf, size = guarded(n, dtype)
            fn(a, b, out=out)
            check_guard(buf, size)
            np.testing.assert_array_equal(out, a + b)
        out, buf, size = guarded(n, dtype)
        ops.mse_loss_backward(a, b, 0.5, out=out)
        check_guard(buf, size)
        d = a.astype(np.float64) - b
        if n:
            close(out, 0.5 * 2 * d / n, dtype)
            assert ops.mse_loss(a, b) == pytest.approx((d * d).mean(), rel=TOL[dtype])
        else:
            assert math.isnan(ops.mse_loss(a, b))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_every_size(simd_path, dtype):
    rng = np.random.default_rng(2)
    for rows, cols in [(r, 9) for r in range(71)] + [(4, c) for c in range(1, 71)]:
        x = rng.standard_normal((rows, cols)).astype(dtype)
        t = rng.integers(0, cols, rows)
        out, buf, size = guarded((rows, cols), dtype)
        ops.cross_entropy_backward(x, t, 1.0, out=out)
        check_guard(buf, size)
        if rows == 0:
            continue
        x64 = x.astype(np.float64)
        p = np.exp(x64 - x64.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        loss = -np.log(p[np.arange(rows), t]).mean()
        p[np.arange(rows), t] -= 1
        close(out, p / rows, dtype, 10)
        assert ops.cross_entropy(x, t) == pytest.approx(loss, rel=TOL[dtype] * 10)


def ln_ref(x, g, w, eps):
    m = x.mean(1, keepdims=True)
    rstd = 1 / np.sqrt(((x - m) ** 2).mean(1, keepdims=True) + eps)
    xh = (x - m) * rstd
    gh = g * w
    gx = rstd * (gh - gh.mean(1, keepdims=True) - xh * (gh * xh).mean(1, keepdims=True))
    return xh * w, gx, (g * xh).sum(0)


def rms_ref(x, g, w, eps):
    rstd = 1 / np.sqrt((x * x).mean(1, keepdims=True) + eps)
    xh = x * rstd
    gh = g * w
    gx = rstd * (gh - xh * (gh * xh).mean(1, keepdims=True))
    return xh * w, gx, (g * xh).sum(0)


def bn_ref(x, g, w, eps):
    m = x.mean(0)
    rstd = 1 / np.sqrt(x.var(0) + eps)
    xh = (x - m) * rstd
    gh = g * w
    gx = rstd * (gh - gh.mean(0) - xh * (gh * xh).mean(0))
    return xh * w, gx, (g * xh).sum(0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_norms_forward_backward_every_size(simd_path, dtype):
    rng = np.random.default_rng(3)
    eps = 1e-3
    shapes = [(r, 13) for r in range(1, 71)] + [(5, c) for c in range(1, 71)]
    for rows, cols in shapes:
        x = rng.standard_normal((rows, cols)).astype(dtype)
        g = rng.standard_normal((rows, cols)).astype(dtype)
        w = rng.standard_normal(cols).astype(dtype)
        x64, g64, w64 = x.astype(np.float64), g.astype(np.float64), w.astype(np.float64)
        cases = [("ln", ln_ref)] + [("rms", rms_ref)] + ([("bn", bn_ref)] if rows > 1 else [])
        for kind, ref in cases:
            y, ybuf, size = guarded((rows, cols), dtype)
            gx, gbuf, _ = guarded((rows, cols), dtype)
            gw = np.zeros(cols, dtype)
            if kind == "ln":
                _, m, r = ops.layer_norm(x, w, None, eps, out=y, return_stats=True)
                ops.layer_norm_backward(g, x, m, r, w, grad_weight=gw, out=gx)
            elif kind == "rms":
                _, r = ops.rms_norm(x, w, eps, out=y, return_stats=True)
                ops.rms_norm_backward(g, x, r, w, grad_weight=gw, out=gx)
            else:
                _, m, r = ops.batch_norm(x, w, None, eps=eps, out=y, return_stats=True)
                ops.batch_norm_backward(g, x, m, r, w, grad_weight=gw, out=gx)
            check_guard(ybuf, size)
            check_guard(gbuf, size)
            want_y, want_gx, want_gw = ref(x64, g64, w64, eps)
            close(y, want_y, dtype, 20)
            close(gx, want_gx, dtype, 200)
            close(gw, want_gw, dtype, 200)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_backward_every_small_shape(simd_path, dtype):
    """grad_x = g W, grad_W += g^T x, grad_b += sum g: batch, in, out each over 1..33
    (one at a time, the others odd), against float64."""
    rng = np.random.default_rng(4)
    shapes = {(b, 7, 9) for b in range(1, 34)} | {(5, i, 9) for i in range(1, 34)} | \
             {(5, 7, o) for o in range(1, 34)}
    eps = np.finfo(dtype).eps
    for B, fin, fout in sorted(shapes):
        x = rng.standard_normal((B, fin)).astype(dtype)
        W = rng.standard_normal((fout, fin)).astype(dtype)
        g = rng.standard_normal((B, fout)).astype(dtype)
        gx, gxbuf, size = guarded((B, fin), dtype)
        gW = np.ones((fout, fin), dtype)
        gb = np.ones(fout, dtype)
        ops.dense_backward(g, x, W, grad_x=gx, grad_W=gW, grad_b=gb)
        check_guard(gxbuf, size)
        g64, x64, W64 = g.astype(np.float64), x.astype(np.float64), W.astype(np.float64)
        tol = 40 * eps
        np.testing.assert_allclose(gx, g64 @ W64, atol=tol * (np.abs(g64) @ np.abs(W64)).max())
        np.testing.assert_allclose(gW, 1 + g64.T @ x64, atol=tol * (1 + (np.abs(g64).T @ np.abs(x64)).max()))
        np.testing.assert_allclose(gb, 1 + g64.sum(0), atol=tol * (1 + np.abs(g64).sum(0).max()))
        y, ybuf, size = guarded((B, fout), dtype)
        ops.dense_forward(x, W, gb, out=y)
        check_guard(ybuf, size)
