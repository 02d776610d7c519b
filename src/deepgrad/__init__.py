"""deepgrad: C kernels that show, measure and explain why deep networks stop learning.

    import deepgrad as dg
    dg.ops.sigmoid(x)                 # kernels as functions on NumPy arrays
    dg.layers.ReLU()                  # layers with forward / backward / parameters
    dg.cpu_features()                 # SIMD path and threads in use
"""
from . import layers, ops, theory
from ._runtime import cpu_features, get_num_threads, get_simd, set_num_threads, set_simd, simd_paths
from .layers import *  # noqa: F401,F403  (layers are re-exported at the top level)
from .layers import __all__ as _layers_all

__version__ = "0.1.0"

__all__ = ["cpu_features", "get_num_threads", "get_simd", "layers", "ops", "set_num_threads",
           "set_simd", "simd_paths", "theory", *_layers_all]
