"""What this core's arithmetic and memory allow the activations -- the floors under the
issue's speed targets -- against what deepgrad's AVX-512 float32 kernels take.

    python tools/activation_floor.py [--rounds 7] [--cc cc]

Compiles tools/activation_floor.c with the library's C sources (csrc/, -O3 -fopenmp, no
-march: the AVX-512 code is selected per function as in the package) into a temporary
directory and runs it: one thread, every case timed in each round, the rounds interleaved,
per case the best round. Needs a C compiler and an AVX-512 CPU, not the built package: the
measurement is all in C, so no Python call overhead is in these figures.

Columns, ns per element:
  loop 64K   the kernel's vector loop alone, 64K float32 in L2, aligned arrays: its
             arithmetic with nothing around it
  call 64K   the library's entry point (guard, blocks, dispatch), arrays placed as NumPy
             places them (16 bytes past a 64-byte boundary)
  call 16M   the same at 16M elements (DRAM; streaming stores; on transparent huge pages
             where the kernel offers them, as NumPy places its large arrays)
and the ratios the issue's targets are written in:
  x relu     call 64K over relu's call 64K (target for sigmoid: at most 2)
  roof 16M   copy's call 16M over the kernel's (target: at least 0.8)
  overlap    copy's call 16M over the kernel's loop 64K: the roof a kernel would reach at
             16M if its arithmetic overlapped the memory traffic completely (it cannot do
             better than its arithmetic, nor than the copy)
Two probes (no entry point): `quotient`, one vdivps per 16 elements and nothing else (the
division alone that the one-quotient sigmoid and SiLU pay), and `sigmoid_rcp`, the sigmoid
fast path with rcp14 and a correction step instead of the division.
"""
import argparse
import math
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent


def build(cc, out, harness="activation_floor.c"):
    """tools/<harness> and the library's C sources into the executable `out`."""
    csrc = ROOT / "csrc"
    sources = [str(ROOT / "tools" / harness)] + sorted(str(p) for p in csrc.glob("*.c"))
    cmd = [cc, "-O3", "-std=gnu11", "-fopenmp", "-fno-math-errno", "-I", str(csrc), "-o", str(out),
           *sources, "-lm"]
    subprocess.run(cmd, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        exe = pathlib.Path(tmp) / "activation_floor"
        build(a.cc, exe)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        run = subprocess.run([str(exe), str(a.rounds)], capture_output=True, text=True, env=env)
    if run.returncode != 0:
        sys.exit(run.stderr.strip() or f"activation_floor exited with {run.returncode}")
    rows = {}
    for line in run.stdout.strip().splitlines():
        name, *vals = line.split()
        rows[name] = [float(v) for v in vals]
    relu_call, copy_big = rows["relu"][1], rows["copy"][2]

    def fmt(v, spec=".3f"):   # the C side prints inf for a case it does not time
        return "-" if math.isinf(v) else format(v, spec)

    def ratio(a, b):
        return fmt(a / b, ".2f") if math.isfinite(a / b) and a / b > 0 else "-"

    print("float32, 1 thread, ns/element (best of %d interleaved rounds)" % a.rounds)
    head = ("kernel", "loop 64K", "call 64K", "call 16M", "x relu", "roof 16M", "overlap")
    print("%-12s %9s %9s %9s %7s %9s %8s" % head)
    for name, (loop, call, big) in rows.items():
        print("%-12s %9s %9s %9s %7s %9s %8s" % (
            name, fmt(loop), fmt(call), fmt(big),
            ratio(call, relu_call), ratio(copy_big, big), ratio(copy_big, loop)))


if __name__ == "__main__":
    main()
