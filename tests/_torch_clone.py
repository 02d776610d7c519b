"""Test-only helper: the PyTorch twin of a deepgrad network, with the same weights.

    net = deepgrad.mlp(10, 32, 8, 3, activation="gelu", residual=True, norm="layernorm")
    twin = torch_clone(net)                   # torch.nn.Module, same dtype as the weights
    pairs = parameter_pairs(net, twin)        # [(deepgrad Parameter, torch Parameter), ...]

Walks the deepgrad layer tree: Sequential (and its subclasses PreNormBranch /
PostNormBlock) -> nn.Sequential, Dense -> nn.Linear, activations -> their torch
modules (GELU approximate as in the layer, torch's default 'none'), LayerNorm /
RMSNorm / BatchNorm -> nn.LayerNorm / nn.RMSNorm / nn.BatchNorm1d with the affine
parameters and running statistics copied, Residual(f) -> x + f(x). The twin's
parameters() come in the same order as the deepgrad model's (both follow torch's
order), which parameter_pairs checks shape by shape. Raises TypeError on a layer
it does not know (a new layer type needs a line here, not a silent skip).
"""
import numpy as np

import deepgrad
from deepgrad.layers.norm import BatchNorm, LayerNorm, RMSNorm
from deepgrad.layers.residual import Residual

torch = None


def _torch():
    global torch
    if torch is None:
        import torch as _t
        torch = _t
    return torch


def _tensor(a):
    return _torch().from_numpy(np.array(a, copy=True))


def _residual_module():
    nn = _torch().nn

    class ResidualT(nn.Module):
        """y = x + block(x)."""

        def __init__(self, block):
            super().__init__()
            self.block = block

        def forward(self, x):
            return x + self.block(x)

    return ResidualT


def _activation(layer):
    nn = _torch().nn
    name, kw = layer.name, layer.kwargs
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope=kw.get("negative_slope", 0.01))
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "gelu":
        return nn.GELU(approximate=kw.get("approximate", "none"))
    if name == "silu":
        return nn.SiLU()
    raise TypeError(f"torch_clone: no torch twin for activation {name!r}")


def torch_clone(layer):
    """The torch.nn.Module computing what `layer` computes, with copies of its parameters."""
    t = _torch()
    nn = t.nn
    if isinstance(layer, deepgrad.Sequential):          # includes PreNormBranch, PostNormBlock
        return nn.Sequential(*[torch_clone(child) for child in layer.layers])
    if isinstance(layer, Residual):
        return _residual_module()(torch_clone(layer.block))
    if isinstance(layer, deepgrad.Dense):
        w = layer.weight.data
        m = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None,
                      dtype=t.from_numpy(w).dtype)
        with t.no_grad():
            m.weight.copy_(_tensor(w))
            if layer.bias is not None:
                m.bias.copy_(_tensor(layer.bias.data))
        return m
    if isinstance(layer, deepgrad.layers.activation.Activation):
        return _activation(layer)
    if isinstance(layer, LayerNorm):
        dt = t.from_numpy(np.zeros(1, layer.dtype)).dtype
        m = nn.LayerNorm(layer.features, eps=layer.eps, elementwise_affine=layer.weight is not None,
                         bias=layer.bias is not None, dtype=dt)
        with t.no_grad():
            if layer.weight is not None:
                m.weight.copy_(_tensor(layer.weight.data))
            if layer.bias is not None:
                m.bias.copy_(_tensor(layer.bias.data))
        return m
    if isinstance(layer, RMSNorm):
        dt = t.from_numpy(np.zeros(1, layer.dtype)).dtype
        m = nn.RMSNorm(layer.features, eps=layer.eps, elementwise_affine=layer.weight is not None, dtype=dt)
        with t.no_grad():
            if layer.weight is not None:
                m.weight.copy_(_tensor(layer.weight.data))
        return m
    if isinstance(layer, BatchNorm):
        dt = t.from_numpy(np.zeros(1, layer.dtype)).dtype
        m = nn.BatchNorm1d(layer.features, eps=layer.eps, momentum=layer.momentum, affine=layer.affine,
                           track_running_stats=layer.track_running_stats, dtype=dt)
        with t.no_grad():
            if layer.affine:
                m.weight.copy_(_tensor(layer.weight.data))
                m.bias.copy_(_tensor(layer.bias.data))
            if layer.track_running_stats:
                m.running_mean.copy_(_tensor(layer.running_mean))
                m.running_var.copy_(_tensor(layer.running_var))
                m.num_batches_tracked.fill_(layer.num_batches_tracked)
        m.train(layer.training)
        return m
    raise TypeError(f"torch_clone: no torch twin for {type(layer).__name__}")


def parameter_pairs(model, twin):
    """[(deepgrad Parameter, torch Parameter), ...] in parameters() order, shapes checked."""
    ours, theirs = model.parameters(), list(twin.parameters())
    if len(ours) != len(theirs):
        raise AssertionError(f"parameter count differs: deepgrad {len(ours)}, torch {len(theirs)}")
    for i, (p, q) in enumerate(zip(ours, theirs)):
        if tuple(p.data.shape) != tuple(q.shape):
            raise AssertionError(f"parameter {i}: deepgrad shape {p.data.shape}, torch {tuple(q.shape)}")
    return list(zip(ours, theirs))
