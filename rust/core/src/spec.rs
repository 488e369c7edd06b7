//! `CellSpec`: a cell as the user gives it, judged the way the official NAS-Bench-101 API judges
//! its model specs (reference §2): **prune first**, then check the ops and the size of what
//! pruning keeps.
//!
//! * Malformed whatever pruning does (refused at construction): a matrix that is not square,
//!   an entry other than 0 or 1, an edge on or below the diagonal, a number of ops other than
//!   the number of vertices, fewer than 2 vertices, a first vertex that is not the input, a last
//!   vertex that is not the output.
//! * A vertex that pruning removes may carry any label: an unknown op name or code, `input` or
//!   `output`; the matrix may have any number of vertices as long as at most [`MAX_VERTICES`]
//!   survive pruning.
//! * A surviving interior vertex must carry an interior op: an op name of the space given at
//!   construction or a code in `0..MAX_OPS` (refused at construction otherwise, since no space
//!   accepts it); whether the code belongs to a particular space, and the vertex and edge
//!   limits, are judged by [`CellSpec::validate`].
//! * A spec whose input cannot reach its output is well formed but valid in no space.

use crate::cell::{Cell, OP_INPUT, OP_OUTPUT, OP_PAD};
use crate::error::CellError;
use crate::space::SearchSpace;
use crate::{MAX_OPS, MAX_VERTICES};

/// An op label as given: an op code, or a name the space of construction does not know
/// (names it knows, `input` and `output` included, are stored as their codes).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    /// An op code: -1 input, -2 output, 0.. interior ops; any other value is kept as given.
    Code(i64),
    /// An op name unknown to the space of construction.
    Name(String),
}

impl Label {
    /// The label as Python would print it (`-1`, `'conv5x5'`), for messages.
    pub fn text(&self) -> String {
        match self {
            Label::Code(c) => c.to_string(),
            Label::Name(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        }
    }
}

/// A cell as given (see the module docs): any number of vertices, any labels on the vertices
/// pruning removes. Equality and hashing compare the cell as given.
#[derive(Clone, Debug)]
pub struct CellSpec {
    n: usize,
    /// `n x n` row-major 0/1 entries, upper-triangular
    adjacency: Vec<u8>,
    labels: Vec<Label>,
    /// the pruned cell, `None` when the input cannot reach the output
    pruned: Option<Cell>,
    /// the original index of each vertex of the pruned cell
    kept: Vec<usize>,
}

impl PartialEq for CellSpec {
    fn eq(&self, other: &Self) -> bool {
        (self.n, &self.adjacency, &self.labels) == (other.n, &other.adjacency, &other.labels)
    }
}

impl Eq for CellSpec {}

impl std::hash::Hash for CellSpec {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.n, &self.adjacency, &self.labels).hash(state);
    }
}

/// The interior op code a surviving vertex `v` may carry, or the error naming its label.
pub(crate) fn judge_interior(v: usize, label: &Label, space: Option<&SearchSpace>) -> Result<i8, CellError> {
    match label {
        Label::Code(c) if (0..MAX_OPS as i64).contains(c) => Ok(*c as i8),
        Label::Code(c) if *c == OP_INPUT as i64 || *c == OP_OUTPUT as i64 => Err(CellError::MisplacedOp {
            vertex: v,
            label: label.text(),
            role: if *c == OP_INPUT as i64 { "input" } else { "output" },
        }),
        Label::Code(c) => Err(CellError::UnknownOp { vertex: v, value: *c as i128, num_ops: MAX_OPS }),
        Label::Name(name) => Err(CellError::UnknownOpName {
            vertex: v,
            name: name.clone(),
            expected: space.map(|s| s.ops().to_vec()).unwrap_or_default(),
        }),
    }
}

/// Remaps the vertex named in a pruned cell's error to its index in the cell as given.
fn remap(e: CellError, kept: &[usize]) -> CellError {
    match e {
        CellError::UnknownOp { vertex, value, num_ops } => {
            CellError::UnknownOp { vertex: kept.get(vertex).copied().unwrap_or(vertex), value, num_ops }
        }
        other => other,
    }
}

