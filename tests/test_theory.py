"""deepgrad.theory: quadrature against closed forms, fixed points, chi1, criticality, init
mapping, and the mean-field prediction against plain NumPy random networks."""
import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import ops
from deepgrad import theory as T

erf = np.vectorize(math.erf, otypes=[np.float64])
SIGMOID_XAVIER_CHI1 = 0.0557207068        # sigma_w2 = 1, sigma_b2 = 0 (pinned; scipy cross-check below)
SIGMOID_XAVIER_QSTAR = 0.2646868752
TANH_CRITICAL_005 = 1.7609546397          # sigma_b2 = 0.05
QS = [1e-8, 1e-3, 0.3, 1.0, 2.5, 17.0, 1e3, 1e6]


def _expect(name, which, q):
    act = T.get_activation(name)
    fn = act.phi if which == "phi" else act.dphi
    return T.gaussian_expectation(lambda x: fn(x) ** 2, q, kinks=act.kinks)


# --------------------------------------------------------------------------- activations

@pytest.mark.parametrize("name", T.ACTIVATION_NAMES)
def test_activation_phi_and_dphi_match_numpy_formulas(name):
    x = np.linspace(-9.0, 9.0, 721) + 0.0123       # avoids x == 0 exactly
    sig = 1.0 / (1.0 + np.exp(-x))
    cdf, pdf = 0.5 * (1.0 + erf(x / math.sqrt(2.0))), np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    u = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)
    ref = {
        "sigmoid": (sig, sig * (1 - sig)),
        "tanh": (np.tanh(x), 1 - np.tanh(x) ** 2),
        "relu": (np.maximum(x, 0), (x > 0).astype(float)),
        "leaky_relu": (np.where(x > 0, x, 0.01 * x), np.where(x > 0, 1.0, 0.01)),
        "gelu": (x * cdf, cdf + x * pdf),
        "gelu_tanh": (0.5 * x * (1 + np.tanh(u)),
                      0.5 * (1 + np.tanh(u)) + 0.5 * x * (1 - np.tanh(u) ** 2)
                      * math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x ** 2)),
        "silu": (x * sig, sig * (1 + x * (1 - sig))),
        "linear": (x, np.ones_like(x)),
    }[name]
    act = T.get_activation(name)
    np.testing.assert_allclose(act.phi(x), ref[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(act.dphi(x), ref[1], rtol=1e-12, atol=1e-14)


def test_unknown_activation_and_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        T.chi1("swish", 1.0, 0.0, 1.0)
    with pytest.raises(TypeError, match="activation must be a name"):
        T.chi1(np.tanh, 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="q must be finite and >= 0"):
        T.gaussian_expectation(np.square, -1.0)
    with pytest.raises(ValueError, match="q must be finite and >= 0"):
        T.gaussian_expectation(np.square, float("nan"))
    with pytest.raises(TypeError, match="sigma_w2 must be a real number"):
        T.variance_map("tanh", "1", 0.0, 1.0)
    with pytest.raises(ValueError, match="sigma_b2 must be finite and >= 0"):
        T.fixed_point_q("tanh", 1.0, -0.1)
    with pytest.raises(ValueError, match="depth must be >= 1"):
        T.q_trajectory("tanh", 1.0, 0.0, 1.0, 0)
    with pytest.raises(TypeError, match="depth must be an int"):
        T.q_trajectory("tanh", 1.0, 0.0, 1.0, 3.0)
    with pytest.raises(ValueError, match="depth must be >= 2"):
        T.predicted_grad_norm_ratio("tanh", 1.0, 0.0, 1)
    with pytest.raises(ValueError, match="sigma_w2 must be a number or have length depth=4"):
        T.q_trajectory("tanh", [1.0, 2.0], 0.0, 1.0, 4)
    with pytest.raises(ValueError, match="init must be one of"):
        T.init_sigma_w2("lecun", "tanh")
    with pytest.raises(ValueError, match="fan_in must be a positive int"):
        T.init_sigma_w2("xavier", "tanh", fan_in=0)


# --------------------------------------------------------------------------- quadrature

@pytest.mark.parametrize("q", QS)
def test_quadrature_closed_forms_relu_leaky_linear(q):
    a = T.LEAKY_SLOPE
    assert _expect("relu", "phi", q) == pytest.approx(q / 2, rel=1e-10, abs=0)
    assert _expect("relu", "dphi", q) == pytest.approx(0.5, rel=1e-12)
    assert _expect("leaky_relu", "phi", q) == pytest.approx(q * (1 + a * a) / 2, rel=1e-10)
    assert _expect("leaky_relu", "dphi", q) == pytest.approx((1 + a * a) / 2, rel=1e-12)
    assert _expect("linear", "phi", q) == pytest.approx(q, rel=1e-10)
    # E[relu(x)^4] = 3 q^2 / 2 and E[relu(x)] = sqrt(q / (2 pi)): odd powers see the kink too
    assert T.gaussian_expectation(lambda x: np.maximum(x, 0) ** 4, q) == pytest.approx(1.5 * q * q, rel=1e-10)
    assert T.gaussian_expectation(lambda x: np.maximum(x, 0), q) == pytest.approx(
        math.sqrt(q / (2 * math.pi)), rel=1e-10)


@pytest.mark.parametrize("q", QS)
def test_quadrature_closed_forms_erf_and_gelu(q):
    # E[erf(sqrt(q) z)^2] = (2/pi) arcsin(2q / (1 + 2q));  E[erf'(sqrt(q) z)^2] = (4/pi) / sqrt(1 + 4q)
    assert T.gaussian_expectation(lambda x: erf(x) ** 2, q) == pytest.approx(
        2 / math.pi * math.asin(2 * q / (1 + 2 * q)), rel=1e-10, abs=1e-15)
    assert T.gaussian_expectation(lambda x: 4 / math.pi * np.exp(-2 * x * x), q) == pytest.approx(
        4 / math.pi / math.sqrt(1 + 4 * q), rel=1e-10)
    # Stein: E[x Phi(x)] = q E[pdf(x)] = q / sqrt(2 pi (1 + q)) for x ~ N(0, q), through ops.gelu
    assert T.gaussian_expectation(T.get_activation("gelu").phi, q) == pytest.approx(
        q / math.sqrt(2 * math.pi * (1 + q)), rel=1e-9)
    # E[sigmoid(x)] = 1/2 by symmetry
    assert T.gaussian_expectation(T.get_activation("sigmoid").phi, q) == pytest.approx(0.5, rel=1e-13)


def test_quadrature_q_zero_is_the_limit_from_above():
    assert _expect("relu", "dphi", 0.0) == 0.5          # not relu'(0)^2 = 0
    assert _expect("leaky_relu", "dphi", 0.0) == pytest.approx((1 + 1e-4) / 2, rel=1e-15)
    assert _expect("tanh", "dphi", 0.0) == 1.0
    assert _expect("sigmoid", "phi", 0.0) == 0.25
    assert _expect("gelu", "phi", 0.0) == 0.0


def test_naive_gauss_hermite_misses_relus_kink_but_ours_does_not():
    # the motivation for the split rule: an odd Gauss-Hermite rule puts a node on relu's kink
    z, w = np.polynomial.hermite_e.hermegauss(21)
    w = w / w.sum()
    naive = float(np.dot(w, ops.relu_backward(np.ones_like(z), z) ** 2))
    assert abs(naive - 0.5) > 0.05                     # 0.365: 27% off
    assert _expect("relu", "dphi", 1.0) == pytest.approx(0.5, abs=1e-14)


def test_quadrature_against_scipy_quad():
    integrate = pytest.importorskip("scipy.integrate")
    for name in ("tanh", "sigmoid", "gelu", "silu", "gelu_tanh"):
        act = T.get_activation(name)
        for q in (0.05, 1.0, 30.0, 1e4):
            for fn in (act.phi, act.dphi):
                def integrand(x, fn=fn, q=q):
                    return float(fn(np.array([x]))[0]) ** 2 * math.exp(-x * x / (2 * q)) / math.sqrt(2 * math.pi * q)
                s = math.sqrt(q)
                ref = sum(integrate.quad(integrand, a, b, epsabs=0, epsrel=1e-13, limit=200)[0]
                          for a, b in ((-12 * s, -1), (-1, 0), (0, 1), (1, 12 * s)))
                got = T.gaussian_expectation(lambda x, fn=fn: fn(x) ** 2, q)
                assert got == pytest.approx(ref, rel=1e-9), (name, q)


def test_tanh_derivative_large_q_asymptotics():
    # E[sech^4(sqrt(q) z)] -> (4/3) / sqrt(2 pi q) (1 + O(1/q)): the activation's own scale is resolved
    for q in (1e6, 1e10):
        assert _expect("tanh", "dphi", q) == pytest.approx(4 / 3 / math.sqrt(2 * math.pi * q), rel=1e-5)


# --------------------------------------------------------------------------- forward: fixed points

def test_fixed_point_is_a_fixed_point():
    for name, sw2, sb2 in (("sigmoid", 1.0, 0.0), ("tanh", 2.0, 0.0), ("tanh", 1.5, 0.05),
                           ("gelu", 1.0, 0.3), ("silu", 1.5, 0.1), ("relu", 1.0, 0.2)):
        q = T.fixed_point_q(name, sw2, sb2)
        assert 0 < q < math.inf
        assert T.variance_map(name, sw2, sb2, q) == pytest.approx(q, rel=1e-12)
        # the same point the layer iteration reaches
        traj = T.q_trajectory(name, sw2, sb2, 1.0, 400)
        assert traj.q[-1] == pytest.approx(q, rel=1e-8)
    assert T.fixed_point_q("sigmoid", 1.0, 0.0) == pytest.approx(SIGMOID_XAVIER_QSTAR, rel=1e-9)
    # relu with sigma_b2 > 0: q* = sigma_b2 / (1 - sigma_w2 / 2)
    assert T.fixed_point_q("relu", 1.0, 0.2) == pytest.approx(0.4, rel=1e-12)


def test_fixed_point_special_cases_documented():
    # relu, sigma_w2 = 2, sigma_b2 = 0: every q is a fixed point; q stays where it starts
    for q0 in (0.3, 1.0, 7.0):
        assert T.fixed_point_q("relu", 2.0, 0.0, q0) == q0
    assert T.fixed_point_q("relu", 2.5, 0.0) == math.inf         # geometric growth
    assert T.fixed_point_q("relu", 2.0, 0.1) == math.inf         # linear growth
    assert T.fixed_point_q("linear", 1.5, 0.0) == math.inf
    assert T.fixed_point_q("relu", 1.0, 0.0) == 0.0              # geometric decay
    assert T.fixed_point_q("tanh", 1.0, 0.0) < 1e-12             # algebraic decay q_l ~ 1/(2l)
    assert T.fixed_point_q("gelu", 2.0, 0.0) == 0.0
    assert T.fixed_point_q("silu", 2.0, 0.0) == 0.0
    # bounded activations never diverge
    assert T.fixed_point_q("tanh", 50.0, 1.0) < 51.0
    assert T.variance_map("tanh", 3.0, 0.5, math.inf) == pytest.approx(3.5)
    assert T.variance_map("relu", 3.0, 0.5, math.inf) == math.inf


# --------------------------------------------------------------------------- chi1

@pytest.mark.parametrize("sw2", [0.5, 1.0, 2.0, 3.0])
def test_relu_chi1_is_half_sigma_w2_for_every_q(sw2):
    for q in [None, 0.0, *QS, math.inf]:
        for sb2 in (0.0, 0.3):
            assert T.chi1("relu", sw2, sb2, q) == pytest.approx(sw2 / 2, rel=1e-12)


def test_sigmoid_xavier_chi1_pinned_and_cross_checked_with_scipy():
    c = T.chi1("sigmoid", 1.0, 0.0)
    assert c == pytest.approx(SIGMOID_XAVIER_CHI1, rel=1e-8)
    assert math.sqrt(c) == pytest.approx(0.236, abs=5e-4)     # gradient norm x0.24 per layer
    assert c < 0.25 ** 2 < 1                                   # below the naive bound sigma'(x) <= 1/4
    integrate = pytest.importorskip("scipy.integrate")
    optimize = pytest.importorskip("scipy.optimize")

    def expect(f, q):
        s = math.sqrt(q)
        return integrate.quad(lambda z: f(s * z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi),
                              -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13)[0]

    def sig(x):
        return 1 / (1 + math.exp(-x)) if x > -700 else 0.0

    qstar = optimize.brentq(lambda q: expect(lambda x: sig(x) ** 2, q) - q, 1e-3, 1.0, xtol=1e-15)
    ref = expect(lambda x: (sig(x) * (1 - sig(x))) ** 2, qstar)
    assert qstar == pytest.approx(SIGMOID_XAVIER_QSTAR, rel=1e-9)
    assert c == pytest.approx(ref, rel=1e-9)


def test_chi1_table_values():
    # chi1 at q* (from q0 = 1) under Xavier (sigma_w2 = 1) and He (sigma_w2 = 2), sigma_b2 = 0
    he = {n: T.chi1(n, 2.0, 0.0) for n in T.ACTIVATION_NAMES if n != "linear"}
    xa = {n: T.chi1(n, 1.0, 0.0) for n in T.ACTIVATION_NAMES}
    # quadrature: exact up to rounding (0.9999999999999999 with some NumPy/CPU builds)
    assert he["relu"] == pytest.approx(1.0, rel=1e-14) and xa["relu"] == pytest.approx(0.5, rel=1e-14)
    assert he["tanh"] == pytest.approx(1.1055288, rel=1e-6)
    assert xa["tanh"] == pytest.approx(1.0, abs=1e-10)       # q* -> 0 where tanh' = 1
    assert he["sigmoid"] == pytest.approx(0.1009771, rel=1e-6)
    for n in ("gelu", "gelu_tanh", "silu"):                   # q* = 0: chi1 = sigma_w2 phi'(0)^2
        assert he[n] == pytest.approx(0.5, rel=1e-12)
        assert xa[n] == pytest.approx(0.25, rel=1e-12)
    assert xa["linear"] == pytest.approx(1.0, rel=1e-12)


def test_gelu_silu_under_he_drift_to_zero_and_chi1_to_half():
    for name in ("gelu", "silu", "gelu_tanh"):
        traj = T.q_trajectory(name, 2.0, 0.0, 2.0, 40)
        assert np.all(np.diff(traj.q) < 0)                    # q shrinks at every layer
        assert traj.q[-1] < 1e-4 * traj.q[0]
        assert traj.chi1[0] > 0.8                             # near 1 at the start ...
        assert traj.chi1[-1] == pytest.approx(0.5, abs=2e-3)  # ... 0.5 deep down: He is not critical
        assert np.all(np.diff(traj.chi1) < 0)
    # relu under He stays put: q and chi1 constant along the layers
    traj = T.q_trajectory("relu", 2.0, 0.0, 2.0, 30)
    np.testing.assert_allclose(traj.q, 2.0, rtol=1e-12)
    np.testing.assert_allclose(traj.chi1, 1.0, rtol=1e-12)


def test_q_trajectory_per_layer_sigmas():
    sw2 = np.array([1.0, 2.0, 0.5, 3.0])
    traj = T.q_trajectory("relu", sw2, 0.1, 1.0, 4)
    q = [1.0]
    for l in range(1, 4):
        q.append(sw2[l] * q[-1] / 2 + 0.1)
    np.testing.assert_allclose(traj.q, q, rtol=1e-12)
    np.testing.assert_allclose(traj.chi1, [1.0, 0.25, 1.5, 1.5], rtol=1e-12)   # next layer's sigma_w2


# --------------------------------------------------------------------------- predicted gradient norms

def test_predicted_grad_norm_ratio_relu_and_sigmoid():
    p = T.predicted_grad_norm_ratio("relu", 1.0, 0.0, 11)           # Xavier: chi1 = 1/2
    assert p.ratio == pytest.approx(2.0 ** -5, rel=1e-12)
    assert p.per_layer == pytest.approx(math.sqrt(0.5), rel=1e-12)
    assert p.db_per_layer == pytest.approx(10 * math.log10(0.5), rel=1e-12)
    np.testing.assert_allclose(p.grad_sq, 0.5 ** np.arange(10, -1, -1), rtol=1e-12)
    # weight gradients dL/dW^l = delta^l x^{l-1}^T: ||x^{l-1}||^2 halves per layer forward while
    # ||delta^l||^2 halves per layer backward, so (q* = 0 here) every layer's weight gradient is alike
    np.testing.assert_allclose(p.weight_grad_sq, 1.0, rtol=1e-10)
    np.testing.assert_allclose(p.q, 0.5 ** np.arange(11), rtol=1e-10)
    he = T.predicted_grad_norm_ratio("relu", 2.0, 0.0, 50)
    assert he.ratio == 1.0 and he.db_per_layer == 0.0
    s = T.predicted_grad_norm_ratio("sigmoid", 1.0, 0.0, 200)      # no underflow deep down
    assert s.log10_per_layer == pytest.approx(0.5 * math.log10(SIGMOID_XAVIER_CHI1), rel=2e-3)
    assert s.ratio == pytest.approx(10 ** (199 * s.log10_per_layer), rel=1e-9)
    assert float(s) == s.ratio


# --------------------------------------------------------------------------- criticality

def test_tanh_critical_point():
    sw2 = T.critical_sigma_w2("tanh", 0.05)
    assert sw2 == pytest.approx(TANH_CRITICAL_005, rel=1e-8)
    assert sw2 == pytest.approx(1.76, abs=0.01)
    assert T.chi1("tanh", sw2, 0.05) == pytest.approx(1.0, abs=1e-9)
    # the independent parametrisation of the critical line by q* gives the same point
    eoc_w2, eoc_b2 = T.edge_of_chaos_point("tanh", T.fixed_point_q("tanh", sw2, 0.05))
    assert (eoc_w2, eoc_b2) == pytest.approx((sw2, 0.05), rel=1e-8)
    assert T.critical_sigma_w2("tanh", 0.0) == pytest.approx(1.0, abs=1e-6)


def test_tanh_critical_line_is_monotone_in_sigma_b2():
    sb2s = [0.0, 0.01, 0.05, 0.1, 0.3]
    crit = [T.critical_sigma_w2("tanh", sb2) for sb2 in sb2s]
    assert np.all(np.diff(crit) > 0)
    for q in (0.2, 1.0, 3.0):                                  # points of the curve from edge_of_chaos_point
        w2, b2 = T.edge_of_chaos_point("tanh", q)
        assert T.critical_sigma_w2("tanh", b2) == pytest.approx(w2, rel=1e-7)


def test_critical_relu_and_friends():
    for sb2 in (0.0, 0.1):
        assert T.critical_sigma_w2("relu", sb2) == pytest.approx(2.0, rel=1e-8)
        assert T.critical_sigma_w2("leaky_relu", sb2) == pytest.approx(2 / (1 + 1e-4), rel=1e-8)
        assert T.critical_sigma_w2("linear", sb2) == pytest.approx(1.0, rel=1e-8)


def test_critical_gelu_needs_bias_and_raises_without():
    # sigma_b2 = 0: q* jumps from 0 (chi1 = sigma_w2 / 4 < 1) to inf (chi1 = sigma_w2 / 2 > 1)
    with pytest.raises(ValueError, match="jumps"):
        T.critical_sigma_w2("gelu", 0.0)
    sw2 = T.critical_sigma_w2("gelu", 0.5)
    q = T.fixed_point_q("gelu", sw2, 0.5)
    assert math.isfinite(q) and T.chi1("gelu", sw2, 0.5, q) == pytest.approx(1.0, abs=1e-8)
    assert T.edge_of_chaos_point("gelu", q) == pytest.approx((sw2, 0.5), rel=1e-7)
    # between sigma_w2 = 2 and 4 (sigma_b2 = 0) GELU is bistable: where q ends depends on where it starts
    assert T.chi1("gelu", 2.2, 0.0, q0=0.5) == pytest.approx(2.2 / 4, rel=1e-12)     # q* = 0
    assert T.chi1("gelu", 2.2, 0.0, q0=5.0) == pytest.approx(2.2 / 2, rel=1e-12)     # q* = inf
    with pytest.raises(ValueError, match="keeps the sign"):
        T.critical_sigma_w2("sigmoid", 0.0, hi=50.0)            # sigmoid needs sigma_w2 ~ 103


# --------------------------------------------------------------------------- init mapping

def test_init_mapping():
    assert T.init_sigma_w2("xavier", "sigmoid") == 1.0
    assert T.init_sigma_w2("xavier_uniform", "tanh", fan_in=300, fan_out=100) == pytest.approx(1.5)
    assert T.init_sigma_w2("xavier", "tanh", gain=T.calculate_gain("tanh")) == pytest.approx(25 / 9)
    assert T.init_sigma_w2("he", "relu") == 2.0
    assert T.init_sigma_w2("kaiming_normal", "tanh", fan_in=64, fan_out=7) == 2.0
    assert T.init_sigma_w2("he", "leaky_relu") == pytest.approx(2 / 1.0001)
    assert T.init_sigma_w2("auto", "gelu") == 2.0 and T.init_sigma_w2("auto", "sigmoid") == 1.0
    assert T.init_sigma_w2("critical", "tanh", sigma_b2=0.05) == pytest.approx(TANH_CRITICAL_005, rel=1e-8)
    assert T.init_variances("critical", "relu") == pytest.approx((2.0, 0.0), rel=1e-8)


def test_gains_and_variances_match_torch():
    torch = pytest.importorskip("torch")
    for name in ("sigmoid", "tanh", "relu", "linear"):
        assert T.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name), rel=1e-12)
    assert T.calculate_gain("leaky_relu") == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.01), rel=1e-12)
    torch.manual_seed(0)
    fan_in, fan_out = 400, 200
    w = torch.empty(fan_out, fan_in, dtype=torch.float64)
    for init, fill in (("xavier_uniform", torch.nn.init.xavier_uniform_),
                       ("xavier_normal", torch.nn.init.xavier_normal_),
                       ("kaiming_uniform", lambda t: torch.nn.init.kaiming_uniform_(t, nonlinearity="relu")),
                       ("kaiming_normal", lambda t: torch.nn.init.kaiming_normal_(t, nonlinearity="relu"))):
        fill(w)
        measured = float(w.var()) * fan_in
        assert measured == pytest.approx(T.init_sigma_w2(init, "relu", fan_in=fan_in, fan_out=fan_out),
                                         rel=0.02), init


