//! Random cells: uniform over unique cells, and the conventional rejection sampler.
//!
//! Uniform over unique cells is exact in two ways:
//! * in an enumerated space, by drawing positions in the enumeration ([`sample_indices`]);
//! * in any space, by *orbit-weighted rejection* ([`sample_uniform_orbit`]): draw a labelled
//!   cell uniformly from a set of representatives in which every isomorphism class appears a
//!   known number `t` of times (the *layered* cells of `Proposal`: vertices sorted by depth,
//!   then op), keep it only if pruning leaves it intact, and accept it with probability `1 / t`.
//!   Each class is proposed with probability proportional to `t` and accepted with `1 / t`, so
//!   every class is equally likely.
//!
//! The same weights give an unbiased Monte-Carlo estimate of the number of unique cells of a
//! space too large to enumerate ([`estimate_count`]).

use crate::canon::{automorphism_count, canonical};
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

/// The proposal of orbit-weighted rejection: a uniform draw from all *layered* labelled cells.
///
/// A layered cell has its vertices ordered by depth (longest path from the input) and, within a
/// depth, by op code; every vertex but the input has an in-edge, at least one of them from the
/// previous depth, and it has at most `max_edges` edges. An isomorphism class with V vertices
/// has `t = prod_(depth, op) n_(depth, op)! / |Aut|` layered representatives (automorphisms keep
/// depth and op, and act freely on vertex orders), far fewer than its topological orders, which
/// keeps acceptance high in large spaces.
///
/// Layered cells are counted exactly: for a composition of the interior vertices into depths of
/// sizes s_1..s_L (the output alone at depth L + 1), a vertex at depth d has
/// `C(P_d, j) - C(P_(d-1), j)` in-neighbour sets of size j, where P_d counts the vertices above
/// depth d; the product of these polynomials over the vertices counts the edge masks by edge
/// number, and `prod_d C(s_d + k - 1, k - 1)` counts the sorted op assignments. A draw picks
/// (V, composition, edges) in proportion to its count, the op multiset of each depth uniformly,
/// the in-degrees in proportion to their completions and the in-neighbour sets uniformly. Only
/// the out-edge condition and the `1 / t` acceptance are left to chance.
struct Proposal {
    /// (vertices, depth sizes of the interior, edges, cumulative weight)
    strata: Vec<(usize, Vec<usize>, usize, f64)>,
    /// total number of layered labelled cells, as f64
    total: f64,
    k: usize,
}

/// Compositions of `m` (ordered tuples of positive sizes summing to m); empty for m = 0.
fn compositions(m: usize) -> Vec<Vec<usize>> {
    if m == 0 {
        return vec![vec![]];
    }
    (0u32..1 << (m - 1))
        .map(|cuts| {
            let mut sizes = Vec::new();
            let mut run = 1;
            for i in 0..m - 1 {
                if cuts >> i & 1 == 1 {
                    sizes.push(run);
                    run = 1;
                } else {
                    run += 1;
                }
            }
            sizes.push(run);
            sizes
        })
        .collect()
}

/// Polynomial product truncated at degree `emax`.
fn poly_mul(a: &[f64], b: &[f64], emax: usize) -> Vec<f64> {
    let mut r = vec![0.0; emax + 1];
    for (i, &x) in a.iter().enumerate() {
        if x == 0.0 {
            continue;
        }
        for (j, &y) in b.iter().enumerate() {
            if i + j > emax {
                break;
            }
            r[i + j] += x * y;
        }
    }
    r
}

/// The in-set polynomial of a vertex with `p` vertices above it, `p_prev` of them above the
/// previous depth: coefficient j is `C(p, j) - C(p_prev, j)`.
fn in_poly(p: usize, p_prev: usize, emax: usize) -> Vec<f64> {
    (0..=emax).map(|j| binomial(p, j) - binomial(p_prev, j)).collect()
}

/// (depth of each non-input vertex in index order, P_d of each depth) of a layered cell with
/// the given interior depth sizes.
fn layout(sizes: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut depth_of = Vec::new();
    let mut above = vec![0usize, 1]; // above[d] = vertices at depths < d
    for (i, &s) in sizes.iter().enumerate() {
        depth_of.extend(std::iter::repeat_n(i + 1, s));
        above.push(above[i + 1] + s);
    }
    depth_of.push(sizes.len() + 1); // the output
    (depth_of, above)
}

