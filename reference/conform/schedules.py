r"""Learning-rate schedules as conformance peers: torch.optim.lr_scheduler and optax.schedules against
reference.schedules (spec: specs/conformance.md, "Schedules"; the pairs: specs/schedules.md, Variants).

    from reference.conform.schedules import conform_schedule, schedule_peer
    report = conform_schedule(schedule_peer(torch.optim.lr_scheduler.StepLR(opt, step_size=3)))
    report = conform_schedule(schedule_peer("optax.cosine_decay_schedule", init_value=0.1, decay_steps=20))
    print(report.table()); report.passed

The adapter reads the scheduler's own configuration (torch: the attributes its constructor stored,
with torch's defaults filled in; optax: the call's keywords merged with the function's signature
defaults) and builds the reference schedule; the user writes no mapping. Each reference is built
through the factory that reference/schedules.py's ``TORCH`` / ``OPTAX`` tables name for the peer (the
one place that says which reference reproduces which peer); this module supplies only the
translation of the keywords.

What is compared is eta_t for t = 0..N, the rate a training loop sees before step t + 1: torch's
``param_groups[0]["lr"]`` before each ``optimizer.step()``, with ``scheduler.step()`` after it;
optax's schedule at ``count = t`` (an int64 count, computed in float64 under jax_enable_x64; an optax
optimizer passes an int32 count, see specs/schedules.md, Conventions). Verdict (ulps relative to
the running scale, as (T1)-(T2) of the optimizer comparison):

    ulps_t = |eta^peer_t - eta^ref_t| / (eps_peer * S_t),   S_t = max_{s <= t} |eta^ref_s|     (U1)
    passed  iff  ulps_t <= MAX_ULPS for every t                                                 (U2)

MAX_ULPS = 16: a schedule value is a chain of at most 8 rounded operations (a ratio, a floor or a
min, a cosine or a power, a product and a sum), each off by at most u = eps/2 of a magnitude <= S_t,
on each of the two sides. A recursion that drifts from its closed form (torch's chainable
CosineAnnealingLR over 10^4 steps) exceeds it, as it should: that is not the rounding of one formula.

ReduceLROnPlateau is driven by a metric stream (``metrics=``; default ``plateau_metrics``): the peer
receives ``scheduler.step(metric_t)`` and the reference is ``plateau(...).rates(metrics)``.
"""

from __future__ import annotations

import copy
import inspect
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .. import schedules as S
from .._types import Schedule
from .peers import NotComparable, PeerFailed, ReferenceSpec, package_version

#: (U2): the largest deviation, in units of eps_peer * S_t, that a conforming schedule shows.
MAX_ULPS = 16.0
#: The default number of steps compared when the schedule's horizon is unknown, and the cap.
DEFAULT_STEPS, MAX_STEPS = 100, 100_000
#: The length of the default metric stream of a ReduceLROnPlateau inside an optimizer.
PLATEAU_STREAM = 10_000
LR_SCHEDULER = "torch.optim.lr_scheduler."
_OVERRIDDEN = "Seems like `optimizer.step()` has been overridden"


