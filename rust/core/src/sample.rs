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
use crate::limits::{check_request, reserve, vec_with_capacity, MAX_BATCH_CELLS};
use crate::par::{map_heavy, try_extend_range, Cancel};
use crate::rng::{item_seed, Rng};
use crate::space::SearchSpace;
use crate::{MAX_OPS, MAX_VERTICES};

// The stars-and-bars draw of a depth's op multiset marks `size + k - 1 <= (MAX_VERTICES - 2) +
// (MAX_OPS - 1)` slots in one u64.
const _: () = assert!(MAX_VERTICES - 2 + MAX_OPS - 1 <= 64);

/// How [`sample`] draws cells (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Uniform over unique cells: positions in the enumeration when the space is enumerable,
    /// orbit-weighted rejection otherwise.
    Uniform,
    /// Orbit-weighted rejection, always.
    Orbit,
    /// The conventional sampler of published code (far from uniform).
    Rejection,
}

impl Method {
    /// The method of a name: `"uniform"`, `"orbit"` or `"rejection"`.
    pub fn from_name(name: &str) -> Result<Method, SpaceError> {
        match name {
            "uniform" => Ok(Method::Uniform),
            "orbit" => Ok(Method::Orbit),
            "rejection" => Ok(Method::Rejection),
            _ => Err(SpaceError::UnknownName {
                what: "sampling method",
                value: name.to_string(),
                expected: "'uniform', 'orbit', 'rejection'".to_string(),
            }),
        }
    }
}

/// `n` cells of the space drawn with `method`; `replace = false` gives distinct cells (no two
/// isomorphic), uniform without replacement for the uniform methods. The choice of sampler:
/// [`Method::Uniform`] draws positions in the enumeration of an enumerable space (computed once
/// per space) and uses orbit-weighted rejection otherwise; without replacement the number of
/// unique cells is known in an enumerable space, so a request for more fails at once.
#[allow(clippy::too_many_arguments)]
pub fn sample(
    space: &SearchSpace,
    n: usize,
    method: Method,
    replace: bool,
    seed: u64,
    n_jobs: Option<usize>,
    cancel: &Cancel,
) -> Result<Vec<Cell>, SpaceError> {
    check_request("n", n, MAX_BATCH_CELLS, " cells per call (nasfast.MAX_BATCH_CELLS)")?;
    if method == Method::Uniform && space.is_enumerable(cancel)? {
        let e = space.enumeration(n_jobs, cancel)?;
        let idx = sample_indices(e.cells.len() as u64, n, seed, replace, n_jobs)?;
        let mut cells = vec_with_capacity(idx.len(), "the sampled cells")?;
        cells.extend(idx.into_iter().map(|i| e.cells[i as usize]));
        return Ok(cells);
    }
    let count = if !replace && space.is_enumerable(cancel)? { Some(space.enumeration(n_jobs, cancel)?.cells.len() as u64) } else { None };
    if method == Method::Rejection {
        let draw = rejection_draw(space, seed, cancel);
        return if replace { draw_many(n, n_jobs, draw) } else { distinct(n, count, n_jobs, cancel, draw) };
    }
    let sampler = space.orbit_sampler();
    let draw = orbit_draw(&sampler, seed, cancel);
    if replace {
        draw_many(n, n_jobs, draw)
    } else {
        distinct(n, count, n_jobs, cancel, draw)
    }
}

/// Attempts per cell of the conventional rejection sampler before it gives up (valid cells can
/// be vanishingly rare among random matrices of a large space with few edges).
pub const MAX_REJECTION_TRIES: usize = 1_000_000;

