//! `cargo xtask up`: set everything up and start the chat on http://localhost:8080.
//! `cargo xtask build`: build the four actors for wasm and sign them into `build/`.
//! `cargo xtask test`: build them, then run every test in the workspace.

use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use xtask::{actors::ACTORS, build_dir, sign, toolchain, up, wasm, workspace_root};

#[derive(Parser)]
#[command(about = "mcchat build helpers")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build everything and run the chat from wadm.yaml with the embedded store (Ctrl-C stops it).
    /// Starts a local nats-server when none listens on 127.0.0.1:4222 and no --nats-url is given.
    Up {
        /// Extra arguments for `mcchat up`, e.g. `--redis-url redis://127.0.0.1:6379`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        host_args: Vec<String>,
    },
    /// Build and sign the four actors into build/*_s.wasm (installs the Debian wasm toolchain if missing).
    Build,
    /// Build the actors, then run every test (installs nats-server and redis-server if missing).
    Test {
        /// Extra arguments for `cargo test`, e.g. a test name filter.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_test_args: Vec<String>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Task::Up { host_args } => {
            build_actors()?;
            toolchain::ensure_programs(&[("nats-server", "nats-server")])?;
            up::run(&host_args)
        }
        Task::Build => build_actors(),
        Task::Test { cargo_test_args } => {
            build_actors()?;
            toolchain::ensure_programs(&[
                ("nats-server", "nats-server"),
                ("redis-server", "redis-server"),
            ])?;
            run_tests(&cargo_test_args)
        }
    }
}

fn build_actors() -> Result<()> {
    toolchain::ensure_wasm_toolchain()?;
    wasm::build(ACTORS)?;
    for actor in ACTORS {
        let signed = build_dir().join(actor.signed_file_name());
        sign::sign(
            actor,
            env!("CARGO_PKG_VERSION"),
            &wasm::unsigned_module(actor),
            &signed,
        )?;
        println!(
            "signed {} ({}) -> {}",
            actor.package,
            actor.call_alias,
            signed.display()
        );
    }
    Ok(())
}

fn run_tests(extra: &[String]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["test", "--workspace", "--locked"])
        .args(extra)
        .status()
        .context("running cargo test")?;
    if !status.success() {
        bail!("tests failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_args(args: &[&str]) -> Vec<String> {
        match Cli::try_parse_from(args).unwrap().command {
            Task::Up { host_args } => host_args,
            _ => panic!("not up"),
        }
    }

    #[test]
    fn up_passes_extra_arguments_to_the_host_with_or_without_a_separator() {
        let expected = ["--redis-url", "redis://127.0.0.1:6379"];
        assert_eq!(
            host_args(&["xtask", "up", "--", "--redis-url", "redis://127.0.0.1:6379"]),
            expected
        );
        assert_eq!(
            host_args(&["xtask", "up", "--redis-url", "redis://127.0.0.1:6379"]),
            expected
        );
        assert!(host_args(&["xtask", "up"]).is_empty());
    }
}
