//! `cargo xtask up`: set everything up and start the chat on http://localhost:8080.
//! `cargo xtask build`: build the six actors for wasm and sign them into `build/`, and pack the
//! standalone providers as provider archives (`build/*.par.gz`) for a wasmCloud lattice.
//! `cargo xtask test`: build them, then run every test in the workspace.
//! `cargo xtask bench`: the throughput benchmark, mcchat against the native reference.
//! `cargo xtask push REGISTRY`: push the signed actors and provider archives to an OCI registry,
//! as `wash push` does.

use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use xtask::{
    actors::ACTORS, build_dir, fuzz, lattice, phases::Phases, providers::PROVIDERS, sign,
    toolchain, up, wasm, workspace_root,
};

/// How long the test command fuzzes each target, and how it builds them for that.
const FUZZ_SMOKE_SECONDS: u64 = 10;
const SMOKE_BUILD: fuzz::Build = fuzz::Build::Quick;

#[derive(Parser)]
#[command(about = "mcchat build helpers")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build everything and run the chat from wadm.yaml with the embedded store (Ctrl-C stops it).
    /// Starts a local nats-server when none listens on 127.0.0.1:4222 and no --nats-url is given,
    /// and a mosquitto when none listens on 127.0.0.1:1883 and no --mqtt-url is given.
    Up {
        /// Extra arguments for `mcchat up`, e.g. `--redis-url redis://127.0.0.1:6379`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        host_args: Vec<String>,
    },
    /// Build and sign the seven actors into build/*_s.wasm (installs the Debian wasm toolchain if
    /// missing), and pack the standalone providers into build/*.par.gz for a wasmCloud lattice.
    Build,
    /// Pack the providers' release binaries into build/*.par.gz (part of `build`).
    #[command(hide = true)]
    PackProviders,
    /// Build, compose and sign the component actors into build/*_component_s.wasm and write
    /// build/wadm.components.yaml (part of `build`).
    #[command(hide = true)]
    Components,
    /// Build the actors, fuzz each parser for a few seconds, then run every test (installs
    /// nats-server, redis-server, mosquitto, mosquitto-clients, chromium, chromium-driver and
    /// docker-registry if missing).
    Test {
        /// Extra arguments for `cargo test`, e.g. a test name filter (the fuzz smoke is skipped).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_test_args: Vec<String>,
    },
    /// Build the actors and providers and push them to an OCI registry as
    /// REGISTRY/mcchat/<name>:<version>, in wash's artifact formats; writes build/wadm.oci.yaml
    /// with them pinned by digest.
    Push {
        /// HOST[:PORT][/PATH], e.g. 127.0.0.1:5000 or ghcr.io/you.
        registry: String,
        /// Speak plain HTTP to the registry (a local one, say).
        #[arg(long)]
        insecure: bool,
    },
    /// Measure throughput: mcchat and the native reference (bench/reference) side by side under
    /// wrk, each with its own NATS and Redis; checks that nothing acked was lost (installs wrk,
    /// nats-server and redis-server if missing).
    Bench {
        /// A few seconds with a small history: checks for loss, measures nothing worth keeping.
        #[arg(long)]
        smoke: bool,
        /// Extra arguments for the load driver: --connections C, --seconds N, --history N,
        /// --against MANIFEST (mcchat under another manifest in place of the reference).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        load_args: Vec<String>,
    },
    /// Fuzz the parsers (installs cargo-fuzz if missing): every target, or the ones named.
    Fuzz {
        /// Targets to run (default: all).
        targets: Vec<String>,
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
}

// (program, Debian package) pairs that commands install when missing. `make` builds the host's
// allocator, jemalloc, from its C sources.
const MAKE: (&str, &str) = ("make", "make");
const NATS_SERVER: (&str, &str) = ("nats-server", "nats-server");
const REDIS_SERVER: (&str, &str) = ("redis-server", "redis-server");
const MOSQUITTO: (&str, &str) = ("mosquitto", "mosquitto");
// The MQTT tests run mosquitto's own clients as a person would.
const MOSQUITTO_CLIENTS: (&str, &str) = ("mosquitto_rr", "mosquitto-clients");
const TEST_PROGRAMS: &[(&str, &str)] = &[
    NATS_SERVER,
    REDIS_SERVER,
    MOSQUITTO,
    MOSQUITTO_CLIENTS,
    // The chat page's tests drive Debian's Chromium over WebDriver.
    ("chromium", "chromium"),
    ("chromedriver", "chromium-driver"),
    // The registry tests push to and pull from a real OCI registry.
    ("docker-registry", "docker-registry"),
    // The MQTT-over-TLS test makes its certificates as an operator would.
    ("openssl", "openssl"),
];
const BENCH_PROGRAMS: &[(&str, &str)] = &[NATS_SERVER, REDIS_SERVER, MOSQUITTO, ("wrk", "wrk")];

