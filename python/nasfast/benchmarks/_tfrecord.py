"""Import the official NAS-Bench-101 TFRecord files without TensorFlow.

File layout (TFRecord): each record is ``uint64 length`` (little endian), ``uint32`` masked
CRC-32C of those 8 bytes, ``length`` bytes of data, ``uint32`` masked CRC-32C of the data. Both
CRCs are checked (see :mod:`._crc32c`, vectorised over all records).

Record data (NAS-Bench-101): the UTF-8 JSON list ``[module_hash, epochs, adjacency,
operations, metrics]``: the cell's NB101 hash, the epoch budget (4, 12, 36 or 108), the matrix as
a string of V*V ``0``/``1`` characters, the op names joined by ``,``, and a base64-encoded
protobuf ``ModelMetrics`` message of one training run::

    message ModelMetrics {
      repeated EvaluationData evaluation_data = 1;   // at start, halfway and at the end
      optional int32 trainable_parameters = 2;
      optional double total_time = 3;
    }
    message EvaluationData {
      optional double current_epoch = 1;
      optional double training_time = 2;
      optional double train_accuracy = 3;
      optional double validation_accuracy = 4;
      optional double test_accuracy = 5;
      optional string checkpoint_path = 6;
    }

Why a hand-written protobuf decoder rather than the ``protobuf`` package: the message has six
scalar field kinds in two levels, which the wire format (tag varints, fixed64 doubles,
length-delimited sub-messages) decodes in a few dozen lines; it spares a dependency and its
generated code; and decoding one message at a time would cost as much as the whole import budget.
Here messages are grouped by length and checked against the layout of one fully decoded message
of the group (every tag and length byte equal, varints of equal width), so the values of the
whole group are read with numpy; a message with another layout is decoded on its own.
Unknown fields are skipped, as protobuf does.
"""

from __future__ import annotations

import binascii
import gc
import json
import struct
from pathlib import Path
from typing import Union

import numpy as np
import numpy.typing as npt

from .._core import OP_INPUT, OP_OUTPUT, OP_PAD, CellBatch, InvalidCellError, SearchSpace
from ._crc32c import crc32c_many, mask_crc, masked_crc32c
from ._registry import FULL_NAME, check_name, data_dir
from ._table import TabularBenchmark, save_table

__all__ = ["MessageError", "TFRecordError", "decode_model_metrics", "from_nb101_tfrecord", "read_tfrecord_frames"]

