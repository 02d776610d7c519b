"""Test-only numerics shared by the test modules."""
import numpy as np


def central_difference(f, arr, h=1e-6):
    """d f / d arr by central differences, one element at a time: (f(a + h) - f(a - h)) / 2h.

    f takes no arguments and reads `arr`, which is perturbed in place and restored.
    Use float64 arrays (float32 differences are dominated by rounding)."""
    num = np.zeros(arr.shape, dtype=np.float64)
    for i in np.ndindex(arr.shape):
        old = arr[i]
        arr[i] = old + h
        fp = f()
        arr[i] = old - h
        fm = f()
        arr[i] = old
        num[i] = (fp - fm) / (2 * h)
    return num
