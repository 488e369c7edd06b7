"""Running risky calls in a child process, with a time limit and an address-space cap.

A call that would abort the interpreter, exhaust memory or never return must not take the test
session down with it: the child runs the cases one by one and reports each outcome on a line of
JSON as soon as it is known, so that a crash or a hang names the case that caused it.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

TESTS_DIR = Path(__file__).resolve().parent

#: Address space allowed to a child (bytes): enough for numpy, the module and its threads, far
#: less than any of the huge requests the cases make.
CHILD_MEMORY = 3 << 30

_CHILD = r"""
import json, sys, time, traceback
import numpy as np
import nasfast
from nasfast import *

def report(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()

cases = json.loads(sys.stdin.read())
env = {"np": np, "nasfast": nasfast}
exec("from nasfast import *", env)
for case in cases:
    report(id=case["id"], status="start")
    t = time.perf_counter()
    try:
        exec(case["code"], env)
        report(id=case["id"], status="ok", seconds=time.perf_counter() - t, value=repr(env.get("result"))[:300])
    except BaseException as exc:  # a panic is a BaseException: report it like any other outcome
        report(id=case["id"], status="raised", seconds=time.perf_counter() - t,
               type=type(exc).__name__, mro=[c.__name__ for c in type(exc).__mro__], message=str(exc)[:2000])
report(id=None, status="done")
"""


@dataclass
class Outcome:
    """What happened to one case in the child."""

    id: str
    status: str  # "ok", "raised", or "crashed" / "timeout" for the case that was running
    seconds: float = 0.0
    type: str = ""
    mro: tuple[str, ...] = ()
    message: str = ""
    value: str = ""

    def raised(self, exc: type) -> bool:
        return self.status == "raised" and exc.__name__ in self.mro


def limit_memory(memory: int = CHILD_MEMORY) -> None:
    """Caps the address space of the calling (child) process."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")])
    # a panic message would otherwise be followed by a long backtrace
    env["RUST_BACKTRACE"] = "0"
    return env


def run_cases(cases: list[tuple[str, str]], timeout: float = 120.0, memory: int = CHILD_MEMORY) -> dict[str, Outcome]:
    """Runs ``(id, code)`` cases in order in one child (each may set ``result``); the outcome
    of each by id. A crash or a timeout is recorded for the case that was running, and the
    cases after it are not run."""
    payload = json.dumps([{"id": i, "code": c} for i, c in cases])
    status = "done"
    stderr = ""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD],
            input=payload,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=lambda: limit_memory(memory),
            env=child_env(),
            cwd=str(TESTS_DIR),
        )
        stdout, stderr = proc.stdout, proc.stderr
        if proc.returncode != 0:
            status = f"crashed (exit code {proc.returncode})"
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        status = f"timeout ({timeout} s)"
    outcomes: dict[str, Outcome] = {}
    running: Optional[str] = None
    for line in stdout.splitlines():
        rec: dict[str, Any] = json.loads(line)
        if rec["status"] == "start":
            running = rec["id"]
            continue
        if rec["id"] is None:
            running = None
            continue
        rec["mro"] = tuple(rec.get("mro", ()))
        outcomes[rec["id"]] = Outcome(**rec)
        running = None
    if running is not None:
        outcomes[running] = Outcome(id=running, status=status, message=stderr[-2000:])
    return outcomes
