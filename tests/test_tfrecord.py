"""The TFRecord importer, on small files written here by independent writers.

Records are encoded by a hand-written protobuf encoder and by the official ``protobuf`` package
(messages defined at test time from a ``.proto``-equivalent descriptor, no ``protoc``); frames
by a table-driven CRC-32C checked against the bitwise definition. Nothing here shares code with
``nasfast.benchmarks``; expected values come straight from the JSON records.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pytest

import nb101_data
from nasfast import CellBatch, SearchSpace
from nasfast._core import read_nb101_tfrecord
from nasfast.benchmarks import TFRecordError, from_nb101_tfrecord, load
from nasfast.benchmarks._tfrecord import _table_of


# ----------------------------------------------------------------------------- independent writer
def bitwise_crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _crc_table_entry(byte: int) -> int:
    crc = byte
    for _ in range(8):
        crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc


_CRC_TABLE = [_crc_table_entry(b) for b in range(256)]


def ref_crc32c(data: bytes) -> int:
    """CRC-32C, byte at a time with the usual 256-entry table (checked against :func:`bitwise_crc32c`)."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
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


def model_metrics(evals: list[bytes], params: Optional[int], total: Optional[float], extra: bytes = b"") -> bytes:
    out = b"".join(len_field(1, e) for e in evals)
    if params is not None:
        out += varint(2 << 3 | 0) + varint(params)
    if total is not None:
        out += double_field(3, total)
    return out + extra


#: Fields 1 to 5 of EvaluationData, the columns of the decoded metrics.
METRIC_FIELDS = ("current_epoch", "training_time", "train_accuracy", "validation_accuracy", "test_accuracy")
#: One evaluation: values of METRIC_FIELDS (None: absent) and the checkpoint path.
Eval = tuple[Optional[float], Optional[float], Optional[float], Optional[float], Optional[float], str]
Encoder = Callable[[list[Eval], Optional[int], Optional[float]], bytes]


def hand_metrics(evals: list[Eval], params: Optional[int], total: Optional[float]) -> bytes:
    """ModelMetrics by the hand-written encoder above (every field present, in field order)."""
    assert all(v is not None for e in evals for v in e[:5])
    return model_metrics([evaluation(*e) for e in evals], params, total)  # type: ignore[arg-type]


_CLASSES: dict[bool, tuple[Any, Any]] = {}


def message_classes(extended: bool = False) -> tuple[Any, Any]:
    """``(ModelMetrics, EvaluationData)`` of NAS-Bench-101's ``model_metrics.proto`` (proto2),
    built by the official ``protobuf`` package from a descriptor written here. ``extended`` adds
    fields the importer does not know (it must skip them), of every wire type."""
    if extended not in _CLASSES:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

        F = descriptor_pb2.FieldDescriptorProto
        optional, repeated = F.LABEL_OPTIONAL, F.LABEL_REPEATED
        proto = descriptor_pb2.FileDescriptorProto(name="model_metrics.proto", package="nasbench", syntax="proto2")
        ev = proto.message_type.add(name="EvaluationData")
        for number, name in enumerate(METRIC_FIELDS, start=1):
            ev.field.add(name=name, number=number, type=F.TYPE_DOUBLE, label=optional)
        ev.field.add(name="checkpoint_path", number=6, type=F.TYPE_STRING, label=optional)
        mm = proto.message_type.add(name="ModelMetrics")
        mm.field.add(name="evaluation_data", number=1, type=F.TYPE_MESSAGE, type_name=".nasbench.EvaluationData", label=repeated)
        mm.field.add(name="trainable_parameters", number=2, type=F.TYPE_INT32, label=optional)
        mm.field.add(name="total_time", number=3, type=F.TYPE_DOUBLE, label=optional)
        if extended:
            ev.field.add(name="note", number=7, type=F.TYPE_STRING, label=optional)
            ev.field.add(name="steps", number=8, type=F.TYPE_SINT64, label=optional)
            ev.field.add(name="loss", number=9, type=F.TYPE_FLOAT, label=repeated)
            mm.field.add(name="tags", number=4, type=F.TYPE_STRING, label=repeated)
            mm.field.add(name="seed", number=5, type=F.TYPE_UINT64, label=optional)
            mm.field.add(name="best", number=6, type=F.TYPE_MESSAGE, type_name=".nasbench.EvaluationData", label=optional)
            mm.field.add(name="weights", number=100_000, type=F.TYPE_FIXED64, label=repeated)
            packed = mm.field.add(name="sizes", number=7, type=F.TYPE_INT32, label=repeated)
            packed.options.packed = True
        pool = descriptor_pool.DescriptorPool()
        pool.Add(proto)
        get_class = getattr(message_factory, "GetMessageClass", None)
        if get_class is None:  # protobuf < 4.22
            get_class = message_factory.MessageFactory(pool).GetPrototype
        _CLASSES[extended] = (
            get_class(pool.FindMessageTypeByName("nasbench.ModelMetrics")),
            get_class(pool.FindMessageTypeByName("nasbench.EvaluationData")),
        )
    return _CLASSES[extended]


