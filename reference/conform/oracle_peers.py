r"""Oracle-fed peers: implementations whose step needs f and grad f at points they choose
(torch.optim.LBFGS's closure, optax's ``value``/``grad``/``value_fn`` extra arguments), compared
step by step in closed loop on a problem. Spec: specs/conformance.md, "Oracle-fed peers".

    peer.start(theta0, oracle)      # fresh state at theta_0; the peer asks ``oracle`` as it likes
    theta = peer.step()             # one step (torch: one .step(closure) call); the new params
    peer.evals                      # evaluations of f and grad f that step made

Both sides are given the same function: one ``FunctionOracle`` (autograd, float64) per side, the
peer's evaluated at its own points (rounded from the peer's dtype to float64, the answers rounded
back to the peer's dtype). Each side runs its own closed loop from the same theta_0; the verdict
compares the iterates after every step under the tolerance (T1) with t the cumulative number of
evaluations (each evaluation starts one more rounded chain), and the evaluation counts exactly.

A float32 peer decides its line-search branches on float32 values while the reference decides on
float64 ones; once one decision differs the two trajectories separate by far more than rounding, so
a float32 comparison is judged at its end point (``FLOAT32_END``) and reports how many steps agreed
step by step (specs/conformance.md, "Oracle-fed peers").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._types import Array
from ..oracle import FunctionOracle
from .peers import NotComparable, PeerFailed, ReferenceSpec, as_float_dtype, package_version
from .tolerance import REF_EPS, Tolerance

#: The closed-loop problems of an oracle comparison (``oracle_problem``).
PROBLEMS: tuple[str, ...] = ("least_squares", "logistic")
#: float32 end-point verdict: max|theta_peer_T - theta_ref_T| <= FLOAT32_END * sqrt(eps32) * S_T.
FLOAT32_END = 1.0


@runtime_checkable
class OraclePeer(Protocol):
    """A stateful implementation fed an oracle (module docstring)."""

    @property
    def name(self) -> str: ...

    @property
    def dtype(self) -> np.dtype[Any]: ...

    @property
    def spec(self) -> ReferenceSpec: ...

    @property
    def evals(self) -> int: ...

    def start(self, params: Array, oracle: FunctionOracle) -> None: ...

    def step(self) -> Array: ...


def oracle_problem(name: str, dim: int, seed: int = 0) -> Any:
    """A closed-loop problem with an autograd ``loss``: ``"least_squares"`` (conform's default,
    Hessian eigenvalues in [0.25, 1]) or ``"logistic"`` (4 dim samples, l2 = 0.1, non-quadratic)."""
    from ..problems import logistic_regression, make_logistic_data
    from .compare import least_squares

    if name == "least_squares":
        return least_squares(dim, seed)
    if name == "logistic":
        rng = np.random.default_rng([int(seed), 2001])
        X, y, _ = make_logistic_data(rng, n_samples=4 * dim, dim=dim, scale=1.0, intercept=False)
        return logistic_regression(X, y, l2=0.1)
    raise ValueError(f"problem must be one of {list(PROBLEMS)}, got {name!r}")


def _ask(oracle: FunctionOracle, x: Any, dtype: np.dtype[Any]) -> tuple[float, Array]:
    """f and grad f at the peer's point ``x`` (read as float64), the gradient in the peer's dtype."""
    v, g = oracle.value_and_grad(np.asarray(x, dtype=np.float64).ravel())
    return float(v), np.asarray(g, dtype=dtype)


class _Base:
    """Name, dtype, spec, shapes and the evaluation counter shared by the framework peers."""

    packages: tuple[str, ...] = ()

    def __init__(self, name: str, spec: ReferenceSpec, shapes: Sequence[Sequence[int]], dtype: Any) -> None:
        self._name, self._spec = name, spec
        self._dtype = as_float_dtype(dtype if dtype is not None else "float64")
        if self._dtype.name not in ("float64", "float32"):
            raise NotComparable(
                f"{name}: oracle-fed peers are compared in float64 or float32, not {self._dtype.name}"
            )
        if self._dtype.name != "float64":
            self._name += f" [{self._dtype.name}]"
        self.shapes = [tuple(int(d) for d in s) for s in shapes]
        self._sizes = [int(np.prod(s)) for s in self.shapes]
        self._count = 0
        self._last = 0
        self._oracle: FunctionOracle | None = None

    name = property(lambda self: self._name)
    spec = property(lambda self: self._spec)
    dtype = property(lambda self: self._dtype)
    evals = property(lambda self: self._last)

    @property
    def dim(self) -> int:
        return sum(self._sizes)

    def _blocks(self, flat: Array) -> list[Array]:
        out, k = [], 0
        for s, n in zip(self.shapes, self._sizes):
            out.append(np.asarray(flat[k : k + n], dtype=self._dtype).reshape(s))
            k += n
        return out

    def _evaluate(self, x: Any) -> tuple[float, Array]:
        if self._oracle is None:
            raise RuntimeError("call start(params, oracle) before step()")
        self._count += 1
        return _ask(self._oracle, x, self._dtype)

    def _check_start(self, params: Array, oracle: FunctionOracle) -> None:
        if params.size != self.dim:
            raise ValueError(f"params have {params.size} entries; the peer's parameters have {self.dim}")
        self._oracle, self._count, self._last = oracle, 0, 0


class TorchLBFGSPeer(_Base):
    """torch.optim.LBFGS; one ``step()`` is one ``.step(closure)`` call."""

    packages = ("torch",)

    def __init__(self, shapes: Sequence[Sequence[int]], dtype: Any = "float64", **hp: Any) -> None:
        import torch

        from .mappings.oracle import torch_lbfgs_spec

        self._hp = dict(hp)
        probe = torch.optim.LBFGS([torch.zeros(1)], **self._hp)  # torch validates and fills defaults
        group = {k: v for k, v in probe.param_groups[0].items() if k != "params"}
        shown = ", ".join(f"{k}={v!r}" for k, v in self._hp.items())
        super().__init__(f"torch.optim.LBFGS({shown})", torch_lbfgs_spec(group, ()), shapes, dtype)
        self._tdt = torch.float64 if self._dtype.name == "float64" else torch.float32
        self._opt: Any = None
        self._params: list[Any] = []

    def start(self, params: Array, oracle: FunctionOracle) -> None:
        import torch

        self._check_start(params, oracle)
        self._params = [torch.tensor(b, dtype=self._tdt, requires_grad=True) for b in self._blocks(params)]
        self._opt = torch.optim.LBFGS(self._params, **self._hp)

    def _flat(self) -> Array:
        return np.concatenate([p.detach().numpy().ravel() for p in self._params])

    def _closure(self) -> Any:
        import torch

        v, g = self._evaluate(self._flat())
        for p, gb in zip(self._params, self._blocks(g)):
            p.grad = torch.tensor(gb, dtype=self._tdt)
        return torch.tensor(v, dtype=self._tdt)

    def step(self) -> Array:
        before = self._count
        self._opt.step(self._closure)
        self._last = self._count - before
        return np.asarray(self._flat(), dtype=np.float64)


class _OptaxBase(_Base):
    packages = ("jax", "jaxlib", "optax")

    def __init__(self, name: str, spec: ReferenceSpec, shapes: Sequence[Sequence[int]], dtype: Any) -> None:
        from . import optax_adapter  # noqa: F401 - turns jax_enable_x64 on, as for the other optax peers

        super().__init__(name, spec, shapes, dtype)

    def _jax_value_fn(self) -> Callable[[Any], Any]:
        """f as a jax function of the parameter list: a ``pure_callback`` to the oracle with a
        custom VJP (its gradient), so one evaluation is one call and optax's ``jax.value_and_grad``
        and while loops can trace it."""
        import jax
        import jax.numpy as jnp

        dt = jnp.dtype(self._dtype.name)

        def host(x: Any) -> tuple[Array, Array]:
            v, g = self._evaluate(x)
            return np.asarray(v, dtype=self._dtype), g

        def both(x: Any) -> Any:
            shape = (jax.ShapeDtypeStruct((), dt), jax.ShapeDtypeStruct(x.shape, dt))  # type: ignore[no-untyped-call]
            return jax.pure_callback(host, shape, x)

        @jax.custom_vjp
        def flat_f(x: Any) -> Any:
            return both(x)[0]

        def fwd(x: Any) -> Any:
            v, g = both(x)
            return v, g

        def bwd(g: Any, ct: Any) -> Any:
            return (ct * g,)

        flat_f.defvjp(fwd, bwd)

        def f(params: list[Any]) -> Any:
            return flat_f(jnp.concatenate([jnp.ravel(p) for p in params]))

        return f

    def _to_jax(self, flat: Array) -> list[Any]:
        import jax.numpy as jnp

        return [jnp.asarray(b) for b in self._blocks(flat)]

    def _flat(self, params: list[Any]) -> Array:
        return np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in params])


class OptaxLBFGSPeer(_OptaxBase):
    """optax.lbfgs driven as its docs do: ``value_and_grad_from_state``, then
    ``update(grad, state, params, value=, grad=, value_fn=)``; one ``step()`` is one update."""

    def __init__(self, shapes: Sequence[Sequence[int]], dtype: Any = "float64", **hp: Any) -> None:
        import optax

        from . import optax_adapter  # noqa: F401 - jax_enable_x64 before anything is built
        from .mappings.oracle import optax_lbfgs_spec

        self._hp = dict(hp)
        self._tx = optax.lbfgs(**self._hp)
        shown = ", ".join(f"{k}={v!r}" for k, v in self._hp.items())
        super().__init__(f"optax.lbfgs({shown})", optax_lbfgs_spec(self._hp, ()), shapes, dtype)

    def start(self, params: Array, oracle: FunctionOracle) -> None:
        import jax
        import jax.numpy as jnp

        self._check_start(params, oracle)
        self._params = self._to_jax(params)
        # strongly typed leaves: the state the update returns has no weak types, and one compiled
        # step serves every call (a weak-typed first state would compile it twice)
        self._state = jax.tree.map(lambda x: jnp.asarray(x, dtype=x.dtype), self._tx.init(self._params))
        key = (repr(sorted(self._hp.items())), tuple(self.shapes), self._dtype.name)
        if key not in _COMPILED:
            _COMPILED[key] = self._compile()
        holder, self._step = _COMPILED[key]
        holder[0] = self

    def _compile(self) -> tuple[list[Any], Callable[..., Any]]:
        """The jitted step ``(params, state) -> (params, state)``; its f calls the peer in the holder."""
        import jax
        import optax

        holder: list[Any] = [self]
        f = _OptaxBase._jax_value_fn(_Holder(holder))  # type: ignore[arg-type]
        value_and_grad = optax.value_and_grad_from_state(f)
        tx = self._tx

        def one(params: Any, state: Any) -> Any:
            value, grad = value_and_grad(params, state=state)
            updates, state = tx.update(grad, state, params, value=value, grad=grad, value_fn=f)
            return optax.apply_updates(params, updates), state

        return holder, jax.jit(one)

    def step(self) -> Array:
        before = self._count
        self._params, self._state = self._step(self._params, self._state)
        self._last = self._count - before
        return self._flat(self._params)


class _Holder:
    """Forwards ``_dtype`` and ``_evaluate`` to the peer in ``holder[0]`` (a compiled optax step is
    shared by the peers of one configuration; the running one sets itself in the holder)."""

    def __init__(self, holder: list[Any]) -> None:
        self._holder = holder

    @property
    def _dtype(self) -> np.dtype[Any]:
        d: np.dtype[Any] = self._holder[0]._dtype
        return d

    def _evaluate(self, x: Any) -> tuple[float, Array]:
        out: tuple[float, Array] = self._holder[0]._evaluate(x)
        return out


#: Compiled optax.lbfgs steps by (hyperparameters, shapes, dtype): (holder, jitted step).
_COMPILED: dict[tuple[str, tuple[tuple[int, ...], ...], str], tuple[list[Any], Callable[..., Any]]] = {}


class OptaxPolyakPeer(_OptaxBase):
    """optax.polyak_sgd: ``update(grad, state, params, value=f(params))``."""

    def __init__(self, shapes: Sequence[Sequence[int]], dtype: Any = "float64", **hp: Any) -> None:
        import optax

        from . import optax_adapter  # noqa: F401 - jax_enable_x64 before anything is built
        from .mappings.oracle import optax_polyak_spec

        self._hp = dict(hp)
        self._tx = optax.polyak_sgd(**self._hp)
        shown = ", ".join(f"{k}={v!r}" for k, v in self._hp.items())
        super().__init__(f"optax.polyak_sgd({shown})", optax_polyak_spec(self._hp, ()), shapes, dtype)

    def start(self, params: Array, oracle: FunctionOracle) -> None:
        self._check_start(params, oracle)
        self._params = self._to_jax(params)
        self._state = self._tx.init(self._params)

    def step(self) -> Array:
        import jax.numpy as jnp
        import optax

        before = self._count
        v, g = self._evaluate(self._flat(self._params))
        grads = self._to_jax(g)
        value = jnp.asarray(v, dtype=jnp.dtype(self._dtype.name))
        updates, self._state = self._tx.update(grads, self._state, self._params, value=value)
        self._params = optax.apply_updates(self._params, updates)
        self._last = self._count - before
        return self._flat(self._params)


class ReferenceOraclePeer:
    """The reference method itself as an oracle-fed peer (self-checks; ``offset_ulps`` as
    ``ReferencePeer``'s)."""

    packages: tuple[str, ...] = ()

    def __init__(self, spec: ReferenceSpec, *, offset_ulps: int = 0) -> None:
        self._spec, self._method = spec, spec.build()
        self._offset = int(offset_ulps)
        self._name = spec.describe() + (f" [started {offset_ulps} ulp away]" if offset_ulps else "")
        self._state: Any = None
        self._oracle: FunctionOracle | None = None
        self._last = 0

    name = property(lambda self: self._name)
    spec = property(lambda self: self._spec)
    evals = property(lambda self: self._last)
    dtype = property(lambda self: np.dtype(np.float64))
    dim = property(lambda self: None)

    def start(self, params: Array, oracle: FunctionOracle) -> None:
        x = np.array(params, dtype=np.float64)
        for _ in range(self._offset):
            x = np.nextafter(x, np.inf)
        self._state, self._oracle = self._method.init(x), oracle

    def step(self) -> Array:
        if self._oracle is None:
            raise RuntimeError("call start(params, oracle) before step()")
        self._state, self._last = _reference_step(self._method, self._state, self._oracle)
        return np.array(self._state.params, dtype=np.float64)


def _reference_step(method: Any, state: Any, oracle: FunctionOracle) -> tuple[Any, int]:
    """One reference step and the number of points at which it evaluated f or grad f."""
    v0, g0 = oracle.counts.value, oracle.counts.grad
    new = method.step(state, oracle)
    return new, max(oracle.counts.value - v0, oracle.counts.grad - g0)


@dataclass(frozen=True)
class OracleRun:
    """One side's closed loop: iterates (n + 1, p) from theta_0, evaluations per step (n,), and
    f at each iterate (n + 1,) in float64."""

    iterates: Array
    evals: Array
    values: Array


def _values(problem: Any, its: list[Array]) -> Array:
    with np.errstate(all="ignore"):
        return np.array([float(problem.loss(x)) if np.all(np.isfinite(x)) else np.nan for x in its])


def run_oracle_peer(peer: OraclePeer, problem: Any, x0: Array, n_steps: int) -> OracleRun:
    """``n_steps`` steps of ``peer`` on ``problem`` from ``x0``; its failures are ``PeerFailed``."""
    oracle = FunctionOracle(problem.loss, dim=int(problem.dim))
    its, evals = [np.array(x0, dtype=np.float64)], []
    try:
        with np.errstate(all="ignore"):
            peer.start(np.array(x0, dtype=np.float64), oracle)
            for _ in range(n_steps):
                its.append(np.asarray(peer.step(), dtype=np.float64).reshape(x0.shape))
                evals.append(int(peer.evals))
    except (PeerFailed, NotComparable):
        raise
    except Exception as e:  # noqa: BLE001 - the peer's code may raise anything; never a verdict
        text = " ".join(str(e).split())[:200]
        raise PeerFailed(f"step {len(its)} raised {type(e).__name__}: {text}", peer=peer.name) from None
    return OracleRun(np.array(its), np.array(evals, dtype=np.int64), _values(problem, its))


def run_reference_oracle(method: Any, problem: Any, x0: Array, n_steps: int) -> OracleRun:
    """The reference's own closed loop on ``problem`` (float64)."""
    oracle = FunctionOracle(problem.loss, dim=int(problem.dim))
    state = method.init(np.array(x0, dtype=np.float64))
    its, evals = [np.array(state.params, dtype=np.float64)], []
    for _ in range(n_steps):
        state, k = _reference_step(method, state, oracle)
        its.append(np.array(state.params, dtype=np.float64))
        evals.append(k)
    return OracleRun(np.array(its), np.array(evals, dtype=np.int64), _values(problem, its))


@dataclass(frozen=True)
class OracleComparison:
    """The step-by-step comparison of one peer with its reference on one problem."""

    problem: str
    x0: Array
    reference: OracleRun
    peer: OracleRun
    tolerance: Tolerance
    abs_dev: Array = field(init=False)  # max_i |theta_peer_t - theta_ref_t|, t = 1..n
    bound: Array = field(init=False)  # (T1) with t = cumulative reference evaluations
    scale: Array = field(init=False)  # S_t
    ties: int = field(init=False)  # steps past the bound whose f values agree to rounding (O2)
    first_fail: int | None = field(init=False)  # first step past both bounds (1-based)
    evals_fail: int | None = field(init=False)  # first step whose evaluation counts differ
    tied: Array = field(init=False)  # per step: past (T1) but f agrees to rounding

    def __post_init__(self) -> None:
        ref, got = self.reference.iterates, self.peer.iterates
        with np.errstate(invalid="ignore"):
            dev = np.max(np.abs(got[1:] - ref[1:]), axis=1)
        dev = np.where(np.isfinite(dev), dev, np.inf)
        scale = np.fmax.accumulate(np.max(np.abs(ref), axis=1))[1:]
        count = np.cumsum(np.maximum(self.reference.evals, 1)).astype(np.float64)
        bound = np.maximum(self.tolerance.per_step * self.tolerance.eps * count * scale, np.finfo(float).tiny)
        f_ref, f_got = self.reference.values[1:], self.peer.values[1:]
        with np.errstate(invalid="ignore"):
            same_f = np.abs(f_got - f_ref) <= self.tolerance.per_step * self.tolerance.eps * np.abs(f_ref)
        tie = ~(dev <= bound) & same_f
        bad = np.flatnonzero(~(dev <= bound) & ~same_f)
        object.__setattr__(self, "ties", int(np.sum(tie)))
        # (O3): evaluation counts are compared where the reference's step still changed f by more
        # than rounding; at a minimiser the searches branch on rounding noise
        fr = self.reference.values
        with np.errstate(invalid="ignore"):
            moving = np.abs(fr[1:] - fr[:-1]) > self.tolerance.per_step * REF_EPS * np.abs(fr[1:])
        ebad = np.flatnonzero((self.reference.evals != self.peer.evals) & moving)
        object.__setattr__(self, "abs_dev", dev)
        object.__setattr__(self, "bound", bound)
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "tied", tie)
        object.__setattr__(self, "first_fail", int(bad[0]) + 1 if bad.size else None)
        object.__setattr__(self, "evals_fail", int(ebad[0]) + 1 if ebad.size else None)

    @property
    def n(self) -> int:
        return int(self.abs_dev.size)

    @property
    def step_by_step(self) -> bool:
        """Every iterate within (T1) and every evaluation count equal."""
        return self.first_fail is None and self.evals_fail is None

    @property
    def agreed_steps(self) -> int:
        """Steps that agreed (iterates within (T1), same evaluation counts) before the first that did not."""
        fails = [k for k in (self.first_fail, self.evals_fail) if k is not None]
        return min(fails) - 1 if fails else self.n

    @property
    def end_dev(self) -> float:
        """max|theta_peer_n - theta_ref_n| / S_n: the end points' relative distance."""
        return float(self.abs_dev[-1] / max(self.scale[-1], np.finfo(float).tiny))

    @property
    def passed(self) -> bool:
        if self.tolerance.dtype == "float64":
            return self.step_by_step
        return bool(self.end_dev <= FLOAT32_END * math.sqrt(self.tolerance.eps))

    @property
    def max_ulps(self) -> float:
        """Worst step-by-step deviation in units of eps_peer * S_t over the steps that agreed, ties
        (O2) left out (their deviation is reported by ``tie_ulps``)."""
        k = max(self.agreed_steps, 1)
        rel = np.where(self.tied[:k], 0.0, self.abs_dev[:k] / self.scale[:k])
        return float(np.max(rel) / self.tolerance.eps)

    @property
    def tie_ulps(self) -> float:
        """Worst deviation at a tie step (O2), in units of eps_peer * S_t (0 without ties)."""
        k = max(self.agreed_steps, 1)
        rel = np.where(self.tied[:k], self.abs_dev[:k] / self.scale[:k], 0.0)
        return float(np.max(rel) / self.tolerance.eps)

    def row(self) -> str:
        verdict = "ok" if self.passed else "FAIL"
        ev = f"{int(self.peer.evals.sum())}/{int(self.reference.evals.sum())}"
        how = "step" if self.tolerance.dtype == "float64" else "end"
        return (
            f"{self.problem:<14} {self.n:>5} {self.agreed_steps:>6} {self.max_ulps:>10.3g} "
            f"{self.end_dev:>10.3g} {self.ties:>4} {ev:>11} {how:>5}  {verdict}"
        )


