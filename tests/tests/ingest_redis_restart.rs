//! Redis stopped and restarted while a subscriber is connected: ingestd keeps
//! the subscription open, reports Redis as down, and once Redis is back it
//! resumes reading (recreating the group) without a restart; no tick is lost.

mod ingest_common;

use std::time::Duration;

use ingest_common::*;
use shadowkpi_domain::feed::synthetic::{FeedEntry, SyntheticConfig, SyntheticFeed};
use shadowkpi_testkit::{RedisServer, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_while_subscribed_resumes_without_restarting_ingestd() {
    let mut redis = RedisServer::start();
    let store = store(&redis.url()).await;
    let entries: Vec<Vec<(String, String)>> = SyntheticFeed::new(SyntheticConfig {
        symbols: vec!["ETHUSDT".into()],
        duration_ms: 4_000,
        rate: 1_000.0,
        ..SyntheticConfig::default()
    })
    .unwrap()
    .map(|e| {
        assert!(matches!(e, FeedEntry::Tick(_)));
        e.fields()
    })
    .collect();
    let n = entries.len();
    let (first, second) = entries.split_at(n / 2);

    let cfg = ingestd::IngestConfig {
        block: Duration::from_millis(200),
        ..config("ingest-restart")
    };
    let (server, _shutdown) = start(store.clone(), cfg).await;
    let mut c = client(&server.url()).await;
    let mut sub = subscribe(&mut c, "survivor", &[]).await;

    for chunk in first.chunks(500) {
        store.append("lob:ticks", chunk, None).await.unwrap();
    }
    let mut got = Received::default();
    collect_until(&mut sub, &mut got, |r| r.ticks.len() == first.len()).await;
    wait_until(HANG, || {
        let p = pending(&redis, "lob:ticks", "shadow");
        async move { (p == 0).then_some(()) }
    })
    .await
    .expect("first half acknowledged");

    // Redis goes away (killed, nothing persisted) with the subscriber connected.
    redis.stop();
    wait_until(HANG, || {
        let mut c = c.clone();
        async move { Some(stats(&mut c).await).filter(|s| !s.redis_connected) }
    })
    .await
    .expect("ingestd notices redis is down");
    assert_eq!(stats(&mut c).await.subscribers, 1);

    // Back on the same port, empty: the second half of the feed arrives there.
    tokio::task::block_in_place(|| redis.restart());
    let mut rest = second.chunks(500);
    let mut next = rest.next();
    while let Some(chunk) = next {
        let ok = wait_until(HANG, || {
            let store = store.clone();
            async move { store.append("lob:ticks", chunk, None).await.ok() }
        })
        .await;
        assert!(ok.is_some(), "redis is back");
        next = rest.next();
    }

    // The same stream goes on: every tick once, in order, nothing counted.
    collect_until(&mut sub, &mut got, |r| r.ticks.len() == n).await;
    assert_ordered(&got.ticks);
    let seqs: Vec<u64> = got.ticks.iter().map(|t| t.seq).collect();
    assert_eq!(seqs, (1..=n as u64).collect::<Vec<_>>());
    let s = wait_until(HANG, || {
        let mut c = c.clone();
        async move { Some(stats(&mut c).await).filter(|s| s.redis_connected && s.lag == 0) }
    })
    .await
    .expect("ingestd reports redis up again");
    let totals = s.totals.unwrap_or_default();
    assert_eq!((totals.seq_gaps, totals.duplicates), (0, 0));
    assert_eq!(s.ticks_total, n as u64);
    assert_eq!(s.subscribers, 1);
    wait_until(HANG, || {
        let p = pending(&redis, "lob:ticks", "shadow");
        async move { (p == 0).then_some(()) }
    })
    .await
    .expect("second half acknowledged");
}
