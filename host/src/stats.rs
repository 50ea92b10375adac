//! Per-operation call statistics of one actor, for the dashboard (counts, errors, traps, p50 and
//! p99 since the host started) and Prometheus (through cached metric handles).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::telemetry::{OperationMetrics, Outcome};

/// Latencies are kept in microseconds up to the call deadline, to 2 significant digits.
const MAX_MICROS: u64 = 60_000_000;

struct Operation {
    calls: u64,
    errors: u64,
    traps: u64,
    latency_micros: Histogram<u64>,
    metrics: OperationMetrics,
}

/// One operation's figures, as the dashboard shows them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OperationStats {
    pub operation: String,
    pub calls: u64,
    pub errors: u64,
    pub traps: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

pub struct CallStats {
    actor: String,
    operations: Mutex<HashMap<String, Operation>>,
    last_trap: Mutex<Option<Instant>>,
}

impl CallStats {
    pub fn new(actor: &str) -> Self {
        CallStats {
            actor: actor.to_string(),
            operations: Mutex::new(HashMap::new()),
            last_trap: Mutex::new(None),
        }
    }

    /// When an instance last trapped, if one ever did.
    pub fn last_trap(&self) -> Option<Instant> {
        *self.last_trap.lock().expect("stats lock")
    }

    pub fn record(&self, operation: &str, outcome: Outcome, took: Duration) {
        if outcome == Outcome::Trap {
            *self.last_trap.lock().expect("stats lock") = Some(Instant::now());
        }
        let mut operations = self.operations.lock().expect("stats lock");
        let entry = match operations.get_mut(operation) {
            Some(entry) => entry,
            None => operations
                .entry(operation.to_string())
                .or_insert_with(|| Operation {
                    calls: 0,
                    errors: 0,
                    traps: 0,
                    latency_micros: Histogram::new_with_max(MAX_MICROS, 2)
                        .expect("valid histogram bounds"),
                    metrics: OperationMetrics::new(&self.actor, operation),
                }),
        };
        entry.calls += 1;
        match outcome {
            Outcome::Ok => {}
            Outcome::Error | Outcome::TimedOut => entry.errors += 1,
            Outcome::Trap => entry.traps += 1,
        }
        entry
            .latency_micros
            .saturating_record(took.as_micros().min(u128::from(MAX_MICROS)) as u64);
        entry.metrics.record(outcome, took);
    }

    pub fn snapshot(&self) -> Vec<OperationStats> {
        let operations = self.operations.lock().expect("stats lock");
        let mut stats: Vec<OperationStats> = operations
            .iter()
            .map(|(name, op)| OperationStats {
                operation: name.clone(),
                calls: op.calls,
                errors: op.errors,
                traps: op.traps,
                p50_ms: op.latency_micros.value_at_quantile(0.5) as f64 / 1000.0,
                p99_ms: op.latency_micros.value_at_quantile(0.99) as f64 / 1000.0,
            })
            .collect();
        stats.sort_by(|a, b| a.operation.cmp(&b.operation));
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outcomes_and_latency_per_operation() {
        let stats = CallStats::new("mcchat/test");
        for _ in 0..98 {
            stats.record("Op.A", Outcome::Ok, Duration::from_millis(2));
        }
        stats.record("Op.A", Outcome::Error, Duration::from_millis(2));
        stats.record("Op.A", Outcome::Trap, Duration::from_millis(40));
        stats.record("Op.B", Outcome::TimedOut, Duration::from_secs(10));
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.len(), 2);
        let a = &snapshot[0];
        assert_eq!((a.calls, a.errors, a.traps), (100, 1, 1));
        assert!((1.9..2.1).contains(&a.p50_ms), "{a:?}");
        assert!((1.9..2.1).contains(&a.p99_ms), "{a:?}");
        assert_eq!((snapshot[1].calls, snapshot[1].errors), (1, 1));
    }
}