def plateau_metrics(n: int, seed: int = 0) -> list[float]:
    """The default metric stream for ReduceLROnPlateau: m_t = (1 + 1e-3 z_t) / (1 + floor(t / 25)),
    z_t ~ N(0, 1) from ``default_rng([seed, 2000])``: a loss that improves every 25 steps and
    stalls in between, so the default patience (10) reduces the rate inside each plateau."""
    z = np.random.default_rng([seed, 2000]).standard_normal(n)
    return [float((1.0 + 1e-3 * z[t]) / (1 + t // 25)) for t in range(n)]


@dataclass(frozen=True)
class Tabulated:
    """A schedule given by its values eta_0 ... eta_n (ReduceLROnPlateau's, for one metric stream);
    the last value holds after n."""

    values: tuple[float, ...]
    label: str = "tabulated"

    def __call__(self, t: int) -> float:
        return self.values[min(int(t), len(self.values) - 1)]

    def __repr__(self) -> str:
        return f"{self.label}.rates(metrics[:{len(self.values) - 1}])"


def _factory(framework: str, name: str) -> Callable[..., Schedule]:
    """The reference factory that reference/schedules.py's table names for ``name``."""
    table = S.TORCH if framework == "torch" else S.OPTAX
    fn: Callable[..., Schedule] = getattr(S, table[name].split("(")[0])
    return fn


# ---------------------------------------------------------------------------------------------
# torch: the reference read from a scheduler instance's attributes


def _f(x: Any) -> float:
    return float(x.item()) if hasattr(x, "item") else float(x)


def _base(s: Any) -> float:
    return _f(s.base_lrs[0])


def _cyclic(s: Any) -> Schedule:
    total, ratio = float(s.total_size), float(s.step_ratio)
    up = round(ratio * total)
    down = round(total) - up
    if up < 1 or down < 1 or float(up) + float(down) != total or up / (float(up) + float(down)) != ratio:
        raise NotComparable("torch CyclicLR with non-integer step sizes has no reference equivalent")
    kw: dict[str, Any] = {"step_size_up": up, "step_size_down": down, "mode": s.mode, "gamma": _f(s.gamma)}
    if s._scale_fn_custom is not None:
        kw.update(scale_fn=s._scale_fn_custom, scale_mode=s.scale_mode)
    return _factory("torch", "CyclicLR")(_base(s), _f(s.max_lrs[0]), **kw)


def _onecycle(s: Any) -> Schedule:
    """OneCycleLR: the factory's schedule with the phase ends and the three rates exactly as torch
    stored them (its div factors are not stored; recovering them by division could round)."""
    g = s.optimizer.param_groups[0]
    rates = {k: _f(g[k]) for k in ("initial_lr", "max_lr", "min_lr")}
    phases = tuple(
        (float(p["end_step"]), rates[p["start_lr"]], rates[p["end_lr"]]) for p in s._schedule_phases
    )
    T, first = int(s.total_steps), phases[0][0]
    built: Any = _factory("torch", "OneCycleLR")(
        rates["max_lr"],
        total_steps=T,
        pct_start=min(max((first + 1) / T, 1e-9), 1 - 1e-9),
        anneal=s._anneal_func_type,
        div_factor=rates["max_lr"] / rates["initial_lr"],
        final_div_factor=rates["initial_lr"] / rates["min_lr"],
        three_phase=len(phases) == 3,
    )
    out: Schedule = replace(built, phases=phases)
    return out


def _sequential(s: Any) -> Schedule:
    children = list(s._schedulers)
    for k, c in enumerate(children[1:], start=1):
        if type(c).__name__ == "MultiplicativeLR":
            raise NotComparable(
                f"SequentialLR: MultiplicativeLR as scheduler {k} restarts from the previous scheduler's "
                "lr (specs/schedules.md, Conventions); no reference equivalent"
            )
    return _factory("torch", "SequentialLR")([torch_reference(c) for c in children], list(s._milestones))


def _chained(s: Any) -> Schedule:
    children = [torch_reference(c) for c in s._schedulers]
    lr = _f(s._schedulers[0].optimizer.param_groups[0]["initial_lr"])
    return _factory("torch", "ChainedScheduler")(lr, children)


def _plateau(s: Any, metrics: Sequence[float]) -> Schedule:
    lr = _f(s.optimizer.param_groups[0]["lr"])
    machine: Any = _factory("torch", "ReduceLROnPlateau")(
        lr,
        mode=s.mode,
        factor=_f(s.factor),
        patience=int(s.patience),
        threshold=_f(s.threshold),
        threshold_mode=s.threshold_mode,
        cooldown=int(s.cooldown),
        min_lr=_f(s.min_lrs[0]),
        eps=_f(s.eps),
    )
    return Tabulated(tuple(machine.rates(list(metrics))), label=repr(machine))


def _milestones(s: Any) -> list[int]:
    counts = dict(s.milestones)
    if any(c > 1 for c in counts.values()):
        raise NotComparable("torch MultiStepLR with a repeated milestone has no reference equivalent")
    return sorted(int(m) for m in counts)


_REC = {"form": "recursive"}
#: torch class name -> the reference's keywords read from an instance (the factory: S.TORCH's).
_TORCH_READ: dict[str, Callable[[Any], Schedule]] = {
    "LambdaLR": lambda s: _factory("torch", "LambdaLR")(_base(s), s.lr_lambdas[0]),
    "MultiplicativeLR": lambda s: _factory("torch", "MultiplicativeLR")(_base(s), s.lr_lambdas[0]),
    "StepLR": lambda s: _factory("torch", "StepLR")(
        _base(s), step_size=int(s.step_size), gamma=_f(s.gamma), **_REC
    ),
    "MultiStepLR": lambda s: _factory("torch", "MultiStepLR")(
        _base(s), milestones=_milestones(s), gamma=_f(s.gamma), **_REC
    ),
    "ConstantLR": lambda s: _factory("torch", "ConstantLR")(
        _base(s), factor=_f(s.factor), total_steps=int(s.total_iters), **_REC
    ),
    "LinearLR": lambda s: _factory("torch", "LinearLR")(
        _base(s),
        start_factor=_f(s.start_factor),
        end_factor=_f(s.end_factor),
        total_steps=int(s.total_iters),
        **_REC,
    ),
    "ExponentialLR": lambda s: _factory("torch", "ExponentialLR")(_base(s), gamma=_f(s.gamma), **_REC),
    "SequentialLR": _sequential,
    "PolynomialLR": lambda s: _factory("torch", "PolynomialLR")(
        _base(s), total_steps=int(s.total_iters), power=_f(s.power), **_REC
    ),
    "CosineAnnealingLR": lambda s: _factory("torch", "CosineAnnealingLR")(
        _base(s), total_steps=int(s.T_max), lr_min=_f(s.eta_min), periodic=True, **_REC
    ),
    "ChainedScheduler": _chained,
    "CyclicLR": _cyclic,
    "CosineAnnealingWarmRestarts": lambda s: _factory("torch", "CosineAnnealingWarmRestarts")(
        _base(s), period=int(s.T_0), period_mult=int(s.T_mult), lr_min=_f(s.eta_min)
    ),
    "OneCycleLR": _onecycle,
}


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("torch schedulers need torch: pip install -e '.[peers]'") from exc
    return torch


def is_torch_scheduler(obj: Any) -> bool:
    """An instance of torch's LRScheduler or ReduceLROnPlateau (or a class derived from them)."""
    return any(
        c.__module__.startswith("torch.optim") and c.__name__ in ("LRScheduler", "ReduceLROnPlateau")
        for c in type(obj).__mro__
    )


def _is_own(obj: Any) -> bool:
    torch = _torch()
    cls = type(obj)
    return (
        cls.__module__.startswith("torch.optim")
        and getattr(torch.optim.lr_scheduler, cls.__name__, None) is cls
    )


def torch_reference(scheduler: Any, metrics: Sequence[float] | None = None) -> Schedule:
    """The reference schedule of one of torch.optim.lr_scheduler's own schedulers, read from the
    instance (``metrics``: ReduceLROnPlateau's stream). Any other class raises ``NotComparable``."""
    name = type(scheduler).__name__
    if not _is_own(scheduler):
        raise NotComparable(
            f"{type(scheduler).__module__}.{type(scheduler).__qualname__} is not one of "
            "torch.optim.lr_scheduler's own classes: pass the reference schedule explicitly"
        )
    if name == "ReduceLROnPlateau":
        if metrics is None:
            raise ValueError("ReduceLROnPlateau: pass its metric stream (metrics=...)")
        return _plateau(scheduler, metrics)
    if name not in _TORCH_READ:
        raise NotComparable(f"torch.optim.lr_scheduler.{name} has no reference mapping")
    groups = scheduler.optimizer.param_groups
    if len({_f(g.get("initial_lr", g["lr"])) for g in groups}) > 1:
        raise NotComparable("param groups with different learning rates: compare one group at a time")
    return _TORCH_READ[name](scheduler)


def _children(value: Any, build: Callable[[str, dict[str, Any]], Any], argument: str) -> list[Any]:
    """``[("LinearLR", {...}), ...]`` -> built children (already built ones pass through)."""
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{argument} must be a non-empty list of (name, keywords) pairs")
    out = []
    for k, item in enumerate(value):
        if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str):
            kw = item[1]
            if not isinstance(kw, Mapping):
                raise ValueError(f"{argument}[{k}]: the keywords must be a dict, got {kw!r}")
            out.append(build(item[0], dict(kw)))
        elif isinstance(item, str):
            out.append(build(item, {}))
        else:
            out.append(item)
    return out


def _scheduler_class(name: str) -> Any:
    short = name[len(LR_SCHEDULER) :] if name.startswith(LR_SCHEDULER) else name
    cls = getattr(_torch().optim.lr_scheduler, short, None)
    if short not in S.TORCH or not isinstance(cls, type):
        raise ValueError(
            f"torch.optim.lr_scheduler has no scheduler {short!r} (schedulers: {', '.join(sorted(S.TORCH))})"
        )
    return cls


def torch_scheduler(optimizer: Any, name: str, **kwargs: Any) -> Any:
    """``torch.optim.lr_scheduler.<name>(optimizer, **kwargs)``. For SequentialLR and
    ChainedScheduler, ``schedulers`` may list ``(name, keywords)`` pairs, built on ``optimizer``
    in order; a text ``lr_lambda`` / ``scale_fn`` is a ``module:function`` to import."""
    cls = _scheduler_class(name)
    for key in ("lr_lambda", "scale_fn"):
        if isinstance(kwargs.get(key), str):
            from .cli import load_function

            kwargs[key] = load_function(kwargs[key])
    short = cls.__name__
    if short in ("SequentialLR", "ChainedScheduler"):
        kwargs["schedulers"] = _children(
            kwargs.get("schedulers"), lambda n, kw: torch_scheduler(optimizer, n, **kw), "schedulers"
        )
        if short == "ChainedScheduler":
            return cls(kwargs.pop("schedulers"), **kwargs)
    if short in ("LambdaLR", "MultiplicativeLR") and "lr_lambda" not in kwargs:
        raise ValueError(f"{short} needs lr_lambda (a callable t -> factor, or module:function)")
    return cls(optimizer, **kwargs)


def copy_pair(optimizer: Any, scheduler: Any) -> tuple[Any, Any]:
    """Fresh copies of an optimizer and its scheduler, the copy's scheduler driving the copied
    optimizer (``torch_adapter.copy_optimizer`` drops the step wrapper bound to the original)."""
    from .torch_adapter import copy_optimizer

    memo: dict[int, Any] = {}
    opt = copy_optimizer(optimizer, memo)
    try:
        return opt, copy.deepcopy(scheduler, memo)
    except Exception as e:  # noqa: BLE001 - a scheduler holding something that cannot be copied
        raise NotComparable(
            f"{type(scheduler).__name__} cannot be copied ({type(e).__name__}: {e})"
        ) from None


def step_scheduler(scheduler: Any, metric: float | None = None) -> None:
    """``scheduler.step()`` (``step(metric)`` for ReduceLROnPlateau) on a copied pair: torch's
    warning that the copied optimizer's step lost its tracking wrapper is the only one silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_OVERRIDDEN.replace("(", r"\(").replace(")", r"\)"))
        if metric is None:
            scheduler.step()
        else:
            scheduler.step(metric)


def _is_plateau(scheduler: Any) -> bool:
    return any(c.__name__ == "ReduceLROnPlateau" for c in type(scheduler).__mro__)


def driven_spec(
    optimizer: Any,
    scheduler: Any,
    explicit: ReferenceSpec | None,
    claimed: ReferenceSpec | None,
    metrics: Sequence[float] | None,
) -> tuple[ReferenceSpec, list[float] | None]:
    """The reference of a torch optimizer driven by ``scheduler``: the ``explicit`` one as given,
    else the optimizer's ``claimed`` spec with ``lr=`` the scheduler's reference schedule; and the
    metric stream a ReduceLROnPlateau is stepped with (default ``plateau_metrics(PLATEAU_STREAM)``)."""
    if not is_torch_scheduler(scheduler):
        raise TypeError(
            f"scheduler must be a torch lr scheduler (or optimizer -> scheduler), got {scheduler!r}"
        )
    _fresh(scheduler)
    for s in [scheduler, *getattr(scheduler, "_schedulers", ())]:
        if getattr(s, "optimizer", optimizer) is not optimizer:
            raise ValueError(f"{type(s).__name__} is attached to another optimizer than the one compared")
        if getattr(s, "cycle_momentum", False):
            raise NotComparable(
                f"{type(s).__name__}(cycle_momentum=True) also cycles the momentum (beta1); the reference "
                "schedules the rate only: pass cycle_momentum=False"
            )
    stream = (
        (list(metrics) if metrics is not None else plateau_metrics(PLATEAU_STREAM))
        if _is_plateau(scheduler)
        else None
    )
    if explicit is not None:
        return explicit, stream
    if claimed is None:
        raise ValueError("driven_spec: needs the explicit or the claimed reference")
    if "lr" not in claimed.hyperparams:
        raise NotComparable(f"ref.{claimed.algorithm} has no lr for a schedule to drive")
    return claimed.with_(lr=torch_reference(scheduler, stream)), stream


def _fresh(scheduler: Any) -> None:
    if getattr(scheduler, "last_epoch", 0) > 0 or getattr(scheduler, "_step_count", 1) > 1:
        raise ValueError(
            f"{type(scheduler).__name__} has already been stepped; pass a freshly constructed one"
        )


# ---------------------------------------------------------------------------------------------
# optax: the reference from a schedule's name and keywords


def _sgdr_cycles(cycles: Any) -> list[dict[str, Any]]:
    out = []
    for k, c in enumerate(cycles):
        if not isinstance(c, Mapping) or not {
            "init_value",
            "peak_value",
            "warmup_steps",
            "decay_steps",
        } <= set(c):
            raise ValueError(
                f"sgdr_schedule: cosine_kwargs[{k}] must be warmup_cosine_decay_schedule's keywords"
            )
        out.append(
            {
                "lr": c["peak_value"],
                "warmup_steps": c["warmup_steps"],
                "total_steps": c["decay_steps"],
                "start": c["init_value"],
                "lr_min": c.get("end_value", 0.0),
                "exponent": c.get("exponent", 1.0),
            }
        )
    return out


def _bs(hp: Mapping[str, Any]) -> dict[int, float]:
    return dict(hp["boundaries_and_scales"] or {})


#: optax schedule name -> the reference's keywords (the factory: S.OPTAX's), from the full keywords.
_OPTAX_READ: dict[str, Callable[[Callable[..., Schedule], dict[str, Any]], Schedule]] = {
    "constant_schedule": lambda f, h: f(h["value"]),
    "polynomial_schedule": lambda f, h: f(
        h["init_value"],
        total_steps=h["transition_steps"],
        power=h["power"],
        end=h["end_value"],
        begin=h["transition_begin"],
    ),
    "linear_schedule": lambda f, h: f(
        h["init_value"], total_steps=h["transition_steps"], end=h["end_value"], begin=h["transition_begin"]
    ),
    "piecewise_constant_schedule": lambda f, h: f(h["init_value"], _bs(h)),
    "exponential_decay": lambda f, h: f(
        h["init_value"],
        gamma=h["decay_rate"],
        steps=h["transition_steps"],
        begin=h["transition_begin"],
        staircase=h["staircase"],
        end=h["end_value"],
    ),
    "cosine_decay_schedule": lambda f, h: f(
        h["init_value"],
        warmup_steps=0,
        total_steps=h["decay_steps"],
        alpha=h["alpha"],
        exponent=h["exponent"],
    ),
    "piecewise_interpolate_schedule": lambda f, h: f(h["init_value"], _bs(h), kind=h["interpolate_type"]),
    "linear_onecycle_schedule": lambda f, h: f(
        h["peak_value"],
        total_steps=h["transition_steps"],
        pct_start=h["pct_start"],
        pct_final=h["pct_final"],
        div_factor=h["div_factor"],
        final_div_factor=h["final_div_factor"],
        anneal="linear",
        three_phase=True,
        convention="optax",
    ),
    "cosine_onecycle_schedule": lambda f, h: f(
        h["peak_value"],
        total_steps=h["transition_steps"],
        pct_start=h["pct_start"],
        div_factor=h["div_factor"],
        final_div_factor=h["final_div_factor"],
        convention="optax",
    ),
    "warmup_constant_schedule": lambda f, h: f(
        h["init_value"], total_steps=h["warmup_steps"], end=h["peak_value"]
    ),
    "warmup_cosine_decay_schedule": lambda f, h: f(
        h["peak_value"],
        warmup_steps=h["warmup_steps"],
        total_steps=h["decay_steps"],
        start=h["init_value"],
        lr_min=h["end_value"],
        exponent=h["exponent"],
    ),
    "warmup_exponential_decay_schedule": lambda f, h: f(
        h["peak_value"],
        warmup_steps=h["warmup_steps"],
        gamma=h["decay_rate"],
        steps=h["transition_steps"],
        start=h["init_value"],
        begin=h["transition_begin"],
        staircase=h["staircase"],
        end=h["end_value"],
    ),
    "sgdr_schedule": lambda f, h: f(_sgdr_cycles(h["cosine_kwargs"])),
    "join_schedules": lambda f, h: f([s.reference for s in h["schedules"]], list(h["boundaries"])),
}


def _optax() -> Any:
    try:
        import jax
        import optax
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("optax schedules need jax and optax: pip install -e '.[peers]'") from exc
    jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]
    return optax


class OptaxSchedule:
    """An optax schedule that remembers its name and keywords, so that its reference can be read:
    ``optax_schedule("cosine_decay_schedule", init_value=0.1, decay_steps=20)``. It is the optax
    schedule itself when called (``optax.adam(learning_rate=it)``); ``reference`` is the reference
    schedule and ``hyperparams`` the keywords merged with optax's defaults."""

    def __init__(self, name: str, kwargs: Mapping[str, Any]) -> None:
        optax = _optax()
        short = name.split(".")[-1]
        fn = getattr(optax.schedules, short, None)
        if short not in S.OPTAX or not callable(fn):
            raise ValueError(f"optax has no schedule {short!r} (schedules: {', '.join(sorted(S.OPTAX))})")
        kw = dict(kwargs)
        if short == "join_schedules":
            kw["schedules"] = _children(kw.get("schedules"), optax_schedule, "schedules")
            for k, c in enumerate(kw["schedules"]):
                if not isinstance(c, OptaxSchedule):
                    raise NotComparable(
                        f"join_schedules: schedules[{k}] is a bare optax schedule, whose keywords cannot be "
                        "read: give it as (name, keywords) or optax_schedule(name, ...)"
                    )
        params = inspect.signature(fn).parameters
        unknown = sorted(set(kw) - set(params))
        if unknown:
            raise ValueError(f"optax.{short}: unknown keyword(s) {unknown}; valid: {list(params)}")
        missing = [k for k, p in params.items() if p.default is inspect.Parameter.empty and k not in kw]
        if missing:
            raise ValueError(f"optax.{short} needs {missing}")
        self.name, self.kwargs = short, kw
        self.hyperparams = {
            k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty
        }
        self.hyperparams.update(kw)
        self.reference: Schedule = _OPTAX_READ[short](_factory("optax", short), self.hyperparams)
        self.fn: Callable[[Any], Any] = fn(**kw)

    def __call__(self, count: Any) -> Any:
        return self.fn(count)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.kwargs.items())
        return f"optax.{self.name}({args})"


def _short(v: Any) -> str:
    if isinstance(v, (list, tuple)) and v and all(isinstance(c, OptaxSchedule) for c in v):
        return "[" + ", ".join(repr(c) for c in v) + "]"
    return repr(v)


def optax_schedule(name: str, kwargs: Mapping[str, Any] | None = None, /, **kw: Any) -> OptaxSchedule:
    """``optax.<name>(**kwargs)`` as an ``OptaxSchedule`` (keywords as a dict or as keywords)."""
    return OptaxSchedule(name, {**dict(kwargs or {}), **kw})


# ---------------------------------------------------------------------------------------------
# The peers and the comparison


@dataclass
class SchedulePeer:
    """A schedule under test: ``rates(n)`` gives its eta_0 ... eta_n as a training loop sees them;
    ``reference`` the reference schedule it claims; ``dtype`` the precision of its values."""

    name: str
    reference: Schedule
    rates: Callable[[int], list[float]]
    dtype: np.dtype[Any] = field(default_factory=lambda: np.dtype(np.float64))
    packages: tuple[str, ...] = ()
    max_steps: int | None = None  # torch's OneCycleLR raises after total_steps


def _torch_peer(scheduler: Any, reference: Schedule | None, metrics: Sequence[float] | None) -> SchedulePeer:
    _fresh(scheduler)
    optimizer = scheduler.optimizer if hasattr(scheduler, "optimizer") else scheduler._schedulers[0].optimizer
    name = type(scheduler).__name__
    plateau = _is_plateau(scheduler)
    stream = list(metrics) if metrics is not None else (plateau_metrics(PLATEAU_STREAM) if plateau else None)
    ref = reference if reference is not None else torch_reference(scheduler, stream)
    template = copy_pair(optimizer, scheduler)

    def rates(n: int) -> list[float]:
        if stream is not None and n > len(stream):
            raise ValueError(f"{name}: the metric stream has {len(stream)} values, {n} steps asked")
        opt, sched = copy_pair(*template)
        out = []
        try:
            for t in range(n + 1):
                out.append(_f(opt.param_groups[0]["lr"]))
                if t < n:
                    opt.step()
                    step_scheduler(sched, None if stream is None else stream[t])
        except Exception as e:  # noqa: BLE001 - the peer's own code
            raise PeerFailed(f"{name}.step() raised {type(e).__name__}: {e}") from None
        return out

    cap = int(scheduler.total_steps) - 1 if name == "OneCycleLR" else None
    own = f"torch.optim.lr_scheduler.{name}" if _is_own(scheduler) else type(scheduler).__qualname__
    return SchedulePeer(own, ref, rates, packages=("torch",), max_steps=cap)


def _optax_peer(schedule: Any, reference: Schedule | None, count_dtype: str, jit: bool) -> SchedulePeer:
    _optax()
    import jax
    import jax.numpy as jnp

    if reference is None:
        if not isinstance(schedule, OptaxSchedule):
            raise NotComparable(
                "a bare optax schedule does not expose its keywords: pass the reference schedule, or build it "
                "as optax_schedule(name, ...) / schedule_peer('optax.NAME', ...)"
            )
        reference = schedule.reference
    if count_dtype not in ("int64", "int32"):
        raise ValueError(f"count_dtype must be 'int64' or 'int32', got {count_dtype!r}")
    out_dtype = np.asarray(schedule(jnp.asarray(0, dtype=count_dtype))).dtype

    fn = jax.jit(schedule) if jit else schedule

    def rates(n: int) -> list[float]:
        try:
            return [float(np.asarray(fn(jnp.asarray(t, dtype=count_dtype)))) for t in range(n + 1)]
        except Exception as e:  # noqa: BLE001 - the peer's own code
            raise PeerFailed(f"the optax schedule raised {type(e).__name__}: {e}") from None

    name = repr(schedule) if isinstance(schedule, OptaxSchedule) else "optax schedule"
    # at an int32 count optax computes the fraction in float32, whatever dtype it returns
    dt = np.dtype(np.float32) if count_dtype == "int32" else np.dtype(out_dtype)
    dt = dt if dt.kind == "f" else np.dtype(np.float64)
    label = f"{name} [count {count_dtype}{', jit' if jit else ''}]"
    return SchedulePeer(label, reference, rates, dt, ("jax", "optax"))


def schedule_peer(
    schedule: Any,
    reference: Schedule | None = None,
    *,
    lr: float = 0.1,
    metrics: Sequence[float] | None = None,
    count_dtype: str = "int64",
    jit: bool = False,
    **kwargs: Any,
) -> SchedulePeer:
    """A schedule peer from a torch scheduler instance (freshly constructed; it is copied, never
    stepped), ``"torch.optim.lr_scheduler.NAME"`` + keywords (built on a throwaway SGD over one
    tensor with ``lr``), an ``OptaxSchedule`` or ``"optax.NAME"`` + keywords, or any callable
    t -> eta_t (an optax schedule, your own) with ``reference`` given. ``reference`` replaces the
    translation; ``metrics`` drive ReduceLROnPlateau; ``count_dtype`` is the optax count's, and
    ``jit=True`` calls the optax schedule jit-compiled (as inside an optimizer)."""
    if isinstance(schedule, SchedulePeer):
        return schedule if reference is None else replace(schedule, reference=reference)
    if isinstance(schedule, str):
        if schedule.startswith("torch."):
            if not schedule.startswith(LR_SCHEDULER):
                raise ValueError(f"unknown schedule {schedule!r}: expected torch.optim.lr_scheduler.NAME")
            torch = _torch()
            p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
            schedule = torch_scheduler(torch.optim.SGD([p], lr=lr), schedule, **kwargs)
        else:
            schedule = optax_schedule(schedule, kwargs)
    elif kwargs:
        raise ValueError(f"keywords {sorted(kwargs)} go with a schedule's name, not with a built schedule")
    if is_torch_scheduler(schedule):
        return _torch_peer(schedule, reference, metrics)
    if isinstance(schedule, OptaxSchedule) or "jax" in type(schedule).__module__:
        return _optax_peer(schedule, reference, count_dtype, jit)
    if callable(schedule):
        if reference is None:
            raise NotComparable("a schedule function needs its reference schedule (reference=...)")
        fn = schedule
        return SchedulePeer(
            getattr(fn, "__qualname__", repr(fn)), reference, lambda n: [float(fn(t)) for t in range(n + 1)]
        )
    raise TypeError(f"expected a torch scheduler, an optax schedule or a callable t -> eta, got {schedule!r}")


def horizon(schedule: Any) -> int | None:
    """The last step where ``schedule`` (a reference schedule) still changes shape, when its fields
    say it (a total, a period, the last milestone or boundary); None otherwise."""
    fields = getattr(schedule, "__dataclass_fields__", {})
    ends: list[int] = []
    for k in ("total_steps", "step_size", "period", "warmup_steps"):
        if k in fields:
            ends.append(int(getattr(schedule, k)))
    if "step_size_up" in fields:
        ends.append(schedule.step_size_up + schedule.step_size_down)
    for k in ("milestones", "boundaries", "bounds"):
        if k in fields and getattr(schedule, k):
            ends.append(int(getattr(schedule, k)[-1]))
    for k in ("schedules",):
        for child in getattr(schedule, k, ()):
            h = horizon(child)
            ends.append(h if h is not None else 0)
    if isinstance(schedule, S.Join) and ends:
        ends.append(schedule.boundaries[-1] + max(ends))
    return max(ends) if ends else None


@dataclass(frozen=True)
class ScheduleReport:
    """eta_t of the peer and of the reference for t = 0..n, and the verdict (U1)-(U2)."""

    peer_name: str
    reference: str
    dtype: str
    peer: tuple[float, ...]
    ref: tuple[float, ...]
    ulps: tuple[float, ...]
    max_ulps: float
    versions: dict[str, str]
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return len(self.peer) - 1

    @property
    def worst(self) -> float:
        return max(self.ulps)

    @property
    def at(self) -> int:
        return int(np.argmax(self.ulps))

    @property
    def passed(self) -> bool:
        return self.worst <= self.max_ulps

    @property
    def first_failure(self) -> int | None:
        bad = [t for t, u in enumerate(self.ulps) if u > self.max_ulps]
        return bad[0] if bad else None

    def table(self) -> str:
        """The verdict, the worst step and the first failing one, and the versions."""
        k, f = self.at, self.first_failure
        lines = [
            f"peer:      {self.peer_name}",
            f"reference: ref.schedules.{self.reference}",
            f"compared:  eta_t for t = 0..{self.n} ({self.dtype}); tolerance {self.max_ulps:g} ulps of eps * S_t",
            f"worst:     {self.worst:.3g} ulps at t = {k}: peer {self.peer[k]!r}, reference {self.ref[k]!r}"
            if self.worst > 0
            else "worst:     0 ulps: equal at every step",
        ]
        if f is not None:
            lines.append(
                f"first past the tolerance: t = {f}: peer {self.peer[f]!r}, reference {self.ref[f]!r}"
            )
        lines += [f"note:      {n}" for n in self.notes]
        verdict = "CONFORMS" if self.passed else "MISMATCH"
        vers = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        lines.append(f"verdict:   {verdict} (worst {self.worst:.3g} ulps; {vers})")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "optref-conform-schedule-report",
            "passed": self.passed,
            "peer": self.peer_name,
            "reference": self.reference,
            "dtype": self.dtype,
            "n_steps": self.n,
            "max_ulps": self.max_ulps,
            "worst_ulps": self.worst,
            "worst_at": self.at,
            "first_failure": self.first_failure,
            "versions": self.versions,
            "notes": list(self.notes),
            "eta_peer": list(self.peer),
            "eta_reference": list(self.ref),
        }


