"""Diagnosis: when a peer does not match its reference, which documented variant does it match?

Every algorithm's documented keywords (specs/notation.md, "Keyword table") are the search space.
A *knob* changes one convention: eps placement, bias correction, momentum form, dampening and the
first step, Nesterov form, weight-decay coupling and its lr scaling, the initial accumulator, the
AMSGrad maximum, a default that differs between frameworks (RMSprop's alpha 0.99 vs 0.9, Adagrad's
initial accumulator 0 vs 0.1), ... For each knob (then each pair of knobs, if no single one fits)
the variant is replayed on the gradients the peer itself was fed, from the same theta_0, and
compared with the peer's iterates under the same tolerance model. Replaying the peer's own
gradients makes closed-loop runs diagnosable too: if the variant is what the peer computes, it
reproduces the peer's trajectory.

    d = diagnose(report)
    d.summary()   # "matches ref.adam with eps inside the sqrt (eps=0, eps_root=1e-08); differs
                  #  from the default from step 1 (open/normal)"
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .._registry import ALGORITHMS, entry
from .compare import Comparison, run_reference
from .peers import ReferenceSpec

Apply = Callable[[dict[str, Any]], "tuple[str, dict[str, Any]] | None"]


@dataclass(frozen=True)
class Knob:
    """One documented convention change: ``apply(hp)`` gives (algorithm, new hp) or None (n/a)."""

    algorithm: str
    key: str  # short identifier, e.g. "eps_inside"
    describe: Callable[[dict[str, Any]], str]
    apply: Apply
    needs: tuple[str, ...] = ()  # keywords the target factory must have


def factory_defaults(algorithm: str) -> dict[str, Any]:
    """The keyword defaults of the registered factory (lr included when it has one)."""
    return entry(algorithm).defaults()


def factory_params(algorithm: str) -> set[str]:
    """Every keyword the registered factory takes (required ones such as a default-less lr too)."""
    return set(entry(algorithm).hyperparameter_names())


def full_hyperparams(spec: ReferenceSpec) -> dict[str, Any]:
    return {**factory_defaults(spec.algorithm), **dict(spec.hyperparams)}


def _set(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda hp: {**hp, **changes}


def _differs(key: str, value: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda hp: bool(hp[key] != value)


def _always(hp: dict[str, Any]) -> bool:
    return True


def _pick(keys: tuple[str, ...], **fixed: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda hp: {**{k: hp[k] for k in keys}, **fixed}


def _knob(
    algo: str,
    key: str,
    text: str | Callable[[dict[str, Any]], str],
    when: Callable[[dict[str, Any]], bool],
    change: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    to: str | None = None,
    needs: tuple[str, ...] = (),
) -> Knob:
    def apply(hp: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if not when(hp):
            return None
        new = change(hp)
        return (to or algo), new

    describe = text if callable(text) else (lambda hp, _t=text: _t)
    return Knob(algo, key, describe, apply, needs)


def _no_weight_decay(a: str) -> Knob:
    """The knob every method with a coupled or decoupled decay has: weight_decay = 0."""
    return _knob(
        a,
        "no_weight_decay",
        "no weight decay (weight_decay=0)",
        lambda hp: hp["weight_decay"] > 0,
        _set(weight_decay=0.0),
    )


def _eps_placements(a: str) -> list[Knob]:
    """eps inside or outside the square root (adagrad, rmsprop)."""
    return [
        _knob(
            a,
            f"eps_{where}",
            f"eps {where} the sqrt (eps_placement={where!r})",
            _differs("eps_placement", where),
            _set(eps_placement=where),
        )
        for where in ("inside", "outside")
    ]


def _adam_like(algo: str) -> list[Knob]:
    """The knobs of adam and adamw: each documented convention a peer may use instead of the claim's.

    Long because it is a table: one knob per documented convention of the Adam family.
    """
    k = [
        _knob(
            algo,
            "eps_inside",
            lambda hp: f"eps inside the sqrt (eps=0, eps_root={hp['eps']!r})",
            lambda hp: hp["eps"] > 0 and hp["eps_root"] == 0,
            lambda hp: {**hp, "eps": 0.0, "eps_root": hp["eps"]},
            needs=("eps_root",),
        ),
        _knob(
            algo,
            "eps_sq_inside",
            lambda hp: f"eps squared inside the sqrt (eps=0, eps_root={hp['eps'] ** 2!r})",
            lambda hp: hp["eps"] > 0 and hp["eps_root"] == 0,
            lambda hp: {**hp, "eps": 0.0, "eps_root": hp["eps"] ** 2},
            needs=("eps_root",),
        ),
        _knob(
            algo,
            "eps_outside",
            lambda hp: f"eps outside the sqrt (eps={hp['eps_root']!r}, eps_root=0)",
            lambda hp: hp["eps_root"] > 0 and hp["eps"] == 0,
            lambda hp: {**hp, "eps": hp["eps_root"], "eps_root": 0.0},
            needs=("eps_root",),
        ),
        _knob(
            algo,
            "no_bias_correction",
            "no bias correction (bias_correction=False)",
            lambda hp: bool(hp["bias_correction"]),
            _set(bias_correction=False, epsilon_hat=False),
            needs=("bias_correction",),
        ),
        _knob(
            algo,
            "bias_correction",
            "bias correction (bias_correction=True)",
            lambda hp: not hp["bias_correction"],
            _set(bias_correction=True),
            needs=("bias_correction",),
        ),
        _knob(
            algo,
            "amsgrad_raw",
            "AMSGrad, maximum of the raw v (amsgrad=True, amsgrad_max='raw')",
            lambda hp: not hp["amsgrad"] or hp["amsgrad_max"] != "raw",
            _set(amsgrad=True, amsgrad_max="raw"),
            needs=("amsgrad", "amsgrad_max"),
        ),
        _knob(
            algo,
            "amsgrad_corrected",
            "AMSGrad, maximum of the bias-corrected v (amsgrad=True, amsgrad_max='corrected')",
            lambda hp: not hp["amsgrad"] or hp["amsgrad_max"] != "corrected",
            _set(amsgrad=True, amsgrad_max="corrected"),
            needs=("amsgrad", "amsgrad_max"),
        ),
        _knob(
            algo,
            "no_amsgrad",
            "no AMSGrad maximum (amsgrad=False)",
            lambda hp: bool(hp["amsgrad"]),
            _set(amsgrad=False),
            needs=("amsgrad",),
        ),
        _knob(
            algo,
            "no_eps",
            "no eps at all (eps=0, eps_root=0)",
            lambda hp: hp["eps"] > 0 or hp["eps_root"] > 0,
            _set(eps=0.0, eps_root=0.0),
            needs=("eps_root",),
        ),
        _knob(
            algo,
            "no_weight_decay",
            "no weight decay (weight_decay=0)",
            lambda hp: hp["weight_decay"] > 0,
            _set(weight_decay=0.0),
        ),
    ]
    k.append(
        _knob(
            algo,
            "epsilon_hat",
            "eps added to the uncorrected sqrt(v) (TensorFlow's epsilon-hat, epsilon_hat=True)",
            lambda hp: not hp["epsilon_hat"] and hp["bias_correction"] and hp["eps"] > 0,
            _set(epsilon_hat=True),
            needs=("epsilon_hat",),
        )
    )
    if algo == "adam":
        k += [
            _knob(
                algo,
                "decoupled_lr",
                "decoupled weight decay multiplied by lr (adamw, decay_scaling='lr')",
                lambda hp: hp["weight_decay"] > 0,
                lambda hp: {**hp, "decay_scaling": "lr"},
                to="adamw",
                needs=("decay_scaling",),
            ),
            _knob(
                algo,
                "decoupled_schedule",
                "decoupled weight decay, not multiplied by the base lr (adamw, decay_scaling='schedule')",
                lambda hp: hp["weight_decay"] > 0,
                lambda hp: {**hp, "decay_scaling": "schedule"},
                to="adamw",
                needs=("decay_scaling",),
            ),
        ]
    else:
        k += [
            _knob(
                algo,
                "decay_schedule",
                "weight decay not multiplied by the base lr (decay_scaling='schedule')",
                lambda hp: hp["weight_decay"] > 0 and hp["decay_scaling"] == "lr",
                _set(decay_scaling="schedule"),
                needs=("decay_scaling",),
            ),
            _knob(
                algo,
                "decay_lr",
                "weight decay multiplied by lr (decay_scaling='lr')",
                lambda hp: hp["weight_decay"] > 0 and hp["decay_scaling"] == "schedule",
                _set(decay_scaling="lr"),
                needs=("decay_scaling",),
            ),
            _knob(
                algo,
                "coupled",
                "coupled L2 weight decay in the gradient (adam with weight_decay)",
                lambda hp: hp["weight_decay"] > 0,
                lambda hp: {k: v for k, v in hp.items() if k != "decay_scaling"},
                to="adam",
            ),
        ]
    return k


def _momentum() -> list[Knob]:
    a = "momentum"
    out = [
        _knob(
            a,
            f"form_{f}",
            f"momentum form {f!r} ({desc})",
            _differs("form", f),
            _set(form=f, **({"dampening": 0.0} if f != "polyak" else {})),
        )
        for f, desc in (
            ("polyak", "v = beta v + (1 - d) g, theta -= lr v"),
            ("ema", "v = beta v + (1 - beta) g, theta -= lr v"),
            ("sutskever", "v = beta v + lr g, theta -= v"),
        )
    ]
    out += [
        _knob(
            a,
            "first_step_grad",
            "first step v_1 = g (torch: no dampening on step 1, first_step='grad')",
            _differs("first_step", "grad"),
            _set(first_step="grad"),
        ),
        _knob(
            a,
            "first_step_zeros",
            "first step from v_0 = 0 (dampening also on step 1, first_step='zeros')",
            _differs("first_step", "zeros"),
            _set(first_step="zeros"),
        ),
        _knob(
            a,
            "no_dampening",
            "no dampening (dampening=0)",
            lambda hp: hp["dampening"] > 0 and hp["form"] == "polyak",
            _set(dampening=0.0),
        ),
        _knob(
            a,
            "dampening_beta",
            lambda hp: f"dampening = beta (dampening={hp['beta']!r})",
            lambda hp: hp["dampening"] != hp["beta"] and hp["form"] == "polyak",
            lambda hp: {**hp, "dampening": hp["beta"]},
        ),
        _no_weight_decay(a),
    ]
    for f in ("torch", "lookahead", "sutskever"):
        out.append(
            _knob(
                a,
                f"nesterov_{f}",
                f"Nesterov momentum, form {f!r} (nesterov)",
                _always,
                _pick(("lr", "beta", "weight_decay"), form=f),
                to="nesterov",
            )
        )
    return out


def _nesterov() -> list[Knob]:
    a = "nesterov"
    out = [
        _knob(a, f"form_{f}", f"Nesterov form {f!r}", _differs("form", f), _set(form=f))
        for f in ("lookahead", "sutskever", "torch")
    ]
    for fs in ("grad", "zeros"):
        out.append(
            _knob(
                a,
                f"heavy_ball_{fs}",
                f"plain heavy-ball momentum without the Nesterov correction (momentum, first_step={fs!r})",
                _always,
                _pick(("lr", "beta", "weight_decay"), form="polyak", first_step=fs),
                to="momentum",
            )
        )
    out.append(_no_weight_decay(a))
    return out


def _plain(a: str) -> list[Knob]:
    return [_no_weight_decay(a)]


def _adagrad() -> list[Knob]:
    a = "adagrad"
    return [
        *_eps_placements(a),
        _knob(
            a,
            "accumulator_0.1",
            "initial accumulator 0.1 (optax's default)",
            _differs("initial_accumulator_value", 0.1),
            _set(initial_accumulator_value=0.1),
        ),
        _knob(
            a,
            "accumulator_0",
            "initial accumulator 0 (torch's default)",
            _differs("initial_accumulator_value", 0.0),
            _set(initial_accumulator_value=0.0),
        ),
        _knob(
            a, "no_lr_decay", "no lr decay (lr_decay=0)", lambda hp: hp["lr_decay"] > 0, _set(lr_decay=0.0)
        ),
        _knob(a, "no_eps", "no eps (eps=0)", lambda hp: hp["eps"] > 0, _set(eps=0.0)),
        _no_weight_decay(a),
    ]


def _rmsprop() -> list[Knob]:
    """The knobs of rmsprop: each documented convention a peer may use instead of the claim's.

    Long because it is a table: one knob per documented convention of RMSprop.
    """
    a = "rmsprop"
    return [
        *_eps_placements(a),
        _knob(a, "centered", "centered (centered=True)", lambda hp: not hp["centered"], _set(centered=True)),
        _knob(
            a,
            "uncentered",
            "not centered (centered=False)",
            lambda hp: bool(hp["centered"]),
            _set(centered=False),
        ),
        _knob(
            a,
            "momentum_lr_inside",
            "lr inside the momentum buffer (momentum_lr='inside', optax)",
            lambda hp: hp["momentum"] > 0 and hp["momentum_lr"] != "inside",
            _set(momentum_lr="inside"),
        ),
        _knob(
            a,
            "momentum_lr_outside",
            "lr outside the momentum buffer (momentum_lr='outside', torch)",
            lambda hp: hp["momentum"] > 0 and hp["momentum_lr"] != "outside",
            _set(momentum_lr="outside"),
        ),
        _knob(
            a,
            "initial_scale_1",
            "second moment started at 1 (initial_scale=1, TF1)",
            _differs("initial_scale", 1.0),
            _set(initial_scale=1.0),
        ),
        _knob(
            a,
            "initial_scale_0",
            "second moment started at 0 (initial_scale=0)",
            _differs("initial_scale", 0.0),
            _set(initial_scale=0.0),
        ),
        _knob(
            a,
            "bias_correction",
            "bias-corrected second moment (bias_correction=True)",
            lambda hp: not hp["bias_correction"],
            _set(bias_correction=True),
        ),
        _knob(
            a,
            "no_bias_correction",
            "no bias correction (bias_correction=False)",
            lambda hp: bool(hp["bias_correction"]),
            _set(bias_correction=False),
        ),
        _knob(
            a,
            "alpha_0.9",
            "alpha = 0.9 (optax's decay default)",
            _differs("alpha", 0.9),
            _set(alpha=0.9),
        ),
        _knob(
            a,
            "alpha_0.99",
            "alpha = 0.99 (torch's default)",
            _differs("alpha", 0.99),
            _set(alpha=0.99),
        ),
        _knob(
            a, "no_momentum", "no momentum (momentum=0)", lambda hp: hp["momentum"] > 0, _set(momentum=0.0)
        ),
        _no_weight_decay(a),
    ]


def _adadelta() -> list[Knob]:
    a = "adadelta"
    return [
        _knob(
            a,
            "lr_1",
            "learning rate ignored (lr=1, Zeiler's method)",
            _differs("lr", 1.0),
            _set(lr=1.0),
        ),
        _no_weight_decay(a),
    ]


def _lion() -> list[Knob]:
    a = "lion"
    return [
        _knob(
            a,
            "betas_swapped",
            "beta1 and beta2 swapped",
            lambda hp: hp["beta1"] != hp["beta2"],
            lambda hp: {**hp, "beta1": hp["beta2"], "beta2": hp["beta1"]},
        ),
        _knob(
            a,
            "decay_schedule",
            "weight decay not multiplied by the base lr (decay_scaling='schedule')",
            lambda hp: hp["weight_decay"] > 0 and hp["decay_scaling"] == "lr",
            _set(decay_scaling="schedule"),
        ),
        _knob(
            a,
            "decay_lr",
            "weight decay multiplied by lr (decay_scaling='lr')",
            lambda hp: hp["weight_decay"] > 0 and hp["decay_scaling"] == "schedule",
            _set(decay_scaling="lr"),
        ),
        _no_weight_decay(a),
    ]


def _signsgd() -> list[Knob]:
    a = "signsgd"
    return [
        _knob(
            a,
            "no_momentum",
            "no momentum: plain signSGD (momentum=0)",
            lambda hp: hp["momentum"] > 0,
            _set(momentum=0.0),
        ),
        _no_weight_decay(a),
    ]


_BUILDERS: dict[str, Callable[[], list[Knob]]] = {
    "adam": lambda: _adam_like("adam"),
    "adamw": lambda: _adam_like("adamw"),
    "momentum": _momentum,
    "nesterov": _nesterov,
    "sgd": lambda: _plain("sgd"),
    "gd": lambda: _plain("gd"),
    "adagrad": _adagrad,
    "rmsprop": _rmsprop,
    "adadelta": _adadelta,
    "lion": _lion,
    "signsgd": _signsgd,
}


def knobs(algorithm: str) -> tuple[list[Knob], list[str]]:
    """The knobs of ``algorithm`` usable now, and a note for each whose keyword the reference lacks."""
    usable, missing = [], []
    algo_params = factory_params(algorithm) if algorithm in ALGORITHMS else set()
    for k in _BUILDERS.get(algorithm, lambda: [])():
        lacking = [n for n in k.needs if n not in algo_params and not _in_target(k, n)]
        if lacking:
            missing.append(f"{algorithm}: knob {k.key!r} needs keyword(s) {lacking}")
        else:
            usable.append(k)
    return usable, missing


def _in_target(k: Knob, name: str) -> bool:
    for algo in ALGORITHMS:
        if algo != k.algorithm and name in factory_params(algo):
            return True
    return False


def _chains(spec: ReferenceSpec, pairs: bool) -> Iterable[tuple[Knob, ...]]:
    """Single knobs of the claim's algorithm; with ``pairs``, every ordered pair (k1, k2) where k2
    is a later knob of the same algorithm, or any knob of the algorithm k1 moved to (adam's
    decoupled decay -> adamw's knobs): variants combine across algorithms."""
    ks, _ = knobs(spec.algorithm)
    if not pairs:
        yield from ((k,) for k in ks)
        return
    hp = full_hyperparams(spec)
    for i, k1 in enumerate(ks):
        r = k1.apply(dict(hp))
        if r is None:
            continue
        if r[0] == spec.algorithm:
            yield from ((k1, k2) for k2 in ks[i + 1 :])
        elif r[0] in ALGORITHMS:
            yield from ((k1, k2) for k2 in knobs(r[0])[0])


def candidate_specs(spec: ReferenceSpec, *, pairs: bool = False) -> Iterable[tuple[str, str, ReferenceSpec]]:
    """(key, description, spec) for every applicable knob (or pair of knobs, ``_chains``) of the claim."""
    hp = full_hyperparams(spec)
    seen: set[str] = set()
    for combo in _chains(spec, pairs):
        algo, cur, texts, keys = spec.algorithm, dict(hp), [], []
        ok = True
        for k in combo:
            if k.algorithm != algo:
                ok = False
                break
            r = k.apply({**factory_defaults(algo), **cur})
            if r is None:
                ok = False
                break
            texts.append(k.describe({**factory_defaults(algo), **cur}))
            keys.append(k.key)
            algo, cur = r
        if not ok or algo not in ALGORITHMS:
            continue
        allowed = factory_params(algo)
        cur = {k: v for k, v in cur.items() if k in allowed}
        try:
            cand = ReferenceSpec(algo, cur)
            cand.build()
        except (ValueError, TypeError):
            continue
        key = cand.describe()
        if key in seen or cur == hp and algo == spec.algorithm:
            continue
        seen.add(key)
        yield "+".join(keys), " and ".join(texts), cand


def keyword_changes(claim: ReferenceSpec, cand: ReferenceSpec) -> dict[str, tuple[Any, Any]]:
    """keyword -> (claimed value, candidate value) for every keyword that differs (defaults filled;
    ``"algorithm"`` when the candidate is another algorithm; a keyword one side lacks shows None)."""
    a, b = full_hyperparams(claim), full_hyperparams(cand)
    out: dict[str, tuple[Any, Any]] = {}
    if claim.algorithm != cand.algorithm:
        out["algorithm"] = (claim.algorithm, cand.algorithm)
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if not _same_value(va, vb):
            out[k] = (va, vb)
    return out


def _same_value(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)
    except Exception:  # noqa: BLE001 - an exotic value (a schedule object) that cannot be compared
        return a is b


@dataclass
class Candidate:
    """One candidate reference: its score against the peer, and how it differs from the claim."""

    description: str
    spec: ReferenceSpec
    worst_ratio: float  # max over runs of dev/tol against the peer, iterates and queries (<= 1: matches)
    iterate_ratio: float = float("nan")  # the same for the iterates alone
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # keyword: (claim, candidate)

    @property
    def matched(self) -> bool:
        return self.worst_ratio <= 1.0

    def describe_changes(self) -> str:
        """``eps: 1e-08 -> 0.0, eps_root: 0.0 -> 1e-08`` (claim -> candidate)."""
        return ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in self.changes.items()) or "none"


