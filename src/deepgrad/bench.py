"""What each activation costs: forward and backward, in cache and out, against a copy of the same bytes.

    import deepgrad.bench
    table = deepgrad.bench.activations(sizes=[4096, 1 << 20], dtypes=["float32"], threads=1)
    table.filter(contender="deepgrad", direction="fwd").column("ns_per_element")
    table.to_csv("bench.csv"); table.to_json("bench.json"); table.plot("bench.png")

Command line: `deepgrad bench --help`.

How it measures
---------------
For every (dtype, n) the inputs are made once (x ~ 3·N(0, 1), grad_out ~ N(0, 1), seed 0; backward of
sigmoid and tanh gets the forward output y, the others x, as PyTorch saves them) and every case of that
group -- (activation, direction, contender) plus the copy roof -- is:
  1. called once (warm-up, and to time one call),
  2. given an inner loop of `inner` calls so that one timed run lasts >= `min_time` (2 ms; at least 1 call),
     and run once more untimed at that length (warm-up),
  3. timed `repeat` times with time.perf_counter_ns; the cases take turns (run 1 of every case, then
     run 2 of every case, ...) so that the noise of a shared machine falls on all contenders alike.
     A case whose timed run is one call (the out-of-cache sizes) makes an untimed call first: right
     after another case, a call finds that case's 64 MiB of written lines still in a large last-level
     cache and pays for their write-back (16M float32 relu at 0.62-0.86x the copy in three runs on an
     Intel Xeon VM, 0.74-0.81x with the untimed call; 0.99x when it is repeated alone, as
     tools/quick_speed.py does).
Each case is reported by the median and the minimum of its `repeat` runs, per call. All contenders write
into a preallocated output (`out=` / PyTorch's `.out` and `.grad_input` overloads); the NumPy forms
avoid temporaries where a short sequence of in-place ufuncs can (some backward passes still need one or two).
deepgrad is timed through its public functions, so the in-cache sizes include the Python call and
argument checks.

The table (one row per case, columns in `COLUMNS`)
--------------------------------------------------
activation      relu, leaky_relu, sigmoid, tanh, gelu, gelu_tanh, silu, or "copy" (the roof)
direction       "fwd" (y = f(x)) or "bwd" (grad_in = grad_out * f'(x))
dtype           "float32" or "float64"
n               elements of the activation's input
contender       "deepgrad", "deepgrad-libm" (sigmoid fwd with one libm exp() per element),
                "numpy", "torch"
threads         threads the contender ran with (NumPy ufuncs always run on 1)
bytes           bytes one call reads + writes: fwd 2·n·itemsize, bwd 3·n·itemsize; a copy row moves the
                bytes of its direction's kernel (it copies n elements for fwd, ceil(1.5·n) for bwd)
inner           calls per timed run
repeat          timed runs
median_ns       median time of one call (ns)
min_ns          fastest timed run, per call (ns)
ns_per_element  median_ns / n
gb_per_s        bytes / median_ns (10^9 bytes per second)
roof_fraction   median of deepgrad's copy of the same bytes / median_ns  (1.0 = as fast as a copy)
relative_to_relu    median_ns / median_ns of the same contender's relu, same (direction, dtype, n)
                    (deepgrad's relu for deepgrad-libm); 1.0 for relu itself
relative_to_deepgrad median_ns / median_ns of deepgrad's same (activation, direction, dtype, n)
                    (deepgrad's sigmoid for deepgrad-libm); > 1 means slower than deepgrad

`table.meta["machine"]` describes the machine: CPU, SIMD path, threads, cache sizes, library versions.
"""
import datetime
import math
import platform
import statistics
import sys
import time
from collections import namedtuple

import numpy as np

from . import _runtime, ops
from ._table import ResultTable

DEFAULT_SIZES = [4096, 65536, 1 << 20, 1 << 24]
DEFAULT_DTYPES = ["float32", "float64"]
DEFAULT_REPEAT = 7
DIRECTIONS = ("fwd", "bwd")
CONTENDERS = ("deepgrad", "deepgrad-libm", "numpy", "torch")