def deviation_ulps(peer: Sequence[float], ref: Sequence[float], eps: float) -> list[float]:
    """(U1): |eta^peer_t - eta^ref_t| / (eps S_t), S_t the running max of |eta^ref| (0 when equal)."""
    out, scale = [], 0.0
    for a, b in zip(peer, ref, strict=True):
        scale = max(scale, abs(b))
        if a == b:
            out.append(0.0)
        elif not (math.isfinite(a) and math.isfinite(b)) or scale == 0.0:
            out.append(math.inf)
        else:
            out.append(abs(a - b) / (eps * scale))
    return out


def conform_schedule(
    peer: Any,
    reference: Schedule | None = None,
    *,
    n_steps: int | None = None,
    max_ulps: float = MAX_ULPS,
    **kwargs: Any,
) -> ScheduleReport:
    """Compare a schedule peer (anything ``schedule_peer`` accepts) with its reference over
    t = 0..n_steps (default: three horizons of the reference, at least 30, at most 20 000)."""
    sp = schedule_peer(peer, reference, **kwargs)
    notes = []
    if n_steps is None:
        h = horizon(sp.reference)
        n_steps = DEFAULT_STEPS if h is None else min(max(3 * h, 30), 20_000)
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or not 1 <= n_steps <= MAX_STEPS:
        raise ValueError(f"n_steps must be an integer in [1, {MAX_STEPS}], got {n_steps!r}")
    if sp.max_steps is not None and n_steps > sp.max_steps:
        notes.append(f"compared up to t = {sp.max_steps}: torch's OneCycleLR raises after total_steps")
        n_steps = sp.max_steps
    got = sp.rates(n_steps)
    try:
        want = [float(sp.reference(t)) for t in range(n_steps + 1)]
    except Exception as e:
        raise ValueError(f"the reference schedule raised {type(e).__name__}: {e}") from None
    if any(not math.isfinite(v) for v in got):
        raise PeerFailed(f"{sp.name} returned a non-finite rate")
    eps = float(np.finfo(sp.dtype).eps)
    versions = {n: package_version(n) for n in ("python", "numpy", "optim-reference", *sp.packages)}
    return ScheduleReport(
        sp.name,
        repr(sp.reference),
        sp.dtype.name,
        tuple(got),
        tuple(want),
        tuple(deviation_ulps(got, want, eps)),
        float(max_ulps),
        versions,
        tuple(notes),
    )


