//! Scoring many rows of 0/1 features with a fitted forest, the rows packed 64 features to a
//! word.
//!
//! A predictor-based search scores every cell of a space each round (423,624 NAS-Bench-101
//! cells, 170,820 distinct path encodings). Three things make that cheap here:
//!
//! * Rows are packed as bits: a path-encoding row of 364 features is 6 words instead of 1,456
//!   bytes of float32.
//! * Rows that agree on every feature some tree splits on get the same prediction, so each
//!   distinct row over those features is scored once ([`Distinct`]: the packed words masked
//!   with the used features, de-duplicated with a hash table).
//! * Cell encodings are sparse (a NAS-Bench-101 path encoding has about 4 ones among 364
//!   features), so the trees are evaluated through their leaf masks ([`LeafMasks`]): a row
//!   visits only the nodes that test its 1 bits instead of walking every tree from its root,
//!   and the mean and spread are updated a tree at a time for a block of rows, a row per SIMD
//!   lane.
//!
//! A single tree (a Thompson draw) is walked bit by bit for every row ([`PackedTree`]).
//!
//! The results equal those of [`Forest::predict_mean_std`] and [`Forest::predict_member`] on
//! the same rows as float32 values, bit for bit: a bit `b` goes where `b as f64 <= threshold`
//! sends it, and the mean and spread are updated over the trees in the same order and with the
//! same operations (Welford's update).

use super::{Forest, ForestError};
use crate::par::{fill_rows, with_jobs, PAR_THRESHOLD};
use rayon::prelude::*;

/// Rows of 0/1 features packed 64 to a word: feature `c` of row `i` is bit `c % 64` of word
/// `words[i * words_per_row + c / 64]` (bits past the last feature are 0).
#[derive(Debug, Clone, Copy)]
pub struct PackedRows<'a> {
    words: &'a [u64],
    words_per_row: usize,
}

impl<'a> PackedRows<'a> {
    /// Rows of `words_per_row` words each (at least 1), one after the other.
    pub fn new(words: &'a [u64], words_per_row: usize) -> Result<PackedRows<'a>, ForestError> {
        if words_per_row == 0 {
            return Err(ForestError::BadStructure("packed rows need at least one word per row".into()));
        }
        if words.len() % words_per_row != 0 {
            return Err(ForestError::BadStructure(format!(
                "{} words are not rows of {words_per_row} words each",
                words.len()
            )));
        }
        Ok(PackedRows { words, words_per_row })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.words.len() / self.words_per_row
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Words per row.
    pub fn words_per_row(&self) -> usize {
        self.words_per_row
    }

    /// Number of features a row can hold (`64 * words_per_row`).
    pub fn n_columns(&self) -> usize {
        64 * self.words_per_row
    }

    #[inline]
    fn row(&self, i: usize) -> &'a [u64] {
        &self.words[i * self.words_per_row..(i + 1) * self.words_per_row]
    }
}

/// Packs `x` (rows of `d` values, each 0 or 1, row-major) into words (see [`PackedRows`]);
/// returns the words and the number of words per row (`ceil(d / 64)`, at least 1).
pub fn pack_rows(x: &[u8], d: usize) -> Result<(Vec<u64>, usize), ForestError> {
    if d == 0 {
        return Err(ForestError::NoFeatures);
    }
    if x.len() % d != 0 {
        return Err(ForestError::BadStructure(format!("X has {} values, not a multiple of {d} features", x.len())));
    }
    if let Some(k) = x.iter().position(|&v| v > 1) {
        return Err(ForestError::NotBinary { row: k / d, col: k % d, value: x[k] });
    }
    let w = d.div_ceil(64);
    let mut words = vec![0u64; x.len() / d * w];
    for (row, out) in x.chunks_exact(d).zip(words.chunks_exact_mut(w)) {
        for (c, &v) in row.iter().enumerate() {
            out[c / 64] |= u64::from(v) << (c % 64);
        }
    }
    Ok((words, w))
}

/// Whether the float path sends `value` right at a node with `threshold` (`x <= threshold`
/// goes left; thresholds are never NaN).
fn goes_right(value: f64, threshold: f64) -> bool {
    value > threshold
}

/// A node of a [`PackedTree`]: an internal node tests bit `shift` of word `word` and goes to
/// `child[(go >> bit) & 1]`; a leaf has `go & LEAF != 0`.
#[derive(Debug, Clone, Copy)]
struct Node {
    word: u32,
    shift: u8,
    go: u8,
    child: [u32; 2],
}

const LEAF: u8 = 4;

/// One tree rewritten for packed rows: a node tests one bit of a row.
struct PackedTree {
    nodes: Vec<Node>,
    value: Vec<f64>,
}

impl PackedTree {
    /// Tree `t` of `forest`, its feature `f` read from column `columns[f]`.
    fn new(forest: &Forest, t: usize, columns: &[usize]) -> PackedTree {
        let (tree_start, n) = forest.parts();
        let (a, b) = (tree_start[t] as usize, tree_start[t + 1] as usize);
        let nodes = (a..b)
            .map(|g| {
                if n.feature[g] < 0 {
                    return Node { word: 0, shift: 0, go: LEAF, child: [0, 0] };
                }
                let c = columns[n.feature[g] as usize];
                // the direction of a 0 bit and of a 1 bit, as the float path compares them
                let right0 = goes_right(0.0, n.threshold[g]);
                let right1 = goes_right(1.0, n.threshold[g]);
                Node { word: (c / 64) as u32, shift: (c % 64) as u8, go: u8::from(right0) | u8::from(right1) << 1, child: [n.left[g], n.right[g]] }
            })
            .collect();
        PackedTree { nodes, value: n.value[a..b].to_vec() }
    }