/// `n` positions in `0..count`, uniform, with or without replacement.
///
/// With replacement item i is drawn from its own generator; without replacement a sparse
/// Fisher-Yates shuffle runs sequentially. Either way the result depends only on the seed.
pub fn sample_indices(count: u64, n: usize, seed: u64, replace: bool, n_jobs: Option<usize>) -> Result<Vec<u64>, SpaceError> {
    check_request("n", n, MAX_BATCH_CELLS, " cells per call (nasfast.MAX_BATCH_CELLS)")?;
    if count == 0 || (!replace && n as u64 > count) {
        return Err(SpaceError::NotEnoughCells { count, n });
    }
    let mut out = vec_with_capacity(n, "the sampled cells")?;
    if replace {
        try_extend_range(&mut out, n, n_jobs, |i| Ok::<u64, SpaceError>(Rng::new(item_seed(seed, i as u64)).below(count)))?;
        return Ok(out);
    }
    let mut rng = Rng::new(seed);
    let mut swapped: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    swapped.try_reserve(n.saturating_mul(2)).map_err(|_| SpaceError::OutOfMemory {
        what: "sampling without replacement",
        bytes: 2 * n as u128 * 24,
    })?;
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
///
/// Building the tables takes up to about a second for 16-vertex spaces with many edges: build
/// one per space and draw from it as often as needed.
pub struct OrbitSampler {
    /// One group per (vertices, composition of the interior into depths), in a fixed order:
    /// (vertices, composition code of [`composition`], cumulative weight through the group).
    /// The edge number is drawn inside the group, from the same uniform draw.
    groups: Vec<(u8, u32, f64)>,
    /// total number of layered labelled cells, as f64
    total: f64,
    k: usize,
    /// `max_edges_for(v)` of the space, by vertex count
    emax: [usize; MAX_VERTICES + 1],
}

/// The composition of `m` coded by `cuts` (bit i set: a depth ends after interior vertex i):
/// the depth sizes in `sizes[..len]`. Codes `0..2^(m-1)` give every composition once; m = 0
/// has the single empty composition (code 0).
fn composition(m: usize, cuts: u32) -> ([usize; MAX_VERTICES], usize) {
    let mut sizes = [0usize; MAX_VERTICES];
    if m == 0 {
        return (sizes, 0);
    }
    let mut len = 0;
    let mut run = 1;
    for i in 0..m - 1 {
        if cuts >> i & 1 == 1 {
            sizes[len] = run;
            len += 1;
            run = 1;
        } else {
            run += 1;
        }
    }
    sizes[len] = run;
    (sizes, len + 1)
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
    (0..=emax.min(p)).map(|j| binomial(p, j) - binomial(p_prev, j)).collect()
}

/// (depth of each non-input vertex in index order, P_d of each depth) of a layered cell with
/// the given interior depth sizes.
fn layout(sizes: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut depth_of = Vec::with_capacity(MAX_VERTICES);
    let mut above = Vec::with_capacity(MAX_VERTICES + 2);
    above.extend_from_slice(&[0usize, 1]); // above[d] = vertices at depths < d
    for (i, &s) in sizes.iter().enumerate() {
        depth_of.extend(std::iter::repeat_n(i + 1, s));
        above.push(above[i + 1] + s);
    }
    depth_of.push(sizes.len() + 1); // the output
    (depth_of, above)
}

/// `suffix[i]` counts the in-sets of vertices `i..` (non-input vertices in index order) by
/// their total edge number, up to `emax`.
fn suffix_counts(depth_of: &[usize], above: &[usize], emax: usize) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let polys: Vec<Vec<f64>> = depth_of.iter().map(|&d| in_poly(above[d], above[d - 1], emax)).collect();
    let mut suffix: Vec<Vec<f64>> = vec![vec![0.0; emax + 1]; polys.len() + 1];
    suffix[polys.len()][0] = 1.0;
    for i in (0..polys.len()).rev() {
        suffix[i] = poly_mul(&polys[i], &suffix[i + 1], emax);
    }
    (polys, suffix)
}

/// The number of sorted op assignments of a layered cell: `prod_d C(s_d + k - 1, k - 1)`.
fn op_assignments(sizes: &[usize], k: usize) -> f64 {
    sizes.iter().map(|&s| binomial(s + k - 1, k - 1)).product()
}

