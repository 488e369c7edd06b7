//! The records of the official NAS-Bench-101 TFRecord files (`nasbench_only108.tfrecord`,
//! `nasbench_full.tfrecord`), decoded into columns.
//!
//! Each record (see [`crate::tfrecord`] for the framing) is one training run of one cell at one
//! epoch budget: the UTF-8 JSON list `[module_hash, epochs, adjacency, operations, metrics]`,
//! that is the cell's NB101 hash (32 lowercase hex digits), the epoch budget (4, 12, 36 or 108),
//! the matrix as a string of V*V `0`/`1` characters, the op names joined by `,`, and the
//! base64-encoded protobuf message [`ModelMetrics`] of the run. JSON is read with `serde_json`,
//! base64 with `base64` (canonical padding required) and the message with `prost`. Unknown
//! fields are skipped, as protobuf does; a known field with another wire type is refused (where
//! protobuf would keep it as an unknown field and silently report the value as missing).
//!
//! Records are decoded in parallel; the cells are then grouped by hash (sorted by hash), and
//! every run of a cell must carry the same matrix and ops as the cell's first record. Whether
//! the hash matches its cell is left to the caller (the NB101 hash costs far more than the
//! decoding). Every error names the record and its byte offset.

use crate::cell::{Cell, OP_INPUT, OP_OUTPUT};
use crate::error::CellError;
use crate::par::try_map_range;
use crate::space::SearchSpace;
use crate::tfrecord::{read_frames, Frame, FrameError};
use crate::MAX_VERTICES;
use base64::Engine;
use rayon::prelude::*;
use serde::Deserialize;
use std::borrow::Cow;
use thiserror::Error;

/// One evaluation of a training run (the message `EvaluationData` of NAS-Bench-101's
/// `model_metrics.proto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct EvaluationData {
    /// Epoch of the evaluation.
    #[prost(double, optional, tag = "1")]
    pub current_epoch: Option<f64>,
    /// Training seconds so far.
    #[prost(double, optional, tag = "2")]
    pub training_time: Option<f64>,
    /// Accuracy on the training set.
    #[prost(double, optional, tag = "3")]
    pub train_accuracy: Option<f64>,
    /// Accuracy on the validation set.
    #[prost(double, optional, tag = "4")]
    pub validation_accuracy: Option<f64>,
    /// Accuracy on the test set.
    #[prost(double, optional, tag = "5")]
    pub test_accuracy: Option<f64>,
    /// Where the model was saved. A `string` in the `.proto`, read as bytes: proto2 does not
    /// require valid UTF-8 there (the official parsers accept any bytes), and it is not used.
    #[prost(bytes = "vec", optional, tag = "6")]
    pub checkpoint_path: Option<Vec<u8>>,
}

/// The metrics of one training run (the message `ModelMetrics` of NAS-Bench-101's
/// `model_metrics.proto`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelMetrics {
    /// Evaluations at the start, halfway and at the end of training.
    #[prost(message, repeated, tag = "1")]
    pub evaluation_data: Vec<EvaluationData>,
    /// Number of trainable parameters of the model.
    #[prost(int32, optional, tag = "2")]
    pub trainable_parameters: Option<i32>,
    /// Total seconds of the run.
    #[prost(double, optional, tag = "3")]
    pub total_time: Option<f64>,
}

/// Number of metric columns of [`Nb101Runs::metrics`].
pub const METRIC_COLUMNS: usize = 5;
/// The columns of [`Nb101Runs::metrics`]: fields of the final `EvaluationData`.
pub const METRIC_NAMES: [&str; METRIC_COLUMNS] = ["current_epoch", "training_time", "train_accuracy", "validation_accuracy", "test_accuracy"];
/// The largest epoch budget a record may have (2^31 - 1; error messages spell it out).
pub const MAX_EPOCHS: i64 = i32::MAX as i64;

