//! The component-model build of the actors (wasmCloud's component proof of concept, made to
//! run): each actor's logic, a component that names only plain contracts, composed with
//! adapter components that speak wasmbus. Receivers take the host's `receive` and call the
//! logic's exports; senders serve the logic's imports with the host's `send`. The result is one
//! component of the `wasmcloud:bus/actor` world, signed with the module's claims.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions, NodeId};

use crate::wasm;

/// The interface every receiver exports and the composed actor exports.
pub const GUEST: &str = "wasmcloud:bus/guest@0.1.0";
/// Where a receiver passes operations of other contracts on.
pub const FALLBACK: &str = "wasmcloud:bus/fallback@0.1.0";
/// What a composed actor may import: the host's side of the bus.
pub const HOST_IMPORTS: &[&str] = &[
    "wasmcloud:bus/types@0.1.0",
    "wasmcloud:bus/host@0.1.0",
    FALLBACK,
];

/// One actor's component build.
#[derive(Debug, Clone, Copy)]
pub struct ComponentSpec {
    /// The actor's package, as in `actors::ACTORS`.
    pub actor: &'static str,
    /// The logic component's crate.
    pub logic: &'static str,
    /// Receiver adapters, in the order an operation tries them.
    pub receivers: &'static [&'static str],
    /// Sender adapters: one for each contract the logic imports.
    pub senders: &'static [Sender],
}

/// A sender adapter's crate, and the cargo feature this actor's copy is built with.
#[derive(Debug, Clone, Copy)]
pub struct Sender {
    pub package: &'static str,
    pub feature: Option<&'static str>,
}

const fn sender(package: &'static str) -> Sender {
    Sender {
        package,
        feature: None,
    }
}

pub const COMPONENTS: &[ComponentSpec] = &[
    ComponentSpec {
        actor: "chatlog",
        logic: "chatlog-component",
        receivers: &["chatlog-receiver"],
        senders: &[sender("keyvalue-sender"), sender("logging-sender")],
    },
    ComponentSpec {
        actor: "api-gateway",
        logic: "api-gateway-component",
        receivers: &["api-receiver", "chatlog-receiver"],
        senders: &[
            // The gateway stores through the chat log itself; channels call the gateway.
            Sender {
                package: "chatlog-sender",
                feature: Some("to-chatlog"),
            },
            sender("accounts-sender"),
            sender("relay-sender"),
            sender("numbergen-sender"),
            sender("clock-sender"),
            sender("logging-sender"),
        ],
    },
    ComponentSpec {
        actor: "http-channel",
        logic: "http-channel-component",
        receivers: &["httpserver-receiver"],
        senders: &[
            sender("api-sender"),
            sender("chatlog-sender"),
            sender("logging-sender"),
        ],
    },
    messaging_channel("nats-channel", "nats-channel-component"),
    messaging_channel("ws-channel", "ws-channel-component"),
    messaging_channel("mqtt-channel", "mqtt-channel-component"),
];

/// A channel that takes messages from a messaging provider and relayed ones from the API.
const fn messaging_channel(actor: &'static str, logic: &'static str) -> ComponentSpec {
    const SENDERS: &[Sender] = &[
        sender("api-sender"),
        sender("messaging-sender"),
        sender("logging-sender"),
    ];
    ComponentSpec {
        actor,
        logic,
        receivers: &["message-subscriber-receiver", "outbound-receiver"],
        senders: SENDERS,
    }
}

/// Adapters no actor is composed with by default, built beside the others: drop-ins an
/// operator (or a test) composes an actor with instead.
pub const ALTERNATIVE_SENDERS: &[Sender] = &[QUIET_LOGGING];

/// The logging sender that passes on only warnings and errors.
pub const QUIET_LOGGING: Sender = Sender {
    package: "logging-sender",
    feature: Some("warnings-only"),
};

impl ComponentSpec {
    pub fn for_actor(actor: &str) -> Option<&'static ComponentSpec> {
        COMPONENTS.iter().find(|spec| spec.actor == actor)
    }
}

