//! The kernel stays slim: no web, UI or database crate (and no async
//! runtime) among its normal dependencies. Components and storage reach it
//! through its traits.

use std::process::Command;

#[test]
fn kernel_has_no_web_ui_or_database_dependency() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "magflock-kernel",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo tree");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(tree.contains("magflock-kernel"), "{tree}");
    for forbidden in [
        "axum", "leptos", "sqlx", "tokio", "tower", "hyper", "wasmtime",
    ] {
        let found: Vec<&str> = tree
            .lines()
            .filter(|l| {
                l.starts_with(&format!("{forbidden} ")) || l.starts_with(&format!("{forbidden}-"))
            })
            .collect();
        assert!(
            found.is_empty(),
            "the kernel depends on {forbidden}: {found:?}"
        );
    }
}