impl CellSpec {
    /// A spec from the shape of its adjacency matrix, its entries (row-major) and its labels;
    /// names are resolved in `space` (module docs for what is refused).
    pub fn new(
        shape: &[usize],
        entries: impl IntoIterator<Item = i128>,
        labels: Vec<Label>,
        space: &SearchSpace,
    ) -> Result<CellSpec, CellError> {
        if shape.len() != 2 || shape[0] != shape[1] {
            return Err(CellError::Shape(format!("adjacency must be a square matrix, got shape {shape:?}")));
        }
        let n = shape[0];
        let cells = n.checked_mul(n).ok_or_else(|| CellError::Shape(format!("adjacency of {n} x {n} entries is too large")))?;
        let mut adjacency = Vec::new();
        adjacency
            .try_reserve_exact(cells)
            .map_err(|_| CellError::Shape(format!("adjacency of {n} x {n} entries does not fit in memory")))?;
        for (k, x) in entries.into_iter().enumerate() {
            let (i, j) = (k / n.max(1), k % n.max(1));
            if k >= cells {
                return Err(CellError::Shape(format!("adjacency has more than {n} x {n} entries")));
            }
            match x {
                0 => adjacency.push(0),
                1 if j > i => adjacency.push(1),
                1 => return Err(CellError::NotUpperTriangular { i, j }),
                value => return Err(CellError::NotBinary { i, j, value }),
            }
        }
        if adjacency.len() != cells {
            return Err(CellError::Shape(format!("adjacency has {} entries, expected {n} x {n}", adjacency.len())));
        }
        if labels.len() != n {
            return Err(CellError::Shape(format!("adjacency is {n} x {n} but {} ops were given", labels.len())));
        }
        if n < 2 {
            return Err(CellError::TooFewVertices { n });
        }
        let labels: Vec<Label> = labels
            .into_iter()
            .map(|l| match l {
                Label::Name(name) => space.op_code(&name).map_or(Label::Name(name), |c| Label::Code(c as i64)),
                code => code,
            })
            .collect();
        if labels[0] != Label::Code(OP_INPUT as i64) {
            return Err(CellError::BadInputOp { value: labels[0].text() });
        }
        if labels[n - 1] != Label::Code(OP_OUTPUT as i64) {
            return Err(CellError::BadOutputOp { vertex: n - 1, value: labels[n - 1].text() });
        }
        // prune: forward from the input, backward from the output
        let mut fwd = vec![false; n];
        fwd[0] = true;
        for i in 0..n {
            if fwd[i] {
                for j in i + 1..n {
                    fwd[j] |= adjacency[i * n + j] == 1;
                }
            }
        }
        let mut bwd = vec![false; n];
        bwd[n - 1] = true;
        for i in (0..n).rev() {
            bwd[i] |= (i + 1..n).any(|j| bwd[j] && adjacency[i * n + j] == 1);
        }
        let (pruned, kept) = if fwd[n - 1] {
            let kept: Vec<usize> = (0..n).filter(|&v| fwd[v] && bwd[v]).collect();
            if kept.len() > MAX_VERTICES {
                return Err(CellError::TooManyVertices { n: kept.len(), max: MAX_VERTICES });
            }
            let mut ops = [OP_PAD; MAX_VERTICES];
            for (p, &v) in kept.iter().enumerate() {
                ops[p] = match &labels[v] {
                    _ if p == 0 => OP_INPUT,
                    _ if v == n - 1 => OP_OUTPUT,
                    label => judge_interior(v, label, Some(space))?,
                };
            }
            let mut out = [0u16; MAX_VERTICES];
            for (p, &x) in kept.iter().enumerate() {
                for (q, &y) in kept.iter().enumerate().skip(p + 1) {
                    if adjacency[x * n + y] == 1 {
                        out[p] |= 1 << q;
                    }
                }
            }
            (Some(Cell::from_parts_unchecked(kept.len(), ops, out)), kept)
        } else {
            (None, Vec::new())
        };
        Ok(CellSpec { n, adjacency, labels, pruned, kept })
    }

