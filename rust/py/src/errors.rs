//! Mapping of core errors to the documented Python exceptions, and the runner that lets Ctrl-C
//! stop long core calls.
//!
//! Every exception class nasfast defines derives from `NasfastError` and from the builtin
//! exception it refines (`InvalidCellError` is a `NasfastError` and a `ValueError`), so that
//! `except nasfast.NasfastError` catches them all and `except ValueError` keeps working.

use nasfast_core::par::Cancel;
use nasfast_core::{CellError, SpaceError};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyIndexError, PyKeyboardInterrupt, PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::Mutex;
use std::time::Duration;

create_exception!(
    nasfast,
    NasfastError,
    PyException,
    "Base of every exception nasfast defines; each one also subclasses the builtin exception it refines (ValueError, KeyError or RuntimeError)."
);

/// An exception class that subclasses both `NasfastError` and `ValueError` (`create_exception!`
/// makes classes of one base only). The class is made on first use, as the Python statement
/// `class Name(NasfastError, ValueError)` would make it.
pub struct NasfastValueError {
    module: &'static str,
    name: &'static str,
    doc: &'static str,
    class: PyOnceLock<Py<PyType>>,
}

impl NasfastValueError {
    const fn new(module: &'static str, name: &'static str, doc: &'static str) -> Self {
        NasfastValueError { module, name, doc, class: PyOnceLock::new() }
    }

    /// The exception class.
    pub fn type_object<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyType>> {
        let class = self.class.get_or_try_init(py, || -> PyResult<Py<PyType>> {
            let bases = PyTuple::new(py, [py.get_type::<NasfastError>(), py.get_type::<PyValueError>()])?;
            let namespace = PyDict::new(py);
            namespace.set_item("__module__", self.module)?;
            namespace.set_item("__doc__", self.doc)?;
            let made = py.get_type::<PyType>().call1((self.name, bases, namespace))?;
            Ok(made.cast_into::<PyType>()?.unbind())
        })?;
        Ok(class.bind(py).clone())
    }

    /// An exception of this class with a message.
    pub fn new_err(&self, msg: impl Into<String>) -> PyErr {
        let msg = msg.into();
        Python::attach(|py| match self.type_object(py) {
            Ok(class) => PyErr::from_type(class, msg),
            Err(e) => e,
        })
    }
}

/// `nasfast.InvalidCellError`.
pub static INVALID_CELL_ERROR: NasfastValueError = NasfastValueError::new(
    "nasfast",
    "InvalidCellError",
    "A cell, or a row of a batch, is not valid: the message names the value and the row.",
);
/// `nasfast.SpaceTooLargeError`.
pub static SPACE_TOO_LARGE_ERROR: NasfastValueError = NasfastValueError::new(
    "nasfast",
    "SpaceTooLargeError",
    "The space is too large for the requested operation (the message gives its size).",
);
/// `nasfast.benchmarks.TFRecordError`.
pub static TFRECORD_ERROR: NasfastValueError = NasfastValueError::new(
    "nasfast.benchmarks",
    "TFRecordError",
    "Corrupt, truncated or malformed TFRecord input; the message names the byte offset.",
);

/// A core error on its way to Python (a newtype, since the orphan rule forbids converting the
/// core's errors into `PyErr` directly).
pub struct CoreError(pub SpaceError);

impl From<SpaceError> for CoreError {
    fn from(e: SpaceError) -> Self {
        CoreError(e)
    }
}

impl From<CellError> for CoreError {
    fn from(e: CellError) -> Self {
        CoreError(SpaceError::Cell(e))
    }
}

impl From<CoreError> for PyErr {
    fn from(e: CoreError) -> PyErr {
        let msg = e.0.to_string();
        match e.0 {
            SpaceError::Cell(_) => INVALID_CELL_ERROR.new_err(msg),
            SpaceError::TooLargeToEnumerate { .. } | SpaceError::EncodingTooLarge { .. } | SpaceError::TooManyNeighbours { .. } => {
                SPACE_TOO_LARGE_ERROR.new_err(msg)
            }
            SpaceError::IndexOutOfRange { .. } => PyIndexError::new_err(msg),
            SpaceError::NoValidChild { .. } | SpaceError::NoValidCell { .. } => PyRuntimeError::new_err(msg),
            SpaceError::OutOfMemory { .. } => PyMemoryError::new_err(msg),
            SpaceError::Interrupted => PyKeyboardInterrupt::new_err(msg),
            _ => PyValueError::new_err(msg),
        }
    }
}

/// An `InvalidCellError` with a message.
pub fn invalid(msg: impl Into<String>) -> PyErr {
    INVALID_CELL_ERROR.new_err(msg)
}

/// How often the waiting thread looks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs `work` without the GIL on a helper thread while the calling thread waits and checks
/// for Python signals every 50 ms; on Ctrl-C (or any signal handler that raises) it sets the
/// cancellation flag `work` polls, waits for it to stop and raises the signal's exception.
/// A result that arrives is returned at once. When no helper thread can be started, `work`
/// runs on the calling thread (then Ctrl-C is seen only when it returns).
pub fn run_interruptible<T: Send>(py: Python<'_>, work: impl FnOnce(&Cancel) -> Result<T, SpaceError> + Send) -> PyResult<T> {
    let cancel = Cancel::new();
    let mut signal: Option<PyErr> = None;
    // the work is taken by the helper thread, or by this thread if no helper can start
    let slot = Mutex::new(Some(work));
    let take = || slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    let result = py.detach(|| {
        std::thread::scope(|scope| {
            let (done_tx, done_rx) = sync_channel::<()>(1);
            let cancel = &cancel;
            let take = &take;
            let spawned = std::thread::Builder::new().name("nasfast-call".into()).spawn_scoped(scope, move || {
                let r = take().map(|work| work(cancel));
                let _ = done_tx.send(());
                r
            });
            let Ok(handle) = spawned else {
                return take().map(|work| work(cancel));
            };
            loop {
                match done_rx.recv_timeout(SIGNAL_POLL) {
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    Err(RecvTimeoutError::Timeout) => {
                        if signal.is_none() {
                            if let Err(e) = Python::attach(|py| py.check_signals()) {
                                signal = Some(e);
                                cancel.cancel();
                            }
                        }
                    }
                }
            }
            handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    });
    if let Some(e) = signal {
        return Err(e);
    }
    match result {
        Some(r) => r.map_err(|e| CoreError(e).into()),
        None => Err(PyRuntimeError::new_err("internal error: the work of a call was never run")),
    }
}
