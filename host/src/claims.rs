//! Checks an actor's embedded claims before it may run: signed, untampered, valid now.

use std::collections::BTreeSet;

use thiserror::Error;
use wascap::jwt::{validate_token, Actor};

/// Who an actor is, as its verified claims say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorIdentity {
    /// The module's public key (the claims' subject).
    pub public_key: String,
    pub name: String,
    pub call_alias: Option<String>,
    /// The capability contracts it may call.
    pub caps: BTreeSet<String>,
}

impl ActorIdentity {
    /// The alias when there is one (it is what people recognise), else the public key.
    pub fn label(&self) -> &str {
        self.call_alias.as_deref().unwrap_or(&self.public_key)
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ClaimsError {
    #[error("it is unsigned: no claims are embedded (sign it with `cargo xtask build`)")]
    Unsigned,
    #[error(
        "it was tampered with: its code no longer matches the hash its claims were signed over"
    )]
    Tampered,
    #[error("its claims cannot be read: {0}")]
    Unreadable(String),
    #[error("the signature on its claims is not valid")]
    BadSignature,
    #[error("its claims have expired")]
    Expired,
    #[error("its claims are not valid yet")]
    NotYetValid,
    #[error("its claims are not an actor's")]
    NotAnActor,
}

/// Verifies a signed module and returns the identity its claims give it.
pub fn verify(wasm: &[u8]) -> Result<ActorIdentity, ClaimsError> {
    let token = match wascap::wasm::extract_claims(wasm) {
        Ok(Some(token)) => token,
        Ok(None) => return Err(ClaimsError::Unsigned),
        // wascap keeps its ErrorKind private; its message is the only way to tell a hash mismatch.
        Err(e) if e.to_string().to_lowercase().contains("module hash") => {
            return Err(ClaimsError::Tampered)
        }
        Err(e) => return Err(ClaimsError::Unreadable(e.to_string())),
    };
    let validation =
        validate_token::<Actor>(&token.jwt).map_err(|e| ClaimsError::Unreadable(e.to_string()))?;
    if !validation.signature_valid {
        return Err(ClaimsError::BadSignature);
    }
    if validation.expired {
        return Err(ClaimsError::Expired);
    }
    if validation.cannot_use_yet {
        return Err(ClaimsError::NotYetValid);
    }
    let actor = token.claims.metadata.ok_or(ClaimsError::NotAnActor)?;
    if actor.provider || !token.claims.subject.starts_with('M') {
        return Err(ClaimsError::NotAnActor);
    }
    Ok(ActorIdentity {
        public_key: token.claims.subject,
        name: actor.name.unwrap_or_default(),
        call_alias: actor.call_alias,
        caps: actor.caps.unwrap_or_default().into_iter().collect(),
    })
}
