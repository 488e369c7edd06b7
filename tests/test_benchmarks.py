"""Built-in benchmarks, lookups, the CSV importer, the surrogate's fidelity, and the CLI.

Expected values are read from the original CSV with the csv module, independently of the
package's importer.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from nasfast import CellBatch, SearchSpace
from nasfast.benchmarks import MissingCellError, TabularBenchmark, available, from_csv, load
from nasfast.benchmarks._surrogate import AccuracyModel, holdout_split, surrogate_features
from nasfast.benchmarks.cli import add_subparsers

OP_CODES = {"input": -1, "output": -2, "conv3x3-bn-relu": 0, "conv1x1-bn-relu": 1, "maxpool3x3": 2}


@pytest.fixture(scope="module")
def csv_rows(real20k_rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows of ``nb101_real20k.csv`` (``tests/data``), read with the csv module."""
    return real20k_rows


def cells_of_rows(rows: list[dict[str, str]], permute: bool = False, seed: int = 0) -> CellBatch:
    """Cells of CSV rows; with ``permute``, interior vertices are relabelled (isomorphic copies)."""
    rng = np.random.default_rng(seed)
    adj = np.zeros((len(rows), 7, 7), dtype=np.uint8)
    ops = np.full((len(rows), 7), -3, dtype=np.int8)
    for i, r in enumerate(rows):
        names = r["ops"].split("|")
        v = len(names)
        a = np.array([int(c) for c in r["adjacency"]], dtype=np.uint8).reshape(v, v)
        o = np.array([OP_CODES[n] for n in names], dtype=np.int8)
        if permute and v > 3:
            # A relabelling that keeps edges pointing forward: any topological order.
            order = [0]
            remaining = set(range(1, v))
            while remaining:
                ready = [j for j in sorted(remaining) if all(a[k, j] == 0 or k in order for k in range(v))]
                pick = ready[rng.integers(len(ready))]
                order.append(pick)
                remaining.remove(pick)
            a, o = a[np.ix_(order, order)], o[order]
        adj[i, :v, :v], ops[i, :v] = a, o
    return CellBatch.from_arrays(adj, ops, SearchSpace.nb101())


# ----------------------------------------------------------------------------- registry
def test_available_lists_builtins() -> None:
    names = available()
    assert {"nb101-real20k", "nb101-surrogate"} <= set(names)
    assert all(isinstance(d, str) and d for d in names.values())


def test_unknown_name_raises_keyerror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASFAST_DATA_DIR", str(tmp_path))
    with pytest.raises(KeyError, match="nb101-nope"):
        load("nb101-nope")
    with pytest.raises(KeyError, match="nasfast bench import nb101"):
        load("nb101-full")


# ----------------------------------------------------------------------------- nb101-real20k
def test_real20k_matches_csv(csv_rows: list[dict[str, str]]) -> None:
    bench = load("nb101-real20k")
    assert len(bench) == len(csv_rows) == 20001
    assert bench.metrics == ["val_acc_4", "val_acc_12", "val_acc_36", "val_acc_108", "train_time_108_s", "params"]
    assert sorted(bench.cells.nb101_hashes().tolist()) == sorted(r["hash"] for r in csv_rows)
    sample = csv_rows[::97]
    cells = cells_of_rows(sample, permute=True)
    assert [c.nb101_hash() for c in cells] == [r["hash"] for r in sample]
    for metric in bench.metrics:
        want = np.array([float(r[metric]) for r in sample])
        assert np.array_equal(bench.query(cells, metric), want), metric
    assert np.array_equal(bench.cost(cells), [float(r["train_time_108_s"]) for r in sample])
    # values() is aligned with cells
    by_hash = {r["hash"]: float(r["val_acc_108"]) for r in csv_rows}
    hashes = bench.cells[:500].nb101_hashes()
    assert np.array_equal(bench.values()[:500], [by_hash[h] for h in hashes])


