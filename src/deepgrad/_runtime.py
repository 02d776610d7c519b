"""Thread count and SIMD path: the two global settings of the kernels."""
import os
import platform

from . import _core

_ISA_LEVELS = {"portable": 0, "avx2": 1, "avx512": 2}


def set_num_threads(n=None):
    """Threads every kernel uses. None: all available cores (OMP_NUM_THREADS is respected).

    At most deepgrad's MAX_THREADS (1024): OpenMP cannot create ~10^5 threads.
    Safe to call between kernel calls from any thread (a kernel already running keeps
    the count it started with). Results of elementwise and
    GEMM kernels do not depend on the thread count (see README, "Threads").
    """
    if n is None:
        _core.set_num_threads(0)
        return
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int or None, got {type(n).__name__}")
    if n <= 0 or n > _core.MAX_THREADS:
        raise ValueError(f"set_num_threads: n must be >= 1 and <= {_core.MAX_THREADS} "
                         f"(or None for all cores), got {n}")
    _core.set_num_threads(n)


def get_num_threads():
    return _core.num_threads()


def set_simd(path=None):
    """Force a SIMD path: "avx512", "avx2", "portable", or None for the best this CPU has.

    A path above what the CPU supports falls back to the best supported one.
    Returns the active path. The environment variable DEEPGRAD_SIMD sets it at import.
    """
    if path is None:
        level = -1
    elif path in _ISA_LEVELS:
        level = _ISA_LEVELS[path]
    else:
        raise ValueError(f"set_simd: path must be one of {sorted(_ISA_LEVELS)} or None, got {path!r}")
    _core.set_isa(level)
    return get_simd()


def get_simd():
    """The SIMD path the kernels use now."""
    return _core.ISA_NAMES[_core.isa_active()]


def simd_paths():
    """Every path this CPU can run, best first."""
    best = _core.isa_supported()
    return [name for name, level in sorted(_ISA_LEVELS.items(), key=lambda kv: -kv[1]) if level <= best]


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_features():
    """What the kernels run on: CPU, best and active SIMD path, thread count."""
    return {
        "cpu": _cpu_model(),
        "machine": platform.machine(),
        "simd_supported": _core.ISA_NAMES[_core.isa_supported()],
        "simd_active": get_simd(),
        "simd_paths": simd_paths(),
        "num_threads": get_num_threads(),
        "cores": os.cpu_count(),
    }
