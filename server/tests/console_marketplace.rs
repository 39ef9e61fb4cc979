//! MagUI's Marketplace and Approvals, through their server functions on a
//! real server with the build's signed local catalog
//! (`scripts/build-catalog.sh`), called as the browser calls them (session
//! cookie, form bodies): search with filters, a listing's detail with its
//! capabilities' risks and README, an install request, the queue as an
//! auditor sees it, the auditor's decision refused, an admin approving a
//! subset (the extension is enabled with exactly that subset, audited as
//! the admin), and a denial.

mod support;

use magflock_app::api::approvals::{ApprovalQueue, DecisionResult, RequestState};
use magflock_app::api::marketplace::{
    CatalogResults, InstallRequested, ListingDetail, RiskLevel, SignatureBadge,
};
use magflock_kernel::Capability;
use magflock_lifecycle::ExtensionState;
use magflock_lifecycle::UpgradeSubmitted;
use magflock_types::{AuditFilter, Outcome, Role};
use std::path::PathBuf;
use support::TestServer;

const OWNER: &str = "owner@example.test";
const ADMIN: &str = "admin@example.test";
const AUDITOR: &str = "auditor@example.test";
const NAMING: &str = "magflock/naming-policy";
const INSIGHTS: &str = "magflock/query-insights";
const RELAY: &str = "magflock/webhook-relay";
const STEADY: &str = "magflock/steady";

fn s(v: &str) -> String {
    v.to_string()
}

async fn search(
    server: &TestServer,
    client: &reqwest::Client,
    form: &[(&str, &str)],
) -> Vec<String> {
    let found: CatalogResults = server.ok(client, "/api/marketplace_search", form).await;
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    found.listings.into_iter().map(|l| l.id).collect()
}

async fn server() -> (TestServer, tempfile::TempDir) {
    server_on("catalog").await
}

