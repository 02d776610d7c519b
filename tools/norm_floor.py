"""How close the norm kernels are to the bytes they must move -- and how far PyTorch is.

    python tools/norm_floor.py [--rows 4096] [--trials 9] [--no-torch]

(deepgrad as installed; with an in-place build, PYTHONPATH=src.)

One thread, float32 (rows, 1024), every contender timed in the same process, the
trials interleaved (each trial runs every contender, median of 5 calls after 2 warm
ones; the figures printed are medians over the trials). Two probes measure this
machine's memory system at the size of one array:

  read  = deepgrad.ops.mse_loss(x[:rows//2], x[rows//2:])   reads x once, writes a scalar
  write = out.fill(0.5)                                      writes one array (NumPy)

and, for comparison, copy = deepgrad.ops.copy(x, out) (the roof of benches/bench_norm.py) and
add = deepgrad.ops.residual_add(x, dout, out): exactly the LayerNorm backward's traffic (two
arrays read, one written) with one addition per element -- the floor that holds where the
arrays outgrow the L2 but not the L3 (256x1024: three arrays of 1 MiB, an L2 of 2 MiB),
where reads and writes partly overlap and the read + write model above does not apply.
Each kernel must at least read and write these arrays (rows x 1024 float32 each):

  LayerNorm forward     read x                      write y
  LayerNorm backward    read x, dout                write dx
  BatchNorm forward     read x twice (statistics,   write y
                        then the normalization)
  BatchNorm backward    read x, dout twice (sums,   write dx
                        then dx)

so floor = reads x read + writes x write: the time of its traffic if reads and writes
did not overlap, which is what this machine shows when the arrays live in L3 (copy ~
read + write at 4096x1024 on the Intel Xeon of 2026-12). A kernel cannot be faster
than its traffic moved at the probes' speed, unless the arrays (or part of them) stay
in a nearer cache between its passes (BatchNorm keeps the rows its second pass starts
with: up to the L2's worth). The last columns: PyTorch's time over the floor, the
largest ratio any kernel could reach against PyTorch at this speed of memory, and
deepgrad's time over the floor.
"""
import argparse
import time

import numpy as np

import deepgrad
from deepgrad import ops

try:
    import torch
except ImportError:
    torch = None

EPS = 1e-5


def contenders(rows, cols=1024, with_torch=True):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((rows, cols)) * 2 + 0.5).astype(np.float32)
    g = rng.standard_normal((rows, cols)).astype(np.float32)
    w = (rng.standard_normal(cols) * 0.1 + 1).astype(np.float32)
    b = (rng.standard_normal(cols) * 0.1).astype(np.float32)
    out = np.empty_like(x)
    rm, rv = np.zeros(cols, np.float32), np.ones(cols, np.float32)
    gw, gb = np.zeros_like(w), np.zeros_like(b)
    _, lm, lr = ops.layer_norm(x, w, b, EPS, out=out, return_stats=True)
    _, bm, br = ops.batch_norm(x, w, b, rm, rv, True, out=out, return_stats=True)
    h = rows // 2
    c = {
        "read": lambda: ops.mse_loss(x[:h], x[h:]),
        "write": lambda: out.fill(0.5),
        "copy": lambda: ops.copy(x, out=out),
        "add": lambda: ops.residual_add(x, g, out=out),
        "layernorm fwd": lambda: ops.layer_norm(x, w, b, EPS, out=out),
        "layernorm bwd": lambda: ops.layer_norm_backward(g, x, lm, lr, w, grad_weight=gw,
                                                         grad_bias=gb, out=out),
        "batchnorm fwd": lambda: ops.batch_norm(x, w, b, rm, rv, True, 0.1, EPS, out=out),
        "batchnorm bwd": lambda: ops.batch_norm_backward(g, x, bm, br, w, True, grad_weight=gw,
                                                         grad_bias=gb, out=out),
    }
    if torch is not None and with_torch:
        tx, tg, tw, tb, trm, trv = (torch.from_numpy(v) for v in (x, g, w, b, rm.copy(), rv.copy()))
        _, tlm, tlr = torch.ops.aten.native_layer_norm(tx, [cols], tw, tb, EPS)
        _, tbm, tbr = torch.ops.aten.native_batch_norm(tx, tw, tb, trm, trv, True, 0.1, EPS)
        c["torch layernorm fwd"] = lambda: torch.ops.aten.native_layer_norm(tx, [cols], tw, tb, EPS)
        c["torch layernorm bwd"] = lambda: torch.ops.aten.native_layer_norm_backward(
            tg, tx, [cols], tlm, tlr, tw, tb, [True, True, True])
        c["torch batchnorm fwd"] = lambda: torch.ops.aten.native_batch_norm(
            tx, tw, tb, trm, trv, True, 0.1, EPS)
        c["torch batchnorm bwd"] = lambda: torch.ops.aten.native_batch_norm_backward(
            tg, tx, tw, trm, trv, tbm, tbr, True, EPS, [True, True, True])
    return c


# (arrays read, arrays written) per kernel, as in the docstring
TRAFFIC = {"layernorm fwd": (1, 1), "layernorm bwd": (2, 1),
           "batchnorm fwd": (2, 1), "batchnorm bwd": (4, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--trials", type=int, default=9)
    ap.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    a = ap.parse_args()
    deepgrad.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
    c = contenders(a.rows, with_torch=not a.no_torch)
    names = list(c)
    res = {n: [] for n in names}
    for t in range(a.trials):
        for n in names[t % len(names):] + names[:t % len(names)]:
            f = c[n]
            f()
            f()
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                f()
                ts.append(time.perf_counter() - t0)
            res[n].append(float(np.median(ts)) * 1e6)
    med = {n: float(np.median(v)) for n, v in res.items()}
    print(f"{a.rows}x1024 float32, 1 thread, {deepgrad.cpu_features()['cpu']}; medians of "
          f"{a.trials} interleaved trials, us")
    print(f"  read one array {med['read']:.0f}, write one array {med['write']:.0f}, "
          f"copy {med['copy']:.0f} (read + write = {med['read'] + med['write']:.0f})")
    head = f"  {'kernel':15s} {'floor':>7s} {'deepgrad':>9s} {'PyTorch':>8s} " \
           f"{'PyTorch/floor':>14s} {'deepgrad/floor':>15s} {'PyTorch/deepgrad':>17s}"
    print(head)
    for k, (nr, nw) in TRAFFIC.items():
        floor = nr * med["read"] + nw * med["write"]
        dg = med[k]
        tt = med.get("torch " + k)
        tcol = f"{tt:8.0f} {tt / floor:14.2f}" if tt else f"{'-':>8s} {'-':>14s}"
        ratio = f"{tt / dg:17.2f}" if tt else f"{'-':>17s}"
        print(f"  {k:15s} {floor:7.0f} {dg:9.0f} {tcol} {dg / floor:15.2f} {ratio}")
    add, dg = med["add"], med["layernorm bwd"]
    line = (f"  layernorm bwd against an add of the same arrays, {add:.0f} us: "
            f"deepgrad {dg / add:.2f}")
    tt = med.get("torch layernorm bwd")
    if tt:
        line += (f", PyTorch {tt / add:.2f}; 1.5x PyTorch would take {tt / 1.5:.0f} us, "
                 f"{tt / 1.5 / add:.2f} of the add")
    print(line)


if __name__ == "__main__":
    main()
