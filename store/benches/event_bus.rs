//! Event bus benchmarks on the durable log, SQLite (a file in a temp folder) and
//! PostgreSQL (a fresh database from the test helpers):
//! * criterion: publish throughput in batches of 100 and 1 000 events;
//! * printed figures: delivery latency (publish → a polling subscriber sees
//!   it) p50/p99, and replay of 1 000 000 events (raw range reads, and a
//!   subscriber polling and acknowledging).
//!
//! `RUST_BACKTRACE=0 CARGO_INCREMENTAL=0 cargo bench -p magflock-store --bench event_bus`
//! Set `MAGFLOCK_BENCH_REPLAY_EVENTS` to replay another count (default 1 000 000);
//! `MAGFLOCK_BENCH_ENGINES=sqlite` (or `postgres`) for one engine.

use criterion::{Criterion, Throughput};
use magflock_kernel::bus::{Bus, Delivery, ReplayFrom, StartAt};
use magflock_kernel::event::{Context, Source};
use magflock_kernel::{Capability, Event};
use magflock_store::Engine;
use magflock_store::testing::TestDb;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn event(i: usize) -> Event {
    Event::new(
        "database.query.executed",
        Source {
            component: ["magds", "magauth", "maggate"][i % 3].into(),
            extension: None,
        },
        json!({"query": "SELECT * FROM users WHERE id = $1", "duration_ms": 12, "rows_returned": 1, "i": i}),
        Context {
            project_id: Some("proj_abc123".into()),
            user_id: Some("user_xyz789".into()),
            trace_id: Some("trace_123".into()),
        },
        vec![Capability::DatabaseRead],
    )
    .expect("valid event")
}

fn batch(size: usize) -> Vec<Event> {
    (0..size).map(event).collect()
}

fn engines() -> Vec<Engine> {
    match std::env::var("MAGFLOCK_BENCH_ENGINES").as_deref() {
        Ok("sqlite") => vec![Engine::Sqlite],
        Ok("postgres") => vec![Engine::Postgres],
        _ => vec![Engine::Sqlite, Engine::Postgres],
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn publish_throughput(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let mut group = c.benchmark_group("event_bus_publish");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    for engine in engines() {
        let db = rt.block_on(TestDb::new(engine));
        let bus = Bus::new(Arc::new(db.store.event_log()));
        for size in [100usize, 1000] {
            group.throughput(Throughput::Elements(size as u64));
            group.bench_function(format!("{}/batch_{size}", engine.name()), |b| {
                b.to_async(rt).iter_custom(|iters| {
                    let bus = bus.clone();
                    async move {
                        let mut spent = Duration::ZERO;
                        for _ in 0..iters {
                            let events = batch(size);
                            let started = Instant::now();
                            bus.publish_batch(&events).await.expect("publish");
                            spent += started.elapsed();
                        }
                        spent
                    }
                })
            });
        }
        rt.block_on(db.cleanup());
    }
    group.finish();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Publish one event at a time, every 2 ms; a subscriber polls (sleeping 1 ms
/// when a poll finds nothing) and acknowledges. Latency: from the start of
/// `publish` to the poll that returns the event.
async fn delivery_latency(engine: Engine, samples: usize) {
    let db = TestDb::new(engine).await;
    let bus = Bus::new(Arc::new(db.store.event_log()));
    bus.subscribe(
        "bench",
        &["*"],
        &[Capability::DatabaseRead],
        StartAt::Latest,
    )
    .await
    .expect("subscribe");
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let consumer = {
        let bus = bus.clone();
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(samples);
            while latencies.len() < samples {
                let got: Vec<Delivery> = bus.poll("bench", 100).await.expect("poll");
                let seen = Instant::now();
                if got.is_empty() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                {
                    let sent = sent.lock().unwrap();
                    for d in &got {
                        latencies.push(seen - sent[&d.event.event_id]);
                    }
                }
                bus.ack_batch(&got).await.expect("ack");
            }
            latencies
        })
    };
    for i in 0..samples {
        let e = event(i);
        sent.lock()
            .unwrap()
            .insert(e.event_id.clone(), Instant::now());
        bus.publish(&e).await.expect("publish");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut latencies = consumer.await.expect("consumer");
    latencies.sort();
    println!(
        "event_bus_latency/{}: {samples} events, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        engine.name(),
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies[latencies.len() - 1].as_secs_f64() * 1000.0,
    );
    db.cleanup().await;
}

/// Fills a log with `count` events, then replays them twice: raw range reads
/// (pages of 5 000) and a subscriber polling (up to 4 096 per poll) and
/// acknowledging each page.
async fn replay(engine: Engine, count: usize) {
    let db = TestDb::new(engine).await;
    let bus = Bus::new(Arc::new(db.store.event_log()));
    bus.subscribe(
        "replayer",
        &["database.*"],
        &[Capability::DatabaseRead],
        StartAt::Earliest,
    )
    .await
    .expect("subscribe");
    let started = Instant::now();
    let mut published = 0;
    while published < count {
        let n = (count - published).min(5000);
        bus.publish_batch(&batch(n)).await.expect("publish");
        published += n;
    }
    let fill = started.elapsed();

    let started = Instant::now();
    let mut read = 0;
    let mut from = 1;
    loop {
        let page = bus
            .replay(ReplayFrom::Seq(from), 5000)
            .await
            .expect("replay");
        let Some(last) = page.last() else { break };
        from = last.seq + 1;
        read += page.len();
    }
    let raw = started.elapsed();
    assert_eq!(read, count);

    let started = Instant::now();
    let mut delivered = 0;
    loop {
        let page = bus.poll("replayer", 4096).await.expect("poll");
        if page.is_empty() {
            break;
        }
        delivered += page.len();
        bus.ack_batch(&page).await.expect("ack");
    }
    let polled = started.elapsed();
    assert_eq!(delivered, count);
    println!(
        "event_bus_replay/{}: {count} events; filled in {:.1} s ({:.0} events/s, batches of 5 000); \
         raw replay {:.2} s ({:.0} events/s); subscriber poll+ack replay {:.2} s ({:.0} events/s)",
        engine.name(),
        fill.as_secs_f64(),
        count as f64 / fill.as_secs_f64(),
        raw.as_secs_f64(),
        count as f64 / raw.as_secs_f64(),
        polled.as_secs_f64(),
        count as f64 / polled.as_secs_f64(),
    );
    db.cleanup().await;
}

fn main() {
    let rt = runtime();
    let mut criterion = Criterion::default().configure_from_args();
    publish_throughput(&mut criterion, &rt);
    criterion.final_summary();

    let count = std::env::var("MAGFLOCK_BENCH_REPLAY_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    for engine in engines() {
        rt.block_on(delivery_latency(engine, 1000));
        rt.block_on(replay(engine, count));
    }
}
