"""deepgrad.bench, deepgrad._table.ResultTable and `deepgrad bench`.

No timing asserts: the numbers must be consistent with each other and with the clock, not fast.
"""
import csv
import io
import itertools
import json
import math
import struct
import sys
import time

import numpy as np
import pytest

import deepgrad
from deepgrad import bench, ops
from deepgrad._table import ResultTable
from deepgrad.cli import main

try:
    import torch
except ImportError:
    torch = None

NAMES = list(ops.ACTIVATIONS)
TINY = dict(sizes=[1024, 4096], repeat=3, threads=1)


@pytest.fixture(scope="module")
def tiny():
    """One small real run (both dtypes, every contender), with the wall time around it."""
    t0 = time.perf_counter_ns()
    table = bench.activations(dtypes=["float32", "float64"], **TINY)
    return table, time.perf_counter_ns() - t0


def _by_key(table):
    return {(r["activation"], r["direction"], r["dtype"], r["n"], r["contender"]): r for r in table.rows}


# ---------------------------------------------------------------- what is measured

def test_rows_cover_every_case(tiny):
    table, _ = tiny
    assert table.columns == bench.COLUMNS
    keys = set(_by_key(table))
    assert len(keys) == len(table), "one row per case"
    for dtype in ("float32", "float64"):
        for n in TINY["sizes"]:
            for direction in ("fwd", "bwd"):
                for name in [*NAMES, "copy"]:
                    assert (name, direction, dtype, n, "deepgrad") in keys
                    assert ((name, direction, dtype, n, "numpy") in keys) == (name != "gelu")  # no erf
                    if torch is not None:
                        assert (name, direction, dtype, n, "torch") in keys
                libm = [k for k in keys if k[4] == "deepgrad-libm" and k[1] == direction and k[2:4] == (dtype, n)]
                assert libm == ([("sigmoid", "fwd", dtype, n, "deepgrad-libm")] if direction == "fwd" else [])
    if torch is None:
        assert not table.filter(contender="torch").rows


def test_numbers_are_consistent(tiny):
    table, wall_ns = tiny
    rows = _by_key(table)
    for (name, direction, dtype, n, who), r in rows.items():
        itemsize = np.dtype(dtype).itemsize
        assert r["median_ns"] > 0 and r["min_ns"] > 0 and r["inner"] >= 1
        assert r["min_ns"] <= r["median_ns"]
        assert r["repeat"] == TINY["repeat"]
        assert r["threads"] == (1 if who == "numpy" else TINY["threads"])
        assert r["bytes"] == (2 if direction == "fwd" else 3) * n * itemsize
        assert r["ns_per_element"] * n == pytest.approx(r["median_ns"], rel=1e-12)
        assert r["gb_per_s"] * r["median_ns"] == pytest.approx(r["bytes"], rel=1e-12)
        roof = rows[("copy", direction, dtype, n, "deepgrad")]["median_ns"]
        assert r["roof_fraction"] == pytest.approx(roof / r["median_ns"], rel=1e-12)
        relu = rows.get(("relu", direction, dtype, n, who), rows[("relu", direction, dtype, n, "deepgrad")])
        assert r["relative_to_relu"] == pytest.approx(r["median_ns"] / relu["median_ns"], rel=1e-12)
        ref = rows[("sigmoid" if who == "deepgrad-libm" else name, direction, dtype, n, "deepgrad")]
        assert r["relative_to_deepgrad"] == pytest.approx(r["median_ns"] / ref["median_ns"], rel=1e-12)
        if name == "relu":
            assert r["relative_to_relu"] == 1.0
        if who == "deepgrad":
            assert r["relative_to_deepgrad"] == 1.0
        if (name, who) == ("copy", "deepgrad"):
            assert r["roof_fraction"] == 1.0
    # every timed run lies inside the call: the measured time cannot exceed the wall time
    timed = sum(r["min_ns"] * r["inner"] * r["repeat"] for r in table.rows)
    assert 0 < timed <= wall_ns


def test_a_tiny_configuration_runs_in_a_few_seconds(tiny):
    _, wall_ns = tiny
    # generous (shared, noisy machine): this guards the size of the configuration, not the speed
    assert wall_ns < 30e9


