//! The chat page's Content-Security-Policy, as the module build makes it (`page_policy.rs`).
include!("../page_policy.rs");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    write_page_policy("../page/index.html")
}