    #[inline]
    fn leaf_value(&self, row: &[u64]) -> f64 {
        let mut k = 0;
        loop {
            let node = self.nodes[k];
            if node.go & LEAF != 0 {
                return self.value[k];
            }
            let bit = (row[node.word as usize] >> node.shift) & 1;
            k = node.child[((u64::from(node.go) >> bit) & 1) as usize] as usize;
        }
    }
}

/// The trees of a forest as leaf masks, for rows that are mostly 0 (the QuickScorer idea of
/// Lucchese et al., SIGIR 2015, over the 1 bits of a row).
///
/// The leaves of each tree are numbered from left to right, so the leaves below the left child
/// of a node form a range. A row that goes right at a node cannot end in that range. Starting
/// from all leaves, clearing the range of every node where the row goes right leaves the exit
/// leaf as the leftmost survivor: the exit leaf is never cleared (it lies in the left subtree
/// of a node only if the node is on its path and sends the row left), and every leaf left of it
/// is cleared by the node where their paths part. A node sends a 0 bit and a 1 bit either the
/// same way (right: cleared for every row, in `base`; left: never) or 0 left and 1 right, and
/// only those nodes are visited, from the columns where a row has a 1.
struct LeafMasks {
    /// Per column (of the rows this forest reads): `entries[col_start[c]..col_start[c + 1]]`,
    /// the words of the mask array a 1 in column `c` changes and the bits it keeps there (the
    /// nodes of one tree on the same column merged; none for a column with a dense array).
    col_start: Vec<u32>,
    entries: Vec<(u32, u64)>,
    /// Columns with many entries instead keep the whole mask array to AND with (a few
    /// contiguous arrays per row, which vectorise): `dense[dense_at[c]..][..base.len()]`, or
    /// `dense_at[c] == u32::MAX`.
    dense_at: Vec<u32>,
    dense: Vec<u64>,
    /// The masks every row starts from; tree `t` owns words `word_start[t]..word_start[t + 1]`.
    base: Vec<u64>,
    word_start: Vec<u32>,
    /// Leaf `j` of tree `t` predicts `leaf_value[leaf_start[t] + j]`.
    leaf_value: Vec<f64>,
    leaf_start: Vec<u32>,
}

impl LeafMasks {
    /// `column_of(c)`: the column of packed column `c` in the rows this forest will read, which
    /// have `n_columns` columns.
    fn new(forest: &Forest, columns: &[usize], column_of: impl Fn(usize) -> usize, n_columns: usize) -> LeafMasks {
        let (tree_start, n) = forest.parts();
        let mut leaf_value = Vec::new();
        let mut leaf_start = vec![0u32];
        let mut word_start = vec![0u32];
        let mut base: Vec<u64> = Vec::new();
        // (column, word of the mask array, bits kept)
        let mut cleared: Vec<(usize, u32, u64)> = Vec::new();
        for t in 0..tree_start.len() - 1 {
            let a = tree_start[t] as usize;
            // leaves in left-to-right order, and the leaf range [lo, hi) below every node
            let size = tree_start[t + 1] as usize - a;
            let mut range = vec![(0u32, 0u32); size];
            let first_leaf = leaf_value.len();
            let mut stack = vec![(0usize, false)];
            while let Some((k, done)) = stack.pop() {
                let g = a + k;
                if n.feature[g] < 0 {
                    let j = (leaf_value.len() - first_leaf) as u32;
                    range[k] = (j, j + 1);
                    leaf_value.push(n.value[g]);
                } else if done {
                    range[k] = (range[n.left[g] as usize].0, range[n.right[g] as usize].1);
                } else {
                    stack.push((k, true));
                    stack.push((n.right[g] as usize, false));
                    stack.push((n.left[g] as usize, false));
                }
            }
            let leaves = leaf_value.len() - first_leaf;
            leaf_start.push(leaf_value.len() as u32);
            let w0 = base.len();
            let words = leaves.div_ceil(64);
            base.extend((0..words).map(|w| if 64 * (w + 1) <= leaves { u64::MAX } else { (1u64 << (leaves % 64)) - 1 }));
            word_start.push(base.len() as u32);
            for k in 0..size {
                let g = a + k;
                if n.feature[g] < 0 {
                    continue;
                }
                let right0 = goes_right(0.0, n.threshold[g]);
                let right1 = goes_right(1.0, n.threshold[g]);
                if !right1 {
                    continue; // both bits go left: no leaf is ever cleared
                }
                let (lo, hi) = (range[n.left[g] as usize].0 as usize, range[n.left[g] as usize].1 as usize);
                for w in lo / 64..hi.div_ceil(64) {
                    let (from, to) = (lo.max(64 * w) - 64 * w, hi.min(64 * (w + 1)) - 64 * w);
                    if right0 {
                        base[w0 + w] &= !span(from, to - from);
                    } else {
                        cleared.push((column_of(columns[n.feature[g] as usize]), (w0 + w) as u32, !span(from, to - from)));
                    }
                }
            }
        }
        // one entry per column and word: the nodes of a tree on one column act together
        cleared.sort_by_key(|e| (e.0, e.1));
        cleared.dedup_by(|later, kept| {
            let same = (later.0, later.1) == (kept.0, kept.1);
            if same {
                kept.2 &= later.2;
            }
            same
        });
        let mut col_start = vec![0u32; n_columns + 1];
        for e in &cleared {
            col_start[e.0 + 1] += 1;
        }
        for c in 0..n_columns {
            col_start[c + 1] += col_start[c];
        }
        // a column touching at least an eighth of the words is cheaper as a dense array (up to
        // DENSE_BYTES of them)
        let words = base.len();
        let mut dense_at = vec![u32::MAX; n_columns];
        let mut dense: Vec<u64> = Vec::new();
        let mut entries = Vec::with_capacity(cleared.len());
        for c in 0..n_columns {
            let own = &cleared[col_start[c] as usize..col_start[c + 1] as usize];
            if !own.is_empty() && 8 * own.len() >= words && 8 * (dense.len() + words) <= DENSE_BYTES {
                dense_at[c] = dense.len() as u32;
                let at = dense.len();
                dense.resize(at + words, u64::MAX);
                for &(_, w, m) in own {
                    dense[at + w as usize] = m;
                }
            }
        }
        let mut start = vec![0u32; n_columns + 1];
        for c in 0..n_columns {
            if dense_at[c] == u32::MAX {
                entries.extend(cleared[col_start[c] as usize..col_start[c + 1] as usize].iter().map(|&(_, w, m)| (w, m)));
            }
            start[c + 1] = entries.len() as u32;
        }
        LeafMasks { col_start: start, entries, dense_at, dense, base, word_start, leaf_value, leaf_start }
    }