COLUMNS = ["activation", "direction", "dtype", "n", "contender", "threads", "bytes", "inner", "repeat",
           "median_ns", "min_ns", "ns_per_element", "gb_per_s", "roof_fraction", "relative_to_relu",
           "relative_to_deepgrad"]

#: the clock every measurement reads (nanoseconds, monotonic); tests may replace it
_clock = time.perf_counter_ns

# ================================================================== contenders
# Every kernel takes (x, out) forward or (grad_out, saved, out) backward, where `saved` is
# what ops.ACTIVATIONS says the backward takes (y for sigmoid and tanh, x for the others),
# and writes into `out` where the library allows it.

_GELU_C = math.sqrt(2 / math.pi)
_GELU_A = 0.044715
_LEAK = 0.01


def _np_sigmoid(x, out):
    # 1 / (1 + exp(-x)), built in `out` without temporaries
    np.negative(x, out=out)
    np.exp(out, out=out)
    np.add(out, 1.0, out=out)
    return np.divide(1.0, out, out=out)


def _np_silu_backward(g, x, out):
    # d/dx x s(x) = s (1 + x (1 - s))
    s = _np_sigmoid(x, np.empty_like(x))
    return np.multiply(g, s * (1 + x * (1 - s)), out=out)


def _np_leaky_relu(x, out):
    # max(x, slope x) == leaky_relu(x) for 0 < slope < 1, with no temporaries
    np.multiply(x, _LEAK, out=out)
    return np.maximum(x, out, out=out)


def _np_leaky_relu_backward(g, x, out):
    np.multiply(g, _LEAK, out=out)
    np.copyto(out, g, where=x > 0)
    return out


def _np_gelu_tanh(x, out):
    # 0.5 x (1 + tanh(c x (1 + a x^2))), built in `out` without temporaries
    np.multiply(x, x, out=out)
    out *= _GELU_A
    out += 1
    out *= x
    out *= _GELU_C
    np.tanh(out, out=out)
    out += 1
    out *= x
    out *= 0.5
    return out


def _np_gelu_tanh_backward(g, x, out):
    # 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2),  t = tanh(c x (1 + a x^2))
    x2 = x * x
    t = np.tanh(_GELU_C * x * (1 + _GELU_A * x2))
    d = 0.5 * x * (1 - t * t) * _GELU_C * (1 + 3 * _GELU_A * x2)
    d += 0.5 * (1 + t)
    return np.multiply(g, d, out=out)


def numpy_contenders():
    """activation -> (forward(x, out), backward(grad_out, saved, out) or None) in plain NumPy.

    GELU (erf form) is missing: NumPy has no erf. Also has "copy" (np.copyto).
    """
    return {
        "relu": (lambda x, out: np.maximum(x, 0, out=out),
                 lambda g, x, out: np.multiply(g, x > 0, out=out)),
        "leaky_relu": (_np_leaky_relu, _np_leaky_relu_backward),
        "sigmoid": (_np_sigmoid, lambda g, y, out: np.multiply(g, y * (1 - y), out=out)),
        "tanh": (lambda x, out: np.tanh(x, out=out), lambda g, y, out: np.multiply(g, 1 - y * y, out=out)),
        "gelu_tanh": (_np_gelu_tanh, _np_gelu_tanh_backward),
        "silu": (lambda x, out: np.multiply(x, _np_sigmoid(x, out), out=out), _np_silu_backward),
        "copy": (lambda x, out: np.copyto(out, x), None),
    }


