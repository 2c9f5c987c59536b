r"""``optref peaks``: the notes' running example, Peaks classification, reproduced.

Note 000 trains a 2-32-5 ReLU MLP (p = 261) on 1000 points of U([-3, 3]^2) labelled by 5 level
sets of the peaks function (800 train / 200 test) with Gauss-Newton and SGD, and SGD again in the
lazy regime at width 8192 (p = 65541); note 001 compares SGD, SGD+momentum, SGD+Nesterov, Adam,
AdamW and Lion at both widths. This module trains the same methods (plus K-FAC and L-BFGS, beyond
the notes) on ``reference.problems.peaks`` and prints our numbers beside the notes'. Results:
specs/peaks.md.

Protocol (the notes give no seeds, epochs, batch sizes, learning rates or initialisation, so these
are ours):
    * data: ``peaks(width=w, seed=0)``, one fixed data set (800 train / 200 test). Trial k uses
      the k-th child of ``SeedSequence(seed)`` for the initialisation, the minibatch order and
      K-FAC's sampled targets (three independent streams); trials differ only there.
    * initialisation (``--init``): "torch" (default), torch.nn.Linear's default, every weight and
      bias of a layer with fan-in k from U(-1/sqrt(k), 1/sqrt(k)). The problem's own "he" and
      "xavier" set the biases to 0, so every first-layer ReLU kink passes through the origin: a
      network that stays near theta_0 (the lazy regime of width 8192) then has only features
      ReLU(w.x) and 1[w.x > 0], which cannot resolve the radial level sets of peaks (measured at
      width 8192, SGD with lr <= 3e-3, where the weights move by less than 2 %: at most 46 %
      train accuracy from "he" against 68 % from "torch" after 30-100 epochs). ``TUNED`` was searched with "torch".
    * first-order methods (run by ``reference.driver.run``: each gradient at ``opt.query(state)``):
      minibatch b = 32 drawn with replacement, 25 steps per epoch,
      ``epochs`` epochs at width <= 1024 (default 100, 2500 steps) and ``wide_epochs`` above
      (default 30, 750 steps), constant learning rate from ``TUNED``. Momentum: heavy ball
      v = beta v + g, theta -= lr v, beta = 0.9 (note 001, torch). Nesterov: note 001's look-ahead
      form, beta = 0.9. AdamW: decoupled weight decay 1e-2 scaled by lr (torch's default). Lion:
      beta = (0.9, 0.99). Adam: beta = (0.9, 0.999), eps = 1e-8.
    * Gauss-Newton (note 000): full batch, damping lambda = 1e-3, Armijo backtracking,
      ``gn_steps`` = 30 steps; width <= 1024 only (G is p x p).
    * K-FAC (Martens & Grosse): the minibatches of the first-order methods, damping 1e-3, sampled
      targets, factor decay 0.95, inverses every step; width <= 1024 only (the second layer's
      factor A is (w+1) x (w+1) and inverted every step: 8193^3 flops per step at width 8192).
    * L-BFGS: full batch, history 10, strong Wolfe, ``lbfgs_steps`` = 300 steps at width <= 1024
      and ``wide_lbfgs_steps`` = 40 above (about 1.2 s a step at width 8192 on this machine).
    * Lazy rows (``--lazy``; ``optref peaks --lazy-only`` runs SGD's and Adam's alone, the default
      run has none: with them it would exceed 5 minutes; specs/peaks.md "The NTK parametrisation"): at
      each width above 1024 the listed first-order methods again, in the NTK parametrisation
      ``peaks(parametrization="ntk")`` (W1 = A1/sqrt(2), W2 = A2/sqrt(w), (PK1)), with the
      width-32 budget ``epochs`` (100), from the same theta_0 networks (the torch draw mapped to
      NTK coordinates) and the same minibatches as the standard rows, lr from ``TUNED_NTK``
      (``NTK_LR_RULE``), the training loss every ``lazy_curve_every`` = 5 epochs, BLAS single-
      threaded (``single_thread_blas``). ``--lazy-only`` runs them alone.
    * Every row: ``move`` = ||theta_T - theta_0|| / ||theta_0|| (trained coordinates) with the
      verdict "lazy" below ``LAZY_MOVE`` = 0.1, and ``lin`` = ||F - F_lin|| / ||F - F_0|| over
      the training inputs, F_lin the linearisation at theta_0 (note 002 eq. (14)).
    * Reported: final train/test cross-entropy and accuracy, mean ± sample std over ``seeds`` = 3
      trials; the training-loss curve after every epoch (first-order, K-FAC) or every iteration
      (Gauss-Newton, L-BFGS), starting with the loss at theta_0.
    * Learning-rate search (``--search``; ``SEARCH_PROTOCOL``), for each method with a learning
      rate and each width: stage 1 trains every lr of the decade grid ``GRID[method]``, extended
      by a decade past a winning edge (at most twice); stage 2 tries the stage-1 winner times 1/3
      and 3. Each grid point is one run (trial seed = child 0 of ``SeedSequence(seed + 1000)``,
      disjoint from the reported trials) on the first 640 training points with the reported
      budget, scored by the cross-entropy on the other 160 training points (the 200 test points
      are never used); the lowest validation loss wins, a diverged run scores inf. 6-8 runs per
      method and width (51 at width 32, about 4 minutes; 45 at width 8192, about 5.5 minutes on
      the shared 2-core machine).
    * Measured: the default run plus SGD's and Adam's lazy rows took 7 min 29 s wall clock on the
      shared 2-core machine at load average 1.2-2.9 (width 32: 80 s, width 8192: 335 s, of which the
      lazy rows 130 s); results and discussion in specs/peaks.md.
      ``TUNED`` holds the winners of the run recorded in ``SEARCH_RECORD``; ``--search`` reruns it
      and trains with its winners.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import _registry, driver
from .._core import NonFiniteGradientError
from ..problems import peaks
from ..problems.peaks import Peaks, peaks_labels

# Note 000: (train acc %, test acc %). Note 001: (train loss, test loss, train acc %, test acc %).
SEED_000: dict[tuple[str, int], tuple[float, float]] = {
    ("gauss_newton", 32): (93.87, 91.50),
    ("sgd", 32): (79.75, 81.50),
    ("sgd", 8192): (98.87, 92.00),
}
SEED_001: dict[tuple[str, int], tuple[float, float, float, float]] = {
    ("sgd", 32): (0.51, 0.50, 82.9, 82.5),
    ("momentum", 32): (0.41, 0.48, 85.6, 79.5),
    ("nesterov", 32): (0.89, 1.04, 68.3, 63.5),
    ("adam", 32): (0.21, 0.44, 92.9, 90.0),
    ("adamw", 32): (0.13, 0.29, 95.0, 92.0),
    ("lion", 32): (0.41, 0.70, 85.6, 81.5),
    ("sgd", 8192): (0.24, 0.42, 91.6, 86.0),
    ("momentum", 8192): (0.58, 0.84, 83.6, 85.5),
    ("nesterov", 8192): (0.24, 0.29, 90.9, 89.5),
    ("adam", 8192): (0.08, 0.29, 97.2, 91.5),
    ("adamw", 8192): (0.24, 0.36, 90.2, 86.5),
    ("lion", 8192): (0.34, 0.41, 91.4, 85.0),
}

FIRST_ORDER = ("sgd", "momentum", "nesterov", "adam", "adamw", "lion")
METHODS = ("gauss_newton", *FIRST_ORDER, "kfac", "lbfgs")
#: Widths above this are "wide": fewer epochs, no Gauss-Newton and no K-FAC.
WIDE = 1024
BATCH_SIZE = 32
EXTRA_HP: dict[str, dict[str, Any]] = {
    "momentum": {"beta": 0.9},
    "nesterov": {"beta": 0.9, "form": "lookahead"},
    "adamw": {"weight_decay": 1e-2},
    "kfac": {"damping": 1e-3, "activation": "relu"},
}
GN_DAMPING = 1e-3
LBFGS_MEMORY = 10
#: Stage 1 of ``--search``: learning rates a decade apart (extended past an edge that wins).
GRID: dict[str, tuple[float, ...]] = {
    "sgd": (1e-4, 1e-3, 1e-2, 1e-1, 1.0),
    "momentum": (1e-5, 1e-4, 1e-3, 1e-2, 1e-1),
    "nesterov": (1e-5, 1e-4, 1e-3, 1e-2, 1e-1),
    "adam": (1e-5, 1e-4, 1e-3, 1e-2, 1e-1),
    "adamw": (1e-5, 1e-4, 1e-3, 1e-2, 1e-1),
    "lion": (1e-6, 1e-5, 1e-4, 1e-3, 1e-2),
    "kfac": (1e-3, 1e-2, 1e-1, 1.0),
}
#: Stage 1 of the lazy rows' search (NTK parametrisation) for the methods without a theory scale.
NTK_GRID: dict[str, tuple[float, ...]] = {
    "adam": (1e-3, 1e-2, 1e-1),
    "adamw": (1e-3, 1e-2, 1e-1),
    "lion": (1e-4, 1e-3, 1e-2),
}
#: Stage 2 tries the stage-1 winner times these factors.
REFINE = (1 / 3, 3.0)
MAX_EXTEND = 2
SEARCH_PROTOCOL = (
    "stage 1: the decade grid GRID[method], extended by one decade past a winning edge (at most "
    "twice); stage 2: the stage-1 winner times 1/3 and 3. Each grid point is one training run "
    "(trial seed: child 0 of SeedSequence(1000)) on training points 0-639 with the reported budget "
    "(batch 32; 100 epochs at width 32, 30 at width 8192), scored by the mean cross-entropy on "
    "training points 640-799 (the 200 test points are never used); the lowest wins, a diverged "
    "run scores inf"
)
#: Validation losses of the recorded search (width -> method -> lr -> loss); TUNED is its argmin.
SEARCH_RECORD: dict[int, dict[str, dict[float, float]]] = {
    32: {
        "sgd": {
            0.0001: 1.5269,
            0.001: 1.3221,
            0.01: 0.9355,
            0.0333: 0.7166,
            0.1: 0.5502,
            0.3: 0.5100,
            1: 0.5931,
        },
        "momentum": {
            1e-05: 1.5271,
            0.0001: 1.3223,
            0.001: 0.9374,
            0.01: 0.5510,
            0.0333: 0.5010,
            0.1: 0.4630,
            0.3: 1.1498,
            1: 1.6900,
        },
        "nesterov": {
            1e-05: 1.5271,
            0.0001: 1.3224,
            0.001: 0.9373,
            0.01: 0.5462,
            0.0333: 0.4587,
            0.1: 0.3489,
            0.3: 0.6625,
            1: 1.6338,
        },
        "adam": {
            1e-05: 1.5009,
            0.0001: 1.1974,
            0.001: 0.7306,
            0.00333: 0.5465,
            0.01: 0.4536,
            0.03: 0.3603,
            0.1: 0.5234,
        },
        "adamw": {
            1e-05: 1.5009,
            0.0001: 1.1979,
            0.001: 0.7342,
            0.00333: 0.5548,
            0.01: 0.4575,
            0.03: 0.4168,
            0.1: 0.5554,
        },
        "lion": {
            1e-06: 1.5764,
            1e-05: 1.4623,
            0.0001: 1.0291,
            0.001: 0.5022,
            0.00333: 0.3833,
            0.01: 0.2620,
            0.03: 0.5341,
            0.1: 1.5897,
        },
        "kfac": {0.001: 0.8168, 0.01: 0.4582, 0.0333: 0.3355, 0.1: 0.2511, 0.3: 0.7461, 1: 1.8399},
    },
    8192: {
        "sgd": {
            0.0001: 1.1294,
            0.001: 0.7850,
            0.01: 0.6800,
            0.1: 1.4603,
            0.333: 0.5389,
            1: 0.4810,
            3: 1.6179,
            10: 1.9185,
        },
        "momentum": {
            1e-05: 1.1269,
            0.0001: 0.8619,
            0.001: 0.6626,
            0.01: 2.0572,
            0.0333: 0.8086,
            0.1: 0.3008,
            0.3: 0.9157,
            1: 1.6624,
        },
        "nesterov": {
            1e-05: 1.1271,
            0.0001: 0.8436,
            0.001: 0.5772,
            0.01: 1.0772,
            0.0333: 1.0849,
            0.1: 0.4370,
            0.3: 0.5562,
            1: 1.6073,
        },
        "adam": {
            1e-05: 0.9864,
            0.0001: 0.6930,
            0.000333: 0.5150,
            0.001: 0.4403,
            0.003: 0.5668,
            0.01: 0.4422,
            0.1: 0.6029,
        },
        "adamw": {
            1e-05: 0.9864,
            0.0001: 0.6932,
            0.001: 0.4406,
            0.00333: 0.4090,
            0.01: 0.3949,
            0.03: 0.3710,
            0.1: 0.5150,
        },
        "lion": {
            1e-06: 1.2608,
            1e-05: 0.7343,
            0.0001: 0.4439,
            0.000333: 0.3870,
            0.001: 0.4014,
            0.003: 0.4817,
            0.01: 2.7615,
        },
    },
}
#: Winners of the search (width -> method -> lr); see SEARCH_RECORD for how they were found.
TUNED: dict[int, dict[str, float]] = {
    32: {
        "sgd": 0.3,
        "momentum": 0.1,
        "nesterov": 0.1,
        "adam": 0.03,
        "adamw": 0.03,
        "lion": 0.01,
        "kfac": 0.1,
    },
    8192: {"sgd": 1, "momentum": 0.1, "nesterov": 0.1, "adam": 0.001, "adamw": 0.03, "lion": 0.000333},
}

#: The lazy rows (NTK parametrisation, PK1-PK4 of specs/peaks.md): the learning rate of each
#: first-order method at the recorded width (width -> method -> lr); ``NTK_LR_RULE`` says how.
#: SGD, momentum, Nesterov: the theory's scale, eta = 1 / lambda_max and (1 - beta) / lambda_max,
#: lambda_max = ``NTK_SHARPNESS`` the largest eigenvalue of the training loss's Hessian at theta_0
#: (``sharpness``; power iteration with autograd Hessian-vector products). Adam, AdamW, Lion:
#: ``SEARCH_RECORD_NTK`` (the search of SEARCH_PROTOCOL in the NTK parametrisation).
NTK_SHARPNESS: dict[int, float] = {8192: 0.3777}
NTK_LR_RULE = (
    "sgd: 1/lambda_max, momentum and nesterov: (1 - beta)/lambda_max (the same effective step "
    "eta/(1 - beta)), lambda_max = the largest Hessian eigenvalue of the training loss at theta_0 "
    "(NTK coordinates; half of gradient descent's stability limit 2/lambda_max); adam, adamw, lion: "
    "the learning-rate search (SEARCH_PROTOCOL, NTK parametrisation, the lazy rows' budget)"
)
#: The lazy-constrained search (``search`` on the NTK problem): lr -> (validation loss, move); a
#: run with move >= LAZY_MOVE is not eligible. Stage 1 (1e-3, 1e-2, 1e-1) and its two extensions
#: down; stage 2 (the winner times 1/3 and 3) was not run (machine time; specs/peaks.md).
SEARCH_RECORD_NTK: dict[int, dict[str, dict[float, tuple[float, float]]]] = {
    8192: {
        "adam": {
            1e-05: (1.4195, 0.019),
            0.0001: (0.9607, 0.094),
            0.001: (0.5777, 0.398),
            0.01: (0.4130, 1.512),
            0.1: (0.4581, 3.335),
        }
    }
}
TUNED_NTK: dict[int, dict[str, float]] = {
    8192: {
        "sgd": round(1 / NTK_SHARPNESS[8192], 3),
        "momentum": round(0.1 / NTK_SHARPNESS[8192], 3),
        "nesterov": round(0.1 / NTK_SHARPNESS[8192], 3),
        "adam": 1e-4,
        "adamw": 1e-4,  # Adam's lazy step (not searched)
        "lion": 1e-5,  # a tenth of it (Chen et al. 2023; not searched)
    }
}
#: A run is "lazy" when its weights moved by less than this fraction of their initial norm
#: (specs/peaks.md, "The regime criterion": relative motion eps changes the pre-activations by
#: O(eps) and flips O(eps) of the ReLU units, so the linearisation error is O(eps) of the change).
LAZY_MOVE = 0.1

#: Budgets of the default run and of ``--quick`` (a smoke run: seconds).
DEFAULTS: dict[str, Any] = {
    "widths": "32,8192",
    "seeds": 3,
    "epochs": 100,
    "wide_epochs": 30,
    "gn_steps": 30,
    "lbfgs_steps": 300,
    "wide_lbfgs_steps": 40,
    "lazy": "none",  # the lazy rows are their own run: --lazy-only (LAZY_ONLY), specs/peaks.md "Timing"
    "lazy_curve_every": 5,
}
#: The lazy rows of ``--lazy-only`` when --lazy is not given.
LAZY_ONLY = "sgd,adam"
QUICK: dict[str, Any] = {
    "widths": "32",
    "seeds": 1,
    "epochs": 5,
    "wide_epochs": 2,
    "gn_steps": 8,
    "lbfgs_steps": 30,
    "wide_lbfgs_steps": 3,
    "lazy": "none",
    "lazy_curve_every": 1,
}


class Diverged(RuntimeError):
    """A training run produced a non-finite gradient, step or loss."""


@dataclass(frozen=True)
class Budget:
    """How long each family trains."""

    epochs: int = 100
    gn_steps: int = 30
    lbfgs_steps: int = 300
    batch_size: int = BATCH_SIZE
    curve_every: int = 1  # first-order methods: the training loss every this many epochs


@dataclass(frozen=True)
class RunResult:
    """One trained model."""

    method: str
    width: int
    trial: int
    lr: float
    train_loss: float
    test_loss: float
    train_acc: float
    test_acc: float
    curve: tuple[float, ...]  # train loss at theta_0, then after each epoch (or full-batch step)
    seconds: float
    params: np.ndarray = field(repr=False)
    diverged: bool = False
    move: float = math.nan  # ||theta_T - theta_0|| / ||theta_0||: small in the lazy regime
    lin: float = math.nan  # ||F(theta_T) - F_lin(theta_T)|| / ||F(theta_T) - F(theta_0)|| (PK7)
    parametrization: str = "standard"
    epochs: int = 0  # first-order and K-FAC: epochs trained (0: a full-batch method)
    curve_every: int = 1  # epochs between two points of ``curve`` (first-order)

    @property
    def label(self) -> str:
        """The table's method name: ``sgd``, or ``sgd-ntk`` for the NTK parametrisation."""
        return self.method if self.parametrization == "standard" else f"{self.method}-ntk"

    @property
    def regime(self) -> str:
        """ "lazy" if ``move`` < LAZY_MOVE, else "active" ("—" when diverged)."""
        if not math.isfinite(self.move):
            return "—"
        return "lazy" if self.move < LAZY_MOVE else "active"


