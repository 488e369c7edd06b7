//! Random cells: uniform over unique cells, and the conventional rejection sampler.
//!
//! Uniform over unique cells is exact in two ways:
//! * in an enumerated space, by drawing positions in the enumeration ([`sample_indices`]);
//! * in any space, by *orbit-weighted rejection* ([`sample_uniform_orbit`]): draw a labelled
//!   cell uniformly from all (vertex count, edge mask with at most `max_edges` edges, interior
//!   labelling) triples, keep it only if pruning leaves it intact, and then accept it with
//!   probability `1 / t`, where `t` is the number of distinct labelled cells isomorphic to it
//!   (its topological orders divided by its automorphisms, [`crate::canon::orbit_size`]). Each
//!   isomorphism class is proposed with probability proportional to `t` and accepted with
//!   `1 / t`, so every class is equally likely.
//!
//! The same weights give an unbiased Monte-Carlo estimate of the number of unique cells of a
//! space too large to enumerate ([`estimate_count`]).

use crate::canon::{canonical, orbit_size};
use crate::cell::{Cell, OP_INPUT, OP_OUTPUT, OP_PAD};
use crate::enumerate::{binomial, is_complete, rows_from_mask};
use crate::error::SpaceError;
use crate::par::map_range;
use crate::rng::{item_seed, Rng};
use crate::space::SearchSpace;
use crate::MAX_VERTICES;

/// `n` positions in `0..count`, uniform, with or without replacement.
///
/// With replacement item i is drawn from its own generator; without replacement a sparse
/// Fisher-Yates shuffle runs sequentially. Either way the result depends only on the seed.
pub fn sample_indices(count: u64, n: usize, seed: u64, replace: bool, n_jobs: Option<usize>) -> Result<Vec<u64>, SpaceError> {
    if count == 0 || (!replace && n as u64 > count) {
        return Err(SpaceError::NotEnoughCells { count, n });
    }
    if replace {
        return Ok(map_range(n, n_jobs, |i| Rng::new(item_seed(seed, i as u64)).below(count)));
    }
    let mut rng = Rng::new(seed);
    let mut swapped: std::collections::HashMap<u64, u64> = std::collections::HashMap::with_capacity(n * 2);
    let mut out = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let j = i + rng.below(count - i);
        let vj = *swapped.get(&j).unwrap_or(&j);
        let vi = *swapped.get(&i).unwrap_or(&i);
        swapped.insert(j, vi);
        out.push(vj);
    }
    Ok(out)
}

/// The proposal of orbit-weighted rejection: cumulative weights over (vertices, edges).
struct Proposal {
    /// (vertices, edges, cumulative weight)
    strata: Vec<(usize, usize, f64)>,
    /// total number of labelled (mask, labelling) pairs proposed, as f64
    total: f64,
    k: usize,
}

impl Proposal {
    fn new(space: &SearchSpace) -> Proposal {
        let k = space.num_ops();
        let mut strata = Vec::new();
        let mut acc = 0.0;
        for v in 2..=space.max_vertices() {
            let bits = v * (v - 1) / 2;
            for e in (v - 1)..=space.max_edges_for(v) {
                acc += binomial(bits, e) * (k as f64).powi((v - 2) as i32);
                strata.push((v, e, acc));
            }
        }
        Proposal { strata, total: acc, k }
    }

    /// A labelled cell drawn uniformly from all proposals (it may not be intact after pruning).
    fn draw(&self, rng: &mut Rng) -> (usize, [u16; MAX_VERTICES], [i8; MAX_VERTICES]) {
        let u = rng.uniform() * self.total;
        let s = self.strata.partition_point(|x| x.2 <= u).min(self.strata.len() - 1);
        let (v, e, _) = self.strata[s];
        let bits = v * (v - 1) / 2;
        // Floyd's algorithm: a uniform e-subset of the bit positions
        let mut mask: u128 = 0;
        for j in (bits - e)..bits {
            let t = rng.below(j as u64 + 1) as usize;
            if mask >> t & 1 == 1 {
                mask |= 1 << j;
            } else {
                mask |= 1 << t;
            }
        }
        let out = rows_from_mask(v, mask);
        let mut ops = [OP_PAD; MAX_VERTICES];
        ops[0] = OP_INPUT;
        ops[v - 1] = OP_OUTPUT;
        for slot in ops.iter_mut().take(v - 1).skip(1) {
            *slot = rng.below(self.k as u64) as i8;
        }
        (v, out, ops)
    }

