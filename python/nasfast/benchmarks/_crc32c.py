"""CRC-32C (Castagnoli) in numpy, vectorised over many byte ranges of one buffer.

TFRecord files protect every record with the masked CRC-32C of its 8-byte length field and of its
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

import numpy as np
import numpy.typing as npt

__all__ = ["crc32c", "crc32c_many", "masked_crc32c", "mask_crc"]

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
