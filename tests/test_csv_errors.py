"""``from_csv`` never loads wrong values: every malformed input is a ``ValueError`` or ``TypeError``
naming the line and the value, never a dropped column, a silently changed default or cost
metric, a truncated hash, or a raw internal error (``_csv.Error``, ``UnicodeDecodeError``)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nb101_data
from nasfast import SearchSpace
from nasfast.benchmarks import TabularBenchmark, from_csv

SPACE = SearchSpace(5, 6, ["a", "b"])
A = ["input|a|output", "010001000"]
B = ["input|b|output", "010001000"]
C = ["input|a|b|output", "0110000100010000"]


def write(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def raises_plain(exc_type: type, match: str, call: Any) -> str:
    """The call raises exactly ``exc_type`` (not a subclass such as UnicodeDecodeError)."""
    with pytest.raises(exc_type, match=match) as info:
        call()
    assert type(info.value) is exc_type, type(info.value)
    return str(info.value)


# ----------------------------------------------------------------------------- the reported cases
@pytest.fixture(scope="module")
def real_csv_with(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Writes nb101_real20k.csv with one field replaced; returns (path, line of the field)."""
    lines = nb101_data.real20k_csv(tmp_path_factory.mktemp("real")).read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")

    def make(row: int, column: str, value: str) -> tuple[Path, int]:
        fields = lines[row + 1].split(",")  # no quoted fields in this file
        fields[header.index(column)] = value
        path = tmp_path_factory.mktemp("edited") / "nb101_real20k.csv"
        path.write_text("\n".join([*lines[: row + 1], ",".join(fields), *lines[row + 2 :]]) + "\n", encoding="utf-8")
        return path, row + 2

    return make


@pytest.mark.parametrize(
    "column, value",
    [
        ("val_acc_108", "0.9x"),  # was: the column dropped, val_acc_4 the default metric
        ("train_time_108_s", "12o0"),  # was: cost_metric None
    ],
)
def test_one_bad_value_in_the_real_table_is_an_error_naming_line_and_column(real_csv_with: Any, column: str, value: str) -> None:
    path, line = real_csv_with(12_345, column, value)
    raises_plain(ValueError, f"line {line}: column '{column}' has the non-numeric value '{value}'", lambda: from_csv(path))


def test_duplicated_header_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", ["ops", "adjacency", "score", "cost", "cost"], [[*A, 0.5, 1, 2]])
    raises_plain(ValueError, "line 1: column 'cost' appears 2 times in the header", lambda: from_csv(path, SPACE, cost_metric="cost"))
    path = write(tmp_path / "e.csv", ["ops", "adjacency", "score", ""], [[*A, 0.5, 1]])
    raises_plain(ValueError, "line 1: column 4 of the header has no name", lambda: from_csv(path, SPACE))


