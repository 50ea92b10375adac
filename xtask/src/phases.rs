//! Named, timed steps of an xtask command. Each step prints how long it took, and the command
//! ends with the whole breakdown (also when a step failed), so a CI run that got slower shows
//! where the time went. Steps may run at once on several threads; each is timed on its own.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;

pub struct Phases {
    started: Instant,
    finished: Mutex<Vec<(&'static str, Duration)>>,
}

impl Default for Phases {
    fn default() -> Phases {
        Phases {
            started: Instant::now(),
            finished: Mutex::default(),
        }
    }
}

impl Phases {
    pub fn new() -> Phases {
        Phases::default()
    }

    /// Runs one step and records its duration under `name`.
    pub fn run<T>(&self, name: &'static str, step: impl FnOnce() -> Result<T>) -> Result<T> {
        eprintln!("xtask: phase {name} started");
        let started = Instant::now();
        let result = step();
        let took = started.elapsed();
        let outcome = if result.is_ok() { "" } else { " (failed)" };
        eprintln!("xtask: phase {name} took {}{outcome}", seconds(took));
        self.finished
            .lock()
            .expect("no phase panics while recording")
            .push((name, took));
        result
    }
}

impl Drop for Phases {
    fn drop(&mut self) {
        let finished = self.finished.get_mut().expect("no phase panicked");
        if finished.is_empty() {
            return;
        }
        let each: Vec<String> = finished
            .iter()
            .map(|(name, took)| format!("{name} {}", seconds(*took)))
            .collect();
        eprintln!(
            "xtask: phases: {}; {} in all",
            each.join(", "),
            seconds(self.started.elapsed())
        );
    }
}

fn seconds(duration: Duration) -> String {
    format!("{:.0} s", duration.as_secs_f64())
}