@dataclass
class OracleReport:
    """Every problem's comparison for one peer."""

    peer: str
    spec: ReferenceSpec
    dtype: str
    comparisons: list[OracleComparison]
    versions: dict[str, str]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.comparisons)

    @property
    def max_ulps(self) -> float:
        return max(c.max_ulps for c in self.comparisons)

    def table(self) -> str:
        lines = [
            f"peer:      {self.peer}",
            f"reference: {self.spec.describe()}",
            f"dtype:     {self.dtype}  (oracle-fed, closed loop; specs/conformance.md, 'Oracle-fed peers')",
            "problem        steps agreed  worst ulps   end rel. ties evals p/ref  judge  verdict",
        ]
        lines += [c.row() for c in self.comparisons]
        lines.append(f"verdict: {'CONFORMS' if self.passed else 'MISMATCH'}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "optref-oracle-report",
            "peer": self.peer,
            "reference": self.spec.describe(),
            "dtype": self.dtype,
            "passed": self.passed,
            "versions": self.versions,
            "runs": [
                {
                    "problem": c.problem,
                    "steps": c.n,
                    "agreed_steps": c.agreed_steps,
                    "max_ulps": c.max_ulps,
                    "end_rel_dev": c.end_dev,
                    "ties": c.ties,
                    "tie_ulps": c.tie_ulps,
                    "peer_evals": c.peer.evals.tolist(),
                    "reference_evals": c.reference.evals.tolist(),
                    "passed": c.passed,
                }
                for c in self.comparisons
            ],
        }

    def markdown(self) -> str:
        return "```\n" + self.table() + "\n```\n"