impl OrbitSampler {
    /// The proposal tables of a space.
    pub fn new(space: &SearchSpace) -> OrbitSampler {
        let k = space.num_ops();
        let mut groups = Vec::new();
        let mut emax = [0usize; MAX_VERTICES + 1];
        for (v, e) in emax.iter_mut().enumerate().take(space.max_vertices() + 1).skip(2) {
            *e = space.max_edges_for(v);
        }
        let mut acc = 0.0;
        for (v, &edges) in emax.iter().enumerate().take(space.max_vertices() + 1).skip(2) {
            if edges < v - 1 {
                // every non-input vertex needs an in-edge
                continue;
            }
            let m = v - 2;
            for cuts in 0..1u32 << m.saturating_sub(1) {
                let (sizes, len) = composition(m, cuts);
                let (depth_of, above) = layout(&sizes[..len]);
                let most_edges: usize = depth_of.iter().map(|&d| above[d]).sum();
                let masks = if most_edges <= edges {
                    // no edge limit binds: each vertex picks any in-set meeting the depth above
                    depth_of.iter().map(|&d| 2f64.powi(above[d] as i32) - 2f64.powi(above[d - 1] as i32)).product()
                } else {
                    let (_, suffix) = suffix_counts(&depth_of, &above, edges);
                    suffix[0].iter().sum::<f64>()
                };
                let weight: f64 = masks * op_assignments(&sizes[..len], k);
                if weight > 0.0 {
                    acc += weight;
                    groups.push((v as u8, cuts, acc));
                }
            }
        }
        OrbitSampler { groups, total: acc, k, emax }
    }

