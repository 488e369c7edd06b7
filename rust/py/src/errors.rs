//! Mapping of core errors to the documented Python exceptions.

use nasfast_core::{CellError, SpaceError};
use pyo3::create_exception;
use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyValueError};
use pyo3::PyErr;

create_exception!(
    nasfast,
    InvalidCellError,
    PyValueError,
    "A cell, or a row of a batch, is not valid: the message names the value and the row."
);
create_exception!(
    nasfast,
    SpaceTooLargeError,
    PyValueError,
    "The space is too large for the requested operation (the message gives its size)."
);
create_exception!(
    nasfast.benchmarks,
    TFRecordError,
    PyValueError,
    "Corrupt, truncated or malformed TFRecord input; the message names the byte offset."
);

/// A core error on its way to Python (a newtype, since the orphan rule forbids converting the
/// core's errors into `PyErr` directly).
pub struct CoreError(pub SpaceError);

impl From<SpaceError> for CoreError {
    fn from(e: SpaceError) -> Self {
        CoreError(e)
    }
}

impl From<CellError> for CoreError {
    fn from(e: CellError) -> Self {
        CoreError(SpaceError::Cell(e))
    }
}

impl From<CoreError> for PyErr {
    fn from(e: CoreError) -> PyErr {
        let msg = e.0.to_string();
        match e.0 {
            SpaceError::Cell(_) => InvalidCellError::new_err(msg),
            SpaceError::TooLargeToEnumerate { .. } | SpaceError::EncodingTooLarge { .. } => SpaceTooLargeError::new_err(msg),
            SpaceError::IndexOutOfRange { .. } => PyIndexError::new_err(msg),
            SpaceError::NoValidChild { .. } => PyRuntimeError::new_err(msg),
            _ => PyValueError::new_err(msg),
        }
    }
}

/// Shorthand for results of the bindings.
pub type CoreResult<T> = Result<T, CoreError>;

/// An `InvalidCellError` with a message.
pub fn invalid(msg: impl Into<String>) -> PyErr {
    InvalidCellError::new_err(msg.into())
}
