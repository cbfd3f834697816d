//! The composition check: the committed supergraph is what the committed
//! subgraph SDLs compose to, a breaking change is refused unless allowed, and a
//! change that breaks an operation a shipped client sends is refused always.

use std::path::Path;
use std::process::Command;

use e2e::repo_root;

fn compose(schema_dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("node")
        .arg(repo_root().join("supergraph/compose/compose.mjs"))
        .args(args)
        .env("SCHEMA_DIR", schema_dir)
        .output()
        .expect("node runs (scripts/test installs the composition tool)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn copy_schemas() -> tempdir::Dir {
    let dir = tempdir::Dir::new();
    for name in ["users", "products", "orders", "payments", "supergraph"] {
        let file = format!("{name}.graphql");
        std::fs::copy(
            repo_root().join("schema").join(&file),
            dir.path().join(&file),
        )
        .expect("copy schema");
    }
    dir
}

#[test]
fn the_committed_supergraph_is_up_to_date() {
    let (ok, out) = compose(&repo_root().join("schema"), &["--check"]);
    assert!(ok, "{out}");
}

#[test]
fn a_stale_supergraph_fails_the_check() {
    let dir = copy_schemas();
    let orders = dir.path().join("orders.graphql");
    let sdl = std::fs::read_to_string(&orders).unwrap();
    std::fs::write(&orders, sdl + "\nextend type Query { ping: Boolean }\n").unwrap();
    let (ok, out) = compose(dir.path(), &["--check"]);
    assert!(
        !ok,
        "a changed subgraph with an old supergraph must fail: {out}"
    );
    assert!(out.contains("stale"), "{out}");
}

#[test]
fn a_breaking_change_is_refused_unless_allowed() {
    let dir = copy_schemas();
    let products = dir.path().join("products.graphql");
    let sdl = std::fs::read_to_string(&products).unwrap();
    // Retype a field clients may use.
    let changed = sdl.replacen("availableQuantity: Int!", "availableQuantity: String!", 1);
    assert_ne!(sdl, changed, "the field exists");
    std::fs::write(&products, changed).unwrap();
    let (ok, out) = compose(dir.path(), &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("availableQuantity") && out.contains("breaking"),
        "{out}"
    );
    let (ok, out) = compose(dir.path(), &["--allow-breaking"]);
    assert!(ok, "{out}");
    let (ok, out) = compose(dir.path(), &["--check"]);
    assert!(ok, "{out}");
}

#[test]
fn a_composition_error_names_the_subgraphs_and_fails() {
    let dir = copy_schemas();
    // Two subgraphs disagree on the shareable Money type.
    let payments = dir.path().join("payments.graphql");
    let sdl = std::fs::read_to_string(&payments).unwrap();
    std::fs::write(
        &payments,
        sdl.replacen("amount: Int!", "amount: String!", 1),
    )
    .unwrap();
    let (ok, out) = compose(dir.path(), &["--check"]);
    assert!(!ok, "{out}");
    assert!(out.contains("Money"), "{out}");
}

/// A temporary directory removed on drop (no extra crate needed).
mod tempdir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Dir {
            let path = std::env::temp_dir().join(format!("shop-compose-{}", uuid::Uuid::now_v7()));
            std::fs::create_dir_all(&path).expect("temp dir");
            Dir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn a_change_that_breaks_a_shipped_client_operation_is_refused_even_when_allowed() {
    let dir = copy_schemas();
    let orders = dir.path().join("orders.graphql");
    let sdl = std::fs::read_to_string(&orders).unwrap();
    // The storefront's order page subscribes to this field.
    let changed = sdl.replacen("orderStatusChanged(id: ID!)", "orderChanged(id: ID!)", 1);
    assert_ne!(sdl, changed, "the field exists");
    std::fs::write(&orders, changed).unwrap();
    let (ok, out) = compose(dir.path(), &["--allow-breaking"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("client operation") && out.contains("OrderStatusChanged"),
        "the broken operation is named: {out}"
    );
    let (ok, out) = compose(dir.path(), &["--check"]);
    assert!(!ok, "{out}");
}