    /// The spec of a cell (its op codes as labels).
    pub fn from_cell(cell: Cell) -> CellSpec {
        let n = cell.num_vertices();
        let mut adjacency = vec![0u8; n * n];
        cell.write_dense(&mut adjacency, n);
        let labels = cell.ops().iter().map(|&o| Label::Code(o as i64)).collect();
        let (pruned, kept) = match cell.live_vertices() {
            Some(keep) => {
                let p = cell.pruned().expect("the input reaches the output");
                (Some(p), (0..n).filter(|&v| keep >> v & 1 == 1).collect())
            }
            None => (None, Vec::new()),
        };
        CellSpec { n, adjacency, labels, pruned, kept }
    }

    /// Number of vertices, as given.
    pub fn num_vertices(&self) -> usize {
        self.n
    }

    /// Number of edges, as given.
    pub fn num_edges(&self) -> usize {
        self.adjacency.iter().filter(|&&x| x == 1).count()
    }

    /// The `n x n` adjacency entries, row-major, as given.
    pub fn adjacency(&self) -> &[u8] {
        &self.adjacency
    }

    /// The labels, as given (names the space of construction knows stored as codes).
    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    /// The pruned cell, or [`CellError::Disconnected`].
    pub fn pruned(&self) -> Result<Cell, CellError> {
        self.pruned.ok_or(CellError::Disconnected)
    }

    /// The pruned cell if it is valid in the space; the error names vertices by their index in
    /// the cell as given.
    pub fn validate(&self, space: &SearchSpace) -> Result<Cell, CellError> {
        let p = self.pruned()?;
        p.check_limits(space).map_err(|e| remap(e, &self.kept))?;
        Ok(p)
    }

    /// Whether the spec is valid in the space.
    pub fn is_valid(&self, space: &SearchSpace) -> bool {
        self.validate(space).is_ok()
    }

    /// The op names in a space: the names of the codes, unknown names as given; an error for
    /// a code that is not an op of the space.
    pub fn op_names(&self, space: &SearchSpace) -> Result<Vec<String>, CellError> {
        self.labels
            .iter()
            .enumerate()
            .map(|(v, label)| match label {
                Label::Code(-1) => Ok("input".to_string()),
                Label::Code(-2) => Ok("output".to_string()),
                Label::Code(c) => usize::try_from(*c)
                    .ok()
                    .and_then(|c| space.ops().get(c).cloned())
                    .ok_or(CellError::UnknownOp { vertex: v, value: *c as i128, num_ops: space.num_ops() }),
                Label::Name(name) => Ok(name.clone()),
            })
            .collect()
    }
}

