"""Accuracy of the exp-based activations (csrc/dg_math.h + the scalars of csrc/activation.inc).

float32: a dense sample of the whole float32 range (every 4099th bit pattern of both signs,
dense grids near 0, near the cut-off points where the result becomes subnormal, subnormals,
+-inf, NaN) against a float64 reference; the error is measured in ulps of the float32 result
and must be <= 4.

float64: a sample of ~4000 points against mpmath at 40 digits; relative error <= 1e-14 for
every function (gelu_tanh included: e^{2u} is as accurate as 2u, which the kernels form in
double-double, see csrc/activation.inc:gelu_tanh_arg; in plain double 2u's rounding alone gave
1.5e-13 at x = -20).

Near a zero of a derivative (gelu' at x = -0.7518, silu' at x = -1.2785, gelu_tanh' at
x = -0.7524) the result is a difference of two terms of size ~0.2-0.3: there the error is
measured against the size of the larger term ("scale" below), i.e. absolute near the zero,
which is the best any working-precision evaluation can do. Results in the subnormal range
are measured in units of the smallest subnormal (that is what the ulp is there).

Every test runs on every SIMD path the CPU has (deepgrad.simd_paths()).
"""
import math
import warnings

import numpy as np
import pytest

import deepgrad
from deepgrad import ops

from _numeric import EXP_BACKWARD_X, EXP_FORWARD

scipy_special = pytest.importorskip("scipy.special")
mpmath = pytest.importorskip("mpmath")

ULP_MAX_F32 = 4.0
REL_MAX_F64 = 1e-14


@pytest.fixture(params=deepgrad.simd_paths())
def simd(request):
    deepgrad.set_simd(request.param)
    yield request.param
    deepgrad.set_simd(None)


# ------------------------------------------------------------------ inputs

def float32_sweep():
    """Finite float32 values over the whole range plus dense grids at the interesting places."""
    bits = np.arange(0, 2**32, 4099, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    x = x[np.isfinite(x)]
    grids = [
        np.linspace(-8, 8, 200_001),
        np.linspace(-1e-3, 1e-3, 20_001),
        np.linspace(-110, -80, 60_001),     # sigmoid / silu: e^x crosses into the subnormals
        np.linspace(-15, -12, 30_001),      # gelu: x Phi(x) becomes subnormal, then 0
        np.linspace(-11.5, -9, 30_001),     # gelu_tanh: e^{2u} becomes subnormal
        np.linspace(80, 95, 10_001),        # overflow side of e^x
        np.arange(1, 5000, dtype=np.uint32).view(np.float32),   # subnormals
        -np.arange(1, 5000, dtype=np.uint32).view(np.float32),
        np.array([0.0, -0.0, 1000, -1000, 1e4, -1e4, 3.4e38, -3.4e38]),
    ]
    return np.concatenate([x] + [g.astype(np.float32) for g in grids])


def float64_sample():
    rng = np.random.default_rng(1)
    parts = [
        rng.uniform(-8, 8, 1500),
        rng.uniform(-40, 40, 800),
        np.sign(rng.uniform(-1, 1, 400)) * 10.0 ** rng.uniform(-300, 2.8, 400),
        rng.uniform(-1e-3, 1e-3, 200),
        rng.uniform(-745, -700, 200),       # sigmoid / silu near the subnormal range
        rng.uniform(-38.6, -36, 200),       # gelu near the subnormal range
        rng.uniform(-21, -19, 200),         # gelu_tanh near the subnormal range
        np.array([0.0, -0.0, 5e-324, -5e-324, 1e-310, 1000, -1000, 1e300, -1e300]),
    ]
    return np.concatenate(parts)


# -------------------------------------------------------------- references
# float64 references for the float32 kernels (function value, scale of the terms)

def ref64(name, x):
    """(value, scale) in float64; scale >= |value| is the size of the largest term."""
    x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        if name == "sigmoid":
            v = scipy_special.expit(x)
            return v, np.abs(v)
        if name == "tanh":
            v = np.tanh(x)
            return v, np.abs(v)
        if name == "silu":
            v = np.where(np.isneginf(x), -0.0, x * scipy_special.expit(x))   # the limit at -inf
            return v, np.abs(v)
        if name == "silu_bw":
            s = scipy_special.expit(x)
            t = np.where(np.isinf(x), 0.0, x * scipy_special.expit(-x))
            return s * (1 + t), s * np.maximum(1, np.abs(t))
        if name == "gelu":
            v = x * scipy_special.erfc(-x / math.sqrt(2)) / 2
            v = np.where(np.isneginf(x), -0.0, v)
            return v, np.abs(v)
        if name == "gelu_bw":
            cdf = scipy_special.erfc(-x / math.sqrt(2)) / 2
            pdf = np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
            xp = np.where(np.isinf(x), 0.0, x * pdf)
            return cdf + xp, np.maximum(np.abs(cdf), np.abs(xp))
        two_u = 2 * math.sqrt(2 / math.pi) * x * (1 + 0.044715 * x * x)
        s = scipy_special.expit(two_u)
        if name == "gelu_tanh":
            v = np.where(np.isneginf(x), -0.0, x * s)
            return v, np.abs(v)
        if name == "gelu_tanh_bw":
            du = 2 * math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)
            t = np.where(np.isinf(x), 0.0, x * scipy_special.expit(-two_u) * du)
            return s * (1 + t), s * np.maximum(1, np.abs(t))
    raise KeyError(name)


