"""Helpers shared by the benchmark modules (imported as `_bench_utils`)."""
import os

import numpy as np

import deepgrad

BENCH_THREADS = int(os.environ.get("BENCH_THREADS", "1"))

try:
    import torch
except ImportError:  # PyTorch contenders are skipped
    torch = None


def describe(benchmark, **info):
    """Record the machine and the setting beside each result."""
    benchmark.extra_info.update(simd=deepgrad.get_simd(), threads=BENCH_THREADS,
                                cpu=deepgrad.cpu_features()["cpu"], numpy=np.__version__,
                                torch=getattr(torch, "__version__", None), **info)