def test_timing_arithmetic_with_a_fake_clock(monkeypatch):
    # every read of the clock advances it by 3 ms: one call "takes" 3 ms > min_time, so inner == 1
    # and every timed run is exactly 3 ms
    step = 3_000_000
    monkeypatch.setattr(bench, "_clock", itertools.count(0, step).__next__)
    table = bench.activations(sizes=[100, 300], dtypes=["float64"], repeat=4, threads=1,
                              names=["relu", "tanh"], numpy=False, torch=False)
    assert len(table) == 2 * 3 * 2  # sizes x (relu, tanh, copy) x (fwd, bwd); no sigmoid, so no libm
    for r in table.rows:
        assert r["inner"] == 1
        assert r["median_ns"] == r["min_ns"] == step
        assert r["ns_per_element"] == step / r["n"]
        assert r["gb_per_s"] == r["bytes"] / step
        assert r["roof_fraction"] == r["relative_to_relu"] == 1.0
    assert {r["contender"] for r in table.rows} == {"deepgrad"}


def test_inner_loop_reaches_min_time(monkeypatch):
    # a clock that advances 1 us per read: one call looks like 1 us, so 2 ms needs 2000 calls
    monkeypatch.setattr(bench, "_clock", itertools.count(0, 1000).__next__)
    table = bench.activations(sizes=[64], dtypes=["float32"], repeat=2, threads=1, names=["relu"],
                              numpy=False, torch=False, min_time=2e-3)
    assert {r["inner"] for r in table.rows} == {2000}
    assert {r["median_ns"] for r in table.rows} == {1000 / 2000}


def test_progress_reaches_total():
    calls = []
    bench.activations(sizes=[256], dtypes=["float32"], repeat=2, threads=1, names=["relu"],
                      numpy=False, torch=False, min_time=0, progress=lambda *a: calls.append(a))
    done = [c[0] for c in calls]
    assert done == list(range(1, len(calls) + 1))
    assert calls[-1][0] == calls[-1][1]
    assert all(isinstance(c[2], str) for c in calls)


def test_settings_are_restored():
    before = deepgrad.get_num_threads(), deepgrad.get_simd()
    torch_before = torch.get_num_threads() if torch is not None else None
    other = 1 if before[0] != 1 else 2
    table = bench.activations(sizes=[256], dtypes=["float32"], repeat=1, threads=other, names=["relu"],
                              numpy=False, simd="portable", min_time=0)
    assert table.meta["machine"]["num_threads"] == other
    assert table.meta["machine"]["simd_active"] == "portable"
    assert (deepgrad.get_num_threads(), deepgrad.get_simd()) == before
    if torch is not None:
        assert torch.get_num_threads() == torch_before


def test_numpy_and_torch_can_be_left_out():
    table = bench.activations(sizes=[256], dtypes=["float32"], repeat=1, threads=1, numpy=False,
                              torch=False, min_time=0)
    assert {r["contender"] for r in table.rows} == {"deepgrad", "deepgrad-libm"}
    assert set(table.meta["contenders"]) == {"deepgrad", "deepgrad-libm"}


def test_names_subset_always_has_relu_and_libm_only_with_sigmoid():
    table = bench.activations(sizes=[256], dtypes=["float32"], repeat=1, threads=1, names=["tanh"],
                              numpy=False, torch=False, min_time=0)
    assert {r["activation"] for r in table.rows} == {"relu", "tanh", "copy"}
    assert "deepgrad-libm" not in {r["contender"] for r in table.rows}


@pytest.mark.parametrize("kwargs, error", [
    (dict(sizes=[0]), ValueError), (dict(sizes=[]), ValueError), (dict(sizes=[1.5]), TypeError),
    (dict(dtypes=["float16"]), ValueError), (dict(dtypes=[]), ValueError),
    (dict(names=["softmax"]), ValueError), (dict(repeat=0), ValueError), (dict(threads=0), ValueError),
    (dict(min_time=-1), ValueError), (dict(simd="sse"), ValueError),
])
def test_bad_arguments(kwargs, error):
    before = deepgrad.get_num_threads(), deepgrad.get_simd()
    with pytest.raises(error):
        bench.activations(**{**dict(sizes=[64], dtypes=["float32"], repeat=1, numpy=False, torch=False),
                             **kwargs})
    assert (deepgrad.get_num_threads(), deepgrad.get_simd()) == before