/// Where the core module of a component crate (built with `feature`) is kept between the
/// cargo build and the composition.
pub fn core_module(package: &str, feature: Option<&str>) -> PathBuf {
    let name = package.replace('-', "_");
    match feature {
        None => wasm::artifact(&name),
        Some(feature) => wasm::target_dir()
            .join("components")
            .join(format!("{name}+{feature}.wasm")),
    }
}

/// Makes a wit-bindgen core module a component. It imports nothing but its WIT imports (no
/// WASI), so no adapter module is needed.
pub fn componentize(core: &Path) -> Result<Vec<u8>> {
    let module = std::fs::read(core).with_context(|| format!("reading {}", core.display()))?;
    wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|encoder| encoder.validate(true).encode())
        .with_context(|| format!("making {} a component", core.display()))
}

/// Composes the actor: the logic, its senders and its receivers, wired by interface name.
pub fn compose(spec: &ComponentSpec) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let register = |graph: &mut CompositionGraph, package: &str, feature: Option<&str>| {
        let bytes = componentize(&core_module(package, feature))?;
        let name = format!("mcchat:{package}");
        let package = Package::from_bytes(&name, None, bytes, graph.types_mut())
            .with_context(|| format!("reading component {name}"))?;
        let id = graph.register_package(package)?;
        Ok::<_, anyhow::Error>(graph.instantiate(id))
    };
    let logic = register(&mut graph, spec.logic, None)?;
    let senders = spec
        .senders
        .iter()
        .map(|s| register(&mut graph, s.package, s.feature))
        .collect::<Result<Vec<_>>>()?;
    let receivers = spec
        .receivers
        .iter()
        .map(|r| register(&mut graph, r, None))
        .collect::<Result<Vec<_>>>()?;

    // Each of the logic's imports from the sender that exports it.
    for name in imports(&graph, logic) {
        let sender = senders
            .iter()
            .copied()
            .find(|&s| exports(&graph, s).contains(&name))
            .ok_or_else(|| anyhow!("{}: no sender adapter exports {name}", spec.actor))?;
        connect(&mut graph, sender, &name, logic)?;
    }
    // Each receiver's contract from the logic; its fallback from the next receiver. The last
    // fallback and the senders' `host` stay unconnected: the composed actor imports them.
    for (i, &receiver) in receivers.iter().enumerate() {
        for name in imports(&graph, receiver) {
            if name == FALLBACK {
                if let Some(&next) = receivers.get(i + 1) {
                    connect_as(&mut graph, next, GUEST, receiver, FALLBACK)?;
                }
            } else if !HOST_IMPORTS.contains(&name.as_str()) {
                connect(&mut graph, logic, &name, receiver)?;
            }
        }
    }
    let first = *receivers
        .first()
        .ok_or_else(|| anyhow!("{}: a component needs a receiver", spec.actor))?;
    let guest = graph.alias_instance_export(first, GUEST)?;
    graph.export(guest, GUEST)?;
    let composed = graph.encode(EncodeOptions::default())?;
    check_world(spec, &composed)?;
    Ok(composed)
}

fn imports(graph: &CompositionGraph, instance: NodeId) -> Vec<String> {
    let package = &graph[graph[instance].package().expect("an instantiation")];
    graph.types()[package.ty()]
        .imports
        .keys()
        .cloned()
        .collect()
}

fn exports(graph: &CompositionGraph, instance: NodeId) -> Vec<String> {
    let package = &graph[graph[instance].package().expect("an instantiation")];
    graph.types()[package.ty()]
        .exports
        .keys()
        .cloned()
        .collect()
}

fn connect(graph: &mut CompositionGraph, from: NodeId, name: &str, to: NodeId) -> Result<()> {
    connect_as(graph, from, name, to, name)
}

fn connect_as(
    graph: &mut CompositionGraph,
    from: NodeId,
    export: &str,
    to: NodeId,
    argument: &str,
) -> Result<()> {
    let alias = graph.alias_instance_export(from, export)?;
    graph
        .set_instantiation_argument(to, argument, alias)
        .with_context(|| format!("wiring {export} into {argument}"))?;
    Ok(())
}