def torch_contenders():
    """activation -> (forward(x, out), backward(grad_out, saved, out)) on torch tensors.

    The out-variants of the ATen ops PyTorch's autograd calls (e.g. aten.sigmoid_backward), so
    nothing is allocated. Raises ImportError when PyTorch is not installed. Also has "copy".
    """
    import torch
    aten = torch.ops.aten
    return {
        "relu": (lambda x, out: torch.clamp_min(x, 0, out=out),
                 lambda g, x, out: aten.threshold_backward.grad_input(g, x, 0, grad_input=out)),
        "leaky_relu": (lambda x, out: aten.leaky_relu.out(x, _LEAK, out=out),
                       lambda g, x, out: aten.leaky_relu_backward.grad_input(g, x, _LEAK, False,
                                                                             grad_input=out)),
        "sigmoid": (lambda x, out: torch.sigmoid(x, out=out),
                    lambda g, y, out: aten.sigmoid_backward.grad_input(g, y, grad_input=out)),
        "tanh": (lambda x, out: torch.tanh(x, out=out),
                 lambda g, y, out: aten.tanh_backward.grad_input(g, y, grad_input=out)),
        "gelu": (lambda x, out: aten.gelu.out(x, out=out),
                 lambda g, x, out: aten.gelu_backward.grad_input(g, x, grad_input=out)),
        "gelu_tanh": (lambda x, out: aten.gelu.out(x, approximate="tanh", out=out),
                      lambda g, x, out: aten.gelu_backward.grad_input(g, x, approximate="tanh",
                                                                      grad_input=out)),
        "silu": (lambda x, out: aten.silu.out(x, out=out),
                 lambda g, x, out: aten.silu_backward.grad_input(g, x, grad_input=out)),
        "copy": (lambda x, out: out.copy_(x), None),
    }


def deepgrad_contenders():
    """activation -> (forward(x, out), backward(grad_out, saved, out)) through deepgrad.ops."""
    kernels = {}
    for name, (forward, backward, _) in ops.ACTIVATIONS.items():
        kernels[name] = ((lambda x, out, f=forward: f(x, out=out)),
                         (lambda g, s, out, b=backward: b(g, s, out=out)))
    kernels["copy"] = (lambda x, out: ops.copy(x, out=out), None)
    return kernels


#: name: who; wrap: numpy array -> the contender's array (shares memory); kernels: see above
Contender = namedtuple("Contender", "name wrap kernels version")


def contenders(numpy=True, torch=True):
    """The contenders available here, by name (see CONTENDERS); torch only when importable."""
    from . import __version__
    found = {
        "deepgrad": Contender("deepgrad", None, deepgrad_contenders(), __version__),
        "deepgrad-libm": Contender("deepgrad-libm", None,
                                   {"sigmoid": (lambda x, out: ops.sigmoid_libm(x, out=out), None)},
                                   __version__),
    }
    if numpy:
        found["numpy"] = Contender("numpy", None, numpy_contenders(), np.__version__)
    if torch:
        try:
            import torch as _torch
        except ImportError:
            pass
        else:
            found["torch"] = Contender("torch", _torch.from_numpy, torch_contenders(), _torch.__version__)
    return found


# ================================================================== the machine

def cache_sizes():
    """{"L1d": bytes, "L2": bytes, "L3": bytes} of CPU 0 from sysfs; {} where unavailable."""
    import glob
    import os
    sizes = {}
    for index in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*")):
        try:
            with open(os.path.join(index, "level")) as f:
                level = int(f.read())
            with open(os.path.join(index, "type")) as f:
                kind = f.read().strip()
            with open(os.path.join(index, "size")) as f:
                text = f.read().strip()
        except (OSError, ValueError):
            continue
        if kind == "Instruction":
            continue
        units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
        try:
            size = int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
        except (ValueError, IndexError):
            continue
        sizes[f"L{level}d" if level == 1 else f"L{level}"] = size
    return sizes


