"""Init schemes: torch's formulas (checked statistically on large arrays), gains, orthogonality, seeds."""
import math

import numpy as np
import pytest

from deepgrad import init
from deepgrad.layers import LeakyReLU, ReLU, Tanh

BIG = (1000, 2000)          # 2e6 draws: a sample std is within ~0.05% of the true one


def draw(fn, shape=BIG, dtype=np.float64, seed=0, **kw):
    w = np.empty(shape, dtype=dtype)
    out = fn(w, rng=seed, **kw)
    assert out is w
    return w


def _rel(n):
    """Relative tolerance of a sample std from n draws: 6 standard errors, at least 1%."""
    return max(0.01, 6 / math.sqrt(2 * n))


def check_normal(w, std):
    a = w.astype(np.float64)
    assert abs(a.mean()) < 6 * std / math.sqrt(a.size)
    assert a.std() == pytest.approx(std, rel=_rel(a.size))
    # a normal, not a uniform of the same std: the excess kurtosis is 0 (uniform: -1.2)
    kurt = np.mean((a / a.std()) ** 4) - 3
    assert abs(kurt) < max(0.05, 6 * math.sqrt(24 / a.size))


def check_uniform(w, bound):
    a = w.astype(np.float64)
    assert np.abs(a).max() <= bound
    assert np.abs(a).max() > 0.999 * bound
    assert a.std() == pytest.approx(bound / math.sqrt(3), rel=_rel(a.size))
    assert abs(a.mean()) < 6 * bound / math.sqrt(3 * a.size)


# ---------------------------------------------------------------------------- calculate_gain

GAIN_CASES = [("linear", None), ("conv1d", None), ("conv2d", None), ("conv_transpose3d", None),
              ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
              ("leaky_relu", 0), ("leaky_relu", 0.2), ("leaky_relu", 1), ("leaky_relu", 3.5), ("selu", None)]


@pytest.mark.parametrize("name, param", GAIN_CASES)
def test_calculate_gain_equals_torch(name, param):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


def test_calculate_gain_values_without_torch():
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert init.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01 ** 2))


@pytest.mark.parametrize("name, param", [("gelu", None), ("softmax", None), ("leaky_relu", "0.1"),
                                         ("leaky_relu", True)])
def test_calculate_gain_rejects_as_torch(name, param):
    with pytest.raises(ValueError):
        init.calculate_gain(name, param)
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain(name, param)


# ---------------------------------------------------------------------------- the schemes' statistics

@pytest.mark.parametrize("shape", [BIG, (2000, 1000), (64, 50, 5, 5)])
@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier(shape, gain):
    fan_in = shape[1] * math.prod(shape[2:])
    fan_out = shape[0] * math.prod(shape[2:])
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    check_uniform(draw(init.xavier_uniform_, shape, gain=gain), math.sqrt(3) * std)
    check_normal(draw(init.xavier_normal_, shape, gain=gain), std)


KAIMING = [dict(), dict(nonlinearity="relu"), dict(mode="fan_out", nonlinearity="relu"),
           dict(a=0.2, nonlinearity="leaky_relu"), dict(nonlinearity="tanh", mode="fan_out"),
           dict(nonlinearity="linear")]


@pytest.mark.parametrize("kw", KAIMING, ids=str)
@pytest.mark.parametrize("shape", [BIG, (32, 40, 3, 3)])
def test_kaiming(kw, shape):
    receptive = math.prod(shape[2:])
    fan = shape[1] * receptive if kw.get("mode", "fan_in") == "fan_in" else shape[0] * receptive
    nl = kw.get("nonlinearity", "leaky_relu")
    slope = kw.get("a", 0.0)
    gain = {"relu": math.sqrt(2), "tanh": 5 / 3, "linear": 1.0,
            "leaky_relu": math.sqrt(2 / (1 + slope ** 2))}[nl]
    std = gain / math.sqrt(fan)
    check_uniform(draw(init.kaiming_uniform_, shape, **kw), math.sqrt(3) * std)
    check_normal(draw(init.kaiming_normal_, shape, **kw), std)


def test_lecun_normal_and_normal():
    check_normal(draw(init.lecun_normal_), 1 / math.sqrt(BIG[1]))
    w = draw(init.normal_, std=0.02)
    check_normal(w, 0.02)
    w = draw(init.normal_, mean=3.0, std=0.5)
    assert w.mean() == pytest.approx(3.0, abs=0.002) and w.std() == pytest.approx(0.5, rel=0.01)
    check_uniform(draw(init.uniform_, a=-0.3, b=0.3), 0.3)


