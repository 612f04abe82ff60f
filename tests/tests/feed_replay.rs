//! `shadowctl feed replay`'s engine against real Redis: JSON Lines and
//! Tardis-style CSV (quotes and trades merged by time) land in the stream as
//! ticks ingest decodes back to the same values; bad lines are skipped and
//! reported with their line; gzipped files replay like plain ones; and a
//! replayed file reaches a subscriber through ingestd.

mod ingest_common;

use std::io::Write;

use ingest_common::*;
use shadowkpi_domain::feed::decode::{decode_pairs, encode};
use shadowkpi_domain::feed::synthetic::{FeedEntry, SyntheticConfig, SyntheticFeed};
use shadowkpi_domain::tick::{Side, Tick};
use shadowkpi_feed::{
    CancellationToken, MergeClock, PublishOptions, ReplayFormat, ReplaySource, publish_replay,
};
use shadowkpi_testkit::RedisServer;

fn stream_ticks(redis: &RedisServer, stream: &str) -> Vec<Tick> {
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query(&mut redis.connection())
        .unwrap();
    entries
        .into_iter()
        .map(|(_, f)| decode_pairs(&f).unwrap())
        .collect()
}

fn opts(stream: &str) -> PublishOptions {
    PublishOptions {
        stream: stream.into(),
        maxlen: None,
        ..PublishOptions::default()
    }
}

fn synthetic(ms: i64) -> Vec<Tick> {
    SyntheticFeed::new(SyntheticConfig {
        duration_ms: ms,
        rate: 500.0,
        ..SyntheticConfig::default()
    })
    .unwrap()
    .filter_map(|e| match e {
        FeedEntry::Tick(t) => Some(t),
        _ => None,
    })
    .collect()
}

