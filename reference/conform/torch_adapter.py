"""Adapter for torch.optim (optional extra ``peers``; torch is imported when this module is).

    peer = torch_peer(torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True))
    peer = torch_peer("Adam", [(3, 4), (5,)], lr=1e-3)   # fresh tensors of these shapes
    conform(peer)

The adapter reads the optimizer's own configuration (``param_groups``, which torch fills with its
defaults) and builds the equivalent reference optimizer (``ReferenceSpec``); the user writes no
mapping. A model's parameter list is flattened in order and concatenated: elementwise algorithms
compute the same thing on the concatenation. Every run starts from fresh tensors and a fresh
optimizer of the same class and configuration, so runs never share state.

Mapping (torch 2.13.0; specs/conformance.md "Peers"):

| torch | reference |
|---|---|
| SGD(momentum=0) | sgd(lr, weight_decay) |
| SGD(momentum, dampening) | momentum(lr, beta, form="polyak", dampening, first_step="grad", weight_decay) |
| SGD(momentum, nesterov=True) | nesterov(lr, beta, form="torch", weight_decay) |
| Adam(betas, eps, weight_decay, amsgrad) | adam(..., amsgrad_max="raw") |
| Adam(decoupled_weight_decay=True), AdamW | adamw(..., decay_scaling="lr", amsgrad_max="raw") |
| Adagrad(lr_decay, initial_accumulator_value, eps) | adagrad(..., eps_placement="outside") |
| RMSprop(alpha, eps, centered, momentum) | rmsprop(..., eps_placement="outside", momentum_lr="outside") |
| Adadelta(lr, rho, eps) | adadelta(lr, rho, eps, weight_decay) |
| NAdam(betas, eps, weight_decay, momentum_decay, decoupled_weight_decay) | nadam(..., mu_product_dtype="float32") |
| RAdam(betas, eps, weight_decay, decoupled_weight_decay) | radam(..., threshold=5, threshold_strict=True, epsilon_hat=True) |
| Adamax(betas, eps, weight_decay) | adamax(..., eps_placement="max") |

``maximize=True`` and several param groups with different hyperparameters are refused
(``NotComparable``). LBFGS is not a gradient-stream optimizer (it needs a closure and runs a line
search): ``torch_peer`` refuses it; ``oracle_peers.TorchLBFGSPeer`` compares it step by step with
``ref.lbfgs_torch`` (specs/conformance.md, "Oracle-fed peers"), and ``compare_lbfgs`` compares the
end points of torch's LBFGS(line_search_fn="strong_wolfe") and ``ref.lbfgs`` on a strongly convex
least-squares problem.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._types import Array
from . import mappings
from .adapt import as_spec
from .core import NotComparable, ReferenceSpec, ShapedPeer
from .peers import FLOAT_DTYPES, as_float_dtype

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the torch adapter needs torch: pip install -e '.[peers]' (figures measured with torch 2.13.0 CPU)"
    ) from exc

_T: Any = torch

Shapes = Sequence[Sequence[int]]
_IGNORED = {"foreach", "fused", "differentiable", "capturable", "initial_lr"}
#: classes that refuse dense gradients: the peer feeds them ``grad.to_sparse()``
_SPARSE_GRADIENTS: tuple[type, ...] = (_T.optim.SparseAdam,)


def _f(x: Any) -> float:
    return float(x.item()) if hasattr(x, "item") else float(x)


def _spec(cls_name: str, g: dict[str, Any], shapes: Shapes = ()) -> ReferenceSpec:
    """The reference spec for ``torch.optim.<cls_name>`` with param group ``g`` over parameter
    tensors of ``shapes``, or ``NotComparable``: the family tables of ``mappings`` first, then the
    classes below.

    Long because it is one dispatch over torch.optim's classes, a few lines per class.
    """
    if g.get("maximize", False):
        raise NotComparable(f"torch.optim.{cls_name}(maximize=True): the reference minimizes")
    mappings.load()
    if cls_name in mappings.TORCH:
        return mappings.TORCH[cls_name](g, tuple(tuple(int(d) for d in s) for s in shapes))
    lr = _f(g["lr"])
    wd = _f(g.get("weight_decay", 0.0))
    if cls_name == "SGD":
        mu, damp = _f(g["momentum"]), _f(g["dampening"])
        if mu == 0.0:
            return ReferenceSpec("sgd", {"lr": lr, "weight_decay": wd})
        if g["nesterov"]:
            return ReferenceSpec("nesterov", {"lr": lr, "beta": mu, "form": "torch", "weight_decay": wd})
        return ReferenceSpec(
            "momentum",
            {
                "lr": lr,
                "beta": mu,
                "form": "polyak",
                "dampening": damp,
                "first_step": "grad",
                "weight_decay": wd,
            },
        )
    if cls_name in ("Adam", "AdamW"):
        b1, b2 = (_f(b) for b in g["betas"])
        common = {
            "lr": lr,
            "beta1": b1,
            "beta2": b2,
            "eps": _f(g["eps"]),
            "weight_decay": wd,
            "amsgrad": bool(g["amsgrad"]),
            "amsgrad_max": "raw",
        }
        if cls_name == "AdamW" or g.get("decoupled_weight_decay", False):
            return ReferenceSpec("adamw", {**common, "decay_scaling": "lr"})
        return ReferenceSpec("adam", common)
    if cls_name in ("NAdam", "RAdam", "Adamax"):
        return _adam_family_spec(cls_name, g, lr, wd)
    if cls_name == "Adagrad":
        return ReferenceSpec(
            "adagrad",
            {
                "lr": lr,
                "eps": _f(g["eps"]),
                "eps_placement": "outside",
                "initial_accumulator_value": _f(g["initial_accumulator_value"]),
                "lr_decay": _f(g["lr_decay"]),
                "weight_decay": wd,
            },
        )
    if cls_name == "RMSprop":
        return ReferenceSpec(
            "rmsprop",
            {
                "lr": lr,
                "alpha": _f(g["alpha"]),
                "eps": _f(g["eps"]),
                "eps_placement": "outside",
                "centered": bool(g["centered"]),
                "momentum": _f(g["momentum"]),
                "momentum_lr": "outside",
                "initial_scale": 0.0,
                "bias_correction": False,
                "weight_decay": wd,
            },
        )
    if cls_name == "Adadelta":
        return ReferenceSpec(
            "adadelta", {"lr": lr, "rho": _f(g["rho"]), "eps": _f(g["eps"]), "weight_decay": wd}
        )
    if cls_name == "LBFGS":
        raise NotComparable(
            "torch.optim.LBFGS needs a closure (loss re-evaluation, inner iterations, optional line "
            "search); it is not a gradient-stream optimizer: reference.conform.oracle_peers "
            "(optref conform torch.optim.LBFGS) compares it step by step with ref.lbfgs_torch"
        )
    raise NotComparable(f"torch.optim.{cls_name} has no reference mapping")


def _adam_family_spec(cls_name: str, g: dict[str, Any], lr: float, wd: float) -> ReferenceSpec:
    """NAdam, RAdam and Adamax (specs/nadam.md, radam.md, adamax.md "Variants")."""
    b1, b2 = (_f(b) for b in g["betas"])
    common = {"lr": lr, "beta1": b1, "beta2": b2, "eps": _f(g["eps"]), "weight_decay": wd}
    if cls_name == "Adamax":  # eps inside the max, coupled L2
        return ReferenceSpec("adamax", {**common, "eps_placement": "max"})
    decoupled = bool(g.get("decoupled_weight_decay", False))
    if cls_name == "RAdam":  # rho_t > 5, eps on sqrt(v_t) before sqrt(1 - beta2^t)
        return ReferenceSpec(
            "radam",
            {
                **common,
                "decoupled_weight_decay": decoupled,
                "threshold": 5.0,
                "threshold_strict": True,
                "epsilon_hat": True,
            },
        )
    # NAdam keeps the product of the mu's in a scalar tensor of torch's default scalar dtype
    scalar = "float64" if _T.get_default_dtype() == _T.float64 else "float32"
    return ReferenceSpec(
        "nadam",
        {
            **common,
            "decoupled_weight_decay": decoupled,
            "mu_schedule": True,
            "momentum_decay": _f(g["momentum_decay"]),
            "mu_product_dtype": scalar,
        },
    )


def _resolve_class(name_or_cls: Any) -> Any:
    if isinstance(name_or_cls, str):
        short = name_or_cls.split(".")[-1]
        cls = getattr(_T.optim, short, None)
        if cls is None or not isinstance(cls, type) or not issubclass(cls, _T.optim.Optimizer):
            raise ValueError(f"torch.optim has no optimizer {short!r}")
        if cls is _T.optim.Optimizer:
            raise ValueError(
                "torch.optim.Optimizer is the base class; name an optimizer (torch.optim.Adam, ...)"
            )
        return cls
    if isinstance(name_or_cls, type) and issubclass(name_or_cls, _T.optim.Optimizer):
        return name_or_cls
    raise TypeError(f"expected a torch optimizer instance, its class or its name, got {name_or_cls!r}")


def is_torch_own(optimizer: Any) -> bool:
    """Whether ``optimizer`` is an instance of one of torch.optim's own classes, exactly (not a
    subclass, not a third-party class of the same name): only then is its configuration read by
    class name."""
    return _is_own_class(type(optimizer))


def _is_own_class(cls: type) -> bool:
    return cls.__module__.startswith("torch.optim") and getattr(_T.optim, cls.__name__, None) is cls


def class_label(cls: type) -> str:
    """``torch.optim.Adam`` for torch's own classes, else ``module.QualifiedName``."""
    return f"torch.optim.{cls.__name__}" if _is_own_class(cls) else f"{cls.__module__}.{cls.__qualname__}"


