"""Kernels called from several Python threads at once.

Every binding releases the GIL around its C call (`with nogil:`), so Python threads
run kernels truly in parallel. Checked here:
  * concurrent calls on separate arrays give exactly the serial results (every family);
  * set_num_threads / set_simd called from other threads between and during calls is
    safe (no crash, results still right: each kernel reads the settings once per call);
  * nested use: a ThreadPoolExecutor of P workers each running OpenMP kernels with T
    threads would run P*T threads; deepgrad does not limit that itself -- the README
    ("Threads") says to call set_num_threads(1) (or threadpoolctl) when the caller
    already parallelizes. The test checks the 1-thread setting gives the same results.
  * real concurrency: two threads on big arrays finish faster than serial; the speedup
    is printed (run with -s), never asserted (shared, noisy machines).
"""
from concurrent.futures import ThreadPoolExecutor
import threading
import time

import numpy as np
import pytest

import deepgrad
from deepgrad import ops


@pytest.fixture(autouse=True)
def restore_settings():
    before = deepgrad.get_num_threads()
    yield
    deepgrad.set_num_threads(before)
    deepgrad.set_simd(None)


def _workload(seed, dtype=np.float32, rows=96, cols=130):
    """One task touching every kernel family; returns all its results (copied)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)).astype(dtype)
    w = rng.standard_normal(cols).astype(dtype)
    W = rng.standard_normal((40, cols)).astype(dtype)
    t = rng.integers(0, cols, rows)
    out = []
    for name, (f, b, saves) in sorted(ops.ACTIVATIONS.items()):
        y = f(x)
        out += [y, b(x, y if saves == "y" else x)]
    out.append(ops.residual_add(x, out[0]))
    out.append(ops.matmul(x, W, trans_b=True))
    out.append(ops.dense_forward(x, W, W[:, 0].copy()))
    out += [a for a in ops.dense_backward(out[-1], x, W) if a is not None]
    y, m, r = ops.layer_norm(x, w, w, return_stats=True)
    out += [y, *ops.layer_norm_backward(x, x, m, r, w)]
    y, r = ops.rms_norm(x, w, return_stats=True)
    out += [y, *ops.rms_norm_backward(x, x, r, w)]
    y, m, r = ops.batch_norm(x, w, w, return_stats=True)
    out += [y, *ops.batch_norm_backward(x, x, m, r, w)]
    out += [np.array(ops.mse_loss(x, y)), ops.mse_loss_backward(x, y), np.array(ops.cross_entropy(x, t)),
            ops.cross_entropy_backward(x, t)]
    return [np.array(a, copy=True) for a in out]


def _same(a, b):
    assert len(a) == len(b)
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("kernel_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_concurrent_calls_equal_serial(dtype, kernel_threads):
    deepgrad.set_num_threads(kernel_threads)
    seeds = list(range(12))
    serial = [_workload(s, dtype) for s in seeds]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda s: _workload(s, dtype), seeds))
    for a, b in zip(serial, concurrent):
        _same(a, b)


def test_concurrent_big_calls_equal_serial():
    """Big enough that every kernel opens its OpenMP region inside each Python thread."""
    deepgrad.set_num_threads(2)
    seeds = [100, 101, 102]
    serial = [_workload(s, np.float32, rows=600, cols=700) for s in seeds]
    with ThreadPoolExecutor(max_workers=3) as pool:
        concurrent = list(pool.map(lambda s: _workload(s, np.float32, rows=600, cols=700), seeds))
    for a, b in zip(serial, concurrent):
        _same(a, b)


def test_settings_changed_from_other_threads_while_kernels_run():
    """set_num_threads and set_simd hammered from one thread while others run kernels:
    no crash, and results equal the serial ones (the results of these kernels do not
    depend on the thread count; the SIMD paths agree within the per-path tolerance)."""
    want = {s: _workload(s, np.float64, rows=300, cols=300) for s in range(4)}
    stop = threading.Event()
    paths = deepgrad.simd_paths()

    def meddle():
        i = 0
        while not stop.is_set():
            deepgrad.set_num_threads(1 + i % 3)
            deepgrad.set_simd(paths[i % len(paths)])
            i += 1
        return i

    with ThreadPoolExecutor(max_workers=3) as pool:
        meddler = pool.submit(meddle)
        try:
            got = list(pool.map(lambda s: (s, _workload(s, np.float64, rows=300, cols=300)), list(want) * 2))
        finally:
            stop.set()
        assert meddler.result() > 0
    for s, res in got:
        for p, q in zip(res, want[s]):
            np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-12)


def test_nested_pool_with_one_kernel_thread_matches():
    """The documented recipe for nesting: the outer pool parallelizes, kernels use one thread."""
    seeds = list(range(6))
    deepgrad.set_num_threads(2)
    want = [_workload(s, rows=400, cols=400) for s in seeds]
    deepgrad.set_num_threads(1)
    with ThreadPoolExecutor(max_workers=2) as pool:
        got = list(pool.map(lambda s: _workload(s, rows=400, cols=400), seeds))
    for a, b in zip(want, got):
        _same(a, b)


def test_two_python_threads_run_concurrently():
    """Reported, not asserted: with the GIL released, 2 Python threads x 1 kernel thread
    on separate big arrays take about half the serial time (2 cores, when idle)."""
    deepgrad.set_num_threads(1)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(1 << 22).astype(np.float32) for _ in range(2)]
    outs = [np.empty_like(x) for x in xs]
    a = [rng.standard_normal((384, 384)).astype(np.float32) for _ in range(2)]

    def task(i):
        for _ in range(6):
            ops.gelu(xs[i], out=outs[i])
            ops.matmul(a[i], a[i])

    task(0), task(1)  # warm up
    best_serial = best_threads = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        task(0), task(1)
        best_serial = min(best_serial, time.perf_counter() - t0)
        t0 = time.perf_counter()
        ts = [threading.Thread(target=task, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        best_threads = min(best_threads, time.perf_counter() - t0)
    print(f"\n[threads] serial {best_serial * 1e3:.1f} ms, 2 Python threads {best_threads * 1e3:.1f} ms, "
          f"speedup {best_serial / best_threads:.2f}x (gelu 4M f32 + 384^3 GEMM, x6 per thread)")
    np.testing.assert_array_equal(outs[0], ops.gelu(xs[0]))


_BIG = {
    "gelu": lambda rng: (ops.gelu, (rng.standard_normal(1 << 24).astype(np.float32),)),
    "matmul": lambda rng: (ops.matmul, (rng.standard_normal((1000, 1000)), rng.standard_normal((1000, 1000)))),
    "layer_norm": lambda rng: (ops.layer_norm, (rng.standard_normal((4096, 2048)).astype(np.float32),)),
    "batch_norm": lambda rng: (ops.batch_norm, (rng.standard_normal((4096, 2048)).astype(np.float32),)),
    "cross_entropy_backward": lambda rng: (ops.cross_entropy_backward,
                                           (rng.standard_normal((4096, 1024)), rng.integers(0, 1024, 4096))),
    "residual_add": lambda rng: (ops.residual_add, (np.ones(1 << 25, np.float32), np.ones(1 << 25, np.float32))),
}


@pytest.mark.parametrize("name", sorted(_BIG))
def test_gil_released_during_kernel(name):
    """While one thread is inside a long kernel call, the main thread keeps running
    Python: its longest pause inside the call's time window is far shorter than the call
    (a kernel holding the GIL would freeze it for the whole call)."""
    deepgrad.set_num_threads(1)
    fn, args = _BIG[name](np.random.default_rng(0))
    fn(*args)  # warm up (page faults, lazy init)
    window = {}

    def worker():
        window["t0"] = time.perf_counter()
        fn(*args)
        window["t1"] = time.perf_counter()

    stamps = []
    t = threading.Thread(target=worker)
    t.start()
    while t.is_alive():
        stamps.append(time.perf_counter())
    t.join()
    t0, t1 = window["t0"], window["t1"]
    inside = [s for s in stamps if t0 <= s <= t1]
    points = [t0] + inside + [t1]
    longest_pause = max(b - a for a, b in zip(points, points[1:]))
    print(f"\n[gil] {name}: call {1e3 * (t1 - t0):.1f} ms, main thread's longest pause "
          f"{1e3 * longest_pause:.1f} ms, {len(inside)} iterations inside")
    assert len(inside) > 0 and longest_pause < 0.5 * (t1 - t0)
