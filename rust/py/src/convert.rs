//! Argument conversion shared by the classes: ints of any size, `n_jobs`, seeds from
//! `random_state`, integer arrays and op names. Every refusal names the value as the user gave
//! it (a Python int is printed exactly, never wrapped or truncated).

use nasfast_core::Label;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use numpy::PyReadonlyArrayDyn;
use pyo3::types::{PyBool, PyBytes, PyInt, PyList, PyString, PyTuple};
use std::hash::{BuildHasher, Hasher};

/// `repr(x)`, shortened to about 200 characters.
pub fn short_repr(x: &Bound<'_, PyAny>) -> String {
    let r = x.repr().map(|r| r.to_string()).unwrap_or_else(|_| "<unprintable>".to_string());
    if r.chars().count() > 200 {
        format!("{}...", r.chars().take(200).collect::<String>())
    } else {
        r
    }
}

fn type_name(x: &Bound<'_, PyAny>) -> String {
    x.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".to_string())
}

/// Whether `x` is an int for argument purposes: a Python int (not a bool), a numpy integer or
/// a 0-d integer array.
fn is_int(x: &Bound<'_, PyAny>) -> bool {
    if x.is_instance_of::<PyBool>() {
        return false;
    }
    if x.is_instance_of::<PyInt>() {
        return true;
    }
    if x.is_instance_of::<PyList>() || x.is_instance_of::<PyTuple>() {
        return false;
    }
    if let Ok(dtype) = x.getattr("dtype") {
        let kind: String = dtype.getattr("kind").and_then(|k| k.extract()).unwrap_or_default();
        let ndim: usize = x.getattr("ndim").and_then(|n| n.extract()).unwrap_or(1);
        return (kind == "i" || kind == "u") && ndim == 0;
    }
    x.hasattr("__index__").unwrap_or(false)
}

/// The value of an int argument: `Ok(Some(v))` when it fits in 128 bits, `Ok(None)` when it is
/// an int too large for that, `TypeError` when it is not an int (bools included).
pub fn int_value(x: &Bound<'_, PyAny>, name: &str) -> PyResult<Option<i128>> {
    if !is_int(x) {
        return Err(PyTypeError::new_err(format!("{name} must be an int, got {} {}", type_name(x), short_repr(x))));
    }
    let index = x.call_method0("__index__")?;
    Ok(index.extract::<i128>().ok())
}

/// A non-negative int argument as u64 (the core checks its own limits); `ValueError` naming
/// the value when it is negative or does not fit in 64 bits.
pub fn uint_arg(x: &Bound<'_, PyAny>, name: &str) -> PyResult<u64> {
    match int_value(x, name)? {
        Some(v) if (0..=u64::MAX as i128).contains(&v) => Ok(v as u64),
        Some(v) if v < 0 => Err(PyValueError::new_err(format!("{name} = {v}: must be a non-negative int"))),
        _ => {
            let negative = x.lt(0i64).unwrap_or(false);
            let rule = if negative { "must be a non-negative int" } else { "too large (more than 2**64 - 1)" };
            Err(PyValueError::new_err(format!("{name} = {}: {rule}", short_repr(x))))
        }
    }
}

/// [`uint_arg`] as usize.
pub fn usize_arg(x: &Bound<'_, PyAny>, name: &str) -> PyResult<usize> {
    let v = uint_arg(x, name)?;
    usize::try_from(v).map_err(|_| PyValueError::new_err(format!("{name} = {v}: too large for this platform")))
}

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
    if rs.is_instance_of::<PyBool>() || rs.getattr("dtype").and_then(|d| d.getattr("kind")).is_ok_and(|k| k.eq("b").unwrap_or(false)) {
        return Err(PyTypeError::new_err(format!(
            "random_state must be None, an int, a numpy Generator or RandomState, got a bool ({})",
            short_repr(rs)
        )));
    }
    if is_int(rs) {
        return match int_value(rs, "random_state")? {
            Some(v) if (0..=u64::MAX as i128).contains(&v) => Ok(v as u64),
            _ => Err(PyValueError::new_err(format!(
                "random_state = {}: an int seed must be between 0 and 2**64 - 1",
                short_repr(rs)
            ))),
        };
    }
    if rs.hasattr("integers")? && rs.hasattr("bit_generator")? {
        // numpy.random.Generator
        return rs.call_method1("integers", (0u64, 1u64 << 63))?.call_method0("__index__")?.extract();
    }
    if rs.hasattr("randint")? && rs.hasattr("get_state")? {
        // numpy.random.RandomState: two 31-bit draws (portable bounds)
        let a: u64 = rs.call_method1("randint", (0i64, 1i64 << 31))?.call_method0("__index__")?.extract()?;
        let b: u64 = rs.call_method1("randint", (0i64, 1i64 << 31))?.call_method0("__index__")?.extract()?;
        return Ok(a << 31 | b);
    }
    Err(PyTypeError::new_err(format!(
        "random_state must be None, an int, a numpy Generator or RandomState, got {} {}",
        type_name(rs),
        short_repr(rs)
    )))
}

