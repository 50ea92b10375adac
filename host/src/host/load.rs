//! Loading the manifest's actors: read from files or registries, verified against their claims,
//! then compiled (in a child process into the cache when the host has a compiler).

use std::path::Path;

use anyhow::{anyhow, Context, Result};

use crate::capacity::ActorShape;
use crate::claims;
use crate::manifest::{ActorDecl, ActorImage};
use crate::oci::{self, PullPolicy};
use crate::pool::LoadedActor;
use crate::precompile;
use crate::runtime::Runtime;

/// An actor read and verified, not compiled yet.
pub(super) struct VerifiedActor {
    pub(super) identity: claims::ActorIdentity,
    pub(super) wasm: Vec<u8>,
    pub(super) shape: ActorShape,
    pub(super) image_ref: String,
}

/// Reads every actor the manifest names, from files or registries; any that fails
/// verification stops the start.
pub(super) async fn read_actors(
    decls: &[ActorDecl],
    trusted_issuers: &[String],
    pull_policy: &PullPolicy,
) -> Result<Vec<VerifiedActor>> {
    let mut verified = Vec::with_capacity(decls.len());
    for decl in decls {
        let wasm = match &decl.image {
            ActorImage::File(path) => std::fs::read(path).with_context(|| {
                format!(
                    "reading actor {} from {} (build it with `cargo xtask build`)",
                    decl.name,
                    path.display()
                )
            })?,
            ActorImage::Registry(reference) => oci::pull_actor(reference, pull_policy)
                .await
                .with_context(|| format!("loading actor {}", decl.name))?,
        };
        let identity = claims::verify(&wasm, trusted_issuers)
            .map_err(|e| anyhow!("refusing actor {} ({}): {e}", decl.name, decl.image))?;
        let shape =
            ActorShape::of(&wasm).with_context(|| format!("loading actor {}", decl.name))?;
        let image_ref = match &decl.image {
            ActorImage::File(path) => format!(
                "file://{}",
                std::fs::canonicalize(path)
                    .unwrap_or_else(|_| path.clone())
                    .display()
            ),
            ActorImage::Registry(reference) => reference.clone(),
        };
        verified.push(VerifiedActor {
            identity,
            wasm,
            shape,
            image_ref,
        });
    }
    Ok(verified)
}

/// Compiles the verified actors: in a child process into the cache first when `compiler` is
/// given, so the host loads them from there.
pub(super) fn compile_actors(
    runtime: &Runtime,
    cache_dir: &Path,
    compiler: Option<&Path>,
    verified: Vec<VerifiedActor>,
) -> Result<Vec<LoadedActor>> {
    if let Some(compiler) = compiler {
        let modules: Vec<&[u8]> = verified.iter().map(|actor| &actor.wasm[..]).collect();
        let bounds_checks = runtime.capacity().bounds_checks;
        if let Err(e) = precompile::in_child(compiler, cache_dir, bounds_checks, &modules) {
            tracing::warn!("compiling the actors in this process instead: {e:#}");
        }
    }
    verified
        .into_iter()
        .map(|actor| {
            let module = runtime
                .compile(&actor.wasm)
                .with_context(|| format!("loading actor {}", actor.identity.name))?;
            Ok(LoadedActor {
                identity: actor.identity,
                module,
                shape: actor.shape,
                image_ref: actor.image_ref,
            })
        })
        .collect()
}