class TorchPeer(ShapedPeer):
    """Any torch optimizer instance (torch's own, a subclass, a third-party class), read through
    ``param_groups`` and ``state`` only.

    The instance given is never stepped: it is deep-copied once (its param groups, its state and
    its own parameter tensors), and every ``start`` steps a fresh copy of that copy, so a user's
    model parameters are never written and runs never share state. The reference is ``spec``:
    given explicitly, or read from the configuration of torch's own classes (``_spec``).
    """

    packages: tuple[str, ...] = ("torch",)  # versions recorded in the report

    def __init__(
        self,
        optimizer: Any,
        spec: ReferenceSpec,
        *,
        label: str | None = None,
        scheduler: Any = None,
        metrics: Sequence[float] | None = None,
    ) -> None:
        tensors = _tensors(optimizer)
        dtypes = {p.dtype for p in tensors}
        if len(dtypes) != 1:
            raise NotComparable(f"parameters have mixed dtypes {sorted(map(str, dtypes))}")
        if _steps_taken(optimizer):
            raise ValueError(
                f"{class_label(type(optimizer))} has already taken steps (state 'step' > 0); "
                "pass a freshly constructed optimizer"
            )
        super().__init__([tuple(p.shape) for p in tensors])
        self.cls = type(optimizer)
        self.config = _group_config(optimizer)
        self.torch_dtype = tensors[0].dtype
        self._spec = spec
        self._spec.build()  # the reference validates the hyperparameters
        self._template = _copy(optimizer)
        self._scheduler, self._metrics = scheduler, metrics  # stepped after each optimizer step
        if scheduler is not None:
            from .schedules import copy_pair

            self._template, self._scheduler = copy_pair(optimizer, scheduler)
        self._sched: Any = None
        self._opt: Any = None
        self._tensors: list[Any] = []
        shown = {k: v for k, v in self.config.items() if k not in _IGNORED and v is not None}
        args = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        self._name = f"{label or class_label(self.cls)}({args}) [{self.torch_dtype}]"
        if scheduler is not None:
            self._name += f" + {type(scheduler).__name__}"

    @property
    def dtype(self) -> np.dtype[Any]:
        return _numpy_dtype(self.torch_dtype)

    def start(self, params: Array) -> None:
        self._check_size(params, "torch")
        if self._scheduler is None:
            self._opt = _copy(self._template)
        else:
            from .schedules import copy_pair

            self._opt, self._sched = copy_pair(self._template, self._scheduler)
        self._t = 0
        self._tensors = _tensors(self._opt)
        with _T.no_grad():
            for p, b in zip(self._tensors, self._blocks(np.asarray(params, dtype=np.float64))):
                p.copy_(_T.tensor(b, dtype=p.dtype, device=p.device))
                p.grad = None

    def step(self, grad: Array) -> Array:
        if self._opt is None:
            raise RuntimeError("call start(params) before step(grad)")
        sparse = issubclass(self.cls, _SPARSE_GRADIENTS)
        for p, b in zip(self._tensors, self._blocks(np.asarray(grad, dtype=np.float64))):
            p.grad = _T.tensor(
                b, dtype=p.dtype, device=p.device
            )  # a copy: the peer may edit its grad in place
            if sparse:  # stores exactly the entries g_i != 0 (specs/sparse_adam.md)
                p.grad = p.grad.to_sparse()
        self._opt.step()
        if self._sched is not None:
            from .schedules import step_scheduler

            step_scheduler(self._sched, None if self._metrics is None else self._metrics[self._t])
            self._t += 1
        with _T.no_grad():
            return np.concatenate([p.detach().cpu().to(_T.float64).numpy().ravel() for p in self._tensors])


