"""Activation cost: deepgrad vs NumPy vs PyTorch vs a copy of the same bytes (the bandwidth roof).

    pytest benches/bench_activations.py --benchmark-enable --benchmark-only \
        --benchmark-group-by=group --benchmark-columns=min,median,rounds --benchmark-sort=name

Groups are "<activation> <fwd|bwd> <dtype> n=<n>"; within a group compare the medians.
Sizes: 4K and 64K elements stay in L1/L2, 16M (64 MiB of float32) goes to DRAM.
"""
import numpy as np
import pytest

from deepgrad import ops
from deepgrad.bench import numpy_contenders, torch_contenders  # one definition, shared with `deepgrad bench`

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
    copy = ops.copy if who == "copy-deepgrad" else numpy_contenders()["copy"][0]
    benchmark(copy, x, out=out) if who == "copy-deepgrad" else benchmark(copy, x, out)
