//! The search space: how many vertices and edges a cell may have and which interior ops exist.

use crate::error::SpaceError;
use crate::{MAX_OPS, MAX_VERTICES};

/// The op names of NAS-Bench-101, in the order of their codes (reference §3).
pub const NB101_OPS: [&str; 3] = ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"];

/// A cell space: at most `max_vertices` vertices and `max_edges` edges after pruning; vertex 0 is
/// the input, the last vertex the output, every other vertex carries one of `ops`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SearchSpace {
    max_vertices: usize,
    max_edges: usize,
    ops: Vec<String>,
}

impl SearchSpace {
    /// A space; refuses limits the core cannot represent.
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
        Ok(SearchSpace { max_vertices, max_edges, ops })
    }

    /// The NAS-Bench-101 space: 7 vertices, 9 edges, 3 ops.
    pub fn nb101() -> SearchSpace {
        SearchSpace { max_vertices: 7, max_edges: 9, ops: NB101_OPS.iter().map(|s| s.to_string()).collect() }
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
}
