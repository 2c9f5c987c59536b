"""Assertions for users' test suites, in the style of ``numpy.testing``.

    from reference.testing import assert_conforms
    import reference as ref

    def test_my_adam():                                   # your own step function
        assert_conforms(my_adam_step, ref.adam(lr=1e-3))

    def test_torch_adam(model):                           # torch.optim's own class: read by name
        assert_conforms(torch.optim.Adam(model.parameters(), lr=1e-3))

    def test_third_party_lion(model):                     # any other optimizer: name the reference
        assert_conforms(SomeLion(model.parameters(), lr=1e-3), ref.lion(lr=1e-3))

``assert_conforms`` runs ``reference.conform.conform`` (every gradient stream, open and closed
loop, the tolerance model of specs/conformance.md) and raises ``AssertionError`` with the table and
the diagnosis ("matches adam with eps inside the sqrt; differs from the default from step 1") if
any run leaves the tolerance. It returns the report when the implementation conforms. What
``actual`` may be, and when the reference must be given: ``reference.conform.adapt.as_peer``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._core import Optimizer
from .conform.adapt import as_peer, as_spec
from .conform.core import MODES, ConformanceReport, Peer, conform
from .conform.streams import STREAMS

if TYPE_CHECKING:
    from .conform.schedules import ScheduleReport

__all__ = ["assert_conforms", "assert_schedule_conforms"]


def _as_peer(
    actual: Any, desired: Any, hyperparams: Mapping[str, Any] | None
) -> tuple[Peer, Optimizer[Any] | None]:
    """The peer, and the reference optimizer to hand to ``conform`` when ``desired`` overrides a
    peer's own claim."""
    spec = as_spec(desired, hyperparams, argument="desired")
    peer = as_peer(actual, spec, arguments=("actual", "desired"))
    if spec is None:
        return peer, None
    return peer, desired if isinstance(desired, Optimizer) else spec.build()


def assert_conforms(
    actual: Any,
    desired: Any = None,
    *,
    hyperparams: Mapping[str, Any] | None = None,
    streams: Sequence[str] = STREAMS,
    modes: Sequence[str] = MODES,
    n_steps: int = 30,
    seed: int = 0,
    dim: int | None = None,
    problem: Any = None,
    err_msg: str = "",
) -> ConformanceReport | ScheduleReport:
    """Raise ``AssertionError`` unless ``actual`` matches the reference step by step.

    Args:
        actual: a step function (``FunctionPeer`` calling convention), any torch optimizer
            instance (torch.optim's, a subclass, a third-party class; freshly constructed), an
            optax ``GradientTransformation``, or any ``reference.conform.Peer``.
        desired: the reference: an optimizer (``ref.adam(lr=1e-3)``), a ``ReferenceSpec``, or an
            algorithm name (with ``hyperparams``). Required for a step function, an optax
            transformation and any torch optimizer that is not one of torch.optim's own classes;
            otherwise the default is the peer's own mapping.
        hyperparams: the reference keywords when ``desired`` is a name.
        streams, modes, n_steps, seed, dim, problem: as ``reference.conform.conform``.
        err_msg: prepended to the failure message.

    Returns:
        The ``ConformanceReport`` (when it passes).

    A torch lr scheduler or an ``OptaxSchedule`` as ``actual`` is a schedule: compared by
    ``assert_schedule_conforms`` (``desired``: its reference schedule, default the translation).
    """
    from .conform.schedules import OptaxSchedule, is_torch_scheduler

    if is_torch_scheduler(actual) or isinstance(actual, OptaxSchedule):
        return assert_schedule_conforms(actual, desired, err_msg=err_msg)
    peer, reference = _as_peer(actual, desired, hyperparams)
    report = conform(
        peer,
        reference=reference,
        streams=streams,
        modes=modes,
        n_steps=n_steps,
        seed=seed,
        dim=dim,
        problem=problem,
        diagnose=True,
    )
    if not report.passed:
        head = f"{err_msg}\n" if err_msg else ""
        raise AssertionError(f"{head}Implementation does not conform to the reference\n{report.table()}")
    return report


def assert_schedule_conforms(
    actual: Any,
    desired: Any = None,
    *,
    n_steps: int | None = None,
    max_ulps: float | None = None,
    metrics: Sequence[float] | None = None,
    count_dtype: str = "int64",
    err_msg: str = "",
) -> ScheduleReport:
    """Raise ``AssertionError`` unless the learning rates of ``actual`` equal its reference's for
    t = 0..n_steps within ``max_ulps`` (default ``MAX_ULPS``; specs/conformance.md, "Schedules").

    Args:
        actual: a torch lr scheduler (freshly constructed; copied, never stepped), an optax
            schedule built by ``reference.conform.schedules.optax_schedule``, or any callable
            t -> eta_t (a bare optax schedule, your own) with ``desired`` given.
        desired: the reference schedule (``reference.schedules.step_decay(...)``); default: read
            from ``actual``'s configuration.
        n_steps: the last t compared (default three horizons of the schedule).
        metrics: the metric stream of a ReduceLROnPlateau (default ``plateau_metrics``).
        count_dtype: the count an optax schedule is called with (``"int32"``: as an optimizer does).

    Returns:
        The ``ScheduleReport`` (when it passes).
    """
    from .conform.schedules import MAX_ULPS, conform_schedule

    report = conform_schedule(
        actual,
        desired,
        n_steps=n_steps,
        max_ulps=MAX_ULPS if max_ulps is None else max_ulps,
        metrics=metrics,
        count_dtype=count_dtype,
    )
    if not report.passed:
        head = f"{err_msg}\n" if err_msg else ""
        raise AssertionError(f"{head}Schedule does not conform to the reference\n{report.table()}")
    return report
