"""deepgrad's GEMM (csrc/gemm.c) against a float64 NumPy reference.

Tolerance: the classic error bound of a k-term dot product,
    |C - C_exact| <= gamma * (|alpha| |op(A)| |op(B)| + |beta| |C0| + |bias|),  gamma = (k + 2) * eps,
computed elementwise with float64 NumPy. A wrong index or a missed edge gives errors of
the size of the entries themselves, far above it.
"""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import _core

DTYPES = [np.float32, np.float64]


@pytest.fixture
def simd(simd_path):
    """Every SIMD path (the shared simd_path fixture of conftest.py)."""
    return simd_path


@pytest.fixture
def threads():
    yield
    dg.set_num_threads(None)


def _op(x, t):
    return x.T if t else x


def _reference(a, b, ta, tb, alpha=1.0, beta=0.0, c0=None, bias=None):
    """(exact-ish result in float64, elementwise error bound) for C = alpha op(a) op(b) + beta c0 + bias."""
    A = _op(a, ta).astype(np.float64)
    B = _op(b, tb).astype(np.float64)
    k = A.shape[1]
    eps = np.finfo(a.dtype).eps
    ref = alpha * (A @ B)
    mag = abs(alpha) * (np.abs(A) @ np.abs(B))
    if beta != 0:
        ref = ref + beta * c0.astype(np.float64)
        mag = mag + abs(beta) * np.abs(c0.astype(np.float64))
    if bias is not None:
        ref = ref + bias.astype(np.float64)
        mag = mag + np.abs(bias.astype(np.float64))
    return ref, (k + 3) * eps * mag + np.finfo(a.dtype).tiny


def _operands(rng, m, n, k, ta, tb, dtype):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b


def _assert_close(c, ref, bound, what=""):
    err = np.abs(c.astype(np.float64) - ref)
    assert np.all(np.isfinite(c)), what
    worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.size else None
    assert np.all(err <= bound), f"{what}: max excess at {worst}: err {err[worst]:.3g} > bound {bound[worst]:.3g}"


AWKWARD = [
    (1, 1, 1), (1, 17, 1), (1, 100, 1), (13, 1, 1), (7, 13, 5), (97, 101, 103),
    (500, 3, 40),    # tall-skinny
    (3, 500, 40),    # short-fat
    (2, 3, 700),     # long k: several KC blocks
    (29, 45, 31),    # not a multiple of any tile
    (15, 33, 17), (14, 32, 256), (28, 64, 257),  # exact tiles, and one past the k block
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("shape", AWKWARD, ids=lambda s: "x".join(map(str, s)))
def test_matmul_awkward_shapes(simd, dtype, ta, tb, shape):
    m, n, k = shape
    rng = np.random.default_rng(m * 10007 + n * 101 + k)
    a, b = _operands(rng, m, n, k, ta, tb, dtype)
    a0, b0 = a.copy(), b.copy()
    c = dg.ops.matmul(a, b, trans_a=ta, trans_b=tb)
    assert c.shape == (m, n) and c.dtype == dtype
    ref, bound = _reference(a, b, ta, tb)
    _assert_close(c, ref, bound, f"{simd} {shape} ta={ta} tb={tb}")
    np.testing.assert_array_equal(a, a0)  # inputs never modified
    np.testing.assert_array_equal(b, b0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(14, 32, 16), (28, 64, 257), (15, 33, 17), (97, 101, 103),
                                   (300, 70, 600)], ids=lambda s: "x".join(map(str, s)))
