"""Quick ns/element of the activations (1 thread) -- a development aid; the
pytest-benchmark suite is benches/bench_activation_math.py."""
import sys, time
import numpy as np
import deepgrad
from deepgrad import ops

def ns_per_elem(f, n, reps=None):
    best = float("inf")
    reps = reps or max(3, int(2e7 // n))
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            f()
        best = min(best, (time.perf_counter() - t) / reps)
    return best / n * 1e9

deepgrad.set_num_threads(1)
paths = sys.argv[1:] or [deepgrad.get_simd()]
for n in (65536,):
    for dt in (np.float32,):
        x = np.random.default_rng(0).standard_normal(n).astype(dt) * 4
        g = np.ones_like(x); out = np.empty_like(x)
        for p in paths:
            deepgrad.set_simd(p)
            row = []
            for name, f in [("copy", lambda: ops.copy(x, out=out)), ("relu", lambda: ops.relu(x, out=out)),
                            ("sigmoid", lambda: ops.sigmoid(x, out=out)), ("tanh", lambda: ops.tanh(x, out=out)),
                            ("gelu", lambda: ops.gelu(x, out=out)), ("gelu_tanh", lambda: ops.gelu(x, "tanh", out=out)),
                            ("silu", lambda: ops.silu(x, out=out)),
                            ("gelu_bw", lambda: ops.gelu_backward(g, x, out=out)),
                            ("gelu_tanh_bw", lambda: ops.gelu_backward(g, x, "tanh", out=out)),
                            ("silu_bw", lambda: ops.silu_backward(g, x, out=out))]:
                row.append(f"{name}={ns_per_elem(f, n):.3f}")
            print(p, dt.__name__, n, " ".join(row))
deepgrad.set_simd(None)
