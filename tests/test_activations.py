"""Activation kernels (csrc/activation.c) against float64 references, finite differences, PyTorch.

The exhaustive ulp sweeps of the vector exp/expm1/erfc live in test_activation_accuracy.py;
this module checks the API contract: values, gradients, shapes, layouts, in-place, bad input.
"""
import math
import warnings

import numpy as np
import pytest

import deepgrad
from deepgrad import ops

_erfc = np.vectorize(math.erfc, otypes=[np.float64])


# ---------------------------------------------------------------- references (float64)

def ref_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def ref_gelu(x):
    return x * 0.5 * _erfc(-x / math.sqrt(2))


def ref_gelu_tanh(x):
    # 0.5 x (1 + tanh u) == x sigmoid(2u): the second form does not cancel for negative x
    return x * ref_sigmoid(2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))


REFERENCE = {
    # name: (forward f(x), derivative f'(x) as a function of x)
    "relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(np.float64)),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.01 * x), lambda x: np.where(x > 0, 1.0, 0.01)),
    "sigmoid": (ref_sigmoid, lambda x: ref_sigmoid(x) * (1 - ref_sigmoid(x))),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "gelu": (ref_gelu, lambda x: 0.5 * _erfc(-x / math.sqrt(2)) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
    "gelu_tanh": (ref_gelu_tanh, None),  # derivative checked by finite differences
    "silu": (lambda x: x * ref_sigmoid(x),
             lambda x: ref_sigmoid(x) * (1 + x * (1 - ref_sigmoid(x)))),
}
NAMES = list(REFERENCE)
DTYPES = [np.float32, np.float64]
# float32: the activation accuracy bound is 4 ulp (2.4e-7 relative); float64: 1e-14.
RTOL = {np.float32: 1e-6, np.float64: 1e-13}
ATOL = {np.float32: 1e-30, np.float64: 1e-300}


def forward(name, x, out=None):
    return ops.ACTIVATIONS[name][0](x, out=out)


def backward(name, grad_out, x, out=None):
    """Backward the way PyTorch does it: sigmoid/tanh from the output, the others from the input."""
    f, b, saves = ops.ACTIVATIONS[name]
    saved = f(x) if saves == "y" else x
    return b(grad_out, saved, out=out)


def sample(rng, n, dtype, scale=4.0):
    return (rng.standard_normal(n) * scale).astype(dtype)


# ---------------------------------------------------------------- values

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_float64_reference(name, dtype, simd_path, rng):
    x = sample(rng, 4099, dtype)
    got = forward(name, x)
    assert got.dtype == dtype and got.shape == x.shape
    want = REFERENCE[name][0](x.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype] * (5 if name == "gelu_tanh" else 1),
                               atol=ATOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [n for n in NAMES if REFERENCE[n][1] is not None])
def test_backward_matches_analytic_derivative(name, dtype, simd_path, rng):
    x = sample(rng, 2053, dtype)
    g = sample(rng, 2053, dtype, scale=1.0)
    got = backward(name, g, x).astype(np.float64)
    want = g.astype(np.float64) * REFERENCE[name][1](x.astype(np.float64))
    # sigmoid/tanh backward work from the rounded output y (as PyTorch): y(1 - y) and 1 - y^2
    # carry an absolute error of a few eps where y is near 1, on top of the relative bound.
    eps = np.finfo(dtype).eps
    bound = 8 * eps * np.abs(want) + 4 * eps * np.abs(g)
    assert np.all(np.abs(got - want) <= bound), np.max(np.abs(got - want) / bound)


