"""LayerNorm and BatchNorm cost: deepgrad vs PyTorch vs NumPy vs a copy of the same bytes.

    pytest benches/bench_norm.py --benchmark-enable --benchmark-only \
        --benchmark-group-by=group --benchmark-columns=min,median,rounds --benchmark-sort=name

Groups are "<layernorm|batchnorm> <fwd|bwd> (rows, cols) float32 t=<threads>"; every
contender of a group runs with the same thread count (deepgrad.set_num_threads and
torch.set_num_threads; NumPy's elementwise code is single-threaded).
The roof ("copy") is deepgrad.ops.copy of x into a buffer: reading and writing the
bytes a forward pass must touch (x in, y out) and nothing else. A backward pass
reads two arrays (x, grad_out) and writes one; its floor ("add", backward groups only)
is deepgrad.ops.residual_add(x, grad_out, out): exactly that traffic and one addition per
element. At (256, 1024) float32 the three arrays (3 MiB) outgrow a 2 MiB L2, the copy's two
(2 MiB) partly do not, so there the add costs well over 1.5 copies.
"""
import numpy as np
import pytest

import deepgrad
from deepgrad import ops

from _bench_utils import BENCH_THREADS, describe, torch

SHAPES = [(256, 1024), (4096, 1024)]
THREADS = [1, 2]
EPS = 1e-5
_arrays = {}


def arrays(shape):
    """x, grad_out, weight, bias and output buffers, made once per shape (float32)."""
    if shape not in _arrays:
        _arrays.clear()
        rng = np.random.default_rng(0)
        x = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32)
        w = (rng.standard_normal(shape[1]) * 0.1 + 1).astype(np.float32)
        b = (rng.standard_normal(shape[1]) * 0.1).astype(np.float32)
        _arrays[shape] = dict(x=x, g=g, w=w, b=b, out=np.empty_like(x), out2=np.empty_like(x))
    return _arrays[shape]


@pytest.fixture(params=THREADS, ids=lambda t: f"t{t}")
def nthreads(request):
    t = request.param
    deepgrad.set_num_threads(t)
    if torch is not None:
        torch.set_num_threads(t)
    yield t
    deepgrad.set_num_threads(BENCH_THREADS)
    if torch is not None:
        torch.set_num_threads(BENCH_THREADS)


# ------------------------------------------------------------------ LayerNorm

def np_layernorm_fwd(x, w, b, out):
    m = x.mean(1, keepdims=True)
    xc = x - m
    r = 1 / np.sqrt((xc * xc).mean(1, keepdims=True) + EPS)
    np.multiply(xc, r, out=out)
    out *= w
    out += b
    return out, m, r


def np_layernorm_bwd(g, x, w, m, r, out):
    xh = (x - m) * r
    gw = g * w
    n = x.shape[1]
    np.multiply(r, gw - gw.mean(1, keepdims=True) - xh * ((gw * xh).sum(1, keepdims=True) / n), out=out)
    return out, (g * xh).sum(0), g.sum(0)


def layernorm_contender(impl, shape, direction):
    a = arrays(shape)
    x, g, w, b, out = a["x"], a["g"], a["w"], a["b"], a["out"]
    if impl == "copy":
        return lambda: ops.copy(x, out=out)
    if impl == "deepgrad":
        _, m, r = ops.layer_norm(x, w, b, EPS, out=a["out2"], return_stats=True)
        gw, gb = np.zeros_like(w), np.zeros_like(b)
        if direction == "fwd":
            return lambda: ops.layer_norm(x, w, b, EPS, out=out)
        return lambda: ops.layer_norm_backward(g, x, m, r, w, grad_weight=gw, grad_bias=gb, out=out)
    if impl == "numpy":
        _, m, r = np_layernorm_fwd(x, w, b, a["out2"])
        if direction == "fwd":
            return lambda: np_layernorm_fwd(x, w, b, out)
        return lambda: np_layernorm_bwd(g, x, w, m, r, out)
    if torch is None:
        pytest.skip("torch not installed")
    tx, tg, tw, tb = (torch.from_numpy(v) for v in (x, g, w, b))
    _, tm, tr = torch.ops.aten.native_layer_norm(tx, [shape[1]], tw, tb, EPS)
    if direction == "fwd":
        return lambda: torch.ops.aten.native_layer_norm(tx, [shape[1]], tw, tb, EPS)
    return lambda: torch.ops.aten.native_layer_norm_backward(tg, tx, [shape[1]], tm, tr, tw, tb,
                                                             [True, True, True])



