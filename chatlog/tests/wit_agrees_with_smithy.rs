//! The Smithy files are the source of truth for mcchat's contracts; `interface/wit` restates
//! them for the component build. This reads both and checks they agree on every operation
//! and every field, with its type: the build script describes the Smithy (`build.rs`), and
//! this test describes the WIT the same way.

use std::collections::BTreeSet;
use std::path::Path;

use wit_parser::{Resolve, Type, TypeDefKind, TypeId};

const SMITHY: &str = include_str!(concat!(env!("OUT_DIR"), "/smithy-contracts.txt"));

/// The WIT interfaces that restate a Smithy service, as `package/interface`.
const SERVICES: &[(&str, &str)] = &[
    ("mcchat:accounts", "accounts"),
    ("mcchat:api", "api"),
    ("mcchat:chatlog", "chatlog"),
    ("mcchat:clock", "clock"),
    ("mcchat:outbound", "outbound"),
];

fn wit_description() -> BTreeSet<String> {
    let mut resolve = Resolve::default();
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../interface/wit");
    resolve.push_dir(&wit).expect("interface/wit parses");
    let mut lines = BTreeSet::new();
    for (package_name, interface_name) in SERVICES {
        let (_, package) = resolve
            .packages
            .iter()
            .find(|(_, p)| format!("{}:{}", p.name.namespace, p.name.name) == *package_name)
            .unwrap_or_else(|| panic!("no WIT package {package_name}"));
        let interface = &resolve.interfaces[package.interfaces[*interface_name]];
        for (name, func) in &interface.functions {
            let input = match func.params.as_slice() {
                [] => "_".to_string(),
                [param] => render(&resolve, &param.ty),
                more => panic!(
                    "{name} takes {} parameters; an operation takes one",
                    more.len()
                ),
            };
            lines.insert(format!(
                "{package_name}/{interface_name}.{name}: {input} -> {}",
                answer(&resolve, func.result.as_ref()),
            ));
        }
        for (_, &id) in &interface.types {
            if let TypeDefKind::Record(record) = &resolve.types[id].kind {
                let record_name = resolve.types[id].name.clone().unwrap();
                for field in &record.fields {
                    lines.insert(format!(
                        "{record_name}.{}: {}",
                        field.name,
                        render(&resolve, &field.ty)
                    ));
                }
            }
        }
    }
    lines
}

/// An operation's output: the `ok` side of the `result<T, string>` every function returns.
fn answer(resolve: &Resolve, result: Option<&Type>) -> String {
    let Some(Type::Id(id)) = result else {
        panic!("every operation returns result<_, string>");
    };
    match &resolve.types[*id].kind {
        TypeDefKind::Result(r) => {
            assert_eq!(r.err, Some(Type::String), "errors are text");
            r.ok.as_ref().map_or("_".into(), |ok| render(resolve, ok))
        }
        other => panic!("an operation returns a result, not {other:?}"),
    }
}

fn render(resolve: &Resolve, ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::U8 => "u8".into(),
        Type::U32 => "u32".into(),
        Type::U64 => "u64".into(),
        Type::S32 => "s32".into(),
        Type::S64 => "s64".into(),
        Type::String => "string".into(),
        Type::Id(id) => render_def(resolve, *id),
        other => panic!("no Smithy type maps to {other:?}"),
    }
}

fn render_def(resolve: &Resolve, id: TypeId) -> String {
    let def = &resolve.types[id];
    match &def.kind {
        TypeDefKind::Option(inner) => format!("option<{}>", render(resolve, inner)),
        TypeDefKind::List(inner) => format!("list<{}>", render(resolve, inner)),
        // A named alias (`messages-list`) stands for what it names, as the Smithy list does.
        TypeDefKind::Type(inner) => render(resolve, inner),
        TypeDefKind::Record(_) => def.name.clone().unwrap(),
        other => panic!("no Smithy type maps to {other:?}"),
    }
}

#[test]
fn every_operation_and_field_of_the_smithy_is_in_the_wit_and_nothing_else() {
    let smithy: BTreeSet<String> = SMITHY.lines().map(String::from).collect();
    for operation in [
        "mcchat:chatlog/chatlog.write-message:",
        "mcchat:api/api.accept-message:",
        "mcchat:clock/clock.now:",
    ] {
        assert!(
            smithy.iter().any(|l| l.starts_with(operation)),
            "{operation}"
        );
    }
    let wit = wit_description();
    let only_smithy: Vec<_> = smithy.difference(&wit).collect();
    let only_wit: Vec<_> = wit.difference(&smithy).collect();
    assert!(
        only_smithy.is_empty() && only_wit.is_empty(),
        "interface/wit and the Smithy disagree.\nOnly in the Smithy: {only_smithy:#?}\nOnly in the WIT: {only_wit:#?}"
    );
}

#[test]
fn the_relay_carries_the_outbound_contracts_record() {
    let mut resolve = Resolve::default();
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../interface/wit");
    resolve.push_dir(&wit).expect("interface/wit parses");
    let record_fields = |interface_name: &str| -> Vec<String> {
        let (_, interface) = resolve
            .interfaces
            .iter()
            .find(|(_, i)| i.name.as_deref() == Some(interface_name))
            .unwrap();
        let TypeDefKind::Record(record) = &resolve.types[interface.types["outbound-message"]].kind
        else {
            panic!("{interface_name}.outbound-message is a record");
        };
        record
            .fields
            .iter()
            .map(|f| format!("{}: {}", f.name, render(&resolve, &f.ty)))
            .collect()
    };
    assert_eq!(record_fields("relay"), record_fields("outbound"));
}
