//! What an actor instance keeps between the calls it serves (the host reuses instances): only
//! what cannot go stale, or is used no longer than it may be.

use std::sync::Mutex;

/// How long an instance uses the guests setting it read: an operator's change reaches every
/// instance on every host within this time.
pub const GUESTS_SETTING_MS: u64 = 1000;

#[derive(Default)]
pub struct Memory {
    /// The chat's signing key: made once, and replaced only if its maker died before storing
    /// it (`service`), so a token it does not verify sends the instance back to the store.
    signing_key: Mutex<Option<Vec<u8>>>,
    /// Whether guests may write, and when that was read.
    guests: Mutex<Option<(bool, u64)>>,
}

impl Memory {
    pub const fn new() -> Memory {
        Memory {
            signing_key: Mutex::new(None),
            guests: Mutex::new(None),
        }
    }

    pub fn signing_key(&self) -> Option<Vec<u8>> {
        self.signing_key
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn keep_signing_key(&self, key: &[u8]) {
        *self.signing_key.lock().unwrap_or_else(|e| e.into_inner()) = Some(key.to_vec());
    }

    /// Whether guests may write, if it was read less than `GUESTS_SETTING_MS` before `now`
    /// (and not after it: a clock set back forgets it).
    pub fn guests_welcome(&self, now: u64) -> Option<bool> {
        let kept = *self.guests.lock().unwrap_or_else(|e| e.into_inner());
        kept.filter(|&(_, read_at)| read_at <= now && now - read_at < GUESTS_SETTING_MS)
            .map(|(welcome, _)| welcome)
    }

    pub fn keep_guests_welcome(&self, welcome: bool, read_at: u64) {
        let mut kept = self.guests.lock().unwrap_or_else(|e| e.into_inner());
        *kept = Some((welcome, read_at));
    }
}
