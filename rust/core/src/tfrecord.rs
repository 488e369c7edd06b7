//! TFRecord framing: splitting a file into its records and checking both CRC-32C of each.
//!
//! A TFRecord file is a sequence of records, each laid out as
//!
//! ```text
//! u64 length (little endian) | u32 masked CRC-32C of those 8 bytes | length bytes of data | u32 masked CRC-32C of the data
//! ```
//!
//! where the mask is `((crc >> 15) | (crc << 17)) + 0xa282ead8` (mod 2^32). The CRC-32C itself
//! comes from the `crc32c` crate (hardware instructions where the CPU has them).

use crate::par::try_map_range;
use thiserror::Error;

/// Bytes of a record before its data: the length and its CRC.
pub const HEADER_BYTES: u64 = 12;
/// Bytes of a record besides its data: the header and the data CRC.
pub const FRAME_BYTES: u64 = 16;

/// Why a TFRecord file cannot be read: every variant names the byte offset of the record (its
/// length field) where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// Fewer than the 12 header bytes are left after the last complete record.
    #[error("truncated record header at byte offset {offset}: {left} bytes left, a header has 12")]
    TruncatedHeader { offset: u64, left: u64 },
    /// The length field does not match its CRC.
    #[error("corrupt record length at byte offset {offset} (CRC mismatch)")]
    CorruptLength { offset: u64 },
    /// The record's data and CRC run past the end of the file.
    #[error("truncated record at byte offset {offset}: its {length} data bytes and CRC end at byte {end}, the file has {size}")]
    Truncated { offset: u64, length: u64, end: u128, size: u64 },
    /// The data does not match its CRC.
    #[error("corrupt record data at byte offset {offset} (CRC mismatch)")]
    CorruptData { offset: u64 },
}

impl FrameError {
    /// The byte offset of the record the error is about.
    pub fn offset(&self) -> u64 {
        match *self {
            FrameError::TruncatedHeader { offset, .. }
            | FrameError::CorruptLength { offset }
            | FrameError::Truncated { offset, .. }
            | FrameError::CorruptData { offset } => offset,
        }
    }
}

/// One record of a file: the byte offset of its length field and the length of its data (which
/// starts at `offset + 12`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// Byte offset of the record in the file.
    pub offset: u64,
    /// Number of data bytes.
    pub length: u64,
}

impl Frame {
    /// The record's data within the whole file `data`.
    #[inline]
    pub fn data<'a>(&self, file: &'a [u8]) -> &'a [u8] {
        let start = (self.offset + HEADER_BYTES) as usize;
        &file[start..start + self.length as usize]
    }
}

/// The TFRecord mask of a CRC.
#[inline]
pub fn mask_crc(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(0xA282_EAD8)
}

/// The masked CRC-32C of `bytes`, as TFRecord stores it.
#[inline]
pub fn masked_crc32c(bytes: &[u8]) -> u32 {
    mask_crc(crc32c::crc32c(bytes))
}

#[inline]
fn u32_at(file: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([file[at], file[at + 1], file[at + 2], file[at + 3]])
}

/// Splits `file` into its records and checks both CRCs of every record.
///
/// The length fields are read one after another (each gives the position of the next record);
/// the data CRCs are then checked in parallel with `n_jobs` threads. When the file has several
/// problems, the one at the smallest offset is reported, so that the answer does not depend on
/// the number of threads.
///
/// # Errors
/// A [`FrameError`] naming the byte offset of the first truncated or corrupt record.
pub fn read_frames(file: &[u8], n_jobs: Option<usize>) -> Result<Vec<Frame>, FrameError> {
    let size = file.len() as u64;
    let mut frames = Vec::new();
    let mut pos = 0u64;
    let mut stop = None;
    while pos < size {
        let left = size - pos;
        if left < HEADER_BYTES {
            stop = Some(FrameError::TruncatedHeader { offset: pos, left });
            break;
        }
        let at = pos as usize;
        let head = &file[at..at + 8];
        if masked_crc32c(head) != u32_at(file, at + 8) {
            stop = Some(FrameError::CorruptLength { offset: pos });
            break;
        }
        let length = u64::from_le_bytes(head.try_into().expect("8 bytes"));
        // u128: a corrupt length may be close to 2^64
        let end = pos as u128 + FRAME_BYTES as u128 + length as u128;
        if end > size as u128 {
            stop = Some(FrameError::Truncated { offset: pos, length, end, size });
            break;
        }
        frames.push(Frame { offset: pos, length });
        pos = end as u64;
    }
    // Records before the stopping point come first in the file: report their corruption first.
    try_map_range(frames.len(), n_jobs, |i| {
        let f = frames[i];
        let crc_at = (f.offset + HEADER_BYTES + f.length) as usize;
        if masked_crc32c(f.data(file)) == u32_at(file, crc_at) {
            Ok(())
        } else {
            Err(FrameError::CorruptData { offset: f.offset })
        }
    })?;
    match stop {
        Some(e) => Err(e),
        None => Ok(frames),
    }
}

