"""Experiments that reproduce the seeds' figures (``optref peaks``)."""

from __future__ import annotations
