"""deepgrad.sweep: measure gradient flow across depth, beside the mean-field prediction.

    result = deepgrad.sweep(depths=[5, 10, 20], activations=["sigmoid", "relu"], residual=[False, True])
    result.summary()            # one row per configuration: decay per layer, measured vs predicted
    result.to_csv("sweep.csv"); result.plot("gradient_flow.png")

Every configuration (depth x activation x residual x norm x norm_position x init) is built
with deepgrad.mlp(depth, width, in_features=width, out_features=N_CLASSES) for each seed and
run on one fixed synthetic batch: X ~ N(0, 1) of shape (batch, width), labels from a random
linear teacher (N_CLASSES classes), cross-entropy loss. At step 0 (init) -- and, with
steps > 0, at intervals while training full-batch with Adam (lr) -- it records, per layer
l = 1..depth (a hidden layer of a plain net, a block of a residual one):

    grad_norm         ||dL/d(input of layer l)||      the gradient that reaches layer l
    grad_ratio        grad_norm / grad_norm of layer `depth` (the top hidden layer)
    weight_grad_norm  ||dL/dW|| of the layer's Dense weight
    act_mean, act_std mean and std of the layer's output over the batch
    saturated         sigmoid/tanh: share of outputs whose derivative is below 10% of its
                      maximum (sigmoid y(1-y) < 0.025, tanh 1 - y^2 < 0.1); None otherwise
    dead              share of units whose activation output is <= 0 for the whole batch
                      (a dead ReLU unit passes no gradient)
    predicted_ratio   the mean-field prediction of grad_ratio (deepgrad.theory; plain networks
                      without norm only, None elsewhere -- the theory does not cover them)
    loss              the training loss at that step

Rows: one per configuration x seed x step x layer (tidy). Columns: COLUMNS.
"""
import concurrent.futures as cf
import math
import multiprocessing
import sys
import time

import numpy as np

from . import _validate as v
from ._table import ResultTable

N_CLASSES = 10
DEFAULT_LR = 1e-3
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "gelu", "silu")
CONFIG_COLUMNS = ["depth", "activation", "residual", "norm", "norm_position", "init", "sigma_b2", "width", "batch",
                  "dtype"]
COLUMNS = CONFIG_COLUMNS + ["seed", "step", "layer", "grad_norm", "grad_ratio", "weight_grad_norm",
                            "act_mean", "act_std", "saturated", "dead", "predicted_ratio", "loss"]
FLOAT32_EPS = float(np.finfo(np.float32).eps)
_THEORY_INITS = ("auto", "xavier", "xavier_uniform", "xavier_normal", "he", "kaiming", "kaiming_uniform",
                 "kaiming_normal", "critical")


# ---------------------------------------------------------------- one configuration

from ._util import l2_norm as _l2


def _find(layer, kind):
    """The first sub-layer of type `kind` in a layer tree (depth first)."""
    if isinstance(layer, kind):
        return layer
    for child in layer.children():
        found = _find(child, kind)
        if found is not None:
            return found
    return None


def _activation_stats(activation, y):
    """(saturated, dead) of an activation output y (batch, units); see the module docstring."""
    y = np.asarray(y, dtype=np.float64)
    if activation == "sigmoid":
        saturated = float(np.mean(y * (1 - y) < 0.025))
    elif activation == "tanh":
        saturated = float(np.mean(1 - y * y < 0.1))
    else:
        saturated = None
    dead = float(np.mean(np.all(y <= 0, axis=0))) if y.ndim == 2 and y.shape[0] else None
    return saturated, dead


def _predicted_ratios(cfg):
    """Mean-field grad_ratio per layer 1..depth for a plain network without norm, else None."""
    if cfg["residual"] or cfg["norm"] is not None or cfg["init"] not in _THEORY_INITS or cfg["depth"] < 2:
        return None
    from . import theory
    sigma_w2 = theory.init_sigma_w2(cfg["init"], cfg["activation"], fan_in=cfg["width"], fan_out=cfg["width"],
                                    sigma_b2=cfg["sigma_b2"])
    pred = theory.predicted_grad_norm_ratio(cfg["activation"], sigma_w2, cfg["sigma_b2"], cfg["depth"])
    return [float(math.sqrt(g)) for g in pred.grad_sq]


