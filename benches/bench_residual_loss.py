"""Residual add and losses: deepgrad vs NumPy vs PyTorch vs a copy of the same bytes.

    pytest benches/bench_residual_loss.py --benchmark-enable --benchmark-only \
        --benchmark-group-by=group --benchmark-columns=min,median,rounds

Groups: "residual add n=<n>" (y = x + f(x); the backward grad_x = grad_y + grad through f
is the same add kernel), "mse <fwd|bwd> (rows, cols)", "cross_entropy <fwd|bwd> (rows, classes)", float32,
at the thread count BENCH_THREADS (default 1) for every contender. The roof is a copy
(deepgrad.ops.copy) of the bytes the kernel must read.
"""
import numpy as np
import pytest

from deepgrad import ops

from _bench_utils import describe, torch

SIZES = [65536, 1 << 22]
LOSS_SHAPES = [(256, 10), (4096, 1000)]
CONTENDERS = ["deepgrad", "numpy", "torch", "copy"]


def _torch_backward(loss_fn, pred, target):
    """PyTorch's gradient of loss_fn(pred, target) wrt pred through autograd (what training runs)."""
    p = pred.detach().requires_grad_(True)
    loss_fn(p, target).backward()
    return p.grad


def _skip_without_torch(who):
    if who == "torch" and torch is None:
        pytest.skip("PyTorch not installed")


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("who", CONTENDERS)
def test_residual_add(benchmark, who, n):
    _skip_without_torch(who)
    rng = np.random.default_rng(0)
    x, fx = rng.standard_normal((2, n), dtype=np.float32)
    out = np.empty_like(x)
    benchmark.group = f"residual add n={n}"
    describe(benchmark, n=n, bytes=3 * x.nbytes)
    if who == "deepgrad":
        benchmark(ops.residual_add, x, fx, out=out)
    elif who == "numpy":
        benchmark(np.add, x, fx, out=out)
    elif who == "torch":
        xt, ft, ot = (torch.from_numpy(a) for a in (x, fx, out))
        benchmark(torch.add, xt, ft, out=ot)
    else:
        big = np.concatenate([x, fx[: n // 2]])  # 1.5 n values: the bytes the add reads and writes
        benchmark(ops.copy, big, out=np.empty_like(big))


def _logits(shape):
    rng = np.random.default_rng(1)
    logits = (rng.standard_normal(shape) * 3).astype(np.float32)
    target = rng.integers(0, shape[1], shape[0])
    return logits, target


@pytest.mark.parametrize("shape", LOSS_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("direction", ["fwd", "bwd"])
@pytest.mark.parametrize("who", CONTENDERS)
def test_cross_entropy(benchmark, who, direction, shape):
    _skip_without_torch(who)
    logits, target = _logits(shape)
    grad = np.empty_like(logits)
    benchmark.group = f"cross_entropy {direction} {shape}"
    describe(benchmark, shape=shape, bytes=logits.nbytes * (1 if direction == "fwd" else 2))
    if who == "deepgrad":
        if direction == "fwd":
            benchmark(ops.cross_entropy, logits, target)
        else:
            benchmark(ops.cross_entropy_backward, logits, target, out=grad)
    elif who == "numpy":
        def numpy_ce(z=logits, t=target):
            m = z.max(axis=1, keepdims=True)
            e = np.exp(z - m)
            s = e.sum(axis=1, keepdims=True)
            if direction == "fwd":
                return float(np.mean(np.log(s[:, 0]) + m[:, 0] - z[np.arange(len(t)), t]))
            p = e / s
            p[np.arange(len(t)), t] -= 1
            return p / len(t)
        benchmark(numpy_ce)
    elif who == "torch":
        F = torch.nn.functional
        zt, tt = torch.from_numpy(logits), torch.from_numpy(target)
        if direction == "fwd":
            benchmark(F.cross_entropy, zt, tt)
        else:
            benchmark(_torch_backward, F.cross_entropy, zt, tt)
    else:
        benchmark(ops.copy, logits, out=grad)


@pytest.mark.parametrize("shape", LOSS_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("direction", ["fwd", "bwd"])
@pytest.mark.parametrize("who", CONTENDERS)
def test_mse(benchmark, who, direction, shape):
    _skip_without_torch(who)
    rng = np.random.default_rng(2)
    pred, target = rng.standard_normal((2, *shape), dtype=np.float32)
    grad = np.empty_like(pred)
    benchmark.group = f"mse {direction} {shape}"
    describe(benchmark, shape=shape, bytes=pred.nbytes * (2 if direction == "fwd" else 3))
    if who == "deepgrad":
        if direction == "fwd":
            benchmark(ops.mse_loss, pred, target)
        else:
            benchmark(ops.mse_loss_backward, pred, target, out=grad)
    elif who == "numpy":
        if direction == "fwd":
            benchmark(lambda: float(np.mean(np.square(pred - target))))
        else:
            benchmark(lambda: np.multiply(np.subtract(pred, target, out=grad), 2 / pred.size, out=grad))
    elif who == "torch":
        F = torch.nn.functional
        pt, tt = torch.from_numpy(pred), torch.from_numpy(target)
        if direction == "fwd":
            benchmark(F.mse_loss, pt, tt)
        else:
            benchmark(_torch_backward, F.mse_loss, pt, tt)
    else:
        benchmark(ops.copy, pred, out=grad)
