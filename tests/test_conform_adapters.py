"""Any implementation, any class name: third-party torch optimizers, user classes named like
torch's, subclasses, optax GradientTransformations and callables, through ``assert_conforms``
and ``reference.conform.adapt.as_peer``."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed: pip install -e '.[test,peers]' runs these tests"
)

import reference as ref  # noqa: E402
from reference.conform import NotComparable, ReferenceSpec  # noqa: E402
from reference.conform.adapt import as_peer  # noqa: E402
from reference.conform.torch_adapter import TorchPeer, torch_peer  # noqa: E402
from reference.testing import assert_conforms  # noqa: E402

FAST: dict[str, Any] = {"n_steps": 20}
_Optimizer: Any = torch.optim.Optimizer
_TorchAdam: Any = torch.optim.Adam


class Lion(_Optimizer):  # type: ignore[misc]
    """A third-party-style Lion (as in lucidrains/lion-pytorch): decoupled decay p (1 - lr wd),
    then p - lr sign(beta1 m + (1 - beta1) g), then m = beta2 m + (1 - beta2) g. Its param groups
    carry ``betas``, not torch's names of anything."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        swap_betas: bool = False,
    ) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "weight_decay": weight_decay})
        self.swap_betas = swap_betas  # a planted bug, kept outside the param groups

    def step(self, closure: Any = None) -> None:
        with torch.no_grad():
            self._step()

    def _step(self) -> None:
        for group in self.param_groups:
            b1, b2 = group["betas"]
            if self.swap_betas:
                b1, b2 = b2, b1
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                m = state["exp_avg"]
                p.mul_(1 - group["lr"] * group["weight_decay"])
                update = (m * b1).add(p.grad, alpha=1 - b1).sign_()
                p.add_(update, alpha=-group["lr"])
                m.mul_(b2).add_(p.grad, alpha=1 - b2)


class Adam(_Optimizer):  # type: ignore[misc]
    """A user's own class that happens to be called Adam (it is plain SGD)."""

    def __init__(self, params: Any, lr: float = 1e-3) -> None:
        super().__init__(params, {"lr": lr})

    def step(self, closure: Any = None) -> None:
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    p.add_(p.grad, alpha=-group["lr"])


class SGD(Adam):
    """Another user class, named like torch's SGD (same plain SGD step)."""


class TweakedAdam(_TorchAdam):  # type: ignore[misc]
    """A subclass of torch's Adam that changes the step (it halves every gradient)."""

    def step(self, closure: Any = None) -> Any:
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad.mul_(0.5)
        return super().step(closure)


def _model() -> list[Any]:
    g = torch.Generator().manual_seed(0)
    return [
        torch.randn(3, 4, dtype=torch.float64, generator=g, requires_grad=True),
        torch.randn(5, dtype=torch.float64, generator=g, requires_grad=True),
    ]


def test_third_party_lion_conforms_with_an_explicit_reference() -> None:
    params = _model()
    before = [p.detach().clone() for p in params]
    report = assert_conforms(Lion(params, lr=1e-3), ref.lion(lr=1e-3), **FAST)
    assert report.passed and report.spec.algorithm == "lion"
    assert "tests" in report.peer_name and "Lion" in report.peer_name
    assert_conforms(Lion(_model(), lr=1e-3, weight_decay=0.1), ref.lion(lr=1e-3, weight_decay=0.1), **FAST)
    assert_conforms(Lion(_model(), lr=1e-3), "lion", hyperparams={"lr": 1e-3}, **FAST)
    # the user's tensors are never stepped: the adapter runs copies
    assert all(torch.equal(a, b.detach()) for a, b in zip(before, params))
    assert all(p.grad is None for p in params)


def test_third_party_lion_with_a_bug_fails_with_the_diagnosis() -> None:
    with pytest.raises(AssertionError) as info:
        assert_conforms(Lion(_model(), lr=1e-3, swap_betas=True), ref.lion(lr=1e-3), **FAST)
    text = str(info.value)
    assert "MISMATCH" in text and "beta1 and beta2 swapped" in text, text


def test_third_party_lion_without_a_reference_asks_for_one() -> None:
    with pytest.raises(
        NotComparable, match=r"Lion is not torch.optim's own class.*pass the reference explicitly"
    ):
        assert_conforms(Lion(_model(), lr=1e-3))


