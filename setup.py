"""Build the deepgrad C extension: Cython bindings (src/deepgrad/_core.pyx) + C kernels (csrc/).

One extension module holds every kernel, so the SIMD and thread settings are one
global state. No -march=native: the kernels choose AVX-512 / AVX2 / portable code
at run time (csrc/runtime.c).

Environment switches:
  DEEPGRAD_SANITIZE=1   build with AddressSanitizer + UBSan (-O1 -g), for the CI memory check
  DEEPGRAD_DEBUG=1      -O0 -g
"""
import glob
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

# -fno-math-errno: no kernel reads errno, and without it GCC cannot vectorize a loop
# that calls sqrt (BatchNorm's per-column 1 / sqrt(var + eps)). Not -ffast-math.
compile_args = ["-std=gnu11", "-fopenmp", "-Wall", "-Wno-unused-function", "-fno-math-errno"]
link_args = ["-fopenmp"]
if os.environ.get("DEEPGRAD_SANITIZE") == "1":
    sanitize = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
    compile_args += ["-O1", "-g"] + sanitize
    link_args += sanitize
elif os.environ.get("DEEPGRAD_DEBUG") == "1":
    compile_args += ["-O0", "-g"]
else:
    compile_args += ["-O3"]

csrc = sorted(glob.glob("csrc/*.c"))
extension = Extension(
    "deepgrad._core",
    sources=["src/deepgrad/_core.pyx"] + csrc,
    depends=sorted(glob.glob("csrc/*.h") + glob.glob("csrc/*.inc") + glob.glob("src/deepgrad/*.pxi")
                   + glob.glob("src/deepgrad/*.pxd")),
    include_dirs=["csrc", numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=compile_args,
    extra_link_args=link_args,
)

setup(
    ext_modules=cythonize(
        [extension],
        include_path=["src"],
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "initializedcheck": False,
            "cdivision": True,
            "embedsignature": True,
        },
    ),
)
