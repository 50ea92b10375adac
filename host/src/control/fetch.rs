//! Where a control command's new module comes from (`upd`'s `new_actor_ref`). Anyone who may send
//! control commands chooses the reference, so: a `file://` reference only with
//! `--allow-file-load` (as wasmCloud hosts, which refuse them unless `WASMCLOUD_ALLOW_FILE_LOAD`),
//! at most `MAX_MODULE_BYTES` from a file or a registry, and refusals that say neither what a
//! file holds nor whether it exists.

use std::io::Read;

use crate::oci::{self, PullPolicy, MAX_MODULE_BYTES};

/// What may be loaded: registries as the policy allows, files only when `allow_file_load`.
#[derive(Debug, Clone)]
pub struct ModuleSource {
    pub pull_policy: PullPolicy,
    pub allow_file_load: bool,
}

impl ModuleSource {
    /// The module behind `image`: a `file://` path or an OCI reference.
    pub async fn fetch(&self, image: &str) -> Result<Vec<u8>, String> {
        match image.strip_prefix("file://") {
            Some(_) if !self.allow_file_load => Err(format!(
                "{image}: this host loads no actor from a file for a control command (start \
                 it with --allow-file-load or WASMCLOUD_ALLOW_FILE_LOAD=true)"
            )),
            Some(path) => {
                let path = path.to_string();
                tokio::task::spawn_blocking(move || read_module(&path))
                    .await
                    .ok()
                    .flatten()
                    .ok_or_else(|| {
                        format!(
                            "{image}: no WebAssembly file of at most {MAX_MODULE_BYTES} bytes \
                             there"
                        )
                    })
            }
            None => oci::pull_actor(image, &self.pull_policy)
                .await
                .map_err(|e| e.to_string()),
        }
    }
}

/// A regular file's bytes, if it is WebAssembly of at most `MAX_MODULE_BYTES` (a device or a
/// file growing while read is cut off there). Every other case is `None` alike, so a refusal
/// does not tell a missing file from an unreadable one or one that holds something else.
fn read_module(path: &str) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut module = Vec::new();
    file.take(MAX_MODULE_BYTES as u64 + 1)
        .read_to_end(&mut module)
        .ok()?;
    (module.len() as i64 <= MAX_MODULE_BYTES && module.starts_with(b"\0asm")).then_some(module)
}