def ref_mp(name, x):
    """(value, scale) at 40 digits for the float64 kernels."""
    mp = mpmath.mp
    mp.dps = 40
    if math.isnan(x):
        return math.nan, math.nan
    xm = mp.mpf(x)
    sig = lambda t: 1 / (1 + mp.exp(-t))
    if name == "sigmoid":
        v = sig(xm)
        return v, abs(v)
    if name == "tanh":
        v = mp.tanh(xm)
        return v, abs(v)
    if name == "silu":
        v = xm * sig(xm)
        return v, abs(v)
    if name == "silu_bw":
        s, t = sig(xm), xm * sig(-xm)
        return s * (1 + t), s * max(1, abs(t))
    # (mpmath's erfc fails for huge arguments; beyond |x| = 60, Phi is 0 or 1 to 700 digits)
    erfc = lambda z: mp.erfc(z) if abs(z) < 60 else (mp.mpf(0) if z > 0 else mp.mpf(2))
    if name == "gelu":
        v = xm * erfc(-xm / mp.sqrt(2)) / 2
        return v, abs(v)
    if name == "gelu_bw":
        cdf = erfc(-xm / mp.sqrt(2)) / 2
        xp = xm * mp.exp(-xm * xm / 2) / mp.sqrt(2 * mp.pi)
        return cdf + xp, max(abs(cdf), abs(xp))
    kappa = mp.mpf("0.044715")
    two_u = 2 * mp.sqrt(2 / mp.pi) * xm * (1 + kappa * xm * xm)
    s = sig(two_u)
    if name == "gelu_tanh":
        v = xm * s
        return v, abs(v)
    du = 2 * mp.sqrt(2 / mp.pi) * (1 + 3 * kappa * xm * xm)
    t = xm * sig(-two_u) * du
    return s * (1 + t), s * max(1, abs(t))


FORWARD = EXP_FORWARD
BACKWARD_X = EXP_BACKWARD_X   # backward kernels that take the forward input x
ALL = {**FORWARD, **{k: (lambda f: lambda x: f(np.ones_like(x), x))(f) for k, f in BACKWARD_X.items()}}


def ulp_error_f32(got, ref, scale):
    """|got - ref| in ulps of float32 at max(|ref|, scale); NaN/inf must match exactly."""
    got64 = got.astype(np.float64)
    special = ~np.isfinite(ref) | ~np.isfinite(got64)
    assert np.array_equal(np.isnan(got64), np.isnan(ref)), "NaN mismatch"
    assert np.array_equal(got64[special & ~np.isnan(ref)], ref[special & ~np.isnan(ref)]), "inf mismatch"
    size = np.maximum(np.abs(ref), scale)[~special].astype(np.float32)
    ulp = np.spacing(size)                       # the smallest subnormal below 2^-126
    return np.abs(got64[~special] - ref[~special]) / ulp.astype(np.float64)


