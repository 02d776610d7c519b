"""A/B of compile-time variants of csrc/norm.c in ONE process -- a development aid.

    python setup.py build_ext --inplace -q     # once: the other objects are linked from build/
    python tools/ab_norm.py --rows 4096 --dir fwd --mode block --trials 15 \
        base "nt0=-DDG_NORM_NT_BYTES=0" "pf0=-DDG_LN_PREFETCH_ROWS=0"

Each variant NAME=FLAGS (FLAGS: -D... overriding norm.c's #ifndef constants; "base" alone:
no flags; a first flag @REV: the csrc/ of git revision REV instead of the working tree's,
e.g. "before=@HEAD~1" against "base") gets norm.c compiled with them and linked with the
in-place build's other objects into /tmp/dg_ab_norm/NAME/, then loaded as its own module (a
separate copy of the C state; 1 thread, or --threads N). LayerNorm (--norm ln) or BatchNorm
in training (--norm bn) of a float32 (rows, 1024) array; every trial runs the variants in rotated order:
  --mode fresh: new copies of x, dout and out (pages touched) per call, one timed call;
  --mode reuse: the same arrays, one warm call then one timed call;
  --mode block: the same arrays, 8 calls in a row, median of the last 5 (pytest-benchmark's
                repeated rounds, as benches/bench_norm.py).
Prints per variant the median and quartiles (us) and whether its outputs equal the first's.
"""
import argparse
import glob
import importlib.util
import os
import subprocess
import sys
import sysconfig
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def source_at(rev, outdir):
    """csrc/ of git revision `rev` extracted under outdir (for variants "NAME=@REV")"""
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--verify", rev + "^{commit}"],
                            check=True, capture_output=True, text=True).stdout.strip()
    d = os.path.join(outdir, "src-" + commit)  # by commit: HEAD moves, a hash does not
    if not os.path.isdir(os.path.join(d, "csrc")):
        os.makedirs(d, exist_ok=True)
        tar = subprocess.run(["git", "-C", ROOT, "archive", rev, "csrc"], check=True,
                             capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", d], input=tar, check=True)
    return os.path.join(d, "csrc")


def build(name, flags, outdir):
    """norm.c with `flags` + the in-place build's other objects -> outdir/NAME/_core*.so
    (flags ["@REV", ...]: norm.c and the headers of git revision REV instead of the tree's)"""
    temp = glob.glob(os.path.join(ROOT, "build", "temp.*"))
    if not temp:
        sys.exit("build the extension in place first (python setup.py build_ext --inplace)")
    objs = [o for o in glob.glob(os.path.join(temp[0], "csrc", "*.o")) if not o.endswith("norm.o")]
    objs += glob.glob(os.path.join(temp[0], "src", "deepgrad", "_core.o"))
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    so = os.path.join(d, "_core" + sysconfig.get_config_var("EXT_SUFFIX"))
    csrc = os.path.join(ROOT, "csrc")
    if flags and flags[0].startswith("@"):
        csrc, flags = source_at(flags[0][1:], outdir), flags[1:]
    base = ["gcc", "-DNDEBUG", "-fwrapv", "-O3", "-fPIC", "-std=gnu11", "-fopenmp", "-fno-math-errno",
            "-DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION", "-I" + csrc]
    subprocess.run(base + flags + ["-c", os.path.join(csrc, "norm.c"), "-o",
                                   os.path.join(d, "norm.o")], check=True)
    subprocess.run(["gcc", "-shared", "-fopenmp", *objs, os.path.join(d, "norm.o"), "-o", so], check=True)
    spec = importlib.util.spec_from_file_location(f"ab_{name}._core", so)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--norm", choices=["ln", "bn"], default="ln")
    ap.add_argument("--dir", choices=["fwd", "bwd"], default="fwd")
    ap.add_argument("--mode", choices=["fresh", "reuse", "block"], default="block")
    ap.add_argument("--trials", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--outdir", default="/tmp/dg_ab_norm")
    ap.add_argument("variants", nargs="+", help='NAME or "NAME=-DFOO=1 -DBAR=2"')
    a = ap.parse_args()
    mods = {}
    for v in a.variants:
        name, _, flags = v.partition("=")
        mods[name] = build(name, flags.split(), a.outdir)
        mods[name].set_num_threads(a.threads)
    names = list(mods)
    rows, cols, eps = a.rows, 1024, 1e-5
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((rows, cols)) * 2 + 0.5).astype(np.float32)
    G = rng.standard_normal((rows, cols)).astype(np.float32)
    w = (rng.standard_normal(cols) * 0.1 + 1).astype(np.float32)
    b = (rng.standard_normal(cols) * 0.1).astype(np.float32)
    _, M, RS = mods[names[0]].layer_norm_fast(X, w, b, eps, np.empty_like(X))
    rm, rv = np.zeros(cols, np.float32), np.ones(cols, np.float32)
    _, SM, SR = mods[names[0]].batch_norm_fast(X, w, b, rm, rv, True, 0.1, eps, np.empty_like(X))

    def arrays():
        out = np.empty_like(X)
        out.fill(0)
        return X.copy(), G.copy(), out

    shared = arrays()
    res, first = {n: [] for n in names}, {}
    for t in range(a.trials):
        for n in names[t % len(names):] + names[:t % len(names)]:
            x, g, out = arrays() if a.mode == "fresh" else shared
            gw, gb = np.zeros_like(w), np.zeros_like(b)
            m = mods[n]
            if a.norm == "ln":
                f = ((lambda: m.layer_norm_fast(x, w, b, eps, out)) if a.dir == "fwd" else
                     (lambda: m.layer_norm_backward_fast(g, x, M, RS, w, gw, gb, out)))
            else:
                f = ((lambda: m.batch_norm_fast(x, w, b, rm, rv, True, 0.1, eps, out)) if a.dir == "fwd"
                     else (lambda: m.batch_norm_backward_fast(g, x, SM, SR, w, True, gw, gb, out)))
            if a.mode == "reuse":
                f()
            ts = []
            for _ in range(8 if a.mode == "block" else 1):
                t0 = time.perf_counter()
                r = f()
                ts.append(time.perf_counter() - t0)
            res[n].append(float(np.median(ts[3:] if a.mode == "block" else ts)) * 1e6)
            if t == 0:
                first[n] = [out.copy()] + [np.array(v) for v in r[1:] if v is not None]
    ref = first[names[0]]
    for n in names:
        v = np.array(res[n])
        same = all(np.array_equal(p, q) for p, q in zip(first[n], ref))
        print(f"{a.norm} {rows}x{cols} {a.dir} t={a.threads} {a.mode:5s} {n:12s} median {np.median(v):8.1f}  "
              f"q25 {np.percentile(v, 25):8.1f}  q75 {np.percentile(v, 75):8.1f}  n={len(v)}  "
              f"same bits as {names[0]}: {same}")


if __name__ == "__main__":
    main()
