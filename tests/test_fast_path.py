"""The C fast path of the activation bindings (_core.activation_forward_fast /
activation_backward_fast) must take exactly the plain case and hand everything else
back (None) to the full checks of deepgrad._validate, which copy or raise."""
import numpy as np
import pytest

from deepgrad import _core, ops

RELU, SIGMOID = _core.ACT_RELU, _core.ACT_SIGMOID


def _x(dtype=np.float32, shape=(5, 7)):
    return np.random.default_rng(0).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(0,), (1,), (33,), (5, 7), (2, 3, 4)])
def test_plain_operands_are_computed(dtype, shape):
    x = _x(dtype, shape)
    y = _core.activation_forward_fast(SIGMOID, x, None)
    assert y.dtype == dtype and y.shape == shape
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-x.astype(np.float64))), rtol=1e-6)
    out = np.full_like(x, np.nan)
    assert _core.activation_forward_fast(RELU, x, out) is out
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    g = _x(dtype, shape) + 1
    d = _core.activation_backward_fast(RELU, g, x, None)
    np.testing.assert_array_equal(d, np.where(x > 0, g, 0))


def test_in_place_and_identical_views_are_allowed():
    x = _x()
    ref = np.maximum(x, 0)
    assert _core.activation_forward_fast(RELU, x, x) is x
    np.testing.assert_array_equal(x, ref)
    x = _x()
    view = x.view()                       # another object, the same memory
    assert _core.activation_forward_fast(RELU, x, view) is view
    np.testing.assert_array_equal(x, ref)
    g = _x() + 1
    x = _x()
    assert _core.activation_backward_fast(RELU, g, x, g) is g


class Sub(np.ndarray):
    pass


def _not_plain():
    x = _x()
    big = x.astype(">f4")
    buf = np.zeros(x.size * 4 + 1, np.uint8)[1:].view(np.float32)   # misaligned
    return {
        "float16": x.astype(np.float16), "int": x.astype(np.int32), "list": x.tolist(),
        "big-endian": big, "subclass": x.view(Sub), "strided": _x(shape=(5, 14))[:, ::2],
        "fortran": np.asfortranarray(x), "misaligned": buf.reshape(x.shape),
    }


@pytest.mark.parametrize("case", list(_not_plain()))
def test_anything_else_falls_back(case):
    a = _not_plain()[case]
    x = _x()
    assert _core.activation_forward_fast(RELU, a, None) is None
    assert _core.activation_backward_fast(RELU, a, x, None) is None
    assert _core.activation_backward_fast(RELU, x, a, None) is None
    if isinstance(a, np.ndarray) and a.shape == x.shape:
        before = x.copy()
        assert _core.activation_forward_fast(RELU, x, a) is None
        np.testing.assert_array_equal(x, before)


def test_unusable_out_falls_back_and_then_raises():
    x = _x()
    ro = np.empty_like(x)
    ro.flags.writeable = False
    wide = np.empty(x.size + 1, np.float32)
    partial = wide[1:].reshape(x.shape)
    bad = {"read-only": ro, "other dtype": np.empty(x.shape, np.float64),
           "other shape": np.empty((7, 5), np.float32), "flat": np.empty(x.size, np.float32)}
    for name, out in bad.items():
        assert _core.activation_forward_fast(RELU, x, out) is None, name
        with pytest.raises((TypeError, ValueError)):
            ops.relu(x, out=out)
    # partial overlap with an input: never computed in place, raised by the full checks
    wide[:] = 1
    src = wide[:-1].reshape(x.shape)
    assert _core.activation_forward_fast(RELU, src, partial) is None
    with pytest.raises(ValueError, match="overlaps"):
        ops.relu(src, out=partial)
    assert np.all(wide == 1)
    g = _x()
    assert _core.activation_backward_fast(RELU, g, src, partial) is None
    with pytest.raises(ValueError, match="overlaps"):
        ops.relu_backward(g, src, out=partial)


def test_mismatched_operands_fall_back():
    x = _x()
    assert _core.activation_backward_fast(RELU, x, _x(np.float64), None) is None
    assert _core.activation_backward_fast(RELU, x, _x(shape=(7, 5)), None) is None
    assert _core.activation_backward_fast(RELU, x, _x(shape=(35,)), None) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaky_relu_takes_its_slope(dtype):
    x = _x(dtype)
    y = _core.activation_forward_fast(_core.ACT_LEAKY_RELU, x, None, 0.25)
    np.testing.assert_array_equal(y, np.where(x > 0, x, dtype(0.25) * x))
    g = _x(dtype) + 1
    d = _core.activation_backward_fast(_core.ACT_LEAKY_RELU, g, x, None, 0.25)
    np.testing.assert_array_equal(d, np.where(x > 0, g, dtype(0.25) * g))


def test_unknown_kernel_is_refused():
    with pytest.raises(ValueError):
        _core.activation_forward_fast(_core.ACT_LEAKY_RELU + 1, _x(), None)
    with pytest.raises(ValueError):
        _core.activation_backward_fast(-1, _x(), _x(), None)
