"""The core's random forest (``nasfast.Forest``) and its scikit-learn estimator
(``nasfast.search.ForestRegressor``), cross-checked against scikit-learn's trees."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_friedman1
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils.estimator_checks import check_estimator

from nasfast import Forest, SearchSpace
from nasfast.search import ForestRegressor


def continuous(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = 2 * X[:, 0] + np.sin(3 * X[:, 1]) + X[:, 2] * X[:, 3] + 0.1 * rng.normal(size=n)
    return X, y


@pytest.mark.parametrize(
    "min_samples_leaf, max_depth, min_samples_split", [(10, None, 2), (4, 4, 2), (5, 7, 2), (8, None, 30)]
)
def test_one_tree_equals_scikit_learns_tree(min_samples_leaf: int, max_depth: int | None, min_samples_split: int) -> None:
    # continuous features, all of them tried, no bootstrap: the best split of every node is
    # unique, so both implementations must grow the same tree (nodes small enough for two
    # features to cut the samples the same way are excluded by min_samples_leaf or max_depth)
    X, y = continuous(400, 8, 1)
    ours = Forest.fit(
        X, y, n_estimators=1, bootstrap=False, min_samples_leaf=min_samples_leaf, max_depth=max_depth,
        min_samples_split=min_samples_split,
    )
    ref = DecisionTreeRegressor(
        min_samples_leaf=min_samples_leaf, max_depth=max_depth, min_samples_split=min_samples_split, random_state=0
    ).fit(X, y)
    assert ours.n_nodes == ref.tree_.node_count
    X_new, _ = continuous(3000, 8, 2)
    np.testing.assert_allclose(ours.predict_member(X_new, 0), ref.predict(X_new), rtol=0, atol=1e-9)
    # the split features in the same order (pre-order of both trees differs; compare sets)
    assert sorted(ours.arrays[1][ours.arrays[1] >= 0]) == sorted(ref.tree_.feature[ref.tree_.feature >= 0])


def test_a_full_tree_reproduces_distinct_training_rows() -> None:
    X, y = continuous(300, 5, 3)
    f = Forest.fit(X, y, n_estimators=1, bootstrap=False)
    np.testing.assert_array_equal(f.predict_member(X, 0), y)


def test_as_accurate_as_scikit_learns_forest() -> None:
    X, y = make_friedman1(n_samples=600, noise=0.5, random_state=0)
    X_test, y_test = make_friedman1(n_samples=2000, noise=0.0, random_state=1)
    ours, theirs = [], []
    for seed in range(3):
        params = dict(n_estimators=100, min_samples_leaf=2, max_features=0.5, random_state=seed)
        ours.append(r2_score(y_test, ForestRegressor(**params).fit(X, y).predict(X_test)))
        theirs.append(r2_score(y_test, RandomForestRegressor(**params).fit(X, y).predict(X_test)))
    assert np.mean(ours) > 0.8
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.02, (ours, theirs)


def test_binary_path_features_rank_like_scikit_learns_forest() -> None:
    # the search's case: 0/1 path encodings (the core's count-of-ones shortcut)
    space = SearchSpace(7, 9, ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"])
    cells = space.sample(2000, random_state=0)
    X = cells.encode("path")
    w = np.random.default_rng(0).normal(size=X.shape[1])
    y = X @ w + 0.3 * np.random.default_rng(1).normal(size=len(X))
    train, test = slice(0, 300), slice(300, None)
    params = dict(n_estimators=100, min_samples_leaf=2, max_features=0.5)
    ours = np.mean([r2_score(y[test], ForestRegressor(**params, random_state=s).fit(X[train], y[train]).predict(X[test])) for s in range(3)])
    theirs = np.mean([r2_score(y[test], RandomForestRegressor(**params, random_state=s).fit(X[train], y[train]).predict(X[test])) for s in range(3)])
    assert ours > 0.3
    assert abs(ours - theirs) < 0.03, (ours, theirs)


def test_mean_and_std_are_those_of_the_trees() -> None:
    X, y = continuous(200, 6, 4)
    model = ForestRegressor(n_estimators=15, random_state=0).fit(X, y)
    members = model.predict_members(X)
    assert members.shape == (200, 15)
    mean, std = model.predict_mean_std(X)
    np.testing.assert_allclose(mean, members.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(std, members.std(axis=1), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(model.predict(X), mean)
    for t in (0, 7, 14):
        np.testing.assert_array_equal(model.forest_.predict_member(X, t), members[:, t])


def test_deterministic_for_a_seed_whatever_the_threads() -> None:
    X, y = continuous(300, 10, 5)
    a = ForestRegressor(n_estimators=40, max_features=0.3, random_state=7, n_jobs=1).fit(X, y)
    b = ForestRegressor(n_estimators=40, max_features=0.3, random_state=7, n_jobs=2).fit(X, y)
    c = ForestRegressor(n_estimators=40, max_features=0.3, random_state=8, n_jobs=2).fit(X, y)
    assert a.forest_ == b.forest_
    assert a.forest_ != c.forest_
    np.testing.assert_array_equal(a.predict_members(X), b.predict_members(X))


def test_pickle_and_rebuild_from_arrays() -> None:
    X, y = continuous(100, 4, 6)
    model = ForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    back = pickle.loads(pickle.dumps(model))
    assert back.forest_ == model.forest_
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    rebuilt = Forest.from_arrays(4, *[a.tolist() for a in model.forest_.arrays])
    assert rebuilt == model.forest_
    assert clone(model).get_params() == model.get_params()


def test_from_arrays_refuses_broken_trees() -> None:
    X, y = continuous(100, 4, 6)
    ts, fe, th, le, ri, va = (a.tolist() for a in Forest.fit(X, y, n_estimators=2, random_state=0).arrays)
    k = next(i for i, f in enumerate(fe) if f >= 0)
    with pytest.raises(ValueError, match="child"):
        Forest.from_arrays(4, ts, fe, th, [0] * len(le), ri, va)  # a node pointing at itself: a cycle
    bad = list(fe)
    bad[k] = 9
    with pytest.raises(ValueError, match="feature 9"):
        Forest.from_arrays(4, ts, bad, th, le, ri, va)
    with pytest.raises(ValueError, match="tree_start"):
        Forest.from_arrays(4, [0, 5], fe, th, le, ri, va)
    with pytest.raises(ValueError, match="different lengths"):
        Forest.from_arrays(4, ts, fe, th[:-1], le, ri, va)


def test_bad_input_gives_clear_errors() -> None:
    X, y = continuous(50, 4, 7)
    Xn = X.copy()
    Xn[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"X\[4, 2\] = NaN"):
        Forest.fit(Xn, y)
    with pytest.raises(ValueError, match="NaN"):
        ForestRegressor().fit(Xn, y)
    with pytest.raises(ValueError, match=r"y\[3\] = inf"):
        Forest.fit(X, np.where(np.arange(50) == 3, np.inf, y))
    with pytest.raises(ValueError, match="49 values"):
        Forest.fit(X, y[:49])
    with pytest.raises(TypeError, match="float32"):
        Forest.fit(X.astype(np.float64), y)
    with pytest.raises(ValueError, match="C-contiguous"):
        Forest.fit(np.asfortranarray(X), y)
    for params, pattern in [
        (dict(n_estimators=0), "n_estimators = 0"),
        (dict(max_features=5), "max_features = 5"),
        (dict(max_features=1.5), "max_features = 1.5"),
        (dict(max_features="half"), "max_features = 'half'"),
        (dict(min_samples_leaf=0), "min_samples_leaf = 0"),
        (dict(min_samples_split=1), "min_samples_split = 1"),
        (dict(max_depth=0), "max_depth = 0"),
    ]:
        with pytest.raises(ValueError, match=pattern):
            ForestRegressor(**params).fit(X, y)
    with pytest.raises(NotFittedError):
        ForestRegressor().predict(X)
    model = ForestRegressor(n_estimators=3).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but ForestRegressor is expecting 4"):
        model.predict(X[:, :3])
    with pytest.raises(ValueError, match="X has 3 features, but the forest was fitted on 4"):
        model.forest_.predict_mean_std(np.ascontiguousarray(X[:, :3]))
    with pytest.raises(IndexError, match="tree 3 is out of range"):
        model.forest_.predict_member(X, 3)


def test_max_features_follows_scikit_learn() -> None:
    m = ForestRegressor()
    for mf, expected in [(None, 64), (1.0, 64), (0.5, 32), (0.001, 1), ("sqrt", 8), ("log2", 6), (10, 10)]:
        m.set_params(max_features=mf)
        assert m._features_per_split(64) == expected


# the checks for pandas input and the array API are skipped when those are not installed
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_passes_scikit_learns_estimator_checks() -> None:
    results = check_estimator(ForestRegressor(n_estimators=10, random_state=0), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert len(results) > 30
    assert failed == []


# ---------------------------------------------------------------------------------- packed rows


def sparse_rows(n: int, d: int, seed: int) -> np.ndarray:
    """0/1 rows with about 5% ones, a third of them repeated (rows equal on every feature)."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n, d)) < 0.05).astype(np.uint8)
    X[rng.integers(0, n, n // 3)] = X[rng.integers(0, n, n // 3)]
    return X


@pytest.mark.parametrize("grown", ["default", "full"])
def test_packed_scoring_equals_the_float_path(grown: str) -> None:
    """Packed rows scored by a forest fitted on a column subset (in shuffled order) give exactly
    what the float path gives on the same rows as float32: mean, spread, mean alone and single
    trees, for a selection with repeats and for every thread count."""
    X = sparse_rows(6000, 150, 0)
    rng = np.random.default_rng(1)
    columns = rng.permutation(150)[:100]
    train = rng.choice(len(X), 400, replace=False)
    Xt = np.ascontiguousarray(X[train][:, columns], dtype=np.float32)
    y = Xt[:, :6].sum(axis=1) + rng.normal(size=len(train))
    if grown == "default":
        forest = Forest.fit(Xt, y, n_estimators=40, min_samples_leaf=2, max_features=50, random_state=2)
    else:  # leaves of one sample: trees of more than 64 leaves (several mask words each)
        forest = Forest.fit(Xt, y, n_estimators=10, bootstrap=False, random_state=2)
        tree_start, feature = forest.arrays[:2]
        assert max(np.add.reduceat((feature < 0).astype(int), tree_start[:-1])) > 128
    bits = Forest.pack_rows(X)
    rows = rng.integers(0, len(X), 5000)
    dense = np.ascontiguousarray(X[rows][:, columns], dtype=np.float32)
    mean, std = forest.predict_mean_std(dense, n_jobs=1)
    for n_jobs in (1, 2):
        got_mean, got_std = forest.predict_mean_std_packed(bits, columns, rows, n_jobs=n_jobs)
        np.testing.assert_array_equal(got_mean, mean)
        np.testing.assert_array_equal(got_std, std)
        np.testing.assert_array_equal(forest.predict_mean_packed(bits, columns, rows, n_jobs=n_jobs), mean)
        for tree in (0, forest.n_estimators - 1):
            np.testing.assert_array_equal(
                forest.predict_member_packed(bits, tree, columns, rows, n_jobs=n_jobs), forest.predict_member(dense, tree)
            )
    # no column map and no selection: the forest's features are the first columns, all rows
    head = Forest.fit(np.ascontiguousarray(X[train, :70], dtype=np.float32), y, n_estimators=5, random_state=0)
    np.testing.assert_array_equal(
        head.predict_mean_std_packed(bits)[0], head.predict_mean_std(np.ascontiguousarray(X[:, :70], dtype=np.float32))[0]
    )


def test_packed_scoring_follows_any_threshold() -> None:
    """Thresholds that send 0 and 1 both left, both right or apart route packed bits as the
    float path routes 0.0 and 1.0."""
    X = sparse_rows(3000, 40, 3)
    Xf = X.astype(np.float32)
    y = Xf[:300, :4].sum(axis=1).astype(np.float64)
    fitted = Forest.fit(Xf[:300], y, n_estimators=8, max_features=20, bootstrap=False, random_state=1)
    tree_start, feature, threshold, left, right, value = fitted.arrays
    rng = np.random.default_rng(4)
    threshold = np.where(feature >= 0, rng.choice([-0.5, 0.0, 0.5, 0.99, 1.0, 1.5], len(feature)), threshold)
    forest = Forest.from_arrays(40, *(a.tolist() for a in (tree_start, feature, threshold, left, right, value)))
    bits = Forest.pack_rows(X)
    mean, std = forest.predict_mean_std(Xf)
    got_mean, got_std = forest.predict_mean_std_packed(bits)
    np.testing.assert_array_equal(got_mean, mean)
    np.testing.assert_array_equal(got_std, std)
    for tree in range(8):
        np.testing.assert_array_equal(forest.predict_member_packed(bits, tree), forest.predict_member(Xf, tree))


def test_pack_rows_layout_and_errors() -> None:
    X = sparse_rows(50, 130, 5)
    bits = Forest.pack_rows(X)
    assert bits.dtype == np.uint64 and bits.shape == (50, 3)
    # bit c % 64 of word c // 64 (numpy's little-endian bit order, bytes of little-endian words)
    padded = np.zeros((50, 192), np.uint8)
    padded[:, :130] = X
    expected = np.packbits(padded, axis=1, bitorder="little").view("<u8")
    np.testing.assert_array_equal(bits, expected)
    np.testing.assert_array_equal(Forest.pack_rows(np.asfortranarray(X)), bits)
    X[7, 99] = 2
    with pytest.raises(ValueError, match=r"X\[7, 99\] = 2"):
        Forest.pack_rows(X)
    with pytest.raises(TypeError, match="uint8"):
        Forest.pack_rows(X.astype(np.float32))
    with pytest.raises(ValueError, match="0 features"):
        Forest.pack_rows(np.zeros((3, 0), np.uint8))


def test_packed_scoring_refuses_bad_arguments() -> None:
    X = sparse_rows(100, 20, 6)
    forest = Forest.fit(X.astype(np.float32), X[:, 0].astype(np.float64), n_estimators=3, random_state=0)
    bits = Forest.pack_rows(X)
    with pytest.raises(ValueError, match="X has 19 features, but the forest was fitted on 20"):
        forest.predict_mean_std_packed(bits, np.arange(19))
    with pytest.raises(ValueError, match="feature 19 is mapped to column 64"):
        forest.predict_mean_packed(bits, np.r_[np.arange(19), 64])
    with pytest.raises(ValueError, match=r"rows\[1\] = 100 is out of range for 100"):
        forest.predict_mean_packed(bits, rows=np.array([3, 100]))
    with pytest.raises(ValueError, match=r"rows\[0\] = -1 is negative"):
        forest.predict_member_packed(bits, 0, rows=np.array([-1]))
    with pytest.raises(ValueError, match=r"columns\[2\] = -4 is negative"):
        forest.predict_mean_std_packed(bits, np.r_[0, 1, -4, np.arange(3, 20)])
    with pytest.raises(TypeError, match="rows must be a 1-d array of integers"):
        forest.predict_mean_packed(bits, rows=np.array([0.5]))
    with pytest.raises(IndexError, match="tree 3 is out of range"):
        forest.predict_member_packed(bits, 3)
    with pytest.raises(TypeError, match="bits must be a 2-d uint64"):
        forest.predict_mean_packed(bits.astype(np.int64))
    with pytest.raises(ValueError, match="C-contiguous"):
        forest.predict_mean_packed(np.asfortranarray(np.repeat(bits, 2, axis=1)), np.arange(20))
    assert forest.predict_mean_packed(bits, rows=np.zeros(0, np.int64)).shape == (0,)
    # a forest wider than the rows needs a column map
    wide = Forest.fit(np.zeros((2, 70), np.float32), np.array([0.0, 1.0]), n_estimators=1)
    with pytest.raises(ValueError, match="mapped to column 64"):
        wide.predict_mean_packed(bits)
