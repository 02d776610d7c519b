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
        row = [line for line in lines if line.strip().startswith(kernel) and "against" not in line]
        assert len(row) == 1, r.stdout
        fields = row[0].split()
        floor, dg, pt = fields[2], fields[3], fields[4]
        assert float(floor) > 0 and float(dg) > 0
        assert (pt != "-") == with_torch, row[0]
    add = [line for line in lines if line.strip().startswith("layernorm bwd against an add")]
    assert len(add) == 1, r.stdout
    assert ("1.5x PyTorch would take" in add[0]) == with_torch, add[0]


def test_norm_floor_prints_every_kernel_against_its_floor():
    check_norm_floor(run_tool("norm_floor.py", "--rows", "8", "--trials", "1", "--no-torch"), False)


def test_norm_floor_with_torch_beside_deepgrad():
    pytest.importorskip("torch")
    check_norm_floor(run_tool("norm_floor.py", "--rows", "8", "--trials", "1"), True)


@pytest.mark.slow
def test_norm_traffic_prints_kernels_and_bare_loops():
    """tools/norm_traffic.py builds its C harness with the library's sources (a C compiler
    and an AVX-512 CPU needed) and sets each backward against its bare loop."""
    import shutil

    import deepgrad
    if deepgrad.cpu_features()["simd_supported"] != "avx512":
        pytest.skip("the harness's bare loops are AVX-512")
    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("no C compiler")
    r = run_tool("norm_traffic.py", "--rows", "8", "--trials", "1", "--torch-us", "100,100")
    assert r.returncode == 0, r.stderr
    times = {line.split()[0]: float(line.split()[1]) for line in r.stdout.splitlines()[1:6]}
    assert sorted(times) == sorted(["add", "bn-traffic", "residual_forward", "layernorm_backward",
                                    "batchnorm_backward"]), r.stdout
    assert all(t > 0 for t in times.values()), r.stdout
    assert "layernorm_backward / add:" in r.stdout and "1.5x PyTorch (100 us)" in r.stdout