/// Why one record is not a valid NAS-Bench-101 record.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RecordError {
    #[error("not valid JSON: {0}")]
    NotJson(String),
    #[error("expected the JSON list [module_hash, epochs, adjacency, operations, metrics], got {0}")]
    NotRecord(String),
    #[error("{field} is {value}, expected {expected}")]
    FieldType { field: &'static str, value: String, expected: &'static str },
    #[error("epochs = {0}: must be a positive integer of at most 2147483647 (4, 12, 36 or 108 in NAS-Bench-101)")]
    Epochs(i64),
    #[error("module_hash {0:?} is not 32 lowercase hex digits")]
    Hash(String),
    #[error("operations {text:?} are not input, ops of {ops:?}, output: {reason}")]
    Operations { text: String, ops: Vec<String>, reason: String },
    #[error("adjacency {text:?} is not a {v} x {v} matrix of 0/1 characters")]
    Adjacency { text: String, v: usize },
    #[error("invalid cell: {0}")]
    Cell(CellError),
    #[error("metrics {text:?} are not canonical base64: {reason}")]
    Base64 { text: String, reason: String },
    #[error("metrics are not a valid ModelMetrics: {0}")]
    Metrics(String),
    #[error("metrics have no evaluation_data")]
    NoEvaluation,
    #[error("module_hash {hash} comes with another {what} than in the record at byte offset {first_offset}")]
    Inconsistent { hash: String, what: &'static str, first_offset: u64 },
}

/// Why a NAS-Bench-101 TFRecord file cannot be imported: the framing, or one record (named by
/// its index and byte offset).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Nb101Error {
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("record {index} at byte offset {offset}: {source}")]
    Record {
        index: usize,
        offset: u64,
        #[source]
        source: Box<RecordError>,
    },
}

impl Nb101Error {
    /// The byte offset of the record the error is about.
    pub fn offset(&self) -> u64 {
        match self {
            Nb101Error::Frame(e) => e.offset(),
            Nb101Error::Record { offset, .. } => *offset,
        }
    }
}

/// The decoded runs of a file, as columns: one row per record for the runs, one row per distinct
/// hash (sorted by hash) for the cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Nb101Runs {
    /// Byte offset of each record.
    pub offsets: Vec<u64>,
    /// Epoch budget of each record.
    pub epochs: Vec<u32>,
    /// The final evaluation of each run (the one with the largest `current_epoch`, the last one
    /// on ties), [`METRIC_NAMES`] row by row (`n_records * 5` values; NaN for a missing field).
    pub metrics: Vec<f64>,
    /// `trainable_parameters` of each run (-1 when absent).
    pub params: Vec<i64>,
    /// The cell of each record: its row in `hashes` and `cells`.
    pub cell_index: Vec<u32>,
    /// The run of each record: how many records of the same cell and epoch budget come before
    /// it in the file (0 for the first).
    pub run_index: Vec<u32>,
    /// The distinct hashes, sorted (32 lowercase hex digits each).
    pub hashes: Vec<[u8; 32]>,
    /// The cell of each hash as its first record gives it (not pruned nor checked against the
    /// space's limits: that is the caller's [`Cell::validate`]).
    pub cells: Vec<Cell>,
    /// The first record of each cell.
    pub first_record: Vec<u32>,
}

/// One record, decoded.
struct Run {
    hash: u128,
    epochs: u32,
    cell: Cell,
    metrics: [f64; METRIC_COLUMNS],
    params: i64,
}

/// The JSON record with borrowed strings where they hold no escapes (the fast path; on failure
/// the record is parsed again as a `serde_json::Value` to say what is wrong).
#[derive(Deserialize)]
struct RawRecord<'a>(
    #[serde(borrow)] Cow<'a, str>,
    i64,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
);

/// At most this many characters of a value are quoted in an error message.
const QUOTE_CHARS: usize = 60;

