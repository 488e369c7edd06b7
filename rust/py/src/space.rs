//! `SearchSpace`: the space's limits, and the operations over a space (enumeration, index,
//! sampling, mutation, neighbourhoods). Long calls run through `run_interruptible`.

use crate::cells::PyCellBatch;
use crate::convert::{as_array, int_values, jobs, seed_from, short_repr, usize_arg};
use crate::errors::{run_interruptible, CoreError};
use nasfast_core::encode::Encoding;
use nasfast_core::mutate::{mutate, neighbours_batch, Preset};
use nasfast_core::sample::{estimate_count, sample, Method};
use nasfast_core::{Cell, SearchSpace};
use numpy::ndarray::Array1;
use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::Arc;

pub fn space_repr(s: &SearchSpace) -> String {
    format!("SearchSpace(max_vertices={}, max_edges={}, ops={:?})", s.max_vertices(), s.max_edges(), s.ops())
}

/// A cell space: at most `max_vertices` vertices and `max_edges` edges after pruning; vertex 0
/// is the input, the last vertex the output, every other vertex carries one of `ops`.
#[pyclass(name = "SearchSpace", module = "nasfast", frozen)]
#[derive(Clone)]
pub struct PySearchSpace {
    pub space: SearchSpace,
}

impl PySearchSpace {
    fn batch(&self, cells: Vec<Cell>) -> PyCellBatch {
        PyCellBatch::new(self.space.clone(), cells)
    }

    /// The cells of a batch, checked against this space (a batch of another space may hold
    /// cells this space does not allow).
    fn checked(&self, cells: &PyCellBatch) -> PyResult<Arc<Vec<Cell>>> {
        if cells.space != self.space {
            self.space.check_cells(&cells.cells).map_err(CoreError::from)?;
        }
        Ok(cells.cells.clone())
    }
}

#[pymethods]
impl PySearchSpace {
    #[new]
    fn new(max_vertices: &Bound<'_, PyAny>, max_edges: &Bound<'_, PyAny>, ops: Vec<String>) -> PyResult<Self> {
        let max_vertices = usize_arg(max_vertices, "max_vertices")?;
        let max_edges = usize_arg(max_edges, "max_edges")?;
        let space = SearchSpace::new(max_vertices, max_edges, ops).map_err(CoreError::from)?;
        Ok(PySearchSpace { space })
    }

    /// The NAS-Bench-101 space: 7 vertices, 9 edges, ops conv3x3-bn-relu, conv1x1-bn-relu,
    /// maxpool3x3 (codes 0, 1, 2).
    #[staticmethod]
    fn nb101() -> Self {
        PySearchSpace { space: SearchSpace::nb101() }
    }

    #[getter]
    fn max_vertices(&self) -> usize {
        self.space.max_vertices()
    }

    #[getter]
    fn max_edges(&self) -> usize {
        self.space.max_edges()
    }

    #[getter]
    fn ops(&self) -> Vec<String> {
        self.space.ops().to_vec()
    }

    #[getter]
    fn num_ops(&self) -> usize {
        self.space.num_ops()
    }

    /// The code of an op name.
    fn op_code(&self, name: &str) -> PyResult<i64> {
        self.space.op_code(name).map(|c| c as i64).ok_or_else(|| {
            PyValueError::new_err(format!("unknown op {name:?}: expected 'input', 'output' or one of {:?}", self.space.ops()))
        })
    }

    /// Whether `enumerate()` accepts this space (at most MAX_LABELLED_CELLS labelled cells).
    fn is_enumerable(&self, py: Python<'_>) -> PyResult<bool> {
        run_interruptible(py, |cancel| self.space.is_enumerable(cancel))
    }

    /// Every unique valid cell, in canonical form, sorted by (vertices, fingerprint). Computed
    /// once per space object, then shared.
    #[pyo3(signature = (n_jobs=None))]
    fn enumerate(&self, py: Python<'_>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<PyCellBatch> {
        let n_jobs = jobs(n_jobs)?;
        let e = run_interruptible(py, |cancel| self.space.enumeration(n_jobs, cancel))?;
        Ok(PyCellBatch { space: self.space.clone(), cells: e.cells.clone() })
    }

    /// Number of unique cells: exact (by enumeration) when enumerable, otherwise the rounded
    /// Monte-Carlo estimate of `estimate_count()` with 1,000,000 samples and seed 0.
    #[pyo3(signature = (n_jobs=None))]
    fn count(&self, py: Python<'_>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
        let n_jobs = jobs(n_jobs)?;
        run_interruptible(py, |cancel| self.space.count(n_jobs, cancel))
    }

