//! Thread control and cancellation.
//!
//! `n_jobs` maps to a rayon pool of that many threads, clipped to the number of cores (more
//! threads than cores cannot make the core's CPU-bound work faster, and a huge value must not
//! start a huge pool); at most [`MAX_POOLS`] such pools are kept, the least recently used one is
//! released first. Small inputs run sequentially. Work is always split into per-item tasks whose
//! results are collected in input order, so results never depend on the number of threads.
//!
//! Long loops poll a [`Cancel`] flag (a relaxed atomic load, cheap enough for every item) and
//! stop with [`SpaceError::Interrupted`] once it is set; the Python bindings set it when the
//! user presses Ctrl-C.

use crate::error::SpaceError;
use rayon::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Below this many items a batch runs on the calling thread.
pub const PAR_THRESHOLD: usize = 2048;

/// At most this many thread pools (one per distinct thread count) are kept alive.
pub const MAX_POOLS: usize = 4;

/// Items per chunk of [`try_extend_range`]: errors and cancellation stop the work at a chunk
/// boundary, and a chunk's intermediate results are all that is held besides the output.
const CHUNK: usize = 1 << 16;

/// A request to stop: set by one thread, polled by the loops of another.
#[derive(Debug, Default)]
pub struct Cancel(AtomicBool);

impl Cancel {
    /// A flag that is not set.
    pub fn new() -> Cancel {
        Cancel(AtomicBool::new(false))
    }

    /// Asks the work polling this flag to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`Cancel::cancel`] was called.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(SpaceError::Interrupted)` once the flag is set.
    #[inline]
    pub fn check(&self) -> Result<(), SpaceError> {
        if self.is_cancelled() {
            Err(SpaceError::Interrupted)
        } else {
            Ok(())
        }
    }
}

/// The number of cores (at least 1): the most threads `n_jobs` may start.
pub fn max_threads() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// The thread count `n_jobs = Some(j)` runs with: `j` clipped to `1..=max_threads()`.
pub fn effective_threads(j: usize) -> usize {
    j.clamp(1, max_threads())
}

type Pools = Mutex<Vec<(usize, Arc<ThreadPool>)>>;

fn pools() -> &'static Pools {
    static POOLS: OnceLock<Pools> = OnceLock::new();
    POOLS.get_or_init(|| Mutex::new(Vec::new()))
}

/// The number of thread pools currently kept.
pub fn cached_pools() -> usize {
    pools().lock().unwrap_or_else(|e| e.into_inner()).len()
}

/// The pool of `threads` threads (already clipped), or `None` if it cannot be started.
fn pool(threads: usize) -> Option<Arc<ThreadPool>> {
    let mut guard = pools().lock().unwrap_or_else(|e| e.into_inner());
    // most recently used last
    if let Some(i) = guard.iter().position(|(t, _)| *t == threads) {
        let entry = guard.remove(i);
        let p = entry.1.clone();
        guard.push(entry);
        return Some(p);
    }
    let p = Arc::new(
        ThreadPoolBuilder::new().num_threads(threads).thread_name(|i| format!("nasfast-{i}")).build().ok()?,
    );
    if guard.len() >= MAX_POOLS {
        // a call still running on the evicted pool holds its own reference; the threads end
        // when that call returns
        guard.remove(0);
    }
    guard.push((threads, p.clone()));
    Some(p)
}

/// Runs `f` with `n_jobs` threads: `None` uses rayon's global pool (sized by
/// `RAYON_NUM_THREADS`, default: one thread per core), `Some(j)` a pool of
/// [`effective_threads`]`(j)` threads. If that pool cannot be started (the system refuses new
/// threads), `f` runs in the global pool.
pub fn with_jobs<R: Send>(n_jobs: Option<usize>, f: impl FnOnce() -> R + Send) -> R {
    match n_jobs.map(effective_threads).and_then(pool) {
        Some(p) => p.install(f),
        None => f(),
    }
}

/// Whether `n` items with `n_jobs` run on the calling thread.
#[inline]
fn sequential(n: usize, n_jobs: Option<usize>) -> bool {
    n < PAR_THRESHOLD || n_jobs.map(effective_threads) == Some(1)
}

