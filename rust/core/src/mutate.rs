//! Mutation (one random child per parent) and neighbourhoods (every cell a given number of
//! edits away).
//!
//! # Mutation presets (reference §6), for a space of V vertices and k ops
//! | preset    | edge flip probability | op change probability | NAS-Bench-101 values |
//! |-----------|-----------------------|-----------------------|----------------------|
//! | `Nb101`   | 1 / V                 | 1 / (V - 2)           | 1/7, 1/5             |
//! | `Bananas` | 1 / (V (V - 1) / 2)   | 1 / (V - 2)           | 1/21, 1/5            |
//! | `Naslib`  | 1 / V                 | 1 / k                 | 1/7, 1/3             |
//!
//! The published operators act on the unpruned V x V matrix. A nasfast cell is pruned, so the
//! parent is first embedded in a V-vertex matrix: its vertices but the output keep their
//! positions, the output moves to position V-1, and the free positions in between become dormant
//! vertices (no edges) with ops drawn from the child's generator. Every upper-triangle bit is
//! then flipped and every interior op changed (to a different op) with the preset's
//! probabilities, and the draw is repeated until the pruned child is valid (and, on request, not
//! isomorphic to the parent).
//!
//! # One edit (the neighbourhood rule)
//! On the pruned cell with n vertices, one edit is one of:
//! * change the op of an interior vertex to another op;
//! * remove an edge (the result is pruned; it must still connect input to output);
//! * add an edge x -> y between two existing vertices, where y cannot reach x (no cycle);
//! * insert a new vertex with any op on a new path a -> new -> b between two existing vertices,
//!   where b cannot reach a (this is how cells grow: a pruned cell has no dormant vertices to
//!   wire in).
//!
//! The rule depends only on the cell, not on the order in which its vertices are stored, so
//! isomorphic cells have the same neighbourhood.
//!
//! A neighbour must be valid in the space. Radius r means at most r edits. Neighbours are
//! returned in canonical form, isomorphic duplicates and the parent's own class removed, in the
//! order they are first generated (edits in the order above, by vertex then op / edge).

use crate::canon::canonical;
use crate::cell::{Cell, OP_PAD};
use crate::error::SpaceError;
use crate::limits::{reserve, MAX_NEIGHBOURS};
use crate::par::{map_range, try_map_range, Cancel};
use crate::rng::{item_seed, Rng};
use crate::space::SearchSpace;
use crate::MAX_VERTICES;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The mutation operators of the anchors (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// NAS-Bench-101 notebook (regularised evolution).
    Nb101,
    /// naszilla / BANANAS.
    Bananas,
    /// NASLib.
    Naslib,
}

impl Preset {
    /// The preset of a name: `"nb101"`, `"bananas"` or `"naslib"`.
    pub fn from_name(name: &str) -> Result<Preset, SpaceError> {
        match name {
            "nb101" => Ok(Preset::Nb101),
            "bananas" => Ok(Preset::Bananas),
            "naslib" => Ok(Preset::Naslib),
            _ => Err(SpaceError::UnknownName {
                what: "mutation preset",
                value: name.to_string(),
                expected: "'nb101', 'bananas', 'naslib'".to_string(),
            }),
        }
    }

    /// (edge flip probability, op change probability) in a space.
    pub fn probabilities(self, space: &SearchSpace) -> (f64, f64) {
        let v = space.max_vertices() as f64;
        let interior = (space.max_vertices().max(3) - 2) as f64;
        match self {
            Preset::Nb101 => (1.0 / v, 1.0 / interior),
            Preset::Bananas => (2.0 / (v * (v - 1.0)), 1.0 / interior),
            Preset::Naslib => (1.0 / v, 1.0 / space.num_ops() as f64),
        }
    }
}

/// Attempts per child before giving up (only reachable in degenerate spaces).
pub const MAX_TRIES: usize = 100_000;

