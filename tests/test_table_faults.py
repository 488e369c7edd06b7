"""Fault injection on saved benchmark tables (``TabularBenchmark.save``, ``nasfast bench import``).

Every way a table file can be damaged must end in a clear refusal (``TableFormatError``, a
``ValueError`` naming the file) or in exactly the values that were saved, never in other values:

* a process killed while it saves over an existing table, at each stage of the save and at
  random moments, leaves the old table or the new one, complete; listing and loading the
  other tables keeps working;
* every single flipped byte, and every truncation, of a saved table (compressed and stored);
* arrays rewritten with a valid archive (the index entries of two rows swapped, a negative
  index, an index past the enumeration), with and without the metadata's checksums updated.

The expected values are the arrays the test saved; the archive is read with ``zipfile`` and
``numpy`` directly where the test needs to look inside.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pytest

from nasfast import SearchSpace
from nasfast.benchmarks import TableFormatError, TabularBenchmark, _registry, available, load
from nasfast.benchmarks._table import FORMAT_VERSION, read_table
from nasfast.benchmarks.cli import add_subparsers

#: The space of the small tables: 307 cells (the tiny one, whose every byte is flipped: 39 cells).
SPACE = (5, 6, ["a", "b"])
TINY_SPACE = (4, 5, ["a", "b"])


def small_table(seed: int, name: str = "small", space_args: tuple[int, int, list[str]] = SPACE) -> TabularBenchmark:
    space = SearchSpace(*space_args)
    cells = space.enumerate()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(cells))[: len(cells) - 7]  # not the whole space, not in order
    return TabularBenchmark(
        name, space, cells[order],
        {"acc": rng.random(len(order)), "seconds": rng.integers(10, 1000, len(order)).astype(np.int32)},
        default_metric="acc", cost_metric="seconds",
    )


def same_table(a: TabularBenchmark, b: TabularBenchmark) -> bool:
    """Same cells with the same values (matched through the cells, not the row order)."""
    if len(a) != len(b) or a.metrics != b.metrics:
        return False
    return all(np.array_equal(a.query(b.cells, m), b.values(m), equal_nan=True) for m in a.metrics)


def load_fresh(path: Path) -> TabularBenchmark:
    """``read_table`` with the cells built (which runs the checks made on first use)."""
    bench = read_table(path)
    _ = bench.cells
    return bench


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename[:-4]: zf.read(info) for info in zf.infolist()}


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def rewrite(path: Path, changes: dict[str, np.ndarray], update_checksums: bool) -> None:
    """Writes ``path`` again as a valid archive with some arrays replaced (what a buggy tool
    would do); with ``update_checksums`` the metadata's CRC-32 values are made to match."""
    data = members(path)
    for name, array in changes.items():
        data[name] = npy(array)
    if update_checksums:
        meta = json.loads(str(np.load(io.BytesIO(data["meta"]))))
        meta["crc32"] = {k: zlib.crc32(v) for k, v in data.items() if k != "meta"}
        data["meta"] = npy(np.array(json.dumps(meta)))
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in data.items():
            zf.writestr(f"{name}.npy", blob)


# ----------------------------------------------------------------------------- the format
def test_saved_table_records_the_crc_of_every_array(tmp_path: Path) -> None:
    bench = small_table(0)
    path = bench.save(tmp_path / "t.npz")
    data = members(path)
    meta = json.loads(str(np.load(io.BytesIO(data["meta"]))))
    assert meta["format"] == FORMAT_VERSION == 2
    assert meta["crc32"] == {k: zlib.crc32(v) for k, v in data.items() if k != "meta"}
    assert set(data) == {"meta", "index", "check_index", "check_hash", "metric:acc", "metric:seconds"}
    index = np.load(io.BytesIO(data["index"]))
    assert (np.diff(index) > 0).all() and index[0] >= 0
    with np.load(path, allow_pickle=False) as plain:  # still an ordinary .npz
        assert np.array_equal(plain["index"], index)
    assert same_table(load_fresh(path), bench)
    # the same table gives the same bytes
    assert bench.save(tmp_path / "again.npz").read_bytes() == path.read_bytes()


