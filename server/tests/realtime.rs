//! MagWS in the real server, with tokio-tungstenite clients: API-key and
//! session authentication (and their refusals), publish/subscribe scoped
//! per project, presence, history on join, replay after a dropped
//! connection (and the gap beyond retention), a slow consumer dropped, the
//! rate and size limits, the switchboard test extension's channels
//! (admitted or denied by `register_channel`, `broadcast`,
//! `broadcast_adapter`, bus events forwarded under the owner's grant, the
//! action hooks), and the `realtime.*` events on the bus.

mod support;

use futures_util::{SinkExt, StreamExt};
use magflock_kernel::bus::ReplayFrom;
use magflock_kernel::event::{Context, Source};
use magflock_kernel::{Capability, Event};
use magflock_types::Role;
use serde_json::{Value, json};
use std::time::Duration;
use support::TestServer;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const SWITCHBOARD: &str = "test/switchboard";
const WAIT: Duration = Duration::from_secs(10);

fn ws_url(server: &TestServer) -> String {
    format!("{}/realtime/ws", server.base.replace("http://", "ws://"))
}

async fn key_for(server: &TestServer, project: &str) -> String {
    server
        .running()
        .kernel
        .gateway
        .keys()
        .issue_key(project, "realtime-test", None)
        .await
        .unwrap()
        .plaintext
}

/// Opens a socket with these extra request headers.
async fn open(url: &str, headers: &[(&str, &str)]) -> Result<Socket, WsError> {
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

/// A socket authenticated with `key` in the header, past its `ready` frame.
async fn connect(server: &TestServer, key: &str) -> (Socket, Value) {
    let bearer = format!("Bearer {key}");
    let mut socket = open(&ws_url(server), &[("authorization", &bearer)])
        .await
        .expect("the upgrade succeeds");
    let ready = expect(&mut socket, "ready").await;
    (socket, ready)
}

async fn send(socket: &mut Socket, frame: Value) {
    socket
        .send(Message::text(frame.to_string()))
        .await
        .expect("send");
}

/// The next JSON frame (pings skipped); panics after [`WAIT`].
async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame in time")
            .expect("the socket is open")
            .expect("a good frame");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(close) => panic!("closed: {close:?}"),
            _ => continue,
        }
    }
}

/// Reads until a frame of `kind` (others are skipped).
async fn expect(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let frame = next(socket).await;
        if frame["type"] == kind {
            return frame;
        }
    }
}

/// Every frame before the `pong` answering a ping sent now.
async fn until_pong(socket: &mut Socket) -> Vec<Value> {
    let id = uuid_like();
    send(socket, json!({"op": "ping", "id": id})).await;
    let mut frames = Vec::new();
    loop {
        let frame = next(socket).await;
        if frame["type"] == "pong" && frame["id"] == id {
            return frames;
        }
        frames.push(frame);
    }
}

fn uuid_like() -> String {
    format!("{:?}", std::time::Instant::now())
}

/// The close frame's code, reading (and dropping) whatever comes before.
async fn close_code(socket: &mut Socket) -> Option<CloseCode> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| f.code),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_)) | None) | Err(_) => return None,
        }
    }
}

async fn subscribe(socket: &mut Socket, channel: &str) -> Value {
    send(socket, json!({"op": "subscribe", "channel": channel})).await;
    let answer = next(socket).await;
    assert_eq!(
        answer["type"], "subscribed",
        "subscribe {channel}: {answer}"
    );
    answer
}

async fn server() -> TestServer {
    let server = TestServer::start(magflock_store::Engine::Sqlite).await;
    server.add_user("owner@example.test", Role::Owner).await;
    server.add_user("auditor@example.test", Role::Auditor).await;
    server
}