@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_central_differences(name, rng):
    x = sample(rng, 500, np.float64, scale=3.0)
    x = x[np.abs(x) > 1e-3]  # keep away from the kink of relu / leaky relu
    h = 1e-6
    numeric = (forward(name, x + h) - forward(name, x - h)) / (2 * h)
    analytic = backward(name, np.ones_like(x), x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_relu_derivative_at_zero_is_zero_as_pytorch():
    for dtype in DTYPES:
        x = np.array([-0.0, 0.0, 1e-45 if dtype == np.float32 else 5e-324, -1.0, 2.0], dtype)
        g = np.ones_like(x)
        np.testing.assert_array_equal(ops.relu_backward(g, x), [0, 0, 1, 0, 1])
        np.testing.assert_array_equal(ops.leaky_relu_backward(g, x, 0.1), np.array([0.1, 0.1, 1, 0.1, 1], dtype))


# ---------------------------------------------------------------- textbook numbers

def test_sigmoid_derivative_textbook_values():
    x = np.array([0.0, 1.0, 2.0, 4.0, -3.0])
    y = ops.sigmoid(x)
    d = ops.sigmoid_backward(np.ones_like(x), y)
    # exact values, not the 0.020 / 0.047 that circulate
    exact = [math.exp(-v) / (1 + math.exp(-v)) ** 2 for v in x]
    np.testing.assert_allclose(d, exact, rtol=1e-14)
    assert [f"{v:.4f}" for v in d] == ["0.2500", "0.1966", "0.1050", "0.0177", "0.0452"]


@pytest.mark.parametrize("depth,expected", [(5, 9.77e-4), (10, 9.54e-7), (20, 9.09e-13), (30, 8.67e-19)])
def test_unit_gradient_through_sigmoid_chain_is_quarter_to_the_depth(depth, expected):
    y = ops.sigmoid(np.zeros(1))  # the peak of sigmoid': y = 0.5, y(1 - y) = 0.25
    grad = np.ones(1)
    for _ in range(depth):
        grad = ops.sigmoid_backward(grad, y)
    assert grad[0] == 0.25 ** depth  # exact in binary floating point
    assert f"{grad[0]:.2e}" == f"{expected:.2e}"


def test_unit_gradient_through_active_relu_chain_stays_one():
    x = np.array([0.5, 3.0, 1e-3])
    grad = np.ones(3)
    for _ in range(50):
        grad = ops.relu_backward(grad, x)
    np.testing.assert_array_equal(grad, 1.0)


# ---------------------------------------------------------------- sizes, layouts, in place

@pytest.mark.parametrize("n", [0, 1, 7, 33, 4097, 1000003])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sizes(n, dtype, rng):
    x = sample(rng, n, dtype)
    for name in ("relu", "sigmoid", "gelu", "tanh"):
        got = forward(name, x)
        assert got.shape == (n,)
        np.testing.assert_allclose(got, REFERENCE[name][0](x.astype(np.float64)), rtol=RTOL[dtype],
                                   atol=ATOL[dtype])


@pytest.mark.parametrize("n", range(0, 71))
def test_every_small_size_every_path(n, simd_path, rng):
    """Tails: every size 0..70 (vector widths 4..16, unrolled bodies) on every SIMD path."""
    for dtype in DTYPES:
        x = sample(rng, n, dtype)
        padded = np.full(n + 32, np.nan, dtype)  # guard values past the end must stay untouched
        out = padded[:n]
        for name in NAMES:
            forward(name, x, out=out)
            np.testing.assert_allclose(out, REFERENCE[name][0](x.astype(np.float64)),
                                       rtol=RTOL[dtype] * 5, atol=ATOL[dtype])
            assert np.isnan(padded[n:]).all()


@pytest.mark.parametrize("name", NAMES)
def test_strided_negative_stride_and_fortran_inputs(name, rng):
    base = sample(rng, (37, 40), np.float64)
    for x in (base[::2, ::3], base[::-1], base.T, np.asfortranarray(base), base[:, 5]):
        got = forward(name, x)
        np.testing.assert_allclose(got, forward(name, np.ascontiguousarray(x)), rtol=0, atol=0)
        g = np.ones_like(x)
        np.testing.assert_allclose(backward(name, g, x), backward(name, np.ones(x.shape), np.ascontiguousarray(x)),
                                   rtol=0, atol=0)
    f_in = np.asfortranarray(base)
    assert forward(name, f_in).flags.f_contiguous  # layout of the input is kept


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_in_place_equals_out_of_place(name, dtype, rng):
    x = sample(rng, (13, 29), dtype)
    expected = forward(name, x)
    x_inplace = x.copy()
    result = forward(name, x_inplace, out=x_inplace)
    assert result is x_inplace
    np.testing.assert_array_equal(x_inplace, expected)
    g = sample(rng, (13, 29), dtype)
    expected_grad = backward(name, g, x)
    g_inplace = g.copy()
    assert backward(name, g_inplace, x, out=g_inplace) is g_inplace
    np.testing.assert_array_equal(g_inplace, expected_grad)


def test_results_do_not_depend_on_thread_count(threads, rng):
    x = sample(rng, 1000003, np.float32)
    results = {}
    for t in (1, 2):
        threads(t)
        results[t] = [forward(name, x) for name in NAMES] + [backward(name, x, x) for name in NAMES]
    for a, b in zip(results[1], results[2]):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- extreme values

@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_and_special_values(dtype):
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.array([1e4, -1e4, 1000, -1000, np.inf, -np.inf, np.nan, tiny, -tiny, 0.0, -0.0], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = ops.sigmoid(x)
        t = ops.tanh(x)
        r = ops.relu(x)
        gl = ops.gelu(x)
        si = ops.silu(x)
    np.testing.assert_array_equal(s[:6], [1, 0, 1, 0, 1, 0])
    assert np.isnan(s[6]) and np.isnan(t[6]) and np.isnan(r[6]) and np.isnan(gl[6]) and np.isnan(si[6])
    np.testing.assert_array_equal(t[:6], [1, -1, 1, -1, 1, -1])
    np.testing.assert_array_equal(r[[0, 1, 4, 5]], [1e4, 0, np.inf, 0])
    np.testing.assert_array_equal(gl[[0, 1, 4]], [1e4, 0, np.inf])  # gelu(-1e4) underflows to -0
    np.testing.assert_array_equal(si[[0, 1, 4]], [1e4, 0, np.inf])
    # subnormal inputs: f(x) ~ f(0) + f'(0) x
    assert s[7] == 0.5 and t[7] == tiny and t[8] == -tiny and r[7] == tiny
    # derivatives at the extremes are finite and exact where they should be
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = ops.sigmoid_backward(np.ones_like(s), s)
    np.testing.assert_array_equal(ds[:6], 0)


# ---------------------------------------------------------------- PyTorch oracle

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_matches_pytorch_forward_and_autograd(name, dtype, rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    torch_fn = {
        "relu": torch.relu, "leaky_relu": lambda t: F.leaky_relu(t, 0.01), "sigmoid": torch.sigmoid,
        "tanh": torch.tanh, "gelu": lambda t: F.gelu(t, approximate="none"),
        "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"), "silu": F.silu,
    }[name]
    x = sample(rng, 3001, dtype)
    g = sample(rng, 3001, dtype, scale=1.0)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = torch_fn(xt)
    first = yt.detach().numpy().copy()     # torch's result as computed (see the report below)
    yt.backward(torch.from_numpy(g.copy()))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    if name == "gelu_tanh" and dtype == np.float32:
        # PyTorch evaluates 0.5 x (1 + tanh u) in float32, which cancels to 0 for x < -3;
        # deepgrad's x * sigmoid(2u) keeps those ~1e-6 values (checked against float64 above).
        tol["atol"] = 4e-6
    got, want = forward(name, x), yt.detach().numpy()
    if not np.allclose(got, want, **tol):   # say what state the call ran in (a rare failure of
        i = int(np.argmax(np.abs(got - want) - tol["rtol"] * np.abs(want)))   # tanh seen twice)
        again = forward(name, x)
        bad = ~np.isclose(got, want, **tol)
        torch_again = torch_fn(torch.from_numpy(x.copy())).detach().numpy()
        pytest.fail(f"{name} {dtype.__name__}: x[{i}] = {x[i]!r}: deepgrad {got[i]!r}, torch "
                    f"{want[i]!r}; a second call gives {again[i]!r}, torch again "
                    f"{torch_again[i]!r} ({int((~np.isclose(got, torch_again, **tol)).sum())} "
                    f"differ), torch's input intact {bool(np.array_equal(xt.detach().numpy(), x))}, "
                    f"its output unchanged since computed {bool(np.array_equal(first, want, equal_nan=True))} "
                    f"({int((~np.isclose(got, first, **tol)).sum())} of its first values differ); "
                    f"|x| of the differing {float(np.abs(x[bad]).min())}..{float(np.abs(x[bad]).max())}, "
                    f"torch's values there {np.unique(want[bad])[:6]}; "
                    f"{int((~np.isclose(got, want, **tol)).sum())} of {x.size} differ; "
                    f"simd {deepgrad.get_simd()}, threads {deepgrad.get_num_threads()}, "
                    f"special mode {deepgrad._core.special_mode()}, "
                    f"fp flags {deepgrad._core.fp_status_flags(False)}")
    np.testing.assert_allclose(backward(name, g, x), xt.grad.numpy(), **tol)


# ---------------------------------------------------------------- bad input

BAD_DTYPES = [np.int32, np.int64, np.bool_, np.complex128, np.float16, object]


@pytest.mark.parametrize("bad", BAD_DTYPES)
def test_wrong_dtype_raises_type_error_naming_argument(bad):
    x = np.ones(5, dtype=bad)
    with pytest.raises(TypeError, match=r"sigmoid: x must have dtype float32 or float64"):
        ops.sigmoid(x)
    with pytest.raises(TypeError, match=r"relu_backward: grad_out"):
        ops.relu_backward(x, np.ones(5))


def test_lists_and_scalars_raise_type_error():
    with pytest.raises(TypeError, match=r"relu: x must be a numpy.ndarray.*got list"):
        ops.relu([1.0, -1.0])
    with pytest.raises(TypeError, match=r"got float"):
        ops.tanh(1.0)


def test_mixed_dtypes_raise_type_error():
    with pytest.raises(TypeError, match=r"silu_backward: x has dtype float64, expected float32"):
        ops.silu_backward(np.ones(3, np.float32), np.ones(3, np.float64))


def test_mismatched_shapes_raise_value_error_with_both_shapes():
    with pytest.raises(ValueError, match=r"x has shape \(4,\) but grad_out has shape \(3,\)"):
        ops.gelu_backward(np.ones(3), np.ones(4))


def test_bad_out_arguments_raise_and_leave_everything_untouched(rng):
    x = sample(rng, 10, np.float32)
    x_before = x.copy()
    readonly = np.zeros(10, np.float32)
    readonly.flags.writeable = False
    cases = [
        (readonly, ValueError, r"out is read-only"),
        (np.zeros(10, np.float64), TypeError, r"out has dtype float64, expected float32"),
        (np.zeros(11, np.float32), ValueError, r"out has shape \(11,\), expected \(10,\)"),
        (np.zeros(20, np.float32)[::2], ValueError, r"out must be C-contiguous"),
        ([0.0] * 10, TypeError, r"out must be a numpy.ndarray or None"),
    ]
    for out, exc, msg in cases:
        before = np.array(out, copy=True)
        with pytest.raises(exc, match=msg):
            ops.sigmoid(x, out=out)
        np.testing.assert_array_equal(np.asarray(out), before)
    np.testing.assert_array_equal(x, x_before)
    assert not readonly.any()


def test_partial_overlap_of_out_and_input_raises():
    buf = np.arange(12, dtype=np.float64)
    with pytest.raises(ValueError, match=r"out overlaps x without being the same array"):
        ops.relu(buf[:10], out=buf[2:])
    np.testing.assert_array_equal(buf, np.arange(12))


def test_bad_parameters_raise():
    x = np.ones(4)
    with pytest.raises(ValueError, match=r"approximate must be 'none' or 'tanh'"):
        ops.gelu(x, approximate="erf")
    with pytest.raises(ValueError, match=r"negative_slope must be finite"):
        ops.leaky_relu(x, negative_slope=np.nan)
    with pytest.raises(TypeError, match=r"negative_slope must be a real number"):
        ops.leaky_relu(x, negative_slope="0.1")


def test_readonly_and_byteswapped_inputs_are_fine():
    x = np.linspace(-3, 3, 7)
    x.flags.writeable = False
    np.testing.assert_allclose(ops.sigmoid(x), ref_sigmoid(x), rtol=1e-14)
    swapped = x.astype(">f8")
    np.testing.assert_allclose(ops.sigmoid(swapped), ref_sigmoid(x), rtol=1e-14)


def test_empty_arrays_give_empty_results():
    for shape in [(0,), (3, 0), (0, 5)]:
        for dtype in DTYPES:
            x = np.empty(shape, dtype)
            for name in NAMES:
                assert forward(name, x).shape == shape
                assert backward(name, x, x).shape == shape


# ---------------------------------------------------------------- layers

@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "silu"])
def test_activation_layers_forward_backward_reuse_buffers(name, rng):
    layer = deepgrad.layers.ACTIVATION_LAYERS[name]()
    x = sample(rng, (8, 16), np.float32)
    y = layer.forward(x)
    np.testing.assert_array_equal(y, forward(name, x))
    g = sample(rng, (8, 16), np.float32)
    gi = layer.backward(g)
    np.testing.assert_array_equal(gi, backward(name, g, x))
    assert layer.forward(x) is y and layer.backward(g) is gi  # buffers reused per shape
    assert layer.parameters() == []


