"""The ``optref`` command (also ``python -m reference``).

    optref list                      every registered algorithm with its one-line update rule
    optref check [...]               the theory-check suite (theory_checks/runner.py)
    optref peaks [...]               the seeds' Peaks experiments (reference/experiments/peaks.py)
    optref conform [...]             check an optimizer implementation against the reference
    optref vectors export|check ...  golden vectors (specs/vectors.md)

Each subcommand's own module parses its arguments; this file only dispatches, so that
``optref list`` never imports matplotlib, torch or jax. Ctrl-C anywhere past the dispatch (while
the subcommand's module imports, or inside a command that does not catch it) exits with status
130 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Callable, Sequence

#: Exit status of a command stopped by Ctrl-C (128 + SIGINT), whatever it was doing.
EXIT_INTERRUPTED = 130

_SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "list": ("reference.cli", "list_main"),
    "check": ("theory_checks.runner", "main"),
    "peaks": ("reference.experiments.peaks", "main"),
    "conform": ("reference.conform.cli", "conform_main"),
    "vectors": ("reference.conform.cli", "vectors_main"),
}

_USAGE = """usage: optref {list,check,peaks,conform,vectors} [options]

  list      every registered algorithm with its spec's one-line update rule
  check     run the theory checks (--quick default, --full, --only NAME, --seed N, --report DIR)
  peaks     reproduce the seeds' Peaks classification experiments
  conform   compare an optimizer implementation (torch.optim, optax, your own) with the reference
  vectors   export or check the language-neutral golden vectors

Run `optref COMMAND --help` for a command's options."""


def list_main(argv: Sequence[str]) -> int:
    """Print every registered algorithm: name, family, spec, update rule."""
    import argparse

    from ._registry import ENTRIES

    parser = argparse.ArgumentParser(prog="optref list", description=list_main.__doc__)
    parser.add_argument("--family", help="only this family (first-order, curvature, ...)")
    args = parser.parse_args(list(argv))
    rows = [e for e in ENTRIES if args.family is None or e.family == args.family]
    width = max((len(e.name) for e in rows), default=4)
    for e in rows:
        print(f"{e.name:<{width}}  {e.rule}    [{e.spec}]")
    print(f"\n{len(rows)} algorithms", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in _SUBCOMMANDS:
        print(f"optref: unknown command {command!r}\n\n{_USAGE}", file=sys.stderr)
        return 2
    module, func = _SUBCOMMANDS[command]
    try:  # Ctrl-C while the subcommand's module (matplotlib, torch, ...) is still importing
        fn: Callable[[Sequence[str]], int] = getattr(importlib.import_module(module), func)
        return fn(rest)
    except KeyboardInterrupt:
        print(f"optref {command}: interrupted (Ctrl-C)", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
