"""Mean-field theory of signal and gradient propagation in deep random networks.

The predictions of Poole et al. (2016), "Exponential expressivity in deep neural
networks through transient chaos", and Schoenholz et al. (2017), "Deep information
propagation", for a plain network of L layers

    h^1 = W^1 x^0 + b^1,    x^l = phi(h^l),    h^{l+1} = W^{l+1} x^l + b^{l+1},

whose weights are drawn i.i.d. with mean 0 and variance sigma_w2 / fan_in and whose
biases have variance sigma_b2 (sigma_b2 = 0: biases initialised to zero).

Forward:  q^l, the mean square of the pre-activations h^l, follows the variance map

    q^{l+1} = V(q^l) = sigma_w2 * E[phi(sqrt(q^l) z)^2] + sigma_b2,   z ~ N(0, 1)
                                                             (variance_map, q_trajectory)

and settles at a fixed point q* = V(q*) (fixed_point_q).
Backward: the squared norm of the gradient shrinks or grows by

    chi1(q) = sigma_w2 * E[phi'(sqrt(q) z)^2]                         (chi1)

per layer, so ||dL/dh^1|| / ||dL/dh^L|| = prod_{l<L} sqrt(chi1(q^l))
(predicted_grad_norm_ratio). chi1(q*) = 1 is the edge of chaos (critical_sigma_w2).
The derivation is in docs/gradient-flow.md.

Activations by name: sigmoid, tanh, relu, leaky_relu (slope 0.01), gelu (exact erf),
gelu_tanh, silu, linear. phi and phi' come from deepgrad.ops in float64 (the library's
own kernels); "linear" uses plain NumPy.

Gaussian expectations (gaussian_expectation) use composite Gauss-Legendre quadrature on
panels that end at the kinks of the integrand (x = 0 for relu / leaky_relu), at the
activation's own length scale (x = 1/8 ... 64) and at the Gaussian's (z = 0.5 ... 10):
accurate to 1e-10 relative (measured <= 3e-11 against closed forms) for 1e-12 <= q <= 1e12,
where an odd Gauss-Hermite rule (a node on the kink of relu') is off by 10-30%.

For a sweep row (init scheme -> prediction beside the measurement):

    from deepgrad import theory
    sw2, sb2 = theory.init_variances("xavier", "sigmoid", fan_in=512, fan_out=512)
    pred = theory.predicted_grad_norm_ratio("sigmoid", sw2, sb2, depth=20)
    pred.per_layer, pred.db_per_layer   # 0.2346, -12.59 dB (q starts at 1, not at q*)
    pred.grad_sq                        # E||dL/dh^l||^2 relative to the last layer, l = 1..20

Pure Python + NumPy; no SciPy.
"""
import math
from dataclasses import dataclass, field

import numpy as np

from .ops import activation as _ops

__all__ = [
    "ACTIVATION_NAMES", "INIT_NAMES", "TheoryActivation", "Trajectory", "GradNormPrediction",
    "get_activation", "gaussian_expectation", "variance_map", "fixed_point_q", "chi1",
    "q_trajectory", "predicted_grad_norm_ratio", "critical_sigma_w2", "edge_of_chaos_point",
    "calculate_gain", "init_sigma_w2", "init_variances",
]


# --------------------------------------------------------------------------------------
# Activations: phi, phi' in float64, their kinks and their slopes at +-infinity
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TheoryActivation:
    """An activation as the theory sees it.

    phi, dphi: vectorized float64 functions (deepgrad.ops kernels, backward with grad_out = 1).
    kinks:     points x where phi' jumps (the quadrature splits there).
    slope_neg, slope_pos: lim phi'(x) for x -> -inf / +inf (chi1 at q = inf).
    phi_sq_bound: sup phi(x)^2, or inf for unbounded activations.
    gain:      torch.nn.init.calculate_gain for this activation (1 where torch has none).
    """
    name: str
    phi: object = field(repr=False)
    dphi: object = field(repr=False)
    kinks: tuple = ()
    slope_neg: float = 0.0
    slope_pos: float = 0.0
    phi_sq_bound: float = math.inf
    gain: float = 1.0
    kaiming_slope: float = 0.0


def _ones_like(x):
    return np.ones_like(x)


def _from_output(fwd, bwd):
    """phi' for kernels whose backward takes the forward output y (sigmoid, tanh)."""
    return lambda x: bwd(_ones_like(x), fwd(x))


