//! `SearchSpace`: the space's limits, and the operations over a space (enumeration, index,
//! sampling, mutation, neighbourhoods).

use crate::cells::PyCellBatch;
use crate::convert::{int_list, jobs, seed_from};
use crate::errors::{CoreError, CoreResult};
use nasfast_core::enumerate::{enumerate, is_enumerable, Enumeration};
use nasfast_core::mutate::{mutate, neighbours, Preset};
use nasfast_core::par::map_range;
use nasfast_core::sample::{distinct, estimate_count, orbit_draw, rejection_draw, sample_indices};
use nasfast_core::encode::Encoding;
use nasfast_core::{canonical, Cell, SearchSpace, SpaceError};
use numpy::ndarray::Array1;
use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::{Arc, OnceLock};

/// A space and its lazily computed enumeration, shared by the space object and its batches.
pub struct SpaceData {
    pub space: SearchSpace,
    enumeration: OnceLock<Arc<Enumeration>>,
    enumerable: OnceLock<bool>,
}

impl SpaceData {
    pub fn new(space: SearchSpace) -> Arc<SpaceData> {
        Arc::new(SpaceData { space, enumeration: OnceLock::new(), enumerable: OnceLock::new() })
    }

    fn enumerable(&self) -> bool {
        *self.enumerable.get_or_init(|| is_enumerable(&self.space))
    }

    /// The enumeration, computed on first use (without the GIL).
    pub fn enumeration(&self, py: Python<'_>, n_jobs: Option<usize>) -> CoreResult<Arc<Enumeration>> {
        if let Some(e) = self.enumeration.get() {
            return Ok(e.clone());
        }
        let e = Arc::new(py.detach(|| enumerate(&self.space, n_jobs))?);
        Ok(self.enumeration.get_or_init(|| e).clone())
    }
}

pub fn space_repr(s: &SearchSpace) -> String {
    format!("SearchSpace(max_vertices={}, max_edges={}, ops={:?})", s.max_vertices(), s.max_edges(), s.ops())
}

/// A cell space: at most `max_vertices` vertices and `max_edges` edges after pruning; vertex 0
/// is the input, the last vertex the output, every other vertex carries one of `ops`.
#[pyclass(name = "SearchSpace", module = "nasfast", frozen)]
#[derive(Clone)]
pub struct PySearchSpace {
    pub data: Arc<SpaceData>,
}

impl PySearchSpace {
    fn batch(&self, cells: Vec<Cell>) -> PyCellBatch {
        PyCellBatch::new(self.data.clone(), cells)
    }
}

#[pymethods]
impl PySearchSpace {
    #[new]
    fn new(max_vertices: usize, max_edges: usize, ops: Vec<String>) -> PyResult<Self> {
        let mut seen = std::collections::HashSet::new();
        for o in &ops {
            if o == "input" || o == "output" || !seen.insert(o.as_str()) {
                return Err(PyValueError::new_err(format!("op name {o:?} is reserved or repeated")));
            }
        }
        let space = SearchSpace::new(max_vertices, max_edges, ops).map_err(CoreError::from)?;
        Ok(PySearchSpace { data: SpaceData::new(space) })
    }

    /// The NAS-Bench-101 space: 7 vertices, 9 edges, ops conv3x3-bn-relu, conv1x1-bn-relu,
    /// maxpool3x3 (codes 0, 1, 2).
    #[staticmethod]
    fn nb101() -> Self {
        PySearchSpace { data: SpaceData::new(SearchSpace::nb101()) }
    }

    #[getter]
    fn max_vertices(&self) -> usize {
        self.data.space.max_vertices()
    }

    #[getter]
    fn max_edges(&self) -> usize {
        self.data.space.max_edges()
    }

    #[getter]
    fn ops(&self) -> Vec<String> {
        self.data.space.ops().to_vec()
    }

    #[getter]
    fn num_ops(&self) -> usize {
        self.data.space.num_ops()
    }

    /// The code of an op name.
    fn op_code(&self, name: &str) -> PyResult<i64> {
        self.data.space.op_code(name).map(|c| c as i64).ok_or_else(|| {
            PyValueError::new_err(format!("unknown op {name:?}: expected 'input', 'output' or one of {:?}", self.data.space.ops()))
        })
    }

    /// Whether `enumerate()` accepts this space (at most MAX_LABELLED_CELLS labelled cells).
    fn is_enumerable(&self) -> bool {
        self.data.enumerable()
    }

    /// Every unique valid cell, in canonical form, sorted by (vertices, fingerprint). Computed
    /// once per space object, then shared.
    #[pyo3(signature = (n_jobs=None))]
    fn enumerate(&self, py: Python<'_>, n_jobs: Option<i64>) -> PyResult<PyCellBatch> {
        let e = self.data.enumeration(py, jobs(n_jobs)?)?;
        Ok(PyCellBatch { space: self.data.clone(), cells: e.cells.clone() })
    }

