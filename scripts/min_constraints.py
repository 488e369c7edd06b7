"""Pin every dependency of a nasfast wheel to its declared minimum (pip constraints on stdout).

``python scripts/min_constraints.py dist/nasfast-*.whl [extra ...] > constraints.txt`` reads the
wheel's ``Requires-Dist`` (what pip installs, from ``pyproject.toml``), keeps the requirements
that apply to this Python (``extra == ...`` markers for the extras named), and prints
``name==minimum`` for each. ``pip install "<wheel>[test]" -c constraints.txt`` then installs the
oldest versions the package claims to work with; ``scripts/test.sh`` runs the tests on them.

Every requirement must declare its minimum as ``>=X``: a requirement without one (or with
another kind of lower bound) is an error, since "any version" cannot be tested. Needs
``packaging`` (to evaluate the markers as pip does).
"""

from __future__ import annotations

import sys
import zipfile
from email.parser import HeaderParser

from packaging.requirements import Requirement
from packaging.version import Version


def requirements(wheel: str) -> list[Requirement]:
    """The ``Requires-Dist`` entries of ``wheel``."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        if len(names) != 1:
            raise SystemExit(f"{wheel}: expected one .dist-info/METADATA, found {names}")
        meta = HeaderParser().parsestr(zf.read(names[0]).decode("utf-8"))
    return [Requirement(r) for r in meta.get_all("Requires-Dist") or []]


def minimum(req: Requirement) -> str:
    """The version of the ``>=`` bound of ``req``."""
    lower = [s.version for s in req.specifier if s.operator == ">="]
    others = [str(s) for s in req.specifier if s.operator not in (">=", "<", "<=", "!=")]
    if len(lower) != 1 or others:
        raise SystemExit(f"{req}: declare the minimum version as '>=X' (it is what the minimum-versions run installs)")
    return lower[0]


def main(argv: list[str]) -> int:
    if not argv:
        raise SystemExit(__doc__)
    wheel, extras = argv[0], argv[1:]
    envs = [{"extra": e} for e in extras] + [{"extra": ""}]
    pins: dict[str, str] = {}
    for req in requirements(wheel):
        if req.marker is None or any(req.marker.evaluate(env) for env in envs):
            version = minimum(req)
            # named twice (the package and an extra): the higher minimum is the one that holds
            if req.name not in pins or Version(version) > Version(pins[req.name]):
                pins[req.name] = version
    for name, version in pins.items():
        print(f"{name}=={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
