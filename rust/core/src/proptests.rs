//! Property tests of the core against independent brute-force references: every vertex order,
//! every single edit, every labelled cell.

use crate::canon::{automorphism_count, canonical, fingerprint, orbit_size, topological_order_count};
use crate::cell::{Cell, OP_INPUT, OP_OUTPUT, OP_PAD};
use crate::hash::nb101_hash;
use crate::limits::MAX_NEIGHBOURS;
use crate::mutate::{mutate, neighbours, neighbours_one, NeighbourBudget, Preset};
use crate::par::Cancel;
use crate::rng::Rng;
use crate::sample::{sample_rejection, sample_uniform_orbit};
use crate::space::SearchSpace;
use crate::MAX_VERTICES;
use std::collections::{HashMap, HashSet};

/// A random pruned cell with at most `max_v` vertices and ops below `k` (any edge count).
fn random_cell(rng: &mut Rng, max_v: usize, k: u64, density: f64) -> Cell {
    loop {
        let v = 2 + rng.below(max_v as u64 - 1) as usize;
        let mut out = [0u16; MAX_VERTICES];
        for (x, row) in out.iter_mut().enumerate().take(v) {
            for y in x + 1..v {
                if rng.bernoulli(density) {
                    *row |= 1 << y;
                }
            }
        }
        let mut ops = [OP_PAD; MAX_VERTICES];
        ops[0] = OP_INPUT;
        ops[v - 1] = OP_OUTPUT;
        for slot in ops.iter_mut().take(v - 1).skip(1) {
            *slot = rng.below(k) as i8;
        }
        if let Ok(p) = Cell::from_parts_unchecked(v, ops, out).pruned() {
            return p;
        }
    }
}

/// Every permutation of 0..n as vectors.
fn permutations(n: usize) -> Vec<Vec<u8>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut res = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, (n - 1) as u8);
            res.push(q);
        }
    }
    res
}

/// Every relabelling of `c` that keeps input first, output last and edges forward.
fn relabellings(c: &Cell) -> Vec<Cell> {
    let n = c.num_vertices();
    let mut res = Vec::new();
    for p in permutations(n - 2) {
        let mut order = vec![0u8];
        order.extend(p.iter().map(|x| x + 1));
        order.push((n - 1) as u8);
        let mut pos = [0usize; MAX_VERTICES];
        for (i, &v) in order.iter().enumerate() {
            pos[v as usize] = i;
        }
        let forward = (0..n).all(|x| (0..n).all(|y| !c.has_edge(x, y) || pos[x] < pos[y]));
        if forward {
            res.push(c.permuted(&order));
        }
    }
    res
}

/// The brute-force canonical form: the smallest relabelling.
fn brute_canonical(c: &Cell) -> Cell {
    relabellings(c).into_iter().min().unwrap()
}

#[test]
fn hash_and_canonical_are_invariant_under_every_relabelling() {
    let mut rng = Rng::new(1);
    for _ in 0..300 {
        let c = random_cell(&mut rng, 7, 3, 0.5);
        let h = nb101_hash(&c);
        let canon = canonical(&c);
        assert_eq!(canonical(&canon), canon, "idempotent");
        for r in relabellings(&c) {
            assert_eq!(nb101_hash(&r), h);
            assert_eq!(canonical(&r), canon);
            assert_eq!(fingerprint(&r), fingerprint(&c));
        }
    }
}

#[test]
fn canonical_form_equals_exactly_for_isomorphic_cells() {
    // many random small cells with few ops: lots of isomorphic and near-isomorphic pairs
    let mut rng = Rng::new(2);
    let cells: Vec<Cell> = (0..1500).map(|_| random_cell(&mut rng, 6, 2, 0.45)).collect();
    let mut by_brute: HashMap<Cell, Cell> = HashMap::new();
    let mut by_fast: HashMap<Cell, Cell> = HashMap::new();
    for c in &cells {
        let b = brute_canonical(c);
        let f = canonical(c);
        // the fast form is a relabelling of the cell, hence isomorphic to it
        assert_eq!(brute_canonical(&f), b);
        // classes must coincide: same brute form <=> same fast form
        if let Some(prev) = by_brute.insert(b, f) {
            assert_eq!(prev, f, "isomorphic cells got different canonical forms");
        }
        if let Some(prev) = by_fast.insert(f, b) {
            assert_eq!(prev, b, "non-isomorphic cells got the same canonical form");
        }
    }
    assert!(by_brute.len() < cells.len(), "the sample should contain isomorphic pairs");
}

