//! The cell model: a DAG on at most [`MAX_VERTICES`] vertices stored as out-neighbour bitmasks,
//! with vertex 0 the input and the last vertex the output; pruning and validity.

use crate::error::CellError;
use crate::space::SearchSpace;
use crate::MAX_VERTICES;

/// Op code of the input vertex.
pub const OP_INPUT: i8 = -1;
/// Op code of the output vertex.
pub const OP_OUTPUT: i8 = -2;
/// Op code of a padding slot in a zero-padded batch row.
pub const OP_PAD: i8 = -3;

/// One cell: `n` vertices, their op codes and, for each vertex, the bitmask of its
/// out-neighbours (bit j of `out[i]` is the edge i -> j; only j > i may be set).
///
/// Entries at positions `>= n` are always zero / [`OP_PAD`], so that derived equality and
/// hashing compare cells structurally.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Cell {
    n: u8,
    ops: [i8; MAX_VERTICES],
    out: [u16; MAX_VERTICES],
}

impl Cell {
    /// A cell from its parts, checking only the structural invariants (upper-triangular,
    /// input first and output last); interior op codes are checked against a space by
    /// [`Cell::validate`].
    pub fn new(n: usize, ops: &[i8], out: &[u16]) -> Result<Cell, CellError> {
        if n < 2 {
            return Err(CellError::TooFewVertices { n });
        }
        if n > MAX_VERTICES {
            return Err(CellError::TooManyVertices { n, max: MAX_VERTICES });
        }
        if ops.len() < n || out.len() < n {
            return Err(CellError::Shape(format!(
                "expected {n} ops and {n} adjacency rows, got {} and {}",
                ops.len(),
                out.len()
            )));
        }
        let mut cell = Cell { n: n as u8, ops: [OP_PAD; MAX_VERTICES], out: [0; MAX_VERTICES] };
        for i in 0..n {
            let row = out[i];
            let allowed: u32 = ((1u32 << n) - 1) & !((1u32 << (i + 1)) - 1);
            if (row as u32) & !allowed != 0 {
                let bad = (row as u32) & !allowed;
                let j = bad.trailing_zeros() as usize;
                if j < n {
                    return Err(CellError::NotUpperTriangular { i, j });
                }
                return Err(CellError::Shape(format!("adjacency row {i} has an edge to vertex {j}, beyond the {n} vertices")));
            }
            cell.out[i] = row;
            cell.ops[i] = ops[i];
        }
        if ops[0] != OP_INPUT {
            return Err(CellError::BadInputOp { value: ops[0].to_string() });
        }
        if ops[n - 1] != OP_OUTPUT {
            return Err(CellError::BadOutputOp { vertex: n - 1, value: ops[n - 1].to_string() });
        }
        for (v, &op) in ops.iter().enumerate().take(n - 1).skip(1) {
            if op < 0 {
                return Err(CellError::UnknownOp { vertex: v, value: op as i128, num_ops: crate::MAX_OPS });
            }
        }
        Ok(cell)
    }

    /// A cell from a dense row-major `n x n` 0/1 matrix and `n` op codes.
    pub fn from_dense(n: usize, adjacency: &[u8], ops: &[i8]) -> Result<Cell, CellError> {
        if n > MAX_VERTICES {
            return Err(CellError::TooManyVertices { n, max: MAX_VERTICES });
        }
        if adjacency.len() != n * n {
            return Err(CellError::Shape(format!("adjacency has {} entries, expected {n} x {n}", adjacency.len())));
        }
        let mut out = [0u16; MAX_VERTICES];
        for i in 0..n {
            for j in 0..n {
                match adjacency[i * n + j] {
                    0 => {}
                    1 => {
                        if j <= i {
                            return Err(CellError::NotUpperTriangular { i, j });
                        }
                        out[i] |= 1 << j;
                    }
                    v => return Err(CellError::NotBinary { i, j, value: v as i128 }),
                }
            }
        }
        Cell::new(n, ops, &out[..n.max(1)])
    }

    /// Builds a cell without checks; for the core's own generators, whose output is valid by
    /// construction.
    #[inline]
    pub(crate) fn from_parts_unchecked(n: usize, ops: [i8; MAX_VERTICES], out: [u16; MAX_VERTICES]) -> Cell {
        Cell { n: n as u8, ops, out }
    }

    /// Number of vertices.
    #[inline]
    pub fn num_vertices(&self) -> usize {
        self.n as usize
    }

    /// Number of edges.
    #[inline]
    pub fn num_edges(&self) -> usize {
        self.out[..self.n as usize].iter().map(|r| r.count_ones() as usize).sum()
    }

    /// Op codes of the `n` vertices.
    #[inline]
    pub fn ops(&self) -> &[i8] {
        &self.ops[..self.n as usize]
    }

    /// Out-neighbour bitmasks of the `n` vertices.
    #[inline]
    pub fn out_rows(&self) -> &[u16] {
        &self.out[..self.n as usize]
    }

