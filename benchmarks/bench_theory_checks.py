"""Per-claim wall-clock time of the theory-check suite at the quick and full tiers.

    python benchmarks/bench_theory_checks.py                 # both tiers, every check, serial
    python benchmarks/bench_theory_checks.py --tier quick --jobs 2 --only gd_stability,nesterov_rate

Prints one line per check (seconds, verdict) and the total per tier; the quick total is the
budget the suite promises (under 60 s on 2 cores). No report folder, no figures: this times the
experiments, not matplotlib.
"""

from __future__ import annotations

import argparse
import sys
import time

from theory_checks import runner
from theory_checks._base import Context, serial_map


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tier", choices=("quick", "full", "both"), default="both")
    p.add_argument("--only", action="append", metavar="NAME")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    names = runner.parse_only(args.only)
    mapper = runner.joblib_map(args.jobs) if args.jobs > 1 else serial_map
    tiers = ("quick", "full") if args.tier == "both" else (args.tier,)
    status = 0
    for tier in tiers:
        ctx = Context(tier=tier, seed=args.seed, map=mapper)  # type: ignore[arg-type]
        print(f"\n{tier} tier, seed {args.seed}, jobs {args.jobs}")
        total = 0.0
        for name in names:
            t0 = time.perf_counter()
            res = runner.run_one(runner.load(name), ctx)
            dt = time.perf_counter() - t0
            total += dt
            status |= 0 if res.holds else 1
            print(f"  {name:<26} {dt:7.2f} s  {'ok' if res.holds else 'FAIL'}", flush=True)
        print(f"  {'total':<26} {total:7.2f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
