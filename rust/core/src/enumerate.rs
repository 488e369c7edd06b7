//! Enumeration of every unique valid cell of a space, and the exact or estimated size of a
//! space.
//!
//! For each vertex count V, every edge mask with at most `max_edges` edges in which each vertex
//! but the output has an outgoing edge and each vertex but the input an incoming one (exactly
//! the masks that pruning leaves intact) is combined with every interior labelling; each
//! labelled cell is canonicalised and duplicates are dropped. The result is sorted by
//! (vertices, fingerprint, canonical form): for spaces of at most 8 vertices and 16 ops the
//! fingerprint is the packed canonical form, so the order is by vertices, then interior ops,
//! then edges.

use crate::canon::{canonical, fingerprint_of_canonical};
use crate::cell::{Cell, OP_INPUT, OP_OUTPUT, OP_PAD};
use crate::error::SpaceError;
use crate::par::map_range;
use crate::space::SearchSpace;
use crate::MAX_VERTICES;
use rayon::prelude::*;
use std::sync::Arc;

/// At most this many labelled cells (before de-duplication) are enumerated.
pub const MAX_LABELLED_CELLS: u64 = 50_000_000;
/// At most this many edge masks are scanned per vertex count.
const MAX_MASKS_SCANNED: f64 = 100_000_000.0;

/// Every unique valid cell of a space, in canonical form and enumeration order.
#[derive(Clone, Debug)]
pub struct Enumeration {
    /// The cells, sorted by (vertices, fingerprint, canonical form); shared, so that batches
    /// of the whole space need no copy.
    pub cells: Arc<Vec<Cell>>,
    /// `fingerprints[i]` is the fingerprint of `cells[i]`.
    pub fingerprints: Vec<u64>,
    /// `counts[v]` is the number of unique cells with exactly `v` vertices.
    pub counts: Vec<u64>,
}