# --------------------------------------------------------------------------- against random networks

@pytest.fixture
def one_thread():
    """deepgrad's OpenMP threads and OpenBLAS's fight over the cores when interleaved (~20x slower)."""
    before = dg.get_num_threads()
    dg.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
    else:
        with threadpool_limits(1, user_api="blas"):
            yield
    dg.set_num_threads(before)


def random_net_grad_norms(name, sigma_w2, sigma_b2, width, depth, batch, seed):
    """||dL/dh^l|| (Frobenius over the batch) for l = 1..depth of a plain tanh/relu/... net in float64,
    loss gradient dL/dx^depth ~ N(0, 1) independent of the forward pass. Also returns q^l measured."""
    fwd, bwd, saves = ops.ACTIVATIONS[name]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width))
    saved, weights, q = [], [], []
    for _ in range(depth):
        w = rng.standard_normal((width, width)) * math.sqrt(sigma_w2 / width)
        b = rng.standard_normal(width) * math.sqrt(sigma_b2)
        h = x @ w.T + b
        x = fwd(h)
        saved.append(x if saves == "y" else h)
        weights.append(w)
        q.append(float(np.mean(h * h)))
    g = rng.standard_normal((batch, width))
    norms = np.empty(depth)
    for l in range(depth - 1, -1, -1):
        d = bwd(g, saved[l])
        norms[l] = np.linalg.norm(d)
        g = d @ weights[l]
    return norms, np.array(q)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("init", ["xavier", "he"])
