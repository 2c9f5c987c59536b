"""Test-wide settings: deterministic hypothesis in CI, no global RNG anywhere."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "deterministic",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile(
    "deterministic" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "deterministic")
)