def conform_oracle(
    peer: OraclePeer,
    *,
    problems: Sequence[str] = PROBLEMS,
    n_steps: int = 20,
    seed: int = 0,
    dim: int | None = None,
) -> OracleReport:
    """Compare an oracle-fed ``peer`` with ``peer.spec.build()`` on each problem, closed loop."""
    from . import streams as _streams
    from .compare import round_to

    p = dim if dim is not None else getattr(peer, "dim", None) or 7
    method = peer.spec.build()
    comps = []
    for name in problems:
        problem = oracle_problem(name, p, seed)
        x0 = round_to(_streams.initial_point(seed, p), peer.dtype)
        got = run_oracle_peer(peer, problem, x0, n_steps)
        ref = run_reference_oracle(method, problem, x0, n_steps)
        comps.append(OracleComparison(name, x0, ref, got, Tolerance.for_dtype(peer.dtype)))
    names = ("python", "numpy", "optim-reference", *getattr(peer, "packages", ()))
    versions = {n: package_version(n) for n in names}
    return OracleReport(peer.name, peer.spec, peer.dtype.name, comps, versions)


#: The peers ``optref conform`` routes here: target -> constructor(shapes, dtype, **hp).
ORACLE_PEERS: dict[str, Callable[..., OraclePeer]] = {
    "torch.optim.LBFGS": TorchLBFGSPeer,
    "optax.lbfgs": OptaxLBFGSPeer,
    "optax.polyak_sgd": OptaxPolyakPeer,
}


