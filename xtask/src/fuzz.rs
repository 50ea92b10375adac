//! `cargo xtask fuzz`: the cargo-fuzz targets in `fuzz/`, each for a while from its committed
//! corpus. The test command runs each briefly; longer runs are the same command with more time.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::workspace_root;

/// Every target in `fuzz/fuzz_targets/`.
pub const TARGETS: &[&str] = &[
    "post_body",
    "page_query",
    "chat_in",
    "ws_frame",
    "mqtt_chat_in",
    "mqtt_topic",
    "manifest",
    "token",
];

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

/// How the targets are compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// Optimised (cargo-fuzz's default), for runs long enough to find something.
    Optimised,
    /// Unoptimised (`--dev`), for the test command's seconds of each target: half the CPU to
    /// build (BENCHMARKS.md, "The build budget, a third time"), with the same sanitizer and
    /// coverage instrumentation, and debug assertions on.
    Quick,
}

/// `cargo fuzz SUBCOMMAND` in `fuzz_dir`. cargo-fuzz passes nightly flags (-Z sanitizer);
/// RUSTC_BOOTSTRAP lets stable take them.
fn cargo_fuzz(fuzz_dir: &std::path::Path, subcommand: &str, how: Build) -> Command {
    let mut command = Command::new(cargo());
    command
        .current_dir(fuzz_dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", subcommand]);
    if how == Build::Quick {
        command.arg("--dev");
    }
    command
}

/// Builds each target and runs it for `seconds`; a crash fails with the input saved under
/// `fuzz/artifacts/`.
pub fn run(targets: &[&str], seconds: u64) -> Result<()> {
    build(targets, Build::Optimised)?;
    run_built(targets, seconds, Build::Optimised)
}

/// Installs cargo-fuzz if missing and builds `targets`, in `fuzz/target` (nothing shared with
/// the workspace's build, so it may run beside it).
pub fn build(targets: &[&str], how: Build) -> Result<()> {
    ensure_cargo_fuzz()?;
    if let Some(unknown) = targets.iter().find(|target| !TARGETS.contains(target)) {
        bail!("no fuzz target {unknown}; there are {}", TARGETS.join(", "));
    }
    // One build for every target: cargo compiles and links them side by side, where each
    // `cargo fuzz run` would build its own in turn.
    let mut build = cargo_fuzz(&workspace_root().join("fuzz"), "build", how);
    if targets.len() == 1 {
        build.arg(targets[0]);
    }
    let status = build.status().context("running cargo fuzz build")?;
    if !status.success() {
        bail!("cargo fuzz build failed ({status})");
    }
    Ok(())
}

/// Runs each target of a finished [`build`], built `how`, for `seconds`.
pub fn run_built(targets: &[&str], seconds: u64, how: Build) -> Result<()> {
    let fuzz_dir = workspace_root().join("fuzz");
    // As many targets at once as there are cores: each libFuzzer process uses one.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let queue = std::sync::Mutex::new(targets.iter());
    std::thread::scope(|scope| {
        let runners: Vec<_> = (0..cores.min(targets.len()))
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let next = queue.lock().expect("no runner panics").next();
                        let Some(target) = next else { return Ok(()) };
                        run_target(&fuzz_dir, target, seconds, how)?;
                    }
                })
            })
            .collect();
        runners
            .into_iter()
            .try_for_each(|runner| runner.join().expect("a fuzz runner does not panic"))
    })
}

/// Runs `target` for `seconds` from its corpus; a crash fails with the input saved.
fn run_target(fuzz_dir: &std::path::Path, target: &str, seconds: u64, how: Build) -> Result<()> {
    println!("fuzz: {target} for {seconds} s");
    // New inputs go to a folder git ignores; the committed corpus is only read.
    let found = fuzz_dir.join("target").join("new-corpus").join(target);
    std::fs::create_dir_all(&found)?;
    let corpus = fuzz_dir.join("corpus").join(target);
    let status = cargo_fuzz(fuzz_dir, "run", how)
        .arg(target)
        .arg(&found)
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .status()
        .with_context(|| format!("running fuzz target {target}"))?;
    if !status.success() {
        bail!("fuzz target {target} failed ({status}); the input is in fuzz/artifacts/{target}/");
    }
    Ok(())
}
