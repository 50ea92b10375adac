//! Checks an actor's embedded claims before it may run: signed, untampered, valid now, and
//! (when the host is given trusted issuers) issued by one of them.
//!
//! Tampering is found by computing the module's hash here, the way wascap defines it (the
//! SHA-256 of the module without its claims section, in upper-case hex), and comparing it with
//! the hash the claims were signed over. Components are signed and checked the same way.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};
use thiserror::Error;
use wascap::jwt::{validate_token, Actor, Claims};
use wasm_encoder::Encode;

/// Custom sections that carry an actor's signed claims (wascap's names).
const CLAIMS_SECTIONS: &[&str] = &["jwt", "wasmcloud_jwt"];
/// How a component's bytes begin (magic, version 0x0d, layer 1).
const COMPONENT_PREAMBLE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// Who an actor is, as its verified claims say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActorIdentity {
    /// The module's public key (the claims' subject).
    pub public_key: String,
    pub name: String,
    pub call_alias: Option<String>,
    /// The capability contracts it may call.
    pub caps: BTreeSet<String>,
    /// The account that signed the claims.
    pub issuer: String,
    pub revision: i32,
    pub version: Option<String>,
    pub tags: Vec<String>,
    /// Seconds since the epoch.
    pub expires: Option<u64>,
    pub not_before: Option<u64>,
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
    #[error("it is signed by {0}, which is not a trusted issuer (see --trusted-issuer)")]
    UntrustedIssuer(String),
}

/// The claims token a module or component carries, if any, and the hash of it without the
/// claims. As wascap computes it: claims sections are left out at every depth, and each nested
/// module or component is re-encoded from what is kept of it.
fn claims_and_hash(wasm: &[u8]) -> Result<(Option<String>, String), ClaimsError> {
    let unreadable = |e: wasmparser::BinaryReaderError| ClaimsError::Unreadable(e.to_string());
    let mut stripped = Vec::with_capacity(wasm.len());
    // The enclosing levels' kept bytes while a nested module or component is read.
    let mut outer: Vec<Vec<u8>> = Vec::new();
    let mut token = None;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(unreadable)?;
        match &payload {
            wasmparser::Payload::Version { range, .. } => {
                stripped.extend_from_slice(&wasm[range.clone()])
            }
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => {
                outer.push(std::mem::take(&mut stripped));
            }
            wasmparser::Payload::End(_) => {
                let Some(mut parent) = outer.pop() else {
                    break;
                };
                let id = if stripped.starts_with(&COMPONENT_PREAMBLE) {
                    wasm_encoder::ComponentSectionId::Component
                } else {
                    wasm_encoder::ComponentSectionId::CoreModule
                };
                parent.push(id as u8);
                stripped.encode(&mut parent);
                stripped = parent;
            }
            wasmparser::Payload::CustomSection(section)
                if CLAIMS_SECTIONS.contains(&section.name()) =>
            {
                // Only the outermost claims are the actor's.
                if outer.is_empty() {
                    let jwt = String::from_utf8(section.data().to_vec())
                        .map_err(|e| ClaimsError::Unreadable(e.to_string()))?;
                    token = Some(jwt);
                }
            }
            _ => {
                if let Some((id, range)) = payload.as_section() {
                    stripped.push(id);
                    range.len().encode(&mut stripped);
                    stripped.extend_from_slice(&wasm[range]);
                }
            }
        }
    }
    let hash = Sha256::digest(&stripped)
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect();
    Ok((token, hash))
}

/// Verifies a signed module and returns the identity its claims give it. With `trusted_issuers`
/// not empty, only modules signed by one of those account keys are accepted.
pub fn verify(wasm: &[u8], trusted_issuers: &[String]) -> Result<ActorIdentity, ClaimsError> {
    let (jwt, module_hash) = claims_and_hash(wasm)?;
    let jwt = jwt.ok_or(ClaimsError::Unsigned)?;
    let claims =
        Claims::<Actor>::decode(&jwt).map_err(|e| ClaimsError::Unreadable(e.to_string()))?;
    let signed_hash = claims
        .metadata
        .as_ref()
        .map(|actor| actor.module_hash.as_str());
    if signed_hash.ok_or(ClaimsError::NotAnActor)? != module_hash {
        return Err(ClaimsError::Tampered);
    }
    let validation =
        validate_token::<Actor>(&jwt).map_err(|e| ClaimsError::Unreadable(e.to_string()))?;
    if !validation.signature_valid {
        return Err(ClaimsError::BadSignature);
    }
    if validation.expired {
        return Err(ClaimsError::Expired);
    }
    if validation.cannot_use_yet {
        return Err(ClaimsError::NotYetValid);
    }
    if !trusted_issuers.is_empty() && !trusted_issuers.contains(&claims.issuer) {
        return Err(ClaimsError::UntrustedIssuer(claims.issuer));
    }
    let actor = claims.metadata.ok_or(ClaimsError::NotAnActor)?;
    if actor.provider || !claims.subject.starts_with('M') {
        return Err(ClaimsError::NotAnActor);
    }
    Ok(ActorIdentity {
        public_key: claims.subject,
        name: actor.name.unwrap_or_default(),
        call_alias: actor.call_alias,
        caps: actor.caps.unwrap_or_default().into_iter().collect(),
        issuer: claims.issuer,
        revision: actor.rev.unwrap_or_default(),
        version: actor.ver,
        tags: actor.tags.unwrap_or_default(),
        expires: claims.expires,
        not_before: claims.not_before,
    })
}
