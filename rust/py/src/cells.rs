//! `CellSpec` (one cell as given) and `CellBatch` (many pruned, valid cells as arrays).

use crate::convert::{as_array, int_value, int_values, jobs, labels, short_repr};
use crate::errors::{invalid, CoreError};
use crate::space::PySearchSpace;
use nasfast_core::batch::{canonical_forms, dense_adjacency, fingerprints, nb101_hashes, padded_ops, parse_rows, unique};
use nasfast_core::encode::{encode_batch, Encoding};
use nasfast_core::{canonical, fingerprint_of_canonical, nb101_hash, Cell, CellSpec, Label, SearchSpace};
use numpy::ndarray::{Array1, Array2, Array3};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyList, PySlice, PyString, PyTuple};
use std::sync::Arc;

/// One cell as given: an upper-triangular adjacency matrix and op labels (input -1, output -2,
/// interior ops their index in the space's op list; a vertex that pruning removes may carry any
/// label). `pruned()` removes the vertices that are not on an input -> output path.
#[pyclass(name = "CellSpec", module = "nasfast", frozen, eq, hash, from_py_object)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyCellSpec {
    pub spec: CellSpec,
}

impl PyCellSpec {
    pub fn from_cell(cell: Cell) -> PyCellSpec {
        PyCellSpec { spec: CellSpec::from_cell(cell) }
    }

    fn pruned_cell(&self) -> PyResult<Cell> {
        Ok(self.spec.pruned().map_err(CoreError::from)?)
    }
}

fn space_or_nb101(space: Option<&PySearchSpace>) -> SearchSpace {
    space.map(|s| s.space.clone()).unwrap_or_else(SearchSpace::nb101)
}

fn label_object<'py>(py: Python<'py>, label: &Label) -> PyResult<Bound<'py, PyAny>> {
    Ok(match label {
        Label::Code(c) => c.into_pyobject(py)?.into_any(),
        Label::Name(s) => PyString::new(py, s).into_any(),
    })
}

#[pymethods]
impl PyCellSpec {
    #[new]
    #[pyo3(signature = (adjacency, ops, space=None))]
    fn new(adjacency: &Bound<'_, PyAny>, ops: &Bound<'_, PyAny>, space: Option<PyRef<'_, PySearchSpace>>) -> PyResult<Self> {
        let space = space_or_nb101(space.as_deref());
        let arr = as_array(adjacency, "adjacency")?;
        let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
        if !["b", "i", "u", "O"].contains(&kind.as_str()) {
            return Err(PyTypeError::new_err(format!(
                "adjacency must hold integers 0/1, got dtype {}",
                arr.getattr("dtype")?.str()?
            )));
        }
        let shape: Vec<usize> = arr.getattr("shape")?.extract()?;
        let cols = shape.get(1).copied().unwrap_or(1).max(1);
        let entries = int_values(&arr, "adjacency", |k, text| {
            invalid(format!("adjacency[{}][{}] = {text}: entries must be 0 or 1", k / cols, k % cols))
        })?;
        let labels = labels(ops)?;
        let spec = CellSpec::new(&shape, entries, labels, &space).map_err(CoreError::from)?;
        Ok(PyCellSpec { spec })
    }

    /// The adjacency matrix as given, uint8[n, n].
    #[getter]
    fn adjacency<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<u8>> {
        let n = self.spec.num_vertices();
        Array2::from_shape_vec((n, n), self.spec.adjacency().to_vec()).expect("n x n").into_pyarray(py)
    }

