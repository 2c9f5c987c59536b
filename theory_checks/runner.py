"""``optref check``: run the theory checks, print the table, write the report.

    optref check                       quick tier, every check, report in ./report
    optref check --full                more seeds, tighter intervals
    optref check --only gd_stability --only robbins_monro   (or --only a,b)
    optref check --seed 3 --report out/ --jobs 2
    optref check --scheduler tcp://host:8786                trials on a Dask cluster
    optref check --only gd_stability --sabotage wrong-prediction   (shows the check failing)

Exit status: 0 if every claim holds, 1 if any fails (a check that raises counts as failed and
is reported with its error), 2 for bad arguments. Independent trials go through ``ctx.map``:
serially (``--jobs 1``), through joblib (``--jobs N``), or to a dask.distributed scheduler.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import math
import os
import platform
import sys
import time
import traceback
from types import ModuleType
from typing import Any, Callable, Sequence, TextIO, cast

from . import CHECKS
from ._base import Check, CheckResult, Context, Outcome, Row, Tier

Mapper = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]


# ----------------------------------------------------------------------------------------------
# Mappers: how independent trials run


def serial_map(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    return [fn(x) for x in items]


def joblib_map(n_jobs: int) -> Mapper:
    """Trials in ``n_jobs`` worker processes (joblib's loky backend)."""
    from joblib import Parallel, delayed

    pool = Parallel(n_jobs=n_jobs)

    def mapper(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if len(items) <= 1:
            return [fn(x) for x in items]
        return list(pool(delayed(fn)(x) for x in items))

    return mapper


def dask_map(client: Any) -> Mapper:
    """Trials submitted to a dask.distributed ``client``; results gathered in order."""

    def mapper(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        futures = client.map(fn, list(items), pure=False)
        return list(client.gather(futures))

    return mapper


def connect_dask(address: str) -> Any:
    """A dask.distributed Client for ``address``; a clear error if the extra is missing."""
    try:
        distributed: Any = importlib.import_module("distributed")
    except ImportError:
        raise SystemExit(
            "optref check --scheduler needs dask.distributed; "
            "install it with: pip install 'optim-reference[dask]'"
        ) from None
    return distributed.Client(address)


# ----------------------------------------------------------------------------------------------
# Running checks


def load(name: str) -> Check:
    """The check module ``theory_checks.<name>``."""
    return cast(Check, importlib.import_module(f"{__package__}.{name}"))


class UnknownSabotage(ValueError):
    """``ctx.sabotage`` names a word the check does not accept (a usage error, not a verdict)."""


def check_sabotage(check: Check | ModuleType, word: str | None) -> None:
    """Raise ``UnknownSabotage`` unless ``word`` is None or one of the check's SABOTAGE words."""
    words = tuple(getattr(check, "SABOTAGE", ()))
    if word is not None and word not in words:
        name = getattr(check, "NAME", "?")
        raise UnknownSabotage(f"{name}: sabotage must be one of {words}, got {word!r}")


def _result(check: Check | ModuleType, out: Outcome | CheckResult) -> CheckResult:
    """The CheckResult of a run: an Outcome gets the module's constants (filled here, once)."""
    if isinstance(out, CheckResult):
        return out
    if not isinstance(out, Outcome):
        raise TypeError(f"run() returned {type(out).__name__}, not Outcome")
    result = CheckResult(
        name=str(getattr(check, "NAME")),
        claim=str(getattr(check, "CLAIM")),
        source=str(getattr(check, "SOURCE")),
        rows=tuple(out.rows),
        justification=str(getattr(check, "JUSTIFICATION")),
        figure=dict(out.figure),
    )
    declared = getattr(check, "STAT_ROWS", None)
    if declared is not None:
        # Bonferroni accounting: the per-comparison level assumes the declared count.
        stat = sum(r.kind == "stat" for r in result.rows)
        if stat != declared:
            raise ValueError(f"reported {stat} 'stat' rows but declares STAT_ROWS = {declared}")
    return result


def run_one(check: Check | ModuleType, ctx: Context) -> CheckResult:
    """Run one check; an exception becomes a failed result carrying the error. An unknown
    sabotage word raises ``UnknownSabotage`` (it is the caller's mistake, not the check's)."""
    check_sabotage(check, ctx.sabotage)
    name = str(getattr(check, "NAME", getattr(check, "__name__", "?")))
    t0 = time.perf_counter()
    try:
        result = _result(check, cast(Check, check).run(ctx))
        if not result.rows:
            raise ValueError("run() returned no rows: a check must compare something")
        if not result.verdict_rows:
            raise ValueError("run() returned only report rows: a check must compare something")
    except Exception as exc:  # noqa: BLE001 - one broken check must not stop the suite
        tb = traceback.format_exc(limit=-3)
        return CheckResult(
            name=name,
            claim=str(getattr(check, "CLAIM", "")),
            source=str(getattr(check, "SOURCE", "")),
            rows=(Row("error", "runs", f"{type(exc).__name__}: {exc}", "-", False),),
            justification="the check raised; see the error",
            figure={"error": tb},
            seconds=time.perf_counter() - t0,
        )
    return dataclasses.replace(result, seconds=time.perf_counter() - t0)


def draw(check: Check | ModuleType, result: CheckResult, path: str) -> CheckResult:
    """Write the check's figure; a plotting error becomes a failed row (the figure is part of
    what a check delivers)."""
    try:
        cast(Check, check).plot(result, path)
    except Exception as exc:  # noqa: BLE001
        row = Row("figure", "drawn", f"{type(exc).__name__}: {exc}", "-", False)
        return dataclasses.replace(result, rows=(*result.rows, row))
    return result


def run_suite(
    checks: Sequence[Check | ModuleType],
    ctx: Context,
    *,
    report: str | None = None,
    plots: bool = True,
    progress: bool = True,
    stream: TextIO | None = None,
) -> list[CheckResult]:
    """Run ``checks`` under ``ctx``; optionally write the report folder. Returns the results."""
    out = sys.stdout if stream is None else stream
    results: list[CheckResult] = []
    bar: Any = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(checks), file=sys.stderr, unit="check", leave=False)
    if report is not None:
        os.makedirs(report, exist_ok=True)
    t0 = time.perf_counter()
    for check in checks:
        name = str(getattr(check, "NAME", "?"))
        if bar is not None:
            bar.set_description(name)
        result = run_one(check, ctx)
        if report is not None and plots and not result.figure.get("error"):
            result = draw(check, result, os.path.join(report, f"{result.name}.png"))
        results.append(result)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    total = time.perf_counter() - t0
    print(format_table(results), file=out)
    n_ok = sum(r.holds for r in results)
    print(f"\n{n_ok}/{len(results)} claims hold ({ctx.tier} tier, seed {ctx.seed}, {total:.1f} s)", file=out)
    if report is not None:
        write_report(results, ctx, report, total, plots=plots)
        print(f"report: {os.path.join(report, 'report.md')}", file=out)
    return results


# ----------------------------------------------------------------------------------------------
# Output


_COLUMNS = ("claim", "quantity", "predicted", "measured", "tolerance", "verdict")


def table_rows(results: Sequence[CheckResult]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for res in results:
        for i, r in enumerate(res.rows):
            rows.append(
                (
                    res.name if i == 0 else "",
                    r.quantity,
                    r.predicted,
                    r.measured,
                    r.tolerance,
                    "report" if r.holds is None else "ok" if r.holds else "FAIL",
                )
            )
    return rows


def format_table(results: Sequence[CheckResult], width: int = 60) -> str:
    """A plain-text table, one line per Row, grouped by check (cells cut at ``width``)."""

    def cut(s: str) -> str:
        s = " ".join(s.split())
        return s if len(s) <= width else s[: width - 1] + "~"

    rows = [tuple(cut(c) for c in r) for r in table_rows(results)]
    widths = [max([len(h)] + [len(r[j]) for r in rows]) for j, h in enumerate(_COLUMNS)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(_COLUMNS, widths)), line]
    prev = None
    for r in rows:
        if r[0] and prev is not None:
            out.append("")
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        prev = r
    return "\n".join(out)


def _jsonable(x: Any) -> Any:
    import numpy as np

    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def write_report(
    results: Sequence[CheckResult], ctx: Context, folder: str, total: float, *, plots: bool = True
) -> None:
    """report.json (everything, figure data included) and report.md (the table, each claim)."""
    meta = {
        "tier": ctx.tier,
        "seed": ctx.seed,
        "sabotage": ctx.sabotage,
        "seconds": round(total, 3),
        "holds": all(r.holds for r in results),
        "passed": sum(r.holds for r in results),
        "checks": len(results),
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    doc = {
        "meta": meta,
        "results": [
            {
                "name": r.name,
                "claim": r.claim,
                "source": r.source,
                "holds": r.holds,
                "seconds": round(r.seconds, 3),
                "justification": r.justification,
                "rows": [dataclasses.asdict(row) for row in r.rows],
                "figure": _jsonable(r.figure),
            }
            for r in results
        ],
    }
    with open(os.path.join(folder, "report.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)

    def cell(s: str) -> str:
        return " ".join(s.split()).replace("|", "\\|")

    md = [
        "# Theory checks",
        "",
        f"{meta['passed']}/{meta['checks']} claims hold - {ctx.tier} tier, seed {ctx.seed}, "
        f"{total:.1f} s" + (f", sabotage {ctx.sabotage!r}" if ctx.sabotage else "") + ".",
        "",
        "| claim | quantity | predicted | measured | tolerance | verdict |",
        "|---|---|---|---|---|---|",
    ]
    md += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table_rows(results)]
    for r in results:
        md += [
            "",
            f"## {r.name}: {'holds' if r.holds else 'FAILS'}",
            "",
            f"**Claim.** {r.claim}",
            "",
            f"**Source.** {r.source}",
            "",
            f"**Tolerance.** {r.justification}",
            "",
            f"Time: {r.seconds:.2f} s.",
        ]
        if "error" in r.figure:
            md += ["", "```", str(r.figure["error"]).rstrip(), "```"]
        elif plots:
            md += ["", f"![{r.name}]({r.name}.png)"]
    with open(os.path.join(folder, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")


# ----------------------------------------------------------------------------------------------
# Command line


def parse_only(values: Sequence[str] | None) -> list[str]:
    """--only a --only b,c -> [a, b, c]; every name must be in CHECKS."""
    if not values:
        return list(CHECKS)
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ValueError(f"--only: unknown check(s) {', '.join(unknown)}; known: {', '.join(CHECKS)}")
    return list(dict.fromkeys(names))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="optref check",
        description="Run the theory checks: each documented claim measured against its prediction.",
    )
    tier = p.add_mutually_exclusive_group()
    tier.add_argument("--quick", dest="tier", action="store_const", const="quick", help="quick tier (default)")
    tier.add_argument("--full", dest="tier", action="store_const", const="full", help="more seeds, tighter intervals")
    p.set_defaults(tier="quick")
    p.add_argument("--only", action="append", metavar="NAME", help="run only these checks (repeatable or comma list)")
    p.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    p.add_argument("--report", default="report", metavar="DIR", help="report folder (default ./report)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="parallel trials through joblib (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="send trials to a dask.distributed scheduler")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--list", action="store_true", help="list the checks and their sabotage words, then exit")
    p.add_argument("--sabotage", metavar="WORD", help="run with a deliberately wrong prediction/optimizer (demo)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        names = parse_only(args.only)
    except ValueError as exc:
        parser.print_usage(sys.stderr)
        print(f"optref check: error: {exc}", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f"optref check: error: --jobs must be >= 1, got {args.jobs}", file=sys.stderr)
        return 2
    if args.seed < 0:
        print(f"optref check: error: --seed must be >= 0, got {args.seed}", file=sys.stderr)
        return 2
    checks = [load(n) for n in names]
    if args.list:
        for c in checks:
            print(f"{c.NAME:<24} {c.CLAIM}   [sabotage: {', '.join(c.SABOTAGE)}]")
        return 0
    if args.sabotage is not None:
        bad = [c.NAME for c in checks if args.sabotage not in c.SABOTAGE]
        if bad:
            print(
                f"optref check: error: --sabotage {args.sabotage!r} is not accepted by {', '.join(bad)} "
                "(see --list)",
                file=sys.stderr,
            )
            return 2
    client = None
    mapper: Mapper = serial_map
    if args.scheduler:
        client = connect_dask(args.scheduler)
        mapper = dask_map(client)
    elif args.jobs > 1:
        mapper = joblib_map(args.jobs)
    tier: Tier = args.tier
    ctx = Context(tier=tier, seed=args.seed, map=mapper, sabotage=args.sabotage)
    try:
        results = run_suite(
            checks, ctx, report=args.report, plots=not args.no_plots, progress=not args.no_progress
        )
    finally:
        if client is not None:
            client.close()
    return 0 if all(r.holds for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
