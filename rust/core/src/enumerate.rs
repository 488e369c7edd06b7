//! Enumeration of every unique valid cell of a space, and the exact or estimated size of a
//! space.
//!
//! For each vertex count V, every *complete* DAG (each vertex but the output has an outgoing
//! edge and each vertex but the input an incoming one: exactly the DAGs that pruning leaves
//! intact) with at most `max_edges` edges is combined with every interior labelling; each
//! labelled cell is canonicalised and duplicates are dropped. The result is sorted by
//! (vertices, fingerprint, canonical form): for spaces of at most 8 vertices and 16 ops the
//! fingerprint is the packed canonical form, so the order is by vertices, then interior ops,
//! then edges.
//!
//! Complete DAGs are generated directly, vertex by vertex, never by scanning edge masks: a
//! vertex's in-set is kept only if the remaining edge budget can still give every later vertex
//! an in-edge and every vertex without an out-edge one (at least `u + r - 1` more edges for `u`
//! such vertices and `r` vertices still to place, which a chain plus one edge per uncovered
//! vertex achieves). Every branch therefore ends in at least one complete DAG, so the work is
//! proportional to the number of DAGs generated, and whether a space is enumerable is decided
//! by the number of labelled cells that would really be canonicalised.

use crate::canon::{canonical, fingerprint_of_canonical};
use crate::cell::{Cell, OP_INPUT, OP_OUTPUT, OP_PAD};
use crate::error::SpaceError;
use crate::limits::reserve;
use crate::par::{map_heavy, Cancel};
use crate::space::SearchSpace;
use crate::MAX_VERTICES;
use rayon::prelude::*;
use std::sync::Arc;

/// At most this many labelled cells (before de-duplication) are enumerated.
pub const MAX_LABELLED_CELLS: u64 = 50_000_000;

/// The out rows of a DAG (bit j of `rows[i]`: the edge i -> j).
pub type Rows = [u16; MAX_VERTICES];

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

impl Enumeration {
    /// The position of each cell (pruned, any vertex order) in the enumeration, -1 for a cell
    /// that is not in the space.
    pub fn index_of_cells(&self, cells: &[Cell], n_jobs: Option<usize>) -> Vec<i64> {
        crate::par::map_range(cells.len(), n_jobs, |i| self.index_of_canonical(&canonical(&cells[i])).map_or(-1, |x| x as i64))
    }

