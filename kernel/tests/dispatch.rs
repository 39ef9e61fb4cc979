//! Hook dispatch rules, with scripted handlers standing in for guests (the
//! sandbox's own tests run the same dispatcher on real components): order,
//! payload chaining, denial, failure policies, capability gating, payload
//! shape, and an audit entry for every run.

use async_trait::async_trait;
use magflock_kernel::audit::AuditSink;
use magflock_kernel::dispatch::{Dispatched, Dispatcher, HookOutcome, HookRunner};
use magflock_kernel::{Capability, Grant, KernelError, Manifest, PolicyGate, Registry};
use magflock_types::{NewAuditEntry, Outcome};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

/// Answers per extension, and the order in which extensions were called.
#[derive(Default)]
struct Scripted {
    answers: HashMap<String, Result<HookOutcome, String>>,
    calls: Mutex<Vec<String>>,
}

impl HookRunner for Scripted {
    fn run_hook(&self, extension: &str, _hook: &str, payload: &str) -> Result<HookOutcome, String> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("{extension} {payload}"));
        self.answers
            .get(extension)
            .cloned()
            .unwrap_or(Ok(HookOutcome::Allow))
    }
}

#[derive(Default)]
struct Collected(Mutex<Vec<NewAuditEntry>>);

#[async_trait]
impl AuditSink for Collected {
    fn record(&self, entry: NewAuditEntry) {
        self.0.lock().unwrap().push(entry);
    }
    async fn flush(&self) -> Result<(), KernelError> {
        Ok(())
    }
}

fn manifest(id: &str, hook: &str, capability: &str, extra: &str) -> Manifest {
    let text = format!(
        "[extension]\nid = \"{id}\"\nname = \"n\"\nversion = \"1.0.0\"\npublisher = \"p\"\ndescription = \"d\"\nlicense = \"MIT\"\nkernel_api = \"^0.1\"\n\n[[capabilities]]\nname = \"{capability}\"\njustification = \"j\"\n\n[[hooks]]\nname = \"{hook}\"\n{extra}\n"
    );
    Manifest::parse(&text, "magflock.toml").unwrap_or_else(|e| panic!("{e}"))
}

struct Setup {
    dispatcher: Dispatcher,
    runner: Arc<Scripted>,
    audit: Arc<Collected>,
    gate: Arc<PolicyGate>,
}

fn setup(manifests: Vec<Manifest>, answers: Vec<(&str, Result<HookOutcome, String>)>) -> Setup {
    let gate = Arc::new(PolicyGate::new());
    let mut registry = Registry::new();
    for m in manifests {
        gate.register(&m);
        gate.enable(&m.id).unwrap();
        for c in &m.capabilities {
            gate.grant(&m.id, Grant::new(c.capability)).unwrap();
        }
        let file = format!("{}/magflock.toml", m.id);
        registry.register(m, &file).unwrap();
    }
    let runner = Arc::new(Scripted {
        answers: answers
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        ..Default::default()
    });
    let audit = Arc::new(Collected::default());
    let dispatcher = Dispatcher::new(
        Arc::new(RwLock::new(registry)),
        gate.clone(),
        runner.clone(),
        audit.clone(),
    );
    Setup {
        dispatcher,
        runner,
        audit,
        gate,
    }
}

const REQUEST: &str = r#"{"method":"GET","path":"/","headers":{}}"#;

#[test]
fn filters_run_in_priority_order_and_see_each_others_changes() {
    let s = setup(
        vec![
            manifest(
                "a/late",
                "wrap_request",
                "api.intercept_request",
                "priority = 20",
            ),
            manifest(
                "a/early",
                "wrap_request",
                "api.intercept_request",
                "priority = 10",
            ),
        ],
        vec![(
            "a/early",
            Ok(HookOutcome::Modify(
                r#"{"method":"GET","path":"/v2","headers":{}}"#.into(),
            )),
        )],
    );
    let result = s.dispatcher.dispatch("wrap_request", REQUEST).unwrap();
    assert_eq!(
        result,
        Dispatched::Proceed {
            payload: r#"{"method":"GET","path":"/v2","headers":{}}"#.into()
        }
    );
    let calls = s.runner.calls.lock().unwrap().clone();
    assert!(
        calls[0].starts_with("a/early ") && calls[1].contains("/v2"),
        "{calls:?}"
    );
    assert_eq!(s.audit.0.lock().unwrap().len(), 2, "every run is audited");
}