    /// Number of unique cells: exact (by enumeration) when enumerable, otherwise the rounded
    /// Monte-Carlo estimate of `estimate_count()` with 1,000,000 samples and seed 0.
    #[pyo3(signature = (n_jobs=None))]
    fn count(&self, py: Python<'_>, n_jobs: Option<i64>) -> PyResult<u64> {
        let n_jobs = jobs(n_jobs)?;
        if self.data.enumerable() {
            return Ok(self.data.enumeration(py, n_jobs)?.cells.len() as u64);
        }
        let sp = &self.data.space;
        let (est, _) = py.detach(|| estimate_count(sp, 1_000_000, 0, n_jobs));
        Ok(est.round() as u64)
    }

    /// int64 array: entry v is the number of unique cells with exactly v vertices.
    #[pyo3(signature = (n_jobs=None))]
    fn counts_by_vertices<'py>(&self, py: Python<'py>, n_jobs: Option<i64>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let e = self.data.enumeration(py, jobs(n_jobs)?)?;
        Ok(Array1::from_iter(e.counts.iter().map(|&c| c as i64)).into_pyarray(py))
    }

    /// Monte-Carlo estimate of the number of unique cells and its standard error (orbit-weighted
    /// proposals; exact in expectation). `random_state=None` means seed 0, so that the estimate
    /// is reproducible.
    #[pyo3(signature = (n_samples=100_000, random_state=None, n_jobs=None))]
    fn estimate_count(&self, py: Python<'_>, n_samples: usize, random_state: Option<&Bound<'_, PyAny>>, n_jobs: Option<i64>) -> PyResult<(f64, f64)> {
        if n_samples < 2 {
            return Err(PyValueError::new_err(format!("n_samples = {n_samples}: at least 2 are needed")));
        }
        let seed = match random_state {
            None => 0,
            Some(r) => seed_from(Some(r))?,
        };
        let n_jobs = jobs(n_jobs)?;
        let sp = &self.data.space;
        Ok(py.detach(|| estimate_count(sp, n_samples, seed, n_jobs)))
    }

    /// int64 positions of the cells in `enumerate()`; -1 for a cell that is not in the space.
    #[pyo3(signature = (cells, n_jobs=None))]
    fn index_of<'py>(&self, py: Python<'py>, cells: PyRef<'_, PyCellBatch>, n_jobs: Option<i64>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let n_jobs = jobs(n_jobs)?;
        let e = self.data.enumeration(py, n_jobs)?;
        let cs = cells.cells.clone();
        let idx = py.detach(|| map_range(cs.len(), n_jobs, |i| e.index_of_canonical(&canonical(&cs[i])).map_or(-1, |x| x as i64)));
        Ok(Array1::from_vec(idx).into_pyarray(py))
    }

    /// The cells at the given positions of `enumerate()` (IndexError when out of range).
    fn cell_at(&self, py: Python<'_>, indices: &Bound<'_, PyAny>) -> PyResult<PyCellBatch> {
        let e = self.data.enumeration(py, None)?;
        let np = py.import("numpy")?;
        let arr = np.call_method1("asarray", (indices,))?;
        let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
        if !["i", "u"].contains(&kind.as_str()) && arr.len().unwrap_or(1) != 0 {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!("indices must be integers, got {}", indices.repr()?)));
        }
        let raw = int_list(&arr)?;
        let count = e.cells.len() as u64;
        let cells = raw
            .into_iter()
            .map(|i| {
                if i < 0 || i as u64 >= count {
                    Err(CoreError::from(SpaceError::IndexOutOfRange { index: i, count }))
                } else {
                    Ok(e.cells[i as usize])
                }
            })
            .collect::<CoreResult<Vec<_>>>()?;
        Ok(self.batch(cells))
    }

    /// `n` random cells. `method="uniform"`: uniform over unique cells (by position in the
    /// enumeration when the space is enumerable, else by orbit-weighted rejection);
    /// `"orbit"`: always orbit-weighted rejection; `"rejection"`: the conventional sampler.
    /// `replace=False` returns distinct (non-isomorphic) cells.
    #[pyo3(signature = (n, random_state=None, method="uniform", replace=true, n_jobs=None))]
    fn sample(
        &self,
        py: Python<'_>,
        n: usize,
        random_state: Option<&Bound<'_, PyAny>>,
        method: &str,
        replace: bool,
        n_jobs: Option<i64>,
    ) -> PyResult<PyCellBatch> {
        let seed = seed_from(random_state)?;
        let n_jobs = jobs(n_jobs)?;
        let sp = &self.data.space;
        let cells = match method {
            "uniform" if self.data.enumerable() => {
                let e = self.data.enumeration(py, n_jobs)?;
                let idx = py.detach(|| sample_indices(e.cells.len() as u64, n, seed, replace, n_jobs)).map_err(CoreError::from)?;
                idx.into_iter().map(|i| e.cells[i as usize]).collect()
            }
            "uniform" | "orbit" => self.draw_cells(py, n, replace, n_jobs, orbit_draw(sp, seed))?,
            "rejection" => self.draw_cells(py, n, replace, n_jobs, rejection_draw(sp, seed))?,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown sampling method {other:?}: expected 'uniform', 'orbit' or 'rejection'"
                )))
            }
        };
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
        n_jobs: Option<i64>,
    ) -> PyResult<PyCellBatch> {
        let seed = seed_from(random_state)?;
        let n_jobs = jobs(n_jobs)?;
        let preset = Preset::from_name(preset).map_err(CoreError::from)?;
        let sp = &self.data.space;
        let parents = self.checked(&cells)?;
        let children = py.detach(|| mutate(&parents, sp, preset, non_isomorphic, seed, n_jobs)).map_err(CoreError::from)?;
        Ok(self.batch(children))
    }

    /// Every cell within `radius` edits of each cell: one batch of all neighbours (canonical
    /// forms) and int64 offsets, parent i owning rows `offsets[i]:offsets[i + 1]`.
    #[pyo3(signature = (cells, radius=1, n_jobs=None))]
    fn neighbours<'py>(
        &self,
        py: Python<'py>,
        cells: PyRef<'_, PyCellBatch>,
        radius: usize,
        n_jobs: Option<i64>,
    ) -> PyResult<(PyCellBatch, Bound<'py, PyArray1<i64>>)> {
        if radius == 0 {
            return Err(PyValueError::new_err("radius = 0: must be at least 1"));
        }
        let n_jobs = jobs(n_jobs)?;
        let sp = &self.data.space;
        let parents = self.checked(&cells)?;
        let per: Vec<Vec<Cell>> = py.detach(|| map_range(parents.len(), n_jobs, |i| neighbours(&parents[i], sp, radius)));
        let mut offsets = Vec::with_capacity(per.len() + 1);
        offsets.push(0i64);
        let mut all = Vec::with_capacity(per.iter().map(|v| v.len()).sum());
        for v in per {
            all.extend_from_slice(&v);
            offsets.push(all.len() as i64);
        }
        Ok((self.batch(all), Array1::from_vec(offsets).into_pyarray(py)))
    }

    /// Features per cell of an encoding in this space.
    fn encoding_dim(&self, kind: &str) -> PyResult<usize> {
        let k = Encoding::from_name(kind).map_err(CoreError::from)?;
        Ok(k.dim(&self.data.space).map_err(CoreError::from)?)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PySearchSpace>() {
            Ok(o) => o.get().data.space == self.data.space,
            Err(_) => false,
        }
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.data.space.hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        space_repr(&self.data.space)
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let s = &slf.get().data.space;
        let args = (s.max_vertices(), s.max_edges(), s.ops().to_vec()).into_pyobject(py)?;
        Ok((slf.get_type().into_any(), args))
    }
}

