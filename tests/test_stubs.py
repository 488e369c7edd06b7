"""The hand-written stub ``nasfast/_core.pyi`` against the compiled module."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nasfast._core as core

STUB = Path(core.__file__).with_name("_core.pyi")


def stub_names() -> set[str]:
    """Top-level names the stub defines (imports excluded)."""
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def public(names: set[str]) -> set[str]:
    return {n for n in names if not n.startswith("_")}


def test_stub_and_module_define_the_same_public_names() -> None:
    in_stub = public(stub_names())
    at_runtime = public(set(dir(core)))
    assert in_stub - at_runtime == set(), "in the stub but not in the module"
    assert at_runtime - in_stub == set(), "in the module but not in the stub"
    assert "__version__" in stub_names() and isinstance(core.__version__, str)


def test_stubtest_reports_no_errors(tmp_path: Path) -> None:
    """stubtest must run and report nothing: a missing mypy (part of the test extra), a timeout or
    a stubtest that cannot run are failures, never skips."""
    assert importlib.util.find_spec("mypy") is not None, "mypy is not installed: pip install 'nasfast[test]'"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "mypy.stubtest", "nasfast._core"],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            env={**os.environ, "MYPY_CACHE_DIR": str(tmp_path / "mypy-cache")},
        )
    except subprocess.TimeoutExpired:
        pytest.fail("stubtest did not finish within 600 s")
    output = proc.stdout + proc.stderr
    if re.search(r"^error: ", output, flags=re.MULTILINE):
        pytest.fail(f"stubtest reports errors:\n{output}")
    assert proc.returncode == 0, f"stubtest could not run (exit code {proc.returncode}): {output[-2000:]}"
    assert "error" not in output.lower(), output
