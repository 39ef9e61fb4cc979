//! Manifest validation: a valid manifest parses completely, and each rule
//! refuses its mistake with the field, line and column.

use magflock_kernel::hooks::HookKind;
use magflock_kernel::manifest::{ContributionKind, FailurePolicy};
use magflock_kernel::{Budgets, Capability, Manifest};

const HEADER: &str = r#"[extension]
id = "acme/stats"
name = "Stats"
version = "1.2.0"
publisher = "Acme"
description = "Counts things."
license = "MIT"
kernel_api = "^0.1"
"#;

/// The single error for `body` appended to a valid header: `(line, column, text)`.
fn one_error(body: &str) -> (usize, usize, String) {
    let text = format!("{HEADER}{body}");
    let errors = Manifest::parse(&text, "magflock.toml")
        .expect_err("must be refused")
        .0;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = &errors[0];
    (e.line, e.column, e.to_string())
}

#[test]
fn a_complete_manifest_parses() {
    let text = format!(
        r#"{HEADER}
[dependencies]
"acme/base" = "^1.4"

[[capabilities]]
name = "database.read"
justification = "Counts rows."

[[capabilities]]
name = "network.outbound"
hosts = ["api.acme.example"]
justification = "Sends daily totals."

[[capabilities]]
name = "ui.register_widget"

[[capabilities]]
name = "api.intercept_request"

[[capabilities]]
name = "realtime.subscribe_events"

[[hooks]]
name = "wrap_request"
failure = "closed"
priority = 10

[[hooks]]
name = "after_schema_change"

[events]
subscribe = ["database.*", "extension.error"]

[contributes]
widgets = [{{ id = "row-counts", title = "Row counts" }}]
commands = [{{ id = "recount" }}]

[budgets]
memory_mb = 128
"#
    );
    let m = Manifest::parse(&text, "magflock.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.id, "acme/stats");
    assert_eq!(m.version.to_string(), "1.2.0");
    assert!(m.kernel_api.matches(&semver::Version::new(0, 1, 5)));
    assert_eq!(m.dependencies.len(), 1);
    assert!(m.requests(Capability::NetworkOutbound));
    assert_eq!(
        m.capabilities[1].hosts,
        vec!["api.acme.example".to_string()]
    );
    assert_eq!(m.hooks[0].hook.kind, HookKind::Filter);
    assert_eq!(m.hooks[0].failure, FailurePolicy::Closed);
    assert_eq!(m.hooks[1].failure, FailurePolicy::Open);
    assert_eq!(m.subscriptions, vec!["database.*", "extension.error"]);
    assert_eq!(
        m.contributions
            .iter()
            .filter(|c| c.kind == ContributionKind::Widget)
            .count(),
        1
    );
    assert_eq!(
        m.budgets,
        Budgets {
            memory_mb: 128,
            ..Budgets::DEFAULT
        }
    );
}

#[test]
fn unknown_capability() {
    let (line, col, text) = one_error("\n[[capabilities]]\nname = \"database.drop\"\n");
    assert_eq!((line, col), (11, 8));
    assert_eq!(
        text,
        "magflock.toml:11:8: capabilities[0].name: unknown capability 'database.drop'"
    );
}

#[test]
fn hook_without_its_capability() {
    let (line, _, text) = one_error("\n[[hooks]]\nname = \"before_backup\"\n");
    assert_eq!(line, 11);
    assert!(text.ends_with("hooks[0].name: hook 'before_backup' needs capability 'database.admin', which is not requested"), "{text}");
}

#[test]
fn unknown_hook() {
    let (_, _, text) = one_error("\n[[hooks]]\nname = \"before_everything\"\n");
    assert!(text.ends_with("unknown hook 'before_everything'"), "{text}");
}

#[test]
fn contribution_without_its_capability() {
    let (line, _, text) = one_error("\n[contributes]\npanels = [{ id = \"overview\" }]\n");
    assert_eq!(line, 11);
    assert!(
        text.contains(
            "contributes.panels: contributing panels needs capability 'ui.register_panel'"
        ),
        "{text}"
    );
}

#[test]
fn duplicate_ids() {
    let cap = one_error(
        "\n[[capabilities]]\nname = \"system.metrics\"\n[[capabilities]]\nname = \"system.metrics\"\n",
    );
    assert_eq!(cap.0, 13);
    assert!(
        cap.2.ends_with("'system.metrics' is requested twice"),
        "{}",
        cap.2
    );
    let hook = one_error(
        "\n[[capabilities]]\nname = \"system.metrics\"\n[[hooks]]\nname = \"health_check_report\"\n[[hooks]]\nname = \"health_check_report\"\n",
    );
    assert!(
        hook.2
            .ends_with("hook 'health_check_report' is listed twice"),
        "{}",
        hook.2
    );
    let widget = one_error(
        "\n[[capabilities]]\nname = \"ui.register_widget\"\n[contributes]\nwidgets = [{ id = \"a\" }, { id = \"a\" }]\n",
    );
    assert!(
        widget
            .2
            .ends_with("contributes.widgets.id: 'a' is used twice"),
        "{}",
        widget.2
    );
}

#[test]
fn bad_semver() {
    let text = HEADER.replace("\"1.2.0\"", "\"1.2\"");
    let errors = Manifest::parse(&text, "m.toml").unwrap_err().0;
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].line, errors[0].column, errors[0].field.as_str()),
        (4, 11, "extension.version")
    );
    let text = HEADER.replace("\"^0.1\"", "\"around 0.1\"");
    assert_eq!(
        Manifest::parse(&text, "m.toml").unwrap_err().0[0].field,
        "extension.kernel_api"
    );
    let dep = one_error("\n[dependencies]\n\"acme/base\" = \"newest\"\n");
    assert!(
        dep.2
            .contains("dependencies.\"acme/base\": 'newest' is not a version requirement"),
        "{}",
        dep.2
    );
}

