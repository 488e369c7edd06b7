//! Operations on batches of cells (slices of pruned, valid cells of one space) and their array
//! forms: parsing zero-padded rows, writing them back, canonical forms, fingerprints, hashes and
//! de-duplication. Batches above [`crate::par::PAR_THRESHOLD`] cells run in parallel; results
//! never depend on the number of threads.

use crate::canon::{canonical, fingerprint_of_canonical};
use crate::cell::{Cell, OP_PAD};
use crate::error::SpaceError;
use crate::hash::nb101_hash;
use crate::limits::{product, vec_filled, vec_with_capacity};
use crate::par::{fill_rows, map_range, try_extend_range};
use crate::space::SearchSpace;
use std::collections::HashMap;

/// Parses zero-padded arrays (`adjacency` of shape `(n, V, V)`, `ops` of shape `(n, V)`, row
/// major, V the space's `max_vertices`) into pruned cells valid in the space; the error names
/// the first bad row.
pub fn parse_rows(
    space: &SearchSpace,
    adj_shape: &[usize],
    adjacency: &[u8],
    ops_shape: &[usize],
    ops: &[i8],
    n_jobs: Option<usize>,
) -> Result<Vec<Cell>, SpaceError> {
    let v = space.max_vertices();
    if adj_shape.len() != 3 || adj_shape[1] != v || adj_shape[2] != v {
        return Err(SpaceError::Cell(crate::CellError::Shape(format!(
            "adjacency has shape {adj_shape:?}, expected (n, {v}, {v}) for a space of {v} vertices"
        ))));
    }
    let n = adj_shape[0];
    if ops_shape.len() != 2 || ops_shape[0] != n || ops_shape[1] != v {
        return Err(SpaceError::Cell(crate::CellError::Shape(format!("ops has shape {ops_shape:?}, expected ({n}, {v})"))));
    }
    if adjacency.len() != n * v * v || ops.len() != n * v {
        return Err(SpaceError::Cell(crate::CellError::Shape("the arrays hold fewer values than their shapes".into())));
    }
    let mut cells = vec_with_capacity(n, "the cells")?;
    try_extend_range(&mut cells, n, n_jobs, |i| {
        Cell::from_padded_row(space, &adjacency[i * v * v..(i + 1) * v * v], &ops[i * v..(i + 1) * v])
            .map_err(|e| SpaceError::Cell(e.at_row(i)))
    })?;
    Ok(cells)
}

/// The dense `(n, V, V)` adjacency arrays of the cells, zero padded.
pub fn dense_adjacency(cells: &[Cell], v: usize, n_jobs: Option<usize>) -> Result<Vec<u8>, SpaceError> {
    let len = product(cells.len(), v * v, 1, "the adjacency matrices")?;
    let mut dense = vec_filled(len, 0u8, "the adjacency matrices")?;
    fill_rows(&mut dense, v * v, n_jobs, |i, row| cells[i].write_dense(row, v));
    Ok(dense)
}

/// The `(n, V)` op codes of the cells, padded with [`OP_PAD`].
pub fn padded_ops(cells: &[Cell], v: usize) -> Result<Vec<i8>, SpaceError> {
    let len = product(cells.len(), v, 1, "the op codes")?;
    let mut ops = vec_filled(len, OP_PAD, "the op codes")?;
    for (i, c) in cells.iter().enumerate() {
        ops[i * v..i * v + c.num_vertices()].copy_from_slice(c.ops());
    }
    Ok(ops)
}

/// The canonical forms of the cells.
pub fn canonical_forms(cells: &[Cell], n_jobs: Option<usize>) -> Vec<Cell> {
    map_range(cells.len(), n_jobs, |i| canonical(&cells[i]))
}

/// The fingerprints of the cells (see [`crate::canon::fingerprint_of_canonical`]).
pub fn fingerprints(cells: &[Cell], n_jobs: Option<usize>) -> Vec<u64> {
    map_range(cells.len(), n_jobs, |i| fingerprint_of_canonical(&canonical(&cells[i])))
}

/// The NAS-Bench-101 hashes of the cells, 32 lowercase hex digits each, one after the other.
pub fn nb101_hashes(cells: &[Cell], n_jobs: Option<usize>) -> Result<Vec<u8>, SpaceError> {
    let len = product(cells.len(), 32, 1, "the hashes")?;
    let mut bytes = vec_filled(len, 0u8, "the hashes")?;
    fill_rows(&mut bytes, 32, n_jobs, |i, row| row.copy_from_slice(&nb101_hash(&cells[i])));
    Ok(bytes)
}

/// The cells without isomorphic duplicates (first occurrences kept, in order) and the inverse
/// index: cell i is isomorphic to `kept[inverse[i]]`. Exact: canonical forms are compared, not
/// fingerprints.
pub fn unique(cells: &[Cell], n_jobs: Option<usize>) -> (Vec<Cell>, Vec<i64>) {
    let canon = canonical_forms(cells, n_jobs);
    let mut first: HashMap<Cell, i64> = HashMap::with_capacity(canon.len());
    let mut kept = Vec::new();
    let inverse = canon
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::par::Cancel;
    use crate::sample::{sample, Method};

    #[test]
    fn unique_keeps_first_occurrences_and_inverts() {
        let space = SearchSpace::new(5, 6, vec!["a".into(), "b".into()]).unwrap();
        let cells = sample(&space, 3000, Method::Rejection, true, 4, None, &Cancel::new()).unwrap();
        let (kept, inverse) = unique(&cells, None);
        assert!(kept.len() < cells.len());
        for (i, c) in cells.iter().enumerate() {
            let j = inverse[i] as usize;
            assert_eq!(canonical(c), canonical(&kept[j]));
            // kept[j] is the first cell of its class
            let first = cells.iter().position(|d| canonical(d) == canonical(c)).unwrap();
            assert_eq!(kept[j], cells[first]);
        }
        let classes: std::collections::HashSet<Cell> = kept.iter().map(canonical).collect();
        assert_eq!(classes.len(), kept.len());
        assert_eq!(unique(&cells, Some(2)), (kept, inverse));
    }

    #[test]
    fn rows_round_trip_through_arrays() {
        let space = SearchSpace::nb101();
        let cells = sample(&space, 3000, Method::Uniform, true, 1, None, &Cancel::new()).unwrap();
        let adj = dense_adjacency(&cells, 7, None).unwrap();
        let ops = padded_ops(&cells, 7).unwrap();
        let back = parse_rows(&space, &[3000, 7, 7], &adj, &[3000, 7], &ops, Some(2)).unwrap();
        assert_eq!(back, cells);
        let err = parse_rows(&space, &[3000, 7, 6], &adj, &[3000, 7], &ops, None).unwrap_err().to_string();
        assert!(err.contains("(n, 7, 7)"), "{err}");
        let mut bad = ops.clone();
        bad[2500 * 7] = 0;
        let err = parse_rows(&space, &[3000, 7, 7], &adj, &[3000, 7], &bad, Some(2)).unwrap_err().to_string();
        assert!(err.starts_with("row 2500: "), "{err}");
    }
}
