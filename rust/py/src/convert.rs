//! Argument conversion shared by the classes: seeds from `random_state`, `n_jobs`, op names.

use nasfast_core::SearchSpace;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyString};
use std::hash::{BuildHasher, Hasher};

/// One 64-bit seed from a scikit-learn style `random_state`: `None` (fresh entropy), a
/// non-negative int, a `numpy.random.Generator` or a `numpy.random.RandomState` (both advanced
/// by one draw).
pub fn seed_from(random_state: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
    let Some(rs) = random_state else {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
        return Ok(h.finish());
    };
    if rs.is_none() {
        return seed_from(None);
    }
    if rs.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err("random_state must be None, an int, a numpy Generator or RandomState, got a bool"));
    }
    if rs.is_instance_of::<PyInt>() || rs.hasattr("__index__")? && !rs.hasattr("integers")? && !rs.hasattr("randint")? {
        let v: i128 = rs.call_method0("__index__")?.extract()?;
        if v < 0 || v > u64::MAX as i128 {
            return Err(PyValueError::new_err(format!("random_state = {v}: an int seed must be between 0 and 2**64 - 1")));
        }
        return Ok(v as u64);
    }
    if rs.hasattr("integers")? {
        // numpy.random.Generator
        return rs.call_method1("integers", (0u64, 1u64 << 63))?.call_method0("__index__")?.extract();
    }
    if rs.hasattr("randint")? {
        // numpy.random.RandomState: two 31-bit draws (portable bounds)
        let a: u64 = rs.call_method1("randint", (0i64, 1i64 << 31))?.call_method0("__index__")?.extract()?;
        let b: u64 = rs.call_method1("randint", (0i64, 1i64 << 31))?.call_method0("__index__")?.extract()?;
        return Ok(a << 31 | b);
    }
    Err(PyTypeError::new_err(format!(
        "random_state must be None, an int, a numpy Generator or RandomState, got {}",
        rs.get_type().name()?
    )))
}

/// `n_jobs` as a thread count: `None` all cores, a positive int that many threads, -1 all cores.
pub fn jobs(n_jobs: Option<i64>) -> PyResult<Option<usize>> {
    match n_jobs {
        None | Some(-1) => Ok(None),
        Some(j) if j >= 1 => Ok(Some(j as usize)),
        Some(j) => Err(PyValueError::new_err(format!("n_jobs = {j}: must be None, -1 or a positive int"))),
    }
}

/// Op codes from a sequence of names or ints, names resolved in `space`.
pub fn op_codes(ops: &Bound<'_, PyAny>, space: &SearchSpace) -> PyResult<Vec<i8>> {
    if ops.is_instance_of::<PyString>() {
        return Err(crate::errors::invalid("ops must be a sequence of op names or codes, not a single string"));
    }
    let mut codes = Vec::new();
    for (v, item) in ops.try_iter()?.enumerate() {
        let item = item?;
        if let Ok(name) = item.extract::<String>() {
            match space.op_code(&name) {
                Some(c) => codes.push(c),
                None => {
                    return Err(crate::errors::invalid(format!(
                        "ops[{v}] = {name:?} is not an op of the space: expected 'input', 'output' or one of {:?}",
                        space.ops()
                    )))
                }
            }
        } else if let Ok(code) = item.extract::<i64>() {
            if !(-3..=nasfast_core::MAX_OPS as i64).contains(&code) {
                return Err(crate::errors::invalid(format!("ops[{v}] = {code} is not an op code")));
            }
            codes.push(code as i8);
        } else {
            return Err(PyTypeError::new_err(format!(
                "ops[{v}] = {}: ops must be op names (str) or op codes (int)",
                item.repr()?
            )));
        }
    }
    Ok(codes)
}

/// The values of an integer (or boolean) numpy array, flattened, as i64.
pub fn int_list(arr: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    arr.call_method1("astype", ("int64",))?.call_method0("ravel")?.call_method0("tolist")?.extract()
}