/// One child of `parent` (a pruned valid cell) drawn with `rng` (module docs); `Ok(None)` when
/// [`MAX_TRIES`] draws gave no acceptable child.
pub fn mutate_one(
    parent: &Cell,
    space: &SearchSpace,
    preset: Preset,
    non_isomorphic: bool,
    rng: &mut Rng,
    cancel: &Cancel,
) -> Result<Option<Cell>, SpaceError> {
    let v = space.max_vertices();
    let n = parent.num_vertices();
    let k = space.num_ops() as u64;
    let (p_edge, p_op) = preset.probabilities(space);
    // embed: positions 0..n-1 keep their vertex, the output goes to v-1
    let pos = |u: usize| if u == n - 1 { v - 1 } else { u };
    let mut base_out = [0u16; MAX_VERTICES];
    let mut base_ops = [OP_PAD; MAX_VERTICES];
    for u in 0..n {
        base_ops[pos(u)] = parent.ops()[u];
        let mut m = parent.out_rows()[u];
        while m != 0 {
            let w = m.trailing_zeros() as usize;
            m &= m - 1;
            base_out[pos(u)] |= 1 << pos(w);
        }
    }
    for slot in base_ops.iter_mut().take(v - 1).skip(n - 1) {
        *slot = rng.below(k) as i8;
    }
    let parent_canon = if non_isomorphic { Some(canonical(parent)) } else { None };
    for attempt in 0..MAX_TRIES {
        if attempt % 256 == 255 {
            cancel.check()?;
        }
        let mut out = base_out;
        let mut ops = base_ops;
        for (x, row) in out.iter_mut().enumerate().take(v - 1) {
            for y in x + 1..v {
                if rng.bernoulli(p_edge) {
                    *row ^= 1 << y;
                }
            }
        }
        if k > 1 {
            for slot in ops.iter_mut().take(v - 1).skip(1) {
                if rng.bernoulli(p_op) {
                    let other = rng.below(k - 1) as i8;
                    *slot = if other >= *slot { other + 1 } else { other };
                }
            }
        }
        let child = Cell::from_parts_unchecked(v, ops, out);
        if let Ok(p) = child.validate(space) {
            match &parent_canon {
                Some(pc) if canonical(&p) == *pc => continue,
                _ => return Ok(Some(p)),
            }
        }
    }
    Ok(None)
}

/// One child per parent; child i uses the generator seeded with `item_seed(seed, i)`.
pub fn mutate(
    parents: &[Cell],
    space: &SearchSpace,
    preset: Preset,
    non_isomorphic: bool,
    seed: u64,
    n_jobs: Option<usize>,
    cancel: &Cancel,
) -> Result<Vec<Cell>, SpaceError> {
    try_map_range(parents.len(), n_jobs, |i| {
        cancel.check()?;
        let mut rng = Rng::new(item_seed(seed, i as u64));
        mutate_one(&parents[i], space, preset, non_isomorphic, &mut rng, cancel)?
            .ok_or(SpaceError::NoValidChild { row: i, tries: MAX_TRIES })
    })
}

/// Pushes `c` (pruned, valid) in canonical form unless it is the parent or already present.
#[inline]
fn push_unique(found: &mut Vec<Cell>, parent: &Cell, c: Cell) {
    let cc = canonical(&c);
    if cc != *parent && !found.contains(&cc) {
        found.push(cc);
    }
}

/// The DAG given by `ops` and `out` (edges may point backwards in index order, never in a
/// cycle) renumbered in a topological order that keeps the input first and the output last.
fn topologically_sorted(n: usize, ops: [i8; MAX_VERTICES], out: [u16; MAX_VERTICES]) -> Cell {
    let mut indeg = [0u8; MAX_VERTICES];
    for row in out.iter().take(n) {
        let mut m = *row;
        while m != 0 {
            indeg[m.trailing_zeros() as usize] += 1;
            m &= m - 1;
        }
    }
    // Kahn's algorithm, smallest ready index first; the output has out-degree 0 and every other
    // vertex reaches it, so it comes last
    let mut order = [0u8; MAX_VERTICES];
    let mut ready: u32 = 0;
    for (v, &d) in indeg.iter().enumerate().take(n) {
        if d == 0 {
            ready |= 1 << v;
        }
    }
    for slot in order.iter_mut().take(n) {
        let v = ready.trailing_zeros() as usize;
        ready &= ready - 1;
        *slot = v as u8;
        let mut m = out[v];
        while m != 0 {
            let w = m.trailing_zeros() as usize;
            m &= m - 1;
            indeg[w] -= 1;
            if indeg[w] == 0 {
                ready |= 1 << w;
            }
        }
    }
    // `permuted` only relabels, so the unsorted intermediate cell is fine as its input
    Cell::from_parts_unchecked(n, ops, out).permuted(&order)
}