def _streams(seq: np.random.SeedSequence, k: int) -> list[np.random.SeedSequence]:
    """The k children of ``seq``, without the side effect of ``seq.spawn`` (same call, same kids)."""
    return [
        np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, j), pool_size=seq.pool_size)
        for j in range(k)
    ]


INITS = ("torch", "he", "xavier")


def init_params(problem: Peaks, rng: np.random.Generator, scheme: str = "torch") -> np.ndarray:
    """theta_0: "torch" = torch.nn.Linear's default, every weight and bias of a layer with fan-in
    k drawn from U(-1/sqrt(k), 1/sqrt(k)) (kaiming_uniform with a = sqrt(5), and its bias rule);
    "he" / "xavier" = the problem's own schemes, whose biases are 0."""
    if scheme not in INITS:
        raise ValueError(f"peaks: init must be one of {list(INITS)}, got {scheme!r}")
    if problem.parametrization != "standard":  # the same network: theta = theta_std / S
        std = dataclasses.replace(problem, parametrization="standard")
        return problem.from_standard(init_params(std, rng, scheme))
    if scheme != "torch":
        return problem.init_params(rng, "he" if scheme == "he" else "xavier")
    w, c = problem.width, problem.output_dim
    a1, a2 = 1 / math.sqrt(2), 1 / math.sqrt(w)
    W1, b1 = rng.uniform(-a1, a1, (w, 2)), rng.uniform(-a1, a1, w)
    W2, b2 = rng.uniform(-a2, a2, (c, w)), rng.uniform(-a2, a2, c)
    return problem.flatten(W1, b1, W2, b2)