def test_transposes_give_the_same_bits(simd, dtype, shape):
    """The packs of op(A) and op(B) put the same values in the same places whichever way the
    operands are stored (AVX-512: register transposes for untransposed A and transposed B,
    the scalar loops for the rest), so all four layouts of one product give the same bits:
    full tiles and edges, k a multiple of the vector width and not, several k blocks."""
    m, n, k = shape
    rng = np.random.default_rng(m + n + k)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    at, bt = np.ascontiguousarray(a.T), np.ascontiguousarray(b.T)
    c = dg.ops.matmul(a, b)
    for x, y, ta, tb in [(at, b, True, False), (a, bt, False, True), (at, bt, True, True)]:
        np.testing.assert_array_equal(dg.ops.matmul(x, y, trans_a=ta, trans_b=tb), c,
                                      err_msg=f"{simd} ta={ta} tb={tb}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_multiple_cache_blocks(simd, dtype):
    """m > MC, k > KC and n > NC at once, so every loop of the nest takes several trips."""
    rng = np.random.default_rng(1)
    for m, n, k, ta, tb in [(600, 70, 600, False, True), (20, 4200, 300, True, False)]:
        a, b = _operands(rng, m, n, k, ta, tb, dtype)
        c = dg.ops.matmul(a, b, trans_a=ta, trans_b=tb)
        ref, bound = _reference(a, b, ta, tb)
        _assert_close(c, ref, bound, f"{simd} {(m, n, k)}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_size_1_to_33(simd, dtype):
    """Every m, n, k in 1..33 (35937 products) against prefix sums of outer products.

    For fixed (m, n) the products for k = 1..33 are written into one stack of outputs and
    compared at once with P[k] = sum_{p<k} A[:, p] B[p, :], so the check is vectorized.
    The operands are slices of 33 x 33 arrays, used in place through the leading dimension.
    """
    N = 33
    rng = np.random.default_rng(33)
    A = rng.standard_normal((N, N)).astype(dtype)
    B = rng.standard_normal((N, N)).astype(dtype)
    At, Bt = np.ascontiguousarray(A.T), np.ascontiguousarray(B.T)  # stored transposed
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    outer = A64.T[:, :, None] * B64[:, None, :]            # outer[p] = A[:, p] B[p, :]
    P = np.concatenate([np.zeros((1, N, N)), np.cumsum(outer, axis=0)])  # P[k]
    Pabs = np.concatenate([np.zeros((1, N, N)), np.cumsum(np.abs(outer), axis=0)])
    ks = np.arange(N + 1)[:, None, None]
    bound = (ks + 3) * np.finfo(dtype).eps * Pabs + np.finfo(dtype).tiny
    out = np.full((N, N, N), np.nan, dtype=dtype)           # out[k-1, :m, :n]
    gemm = _core.gemm
    for m in range(1, N + 1):
        for n in range(1, N + 1):
            ta, tb = bool((m + n) & 1), bool((m + n) & 2)   # all four transpose pairs occur
            for k in range(1, N + 1):
                a = At[:k, :m] if ta else A[:m, :k]
                b = Bt[:n, :k] if tb else B[:k, :n]
                gemm(out[k - 1, :m, :n], a, b, None, ta, tb, 1.0, 0.0)
            got = out[:, :m, :n].astype(np.float64)
            err = np.abs(got - P[1:, :m, :n])
            if not np.all(err <= bound[1:, :m, :n]):
                k_bad = int(np.argmax((err > bound[1:, :m, :n]).any(axis=(1, 2)))) + 1
                pytest.fail(f"{simd} {np.dtype(dtype).name}: m={m} n={n} k={k_bad} ta={ta} tb={tb} wrong")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.5, 0.0), (1.0, 1.0), (-0.5, 2.0), (0.75, -1.0)])
def test_alpha_beta(simd, dtype, alpha, beta):
    rng = np.random.default_rng(5)
    m, n, k = 37, 41, 300
    a, b = _operands(rng, m, n, k, False, True, dtype)
    c0 = rng.standard_normal((m, n)).astype(dtype)
    if beta == 0:
        c = np.full((m, n), np.nan, dtype=dtype)  # beta == 0 never reads C
    else:
        c = c0.copy()
    dg.ops.matmul(a, b, trans_b=True, out=c, alpha=alpha, beta=beta)
    ref, bound = _reference(a, b, False, True, alpha, beta, c0)
    _assert_close(c, ref, bound, f"alpha={alpha} beta={beta}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_k_zero_and_alpha_zero(simd, dtype):
    rng = np.random.default_rng(6)
    c0 = rng.standard_normal((5, 7)).astype(dtype)
    # k = 0: C = beta * C
    c = c0.copy()
    dg.ops.matmul(np.zeros((5, 0), dtype), np.zeros((0, 7), dtype), out=c, beta=3.0)
    np.testing.assert_array_equal(c, (3.0 * c0).astype(dtype))
    c = np.full((5, 7), np.nan, dtype)
    dg.ops.matmul(np.zeros((5, 0), dtype), np.zeros((0, 7), dtype), out=c)
    np.testing.assert_array_equal(c, 0)
    # alpha = 0: A and B are not read (NaN in them does not leak), C = beta * C
    a = np.full((5, 4), np.nan, dtype)
    b = np.full((4, 7), np.inf, dtype)
    c = c0.copy()
    dg.ops.matmul(a, b, out=c, alpha=0.0, beta=-2.0)
    np.testing.assert_array_equal(c, (-2.0 * c0).astype(dtype))
    # empty outputs
    assert dg.ops.matmul(np.zeros((0, 3), dtype), np.zeros((3, 4), dtype)).shape == (0, 4)
    assert dg.ops.matmul(np.zeros((2, 3), dtype), np.zeros((3, 0), dtype)).shape == (2, 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (True, True), (False, True), (True, False)])