fn main() -> Result<()> {
    let phases = Phases::new();
    match Cli::parse().command {
        Task::Up { host_args } => {
            // The chat runs from modules: the component build waits for `cargo xtask build`.
            build_with_actors(&phases, &[NATS_SERVER, MOSQUITTO], false, up::build_host)?;
            drop(phases);
            up::run(&host_args)
        }
        Task::Build => build_for_lattice(&phases),
        Task::PackProviders => pack_providers(),
        Task::Components => build_components(),
        Task::Test { cargo_test_args } => {
            let fuzzing = cargo_test_args.is_empty();
            // The fuzz targets build beside the host once the actors are built: the host's
            // long serial stretches (cranelift-codegen, the links) leave a core idle.
            let build_fuzz_targets = || {
                if fuzzing {
                    phases.run("fuzz build", || fuzz::build(fuzz::TARGETS, SMOKE_BUILD))
                } else {
                    Ok(())
                }
            };
            build_with_actors_then(
                &phases,
                TEST_PROGRAMS,
                true,
                build_native,
                build_fuzz_targets,
            )?;
            // The fuzz smoke runs first, so the run ends with cargo test's own summary.
            if fuzzing {
                phases.run("fuzz", || {
                    fuzz::run_built(fuzz::TARGETS, FUZZ_SMOKE_SECONDS, SMOKE_BUILD)
                })?;
            }
            phases.run("tests", || run_tests(&cargo_test_args))?;
            if cargo_test_args.is_empty() {
                phases.run("tests on components", run_component_tests)?;
            }
            Ok(())
        }
        Task::Bench { smoke, load_args } => {
            build_with_actors(&phases, BENCH_PROGRAMS, true, build_native)?;
            let mut args = vec!["bench", "--locked", "--workspace", "--bench", "load", "--"];
            if smoke {
                args.push("--smoke");
            }
            args.extend(load_args.iter().map(String::as_str));
            phases.run(if smoke { "bench smoke" } else { "bench" }, || cargo(&args))
        }
        Task::Push { registry, insecure } => push(&phases, &registry, insecure),
        Task::Fuzz { targets, seconds } => {
            let targets: Vec<&str> = if targets.is_empty() {
                fuzz::TARGETS.to_vec()
            } else {
                targets.iter().map(String::as_str).collect()
            };
            fuzz::run(&targets, seconds)
        }
    }
}

/// The actors, and the providers as archives: everything a lattice runs.
fn build_for_lattice(phases: &Phases) -> Result<()> {
    build_with_actors(phases, &[], true, build_providers)?;
    phases.run("provider archives", pack_providers)
}

/// The providers' standalone binaries, in the release build the host shares.
fn build_providers() -> Result<()> {
    let mut args = vec!["build", "--release", "--locked"];
    for provider in PROVIDERS {
        args.extend(["--package", provider.package, "--bin", provider.binary]);
    }
    cargo(&args)
}

#[cfg(feature = "lattice")]
fn pack_providers() -> Result<()> {
    for provider in PROVIDERS {
        let archive = provider.archive_path();
        let packed = xtask::par::pack(
            provider,
            env!("CARGO_PKG_VERSION"),
            &provider.binary_path(),
            &archive,
        )?;
        println!(
            "packed {} ({}, revision {}) -> {}",
            provider.binary,
            packed.provider_key,
            packed.revision,
            archive.display()
        );
    }
    Ok(())
}

/// Built without the archive writer (the `lattice` feature): the same command, from a build
/// with it.
#[cfg(not(feature = "lattice"))]
fn pack_providers() -> Result<()> {
    with_feature("lattice", &["pack-providers"])
}

#[cfg(feature = "lattice")]
fn push(phases: &Phases, registry: &str, insecure: bool) -> Result<()> {
    build_for_lattice(phases)?;
    let pushed = xtask::push::push_all(registry, env!("CARGO_PKG_VERSION"), insecure)?;
    for artifact in &pushed {
        println!("pushed {} -> {}", artifact.name, artifact.pinned());
    }
    let path = xtask::push::oci_manifest_path();
    std::fs::write(&path, xtask::push::oci_manifest(&pushed)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "wrote {} (the actors and providers pinned by digest, for wash app deploy)",
        path.display()
    );
    Ok(())
}

/// Built without the OCI client (the `lattice` feature): the same command, from a build with it.
#[cfg(not(feature = "lattice"))]
fn push(_: &Phases, registry: &str, insecure: bool) -> Result<()> {
    let mut args = vec!["push", registry];
    if insecure {
        args.push("--insecure");
    }
    with_feature("lattice", &args)
}

/// Runs this command again from an xtask built with `feature` (what only a lattice, or only
/// the component build, needs).
#[cfg(not(all(feature = "lattice", feature = "components")))]
fn with_feature(feature: &str, command: &[&str]) -> Result<()> {
    let mut args = vec![
        "run",
        "--quiet",
        "--locked",
        "--package",
        "xtask",
        "--features",
        feature,
        "--",
    ];
    args.extend(command);
    cargo(&args)
}

/// Runs `install_and_build_actors` (Debian's toolchain, `target/wasm`) while `native` builds
/// with rustup's toolchain. The two builds share nothing; apt's downloads and the builds'
/// serial stretches (a big crate, a link) overlap the other's work (BENCHMARKS.md, "The build
/// budget").
fn build_with_actors(
    phases: &Phases,
    programs: &[(&str, &str)],
    with_components: bool,
    native: impl FnOnce() -> Result<()> + Send,
) -> Result<()> {
    build_with_actors_then(phases, programs, with_components, native, || Ok(()))
}

