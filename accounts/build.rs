//! Generates this actor's bindings from `../interface` into OUT_DIR (never into the tree).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    weld_codegen::rust_build_into("codegen.toml", std::env::var("OUT_DIR")?)
}
