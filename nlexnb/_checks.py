"""Validation shared by every module that takes counts from a user (k, steps, batch sizes, ...)."""

from __future__ import annotations

import numpy as np


def positive_int(value, name: str, what: str) -> int:
    """``value`` as an int, or a ValueError naming the parameter: ``name`` must be a positive number of ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive number of {what}, got {value!r}")
    return int(value)
