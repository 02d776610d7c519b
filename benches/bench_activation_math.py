"""ns/element of the exp-based activations (1 thread): deepgrad vs PyTorch vs NumPy, with
deepgrad's relu and copy as the floor. In cache (64K float32) and out of cache (16M float32).

    PYTHONPATH=src python -m pytest benches/bench_activation_math.py --benchmark-enable \
        --benchmark-only --benchmark-columns=min,median,rounds --benchmark-sort=name

Contenders of one group run in the same process, one after the other: compare ratios.
"""
import numpy as np
import pytest

import deepgrad
from deepgrad import ops

SIZES = [65536, 16 * 1024 * 1024]


def _torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


TORCH = _torch()


def contenders(name):
    """(label, factory(x, out) -> zero-arg callable) for one activation."""
    dg = {
        "sigmoid": lambda x, o: lambda: ops.sigmoid(x, out=o),
        "tanh": lambda x, o: lambda: ops.tanh(x, out=o),
        "gelu": lambda x, o: lambda: ops.gelu(x, out=o),
        "gelu_tanh": lambda x, o: lambda: ops.gelu(x, "tanh", out=o),
        "silu": lambda x, o: lambda: ops.silu(x, out=o),
        "relu": lambda x, o: lambda: ops.relu(x, out=o),
        "copy": lambda x, o: lambda: ops.copy(x, out=o),
    }
    out = [("deepgrad", dg[name])]
    if name == "tanh":
        out.append(("numpy", lambda x, o: lambda: np.tanh(x, out=o)))
    if name == "sigmoid":
        out.append(("deepgrad_libm", lambda x, o: lambda: ops.sigmoid_libm(x, out=o)))
    if TORCH is not None and name not in ("copy",):
        F = TORCH.nn.functional
        tf = {
            "sigmoid": lambda t, to: lambda: TORCH.sigmoid(t, out=to),
            "tanh": lambda t, to: lambda: TORCH.tanh(t, out=to),
            "gelu": lambda t, to: lambda: F.gelu(t),
            "gelu_tanh": lambda t, to: lambda: F.gelu(t, approximate="tanh"),
            "silu": lambda t, to: lambda: F.silu(t),
            "relu": lambda t, to: lambda: TORCH.relu(t),
        }[name]
        out.append(("torch", lambda x, o: tf(TORCH.from_numpy(x), TORCH.from_numpy(o))))
    return out


CASES = [(name, label, f) for name in ["sigmoid", "tanh", "gelu", "gelu_tanh", "silu", "relu", "copy"]
         for label, f in contenders(name)]


@pytest.fixture(autouse=True)
def one_thread():
    deepgrad.set_num_threads(1)
    yield
    deepgrad.set_num_threads(None)


@pytest.mark.parametrize("n", SIZES, ids=["64K", "16M"])
@pytest.mark.parametrize("name, impl, factory", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_activation_ns_per_element(benchmark, n, name, impl, factory):
    x = (np.random.default_rng(0).standard_normal(n) * 3).astype(np.float32)
    out = np.empty_like(x)
    benchmark.group = f"f32 n={n}"
    benchmark.extra_info.update(simd=deepgrad.get_simd(), n=n, impl=impl, activation=name)
    fn = factory(x, out)
    fn()
    benchmark(fn)


@pytest.mark.parametrize("n", SIZES, ids=["64K", "16M"])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("impl", ["deepgrad", "torch", "copy"])
def test_gelu_backward_ns_per_element(benchmark, n, approximate, impl):
    """GELU backward dinp = dout gelu'(x) (reads two arrays, writes one) against PyTorch's
    aten gelu_backward and deepgrad's copy of one array as the floor."""
    x = (np.random.default_rng(0).standard_normal(n) * 3).astype(np.float32)
    g, out = np.ones_like(x), np.empty_like(x)
    if impl == "torch":
        if TORCH is None:
            pytest.skip("torch not installed")
        t, tg, to = TORCH.from_numpy(x), TORCH.from_numpy(g), TORCH.from_numpy(out)
        fn = lambda: TORCH.ops.aten.gelu_backward.grad_input(tg, t, approximate=approximate, grad_input=to)
    elif impl == "copy":
        fn = lambda: ops.copy(x, out=out)
    else:
        fn = lambda: ops.gelu_backward(g, x, approximate, out=out)
    benchmark.group = f"gelu backward ({approximate}) f32 n={n}"
    benchmark.extra_info.update(simd=deepgrad.get_simd(), n=n, impl=impl)
    fn()
    benchmark(fn)
