"""Activation cost: deepgrad vs NumPy vs PyTorch vs a copy of the same bytes (the bandwidth roof).

    pytest benches/bench_activations.py --benchmark-enable --benchmark-only \
        --benchmark-group-by=group --benchmark-columns=min,median,rounds --benchmark-sort=name

Groups are "<activation> <fwd|bwd> <dtype> n=<n>"; within a group compare the medians.
Sizes: 4K and 64K elements stay in L1/L2, 16M (64 MiB of float32) goes to DRAM.
"""
import math

import numpy as np
import pytest

from deepgrad import ops

from _bench_utils import describe, torch

SIZES = [4096, 65536, 1 << 24]
DTYPES = ["float32", "float64"]
_arrays = {}


def arrays(n, dtype):
    """x, grad and an output buffer, made once per (n, dtype) and shared by all contenders."""
    key = (n, dtype)
    if key not in _arrays:
        _arrays.clear()  # keep at most one size in memory
        rng = np.random.default_rng(0)
        x = (rng.standard_normal(n) * 3).astype(dtype)
        _arrays[key] = (x, np.ones(n, dtype), np.empty(n, dtype))
    return _arrays[key]


def numpy_contenders():
    sig = lambda x, out: np.divide(1.0, np.add(1.0, np.exp(np.negative(x, out=out), out=out), out=out), out=out)
    return {
        "relu": (lambda x, out: np.maximum(x, 0, out=out),
                 lambda g, x, out: np.multiply(g, x > 0, out=out)),
        "leaky_relu": (lambda x, out: np.copyto(out, np.where(x > 0, x, 0.01 * x)),
                       lambda g, x, out: np.copyto(out, np.where(x > 0, g, 0.01 * g))),
        "sigmoid": (sig, lambda g, y, out: np.multiply(g, y * (1 - y), out=out)),
        "tanh": (lambda x, out: np.tanh(x, out=out), lambda g, y, out: np.multiply(g, 1 - y * y, out=out)),
        "silu": (lambda x, out: np.multiply(x, sig(x, out), out=out), None),
        "gelu_tanh": (lambda x, out: np.multiply(0.5 * x, 1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)),
                                                 out=out), None),
    }


def torch_contenders():
    F = torch.nn.functional
    return {
        "relu": (lambda x, out: torch.clamp_min(x, 0, out=out),
                 lambda g, x, out: torch.ops.aten.threshold_backward(g, x, 0)),
        "leaky_relu": (lambda x, out: F.leaky_relu(x, 0.01),
                       lambda g, x, out: torch.ops.aten.leaky_relu_backward(g, x, 0.01, False)),
        "sigmoid": (lambda x, out: torch.sigmoid(x, out=out), lambda g, y, out: torch.ops.aten.sigmoid_backward(g, y)),
        "tanh": (lambda x, out: torch.tanh(x, out=out), lambda g, y, out: torch.ops.aten.tanh_backward(g, y)),
        "gelu": (lambda x, out: F.gelu(x), lambda g, x, out: torch.ops.aten.gelu_backward(g, x)),
        "gelu_tanh": (lambda x, out: F.gelu(x, approximate="tanh"),
                      lambda g, x, out: torch.ops.aten.gelu_backward(g, x, approximate="tanh")),
        "silu": (lambda x, out: F.silu(x), lambda g, x, out: torch.ops.aten.silu_backward(g, x)),
    }


NAMES = ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu"]
CONTENDERS = ["deepgrad", "deepgrad-libm", "numpy", "torch"]  # libm: sigmoid fwd only


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("direction", ["fwd", "bwd"])
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("who", CONTENDERS)
def test_activation(benchmark, who, name, direction, dtype, n):
    x, g, out = arrays(n, dtype)
    benchmark.group = f"{name} {direction} {dtype} n={n}"
    describe(benchmark, n=n, bytes=x.nbytes * (2 if direction == "fwd" else 3))
    f, b, saves = ops.ACTIVATIONS[name]
    saved = f(x) if saves == "y" else x
    if who == "deepgrad-libm":
        if (name, direction) != ("sigmoid", "fwd"):
            pytest.skip("the libm variant exists for sigmoid forward only")
        benchmark(ops.sigmoid_libm, x, out=out)
    elif who == "deepgrad":
        if direction == "fwd":
            benchmark(f, x, out=out)
        else:
            benchmark(b, g, saved, out=out)
    elif who == "numpy":
        fn = numpy_contenders().get(name, (None, None))[0 if direction == "fwd" else 1]
        if fn is None:
            pytest.skip(f"NumPy has no {name} {direction}")
        benchmark(fn, x, out) if direction == "fwd" else benchmark(fn, g, saved, out)
    else:
        if torch is None:
            pytest.skip("PyTorch not installed")
        fn = torch_contenders()[name][0 if direction == "fwd" else 1]
        xt, gt, st, ot = (torch.from_numpy(a) for a in (x, g, saved, out))
        benchmark(fn, xt, ot) if direction == "fwd" else benchmark(fn, gt, st, ot)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("direction", ["fwd", "bwd"])
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("who", ["copy-deepgrad", "copy-numpy"])
def test_copy_roof(benchmark, who, name, direction, dtype, n):
    """The bandwidth roof of each group: copy the bytes the kernel reads and writes."""
    x, g, out = arrays(n, dtype)
    benchmark.group = f"{name} {direction} {dtype} n={n}"
    describe(benchmark, n=n, bytes=x.nbytes * 2)
    copy = ops.copy if who == "copy-deepgrad" else (lambda a, out: np.copyto(out, a))
    benchmark(copy, x, out=out) if who == "copy-deepgrad" else benchmark(copy, x, out)