    /// int64 array: entry v is the number of unique cells with exactly v vertices.
    #[pyo3(signature = (n_jobs=None))]
    fn counts_by_vertices<'py>(&self, py: Python<'py>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let n_jobs = jobs(n_jobs)?;
        let e = run_interruptible(py, |cancel| self.space.enumeration(n_jobs, cancel))?;
        Ok(Array1::from_iter(e.counts.iter().map(|&c| c as i64)).into_pyarray(py))
    }

    /// Monte-Carlo estimate of the number of unique cells and its standard error (orbit-weighted
    /// proposals; exact in expectation). `random_state=None` means seed 0, so that the estimate
    /// is reproducible.
    #[pyo3(
        signature = (n_samples=None, random_state=None, n_jobs=None),
        text_signature = "($self, n_samples=100000, random_state=None, n_jobs=None)"
    )]
    fn estimate_count(
        &self,
        py: Python<'_>,
        n_samples: Option<&Bound<'_, PyAny>>,
        random_state: Option<&Bound<'_, PyAny>>,
        n_jobs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(f64, f64)> {
        let n_samples = match n_samples {
            Some(x) if !x.is_none() => usize_arg(x, "n_samples")?,
            _ => 100_000,
        };
        let seed = match random_state {
            None => 0,
            Some(r) => seed_from(Some(r))?,
        };
        let n_jobs = jobs(n_jobs)?;
        run_interruptible(py, |cancel| estimate_count(&self.space.orbit_sampler(), n_samples, seed, n_jobs, cancel))
    }

    /// int64 positions of the cells in `enumerate()`; -1 for a cell that is not in the space.
    #[pyo3(signature = (cells, n_jobs=None))]
    fn index_of<'py>(&self, py: Python<'py>, cells: PyRef<'_, PyCellBatch>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let n_jobs = jobs(n_jobs)?;
        let cs = cells.cells.clone();
        let idx = run_interruptible(py, |cancel| Ok(self.space.enumeration(n_jobs, cancel)?.index_of_cells(&cs, n_jobs)))?;
        Ok(Array1::from_vec(idx).into_pyarray(py))
    }

    /// The cells at the given positions of `enumerate()` (IndexError when out of range).
    fn cell_at(&self, py: Python<'_>, indices: &Bound<'_, PyAny>) -> PyResult<PyCellBatch> {
        let arr = as_array(indices, "indices")?;
        let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
        let size: usize = arr.getattr("size")?.extract()?;
        if kind == "b" || !(["i", "u", "O"].contains(&kind.as_str()) || size == 0) {
            return Err(PyTypeError::new_err(format!("indices must be integers, got {}", short_repr(indices))));
        }
        let e = run_interruptible(py, |cancel| self.space.enumeration(None, cancel))?;
        let count = e.cells.len();
        let raw = if size == 0 {
            Vec::new()
        } else {
            int_values(&arr, "indices", |_, text| PyIndexError::new_err(format!("index {text} is out of range for a space of {count} cells")))?
        };
        Ok(self.batch(e.cells_at(&raw).map_err(CoreError::from)?))
    }

    /// `n` random cells. `method="uniform"`: uniform over unique cells (by position in the
    /// enumeration when the space is enumerable, else by orbit-weighted rejection);
    /// `"orbit"`: always orbit-weighted rejection; `"rejection"`: the conventional sampler.
    /// `replace=False` returns distinct (non-isomorphic) cells.
    #[pyo3(signature = (n, random_state=None, method="uniform", replace=true, n_jobs=None))]
    fn sample(
        &self,
        py: Python<'_>,
        n: &Bound<'_, PyAny>,
        random_state: Option<&Bound<'_, PyAny>>,
        method: &str,
        replace: bool,
        n_jobs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyCellBatch> {
        let n = usize_arg(n, "n")?;
        let seed = seed_from(random_state)?;
        let n_jobs = jobs(n_jobs)?;
        let method = Method::from_name(method).map_err(CoreError::from)?;
        let cells = run_interruptible(py, |cancel| sample(&self.space, n, method, replace, seed, n_jobs, cancel))?;
        Ok(self.batch(cells))
    }

    /// One mutated child per cell, with the operators of `preset`.
    #[pyo3(signature = (cells, random_state=None, preset="nb101", non_isomorphic=false, n_jobs=None))]
    fn mutate(
        &self,
        py: Python<'_>,
        cells: PyRef<'_, PyCellBatch>,
        random_state: Option<&Bound<'_, PyAny>>,
        preset: &str,
        non_isomorphic: bool,
        n_jobs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyCellBatch> {
        let seed = seed_from(random_state)?;
        let n_jobs = jobs(n_jobs)?;
        let preset = Preset::from_name(preset).map_err(CoreError::from)?;
        let parents = self.checked(&cells)?;
        let children = run_interruptible(py, |cancel| mutate(&parents, &self.space, preset, non_isomorphic, seed, n_jobs, cancel))?;
        Ok(self.batch(children))
    }

    /// Every cell within `radius` edits of each cell: one batch of all neighbours (canonical
    /// forms) and int64 offsets, parent i owning rows `offsets[i]:offsets[i + 1]`.
    #[pyo3(
        signature = (cells, radius=None, n_jobs=None),
        text_signature = "($self, cells, radius=1, n_jobs=None)"
    )]
    fn neighbours<'py>(
        &self,
        py: Python<'py>,
        cells: PyRef<'_, PyCellBatch>,
        radius: Option<&Bound<'_, PyAny>>,
        n_jobs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(PyCellBatch, Bound<'py, PyArray1<i64>>)> {
        let radius = match radius {
            Some(r) if !r.is_none() => usize_arg(r, "radius")?,
            _ => 1,
        };
        let n_jobs = jobs(n_jobs)?;
        let parents = self.checked(&cells)?;
        let (all, offsets) = run_interruptible(py, |cancel| neighbours_batch(&parents, &self.space, radius, n_jobs, cancel))?;
        Ok((self.batch(all), Array1::from_vec(offsets).into_pyarray(py)))
    }

    /// Features per cell of an encoding in this space.
    fn encoding_dim(&self, kind: &str) -> PyResult<usize> {
        let k = Encoding::from_name(kind).map_err(CoreError::from)?;
        Ok(k.dim(&self.space).map_err(CoreError::from)?)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PySearchSpace>() {
            Ok(o) => o.get().space == self.space,
            Err(_) => false,
        }
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.space.hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        space_repr(&self.space)
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let s = &slf.get().space;
        let args = (s.max_vertices(), s.max_edges(), s.ops().to_vec()).into_pyobject(py)?;
        Ok((slf.get_type().into_any(), args))
    }
}
