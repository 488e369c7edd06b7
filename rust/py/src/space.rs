//! `SearchSpace`: the space's limits, and the operations over a space (enumeration, index,
//! sampling, mutation, neighbourhoods).

use crate::cells::PyCellBatch;
use crate::convert::{as_array, int_values, jobs, seed_from, usize_arg};
use crate::errors::{run_interruptible, CoreError};
use nasfast_core::encode::Encoding;
use nasfast_core::enumerate::{enumerate, is_enumerable, Enumeration};
use nasfast_core::mutate::{mutate, neighbours_batch, Preset};
use nasfast_core::par::map_range;
use nasfast_core::sample::{distinct, draw_many, estimate_count, orbit_draw, rejection_draw, sample_indices, OrbitSampler};
use nasfast_core::{canonical, Cell, SearchSpace};
use numpy::ndarray::Array1;
use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::{Arc, OnceLock};

/// A space and its lazily computed enumeration, shared by the space object and its batches.
pub struct SpaceData {
    pub space: SearchSpace,
    enumeration: OnceLock<Arc<Enumeration>>,
    enumerable: OnceLock<bool>,
    orbit: OnceLock<OrbitSampler>,
}

impl SpaceData {
    pub fn new(space: SearchSpace) -> Arc<SpaceData> {
        Arc::new(SpaceData { space, enumeration: OnceLock::new(), enumerable: OnceLock::new(), orbit: OnceLock::new() })
    }

    /// The tables of the orbit sampler, built on first use (without the GIL).
    fn orbit(&self, py: Python<'_>) -> &OrbitSampler {
        py.detach(|| self.orbit.get_or_init(|| OrbitSampler::new(&self.space)))
    }

    /// Whether the space is enumerable, decided on first use (an interrupted decision is not
    /// kept).
    fn enumerable(&self, py: Python<'_>) -> PyResult<bool> {
        if let Some(&b) = self.enumerable.get() {
            return Ok(b);
        }
        let b = run_interruptible(py, |cancel| is_enumerable(&self.space, cancel))?;
        Ok(*self.enumerable.get_or_init(|| b))
    }

    /// The enumeration, computed on first use (without the GIL).
    pub fn enumeration(&self, py: Python<'_>, n_jobs: Option<usize>) -> PyResult<Arc<Enumeration>> {
        if let Some(e) = self.enumeration.get() {
            return Ok(e.clone());
        }
        let e = Arc::new(run_interruptible(py, |cancel| enumerate(&self.space, n_jobs, cancel))?);
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
    fn new(max_vertices: &Bound<'_, PyAny>, max_edges: &Bound<'_, PyAny>, ops: Vec<String>) -> PyResult<Self> {
        let max_vertices = usize_arg(max_vertices, "max_vertices")?;
        let max_edges = usize_arg(max_edges, "max_edges")?;
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
    fn is_enumerable(&self, py: Python<'_>) -> PyResult<bool> {
        self.data.enumerable(py)
    }

    /// Every unique valid cell, in canonical form, sorted by (vertices, fingerprint). Computed
    /// once per space object, then shared.
    #[pyo3(signature = (n_jobs=None))]
    fn enumerate(&self, py: Python<'_>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<PyCellBatch> {
        let e = self.data.enumeration(py, jobs(n_jobs)?)?;
        Ok(PyCellBatch { space: self.data.clone(), cells: e.cells.clone() })
    }

    /// Number of unique cells: exact (by enumeration) when enumerable, otherwise the rounded
    /// Monte-Carlo estimate of `estimate_count()` with 1,000,000 samples and seed 0.
    #[pyo3(signature = (n_jobs=None))]
    fn count(&self, py: Python<'_>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
        let n_jobs = jobs(n_jobs)?;
        if self.data.enumerable(py)? {
            return Ok(self.data.enumeration(py, n_jobs)?.cells.len() as u64);
        }
        let orbit = self.data.orbit(py);
        let (est, _) = run_interruptible(py, |cancel| estimate_count(orbit, 1_000_000, 0, n_jobs, cancel))?;
        Ok(est.round() as u64)
    }

    /// int64 array: entry v is the number of unique cells with exactly v vertices.
    #[pyo3(signature = (n_jobs=None))]
    fn counts_by_vertices<'py>(&self, py: Python<'py>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let e = self.data.enumeration(py, jobs(n_jobs)?)?;
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
        if n_samples < 2 {
            return Err(PyValueError::new_err(format!("n_samples = {n_samples}: at least 2 are needed")));
        }
        let seed = match random_state {
            None => 0,
            Some(r) => seed_from(Some(r))?,
        };
        let n_jobs = jobs(n_jobs)?;
        let orbit = self.data.orbit(py);
        run_interruptible(py, |cancel| estimate_count(orbit, n_samples, seed, n_jobs, cancel))
    }

    /// int64 positions of the cells in `enumerate()`; -1 for a cell that is not in the space.
    #[pyo3(signature = (cells, n_jobs=None))]
    fn index_of<'py>(&self, py: Python<'py>, cells: PyRef<'_, PyCellBatch>, n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let n_jobs = jobs(n_jobs)?;
        let e = self.data.enumeration(py, n_jobs)?;
        let cs = cells.cells.clone();
        let idx = py.detach(|| map_range(cs.len(), n_jobs, |i| e.index_of_canonical(&canonical(&cs[i])).map_or(-1, |x| x as i64)));
        Ok(Array1::from_vec(idx).into_pyarray(py))
    }

