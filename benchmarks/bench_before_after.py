"""Before/after table of the first-order steps: two source trees, N runs each, interleaved.

    git worktree add /tmp/before 4807b75 --detach        # the tree to compare against
    python benchmarks/bench_before_after.py --before /tmp/before --runs 3
    python benchmarks/bench_before_after.py --before /tmp/before --runs 3 --sizes 1e3,1e4,1e6,1e7 \\
        --keep-freed-memory                               # adds a third column: after, opted in
    git worktree remove /tmp/before

Each run is one process of THIS tree's ``benchmarks/bench_first_order.py`` (the same measuring
code for both) with ``PYTHONPATH`` set to the tree whose ``reference`` package it imports; the
runs alternate (before, after, before, after, ...), so a change of machine load hits both alike.
Every run times the reference beside torch.optim in its own process (interleaved repetitions,
``--clock cpu`` by default: CPU time is not inflated by waiting for a core on a shared machine).
The table gives, per step and p, the median over runs of each run's median time, and the median
over runs of the per-run ratio ref / torch (the ratio within one process is the robust figure;
torch is the same code in both trees). The load average before and after each run is printed:
figures taken under load are upper bounds. Targets (issue 13): ref / torch <= 1.4 at p = 10^6 and
10^7 (aim 1.2), <= 1 at p <= 10^4.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
AFTER = HERE.parent


def _tree(text: str) -> Path:
    path = Path(text).resolve()
    if not (path / "reference" / "__init__.py").is_file():
        raise argparse.ArgumentTypeError(
            f"--before/--after must be a source tree with reference/, got {text!r}"
        )
    return path


def run_once(tree: Path, bench_args: list[str], out: Path) -> dict[str, object]:
    """One process of bench_first_order.py importing ``reference`` from ``tree``; its JSON."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, str(HERE / "bench_first_order.py"), "--no-peaks", "--json", str(out), *bench_args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"bench_before_after: the run on {tree} failed: {tail}")
    doc: dict[str, object] = json.loads(out.read_text())
    if Path(str(doc["reference"])).resolve() != tree:
        raise SystemExit(
            f"bench_before_after: the run meant for {tree} imported reference from {doc['reference']}"
        )
    return doc


def _median_times(doc: dict[str, object]) -> dict[tuple[str, int], dict[str, float]]:
    rows = doc["rows"]
    assert isinstance(rows, list)
    return {(r["algo"], r["p"]): {k: statistics.median(v) for k, v in r["times"].items()} for r in rows}


def table(variants: dict[str, list[dict[str, object]]]) -> list[str]:
    """Markdown rows: per (algo, p) the medians over runs of ref ms, torch ms, ref / torch per variant."""
    names = list(variants)
    per = {n: [_median_times(d) for d in docs] for n, docs in variants.items()}
    keys = list(per[names[0]][0])
    # (variant, implementation) columns: "ref", and "ref donated" where that tree has it
    cols = [(n, impl) for n in names for impl in ("ref", "ref donated") if impl in per[n][0][keys[0]]]
    label = {(n, impl): n if impl == "ref" else f"{n} donated" for n, impl in cols}
    head = ["step", "p"] + [f"{label[c]} ref ms" for c in cols] + ["torch ms"]
    head += [f"{label[c]} ref/torch" for c in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for key in keys:
        ref_ms = [statistics.median(run[key][impl] for run in per[n]) * 1e3 for n, impl in cols]
        torch_ms = statistics.median(run[key]["torch"] for n in names for run in per[n]) * 1e3
        ratio = [statistics.median(run[key][impl] / run[key]["torch"] for run in per[n]) for n, impl in cols]
        cells = [key[0], f"{key[1]:.0e}", *(f"{x:.4g}" for x in ref_ms), f"{torch_ms:.4g}"]
        cells += [f"{x:.2f}" for x in ratio]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=_tree, required=True, help="source tree of the 'before' column")
    ap.add_argument("--after", type=_tree, default=AFTER, help="source tree of 'after' (default: this one)")
    ap.add_argument("--runs", type=int, default=3, help="runs per tree (default 3)")
    ap.add_argument("--sizes", default="1e3,1e4,1e6,1e7", help="p values (default 1e3,1e4,1e6,1e7)")
    ap.add_argument("--algos", default="sgd,momentum,nesterov,rmsprop,adam,adamw", help="comma-separated")
    ap.add_argument("--reps", type=int, default=5, help="interleaved repetitions within a run (default 5)")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="default cpu")
    ap.add_argument("--optax", action="store_true", help="also time optax (slower; not in the table)")
    ap.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="a third variant: the after tree with --keep-freed-memory",
    )
    args = ap.parse_args(argv)
    if args.runs < 1 or args.reps < 1:
        ap.error(f"--runs and --reps must be >= 1, got {args.runs} and {args.reps}")
    common = ["--sizes", args.sizes, "--algos", args.algos, "--reps", str(args.reps), "--clock", args.clock]
    if not args.optax:
        common.append("--no-optax")
    plan: dict[str, tuple[Path, list[str]]] = {"before": (args.before, common), "after": (args.after, common)}
    if args.keep_freed_memory:
        plan["after+kfm"] = (args.after, [*common, "--keep-freed-memory"])
    docs: dict[str, list[dict[str, object]]] = {n: [] for n in plan}
    print(
        f"before: {args.before}\nafter:  {args.after}\n{args.runs} runs each, interleaved; {args.clock} clock"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.runs):
            for name, (tree, bench_args) in plan.items():
                load0 = os.getloadavg()[0]
                doc = run_once(tree, bench_args, Path(tmp) / f"{name}-{r}.json")
                docs[name].append(doc)
                print(
                    f"  run {r + 1} {name:9s} load average {load0:.2f} -> {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
    print()
    print("\n".join(table(docs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
