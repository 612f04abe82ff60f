//! A consumer killed with entries pending: a second ingestd (another consumer
//! name, short autoclaim idle time) claims exactly those entries and delivers
//! them, so no entry is left behind.

mod ingest_common;

use std::collections::BTreeSet;
use std::time::Duration;

use ingest_common::*;
use shadowkpi_domain::feed::synthetic::SyntheticConfig;
use shadowkpi_feed::{CancellationToken, PublishOptions, publish_synthetic};
use shadowkpi_testkit::{RedisServer, wait_until};

/// Ids pending for `consumer` (`XPENDING stream group - + n consumer`).
fn pending_ids(redis: &RedisServer, consumer: &str) -> Vec<String> {
    let rows: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
        .arg("lob:ticks")
        .arg("shadow")
        .arg("-")
        .arg("+")
        .arg(1_000_000)
        .arg(consumer)
        .query(&mut redis.connection())
        .unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

/// The `seq` of each stream entry id.
fn seq_of(redis: &RedisServer, ids: &[String]) -> BTreeSet<u64> {
    let all: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("lob:ticks")
        .arg("-")
        .arg("+")
        .query(&mut redis.connection())
        .unwrap();
    let wanted: BTreeSet<&String> = ids.iter().collect();
    all.iter()
        .filter(|(id, _)| wanted.contains(id))
        .map(|(_, f)| {
            f.iter()
                .find(|(k, _)| k == "seq")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_consumers_pending_entries_are_claimed_and_delivered_by_another_ingestd() {
    let redis = RedisServer::start();
    let url = redis.url();
    let main_store = store(&url).await;
    let report = publish_synthetic(
        &*main_store,
        SyntheticConfig {
            symbols: vec!["BTCUSDT".into()],
            // Far more ticks than the transport holds in flight for a reader
            // that stopped (its window and buffers), so most stay pending.
            duration_ms: 6_000,
            rate: 1_000.0,
            ..SyntheticConfig::default()
        },
        &PublishOptions::default(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let n = report.ticks;
    assert!(n > 5_000, "{n}");

    // ingestd A runs on its own runtime, so it can be killed outright: its
    // tasks are dropped mid-flight and nothing more is acknowledged.
    let rt_a = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let url_a = url.clone();
    rt_a.spawn(async move {
        let cfg = ingestd::IngestConfig {
            subscriber_buffer: 100_000,
            ..config("ingest-a")
        };
        let (handle, shutdown) = start(store(&url_a).await, cfg).await;
        let _ = tx.send(handle.url());
        // Keep the server alive until the runtime dies.
        shutdown.triggered().await;
    });
    let a_url = rx.await.unwrap();
    // The subscriber on a connection of its own: its unread data fills that
    // connection's flow-control window, which must not block GetStats.
    let a = client(&a_url).await;
    let mut sub_a = subscribe(&mut slow_client(&a_url).await, "slow-a", &[]).await;
    let mut got_a = Received::default();
    collect_until(&mut sub_a, &mut got_a, |r| r.ticks.len() >= 500).await;
    // A has read the whole stream into its subscriber buffer, and Redis agrees
    // with A about what it acknowledged: nothing is on its way.
    wait_until(HANG, || {
        let mut a = a.clone();
        let pending_a = pending_ids(&redis, "ingest-a").len() as u64;
        async move {
            let s = stats(&mut a).await;
            (s.entries_read == n && s.acked_total + pending_a == n).then_some(())
        }
    })
    .await
    .expect("ingest-a read everything");

    // Kill A with its subscriber still connected.
    tokio::task::spawn_blocking(move || rt_a.shutdown_timeout(Duration::from_secs(5)))
        .await
        .unwrap();
    drop(sub_a);
    let left = pending_ids(&redis, "ingest-a");
    assert!(
        left.len() > 1_000,
        "A died with {} entries pending",
        left.len()
    );
    let left_seqs = seq_of(&redis, &left);
    let left_n = left.len() as u64;

    // ingestd B, another consumer, claims them.
    let cfg = ingestd::IngestConfig {
        autoclaim_idle: Duration::from_millis(200),
        autoclaim_interval: Duration::from_millis(100),
        ..config("ingest-b")
    };
    let (server_b, _sb) = start(main_store.clone(), cfg).await;
    let mut b = client(&server_b.url()).await;
    let mut sub_b = subscribe(&mut b, "b", &[]).await;
    let mut got_b = Received::default();
    collect_until(&mut sub_b, &mut got_b, |r| r.ticks.len() == left.len()).await;

    assert_ordered(&got_b.ticks);
    let b_seqs: BTreeSet<u64> = got_b.ticks.iter().map(|t| t.seq).collect();
    assert_eq!(b_seqs, left_seqs, "B delivers exactly what A left pending");
    let sb = wait_until(HANG, || {
        let mut b = b.clone();
        async move { Some(stats(&mut b).await).filter(|s| s.acked_total == left_n) }
    })
    .await
    .expect("B acknowledged the claimed entries");
    assert_eq!(sb.claimed_total, left_n);
    assert_eq!(sb.entries_read, left_n);
    assert_eq!(sb.totals.unwrap_or_default().duplicates, 0);
    assert_eq!(pending(&redis, "lob:ticks", "shadow"), 0);

    // Nothing is lost in Redis terms: every entry was acknowledged by A after
    // it left A, or claimed and delivered by B.
    let acked_by_a = n - left_n;
    assert_eq!(acked_by_a + sb.acked_total, n);
    assert_ordered(&got_a.ticks);
}
