#!/usr/bin/env bash
# The project's test command (the README's second command, and what .ci/run calls).
#
# 1. builds the release abi3 wheel once (maturin build --release);
# 2. installs that wheel with its test extras into a fresh virtual environment, where no Rust
#    toolchain is used, imports it and makes one call;
# 3. lints: cargo clippy on the workspace (every target, warnings are errors), ruff on the Python
#    sources (python, tests, benches, scripts) and mypy on the package's sources;
# 4. runs the core's cargo tests, the pytest suite against the installed wheel, every docstring
#    example of the installed package, then the benchmark suite once in check mode (each
#    benchmark asserts its result; timings are not judged here: see README, "Speed");
# 5. installs the same wheel with every dependency pinned to its declared minimum
#    (scripts/min_constraints.py) into a second virtual environment and runs the pytest suite
#    and the docstring examples there (and ruff; mypy's minimum runs stubtest in the suite).
#
# Steps 1 and 2 stop the command at once if they fail. Each check of 3 to 5 (and 5's install)
# runs whatever the others gave; the command lists the checks that failed and fails at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv="${NASFAST_TEST_VENV:-$root/.venv-test}"
min_venv="$venv-min"
python="${PYTHON:-python3}"

failed=()
check() {  # check NAME COMMAND...: runs a check, records a failure and goes on
    local name=$1
    shift
    echo "== $name"
    if ! "$@"; then
        echo "!! FAILED: $name"
        failed+=("$name")
    fi
}

# Every docstring example of the installed package (--pyargs: not of the source tree), under the
# suite's skip rule (tests/skip_policy.py: an example marked '+SKIP' fails), from an empty folder
# (no configuration or conftest.py of ours or of anyone else's applies).
doctests() {  # doctests VENV
    local here
    here=$(mktemp -d)
    (cd "$here" && PYTHONPATH="$root/tests" "$1/bin/python" -m pytest -q -p no:cacheprovider -p skip_policy \
        --doctest-modules --pyargs nasfast)
}

# The wheel with every dependency (and test extra) pinned to its declared minimum; binary wheels
# only: a minimum without a wheel for this Python is an error, not a long build from source.
install_minimum() {  # install_minimum VENV
    rm -rf "$1" &&
        "$python" -m venv "$1" &&
        "$1/bin/python" -m pip install --quiet --upgrade pip packaging &&
        "$1/bin/python" scripts/min_constraints.py "$wheel" test > "$1/constraints.txt" &&
        cat "$1/constraints.txt" &&
        "$1/bin/python" -m pip install --quiet --only-binary :all: "${wheel}[test]" -c "$1/constraints.txt"
}

echo "== fresh virtual environment: $venv"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "maturin>=1.5,<2"

echo "== build the release wheel"
rm -rf "$root/dist"
"$venv/bin/maturin" build --release --out "$root/dist"
wheel=$(ls "$root"/dist/nasfast-*-abi3-*.whl)
echo "built $wheel"

echo "== install the wheel with its test extras"
"$venv/bin/python" -m pip install --quiet "${wheel}[test]"
(cd /tmp && "$venv/bin/python" -c "import nasfast; s = nasfast.SearchSpace.nb101(); print('import ok:', nasfast.__version__, nasfast._core.BUILD_PROFILE, len(s.sample(10, random_state=0)), 'cells sampled')")

check "cargo clippy (workspace, all targets, -D warnings)" cargo clippy --locked --workspace --all-targets -- -D warnings
check "ruff check (python, tests, benches, scripts)" "$venv/bin/ruff" check --output-format concise python tests benches scripts
check "mypy (the package's sources, settings in pyproject.toml)" "$venv/bin/mypy"

check "cargo test (core; the fuzz campaign runs for NASFAST_FUZZ_SECONDS and prints its counts)" \
    env NASFAST_FUZZ_SECONDS="${NASFAST_FUZZ_SECONDS:-15}" cargo test --locked -p nasfast-core -- --nocapture

check "pytest against the installed wheel" "$venv/bin/python" -m pytest tests -q -p no:cacheprovider
check "docstring examples of the installed wheel" doctests "$venv"

if ls benches/bench_*.py >/dev/null 2>&1; then
    check "benchmarks in check mode (results asserted, timings not judged)" \
        "$venv/bin/python" -m pytest benches -q -p no:cacheprovider --benchmark-disable
fi

echo "== minimum versions: the wheel with every dependency at its declared minimum, in $min_venv"
if install_minimum "$min_venv"; then
    check "pytest, minimum versions" "$min_venv/bin/python" -m pytest tests -q -p no:cacheprovider
    check "docstring examples, minimum versions" doctests "$min_venv"
    check "ruff check, minimum version" "$min_venv/bin/ruff" check --output-format concise python tests benches scripts
else
    echo "!! FAILED: install at the minimum versions"
    failed+=("install at the minimum versions")
fi

if ((${#failed[@]})); then
    echo "== ${#failed[@]} check(s) failed:"
    printf '   %s\n' "${failed[@]}"
    exit 1
fi
echo "== every check passed"