def _measure(model, units, activation, X, y, loss):
    """Forward and backward once; per-layer rows (without config columns) and the loss."""
    from .layers import Activation, Dense
    model.zero_grad()
    h = X
    outputs = []
    for unit in model.layers:
        h = unit.forward(h)
        outputs.append(h)
    stats = {}
    for l, i in enumerate(units, start=1):
        act = _find(model.layers[i], Activation)
        y_act = act.last_output if act is not None else outputs[i]
        saturated, dead = _activation_stats(activation, y_act)
        out64 = np.asarray(outputs[i], dtype=np.float64)
        stats[i] = dict(layer=l, act_mean=float(out64.mean()), act_std=float(out64.std()),
                        saturated=saturated, dead=dead)
    loss_value = float(loss.forward(h, y))
    g = loss.backward()
    for i in range(len(model.layers) - 1, -1, -1):
        g = model.layers[i].backward(g)
        if i in stats:
            stats[i]["grad_norm"] = _l2(g)
    for i in units:
        dense = _find(model.layers[i], Dense)
        stats[i]["weight_grad_norm"] = _l2(dense.weight.grad)
    rows = [stats[i] for i in units]
    top = rows[-1]["grad_norm"]
    for r in rows:
        r["grad_ratio"] = r["grad_norm"] / top if top > 0 else math.nan
    return rows, loss_value


