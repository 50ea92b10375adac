//! Generates this actor's bindings from `../interface` into OUT_DIR (never into the tree), and
//! the chat page's Content-Security-Policy (`page_policy.rs`).
include!("page_policy.rs");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    weld_codegen::rust_build_into("codegen.toml", std::env::var("OUT_DIR")?)?;
    write_page_policy("page/index.html")
}
