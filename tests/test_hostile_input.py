"""Hostile and odd input for every public function of deepgrad.ops and every layer.

Table-driven: SPECS lists every name in deepgrad.ops.__all__ (a new op without an
entry fails test_registry_covers_every_op) with a factory of valid keyword arguments.
The generic tests substitute ONE argument at a time with a hostile value and check:

  * the documented exception (README "Reliability", deepgrad._validate): TypeError for
    the kind (not an ndarray, dtype other than float32/float64, mixed dtypes, non-bool
    flag, non-number scalar); ValueError for shape/ndim/value and unusable `out`;
  * the message names the function and the argument;
  * every input array is unchanged afterwards (also after an exception);
  * odd but valid input (strided, negative strides, byte-swapped, read-only, ndarray
    subclasses, empty) gives exactly the result of the plain contiguous call.

NaN/inf/huge values, GEMM NaN rows and the 2**31-element test are at the end.
"""
from dataclasses import dataclass, field
import math
import warnings

import numpy as np
import pytest

import deepgrad
from deepgrad import ops

DTYPES = [np.float32, np.float64]
pytestmark = pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
OTHER = {np.dtype(np.float32): np.float64, np.dtype(np.float64): np.float32}


@dataclass
class Spec:
    func: object
    make: object                 # make(rng, dtype, n, f) -> dict of keyword arguments (all valid)
    arrays: tuple                # float array inputs (never modified)
    outs: tuple = ()             # arrays written or accumulated in place
    scalars: tuple = ()          # finite real numbers
    flags: tuple = ()            # bools
    ints: tuple = ()             # integer index arrays
    free_0d: tuple = ()          # arrays that may alone be 0-d (elementwise single input)
    free_nd: tuple = ()          # arrays that may alone get extra leading axes
    empty_rows_error: object = None   # exception for n == 0, or None (valid, empty result)
    empty_cols_error: object = None   # exception for f == 0, or None
    alias_ok: tuple = ()         # out may be this very input (elementwise, in place)
    notes: dict = field(default_factory=dict)


def r(rng, shape, dtype, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, shape).astype(dtype)


def _unary(func):
    return Spec(func, lambda rng, dt, n, f: dict(x=r(rng, (n, f), dt), out=np.empty((n, f), dt)),
                arrays=("x",), outs=("out",), free_0d=("x",), free_nd=("x",), alias_ok=("x",))


def _binary(func, a, b, scalars=(), extra=None):
    def make(rng, dt, n, f):
        kw = {a: r(rng, (n, f), dt), b: r(rng, (n, f), dt, 0.05, 0.95), "out": np.empty((n, f), dt)}
        kw.update(extra or {})
        return kw
    return Spec(func, make, arrays=(a, b), outs=("out",), scalars=scalars, alias_ok=(a, b))


def _mm(rng, dt, n, f):
    return dict(a=r(rng, (n, f), dt), b=r(rng, (f, 3), dt), trans_a=False, trans_b=False,
                out=np.zeros((n, 3), dt), alpha=1.5, beta=0.5)


def _dense_bwd(rng, dt, n, f):
    return dict(grad_out=r(rng, (n, 4), dt), x=r(rng, (n, f), dt), W=r(rng, (4, f), dt),
                need_bias=True, need_x=True, grad_x=np.empty((n, f), dt), grad_W=np.zeros((4, f), dt),
                grad_b=np.zeros(4, dt))


def _ln_bwd(rng, dt, n, f):
    x = r(rng, (n, f), dt)
    _, mean, rstd = ops.layer_norm(x, return_stats=True)
    return dict(grad_out=r(rng, (n, f), dt), x=x, mean=mean, rstd=rstd, weight=r(rng, f, dt),
                grad_weight=np.zeros(f, dt), grad_bias=np.zeros(f, dt), out=np.empty((n, f), dt))


def _rms_bwd(rng, dt, n, f):
    x = r(rng, (n, f), dt)
    _, rstd = ops.rms_norm(x, return_stats=True)
    return dict(grad_out=r(rng, (n, f), dt), x=x, rstd=rstd, weight=r(rng, f, dt),
                grad_weight=np.zeros(f, dt), out=np.empty((n, f), dt))


def _bn(rng, dt, n, f):
    return dict(x=r(rng, (n, f), dt), weight=r(rng, f, dt), bias=r(rng, f, dt),
                running_mean=np.zeros(f, dt), running_var=np.ones(f, dt), training=True,
                momentum=0.1, eps=1e-5, out=np.empty((n, f), dt), return_stats=True)


def _bn_bwd(rng, dt, n, f):
    return dict(grad_out=r(rng, (n, f), dt), x=r(rng, (n, f), dt), save_mean=r(rng, f, dt),
                save_rstd=r(rng, f, dt, 0.5, 2.0), weight=r(rng, f, dt), training=True,
                grad_weight=np.zeros(f, dt), grad_bias=np.zeros(f, dt), out=np.empty((n, f), dt))


def _ce(rng, dt, n, f):
    return dict(logits=r(rng, (n, f), dt), target=rng.integers(0, max(f, 1), n))


