//! Runs one piece of blocking work per node in parallel on a tokio runtime, with at most
//! `parallel` nodes in flight, and a progress bar on a terminal.

use std::{io::IsTerminal, sync::Arc};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::{runtime::Runtime, sync::Semaphore};

pub struct Executor {
    runtime: Runtime,
    parallel: usize,
    progress: bool,
}

impl Executor {
    /// `parallel`: nodes contacted at once (at least 1); `progress`: show bars on a terminal.
    pub fn new(parallel: usize, progress: bool) -> Result<Executor, String> {
        let parallel = parallel.max(1);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(parallel)
            .thread_name("repy-fleet")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        Ok(Executor { runtime, parallel, progress: progress && std::io::stderr().is_terminal() })
    }

    /// A progress bar over `len` steps, drawn on stderr only on a terminal, for more than one
    /// step and with a non-empty label.
    pub fn bar(&self, len: u64, label: &str) -> ProgressBar {
        if !self.progress || len < 2 || label.is_empty() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        if let Ok(style) = ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} {elapsed}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_string());
        bar
    }

    /// Runs `future` to its end on the runtime (the DHT lookup before the nodes are asked).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// `f` applied to every item, results in the items' order, with a bar labelled `label` (none
    /// if empty). A panicking worker gives `Err`.
    pub fn map<I, O, F>(&self, items: Vec<I>, label: &str, f: F) -> Vec<Result<O, String>>
    where
        I: Send + 'static,
        O: Send + 'static,
        F: Fn(I) -> O + Send + Sync + 'static,
    {
        let bar = self.bar(items.len() as u64, label);
        let f = Arc::new(f);
        let slots = Arc::new(Semaphore::new(self.parallel));
        let results = self.runtime.block_on(async {
            let handles: Vec<_> = items
                .into_iter()
                .map(|item| {
                    let (f, slots, bar) = (f.clone(), slots.clone(), bar.clone());
                    tokio::spawn(async move {
                        let _slot = slots.acquire_owned().await.map_err(|e| e.to_string())?;
                        let out = tokio::task::spawn_blocking(move || f(item)).await;
                        bar.inc(1);
                        out.map_err(|e| format!("internal error in a worker: {e}"))
                    })
                })
                .collect();
            let mut results = Vec::with_capacity(handles.len());
            for handle in handles {
                results.push(handle.await.unwrap_or_else(|e| Err(format!("internal error in a worker: {e}"))));
            }
            results
        });
        bar.finish_and_clear();
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{
        sync::atomic::{AtomicUsize, Ordering},
        time::Duration,
    };

    #[test]
    fn keeps_order_and_bounds_parallelism() {
        let exec = Executor::new(3, false).unwrap();
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (n, p) = (now.clone(), peak.clone());
        let out = exec.map((0..12).collect(), "t", move |i: u32| {
            let c = n.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(c, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(30));
            n.fetch_sub(1, Ordering::SeqCst);
            i * 2
        });
        let out: Vec<u32> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(out, (0..12).map(|i| i * 2).collect::<Vec<_>>());
        let peak = peak.load(Ordering::SeqCst);
        assert!((2..=3).contains(&peak), "peak {peak}");
    }
}