@dataclass
class Diagnosis:
    """Which documented variants reproduce the peer, and where it departs from the claim.

    ``claim`` is the first candidate: the claimed settings replayed on the peer's own gradients.
    ``query_only``: the claim reproduces the peer's iterates but not its query points (where it
    asks for its next gradient). ``equivalent``: variants that reproduce the claim's own runs
    (another way of writing the same method on these runs), never reported as a match.
    """

    algorithm: str
    default_first_fail: tuple[int, str, str] | None  # (step, mode, stream) of the first departure
    matches: list[Candidate]
    nearest: Candidate | None
    tried: int
    missing: list[str] = field(default_factory=list)
    claim: Candidate | None = None
    query_only: tuple[int, str, str] | None = None  # (step, mode, stream) where only the query left
    equivalent: list[Candidate] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return bool(self.matches)

    def _query_note(self, also: bool) -> str:
        if self.query_only is None:
            return ""
        s, m, st = self.query_only
        claim = self.claim.spec.describe() if self.claim is not None else self.algorithm
        head = (
            "; the claim's update also matches the peer's iterates"
            if also
            else f"the iterates match the claim {claim}"
        )
        return (
            f"{head} on the peer's own gradients, but the point where the peer asks for its next gradient "
            f"differs from the reference's query from step {s} ({m}/{st}); a look-ahead method must return "
            "its query (FunctionPeer: return (params, state, query); specs/conformance.md)"
        )

    def summary(self) -> str:
        where = ""
        if self.default_first_fail is not None:
            s, m, st = self.default_first_fail
            where = f"; differs from the claim from step {s} ({m}/{st})"
        if self.matches:
            best = self.matches[0]
            also = ""
            if len(self.matches) > 1:
                also = (
                    " (equally consistent on these runs: "
                    + "; ".join(c.description for c in self.matches[1:])
                    + ")"
                )
            return (
                f"matches {self.algorithm} with {best.description} [{best.spec.describe()}]; keywords that "
                f"differ from the claim: {best.describe_changes()}{where}{also}{self._query_note(True)}"
            )
        if self.query_only is not None:
            return self._query_note(False).lstrip("; ")
        near = ""
        if self.nearest is not None:
            near = f"; nearest: {self.nearest.description} (dev/tol {self.nearest.worst_ratio:.3g})"
        claim = ""
        if self.claim is not None:
            claim = f"; the claim itself: dev/tol {self.claim.worst_ratio:.3g}"
        return f"no documented variant of {self.algorithm} matches ({self.tried} tried){claim}{near}{where}"


