"""Special inputs of the exp-based activations: subnormal, tiny and saturated x
(csrc/activation.inc, "special inputs").

On some cores (Intel) arithmetic that produces a subnormal, or multiplies one, takes a
microcode assist of ~100 cycles, so the kernels take such inputs out of their loops and write
closed forms for them. These tests check what can be checked without a clock:

  - the results are the same bits in every mode ("never" = the plain loops, "always" = the
    special inputs always taken out, "adaptive" = the default), except for inputs whose plain
    evaluation does subnormal arithmetic (there the closed form is the value, the loop's may
    differ in the last bit or the sign of a zero; both modes that take them out agree);
  - with the special inputs taken out, no input outside the band where the result itself is
    tiny raises the underflow or denormal-operand flag: no subnormal arithmetic is left, so
    no assist (the flags are the architectural trace of what the assists cost);
  - a call leaves the caller's floating-point flags as they were.

Every test runs on every SIMD path the CPU has. Timing: `python tools/quick_speed.py --special`.
"""
import numpy as np
import pytest

import deepgrad
from deepgrad import _core, ops

from _numeric import EXP_BACKWARD_X, EXP_FORWARD

UNDERFLOW_OR_DENORMAL = 0x10 | 0x02      # MXCSR UE | DE

FORWARD = EXP_FORWARD
BACKWARD = EXP_BACKWARD_X
# where the result is legitimately tiny (subnormal for part of it) and the loop computes it:
# (float32, float64) intervals of x, from activation.inc's guard tables, widened a little
BAND = {
    "sigmoid": ((-104.5, -79.5), (-746.5, -699.5)),
    "silu": ((-110.5, -79.5), (-753.5, -699.5)),
    "silu_bw": ((-110.5, -79.5), (-753.5, -699.5)),
    "gelu": ((-14.7, -12.4), (-38.9, -36.9)),
    "gelu_bw": ((-14.7, -12.4), (-38.9, -36.9)),
    "gelu_tanh": ((-11.1, -9.8), (-22.1, -20.4)),
    "gelu_tanh_bw": ((-11.6, -9.8), (-23.1, -20.4)),
    "tanh": None,
}


@pytest.fixture
def one_thread(threads):
    """The flags read are the calling thread's: the kernels must run on it."""
    threads(1)
    yield
    _core.set_special_mode("adaptive")


def special_values(dtype):
    """Subnormals, tiny normals, saturated values of both signs, the bands, +-inf."""
    fi = np.finfo(dtype)
    nmant = 23 if dtype == np.float32 else 52
    itype = np.uint32 if dtype == np.float32 else np.uint64
    rng = np.random.default_rng(5)
    subnormal_bits = np.concatenate([np.arange(1, 600), rng.integers(1, 2**nmant, 600)]).astype(itype)
    sub = subnormal_bits.view(dtype)
    tiny = np.geomspace(float(fi.tiny), 2.0**-30, 400)
    big = np.geomspace(5.0, float(fi.max) / 4, 1200)
    near = np.concatenate([np.linspace(7, 25, 1500), np.linspace(75, 115, 800), np.linspace(690, 760, 600)])
    x = np.concatenate([sub, tiny, big, near]).astype(dtype)
    x = np.concatenate([x, -x, np.array([np.inf, -np.inf, 0.0, -0.0], dtype)])
    return x[np.isfinite(x) | np.isinf(x)]


def in_band(name, x, dtype):
    band = BAND[name]
    if band is None:
        return np.zeros(x.shape, bool)
    lo, hi = band[0] if dtype == np.float32 else band[1]
    return (x >= lo) & (x <= hi)


def mixed(x, dtype):
    """The special values spread among ordinary ones, so blocks hold both kinds."""
    rng = np.random.default_rng(11)
    ordinary = (rng.standard_normal(x.size * 3) * 2).astype(dtype)
    y = np.concatenate([x, ordinary])
    return y[rng.permutation(y.size)]


def run(name, x, g, mode):
    _core.set_special_mode(mode)
    try:
        with np.errstate(all="ignore"):
            return FORWARD[name](x) if name in FORWARD else BACKWARD[name](g, x)
    finally:
        _core.set_special_mode("adaptive")


def raises_tiny_flags(name, value, gvalue, dtype):
    """Whether the plain loop does subnormal arithmetic on this input (its own one-element call)."""
    x = np.array([value], dtype)
    g = np.array([gvalue], dtype)
    _core.set_special_mode("never")
    try:
        _core.fp_status_flags(True)
        with np.errstate(all="ignore"):
            FORWARD[name](x) if name in FORWARD else BACKWARD[name](g, x)
        return bool(_core.fp_status_flags(True) & UNDERFLOW_OR_DENORMAL)
    finally:
        _core.set_special_mode("adaptive")


def bits(a):
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


needs_mxcsr = pytest.mark.skipif(_core.fp_status_flags(False) < 0, reason="no x86 MXCSR here")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(FORWARD) + sorted(BACKWARD))
def test_same_bits_in_every_mode(simd_path, one_thread, dtype, name):
    x = mixed(special_values(dtype), dtype)
    g = np.random.default_rng(3).standard_normal(x.size).astype(dtype)
    never, always, adaptive = (run(name, x, g, m) for m in ("never", "always", "adaptive"))
    assert np.array_equal(bits(always), bits(adaptive))
    differ = np.nonzero(bits(never) != bits(always))[0]
    both_nan = np.isnan(never[differ]) & np.isnan(always[differ])
    differ = differ[~both_nan]
    # only where the plain loop itself does subnormal arithmetic may it differ
    assert all(raises_tiny_flags(name, x[i], g[i], dtype) for i in differ[:200]), \
        [(float(x[i]), float(never[i]), float(always[i])) for i in differ[:5]]
    if differ.size:   # and then by a last bit or the sign of a zero
        a, b = never[differ].astype(np.float64), always[differ].astype(np.float64)
        spacing = np.spacing(np.maximum(np.abs(a), np.abs(b)).astype(dtype)).astype(np.float64)
        assert np.all(np.abs(a - b) <= spacing)


