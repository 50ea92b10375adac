//! The clock as a wasmCloud capability provider: what the `clock` binary runs. Every link is
//! served by the same system clock; the link is what lets an actor ask.

use async_trait::async_trait;
use mcchat_provider_kit::lattice::{self, LinkContext};

use crate::SystemClock;

/// The name the provider logs under.
pub const NAME: &str = "mcchat clock";

/// Serves each link with the system clock.
pub struct ClockLinks;

#[async_trait]
impl lattice::Links for ClockLinks {
    type Linked = SystemClock;
    const SERVICE: &'static str = "Clock";

    async fn start(&self, _link: LinkContext<'_>) -> anyhow::Result<SystemClock> {
        Ok(SystemClock)
    }
}

#[async_trait]
impl lattice::Linked for SystemClock {
    fn target(&self) -> String {
        "the system clock".into()
    }

    async fn stop(&self, _reason: &str) {}
}
