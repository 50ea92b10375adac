//! wadm manifests: any text is an application or an error, never a panic. The parser is
//! compiled here on its own.
#![no_main]

// Only `parse` is fuzzed; the rest of the module is unused here.
#[allow(dead_code)]
#[path = "../../host/src/manifest.rs"]
mod manifest;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(app) = manifest::parse(text, std::path::Path::new("/base")) {
        assert!(!app.actors.is_empty());
    }
});
