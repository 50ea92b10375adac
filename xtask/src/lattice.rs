//! `build/wadm.yaml`: the committed manifest with every relative `file://` image made absolute,
//! so a wasmCloud host on this machine (`WASMCLOUD_ALLOW_FILE_LOAD=true`) can load the actors.
//! A relative file URL has no meaning to a lattice host.

use std::path::Path;

/// Rewrites each `image: file://RELATIVE` line as `image: file:///ABSOLUTE` (relative to `base`,
/// the manifest's folder); everything else, comments included, stays as it is.
pub fn with_absolute_images(manifest: &str, base: &Path) -> String {
    let mut out = String::with_capacity(manifest.len() + 256);
    out.push_str(
        "# Written by `cargo xtask build` from wadm.yaml: the same application with absolute\n\
         # file:/// images, for wasmCloud hosts on this machine (WASMCLOUD_ALLOW_FILE_LOAD=true).\n",
    );
    for line in manifest.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        match trimmed
            .strip_prefix("image: file://")
            .filter(|path| !path.starts_with('/'))
        {
            Some(relative) => {
                let absolute = base.join(relative.trim_start_matches("./"));
                out.push_str(&format!("{indent}image: file://{}", absolute.display()));
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_file_images_become_absolute_and_the_rest_stays() {
        let source = "# comment\nspec:\n  components:\n    - name: chatlog\n      properties:\n        image: file://./build/chatlog_s.wasm\n    - name: kv\n      properties:\n        image: wasmcloud.azurecr.io/kvredis:0.22.0\n    - name: abs\n      properties:\n        image: file:///opt/a_s.wasm\n";
        let out = with_absolute_images(source, Path::new("/work/mcchat"));
        assert!(
            out.contains("        image: file:///work/mcchat/build/chatlog_s.wasm\n"),
            "{out}"
        );
        assert!(out.contains("        image: wasmcloud.azurecr.io/kvredis:0.22.0\n"));
        assert!(out.contains("        image: file:///opt/a_s.wasm\n"));
        assert!(out.contains("# comment\n"));
    }
}