#[test]
fn symmetric_cells_are_canonicalised_exactly() {
    // input -> 10 identical parallel vertices -> output, and two parallel chains
    let n = 12;
    let mut out = [0u16; MAX_VERTICES];
    for v in 1..n - 1 {
        out[0] |= 1 << v;
        out[v] |= 1 << (n - 1);
    }
    let mut ops = [OP_PAD; MAX_VERTICES];
    ops[0] = OP_INPUT;
    ops[n - 1] = OP_OUTPUT;
    for slot in ops.iter_mut().take(n - 1).skip(1) {
        *slot = 0;
    }
    let c = Cell::from_parts_unchecked(n, ops, out);
    assert_eq!(canonical(&c), c);
    assert_eq!(automorphism_count(&c), 3_628_800);
    assert_eq!(orbit_size(&c), 1);
    // two chains 0 -> 1 -> 2 -> 5, 0 -> 3 -> 4 -> 5 with equal ops: swap is an automorphism
    let mut out = [0u16; MAX_VERTICES];
    out[0] = 0b01010;
    out[1] = 0b00100;
    out[2] = 0b100000;
    out[3] = 0b10000;
    out[4] = 0b100000;
    let c = Cell::from_parts_unchecked(6, [-1, 0, 1, 0, 1, -2, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3], out);
    assert_eq!(automorphism_count(&c), 2);
    assert_eq!(canonical(&c), brute_canonical(&c));
}

#[test]
fn automorphisms_and_orbits_match_brute_force() {
    let mut rng = Rng::new(3);
    for _ in 0..400 {
        let c = random_cell(&mut rng, 7, 2, 0.5);
        let rel = relabellings(&c);
        let distinct: HashSet<Cell> = rel.iter().copied().collect();
        let autos = rel.iter().filter(|r| **r == c).count() as u64;
        assert_eq!(topological_order_count(&c), rel.len() as u64);
        assert_eq!(automorphism_count(&c), autos, "{c:?}");
        assert_eq!(orbit_size(&c), distinct.len() as u64);
    }
}

#[test]
fn enumeration_counts_per_vertex_match_the_reference() {
    let e = crate::enumerate::enumerate(&SearchSpace::nb101(), None, &Cancel::new()).unwrap();
    assert_eq!(e.counts, vec![0, 0, 1, 6, 84, 2441, 62010, 359082]);
    assert_eq!(e.cells.len(), 423_624);
    // every NB101 hash is distinct on the space (reference §3) and the cells are sorted
    let hashes: HashSet<[u8; 32]> = e.cells.iter().map(nb101_hash).collect();
    assert_eq!(hashes.len(), 423_624);
    assert!(e.fingerprints.windows(2).all(|w| w[0] < w[1]));
    for (i, c) in e.cells.iter().enumerate().step_by(997) {
        assert_eq!(e.index_of_canonical(c), Some(i));
    }
}

#[test]
fn small_space_enumeration_matches_brute_force() {
    // every labelled cell of a 5-vertex, 2-op space, de-duplicated by brute-force canonical form
    let space = SearchSpace::new(5, 6, vec!["a".into(), "b".into()]).unwrap();
    let e = crate::enumerate::enumerate(&space, Some(1), &Cancel::new()).unwrap();
    let mut brute: HashSet<Cell> = HashSet::new();
    for v in 2..=5usize {
        let bits = v * (v - 1) / 2;
        for mask in 0u64..(1 << bits) {
            let out = crate::enumerate::rows_from_mask(v, mask as u128);
            for code in 0..(1usize << (v - 2)) {
                let mut ops = [OP_PAD; MAX_VERTICES];
                ops[0] = OP_INPUT;
                ops[v - 1] = OP_OUTPUT;
                for (i, slot) in ops.iter_mut().enumerate().take(v - 1).skip(1) {
                    *slot = ((code >> (i - 1)) & 1) as i8;
                }
                if let Ok(p) = Cell::from_parts_unchecked(v, ops, out).validate(&space) {
                    brute.insert(brute_canonical(&p));
                }
            }
        }
    }
    let fast: HashSet<Cell> = e.cells.iter().map(brute_canonical).collect();
    assert_eq!(e.cells.len(), brute.len());
    assert_eq!(fast, brute);
}