def test_leading_dimension_padding(simd, dtype, ta, tb):
    """Operands and C are slices of wider arrays: the kernel must use lda/ldb/ldc and
    never touch the padding columns of C (filled with a sentinel)."""
    rng = np.random.default_rng(7)
    m, n, k = 23, 37, 45
    pad = 11
    a_big = rng.standard_normal(((k, m + pad) if ta else (m, k + pad))).astype(dtype)
    b_big = rng.standard_normal(((n, k + pad) if tb else (k, n + pad))).astype(dtype)
    a = a_big[:, :m] if ta else a_big[:, :k]
    b = b_big[:, :k] if tb else b_big[:, :n]
    c_big = np.full((m + 2, n + pad), 7.0, dtype=dtype)
    c = c_big[1:m + 1, 3:n + 3]
    c0 = rng.standard_normal((m, n)).astype(dtype)
    c[...] = c0
    bias = rng.standard_normal(n).astype(dtype)
    _core.gemm(c, a, b, bias, ta, tb, 1.5, 0.5)
    ref, bound = _reference(a, b, ta, tb, 1.5, 0.5, c0, bias)
    _assert_close(c, ref, bound, "padded")
    mask = np.ones(c_big.shape, bool)
    mask[1:m + 1, 3:n + 3] = False
    assert np.all(c_big[mask] == 7.0), "the GEMM wrote outside C"


