//! Where accounts live: the linked key-value store, under `mcchat:accounts:`, which every host
//! of the chat reads.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::rpc::RpcResult;

/// The key-value operations the accounts need (`wasmcloud:keyvalue` in the actor).
#[async_trait]
pub trait Store {
    async fn get(&self, key: &str) -> RpcResult<Option<String>>;
    async fn set(&self, key: &str, value: &str) -> RpcResult<()>;
    /// Adds one and answers the new value (a missing key counts from 0): the store's only
    /// atomic step, so every claim goes through it.
    async fn increment(&self, key: &str) -> RpcResult<i32>;
    async fn del(&self, key: &str) -> RpcResult<()>;
    /// Adds `member` to the set under `key`: atomic, so two sign-offs at once both count.
    async fn set_add(&self, key: &str, member: &str) -> RpcResult<()>;
    async fn set_del(&self, key: &str, member: &str) -> RpcResult<()>;
    /// The members of the set under `key` (none when there is no such set).
    async fn set_members(&self, key: &str) -> RpcResult<Vec<String>>;
}

/// An account: the name as registered, and the hash of its password.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    pub name: String,
    pub hash: String,
}

/// An account's key: names are protected whatever their case (`Alice` is `alice`'s).
pub fn account_key(name: &str) -> String {
    format!("mcchat:accounts:user:{}", name.to_lowercase())
}

/// Counts the sign-ups of a name; the first one creates the account.
pub fn claim_key(name: &str) -> String {
    format!("mcchat:accounts:claim:{}", name.to_lowercase())
}

/// An account's sign-offs, a set read in one step as each token is verified: a member
/// `token <jti> <exp>` per token signed off, and `before <ms>` per sign-off everywhere.
pub fn revocations_key(name: &str) -> String {
    format!("mcchat:accounts:revocations:{}", name.to_lowercase())
}

/// Sign-on attempts on a name in one window of the limit.
pub fn attempts_key(name: &str, window: u64) -> String {
    format!("mcchat:accounts:attempts:{}:{window}", name.to_lowercase())
}

/// The signing key, made once by the first sign-on and read by every host after it.
pub const SIGNING_KEY: &str = "mcchat:accounts:signing-key";
/// Counts the attempts to make the signing key; the first one makes it.
pub const SIGNING_KEY_CLAIM: &str = "mcchat:accounts:signing-key-claim";
/// `closed` when guests may not write: the operator's setting (README, "Closing the chat to
/// guests").
pub const GUESTS: &str = "mcchat:accounts:guests";
