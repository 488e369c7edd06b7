//! Exact canonical forms, fingerprints and automorphism counts of cells.
//!
//! The canonical form is computed by individualisation-refinement, the method of graph
//! canonisation tools, specialised to small vertex-labelled DAGs:
//!
//! 1. Every vertex gets an initial colour from isomorphism-invariant data: its depth (longest
//!    path from the input), its op, its in- and out-degree. Colours are ranks, so ordering the
//!    vertices by colour orders them by depth first, which is a topological order.
//! 2. Colours are refined (each vertex's colour is split by the multisets of colours of its in-
//!    and out-neighbours) until the partition is stable.
//! 3. If classes with several vertices remain, the first such class is split by trying each of
//!    its vertices as "individualised" in turn, refining again, recursively. Every leaf of this
//!    search is a vertex order; the canonical form is the smallest cell (ops first, then
//!    adjacency rows) over all leaves.
//!
//! Every step is a function of the cell up to isomorphism, so isomorphic cells have the same
//! set of leaf encodings and the same minimum; and equal canonical forms are the same labelled
//! DAG, so the cells are isomorphic. The form is therefore exact, not probabilistic: a hash used
//! inside refinement can only fail to split a class (more leaves to try), never produce a wrong
//! answer. Branches that differ only by swapping two *twins* (vertices with the same op and the
//! same in- and out-neighbours, an automorphism) are skipped, which keeps cells with many
//! parallel identical branches fast.

use crate::cell::Cell;
use crate::MAX_VERTICES;

type Ranks = [u8; MAX_VERTICES];

#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Dense ranks of `keys[..n]` (equal keys, equal rank) and the number of distinct keys.
#[inline]
fn dense_rank(n: usize, keys: &[u128; MAX_VERTICES]) -> (Ranks, usize) {
    let mut idx = [0u8; MAX_VERTICES];
    for (i, x) in idx.iter_mut().enumerate().take(n) {
        *x = i as u8;
    }
    for a in 1..n {
        let x = idx[a];
        let kx = keys[x as usize];
        let mut b = a;
        while b > 0 && keys[idx[b - 1] as usize] > kx {
            idx[b] = idx[b - 1];
            b -= 1;
        }
        idx[b] = x;
    }
    let mut ranks = [0u8; MAX_VERTICES];
    let mut r = 0u8;
    for p in 0..n {
        if p > 0 && keys[idx[p] as usize] != keys[idx[p - 1] as usize] {
            r += 1;
        }
        ranks[idx[p] as usize] = r;
    }
    (ranks, r as usize + 1)
}

/// Refines `ranks` to the coarsest stable partition below it.
#[inline]
fn refine(n: usize, out: &[u16], inn: &[u16], ranks: &mut Ranks, classes: &mut usize) {
    let mut keys = [0u128; MAX_VERTICES];
    while *classes < n {
        for v in 0..n {
            let mut s_in = 0u64;
            let mut m = inn[v];
            while m != 0 {
                let u = m.trailing_zeros() as usize;
                m &= m - 1;
                s_in = s_in.wrapping_add(mix(ranks[u] as u64 ^ 0x5851_F42D_4C95_7F2D));
            }
            let mut s_out = 0u64;
            let mut m = out[v];
            while m != 0 {
                let w = m.trailing_zeros() as usize;
                m &= m - 1;
                s_out = s_out.wrapping_add(mix((ranks[w] as u64) ^ 0x1405_7B7E_F767_814F));
            }
            let sig = mix(s_in ^ mix(s_out.wrapping_add(0x2545_F491_4F6C_DD1D)));
            keys[v] = ((ranks[v] as u128) << 64) | sig as u128;
        }
        let (r, c) = dense_rank(n, &keys);
        if c == *classes {
            break;
        }
        *ranks = r;
        *classes = c;
    }
}

/// The state shared by the leaves of one canonical search.
struct Search<'a> {
    cell: &'a Cell,
    inn: [u16; MAX_VERTICES],
    /// Extra per-vertex labels that are part of the identity (used for twin quotients).
    extra: [u8; MAX_VERTICES],
    prune_twins: bool,
    best: Option<(Cell, [u8; MAX_VERTICES])>,
    /// How many leaves had the best encoding (the automorphism count when nothing is pruned).
    best_count: u64,
}

