"""The GEMM optimization steps of docs/gemm.md, timed side by side in one run.

    PYTHONPATH=src python benches/gemm_steps.py                      # n = 256, 512, 1024, both dtypes
    PYTHONPATH=src python benches/gemm_steps.py --sizes 512 --dtypes float32 --repeat 5

Steps (C = A B, square n x n, row-major, 2 n^3 flops):
  1 naive        gemm_naive_*    three loops, one dot product per element of C (B read by column)
  2 blocked      gemm_blocked_*  loops tiled 64 x 128 x 256 and reordered (i, p, j): the inner
                                 loop streams a row of B and of C; no packing, no register tile
  3 packed       gemm_* with deepgrad.set_simd("portable"): BLIS loop nest, packed panels,
                                 a plain-C 4 x 8 micro-kernel compiled for baseline x86-64 (SSE2)
  4 micro-kernel gemm_* with set_simd("avx2") (6 x 16 f32 / 6 x 8 f64, FMA) and
                                 set_simd("avx512") (14 x 32 / 14 x 16)
  5 threads      gemm_* AVX-512 with deepgrad.set_num_threads(2)
and NumPy's matmul (its bundled OpenBLAS) with 1 and 2 threads through threadpoolctl.

Every step computes the same product; each result is checked against NumPy (float64) before it
is timed. Contenders are timed in interleaved rounds (round r times every contender once), and
the best round is reported, so a burst of load from another process hits all of them alike.
Steps 1-4 and "numpy 1t" run on one thread, "threads" and "numpy 2t" on two.

% of peak: peak = threads x GHz x 2 FMA pipes x lanes x 2 flops (lanes: 16 float32 / 8 float64
in a 512-bit register); --ghz defaults to the 4.2 GHz measured in docs/gemm.md ("Machine and peak").

This is a script, not a pytest module: pytest collects only test_*.py and bench_*.py.
"""
import argparse
import datetime
import os
import sys
import time

import numpy as np

import deepgrad as dg
from deepgrad import _core

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # NumPy then runs with whatever threads its BLAS chose
    threadpool_limits = None

LANES_512 = {"float32": 16, "float64": 8}


def _step_runner(kind):
    """A function c <- a @ b for one kind of step."""

    def run(c, a, b):
        if kind == "numpy":
            np.matmul(a, b, out=c)
        elif kind == "naive":
            _core.gemm(c, a, b, None, False, False, 1.0, 0.0, naive=True)
        elif kind == "blocked":
            _core.gemm(c, a, b, None, False, False, 1.0, 0.0, blocked=True)
        else:
            _core.gemm(c, a, b, None, False, False, 1.0, 0.0)

    return run


# (label, kind, simd path or None, threads)
STEPS = [
    ("1 naive", "naive", None, 1),
    ("2 blocked", "blocked", None, 1),
    ("3 packed (portable 4x8)", "packed", "portable", 1),
    ("4a micro-kernel AVX2", "packed", "avx2", 1),
    ("4b micro-kernel AVX-512", "packed", "avx512", 1),
    ("5 threads (AVX-512, 2t)", "packed", "avx512", 2),
    ("NumPy/OpenBLAS 1t", "numpy", None, 1),
    ("NumPy/OpenBLAS 2t", "numpy", None, 2),
]


class _Settings:
    """Apply a step's SIMD path and thread count (deepgrad and NumPy's BLAS) for one call."""

    def __init__(self, simd, threads):
        self.simd, self.threads = simd, threads
        self._limits = None

    def __enter__(self):
        dg.set_simd(self.simd)
        dg.set_num_threads(self.threads)
        if threadpool_limits is not None:
            self._limits = threadpool_limits(limits=self.threads, user_api="blas")
        return self

    def __exit__(self, *exc):
        if self._limits is not None:
            self._limits.restore_original_limits()
        dg.set_simd(None)
        dg.set_num_threads(None)


def measure(n, dtype, repeat, budget, steps):
    """{label: best seconds} for the steps at size n, interleaved rounds."""
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    bound = (n + 3) * np.finfo(dtype).eps * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))
    c = np.empty((n, n), dtype)
    runners = {}
    for label, kind, simd, threads in steps:
        if simd is not None and simd not in dg.simd_paths():
            continue
        run = _step_runner(kind)
        c.fill(np.nan)
        with _Settings(simd, threads):
            t0 = time.perf_counter()
            run(c, a, b)  # warm-up and correctness check
            first = time.perf_counter() - t0
        if not np.all(np.abs(c - ref) <= bound):
            raise SystemExit(f"{label}: wrong result at n={n} {dtype}")
        runners[label] = (run, simd, threads, [first])
    # Slow steps (the first call took more than budget / repeat) keep their warm-up time
    # and get fewer rounds: the naive loops at n = 1024 take seconds per call.
    for r in range(repeat):
        for label, (run, simd, threads, times) in runners.items():
            if sum(times) > budget and len(times) >= 2:
                continue
            with _Settings(simd, threads):
                t0 = time.perf_counter()
                run(c, a, b)
                times.append(time.perf_counter() - t0)
    return {label: (min(times), threads) for label, (run, simd, threads, times) in runners.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="256,512,1024", help="comma-separated n (default 256,512,1024)")
    p.add_argument("--dtypes", default="float32,float64", help="default float32,float64")
    p.add_argument("--repeat", type=int, default=7, help="interleaved rounds (default 7)")
    p.add_argument("--budget", type=float, default=6.0,
                   help="seconds per step and case after which no more rounds run (default 6)")
    p.add_argument("--ghz", type=float, default=4.2, help="clock for the peak (default 4.2)")
    args = p.parse_args(argv)

    feats = dg.cpu_features()
    print(f"# benches/gemm_steps.py  {datetime.date.today().isoformat()}  "
          f"{feats['cpu']} ({feats['cores']} cores, best SIMD {feats['simd_supported']})  "
          f"NumPy {np.__version__}  peak/core at {args.ghz} GHz: "
          + ", ".join(f"{d} {args.ghz * 2 * LANES_512[d] * 2:.0f} GFLOP/s" for d in ("float32", "float64")))
    if threadpool_limits is None:
        print("# threadpoolctl not installed: NumPy's BLAS thread count not controlled")
    print("# load average before the run (1/5/15 min): %.1f %.1f %.1f" % os.getloadavg())
    print("# best of interleaved rounds; GFLOP/s = 2 n^3 / time; % of the peak of the threads used")
    print()
    for dtype in args.dtypes.split(","):
        sizes = [int(s) for s in args.sizes.split(",")]
        results = {n: measure(n, np.dtype(dtype), args.repeat, args.budget, STEPS) for n in sizes}
        peak1 = args.ghz * 2 * LANES_512[dtype] * 2
        print(f"{dtype}: GFLOP/s (% of peak)")
        print()
        print("| step | " + " | ".join(f"n = {n}" for n in sizes) + " |")
        print("|---|" + "---:|" * len(sizes))
        for label, *_ in STEPS:
            cells = []
            for n in sizes:
                if label not in results[n]:
                    cells.append("n/a")
                    continue
                sec, threads = results[n][label]
                gf = 2 * n**3 / sec / 1e9
                cells.append(f"{gf:.1f} ({100 * gf / (peak1 * threads):.0f}%)")
            print(f"| {label} | " + " | ".join(cells) + " |")
        print()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
