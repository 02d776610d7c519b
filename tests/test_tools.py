"""The measurement scripts of tools/ still run against the package as installed.

Only a smoke test: tiny arrays, one trial; the figures themselves are not checked (they are
timings). tools/ab_norm.py needs an in-place build (it links build/'s objects) and is not run.
"""
import os
import subprocess
import sys

import pytest

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")


def run_tool(name, *args):
    path = os.path.join(TOOLS, name)
    if not os.path.exists(path):
        pytest.skip(f"{name} is not beside the tests (installed tests without the source tree)")
    return subprocess.run([sys.executable, path, *args], capture_output=True, text=True,
                          timeout=300, cwd=os.path.dirname(TOOLS))


def check_norm_floor(r, with_torch):
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("8x1024 float32, 1 thread")
    assert "read one array" in lines[1] and "write one array" in lines[1]
    for kernel in ("layernorm fwd", "layernorm bwd", "batchnorm fwd", "batchnorm bwd"):
        row = [line for line in lines if line.strip().startswith(kernel)]
        assert len(row) == 1, r.stdout
        fields = row[0].split()
        floor, dg, pt = fields[2], fields[3], fields[4]
        assert float(floor) > 0 and float(dg) > 0
        assert (pt != "-") == with_torch, row[0]


def test_norm_floor_prints_every_kernel_against_its_floor():
    check_norm_floor(run_tool("norm_floor.py", "--rows", "8", "--trials", "1", "--no-torch"), False)


def test_norm_floor_with_torch_beside_deepgrad():
    pytest.importorskip("torch")
    check_norm_floor(run_tool("norm_floor.py", "--rows", "8", "--trials", "1"), True)