impl Search<'_> {
    fn twins(&self, u: usize, v: usize) -> bool {
        self.inn[u] == self.inn[v] && self.cell.out_rows()[u] == self.cell.out_rows()[v] && self.extra[u] == self.extra[v]
    }

    fn leaf(&mut self, ranks: &Ranks) {
        let n = self.cell.num_vertices();
        let mut order = [0u8; MAX_VERTICES];
        for v in 0..n {
            order[ranks[v] as usize] = v as u8;
        }
        let cand = self.cell.permuted(&order);
        let mut extra = [0u8; MAX_VERTICES];
        for p in 0..n {
            extra[p] = self.extra[order[p] as usize];
        }
        match &self.best {
            Some((b, e)) => match (cand, extra).cmp(&(*b, *e)) {
                std::cmp::Ordering::Less => {
                    self.best = Some((cand, extra));
                    self.best_count = 1;
                }
                std::cmp::Ordering::Equal => self.best_count += 1,
                std::cmp::Ordering::Greater => {}
            },
            None => {
                self.best = Some((cand, extra));
                self.best_count = 1;
            }
        }
    }

    fn run(&mut self, ranks: Ranks, classes: usize) {
        let n = self.cell.num_vertices();
        if classes == n {
            self.leaf(&ranks);
            return;
        }
        // the first class (in rank order) with more than one vertex
        let mut count = [0u8; MAX_VERTICES];
        for &r in &ranks[..n] {
            count[r as usize] += 1;
        }
        let target = (0..classes).find(|&r| count[r] > 1).expect("a non-singleton class exists") as u8;
        let mut tried = [0u8; MAX_VERTICES];
        let mut n_tried = 0;
        for v in 0..n {
            if ranks[v] != target {
                continue;
            }
            if self.prune_twins && tried[..n_tried].iter().any(|&u| self.twins(u as usize, v)) {
                continue;
            }
            tried[n_tried] = v as u8;
            n_tried += 1;
            let mut keys = [0u128; MAX_VERTICES];
            for u in 0..n {
                keys[u] = (ranks[u] as u128) * 2 + (u != v) as u128;
            }
            let (mut r2, mut c2) = dense_rank(n, &keys);
            refine(n, self.cell.out_rows(), &self.inn, &mut r2, &mut c2);
            self.run(r2, c2);
        }
    }
}

/// The depth (longest path from the input) of every vertex.
pub(crate) fn depths(cell: &Cell) -> [u8; MAX_VERTICES] {
    let mut depth = [0u8; MAX_VERTICES];
    for v in 0..cell.num_vertices() {
        let mut m = cell.out_rows()[v];
        while m != 0 {
            let w = m.trailing_zeros() as usize;
            m &= m - 1;
            depth[w] = depth[w].max(depth[v] + 1);
        }
    }
    depth
}

fn search(cell: &Cell, extra: [u8; MAX_VERTICES], prune_twins: bool) -> Search<'_> {
    let n = cell.num_vertices();
    let inn = cell.in_rows();
    let out = cell.out_rows();
    let depth = depths(cell);
    let mut keys = [0u128; MAX_VERTICES];
    for v in 0..n {
        keys[v] = ((depth[v] as u128) << 64)
            | ((extra[v] as u128) << 48)
            | ((((cell.ops()[v] as i32) + 4) as u128) << 32)
            | ((inn[v].count_ones() as u128) << 16)
            | out[v].count_ones() as u128;
    }
    let (mut ranks, mut classes) = dense_rank(n, &keys);
    refine(n, out, &inn, &mut ranks, &mut classes);
    let mut s = Search { cell, inn, extra, prune_twins, best: None, best_count: 0 };
    s.run(ranks, classes);
    s
}

/// The canonical form of a pruned cell: equal for two cells exactly when they are isomorphic
/// (input and output fixed, ops preserved). It is itself a valid cell (vertices in a
/// topological order) isomorphic to `cell`, and `canonical(canonical(c)) == canonical(c)`.
pub fn canonical(cell: &Cell) -> Cell {
    search(cell, [0; MAX_VERTICES], true).best.expect("the search visits a leaf").0
}

/// A 64-bit fingerprint of a cell in canonical form.
///
/// Cells with at most 8 vertices and op codes below 16 (every NAS-Bench-101 cell) are packed
/// exactly, `n << 52 | interior ops (4 bits each) << 28 | edge bits`, so the fingerprint is
/// injective there: no two non-isomorphic cells share it, and sorting by it sorts by
/// (vertices, ops, edges). Other cells get `1 << 63 | h`, where `h` is a 63-bit mix of the
/// canonical form: distinct from every packed value, and two non-isomorphic such cells collide
/// with probability about 2^-63 (about 5% chance of one collision among 10^9 cells).
pub fn fingerprint_of_canonical(c: &Cell) -> u64 {
    let n = c.num_vertices();
    let ops = c.ops();
    if n <= 8 && ops[1..n - 1].iter().all(|&o| (0..16).contains(&o)) {
        let mut x = n as u64;
        for p in 0..6 {
            x <<= 4;
            if p + 1 < n - 1 {
                x |= ops[p + 1] as u64;
            }
        }
        x <<= 28;
        x | edge_mask(c)
    } else {
        let mut h = mix(n as u64 ^ 0x9E37_79B9_7F4A_7C15);
        for (v, (&op, &row)) in ops.iter().zip(c.out_rows()).enumerate() {
            h = mix(h ^ ((op as u8 as u64) << 16 | row as u64).wrapping_add(v as u64 * 0x1000_0000_01B3));
        }
        (1 << 63) | (h >> 1)
    }
}