/// Every cell one edit away from `cell` (pruned and valid), in canonical form, without
/// duplicates and without the cell's own class.
pub fn neighbours_one(cell: &Cell, space: &SearchSpace) -> Vec<Cell> {
    let parent = canonical(cell);
    let mut found = Vec::with_capacity(64);
    let n = cell.num_vertices();
    let k = space.num_ops() as i8;
    let ops = *cell.ops_raw();
    let out = *cell.out_raw();
    let edges = cell.num_edges();
    // op changes
    for v in 1..n - 1 {
        for o in 0..k {
            if o != ops[v] {
                let mut ops2 = ops;
                ops2[v] = o;
                push_unique(&mut found, &parent, Cell::from_parts_unchecked(n, ops2, out));
            }
        }
    }
    // edge removals
    for x in 0..n {
        let mut m = out[x];
        while m != 0 {
            let y = m.trailing_zeros() as usize;
            m &= m - 1;
            let mut out2 = out;
            out2[x] &= !(1 << y);
            if let Ok(p) = Cell::from_parts_unchecked(n, ops, out2).validate(space) {
                push_unique(&mut found, &parent, p);
            }
        }
    }
    // reach[u]: the vertices reachable from u (u included)
    let mut reach = [0u16; MAX_VERTICES];
    for u in (0..n).rev() {
        let mut r = 1u16 << u;
        let mut m = out[u];
        while m != 0 {
            let w = m.trailing_zeros() as usize;
            m &= m - 1;
            r |= reach[w];
        }
        reach[u] = r;
    }
    // edge additions x -> y between existing vertices, in either index order, when y cannot
    // reach x (no cycle); x is not the output, y not the input
    if edges < space.max_edges() {
        for x in 0..n - 1 {
            for (y, &reach_y) in reach[..n].iter().enumerate().skip(1) {
                if x != y && out[x] >> y & 1 == 0 && reach_y >> x & 1 == 0 {
                    let mut out2 = out;
                    out2[x] |= 1 << y;
                    push_unique(&mut found, &parent, topologically_sorted(n, ops, out2));
                }
            }
        }
    }
    // vertex insertions on a new path a -> new -> b between two existing vertices, when b cannot
    // reach a; the new vertex takes index n - 1 before the output moves to n, then the cell is
    // put in topological order
    if n < space.max_vertices() && edges + 2 <= space.max_edges() {
        let grown = |u: usize| if u == n - 1 { n } else { u };
        let mut ops2 = [OP_PAD; MAX_VERTICES];
        let mut out2 = [0u16; MAX_VERTICES];
        for u in 0..n {
            ops2[grown(u)] = ops[u];
            let mut m = out[u];
            while m != 0 {
                let w = m.trailing_zeros() as usize;
                m &= m - 1;
                out2[grown(u)] |= 1 << grown(w);
            }
        }
        let new = n - 1;
        for a in 0..n - 1 {
            for (b, &reach_b) in reach[..n].iter().enumerate().skip(1) {
                if a == b || reach_b >> a & 1 == 1 {
                    continue;
                }
                for o in 0..k {
                    let mut ops3 = ops2;
                    let mut out3 = out2;
                    ops3[new] = o;
                    out3[grown(a)] |= 1 << new;
                    out3[new] |= 1 << grown(b);
                    push_unique(&mut found, &parent, topologically_sorted(n + 1, ops3, out3));
                }
            }
        }
    }
    found
}

/// A shared allowance of neighbours for one call: parents draw from it as they find
/// neighbours, and every parent stops once the call as a whole has found more than the limit.
/// Whether the limit is exceeded depends only on the total, never on thread timing.
#[derive(Debug)]
pub struct NeighbourBudget {
    found: AtomicUsize,
    limit: usize,
}

impl NeighbourBudget {
    /// An allowance of `limit` neighbours.
    pub fn new(limit: usize) -> NeighbourBudget {
        NeighbourBudget { found: AtomicUsize::new(0), limit }
    }

    /// Records `n` more neighbours; `false` once the total is above the limit.
    fn take(&self, n: usize) -> bool {
        self.found.fetch_add(n, Ordering::Relaxed).saturating_add(n) <= self.limit
    }
}

/// Frontier cells expanded together: their neighbourhoods are computed in parallel, then
/// merged in order (so the result does not depend on the number of threads), then the budget and
/// the cancellation flag are checked.
const FRONTIER_CHUNK: usize = 4096;

/// Every cell within `radius` edits of `cell`, in canonical form, without duplicates and
/// without the cell's own class: radius-1 neighbours first, then those first reached at
/// distance 2, and so on. The search ends when no new cell is found (so any radius larger than
/// the space's diameter gives the whole connected component), when `budget` runs out
/// ([`SpaceError::TooManyNeighbours`], reported with `parents`) or when `cancel` is set.
#[allow(clippy::too_many_arguments)]
pub fn neighbours(
    cell: &Cell,
    space: &SearchSpace,
    radius: usize,
    budget: &NeighbourBudget,
    parents: usize,
    n_jobs: Option<usize>,
    cancel: &Cancel,
) -> Result<Vec<Cell>, SpaceError> {
    let too_many = || SpaceError::TooManyNeighbours { radius, parents, limit: budget.limit };
    let oom = |n: usize| SpaceError::OutOfMemory { what: "a neighbourhood", bytes: n as u128 * 64 };
    cancel.check()?;
    let mut all = neighbours_one(cell, space);
    if !budget.take(all.len()) {
        return Err(too_many());
    }
    if radius <= 1 {
        return Ok(all);
    }
    let parent = canonical(cell);
    let mut seen: std::collections::HashSet<Cell> = std::collections::HashSet::new();
    seen.try_reserve(all.len() + 1).map_err(|_| oom(all.len() + 1))?;
    seen.extend(all.iter().copied());
    seen.insert(parent);
    let mut frontier = all.clone();
    let mut distance = 1;
    while distance < radius && !frontier.is_empty() {
        let mut next = Vec::new();
        for chunk in frontier.chunks(FRONTIER_CHUNK) {
            cancel.check()?;
            let found: Vec<Vec<Cell>> = map_range(chunk.len(), n_jobs, |i| neighbours_one(&chunk[i], space));
            let before = next.len();
            for cells in found {
                seen.try_reserve(cells.len()).map_err(|_| oom(seen.len() + cells.len()))?;
                reserve(&mut next, cells.len(), "a neighbourhood")?;
                for nb in cells {
                    if seen.insert(nb) {
                        next.push(nb);
                    }
                }
            }
            if !budget.take(next.len() - before) {
                return Err(too_many());
            }
        }
        reserve(&mut all, next.len(), "a neighbourhood")?;
        all.extend_from_slice(&next);
        frontier = next;
        distance += 1;
    }
    Ok(all)
}