def test_old_format_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = small_table(0).save(tmp_path / "t.npz")
    data = members(path)
    meta = json.loads(str(np.load(io.BytesIO(data["meta"]))))
    meta["format"] = 1
    del meta["crc32"]
    rewrite(path, {"meta": np.array(json.dumps(meta))}, update_checksums=False)
    with pytest.raises(TableFormatError, match=r"t\.npz.*format version 1.*older nasfast, without checksums"):
        read_table(path)


# ----------------------------------------------------------------------------- flips and truncations
def member_data(path: Path) -> set[int]:
    """Positions of the members' data in the archive (the stored arrays or their deflated form)."""
    out: set[int] = set()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
            out.update(range(start, start + info.compress_size))
    return out


def positions(path: Path, stride: int) -> list[int]:
    """Every byte of the archive's structure (local headers, central directory, end record)
    and every ``stride``-th byte of the members' data, which the CRC-32 checks cover uniformly,
    so that a sample stands for them."""
    data = member_data(path)
    return [at for at in range(path.stat().st_size) if at not in data or at % stride == 0]


@pytest.fixture(scope="module", params=[True, False], ids=["deflated", "stored"])
def tiny_file(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[TabularBenchmark, Path]:
    from nasfast.benchmarks._table import save_table

    bench = small_table(1, space_args=TINY_SPACE)
    path = save_table(bench, tmp_path_factory.mktemp("tiny") / "good.npz", compress=request.param)
    return bench, path


def test_every_flipped_byte_is_refused_or_harmless(tiny_file: tuple[TabularBenchmark, Path], tmp_path: Path) -> None:
    bench, good = tiny_file
    original = good.read_bytes()
    bad = tmp_path / "bad.npz"
    refused, harmless = [], []
    for at in positions(good, stride=16):
        data = bytearray(original)
        data[at] ^= 0xFF if at % 2 else 0x01
        bad.write_bytes(bytes(data))
        try:
            got = load_fresh(bad)
        except TableFormatError as exc:
            assert str(bad) in str(exc)
            refused.append(at)
            continue
        assert same_table(got, bench), f"byte {at} flipped: the table loads with other values"
        harmless.append(at)
    # A flip that loads is in a header field zipfile does not use (the local headers' times,
    # sizes and CRC repeat the central directory's) or, deflated, in the unused bits after the
    # end of a stream (the data inflate to the same bytes); stored, no data byte is harmless.
    stored = zipfile.ZipFile(good).infolist()[0].compress_type == zipfile.ZIP_STORED
    if stored:
        assert not set(harmless) & member_data(good), sorted(set(harmless) & member_data(good))
    assert len(refused) > len(harmless)


def test_every_truncation_is_refused(tiny_file: tuple[TabularBenchmark, Path], tmp_path: Path) -> None:
    _, good = tiny_file
    original = good.read_bytes()
    bad = tmp_path / "bad.npz"
    for n in positions(good, stride=32):
        bad.write_bytes(original[:n])
        with pytest.raises(TableFormatError, match="bad.npz"):
            load_fresh(bad)


# ----------------------------------------------------------------------------- consistent rewrites
@pytest.fixture(scope="module")
def real20k_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return load("nb101-real20k").save(tmp_path_factory.mktemp("real") / "real20k.npz")


def test_swapped_index_entries_are_refused(real20k_copy: Path, tmp_path: Path) -> None:
    """The reported case: two index entries swapped outside the rows whose hashes are stored."""
    data = members(real20k_copy)
    index = np.load(io.BytesIO(data["index"]))
    check = set(np.load(io.BytesIO(data["check_index"])).tolist())
    free = [r for r in range(1000, 3000) if r not in check]
    i, j = free[0], free[5]
    swapped = index.copy()
    swapped[[i, j]] = swapped[[j, i]]
    for update in (False, True):
        path = tmp_path / f"swapped-{update}.npz"
        path.write_bytes(real20k_copy.read_bytes())
        rewrite(path, {"index": swapped}, update_checksums=update)
        match = "strictly increasing at row" if update else "CRC-32"
        with pytest.raises(TableFormatError, match=match):
            load_fresh(path)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda ix: np.r_[-1, ix[1:]], "negative enumeration index"),
        (lambda ix: np.r_[ix[:-1], 423_624], "outside the 423624 cells"),
        (lambda ix: np.r_[ix[:-1], ix[-2]], "strictly increasing"),
        (lambda ix: ix[:-1], "index"),
        (lambda ix: ix.astype(np.float64), "index"),
    ],
    ids=["negative", "past-the-space", "repeated", "short", "float"],
)
def test_bad_index_with_matching_checksums_is_refused(real20k_copy: Path, tmp_path: Path, edit: Any, message: str) -> None:
    index = np.load(io.BytesIO(members(real20k_copy)["index"]))
    path = tmp_path / "bad.npz"
    path.write_bytes(real20k_copy.read_bytes())
    rewrite(path, {"index": edit(index)}, update_checksums=True)
    with pytest.raises(TableFormatError, match=message):
        load_fresh(path)


