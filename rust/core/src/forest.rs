//! Random forests of regression trees (CART with the squared-error criterion), fitted and
//! evaluated in bulk.
//!
//! The search loop refits its predictor on every round on a few hundred cells; a forest of
//! that size takes about a millisecond per tree in a general-purpose Python library, almost
//! all of it per-tree overhead. Here a whole forest of 100 trees fits in a few milliseconds.
//!
//! The split rule is the usual one: at every node, features are drawn without replacement until
//! `max_features` features that are not constant on the node have been tried; on each, every
//! threshold between two consecutive distinct values that leaves at least `min_samples_leaf`
//! samples on both sides is scored by the proxy `sum_left^2 / n_left + sum_right^2 / n_right`
//! (maximised; the first best in drawing order, then in threshold order, wins); the threshold is
//! the midpoint of the two values and `x <= threshold` goes left. A node is a leaf when it has
//! fewer than `min_samples_split` or `2 * min_samples_leaf` samples, reaches `max_depth`, has a
//! variance of at most `f64::EPSILON`, or has no valid split. A leaf predicts the mean of its
//! samples. With `bootstrap`, every tree is grown on `n` draws with replacement.
//!
//! Tree `t` draws from its own generator seeded with `item_seed(seed, t)`, so a forest does not
//! depend on the number of threads.

mod packed;

pub use packed::{pack_rows, PackedRows};

use crate::par::{fill_rows, with_jobs};
use crate::rng::{item_seed, Rng};
use rayon::prelude::*;
use thiserror::Error;

/// Why a forest cannot be fitted, rebuilt or evaluated.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ForestError {
    #[error("X has {rows} rows but y has {len} values")]
    LengthMismatch { rows: usize, len: usize },
    #[error("cannot fit a forest on 0 samples")]
    NoSamples,
    #[error("X has 0 features")]
    NoFeatures,
    #[error("X[{row}, {col}] = {value} is not finite")]
    NonFiniteX { row: usize, col: usize, value: f32 },
    #[error("y[{row}] = {value} is not finite")]
    NonFiniteY { row: usize, value: f64 },
    #[error("{name} = {value}: {rule}")]
    BadParam { name: &'static str, value: String, rule: &'static str },
    #[error("X has {got} features, but the forest was fitted on {expected}")]
    FeatureMismatch { got: usize, expected: usize },
    #[error("tree {tree} is out of range for a forest of {n_estimators} trees")]
    TreeOutOfRange { tree: i64, n_estimators: usize },
    #[error("not a valid forest: {0}")]
    BadStructure(String),
    #[error("X[{row}, {col}] = {value}: packed rows hold only 0 and 1")]
    NotBinary { row: usize, col: usize, value: u8 },
    #[error("feature {feature} is mapped to column {column}, but the packed rows have {n_columns} columns")]
    ColumnOutOfRange { feature: usize, column: usize, n_columns: usize },
    #[error("rows[{position}] = {row} is out of range for {n_rows} packed rows")]
    RowOutOfRange { position: usize, row: usize, n_rows: usize },
    #[error("cannot allocate {bytes} bytes for {what}")]
    OutOfMemory { what: &'static str, bytes: u128 },
}

/// The largest number of trees a forest may have.
pub const MAX_ESTIMATORS: usize = 100_000;

/// How a forest is grown.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestParams {
    /// Number of trees (at least 1).
    pub n_estimators: usize,
    /// Non-constant features tried per split, `1..=n_features`; `None`: all of them.
    pub max_features: Option<usize>,
    /// A node with fewer samples is a leaf (at least 2).
    pub min_samples_split: usize,
    /// Every leaf keeps at least this many samples (at least 1).
    pub min_samples_leaf: usize,
    /// Depth limit (the root has depth 0); `None`: grow until the leaves are pure or small.
    pub max_depth: Option<usize>,
    /// Grow every tree on a bootstrap sample.
    pub bootstrap: bool,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams { n_estimators: 100, max_features: None, min_samples_split: 2, min_samples_leaf: 1, max_depth: None, bootstrap: true }
    }
}

