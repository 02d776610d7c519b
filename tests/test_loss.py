"""MSE and softmax cross-entropy: references, finite differences, PyTorch, extremes, validation."""
import numpy as np
import pytest
from _numeric import central_difference

import deepgrad
from deepgrad import ops

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-5, np.float64: 1e-13}


def ce_ref(logits, target):
    x = logits.astype(np.float64)
    m = x.max(1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(x - m).sum(1))
    loss = (lse - x[np.arange(len(x)), target]).mean()
    p = np.exp(x - lse[:, None])
    p[np.arange(len(x)), target] -= 1
    return loss, p / len(x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (17,), (5, 33), (3, 4, 5), (70_001,)])
def test_mse_matches_reference(simd_path, rng, dtype, shape):
    p, t = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    d = p.astype(np.float64) - t
    assert ops.mse_loss(p, t) == pytest.approx((d ** 2).mean(), rel=RTOL[dtype])
    np.testing.assert_allclose(ops.mse_loss_backward(p, t), 2 * d / d.size, rtol=RTOL[dtype] * 10,
                               atol=1e-12)
    np.testing.assert_allclose(ops.mse_loss_backward(p, t, grad=3.0), 6 * d / d.size, rtol=RTOL[dtype] * 10,
                               atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (6, 1), (7, 10), (33, 129), (400, 300)])
def test_cross_entropy_matches_reference(simd_path, rng, dtype, shape):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    t = rng.integers(0, shape[1], shape[0])
    loss, grad = ce_ref(x, t)
    assert ops.cross_entropy(x, t) == pytest.approx(loss, rel=RTOL[dtype] * 10, abs=1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_allclose(ops.cross_entropy_backward(x, t), grad, rtol=RTOL[dtype] * 100,
                               atol=1e-7 if dtype == np.float32 else 1e-15)


@pytest.mark.parametrize("n", [1, 31, 33, 70_001])
def test_float32_losses_sum_in_double(simd_path, rng, n):
    """float32 MSE and cross-entropy take their sums in double: the loss is the float64
    reference rounded once (MSE: within 1 ulp; 16 float lanes over 70001 squares miss that
    in about half of the seeds) or within 2 ulp (cross-entropy: exps of 1 ulp each)."""
    p = rng.standard_normal(n).astype(np.float32)
    t = rng.standard_normal(n).astype(np.float32)
    ref = np.float32(((p.astype(np.float64) - t) ** 2).mean())
    assert abs(ops.mse_loss(p, t) - ref) <= np.spacing(ref)
    x = (rng.standard_normal((3, n)) * 4).astype(np.float32)
    target = rng.integers(0, n, 3)
    ref = np.float32(ce_ref(x, target)[0])
    assert abs(ops.cross_entropy(x, target) - ref) <= 2 * np.spacing(ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_size_0_to_70(rng, dtype):
    for n in range(71):
        p, q = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
        got = ops.mse_loss(p, q)
        if n == 0:
            assert np.isnan(got) and ops.mse_loss_backward(p, q).shape == (0,)
        else:
            assert got == pytest.approx(((p.astype(np.float64) - q) ** 2).mean(), rel=RTOL[dtype])
    for rows, cols in [(r, 9) for r in range(71)] + [(4, c) for c in range(1, 71)]:
        x = rng.standard_normal((rows, cols)).astype(dtype)
        t = rng.integers(0, cols, rows)
        if rows == 0:
            assert np.isnan(ops.cross_entropy(x, t))
            assert ops.cross_entropy_backward(x, t).shape == (0, cols)
            continue
        loss, grad = ce_ref(x, t)
        assert ops.cross_entropy(x, t) == pytest.approx(loss, rel=1e-5, abs=1e-6)
        np.testing.assert_allclose(ops.cross_entropy_backward(x, t), grad, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_stable_for_huge_logits(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4 - 1, -1e4]], dtype)
    t = np.array([1, 0, 1])
    loss, grad = ce_ref(x, t)
    got = ops.cross_entropy(x, t)
    assert np.isfinite(got) and got == pytest.approx(loss, rel=1e-6)
    g = ops.cross_entropy_backward(x, t)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, grad, atol=1e-7)


