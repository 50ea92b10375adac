//! The signed actors in `build/` (made by `cargo xtask build`) carry valid claims with exactly
//! the capabilities and call aliases the suite relies on, and speak the wasmbus waPC ABI.

use std::collections::BTreeSet;
use std::path::PathBuf;

use wascap::jwt::{validate_token, Actor};
use wasmparser::{Parser, Payload, TypeRef};

/// (file, call alias, capabilities): written out here, independently of what the signer uses.
const EXPECTED: &[(&str, &str, &[&str])] = &[
    (
        "chatlog_s.wasm",
        "mcchat/chatlog",
        &["wasmcloud:keyvalue", "wasmcloud:builtin:logging"],
    ),
    (
        "accounts_s.wasm",
        "mcchat/accounts",
        &[
            "wasmcloud:keyvalue",
            "wasmcloud:builtin:numbergen",
            "mcchat:clock",
            "wasmcloud:builtin:logging",
        ],
    ),
    (
        "api_gateway_s.wasm",
        "mcchat/api",
        &[
            "wasmcloud:builtin:numbergen",
            "mcchat:clock",
            "wasmcloud:builtin:logging",
        ],
    ),
    (
        "nats_channel_s.wasm",
        "mcchat/nats",
        &["wasmcloud:messaging", "wasmcloud:builtin:logging"],
    ),
    (
        "http_channel_s.wasm",
        "mcchat/http",
        &["wasmcloud:httpserver", "wasmcloud:builtin:logging"],
    ),
    (
        "ws_channel_s.wasm",
        "mcchat/ws",
        &["wasmcloud:messaging", "wasmcloud:builtin:logging"],
    ),
    (
        "mqtt_channel_s.wasm",
        "mcchat/mqtt",
        &["wasmcloud:messaging", "wasmcloud:builtin:logging"],
    ),
];

fn signed_module(file: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../build")
        .join(file);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask build` first)", path.display()))
}

#[test]
fn every_actor_is_signed_with_its_alias_and_exactly_its_capabilities() {
    for (file, alias, caps) in EXPECTED {
        let token = wascap::wasm::extract_claims(signed_module(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .unwrap_or_else(|| panic!("{file} carries no claims"));
        let validation = validate_token::<Actor>(&token.jwt).unwrap();
        assert!(validation.signature_valid, "{file}: bad signature");
        assert!(
            !validation.expired && !validation.cannot_use_yet,
            "{file}: not valid now"
        );

        let actor = token.claims.metadata.expect("actor metadata");
        assert_eq!(actor.call_alias.as_deref(), Some(*alias), "{file}");
        let signed_caps: BTreeSet<&str> = actor.caps.iter().flatten().map(String::as_str).collect();
        assert_eq!(signed_caps, caps.iter().copied().collect(), "{file}");
        assert_eq!(
            actor.ver.as_deref(),
            Some(env!("CARGO_PKG_VERSION")),
            "{file}"
        );
        assert!(
            token.claims.subject.starts_with('M'),
            "{file}: subject is not a module key"
        );
        assert!(
            token.claims.issuer.starts_with('A'),
            "{file}: issuer is not an account key"
        );
    }
}

#[test]
fn every_actor_exports_the_wapc_entry_point_and_imports_wasmbus() {
    for (file, _, _) in EXPECTED {
        let module = signed_module(file);
        let (mut exports, mut import_modules) = (BTreeSet::new(), BTreeSet::new());
        for payload in Parser::new(0).parse_all(&module) {
            match payload.unwrap() {
                Payload::ExportSection(section) => {
                    exports.extend(section.into_iter().map(|e| e.unwrap().name.to_string()));
                }
                Payload::ImportSection(section) => {
                    for import in section {
                        let import = import.unwrap();
                        if matches!(import.ty, TypeRef::Func(_)) {
                            import_modules.insert(format!("{}::{}", import.module, import.name));
                        }
                    }
                }
                _ => {}
            }
        }
        assert!(
            exports.contains("__guest_call"),
            "{file} exports {exports:?}"
        );
        assert!(
            import_modules.contains("wasmbus::__host_call"),
            "{file} imports {import_modules:?}"
        );
        assert!(
            import_modules.contains("wasmbus::__guest_response"),
            "{file} imports {import_modules:?}"
        );
    }
}

#[test]
fn a_tampered_module_no_longer_matches_its_claims() {
    let mut module = signed_module("chatlog_s.wasm");
    // Flip a byte in the code, well before the claims section that signing appends.
    let middle = module.len() / 2;
    module[middle] ^= 0xff;
    assert!(
        wascap::wasm::extract_claims(&module).is_err(),
        "tampering went unnoticed"
    );
}

#[test]
fn the_lattice_manifest_names_only_absolute_files_that_exist() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build/wadm.yaml");
    let manifest = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask build` first)", path.display()));
    let files: Vec<&str> = manifest
        .lines()
        .filter_map(|line| line.trim().strip_prefix("image: file://"))
        .collect();
    let archives = xtask::providers::PROVIDERS;
    assert_eq!(files.len(), EXPECTED.len() + archives.len(), "{manifest}");
    for file in files {
        assert!(file.starts_with('/'), "{file} is not absolute");
        // The archives are packed by `cargo xtask build` (the tests pack their own).
        if archives
            .iter()
            .any(|a| file == a.archive_path().to_str().unwrap())
        {
            continue;
        }
        assert!(
            std::path::Path::new(file).is_file(),
            "{file} does not exist"
        );
    }
}
