//! The host's lattice events (actor started, instance trapped, link set, ...): one broadcast
//! that the control interface publishes as CloudEvents and the dashboard streams to browsers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

/// Events a late subscriber (a dashboard just opened) is shown first.
const RECENT: usize = 100;
/// Events buffered per subscriber; a subscriber further behind skips ahead.
const CAPACITY: usize = 1024;

#[derive(Debug, Clone, Serialize)]
pub struct LatticeEvent {
    /// wasmCloud's event name, e.g. `actor_started` (`com.wasmcloud.lattice.actor_started`).
    pub name: String,
    pub data: serde_json::Value,
    pub time: DateTime<Utc>,
}

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<LatticeEvent>>,
    recent: Arc<Mutex<VecDeque<Arc<LatticeEvent>>>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            sender: broadcast::channel(CAPACITY).0,
            recent: Arc::new(Mutex::new(VecDeque::with_capacity(RECENT))),
        }
    }
}

impl EventBus {
    pub fn publish(&self, name: &str, data: serde_json::Value) {
        let event = Arc::new(LatticeEvent {
            name: name.to_string(),
            data,
            time: Utc::now(),
        });
        {
            let mut recent = self.recent.lock().expect("events lock");
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(event.clone());
        }
        // No subscriber is fine: the event is still in `recent`.
        let _ = self.sender.send(event);
    }

    /// The recent events, oldest first, and a receiver for every later one.
    pub fn subscribe(
        &self,
    ) -> (
        Vec<Arc<LatticeEvent>>,
        broadcast::Receiver<Arc<LatticeEvent>>,
    ) {
        let recent = self.recent.lock().expect("events lock");
        (recent.iter().cloned().collect(), self.sender.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn late_subscribers_get_recent_events_then_live_ones() {
        let bus = EventBus::default();
        bus.publish("actor_started", serde_json::json!({"n": 1}));
        let (recent, mut live) = bus.subscribe();
        assert_eq!(recent.len(), 1);
        bus.publish("linkdef_set", serde_json::json!({"n": 2}));
        assert_eq!(live.recv().await.unwrap().name, "linkdef_set");
    }
}