def test_measured_per_layer_decay_matches_prediction(name, init, one_thread):
    depth, width, batch = 15, 512, 64
    sw2 = T.init_sigma_w2(init, name)
    logs, log_q = [], []
    for seed in range(3):
        norms, q = random_net_grad_norms(name, sw2, 0.0, width, depth, batch, seed)
        logs.append((math.log(norms[0]) - math.log(norms[-1])) / (depth - 1))
        log_q.append(np.log(q))
    measured = math.exp(np.mean(logs))
    pred = T.predicted_grad_norm_ratio(name, sw2, 0.0, depth)
    assert measured == pytest.approx(pred.per_layer, rel=0.10)
    # the forward half of the theory too: q along the layers. At width 512 log q^l of one network
    # random-walks (about 5% per layer for relu), so each layer gets 25%, the per-layer trend 10%.
    q = np.exp(np.mean(log_q, axis=0))
    np.testing.assert_allclose(q, pred.q, rtol=0.25)
    trend = (q[-1] / q[0]) ** (1 / (depth - 1))
    assert trend == pytest.approx((pred.q[-1] / pred.q[0]) ** (1 / (depth - 1)), rel=0.10)


def test_sigmoid_chi1_against_wide_random_network(one_thread):
    # width 1024: the per-layer ratio of squared gradient norms once q has settled (layers >= 4)
    norms, q = random_net_grad_norms("sigmoid", 1.0, 0.0, 1024, 10, 32, seed=7)
    measured = np.mean(norms[3:-1] ** 2 / norms[4:] ** 2)
    assert measured == pytest.approx(SIGMOID_XAVIER_CHI1, rel=0.10)
    assert q[-1] == pytest.approx(SIGMOID_XAVIER_QSTAR, rel=0.10)
