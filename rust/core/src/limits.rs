//! Request limits and fallible allocation.
//!
//! Every allocation whose size a caller chooses (cells to draw, proposals to average, rows to
//! encode, neighbours to collect) is sized before it is made: a request above a documented limit
//! is refused with [`SpaceError::RequestTooLarge`], and an allocation the system refuses is
//! reported as [`SpaceError::OutOfMemory`] with its size, instead of aborting the process.

use crate::error::SpaceError;

/// The largest number of cells (or Monte-Carlo proposals) one call may draw or return: 2^30,
/// about 10^9 cells (54 GB of cells).
pub const MAX_BATCH_CELLS: usize = 1 << 30;

/// The largest number of cells one neighbourhood call may return for all its parents together:
/// 2^20 = 1,048,576 cells (about 50 MB of cells, about 120 MB while they are de-duplicated).
/// The whole NAS-Bench-101 space (423,624 cells) is within reach of any of its cells.
pub const MAX_NEIGHBOURS: usize = 1 << 20;

/// Refuses `requested > limit`, naming the request.
pub fn check_request(what: &'static str, requested: usize, limit: usize, hint: &'static str) -> Result<(), SpaceError> {
    if requested > limit {
        return Err(SpaceError::RequestTooLarge { what, requested: requested as u128, limit: limit as u128, hint });
    }
    Ok(())
}

/// An empty vector with room for `n` items, or [`SpaceError::OutOfMemory`] naming `what`.
pub fn vec_with_capacity<T>(n: usize, what: &'static str) -> Result<Vec<T>, SpaceError> {
    let mut v = Vec::new();
    reserve(&mut v, n, what)?;
    Ok(v)
}

/// `n` copies of `value`, or [`SpaceError::OutOfMemory`] naming `what`.
pub fn vec_filled<T: Clone>(n: usize, value: T, what: &'static str) -> Result<Vec<T>, SpaceError> {
    let mut v = vec_with_capacity(n, what)?;
    v.resize(n, value);
    Ok(v)
}

/// Room for `additional` more items in `v`, or [`SpaceError::OutOfMemory`] naming `what`.
pub fn reserve<T>(v: &mut Vec<T>, additional: usize, what: &'static str) -> Result<(), SpaceError> {
    v.try_reserve_exact(additional).map_err(|_| SpaceError::OutOfMemory {
        what,
        bytes: (v.len() as u128 + additional as u128) * std::mem::size_of::<T>() as u128,
    })
}

/// The product `a * b` of two sizes, or [`SpaceError::OutOfMemory`] naming `what` when it does
/// not fit in memory at all (`elem` bytes per item).
pub fn product(a: usize, b: usize, elem: usize, what: &'static str) -> Result<usize, SpaceError> {
    match a.checked_mul(b) {
        Some(p) if p.checked_mul(elem.max(1)).is_some_and(|bytes| bytes <= isize::MAX as usize) => Ok(p),
        _ => Err(SpaceError::OutOfMemory { what, bytes: a as u128 * b as u128 * elem as u128 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_above_the_limit_are_refused_with_both_numbers() {
        assert!(check_request("n", 10, 10, "").is_ok());
        let e = check_request("n", 11, 10, " (a hint)").unwrap_err();
        assert_eq!(e.to_string(), "n = 11: more than the limit of 10 (a hint)");
    }

    #[test]
    fn impossible_allocations_are_errors_not_aborts() {
        let e = vec_with_capacity::<u64>(usize::MAX / 4, "a test").unwrap_err();
        assert!(matches!(e, SpaceError::OutOfMemory { what: "a test", .. }), "{e}");
        assert!(e.to_string().contains(&((usize::MAX / 4) as u128 * 8).to_string()));
        assert!(product(usize::MAX, 2, 1, "x").is_err());
        assert!(product(1 << 40, 1 << 30, 4, "x").is_err());
        assert_eq!(product(3, 4, 4, "x").unwrap(), 12);
        assert_eq!(vec_filled(3, 7u8, "x").unwrap(), vec![7, 7, 7]);
    }
}