impl Cell {
    /// Parses one row of a zero-padded batch (`V x V` adjacency entries and `V` op codes: the
    /// cell's ops followed by [`OP_PAD`] from its vertex count on) the way [`CellSpec`] judges a
    /// cell: malformed rows are refused whatever pruning does (entries other than 0/1, edges on
    /// or below the diagonal, edges or ops beyond the padding, a first op that is not the input,
    /// a last op that is not the output); then the row is pruned and only the surviving
    /// vertices' ops and the pruned size are checked against the space.
    pub fn from_padded_row(space: &SearchSpace, adj: &[u8], ops: &[i8]) -> Result<Cell, CellError> {
        let v = ops.len();
        if v > MAX_VERTICES || adj.len() != v * v {
            return Err(CellError::Shape(format!("a row has {} adjacency entries and {v} ops, expected V x V and V", adj.len())));
        }
        let n = ops.iter().position(|&o| o == OP_PAD).unwrap_or(v);
        if let Some(p) = ops[n..].iter().position(|&o| o != OP_PAD) {
            return Err(CellError::BadPadding {
                detail: format!("ops[{}] = {} after the padding that starts at ops[{n}] (code -3)", n + p, ops[n + p]),
            });
        }
        let mut out = [0u16; MAX_VERTICES];
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
        if n < 2 {
            return Err(CellError::TooFewVertices { n });
        }
        if ops[0] != OP_INPUT {
            return Err(CellError::BadInputOp { value: ops[0].to_string() });
        }
        if ops[n - 1] != OP_OUTPUT {
            return Err(CellError::BadOutputOp { vertex: n - 1, value: ops[n - 1].to_string() });
        }
        let mut given = [OP_PAD; MAX_VERTICES];
        given[..n].copy_from_slice(&ops[..n]);
        let raw = Cell::from_parts_unchecked(n, given, out);
        let keep = raw.live_vertices().ok_or(CellError::Disconnected)?;
        let kept: Vec<usize> = (0..n).filter(|&u| keep >> u & 1 == 1).collect();
        for &u in &kept[1..kept.len() - 1] {
            judge_interior(u, &Label::Code(ops[u] as i64), None)?;
        }
        let p = raw.keep_vertices(keep);
        p.check_limits(space).map_err(|e| remap(e, &kept))?;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(n: usize, edges: &[(usize, usize)]) -> Vec<i128> {
        let mut m = vec![0i128; n * n];
        for &(x, y) in edges {
            m[x * n + y] = 1;
        }
        m
    }

    fn names(labels: &[&str]) -> Vec<Label> {
        labels.iter().map(|s| Label::Name(s.to_string())).collect()
    }

    #[test]
    fn dead_vertices_may_carry_any_label() {
        let nb101 = SearchSpace::nb101();
        // 0 -> 1 -> 4, vertex 2 has no path to the output, vertex 3 none from the input
        let m = matrix(5, &[(0, 1), (1, 4), (0, 2), (3, 4)]);
        for dead in [["conv5x5", "input"], ["output", "output"], ["input", "zzz"]] {
            let labels = names(&["input", "conv3x3-bn-relu", dead[0], dead[1], "output"]);
            let spec = CellSpec::new(&[5, 5], m.clone(), labels, &nb101).unwrap();
            let p = spec.validate(&nb101).unwrap();
            assert_eq!((p.num_vertices(), p.ops()), (3, &[-1, 0, -2][..]));
        }
        // codes too: -7 and 99 on dead vertices
        let labels = vec![Label::Code(-1), Label::Code(2), Label::Code(-7), Label::Code(99), Label::Code(-2)];
        assert!(CellSpec::new(&[5, 5], m.clone(), labels, &nb101).unwrap().is_valid(&nb101));
        // the same labels on a surviving vertex are refused, naming the vertex and the label
        let live = matrix(3, &[(0, 1), (1, 2)]);
        for (label, needle) in [("conv5x5", "\"conv5x5\""), ("input", "the input"), ("output", "the output")] {
            let e = CellSpec::new(&[3, 3], live.clone(), names(&["input", label, "output"]), &nb101).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains("ops[1]") && msg.contains(needle), "{msg}");
        }
    }

    #[test]
    fn large_matrices_that_prune_small_are_valid() {
        let nb101 = SearchSpace::nb101();
        // 17 x 17: a 4-vertex path 0 -> 1 -> 2 -> 16 and 13 dead vertices
        let m = matrix(17, &[(0, 1), (1, 2), (2, 16), (3, 4), (5, 6)]);
        let mut labels = vec![Label::Name("zzz".into()); 17];
        labels[0] = Label::Name("input".into());
        labels[1] = Label::Name("maxpool3x3".into());
        labels[2] = Label::Code(0);
        labels[16] = Label::Name("output".into());
        let spec = CellSpec::new(&[17, 17], m, labels, &nb101).unwrap();
        assert_eq!((spec.num_vertices(), spec.num_edges()), (17, 5));
        let p = spec.validate(&nb101).unwrap();
        assert_eq!((p.num_vertices(), p.num_edges(), p.ops()), (4, 3, &[-1, 2, 0, -2][..]));
        // a 17-vertex chain survives pruning whole: no space holds it
        let chain: Vec<(usize, usize)> = (0..16).map(|i| (i, i + 1)).collect();
        let mut labels = vec![Label::Code(0); 17];
        labels[0] = Label::Code(-1);
        labels[16] = Label::Code(-2);
        let e = CellSpec::new(&[17, 17], matrix(17, &chain), labels, &nb101).unwrap_err();
        assert_eq!(e, CellError::TooManyVertices { n: 17, max: MAX_VERTICES });
    }