    /// The op codes as given; a name the space did not know stays a str.
    #[getter]
    fn ops<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.spec.labels().iter().map(|l| label_object(py, l)).collect()
    }

    /// Number of vertices, as given.
    #[getter]
    fn num_vertices(&self) -> usize {
        self.spec.num_vertices()
    }

    /// Number of edges, as given.
    #[getter]
    fn num_edges(&self) -> usize {
        self.spec.num_edges()
    }

    /// The op names in a space (default NAS-Bench-101).
    #[pyo3(signature = (space=None))]
    fn op_names(&self, space: Option<PyRef<'_, PySearchSpace>>) -> PyResult<Vec<String>> {
        Ok(self.spec.op_names(&space_or_nb101(space.as_deref())).map_err(CoreError::from)?)
    }

    /// The cell without vertices that are not on an input -> output path.
    fn pruned(&self) -> PyResult<PyCellSpec> {
        Ok(PyCellSpec::from_cell(self.pruned_cell()?))
    }

    /// Whether the cell is valid in a space (default NAS-Bench-101) after pruning.
    #[pyo3(signature = (space=None))]
    fn is_valid(&self, space: Option<PyRef<'_, PySearchSpace>>) -> bool {
        self.spec.is_valid(&space_or_nb101(space.as_deref()))
    }

    /// The pruned cell if it is valid in the space (default NAS-Bench-101); raises otherwise.
    #[pyo3(signature = (space=None))]
    fn validate(&self, space: Option<PyRef<'_, PySearchSpace>>) -> PyResult<PyCellSpec> {
        let cell = self.spec.validate(&space_or_nb101(space.as_deref())).map_err(CoreError::from)?;
        Ok(PyCellSpec::from_cell(cell))
    }

    /// The NAS-Bench-101 module hash of the pruned cell.
    fn nb101_hash(&self) -> PyResult<String> {
        let h = nb101_hash(&self.pruned_cell()?);
        Ok(String::from_utf8_lossy(&h).into_owned())
    }

    /// The exact canonical form of the pruned cell.
    fn canonical(&self) -> PyResult<PyCellSpec> {
        Ok(PyCellSpec::from_cell(canonical(&self.pruned_cell()?)))
    }

    /// The 64-bit fingerprint of the canonical form.
    fn fingerprint(&self) -> PyResult<u64> {
        Ok(fingerprint_of_canonical(&canonical(&self.pruned_cell()?)))
    }

    /// Whether two cells are isomorphic after pruning.
    fn is_isomorphic(&self, other: PyRef<'_, PyCellSpec>) -> PyResult<bool> {
        Ok(canonical(&self.pruned_cell()?) == canonical(&other.pruned_cell()?))
    }

    fn __repr__(&self) -> String {
        let n = self.spec.num_vertices();
        let adj = self.spec.adjacency();
        let rows: Vec<String> = (0..n)
            .map(|i| format!("[{}]", adj[i * n..(i + 1) * n].iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")))
            .collect();
        let ops: Vec<String> = self.spec.labels().iter().map(Label::text).collect();
        format!("CellSpec(adjacency=[{}], ops=[{}])", rows.join(", "), ops.join(", "))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let me = slf.get();
        let adj = me.adjacency(py).call_method0("tolist")?;
        let args = PyTuple::new(py, [adj, PyList::new(py, me.ops(py)?)?.into_any()])?;
        Ok((slf.get_type().into_any(), args))
    }
}

/// Many cells of one space. Holds pruned, valid cells; crosses the boundary as numpy arrays.
#[pyclass(name = "CellBatch", module = "nasfast", frozen)]
#[derive(Clone)]
pub struct PyCellBatch {
    pub space: SearchSpace,
    pub cells: Arc<Vec<Cell>>,
}

impl PyCellBatch {
    pub fn new(space: SearchSpace, cells: Vec<Cell>) -> Self {
        PyCellBatch { space, cells: Arc::new(cells) }
    }

    fn sub(&self, idx: &[usize]) -> Self {
        PyCellBatch::new(self.space.clone(), idx.iter().map(|&i| self.cells[i]).collect())
    }

    fn v(&self) -> usize {
        self.space.max_vertices()
    }
}

fn describe_array(x: &Bound<'_, PyAny>) -> String {
    let dtype = x.getattr("dtype").and_then(|d| d.str().map(|s| s.to_string())).unwrap_or_else(|_| x.get_type().name().map(|n| n.to_string()).unwrap_or_default());
    let shape = x.getattr("shape").and_then(|s| s.str().map(|s| s.to_string())).unwrap_or_else(|_| "no shape".into());
    format!("dtype {dtype} with shape {shape}")
}

#[pymethods]
impl PyCellBatch {
    /// Builds a batch from zero-padded arrays, pruning and validating every row.
    #[staticmethod]
    #[pyo3(signature = (adjacency, ops, space, n_jobs=None))]
    fn from_arrays(
        py: Python<'_>,
        adjacency: &Bound<'_, PyAny>,
        ops: &Bound<'_, PyAny>,
        space: PyRef<'_, PySearchSpace>,
        n_jobs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let n_jobs = jobs(n_jobs)?;
        let adjacency: PyReadonlyArray3<u8> = adjacency.extract().map_err(|_| {
            PyTypeError::new_err(format!("adjacency must be a uint8 array of shape (n, V, V), got {}", describe_array(adjacency)))
        })?;
        let ops: PyReadonlyArray2<i8> = ops.extract().map_err(|_| {
            PyTypeError::new_err(format!("ops must be an int8 array of shape (n, V), got {}", describe_array(ops)))
        })?;
        let (adj_shape, ops_shape) = (adjacency.shape().to_vec(), ops.shape().to_vec());
        let adj = adjacency.as_array().as_standard_layout().into_owned().into_raw_vec_and_offset().0;
        let opv = ops.as_array().as_standard_layout().into_owned().into_raw_vec_and_offset().0;
        let sp = &space.space;
        let cells = py.detach(|| parse_rows(sp, &adj_shape, &adj, &ops_shape, &opv, n_jobs)).map_err(CoreError::from)?;
        Ok(PyCellBatch::new(sp.clone(), cells))
    }

    /// Builds a batch from cell specs (each pruned and validated).
    #[staticmethod]
    fn from_specs(specs: Vec<PyCellSpec>, space: PyRef<'_, PySearchSpace>) -> PyResult<Self> {
        let sp = &space.space;
        let cells = specs
            .iter()
            .enumerate()
            .map(|(i, s)| s.spec.validate(sp).map_err(|e| e.at_row(i)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(CoreError::from)?;
        Ok(PyCellBatch::new(sp.clone(), cells))
    }

    /// The batches one after the other (all of the same space).
    #[staticmethod]
    fn concat(batches: Vec<PyRef<'_, PyCellBatch>>) -> PyResult<Self> {
        let first = batches.first().ok_or_else(|| PyValueError::new_err("concat needs at least one batch"))?;
        let space = first.space.clone();
        let mut cells = Vec::with_capacity(batches.iter().map(|b| b.cells.len()).sum());
        for (i, b) in batches.iter().enumerate() {
            if b.space != space {
                return Err(PyValueError::new_err(format!("batch {i} belongs to a different space than batch 0")));
            }
            cells.extend_from_slice(&b.cells);
        }
        Ok(PyCellBatch::new(space, cells))
    }

    /// The space of the cells.
    #[getter]
    fn space(&self) -> PySearchSpace {
        PySearchSpace { space: self.space.clone() }
    }

    /// uint8[n, V, V] adjacency matrices, zero padded.
    #[getter]
    fn adjacency<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray3<u8>>> {
        let (v, n, cells) = (self.v(), self.cells.len(), &self.cells);
        let dense = py.detach(|| dense_adjacency(cells, v, None)).map_err(CoreError::from)?;
        Ok(Array3::from_shape_vec((n, v, v), dense).expect("shape").into_pyarray(py))
    }

    /// int8[n, V] op codes (-1 input, -2 output, -3 padding, 0..k-1 interior ops).
    #[getter]
    fn ops<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i8>>> {
        let ops = padded_ops(&self.cells, self.v()).map_err(CoreError::from)?;
        Ok(Array2::from_shape_vec((self.cells.len(), self.v()), ops).expect("shape").into_pyarray(py))
    }

    /// uint8[n] vertex counts.
    #[getter]
    fn num_vertices<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u8>> {
        Array1::from_iter(self.cells.iter().map(|c| c.num_vertices() as u8)).into_pyarray(py)
    }

    /// uint8[n] edge counts.
    #[getter]
    fn num_edges<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u8>> {
        Array1::from_iter(self.cells.iter().map(|c| c.num_edges() as u8)).into_pyarray(py)
    }

    /// Bytes held by the batch's cells.
    #[getter]
    fn nbytes(&self) -> usize {
        self.cells.len() * std::mem::size_of::<Cell>()
    }

    fn __len__(&self) -> usize {
        self.cells.len()
    }

    fn __getitem__(&self, py: Python<'_>, index: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let n = self.cells.len();
        let out_of_range = |text: String| PyIndexError::new_err(format!("index {text} is out of range for a batch of {n} cells"));
        let position = |i: i128| -> PyResult<usize> {
            let j = if i < 0 { i + n as i128 } else { i };
            if j < 0 || j >= n as i128 {
                Err(out_of_range(i.to_string()))
            } else {
                Ok(j as usize)
            }
        };
        let refuse = || {
            PyTypeError::new_err(format!(
                "cannot index a CellBatch with {}: use an int, a slice, a 1-d integer array or a boolean mask",
                short_repr(index)
            ))
        };
        if let Ok(slice) = index.cast::<PySlice>() {
            let ind = slice.indices(n as isize)?;
            let idx: Vec<usize> = (0..ind.slicelength).map(|k| (ind.start + k as isize * ind.step) as usize).collect();
            return Ok(Py::new(py, self.sub(&idx))?.into_any());
        }
        if index.is_none() || index.is_instance_of::<PyString>() || index.is_instance_of::<PyBytes>() || index.is_instance_of::<PyBool>() {
            return Err(refuse());
        }
        // an int (Python or numpy): one cell
        if let Ok(value) = int_value(index, "index") {
            let i = value.ok_or_else(|| out_of_range(short_repr(index)))?;
            return Ok(Py::new(py, PyCellSpec::from_cell(self.cells[position(i)?]))?.into_any());
        }
        let is_sequence = index.is_instance_of::<PyList>() || index.is_instance_of::<PyTuple>() || index.hasattr("__array__")?;
        if !is_sequence {
            return Err(refuse());
        }
        let arr = as_array(index, "index")?;
        let ndim: usize = arr.getattr("ndim")?.extract()?;
        let size: usize = arr.getattr("size")?.extract()?;
        let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
        if ndim != 1 {
            return Err(refuse());
        }
        let idx: Vec<usize> = if kind == "b" {
            if size != n {
                return Err(PyIndexError::new_err(format!("boolean index of length {size} for a batch of {n} cells")));
            }
            let mask: Vec<bool> = arr.call_method0("tolist")?.extract()?;
            mask.iter().enumerate().filter(|(_, &b)| b).map(|(i, _)| i).collect()
        } else if size == 0 {
            Vec::new()
        } else if ["i", "u", "O"].contains(&kind.as_str()) {
            let values = int_values(&arr, "index", |_, text| out_of_range(text))
                .map_err(|e| if e.is_instance_of::<PyTypeError>(py) { refuse() } else { e })?;
            values.into_iter().map(position).collect::<PyResult<Vec<usize>>>()?
        } else {
            return Err(refuse());
        };
        Ok(Py::new(py, self.sub(&idx))?.into_any())
    }

    /// Iterates over the cells as `CellSpec`.
    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(PyList::new(py, self.to_specs())?.try_iter()?.into_any())
    }

    /// The cells as a list of `CellSpec`.
    fn to_specs(&self) -> Vec<PyCellSpec> {
        self.cells.iter().map(|&cell| PyCellSpec::from_cell(cell)).collect()
    }

    /// NAS-Bench-101 module hashes, a '<U32' array.
    #[pyo3(signature = (n_jobs=None))]
    fn nb101_hashes<'py>(&self, py: Python<'py>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let n_jobs = jobs(n_jobs)?;
        let cells = &self.cells;
        let bytes = py.detach(|| nb101_hashes(cells, n_jobs)).map_err(CoreError::from)?;
        let arr = Array1::from_vec(bytes).into_pyarray(py);
        arr.call_method1("view", ("S32",))?.call_method1("astype", ("U32",))
    }

    /// uint64 fingerprints: equal exactly for isomorphic cells when they have at most 8
    /// vertices (packed canonical form), else a 63-bit hash of the canonical form.
    #[pyo3(signature = (n_jobs=None))]
    fn fingerprints<'py>(&self, py: Python<'py>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let n_jobs = jobs(n_jobs)?;
        let cells = &self.cells;
        Ok(Array1::from_vec(py.detach(|| fingerprints(cells, n_jobs))).into_pyarray(py))
    }

    /// The canonical forms of the cells.
    #[pyo3(signature = (n_jobs=None))]
    fn canonical(&self, py: Python<'_>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let n_jobs = jobs(n_jobs)?;
        let cells = &self.cells;
        Ok(PyCellBatch::new(self.space.clone(), py.detach(|| canonical_forms(cells, n_jobs))))
    }

    /// The batch without isomorphic duplicates (first occurrences kept, in order) and the
    /// inverse index: row i of the input is isomorphic to row `inverse[i]` of the result.
    #[pyo3(signature = (n_jobs=None))]
    fn unique<'py>(&self, py: Python<'py>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<(Self, Bound<'py, PyArray1<i64>>)> {
        let n_jobs = jobs(n_jobs)?;
        let cells = &self.cells;
        let (kept, inverse) = py.detach(|| unique(cells, n_jobs));
        Ok((PyCellBatch::new(self.space.clone(), kept), Array1::from_vec(inverse).into_pyarray(py)))
    }

    /// float32[n, d] features: "adjacency", "path", "path-trunc" or "path-count".
    #[pyo3(signature = (kind="path", n_jobs=None))]
    fn encode<'py>(&self, py: Python<'py>, kind: &str, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let n_jobs = jobs(n_jobs)?;
        let kind = Encoding::from_name(kind).map_err(CoreError::from)?;
        let sp = &self.space;
        let d = kind.dim(sp).map_err(CoreError::from)?;
        let cells = &self.cells;
        let feats = py.detach(|| encode_batch(kind, sp, cells, n_jobs)).map_err(CoreError::from)?;
        Ok(Array2::from_shape_vec((cells.len(), d), feats).expect("shape").into_pyarray(py))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyCellBatch>() {
            Ok(o) => {
                let o = o.get();
                o.space == self.space && o.cells == self.cells
            }
            Err(_) => false,
        }
    }

    fn __repr__(&self) -> String {
        format!("CellBatch(n={}, space={})", self.cells.len(), crate::space::space_repr(&self.space))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let me = slf.get();
        let ctor = slf.get_type().getattr("from_arrays")?;
        let space = Py::new(py, me.space())?.into_any().into_bound(py);
        let args = PyTuple::new(py, [me.adjacency(py)?.into_any(), me.ops(py)?.into_any(), space])?;
        Ok((ctor, args))
    }
}