    /// The exit leaf value of every tree for one row, into `values[t * stride + lane]`.
    #[inline]
    fn leaf_values(&self, row: &[u64], masks: &mut [u64], values: &mut [f64], stride: usize, lane: usize) {
        masks.copy_from_slice(&self.base);
        for (w, &word) in row.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let c = 64 * w + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let at = self.dense_at[c];
                if at != u32::MAX {
                    let keep = &self.dense[at as usize..at as usize + masks.len()];
                    masks.iter_mut().zip(keep).for_each(|(m, k)| *m &= k);
                    continue;
                }
                for &(at, keep) in &self.entries[self.col_start[c] as usize..self.col_start[c + 1] as usize] {
                    masks[at as usize] &= keep;
                }
            }
        }
        let trees = self.leaf_start.len() - 1;
        if self.base.len() == trees {
            // every tree has at most 64 leaves: one word each
            for (t, &m) in masks.iter().enumerate() {
                values[t * stride + lane] = self.leaf_value[self.leaf_start[t] as usize + m.trailing_zeros() as usize];
            }
            return;
        }
        for t in 0..trees {
            let own = &masks[self.word_start[t] as usize..self.word_start[t + 1] as usize];
            // the exit leaf always survives, so some word is not 0
            let w = own.iter().position(|&m| m != 0).unwrap_or(0);
            let leaf = 64 * w + own[w].trailing_zeros() as usize;
            values[t * stride + lane] = self.leaf_value[self.leaf_start[t] as usize + leaf];
        }
    }

    /// Mean over the trees (and the spread, if `spread` is not empty) of up to [`BLOCK`] rows:
    /// the operations of [`Forest::predict_mean_std`], in the same order, a row per lane.
    fn score_block<'r>(
        &self,
        rows: impl Iterator<Item = &'r [u64]>,
        mean: &mut [f64],
        spread: &mut [f64],
        scratch: &mut (Vec<u64>, Vec<f64>),
    ) {
        let (masks, values) = scratch;
        let t = self.leaf_start.len() - 1;
        values.iter_mut().for_each(|v| *v = 0.0);
        for (lane, row) in rows.enumerate() {
            self.leaf_values(row, masks, values, BLOCK, lane);
        }
        let (mut mu, mut m2) = ([0.0f64; BLOCK], [0.0f64; BLOCK]);
        for k in 0..t {
            let v = &values[k * BLOCK..(k + 1) * BLOCK];
            let count = (k + 1) as f64;
            if spread.is_empty() {
                for r in 0..BLOCK {
                    mu[r] += (v[r] - mu[r]) / count;
                }
            } else {
                for r in 0..BLOCK {
                    let delta = v[r] - mu[r];
                    mu[r] += delta / count;
                    m2[r] += delta * (v[r] - mu[r]);
                }
            }
        }
        let n = mean.len();
        mean.copy_from_slice(&mu[..n]);
        for (r, s) in spread.iter_mut().enumerate() {
            *s = (m2[r].max(0.0) / t as f64).sqrt();
        }
    }

    fn scratch(&self) -> (Vec<u64>, Vec<f64>) {
        (self.base.clone(), vec![0.0; (self.leaf_start.len() - 1) * BLOCK])
    }
}

