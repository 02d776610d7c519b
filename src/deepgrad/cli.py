"""The `deepgrad` command line (also `python -m deepgrad`).

    deepgrad info          the SIMD path, threads and CPU the kernels use
    deepgrad demo          the gradient that survives 5/10/20/30 sigmoid vs ReLU layers

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
    from rich.console import Console
    return Console()


def _int_list(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


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
    grad = np.ones_like(h) / np.sqrt(h.size)
    top = np.linalg.norm(grad)
    for w, s in zip(reversed(weights), reversed(saved)):
        grad = backward(grad, s) @ w
    return float(np.linalg.norm(grad) / top)


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


_ADDERS = {"info": _add_info, "demo": _add_demo}


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