    /// All op slots, padding included (length [`MAX_VERTICES`]).
    #[inline]
    pub(crate) fn ops_raw(&self) -> &[i8; MAX_VERTICES] {
        &self.ops
    }

    /// All out rows, padding included (length [`MAX_VERTICES`]).
    #[inline]
    pub(crate) fn out_raw(&self) -> &[u16; MAX_VERTICES] {
        &self.out
    }

    /// Whether the edge i -> j exists.
    #[inline]
    pub fn has_edge(&self, i: usize, j: usize) -> bool {
        (self.out[i] >> j) & 1 == 1
    }

    /// In-neighbour bitmasks of the `n` vertices.
    pub fn in_rows(&self) -> [u16; MAX_VERTICES] {
        let mut inn = [0u16; MAX_VERTICES];
        for i in 0..self.n as usize {
            let mut row = self.out[i];
            while row != 0 {
                let j = row.trailing_zeros() as usize;
                row &= row - 1;
                inn[j] |= 1 << i;
            }
        }
        inn
    }

    /// Writes the dense row-major `n x n` matrix into `dst` (length `stride * stride`, zero
    /// padded beyond `n`).
    pub fn write_dense(&self, dst: &mut [u8], stride: usize) {
        dst.iter_mut().for_each(|x| *x = 0);
        for i in 0..self.n as usize {
            let mut row = self.out[i];
            while row != 0 {
                let j = row.trailing_zeros() as usize;
                row &= row - 1;
                dst[i * stride + j] = 1;
            }
        }
    }

    /// The bitmask of vertices that lie on an input -> output path, or `None` when the input
    /// cannot reach the output.
    #[inline]
    pub fn live_vertices(&self) -> Option<u16> {
        let n = self.n as usize;
        let mut fwd: u16 = 1;
        for i in 0..n {
            if (fwd >> i) & 1 == 1 {
                fwd |= self.out[i];
            }
        }
        let mut bwd: u16 = 1 << (n - 1);
        for i in (0..n).rev() {
            if self.out[i] & bwd != 0 {
                bwd |= 1 << i;
            }
        }
        let keep = fwd & bwd;
        if keep & 1 == 0 {
            None
        } else {
            Some(keep)
        }
    }

    /// Whether every vertex lies on an input -> output path (the cell equals its pruned form).
    #[inline]
    pub fn is_pruned(&self) -> bool {
        let full = ((1u32 << self.n) - 1) as u16;
        self.live_vertices() == Some(full)
    }

    /// The cell with every vertex that is not on an input -> output path removed; the others
    /// keep their order, rows, columns and ops.
    pub fn pruned(&self) -> Result<Cell, CellError> {
        let keep = self.live_vertices().ok_or(CellError::Disconnected)?;
        Ok(self.keep_vertices(keep))
    }

    /// The induced sub-cell on the vertex set `keep` (which must contain 0 and n-1).
    pub(crate) fn keep_vertices(&self, keep: u16) -> Cell {
        let n = self.n as usize;
        let full = ((1u32 << n) - 1) as u16;
        if keep == full {
            return *self;
        }
        let mut new_index = [0u8; MAX_VERTICES];
        let mut m = 0usize;
        for (i, slot) in new_index.iter_mut().enumerate().take(n) {
            if (keep >> i) & 1 == 1 {
                *slot = m as u8;
                m += 1;
            }
        }
        let mut ops = [OP_PAD; MAX_VERTICES];
        let mut out = [0u16; MAX_VERTICES];
        for i in 0..n {
            if (keep >> i) & 1 == 0 {
                continue;
            }
            let ni = new_index[i] as usize;
            ops[ni] = self.ops[i];
            let mut row = self.out[i] & keep;
            while row != 0 {
                let j = row.trailing_zeros() as usize;
                row &= row - 1;
                out[ni] |= 1 << new_index[j];
            }
        }
        Cell { n: m as u8, ops, out }
    }

    /// Checks that the (already pruned) cell fits the space: vertex and edge limits and op codes.
    pub fn check_limits(&self, space: &SearchSpace) -> Result<(), CellError> {
        let n = self.n as usize;
        if n > space.max_vertices() {
            return Err(CellError::TooManyVertices { n, max: space.max_vertices() });
        }
        let edges = self.num_edges();
        if edges > space.max_edges() {
            return Err(CellError::TooManyEdges { edges, max: space.max_edges() });
        }
        let k = space.num_ops();
        for v in 1..n - 1 {
            let op = self.ops[v];
            if op < 0 || op as usize >= k {
                return Err(CellError::UnknownOp { vertex: v, value: op as i128, num_ops: k });
            }
        }
        Ok(())
    }

    /// Prunes the cell and checks it against the space: the pruned cell on success.
    pub fn validate(&self, space: &SearchSpace) -> Result<Cell, CellError> {
        let p = self.pruned()?;
        p.check_limits(space)?;
        Ok(p)
    }

    /// Whether the cell is valid in the space (after pruning).
    pub fn is_valid(&self, space: &SearchSpace) -> bool {
        self.validate(space).is_ok()
    }