def test_runtime_controls():
    assert deepgrad.get_simd() in deepgrad.simd_paths()
    with pytest.raises(ValueError, match="set_simd: path must be one of"):
        deepgrad.set_simd("sse9")
    with pytest.raises(ValueError, match="n must be >= 1"):
        deepgrad.set_num_threads(0)
    with pytest.raises(TypeError):
        deepgrad.set_num_threads(1.5)
    info = deepgrad.cpu_features()
    assert {"cpu", "simd_active", "simd_supported", "num_threads"} <= set(info)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 7, 16, 33, 100, 4097])
def test_results_do_not_depend_on_where_the_arrays_start(n, dtype, simd_path, rng):
    """relu and copy take the elements before the output's first 64-byte boundary on their own
    (csrc/activation_avx512.h, DGV_UNARY_LOOP_X4_ALIGNED), and the guarded kernels start their
    blocks of 256 there (csrc/activation.inc, block_len): x (and dout) and out at every
    4-byte offset within a cache line, and in place, give the same bits as the default
    arrays, forward and backward."""
    x = sample(rng, n, dtype)
    g = sample(rng, n, dtype, scale=1.0)

    def placed(values, off):   # values at byte offset off past a 64-byte boundary
        buf = np.empty(n + 128 // values.itemsize, dtype)
        start = ((-buf.ctypes.data) % 64 + off) // values.itemsize
        view = buf[start:start + n]
        view[:] = values
        return view

    kernels = {name: ops.ACTIVATIONS[name][0] for name in NAMES} | {"copy": ops.copy}
    grads = {name + "_backward": ops.ACTIVATIONS[name][1] for name in NAMES}
    for off in range(0, 64, np.dtype(dtype).itemsize):
        out_off = (60 - off) // np.dtype(dtype).itemsize * np.dtype(dtype).itemsize
        for name, f in kernels.items():
            want = f(x)
            xs = placed(x, off)
            got = f(xs, out=placed(np.zeros(n, dtype), out_off))
            np.testing.assert_array_equal(got, want, err_msg=f"{name} x +{off}")
            np.testing.assert_array_equal(f(xs, out=xs), want, err_msg=f"{name} in place +{off}")
        for name, b in grads.items():
            want = b(g, x)
            gs, xs = placed(g, off), placed(x, out_off)
            got = b(gs, xs, out=placed(np.zeros(n, dtype), off))
            np.testing.assert_array_equal(got, want, err_msg=f"{name} dout +{off}")
            np.testing.assert_array_equal(b(gs, xs, out=gs), want, err_msg=f"{name} into dout +{off}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_streamed_outputs_equal_unstreamed(dtype, simd_path, rng):
    """Forward outputs of 8 MiB or more are written through an L1 buffer with non-temporal
    stores (csrc/activation.inc:unary_piece). Element results do not depend on position,
    so a streamed call must give the same bits as the same values in two halves below the
    threshold -- also in place and into an output that is not 64-byte aligned (head and
    tail of the streaming copy)."""
    n = (9 << 20) // np.dtype(dtype).itemsize + 37          # 9 MiB and an odd tail
    x = sample(rng, n, dtype)
    h = n // 2
    for name in ("relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu"):
        want = np.concatenate([forward(name, x[:h]), forward(name, x[h:])])
        np.testing.assert_array_equal(forward(name, x), want, err_msg=name)
        offset = np.empty(n + 1, dtype)[1:]
        np.testing.assert_array_equal(ops.ACTIVATIONS[name][0](x, out=offset), want, err_msg=name)
        buf = x.copy()
        np.testing.assert_array_equal(ops.ACTIVATIONS[name][0](buf, out=buf), want, err_msg=name)


@pytest.mark.parametrize("n", [10, 4099, (9 << 20) // 4 + 37])    # the last one streamed
def test_leaky_relu_is_the_scalar_formula_bit_for_bit(n, simd_path, rng):
    """leaky_relu(x) = x if x > 0 else x * slope, on every path (the AVX-512 float32 loops of
    activation_avx512.h included): NaN and -0 go through the multiplication, so a negative
    slope flips the sign of a zero and a zero slope turns -inf into NaN, as the scalar does."""
    special = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-45, -1e-45, 3.4e38, -3.4e38], np.float32)
    x = np.resize(np.concatenate([special, sample(rng, 1000, np.float32)]), n)
    for slope in (0.01, -0.5, 0.0, 2.0):
        with np.errstate(all="ignore"):
            want = np.where(x > 0, x, x * np.float32(slope)).astype(np.float32)
        got = ops.leaky_relu(x, slope)
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), err_msg=f"slope {slope}")
