//! The clock provider (`mcchat-provider-clock`), registered with the host: every link is
//! answered by the machine's clock, in this process.

use std::sync::Arc;

use async_trait::async_trait;
use mcchat_provider_clock::{SystemClock, CONTRACT};

use super::registration::{self, About, LinkStart};
use crate::provider::{ConnectionState, ProviderHandle, Started};

/// `mcchat:clock`: the time, for actors signed for it and linked to it.
pub struct Registration;

#[async_trait]
impl registration::Registration for Registration {
    fn about(&self) -> About {
        About {
            contract: CONTRACT,
            name: "clock (built in)",
            image_names: &[],
        }
    }

    async fn start(&self, _link: LinkStart<'_>) -> anyhow::Result<Box<dyn Started>> {
        Ok(Box::new(Linked))
    }
}

/// The clock serving one link.
struct Linked;

#[async_trait]
impl Started for Linked {
    fn handle(&self) -> ProviderHandle {
        ProviderHandle::immediate(Arc::new(SystemClock))
    }

    fn target(&self) -> String {
        "the system clock".into()
    }

    fn state(&self) -> ConnectionState {
        ConnectionState::Connected
    }

    fn describe(&self) -> String {
        "the host's system clock".into()
    }

    async fn stop(&self) {}
}