impl ForestParams {
    fn check(&self, n_features: usize) -> Result<(), ForestError> {
        let bad = |name, value: usize, rule| Err(ForestError::BadParam { name, value: value.to_string(), rule });
        if self.n_estimators == 0 {
            return bad("n_estimators", 0, "must be at least 1");
        }
        if self.n_estimators > MAX_ESTIMATORS {
            return bad("n_estimators", self.n_estimators, "must be at most 100000 (nasfast_core::forest::MAX_ESTIMATORS)");
        }
        if let Some(m) = self.max_features {
            if m == 0 || m > n_features {
                return Err(ForestError::BadParam {
                    name: "max_features",
                    value: m.to_string(),
                    rule: "must be between 1 and the number of features",
                });
            }
        }
        if self.min_samples_split < 2 {
            return bad("min_samples_split", self.min_samples_split, "must be at least 2");
        }
        if self.min_samples_leaf == 0 {
            return bad("min_samples_leaf", 0, "must be at least 1");
        }
        if self.max_depth == Some(0) {
            return bad("max_depth", 0, "must be at least 1 (or None)");
        }
        Ok(())
    }
}

/// The nodes of one or more trees in flat arrays: an internal node has `feature >= 0`, a
/// `threshold` (`x[feature] <= threshold` goes left) and the indices of its `left` and `right`
/// children inside its tree, which are always larger than its own; a leaf has `feature == -1`.
/// `value` is the mean of the node's samples (the prediction of a leaf).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Nodes {
    pub feature: Vec<i32>,
    pub threshold: Vec<f64>,
    pub left: Vec<u32>,
    pub right: Vec<u32>,
    pub value: Vec<f64>,
}

impl Nodes {
    fn push_leaf(&mut self) -> usize {
        self.feature.push(-1);
        self.threshold.push(0.0);
        self.left.push(0);
        self.right.push(0);
        self.value.push(0.0);
        self.feature.len() - 1
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.feature.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.feature.is_empty()
    }

    fn append(&mut self, other: Nodes) {
        self.feature.extend(other.feature);
        self.threshold.extend(other.threshold);
        self.left.extend(other.left);
        self.right.extend(other.right);
        self.value.extend(other.value);
    }
}

/// A fitted forest: the [`Nodes`] of all trees one after the other; node `k` of tree `t` is
/// entry `tree_start[t] + k`, and node 0 of a tree is its root.
#[derive(Debug, Clone, PartialEq)]
pub struct Forest {
    n_features: usize,
    tree_start: Vec<u32>,
    nodes: Nodes,
}

/// The best split found so far at a node.
struct Split {
    proxy: f64,
    feature: usize,
    threshold: f64,
}

/// The training data, shared by the trees: the columns of `X` (column-major, so that the values
/// of one feature on a node's samples are close together) and, when every value is 0 or 1 (the
/// path and adjacency encodings), the features equal to 1 in every row.
struct Data<'a> {
    rows: usize,
    d: usize,
    columns: Vec<f32>,
    y: &'a [f64],
    /// `ones[starts[i]..starts[i + 1]]`: the features of row `i` equal to 1.
    ones: Option<(Vec<usize>, Vec<u32>)>,
}

impl<'a> Data<'a> {
    fn new(x: &[f32], d: usize, y: &'a [f64], sparse: bool) -> Data<'a> {
        let rows = y.len();
        let mut columns = vec![0f32; x.len()];
        for (i, row) in x.chunks_exact(d).enumerate() {
            for (f, &v) in row.iter().enumerate() {
                columns[f * rows + i] = v;
            }
        }
        let ones = (sparse && x.iter().all(|&v| v == 0.0 || v == 1.0)).then(|| {
            let mut starts = Vec::with_capacity(rows + 1);
            let mut feats = Vec::new();
            starts.push(0);
            for row in x.chunks_exact(d) {
                feats.extend(row.iter().enumerate().filter(|(_, &v)| v == 1.0).map(|(f, _)| f as u32));
                starts.push(feats.len());
            }
            (starts, feats)
        });
        Data { rows, d, columns, y, ones }
    }

    #[inline]
    fn x(&self, i: u32, f: usize) -> f32 {
        self.columns[f * self.rows + i as usize]
    }
}

/// Scratch space of one tree.
struct Grower<'a> {
    data: &'a Data<'a>,
    p: &'a ForestParams,
    max_features: usize,
    rng: Rng,
    features: Vec<u32>,
    pairs: Vec<(f32, f64)>,
    /// Per feature, on the current node of 0/1 data: samples equal to 1 and the sum of their y.
    ones_count: Vec<u32>,
    ones_sum: Vec<f64>,
    /// Use the 0/1 and two-valued shortcuts (off only to test them against the sorted scan).
    shortcuts: bool,
}

