# Fast paths of the LayerNorm, RMSNorm and BatchNorm calls (included by _core.pyx after _norm.pxi).
#
# The common call -- plain float32/float64 C-contiguous arrays (plain_typenum) of the
# expected shapes, optional arrays None or plain, outputs and accumulators writeable
# and sharing no memory with anything else -- checked here with the NumPy C API
# (~0.3 us instead of ~4 us of Python checks plus memoryview set-up, which is 5-10% of
# a (256, 1024) float32 normalization). Anything else returns None and deepgrad.ops.norm
# runs the full checks, which copy or raise as documented there. The scalars (eps,
# momentum, flags) are checked by the caller before it comes here.

cdef bint has_dims(object a, int t, int ndim, const cnp.npy_intp *dims) noexcept:
    """a is a plain array of typenum t with exactly these dimensions."""
    if plain_typenum(a) != t:
        return False
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_NDIM(arr) != ndim:
        return False
    cdef int d
    for d in range(ndim):
        if cnp.PyArray_DIM(arr, d) != dims[d]:
            return False
    return True


cdef bint vector_or_none(object a, int t, cnp.npy_intp n) noexcept:
    """a is None or a plain (n,) array of typenum t."""
    return a is None or has_dims(a, t, 1, &n)


cdef bint writable_apart(object o, tuple others) noexcept:
    """o (plain, or None) is writeable and shares no memory with any of `others`
    (apart(): _activation.pxi)."""
    if o is None:
        return True
    if not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>o):
        return False
    for a in others:
        if not apart(o, a):
            return False
    return True


cdef inline void *data_or_null(object a) noexcept:
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


cdef object new_array(int ndim, const cnp.npy_intp *dims, int t, bint zero):
    if zero:
        return cnp.PyArray_ZEROS(ndim, <cnp.npy_intp *>dims, t, 0)
    return cnp.PyArray_EMPTY(ndim, <cnp.npy_intp *>dims, t, 0)


cdef bint rows_cols(object x, int t, int64_t *rows, int64_t *cols) noexcept:
    """x: plain, ndim >= 1, not empty -> its (rows, cols) view sizes."""
    cdef cnp.ndarray arr = <cnp.ndarray>x
    cdef int nd = cnp.PyArray_NDIM(arr)
    if nd < 1 or cnp.PyArray_SIZE(arr) == 0:
        return False
    cols[0] = cnp.PyArray_DIM(arr, nd - 1)
    rows[0] = cnp.PyArray_SIZE(arr) // cols[0]
    return True


def layer_norm_fast(x, weight, bias, double eps, out, bint centered=True):
    """(out, mean, rstd) of LayerNorm over the last axis, or None (see above).
    centered=False: RMSNorm (no bias; mean is None)."""
    cdef int t = plain_typenum(x)
    cdef int64_t rows, cols
    if t < 0 or not rows_cols(x, t, &rows, &cols) or (bias is not None and not centered):
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef int nd = cnp.PyArray_NDIM(xa)
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(xa)
    if not (vector_or_none(weight, t, cols) and vector_or_none(bias, t, cols)):
        return None
    if out is None:
        out = new_array(nd, dims, t, False)
    elif not (has_dims(out, t, nd, dims) and writable_apart(out, (x, weight, bias))):
        return None
    mean = new_array(nd - 1, dims, t, False) if centered else None
    rstd = new_array(nd - 1, dims, t, False)
    cdef void *po = data_or_null(out)
    cdef void *pm = data_or_null(mean)
    cdef void *pr = data_or_null(rstd)
    cdef const void *px = data_or_null(x)
    cdef const void *pw = data_or_null(weight)
    cdef const void *pb = data_or_null(bias)
    with nogil:
        if t == cnp.NPY_FLOAT and centered:
            layernorm_forward_f32(<float *>po, <float *>pm, <float *>pr, <const float *>px,
                                  <const float *>pw, <const float *>pb, eps, rows, cols)
        elif t == cnp.NPY_FLOAT:
            rmsnorm_forward_f32(<float *>po, <float *>pr, <const float *>px, <const float *>pw,
                                eps, rows, cols)
        elif centered:
            layernorm_forward_f64(<double *>po, <double *>pm, <double *>pr, <const double *>px,
                                  <const double *>pw, <const double *>pb, eps, rows, cols)
        else:
            rmsnorm_forward_f64(<double *>po, <double *>pr, <const double *>px,
                                <const double *>pw, eps, rows, cols)
    return out, mean, rstd