    /// The cells at the given positions; [`SpaceError::IndexOutOfRange`] names the first index
    /// that is not a position.
    pub fn cells_at(&self, indices: &[i128]) -> Result<Vec<Cell>, SpaceError> {
        let count = self.cells.len() as u64;
        let mut out = crate::limits::vec_with_capacity(indices.len(), "the cells")?;
        for &i in indices {
            if i < 0 || i >= count as i128 {
                return Err(SpaceError::IndexOutOfRange { index: i, count });
            }
            out.push(self.cells[i as usize]);
        }
        Ok(out)
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
#[cfg(test)]
pub(crate) fn rows_from_mask(v: usize, mask: u128) -> Rows {
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
pub(crate) fn is_complete(v: usize, out: &Rows) -> bool {
    let mut has_in: u16 = 1;
    for &row in out.iter().take(v - 1) {
        if row == 0 {
            return false;
        }
        has_in |= row;
    }
    has_in == ((1u32 << v) - 1) as u16
}

/// Calls `f(set)` for every set `forced | t` with `t` a subset of `free` of `t_min..=t_max`
/// elements (in order of size, then Gosper's order), until `f` returns `Ok(false)`.
fn each_subset<E>(free: u32, forced: u32, t_min: usize, t_max: usize, mut f: impl FnMut(u32) -> Result<bool, E>) -> Result<bool, E> {
    let mut positions = [0u8; 32];
    let mut len = 0;
    let mut bits = free;
    while bits != 0 {
        positions[len] = bits.trailing_zeros() as u8;
        len += 1;
        bits &= bits - 1;
    }
    for t in t_min..=t_max.min(len) {
        let mut m: u32 = if t == 0 { 0 } else { (1u32 << t) - 1 };
        let limit: u32 = 1u32 << len;
        while m < limit {
            let mut set = forced;
            let mut b = m;
            while b != 0 {
                set |= 1 << positions[b.trailing_zeros() as usize];
                b &= b - 1;
            }
            if !f(set)? {
                return Ok(false);
            }
            if m == 0 {
                break;
            }
            let c = m & m.wrapping_neg();
            let r = m + c;
            m = (((r ^ m) >> 2) / c) | r;
        }
    }
    Ok(true)
}

/// The generator of complete DAGs (module docs).
struct Complete<'a> {
    v: usize,
    emax: usize,
    rows: Rows,
    cancel: &'a Cancel,
    steps: u64,
}

/// What vertex `j` may take as in-set: (free vertices, forced vertices, t_min, t_max), or
/// `None` when nothing fits.
type InSets = Option<(u32, u32, usize, usize)>;

impl Complete<'_> {
    fn in_sets(&self, j: usize, used: usize, uncovered: u32) -> InSets {
        let last = j == self.v - 1;
        // the output takes every uncovered vertex; other vertices any non-empty set
        let forced = if last { uncovered } else { 0 };
        let free = ((1u32 << j) - 1) & !forced;
        let later = self.v - 1 - j; // vertices still to place after j
        let budget = self.emax - used;
        let forced_n = forced.count_ones() as usize;
        if forced_n > budget {
            return None;
        }
        let t_max = (budget - forced_n).saturating_sub(later);
        Some((free, forced, usize::from(forced == 0), t_max))
    }

    /// Whether the DAG can still be completed after vertex `j` took `set`.
    #[inline]
    fn feasible(&self, j: usize, used2: usize, uncovered2: u32) -> bool {
        if j == self.v - 1 {
            uncovered2 == 0
        } else {
            used2 + uncovered2.count_ones() as usize + (self.v - 1 - j) - 1 <= self.emax
        }
    }

    fn tick(&mut self) -> Result<(), SpaceError> {
        self.steps += 1;
        if self.steps % 4096 == 0 {
            self.cancel.check()?;
        }
        Ok(())
    }

    /// Places vertex `j` (its in-set) and everything after it, calling `visit` with every
    /// complete DAG; `uncovered`: the placed vertices without an out-edge. `Ok(false)`: the
    /// visitor asked to stop.
    fn place(&mut self, j: usize, used: usize, uncovered: u32, visit: &mut dyn FnMut(&Rows) -> bool) -> Result<bool, SpaceError> {
        self.tick()?;
        let Some((free, forced, t_min, t_max)) = self.in_sets(j, used, uncovered) else {
            return Ok(true);
        };
        let last = j == self.v - 1;
        each_subset(free, forced, t_min, t_max, |set| {
            let used2 = used + set.count_ones() as usize;
            let uncovered2 = (uncovered & !set) | if last { 0 } else { 1 << j };
            if !self.feasible(j, used2, uncovered2) {
                return Ok(true);
            }
            let mut s = set;
            while s != 0 {
                self.rows[s.trailing_zeros() as usize] |= 1 << j;
                s &= s - 1;
            }
            let go_on = if last { visit(&self.rows) } else { self.place(j + 1, used2, uncovered2, visit)? };
            let mut s = set;
            while s != 0 {
                self.rows[s.trailing_zeros() as usize] &= !(1 << j);
                s &= s - 1;
            }
            Ok(go_on)
        })
    }

    /// Like [`Complete::place`], but only counts, adding to `count` and stopping (`Ok(false)`)
    /// once it passes `cap`. The output's in-sets are counted in closed form.
    fn count(&mut self, j: usize, used: usize, uncovered: u32, count: &mut u64, cap: u64) -> Result<bool, SpaceError> {
        self.tick()?;
        let Some((free, forced, t_min, t_max)) = self.in_sets(j, used, uncovered) else {
            return Ok(true);
        };
        if j == self.v - 1 {
            // every subset of the free vertices of an allowed size completes the DAG
            let f = free.count_ones() as usize;
            let ways: f64 = (t_min..=t_max.min(f)).map(|t| binomial(f, t)).sum();
            *count = count.saturating_add(ways as u64);
            return Ok(*count <= cap);
        }
        each_subset(free, forced, t_min, t_max, |set| {
            let used2 = used + set.count_ones() as usize;
            let uncovered2 = (uncovered & !set) | (1 << j);
            if !self.feasible(j, used2, uncovered2) {
                return Ok(true);
            }
            self.count(j + 1, used2, uncovered2, count, cap)
        })
    }
}

/// Calls `visit` with every complete DAG on `v` vertices with at most `max_edges` edges, in a
/// fixed order, until it returns `false`. `Ok(false)` when the visitor stopped early.
pub fn for_each_complete(
    v: usize,
    max_edges: usize,
    cancel: &Cancel,
    visit: impl FnMut(&Rows) -> bool,
) -> Result<bool, SpaceError> {
    if !(2..=MAX_VERTICES).contains(&v) {
        return Ok(true);
    }
    let emax = max_edges.min(v * (v - 1) / 2);
    if emax < v - 1 {
        return Ok(true);
    }
    let mut visit = visit;
    let mut g = Complete { v, emax, rows: [0; MAX_VERTICES], cancel, steps: 0 };
    g.place(1, 0, 1, &mut visit)
}

/// The number of complete DAGs on `v` vertices with at most `max_edges` edges, or `None` when
/// there are more than `cap`.
pub fn count_complete(v: usize, max_edges: usize, cap: u64, cancel: &Cancel) -> Result<Option<u64>, SpaceError> {
    if !(2..=MAX_VERTICES).contains(&v) {
        return Ok(Some(0));
    }
    let emax = max_edges.min(v * (v - 1) / 2);
    if emax < v - 1 {
        return Ok(Some(0));
    }
    let mut g = Complete { v, emax, rows: [0; MAX_VERTICES], cancel, steps: 0 };
    let mut count = 0u64;
    let finished = g.count(1, 0, 1, &mut count, cap)?;
    Ok(if finished { Some(count) } else { None })
}

/// The exact number of labelled cells (before de-duplication) per vertex count, or `None` when
/// there are more than [`MAX_LABELLED_CELLS`] in all (counting stops there).
pub fn labelled_counts(space: &SearchSpace, cancel: &Cancel) -> Result<Option<Vec<u64>>, SpaceError> {
    let k = space.num_ops() as u64;
    let mut counts = vec![0u64; space.max_vertices() + 1];
    let mut left = MAX_LABELLED_CELLS;
    for (v, count) in counts.iter_mut().enumerate().skip(2) {
        // labellings per DAG; more than the cells left means a single DAG is too many
        let per = k.checked_pow((v - 2) as u32).unwrap_or(u64::MAX);
        let Some(dags) = count_complete(v, space.max_edges(), left / per.max(1), cancel)? else {
            return Ok(None);
        };
        *count = dags * per;
        left -= *count;
    }
    Ok(Some(counts))
}

/// Whether [`enumerate`] accepts the space: the labelled cells to canonicalise number at most
/// [`MAX_LABELLED_CELLS`]. A pure function of the space.
pub fn is_enumerable(space: &SearchSpace, cancel: &Cancel) -> Result<bool, SpaceError> {
    Ok(labelled_counts(space, cancel)?.is_some())
}

/// Enumerates every unique valid cell of the space, or refuses up front (with a size estimate)
/// when the space is too large.
pub fn enumerate(space: &SearchSpace, n_jobs: Option<usize>, cancel: &Cancel) -> Result<Enumeration, SpaceError> {
    if !is_enumerable(space, cancel)? {
        let sampler = crate::sample::OrbitSampler::new(space);
        let (estimate, se) = crate::sample::estimate_count(&sampler, 200_000, 0x5EED, n_jobs, cancel)?;
        return Err(SpaceError::TooLargeToEnumerate {
            estimate,
            rel_se: if estimate > 0.0 { 100.0 * se / estimate } else { 0.0 },
            limit: MAX_LABELLED_CELLS,
        });
    }
    let k = space.num_ops();
    let mut graphs: Vec<(usize, Rows)> = Vec::new();
    for v in 2..=space.max_vertices() {
        let mut failed = Ok(());
        for_each_complete(v, space.max_edges(), cancel, |rows| {
            failed = reserve(&mut graphs, 1, "the enumeration");
            if failed.is_ok() {
                graphs.push((v, *rows));
            }
            failed.is_ok()
        })?;
        failed?;
    }
    // canonicalise every labelling of every graph; per graph in parallel
    let per_graph: Vec<Result<Vec<(u64, Cell)>, SpaceError>> = map_heavy(graphs.len(), n_jobs, |g| {
        cancel.check()?;
        let (v, out) = graphs[g];
        let interior = v - 2;
        let labellings = k.pow(interior as u32);
        let mut ops = [OP_PAD; MAX_VERTICES];
        ops[0] = OP_INPUT;
        ops[v - 1] = OP_OUTPUT;
        let mut res: Vec<(u64, Cell)> = crate::limits::vec_with_capacity(labellings, "the enumeration")?;
        for mut code in 0..labellings {
            if code % 4096 == 4095 {
                cancel.check()?;
            }
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
        Ok(res)
    });
    let mut all: Vec<(usize, u64, Cell)> = Vec::new();
    let mut total = 0;
    for r in &per_graph {
        total += r.as_ref().map_err(Clone::clone)?.len();
    }
    reserve(&mut all, total, "the enumeration")?;
    for r in per_graph {
        all.extend(r?.into_iter().map(|(f, c)| (c.num_vertices(), f, c)));
    }
    crate::par::with_jobs(n_jobs, || all.par_sort_unstable());
    all.dedup_by(|a, b| a.2 == b.2);
    let mut counts = vec![0u64; space.max_vertices() + 1];
    let mut cells = crate::limits::vec_with_capacity(all.len(), "the enumeration")?;
    let mut fingerprints = crate::limits::vec_with_capacity(all.len(), "the enumeration")?;
    for (v, f, c) in all {
        counts[v] += 1;
        cells.push(c);
        fingerprints.push(f);
    }
    Ok(Enumeration { cells: Arc::new(cells), fingerprints, counts })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every complete edge mask and its edge count, by scanning all masks.
    fn scanned(v: usize) -> Vec<(usize, Rows)> {
        let bits = v * (v - 1) / 2;
        (0u64..1 << bits)
            .map(|m| (m.count_ones() as usize, rows_from_mask(v, m as u128)))
            .filter(|(_, rows)| is_complete(v, rows))
            .collect()
    }

    #[test]
    fn generated_dags_are_exactly_the_complete_masks() {
        let cancel = Cancel::new();
        for v in 2..=7 {
            let all = scanned(v);
            for e in 0..=v * (v - 1) / 2 + 1 {
                let mut got = Vec::new();
                for_each_complete(v, e, &cancel, |r| {
                    got.push(*r);
                    true
                })
                .unwrap();
                let mut expect: Vec<Rows> = all.iter().filter(|(k, _)| *k <= e).map(|(_, r)| *r).collect();
                assert_eq!(count_complete(v, e, u64::MAX, &cancel).unwrap(), Some(expect.len() as u64), "v={v}, e={e}");
                let n = got.len();
                got.sort();
                got.dedup();
                assert_eq!(got.len(), n, "duplicates for v={v}, e={e}");
                expect.sort();
                assert_eq!(got, expect, "v={v}, e={e}");
            }
        }
    }

    #[test]
    fn nb101_labelled_counts_match_the_reference() {
        let counts = labelled_counts(&SearchSpace::nb101(), &Cancel::new()).unwrap().unwrap();
        assert_eq!(counts, vec![0, 0, 1, 6, 90, 3267, 125_145, 1_164_699]);
    }

    #[test]
    fn tiny_spaces_with_many_vertices_are_enumerable() {
        let cancel = Cancel::new();
        for (edges, expect) in [(1usize, 1usize), (2, 2), (3, 4)] {
            let space = SearchSpace::new(16, edges, vec!["a".into()]).unwrap();
            assert!(is_enumerable(&space, &cancel).unwrap());
            let e = enumerate(&space, None, &cancel).unwrap();
            assert_eq!(e.cells.len(), expect, "max_edges {edges}");
        }
        // 16 vertices with 15 edges: every vertex but the output has exactly one out-edge and
        // every vertex but the input exactly one in-edge, so the only complete DAG is the chain
        assert_eq!(count_complete(16, 15, u64::MAX, &cancel).unwrap(), Some(1));
        assert_eq!(count_complete(16, 16, 10, &cancel).unwrap(), None);
        // 2 + 1 + 3 + 10 + 36 + ... cells: a handful of DAGs per vertex count up to 6 edges
        let space = SearchSpace::new(16, 6, vec!["a".into(), "b".into()]).unwrap();
        let counts = labelled_counts(&space, &cancel).unwrap().unwrap();
        assert_eq!(counts[8..], [0; 9]);
        assert_eq!(counts[7], 32, "the chain of 7 vertices, 2^5 labellings");
        assert!(!is_enumerable(&SearchSpace::new(16, 40, vec!["a".into(), "b".into()]).unwrap(), &cancel).unwrap());
    }

    #[test]
    fn cancelled_enumeration_stops() {
        let cancel = Cancel::new();
        cancel.cancel();
        assert_eq!(enumerate(&SearchSpace::nb101(), None, &cancel).err(), Some(SpaceError::Interrupted));
    }
}
