"""Standing tools for the theory checks (not part of the installed package):

* ``python -m tools.false_alarms``: the observed false-alarm rate of the checks on unmodified code,
  per check, per row and per run, against the suite's budget (``theory_checks._stats.RUN_ALPHA``).
* ``python -m tools.mutate``: mutation testing; plants each bug of a catalogue in a scratch copy of
  ``reference/`` and reports which theory checks and unit tests catch it.

Run them from the repository root (see tools/README.md).
"""