def _replay(spec: ReferenceSpec, comp: Comparison) -> Comparison | None:
    """``spec`` replayed on the peer's own gradients from the same theta_0, compared with the peer
    (None: the replay failed or the peer's run stopped early)."""
    grads = comp.peer.grads
    if comp.peer.nonfinite_at is not None or not np.all(np.isfinite(grads)):
        return None
    with np.errstate(all="ignore"):
        try:
            run = run_reference(spec.build(), comp.x0, grads=grads)
        except (ValueError, FloatingPointError, ZeroDivisionError, OverflowError):
            return None
    cand = Comparison(comp.mode, comp.stream, comp.x0, run, comp.peer, comp.tolerance)
    return cand if np.all(np.isfinite(cand.abs_dev)) else None


def _score(
    spec: ReferenceSpec, failing: list[Comparison], rest: list[Comparison]
) -> tuple[float, float, list[Comparison]]:
    """(worst dev/tol, worst iterate-only dev/tol, the replays) of ``spec`` against the peer."""
    worst, worst_it = 0.0, 0.0
    reps: list[Comparison] = []
    for comp in failing + rest:  # failing runs first: most candidates are rejected there
        r = _replay(spec, comp)
        if r is None:
            return float("inf"), float("inf"), reps
        reps.append(r)
        worst, worst_it = max(worst, r.worst_ratio), max(worst_it, r.iterate_ratio)
        if worst > 1.0 and comp in failing:
            return worst, worst_it, reps
    return worst, worst_it, reps