impl Grower<'_> {
    /// Scores the split between `lo` (`n_lo` samples with sum `sum_lo`) and `hi` (the rest).
    #[allow(clippy::too_many_arguments)]
    fn offer(&self, best: &mut Option<Split>, f: usize, n: usize, n_lo: usize, sum: f64, sum_lo: f64, lo: f32, hi: f32) {
        let min_leaf = self.p.min_samples_leaf;
        if n_lo < min_leaf || n - n_lo < min_leaf {
            return;
        }
        let sum_hi = sum - sum_lo;
        let proxy = sum_lo * sum_lo / n_lo as f64 + sum_hi * sum_hi / (n - n_lo) as f64;
        if best.as_ref().is_none_or(|b| proxy > b.proxy) {
            *best = Some(Split { proxy, feature: f, threshold: midpoint(lo, hi) });
        }
    }

    /// Tries feature `f` on the node's samples `s` (total `sum`); returns false if it is
    /// constant there.
    fn try_feature(&mut self, f: usize, s: &[u32], sum: f64, best: &mut Option<Split>) -> bool {
        let data = self.data;
        let n = s.len();
        if data.ones.is_some() && self.shortcuts {
            let c = self.ones_count[f] as usize;
            if c == 0 || c == n {
                return false;
            }
            self.offer(best, f, n, n - c, sum, sum - self.ones_sum[f], 0.0, 1.0);
            return true;
        }
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &i in s {
            let v = data.x(i, f);
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo == hi {
            return false;
        }
        if self.shortcuts {
            let (mut n_lo, mut sum_lo) = (0usize, 0.0);
            let mut two_valued = true;
            for &i in s {
                let v = data.x(i, f);
                if v == lo {
                    n_lo += 1;
                    sum_lo += data.y[i as usize];
                } else if v != hi {
                    two_valued = false;
                    break;
                }
            }
            if two_valued {
                // the only split is between the two values
                self.offer(best, f, n, n_lo, sum, sum_lo, lo, hi);
                return true;
            }
        }
        self.pairs.clear();
        self.pairs.extend(s.iter().map(|&i| (data.x(i, f), data.y[i as usize])));
        self.pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let mut sum_left = 0.0;
        for pos in 1..n {
            sum_left += self.pairs[pos - 1].1;
            if self.pairs[pos - 1].0 < self.pairs[pos].0 {
                let (lo, hi) = (self.pairs[pos - 1].0, self.pairs[pos].0);
                self.offer(best, f, n, pos, sum, sum_left, lo, hi);
            }
        }
        true
    }

    /// The best split of the node's samples `s`, if any.
    fn best_split(&mut self, s: &[u32], sum: f64) -> Option<Split> {
        if let (Some((starts, feats)), true) = (&self.data.ones, self.shortcuts) {
            self.ones_count.iter_mut().for_each(|c| *c = 0);
            self.ones_sum.iter_mut().for_each(|c| *c = 0.0);
            for &i in s {
                let v = self.data.y[i as usize];
                for &f in &feats[starts[i as usize]..starts[i as usize + 1]] {
                    self.ones_count[f as usize] += 1;
                    self.ones_sum[f as usize] += v;
                }
            }
        }
        let mut best = None;
        let mut undrawn = self.data.d;
        let mut tried = 0;
        while undrawn > 0 && tried < self.max_features {
            let j = self.rng.below(undrawn as u64) as usize;
            self.features.swap(j, undrawn - 1);
            undrawn -= 1;
            let f = self.features[undrawn] as usize;
            if self.try_feature(f, s, sum, &mut best) {
                tried += 1;
            }
        }
        best
    }

    fn grow(mut self) -> Nodes {
        let n = self.data.rows;
        let mut samples: Vec<u32> =
            if self.p.bootstrap { (0..n).map(|_| self.rng.below(n as u64) as u32).collect() } else { (0..n as u32).collect() };
        let mut right_part: Vec<u32> = Vec::with_capacity(n);
        let mut tree = Nodes::default();
        tree.push_leaf();
        // (node, start, end, depth); the left child is grown first
        let mut stack = vec![(0usize, 0usize, n, 0usize)];
        while let Some((node, start, end, depth)) = stack.pop() {
            let s = &samples[start..end];
            let count = s.len();
            let (mut sum, mut sq) = (0.0, 0.0);
            for &i in s {
                let v = self.data.y[i as usize];
                sum += v;
                sq += v * v;
            }
            let mean = sum / count as f64;
            tree.value[node] = mean;
            let variance = sq / count as f64 - mean * mean;
            if count < self.p.min_samples_split
                || count < 2 * self.p.min_samples_leaf
                || self.p.max_depth.is_some_and(|m| depth >= m)
                || variance <= f64::EPSILON
            {
                continue;
            }
            let Some(split) = self.best_split(s, sum) else { continue };
            // stable partition: x <= threshold to the left
            right_part.clear();
            let mut l = start;
            for k in start..end {
                let i = samples[k];
                if f64::from(self.data.x(i, split.feature)) <= split.threshold {
                    samples[l] = i;
                    l += 1;
                } else {
                    right_part.push(i);
                }
            }
            samples[l..end].copy_from_slice(&right_part);
            let lid = tree.push_leaf();
            let rid = tree.push_leaf();
            tree.feature[node] = split.feature as i32;
            tree.threshold[node] = split.threshold;
            tree.left[node] = lid as u32;
            tree.right[node] = rid as u32;
            stack.push((rid, l, end, depth + 1));
            stack.push((lid, start, l, depth + 1));
        }
        tree
    }
}

