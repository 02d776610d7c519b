# cython: language_level=3
"""deepgrad._core: the Cython bindings of the C kernels (csrc/).

A thin pass-through. The Python layer (deepgrad.ops, deepgrad.layers) has already
checked dtypes, shapes, contiguity and aliasing; each function here takes typed
memoryviews, releases the GIL and makes one C call. Arguments are marked
# IN (read) and # OUT (written). The exception: the activation fast path
(_activation.pxi, activation_forward_fast) checks the plain case itself in C and
returns None for anything else, which deepgrad.ops then checks in full.
"""
from libc.stdint cimport int64_t

cimport numpy as cnp

from deepgrad._kernels cimport *

cnp.import_array()

ctypedef fused floating:
    float
    double

# ---------------------------------------------------------------- runtime

MAX_THREADS = DG_MAX_THREADS  # set_num_threads() refuses more (libgomp crashes at ~10^5)
ISA_NAMES = {DG_ISA_PORTABLE: "portable", DG_ISA_AVX2: "avx2", DG_ISA_AVX512: "avx512"}
dg_isa_supported()  # detect the CPU (and read DEEPGRAD_SIMD) once, at import


def isa_supported():
    """Best instruction-set level this CPU runs (0 portable, 1 avx2, 2 avx512)."""
    return dg_isa_supported()


def isa_active():
    """Level the kernels use now."""
    return dg_isa_active()


def set_isa(int level):
    """Request a level (-1: the best); returns the active level."""
    return dg_set_isa(level)


def num_threads():
    return dg_num_threads()


def set_num_threads(int n):
    dg_set_num_threads(n)


SPECIAL_MODES = {"adaptive": DG_SPECIAL_ADAPTIVE, "always": DG_SPECIAL_ALWAYS, "never": DG_SPECIAL_NEVER}


def special_mode():
    """How the exp-based activations treat subnormal, tiny and saturated inputs (deepgrad.h)."""
    return {v: k for k, v in SPECIAL_MODES.items()}[dg_special_mode()]


def set_special_mode(mode):
    """"adaptive" (default), "always" or "never": a switch for tests and measurements, the
    results are the same in every mode."""
    if mode not in SPECIAL_MODES:
        raise ValueError(f"set_special_mode: mode must be one of {sorted(SPECIAL_MODES)}, got {mode!r}")
    dg_set_special_mode(SPECIAL_MODES[mode])


def norm_stream_touch():
    """Bytes a norm call must touch for its output (of 8 MiB or more) to be written with
    streaming stores: a quarter of the last-level cache unless set (deepgrad.h)."""
    return dg_norm_stream_touch()


def set_norm_stream_touch(nbytes):
    """Override norm_stream_touch() (0: every output of 8 MiB or more streams; None or -1:
    back to the cache-based figure). For tests and measurements; results do not change."""
    dg_set_norm_stream_touch(-1 if nbytes is None else int(nbytes))


def fp_status_flags(bint clear=False):
    """The calling thread's x86 floating-point status flags (MXCSR bits 0-5), or -1; for tests."""
    return dg_fp_status_flags(clear)


include "_activation.pxi"

include "_norm.pxi"
include "_norm_fast.pxi"
include "_loss.pxi"
include "_dense.pxi"