@pytest.mark.parametrize("fn, kw", [(init.xavier_uniform_, {}), (init.xavier_normal_, {}),
                                    (init.kaiming_uniform_, dict(nonlinearity="relu")),
                                    (init.kaiming_normal_, dict(mode="fan_out")),
                                    (init.normal_, dict(std=0.1))])
def test_std_agrees_with_torch_empirically(fn, kw):
    torch = pytest.importorskip("torch")
    shape = (800, 600)
    ours = draw(fn, shape, **kw).std()
    torch.manual_seed(0)
    t = torch.empty(shape, dtype=torch.float64)
    getattr(torch.nn.init, fn.__name__)(t, **kw)
    assert ours == pytest.approx(float(t.std()), rel=0.02)


def test_zeros_ones_constant():
    for dtype in (np.float32, np.float64):
        w = np.full((3, 4), 7.0, dtype=dtype)
        assert not init.zeros_(w).any()
        assert (init.ones_(w) == 1).all()
        assert (init.constant_(w, -2.5) == -2.5).all() and w.dtype == dtype


# ---------------------------------------------------------------------------- orthogonal

@pytest.mark.parametrize("shape", [(5, 9), (64, 64), (9, 5), (1, 7), (7, 1), (4, 3, 2, 2)])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal(shape, dtype, tol, gain):
    w = draw(init.orthogonal_, shape, dtype=dtype, gain=gain)
    m = w.reshape(shape[0], -1).astype(np.float64)
    rows, cols = m.shape
    prod = m @ m.T if rows <= cols else m.T @ m
    np.testing.assert_allclose(prod, gain ** 2 * np.eye(min(rows, cols)), atol=tol * gain ** 2 * 4)


def test_orthogonal_is_haar_not_biased():
    # with the sign fix, diagonal entries of Q average 0 over draws (without it they are > 0)
    diag = np.array([np.diag(draw(init.orthogonal_, (6, 6), seed=s)) for s in range(400)])
    assert abs(diag.mean()) < 0.05


def test_orthogonal_rejects_1d():
    with pytest.raises(ValueError, match="2 or more"):
        init.orthogonal_(np.empty(4))


# ---------------------------------------------------------------------------- reproducibility

ALL_NAMES = ["xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "he_uniform",
             "he_normal", "lecun_normal", "orthogonal", "normal", "zeros", "ones"]


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_seed_same_bits(name, dtype):
    ini = init.get_initializer(name)
    a, b = np.empty((33, 17), dtype), np.empty((33, 17), dtype)
    ini(a, 1234)
    ini(b, np.random.default_rng(1234))
    assert a.tobytes() == b.tobytes()
    if name not in ("zeros", "ones"):
        c = np.empty_like(a)
        ini(c, 1235)
        assert not np.array_equal(a, c)
        gen = np.random.default_rng(7)                   # a Generator advances between calls
        ini(a, gen)
        ini(b, gen)
        assert not np.array_equal(a, b)


@pytest.mark.parametrize("name", ["xavier_uniform", "kaiming_normal", "orthogonal", "lecun_normal"])
def test_float32_is_the_float64_draw_rounded_once(name):
    ini = init.get_initializer(name)
    w64, w32 = np.empty((20, 30)), np.empty((20, 30), np.float32)
    ini(w64, 5)
    ini(w32, 5)
    np.testing.assert_array_equal(w32, w64.astype(np.float32))


def test_known_values_pin_the_stream():
    # the same seed gives these bits on any machine (PCG64 + float64 arithmetic); a change
    # of generator or formula shows up here
    w = np.empty((2, 3))
    init.xavier_uniform_(w, rng=0)
    bound = math.sqrt(3.0) * math.sqrt(2.0 / (3 + 2))
    np.testing.assert_array_equal(w, np.random.default_rng(0).uniform(-bound, bound, size=(2, 3)))
    w32 = np.empty((2, 3), np.float32)
    init.kaiming_normal_(w32, nonlinearity="relu", rng=0)
    ref = np.random.default_rng(0).normal(0.0, math.sqrt(2.0) / math.sqrt(3), size=(2, 3)).astype(np.float32)
    assert w32.tobytes() == ref.tobytes()


# ---------------------------------------------------------------------------- by name, auto

