//! The component proof of concept's claim: an actor's logic names only plain contracts, and
//! everything wasmCloud-specific lives in its adapters. Reads the WIT imports of what
//! `cargo xtask build` built.

use std::collections::BTreeSet;

use wit_component::{decode, DecodedWasm};
use xtask::components::{componentize, core_module, COMPONENTS};
use xtask::{actors::ACTORS, build_dir};

/// The interfaces a component imports and exports, as `package/interface@version`.
fn world_of(component: &[u8]) -> (BTreeSet<String>, BTreeSet<String>) {
    let DecodedWasm::Component(resolve, world) = decode(component).expect("a component") else {
        panic!("not a component");
    };
    let names = |items: &wit_parser::IndexMap<wit_parser::WorldKey, wit_parser::WorldItem>| {
        items
            .iter()
            .map(|(key, _)| resolve.name_world_key(key))
            .collect::<BTreeSet<_>>()
    };
    let world = &resolve.worlds[world];
    (names(&world.imports), names(&world.exports))
}

#[test]
fn the_logic_components_import_nothing_wasmcloud_specific() {
    for spec in COMPONENTS {
        let logic = componentize(&core_module(spec.logic, None))
            .unwrap_or_else(|e| panic!("{}: {e:#} (run `cargo xtask build` first)", spec.logic));
        let (imports, exports) = world_of(&logic);
        assert!(!imports.is_empty(), "{} imports no contract", spec.logic);
        for name in imports.iter().chain(&exports) {
            assert!(
                !name.starts_with("wasmcloud:bus/"),
                "{} names the wasmbus bus ({name}): only its adapters may",
                spec.logic
            );
        }
        // Contracts only: the chat's own, and wasmCloud's contracts by name.
        for name in &imports {
            assert!(
                [
                    "mcchat:accounts/",
                    "mcchat:api/",
                    "mcchat:chatlog/",
                    "mcchat:clock/",
                    "mcchat:outbound/",
                    "wasmcloud:keyvalue/",
                    "wasmcloud:logging/",
                    "wasmcloud:numbergen/",
                    "wasmcloud:messaging/"
                ]
                .iter()
                .any(|contract| name.starts_with(contract)),
                "{} imports {name}, which is no contract",
                spec.logic
            );
        }
    }
}

#[test]
fn every_composed_actor_is_exactly_a_wasmbus_actor() {
    for spec in COMPONENTS {
        let actor = ACTORS.iter().find(|a| a.package == spec.actor).unwrap();
        let path = build_dir().join(actor.component_file_name());
        let signed = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask build` first)", path.display()));
        let (imports, exports) = world_of(&signed);
        assert_eq!(
            exports,
            BTreeSet::from(["wasmcloud:bus/guest@0.1.0".to_string()]),
            "{}",
            spec.actor
        );
        for name in &imports {
            assert!(
                name.starts_with("wasmcloud:bus/"),
                "{} imports {name}",
                spec.actor
            );
        }
    }
}
