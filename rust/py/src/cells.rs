//! `CellSpec` (one cell) and `CellBatch` (many cells as arrays).

use crate::convert::{as_array, int_value, int_values, jobs, op_codes, short_repr};
use crate::errors::{invalid, CoreError, CoreResult};
use crate::space::{PySearchSpace, SpaceData};
use nasfast_core::encode::{encode_batch, Encoding};
use nasfast_core::limits::{product, vec_filled};
use nasfast_core::par::{fill_rows, map_range, try_map_range};
use nasfast_core::{canonical, fingerprint_of_canonical, nb101_hash, Cell, CellError, SearchSpace, OP_PAD};
use numpy::ndarray::{Array1, Array2, Array3};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyList, PySlice, PyString, PyTuple};
use std::collections::HashMap;
use std::sync::Arc;

/// One cell: an upper-triangular adjacency matrix and op codes (input -1, output -2, interior
/// ops their index in the space's op list). Kept as given: `pruned()` removes dead vertices.
#[pyclass(name = "CellSpec", module = "nasfast", frozen, eq, hash, from_py_object)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyCellSpec {
    pub cell: Cell,
}

fn space_or_nb101(space: Option<&PySearchSpace>) -> SearchSpace {
    space.map(|s| s.data.space.clone()).unwrap_or_else(SearchSpace::nb101)
}

/// A dense matrix from any array-like of 0/1 values.
fn dense_matrix(adjacency: &Bound<'_, PyAny>) -> PyResult<(usize, Vec<u8>)> {
    let arr = as_array(adjacency, "adjacency")?;
    let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
    if !["b", "i", "u", "O"].contains(&kind.as_str()) {
        return Err(PyTypeError::new_err(format!(
            "adjacency must hold integers 0/1, got dtype {}",
            arr.getattr("dtype")?.str()?
        )));
    }
    let shape: Vec<usize> = arr.getattr("shape")?.extract()?;
    if shape.len() != 2 || shape[0] != shape[1] {
        return Err(invalid(format!("adjacency must be a square matrix, got shape {shape:?}")));
    }
    let n = shape[0];
    if n > nasfast_core::MAX_VERTICES {
        return Err(invalid(format!("adjacency is {n} x {n}: at most {} vertices are supported", nasfast_core::MAX_VERTICES)));
    }
    let flat = int_values(&arr, "adjacency", |idx, text| {
        invalid(format!("adjacency[{}][{}] = {text}: entries must be 0 or 1", idx / n.max(1), idx % n.max(1)))
    })?;
    let mut out = Vec::with_capacity(flat.len());
    for (idx, v) in flat.into_iter().enumerate() {
        if !(0..=1).contains(&v) {
            return Err(CoreError::from(CellError::NotBinary { i: idx / n, j: idx % n, value: v }).into());
        }
        out.push(v as u8);
    }
    Ok((n, out))
}

impl PyCellSpec {
    fn pruned_cell(&self) -> CoreResult<Cell> {
        Ok(self.cell.pruned()?)
    }
}

#[pymethods]
impl PyCellSpec {
    #[new]
    #[pyo3(signature = (adjacency, ops, space=None))]
    fn new(adjacency: &Bound<'_, PyAny>, ops: &Bound<'_, PyAny>, space: Option<PyRef<'_, PySearchSpace>>) -> PyResult<Self> {
        let space = space_or_nb101(space.as_deref());
        let (n, dense) = dense_matrix(adjacency)?;
        let codes = op_codes(ops, &space)?;
        if codes.len() != n {
            return Err(invalid(format!("adjacency is {n} x {n} but {} ops were given", codes.len())));
        }
        let cell = Cell::from_dense(n, &dense, &codes).map_err(CoreError::from)?;
        Ok(PyCellSpec { cell })
    }

