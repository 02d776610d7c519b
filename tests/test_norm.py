"""LayerNorm, RMSNorm, BatchNorm: float64 references, finite differences, PyTorch,
sizes 0..70, layouts, extremes, thread-count determinism, validation, layers."""
import numpy as np
import pytest
from _numeric import central_difference

import deepgrad
from deepgrad import _core, ops

DTYPES = [np.float32, np.float64]
# |got - want| <= ATOL + RTOL |want| against float64 references, per dtype of the kernel
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
GRAD_TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-10, atol=1e-10)}


# ------------------------------------------------------------ float64 references

def ln_ref(x, w=None, b=None, eps=1e-5):
    x = x.astype(np.float64)
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    r = 1 / np.sqrt(v + eps)
    y = (x - m) * r
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y, m[..., 0], r[..., 0]


def ln_bwd_ref(g, x, w=None, eps=1e-5):
    g, x = g.astype(np.float64), x.astype(np.float64)
    _, m, r = ln_ref(x, eps=eps)
    xh = (x - m[..., None]) * r[..., None]
    gw = g * (w if w is not None else 1)
    n = x.shape[-1]
    gx = r[..., None] * (gw - gw.sum(-1, keepdims=True) / n - xh * (gw * xh).sum(-1, keepdims=True) / n)
    axes = tuple(range(x.ndim - 1))
    return gx, (g * xh).sum(axes), g.sum(axes)


def rms_ref(x, w=None, eps=1e-6):
    x = x.astype(np.float64)
    r = 1 / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps)
    y = x * r * (w if w is not None else 1)
    return y, r[..., 0]


def rms_bwd_ref(g, x, w=None, eps=1e-6):
    g, x = g.astype(np.float64), x.astype(np.float64)
    _, r = rms_ref(x, eps=eps)
    xh = x * r[..., None]
    gw = g * (w if w is not None else 1)
    gx = r[..., None] * (gw - xh * (gw * xh).sum(-1, keepdims=True) / x.shape[-1])
    return gx, (g * xh).sum(tuple(range(x.ndim - 1)))


def bn_ref(x, w=None, b=None, eps=1e-5, training=True, rm=None, rv=None):
    x = x.astype(np.float64)
    if training:
        m, v = x.mean(0), x.var(0)
    else:
        m, v = rm.astype(np.float64), rv.astype(np.float64)
    r = 1 / np.sqrt(v + eps)
    y = (x - m) * r * (w if w is not None else 1) + (b if b is not None else 0)
    return y, m, r


def bn_bwd_ref(g, x, w=None, eps=1e-5, training=True, rm=None, rv=None):
    g = g.astype(np.float64)
    _, m, r = bn_ref(x, eps=eps, training=training, rm=rm, rv=rv)
    xh = (x.astype(np.float64) - m) * r
    k = (w if w is not None else 1) * r
    if training:
        gx = k * (g - g.mean(0) - xh * (g * xh).mean(0))
    else:
        gx = k * g
    return gx, (g * xh).sum(0), g.sum(0)


def close(got, want, tol, what=""):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, err_msg=what, **tol)


def data(rng, shape, dtype, offset=0.0, scale=1.0):
    return (rng.standard_normal(shape) * scale + offset).astype(dtype)


# ------------------------------------------------------- LayerNorm vs reference

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (17, 65), (5, 4, 33), (130,), (64, 1024), (9, 1000)])
def test_layer_norm_matches_reference(simd_path, rng, dtype, shape):
    x = data(rng, shape, dtype, offset=1.5, scale=2.0)
    w, b = data(rng, shape[-1], dtype), data(rng, shape[-1], dtype)
    g = data(rng, shape, dtype)
    y, mean, rstd = ops.layer_norm(x, w, b, 1e-5, return_stats=True)
    y_ref, m_ref, r_ref = ln_ref(x, w, b)
    assert y.dtype == dtype and y.shape == shape and mean.shape == shape[:-1]
    close(y, y_ref, TOL[dtype], "y")
    close(mean, m_ref, TOL[dtype], "mean")
    close(rstd, r_ref, TOL[dtype], "rstd")
    gx, gw, gb = ops.layer_norm_backward(g, x, mean, rstd, w)
    gx_ref, gw_ref, gb_ref = ln_bwd_ref(g, x, w)
    close(gx, gx_ref, GRAD_TOL[dtype], "grad_x")
    close(gw, gw_ref, GRAD_TOL[dtype], "grad_weight")
    close(gb, gb_ref, GRAD_TOL[dtype], "grad_bias")


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_naive_kernel_agrees(rng, dtype):
    x = data(rng, (37, 129), dtype, offset=3.0)
    w, b = data(rng, 129, dtype), data(rng, 129, dtype)
    fast = ops.layer_norm(x, w, b, return_stats=True)
    naive = ops.layer_norm(x, w, b, return_stats=True, naive=True)
    for a, c in zip(fast, naive):
        close(a, c.astype(np.float64), TOL[dtype])


