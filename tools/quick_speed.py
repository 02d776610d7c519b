"""Quick ns/element of the activations, 1 thread by default -- a development aid; the
pytest-benchmark suites are benches/bench_activation_math.py and benches/bench_activations.py.

    PYTHONPATH=src python tools/quick_speed.py [--n 65536 16777216] [--dtype float32 float64]
        [--paths avx512 avx2 portable] [--threads 1] [--bw] [--special]

Prints one row per (n, dtype, path): deepgrad's kernels plus copy (the bandwidth roof),
PyTorch (if importable) and NumPy contenders measured in the same process, best of 5 runs.
Inputs are N(0, 3^2), as in the benchmarks.

--special: instead, arrays of one special value each (subnormal, tiny, saturated; see
csrc/activation.inc, "special inputs"), every exp-based kernel with the special inputs taken
out ("adaptive", the default) and not ("never", the plain loops), ns/element.
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
    ap.add_argument("--special", action="store_true", help="special inputs, adaptive vs plain loops")
    a = ap.parse_args()
    if a.special:
        return special(a)
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


def special(a):
    from deepgrad import _core
    deepgrad.set_num_threads(a.threads)
    n = 16384
    kernels = [("sigmoid", lambda x, g, o: ops.sigmoid(x, out=o)), ("tanh", lambda x, g, o: ops.tanh(x, out=o)),
               ("gelu", lambda x, g, o: ops.gelu(x, out=o)), ("gelu_tanh", lambda x, g, o: ops.gelu(x, "tanh", out=o)),
               ("silu", lambda x, g, o: ops.silu(x, out=o)), ("gelu_bw", lambda x, g, o: ops.gelu_backward(g, x, out=o)),
               ("gelu_tanh_bw", lambda x, g, o: ops.gelu_backward(g, x, "tanh", out=o)),
               ("silu_bw", lambda x, g, o: ops.silu_backward(g, x, out=o))]
    for p in a.paths or [deepgrad.get_simd()]:
        deepgrad.set_simd(p)
        for dt in a.dtype:
            tiny = 1e-40 if dt == "float32" else 1e-310
            for v in (1.0, tiny, -tiny, 1e-20, 20.0, -20.0, 95.0, -200.0, 1e4):
                x = np.full(n, v, dt)
                g, o = np.ones_like(x), np.empty_like(x)
                cells = []
                for name, f in kernels:
                    t = {}
                    for mode in ("adaptive", "never"):
                        _core.set_special_mode(mode)
                        with np.errstate(all="ignore"):
                            t[mode] = ns_per_elem(lambda: f(x, g, o), n)
                    cells.append(f"{name}={t['adaptive']:.2f}/{t['never']:.2f}")
                _core.set_special_mode("adaptive")
                print(p, dt, f"x={v:g}", "adaptive/never ns:", " ".join(cells), flush=True)
    deepgrad.set_simd(None)


if __name__ == "__main__":
    main()