SPECS = {
    **{name: _unary(getattr(ops, name)) for name in
       ("relu", "sigmoid", "sigmoid_libm", "tanh", "gelu", "silu", "copy")},
    "leaky_relu": Spec(ops.leaky_relu, lambda rng, dt, n, f: dict(x=r(rng, (n, f), dt), negative_slope=0.1,
                                                                 out=np.empty((n, f), dt)),
                       arrays=("x",), outs=("out",), scalars=("negative_slope",), free_0d=("x",),
                       free_nd=("x",), alias_ok=("x",)),
    "relu_backward": _binary(ops.relu_backward, "grad_out", "x"),
    "leaky_relu_backward": _binary(ops.leaky_relu_backward, "grad_out", "x", ("negative_slope",),
                                   {"negative_slope": 0.2}),
    "sigmoid_backward": _binary(ops.sigmoid_backward, "grad_out", "y"),
    "tanh_backward": _binary(ops.tanh_backward, "grad_out", "y"),
    "gelu_backward": _binary(ops.gelu_backward, "grad_out", "x"),
    "silu_backward": _binary(ops.silu_backward, "grad_out", "x"),
    "residual_add": _binary(ops.residual_add, "x", "fx"),
    "residual_backward": _binary(ops.residual_backward, "grad_out", "grad_branch"),
    "matmul": Spec(ops.matmul, _mm, arrays=("a", "b"), outs=("out",), scalars=("alpha", "beta"),
                   flags=("trans_a", "trans_b")),
    "dense_forward": Spec(ops.dense_forward,
                          lambda rng, dt, n, f: dict(x=r(rng, (n, f), dt), W=r(rng, (4, f), dt),
                                                     b=r(rng, 4, dt), out=np.empty((n, 4), dt)),
                          arrays=("x", "W", "b"), outs=("out",), free_nd=("x",)),
    "dense_backward": Spec(ops.dense_backward, _dense_bwd, arrays=("grad_out", "x", "W"),
                           outs=("grad_x", "grad_W", "grad_b"), flags=("need_bias", "need_x")),
    "layer_norm": Spec(ops.layer_norm,
                       lambda rng, dt, n, f: dict(x=r(rng, (n, f), dt), weight=r(rng, f, dt), bias=r(rng, f, dt),
                                                  eps=1e-5, out=np.empty((n, f), dt), return_stats=True,
                                                  naive=False),
                       arrays=("x", "weight", "bias"), outs=("out",), scalars=("eps",),
                       flags=("return_stats", "naive"), free_nd=("x",)),
    "layer_norm_backward": Spec(ops.layer_norm_backward, _ln_bwd,
                                arrays=("grad_out", "x", "mean", "rstd", "weight"),
                                outs=("grad_weight", "grad_bias", "out")),
    "rms_norm": Spec(ops.rms_norm,
                     lambda rng, dt, n, f: dict(x=r(rng, (n, f), dt), weight=r(rng, f, dt), eps=1e-6,
                                                out=np.empty((n, f), dt), return_stats=True),
                     arrays=("x", "weight"), outs=("out",), scalars=("eps",), flags=("return_stats",),
                     free_nd=("x",)),
    "rms_norm_backward": Spec(ops.rms_norm_backward, _rms_bwd, arrays=("grad_out", "x", "rstd", "weight"),
                              outs=("grad_weight", "out")),
    "batch_norm": Spec(ops.batch_norm, _bn, arrays=("x", "weight", "bias"),
                       outs=("running_mean", "running_var", "out"), scalars=("momentum", "eps"),
                       flags=("training", "return_stats"), empty_rows_error=ValueError),
    "batch_norm_backward": Spec(ops.batch_norm_backward, _bn_bwd,
                                arrays=("grad_out", "x", "save_mean", "save_rstd", "weight"),
                                outs=("grad_weight", "grad_bias", "out"), flags=("training",)),
    "mse_loss": Spec(ops.mse_loss, lambda rng, dt, n, f: dict(pred=r(rng, (n, f), dt), target=r(rng, (n, f), dt)),
                     arrays=("pred", "target")),
    "mse_loss_backward": Spec(ops.mse_loss_backward,
                              lambda rng, dt, n, f: dict(pred=r(rng, (n, f), dt), target=r(rng, (n, f), dt),
                                                         grad=0.5, out=np.empty((n, f), dt)),
                              arrays=("pred", "target"), outs=("out",), scalars=("grad",),
                              alias_ok=("pred", "target")),
    "cross_entropy": Spec(ops.cross_entropy, _ce, arrays=("logits",), ints=("target",),
                          empty_cols_error=ValueError),
    "cross_entropy_backward": Spec(ops.cross_entropy_backward,
                                   lambda rng, dt, n, f: {**_ce(rng, dt, n, f), "grad": 2.0,
                                                          "out": np.empty((n, f), dt)},
                                   arrays=("logits",), outs=("out",), scalars=("grad",), ints=("target",),
                                   empty_cols_error=ValueError),
}
NAMES = sorted(SPECS)
N, F = 5, 7


