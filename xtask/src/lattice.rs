//! The manifests for a wasmCloud lattice, written from the committed `wadm.yaml`, in which actor
//! images are `file://` paths relative to the project. A relative file URL has no meaning to a
//! lattice host, so each is rewritten:
//! - `build/wadm.yaml` (`cargo xtask build`): absolute `file:///` paths, for wasmCloud hosts on
//!   this machine started with `WASMCLOUD_ALLOW_FILE_LOAD=true`;
//! - `build/wadm.oci.yaml` (`cargo xtask push`): registry references pinned by digest.

use std::path::Path;

/// Rewrites each `image: file://RELATIVE` line as `image: file:///ABSOLUTE` (relative to `base`,
/// the manifest's folder); everything else, comments included, stays as it is.
pub fn with_absolute_images(manifest: &str, base: &Path) -> String {
    with_actor_images(
        manifest,
        "# Written by `cargo xtask build` from wadm.yaml: the same application with absolute\n\
         # file:/// images, for wasmCloud hosts on this machine (WASMCLOUD_ALLOW_FILE_LOAD=true).\n",
        |relative| {
            let absolute = base.join(relative.trim_start_matches("./"));
            Some(format!("file://{}", absolute.display()))
        },
    )
}

/// Rewrites each relative `image: file://…/NAME` line with `reference(NAME)` (the file's name,
/// e.g. `chatlog_s.wasm`) when it gives one. `header` replaces the source's opening comment,
/// which describes the source, not this file.
pub fn with_actor_images(
    manifest: &str,
    header: &str,
    mut reference: impl FnMut(&str) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(manifest.len() + 512);
    out.push_str(header);
    let body = manifest
        .lines()
        .skip_while(|line| line.trim_start().starts_with('#'));
    for line in body {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let replacement = trimmed
            .strip_prefix("image: file://")
            .filter(|path| !path.starts_with('/'))
            .and_then(&mut reference);
        match replacement {
            Some(image) => out.push_str(&format!("{indent}image: {image}")),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The file name at the end of a relative `file://` path (`./build/chatlog_s.wasm` →
/// `chatlog_s.wasm`).
pub fn file_name(relative: &str) -> &str {
    relative.rsplit('/').next().unwrap_or(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "# about the source\nspec:\n  # comment\n  components:\n    - name: chatlog\n      properties:\n        image: file://./build/chatlog_s.wasm\n    - name: kv\n      properties:\n        image: wasmcloud.azurecr.io/kvredis:0.22.0\n    - name: abs\n      properties:\n        image: file:///opt/a_s.wasm\n";

    #[test]
    fn relative_file_images_become_absolute_and_the_rest_stays() {
        let out = with_absolute_images(SOURCE, Path::new("/work/mcchat"));
        assert!(
            out.contains("        image: file:///work/mcchat/build/chatlog_s.wasm\n"),
            "{out}"
        );
        assert!(out.contains("        image: wasmcloud.azurecr.io/kvredis:0.22.0\n"));
        assert!(out.contains("        image: file:///opt/a_s.wasm\n"));
        assert!(out.contains("  # comment\n"));
        assert!(!out.contains("about the source"), "{out}");
    }

    #[test]
    fn relative_file_images_become_the_references_given_by_file_name() {
        let out = with_actor_images(SOURCE, "# header\n", |relative| {
            (file_name(relative) == "chatlog_s.wasm")
                .then(|| "127.0.0.1:5000/mcchat/chatlog@sha256:ab".to_string())
        });
        assert!(out.starts_with("# header\nspec:\n"), "{out}");
        assert!(
            out.contains("        image: 127.0.0.1:5000/mcchat/chatlog@sha256:ab\n"),
            "{out}"
        );
        assert!(out.contains("        image: file:///opt/a_s.wasm\n"));
    }
}
