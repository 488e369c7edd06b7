//! Feature encodings of cells for predictors, as float32 rows.
//!
//! For a space of V vertices and k ops:
//! * `Adjacency`: V(V-1)/2 edge bits (edge x -> y at `x + y(y-1)/2`) followed by a one-hot op
//!   block of k features for each of the V-2 interior positions. A cell with n < V vertices is
//!   placed with its vertices but the output at positions 0..n-1 and its output at position V-1
//!   (the positions in between are empty). NAS-Bench-101: 21 + 15 = 36 features. Not invariant
//!   under isomorphism: encode canonical forms when that matters.
//! * `Path`: one bit per input -> output path, identified by its sequence of interior ops: the
//!   paths with l interior ops occupy `(k^l - 1)/(k - 1) + code`, where code reads the ops as a
//!   base-k number, first op most significant; l = 0..V-2. NAS-Bench-101: 364 features.
//! * `PathTrunc`: the paths with at most 3 interior ops (the first 1 + k + k^2 + k^3 features of
//!   `Path`; 40 for NAS-Bench-101).
//! * `PathCount`: like `Path`, but each feature counts the paths with that op sequence. Both
//!   path encodings depend only on the isomorphism class; the counts also separate cells whose
//!   path *sets* coincide.

use crate::cell::Cell;
use crate::error::SpaceError;
use crate::space::SearchSpace;

/// Encodings are refused beyond this many features per cell.
pub const MAX_FEATURES: usize = 1 << 24;

/// The encoding kinds (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Adjacency,
    Path,
    PathTrunc,
    PathCount,
}

impl Encoding {
    /// The encoding of a name: `"adjacency"`, `"path"`, `"path-trunc"` or `"path-count"`.
    pub fn from_name(name: &str) -> Result<Encoding, SpaceError> {
        match name {
            "adjacency" => Ok(Encoding::Adjacency),
            "path" => Ok(Encoding::Path),
            "path-trunc" => Ok(Encoding::PathTrunc),
            "path-count" => Ok(Encoding::PathCount),
            _ => Err(SpaceError::UnknownName {
                what: "encoding",
                value: name.to_string(),
                expected: "'adjacency', 'path', 'path-trunc', 'path-count'".to_string(),
            }),
        }
    }

    /// The name of the encoding.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Adjacency => "adjacency",
            Encoding::Path => "path",
            Encoding::PathTrunc => "path-trunc",
            Encoding::PathCount => "path-count",
        }
    }

    /// The longest path (in interior ops) the encoding records.
    fn max_path_ops(self, space: &SearchSpace) -> usize {
        match self {
            Encoding::PathTrunc => 3.min(space.max_vertices() - 2),
            _ => space.max_vertices() - 2,
        }
    }

    /// Features per cell in a space, or an error when there would be too many.
    pub fn dim(self, space: &SearchSpace) -> Result<usize, SpaceError> {
        let v = space.max_vertices() as u128;
        let k = space.num_ops() as u128;
        let d: u128 = match self {
            Encoding::Adjacency => v * (v - 1) / 2 + (v - 2) * k,
            _ => (0..=self.max_path_ops(space) as u32).map(|l| k.pow(l)).sum(),
        };
        if d > MAX_FEATURES as u128 {
            return Err(SpaceError::EncodingTooLarge { kind: self.name().to_string(), dim: d, limit: MAX_FEATURES });
        }
        Ok(d as usize)
    }
}

/// The encodings of `cells`, row-major (`cells.len() x kind.dim(space)`), with the output sized
/// before it is allocated.
pub fn encode_batch(kind: Encoding, space: &SearchSpace, cells: &[Cell], n_jobs: Option<usize>) -> Result<Vec<f32>, SpaceError> {
    let d = kind.dim(space)?;
    let len = crate::limits::product(cells.len(), d, std::mem::size_of::<f32>(), "the encoded features")?;
    let mut feats = crate::limits::vec_filled(len, 0f32, "the encoded features")?;
    crate::par::fill_rows(&mut feats, d, n_jobs, |i, row| encode_into(kind, space, &cells[i], row));
    Ok(feats)
}