fn shorten(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

/// What is wrong with a record the fast path refused.
fn diagnose(text: &[u8]) -> RecordError {
    use serde_json::Value;
    let value: Value = match serde_json::from_slice(text) {
        Ok(v) => v,
        Err(e) => return RecordError::NotJson(e.to_string()),
    };
    let items = match &value {
        Value::Array(items) if items.len() == 5 => items,
        other => return RecordError::NotRecord(shorten(&other.to_string())),
    };
    const FIELDS: [&str; 5] = ["module_hash", "epochs", "adjacency", "operations", "metrics"];
    for (k, (item, field)) in items.iter().zip(FIELDS).enumerate() {
        let ok = if k == 1 { item.is_i64() } else { item.is_string() };
        if !ok {
            let expected = if k == 1 { "a positive integer of at most 2147483647" } else { "a string" };
            return RecordError::FieldType { field, value: shorten(&item.to_string()), expected };
        }
    }
    RecordError::NotRecord(shorten(&value.to_string()))
}

fn parse_hash(text: &str) -> Result<u128, RecordError> {
    let b = text.as_bytes();
    if b.len() != 32 {
        return Err(RecordError::Hash(shorten(text)));
    }
    let mut h = 0u128;
    for &c in b {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return Err(RecordError::Hash(shorten(text))),
        };
        h = h << 4 | d as u128;
    }
    Ok(h)
}

fn hash_hex(h: u128) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (k, slot) in out.iter_mut().enumerate() {
        let d = ((h >> (4 * (31 - k))) & 0xF) as u8;
        *slot = if d < 10 { b'0' + d } else { b'a' + d - 10 };
    }
    out
}

fn parse_cell(adjacency: &str, operations: &str, space: &SearchSpace) -> Result<Cell, RecordError> {
    let bad_ops = |reason: String| RecordError::Operations { text: shorten(operations), ops: space.ops().to_vec(), reason };
    let max_v = space.max_vertices().min(MAX_VERTICES);
    let mut ops = [0i8; MAX_VERTICES];
    let mut v = 0usize;
    for name in operations.split(',') {
        if v == max_v {
            return Err(bad_ops(format!("more than {max_v} vertices")));
        }
        ops[v] = match space.op_code(name) {
            Some(code) => code,
            None => return Err(bad_ops(format!("unknown op {:?}", shorten(name)))),
        };
        v += 1;
    }
    if v < 2 || ops[0] != OP_INPUT || ops[v - 1] != OP_OUTPUT {
        return Err(bad_ops("the first must be input, the last output".to_string()));
    }
    if let Some(k) = (1..v - 1).find(|&k| ops[k] < 0) {
        return Err(bad_ops(format!("vertex {k} is an interior vertex")));
    }
    let bits = adjacency.as_bytes();
    if bits.len() != v * v || bits.iter().any(|&c| c != b'0' && c != b'1') {
        return Err(RecordError::Adjacency { text: shorten(adjacency), v });
    }
    let mut dense = [0u8; MAX_VERTICES * MAX_VERTICES];
    for (d, &c) in dense.iter_mut().zip(bits) {
        *d = c - b'0';
    }
    Cell::from_dense(v, &dense[..v * v], &ops[..v]).map_err(RecordError::Cell)
}

/// The final evaluation (largest `current_epoch`, the last one on ties; a missing or NaN epoch
/// counts as -infinity) as [`METRIC_NAMES`].
fn final_evaluation(evals: &[EvaluationData]) -> Option<[f64; METRIC_COLUMNS]> {
    let mut best: Option<(f64, &EvaluationData)> = None;
    for e in evals {
        let epoch = e.current_epoch.filter(|x| !x.is_nan()).unwrap_or(f64::NEG_INFINITY);
        if best.is_none_or(|(b, _)| epoch >= b) {
            best = Some((epoch, e));
        }
    }
    best.map(|(_, e)| {
        [e.current_epoch, e.training_time, e.train_accuracy, e.validation_accuracy, e.test_accuracy].map(|x| x.unwrap_or(f64::NAN))
    })
}

