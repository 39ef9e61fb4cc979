//! MagWS over loopback against a real kernel (no extensions): a key
//! authenticates, messages flow in order, the adapter refuses what an
//! extension may not do, and a shutdown closes every socket with 1001.

mod support;

use futures_util::{SinkExt, StreamExt};
use magflock_kernel::adapter::{Adapter, AdapterCall};
use magflock_kernel::{Capability, Component};
use magflock_magws::{MagWsAdapter, WsConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, key: &str) -> Socket {
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

async fn next(socket: &mut Socket) -> Message {
    tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("a frame in time")
        .expect("open")
        .expect("a good frame")
}

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        if let Message::Text(text) = next(socket).await {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_flow_in_order_and_shutdown_closes_sockets() {
    let served = support::serve(WsConfig::default()).await;
    let key = served.key("acme").await;
    let mut sub = connect(&served.url, &key).await;
    assert_eq!(next_json(&mut sub).await["type"], "ready");
    sub.send(Message::text(
        json!({"op": "subscribe", "channel": "orders"}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut sub).await["type"], "subscribed");
    assert_eq!(next_json(&mut sub).await["type"], "history");

    let mut publisher = connect(&served.url, &key).await;
    for n in 0..50 {
        let frame = json!({"op": "publish", "channel": "orders", "data": n});
        publisher
            .send(Message::text(frame.to_string()))
            .await
            .unwrap();
    }
    for n in 0..50u64 {
        let message = next_json(&mut sub).await;
        assert_eq!(
            (&message["seq"], &message["data"]),
            (&json!(n + 1), &json!(n))
        );
    }
    assert_eq!(served.ws.stats().connections, 2);

    served.ws.shutdown();
    loop {
        match next(&mut sub).await {
            Message::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), 1001);
                break;
            }
            Message::Close(None) => panic!("a close frame without a code"),
            _ => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_refuses_what_an_extension_may_not_do() {
    let served = support::serve(WsConfig::default()).await;
    let adapter = MagWsAdapter::new(served.ws.clone(), Arc::new(|_: &str| None));
    assert_eq!(adapter.component(), Component::MagWs);
    let call = |operation: &str, args: Value, capability| AdapterCall {
        extension: "acme/widgets".into(),
        capability,
        operation: operation.into(),
        args: args.to_string(),
    };
    let opened = tokio::task::spawn_blocking({
        let adapter_call = call(
            "open_channel",
            json!({"channel": "{\"id\":\"feed\",\"events\":[\"database.*\"]}"}),
            Capability::RealtimeRegisterChannel,
        );
        let adapter = MagWsAdapter::new(served.ws.clone(), Arc::new(|_: &str| None));
        move || adapter.execute(&adapter_call)
    })
    .await
    .unwrap();
    assert_eq!(opened, Ok(String::new()));
    let open = served.ws.open_channels();
    assert_eq!(open[0].0.to_string(), "ext/acme/widgets/feed");
    assert_eq!(open[0].1.event_patterns, vec!["database.*".to_string()]);

    let refusals = [
        (
            call(
                "open_channel",
                json!({"channel": "Bad Id"}),
                Capability::RealtimeRegisterChannel,
            ),
            "channel",
        ),
        (
            call(
                "open_channel",
                json!({"channel": "{\"id\":\"x\",\"events\":[\"nope\"]}"}),
                Capability::RealtimeRegisterChannel,
            ),
            "pattern",
        ),
        (
            call(
                "broadcast",
                json!({"channel": "ext/other/ext/feed", "message": "{}"}),
                Capability::RealtimeBroadcast,
            ),
            "own channels",
        ),
        (
            call(
                "broadcast",
                json!({"channel": "chat", "message": "hi"}),
                Capability::RealtimeBroadcast,
            ),
            "not bound to a project",
        ),
        (
            call(
                "broadcast",
                json!({"channel": "feed", "message": "hi"}),
                Capability::RealtimeBroadcast,
            ),
            "no extension",
        ),
        (
            call("explode", json!({}), Capability::RealtimeBroadcast),
            "no operation",
        ),
    ];
    for (call, expected) in refusals {
        let adapter = MagWsAdapter::new(served.ws.clone(), Arc::new(|_: &str| None));
        let operation = call.operation.clone();
        let result = tokio::task::spawn_blocking(move || adapter.execute(&call))
            .await
            .unwrap();
        let error = result.expect_err(&operation);
        assert!(error.contains(expected), "{operation}: {error}");
    }
    drop(adapter);
}
