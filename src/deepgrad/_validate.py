"""Input checks shared by every public function, run before any C code.

Policy (README, "Reliability"):
  * wrong kind (not an ndarray, or a dtype other than float32/float64, or mixed
    float32/float64 operands) -> TypeError
  * wrong shape, ndim, size, value, or an unusable `out` (read-only, non-contiguous,
    partially overlapping an input) -> ValueError
Every message starts with the function's name and names the argument, what was
expected and what was received. Inputs are never modified; when they are not
contiguous (or not in native byte order, or not aligned) they are copied; an
unaligned `out` raises ValueError.

ndarray subclasses (np.matrix, memmap, ...) are used as plain ndarrays (a view, no
copy); results are plain ndarrays. Masked arrays raise TypeError: the kernels would
silently compute on the masked-out values.
Flags (training, need_bias, ...) must be bool: a string like "no" is truthy and
would silently select the wrong mode.
"""
import math

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _describe(x):
    if isinstance(x, np.ndarray):
        return f"ndarray of dtype {x.dtype} and shape {x.shape}"
    return type(x).__name__


def _plain(x, name, func):
    """An ndarray subclass as a plain ndarray view; masked arrays raise TypeError."""
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(f"{func}: {name} must be a plain numpy.ndarray, got a masked array "
                        f"(deepgrad ignores masks; pass x.filled(value) or x.data explicitly)")
    return x.view(np.ndarray)