impl Proposal {
    fn new(space: &SearchSpace) -> Proposal {
        let k = space.num_ops();
        let mut strata = Vec::new();
        let mut acc = 0.0;
        for v in 2..=space.max_vertices() {
            let emax = space.max_edges_for(v);
            for sizes in compositions(v - 2) {
                let (depth_of, above) = layout(&sizes);
                let mut g = vec![0.0; emax + 1];
                g[0] = 1.0;
                for &d in &depth_of {
                    g = poly_mul(&g, &in_poly(above[d], above[d - 1], emax), emax);
                }
                let ops: f64 = sizes.iter().map(|&s| binomial(s + k - 1, k - 1)).product();
                for (e, &c) in g.iter().enumerate() {
                    if c > 0.0 {
                        acc += c * ops;
                        strata.push((v, sizes.clone(), e, acc));
                    }
                }
            }
        }
        Proposal { strata, total: acc, k }
    }

    /// A layered labelled cell drawn uniformly (it may lack out-edges).
    fn draw(&self, rng: &mut Rng) -> (usize, [u16; MAX_VERTICES], [i8; MAX_VERTICES]) {
        let u = rng.uniform() * self.total;
        let s = self.strata.partition_point(|x| x.3 <= u).min(self.strata.len() - 1);
        let (v, ref sizes, e, _) = self.strata[s];
        let (depth_of, above) = layout(sizes);
        // ops: a uniform multiset per depth (stars and bars), assigned in sorted order
        let mut ops = [OP_PAD; MAX_VERTICES];
        ops[0] = OP_INPUT;
        ops[v - 1] = OP_OUTPUT;
        let mut pos = 1;
        for &size in sizes {
            let slots = size + self.k - 1;
            let mut bars: u32 = 0;
            for t in (slots - (self.k - 1))..slots {
                let r = rng.below(t as u64 + 1) as usize;
                let pick = if bars >> r & 1 == 1 { t } else { r };
                bars |= 1 << pick;
            }
            let mut op = 0i8;
            for slot in 0..slots {
                if bars >> slot & 1 == 1 {
                    op += 1;
                } else {
                    ops[pos] = op;
                    pos += 1;
                }
            }
        }
        // in-degrees from the last vertex back, in proportion to their completions
        let emax = e;
        let polys: Vec<Vec<f64>> = depth_of.iter().map(|&d| in_poly(above[d], above[d - 1], emax)).collect();
        let mut suffix: Vec<Vec<f64>> = vec![vec![0.0; emax + 1]; polys.len() + 1];
        suffix[polys.len()][0] = 1.0;
        for i in (0..polys.len()).rev() {
            suffix[i] = poly_mul(&polys[i], &suffix[i + 1], emax);
        }
        let mut out = [0u16; MAX_VERTICES];
        let mut rest = e;
        for (i, &d) in depth_of.iter().enumerate() {
            let weights: Vec<f64> = (0..=rest).map(|j| polys[i][j] * suffix[i + 1][rest - j]).collect();
            let total: f64 = weights.iter().sum();
            let mut x = rng.uniform() * total;
            let mut j = weights.iter().rposition(|&w| w > 0.0).unwrap_or(0);
            for (cand, &w) in weights.iter().enumerate() {
                if x < w {
                    j = cand;
                    break;
                }
                x -= w;
            }
            rest -= j;
            // a uniform j-subset of the vertices above depth d meeting depth d - 1
            let (p, p_prev) = (above[d], above[d - 1]);
            let prev_mask: u32 = ((1u32 << p) - 1) & !((1u32 << p_prev) - 1);
            let chosen = loop {
                let mut c: u32 = 0;
                for t in (p - j)..p {
                    let r = rng.below(t as u64 + 1) as usize;
                    let pick = if c >> r & 1 == 1 { t } else { r };
                    c |= 1 << pick;
                }
                if c & prev_mask != 0 {
                    break c;
                }
            };
            let vertex = i + 1;
            let mut m = chosen;
            while m != 0 {
                let w = m.trailing_zeros() as usize;
                m &= m - 1;
                out[w] |= 1 << vertex;
            }
        }
        (v, out, ops)
    }

    /// The acceptance weight `1 / t` of a proposal, 0 when pruning would change it.
    fn weight(v: usize, out: &[u16; MAX_VERTICES], ops: [i8; MAX_VERTICES]) -> (f64, Option<Cell>) {
        if !is_complete(v, out) {
            return (0.0, None);
        }
        let c = Cell::from_parts_unchecked(v, ops, *out);
        let depth = crate::canon::depths(&c);
        // n_(depth, op)! for every (depth, op) group: vertices are sorted by both, so groups are runs
        let mut orders = 1.0f64;
        let mut run = 1.0;
        for u in 1..v {
            if depth[u] == depth[u - 1] && ops[u] == ops[u - 1] {
                run += 1.0;
                orders *= run;
            } else {
                run = 1.0;
            }
        }
        (automorphism_count(&c) as f64 / orders, Some(c))
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
