"""Residual(block): y = x + block(x), the connection that keeps deep networks trainable."""
from .. import _validate as v
from ..ops import residual as R
from ._base import BufferCache, Layer


class Residual(Layer):
    """y = x + f(x) around any layer f (`block`) whose output has the input's shape.

    Backward: dL/dx = dL/dy + f'(x)^T dL/dy. The first term is the identity path --
    the gradient highway: it reaches x with factor exactly 1, however small the
    branch's Jacobian is (a saturated sigmoid, a dead ReLU, tiny weights). That is
    why a stack of residual blocks keeps its gradient where a plain stack loses it.

    parameters() are the block's. The sum is written into a buffer this layer owns
    (never into the block's output, which the block may keep for its own backward).
    """

    def __init__(self, block):
        if not isinstance(block, Layer):
            raise TypeError(f"Residual: block must be a deepgrad Layer, got {type(block).__name__}")
        self.block = block
        self._buffers = BufferCache()
        self._shape = None

    def children(self):
        return (self.block,)

    def named_parameters(self):
        """[("block.<name>", Parameter), ...]: torch's names for a module holding `self.block`
        (so a Residual(PreNormBranch(norm, Dense, act)) lists "block.0.weight", "block.1.weight",
        not two parameters both called "weight")."""
        from .container import named_parameters
        return [(f"block.{name}", p) for name, p in named_parameters(self.block)]

    def forward(self, x):
        func = "Residual.forward"
        x = v.float_array(x, "x", func)
        fx = self.block.forward(x)                               # the branch f(x)
        if getattr(fx, "shape", None) != x.shape:
            raise ValueError(f"{func}: the block maps shape {x.shape} to {getattr(fx, 'shape', None)}; "
                             f"a residual block must keep the shape")
        y = self._buffers.get("y", x.shape, x.dtype)
        self._shape = x.shape
        return R.residual_add(x, fx, out=y)                      # y = x (identity) + f(x)

    def backward(self, grad_out):
        func = "Residual.backward"
        if self._shape is None:
            raise RuntimeError(f"{func}: call forward before backward")
        grad_branch = self.block.backward(grad_out)              # dL/dy through f
        grad_x = self._buffers.get("grad_x", self._shape, grad_branch.dtype)
        return R.residual_backward(grad_out, grad_branch, out=grad_x)  # + dL/dy itself: the highway

    def __repr__(self):
        return f"Residual({self.block!r})"
