"""What the benchmark scripts share: one BLAS thread, and a mean time per call.

Imported by the scripts of this folder (``python benchmarks/<name>.py`` puts the folder on the
path) before numpy, so that the thread counts are set when the BLAS library loads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

#: the environment variables that set the thread count of the BLAS and OpenMP libraries
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def one_thread() -> None:
    """Pin every BLAS/OpenMP library to one thread (the machine is shared; ratios stay comparable)."""
    for var in THREAD_VARS:
        os.environ[var] = "1"


def time_per_call(fn: Callable[[], Any], min_seconds: float = 0.02) -> float:
    """Mean seconds per call over enough calls to last ``min_seconds`` (one call at least)."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / calls