/// Largest size of the dense mask arrays of [`LeafMasks`], in bytes.
const DENSE_BYTES: usize = 16 << 20;

/// `len` bits (1 to 64) from bit `from` on.
fn span(from: usize, len: usize) -> u64 {
    (u64::MAX >> (64 - len)) << from
}

/// Rows scored together by [`LeafMasks::score_block`] (their mean and spread are updated a
/// tree at a time, a row per SIMD lane).
const BLOCK: usize = 16;

/// The distinct rows of a selection over some columns: their masked words (`keys`, `width`
/// words each, in order of first appearance) and, for every selected row, the index of its
/// distinct row.
struct Distinct {
    keys: Vec<u64>,
    width: usize,
    inverse: Vec<u32>,
}

impl Distinct {
    /// `words[k]` of a key is word `words[k]` of a row masked with `masks[k]`.
    fn new(rows: PackedRows<'_>, select: &Selection<'_>, words: &[usize], masks: &[u64]) -> Distinct {
        let width = words.len();
        let n = select.len();
        let cap = (2 * n).next_power_of_two().max(16);
        let bits = cap.trailing_zeros();
        let mut slots = vec![u32::MAX; cap];
        let mut keys: Vec<u64> = Vec::new();
        let mut inverse = Vec::with_capacity(n);
        let mut key = vec![0u64; width];
        for j in 0..n {
            let row = rows.row(select.get(j));
            let mut h: u64 = 0;
            for k in 0..width {
                key[k] = row[words[k]] & masks[k];
                h = (h.rotate_left(5) ^ key[k]).wrapping_mul(0x517c_c1b7_2722_0a95);
            }
            // the high bits of a multiplicative hash are the well-mixed ones
            let mut s = if bits == 0 { 0 } else { (h >> (64 - bits)) as usize };
            let id = loop {
                let slot = slots[s];
                if slot == u32::MAX {
                    let id = (keys.len() / width.max(1)) as u32;
                    keys.extend_from_slice(&key);
                    slots[s] = id;
                    break id;
                }
                let at = slot as usize * width;
                if keys[at..at + width] == key[..] {
                    break slot;
                }
                s = (s + 1) & (cap - 1);
            };
            inverse.push(id);
        }
        Distinct { keys, width, inverse }
    }

