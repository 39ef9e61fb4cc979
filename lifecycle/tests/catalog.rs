//! Installing from catalogs: the local catalog folder and an HTTP catalog an
//! admin adds, search, dependency resolution into one install plan, and the
//! refusals (unknown key, tampered download, unsatisfiable requirement).

mod support;

use magflock_kernel::semver::VersionReq;
use magflock_lifecycle::{ExtensionState, Plan};
use magflock_package::{Catalog, CatalogEntry, KeyPair, Package, Query};
use magflock_store::Engine;
use std::path::Path;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Writes packages and a signed index into `dir`; returns the entries.
fn write_catalog(dir: &Path, key: &KeyPair, packages: &[(&str, Vec<u8>)]) {
    std::fs::create_dir_all(dir).unwrap();
    let mut entries = Vec::new();
    for (file, bytes) in packages {
        std::fs::write(dir.join(file), bytes).unwrap();
        let package = Package::from_bytes(bytes, Default::default()).unwrap();
        entries.push(CatalogEntry::from_package(&package, bytes, file).unwrap());
    }
    let catalog = Catalog {
        name: "test catalog".into(),
        generated_at: "2026-11-26".into(),
        entries,
    };
    let (index, signature) = catalog.to_signed(key).unwrap();
    std::fs::write(dir.join("index.json"), index).unwrap();
    std::fs::write(dir.join("index.sig"), signature).unwrap();
}

/// A static file server for `dir` on 127.0.0.1 (GET only); returns its URL.
async fn serve(dir: std::path::PathBuf) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let dir = dir.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&request)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                let path = line
                    .split(' ')
                    .nth(1)
                    .unwrap_or("/")
                    .trim_start_matches('/')
                    .to_string();
                let (status, body) = match std::fs::read(dir.join(&path)) {
                    Ok(body) if !path.contains("..") => ("200 OK", body),
                    _ => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    url
}

fn with_catalog(dir: &Path) -> impl FnOnce(&mut magflock_lifecycle::LifecycleConfig) + '_ {
    move |config| config.local_catalog = Some(dir.to_path_buf())
}

async fn the_local_catalog_is_searchable_and_installs_with_dependencies(engine: Engine) {
    let folder = tempfile::tempdir().unwrap();
    let h = Harness::with(engine, with_catalog(folder.path())).await;
    let base = |v: &str| {
        h.package(
            &steady_manifest("cat/base", v, "categories = [\"storage\"]"),
            &[],
        )
    };
    write_catalog(
        folder.path(),
        &h.key,
        &[
            ("base-1.0.0.mfx", base("1.0.0")),
            ("base-1.2.0.mfx", base("1.2.0")),
            (
                "app-1.0.0.mfx",
                h.package(
                    &steady_manifest(
                        "cat/app",
                        "1.0.0",
                        "categories = [\"reports\"]\n\n[dependencies]\n\"cat/base\" = \"^1.1\"",
                    ),
                    &[],
                ),
            ),
            (
                "greedy-1.0.0.mfx",
                h.package(
                    &steady_manifest(
                        "cat/greedy",
                        "1.0.0",
                        "\n[dependencies]\n\"cat/base\" = \"^2\"",
                    ),
                    &[],
                ),
            ),
        ],
    );
    let view = h.lifecycle.catalog().await.unwrap();
    assert!(view.problems.is_empty(), "{:?}", view.problems);
    assert_eq!(view.listings.len(), 4);
    assert!(
        view.listings
            .iter()
            .all(|l| l.signature_level.as_deref() == Some("first_party"))
    );
    let found: Vec<String> = view
        .search(&Query {
            category: Some("storage".into()),
            ..Query::default()
        })
        .iter()
        .map(|l| format!("{} {}", l.entry.id, l.entry.version))
        .collect();
    assert_eq!(found, ["cat/base 1.2.0"], "newest version only");
    let by_text = view.search(&Query {
        text: Some("lifecycle TEST".into()),
        ..Query::default()
    });
    assert_eq!(by_text.len(), 3);
    let by_capability = view.search(&Query {
        capability: Some("ui.register_widget".into()),
        ..Query::default()
    });
    assert_eq!(by_capability.len(), 3);

    let error = h
        .lifecycle
        .request_install_from_catalog("cat/greedy", None, true, &admin())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "'cat/greedy' requires 'cat/base' ^2 but the catalogs have only 1.0.0, 1.2.0"
    );
    let error = h
        .lifecycle
        .request_install_from_catalog("cat/nothing", None, true, &admin())
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "no catalog lists 'cat/nothing'");

    let request = h
        .lifecycle
        .request_install_from_catalog("cat/app", None, true, &admin())
        .await
        .unwrap();
    let plan: Plan = serde_json::from_str(&request.plan).unwrap();
    let order: Vec<String> = plan
        .items
        .iter()
        .map(|i| format!("{} {}", i.extension, i.version))
        .collect();
    assert_eq!(
        order,
        ["cat/base 1.2.0", "cat/app 1.0.0"],
        "dependencies first, newest that fits"
    );
    assert_eq!(plan.items[0].required_by, ["cat/app"]);
    h.approve_all(&request).await.unwrap();
    for id in ["cat/base", "cat/app"] {
        assert_eq!(
            h.lifecycle.extension(id).await.unwrap().state,
            ExtensionState::Enabled
        );
    }
    let view = h.lifecycle.catalog().await.unwrap();
    let app = view.versions("cat/app");
    assert_eq!(app[0].installed.as_deref(), Some("1.0.0"));
    let again = h
        .lifecycle
        .request_install_from_catalog("cat/app", None, true, &admin())
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already installed"), "{again}");
    h.cleanup().await;
}

