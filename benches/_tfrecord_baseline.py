"""The NAS-Bench-101 TFRecord importer as the package had it before the core decoded the files:
the baseline of the ``import-tfrecord`` benchmark (``bench_benchmarks.py``), which also writes
its synthetic file with :func:`crc32c_many`.

Framing, CRC-32C (numpy, vectorised over records), JSON (the ``json`` module's scanner), base64
checks and a hand-written protobuf decoder (messages grouped by length and layout, values read
with numpy) in Python; the cells and the table are built as in the package. Errors are the
package's ``TFRecordError``.

CRC-32C in numpy: TFRecord files protect every record with the masked CRC-32C of its 8-byte length field and of its
data. A file of the official NAS-Bench-101 size holds about 1.3 million records and 500 MB, far
too much for a byte-at-a-time loop in Python, and CRC-32C is not in the standard library
(``zlib.crc32`` uses another polynomial). This module computes many CRCs at once with numpy.

How: the CRC register is linear over GF(2). Starting from a zero register, a message of length
``L`` leaves the register ``XOR_p C[L-1-p][m[p]]``, where ``C[q][b]`` is the register after
feeding byte ``b`` and then ``q`` zero bytes (a table of ``BLOCK x 256`` words). So the raw CRC of
every range is one table gather and one XOR reduction, done for thousands of ranges per numpy
call. The standard initial value ``0xFFFFFFFF`` and ranges longer than ``BLOCK`` are handled with
the same table: feeding ``n`` bytes ``d`` from a register ``r`` gives ``raw(d) ^ shift(r, n)``,
where ``shift(r, n)`` (the register after ``n`` zero bytes) only needs the 4 bytes of ``r``.
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

from nasfast import CellBatch, InvalidCellError, SearchSpace
from nasfast._core import OP_INPUT, OP_OUTPUT, OP_PAD
from nasfast.benchmarks import TabularBenchmark, TFRecordError
from nasfast.benchmarks._tfrecord import NB101_CITATION

__all__ = ["crc32c", "crc32c_many", "from_nb101_tfrecord", "mask_crc", "masked_crc32c"]


# --------------------------------------------------------------------------- CRC-32C
#: Reflected CRC-32C polynomial.
_POLY = 0x82F63B78
#: Longest range handled by one table gather; longer ranges are chained block by block.
BLOCK = 512
#: Elements per gather in :func:`crc32c_many` (bounds the temporary memory to ~100 MB).
_CHUNK_ELEMENTS = 1 << 22


def _byte_table() -> npt.NDArray[np.uint32]:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_POLY), table >> 1).astype(np.uint32)
    return table


_TABLE = _byte_table()


def _position_table() -> npt.NDArray[np.uint32]:
    # Row q: register after byte b then q zero bytes, from a zero register (byte 0 adds nothing:
    # column 0 is zero). Row BLOCK is all zero, the target of absent bytes in _shift.
    rows = np.zeros((BLOCK + 1, 256), dtype=np.uint32)
    rows[0] = _TABLE
    for q in range(1, BLOCK):
        prev = rows[q - 1]
        rows[q] = (prev >> np.uint32(8)) ^ _TABLE[prev & np.uint32(0xFF)]
    return rows


_POSITIONS = _position_table()
_POSITIONS_FLAT = _POSITIONS.ravel()
_ZERO_SLOT = BLOCK * 256


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``, the plain byte-at-a-time algorithm.

    Parameters
    ----------
    data : bytes
        The message.

    Returns
    -------
    int
        The CRC as an unsigned 32-bit integer (``crc32c(b"123456789") == 0xE3069283``).
    """
    table = _TABLE.tolist()
    reg = 0xFFFFFFFF
    for byte in data:
        reg = table[(reg ^ byte) & 0xFF] ^ (reg >> 8)
    return reg ^ 0xFFFFFFFF


