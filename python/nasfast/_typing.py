"""Type aliases shared by the package."""

from __future__ import annotations

from typing import Union

import numpy as np

__all__ = ["RandomState"]

#: What a ``random_state`` argument accepts, everywhere in nasfast: ``None`` (fresh entropy), a
#: non-negative int seed, or a numpy ``Generator`` or legacy ``RandomState`` (advanced by the call).
RandomState = Union[None, int, np.integer, np.random.Generator, np.random.RandomState]
