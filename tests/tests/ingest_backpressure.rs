//! A slow subscriber beside a fast one: the slow one's buffer stays bounded,
//! its oldest ticks are dropped and counted (received + dropped = sent), and
//! the fast one gets every tick with no drop.

mod ingest_common;

use ingest_common::*;
use shadowkpi_domain::feed::synthetic::SyntheticConfig;
use shadowkpi_feed::{CancellationToken, PublishOptions, publish_synthetic};
use shadowkpi_testkit::{RedisServer, wait_until};

fn metric(name: &str) -> Option<f64> {
    shadowkpi_runtime::metrics::render()
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_drops_its_oldest_ticks_and_never_slows_the_fast_one() {
    const BUFFER: usize = 500;
    let redis = RedisServer::start();
    let store = store(&redis.url()).await;
    let cfg = ingestd::IngestConfig {
        subscriber_buffer: BUFFER,
        max_batch: 100,
        ..config("ingest-bp")
    };
    let (server, _shutdown) = start(store.clone(), cfg).await;
    let mut c = client(&server.url()).await;

    // The slow subscriber never reads (until the end); its connection has small
    // HTTP/2 windows so the transport holds little.
    let mut slow = subscribe(&mut slow_client(&server.url()).await, "slow", &[]).await;
    let mut fast = subscribe(&mut client(&server.url()).await, "fast", &[]).await;
    wait_until(HANG, || {
        let mut c = c.clone();
        async move { (stats(&mut c).await.subscribers == 2).then_some(()) }
    })
    .await
    .expect("both subscribed");

    let report = publish_synthetic(
        &*store,
        SyntheticConfig {
            symbols: vec!["BTCUSDT".into()],
            duration_ms: 20_000,
            rate: 1_000.0,
            ..SyntheticConfig::default()
        },
        &PublishOptions::default(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let sent = report.ticks;
    assert!(sent > 19_000, "{sent}");

    let mut got_fast = Received::default();
    collect_until(&mut fast, &mut got_fast, |r| r.ticks.len() as u64 == sent).await;
    assert_ordered(&got_fast.ticks);
    assert_eq!(got_fast.drops(), 0, "the fast subscriber lost nothing");

    // Meanwhile the slow one holds exactly a full buffer, and no more.
    wait_until(HANG, || async {
        (metric("shadow_ingest_queued_ticks") == Some(BUFFER as f64)).then_some(())
    })
    .await
    .expect("the slow buffer is full and bounded");
    let st = stats(&mut c).await;
    let dropped = st.symbols[0].counters.unwrap_or_default().bp_drops;
    assert!(dropped > 0 && dropped < sent);

    // The slow subscriber finally reads: what it gets plus what it was told
    // was dropped is everything, in order.
    let mut got_slow = Received::default();
    collect_until(&mut slow, &mut got_slow, |r| {
        r.ticks.len() as u64 + r.drops() == sent
    })
    .await;
    assert_ordered(&got_slow.ticks);
    assert_eq!(got_slow.drops(), dropped);
    // Drop-oldest: the newest full buffer is all there.
    let tail: Vec<u64> = got_slow.ticks[got_slow.ticks.len() - BUFFER..]
        .iter()
        .map(|t| t.seq)
        .collect();
    assert_eq!(tail, (sent - BUFFER as u64 + 1..=sent).collect::<Vec<_>>());
    assert_eq!(
        metric("shadow_backpressure_drops_total{symbol=\"BTCUSDT\"}"),
        Some(dropped as f64)
    );

    // A subscriber that goes away frees its resources at once.
    drop(slow);
    drop(fast);
    wait_until(HANG, || {
        let mut c = c.clone();
        async move { (stats(&mut c).await.subscribers == 0).then_some(()) }
    })
    .await
    .expect("subscriptions closed");
    wait_until(HANG, || async {
        (metric("shadow_ingest_queued_ticks") == Some(0.0)).then_some(())
    })
    .await
    .expect("no buffer left");
    wait_until(HANG, || {
        let p = pending(&redis, "lob:ticks", "shadow");
        async move { (p == 0).then_some(()) }
    })
    .await
    .expect("delivered and dropped ticks are acknowledged");
}