/// The threshold between two consecutive distinct values: their midpoint, or the lower value
/// if the midpoint rounds up to the upper one.
fn midpoint(lo: f32, hi: f32) -> f64 {
    let (lo, hi) = (f64::from(lo), f64::from(hi));
    let m = lo / 2.0 + hi / 2.0;
    if m >= hi || !m.is_finite() {
        lo
    } else {
        m
    }
}

fn check_x(x: &[f32], d: usize) -> Result<usize, ForestError> {
    if d == 0 {
        return Err(ForestError::NoFeatures);
    }
    if x.len() % d != 0 {
        return Err(ForestError::BadStructure(format!("X has {} values, not a multiple of {d} features", x.len())));
    }
    if let Some(k) = x.iter().position(|v| !v.is_finite()) {
        return Err(ForestError::NonFiniteX { row: k / d, col: k % d, value: x[k] });
    }
    Ok(x.len() / d)
}

impl Forest {
    /// Fits a forest on `x` (`y.len()` rows of `n_features` values, row-major) and `y`.
    pub fn fit(
        x: &[f32],
        n_features: usize,
        y: &[f64],
        params: &ForestParams,
        seed: u64,
        n_jobs: Option<usize>,
    ) -> Result<Forest, ForestError> {
        Self::fit_with(x, n_features, y, params, seed, n_jobs, true)
    }

    fn fit_with(
        x: &[f32],
        n_features: usize,
        y: &[f64],
        params: &ForestParams,
        seed: u64,
        n_jobs: Option<usize>,
        shortcuts: bool,
    ) -> Result<Forest, ForestError> {
        let rows = check_x(x, n_features)?;
        if rows != y.len() {
            return Err(ForestError::LengthMismatch { rows, len: y.len() });
        }
        if rows == 0 {
            return Err(ForestError::NoSamples);
        }
        if let Some(k) = y.iter().position(|v| !v.is_finite()) {
            return Err(ForestError::NonFiniteY { row: k, value: y[k] });
        }
        params.check(n_features)?;
        let data = Data::new(x, n_features, y, shortcuts);
        let grow = |t: usize| {
            Grower {
                data: &data,
                p: params,
                max_features: params.max_features.unwrap_or(n_features),
                rng: Rng::new(item_seed(seed, t as u64)),
                features: (0..n_features as u32).collect(),
                pairs: Vec::with_capacity(rows),
                ones_count: vec![0; if data.ones.is_some() { n_features } else { 0 }],
                ones_sum: vec![0.0; if data.ones.is_some() { n_features } else { 0 }],
                shortcuts,
            }
            .grow()
        };
        let trees: Vec<Nodes> = if n_jobs == Some(1) || params.n_estimators == 1 {
            (0..params.n_estimators).map(grow).collect()
        } else {
            with_jobs(n_jobs, || (0..params.n_estimators).into_par_iter().map(grow).collect())
        };
        let mut tree_start = Vec::with_capacity(trees.len() + 1);
        tree_start.push(0);
        let mut nodes = Nodes::default();
        for t in trees {
            nodes.append(t);
            tree_start.push(nodes.len() as u32);
        }
        Ok(Forest { n_features, tree_start, nodes })
    }