async fn http_catalogs_are_verified_before_use(engine: Engine) {
    let h = Harness::new(engine).await;
    let served = tempfile::tempdir().unwrap();
    let good = h.package(&steady_manifest("web/tool", "1.0.0", ""), &[]);
    write_catalog(served.path(), &h.key, &[("tool-1.0.0.mfx", good.clone())]);
    let url = serve(served.path().to_path_buf()).await;

    // A catalog signed by a key nobody trusts is not added.
    let stranger_dir = tempfile::tempdir().unwrap();
    let stranger = KeyPair::generate("stranger");
    write_catalog(
        stranger_dir.path(),
        &stranger,
        &[("tool-1.0.0.mfx", good.clone())],
    );
    let stranger_url = serve(stranger_dir.path().to_path_buf()).await;
    let error = h
        .lifecycle
        .add_catalog_source(&stranger_url, &admin())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("not in the trust store"),
        "{error}"
    );
    let error = h
        .lifecycle
        .add_catalog_source("ftp://example.test", &admin())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("http:// or https://"), "{error}");

    assert_eq!(
        h.lifecycle
            .add_catalog_source(&url, &admin())
            .await
            .unwrap(),
        1
    );
    assert!(
        h.audit_actions(&url)
            .await
            .contains(&"catalog.source_added".to_string())
    );
    let view = h.lifecycle.catalog().await.unwrap();
    assert_eq!(view.listings.len(), 1);

    // The package behind the entry changed: refused before anything else.
    let other = h.package(
        &steady_manifest("web/tool", "1.0.0", "categories = [\"x\"]"),
        &[],
    );
    std::fs::write(served.path().join("tool-1.0.0.mfx"), &other).unwrap();
    let error = h
        .lifecycle
        .request_install_from_catalog(
            "web/tool",
            Some(&VersionReq::parse("^1").unwrap()),
            false,
            &admin(),
        )
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("download of 'web/tool' 1.0.0"),
        "{error}"
    );
    assert_eq!(h.pending_requests().await, 0);

    std::fs::write(served.path().join("tool-1.0.0.mfx"), &good).unwrap();
    let request = h
        .lifecycle
        .request_install_from_catalog("web/tool", None, false, &admin())
        .await
        .unwrap();
    h.approve_all(&request).await.unwrap();
    assert_eq!(
        h.lifecycle.extension("web/tool").await.unwrap().state,
        ExtensionState::Disabled
    );

    // A source that goes away is reported by name; the rest keeps working.
    drop(served);
    h.lifecycle
        .remove_catalog_source(&url, &admin())
        .await
        .unwrap();
    let view = h.lifecycle.catalog().await.unwrap();
    assert!(view.listings.is_empty() && view.problems.is_empty());
    h.cleanup().await;
}

on_both!(
    the_local_catalog_is_searchable_and_installs_with_dependencies,
    http_catalogs_are_verified_before_use,
);
