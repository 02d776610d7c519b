# Bindings of csrc/loss.c (included by _core.pyx). The Python layer (deepgrad.ops.loss)
# has checked shapes, dtypes and target ranges (0 <= target < cols) and converted
# the targets to int64.


def mse_loss_forward(const floating[::1] pred not None,     # IN
                     const floating[::1] target not None):  # IN
    """mean((pred - target)**2) as a Python float (NaN for empty input, as torch)."""
    cdef int64_t n = pred.shape[0]
    cdef float loss32 = 0
    cdef double loss64 = 0
    if n == 0:
        return float("nan")
    with nogil:
        if floating is float:
            mse_loss_forward_f32(&loss32, &pred[0], &target[0], n)
        else:
            mse_loss_forward_f64(&loss64, &pred[0], &target[0], n)
    return loss32 if floating is float else loss64


def mse_loss_backward(floating[::1] dpred not None,         # OUT 2 dloss (pred - target) / n
                      const floating[::1] pred not None,    # IN
                      const floating[::1] target not None,  # IN
                      double dloss):
    cdef int64_t n = pred.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            mse_loss_backward_f32(&dpred[0], &pred[0], &target[0], <float>dloss, n)
        else:
            mse_loss_backward_f64(&dpred[0], &pred[0], &target[0], dloss, n)


def cross_entropy_forward(const floating[:, ::1] logits not None,  # IN (rows, classes)
                          const int64_t[::1] target not None):     # IN (rows,), in [0, classes)
    """mean over rows of logsumexp(logits[r]) - logits[r, target[r]] as a Python float."""
    cdef int64_t rows = logits.shape[0], cols = logits.shape[1]
    cdef float loss32 = 0
    cdef double loss64 = 0
    if rows == 0:
        return float("nan")
    with nogil:
        if floating is float:
            cross_entropy_forward_f32(&loss32, &logits[0, 0], &target[0], rows, cols)
        else:
            cross_entropy_forward_f64(&loss64, &logits[0, 0], &target[0], rows, cols)
    return loss32 if floating is float else loss64


def cross_entropy_backward(floating[:, ::1] dlogits not None,       # OUT dloss (softmax - onehot) / rows
                           const floating[:, ::1] logits not None,  # IN
                           const int64_t[::1] target not None,      # IN
                           double dloss):
    cdef int64_t rows = logits.shape[0], cols = logits.shape[1]
    if rows == 0:
        return
    with nogil:
        if floating is float:
            cross_entropy_backward_f32(&dlogits[0, 0], &logits[0, 0], &target[0], <float>dloss, rows, cols)
        else:
            cross_entropy_backward_f64(&dlogits[0, 0], &logits[0, 0], &target[0], dloss, rows, cols)