# ----------------------------------------------------------------- float32

@pytest.mark.parametrize("name", sorted(ALL))
def test_float32_fast_and_general_paths(simd, name):
    """The AVX-512 sigmoid / silu take a fast formula for |x| below a limit and the general
    kernel beyond it (csrc/activation_avx512.h, DGV_UNARY_LOOP_PADE), chosen per lane, and
    every kernel's special inputs are taken out per block: an element's bits must not depend
    on its neighbours. The same values go through clean
    blocks and through blocks with one out-of-range element each; both meet the bound and the
    in-range elements are bitwise equal."""
    rng = np.random.default_rng(7)
    x = np.concatenate([np.linspace(-86, 86, 256 * 400), rng.standard_normal(256 * 200) * 4,
                        rng.uniform(-43, 43, 256 * 100)]).astype(np.float32)
    poisoned = x.copy()
    poisoned[::256] = 1000.0
    ref, scale = ref64(name, x)
    fast, general = ALL[name](x), ALL[name](poisoned)
    keep = np.ones(x.size, bool)
    keep[::256] = False
    err_fast = ulp_error_f32(fast, ref, scale)
    err_general = ulp_error_f32(general[keep], ref[keep], scale[keep])
    print(f"{name} f32 {simd}: fast path max ulp {err_fast.max():.3f}, general {err_general.max():.3f}")
    assert err_fast.max() <= ULP_MAX_F32
    assert err_general.max() <= ULP_MAX_F32
    np.testing.assert_array_equal(fast[keep], general[keep])


