//! Typed errors of the core. Every message names the offending value, so that the bindings can
//! hand it to the user unchanged; the core never panics on user input.

use thiserror::Error;

/// Why a cell, a space or a request is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CellError {
    #[error("a cell needs at least 2 vertices (input and output), got {n}")]
    TooFewVertices { n: usize },
    #[error("cell has {n} vertices after pruning, at most {max} allowed")]
    TooManyVertices { n: usize, max: usize },
    #[error("cell has {edges} edges after pruning, at most {max} allowed")]
    TooManyEdges { edges: usize, max: usize },
    #[error("adjacency[{i}][{j}] = {value}: entries must be 0 or 1")]
    NotBinary { i: usize, j: usize, value: i128 },
    #[error("adjacency[{i}][{j}] = 1 is on or below the diagonal: only edges i -> j with i < j are allowed (upper-triangular matrix)")]
    NotUpperTriangular { i: usize, j: usize },
    #[error("ops[0] = {value}: the first vertex must be the input (code -1)")]
    BadInputOp { value: String },
    #[error("ops[{vertex}] = {value}: the last vertex must be the output (code -2)")]
    BadOutputOp { vertex: usize, value: String },
    #[error("ops[{vertex}] = {value} is not an interior op code: expected 0..{num_ops} (the index into the space's op list)")]
    UnknownOp { vertex: usize, value: i128, num_ops: usize },
    #[error("ops[{vertex}] = {name:?} is not an op of the space: expected 'input', 'output' or one of {expected:?}")]
    UnknownOpName { vertex: usize, name: String, expected: Vec<String> },
    #[error("ops[{vertex}] = {label} marks the {role}, but vertex {vertex} is an interior vertex on an input-output path (pruning keeps it): only the {} vertex may be the {role}", if *role == "input" { "first" } else { "last" })]
    MisplacedOp { vertex: usize, label: String, role: &'static str },
    #[error("the input cannot reach the output: nothing is left after pruning")]
    Disconnected,
    #[error("padding: {detail}")]
    BadPadding { detail: String },
    #[error("{0}")]
    Shape(String),
    #[error("row {row}: {source}")]
    Row {
        row: usize,
        #[source]
        source: Box<CellError>,
    },
}

impl CellError {
    /// Attach a batch row index to an error.
    pub fn at_row(self, row: usize) -> CellError {
        CellError::Row { row, source: Box::new(self) }
    }
}

/// Why a space or an operation on a space is refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SpaceError {
    #[error("max_vertices = {0}: must be between 2 and {max}", max = crate::MAX_VERTICES)]
    BadMaxVertices(usize),
    #[error("the space needs between 1 and {max} interior ops, got {0}", max = crate::MAX_OPS)]
    BadNumOps(usize),
    #[error("max_edges = {0}: must be at least 1")]
    BadMaxEdges(usize),
    #[error("op name {name:?} {reason}")]
    BadOpName { name: String, reason: &'static str },
    #[error("the space has about {estimate:.3e} unique cells (Monte-Carlo estimate, relative standard error {rel_se:.1}%), more than the enumeration limit of {limit}; enumerate() is refused")]
    TooLargeToEnumerate { estimate: f64, rel_se: f64, limit: u64 },
    #[error("the space has {count} unique cells, fewer than the {n} requested without replacement")]
    NotEnoughCells { count: u64, n: usize },
    #[error("index {index} is out of range for a space of {count} cells")]
    IndexOutOfRange { index: i128, count: u64 },
    #[error("encoding {kind:?} would have {dim} features per cell, more than the limit of {limit}; use a truncated encoding")]
    EncodingTooLarge { kind: String, dim: u128, limit: usize },
    #[error("unknown {what} {value:?}: expected one of {expected}")]
    UnknownName { what: &'static str, value: String, expected: String },
    #[error("no valid child found for row {row} after {tries} attempts")]
    NoValidChild { row: usize, tries: usize },
    #[error("the rejection sampler drew no valid cell in {tries} attempts: valid cells are too rare among random {v} x {v} matrices of this space; use method=\"orbit\"")]
    NoValidCell { tries: usize, v: usize },
    #[error("only {found} distinct cells were found in {draws} draws ({stalled} draws in a row without a new one), fewer than the {n} requested without replacement: the space seems to have fewer unique cells, or the sampler rarely proposes the others")]
    NotEnoughDistinct { found: usize, n: usize, draws: u64, stalled: u64 },
    #[error("{what} = {requested}: more than the limit of {limit}{hint}")]
    RequestTooLarge { what: &'static str, requested: u128, limit: u128, hint: &'static str },
    #[error("the radius-{radius} neighbourhoods of {parents} {} hold more than {limit} cells (nasfast.MAX_NEIGHBOURS); use a smaller radius or fewer cells", if *parents == 1 { "cell" } else { "cells" })]
    TooManyNeighbours { radius: usize, parents: usize, limit: usize },
    #[error("cannot allocate {bytes} bytes for {what}")]
    OutOfMemory { what: &'static str, bytes: u128 },
    #[error("{what} = {value}: {rule}")]
    BadValue { what: &'static str, value: i128, rule: &'static str },
    #[error("interrupted")]
    Interrupted,
    #[error("{0}")]
    Cell(#[from] CellError),
}
