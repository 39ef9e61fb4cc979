//! MagGate end to end: a real kernel (control-plane store, bus, policy gate,
//! sandbox, lifecycle) with naming-policy installed from the local catalog
//! and steady from a signed package, the gateway's router on 127.0.0.1:0, and
//! reqwest as the client.

mod support;

use magflock_maggate::{GateConfig, Gateway, Quota};
use support::{NAMING, STEADY, json, kernel, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gateway_serves_filters_limits_and_reports() {
    let kernel = kernel().await;
    kernel.install_naming_policy().await;
    kernel.install_steady().await;
    let gateway = Gateway::new(
        kernel.parts.clone(),
        kernel.store.clone(),
        GateConfig::default(),
    );
    let base = serve(&gateway).await;
    let http = reqwest::Client::new();

    // The OpenAPI document is public and lists the extension's endpoint.
    let doc = json(
        http.get(format!("{base}/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let check = &doc["paths"]["/ext/magflock/naming-policy/check"];
    assert_eq!(check["get"]["summary"], "Check a database name", "{doc}");
    assert_eq!(check["x-magflock-extension"]["id"], NAMING);
    assert!(doc["paths"]["/v1/whoami"].is_object());

    // No key, a malformed key, an unknown key: 401 with a clear JSON error.
    let whoami = format!("{base}/v1/whoami");
    let answer = http.get(&whoami).send().await.unwrap();
    assert_eq!(answer.status(), 401);
    assert_eq!(json(answer).await["error"], "missing_api_key");
    let answer = http.get(&whoami).bearer_auth("nope").send().await.unwrap();
    assert_eq!(json(answer).await["error"], "malformed_api_key");
    let unknown = "mf_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let answer = http.get(&whoami).bearer_auth(unknown).send().await.unwrap();
    assert_eq!(answer.status(), 401);
    assert_eq!(json(answer).await["error"], "unknown_api_key");

    // Issue a key: it authenticates, and steady's wrap_request tagged the request.
    let issued = gateway
        .keys()
        .issue_key("proj_1", "ci", Some("u-1"))
        .await
        .unwrap();
    assert!(issued.plaintext.starts_with("mf_") && issued.plaintext.len() > 40);
    assert_eq!(issued.record.prefix, &issued.plaintext[..8]);
    assert!(!format!("{issued:?}").contains(&issued.plaintext));
    let key = issued.plaintext.clone();
    let answer = http.get(&whoami).bearer_auth(&key).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.headers().contains_key("x-request-id"));
    assert_eq!(
        answer.headers()["x-steady"],
        "seen",
        "steady's transform_response marked the response"
    );
    let me = json(answer).await;
    assert_eq!(me["project"], "proj_1");
    assert_eq!(me["prefix"], issued.record.prefix.as_str());
    assert_eq!(
        me["tagged_by"], STEADY,
        "steady's wrap_request modification applies: {me}"
    );
    let listed = gateway.keys().list(Some("proj_1")).await.unwrap();
    assert!(listed[0].last_used_at.is_some(), "the use is recorded");
    assert_ne!(listed[0].key_hash, key, "only the hash is stored");

    // The extension endpoint, end to end.
    let check_url = format!("{base}/ext/magflock/naming-policy/check");
    let answer = http
        .get(format!("{check_url}?name=pg_x"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let verdict = json(answer).await;
    assert_eq!(verdict["allowed"], false, "{verdict}");
    let answer = http
        .get(format!("{base}/ext/magflock/naming-policy/nothing"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);

    // wrap_request denial: 403 with the extension's reason.
    let answer = http
        .get(format!("{check_url}?name=ok"))
        .bearer_auth(&key)
        .header("x-forbidden", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
    let denied = json(answer).await;
    assert_eq!(denied["extension"], STEADY, "{denied}");
    assert!(
        denied["reason"].as_str().unwrap().contains("x-forbidden"),
        "{denied}"
    );

    // An oversized body: 413.
    let answer = http
        .post(&check_url)
        .bearer_auth(&key)
        .body(vec![b'x'; 1024 * 1024 + 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 413);
    assert_eq!(json(answer).await["error"], "payload_too_large");

    // Revoked: 401.
    assert!(gateway.keys().revoke(&issued.record.id).await.unwrap());
    let answer = http.get(&whoami).bearer_auth(&key).send().await.unwrap();
    assert_eq!(answer.status(), 401);
    let refused = json(answer).await;
    assert_eq!(refused["error"], "revoked_api_key");
    assert!(!refused.to_string().contains(&key));

    // Events, read back from the bus.
    let events = kernel
        .wait_for_events(|events| {
            events.iter().any(|e| {
                e.event_type == "api.response.sent"
                    && e.data["route"] == "/ext/magflock/naming-policy/check"
            })
        })
        .await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert!(types.contains(&"api.request.received"), "{types:?}");
    let sent = events
        .iter()
        .find(|e| {
            e.event_type == "api.response.sent"
                && e.data["route"] == "/ext/magflock/naming-policy/check"
        })
        .unwrap();
    assert_eq!(sent.data["status"], 200);
    assert!(sent.data["duration_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(sent.context.project_id.as_deref(), Some("proj_1"));
    assert!(
        !serde_json::to_string(&events).unwrap().contains(&key),
        "no event holds the key"
    );

    // Usage analytics, in memory.
    let usage = gateway.usage().snapshot();
    let route = usage
        .iter()
        .find(|r| r.route == "/ext/magflock/naming-policy/check")
        .unwrap();
    assert_eq!(route.count, 2, "{route:?}");
    assert_eq!(route.statuses.get(&200), Some(&1), "{route:?}");
    assert_eq!(route.statuses.get(&413), Some(&1), "{route:?}");
    let refused = usage.iter().find(|r| r.route == "unmatched").unwrap();
    assert!(
        refused.statuses.contains_key(&403) && refused.statuses.contains_key(&401),
        "{refused:?}"
    );
    assert_eq!(
        gateway.emit_usage().await.unwrap(),
        0,
        "no extension handles usage_analytics_emitter"
    );

    // Rate limits: a gateway allowing 3 requests a minute per client.
    let strict = Gateway::new(
        kernel.parts.clone(),
        kernel.store.clone(),
        GateConfig {
            rate_limit: Quota::new(3, 60),
            ..GateConfig::default()
        },
    );
    let strict_base = serve(&strict).await;
    for _ in 0..3 {
        let answer = http
            .get(format!("{strict_base}/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    let answer = http
        .get(format!("{strict_base}/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 429);
    let retry: u64 = answer.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    assert_eq!(json(answer).await["error"], "rate_limited");
    let events = kernel
        .wait_for_events(|events| {
            events
                .iter()
                .any(|e| e.event_type == "api.rate_limit.exceeded")
        })
        .await;
    let exceeded = events
        .iter()
        .find(|e| e.event_type == "api.rate_limit.exceeded")
        .unwrap();
    assert_eq!(exceeded.data["limit"], 3);
    assert_eq!(exceeded.data["client_id"], "ip:127.0.0.1");

    drop((gateway, strict));
    kernel.db.cleanup().await;
}
