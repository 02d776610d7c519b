"""deepgrad.mlp: the networks the depth sweeps study.

Plain (residual=False), `depth` hidden layers, each one unit of the outer Sequential:
    Sequential(Dense(in -> width), [norm], act)  ...  Sequential(Dense(width -> width), [norm], act)
    then the head Dense(width -> out_features)
Residual (residual=True): a stem, `depth` residual blocks, the head:
    Dense(in -> width)
    block = x + f(x),         f = Dense(width -> width) -> act          (norm=None)
            x + f(norm(x))    pre-norm: the identity path stays clean
            norm(x + f(x))    post-norm: the norm sits on the identity path
    Dense(width -> out_features)

So `model.layers[i]` is "layer i" of the sweeps: a hidden layer (plain) or a block
(residual). The nesting mirrors torch.nn.Sequential, so parameters() come in the order
torch would list them for the same architecture.

init: "auto" (He for the ReLU family, Xavier for sigmoid/tanh: deepgrad.init.auto_initializer),
      "critical" (weights N(0, sigma_w2/fan_in) with the sigma_w2 of deepgrad.theory.critical_sigma_w2
      for `sigma_b2`, biases N(0, sigma_b2)), a name of deepgrad.init.get_initializer
      ("xavier_normal", "kaiming_uniform", ...), or None (PyTorch's nn.Linear default).
      With a named scheme biases start at 0 (or N(0, sigma_b2) when sigma_b2 > 0).
"""
import math

import numpy as np

from . import _validate as v
from . import init as _init
from .layers import ACTIVATION_LAYERS, Dense, Sequential
from .layers.norm import BatchNorm, LayerNorm, RMSNorm
from .layers.residual import Residual

NORMS = {"layernorm": LayerNorm, "batchnorm": BatchNorm, "rmsnorm": RMSNorm}
ACTIVATION_NAMES = tuple(ACTIVATION_LAYERS)


class PreNormBranch(Sequential):
    """f(norm(x)): the branch of a pre-norm residual block."""


class PostNormBlock(Sequential):
    """norm(x + f(x)): a residual block followed by a norm on the identity path."""


def _weight_init(init, activation, sigma_b2, func):
    """(initializer for weights or None, bias std or None meaning 'keep Dense default')."""
    if init is None:
        return None, None
    if init == "auto":
        return _init.auto_initializer(activation), math.sqrt(sigma_b2)
    if init == "critical":
        from . import theory
        sigma_w2 = theory.critical_sigma_w2(activation, sigma_b2)

        def critical(w, rng):
            w[...] = rng.standard_normal(w.shape) * math.sqrt(sigma_w2 / w.shape[1])
        critical.sigma_w2 = sigma_w2
        return critical, math.sqrt(sigma_b2)
    if callable(init):
        return init, math.sqrt(sigma_b2)
    if isinstance(init, str):
        return _init.get_initializer(init), math.sqrt(sigma_b2)
    raise TypeError(f"{func}: init must be 'auto', 'critical', a scheme name, a callable or None, got {init!r}")


def mlp(depth, width, in_features, out_features, activation="relu", residual=False, norm=None,
        norm_position="pre", init="auto", dtype=np.float32, rng=None, sigma_b2=0.0, bias=True):
    """Build a plain or residual MLP (see the module docstring for the architecture).

    Returns a Sequential; the same rng seed gives the same weights bit for bit.
    """
    func = "mlp"
    depth = v.positive_int(depth, "depth", func)
    width = v.positive_int(width, "width", func)
    in_features = v.positive_int(in_features, "in_features", func)
    out_features = v.positive_int(out_features, "out_features", func)
    dtype = v.check_dtype_arg(dtype, func)
    if activation not in ACTIVATION_LAYERS:
        raise ValueError(f"{func}: activation must be one of {list(ACTIVATION_LAYERS)}, got {activation!r}")
    if norm is not None and norm not in NORMS:
        raise ValueError(f"{func}: norm must be None or one of {list(NORMS)}, got {norm!r}")
    if norm_position not in ("pre", "post"):
        raise ValueError(f"{func}: norm_position must be 'pre' or 'post', got {norm_position!r}")
    sigma_b2 = v.finite_float(sigma_b2, "sigma_b2", func)
    if sigma_b2 < 0:
        raise ValueError(f"{func}: sigma_b2 must be >= 0, got {sigma_b2}")
    gen = _init.as_generator(rng)
    weight_init, bias_std = _weight_init(init, activation, sigma_b2, func)

    def dense(n_in, n_out):
        layer = Dense(n_in, n_out, bias=bias, init=weight_init, dtype=dtype, rng=gen)
        if layer.bias is not None and bias_std is not None:
            layer.bias.data[...] = gen.standard_normal(n_out) * bias_std if bias_std > 0 else 0
        return layer

    def act():
        return ACTIVATION_LAYERS[activation]()

    def normalization():
        return NORMS[norm](width, dtype=dtype)

    layers = []
    if not residual:
        n_in = in_features
        for _ in range(depth):
            unit = [dense(n_in, width)] + ([normalization()] if norm else []) + [act()]
            layers.append(Sequential(*unit))
            n_in = width
    else:
        layers.append(dense(in_features, width))  # the stem: into the residual stream's width
        for _ in range(depth):
            if norm is None:
                layers.append(Residual(Sequential(dense(width, width), act())))
            elif norm_position == "pre":
                layers.append(Residual(PreNormBranch(normalization(), dense(width, width), act())))
            else:
                layers.append(PostNormBlock(Residual(Sequential(dense(width, width), act())), normalization()))
    layers.append(dense(width, out_features))  # the head
    model = Sequential(*layers)
    model.config = dict(depth=depth, width=width, in_features=in_features, out_features=out_features,
                        activation=activation, residual=bool(residual), norm=norm,
                        norm_position=norm_position if (residual and norm) else None,
                        init=init if isinstance(init, str) or init is None else getattr(init, "__name__", "custom"),
                        dtype=np.dtype(dtype).name, sigma_b2=sigma_b2,
                        sigma_w2_critical=getattr(weight_init, "sigma_w2", None))
    return model


def hidden_layer_indices(model):
    """Indices in model.layers of the `depth` hidden layers / residual blocks (not stem or head)."""
    cfg = getattr(model, "config", None)
    if cfg is None:
        raise ValueError("hidden_layer_indices: model was not built by deepgrad.mlp")
    start = 1 if cfg["residual"] else 0
    return list(range(start, start + cfg["depth"]))
