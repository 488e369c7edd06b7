//! Mapping of core errors to the documented Python exceptions, and the runner that lets Ctrl-C
//! stop long core calls.

use nasfast_core::par::Cancel;
use nasfast_core::{CellError, SpaceError};
use pyo3::create_exception;
use pyo3::exceptions::{PyIndexError, PyKeyboardInterrupt, PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::Mutex;
use std::time::Duration;

create_exception!(
    nasfast,
    InvalidCellError,
    PyValueError,
    "A cell, or a row of a batch, is not valid: the message names the value and the row."
);
create_exception!(
    nasfast,
    SpaceTooLargeError,
    PyValueError,
    "The space is too large for the requested operation (the message gives its size)."
);
create_exception!(
    nasfast.benchmarks,
    TFRecordError,
    PyValueError,
    "Corrupt, truncated or malformed TFRecord input; the message names the byte offset."
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
            SpaceError::Cell(_) => InvalidCellError::new_err(msg),
            SpaceError::TooLargeToEnumerate { .. } | SpaceError::EncodingTooLarge { .. } | SpaceError::TooManyNeighbours { .. } => {
                SpaceTooLargeError::new_err(msg)
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
    InvalidCellError::new_err(msg.into())
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
