//! The fuzz campaign of the core: `proptest` at scale, for a fixed time.
//!
//! `cargo fuzz` needs a nightly toolchain (libFuzzer instrumentation); this harness runs on
//! stable, in `cargo test`, with structured inputs and shrinking: every area generates random
//! (often malformed or extreme) inputs, calls the core and checks the result against an
//! independent reference written here, round after round of 64 cases until its share of the
//! time budget is spent. The budget is `NASFAST_FUZZ_SECONDS` (default 8 s in all); rounds use
//! fixed seeds, so a run is reproducible up to where it stops. A failure prints the smallest
//! failing input proptest found. A case that takes more than [`CASE_TIMEOUT`] is cancelled (the
//! core's loops poll the flag) and reported as a hang; one that does not stop within
//! [`HARD_TIMEOUT`] aborts the run naming the case. The cases tried per area are printed and
//! written to `target/fuzz-counts.txt`.

use nasfast_core::canon::{automorphism_count, canonical, fingerprint, orbit_size, topological_order_count};
use nasfast_core::cell::{Cell, OP_INPUT, OP_OUTPUT, OP_PAD};
use nasfast_core::encode::{encode_batch, Encoding};
use nasfast_core::enumerate::{count_complete, enumerate, labelled_counts};
use nasfast_core::error::{CellError, SpaceError};
use nasfast_core::hash::nb101_hash;
use nasfast_core::limits::MAX_NEIGHBOURS;
use nasfast_core::mutate::{mutate, neighbours, NeighbourBudget, Preset};
use nasfast_core::par::Cancel;
use nasfast_core::sample::{distinct, draw_many, estimate_count, orbit_draw, rejection_draw, OrbitSampler};
use nasfast_core::space::SearchSpace;
use nasfast_core::spec::{CellSpec, Label};
use nasfast_core::{MAX_OPS, MAX_VERTICES};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A case slower than this is cancelled and reported as a hang.
const CASE_TIMEOUT: Duration = Duration::from_secs(20);
/// A case that does not stop this long after it was cancelled aborts the run.
const HARD_TIMEOUT: Duration = Duration::from_secs(60);

// ------------------------------------------------------------------------------------------
// the watchdog

struct Watch {
    started: AtomicU64,
    cancel: Mutex<Arc<Cancel>>,
    case: Mutex<String>,
}

fn watch() -> &'static Watch {
    static WATCH: OnceLock<Watch> = OnceLock::new();
    WATCH.get_or_init(|| {
        std::thread::spawn(|| loop {
            std::thread::sleep(Duration::from_millis(200));
            let w = watch();
            let started = w.started.load(Ordering::Relaxed);
            if started == 0 {
                continue;
            }
            let elapsed = Duration::from_millis(now_ms().saturating_sub(started));
            if elapsed > CASE_TIMEOUT {
                w.cancel.lock().unwrap().cancel();
            }
            if elapsed > HARD_TIMEOUT {
                eprintln!("fuzz: a case did not stop {HARD_TIMEOUT:?} after it began: {}", w.case.lock().unwrap());
                std::process::abort();
            }
        });
        Watch { started: AtomicU64::new(0), cancel: Mutex::new(Arc::new(Cancel::new())), case: Mutex::new(String::new()) }
    })
}