def _from_input(bwd):
    return lambda x: bwd(_ones_like(x), x)


LEAKY_SLOPE = 0.01

_ACTIVATIONS = {
    "sigmoid": TheoryActivation(
        "sigmoid", _ops.sigmoid, _from_output(_ops.sigmoid, _ops.sigmoid_backward),
        phi_sq_bound=1.0, gain=1.0),
    "tanh": TheoryActivation(
        "tanh", _ops.tanh, _from_output(_ops.tanh, _ops.tanh_backward),
        phi_sq_bound=1.0, gain=5.0 / 3.0),
    "relu": TheoryActivation(
        "relu", _ops.relu, _from_input(_ops.relu_backward), kinks=(0.0,),
        slope_pos=1.0, gain=math.sqrt(2.0)),
    "leaky_relu": TheoryActivation(
        "leaky_relu", lambda x: _ops.leaky_relu(x, LEAKY_SLOPE),
        lambda x: _ops.leaky_relu_backward(_ones_like(x), x, LEAKY_SLOPE), kinks=(0.0,),
        slope_neg=LEAKY_SLOPE, slope_pos=1.0, gain=math.sqrt(2.0 / (1.0 + LEAKY_SLOPE ** 2)),
        kaiming_slope=LEAKY_SLOPE),
    "gelu": TheoryActivation(
        "gelu", _ops.gelu, _from_input(_ops.gelu_backward), slope_pos=1.0),
    "gelu_tanh": TheoryActivation(
        "gelu_tanh", lambda x: _ops.gelu(x, "tanh"),
        lambda x: _ops.gelu_backward(_ones_like(x), x, "tanh"), slope_pos=1.0),
    "silu": TheoryActivation(
        "silu", _ops.silu, _from_input(_ops.silu_backward), slope_pos=1.0),
    "linear": TheoryActivation(
        "linear", lambda x: np.array(x, dtype=np.float64, copy=True), _ones_like,
        slope_neg=1.0, slope_pos=1.0),
}

ACTIVATION_NAMES = tuple(_ACTIVATIONS)


def get_activation(activation):
    """The TheoryActivation for a name (or pass a TheoryActivation through)."""
    if isinstance(activation, TheoryActivation):
        return activation
    if not isinstance(activation, str):
        raise TypeError(f"theory: activation must be a name (str), got {type(activation).__name__}")
    try:
        return _ACTIVATIONS[activation]
    except KeyError:
        raise ValueError(f"theory: unknown activation {activation!r}; expected one of "
                         f"{list(ACTIVATION_NAMES)}") from None


def _check_nonneg(value, name, func, *, allow_inf=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{func}: {name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value) or value < 0 or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{func}: {name} must be {'>= 0' if allow_inf else 'finite and >= 0'}, "
                         f"got {value!r}")
    return value


# --------------------------------------------------------------------------------------
# Gaussian expectations by composite Gauss-Legendre quadrature
# --------------------------------------------------------------------------------------

#: panel ends in z (Gaussian scale) and in x = sqrt(q) z (activation scale)
_Z_BREAKS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0)
_X_BREAKS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
_Z_MAX = 10.0   # P(|z| > 10) = 1.5e-23
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GL_CACHE = {}


def _legendre(n):
    if n not in _GL_CACHE:
        _GL_CACHE[n] = np.polynomial.legendre.leggauss(n)
    return _GL_CACHE[n]


def _nodes(q, kinks, n):
    """Nodes z and weights w (pdf included) with sum w f(sqrt(q) z) ~= E[f(sqrt(q) z)]."""
    s = math.sqrt(q)
    ends = {0.0, _Z_MAX}
    ends.update(_Z_BREAKS)
    ends.update(b / s for b in _X_BREAKS if b / s < _Z_MAX)
    ends.update(abs(k) / s for k in kinks if abs(k) / s < _Z_MAX)
    half = np.array(sorted(ends))
    ends = np.concatenate([-half[:0:-1], half])          # symmetric, 0 included once
    a, b = ends[:-1], ends[1:]
    t, w = _legendre(n)
    mid, rad = (a + b) / 2, (b - a) / 2
    z = (mid[:, None] + rad[:, None] * t[None, :]).ravel()
    wz = (rad[:, None] * w[None, :]).ravel() * _INV_SQRT_2PI * np.exp(-0.5 * z * z)
    return z, wz