def layer_norm_backward_fast(grad_out, x, mean, rstd, weight, grad_weight, grad_bias, out,
                             bint centered=True):
    """(grad_x, grad_weight, grad_bias) of LayerNorm with a weight, or None (see above).
    centered=False: RMSNorm (mean and grad_bias None; the returned grad_bias is None)."""
    cdef int t = plain_typenum(x)
    cdef int64_t rows, cols
    if t < 0 or weight is None or not rows_cols(x, t, &rows, &cols):
        return None
    if not centered and (mean is not None or grad_bias is not None):
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef int nd = cnp.PyArray_NDIM(xa)
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(xa)
    if not (has_dims(grad_out, t, nd, dims) and (not centered or has_dims(mean, t, nd - 1, dims))
            and has_dims(rstd, t, nd - 1, dims) and vector_or_none(weight, t, cols)
            and vector_or_none(grad_weight, t, cols) and vector_or_none(grad_bias, t, cols)):
        return None
    ins = (grad_out, x, mean, rstd, weight)
    if out is None:
        out = new_array(nd, dims, t, False)
    elif not (has_dims(out, t, nd, dims) and writable_apart(out, ins)):
        return None
    if not (writable_apart(grad_weight, ins + (out,))
            and writable_apart(grad_bias, ins + (out, grad_weight))):
        return None
    cdef cnp.npy_intp n = cols
    gw = new_array(1, &n, t, True) if grad_weight is None else grad_weight
    gb = None if not centered else new_array(1, &n, t, True) if grad_bias is None else grad_bias
    cdef void *po = data_or_null(out)
    cdef void *pgw = data_or_null(gw)
    cdef void *pgb = data_or_null(gb)
    cdef const void *pg = data_or_null(grad_out)
    cdef const void *px = data_or_null(x)
    cdef const void *pm = data_or_null(mean)
    cdef const void *pr = data_or_null(rstd)
    cdef const void *pw = data_or_null(weight)
    cdef int status
    with nogil:
        if t == cnp.NPY_FLOAT and centered:
            status = layernorm_backward_f32(<float *>po, <float *>pgw, <float *>pgb,
                                            <const float *>pg, <const float *>px, <const float *>pm,
                                            <const float *>pr, <const float *>pw, rows, cols)
        elif t == cnp.NPY_FLOAT:
            status = rmsnorm_backward_f32(<float *>po, <float *>pgw, <const float *>pg,
                                          <const float *>px, <const float *>pr,
                                          <const float *>pw, rows, cols)
        elif centered:
            status = layernorm_backward_f64(<double *>po, <double *>pgw, <double *>pgb,
                                            <const double *>pg, <const double *>px,
                                            <const double *>pm, <const double *>pr,
                                            <const double *>pw, rows, cols)
        else:
            status = rmsnorm_backward_f64(<double *>po, <double *>pgw, <const double *>pg,
                                          <const double *>px, <const double *>pr,
                                          <const double *>pw, rows, cols)
    if status != 0:
        raise MemoryError(("layer_norm_backward" if centered else "rms_norm_backward")
                          + ": cannot allocate the parameter-gradient scratch")
    return out, gw, gb


