//! Random cells: uniform over unique cells, and the conventional rejection sampler.
//!
//! Uniform over unique cells is exact in two ways:
//! * in an enumerated space, by drawing positions in the enumeration ([`sample_indices`]);
//! * in any space, by *orbit-weighted rejection* ([`sample_uniform_orbit`]): draw a labelled
//!   cell uniformly from all (vertex count, edge mask with at most `max_edges` edges, interior
//!   labelling) triples in which every vertex but the input has an in-edge (see `Proposal`),
//!   keep it only if pruning leaves it intact, and then accept it with
//!   probability `1 / t`, where `t` is the number of distinct labelled cells isomorphic to it
//!   (its topological orders divided by its automorphisms, [`crate::canon::orbit_size`]). Each
//!   isomorphism class is proposed with probability proportional to `t` and accepted with
//!   `1 / t`, so every class is equally likely.
//!
//! The same weights give an unbiased Monte-Carlo estimate of the number of unique cells of a
//! space too large to enumerate ([`estimate_count`]).

use crate::canon::{canonical, orbit_size};
use crate::cell::{Cell, OP_INPUT, OP_OUTPUT, OP_PAD};
use crate::enumerate::{binomial, is_complete};
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

/// The proposal of orbit-weighted rejection: a uniform draw from all labelled cells (vertex
/// count V, edge mask with at most `max_edges` edges in which every vertex but the input has an
/// in-edge, interior labelling). The masks are counted exactly by the polynomials
/// `Q_j(x) = prod_{i=1..j} ((1 + x)^i - 1)`, whose coefficient of `x^e` is the number of DAGs on
/// vertices 0..j with e edges in which every vertex but 0 has an in-edge; a draw picks (V, e) in
/// proportion to `Q_{V-1}[e] k^(V-2)`, then the in-degrees from last vertex to first in
/// proportion to their number of completions, then uniform in-neighbour sets. Only the
/// out-edge condition is left to rejection, which keeps acceptance reasonable in large sparse
/// spaces.
struct Proposal {
    /// (vertices, edges, cumulative weight)
    strata: Vec<(usize, usize, f64)>,
    /// `q[j][e]` = coefficient of x^e in Q_j (truncated at max_edges)
    q: Vec<Vec<f64>>,
    /// total number of labelled cells proposed, as f64
    total: f64,
    k: usize,
}

impl Proposal {
    fn new(space: &SearchSpace) -> Proposal {
        let k = space.num_ops();
        let emax = space.max_edges();
        let vmax = space.max_vertices();
        let mut q: Vec<Vec<f64>> = vec![vec![0.0; emax + 1]; vmax];
        q[0][0] = 1.0;
        for j in 1..vmax {
            for e in 0..=emax {
                let mut acc = 0.0;
                for d in 1..=j.min(e) {
                    acc += binomial(j, d) * q[j - 1][e - d];
                }
                q[j][e] = acc;
            }
        }
        let mut strata = Vec::new();
        let mut acc = 0.0;
        for v in 2..=vmax {
            for e in (v - 1)..=space.max_edges_for(v) {
                let w = q[v - 1][e] * (k as f64).powi((v - 2) as i32);
                if w > 0.0 {
                    acc += w;
                    strata.push((v, e, acc));
                }
            }
        }
        Proposal { strata, q, total: acc, k }
    }

    /// A labelled cell drawn uniformly from all proposals (it may lack out-edges).
    fn draw(&self, rng: &mut Rng) -> (usize, [u16; MAX_VERTICES], [i8; MAX_VERTICES]) {
        let u = rng.uniform() * self.total;
        let s = self.strata.partition_point(|x| x.2 <= u).min(self.strata.len() - 1);
        let (v, e, _) = self.strata[s];
        let mut out = [0u16; MAX_VERTICES];
        let mut rest = e;
        for j in (1..v).rev() {
            // in-degree d of vertex j, in proportion to C(j, d) * Q_{j-1}[rest - d]
            let hi = j.min(rest);
            let total: f64 = (1..=hi).map(|d| binomial(j, d) * self.q[j - 1][rest - d]).sum();
            let mut x = rng.uniform() * total;
            let mut d = hi;
            for cand in 1..=hi {
                let w = binomial(j, cand) * self.q[j - 1][rest - cand];
                if x < w {
                    d = cand;
                    break;
                }
                x -= w;
            }
            rest -= d;
            // Floyd's algorithm: a uniform d-subset of 0..j
            let mut chosen: u16 = 0;
            for t in (j - d)..j {
                let r = rng.below(t as u64 + 1) as usize;
                let pick = if chosen >> r & 1 == 1 { t } else { r };
                chosen |= 1 << pick;
            }
            let mut m = chosen;
            while m != 0 {
                let u = m.trailing_zeros() as usize;
                m &= m - 1;
                out[u] |= 1 << j;
            }
        }
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
    let draw = orbit_draw(space, seed);
    map_range(n, n_jobs, |i| draw(i as u64))
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
    let draw = rejection_draw(space, seed);
    map_range(n, n_jobs, |i| draw(i as u64))
}

/// `n` distinct cells (no two isomorphic) from a per-item sampler `draw(i)`, keeping first
/// occurrences in item order: uniform without replacement when `draw` is uniform. Items are
/// drawn in blocks, so the result depends only on the seed behind `draw`, never on threads.
pub fn distinct<F>(n: usize, max_distinct: Option<u64>, n_jobs: Option<usize>, draw: F) -> Result<Vec<Cell>, SpaceError>
where
    F: Fn(u64) -> Cell + Sync + Send,
{
    if let Some(m) = max_distinct {
        if n as u64 > m {
            return Err(SpaceError::NotEnoughCells { count: m, n });
        }
    }
    let mut seen = std::collections::HashSet::with_capacity(2 * n);
    let mut out = Vec::with_capacity(n);
    let mut start = 0u64;
    while out.len() < n {
        let block = (n - out.len()).max(1024);
        let cells = map_range(block, n_jobs, |j| canonical(&draw(start + j as u64)));
        for c in cells {
            if out.len() < n && seen.insert(c) {
                out.push(c);
            }
        }
        start += block as u64;
    }
    Ok(out)
}

/// One cell of orbit-weighted rejection drawn with item seed `item_seed(seed, i)`.
pub fn orbit_draw(space: &SearchSpace, seed: u64) -> impl Fn(u64) -> Cell + Sync + Send + '_ {
    let proposal = Proposal::new(space);
    move |i| {
        let mut rng = Rng::new(item_seed(seed, i));
        loop {
            let (v, out, ops) = proposal.draw(&mut rng);
            if let (w, Some(c)) = Proposal::weight(v, &out, ops) {
                if rng.uniform() < w {
                    return canonical(&c);
                }
            }
        }
    }
}

/// One cell of the conventional rejection sampler drawn with item seed `item_seed(seed, i)`.
pub fn rejection_draw(space: &SearchSpace, seed: u64) -> impl Fn(u64) -> Cell + Sync + Send + '_ {
    let v = space.max_vertices();
    let k = space.num_ops() as u64;
    move |i| {
        let mut rng = Rng::new(item_seed(seed, i));
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
            if let Ok(p) = Cell::from_parts_unchecked(v, ops, out).validate(space) {
                return p;
            }
        }
    }
}