/// The neighbourhoods of a batch: all neighbours, parent by parent, and the offsets (parent i
/// owns `offsets[i]..offsets[i + 1]`). At most [`MAX_NEIGHBOURS`] neighbours in all.
pub fn neighbours_batch(
    cells: &[Cell],
    space: &SearchSpace,
    radius: usize,
    n_jobs: Option<usize>,
    cancel: &Cancel,
) -> Result<(Vec<Cell>, Vec<i64>), SpaceError> {
    if radius == 0 {
        return Err(SpaceError::BadValue { what: "radius", value: 0, rule: "must be at least 1" });
    }
    let budget = NeighbourBudget::new(MAX_NEIGHBOURS);
    // parents in parallel when there are many; otherwise each parent's frontiers in parallel
    let inner = if cells.len() >= crate::par::PAR_THRESHOLD { Some(1) } else { n_jobs };
    let per: Vec<Vec<Cell>> =
        try_map_range(cells.len(), n_jobs, |i| neighbours(&cells[i], space, radius, &budget, cells.len(), inner, cancel))?;
    let mut offsets = crate::limits::vec_with_capacity(per.len() + 1, "the neighbour offsets")?;
    offsets.push(0i64);
    let mut all = crate::limits::vec_with_capacity(per.iter().map(|v| v.len()).sum(), "the neighbours")?;
    for v in per {
        all.extend_from_slice(&v);
        offsets.push(all.len() as i64);
    }
    Ok((all, offsets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::sample_rejection;

    #[test]
    fn an_endless_radius_stops_at_the_whole_component() {
        // every cell of this space can shrink to the 2-vertex cell and grow again, so the edit
        // graph is connected: the unbounded neighbourhood is every other cell
        let space = SearchSpace::new(5, 6, vec!["a".into(), "b".into()]).unwrap();
        let cancel = Cancel::new();
        let all = crate::enumerate::enumerate(&space, None, &cancel).unwrap();
        let budget = NeighbourBudget::new(MAX_NEIGHBOURS);
        let far = neighbours(&all.cells[7], &space, 1 << 62, &budget, 1, None, &cancel).unwrap();
        assert_eq!(far.len(), all.cells.len() - 1);
    }

    #[test]
    fn the_budget_and_the_flag_stop_the_search() {
        let space = SearchSpace::nb101();
        let cancel = Cancel::new();
        let parents = sample_rejection(&space, 3, 1, None, &cancel).unwrap();
        let r = neighbours(&parents[0], &space, 3, &NeighbourBudget::new(100), 3, None, &cancel);
        assert_eq!(r, Err(SpaceError::TooManyNeighbours { radius: 3, parents: 3, limit: 100 }));
        let stop = Cancel::new();
        stop.cancel();
        assert_eq!(neighbours_batch(&parents, &space, 2, None, &stop), Err(SpaceError::Interrupted));
        assert!(matches!(neighbours_batch(&parents, &space, 0, None, &cancel), Err(SpaceError::BadValue { what: "radius", .. })));
    }

    #[test]
    fn large_frontiers_do_not_depend_on_threads() {
        // radius 4 of a NAS-Bench-101 cell expands frontiers of thousands of cells in parallel
        let space = SearchSpace::nb101();
        let cancel = Cancel::new();
        let parents = sample_rejection(&space, 2, 3, None, &cancel).unwrap();
        let a = neighbours_batch(&parents, &space, 4, Some(1), &cancel).unwrap();
        let b = neighbours_batch(&parents, &space, 4, Some(2), &cancel).unwrap();
        assert!(a.0.len() > 2 * FRONTIER_CHUNK);
        assert_eq!(a, b);
    }
}