def float_array(x, name, func, *, ndim=None, dtype=None):
    """Return `x` as a float32/float64 ndarray in native byte order (a copy only if needed).

    ndim: required number of dimensions (int or tuple of ints), or None for any.
    dtype: the dtype the other operands already fixed, or None.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{func}: {name} must be a numpy.ndarray of float32 or float64, "
                        f"got {_describe(x)}")
    if type(x) is not np.ndarray:
        x = _plain(x, name, func)
    dt = x.dtype
    if dt.kind != "f" or dt.itemsize not in (4, 8):
        raise TypeError(f"{func}: {name} must have dtype float32 or float64, got {dt}")
    if not dt.isnative:
        x = x.astype(dt.newbyteorder("="))
    elif not x.flags.aligned:
        # a view at an odd byte offset of some buffer: the C kernels assume (and the
        # compiler's vectorized loops may rely on) elements at their natural alignment
        x = x.copy()
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{func}: {name} has dtype {x.dtype}, expected {np.dtype(dtype)} "
                        f"like the other arrays (deepgrad never converts silently)")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(f"{d}-d" for d in allowed)
            raise ValueError(f"{func}: {name} must be {want}, got {x.ndim}-d array of shape {x.shape}")
    return x


def check_dtype_arg(dtype, func, name="dtype"):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{func}: {name} must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{func}: {name} must be float32 or float64, got {dt}")
    return dt


def same_shape(arrays, func):
    """arrays: list of (name, array). Raise ValueError unless all shapes agree."""
    (name0, a0), rest = arrays[0], arrays[1:]
    for name, a in rest:
        if a.shape != a0.shape:
            raise ValueError(f"{func}: {name} has shape {a.shape} but {name0} has shape {a0.shape}; "
                             f"they must match")


def _identical_view(a, b):
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.strides == b.strides and a.shape == b.shape and a.dtype == b.dtype)


def output(out, name, func, *, shape, dtype, inputs=(), allow_alias=True, order="C"):
    """Check (or allocate) an output array.

    A given `out` must be an ndarray of exactly `dtype` and `shape`, writeable and
    contiguous (C, or F when order="F" is acceptable). It may be the very same array
    as one of `inputs` when allow_alias (elementwise kernels); any other overlap
    raises, since the kernel would read values it has already overwritten.
    """
    if out is None:
        return np.empty(shape, dtype=dtype, order=order)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{func}: {name} must be a numpy.ndarray or None, got {_describe(out)}")
    if type(out) is not np.ndarray:
        out = _plain(out, name, func)
    if out.dtype != dtype:
        raise TypeError(f"{func}: {name} has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if out.shape != tuple(shape):
        raise ValueError(f"{func}: {name} has shape {out.shape}, expected {tuple(shape)}")
    if not out.flags.writeable:
        raise ValueError(f"{func}: {name} is read-only; pass a writeable array")
    if not out.flags.aligned:
        raise ValueError(f"{func}: {name} is not aligned to its itemsize ({out.dtype.itemsize} bytes); "
                         f"pass an array NumPy allocated")
    contiguous = out.flags.c_contiguous or (order == "F" and out.flags.f_contiguous)
    if not contiguous:
        raise ValueError(f"{func}: {name} must be C-contiguous"
                         f"{' or F-contiguous' if order == 'F' else ''}; got strides {out.strides}")
    for in_name, a in inputs:
        if a is None or not np.may_share_memory(out, a):
            continue
        if allow_alias and _identical_view(out, a):
            continue
        raise ValueError(f"{func}: {name} overlaps {in_name}"
                         f"{' without being the same array' if allow_alias else ''}; "
                         f"pass a separate array")
    return out


_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def plain(a, shape, dtype=None):
    """True when `a` is a native float32/float64 C-contiguous, aligned ndarray of exactly
    `shape` (and `dtype` when given): an operand the kernels take as it is. A fast test
    for the common case; anything else goes through the full checks (which raise or copy)."""
    if type(a) is not np.ndarray or a.shape != shape:
        return False
    flags = a.flags
    if not (flags.c_contiguous and flags.aligned):
        return False
    dt = a.dtype
    # builtin native dtypes are singletons, so `is` also rules out byte-swapped arrays
    return dt is dtype if dtype is not None else (dt is _F32 or dt is _F64)


def fresh_output(out, shape, dtype, inputs):
    """True when `out` is a writeable C-contiguous ndarray of `shape` and `dtype` that
    shares no memory with any of `inputs` (None entries are skipped): the common case
    of fast paths that may not alias. Two arrays that both own their memory cannot
    overlap, so np.may_share_memory runs only for views."""
    if type(out) is not np.ndarray or out.dtype is not dtype or out.shape != shape:
        return False
    flags = out.flags
    if not (flags.c_contiguous and flags.writeable and flags.aligned):
        return False
    own = flags.owndata
    for a in inputs:
        if a is None:
            continue
        if a is out:
            return False
        if not (own and a.flags.owndata) and np.may_share_memory(out, a):
            return False
    return True


def _fast_elementwise(inputs, out):
    """The common case in a few hundred nanoseconds: native float32/float64 C-contiguous
    ndarrays of one dtype and shape (plain()), and no `out` or a usable one that is an
    input itself or shares no memory with any (fresh_output()). Returns None when any of
    that does not hold; the full checks in elementwise() then run (and raise where needed)."""
    first = inputs[0][1]
    if not plain(first, getattr(first, "shape", None)):
        return None
    dtype, shape = first.dtype, first.shape
    for _, a in inputs[1:]:
        if not plain(a, shape, dtype):
            return None
    if out is None:
        out = np.empty(shape, dtype)
    elif not fresh_output(out, shape, dtype, [a for _, a in inputs if a is not out]):
        return None
    return out.ravel(), [a.ravel() for _, a in inputs], out  # views: all C-contiguous


def elementwise(func, inputs, out, out_name="out"):
    """Prepare the operands of an elementwise kernel.

    inputs: list of (name, array) with equal shapes and one float dtype.
    Returns (flat_out, flat_inputs, out): 1-d contiguous views in one memory order
    (F-ordered inputs keep F order, anything else becomes C order) and the
    result array with the inputs' shape.
    """
    fast = _fast_elementwise(inputs, out)
    if fast is not None:
        return fast
    arrays = []
    dtype = None
    for name, a in inputs:
        a = float_array(a, name, func, dtype=dtype)
        dtype = a.dtype
        arrays.append((name, a))
    same_shape(arrays, func)
    shape = arrays[0][1].shape
    if out is not None and isinstance(out, np.ndarray) and out.ndim > 1 \
            and out.flags.f_contiguous and not out.flags.c_contiguous:
        order = "F"
    elif out is None and all(a.flags.f_contiguous and not a.flags.c_contiguous for _, a in arrays):
        order = "F"
    else:
        order = "C"
    arrays = [(name, np.asarray(a, order=order) if not _is_contiguous(a, order) else a)
              for name, a in arrays]
    out = output(out, out_name, func, shape=shape, dtype=dtype, inputs=arrays, order=order)
    flat_out = out.reshape(-1, order=order)
    flat_inputs = [a.reshape(-1, order=order) for _, a in arrays]
    return flat_out, flat_inputs, out


def _is_contiguous(a, order):
    return a.flags.f_contiguous if order == "F" else a.flags.c_contiguous


def flag(value, name, func):
    """A bool argument (bool or numpy.bool_); anything else is a TypeError."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{func}: {name} must be a bool, got {type(value).__name__}")
    return bool(value)


def positive_int(value, name, func, *, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{func}: {name} must be an int, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{func}: {name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return int(value)


def finite_float(value, name, func):
    # a Python float (the common case) skips the isinstance checks; math.isfinite, not
    # np.isfinite: together 0.52 -> 0.06 us per call, which showed in leaky_relu at 4K elements
    if type(value) is not float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{func}: {name} must be a real number, got {type(value).__name__}")
        value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{func}: {name} must be finite, got {value}")
    return value
