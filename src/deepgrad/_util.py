"""Small numeric helpers shared by the Python layers."""
import math

import numpy as np


def l2_norm(a):
    """L2 norm of any array, accumulated in float64 (float32 squares of a vanished 1e-20
    gradient would underflow). einsum, not np.dot: np.dot wakes NumPy's BLAS threads,
    which then compete with the kernels' OpenMP threads for the cores."""
    flat = np.asarray(a).reshape(-1).astype(np.float64, copy=False)
    return float(math.sqrt(np.einsum("i,i->", flat, flat))) if flat.size else 0.0