def _tensors(optimizer: Any) -> list[Any]:
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, list) or not all(isinstance(g, dict) and "params" in g for g in groups):
        raise TypeError(
            f"{type(optimizer).__name__} has no torch param_groups (a list of dicts with 'params')"
        )
    tensors = [p for g in groups for p in g["params"]]
    if not tensors:
        raise ValueError("the optimizer has no parameters")
    return tensors


def _steps_taken(optimizer: Any) -> bool:
    """Whether any parameter's state has a ``step`` count above 0 (torch's own classes and most
    third-party ones keep it there; Adagrad fills its state at construction with step 0)."""
    for st in getattr(optimizer, "state", {}).values():
        step = st.get("step", 0) if isinstance(st, dict) else 0
        try:
            if float(step) > 0:
                return True
        except (TypeError, ValueError, RuntimeError):
            continue
    return False


def _group_config(optimizer: Any) -> dict[str, Any]:
    """The hyperparameters of group 0 (every key but ``params``); other groups must agree."""
    groups = optimizer.param_groups
    first = {k: v for k, v in groups[0].items() if k != "params"}
    for i, g in enumerate(groups[1:], start=1):
        for k in sorted((set(g) | set(first)) - {"params"} - _IGNORED):
            if not _equal(g.get(k), first.get(k)):
                raise NotComparable(
                    f"param group {i} differs from group 0 in {k!r} ({g.get(k)!r} vs {first.get(k)!r}); "
                    "compare groups separately (one torch_peer per group)"
                )
    return first


