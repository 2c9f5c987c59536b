"""How far torch's recursive ("chainable") schedulers drift from their own closed forms.

    python benchmarks/schedule_drift.py                 # 10^4 steps, float64
    python benchmarks/schedule_drift.py --steps 100000

torch.optim.lr_scheduler's StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR and
CosineAnnealingLR compute ``step()`` as a recursion on the current lr (``get_lr``) and keep a closed
form (``_get_closed_form_lr``, used by ``step(epoch)`` and by SequentialLR at a milestone). For each,
on an SGD with lr = 0.1, this script records the lr a training loop sees before each of N steps
(``scheduler.step()`` after each ``optimizer.step()``) and torch's own closed form at the same
``last_epoch``, and prints the worst gap in three units: relative to the value, ulps of the value
(|a - b| / ulp(max(|a|, |b|))) and ulps of eps S_t, S_t the running max of the closed form ((U1) of
specs/conformance.md, "Schedules": the unit of ``optref conform`` for schedules, tolerance 16).
It also checks that the reference's ``form="recursive"`` reproduces ``step()`` exactly at every step.
Figures: specs/schedules.md, Conventions ("Recursive vs closed").
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

import torch

from reference import schedules as S

L: Any = torch.optim.lr_scheduler


def cases(n: int) -> list[tuple[str, Callable[[Any], Any], Any]]:
    """(label, torch scheduler on an optimizer, the reference's recursive form) over n steps."""
    return [
        (
            "StepLR(step_size=30, gamma=0.7)",
            lambda o: L.StepLR(o, 30, 0.7),
            S.step_decay(0.1, step_size=30, gamma=0.7, form="recursive"),
        ),
        (
            f"MultiStepLR(every {n // 10}, gamma=0.3)",
            lambda o: L.MultiStepLR(o, list(range(n // 10, n, n // 10)), 0.3),
            S.multistep_decay(0.1, milestones=list(range(n // 10, n, n // 10)), gamma=0.3, form="recursive"),
        ),
        (
            "ConstantLR(factor=0.3, total_iters=7)",
            lambda o: L.ConstantLR(o, 0.3, 7),
            S.constant_factor(0.1, factor=0.3, total_steps=7, form="recursive"),
        ),
        (
            f"LinearLR(0.9 -> 0.2, total_iters={n})",
            lambda o: L.LinearLR(o, 0.9, 0.2, n),
            S.linear_factor(0.1, start_factor=0.9, end_factor=0.2, total_steps=n, form="recursive"),
        ),
        (
            "ExponentialLR(gamma=0.999)",
            lambda o: L.ExponentialLR(o, 0.999),
            S.exponential(0.1, gamma=0.999, form="recursive"),
        ),
        (
            f"PolynomialLR(total_iters={n}, power=2)",
            lambda o: L.PolynomialLR(o, n, 2.0),
            S.polynomial(0.1, total_steps=n, power=2.0, form="recursive"),
        ),
        (
            "CosineAnnealingLR(T_max=100)",
            lambda o: L.CosineAnnealingLR(o, 100),
            S.cosine(0.1, total_steps=100, periodic=True, form="recursive"),
        ),
        (
            "CosineAnnealingLR(T_max=10)",
            lambda o: L.CosineAnnealingLR(o, 10),
            S.cosine(0.1, total_steps=10, periodic=True, form="recursive"),
        ),
        (
            "CosineAnnealingLR(T_max=7, eta_min=0.01)",
            lambda o: L.CosineAnnealingLR(o, 7, 0.01),
            S.cosine(0.1, total_steps=7, lr_min=0.01, periodic=True, form="recursive"),
        ),
    ]


def measure(make: Callable[[Any], Any], n: int) -> tuple[list[float], list[float]]:
    """torch's step() rates and its _get_closed_form_lr at each last_epoch, t = 0..n."""
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    sched = make(opt)
    rec, closed = [], []
    for t in range(n + 1):
        rec.append(float(opt.param_groups[0]["lr"]))
        closed.append(float(sched._get_closed_form_lr()[0]))
        if t < n:
            opt.step()
            sched.step()
    return rec, closed


def gaps(rec: list[float], closed: list[float]) -> dict[str, tuple[float, int]]:
    """Worst relative gap, ulps of the value and ulps of eps S_t, each with the step where it is."""
    rel, ulp_v, ulp_s, scale = [], [], [], 0.0
    eps = 2.0**-52
    for a, b in zip(rec, closed, strict=True):
        scale = max(scale, abs(b))
        d = abs(a - b)
        rel.append(d / abs(b) if b else (0.0 if d == 0 else math.inf))
        ulp_v.append(d / math.ulp(max(abs(a), abs(b))) if d else 0.0)
        ulp_s.append(d / (eps * scale) if d else 0.0)
    out = {}
    for name, xs in (("relative", rel), ("ulps of value", ulp_v), ("ulps of eps*S_t", ulp_s)):
        k = max(range(len(xs)), key=xs.__getitem__)
        out[name] = (xs[k], k)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10_000)
    n = ap.parse_args().steps
    print(f"torch {torch.__version__}, {n} steps, float64; step() vs torch's own _get_closed_form_lr")
    print(f"{'scheduler':<42} {'relative':>16} {'ulps of value':>20} {'ulps of eps*S_t':>20}  ref recursive")
    for label, make, ours in cases(n):
        rec, closed = measure(make, n)
        g = gaps(rec, closed)
        exact = all(ours(t) == r for t, r in enumerate(rec))
        cells = [f"{v:.3g} (t={t})" for v, t in g.values()]
        print(f"{label:<42} {cells[0]:>16} {cells[1]:>20} {cells[2]:>20}  {'exact' if exact else 'DIFFERS'}")


if __name__ == "__main__":
    main()