def make(name, dtype=np.float32, n=N, f=F, seed=0):
    return SPECS[name].make(np.random.default_rng(seed), np.dtype(dtype), n, f)


def call(name, kw):
    return SPECS[name].func(**kw)


def frozen(name, kw):
    s = SPECS[name]
    return {k: np.array(kw[k], copy=True) for k in s.arrays + s.ints if isinstance(kw.get(k), np.ndarray)}


def assert_unchanged(before, kw):
    for k, a in before.items():
        got = kw[k]
        assert np.asarray(got).shape == a.shape, k
        np.testing.assert_array_equal(np.asarray(got), a, err_msg=f"input {k} was modified")


def results(name, kw, res):
    """Everything a call produced: the returned value(s) and the state of every out argument."""
    vals = list(res) if isinstance(res, tuple) else [res]
    vals += [kw[k] for k in SPECS[name].outs if kw.get(k) is not None]
    return [np.array(v, copy=True) if isinstance(v, np.ndarray) else v for v in vals]


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if x is None or y is None:
            assert x is None and y is None
        else:
            assert np.asarray(x).shape == np.asarray(y).shape
            np.testing.assert_array_equal(x, y)


def expect_error(name, kw, exc, arg, also=()):
    """Call with the hostile kw; assert exc, a message naming the function and `arg`
    (or one of `also`), and unchanged inputs."""
    before = frozen(name, kw)
    with pytest.raises(exc) as info:
        call(name, kw)
    msg = str(info.value)
    assert msg.startswith(name + ":"), msg
    assert any(a in msg for a in (arg,) + tuple(also)), f"{arg!r} not named in: {msg}"
    assert_unchanged(before, kw)
    return msg


def cases(attr):
    return [(name, a) for name in NAMES for a in getattr(SPECS[name], attr)]


# ------------------------------------------------------------------ the registry

def test_registry_covers_every_op():
    public = {n for n in ops.__all__ if callable(getattr(ops, n))}
    assert public == set(SPECS), f"ops without hostile-input specs: {public - set(SPECS)}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_valid_call_leaves_inputs_unchanged(name, dtype):
    kw = make(name, dtype)
    before = frozen(name, kw)
    res = call(name, kw)
    assert_unchanged(before, kw)
    for v in results(name, kw, res):
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            assert v.dtype == dtype           # never converted
            assert np.all(np.isfinite(v))


# ------------------------------------------------------------------ kind -> TypeError

KIND_HOSTILE = {
    "list": lambda a: a.tolist(),
    "scalar": lambda a: 1.0,
    "int64": lambda a: a.astype(np.int64),
    "bool": lambda a: a > 0,
    "complex": lambda a: a.astype(np.complex128),
    "float16": lambda a: a.astype(np.float16),
    "longdouble": lambda a: a.astype(np.longdouble),
    "object": lambda a: a.astype(object),
    "masked": lambda a: np.ma.masked_less(a, 0),
    "None": lambda a: None,
}


@pytest.mark.parametrize("kind", list(KIND_HOSTILE))
@pytest.mark.parametrize("name,arg", cases("arrays"))
def test_wrong_kind_array_raises_type_error(name, arg, kind):
    kw = make(name)
    if kind == "None" and arg in ("weight", "bias", "b"):
        return  # optional parameters: None is valid
    kw[arg] = KIND_HOSTILE[kind](kw[arg])
    expect_error(name, kw, TypeError, arg)


@pytest.mark.parametrize("name,arg", cases("arrays"))
def test_mixed_float_dtypes_raise_type_error(name, arg):
    s = SPECS[name]
    if len(s.arrays) + len(s.outs) == 1:
        return  # the only float array: float64 is simply the other valid dtype
    kw = make(name, np.float32)
    kw[arg] = kw[arg].astype(np.float64)
    # the first array fixes the dtype, so the message may name another argument
    expect_error(name, kw, TypeError, arg, also=SPECS[name].arrays + SPECS[name].outs)


@pytest.mark.parametrize("name,arg", cases("ints"))
@pytest.mark.parametrize("bad", ["float", "bool", "list", "complex"])
def test_class_targets_must_be_integer_arrays(name, arg, bad):
    kw = make(name)
    t = kw[arg]
    kw[arg] = {"float": t.astype(np.float64), "bool": t > 0, "list": t.tolist(),
               "complex": t.astype(complex)}[bad]
    expect_error(name, kw, TypeError, arg)


@pytest.mark.parametrize("name,arg", cases("ints"))
@pytest.mark.parametrize("value", [-1, F, 2**40, np.iinfo(np.int64).min])
def test_class_targets_out_of_range_raise_value_error(name, arg, value):
    kw = make(name)
    kw[arg] = kw[arg].copy()
    kw[arg][2] = value
    msg = expect_error(name, kw, ValueError, arg)
    assert str(value) in msg


