"""One training step of a deep MLP: deepgrad vs PyTorch eager vs hand-written NumPy (OpenBLAS).

    PYTHONPATH=src python -m pytest benches/bench_train_step.py --benchmark-enable --benchmark-only \
        --benchmark-columns=min,median,rounds --benchmark-sort=name --benchmark-json=train_step.json
    python benches/bench_train_step.py table train_step.json   # ms/step, GFLOP/s and ratios
    PYTHONPATH=src python benches/bench_train_step.py profile     # where a deepgrad step's time goes
    PYTHONPATH=src python benches/bench_train_step.py interleaved # contenders round-robin, step by step

On a shared, loaded machine the pytest-benchmark groups run the contenders one after the
other, so a load change between them shows up as a ratio; `interleaved` times one step of
each contender in turn (60 rounds), so all of them see the same load.

The step (all contenders): zero the gradients, forward through 30 hidden layers
Dense(256 -> 256) + activation (ReLU or sigmoid) and the head Dense(256 -> 10), softmax
cross-entropy against integer labels (mean), backward, SGD(lr=1e-3, momentum=0.9) update of
every parameter. Batch 256, float32. Every contender runs with BENCH_THREADS threads
(default 1; benches/conftest.py sets deepgrad, torch and NumPy's BLAS).

FLOPs per step (extra_info["flops"]): the GEMMs a step needs, 2 B (30 W^2 + 10 W) each for
forward and dW, 2 B (29 W^2 + 10 W) for the input gradients of layers 2..31 (the data's
gradient is not needed; deepgrad's Sequential computes it anyway: +1.1% work not counted).
extra_info["gflops"] is that count over the fastest round, "gflops_median" over the median.

Peak of the development machine (AMD EPYC, CPU family 26 = Zen 5, full-width AVX-512): one
core ran 253 GFLOP/s float32 in a loop of 12 independent 512-bit FMA chains (2 FMA pipes x
16 lanes x 2 flops at ~3.95 GHz), 127 GFLOP/s with 256-bit FMAs. (The reference machine's
113 GFLOP/s is a 256-bit-datapath core.) PyTorch's step runs at ~25% of that peak here.
"""
import sys
import time

import numpy as np
import pytest

try:
    import deepgrad
    from _bench_utils import BENCH_THREADS, describe, torch
except ImportError:  # `table` needs neither deepgrad nor the bench helpers
    deepgrad = torch = None
    BENCH_THREADS = 1

DEPTH, WIDTH, BATCH, CLASSES = 30, 256, 256, 10
LR, MOMENTUM = 1e-3, 0.9
ACTIVATIONS = ["relu", "sigmoid"]
CONTENDERS = ["deepgrad", "torch", "numpy"]
FLOPS = 2 * BATCH * ((DEPTH * WIDTH ** 2 + CLASSES * WIDTH) * 2 + (DEPTH - 1) * WIDTH ** 2 + CLASSES * WIDTH)


def batch():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((BATCH, WIDTH)).astype(np.float32),
            rng.integers(0, CLASSES, BATCH).astype(np.int64))


# ------------------------------------------------------------------ the three steps

def deepgrad_step(activation):
    X, y = batch()
    model = deepgrad.mlp(DEPTH, WIDTH, WIDTH, CLASSES, activation=activation, rng=0)
    opt = deepgrad.SGD(model, lr=LR, momentum=MOMENTUM)
    loss = deepgrad.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss.forward(model.forward(X), y)
        model.backward(loss.backward())
        opt.step()
    step.model, step.opt, step.loss, step.data = model, opt, loss, (X, y)
    return step


def torch_step(activation):
    X, y = batch()
    nn = torch.nn
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[activation]
    model = nn.Sequential(*[nn.Sequential(nn.Linear(WIDTH, WIDTH), act()) for _ in range(DEPTH)],
                          nn.Linear(WIDTH, CLASSES))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(tX), ty).backward()
        opt.step()
    return step


