"""Residual: y = x + f(x); grad_x = grad_y (the identity highway) + grad through f."""
import numpy as np
import pytest
from _numeric import central_difference

import deepgrad
from deepgrad import ops


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 16, 17, 1000, 300_001])
def test_residual_add_and_backward(simd_path, rng, dtype, n):
    x, fx = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    np.testing.assert_array_equal(ops.residual_add(x, fx), x + fx)  # one IEEE add: exact
    np.testing.assert_array_equal(ops.residual_backward(x, fx), x + fx)


def test_every_size_0_to_70(rng):
    for n in range(71):
        x, fx = rng.standard_normal((n, 3)), rng.standard_normal((n, 3))
        np.testing.assert_array_equal(ops.residual_add(x, fx), x + fx)


def test_in_place_and_layouts(rng):
    x, fx = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    want = x + fx
    a = fx.copy()
    assert ops.residual_add(x, a, out=a) is a          # into the branch output
    np.testing.assert_array_equal(a, want)
    b = x.copy()
    assert ops.residual_add(b, fx, out=b) is b         # into the input
    np.testing.assert_array_equal(b, want)
    np.testing.assert_array_equal(ops.residual_add(x[::2], fx[::2]), want[::2])
    np.testing.assert_array_equal(ops.residual_add(np.asfortranarray(x), fx), want)
    with pytest.raises(ValueError, match="overlaps"):
        flat = x.reshape(-1)
        ops.residual_add(flat[1:], fx.reshape(-1)[1:], out=flat[:-1])
    with pytest.raises(TypeError, match="dtype"):
        ops.residual_add(x, fx.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        ops.residual_add(x, fx[:3])


def test_residual_layer_gradient_is_identity_plus_branch(rng):
    x, g = rng.standard_normal((4, 9)), rng.standard_normal((4, 9))
    block = deepgrad.Sigmoid()
    res = deepgrad.Residual(block)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(res.forward(x), x + s, rtol=1e-14)
    np.testing.assert_allclose(res.backward(g), g + g * s * (1 - s), rtol=1e-14)
    assert res.parameters() == []


def test_residual_layer_finite_differences_and_parameters(rng):
    """Residual around a LayerNorm: gradients wrt x and the block's parameters, by central differences."""
    ln = deepgrad.LayerNorm(6, dtype=np.float64)
    ln.weight.data[:] = rng.standard_normal(6)
    ln.bias.data[:] = rng.standard_normal(6)
    res = deepgrad.Residual(ln)
    assert res.parameters() == [ln.weight, ln.bias]
    x, G = rng.standard_normal((3, 6)), rng.standard_normal((3, 6))
    f = lambda: float((res.forward(x) * G).sum())
    f()
    gx = res.backward(G).copy()
    h = 1e-6
    for arr, grad in ((x, gx), (ln.weight.data, ln.weight.grad), (ln.bias.data, ln.bias.grad)):
        num = central_difference(f, arr, h)
        assert np.all(np.abs(grad - num) <= 1e-5 + 1e-3 * np.abs(num))


def test_the_identity_path_keeps_the_gradient_alive(rng):
    """20 sigmoid layers shrink the gradient below 0.25**20; 20 residual sigmoid blocks never shrink it."""
    x = rng.standard_normal((2, 8))
    g = np.ones((2, 8))
    plain = [deepgrad.Sigmoid() for _ in range(20)]
    res = [deepgrad.Residual(deepgrad.Sigmoid()) for _ in range(20)]
    for stack in (plain, res):
        h = x
        for layer in stack:
            h = layer.forward(h)
        stack.append(h)
    gp, gr = g, g
    for layer in reversed(plain[:-1]):
        gp = layer.backward(gp)
    for layer in reversed(res[:-1]):
        gr = layer.backward(gr)
    assert np.abs(gp).max() <= 0.25 ** 20
    assert np.all(gr >= 1.0)  # each block multiplies by 1 + sigmoid' >= 1


def test_residual_layer_checks(rng):
    with pytest.raises(TypeError, match="Layer"):
        deepgrad.Residual(lambda x: x)
    with pytest.raises(RuntimeError, match="forward before backward"):
        deepgrad.Residual(deepgrad.ReLU()).backward(np.ones(3))
    res = deepgrad.Residual(deepgrad.ReLU())
    y1 = res.forward(np.ones(3)).copy()
    res.eval()
    assert res.block.training is False
    np.testing.assert_array_equal(y1, 2 * np.ones(3))


def test_thread_count_gives_identical_bits(threads, rng):
    x, fx = rng.standard_normal(1_000_003).astype(np.float32), rng.standard_normal(1_000_003).astype(np.float32)
    threads(1)
    a = ops.residual_add(x, fx)
    threads(2)
    np.testing.assert_array_equal(a, ops.residual_add(x, fx))