fn now_ms() -> u64 {
    static T0: OnceLock<Instant> = OnceLock::new();
    T0.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// Runs one case under the watchdog; a cancelled case is a failure (a hang).
fn guarded<T: std::fmt::Debug>(input: &T, f: impl FnOnce(&Cancel) -> Result<(), TestCaseError>) -> Result<(), TestCaseError> {
    let w = watch();
    let cancel = Arc::new(Cancel::new());
    *w.cancel.lock().unwrap() = cancel.clone();
    *w.case.lock().unwrap() = format!("{input:?}");
    w.started.store(now_ms(), Ordering::Relaxed);
    let r = f(&cancel);
    w.started.store(0, Ordering::Relaxed);
    if cancel.is_cancelled() {
        return Err(TestCaseError::fail(format!("the case took more than {CASE_TIMEOUT:?}: {input:?}")));
    }
    r
}

// ------------------------------------------------------------------------------------------
// running areas for a share of the budget

fn budget() -> Duration {
    let secs: f64 = std::env::var("NASFAST_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(8.0);
    Duration::from_secs_f64(secs.max(0.0))
}

fn run_area<S: Strategy>(name: &str, share: Duration, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) -> u64
where
    S::Value: std::fmt::Debug,
{
    let deadline = Instant::now() + share;
    let mut cases = 0u64;
    let mut round = 0u64;
    let seed_of = |round: u64| {
        let mut bytes = [0u8; 32];
        let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
        bytes[..8].copy_from_slice(&h.to_le_bytes());
        bytes[8..16].copy_from_slice(&round.to_le_bytes());
        bytes
    };
    loop {
        let config = Config { cases: 64, failure_persistence: None, ..Config::default() };
        let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_of(round)));
        if let Err(e) = runner.run(&strategy, &test) {
            panic!("fuzz area {name:?}, round {round}: {e}");
        }
        cases += 64;
        round += 1;
        if Instant::now() >= deadline {
            return cases;
        }
    }
}

// ------------------------------------------------------------------------------------------
// independent references

/// The vertices on an input -> output path, by graph search on adjacency lists; `None` when
/// the input cannot reach the output.
fn ref_live(n: usize, edges: &[(usize, usize)]) -> Option<Vec<usize>> {
    let mut fwd = vec![false; n];
    let mut bwd = vec![false; n];
    fwd[0] = true;
    bwd[n - 1] = true;
    let mut stack = vec![0];
    while let Some(u) = stack.pop() {
        for &(a, b) in edges {
            if a == u && !fwd[b] {
                fwd[b] = true;
                stack.push(b);
            }
        }
    }
    stack.push(n - 1);
    while let Some(u) = stack.pop() {
        for &(a, b) in edges {
            if b == u && !bwd[a] {
                bwd[a] = true;
                stack.push(a);
            }
        }
    }
    if !fwd[n - 1] {
        return None;
    }
    Some((0..n).filter(|&v| fwd[v] && bwd[v]).collect())
}

fn edges_of(c: &Cell) -> Vec<(usize, usize)> {
    let n = c.num_vertices();
    (0..n).flat_map(|x| (0..n).map(move |y| (x, y))).filter(|&(x, y)| c.has_edge(x, y)).collect()
}

/// The cell built from vertex order `order` (vertex `order[p]` of `c` becomes `p`).
fn relabel(c: &Cell, order: &[usize]) -> Cell {
    let n = c.num_vertices();
    let mut pos = vec![0; n];
    for (p, &v) in order.iter().enumerate() {
        pos[v] = p;
    }
    let mut out = vec![0u16; n];
    for (x, y) in edges_of(c) {
        out[pos[x]] |= 1 << pos[y];
    }
    let ops: Vec<i8> = order.iter().map(|&v| c.ops()[v]).collect();
    Cell::new(n, &ops, &out).expect("a topological relabelling of a valid cell is valid")
}