/// One JSON object per tick, numbers as JSON numbers.
fn jsonl_line(t: &Tick) -> String {
    let mut m = serde_json::Map::new();
    for (k, v) in encode(t) {
        let value = match k.as_str() {
            "symbol" | "side" => serde_json::Value::String(v),
            _ => serde_json::from_str(&v).unwrap(),
        };
        m.insert(k, value);
    }
    serde_json::Value::Object(m).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_replays_into_the_stream_and_reaches_a_subscriber() {
    let redis = RedisServer::start();
    let store = store(&redis.url()).await;
    let ticks = synthetic(4_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ticks.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    for (i, t) in ticks.iter().enumerate() {
        writeln!(f, "{}", jsonl_line(t)).unwrap();
        if i == 10 {
            // Line 12: a crossed book, which ingest would reject.
            writeln!(
                f,
                r#"{{"symbol":"BTCUSDT","seq":1,"ts_server":1,"bid":2,"ask":1,"last_qty":0}}"#
            )
            .unwrap();
        }
    }
    drop(f);

    let report = publish_replay(
        &*store,
        vec![ReplaySource::open(&path).unwrap()],
        ReplayFormat::Auto,
        MergeClock::Local,
        &[],
        &opts("lob:ticks"),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(report.ticks, ticks.len() as u64);
    assert_eq!(report.entries_written, ticks.len() as u64);
    assert_eq!(report.skipped, 1);
    assert!(
        report.errors[0].contains("ticks.jsonl:12:"),
        "{:?}",
        report.errors
    );
    assert!(
        report.errors[0].contains("crossed_book"),
        "{:?}",
        report.errors
    );
    assert_eq!(stream_ticks(&redis, "lob:ticks"), ticks);

    // Through ingestd to a subscriber, in order.
    let (server, _shutdown) = start(store.clone(), config("ingest-replay")).await;
    let mut c = client(&server.url()).await;
    let mut sub = subscribe(&mut c, "replay", &[]).await;
    let mut got = Received::default();
    collect_until(&mut sub, &mut got, |r| r.ticks.len() == ticks.len()).await;
    for (sym, got) in got.by_symbol() {
        assert_ordered(&got);
        let want: Vec<u64> = ticks
            .iter()
            .filter(|t| t.symbol == sym)
            .map(|t| t.seq)
            .collect();
        assert_eq!(got.iter().map(|t| t.seq).collect::<Vec<_>>(), want);
    }
}

const QUOTES: &str =
    "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount
bybit,BTCUSDT,1700000000000000,1700000000000500,1.5,60000.2,60000.1,2.5
bybit,ETHUSDT,1700000000001000,1700000000001500,10,3000.02,3000.01,20
bybit,BTCUSDT,1700000000004000,1700000000004500,1.0,60000.3,60000.2,2.0
bybit,BTCUSDT,1700000000005000,1700000000005500,,60000.3,60000.2,2.0
";
const TRADES: &str = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount
bybit,BTCUSDT,1700000000000000,1700000000000700,t1,buy,60000.2,0.1
bybit,ETHUSDT,1700000000002500,1700000000002600,t2,sell,3000.01,0.3
bybit,BTCUSDT,1700000000003000,1700000000003100,t3,sell,60000.1,0.25
";

#[tokio::test]
async fn tardis_quotes_and_trades_merge_by_time_into_the_stream() {
    let redis = RedisServer::start();
    let store = store(&redis.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("bybit_quotes_2023-11-14_BTCUSDT.csv");
    let t = dir.path().join("bybit_trades_2023-11-14_BTCUSDT.csv");
    std::fs::write(&q, QUOTES).unwrap();
    std::fs::write(&t, TRADES).unwrap();

    // Trades given first: the merge is by time, not by argument order.
    let report = publish_replay(
        &*store,
        vec![
            ReplaySource::open(&t).unwrap(),
            ReplaySource::open(&q).unwrap(),
        ],
        ReplayFormat::Auto,
        MergeClock::Exchange,
        &[],
        &opts("lob:ticks"),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(report.entries_written, 6);
    assert_eq!(report.skipped, 1, "the quote without ask_amount");
    assert!(
        report.errors[0].contains("ask_amount"),
        "{:?}",
        report.errors
    );

    let got: Vec<(String, u64, i64, f64, f64, f64, Side)> = stream_ticks(&redis, "lob:ticks")
        .into_iter()
        .map(|t| {
            (
                t.symbol,
                t.seq,
                t.ts_server_ms - 1_700_000_000_000,
                t.bid,
                t.ask,
                t.last_qty,
                t.side,
            )
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        got,
        vec![
            // A trade and a quote at the same µs: the trade file was given first.
            (s("BTCUSDT"), 1, 0, 60000.2, 60000.2, 0.1, Side::Buy),
            (s("BTCUSDT"), 2, 0, 60000.1, 60000.2, 0.0, Side::Unspecified),
            (s("ETHUSDT"), 1, 1, 3000.01, 3000.02, 0.0, Side::Unspecified),
            (s("ETHUSDT"), 2, 2, 3000.01, 3000.02, 0.3, Side::Sell),
            (s("BTCUSDT"), 3, 3, 60000.1, 60000.2, 0.25, Side::Sell),
            (s("BTCUSDT"), 4, 4, 60000.2, 60000.3, 0.0, Side::Unspecified),
        ]
    );
    // On the exchange clock each entry carries its arrival time as `ts_recv`
    // (floored to ms): 0.5–0.7 ms after the exchange's here.
    let recv: Vec<Option<i64>> = stream_ticks(&redis, "lob:ticks")
        .into_iter()
        .map(|t| t.ts_recv_ms.map(|r| r - 1_700_000_000_000))
        .collect();
    assert_eq!(
        recv,
        vec![Some(0), Some(0), Some(1), Some(2), Some(3), Some(4)]
    );

    // By arrival time (the default clock), each tick stamped with it.
    let local = publish_replay(
        &*store,
        vec![
            ReplaySource::open(&t).unwrap(),
            ReplaySource::open(&q).unwrap(),
        ],
        ReplayFormat::Auto,
        MergeClock::Local,
        &[],
        &opts("by-arrival"),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(local.entries_written, 6);
    let got: Vec<(String, u64, i64, f64)> = stream_ticks(&redis, "by-arrival")
        .into_iter()
        .map(|t| {
            (
                t.symbol,
                t.seq,
                t.ts_server_ms - 1_700_000_000_000,
                t.last_qty,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            // 500 µs then 700 µs: the quote arrived first, both in ms 0
            (s("BTCUSDT"), 1, 0, 0.0),
            (s("BTCUSDT"), 2, 0, 0.1),
            (s("ETHUSDT"), 1, 1, 0.0),
            (s("ETHUSDT"), 2, 2, 0.3),
            (s("BTCUSDT"), 3, 3, 0.25),
            (s("BTCUSDT"), 4, 4, 0.0),
        ]
    );
    // Stamped with the arrival time, the entries carry no separate one.
    assert!(
        stream_ticks(&redis, "by-arrival")
            .iter()
            .all(|t| t.ts_recv_ms.is_none())
    );
    // A file without arrival times cannot be merged by them.
    let old = dir.path().join("old_quotes.csv");
    std::fs::write(
        &old,
        "symbol,timestamp,ask_amount,ask_price,bid_price,bid_amount\nBTCUSDT,1000,1,2,1,1\n",
    )
    .unwrap();
    let err = publish_replay(
        &*store,
        vec![ReplaySource::open(&old).unwrap()],
        ReplayFormat::Auto,
        MergeClock::Local,
        &[],
        &opts("old"),
        CancellationToken::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("old_quotes.csv:1: CSV header has no `local_timestamp` column"),
        "{err}"
    );

    // Only some symbols, and JSON Lines and CSV cannot be mixed.
    let only = publish_replay(
        &*store,
        vec![ReplaySource::open(&q).unwrap()],
        ReplayFormat::Tardis,
        MergeClock::Local,
        &["eth-usdt".to_string()],
        &opts("eth-only"),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(only.ticks, 1);
    assert_eq!(only.symbols.keys().collect::<Vec<_>>(), ["ETHUSDT"]);
    let mixed = publish_replay(
        &*store,
        vec![
            ReplaySource::open(&q).unwrap(),
            ReplaySource::from_reader("ticks", "{\"symbol\":\"X\"}\n".as_bytes()),
        ],
        ReplayFormat::Auto,
        MergeClock::Local,
        &[],
        &opts("mixed"),
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(mixed.to_string().contains("cannot mix"), "{mixed}");
}

fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn gzipped_tardis_files_replay_like_the_plain_ones() {
    let redis = RedisServer::start();
    let store = store(&redis.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let replay = async |files: Vec<std::path::PathBuf>, stream: &str| {
        publish_replay(
            &*store,
            files
                .iter()
                .map(|f| ReplaySource::open(f).unwrap())
                .collect(),
            ReplayFormat::Auto,
            MergeClock::Local,
            &[],
            &opts(stream),
            CancellationToken::new(),
        )
        .await
    };
    let (q, t) = (dir.path().join("q.csv"), dir.path().join("t.csv"));
    std::fs::write(&q, QUOTES).unwrap();
    std::fs::write(&t, TRADES).unwrap();
    let plain = replay(vec![t, q], "plain").await.unwrap();

    // As Tardis ships them (`.csv.gz`); the trades as two concatenated gzip
    // members (`cat a.gz b.gz`), the quotes under a name without `.gz`.
    let (qz, tz) = (dir.path().join("q.data"), dir.path().join("t.csv.gz"));
    std::fs::write(&qz, gzip(QUOTES)).unwrap();
    let (head, tail) = TRADES.split_at(TRADES.find("bybit,ETHUSDT").unwrap());
    std::fs::write(&tz, [gzip(head), gzip(tail)].concat()).unwrap();
    let packed = replay(vec![tz, qz], "packed").await.unwrap();

    assert_eq!(packed.entries_written, 6);
    assert_eq!(packed.entries_written, plain.entries_written);
    assert_eq!(packed.skipped, plain.skipped);
    assert_eq!(
        stream_ticks(&redis, "packed"),
        stream_ticks(&redis, "plain")
    );

    // A damaged archive is an error naming the file, not an empty replay.
    let bad = dir.path().join("broken.csv.gz");
    let mut bytes = gzip(QUOTES);
    bytes.truncate(bytes.len() / 2);
    bytes[12] ^= 0xff;
    std::fs::write(&bad, bytes).unwrap();
    let err = replay(vec![bad], "broken").await.unwrap_err().to_string();
    assert!(err.contains("broken.csv.gz"), "{err}");
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Replays the Tardis pair (a 2023 recording) with `speed`, reads it back
/// through ingestd, and runs the engine on what a subscriber got; returns the
/// ticks, the windows' drift and the wall time from before the publish to
/// after the last tick arrived.
async fn replay_through_ingest(
    speed: Option<f64>,
) -> (Vec<shadowkpi_proto::v1::Tick>, Vec<Option<f64>>, i64) {
    let redis = RedisServer::start();
    let store = store(&redis.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let (q, t) = (dir.path().join("q.csv"), dir.path().join("t.csv"));
    std::fs::write(&q, QUOTES).unwrap();
    std::fs::write(&t, TRADES).unwrap();
    let before = wall_ms();
    let report = publish_replay(
        &*store,
        vec![
            ReplaySource::open(&q).unwrap(),
            ReplaySource::open(&t).unwrap(),
        ],
        ReplayFormat::Auto,
        MergeClock::Local,
        &[],
        &PublishOptions {
            speed,
            ..opts("lob:ticks")
        },
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(report.ticks, 6);
    let (server, _shutdown) = start(store.clone(), config("drift")).await;
    let mut c = client(&server.url()).await;
    let mut sub = subscribe(&mut c, "drift", &[]).await;
    let mut got = Received::default();
    collect_until(&mut sub, &mut got, |r| r.ticks.len() == 6).await;
    let elapsed = wall_ms() - before;
    let ticks: Vec<Tick> = got.ticks.iter().map(Tick::from).collect();
    let drift = shadowkpi_domain::engine::ShadowEngine::run(
        shadowkpi_domain::engine::EngineConfig::new(60_000),
        &ticks,
    )
    .unwrap()
    .iter()
    .flat_map(|w| w.symbols.values().map(|s| s.kpis.clock_drift_ms))
    .collect();
    (got.ticks, drift, elapsed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_replay_measures_drift_against_its_own_schedule() {
    let (ticks, drift, elapsed) = replay_through_ingest(Some(1.0)).await;
    // Wall clock minus the recording's time would be years; against the
    // replay's schedule it is how late ingest read each entry: at least 0
    // (one ms for rounding) and at most the time the whole test took.
    for t in &ticks {
        let d = t.ts_ingest_ms - t.ts_server_ms;
        assert!(
            (-1..=elapsed).contains(&d),
            "drift {d} ms, run took {elapsed} ms"
        );
    }
    assert!(wall_ms() - ticks[0].ts_server_ms > 365 * 86_400_000);
    assert_eq!(drift.len(), 2, "BTCUSDT and ETHUSDT in one window");
    for d in drift {
        let d = d.expect("a paced replay has a drift");
        assert!((-1.0..=elapsed as f64).contains(&d), "clock_drift_ms {d}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaced_replay_has_no_drift() {
    let (ticks, drift, _) = replay_through_ingest(None).await;
    assert!(ticks.iter().all(|t| t.ts_ingest_ms == 0), "{ticks:?}");
    assert_eq!(drift, vec![None, None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_entry_without_ts_wall_is_stamped_with_the_read_time() {
    let redis = RedisServer::start();
    let store = store(&redis.url()).await;
    let before = wall_ms();
    let tick = Tick {
        symbol: "BTCUSDT".into(),
        seq: 1,
        ts_server_ms: before - 25,
        bid: 100.0,
        ask: 100.5,
        ..Tick::default()
    };
    store
        .append("lob:ticks", &[encode(&tick)], None)
        .await
        .unwrap();
    let (server, _shutdown) = start(store.clone(), config("live")).await;
    let mut c = client(&server.url()).await;
    let mut sub = subscribe(&mut c, "live", &[]).await;
    let mut got = Received::default();
    collect_until(&mut sub, &mut got, |r| r.ticks.len() == 1).await;
    let after = wall_ms();
    let t = &got.ticks[0];
    assert!(
        (before..=after).contains(&t.ts_ingest_ms),
        "read at {} outside [{before}, {after}]",
        t.ts_ingest_ms
    );
    assert!(t.ts_ingest_ms - t.ts_server_ms >= 25);
}
