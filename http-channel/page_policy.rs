// The chat page's Content-Security-Policy, for the build scripts of the module and the
// component: it lets the page's own inline script and style run by their hashes and nothing
// else. `include!`d by both, so they serve the same page with the same policy.

/// Writes `OUT_DIR/page_policy.txt` for the page at `page_path` (from the package's folder).
fn write_page_policy(page_path: &str) -> Result<(), Box<dyn std::error::Error>> {
    use base64::Engine as _;
    use sha2::Digest as _;

    println!("cargo:rerun-if-changed={page_path}");
    let page = std::fs::read_to_string(page_path)?;
    let hash = |tag: &str| -> Result<String, Box<dyn std::error::Error>> {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        let start = page.find(&open).ok_or(format!("the page has no {open}"))? + open.len();
        let end = start + page[start..].find(&close).ok_or(format!("no {close}"))?;
        let digest = sha2::Sha256::digest(&page[start..end]);
        let encoded = base64::engine::general_purpose::STANDARD.encode(digest);
        Ok(format!("'sha256-{encoded}'"))
    };
    // Only the page's own script and style run; it connects to its own origin and to
    // WebSockets (the page itself keeps to its own host name); nothing may frame it or take
    // its forms.
    let policy = format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self' ws: wss:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hash("script")?,
        hash("style")?
    );
    let out_dir = std::env::var("OUT_DIR")?;
    std::fs::write(std::path::Path::new(&out_dir).join("page_policy.txt"), policy)?;
    Ok(())
}