@pytest.mark.parametrize("name,arg", cases("ints"))
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.uint64, ">i8"])
def test_class_targets_any_integer_dtype(name, arg, dtype):
    kw = make(name)
    want = results(name, kw, call(name, kw))
    kw = make(name)
    kw[arg] = kw[arg].astype(dtype)
    assert_same(results(name, kw, call(name, kw)), want)


@pytest.mark.parametrize("name,arg", cases("scalars"))
@pytest.mark.parametrize("bad,exc", [("1.0", TypeError), (None, TypeError), (True, TypeError),
                                     (1j, TypeError), (np.ones(2), TypeError), ([1.0], TypeError),
                                     (math.nan, ValueError), (math.inf, ValueError), (-math.inf, ValueError)])
def test_scalar_arguments(name, arg, bad, exc):
    if bad is None and name == "rms_norm":
        return  # eps=None means the dtype's machine epsilon, as torch
    kw = make(name)
    kw[arg] = bad
    expect_error(name, kw, exc, arg)


@pytest.mark.parametrize("name,arg", cases("scalars"))
def test_scalar_arguments_accept_numpy_and_int(name, arg):
    kw = make(name)
    want = results(name, kw, call(name, kw))
    for value in (np.float32(kw[arg]), np.float64(kw[arg])):
        kw2 = make(name)
        kw2[arg] = value
        got = results(name, kw2, call(name, kw2))
        if float(value) == kw[arg]:  # 0.1 rounds in float32: a different (valid) argument
            assert_same(got, want)


@pytest.mark.parametrize("name,arg", cases("flags"))
@pytest.mark.parametrize("bad", ["no", 1, 0, None, 1.0, np.array([True])])
def test_flags_must_be_bool(name, arg, bad):
    """A non-bool flag is a TypeError: training="no" is truthy and would pick training mode."""
    kw = make(name)
    kw[arg] = bad
    expect_error(name, kw, TypeError, arg)


@pytest.mark.parametrize("name,arg", cases("flags"))
def test_numpy_bool_flags_accepted(name, arg):
    kw = make(name)
    want = results(name, kw, call(name, kw))
    kw = make(name)
    kw[arg] = np.bool_(kw[arg])
    assert_same(results(name, kw, call(name, kw)), want)


# ------------------------------------------------------------------ shape -> ValueError

@pytest.mark.parametrize("name,arg", cases("arrays"))
def test_mismatched_shape_raises_value_error(name, arg):
    if arg == "logits":
        return  # one more class is simply valid
    kw = make(name)
    a = kw[arg]
    kw[arg] = np.concatenate([a, a[..., :1]], axis=-1)  # one more element along the last axis
    msg = expect_error(name, kw, ValueError, arg, also=SPECS[name].arrays)
    assert str(kw[arg].shape) in msg or str(kw[arg].shape[-1]) in msg, msg


@pytest.mark.parametrize("name,arg", cases("ints"))
def test_mismatched_target_length_raises_value_error(name, arg):
    kw = make(name)
    kw[arg] = kw[arg][:-1]
    expect_error(name, kw, ValueError, arg)


@pytest.mark.parametrize("name,arg", cases("arrays") + cases("ints"))
def test_zero_d_array(name, arg):
    """0-d where an array is expected: valid for single-input elementwise ops (the result
    is 0-d and equals the 1-element call), ValueError naming the argument otherwise."""
    s = SPECS[name]
    kw = make(name)
    kw[arg] = np.asarray(kw[arg].flat[0])
    if arg in s.free_0d:
        kw.pop("out", None)
        y = call(name, kw)
        assert isinstance(y, np.ndarray) and y.shape == ()
        kw1 = dict(kw, **{arg: kw[arg].reshape(1)})
        assert y == call(name, kw1)[0]
    else:
        expect_error(name, kw, ValueError, arg, also=s.arrays)


@pytest.mark.parametrize("name,arg", cases("arrays"))
def test_extra_leading_axes(name, arg):
    """3-d/4-d where 2-d is expected: valid where the op batches over leading axes (the
    result is the 2-d result with the same axes), ValueError naming the argument otherwise."""
    s = SPECS[name]
    kw = make(name)
    kw[arg] = kw[arg][None, None]
    if arg in s.free_nd:
        kw.pop("out", None)
        got = call(name, kw)
        got = got[0] if isinstance(got, tuple) else got
        kw0 = make(name)
        kw0.pop("out", None)
        want = call(name, kw0)
        want = want[0] if isinstance(want, tuple) else want
        np.testing.assert_array_equal(got, want[None, None])
    else:
        expect_error(name, kw, ValueError, arg, also=s.arrays)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_empty_rows(name, dtype):
    """n == 0: a valid empty result (losses: NaN = 0/0, as torch), or the documented error."""
    s = SPECS[name]
    kw = make(name, dtype, n=0)
    if s.empty_rows_error is not None:
        expect_error(name, kw, s.empty_rows_error, "x")
        return
    before = frozen(name, kw)
    res = call(name, kw)
    assert_unchanged(before, kw)
    if isinstance(res, float):
        assert math.isnan(res)
    for k in s.outs:
        if k.startswith("grad_") and k not in ("grad_x",) and kw.get(k) is not None:
            assert np.all(kw[k] == 0), k  # nothing accumulated from an empty batch


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_empty_features(name, dtype):
    s = SPECS[name]
    kw = make(name, dtype, f=0)
    if s.empty_cols_error is not None:
        expect_error(name, kw, s.empty_cols_error, "target")
        return
    before = frozen(name, kw)
    res = call(name, kw)
    assert_unchanged(before, kw)
    for v in results(name, kw, res):
        if isinstance(v, np.ndarray) and v.size:
            assert not np.any(np.isnan(v)) or name.startswith("mse")