@pytest.mark.parametrize("affine", ["none", "weight", "bias", "both"])
def test_layer_norm_optional_affine(rng, affine):
    x, g = data(rng, (6, 11), np.float64), data(rng, (6, 11), np.float64)
    w = data(rng, 11, np.float64) if affine in ("weight", "both") else None
    b = data(rng, 11, np.float64) if affine in ("bias", "both") else None
    y, m, r = ops.layer_norm(x, w, b, return_stats=True)
    close(y, ln_ref(x, w, b)[0], TOL[np.float64])
    gx, gw, gb = ops.layer_norm_backward(g, x, m, r, w)
    gx_ref, gw_ref, gb_ref = ln_bwd_ref(g, x, w)
    close(gx, gx_ref, GRAD_TOL[np.float64])
    assert (gw is None) == (w is None) and (gb is None) == (w is None)
    if w is not None:
        close(gw, gw_ref, GRAD_TOL[np.float64])
        close(gb, gb_ref, GRAD_TOL[np.float64])


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_size_0_to_70(rng, dtype):
    """Every rows in 0..70 (features 13) and every features in 0..70 (rows 5), all three norms."""
    shapes = [(r, 13) for r in range(71)] + [(5, c) for c in range(71)]
    for shape in shapes:
        rows, cols = shape
        x, g = data(rng, shape, dtype, offset=0.5), data(rng, shape, dtype)
        w, b = data(rng, cols, dtype), data(rng, cols, dtype)
        # LayerNorm
        y, m, r = ops.layer_norm(x, w, b, return_stats=True)
        gx, gw, gb = ops.layer_norm_backward(g, x, m, r, w)
        if cols:
            close(y, ln_ref(x, w, b)[0], TOL[dtype], f"ln {shape}")
            for got, want in zip((gx, gw, gb), ln_bwd_ref(g, x, w)):
                close(got, want, GRAD_TOL[dtype], f"ln bwd {shape}")
        else:
            assert y.shape == shape and gx.shape == shape and np.all(gw == 0)
        # RMSNorm
        y, r = ops.rms_norm(x, w, 1e-6, return_stats=True)
        gx, gw = ops.rms_norm_backward(g, x, r, w)
        if cols:
            close(y, rms_ref(x, w)[0], TOL[dtype], f"rms {shape}")
            for got, want in zip((gx, gw), rms_bwd_ref(g, x, w)):
                close(got, want, GRAD_TOL[dtype], f"rms bwd {shape}")
        # BatchNorm (training needs 2+ rows; evaluation any)
        rm, rv = data(rng, cols, dtype), (rng.random(cols) + 0.5).astype(dtype)
        if rows >= 2:
            rm2, rv2 = rm.copy(), rv.copy()
            y, sm, sr = ops.batch_norm(x, w, b, rm2, rv2, True, return_stats=True)
            close(y, bn_ref(x, w, b)[0], TOL[dtype], f"bn {shape}")
            for got, want in zip(ops.batch_norm_backward(g, x, sm, sr, w, True), bn_bwd_ref(g, x, w)):
                close(got, want, GRAD_TOL[dtype], f"bn bwd {shape}")
        y, sm, sr = ops.batch_norm(x, w, b, rm, rv, False, return_stats=True)
        close(y, bn_ref(x, w, b, training=False, rm=rm, rv=rv)[0], TOL[dtype], f"bn eval {shape}")
        got = ops.batch_norm_backward(g, x, sm, sr, w, False)
        for a, want in zip(got, bn_bwd_ref(g, x, w, training=False, rm=rm, rv=rv)):
            close(a, want, GRAD_TOL[dtype], f"bn eval bwd {shape}")


# ---------------------------------------------------------- finite differences

def fd_check(f, arrays, grads, h=1e-6, atol=1e-5, rtol=1e-3):
    """f(*arrays) -> scalar; grads[i] the analytic gradient of f wrt arrays[i]."""
    for a, grad in zip(arrays, grads):
        num = central_difference(lambda: f(*arrays), a, h)
        assert np.all(np.abs(grad - num) <= atol + rtol * np.abs(num)), (grad, num)


def test_layer_norm_finite_differences(rng):
    x, w, b, G = (data(rng, s, np.float64) for s in [(4, 7), 7, 7, (4, 7)])
    f = lambda x, w, b: float((ops.layer_norm(x, w, b) * G).sum())
    _, m, r = ops.layer_norm(x, w, b, return_stats=True)
    fd_check(f, [x, w, b], ops.layer_norm_backward(G, x, m, r, w))


def test_rms_norm_finite_differences(rng):
    x, w, G = (data(rng, s, np.float64) for s in [(3, 9), 9, (3, 9)])
    f = lambda x, w: float((ops.rms_norm(x, w, 1e-6) * G).sum())
    _, r = ops.rms_norm(x, w, 1e-6, return_stats=True)
    fd_check(f, [x, w], ops.rms_norm_backward(G, x, r, w))


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_finite_differences(rng, training):
    x, w, b, G = (data(rng, s, np.float64) for s in [(6, 5), 5, 5, (6, 5)])
    rm, rv = data(rng, 5, np.float64), rng.random(5) + 0.5
    f = lambda x, w, b: float((ops.batch_norm(x, w, b, rm.copy(), rv.copy(), training) * G).sum())
    _, sm, sr = ops.batch_norm(x, w, b, rm.copy(), rv.copy(), training, return_stats=True)
    fd_check(f, [x, w, b], ops.batch_norm_backward(G, x, sm, sr, w, training))