def test_machine_description(tiny):
    m = tiny[0].meta["machine"]
    for key in ("cpu", "simd_active", "simd_supported", "num_threads", "numpy", "torch", "caches", "deepgrad"):
        assert key in m
    assert m["num_threads"] == 1
    assert m["numpy"] == np.__version__
    assert m["torch"] == (torch.__version__ if torch is not None else None)
    assert m["simd_active"] in deepgrad.simd_paths()
    assert all(isinstance(v, int) and v > 0 for v in m["caches"].values())


# ---------------------------------------------------------------- the contenders compute the same thing

@pytest.mark.parametrize("who", ["numpy", "torch"])
@pytest.mark.parametrize("name", [*NAMES, "copy"])
def test_contenders_do_the_same_work(who, name, rng):
    if who == "torch" and torch is None:
        pytest.skip("PyTorch not installed")
    table = bench.contenders(numpy=True, torch=True)
    mine = table["deepgrad"].kernels[name]
    theirs = table[who].kernels.get(name)
    if theirs is None:
        assert (who, name) == ("numpy", "gelu")  # the only documented gap
        return
    wrap = table[who].wrap or (lambda a: a)
    x = rng.standard_normal(1001) * 3
    g = rng.standard_normal(1001)
    saved = ops.ACTIVATIONS[name][0](x) if name != "copy" and ops.ACTIVATIONS[name][2] == "y" else x
    for direction, (f_mine, f_theirs) in zip(("fwd", "bwd"), zip(mine, theirs)):
        if f_theirs is None:
            continue
        expect, out = np.empty_like(x), np.empty_like(x)
        args = (x,) if direction == "fwd" else (g, saved)
        f_mine(*args, expect)
        f_theirs(*(wrap(a) for a in args), wrap(out))
        np.testing.assert_allclose(out, expect, rtol=1e-6, atol=1e-12, err_msg=f"{who} {name} {direction}")


def test_libm_sigmoid_matches_sigmoid(rng):
    x = rng.standard_normal(513) * 5
    out = np.empty_like(x)
    bench.contenders()["deepgrad-libm"].kernels["sigmoid"][0](x, out)
    np.testing.assert_allclose(out, ops.sigmoid(x), rtol=1e-12)


# ---------------------------------------------------------------- the table: CSV, JSON, filter

def test_csv_round_trip(tiny, tmp_path):
    table = tiny[0]
    text = table.to_csv()
    header = next(csv.reader(io.StringIO(text)))
    assert header == bench.COLUMNS
    path = table.to_csv(tmp_path / "b.csv")
    assert open(path).read() == text
    back = bench.ActivationBench.read_csv(path)
    assert back.columns == table.columns
    assert back.rows == table.rows  # floats are written with repr: exact


def test_json_round_trip(tiny, tmp_path):
    table = tiny[0]
    doc = json.loads(table.to_json())
    assert doc["columns"] == bench.COLUMNS
    assert doc["meta"]["machine"]["cpu"] == table.meta["machine"]["cpu"]
    path = table.to_json(tmp_path / "b.json")
    back = bench.ActivationBench.read_json(path)
    assert isinstance(back, bench.ActivationBench)
    assert back.rows == table.rows and back.columns == table.columns
    assert back.meta["machine"] == table.meta["machine"]


def test_filter_and_column(tiny):
    table = tiny[0]
    part = table.filter(contender="deepgrad", dtype="float32", n=[1024])
    assert isinstance(part, bench.ActivationBench) and part.meta is not table.meta
    assert len(part) == 2 * (len(NAMES) + 1)
    assert set(part.column("activation")) == {*NAMES, "copy"}
    assert len(table.filter(n=(1024, 4096))) == len(table)
    with pytest.raises(KeyError, match="nope"):
        table.filter(nope=1)
    with pytest.raises(KeyError):
        table.column("nope")


