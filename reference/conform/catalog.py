"""The catalog: every optimizer and learning-rate schedule of torch.optim and optax, and the reference
call that reproduces it, or why none does. Spec: specs/conformance.md, "The catalog".

    optref list --peers              the table (needs the peers extra: torch, jax, optax)
    optref list --peers --measure    also run each pair at every setting below, float64 and float32,
                                     and print the verdict and the worst deviation in ulps

Two kinds of fact live here, each once:

* **The reviewed names.** ``TORCH_OPTIMIZERS``, ``OPTAX_OPTIMIZERS`` (and reference/schedules.py's
  ``TORCH``/``OPTAX`` tables for schedules) list every optimizer class and schedule the project has
  read in each framework's current release. tests/test_catalog.py enumerates the installed frameworks'
  own names and fails when a release adds one that is not here: a new optimizer is never silently
  "not in the catalog".
* **The settings.** ``SETTINGS`` gives, per optimizer, the constructor keywords of each setting the
  catalog runs: the framework's defaults first (plus a learning rate where the framework has none),
  then settings that exercise each option (weight decay, momentum, AMSGrad, ...).

The translation itself (which reference call and keywords a configuration means) is not repeated here:
each row is computed by the adapters (``torch_peer``, ``optax_peer``, ``reference/conform/mappings``)
from the peer's own configuration, so the table cannot disagree with what ``optref conform`` runs.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

#: The parameter tensors every catalog run uses (the CLI's default): a matrix and a vector.
SHAPES: tuple[tuple[int, ...], ...] = ((3, 4), (5,))
#: Peers that need other tensors: torch's Muon takes matrices only.
SHAPES_FOR: dict[tuple[str, str], tuple[tuple[int, ...], ...]] = {("torch", "Muon"): ((3, 4), (4, 5))}

# ----------------------------------------------------------------------------------------------
# Reviewed names (torch 2.13.0, optax 0.2.8)

TORCH_OPTIMIZERS = (
    "ASGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "LBFGS",
    "Muon",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SGD",
    "SparseAdam",
)
OPTAX_OPTIMIZERS = (
    "adabelief",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "adan",
    "amsgrad",
    "fromage",
    "lamb",
    "lars",
    "lbfgs",
    "lion",
    "nadam",
    "nadamw",
    "noisy_sgd",
    "novograd",
    "optimistic_adam",
    "optimistic_adam_v2",
    "optimistic_gradient_descent",
    "polyak_sgd",
    "radam",
    "rmsprop",
    "rprop",
    "sgd",
    "sign_sgd",
    "signum",
    "sm3",
    "yogi",
)

#: Per optimizer: the settings the catalog runs (constructor keywords; defaults first).
SETTINGS: dict[tuple[str, str], tuple[dict[str, Any], ...]] = {
    ("torch", "SGD"): (
        {},
        {"lr": 1e-2, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01},
        {"lr": 1e-2, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    ),
    ("torch", "Adam"): (
        {},
        {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1, "amsgrad": True},
        {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True},
    ),
    ("torch", "AdamW"): ({}, {"lr": 1e-2, "betas": (0.8, 0.99), "weight_decay": 0.1, "amsgrad": True}),
    ("torch", "Adagrad"): (
        {},
        {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-6, "weight_decay": 0.01},
    ),
    ("torch", "RMSprop"): (
        {},
        {"lr": 1e-2, "alpha": 0.9, "eps": 1e-6, "centered": True, "momentum": 0.5, "weight_decay": 0.01},
    ),
    ("torch", "Adadelta"): ({}, {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.01}),
    ("torch", "NAdam"): (
        {},
        {"lr": 1e-2, "betas": (0.8, 0.99), "weight_decay": 0.1, "momentum_decay": 1e-2},
        {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True},
    ),
    ("torch", "RAdam"): (
        {},
        {"lr": 1e-2, "betas": (0.8, 0.99), "weight_decay": 0.1},
        {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True},
    ),
    ("torch", "Adamax"): ({}, {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-3, "weight_decay": 0.1}),
    ("optax", "sgd"): (
        {"learning_rate": 1e-2},
        {"learning_rate": 1e-2, "momentum": 0.9},
        {"learning_rate": 1e-2, "momentum": 0.9, "nesterov": True},
    ),
    ("optax", "adam"): (
        {"learning_rate": 1e-3},
        {"learning_rate": 1e-2, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "eps_root": 1e-8},
    ),
    ("optax", "amsgrad"): (
        {"learning_rate": 1e-3},
        {"learning_rate": 1e-2, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "eps_root": 1e-8},
    ),
    ("optax", "adamw"): (
        {"learning_rate": 1e-3},
        {"learning_rate": 1e-2, "b1": 0.8, "b2": 0.99, "eps_root": 1e-8, "weight_decay": 0.1},
    ),
    ("optax", "lion"): (
        {"learning_rate": 1e-4},
        {"learning_rate": 1e-3, "b1": 0.8, "b2": 0.95, "weight_decay": 0.1},
    ),
    ("optax", "rmsprop"): (
        {"learning_rate": 1e-2},
        {"learning_rate": 1e-2, "decay": 0.8, "initial_scale": 0.1, "eps_in_sqrt": False, "momentum": 0.5},
        {"learning_rate": 1e-2, "centered": True},
        # not centered=True with bias_correction=True: at step 1 optax's centred estimate
        # vhat - mhat^2 is 0 in exact arithmetic and negative after rounding in float32 (NaN)
        {"learning_rate": 1e-2, "bias_correction": True, "momentum": 0.5},
    ),
    ("optax", "adagrad"): (
        {"learning_rate": 1e-2},
        {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-5},
    ),
    ("optax", "adadelta"): (
        {"learning_rate": 1.0},
        {"learning_rate": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.01},
    ),
    ("optax", "sign_sgd"): ({"learning_rate": 1e-2},),
    ("optax", "signum"): ({"learning_rate": 1e-2}, {"learning_rate": 1e-2, "beta": 0.5}),
    ("optax", "nadam"): ({"learning_rate": 1e-3}, {"learning_rate": 1e-2, "b1": 0.8, "eps_root": 1e-8}),
    ("optax", "nadamw"): ({"learning_rate": 1e-3}, {"learning_rate": 1e-2, "b1": 0.8, "weight_decay": 0.1}),
    ("optax", "radam"): ({"learning_rate": 1e-3}, {"learning_rate": 1e-2, "b1": 0.8, "threshold": 6.0}),
    ("optax", "adamax"): ({"learning_rate": 1e-3}, {"learning_rate": 1e-2, "b1": 0.8, "eps": 1e-3}),
    ("optax", "adamaxw"): ({"learning_rate": 1e-3}, {"learning_rate": 1e-2, "weight_decay": 0.1}),
    ("torch", "Rprop"): ({}, {"lr": 0.5, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}),
    ("torch", "ASGD"): ({}, {"lr": 0.05, "lambd": 0.1, "alpha": 0.5, "t0": 5.0, "weight_decay": 0.1}),
    ("optax", "rprop"): (
        {"learning_rate": 1e-2},
        {
            "learning_rate": 0.5,
            "eta_minus": 0.3,
            "eta_plus": 1.5,
            "min_step_size": 1e-3,
            "max_step_size": 0.2,
        },
    ),
    ("optax", "yogi"): ({"learning_rate": 1e-2}, {"learning_rate": 5e-2, "b1": 0.8, "b2": 0.99, "eps": 1e-4}),
    ("optax", "adabelief"): (
        {"learning_rate": 1e-3},
        {"learning_rate": 1e-2, "b1": 0.8, "b2": 0.99, "eps": 1e-8, "eps_root": 1e-10, "nesterov": True},
    ),
    ("optax", "lamb"): (
        {"learning_rate": 1e-3},
        {"learning_rate": 1e-2, "b1": 0.8, "b2": 0.99, "eps": 1e-3, "eps_root": 1e-8, "weight_decay": 0.1},
    ),
    ("optax", "lars"): (
        {"learning_rate": 0.1},
        {
            "learning_rate": 1.0,
            "weight_decay": 0.1,
            "trust_coefficient": 0.02,
            "eps": 1e-3,
            "momentum": 0.8,
            "nesterov": True,
        },
    ),
    ("optax", "fromage"): ({"learning_rate": 1e-2}, {"learning_rate": 0.1, "min_norm": 3.0}),
    ("optax", "novograd"): (
        {"learning_rate": 1e-3},
        {"learning_rate": 1e-2, "b1": 0.8, "b2": 0.9, "eps": 1e-3, "eps_root": 1e-8, "weight_decay": 0.1},
    ),
    ("torch", "Adafactor"): (
        {},
        {"lr": 0.05, "beta2_decay": -0.5, "eps": (1e-6, 1e-2), "d": 2.0, "weight_decay": 0.1},
    ),
    # optax.adafactor's learning_rate=None moves theta by its own RMS each step: on the catalog's
    # random streams |theta| grows geometrically and optax's float32 RMS overflows in the 1000-step
    # long run (specs/adafactor.md); the catalog runs it with a learning rate.
    ("optax", "adafactor"): (
        {"learning_rate": 1e-2},
        {
            "learning_rate": 0.05,
            "min_dim_size_to_factor": 2,
            "momentum": 0.9,
            "weight_decay_rate": 1e-2,
            "multiply_by_parameter_scale": False,
        },
        {"learning_rate": 0.05, "min_dim_size_to_factor": 2, "clipping_threshold": None, "eps": 1e-20},
        {"learning_rate": 0.05, "factored": False},
    ),
    ("optax", "sm3"): ({"learning_rate": 0.1}, {"learning_rate": 0.1, "momentum": 0.0}),
    ("optax", "optimistic_gradient_descent"): (
        {"learning_rate": 1e-2},
        {"learning_rate": 5e-2, "alpha": 0.5, "beta": 2.0},
    ),
    ("optax", "optimistic_adam"): (
        {"learning_rate": 1e-2},
        {"learning_rate": 1e-2, "optimism": 0.5, "b2": 0.99, "nesterov": False},
    ),
    ("optax", "optimistic_adam_v2"): (
        {"learning_rate": 1e-2},
        {"learning_rate": 1e-2, "alpha": 0.3, "beta": 0.7, "b1": 0.8, "eps_root": 1e-8, "nesterov": False},
    ),
    ("torch", "Muon"): (
        {},
        {
            "lr": 0.02,
            "weight_decay": 0.01,
            "momentum": 0.9,
            "nesterov": False,
            "ns_coefficients": (2.0, -1.5, 0.5),
            "eps": 1e-3,
            "ns_steps": 3,
            "adjust_lr_fn": "match_rms_adamw",
        },
    ),
    ("torch", "SparseAdam"): ({}, {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-3}),
    ("optax", "adan"): (
        {"learning_rate": 1e-3},
        {
            "learning_rate": 1e-2,
            "b1": 0.9,
            "b2": 0.8,
            "b3": 0.95,
            "eps": 1e-6,
            "eps_root": 0.0,
            "weight_decay": 0.1,
        },
    ),
    ("torch", "LBFGS"): ({}, {"line_search_fn": "strong_wolfe", "history_size": 5}),
    ("optax", "lbfgs"): ({}, {"memory_size": 5, "scale_init_precond": False}),
    ("optax", "polyak_sgd"): (
        {},
        {"max_learning_rate": 0.5, "scaling": 0.7, "f_min": -0.2, "eps": 1e-3, "variant": "sps+"},
    ),
    # optax warns when noisy_sgd's key is not given; the noise stream is replayed from it
    ("optax", "noisy_sgd"): (
        {"learning_rate": 1e-2, "key": 0},
        {"learning_rate": 5e-2, "eta": 0.3, "gamma": 0.8, "key": 7},
    ),
}


def reviewed_schedules() -> dict[str, tuple[str, ...]]:
    """The schedules of each framework the project has read (reference/schedules.py's tables)."""
    from .. import schedules

    return {"torch": tuple(sorted(schedules.TORCH)), "optax": tuple(sorted(schedules.OPTAX))}


# ----------------------------------------------------------------------------------------------
# What the installed frameworks ship


def torch_optimizer_names() -> tuple[str, ...]:
    """Every ``torch.optim`` class deriving from ``Optimizer`` (not the base class)."""
    import torch

    base = torch.optim.Optimizer
    names = (n for n in dir(torch.optim) if not n.startswith("_"))
    return tuple(
        sorted(
            n
            for n in names
            if isinstance(getattr(torch.optim, n), type)
            and issubclass(getattr(torch.optim, n), base)
            and getattr(torch.optim, n) is not base
        )
    )


def optax_optimizer_names() -> tuple[str, ...]:
    """Every alias of optax's core (``optax._src.alias``: its functions and the partials of them)."""
    from optax._src import alias

    out = []
    for n in dir(alias):
        obj = getattr(alias, n)
        fn = getattr(obj, "func", obj)  # functools.partial (nadam, nadamw)
        if not n.startswith("_") and callable(obj) and getattr(fn, "__module__", "") == alias.__name__:
            out.append(n)
    return tuple(sorted(out))


def torch_schedule_names() -> tuple[str, ...]:
    """Every scheduler class of ``torch.optim.lr_scheduler`` (not the base classes)."""
    from torch.optim import lr_scheduler as L

    bases = (L.LRScheduler, L.ReduceLROnPlateau)
    skip = {"LRScheduler", "_LRScheduler"}
    return tuple(
        sorted(
            n
            for n in dir(L)
            if n not in skip
            and not n.startswith("_")
            and isinstance(getattr(L, n), type)
            and issubclass(getattr(L, n), bases)
        )
    )


def optax_schedule_names() -> tuple[str, ...]:
    """Every schedule function of ``optax.schedules`` (not hyperparameter injection or types)."""
    import optax.schedules as S

    skip = {"inject_hyperparams", "inject_stateful_hyperparams"}
    return tuple(
        sorted(
            n for n in dir(S) if not n.startswith("_") and n not in skip and inspect.isfunction(getattr(S, n))
        )
    )


# ----------------------------------------------------------------------------------------------
# Rows


@dataclass
class Row:
    """One peer: the reference call its default setting maps to (or the reason none does), and,
    after ``measure``, the verdict and worst ulps per setting and dtype."""

    framework: str  # "torch" | "optax"
    kind: str  # "optimizer" | "schedule"
    name: str  # as the framework spells it: "Adam", "adam", "StepLR", "cosine_decay_schedule"
    reference: str = ""  # e.g. "ref.adam(lr=0.001, ...)"; empty when none
    reason: str = ""  # why no reference call reproduces it
    results: list[tuple[str, str, bool, float]] = field(default_factory=list)  # (setting, dtype, ok, ulps)

    @property
    def label(self) -> str:
        if self.kind == "schedule":
            return (
                f"torch.optim.lr_scheduler.{self.name}" if self.framework == "torch" else f"optax.{self.name}"
            )
        return f"torch.optim.{self.name}" if self.framework == "torch" else f"optax.{self.name}"


def settings(framework: str, name: str) -> tuple[dict[str, Any], ...]:
    """The catalog's settings for one optimizer (the framework's defaults alone when none are listed;
    an optax alias whose learning rate has no default gets the CLI's default)."""
    if (framework, name) in SETTINGS:
        return SETTINGS[(framework, name)]
    if framework == "optax":
        from .cli import OPTAX_DEFAULT_LR
        from .optax_adapter import required_learning_rate

        if required_learning_rate(name):
            return ({"learning_rate": OPTAX_DEFAULT_LR.get(name, 1e-3)},)
    return ({},)


def build(framework: str, name: str, hp: dict[str, Any], dtype: str = "float64") -> Any:
    """The peer ``optref conform`` builds for this optimizer and setting."""
    from .cli import build_peer

    target = f"torch.optim.{name}" if framework == "torch" else f"optax.{name}"
    shapes = SHAPES_FOR.get((framework, name), SHAPES)
    return build_peer(target, None, None, dict(hp), [tuple(s) for s in shapes], dtype)


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def optimizer_row(framework: str, name: str) -> Row:
    """The row of one optimizer at its first setting (the defaults)."""
    from .peers import NotComparable

    row = Row(framework, "optimizer", name)
    try:
        row.reference = build(framework, name, settings(framework, name)[0]).spec.describe()
    except NotComparable as e:
        row.reason = _one_line(e)
    except (TypeError, ValueError) as e:  # a mapping that cannot be built: shown, never hidden
        row.reason = f"error: {_one_line(e)}"
    return row


def schedule_row(framework: str, name: str) -> Row:
    """The row of one schedule: its reference call (reference/schedules.py's tables)."""
    from .. import schedules

    table = schedules.TORCH if framework == "torch" else schedules.OPTAX
    row = Row(framework, "schedule", name)
    if name in table:
        row.reference = f"ref.schedules.{table[name]}"
    else:
        row.reason = "not reviewed yet"
    return row


def rows(
    frameworks: Sequence[str] = ("torch", "optax"), *, kinds: Sequence[str] = ("optimizer", "schedule")
) -> Iterator[Row]:
    """Every row of the catalog for the installed frameworks, optimizers then schedules."""
    names: dict[tuple[str, str], Callable[[], tuple[str, ...]]] = {
        ("torch", "optimizer"): torch_optimizer_names,
        ("optax", "optimizer"): optax_optimizer_names,
        ("torch", "schedule"): torch_schedule_names,
        ("optax", "schedule"): optax_schedule_names,
    }
    for kind in kinds:
        for fw in frameworks:
            for n in names[(fw, kind)]():
                yield optimizer_row(fw, n) if kind == "optimizer" else schedule_row(fw, n)


def measure(row: Row, *, steps: int = 40) -> Row:
    """Run ``conform`` on every setting of an optimizer row, float64 and float32 (all streams, both
    loops, the long run), recording the verdict and the worst deviation in ulps of each run."""
    from .engine import conform
    from .oracle_peers import OraclePeer, conform_oracle

    if row.kind != "optimizer" or row.reason:
        return row
    for i, hp in enumerate(settings(row.framework, row.name)):
        for dtype in ("float64", "float32"):
            try:
                peer = build(row.framework, row.name, hp, dtype)
                if isinstance(peer, OraclePeer):  # L-BFGS, Polyak: fed f and grad (specs/conformance.md)
                    orep = conform_oracle(peer)
                    row.results.append((f"#{i}", dtype, orep.passed, orep.max_ulps))
                    continue
                report = conform(peer, n_steps=steps, diagnose=False)
                ulps = max((c.max_ulps for c in report.comparisons), default=0.0)
                row.results.append((f"#{i}", dtype, report.passed, ulps))
            except Exception as e:  # noqa: BLE001 - a failure to run is a row, not a crash
                row.results.append((f"#{i}", dtype, False, math.nan))
                print(
                    f"optref list --peers: {row.label} setting #{i} {dtype}: {_one_line(e)}", file=sys.stderr
                )
    return row


def _fmt_ulps(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.3g}"


def table(all_rows: Sequence[Row]) -> str:
    """The catalog as a Markdown table (with the measured columns when rows were measured)."""
    measured = any(r.results for r in all_rows)
    head = "| peer | kind | reference at the defaults (or why none) |"
    sep = "|---|---|---|"
    if measured:
        head += " settings | verdict | worst ulps f64 | worst ulps f32 |"
        sep += "---|---|---|---|"
    lines = [head, sep]
    for r in all_rows:
        ref_text = f"`{r.reference}`" if r.reference else f"none: {r.reason}"
        line = f"| {r.label} | {r.kind} | {ref_text} |"
        if measured:
            if r.results:
                ok = all(res[2] for res in r.results)
                f64 = max((res[3] for res in r.results if res[1] == "float64"), default=math.nan)
                f32 = max((res[3] for res in r.results if res[1] == "float32"), default=math.nan)
                n = len({res[0] for res in r.results})
                line += f" {n} | {'conforms' if ok else 'MISMATCH'} | {_fmt_ulps(f64)} | {_fmt_ulps(f32)} |"
            else:
                line += " - | - | - | - |"
        lines.append(line)
    return "\n".join(lines)


__all__ = [
    "OPTAX_OPTIMIZERS",
    "SETTINGS",
    "SHAPES",
    "SHAPES_FOR",
    "TORCH_OPTIMIZERS",
    "Row",
    "build",
    "measure",
    "optax_optimizer_names",
    "optax_schedule_names",
    "optimizer_row",
    "reviewed_schedules",
    "rows",
    "schedule_row",
    "settings",
    "table",
    "torch_optimizer_names",
    "torch_schedule_names",
]