def batch_norm_fast(x, weight, bias, running_mean, running_var, bint training, double momentum,
                    double eps, out):
    """(out, save_mean, save_rstd) of BatchNorm on a (batch, features) array, or None."""
    cdef int t = plain_typenum(x)
    if t < 0 or cnp.PyArray_NDIM(<cnp.ndarray>x) != 2:
        return None
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(<cnp.ndarray>x)
    cdef int64_t rows = dims[0], cols = dims[1]
    if cols == 0 or rows < (2 if training else 1):
        return None
    if (running_mean is None) != (running_var is None) or (not training and running_mean is None):
        return None
    if not (vector_or_none(weight, t, cols) and vector_or_none(bias, t, cols)
            and vector_or_none(running_mean, t, cols) and vector_or_none(running_var, t, cols)):
        return None
    if not (writable_apart(running_mean, (x, weight, bias))
            and writable_apart(running_var, (x, weight, bias, running_mean))):
        return None
    if out is None:
        out = new_array(2, dims, t, False)
    elif not (has_dims(out, t, 2, dims)
              and writable_apart(out, (x, weight, bias, running_mean, running_var))):
        return None
    save_mean = new_array(1, &dims[1], t, False)
    save_rstd = new_array(1, &dims[1], t, False)
    cdef void *po = data_or_null(out)
    cdef void *psm = data_or_null(save_mean)
    cdef void *psr = data_or_null(save_rstd)
    cdef void *prm = data_or_null(running_mean)
    cdef void *prv = data_or_null(running_var)
    cdef const void *px = data_or_null(x)
    cdef const void *pw = data_or_null(weight)
    cdef const void *pb = data_or_null(bias)
    cdef int status
    with nogil:
        if t == cnp.NPY_FLOAT:
            status = batchnorm_forward_f32(<float *>po, <float *>psm, <float *>psr, <float *>prm,
                                           <float *>prv, <const float *>px, <const float *>pw,
                                           <const float *>pb, training, momentum, eps, rows, cols)
        else:
            status = batchnorm_forward_f64(<double *>po, <double *>psm, <double *>psr,
                                           <double *>prm, <double *>prv, <const double *>px,
                                           <const double *>pw, <const double *>pb, training,
                                           momentum, eps, rows, cols)
    if status != 0:
        raise MemoryError("batch_norm: cannot allocate the statistics scratch")
    return out, save_mean, save_rstd


def batch_norm_backward_fast(grad_out, x, save_mean, save_rstd, weight, bint training,
                             grad_weight, grad_bias, out):
    """(grad_x, grad_weight, grad_bias) of BatchNorm with a weight, or None (see above)."""
    cdef int t = plain_typenum(x)
    if t < 0 or weight is None or cnp.PyArray_NDIM(<cnp.ndarray>x) != 2:
        return None
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(<cnp.ndarray>x)
    cdef int64_t rows = dims[0], cols = dims[1]
    if rows == 0 or cols == 0:
        return None
    if not (has_dims(grad_out, t, 2, dims) and vector_or_none(save_mean, t, cols)
            and save_mean is not None and save_rstd is not None
            and vector_or_none(save_rstd, t, cols) and vector_or_none(weight, t, cols)
            and vector_or_none(grad_weight, t, cols) and vector_or_none(grad_bias, t, cols)):
        return None
    ins = (grad_out, x, save_mean, save_rstd, weight)
    if out is None:
        out = new_array(2, dims, t, False)
    elif not (has_dims(out, t, 2, dims) and writable_apart(out, ins)):
        return None
    if not (writable_apart(grad_weight, ins + (out,))
            and writable_apart(grad_bias, ins + (out, grad_weight))):
        return None
    gw = new_array(1, &dims[1], t, True) if grad_weight is None else grad_weight
    gb = new_array(1, &dims[1], t, True) if grad_bias is None else grad_bias
    cdef void *po = data_or_null(out)
    cdef void *pgw = data_or_null(gw)
    cdef void *pgb = data_or_null(gb)
    cdef const void *pg = data_or_null(grad_out)
    cdef const void *px = data_or_null(x)
    cdef const void *pm = data_or_null(save_mean)
    cdef const void *pr = data_or_null(save_rstd)
    cdef const void *pw = data_or_null(weight)
    cdef int status
    with nogil:
        if t == cnp.NPY_FLOAT:
            status = batchnorm_backward_f32(<float *>po, <float *>pgw, <float *>pgb,
                                            <const float *>pg, <const float *>px, <const float *>pm,
                                            <const float *>pr, <const float *>pw, training, rows,
                                            cols)
        else:
            status = batchnorm_backward_f64(<double *>po, <double *>pgw, <double *>pgb,
                                            <const double *>pg, <const double *>px,
                                            <const double *>pm, <const double *>pr,
                                            <const double *>pw, training, rows, cols)
    if status != 0:
        raise MemoryError("batch_norm_backward: cannot allocate the column-sum scratch")
    return out, gw, gb