def mask_crc(crc: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """Apply the TFRecord mask ``((crc >> 15) | (crc << 17)) + 0xa282ead8`` (mod 2**32)."""
    crc = np.asarray(crc, dtype=np.uint32)
    with np.errstate(over="ignore"):
        return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(0xA282EAD8)


def masked_crc32c(data: bytes) -> int:
    """Masked CRC-32C of ``data`` as TFRecord stores it."""
    return int(mask_crc(np.array([crc32c(data)], dtype=np.uint32))[0])


def _shift(reg: npt.NDArray[np.uint32], n: npt.NDArray[np.int64]) -> npt.NDArray[np.uint32]:
    """Registers after feeding ``n`` zero bytes (0 <= n <= BLOCK) from registers ``reg``."""
    small = n < 4
    out = np.where(small, reg >> (np.uint32(8) * np.minimum(n, 3).astype(np.uint32)), 0).astype(np.uint32)
    for i in range(4):
        byte = ((reg >> np.uint32(8 * i)) & np.uint32(0xFF)).astype(np.int64)
        slot = np.where(n > i, (n - 1 - i) * 256 + byte, _ZERO_SLOT)
        out ^= _POSITIONS_FLAT[slot]
    return out


def _raw_blocks(
    buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint32]:
    """Raw CRC registers (zero initial value, no final XOR) of ranges of at most BLOCK bytes."""
    out = np.zeros(len(starts), dtype=np.uint32)
    order = np.argsort(lengths, kind="stable")
    rows_per_chunk = _CHUNK_ELEMENTS // BLOCK
    for pos in range(0, len(order), rows_per_chunk):
        sel = order[pos : pos + rows_per_chunk]
        width = max(int(lengths[sel[-1]]), 1)  # sorted: the last range is the longest
        ends = starts[sel] + lengths[sel]
        cols = np.arange(width, dtype=np.int64)
        if ends.min() >= width:  # rows of a sliding-window view: one copy per row, no index array
            window = np.lib.stride_tricks.sliding_window_view(buf, width)[ends - width]
        else:
            window = buf[np.maximum((ends - width)[:, None] + cols[None, :], 0)]
        if lengths[sel[0]] < width:
            # Bytes before a shorter range: make them zero, which adds nothing to the register.
            window *= (cols[None, :] >= (width - lengths[sel])[:, None]).astype(np.uint8)
        slots = window.astype(np.int32)
        slots += ((width - 1 - cols) * 256).astype(np.int32)[None, :]
        out[sel] = np.bitwise_xor.reduce(_POSITIONS_FLAT[slots], axis=1)
    return out


def crc32c_many(
    buf: npt.NDArray[np.uint8], starts: npt.ArrayLike, lengths: npt.ArrayLike
) -> npt.NDArray[np.uint32]:
    """CRC-32C of many byte ranges ``buf[starts[i] : starts[i] + lengths[i]]`` at once.

    Parameters
    ----------
    buf : numpy.ndarray of uint8
        The buffer holding every range.
    starts, lengths : array_like of int
        Start offsets and lengths of the ranges (each inside ``buf``).

    Returns
    -------
    numpy.ndarray of uint32
        The (unmasked) CRC of each range, equal to :func:`crc32c` of its bytes.

    Raises
    ------
    ValueError
        If a range is not inside ``buf``.
    """
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if starts.shape != lengths.shape or starts.ndim != 1:
        raise ValueError(f"starts and lengths must be 1-d of equal length, got {starts.shape} and {lengths.shape}")
    if len(starts) and (starts.min() < 0 or lengths.min() < 0 or (starts + lengths).max() > len(buf)):
        raise ValueError(f"a range lies outside the buffer of {len(buf)} bytes")
    blocks = np.maximum((lengths + BLOCK - 1) // BLOCK, 1)
    reg = np.full(len(starts), 0xFFFFFFFF, dtype=np.uint32)
    for k in range(int(blocks.max()) if len(blocks) else 0):
        rows = np.flatnonzero(blocks > k)
        block_len = np.clip(lengths[rows] - k * BLOCK, 0, BLOCK)
        raw = _raw_blocks(buf, starts[rows] + k * BLOCK, block_len)
        reg[rows] = raw ^ _shift(reg[rows], block_len)
    return reg ^ np.uint32(0xFFFFFFFF)


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


def from_nb101_tfrecord(path: Union[str, Path], *, name: str = "nb101-full") -> TabularBenchmark:
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
    """
    path = Path(path)
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
    return bench