# ------------------------------------------------------------------ odd but valid layouts

def _strided(a):
    big = np.empty(a.shape[:-1] + (2 * a.shape[-1] + 1,), a.dtype) if a.ndim else None
    if big is None:
        return a
    big[..., 1::2] = a
    return big[..., 1::2]


def _reversed(a):
    return np.ascontiguousarray(a[::-1])[::-1] if a.ndim else a


LAYOUTS = {
    "strided": _strided,
    "negative_stride": _reversed,
    "fortran": np.asfortranarray,
    "byteswapped": lambda a: a.astype(a.dtype.newbyteorder()),
    "readonly": lambda a: (lambda c: (c.setflags(write=False), c)[1])(a.copy()),
    "matrix_subclass": lambda a: np.asmatrix(a) if a.ndim == 2 else a.view(np.recarray),
    "unaligned": lambda a: (lambda buf: np.ndarray(a.shape, a.dtype, buf, 1).__setitem__(Ellipsis, a)
                            or np.ndarray(a.shape, a.dtype, buf, 1))(np.empty(a.nbytes + 1, np.uint8)),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("name,arg", cases("arrays") + cases("ints"))
def test_odd_layouts_give_the_contiguous_result(name, arg, layout):
    want = results(name, (kw := make(name, np.float64)), call(name, kw))
    kw = make(name, np.float64)
    kw[arg] = LAYOUTS[layout](kw[arg])
    before = frozen(name, kw)
    got = results(name, kw, call(name, kw))
    assert_unchanged(before, kw)
    assert_same(got, want)


# ------------------------------------------------------------------ unusable out

OUT_HOSTILE = {
    "readonly": (ValueError, lambda o: (o.setflags(write=False), o)[1]),
    "strided": (ValueError, lambda o: np.empty(o.shape[:-1] + (2 * o.shape[-1],), o.dtype)[..., ::2]),
    "wrong_shape": (ValueError, lambda o: np.empty(o.shape + (1,), o.dtype)),
    "wrong_dtype": (TypeError, lambda o: np.zeros(o.shape, OTHER[o.dtype])),
    "byteswapped": (TypeError, lambda o: o.astype(o.dtype.newbyteorder())),
    "list": (TypeError, lambda o: o.tolist()),
    "int": (TypeError, lambda o: np.zeros(o.shape, np.int32)),
    "masked": (TypeError, lambda o: np.ma.array(o)),
    "unaligned": (ValueError, lambda o: np.ndarray(o.shape, o.dtype, np.zeros(o.nbytes + 1, np.uint8), 1)),
}


@pytest.mark.parametrize("hostile", list(OUT_HOSTILE))
@pytest.mark.parametrize("name,arg", cases("outs"))
def test_unusable_out_raises(name, arg, hostile):
    kw = make(name)
    exc, fn = OUT_HOSTILE[hostile]
    if hostile == "strided" and kw[arg].ndim == 1 and kw[arg].shape[0] == 1:
        return
    kw[arg] = fn(kw[arg])
    expect_error(name, kw, exc, arg)


@pytest.mark.parametrize("name,arg", cases("outs"))
def test_out_partially_overlapping_an_input_raises(name, arg):
    """out sharing memory with an input without being that very array: ValueError."""
    kw = make(name, np.float64)
    s = SPECS[name]
    for inp in s.arrays:
        a = kw[inp]
        o = kw[arg]
        if a is None or a.size < 2 or o.size < 1:
            continue
        # a buffer holding the input, and an out inside it shifted by one element
        buf = np.zeros(a.size + o.size + 1, a.dtype)
        buf[: a.size] = a.ravel()
        kw2 = make(name, np.float64)
        kw2[inp] = buf[: a.size].reshape(a.shape)
        kw2[arg] = buf[1: 1 + o.size].reshape(o.shape)
        expect_error(name, kw2, ValueError, arg)


@pytest.mark.parametrize("name,arg", [(n, a) for n in NAMES for a in SPECS[n].arrays if "out" in SPECS[n].outs])
def test_out_is_the_input(name, arg):
    """out identical to an input: in place for elementwise ops (== out-of-place result),
    ValueError for the others (their kernels read an input after writing out)."""
    s = SPECS[name]
    kw = make(name, np.float64)
    kw.pop("out")
    kw.pop("beta", None)  # matmul's beta reads out
    want = call(name, kw)
    want = want[0] if isinstance(want, tuple) else want
    kw = make(name, np.float64)
    kw.pop("beta", None)
    if kw[arg].shape != kw["out"].shape:
        return
    kw["out"] = kw[arg]
    if arg in s.alias_ok:
        got = call(name, kw)
        np.testing.assert_array_equal(got, want)
        assert got is kw[arg]
    else:
        expect_error(name, kw, ValueError, "out")


# ------------------------------------------------------------------ NaN, inf, huge

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _ref_sigmoid(x):
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


REF = {  # float64 references for special values
    "relu": lambda x: np.where(np.isnan(x), x, np.maximum(x, 0)),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.1 * x),
    "sigmoid": _ref_sigmoid,
    "sigmoid_libm": _ref_sigmoid,
    "tanh": np.tanh,
    "gelu": lambda x: np.where(np.isinf(x), np.where(x > 0, x, -0.0), x * 0.5 * _erfc(-x / math.sqrt(2))),
    "silu": lambda x: np.where(np.isinf(x), np.where(x > 0, x, -0.0), x * _ref_sigmoid(x)),
    "copy": lambda x: x,
}
SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 1e30, -1e30, 3e38, -3e38, 88.7, -88.7, 103.0,
           -104.0, 1e4, -1e4]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(REF))