    /// The adjacency matrix, uint8[n, n].
    #[getter]
    fn adjacency<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<u8>> {
        let n = self.cell.num_vertices();
        let mut dense = vec![0u8; n * n];
        self.cell.write_dense(&mut dense, n);
        Array2::from_shape_vec((n, n), dense).expect("n x n").into_pyarray(py)
    }

    /// The op codes.
    #[getter]
    fn ops(&self) -> Vec<i64> {
        self.cell.ops().iter().map(|&o| o as i64).collect()
    }

    /// Number of vertices.
    #[getter]
    fn num_vertices(&self) -> usize {
        self.cell.num_vertices()
    }

    /// Number of edges.
    #[getter]
    fn num_edges(&self) -> usize {
        self.cell.num_edges()
    }

    /// The op names in a space (default NAS-Bench-101).
    #[pyo3(signature = (space=None))]
    fn op_names(&self, space: Option<PyRef<'_, PySearchSpace>>) -> PyResult<Vec<String>> {
        let space = space_or_nb101(space.as_deref());
        self.cell
            .ops()
            .iter()
            .enumerate()
            .map(|(v, &o)| match o {
                -1 => Ok("input".to_string()),
                -2 => Ok("output".to_string()),
                _ => space.ops().get(o as usize).cloned().ok_or_else(|| {
                    invalid(format!("ops[{v}] = {o} is not an op code of a space with {} ops", space.num_ops()))
                }),
            })
            .collect()
    }

    /// The cell without vertices that are not on an input -> output path.
    fn pruned(&self) -> PyResult<PyCellSpec> {
        Ok(PyCellSpec { cell: self.pruned_cell()? })
    }

    /// Whether the cell is valid in a space (default NAS-Bench-101) after pruning.
    #[pyo3(signature = (space=None))]
    fn is_valid(&self, space: Option<PyRef<'_, PySearchSpace>>) -> bool {
        self.cell.is_valid(&space_or_nb101(space.as_deref()))
    }

    /// The pruned cell if it is valid in the space (default NAS-Bench-101); raises otherwise.
    #[pyo3(signature = (space=None))]
    fn validate(&self, space: Option<PyRef<'_, PySearchSpace>>) -> PyResult<PyCellSpec> {
        let cell = self.cell.validate(&space_or_nb101(space.as_deref())).map_err(CoreError::from)?;
        Ok(PyCellSpec { cell })
    }

    /// The NAS-Bench-101 module hash of the pruned cell.
    fn nb101_hash(&self) -> PyResult<String> {
        let h = nb101_hash(&self.pruned_cell()?);
        Ok(String::from_utf8_lossy(&h).into_owned())
    }

    /// The exact canonical form of the pruned cell.
    fn canonical(&self) -> PyResult<PyCellSpec> {
        Ok(PyCellSpec { cell: canonical(&self.pruned_cell()?) })
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
        let n = self.cell.num_vertices();
        let rows: Vec<String> = (0..n)
            .map(|i| format!("[{}]", (0..n).map(|j| if self.cell.has_edge(i, j) { "1" } else { "0" }).collect::<Vec<_>>().join(", ")))
            .collect();
        format!("CellSpec(adjacency=[{}], ops={:?})", rows.join(", "), self.cell.ops())
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let me = slf.get();
        let adj = me.adjacency(py).call_method0("tolist")?;
        let args = PyTuple::new(py, [adj, PyList::new(py, me.ops())?.into_any()])?;
        Ok((slf.get_type().into_any(), args))
    }
}

/// Many cells of one space. Holds pruned, valid cells; crosses the boundary as numpy arrays.
#[pyclass(name = "CellBatch", module = "nasfast", frozen)]
#[derive(Clone)]
pub struct PyCellBatch {
    pub space: Arc<SpaceData>,
    pub cells: Arc<Vec<Cell>>,
}

impl PyCellBatch {
    pub fn new(space: Arc<SpaceData>, cells: Vec<Cell>) -> Self {
        PyCellBatch { space, cells: Arc::new(cells) }
    }

