//! Injected gaps, duplicates, swaps and malformed entries through real Redis,
//! a real ingestd and a real gRPC subscriber: the counts are exactly the ones
//! injected, every good tick arrives exactly once and in order, every bad
//! entry is in the dead-letter stream with its reason, and everything is
//! acknowledged.

mod ingest_common;

use std::collections::BTreeMap;

use ingest_common::*;
use shadowkpi_domain::feed::decode::RejectReason;
use shadowkpi_domain::feed::synthetic::{FaultRates, FeedEntry, SyntheticConfig, SyntheticFeed};
use shadowkpi_feed::{CancellationToken, PublishOptions, publish_synthetic};
use shadowkpi_proto::v1::Tick;
use shadowkpi_testkit::{RedisServer, wait_until};

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_are_counted_exactly_and_every_good_tick_arrives_once_in_order() {
    let redis = RedisServer::start();
    let store = store(&redis.url()).await;
    let feed = SyntheticConfig {
        symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
        seed: 42,
        duration_ms: 30_000,
        rate: 1_000.0,
        faults: FaultRates {
            gap: 0.01,
            duplicate: 0.01,
            reorder: 0.02,
            malformed: 0.01,
        },
        ..SyntheticConfig::default()
    };
    let report = publish_synthetic(
        &*store,
        feed.clone(),
        &PublishOptions {
            maxlen: None,
            ..PublishOptions::default()
        },
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let expected: BTreeMap<String, _> = report.symbols.clone();
    let malformed: u64 = report.rejected.values().sum();
    for (sym, c) in &expected {
        assert!(
            c.seq_gaps > 50 && c.duplicates > 50 && c.reordered > 100 && c.rejected > 30,
            "{sym}: {c:?}"
        );
    }

    // The ticks the subscriber must see: the good entries, per symbol, in order.
    let mut want: BTreeMap<String, Vec<Tick>> = BTreeMap::new();
    for e in SyntheticFeed::new(feed).unwrap() {
        if let FeedEntry::Tick(t) = e {
            want.entry(t.symbol.clone()).or_default().push((&t).into());
        }
    }
    for ticks in want.values_mut() {
        ticks.sort_by_key(|t| (t.ts_server_ms, t.seq));
    }

    let (server, _shutdown) = start(store.clone(), config("ingest-faults")).await;
    let mut c = client(&server.url()).await;

    // Nobody is subscribed: the backlog waits in Redis, unread.
    let lag = wait_until(HANG, || {
        let mut c = c.clone();
        async move {
            Some(stats(&mut c).await)
                .filter(|s| s.lag > 0)
                .map(|s| s.lag)
        }
    })
    .await
    .expect("lag reported");
    assert_eq!(lag, report.entries_written);
    assert_eq!(stats(&mut c).await.entries_read, 0);
    assert_eq!(pending(&redis, "lob:ticks", "shadow"), 0);

    let mut stream = subscribe(&mut c, "faults", &[]).await;
    let mut got = Received::default();
    let total = |r: &Received, f: fn(&shadowkpi_proto::v1::IngestCounters) -> u64| -> u64 {
        r.counters.values().map(f).sum()
    };
    let want_dups: u64 = expected.values().map(|c| c.duplicates).sum();
    let want_rejected: u64 = expected.values().map(|c| c.rejected).sum();
    collect_until(&mut stream, &mut got, |r| {
        r.ticks.len() as u64 == report.ticks
            && total(r, |c| c.duplicates) == want_dups
            && total(r, |c| c.rejected) == want_rejected
    })
    .await;

    // Every good tick exactly once, in ts_server order. The feed was written
    // unpaced (`ts_wall` 0), so no ingest time is stamped: clock drift does
    // not apply to it.
    let by_symbol = got.by_symbol();
    assert_eq!(
        by_symbol.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (sym, ticks) in &by_symbol {
        assert_ordered(ticks);
        assert!(ticks.iter().all(|t| t.ts_ingest_ms == 0));
        let plain: Vec<Tick> = ticks
            .iter()
            .map(|t| Tick {
                ts_ingest_ms: 0,
                ts_recv_ms: None,
                ..t.clone()
            })
            .collect();
        assert_eq!(&plain, &want[sym], "{sym}");
    }

    // The counters the stream carried, per symbol, are the injected ones.
    for (sym, c) in &expected {
        let s = got.counters.get(sym).copied().unwrap_or_default();
        assert_eq!(
            (
                s.seq_gaps,
                s.reordered,
                s.duplicates,
                s.rejected,
                s.bp_drops
            ),
            (c.seq_gaps, c.reordered, c.duplicates, c.rejected, 0),
            "stream counters of {sym}"
        );
    }

    // GetStats says the same, and everything gets acknowledged.
    let st = wait_until(HANG, || {
        let mut c = c.clone();
        let entries = report.entries_written;
        async move { Some(stats(&mut c).await).filter(|s| s.acked_total == entries) }
    })
    .await
    .expect("every entry acknowledged");
    assert_eq!(st.entries_read, report.entries_written);
    assert_eq!(st.ticks_total, report.ticks);
    assert_eq!(st.rejected_total, malformed);
    assert_eq!(st.claimed_total, 0);
    assert!(st.redis_connected);
    for s in &st.symbols {
        let c = &expected[&s.symbol];
        let k = s.counters.unwrap_or_default();
        assert_eq!(s.ticks, c.ticks);
        assert_eq!(
            (
                k.seq_gaps,
                k.reordered,
                k.duplicates,
                k.rejected,
                k.bp_drops
            ),
            (c.seq_gaps, c.reordered, c.duplicates, c.rejected, 0),
            "GetStats of {}",
            s.symbol
        );
        assert_eq!(s.last_seq, want[&s.symbol].last().unwrap().seq);
    }
    assert_eq!(pending(&redis, "lob:ticks", "shadow"), 0);

    // Every malformed entry is in the dead-letter stream with its reason and
    // the id of the original.
    let dlq: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("lob:ticks:dlq")
        .arg("-")
        .arg("+")
        .query(&mut redis.connection())
        .unwrap();
    assert_eq!(dlq.len() as u64, malformed);
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for (_, fields) in &dlq {
        let get = |k: &str| {
            fields
                .iter()
                .rev()
                .find(|(f, _)| f == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let reason = get("reason");
        assert!(RejectReason::from_label(&reason).is_some(), "{reason}");
        assert!(!get("detail").is_empty());
        let source: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg("lob:ticks")
            .arg(get("source_id"))
            .arg(get("source_id"))
            .query(&mut redis.connection())
            .unwrap();
        assert_eq!(source.len(), 1, "the source entry exists");
        assert!(
            source[0].1.iter().all(|f| fields.contains(f)),
            "original fields are copied"
        );
        *reasons.entry(reason).or_default() += 1;
    }
    assert_eq!(reasons, report.rejected);

    // The same numbers on /metrics (the only ingestd of this test binary).
    let text = shadowkpi_runtime::metrics::render();
    for (sym, c) in &expected {
        let m = |name: &str| metric(&text, &format!("{name}{{symbol=\"{sym}\"}}"));
        assert_eq!(m("shadow_seq_gaps_total"), Some(c.seq_gaps as f64));
        assert_eq!(m("shadow_reordered_total"), Some(c.reordered as f64));
        assert_eq!(m("shadow_duplicates_total"), Some(c.duplicates as f64));
        assert_eq!(m("shadow_ingest_ticks_total"), Some(c.ticks as f64));
    }
    for (reason, n) in &report.rejected {
        assert_eq!(
            metric(
                &text,
                &format!("shadow_ingest_rejected_total{{reason=\"{reason}\"}}")
            ),
            Some(*n as f64)
        );
    }
}
