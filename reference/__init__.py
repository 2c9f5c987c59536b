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
from .bfgs import bfgs
from .cg import LinearSystem, cg
from .cg import solve as cg_solve
from .clip import clip_by_global_norm
from .em_gmm import em_gmm
from .fista import fista
from .adamw import adamw
from .gauss_newton import gauss_newton
from .hessian_free import hessian_free
from .kfac import kfac
from .levenberg_marquardt import levenberg_marquardt
from .natural_gradient import natural_gradient
from .shampoo import shampoo
from .gd import gd
from .lion import lion
from .lbfgs import lbfgs
from .linesearch import armijo, strong_wolfe
from .momentum import momentum
from .nesterov import nesterov
from .newton import newton
from .oracle import FunctionOracle, Sample
from .projected_gd import projected_gd
from .prox_grad import prox_grad
from .augmented_lagrangian import augmented_lagrangian
from .pytree import flat
from .rmsprop import rmsprop
from .saga import saga
from .sgd import sgd
from .signsgd import signsgd
from .simulated_annealing import simulated_annealing
from .svrg import svrg
from .trust_region import trust_region

__version__ = "0.1.0"

__all__ = [
    "ALGORITHMS",
    "ENTRIES",
    "Array",
    "Entry",
    "FunctionOracle",
    "LearningRate",
    "LinearSystem",
    "Method",
    "OptState",
    "Optimizer",
    "Schedule",
    "adadelta",
    "adagrad",
    "adam",
    "armijo",
    "bfgs",
    "cg",
    "cg_solve",
    "clip_by_global_norm",
    "adamw",
    "em_gmm",
    "entry",
    "fista",
    "flat",
    "gauss_newton",
    "hessian_free",
    "kfac",
    "levenberg_marquardt",
    "natural_gradient",
    "shampoo",
    "gd",
    "lion",
    "lbfgs",
    "make",
    "momentum",
    "nesterov",
    "newton",
    "projected_gd",
    "prox_grad",
    "augmented_lagrangian",
    "rmsprop",
    "saga",
    "Sample",
    "schedules",
    "sgd",
    "signsgd",
    "simulated_annealing",
    "strong_wolfe",
    "svrg",
    "trust_region",
]
