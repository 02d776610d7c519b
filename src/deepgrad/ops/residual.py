"""The residual connection y = x + f(x) (C kernels: csrc/residual.c).

dy/dx = 1 + f'(x): the `1` is the identity path, the gradient highway that carries
the upstream gradient to x unchanged however small f'(x) is. Both directions are one
elementwise add; `out` may be either input itself (in place), any other overlap raises.
"""
from .. import _core
from .. import _validate as v


def residual_add(x, fx, out=None):
    """y = x + fx: the block input x (identity path) plus the branch output fx = f(x)."""
    flat_out, (flat_x, flat_fx), out = v.elementwise("residual_add", [("x", x), ("fx", fx)], out)
    _core.residual_forward(flat_out, flat_x, flat_fx)
    return out


def residual_backward(grad_out, grad_branch, out=None):
    """grad_x = grad_out + grad_branch.

    grad_out is dL/dy, which reaches x through the identity with factor exactly 1;
    grad_branch is dL/dy carried back through f (what the block's backward returned).
    """
    flat_out, (flat_g, flat_b), out = v.elementwise(
        "residual_backward", [("grad_out", grad_out), ("grad_branch", grad_branch)], out)
    _core.residual_backward(flat_out, flat_g, flat_b)
    return out
