//! `cargo xtask fuzz`: the cargo-fuzz targets in `fuzz/`, each for a while from its committed
//! corpus. The test command runs each briefly; longer runs are the same command with more time.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::workspace_root;

/// Every target in `fuzz/fuzz_targets/`.
pub const TARGETS: &[&str] = &["post_body", "page_query", "chat_in", "ws_frame", "manifest"];

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Installs cargo-fuzz from crates.io unless it is there.
fn ensure_cargo_fuzz() -> Result<()> {
    let installed = Command::new(cargo())
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if installed {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-fuzz");
    let status = Command::new(cargo())
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .context("running cargo install cargo-fuzz")?;
    if !status.success() {
        bail!("cargo install cargo-fuzz failed ({status})");
    }
    Ok(())
}

/// Runs each target for `seconds`; a crash fails with the input saved under `fuzz/artifacts/`.
pub fn run(targets: &[&str], seconds: u64) -> Result<()> {
    ensure_cargo_fuzz()?;
    let fuzz_dir = workspace_root().join("fuzz");
    for target in targets {
        if !TARGETS.contains(target) {
            bail!("no fuzz target {target}; there are {}", TARGETS.join(", "));
        }
        println!("fuzz: {target} for {seconds} s");
        // New inputs go to a folder git ignores; the committed corpus is only read.
        let found = fuzz_dir.join("target").join("new-corpus").join(target);
        std::fs::create_dir_all(&found)?;
        let corpus = fuzz_dir.join("corpus").join(target);
        // cargo-fuzz passes nightly flags (-Z sanitizer); RUSTC_BOOTSTRAP lets stable take them.
        let status = Command::new(cargo())
            .current_dir(&fuzz_dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", target])
            .arg(&found)
            .arg(&corpus)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .status()
            .with_context(|| format!("running fuzz target {target}"))?;
        if !status.success() {
            bail!(
                "fuzz target {target} failed ({status}); the input is in fuzz/artifacts/{target}/"
            );
        }
    }
    Ok(())
}
