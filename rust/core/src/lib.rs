//! nasfast-core: the pure Rust core of nasfast.
//!
//! It owns everything combinatorial and hot about NAS-Bench-101-style cell spaces: the cell
//! model and pruning ([`cell`]), cells as users give them, judged like the official API
//! ([`spec`]), batches of cells and their array forms ([`batch`]), the NAS-Bench-101 module hash ([`hash`]), exact canonical forms
//! and fingerprints ([`canon`]), enumeration ([`enumerate`]), sampling ([`sample`]), mutation
//! and neighbourhoods ([`mutate`]), feature encodings ([`encode`]) and the random forests the
//! search loop refits every round ([`forest`]), with the rules that guard them: request limits
//! ([`limits`]), thread control and cancellation ([`par`]); and it reads the official
//! NAS-Bench-101 files ([`tfrecord`], [`nb101_tfrecord`]). It knows nothing of Python; the
//! `nasfast-py` crate binds it.

pub mod batch;
pub mod canon;
pub mod cell;
pub mod encode;
pub mod enumerate;
pub mod error;
pub mod forest;
pub mod hash;
pub mod limits;
pub mod mutate;
pub mod nb101_tfrecord;
pub mod par;
pub mod rng;
pub mod sample;
pub mod space;
pub mod spec;
pub mod tfrecord;

#[cfg(test)]
mod proptests;

/// The largest number of vertices a cell may have (out-neighbour rows are 16-bit masks).
pub const MAX_VERTICES: usize = 16;
/// The largest number of interior ops a space may have.
pub const MAX_OPS: usize = 32;

pub use canon::{canonical, fingerprint, fingerprint_of_canonical};
pub use cell::{Cell, OP_INPUT, OP_OUTPUT, OP_PAD};
pub use error::{CellError, SpaceError};
pub use hash::nb101_hash;
pub use space::SearchSpace;
pub use spec::{CellSpec, Label};