def gaussian_expectation(f, q, *, kinks=(0.0,), n=16):
    """E[f(sqrt(q) z)] for z ~ N(0, 1), f a vectorized function of a float64 array.

    kinks: points x where f is not smooth; the quadrature panels end there (x = 0 is
    always a panel end). Composite n-point Gauss-Legendre on [-10, 10] in z with panel
    ends at the kinks, at z = 0.5 ... 10 and at x = 1/8 ... 64: 1e-10 relative or better
    accuracy for the activations of this module and their derivatives, any q in [0, 1e12].
    q = 0 gives the limit q -> 0+: (f(0-) + f(0+)) / 2, which for relu' is 1/2 (not relu'(0)).
    """
    q = _check_nonneg(q, "q", "gaussian_expectation")
    if q == 0.0:
        tiny = np.finfo(np.float64).tiny
        return float(np.mean(f(np.array([-tiny, tiny]))))
    z, w = _nodes(q, kinks, n)
    return float(np.dot(w, f(math.sqrt(q) * z)))


# --------------------------------------------------------------------------------------
# Forward: the variance map and its fixed point
# --------------------------------------------------------------------------------------

def _mean_phi_sq(act, q):
    return gaussian_expectation(lambda x: act.phi(x) ** 2, q, kinks=act.kinks)


def _mean_dphi_sq(act, q):
    if math.isinf(q):    # phi'(sqrt(q) z) -> slope_pos for z > 0, slope_neg for z < 0
        return 0.5 * (act.slope_pos ** 2 + act.slope_neg ** 2)
    return gaussian_expectation(lambda x: act.dphi(x) ** 2, q, kinks=act.kinks)


def variance_map(activation, sigma_w2, sigma_b2, q):
    """V(q) = sigma_w2 * E[phi(sqrt(q) z)^2] + sigma_b2: the next layer's pre-activation mean square."""
    func = "variance_map"
    act = get_activation(activation)
    sw2 = _check_nonneg(sigma_w2, "sigma_w2", func)
    sb2 = _check_nonneg(sigma_b2, "sigma_b2", func)
    q = _check_nonneg(q, "q", func, allow_inf=True)
    if math.isinf(q):
        return math.inf if (sw2 > 0 and math.isinf(act.phi_sq_bound)) else sw2 * _limit_phi_sq(act) + sb2
    return sw2 * _mean_phi_sq(act, q) + sb2


def _limit_phi_sq(act):
    """lim_{q->inf} E[phi(sqrt(q) z)^2] for a bounded activation: (phi(-inf)^2 + phi(+inf)^2) / 2."""
    big = np.array([-1e300, 1e300])
    return float(np.mean(act.phi(big) ** 2))


_FIXED_RTOL = 1e-12      # |V(q0) - q0| <= this * q0 counts as "q0 is a fixed point"
_Q_MAX = 1e12            # V(q) > q all the way up to q0 * _Q_MAX: q* = inf (diverges)
_Q_MIN = 1e-20           # V(q) < q all the way down to q0 * _Q_MIN: q* = 0
_SCAN = 1.25             # geometric scan step for the bracket


def _bisect(g, a, b, ga, *, rtol=1e-14, maxiter=200, log=True):
    """Root of g in [a, b] with g(a) = ga and sign(g(b)) != sign(ga); bisection (in log space)."""
    for _ in range(maxiter):
        m = math.sqrt(a * b) if (log and a > 0) else 0.5 * (a + b)
        if abs(b - a) <= rtol * max(abs(a), abs(b)):
            return m
        gm = g(m)
        if gm == 0.0:
            return m
        if (gm > 0) == (ga > 0):
            a, ga = m, gm
        else:
            b = m
    return math.sqrt(a * b) if (log and a > 0) else 0.5 * (a + b)


