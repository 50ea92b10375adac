//! One single-threaded runtime per core for the request paths. An HTTP connection or a NATS
//! message is served on one worker from its first byte to its answer, with that worker's
//! own Redis and NATS connections: a request's tasks, its actor instances and its sockets stay
//! on one core. On a shared multi-thread runtime they moved between cores from call to call,
//! which cost about a quarter more CPU per request (BENCHMARKS.md).

use std::cell::Cell;
use std::future::Future;
use std::sync::Mutex;

use anyhow::Context as _;
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

thread_local! {
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The index of the worker this thread runs, if it is one.
pub fn current() -> Option<usize> {
    WORKER.with(Cell::get)
}

/// The cores this process may use: how many workers a host runs unless told otherwise.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Which of `count` per-worker resources this thread uses: its own worker's, or the first
/// one's on any other thread (the control interface, WebSocket sessions, tests).
pub fn slot(count: usize) -> usize {
    current().map_or(0, |worker| worker % count.max(1))
}

pub struct Workers {
    handles: Vec<Handle>,
    /// Each worker runs until its sender is dropped.
    stops: Mutex<Vec<oneshot::Sender<()>>>,
}

impl Workers {
    /// Starts `count` workers (at least one).
    pub fn start(count: usize) -> anyhow::Result<Workers> {
        let count = count.max(1);
        let (mut handles, mut stops) = (Vec::with_capacity(count), Vec::with_capacity(count));
        for index in 0..count {
            let (handle_sender, handle) = std::sync::mpsc::channel();
            let (stop, stopped) = oneshot::channel::<()>();
            std::thread::Builder::new()
                .name(format!("mcchat-worker-{index}"))
                .spawn(move || {
                    WORKER.with(|worker| worker.set(Some(index)));
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(e) => {
                            let _ = handle_sender.send(Err(e));
                            return;
                        }
                    };
                    let _ = handle_sender.send(Ok(runtime.handle().clone()));
                    runtime.block_on(async {
                        let _ = stopped.await;
                    });
                    // Dropped here, outside any runtime: what is still on it is cancelled.
                })
                .context("starting a worker thread")?;
            let handle = handle
                .recv()
                .context("a worker thread ended before it started")?
                .context("building a worker's runtime")?;
            handles.push(handle);
            stops.push(stop);
        }
        Ok(Workers {
            handles,
            stops: Mutex::new(stops),
        })
    }

    /// One worker per core the process may use.
    pub fn per_core() -> anyhow::Result<Workers> {
        Self::start(cores())
    }

    pub fn count(&self) -> usize {
        self.handles.len()
    }

    pub fn handles(&self) -> &[Handle] {
        &self.handles
    }

    /// Runs the future `make` gives for each worker on that worker, and returns what each
    /// gave, in worker order.
    pub async fn on_each<F, Fut, T>(&self, make: F) -> anyhow::Result<Vec<T>>
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let started: Vec<JoinHandle<T>> = self
            .handles
            .iter()
            .enumerate()
            .map(|(index, handle)| handle.spawn(make(index)))
            .collect();
        let mut results = Vec::with_capacity(started.len());
        for task in started {
            results.push(task.await.context("a worker's task failed")?);
        }
        Ok(results)
    }

    /// Ends the workers; whatever still runs on them is cancelled, so stop them after the work
    /// that must finish has.
    pub fn stop(&self) {
        self.stops.lock().expect("workers lock").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_worker_runs_its_tasks_on_its_own_thread_and_knows_its_index() {
        let workers = Workers::start(2).unwrap();
        let seen = workers
            .on_each(|_| async { (current(), std::thread::current().id()) })
            .await
            .unwrap();
        assert_eq!(seen[0].0, Some(0));
        assert_eq!(seen[1].0, Some(1));
        assert_ne!(seen[0].1, seen[1].1);
        assert_eq!(current(), None, "the test's own thread is no worker");
        assert_eq!(slot(2), 0);
    }
}