    /// The cell with its vertices reordered: vertex `order[p]` of `self` becomes vertex `p`.
    /// The caller guarantees that `order` is a topological order (edges stay forward).
    pub(crate) fn permuted(&self, order: &[u8]) -> Cell {
        let n = self.n as usize;
        let mut pos = [0u8; MAX_VERTICES];
        for (p, &v) in order.iter().enumerate().take(n) {
            pos[v as usize] = p as u8;
        }
        let mut ops = [OP_PAD; MAX_VERTICES];
        let mut out = [0u16; MAX_VERTICES];
        for p in 0..n {
            let v = order[p] as usize;
            ops[p] = self.ops[v];
            let mut row = self.out[v];
            let mut r = 0u16;
            while row != 0 {
                let j = row.trailing_zeros() as usize;
                row &= row - 1;
                r |= 1 << pos[j];
            }
            out[p] = r;
        }
        Cell { n: n as u8, ops, out }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(n: usize, edges: &[(usize, usize)], ops: &[i8]) -> Cell {
        let mut out = vec![0u16; n];
        for &(i, j) in edges {
            out[i] |= 1 << j;
        }
        Cell::new(n, ops, &out).unwrap()
    }

    #[test]
    fn pruning_removes_dead_vertices() {
        // 0 -> 1 -> 3, vertex 2 has no input, 0 -> 2? no: 2 -> 3 only.
        let c = cell(4, &[(0, 1), (1, 3), (2, 3)], &[-1, 0, 1, -2]);
        let p = c.pruned().unwrap();
        assert_eq!(p.num_vertices(), 3);
        assert_eq!(p.ops(), &[-1, 0, -2]);
        assert!(p.has_edge(0, 1) && p.has_edge(1, 2) && p.num_edges() == 2);
        // a vertex that cannot reach the output is also removed
        let c = cell(4, &[(0, 1), (0, 3), (0, 2)], &[-1, 0, 1, -2]);
        assert_eq!(c.pruned().unwrap().num_vertices(), 2);
    }

    #[test]
    fn disconnected_is_an_error() {
        let c = cell(3, &[(0, 1)], &[-1, 0, -2]);
        assert_eq!(c.pruned(), Err(CellError::Disconnected));
    }

    #[test]
    fn limits_are_checked_after_pruning() {
        let space = SearchSpace::new(3, 2, vec!["a".into()]).unwrap();
        // 4 vertices but one is dead: valid in a 3-vertex space after pruning
        let c = cell(4, &[(0, 1), (1, 3)], &[-1, 0, 0, -2]);
        assert!(c.is_valid(&space));
        let c = cell(3, &[(0, 1), (1, 2), (0, 2)], &[-1, 0, -2]);
        assert_eq!(c.validate(&space), Err(CellError::TooManyEdges { edges: 3, max: 2 }));
        let c = cell(3, &[(0, 1), (1, 2)], &[-1, 3, -2]);
        assert!(matches!(c.validate(&space), Err(CellError::UnknownOp { vertex: 1, value: 3, .. })));
    }

    #[test]
    fn padded_rows() {
        let space = SearchSpace::nb101();
        let mut adj = [0u8; 49];
        let mut ops = [OP_PAD; 7];
        // 0 -> 1 -> 2 in a 7-wide row
        adj[1] = 1;
        adj[7 + 2] = 1;
        ops[..3].copy_from_slice(&[-1, 0, -2]);
        let c = Cell::from_padded_row(&space, &adj, &ops).unwrap();
        assert_eq!((c.num_vertices(), c.num_edges()), (3, 2));
        let mut bad = ops;
        bad[5] = 1;
        assert!(matches!(Cell::from_padded_row(&space, &adj, &bad), Err(CellError::BadPadding { .. })));
        let mut bad = adj;
        bad[2 * 7 + 4] = 1;
        assert!(matches!(Cell::from_padded_row(&space, &bad, &ops), Err(CellError::BadPadding { .. })));
        let mut bad = adj;
        bad[7 + 2] = 3;
        assert_eq!(Cell::from_padded_row(&space, &bad, &ops), Err(CellError::NotBinary { i: 1, j: 2, value: 3 }));
        assert!(matches!(Cell::from_padded_row(&space, &adj[..48], &ops), Err(CellError::Shape(_))));
    }

    #[test]
    fn structural_errors() {
        assert!(matches!(Cell::from_dense(2, &[0, 1, 1, 0], &[-1, -2]), Err(CellError::NotUpperTriangular { i: 1, j: 0 })));
        assert!(matches!(Cell::from_dense(2, &[0, 2, 0, 0], &[-1, -2]), Err(CellError::NotBinary { value: 2, .. })));
        assert!(matches!(Cell::from_dense(2, &[0, 1, 0, 0], &[0, -2]), Err(CellError::BadInputOp { .. })));
        assert!(matches!(Cell::from_dense(1, &[0], &[-1]), Err(CellError::TooFewVertices { n: 1 })));
    }
}
