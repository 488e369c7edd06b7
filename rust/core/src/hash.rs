//! The NAS-Bench-101 module hash (reference §3), bit for bit: a Weisfeiler-Lehman style
//! iteration of MD5 over hex digests.
//!
//! The hash is computed on the cell as given; callers hash pruned cells (the batch types only
//! hold pruned cells).

use crate::cell::Cell;
use crate::MAX_VERTICES;
use md5::{Digest, Md5};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A lowercase hex MD5 digest.
pub type HexDigest = [u8; 32];

#[inline]
fn md5_hex(data: &[u8]) -> HexDigest {
    let digest = Md5::digest(data);
    let mut out = [0u8; 32];
    for (k, b) in digest.iter().enumerate() {
        out[2 * k] = HEX[(b >> 4) as usize];
        out[2 * k + 1] = HEX[(b & 15) as usize];
    }
    out
}

/// Writes `x` in decimal into `buf`, returning the number of bytes.
#[inline]
fn write_int(buf: &mut [u8], x: i64) -> usize {
    let mut tmp = [0u8; 24];
    let neg = x < 0;
    let mut v = x.unsigned_abs();
    let mut k = 0;
    loop {
        tmp[k] = b'0' + (v % 10) as u8;
        v /= 10;
        k += 1;
        if v == 0 {
            break;
        }
    }
    let mut len = 0;
    if neg {
        buf[0] = b'-';
        len = 1;
    }
    for t in (0..k).rev() {
        buf[len] = tmp[t];
        len += 1;
    }
    len
}

/// Sorts the indices in `idx` by the digests they point at (insertion sort: at most 16 items).
#[inline]
fn sort_by_digest(idx: &mut [u8], hashes: &[HexDigest; MAX_VERTICES]) {
    for a in 1..idx.len() {
        let x = idx[a];
        let mut b = a;
        while b > 0 && hashes[idx[b - 1] as usize] > hashes[x as usize] {
            idx[b] = idx[b - 1];
            b -= 1;
        }
        idx[b] = x;
    }
}

/// Labels run from -3 (padding, never hashed) to `MAX_OPS - 1`.
const LABEL_OFFSET: i64 = 3;
const LABELS: usize = crate::MAX_OPS + 3;

/// The initial vertex digests for every (out-degree, in-degree, label): MD5 of the text of the
/// Python tuple `(out, in, label)`. About 9,000 digests, computed on first use.
fn initial_table() -> &'static [HexDigest] {
    static TABLE: std::sync::OnceLock<Vec<HexDigest>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Vec::with_capacity(MAX_VERTICES * MAX_VERTICES * LABELS);
        let mut text = [0u8; 64];
        for o in 0..MAX_VERTICES {
            for i in 0..MAX_VERTICES {
                for l in 0..LABELS {
                    let mut len = 0;
                    text[len] = b'(';
                    len += 1;
                    len += write_int(&mut text[len..], o as i64);
                    text[len..len + 2].copy_from_slice(b", ");
                    len += 2;
                    len += write_int(&mut text[len..], i as i64);
                    text[len..len + 2].copy_from_slice(b", ");
                    len += 2;
                    len += write_int(&mut text[len..], l as i64 - LABEL_OFFSET);
                    text[len] = b')';
                    len += 1;
                    t.push(md5_hex(&text[..len]));
                }
            }
        }
        t
    })
}

/// The NAS-Bench-101 module hash of `cell` as 32 lowercase hex characters.
pub fn nb101_hash(cell: &Cell) -> HexDigest {
    let n = cell.num_vertices();
    let out = cell.out_rows();
    let inn = cell.in_rows();
    let ops = cell.ops();

    // Step 1: MD5 of the text "(out, in, label)", from a table computed once.
    let table = initial_table();
    let mut hashes = [[0u8; 32]; MAX_VERTICES];
    for v in 0..n {
        let label = (ops[v] as i64 + LABEL_OFFSET) as usize;
        hashes[v] = table[(out[v].count_ones() as usize * MAX_VERTICES + inn[v].count_ones() as usize) * LABELS + label];
    }

    // Step 2: n synchronous rounds.
    let mut buf = [0u8; 32 * (2 * MAX_VERTICES + 1) + 2];
    let mut next = [[0u8; 32]; MAX_VERTICES];
    let mut idx = [0u8; MAX_VERTICES];
    for _ in 0..n {
        for v in 0..n {
            let mut len = 0;
            for mask in [inn[v], out[v]] {
                let mut m = mask;
                let mut k = 0;
                while m != 0 {
                    idx[k] = m.trailing_zeros() as u8;
                    m &= m - 1;
                    k += 1;
                }
                sort_by_digest(&mut idx[..k], &hashes);
                for &u in &idx[..k] {
                    buf[len..len + 32].copy_from_slice(&hashes[u as usize]);
                    len += 32;
                }
                buf[len] = b'|';
                len += 1;
            }
            buf[len..len + 32].copy_from_slice(&hashes[v]);
            len += 32;
            next[v] = md5_hex(&buf[..len]);
        }
        hashes[..n].copy_from_slice(&next[..n]);
    }

    // Step 3: MD5 of the Python repr of the sorted list of vertex digests.
    let mut order = [0u8; MAX_VERTICES];
    for (v, o) in order.iter_mut().enumerate().take(n) {
        *o = v as u8;
    }
    sort_by_digest(&mut order[..n], &hashes);
    let mut len = 0;
    buf[len] = b'[';
    len += 1;
    for (k, &v) in order[..n].iter().enumerate() {
        if k > 0 {
            buf[len..len + 2].copy_from_slice(b", ");
            len += 2;
        }
        buf[len] = b'\'';
        buf[len + 1..len + 33].copy_from_slice(&hashes[v as usize]);
        buf[len + 33] = b'\'';
        len += 34;
    }
    buf[len] = b']';
    len += 1;
    md5_hex(&buf[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_test_vector() {
        // reference §3: the first row of the published data set
        let edges = [(0, 1), (0, 4), (0, 5), (1, 2), (2, 3), (2, 6), (3, 5), (4, 5), (5, 6)];
        let mut out = [0u16; 7];
        for (i, j) in edges {
            out[i] |= 1 << j;
        }
        let cell = Cell::new(7, &[-1, 0, 2, 0, 0, 1, -2], &out).unwrap();
        assert_eq!(&nb101_hash(&cell), b"00005c142e6f48ac74fdcf73e3439874");
    }

    #[test]
    fn md5_of_empty_string() {
        assert_eq!(&md5_hex(b""), b"d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn ints_print_like_python() {
        let mut b = [0u8; 24];
        for x in [0i64, 7, -1, -2, 10, 123, -45] {
            let l = write_int(&mut b, x);
            assert_eq!(std::str::from_utf8(&b[..l]).unwrap(), x.to_string());
        }
    }
}
