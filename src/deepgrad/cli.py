"""The `deepgrad` command line (also `python -m deepgrad`).

    deepgrad info          the SIMD path, threads and CPU the kernels use
    deepgrad demo          the gradient that survives 5/10/20/30 sigmoid vs ReLU layers
    deepgrad bench         what each activation costs per element, forward and backward
    deepgrad sweep         gradient flow across depth, measured and predicted (the main job)
    deepgrad report        activation cost beside gradient survival, one row per activation

Each subcommand lives in a function `cmd_<name>(args, console)` registered in COMMANDS.
"""
import argparse
import sys

import numpy as np

COMMANDS = {}


def command(name, help_text):
    def register(fn):
        COMMANDS[name] = (fn, help_text)
        return fn
    return register


def _console():
    """A rich console; when the output is not a terminal (a file, a pipe) tables are not cut at 80 columns."""
    import os

    from rich.console import Console
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=160)
    return console


def _int_list(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _write_outputs(console, out_dir, files, plots):
    """Write each (name, writer(path)) of `files` and, when matplotlib is there, of `plots` into out_dir."""
    import os
    os.makedirs(out_dir, exist_ok=True)
    written = [write(os.path.join(out_dir, name)) for name, write in files]
    try:
        written += [write(os.path.join(out_dir, name)) for name, write in plots]
    except ImportError as exc:
        console.print(f"[yellow]no plot: {exc}[/]")
    console.print("wrote " + ", ".join(str(w) for w in written))


# ------------------------------------------------------------------ info

def _add_info(parser):
    parser.add_argument("--json", action="store_true", help="print as JSON")


@command("info", "show the SIMD path, thread count and CPU the kernels use")
def cmd_info(args, console):
    import json

    import deepgrad
    info = deepgrad.cpu_features()
    if args.json:
        console.print_json(json.dumps(info))
        return 0
    from rich.table import Table
    table = Table(title="deepgrad runtime", show_header=False)
    for key, value in info.items():
        table.add_row(key, str(value))
    console.print(table)
    return 0


# ------------------------------------------------------------------ demo

def _add_demo(parser):
    parser.add_argument("--depths", type=_int_list, default=[5, 10, 20, 30],
                        help="comma-separated depths (default 5,10,20,30)")
    parser.add_argument("--width", type=int, default=256, help="units per layer (default 256)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def gradient_survival(activation, depth, width=256, batch=64, seed=0):
    """Norm of the gradient reaching layer 1 divided by the one leaving the top layer.

    A plain stack of `depth` layers h = act(W h), W ~ N(0, gain/width) with He
    (gain 2) for ReLU and Xavier (gain 1) for sigmoid, float64, unit top gradient.
    """
    from deepgrad import ops
    forward, backward, saves = ops.ACTIVATIONS[activation]
    rng = np.random.default_rng(seed)
    gain = 2.0 if activation == "relu" else 1.0
    weights = [rng.standard_normal((width, width)) * np.sqrt(gain / width) for _ in range(depth)]
    h = rng.standard_normal((batch, width))
    saved = []
    for w in weights:
        z = h @ w.T
        h = forward(z)
        saved.append(h if saves == "y" else z)
    # a random top gradient, as a loss gives: an all-ones one would line up with the
    # positive mean of ReLU outputs and grow through the layers for that reason alone
    grad = rng.standard_normal(h.shape)
    top = float(np.sqrt(np.einsum("ij,ij->", grad, grad)))
    for w, s in zip(reversed(weights), reversed(saved)):
        grad = backward(grad, s) @ w
    return float(np.sqrt(np.einsum("ij,ij->", grad, grad)) / top)


@command("demo", "print the gradient surviving 5/10/20/30 sigmoid vs ReLU layers")
def cmd_demo(args, console):
    from rich.table import Table
    table = Table(title=f"Gradient reaching layer 1 (relative to the top), width {args.width}")
    table.add_column("depth", justify="right")
    table.add_column("sigmoid (Xavier)", justify="right")
    table.add_column("0.25^depth", justify="right")
    table.add_column("ReLU (He)", justify="right")
    for depth in args.depths:
        s = gradient_survival("sigmoid", depth, args.width, seed=args.seed)
        r = gradient_survival("relu", depth, args.width, seed=args.seed)
        table.add_row(str(depth), f"{s:.3e}", f"{0.25 ** depth:.3e}", f"{r:.3f}")
    console.print(table)
    console.print("Sigmoid's derivative is at most 0.25, so its gradient shrinks by a constant factor per "
                  "layer; ReLU's is exactly 1 where active, and He init keeps the scale.")
    return 0


# ------------------------------------------------------------------ bench

def _name_list(allowed, what):
    """argparse type: comma-separated names, each one of `allowed`."""
    def parse(text):
        values = [v.strip() for v in text.split(",") if v.strip()]
        bad = [v for v in values if v not in allowed]
        if not values or bad:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {what} from {', '.join(allowed)}; got {text!r}")
        return values
    parse.__name__ = what  # argparse names the type in its error message
    return parse


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _add_bench(parser):
    from deepgrad import bench, ops
    from deepgrad._runtime import _ISA_LEVELS
    parser.add_argument("--sizes", type=_int_list, default=bench.DEFAULT_SIZES,
                        help="comma-separated element counts (default 4096,65536,1048576,16777216)")
    parser.add_argument("--dtypes", type=_name_list(bench.DEFAULT_DTYPES, "dtypes"),
                        default=bench.DEFAULT_DTYPES, help="comma-separated dtypes (default float32,float64)")
    parser.add_argument("--activations", type=_name_list(list(ops.ACTIVATIONS), "activations"), default=None,
                        help="comma-separated activations (default: all; relu is always timed, the reference)")
    parser.add_argument("--threads", dest="bench_threads", type=_positive_int, default=None, metavar="N",
                        help="threads for every contender (default: deepgrad's current count)")
    parser.add_argument("--repeat", type=_positive_int, default=bench.DEFAULT_REPEAT,
                        help=f"timed runs per case, each >= 2 ms (default {bench.DEFAULT_REPEAT})")
    parser.add_argument("--simd", choices=sorted(_ISA_LEVELS), default=None,
                        help="force a SIMD path for the run (default: the best this CPU has)")
    parser.add_argument("--no-numpy", dest="numpy", action="store_false", help="do not time NumPy")
    parser.add_argument("--no-torch", dest="torch", action="store_false", help="do not time PyTorch")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="write bench.csv, bench.json and bench.png (needs matplotlib) to DIR")


def _fmt(value, spec):
    return "" if value is None else format(value, spec)


def _bench_tables(table):
    """One rich table per (direction, dtype): deepgrad's numbers with the other contenders beside them."""
    from rich.table import Table

    from deepgrad import bench
    entries = bench.summary(table)
    others = [c for c in ("numpy", "torch") if any(r["contender"] == c for r in table.rows)]
    for direction in bench.DIRECTIONS:
        for dtype in bench.DEFAULT_DTYPES:
            rows = [e for e in entries if e["direction"] == direction and e["dtype"] == dtype]
            if not rows:
                continue
            t = Table(title=f"{direction} {dtype}: deepgrad, median ns per element",
                      caption="roof: time of a copy of the same bytes / time (1.0 = at memory speed); "
                              "x ReLU: time / ReLU's time")
            for col in ("n", "activation", "ns/elem", "GB/s", "roof", "x ReLU", *(f"{o} ns/elem" for o in others)):
                t.add_column(col, justify="left" if col == "activation" else "right", no_wrap=col == "activation")
            previous = None
            for e in rows:
                if previous is not None and e["n"] != previous:
                    t.add_section()
                t.add_row(str(e["n"]) if e["n"] != previous else "", e["label"], _fmt(e["ns_per_element"], ".3f"),
                          _fmt(e["gb_per_s"], ".1f"), _fmt(e["roof_fraction"], ".2f"),
                          _fmt(e["relative_to_relu"], ".2f"),
                          *(_fmt(e.get(f"{o}_ns_per_element"), ".3f") for o in others))
                previous = e["n"]
            yield t


@command("bench", "time every activation forward and backward against a copy, NumPy and PyTorch")
def cmd_bench(args, console):

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from deepgrad import bench
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("bench", total=None)

        def progress(done, total, label):
            bar.update(task, completed=done, total=total, description=label)

        table = bench.activations(sizes=args.sizes, dtypes=args.dtypes, threads=args.bench_threads,
                                  repeat=args.repeat, names=args.activations, numpy=args.numpy,
                                  torch=args.torch, simd=args.simd, progress=progress)
    m = table.meta["machine"]
    console.print(f"[bold]{m['cpu']}[/], SIMD {m['simd_active']}, {m['num_threads']} thread(s), "
                  f"caches {', '.join(f'{k} {v >> 10} KiB' for k, v in m['caches'].items()) or 'unknown'}; "
                  f"NumPy {m['numpy']}, PyTorch {m['torch'] or 'absent'}")
    for t in _bench_tables(table):
        console.print(t)
    if args.out:
        _write_outputs(console, args.out, [("bench.csv", table.to_csv), ("bench.json", table.to_json)],
                       [("bench.png", table.plot)])
    return 0


# ------------------------------------------------------------------ sweep

def _choice_list(choices, name):
    """A comma-separated list of values from `choices` (a dict: text -> value)."""
    def parse(text):
        values = []
        for item in (t.strip() for t in text.split(",")):
            if item not in choices:
                raise argparse.ArgumentTypeError(f"{name}: {item!r} is not one of {', '.join(choices)}")
            values.extend(choices[item])
        if not values:
            raise argparse.ArgumentTypeError(f"{name}: expected at least one value")
        return list(dict.fromkeys(values))
    return parse


def _default_jobs():
    import os
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def _add_sweep(parser):
    from deepgrad import depth_sweep as ds
    from deepgrad.layers import ACTIVATION_LAYERS
    from deepgrad.network import NORMS
    parser.add_argument("--depths", type=_int_list, default=[5, 10, 20, 30, 50],
                        help="comma-separated network depths (default 5,10,20,30,50)")
    parser.add_argument("--activations", type=_choice_list({a: [a] for a in ACTIVATION_LAYERS}, "activations"),
                        default=list(ds.ACTIVATIONS), help=f"comma-separated, from {','.join(ACTIVATION_LAYERS)} "
                                                           "(default: all)")
    parser.add_argument("--residual", type=_choice_list({"no": [False], "yes": [True], "both": [False, True]},
                                                        "residual"),
                        default=[False, True], help="plain (no), residual (yes) or both (default both)")
    parser.add_argument("--norm", type=_choice_list({"none": [None], **{n: [n] for n in NORMS}}, "norm"),
                        default=[None, "layernorm"], help=f"comma-separated, from none,{','.join(NORMS)} "
                                                          "(default none,layernorm)")
    parser.add_argument("--norm-position", type=_choice_list({"pre": ["pre"], "post": ["post"],
                                                              "both": ["pre", "post"]}, "norm-position"),
                        default=["pre"], help="residual blocks: pre-norm x+f(norm(x)), post-norm norm(x+f(x)) "
                                              "or both (default pre)")
    parser.add_argument("--init", type=lambda t: [i.strip() for i in t.split(",") if i.strip()], default=["auto"],
                        help="comma-separated init schemes: auto (He for ReLU-like, Xavier for sigmoid/tanh), "
                             "critical, xavier_normal, kaiming_normal, ... (default auto)")
    parser.add_argument("--sigma-b2", type=float, default=0.0,
                        help="bias variance at init; with --init critical the weights take the critical sigma_w2 "
                             "for it (default 0)")
    parser.add_argument("--width", type=_positive_int, default=256, help="units per layer (default 256)")
    parser.add_argument("--batch", type=_positive_int, default=256, help="batch size (default 256)")
    parser.add_argument("--seeds", type=_positive_int, default=3, help="seeds per configuration (default 3)")
    parser.add_argument("--steps", type=int, default=0,
                        help="Adam training steps after the measurement at init (default 0)")
    parser.add_argument("--lr", type=float, default=ds.DEFAULT_LR, help=f"Adam learning rate (default {ds.DEFAULT_LR})")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32", help="default float32")
    parser.add_argument("--jobs", type=_positive_int, default=_default_jobs(),
                        help=f"worker processes, one configuration at a time each (default {_default_jobs()}: "
                             "the cores, at most 4)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="write sweep.csv, sweep.json, summary.csv, gradient_flow.png and theory.png to DIR")


_NORM_SHORT = {"layernorm": "LN", "batchnorm": "BN", "rmsnorm": "RMS"}


def _network_label(r):
    label = "res" if r["residual"] else "plain"
    if r["norm"]:
        norm = _NORM_SHORT.get(r["norm"], r["norm"])
        label += f" {r['norm_position']}-{norm}" if r["norm_position"] else f"+{norm}"
    if r["init"] != "auto":
        label += f" {r['init']}"
    return label + (f" @{r['step']}" if r["step"] else "")


def _sweep_table(summary):
    from rich.table import Table
    t = Table(title="Gradient reaching layer 1 / top hidden layer (geometric mean over seeds)",
              caption="dB: decay per layer, 20 log10(ratio)/(depth-1) (-6 dB: halved per layer); theory: mean-field "
                      "prediction (plain, no norm); usable: layer-1 update above float32 eps relative to the top's; "
                      "LN/BN/RMS: layer/batch/RMS norm; res pre-LN: x+f(LN(x))")
    for col in ("depth", "activation", "network", "ratio", "dB", "theory", "usable", "sat", "dead", "loss"):
        t.add_column(col, justify="left" if col in ("activation", "network") else "right", no_wrap=True)
    previous = None
    for r in summary.rows:
        if previous is not None and r["depth"] != previous:
            t.add_section()
        previous = r["depth"]
        t.add_row(str(r["depth"]), r["activation"], _network_label(r), f"{r['ratio_first_last']:.2g}",
                  _fmt(r["measured_db_per_layer"], "+.2f"), _fmt(r["predicted_db_per_layer"], "+.2f"),
                  "yes" if r["first_layer_usable"] else "[red]no[/]", _fmt(r["saturated"], ".2f"),
                  _fmt(r["dead"], ".2f"), f"{r['loss']:.3g}")
    return t


@command("sweep", "measure gradient flow across depth (plain vs residual, per activation) against theory")
def cmd_sweep(args, console):

    import deepgrad
    if args.steps < 0:
        raise SystemExit(f"deepgrad sweep: --steps must be >= 0, got {args.steps}")
    result = deepgrad.sweep(depths=args.depths, activations=args.activations, residual=args.residual,
                            norm=args.norm, norm_position=args.norm_position, init=args.init, width=args.width,
                            batch=args.batch, seeds=args.seeds, steps=args.steps, dtype=args.dtype, lr=args.lr,
                            jobs=args.jobs, progress=console.is_terminal, sigma_b2=args.sigma_b2)
    summary = result.summary()
    console.print(_sweep_table(summary))
    m = result.meta["machine"]
    console.print(f"{len(result)} rows in {result.meta['seconds']:.1f} s on {m['cpu']} "
                  f"({m['simd_active']}, {m['num_threads']} thread(s), {args.jobs} job(s))")
    if args.out:
        plots = [("gradient_flow.png", result.plot)]
        if any(r["predicted_db_per_layer"] is not None for r in summary.rows):
            plots.append(("theory.png", result.plot_theory))
        _write_outputs(console, args.out, [("sweep.csv", result.to_csv), ("sweep.json", result.to_json),
                                           ("summary.csv", summary.to_csv)], plots)
    return 0


# ------------------------------------------------------------------ report

def _add_report(parser):
    from deepgrad import activation_report as rp
    parser.add_argument("--activations", type=_choice_list({a: [a] for a in rp.ACTIVATIONS}, "activations"),
                        default=list(rp.ACTIVATIONS), help="comma-separated (default: all)")
    parser.add_argument("--depths", type=_int_list, default=list(rp.DEFAULT_DEPTHS),
                        help="depths of the gradient columns (default 10,30,50)")
    parser.add_argument("--width", type=_positive_int, default=128, help="sweep width (default 128)")
    parser.add_argument("--batch", type=_positive_int, default=128, help="sweep batch (default 128)")
    parser.add_argument("--seeds", type=_positive_int, default=2, help="sweep seeds (default 2)")
    parser.add_argument("--in-cache", type=_positive_int, default=65536, help="in-cache size (default 65536)")
    parser.add_argument("--out-of-cache", type=_positive_int, default=1 << 24,
                        help="out-of-cache size (default 16777216)")
    parser.add_argument("--repeat", type=_positive_int, default=5, help="timed runs per bench case (default 5)")
    parser.add_argument("--jobs", type=_positive_int, default=1, help="sweep worker processes (default 1)")
    parser.add_argument("--markdown", action="store_true", help="print the report as Markdown")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="write report.md, report.csv, report.json and report.png to DIR")


@command("report", "activation cost beside gradient survival: a short bench and sweep joined")
def cmd_report(args, console):
    import sys as _sys

    import deepgrad
    command_line = "deepgrad " + " ".join(_sys.argv[1:]) if _sys.argv and "deepgrad" in _sys.argv[0] \
        else "deepgrad report"
    rep = deepgrad.report(activations=args.activations, depths=args.depths, width=args.width, batch=args.batch,
                          seeds=args.seeds, in_cache=args.in_cache, out_of_cache=args.out_of_cache,
                          repeat=args.repeat, jobs=args.jobs, progress=console.is_terminal, command=command_line)
    markdown = rep.to_markdown()
    if args.markdown:
        console.print(markdown, markup=False, highlight=False, soft_wrap=True)
    else:
        from rich.table import Table
        t = Table(title="Activation cost (x ReLU per element) beside gradient survival (layer 1 / top)")
        for col in ("activation", "fwd cache", "bwd cache", "fwd DRAM", "bwd DRAM",
                    *(f"plain d{d}" for d in rep.depths), *(f"res d{d}" for d in rep.depths), "chi1", "sat/dead"):
            t.add_column(col, justify="left" if col == "activation" else "right", no_wrap=True)
        for r in rep.rows:
            t.add_row(r["activation"], *(f"{r[c]:.2f}" for c in ("fwd_cache_x_relu", "bwd_cache_x_relu",
                                                                  "fwd_dram_x_relu", "bwd_dram_x_relu")),
                      *(f"{r[f'plain_d{d}']:.2g}" for d in rep.depths),
                      *(f"{r[f'residual_d{d}']:.2g}" for d in rep.depths),
                      f"{r['chi1']:.3g}", _fmt(r["saturated_or_dead"], ".2f"))
        console.print(t)
        console.print(rep.reading())
    if args.out:
        def write_markdown(path):
            with open(path, "w") as f:
                f.write(markdown + "\n")
            return path
        _write_outputs(console, args.out, [("report.md", write_markdown), ("report.csv", rep.to_csv),
                                           ("report.json", rep.to_json)], [("report.png", rep.plot)])
    return 0


_ADDERS = {"info": _add_info, "demo": _add_demo, "bench": _add_bench, "sweep": _add_sweep,
           "report": _add_report}


def build_parser():
    parser = argparse.ArgumentParser(prog="deepgrad", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None, help="kernel threads (default: all cores)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        _ADDERS[name](p)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    import deepgrad
    if args.threads is not None:
        if args.threads <= 0:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        deepgrad.set_num_threads(args.threads)
    fn, _ = COMMANDS[args.command]
    return fn(args, _console())


if __name__ == "__main__":
    sys.exit(main())