class NumpyMLP:
    """The same network by hand: np.matmul (OpenBLAS sgemm) into preallocated buffers,
    activations and the SGD update as in-place ufuncs; no allocation after construction."""

    def __init__(self, activation):
        rng = np.random.default_rng(0)
        sizes = [WIDTH] * (DEPTH + 1) + [CLASSES]
        self.W = [(rng.standard_normal((o, i)) * np.sqrt(2.0 / i)).astype(np.float32)
                  for i, o in zip(sizes[:-1], sizes[1:])]
        self.b = [np.zeros(o, np.float32) for o in sizes[1:]]
        self.gW = [np.zeros_like(w) for w in self.W]
        self.gb = [np.zeros_like(b) for b in self.b]
        self.mW = [np.zeros_like(w) for w in self.W]
        self.mb = [np.zeros_like(b) for b in self.b]
        self.acts = [np.empty((BATCH, o), np.float32) for o in sizes[1:]]   # layer outputs
        self.g = [np.empty((BATCH, o), np.float32) for o in sizes[1:]]      # grads wrt pre-activations
        self.gx = np.empty((BATCH, WIDTH), np.float32)
        self.tmp = np.empty((BATCH, WIDTH), np.float32)
        self.tmp_w = [np.empty_like(w) for w in self.W]
        self.tmp_b = [np.empty_like(b) for b in self.b]
        self.rowmax = np.empty((BATCH, 1), np.float32)
        self.sigmoid = activation == "sigmoid"
        self.first_step = True

    def forward(self, X):
        h = X
        for l, (W, b, a) in enumerate(zip(self.W, self.b, self.acts)):
            np.matmul(h, W.T, out=a)
            a += b
            if l < DEPTH:
                if self.sigmoid:            # 1 / (1 + exp(-a))
                    np.negative(a, out=a)
                    np.exp(a, out=a)
                    a += 1
                    np.reciprocal(a, out=a)
                else:
                    np.maximum(a, 0, out=a)
            h = a
        return h

    def loss_grad(self, y):
        """Softmax cross-entropy (mean): the loss and its gradient into self.g[-1]."""
        z, g = self.acts[-1], self.g[-1]
        np.max(z, axis=1, keepdims=True, out=self.rowmax)
        np.subtract(z, self.rowmax, out=g)
        np.exp(g, out=g)
        s = g.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) - (z[np.arange(BATCH), y] - self.rowmax[:, 0])))
        g /= s
        g[np.arange(BATCH), y] -= 1
        g *= 1.0 / BATCH
        return loss

    def backward(self, X):
        for l in range(DEPTH, -1, -1):
            g = self.g[l]
            if l < DEPTH:                   # through the activation: g = dL/dy * act'(pre)
                y = self.acts[l]
                if self.sigmoid:            # y (1 - y)
                    np.subtract(1, y, out=self.tmp)
                    self.tmp *= y
                    np.multiply(self.gx, self.tmp, out=g)
                else:
                    np.greater(y, 0, out=self.tmp)  # relu: y > 0 (as 0./1.)
                    np.multiply(self.gx, self.tmp, out=g)
            h = X if l == 0 else self.acts[l - 1]
            np.matmul(g.T, h, out=self.tmp_w[l])
            self.gW[l] += self.tmp_w[l]
            np.add.reduce(g, axis=0, out=self.tmp_b[l])
            self.gb[l] += self.tmp_b[l]
            if l > 0:
                np.matmul(g, self.W[l], out=self.gx)

    def sgd(self):
        for p, grad, buf in zip(self.W + self.b, self.gW + self.gb, self.mW + self.mb):
            if self.first_step:
                buf[...] = grad
            else:
                buf *= MOMENTUM
                buf += grad
            p -= _scaled(buf, LR, p)
        self.first_step = False

    def zero_grad(self):
        for a in self.gW + self.gb:
            a.fill(0)


_scratch = {}


def _scaled(a, s, like):
    """s * a into a scratch array of a's shape (no allocation per step)."""
    out = _scratch.get(a.shape)
    if out is None:
        out = _scratch[a.shape] = np.empty_like(like)
    return np.multiply(a, s, out=out)


def numpy_step(activation):
    X, y = batch()
    net = NumpyMLP(activation)

    def step():
        net.zero_grad()
        net.forward(X)
        net.loss_grad(y)
        net.backward(X)
        net.sgd()
    return step


STEPS = {"deepgrad": deepgrad_step, "torch": torch_step, "numpy": numpy_step}


# ------------------------------------------------------------------ the benchmark

@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("contender", CONTENDERS)
def test_train_step(benchmark, contender, activation):
    if contender == "torch" and torch is None:
        pytest.skip("torch is not installed")
    step = STEPS[contender](activation)
    benchmark.group = f"train step depth={DEPTH} width={WIDTH} batch={BATCH} float32 {activation} t={BENCH_THREADS}"
    for _ in range(3):
        step()                      # warm-up: buffers, optimizer state, thread pools
    benchmark.pedantic(step, rounds=30, iterations=1, warmup_rounds=1)
    if benchmark.stats is None:  # --benchmark-disable (CI): the step ran once, as a test
        return
    stats = benchmark.stats.stats
    describe(benchmark, flops=FLOPS, ms_min=round(stats.min * 1e3, 2), ms_median=round(stats.median * 1e3, 2),
             gflops=round(FLOPS / stats.min / 1e9, 1), gflops_median=round(FLOPS / stats.median / 1e9, 1))


# ------------------------------------------------------------------ command line: table and profile