    /// The acceptance weight `1 / t` of a proposal, 0 when pruning would change it.
    fn weight(v: usize, out: &[u16; MAX_VERTICES], ops: [i8; MAX_VERTICES]) -> (f64, Option<Cell>) {
        if !is_complete(v, out) {
            return (0.0, None);
        }
        let c = Cell::from_parts_unchecked(v, ops, *out);
        (1.0 / orbit_size(&c) as f64, Some(c))
    }
}

/// `n` cells drawn independently and exactly uniformly over the unique cells of the space by
/// orbit-weighted rejection (module docs). Cells are returned in canonical form.
pub fn sample_uniform_orbit(space: &SearchSpace, n: usize, seed: u64, n_jobs: Option<usize>) -> Vec<Cell> {
    let proposal = Proposal::new(space);
    map_range(n, n_jobs, |i| {
        let mut rng = Rng::new(item_seed(seed, i as u64));
        loop {
            let (v, out, ops) = proposal.draw(&mut rng);
            if let (w, Some(c)) = Proposal::weight(v, &out, ops) {
                if rng.uniform() < w {
                    return canonical(&c);
                }
            }
        }
    })
}

/// Monte-Carlo estimate of the number of unique cells of a space and its standard error, from
/// `samples` proposals of orbit-weighted rejection: `(proposals) * mean(1{intact} / t)`.
pub fn estimate_count(space: &SearchSpace, samples: usize, seed: u64, n_jobs: Option<usize>) -> (f64, f64) {
    let proposal = Proposal::new(space);
    let w = map_range(samples, n_jobs, |i| {
        let mut rng = Rng::new(item_seed(seed, i as u64));
        let (v, out, ops) = proposal.draw(&mut rng);
        Proposal::weight(v, &out, ops).0
    });
    let m = samples as f64;
    let mean = w.iter().sum::<f64>() / m;
    let var = w.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (m - 1.0).max(1.0);
    (proposal.total * mean, proposal.total * (var / m).sqrt())
}

/// `n` cells from the conventional sampler (reference §5): a uniform random upper-triangular
/// `max_vertices x max_vertices` 0/1 matrix and uniform random interior ops, redrawn until the
/// pruned cell is valid. Cells are returned pruned (not canonicalised), as the sampler drew them.
pub fn sample_rejection(space: &SearchSpace, n: usize, seed: u64, n_jobs: Option<usize>) -> Vec<Cell> {
    let v = space.max_vertices();
    let k = space.num_ops() as u64;
    map_range(n, n_jobs, |i| {
        let mut rng = Rng::new(item_seed(seed, i as u64));
        loop {
            let mut out = [0u16; MAX_VERTICES];
            for (x, row) in out.iter_mut().enumerate().take(v - 1) {
                let bits = rng.next_u64() as u16;
                *row = bits & !(((1u32 << (x + 1)) - 1) as u16) & (((1u32 << v) - 1) as u16);
            }
            let mut ops = [OP_PAD; MAX_VERTICES];
            ops[0] = OP_INPUT;
            ops[v - 1] = OP_OUTPUT;
            for slot in ops.iter_mut().take(v - 1).skip(1) {
                *slot = rng.below(k) as i8;
            }
            let c = Cell::from_parts_unchecked(v, ops, out);
            if let Ok(p) = c.validate(space) {
                return p;
            }
        }
    })
}
