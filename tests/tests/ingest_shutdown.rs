//! Shutdown: ingestd's background tasks are awaited by the host, so once
//! `stop` returns the acker's last round has reached Redis and nothing the
//! subscriber received is left pending in the consumer group.

mod ingest_common;
mod store_hooks;

use std::sync::Arc;
use std::time::Duration;

use ingest_common::*;
use shadowkpi_domain::feed::synthetic::{SyntheticConfig, SyntheticFeed};
use shadowkpi_store::Store;
use shadowkpi_testkit::RedisServer;
use store_hooks::{Hooked, Hooks};

/// How long every `XACK` takes: far longer than stopping the gRPC server, so
/// an acknowledgement round that is still running when `stop` returns is
/// seen as entries left pending.
const SLOW_ACK: Duration = Duration::from_millis(500);

/// Slow acknowledgements (a loaded Redis, a long round trip).
#[derive(Debug)]
struct SlowAcks;

#[async_trait::async_trait]
impl Hooks for SlowAcks {
    async fn before_ack(&self) {
        tokio::time::sleep(SLOW_ACK).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_delivered_right_before_shutdown_are_acknowledged_when_stop_returns() {
    let redis = RedisServer::start();
    let slow = Arc::new(Hooked {
        inner: store(&redis.url()).await,
        hooks: SlowAcks,
    });
    let cfg = config("ingest-shutdown");
    let (stream, group) = (cfg.stream.clone(), cfg.group.clone());
    let (server, _shutdown) = start(slow.clone(), cfg).await;
    let mut sub = subscribe(&mut client(&server.url()).await, "last", &[]).await;

    let entries: Vec<Vec<(String, String)>> = SyntheticFeed::new(SyntheticConfig {
        symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
        duration_ms: 2_000,
        ..SyntheticConfig::default()
    })
    .unwrap()
    .map(|e| e.fields())
    .collect();
    let n = entries.len();
    assert!(n > 1_000, "a feed of {n} entries");
    let ids = slow.append(&stream, &entries, None).await.unwrap();
    assert_eq!(ids.len(), n);

    let mut got = Received::default();
    collect_until(&mut sub, &mut got, |r| r.ticks.len() == n).await;
    // Delivered, the last acknowledgements still on their way: stop at once.
    tokio::time::timeout(HANG, server.stop())
        .await
        .expect("hang guard: stop")
        .unwrap();

    assert_eq!(got.ticks.len(), n);
    assert_eq!(got.drops(), 0);
    assert_eq!(
        pending(&redis, &stream, &group),
        0,
        "every delivered tick is acknowledged once stop returned"
    );
}