/// A server on `target/<catalog>` with an owner, an admin and an auditor.
async fn server_on(catalog: &str) -> (TestServer, tempfile::TempDir) {
    let catalog = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target")
        .join(catalog);
    assert!(
        catalog.join("index.json").is_file(),
        "build the catalogs first: scripts/build-catalog.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config_for(&format!("sqlite://{}/magflock.db", dir.path().display()));
    config.catalog_dir = catalog;
    config.data_dir = dir.path().join("data");
    let server = TestServer::start_with(config).await;
    server.add_user(OWNER, Role::Owner).await;
    server.add_user(ADMIN, Role::Admin).await;
    server.add_user(AUDITOR, Role::Auditor).await;
    (server, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_marketplace_is_searched_and_explains_what_an_extension_may_do() {
    let (server, _dir) = server().await;
    let auditor = server.signed_in(AUDITOR).await;

    // Everything, then each filter narrowing it.
    let all: CatalogResults = server.ok(&auditor, "/api/marketplace_search", &[]).await;
    assert_eq!(all.total, 3);
    assert!(all.problems.is_empty(), "{:?}", all.problems);
    assert!(
        all.categories.contains(&s("governance")),
        "{:?}",
        all.categories
    );
    assert_eq!(all.capabilities.len(), Capability::ALL.len());
    let ids = |list: &[&str]| list.iter().map(|v| s(v)).collect::<Vec<_>>();
    assert_eq!(
        search(&server, &auditor, &[("q", "naming")]).await,
        ids(&[NAMING])
    );
    assert_eq!(
        search(&server, &auditor, &[("category", "database")]).await,
        ids(&[NAMING, INSIGHTS])
    );
    assert_eq!(
        search(&server, &auditor, &[("capability", "network.outbound")]).await,
        ids(&[RELAY])
    );
    assert_eq!(
        search(&server, &auditor, &[("signature", "first_party")]).await,
        ids(&[NAMING, INSIGHTS, RELAY])
    );
    assert!(
        search(&server, &auditor, &[("signature", "community")])
            .await
            .is_empty()
    );
    assert_eq!(
        search(
            &server,
            &auditor,
            &[("edition", "ce"), ("q", "slow queries")]
        )
        .await,
        ids(&[INSIGHTS])
    );
    assert!(
        search(&server, &auditor, &[("edition", "pro")])
            .await
            .is_empty()
    );
    // Empty filters (a submitted form with nothing chosen) filter nothing.
    assert_eq!(
        search(&server, &auditor, &[("q", ""), ("category", "")])
            .await
            .len(),
        3
    );
    let (status, body) = server
        .status(&auditor, "/api/marketplace_search", &[("edition", "gold")])
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("Edition 'gold' is not ce (Community) or pro."),
        "{body}"
    );

    // The detail: capabilities in plain words with their risk and why.
    let detail: ListingDetail = server
        .ok(&auditor, "/api/marketplace_listing", &[("id", NAMING)])
        .await;
    assert_eq!(detail.summary.signature, SignatureBadge::FirstParty);
    assert_eq!(detail.summary.installed, None);
    assert_eq!(detail.summary.incompatible, None);
    assert_eq!(detail.summary.highest_risk, Some(RiskLevel::Critical));
    let admin_cap = &detail.capabilities[0];
    assert_eq!(
        (admin_cap.name.as_str(), admin_cap.risk),
        ("database.admin", RiskLevel::Critical)
    );
    assert_eq!(admin_cap.description, Capability::DatabaseAdmin.describe());
    assert!(admin_cap.justification.contains("before_db_create"));
    assert_eq!(detail.capabilities[1].risk, RiskLevel::Medium);
    assert_eq!(detail.versions.len(), 1);
    assert_eq!(detail.license.as_deref(), Some("Apache-2.0"));
    assert!(
        detail
            .readme
            .as_deref()
            .is_some_and(|r| r.starts_with("# Naming Policy")),
        "{:?}",
        detail.readme_problem
    );
    let relay: ListingDetail = server
        .ok(&auditor, "/api/marketplace_listing", &[("id", RELAY)])
        .await;
    let outbound = relay
        .capabilities
        .iter()
        .find(|c| c.name == "network.outbound")
        .unwrap();
    assert_eq!(outbound.risk, RiskLevel::High);
    assert!(outbound.hosts.contains(&s("hooks.example.com")));
    let (status, body) = server
        .status(
            &auditor,
            "/api/marketplace_listing",
            &[("id", "magflock/nothing")],
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = server
        .status(
            &auditor,
            "/api/marketplace_listing",
            &[("id", NAMING), ("version", "9.9.9")],
        )
        .await;
    assert_eq!(status, 404);

    // The pages render on the server: the filtered list and the detail with
    // its README as elements and the risks as badges.
    let page = server
        .get(&auditor, "/marketplace?q=naming")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("data-id=\"{NAMING}\"")));
    assert!(!page.contains(&format!("data-id=\"{RELAY}\"")));
    assert!(
        page.contains("value=\"naming\""),
        "the form keeps the search"
    );
    let page = server
        .get(&auditor, "/marketplace/magflock/naming-policy")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-capability=\"database.admin\" data-risk=\"critical\""));
    assert!(
        page.contains(">Naming Policy (<code"),
        "README heading rendered"
    );
    assert!(page.contains("Only owners and admins can install extensions"));
    assert!(!page.contains("data-testid=\"install-submit\""));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_install_waits_for_an_admin_who_grants_a_subset_or_denies() {
    let (server, _dir) = server().await;
    let admin = server.signed_in(ADMIN).await;
    let auditor = server.signed_in(AUDITOR).await;
    let lifecycle = server.running().kernel.lifecycle.clone();

    // Auditors cannot request an install.
    let (status, _) = server
        .status(
            &auditor,
            "/api/request_install",
            &[("id", NAMING), ("enable", "true")],
        )
        .await;
    assert_eq!(status, 403);

    let asked: InstallRequested = server
        .ok(
            &admin,
            "/api/request_install",
            &[("id", NAMING), ("version", "1.0.0"), ("enable", "true")],
        )
        .await;
    assert_eq!(asked.items, [format!("{NAMING} 1.0.0")]);
    assert!(asked.enable);
    // Asking twice is refused while the first waits.
    let (status, body) = server
        .status(
            &admin,
            "/api/request_install",
            &[("id", NAMING), ("enable", "true")],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("already waiting for approval"), "{body}");

    // The auditor sees it in the queue, with what it asks and who asked.
    let queue: ApprovalQueue = server.ok(&auditor, "/api/list_approvals", &[]).await;
    assert_eq!(queue.pending.len(), 1);
    let pending = &queue.pending[0];
    assert_eq!(pending.id, asked.request_id);
    assert_eq!(pending.state, RequestState::Pending);
    assert_eq!(pending.requested_by.as_deref(), Some(ADMIN));
    assert!(pending.enable);
    let names: Vec<&str> = pending.items[0]
        .capabilities
        .iter()
        .map(|c| c.info.name.as_str())
        .collect();
    assert!(
        names.starts_with(&["database.admin", "api.register_endpoint"]),
        "{names:?}"
    );
    assert_eq!(
        pending.items[0].capabilities[0].info.risk,
        RiskLevel::Critical
    );
    let detail: ListingDetail = server
        .ok(&auditor, "/api/marketplace_listing", &[("id", NAMING)])
        .await;
    assert_eq!(
        detail.pending_request.as_deref(),
        Some(asked.request_id.as_str())
    );

    // The auditor may look, not decide: refused, and still pending.
    let grant = format!("{NAMING}#api.register_endpoint");
    let subset = [
        ("request_id", asked.request_id.as_str()),
        ("decision", "approve_selected"),
        ("grants[]", grant.as_str()),
        ("comment", "endpoint only, no admin rights"),
    ];
    let (status, _) = server
        .status(&auditor, "/api/decide_approval", &subset)
        .await;
    assert_eq!(status, 403);
    let still: ApprovalQueue = server.ok(&auditor, "/api/list_approvals", &[]).await;
    assert_eq!(still.pending.len(), 1);
    assert!(lifecycle.extension(NAMING).await.is_err());
    // A capability the plan does not ask for cannot be slipped in.
    let (status, body) = server
        .status(
            &admin,
            "/api/decide_approval",
            &[
                ("request_id", &asked.request_id),
                ("decision", "approve_selected"),
                ("grants[]", &format!("{NAMING}#network.outbound")),
            ],
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // The admin grants the endpoint capability only.
    let decided: DecisionResult = server.ok(&admin, "/api/decide_approval", &subset).await;
    assert_eq!(decided.request.state, RequestState::Completed);
    assert_eq!(decided.extensions.len(), 1);
    let outcome = &decided.extensions[0];
    assert_eq!(
        (outcome.id.as_str(), outcome.state.as_str()),
        (NAMING, "enabled")
    );
    assert_eq!(outcome.granted, ["api.register_endpoint"]);
    let view = lifecycle.extension(NAMING).await.unwrap();
    assert_eq!(view.state, ExtensionState::Enabled);
    assert_eq!(view.granted, ["api.register_endpoint"]);

    // Recorded as the admin, with the comment and the grant.
    let entries = server
        .running()
        .store
        .audit_list(&AuditFilter {
            action: Some("extension.install_approved".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .entries;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].actor_label, ADMIN);
    assert_eq!(entries[0].outcome, Outcome::Success);
    let detail: serde_json::Value = serde_json::from_str(&entries[0].detail).unwrap();
    assert_eq!(detail["comment"], "endpoint only, no admin rights");
    assert_eq!(
        detail["granted"][NAMING][0]["capability"],
        "api.register_endpoint"
    );
    let refused = server
        .running()
        .store
        .audit_list(&AuditFilter {
            action: Some("auth.permission_denied".into()),
            actor: Some(AUDITOR.into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .entries;
    assert!(
        refused
            .iter()
            .any(|e| e.target.as_deref() == Some("/api/decide_approval")),
        "{refused:?}"
    );

    // The history says who decided, why and what was granted; the card shows it installed.
    let queue: ApprovalQueue = server.ok(&auditor, "/api/list_approvals", &[]).await;
    assert!(queue.pending.is_empty());
    let done = &queue.history[0];
    assert_eq!(done.decided_by.as_deref(), Some(ADMIN));
    assert_eq!(
        done.comment.as_deref(),
        Some("endpoint only, no admin rights")
    );
    let granted = done.granted.as_ref().unwrap();
    assert_eq!(granted[0].capabilities, ["api.register_endpoint"]);
    let found: CatalogResults = server
        .ok(&auditor, "/api/marketplace_search", &[("q", "naming")])
        .await;
    assert_eq!(found.listings[0].installed.as_deref(), Some("1.0.0"));
    // A decided request cannot be decided again.
    let (status, body) = server
        .status(
            &admin,
            "/api/decide_approval",
            &[("request_id", &asked.request_id), ("decision", "deny")],
        )
        .await;
    assert_eq!(status, 409, "{body}");

    // Deny: nothing is installed, the comment is kept.
    let owner = server.signed_in(OWNER).await;
    let asked: InstallRequested = server
        .ok(&owner, "/api/request_install", &[("id", INSIGHTS)])
        .await;
    assert!(!asked.enable);
    let denied: DecisionResult = server
        .ok(
            &owner,
            "/api/decide_approval",
            &[
                ("request_id", &asked.request_id),
                ("decision", "deny"),
                ("comment", "not needed here"),
            ],
        )
        .await;
    assert_eq!(denied.request.state, RequestState::Denied);
    assert!(denied.extensions.is_empty());
    assert!(lifecycle.extension(INSIGHTS).await.is_err());
    let queue: ApprovalQueue = server.ok(&auditor, "/api/list_approvals", &[]).await;
    let last = &queue.history[0];
    assert_eq!(
        (
            last.id.as_str(),
            last.state,
            last.decided_by.as_deref(),
            last.comment.as_deref()
        ),
        (
            asked.request_id.as_str(),
            RequestState::Denied,
            Some(OWNER),
            Some("not needed here")
        )
    );
    assert_eq!(last.granted, None);

    // The Approvals page: the auditor sees the history but no controls.
    let page = server
        .get(&auditor, "/approvals")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-testid=\"read-only-note\""));
    assert!(!page.contains("data-testid=\"decision-form\""));
    assert!(page.contains(&format!("data-request=\"{}\"", asked.request_id)));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_shows_what_is_new_against_what_is_granted_today() {
    // The test catalog lists magflock/steady 1.0.0, 1.0.1 and 1.1.0 (which
    // also asks for system.background_jobs).
    let (server, _dir) = server_on("test-catalog").await;
    let admin = server.signed_in(ADMIN).await;
    let lifecycle = server.running().kernel.lifecycle.clone();

    // An older version's page, with every version listed.
    let old: ListingDetail = server
        .ok(
            &admin,
            "/api/marketplace_listing",
            &[("id", STEADY), ("version", "1.0.0")],
        )
        .await;
    assert_eq!(old.summary.version, "1.0.0");
    assert_eq!(old.newest, "1.1.0");
    let versions: Vec<&str> = old.versions.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(versions, ["1.1.0", "1.0.1", "1.0.0"]);
    let outbound = old
        .capabilities
        .iter()
        .find(|c| c.name == "network.outbound")
        .unwrap();
    assert!(!outbound.hosts.is_empty());

    // Install 1.0.0 with everything it asks.
    let asked: InstallRequested = server
        .ok(
            &admin,
            "/api/request_install",
            &[("id", STEADY), ("version", "1.0.0"), ("enable", "true")],
        )
        .await;
    assert_eq!(asked.version, "1.0.0");
    let approved: DecisionResult = server
        .ok(
            &admin,
            "/api/decide_approval",
            &[("request_id", &asked.request_id), ("decision", "approve")],
        )
        .await;
    assert_eq!(approved.extensions[0].state, "enabled");
    let granted_before = lifecycle.extension(STEADY).await.unwrap().granted;
    assert_eq!(approved.extensions[0].granted, granted_before);
    assert!(granted_before.contains(&s("network.outbound")));

    // The upgrade to 1.1.0 asks for something new, so it waits.
    let catalog = lifecycle.catalog().await.unwrap();
    let newest = catalog
        .versions(STEADY)
        .into_iter()
        .find(|l| l.entry.version.to_string() == "1.1.0")
        .unwrap();
    let bytes = lifecycle.download(newest).await.unwrap();
    let by = magflock_kernel::audit::Actor::user("someone", ADMIN);
    let UpgradeSubmitted::Waiting(request) = lifecycle.request_upgrade(&bytes, &by).await.unwrap()
    else {
        panic!("an upgrade asking for a new capability must wait for approval");
    };
    let queue: ApprovalQueue = server.ok(&admin, "/api/list_approvals", &[]).await;
    let upgrade = queue.pending.iter().find(|r| r.id == request.id).unwrap();
    assert_eq!(upgrade.kind, "upgrade");
    let item = &upgrade.items[0];
    assert_eq!(
        (
            item.action.as_str(),
            item.from_version.as_deref(),
            item.version.as_str()
        ),
        ("upgrade", Some("1.0.0"), "1.1.0")
    );
    let new: Vec<&str> = item
        .capabilities
        .iter()
        .filter(|c| c.new)
        .map(|c| c.info.name.as_str())
        .collect();
    assert_eq!(new, ["system.background_jobs"]);
    assert_eq!(item.granted_now, granted_before);
    assert!(item.removed_capabilities.is_empty());
    let page = server.get(&admin, "/approvals").await.text().await.unwrap();
    assert!(page.contains("data-testid=\"new-capability\""));
    assert!(page.contains("data-testid=\"granted-now\""));
    assert!(page.contains("1.0.0 → 1.1.0"));

    // Approving everything carries the upgrade out.
    let done: DecisionResult = server
        .ok(
            &admin,
            "/api/decide_approval",
            &[("request_id", &request.id), ("decision", "approve")],
        )
        .await;
    assert_eq!(done.request.state, RequestState::Completed);
    let view = lifecycle.extension(STEADY).await.unwrap();
    assert_eq!(view.version, "1.1.0");
    assert!(view.granted.contains(&s("system.background_jobs")));
    server.stop().await;
}
