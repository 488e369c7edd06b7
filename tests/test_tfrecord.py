"""The TFRecord importer, on small files written here by an independent writer.

The writer below (bitwise CRC-32C, hand-rolled protobuf encoder, plain-Python JSON) shares no
code with ``nasfast.benchmarks``; expected values come straight from the JSON records.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasfast import CellBatch, SearchSpace
from nasfast.benchmarks import TFRecordError, from_nb101_tfrecord, load
from nasfast.benchmarks._crc32c import crc32c, crc32c_many
from nasfast.benchmarks._tfrecord import decode_model_metrics

import nb101_data



# ----------------------------------------------------------------------------- independent writer
def ref_crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def ref_masked(data: bytes) -> int:
    crc = ref_crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", ref_masked(length)) + data + struct.pack("<I", ref_masked(data))


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def double_field(field: int, value: float) -> bytes:
    return varint(field << 3 | 1) + struct.pack("<d", value)


def len_field(field: int, payload: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def evaluation(epoch: float, time_s: float, train: float, val: float, test: float, checkpoint: str = "") -> bytes:
    out = b"".join(double_field(f, v) for f, v in enumerate((epoch, time_s, train, val, test), start=1))
    if checkpoint:
        out += len_field(6, checkpoint.encode())
    return out


def model_metrics(evals: list[bytes], params: int | None, total: float | None, extra: bytes = b"") -> bytes:
    out = b"".join(len_field(1, e) for e in evals)
    if params is not None:
        out += varint(2 << 3 | 0) + varint(params)
    if total is not None:
        out += double_field(3, total)
    return out + extra


def dummy_records() -> dict[str, Any]:
    return nb101_data.dummy30()


BUDGETS = (4, 12, 36, 108)


def run_values(rec: dict[str, Any], epochs: int, run: int) -> tuple[float, float, float, float]:
    """(train_time, train_acc, val_acc, test_acc) of a run: the real 108-epoch values, scaled for
    the shorter budgets so that every budget has its own values."""
    r = rec["runs_108"][run]
    scale = {4: 0.5, 12: 0.7, 36: 0.9, 108: 1.0}[epochs]
    return (
        r["final_training_time"] * epochs / 108,
        r["final_train_accuracy"] * scale,
        r["final_validation_accuracy"] * scale,
        r["final_test_accuracy"] * scale,
    )


def record(h: str, rec: dict[str, Any], epochs: int, run: int) -> bytes:
    t, tr, va, te = run_values(rec, epochs, run)
    r = rec["runs_108"][run]
    evals = [
        evaluation(0.0, 0.0, 0.1, 0.1, 0.1),
        evaluation(epochs / 2, r["halfway_training_time"], r["halfway_train_accuracy"], r["halfway_validation_accuracy"], r["halfway_test_accuracy"]),
        evaluation(float(epochs), t, tr, va, te, checkpoint=f"/ckpt/{h}/model.ckpt-{epochs}"),
    ]
    metrics = model_metrics(evals, rec["trainable_parameters"], t + 100.0)
    adjacency = "".join(str(int(b)) for row in rec["module_adjacency"] for b in row)
    text = json.dumps([h, epochs, adjacency, ",".join(rec["module_operations"]), base64.b64encode(metrics).decode()])
    return text.encode()


def write_file(path: Path, records: list[bytes]) -> list[int]:
    """Write the records; return the byte offset of each."""
    offsets, out = [], bytearray()
    for data in records:
        offsets.append(len(out))
        out += frame(data)
    path.write_bytes(bytes(out))
    return offsets


def dummy_file(tmp_path: Path, budgets: tuple[int, ...] = BUDGETS) -> tuple[Path, dict[str, Any], list[int]]:
    recs = dummy_records()
    # Runs of a cell are not adjacent in the file: run-major order, as a real file may be.
    records = [record(h, rec, e, run) for run in range(3) for e in budgets for h, rec in recs.items()]
    path = tmp_path / "dummy.tfrecord"
    offsets = write_file(path, records)
    return path, recs, offsets


OP_CODES = {"input": -1, "output": -2, "conv3x3-bn-relu": 0, "conv1x1-bn-relu": 1, "maxpool3x3": 2}


def cell_of(rec: dict[str, Any]) -> CellBatch:
    v = len(rec["module_operations"])
    adj = np.zeros((1, 7, 7), dtype=np.uint8)
    adj[0, :v, :v] = rec["module_adjacency"]
    ops = np.full((1, 7), -3, dtype=np.int8)
    ops[0, :v] = [OP_CODES[o] for o in rec["module_operations"]]
    return CellBatch.from_arrays(adj, ops, SearchSpace.nb101())


# ----------------------------------------------------------------------------- CRC
def test_crc_known_vector_and_reference() -> None:
    assert crc32c(b"123456789") == 0xE3069283
    assert ref_crc32c(b"123456789") == 0xE3069283


def test_crc_many_matches_bitwise_reference() -> None:
    rng = np.random.default_rng(1)
    buf = rng.integers(0, 256, 6000, dtype=np.uint8)
    starts = rng.integers(0, 3000, 120)
    lengths = rng.integers(0, 1800, 120)  # crosses the 512-byte block size, includes 0
    lengths[:6] = [0, 1, 2, 3, 4, 512]
    lengths[6:9] = [513, 1024, 1537]
    got = crc32c_many(buf, starts, lengths)
    want = [ref_crc32c(buf[s : s + n].tobytes()) for s, n in zip(starts, lengths)]
    assert got.tolist() == want


# ----------------------------------------------------------------------------- protobuf
def test_decode_model_metrics_layouts() -> None:
    rng = np.random.default_rng(2)
    messages, expected = [], []
    for i in range(300):
        vals = rng.random(5).tolist()
        vals[0] = float(rng.integers(1, 200))
        params = [5, 300, 70000, 9_000_000, 2_000_000_000][i % 5]  # varints of 1..5 bytes
        evals = [evaluation(0.0, 0.0, 0.1, 0.1, 0.1), evaluation(*vals)]
        if i % 7 == 0:
            evals.reverse()  # the final evaluation is the one with the largest epoch, wherever it is
        extra = b""
        if i % 11 == 0:
            extra = varint(9 << 3 | 0) + varint(12345) + varint(10 << 3 | 5) + b"\x00\x01\x02\x03"  # unknown fields
        messages.append(model_metrics(evals, params, 3.5, extra))
        expected.append((vals, params))
    # Same length, different layout: the parameter varint and a missing total_time.
    messages.append(model_metrics([evaluation(4.0, 1.0, 0.2, 0.3, 0.4)], None, None, extra=double_field(15, 1.0)))
    expected.append(([4.0, 1.0, 0.2, 0.3, 0.4], -1))
    final, params, evals = decode_model_metrics(messages)
    for row, (vals, p) in enumerate(expected):
        assert final[row].tolist() == vals, row
        assert params[row] == p
    assert evals[:300].tolist() == [2] * 300


def test_decode_model_metrics_rejects_bad_messages() -> None:
    good = model_metrics([evaluation(1.0, 2.0, 0.1, 0.2, 0.3)], 10, 1.0)
    for bad in (good[:-3], b"\x0a\xff\xff\xff\x0f", b"\x0b\x00", varint(1 << 3 | 0) + b"\x05"):
        with pytest.raises(ValueError, match="message 1"):
            decode_model_metrics([good, bad])


# ----------------------------------------------------------------------------- import
def test_import_matches_json(tmp_path: Path) -> None:
    path, recs, _ = dummy_file(tmp_path)
    bench = from_nb101_tfrecord(path)
    assert len(bench) == len(recs) == 30
    assert bench.default_metric == "val_acc_108" and bench.cost_metric == "train_time_108_s"
    for h, rec in recs.items():
        cell = cell_of(rec)
        assert cell[0].nb101_hash() == h
        for e in BUDGETS:
            runs = [run_values(rec, e, r) for r in range(3)]
            for col, prefix, suffix in ((0, "train_time", "_s"), (1, "train_acc", ""), (2, "val_acc", ""), (3, "test_acc", "")):
                per_run = [np.float32(x[col]) for x in runs]
                for r in range(3):
                    assert bench.query(cell, f"{prefix}_{e}_run{r + 1}{suffix}")[0] == per_run[r]
                mean = sum(float(x) for x in per_run) / 3
                assert bench.query(cell, f"{prefix}_{e}{suffix}")[0] == pytest.approx(mean, rel=1e-12)
        assert bench.query(cell, "params")[0] == rec["trainable_parameters"]
        assert bench.cost(cell)[0] == pytest.approx(sum(float(np.float32(run_values(rec, 108, r)[0])) for r in range(3)) / 3)


def test_import_saves_for_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, recs, _ = dummy_file(tmp_path, budgets=(108,))
    monkeypatch.setenv("NASFAST_DATA_DIR", str(tmp_path / "cache"))
    with pytest.raises(KeyError, match="bench import nb101"):
        load("nb101-full")
    bench = from_nb101_tfrecord(path, save=True)
    assert (tmp_path / "cache" / "nb101-full.npz").is_file()
    again = load("nb101-full")
    assert len(again) == 30
    assert sorted(again.cells.nb101_hashes().tolist()) == sorted(recs)
    assert np.array_equal(again.query(bench.cells, "val_acc_108"), bench.values("val_acc_108"))
    assert np.array_equal(again.query(bench.cells, "val_acc_108_run2"), bench.values("val_acc_108_run2"))


def corrupt(path: Path, at: int, xor: int = 0x01) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= xor
    path.write_bytes(bytes(data))


def test_corrupt_data_names_offset(tmp_path: Path) -> None:
    path, _, offsets = dummy_file(tmp_path, budgets=(108,))
    corrupt(path, offsets[7] + 12 + 40)
    with pytest.raises(TFRecordError, match=f"corrupt record data at byte offset {offsets[7]}"):
        from_nb101_tfrecord(path)


def test_corrupt_data_crc_names_offset(tmp_path: Path) -> None:
    path, _, offsets = dummy_file(tmp_path, budgets=(108,))
    corrupt(path, offsets[12] - 2)  # the data CRC of record 11
    with pytest.raises(TFRecordError, match=f"byte offset {offsets[11]}"):
        from_nb101_tfrecord(path)


@pytest.mark.parametrize("byte, xor", [(0, 0x01), (0, 0x40), (3, 0x80), (9, 0x01)])
def test_corrupt_length_names_offset(tmp_path: Path, byte: int, xor: int) -> None:
    path, _, offsets = dummy_file(tmp_path, budgets=(108,))
    corrupt(path, offsets[5] + byte, xor)
    with pytest.raises(TFRecordError, match=f"corrupt record length at byte offset {offsets[5]}"):
        from_nb101_tfrecord(path)


@pytest.mark.parametrize("cut", [1, 5, 14, 200])
def test_truncated_file_names_offset(tmp_path: Path, cut: int) -> None:
    path, _, offsets = dummy_file(tmp_path, budgets=(108,))
    data = path.read_bytes()
    last = offsets[-1]
    path.write_bytes(data[: last + cut])
    with pytest.raises(TFRecordError, match=f"truncated record.* at byte offset {last}"):
        from_nb101_tfrecord(path)


def test_malformed_records_name_offset(tmp_path: Path) -> None:
    recs = dummy_records()
    items = list(recs.items())[:4]
    good = [record(h, rec, 108, 0) for h, rec in items]
    cases = {
        b"not json": "not valid JSON",
        json.dumps(["x", 108]).encode(): "expected the JSON list",
        json.dumps([items[0][0], "108", "0", "input", ""]).encode(): "epochs",
        json.dumps([items[0][0], 108, "01", "input,output", "@@@@"]).encode(): "base64",
        json.dumps([items[0][0], 108, "01", "input,output", "QQ=AQUJD"]).encode(): "base64",
        json.dumps([items[0][0], 108, "01", "input,output", "QUJ"]).encode(): "base64",
        good[0][:-1]: "not valid JSON",
        good[0] + b" [1]": "not valid JSON",
        json.dumps([items[0][0], 108, "01", "input,output", base64.b64encode(b"\x0b\x00").decode()]).encode(): "ModelMetrics",
    }
    for bad, message in cases.items():
        path = tmp_path / "bad.tfrecord"
        offsets = write_file(path, good[:2] + [bad] + good[2:])
        with pytest.raises(TFRecordError, match=f"record 2 at byte offset {offsets[2]}.*{message}"):
            from_nb101_tfrecord(path)


def test_whitespace_and_non_ascii_records(tmp_path: Path) -> None:
    recs = dummy_records()
    items = list(recs.items())[:3]
    records = [record(h, rec, 108, 0) for h, rec in items]
    records[1] = b"  " + records[1] + b"\n"  # still one JSON value
    path = tmp_path / "ws.tfrecord"
    write_file(path, records)
    assert len(from_nb101_tfrecord(path)) == 3
    text = json.loads(records[2])
    text[3] = text[3].replace("maxpool3x3", "maxpool3x3\u00e9", 1).replace("conv1x1-bn-relu", "conv1x1-bn-relu\u00e9", 1)
    offsets = write_file(path, records[:2] + [json.dumps(text, ensure_ascii=False).encode()])
    with pytest.raises(TFRecordError, match=f"record 2 at byte offset {offsets[2]}.*operations"):
        from_nb101_tfrecord(path)


def test_wrong_hash_and_unknown_op(tmp_path: Path) -> None:
    recs = dummy_records()
    (h0, r0), (h1, r1) = list(recs.items())[:2]
    swapped = dict(r0)
    text = json.loads(record(h0, r0, 108, 0))
    text[0] = h1  # the hash of another cell
    path = tmp_path / "bad.tfrecord"
    offsets = write_file(path, [record(h1, r1, 108, 0), json.dumps(text).encode()])
    with pytest.raises(TFRecordError, match=f"record 1 at byte offset {offsets[1]}.*another adjacency"):
        from_nb101_tfrecord(path)
    offsets = write_file(path, [record(h0, r0, 108, 0), json.dumps(text).encode()])
    with pytest.raises(TFRecordError, match=f"record 1 at byte offset {offsets[1]}.*does not match its cell"):
        from_nb101_tfrecord(path)
    text = json.loads(record(h0, swapped, 108, 0))
    text[3] = text[3].replace("conv3x3-bn-relu", "conv5x5", 1)
    offsets = write_file(path, [record(h1, r1, 108, 0), json.dumps(text).encode()])
    with pytest.raises(TFRecordError, match=f"record 1 at byte offset {offsets[1]}.*operations"):
        from_nb101_tfrecord(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.tfrecord"
    path.write_bytes(b"")
    with pytest.raises(TFRecordError, match="no records"):
        from_nb101_tfrecord(path)