/// [`build_with_actors`], and `then` after the actors, still beside the native build.
fn build_with_actors_then(
    phases: &Phases,
    programs: &[(&str, &str)],
    with_components: bool,
    native: impl FnOnce() -> Result<()> + Send,
    then: impl FnOnce() -> Result<()> + Send,
) -> Result<()> {
    // The native build itself needs make, for jemalloc's C sources.
    toolchain::ensure_programs(&[MAKE])?;
    std::thread::scope(|scope| {
        let actors = scope.spawn(|| {
            install_and_build_actors(phases, programs, with_components)?;
            then()
        });
        let native = phases.run("host", native);
        let actors = actors.join().expect("the actors' build does not panic");
        native.and(actors)
    })
}

/// Installs what is missing of the wasm toolchain and `programs`, then builds the actors, and
/// their components if asked.
fn install_and_build_actors(
    phases: &Phases,
    programs: &[(&str, &str)],
    with_components: bool,
) -> Result<()> {
    phases.run("toolchain", || toolchain::ensure(programs))?;
    phases.run("actors", build_actors)?;
    if with_components {
        phases.run("components", build_components)?;
    }
    Ok(())
}

/// The one native build that the tests, the benchmarks and their `mcchat` and
/// `native-reference` binaries share: the release profile, with the whole workspace and its
/// dev-dependencies resolved together, so `cargo test` and `cargo bench` after it reuse every
/// crate instead of building the host a second time.
fn build_native() -> Result<()> {
    cargo(&[
        "build",
        "--release",
        "--locked",
        "--workspace",
        "--bins",
        "--tests",
    ])
}

fn build_actors() -> Result<()> {
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
    let root = workspace_root();
    let source = std::fs::read_to_string(root.join("wadm.yaml")).context("reading wadm.yaml")?;
    let for_lattice = build_dir().join("wadm.yaml");
    std::fs::write(&for_lattice, lattice::with_absolute_images(&source, &root))
        .with_context(|| format!("writing {}", for_lattice.display()))?;
    println!(
        "wrote {} (absolute file:/// images, for wash app deploy)",
        for_lattice.display()
    );
    Ok(())
}

/// The actors as WebAssembly components, and the manifest that runs them.
#[cfg(feature = "components")]
fn build_components() -> Result<()> {
    use xtask::components;

    for signed in components::build_and_sign(env!("CARGO_PKG_VERSION"))? {
        println!("composed and signed {}", signed.display());
    }
    let root = workspace_root();
    let source = std::fs::read_to_string(root.join("wadm.yaml")).context("reading wadm.yaml")?;
    let for_components = build_dir().join("wadm.components.yaml");
    let manifest = components::components_manifest(&source);
    std::fs::write(
        &for_components,
        lattice::with_absolute_images(&manifest, &root),
    )
    .with_context(|| format!("writing {}", for_components.display()))?;
    println!(
        "wrote {} (the actors as WebAssembly components, for mcchat up)",
        for_components.display()
    );
    Ok(())
}

/// Built without the composer (the `components` feature): the same command, from a build
/// with it.
#[cfg(not(feature = "components"))]
fn build_components() -> Result<()> {
    with_feature("components", &["components"])
}

fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args(args)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Runs the tests on the release build `build_native` made.
fn run_tests(extra: &[String]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["test", "--release", "--workspace", "--locked"])
        .args(extra)
        .status()
        .context("running cargo test")?;
    if !status.success() {
        bail!("tests failed ({status})");
    }
    Ok(())
}

/// The chat's end-to-end tests again, with every actor a component
/// (`build/wadm.components.yaml`): HTTP, NATS, WebSocket and MQTT, the chat page and the
/// dashboard in Chromium, bad input, idempotency, concurrency, faults and deadlines,
/// restarts, links and the control interface, several hosts. (The rest test the module files
/// themselves, or no actor.)
const COMPONENT_TESTS: &[&str] = &[
    "chat::",
    "chat_page::",
    "concurrency::",
    "control::",
    "dashboard::",
    "faults::",
    "idempotency::",
    "links::",
    "live_chat::",
    "mqtt::devices_chat",
    "mqtt::mqtt5_requests",
    "mqtt::a_qos1_redelivery",
    "persistence::",
    "reconnect::",
    "rooms::",
    "several_hosts::",
];

fn run_component_tests() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = build_dir().join("wadm.components.yaml");
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "test",
            "--release",
            "--locked",
            // The whole workspace, as the build resolved its features: `-p mcchat-e2e` alone
            // resolves them otherwise, and rebuilds the host.
            "--workspace",
            "--test",
            "e2e",
            "--",
        ])
        .args(COMPONENT_TESTS)
        .env("MCCHAT_TEST_MANIFEST", &manifest)
        .status()
        .context("running cargo test")?;
    if !status.success() {
        bail!("tests on {} failed ({status})", manifest.display());
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