@pytest.mark.parametrize("name", sorted(ALL))
def test_float32_max_ulp(simd, name):
    x = float32_sweep()
    x = np.concatenate([x, np.array([np.inf, -np.inf, np.nan], np.float32)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ALL[name](x)
    assert got.dtype == np.float32
    ref, scale = ref64(name, x)
    err = ulp_error_f32(got, ref, scale)
    worst = int(np.argmax(err))
    xs = x[np.isfinite(ref.astype(np.float64)) & np.isfinite(got)]
    print(f"{name} f32 {simd}: max ulp error {err.max():.3f} at x = {xs[worst]!r}")
    assert err.max() <= ULP_MAX_F32, (name, float(err.max()), float(xs[worst]))


@pytest.mark.parametrize("name, grad", [("sigmoid", lambda y: y * (1 - y)), ("tanh", lambda y: (1 - y) * (1 + y))])
def test_float32_backward_from_output(simd, name, grad):
    lo = 0.0 if name == "sigmoid" else -1.0
    y = np.concatenate([np.linspace(lo, 1, 100_001), 1 - np.logspace(-8, -1, 1000)]).astype(np.float32)
    g = np.linspace(-3, 3, y.size).astype(np.float32)
    bw = ops.sigmoid_backward if name == "sigmoid" else ops.tanh_backward
    got = bw(g, y)
    ref = g.astype(np.float64) * grad(y.astype(np.float64))
    err = ulp_error_f32(got, ref, np.abs(ref))
    print(f"{name}_bw f32 {simd}: max ulp error {err.max():.3f}")
    assert err.max() <= ULP_MAX_F32


# ----------------------------------------------------------------- float64

@pytest.mark.parametrize("name", sorted(ALL))
def test_float64_relative(simd, name):
    x = float64_sample()
    got = ALL[name](x)
    assert got.dtype == np.float64
    worst, at = 0.0, None
    for xi, gi in zip(x, got):
        ref, scale = ref_mp(name, float(xi))
        size = max(abs(ref), scale)
        tol = REL_MAX_F64
        if size < mpmath.mpf(2.0) ** -1022:          # subnormal result: absolute, 2 subnormal ulps
            assert abs(gi - ref) <= 2 * 5e-324 + tol * abs(ref), (name, xi, gi, ref)
            continue
        rel = float(abs(gi - ref) / size)
        assert rel <= tol, (name, xi, rel, tol)
        if rel > worst:
            worst, at = rel, xi
    print(f"{name} f64 {simd}: max rel error {worst:.3g} at x = {at!r}")


# ------------------------------------------------------- special values

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_saturates_exactly_without_warnings(simd, dtype):
    x = np.array([-1000, 1000, -1e4, 1e4, -np.inf, np.inf], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            y = ops.sigmoid(x)
    assert y.tolist() == [0, 1, 0, 1, 0, 1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_infinities_and_signed_zero(simd, dtype):
    y = ops.tanh(np.array([np.inf, -np.inf, 0.0, -0.0, 1e4, -1e4], dtype))
    assert y.tolist() == [1, -1, 0, 0, 1, -1]
    assert np.signbit(y[3]) and not np.signbit(y[2])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ALL))
def test_nan_propagates(simd, dtype, name):
    x = np.array([1.0, np.nan, -2.0, np.nan, 0.5] * 7, dtype)   # vector body and tail
    y = ALL[name](x)
    assert np.array_equal(np.isnan(y), np.isnan(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(FORWARD))
def test_subnormal_inputs(simd, dtype, name):
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.array([tiny, -tiny, 1000 * tiny, -1000 * tiny] * 5, dtype)
    y = FORWARD[name](x)
    slope = {"sigmoid": None, "tanh": 1.0, "gelu": 0.5, "gelu_tanh": 0.5, "silu": 0.5}[name]
    if slope is None:
        assert np.all(y == dtype(0.5))
    else:
        # f(x) = slope * x + O(x^2): exact to half a subnormal ulp or better
        assert np.all(np.abs(y.astype(np.float64) - slope * x.astype(np.float64)) <= tiny)


@pytest.mark.parametrize("mode", [0xC00, 0x400, 0x800])   # toward zero, downward, upward (x86)
def test_avx512_float32_kernels_do_not_depend_on_the_rounding_mode(mode):
    """The AVX-512 float32 kernels round the index of their table piece and of their power of
    two with the rounding embedded in the instruction (csrc/activation_avx512.h, DGV_ROUND),
    not with the caller's MXCSR: under another rounding mode the piecewise tanh was off by up
    to 4e-2. Every result stays within 1e-6 relative (a few ulp: the other operations do round
    the caller's way). The AVX2 and portable paths assume round-to-nearest."""
    if "avx512" not in deepgrad.simd_paths():
        pytest.skip("no AVX-512 here")
    import ctypes
    import ctypes.util
    name = ctypes.util.find_library("m")
    if name is None:
        pytest.skip("no libm to set the rounding mode with")
    libm = ctypes.CDLL(name)
    x = np.random.default_rng(11).standard_normal(20001).astype(np.float32) * 4
    want = {k: ref64(k, x) for k in FORWARD}
    deepgrad.set_simd("avx512")
    try:
        if libm.fesetround(mode) != 0:
            pytest.skip("fesetround refused the mode")
        got = {k: FORWARD[k](x) for k in FORWARD}
    finally:
        libm.fesetround(0)
        deepgrad.set_simd(None)
    for k in FORWARD:
        ref, scale = want[k]
        # relative to the result, but absolute below 1e-30 (no ulps of subnormals here)
        err = np.abs(got[k].astype(np.float64) - ref) / np.maximum(scale, 1e-30)
        assert err.max() <= 1e-6, (k, hex(mode), float(err.max()), float(x[np.argmax(err)]))


def test_wrong_reference_is_detected():
    """The float32 checker itself must fail on a 5-ulp perturbation (guards against a test that cannot fail)."""
    x = np.linspace(-5, 5, 101).astype(np.float32)
    ref, scale = ref64("sigmoid", x)
    got = ops.sigmoid(x)
    bad = (got.view(np.int32) + 5).view(np.float32)
    assert ulp_error_f32(got, ref, scale).max() <= ULP_MAX_F32
    assert ulp_error_f32(bad, ref, scale).max() > ULP_MAX_F32


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_float32_at_piece_boundaries(simd, approximate):
    """The AVX-512 float32 GELUs select a table polynomial per piece k = round(2|x|); at the
    boundaries |x| = k/2 + 1/4 (ties to even) and one float either side, both neighbouring
    polynomials must be within the bound, forward and backward."""
    mid = np.arange(0, 32, dtype=np.float32) / 2 + np.float32(0.25)
    b = np.concatenate([mid, np.nextafter(mid, np.float32(0)), np.nextafter(mid, np.float32(99))])
    x = np.concatenate([b, -b, np.float32([10.999999, 11.0, 11.000001, 14.499999, 14.5, 14.500001])])
    x = np.concatenate([x, -x[-6:]]).astype(np.float32)
    fwd = "gelu" if approximate == "none" else "gelu_tanh"
    for name, got in [(fwd, ops.gelu(x, approximate)), (fwd + "_bw", ops.gelu_backward(np.ones_like(x), x, approximate))]:
        ref, scale = ref64(name, x)
        err = ulp_error_f32(got, ref, scale)
        assert err.max() <= ULP_MAX_F32, (name, float(err.max()), float(x[np.argmax(err)]))


def test_tanh_float32_piece_edges_and_ends(simd):
    """The AVX-512 float32 tanh is a table polynomial per piece k = round(2|x|) up to 9.25 and
    the constant 1 beyond (csrc/activation_avx512.h:dgv_tanh). Within 64 floats of every piece
    boundary |x| = k/2 + 1/4 both neighbouring polynomials stay within the bound and never
    leave [-1, 1]; from 9.25 on the result is exactly +-1 (on every path); and where x^2/3 is
    below half an ulp of x, the piece 0 polynomial gives tanh(x) = x exactly (the expm1 formula
    of the other paths is within the bound there, one ulp off for some x)."""
    mid = np.arange(0, 19, dtype=np.float32) / 2 + np.float32(0.25)
    steps = np.arange(-64, 65, dtype=np.int32)
    b = (mid.view(np.int32)[:, None] + steps[None, :]).ravel().view(np.float32)
    x = np.concatenate([b, -b])
    y = ops.tanh(x)
    ref, scale = ref64("tanh", x)
    err = ulp_error_f32(y, ref, scale)
    assert err.max() <= ULP_MAX_F32, (float(err.max()), float(x[np.argmax(err)]))
    assert np.all(np.abs(y) <= 1)
    big = np.float32([9.25, 9.2500010, 9.3, 9.5, 9.75, 10, 20, 1e4, 3e38])
    np.testing.assert_array_equal(ops.tanh(np.concatenate([big, -big])), [1] * big.size + [-1] * big.size)
    small = np.float32(2.0) ** -np.arange(13, 31, dtype=np.float32)
    small = np.concatenate([small, small * np.float32(1.7), -small])
    if simd == "avx512":
        np.testing.assert_array_equal(ops.tanh(small), small)
    else:
        assert ulp_error_f32(ops.tanh(small), *ref64("tanh", small)).max() <= ULP_MAX_F32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_signed_zeros_and_infinities(simd, dtype, approximate):
    """gelu(-inf) = -0 (the limit; also for any x far below the underflow point), gelu(inf) =
    inf, gelu(0) = 0, gelu'(-inf) = 0 exactly (not the smallest subnormal), gelu'(inf) = 1, in
    the vector body and the tail (35 elements)."""
    x = np.array([-np.inf, np.inf, 0.0, -0.0, -1e30, 1e30, -3.0] * 5, dtype)
    y = ops.gelu(x, approximate)
    assert y[:6].tolist() == [0, np.inf, 0, 0, 0, float(dtype(1e30))]
    neg = np.isin(np.arange(x.size) % 7, [0, 4, 6])          # -inf, -1e30, -3
    assert np.all(np.signbit(y[neg])) and not np.any(np.signbit(y[~neg & (x != 0)]))
    g = ops.gelu_backward(np.ones_like(x), x, approximate)
    assert np.all(g[0::7] == 0) and np.all(g[4::7] == 0) and np.all(g[1::7] == 1) and np.all(g[5::7] == 1)
    assert np.all(g[2::7] == 0.5) and np.all(g[3::7] == 0.5)