@pytest.mark.parametrize("cls", [Adam, SGD], ids=["Adam", "SGD"])
def test_user_classes_named_like_torch_are_never_taken_for_torch(cls: type) -> None:
    opt = cls(_model(), lr=0.1)
    with pytest.raises(
        NotComparable, match=rf"\.{cls.__name__} is not torch.optim's own class.*pass the reference"
    ):
        assert_conforms(opt)
    with pytest.raises(NotComparable, match="pass the reference"):
        torch_peer(opt)
    # with the reference it is just another optimizer: both are plain SGD, so both conform to ref.sgd
    assert_conforms(cls(_model(), lr=0.1), ref.sgd(lr=0.1), **FAST)
    # and a class named Adam that is SGD does not conform to ref.adam
    with pytest.raises(AssertionError, match="DOES NOT CONFORM"):
        assert_conforms(cls(_model(), lr=0.1), ref.adam(lr=0.1), **FAST)


def test_a_subclass_of_torch_adam_needs_the_reference_and_is_judged_by_its_step() -> None:
    with pytest.raises(NotComparable, match="TweakedAdam is a subclass of torch's torch.optim.Adam"):
        assert_conforms(TweakedAdam(_model(), lr=1e-2))
    with pytest.raises(AssertionError, match="DOES NOT CONFORM"):
        assert_conforms(TweakedAdam(_model(), lr=1e-2), ref.adam(lr=1e-2), **FAST)
    # Adam is invariant to a constant gradient scale up to eps: with eps = 0 the halving is invisible
    assert_conforms(
        TweakedAdam(_model(), lr=1e-2, eps=0.0),
        ref.adam(lr=1e-2, eps=0.0),
        streams=["normal", "large"],
        **FAST,
    )


def test_torch_own_classes_are_still_read_by_name() -> None:
    peer = as_peer(torch.optim.RMSprop(_model(), lr=1e-2, centered=True))
    assert (
        isinstance(peer, TorchPeer)
        and peer.spec.algorithm == "rmsprop"
        and peer.spec.hyperparams["centered"] is True
    )
    assert peer.name.startswith("torch.optim.RMSprop(")
    # an explicit reference replaces the mapping: a wrong claim is caught
    with pytest.raises(AssertionError, match="eps outside the sqrt"):
        assert_conforms(
            torch.optim.RMSprop(_model(), lr=1e-2), ref.rmsprop(1e-2, eps_placement="inside"), **FAST
        )


def test_a_stepped_optimizer_and_differing_groups_are_refused() -> None:
    params = _model()
    opt = torch.optim.Adam(params, lr=1e-2)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    with pytest.raises(ValueError, match="already taken steps.*freshly constructed"):
        torch_peer(opt)
    a, b = _model()
    groups = Lion([{"params": [a]}, {"params": [b], "lr": 2e-3}], lr=1e-3)
    with pytest.raises(NotComparable, match="param group 1 differs from group 0 in 'lr'"):
        assert_conforms(groups, ref.lion(lr=1e-3))


def test_float32_third_party_optimizer_is_compared_at_float32() -> None:
    params = [p.detach().float().requires_grad_(True) for p in _model()]
    report = assert_conforms(Lion(params, lr=1e-3), ref.lion(lr=1e-3), **FAST)
    assert report.tolerance.dtype == "float32"


def test_any_callable() -> None:
    def sgd_step(params: Any, grad: Any, state: Any, *, lr: float) -> Any:
        return params - lr * grad, None

    class Stepper:
        def __call__(self, params: Any, grad: Any, state: Any, **hp: Any) -> Any:
            return params - hp["lr"] * (grad + hp["weight_decay"] * params), None

    def scaled(params: Any, grad: Any, state: Any, *, lr: float, scale: float) -> Any:
        return params - scale * lr * grad, None

    assert_conforms(sgd_step, ref.sgd(lr=0.05), **FAST)
    assert_conforms(Stepper(), ref.sgd(lr=0.05, weight_decay=0.1), **FAST)
    assert_conforms(functools.partial(scaled, scale=1.0), ReferenceSpec("sgd", {"lr": 0.05}), **FAST)
    assert_conforms(
        lambda params, grad, state, lr: (params - lr * grad, None), "sgd", hyperparams={"lr": 0.05}, **FAST
    )
    with pytest.raises(NotComparable, match="a step function needs its reference"):
        as_peer(sgd_step)
    with pytest.raises(TypeError, match="actual must be"):
        assert_conforms(np.zeros(3), ref.sgd(lr=0.05))
    with pytest.raises(TypeError, match="hyperparams= goes with an algorithm name"):
        assert_conforms(sgd_step, ref.sgd(lr=0.05), hyperparams={"lr": 0.1})


