//! Signs actors with capability claims (wascap 0.11, the line whose actor claims carry `caps`).
//!
//! Keys live in `.keys/` (ignored by git): one account key that issues every actor, and one
//! module key per actor so its public key stays the same from build to build.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use wascap::prelude::KeyPair;

use crate::actors::ActorSpec;
use crate::workspace_root;

/// Claims stay valid for a year, then a rebuild re-signs.
const EXPIRES_IN_DAYS: u64 = 365;

pub fn keys_dir() -> PathBuf {
    std::env::var_os("MCCHAT_KEYS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".keys"))
}

/// Signs `unsigned` into `signed` with the actor's name, version, call alias and caps.
pub fn sign(actor: &ActorSpec, version: &str, unsigned: &Path, signed: &Path) -> Result<()> {
    let module = fs::read(unsigned).with_context(|| format!("reading {}", unsigned.display()))?;
    let account = load_or_create(&keys_dir().join("account.nk"), KeyPair::new_account)?;
    let module_key = load_or_create(
        &keys_dir().join(format!("{}_module.nk", actor.lib_name())),
        KeyPair::new_module,
    )?;
    let bytes = wascap::wasm::sign_buffer_with_claims(
        actor.package.to_string(),
        &module,
        module_key,
        account,
        Some(EXPIRES_IN_DAYS),
        None,
        actor.caps.iter().map(|c| c.to_string()).collect(),
        Vec::new(),
        false,
        Some(1),
        Some(version.to_string()),
        Some(actor.call_alias.to_string()),
    )
    .map_err(|e| anyhow!("signing {}: {e}", actor.package))?;
    if let Some(dir) = signed.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(signed, bytes).with_context(|| format!("writing {}", signed.display()))
}

fn load_or_create(path: &Path, new_key: fn() -> KeyPair) -> Result<KeyPair> {
    if path.exists() {
        let seed =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return KeyPair::from_seed(seed.trim()).map_err(|e| anyhow!("{}: {e}", path.display()));
    }
    let key = new_key();
    let seed = key.seed().map_err(|e| anyhow!("{e}"))?;
    fs::create_dir_all(path.parent().expect("key paths have a folder"))?;
    write_private(path, &seed).with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    fs::write(path, contents)
}