# ------------------------------------------------------------------- PyTorch

@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_matches_torch(rng, dtype):
    torch = pytest.importorskip("torch")
    x, g = data(rng, (4, 6, 50), dtype, offset=2.0), data(rng, (4, 6, 50), dtype)
    w, b = data(rng, 50, dtype), data(rng, 50, dtype)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.layer_norm(tx, (50,), tw, tb, 1e-5)
    ty.backward(torch.tensor(g))
    y, m, r = ops.layer_norm(x, w, b, 1e-5, return_stats=True)
    gx, gw, gb = ops.layer_norm_backward(g, x, m, r, w)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y, ty.detach().numpy(), **tol)
    for got, want in zip((gx, gw, gb), (tx.grad, tw.grad, tb.grad)):
        np.testing.assert_allclose(got, want.numpy(), **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [None, 1e-5])
def test_rms_norm_layer_matches_torch(rng, dtype, eps):
    torch = pytest.importorskip("torch")
    x, g = data(rng, (8, 40), dtype), data(rng, (8, 40), dtype)
    tl = torch.nn.RMSNorm(40, eps=eps, dtype=getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        tl.weight.copy_(torch.tensor(data(rng, 40, dtype)))
    layer = deepgrad.RMSNorm(40, eps=eps, dtype=dtype)
    layer.weight.data[:] = tl.weight.detach().numpy()
    tx = torch.tensor(x, requires_grad=True)
    ty = tl(tx)
    ty.backward(torch.tensor(g))
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.forward(x), ty.detach().numpy(), **tol)
    np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), **tol)
    np.testing.assert_allclose(layer.weight.grad, tl.weight.grad.numpy(), **tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_layer_matches_torch_over_several_steps(rng, dtype):
    """Train mode for 4 steps (running statistics, num_batches_tracked, grads), then eval."""
    torch = pytest.importorskip("torch")
    tdt = getattr(torch, np.dtype(dtype).name)
    tl = torch.nn.BatchNorm1d(30, eps=1e-5, momentum=0.2, dtype=tdt)
    layer = deepgrad.BatchNorm(30, eps=1e-5, momentum=0.2, dtype=dtype)
    with torch.no_grad():
        tl.weight.copy_(torch.tensor(data(rng, 30, dtype)))
        tl.bias.copy_(torch.tensor(data(rng, 30, dtype)))
    layer.weight.data[:] = tl.weight.detach().numpy()
    layer.bias.data[:] = tl.bias.detach().numpy()
    tol = dict(rtol=1e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for step in range(4):
        x, g = data(rng, (16 + step, 30), dtype, offset=step, scale=1 + step), data(rng, (16 + step, 30), dtype)
        tx = torch.tensor(x, requires_grad=True)
        ty = tl(tx)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(layer.forward(x), ty.detach().numpy(), **tol)
        np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), **tol)
        np.testing.assert_allclose(layer.running_mean, tl.running_mean.numpy(), **tol)
        np.testing.assert_allclose(layer.running_var, tl.running_var.numpy(), **tol)
    np.testing.assert_allclose(layer.weight.grad, tl.weight.grad.numpy(), **tol)  # accumulated 4 steps
    np.testing.assert_allclose(layer.bias.grad, tl.bias.grad.numpy(), **tol)
    assert layer.num_batches_tracked == int(tl.num_batches_tracked) == 4
    # evaluation mode: running statistics, no update
    layer.eval()
    tl.eval()
    x, g = data(rng, (5, 30), dtype), data(rng, (5, 30), dtype)
    tx = torch.tensor(x, requires_grad=True)
    ty = tl(tx)
    ty.backward(torch.tensor(g))
    before = layer.running_mean.copy()
    np.testing.assert_allclose(layer.forward(x), ty.detach().numpy(), **tol)
    np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), **tol)
    np.testing.assert_array_equal(layer.running_mean, before)
    assert layer.num_batches_tracked == 4
    np.testing.assert_allclose(layer.weight.grad, tl.weight.grad.numpy(), **tol)


