//! Compiling the actors in a child process. Cranelift is most of the binary's code and needs
//! megabytes of working memory; compiled in the host, both stay resident for as long as it runs
//! (about 15 MB under load). The child (`mcchat compile-actors`) fills the compile cache and
//! exits, and the host loads the compiled actors from the cache without touching the compiler.
//!
//! The modules travel on the child's stdin, each a little-endian `u32` length and its bytes, so
//! actors pulled from a registry need no file.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::capacity::BoundsChecks;
use crate::runtime::Compiler;

/// The hidden subcommand the child runs.
pub const SUBCOMMAND: &str = "compile-actors";
/// Its flag (`--bounds-checked`) for code that checks every memory access, for a host whose
/// memories are too many to reserve 4 GiB each.
pub const BOUNDS_CHECKED: &str = "bounds-checked";

/// Runs `program compile-actors CACHE_DIR` on `modules` and waits for it. The caller compiles
/// them itself afterwards: from the cache if this worked, from scratch if not. The child
/// compiles for `bounds_checks`, as the host's engine would.
pub fn in_child(
    program: &Path,
    cache_dir: &Path,
    bounds_checks: BoundsChecks,
    modules: &[&[u8]],
) -> Result<()> {
    let mut child = Command::new(program);
    child.arg(SUBCOMMAND).arg(cache_dir);
    if bounds_checks == BoundsChecks::Emitted {
        child.arg(format!("--{BOUNDS_CHECKED}"));
    }
    let mut child = child
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let mut stdin = child.stdin.take().context("the child has no stdin")?;
    let written = modules.iter().try_for_each(|module| {
        let len = u32::try_from(module.len()).context("an actor larger than 4 GiB")?;
        stdin.write_all(&len.to_le_bytes())?;
        stdin.write_all(module)?;
        Ok::<_, anyhow::Error>(())
    });
    drop(stdin);
    let output = child.wait_with_output()?;
    // A child that stopped at a bad module closed its stdin: its reason is the one to report.
    if !output.status.success() {
        bail!(
            "{} {SUBCOMMAND} failed ({}): {}",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    written
}

/// The child's side: compiles every module on `input` into the cache at `cache_dir`.
pub fn serve(cache_dir: &Path, bounds_checks: BoundsChecks, mut input: impl Read) -> Result<()> {
    let compiler = Compiler::with_cache(cache_dir, bounds_checks)?;
    let mut len = [0u8; 4];
    loop {
        match input.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let mut module = vec![0; u32::from_le_bytes(len) as usize];
        input
            .read_exact(&mut module)
            .context("a truncated module")?;
        compiler.compile(&module)?;
    }
}