    /// Rebuilds a forest from its arrays (see [`Forest::parts`]), checking that they describe
    /// trees every row can be routed through.
    pub fn from_parts(n_features: usize, tree_start: Vec<u32>, nodes: Nodes) -> Result<Forest, ForestError> {
        let bad = |msg: String| Err(ForestError::BadStructure(msg));
        let Nodes { feature, threshold, left, right, value } = &nodes;
        let n = feature.len();
        if threshold.len() != n || left.len() != n || right.len() != n || value.len() != n {
            return bad(format!(
                "node arrays have different lengths (feature {n}, threshold {}, left {}, right {}, value {})",
                threshold.len(),
                left.len(),
                right.len(),
                value.len()
            ));
        }
        if n_features == 0 {
            return Err(ForestError::NoFeatures);
        }
        if tree_start.len() < 2 || tree_start[0] != 0 || *tree_start.last().unwrap() as usize != n {
            return bad(format!("tree_start must run from 0 to the number of nodes ({n}) and name at least one tree"));
        }
        for t in 0..tree_start.len() - 1 {
            let (a, b) = (tree_start[t] as usize, tree_start[t + 1] as usize);
            if b <= a {
                return bad(format!("tree {t} has no nodes"));
            }
            for k in 0..b - a {
                let g = a + k;
                if feature[g] < 0 {
                    if feature[g] != -1 || !value[g].is_finite() {
                        return bad(format!("tree {t} node {k}: a leaf needs feature -1 and a finite value"));
                    }
                    continue;
                }
                if feature[g] as usize >= n_features {
                    return bad(format!("tree {t} node {k}: feature {} is not below n_features = {n_features}", feature[g]));
                }
                if threshold[g].is_nan() {
                    return bad(format!("tree {t} node {k}: the threshold is NaN"));
                }
                for c in [left[g] as usize, right[g] as usize] {
                    if c <= k || c >= b - a {
                        return bad(format!("tree {t} node {k}: child {c} must come after the node and lie in the tree"));
                    }
                }
            }
        }
        Ok(Forest { n_features, tree_start, nodes })
    }

    /// The arrays of [`Forest::from_parts`]: `tree_start` and the nodes.
    pub fn parts(&self) -> (&[u32], &Nodes) {
        (&self.tree_start, &self.nodes)
    }

    /// Number of trees.
    pub fn n_estimators(&self) -> usize {
        self.tree_start.len() - 1
    }

    /// Number of features of the rows it was fitted on.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of nodes of all trees.
    pub fn n_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// The features some node splits on, ascending.
    pub fn used_features(&self) -> Vec<usize> {
        let mut used = vec![false; self.n_features];
        for &f in &self.nodes.feature {
            if f >= 0 {
                used[f as usize] = true;
            }
        }
        (0..self.n_features).filter(|&f| used[f]).collect()
    }

    #[inline]
    fn leaf_value(&self, t: usize, row: &[f32]) -> f64 {
        let nodes = &self.nodes;
        let base = self.tree_start[t] as usize;
        let mut g = base;
        loop {
            let f = nodes.feature[g];
            if f < 0 {
                return nodes.value[g];
            }
            let next = if f64::from(row[f as usize]) <= nodes.threshold[g] { nodes.left[g] } else { nodes.right[g] };
            g = base + next as usize;
        }
    }

    /// The number of rows of `x` (rows of `n_cols` values), which must match the forest.
    fn rows(&self, x: &[f32], n_cols: usize) -> Result<usize, ForestError> {
        if n_cols != self.n_features {
            return Err(ForestError::FeatureMismatch { got: n_cols, expected: self.n_features });
        }
        check_x(x, self.n_features)
    }

    /// The prediction of every tree for every row of `x` (rows of `n_cols` values):
    /// `rows x n_estimators` values, row-major.
    pub fn predict_members(&self, x: &[f32], n_cols: usize, n_jobs: Option<usize>) -> Result<Vec<f64>, ForestError> {
        let rows = self.rows(x, n_cols)?;
        let (d, t) = (self.n_features, self.n_estimators());
        let mut out = crate::limits::product(rows, t, 8, "the tree predictions")
            .and_then(|len| crate::limits::vec_filled(len, 0.0, "the tree predictions"))
            .map_err(|_| ForestError::OutOfMemory { what: "the tree predictions", bytes: rows as u128 * t as u128 * 8 })?;
        fill_rows(&mut out, t, n_jobs, |i, o| {
            let row = &x[i * d..(i + 1) * d];
            for (k, v) in o.iter_mut().enumerate() {
                *v = self.leaf_value(k, row);
            }
        });
        Ok(out)
    }

