//! What the lattice may do to an actor on this host: scale it, replace its module.

use std::sync::Arc;

use super::{ControlError, HostState};
use crate::capacity::ActorShape;
use crate::claims;

impl HostState {
    /// An actor's call alias or name, for people; its key if it is not on this host.
    pub fn label(&self, actor_id: &str) -> String {
        self.router.actor(actor_id).map_or_else(
            || actor_id.to_string(),
            |pool| pool.identity().label().to_string(),
        )
    }

    /// Sets an actor's instance limit (`Some(0)` stops it, `None` lifts the limit).
    pub fn scale_actor(
        &self,
        actor_ref: &str,
        max_instances: Option<u16>,
    ) -> Result<(), ControlError> {
        self.find_actor(actor_ref)?.scale(max_instances);
        Ok(())
    }

    /// Replaces an actor's module with a new signed one (the same actor key), verified as at
    /// start; calls in flight finish on the old module.
    pub fn replace_actor(
        &self,
        actor_ref: &str,
        wasm: &[u8],
        image_ref: &str,
    ) -> Result<(), ControlError> {
        let pool = self.find_actor(actor_ref)?;
        let refused = |e: String| ControlError::Refused(format!("refusing the new module: {e}"));
        // Checked first, so no parser's error echoes the first bytes of whatever was sent.
        if !wasm.starts_with(b"\0asm") {
            return Err(refused(
                "it is not a WebAssembly module or component".into(),
            ));
        }
        let identity =
            claims::verify(wasm, &self.trusted_issuers).map_err(|e| refused(e.to_string()))?;
        let shape = ActorShape::of(wasm).map_err(|e| refused(format!("{e:#}")))?;
        let module = self
            .runtime
            .compile(wasm)
            .map_err(|e| refused(format!("{e:#}")))?;
        pool.replace(identity, module, shape, image_ref.to_string())
            .map_err(refused)
    }

    fn find_actor(&self, actor_ref: &str) -> Result<&Arc<crate::pool::ActorPool>, ControlError> {
        self.router
            .actor(actor_ref)
            .or_else(|| {
                self.router
                    .actors()
                    .map(|(_, pool)| pool)
                    .find(|pool| pool.status().image_ref == actor_ref)
            })
            .ok_or_else(|| ControlError::NotFound(format!("actor {actor_ref} is not on this host")))
    }
}