    /// A layered labelled cell drawn uniformly (it may lack out-edges).
    fn draw(&self, rng: &mut Rng) -> (usize, [u16; MAX_VERTICES], [i8; MAX_VERTICES]) {
        let u = rng.uniform() * self.total;
        let g = self.groups.partition_point(|x| x.2 <= u).min(self.groups.len() - 1);
        let (v, cuts, _) = self.groups[g];
        let v = v as usize;
        // the position of u inside the group picks the edge number
        let mut x = u - if g == 0 { 0.0 } else { self.groups[g - 1].2 };
        let (sizes, len) = composition(v - 2, cuts);
        let sizes = &sizes[..len];
        let (depth_of, above) = layout(sizes);
        // ops: a uniform multiset per depth (stars and bars), assigned in sorted order
        let mut ops = [OP_PAD; MAX_VERTICES];
        ops[0] = OP_INPUT;
        ops[v - 1] = OP_OUTPUT;
        let mut pos = 1;
        for &size in sizes {
            let slots = size + self.k - 1;
            let mut bars: u64 = 0;
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
        let (polys, suffix) = suffix_counts(&depth_of, &above, self.emax[v]);
        let per_mask = op_assignments(sizes, self.k);
        let mut e = suffix[0].iter().rposition(|&c| c > 0.0).unwrap_or(0);
        for (cand, &c) in suffix[0].iter().enumerate() {
            let w = c * per_mask;
            if x < w {
                e = cand;
                break;
            }
            x -= w;
        }
        // in-degrees from the first non-input vertex on, in proportion to their completions
        let mut out = [0u16; MAX_VERTICES];
        let mut rest = e;
        for (i, &d) in depth_of.iter().enumerate() {
            let weights: Vec<f64> =
                (0..=rest).map(|j| polys[i].get(j).copied().unwrap_or(0.0) * suffix[i + 1][rest - j]).collect();
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
            // a uniform j-subset of the vertices above depth d meeting depth d - 1 (j >= 1:
            // the in-set polynomial has no constant term)
            let (p, p_prev) = (above[d], above[d - 1]);
            let prev_mask: u32 = ((1u32 << p) - 1) & !((1u32 << p_prev) - 1);
            let chosen = loop {
                let mut c: u32 = 0;
                for t in (p - j)..p {
                    let r = rng.below(t as u64 + 1) as usize;
                    let pick = if c >> r & 1 == 1 { t } else { r };
                    c |= 1 << pick;
                }
                if c & prev_mask != 0 || j == 0 {
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
pub fn sample_uniform_orbit(space: &SearchSpace, n: usize, seed: u64, n_jobs: Option<usize>, cancel: &Cancel) -> Result<Vec<Cell>, SpaceError> {
    let sampler = OrbitSampler::new(space);
    draw_many(n, n_jobs, orbit_draw(&sampler, seed, cancel))
}

/// Proposals per block of [`estimate_count`]: each block is averaged sequentially, blocks are
/// combined in order, so the estimate does not depend on the number of threads.
const ESTIMATE_BLOCK: usize = 4096;

/// Monte-Carlo estimate of the number of unique cells of a space and its standard error, from
/// `samples` proposals of orbit-weighted rejection: `(proposals) * mean(1{intact} / t)`. Memory
/// does not grow with `samples` (at most [`MAX_BATCH_CELLS`]).
pub fn estimate_count(proposal: &OrbitSampler, samples: usize, seed: u64, n_jobs: Option<usize>, cancel: &Cancel) -> Result<(f64, f64), SpaceError> {
    if samples < 2 {
        return Err(SpaceError::BadValue { what: "n_samples", value: samples as i128, rule: "at least 2 are needed" });
    }
    check_request("n_samples", samples, MAX_BATCH_CELLS, " proposals per call (nasfast.MAX_BATCH_CELLS)")?;
    // (count, mean, sum of squared deviations) per block, merged in block order (Chan et al.)
    let blocks = samples.div_ceil(ESTIMATE_BLOCK);
    let (mut count, mut mean, mut m2) = (0.0f64, 0.0f64, 0.0f64);
    let mut first = 0;
    while first < blocks {
        cancel.check()?;
        let last = blocks.min(first + 256);
        let stats: Vec<Result<(f64, f64, f64), SpaceError>> = map_heavy(last - first, n_jobs, |b| {
            let start = (first + b) * ESTIMATE_BLOCK;
            let end = samples.min(start + ESTIMATE_BLOCK);
            let (mut c, mut mu, mut s2) = (0.0f64, 0.0f64, 0.0f64);
            for i in start..end {
                cancel.check()?;
                let mut rng = Rng::new(item_seed(seed, i as u64));
                let (v, out, ops) = proposal.draw(&mut rng);
                let w = OrbitSampler::weight(v, &out, ops).0;
                c += 1.0;
                let delta = w - mu;
                mu += delta / c;
                s2 += delta * (w - mu);
            }
            Ok((c, mu, s2))
        });
        for st in stats {
            let (c, mu, s2) = st?;
            if c == 0.0 {
                continue;
            }
            let total = count + c;
            let delta = mu - mean;
            mean += delta * c / total;
            m2 += s2 + delta * delta * count * c / total;
            count = total;
        }
        first = last;
    }
    let var = m2 / (count - 1.0).max(1.0);
    Ok((proposal.total * mean, proposal.total * (var / count).sqrt()))
}

/// `n` cells from the conventional sampler (reference §5): a uniform random upper-triangular
/// `max_vertices x max_vertices` 0/1 matrix and uniform random interior ops, redrawn until the
/// pruned cell is valid. Cells are returned pruned (not canonicalised), as the sampler drew them.
pub fn sample_rejection(space: &SearchSpace, n: usize, seed: u64, n_jobs: Option<usize>, cancel: &Cancel) -> Result<Vec<Cell>, SpaceError> {
    draw_many(n, n_jobs, rejection_draw(space, seed, cancel))
}

/// `draw(i)` for `i in 0..n`, with the output sized (and `n` checked) before any work.
pub fn draw_many<F>(n: usize, n_jobs: Option<usize>, draw: F) -> Result<Vec<Cell>, SpaceError>
where
    F: Fn(u64) -> Result<Cell, SpaceError> + Sync + Send,
{
    check_request("n", n, MAX_BATCH_CELLS, " cells per call (nasfast.MAX_BATCH_CELLS)")?;
    let mut out = vec_with_capacity(n, "the sampled cells")?;
    try_extend_range(&mut out, n, n_jobs, |i| draw(i as u64))?;
    Ok(out)
}

/// Draws per block of [`distinct`] (the result does not depend on it).
const DISTINCT_BLOCK: usize = 1 << 16;

/// `n` distinct cells (no two isomorphic) from a per-item sampler `draw(i)`, keeping first
/// occurrences in item order: uniform without replacement when `draw` is uniform. Items are
/// drawn in blocks, so the result depends only on the seed behind `draw`, never on threads.
///
/// Refused at once when `max_distinct` (the number of unique cells, when known) is below `n`;
/// otherwise it gives up with [`SpaceError::NotEnoughDistinct`] once `16 n + 2^20` draws in a
/// row bring no new cell (for a uniform sampler and a space with at least `n` cells, that
/// happens with probability below 10^-6).
pub fn distinct<F>(n: usize, max_distinct: Option<u64>, n_jobs: Option<usize>, cancel: &Cancel, draw: F) -> Result<Vec<Cell>, SpaceError>
where
    F: Fn(u64) -> Result<Cell, SpaceError> + Sync + Send,
{
    check_request("n", n, MAX_BATCH_CELLS, " cells per call (nasfast.MAX_BATCH_CELLS)")?;
    if let Some(m) = max_distinct {
        if n as u64 > m {
            return Err(SpaceError::NotEnoughCells { count: m, n });
        }
    }
    let stall_limit = 16 * n as u64 + (1 << 20);
    let mut seen = std::collections::HashSet::new();
    seen.try_reserve(n).map_err(|_| SpaceError::OutOfMemory { what: "distinct cells", bytes: n as u128 * 64 })?;
    let mut out = vec_with_capacity(n, "the sampled cells")?;
    let mut start = 0u64;
    let mut since_new = 0u64;
    let mut block_cells = Vec::new();
    while out.len() < n {
        cancel.check()?;
        if since_new >= stall_limit {
            return Err(SpaceError::NotEnoughDistinct { found: out.len(), n, draws: start, stalled: since_new });
        }
        let block = (n - out.len()).clamp(64, DISTINCT_BLOCK);
        block_cells.clear();
        reserve(&mut block_cells, block, "the sampled cells")?;
        try_extend_range(&mut block_cells, block, n_jobs, |j| draw(start + j as u64).map(|c| canonical(&c)))?;
        for &c in &block_cells {
            if out.len() < n && seen.insert(c) {
                out.push(c);
                since_new = 0;
            } else {
                since_new += 1;
            }
        }
        start += block as u64;
    }
    Ok(out)
}

/// One cell of orbit-weighted rejection drawn with item seed `item_seed(seed, i)`; stops with
/// [`SpaceError::Interrupted`] when `cancel` is set.
pub fn orbit_draw<'a>(proposal: &'a OrbitSampler, seed: u64, cancel: &'a Cancel) -> impl Fn(u64) -> Result<Cell, SpaceError> + Sync + Send + 'a {
    move |i| {
        let mut rng = Rng::new(item_seed(seed, i));
        loop {
            cancel.check()?;
            let (v, out, ops) = proposal.draw(&mut rng);
            if let (w, Some(c)) = OrbitSampler::weight(v, &out, ops) {
                if rng.uniform() < w {
                    return Ok(canonical(&c));
                }
            }
        }
    }
}

/// One cell of the conventional rejection sampler drawn with item seed `item_seed(seed, i)`;
/// [`SpaceError::NoValidCell`] after [`MAX_REJECTION_TRIES`] invalid draws.
pub fn rejection_draw<'a>(space: &'a SearchSpace, seed: u64, cancel: &'a Cancel) -> impl Fn(u64) -> Result<Cell, SpaceError> + Sync + Send + 'a {
    rejection_draw_with(space, seed, cancel, MAX_REJECTION_TRIES)
}

/// [`rejection_draw`] with a given number of attempts per cell.
fn rejection_draw_with<'a>(
    space: &'a SearchSpace,
    seed: u64,
    cancel: &'a Cancel,
    tries: usize,
) -> impl Fn(u64) -> Result<Cell, SpaceError> + Sync + Send + 'a {
    let v = space.max_vertices();
    let k = space.num_ops() as u64;
    move |i| {
        let mut rng = Rng::new(item_seed(seed, i));
        for attempt in 0..tries {
            if attempt % 256 == 0 {
                cancel.check()?;
            }
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
                return Ok(p);
            }
        }
        Err(SpaceError::NoValidCell { tries, v })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every op code of a cell is valid for the space, and the cell is valid and pruned.
    fn assert_valid(cells: &[Cell], space: &SearchSpace) {
        for c in cells {
            assert_eq!(c.validate(space).as_ref(), Ok(c), "{c:?}");
        }
    }

    #[test]
    fn in_set_counts_without_an_edge_limit_match_the_polynomials() {
        for m in 0..=10usize {
            for cuts in 0..1u32 << m.saturating_sub(1) {
                let (sizes, len) = composition(m, cuts);
                let (depth_of, above) = layout(&sizes[..len]);
                let most: usize = depth_of.iter().map(|&d| above[d]).sum();
                let (_, suffix) = suffix_counts(&depth_of, &above, most);
                let product: f64 = depth_of.iter().map(|&d| 2f64.powi(above[d] as i32) - 2f64.powi(above[d - 1] as i32)).product();
                let sum: f64 = suffix[0].iter().sum();
                assert!((sum - product).abs() <= 1e-12 * product, "{:?}: {sum} vs {product}", &sizes[..len]);
            }
        }
    }

    #[test]
    fn compositions_are_all_distinct() {
        for m in 0..=14usize {
            let codes = if m == 0 { 1 } else { 1u32 << (m - 1) };
            let mut seen = std::collections::HashSet::new();
            for cuts in 0..codes {
                let (sizes, len) = composition(m, cuts);
                assert_eq!(sizes[..len].iter().sum::<usize>(), m);
                assert!(sizes[..len].iter().all(|&s| s > 0));
                assert!(seen.insert(sizes[..len].to_vec()));
            }
        }
    }

    #[test]
    fn many_ops_give_valid_uniform_ops() {
        // 32 ops: the op multiset of a depth needs up to 45 slots (it overflowed 32 bits once)
        let ops: Vec<String> = (0..MAX_OPS).map(|i| format!("o{i}")).collect();
        let space = SearchSpace::new(8, 12, ops).unwrap();
        let cells = sample_uniform_orbit(&space, 2000, 1, Some(1), &Cancel::new()).unwrap();
        assert_valid(&cells, &space);
        let mut freq = [0u32; MAX_OPS];
        let mut total = 0;
        for c in &cells {
            for &o in &c.ops()[1..c.num_vertices() - 1] {
                freq[o as usize] += 1;
                total += 1;
            }
        }
        // op codes are exchangeable: each is about total / 32; allow 5 sd of a binomial
        let p = 1.0 / MAX_OPS as f64;
        let (mean, sd) = (total as f64 * p, (total as f64 * p * (1.0 - p)).sqrt());
        for (o, &f) in freq.iter().enumerate() {
            assert!((f as f64 - mean).abs() < 5.0 * sd, "op {o}: {f} of {total}");
        }
    }

    #[test]
    fn extreme_spaces_sample_valid_cells() {
        let cancel = Cancel::new();
        for (v, e, k) in [(16, 1, 1), (16, 2, 1), (16, 15, 1), (2, 1, 32), (3, 1, 5), (16, 120, 32), (16, 10_000, 3), (12, 16, 5)] {
            let ops: Vec<String> = (0..k).map(|i| format!("o{i}")).collect();
            let space = SearchSpace::new(v, e, ops).unwrap();
            let cells = sample_uniform_orbit(&space, 30, 3, None, &cancel).unwrap();
            assert_valid(&cells, &space);
            let (est, se) = estimate_count(&OrbitSampler::new(&space), 2000, 1, None, &cancel).unwrap();
            assert!(est.is_finite() && se.is_finite() && est >= 1.0 - 1e-9, "{v} {e} {k}: {est} {se}");
        }
    }

    #[test]
    fn requests_that_cannot_be_met_fail_at_once() {
        let space = SearchSpace::new(16, 1, vec!["a".into()]).unwrap();
        let cancel = Cancel::new();
        let sampler = OrbitSampler::new(&space);
        let draw = orbit_draw(&sampler, 0, &cancel);
        assert_eq!(distinct(2, Some(1), None, &cancel, &draw), Err(SpaceError::NotEnoughCells { count: 1, n: 2 }));
        // unknown count: gives up after the stall limit instead of looping forever
        match distinct(2, None, None, &cancel, &draw) {
            Err(SpaceError::NotEnoughDistinct { found: 1, n: 2, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(draw_many(MAX_BATCH_CELLS + 1, None, &draw), Err(SpaceError::RequestTooLarge { .. })));
        assert!(matches!(sample_indices(10, 1 << 40, 0, true, None), Err(SpaceError::RequestTooLarge { .. })));
        assert!(matches!(estimate_count(&sampler, usize::MAX, 0, None, &cancel), Err(SpaceError::RequestTooLarge { .. })));
        // the conventional sampler gives up where valid cells are vanishingly rare
        // (a 2-vertex cell hides in about one random 16 x 16 matrix in 10^4)
        let draw = rejection_draw_with(&space, 0, &cancel, 10);
        assert_eq!(draw(0), Err(SpaceError::NoValidCell { tries: 10, v: 16 }));
    }

    #[test]
    fn the_choice_of_sampler() {
        let cancel = Cancel::new();
        let nb101 = SearchSpace::nb101();
        // uniform in an enumerable space: positions in the enumeration
        let e = nb101.enumeration(None, &cancel).unwrap();
        let idx = sample_indices(e.cells.len() as u64, 50, 9, true, None).unwrap();
        let by_index: Vec<Cell> = idx.iter().map(|&i| e.cells[i as usize]).collect();
        assert_eq!(sample(&nb101, 50, Method::Uniform, true, 9, None, &cancel).unwrap(), by_index);
        // orbit: orbit-weighted rejection even there
        let orbit = draw_many(50, None, orbit_draw(&nb101.orbit_sampler(), 9, &cancel)).unwrap();
        assert_eq!(sample(&nb101, 50, Method::Orbit, true, 9, None, &cancel).unwrap(), orbit);
        // uniform in a space too large to enumerate: orbit-weighted rejection
        let big = SearchSpace::new(12, 16, (0..5).map(|i| format!("o{i}")).collect()).unwrap();
        let orbit = draw_many(20, None, orbit_draw(&big.orbit_sampler(), 3, &cancel)).unwrap();
        assert_eq!(sample(&big, 20, Method::Uniform, true, 3, None, &cancel).unwrap(), orbit);
        let rejection = draw_many(20, None, rejection_draw(&nb101, 3, &cancel)).unwrap();
        assert_eq!(sample(&nb101, 20, Method::Rejection, true, 3, None, &cancel).unwrap(), rejection);
        // without replacement, the count of an enumerable space is known
        let tiny = SearchSpace::new(16, 2, vec!["a".into()]).unwrap();
        for m in [Method::Uniform, Method::Orbit, Method::Rejection] {
            assert_eq!(sample(&tiny, 3, m, false, 0, None, &cancel), Err(SpaceError::NotEnoughCells { count: 2, n: 3 }));
        }
        assert!(Method::from_name("gibbs").is_err());
    }

    #[test]
    fn cancelled_draws_stop() {
        let space = SearchSpace::nb101();
        let cancel = Cancel::new();
        cancel.cancel();
        assert_eq!(sample_uniform_orbit(&space, 10, 0, None, &cancel), Err(SpaceError::Interrupted));
        assert_eq!(sample_rejection(&space, 10, 0, None, &cancel), Err(SpaceError::Interrupted));
        let sampler = OrbitSampler::new(&space);
        assert_eq!(estimate_count(&sampler, 10, 0, None, &cancel), Err(SpaceError::Interrupted));
        assert!(matches!(estimate_count(&sampler, 1, 0, None, &Cancel::new()), Err(SpaceError::BadValue { value: 1, .. })));
        let draw = orbit_draw(&sampler, 0, &cancel);
        assert_eq!(distinct(10, None, None, &cancel, draw), Err(SpaceError::Interrupted));
    }

    #[test]
    fn estimate_does_not_depend_on_threads() {
        let space = SearchSpace::new(9, 12, vec!["a".into(), "b".into()]).unwrap();
        let c = Cancel::new();
        let sampler = OrbitSampler::new(&space);
        let a = estimate_count(&sampler, 40 * ESTIMATE_BLOCK + 17, 5, Some(1), &c).unwrap();
        let b = estimate_count(&sampler, 40 * ESTIMATE_BLOCK + 17, 5, Some(2), &c).unwrap();
        assert_eq!(a, b);
    }
}
