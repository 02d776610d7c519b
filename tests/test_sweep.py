"""deepgrad.sweep and `deepgrad sweep`: the textbook numbers, theory vs measurement,
the residual/norm families pinned with fixed seeds, files, plots and the command line."""
import concurrent.futures as cf
import csv
import json
import math
import struct

import numpy as np
import pytest

import deepgrad
from deepgrad import cli
from deepgrad.depth_sweep import COLUMNS, SUMMARY_COLUMNS


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def summary_by(result, **where):
    rows = result.summary().filter(**where).rows
    assert len(rows) == 1, rows
    return rows[0]


# ------------------------------------------------------------------ textbook numbers

@pytest.mark.parametrize("depth,expected", [(5, "9.77e-04"), (10, "9.54e-07"), (20, "9.09e-13")])
def test_sigmoid_chain_held_at_zero_passes_quarter_to_the_depth(depth, expected):
    """L sigmoid layers with W = I and biases that hold every pre-activation at exactly 0
    (input 0, first bias 0, later biases -0.5 = -sigmoid(0)): each layer multiplies the
    gradient by sigmoid'(0) = 0.25, so layer 1 receives 0.25**L of the top gradient."""
    width = 4
    model = deepgrad.mlp(depth, width, width, 2, activation="sigmoid", dtype=np.float64, rng=0)
    hidden = model[:-1]  # the L hidden layers, without the head
    for i, unit in enumerate(hidden):
        dense = unit[0]
        dense.weight.data[...] = np.eye(width)
        dense.bias.data[...] = 0.0 if i == 0 else -0.5
    y = hidden.forward(np.zeros((1, width)))
    np.testing.assert_array_equal(y, 0.5)
    grad = hidden.backward(np.ones((1, width)))
    np.testing.assert_array_equal(grad, 0.25 ** depth)
    assert f"{grad[0, 0]:.2e}" == expected


def test_active_relu_chain_keeps_the_gradient():
    width, depth = 4, 30
    model = deepgrad.mlp(depth, width, width, 2, activation="relu", dtype=np.float64, rng=0)
    hidden = model[:-1]
    for unit in hidden:
        unit[0].weight.data[...] = np.eye(width)
        unit[0].bias.data[...] = 0.0
    hidden.forward(np.full((3, width), 0.7))
    np.testing.assert_array_equal(hidden.backward(np.ones((3, width))), 1.0)


def test_sigmoid_measured_factor_per_layer_is_at_most_a_quarter():
    r = deepgrad.sweep(depths=[12], activations=["sigmoid"], residual=[False], norm=[None], width=256,
                       batch=64, seeds=2, progress=False)
    s = summary_by(r)
    per_layer = s["ratio_first_last"] ** (1 / 11)
    assert per_layer <= 0.25
    assert 0.2 < per_layer  # about 0.236 (chi1 = 0.0557), not far below the ceiling


# ------------------------------------------------------------------ theory vs measurement

@pytest.mark.parametrize("init", ["xavier_normal", "kaiming_normal"])
def test_measured_decay_matches_mean_field_within_ten_percent(init):
    """Plain networks, width 512, depth 10, averaged over 3 seeds: the measured per-layer
    gradient factor (ratio first/last)^(1/(depth-1)) within 10% of the theory's."""
    r = deepgrad.sweep(depths=[10], activations=["sigmoid", "tanh", "relu"], residual=[False], norm=[None],
                       init=[init], width=512, batch=128, seeds=3, progress=False)
    for act in ("sigmoid", "tanh", "relu"):
        s = summary_by(r, activation=act)
        measured = s["ratio_first_last"] ** (1 / 9)
        predicted = s["predicted_ratio"] ** (1 / 9)
        assert abs(measured / predicted - 1) < 0.10, (act, init, measured, predicted)