def _table(path):
    """ms/step, GFLOP/s and deepgrad's speed-up per activation from a --benchmark-json file."""
    import json
    with open(path) as f:
        data = json.load(f)
    rows = {}
    for b in data["benchmarks"]:
        rows.setdefault(b["params"]["activation"], {})[b["params"]["contender"]] = b
    print(f"{'activation':<10} {'contender':<9} {'ms min':>8} {'ms median':>10} {'GFLOP/s':>8}  "
          f"{'speed-up of deepgrad (min / median)':>36}")
    for act in ACTIVATIONS:
        r = rows.get(act, {})
        d = r.get("deepgrad")
        for name in CONTENDERS:
            b = r.get(name)
            if b is None:
                continue
            s = b["stats"]
            ratio = ""
            if d is not None and name != "deepgrad":
                ratio = f"{s['min'] / d['stats']['min']:.2f}x / {s['median'] / d['stats']['median']:.2f}x"
            print(f"{act:<10} {name:<9} {s['min'] * 1e3:8.2f} {s['median'] * 1e3:10.2f} "
                  f"{FLOPS / s['min'] / 1e9:8.1f}  {ratio:>36}")
    info = data["benchmarks"][0]["extra_info"] if data["benchmarks"] else {}
    print(f"\n{FLOPS / 1e9:.3f} GFLOP per step; threads={info.get('threads')}, simd={info.get('simd')}")


def _profile(activation="relu", steps=30):
    """Time each part of a deepgrad step: per-layer-kind forward/backward, loss, optimizer."""
    import cProfile
    import pstats
    from collections import defaultdict

    deepgrad.set_num_threads(BENCH_THREADS)
    step = deepgrad_step(activation)
    model, opt, loss = step.model, step.opt, step.loss
    X, y = step.data
    for _ in range(3):
        step()
    leaves = []

    def walk(layer):
        kids = layer.children()
        if not kids:
            leaves.append(layer)
        for k in kids:
            walk(k)
    walk(model)
    times = defaultdict(float)
    perf = time.perf_counter
    for _ in range(steps):
        t = perf()
        opt.zero_grad()
        times["zero_grad"] += perf() - t
        h = X
        for layer in leaves:
            t = perf()
            h = layer.forward(h)
            times[f"{type(layer).__name__} forward"] += perf() - t
        t = perf()
        loss.forward(h, y)
        g = loss.backward()
        times["loss fwd+bwd"] += perf() - t
        for layer in reversed(leaves):
            t = perf()
            g = layer.backward(g)
            times[f"{type(layer).__name__} backward"] += perf() - t
        t = perf()
        opt.step()
        times["SGD step"] += perf() - t
    total = sum(times.values())
    print(f"deepgrad {activation} step, {BENCH_THREADS} thread(s), {steps} steps: "
          f"{total / steps * 1e3:.2f} ms/step (leaf layers timed one by one)")
    for k, v in sorted(times.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<22} {v / steps * 1e3:7.2f} ms  {100 * v / total:5.1f}%")
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(steps):
        step()
    pr.disable()
    print("\ncProfile (whole steps), top functions by own time:")
    pstats.Stats(pr).sort_stats("tottime").print_stats(12)


def _interleaved(rounds=60):
    """One step of each contender in turn, `rounds` times; min and median ms, ratios."""
    deepgrad.set_num_threads(BENCH_THREADS)
    if torch is not None:
        torch.set_num_threads(BENCH_THREADS)
    try:
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(BENCH_THREADS)
    except ImportError:
        limit = None
    names = [c for c in CONTENDERS if c != "torch" or torch is not None]
    print(f"{'activation':<10} {'contender':<9} {'ms min':>8} {'ms median':>10} {'GFLOP/s':>8}  "
          f"{'speed-up of deepgrad (min / median)':>36}")
    for act in ACTIVATIONS:
        steps = {n: STEPS[n](act) for n in names}
        for f in steps.values():
            for _ in range(3):
                f()
        times = {n: [] for n in names}
        for _ in range(rounds):
            for n, f in steps.items():
                t = time.perf_counter()
                f()
                times[n].append(time.perf_counter() - t)
        d = times["deepgrad"]
        for n in names:
            t = times[n]
            ratio = "" if n == "deepgrad" else f"{min(t) / min(d):.2f}x / {np.median(t) / np.median(d):.2f}x"
            print(f"{act:<10} {n:<9} {min(t) * 1e3:8.2f} {np.median(t) * 1e3:10.2f} {FLOPS / min(t) / 1e9:8.1f}  "
                  f"{ratio:>36}")
    print(f"\n{FLOPS / 1e9:.3f} GFLOP per step; threads={BENCH_THREADS}, simd={deepgrad.get_simd()}, "
          f"{rounds} interleaved rounds")
    if limit is not None:
        limit.restore_original_limits()


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "table":
        _table(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] == "interleaved":
        _interleaved()
    elif len(sys.argv) >= 2 and sys.argv[1] == "profile":
        for act in (sys.argv[2:] or ACTIVATIONS):
            _profile(act)
    else:
        print(__doc__)
