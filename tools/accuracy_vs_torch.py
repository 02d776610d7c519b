"""float32 forward accuracy of deepgrad, PyTorch and NumPy side by side -- a development aid.

    python tools/accuracy_vs_torch.py            # needs scipy (the test extras) and torch

The speed targets of the activations compare deepgrad's kernels with PyTorch's and NumPy's;
this prints what each of them computes, in ulps of the float32 result against the float64
reference of tests/test_activation_accuracy.py (ref64, ulp_error_f32), over three ranges:
|x| <= 3, |x| <= 8 and the negative tail -20 <= x < -8, where the exact results are tiny but
nonzero (deepgrad's kernels are held to 4 ulp over the whole float range by that test).
"""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import deepgrad  # noqa: E402
from deepgrad import ops  # noqa: E402
from test_activation_accuracy import ref64, ulp_error_f32  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the NumPy and deepgrad columns still print
    torch = None


def contenders(name):
    """{implementation: f(x float32) -> float32 array} for one activation."""
    impl = {"deepgrad": {
        "sigmoid": ops.sigmoid, "tanh": ops.tanh, "silu": ops.silu,
        "gelu": lambda x: ops.gelu(x), "gelu_tanh": lambda x: ops.gelu(x, "tanh")}[name]}
    if torch is not None:
        t = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "silu": F.silu,
             "gelu": lambda v: F.gelu(v), "gelu_tanh": lambda v: F.gelu(v, approximate="tanh")}[name]
        impl["torch"] = lambda x: t(torch.from_numpy(x)).numpy()
    numpy_forms = {
        "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
        "tanh": np.tanh,
        "silu": lambda x: x / (1 + np.exp(-x)),
        "gelu_tanh": lambda x: 0.5 * x * (1 + np.tanh(np.float32(np.sqrt(2 / np.pi))
                                                    * (x + np.float32(0.044715) * x ** 3))),
    }
    if name in numpy_forms:
        impl["numpy"] = numpy_forms[name]
    return impl


def main():
    deepgrad.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
    ranges = {"|x| <= 3": np.linspace(-3, 3, 300_001, dtype=np.float32),
              "|x| <= 8": np.linspace(-8, 8, 400_001, dtype=np.float32),
              "-20 <= x < -8": np.linspace(-20, -8, 120_001, dtype=np.float32)[:-1]}
    print(f"{'activation':10s} {'implementation':14s} " + " ".join(f"{r:>22s}" for r in ranges))
    for name in ["sigmoid", "tanh", "silu", "gelu", "gelu_tanh"]:
        for impl, f in contenders(name).items():
            cells = []
            for x in ranges.values():
                ref, scale = ref64(name, x)
                with np.errstate(all="ignore"):
                    got = np.asarray(f(x.copy()), dtype=np.float32)
                err = ulp_error_f32(got, ref, scale)
                cells.append(f"max {err.max():9.3g} ulp")
            print(f"{name:10s} {impl:14s} " + " ".join(f"{c:>22s}" for c in cells))


if __name__ == "__main__":
    main()
