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
from ._core import Method, Optimizer, OptState
from ._registry import ALGORITHMS, ENTRIES, Entry, entry, make
from ._types import Array, LearningRate, Schedule
from .combinators.clip import clip_by_global_norm
from .combinators.flat import flat
from .constrained.augmented_lagrangian import augmented_lagrangian
from .constrained.projected_gd import projected_gd
from .curvature.bfgs import bfgs
from .curvature.cg import LinearSystem, cg
from .curvature.cg import solve as cg_solve
from .curvature.gauss_newton import gauss_newton
from .curvature.hessian_free import hessian_free
from .curvature.jacobi_gd import jacobi_gd
from .curvature.kfac import kfac
from .curvature.lbfgs import lbfgs
from .curvature.lbfgs_torch import lbfgs_torch
from .curvature.levenberg_marquardt import levenberg_marquardt
from .curvature.linesearch import armijo, strong_wolfe
from .curvature.natural_gradient import natural_gradient
from .curvature.newton import newton
from .curvature.shampoo import shampoo
from .curvature.trust_region import trust_region
from .first_order.adabelief import adabelief
from .first_order.adadelta import adadelta
from .first_order.adafactor import adafactor
from .first_order.adagrad import adagrad
from .first_order.adam import adam
from .first_order.adamax import adamax
from .first_order.adamw import adamw
from .first_order.adan import adan
from .first_order.asgd import asgd
from .first_order.fromage import fromage
from .first_order.gd import gd
from .first_order.lamb import lamb
from .first_order.lars import lars
from .first_order.lion import lion
from .first_order.momentum import momentum
from .first_order.muon import muon
from .first_order.nadam import nadam
from .first_order.nesterov import nesterov
from .first_order.noisy_sgd import noisy_sgd
from .first_order.novograd import novograd
from .first_order.optimistic_adam import optimistic_adam
from .first_order.optimistic_gd import optimistic_gd
from .first_order.polyak_sgd import polyak_sgd
from .first_order.radam import radam
from .first_order.rmsprop import rmsprop
from .first_order.rprop import rprop
from .first_order.sgd import sgd
from .first_order.signsgd import signsgd
from .first_order.sm3 import sm3
from .first_order.sparse_adam import sparse_adam
from .first_order.steepest_descent import steepest_descent
from .first_order.yogi import yogi
from .latent_variable.em_gmm import em_gmm
from .oracle import FunctionOracle, Sample
from .proximal.fista import fista
from .proximal.prox_grad import prox_grad
from .variance_reduction.saga import saga
from .variance_reduction.svrg import svrg
from .zeroth_order.simulated_annealing import simulated_annealing

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
    "adafactor",
    "adagrad",
    "adam",
    "armijo",
    "bfgs",
    "cg",
    "cg_solve",
    "clip_by_global_norm",
    "adamw",
    "adamax",
    "adan",
    "muon",
    "sparse_adam",
    "rprop",
    "asgd",
    "yogi",
    "adabelief",
    "nadam",
    "radam",
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
    "lamb",
    "lars",
    "fromage",
    "novograd",
    "lbfgs",
    "lbfgs_torch",
    "make",
    "momentum",
    "nesterov",
    "polyak_sgd",
    "noisy_sgd",
    "optimistic_adam",
    "optimistic_gd",
    "newton",
    "jacobi_gd",
    "projected_gd",
    "prox_grad",
    "augmented_lagrangian",
    "rmsprop",
    "saga",
    "Sample",
    "schedules",
    "sgd",
    "steepest_descent",
    "signsgd",
    "sm3",
    "simulated_annealing",
    "strong_wolfe",
    "svrg",
    "trust_region",
]