    fn sub(&self, idx: &[usize]) -> Self {
        PyCellBatch::new(self.space.clone(), idx.iter().map(|&i| self.cells[i]).collect())
    }

    fn v(&self) -> usize {
        self.space.space.max_vertices()
    }
}

/// Parses one zero-padded row into a pruned valid cell.
fn parse_row(space: &SearchSpace, v: usize, adj: &[u8], ops: &[i8]) -> Result<Cell, CellError> {
    let n = ops.iter().position(|&o| o == OP_PAD).unwrap_or(v);
    if let Some(p) = ops[n..].iter().position(|&o| o != OP_PAD) {
        return Err(CellError::BadPadding {
            detail: format!("ops[{}] = {} after the padding that starts at ops[{n}] (code -3)", n + p, ops[n + p]),
        });
    }
    let mut out = [0u16; nasfast_core::MAX_VERTICES];
    for i in 0..v {
        for j in 0..v {
            let x = adj[i * v + j];
            if x == 0 {
                continue;
            }
            if x != 1 {
                return Err(CellError::NotBinary { i, j, value: x as i128 });
            }
            if i >= n || j >= n {
                return Err(CellError::BadPadding {
                    detail: format!("adjacency[{i}][{j}] = 1 but the cell has {n} vertices (ops padded with -3 from ops[{n}])"),
                });
            }
            if j <= i {
                return Err(CellError::NotUpperTriangular { i, j });
            }
            out[i] |= 1 << j;
        }
    }
    Cell::new(n, &ops[..n], &out[..n.max(1)])?.validate(space)
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
            PyTypeError::new_err(format!(
                "adjacency must be a uint8 array of shape (n, V, V), got {}",
                describe_array(adjacency)
            ))
        })?;
        let ops: PyReadonlyArray2<i8> = ops.extract().map_err(|_| {
            PyTypeError::new_err(format!("ops must be an int8 array of shape (n, V), got {}", describe_array(ops)))
        })?;
        let data = space.data.clone();
        let v = data.space.max_vertices();
        let sa = adjacency.shape();
        let so = ops.shape();
        if sa[1] != v || sa[2] != v {
            return Err(invalid(format!("adjacency has shape {sa:?}, expected (n, {v}, {v}) for a space of {v} vertices")));
        }
        if so[0] != sa[0] || so[1] != v {
            return Err(invalid(format!("ops has shape {so:?}, expected ({}, {v})", sa[0])));
        }
        let adj = adjacency.as_array().as_standard_layout().into_owned().into_raw_vec_and_offset().0;
        let opv = ops.as_array().as_standard_layout().into_owned().into_raw_vec_and_offset().0;
        let n = sa[0];
        let sp = &data.space;
        let cells = py
            .detach(|| {
                try_map_range(n, n_jobs, |i| {
                    parse_row(sp, v, &adj[i * v * v..(i + 1) * v * v], &opv[i * v..(i + 1) * v]).map_err(|e| e.at_row(i))
                })
            })
            .map_err(CoreError::from)?;
        Ok(PyCellBatch::new(data, cells))
    }

    /// Builds a batch from cell specs (each pruned and validated).
    #[staticmethod]
    fn from_specs(specs: Vec<PyCellSpec>, space: PyRef<'_, PySearchSpace>) -> PyResult<Self> {
        let sp = &space.data.space;
        let cells = specs
            .iter()
            .enumerate()
            .map(|(i, s)| s.cell.validate(sp).map_err(|e| e.at_row(i)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(CoreError::from)?;
        Ok(PyCellBatch::new(space.data.clone(), cells))
    }

    /// The batches one after the other (all of the same space).
    #[staticmethod]
    fn concat(batches: Vec<PyRef<'_, PyCellBatch>>) -> PyResult<Self> {
        let first = batches.first().ok_or_else(|| pyo3::exceptions::PyValueError::new_err("concat needs at least one batch"))?;
        let space = first.space.clone();
        let mut cells = Vec::with_capacity(batches.iter().map(|b| b.cells.len()).sum());
        for (i, b) in batches.iter().enumerate() {
            if b.space.space != space.space {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "batch {i} belongs to a different space than batch 0"
                )));
            }
            cells.extend_from_slice(&b.cells);
        }
        Ok(PyCellBatch::new(space, cells))
    }

    /// The space of the cells.
    #[getter]
    fn space(&self) -> PySearchSpace {
        PySearchSpace { data: self.space.clone() }
    }

    /// uint8[n, V, V] adjacency matrices, zero padded.
    #[getter]
    fn adjacency<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray3<u8>>> {
        let v = self.v();
        let n = self.cells.len();
        let len = product(n, v * v, 1, "the adjacency matrices").map_err(CoreError::from)?;
        let mut dense = vec_filled(len, 0u8, "the adjacency matrices").map_err(CoreError::from)?;
        let cells = &self.cells;
        py.detach(|| fill_rows(&mut dense, v * v, None, |i, row| cells[i].write_dense(row, v)));
        Ok(Array3::from_shape_vec((n, v, v), dense).expect("shape").into_pyarray(py))
    }

    /// int8[n, V] op codes (-1 input, -2 output, -3 padding, 0..k-1 interior ops).
    #[getter]
    fn ops<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i8>>> {
        let v = self.v();
        let n = self.cells.len();
        let len = product(n, v, 1, "the op codes").map_err(CoreError::from)?;
        let mut ops = vec_filled(len, OP_PAD, "the op codes").map_err(CoreError::from)?;
        for (i, c) in self.cells.iter().enumerate() {
            ops[i * v..i * v + c.num_vertices()].copy_from_slice(c.ops());
        }
        Ok(Array2::from_shape_vec((n, v), ops).expect("shape").into_pyarray(py))
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
            return Ok(Py::new(py, PyCellSpec { cell: self.cells[position(i)?] })?.into_any());
        }
        let is_sequence = index.is_instance_of::<PyList>() || index.is_instance_of::<PyTuple>() || index.hasattr("__array__")?;
        if !is_sequence {
            return Err(refuse());
        }
        let arr = as_array(index, "index")?;
        let ndim: usize = arr.getattr("ndim")?.extract()?;
        let size: usize = arr.getattr("size")?.extract()?;
        let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
        if ndim != 1 && !(ndim == 0 && ["i", "u", "O"].contains(&kind.as_str())) {
            return Err(refuse());
        }
        let idx: Vec<usize> = if kind == "b" && ndim == 1 {
            if size != n {
                return Err(PyIndexError::new_err(format!("boolean index of length {size} for a batch of {n} cells")));
            }
            let mask: Vec<bool> = arr.call_method0("tolist")?.extract()?;
            mask.iter().enumerate().filter(|(_, &b)| b).map(|(i, _)| i).collect()
        } else if size == 0 {
            Vec::new()
        } else if ["i", "u", "O"].contains(&kind.as_str()) {
            let values = int_values(&arr, "index", |_, text| out_of_range(text)).map_err(|e| if e.is_instance_of::<PyTypeError>(py) { refuse() } else { e })?;
            let idx = values.into_iter().map(position).collect::<PyResult<Vec<usize>>>()?;
            if ndim == 0 {
                return Ok(Py::new(py, PyCellSpec { cell: self.cells[idx[0]] })?.into_any());
            }
            idx
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
        self.cells.iter().map(|&cell| PyCellSpec { cell }).collect()
    }

    /// NAS-Bench-101 module hashes, a '<U32' array.
    #[pyo3(signature = (n_jobs=None))]
    fn nb101_hashes<'py>(&self, py: Python<'py>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let n_jobs = jobs(n_jobs)?;
        let n = self.cells.len();
        let len = product(n, 32, 1, "the hashes").map_err(CoreError::from)?;
        let mut bytes = vec_filled(len, 0u8, "the hashes").map_err(CoreError::from)?;
        let cells = &self.cells;
        py.detach(|| fill_rows(&mut bytes, 32, n_jobs, |i, row| row.copy_from_slice(&nb101_hash(&cells[i]))));
        let arr = Array1::from_vec(bytes).into_pyarray(py);
        arr.call_method1("view", ("S32",))?.call_method1("astype", ("U32",))
    }

    /// uint64 fingerprints: equal exactly for isomorphic cells when they have at most 8
    /// vertices (packed canonical form), else a 63-bit hash of the canonical form.
    #[pyo3(signature = (n_jobs=None))]
    fn fingerprints<'py>(&self, py: Python<'py>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let n_jobs = jobs(n_jobs)?;
        let cells = &self.cells;
        let fps = py.detach(|| map_range(cells.len(), n_jobs, |i| fingerprint_of_canonical(&canonical(&cells[i]))));
        Ok(Array1::from_vec(fps).into_pyarray(py))
    }

    /// The canonical forms of the cells.
    #[pyo3(signature = (n_jobs=None))]
    fn canonical(&self, py: Python<'_>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let n_jobs = jobs(n_jobs)?;
        let cells = &self.cells;
        let canon = py.detach(|| map_range(cells.len(), n_jobs, |i| canonical(&cells[i])));
        Ok(PyCellBatch::new(self.space.clone(), canon))
    }

    /// The batch without isomorphic duplicates (first occurrences kept, in order) and the
    /// inverse index: row i of the input is isomorphic to row `inverse[i]` of the result.
    #[pyo3(signature = (n_jobs=None))]
    fn unique<'py>(&self, py: Python<'py>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<(Self, Bound<'py, PyArray1<i64>>)> {
        let n_jobs = jobs(n_jobs)?;
        let cells = &self.cells;
        let (kept, inverse) = py.detach(|| {
            let canon = map_range(cells.len(), n_jobs, |i| canonical(&cells[i]));
            let mut first: HashMap<Cell, i64> = HashMap::with_capacity(canon.len());
            let mut kept = Vec::new();
            let inverse: Vec<i64> = canon
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    *first.entry(*c).or_insert_with(|| {
                        kept.push(cells[i]);
                        (kept.len() - 1) as i64
                    })
                })
                .collect();
            (kept, inverse)
        });
        Ok((PyCellBatch::new(self.space.clone(), kept), Array1::from_vec(inverse).into_pyarray(py)))
    }

    /// float32[n, d] features: "adjacency", "path", "path-trunc" or "path-count".
    #[pyo3(signature = (kind="path", n_jobs=None))]
    fn encode<'py>(&self, py: Python<'py>, kind: &str, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let n_jobs = jobs(n_jobs)?;
        let kind = Encoding::from_name(kind).map_err(CoreError::from)?;
        let sp = &self.space.space;
        let d = kind.dim(sp).map_err(CoreError::from)?;
        let n = self.cells.len();
        let cells = &self.cells;
        let feats = py.detach(|| encode_batch(kind, sp, cells, n_jobs)).map_err(CoreError::from)?;
        Ok(Array2::from_shape_vec((n, d), feats).expect("shape").into_pyarray(py))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyCellBatch>() {
            Ok(o) => {
                let o = o.get();
                o.space.space == self.space.space && o.cells == self.cells
            }
            Err(_) => false,
        }
    }

    fn __repr__(&self) -> String {
        format!("CellBatch(n={}, space={})", self.cells.len(), crate::space::space_repr(&self.space.space))
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

fn describe_array(x: &Bound<'_, PyAny>) -> String {
    let dtype = x.getattr("dtype").and_then(|d| d.str().map(|s| s.to_string())).unwrap_or_else(|_| x.get_type().name().map(|n| n.to_string()).unwrap_or_default());
    let shape = x.getattr("shape").and_then(|s| s.str().map(|s| s.to_string())).unwrap_or_else(|_| "no shape".into());
    format!("dtype {dtype} with shape {shape}")
}
