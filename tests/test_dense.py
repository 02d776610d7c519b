"""Dense layer (csrc/dense.c): y = x W^T + b and its gradients, against NumPy, central
finite differences (float64, h = 1e-6, |a - n| <= 1e-5 + 1e-3 |n|) and torch.nn.Linear."""

import numpy as np
import pytest

import deepgrad as dg

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 2e-5, np.float64: 1e-12}


@pytest.fixture
def simd(simd_path):
    """Every SIMD path (the shared simd_path fixture of conftest.py)."""
    return simd_path


def _data(rng, batch, n_in, n_out, dtype):
    x = rng.standard_normal((batch, n_in)).astype(dtype)
    W = (rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    return x, W, b


def _close(got, want, dtype, scale=1.0):
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1, 1), (4, 7, 3), (33, 65, 17), (256, 100, 130)])
def test_forward_matches_numpy(simd, dtype, shape):
    batch, n_in, n_out = shape
    rng = np.random.default_rng(sum(shape))
    x, W, b = _data(rng, batch, n_in, n_out, dtype)
    y = dg.ops.dense_forward(x, W, b)
    ref = x.astype(np.float64) @ W.astype(np.float64).T + b
    _close(y, ref, dtype, scale=np.abs(x).max() * np.abs(W).sum(1).max() + 1)
    y0 = dg.ops.dense_forward(x, W)  # no bias
    _close(y0, ref - b, dtype, scale=np.abs(x).max() * np.abs(W).sum(1).max() + 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_leading_dims_and_layouts(simd, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5, 8)).astype(dtype)
    W = np.asfortranarray(rng.standard_normal((6, 8)).astype(dtype))
    b = rng.standard_normal(12).astype(dtype)[::2]  # strided bias: copied
    y = dg.ops.dense_forward(x, W, b)
    assert y.shape == (2, 3, 5, 6)
    _close(y, x.astype(np.float64) @ W.T.astype(np.float64) + b, dtype, 10)
    out = np.empty((2, 3, 5, 6), dtype)
    assert dg.ops.dense_forward(x, W, b, out=out) is out
    _close(out, y, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_matches_numpy(simd, dtype):
    rng = np.random.default_rng(2)
    x, W, b = _data(rng, 37, 29, 45, dtype)
    g = rng.standard_normal((37, 45)).astype(dtype)
    gx, gW, gb = dg.ops.dense_backward(g, x, W)
    g64, x64, W64 = g.astype(np.float64), x.astype(np.float64), W.astype(np.float64)
    _close(gx, g64 @ W64, dtype, 10)
    _close(gW, g64.T @ x64, dtype, 50)
    _close(gb, g64.sum(0), dtype, 50)
    gx2, gW2, gb2 = dg.ops.dense_backward(g, x, W, need_bias=False, need_x=False)
    assert gx2 is None and gb2 is None
    np.testing.assert_array_equal(gW2, gW)


@pytest.mark.parametrize("shape", [(3, 4, 2), (5, 1, 1), (1, 6, 7)])
def test_backward_finite_differences(simd, shape):
    """L = sum(R * dense(x, W, b)); dL/dx, dL/dW, dL/db by central differences in float64."""
    batch, n_in, n_out = shape
    rng = np.random.default_rng(3)
    x, W, b = _data(rng, batch, n_in, n_out, np.float64)
    R = rng.standard_normal((batch, n_out))
    gx, gW, gb = dg.ops.dense_backward(R, x, W)
    h = 1e-6

    def numeric(arr):
        grad = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + h
            lp = np.sum(R * dg.ops.dense_forward(x, W, b))
            arr[idx] = old - h
            lm = np.sum(R * dg.ops.dense_forward(x, W, b))
            arr[idx] = old
            grad[idx] = (lp - lm) / (2 * h)
        return grad

    for name, analytic, arr in [("x", gx, x), ("W", gW, W), ("b", gb, b)]:
        num = numeric(arr)
        assert np.all(np.abs(analytic - num) <= 1e-5 + 1e-3 * np.abs(num)), name


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_accumulates(dtype):
    rng = np.random.default_rng(4)
    x, W, b = _data(rng, 9, 10, 11, dtype)
    g = rng.standard_normal((9, 11)).astype(dtype)
    gW = np.zeros_like(W)
    gb = np.zeros_like(b)
    gx1, _, _ = dg.ops.dense_backward(g, x, W, grad_W=gW, grad_b=gb)
    gW1, gb1 = gW.copy(), gb.copy()
    gx2, _, _ = dg.ops.dense_backward(g, x, W, grad_W=gW, grad_b=gb)
    np.testing.assert_array_equal(gx1, gx2)          # input grad written, not accumulated
    _close(gW, 2 * gW1, dtype)
    _close(gb, 2 * gb1, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bit_identical_for_any_thread_count(dtype):
    rng = np.random.default_rng(5)
    x, W, b = _data(rng, 300, 260, 1100, dtype)
    g = rng.standard_normal((300, 1100)).astype(dtype)
    runs = []
    try:
        for t in (1, 2, 3):
            dg.set_num_threads(t)
            y = dg.ops.dense_forward(x, W, b)
            runs.append((y,) + dg.ops.dense_backward(g, x, W))
    finally:
        dg.set_num_threads(None)
    for other in runs[1:]:
        for a, c in zip(runs[0], other):
            np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_batch_and_zero_features(dtype):
    W = np.ones((3, 4), dtype)
    y = dg.ops.dense_forward(np.zeros((0, 4), dtype), W, np.ones(3, dtype))
    assert y.shape == (0, 3)
    gx, gW, gb = dg.ops.dense_backward(np.zeros((0, 3), dtype), np.zeros((0, 4), dtype), W)
    assert gx.shape == (0, 4)
    np.testing.assert_array_equal(gW, 0)
    np.testing.assert_array_equal(gb, 0)
    # in_features == 0: y = b
    y = dg.ops.dense_forward(np.zeros((2, 0), dtype), np.zeros((3, 0), dtype), np.arange(3, dtype=dtype))
    np.testing.assert_array_equal(y, [[0, 1, 2], [0, 1, 2]])


def test_dense_errors():
    W = np.ones((3, 4))
    with pytest.raises(ValueError, match="in_features=4"):
        dg.ops.dense_forward(np.ones((2, 5)), W)
    with pytest.raises(ValueError, match="b has shape"):
        dg.ops.dense_forward(np.ones((2, 4)), W, np.ones(4))
    with pytest.raises(TypeError, match="dtype"):
        dg.ops.dense_forward(np.ones((2, 4), np.float32), W)
    with pytest.raises(ValueError, match="grad_out"):
        dg.ops.dense_backward(np.ones((2, 4)), np.ones((2, 4)), W)
    with pytest.raises(ValueError, match="2-d"):
        dg.ops.dense_forward(np.ones((2, 4)), np.ones(4))


# ------------------------------------------------------------------- the layer

def test_layer_default_init_and_parameters():
    layer = dg.Dense(400, 30, rng=0)
    assert isinstance(dg.layers.Dense(2, 3), dg.Layer)
    params = layer.parameters()
    assert [p.name for p in params] == ["weight", "bias"]
    assert params[0].shape == (30, 400) and params[1].shape == (30,)
    assert params[0].data.dtype == np.float32
    bound = 1 / np.sqrt(400)
    for p in params:
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.9 * bound  # spans the range, not a tiny constant
        np.testing.assert_array_equal(p.grad, 0)
    again = dg.Dense(400, 30, rng=0)
    np.testing.assert_array_equal(again.weight.data, layer.weight.data)
    assert dg.Dense(3, 2, bias=False, dtype=np.float64).parameters()[0].data.dtype == np.float64
    assert len(dg.Dense(3, 2, bias=False).parameters()) == 1


def test_layer_init_callable_and_names():
    def ones(w, rng):
        assert isinstance(rng, np.random.Generator)
        w[...] = 1

    layer = dg.Dense(3, 2, init=ones, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(layer.weight.data, 1)
    # a name goes through deepgrad.init.get_initializer
    named = dg.Dense(300, 200, init="xavier_uniform", rng=0)
    bound = np.sqrt(6 / (300 + 200))
    assert np.abs(named.weight.data).max() <= bound and np.abs(named.weight.data).max() > 0.9 * bound
    with pytest.raises(ValueError, match="unknown init 'xavier_unifrom'"):
        dg.Dense(3, 2, init="xavier_unifrom")
    with pytest.raises(TypeError, match="init"):
        dg.Dense(3, 2, init=3)
    with pytest.raises(TypeError, match="rng"):
        dg.Dense(3, 2, rng="seed")
    with pytest.raises(ValueError):
        dg.Dense(0, 2)
    with pytest.raises(TypeError):
        dg.Dense(3, 2, dtype=np.int32)


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_forward_backward(simd, dtype):
    rng = np.random.default_rng(6)
    layer = dg.Dense(20, 12, dtype=dtype, rng=rng)
    x = rng.standard_normal((8, 20)).astype(dtype)
    g = rng.standard_normal((8, 12)).astype(dtype)
    with pytest.raises(RuntimeError):
        dg.Dense(20, 12).backward(g)
    y = layer.forward(x)
    W64, b64 = layer.weight.data.astype(np.float64), layer.bias.data.astype(np.float64)
    _close(y, x.astype(np.float64) @ W64.T + b64, dtype, 10)
    gx = layer.backward(g)
    _close(gx, g.astype(np.float64) @ W64, dtype, 10)
    gW1 = layer.weight.grad.copy()
    _close(gW1, g.astype(np.float64).T @ x, dtype, 10)
    layer.backward(g)
    _close(layer.weight.grad, 2 * gW1, dtype)
    layer.zero_grad()
    np.testing.assert_array_equal(layer.weight.grad, 0)
    with pytest.raises(ValueError):
        layer.forward(np.ones((3, 19), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_against_torch_linear(simd, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    batch, n_in, n_out = 33, 70, 45
    layer = dg.Dense(n_in, n_out, dtype=dtype, rng=rng)
    lin = torch.nn.Linear(n_in, n_out, dtype=torch.float32 if dtype == np.float32 else torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(layer.weight.data))
        lin.bias.copy_(torch.from_numpy(layer.bias.data))
    x = rng.standard_normal((batch, n_in)).astype(dtype)
    g = rng.standard_normal((batch, n_out)).astype(dtype)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = lin(xt)
    yt.backward(torch.from_numpy(g))
    y = layer.forward(x)
    gx = layer.backward(g)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y, yt.detach().numpy(), **tol)
    np.testing.assert_allclose(gx, xt.grad.numpy(), **tol)
    np.testing.assert_allclose(layer.weight.grad, lin.weight.grad.numpy(), **tol)
    np.testing.assert_allclose(layer.bias.grad, lin.bias.grad.numpy(), **tol)
