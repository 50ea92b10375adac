//! Generates this actor's bindings from `../interface` into OUT_DIR (never into the tree), and
//! describes mcchat's Smithy services for the test that checks the WIT against them
//! (`tests/wit_agrees_with_smithy.rs`).

use std::fmt::Write as _;
use std::path::Path;

use atelier_core::model::shapes::{HasTraits, ShapeKind};
use atelier_core::model::{HasIdentity, Model, ShapeID};
use weld_codegen::config::ModelSource;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = std::env::var("OUT_DIR")?;
    weld_codegen::rust_build_into("codegen.toml", &out_dir)?;
    let interface = Path::new("../interface");
    let mut description = String::new();
    for file in [
        "accounts.smithy",
        "api.smithy",
        "chatlog.smithy",
        "clock.smithy",
        "outbound.smithy",
    ] {
        println!("cargo:rerun-if-changed=../interface/{file}");
        let source = ModelSource::Path {
            path: interface.into(),
            files: vec![
                "wasmcloud-model.smithy".into(),
                "wasmcloud-core.smithy".into(),
                file.into(),
            ],
        };
        let model = weld_codegen::sources_to_model(&[source], Path::new("."), 0)?;
        describe(&model, &mut description);
    }
    std::fs::write(
        Path::new(&out_dir).join("smithy-contracts.txt"),
        description,
    )?;
    Ok(())
}

/// One line per operation and per structure member of the model's mcchat services, in WIT's
/// names and types: `mcchat:chatlog/chatlog.write-message: canonical-chat-message ->
/// write-message-response`, `canonical-chat-message.client-id: option<string>`.
fn describe(model: &Model, out: &mut String) {
    for shape in model.shapes() {
        let id = shape.id();
        if !id
            .namespace()
            .to_string()
            .starts_with("com.cosmonic.samples.mcchat")
        {
            continue;
        }
        let name = kebab(&id.shape_name().to_string());
        match shape.body() {
            ShapeKind::Service(service) => {
                let package = id
                    .namespace()
                    .to_string()
                    .rsplit('.')
                    .next()
                    .unwrap()
                    .to_string();
                for op in service.operations() {
                    let Some(ShapeKind::Operation(operation)) = model.shape(op).map(|s| s.body())
                    else {
                        continue;
                    };
                    let input = operation.input().as_ref().map(|t| wit_type(model, t));
                    let output = operation.output().as_ref().map(|t| wit_type(model, t));
                    writeln!(
                        out,
                        "mcchat:{package}/{name}.{}: {} -> {}",
                        kebab(&op.shape_name().to_string()),
                        input.as_deref().unwrap_or("_"),
                        output.as_deref().unwrap_or("_"),
                    )
                    .unwrap();
                }
            }
            ShapeKind::Structure(structure) => {
                for member in structure.members() {
                    let mut ty = wit_type(model, member.target());
                    // weld-codegen makes an optional Boolean a plain bool (false when absent).
                    if !member.is_required() && ty != "bool" {
                        ty = format!("option<{ty}>");
                    }
                    writeln!(out, "{name}.{}: {ty}", kebab(&member.id().to_string())).unwrap();
                }
            }
            _ => {}
        }
    }
}

fn wit_type(model: &Model, id: &ShapeID) -> String {
    match id.shape_name().to_string().as_str() {
        "String" => return "string".into(),
        "Boolean" => return "bool".into(),
        "U32" => return "u32".into(),
        "U64" => return "u64".into(),
        "I32" => return "s32".into(),
        "I64" => return "s64".into(),
        "Blob" => return "list<u8>".into(),
        _ => {}
    }
    match model.shape(id).map(|s| s.body()) {
        Some(ShapeKind::List(list)) => format!("list<{}>", wit_type(model, list.member().target())),
        _ => kebab(&id.shape_name().to_string()),
    }
}

/// `CanonicalChatMessage` and `sourceUser` as WIT names them: `canonical-chat-message`,
/// `source-user`.
fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