def test_special_values_elementwise(name, dtype, simd_path):
    """NaN/inf/huge/subnormal through every SIMD path: NaN stays NaN, limits as IEEE."""
    x = np.array(SPECIAL * 3, dtype)  # long enough for the vector body and the tail
    kw = {"negative_slope": 0.1} if name == "leaky_relu" else {}
    with np.errstate(all="ignore"):
        got = getattr(ops, name)(x, **kw)
        want = REF[name](x.astype(np.float64)).astype(dtype)
    assert np.array_equal(np.isnan(got), np.isnan(want)), (x[np.isnan(got) != np.isnan(want)])
    finite = ~np.isnan(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5, atol=1e-30)
    assert np.all(np.signbit(got[np.isinf(want)]) == np.signbit(want[np.isinf(want)]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu_backward", "leaky_relu_backward", "sigmoid_backward", "tanh_backward",
                                  "gelu_backward", "silu_backward", "residual_backward", "residual_add"])
def test_nan_gradient_propagates(name, dtype):
    """NaN in the incoming gradient gives NaN wherever the local derivative is nonzero."""
    kw = make(name, dtype)
    first = SPECS[name].arrays[0]
    kw[first] = kw[first].copy()
    kw[first][1, 2] = np.nan
    out = call(name, kw)
    assert np.isnan(out[1, 2]) or (name == "relu_backward" and kw["x"][1, 2] <= 0)
    mask = np.ones(out.shape, bool)
    mask[1, 2] = False
    assert np.all(np.isfinite(out[mask]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_in_reductions(dtype):
    """Norms and losses: NaN in -> NaN out in the affected rows/columns, the rest finite."""
    rng = np.random.default_rng(1)
    x = r(rng, (6, 9), dtype)
    x[2, 3] = np.nan
    for fn in (ops.layer_norm, ops.rms_norm):
        y = fn(x)
        assert np.isnan(y[2]).all() and np.isfinite(np.delete(y, 2, axis=0)).all()
    y = ops.batch_norm(x)
    assert np.isnan(y[:, 3]).all() and np.isfinite(np.delete(y, 3, axis=1)).all()
    t = rng.integers(0, 9, 6)
    assert math.isnan(ops.mse_loss(x, np.zeros_like(x)))
    assert math.isnan(ops.cross_entropy(x, t))
    g = ops.cross_entropy_backward(x, t)
    assert np.isnan(g[2]).all() and np.isfinite(np.delete(g, 2, axis=0)).all()
    for xx in (np.full((3, 4), np.inf, dtype), np.full((3, 4), -np.inf, dtype)):
        assert np.isnan(ops.layer_norm(xx)).all()   # inf - inf
        assert math.isnan(ops.cross_entropy(xx, np.zeros(3, int)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_values_in_reductions_stay_finite_where_math_allows(dtype):
    big = np.finfo(dtype).max / 4
    x = np.array([[big, -big, big / 2, 0.0]] * 3, dtype)
    y = ops.layer_norm(x)   # statistics in double: no overflow for float32
    if dtype == np.float32:
        assert np.isfinite(y).all()
    assert np.isfinite(ops.cross_entropy(x, np.array([0, 1, 2])))
    assert np.isfinite(ops.cross_entropy_backward(x, np.array([0, 1, 2]))).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_nan_rows(dtype, simd_path):
    """NaN in A[i, :] makes row i of A @ B NaN and leaves every other row finite;
    NaN in B[:, j] makes column j NaN; inf * 0 is NaN (no skipped zero products)."""
    rng = np.random.default_rng(2)
    for m, k, n in [(3, 4, 5), (17, 33, 19), (40, 70, 50)]:
        a, b = r(rng, (m, k), dtype), r(rng, (k, n), dtype)
        a[1, k // 2] = np.nan
        b[k - 1, n - 1] = np.nan
        c = ops.matmul(a, b)
        nan = np.zeros((m, n), bool)
        nan[1, :] = True
        nan[:, n - 1] = True
        np.testing.assert_array_equal(np.isnan(c), nan)
        a2 = np.zeros((m, k), dtype)
        a2[0, 0] = np.inf
        b2 = np.zeros((k, n), dtype)
        assert np.isnan(ops.matmul(a2, b2)[0]).all() and not np.isnan(ops.matmul(a2, b2)[1:]).any()
        d = ops.dense_forward(a, b.T.copy(), np.zeros(n, dtype))
        np.testing.assert_array_equal(np.isnan(d), nan)


# ------------------------------------------------------------------ layers

LAYERS = {
    "Dense": (lambda: deepgrad.Dense(F, 4, rng=0), (N, F)),
    "ReLU": (deepgrad.ReLU, (N, F)),
    "LeakyReLU": (lambda: deepgrad.LeakyReLU(0.2), (N, F)),
    "Sigmoid": (deepgrad.Sigmoid, (N, F)),
    "Tanh": (deepgrad.Tanh, (N, F)),
    "GELU": (lambda: deepgrad.GELU("tanh"), (N, F)),
    "SiLU": (deepgrad.SiLU, (N, F)),
    "LayerNorm": (lambda: deepgrad.LayerNorm(F), (N, F)),
    "RMSNorm": (lambda: deepgrad.RMSNorm(F), (N, F)),
    "BatchNorm": (lambda: deepgrad.BatchNorm(F), (N, F)),
    "Residual": (lambda: deepgrad.Residual(deepgrad.Sequential(deepgrad.Dense(F, F, rng=1), deepgrad.Tanh())),
                 (N, F)),
    "Sequential": (lambda: deepgrad.Sequential(deepgrad.Dense(F, 6, rng=1), deepgrad.ReLU(),
                                               deepgrad.LayerNorm(6), deepgrad.Dense(6, 3, rng=2)), (N, F)),
}


def test_layer_registry_covers_every_layer():
    classes = {n for n in deepgrad.layers.__all__ if isinstance(getattr(deepgrad.layers, n), type)
               and issubclass(getattr(deepgrad.layers, n), deepgrad.Layer)}
    assert classes - {"Layer", "Activation"} <= set(LAYERS) | {"Layer", "Activation"}
    assert classes - {"Layer", "Activation"} == set(LAYERS)


def _run_layer(name, x, g=None):
    layer = LAYERS[name][0]()
    y = layer.forward(x).copy()
    g = np.ones_like(y) if g is None else g
    gx = layer.backward(g).copy()
    return y, gx, [p.grad.copy() for p in layer.parameters()]


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_hostile_forward(name):
    factory, shape = LAYERS[name]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    keep = x.copy()
    for bad, exc in [(x.tolist(), TypeError), (1.0, TypeError), (x.astype(np.int64), TypeError),
                     (x.astype(np.float16), TypeError), (x.astype(complex), TypeError),
                     (x.astype(object), TypeError), (np.ma.array(x), TypeError)]:
        with pytest.raises(exc) as info:
            factory().forward(bad)
        assert "x" in str(info.value)
    if name in ("Dense", "LayerNorm", "RMSNorm", "BatchNorm", "Sequential"):
        for bad in (x[:, :-1], np.asarray(x[0, 0]), x[None, None] if name == "BatchNorm" else x[:, :2]):
            with pytest.raises(ValueError, match="x"):
                factory().forward(bad)
    with pytest.raises(RuntimeError, match="forward before backward"):
        layer = factory()
        (layer.layers[-1] if name == "Sequential" else layer).backward(np.ones(shape, np.float32))
    np.testing.assert_array_equal(x, keep)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_odd_layouts_and_unchanged_input(name):
    x = np.random.default_rng(0).standard_normal(LAYERS[name][1]).astype(np.float32)
    want = _run_layer(name, x)
    for layout, fn in LAYOUTS.items():
        xx = fn(x)
        keep = np.array(xx, copy=True)
        got = _run_layer(name, xx)
        np.testing.assert_array_equal(np.asarray(xx), keep)
        for g, w in zip(got[:2] + tuple(got[2]), want[:2] + tuple(want[2])):
            np.testing.assert_array_equal(g, w, err_msg=layout)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_backward_wrong_gradient(name):
    factory, shape = LAYERS[name]
    layer = factory()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y = layer.forward(x)
    with pytest.raises(ValueError, match="grad"):
        layer.backward(np.ones(y.shape[:-1] + (y.shape[-1] + 1,), np.float32))
    with pytest.raises(TypeError, match="grad"):
        layer.backward(np.ones(y.shape, np.float64))
    with pytest.raises(TypeError, match="grad"):
        layer.backward(np.ones(y.shape).tolist())


def test_layer_constructor_arguments():
    for cls in (deepgrad.LayerNorm, deepgrad.RMSNorm, deepgrad.BatchNorm):
        for bad, exc in [(0, ValueError), (-3, ValueError), ("3", TypeError), (3.0, TypeError), (True, TypeError),
                         (None, TypeError)]:
            with pytest.raises(exc, match="features"):
                cls(bad)
        with pytest.raises(TypeError, match="dtype"):
            cls(3, dtype=np.float16)
    for bad, exc in [(0, ValueError), ("3", TypeError), (2.5, TypeError)]:
        with pytest.raises(exc, match="in_features"):
            deepgrad.Dense(bad, 3)
        with pytest.raises(exc, match="out_features"):
            deepgrad.Dense(3, bad)
    with pytest.raises(TypeError, match="dtype"):
        deepgrad.Dense(3, 3, dtype=np.int32)
    with pytest.raises(ValueError, match="negative_slope"):
        deepgrad.LeakyReLU(math.nan)
    with pytest.raises(ValueError, match="approximate"):
        deepgrad.GELU("fast")
    with pytest.raises(TypeError, match="block"):
        deepgrad.Residual(lambda x: x)
    with pytest.raises(TypeError, match="layer 1"):
        deepgrad.Sequential(deepgrad.ReLU(), object())


@pytest.mark.parametrize("loss", ["MSELoss", "CrossEntropyLoss"])
def test_loss_objects_hostile(loss):
    obj = getattr(deepgrad, loss)()
    x = np.random.default_rng(0).standard_normal((N, F)).astype(np.float32)
    t = np.zeros((N, F), np.float32) if loss == "MSELoss" else np.arange(N) % F
    keep = x.copy(), t.copy()
    with pytest.raises(RuntimeError, match="forward before backward"):
        obj.backward()
    for bad in (x.tolist(), x.astype(np.int32), x.astype(np.float16)):
        with pytest.raises(TypeError, match=f"{loss}.forward"):
            obj.forward(bad, t)
    with pytest.raises(ValueError, match=f"{loss}.forward"):
        obj.forward(x[:-1], t)
    assert math.isfinite(obj.forward(x, t))
    with pytest.raises(ValueError, match="grad"):
        obj.backward(math.nan)
    np.testing.assert_array_equal(x, keep[0])
    np.testing.assert_array_equal(t, keep[1])


# ------------------------------------------------------------------ runtime settings

def test_runtime_settings_hostile():
    before = deepgrad.get_num_threads()
    try:
        for bad, exc in [(0, ValueError), (-1, ValueError), (2**31, ValueError), (10**6, ValueError),
                         (1.5, TypeError), ("2", TypeError), (True, TypeError)]:
            with pytest.raises(exc, match="set_num_threads"):
                deepgrad.set_num_threads(bad)
        deepgrad.set_num_threads(deepgrad._core.MAX_THREADS)  # the cap itself is allowed
        assert deepgrad.get_num_threads() == deepgrad._core.MAX_THREADS
    finally:
        deepgrad.set_num_threads(before)
    for bad in ("avx1024", "", 2, "AVX2"):
        with pytest.raises(ValueError, match="set_simd"):
            deepgrad.set_simd(bad)
    assert deepgrad.get_simd() == deepgrad.simd_paths()[0]


# ------------------------------------------------------------------ 2**31 elements

@pytest.mark.slow
def test_more_than_2_31_elements():
    """relu (elementwise) and mse_loss (a chunked reduction) over 2**31 + 17 float32
    elements (one 8 GiB array): values at positions around 2**31 must be right, so every
    index and chunk bound in the kernels is 64-bit. ~30 s on 2 busy cores."""
    n = 2**31 + 17
    try:
        x = np.zeros(n, np.float32)
    except MemoryError:
        pytest.skip("needs 8 GiB")
    probe = np.array([0, 1, 2**31 - 2, 2**31 - 1, 2**31, 2**31 + 1, n - 2, n - 1])
    x[probe] = np.arange(len(probe), dtype=np.float32) - 3.0   # -3 -2 -1 0 1 2 3 4
    ops.relu(x, out=x)                                         # in place: one 8 GiB array
    want = np.maximum(np.arange(len(probe)) - 3.0, 0)          # 0 0 0 0 1 2 3 4
    np.testing.assert_array_equal(x[probe], want)
    assert not x[:2**31 - 2].any() and not x[2**31 + 2:n - 2].any()
    # mean((x - 0)^2) over all n elements: only the probes at and past 2**31 contribute.
    # np.zeros maps untouched pages to the zero page: the second operand costs no RAM.
    got = ops.mse_loss(x, np.zeros(n, np.float32))
    assert got == pytest.approx(float((want ** 2).sum()) / n, rel=1e-6)


def test_all_zero_d_operands_of_elementwise_and_mse():
    """Every operand 0-d: elementwise ops and mse give 0-d results (not shape (1,))."""
    a, b = np.array(0.75), np.array(0.25)
    assert ops.residual_add(a, b).shape == () and ops.residual_add(a, b) == 1.0
    assert ops.relu_backward(a, b).shape == ()
    assert ops.mse_loss(a, b) == 0.25
    g = ops.mse_loss_backward(a, b)
    assert g.shape == () and g == 1.0