def copy_optimizer(optimizer: Any, memo: dict[int, Any] | None = None) -> Any:
    """A deep copy of every attribute. Not ``copy.deepcopy(optimizer)``: torch's
    ``Optimizer.__getstate__`` keeps only defaults, state and param_groups, and a third-party
    class's own attributes (a flag, a base optimizer) would be lost. One memo for the whole
    ``__dict__`` keeps the param-group tensors and the state's keys the same objects; pass
    ``memo`` on to ``copy.deepcopy(scheduler, memo)`` to copy an attached lr scheduler onto the copy.
    The ``step`` wrapper an lr scheduler installs holds a reference to the *original* optimizer:
    it is dropped, so the copy steps itself (and never the user's model)."""
    try:
        memo = {} if memo is None else memo
        new = object.__new__(type(optimizer))
        memo[id(optimizer)] = new
        state = copy.deepcopy(optimizer.__dict__, memo)
        if getattr(state.get("step"), "_wrapped_by_lr_sched", False):
            del state["step"]
        new.__dict__.update(state)
        return new
    except Exception as e:  # an optimizer holding something that cannot be copied
        raise NotComparable(
            f"{class_label(type(optimizer))} cannot be copied for independent runs ({type(e).__name__}: {e})"
        ) from None


_copy = copy_optimizer


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return a is b


