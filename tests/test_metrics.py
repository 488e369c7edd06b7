"""Tests of nasfast.metrics against hand-computed values and slow reference implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nasfast import metrics
from nasfast.metrics import (
    ert_ratio,
    expected_running_time,
    first_occurrences,
    hitting_time,
    parse_target,
    quantile_band,
    random_search_expectation,
    regret_at_costs,
    regret_curve,
    sample_efficiency_gain,
    target_indices,
)

# ---------------------------------------------------------------------------------------------
# Targets


@pytest.mark.parametrize(
    "name, expected",
    [("optimum", ("optimum", 1.0)), ("top-10", ("count", 10.0)), ("top-0.1%", ("fraction", 0.001)),
     ("top-1%", ("fraction", 0.01)), ("top-100%", ("fraction", 1.0))],
)
def test_parse_target(name: str, expected: tuple[str, float]) -> None:
    kind, amount = parse_target(name)
    assert kind == expected[0]
    assert amount == pytest.approx(expected[1])


@pytest.mark.parametrize("name", ["best", "top-0", "top--1", "top-0%", "top-101%", "top-1.5", "top1%", ""])
def test_parse_target_rejects(name: str) -> None:
    with pytest.raises(ValueError, match="target"):
        parse_target(name)


def test_target_indices_hand_examples() -> None:
    v = [0.3, 0.9, 0.1, 0.9, 0.5, 0.7]
    assert target_indices(v, "optimum").tolist() == [1, 3]  # tie for the best
    assert target_indices(v, "top-1").tolist() == [1, 3]  # ties at the threshold included
    assert target_indices(v, "top-3").tolist() == [1, 3, 5]
    assert target_indices(v, "top-4").tolist() == [1, 3, 4, 5]
    # 50% of 6 cells = 3 cells; 34% of 6 = 2.04 -> ceil = 3 cells
    assert target_indices(v, "top-50%").tolist() == [1, 3, 5]
    assert target_indices(v, "top-34%").tolist() == [1, 3, 5]
    assert target_indices(v, "top-100%").tolist() == [0, 1, 2, 3, 4, 5]


def test_target_indices_match_sorting_reference() -> None:
    rng = np.random.default_rng(1)
    v = rng.permutation(1500).astype(float)  # distinct values 0..1499
    for name, m in [("optimum", 1), ("top-10", 10), ("top-0.1%", 2), ("top-1%", 15)]:
        expected = sorted(int(i) for i in np.argsort(-v)[:m])
        assert target_indices(v, name).tolist() == expected, name


def test_target_indices_skip_missing_values() -> None:
    nan = float("nan")
    v = [0.1, nan, 0.8, nan, 0.5]
    assert target_indices(v, "optimum").tolist() == [2]
    assert target_indices(v, "top-2").tolist() == [2, 4]
    assert target_indices(v, "top-40%").tolist() == [2, 4]  # ceil(0.4 * 5) = 2 cells; M counts NaN


def test_target_indices_errors() -> None:
    with pytest.raises(ValueError, match="only 2 of the 2"):
        target_indices([0.1, 0.2], "top-3")
    with pytest.raises(ValueError, match="only 0 of the 2"):
        target_indices([float("nan")] * 2, "optimum")
    with pytest.raises(ValueError, match="non-empty"):
        target_indices([], "optimum")


def test_random_search_expectation() -> None:
    assert random_search_expectation(423624, 1) == 211812.5
    assert random_search_expectation(9, 4) == 2.0
    assert random_search_expectation(5, 5) == 1.0
    with pytest.raises(ValueError, match="n_targets=0"):
        random_search_expectation(10, 0)
    with pytest.raises(ValueError, match="n_targets=11"):
        random_search_expectation(10, 11)


def test_random_search_expectation_matches_exhaustive_average() -> None:
    # Average first-hit position over every ordering of M = 6 cells with m = 2 targets.
    from itertools import permutations

    M, targets = 6, {0, 1}
    times = [next(i + 1 for i, c in enumerate(order) if c in targets) for order in permutations(range(M))]
    assert random_search_expectation(M, len(targets)) == pytest.approx(sum(times) / len(times))


# ---------------------------------------------------------------------------------------------
# Hitting times and ERT


def test_first_occurrences() -> None:
    assert first_occurrences([4, 2, 4, 7, 2, 9]).tolist() == [True, True, False, True, False, True]
    assert first_occurrences(np.array([], dtype=np.uint64)).tolist() == []


def test_hitting_time_hand_examples() -> None:
    assert hitting_time([5, 7, 9, 2], targets=[9, 2]) == 3
    assert hitting_time([9], targets=[9]) == 1
    assert hitting_time([5, 7], targets=[9]) is None
    assert hitting_time([], targets=[9]) is None
    # repeated cells (isomorphic duplicates) are not new samples
    assert hitting_time([5, 5, 7, 5, 7, 9], targets=[9]) == 3
    big = np.array([2**64 - 1, 2**63 + 5], dtype=np.uint64)
    assert hitting_time(big, targets=np.array([2**63 + 5], dtype=np.uint64)) == 2


def test_ert_hand_examples() -> None:
    assert expected_running_time([3, None, 5], spent=10) == 9.0  # (3 + 10 + 5) / 2
    assert expected_running_time([3, np.nan, 5], spent=[1, 7, 1]) == 7.5  # (3 + 7 + 5) / 2
    assert expected_running_time([4, 6], spent=100) == 5.0
    assert math.isinf(expected_running_time([None, None], spent=10))
    with pytest.raises(ValueError, match="3 runs but spent has 2"):
        expected_running_time([1, 2, 3], spent=[1, 2])
    with pytest.raises(ValueError, match=">= 1"):
        expected_running_time([0], spent=5)


def _slow_bootstrap_seg(expected: float, h: list, spent: float, n_boot: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(h), size=(n_boot, len(h)))
    out = []
    for row in idx:
        total, succ = 0.0, 0
        for i in row:
            if h[i] is None:
                total += spent
            else:
                total += h[i]
                succ += 1
        out.append(expected / (total / succ) if succ else 0.0)
    return out


def test_seg_point_and_bootstrap_against_slow_reference() -> None:
    h = [3, None, 5, 12, None, 1, 8]
    est = sample_efficiency_gain(90.0, h, spent=20, n_boot=500, random_state=7)
    # ERT = (3 + 20 + 5 + 12 + 20 + 1 + 8) / 5 = 69 / 5
    assert est.ert == pytest.approx(69 / 5)
    assert est.seg == pytest.approx(90 / (69 / 5))
    assert (est.successes, est.runs) == (5, 7)
    ref = _slow_bootstrap_seg(90.0, h, 20, 500, 7)
    lo, hi = np.percentile(ref, [2.5, 97.5])
    assert est.seg_low == pytest.approx(lo)
    assert est.seg_high == pytest.approx(hi)
    assert est.seg_low < est.seg < est.seg_high


def test_seg_deterministic_and_seed_dependent() -> None:
    h = [3, None, 5, 12, None, 1, 8]
    a = sample_efficiency_gain(50.0, h, 20, random_state=3)
    b = sample_efficiency_gain(50.0, h, 20, random_state=3)
    c = sample_efficiency_gain(50.0, h, 20, random_state=4)
    assert a == b
    assert (a.seg_low, a.seg_high) != (c.seg_low, c.seg_high)


def test_seg_without_successes() -> None:
    est = sample_efficiency_gain(100.0, [None, None, None], spent=50)
    assert est.seg == 0.0 and est.seg_low == 0.0 and est.seg_high == 0.0
    assert math.isinf(est.ert) and est.successes == 0


def test_seg_errors() -> None:
    with pytest.raises(ValueError, match="confidence"):
        sample_efficiency_gain(10.0, [1], 5, confidence=1.5)
    with pytest.raises(ValueError, match="expected_random"):
        sample_efficiency_gain(0.0, [1], 5)
    with pytest.raises(ValueError, match="n_boot"):
        sample_efficiency_gain(10.0, [1], 5, n_boot=0)


def test_ert_ratio_hand_and_reference() -> None:
    assert ert_ratio([20, 20], 100, [5, 5], 100)[0] == 0.25
    assert ert_ratio([None, None], 100, [5, 5], 100)[0] == 0.0
    assert math.isnan(ert_ratio([None], 100, [None], 100)[0])
    h, href = [10, None, 30, 20], [5, 6, None, 4, 5]
    ratio, lo, hi = ert_ratio(h, 50, href, 50, n_boot=300, random_state=11)
    assert ratio == pytest.approx(((5 + 6 + 50 + 4 + 5) / 4) / ((10 + 50 + 30 + 20) / 3))
    rng = np.random.default_rng(11)
    ia = rng.integers(0, 4, size=(300, 4))
    ib = rng.integers(0, 5, size=(300, 5))

    def ert(hs: list, rows: np.ndarray) -> list[float]:
        out = []
        for row in rows:
            succ = sum(hs[i] is not None for i in row)
            tot = sum(50 if hs[i] is None else hs[i] for i in row)
            out.append(tot / succ if succ else math.inf)
        return out

    boot = [b / a for a, b in zip(ert(h, ia), ert(href, ib)) if not (math.isinf(a) and math.isinf(b))]
    ordered = sorted(boot)
    n = len(ordered)
    # inverted CDF: the smallest x with F(x) >= p, F the empirical distribution function
    assert lo == ordered[math.ceil(0.025 * n) - 1]
    assert hi == ordered[math.ceil(0.975 * n) - 1]
    # an infinite ratio does not turn the interval into NaN
    r2 = ert_ratio([5, 5], 100, [None, None, 3], 100, n_boot=200, random_state=1)
    assert not math.isnan(r2[1]) and not math.isnan(r2[2])


# ---------------------------------------------------------------------------------------------
# Monte-Carlo check of ERT against the exact random-search expectation


def _uniform_hits(M: int, targets: set[int], runs: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    hits = []
    for _ in range(runs):
        order = rng.permutation(M)
        hits.append(next(i + 1 for i, c in enumerate(order) if int(c) in targets))
    return hits


def test_uniform_random_search_ert_matches_exact_expectation() -> None:
    M, targets = 300, {3, 50, 120, 299}
    expected = random_search_expectation(M, len(targets))  # 60.2
    hits = _uniform_hits(M, targets, runs=400, seed=2024)
    est = sample_efficiency_gain(expected, hits, spent=M, random_state=0)
    assert est.successes == 400
    assert est.seg_low <= 1.0 <= est.seg_high, est
    assert expected_running_time(hits, M) == pytest.approx(expected, rel=0.15)


def test_biased_searcher_is_detected() -> None:
    # A searcher that leaves the targets for last must show SEG well below 1, CI excluding 1.
    M, m = 300, 4
    expected = random_search_expectation(M, m)
    hits = [M - m + 1] * 50
    est = sample_efficiency_gain(expected, hits, spent=M, random_state=0)
    assert est.seg_high < 1.0


# ---------------------------------------------------------------------------------------------
# Regret curves


def test_regret_curve_hand_examples() -> None:
    assert regret_curve([0.5, 0.7, 0.6, 0.9], 1.0).tolist() == pytest.approx([0.5, 0.3, 0.3, 0.1])
    assert regret_curve([0.5, 0.7], 1.0, length=4).tolist() == pytest.approx([0.5, 0.3, 0.3, 0.3])
    assert regret_curve([0.5, 0.7, 0.8], 1.0, length=2).tolist() == pytest.approx([0.5, 0.3])
    assert np.isnan(regret_curve([], 1.0, length=2)).all()


def test_regret_at_costs_hand_example() -> None:
    values, costs = [0.5, 0.8, 0.6], [10.0, 5.0, 1.0]  # finished at 10, 15, 16
    out = regret_at_costs(values, costs, 1.0, [0.0, 9.9, 10.0, 14.0, 15.0, 100.0])
    assert np.isnan(out[:2]).all()
    assert out[2:].tolist() == pytest.approx([0.5, 0.5, 0.2, 0.2])
    with pytest.raises(ValueError, match="equal length"):
        regret_at_costs([0.5], [1.0, 2.0], 1.0, [1.0])


def test_quantile_band_against_columnwise_reference() -> None:
    rng = np.random.default_rng(5)
    curves = rng.random((9, 6))
    curves[2, 3] = np.nan
    curves[:, 5] = np.nan
    med, q25, q75 = quantile_band(curves)

    def q(col: list[float], p: float) -> float:
        # linear interpolation between order statistics, numpy's default definition
        n = len(col)
        pos = p * (n - 1)
        lo = int(math.floor(pos))
        hi = min(lo + 1, n - 1)
        return col[lo] + (col[hi] - col[lo]) * (pos - lo)

    for j in range(5):
        col = sorted(float(x) for x in curves[:, j] if not np.isnan(x))
        assert med[j] == pytest.approx(q(col, 0.5))
        assert q25[j] == pytest.approx(q(col, 0.25))
        assert q75[j] == pytest.approx(q(col, 0.75))
    assert np.isnan([med[5], q25[5], q75[5]]).all()


def test_public_names() -> None:
    for name in metrics.__all__:
        assert hasattr(metrics, name), name
