"""Test-only numerics shared by the test modules."""
import numpy as np

from deepgrad import ops

# The exp-based activations by name: forward f(x), and the backward kernels that take the
# forward input x, dout f'(x) as f(dout, x).
EXP_FORWARD = {
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "gelu": ops.gelu,
    "gelu_tanh": lambda x, **kw: ops.gelu(x, "tanh", **kw),
    "silu": ops.silu,
}
EXP_BACKWARD_X = {
    "gelu_bw": ops.gelu_backward,
    "gelu_tanh_bw": lambda g, x: ops.gelu_backward(g, x, "tanh"),
    "silu_bw": ops.silu_backward,
}


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