/// Decodes one base64 `ModelMetrics` into (final evaluation, trainable parameters or -1).
fn decode_metrics(b64: &str, scratch: &mut Vec<u8>) -> Result<([f64; METRIC_COLUMNS], i64), RecordError> {
    use prost::Message;
    scratch.clear();
    base64::engine::general_purpose::STANDARD
        .decode_vec(b64.as_bytes(), scratch)
        .map_err(|e| RecordError::Base64 { text: shorten(b64), reason: e.to_string() })?;
    let m = ModelMetrics::decode(scratch.as_slice()).map_err(|e| RecordError::Metrics(e.to_string()))?;
    let metrics = final_evaluation(&m.evaluation_data).ok_or(RecordError::NoEvaluation)?;
    Ok((metrics, m.trainable_parameters.map_or(-1, i64::from)))
}

fn decode_run(text: &[u8], space: &SearchSpace, scratch: &mut Vec<u8>) -> Result<Run, RecordError> {
    let raw: RawRecord = serde_json::from_slice(text).map_err(|_| diagnose(text))?;
    let RawRecord(hash, epochs, adjacency, operations, metrics) = raw;
    let hash = parse_hash(&hash)?;
    if !(1..=MAX_EPOCHS).contains(&epochs) {
        return Err(RecordError::Epochs(epochs));
    }
    let cell = parse_cell(&adjacency, &operations, space)?;
    let (metrics, params) = decode_metrics(&metrics, scratch)?;
    Ok(Run { hash, epochs: epochs as u32, cell, metrics, params })
}

