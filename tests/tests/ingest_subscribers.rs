//! Subscriptions: symbol filters (any spelling), many subscribers at once each
//! getting every tick of its symbols, bad requests and overload, and what
//! happens to ticks still queued when the last subscriber leaves (they stay
//! pending in Redis and go to the next subscriber).

mod ingest_common;

use std::collections::BTreeSet;

use ingest_common::*;
use shadowkpi_domain::feed::synthetic::SyntheticConfig;
use shadowkpi_feed::{CancellationToken, PublishOptions, publish_synthetic};
use shadowkpi_proto::v1::SubscribeRequest;
use shadowkpi_runtime::status::{Reason, field_of};
use shadowkpi_testkit::{RedisServer, wait_until};

async fn publish(
    store: &dyn shadowkpi_store::Store,
    symbols: &[&str],
    ms: i64,
) -> shadowkpi_feed::FeedReport {
    publish_synthetic(
        store,
        SyntheticConfig {
            symbols: symbols.iter().map(|s| s.to_string()).collect(),
            duration_ms: ms,
            rate: 1_000.0,
            ..SyntheticConfig::default()
        },
        &PublishOptions::default(),
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_gets_every_tick_of_its_symbols() {
    let redis = RedisServer::start();
    let store = store(&redis.url()).await;
    let (server, _shutdown) = start(store.clone(), config("ingest-subs")).await;
    let mut c = client(&server.url()).await;
    let mut all = subscribe(&mut client(&server.url()).await, "all", &[]).await;
    let mut btc = subscribe(&mut client(&server.url()).await, "btc", &["btc-usdt"]).await;
    let mut eth = subscribe(
        &mut client(&server.url()).await,
        "eth",
        &["ETH_USDT", "eth/usdt"],
    )
    .await;
    assert_eq!(stats(&mut c).await.subscribers, 3);

    let report = publish(&*store, &["BTCUSDT", "ETHUSDT", "SOLUSDT"], 4_000).await;
    let n = |s: &str| report.symbols[s].ticks as usize;

    let mut got_all = Received::default();
    let mut got_btc = Received::default();
    let mut got_eth = Received::default();
    collect_until(&mut all, &mut got_all, |r| {
        r.ticks.len() as u64 == report.ticks
    })
    .await;
    collect_until(&mut btc, &mut got_btc, |r| r.ticks.len() == n("BTCUSDT")).await;
    collect_until(&mut eth, &mut got_eth, |r| r.ticks.len() == n("ETHUSDT")).await;

    let all_by = got_all.by_symbol();
    assert_eq!(all_by.len(), 3);
    for (sym, ticks) in &all_by {
        assert_eq!(ticks.len(), n(sym));
        assert_ordered(ticks);
    }
    assert_eq!(got_btc.by_symbol().keys().collect::<Vec<_>>(), ["BTCUSDT"]);
    assert_eq!(got_eth.by_symbol().keys().collect::<Vec<_>>(), ["ETHUSDT"]);
    assert_eq!(got_btc.ticks, all_by["BTCUSDT"]);
    assert_eq!(got_eth.ticks, all_by["ETHUSDT"]);

    let s = stats(&mut c).await;
    assert_eq!(s.ticks_total, report.ticks);
    assert_eq!(
        s.symbols
            .iter()
            .map(|s| s.symbol.as_str())
            .collect::<Vec<_>>(),
        ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    );
    wait_until(HANG, || {
        let p = pending(&redis, "lob:ticks", "shadow");
        async move { (p == 0).then_some(()) }
    })
    .await
    .expect("everything acknowledged once every subscriber took it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_filters_are_invalid_and_too_many_subscribers_are_refused() {
    let redis = RedisServer::start();
    let cfg = ingestd::IngestConfig {
        max_subscribers: 1,
        ..config("ingest-limits")
    };
    let (server, _shutdown) = start(store(&redis.url()).await, cfg).await;
    let mut c = client(&server.url()).await;

    let err = c
        .subscribe(SubscribeRequest {
            symbols: vec!["BTCUSDT".into(), "--/".into()],
            ..SubscribeRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("symbols"), "{}", err.message());
    assert_eq!(
        Reason::of_status(&err).map(Reason::as_str),
        Some("INVALID_ARGUMENT")
    );
    assert_eq!(field_of(&err).as_deref(), Some("symbols"));

    let _first = subscribe(&mut c, "first", &[]).await;
    let err = c.subscribe(SubscribeRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    assert_eq!(
        Reason::of_status(&err).map(Reason::as_str),
        Some("OVERLOADED")
    );
    assert_eq!(stats(&mut c).await.subscribers, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_queued_when_the_last_subscriber_leaves_go_to_the_next_one() {
    let redis = RedisServer::start();
    let store = store(&redis.url()).await;
    // A buffer that holds the whole feed, so nothing is dropped for the
    // subscriber that reads nothing.
    let cfg = ingestd::IngestConfig {
        subscriber_buffer: 20_000,
        ..config("ingest-handback")
    };
    let (server, _shutdown) = start(store.clone(), cfg).await;
    let mut c = client(&server.url()).await;

    // A subscriber that reads nothing, then leaves with its buffer full. The
    // feed is far larger than what its transport holds in flight (window and
    // socket buffers: a few thousand small ticks), so most of it stays queued.
    let gone = subscribe(&mut slow_client(&server.url()).await, "gone", &[]).await;
    let report = publish(&*store, &["BTCUSDT"], 10_000).await;
    let n = report.ticks;
    wait_until(HANG, || {
        let mut c = c.clone();
        async move { (stats(&mut c).await.entries_read == n).then_some(()) }
    })
    .await
    .expect("everything read into the buffer");
    drop(gone);
    // What it never took is not acknowledged: it stays pending.
    let left = wait_until(HANG, || {
        let mut c = c.clone();
        let p = pending(&redis, "lob:ticks", "shadow");
        async move {
            let s = stats(&mut c).await;
            (s.subscribers == 0 && s.acked_total + p == n).then_some(p)
        }
    })
    .await
    .expect("the subscription is gone");
    assert!(left > n / 2, "{left} of {n} ticks were queued");

    // The next subscriber gets exactly those, in order, counted as nothing.
    let mut next = subscribe(&mut c, "next", &[]).await;
    let mut got = Received::default();
    collect_until(&mut next, &mut got, |r| r.ticks.len() as u64 == left).await;
    assert_ordered(&got.ticks);
    let seqs: BTreeSet<u64> = got.ticks.iter().map(|t| t.seq).collect();
    assert_eq!(seqs, (n - left + 1..=n).collect());
    let s = wait_until(HANG, || {
        let mut c = c.clone();
        async move { Some(stats(&mut c).await).filter(|s| s.acked_total == n) }
    })
    .await
    .expect("all acknowledged");
    let t = s.totals.unwrap_or_default();
    assert_eq!((t.duplicates, t.seq_gaps, t.bp_drops), (0, 0, 0));
    assert_eq!(s.entries_read, n + left);
    assert_eq!(pending(&redis, "lob:ticks", "shadow"), 0);
}