def fixed_point_q(activation, sigma_w2, sigma_b2, q0=1.0):
    """q* = V(q*): the pre-activation mean square the layers settle at, starting from q^1 = q0.

    V is increasing in q for every activation here, so q^l moves monotonically from q0 to
    the nearest fixed point in the direction of V(q0) - q0; that one is returned (it is
    found by a geometric scan for a sign change of V(q) - q and bisection to ~1e-14).
    Special cases, all following from "where does q^l go":
      * V(q0) == q0 (to 1e-12 relative): q0 itself. ReLU with sigma_w2 = 2, sigma_b2 = 0
        maps every q to itself, so q stays at its initial value.
      * V(q) > q for all q >= q0 (up to q0 * 1e12): the variance diverges; returns inf.
        ReLU with sigma_w2 > 2 (geometric growth) or sigma_w2 = 2, sigma_b2 > 0 (linear growth).
      * V(q) < q for all q <= q0 (down to q0 * 1e-20) with sigma_b2 = 0: q^l -> 0; returns 0.0.
        ReLU with sigma_w2 < 2; tanh with sigma_w2 <= 1; GELU / SiLU with He init.
    """
    func = "fixed_point_q"
    act = get_activation(activation)
    sw2 = _check_nonneg(sigma_w2, "sigma_w2", func)
    sb2 = _check_nonneg(sigma_b2, "sigma_b2", func)
    q0 = _check_nonneg(q0, "q0", func)
    if q0 == 0.0:
        q0 = variance_map(act, sw2, sb2, 0.0)
        if q0 == 0.0:
            return 0.0

    def g(q):
        return sw2 * _mean_phi_sq(act, q) + sb2 - q

    g0 = g(q0)
    if abs(g0) <= _FIXED_RTOL * q0:
        return q0
    if g0 > 0:                       # q grows: first sign change above q0
        a, ga = q0, g0
        while True:
            b = a * _SCAN
            if b > q0 * _Q_MAX:
                return math.inf
            gb = g(b)
            if gb <= 0:
                return b if gb == 0 else _bisect(g, a, b, ga)
            a, ga = b, gb
    b, gb = q0, g0                   # q shrinks: first sign change below q0
    while True:
        a = b / _SCAN
        if a < q0 * _Q_MIN:
            # no sign change down to ~0: the limit is 0 when V(0) = 0, else q* is below the floor
            return 0.0 if variance_map(act, sw2, sb2, 0.0) == 0.0 else _bisect(g, 0.0, b, g(0.0), log=False)
        ga = g(a)
        if ga >= 0:
            return a if ga == 0 else _bisect(g, a, b, ga)
        b, gb = a, ga


# --------------------------------------------------------------------------------------
# Backward: chi1 and the layer-by-layer prediction
# --------------------------------------------------------------------------------------

def chi1(activation, sigma_w2, sigma_b2, q=None, *, q0=1.0):
    """chi1 = sigma_w2 * E[phi'(sqrt(q) z)^2]: the factor by which E||dL/dh||^2 shrinks per layer.

    q=None: at the fixed point q* = fixed_point_q(activation, sigma_w2, sigma_b2, q0).
    q = inf (the variance diverges): the limit sigma_w2 * (phi'(-inf)^2 + phi'(+inf)^2) / 2.
    q = 0: the limit q -> 0+, sigma_w2 * (phi'(0-)^2 + phi'(0+)^2) / 2.
    ReLU: exactly sigma_w2 / 2 for every q (so Xavier, sigma_w2 = 1, halves the gradient's
    squared norm per layer and He, sigma_w2 = 2, keeps it).
    """
    func = "chi1"
    act = get_activation(activation)
    sw2 = _check_nonneg(sigma_w2, "sigma_w2", func)
    sb2 = _check_nonneg(sigma_b2, "sigma_b2", func)
    if q is None:
        q = fixed_point_q(act, sw2, sb2, q0)
    q = _check_nonneg(q, "q", func, allow_inf=True)
    return sw2 * _mean_dphi_sq(act, q)


@dataclass(frozen=True)
class Trajectory:
    """q[l] and chi1[l] for layers l = 1..depth (index l - 1): the mean-field forward pass."""
    q: np.ndarray
    chi1: np.ndarray


def _per_layer(value, name, depth, func):
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(depth, float(arr))
    if arr.shape != (depth,):
        raise ValueError(f"{func}: {name} must be a number or have length depth={depth}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{func}: {name} must be finite and >= 0, got {arr}")
    return arr


