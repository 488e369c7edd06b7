//! The search space: how many vertices and edges a cell may have and which interior ops exist,
//! and what is computed once per space (whether it is enumerable, its enumeration, the tables
//! of the orbit sampler), shared by every clone of the space.

use crate::cell::Cell;
use crate::enumerate::{enumerate, is_enumerable, Enumeration};
use crate::error::{CellError, SpaceError};
use crate::par::Cancel;
use crate::sample::{estimate_count, OrbitSampler};
use crate::{MAX_OPS, MAX_VERTICES};
use std::sync::{Arc, OnceLock};

/// The op names of NAS-Bench-101, in the order of their codes (reference §3).
pub const NB101_OPS: [&str; 3] = ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"];

/// Op names a space may not use: they name the input and the output vertex.
pub const RESERVED_OP_NAMES: [&str; 2] = ["input", "output"];

/// Monte-Carlo proposals behind [`SearchSpace::count`] for spaces too large to enumerate.
pub const COUNT_SAMPLES: usize = 1_000_000;

/// What a space computes at most once (a failed or interrupted computation is not kept).
#[derive(Default)]
struct Cache {
    enumerable: OnceLock<bool>,
    enumeration: OnceLock<Arc<Enumeration>>,
    orbit: OnceLock<Arc<OrbitSampler>>,
}

/// A cell space: at most `max_vertices` vertices and `max_edges` edges after pruning; vertex 0 is
/// the input, the last vertex the output, every other vertex carries one of `ops`.
///
/// Equality and hashing compare the limits and the ops; clones share the computed enumeration
/// and sampler tables.
#[derive(Clone)]
pub struct SearchSpace {
    max_vertices: usize,
    max_edges: usize,
    ops: Vec<String>,
    cache: Arc<Cache>,
}

impl PartialEq for SearchSpace {
    fn eq(&self, other: &Self) -> bool {
        (self.max_vertices, self.max_edges, &self.ops) == (other.max_vertices, other.max_edges, &other.ops)
    }
}

impl Eq for SearchSpace {}

impl std::hash::Hash for SearchSpace {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.max_vertices, self.max_edges, &self.ops).hash(state);
    }
}

impl std::fmt::Debug for SearchSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SearchSpace(max_vertices={}, max_edges={}, ops={:?})", self.max_vertices, self.max_edges, self.ops)
    }
}

impl SearchSpace {
    /// A space; refuses limits the core cannot represent and op names that are reserved
    /// (`input`, `output`) or repeated.
    pub fn new(max_vertices: usize, max_edges: usize, ops: Vec<String>) -> Result<SearchSpace, SpaceError> {
        if !(2..=MAX_VERTICES).contains(&max_vertices) {
            return Err(SpaceError::BadMaxVertices(max_vertices));
        }
        if ops.is_empty() || ops.len() > MAX_OPS {
            return Err(SpaceError::BadNumOps(ops.len()));
        }
        if max_edges == 0 {
            return Err(SpaceError::BadMaxEdges(max_edges));
        }
        for (i, o) in ops.iter().enumerate() {
            if RESERVED_OP_NAMES.contains(&o.as_str()) {
                return Err(SpaceError::BadOpName { name: o.clone(), reason: "is reserved for the input and output vertices" });
            }
            if ops[..i].contains(o) {
                return Err(SpaceError::BadOpName { name: o.clone(), reason: "is repeated" });
            }
        }
        Ok(SearchSpace { max_vertices, max_edges, ops, cache: Arc::default() })
    }

    /// The NAS-Bench-101 space: 7 vertices, 9 edges, 3 ops.
    pub fn nb101() -> SearchSpace {
        SearchSpace { max_vertices: 7, max_edges: 9, ops: NB101_OPS.iter().map(|s| s.to_string()).collect(), cache: Arc::default() }
    }

    /// Maximum number of vertices after pruning.
    pub fn max_vertices(&self) -> usize {
        self.max_vertices
    }

    /// Maximum number of edges after pruning.
    pub fn max_edges(&self) -> usize {
        self.max_edges
    }

    /// Effective edge limit for cells with `n` vertices.
    pub fn max_edges_for(&self, n: usize) -> usize {
        self.max_edges.min(n * (n - 1) / 2)
    }