def _numpy_dtype(torch_dtype: Any) -> np.dtype[Any]:
    name = str(torch_dtype).replace("torch.", "")
    if name == "bfloat16":
        import ml_dtypes

        bf16: np.dtype[Any] = np.dtype(ml_dtypes.bfloat16)
        return bf16
    try:
        return np.dtype(name)
    except TypeError:
        raise NotComparable(f"parameters of dtype {torch_dtype} are not a real floating-point type") from None


def torch_peer(
    optimizer_or_name: Any,
    shapes: Shapes | None = None,
    *,
    dtype: Any = None,
    reference: Any = None,
    scheduler: Any = None,
    metrics: Sequence[float] | None = None,
    **hyperparams: Any,
) -> TorchPeer:
    """A peer from a torch optimizer instance, or from its class/name plus shapes and hyperparameters.

    Args:
        optimizer_or_name: any ``torch.optim.Optimizer`` instance, freshly constructed (its param
            groups, shapes and dtype are read; it is copied, never stepped), or a class
            (``torch.optim.Adam``, a subclass, a third-party class) or torch.optim's class name
            (``"Adam"``, ``"torch.optim.Adam"``).
        shapes: parameter shapes when a class/name is given (default ``[(7,)]``).
        dtype: ``torch.float64`` (default), ``float32``, ``float16`` or ``bfloat16`` (torch
            dtypes or their names), when a class/name is given.
        reference: the reference the optimizer should match (``ref.lion(lr=1e-3)`` or a
            ``ReferenceSpec``). Without it, the reference is read from the configuration of
            torch.optim's own classes only; any other class (a subclass or a third-party class,
            whatever its name) raises ``NotComparable`` asking for it.
        hyperparams: constructor keywords when a class/name is given (the class fills the rest).
        scheduler: an lr scheduler of the optimizer instance, or a function ``optimizer ->
            scheduler`` (any form); stepped after each ``optimizer.step()``, and the reference gets
            ``lr=`` its reference schedule (``reference.conform.schedules``). ``metrics``: the
            stream a ReduceLROnPlateau is stepped with (default ``plateau_metrics``).
    """
    spec = as_spec(reference)
    if isinstance(optimizer_or_name, _T.optim.Optimizer):
        if shapes is not None or hyperparams or dtype is not None:
            raise ValueError("pass shapes/dtype/hyperparameters only with a class or name, not an instance")
        opt = optimizer_or_name
    else:
        cls = _resolve_class(optimizer_or_name)
        shp = [(7,)] if shapes is None else [tuple(int(d) for d in s) for s in shapes]
        if not shp or any(int(np.prod(s)) < 1 for s in shp):
            raise ValueError(f"shapes must be a non-empty list of non-empty shapes, got {shapes!r}")
        dt = _torch_dtype(dtype)
        opt = cls([_T.zeros(s, dtype=dt, requires_grad=True) for s in shp], **hyperparams)
    if scheduler is None:
        return TorchPeer(opt, spec if spec is not None else _claimed_spec(opt))
    from .schedules import driven_spec

    sched = scheduler if hasattr(scheduler, "step") or not callable(scheduler) else scheduler(opt)
    claimed, stream = driven_spec(opt, sched, spec, _claimed_spec(opt) if spec is None else None, metrics)
    return TorchPeer(opt, claimed, scheduler=sched, metrics=stream)


def _claimed_spec(optimizer: Any) -> ReferenceSpec:
    """The reference read from the configuration of one of torch.optim's own classes."""
    cls = type(optimizer)
    if not is_torch_own(optimizer):
        bases = [c for c in cls.__mro__[1:] if c is not _T.optim.Optimizer and _is_own_class(c)]
        kind = f"a subclass of torch's {class_label(bases[0])}" if bases else "not torch.optim's own class"
        raise NotComparable(
            f"{class_label(cls)} is {kind}; its update rule is not inferred from a class name: pass the "
            "reference explicitly (assert_conforms(opt, ref.NAME(...)) or torch_peer(opt, reference=...))"
        )
    _group_config(optimizer)  # differing groups are refused before any mapping
    return _spec(cls.__name__, optimizer.param_groups[0], [tuple(p.shape) for p in _tensors(optimizer)])