def q_trajectory(activation, sigma_w2, sigma_b2, q0, depth):
    """Follow q along the actual layers: q[0] = q0 = q^1, q[l] = V(q[l-1]); chi1[l] = chi1(q[l]).

    q0 is the first layer's pre-activation mean square, sigma_w2 * E[x0^2] + sigma_b2 for
    inputs x0 (1 * sigma_w2 + sigma_b2 for standardized inputs). sigma_w2 / sigma_b2 may be
    numbers or per-layer sequences of length depth (layer l's weights give q[l] and chi1[l]:
    chi1[l] = sigma_w2[l + 1] * E[phi'(h^l)^2] is the factor between layers l + 1 and l, so
    chi1 uses the next layer's sigma_w2; the last entry uses the last layer's).
    Far from the fixed point chi1 differs from chi1(q*): for GELU and SiLU under He init
    (sigma_w2 = 2, sigma_b2 = 0) q[l] drifts to 0 and chi1[l] to 2 * phi'(0)^2 = 0.5.
    """
    func = "q_trajectory"
    act = get_activation(activation)
    if isinstance(depth, (bool, np.bool_)) or not isinstance(depth, (int, np.integer)):
        raise TypeError(f"{func}: depth must be an int, got {type(depth).__name__}")
    if depth < 1:
        raise ValueError(f"{func}: depth must be >= 1, got {depth}")
    depth = int(depth)
    sw2 = _per_layer(sigma_w2, "sigma_w2", depth, func)
    sb2 = _per_layer(sigma_b2, "sigma_b2", depth, func)
    q0 = _check_nonneg(q0, "q0", func)
    q = np.empty(depth)
    q[0] = q0
    for l in range(1, depth):
        q[l] = variance_map(act, sw2[l], sb2[l], q[l - 1]) if math.isfinite(q[l - 1]) else math.inf
    sw2_next = np.append(sw2[1:], sw2[-1])
    c = np.array([sw2_next[l] * _mean_dphi_sq(act, q[l]) for l in range(depth)])
    return Trajectory(q=q, chi1=c)


@dataclass(frozen=True)
class GradNormPrediction:
    """Predicted gradient norms of a depth-layer plain network (layers l = 1..depth, index l - 1).

    q, chi1:     the Trajectory.
    grad_sq:     E||dL/dh^l||^2 / E||dL/dh^depth||^2 = prod_{k=l}^{depth-1} chi1[k]
                 (also the ratio for dL/dx^{l-1}, the gradient a Dense layer passes down).
    weight_grad_sq: E||dL/dW^l||_F^2 relative to the last layer's: grad_sq * E[x^{l-1}^2]
                 with E[x^{l-1}^2] = (q^l - sigma_b2) / sigma_w2.
    ratio:       ||dL/dh^1|| / ||dL/dh^depth|| = sqrt(grad_sq[0]).
    per_layer:   ratio ** (1 / (depth - 1)): the geometric-mean norm factor per layer.
    db_per_layer, log10_per_layer: 20 log10(per_layer) and log10(per_layer).
    """
    q: np.ndarray
    chi1: np.ndarray
    grad_sq: np.ndarray
    weight_grad_sq: np.ndarray
    ratio: float
    per_layer: float
    db_per_layer: float
    log10_per_layer: float

    def __float__(self):
        return float(self.ratio)


def predicted_grad_norm_ratio(activation, sigma_w2, sigma_b2, depth, q0=None):
    """Mean-field gradient norms along a depth-layer network; .ratio = prod_{l<depth} sqrt(chi1(q^l)).

    q0: the first layer's pre-activation mean square (default sigma_w2 + sigma_b2, i.e.
    inputs with unit mean square). The gradient enters at the last layer and reaches layer
    1 after depth - 1 factors sqrt(chi1(q^l)), l = depth-1 .. 1. Assumes (as the theory
    does) wide layers and the gradient independent of the forward weights.
    """
    func = "predicted_grad_norm_ratio"
    act = get_activation(activation)
    if isinstance(depth, (bool, np.bool_)) or not isinstance(depth, (int, np.integer)):
        raise TypeError(f"{func}: depth must be an int, got {type(depth).__name__}")
    if depth < 2:
        raise ValueError(f"{func}: depth must be >= 2 (a ratio between two layers), got {depth}")
    sw2 = _per_layer(sigma_w2, "sigma_w2", depth, func)
    sb2 = _per_layer(sigma_b2, "sigma_b2", depth, func)
    if q0 is None:
        q0 = sw2[0] + sb2[0]
    traj = q_trajectory(act, sw2, sb2, q0, depth)
    c = traj.chi1
    grad_sq = np.ones(depth)
    for l in range(depth - 2, -1, -1):
        grad_sq[l] = grad_sq[l + 1] * c[l]
    with np.errstate(divide="ignore", invalid="ignore"):
        x_sq = (traj.q - sb2) / sw2
        wg = grad_sq * x_sq / x_sq[-1]
        log_sum = float(np.sum(np.log10(c[:-1])))      # no underflow for very deep nets
    log10_per = log_sum / (depth - 1)
    return GradNormPrediction(
        q=traj.q, chi1=c, grad_sq=grad_sq, weight_grad_sq=wg,
        ratio=10.0 ** (0.5 * log_sum), per_layer=10.0 ** (0.5 * log10_per),
        db_per_layer=10.0 * log10_per, log10_per_layer=0.5 * log10_per)