def test_every_row_carries_the_prediction_for_plain_networks_only():
    r = deepgrad.sweep(depths=[4], activations=["tanh"], residual=[False, True], norm=[None, "layernorm"],
                       width=32, batch=16, seeds=1, progress=False)
    for row in r.rows:
        plain = not row["residual"] and row["norm"] is None
        assert (row["predicted_ratio"] is not None) == plain
        if plain and row["layer"] == 4:
            assert row["predicted_ratio"] == 1.0 and row["grad_ratio"] == 1.0


# ------------------------------------------------------------------ the families, pinned

@pytest.fixture(scope="module")
def depth20():
    """Depth 20, width 128, batch 128, seeds 0 and 1, at init (fixed: the numbers below are measured)."""
    return deepgrad.sweep(depths=[20], activations=["relu", "sigmoid"], residual=[False, True],
                          norm=[None, "layernorm"], norm_position=["pre", "post"], width=128, batch=128,
                          seeds=2, progress=False)


@pytest.mark.parametrize("activation,residual,norm,position,low,high", [
    ("sigmoid", False, None, None, 1e-14, 1e-11),     # measured 1.0e-12: -12.6 dB per layer
    ("sigmoid", False, "layernorm", None, 1e-10, 1e-6),  # 1.2e-8: the norm does not rescue sigmoid
    ("relu", False, None, None, 0.3, 3.0),            # 0.95: He keeps it level
    ("relu", False, "layernorm", None, 0.2, 3.0),     # 0.69
    ("relu", True, None, None, 300, 3e4),             # 2.9e3: grows toward the input (+3.6 dB per block)
    ("relu", True, "layernorm", "pre", 1.5, 30),      # 4.3: within an order of magnitude
    ("relu", True, "layernorm", "post", 1.5, 30),     # 3.8
    ("sigmoid", True, None, None, 0.5, 3.0),          # 1.2: the identity path carries it
    ("sigmoid", True, "layernorm", "pre", 0.5, 5.0),  # 1.4
    ("sigmoid", True, "layernorm", "post", 0.5, 5.0),  # 1.0
])
def test_gradient_ratio_of_each_family_at_depth_20(depth20, activation, residual, norm, position, low, high):
    s = summary_by(depth20, activation=activation, residual=residual, norm=norm, norm_position=position)
    assert low < s["ratio_first_last"] < high, s["ratio_first_last"]


def test_training_steps_record_loss_and_trainability():
    """Depth 20, width 64, 40 full-batch Adam steps (lr 1e-3), seed 0: the plain sigmoid
    network stays at chance (loss ~ ln 10 = 2.30), the pre-norm residual ReLU network learns."""
    r = deepgrad.sweep(depths=[20], activations=["sigmoid", "relu"], residual=[False, True], norm=["layernorm"],
                       width=64, batch=128, seeds=1, steps=40, progress=False)
    assert sorted({row["step"] for row in r.rows}) == [0, 10, 20, 30, 40]
    stuck = summary_by(r, activation="sigmoid", residual=False, step=40)
    learns = summary_by(r, activation="relu", residual=True, step=40)
    assert stuck["loss"] > 2.0  # measured 2.26
    assert learns["loss"] < 0.2  # measured 0.010
    assert not stuck["first_layer_usable"] and learns["first_layer_usable"]


# ------------------------------------------------------------------ execution

SMALL = dict(depths=[3, 6], activations=["sigmoid", "relu"], residual=[False, True], norm=[None],
             width=16, batch=8, seeds=2, progress=False)


def test_results_do_not_depend_on_workers_executor_or_threads():
    serial = deepgrad.sweep(**SMALL).rows
    assert deepgrad.sweep(jobs=2, **SMALL).rows == serial
    with cf.ThreadPoolExecutor(2) as pool:
        assert deepgrad.sweep(executor=pool, **SMALL).rows == serial
    assert deepgrad.sweep(threads=2, **SMALL).rows == serial


