"""deepgrad.report / `deepgrad report`: consistent with deepgrad.sweep and deepgrad.bench, files and plots."""
import json
import struct

import pytest

import deepgrad
from deepgrad import cli

TINY = dict(activations=["relu", "sigmoid", "tanh"], depths=[3, 5], width=16, batch=8, seeds=1, in_cache=4096,
            out_of_cache=16384, repeat=1)


@pytest.fixture(scope="module")
def rep():
    return deepgrad.report(**TINY)


def test_one_row_per_activation_with_every_column(rep):
    assert [r["activation"] for r in rep.rows] == TINY["activations"]
    for r in rep.rows:
        for col in rep.columns:
            assert col in r
        assert r["fwd_cache_ns"] > 0 and r["fwd_dram_ns"] > 0
    relu = rep.rows[0]
    assert relu["fwd_cache_x_relu"] == relu["bwd_cache_x_relu"] == relu["fwd_dram_x_relu"] == 1.0


def test_gradient_columns_equal_the_sweep(rep):
    result = deepgrad.sweep(depths=[3, 5], activations=["relu", "sigmoid", "tanh"], residual=[False, True],
                            norm=[None], init=["auto"], width=16, batch=8, seeds=1, progress=False)
    summary = result.summary(step=0)
    for r in rep.rows:
        for d in (3, 5):
            for residual, kind in ((False, "plain"), (True, "residual")):
                s = summary.filter(activation=r["activation"], depth=d, residual=residual).rows[0]
                assert r[f"{kind}_d{d}"] == s["ratio_first_last"]


def test_chi1_column_is_the_theory(rep):
    chi = {r["activation"]: r["chi1"] for r in rep.rows}
    assert chi["relu"] == pytest.approx(1.0, abs=1e-9)  # He: exactly critical
    assert chi["sigmoid"] == pytest.approx(0.0557207, rel=1e-4)


def test_markdown_and_reading(rep):
    md = rep.to_markdown()
    assert md.startswith("| activation |") and "| sigmoid |" in md
    assert rep.reading() in md and "Sigmoid costs" in rep.reading()
    assert rep.meta["machine"]["cpu"] in md and rep.meta["date"] in md


def test_files_and_plot(rep, tmp_path):
    pytest.importorskip("matplotlib")
    path = rep.plot(tmp_path / "r.png")
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (900, 650)
    rep.to_json(tmp_path / "r.json")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["columns"] == rep.columns and len(doc["rows"]) == 3


def test_cli_end_to_end(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "rep"
    code = cli.main(["report", "--activations", "relu,sigmoid", "--depths", "3,4", "--width", "16", "--batch", "8",
                     "--seeds", "1", "--in-cache", "4096", "--out-of-cache", "8192", "--repeat", "1", "--markdown",
                     "--out", str(out)])
    assert code == 0
    assert "| activation |" in capsys.readouterr().out
    for name in ("report.md", "report.csv", "report.json", "report.png"):
        assert (out / name).stat().st_size > 0


@pytest.mark.parametrize("argv", [["report", "--depths", "a"], ["report", "--activations", "softplus"],
                                  ["report", "--repeat", "0"]])
def test_cli_bad_flags(argv):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