def _has_lr(method: str) -> bool:
    return method in FIRST_ORDER or method == "kfac"


def _finite(x: Any) -> bool:
    return bool(np.all(np.isfinite(np.asarray(x))))


def _train_first_order(
    method: str,
    problem: Peaks,
    theta0: np.ndarray,
    batch_rng: np.random.Generator,
    lr: float,
    budget: Budget,
    per_epoch: int,
    record_curve: bool,
    curve: list[float],
) -> tuple[np.ndarray, list[float]]:
    """``train`` for a first-order method: the driver, minibatches from ``batch_rng``."""
    # minibatch gradients at opt.query(state) from batch_rng, the loss at each epoch's end
    opt = _registry.make(method, lr=lr, **EXTRA_HP.get(method, {}))
    try:
        traj = driver.run(
            opt,
            problem,
            theta0,
            budget.epochs * per_epoch,
            batch_size=budget.batch_size,
            rng=batch_rng,
            record_params=False,
            loss_every=per_epoch * budget.curve_every if record_curve else None,
        )
    except NonFiniteGradientError as exc:
        raise Diverged(f"{method}: {exc}") from exc
    for value in traj.losses[1:]:
        if not math.isfinite(float(value)):
            raise Diverged(f"{method}: training loss {float(value)}")
        curve.append(float(value))
    return np.asarray(traj.final.params), curve


