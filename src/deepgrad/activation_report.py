"""deepgrad.report (module deepgrad.activation_report): what each activation costs beside what it does to the gradient.

    rep = deepgrad.report()          # a short bench + a short sweep, joined: one row per activation
    print(rep.reading())             # the plain-language reading
    rep.to_markdown(); rep.plot("report.png")

Columns (COLUMNS), one row per activation:
  fwd_cache_x_relu, bwd_cache_x_relu   deepgrad's time per element relative to ReLU's, in cache
                                       (`in_cache` elements, default 64K float32 = 256 KiB)
  fwd_dram_x_relu, bwd_dram_x_relu     the same out of cache (`out_of_cache`, default 16M = 64 MiB)
  fwd_cache_ns, fwd_dram_ns            deepgrad's ns per element (forward)
  plain_d<D>, residual_d<D>            gradient reaching layer 1 / top hidden layer at depth D
                                       (deepgrad.sweep, init "auto", no norm; geometric mean over seeds) --
                                       exactly SweepResult.summary()'s ratio_first_last
  chi1                                 mean-field per-layer factor of the squared gradient at the fixed
                                       point (deepgrad.theory.chi1, same init): < 1 vanishes, > 1 explodes
  saturated_or_dead                    at init, in the plain network of the smallest depth: share of
                                       saturated outputs (sigmoid, tanh) or dead units (ReLU family)
"""
import datetime
import math

from ._table import ResultTable

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "gelu", "silu")
DEFAULT_DEPTHS = (10, 30, 50)


def _columns(depths):
    return (["activation", "fwd_cache_x_relu", "bwd_cache_x_relu", "fwd_dram_x_relu", "bwd_dram_x_relu",
             "fwd_cache_ns", "fwd_dram_ns"]
            + [f"plain_d{d}" for d in depths] + [f"residual_d{d}" for d in depths]
            + ["chi1", "saturated_or_dead"])