/// Single edits of a pruned cell, written independently of `mutate.rs`: op changes, every edge
/// flip and every vertex insertion, with validity and brute-force canonical forms.
fn brute_neighbours(c: &Cell, space: &SearchSpace) -> HashSet<Cell> {
    let n = c.num_vertices();
    let mut res = HashSet::new();
    let me = brute_canonical(c);
    let mut consider = |cand: Cell| {
        if let Ok(p) = cand.validate(space) {
            let b = brute_canonical(&p);
            if b != me {
                res.insert(b);
            }
        }
    };
    for v in 1..n - 1 {
        for o in 0..space.num_ops() as i8 {
            let mut ops = *c.ops_raw();
            ops[v] = o;
            consider(Cell::from_parts_unchecked(n, ops, *c.out_raw()));
        }
    }
    // edge flips: removals of existing edges, additions x -> y in any direction that keep the
    // graph acyclic (checked by brute force: some topological order exists)
    for x in 0..n {
        for y in 0..n {
            if x == y {
                continue;
            }
            let mut edges = edge_list(c);
            if let Some(p) = edges.iter().position(|&e| e == (x, y)) {
                edges.remove(p);
            } else {
                edges.push((x, y));
            }
            if let Some(cand) = from_edges(n, c.ops(), &edges) {
                consider(cand);
            }
        }
    }
    if n < MAX_VERTICES {
        for a in 0..n {
            for b in 0..n {
                for o in 0..space.num_ops() as i8 {
                    if a == b {
                        continue;
                    }
                    // the new vertex is n; the abstract graph is relabelled by from_edges
                    let mut edges = edge_list(c);
                    edges.push((a, n));
                    edges.push((n, b));
                    let mut ops = c.ops().to_vec();
                    ops.push(o);
                    if let Some(cand) = from_edges(n + 1, &ops, &edges) {
                        consider(cand);
                    }
                }
            }
        }
    }
    res
}

fn edge_list(c: &Cell) -> Vec<(usize, usize)> {
    let n = c.num_vertices();
    (0..n).flat_map(|x| (0..n).map(move |y| (x, y))).filter(|&(x, y)| c.has_edge(x, y)).collect()
}

/// The cell with vertices 0..m, `ops[v]`, and the given edges, where vertex 0 must be the
/// input and the vertex with op -2 the output; relabelled by trying every vertex order until
/// all edges point forward (None if there is a cycle or input/output are misplaced).
fn from_edges(m: usize, ops: &[i8], edges: &[(usize, usize)]) -> Option<Cell> {
    let output = ops.iter().position(|&o| o == OP_OUTPUT)?;
    let interior: Vec<usize> = (1..m).filter(|&v| v != output).collect();
    for p in permutations(interior.len()) {
        let mut order = vec![0usize];
        order.extend(p.iter().map(|&i| interior[i as usize]));
        order.push(output);
        let mut pos = vec![0usize; m];
        for (i, &v) in order.iter().enumerate() {
            pos[v] = i;
        }
        if edges.iter().all(|&(x, y)| pos[x] < pos[y]) {
            let mut out = [0u16; MAX_VERTICES];
            let mut new_ops = [OP_PAD; MAX_VERTICES];
            for (i, &v) in order.iter().enumerate() {
                new_ops[i] = ops[v];
            }
            for &(x, y) in edges {
                out[pos[x]] |= 1 << pos[y];
            }
            return Some(Cell::from_parts_unchecked(m, new_ops, out));
        }
    }
    None
}

