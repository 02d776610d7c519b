"""deepgrad's GEMM vs NumPy (its bundled OpenBLAS) vs torch.mm, side by side in one run.

    PYTHONPATH=src python -m pytest benches/bench_gemm.py --benchmark-enable --benchmark-only \
        --benchmark-columns=min,median,rounds --benchmark-sort=name --benchmark-json=gemm.json
    python benches/bench_gemm.py gemm.json        # GFLOP/s table (best of the rounds) from the JSON

Each group holds the contenders of one case (dtype, shape, thread count); every contender
runs with the same thread count: threadpoolctl for NumPy's OpenBLAS, torch.set_num_threads
for PyTorch, deepgrad.set_num_threads for deepgrad. extra_info carries GFLOP/s (from the
fastest round and from the median) and the SIMD path.

Cases: square n = 64 ... 2048 (2 n^3 flops) and the dense layer of a batch of 256 going
1024 -> 1024, forward + backward (y = x W^T + b, dx = dy W, dW += dy^T x, db += sum dy:
3 GEMMs of 2 * 256 * 1024 * 1024 flops).
"""
import contextlib
import json
import sys

import numpy as np
import pytest

try:
    import deepgrad as dg
except ImportError:  # the table printer below needs no deepgrad
    dg = None

torch = None
try:
    import torch  # noqa: F811
except ImportError:
    pass

try:
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None

SIZES = [64, 128, 256, 512, 1024, 2048]
THREADS = [1, 2]
DTYPES = ["float32", "float64"]
CONTENDERS = ["deepgrad", "numpy", "torch"]
DENSE = (256, 1024, 1024)  # batch, in_features, out_features


@contextlib.contextmanager
def _threads(contender, n):
    """Run the contender with n threads (and restore the previous settings after)."""
    if contender == "numpy":
        if threadpool_limits is None:
            pytest.skip("threadpoolctl is needed to set NumPy's BLAS threads")
        with threadpool_limits(limits=n, user_api="blas"):
            yield
    else:
        get, set_ = (torch.get_num_threads, torch.set_num_threads) if contender == "torch" \
            else (dg.get_num_threads, dg.set_num_threads)
        old = get()
        set_(n)
        try:
            yield
        finally:
            set_(old)


def _record(benchmark, flops, threads):
    benchmark.extra_info["flops"] = flops
    benchmark.extra_info["threads"] = threads
    benchmark.extra_info["simd"] = dg.get_simd()
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None and stats.stats.min > 0:
        benchmark.extra_info["gflops"] = round(flops / stats.stats.min / 1e9, 2)
        benchmark.extra_info["gflops_median"] = round(flops / stats.stats.median / 1e9, 2)


def _need(contender):
    if contender == "torch" and torch is None:
        pytest.skip("torch is not installed")


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("contender", CONTENDERS)
def test_gemm_square(benchmark, contender, dtype, n, threads):
    _need(contender)
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty((n, n), dtype)
    benchmark.group = f"gemm {dtype} n={n:>4} threads={threads}"
    if contender == "deepgrad":
        def run():
            dg.ops.matmul(a, b, out=c)
    elif contender == "numpy":
        def run():
            np.matmul(a, b, out=c)
    else:
        ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)

        def run():
            torch.mm(ta, tb, out=tc)
    with _threads(contender, threads):
        run()  # warm up (allocations, thread pools)
        benchmark(run)
    _record(benchmark, 2.0 * n ** 3, threads)


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("contender", CONTENDERS)
def test_dense_forward_backward(benchmark, contender, dtype, threads):
    _need(contender)
    batch, n_in, n_out = DENSE
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, n_in)).astype(dtype)
    g = rng.standard_normal((batch, n_out)).astype(dtype)
    benchmark.group = f"dense fwd+bwd {dtype} {batch}x{n_in}->{n_out} threads={threads}"
    if contender == "deepgrad":
        layer = dg.Dense(n_in, n_out, dtype=dtype, rng=0)

        def run():
            layer.forward(x)
            layer.backward(g)
    elif contender == "numpy":
        W = rng.uniform(-0.03, 0.03, (n_out, n_in)).astype(dtype)
        b = np.zeros(n_out, dtype)
        gW, gb = np.zeros_like(W), np.zeros_like(b)

        def run():
            y = x @ W.T
            y += b
            g @ W
            gW[...] += g.T @ x
            gb[...] += g.sum(axis=0)
    else:
        lin = torch.nn.Linear(n_in, n_out, dtype=getattr(torch, dtype))
        xt = torch.from_numpy(x).requires_grad_(True)
        gt = torch.from_numpy(g)

        def run():
            xt.grad = None
            lin.zero_grad(set_to_none=True)
            lin(xt).backward(gt)
    with _threads(contender, threads):
        run()
        benchmark(run)
    _record(benchmark, 3 * 2.0 * batch * n_in * n_out, threads)


def _table(path):
    """Print GFLOP/s per case and contender from a --benchmark-json file."""
    with open(path) as f:
        data = json.load(f)
    rows = {}
    for bench in data["benchmarks"]:
        contender = bench["params"]["contender"]
        flops = bench["extra_info"]["flops"]
        rows.setdefault(bench["group"], {})[contender] = flops / bench["stats"]["min"] / 1e9
    print(f"{'case':<48} {'deepgrad':>9} {'numpy':>9} {'torch':>9}  dg/np  dg/torch")
    for group in sorted(rows, key=lambda g: (g.split()[0], g.split()[1] if "dense" in g else g)):
        r = rows[group]
        d, n, t = r.get("deepgrad"), r.get("numpy"), r.get("torch")
        cells = [f"{v:9.1f}" if v else f"{'-':>9}" for v in (d, n, t)]
        ratio_n = f"{d / n:5.2f}" if d and n else "    -"
        ratio_t = f"{d / t:8.2f}" if d and t else "       -"
        print(f"{group:<48} {' '.join(cells)}  {ratio_n}  {ratio_t}")
    info = data.get("machine_info", {})
    print(f"\nmachine: {info.get('cpu', {}).get('brand_raw', '?')}, {info.get('cpu', {}).get('count', '?')} cpus")


if __name__ == "__main__":
    _table(sys.argv[1])
