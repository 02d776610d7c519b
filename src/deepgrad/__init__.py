"""deepgrad: C kernels that show, measure and explain why deep networks stop learning.

    import deepgrad as dg
    dg.ops.sigmoid(x)                 # kernels as functions on NumPy arrays
    dg.layers.ReLU()                  # layers with forward / backward / parameters
    dg.cpu_features()                 # SIMD path and threads in use
    dg.train(model, loss, dg.Adam(model), X, y)   # optimizers, init schemes, data sets, a loop
"""
import os as _os

# OpenMP threads that spin while waiting (libgomp's default) fight NumPy's BLAS threads,
# other processes and each other for the cores: measured on 2 cores under load, a
# 128^3 GEMM took 5.6 ms with spinning workers and 0.29 ms with sleeping ones. The
# libgomp that deepgrad loads reads OMP_WAIT_POLICY once, when _core loads it, so the
# variable is set (unless the user set it) only around that import and then restored:
# other libraries' OpenMP runtimes (PyTorch bundles its own) keep their setting.
_user_policy = _os.environ.get("OMP_WAIT_POLICY")
_os.environ["OMP_WAIT_POLICY"] = _user_policy or "PASSIVE"
try:
    from . import _core  # noqa: F401  (loads libgomp)
finally:
    if _user_policy is None:
        del _os.environ["OMP_WAIT_POLICY"]
from . import data, init, layers, ops, optim, theory
from ._runtime import cpu_features, get_num_threads, get_simd, set_num_threads, set_simd, simd_paths
from .layers import *  # noqa: F401,F403  (layers are re-exported at the top level)
from .layers import __all__ as _layers_all
from .optim import SGD, Adam, AdamW, clip_grad_norm, clip_grad_value
from .training import History, train
from .network import mlp
from .depth_sweep import SweepResult, sweep
from .activation_report import Report, report

__version__ = "0.1.0"

__all__ = ["Adam", "AdamW", "History", "SGD", "clip_grad_norm", "clip_grad_value", "cpu_features", "data",
           "get_num_threads", "get_simd", "init", "layers", "ops", "optim", "set_num_threads", "set_simd",
           "simd_paths", "theory", "train", "mlp", "report", "Report", "sweep", "SweepResult", *_layers_all]
