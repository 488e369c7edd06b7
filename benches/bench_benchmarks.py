"""Benchmarks of ``nasfast.benchmarks``: loading a built-in table, importing an official-size TFRecord.

Each group pairs nasfast with a baseline measured in the same run (figures in ``extra_info`` in
the format of ``bench_core.py``, for ``report.py``), and each test checks its result.

- ``load-real20k`` / ``load-surrogate``: ``load(name)`` from the shipped ``.npz`` (metric
  arrays and metadata, every array checked against the CRC-32 its metadata records and the index
  checked to be strictly increasing; the cells are built lazily from the enumeration on first
  use, which these figures do not include) against parsing the original CSV (``from_csv``,
  which also builds and validates the cells, the least work that gives the same table without
  the shipped file).
- ``load-checks``: reading the surrogate's file with every check of format 2 (``read_table``:
  CRC-32 of every array against the metadata, strictly increasing index, metadata schema)
  against ``np.load`` of the same arrays without any check (how format 1 was read): the cost of
  the checks.
- ``import-tfrecord``: ``from_nb101_tfrecord`` (the file decoded by the core: ``crc32c``,
  ``serde_json``, ``base64``, ``prost``, threads over records) on a synthetic file of the
  official size (423,624 cells x 3 runs = 1,270,872 records, the size of
  ``nasbench_only108.tfrecord``), written here, against the importer it replaced
  (``_tfrecord_baseline.py``: numpy CRC-32C, the ``json`` scanner, numpy base64 checks and a
  hand-written protobuf decoder vectorised over messages of one layout) on the same file. Both
  tables are checked against the values written.
"""

from __future__ import annotations

import base64
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import _tfrecord_baseline as previous
import nb101_data
from nasfast import SearchSpace
from nasfast.benchmarks import _registry, from_csv, from_nb101_tfrecord, load
from nasfast.benchmarks._table import read_table

#: Seed of the synthetic metrics.
SEED = 20190601
#: Runs per cell in the synthetic file (as in nasbench_only108.tfrecord).
RUNS = 3
OP_NAMES = {0: "conv3x3-bn-relu", 1: "conv1x1-bn-relu", 2: "maxpool3x3", -1: "input", -2: "output"}


def record(benchmark: Any, side: str, kind: str, threads: int = 1, **info: Any) -> None:
    benchmark.extra_info.update(side=side, kind=kind, threads=threads, **info)


# ------------------------------------------------------------------------------------ load
@pytest.fixture(scope="module")
def real20k_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The original ``nb101_real20k.csv``, decompressed from ``tests/data`` (outside the timing)."""
    return nb101_data.real20k_csv(tmp_path_factory.mktemp("csv"))


def _fresh_load(name: str) -> Any:
    _registry._CACHE.clear()
    return load(name)


@pytest.mark.benchmark(group="load-real20k")
def test_load_real20k_nasfast(benchmark: Any) -> None:
    bench = benchmark.pedantic(_fresh_load, args=("nb101-real20k",), rounds=10, warmup_rounds=1, iterations=1)
    record(benchmark, "nasfast", "time", operation="load('nb101-real20k') (cells built lazily)", target=0.2, target_op="<=")
    assert len(bench) == 20001 and bench.optimum()[1] == pytest.approx(0.9491186141967773, abs=0)


@pytest.mark.benchmark(group="load-real20k")
def test_load_real20k_baseline(benchmark: Any, real20k_csv: Path) -> None:
    bench = benchmark.pedantic(from_csv, args=(real20k_csv,), rounds=2, iterations=1)
    record(benchmark, "baseline", "time", detail="from_csv of the original CSV")
    assert len(bench) == 20001 and bench.optimum()[1] == pytest.approx(0.9491186141967773, abs=0)


@pytest.mark.benchmark(group="load-surrogate")
def test_load_surrogate_nasfast(benchmark: Any) -> None:
    bench = benchmark.pedantic(_fresh_load, args=("nb101-surrogate",), rounds=10, warmup_rounds=1, iterations=1)
    record(benchmark, "nasfast", "time", operation="load('nb101-surrogate') (cells built lazily)", target=0.2, target_op="<=")
    assert len(bench) == 423_624 and np.isfinite(bench.values()).all()


@pytest.mark.benchmark(group="load-surrogate")
def test_load_surrogate_baseline(benchmark: Any, real20k_csv: Path) -> None:
    bench = benchmark.pedantic(from_csv, args=(real20k_csv,), rounds=2, iterations=1)
    record(benchmark, "baseline", "time", detail="from_csv of the original CSV (20,001 cells)")
    assert len(bench) == 20001


def _unchecked_read(path: Path) -> dict[str, np.ndarray]:
    """Every array of a table file, read by ``np.load`` with no check (the format-1 reader)."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


@pytest.mark.benchmark(group="load-checks")
def test_load_checks_nasfast(benchmark: Any) -> None:
    path = _registry.PACKAGE_DATA / "nb101-surrogate.npz"
    bench = benchmark.pedantic(read_table, args=(path,), rounds=20, warmup_rounds=1, iterations=1)
    record(benchmark, "nasfast", "time", operation="read nb101-surrogate.npz with every check (CRC-32 of each array, index order)")
    assert np.array_equal(bench.values(), _unchecked_read(path)["metric:val_acc_108"])


@pytest.mark.benchmark(group="load-checks")
def test_load_checks_baseline(benchmark: Any) -> None:
    path = _registry.PACKAGE_DATA / "nb101-surrogate.npz"
    arrays = benchmark.pedantic(_unchecked_read, args=(path,), rounds=20, warmup_rounds=1, iterations=1)
    record(benchmark, "baseline", "time", detail="np.load of the same arrays, no check")
    assert np.array_equal(arrays["metric:val_acc_108"], read_table(path).values())


