"""Weight initialisation, as torch.nn.init, drawn from NumPy Generators.

    w = np.empty((out_features, in_features), np.float32)
    deepgrad.init.kaiming_normal_(w, nonlinearity="relu", rng=0)   # in place, returns w
    init = deepgrad.init.get_initializer("xavier_uniform", gain=1.0)
    init(w, rng)                                                     # the callable form layers use
    deepgrad.init.auto_initializer("tanh")                           # what init="auto" means

Conventions (the same as torch.nn.init for a Linear weight of shape (out, in)):
fan_in = in_features * receptive field, fan_out = out_features * receptive field,
where the receptive field is the product of the dimensions after the second.

Reproducibility: every random value is drawn in float64 from a NumPy Generator
(PCG64, platform independent) and then rounded once to the array's dtype, so the
same seed gives the same bits on any machine. `orthogonal_` additionally runs a
LAPACK QR (deterministic for a given NumPy/BLAS build). Values differ from torch's
(another generator); the distributions are the same.

`rng` is None (fresh OS entropy), an int seed, a numpy.random.SeedSequence or a
numpy.random.Generator (used as is, and advanced); `as_generator` normalises it and
is what every other deepgrad module uses.
"""
import inspect
import math
import numbers

import numpy as np

__all__ = [
    "Initializer", "as_generator", "auto_initializer", "calculate_gain", "constant_", "get_initializer",
    "kaiming_normal_", "kaiming_uniform_", "lecun_normal_", "normal_", "ones_", "orthogonal_",
    "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_",
]


def as_generator(rng, func="as_generator"):
    """None | int | SeedSequence | Generator -> numpy.random.Generator.

    An int seeds a new PCG64 generator (the same int always gives the same stream);
    a Generator is returned unchanged (drawing from it advances the caller's stream).
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, bool):
        raise TypeError(f"{func}: rng must be None, an int seed or a numpy.random.Generator, got bool")
    if isinstance(rng, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(rng, numbers.Integral) and rng < 0:
            raise ValueError(f"{func}: rng seed must be >= 0, got {rng}")
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.RandomState):
        raise TypeError(f"{func}: rng must be a numpy.random.Generator, not the legacy RandomState; "
                        f"use numpy.random.default_rng(seed)")
    raise TypeError(f"{func}: rng must be None, an int seed or a numpy.random.Generator, "
                    f"got {type(rng).__name__}")


# ---------------------------------------------------------------------------- gain and fans

def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity, as torch.nn.init.calculate_gain.

    linear, conv*, sigmoid: 1;  tanh: 5/3;  relu: sqrt(2);
    leaky_relu: sqrt(2 / (1 + negative_slope^2)) (param = negative_slope, default 0.01);
    selu: 3/4.  gelu and silu have no torch entry: use "relu" for them (auto_initializer does).
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float, np.integer, np.floating)):
            negative_slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
                     f"{linear_fns + ['sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu']}")


def _check_weight(weight, func):
    if not isinstance(weight, np.ndarray):
        raise TypeError(f"{func}: weight must be a numpy.ndarray of float32 or float64, "
                        f"got {type(weight).__name__}")
    if weight.dtype.kind != "f":
        raise TypeError(f"{func}: weight must have a floating dtype, got {weight.dtype}")
    if not weight.flags.writeable:
        raise ValueError(f"{func}: weight is read-only; pass a writeable array")


def _calculate_fan_in_and_fan_out(weight, func):
    if weight.ndim < 2:
        raise ValueError(f"{func}: fan in and fan out can not be computed for an array with fewer "
                         f"than 2 dimensions, got shape {weight.shape}")
    receptive = math.prod(weight.shape[2:])
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def _fan(weight, mode, func):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{func}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(weight, func)
    return fan_in if mode == "fan_in" else fan_out


def _fill(weight, values):
    """Round float64 draws once into weight's dtype (in place); return weight."""
    weight[...] = values
    return weight


# ---------------------------------------------------------------------------- the schemes