/// Writes the encoding of `cell` into `row` (length `kind.dim(space)`, zeroed by the caller).
pub fn encode_into(kind: Encoding, space: &SearchSpace, cell: &Cell, row: &mut [f32]) {
    let n = cell.num_vertices();
    let v = space.max_vertices();
    let k = space.num_ops();
    match kind {
        Encoding::Adjacency => {
            let pos = |u: usize| if u == n - 1 { v - 1 } else { u };
            let edge_bits = v * (v - 1) / 2;
            for x in 0..n {
                let mut m = cell.out_rows()[x];
                while m != 0 {
                    let y = m.trailing_zeros() as usize;
                    m &= m - 1;
                    let (px, py) = (pos(x), pos(y));
                    row[px + py * (py - 1) / 2] = 1.0;
                }
            }
            for u in 1..n - 1 {
                row[edge_bits + (u - 1) * k + cell.ops()[u] as usize] = 1.0;
            }
        }
        _ => {
            let max_len = kind.max_path_ops(space);
            let counts = kind == Encoding::PathCount;
            // offsets[l] = number of paths with fewer than l interior ops
            let mut offsets = [0usize; crate::MAX_VERTICES];
            let mut acc = 0usize;
            let mut p = 1usize;
            for slot in offsets.iter_mut().take(max_len + 1) {
                *slot = acc;
                acc += p;
                p = p.saturating_mul(k);
            }
            // iterative depth-first search over paths: (vertex, length, code)
            let mut stack: [(u8, u8, usize); 64] = [(0, 0, 0); 64];
            let mut top = 1;
            let out = cell.out_rows();
            let ops = cell.ops();
            let mut overflow: Vec<(u8, u8, usize)> = Vec::new();
            loop {
                let (u, len, code) = if top > 0 {
                    top -= 1;
                    stack[top]
                } else if let Some(x) = overflow.pop() {
                    x
                } else {
                    break;
                };
                let (u, len) = (u as usize, len as usize);
                let mut m = out[u];
                while m != 0 {
                    let w = m.trailing_zeros() as usize;
                    m &= m - 1;
                    if w == n - 1 {
                        let idx = offsets[len] + code;
                        if counts {
                            row[idx] += 1.0;
                        } else {
                            row[idx] = 1.0;
                        }
                    } else if len < max_len {
                        let item = (w as u8, (len + 1) as u8, code * k + ops[w] as usize);
                        if top < stack.len() {
                            stack[top] = item;
                            top += 1;
                        } else {
                            overflow.push(item);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nb101_dimensions() {
        let s = SearchSpace::nb101();
        assert_eq!(Encoding::Adjacency.dim(&s).unwrap(), 36);
        assert_eq!(Encoding::Path.dim(&s).unwrap(), 364);
        assert_eq!(Encoding::PathTrunc.dim(&s).unwrap(), 40);
        assert_eq!(Encoding::PathCount.dim(&s).unwrap(), 364);
    }

    #[test]
    fn paths_of_a_small_cell() {
        // 0 -> 1 -> 3, 0 -> 2 -> 3, 0 -> 3 with ops 1: op 2, 2: op 0
        let mut out = [0u16; 4];
        out[0] = 0b1110;
        out[1] = 0b1000;
        out[2] = 0b1000;
        let c = Cell::new(4, &[-1, 2, 0, -2], &out).unwrap();
        let s = SearchSpace::nb101();
        let mut row = vec![0f32; 364];
        encode_into(Encoding::Path, &s, &c, &mut row);
        let ones: Vec<usize> = (0..364).filter(|&i| row[i] == 1.0).collect();
        // empty path at 0, single-op paths at 1 + op
        assert_eq!(ones, vec![0, 1, 3]);
        assert!(Encoding::from_name("paths").is_err());
    }
}
