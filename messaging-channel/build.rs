//! Generates a messaging channel's bindings from `../interface` into OUT_DIR (never into the
//! tree). The build script of nats-channel, ws-channel and mqtt-channel alike: it runs in the
//! package's own folder, beside this one.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    weld_codegen::rust_build_into(
        "../messaging-channel/codegen.toml",
        std::env::var("OUT_DIR")?,
    )
}
