//! What the provider counts, through the `metrics` facade: the mcchat host exports these on
//! `/metrics`; a standalone provider has no recorder and they cost nothing.

const MESSAGES: &str = "mcchat_mqtt_messages_total";

fn count(direction: &'static str, outcome: &'static str) {
    metrics::counter!(MESSAGES, "direction" => direction, "outcome" => outcome).increment(1);
}

/// A received message the actor took.
pub fn delivered() {
    count("in", "delivered");
}

/// A received message refused: by the provider (topic, size) or by the actor.
pub fn refused() {
    count("in", "refused");
}

pub fn published() {
    count("out", "published");
}

/// A publish dropped: the broker away, or the connection not keeping up.
pub fn dropped() {
    count("out", "dropped");
}
