//! The registry's catalogs and all-or-nothing folder loading.

use magflock_kernel::hooks::Component;
use magflock_kernel::{Capability, Manifest, Registry, RegistryError};

fn manifest(id: &str, extra: &str) -> String {
    format!(
        "[extension]\nid = \"{id}\"\nname = \"X\"\nversion = \"1.0.0\"\npublisher = \"P\"\ndescription = \"\"\nlicense = \"MIT\"\nkernel_api = \"^0.1\"\n{extra}"
    )
}

const AUDITOR: &str = "[[capabilities]]\nname = \"api.intercept_request\"\n[[hooks]]\nname = \"wrap_request\"\npriority = 50\n";
const LOGGER: &str = "[[capabilities]]\nname = \"api.intercept_request\"\n[[capabilities]]\nname = \"system.metrics\"\n[[hooks]]\nname = \"wrap_request\"\npriority = 10\n[[hooks]]\nname = \"usage_analytics_emitter\"\n";

fn registry() -> Registry {
    let mut r = Registry::new();
    for (id, extra) in [
        ("acme/zeta", AUDITOR),
        ("acme/alpha", AUDITOR),
        ("acme/logger", LOGGER),
    ] {
        r.register(Manifest::parse(&manifest(id, extra), id).unwrap(), id)
            .unwrap();
    }
    r
}

#[test]
fn handlers_run_by_priority_then_id() {
    let r = registry();
    let order: Vec<_> = r
        .handlers("wrap_request")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(order, vec!["acme/logger", "acme/alpha", "acme/zeta"]);
    assert!(r.handlers("before_backup").is_empty());
}

#[test]
fn catalogs_by_capability_and_component() {
    let r = registry();
    assert_eq!(
        r.requesting(Capability::ApiInterceptRequest),
        vec!["acme/alpha", "acme/logger", "acme/zeta"]
    );
    assert_eq!(r.requesting(Capability::SystemMetrics), vec!["acme/logger"]);
    let gate = r.hook_catalog(Component::MagGate);
    assert_eq!(gate.len(), 7);
    let analytics = gate
        .iter()
        .find(|(spec, _)| spec.name == "usage_analytics_emitter")
        .unwrap();
    assert_eq!(analytics.1, vec!["acme/logger"]);
}

#[test]
fn duplicates_are_refused() {
    let mut r = registry();
    let again = Manifest::parse(&manifest("acme/alpha", ""), "other.toml").unwrap();
    let err = r.register(again, "other.toml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "other.toml: extension 'acme/alpha' is already registered"
    );
}

#[test]
fn a_folder_loads_all_or_nothing() {
    let dir = std::env::temp_dir().join(format!("mf-registry-{}", std::process::id()));
    let write = |sub: &str, text: String| {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        std::fs::write(dir.join(sub).join("magflock.toml"), text).unwrap();
    };
    write("a", manifest("acme/a", ""));
    write(
        "b",
        manifest("acme/b", "[[hooks]]\nname = \"before_backup\"\n"),
    );
    let mut r = Registry::new();
    match r.load_folder(&dir) {
        Err(RegistryError::Invalid(errors)) => {
            assert!(errors.0[0].file.ends_with("b/magflock.toml"), "{errors}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(r.extensions().count(), 0, "nothing half-loaded");
    write("b", manifest("acme/b", ""));
    assert_eq!(r.load_folder(&dir).unwrap(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
