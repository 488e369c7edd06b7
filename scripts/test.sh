#!/usr/bin/env bash
# The project's test command (the README's second command, and what .ci/run calls).
#
# 1. builds the release abi3 wheel once (maturin build --release);
# 2. installs that wheel with its test extras into a fresh virtual environment, where no Rust
#    toolchain is used, imports it and makes one call;
# 3. runs the core's cargo tests and the pytest suite against the installed wheel, then the
#    benchmark suite once in check mode (each benchmark asserts its result; timings are not
#    judged here: see README, "Speed").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv="${NASFAST_TEST_VENV:-$root/.venv-test}"
python="${PYTHON:-python3}"

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

echo "== cargo test (core; the fuzz campaign runs for NASFAST_FUZZ_SECONDS and prints its counts)"
NASFAST_FUZZ_SECONDS="${NASFAST_FUZZ_SECONDS:-15}" cargo test --locked -p nasfast-core -- --nocapture

echo "== pytest against the installed wheel"
"$venv/bin/python" -m pytest tests -q -p no:cacheprovider

echo "== benchmarks in check mode (results asserted, timings not judged)"
if ls benches/bench_*.py >/dev/null 2>&1; then
    "$venv/bin/python" -m pytest benches -q -p no:cacheprovider --benchmark-disable
fi
