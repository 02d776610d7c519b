"""Quick ns/element of the activations, 1 thread by default -- a development aid; the
pytest-benchmark suites are benches/bench_activation_math.py and benches/bench_activations.py.

    PYTHONPATH=src python tools/quick_speed.py [--n 65536 16777216] [--dtype float32 float64]
        [--paths avx512 avx2 portable] [--threads 1] [--bw]

Prints one row per (n, dtype, path): deepgrad's kernels plus copy (the bandwidth roof),
PyTorch (if importable) and NumPy contenders measured in the same process, best of 5 runs.
"""
import argparse
import time

import numpy as np

import deepgrad
from deepgrad import ops


def ns_per_elem(f, n):
    reps = max(3, int(2e7 // n))
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            f()
        best = min(best, (time.perf_counter() - t) / reps)
    return best / n * 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[65536])
    ap.add_argument("--dtype", nargs="+", default=["float32"])
    ap.add_argument("--paths", nargs="+", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bw", action="store_true", help="also the backward kernels")
    ap.add_argument("--no-ref", action="store_true", help="skip torch / numpy")
    a = ap.parse_args()
    torch = None
    if not a.no_ref:
        try:
            import torch
            torch.set_num_threads(a.threads)
        except ImportError:
            pass
    deepgrad.set_num_threads(a.threads)
    paths = a.paths or [deepgrad.get_simd()]
    for n in a.n:
        for dt in a.dtype:
            x = (np.random.default_rng(0).standard_normal(n) * 3).astype(dt)
            g = np.ones_like(x)
            out = np.empty_like(x)
            for p in paths:
                deepgrad.set_simd(p)
                cases = [("copy", lambda: ops.copy(x, out=out)), ("relu", lambda: ops.relu(x, out=out)),
                         ("sigmoid", lambda: ops.sigmoid(x, out=out)), ("tanh", lambda: ops.tanh(x, out=out)),
                         ("gelu", lambda: ops.gelu(x, out=out)),
                         ("gelu_tanh", lambda: ops.gelu(x, "tanh", out=out)),
                         ("silu", lambda: ops.silu(x, out=out))]
                if a.bw:
                    cases += [("gelu_bw", lambda: ops.gelu_backward(g, x, out=out)),
                              ("gelu_tanh_bw", lambda: ops.gelu_backward(g, x, "tanh", out=out)),
                              ("silu_bw", lambda: ops.silu_backward(g, x, out=out))]
                row = [f"{name}={ns_per_elem(f, n):.3f}" for name, f in cases]
                print(p, dt, n, " ".join(row), flush=True)
            if not a.no_ref:
                refs = [("np_tanh", lambda: np.tanh(x, out=out)),
                        ("np_sigmoid", lambda: np.divide(1, np.add(1, np.exp(np.negative(x, out=out), out=out),
                                                                   out=out), out=out))]
                if torch is not None:
                    t, to = torch.from_numpy(x), torch.from_numpy(out)
                    F = torch.nn.functional
                    refs += [("t_relu", lambda: torch.clamp_min(t, 0, out=to)),
                             ("t_sigmoid", lambda: torch.sigmoid(t, out=to)),
                             ("t_tanh", lambda: torch.tanh(t, out=to)),
                             ("t_gelu", lambda: F.gelu(t)), ("t_gelu_tanh", lambda: F.gelu(t, approximate="tanh")),
                             ("t_silu", lambda: F.silu(t))]
                with np.errstate(all="ignore"):
                    row = [f"{name}={ns_per_elem(f, n):.3f}" for name, f in refs]
                print("ref", dt, n, " ".join(row), flush=True)
    deepgrad.set_simd(None)


if __name__ == "__main__":
    main()