impl Enumeration {
    /// The position of a cell given in canonical form, or `None` if it is not in the space.
    pub fn index_of_canonical(&self, c: &Cell) -> Option<usize> {
        let key = (c.num_vertices(), fingerprint_of_canonical(c));
        let (mut lo, mut hi) = (0, self.cells.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if (self.cells[mid].num_vertices(), self.fingerprints[mid]) < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        // entries with the same (vertices, fingerprint) are adjacent; compare exactly
        let mut i = lo;
        while i < self.cells.len() && (self.cells[i].num_vertices(), self.fingerprints[i]) == key {
            if self.cells[i] == *c {
                return Some(i);
            }
            i += 1;
        }
        None
    }
}

/// Binomial coefficient as f64 (exact for the small arguments used here).
pub(crate) fn binomial(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    let k = k.min(n - k);
    let mut r = 1.0f64;
    for i in 0..k {
        r = r * (n - i) as f64 / (i + 1) as f64;
    }
    r.round()
}

/// The out rows of the V-vertex DAG whose upper-triangle bit `x + y(y-1)/2` is edge x -> y.
#[inline]
pub(crate) fn rows_from_mask(v: usize, mask: u128) -> [u16; MAX_VERTICES] {
    let mut out = [0u16; MAX_VERTICES];
    let mut m = mask;
    while m != 0 {
        let b = m.trailing_zeros() as usize;
        m &= m - 1;
        // invert b = x + y(y-1)/2
        let mut y = 1;
        while (y + 1) * y / 2 <= b {
            y += 1;
        }
        let x = b - y * (y - 1) / 2;
        debug_assert!(x < y && y < v);
        out[x] |= 1 << y;
    }
    out
}

/// Whether every vertex but the output has an out-edge and every vertex but the input an
/// in-edge, i.e. pruning leaves the DAG intact.
#[inline]
pub(crate) fn is_complete(v: usize, out: &[u16; MAX_VERTICES]) -> bool {
    let mut has_in: u16 = 1;
    for &row in out.iter().take(v - 1) {
        if row == 0 {
            return false;
        }
        has_in |= row;
    }
    has_in == ((1u32 << v) - 1) as u16
}

/// Every edge mask for `v` vertices with at most `max_edges` edges that pruning leaves intact,
/// or `None` if there are too many masks to scan.
pub(crate) fn complete_masks(v: usize, max_edges: usize) -> Option<Vec<u64>> {
    let bits = v * (v - 1) / 2;
    let emax = max_edges.min(bits);
    let total: f64 = (0..=emax).map(|e| binomial(bits, e)).sum();
    if total > MAX_MASKS_SCANNED || bits > 63 {
        return None;
    }
    let mut found = Vec::new();
    // v - 1 edges are needed at least (every non-output vertex has an out-edge)
    for e in (v - 1).max(1)..=emax {
        // Gosper's hack over masks with e bits
        let mut m: u64 = (1u64 << e) - 1;
        let limit: u64 = 1u64 << bits;
        while m < limit {
            let rows = rows_from_mask(v, m as u128);
            if is_complete(v, &rows) {
                found.push(m);
            }
            let c = m & m.wrapping_neg();
            let r = m + c;
            m = (((r ^ m) >> 2) / c) | r;
        }
    }
    Some(found)
}

/// The exact number of labelled cells (before de-duplication) per vertex count, when every
/// count is small enough to scan.
pub fn labelled_counts(space: &SearchSpace) -> Option<Vec<u64>> {
    let k = space.num_ops() as u64;
    let mut counts = vec![0u64; space.max_vertices() + 1];
    for v in 2..=space.max_vertices() {
        let masks = complete_masks(v, space.max_edges())?;
        counts[v] = (masks.len() as u64).checked_mul(k.checked_pow((v - 2) as u32)?)?;
    }
    Some(counts)
}

/// Whether [`enumerate`] accepts the space: the labelled cells to canonicalise number at most
/// [`MAX_LABELLED_CELLS`]. A pure function of the space.
pub fn is_enumerable(space: &SearchSpace) -> bool {
    match labelled_counts(space) {
        Some(c) => c.iter().sum::<u64>() <= MAX_LABELLED_CELLS,
        None => false,
    }
}

/// Enumerates every unique valid cell of the space, or refuses up front (with a size estimate)
/// when the space is too large.
pub fn enumerate(space: &SearchSpace, n_jobs: Option<usize>) -> Result<Enumeration, SpaceError> {
    if !is_enumerable(space) {
        let (estimate, se) = crate::sample::estimate_count(space, 200_000, 0x5EED, n_jobs);
        return Err(SpaceError::TooLargeToEnumerate {
            estimate,
            rel_se: if estimate > 0.0 { 100.0 * se / estimate } else { 0.0 },
            limit: MAX_LABELLED_CELLS,
        });
    }
    let k = space.num_ops();
    let mut graphs: Vec<(usize, u64)> = Vec::new();
    for v in 2..=space.max_vertices() {
        for m in complete_masks(v, space.max_edges()).expect("checked by is_enumerable") {
            graphs.push((v, m));
        }
    }
    // canonicalise every labelling of every graph; per graph in parallel
    let per_graph: Vec<Vec<(u64, Cell)>> = map_range(graphs.len(), n_jobs, |g| {
        let (v, m) = graphs[g];
        let out = rows_from_mask(v, m as u128);
        let interior = v - 2;
        let labellings = k.pow(interior as u32);
        let mut ops = [OP_PAD; MAX_VERTICES];
        ops[0] = OP_INPUT;
        ops[v - 1] = OP_OUTPUT;
        let mut res: Vec<(u64, Cell)> = Vec::with_capacity(labellings);
        for mut code in 0..labellings {
            for slot in ops.iter_mut().take(v - 1).skip(1) {
                *slot = (code % k) as i8;
                code /= k;
            }
            let c = canonical(&Cell::from_parts_unchecked(v, ops, out));
            res.push((fingerprint_of_canonical(&c), c));
        }
        // duplicates within one graph are common (automorphic labellings): drop them early
        res.sort_unstable();
        res.dedup();
        res
    });
    let mut all: Vec<(usize, u64, Cell)> = per_graph
        .into_iter()
        .flatten()
        .map(|(f, c)| (c.num_vertices(), f, c))
        .collect();
    crate::par::with_jobs(n_jobs, || all.par_sort_unstable());
    all.dedup_by(|a, b| a.2 == b.2);
    let mut counts = vec![0u64; space.max_vertices() + 1];
    let mut cells = Vec::with_capacity(all.len());
    let mut fingerprints = Vec::with_capacity(all.len());
    for (v, f, c) in all {
        counts[v] += 1;
        cells.push(c);
        fingerprints.push(f);
    }
    Ok(Enumeration { cells: Arc::new(cells), fingerprints, counts })
}