#[test]
fn neighbours_are_exactly_the_single_edits() {
    let space = SearchSpace::nb101();
    let mut rng = Rng::new(4);
    let parents = sample_rejection(&space, 60, 9, Some(1), &Cancel::new()).unwrap();
    let mut small = Vec::new();
    while small.len() < 60 {
        let c = random_cell(&mut rng, 6, 3, 0.4);
        if c.is_valid(&space) {
            small.push(c);
        }
    }
    for p in parents.iter().chain(small.iter()) {
        let nb = neighbours_one(p, &space);
        let set: HashSet<Cell> = nb.iter().copied().collect();
        assert_eq!(set.len(), nb.len(), "duplicates");
        for c in &nb {
            assert!(c.is_valid(&space));
            assert_eq!(canonical(c), *c);
        }
        let fast: HashSet<Cell> = nb.iter().map(brute_canonical).collect();
        assert_eq!(fast, brute_neighbours(p, &space), "parent {p:?}");
    }
}

#[test]
fn radius_two_is_the_union_of_neighbours_of_neighbours() {
    let space = SearchSpace::nb101();
    for p in sample_rejection(&space, 10, 5, Some(1), &Cancel::new()).unwrap() {
        let one = neighbours_one(&p, &space);
        let mut expect: HashSet<Cell> = one.iter().copied().collect();
        for c in &one {
            expect.extend(neighbours_one(c, &space));
        }
        expect.remove(&canonical(&p));
        let budget = NeighbourBudget::new(MAX_NEIGHBOURS);
        let two: HashSet<Cell> = neighbours(&p, &space, 2, &budget, 1, None, &Cancel::new()).unwrap().into_iter().collect();
        assert_eq!(two, expect);
    }
}

#[test]
fn mutation_children_are_valid_and_deterministic() {
    let space = SearchSpace::nb101();
    // above the parallel threshold, so that n_jobs = 2 really runs on two threads
    let parents = sample_rejection(&space, 2 * crate::par::PAR_THRESHOLD + 100, 11, Some(1), &Cancel::new()).unwrap();
    for preset in [Preset::Nb101, Preset::Bananas, Preset::Naslib] {
        let a = mutate(&parents, &space, preset, true, 5, Some(1), &Cancel::new()).unwrap();
        let b = mutate(&parents, &space, preset, true, 5, Some(2), &Cancel::new()).unwrap();
        assert_eq!(a, b);
        for (p, c) in parents.iter().zip(&a) {
            assert!(c.is_valid(&space));
            assert_ne!(canonical(p), canonical(c));
        }
    }
}

#[test]
fn orbit_sampler_is_uniform_on_small_spaces() {
    for space in [
        SearchSpace::new(5, 6, vec!["a".into(), "b".into()]).unwrap(),
        SearchSpace::new(6, 7, vec!["a".into()]).unwrap(),
    ] {
        let e = crate::enumerate::enumerate(&space, None, &Cancel::new()).unwrap();
        let m = e.cells.len();
        let draws = 200 * m;
        let s = sample_uniform_orbit(&space, draws, 77, None, &Cancel::new()).unwrap();
        let mut hist = vec![0f64; m];
        for c in &s {
            hist[e.index_of_canonical(c).expect("sampled cell is in the space")] += 1.0;
        }
        let expected = draws as f64 / m as f64;
        let chi2: f64 = hist.iter().map(|o| (o - expected).powi(2) / expected).sum();
        // df = m - 1; mean m - 1, sd sqrt(2(m - 1)): allow 5 sd
        let df = (m - 1) as f64;
        assert!(chi2 < df + 5.0 * (2.0 * df).sqrt(), "chi2 {chi2} df {df}");
        let (est, se) = crate::sample::estimate_count(&crate::sample::OrbitSampler::new(&space), 200_000, 1, None, &Cancel::new()).unwrap();
        assert!((est - m as f64).abs() < 4.0 * se, "estimate {est} +- {se}, exact {m}");
    }
}