def test_real20k_optimum_top_targets(csv_rows: list[dict[str, str]]) -> None:
    bench = load("nb101-real20k")
    acc = sorted(((float(r["val_acc_108"]), r["hash"]) for r in csv_rows), reverse=True)
    cell, value = bench.optimum()
    assert (value, cell.nb101_hash()) == acc[0]
    top = bench.top(25)
    assert np.array_equal(bench.query(top), [a for a, _ in acc[:25]])
    tau = acc[99][0]
    targets = bench.targets(tau)
    assert len(targets) == sum(1 for a, _ in acc if a >= tau)
    assert (bench.query(targets) >= tau).all()
    cell4, value4 = bench.optimum("val_acc_4")
    assert value4 == max(float(r["val_acc_4"]) for r in csv_rows)
    assert "nb101-real20k" in bench.describe() and "Ying" in bench.citation


def test_missing_cell(csv_rows: list[dict[str, str]]) -> None:
    bench = load("nb101-real20k")
    known = {r["hash"] for r in csv_rows}
    space = SearchSpace.nb101()
    pool = space.cell_at(np.arange(300_000, 300_200))
    absent = [i for i, h in enumerate(pool.nb101_hashes()) if h not in known]
    queries = CellBatch.concat([bench.cells[:3], pool[absent[:2]]])
    with pytest.raises(MissingCellError, match=f"{pool[absent[0]].nb101_hash()}.*row 3"):
        bench.query(queries)
    assert issubclass(MissingCellError, KeyError)
    got = bench.query(queries, missing="nan")
    assert np.array_equal(got[:3], bench.values()[:3]) and np.isnan(got[3:]).all()
    with pytest.raises(ValueError, match="missing"):
        bench.query(queries, missing="zero")
    with pytest.raises(ValueError, match="unknown metric 'val_acc_107'"):
        bench.query(bench.cells[:1], "val_acc_107")


def test_foreign_space_rejected() -> None:
    small = SearchSpace(4, 5, ["a", "b"])
    with pytest.raises(ValueError, match="another space"):
        load("nb101-real20k").query(small.enumerate()[:2])


