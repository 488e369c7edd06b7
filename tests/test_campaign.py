"""The robustness campaign (:mod:`campaign`): bounded properties in the test process, risky
ones in a child process with a time limit and an address-space cap."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Callable

import pytest

import campaign
from isolation import TESTS_DIR, child_env, limit_memory


@pytest.mark.parametrize("prop", campaign.BOUNDED, ids=[p.__name__ for p in campaign.BOUNDED])
def test_bounded_property(prop: Callable[[], None]) -> None:
    prop()


def test_risky_properties_in_a_capped_child() -> None:
    try:
        proc = subprocess.run(
            [sys.executable, str(TESTS_DIR / "campaign.py"), "risky"], capture_output=True, text=True, timeout=300,
            preexec_fn=limit_memory, env=child_env(), cwd=str(TESTS_DIR),
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the risky campaign did not finish in 300 s:\n{(exc.stderr or b'')[-3000:]!r}")
    assert proc.returncode == 0, f"exit code {proc.returncode}\n{proc.stderr[-5000:]}"
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert counts and all(c > 0 for c in counts.values())
    campaign.COUNTS.update(counts)