    fn len(&self) -> usize {
        // without used columns every row is the same (empty) key
        self.keys.len().checked_div(self.width).unwrap_or(usize::from(!self.inverse.is_empty()))
    }
}

/// The rows to score: all of them, or the given indices.
enum Selection<'a> {
    All(usize),
    Some(&'a [usize]),
}

impl Selection<'_> {
    fn len(&self) -> usize {
        match self {
            Selection::All(n) => *n,
            Selection::Some(s) => s.len(),
        }
    }

    #[inline]
    fn get(&self, j: usize) -> usize {
        match self {
            Selection::All(_) => j,
            Selection::Some(s) => s[j],
        }
    }
}

impl Forest {
    /// The packed column of every feature of the forest (checked), and the selected rows.
    fn packed_args<'s>(
        &self,
        rows: PackedRows<'_>,
        columns: Option<&[usize]>,
        select: Option<&'s [usize]>,
    ) -> Result<(Vec<usize>, Selection<'s>), ForestError> {
        let columns: Vec<usize> = match columns {
            Some(c) => {
                if c.len() != self.n_features {
                    return Err(ForestError::FeatureMismatch { got: c.len(), expected: self.n_features });
                }
                c.to_vec()
            }
            None => (0..self.n_features).collect(),
        };
        if let Some((feature, &column)) = columns.iter().enumerate().find(|(_, &c)| c >= rows.n_columns()) {
            return Err(ForestError::ColumnOutOfRange { feature, column, n_columns: rows.n_columns() });
        }
        let select = match select {
            Some(s) => {
                if let Some((position, &row)) = s.iter().enumerate().find(|(_, &r)| r >= rows.len()) {
                    return Err(ForestError::RowOutOfRange { position, row, n_rows: rows.len() });
                }
                Selection::Some(s)
            }
            None => Selection::All(rows.len()),
        };
        Ok((columns, select))
    }

    /// Mean (and, with `std`, spread) of the selected rows, each distinct row over the used
    /// features scored once.
    fn packed_mean_std(
        &self,
        rows: PackedRows<'_>,
        columns: Option<&[usize]>,
        select: Option<&[usize]>,
        std: bool,
        n_jobs: Option<usize>,
    ) -> Result<(Vec<f64>, Vec<f64>), ForestError> {
        let (columns, select) = self.packed_args(rows, columns, select)?;
        // the words holding a used column, and which of their bits are used
        let mut mask = vec![0u64; rows.words_per_row()];
        for f in self.used_features() {
            mask[columns[f] / 64] |= 1 << (columns[f] % 64);
        }
        let words: Vec<usize> = (0..mask.len()).filter(|&w| mask[w] != 0).collect();
        let masks: Vec<u64> = words.iter().map(|&w| mask[w]).collect();
        let mut key_word = vec![0usize; mask.len()];
        for (k, &w) in words.iter().enumerate() {
            key_word[w] = k;
        }
        let width = words.len();
        let trees = LeafMasks::new(self, &columns, |c| 64 * key_word[c / 64] + c % 64, 64 * width);
        let distinct = Distinct::new(rows, &select, &words, &masks);
        let m = distinct.len();
        let mut mean = vec![0.0; m];
        let mut spread = vec![0.0; if std { m } else { 0 }];
        let empty: [u64; 0] = [];
        let key = |i: usize| if width == 0 { &empty[..] } else { &distinct.keys[i * width..(i + 1) * width] };
        let score = |b: usize, mean: &mut [f64], spread: &mut [f64], scratch: &mut (Vec<u64>, Vec<f64>)| {
            let first = b * BLOCK;
            trees.score_block((first..first + mean.len()).map(key), mean, spread, scratch);
        };
        let spread_blocks: Vec<&mut [f64]> =
            if std { spread.chunks_mut(BLOCK).collect() } else { (0..m.div_ceil(BLOCK)).map(|_| &mut [][..]).collect() };
        let blocks: Vec<(&mut [f64], &mut [f64])> = mean.chunks_mut(BLOCK).zip(spread_blocks).collect();
        if m < PAR_THRESHOLD || n_jobs == Some(1) {
            let mut scratch = trees.scratch();
            blocks.into_iter().enumerate().for_each(|(b, (mu, sd))| score(b, mu, sd, &mut scratch));
        } else {
            with_jobs(n_jobs, || {
                blocks.into_par_iter().enumerate().for_each_init(|| trees.scratch(), |scratch, (b, (mu, sd))| score(b, mu, sd, scratch))
            });
        }
        let mean = distinct.inverse.iter().map(|&i| mean[i as usize]).collect();
        let spread = if std { distinct.inverse.iter().map(|&i| spread[i as usize]).collect() } else { Vec::new() };
        Ok((mean, spread))
    }

    /// [`Forest::predict_mean_std`] of packed 0/1 rows: feature `f` of the forest is column
    /// `columns[f]` of `rows` (`None`: column `f`), and `select` names the rows to score
    /// (`None`: all, in order). Equal bit for bit to `predict_mean_std` on the same rows as
    /// float32 values.
    pub fn predict_mean_std_packed(
        &self,
        rows: PackedRows<'_>,
        columns: Option<&[usize]>,
        select: Option<&[usize]>,
        n_jobs: Option<usize>,
    ) -> Result<(Vec<f64>, Vec<f64>), ForestError> {
        self.packed_mean_std(rows, columns, select, true, n_jobs)
    }

    /// The mean of [`Forest::predict_mean_std_packed`] alone (the spread is not computed).
    pub fn predict_mean_packed(
        &self,
        rows: PackedRows<'_>,
        columns: Option<&[usize]>,
        select: Option<&[usize]>,
        n_jobs: Option<usize>,
    ) -> Result<Vec<f64>, ForestError> {
        Ok(self.packed_mean_std(rows, columns, select, false, n_jobs)?.0)
    }

    /// [`Forest::predict_member`] of packed 0/1 rows (`columns` and `select` as in
    /// [`Forest::predict_mean_std_packed`]).
    pub fn predict_member_packed(
        &self,
        rows: PackedRows<'_>,
        columns: Option<&[usize]>,
        select: Option<&[usize]>,
        tree: i64,
        n_jobs: Option<usize>,
    ) -> Result<Vec<f64>, ForestError> {
        if tree < 0 || tree as usize >= self.n_estimators() {
            return Err(ForestError::TreeOutOfRange { tree, n_estimators: self.n_estimators() });
        }
        let (columns, select) = self.packed_args(rows, columns, select)?;
        let packed_tree = PackedTree::new(self, tree as usize, &columns);
        let mut out = vec![0.0; select.len()];
        fill_rows(&mut out, 1, n_jobs, |j, o| o[0] = packed_tree.leaf_value(rows.row(select.get(j))));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::ForestParams;
    use super::*;
    use crate::rng::Rng;

    /// Sparse 0/1 rows (many repeated over few features) and a target of the first features.
    fn binary(n: usize, d: usize, seed: u64) -> (Vec<u8>, Vec<f64>) {
        let mut r = Rng::new(seed);
        let x: Vec<u8> = (0..n * d).map(|_| u8::from(r.uniform() < 0.15)).collect();
        let y = (0..n).map(|i| x[i * d..i * d + 8].iter().map(|&v| f64::from(v)).sum::<f64>() + r.uniform()).collect();
        (x, y)
    }

    fn floats(x: &[u8]) -> Vec<f32> {
        x.iter().map(|&v| f32::from(v)).collect()
    }

    #[test]
    fn packing_puts_column_c_at_bit_c_mod_64() {
        let d = 130;
        let mut x = vec![0u8; 2 * d];
        for c in [0, 5, 63, 64, 129] {
            x[c] = 1;
        }
        x[d + 70] = 1;
        let (words, w) = pack_rows(&x, d).unwrap();
        assert_eq!(w, 3);
        assert_eq!(words, vec![1 | 1 << 5 | 1 << 63, 1, 1 << 1, 0, 1 << 6, 0]);
        assert!(matches!(pack_rows(&[0, 1, 2, 0], 2), Err(ForestError::NotBinary { row: 1, col: 0, value: 2 })));
        assert!(matches!(pack_rows(&[0, 1, 1], 2), Err(ForestError::BadStructure(_))));
    }

    #[test]
    fn packed_scores_equal_the_float_path_bit_for_bit() {
        // more features than one word, a forest on a column subset mapped to packed columns,
        // a selection with repeats, and both thread settings
        let (d, n) = (150, 3000);
        let (x, y_all) = binary(n, d, 1);
        let x = &x[..];
        let train: Vec<usize> = (0..n).step_by(17).collect();
        let columns: Vec<usize> = (0..d).filter(|c| c % 3 != 1).collect();
        let xt: Vec<f32> = train.iter().flat_map(|&i| columns.iter().map(move |&c| f32::from(x[i * d + c]))).collect();
        let yt: Vec<f64> = train.iter().map(|&i| y_all[i]).collect();
        let p = ForestParams { n_estimators: 30, min_samples_leaf: 2, max_features: Some(columns.len() / 2), ..Default::default() };
        let forest = Forest::fit(&xt, columns.len(), &yt, &p, 4, None).unwrap();
        let (words, w) = pack_rows(x, d).unwrap();
        let rows = PackedRows::new(&words, w).unwrap();
        let select: Vec<usize> = (0..n).rev().step_by(2).chain([5, 5, 7]).collect();
        let dense: Vec<f32> = select.iter().flat_map(|&i| columns.iter().map(move |&c| f32::from(x[i * d + c]))).collect();
        let (m_ref, s_ref) = forest.predict_mean_std(&dense, columns.len(), Some(1)).unwrap();
        for jobs in [Some(1), Some(2)] {
            let (m, s) = forest.predict_mean_std_packed(rows, Some(&columns), Some(&select), jobs).unwrap();
            assert_eq!(m, m_ref);
            assert_eq!(s, s_ref);
            assert_eq!(forest.predict_mean_packed(rows, Some(&columns), Some(&select), jobs).unwrap(), m_ref);
            for t in [0, 29] {
                let member = forest.predict_member_packed(rows, Some(&columns), Some(&select), t, jobs).unwrap();
                assert_eq!(member, forest.predict_member(&dense, columns.len(), t, Some(1)).unwrap());
            }
        }
        // no column map and no selection: the forest's features are the first columns; trees
        // grown to leaves of one sample have several mask words each
        let full = ForestParams { n_estimators: 4, bootstrap: false, max_features: Some(d / 2), ..Default::default() };
        for p in [p, full.clone()] {
            let forest = Forest::fit(&floats(&x[..600 * d]), d, &y_all[..600], &p, 5, None).unwrap();
            let (m, s) = forest.predict_mean_std_packed(rows, None, None, None).unwrap();
            assert_eq!((m, s), forest.predict_mean_std(&floats(x), d, None).unwrap());
        }
        let leaves = LeafMasks::new(&Forest::fit(&floats(&x[..600 * d]), d, &y_all[..600], &full, 5, None).unwrap(), &(0..d).collect::<Vec<_>>(), |c| c, d);
        assert!(leaves.base.len() > 4 * 3, "trees of more than 128 leaves");
    }

    #[test]
    fn any_threshold_routes_a_bit_as_the_float_path() {
        // hand-made stumps whose thresholds send 0 and 1 both left, both right, or apart
        for threshold in [-0.5, 0.0, 0.25, 0.5, 1.0, 1.5] {
            let nodes = super::super::Nodes {
                feature: vec![1, -1, -1],
                threshold: vec![threshold, 0.0, 0.0],
                left: vec![1, 0, 0],
                right: vec![2, 0, 0],
                value: vec![0.0, 10.0, 20.0],
            };
            let forest = Forest::from_parts(2, vec![0, 3], nodes).unwrap();
            let x = [0u8, 0, 0, 1, 1, 0, 1, 1];
            let (words, w) = pack_rows(&x, 2).unwrap();
            let rows = PackedRows::new(&words, w).unwrap();
            let expected = forest.predict_member(&floats(&x), 2, 0, None).unwrap();
            assert_eq!(forest.predict_member_packed(rows, None, None, 0, None).unwrap(), expected, "{threshold}");
            assert_eq!(forest.predict_mean_packed(rows, None, None, None).unwrap(), expected, "{threshold}");
        }
    }

    #[test]
    fn rows_equal_on_the_used_features_are_scored_once() {
        let (x, y) = binary(400, 40, 2);
        let p = ForestParams { n_estimators: 5, max_depth: Some(2), ..Default::default() };
        let forest = Forest::fit(&floats(&x), 40, &y, &p, 1, None).unwrap();
        let used = forest.used_features();
        let (words, w) = pack_rows(&x, 40).unwrap();
        let rows = PackedRows::new(&words, w).unwrap();
        let mut mask = 0u64;
        for &f in &used {
            mask |= 1 << f;
        }
        let distinct = Distinct::new(rows, &Selection::All(400), &[0], &[mask]);
        let mut expected: Vec<u64> = words.iter().map(|v| v & mask).collect();
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(distinct.len(), expected.len());
        assert!(distinct.len() <= 1 << used.len());
        for (i, w) in words.iter().enumerate() {
            assert_eq!(distinct.keys[distinct.inverse[i] as usize], w & mask);
        }
    }

    #[test]
    fn bad_arguments_are_refused() {
        let (x, y) = binary(50, 10, 3);
        let forest = Forest::fit(&floats(&x), 10, &y, &ForestParams { n_estimators: 3, ..Default::default() }, 0, None).unwrap();
        let (words, w) = pack_rows(&x, 10).unwrap();
        let rows = PackedRows::new(&words, w).unwrap();
        assert!(matches!(PackedRows::new(&words[..3], 2), Err(ForestError::BadStructure(_))));
        let short = [0usize; 9];
        assert!(matches!(
            forest.predict_mean_packed(rows, Some(&short), None, None),
            Err(ForestError::FeatureMismatch { got: 9, expected: 10 })
        ));
        let far: Vec<usize> = (0..9).chain([64]).collect();
        assert!(matches!(
            forest.predict_mean_std_packed(rows, Some(&far), None, None),
            Err(ForestError::ColumnOutOfRange { feature: 9, column: 64, n_columns: 64 })
        ));
        assert!(matches!(
            forest.predict_mean_packed(rows, None, Some(&[3, 50]), None),
            Err(ForestError::RowOutOfRange { position: 1, row: 50, n_rows: 50 })
        ));
        assert!(matches!(forest.predict_member_packed(rows, None, None, 3, None), Err(ForestError::TreeOutOfRange { .. })));
        // a forest on more features than the packed rows hold, without a column map
        let wide = Forest::fit(&vec![0.0; 2 * 70], 70, &[0.0, 1.0], &ForestParams::default(), 0, None).unwrap();
        assert!(matches!(wide.predict_mean_packed(rows, None, None, None), Err(ForestError::ColumnOutOfRange { .. })));
        assert_eq!(forest.predict_mean_packed(rows, None, Some(&[]), None).unwrap(), Vec::<f64>::new());
    }
}