def _steps_to_record(steps, record_every):
    if steps <= 0:
        return [0]
    every = record_every or max(1, steps // 4)
    return sorted(set([0, *range(every, steps + 1, every), steps]))


def run_configuration(cfg, seed, steps=0, lr=DEFAULT_LR, record_every=None, threads=None):
    """Rows (dicts with every column) of one configuration and seed. Runs in the worker."""
    import deepgrad
    from .layers import CrossEntropyLoss
    from .network import hidden_layer_indices, mlp
    from .optim import Adam
    if threads is not None:
        deepgrad.set_num_threads(threads)
    dtype = np.dtype(cfg["dtype"])
    data_rng = np.random.default_rng([seed, 0])
    X = data_rng.standard_normal((cfg["batch"], cfg["width"])).astype(dtype)
    teacher = data_rng.standard_normal((cfg["width"], N_CLASSES))
    y = np.argmax(X.astype(np.float64) @ teacher, axis=1)
    model = mlp(cfg["depth"], cfg["width"], cfg["width"], N_CLASSES, activation=cfg["activation"],
                residual=cfg["residual"], norm=cfg["norm"], norm_position=cfg["norm_position"] or "pre",
                init=cfg["init"], dtype=dtype, rng=np.random.default_rng([seed, 1]), sigma_b2=cfg["sigma_b2"])
    units = hidden_layer_indices(model)
    loss = CrossEntropyLoss()
    predicted = _predicted_ratios(cfg)
    record_at = set(_steps_to_record(steps, record_every))
    optimizer = Adam(model.parameters(), lr=lr) if steps > 0 else None
    rows = []
    for step in range(steps + 1):
        layer_rows, loss_value = _measure(model, units, cfg["activation"], X, y, loss)
        if step in record_at:
            for r in layer_rows:
                row = {c: cfg[c] for c in CONFIG_COLUMNS}
                row.update(seed=seed, step=step, loss=loss_value,
                           predicted_ratio=predicted[r["layer"] - 1] if predicted else None, **r)
                rows.append({c: row.get(c) for c in COLUMNS})
        if step < steps:
            optimizer.step()  # the gradients of this step's _measure
    return rows


def _run_task(task):
    cfg, seed, steps, lr, record_every, threads = task
    return run_configuration(cfg, seed, steps, lr, record_every, threads)


# ---------------------------------------------------------------- the sweep

def _as_list(value, name, allowed=None):
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise ValueError(f"sweep: {name} must not be empty")
    if allowed is not None:
        for val in values:
            if val not in allowed:
                raise ValueError(f"sweep: {name} contains {val!r}; expected values from {list(allowed)}")
    return values


def configurations(depths, activations, residual, norm, norm_position, init, width, batch, dtype, sigma_b2=0.0):
    """Every configuration of the grid, in a fixed order (norm_position only varies when it matters)."""
    from .layers import ACTIVATION_LAYERS
    from .network import NORMS
    depths = [v.positive_int(d, "depths[i]", "sweep") for d in _as_list(depths, "depths")]
    activations = _as_list(activations, "activations", ACTIVATION_LAYERS)
    residual = [bool(r) for r in _as_list(residual, "residual", (True, False))]
    norm = _as_list(norm, "norm", (None, *NORMS))
    norm_position = _as_list(norm_position, "norm_position", ("pre", "post"))
    init = _as_list(init, "init")
    width = v.positive_int(width, "width", "sweep")
    batch = v.positive_int(batch, "batch", "sweep")
    dtype = v.check_dtype_arg(dtype, "sweep").name
    sigma_b2 = v.finite_float(sigma_b2, "sigma_b2", "sweep")
    if sigma_b2 < 0:
        raise ValueError(f"sweep: sigma_b2 must be >= 0, got {sigma_b2}")
    configs, seen = [], set()
    for d in depths:
        for a in activations:
            for r in residual:
                for n in norm:
                    for p in norm_position:
                        p = p if (r and n is not None) else None
                        for i in init:
                            cfg = dict(depth=d, activation=a, residual=r, norm=n, norm_position=p, init=i,
                                       sigma_b2=sigma_b2, width=width, batch=batch, dtype=dtype)
                            key = tuple(cfg.values())
                            if key not in seen:
                                seen.add(key)
                                configs.append(cfg)
    return configs


def sweep(depths=(5, 10, 20, 30, 50), activations=ACTIVATIONS, residual=(False, True), norm=(None, "layernorm"),
          norm_position=("pre",), init=("auto",), width=256, batch=256, seeds=3, steps=0, dtype="float32",
          lr=DEFAULT_LR, record_every=None, jobs=1, executor=None, threads=None, progress=None, sigma_b2=0.0):
    """Run the grid; returns a SweepResult (see the module docstring for what each row holds).

    seeds: how many seeds (0..seeds-1), or a list of seeds. steps: Adam steps of full-batch
    training after the measurement at init (recorded every `record_every` steps, default
    steps // 4). jobs: worker processes (1 = in this process); executor: any
    concurrent.futures.Executor (a process pool, dask.distributed's client.get_executor(), ...)
    instead. threads: kernel threads per task (default: 1 when tasks run in parallel,
    the current setting otherwise). Results do not depend on jobs, executor or threads.
    sigma_b2: bias variance of every Dense layer at init (biases N(0, sigma_b2)); with
    init="critical" the weights take the critical sigma_w2 for it (deepgrad.theory).
    """
    configs = configurations(depths, activations, residual, norm, norm_position, init, width, batch, dtype,
                             sigma_b2)
    seed_list = list(range(v.positive_int(seeds, "seeds", "sweep"))) if isinstance(seeds, (int, np.integer)) \
        else [int(s) for s in seeds]
    steps = v.positive_int(steps, "steps", "sweep", allow_zero=True)
    jobs = v.positive_int(jobs, "jobs", "sweep")
    parallel = executor is not None or jobs > 1
    if threads is None and parallel:
        threads = 1
    tasks = [(cfg, s, steps, lr, record_every, threads) for cfg in configs for s in seed_list]
    results = [None] * len(tasks)
    own_executor = None
    if parallel and executor is None:
        own_executor = executor = cf.ProcessPoolExecutor(
            max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))  # libgomp is not fork-safe
    show = sys.stdout.isatty() if progress is None else bool(progress)
    start = time.perf_counter()
    try:
        with _progress(show, len(tasks)) as advance:
            if not parallel:
                for k, task in enumerate(tasks):
                    results[k] = _run_task(task)
                    advance()
            else:
                futures = {executor.submit(_run_task, task): k for k, task in enumerate(tasks)}
                for fut in cf.as_completed(futures):
                    results[futures[fut]] = fut.result()
                    advance()
    finally:
        if own_executor is not None:
            own_executor.shutdown()
    from ._runtime import cpu_features
    meta = dict(machine=cpu_features(), seconds=round(time.perf_counter() - start, 3), steps=steps, lr=lr,
                seeds=seed_list, n_classes=N_CLASSES, jobs=jobs, executor=type(executor).__name__ if executor else None)
    return SweepResult([row for rows in results for row in rows], COLUMNS, meta)


