"""Adapter for optax (optional extra ``peers``; jax and optax are imported when this module is).

optax transformations do not expose their hyperparameters, so the adapter builds the optax
optimizer itself and records the keyword arguments:

    peer = optax_peer("adam", learning_rate=1e-3)            # or "optax.adam"
    peer = optax_peer("sgd", [(3, 4), (5,)], learning_rate=0.1, momentum=0.9, nesterov=True)
    conform(peer)

The hyperparameters are the call's keywords merged with the optax function's own defaults (read
from its signature), translated to the equivalent reference optimizer (no user mapping). A list of
arrays (a model's parameters) is a pytree; it is flattened in order for the comparison.

Importing this module sets ``jax_enable_x64`` (float64 peers need it; it is a process-wide jax
setting). The default peer dtype is float64; ``dtype="float32"`` (``"float16"``, ``"bfloat16"``)
runs optax in that precision against the float64 reference under that dtype's tolerance.

Mapping (optax 0.2.8; specs/conformance.md "Peers"):

| optax | reference |
|---|---|
| sgd(lr) | sgd(lr) |
| sgd(lr, momentum=b) | momentum(lr, beta=b, form="polyak", first_step="zeros") |
| sgd(lr, momentum=b, nesterov=True) | nesterov(lr, beta=b, form="torch") |
| adam(lr, b1, b2, eps, eps_root) | adam(lr, beta1, beta2, eps, eps_root) |
| amsgrad(lr, b1, b2, eps, eps_root) | adam(..., amsgrad=True, amsgrad_max="corrected") |
| adamw(..., weight_decay) | adamw(..., decay_scaling="lr") |
| lion(lr, b1, b2, weight_decay) | lion(lr, beta1, beta2, weight_decay, decay_scaling="lr") |
| rmsprop(lr, decay, eps, initial_scale, eps_in_sqrt, centered, momentum, bias_correction) | rmsprop(alpha=decay, eps_placement="inside"/"outside", momentum_lr="inside", ...) |
| adagrad(lr, initial_accumulator_value, eps) | adagrad(..., eps_placement="inside") |
| adadelta(lr, rho, eps, weight_decay) | adadelta(lr, rho, eps, weight_decay) (coupled: decay before the scaling) |
| sign_sgd(lr), signum(lr, beta) | signsgd(lr), signsgd(lr, momentum=beta) |
| nadam(lr, b1, b2, eps, eps_root), nadamw(..., weight_decay) | nadam(..., mu_schedule=False), + decoupled_weight_decay=True |
| radam(lr, b1, b2, eps, eps_root, threshold) | radam(..., threshold, threshold_strict=False, epsilon_hat=False) |
| adamax(lr, b1, b2, eps), adamaxw(..., weight_decay) | adamax(..., eps_placement="max"), + decoupled_weight_decay=True |

Refused with ``NotComparable`` and the reason: adam/adamw ``nesterov=True`` (NAdam), ``mu_dtype``,
masks, callable weight decay, ``amsgrad(bias_correction_*=False)``, rmsprop ``nesterov=True``,
``adadelta(learning_rate=None)`` (no sign flip: optax then moves uphill), ``radam(nesterov=True)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._types import Array
from . import mappings
from .adapt import as_spec
from .core import NotComparable, ReferenceSpec, ShapedPeer
from .peers import as_float_dtype

try:
    import jax
    import jax.numpy as jnp
    import optax
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("the optax adapter needs jax and optax: pip install -e '.[peers]'") from exc

_J: Any = jax
_J.config.update("jax_enable_x64", True)
_JNP: Any = jnp
_OPTAX: Any = optax

Shapes = Sequence[Sequence[int]]
SUPPORTED = (
    "sgd",
    "adam",
    "amsgrad",
    "adamw",
    "lion",
    "rmsprop",
    "adagrad",
    "adadelta",
    "sign_sgd",
    "signum",
    "nadam",
    "nadamw",
    "radam",
    "adamax",
    "adamaxw",
)


def supported() -> tuple[str, ...]:
    """Every optax alias with a translation: ``SUPPORTED`` and the family tables of ``mappings``."""
    mappings.load()
    return SUPPORTED + tuple(n for n in sorted(mappings.OPTAX) if n not in SUPPORTED)


_lr = mappings.optax_lr
_none_only = mappings.none_only


def _spec(name: str, hp: dict[str, Any], shapes: Shapes = (), dtype: Any = None) -> ReferenceSpec:
    """The reference spec for ``optax.<name>(**hp)`` over parameter blocks of ``shapes``, or
    ``NotComparable`` with the reason: the family tables of ``mappings`` first, then the aliases
    below.

    Long because it is one dispatch over optax's aliases, a few lines per alias, read top to bottom.
    """
    mappings.load()
    if name in mappings.OPTAX:
        fn, shp = mappings.OPTAX[name], tuple(tuple(int(d) for d in s) for s in shapes)
        if dtype is not None and "dtype" in inspect.signature(fn).parameters:  # noisy_sgd's draws
            return fn(hp, shp, dtype=as_float_dtype(dtype))  # type: ignore[call-arg]
        return fn(hp, shp)
    if name == "sgd":
        lr, mu = _lr(hp["learning_rate"], name), hp["momentum"]
        if mu is None or float(mu) == 0.0:
            if hp["nesterov"]:
                raise NotComparable("optax.sgd(nesterov=True) without momentum is plain SGD; set momentum")
            return ReferenceSpec("sgd", {"lr": lr})
        if hp["nesterov"]:
            return ReferenceSpec("nesterov", {"lr": lr, "beta": float(mu), "form": "torch"})
        return ReferenceSpec(
            "momentum",
            {"lr": lr, "beta": float(mu), "form": "polyak", "dampening": 0.0, "first_step": "zeros"},
        )
    if name in ("nadam", "nadamw", "radam", "adamax", "adamaxw"):
        return _adam_family_spec(name, hp)
    if name in ("adam", "adamw", "amsgrad"):
        if hp.get("nesterov"):
            raise NotComparable(
                f"optax.{name}(nesterov=True) is NAdam (no mu-schedule), not reproduced by ref.adam"
            )
        _none_only(name, hp, "mu_dtype", "mask")
        common: dict[str, Any] = {
            "lr": _lr(hp["learning_rate"], name),
            "beta1": float(hp["b1"]),
            "beta2": float(hp["b2"]),
            "eps": float(hp["eps"]),
            "eps_root": float(hp["eps_root"]),
        }
        if name == "amsgrad":
            if not (hp["bias_correction_mu"] and hp["bias_correction_nu"]):
                raise NotComparable(
                    "optax.amsgrad with bias_correction_mu/nu=False has no reference equivalent"
                )
            return ReferenceSpec("adam", {**common, "amsgrad": True, "amsgrad_max": "corrected"})
        if name == "adamw":
            if callable(hp["weight_decay"]):
                raise NotComparable("optax.adamw with a weight-decay schedule has no reference equivalent")
            return ReferenceSpec(
                "adamw", {**common, "weight_decay": float(hp["weight_decay"]), "decay_scaling": "lr"}
            )
        return ReferenceSpec("adam", common)
    if name == "lion":
        _none_only(name, hp, "mu_dtype", "mask")
        if callable(hp["weight_decay"]):
            raise NotComparable("optax.lion with a weight-decay schedule has no reference equivalent")
        return ReferenceSpec(
            "lion",
            {
                "lr": _lr(hp["learning_rate"], name),
                "beta1": float(hp["b1"]),
                "beta2": float(hp["b2"]),
                "weight_decay": float(hp["weight_decay"]),
                "decay_scaling": "lr",
            },
        )
    if name == "rmsprop":
        if hp["nesterov"]:
            raise NotComparable("optax.rmsprop(nesterov=True) has no reference equivalent")
        mu = 0.0 if hp["momentum"] is None else float(hp["momentum"])
        return ReferenceSpec(
            "rmsprop",
            {
                "lr": _lr(hp["learning_rate"], name),
                "alpha": float(hp["decay"]),
                "eps": float(hp["eps"]),
                "eps_placement": "inside" if hp["eps_in_sqrt"] else "outside",
                "centered": bool(hp["centered"]),
                "momentum": mu,
                "momentum_lr": "inside",
                "initial_scale": float(hp["initial_scale"]),
                "bias_correction": bool(hp["bias_correction"]),
            },
        )
    if name == "adagrad":
        return ReferenceSpec(
            "adagrad",
            {
                "lr": _lr(hp["learning_rate"], name),
                "eps": float(hp["eps"]),
                "eps_placement": "inside",
                "initial_accumulator_value": float(hp["initial_accumulator_value"]),
            },
        )
    if name == "adadelta":
        if hp["learning_rate"] is None:
            raise NotComparable(
                "optax.adadelta(learning_rate=None) applies scale_by_learning_rate(None), the identity: "
                "the update is +Delta, not -Delta, so the iterate moves uphill; pass learning_rate (torch's default is 1.0)"
            )
        _none_only(name, hp, "weight_decay_mask")
        return ReferenceSpec(
            "adadelta",
            {
                "lr": _lr(hp["learning_rate"], name),
                "rho": float(hp["rho"]),
                "eps": float(hp["eps"]),
                "weight_decay": float(hp["weight_decay"]),
            },
        )
    if name == "sign_sgd":
        return ReferenceSpec("signsgd", {"lr": _lr(hp["learning_rate"], name)})
    if name == "signum":
        _none_only(name, hp, "accumulator_dtype")
        return ReferenceSpec("signsgd", {"lr": _lr(hp["learning_rate"], name), "momentum": float(hp["beta"])})
    raise NotComparable(f"optax.{name} has no reference mapping (supported: {', '.join(supported())})")


def _adam_family_spec(name: str, hp: dict[str, Any]) -> ReferenceSpec:
    """nadam(w), radam, adamax(w) (specs/nadam.md, radam.md, adamax.md "Variants")."""
    common: dict[str, Any] = {
        "lr": _lr(hp["learning_rate"], name),
        "beta1": float(hp["b1"]),
        "beta2": float(hp["b2"]),
        "eps": float(hp["eps"]),
    }
    wd = hp.get("weight_decay", 0.0)
    if callable(wd):
        raise NotComparable(f"optax.{name} with a weight-decay schedule has no reference equivalent")
    if name.endswith("w"):
        _none_only(name, hp, "mask")
        common.update(weight_decay=float(wd), decoupled_weight_decay=True)
    if name.startswith("adamax"):
        return ReferenceSpec("adamax", {**common, "eps_placement": "max"})
    if name == "radam":
        if hp["nesterov"]:
            raise NotComparable("optax.radam(nesterov=True) has no reference equivalent")
        return ReferenceSpec(
            "radam",
            {
                **common,
                "eps_root": float(hp["eps_root"]),
                "threshold": float(hp["threshold"]),
                "threshold_strict": False,
                "epsilon_hat": False,
            },
        )
    _none_only(name, hp, "mu_dtype")
    if not hp["nesterov"]:
        raise NotComparable(f"optax.{name}(nesterov=False) is Adam: compare optax.adam(w)")
    return ReferenceSpec("nadam", {**common, "eps_root": float(hp["eps_root"]), "mu_schedule": False})


class TransformationPeer(ShapedPeer):
    """Any optax ``GradientTransformation`` over parameter blocks of fixed shapes, with the
    reference it should match given explicitly (optax transformations do not expose their
    hyperparameters). ``update`` is jit-compiled; a transformation that cannot be traced runs
    without jit."""

    packages: tuple[str, ...] = ("jax", "jaxlib", "optax")  # versions recorded in the report

    def __init__(self, tx: Any, spec: ReferenceSpec, shapes: Shapes, dtype: Any, label: str) -> None:
        if not is_transformation(tx):
            raise TypeError(f"expected an optax GradientTransformation, got {type(tx).__name__}")
        super().__init__(shapes)
        self.tx = tx
        self._spec = spec
        self._spec.build()
        self._np_dtype = as_float_dtype(dtype if dtype is not None else "float64")
        self._update: Callable[..., Any] = _J.jit(tx.update)
        self._jitted = True
        self._params: Any = None
        self._state: Any = None
        self._name = f"{label} [{self._np_dtype}]"

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._np_dtype

    def _tree(self, flat: Array) -> list[Any]:
        return [_JNP.asarray(b, dtype=self._np_dtype) for b in self._blocks(flat)]

    def start(self, params: Array) -> None:
        self._check_size(params, "optax")
        self._params = self._tree(params)
        self._state = self.tx.init(self._params)

    def step(self, grad: Array) -> Array:
        if self._params is None:
            raise RuntimeError("call start(params) before step(grad)")
        g = self._tree(grad)
        try:
            updates, state = self._update(g, self._state, self._params)
        except Exception:
            if not self._jitted:
                raise
            self._update, self._jitted = self.tx.update, False  # not traceable: plain calls from now on
            updates, state = self._update(g, self._state, self._params)
        self._state = state
        self._params = _OPTAX.apply_updates(self._params, updates)
        return np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in self._params])


class OptaxPeer(TransformationPeer):
    """An optax optimizer built by the adapter from its name and recorded keyword arguments; the
    reference is translated from them (``_spec``) unless given explicitly."""

    def __init__(
        self, name: str, kwargs: dict[str, Any], shapes: Shapes, dtype: Any, spec: ReferenceSpec | None = None
    ) -> None:
        fn: Callable[..., Any] | None = getattr(_OPTAX, name, None)
        if fn is None or not callable(fn) or name.startswith("_"):
            raise ValueError(f"optax has no optimizer {name!r}")
        sig = inspect.signature(fn)
        unknown = sorted(set(kwargs) - set(sig.parameters))
        if unknown:
            raise ValueError(f"optax.{name}: unknown keyword(s) {unknown}; valid: {sorted(sig.parameters)}")
        self.hyperparams = {
            k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty
        }
        self.hyperparams.update(kwargs)
        missing = [
            k for k, p in sig.parameters.items() if p.default is inspect.Parameter.empty and k not in kwargs
        ]
        if missing:
            raise ValueError(f"optax.{name} needs {missing}")
        self.kwargs = dict(kwargs)
        self.optax_name = name
        claimed = spec if spec is not None else _spec(name, self.hyperparams, shapes, dtype)
        lr_schedule = getattr(kwargs.get("learning_rate"), "reference", None)  # an OptaxSchedule
        if spec is None and lr_schedule is not None:
            claimed = claimed.with_(lr=lr_schedule)  # the reference schedule, not optax's own values
        tx = fn(**kwargs)
        if not is_transformation(tx):
            raise ValueError(f"optax.{name}(...) does not return a GradientTransformation")
        shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        super().__init__(tx, claimed, shapes, dtype, f"optax.{name}({shown})")


def is_transformation(obj: Any) -> bool:
    """Whether ``obj`` is an optax ``GradientTransformation`` (or one with extra args)."""
    return isinstance(obj, _OPTAX.GradientTransformation) or (
        callable(getattr(obj, "init", None))
        and callable(getattr(obj, "update", None))
        and type(obj).__module__.startswith("optax")
    )


def required_learning_rate(name: str) -> bool:
    """Whether ``optax.<name>`` has a learning_rate argument without a default."""
    fn = getattr(_OPTAX, name, None)
    if fn is None or not callable(fn):
        return False
    p = inspect.signature(fn).parameters.get("learning_rate")
    return p is not None and p.default is inspect.Parameter.empty


def optax_peer(
    name_or_transformation: Any,
    shapes: Shapes | None = None,
    *,
    dtype: Any = None,
    reference: Any = None,
    **kwargs: Any,
) -> TransformationPeer:
    """A peer from an optax optimizer's name and keyword arguments, or from any optax
    ``GradientTransformation`` with its reference given explicitly.

    Args:
        name_or_transformation: ``"adam"`` or ``"optax.adam"`` (see ``SUPPORTED``; the keywords
            are recorded and translated), or a ``GradientTransformation`` (``optax.chain(...)``,
            a third-party one), which needs ``reference``.
        shapes: parameter shapes (a list of arrays, as a model's parameters); default ``[(7,)]``.
        dtype: ``"float64"`` (default; jax_enable_x64 is on), ``"float32"``, ``"float16"`` or
            ``"bfloat16"``.
        reference: the reference to match (``ref.adam(lr=1e-3)`` or a ``ReferenceSpec``); with a
            name, it replaces the translation, so optimizers outside ``SUPPORTED`` can be compared.
        kwargs: the optax function's keyword arguments (its own defaults fill the rest).
    """
    spec = as_spec(reference)
    shp = [(7,)] if shapes is None else [tuple(int(d) for d in s) for s in shapes]
    if not shp or any(int(np.prod(s)) < 1 for s in shp):
        raise ValueError(f"shapes must be a non-empty list of non-empty shapes, got {shapes!r}")
    if isinstance(name_or_transformation, str):
        return OptaxPeer(name_or_transformation.split(".")[-1], kwargs, shp, dtype, spec)
    if not is_transformation(name_or_transformation):
        raise TypeError(
            f"expected an optax optimizer name or a GradientTransformation, got {type(name_or_transformation).__name__}"
        )
    if kwargs:
        raise ValueError(
            f"keywords {sorted(kwargs)} go with an optax name, not with a built GradientTransformation"
        )
    if spec is None:
        raise NotComparable(
            "an optax GradientTransformation does not expose its hyperparameters: pass the reference "
            "explicitly (assert_conforms(tx, ref.adam(lr=1e-3)), optax_peer(tx, reference=...)) or name "
            "the optimizer (optax_peer('adam', learning_rate=1e-3))"
        )
    return TransformationPeer(name_or_transformation, spec, shp, dtype, "optax GradientTransformation")


__all__ = [
    "SUPPORTED",
    "OptaxPeer",
    "TransformationPeer",
    "is_transformation",
    "optax_peer",
    "required_learning_rate",
    "supported",
]
