"""Type aliases shared by every module (see specs/notation.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: The reference computes in float64; every iterate and buffer is an ``Array``.
Array: TypeAlias = NDArray[np.float64]

#: A learning-rate schedule maps the number of completed steps (0 for the first step) to a rate.
Schedule: TypeAlias = Callable[[int], float]

#: A learning rate is a positive float or a schedule.
LearningRate: TypeAlias = float | Schedule

__all__ = ["Array", "ArrayLike", "LearningRate", "Schedule"]