def test_dask_executor_gives_the_serial_result():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        rows = deepgrad.sweep(executor=client.get_executor(), **SMALL).rows
    assert rows == deepgrad.sweep(**SMALL).rows


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="activations contains 'swish'"):
        deepgrad.sweep(activations=["swish"], depths=[2])
    with pytest.raises(ValueError, match="norm contains 'groupnorm'"):
        deepgrad.sweep(norm=["groupnorm"], depths=[2])
    with pytest.raises(ValueError, match="depths"):
        deepgrad.sweep(depths=[0])


# ------------------------------------------------------------------ files and plots

def test_csv_and_json_have_the_documented_columns(tmp_path):
    r = deepgrad.sweep(**SMALL)
    assert r.columns == COLUMNS and len(r) == 2 * 2 * 2 * (3 + 6)
    with open(r.to_csv(tmp_path / "s.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == COLUMNS and len(rows) == len(r)
    r.to_json(tmp_path / "s.json")
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["columns"] == COLUMNS and len(doc["rows"]) == len(r) and "machine" in doc["meta"]
    s = r.summary()
    assert s.columns == SUMMARY_COLUMNS and len(s) == 8
    for row in r.rows:
        assert row["grad_norm"] > 0 and math.isfinite(row["loss"])


def test_plots_are_pngs_of_the_stated_size(tmp_path):
    pytest.importorskip("matplotlib")
    r = deepgrad.sweep(**SMALL)
    assert png_size(r.plot(tmp_path / "g.png")) == (1400, 600)
    assert png_size(r.plot_theory(tmp_path / "t.png")) == (700, 600)


def test_cli_runs_end_to_end(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "results"
    code = cli.main(["sweep", "--depths", "3,5", "--activations", "sigmoid,relu", "--residual", "both",
                     "--norm", "none,layernorm", "--width", "16", "--batch", "8", "--seeds", "1", "--jobs", "1",
                     "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "sigmoid" in text and "res pre-LN" in text
    for name in ("sweep.csv", "sweep.json", "summary.csv", "gradient_flow.png", "theory.png"):
        assert (out / name).stat().st_size > 0
    assert png_size(out / "gradient_flow.png") == (1400, 600)


@pytest.mark.parametrize("argv", [["sweep", "--depths", "x"], ["sweep", "--activations", "swish"],
                                  ["sweep", "--residual", "maybe"], ["sweep", "--norm", "group"],
                                  ["sweep", "--width", "0"], ["sweep", "--bogus"]])
def test_cli_bad_flags_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_python_dash_m_deepgrad_works():
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "deepgrad", "sweep", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "--norm-position" in done.stdout


def test_demo_command_tells_the_same_story(capsys):
    """`deepgrad demo`: sigmoid (Xavier) below the 0.25**depth ceiling, ReLU (He) level."""
    for depth in (5, 10, 20):
        assert cli.gradient_survival("sigmoid", depth, width=128, seed=1) < 0.25 ** depth
        assert 0.5 < cli.gradient_survival("relu", depth, width=128, seed=1) < 2.0
    assert cli.main(["demo", "--depths", "3,6", "--width", "64"]) == 0
    assert "0.25^depth" in capsys.readouterr().out


def test_critical_init_with_bias_variance_sits_at_the_edge_of_chaos():
    """tanh, sigma_b2 = 0.05, width 512, depth 10, 3 seeds: init="critical" (sigma_w2 = 1.761)
    keeps the gradient far better than Xavier (sigma_w2 = 1), and both match the theory."""
    r = deepgrad.sweep(depths=[10], activations=["tanh"], residual=[False], norm=[None],
                       init=["xavier_normal", "critical"], sigma_b2=0.05, width=512, batch=128, seeds=3,
                       progress=False)
    per_layer = {}
    for s in r.summary().rows:
        measured, predicted = s["ratio_first_last"] ** (1 / 9), s["predicted_ratio"] ** (1 / 9)
        assert abs(measured / predicted - 1) < 0.10, (s["init"], measured, predicted)
        per_layer[s["init"]] = measured
    assert per_layer["critical"] > 0.93 > 0.85 > per_layer["xavier_normal"]  # measured 0.960 and 0.828
    assert all(row["sigma_b2"] == 0.05 for row in r.rows)