def precision_note(schedule: OptaxSchedule, dtype: str, n: int = 100) -> str | None:
    """What an optax optimizer driven by ``schedule`` computes differently from the reference: it
    calls the schedule jit-compiled at its int32 count, where most schedules compute in float32 and
    XLA may rewrite a division by a constant as a product by its reciprocal (specs/schedules.md,
    Conventions). A note when that returns a non-finite rate for some t <= n, or, for a float64
    peer, when it differs from the reference by more than ``MAX_ULPS`` (U1); None otherwise."""
    import jax
    import jax.numpy as jnp

    fn = jax.jit(schedule)
    got = [float(np.asarray(fn(jnp.asarray(t, dtype=jnp.int32)))) for t in range(n + 1)]
    want = [float(schedule.reference(t)) for t in range(n + 1)]
    where = f"optax calls {schedule!r} jit-compiled at an optimizer's int32 count"
    bad = [t for t, v in enumerate(got) if not math.isfinite(v)]
    if bad:
        return (
            f"{where}, and it returns {got[bad[0]]} at t = {bad[0]}: the optimizer's params become non-finite"
        )
    ulps = deviation_ulps(got, want, float(np.finfo(np.float64).eps))
    if dtype != "float64" or max(ulps) <= MAX_ULPS:
        return None
    k = int(np.argmax(ulps))
    return (
        f"{where}, where it computes in float32 ({got[k]!r} at t = {k}, the reference {want[k]!r}); a "
        "float64 comparison shows that as a mismatch, --dtype float32 compares at the schedule's own precision"
    )


