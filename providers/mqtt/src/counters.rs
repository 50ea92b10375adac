//! What the provider counts, through the `metrics` facade: the mcchat host exports these on
//! `/metrics`; a standalone provider has no recorder and they cost nothing. Each counter is
//! looked up once (its labels hashed once), not on every message.

use std::sync::OnceLock;

use metrics::Counter;

const MESSAGES: &str = "mcchat_mqtt_messages_total";

/// The counter for one direction and outcome, registered on first use.
macro_rules! counter {
    ($direction:literal, $outcome:literal) => {{
        static COUNTER: OnceLock<Counter> = OnceLock::new();
        COUNTER
            .get_or_init(|| {
                metrics::counter!(MESSAGES, "direction" => $direction, "outcome" => $outcome)
            })
            .increment(1)
    }};
}

/// A received message the actor took.
pub fn delivered() {
    counter!("in", "delivered");
}

/// A received message refused: by the provider (topic, size) or by the actor.
pub fn refused() {
    counter!("in", "refused");
}

/// A retained message the broker sent again on a subscribe, not taken twice.
pub fn retained_skipped() {
    counter!("in", "retained");
}

pub fn published() {
    counter!("out", "published");
}

/// A publish dropped: the broker away, or the connection not keeping up.
pub fn dropped() {
    counter!("out", "dropped");
}
