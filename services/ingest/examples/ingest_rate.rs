//! Measures ingest throughput on this machine:
//!
//! 1. **raw**: a consumer-group loop alone (`XREADGROUP COUNT n` + `XACK` of
//!    every batch) through the store, no decoding, no gRPC;
//! 2. **end to end**: a backlog of synthetic ticks in the stream, a real
//!    ingestd in this process, and a tonic subscriber on loopback, timed from
//!    the subscription to the last tick received.
//!
//! ```text
//! cargo run --release -p ingestd --example ingest_rate            # 200 000 ticks
//! cargo run --release -p ingestd --example ingest_rate -- 1000000
//! ```
//!
//! A private `redis-server` (from `PATH`) is started on a free port.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ingestd::IngestConfig;
use shadowkpi_domain::feed::synthetic::SyntheticConfig;
use shadowkpi_feed::{CancellationToken, PublishOptions, publish_synthetic};
use shadowkpi_proto::v1::SubscribeRequest;
use shadowkpi_proto::v1::ingest_service_client::IngestServiceClient;
use shadowkpi_runtime::Shutdown;
use shadowkpi_store::{RedisStore, Store, StoreOptions};
use shadowkpi_testkit::RedisServer;

const COUNT: usize = 1_000;

fn feed(ticks: u64) -> SyntheticConfig {
    // 2 symbols at 1 000 ticks/s of event time: `ticks` ticks in ticks ms.
    SyntheticConfig {
        duration_ms: ticks as i64,
        rate: 1_000.0,
        ..SyntheticConfig::default()
    }
}

async fn publish(store: &dyn Store, stream: &str, ticks: u64) -> u64 {
    let t = Instant::now();
    let r = publish_synthetic(
        store,
        feed(ticks),
        &PublishOptions {
            stream: stream.into(),
            maxlen: None,
            batch_size: 1_000,
            ..PublishOptions::default()
        },
        CancellationToken::new(),
    )
    .await
    .unwrap_or_else(|e| panic!("publish: {e}"));
    println!(
        "published {} entries to {stream} in {:.2} s ({:.0} entries/s, XADD pipelines of 1000)",
        r.entries_written,
        t.elapsed().as_secs_f64(),
        r.entries_written as f64 / t.elapsed().as_secs_f64()
    );
    r.entries_written
}

async fn raw(store: &dyn Store, n: u64) -> f64 {
    let stream = "bench:raw";
    store.create_group(stream, "raw").await.unwrap();
    let t = Instant::now();
    let mut read = 0u64;
    while read < n {
        let batch = store
            .read_group(
                stream,
                "raw",
                "raw-1",
                COUNT,
                Some(Duration::from_millis(100)),
                false,
            )
            .await
            .unwrap();
        let ids: Vec<String> = batch.into_iter().map(|e| e.id).collect();
        read += ids.len() as u64;
        store.ack(stream, "raw", &ids).await.unwrap();
    }
    read as f64 / t.elapsed().as_secs_f64()
}

async fn end_to_end(store: Arc<dyn Store>, n: u64) -> f64 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = Shutdown::new();
    let cfg = IngestConfig {
        consumer: "bench".into(),
        ..IngestConfig::default()
    };
    let handle = ingestd::spawn_with_config(store, cfg, listener, shutdown.clone()).unwrap();
    let mut client = IngestServiceClient::connect(handle.url()).await.unwrap();
    let t = Instant::now();
    let mut stream = client
        .subscribe(SubscribeRequest {
            subscriber: "bench".into(),
            ..SubscribeRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut got = 0u64;
    let mut batches = 0u64;
    while got < n {
        match stream.message().await {
            Ok(Some(r)) => {
                got += r.ticks.len() as u64;
                batches += 1;
            }
            other => panic!("stream ended early: {other:?}"),
        }
    }
    let rate = got as f64 / t.elapsed().as_secs_f64();
    println!(
        "  ({batches} batches, {:.0} ticks per batch)",
        got as f64 / batches as f64
    );
    drop(stream);
    let _ = handle.stop().await;
    rate
}

#[tokio::main]
async fn main() {
    let ticks: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let redis = RedisServer::start();
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::connect(&redis.url(), StoreOptions::default())
            .await
            .unwrap_or_else(|e| panic!("redis: {e}")),
    );
    println!(
        "redis-server on port {}, {} cores",
        redis.port(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let n = publish(&*store, "bench:raw", ticks).await;
    let raw_rate = raw(&*store, n).await;
    println!("raw XREADGROUP COUNT {COUNT} + XACK: {raw_rate:.0} entries/s");

    let n = publish(&*store, "lob:ticks", ticks).await;
    let e2e = end_to_end(store, n).await;
    println!(
        "end to end (Redis stream → ingestd decode, guards, fan-out → gRPC subscriber): {e2e:.0} ticks/s"
    );
}