/// `f(i)` for every `i in 0..n`, in order, in parallel when `n` is large enough.
pub fn map_range<T: Send>(n: usize, n_jobs: Option<usize>, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    if sequential(n, n_jobs) {
        return (0..n).map(f).collect();
    }
    with_jobs(n_jobs, || (0..n).into_par_iter().map(&f).collect())
}

/// `f(i)` for every `i in 0..n`, in order, in parallel whenever there are several items and
/// several threads: for items that are heavy themselves (blocks of work).
pub fn map_heavy<T: Send>(n: usize, n_jobs: Option<usize>, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    if n < 2 || n_jobs.map(effective_threads) == Some(1) {
        return (0..n).map(f).collect();
    }
    with_jobs(n_jobs, || (0..n).into_par_iter().map(&f).collect())
}

/// Appends `f(i)` for every `i in 0..n` to `out`, in order, in parallel when `n` is large
/// enough, and stops at the first error in input order (the same error whatever the number of
/// threads). Work goes in chunks, so an error or a cancellation (seen by `f`) ends it early.
/// Reserve room for the `n` items first (see [`crate::limits::vec_with_capacity`]) so that
/// nothing is reallocated.
pub fn try_extend_range<T: Send, E: Send>(
    out: &mut Vec<T>,
    n: usize,
    n_jobs: Option<usize>,
    f: impl Fn(usize) -> Result<T, E> + Sync + Send,
) -> Result<(), E> {
    if sequential(n, n_jobs) {
        for i in 0..n {
            out.push(f(i)?);
        }
        return Ok(());
    }
    let mut start = 0;
    while start < n {
        let end = n.min(start + CHUNK);
        let results: Vec<Result<T, E>> = with_jobs(n_jobs, || (start..end).into_par_iter().map(&f).collect());
        for r in results {
            out.push(r?);
        }
        start = end;
    }
    Ok(())
}

/// Fallible [`map_range`]: the error of the first failing item in input order.
pub fn try_map_range<T: Send, E: Send>(
    n: usize,
    n_jobs: Option<usize>,
    f: impl Fn(usize) -> Result<T, E> + Sync + Send,
) -> Result<Vec<T>, E> {
    let mut out = Vec::with_capacity(n);
    try_extend_range(&mut out, n, n_jobs, f)?;
    Ok(out)
}

/// Fills the rows of `out` (`n` rows of `width` items) in parallel with `f(i, row)`.
pub fn fill_rows<T: Send>(out: &mut [T], width: usize, n_jobs: Option<usize>, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    if width == 0 {
        return;
    }
    let n = out.len() / width;
    if sequential(n, n_jobs) {
        out.chunks_mut(width).enumerate().for_each(|(i, r)| f(i, r));
        return;
    }
    with_jobs(n_jobs, || out.par_chunks_mut(width).enumerate().for_each(|(i, r)| f(i, r)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_n_jobs_is_clipped_to_the_cores() {
        assert_eq!(effective_threads(1_000_000), max_threads());
        assert_eq!(effective_threads(0), 1);
        let threads = with_jobs(Some(usize::MAX), rayon::current_num_threads);
        assert_eq!(threads, max_threads());
        let v = map_range(5000, Some(1 << 40), |i| i * 2);
        assert_eq!(v, (0..5000).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn pools_are_bounded() {
        for j in 1..=40 {
            assert_eq!(with_jobs(Some(j), rayon::current_num_threads), effective_threads(j));
        }
        assert!(cached_pools() <= MAX_POOLS.min(max_threads()));
    }

    #[test]
    fn try_extend_reports_the_first_error_in_order() {
        for n_jobs in [Some(1), Some(2), None] {
            let mut out = Vec::new();
            let r = try_extend_range(&mut out, 200_000, n_jobs, |i| if i % 70_001 == 70_000 { Err(i) } else { Ok(i) });
            assert_eq!(r, Err(70_000));
            // the work stopped at the failing chunk
            assert!(out.len() < 2 * CHUNK);
            let mut out = Vec::new();
            try_extend_range(&mut out, 100_000, n_jobs, Ok::<usize, ()>).unwrap();
            assert_eq!(out, (0..100_000).collect::<Vec<_>>());
        }
    }

    #[test]
    fn cancel_is_seen() {
        let c = Cancel::new();
        assert!(c.check().is_ok());
        c.cancel();
        assert_eq!(c.check(), Err(SpaceError::Interrupted));
    }
}
