//! MagUI's extension widgets and panels, through their server functions on a
//! real server running real guests (`extensions/lookout`, `steady`,
//! `webhook-relay`), on both engines: each extension's widgets rendered as
//! declarative views (a malformed one as that widget's error only), the
//! layout kept per user, a live revoke of `ui.register_widget` removing the
//! widget at the next load, panels and their form commands (admins only,
//! declared commands only, audited), and the MagUI hooks `register_widget`,
//! `register_panel` and `on_user_action` fired by the real UI actions.

mod support;

use magflock_app::api::widgets::{DashboardLayout, DashboardView, PanelLink, PanelView};
use magflock_app::view_tree::ViewNode;
use magflock_kernel::Capability;
use magflock_kernel::audit::Actor;
use magflock_types::{AuditFilter, Outcome, Role};
use serde_json::Value;
use std::time::Duration;
use support::{TestServer, install_guest};

const ADMIN: &str = "admin@example.test";
const AUDITOR: &str = "auditor@example.test";
const LOOKOUT: &str = "magflock/lookout";
const STEADY: &str = "magflock/steady";

on_both_engines!(
    widgets_render_arrange_and_follow_live_grants,
    panels_run_only_declared_commands_for_admins
);

fn s(v: &str) -> String {
    v.to_string()
}

/// What lookout heard, from its own `told` command (run as the kernel would).
async fn told(server: &TestServer) -> Value {
    let loaded = server.running().kernel.sandbox.get(LOOKOUT).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        loaded.run_command("told", &[], magflock_sandbox::CallMode::Warm)
    })
    .await
    .unwrap()
    .unwrap();
    serde_json::from_str(&output).unwrap()
}

