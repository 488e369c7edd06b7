"""Checks of the numeric hyper-parameters of nasfast's predictors (at fit time, as scikit-learn
estimators do), shared by the forest, the MLP ensemble and the GCN."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def int_param(name: str, value: Any, low: int) -> int:
    """``value`` as an int of at least ``low`` (bools refused); ``ValueError`` naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} = {value!r}: must be an int >= {low}")
    return int(value)


def float_param(name: str, value: Any, positive: bool) -> float:
    """``value`` as a finite float, > 0 when ``positive`` else >= 0; ``ValueError`` naming it."""
    # float() then math.isfinite, not np.isfinite: numpy raises TypeError for an int beyond
    # the float range or a Fraction; here the first is refused by name, the second accepted
    number = math.nan
    if not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Real):
        try:
            number = float(value)
        except OverflowError:
            pass
    if not math.isfinite(number) or (number <= 0 if positive else number < 0):
        raise ValueError(f"{name} = {value!r}: must be a finite number {'> 0' if positive else '>= 0'}")
    return number