# --------------------------------------------------------------------------------------
# Criticality: the edge of chaos chi1(q*) = 1
# --------------------------------------------------------------------------------------

def critical_sigma_w2(activation, sigma_b2=0.0, *, q0=1.0, lo=1e-2, hi=1e4, rtol=1e-10):
    """sigma_w2 with chi1(q*(sigma_w2)) = 1 for the given sigma_b2: the edge of chaos.

    Scans sigma_w2 geometrically (steps of x1.25) from lo to hi for a sign change of
    h(sigma_w2) = chi1(activation, sigma_w2, sigma_b2, fixed_point_q(..., q0)) - 1, then
    bisects. tanh, sigma_b2 = 0.05: 1.76095; tanh, sigma_b2 = 0: 1; relu: 2 for every
    sigma_b2 (chi1 = sigma_w2 / 2 does not depend on q; with sigma_b2 > 0, q grows linearly
    there). Raises ValueError when h has no sign change in [lo, hi], or when it jumps
    across 1 instead of passing through it: then q* jumps (from 0 to inf, e.g. GELU / SiLU
    with sigma_b2 = 0, where q0 sits on an unstable fixed point) and no sigma_w2 has
    chi1(q*) = 1; edge_of_chaos_point() gives such activations' critical line in terms of q*.
    """
    func = "critical_sigma_w2"
    act = get_activation(activation)
    sb2 = _check_nonneg(sigma_b2, "sigma_b2", func)

    def h(sw2):
        return chi1(act, sw2, sb2, fixed_point_q(act, sw2, sb2, q0)) - 1.0

    a = lo
    ha = h(a)
    if ha == 0.0:
        return a
    while True:
        b = a * 1.25
        if b > hi:
            raise ValueError(f"{func}: chi1(q*) - 1 keeps the sign of {ha:+.3g} for sigma_w2 in "
                             f"[{lo}, {hi}] ({act.name}, sigma_b2={sb2}); no critical sigma_w2 there")
        hb = h(b)
        if hb == 0.0:
            return b
        if (hb > 0) != (ha > 0):
            break
        a, ha = b, hb
    root = _bisect(h, a, b, ha, rtol=rtol)
    lo_side, hi_side = h(root * (1 - 10 * rtol)), h(root * (1 + 10 * rtol))
    if abs(lo_side) > 1e-6 or abs(hi_side) > 1e-6:
        raise ValueError(f"{func}: chi1(q*) jumps from {lo_side + 1:.6g} to {hi_side + 1:.6g} at "
                         f"sigma_w2 = {root:.6g} ({act.name}, sigma_b2={sb2}, q0={q0}): q* jumps "
                         f"from {fixed_point_q(act, root * (1 - 10 * rtol), sb2, q0):.3g} to "
                         f"{fixed_point_q(act, root * (1 + 10 * rtol), sb2, q0):.3g}, so no sigma_w2 "
                         f"has chi1(q*) = 1; see edge_of_chaos_point()")
    return root


def edge_of_chaos_point(activation, q):
    """The point (sigma_w2, sigma_b2) of the critical line whose fixed point is q* = q.

    From chi1(q) = 1 and V(q) = q:  sigma_w2 = 1 / E[phi'(sqrt(q) z)^2],
    sigma_b2 = q - sigma_w2 * E[phi(sqrt(q) z)^2]  (Schoenholz et al. 2017, section 3).
    sigma_b2 < 0 means no network with this q* is critical. Independent of critical_sigma_w2,
    so the two cross-check each other. Whether the iteration actually reaches this q*
    (stability: dV/dq = 1 + sigma_w2 E[phi phi''] < 1) is not checked here.
    """
    act = get_activation(activation)
    q = _check_nonneg(q, "q", "edge_of_chaos_point")
    sw2 = 1.0 / _mean_dphi_sq(act, q)
    return sw2, q - sw2 * _mean_phi_sq(act, q)


