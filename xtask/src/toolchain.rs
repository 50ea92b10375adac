//! The Debian toolchain that builds wasm offline (see shared/toolchain.md): Debian's rustc with
//! its standard-library source (for `-Zbuild-std`) and `wasm-ld`, installed when missing.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

pub const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
pub const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const STD_SOURCE: &str = "/usr/lib/rustlib/src/rust/library";
const WASM_LD: &str = "/usr/bin/wasm-ld";

const TOOLCHAIN_PACKAGES: &[&str] = &["rustc-web", "cargo-web", "rust-web-src", "lld"];

/// Installs, with one `apt-get` run, the wasm toolchain's Debian packages and the packages of
/// the programs named (program, package), unless each is already there.
pub fn ensure(programs_and_packages: &[(&str, &str)]) -> Result<()> {
    let wasm_toolchain_present = [DEBIAN_RUSTC, DEBIAN_CARGO, STD_SOURCE, WASM_LD]
        .iter()
        .all(|p| Path::new(p).exists());
    let mut missing: Vec<&str> = if wasm_toolchain_present {
        Vec::new()
    } else {
        TOOLCHAIN_PACKAGES.to_vec()
    };
    missing.extend(missing_programs(programs_and_packages));
    apt_install(&missing)
}

/// Installs the Debian packages of the programs named (program, package) that are not on PATH.
pub fn ensure_programs(programs_and_packages: &[(&str, &str)]) -> Result<()> {
    apt_install(&missing_programs(programs_and_packages))
}

fn missing_programs<'a>(programs_and_packages: &[(&str, &'a str)]) -> Vec<&'a str> {
    programs_and_packages
        .iter()
        .filter(|(program, _)| which(program).is_none())
        .map(|(_, package)| *package)
        .collect()
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Installs `packages` with apt-get; with none, runs nothing.
fn apt_install(packages: &[&str]) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing Debian packages: {}", packages.join(" "));
    // Root runs apt-get directly; anyone else needs sudo.
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let apt = |args: &[&str]| -> Result<()> {
        let mut cmd = if is_root {
            Command::new("apt-get")
        } else {
            sudo_apt()
        };
        let status = cmd
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("running apt-get")?;
        if !status.success() {
            bail!("apt-get {} failed ({status})", args.join(" "));
        }
        Ok(())
    };
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q"];
    install.extend_from_slice(packages);
    apt(&install)
}

fn sudo_apt() -> Command {
    let mut cmd = Command::new("sudo");
    cmd.arg("apt-get");
    cmd
}
