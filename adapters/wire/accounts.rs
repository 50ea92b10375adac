//! The accounts contract's msgpack form, field for field as wasmbus-rpc encodes
//! `interface/accounts.smithy` (named fields, camelCase, absent options left out), and its
//! conversions to and from the WIT records of `crate::contract`.

use serde::{Deserialize, Serialize};

use crate::contract as wit;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub user_name: String,
    pub password: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest {
    pub token: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignOffRequest {
    pub token: String,
    pub everywhere: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentifyRequest {
    pub user_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountAnswer {
    #[serde(default)]
    pub accepted: bool,
    #[serde(default)]
    pub outcome: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub expires_at: Option<u64>,
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
}

impl From<wit::Credentials> for Credentials {
    fn from(c: wit::Credentials) -> Self {
        Credentials {
            user_name: c.user_name,
            password: c.password,
        }
    }
}

impl From<wit::TokenRequest> for TokenRequest {
    fn from(r: wit::TokenRequest) -> Self {
        TokenRequest { token: r.token }
    }
}

impl From<wit::SignOffRequest> for SignOffRequest {
    fn from(r: wit::SignOffRequest) -> Self {
        SignOffRequest {
            token: r.token,
            everywhere: r.everywhere,
        }
    }
}

impl From<wit::IdentifyRequest> for IdentifyRequest {
    fn from(r: wit::IdentifyRequest) -> Self {
        IdentifyRequest {
            user_name: r.user_name,
            token: r.token,
        }
    }
}

impl From<AccountAnswer> for wit::AccountAnswer {
    fn from(a: AccountAnswer) -> Self {
        wit::AccountAnswer {
            accepted: a.accepted,
            outcome: a.outcome,
            reason: a.reason,
            user_name: a.user_name,
            token: a.token,
            expires_at: a.expires_at,
            retry_after_ms: a.retry_after_ms,
        }
    }
}