def protobuf_metrics(
    evals: list[Eval], params: Optional[int], total: Optional[float], rng: Optional[np.random.Generator] = None
) -> bytes:
    """ModelMetrics serialised by the official package; with ``rng``, unknown fields added too."""
    model_metrics_class, _ = message_classes(extended=rng is not None)
    m = model_metrics_class()
    for e in evals:
        ev = m.evaluation_data.add()
        for name, v in zip(METRIC_FIELDS, e[:5]):
            if v is not None:
                setattr(ev, name, v)
        if e[5]:
            ev.checkpoint_path = e[5]
        if rng is not None and rng.random() < 0.5:
            ev.note = "n\u00f6te " * int(rng.integers(0, 40))
            ev.steps = int(rng.integers(-(2**40), 2**40))
            ev.loss.extend(rng.random(int(rng.integers(0, 4))).tolist())
    if params is not None:
        m.trainable_parameters = params
    if total is not None:
        m.total_time = total
    if rng is not None:
        m.tags.extend(["t"] * int(rng.integers(0, 3)))
        if rng.random() < 0.5:
            m.seed = int(rng.integers(0, 2**63))
            m.best.validation_accuracy = 2.0  # a nested unknown message that looks like an evaluation
            m.weights.extend([1, 2**64 - 1])
            m.sizes.extend([300, -1, 70000])
    return bytes(m.SerializeToString())


def official_final(message: bytes) -> tuple[list[float], int, int]:
    """The final evaluation (largest current_epoch, the last on ties; absent or NaN epochs count as
    -inf), trainable_parameters (-1 when absent) and the number of evaluations, by the official
    parser."""
    m = message_classes()[0].FromString(message)
    best, best_epoch = None, -math.inf
    for ev in m.evaluation_data:
        epoch = ev.current_epoch if ev.HasField("current_epoch") and not math.isnan(ev.current_epoch) else -math.inf
        if best is None or epoch >= best_epoch:
            best, best_epoch = ev, epoch
    values = [getattr(best, f) if best is not None and best.HasField(f) else math.nan for f in METRIC_FIELDS]
    params = m.trainable_parameters if m.HasField("trainable_parameters") else -1
    return values, params, len(m.evaluation_data)


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


def record_text(h: str, epochs: Any, adjacency: str, operations: str, metrics: bytes) -> bytes:
    return json.dumps([h, epochs, adjacency, operations, base64.b64encode(metrics).decode()]).encode()


def record(h: str, rec: dict[str, Any], epochs: int, run: int, encode: Encoder = hand_metrics) -> bytes:
    t, tr, va, te = run_values(rec, epochs, run)
    r = rec["runs_108"][run]
    halfway = ("halfway_training_time", "halfway_train_accuracy", "halfway_validation_accuracy", "halfway_test_accuracy")
    evals: list[Eval] = [
        (0.0, 0.0, 0.1, 0.1, 0.1, ""),
        (epochs / 2, *(r[k] for k in halfway), ""),  # type: ignore[list-item]
        (float(epochs), t, tr, va, te, f"/ckpt/{h}/model.ckpt-{epochs}"),
    ]
    metrics = encode(evals, rec["trainable_parameters"], t + 100.0)
    adjacency = "".join(str(int(b)) for row in rec["module_adjacency"] for b in row)
    return record_text(h, epochs, adjacency, ",".join(rec["module_operations"]), metrics)