# --------------------------------------------------------------------------------------
# Initialisation schemes -> (sigma_w2, sigma_b2)
# --------------------------------------------------------------------------------------

INIT_NAMES = ("xavier", "xavier_uniform", "xavier_normal", "glorot", "he", "kaiming",
              "kaiming_uniform", "kaiming_normal", "critical", "auto")
_RELU_FAMILY = ("relu", "leaky_relu", "gelu", "gelu_tanh", "silu")


def calculate_gain(activation):
    """torch.nn.init.calculate_gain: sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu(0.01)
    sqrt(2 / (1 + 0.01^2)), linear 1; torch has no gain for gelu / silu, 1 here as there
    (torch raises ValueError for them; deepgrad returns 1 and uses He for them under "auto")."""
    return get_activation(activation).gain


def init_sigma_w2(init, activation, *, fan_in=1, fan_out=None, gain=None, sigma_b2=0.0):
    """sigma_w2 such that the init draws weights with variance sigma_w2 / fan_in.

    "xavier" / "glorot" / "xavier_uniform" / "xavier_normal": Var W = gain^2 * 2 / (fan_in + fan_out)
        -> sigma_w2 = gain^2 * 2 fan_in / (fan_in + fan_out) (gain^2 for a square layer).
        gain defaults to 1, as torch.nn.init.xavier_*_ (which never picks a gain by itself):
        Xavier for sigmoid and tanh here means sigma_w2 = 1 (pass gain=calculate_gain("tanh")
        for torch's recommended tanh gain, sigma_w2 = 25/9).
    "he" / "kaiming" / "kaiming_*": fan_in mode, Var W = gain^2 / fan_in -> sigma_w2 = gain^2 with
        gain = sqrt(2 / (1 + a^2)), a = 0.01 for leaky_relu and 0 otherwise (torch's kaiming
        default nonlinearity 'leaky_relu' with a = 0, i.e. sqrt(2)): sigma_w2 = 2 (1.9998 for leaky_relu).
    "critical": critical_sigma_w2(activation, sigma_b2) (chi1(q*) = 1).
    "auto": He for relu / leaky_relu / gelu / gelu_tanh / silu, Xavier (gain 1) for
        sigmoid / tanh / linear (the project's Dense(init="auto")).
    fan_out defaults to fan_in (square layer). uniform and normal draws of one scheme have
    the same variance (uniform bound = sqrt(3 * variance)).
    """
    func = "init_sigma_w2"
    act = get_activation(activation)
    if not isinstance(init, str) or init not in INIT_NAMES:
        raise ValueError(f"{func}: init must be one of {list(INIT_NAMES)}, got {init!r}")
    for name, val in (("fan_in", fan_in), ("fan_out", fan_out)):
        if val is None and name == "fan_out":
            continue
        if isinstance(val, (bool, np.bool_)) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{func}: {name} must be a positive int, got {val!r}")
    fan_out = fan_in if fan_out is None else fan_out
    if init == "auto":
        init = "he" if act.name in _RELU_FAMILY else "xavier"
    if init.startswith(("xavier", "glorot")):
        g = 1.0 if gain is None else float(gain)
        return g * g * 2.0 * fan_in / (fan_in + fan_out)
    if init.startswith(("he", "kaiming")):
        if gain is None:
            return 2.0 / (1.0 + act.kaiming_slope ** 2)
        return float(gain) ** 2
    return critical_sigma_w2(act, sigma_b2)


def init_variances(init, activation, *, fan_in=1, fan_out=None, gain=None, sigma_b2=0.0):
    """(sigma_w2, sigma_b2) of an init scheme: what the theory functions take. Biases are
    zero (sigma_b2 = 0) unless the builder draws them with variance sigma_b2."""
    return (init_sigma_w2(init, activation, fan_in=fan_in, fan_out=fan_out, gain=gain,
                          sigma_b2=sigma_b2),
            _check_nonneg(sigma_b2, "sigma_b2", "init_variances"))