async fn widgets_render_arrange_and_follow_live_grants(server: TestServer) -> TestServer {
    server.add_user(ADMIN, Role::Admin).await;
    server.add_user(AUDITOR, Role::Auditor).await;
    install_guest(server.running(), "lookout", true).await;
    install_guest(server.running(), "steady", true).await;
    let admin = server.signed_in(ADMIN).await;
    let auditor = server.signed_in(AUDITOR).await;

    let board: DashboardView = server.ok(&admin, "/api/dashboard_widgets", &[]).await;
    let keys: Vec<&str> = board.widgets.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "magflock/lookout#recent-actions",
            "magflock/lookout#malformed",
            "magflock/steady#pings"
        ]
    );
    assert!(board.can_act);
    assert!(matches!(board.widgets[0].view, Ok(ViewNode::Table { .. })));
    assert!(matches!(board.widgets[2].view, Ok(ViewNode::Stat { .. })));
    // The malformed view is that widget's error, named with its place.
    assert_eq!(
        board.widgets[1].view,
        Err("view.rows[0]: has 1 cells for 2 columns".to_string())
    );
    assert_eq!(told(&server).await["register_widget"], 1);

    let seen: DashboardView = server.ok(&auditor, "/api/dashboard_widgets", &[]).await;
    assert!(!seen.can_act, "auditors look, they do not act");

    // The admin's arrangement is the admin's own.
    let layout = DashboardLayout {
        order: vec![
            s("magflock/steady#pings"),
            s("magflock/lookout#recent-actions"),
        ],
        hidden: vec![s("magflock/lookout#malformed")],
    };
    let saved: DashboardLayout = server
        .ok(
            &admin,
            "/api/save_dashboard_layout",
            &[("layout", &serde_json::to_string(&layout).unwrap())],
        )
        .await;
    assert_eq!(saved, layout);
    let board: DashboardView = server.ok(&admin, "/api/dashboard_widgets", &[]).await;
    let arranged: Vec<(&str, bool)> = board
        .widgets
        .iter()
        .map(|w| (w.key.as_str(), w.hidden))
        .collect();
    assert_eq!(
        arranged,
        [
            ("magflock/steady#pings", false),
            ("magflock/lookout#recent-actions", false),
            ("magflock/lookout#malformed", true)
        ]
    );
    let theirs: DashboardView = server.ok(&auditor, "/api/dashboard_widgets", &[]).await;
    assert_eq!(theirs.widgets[0].key, "magflock/lookout#recent-actions");
    let (code, body) = server
        .status(
            &admin,
            "/api/save_dashboard_layout",
            &[("layout", r#"{"order": "steady"}"#)],
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("layout"), "{body}");

    // The layout save was a user action: audited, and offered to lookout,
    // whose widget lists it once its queue has delivered it (wait for that
    // very action: the install's actions may have reached it first).
    let mut rows = Vec::new();
    for _ in 0..50 {
        let board: DashboardView = server.ok(&admin, "/api/dashboard_widgets", &[]).await;
        let recent = board
            .widgets
            .iter()
            .find(|w| w.key == "magflock/lookout#recent-actions")
            .unwrap();
        let Ok(ViewNode::Table { rows: listed, .. }) = &recent.view else {
            panic!("{:?}", recent.view)
        };
        rows = listed.clone();
        if rows.iter().any(|r| r[0] == "ui.dashboard_layout_saved") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(told(&server).await["actions"].as_u64().unwrap_or(0) > 0);
    assert!(
        rows.iter().any(|r| r[0] == "ui.dashboard_layout_saved"),
        "on_user_action reached lookout: {rows:?}"
    );

    // A live revoke of ui.register_widget takes steady's widget away at once.
    server
        .running()
        .kernel
        .lifecycle
        .revoke(
            STEADY,
            Capability::UiRegisterWidget,
            &Actor::user("u-1", "owner@example.test"),
        )
        .await
        .unwrap();
    let board: DashboardView = server.ok(&admin, "/api/dashboard_widgets", &[]).await;
    assert!(board.widgets.iter().all(|w| w.extension != STEADY));
    server
}

async fn panels_run_only_declared_commands_for_admins(server: TestServer) -> TestServer {
    server.add_user(ADMIN, Role::Admin).await;
    server.add_user(AUDITOR, Role::Auditor).await;
    install_guest(server.running(), "lookout", true).await;
    let admin = server.signed_in(ADMIN).await;
    let auditor = server.signed_in(AUDITOR).await;

    let panels: Vec<PanelLink> = server.ok(&auditor, "/api/list_panels", &[]).await;
    assert_eq!(
        panels,
        [PanelLink {
            extension: s(LOOKOUT),
            panel: s("notes"),
            title: s("Notes")
        }]
    );
    assert_eq!(panels[0].href(), "/panels/magflock/lookout/notes");
    assert_eq!(told(&server).await["register_panel"], 1);

    let panel: PanelView = server
        .ok(
            &admin,
            "/api/render_panel",
            &[("extension", LOOKOUT), ("panel", "notes")],
        )
        .await;
    assert!(panel.can_act);
    let Ok(view) = &panel.view else {
        panic!("{:?}", panel.view)
    };
    assert_eq!(view.commands(), ["add-note"]);

    // The form's command, as the browser sends it.
    let form = [
        ("extension", LOOKOUT),
        ("command", "add-note"),
        ("args", r#"["text=Rotate the keys on Friday"]"#),
    ];
    let (code, _) = server
        .status(&auditor, "/api/run_view_command", &form)
        .await;
    assert_eq!(code, 403, "an auditor cannot run it");
    let output: String = server.ok(&admin, "/api/run_view_command", &form).await;
    assert_eq!(output, "Noted: Rotate the keys on Friday");
    let panel: PanelView = server
        .ok(
            &auditor,
            "/api/render_panel",
            &[("extension", LOOKOUT), ("panel", "notes")],
        )
        .await;
    assert!(!panel.can_act);
    let Ok(ViewNode::Stack { children }) = &panel.view else {
        panic!("{:?}", panel.view)
    };
    assert!(
        children.contains(&ViewNode::Table {
            columns: vec![s("Note")],
            rows: vec![vec![s("Rotate the keys on Friday")]],
        }),
        "{children:?}"
    );

    // Only commands the signed manifest declares, with the guest's own refusal as a 409.
    let (code, body) = server
        .status(
            &admin,
            "/api/run_view_command",
            &[
                ("extension", LOOKOUT),
                ("command", "format-disk"),
                ("args", "[]"),
            ],
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("declares no command 'format-disk'"), "{body}");
    let (code, body) = server
        .status(
            &admin,
            "/api/run_view_command",
            &[
                ("extension", LOOKOUT),
                ("command", "add-note"),
                ("args", "[]"),
            ],
        )
        .await;
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("write a note first"), "{body}");

    let page = server
        .running()
        .store
        .audit_list(&AuditFilter {
            action: Some(s("extension.command_run")),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let outcomes: Vec<(Outcome, &str)> = page
        .entries
        .iter()
        .map(|e| (e.outcome, e.actor_label.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [(Outcome::Failure, ADMIN), (Outcome::Success, ADMIN)],
        "each run by the admin is audited with its outcome (the undeclared one never ran)"
    );

    // A panel that is not there (revoked, disabled, never) is a 404 naming why it may be missing.
    server
        .running()
        .kernel
        .lifecycle
        .revoke(
            LOOKOUT,
            Capability::UiRegisterPanel,
            &Actor::user("u-1", "owner@example.test"),
        )
        .await
        .unwrap();
    let (code, body) = server
        .status(
            &admin,
            "/api/render_panel",
            &[("extension", LOOKOUT), ("panel", "notes")],
        )
        .await;
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("ui.register_panel"), "{body}");
    let panels: Vec<PanelLink> = server.ok(&admin, "/api/list_panels", &[]).await;
    assert!(panels.is_empty());
    server
}
