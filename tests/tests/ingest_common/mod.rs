//! Helpers shared by the ingest and feed tests: a real Redis store, a real
//! ingestd on `127.0.0.1:0`, a real tonic client, and collecting a tick stream.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ingestd::IngestConfig;
use shadowkpi_proto::v1::ingest_service_client::IngestServiceClient;
use shadowkpi_proto::v1::{
    GetStatsRequest, GetStatsResponse, IngestCounters, SubscribeRequest, SubscribeResponse, Tick,
};
use shadowkpi_runtime::{ServingHandle, Shutdown};
use shadowkpi_store::{RedisStore, Store, StoreOptions};
use tonic::Streaming;
use tonic::transport::Channel;

/// Hang guard of every wait in these tests (never a timing assertion).
pub const HANG: Duration = Duration::from_secs(60);

/// A store on the test Redis.
pub async fn store(url: &str) -> Arc<dyn Store> {
    Arc::new(
        RedisStore::connect(url, StoreOptions::default())
            .await
            .expect("test redis answers"),
    )
}

/// The ingest configuration of a test: `lob:ticks`, group `shadow`, the given
/// consumer.
pub fn config(consumer: &str) -> IngestConfig {
    IngestConfig {
        consumer: consumer.to_string(),
        lag_interval: Duration::from_millis(50),
        ..IngestConfig::default()
    }
}

/// Starts ingestd in-process.
pub async fn start(store: Arc<dyn Store>, cfg: IngestConfig) -> (ServingHandle, Shutdown) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = Shutdown::new();
    let handle = ingestd::spawn_with_config(store, cfg, listener, shutdown.clone()).unwrap();
    (handle, shutdown)
}

/// A client of `url`.
pub async fn client(url: &str) -> IngestServiceClient<Channel> {
    IngestServiceClient::new(
        Channel::from_shared(url.to_string())
            .unwrap()
            .connect()
            .await
            .unwrap(),
    )
}

/// A client whose HTTP/2 windows are small (64 KiB), so a subscriber that
/// stops reading stops the server within a few batches instead of absorbing
/// megabytes into its receive buffer. Use it for that subscriber only: once
/// the connection window is full, no other call on it gets an answer.
pub async fn slow_client(url: &str) -> IngestServiceClient<Channel> {
    let ch = Channel::from_shared(url.to_string())
        .unwrap()
        .initial_stream_window_size(Some(65_535))
        .initial_connection_window_size(Some(65_535))
        .connect()
        .await
        .unwrap();
    IngestServiceClient::new(ch)
}

/// Subscribes to `symbols` (empty: all).
pub async fn subscribe(
    c: &mut IngestServiceClient<Channel>,
    name: &str,
    symbols: &[&str],
) -> Streaming<SubscribeResponse> {
    c.subscribe(SubscribeRequest {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        subscriber: name.to_string(),
        max_batch: 0,
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
}

/// `GetStats` (with a hang guard).
pub async fn stats(c: &mut IngestServiceClient<Channel>) -> GetStatsResponse {
    tokio::time::timeout(HANG, c.get_stats(GetStatsRequest {}))
        .await
        .expect("hang guard: GetStats")
        .unwrap()
        .into_inner()
}

/// What a subscriber received.
#[derive(Debug, Default, Clone)]
pub struct Received {
    pub ticks: Vec<Tick>,
    pub counters: BTreeMap<String, IngestCounters>,
    pub batches: usize,
}

impl Received {
    pub fn add(&mut self, r: SubscribeResponse) {
        self.batches += 1;
        self.ticks.extend(r.ticks);
        for (k, c) in r.counters {
            let e = self.counters.entry(k).or_default();
            e.seq_gaps += c.seq_gaps;
            e.reordered += c.reordered;
            e.bp_drops += c.bp_drops;
            e.duplicates += c.duplicates;
            e.rejected += c.rejected;
        }
    }

    pub fn by_symbol(&self) -> BTreeMap<String, Vec<Tick>> {
        let mut m: BTreeMap<String, Vec<Tick>> = BTreeMap::new();
        for t in &self.ticks {
            m.entry(t.symbol.clone()).or_default().push(t.clone());
        }
        m
    }

    pub fn drops(&self) -> u64 {
        self.counters.values().map(|c| c.bp_drops).sum()
    }
}

/// Reads the stream until `done` holds; panics after [`HANG`].
pub async fn collect_until(
    stream: &mut Streaming<SubscribeResponse>,
    into: &mut Received,
    done: impl Fn(&Received) -> bool,
) {
    let deadline = tokio::time::Instant::now() + HANG;
    while !done(into) {
        let next = tokio::time::timeout_at(deadline, stream.message())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "hang guard: {} ticks after {} batches, counters {:?}",
                    into.ticks.len(),
                    into.batches,
                    into.counters
                )
            });
        match next {
            Ok(Some(r)) => into.add(r),
            Ok(None) => panic!("the tick stream ended"),
            Err(s) => panic!("the tick stream failed: {s}"),
        }
    }
}

/// Per-symbol ticks are in `ts_server` order with strictly increasing `seq`.
pub fn assert_ordered(ticks: &[Tick]) {
    for w in ticks.windows(2) {
        assert!(
            (w[0].ts_server_ms, w[0].seq) < (w[1].ts_server_ms, w[1].seq),
            "out of order: {:?} then {:?}",
            (w[0].ts_server_ms, w[0].seq),
            (w[1].ts_server_ms, w[1].seq)
        );
    }
}

/// Group-wide pending entries (`XPENDING` summary).
pub fn pending(redis: &shadowkpi_testkit::RedisServer, stream: &str, group: &str) -> u64 {
    let v: redis::Value = redis::cmd("XPENDING")
        .arg(stream)
        .arg(group)
        .query(&mut redis.connection())
        .unwrap();
    match v {
        redis::Value::Array(a) => match a.first() {
            Some(redis::Value::Int(n)) => *n as u64,
            _ => 0,
        },
        _ => 0,
    }
}