def _torch_dtype(dtype: Any) -> Any:
    """A torch floating dtype from a torch dtype or one of ``FLOAT_DTYPES``' names (default float64)."""
    if dtype is None:
        return _T.float64
    if isinstance(dtype, _T.dtype):
        name = str(dtype).replace("torch.", "")
        if name not in FLOAT_DTYPES:
            raise ValueError(f"dtype must be one of {list(FLOAT_DTYPES)}, got {dtype!r}")
        return dtype
    return getattr(_T, as_float_dtype(dtype).name)


# ----------------------------------------------------------------------------------------------
# L-BFGS: compared where comparable, i.e. at the end of a run on a strongly convex problem


@dataclass(frozen=True)
class LBFGSComparison:
    """torch.optim.LBFGS(strong_wolfe) and ref.lbfgs run to convergence on a least-squares problem.

    The two line searches differ (torch: cubic interpolation ported from lswolfe.lua, first trial
    step min(1, 1/||g||_1) lr; reference: Nocedal & Wright Alg. 3.5/3.6, first trial 1), so the
    iterates differ from step 1 and only the end points are comparable. For a mu-strongly convex
    f, ||x - x*|| <= ||grad f(x)|| / mu; each end point must be within that bound of x* (exact
    solution by numpy.linalg.lstsq) plus float64 rounding of x*, and both gradients must be small.
    """

    x_star: Array
    x_torch: Array
    x_ref: Array
    grad_torch: float
    grad_ref: float
    mu: float
    torch_evals: int
    ref_steps: int

    def bound(self, g: float) -> float:
        return g / self.mu + 64 * float(np.finfo(np.float64).eps) * max(
            1.0, float(np.max(np.abs(self.x_star)))
        )

    @property
    def err_torch(self) -> float:
        return float(np.linalg.norm(self.x_torch - self.x_star))

    @property
    def err_ref(self) -> float:
        return float(np.linalg.norm(self.x_ref - self.x_star))

    @property
    def passed(self) -> bool:
        return self.err_torch <= self.bound(self.grad_torch) and self.err_ref <= self.bound(self.grad_ref)


def compare_lbfgs(
    dim: int = 12, seed: int = 0, *, history_size: int = 10, max_iter: int = 100
) -> LBFGSComparison:
    """Run torch LBFGS (strong Wolfe, ``history_size``) and ``ref.lbfgs(m=history_size)`` on
    ``least_squares(dim, seed)`` from the conformance theta_0 and compare the end points."""
    from .._registry import make
    from ..oracle import FunctionOracle
    from .core import least_squares
    from .streams import initial_point

    prob = least_squares(dim, seed)
    x0 = initial_point(seed, dim)
    X, y = np.asarray(prob.X), np.asarray(prob.y)
    x_star = np.linalg.lstsq(X, y, rcond=None)[0]
    mu = float(np.min(np.linalg.eigvalsh(2 * X.T @ X / X.shape[0])))
    w = _T.tensor(x0.copy(), dtype=_T.float64, requires_grad=True)
    opt = _T.optim.LBFGS(
        [w],
        lr=1,
        max_iter=max_iter,
        history_size=history_size,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-12,
        tolerance_change=0.0,
    )
    evals = [0]

    def closure() -> Any:
        evals[0] += 1
        x = w.detach().numpy().copy()
        w.grad = _T.tensor(np.asarray(prob.grad(x)), dtype=_T.float64)
        return _T.tensor(float(prob.loss(x)), dtype=_T.float64)

    opt.step(closure)
    x_t = w.detach().numpy().copy()
    method = make("lbfgs", m=history_size)
    oracle = FunctionOracle.from_problem(prob)
    state = method.init(x0)
    steps = 0
    while steps < max_iter and float(np.linalg.norm(prob.grad(state.params))) > 1e-12 and not state.stalled:
        state = method.step(state, oracle)
        steps += 1
    x_r = np.array(state.params)
    return LBFGSComparison(
        x_star,
        x_t,
        x_r,
        float(np.linalg.norm(prob.grad(x_t))),
        float(np.linalg.norm(prob.grad(x_r))),
        mu,
        evals[0],
        steps,
    )


__all__ = ["LBFGSComparison", "TorchPeer", "compare_lbfgs", "torch_peer"]