    /// The prediction of tree `tree` for every row.
    pub fn predict_member(&self, x: &[f32], n_cols: usize, tree: i64, n_jobs: Option<usize>) -> Result<Vec<f64>, ForestError> {
        if tree < 0 || tree as usize >= self.n_estimators() {
            return Err(ForestError::TreeOutOfRange { tree, n_estimators: self.n_estimators() });
        }
        let rows = self.rows(x, n_cols)?;
        let d = self.n_features;
        let mut out = vec![0.0; rows];
        fill_rows(&mut out, 1, n_jobs, |i, o| o[0] = self.leaf_value(tree as usize, &x[i * d..(i + 1) * d]));
        Ok(out)
    }

    /// The mean over the trees and its spread (population standard deviation over the trees)
    /// for every row.
    pub fn predict_mean_std(&self, x: &[f32], n_cols: usize, n_jobs: Option<usize>) -> Result<(Vec<f64>, Vec<f64>), ForestError> {
        let rows = self.rows(x, n_cols)?;
        let (d, t) = (self.n_features, self.n_estimators());
        let mut out = vec![0.0; rows * 2];
        fill_rows(&mut out, 2, n_jobs, |i, o| {
            // one pass over the trees (Welford's update: stable, no second traversal)
            let row = &x[i * d..(i + 1) * d];
            let (mut mean, mut m2) = (0.0, 0.0);
            for k in 0..t {
                let v = self.leaf_value(k, row);
                let delta = v - mean;
                mean += delta / (k + 1) as f64;
                m2 += delta * (v - mean);
            }
            o[0] = mean;
            o[1] = (m2.max(0.0) / t as f64).sqrt();
        });
        let (mean, std) = out.chunks_exact(2).map(|p| (p[0], p[1])).unzip();
        Ok((mean, std))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, d: usize, seed: u64, binary: bool) -> (Vec<f32>, Vec<f64>) {
        let mut r = Rng::new(seed);
        let x: Vec<f32> =
            (0..n * d).map(|_| if binary { r.below(2) as f32 } else { (r.uniform() * 10.0) as f32 }).collect();
        let y = (0..n).map(|i| x[i * d] as f64 * 2.0 - x[i * d + 1] as f64 + r.uniform()).collect();
        (x, y)
    }

    #[test]
    fn a_full_tree_fits_distinct_rows_exactly() {
        let (x, y) = data(200, 5, 1, false);
        let p = ForestParams { n_estimators: 1, bootstrap: false, ..Default::default() };
        let f = Forest::fit(&x, 5, &y, &p, 0, None).unwrap();
        let pred = f.predict_member(&x, 5, 0, None).unwrap();
        assert_eq!(pred, y);
    }

    #[test]
    fn leaves_keep_min_samples_leaf_and_depth_is_limited() {
        let (x, y) = data(300, 4, 2, false);
        let p = ForestParams { n_estimators: 3, min_samples_leaf: 7, max_depth: Some(4), ..Default::default() };
        let f = Forest::fit(&x, 4, &y, &p, 5, None).unwrap();
        for t in 0..3 {
            let a = f.tree_start[t] as usize;
            let b = f.tree_start[t + 1] as usize;
            // depth of every node
            let mut depth = vec![0usize; b - a];
            for k in 0..b - a {
                if f.nodes.feature[a + k] >= 0 {
                    depth[f.nodes.left[a + k] as usize] = depth[k] + 1;
                    depth[f.nodes.right[a + k] as usize] = depth[k] + 1;
                }
            }
            assert!(depth.iter().all(|&dp| dp <= 4));
        }
        // no leaf of a tree fitted without bootstrap holds fewer than 7 rows
        let p = ForestParams { n_estimators: 1, min_samples_leaf: 7, bootstrap: false, ..Default::default() };
        let f = Forest::fit(&x, 4, &y, &p, 5, None).unwrap();
        let mut counts = std::collections::HashMap::new();
        for i in 0..300 {
            let v = f.predict_member(&x[i * 4..(i + 1) * 4], 4, 0, None).unwrap()[0];
            *counts.entry(v.to_bits()).or_insert(0) += 1;
        }
        assert!(counts.values().all(|&c| c >= 7), "{counts:?}");
    }