def uniform_(weight, a=0.0, b=1.0, rng=None):
    """U(a, b) in place."""
    _check_weight(weight, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    gen = as_generator(rng, "uniform_")
    return _fill(weight, gen.uniform(a, b, size=weight.shape))


def normal_(weight, mean=0.0, std=1.0, rng=None):
    """N(mean, std^2) in place."""
    _check_weight(weight, "normal_")
    if not std >= 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    gen = as_generator(rng, "normal_")
    return _fill(weight, gen.normal(mean, std, size=weight.shape))


def constant_(weight, val, rng=None):
    """Fill with val (rng accepted and ignored, so every scheme has one signature)."""
    _check_weight(weight, "constant_")
    weight.fill(val)
    return weight


def zeros_(weight, rng=None):
    return constant_(weight, 0.0)


def ones_(weight, rng=None):
    return constant_(weight, 1.0)


def xavier_uniform_(weight, gain=1.0, rng=None):
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))  (Glorot & Bengio 2010)."""
    _check_weight(weight, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(weight, "xavier_uniform_")
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(weight, -a, a, rng=rng)


def xavier_normal_(weight, gain=1.0, rng=None):
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    _check_weight(weight, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(weight, "xavier_normal_")
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(weight, 0.0, std, rng=rng)


def _kaiming_std(weight, a, mode, nonlinearity, func):
    fan = _fan(weight, mode, func)
    if fan == 0:
        raise ValueError(f"{func}: cannot initialise an array with a zero {mode} (shape {weight.shape})")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(weight, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """U(-bound, bound), bound = gain * sqrt(3 / fan)  (He et al. 2015).

    a: negative slope of the leaky ReLU after this layer (only used with "leaky_relu").
    torch's defaults (a=0, nonlinearity="leaky_relu") give gain sqrt(2), i.e. He for ReLU.
    """
    _check_weight(weight, "kaiming_uniform_")
    if weight.size == 0:
        return weight
    bound = math.sqrt(3.0) * _kaiming_std(weight, a, mode, nonlinearity, "kaiming_uniform_")
    return uniform_(weight, -bound, bound, rng=rng)


def kaiming_normal_(weight, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """N(0, std^2), std = gain / sqrt(fan)  (He et al. 2015)."""
    _check_weight(weight, "kaiming_normal_")
    if weight.size == 0:
        return weight
    std = _kaiming_std(weight, a, mode, nonlinearity, "kaiming_normal_")
    return normal_(weight, 0.0, std, rng=rng)


def lecun_normal_(weight, rng=None):
    """N(0, 1/fan_in) (LeCun et al. 1998): kaiming_normal_ with gain 1.

    torch.nn.init has no lecun_normal_; this is the untruncated form (JAX's
    lecun_normal truncates at 2 std and rescales, which keeps the same variance).
    """
    _check_weight(weight, "lecun_normal_")
    if weight.size == 0:
        return weight
    std = _kaiming_std(weight, 0.0, "fan_in", "linear", "lecun_normal_")
    return normal_(weight, 0.0, std, rng=rng)


def orthogonal_(weight, gain=1.0, rng=None):
    """A (semi-)orthogonal matrix times gain (Saxe et al. 2014), as torch.nn.init.orthogonal_.

    Viewed as rows x cols with rows = shape[0]: W W^T = gain^2 I when rows <= cols,
    W^T W = gain^2 I otherwise. QR of a standard normal matrix with the signs of R's
    diagonal folded into Q, so the result is uniform (Haar) over orthogonal matrices.
    """
    _check_weight(weight, "orthogonal_")
    if weight.ndim < 2:
        raise ValueError(f"orthogonal_: only arrays with 2 or more dimensions are supported, "
                         f"got shape {weight.shape}")
    if weight.size == 0:
        return weight
    gen = as_generator(rng, "orthogonal_")
    rows = weight.shape[0]
    cols = weight.size // rows
    flat = gen.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(weight, (q * gain).reshape(weight.shape))


# ---------------------------------------------------------------------------- by name

_SCHEMES = {
    "xavier_uniform": xavier_uniform_,
    "xavier_normal": xavier_normal_,
    "glorot_uniform": xavier_uniform_,
    "glorot_normal": xavier_normal_,
    "kaiming_uniform": kaiming_uniform_,
    "kaiming_normal": kaiming_normal_,
    "he_uniform": kaiming_uniform_,
    "he_normal": kaiming_normal_,
    "lecun_normal": lecun_normal_,
    "orthogonal": orthogonal_,
    "normal": normal_,
    "uniform": uniform_,
    "constant": constant_,
    "zeros": zeros_,
    "ones": ones_,
}

#: He aliases default to ReLU (torch's kaiming_* default to leaky_relu with a=0: the same gain).
_ALIAS_DEFAULTS = {"he_uniform": {"nonlinearity": "relu"}, "he_normal": {"nonlinearity": "relu"}}

INITIALIZERS = tuple(sorted(_SCHEMES))


class Initializer:
    """A named scheme with its keyword arguments bound: init(weight, rng=None) fills weight in place."""

    __slots__ = ("name", "kwargs", "_fn")

    def __init__(self, name, fn, kwargs):
        self.name = name
        self.kwargs = dict(kwargs)
        self._fn = fn

    def __call__(self, weight, rng=None):
        return self._fn(weight, rng=rng, **self.kwargs)

    def __eq__(self, other):
        return isinstance(other, Initializer) and (self._fn, self.kwargs) == (other._fn, other.kwargs)

    def __hash__(self):
        return hash((self._fn, tuple(sorted(self.kwargs.items()))))

    def __repr__(self):
        args = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"Initializer({self.name!r}{args})"


def get_initializer(name, **kwargs):
    """The scheme `name` with kwargs bound (gain, nonlinearity, mode, a, std, mean, val as torch).

    Names: xavier_uniform, xavier_normal (glorot_* aliases), kaiming_uniform, kaiming_normal
    (he_uniform / he_normal aliases, nonlinearity="relu" unless given), lecun_normal,
    orthogonal, normal, uniform, constant, zeros, ones. Unknown names and keywords raise
    at once, not at the first call.
    """
    if not isinstance(name, str):
        raise TypeError(f"get_initializer: name must be a str, got {type(name).__name__}")
    key = name.lower()
    if key not in _SCHEMES:
        raise ValueError(f"get_initializer: unknown initializer {name!r}; expected one of {list(INITIALIZERS)}")
    fn = _SCHEMES[key]
    bound = {**_ALIAS_DEFAULTS.get(key, {}), **kwargs}
    params = inspect.signature(fn).parameters
    for k in bound:
        if k not in params or k in ("weight", "rng"):
            allowed = [p for p in params if p not in ("weight", "rng")]
            raise TypeError(f"get_initializer: {name!r} takes no argument {k!r}; it takes {allowed}")
    if "nonlinearity" in bound:
        calculate_gain(bound["nonlinearity"], bound.get("a"))    # validate now
    if "mode" in bound and bound["mode"] not in ("fan_in", "fan_out"):
        raise ValueError(f"get_initializer: mode must be 'fan_in' or 'fan_out', got {bound['mode']!r}")
    return Initializer(key, fn, bound)


_RELU_FAMILY = ("relu", "leaky_relu", "gelu", "silu")
_SATURATING = ("sigmoid", "tanh", "linear", "identity")


def auto_initializer(activation, negative_slope=0.01):
    """What init="auto" means: He for the ReLU family, Xavier for sigmoid/tanh/linear.

    relu, gelu, silu -> kaiming_normal(nonlinearity="relu"): Var(w) = 2 / fan_in.
    leaky_relu       -> kaiming_normal(nonlinearity="leaky_relu", a=negative_slope):
                        Var(w) = 2 / ((1 + slope^2) fan_in).
    sigmoid, tanh, linear (or None) -> xavier_normal(gain=1): Var(w) = 2 / (fan_in + fan_out).

    Theory (mean-field / signal propagation): with weights of variance sigma_w^2 / fan_in,
    the second moment of the pre-activations, and of the backpropagated gradient, is
    multiplied per layer by sigma_w^2 * E[phi'(h)^2]-like factors. sigma_w^2 = 2 (He) makes
    that factor 1 for ReLU, which zeroes half its inputs; sigma_w^2 = 1 (Xavier on square
    layers, fan_in = fan_out) makes it 1 for activations with slope 1 at the origin
    (tanh, linear). Sigmoid's slope is at most 1/4, so no variance-preserving init saves
    a deep sigmoid stack: its gradient still shrinks by up to 4x per layer.

    `activation` may be a name or an activation layer (its negative_slope is used).
    """
    name = activation
    if activation is not None and not isinstance(activation, str):
        name = getattr(activation, "name", None)
        kwargs = getattr(activation, "kwargs", {}) or {}
        negative_slope = kwargs.get("negative_slope", negative_slope)
        if not isinstance(name, str):
            raise TypeError(f"auto_initializer: activation must be a name or an activation layer, "
                            f"got {type(activation).__name__}")
    if name is None or name in _SATURATING:
        return get_initializer("xavier_normal", gain=1.0)
    if name == "leaky_relu":
        return get_initializer("kaiming_normal", nonlinearity="leaky_relu", a=float(negative_slope))
    if name in _RELU_FAMILY:
        return get_initializer("kaiming_normal", nonlinearity="relu")
    raise ValueError(f"auto_initializer: unknown activation {name!r}; expected one of "
                     f"{list(_RELU_FAMILY + _SATURATING)} or None")
