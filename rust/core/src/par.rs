//! Thread control: `n_jobs` maps to a rayon pool of that many threads; small inputs run
//! sequentially. Work is always split into per-item tasks whose results are collected in input
//! order, so results never depend on the number of threads.

use rayon::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Below this many items a batch runs on the calling thread.
pub const PAR_THRESHOLD: usize = 2048;

fn pool(threads: usize) -> Arc<ThreadPool> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    let pools = POOLS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = pools.lock().unwrap_or_else(|e| e.into_inner());
    guard
        .entry(threads)
        .or_insert_with(|| {
            Arc::new(
                ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("nasfast-{i}"))
                    .build()
                    .expect("cannot start worker threads"),
            )
        })
        .clone()
}

/// Runs `f` with `n_jobs` threads: `None` uses rayon's global pool (sized by
/// `RAYON_NUM_THREADS`, default: one thread per core), `Some(j)` a pool of `j` threads.
pub fn with_jobs<R: Send>(n_jobs: Option<usize>, f: impl FnOnce() -> R + Send) -> R {
    match n_jobs {
        None => f(),
        Some(j) => pool(j.max(1)).install(f),
    }
}

/// `f(i)` for every `i in 0..n`, in order, in parallel when `n` is large enough.
pub fn map_range<T: Send>(n: usize, n_jobs: Option<usize>, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    if n < PAR_THRESHOLD || n_jobs == Some(1) {
        return (0..n).map(f).collect();
    }
    with_jobs(n_jobs, || (0..n).into_par_iter().map(&f).collect())
}

/// Fallible [`map_range`]: the error of the first failing item in input order.
pub fn try_map_range<T: Send, E: Send>(
    n: usize,
    n_jobs: Option<usize>,
    f: impl Fn(usize) -> Result<T, E> + Sync + Send,
) -> Result<Vec<T>, E> {
    if n < PAR_THRESHOLD || n_jobs == Some(1) {
        return (0..n).map(f).collect();
    }
    // collect everything, then report the first error in input order, so the error does not
    // depend on thread timing
    let results: Vec<Result<T, E>> = with_jobs(n_jobs, || (0..n).into_par_iter().map(&f).collect());
    results.into_iter().collect()
}

/// Fills the rows of `out` (`n` rows of `width` items) in parallel with `f(i, row)`.
pub fn fill_rows<T: Send>(out: &mut [T], width: usize, n_jobs: Option<usize>, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    if width == 0 {
        return;
    }
    let n = out.len() / width;
    if n < PAR_THRESHOLD || n_jobs == Some(1) {
        out.chunks_mut(width).enumerate().for_each(|(i, r)| f(i, r));
        return;
    }
    with_jobs(n_jobs, || out.par_chunks_mut(width).enumerate().for_each(|(i, r)| f(i, r)));
}