def oracle_peer(target: str, hp: dict[str, Any], shapes: Sequence[Sequence[int]], dtype: str) -> OraclePeer:
    """The oracle-fed peer ``target`` (a key of ``ORACLE_PEERS``) with the peer's own keywords
    ``hp`` (unknown ones refused with the peer's valid names)."""
    import inspect

    if target not in ORACLE_PEERS:
        raise ValueError(f"{target!r} is not an oracle-fed peer ({', '.join(ORACLE_PEERS)})")
    if target == "torch.optim.LBFGS":
        import torch

        fn: Any = torch.optim.LBFGS.__init__
    else:
        import optax

        fn = getattr(optax, target.split(".")[-1])
    names = [k for k in inspect.signature(fn).parameters if k not in ("self", "params")]
    unknown = sorted(set(hp) - set(names))
    if unknown:
        raise ValueError(f"{target}: unknown keyword {unknown[0]!r}; its keywords are {', '.join(names)}")
    try:
        return ORACLE_PEERS[target](shapes, dtype, **hp)
    except (TypeError, ValueError) as e:
        if isinstance(e, NotComparable):
            raise
        raise ValueError(f"{target}: {' '.join(str(e).split())}") from None


def conform_cli(args: Any, hp: dict[str, Any], shapes: Sequence[Sequence[int]]) -> OracleReport:
    """``optref conform torch.optim.LBFGS`` / ``optax.lbfgs`` / ``optax.polyak_sgd``: the options
    of a gradient-stream run that do not apply are refused, the rest passed on."""
    for option, value, default in [
        ("--impl", args.impl, None),
        ("--algo", args.algo, None),
        ("--schedule", getattr(args, "schedule", None), None),
        ("--streams", args.streams, "all"),
        ("--mode", args.mode, "both"),
        ("--long-steps", args.long_steps, None),
        ("--problem", args.problem, "least_squares"),
    ]:
        if value != default:
            raise ValueError(
                f"{option} does not apply to {args.peer}: an oracle-fed peer runs closed loop on the "
                f"problems {', '.join(PROBLEMS)} (specs/conformance.md, 'Oracle-fed peers')"
            )
    peer = oracle_peer(args.peer, hp, shapes, args.dtype)
    return conform_oracle(peer, n_steps=40 if args.steps is None else args.steps, seed=args.seed)


__all__ = [
    "FLOAT32_END",
    "ORACLE_PEERS",
    "PROBLEMS",
    "OptaxLBFGSPeer",
    "OptaxPolyakPeer",
    "OracleComparison",
    "OraclePeer",
    "OracleReport",
    "OracleRun",
    "ReferenceOraclePeer",
    "TorchLBFGSPeer",
    "conform_cli",
    "conform_oracle",
    "oracle_peer",
    "oracle_problem",
    "run_oracle_peer",
    "run_reference_oracle",
]