@needs_mxcsr
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(FORWARD) + sorted(BACKWARD))
def test_no_subnormal_arithmetic_outside_the_band(simd_path, one_thread, dtype, name):
    x = special_values(dtype)
    x = mixed(x[~in_band(name, x, dtype)], dtype)
    g = np.random.default_rng(4).uniform(0.5, 2, x.size).astype(dtype)   # normal gradients
    _core.set_special_mode("always")
    try:
        _core.fp_status_flags(True)
        FORWARD[name](x) if name in FORWARD else BACKWARD[name](g, x)
        flags = _core.fp_status_flags(True)
    finally:
        _core.set_special_mode("adaptive")
    assert not flags & UNDERFLOW_OR_DENORMAL, hex(flags)


@needs_mxcsr
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_streamed_outputs_keep_the_bits_and_the_flags(simd_path, one_thread, dtype):
    """Outputs of 8 MiB and more are written with streaming stores (activation.inc,
    unary_piece: on AVX-512 float32 the kernels' own streaming loops, with the blocks the guard
    takes going through a buffer, unary_block_to). Special inputs spread through such an array
    give, in every mode, the bits of the same values in calls below the threshold; and with
    the special inputs taken out, no subnormal arithmetic is done outside the band."""
    n = (9 << 20) // np.dtype(dtype).itemsize + 37          # 9 MiB and an odd tail
    x = np.resize(mixed(special_values(dtype), dtype), n)
    h = n // 2 + 5
    for name in sorted(FORWARD):
        for mode in ("adaptive", "always", "never"):
            want = np.concatenate([run(name, x[:h], None, mode), run(name, x[h:], None, mode)])
            got = run(name, x, None, mode)
            np.testing.assert_array_equal(bits(got), bits(want), err_msg=f"{name} {mode}")
        if _core.fp_status_flags(False) < 0:
            continue
        clean = np.resize(x[~in_band(name, x, dtype)], n)
        _core.set_special_mode("always")
        try:
            _core.fp_status_flags(True)
            FORWARD[name](clean)
            flags = _core.fp_status_flags(True)
        finally:
            _core.set_special_mode("adaptive")
        assert not flags & UNDERFLOW_OR_DENORMAL, (name, hex(flags))


def test_the_check_can_fail(one_thread):
    """The flag check of the test above sees subnormal arithmetic when there is some: the
    plain loop on a saturated input."""
    _core.set_special_mode("never")
    try:
        _core.fp_status_flags(True)
        ops.gelu(np.full(64, -20.0, np.float32))
        assert _core.fp_status_flags(True) & UNDERFLOW_OR_DENORMAL
    finally:
        _core.set_special_mode("adaptive")


@needs_mxcsr
@pytest.mark.parametrize("name", sorted(FORWARD))
def test_callers_flags_are_left_alone(one_thread, name):
    x = np.full(4096, -95.0, np.float32)          # subnormal arithmetic in the plain loop
    _core.fp_status_flags(True)
    FORWARD[name](x)
    assert not _core.fp_status_flags(True) & UNDERFLOW_OR_DENORMAL


def test_special_mode_setting():
    assert _core.special_mode() == "adaptive"
    with pytest.raises(ValueError, match="mode must be one of"):
        _core.set_special_mode("sometimes")
    _core.set_special_mode("never")
    assert _core.special_mode() == "never"
    _core.set_special_mode("adaptive")


@pytest.mark.skipif("avx512" not in deepgrad.simd_paths(), reason="no AVX-512 on this CPU")
@pytest.mark.parametrize("density", [1, 16, 256])
@pytest.mark.parametrize("name", ["gelu", "gelu_tanh"])
def test_safe_loop_gives_the_plain_loops_bits(one_thread, name, density):
    """The AVX-512 float32 GELU forwards redo a block that raised the underflow flag, and the
    blocks after it, with a loop that forms subnormal results without subnormal arithmetic
    (activation.inc, unary_guarded; activation_avx512.h, dgv_scale_tiny). Its bits must be
    the plain loop's ("never"), the subnormal results of the band and the -0 beyond included,
    also in place. `density` saturated inputs (no tiny ones: those take the closed forms) per
    256-element block, the rest ordinary."""
    rng = np.random.default_rng(density)
    s = special_values(np.float32)
    s = s[np.abs(s) >= 1]
    blocks = -(-s.size // density)
    x = (rng.standard_normal((blocks, 256)) * 2).astype(np.float32)
    rows = np.repeat(np.arange(blocks), density)[:s.size]
    cols = np.argsort(rng.random((blocks, 256)), axis=1)[:, :density].ravel()[:s.size]
    x[rows, cols] = rng.permutation(s)
    x = x.ravel()
    assert np.any(in_band(name, x, np.float32) & (x < 0))
    deepgrad.set_simd("avx512")
    try:
        never, adaptive = run(name, x, None, "never"), run(name, x, None, "adaptive")
        y = x.copy()
        FORWARD[name](y, out=y)
    finally:
        deepgrad.set_simd(None)
    np.testing.assert_array_equal(bits(adaptive), bits(never))
    np.testing.assert_array_equal(bits(y), bits(never))
    assert np.count_nonzero((never != 0) & (np.abs(never) < np.finfo(np.float32).tiny)) > 0