class Report(ResultTable):
    """The joined table; `meta` holds the machine, the settings and both source tables' sizes."""

    @property
    def depths(self):
        return self.meta["depths"]

    def reading(self):
        """One paragraph in plain language, written from the numbers in the table."""
        rows = {r["activation"]: r for r in self.rows}
        d_max = max(self.depths)

        def g(act, kind):
            value = rows.get(act, {}).get(f"{kind}_d{d_max}")
            return "n/a" if value is None else f"{value:.2g}"
        parts = []
        if "sigmoid" in rows and "relu" in rows:
            s, r = rows["sigmoid"], rows["relu"]
            parts.append(
                f"Sigmoid costs {s['fwd_cache_x_relu']:.1f}x ReLU's time per element forward in cache "
                f"({s['bwd_cache_x_relu']:.1f}x backward), but only {s['fwd_dram_x_relu']:.1f}x out of cache, "
                f"where both wait on memory.")
            parts.append(
                f"What it does to the gradient matters far more: through {d_max} plain layers sigmoid passes "
                f"{g('sigmoid', 'plain')} of the top layer's gradient to the first (chi1 = {s['chi1']:.3g}: "
                f"the squared gradient shrinks by that factor at every layer), while ReLU with He init passes {g('relu', 'plain')} "
                f"(chi1 = {r['chi1']:.3g}).")
        res = [f"{a} {g(a, 'residual')}" for a in rows]
        parts.append(f"Residual connections change the picture for every activation (layer 1 / top at depth "
                     f"{d_max}: {', '.join(res)}): the identity path carries the gradient, and without a norm it "
                     f"even grows toward the input.")
        smooth = [a for a in ("gelu", "silu") if a in rows]
        if smooth:
            names = " and ".join({"gelu": "GELU", "silu": "SiLU"}[a] for a in smooth)
            survival = ", ".join(f"{a} {g(a, 'plain')}" for a in smooth)
            parts.append(f"{names} cost more than ReLU and, under He init, drift toward chi1 = 0.5 with depth "
                         f"({survival} at depth {d_max}): He init is not critical for them.")
        parts.append("The exp costs a little time; the wrong activation or init costs the whole gradient.")
        return " ".join(parts)

    def to_markdown(self):
        """The table (costs as multiples of ReLU, gradients as ratios) with the reading, date and machine."""
        m = self.meta["machine"]
        head = ["activation", "fwd cache ×ReLU", "bwd cache ×ReLU", "fwd DRAM ×ReLU", "bwd DRAM ×ReLU",
                *(f"plain d{d}" for d in self.depths), *(f"residual d{d}" for d in self.depths), "χ₁",
                "saturated/dead"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            cells = [r["activation"], *(f"{r[c]:.2f}" for c in ("fwd_cache_x_relu", "bwd_cache_x_relu",
                                                                    "fwd_dram_x_relu", "bwd_dram_x_relu")),
                     *(f"{r[f'plain_d{d}']:.2g}" for d in self.depths),
                     *(f"{r[f'residual_d{d}']:.2g}" for d in self.depths),
                     f"{r['chi1']:.3g}", "" if r["saturated_or_dead"] is None else f"{r['saturated_or_dead']:.2f}"]
            lines.append("| " + " | ".join(cells) + " |")
        s = self.meta["settings"]
        return "\n".join([
            *lines, "", self.reading(), "",
            f"_{self.meta['date']}, {m['cpu']}, SIMD {m['simd_active']}, {s['threads']} thread(s); costs: "
            f"deepgrad float32 at {s['in_cache']} (cache) and {s['out_of_cache']} (DRAM) elements; gradients: "
            f"width {s['width']}, batch {s['batch']}, {s['seeds']} seeds, init auto, no norm. "
            f"Command: `{self.meta['command']}`_"])

    def plot(self, path, width=900, height=650):
        """Cost (x: forward + backward in cache, relative to ReLU) against gradient survival
        (y: log10 layer-1 / top at the deepest depth), plain filled, residual hollow."""
        from .depth_sweep import _pyplot
        plt = _pyplot()
        d = max(self.depths)
        dpi = 100
        fig, ax = plt.subplots(figsize=(width / dpi, height / dpi), dpi=dpi)
        for i, r in enumerate(self.rows):
            cost = (r["fwd_cache_x_relu"] + r["bwd_cache_x_relu"]) / 2
            color = f"C{i}"
            for kind, face in (("plain", color), ("residual", "none")):
                value = r[f"{kind}_d{d}"]
                if value and value > 0:
                    ax.scatter([cost], [math.log10(value)], s=90, facecolors=face, edgecolors=color,
                               label=f"{r['activation']} ({kind})")
            ax.annotate(r["activation"], (cost, math.log10(max(r[f"plain_d{d}"], 1e-300))),
                        textcoords="offset points", xytext=(6, 4), fontsize="small")
        ax.axhline(0, color="gray", lw=0.5)
        ax.set_xlabel("compute cost in cache, (fwd + bwd) / 2, relative to ReLU")
        ax.set_ylabel(f"log10 gradient at layer 1 / top, depth {d}")
        ax.set_title("Activation cost vs gradient survival (filled: plain, hollow: residual)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small", ncol=2)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return path


def report(activations=ACTIVATIONS, depths=DEFAULT_DEPTHS, width=128, batch=128, seeds=2, in_cache=65536,
           out_of_cache=1 << 24, repeat=5, threads=None, jobs=1, progress=None, command="deepgrad.report()"):
    """Run a short float32 bench and a short sweep (plain and residual, init auto, no norm) and join them."""
    from . import bench, theory
    from ._runtime import cpu_features, get_num_threads
    from .depth_sweep import sweep
    activations = list(activations)
    depths = sorted(set(depths))
    names = list(dict.fromkeys(["relu", *activations]))
    costs = bench.activations(sizes=sorted({in_cache, out_of_cache}), dtypes=["float32"], threads=threads,
                              repeat=repeat, names=names, numpy=False, torch=False, progress=None)
    result = sweep(depths=depths, activations=activations, residual=[False, True], norm=[None], init=["auto"],
                   width=width, batch=batch, seeds=seeds, progress=progress, jobs=jobs)
    summary = result.summary(step=0)

    def cost(act, direction, n, column="relative_to_relu"):
        rows = costs.filter(activation=act, direction=direction, n=n, contender="deepgrad").rows
        return rows[0][column] if rows else None

    rows = []
    for act in activations:
        row = {"activation": act,
               "fwd_cache_x_relu": cost(act, "fwd", in_cache), "bwd_cache_x_relu": cost(act, "bwd", in_cache),
               "fwd_dram_x_relu": cost(act, "fwd", out_of_cache), "bwd_dram_x_relu": cost(act, "bwd", out_of_cache),
               "fwd_cache_ns": cost(act, "fwd", in_cache, "ns_per_element"),
               "fwd_dram_ns": cost(act, "fwd", out_of_cache, "ns_per_element")}
        for d in depths:
            for residual, kind in ((False, "plain"), (True, "residual")):
                s = summary.filter(activation=act, depth=d, residual=residual).rows
                row[f"{kind}_d{d}"] = s[0]["ratio_first_last"] if s else None
        sigma_w2 = theory.init_sigma_w2("auto", act, fan_in=width, fan_out=width)
        row["chi1"] = theory.chi1(act, sigma_w2, 0.0)
        plain = summary.filter(activation=act, depth=depths[0], residual=False).rows[0]
        row["saturated_or_dead"] = plain["saturated"] if plain["saturated"] is not None else plain["dead"]
        rows.append(row)
    meta = dict(machine=cpu_features(), date=datetime.date.today().isoformat(), depths=depths, command=command,
                settings=dict(width=width, batch=batch, seeds=seeds, in_cache=in_cache, out_of_cache=out_of_cache,
                              repeat=repeat, threads=threads or get_num_threads()),
                bench_rows=len(costs), sweep_rows=len(result))
    return Report(rows, _columns(depths), meta)
