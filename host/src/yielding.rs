//! How a running guest yields at each epoch tick, and how CPU-heavy calls take turns.
//!
//! wasmtime's own yield wakes the guest at once, so on a worker's single-threaded runtime a
//! few long computations (argon2id at sign-on, ~50 ms of CPU each) kept the run queue from
//! ever emptying, and the runtime polled its sockets only every 61st task: sixteen sign-ons at
//! once held every other request for a third of a second and more (BENCHMARKS.md). A guest
//! now yields with `tokio::task::yield_now` (as wasmtime recommends), which wakes it only
//! after the runtime has polled its sockets.
//!
//! And a call that has computed through `HEAVY_AFTER_TICKS` ticks is heavy: the heavy calls on
//! one worker compute one at a time, so a short call waits behind one of them, not all. A
//! heavy call gives its turn up while it waits on the host (a store, another actor), so a turn
//! is never held across a call that might need one.

use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::UpdateDeadline;

/// Tick boundaries a call may compute across before it counts as heavy: a short call (a chat
/// message's whole path is well under a tick) crosses one at most.
pub const HEAVY_AFTER_TICKS: u32 = 2;

thread_local! {
    /// The worker's one turn for heavy calls (each worker is a thread of its own).
    static HEAVY_TURN: Arc<Semaphore> = Arc::new(Semaphore::new(1));
}

/// One instance's place in the turns, kept in its store.
#[derive(Default)]
pub struct Turns {
    ticks: u32,
    /// The turn, while this call holds it (set by the future that waited for it).
    turn: Arc<Mutex<Option<OwnedSemaphorePermit>>>,
}

impl Turns {
    /// What the guest does when its tick is up: yields behind the worker's pending I/O and,
    /// once heavy, waits for the worker's turn if it holds none.
    pub fn at_tick(&mut self) -> UpdateDeadline {
        self.ticks = self.ticks.saturating_add(1);
        let holding = self
            .turn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if self.ticks < HEAVY_AFTER_TICKS || holding {
            return UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now()));
        }
        let (turns, held) = (HEAVY_TURN.with(Arc::clone), self.turn.clone());
        UpdateDeadline::YieldCustom(
            1,
            Box::pin(async move {
                tokio::task::yield_now().await;
                if let Ok(turn) = turns.acquire_owned().await {
                    *held.lock().unwrap_or_else(|e| e.into_inner()) = Some(turn);
                }
            }),
        )
    }

    /// The guest waits on the host: its turn goes to the next heavy call.
    pub fn waiting(&mut self) {
        self.turn.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// A call begins or ends: the next one starts light, holding no turn.
    pub fn reset(&mut self) {
        self.waiting();
        self.ticks = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn awaited(
        deadline: UpdateDeadline,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        match deadline {
            UpdateDeadline::YieldCustom(1, future) => future,
            _ => panic!("a guest yields behind I/O and runs another tick"),
        }
    }

    #[tokio::test]
    async fn heavy_calls_take_turns_and_a_light_one_never_waits() {
        let (mut first, mut second) = (Turns::default(), Turns::default());
        for _ in 1..HEAVY_AFTER_TICKS {
            awaited(first.at_tick()).await;
        }
        awaited(first.at_tick()).await; // heavy: takes the free turn
        assert!(first.turn.lock().unwrap().is_some());
        for _ in 1..HEAVY_AFTER_TICKS {
            awaited(second.at_tick()).await; // still light: never waits
        }
        let mut waiting = tokio::spawn(awaited(second.at_tick()));
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished(), "the turn is the first call's");
        first.waiting(); // the first waits on the host: the second gets the turn
        tokio::time::timeout(std::time::Duration::from_secs(5), &mut waiting)
            .await
            .expect("the turn passes")
            .unwrap();
        assert!(second.turn.lock().unwrap().is_some());
        second.reset();
        assert!(second.turn.lock().unwrap().is_none());
    }
}
