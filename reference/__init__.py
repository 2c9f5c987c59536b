"""optim-reference: the optimization algorithms of machine learning, written as executable math.

    import reference as ref
    opt = ref.adam(lr=1e-3)
    state = opt.init(theta0)
    state = opt.step(state, grad)
    state.params

Every algorithm is one module ``reference/<name>.py`` beside its spec ``specs/<name>.md``.
"""

from __future__ import annotations

from . import schedules
from ._core import Method, OptState, Optimizer
from ._registry import ALGORITHMS, ENTRIES, Entry, entry, make
from ._types import Array, LearningRate, Schedule
from .adadelta import adadelta
from .adagrad import adagrad
from .adam import adam
from .adamw import adamw
from .gauss_newton import gauss_newton
from .gd import gd
from .momentum import momentum
from .nesterov import nesterov
from .rmsprop import rmsprop
from .sgd import sgd
from .signsgd import signsgd

__version__ = "0.1.0"

__all__ = [
    "ALGORITHMS",
    "ENTRIES",
    "Array",
    "Entry",
    "LearningRate",
    "Method",
    "OptState",
    "Optimizer",
    "Schedule",
    "adadelta",
    "adagrad",
    "adam",
    "adamw",
    "entry",
    "gauss_newton",
    "gd",
    "make",
    "momentum",
    "nesterov",
    "rmsprop",
    "schedules",
    "sgd",
    "signsgd",
]