# ------------------------------------------------------------------------------- TFRecord
def _metrics_message(values: np.ndarray, params: int) -> bytes:
    """ModelMetrics with 3 evaluations (start, halfway, end); ``values`` = (time, train, val, test)."""

    def evaluation(epoch: float, t: float, a: float, b: float, c: float) -> bytes:
        body = b"".join(bytes([f << 3 | 1]) + struct.pack("<d", v) for f, v in enumerate((epoch, t, a, b, c), start=1))
        return bytes([0x0A, len(body)]) + body

    out = evaluation(0.0, 0.0, 0.1, 0.1, 0.1) + evaluation(54.0, *(values * 0.5)) + evaluation(108.0, *values)
    varint = bytearray()
    while True:
        byte, params = params & 0x7F, params >> 7
        varint.append(byte | (0x80 if params else 0))
        if not params:
            break
    return out + b"\x10" + bytes(varint) + b"\x19" + struct.pack("<d", float(values[0]) + 60.0)


@pytest.fixture(scope="module")
def official_size_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A synthetic nasbench_only108-sized file: every NB101 cell, 3 runs, run-major order."""
    space = SearchSpace.nb101()
    cells = space.enumerate()
    hashes = cells.nb101_hashes()
    rng = np.random.default_rng(SEED)
    # float32 values, as in the official data: (time, train, val, test) per cell and run
    values = np.stack(
        [
            rng.uniform(300, 5000, (len(cells), RUNS)),
            rng.uniform(0.9, 1.0, (len(cells), RUNS)),
            rng.uniform(0.1, 0.95, (len(cells), RUNS)),
            rng.uniform(0.1, 0.95, (len(cells), RUNS)),
        ],
        axis=-1,
    ).astype(np.float32).astype(np.float64)
    params = rng.integers(200_000, 50_000_000, len(cells))
    adjacency, operations = [], []
    for v, a, o in zip(cells.num_vertices.tolist(), cells.adjacency, cells.ops):
        adjacency.append((a[:v, :v] + ord("0")).astype(np.uint8).tobytes().decode())
        operations.append(",".join(OP_NAMES[int(c)] for c in o[:v]))
    records = []
    for run in range(RUNS):
        for i in range(len(cells)):
            m = base64.b64encode(_metrics_message(values[i, run], int(params[i]))).decode()
            records.append(f'["{hashes[i]}", 108, "{adjacency[i]}", "{operations[i]}", "{m}"]'.encode())
    lengths = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    data = np.frombuffer(b"".join(records), dtype=np.uint8)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    data_crc = previous.mask_crc(previous.crc32c_many(data, starts, lengths))
    length_bytes = np.frombuffer(lengths.astype("<u8").tobytes(), dtype=np.uint8)
    length_crc = previous.mask_crc(previous.crc32c_many(length_bytes, np.arange(len(lengths)) * 8, np.full(len(lengths), 8)))
    path = tmp_path_factory.mktemp("tfrecord") / "synthetic_only108.tfrecord"
    with open(path, "wb") as fh:
        for n, lc, rec, dc in zip(lengths.tolist(), length_crc.tolist(), records, data_crc.tolist()):
            fh.write(struct.pack("<QI", n, lc) + rec + struct.pack("<I", dc))
    return path, values, hashes


def _check_import(bench: Any, values: np.ndarray, hashes: np.ndarray) -> None:
    """The table holds every cell, each run's values and their means as written."""
    assert len(bench) == len(hashes)
    order = SearchSpace.nb101().index_of(bench.cells)
    assert np.array_equal(np.sort(order), np.arange(len(hashes)))
    for run in range(RUNS):
        assert np.array_equal(bench.values(f"val_acc_108_run{run + 1}"), values[order, run, 2])
        assert np.array_equal(bench.values(f"train_time_108_run{run + 1}_s"), values[order, run, 0])
    assert np.allclose(bench.values("val_acc_108"), values[order, :, 2].mean(axis=1), rtol=1e-15, atol=0)
    assert np.allclose(bench.values("test_acc_108"), values[order, :, 3].mean(axis=1), rtol=1e-15, atol=0)
    assert np.allclose(bench.values("train_time_108_s"), values[order, :, 0].mean(axis=1), rtol=1e-15, atol=0)


@pytest.mark.benchmark(group="import-tfrecord")
def test_import_tfrecord_nasfast(benchmark: Any, official_size_file: tuple[Path, np.ndarray, np.ndarray]) -> None:
    path, values, hashes = official_size_file
    bench = benchmark.pedantic(from_nb101_tfrecord, args=(path,), rounds=3, iterations=1)
    record(
        benchmark, "nasfast", "time", operation="import a NB101 TFRecord of 1,270,872 records", target=5.0,
        target_op="<=", detail=f"{path.stat().st_size / 1e6:.0f} MB",
        threads=os.cpu_count() or 1,  # the core decodes the records on every core
    )
    _check_import(bench, values, hashes)


@pytest.mark.benchmark(group="import-tfrecord")
def test_import_tfrecord_baseline(benchmark: Any, official_size_file: tuple[Path, np.ndarray, np.ndarray]) -> None:
    path, values, hashes = official_size_file
    bench = benchmark.pedantic(previous.from_nb101_tfrecord, args=(path,), rounds=1, iterations=1)
    record(benchmark, "baseline", "time", detail="the previous importer: numpy CRC-32C, json scanner, numpy protobuf decoder")
    _check_import(bench, values, hashes)
