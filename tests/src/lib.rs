//! The test kit for end-to-end tests: starts the services and the router on free
//! ports with fresh databases, and drives them over HTTP.

/// The repository root.
pub fn repo_root() -> std::path::PathBuf {
    let mut dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.pop();
    dir
}
