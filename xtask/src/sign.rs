//! Signs actors with capability claims (wascap 0.11, the line whose actor claims carry `caps`).
//!
//! Keys live in `.keys/` (ignored by git): one account key that issues every actor and provider
//! archive, one module key per actor and one service key per provider, so their public keys
//! stay the same from build to build.

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

/// The key whose seed is in `path`, made and saved (readable by the owner only) if none is.
/// Builds and tests running at once agree on one key: the seed is written whole to a file of
/// its own, then linked into place only if no other key got there first.
pub fn load_or_create(path: &Path, new_key: fn() -> KeyPair) -> Result<KeyPair> {
    if !path.exists() {
        let key = new_key();
        let seed = key.seed().map_err(|e| anyhow!("{e}"))?;
        let folder = path.parent().expect("key paths have a folder");
        fs::create_dir_all(folder)?;
        let draft = folder.join(format!(
            ".{}.{}.{:?}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id(),
            std::thread::current().id()
        ));
        write_private(&draft, &seed).with_context(|| format!("writing {}", draft.display()))?;
        let placed = fs::hard_link(&draft, path);
        let _ = fs::remove_file(&draft);
        match placed {
            Ok(()) => return Ok(key),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("writing {}", path.display())),
        }
    }
    let seed = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    KeyPair::from_seed(seed.trim()).map_err(|e| anyhow!("{}: {e}", path.display()))
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    fs::write(path, contents)
}
