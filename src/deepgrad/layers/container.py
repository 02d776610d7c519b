"""Sequential: layers applied in order; backward in reverse; optional per-layer recording.

    model = Sequential(Dense(64, 128), ReLU(), Dense(128, 10))
    logits = model.forward(x)
    grad_x = model.backward(grad_logits)
    model.parameters()     # weight0, bias0, weight2, bias2  (PyTorch's order)

Recording (off by default; a step then costs nothing extra):
    model.record(True)                 # or Sequential(..., record=True)
    model.forward(x); model.backward(g)
    for r in model.records(): print(r.index, r.layer, r.out_std, r.grad_in_norm, r.param_grad_norms)

Records hold plain floats computed when forward/backward run (the buffers they
describe are reused by the next call), so reading them later is always safe.
"""
from dataclasses import asdict, dataclass, field
import math

import numpy as np

from ._base import Layer


@dataclass
class LayerRecord:
    """What one layer of a recorded Sequential saw in the last forward and backward.

    out_*: statistics of the layer's output (float64 arithmetic). zero_fraction is the
    share of exact zeros (dead ReLU units). grad_out_norm: L2 norm of the gradient that
    reached the layer's output; grad_in_norm: of the gradient it passed to its input
    (the quantity that vanishes or explodes with depth). param_grad_norms: L2 norm of
    each parameter's .grad right after this layer's backward (accumulated grads included),
    keyed by Parameter.name (or "param<j>").
    """

    index: int
    layer: str
    out_shape: tuple = ()
    out_mean: float = math.nan
    out_std: float = math.nan
    out_abs_max: float = math.nan
    zero_fraction: float = math.nan
    grad_out_norm: float = math.nan
    grad_in_norm: float = math.nan
    param_grad_norms: dict = field(default_factory=dict)

    def to_dict(self):
        return asdict(self)


from .._util import l2_norm as _l2


def named_parameters(layer):
    """[(name, Parameter), ...] of any layer: its own named_parameters() if it has one,
    else Parameter.name (or "param<j>"), made unique with a ".<j>" suffix."""
    if callable(getattr(layer, "named_parameters", None)):
        return list(layer.named_parameters())
    named, used = [], set()
    for j, p in enumerate(layer.parameters()):
        name = getattr(p, "name", "") or f"param{j}"
        if name in used:
            name = f"{name}.{j}"
        used.add(name)
        named.append((name, p))
    return named


class Sequential(Layer):
    """A chain of layers following the layer protocol (forward, backward, parameters...).

    Indexing gives a layer (or a Sequential of a slice, sharing the layers); len(),
    iteration and append() work as on torch.nn.Sequential. parameters() lists each
    parameter once even when a layer appears twice (shared weights), as torch does.
    """

    def __init__(self, *layers, record=False):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            self._check_layer(layer, i)
        self.layers = list(layers)
        self.training = True
        self._recording = bool(record)
        self._records = None

    @staticmethod
    def _check_layer(layer, i):
        for attr in ("forward", "backward", "parameters"):
            if not callable(getattr(layer, attr, None)):
                raise TypeError(f"Sequential: layer {i} ({type(layer).__name__}) has no {attr}() method; "
                                f"layers must follow the protocol of deepgrad.layers.Layer")

    # -------------------------------------------------------------- container protocol
    def children(self):
        return tuple(self.layers)

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(*self.layers[idx])
        return self.layers[idx]

    def append(self, layer):
        self._check_layer(layer, len(self.layers))
        self.layers.append(layer)
        self._records = None
        return self

    def parameters(self):
        seen, params = set(), []
        for layer in self.layers:
            for p in layer.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        return params

    def named_parameters(self):
        """[(f"{layer index}.{parameter name}", Parameter), ...] in parameters() order."""
        seen, named = set(), []
        for i, layer in enumerate(self.layers):
            for name, p in named_parameters(layer):
                if id(p) not in seen:
                    seen.add(id(p))
                    named.append((f"{i}.{name}", p))
        return named

    # -------------------------------------------------------------- forward / backward
    def forward(self, x):
        if self._recording:
            return self._forward_recorded(x)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_out):
        if self._recording:
            return self._backward_recorded(grad_out)
        for layer in reversed(self.layers):
            grad_out = layer.backward(grad_out)
        return grad_out

    # -------------------------------------------------------------- recording
    def record(self, mode=True):
        """Turn per-layer recording on or off (returns self). Off: forward/backward do nothing extra."""
        self._recording = bool(mode)
        if not self._recording:
            self._records = None
        return self

    @property
    def recording(self):
        return self._recording

    def records(self):
        """The LayerRecord of each layer from the last recorded forward (and backward, if run)."""
        if not self._recording:
            raise RuntimeError("Sequential.records: recording is off; call model.record(True) "
                               "(or pass record=True) before forward/backward")
        if self._records is None:
            raise RuntimeError("Sequential.records: nothing recorded yet; run forward (and backward) first")
        return list(self._records)

    def _forward_recorded(self, x):
        records = []
        for i, layer in enumerate(self.layers):
            x = layer.forward(x)
            a = np.asarray(x)
            rec = LayerRecord(index=i, layer=type(layer).__name__, out_shape=tuple(a.shape))
            if a.size:
                a64 = a.astype(np.float64, copy=False)
                rec.out_mean = float(a64.mean())
                rec.out_std = float(a64.std())
                rec.out_abs_max = float(np.abs(a64).max())
                rec.zero_fraction = float(np.count_nonzero(a == 0) / a.size)
            records.append(rec)
        self._records = records
        return x

    def _backward_recorded(self, grad_out):
        records = self._records
        if records is None or len(records) != len(self.layers):
            raise RuntimeError("Sequential.backward: call forward before backward")
        for i in range(len(self.layers) - 1, -1, -1):
            layer, rec = self.layers[i], records[i]
            rec.grad_out_norm = _l2(grad_out)
            grad_out = layer.backward(grad_out)
            rec.grad_in_norm = _l2(grad_out)
            rec.param_grad_norms = {name: _l2(p.grad) for name, p in named_parameters(layer)}
        return grad_out

    def __repr__(self):
        if not self.layers:
            return "Sequential()"
        lines = [f"  ({i}): {layer!r}".replace("\n", "\n  ") for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "\n".join(lines) + "\n)"
