//! `Forest`: a fitted random forest of the core (`nasfast_core::forest`). The scikit-learn
//! estimator around it, `nasfast.search.ForestRegressor`, lives in Python.

use crate::convert::{int_value, jobs, seed_from};
use nasfast_core::forest::{pack_rows, Forest, ForestError, ForestParams, Nodes, PackedRows};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

fn forest_err(e: ForestError) -> PyErr {
    match e {
        ForestError::TreeOutOfRange { .. } => PyIndexError::new_err(e.to_string()),
        ForestError::OutOfMemory { .. } => pyo3::exceptions::PyMemoryError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// Mean and standard deviation per row.
type MeanStd<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);

/// The values of a C-contiguous float32 matrix and its number of columns.
fn matrix<'a>(x: &'a PyReadonlyArray2<'_, f32>) -> PyResult<(&'a [f32], usize)> {
    let err = || PyValueError::new_err("X must be a C-contiguous float32 array (numpy.ascontiguousarray(X, dtype=numpy.float32))");
    // a Fortran-ordered array is contiguous too, but its values are not rows one after another
    if !x.is_c_contiguous() {
        return Err(err());
    }
    let values = x.as_slice().map_err(|_| err())?;
    Ok((values, x.shape()[1]))
}

fn extract_x<'py>(x: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArray2<'py, f32>> {
    x.extract().map_err(|_| {
        let what = x.getattr("dtype").map(|d| format!("an array of dtype {d} and {} dimensions", x.getattr("ndim").map(|n| n.to_string()).unwrap_or_default()));
        PyTypeError::new_err(format!(
            "X must be a 2-d float32 numpy array, got {}",
            what.unwrap_or_else(|_| x.get_type().name().map(|n| n.to_string()).unwrap_or_default())
        ))
    })
}

/// A 2-d array of dtype `T`, or a `TypeError` naming what was passed.
fn extract_2d<'py, T: numpy::Element>(x: &Bound<'py, PyAny>, name: &str, dtype: &str) -> PyResult<PyReadonlyArray2<'py, T>> {
    x.extract().map_err(|_| {
        let what = x.getattr("dtype").map(|d| format!("an array of dtype {d} and {} dimensions", x.getattr("ndim").map(|n| n.to_string()).unwrap_or_default()));
        PyTypeError::new_err(format!(
            "{name} must be a 2-d {dtype} numpy array, got {}",
            what.unwrap_or_else(|_| x.get_type().name().map(|n| n.to_string()).unwrap_or_default())
        ))
    })
}

/// The words of packed rows (`Forest.pack_rows`): a C-contiguous uint64 array (n, words per row).
fn packed<'a>(bits: &'a PyReadonlyArray2<'_, u64>) -> PyResult<PackedRows<'a>> {
    let err = || PyValueError::new_err("bits must be a C-contiguous uint64 array of packed rows (Forest.pack_rows)");
    if !bits.is_c_contiguous() {
        return Err(err());
    }
    let words = bits.as_slice().map_err(|_| err())?;
    PackedRows::new(words, bits.shape()[1]).map_err(forest_err)
}

/// A 1-d array of non-negative integers (`columns`, `rows`) as indices.
fn indices(obj: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<Vec<usize>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    let arr = obj.py().import("numpy")?.call_method1("asarray", (obj,))?;
    let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
    let ndim: usize = arr.getattr("ndim")?.extract()?;
    let size: usize = arr.getattr("size")?.extract()?;
    if ndim != 1 || !(kind == "i" || kind == "u" || size == 0) {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a 1-d array of integers, got an array of dtype {} and {ndim} dimensions",
            arr.getattr("dtype")?
        )));
    }
    let arr: PyReadonlyArray1<'_, i64> = arr.call_method1("astype", ("int64",))?.extract()?;
    let values = arr.as_array();
    let mut out = Vec::with_capacity(values.len());
    for (k, &v) in values.iter().enumerate() {
        if v < 0 {
            return Err(PyValueError::new_err(format!("{name}[{k}] = {v} is negative")));
        }
        out.push(v as usize);
    }
    Ok(Some(out))
}