# ----------------------------------------------------------------------------- metric selection
def test_default_metric_must_be_given_when_it_is_ambiguous(tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", ["ops", "adjacency", "train_time_108_s", "val_acc"], [[*A, 1200, 0.9], [*B, 900, 0.8]])
    raises_plain(ValueError, "several metric columns \\['train_time_108_s', 'val_acc'\\] and none is 'val_acc_108'",
                 lambda: from_csv(path, SPACE))
    bench = from_csv(path, SPACE, default_metric="val_acc")
    assert bench.default_metric == "val_acc" and bench.cost_metric == "train_time_108_s"


def test_named_columns_are_read_whatever_they_hold(tmp_path: Path) -> None:
    # a column the user names as the default or cost metric is never skipped as text
    path = write(tmp_path / "n.csv", ["ops", "adjacency", "score", "label"], [[*A, 0.5, "fast"], [*B, 0.7, "slow"]])
    bench = from_csv(path, SPACE)
    assert bench.metrics == ["score"]  # a column without numbers is a label
    raises_plain(ValueError, "line 2: column 'label' has the non-numeric value 'fast'", lambda: from_csv(path, SPACE, cost_metric="label"))
    raises_plain(ValueError, "no column 'seconds'", lambda: from_csv(path, SPACE, cost_metric="seconds"))


def test_a_column_with_numbers_and_text_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", ["ops", "adjacency", "score", "note"], [[*A, 0.5, "12"], [*B, 0.7, "n/a"]])
    msg = raises_plain(ValueError, "line 3: column 'note' has the non-numeric value 'n/a'", lambda: from_csv(path, SPACE))
    assert "metrics=[...]" in msg
    assert from_csv(path, SPACE, metrics=["score"]).metrics == ["score"]


def test_metrics_must_be_a_list_of_names(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", ["ops", "adjacency", "score"], [[*A, 0.5]])
    raises_plain(TypeError, "metrics must be a sequence of column names, got 'score'", lambda: from_csv(path, SPACE, metrics="score"))
    raises_plain(ValueError, "missing must be 'raise' or 'nan', got 'zero'", lambda: from_csv(path, SPACE, missing="zero"))


@pytest.mark.parametrize("text", ["inf", "-inf", "Infinity", "nan", "NaN", "", "  "])
def test_non_finite_and_empty_values(tmp_path: Path, text: str) -> None:
    header = ["ops", "adjacency", "val_acc_108", "train_time_108_s"]
    path = write(tmp_path / "f.csv", header, [[*A, 0.5, 100], [*B, text, 200], [*C, 0.3, text]])
    kind = "empty" if not text.strip() else "non-finite"
    raises_plain(ValueError, f"line 3: column 'val_acc_108' has the {kind} value '{text.strip()}'; pass missing='nan'",
                 lambda: from_csv(path, SPACE))
    bench = from_csv(path, SPACE, missing="nan")
    assert bench.default_metric == "val_acc_108" and bench.cost_metric == "train_time_108_s"
    acc, cost = bench.values(), bench.values("train_time_108_s")
    assert np.isnan(acc).sum() == 1 and np.nanmax(acc) == 0.5 and bench.optimum()[1] == 0.5
    assert np.isnan(cost).sum() == 1 and np.nanmax(cost) == 200


# ----------------------------------------------------------------------------- file format
def test_oversized_field_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text(f"ops,adjacency,score\n{','.join(A)},0.5\n{','.join(B)},{'1' * 140_000}\n", encoding="utf-8")
    raises_plain(ValueError, "big.csv, line 3: not valid CSV: field larger than field limit", lambda: from_csv(path, SPACE))


def test_non_utf8_byte_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"ops,adjacency,score\n" + ",".join(A).encode() + b",0.5\n" + ",".join(B).encode() + b",0.7\xe9\n")
    raises_plain(ValueError, "latin.csv, line 3: byte 0xe9 is not UTF-8", lambda: from_csv(path, SPACE))


def test_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfops,adjacency,score\n" + ",".join(A).encode() + b",0.5\n")
    bench = from_csv(path, SPACE)
    assert bench.metrics == ["score"] and bench.values().tolist() == [0.5]


def test_unterminated_quote_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(f'ops,adjacency,score\n{",".join(A)},0.5\n{",".join(B)},"0.7\n', encoding="utf-8")
    raises_plain(ValueError, "q.csv, line [34]: not valid CSV", lambda: from_csv(path, SPACE))


# ----------------------------------------------------------------------------- hashes
@pytest.mark.parametrize("suffix, message", [("ab", "is not 32 hexadecimal digits"), ("", None)])
def test_hash_of_34_characters_is_not_truncated(tmp_path: Path, suffix: str, message: Any) -> None:
    cells = SPACE.enumerate()
    hashes = [cells[i].nb101_hash() for i in range(3)]
    rows = [[hashes[0], 0.1], [hashes[1] + suffix, 0.2], [hashes[2].upper(), 0.3]]
    path = write(tmp_path / "h.csv", ["hash", "score"], rows)
    if message:
        raises_plain(ValueError, f"line 3: hash '{hashes[1]}ab' {message}", lambda: from_csv(path, SPACE))
    else:  # upper-case hex is the same hash
        bench = from_csv(path, SPACE)
        assert bench.query(cells[:3]).tolist() == [0.1, 0.2, 0.3]


def test_hash_column_beside_the_matrix_is_checked_too(tmp_path: Path, real20k_rows: list[dict[str, str]]) -> None:
    r = real20k_rows[0]
    path = write(tmp_path / "m.csv", ["hash", "ops", "adjacency", "val_acc_108"], [[r["hash"] + "00", r["ops"], r["adjacency"], 0.9]])
    raises_plain(ValueError, f"line 2: hash '{r['hash']}00' is not 32 hexadecimal digits", lambda: from_csv(path))


# ----------------------------------------------------------------------------- tables never hold inf
def test_table_refuses_infinite_values() -> None:
    cells = SPACE.enumerate()
    values = np.zeros(len(cells))
    values[4] = -np.inf
    with pytest.raises(ValueError, match="metric 'acc' has the value -inf at row 4"):
        TabularBenchmark("t", SPACE, cells, {"acc": values}, default_metric="acc")