def test_metric_array_rewritten_is_refused(real20k_copy: Path, tmp_path: Path) -> None:
    acc = np.load(io.BytesIO(members(real20k_copy)["metric:val_acc_108"]))
    path = tmp_path / "bad.npz"
    path.write_bytes(real20k_copy.read_bytes())
    rewrite(path, {"metric:val_acc_108": acc[::-1].copy()}, update_checksums=False)
    with pytest.raises(TableFormatError, match="metric:val_acc_108.*CRC-32"):
        read_table(path)
    rewrite(path, {"metric:val_acc_108": np.r_[acc[:-1], np.inf].astype(acc.dtype)}, update_checksums=True)
    with pytest.raises(TableFormatError, match="val_acc_108.*inf.*finite"):
        read_table(path)


# ----------------------------------------------------------------------------- the data folder
def test_one_corrupt_file_does_not_break_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NASFAST_DATA_DIR", str(tmp_path))
    good = small_table(3, "good")
    good.save(tmp_path / "good.npz")
    truncated = small_table(4, "broken").save(tmp_path / "broken.npz")
    truncated.write_bytes(truncated.read_bytes()[:770])
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / ".good.npz.123.abcd.tmp").write_bytes(b"left by a killed save")
    names = available()
    assert "unreadable" in names["broken"] and "broken.npz" in names["broken"]
    assert "unreadable" in names["empty"] and "good" in names and "unreadable" not in names["good"]
    assert not any(n.startswith(".") for n in names)
    assert same_table(load("good"), good)
    with pytest.raises(TableFormatError, match="broken.npz"):
        load("broken")
    with pytest.raises(KeyError, match="nonexistent"):
        load("nonexistent")
    parser = add_subparsers_parser()
    args = parser.parse_args(["bench", "list"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "good" in out and "broken" in out and "unreadable" in out


def add_subparsers_parser() -> Any:
    import argparse

    parser = argparse.ArgumentParser(prog="nasfast")
    add_subparsers(parser.add_subparsers(dest="command", required=True))
    return parser


# ----------------------------------------------------------------------------- killed saves
CHILD = """
import os, signal, sys, zipfile
import numpy as np
from nasfast import SearchSpace
from nasfast.benchmarks import TabularBenchmark
import nasfast._atomic as atomic

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

stage, target, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
space = SearchSpace(5, 6, ["a", "b"])
cells = space.enumerate()
rng = np.random.default_rng(seed)
order = rng.permutation(len(cells))[: len(cells) - 7]
bench = TabularBenchmark("small", space, cells[order],
    {"acc": rng.random(len(order)), "seconds": rng.integers(10, 1000, len(order)).astype(np.int32)},
    default_metric="acc", cost_metric="seconds")
if stage == "while-writing":      # after the first members, in the middle of the archive
    write = zipfile.ZipFile.writestr
    calls = []
    def writestr(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            die()
        return write(self, *args, **kwargs)
    zipfile.ZipFile.writestr = writestr
elif stage == "before-fsync":     # everything written, nothing synced or renamed
    atomic.os.fsync = die
elif stage == "before-rename":
    atomic.os.replace = die
elif stage == "after-rename":     # renamed, the folder not synced yet
    atomic._fsync_folder = die
bench.save(target)
print("saved")
"""


@pytest.mark.parametrize("stage", ["while-writing", "before-fsync", "before-rename", "after-rename"])
def test_save_killed_at_each_stage_leaves_a_complete_table(tmp_path: Path, stage: str) -> None:
    target = tmp_path / "table.npz"
    old = small_table(10)
    old.save(target)
    new = small_table(11)
    proc = subprocess.run([sys.executable, "-c", CHILD, stage, str(target), "11"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    got = load_fresh(target)
    assert same_table(got, new if stage == "after-rename" else old)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "table.npz"]
    assert all(p.startswith(".table.npz.") and p.endswith(".tmp") for p in leftovers), leftovers
    assert (len(leftovers) == 1) == (stage != "after-rename")


LOOP = """
import sys
import numpy as np
from nasfast import SearchSpace
from nasfast.benchmarks import TabularBenchmark
from nasfast.benchmarks._table import save_table

space = SearchSpace(6, 15, ["a", "b"])
cells = space.enumerate()
tables = []
for k in range(2):
    rng = np.random.default_rng(k)
    metrics = {f"m{j}": rng.random(len(cells)) for j in range(30)}
    tables.append(TabularBenchmark(f"t{k}", space, cells, metrics, default_metric="m0"))
save_table(tables[0], sys.argv[1], compress=False)
print("ready", flush=True)
k = 0
while True:
    k ^= 1
    save_table(tables[k], sys.argv[1], compress=False)
"""


def test_save_killed_at_random_moments_leaves_a_complete_table(tmp_path: Path) -> None:
    """A process saving two stored tables of 30,933 cells x 30 metrics (7.4 MB) in turn over one
    file, killed 3 times after a random delay: the file is always one of the two, complete."""
    target = tmp_path / "big.npz"
    rng = np.random.default_rng(20261130)
    cells = SearchSpace(6, 15, ["a", "b"]).enumerate()
    expected = {f"t{k}": np.random.default_rng(k).random(len(cells)) for k in range(2)}  # metric m0
    for delay in rng.uniform(0.05, 0.6, size=3):
        proc = subprocess.Popen([sys.executable, "-c", LOOP, str(target)], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            time.sleep(float(delay))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        got = load_fresh(target)
        assert got.name in expected
        assert np.array_equal(got.query(cells, "m0"), expected[got.name])
        for leftover in tmp_path.glob(".big.npz.*.tmp"):
            leftover.unlink()


IMPORT_CHILD = """
import os, signal, sys
import nasfast._atomic as atomic
from nasfast.cli import main

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

atomic.os.replace = die
sys.exit(main(["bench", "import", "nb101", sys.argv[1]]))
"""


def test_bench_import_killed_while_saving_keeps_the_previous_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_tfrecord import dummy_file

    cache = tmp_path / "cache"
    monkeypatch.setenv("NASFAST_DATA_DIR", str(cache))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, recs_first, _ = dummy_file(tmp_path / "a", budgets=(108,))
    parser = add_subparsers_parser()
    args = parser.parse_args(["bench", "import", "nb101", str(first)])
    assert args.func(args) == 0
    before = load_fresh(cache / "nb101-full.npz")
    second, _, _ = dummy_file(tmp_path / "b", budgets=(4, 108))
    proc = subprocess.run([sys.executable, "-c", IMPORT_CHILD, str(second)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "NASFAST_DATA_DIR": str(cache)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    _registry._CACHE.clear()
    after = load("nb101-full")
    assert same_table(after, before) and len(after) == len(recs_first)
    assert "nb101-full" in available() and "unreadable" not in available()["nb101-full"]

    # flipped bytes and truncations of the imported (stored) file: refused or unchanged
    original = (cache / "nb101-full.npz").read_bytes()
    bad = tmp_path / "bad.npz"
    rng = np.random.default_rng(7)
    for at in rng.choice(len(original), size=min(150, len(original)), replace=False):
        data = bytearray(original)
        data[int(at)] ^= 0x10
        bad.write_bytes(bytes(data))
        try:
            got: Optional[TabularBenchmark] = load_fresh(bad)
        except TableFormatError:
            got = None
        assert got is None or same_table(got, before), f"byte {at}"
    for n in rng.choice(len(original), size=50, replace=False):
        bad.write_bytes(original[: int(n)])
        with pytest.raises(TableFormatError):
            load_fresh(bad)