/// `n_jobs` as a thread count: `None` or -1 all cores, a positive int that many threads (the
/// core clips it to the number of cores, so any positive int is accepted).
pub fn jobs(n_jobs: Option<&Bound<'_, PyAny>>) -> PyResult<Option<usize>> {
    let Some(j) = n_jobs else { return Ok(None) };
    if j.is_none() {
        return Ok(None);
    }
    match int_value(j, "n_jobs")? {
        Some(-1) => Ok(None),
        Some(v) if v >= 1 => Ok(Some(usize::try_from(v).unwrap_or(usize::MAX))),
        None if j.gt(0i64)? => Ok(Some(usize::MAX)),
        _ => Err(PyValueError::new_err(format!("n_jobs = {}: must be None, -1 or a positive int", short_repr(j)))),
    }
}

/// The op labels of a cell as given: names (str) or codes (int); the core resolves the names.
pub fn labels(ops: &Bound<'_, PyAny>) -> PyResult<Vec<Label>> {
    if ops.is_instance_of::<PyString>() || ops.is_instance_of::<PyBytes>() {
        return Err(crate::errors::invalid(format!(
            "ops must be a sequence of op names or codes, not a single string: {}",
            short_repr(ops)
        )));
    }
    let mut out = Vec::new();
    for (v, item) in ops.try_iter()?.enumerate() {
        let item = item?;
        if let Ok(name) = item.extract::<String>() {
            out.push(Label::Name(name));
        } else if is_int(&item) {
            match int_value(&item, "op")?.and_then(|c| i64::try_from(c).ok()) {
                Some(code) => out.push(Label::Code(code)),
                None => return Err(crate::errors::invalid(format!("ops[{v}] = {} is not an op code", short_repr(&item)))),
            }
        } else {
            return Err(PyTypeError::new_err(format!(
                "ops[{v}] = {}: ops must be op names (str) or op codes (int)",
                short_repr(&item)
            )));
        }
    }
    Ok(out)
}

/// The values of an integer array (any integer dtype, or an object array of Python ints),
/// flattened in C order, exactly: an unsigned 64-bit value stays positive. `huge(flat index,
/// repr)` makes the error for an int that does not fit in 128 bits; a non-int item is a
/// `TypeError` naming it.
pub fn int_values(arr: &Bound<'_, PyAny>, what: &str, huge: impl Fn(usize, String) -> PyErr) -> PyResult<Vec<i128>> {
    let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
    match kind.as_str() {
        "b" | "i" => {
            let a = arr.call_method1("astype", ("int64",))?;
            let a: PyReadonlyArrayDyn<'_, i64> = a.extract()?;
            Ok(a.as_array().iter().map(|&x| x as i128).collect())
        }
        "u" => {
            let a = arr.call_method1("astype", ("uint64",))?;
            let a: PyReadonlyArrayDyn<'_, u64> = a.extract()?;
            Ok(a.as_array().iter().map(|&x| x as i128).collect())
        }
        "O" => {
            let flat = arr.call_method0("ravel")?.call_method0("tolist")?;
            let mut out = Vec::with_capacity(flat.len()?);
            for (k, item) in flat.try_iter()?.enumerate() {
                let item = item?;
                if !is_int(&item) {
                    return Err(PyTypeError::new_err(format!(
                        "{what} must hold integers, got {} {}",
                        type_name(&item),
                        short_repr(&item)
                    )));
                }
                match int_value(&item, what)? {
                    Some(v) => out.push(v),
                    None => return Err(huge(k, short_repr(&item))),
                }
            }
            Ok(out)
        }
        _ => Err(PyTypeError::new_err(format!(
            "{what} must hold integers, got dtype {}",
            arr.getattr("dtype")?.str()?
        ))),
    }
}

/// `numpy.asarray(x)`, with the error for a ragged nested sequence naming it.
pub fn as_array<'py>(x: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyAny>> {
    let np = x.py().import("numpy")?;
    np.call_method1("asarray", (x,)).map_err(|e| {
        if e.is_instance_of::<PyValueError>(x.py()) {
            crate::errors::invalid(format!("{what} is not a rectangular array ({e}): {}", short_repr(x)))
        } else {
            e
        }
    })
}