# ------------------------------------------------------------------ BatchNorm

def np_batchnorm_fwd(x, w, b, rm, rv, out, momentum=0.1):
    m = x.mean(0)
    xc = x - m
    v = (xc * xc).mean(0)
    r = 1 / np.sqrt(v + EPS)
    np.multiply(xc, r * w, out=out)
    out += b
    n = x.shape[0]
    rm *= 1 - momentum
    rm += momentum * m
    rv *= 1 - momentum
    rv += momentum * v * (n / (n - 1))
    return out, m, r


def np_batchnorm_bwd(g, x, w, m, r, out):
    xh = (x - m) * r
    sd, sdx = g.sum(0), (g * xh).sum(0)
    n = x.shape[0]
    np.multiply(w * r, g - sd / n - xh * (sdx / n), out=out)
    return out, sdx, sd


def batchnorm_contender(impl, shape, direction):
    a = arrays(shape)
    x, g, w, b, out = a["x"], a["g"], a["w"], a["b"], a["out"]
    rm, rv = np.zeros(shape[1], np.float32), np.ones(shape[1], np.float32)
    if impl == "copy":
        return lambda: ops.copy(x, out=out)
    if impl == "deepgrad":
        _, m, r = ops.batch_norm(x, w, b, rm, rv, True, out=a["out2"], return_stats=True)
        gw, gb = np.zeros_like(w), np.zeros_like(b)
        if direction == "fwd":
            return lambda: ops.batch_norm(x, w, b, rm, rv, True, 0.1, EPS, out=out)
        return lambda: ops.batch_norm_backward(g, x, m, r, w, True, grad_weight=gw, grad_bias=gb, out=out)
    if impl == "numpy":
        _, m, r = np_batchnorm_fwd(x, w, b, rm, rv, a["out2"])
        if direction == "fwd":
            return lambda: np_batchnorm_fwd(x, w, b, rm, rv, out)
        return lambda: np_batchnorm_bwd(g, x, w, m, r, out)
    if torch is None:
        pytest.skip("torch not installed")
    tx, tg, tw, tb, trm, trv = (torch.from_numpy(v) for v in (x, g, w, b, rm, rv))
    _, tm, tr = torch.ops.aten.native_batch_norm(tx, tw, tb, trm, trv, True, 0.1, EPS)
    if direction == "fwd":
        return lambda: torch.ops.aten.native_batch_norm(tx, tw, tb, trm, trv, True, 0.1, EPS)
    return lambda: torch.ops.aten.native_batch_norm_backward(tg, tx, tw, trm, trv, tm, tr, True, EPS,
                                                             [True, True, True])


CONTENDER_FACTORIES = {"layernorm": layernorm_contender, "batchnorm": batchnorm_contender}


@pytest.mark.parametrize("direction", ["fwd", "bwd"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["deepgrad", "torch", "numpy", "copy", "add"])
@pytest.mark.parametrize("norm", list(CONTENDER_FACTORIES))
def test_norm(benchmark, nthreads, norm, impl, shape, direction):
    if impl == "add":
        if direction == "fwd":
            pytest.skip("the add floor is a backward's traffic (two arrays in, one out)")
        a = arrays(shape)
        x, g, out = a["x"], a["g"], a["out"]
        fn = lambda: ops.residual_add(x, g, out=out)  # noqa: E731
    else:
        fn = CONTENDER_FACTORIES[norm](impl, shape, direction)
    benchmark.group = f"{norm} {direction} {shape} float32 t={nthreads}"
    describe(benchmark, impl=impl, shape=shape, direction=direction, bytes=arrays(shape)["x"].nbytes)
    benchmark.extra_info["threads"] = nthreads
    benchmark(fn)