/// An int parameter of at least `min`; any Python int is taken (a huge one is a `ValueError`
/// naming it, not an `OverflowError` from a fixed-width conversion).
fn usize_param(name: &str, v: &Bound<'_, PyAny>, min: usize) -> PyResult<usize> {
    let n = match int_value(v, name)? {
        Some(n) if n < min as i128 => return Err(PyValueError::new_err(format!("{name} = {n}: must be at least {min}"))),
        Some(n) => usize::try_from(n).ok(),
        None => None,
    };
    n.ok_or_else(|| PyValueError::new_err(format!("{name} = {}: too large", v.repr().map(|r| r.to_string()).unwrap_or_default())))
}

/// [`usize_param`] for an argument whose default is `default` (passed as None by the signature).
fn usize_param_or(name: &str, v: Option<&Bound<'_, PyAny>>, default: usize, min: usize) -> PyResult<usize> {
    v.map_or(Ok(default), |v| usize_param(name, v, min))
}

/// A fitted random forest of regression trees (squared error). Fit it with :meth:`Forest.fit`;
/// the scikit-learn estimator is :class:`nasfast.search.ForestRegressor`.
#[pyclass(name = "Forest", module = "nasfast", frozen)]
pub struct PyForest {
    forest: Forest,
}

#[pymethods]
impl PyForest {
    /// Fits a forest on ``X`` (float32, C-contiguous, shape (n, d)) and ``y`` (float64, n).
    #[staticmethod]
    #[pyo3(
        signature = (x, y, *, n_estimators=None, max_features=None, min_samples_split=None, min_samples_leaf=None, max_depth=None, bootstrap=true, random_state=None, n_jobs=None),
        text_signature = "(x, y, *, n_estimators=100, max_features=None, min_samples_split=2, min_samples_leaf=1, max_depth=None, bootstrap=True, random_state=None, n_jobs=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: PyReadonlyArray1<'_, f64>,
        n_estimators: Option<&Bound<'_, PyAny>>,
        max_features: Option<&Bound<'_, PyAny>>,
        min_samples_split: Option<&Bound<'_, PyAny>>,
        min_samples_leaf: Option<&Bound<'_, PyAny>>,
        max_depth: Option<&Bound<'_, PyAny>>,
        bootstrap: bool,
        random_state: Option<&Bound<'_, PyAny>>,
        n_jobs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let x = extract_x(x)?;
        let (values, d) = matrix(&x)?;
        let y = y.as_slice().map_err(|_| PyValueError::new_err("y must be a contiguous float64 array"))?;
        let params = ForestParams {
            n_estimators: usize_param_or("n_estimators", n_estimators, 100, 1)?,
            max_features: max_features.map(|m| usize_param("max_features", m, 1)).transpose()?,
            min_samples_split: usize_param_or("min_samples_split", min_samples_split, 2, 2)?,
            min_samples_leaf: usize_param_or("min_samples_leaf", min_samples_leaf, 1, 1)?,
            max_depth: max_depth.map(|m| usize_param("max_depth", m, 1)).transpose()?,
            bootstrap,
        };
        let seed = seed_from(random_state)?;
        let n_jobs = jobs(n_jobs)?;
        let forest = py.detach(|| Forest::fit(values, d, y, &params, seed, n_jobs)).map_err(forest_err)?;
        Ok(PyForest { forest })
    }

    /// Rebuilds a forest from the arrays of :attr:`arrays` (validated).
    #[staticmethod]
    fn from_arrays(
        n_features: usize,
        tree_start: Vec<u32>,
        feature: Vec<i32>,
        threshold: Vec<f64>,
        left: Vec<u32>,
        right: Vec<u32>,
        value: Vec<f64>,
    ) -> PyResult<Self> {
        let nodes = Nodes { feature, threshold, left, right, value };
        let forest = Forest::from_parts(n_features, tree_start, nodes).map_err(forest_err)?;
        Ok(PyForest { forest })
    }

    /// Number of trees.
    #[getter]
    fn n_estimators(&self) -> usize {
        self.forest.n_estimators()
    }

    /// Number of features of the rows it was fitted on.
    #[getter]
    fn n_features(&self) -> usize {
        self.forest.n_features()
    }

    /// Number of nodes of all trees.
    #[getter]
    fn n_nodes(&self) -> usize {
        self.forest.n_nodes()
    }

    /// The node arrays ``(tree_start, feature, threshold, left, right, value)``: node ``k`` of
    /// tree ``t`` is entry ``tree_start[t] + k``; a leaf has ``feature == -1``; ``left`` and
    /// ``right`` are node indices inside the tree; ``x[feature] <= threshold`` goes left.
    #[getter]
    fn arrays<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let (ts, n) = self.forest.parts();
        PyTuple::new(
            py,
            [
                PyArray1::from_slice(py, ts).into_any(),
                PyArray1::from_slice(py, &n.feature).into_any(),
                PyArray1::from_slice(py, &n.threshold).into_any(),
                PyArray1::from_slice(py, &n.left).into_any(),
                PyArray1::from_slice(py, &n.right).into_any(),
                PyArray1::from_slice(py, &n.value).into_any(),
            ],
        )
    }

    /// The features some node splits on, ascending.
    fn used_features<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        let used: Vec<i64> = self.forest.used_features().into_iter().map(|f| f as i64).collect();
        used.into_pyarray(py)
    }

    /// Mean prediction over the trees and its standard deviation over the trees, per row.
    #[pyo3(signature = (x, n_jobs=None))]
    fn predict_mean_std<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        n_jobs: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<MeanStd<'py>> {
        let x = extract_x(x)?;
        let (values, d) = matrix(&x)?;
        let n_jobs = jobs(n_jobs)?;
        let (mean, std) = py.detach(|| self.forest.predict_mean_std(values, d, n_jobs)).map_err(forest_err)?;
        Ok((mean.into_pyarray(py), std.into_pyarray(py)))
    }

    /// The prediction of tree ``tree`` for every row.
    #[pyo3(signature = (x, tree, n_jobs=None))]
    fn predict_member<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        tree: i64,
        n_jobs: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let x = extract_x(x)?;
        let (values, d) = matrix(&x)?;
        let n_jobs = jobs(n_jobs)?;
        let out = py.detach(|| self.forest.predict_member(values, d, tree, n_jobs)).map_err(forest_err)?;
        Ok(out.into_pyarray(py))
    }

    /// The prediction of every tree for every row, shape (rows, n_estimators).
    #[pyo3(signature = (x, n_jobs=None))]
    fn predict_members<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>, n_jobs: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = extract_x(x)?;
        let (values, d) = matrix(&x)?;
        let rows = x.shape()[0];
        let n_jobs = jobs(n_jobs)?;
        let out = py.detach(|| self.forest.predict_members(values, d, n_jobs)).map_err(forest_err)?;
        Ok(Array2::from_shape_vec((rows, self.forest.n_estimators()), out).expect("shape").into_pyarray(py))
    }

    /// Packs rows of 0/1 values (uint8, shape (n, d)) 64 to a word: uint64 of shape
    /// (n, ceil(d / 64)), feature ``c`` of row ``i`` at bit ``c % 64`` of word ``[i, c // 64]``.
    #[staticmethod]
    fn pack_rows<'py>(py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray2<u64>>> {
        let x = extract_2d::<u8>(x, "X", "uint8")?;
        let (n, d) = (x.shape()[0], x.shape()[1]);
        let copy: Vec<u8>;
        let values = match x.as_slice() {
            Ok(v) if x.is_c_contiguous() => v,
            _ => {
                copy = x.as_array().iter().copied().collect();
                &copy
            }
        };
        let (words, w) = py.detach(|| pack_rows(values, d)).map_err(forest_err)?;
        Ok(Array2::from_shape_vec((n, w), words).expect("shape").into_pyarray(py))
    }

    /// :meth:`predict_mean_std` of packed 0/1 rows (:meth:`pack_rows`): feature ``f`` of the
    /// forest is column ``columns[f]`` of ``bits`` (default: column ``f``); ``rows`` selects the
    /// rows to score (default: all). Equal bit for bit to ``predict_mean_std`` on the same rows
    /// as float32; each distinct row over the features the trees use is scored once.
    #[pyo3(signature = (bits, columns=None, rows=None, n_jobs=None))]
    fn predict_mean_std_packed<'py>(
        &self,
        py: Python<'py>,
        bits: &Bound<'py, PyAny>,
        columns: Option<&Bound<'py, PyAny>>,
        rows: Option<&Bound<'py, PyAny>>,
        n_jobs: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<MeanStd<'py>> {
        let bits = extract_2d::<u64>(bits, "bits", "uint64")?;
        let packed_rows = packed(&bits)?;
        let (columns, rows) = (indices(columns, "columns")?, indices(rows, "rows")?);
        let n_jobs = jobs(n_jobs)?;
        let (mean, std) = py
            .detach(|| self.forest.predict_mean_std_packed(packed_rows, columns.as_deref(), rows.as_deref(), n_jobs))
            .map_err(forest_err)?;
        Ok((mean.into_pyarray(py), std.into_pyarray(py)))
    }

    /// The mean of :meth:`predict_mean_std_packed` alone (the spread is not computed).
    #[pyo3(signature = (bits, columns=None, rows=None, n_jobs=None))]
    fn predict_mean_packed<'py>(
        &self,
        py: Python<'py>,
        bits: &Bound<'py, PyAny>,
        columns: Option<&Bound<'py, PyAny>>,
        rows: Option<&Bound<'py, PyAny>>,
        n_jobs: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let bits = extract_2d::<u64>(bits, "bits", "uint64")?;
        let packed_rows = packed(&bits)?;
        let (columns, rows) = (indices(columns, "columns")?, indices(rows, "rows")?);
        let n_jobs = jobs(n_jobs)?;
        let mean = py
            .detach(|| self.forest.predict_mean_packed(packed_rows, columns.as_deref(), rows.as_deref(), n_jobs))
            .map_err(forest_err)?;
        Ok(mean.into_pyarray(py))
    }

    /// :meth:`predict_member` of packed 0/1 rows (``columns`` and ``rows`` as in
    /// :meth:`predict_mean_std_packed`).
    #[pyo3(signature = (bits, tree, columns=None, rows=None, n_jobs=None))]
    fn predict_member_packed<'py>(
        &self,
        py: Python<'py>,
        bits: &Bound<'py, PyAny>,
        tree: i64,
        columns: Option<&Bound<'py, PyAny>>,
        rows: Option<&Bound<'py, PyAny>>,
        n_jobs: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let bits = extract_2d::<u64>(bits, "bits", "uint64")?;
        let packed_rows = packed(&bits)?;
        let (columns, rows) = (indices(columns, "columns")?, indices(rows, "rows")?);
        let n_jobs = jobs(n_jobs)?;
        let out = py
            .detach(|| self.forest.predict_member_packed(packed_rows, columns.as_deref(), rows.as_deref(), tree, n_jobs))
            .map_err(forest_err)?;
        Ok(out.into_pyarray(py))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyForest>().map(|o| o.get().forest == self.forest).unwrap_or(false)
    }

    fn __repr__(&self) -> String {
        format!("Forest(n_estimators={}, n_features={}, n_nodes={})", self.forest.n_estimators(), self.forest.n_features(), self.forest.n_nodes())
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let ctor = slf.get_type().getattr("from_arrays")?;
        let me = slf.get();
        let mut args: Vec<Bound<'py, PyAny>> = vec![me.forest.n_features().into_pyobject(py)?.into_any()];
        for a in me.arrays(py)?.iter() {
            args.push(a.call_method0("tolist")?);
        }
        Ok((ctor, PyTuple::new(py, args)?))
    }
}