def test_shipped_real20k_is_rebuilt_byte_for_byte(tmp_path: Path) -> None:
    """``scripts/build_benchmarks.py`` rebuilds the shipped table from tests/data exactly."""
    import importlib.util

    import nb101_data
    from nasfast.benchmarks._registry import PACKAGE_DATA

    script = Path(__file__).resolve().parents[1] / "scripts" / "build_benchmarks.py"
    spec = importlib.util.spec_from_file_location("build_benchmarks", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build_real(nb101_data.REAL20K, tmp_path)
    assert (tmp_path / "nb101-real20k.npz").read_bytes() == (PACKAGE_DATA / "nb101-real20k.npz").read_bytes()


# ----------------------------------------------------------------------------- nb101-surrogate
def test_surrogate_covers_space(csv_rows: list[dict[str, str]]) -> None:
    bench = load("nb101-surrogate")
    space = SearchSpace.nb101()
    assert len(bench) == 423_624 == space.count()
    assert bench.cells == space.enumerate()
    values = bench.values()
    assert values.dtype == np.float64 and np.isfinite(values).all() and 0 < values.min() and values.max() < 1
    cost = bench.values("train_time_108_s")
    assert np.isfinite(cost).all() and cost.min() > 100
    # query by isomorphic copies equals the value at the enumeration index
    rows = csv_rows[::211]
    cells = cells_of_rows(rows, permute=True, seed=3)
    assert np.array_equal(bench.query(cells), values[space.index_of(cells)])
    # refit on all real cells: predictions at those cells track the real values closely
    real = cells_of_rows(csv_rows[::5])
    truth = np.array([float(r["val_acc_108"]) for r in csv_rows[::5]])
    assert spearmanr(bench.query(real), truth)[0] > 0.95


def test_surrogate_fidelity_on_held_out_cells(csv_rows: list[dict[str, str]]) -> None:
    """The README's fidelity check, refit with the committed settings (< 60 s)."""
    start = time.perf_counter()
    cells = cells_of_rows(csv_rows)
    y = np.array([float(r["val_acc_108"]) for r in csv_rows])
    train, test = holdout_split(len(y))
    assert len(test) == 4000 and not set(train) & set(test) and len(train) + len(test) == len(y)
    features = surrogate_features(cells)
    pred = AccuracyModel().fit(features[train], y[train]).predict(features[test])
    tau, rho = kendalltau(pred, y[test])[0], spearmanr(pred, y[test])[0]
    k = 40
    recall = len(set(np.argsort(-y[test])[:k]) & set(np.argsort(-pred)[:k])) / k
    print(f"held-out fidelity: Kendall tau {tau:.4f}, Spearman {rho:.4f}, top-1% recall {recall:.3f}, "
          f"{time.perf_counter() - start:.1f} s")
    assert tau >= 0.75 and rho >= 0.92 and recall >= 0.3


def test_surrogate_features_isomorphism_invariant(csv_rows: list[dict[str, str]]) -> None:
    rows = csv_rows[:300]
    a = surrogate_features(cells_of_rows(rows))
    b = surrogate_features(cells_of_rows(rows, permute=True, seed=5))
    assert np.array_equal(a, b)


# ----------------------------------------------------------------------------- from_csv
def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def small_space_rows(space: SearchSpace) -> tuple[list[list[object]], CellBatch]:
    cells = space.enumerate()
    rows = []
    for i, c in enumerate(cells):
        names = c.op_names(space)
        adj = "".join(str(int(x)) for x in np.asarray(c.adjacency).ravel())
        rows.append(["|".join(names), adj, i / 10, 100 + i, "tag"])
    return rows, cells


def test_from_csv_small_space(tmp_path: Path) -> None:
    space = SearchSpace(5, 6, ["a", "b"])
    rows, cells = small_space_rows(space)
    path = write_csv(tmp_path / "small.csv", ["ops", "adjacency", "score", "seconds", "note"], rows)
    bench = from_csv(path, space, default_metric="score", cost_metric="seconds")
    assert bench.metrics == ["score", "seconds"]  # the non-numeric column is skipped
    assert len(bench) == len(cells) == space.count()
    assert np.array_equal(bench.query(cells), np.arange(len(cells)) / 10)
    assert np.array_equal(bench.cost(cells), 100 + np.arange(len(cells)))
    cell, value = bench.optimum()
    assert value == (len(cells) - 1) / 10 and cell.is_isomorphic(cells[len(cells) - 1])
    # save / load round trip through the compact format
    saved = bench.save(tmp_path / "small.npz")
    again = load(str(saved))
    assert again.space == space and np.array_equal(again.query(cells), bench.query(cells))
    assert again.cost_metric == "seconds" and again.default_metric == "score"


def test_from_csv_hash_column(tmp_path: Path) -> None:
    # Hash-only rows are resolved through the enumeration of the space (a small one here, the
    # same code path as NAS-Bench-101, whose 423,624 hashes take seconds to compute).
    space = SearchSpace(5, 6, ["a", "b"])
    cells = space.enumerate()
    picks = np.random.default_rng(0).choice(len(cells), 40, replace=False)
    hashes = [cells[int(i)].nb101_hash() for i in picks]
    path = write_csv(tmp_path / "h.csv", ["hash", "acc"], [[h, i / 7] for h, i in zip(hashes, picks)])
    bench = from_csv(path, space)
    assert len(bench) == 40
    assert np.array_equal(bench.query(cells[picks]), picks / 7)
    bad = write_csv(tmp_path / "bad.csv", ["hash", "acc"], [[hashes[0], 0.5], ["f" * 32, 0.5]])
    with pytest.raises(ValueError, match="line 3: hash 'f{32}' is not a cell"):
        from_csv(bad, space)


@pytest.mark.parametrize(
    "row, message",
    [
        (["input|a|zz|output", "0110000100010000", 1.0], "line 3: unknown op 'zz'"),
        (["input|a|b|output", "01100001000100", 1.0], "line 3: adjacency '01100001000100' is not 16"),
        (["input|a|b|output", "0120000100010000", 1.0], "line 3: adjacency"),
        (["input|a|b|output", "0100000000000000", 1.0], "line 3: invalid cell"),
        (["input|a|output", "011001000", "x"], "line 3: column 'score' has the non-numeric value 'x'"),
        (["input|b|output", "010001000", 9.0], "line 3: the cell of line 2 again"),
    ],
)
def test_from_csv_bad_rows_name_the_line(tmp_path: Path, row: list[object], message: str) -> None:
    space = SearchSpace(5, 6, ["a", "b"])
    good = ["input|b|output", "010001000", 1.0]
    path = write_csv(tmp_path / "bad.csv", ["ops", "adjacency", "score"], [good, row])
    with pytest.raises(ValueError, match=message):
        from_csv(path, space, metrics=["score"] if row[2] == "x" else None)


def test_from_csv_merges_equal_duplicates(tmp_path: Path) -> None:
    space = SearchSpace(5, 6, ["a", "b"])
    rows = [["input|a|b|output", "0110000100010000", 2.0], ["input|b|a|output", "0110000100010000", 2.0]]
    bench = from_csv(write_csv(tmp_path / "dup.csv", ["ops", "adjacency", "score"], rows), space)
    assert len(bench) == 1 and bench.values().tolist() == [2.0]


def test_csv_hash_mismatch_names_line(csv_rows: list[dict[str, str]], tmp_path: Path) -> None:
    r0, r1 = csv_rows[0], csv_rows[1]
    rows = [[r0["hash"], r0["ops"], r0["adjacency"], 0.9], [r0["hash"], r1["ops"], r1["adjacency"], 0.8]]
    with pytest.raises(ValueError, match="line 3: hash"):
        from_csv(write_csv(tmp_path / "m.csv", ["hash", "ops", "adjacency", "val_acc_108"], rows))


# ----------------------------------------------------------------------------- TabularBenchmark
def test_constructor_checks() -> None:
    space = SearchSpace(4, 5, ["a", "b"])
    cells = space.enumerate()
    n = len(cells)
    bench = TabularBenchmark("t", space, cells, {"acc": np.arange(n, dtype=np.float32)}, default_metric="acc")
    assert bench.values().dtype == np.float64 and len(bench) == n
    assert bench.query(cells[::-1]).tolist() == list(range(n))[::-1]
    with pytest.raises(ValueError, match="shape"):
        TabularBenchmark("t", space, cells, {"acc": np.zeros(n + 1)}, default_metric="acc")
    with pytest.raises(ValueError, match="default_metric"):
        TabularBenchmark("t", space, cells, {"acc": np.zeros(n)})
    with pytest.raises(ValueError, match="isomorphic"):
        TabularBenchmark("t", space, CellBatch.concat([cells, cells[:1]]), {"acc": np.zeros(n + 1)}, default_metric="acc")
    with pytest.raises(ValueError, match="no cost metric"):
        bench.cost(cells)
    with_nan = np.arange(n, dtype=np.float64)
    with_nan[-1] = math.nan
    b2 = TabularBenchmark("t", space, cells, {"acc": with_nan}, default_metric="acc")
    assert b2.optimum()[1] == n - 2 and len(b2.top(n + 5)) == n - 1


def test_pickle_round_trip(tmp_path: Path) -> None:
    import pickle

    bench = pickle.loads(pickle.dumps(load("nb101-real20k")))
    assert len(bench) == 20001 and bench.metrics == load("nb101-real20k").metrics
    cells = load("nb101-real20k").cells[::1000]
    assert np.array_equal(bench.query(cells), load("nb101-real20k").query(cells))
    assert bench.optimum()[1] == load("nb101-real20k").optimum()[1]


# ----------------------------------------------------------------------------- CLI
def test_cli_list_and_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from test_tfrecord import dummy_file

    monkeypatch.setenv("NASFAST_DATA_DIR", str(tmp_path / "cache"))
    parser = argparse.ArgumentParser(prog="nasfast")
    add_subparsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bench", "list"])
    assert args.func(args) == 0
    assert "nb101-surrogate" in capsys.readouterr().out
    path, recs, _ = dummy_file(tmp_path, budgets=(108,))
    args = parser.parse_args(["bench", "import", "nb101", str(path)])
    assert args.func(args) == 0
    assert len(load("nb101-full")) == len(recs)
    args = parser.parse_args(["bench", "list"])
    args.func(args)
    assert "nb101-full" in capsys.readouterr().out
    path.write_bytes(path.read_bytes()[:-3])
    args = parser.parse_args(["bench", "import", "nb101", str(path)])
    assert args.func(args) == 1
    assert "truncated" in capsys.readouterr().err