def _equivalent_to_claim(reps: list[Comparison], comps: list[Comparison]) -> bool:
    """Whether the candidate's replays reproduce the claim's own runs (same gradients) within (T1)."""
    by_key = {(c.mode, c.stream): c for c in comps}
    for r in reps:
        claim_run = by_key[(r.mode, r.stream)].reference
        if not Comparison(r.mode, r.stream, r.x0, claim_run, r.reference, r.tolerance).passed:
            return False
    return bool(reps)


class Judged(Protocol):
    """What the diagnosis reads from a ``ConformanceReport``: the claim and the comparisons."""

    @property
    def spec(self) -> ReferenceSpec: ...

    @property
    def comparisons(self) -> Sequence[Comparison]: ...


def diagnose(report: Judged, *, pairs: bool = True) -> Diagnosis:
    """Search the claim, then the documented variants of its algorithm (single knobs, then pairs),
    for what the peer computes (specs/conformance.md, "Diagnosis")."""
    spec = report.spec
    comps = list(report.comparisons)
    failing = [c for c in comps if not c.passed]
    rest = [c for c in comps if c.passed]
    first = min(failing, key=lambda c: c.first_fail or 0) if failing else None
    where = (int(first.first_fail or 0), first.mode, first.stream) if first else None
    claim = Candidate(
        "the claimed settings",
        spec,
        max((c.worst_ratio for c in comps), default=0.0),
        max((c.iterate_ratio for c in comps), default=0.0),
    )
    query_only = None
    if failing and claim.iterate_ratio <= 1.0:
        q = min(failing, key=lambda c: c.first_fail or 0)
        query_only = (int(q.first_fail or 0), q.mode, q.stream)
    _, missing = knobs(spec.algorithm)
    tried: list[Candidate] = []
    equivalent: list[Candidate] = []
    matches: list[Candidate] = []
    for use_pairs in (False, True) if pairs else (False,):
        for _, text, cand in candidate_specs(spec, pairs=use_pairs):
            worst, worst_it, reps = _score(cand, failing, rest)
            c = Candidate(text, cand, worst, worst_it, keyword_changes(spec, cand))
            if c.matched and _equivalent_to_claim(reps, comps):
                equivalent.append(c)
                continue
            tried.append(c)
        matches = sorted((c for c in tried if c.matched), key=lambda c: c.worst_ratio)
        if matches or query_only is not None:
            break
    nearest = min(tried, key=lambda c: c.worst_ratio) if tried else None
    return Diagnosis(
        spec.algorithm, where, matches, nearest, len(tried), missing, claim, query_only, equivalent
    )


__all__ = [
    "Candidate",
    "Diagnosis",
    "Judged",
    "Knob",
    "candidate_specs",
    "diagnose",
    "factory_defaults",
    "factory_params",
    "full_hyperparams",
    "keyword_changes",
    "knobs",
]