def write_file(path: Path, records: list[bytes]) -> list[int]:
    """Write the records; return the byte offset of each."""
    offsets, out = [], bytearray()
    for data in records:
        offsets.append(len(out))
        out += frame(data)
    path.write_bytes(bytes(out))
    return offsets


def dummy_file(
    tmp_path: Path, budgets: tuple[int, ...] = BUDGETS, encode: Encoder = hand_metrics
) -> tuple[Path, dict[str, Any], list[int]]:
    recs = dummy_records()
    # Runs of a cell are not adjacent in the file: run-major order, as a real file may be.
    records = [record(h, rec, e, run, encode) for run in range(3) for e in budgets for h, rec in recs.items()]
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
def test_reference_crc_known_vector() -> None:
    assert bitwise_crc32c(b"123456789") == 0xE3069283
    data = bytes(range(256)) * 3
    assert ref_crc32c(b"123456789") == 0xE3069283 and ref_crc32c(data) == bitwise_crc32c(data)


# ----------------------------------------------------------------------------- import
@pytest.mark.parametrize("encode", [hand_metrics, protobuf_metrics], ids=["hand-encoder", "protobuf"])
def test_import_matches_json(tmp_path: Path, encode: Encoder) -> None:
    path, recs, _ = dummy_file(tmp_path, encode=encode)
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
        json.dumps([items[0][0], 108, "0100", "input,output", "@@@@"]).encode(): "base64",
        json.dumps([items[0][0], 108, "0100", "input,output", "QQ=AQUJD"]).encode(): "base64",
        json.dumps([items[0][0], 108, "0100", "input,output", "QUJ"]).encode(): "base64",
        good[0][:-1]: "not valid JSON",
        good[0] + b" [1]": "not valid JSON",
        json.dumps([items[0][0], 108, "0100", "input,output", base64.b64encode(b"\x0b\x00").decode()]).encode(): "ModelMetrics",
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