def test_finite_differences(rng):
    x = rng.standard_normal((4, 6))
    t = rng.integers(0, 6, 4)
    p, q = rng.standard_normal(7), rng.standard_normal(7)
    h = 1e-6
    for arr, f, grad in ((x, lambda: ops.cross_entropy(x, t), ops.cross_entropy_backward(x, t)),
                         (p, lambda: ops.mse_loss(p, q), ops.mse_loss_backward(p, q))):
        num = central_difference(f, arr, h)
        assert np.all(np.abs(grad - num) <= 1e-5 + 1e-3 * np.abs(num))


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_torch(rng, dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = (rng.standard_normal((20, 7)) * 4).astype(dtype)
    t = rng.integers(0, 7, 20)
    tx = torch.tensor(x, requires_grad=True)
    tl = F.cross_entropy(tx, torch.tensor(t))
    tl.backward()
    ce = deepgrad.CrossEntropyLoss()
    rel = 1e-5 if dtype == np.float32 else 1e-13
    assert ce.forward(x, t) == pytest.approx(tl.item(), rel=rel)
    np.testing.assert_allclose(ce.backward(), tx.grad.numpy(), rtol=rel * 10, atol=1e-8 if dtype == np.float32 else 1e-16)
    p, q = rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((5, 3)).astype(dtype)
    tp = torch.tensor(p, requires_grad=True)
    tm = F.mse_loss(tp, torch.tensor(q))
    tm.backward()
    mse = deepgrad.MSELoss()
    assert mse.forward(p, q) == pytest.approx(tm.item(), rel=rel)
    np.testing.assert_allclose(mse.backward(), tp.grad.numpy(), rtol=rel * 10)


@pytest.mark.parametrize("tdtype", [np.int64, np.int32, np.uint8, np.int16, np.uint64])
def test_any_integer_target_dtype(rng, tdtype):
    x = rng.standard_normal((5, 4))
    t = np.array([0, 3, 2, 1, 3], dtype=tdtype)
    assert ops.cross_entropy(x, t) == pytest.approx(ce_ref(x, t.astype(np.int64))[0], rel=1e-13)


def test_target_validation(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    with pytest.raises(ValueError, match=r"target\[1\] = 4 is out of range for 4 classes"):
        ops.cross_entropy(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"target\[2\] = -1"):
        ops.cross_entropy_backward(x, np.array([0, 1, -1]))
    with pytest.raises(ValueError, match="out of range"):
        ops.cross_entropy(x, np.array([0, 1, 2**63], dtype=np.uint64))
    with pytest.raises(TypeError, match="integer dtype"):
        ops.cross_entropy(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="target must be a numpy.ndarray"):
        ops.cross_entropy(x, [0, 1, 2])
    with pytest.raises(ValueError, match="3 rows"):
        ops.cross_entropy(x, np.array([0, 1]))
    with pytest.raises(ValueError, match="1-d"):
        ops.cross_entropy(x, np.zeros((3, 1), np.int64))
    with pytest.raises(ValueError, match="logits must be 2-d"):
        ops.cross_entropy(x[0], np.array([0]))
    with pytest.raises(ValueError, match="must match"):
        ops.mse_loss(x, x[:2])
    with pytest.raises(TypeError, match="dtype"):
        ops.mse_loss(x, x.astype(np.float64))
    with pytest.raises(RuntimeError, match="forward before backward"):
        deepgrad.MSELoss().backward()


def test_nan_propagates(rng):
    x = rng.standard_normal((3, 4))
    x[1, 2] = np.nan
    t = np.array([0, 1, 2])
    assert np.isnan(ops.cross_entropy(x, t))
    g = ops.cross_entropy_backward(x, t)
    assert np.all(np.isfinite(g[0])) and np.all(np.isnan(g[1]))
    assert np.isnan(ops.mse_loss(x, np.zeros_like(x)))


def test_non_contiguous_inputs(rng):
    x = rng.standard_normal((10, 12))[::2, ::3]
    t = rng.integers(0, 4, 10)[::2]
    loss, grad = ce_ref(x, t)
    assert ops.cross_entropy(x, t) == pytest.approx(loss, rel=1e-13)
    np.testing.assert_allclose(ops.cross_entropy_backward(x, t), grad, rtol=1e-12, atol=1e-16)
    p, q = x.T, np.asfortranarray(x).T
    assert ops.mse_loss(p, q) == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_count_gives_identical_bits(threads, rng, dtype):
    p, q = rng.standard_normal(3_000_017).astype(dtype), rng.standard_normal(3_000_017).astype(dtype)
    x = rng.standard_normal((5000, 100)).astype(dtype)
    t = rng.integers(0, 100, 5000)

    def run():
        return (ops.mse_loss(p, q), ops.mse_loss_backward(p, q), ops.cross_entropy(x, t),
                ops.cross_entropy_backward(x, t))

    threads(1)
    one = run()
    threads(2)
    for a, b in zip(one, run()):
        np.testing.assert_array_equal(a, b)