def _train_kfac(
    problem: Peaks,
    theta0: np.ndarray,
    batch_rng: np.random.Generator,
    kseed: int,
    lr: float,
    budget: Budget,
    per_epoch: int,
    record: Callable[[Any], None],
    curve: list[float],
) -> tuple[np.ndarray, list[float]]:
    """``train`` for K-FAC: one step per minibatch, the loss at each epoch's end."""
    # K-FAC's step takes a dense-MLP problem (reference/curvature/kfac.py) and uses all of its rows: the
    # minibatch is the problem restricted to the batch's rows (mean reduction, s = 1/b).
    kopt = _registry.make("kfac", lr=lr, seed=kseed, **EXTRA_HP["kfac"])
    kstate = kopt.init(theta0)
    for _ in range(budget.epochs):
        for _ in range(per_epoch):
            idx = problem.batch_indices(batch_rng, budget.batch_size)
            batch = dataclasses.replace(problem, X=problem.X[idx], y=problem.y[idx])
            kstate = kopt.step(kstate, batch)
            if not _finite(kstate.params):
                raise Diverged(f"kfac: non-finite iterate at step {kstate.t}")
        record(kstate.params)
    return np.asarray(kstate.params), curve


def train(
    method: str,
    problem: Peaks,
    seq: np.random.SeedSequence,
    *,
    lr: float,
    budget: Budget = Budget(),
    record_curve: bool = True,
    init: str = "torch",
) -> tuple[np.ndarray, list[float]]:
    """Train ``method`` on ``problem`` from the trial ``seq``; return the final params and the curve.

    The run is a pure function of its arguments (bit-for-bit reproducible). Raises ``Diverged``
    when a gradient, an iterate or the loss stops being finite, ValueError for an unknown method.
    """
    if method not in METHODS:
        raise ValueError(f"peaks: method must be one of {list(METHODS)}, got {method!r}")
    if problem.parametrization != "standard" and method not in FIRST_ORDER:
        raise ValueError(
            f"peaks: the {problem.parametrization} parametrisation is run with the first-order "
            f"methods {list(FIRST_ORDER)} only, got {method!r}"
        )
    init_seq, batch_seq, target_seq = _streams(seq, 3)
    theta0 = init_params(problem, np.random.default_rng(init_seq), init)
    batch_rng = np.random.default_rng(batch_seq)
    curve: list[float] = [float(problem.loss(theta0))] if record_curve else []

    def record(params: Any) -> None:
        if record_curve:
            value = float(problem.loss(params))
            if not math.isfinite(value):
                raise Diverged(f"{method}: training loss {value}")
            curve.append(value)

    per_epoch = max(1, problem.n_samples // budget.batch_size)
    if method in FIRST_ORDER:
        return _train_first_order(
            method, problem, theta0, batch_rng, lr, budget, per_epoch, record_curve, curve
        )
    if method == "kfac":
        kseed = int(target_seq.generate_state(1)[0])
        return _train_kfac(problem, theta0, batch_rng, kseed, lr, budget, per_epoch, record, curve)
    if method == "gauss_newton":
        gopt = _registry.make("gauss_newton", damping=GN_DAMPING, line_search=True, activation="relu")
        gstate = gopt.init(theta0)
        for _ in range(budget.gn_steps):
            gstate = gopt.step(gstate, problem)
            record(gstate.params)
        return np.asarray(gstate.params), curve
    from ..oracle import FunctionOracle

    lopt = _registry.make("lbfgs", m=LBFGS_MEMORY)
    oracle = FunctionOracle.from_problem(problem)
    lstate = lopt.init(theta0)
    for _ in range(budget.lbfgs_steps):
        lstate = lopt.step(lstate, oracle)
        record(lstate.params)
    return np.asarray(lstate.params), curve


def evaluate(
    method: str,
    problem: Peaks,
    trial: int,
    seq: np.random.SeedSequence,
    lr: float,
    budget: Budget,
    init: str = "torch",
) -> RunResult:
    """Train and score one trial; a diverged run is kept, with nan scores and ``diverged=True``."""
    t0 = time.perf_counter()
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            theta, curve = train(method, problem, seq, lr=lr, budget=budget, init=init)
    except Diverged:
        nan = math.nan
        return RunResult(
            method=method,
            width=problem.width,
            trial=trial,
            lr=lr,
            train_loss=nan,
            test_loss=nan,
            train_acc=nan,
            test_acc=nan,
            curve=(),
            params=np.full(problem.dim, nan),
            seconds=time.perf_counter() - t0,
            diverged=True,
        )
    theta0 = init_params(problem, np.random.default_rng(_streams(seq, 3)[0]), init)
    return RunResult(
        method=method,
        width=problem.width,
        trial=trial,
        lr=lr,
        train_loss=float(problem.loss(theta)),
        test_loss=float(problem.test_loss(theta)),
        train_acc=100 * problem.train_accuracy(theta),
        test_acc=100 * problem.test_accuracy(theta),
        curve=tuple(curve),
        seconds=time.perf_counter() - t0,
        params=theta,
        move=float(np.linalg.norm(theta - theta0) / np.linalg.norm(theta0)),  # (PK6)
        lin=linearisation_error(problem, theta0, theta),
        parametrization=problem.parametrization,
        epochs=budget.epochs if _has_lr(method) else 0,
        curve_every=budget.curve_every if method in FIRST_ORDER else 1,
    )


def linearisation_error(problem: Peaks, theta0: np.ndarray, theta: np.ndarray) -> float:
    """(PK7): ||F(theta) - F_lin(theta)|| / ||F(theta) - F(theta_0)|| over the training inputs,
    F_lin(theta) = F(theta_0) + J(theta_0) (theta - theta_0) (note 002 eq. (14)); J times the
    step by autograd's forward mode. 0 for a model linear in theta; nan if theta = theta_0."""
    from autograd import make_jvp

    delta = np.asarray(theta) - np.asarray(theta0)
    f0, jd = make_jvp(lambda t: problem.predict(theta0 + t * delta, problem.X))(0.0)(1.0)
    f1 = np.asarray(problem.predict(theta, problem.X))
    change = float(np.linalg.norm(f1 - f0))
    return float(np.linalg.norm(f1 - f0 - jd)) / change if change > 0 else math.nan


def sharpness(problem: Peaks, theta: np.ndarray, iters: int = 20, seed: int = 0) -> float:
    """lambda_max of the training loss's Hessian at ``theta`` (in the problem's coordinates), by
    ``iters`` power iterations v <- H v / ||H v|| from a seeded Gaussian v, H v by autograd
    (``hessian_vector_product``); the Rayleigh quotient v.Hv of the last iterate. Assumes the top
    eigenvalue is the largest in magnitude (true at theta_0 here: the loss is near-convex there)."""
    from autograd import hessian_vector_product

    hvp = hessian_vector_product(problem.loss)
    v = np.random.default_rng(seed).standard_normal(problem.dim)
    v /= np.linalg.norm(v)
    lam = math.nan
    for _ in range(iters):
        u = np.asarray(hvp(theta, v))
        lam = float(v @ u)
        v = u / np.linalg.norm(u)
    return lam


@contextlib.contextmanager
def single_thread_blas() -> Iterator[None]:
    """OpenBLAS at one thread for the block (restored after): on the shared 2-core machine a
    minibatch step at width 8192 costs 5 times the CPU with two BLAS threads (threads spin while
    other jobs hold the cores), and the numbers no longer depend on the machine's core count."""
    import ctypes

    libs = []
    try:
        with open("/proc/self/maps") as fh:
            paths = sorted(
                {ln.split()[-1] for ln in fh if "openblas" in ln.lower() and ln.strip().endswith(".so")}
            )
    except OSError:
        paths = []
    for path in paths:
        with contextlib.suppress(OSError):
            libs.append(ctypes.CDLL(path))
    names = (
        ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
        ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
        ("openblas_get_num_threads", "openblas_set_num_threads"),
    )
    restore = []
    for lib in libs:
        for get, put in names:
            if hasattr(lib, get) and hasattr(lib, put):
                restore.append((getattr(lib, put), int(getattr(lib, get)())))
                getattr(lib, put)(1)
                break
    try:
        yield
    finally:
        for put, n in restore:
            put(n)


def search(
    method: str,
    width: int,
    budget: Budget,
    seed: int,
    init: str = "torch",
    parametrization: str = "standard",
    grid: Sequence[float] | None = None,
) -> tuple[float, dict[float, float]]:
    """The lr with the lowest validation loss, and every lr tried with its loss (SEARCH_PROTOCOL;
    ``grid`` replaces GRID[method] as stage 1). In the NTK parametrisation (the lazy rows) a run
    whose weights move by LAZY_MOVE or more of their norm scores inf: the best lazy step wins."""
    if method not in GRID:
        raise ValueError(f"peaks: method {method!r} has no learning-rate grid (GRID has {sorted(GRID)})")
    pz: Any = parametrization
    full = peaks(width=width, seed=0, parametrization=pz)
    sub = peaks(width=width, seed=0, n_samples=800, n_train=640, parametrization=pz)  # the first 800 points
    if not np.array_equal(sub.X, full.X[:640]) or not np.array_equal(sub.X_test, full.X[640:800]):
        raise RuntimeError("peaks: the search split is not a split of the training set")
    seq = np.random.SeedSequence(seed + 1000).spawn(1)[0]
    scores: dict[float, float] = {}

    def score(lr: float) -> None:
        lr = float(f"{lr:.3g}")
        if lr in scores:
            return
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                theta, _ = train(method, sub, seq, lr=lr, budget=budget, record_curve=False, init=init)
            val = float(sub.test_loss(theta))
            if parametrization != "standard":
                theta0 = init_params(sub, np.random.default_rng(_streams(seq, 3)[0]), init)
                move = float(np.linalg.norm(theta - theta0) / np.linalg.norm(theta0))
                print(
                    f"search {parametrization} {method} lr={lr:g}: val {val:.4f}, move {move:.3f}",
                    file=sys.stderr,
                )
                val = val if move < LAZY_MOVE else math.inf
        except Diverged:
            val = math.inf
        scores[lr] = val if math.isfinite(val) else math.inf

    def best() -> float:
        return min(scores, key=lambda k: scores[k])

    for lr in GRID[method] if grid is None else grid:
        score(lr)
    for _ in range(MAX_EXTEND):
        lo, hi = min(scores), max(scores)
        if best() == hi and math.isfinite(scores[hi]):
            score(hi * 10)
        elif best() == lo:
            score(lo / 10)
        else:
            break
    centre = best()
    for f in REFINE:
        score(centre * f)
    return best(), dict(sorted(scores.items()))


def tuned_lr(method: str, width: int, parametrization: str = "standard") -> float:
    """TUNED's (TUNED_NTK's) lr for ``method`` at the recorded width nearest to ``width`` (in log
    scale); nan for a method without one."""
    table_ = TUNED if parametrization == "standard" else TUNED_NTK
    if not _has_lr(method):
        return math.nan
    w = min(table_, key=lambda k: abs(math.log(k / width)))
    return table_[w].get(method, math.nan)


def _fmt(vals: Sequence[float], digits: int) -> str:
    a = np.asarray([v for v in vals if math.isfinite(v)], dtype=float)
    if a.size == 0:
        return "diverged"
    if a.size == 1:
        s = f"{a[0]:.{digits}f}"
    else:
        s = f"{a.mean():.{digits}f}±{a.std(ddof=1):.{digits}f}"
    return s + (f" ({len(vals) - a.size} div.)" if a.size < len(vals) else "")


def table(results: list[RunResult]) -> str:
    """Our mean ± std over trials beside the notes' figures, one row per (width, method,
    parametrisation); ``move`` (PK6) with its regime verdict (lazy below LAZY_MOVE), ``lin`` (PK7)."""
    head = (
        f"{'width':>5} {'method':<13} {'lr':>7} {'n':>2} {'train loss':>11} {'test loss':>11} "
        f"{'train acc %':>12} {'test acc %':>12} {'move':>6} {'regime':>6} {'lin':>5} {'ep':>3} "
        f"| {'note 001 loss tr/te, acc tr/te':<31}| note 000 acc tr/te"
    )
    lines = [head, "-" * len(head)]
    keys = sorted(
        {(r.width, r.parametrization, r.method) for r in results},
        key=lambda k: (k[0], k[1] != "standard", _order(k[2])),
    )
    for w, pz, m in keys:
        rs = [r for r in results if r.width == w and r.method == m and r.parametrization == pz]
        s1 = SEED_001.get((m, w))
        s0 = SEED_000.get((m, w))
        s1s = f"{s1[0]:.2f}/{s1[1]:.2f}, {s1[2]:.1f}/{s1[3]:.1f}" if s1 else "—"
        s0s = f"{s0[0]:.2f}/{s0[1]:.2f}" if s0 else "—"
        lr = f"{rs[0].lr:g}" if math.isfinite(rs[0].lr) else "—"
        moves = [r.move for r in rs if math.isfinite(r.move)]
        move = f"{np.mean(moves):.3f}" if moves else "—"
        regimes = {r.regime for r in rs if r.regime != "—"}
        regime = "—" if not regimes else regimes.pop() if len(regimes) == 1 else "mixed"
        lins = [r.lin for r in rs if math.isfinite(r.lin)]
        lin = f"{np.mean(lins):.2f}" if lins else "—"
        ep = str(rs[0].epochs) if rs[0].epochs else "—"
        lines.append(
            f"{w:>5} {rs[0].label:<13} {lr:>7} {len(rs):>2} {_fmt([r.train_loss for r in rs], 2):>11} "
            f"{_fmt([r.test_loss for r in rs], 2):>11} {_fmt([r.train_acc for r in rs], 1):>12} "
            f"{_fmt([r.test_acc for r in rs], 1):>12} {move:>6} {regime:>6} {lin:>5} {ep:>3} "
            f"| {s1s:<31}| {s0s}"
        )
    return "\n".join(lines)


def _order(m: str) -> int:
    return METHODS.index(m) if m in METHODS else len(METHODS)


_COLORS = {m: f"C{i}" for i, m in enumerate(METHODS)}


def _classes(prob: Peaks, params: np.ndarray, grid: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """argmax class of each grid row, in chunks (width 8192: 25921 x 8192 at once is 1.7 GB)."""
    out = [
        np.argmax(np.asarray(prob.predict(params, grid[i : i + chunk])), axis=1)
        for i in range(0, len(grid), chunk)
    ]
    return np.concatenate(out)


def plot(results: list[RunResult], problems: dict[int, Peaks], out: Path) -> list[Path]:
    """Per width: decision boundaries of trial 0, and the loss curves (mean and range over trials).

    Long because it lays out one figure, panel by panel; split, the layout would be scattered.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(["#3b4cc0", "#7eb6e8", "#e8e3a0", "#f4a582", "#b2182b"])
    written = []
    n_grid = 201
    g = np.linspace(-3, 3, n_grid)
    G = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    for w, prob in problems.items():
        rs = sorted(
            (r for r in results if r.width == w and r.trial == 0),
            key=lambda r: (r.parametrization != "standard", _order(r.method)),
        )
        if not rs:
            continue
        panels: list[tuple[str, np.ndarray | None]] = [("truth: level sets of peaks", peaks_labels(G))]
        panels += [
            (
                f"{r.label}: train {r.train_acc:.1f}%, test {r.test_acc:.1f}%",
                None if r.diverged else _classes(prob, r.params, G),
            )
            for r in rs
        ]
        cols = min(4, len(panels))
        rows = math.ceil(len(panels) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.4 * rows), squeeze=False)
        for ax, (title, cls) in zip(axes.flat, panels):
            if cls is not None:
                ax.pcolormesh(
                    g,
                    g,
                    cls.reshape(n_grid, n_grid),
                    cmap=cmap,
                    vmin=-0.5,
                    vmax=4.5,
                    alpha=0.55,
                    shading="auto",
                    rasterized=True,
                )
            ax.scatter(
                prob.X[:, 0],
                prob.X[:, 1],
                c=prob.y,
                s=5,
                cmap=cmap,
                vmin=-0.5,
                vmax=4.5,
                edgecolors="k",
                linewidths=0.15,
            )
            ax.set_title(title if cls is not None else title + " (diverged)", fontsize=8)
            ax.set_xlim(-3, 3)
            ax.set_ylim(-3, 3)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in list(axes.flat)[len(panels) :]:
            ax.axis("off")
        fig.suptitle(f"Peaks decision boundaries, width {w} (p = {prob.dim}), trial 0; dots: training set")
        fig.tight_layout()
        path = out / f"peaks_boundaries_w{w}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
        any2 = False
        groups = sorted(
            {(r.parametrization, r.method) for r in results if r.width == w},
            key=lambda k: (k[0] != "standard", _order(k[1])),
        )
        for pz, m in groups:
            runs = [
                r
                for r in results
                if r.width == w and r.method == m and r.parametrization == pz and not r.diverged
            ]
            if not runs:
                continue
            curves = [r.curve for r in runs]
            n = min(len(c) for c in curves)
            arr = np.asarray([c[:n] for c in curves])
            x = np.arange(n) * runs[0].curve_every
            ax = ax1 if _has_lr(m) else ax2
            any2 |= ax is ax2
            style = "-" if pz == "standard" else "--"
            ax.semilogy(x, arr.mean(axis=0), style, label=runs[0].label, color=_COLORS[m])
            if len(curves) > 1:
                ax.fill_between(
                    x, arr.min(axis=0), arr.max(axis=0), color=_COLORS[m], alpha=0.15, linewidth=0
                )
        ax1.set_xlabel(f"epoch ({prob.n_samples // BATCH_SIZE} minibatch steps of {BATCH_SIZE})")
        ax1.set_title("minibatch methods")
        ax2.set_xlabel("iteration (full batch)")
        ax2.set_title("full-batch methods")
        for ax in (ax1, ax2):
            ax.set_ylabel("training loss (mean, band: min-max over trials)")
            ax.grid(True, which="both", alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
        if not any2:
            ax2.text(0.5, 0.5, f"none at width {w}", ha="center", va="center", transform=ax2.transAxes)
        fig.suptitle(f"Peaks convergence, width {w} (p = {prob.dim})")
        fig.tight_layout()
        path = out / f"peaks_convergence_w{w}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def _parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[int], list[str]]:
    """``optref peaks`` arguments: the namespace, the widths and the methods.

    Long because it declares every option of the command and checks each.
    """
    doc = __doc__.split("\n\n")[0] if __doc__ else None
    parser = argparse.ArgumentParser(prog="optref peaks", description=doc)
    parser.add_argument("--widths", help=f"comma list of hidden widths (default {DEFAULTS['widths']})")
    parser.add_argument(
        "--methods", default="all", help=f"comma list from {','.join(METHODS)}, or 'all' (default)"
    )
    parser.add_argument(
        "--seeds", type=int, help=f"trials per method and width (default {DEFAULTS['seeds']})"
    )
    parser.add_argument("--seed", type=int, default=0, help="root seed, >= 0 (default 0)")
    parser.add_argument(
        "--epochs", type=int, help=f"epochs at width <= {WIDE} (default {DEFAULTS['epochs']})"
    )
    parser.add_argument(
        "--wide-epochs", type=int, help=f"epochs at width > {WIDE} (default {DEFAULTS['wide_epochs']})"
    )
    parser.add_argument(
        "--gn-steps", type=int, help=f"Gauss-Newton iterations (default {DEFAULTS['gn_steps']})"
    )
    parser.add_argument(
        "--lbfgs-steps",
        type=int,
        help=f"L-BFGS iterations at width <= {WIDE} (default {DEFAULTS['lbfgs_steps']})",
    )
    parser.add_argument(
        "--wide-lbfgs-steps",
        type=int,
        help=f"L-BFGS iterations at width > {WIDE} (default {DEFAULTS['wide_lbfgs_steps']})",
    )
    parser.add_argument(
        "--init",
        default="torch",
        choices=INITS,
        help="initialisation: torch (nn.Linear's default, the default), he or xavier (zero biases)",
    )
    parser.add_argument(
        "--lr",
        default="",
        help="learning-rate overrides, e.g. sgd=0.01,adam=1e-3 (all widths; beats --search)",
    )
    parser.add_argument(
        "--lazy",
        help="first-order methods of the lazy rows: NTK parametrisation at each width above "
        f"{WIDE}, --epochs epochs (comma list, 'all' or 'none'; default none, {LAZY_ONLY} with --lazy-only)",
    )
    parser.add_argument(
        "--lazy-curve-every",
        type=int,
        help=f"lazy rows: training loss every this many epochs (default {DEFAULTS['lazy_curve_every']})",
    )
    parser.add_argument(
        "--lazy-only",
        action="store_true",
        help=f"only the lazy rows (default --lazy {LAZY_ONLY}; the standard rows are skipped)",
    )
    parser.add_argument(
        "--ntk-lr", default="", help="learning-rate overrides of the lazy rows, e.g. sgd=2,adam=1e-3"
    )
    parser.add_argument(
        "--search", action="store_true", help="rerun the learning-rate search first, train with its winners"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run (seconds): defaults " + ", ".join(f"{k}={v}" for k, v in QUICK.items()),
    )
    parser.add_argument(
        "--out", default="peaks-report", help="folder for the PNGs and the table (default ./peaks-report)"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    args = parser.parse_args(list(argv))
    base = QUICK if args.quick else DEFAULTS
    if args.lazy is None and args.lazy_only:
        args.lazy = LAZY_ONLY
    for k, v in base.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    for k in (
        "seeds",
        "epochs",
        "wide_epochs",
        "gn_steps",
        "lbfgs_steps",
        "wide_lbfgs_steps",
        "lazy_curve_every",
    ):
        if getattr(args, k) < 1:
            parser.error(f"--{k.replace('_', '-')} must be an integer >= 1, got {getattr(args, k)}")
    if args.seed < 0:
        parser.error(f"--seed must be an integer >= 0, got {args.seed}")
    try:
        widths = [int(w) for w in str(args.widths).split(",") if w.strip()]
    except ValueError:
        parser.error(f"--widths must be a comma list of integers >= 1, got {args.widths!r}")
    if not widths or min(widths) < 1:
        parser.error(f"--widths must be a comma list of integers >= 1, got {args.widths!r}")
    wanted = (
        list(METHODS) if args.methods == "all" else [m.strip() for m in args.methods.split(",") if m.strip()]
    )
    unknown = [m for m in wanted if m not in METHODS]
    if unknown or not wanted:
        parser.error(f"--methods: unknown {unknown}; choose from {', '.join(METHODS)} or 'all'")
    missing = [m for m in wanted if m not in _registry.ALGORITHMS]
    if missing:
        parser.error(f"--methods: {missing} not registered in this install (ref.ALGORITHMS)")
    args.lr_overrides = _lr_items(parser, "--lr", str(args.lr), tuple(GRID))
    args.ntk_lr_overrides = _lr_items(parser, "--ntk-lr", str(args.ntk_lr), FIRST_ORDER)
    lazy = str(args.lazy).strip()
    names = [] if lazy == "none" else list(FIRST_ORDER) if lazy == "all" else lazy.split(",")
    args.lazy_methods = [m.strip() for m in names if m.strip()]
    bad = [m for m in args.lazy_methods if m not in FIRST_ORDER]
    if bad or (lazy not in ("none", "") and not args.lazy_methods):
        parser.error(f"--lazy: unknown {bad}; choose from {', '.join(FIRST_ORDER)}, 'all' or 'none'")
    args.lazy_methods = [m for m in args.lazy_methods if m in wanted]
    if any(w > WIDE for w in widths) and not args.search:
        for m in args.lazy_methods:
            if m not in args.ntk_lr_overrides and not math.isfinite(tuned_lr(m, max(widths), "ntk")):
                parser.error(
                    f"--lazy: no recorded NTK learning rate for {m}; pass --ntk-lr {m}=<lr> or --search"
                )
    return args, widths, wanted


def _lr_items(
    parser: argparse.ArgumentParser, flag: str, text: str, allowed: Sequence[str]
) -> dict[str, float]:
    """The method=value pairs of a learning-rate flag (one-line parser error on a bad item)."""
    out = {}
    for item in (x.strip() for x in text.split(",") if x.strip()):
        name, _, value = item.partition("=")
        try:
            lr = float(value)
        except ValueError:
            lr = math.nan
        if name.strip() not in allowed or not (math.isfinite(lr) and lr > 0):
            parser.error(
                f"{flag}: expected method=value with a method from {', '.join(allowed)} and a value > 0, got {item!r}"
            )
        out[name.strip()] = lr
    return out


def _trials(
    args: argparse.Namespace, prob: Peaks, methods: Sequence[str], lrs: dict[str, float], budget: Budget
) -> list[RunResult]:
    """``args.seeds`` trials of each method on ``prob``, each reported on stderr as it finishes."""
    out = []
    seqs = np.random.SeedSequence(args.seed).spawn(args.seeds)
    for m in methods:
        for k, seq in enumerate(seqs):
            r = evaluate(m, prob, k, seq, lrs[m], budget, args.init)
            out.append(r)
            status = "DIVERGED" if r.diverged else f"train {r.train_acc:5.1f}% test {r.test_acc:5.1f}%"
            regime = f", move {r.move:.3f} {r.regime}" if math.isfinite(r.move) else ""
            print(
                f"width {prob.width} {r.label:<13} trial {k}: {status}{regime} ({r.seconds:.1f} s)",
                file=sys.stderr,
            )
    return out


def _lazy_rows(
    args: argparse.Namespace, width: int, record: dict[int, dict[str, dict[float, float]]]
) -> list[RunResult]:
    """The lazy rows at ``width``: NTK parametrisation (PK1), the width-32 epoch budget, the same
    theta_0 networks and minibatches as the standard rows, lr from TUNED_NTK (NTK_LR_RULE)."""
    prob = peaks(width=width, seed=0, parametrization="ntk")
    budget = Budget(epochs=args.epochs, curve_every=args.lazy_curve_every)
    lrs = {m: tuned_lr(m, width, "ntk") for m in args.lazy_methods}
    if args.search:
        for m in args.lazy_methods:
            if m in NTK_GRID:
                best, scores = search(m, width, budget, args.seed, args.init, "ntk", NTK_GRID[m])
                lrs[m] = best
                record.setdefault(-width, {})[m] = scores  # negative width: the NTK search
                print(f"search ntk width {width} {m}: {scores} -> {best:g}", file=sys.stderr)
    lrs.update({m: v for m, v in args.ntk_lr_overrides.items() if m in lrs})
    print(
        f"width {width}: lazy rows, NTK parametrisation, {budget.epochs} epochs, lr "
        + ", ".join(f"{m}={v:g}" for m, v in lrs.items()),
        file=sys.stderr,
    )
    return _trials(args, prob, args.lazy_methods, lrs, budget)


def main(argv: Sequence[str] | None = None) -> int:
    """``optref peaks [options]``: train, print the table, write the PNGs; returns the exit status."""
    args, widths, methods = _parse(sys.argv[1:] if argv is None else argv)
    return _main(args, widths, methods)


def _main(args: argparse.Namespace, widths: list[int], methods: list[str]) -> int:
    """``main`` after parsing: train each (width, method), print the table, write the figures and
    the JSON, choose the exit status.

    Long because it is the command top to bottom; split, the order of the outputs would be scattered.
    """
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: list[RunResult] = []
    problems: dict[int, Peaks] = {}
    record: dict[int, dict[str, dict[float, float]]] = {}
    t_start = time.perf_counter()
    seconds: dict[int, float] = {}
    for w in widths:
        t_w = time.perf_counter()
        prob = peaks(width=w, seed=0)
        problems[w] = prob
        wide = w > WIDE
        budget = Budget(
            epochs=args.wide_epochs if wide else args.epochs,
            gn_steps=args.gn_steps,
            lbfgs_steps=args.wide_lbfgs_steps if wide else args.lbfgs_steps,
        )
        ms = [m for m in methods if not (wide and m in ("gauss_newton", "kfac"))]
        if len(ms) < len(methods) and not args.lazy_only:
            print(
                f"width {w}: Gauss-Newton and K-FAC skipped above width {WIDE} (p = {prob.dim}: "
                "G is p x p; K-FAC inverts a (w+1) x (w+1) factor every step)",
                file=sys.stderr,
            )
        lrs = {m: tuned_lr(m, w) for m in ms}
        if args.search and not args.lazy_only:
            for m in ms:
                if m in GRID:
                    best, scores = search(m, w, budget, args.seed, args.init)
                    lrs[m] = best
                    record.setdefault(w, {})[m] = scores
                    print(
                        f"search width {w} {m}: "
                        + ", ".join(f"lr={k:g}: val {v:.4f}" for k, v in scores.items())
                        + f" -> {best:g}",
                        file=sys.stderr,
                    )
        lrs.update({m: v for m, v in args.lr_overrides.items() if m in lrs})
        if not args.lazy_only:
            results += _trials(args, prob, ms, lrs, budget)
        if wide and args.lazy_methods:
            with single_thread_blas():
                results += _lazy_rows(args, w, record)
        seconds[w] = time.perf_counter() - t_w
    text = table(results)
    timing = ", ".join(f"width {w}: {s:.0f} s" for w, s in seconds.items())
    text += (
        f"\n\nmean ± sample std over {args.seeds} trial(s); move = mean ||theta_T - theta_0|| / ||theta_0|| "
        f"in the trained coordinates, regime lazy if move < {LAZY_MOVE:g}; lin = mean linearisation error "
        f"||F - F_lin|| / ||F - F_0|| on the training inputs; ep = epochs; -ntk rows: NTK parametrisation "
        f"(specs/peaks.md); init {args.init}"
    )
    text += f"\nwall clock {timing} (total {time.perf_counter() - t_start:.0f} s)"
    print(text)
    (out / "peaks_table.txt").write_text(text + "\n")
    rows = [{k: v for k, v in dataclasses.asdict(r).items() if k != "params"} for r in results]
    payload: dict[str, Any] = {"args": vars(args), "results": rows, "seconds_per_width": seconds}
    if record:
        payload["search"] = {
            str(w): {m: {str(k): v for k, v in s.items()} for m, s in d.items()} for w, d in record.items()
        }
        print("SEARCH_RECORD = " + repr(record), file=sys.stderr)
    (out / "peaks_results.json").write_text(json.dumps(payload, indent=1, default=float) + "\n")
    print(f"wrote {out / 'peaks_table.txt'}")
    print(f"wrote {out / 'peaks_results.json'}")
    if not args.no_plots:
        for p in plot(results, problems, out):
            print(f"wrote {p}")
    return 0