#[test]
fn the_first_denial_stops_the_dispatch_with_its_reason() {
    let s = setup(
        vec![
            manifest(
                "a/guard",
                "wrap_request",
                "api.intercept_request",
                "priority = 1",
            ),
            manifest(
                "a/after",
                "wrap_request",
                "api.intercept_request",
                "priority = 2",
            ),
        ],
        vec![("a/guard", Ok(HookOutcome::Deny("blocked by policy".into())))],
    );
    let result = s.dispatcher.dispatch("wrap_request", REQUEST).unwrap();
    assert_eq!(
        result,
        Dispatched::Denied {
            extension: "a/guard".into(),
            reason: "blocked by policy".into()
        }
    );
    assert_eq!(
        s.runner.calls.lock().unwrap().len(),
        1,
        "nothing runs after a denial"
    );
    assert_eq!(s.audit.0.lock().unwrap()[0].outcome, Outcome::Denied);
}

#[test]
fn a_failing_filter_fails_open_or_closed_as_declared() {
    let open = setup(
        vec![manifest(
            "a/flaky",
            "wrap_request",
            "api.intercept_request",
            "failure = \"open\"",
        )],
        vec![("a/flaky", Err("trapped".into()))],
    );
    assert_eq!(
        open.dispatcher.dispatch("wrap_request", REQUEST).unwrap(),
        Dispatched::Proceed {
            payload: REQUEST.into()
        }
    );
    assert!(
        open.audit.0.lock().unwrap()[0]
            .detail
            .contains("failed_open")
    );

    let closed = setup(
        vec![manifest(
            "a/strict",
            "wrap_request",
            "api.intercept_request",
            "failure = \"closed\"",
        )],
        vec![("a/strict", Err("trapped".into()))],
    );
    match closed.dispatcher.dispatch("wrap_request", REQUEST).unwrap() {
        Dispatched::Denied { extension, reason } => {
            assert_eq!(extension, "a/strict");
            assert!(
                reason.contains("fails closed") && reason.contains("trapped"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_modified_payload_missing_fields_is_a_failure_not_a_change() {
    let s = setup(
        vec![manifest(
            "a/sloppy",
            "wrap_request",
            "api.intercept_request",
            "failure = \"closed\"",
        )],
        vec![(
            "a/sloppy",
            Ok(HookOutcome::Modify(r#"{"method":"GET"}"#.into())),
        )],
    );
    assert!(matches!(
        s.dispatcher.dispatch("wrap_request", REQUEST).unwrap(),
        Dispatched::Denied { .. }
    ));
    assert!(
        s.audit.0.lock().unwrap()[0]
            .detail
            .contains("invalid_modification")
    );
}

#[test]
fn actions_cannot_change_the_outcome_and_failures_do_not_stop_others() {
    let payload = r#"{"project_id":"p","migration":"m1","duration_ms":3}"#;
    let s = setup(
        vec![
            manifest(
                "a/one",
                "after_migration",
                "database.schema",
                "priority = 1",
            ),
            manifest(
                "a/two",
                "after_migration",
                "database.schema",
                "priority = 2",
            ),
        ],
        vec![("a/one", Ok(HookOutcome::Deny("no".into())))],
    );
    assert_eq!(
        s.dispatcher.dispatch("after_migration", payload).unwrap(),
        Dispatched::Proceed {
            payload: payload.into()
        }
    );
    assert_eq!(s.runner.calls.lock().unwrap().len(), 2);
    assert!(s.audit.0.lock().unwrap()[0].detail.contains("ignored"));
}

#[test]
fn extensions_without_the_hooks_capability_or_not_enabled_are_skipped() {
    let s = setup(
        vec![
            manifest("a/revoked", "wrap_request", "api.intercept_request", ""),
            manifest("a/off", "wrap_request", "api.intercept_request", ""),
        ],
        vec![
            ("a/revoked", Ok(HookOutcome::Deny("x".into()))),
            ("a/off", Ok(HookOutcome::Deny("x".into()))),
        ],
    );
    s.gate
        .revoke("a/revoked", Capability::ApiInterceptRequest)
        .unwrap();
    s.gate.disable("a/off").unwrap();
    assert_eq!(
        s.dispatcher.dispatch("wrap_request", REQUEST).unwrap(),
        Dispatched::Proceed {
            payload: REQUEST.into()
        }
    );
    assert!(s.runner.calls.lock().unwrap().is_empty());
}

#[test]
fn unknown_hooks_and_malformed_payloads_are_refused_before_any_handler() {
    let s = setup(
        vec![manifest("a/x", "wrap_request", "api.intercept_request", "")],
        vec![],
    );
    assert!(matches!(
        s.dispatcher.dispatch("before_everything", "{}"),
        Err(KernelError::UnknownHook(_))
    ));
    let err = s
        .dispatcher
        .dispatch("wrap_request", r#"{"method":"GET"}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("wrap_request") && err.contains("path") && err.contains("headers"),
        "{err}"
    );
    assert!(s.dispatcher.dispatch("wrap_request", "not json").is_err());
    assert!(s.runner.calls.lock().unwrap().is_empty());
}