NB101_CITATION = (
    "C. Ying, A. Klein, E. Real, E. Christiansen, K. Murphy, F. Hutter. NAS-Bench-101: Towards "
    "Reproducible Neural Architecture Search. ICML 2019. Data set released under the Apache-2.0 licence."
)
#: Columns of the decoded metrics (one row per record): the final evaluation of the run.
METRIC_COLUMNS = ("current_epoch", "training_time", "train_accuracy", "validation_accuracy", "test_accuracy")
#: How the imported metrics are named: {column: (prefix, suffix)} -> f"{prefix}_{epochs}{suffix}".
_NAMES = {
    "validation_accuracy": ("val_acc", ""),
    "test_accuracy": ("test_acc", ""),
    "train_accuracy": ("train_acc", ""),
    "training_time": ("train_time", "_s"),
}
#: Bytes of the base64 alphabet (without the padding ``=``).
_B64_ALPHABET = np.zeros(256, dtype=bool)
_B64_ALPHABET[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", dtype=np.uint8)] = True
#: Layouts tried per group of equal-length messages before decoding the rest one by one.
_MAX_LAYOUTS = 8
#: Cells whose NB101 hash is recomputed and compared with the record (all, in files this small).
_HASH_CHECKS = 2000


class TFRecordError(ValueError):
    """Corrupt, truncated or malformed TFRecord input; the message names the byte offset."""


class _ProtoError(ValueError):
    """A protobuf message cannot be decoded (the text gives the position inside the message)."""


class MessageError(ValueError):
    """Message ``index`` of a batch is not a valid ``ModelMetrics`` (``reason`` says why)."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"message {index}: not a valid ModelMetrics: {reason}")
        self.index = index
        self.reason = reason


# --------------------------------------------------------------------------- framing
def _stored_crcs(buf: npt.NDArray[np.uint8], at: npt.NDArray[np.int64]) -> npt.NDArray[np.uint32]:
    b = buf[at[:, None] + np.arange(4)].astype(np.uint32)
    return b[:, 0] | (b[:, 1] << np.uint32(8)) | (b[:, 2] << np.uint32(16)) | (b[:, 3] << np.uint32(24))


def _check_length_crcs(buf: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64]) -> None:
    if not len(offsets):
        return
    bad = mask_crc(crc32c_many(buf, offsets, np.full(len(offsets), 8))) != _stored_crcs(buf, offsets + 8)
    if bad.any():
        raise TFRecordError(f"corrupt record length at byte offset {int(offsets[np.argmax(bad)])} (CRC mismatch)")


def read_tfrecord_frames(data: bytes) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Split a TFRecord file into records and check both CRCs of every record.

    Parameters
    ----------
    data : bytes
        The whole file.

    Returns
    -------
    offsets, lengths : numpy.ndarray of int64
        Byte offset of each record (its length field) and the length of its data, which starts
        at ``offsets + 12``.

    Raises
    ------
    TFRecordError
        For a truncated file or a CRC mismatch, naming the byte offset of the record.
    """
    size = len(data)
    buf = np.frombuffer(data, dtype=np.uint8)
    unpack = struct.Struct("<Q").unpack_from
    offsets: list[int] = []
    lengths: list[int] = []
    pos = 0
    try:
        while pos < size:
            if pos + 12 > size:
                raise TFRecordError(f"truncated record header at byte offset {pos}: {size - pos} bytes left, a header has 12")
            (length,) = unpack(data, pos)
            end = pos + 16 + length
            if end > size:
                if masked_crc32c(data[pos : pos + 8]) != struct.unpack_from("<I", data, pos + 8)[0]:
                    raise TFRecordError(f"corrupt record length at byte offset {pos} (CRC mismatch)")
                raise TFRecordError(
                    f"truncated record at byte offset {pos}: its {length} data bytes and CRC end at byte {end}, "
                    f"the file has {size}"
                )
            offsets.append(pos)
            lengths.append(length)
            pos = end
    except TFRecordError:
        # A corrupt length earlier in the file misplaces every later frame: report it first.
        _check_length_crcs(buf, np.asarray(offsets, dtype=np.int64))
        raise
    off = np.asarray(offsets, dtype=np.int64)
    lens = np.asarray(lengths, dtype=np.int64)
    _check_length_crcs(buf, off)
    bad = mask_crc(crc32c_many(buf, off + 12, lens)) != _stored_crcs(buf, off + 12 + lens)
    if bad.any():
        raise TFRecordError(f"corrupt record data at byte offset {int(off[np.argmax(bad)])} (CRC mismatch)")
    return off, lens


# --------------------------------------------------------------------------- protobuf
def _varint(msg: bytes, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end:
            raise _ProtoError(f"truncated varint at byte {pos}")
        byte = msg[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift >= 70:
            raise _ProtoError(f"varint longer than 10 bytes at byte {pos}")


class _Layout:
    """Where a decoded message keeps its structure and its values (positions in the message)."""

    def __init__(self) -> None:
        self.fixed: list[int] = []  # tag and length bytes: must be equal for the same layout
        self.varint: list[int] = []  # varint payload bytes: must have the same continuation bits
        self.doubles: list[tuple[int, int]] = []  # (position, column): column 0 total_time, 1 + 5 e + f
        self.params: list[int] = []  # bytes of the trainable_parameters varint
        self.evals = 0


def _skip_or_read(msg: bytes, pos: int, end: int, wire: int, layout: _Layout) -> int:
    if wire == 0:
        start = pos
        _, pos = _varint(msg, pos, end)
        layout.varint.extend(range(start, pos))
        return pos
    if wire == 1:
        if pos + 8 > end:
            raise _ProtoError(f"truncated fixed64 at byte {pos}")
        return pos + 8
    if wire == 5:
        if pos + 4 > end:
            raise _ProtoError(f"truncated fixed32 at byte {pos}")
        return pos + 4
    if wire == 2:
        start = pos
        length, pos = _varint(msg, pos, end)
        layout.fixed.extend(range(start, pos))
        if pos + length > end:
            raise _ProtoError(f"length-delimited field of {length} bytes at byte {pos} runs past the end")
        return pos + length
    raise _ProtoError(f"unsupported wire type {wire} at byte {pos}")


def _tag(msg: bytes, pos: int, end: int, layout: _Layout) -> tuple[int, int, int]:
    start = pos
    key, pos = _varint(msg, pos, end)
    layout.fixed.extend(range(start, pos))
    return key >> 3, key & 7, pos


def _layout_of(msg: bytes) -> _Layout:
    """Decode one ``ModelMetrics`` message into its layout (raises ``_ProtoError``)."""
    layout = _Layout()
    pos, end = 0, len(msg)
    while pos < end:
        field, wire, pos = _tag(msg, pos, end, layout)
        if field == 1:
            if wire != 2:
                raise _ProtoError(f"evaluation_data has wire type {wire}, expected 2, at byte {pos}")
            start = pos
            length, pos = _varint(msg, pos, end)
            layout.fixed.extend(range(start, pos))
            sub_end = pos + length
            if sub_end > end:
                raise _ProtoError(f"evaluation_data of {length} bytes at byte {pos} runs past the end")
            e = layout.evals
            layout.evals += 1
            while pos < sub_end:
                sub_field, sub_wire, pos = _tag(msg, pos, sub_end, layout)
                if 1 <= sub_field <= 5:
                    if sub_wire != 1:
                        raise _ProtoError(f"EvaluationData field {sub_field} has wire type {sub_wire}, expected 1")
                    if pos + 8 > sub_end:
                        raise _ProtoError(f"truncated double at byte {pos}")
                    layout.doubles.append((pos, 1 + 5 * e + sub_field - 1))
                    pos += 8
                else:
                    pos = _skip_or_read(msg, pos, sub_end, sub_wire, layout)
        elif field == 2:
            if wire != 0:
                raise _ProtoError(f"trainable_parameters has wire type {wire}, expected 0")
            start = pos
            _, pos = _varint(msg, pos, end)
            layout.varint.extend(range(start, pos))
            layout.params = list(range(start, pos))
        elif field == 3:
            if wire != 1:
                raise _ProtoError(f"total_time has wire type {wire}, expected 1")
            if pos + 8 > end:
                raise _ProtoError(f"truncated double at byte {pos}")
            layout.doubles.append((pos, 0))
            pos += 8
        else:
            pos = _skip_or_read(msg, pos, end, wire, layout)
    return layout


def _read_group(matrix: npt.NDArray[np.uint8], layout: _Layout) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Final-evaluation metrics ([k, 5]) and parameter counts ([k]) of messages of one layout."""
    k = len(matrix)
    values = np.full((k, 1 + 5 * max(layout.evals, 1)), np.nan)
    for pos, column in layout.doubles:  # in message order: a repeated field keeps its last value
        values[:, column] = np.ascontiguousarray(matrix[:, pos : pos + 8]).view("<f8")[:, 0]
    params = np.full(k, -1, dtype=np.int64)
    if layout.params:
        acc = np.zeros(k, dtype=np.uint64)
        for j, pos in enumerate(layout.params):
            acc |= (matrix[:, pos].astype(np.uint64) & np.uint64(0x7F)) << np.uint64(7 * j)
        params = acc.view(np.int64)  # int32 fields encode negative values on 10 bytes
    evals = values[:, 1:].reshape(k, -1, 5)
    if layout.evals == 0:
        return np.full((k, 5), np.nan), params
    epoch = np.where(np.isnan(evals[:, :, 0]), -np.inf, evals[:, :, 0])
    # The final evaluation: the largest current_epoch (the last one on ties).
    final = evals.shape[1] - 1 - np.argmax(epoch[:, ::-1], axis=1)
    return evals[np.arange(k), final], params


def decode_model_metrics(messages: list[bytes]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Decode many ``ModelMetrics`` messages: the final evaluation of each run.

    Parameters
    ----------
    messages : list of bytes
        Serialised ``ModelMetrics`` messages.

    Returns
    -------
    final : numpy.ndarray of float64, shape (n, 5)
        Columns :data:`METRIC_COLUMNS` of the evaluation with the largest ``current_epoch``
        (NaN for a missing field).
    params : numpy.ndarray of int64
        ``trainable_parameters`` (-1 when absent).
    evaluations : numpy.ndarray of int64
        Number of ``evaluation_data`` entries of each message.

    Raises
    ------
    MessageError
        For a message that is not a valid ``ModelMetrics`` (its ``index`` names it).
    """
    n = len(messages)
    final = np.full((n, 5), np.nan)
    params = np.full(n, -1, dtype=np.int64)
    evaluations = np.zeros(n, dtype=np.int64)
    if n == 0:
        return final, params, evaluations
    lengths = np.fromiter(map(len, messages), dtype=np.int64, count=n)

    def layout(i: int) -> _Layout:
        try:
            return _layout_of(messages[i])
        except _ProtoError as exc:
            raise MessageError(i, str(exc)) from None

    order = np.argsort(lengths, kind="stable")
    bounds = np.flatnonzero(np.diff(lengths[order])) + 1
    for rows in np.split(order, bounds):
        width = int(lengths[rows[0]])
        matrix = np.frombuffer(b"".join([messages[i] for i in rows.tolist()]), dtype=np.uint8).reshape(len(rows), width)
        tries = 0
        while len(rows):
            if tries == _MAX_LAYOUTS:
                for i in rows:  # too many layouts of this length: one by one
                    lay = layout(int(i))
                    f, p = _read_group(np.frombuffer(messages[i], dtype=np.uint8)[None, :], lay)
                    final[i], params[i], evaluations[i] = f[0], p[0], lay.evals
                break
            tries += 1
            lay = layout(int(rows[0]))
            template = matrix[0]
            same = np.ones(len(rows), dtype=bool)
            if lay.fixed:
                same &= (matrix[:, lay.fixed] == template[lay.fixed]).all(axis=1)
            if lay.varint:
                same &= ((matrix[:, lay.varint] ^ template[lay.varint]) & 0x80 == 0).all(axis=1)
            f, p = _read_group(matrix[same], lay)
            final[rows[same]], params[rows[same]], evaluations[rows[same]] = f, p, lay.evals
            rows, matrix = rows[~same], matrix[~same]
    return final, params, evaluations


# --------------------------------------------------------------------------- records
def _fail(offsets: npt.NDArray[np.int64], i: int, what: str) -> TFRecordError:
    return TFRecordError(f"record {i} at byte offset {int(offsets[i])}: {what}")


#: Records parsed per chunk (bounds the memory of the text copy of the file).
_CHUNK_RECORDS = 65536


def _record_texts(
    data: bytes, offsets: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> tuple[str, int] | None:
    """The records ``offsets`` as one string with the framing bytes blanked, and its base offset.

    Decoded as latin-1, so string positions are byte positions; ``None`` if a record holds a
    non-ASCII byte (then each record is decoded as UTF-8 on its own).
    """
    base = int(offsets[0])
    end = int(offsets[-1] + 16 + lengths[-1])
    seg = np.frombuffer(data, dtype=np.uint8, count=end - base, offset=base).copy()
    seg[(offsets - base)[:, None] + np.arange(12)] = 0x20
    seg[(offsets - base + 12 + lengths)[:, None] + np.arange(4)] = 0x20
    if (seg >= 0x80).any():
        return None
    return seg.tobytes().decode("latin-1"), base


def _bad_base64(texts: list[str]) -> int | None:
    """Index of the first text that is not canonical base64 (alphabet, length, padding), or None."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    ends = np.cumsum(lengths)
    # one byte per character ('?' for characters beyond latin-1, outside the alphabet anyway)
    raw = np.frombuffer("".join(texts).encode("latin-1", "replace"), dtype=np.uint8)
    bad = lengths % 4 != 0
    pad = raw == ord("=")
    outside = np.flatnonzero(~_B64_ALPHABET[raw] & ~pad)
    if len(outside):
        bad[np.searchsorted(ends, outside, side="right")] = True
    where = np.flatnonzero(pad)
    if len(where):
        who = np.searchsorted(ends, where, side="right")
        # '=' only as the last, or the last two, characters
        from_end = ends[who] - where
        ok = (from_end == 1) | ((from_end == 2) & (raw[np.minimum(where + 1, len(raw) - 1)] == ord("=")))
        bad[who[~ok]] = True
    return int(np.argmax(bad)) if bad.any() else None


def _parse_records(
    data: bytes, offsets: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> tuple[list[str], npt.NDArray[np.int64], list[str], list[str], list[bytes]]:
    # json's C scanner, called at each record start of a text copy of the file: this avoids the
    # per-call overhead of json.loads; a record must end exactly where its frame says.
    scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
    records: list[object] = []
    for first in range(0, len(offsets), _CHUNK_RECORDS):
        off, lens = offsets[first : first + _CHUNK_RECORDS], lengths[first : first + _CHUNK_RECORDS]
        texts = _record_texts(data, off, lens)
        for k, (s, n) in enumerate(zip((off + 12).tolist(), lens.tolist())):
            try:
                if texts is None:
                    raise StopIteration
                text, base = texts
                rec, end = scan(text, s - base)
                if end != s - base + n:
                    raise StopIteration
            except (StopIteration, ValueError):
                try:  # the exact answer, and the error message, for this record alone
                    rec = json.loads(data[s : s + n])
                except (ValueError, UnicodeDecodeError) as exc:
                    raise _fail(offsets, first + k, f"not valid JSON: {exc}") from None
            records.append(rec)
    for i, rec in enumerate(records):
        if type(rec) is not list or len(rec) != 5:
            raise _fail(offsets, i, "expected the JSON list [module_hash, epochs, adjacency, operations, metrics]")
    hashes, epochs, adjacency, operations, metrics = (list(col) for col in zip(*records)) if records else ([], [], [], [], [])
    del records
    for name, column, kind in (
        ("module_hash", hashes, str),
        ("epochs", epochs, int),
        ("adjacency", adjacency, str),
        ("operations", operations, str),
        ("metrics", metrics, str),
    ):
        types = set(map(type, column))
        if types - {kind}:
            i = next(j for j, v in enumerate(column) if type(v) is not kind)
            raise _fail(offsets, i, f"{name} is {column[i]!r}, expected a {kind.__name__}")
    epochs_arr = np.array(epochs, dtype=np.int64)
    bad = _bad_base64(metrics)
    if bad is not None:
        raise _fail(offsets, bad, f"metrics {metrics[bad][:40]!r}... are not canonical base64")
    decode = binascii.a2b_base64
    messages = [decode(m) for m in metrics]
    return hashes, epochs_arr, adjacency, operations, messages


def _cells_of(
    hashes: list[str],
    adjacency: list[str],
    operations: list[str],
    rows: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    space: SearchSpace,
) -> CellBatch:
    """Cells of records ``rows`` (one per distinct hash), validated."""
    n, v_max = len(rows), space.max_vertices
    codes = {op: i for i, op in enumerate(space.ops)}
    codes.update({"input": OP_INPUT, "output": OP_OUTPUT})
    adj = np.zeros((n, v_max, v_max), dtype=np.uint8)
    ops = np.full((n, v_max), OP_PAD, dtype=np.int8)
    sizes = np.zeros(n, dtype=np.int64)
    for j, i in enumerate(rows.tolist()):
        names = operations[i].split(",")
        v = len(names)
        try:
            if not 2 <= v <= v_max or names[0] != "input" or names[-1] != "output":
                raise KeyError(operations[i])
            ops[j, :v] = [codes[o] for o in names]
        except KeyError:
            raise _fail(offsets, i, f"operations {operations[i]!r} are not input, ops of {space.ops}, output") from None
        sizes[j] = v
    for v in np.unique(sizes).tolist():
        sel = np.flatnonzero(sizes == v)
        texts = [adjacency[i] for i in rows[sel].tolist()]
        flat = "".join(texts).encode("ascii", "replace")
        bad_len = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) != v * v
        if bad_len.any() or len(flat) != len(sel) * v * v:
            i = int(rows[sel[np.argmax(bad_len)]])
            raise _fail(offsets, i, f"adjacency {adjacency[i]!r} is not a {v} x {v} matrix of 0/1 characters")
        bits = (np.frombuffer(flat, dtype=np.uint8) - ord("0")).reshape(len(sel), v, v)
        if (bits > 1).any():
            i = int(rows[sel[np.argmax((bits > 1).any(axis=(1, 2)))]])
            raise _fail(offsets, i, f"adjacency {adjacency[i]!r} has characters other than 0 and 1")
        adj[sel, :v, :v] = bits
    try:
        cells = CellBatch.from_arrays(adj, ops, space)
    except InvalidCellError:
        for j, i in enumerate(rows.tolist()):
            try:
                CellBatch.from_arrays(adj[j : j + 1], ops[j : j + 1], space)
            except InvalidCellError as exc:
                raise _fail(offsets, i, f"invalid cell: {exc}") from None
        raise
    # The hash names the cell: check it (for every cell of a small file, a fixed sample otherwise).
    check = np.arange(n) if n <= _HASH_CHECKS else np.sort(np.random.default_rng(0).choice(n, _HASH_CHECKS, replace=False))
    computed = cells[check].nb101_hashes()
    given = np.array([hashes[i] for i in rows[check].tolist()])
    wrong = np.flatnonzero(computed != given)
    if len(wrong):
        i = int(rows[check[wrong[0]]])
        raise _fail(offsets, i, f"module_hash {hashes[i]} does not match its cell (hash {computed[wrong[0]]})")
    return cells


def from_nb101_tfrecord(
    path: Union[str, Path], save: Union[bool, str, Path] = False, *, name: str = FULL_NAME
) -> TabularBenchmark:
    """Import an official NAS-Bench-101 file (``nasbench_only108.tfrecord`` or ``nasbench_full.tfrecord``).

    Every record is one training run of one cell at one epoch budget. For each budget ``e`` in
    the file the benchmark has the mean over runs of the final evaluation, as metrics
    ``val_acc_e``, ``test_acc_e``, ``train_acc_e`` and ``train_time_e_s`` (seconds), the value of
    each run as ``val_acc_e_run1``, ``val_acc_e_run2``, ... (NaN for a missing run), and
    ``params``. Per-run values are stored as float32 (the precision of the official data),
    means as float64.

    Parameters
    ----------
    path : str or Path
        The TFRecord file.
    save : bool or path, default False
        ``True``: also save the table to ``data_dir() / f"{name}.npz"``, where :func:`load`
        finds it by name; a path: save it there.
    name : str, default "nb101-full"
        Name of the benchmark.

    Returns
    -------
    TabularBenchmark
        Default metric ``val_acc_108`` (or of the largest budget), cost metric
        ``train_time_108_s`` (likewise).

    Raises
    ------
    TFRecordError
        For a truncated or corrupt file (CRC mismatch) or a malformed record, naming its byte
        offset; nothing is returned or saved then.
    ValueError
        If ``save=True`` and ``name`` cannot be a file name in :func:`data_dir` (checked before
        the file is read).
    """
    path = Path(path)
    if save is True:
        check_name(name)
    data = path.read_bytes()
    offsets, lengths = read_tfrecord_frames(data)
    if not len(offsets):
        raise TFRecordError(f"{path}: no records")
    # Millions of small lists and strings: the cyclic collector would rescan them again and again.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        hashes, epochs, adjacency, operations, messages = _parse_records(data, offsets, lengths)
    finally:
        if was_enabled:
            gc.enable()
    del data
    try:
        final, params, evaluations = decode_model_metrics(messages)
    except MessageError as exc:
        raise _fail(offsets, exc.index, f"metrics are not a valid ModelMetrics: {exc.reason}") from None
    del messages
    if (evaluations == 0).any():
        raise _fail(offsets, int(np.argmax(evaluations == 0)), "metrics have no evaluation_data")

    joined = "".join(hashes)
    raw = np.frombuffer(joined.encode("ascii", "replace"), dtype=np.uint8)
    hex_ok = len(raw) == 32 * len(hashes)
    if hex_ok:
        raw = raw.reshape(-1, 32)
        row_ok = (((raw >= ord("0")) & (raw <= ord("9"))) | ((raw >= ord("a")) & (raw <= ord("f")))).all(axis=1)
        hex_ok = bool(row_ok.all())
    if not hex_ok:
        i = next(j for j, h in enumerate(hashes) if len(h) != 32 or set(h) - set("0123456789abcdef"))
        raise _fail(offsets, i, f"module_hash {hashes[i]!r} is not 32 lowercase hex digits")
    keys = raw.view("S32").ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    inverse = inverse.ravel()

    # Every run of a cell must carry the same matrix and ops as its first record.
    rep = first[inverse].tolist()
    for column, what in ((adjacency, "adjacency"), (operations, "operations")):
        same = np.fromiter(map(str.__eq__, column, (column[j] for j in rep)), dtype=bool, count=len(column))
        if not same.all():
            i = int(np.argmax(~same))
            raise _fail(
                offsets, i, f"module_hash {hashes[i]} comes with another {what} than in the record at byte offset {int(offsets[rep[i]])}"
            )

    space = SearchSpace.nb101()
    cells = _cells_of(hashes, adjacency, operations, first.astype(np.int64), offsets, space)
    n_cells = len(first)

    budgets = np.unique(epochs)
    metrics: dict[str, npt.NDArray[np.floating]] = {}
    max_runs = 0
    for e in budgets.tolist():
        rows = np.flatnonzero(epochs == e)
        cell = inverse[rows]
        order = np.lexsort((rows, cell))
        rows, cell = rows[order], cell[order]
        group_start = np.r_[0, np.flatnonzero(np.diff(cell)) + 1]
        run = np.arange(len(rows)) - np.repeat(group_start, np.diff(np.r_[group_start, len(rows)]))
        runs = int(run.max()) + 1
        max_runs = max(max_runs, runs)
        for field, (prefix, suffix) in _NAMES.items():
            per_run = np.full((n_cells, runs), np.nan, dtype=np.float32)
            per_run[cell, run] = final[rows, METRIC_COLUMNS.index(field)]
            ok = ~np.isnan(per_run)
            count = ok.sum(axis=1)
            total = np.where(ok, per_run, 0).astype(np.float64).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                metrics[f"{prefix}_{e}{suffix}"] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
            for r in range(runs):
                metrics[f"{prefix}_{e}_run{r + 1}{suffix}"] = per_run[:, r]
    metrics["params"] = params[first].astype(np.float64)
    metrics["params"][params[first] < 0] = np.nan

    top = 108 if 108 in budgets else int(budgets.max())
    bench = TabularBenchmark(
        name,
        space,
        cells,
        metrics,
        cost_metric=f"train_time_{top}_s",
        default_metric=f"val_acc_{top}",
        citation=NB101_CITATION,
        description=(
            f"imported from {path.name}: {len(offsets):,} training runs of {n_cells:,} cells, "
            f"epoch budgets {budgets.tolist()}, up to {max_runs} runs per budget"
        ),
    )
    if save is not False:
        target = data_dir() / f"{name}.npz" if save is True else Path(save)
        save_table(bench, target, compress=False)
    return bench