#[test]
fn budgets_over_the_platform_maximum() {
    let (line, col, text) = one_error("\n[budgets]\nmemory_mb = 4096\n");
    assert_eq!((line, col), (11, 13));
    assert!(
        text.ends_with("budgets.memory_mb: 4096 is over the platform maximum of 512"),
        "{text}"
    );
}

#[test]
fn host_allowlists_only_where_they_belong() {
    let missing = one_error("\n[[capabilities]]\nname = \"network.outbound\"\n");
    assert!(
        missing
            .2
            .ends_with("'network.outbound' needs a non-empty `hosts` allowlist"),
        "{}",
        missing.2
    );
    let misplaced =
        one_error("\n[[capabilities]]\nname = \"database.read\"\nhosts = [\"x.example\"]\n");
    assert!(
        misplaced.2.ends_with("'database.read' takes no host list"),
        "{}",
        misplaced.2
    );
    let url = one_error(
        "\n[[capabilities]]\nname = \"network.outbound\"\nhosts = [\"https://x.example/\"]\n",
    );
    assert!(url.2.contains("is not a host name"), "{}", url.2);
}

#[test]
fn event_subscriptions_need_their_capability() {
    let (_, _, text) = one_error("\n[events]\nsubscribe = [\"auth.*\"]\n");
    assert!(text.ends_with("subscribing to events needs capability 'realtime.subscribe_events', which is not requested"), "{text}");
    let (line, col, text) = one_error(
        "\n[[capabilities]]\nname = \"realtime.subscribe_events\"\n[events]\nsubscribe = [\"billing.*\"]\n",
    );
    assert_eq!((line, col), (13, 14));
    assert!(text.ends_with("events.subscribe[0]: subscription pattern 'billing.*' must be '*', '<category>.*' or a full event type"), "{text}");
}

#[test]
fn syntax_errors_and_unknown_fields_are_located() {
    let errors = Manifest::parse("[extension]\nid = \"acme/x\"\nname = \n", "bad.toml")
        .unwrap_err()
        .0;
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].file.as_str(), errors[0].line), ("bad.toml", 3));
    let (line, _, text) = one_error("\n[budgets]\ncpu = 5\n");
    assert_eq!(line, 11);
    assert!(text.contains("unknown field `cpu`"), "{text}");
}

#[test]
fn every_problem_is_reported_at_once_in_file_order() {
    let text = format!(
        "{HEADER}\n[[capabilities]]\nname = \"nope\"\n[[hooks]]\nname = \"before_backup\"\n[budgets]\ndeadline_ms = 0\n"
    );
    let errors = Manifest::parse(&text, "m.toml").unwrap_err().0;
    let lines: Vec<_> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![11, 13, 15]);
}

#[test]
fn endpoints_carry_api_versions() {
    let base = "\n[[capabilities]]\nname = \"api.register_endpoint\"\n[contributes]\n";
    let text = format!(
        "{HEADER}{base}endpoints = [{{ id = \"report\", versions = [\"v10\", \"v2\"] }}, {{ id = \"plain\" }}]\n"
    );
    let m = Manifest::parse(&text, "magflock.toml").unwrap_or_else(|e| panic!("{e}"));
    let versions: Vec<&[String]> = m.contributions.iter().map(|c| &c.versions[..]).collect();
    assert_eq!(
        versions,
        [&["v2", "v10"][..], &["v1"][..]],
        "sorted by number; v1 by default"
    );

    for (listed, problem) in [
        ("[\"2\"]", "'2' is not an API version (write v1, v2, ...)"),
        ("[\"v01\"]", "'v01' is not an API version"),
        ("[\"v1\", \"v1\"]", "'v1' is listed twice"),
        ("[]", "list at least one API version"),
    ] {
        let (line, _, text) = one_error(&format!(
            "{base}endpoints = [{{ id = \"r\", versions = {listed} }}]\n"
        ));
        assert_eq!(line, 13, "{text}");
        assert!(
            text.contains("contributes.endpoints.versions: ") && text.contains(problem),
            "{listed}: {text}"
        );
    }
    let (_, _, text) = one_error(
        "\n[[capabilities]]\nname = \"system.metrics\"\n[contributes]\ncommands = [{ id = \"c\", versions = [\"v1\"] }]\n",
    );
    assert!(text.ends_with("only endpoints have API versions"), "{text}");
}
