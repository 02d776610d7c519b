"""The normalization backwards against bare loops that move the same bytes, all in C.

    python tools/norm_traffic.py [--rows 256] [--trials 21] [--cc cc]

Compiles tools/norm_traffic.c with the library's C sources (as tools/activation_floor.py
does: -O3 -fopenmp, no -march) into a temporary directory and runs it: float32
(rows, 1024), one thread, every case on the same arrays, placed as NumPy places large ones,
the trials interleaved (see the C file). Needs a C compiler and an AVX-512 CPU, not the
built package.

  add                 a bare AVX-512 loop out = x + dout: LayerNorm backward's traffic
  bn-traffic          a bare loop with BatchNorm backward's traffic: read x and dout, then
                      read them again, last rows first, and write out
  residual_forward    the library's add (a check that the bare loop is not beaten by it)
  layernorm_backward  with dweight and dbias, as in benches/bench_norm.py
  batchnorm_backward  training mode, with dweight and dbias

At (256, 1024) the three arrays (3 MiB) outgrow a 2 MiB L2, so every call fetches most of
its bytes from L3; the bare loops are what that costs with no arithmetic to speak of. A
target of "1.5x PyTorch" needs the kernel at PyTorch's time / 1.5; `--torch-us LN,BN`
(PyTorch's LayerNorm and BatchNorm backward times from benches/bench_norm.py, same rows)
prints where that lies against the bare loops.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

from activation_floor import build


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--trials", type=int, default=21)
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--torch-us", help="PyTorch's LayerNorm,BatchNorm backward in us (e.g. 143,165)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        exe = pathlib.Path(tmp) / "norm_traffic"
        build(a.cc, exe, "norm_traffic.c")
        env = dict(os.environ, OMP_NUM_THREADS="1")
        run = subprocess.run([str(exe), str(a.rows), str(a.trials)], capture_output=True,
                             text=True, env=env)
    if run.returncode != 0:
        sys.exit(run.stderr.strip() or f"norm_traffic exited with {run.returncode}")
    res = {}
    for line in run.stdout.strip().splitlines():
        name, med, q1, q3 = line.split()
        res[name] = (float(med), float(q1), float(q3))
    print(f"({a.rows}, 1024) float32, 1 thread, us: median of {a.trials} interleaved trials "
          "[quartiles]")
    for name, (med, q1, q3) in res.items():
        print(f"  {name:20s} {med:9.1f}  [{q1:.1f}-{q3:.1f}]")
    pairs = [("layernorm_backward", "add"), ("batchnorm_backward", "bn-traffic")]
    torch_us = [float(v) for v in a.torch_us.split(",")] if a.torch_us else None
    for i, (kernel, probe) in enumerate(pairs):
        line = f"  {kernel} / {probe}: {res[kernel][0] / res[probe][0]:.2f}"
        if torch_us:
            goal = torch_us[i] / 1.5
            line += (f"; 1.5x PyTorch ({torch_us[i]:.0f} us) = {goal:.0f} us = "
                     f"{goal / res[probe][0]:.2f} x {probe}")
        print(line)


if __name__ == "__main__":
    main()