    #[test]
    fn does_not_depend_on_threads_and_follows_the_seed() {
        let (x, y) = data(150, 30, 3, true);
        let p = ForestParams { max_features: Some(10), min_samples_leaf: 2, ..Default::default() };
        let a = Forest::fit(&x, 30, &y, &p, 9, Some(1)).unwrap();
        let b = Forest::fit(&x, 30, &y, &p, 9, Some(2)).unwrap();
        let c = Forest::fit(&x, 30, &y, &p, 10, Some(2)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.predict_members(&x, 30, Some(1)).unwrap(), b.predict_members(&x, 30, Some(2)).unwrap());
    }

    #[test]
    fn mean_and_std_agree_with_the_members() {
        let (x, y) = data(100, 6, 4, false);
        let f = Forest::fit(&x, 6, &y, &ForestParams { n_estimators: 7, ..Default::default() }, 1, None).unwrap();
        let members = f.predict_members(&x, 6, None).unwrap();
        let (mean, std) = f.predict_mean_std(&x, 6, None).unwrap();
        for i in 0..100 {
            let m = &members[i * 7..(i + 1) * 7];
            let mu = m.iter().sum::<f64>() / 7.0;
            let sd = (m.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / 7.0).sqrt();
            assert!((mean[i] - mu).abs() < 1e-12 && (std[i] - sd).abs() < 1e-12);
        }
    }

    #[test]
    fn shortcuts_match_the_sorted_scan() {
        // On 0/1 data the per-node counts of ones (and on two-valued data the one-pass count)
        // must find the splits the sorted scan finds. Features that cut a node's samples the
        // same way tie, and rounding may break such a tie differently, so the trees are compared
        // by what they predict for the training rows (equal partitions give equal subtrees).
        for (binary, scale) in [(true, 1.0f32), (true, 3.0)] {
            let (x, y) = data(150, 20, 6, binary);
            let x: Vec<f32> = x.iter().map(|v| v * scale).collect();
            // without bootstrap every training row is a sample of the nodes it passes
            let p = ForestParams { n_estimators: 20, max_features: Some(7), min_samples_leaf: 2, bootstrap: false, ..Default::default() };
            let fast = Forest::fit_with(&x, 20, &y, &p, 3, None, true).unwrap();
            let scan = Forest::fit_with(&x, 20, &y, &p, 3, None, false).unwrap();
            let a = fast.predict_members(&x, 20, None).unwrap();
            let b = scan.predict_members(&x, 20, None).unwrap();
            assert!(a.iter().zip(&b).all(|(u, v)| (u - v).abs() < 1e-9), "scale {scale}");
            assert_eq!(fast.n_nodes(), scan.n_nodes());
        }
    }

    #[test]
    fn bad_input_is_refused() {
        let (x, y) = data(10, 2, 7, false);
        let p = ForestParams::default();
        assert!(matches!(Forest::fit(&x, 2, &y[..9], &p, 0, None), Err(ForestError::LengthMismatch { rows: 10, len: 9 })));
        let mut xn = x.clone();
        xn[5] = f32::NAN;
        assert!(matches!(Forest::fit(&xn, 2, &y, &p, 0, None), Err(ForestError::NonFiniteX { row: 2, col: 1, .. })));
        let q = ForestParams { max_features: Some(3), ..Default::default() };
        assert!(matches!(Forest::fit(&x, 2, &y, &q, 0, None), Err(ForestError::BadParam { name: "max_features", .. })));
        let f = Forest::fit(&x, 2, &y, &p, 0, None).unwrap();
        assert!(matches!(f.predict_member(&x[..3], 3, 0, None), Err(ForestError::FeatureMismatch { .. })));
        assert!(matches!(f.predict_member(&x, 2, 100, None), Err(ForestError::TreeOutOfRange { .. })));
        let (ts, nodes) = f.parts();
        let g = Forest::from_parts(2, ts.to_vec(), nodes.clone()).unwrap();
        assert_eq!(f, g);
        let k = nodes.feature.iter().position(|&f| f >= 0).expect("an internal node");
        let mut cycle = nodes.clone();
        cycle.left[k] = k as u32; // a node that is its own child
        assert!(matches!(Forest::from_parts(2, ts.to_vec(), cycle), Err(ForestError::BadStructure(_))));
    }
}