/// A random topological order of a pruned cell keeping input first and output last (Kahn's
/// algorithm with random choices among the ready vertices).
fn random_order(c: &Cell, mut pick: impl FnMut(usize) -> usize) -> Vec<usize> {
    let n = c.num_vertices();
    let edges = edges_of(c);
    let mut indeg = vec![0; n];
    for &(_, y) in &edges {
        indeg[y] += 1;
    }
    let mut ready: Vec<usize> = (0..n).filter(|&v| indeg[v] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while !ready.is_empty() {
        let i = pick(ready.len());
        let v = ready.swap_remove(i);
        order.push(v);
        for &(x, y) in &edges {
            if x == v {
                indeg[y] -= 1;
                if indeg[y] == 0 {
                    ready.push(y);
                }
            }
        }
    }
    order
}

/// A cell of `n` vertices from a seed: random upper-triangular edges with density `p`, random
/// interior ops below `k`.
fn cell_from(n: usize, k: usize, p: u8, bits: &[u8]) -> Cell {
    let mut out = vec![0u16; n];
    let mut b = 0;
    for (x, row) in out.iter_mut().enumerate() {
        for y in x + 1..n {
            if bits[b % bits.len()] % 8 < p {
                *row |= 1 << y;
            }
            b += 1;
        }
    }
    let mut ops = vec![OP_INPUT; n];
    ops[n - 1] = OP_OUTPUT;
    for (v, op) in ops.iter_mut().enumerate().take(n - 1).skip(1) {
        *op = (bits[(v * 7) % bits.len()] as usize % k) as i8;
    }
    Cell::new(n, &ops, &out).expect("built valid")
}

fn space(v: usize, e: usize, k: usize) -> SearchSpace {
    SearchSpace::new(v, e, (0..k).map(|i| format!("op{i}")).collect()).expect("valid space parameters")
}

type Samplers = Mutex<HashMap<(usize, usize, usize), Arc<OrbitSampler>>>;

fn sampler(s: &SearchSpace) -> Arc<OrbitSampler> {
    static CACHE: OnceLock<Samplers> = OnceLock::new();
    let key = (s.max_vertices(), s.max_edges(), s.num_ops());
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(x) = cache.lock().unwrap().get(&key) {
        return x.clone();
    }
    let x = Arc::new(OrbitSampler::new(s));
    cache.lock().unwrap().insert(key, x.clone());
    x
}

/// Checks that a cell is valid in the space and equal to its pruned form (by the reference).
fn assert_member(c: &Cell, s: &SearchSpace) -> Result<(), TestCaseError> {
    let n = c.num_vertices();
    let live = ref_live(n, &edges_of(c));
    prop_assert_eq!(live, Some((0..n).collect::<Vec<_>>()), "not pruned: {:?}", c);
    prop_assert!(n <= s.max_vertices() && c.num_edges() <= s.max_edges(), "{:?}", c);
    prop_assert!(c.ops()[0] == OP_INPUT && c.ops()[n - 1] == OP_OUTPUT);
    prop_assert!(c.ops()[1..n - 1].iter().all(|&o| o >= 0 && (o as usize) < s.num_ops()), "{:?}", c);
    Ok(())
}

/// Space parameters with every limit represented: vertices 2..=16, edges from 1 to far beyond
/// any cell, ops 1..=32. Edge limits are mostly picked from a few landmarks, so that the
/// samplers of the largest spaces (up to a second to build) are reused.
fn space_params() -> impl Strategy<Value = (usize, usize, usize)> {
    (2usize..=16).prop_flat_map(|v| {
        (
            Just(v),
            prop_oneof![
                3 => proptest::sample::select(vec![1, 2, v - 1, v, v + 3, 16, 120, 1_000_000_000]),
                1 => 1usize..=20,
            ],
            proptest::sample::select(vec![1, 2, 3, 5, MAX_OPS - 1, MAX_OPS]),
        )
    })
}

// ------------------------------------------------------------------------------------------
// the campaign

#[test]
fn fuzz_campaign() {
    // shares of the budget (percent): the slow areas (samplers in 16-vertex spaces, whole
    // neighbourhoods) get more time, the fast ones still try the most cases
    let share = |percent: u32| budget() * percent / 100;
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();

    // 1. parsing: arbitrary dense matrices and op codes; Ok exactly for structurally valid input
    let parse = (0usize..=18, proptest::collection::vec(prop_oneof![8 => 0u8..=1, 1 => any::<u8>()], 0..=330),
                 proptest::collection::vec(prop_oneof![8 => -3i8..=6, 1 => any::<i8>()], 0..=20), any::<bool>());
    counts.insert("cell parsing", run_area("cell parsing", share(10), parse, |(n, mut adj, mut ops, frame)| {
        let input = (n, adj.clone(), ops.clone());
        guarded(&input, |_| {
            if frame && n >= 2 {
                // mostly well-framed inputs, so that the rarer failures are reached
                adj.resize(n * n, 0);
                for i in 0..n {
                    for j in 0..=i {
                        adj[i * n + j] = 0;
                    }
                }
                ops.resize(n, 0);
                ops[0] = OP_INPUT;
                ops[n - 1] = OP_OUTPUT;
            }
            let got = Cell::from_dense(n, &adj, &ops);
            let structural = (2..=MAX_VERTICES).contains(&n)
                && adj.len() == n * n
                && ops.len() >= n
                && adj.iter().all(|&x| x <= 1)
                && (0..n).all(|i| (0..=i).all(|j| adj[i * n + j] == 0))
                && ops[0] == OP_INPUT
                && ops[n - 1] == OP_OUTPUT
                && ops[1..n - 1].iter().all(|&o| o >= 0);
            prop_assert_eq!(got.is_ok(), structural, "{:?}", got);
            if let Ok(c) = got {
                let edges: Vec<(usize, usize)> =
                    (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).filter(|&(i, j)| adj[i * n + j] == 1).collect();
                prop_assert_eq!(edges_of(&c), edges.clone());
                // validity in a space: pruned by the reference, then the limits
                let s = space(7, 9, 3);
                let expect = ref_live(n, &edges).map(|live| {
                    let kept: HashSet<usize> = live.iter().copied().collect();
                    let e = edges.iter().filter(|(a, b)| kept.contains(a) && kept.contains(b)).count();
                    live.len() <= 7 && e <= 9 && live[1..live.len() - 1].iter().all(|&v| (ops[v] as usize) < 3)
                });
                prop_assert_eq!(c.is_valid(&s), expect == Some(true));
                match c.validate(&s) {
                    Ok(p) => assert_member(&p, &s)?,
                    Err(CellError::Disconnected) => prop_assert_eq!(expect, None),
                    Err(_) => prop_assert_eq!(expect, Some(false)),
                }
            }
            Ok(())
        })
    }));

    // 1b. cell specs and batch rows: the official semantics (prune first, then judge the labels
    // and the size of what survives), against a reference written here
    let label = prop_oneof![
        4 => (-3i64..=4).prop_map(Label::Code),
        1 => any::<i64>().prop_map(Label::Code),
        2 => proptest::sample::select(vec!["input", "output", "op0", "op1", "op2", "zzz", ""]).prop_map(|s| Label::Name(s.to_string())),
    ];
    let specs = (0usize..=20, 0u8..=6, proptest::collection::vec(any::<u8>(), 1..=64), proptest::collection::vec(label, 0..=21),
                 0u8..=9, any::<bool>());
    counts.insert("cell specs", run_area("cell specs", share(10), specs, |(n, p, bits, mut labels, flaw, frame)| {
        let input = (n, p, bits.clone(), labels.clone(), flaw);
        guarded(&input, |_| {
            let s = space(7, 9, 3);
            // an upper-triangular 0/1 matrix, sometimes with one flaw
            let mut m = vec![0i128; n * n];
            let mut b = 0;
            for x in 0..n {
                for y in x + 1..n {
                    m[x * n + y] = i128::from(bits[b % bits.len()] % 8 < p);
                    b += 1;
                }
            }
            if n > 0 && flaw == 0 {
                m[(bits[0] as usize % n) * n + bits[bits.len() - 1] as usize % n] = 1; // maybe below the diagonal
            } else if n > 0 && flaw == 1 {
                m[bits[0] as usize % (n * n)] = 2;
            }
            if frame && n >= 2 {
                labels.resize(n, Label::Code(0));
                labels[0] = Label::Name("input".into());
                labels[n - 1] = Label::Code(-2);
            }
            let got = CellSpec::new(&[n, n], m.clone(), labels.clone(), &s);
            // the reference: resolve names, refuse what is malformed whatever pruning does ...
            let code = |l: &Label| -> Option<i64> {
                match l {
                    Label::Code(c) => Some(*c),
                    Label::Name(x) => s.op_code(x).map(|c| c as i64),
                }
            };
            let malformed = labels.len() != n
                || n < 2
                || m.iter().any(|&x| x > 1)
                || (0..n).any(|i| (0..=i).any(|j| m[i * n + j] != 0))
                || code(&labels[0]) != Some(-1)
                || code(&labels[n - 1]) != Some(-2);
            if malformed {
                prop_assert!(got.is_err(), "accepted a malformed spec: {:?}", got);
                return Ok(());
            }
            let edges: Vec<(usize, usize)> = (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).filter(|&(i, j)| m[i * n + j] == 1).collect();
            let Some(live) = ref_live(n, &edges) else {
                let spec = got.map_err(|e| TestCaseError::fail(format!("refused a disconnected spec: {e}")))?;
                prop_assert_eq!(spec.validate(&s), Err(CellError::Disconnected));
                return Ok(());
            };
            // ... then the size and the labels of the surviving vertices only
            let interior_ok = live[1..live.len() - 1].iter().all(|&v| matches!(code(&labels[v]), Some(c) if (0..MAX_OPS as i64).contains(&c)));
            if live.len() > MAX_VERTICES || !interior_ok {
                prop_assert!(got.is_err(), "accepted {:?}", got);
                return Ok(());
            }
            let spec = got.map_err(|e| TestCaseError::fail(format!("refused a well-formed spec: {e}")))?;
            let kept: HashSet<usize> = live.iter().copied().collect();
            let live_edges = edges.iter().filter(|(a, b)| kept.contains(a) && kept.contains(b)).count();
            let valid = live.len() <= 7 && live_edges <= 9 && live[1..live.len() - 1].iter().all(|&v| code(&labels[v]).unwrap() < 3);
            prop_assert_eq!(spec.is_valid(&s), valid);
            let p = spec.pruned().unwrap();
            prop_assert_eq!(p.num_vertices(), live.len());
            prop_assert_eq!(p.num_edges(), live_edges);
            // a batch row of the same cell (at most 7 vertices, codes only) is judged the same
            if n <= 7 && labels.iter().all(|l| matches!(code(l), Some(c) if (-2..=i8::MAX as i64).contains(&c))) {
                let mut adj = vec![0u8; 49];
                let mut ops = vec![OP_PAD; 7];
                for (i, j) in &edges {
                    adj[i * 7 + j] = 1;
                }
                for (v, l) in labels.iter().enumerate() {
                    ops[v] = code(l).unwrap() as i8;
                }
                prop_assert_eq!(Cell::from_padded_row(&s, &adj, &ops).is_ok(), valid);
            }
            Ok(())
        })
    }));

    // 2. pruning: the live vertices are those of the reference, pruning is idempotent
    let graphs = (2usize..=16, 1usize..=8, 0u8..=8, proptest::collection::vec(any::<u8>(), 1..=130));
    counts.insert("pruning", run_area("pruning", share(5), graphs, |(n, k, p, bits)| {
        guarded(&(n, k, p, &bits), |_| {
            let c = cell_from(n, k, p, &bits);
            let live = ref_live(n, &edges_of(&c));
            match c.pruned() {
                Ok(q) => {
                    let live = live.expect("the core pruned a disconnected cell");
                    prop_assert_eq!(q.num_vertices(), live.len());
                    let ops: Vec<i8> = live.iter().map(|&v| c.ops()[v]).collect();
                    prop_assert_eq!(q.ops(), &ops[..]);
                    prop_assert!(q.is_pruned() && q.pruned() == Ok(q));
                }
                Err(e) => {
                    prop_assert_eq!(e, CellError::Disconnected);
                    prop_assert!(live.is_none());
                }
            }
            Ok(())
        })
    }));

    // 3 and 4. hashing and canonical forms are invariant under every relabelling
    let relabelled = (2usize..=16, 1usize..=4, 1u8..=7, proptest::collection::vec(any::<u8>(), 1..=130),
                      proptest::collection::vec(any::<u16>(), 16));
    counts.insert("hashing", run_area("hashing", share(5), relabelled.clone(), |(n, k, p, bits, picks)| {
        guarded(&(n, k, p, &bits), |_| {
            let Ok(c) = cell_from(n, k, p, &bits).pruned() else { return Ok(()) };
            let mut it = picks.iter().cycle();
            let r = relabel(&c, &random_order(&c, |m| *it.next().unwrap() as usize % m));
            prop_assert_eq!(nb101_hash(&c), nb101_hash(&r));
            Ok(())
        })
    }));
    counts.insert("canonical forms", run_area("canonical forms", share(10), relabelled, |(n, k, p, bits, picks)| {
        guarded(&(n, k, p, &bits), |_| {
            let Ok(c) = cell_from(n, k, p, &bits).pruned() else { return Ok(()) };
            let mut it = picks.iter().cycle();
            let r = relabel(&c, &random_order(&c, |m| *it.next().unwrap() as usize % m));
            let cc = canonical(&c);
            prop_assert_eq!(cc, canonical(&r));
            prop_assert_eq!(canonical(&cc), cc);
            prop_assert_eq!(fingerprint(&c), fingerprint(&r));
            prop_assert_eq!(nb101_hash(&cc), nb101_hash(&c));
            let autos = automorphism_count(&c);
            prop_assert!(autos >= 1);
            prop_assert_eq!(orbit_size(&c) * autos, topological_order_count(&c));
            Ok(())
        })
    }));

    // 5. the samplers, in spaces at every limit
    let sampling = (space_params(), 0usize..=6, any::<u64>(), 0u8..3);
    counts.insert("sampler", run_area("sampler", share(25), sampling, |((v, e, k), n, seed, method)| {
        guarded(&(v, e, k, n, seed, method), |cancel| {
            let s = space(v, e, k);
            let sp = sampler(&s);
            let sparse = e < v * (v - 1) / 4;
            let cells = match method {
                0 => draw_many(n, None, orbit_draw(&sp, seed, cancel)),
                1 if !sparse => draw_many(n, None, rejection_draw(&s, seed, cancel)),
                _ if v <= 6 && e <= 8 && k <= 3 => {
                    let m = enumerate(&s, None, cancel).map_err(|e| TestCaseError::fail(e.to_string()))?.cells.len() as u64;
                    let got = distinct(n, Some(m), None, cancel, orbit_draw(&sp, seed, cancel));
                    if n as u64 > m {
                        prop_assert_eq!(got, Err(SpaceError::NotEnoughCells { count: m, n }));
                        return Ok(());
                    }
                    got
                }
                _ => draw_many(n, None, orbit_draw(&sp, seed, cancel)),
            }
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
            prop_assert_eq!(cells.len(), n);
            for c in &cells {
                assert_member(c, &s)?;
                if method != 1 {
                    prop_assert_eq!(canonical(c), *c);
                }
            }
            let (est, se) = estimate_count(&sp, 300, seed, None, cancel).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(est.is_finite() && se.is_finite() && est >= 0.0 && se >= 0.0);
            Ok(())
        })
    }));

    // 6. neighbourhoods and mutation: every result is a valid cell of the space
    let edits = ((2usize..=10, 1usize..=16, 1usize..=4), any::<u64>(), 1usize..=2, 0u8..3, any::<bool>());
    counts.insert("neighbours and mutation", run_area("neighbours and mutation", share(15), edits, |((v, e, k), seed, radius, preset, iso)| {
        guarded(&(v, e, k, seed, radius, preset, iso), |cancel| {
            let s = space(v, e, k);
            let sp = sampler(&s);
            let parents = draw_many(3, None, orbit_draw(&sp, seed, cancel)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let budget = NeighbourBudget::new(MAX_NEIGHBOURS);
            let radius = if v > 8 { 1 } else { radius };
            for p in &parents {
                let nb = neighbours(p, &s, radius, &budget, 1, None, cancel).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let set: HashSet<Cell> = nb.iter().copied().collect();
                prop_assert_eq!(set.len(), nb.len(), "duplicates");
                prop_assert!(!set.contains(&canonical(p)), "the parent's class");
                for c in &nb {
                    assert_member(c, &s)?;
                    prop_assert_eq!(canonical(c), *c);
                }
            }
            let preset = [Preset::Nb101, Preset::Bananas, Preset::Naslib][preset as usize];
            match mutate(&parents, &s, preset, iso, seed, None, cancel) {
                Ok(kids) => {
                    prop_assert_eq!(kids.len(), parents.len());
                    for (p, c) in parents.iter().zip(&kids) {
                        assert_member(c, &s)?;
                        if iso {
                            prop_assert_ne!(canonical(p), canonical(c));
                        }
                    }
                }
                // degenerate spaces: one class (no non-isomorphic child), few edges for many
                // vertices, or 2 vertices where the bananas preset flips the only edge for sure
                Err(SpaceError::NoValidChild { .. }) => prop_assert!(iso || e < v || v <= 3, "no child in ({v}, {e}, {k})"),
                Err(other) => return Err(TestCaseError::fail(other.to_string())),
            }
            Ok(())
        })
    }));

    // 7. enumeration of small spaces: counts match a scan of every edge mask, cells are
    // canonical, distinct and valid
    let small = (2usize..=6, 1usize..=16, 1usize..=3);
    counts.insert("enumeration", run_area("enumeration", share(10), small, |(v, e, k)| {
        guarded(&(v, e, k), |cancel| {
            let s = space(v, e, k);
            for n in 2..=v {
                let bits = n * (n - 1) / 2;
                let scanned = (0u32..1 << bits)
                    .filter(|m| m.count_ones() as usize <= e)
                    .filter(|&m| {
                        let edges: Vec<(usize, usize)> = (0..n)
                            .flat_map(|y| (0..y).map(move |x| (x, y)))
                            .enumerate()
                            .filter(|(b, _)| m >> b & 1 == 1)
                            .map(|(_, xy)| xy)
                            .collect();
                        ref_live(n, &edges).map(|l| l.len()) == Some(n)
                    })
                    .count() as u64;
                prop_assert_eq!(count_complete(n, e, u64::MAX, cancel).unwrap(), Some(scanned), "v={} e={}", n, e);
            }
            let labelled = labelled_counts(&s, cancel).unwrap().expect("small spaces are enumerable");
            if labelled.iter().sum::<u64>() > 100_000 {
                return Ok(());
            }
            let all = enumerate(&s, None, cancel).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!((all.cells.len() as u64) <= labelled.iter().sum::<u64>());
            prop_assert_eq!(all.counts.iter().sum::<u64>(), all.cells.len() as u64);
            let set: HashSet<Cell> = all.cells.iter().copied().collect();
            prop_assert_eq!(set.len(), all.cells.len());
            for c in all.cells.iter() {
                assert_member(c, &s)?;
                prop_assert_eq!(canonical(c), *c);
            }
            Ok(())
        })
    }));

    // 8. encodings of valid cells: the right shape and content, or a refusal of the size
    let enc = (space_params(), any::<u64>(), 0usize..=5);
    counts.insert("encodings", run_area("encodings", share(10), enc, |((v, e, k), seed, n)| {
        guarded(&(v, e, k, seed, n), |cancel| {
            let s = space(v, e, k);
            let cells = draw_many(n, None, orbit_draw(&sampler(&s), seed, cancel)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for kind in [Encoding::Adjacency, Encoding::Path, Encoding::PathTrunc, Encoding::PathCount] {
                match (kind.dim(&s), encode_batch(kind, &s, &cells, None)) {
                    (Ok(d), Ok(x)) => {
                        prop_assert_eq!(x.len(), n * d);
                        for (i, c) in cells.iter().enumerate() {
                            let row = &x[i * d..(i + 1) * d];
                            let ones = row.iter().filter(|&&f| f != 0.0).count();
                            match kind {
                                Encoding::Adjacency => prop_assert_eq!(ones, c.num_edges() + c.num_vertices() - 2),
                                Encoding::PathTrunc => prop_assert!(ones <= d),
                                _ => prop_assert!(ones >= 1, "every valid cell has an input-output path"),
                            }
                        }
                    }
                    (Err(SpaceError::EncodingTooLarge { .. }), Err(SpaceError::EncodingTooLarge { .. })) => {}
                    (a, b) => return Err(TestCaseError::fail(format!("{kind:?}: {a:?} / {:?}", b.map(|x| x.len())))),
                }
            }
            Ok(())
        })
    }));

    let total: u64 = counts.values().sum();
    let mut report = format!("fuzz campaign ({:.1} s budget): cases tried per area\n", budget().as_secs_f64());
    for (area, n) in &counts {
        report.push_str(&format!("  {area:28} {n:8}\n"));
    }
    report.push_str(&format!("  {:28} {total:8}\n", "total"));
    eprint!("{report}");
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-counts.txt");
    let _ = std::fs::write(target, report);
    let _ = OP_PAD;
}