def test_result_table_generic(tmp_path):
    t = ResultTable([{"depth": 5, "norm": 1e-3}, {"depth": 10, "norm": float("nan"), "act": "relu"}],
                    meta={"machine": {"cpu": "x"}})
    assert t.columns == ["depth", "norm", "act"]
    assert len(t) == 2 and list(t)[0]["depth"] == 5
    assert t.to_csv().splitlines() == ["depth,norm,act", "5,0.001,", "10,nan,relu"]
    doc = json.loads(t.to_json())
    assert doc["rows"][1]["norm"] is None  # NaN is not JSON
    assert doc["rows"][0]["act"] is None
    back = ResultTable.read_csv(t.to_csv(tmp_path / "t.csv"))
    assert back.rows[0] == {"depth": 5, "norm": 0.001, "act": None}
    assert math.isnan(back.rows[1]["norm"])
    with pytest.raises(ValueError, match="not in `columns`"):
        ResultTable([{"a": 1, "b": 2}], columns=["a"])


def test_to_pandas_or_clear_error(tiny):
    table = tiny[0]
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            table.to_pandas()
    else:
        frame = table.to_pandas()
        assert list(frame.columns) == bench.COLUMNS and len(frame) == len(table)
        assert frame.attrs["machine"] == table.meta["machine"]


def test_summary(tiny):
    entries = bench.summary(tiny[0])
    relu = [e for e in entries if e["activation"] == "relu"]
    assert relu and all(e["relative_to_relu"] == 1.0 for e in relu)
    assert all("numpy_ns_per_element" in e for e in relu)
    assert any(e["label"] == "sigmoid (libm)" for e in entries)
    assert any(e["label"] == "copy (roof)" for e in entries)


# ---------------------------------------------------------------- plot

def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_plot_writes_png(tiny, tmp_path):
    pytest.importorskip("matplotlib")
    path = tiny[0].plot(tmp_path / "b.png")
    assert _png_size(path) == (1200, 900)
    small = tiny[0].filter(dtype="float64").plot(tmp_path / "s.png", width=640, height=480)
    assert _png_size(small) == (640, 480)


def test_plot_without_matplotlib(tiny, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    with pytest.raises(ImportError, match=r"deepgrad\[plot\]"):
        tiny[0].plot(tmp_path / "b.png")


def test_plot_empty_table(tmp_path):
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="no rows"):
        bench.ActivationBench([], bench.COLUMNS).plot(tmp_path / "e.png")


def test_cache_sizes():
    sizes = bench.cache_sizes()
    assert all(k in ("L1d", "L2", "L3", "L4") for k in sizes)
    assert list(sizes.values()) == sorted(sizes.values())


# ---------------------------------------------------------------- command line

def test_cli_end_to_end(tmp_path, capsys):
    before = deepgrad.get_num_threads()
    out = tmp_path / "out"
    code = main(["bench", "--sizes", "512,2048", "--dtypes", "float32", "--repeat", "2", "--threads", "1",
                 "--activations", "relu,sigmoid", "--no-torch", "--out", str(out)])
    assert code == 0
    assert deepgrad.get_num_threads() == before
    text = capsys.readouterr().out
    assert "ns/elem" in text and "sigmoid (libm)" in text and "copy (roof)" in text
    with open(out / "bench.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["contender"] for r in rows} == {"deepgrad", "deepgrad-libm", "numpy"}
    assert {r["activation"] for r in rows} == {"relu", "sigmoid", "copy"}
    assert {int(r["n"]) for r in rows} == {512, 2048}
    assert json.loads((out / "bench.json").read_text())["meta"]["machine"]["num_threads"] == 1
    if "matplotlib" in sys.modules or _importable("matplotlib"):
        assert _png_size(out / "bench.png") == (1200, 900)


def _importable(name):
    try:
        __import__(name)
        return True
    except ImportError:
        return False


@pytest.mark.parametrize("flags", [
    ["--sizes", "abc"], ["--sizes", "0"], ["--dtypes", "float16"], ["--activations", "softmax"],
    ["--threads", "0"], ["--threads", "two"], ["--repeat", "-1"], ["--simd", "sse"], ["--bogus"],
])
def test_cli_bad_flags(flags, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", *flags])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: deepgrad" in err and "error:" in err
