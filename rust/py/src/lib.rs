//! `nasfast._core`: thin PyO3 bindings of `nasfast-core`. They convert and validate arguments,
//! map errors to Python exceptions, release the GIL around the core's work and hand results
//! back as numpy arrays. Nothing else lives here.

mod cells;
mod convert;
mod errors;
mod forest;
mod space;
mod tfrecord;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("BUILD_PROFILE", if cfg!(debug_assertions) { "debug" } else { "release" })?;
    m.add("OP_INPUT", nasfast_core::OP_INPUT as i64)?;
    m.add("OP_OUTPUT", nasfast_core::OP_OUTPUT as i64)?;
    m.add("OP_PAD", nasfast_core::OP_PAD as i64)?;
    m.add("MAX_VERTICES", nasfast_core::MAX_VERTICES)?;
    m.add("MAX_OPS", nasfast_core::MAX_OPS)?;
    m.add("MAX_LABELLED_CELLS", nasfast_core::enumerate::MAX_LABELLED_CELLS)?;
    m.add("MAX_BATCH_CELLS", nasfast_core::limits::MAX_BATCH_CELLS)?;
    m.add("MAX_NEIGHBOURS", nasfast_core::limits::MAX_NEIGHBOURS)?;
    m.add("NasfastError", py.get_type::<errors::NasfastError>())?;
    m.add("InvalidCellError", errors::INVALID_CELL_ERROR.type_object(py)?)?;
    m.add("SpaceTooLargeError", errors::SPACE_TOO_LARGE_ERROR.type_object(py)?)?;
    m.add("TFRecordError", errors::TFRECORD_ERROR.type_object(py)?)?;
    m.add_function(wrap_pyfunction!(tfrecord::read_nb101_tfrecord, m)?)?;
    m.add_class::<space::PySearchSpace>()?;
    m.add_class::<cells::PyCellSpec>()?;
    m.add_class::<cells::PyCellBatch>()?;
    m.add_class::<forest::PyForest>()?;
    Ok(())
}