def test_optax_gradient_transformations() -> None:
    pytest.importorskip("jax", reason="jax is not installed: pip install -e '.[test,peers]' runs these tests")
    optax = pytest.importorskip(
        "optax", reason="optax is not installed: pip install -e '.[test,peers]' runs these tests"
    )
    tx = optax.chain(optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8), optax.scale(-1e-2))
    report = assert_conforms(tx, ref.adam(lr=1e-2), **FAST)
    assert "GradientTransformation" in report.peer_name
    assert_conforms(optax.lion(1e-3, weight_decay=0.1), ref.lion(lr=1e-3, weight_decay=0.1), **FAST)
    with pytest.raises(NotComparable, match="does not expose its hyperparameters"):
        assert_conforms(tx)
    rms = optax.chain(optax.scale_by_rms(decay=0.9, eps=1e-8), optax.scale(-1e-2))
    assert_conforms(rms, ref.rmsprop(lr=1e-2, alpha=0.9, eps=1e-8, eps_placement="inside"), **FAST)
    with pytest.raises(AssertionError, match="DOES NOT CONFORM"):  # a claim with torch's eps placement
        assert_conforms(rms, ref.rmsprop(lr=1e-2, alpha=0.9, eps=1e-8, eps_placement="outside"), **FAST)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_framework_peers_are_compared_at_their_precision(dtype: str) -> None:
    from reference.conform import conform, optax_peer

    shapes = [(3, 4), (5,)]
    report = conform(
        torch_peer("Adam", shapes, dtype=dtype, lr=1e-2, eps=1e-3, betas=(0.9, 0.99)), n_steps=20
    )
    assert report.tolerance.dtype == dtype and report.passed, report.table()
    # the versions the figures were measured with: the peer's framework, and ml_dtypes for bfloat16
    assert report.versions["torch"] == torch.__version__ and "python" in report.versions
    assert ("ml_dtypes" in report.versions) == (dtype == "bfloat16")
    assert (
        f"torch {torch.__version__}" in report.table() and f"torch {torch.__version__}" in report.markdown()
    )
    lion = Lion([p.detach().to(getattr(torch, dtype)).requires_grad_(True) for p in _model()], lr=1e-3)
    assert assert_conforms(lion, ref.lion(lr=1e-3), **FAST).tolerance.dtype == dtype
    pytest.importorskip(
        "optax", reason="optax is not installed: pip install -e '.[test,peers]' runs these tests"
    )
    report = conform(optax_peer("rmsprop", shapes, dtype=dtype, learning_rate=1e-2, eps=1e-3), n_steps=20)
    assert report.tolerance.dtype == dtype and report.passed, report.table()
    import jax
    import optax

    assert (report.versions["jax"], report.versions["optax"]) == (jax.__version__, optax.__version__)
    assert "torch" not in report.versions and report.to_dict()["versions"] == report.versions
    with pytest.raises(ValueError, match="dtype must be one of"):
        torch_peer("Adam", dtype="int8")


def test_conform_itself_takes_any_implementation() -> None:
    from reference.conform import conform

    report = conform(Lion(_model(), lr=1e-3), reference=ref.lion(lr=1e-3), **FAST)
    assert report.passed and "Lion" in report.peer_name
    assert conform(torch.optim.Adam(_model(), lr=1e-2), **FAST).passed  # torch's own: no reference needed

    def sgd_step(params: Any, grad: Any, state: Any, *, lr: float) -> Any:
        return params - lr * grad, None

    assert conform(sgd_step, reference=ref.sgd(lr=0.05), **FAST).passed
    with pytest.raises(NotComparable, match="pass the reference"):
        conform(Adam(_model(), lr=0.1), **FAST)
    with pytest.raises(NotComparable, match="a step function needs its reference"):
        conform(sgd_step, **FAST)


def test_a_third_party_optimizer_that_raises_is_peer_failed_not_a_mismatch() -> None:
    from reference.conform import PeerFailed

    class Exploding(Lion):
        def step(self, closure: Any = None) -> None:
            if self.state and next(iter(self.state.values())).get("calls", 0) >= 2:
                raise RuntimeError("CUDA out of memory (simulated)")
            super().step(closure)
            for st in self.state.values():
                st["calls"] = st.get("calls", 0) + 1

    with pytest.raises(PeerFailed, match=r"step 3 raised RuntimeError: CUDA out of memory \(simulated\)"):
        assert_conforms(Exploding(_model(), lr=1e-3), ref.lion(lr=1e-3), **FAST)