/// Frames `records` into a TFRecord file (the inverse of [`read_frames`]).
pub fn write_frames<'a>(records: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for data in records {
        let length = (data.len() as u64).to_le_bytes();
        out.extend_from_slice(&length);
        out.extend_from_slice(&masked_crc32c(&length).to_le_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit-at-a-time CRC-32C, independent of the crate.
    fn crc32c_bitwise(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    #[allow(clippy::manual_rotate)] // the mask spelt as TensorFlow's writer spells it
    fn crc_matches_the_check_value_and_a_bitwise_reference() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        let data: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for len in [0, 1, 7, 8, 9, 63, 64, 65, 1000, 4999] {
            assert_eq!(crc32c::crc32c(&data[..len]), crc32c_bitwise(&data[..len]), "length {len}");
        }
        // The mask of TensorFlow's record writer, written out.
        let crc = crc32c_bitwise(b"abc");
        assert_eq!(masked_crc32c(b"abc"), ((crc >> 15) | (crc << 17)).wrapping_add(0xA282_EAD8));
    }

    fn file(records: &[&[u8]]) -> Vec<u8> {
        write_frames(records.iter().copied())
    }

    #[test]
    fn frames_round_trip() {
        let records: Vec<Vec<u8>> = (0..50).map(|i| vec![i as u8; i * 7]).collect();
        let f = write_frames(records.iter().map(|r| r.as_slice()));
        let frames = read_frames(&f, Some(1)).unwrap();
        assert_eq!(frames.len(), 50);
        for (fr, r) in frames.iter().zip(&records) {
            assert_eq!(fr.data(&f), r.as_slice());
        }
        assert_eq!(read_frames(&[], None).unwrap(), vec![]);
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_named() {
        let f = file(&[b"first record", b"", b"third one, a little longer"]);
        let starts = [0u64, 28, 44];
        let record_of = |at: u64| *starts.iter().rev().find(|&&s| s <= at).unwrap();
        for at in 0..f.len() {
            for xor in [0x01u8, 0x80, 0xFF] {
                let mut g = f.clone();
                g[at] ^= xor;
                let err = read_frames(&g, Some(1)).unwrap_err();
                assert_eq!(err.offset(), record_of(at as u64), "byte {at} xor {xor:#x}: {err}");
            }
        }
        for cut in 0..f.len() {
            let r = read_frames(&f[..cut], Some(1));
            if starts.contains(&(cut as u64)) {
                assert_eq!(r.unwrap().len(), starts.iter().filter(|&&s| s < cut as u64).count());
            } else {
                let err = r.unwrap_err();
                assert_eq!(err.offset(), record_of(cut as u64), "cut at {cut}: {err}");
                assert!(matches!(err, FrameError::Truncated { .. } | FrameError::TruncatedHeader { .. }), "{err}");
            }
        }
    }

    #[test]
    fn a_huge_length_with_a_valid_crc_is_a_truncation() {
        let length = u64::MAX.to_le_bytes();
        let mut f = length.to_vec();
        f.extend_from_slice(&masked_crc32c(&length).to_le_bytes());
        f.extend_from_slice(b"data");
        let err = read_frames(&f, None).unwrap_err();
        assert!(matches!(err, FrameError::Truncated { offset: 0, length: u64::MAX, .. }), "{err}");
    }

    #[test]
    fn the_earliest_problem_is_reported() {
        let mut f = file(&[b"aaaa", b"bbbb", b"cccc"]);
        f[20 + 12] ^= 1; // data of the second record
        let cut = f.len() - 3; // and the third is truncated
        assert_eq!(read_frames(&f[..cut], None).unwrap_err(), FrameError::CorruptData { offset: 20 });
    }
}