    /// The cells at the given positions of `enumerate()` (IndexError when out of range).
    fn cell_at(&self, py: Python<'_>, indices: &Bound<'_, PyAny>) -> PyResult<PyCellBatch> {
        let e = self.data.enumeration(py, None)?;
        let count = e.cells.len() as u64;
        let out_of_range = |text: String| PyIndexError::new_err(format!("index {text} is out of range for a space of {count} cells"));
        let arr = as_array(indices, "indices")?;
        let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
        let size: usize = arr.getattr("size")?.extract()?;
        if kind == "b" || !(["i", "u", "O"].contains(&kind.as_str()) || size == 0) {
            return Err(PyTypeError::new_err(format!("indices must be integers, got {}", crate::convert::short_repr(indices))));
        }
        let raw = if size == 0 { Vec::new() } else { int_values(&arr, "indices", |_, text| out_of_range(text))? };
        let cells = raw
            .into_iter()
            .map(|i| {
                if i < 0 || i >= count as i128 {
                    Err(out_of_range(i.to_string()))
                } else {
                    Ok(e.cells[i as usize])
                }
            })
            .collect::<PyResult<Vec<_>>>()?;
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
        n: &Bound<'_, PyAny>,
        random_state: Option<&Bound<'_, PyAny>>,
        method: &str,
        replace: bool,
        n_jobs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyCellBatch> {
        let n = usize_arg(n, "n")?;
        let seed = seed_from(random_state)?;
        let n_jobs = jobs(n_jobs)?;
        let sp = &self.data.space;
        let orbit = match method {
            "uniform" if self.data.enumerable(py)? => {
                let e = self.data.enumeration(py, n_jobs)?;
                let cells = run_interruptible(py, |_| {
                    let idx = sample_indices(e.cells.len() as u64, n, seed, replace, n_jobs)?;
                    let mut cells = nasfast_core::limits::vec_with_capacity(idx.len(), "the sampled cells")?;
                    cells.extend(idx.into_iter().map(|i| e.cells[i as usize]));
                    Ok(cells)
                })?;
                return Ok(self.batch(cells));
            }
            "uniform" | "orbit" => true,
            "rejection" => false,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown sampling method {other:?}: expected 'uniform', 'orbit' or 'rejection'"
                )))
            }
        };
        let max = if !replace && self.data.enumerable(py)? { Some(self.data.enumeration(py, n_jobs)?.cells.len() as u64) } else { None };
        let sampler = if orbit { Some(self.data.orbit(py)) } else { None };
        let cells = run_interruptible(py, |cancel| {
            match (sampler, replace) {
                (Some(s), true) => draw_many(n, n_jobs, orbit_draw(s, seed, cancel)),
                (Some(s), false) => distinct(n, max, n_jobs, cancel, orbit_draw(s, seed, cancel)),
                (None, true) => draw_many(n, n_jobs, rejection_draw(sp, seed, cancel)),
                (None, false) => distinct(n, max, n_jobs, cancel, rejection_draw(sp, seed, cancel)),
            }
        })?;
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
        let sp = &self.data.space;
        let parents = self.checked(&cells)?;
        let children = run_interruptible(py, |cancel| mutate(&parents, sp, preset, non_isomorphic, seed, n_jobs, cancel))?;
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
        let sp = &self.data.space;
        let parents = self.checked(&cells)?;
        let (all, offsets) = run_interruptible(py, |cancel| neighbours_batch(&parents, sp, radius, n_jobs, cancel))?;
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
