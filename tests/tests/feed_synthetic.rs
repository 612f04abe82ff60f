//! `shadowctl feed synthetic`'s engine against real Redis: the same seed
//! writes the same entries, another seed does not, bad rates are refused with
//! the flag named, and `MAXLEN ~` caps the stream.

mod ingest_common;

use ingest_common::store;
use shadowkpi_domain::feed::decode::decode_pairs;
use shadowkpi_domain::feed::synthetic::{FaultRates, SyntheticConfig};
use shadowkpi_feed::{CancellationToken, PublishOptions, publish_synthetic};
use shadowkpi_testkit::RedisServer;

type Entries = Vec<(String, Vec<(String, String)>)>;

fn range(redis: &RedisServer, stream: &str) -> Entries {
    redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query(&mut redis.connection())
        .unwrap()
}

fn feed(seed: u64) -> SyntheticConfig {
    SyntheticConfig {
        symbols: vec!["BTCUSDT".into(), "ETHUSDT".into(), "SOLUSDT".into()],
        seed,
        duration_ms: 10_000,
        rate: 600.0,
        faults: FaultRates {
            gap: 0.01,
            duplicate: 0.01,
            reorder: 0.01,
            malformed: 0.01,
        },
        ..SyntheticConfig::default()
    }
}

fn opts(stream: &str) -> PublishOptions {
    PublishOptions {
        stream: stream.into(),
        maxlen: None,
        ..PublishOptions::default()
    }
}

#[tokio::test]
async fn the_same_seed_writes_the_same_entries_and_another_seed_does_not() {
    let redis = RedisServer::start();
    let store = store(&redis.url()).await;
    let mut reports = Vec::new();
    for (stream, seed) in [("a", 7), ("b", 7), ("c", 8)] {
        reports.push(
            publish_synthetic(&*store, feed(seed), &opts(stream), CancellationToken::new())
                .await
                .unwrap(),
        );
    }
    let fields = |s: &str| -> Vec<Vec<(String, String)>> {
        range(&redis, s).into_iter().map(|(_, f)| f).collect()
    };
    let (a, b, c) = (fields("a"), fields("b"), fields("c"));
    assert_eq!(a.len() as u64, reports[0].entries_written);
    assert!(a.len() > 5_000, "{}", a.len());
    assert_eq!(a, b, "same seed, same entries, field for field");
    assert_ne!(a, c);
    assert_eq!(reports[0].symbols, reports[1].symbols);
    assert_eq!(reports[0].rejected, reports[1].rejected);
    assert_ne!(reports[0].symbols, reports[2].symbols);

    // The entries read back as what the report says: good ticks per symbol,
    // malformed ones by reason.
    let mut good = std::collections::BTreeMap::<String, u64>::new();
    let mut bad = std::collections::BTreeMap::<String, u64>::new();
    for f in &a {
        match decode_pairs(f) {
            Ok(t) => *good.entry(t.symbol).or_default() += 1,
            Err(r) => *bad.entry(r.reason.as_str().to_string()).or_default() += 1,
        }
    }
    let r = &reports[0];
    for (sym, c) in &r.symbols {
        assert_eq!(good[sym], c.ticks + c.duplicates, "{sym}");
    }
    assert_eq!(bad, r.rejected);
    assert_eq!(r.first_ts_ms.map(|t| t >= 1_700_000_000_000), Some(true));
}

#[tokio::test]
async fn bad_rates_are_refused_naming_the_flag() {
    let redis = RedisServer::start();
    let store = store(&redis.url()).await;
    let mut cfg = feed(1);
    cfg.faults.reorder = 1.5;
    let err = publish_synthetic(&*store, cfg, &opts("x"), CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            shadowkpi_feed::FeedError::InvalidArgument {
                field: "reorder_rate",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("invalid `reorder_rate`"),
        "{err}"
    );
    let mut cfg = feed(1);
    cfg.rate = 0.0;
    assert!(matches!(
        publish_synthetic(&*store, cfg, &opts("x"), CancellationToken::new()).await,
        Err(shadowkpi_feed::FeedError::InvalidArgument { field: "rate", .. })
    ));
    assert_eq!(store.stream_len("x").await.unwrap(), 0, "nothing written");
}

#[tokio::test]
async fn maxlen_caps_the_stream_approximately() {
    let redis = RedisServer::start();
    let store = store(&redis.url()).await;
    let report = publish_synthetic(
        &*store,
        SyntheticConfig {
            duration_ms: 20_000,
            ..SyntheticConfig::default()
        },
        &PublishOptions {
            stream: "capped".into(),
            maxlen: Some(1_000),
            ..PublishOptions::default()
        },
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(report.entries_written > 15_000);
    let len = store.stream_len("capped").await.unwrap();
    assert!((1_000..2_000).contains(&len), "{len}");
    // The newest entries are the ones kept.
    let last = range(&redis, "capped").pop().unwrap();
    let t = decode_pairs(&last.1).unwrap();
    assert_eq!(Some(t.ts_server_ms), report.last_ts_ms);
}

#[tokio::test]
async fn a_cancelled_feed_stops_and_says_so() {
    let redis = RedisServer::start();
    let store = store(&redis.url()).await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let report = publish_synthetic(&*store, feed(7), &opts("stopped"), cancel)
        .await
        .unwrap();
    assert!(report.cancelled);
    assert_eq!(report.entries_written, 0);
    assert!(report.summary_line().starts_with("stopped after 0 entries"));
}