/// The composed actor must be exactly a `wasmcloud:bus/actor`: `guest` out, at most the bus's
/// host side in. Anything else is a contract no adapter served.
fn check_world(spec: &ComponentSpec, composed: &[u8]) -> Result<()> {
    let mut types = wac_graph::types::Types::default();
    let package = Package::from_bytes("mcchat:composed", None, composed.to_vec(), &mut types)?;
    let world = &types[package.ty()];
    for name in world.imports.keys() {
        if !HOST_IMPORTS.contains(&name.as_str()) {
            bail!("{}: the composed actor still imports {name}", spec.actor);
        }
    }
    if world.exports.keys().ne([GUEST].iter().copied()) {
        bail!(
            "{}: the composed actor exports {:?}",
            spec.actor,
            world.exports.keys()
        );
    }
    Ok(())
}

/// Builds the component crates, composes every actor in `COMPONENTS` and signs it with its
/// module's claims into `build/<actor>_component_s.wasm`.
pub fn build_and_sign(version: &str) -> Result<Vec<PathBuf>> {
    // A sender built with a feature first, set aside: the plain build after it overwrites the
    // same artifact.
    let mut featured: Vec<&Sender> = COMPONENTS
        .iter()
        .flat_map(|spec| spec.senders)
        .chain(ALTERNATIVE_SENDERS)
        .filter(|s| s.feature.is_some())
        .collect();
    featured.sort_by_key(|s| (s.package, s.feature));
    featured.dedup_by_key(|s| (s.package, s.feature));
    for sender in featured {
        wasm::build_packages(&[sender.package], sender.feature)?;
        let kept = core_module(sender.package, sender.feature);
        std::fs::create_dir_all(kept.parent().expect("a folder"))?;
        std::fs::copy(core_module(sender.package, None), &kept)
            .with_context(|| format!("keeping {}", kept.display()))?;
    }
    let mut packages: Vec<&str> = COMPONENTS
        .iter()
        .flat_map(|spec| {
            let plain_senders = spec
                .senders
                .iter()
                .filter(|s| s.feature.is_none())
                .map(|s| s.package);
            [spec.logic]
                .into_iter()
                .chain(spec.receivers.iter().copied())
                .chain(plain_senders)
        })
        .collect();
    packages.sort_unstable();
    packages.dedup();
    wasm::build_packages(&packages, None)?;

    let mut signed = Vec::new();
    for spec in COMPONENTS {
        let actor = crate::actors::ACTORS
            .iter()
            .find(|a| a.package == spec.actor)
            .ok_or_else(|| anyhow!("{} is not an actor", spec.actor))?;
        let unsigned = wasm::target_dir()
            .join("components")
            .join(format!("{}_component.wasm", actor.lib_name()));
        let path = crate::build_dir().join(actor.component_file_name());
        compose_and_sign(spec, version, &unsigned, &path)?;
        signed.push(path);
    }
    Ok(signed)
}

/// Composes `spec` from core modules already built into `unsigned`, and signs that with its
/// actor's claims into `signed`.
pub fn compose_and_sign(
    spec: &ComponentSpec,
    version: &str,
    unsigned: &Path,
    signed: &Path,
) -> Result<()> {
    let actor = crate::actors::ACTORS
        .iter()
        .find(|a| a.package == spec.actor)
        .ok_or_else(|| anyhow!("{} is not an actor", spec.actor))?;
    if let Some(dir) = unsigned.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(unsigned, compose(spec)?)
        .with_context(|| format!("writing {}", unsigned.display()))?;
    crate::sign::sign(actor, version, unsigned, signed)
}

/// `wadm.yaml` with each actor that has a component build running as that component.
pub fn components_manifest(source: &str) -> String {
    COMPONENTS
        .iter()
        .fold(source.to_string(), |manifest, spec| {
            let lib = spec.actor.replace('-', "_");
            manifest.replace(
                &format!("build/{lib}_s.wasm"),
                &format!("build/{lib}_component_s.wasm"),
            )
        })
}