def test_get_initializer_binds_kwargs_and_fills_in_place():
    ini = init.get_initializer("kaiming_uniform", a=0.1, mode="fan_out", nonlinearity="leaky_relu")
    assert ini.kwargs == dict(a=0.1, mode="fan_out", nonlinearity="leaky_relu")
    w = np.empty((40, 10))
    ref = np.empty((40, 10))
    assert ini(w, 3) is w
    init.kaiming_uniform_(ref, a=0.1, mode="fan_out", nonlinearity="leaky_relu", rng=3)
    np.testing.assert_array_equal(w, ref)
    assert "kaiming_uniform" in repr(ini)
    assert init.get_initializer("he_normal") == init.get_initializer("kaiming_normal", nonlinearity="relu")
    assert init.get_initializer("XAVIER_normal", gain=2.0).kwargs == {"gain": 2.0}
    assert init.get_initializer("normal", std=0.02)(np.empty((3, 3)), 0).std() > 0


@pytest.mark.parametrize("name, kw, exc", [
    ("glorot", {}, ValueError), ("xavier_uniform", {"std": 1.0}, TypeError),
    ("kaiming_normal", {"nonlinearity": "gelu"}, ValueError), ("kaiming_normal", {"mode": "fan"}, ValueError),
    ("zeros", {"gain": 2.0}, TypeError), ("normal", {"rng": 0}, TypeError), (3, {}, TypeError)])
def test_get_initializer_rejects(name, kw, exc):
    with pytest.raises(exc):
        init.get_initializer(name, **kw)


@pytest.mark.parametrize("act, expected", [
    ("relu", ("kaiming_normal", {"nonlinearity": "relu"})),
    ("gelu", ("kaiming_normal", {"nonlinearity": "relu"})),
    ("silu", ("kaiming_normal", {"nonlinearity": "relu"})),
    (ReLU(), ("kaiming_normal", {"nonlinearity": "relu"})),
    ("leaky_relu", ("kaiming_normal", {"nonlinearity": "leaky_relu", "a": 0.01})),
    (LeakyReLU(0.2), ("kaiming_normal", {"nonlinearity": "leaky_relu", "a": 0.2})),
    ("sigmoid", ("xavier_normal", {"gain": 1.0})),
    ("tanh", ("xavier_normal", {"gain": 1.0})),
    (Tanh(), ("xavier_normal", {"gain": 1.0})),
    ("linear", ("xavier_normal", {"gain": 1.0})),
    (None, ("xavier_normal", {"gain": 1.0}))])
def test_auto_initializer(act, expected):
    ini = init.auto_initializer(act)
    assert (ini.name, ini.kwargs) == expected


def test_auto_initializer_variances():
    # He: Var = 2 / fan_in; Xavier on a square layer: Var = 1 / fan_in
    w = np.empty((1000, 1000))
    init.auto_initializer("relu")(w, 0)
    assert w.var() == pytest.approx(2 / 1000, rel=0.01)
    init.auto_initializer("tanh")(w, 0)
    assert w.var() == pytest.approx(1 / 1000, rel=0.01)
    with pytest.raises(ValueError):
        init.auto_initializer("softplus")
    with pytest.raises(TypeError):
        init.auto_initializer(3.0)


# ---------------------------------------------------------------------------- input checks

def test_as_generator():
    g = np.random.default_rng(1)
    assert init.as_generator(g) is g
    assert isinstance(init.as_generator(None), np.random.Generator)
    assert init.as_generator(5).random() == np.random.default_rng(5).random()
    assert init.as_generator(np.int64(5)).random() == np.random.default_rng(5).random()
    assert init.as_generator(np.random.SeedSequence(5)).random() == np.random.default_rng(5).random()
    for bad, exc in [(True, TypeError), (-1, ValueError), ("5", TypeError), (1.5, TypeError),
                     (np.random.RandomState(0), TypeError)]:
        with pytest.raises(exc):
            init.as_generator(bad)


@pytest.mark.parametrize("weight, exc", [([[1.0, 2.0]], TypeError), (np.zeros((2, 2), np.int32), TypeError),
                                         (np.zeros(3), ValueError)])
def test_weight_checks(weight, exc):
    with pytest.raises(exc):
        init.xavier_uniform_(weight, rng=0)


def test_read_only_weight_rejected():
    w = np.zeros((2, 2))
    w.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        init.normal_(w, rng=0)


def test_zero_size_is_a_no_op():
    for fn in (init.kaiming_uniform_, init.kaiming_normal_, init.lecun_normal_, init.orthogonal_):
        w = np.empty((0, 5))
        assert fn(w, rng=0) is w


def test_fan_of_1d_raises_like_torch():
    with pytest.raises(ValueError, match="fewer than 2"):
        init.kaiming_normal_(np.zeros(5), rng=0)
    init.normal_(np.zeros(5), rng=0)        # shape-free schemes take any shape