    /// Interior op names, indexed by op code.
    pub fn ops(&self) -> &[String] {
        &self.ops
    }

    /// Number of interior ops.
    pub fn num_ops(&self) -> usize {
        self.ops.len()
    }

    /// The code of an op name (`input` -1, `output` -2, interior ops their index).
    pub fn op_code(&self, name: &str) -> Option<i8> {
        match name {
            "input" => Some(crate::cell::OP_INPUT),
            "output" => Some(crate::cell::OP_OUTPUT),
            _ => self.ops.iter().position(|o| o == name).map(|i| i as i8),
        }
    }

    /// Whether [`SearchSpace::enumeration`] accepts the space (at most
    /// [`crate::enumerate::MAX_LABELLED_CELLS`] labelled cells); decided once.
    pub fn is_enumerable(&self, cancel: &Cancel) -> Result<bool, SpaceError> {
        if let Some(&b) = self.cache.enumerable.get() {
            return Ok(b);
        }
        let b = is_enumerable(self, cancel)?;
        Ok(*self.cache.enumerable.get_or_init(|| b))
    }

    /// Every unique valid cell (see [`crate::enumerate`]), computed once and shared.
    pub fn enumeration(&self, n_jobs: Option<usize>, cancel: &Cancel) -> Result<Arc<Enumeration>, SpaceError> {
        if let Some(e) = self.cache.enumeration.get() {
            return Ok(e.clone());
        }
        let e = Arc::new(enumerate(self, n_jobs, cancel)?);
        Ok(self.cache.enumeration.get_or_init(|| e).clone())
    }

    /// The tables of the orbit sampler, built once.
    pub fn orbit_sampler(&self) -> Arc<OrbitSampler> {
        self.cache.orbit.get_or_init(|| Arc::new(OrbitSampler::new(self))).clone()
    }

    /// The number of unique cells: exact (by enumeration) when the space is enumerable,
    /// otherwise the rounded Monte-Carlo estimate from [`COUNT_SAMPLES`] proposals with seed 0.
    pub fn count(&self, n_jobs: Option<usize>, cancel: &Cancel) -> Result<u64, SpaceError> {
        if self.is_enumerable(cancel)? {
            return Ok(self.enumeration(n_jobs, cancel)?.cells.len() as u64);
        }
        let (estimate, _) = estimate_count(&self.orbit_sampler(), COUNT_SAMPLES, 0, n_jobs, cancel)?;
        Ok(estimate.round() as u64)
    }

    /// Checks that cells (pruned and valid in some space) fit this space: the error names the
    /// first row that does not.
    pub fn check_cells(&self, cells: &[Cell]) -> Result<(), CellError> {
        for (i, c) in cells.iter().enumerate() {
            c.check_limits(self).map_err(|e| e.at_row(i))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_repeated_names_are_refused() {
        let ops = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for bad in [&["input"][..], &["a", "output"], &["a", "b", "a"]] {
            match SearchSpace::new(7, 9, ops(bad)) {
                Err(SpaceError::BadOpName { name, .. }) => assert!(bad.contains(&name.as_str())),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let e = SearchSpace::new(7, 9, ops(&["a", "a"])).unwrap_err().to_string();
        assert!(e.contains("\"a\"") && e.contains("repeated"), "{e}");
        assert!(SearchSpace::new(7, 9, ops(&["Input", "outputs", ""])).is_ok());
    }

    #[test]
    fn equality_ignores_what_was_computed() {
        let a = SearchSpace::new(4, 4, vec!["x".into()]).unwrap();
        let b = a.clone();
        let c = SearchSpace::new(4, 4, vec!["x".into()]).unwrap();
        let cancel = Cancel::new();
        assert_eq!(a.count(None, &cancel).unwrap(), c.count(None, &cancel).unwrap());
        // the clone shares the enumeration
        assert!(Arc::ptr_eq(&a.enumeration(None, &cancel).unwrap(), &b.enumeration(None, &cancel).unwrap()));
        assert_eq!(a, c);
        assert_ne!(a, SearchSpace::new(4, 5, vec!["x".into()]).unwrap());
    }
}