def parse_schedule(text: str) -> tuple[str, dict[str, Any]]:
    """``"StepLR:step_size=3,gamma=0.5"`` -> ("StepLR", {...}) (``--schedule`` of optref conform)."""
    from .cli import parse_hp

    name, _, hp = text.partition(":")
    name = name.strip()
    if not name.replace(".", "").replace("_", "").isalnum():
        raise ValueError(f"--schedule: expected NAME:key=value,..., got {text!r}")
    return name, parse_hp(hp)


def is_schedule_name(target: str) -> bool:
    """Whether a command-line peer name names a schedule (torch.optim.lr_scheduler.X, optax.<schedule>)."""
    if target.startswith(LR_SCHEDULER):
        return True
    parts = target.split(".")
    return len(parts) >= 2 and parts[0] == "optax" and parts[-1] in S.OPTAX


__all__ = [
    "MAX_ULPS",
    "OptaxSchedule",
    "SchedulePeer",
    "ScheduleReport",
    "Tabulated",
    "conform_schedule",
    "copy_pair",
    "deviation_ulps",
    "driven_spec",
    "horizon",
    "is_schedule_name",
    "is_torch_scheduler",
    "optax_schedule",
    "parse_schedule",
    "plateau_metrics",
    "precision_note",
    "schedule_peer",
    "step_scheduler",
    "torch_reference",
    "torch_scheduler",
]