def test_isomorphic_cells_under_two_hashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two hashes naming isomorphic cells; with every hash checked one of them does not match
    its cell, and when hashes are only sampled (large files) the table refuses the duplicate."""
    from nasfast import CellSpec
    from nasfast.benchmarks import _tfrecord

    metrics = hand_metrics([(108.0, 1.0, 1.0, 0.9, 0.9, "")], 5, 1.0)
    adjacency = "0110000100010000"  # 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3
    a = record_text("", 108, adjacency, "input,conv3x3-bn-relu,maxpool3x3,output", metrics)
    b = record_text("", 108, adjacency, "input,maxpool3x3,conv3x3-bn-relu,output", metrics)
    matrix = np.array([int(c) for c in adjacency]).reshape(4, 4).tolist()
    real_hash = CellSpec(matrix, ["input", "conv3x3-bn-relu", "maxpool3x3", "output"]).nb101_hash()
    a = a.replace(b'[""', f'["{real_hash}"'.encode())
    b = b.replace(b'[""', b'["' + b"f" * 32 + b'"')
    path = tmp_path / "iso.tfrecord"
    offsets = write_file(path, [a, b])
    with pytest.raises(TFRecordError, match=f"record 1 at byte offset {offsets[1]}: module_hash f{{32}} does not match"):
        from_nb101_tfrecord(path)
    monkeypatch.setattr(_tfrecord, "_HASH_CHECKS", 0)
    with pytest.raises(TFRecordError, match=f"record 1 at byte offset {offsets[1]}: module_hash f{{32}} names a cell isomorphic to the cell of module_hash {real_hash} \\(record at byte offset 0\\)"):
        from_nb101_tfrecord(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.tfrecord"
    path.write_bytes(b"")
    with pytest.raises(TFRecordError, match="no records"):
        from_nb101_tfrecord(path)


# ----------------------------------------------------------------------------- protobuf
#: The first row of the published data set (docs: the hash's test vector).
VECTOR_HASH = "00005c142e6f48ac74fdcf73e3439874"
VECTOR_ADJACENCY = "".join(
    "1" if (i, j) in {(0, 1), (0, 4), (0, 5), (1, 2), (2, 3), (2, 6), (3, 5), (4, 5), (5, 6)} else "0"
    for i in range(7)
    for j in range(7)
)
VECTOR_OPS = "input,conv3x3-bn-relu,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu,conv1x1-bn-relu,output"


def decode(messages: list[bytes], n_jobs: int = 1) -> dict[str, np.ndarray]:
    """The core's decoding of one record per message (all of the test vector's cell)."""
    data = b"".join(frame(record_text(VECTOR_HASH, 108, VECTOR_ADJACENCY, VECTOR_OPS, m)) for m in messages)
    return read_nb101_tfrecord(data, SearchSpace.nb101(), n_jobs=n_jobs)


SPECIAL = (math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308)


def random_message(rng: np.random.Generator) -> tuple[list[Eval], Optional[int], Optional[float]]:
    evals: list[Eval] = []
    for _ in range(int(rng.integers(1, 5))):
        values: list[Optional[float]] = []
        for f in range(5):
            u = rng.random()
            if u < 0.1:
                values.append(None)
            elif u < 0.16:
                values.append(SPECIAL[int(rng.integers(len(SPECIAL)))])
            elif f == 0:
                values.append(float(rng.choice([0.0, 4.0, 12.0, 54.0, 108.0])))  # ties on purpose
            else:
                values.append(float(rng.normal() * 10.0 ** int(rng.integers(-3, 4))))
        evals.append((*values, "" if rng.random() < 0.5 else "/ckpt/m\u00f6del.ckpt"))  # type: ignore[arg-type]
    params = [None, -1, -(2**31), 2**31 - 1, 0, int(rng.integers(1, 50_000_000))][int(rng.integers(6))]
    total = None if rng.random() < 0.2 else float(rng.random() * 1e4)
    return evals, params, total


def direct_final(evals: list[Eval]) -> list[float]:
    """The final evaluation straight from the values written (the rule of :func:`official_final`)."""
    best: Optional[Eval] = None
    best_epoch = -math.inf
    for e in evals:
        epoch = e[0] if e[0] is not None and not math.isnan(e[0]) else -math.inf
        if best is None or epoch >= best_epoch:
            best, best_epoch = e, epoch
    assert best is not None
    return [math.nan if v is None else v for v in best[:5]]


def bits(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).view(np.uint64)


def test_decoder_matches_official_protobuf() -> None:
    """Messages serialised by the official package (absent fields, NaN, infinities, -0.0, ties,
    negative int32, unknown fields of every wire type) decode to what its parser reads."""
    rng = np.random.default_rng(3)
    messages, expected, params = [], [], []
    for i in range(400):
        evals, p, total = random_message(rng)
        msg = protobuf_metrics(evals, p, total, rng=rng if i % 2 else None)
        values, official_params, count = official_final(msg)
        assert bits(values).tolist() == bits(direct_final(evals)).tolist() and count == len(evals)
        assert official_params == (-1 if p is None else p)
        messages.append(msg)
        expected.append(values)
        params.append(official_params)
    got = decode(messages)
    assert got["metrics"].dtype == np.float64 and got["metrics"].shape == (400, 5)
    assert np.array_equal(got["metrics"].view(np.uint64), bits(expected))
    assert got["params"].tolist() == params
    assert got["hashes"].tolist() == [VECTOR_HASH] and got["cell_index"].tolist() == [0] * 400


def wire_fields(buf: bytes, overflow: list[int]) -> list[tuple[int, int, bytes]]:
    """(field, wire type, payload) of a message, by the protobuf wire format (ValueError if
    malformed); the position of each varint with bits beyond the 64th is appended to ``overflow``."""

    def read_varint(pos: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            if pos >= len(buf) or shift > 63:
                raise ValueError("bad varint")
            byte = buf[pos]
            if shift == 63 and byte > 1:
                overflow.append(pos)
            value |= (byte & 0x7F) << shift
            pos, shift = pos + 1, shift + 7
            if byte < 0x80:
                return value, pos

    out, pos, groups = [], 0, []
    while pos < len(buf):
        key, pos = read_varint(pos)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise ValueError("field 0")
        start = pos
        if wire == 0:
            _, pos = read_varint(pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            n, pos = read_varint(pos)
            start, pos = pos, pos + n
        elif wire == 5:
            pos += 4
        elif wire == 3:
            groups.append(field)
        elif wire == 4:
            if not groups or groups.pop() != field:
                raise ValueError("unmatched group end")
        else:
            raise ValueError(f"wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated")
        if not groups or wire == 3:
            out.append((field, wire, buf[start:pos]))
    if groups:
        raise ValueError("unterminated group")
    return out


def stricter_than_protobuf(msg: bytes) -> Optional[str]:
    """Why nasfast refuses a message that protobuf reads: a field of ModelMetrics or
    EvaluationData written with another wire type than its declared one (protobuf keeps it as an
    unknown field and reports the value as absent), or a varint with bits beyond the 64th
    (protobuf drops them); None if neither."""
    top = {1: 2, 2: 0, 3: 1}
    nested = {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 2}
    overflow: list[int] = []
    fields = wire_fields(msg, overflow)
    for field, wire, payload in fields:
        if field in top and wire != top[field]:
            return "other wire type"
        if field == 1 and wire == 2 and any(f in nested and w != nested[f] for f, w, _ in wire_fields(payload, overflow)):
            return "other wire type"
    return "varint beyond 64 bits" if overflow else None


def test_corrupt_messages_are_refused_unless_protobuf_reads_the_same() -> None:
    """Truncated, altered and extended messages: nasfast either reads what the official parser
    reads, or refuses the message (naming the record), because protobuf refuses it too, or it
    has no evaluation, or it is damaged in a way protobuf reads past (:func:`stricter_than_protobuf`)."""
    from google.protobuf.message import DecodeError

    rng = np.random.default_rng(4)
    cases: list[bytes] = []
    for i in range(30):
        evals, p, total = random_message(rng)
        msg = protobuf_metrics(evals, p, total, rng=rng if i % 3 == 0 else None)
        cases += [msg[:cut] for cut in range(len(msg))]
        for j in range(40):
            # odd j: only the low 3 bits, which are the wire type when the byte is a tag
            at, xor = int(rng.integers(len(msg))), int(rng.integers(1, 8 if j % 2 else 256))
            cases.append(msg[:at] + bytes([msg[at] ^ xor]) + msg[at + 1 :])
        cases.append(msg + rng.bytes(int(rng.integers(1, 6))))
    ev = len_field(1, evaluation(108.0, 1.0, 0.2, 0.3, 0.4))
    cases += [
        ev + varint(2 << 3 | 1) + struct.pack("<d", 1.0),  # trainable_parameters as a fixed64
        len_field(1, varint(4 << 3 | 0) + varint(3)),  # validation_accuracy as a varint
        ev + varint(2 << 3) + b"\xff" * 9 + b"\x7f",  # a varint of 70 bits
    ]
    counts = {"same values": 0, "both refuse": 0, "no evaluation": 0, "other wire type": 0, "varint beyond 64 bits": 0}
    for msg in cases:
        try:
            theirs: Optional[tuple[list[float], int, int]] = official_final(msg)
        except DecodeError:
            theirs = None
        try:
            ours = decode([msg])
        except TFRecordError as exc:
            assert str(exc).startswith("record 0 at byte offset 0: metrics"), str(exc)
            if theirs is None:
                counts["both refuse"] += 1
            elif theirs[2] == 0:
                counts["no evaluation"] += 1
            else:
                reason = stricter_than_protobuf(msg)
                assert reason is not None, (msg.hex(), str(exc))
                counts[reason] += 1
            continue
        assert theirs is not None, msg.hex()
        assert bits(ours["metrics"][0]).tolist() == bits(theirs[0]).tolist(), msg.hex()
        assert ours["params"][0] == theirs[1]
        counts["same values"] += 1
    assert sum(counts.values()) == len(cases) > 2000
    assert min(counts.values()) >= 1, counts  # every outcome is exercised


def test_hand_written_wire_variants_match_protobuf() -> None:
    """Encodings the official serialiser never writes but its parser reads: fields out of order,
    a repeated scalar (the last value wins), negative int32 on 10 bytes and on 5, non-minimal
    varints, unknown groups, varints, fixed32 and fixed64."""
    ev = evaluation(108.0, 1.0, 0.2, 0.3, 0.4)
    ev_reversed = b"".join(double_field(f, v) for f, v in reversed(list(enumerate((12.0, 5.0, 0.6, 0.7, 0.8), start=1))))
    group = varint(20 << 3 | 3) + varint(1 << 3 | 0) + varint(5) + varint(20 << 3 | 4)
    variants = [
        double_field(3, 2.5) + varint(2 << 3) + varint(-5) + len_field(1, ev),
        len_field(1, ev_reversed) + len_field(1, ev) + double_field(3, 1.0) + double_field(3, 2.0),
        len_field(1, ev + double_field(4, 0.99)) + varint(2 << 3) + varint(7) + varint(2 << 3) + varint(9),
        len_field(1, ev) + varint(2 << 3) + b"\xff\xff\xff\xff\x0f",  # -1 written on 5 bytes
        len_field(1, ev) + varint(2 << 3) + b"\x85\x80\x80\x00",  # 5, non-minimal
        group + len_field(1, group + ev) + varint(30 << 3 | 5) + b"abcd" + varint(31 << 3 | 1) + b"12345678",
        len_field(1, ev_reversed),
    ]
    got = decode(variants)
    for row, msg in enumerate(variants):
        values, params, _ = official_final(msg)
        assert bits(got["metrics"][row]).tolist() == bits(values).tolist(), row
        assert got["params"][row] == params, row
    assert got["metrics"][2, 3] == 0.99 and got["params"][2] == 9 and got["params"][3] == -1


# ----------------------------------------------------------------------------- reliability
@pytest.mark.parametrize(
    "epochs, message",
    [
        ("1" + "0" * 30, "epochs is 1e\\+30, expected a positive integer"),
        ("-5", "epochs = -5: must be a positive integer"),
        ("0", "epochs = 0: must be a positive integer"),
        ("108.0", "epochs is 108.0, expected a positive integer"),
        ('"108"', 'epochs is "108", expected a positive integer'),
        ("true", "epochs is true, expected a positive integer"),
        ("2147483648", "epochs = 2147483648: must be a positive integer of at most 2147483647"),
    ],
)
def test_epochs_must_be_a_positive_integer(tmp_path: Path, epochs: str, message: str) -> None:
    good = record_text(VECTOR_HASH, 108, VECTOR_ADJACENCY, VECTOR_OPS, hand_metrics([(108.0, 1.0, 1.0, 0.9, 0.9, "")], 5, 1.0))
    bad = good.replace(b", 108, ", f", {epochs}, ".encode())
    assert bad != good
    path = tmp_path / "epochs.tfrecord"
    offsets = write_file(path, [good, bad])
    with pytest.raises(TFRecordError, match=f"^record 1 at byte offset {offsets[1]}: {message}"):
        from_nb101_tfrecord(path)


def test_directory_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TFRecordError, match="is a directory, not a TFRecord file"):
        from_nb101_tfrecord(tmp_path)
    with pytest.raises(FileNotFoundError):
        from_nb101_tfrecord(tmp_path / "absent.tfrecord")


def small_file(tmp_path: Path, n: int = 6) -> tuple[Path, list[tuple[str, dict[str, Any]]], list[int]]:
    """One 108-epoch run of each of the first ``n`` dummy cells."""
    items = list(dummy_records().items())[:n]
    path = tmp_path / "small.tfrecord"
    offsets = write_file(path, [record(h, rec, 108, 0) for h, rec in items])
    return path, items, offsets


def check_first_runs(bench: Any, items: list[tuple[str, dict[str, Any]]], skip: int = -1) -> None:
    """The table holds exactly the runs of ``items`` (each run 1 at 108 epochs), record ``skip``
    excepted."""
    for k, (h, rec) in enumerate(items):
        if k == skip:
            continue
        cell = cell_of(rec)
        t, tr, va, te = run_values(rec, 108, 0)
        got = [bench.query(cell, m)[0] for m in ("train_time_108_run1_s", "train_acc_108_run1", "val_acc_108_run1", "test_acc_108_run1")]
        assert got == [np.float32(x) for x in (t, tr, va, te)], (k, h)
        assert bench.query(cell, "params")[0] == rec["trainable_parameters"]


def test_fault_injection_flipped_bytes_and_truncation(tmp_path: Path) -> None:
    """Every byte of a small file altered, and the file cut at every length: the import refuses
    with TFRecordError naming the offset of the damaged record, or (cut between records) imports
    exactly the records kept."""
    path, items, offsets = small_file(tmp_path)
    data = path.read_bytes()
    starts = np.array(offsets)
    rng = np.random.default_rng(5)
    refused = 0
    # the file's bytes go straight to the importer's pipeline (writing thousands of files is slow)
    for at in range(len(data)):
        xor = 1 << (at % 8) if at % 3 else int(rng.integers(1, 256))  # every bit, and whole bytes
        owner = int(starts[starts <= at].max())
        with pytest.raises(TFRecordError, match=f"byte offset {owner} "):
            _table_of(data[:at] + bytes([data[at] ^ xor]) + data[at + 1 :], "damaged", "t")
        refused += 1
    imported = 0
    for cut in range(len(data)):
        if cut == 0:
            with pytest.raises(TFRecordError, match="no records"):
                _table_of(data[:cut], "damaged", "t")
            refused += 1
        elif cut in offsets:
            kept = offsets.index(cut)
            bench = _table_of(data[:cut], "damaged", "t")
            assert len(bench) == kept
            check_first_runs(bench, items[:kept])
            imported += 1
        else:
            owner = int(starts[starts < cut].max())
            with pytest.raises(TFRecordError, match=f"^truncated record.* at byte offset {owner}:"):
                _table_of(data[:cut], "damaged", "t")
            refused += 1
    assert (refused, imported) == (2 * len(data) - len(items) + 1, len(items) - 1)


def test_fault_injection_altered_records_with_valid_crcs(tmp_path: Path) -> None:
    """Every byte of every record altered and the CRCs recomputed (damage the framing cannot
    see): the import refuses with TFRecordError naming the altered record, or imports, and then
    every other record's values are exactly as written. Never another exception."""
    _, items, _ = small_file(tmp_path, n=4)
    records = [record(h, rec, 108, 0) for h, rec in items]
    rng = np.random.default_rng(6)
    outcomes = {"refused": 0, "imported": 0}
    for k, rec in enumerate(records):
        for at in range(len(rec)):
            bad = rec[:at] + bytes([rec[at] ^ int(rng.integers(1, 256))]) + rec[at + 1 :]
            frames = [frame(r) for r in records[:k] + [bad] + records[k + 1 :]]
            try:
                bench = _table_of(b"".join(frames), "altered", "t")
            except TFRecordError as exc:
                assert f"record {k} at byte offset {sum(map(len, frames[:k]))}:" in str(exc), str(exc)
                outcomes["refused"] += 1
                continue
            check_first_runs(bench, items, skip=k)
            outcomes["imported"] += 1
    assert sum(outcomes.values()) == sum(map(len, records))
    assert outcomes["refused"] > 1000 and outcomes["imported"] > 50, outcomes


def test_threads_do_not_change_the_result(tmp_path: Path) -> None:
    """3,600 records (above the core's threshold for threads): 1 and 2 threads, same table."""
    recs = dummy_records()
    # ten copies of every run: runs 1 to 30 per cell and budget
    rows = [record(h, rec, e, run) for _ in range(10) for run in range(3) for e in BUDGETS for h, rec in recs.items()]
    path = tmp_path / "big.tfrecord"
    write_file(path, rows)
    one = from_nb101_tfrecord(path, n_jobs=1)
    two = from_nb101_tfrecord(path, n_jobs=2)
    assert len(rows) >= 3000 and one.metrics == two.metrics and len(one) == 30
    for m in one.metrics:
        assert np.array_equal(one.values(m), two.values(m), equal_nan=True), m
    assert np.array_equal(one.cells.nb101_hashes(), two.cells.nb101_hashes())