class _progress:
    """A rich progress bar over tasks (a no-op when hidden)."""

    def __init__(self, show, total):
        self.show, self.total = show, total

    def __enter__(self):
        if not self.show:
            return lambda: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        self.bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        self.bar.start()
        task = self.bar.add_task("sweep", total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc):
        if self.show:
            self.bar.stop()
        return False


# ---------------------------------------------------------------- results

def _geomean(values):
    vals = [x for x in values if x is not None and x > 0 and math.isfinite(x)]
    if not vals:
        return math.nan if not values else 0.0
    return float(math.exp(sum(math.log(x) for x in vals) / len(vals)))


def _db_per_layer(ratio, depth):
    if depth < 2 or not (ratio > 0) or not math.isfinite(ratio):
        return math.nan
    return 20.0 * math.log10(ratio) / (depth - 1)


SUMMARY_COLUMNS = CONFIG_COLUMNS + [
    "step", "seeds", "grad_first", "grad_last", "ratio_first_last", "measured_db_per_layer",
    "predicted_ratio", "predicted_db_per_layer", "first_layer_relative_update", "first_layer_usable",
    "saturated", "dead", "loss"]


class SweepResult(ResultTable):
    """The tidy table of a sweep (one row per configuration x seed x step x layer)."""

    def configurations(self):
        keys = []
        for row in self.rows:
            key = tuple(row[c] for c in CONFIG_COLUMNS)
            if key not in keys:
                keys.append(key)
        return [dict(zip(CONFIG_COLUMNS, k)) for k in keys]

    def summary(self, step=None):
        """Per configuration (and recorded step; `step` picks one), averaged over seeds:

        ratio_first_last         geometric mean over seeds of grad_norm(layer 1) / grad_norm(layer depth)
        measured_db_per_layer    20 log10(ratio) / (depth - 1): the decay per layer in decibels
                                 (-6 dB = the gradient halves per layer)
        predicted_*              the same from mean-field theory (plain networks without norm)
        first_layer_relative_update  ||dL/dW1|| / ||dL/dW_depth||: the first layer's update size
                                 relative to the top layer's
        first_layer_usable       relative update above float32 epsilon (1.19e-7): below it, a float32
                                 weight update of the first layer would be lost against the top layer's
        saturated, dead          means over layers and seeds; loss: mean over seeds
        """
        groups = {}
        for row in self.rows:
            if step is not None and row["step"] != step:
                continue
            key = tuple(row[c] for c in CONFIG_COLUMNS) + (row["step"],)
            groups.setdefault(key, []).append(row)
        out = []
        for key, rows in groups.items():
            cfg = dict(zip(CONFIG_COLUMNS + ["step"], key))
            depth = cfg["depth"]
            by_seed = {}
            for r in rows:
                by_seed.setdefault(r["seed"], {})[r["layer"]] = r
            firsts = [s[1] for s in by_seed.values()]
            lasts = [s[depth] for s in by_seed.values()]
            ratio = _geomean([f["grad_norm"] / l["grad_norm"] if l["grad_norm"] else math.nan
                              for f, l in zip(firsts, lasts)])
            rel_update = _geomean([f["weight_grad_norm"] / l["weight_grad_norm"] if l["weight_grad_norm"] else math.nan
                                   for f, l in zip(firsts, lasts)])
            pred = firsts[0]["predicted_ratio"]
            sat = [r["saturated"] for r in rows if r["saturated"] is not None]
            dead = [r["dead"] for r in rows if r["dead"] is not None]
            cfg.update(
                seeds=len(by_seed), grad_first=_geomean([f["grad_norm"] for f in firsts]),
                grad_last=_geomean([l["grad_norm"] for l in lasts]), ratio_first_last=ratio,
                measured_db_per_layer=_db_per_layer(ratio, depth), predicted_ratio=pred,
                predicted_db_per_layer=_db_per_layer(pred, depth) if pred is not None else None,
                first_layer_relative_update=rel_update,
                first_layer_usable=bool(rel_update > FLOAT32_EPS) if math.isfinite(rel_update) else False,
                saturated=float(np.mean(sat)) if sat else None, dead=float(np.mean(dead)) if dead else None,
                loss=float(np.mean([f["loss"] for f in firsts])))
            out.append({c: cfg.get(c) for c in SUMMARY_COLUMNS})
        return ResultTable(out, SUMMARY_COLUMNS, self.meta)

    # ------------------------------------------------------------ plots
    def plot(self, path, step=0, width=1400, height=600):
        """log10 grad_ratio against layer, one line per activation (deepest depth, first init),
        one panel per (residual, norm): sigmoid collapsing, ReLU flat, residual carrying it."""
        plt = _pyplot()
        rows = [r for r in self.rows if r["step"] == step]
        if not rows:
            raise ValueError(f"SweepResult.plot: no rows at step {step}")
        depth = max(r["depth"] for r in rows)
        panels = sorted({(r["residual"], r["norm"] or "", r["norm_position"] or "") for r in rows})
        dpi = 100
        fig, axes = plt.subplots(1, len(panels), figsize=(width / dpi, height / dpi), dpi=dpi,
                                 sharey=True, squeeze=False)
        for ax, (res, norm, pos) in zip(axes[0], panels):
            sel = [r for r in rows if r["depth"] == depth and r["residual"] == res and (r["norm"] or "") == norm
                   and (r["norm_position"] or "") == pos]
            for act in dict.fromkeys(r["activation"] for r in sel):
                per_layer = {}
                for r in sel:
                    if r["activation"] == act and r["grad_ratio"] and r["grad_ratio"] > 0:
                        per_layer.setdefault(r["layer"], []).append(r["grad_ratio"])
                layers = sorted(per_layer)
                ax.plot(layers, [math.log10(_geomean(per_layer[l])) for l in layers], marker=".", label=act)
            title = ("residual" if res else "plain") + (f", {pos}-{norm}" if norm and res else f", {norm}" if norm else "")
            ax.set_title(f"{title} (depth {depth})")
            ax.set_xlabel("layer (1 = first)")
            ax.axhline(0, color="gray", lw=0.5)
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel("log10 gradient norm at layer / at top layer")
        axes[0][-1].legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return path

    def plot_theory(self, path, width=700, height=600):
        """Measured against predicted decay per layer (dB), plain networks without norm."""
        plt = _pyplot()
        summary = [r for r in self.summary(step=0).rows if r["predicted_db_per_layer"] is not None]
        dpi = 100
        fig, ax = plt.subplots(figsize=(width / dpi, height / dpi), dpi=dpi)
        for act in dict.fromkeys(r["activation"] for r in summary):
            sel = [r for r in summary if r["activation"] == act and math.isfinite(r["measured_db_per_layer"])
                   and math.isfinite(r["predicted_db_per_layer"])]
            ax.scatter([r["predicted_db_per_layer"] for r in sel], [r["measured_db_per_layer"] for r in sel], label=act)
        lo, hi = ax.get_xlim()
        ax.plot([lo, hi], [lo, hi], color="gray", lw=0.8, ls="--", label="measured = predicted")
        ax.set_xlabel("predicted decay per layer (dB, mean-field theory)")
        ax.set_ylabel("measured decay per layer (dB)")
        ax.set_title("Gradient decay per layer: measurement vs theory")
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return path


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'deepgrad[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt
