//! `read_nb101_tfrecord`: the official NAS-Bench-101 files decoded by the core
//! (`nasfast_core::nb101_tfrecord`), handed back as numpy arrays. The table is built in Python
//! (`nasfast.benchmarks.from_nb101_tfrecord`).

use crate::convert::jobs;
use crate::errors::TFRECORD_ERROR;
use crate::space::PySearchSpace;
use nasfast_core::nb101_tfrecord::{read_nb101_tfrecord as read_runs, Nb101Error, METRIC_COLUMNS};
use nasfast_core::OP_PAD;
use numpy::ndarray::{Array1, Array2, Array3};
use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

fn to_py(e: Nb101Error) -> PyErr {
    TFRECORD_ERROR.new_err(e.to_string())
}

fn int64(values: impl Iterator<Item = i64>) -> Array1<i64> {
    values.collect()
}

/// Decodes a whole NAS-Bench-101 TFRecord file (its bytes) into numpy arrays: per record
/// ``offsets``, ``epochs``, ``metrics`` (float64, shape (n, 5): the final evaluation's
/// current_epoch, training_time, train_accuracy, validation_accuracy, test_accuracy),
/// ``params`` (-1 when absent), ``cell_index`` and ``run_index`` (earlier records of the same
/// cell and budget); per distinct hash (sorted) ``hashes``
/// ('<U32'), ``first_record``, ``adjacency`` (uint8, (m, V, V)) and ``ops`` (int8, (m, V)) with
/// V the space's ``max_vertices``, the cell as its first record gives it (not pruned).
/// Raises ``TFRecordError`` naming the byte offset of the first bad record.
#[pyfunction]
#[pyo3(signature = (data, space, n_jobs=None))]
pub fn read_nb101_tfrecord<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyBytes>,
    space: &PySearchSpace,
    n_jobs: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let n_jobs = jobs(n_jobs)?;
    let bytes: &[u8] = data.as_bytes();
    let sp = &space.space;
    let runs = py.detach(|| read_runs(bytes, sp, n_jobs)).map_err(to_py)?;
    let n = runs.offsets.len();
    let m = runs.cells.len();
    let v = sp.max_vertices();
    let (adjacency, ops) = py.detach(|| {
        let mut adjacency = vec![0u8; m * v * v];
        let mut ops = vec![OP_PAD; m * v];
        for ((a, o), cell) in adjacency.chunks_mut(v * v).zip(ops.chunks_mut(v)).zip(&runs.cells) {
            cell.write_dense(a, v);
            o[..cell.num_vertices()].copy_from_slice(cell.ops());
        }
        (adjacency, ops)
    });
    let adjacency = Array3::from_shape_vec((m, v, v), adjacency).expect("m x v x v adjacency");
    let ops = Array2::from_shape_vec((m, v), ops).expect("m x v ops");
    let metrics = Array2::from_shape_vec((n, METRIC_COLUMNS), runs.metrics).expect("n x 5 metrics");
    let hashes: Vec<u8> = runs.hashes.iter().flatten().copied().collect();
    let hashes = Array1::from_vec(hashes).into_pyarray(py).call_method1("view", ("S32",))?.call_method1("astype", ("U32",))?;

    let out = PyDict::new(py);
    out.set_item("offsets", int64(runs.offsets.iter().map(|&x| x as i64)).into_pyarray(py))?;
    out.set_item("epochs", int64(runs.epochs.iter().map(|&x| x as i64)).into_pyarray(py))?;
    out.set_item("metrics", metrics.into_pyarray(py))?;
    out.set_item("params", Array1::from_vec(runs.params).into_pyarray(py))?;
    out.set_item("cell_index", int64(runs.cell_index.iter().map(|&x| x as i64)).into_pyarray(py))?;
    out.set_item("run_index", int64(runs.run_index.iter().map(|&x| x as i64)).into_pyarray(py))?;
    out.set_item("first_record", int64(runs.first_record.iter().map(|&x| x as i64)).into_pyarray(py))?;
    out.set_item("hashes", hashes)?;
    out.set_item("adjacency", adjacency.into_pyarray(py))?;
    out.set_item("ops", ops.into_pyarray(py))?;
    Ok(out)
}
