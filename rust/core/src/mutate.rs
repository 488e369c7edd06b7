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
//! * add an edge i -> j between two existing vertices (i < j);
//! * insert a new vertex with any op on a new path a -> new -> b between two existing vertices
//!   a < b (this is how cells grow: a pruned cell has no dormant vertices to wire in).
//!
//! A neighbour must be valid in the space. Radius r means at most r edits. Neighbours are
//! returned in canonical form, isomorphic duplicates and the parent's own class removed, in the
//! order they are first generated (edits in the order above, by vertex then op / edge).

use crate::canon::canonical;
use crate::cell::{Cell, OP_PAD};
use crate::error::SpaceError;
use crate::rng::{item_seed, Rng};
use crate::space::SearchSpace;
use crate::MAX_VERTICES;

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

/// One child of `parent` (a pruned valid cell) drawn with `rng` (module docs).
pub fn mutate_one(
    parent: &Cell,
    space: &SearchSpace,
    preset: Preset,
    non_isomorphic: bool,
    rng: &mut Rng,
) -> Option<Cell> {
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
    for _ in 0..MAX_TRIES {
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
                _ => return Some(p),
            }
        }
    }
    None
}

/// One child per parent; child i uses the generator seeded with `item_seed(seed, i)`.
pub fn mutate(
    parents: &[Cell],
    space: &SearchSpace,
    preset: Preset,
    non_isomorphic: bool,
    seed: u64,
    n_jobs: Option<usize>,
) -> Result<Vec<Cell>, SpaceError> {
    crate::par::try_map_range(parents.len(), n_jobs, |i| {
        let mut rng = Rng::new(item_seed(seed, i as u64));
        mutate_one(&parents[i], space, preset, non_isomorphic, &mut rng)
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
    // edge additions
    if edges < space.max_edges() {
        for x in 0..n {
            for y in x + 1..n {
                if out[x] >> y & 1 == 0 {
                    let mut out2 = out;
                    out2[x] |= 1 << y;
                    push_unique(&mut found, &parent, Cell::from_parts_unchecked(n, ops, out2));
                }
            }
        }
    }
    // vertex insertions on a new path a -> new -> b, the new vertex placed just before b
    if n < space.max_vertices() && edges + 2 <= space.max_edges() {
        for b in 1..n {
            for a in 0..b {
                for o in 0..k {
                    let mut ops2 = [OP_PAD; MAX_VERTICES];
                    let mut out2 = [0u16; MAX_VERTICES];
                    // old vertex u moves to u (u < b) or u + 1 (u >= b); new vertex is b
                    let shift = |u: usize| if u < b { u } else { u + 1 };
                    for u in 0..n {
                        ops2[shift(u)] = ops[u];
                        let mut m = out[u];
                        while m != 0 {
                            let w = m.trailing_zeros() as usize;
                            m &= m - 1;
                            out2[shift(u)] |= 1 << shift(w);
                        }
                    }
                    ops2[b] = o;
                    out2[shift(a)] |= 1 << b;
                    out2[b] |= 1 << shift(b);
                    push_unique(&mut found, &parent, Cell::from_parts_unchecked(n + 1, ops2, out2));
                }
            }
        }
    }
    found
}

/// Every cell within `radius` edits of `cell`, in canonical form, without duplicates and
/// without the cell's own class: radius-1 neighbours first, then those first reached at
/// distance 2, and so on.
pub fn neighbours(cell: &Cell, space: &SearchSpace, radius: usize) -> Vec<Cell> {
    let mut all = neighbours_one(cell, space);
    if radius <= 1 {
        return all;
    }
    let parent = canonical(cell);
    let mut seen: std::collections::HashSet<Cell> = all.iter().copied().collect();
    seen.insert(parent);
    let mut frontier = all.clone();
    for _ in 1..radius {
        let mut next = Vec::new();
        for c in &frontier {
            for nb in neighbours_one(c, space) {
                if seen.insert(nb) {
                    next.push(nb);
                }
            }
        }
        all.extend_from_slice(&next);
        frontier = next;
    }
    all
}
