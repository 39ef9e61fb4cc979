//! MagDS and MagGate inside the real server: MagDS's hooks reach the
//! extensions through the kernel (naming-policy's `before_db_create` filter
//! stops a project whose name breaks its rule), and MagGate is mounted under
//! `/gateway`: its OpenAPI description, API keys, and an extension endpoint
//! served end to end over HTTP.

mod support;

use magflock_kernel::audit::Actor;
use magflock_lifecycle::Decision;
use magflock_magds::MagDsError;
use magflock_server::start;
use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magds_hooks_and_the_gateway_work_through_the_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config_for(&format!("sqlite://{}/magflock.db", dir.path().display()));
    config.catalog_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/catalog");
    config.data_dir = dir.path().join("data");
    let running = start(config).await.expect("server starts");
    let kernel = running.kernel.clone();
    let base = format!("http://{}/gateway", running.addr);
    let http = reqwest::Client::new();

    let admin = Actor::user("u-1", "owner@example.test");
    let request = kernel
        .lifecycle
        .request_install_from_catalog("magflock/naming-policy", None, true, &admin)
        .await
        .unwrap();
    kernel
        .lifecycle
        .decide(
            &request.id,
            Decision::Approve {
                grants: None,
                comment: None,
            },
            &admin,
        )
        .await
        .unwrap();

    // MagDS: the filter denies, nothing is created; a good name goes through.
    let denied = kernel
        .magds
        .create_project("magflock_stats", "u-1", Vec::new())
        .await
        .unwrap_err();
    match &denied {
        MagDsError::Denied {
            extension, reason, ..
        } => {
            assert_eq!(extension, "magflock/naming-policy");
            assert!(reason.contains("magflock_"), "{reason}");
        }
        other => panic!("expected the naming policy to deny: {other}"),
    }
    assert!(kernel.magds.list_projects().await.unwrap().is_empty());
    kernel
        .magds
        .create_project("sales_eu", "u-1", Vec::new())
        .await
        .unwrap();
    assert_eq!(kernel.magds.list_projects().await.unwrap().len(), 1);

    // MagGate: the OpenAPI description lists the extension's endpoint.
    let openapi: serde_json::Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        openapi
            .to_string()
            .contains("/ext/magflock/naming-policy/check"),
        "{openapi}"
    );

    // Without a key: 401. With a project key: the extension answers.
    let url = format!("{base}/ext/magflock/naming-policy/check?name=pg_secrets");
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
    let key = kernel
        .gateway
        .keys()
        .issue_key("sales_eu", "ci", Some("u-1"))
        .await
        .unwrap();
    let response = http
        .get(&url)
        .bearer_auth(&key.plaintext)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["allowed"], false, "{answer}");

    // A revoked key is refused at once.
    assert!(kernel.gateway.keys().revoke(&key.record.id).await.unwrap());
    assert_eq!(
        http.get(&url)
            .bearer_auth(&key.plaintext)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    running.stop().await;
}