def machine(threads=None):
    """What a measurement ran on: CPU, SIMD path, thread count, caches, library versions."""
    from . import __version__
    info = dict(_runtime.cpu_features())
    if threads is not None:
        info["num_threads"] = threads
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    info.update(caches=cache_sizes(), deepgrad=__version__, numpy=np.__version__, torch=torch_version,
                python=platform.python_version(), platform=platform.platform(),
                date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    return info


# ================================================================== timing

class _Case:
    """One (activation, direction, contender) on one (dtype, n): a zero-argument call and its timings."""

    def __init__(self, activation, direction, contender, call, nbytes, threads):
        self.activation, self.direction, self.contender = activation, direction, contender
        self.call, self.nbytes, self.threads = call, nbytes, threads
        self.inner = 1
        self.samples = []

    def calibrate(self, min_time_ns):
        call = self.call
        t0 = _clock()
        call()
        one = max(_clock() - t0, 1)
        self.inner = max(1, math.ceil(min_time_ns / one))
        for _ in range(self.inner):  # warm-up at the timed length
            call()

    def run(self):
        call, inner = self.call, self.inner
        if inner == 1:   # out of cache: settle first (see "How it measures", step 3)
            call()
        t0 = _clock()
        for _ in range(inner):
            call()
        self.samples.append((_clock() - t0) / inner)


def _group_cases(who, names, dtype, n, threads, rng):
    """The cases of one (dtype, n) group: every contender's kernels and the copies (roof) of fwd and bwd."""
    dt = np.dtype(dtype)
    x = (rng.standard_normal(n) * 3).astype(dt)
    g = rng.standard_normal(n).astype(dt)
    out = np.empty(n, dt)
    saved_y = {name: ops.ACTIVATIONS[name][0](x) for name in names if ops.ACTIVATIONS[name][2] == "y"}
    n_bwd_copy = math.ceil(1.5 * n)
    copy_src = {"fwd": x, "bwd": (rng.standard_normal(n_bwd_copy)).astype(dt)}
    copy_dst = {"fwd": out, "bwd": np.empty(n_bwd_copy, dt)}
    nbytes = {"fwd": 2 * n * dt.itemsize, "bwd": 3 * n * dt.itemsize}

    cases = []
    for c in who.values():
        wrap = c.wrap or (lambda a: a)
        c_threads = 1 if c.name == "numpy" else threads
        for name in [*names, "copy"]:
            fwd, bwd = c.kernels.get(name, (None, None))
            for direction in DIRECTIONS:
                if name == "copy":
                    if fwd is None:
                        continue
                    src, dst = wrap(copy_src[direction]), wrap(copy_dst[direction])
                    call = (lambda f=fwd, s=src, d=dst: f(s, d))
                elif direction == "fwd":
                    if fwd is None:
                        continue
                    call = (lambda f=fwd, a=wrap(x), o=wrap(out): f(a, o))
                else:
                    if bwd is None:
                        continue
                    saved = saved_y.get(name, x)
                    call = (lambda b=bwd, gg=wrap(g), s=wrap(saved), o=wrap(out): b(gg, s, o))
                cases.append(_Case(name, direction, c.name, call, nbytes[direction], c_threads))
    return cases


def _count_cases(who, names):
    count = 0
    for c in who.values():
        for name in [*names, "copy"]:
            fwd, bwd = c.kernels.get(name, (None, None))
            count += (fwd is not None) * (2 if name == "copy" else 1) + (bwd is not None)
    return count


def _rows(cases, dtype, n, repeat):
    """Turn one group's timed cases into table rows, with roof and ratios filled in."""
    median = {(c.activation, c.direction, c.contender): statistics.median(c.samples) for c in cases}
    rows = []
    for c in cases:
        t = median[(c.activation, c.direction, c.contender)]
        roof = median.get(("copy", c.direction, "deepgrad"))
        relu = median.get(("relu", c.direction, c.contender), median.get(("relu", c.direction, "deepgrad")))
        mine = "sigmoid" if c.contender == "deepgrad-libm" else c.activation
        ref = median.get((mine, c.direction, "deepgrad"))
        rows.append({
            "activation": c.activation, "direction": c.direction, "dtype": dtype, "n": n,
            "contender": c.contender, "threads": c.threads, "bytes": c.nbytes, "inner": c.inner,
            "repeat": repeat, "median_ns": t, "min_ns": min(c.samples), "ns_per_element": t / n,
            "gb_per_s": c.nbytes / t, "roof_fraction": None if roof is None else roof / t,
            "relative_to_relu": None if relu is None else t / relu,
            "relative_to_deepgrad": None if ref is None else t / ref,
        })
    return rows


# ================================================================== the benchmark

def _check_list(values, allowed, what):
    values = list(values)
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise ValueError(f"activations: {what} must be a non-empty list from {sorted(allowed)}, got {values!r}")
    return values


def activations(sizes=DEFAULT_SIZES, dtypes=DEFAULT_DTYPES, threads=None, repeat=DEFAULT_REPEAT, *,
                names=None, numpy=True, torch=True, simd=None, min_time=2e-3, seed=0, progress=None):
    """Time forward and backward of every activation; returns an `ActivationBench` table.

    sizes     element counts (default 4K, 64K, 1M, 16M: L1, L2, L3, DRAM on most CPUs)
    dtypes    "float32" and/or "float64"
    threads   thread count for every contender (deepgrad, PyTorch); None: deepgrad's current count
    repeat    timed runs per case (median and min reported); each run lasts >= min_time seconds
    names     activations to time (default: all of ops.ACTIVATIONS); relu is always added (the reference)
    numpy, torch   include those contenders (torch only when importable)
    simd      force a SIMD path ("avx512", "avx2", "portable") for the run; None: as set now
    progress  optional callable(done, total, label), called after every step

    The thread count, the SIMD path and PyTorch's thread count are restored afterwards.
    Columns and method: see the module docstring.
    """
    from . import _validate as v
    sizes = [v.positive_int(s, "sizes", "activations") for s in sizes]
    if not sizes:
        raise ValueError("activations: sizes must not be empty")
    dtypes = _check_list(dtypes, DEFAULT_DTYPES, "dtypes")
    names = list(ops.ACTIVATIONS) if names is None else _check_list(names, ops.ACTIVATIONS, "names")
    if "relu" not in names:
        names.insert(0, "relu")
    repeat = v.positive_int(repeat, "repeat", "activations")
    if not (isinstance(min_time, (int, float)) and min_time >= 0):
        raise ValueError(f"activations: min_time must be seconds >= 0, got {min_time!r}")
    if threads is not None:
        threads = v.positive_int(threads, "threads", "activations")

    who = contenders(numpy=numpy, torch=torch)
    if "sigmoid" not in names:
        del who["deepgrad-libm"]
    per_group = _count_cases(who, names)
    total = per_group * len(sizes) * len(dtypes) * (repeat + 1)
    done = 0

    threads_before = _runtime.get_num_threads()
    simd_before = _runtime.get_simd()
    torch_mod = sys.modules.get("torch") if "torch" in who else None
    torch_threads_before = torch_mod.get_num_threads() if torch_mod else None
    rows = []
    try:
        if threads is not None:
            _runtime.set_num_threads(threads)
        threads = _runtime.get_num_threads()
        if torch_mod:
            torch_mod.set_num_threads(threads)
        if simd is not None:
            _runtime.set_simd(simd)
        meta = {"machine": machine(threads), "sizes": sizes, "dtypes": dtypes, "activations": names,
                "repeat": repeat, "min_time": min_time, "seed": seed,
                "contenders": {c.name: c.version for c in who.values()}}
        rng = np.random.default_rng(seed)
        with np.errstate(all="ignore"):
            for dtype in dtypes:
                for n in sizes:
                    label = f"{dtype} n={n}"
                    cases = _group_cases(who, names, dtype, n, threads, rng)
                    for case in cases:
                        case.calibrate(min_time * 1e9)
                        done += 1
                        if progress:
                            progress(done, total, f"{label}: warm-up")
                    for r in range(repeat):
                        for case in cases:
                            case.run()
                            done += 1
                            if progress:
                                progress(done, total, f"{label}: run {r + 1}/{repeat}")
                    rows.extend(_rows(cases, dtype, n, repeat))
                    del cases
    finally:
        _runtime.set_num_threads(threads_before)
        if simd is not None:
            best = _runtime.simd_paths()[0]
            _runtime.set_simd(None if simd_before == best else simd_before)
        if torch_mod:
            torch_mod.set_num_threads(torch_threads_before)
    return ActivationBench(rows, COLUMNS, meta)


# ================================================================== the result

class ActivationBench(ResultTable):
    """The tidy result of `activations()`: a ResultTable (rows, to_csv, to_json, filter...) plus plot()."""

    def plot(self, path, contender="deepgrad", width=1200, height=900):
        """PNG of ns/element against n (log-log), one line per activation, one panel per (direction, dtype).

        Dashed: the copy roof and the libm sigmoid. Dotted verticals: where the arrays one call
        touches (fwd 2n, bwd 3n elements) fill L1d / L2 / L3. Needs matplotlib (deepgrad[plot]).
        Returns the path. The image is width x height pixels.
        """
        return plot(self, path, contender=contender, width=width, height=height)


def plot(table, path, contender="deepgrad", width=1200, height=900):
    """See ActivationBench.plot."""
    try:
        import matplotlib  # noqa: F401  (only to fail early with a clear message)
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'deepgrad[plot]' (or matplotlib)") from None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    directions = [d for d in DIRECTIONS if table.filter(direction=d).rows]
    dtypes = [d for d in DEFAULT_DTYPES if table.filter(dtype=d).rows]
    if not directions or not dtypes:
        raise ValueError("plot: the table has no rows to plot")
    caches = (table.meta.get("machine") or {}).get("caches") or {}
    dpi = 100
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(directions), len(dtypes), squeeze=False)
    names = list(dict.fromkeys(r["activation"] for r in table.rows if r["activation"] != "copy"))
    colors = {name: f"C{i}" for i, name in enumerate(names)}
    for i, direction in enumerate(directions):
        for j, dtype in enumerate(dtypes):
            ax = axes[i][j]
            part = table.filter(direction=direction, dtype=dtype)
            lines = [(name, contender, dict(color=colors[name], marker="o", ms=3)) for name in names]
            lines.append(("sigmoid", "deepgrad-libm", dict(color=colors.get("sigmoid", "gray"),
                                                            ls="--", marker="x", ms=4)))
            lines.append(("copy", "deepgrad", dict(color="black", ls="--", lw=1.5)))
            for name, who, style in lines:
                rows = sorted(part.filter(activation=name, contender=who).rows, key=lambda r: r["n"])
                if not rows:
                    continue
                label = {"deepgrad-libm": f"{name} (libm)"}.get(who, "copy (roof)" if name == "copy" else name)
                ax.plot([r["n"] for r in rows], [r["ns_per_element"] for r in rows], label=label, **style)
            sizes = [r["n"] for r in part.rows]
            lo, hi = min(sizes) / 1.5, max(sizes) * 1.5
            per_element = (2 if direction == "fwd" else 3) * np.dtype(dtype).itemsize
            for level, size in caches.items():
                at = size / per_element  # n where the arrays of one call fill this cache
                if lo <= at <= hi:
                    ax.axvline(at, color="gray", ls=":", lw=1)
                    ax.text(at, 0.98, f" {level} {size >> 10} KiB", rotation=90, va="top", ha="right",
                            fontsize=7, color="gray", transform=ax.get_xaxis_transform())
            ax.set_xlim(lo, hi)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_title(f"{direction} {dtype} ({contender})", fontsize=10)
            ax.set_xlabel("array size n (elements)")
            ax.set_ylabel("ns / element (median)")
            ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, frameon=False)
    m = table.meta.get("machine") or {}
    fig.suptitle(f"deepgrad activation cost -- {m.get('cpu', '?')}, SIMD {m.get('simd_active', '?')}, "
                 f"{m.get('num_threads', '?')} thread(s)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 0.86, 1))  # the right margin holds the legend
    fig.savefig(path, dpi=dpi, format="png")
    return path


def summary(table, contender="deepgrad"):
    """One dict per (direction, dtype, n, activation) of `contender`, with the other contenders' ns/element
    beside it: keys direction, dtype, n, activation, label, ns_per_element, gb_per_s, roof_fraction,
    relative_to_relu, and "<other>_ns_per_element" for every other contender that ran it."""
    others = {}
    for r in table.rows:
        if r["contender"] not in (contender, "deepgrad-libm"):
            key = (r["direction"], r["dtype"], r["n"], r["activation"])
            others.setdefault(key, {})[f"{r['contender']}_ns_per_element"] = r["ns_per_element"]
    out = []
    for r in table.rows:
        if r["contender"] == contender:
            label = "copy (roof)" if r["activation"] == "copy" else r["activation"]
        elif r["contender"] == "deepgrad-libm" and contender == "deepgrad":
            label = "sigmoid (libm)"
        else:
            continue
        key = (r["direction"], r["dtype"], r["n"], r["activation"])
        entry = {k: r[k] for k in ("direction", "dtype", "n", "activation", "ns_per_element", "gb_per_s",
                                   "roof_fraction", "relative_to_relu")}
        entry["label"] = label
        if r["contender"] == contender:
            entry.update(others.get(key, {}))
        out.append(entry)
    return out
