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


# ------------------------------------------------------------ normalization
# _core.layer_norm_fast / layer_norm_backward_fast / batch_norm_fast /
# batch_norm_backward_fast: the same contract for the normalization calls.

def _y_rstd(r):
    """(y, rstd) of an RMSNorm forward fast path's result (its mean is None)."""
    return None if r is None else (r[0], r[2])


def _grad_x_w(r):
    """(grad_x, grad_weight) of a backward fast path's result (grad_bias is None for RMSNorm)."""
    return None if r is None else r[:2]


def _norm_calls(dtype=np.float32, rows=6, cols=9):
    """name -> (fast call, public call) over fresh plain operands; each returns a tuple."""
    rng = np.random.default_rng(1)
    a = {k: rng.standard_normal(s).astype(dtype) for k, s in
         dict(x=(rows, cols), g=(rows, cols), w=cols, b=cols).items()}
    _, m, r = ops.layer_norm(a["x"], a["w"], a["b"], return_stats=True)
    _, bm, br = ops.batch_norm(a["x"], a["w"], a["b"], training=True, return_stats=True)
    _, rr = ops.rms_norm(a["x"], a["w"], return_stats=True)
    rm, rv = np.zeros(cols, dtype), np.ones(cols, dtype)
    return a, {
        "layer_norm": (lambda x=a["x"], out=None: _core.layer_norm_fast(x, a["w"], a["b"], 1e-5, out),
                       lambda x=a["x"], out=None: ops.layer_norm(x, a["w"], a["b"], 1e-5, out=out,
                                                                 return_stats=True)),
        "layer_norm_backward": (
            lambda x=a["x"], out=None: _core.layer_norm_backward_fast(a["g"], x, m, r, a["w"], None, None, out),
            lambda x=a["x"], out=None: ops.layer_norm_backward(a["g"], x, m, r, a["w"], out=out)),
        "rms_norm": (lambda x=a["x"], out=None: _y_rstd(_core.layer_norm_fast(x, a["w"], None, 1e-6, out,
                                                                              False)),
                     lambda x=a["x"], out=None: ops.rms_norm(x, a["w"], 1e-6, out=out, return_stats=True)),
        "rms_norm_backward": (
            lambda x=a["x"], out=None: _grad_x_w(_core.layer_norm_backward_fast(
                a["g"], x, None, rr, a["w"], None, None, out, False)),
            lambda x=a["x"], out=None: ops.rms_norm_backward(a["g"], x, rr, a["w"], out=out)),
        "batch_norm": (
            lambda x=a["x"], out=None: _core.batch_norm_fast(x, a["w"], a["b"], rm, rv, True, 0.1, 1e-5, out),
            lambda x=a["x"], out=None: ops.batch_norm(x, a["w"], a["b"], rm, rv, True, 0.1, 1e-5, out=out,
                                                      return_stats=True)),
        "batch_norm_backward": (
            lambda x=a["x"], out=None: _core.batch_norm_backward_fast(a["g"], x, bm, br, a["w"], True,
                                                                      None, None, out),
            lambda x=a["x"], out=None: ops.batch_norm_backward(a["g"], x, bm, br, a["w"], True, out=out)),
    }


NORM_CALLS = list(_norm_calls()[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NORM_CALLS)
def test_norm_fast_path_equals_the_checked_path_bit_for_bit(dtype, name):
    """The plain call is computed by the fast path; a Fortran-ordered x is not (it is
    copied by the full checks), and both give the same bits (the same kernel)."""
    a, calls = _norm_calls(dtype)
    fast, public = calls[name]
    got = fast()
    assert got is not None
    assert fast(x=np.asfortranarray(a["x"])) is None
    want = public(x=np.asfortranarray(a["x"]))
    for g, w in zip(got, want):
        assert g.dtype == dtype
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("case", list(_not_plain()))
@pytest.mark.parametrize("name", NORM_CALLS)
def test_norm_fast_path_hands_anything_else_back(case, name):
    bad = _not_plain()[case]
    a, calls = _norm_calls(rows=5, cols=7)
    fast, _ = calls[name]
    assert fast(x=bad) is None
    if isinstance(bad, np.ndarray) and bad.shape == a["x"].shape:
        assert fast(out=bad) is None


@pytest.mark.parametrize("name", NORM_CALLS)
def test_norm_unusable_outputs_fall_back_and_raise_leaving_inputs_alone(name):
    a, calls = _norm_calls()
    fast, public = calls[name]
    x = a["x"]
    ro = np.empty_like(x)
    ro.flags.writeable = False
    wide = np.zeros(x.size + 1, x.dtype)
    for label, out in {"read-only": ro, "x itself": x, "other dtype": np.empty(x.shape, np.float64),
                       "other shape": np.empty(x.shape[::-1], x.dtype)}.items():
        before = {k: v.copy() for k, v in a.items()}
        assert fast(out=out) is None, label
        with pytest.raises((TypeError, ValueError)):
            public(out=out)
        for k in a:
            np.testing.assert_array_equal(a[k], before[k])
    # x and out overlapping in part: never computed, the full checks raise
    src = wide[:-1].reshape(x.shape)
    src[...] = x
    partial = wide[1:].reshape(x.shape)
    assert fast(x=src, out=partial) is None
    with pytest.raises(ValueError, match="overlap"):
        public(x=src, out=partial)


def test_norm_fast_path_refuses_aliased_statistics_and_accumulators():
    a, _ = _norm_calls()
    x, w, b, g = a["x"], a["w"], a["b"], a["g"]
    rm = np.zeros(9, np.float32)
    ro = np.ones(9, np.float32)
    ro.flags.writeable = False
    assert _core.batch_norm_fast(x, w, b, rm, rm, True, 0.1, 1e-5, None) is None     # one array twice
    assert _core.batch_norm_fast(x, w, b, w, np.ones(9, np.float32), True, 0.1, 1e-5, None) is None
    assert _core.batch_norm_fast(x, w, b, rm, ro, True, 0.1, 1e-5, None) is None     # read-only
    assert _core.batch_norm_fast(x, w, b, None, None, False, 0.1, 1e-5, None) is None  # eval needs them
    assert _core.batch_norm_fast(x[:1], w, b, None, None, True, 0.1, 1e-5, None) is None  # batch of 1
    _, m, r = ops.batch_norm(x, w, b, training=True, return_stats=True)
    gw = np.zeros(9, np.float32)
    assert _core.batch_norm_backward_fast(g, x, m, r, w, True, gw, gw, None) is None
    assert _core.batch_norm_backward_fast(g, x, m, r, w, True, w, None, None) is None
    assert _core.batch_norm_backward_fast(g, x, m, r, None, True, None, None, None) is None
    _, m, r = ops.layer_norm(x, w, b, return_stats=True)
    assert _core.layer_norm_backward_fast(g, x, m, r, w, gw, gw, None) is None
    assert _core.layer_norm_backward_fast(g, x, m, r, w, None, ro, None) is None
    assert _core.layer_norm_backward_fast(g, x, m[:-1], r, w, None, None, None) is None
    with pytest.raises(ValueError):
        ops.batch_norm(x, w, b, rm, rm, training=True)
    with pytest.raises(ValueError):
        ops.layer_norm_backward(g, x, m, r, w, grad_weight=gw, grad_bias=gw)