fn http_status(result: Result<Socket, WsError>) -> u16 {
    match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected an HTTP refusal, the upgrade succeeded"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_sessions_are_checked_before_anything_else() {
    let server = server().await;
    let url = ws_url(&server);
    let key = key_for(&server, "acme").await;

    // Header keys: accepted, or refused with 401 before the upgrade.
    let (_socket, ready) = connect(&server, &key).await;
    assert_eq!(
        (&ready["kind"], &ready["project"]),
        (&json!("api_key"), &json!("acme"))
    );
    assert_eq!(ready["limits"]["max_message_bytes"], 65536);
    let bad = open(&url, &[("authorization", "Bearer mf_not-a-real-key")]).await;
    assert_eq!(http_status(bad), 401);
    let revoked = server
        .running()
        .kernel
        .gateway
        .keys()
        .issue_key("acme", "old", None)
        .await
        .unwrap();
    server
        .running()
        .kernel
        .gateway
        .keys()
        .revoke(&revoked.record.id)
        .await
        .unwrap();
    let bearer = format!("Bearer {}", revoked.plaintext);
    assert_eq!(
        http_status(open(&url, &[("authorization", &bearer)]).await),
        401
    );
    // Never in the URL.
    let in_url = open(&format!("{url}?key={key}"), &[]).await;
    assert_eq!(http_status(in_url), 400);

    // Browsers: the first message carries the key.
    let mut browser = open(&url, &[]).await.unwrap();
    send(&mut browser, json!({"op": "auth", "key": key})).await;
    let ready = expect(&mut browser, "ready").await;
    assert_eq!(ready["project"], "acme");
    let mut wrong = open(&url, &[]).await.unwrap();
    send(&mut wrong, json!({"op": "auth", "key": "mf_wrong"})).await;
    assert_eq!(close_code(&mut wrong).await, Some(CloseCode::from(4001)));
    let mut silent = open(&url, &[]).await.unwrap();
    let started = std::time::Instant::now();
    assert_eq!(close_code(&mut silent).await, Some(CloseCode::from(4001)));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(9),
        "{waited:?}"
    );

    // Sessions: only from the server's own origin.
    server
        .running()
        .kernel
        .magds
        .create_project("acme", "owner@example.test", Vec::new())
        .await
        .unwrap();
    let cookie = server.session_cookie("owner@example.test").await;
    let own = [
        ("cookie", cookie.as_str()),
        ("origin", server.base.as_str()),
    ];
    let mut admin = open(&url, &own).await.expect("same-origin session");
    let ready = expect(&mut admin, "ready").await;
    assert_eq!(ready["kind"], "session");
    let evil = [
        ("cookie", cookie.as_str()),
        ("origin", "https://evil.example"),
    ];
    assert_eq!(http_status(open(&url, &evil).await), 403);
    let no_origin = [("cookie", cookie.as_str())];
    assert_eq!(http_status(open(&url, &no_origin).await), 403);
    // An admin names the project, which must exist.
    send(&mut admin, json!({"op": "subscribe", "channel": "chat"})).await;
    assert_eq!(next(&mut admin).await["code"], "bad_request");
    send(
        &mut admin,
        json!({"op": "subscribe", "channel": "chat", "project": "nope"}),
    )
    .await;
    assert_eq!(next(&mut admin).await["code"], "not_found");
    send(
        &mut admin,
        json!({"op": "subscribe", "channel": "chat", "project": "acme"}),
    )
    .await;
    assert_eq!(next(&mut admin).await["type"], "subscribed");
    // An auditor may listen, not publish.
    let cookie = server.session_cookie("auditor@example.test").await;
    let own = [
        ("cookie", cookie.as_str()),
        ("origin", server.base.as_str()),
    ];
    let mut auditor = open(&url, &own).await.unwrap();
    expect(&mut auditor, "ready").await;
    send(
        &mut auditor,
        json!({"op": "publish", "channel": "chat", "project": "acme", "data": 1}),
    )
    .await;
    let refused = next(&mut auditor).await;
    assert_eq!(
        (&refused["code"], &refused["channel"]),
        (&json!("forbidden"), &json!("chat"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_authentications_are_throttled() {
    let server = server().await;
    let url = ws_url(&server);
    let key = key_for(&server, "acme").await;
    for _ in 0..20 {
        let bad = open(&url, &[("authorization", "Bearer mf_guess")]).await;
        assert_eq!(http_status(bad), 401);
    }
    let bearer = format!("Bearer {key}");
    match open(&url, &[("authorization", &bearer)]).await {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), 429);
            let wait: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
        }
        other => panic!("expected 429 for the address, got {:?}", other.map(|_| ())),
    }
    // Even a browser that would send its key in the first message.
    assert_eq!(http_status(open(&url, &[]).await), 429);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_subscribe_and_presence_per_project() {
    let server = server().await;
    let acme = key_for(&server, "acme").await;
    let hr = key_for(&server, "hr").await;
    let (mut a, ready_a) = connect(&server, &acme).await;
    let (mut b, ready_b) = connect(&server, &acme).await;
    let (mut c, _) = connect(&server, &hr).await;
    let (id_a, id_b) = (ready_a["client"].clone(), ready_b["client"].clone());

    let joined = subscribe(&mut a, "chat").await;
    assert_eq!(
        (&joined["seq"], &joined["present_count"]),
        (&json!(0), &json!(0))
    );
    assert_eq!(next(&mut a).await["messages"], json!([]), "empty history");
    let joined = subscribe(&mut b, "chat").await;
    assert_eq!(joined["present"], json!([id_a]));
    let presence = expect(&mut a, "presence").await;
    assert_eq!(
        (&presence["event"], &presence["client"]),
        (&json!("join"), &id_b)
    );
    subscribe(&mut c, "chat").await; // hr's chat: another channel

    send(
        &mut b,
        json!({"op": "publish", "channel": "chat", "data": {"text": "hi"}}),
    )
    .await;
    for socket in [&mut a, &mut b] {
        let message = expect(socket, "message").await;
        assert_eq!(
            (
                &message["seq"],
                &message["data"]["text"],
                &message["from"],
                &message["project"]
            ),
            (&json!(1), &json!("hi"), &id_b, &json!("acme"))
        );
    }
    let seen_by_hr = until_pong(&mut c).await;
    assert!(
        seen_by_hr
            .iter()
            .all(|f| f["type"] != "message" && f["type"] != "presence"),
        "{seen_by_hr:?}"
    );
    // A key stays in its project.
    send(
        &mut a,
        json!({"op": "publish", "channel": "chat", "project": "hr", "data": 1}),
    )
    .await;
    assert_eq!(next(&mut a).await["code"], "forbidden");
    send(&mut a, json!({"op": "subscribe", "channel": "a/b"})).await;
    assert_eq!(next(&mut a).await["code"], "bad_request");

    // Leaving: by unsubscribing and by going away.
    send(&mut b, json!({"op": "unsubscribe", "channel": "chat"})).await;
    assert_eq!(expect(&mut b, "unsubscribed").await["channel"], "chat");
    let presence = expect(&mut a, "presence").await;
    assert_eq!(
        (&presence["event"], &presence["client"]),
        (&json!("leave"), &id_b)
    );
    let (mut d, ready_d) = connect(&server, &acme).await;
    subscribe(&mut d, "chat").await;
    assert_eq!(expect(&mut a, "presence").await["event"], "join");
    drop(d);
    let presence = expect(&mut a, "presence").await;
    assert_eq!(
        (&presence["event"], &presence["client"]),
        (&json!("leave"), &ready_d["client"])
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_on_join_and_replay_after_a_dropped_connection() {
    let server = server().await;
    let key = key_for(&server, "acme").await;
    let (mut publisher, _) = connect(&server, &key).await;
    let publish = |n: u64| json!({"op": "publish", "channel": "ticks", "data": {"n": n}});
    for n in 1..=5 {
        send(&mut publisher, publish(n)).await;
    }
    until_pong(&mut publisher).await;

    let (mut listener, _) = connect(&server, &key).await;
    let joined = subscribe(&mut listener, "ticks").await;
    assert_eq!(joined["seq"], 5);
    let history = next(&mut listener).await;
    assert_eq!(history["type"], "history");
    let seqs: Vec<_> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].clone())
        .collect();
    assert_eq!(seqs, vec![json!(1), json!(2), json!(3), json!(4), json!(5)]);
    let epoch = joined["epoch"].clone();

    // The connection drops (no close handshake); messages go on.
    drop(listener);
    for n in 6..=8 {
        send(&mut publisher, publish(n)).await;
    }
    until_pong(&mut publisher).await;
    let (mut listener, _) = connect(&server, &key).await;
    send(
        &mut listener,
        json!({"op": "subscribe", "channel": "ticks", "since": 5, "epoch": epoch}),
    )
    .await;
    assert_eq!(next(&mut listener).await["type"], "subscribed");
    let mut got = Vec::new();
    for _ in 6..=8 {
        let frame = next(&mut listener).await;
        assert_eq!(
            frame["type"], "message",
            "nothing but the missed messages: {frame}"
        );
        got.push(frame["data"]["n"].as_u64().unwrap());
    }
    assert_eq!(got, vec![6, 7, 8], "no loss within retention");
    send(&mut publisher, publish(9)).await;
    assert_eq!(
        expect(&mut listener, "message").await["seq"],
        9,
        "then live"
    );
    drop(listener);

    // Beyond retention (1000 messages): the client is told what it missed.
    // 12 connections × 95 messages (each within its burst of 100).
    let mut flooders = Vec::new();
    for _ in 0..12 {
        flooders.push(connect(&server, &key).await.0);
    }
    for flooder in &mut flooders {
        for n in 0..95 {
            send(flooder, publish(100 + n)).await;
        }
    }
    for flooder in &mut flooders {
        let frames = until_pong(flooder).await;
        assert!(frames.iter().all(|f| f["type"] != "error"), "{frames:?}");
    }
    let (mut late, _) = connect(&server, &key).await;
    send(
        &mut late,
        json!({"op": "subscribe", "channel": "ticks", "since": 9, "epoch": epoch}),
    )
    .await;
    let joined = next(&mut late).await;
    assert_eq!(joined["seq"], 9 + 12 * 95);
    let gap = next(&mut late).await;
    assert_eq!(
        (&gap["code"], &gap["missed_from"], &gap["missed_to"]),
        (&json!("replay_gap"), &json!(10), &json!(149)),
        "1149 published, the last 1000 kept: {gap}"
    );
    assert_eq!(
        next(&mut late).await["seq"],
        150,
        "then everything retained"
    );
    // A resume with another epoch (e.g. after a restart) is told too.
    let (mut stale, _) = connect(&server, &key).await;
    send(
        &mut stale,
        json!({"op": "subscribe", "channel": "ticks", "since": 3, "epoch": 1}),
    )
    .await;
    assert_eq!(next(&mut stale).await["type"], "subscribed");
    assert_eq!(next(&mut stale).await["code"], "replay_gap");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_dropped_not_buffered() {
    let server = server().await;
    let key = key_for(&server, "acme").await;
    let (mut slow, _) = connect(&server, &key).await;
    subscribe(&mut slow, "firehose").await;
    // It stops reading. 4 publishers × 100 messages × 60 KB = 24 MB, far
    // more than the socket buffers and the 1 MiB send queue hold.
    let blob = "x".repeat(60_000);
    let mut publishers = Vec::new();
    for _ in 0..4 {
        publishers.push(connect(&server, &key).await.0);
    }
    for publisher in &mut publishers {
        for n in 0..100 {
            send(
                publisher,
                json!({"op": "publish", "channel": "firehose", "data": {"n": n, "blob": blob}}),
            )
            .await;
        }
    }
    let magws = &server.running().kernel.magws;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while magws.stats().slow_consumers_dropped == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow consumer is dropped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(close_code(&mut slow).await, Some(CloseCode::from(4008)));
    // Publishers carry on.
    for publisher in &mut publishers {
        until_pong(publisher).await;
    }
    assert_eq!(magws.stats().connections, 4);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_and_size_limits() {
    let server = server().await;
    let key = key_for(&server, "acme").await;
    let (mut client, _) = connect(&server, &key).await;
    let started = std::time::Instant::now();
    for n in 0..299 {
        send(&mut client, json!({"op": "ping", "id": n})).await;
    }
    send(&mut client, json!({"op": "ping", "id": "last"})).await;
    let (mut pongs, mut limited) = (0, 0);
    while pongs + limited < 300 {
        let frame = next(&mut client).await;
        match frame["type"].as_str() {
            Some("pong") => pongs += 1,
            Some("error") => {
                assert_eq!(frame["code"], "rate_limited");
                limited += 1;
            }
            _ => {}
        }
    }
    // The burst (100) and what refilled (100/s) while the pings were sent.
    let refill = (started.elapsed().as_secs_f64() * 100.0).ceil() as u32;
    assert!(
        pongs >= 100 && pongs <= 100 + refill + 1,
        "{pongs} answered, {refill} refilled"
    );
    assert!(limited >= 1 && limited == 300 - pongs, "{limited} refused");
    let stats = server.running().kernel.magws.stats();
    assert_eq!(stats.rate_limited, u64::from(limited));

    // Over the message size: closed with 1009.
    let (mut big, _) = connect(&server, &key).await;
    let blob = "x".repeat(70_000);
    send(
        &mut big,
        json!({"op": "publish", "channel": "c", "data": blob}),
    )
    .await;
    assert_eq!(close_code(&mut big).await, Some(CloseCode::Size));
    server.stop().await;
}

/// Runs a command of the switchboard (on a blocking thread, as the CLI does).
async fn switchboard(server: &TestServer, command: &str, args: &[&str]) -> String {
    let loaded = server.running().kernel.sandbox.get(SWITCHBOARD).unwrap();
    let (command, args): (String, Vec<String>) =
        (command.into(), args.iter().map(|a| a.to_string()).collect());
    tokio::task::spawn_blocking(move || {
        loaded.run_command(&command, &args, magflock_sandbox::CallMode::Warm)
    })
    .await
    .unwrap()
    .expect("the command runs")
}

/// The hooks the switchboard recorded, waiting (up to 10 s) for `hook`.
async fn recorded(server: &TestServer, hook: &str) -> Vec<Value> {
    for _ in 0..100 {
        let report: Value =
            serde_json::from_str(&switchboard(server, "report", &[]).await).unwrap();
        let seen: Vec<Value> = report
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r["hook"] == hook)
            .map(|r| r["payload"].clone())
            .collect();
        if !seen.is_empty() {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the switchboard was never told {hook}");
}

fn database_event(project: &str, capabilities: Vec<Capability>, n: u64) -> Event {
    Event::new(
        "database.backup.completed",
        Source {
            component: "magds".into(),
            extension: None,
        },
        json!({"n": n}),
        Context {
            project_id: Some(project.into()),
            ..Context::default()
        },
        capabilities,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switchboard_owns_its_channels() {
    let server = server().await;
    support::install_guest(server.running(), "switchboard", true).await;
    let open: Vec<String> = server
        .running()
        .kernel
        .magws
        .open_channels()
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(
        open,
        vec![
            "ext/test/switchboard/feed",
            "ext/test/switchboard/lobby",
            "ext/test/switchboard/vault"
        ],
        "opened by its start()"
    );
    let acme = key_for(&server, "acme").await;
    let bank = key_for(&server, "bank").await;
    let (mut a, ready_a) = connect(&server, &acme).await;
    let (mut b, _) = connect(&server, &bank).await;

    // register_channel: the owner admits or refuses, with its reason.
    subscribe(&mut a, "ext/test/switchboard/lobby").await;
    expect(&mut a, "history").await;
    send(
        &mut a,
        json!({"op": "subscribe", "channel": "ext/test/switchboard/vault"}),
    )
    .await;
    let denied = next(&mut a).await;
    assert_eq!(
        (&denied["code"], &denied["extension"], &denied["reason"]),
        (
            &json!("denied"),
            &json!(SWITCHBOARD),
            &json!("the vault is open to project bank only, not acme")
        ),
        "{denied}"
    );
    subscribe(&mut b, "ext/test/switchboard/vault").await;
    for (channel, code) in [
        ("ext/test/switchboard/attic", "not_found"),
        ("ext/test/nobody/lobby", "not_found"),
    ] {
        send(&mut a, json!({"op": "subscribe", "channel": channel})).await;
        assert_eq!(next(&mut a).await["code"], code, "{channel}");
    }

    // broadcast: to its lobby in its project (acme, from its configuration).
    assert_eq!(
        switchboard(&server, "announce", &["lobby", "hello"]).await,
        "1"
    );
    let message = expect(&mut a, "message").await;
    assert_eq!(
        (&message["channel"], &message["from"], &message["data"]),
        (
            &json!("ext/test/switchboard/lobby"),
            &json!("ext:test/switchboard"),
            &json!({"text": "hello", "stamped_by": SWITCHBOARD})
        )
    );
    let refused = loaded_error(&server, "announce", &["ext/test/gatekeeper/x", "no"]).await;
    assert!(refused.contains("own channels"), "{refused}");

    // broadcast_adapter: stamps messages, drops spam.
    let (mut chat, _) = connect(&server, &acme).await;
    subscribe(&mut chat, "chat").await;
    send(
        &mut a,
        json!({"op": "publish", "channel": "chat", "data": {"text": "hi"}}),
    )
    .await;
    let stamped = expect(&mut chat, "message").await;
    assert_eq!(
        stamped["data"],
        json!({"text": "hi", "stamped_by": SWITCHBOARD})
    );
    send(
        &mut a,
        json!({"op": "publish", "channel": "chat", "data": {"text": "cheap spam"}}),
    )
    .await;
    let dropped = expect(&mut a, "error").await;
    assert_eq!(
        (&dropped["code"], &dropped["reason"]),
        (
            &json!("denied"),
            &json!("spam is dropped by the switchboard")
        )
    );
    let after = until_pong(&mut chat).await;
    assert!(
        after.iter().all(|f| f["type"] != "message"),
        "the spam never arrives: {after:?}"
    );

    // subscribe_to_event: database events on the feed, each under the
    // owner's grant (it does not hold database.admin) and per project.
    subscribe(&mut a, "ext/test/switchboard/feed").await;
    expect(&mut a, "history").await;
    tokio::time::sleep(Duration::from_millis(500)).await; // the forwarder sees the feed
    let bus = &server.running().kernel.bus;
    bus.publish(&database_event("acme", vec![], 1))
        .await
        .unwrap();
    bus.publish(&database_event("acme", vec![Capability::DatabaseAdmin], 2))
        .await
        .unwrap();
    bus.publish(&database_event("bank", vec![], 3))
        .await
        .unwrap();
    bus.publish(&database_event(
        "acme",
        vec![Capability::RealtimeSubscribeEvents],
        4,
    ))
    .await
    .unwrap();
    let mut forwarded = Vec::new();
    while forwarded.len() < 2 {
        let message = expect(&mut a, "message").await;
        assert_eq!(message["channel"], "ext/test/switchboard/feed");
        assert_eq!(message["from"], "bus");
        assert_eq!(message["data"]["event_type"], "database.backup.completed");
        forwarded.push(message["data"]["data"]["n"].as_u64().unwrap());
    }
    assert_eq!(
        forwarded,
        vec![1, 4],
        "not 2 (needs database.admin), not 3 (bank's)"
    );

    // A resume on the lobby (replay_events) from another connection.
    let (mut resumer, _) = connect(&server, &acme).await;
    send(
        &mut resumer,
        json!({"op": "subscribe", "channel": "ext/test/switchboard/lobby", "since": 0}),
    )
    .await;
    assert_eq!(next(&mut resumer).await["type"], "subscribed");
    assert_eq!(
        next(&mut resumer).await["data"]["text"],
        "hello",
        "replayed"
    );

    // The action hooks were told.
    let presence = recorded(&server, "presence_stream").await;
    assert!(
        presence.iter().any(|p| p["client_id"] == ready_a["client"]
            && p["state"] == "join"
            && p["channel"] == "ext/test/switchboard/lobby"),
        "{presence:?}"
    );
    let history = recorded(&server, "message_history").await;
    assert!(history.iter().any(|h| h["limit"] == 50), "{history:?}");
    let events = recorded(&server, "subscribe_to_event").await;
    assert!(events.iter().any(|e| e["event_type"] == "database.*" && e["channel"] == "ext/test/switchboard/feed"), "{events:?}");
    let replays = recorded(&server, "replay_events").await;
    assert!(
        replays
            .iter()
            .any(|r| r["from_seq"] == 0 && r["replayed"] == 1),
        "{replays:?}"
    );

    // Disabled: its channels are closed to new subscribers.
    let admin = magflock_kernel::audit::Actor::user("u-1", "owner@example.test");
    server
        .running()
        .kernel
        .lifecycle
        .disable(SWITCHBOARD, &admin)
        .await
        .unwrap();
    let (mut late, _) = connect(&server, &acme).await;
    send(
        &mut late,
        json!({"op": "subscribe", "channel": "ext/test/switchboard/lobby"}),
    )
    .await;
    assert_eq!(next(&mut late).await["code"], "unavailable");
    server.stop().await;
}

/// A switchboard command that must fail; its message.
async fn loaded_error(server: &TestServer, command: &str, args: &[&str]) -> String {
    let loaded = server.running().kernel.sandbox.get(SWITCHBOARD).unwrap();
    let (command, args): (String, Vec<String>) =
        (command.into(), args.iter().map(|a| a.to_string()).collect());
    tokio::task::spawn_blocking(move || {
        loaded.run_command(&command, &args, magflock_sandbox::CallMode::Warm)
    })
    .await
    .unwrap()
    .expect_err("the command fails")
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_events_reach_the_bus() {
    let server = server().await;
    let key = key_for(&server, "acme").await;
    let (mut client, ready) = connect(&server, &key).await;
    subscribe(&mut client, "chat").await;
    send(
        &mut client,
        json!({"op": "publish", "channel": "chat", "data": {"secret": "s3"}}),
    )
    .await;
    expect(&mut client, "message").await;
    client.close(None).await.unwrap();
    drop(client);

    let bus = &server.running().kernel.bus;
    let wanted = [
        "realtime.connection.opened",
        "realtime.subscription.created",
        "realtime.message.sent",
        "realtime.connection.closed",
    ];
    let mut found: Vec<Event> = Vec::new();
    for _ in 0..100 {
        found = bus
            .replay(ReplayFrom::Seq(1), 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.event)
            .filter(|e| e.source.component == "magws")
            .collect();
        if wanted
            .iter()
            .all(|w| found.iter().any(|e| e.event_type == *w))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let types: Vec<&str> = found.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, wanted, "in order, once each");
    let client_id = &ready["client"];
    for event in &found {
        assert_eq!(event.context.project_id.as_deref(), Some("acme"));
        assert_eq!(
            event.capabilities_required,
            vec![Capability::RealtimeSubscribeEvents]
        );
        let text = serde_json::to_string(event).unwrap();
        assert!(
            !text.contains(&key) && !text.contains("s3"),
            "no key, no content: {text}"
        );
    }
    assert_eq!(&found[0].data["client"], client_id);
    assert_eq!(found[0].data["caller"]["kind"], "api_key");
    assert_eq!(found[1].data["channel"], "chat");
    assert_eq!(
        (&found[2].data["seq"], &found[2].data["recipients"]),
        (&json!(1), &json!(1))
    );
    assert!(found[2].data["bytes"].as_u64().unwrap() > 10);
    assert_eq!(
        (&found[3].data["client"], &found[3].data["code"]),
        (client_id, &json!(1000))
    );
    assert_eq!(found[3].data["received"], 2);
    server.stop().await;
}