def test_batch_norm_without_affine_matches_torch(rng):
    torch = pytest.importorskip("torch")
    tl = torch.nn.BatchNorm1d(7, affine=False, dtype=torch.float64)
    layer = deepgrad.BatchNorm(7, affine=False, dtype=np.float64)
    assert layer.parameters() == []
    x, g = data(rng, (9, 7), np.float64), data(rng, (9, 7), np.float64)
    tx = torch.tensor(x, requires_grad=True)
    ty = tl(tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(layer.forward(x), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.running_mean, tl.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, tl.running_var.numpy(), rtol=1e-12)


# ---------------------------------------------------------------- edge cases

@pytest.mark.parametrize("dtype", DTYPES)
def test_one_feature(rng, dtype):
    """LayerNorm of one feature: x - mean = 0, so y = bias and grad_x = 0 (as torch)."""
    x, g = data(rng, (5, 1), dtype, scale=100), data(rng, (5, 1), dtype)
    w, b = np.array([2.0], dtype), np.array([0.5], dtype)
    y, m, r = ops.layer_norm(x, w, b, return_stats=True)
    np.testing.assert_array_equal(y, np.full((5, 1), 0.5, dtype))
    gx, gw, gb = ops.layer_norm_backward(g, x, m, r, w)
    np.testing.assert_array_equal(gx, 0)
    assert gw[0] == 0 and np.isclose(gb[0], g.sum(), rtol=1e-5)


def test_batch_norm_training_batch_of_one_raises(rng):
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        ops.batch_norm(data(rng, (1, 4), np.float32), training=True)
    layer = deepgrad.BatchNorm(4)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        layer.forward(data(rng, (1, 4), np.float32))
    assert layer.num_batches_tracked == 0
    layer.eval()
    assert layer.forward(data(rng, (1, 4), np.float32)).shape == (1, 4)  # eval: fine


@pytest.mark.parametrize("dtype", DTYPES)
def test_constant_rows_give_finite_output_and_gradient(rng, dtype):
    x = np.full((4, 16), 3.25, dtype)
    g = data(rng, (4, 16), dtype)
    y, m, r = ops.layer_norm(x, return_stats=True)
    assert np.all(y == 0) and np.all(np.isfinite(r))
    gx, _, _ = ops.layer_norm_backward(g, x, m, r)
    assert np.all(np.isfinite(gx))
    y, r = ops.rms_norm(np.zeros((4, 16), dtype), return_stats=True)
    assert np.all(y == 0)
    assert np.all(np.isfinite(ops.rms_norm_backward(g, np.zeros((4, 16), dtype), r)[0]))
    y, sm, sr = ops.batch_norm(x, training=True, return_stats=True)
    assert np.all(y == 0)
    gx, _, gb = ops.batch_norm_backward(g, x, sm, sr, np.ones(16, dtype), True)
    assert np.all(np.isfinite(gx)) and np.all(np.isfinite(gb))


def test_float32_row_of_a_million_with_large_offset():
    """Variance of a float32 row of 1e6 values around 1e4: accumulated in double, it stays right."""
    rng = np.random.default_rng(7)
    x = (1e4 + rng.standard_normal((1, 1_000_000))).astype(np.float32)
    y, m, r = ops.layer_norm(x, return_stats=True)
    x64 = x.astype(np.float64)
    want_m, want_r = x64.mean(), 1 / np.sqrt(x64.var() + 1e-5)
    assert abs(m[0] - want_m) <= 1e-3          # within one float32 ulp of 1e4
    assert abs(r[0] / want_r - 1) <= 1e-6
    assert abs(float(y.astype(np.float64).mean())) < 1e-4
    assert abs(float(y.astype(np.float64).std()) - 1) < 1e-4
    # the same along the batch axis
    y, sm, sr = ops.batch_norm(x.reshape(-1, 1), training=True, return_stats=True)
    assert abs(sr[0] / want_r - 1) <= 1e-6
    assert abs(float(y.astype(np.float64).std()) - 1) < 1e-4


@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_offsets(rng, dtype):
    """Rows around 1e4 with unit spread (float32: as accurate as the inputs' own rounding)."""
    x = data(rng, (8, 300), dtype, offset=1e4)
    g = data(rng, (8, 300), dtype)
    y, m, r = ops.layer_norm(x, return_stats=True)
    tol = dict(rtol=1e-3, atol=1e-3) if dtype == np.float32 else dict(rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(y, ln_ref(x)[0], **tol)
    np.testing.assert_allclose(ops.layer_norm_backward(g, x, m, r)[0], ln_bwd_ref(g, x)[0], **tol)
    np.testing.assert_allclose(ops.batch_norm(x, training=True), bn_ref(x)[0], **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lead", [0.7, 1.0, 3.0, 1e3], ids=lambda v: f"lead{v:g}")
def test_layer_norm_shift_far_from_the_mean(simd_path, rng, dtype, lead):
    """The one-pass LayerNorm statistics take their shift from the first 16 values of a
    row (csrc/norm.inc: norm_row_shift, norm_row_finish); rows whose first values sit `lead`
    standard deviations off the mean take the one-pass path (0.7) or the two-pass
    fallback (3, 1e3 and 1 on the border), and all must match the float64 reference.
    At 1e3 the shift is ~80 final standard deviations off: one pass would lose ~4 digits."""
    n = 100_000
    x = data(rng, (4, n), dtype, offset=2.0)
    x[:, :16] = (2.0 + lead + 0.01 * rng.standard_normal((4, 16))).astype(dtype)
    x[3, :16] = 4.0 - x[3, :16]
    w, b = data(rng, n, dtype), data(rng, n, dtype)
    y, m, r = ops.layer_norm(x, w, b, return_stats=True)
    y_ref, m_ref, r_ref = ln_ref(x, w, b)
    close(y, y_ref, TOL[dtype], "y")
    close(m, m_ref, TOL[dtype], "mean")
    close(r, r_ref, TOL[dtype], "rstd")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("outlier", [0.0, 30.0, -1e3], ids=lambda v: f"outlier{v:g}")
def test_batch_norm_statistics_with_offset_and_outlying_shift_rows(simd_path, rng, dtype, outlier):
    """The BatchNorm statistics take one pass per sub-block of 16 rows around the
    sub-block's first row (csrc/norm.inc:bn_stats_block_body). Columns sit at 1e4 with
    unit spread (a float32 one-pass sum of squares without a shift would lose them
    entirely); the first row of every sub-block is pushed `outlier` off, the worst case
    of the shift (its sum of squares is then up to 17x the deviations'). Everything
    must still match the float64 reference: to the float32 tolerance, and in float64 to
    what an offset of 1e4 leaves (x - mean rounds at 1e4 * 2.2e-16; a float64 sum of
    squares without a shift would be off by ~1e-8)."""
    tol = TOL[dtype] if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    x = data(rng, (70, 37), dtype, offset=1e4)
    x[::16] += dtype(outlier)
    w, b = data(rng, 37, dtype), data(rng, 37, dtype)
    rm, rv = np.zeros(37, dtype), np.ones(37, dtype)
    y, m, r = ops.batch_norm(x, w, b, rm, rv, training=True, momentum=0.5, return_stats=True)
    y_ref, m_ref, r_ref = bn_ref(x, w, b)
    close(y, y_ref, tol, "y")
    close(m, m_ref, dict(rtol=TOL[dtype]["rtol"], atol=0), "mean")
    close(r, r_ref, tol, "rstd")
    close(rv, 0.5 + 0.5 * x.astype(np.float64).var(0, ddof=1), tol, "running_var")


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_and_fortran_input(rng, dtype):
    base = data(rng, (20, 66), dtype)
    w, b = data(rng, 33, dtype), data(rng, 33, dtype)
    for x in (base[::2, ::2], np.asfortranarray(base[:, :33])):
        assert not x.flags.c_contiguous
        before = x.copy()
        close(ops.layer_norm(x, w, b), ln_ref(x, w, b)[0], TOL[dtype])
        close(ops.rms_norm(x, w, 1e-6), rms_ref(x, w)[0], TOL[dtype])
        close(ops.batch_norm(x, w, b, training=True), bn_ref(x, w, b)[0], TOL[dtype])
        g = np.asfortranarray(data(rng, x.shape, dtype))
        _, m, r = ops.layer_norm(x, w, b, return_stats=True)
        close(ops.layer_norm_backward(g, x, m, r, w)[0], ln_bwd_ref(g, x, w)[0], GRAD_TOL[dtype])
        np.testing.assert_array_equal(x, before)  # inputs untouched


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rms", [False, True], ids=["layer_norm", "rms_norm"])
def test_pipelined_rows_mix_one_pass_and_two_pass_statistics(rng, dtype, rms):
    """The cache-sized forward takes the sums of row r + 1 in the loop that writes row r
    (csrc/norm.inc: norm_forward_pipelined); rows that need the two-pass fallback (their
    first 16 values 1e3 standard deviations off the mean) sit first, between and last
    among one-pass rows, each row with its own offset, and every row must match the
    float64 reference whatever its neighbours."""
    rows, n = 7, 1000
    x = data(rng, (rows, n), dtype) + np.arange(rows, dtype=dtype)[:, None] * 100
    for r in (0, 2, 3, 6):
        x[r, :16] += dtype(1e3)
    w, b = data(rng, n, dtype), data(rng, n, dtype)
    if rms:
        y, r = ops.rms_norm(x, w, eps=1e-6, return_stats=True)
        y_ref, r_ref = rms_ref(x, w)
    else:
        y, m, r = ops.layer_norm(x, w, b, return_stats=True)
        y_ref, m_ref, r_ref = ln_ref(x, w, b)
        close(m, m_ref, TOL[dtype], "mean")
    close(y, y_ref, TOL[dtype], "y")
    close(r, r_ref, TOL[dtype], "rstd")


def test_nan_and_inf_propagate_to_their_row_only():
    x = np.ones((3, 8))
    x[0, 2] = 2.0
    x[1, 3] = np.nan
    x[2, 1] = np.inf
    y = ops.layer_norm(x)
    assert np.all(np.isfinite(y[0])) and np.all(np.isnan(y[1])) and np.all(np.isnan(y[2]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(300, 257), (64, 1024), (1000, 70)])
def test_thread_count_gives_identical_bits(threads, rng, dtype, shape):
    x, g = data(rng, shape, dtype, offset=5.0), data(rng, shape, dtype)
    w, b = data(rng, shape[1], dtype), data(rng, shape[1], dtype)

    def run():
        out = []
        y, m, r = ops.layer_norm(x, w, b, return_stats=True)
        out += [y, m, r, *ops.layer_norm_backward(g, x, m, r, w)]
        y, r = ops.rms_norm(x, w, return_stats=True)
        out += [y, r, *ops.rms_norm_backward(g, x, r, w)]
        rm, rv = np.zeros(shape[1], dtype), np.ones(shape[1], dtype)
        y, sm, sr = ops.batch_norm(x, w, b, rm, rv, True, return_stats=True)
        out += [y, sm, sr, rm, rv, *ops.batch_norm_backward(g, x, sm, sr, w, True)]
        return out

    threads(1)
    one = run()
    threads(2)
    two = run()
    for a, c in zip(one, two):
        np.testing.assert_array_equal(a, c)


def at_offset(a, nbytes):
    """A copy of a whose data starts nbytes past a 64-byte boundary."""
    buf = np.empty(a.nbytes + 128, np.uint8)
    start = (-buf.ctypes.data) % 64 + nbytes
    out = buf[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(9, 1024), (6, 33), (5, 7), (4, 100)])
def test_results_do_not_depend_on_where_the_arrays_start(simd_path, rng, dtype, shape):
    """The BatchNorm row loops start their vector steps at the output row's first 64-byte
    boundary (csrc/dg_internal.h: dg_line_head), and the per-column rows sit at the output's
    offset (csrc/norm.inc: bn_line_scratch): inputs and outputs starting anywhere in a cache
    line, at offsets equal or not, give the same bits, forward (training, evaluation) and
    backward."""
    x, g = data(rng, shape, dtype, offset=3.0), data(rng, shape, dtype)
    w, b = data(rng, shape[1], dtype), data(rng, shape[1], dtype)

    def run(xo, oo):
        xs, gs = at_offset(x, xo), at_offset(g, xo)
        res = []
        for train in (True, False):
            rm, rv = np.zeros(shape[1], dtype), np.ones(shape[1], dtype)
            y = at_offset(np.zeros(shape, dtype), oo)
            _, sm, sr = ops.batch_norm(xs, w, b, rm, rv, train, out=y, return_stats=True)
            dx = at_offset(np.zeros(shape, dtype), oo)
            gw, gb = np.zeros_like(w), np.zeros_like(b)
            ops.batch_norm_backward(gs, xs, sm, sr, w, train, grad_weight=gw, grad_bias=gb, out=dx)
            res += [y.copy(), sm, sr, rm, rv, dx.copy(), gw, gb]
        return res

    want = run(0, 0)
    step = np.dtype(dtype).itemsize
    for xo, oo in [(s_, s_) for s_ in range(step, 64, step)] + [(0, 16), (16, 0), (step, 64 - step)]:
        for a, c in zip(want, run(xo, oo)):
            np.testing.assert_array_equal(a, c, err_msg=f"x at +{xo}, out at +{oo}")


def test_backward_accumulates_parameter_gradients(rng):
    x, g = data(rng, (6, 10), np.float64), data(rng, (6, 10), np.float64)
    for layer in (deepgrad.LayerNorm(10, dtype=np.float64), deepgrad.RMSNorm(10, dtype=np.float64),
                  deepgrad.BatchNorm(10, dtype=np.float64)):
        layer.forward(x)
        layer.backward(g)
        once = [p.grad.copy() for p in layer.parameters()]
        layer.forward(x)
        layer.backward(g)
        for p, o in zip(layer.parameters(), once):
            np.testing.assert_allclose(p.grad, 2 * o, rtol=1e-14)
            assert np.any(o != 0)
        layer.zero_grad()
        assert all(np.all(p.grad == 0) for p in layer.parameters())


def test_layers_parameters_in_torch_order():
    ln = deepgrad.LayerNorm(5)
    assert [p.name for p in ln.parameters()] == ["weight", "bias"]
    assert np.all(ln.weight.data == 1) and np.all(ln.bias.data == 0) and ln.weight.data.dtype == np.float32
    assert [p.name for p in deepgrad.RMSNorm(5).parameters()] == ["weight"]
    bn = deepgrad.BatchNorm(5)
    assert [p.name for p in bn.parameters()] == ["weight", "bias"]
    assert np.all(bn.running_mean == 0) and np.all(bn.running_var == 1)
    assert deepgrad.LayerNorm(5, elementwise_affine=False).parameters() == []


def test_layer_norm_layer_any_ndim(rng):
    layer = deepgrad.LayerNorm(8, dtype=np.float64)
    x = data(rng, (2, 3, 8), np.float64)
    close(layer.forward(x), ln_ref(x)[0], TOL[np.float64])
    g = data(rng, (2, 3, 8), np.float64)
    close(layer.backward(g), ln_bwd_ref(g, x)[0], GRAD_TOL[np.float64])
    close(layer.weight.grad, ln_bwd_ref(g, x)[1], GRAD_TOL[np.float64])


# ---------------------------------------------------------------- validation

def test_validation_errors(rng):
    x = data(rng, (4, 6), np.float32)
    with pytest.raises(TypeError, match="layer_norm: x"):
        ops.layer_norm(x.astype(np.int32))
    with pytest.raises(TypeError, match="weight has dtype float64"):
        ops.layer_norm(x, np.ones(6))
    with pytest.raises(ValueError, match=r"weight must have shape \(6,\).*\(5,\)"):
        ops.layer_norm(x, np.ones(5, np.float32))
    with pytest.raises(ValueError, match="eps must be >= 0"):
        ops.layer_norm(x, eps=-1)
    with pytest.raises(ValueError, match="out overlaps x"):
        ops.layer_norm(x, out=x)
    with pytest.raises(ValueError, match="read-only"):
        out = np.empty_like(x)
        out.flags.writeable = False
        ops.layer_norm(x, out=out)
    with pytest.raises(ValueError, match="batch_norm: x must be 2-d"):
        ops.batch_norm(x[0])
    with pytest.raises(ValueError, match="required when training=False"):
        ops.batch_norm(x, training=False)
    with pytest.raises(ValueError, match="running_mean has shape"):
        ops.batch_norm(x, running_mean=np.zeros(5, np.float32), running_var=np.ones(6, np.float32))
    with pytest.raises(ValueError, match="grad_out has shape"):
        _, m, r = ops.layer_norm(x, return_stats=True)
        ops.layer_norm_backward(x[:2], x, m, r)
    with pytest.raises(ValueError, match="mean must have shape"):
        ops.layer_norm_backward(x, x, np.zeros(3, np.float32), np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="6 features"):
        deepgrad.LayerNorm(6).forward(data(rng, (4, 5), np.float32))
    with pytest.raises(TypeError, match="float32"):
        deepgrad.LayerNorm(6).forward(x.astype(np.float64))
    with pytest.raises(RuntimeError, match="forward before backward"):
        deepgrad.BatchNorm(6).backward(x)
    with pytest.raises(ValueError, match="features must be > 0"):
        deepgrad.LayerNorm(0)


def test_gradient_accumulator_is_updated_in_place(rng):
    x, g = data(rng, (5, 4), np.float64), data(rng, (5, 4), np.float64)
    w = data(rng, 4, np.float64)
    _, m, r = ops.layer_norm(x, w, return_stats=True)
    acc_w, acc_b = np.ones(4), np.ones(4)
    _, gw, gb = ops.layer_norm_backward(g, x, m, r, w, grad_weight=acc_w, grad_bias=acc_b)
    assert gw is acc_w and gb is acc_b
    _, gw_ref, gb_ref = ln_bwd_ref(g, x, w)
    close(acc_w, gw_ref + 1, GRAD_TOL[np.float64])
    close(acc_b, gb_ref + 1, GRAD_TOL[np.float64])


def test_fast_paths_still_reject_overlap_and_odd_arguments(rng):
    """The common-case fast paths of deepgrad.ops.norm hand anything unusual to the full
    checks: outputs that are views overlapping an input, accumulators aliasing the
    output, non-float eps/momentum, read-only running statistics."""
    big = data(rng, (8, 6), np.float32)
    x, w = big[:4], data(rng, 6, np.float32)
    g = data(rng, (4, 6), np.float32)
    _, m, r = ops.layer_norm(x, w, return_stats=True)
    with pytest.raises(ValueError, match="out overlaps x"):
        ops.layer_norm(x, w, out=big[2:6])                     # a view of the same memory
    with pytest.raises(ValueError, match="out overlaps"):
        ops.rms_norm(x, w, out=big[1:5])
    with pytest.raises(ValueError, match="out overlaps"):
        ops.batch_norm(x, w, out=big[3:7])
    gx = np.empty((5, 6), np.float32)
    with pytest.raises(ValueError, match="grad_weight overlaps out"):
        ops.layer_norm_backward(g, x, m, r, w, grad_weight=gx[3], out=gx[:4])
    with pytest.raises(ValueError, match="grad_bias overlaps"):
        ops.batch_norm_backward(g, x, m[:1].repeat(6), r[:1].repeat(6), w, True,
                                grad_bias=gx[3], out=gx[:4])
    with pytest.raises(ValueError, match="eps must be finite"):
        ops.layer_norm(x, w, eps=float("inf"))
    with pytest.raises(ValueError, match="momentum must be finite"):
        ops.batch_norm(x, w, momentum=float("nan"))
    rm, rv = np.zeros(6, np.float32), np.ones(6, np.float32)
    rv.flags.writeable = False
    with pytest.raises(ValueError, match="running_var is read-only"):
        ops.batch_norm(x, w, running_mean=rm, running_var=rv)
    # integer eps / momentum take the full path and give the same result as floats
    np.testing.assert_array_equal(ops.layer_norm(x, w, eps=0), ops.layer_norm(x, w, eps=0.0))
    np.testing.assert_array_equal(ops.batch_norm(x, w, momentum=0), ops.batch_norm(x, w, momentum=0.0))
    # n-d input through the fast path: statistics keep the leading shape
    x3 = data(rng, (2, 3, 6), np.float32)
    y, m3, r3 = ops.layer_norm(x3, w, return_stats=True)
    assert m3.shape == (2, 3) and r3.shape == (2, 3)
    close(y, ln_ref(x3, w)[0], TOL[np.float32])
    y, r3 = ops.rms_norm(x3, w, 1e-6, return_stats=True)
    assert r3.shape == (2, 3)
    g3 = data(rng, (2, 3, 6), np.float32)
    gx3, gw3 = ops.rms_norm_backward(g3, x3, r3, w)
    gx_ref, gw_ref = rms_bwd_ref(g3, x3, w)
    close(gx3, gx_ref, GRAD_TOL[np.float32])
    close(gw3, gw_ref, GRAD_TOL[np.float32])


# ------------------------------------------------------- large outputs (streaming stores)

@pytest.fixture
def stream_every_large_output():
    """Every norm output of 8 MiB or more streams (the rule without the cache-size term)."""
    _core.set_norm_stream_touch(0)
    yield
    _core.set_norm_stream_touch(None)


def test_the_streaming_rule_follows_the_last_level_cache_unless_set():
    auto = _core.norm_stream_touch()
    assert auto > 0  # a quarter of the last-level cache (8 MiB when the OS reports none)
    try:
        _core.set_norm_stream_touch(12345)
        assert _core.norm_stream_touch() == 12345
        _core.set_norm_stream_touch(0)
        assert _core.norm_stream_touch() == 0
    finally:
        _core.set_norm_stream_touch(None)
    assert _core.norm_stream_touch() == auto


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_outputs_give_the_same_bits_streamed_or_not(rng, dtype):
    """The store kind changes where the output goes, never its value."""
    shape = ((8 << 20) // (512 * np.dtype(dtype).itemsize) + 1, 512)
    x = data(rng, shape, dtype, offset=3.0)
    g = data(rng, shape, dtype)
    w, b = data(rng, 512, dtype, 1.0, 0.1), data(rng, 512, dtype, 0.0, 0.1)
    results = []
    for touch in (0, 1 << 62):  # every large output streams / none does
        _core.set_norm_stream_touch(touch)
        try:
            y, m, r = ops.layer_norm(x, w, b, return_stats=True)
            gx, gw, gb = ops.layer_norm_backward(g, x, m, r, w)
            rm, rv = np.zeros(512, dtype), np.ones(512, dtype)
            yb, bm, br = ops.batch_norm(x, w, b, rm, rv, training=True, return_stats=True)
            gxb, gwb, gbb = ops.batch_norm_backward(g, x, bm, br, w, True)
            results.append([y, gx, gw, gb, yb, gxb, gwb, gbb, rm, rv])
        finally:
            _core.set_norm_stream_touch(None)
    for a, c in zip(*results):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("offset_out", [False, True], ids=["aligned-out", "out-offset-by-one"])
def test_outputs_of_8_mib_and_more_take_the_streaming_store_path(simd_path, rng, dtype, offset_out,
                                                                stream_every_large_output):
    """Outputs of >= 8 MiB are written with non-temporal stores (csrc/norm.inc; forced here,
    whatever the size of the last-level cache); check them against the references, also with
    an output that starts one element past a 64-byte line."""
    rows = (8 << 20) // (1000 * np.dtype(dtype).itemsize) + 3  # just above 8 MiB, odd row count
    shape = (rows, 1000)
    x = data(rng, shape, dtype, offset=3.0)
    g = data(rng, shape, dtype)
    w, b = data(rng, 1000, dtype, 1.0, 0.1), data(rng, 1000, dtype, 0.0, 0.1)

    def out_buffer():
        flat = np.full(np.prod(shape) + 1, np.nan, dtype)
        return (flat[1:] if offset_out else flat[:-1]).reshape(shape)

    y, mean, rstd = ops.layer_norm(x, w, b, out=out_buffer(), return_stats=True)
    close(y, ln_ref(x, w, b)[0], TOL[dtype], "layer_norm >= 8 MiB")
    gx, gw, gb = ops.layer_norm_backward(g, x, mean, rstd, w, out=out_buffer())
    want = ln_bwd_ref(g, x, w)
    close(gx, want[0], GRAD_TOL[dtype], "layer_norm_backward >= 8 MiB")
    y, _ = ops.rms_norm(x, w, out=out_buffer(), return_stats=True)
    close(y, rms_ref(x, w, eps=float(np.finfo(dtype).eps))[0], TOL[dtype], "rms_norm >= 8 MiB")
    rm, rv = np.zeros(1000, dtype), np.ones(1000, dtype)
    y, bm, br = ops.batch_norm(x, w, b, rm, rv, training=True, out=out_buffer(), return_stats=True)
    close(y, bn_ref(x, w, b)[0], TOL[dtype], "batch_norm >= 8 MiB")
    gx, gw, gb = ops.batch_norm_backward(g, x, bm, br, w, True, out=out_buffer())
    want = bn_bwd_ref(g, x, w)
    close(gx, want[0], GRAD_TOL[dtype], "batch_norm_backward >= 8 MiB")
    close(gw, want[1], GRAD_TOL[dtype], "batch_norm_backward grad_weight >= 8 MiB")
    close(gb, want[2], GRAD_TOL[dtype], "batch_norm_backward grad_bias >= 8 MiB")