@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_epilogue(simd, dtype):
    """The per-column bias of the write-back, with k spanning several k blocks (added once)."""
    rng = np.random.default_rng(8)
    for m, n, k in [(30, 70, 600), (1, 1, 1), (15, 33, 5)]:
        a, b = _operands(rng, m, n, k, False, False, dtype)
        bias = rng.standard_normal(n).astype(dtype)
        c = np.full((m, n), np.nan, dtype)
        _core.gemm(c, a, b, bias, False, False, 1.0, 0.0)
        ref, bound = _reference(a, b, False, False, bias=bias)
        _assert_close(c, ref, bound, f"bias {(m, n, k)}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_fast_matches_naive_reference_kernel(simd, dtype):
    rng = np.random.default_rng(9)
    for (m, n, k), ta, tb in [((31, 17, 300), True, False), ((64, 64, 64), False, True), ((3, 90, 7), True, True)]:
        a, b = _operands(rng, m, n, k, ta, tb, dtype)
        c0 = rng.standard_normal((m, n)).astype(dtype)
        fast, naive = c0.copy(), c0.copy()
        _core.gemm(fast, a, b, None, ta, tb, 0.5, 2.0)
        _core.gemm(naive, a, b, None, ta, tb, 0.5, 2.0, naive=True)
        ref, bound = _reference(a, b, ta, tb, 0.5, 2.0, c0)
        _assert_close(naive, ref, bound, "naive")
        _assert_close(fast, ref, bound, "fast")
        np.testing.assert_allclose(fast, naive, rtol=0, atol=float(2 * bound.max()))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_blocked_teaching_kernel_matches_reference(dtype, ta, tb):
    """gemm_blocked_* (the 'blocked' step of docs/gemm.md): shapes that cross its 64 x 128 x 256
    blocks and end mid-block, alpha/beta/bias, and a NaN-filled C with beta == 0."""
    rng = np.random.default_rng(11)
    for m, n, k in [(1, 1, 1), (65, 257, 129), (130, 300, 260), (7, 3, 0)]:
        a, b = _operands(rng, m, n, k, ta, tb, dtype)
        bias = rng.standard_normal(n).astype(dtype)
        c0 = rng.standard_normal((m, n)).astype(dtype)
        c = c0.copy()
        _core.gemm(c, a, b, bias, ta, tb, 0.5, 2.0, blocked=True)
        ref, bound = _reference(a, b, ta, tb, 0.5, 2.0, c0, bias)
        _assert_close(c, ref, bound, f"blocked {(m, n, k)}")
        c = np.full((m, n), np.nan, dtype)
        _core.gemm(c, a, b, None, ta, tb, 1.0, 0.0, blocked=True)
        ref, bound = _reference(a, b, ta, tb)
        _assert_close(c, ref, bound, f"blocked beta=0 {(m, n, k)}")
    with pytest.raises(ValueError, match="exclusive"):
        _core.gemm(c, a, b, None, ta, tb, 1.0, 0.0, naive=True, blocked=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bit_identical_for_any_thread_count(simd, dtype, threads):
    """Threads cut C into blocks on tile boundaries (rows for the first shape, columns for
    the second); every element is summed in the same order whatever the cut."""
    rng = np.random.default_rng(10)
    for m, n, k in [(301, 290, 600), (77, 1000, 300)]:
        a, b = _operands(rng, m, n, k, True, False, dtype)
        results = []
        for t in (1, 2, 3, 4):
            dg.set_num_threads(t)
            results.append(dg.ops.matmul(a, b, trans_a=True))
        for r in results[1:]:
            np.testing.assert_array_equal(results[0], r)


@pytest.mark.parametrize("dtype", DTYPES)
def test_layouts_f_order_and_strided(simd, dtype):
    rng = np.random.default_rng(11)
    a = np.asfortranarray(rng.standard_normal((40, 30)).astype(dtype))
    b = rng.standard_normal((60, 50)).astype(dtype)[::2, ::2]  # non-contiguous: copied
    ref, bound = _reference(np.ascontiguousarray(a), np.ascontiguousarray(b), False, False)
    _assert_close(dg.ops.matmul(a, b), ref, bound, "F/strided")
    # transposed F-ordered operand: used in place as a row-major one
    ref, bound = _reference(np.ascontiguousarray(a), np.ascontiguousarray(a), True, False)
    _assert_close(dg.ops.matmul(a, a, trans_a=True), ref, bound, "F transposed")
    # column vector and row vector views
    col = rng.standard_normal((30, 5)).astype(dtype)[:, 2:3]
    ref, bound = _reference(np.ascontiguousarray(a), np.ascontiguousarray(col), False, False)
    _assert_close(dg.ops.matmul(a, col), ref, bound, "column")


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_inf_propagate(simd, dtype):
    a = np.ones((20, 40), dtype)
    b = np.ones((40, 35), dtype)
    a[3, 7] = np.nan
    b[5, 30] = np.inf
    c = dg.ops.matmul(a, b)
    assert np.all(np.isnan(c[3]))
    assert np.all(np.isinf(np.delete(c[:, 30], 3))) and np.all(c[np.arange(20) != 3, 30] > 0)
    mask = np.ones(c.shape, bool)
    mask[3] = False
    mask[:, 30] = False
    assert np.all(c[mask] == 40)
    big = np.full((3, 3), 1e4, dtype)
    np.testing.assert_allclose(dg.ops.matmul(big, big), np.full((3, 3), 3e8), rtol=1e-6)
    tiny = np.full((2, 2), np.finfo(dtype).tiny, dtype)
    assert np.all(dg.ops.matmul(tiny, np.ones((2, 2), dtype)) == 2 * np.finfo(dtype).tiny)


def test_errors():
    f32, f64 = np.float32, np.float64
    with pytest.raises(ValueError, match="inner dimensions"):
        dg.ops.matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        dg.ops.matmul(np.ones((2, 3)), np.ones((2, 3)), trans_a=True, trans_b=True)
    with pytest.raises(TypeError, match="dtype"):
        dg.ops.matmul(np.ones((2, 3), f32), np.ones((3, 2), f64))
    with pytest.raises(TypeError):
        dg.ops.matmul(np.ones((2, 3), np.int64), np.ones((3, 2), np.int64))
    with pytest.raises(TypeError):
        dg.ops.matmul([[1.0]], np.ones((1, 1)))
    with pytest.raises(ValueError, match="2-d"):
        dg.ops.matmul(np.ones(3), np.ones((3, 2)))
    with pytest.raises(ValueError, match="shape"):
        dg.ops.matmul(np.ones((2, 3)), np.ones((3, 2)), out=np.empty((3, 3)))
    with pytest.raises(ValueError, match="out must be given"):
        dg.ops.matmul(np.ones((2, 3)), np.ones((3, 2)), beta=1.0)
    a = np.ones((4, 4))
    with pytest.raises(ValueError, match="overlaps"):
        dg.ops.matmul(a, np.ones((4, 4)), out=a)
    with pytest.raises(ValueError, match="contiguous"):
        dg.ops.matmul(np.ones((2, 3)), np.ones((3, 2)), out=np.empty((2, 4))[:, :2])
    with pytest.raises(TypeError, match="trans_a"):
        dg.ops.matmul(np.ones((2, 3)), np.ones((3, 2)), trans_a=1)