impl PySearchSpace {
    /// `n` cells from a per-item sampler: item i is `draw(i)`; without replacement, the first
    /// `n` distinct cells in item order (refused when the space has fewer than `n`).
    fn draw_cells<F>(&self, py: Python<'_>, n: usize, replace: bool, n_jobs: Option<usize>, draw: F) -> PyResult<Vec<Cell>>
    where
        F: Fn(u64) -> Cell + Sync + Send,
    {
        if replace {
            return Ok(py.detach(|| map_range(n, n_jobs, |i| draw(i as u64))));
        }
        let max = if self.data.enumerable() { Some(self.data.enumeration(py, n_jobs)?.cells.len() as u64) } else { None };
        Ok(py.detach(|| distinct(n, max, n_jobs, draw)).map_err(CoreError::from)?)
    }

    /// The cells of a batch, checked against this space (a batch of another space may hold
    /// cells this space does not allow).
    fn checked(&self, cells: &PyCellBatch) -> PyResult<Arc<Vec<Cell>>> {
        if cells.space.space == self.data.space {
            return Ok(cells.cells.clone());
        }
        for (i, c) in cells.cells.iter().enumerate() {
            c.check_limits(&self.data.space).map_err(|e| CoreError::from(e.at_row(i)))?;
        }
        Ok(cells.cells.clone())
    }
}
