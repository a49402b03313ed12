"""BLAS kernel choice: the matrix products are nearly all of a training step's time.

OpenBLAS picks its kernels from the CPU it detects at load time, and on some CPUs with AVX-512 (AMD Zen 4,
for one) it falls back to its AVX2 "Haswell" kernels. ``prefer_avx512_kernels`` asks for the AVX-512
("SkylakeX") ones instead when the CPU has every AVX-512 subset they use, OpenBLAS's choice has not been
set by the user (OPENBLAS_CORETYPE) and NumPy is not loaded yet. The results are the same numbers up to
the order of floating-point additions inside a product (as between any two BLAS builds). The command line
calls it first thing; a notebook can call it before importing NumPy, or set OPENBLAS_CORETYPE itself.
"""

from __future__ import annotations

import os
import sys

AVX512_SUBSETS = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}


def cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def prefer_avx512_kernels() -> bool:
    """Set OPENBLAS_CORETYPE=SkylakeX when it is safe and useful; True when it did."""
    if "OPENBLAS_CORETYPE" in os.environ or "numpy" in sys.modules or not AVX512_SUBSETS <= cpu_flags():
        return False
    os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    return True