    #[test]
    fn malformed_input_is_refused_whatever_pruning_does() {
        let s = SearchSpace::nb101();
        let ok = || names(&["input", "conv3x3-bn-relu", "zzz", "output"]);
        let m = matrix(4, &[(0, 1), (1, 3)]); // vertex 2 is dead
        let mut bad = m.clone();
        bad[2 * 4 + 3] = 2; // on the dead vertex
        assert_eq!(CellSpec::new(&[4, 4], bad, ok(), &s), Err(CellError::NotBinary { i: 2, j: 3, value: 2 }));
        let mut bad = m.clone();
        bad[3 * 4 + 2] = 1; // below the diagonal, dead vertex
        assert_eq!(CellSpec::new(&[4, 4], bad, ok(), &s), Err(CellError::NotUpperTriangular { i: 3, j: 2 }));
        assert!(matches!(CellSpec::new(&[4, 3], m.clone(), ok(), &s), Err(CellError::Shape(_))));
        assert!(matches!(CellSpec::new(&[4, 4], m.clone(), ok()[..3].to_vec(), &s), Err(CellError::Shape(_))));
        let first = names(&["conv3x3-bn-relu", "conv3x3-bn-relu", "zzz", "output"]);
        assert!(matches!(CellSpec::new(&[4, 4], m.clone(), first, &s), Err(CellError::BadInputOp { .. })));
        let last = names(&["input", "conv3x3-bn-relu", "zzz", "maxpool3x3"]);
        assert!(matches!(CellSpec::new(&[4, 4], m.clone(), last, &s), Err(CellError::BadOutputOp { vertex: 3, .. })));
        assert_eq!(CellSpec::new(&[1, 1], vec![0], names(&["input"]), &s), Err(CellError::TooFewVertices { n: 1 }));
        // disconnected: well formed, valid nowhere
        let spec = CellSpec::new(&[4, 4], matrix(4, &[(0, 1)]), ok(), &s).unwrap();
        assert_eq!(spec.validate(&s), Err(CellError::Disconnected));
    }

    #[test]
    fn errors_name_vertices_as_given() {
        // op code 3 on vertex 4 of the cell as given (vertex 2 after pruning)
        let s = SearchSpace::nb101();
        let m = matrix(6, &[(0, 1), (1, 4), (4, 5), (2, 3)]);
        let labels = vec![Label::Code(-1), Label::Code(0), Label::Code(9), Label::Code(9), Label::Code(3), Label::Code(-2)];
        let spec = CellSpec::new(&[6, 6], m, labels, &s).unwrap();
        assert_eq!(spec.validate(&s), Err(CellError::UnknownOp { vertex: 4, value: 3, num_ops: 3 }));
        assert!(spec.is_valid(&SearchSpace::new(7, 9, (0..4).map(|i| format!("o{i}")).collect()).unwrap()));
    }

    #[test]
    fn rows_are_judged_like_specs() {
        let s = SearchSpace::nb101();
        // 0 -> 1 -> 4 live; vertex 2 (label -1) and 3 (label 9) dead
        let mut adj = [0u8; 49];
        for (x, y) in [(0, 1), (1, 4), (0, 2), (3, 4)] {
            adj[x * 7 + y] = 1;
        }
        let ops = [-1, 1, -1, 9, -2, OP_PAD, OP_PAD];
        let c = Cell::from_padded_row(&s, &adj, &ops).unwrap();
        assert_eq!(c.ops(), &[-1, 1, -2]);
        let ops = [-1, -2, 0, 0, -2, OP_PAD, OP_PAD];
        let e = Cell::from_padded_row(&s, &adj, &ops).unwrap_err();
        assert!(matches!(e, CellError::MisplacedOp { vertex: 1, role: "output", .. }), "{e}");
        let ops = [-1, 5, 0, 0, -2, OP_PAD, OP_PAD];
        assert_eq!(Cell::from_padded_row(&s, &adj, &ops), Err(CellError::UnknownOp { vertex: 1, value: 5, num_ops: 3 }));
    }
}