/// Reads a whole NAS-Bench-101 TFRecord file: checks the framing ([`read_frames`]), decodes
/// every record with `n_jobs` threads, groups the runs by cell and checks that the runs of a
/// cell agree on its matrix and ops. Op names are resolved in `space` (`input`, `output` and
/// its ops); the caller validates the cells against the space (pruning, limits) and checks
/// their hashes.
///
/// The result does not depend on the number of threads, and neither does the error: it is the
/// one of the first bad record in the file.
///
/// # Errors
/// An [`Nb101Error`] naming the byte offset of the first corrupt, truncated or malformed record.
pub fn read_nb101_tfrecord(file: &[u8], space: &SearchSpace, n_jobs: Option<usize>) -> Result<Nb101Runs, Nb101Error> {
    let frames: Vec<Frame> = read_frames(file, n_jobs)?;
    let fail = |index: usize, e: RecordError| Nb101Error::Record { index, offset: frames[index].offset, source: Box::new(e) };
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let runs: Vec<Run> = try_map_range(frames.len(), n_jobs, |i| {
        SCRATCH.with(|s| decode_run(frames[i].data(file), space, &mut s.borrow_mut())).map_err(|e| fail(i, e))
    })?;
    let n = runs.len();
    if u32::try_from(n).is_err() {
        return Err(fail(n - 1, RecordError::NotRecord(format!("the file has {n} records, more than {}", u32::MAX))));
    }

    // Group by hash: sort (hash, record) pairs; unique keys, so the order is deterministic.
    let mut keys: Vec<(u128, u32)> = runs.iter().enumerate().map(|(i, r)| (r.hash, i as u32)).collect();
    crate::par::with_jobs(n_jobs, || keys.par_sort_unstable());
    let mut cell_index = vec![0u32; n];
    let mut run_index = vec![0u32; n];
    let mut hashes = Vec::new();
    let mut cells = Vec::new();
    let mut first_record = Vec::new();
    let mut mismatch: Option<(usize, usize)> = None; // (record, first record of its cell)
    let mut runs_so_far: Vec<(u32, u32)> = Vec::new(); // (epochs, runs) of the current cell
    for (k, &(hash, i)) in keys.iter().enumerate() {
        let i = i as usize;
        if k == 0 || keys[k - 1].0 != hash {
            hashes.push(hash_hex(hash));
            cells.push(runs[i].cell);
            first_record.push(i as u32);
            runs_so_far.clear();
        } else {
            let first = *first_record.last().expect("a cell") as usize;
            if runs[i].cell != runs[first].cell && mismatch.is_none_or(|(m, _)| i < m) {
                mismatch = Some((i, first));
            }
        }
        cell_index[i] = (hashes.len() - 1) as u32;
        // records of a cell come in file order: count its runs per budget
        let e = runs[i].epochs;
        run_index[i] = match runs_so_far.iter_mut().find(|(b, _)| *b == e) {
            Some((_, count)) => {
                *count += 1;
                *count - 1
            }
            None => {
                runs_so_far.push((e, 1));
                0
            }
        };
    }
    if let Some((i, first)) = mismatch {
        let (a, b) = (&runs[i].cell, &runs[first].cell);
        let what = if a.num_vertices() != b.num_vertices() || a.out_rows() != b.out_rows() { "adjacency" } else { "operations" };
        let hash = String::from_utf8_lossy(&hash_hex(runs[i].hash)).into_owned();
        return Err(fail(i, RecordError::Inconsistent { hash, what, first_offset: frames[first].offset }));
    }

    let mut metrics = Vec::with_capacity(n * METRIC_COLUMNS);
    for r in &runs {
        metrics.extend_from_slice(&r.metrics);
    }
    Ok(Nb101Runs {
        offsets: frames.iter().map(|f| f.offset).collect(),
        epochs: runs.iter().map(|r| r.epochs).collect(),
        metrics,
        params: runs.iter().map(|r| r.params).collect(),
        cell_index,
        run_index,
        hashes,
        cells,
        first_record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfrecord::write_frames;
    use prost::Message;

    const HASH: &str = "00005c142e6f48ac74fdcf73e3439874";
    const OPS: &str = "input,conv3x3-bn-relu,maxpool3x3,conv3x3-bn-relu,conv3x3-bn-relu,conv1x1-bn-relu,output";

    fn eval(epoch: f64, val: f64) -> EvaluationData {
        EvaluationData {
            current_epoch: Some(epoch),
            training_time: Some(epoch * 10.0),
            train_accuracy: Some(1.0),
            validation_accuracy: Some(val),
            test_accuracy: Some(val - 0.01),
            checkpoint_path: Some(format!("/ckpt/{epoch}").into_bytes()),
        }
    }

    fn metrics_b64(evals: Vec<EvaluationData>, params: Option<i32>) -> String {
        let m = ModelMetrics { evaluation_data: evals, trainable_parameters: params, total_time: Some(1.5) };
        base64::engine::general_purpose::STANDARD.encode(m.encode_to_vec())
    }

    fn record(hash: &str, epochs: i64, adj: &str, ops: &str, metrics: &str) -> Vec<u8> {
        format!("[\"{hash}\", {epochs}, \"{adj}\", \"{ops}\", \"{metrics}\"]").into_bytes()
    }

    fn adj7() -> String {
        // the test vector of the reference: 0->1, 0->4, 0->5, 1->2, 2->3, 2->6, 3->5, 4->5, 5->6
        let mut m = [[b'0'; 7]; 7];
        for (i, j) in [(0, 1), (0, 4), (0, 5), (1, 2), (2, 3), (2, 6), (3, 5), (4, 5), (5, 6)] {
            m[i][j] = b'1';
        }
        m.iter().flat_map(|r| r.iter().map(|&c| c as char)).collect()
    }

    #[test]
    fn decodes_runs_and_groups_cells() {
        let space = SearchSpace::nb101();
        let a = adj7();
        let hash2 = "ffff0000000000000000000000000000";
        let records = [
            record(HASH, 108, &a, OPS, &metrics_b64(vec![eval(0.0, 0.1), eval(108.0, 0.9), eval(54.0, 0.5)], Some(1234))),
            record(hash2, 4, "0100", "input,output", &metrics_b64(vec![eval(4.0, 0.3)], None)),
            record(HASH, 108, &a, OPS, &metrics_b64(vec![eval(108.0, 0.8), eval(108.0, 0.85)], Some(-7))),
        ];
        let file = write_frames(records.iter().map(|r| r.as_slice()));
        let runs = read_nb101_tfrecord(&file, &space, Some(1)).unwrap();
        assert_eq!(runs.offsets[0], 0);
        assert_eq!(runs.epochs, vec![108, 4, 108]);
        assert_eq!(runs.params, vec![1234, -1, -7]);
        assert_eq!(&runs.metrics[..5], &[108.0, 1080.0, 1.0, 0.9, 0.89]);
        assert_eq!(runs.metrics[5 + 3], 0.3);
        assert_eq!(runs.metrics[10 + 3], 0.85); // the last of two evaluations at the same epoch
        assert_eq!(runs.cell_index, vec![0, 1, 0]);
        assert_eq!(runs.run_index, vec![0, 0, 1]);
        assert_eq!(runs.first_record, vec![0, 1]);
        assert_eq!(&runs.hashes[0], HASH.as_bytes());
        assert_eq!(&runs.hashes[1], hash2.as_bytes());
        assert_eq!(crate::nb101_hash(&runs.cells[0].validate(&space).unwrap()), *HASH.as_bytes());
    }

    #[test]
    fn bad_records_name_the_record_and_offset() {
        let space = SearchSpace::nb101();
        let a = adj7();
        let good = record(HASH, 108, &a, OPS, &metrics_b64(vec![eval(108.0, 0.9)], Some(5)));
        let m = metrics_b64(vec![eval(108.0, 0.9)], Some(5));
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"not json".to_vec(), "not valid JSON"),
            (b"[\"x\", 108]".to_vec(), "expected the JSON list"),
            (record(HASH, 108, &a, OPS, &m)[..40].to_vec(), "not valid JSON"),
            (format!("[\"{HASH}\", \"108\", \"{a}\", \"{OPS}\", \"{m}\"]").into_bytes(), "epochs is \"108\", expected a positive integer"),
            (format!("[\"{HASH}\", 1000000000000000000000000000000, \"{a}\", \"{OPS}\", \"{m}\"]").into_bytes(), "epochs is 1e+30, expected a positive integer"),
            (format!("[\"{HASH}\", 108.0, \"{a}\", \"{OPS}\", \"{m}\"]").into_bytes(), "epochs is 108.0, expected a positive integer"),
            (record(HASH, -5, &a, OPS, &m), "epochs = -5: must be a positive integer"),
            (record(HASH, 0, &a, OPS, &m), "epochs = 0: must be a positive integer"),
            (record(HASH, 1 << 40, &a, OPS, &m), "epochs = 1099511627776"),
            (record("ABCD", 108, &a, OPS, &m), "module_hash \"ABCD\" is not 32 lowercase hex digits"),
            (record(&HASH.to_uppercase(), 108, &a, OPS, &m), "not 32 lowercase hex digits"),
            (record(HASH, 108, &a[..48], OPS, &m), "is not a 7 x 7 matrix"),
            (record(HASH, 108, &a.replace('1', "2"), OPS, &m), "is not a 7 x 7 matrix"),
            (record(HASH, 108, &a, &OPS.replace("maxpool3x3", "conv5x5"), &m), "unknown op \"conv5x5\""),
            (record(HASH, 108, "0000", "output,input", &m), "the first must be input"),
            (record(HASH, 108, "000000000", "input,output,output", &m), "vertex 1 is an interior vertex"),
            (record(&"f".repeat(32), 108, "0000", "input,output", &m), ""), // accepted: pruning is the caller's
            (record(HASH, 108, "0010", "input,output", &m), "invalid cell: adjacency[1][0] = 1 is on or below the diagonal"),
            (record(HASH, 108, &a, OPS, "@@@@"), "not canonical base64"),
            (record(HASH, 108, &a, OPS, "QUJ"), "not canonical base64"),
            (record(HASH, 108, &a, OPS, "QQ=AQUJD"), "not canonical base64"),
            (record(HASH, 108, &a, OPS, "CwA="), "not a valid ModelMetrics"),
            (record(HASH, 108, &a, OPS, &metrics_b64(vec![], Some(5))), "no evaluation_data"),
        ];
        for (bad, message) in cases {
            let records = [good.clone(), good.clone(), bad.clone(), good.clone()];
            let file = write_frames(records.iter().map(|r| r.as_slice()));
            let offset = 2 * (16 + good.len() as u64);
            let result = read_nb101_tfrecord(&file, &space, Some(1));
            if message.is_empty() {
                assert!(result.is_ok());
                continue;
            }
            let err = result.unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with(&format!("record 2 at byte offset {offset}: ")), "{text}");
            assert!(text.contains(message), "{text} does not contain {message:?} ({})", String::from_utf8_lossy(&bad));
            assert_eq!(err.offset(), offset);
        }
    }

    #[test]
    fn runs_of_a_cell_must_agree() {
        let space = SearchSpace::nb101();
        let a = adj7();
        let m = metrics_b64(vec![eval(108.0, 0.9)], Some(5));
        let good = record(HASH, 108, &a, OPS, &m);
        let other_ops = record(HASH, 108, &a, &OPS.replace("maxpool3x3", "conv1x1-bn-relu"), &m);
        let other_adj = record(HASH, 108, &a.replacen("01", "00", 1), OPS, &m);
        for (bad, what) in [(other_ops, "operations"), (other_adj, "adjacency")] {
            let records = [good.clone(), bad.clone(), good.clone(), bad];
            let file = write_frames(records.iter().map(|r| r.as_slice()));
            let text = read_nb101_tfrecord(&file, &space, Some(1)).unwrap_err().to_string();
            let offset = 16 + good.len();
            assert_eq!(text, format!("record 1 at byte offset {offset}: module_hash {HASH} comes with another {what} than in the record at byte offset 0"));
        }
    }

    #[test]
    fn threads_do_not_change_the_result_or_the_error() {
        let space = SearchSpace::nb101();
        let a = adj7();
        let mut records = Vec::new();
        for i in 0..5000u32 {
            let hash = format!("{:032x}", (i % 700) as u128 * 0x1234_5678_9abc_def1);
            let m = metrics_b64(vec![eval(108.0, i as f64 / 5000.0)], Some(i as i32));
            records.push(record(&hash, [4, 12, 36, 108][i as usize % 4], &a, OPS, &m));
        }
        let file = write_frames(records.iter().map(|r| r.as_slice()));
        let one = read_nb101_tfrecord(&file, &space, Some(1)).unwrap();
        let two = read_nb101_tfrecord(&file, &space, Some(2)).unwrap();
        assert_eq!(one, two);
        assert_eq!(one.hashes.len(), 700);
        assert!(one.hashes.windows(2).all(|w| w[0] < w[1]));
        records[4000] = b"[1, 2]".to_vec();
        records[3000] = b"[".to_vec();
        let file = write_frames(records.iter().map(|r| r.as_slice()));
        for jobs in [1, 2, 3] {
            let err = read_nb101_tfrecord(&file, &space, Some(jobs)).unwrap_err();
            assert!(matches!(err, Nb101Error::Record { index: 3000, .. }), "{err}");
        }
    }

    #[test]
    fn model_metrics_skip_unknown_fields_and_keep_negative_params() {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let m = ModelMetrics { evaluation_data: vec![eval(12.0, 0.5)], trainable_parameters: Some(-3), total_time: None };
        let mut bytes = m.encode_to_vec();
        bytes.extend_from_slice(&[9 << 3, 0x85, 0x01, 10 << 3 | 5, 1, 2, 3, 4]); // unknown varint and fixed32
        let mut scratch = Vec::new();
        let (metrics, params) = decode_metrics(&b64(&bytes), &mut scratch).unwrap();
        assert_eq!((metrics[3], params), (0.5, -3));
        let missing = ModelMetrics { evaluation_data: vec![EvaluationData::default()], trainable_parameters: None, total_time: None };
        let (metrics, params) = decode_metrics(&b64(&missing.encode_to_vec()), &mut scratch).unwrap();
        assert!(metrics.iter().all(|x| x.is_nan()) && params == -1);
        for bad in [&[0x0bu8, 0x00][..], &[0x0a, 0xff, 0xff, 0xff, 0x0f], &[0x08, 0x05], &bytes[..bytes.len() - 3]] {
            assert!(matches!(decode_metrics(&b64(bad), &mut scratch), Err(RecordError::Metrics(_))), "{bad:?}");
        }
    }
}