/// The fingerprint of any pruned cell (canonicalises first).
pub fn fingerprint(cell: &Cell) -> u64 {
    fingerprint_of_canonical(&canonical(cell))
}

/// The upper-triangle edge bits of a cell in the reference order: edge x -> y is bit
/// `x + y * (y - 1) / 2`.
pub fn edge_mask(c: &Cell) -> u64 {
    let mut mask = 0u64;
    for (x, &row) in c.out_rows().iter().enumerate() {
        let mut m = row;
        while m != 0 {
            let y = m.trailing_zeros() as usize;
            m &= m - 1;
            mask |= 1 << (x + y * (y - 1) / 2);
        }
    }
    mask
}

/// The number of automorphisms of a pruned cell (vertex permutations fixing input and output
/// that preserve ops and edges).
///
/// Twins (same op, same in- and out-neighbours) can be permuted freely, so the group is the
/// product of the symmetric groups on twin classes times the automorphisms of the quotient DAG
/// whose vertices are the twin classes labelled with their size; the latter are counted as the
/// leaves of an unpruned canonical search that reach the best encoding.
pub fn automorphism_count(cell: &Cell) -> u64 {
    let n = cell.num_vertices();
    let inn = cell.in_rows();
    let out = cell.out_rows();
    let ops = cell.ops();
    let mut class_of = [u8::MAX; MAX_VERTICES];
    let mut reps = [0u8; MAX_VERTICES];
    let mut sizes = [0u8; MAX_VERTICES];
    let mut m = 0usize;
    for v in 0..n {
        let found = (0..m).find(|&c| {
            let r = reps[c] as usize;
            inn[r] == inn[v] && out[r] == out[v] && ops[r] == ops[v]
        });
        match found {
            Some(c) => {
                class_of[v] = c as u8;
                sizes[c] += 1;
            }
            None => {
                class_of[v] = m as u8;
                reps[m] = v as u8;
                sizes[m] = 1;
                m += 1;
            }
        }
    }
    let mut factor: u64 = 1;
    for &s in &sizes[..m] {
        factor *= (1..=s as u64).product::<u64>();
    }
    if m == n {
        return search(cell, [0; MAX_VERTICES], false).best_count;
    }
    // quotient: classes ordered by their first vertex, which is a topological order
    let mut q_ops = [0i8; MAX_VERTICES];
    let mut q_out = [0u16; MAX_VERTICES];
    for c in 0..m {
        let r = reps[c] as usize;
        q_ops[c] = ops[r];
        let mut row = out[r];
        while row != 0 {
            let w = row.trailing_zeros() as usize;
            row &= row - 1;
            q_out[c] |= 1 << class_of[w];
        }
    }
    let quotient = Cell::from_parts_unchecked(m, pad_ops(&q_ops[..m]), pad_rows(&q_out[..m]));
    let mut extra = [0u8; MAX_VERTICES];
    extra[..m].copy_from_slice(&sizes[..m]);
    factor * search(&quotient, extra, false).best_count
}

fn pad_ops(ops: &[i8]) -> [i8; MAX_VERTICES] {
    let mut a = [crate::cell::OP_PAD; MAX_VERTICES];
    a[..ops.len()].copy_from_slice(ops);
    a
}

fn pad_rows(rows: &[u16]) -> [u16; MAX_VERTICES] {
    let mut a = [0u16; MAX_VERTICES];
    a[..rows.len()].copy_from_slice(rows);
    a
}

/// The number of topological orders of a pruned cell (input first and output last, which every
/// topological order of a pruned cell has).
pub fn topological_order_count(cell: &Cell) -> u64 {
    let n = cell.num_vertices();
    if n <= 3 {
        return 1;
    }
    let k = n - 2; // interior vertices 1..n-1, bit v-1
    let inn = cell.in_rows();
    let mut preds = [0u32; MAX_VERTICES];
    for v in 1..n - 1 {
        preds[v - 1] = ((inn[v] as u32) >> 1) & ((1 << k) - 1);
    }
    let mut f = vec![0u64; 1 << k];
    f[0] = 1;
    for mask in 0..(1usize << k) {
        let ways = f[mask];
        if ways == 0 {
            continue;
        }
        for v in 0..k {
            if mask >> v & 1 == 0 && (preds[v] as usize) & !mask == 0 {
                f[mask | 1 << v] += ways;
            }
        }
    }
    f[(1 << k) - 1]
}

/// The number of distinct labelled cells (vertex orders with edges forward) isomorphic to
/// `cell`: topological orders divided by automorphisms.
pub fn orbit_size(cell: &Cell) -> u64 {
    topological_order_count(cell) / automorphism_count(cell)
}
