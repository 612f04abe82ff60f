//! exportd against a real Redis: the key schema of the contract in every mode,
//! symbol normalisation, values, TTLs, idempotency, dry runs and bad requests.

mod export_common;

use export_common::*;
use shadowkpi_domain::summary::IterSummary;
use shadowkpi_proto::v1::{Aggregation, ExportMode, ExportSummariesRequest};
use shadowkpi_runtime::status::{Reason, field_of};
use shadowkpi_testkit::RedisServer;

/// Three windows, three symbols spelled in several ways. SOL has no p95.
fn input() -> Vec<IterSummary> {
    vec![
        summary(
            "r1",
            1,
            &[
                ("btc-usdt", kpis(3.2, 0.85, Some(250.0), 0.3)),
                ("ETH_USDT", kpis(1.0, 0.9, Some(100.0), 0.25)),
            ],
        ),
        summary(
            "r1",
            2,
            &[
                ("BTCUSDT", kpis(1.0, 0.8, Some(300.0), 0.5)),
                ("eth/usdt", kpis(2.0, 0.9, None, 0.75)),
                ("sol/usdt", kpis(5.0, 0.5, None, 0.05)),
            ],
        ),
        summary("r1", 3, &[("BTC_USDT", kpis(4.0, 0.9, Some(200.0), 0.4))]),
    ]
}

async fn setup() -> (
    RedisServer,
    shadowkpi_runtime::ServingHandle,
    redis::Connection,
) {
    let server = RedisServer::start();
    let exportd = start_exportd(redis_store(&server.url()), exportd::ExportConfig::default()).await;
    let conn = server.connection();
    (server, exportd, conn)
}

fn dbsize(c: &mut redis::Connection) -> u64 {
    redis::cmd("DBSIZE").query(c).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hash_mode_writes_the_contract_keys_fields_values_and_ttls() {
    let (_server, exportd, mut c) = setup().await;
    let report = export(&exportd, options(), &input()).await.unwrap();
    assert_eq!(report.symbols, ["BTCUSDT", "ETHUSDT", "SOLUSDT"]);
    assert_eq!(report.summaries, 3);
    assert_eq!(report.keys_written, 6);
    assert_eq!(
        (
            report.batches,
            report.batches_succeeded,
            report.batches_failed
        ),
        (1, 1, 0)
    );
    assert!(report.failed_symbols.is_empty());
    assert_eq!(report.mode, ExportMode::Hash as i32);

    assert_eq!(
        scan(&mut c, "*"),
        [
            "dev:bybit:shadow:latest:BTCUSDT",
            "dev:bybit:shadow:latest:ETHUSDT",
            "dev:bybit:shadow:latest:SOLUSDT",
            "dev:bybit:shadow:meta:BTCUSDT",
            "dev:bybit:shadow:meta:ETHUSDT",
            "dev:bybit:shadow:meta:SOLUSDT",
        ]
    );
    // Medians over the windows; shortest round-trip decimals.
    assert_eq!(
        hgetall(&mut c, "dev:bybit:shadow:latest:BTCUSDT"),
        map(&[
            ("edge_bps", "3.2"),
            ("maker_taker_ratio", "0.85"),
            ("p95_latency_ms", "250"),
            ("risk_ratio", "0.4"),
        ])
    );
    assert_eq!(
        hgetall(&mut c, "dev:bybit:shadow:latest:ETHUSDT"),
        map(&[
            ("edge_bps", "1.5"),
            ("maker_taker_ratio", "0.9"),
            ("p95_latency_ms", "100"),
            ("risk_ratio", "0.5"),
        ])
    );
    // A KPI measured in no window is not written.
    assert_eq!(
        hgetall(&mut c, "dev:bybit:shadow:latest:SOLUSDT"),
        map(&[
            ("edge_bps", "5"),
            ("maker_taker_ratio", "0.5"),
            ("risk_ratio", "0.05"),
        ])
    );
    let params = serde_json::to_string(&params()).unwrap();
    let t = |ms: i64| (T0 + ms).to_string();
    assert_eq!(
        hgetall(&mut c, "dev:bybit:shadow:meta:BTCUSDT"),
        map(&[
            ("run_id", "r1"),
            ("windows", "3"),
            ("first_iteration", "1"),
            ("first_window_start_ms", &t(0)),
            ("first_window_end_ms", &t(60_000)),
            ("last_iteration", "3"),
            ("last_window_start_ms", &t(120_000)),
            ("last_window_end_ms", &t(180_000)),
            ("source", "synthetic"),
            ("profile", "default"),
            ("params", &params),
            ("model", "null"),
            ("aggregation", "median"),
            ("mode", "hash"),
            ("schema_version", "1.0"),
            ("strategy", r#"{"name":"builtin"}"#),
        ])
    );
    let sol = hgetall(&mut c, "dev:bybit:shadow:meta:SOLUSDT");
    assert_eq!(
        (
            sol["windows"].as_str(),
            sol["first_iteration"].as_str(),
            sol["last_iteration"].as_str()
        ),
        ("1", "2", "2")
    );
    for k in scan(&mut c, "*") {
        let ttl = ttl(&mut c, &k);
        assert!((3590..=3600).contains(&ttl), "{k} ttl {ttl}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flat_mode_writes_one_key_per_measured_kpi_with_the_ttl() {
    let (_server, exportd, mut c) = setup().await;
    let mut o = options();
    o.mode = ExportMode::Flat as i32;
    o.ttl_seconds = 600;
    let report = export(&exportd, o, &input()).await.unwrap();
    // 4 + 4 + 3 KPI keys and 3 meta hashes.
    assert_eq!(report.keys_written, 14);
    let keys = scan(&mut c, "dev:bybit:shadow:latest:*");
    assert_eq!(keys.len(), 11);
    let get = |c: &mut redis::Connection, k: &str| -> Option<String> {
        redis::cmd("GET").arg(k).query(c).unwrap()
    };
    for (kpi, v) in [
        ("edge_bps", "3.2"),
        ("maker_taker_ratio", "0.85"),
        ("p95_latency_ms", "250"),
        ("risk_ratio", "0.4"),
    ] {
        let key = format!("dev:bybit:shadow:latest:BTCUSDT:{kpi}");
        assert_eq!(get(&mut c, &key).as_deref(), Some(v), "{key}");
        assert_eq!(
            redis::cmd("TYPE")
                .arg(&key)
                .query::<String>(&mut c)
                .unwrap(),
            "string"
        );
    }
    assert_eq!(
        get(&mut c, "dev:bybit:shadow:latest:SOLUSDT:edge_bps").as_deref(),
        Some("5")
    );
    assert_eq!(
        get(&mut c, "dev:bybit:shadow:latest:SOLUSDT:p95_latency_ms"),
        None
    );
    assert_eq!(
        hgetall(&mut c, "dev:bybit:shadow:meta:SOLUSDT")["mode"],
        "flat"
    );
    for k in scan(&mut c, "*") {
        let ttl = ttl(&mut c, &k);
        assert!((590..=600).contains(&ttl), "{k} ttl {ttl}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_mode_adds_one_entry_per_window_with_window_ids() {
    let (_server, exportd, mut c) = setup().await;
    let mut o = options();
    o.mode = ExportMode::Stream as i32;
    o.stream_maxlen = 100;
    let report = export(&exportd, o, &input()).await.unwrap();
    assert_eq!(report.keys_written, 6);
    let entries: Vec<(String, std::collections::BTreeMap<String, String>)> = redis::cmd("XRANGE")
        .arg("dev:bybit:shadow:stream:BTCUSDT")
        .arg("-")
        .arg("+")
        .query(&mut c)
        .unwrap();
    let ids: Vec<&str> = entries.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        [
            format!("{T0}-0"),
            format!("{}-0", T0 + 60_000),
            format!("{}-0", T0 + 120_000)
        ]
    );
    assert_eq!(
        entries[0].1,
        map(&[
            ("edge_bps", "3.2"),
            ("maker_taker_ratio", "0.85"),
            ("p95_latency_ms", "250"),
            ("risk_ratio", "0.3"),
            ("run_id", "r1"),
            ("iteration", "1"),
            ("window_start_ms", &T0.to_string()),
            ("window_end_ms", &(T0 + 60_000).to_string()),
        ])
    );
    let eth_len: u64 = redis::cmd("XLEN")
        .arg("dev:bybit:shadow:stream:ETHUSDT")
        .query(&mut c)
        .unwrap();
    assert_eq!(eth_len, 2);
    assert_eq!(
        scan(&mut c, "dev:bybit:shadow:latest:*"),
        Vec::<String>::new()
    );
    let ttl = ttl(&mut c, "dev:bybit:shadow:stream:SOLUSDT");
    assert!((3590..=3600).contains(&ttl), "ttl {ttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporting_the_same_summaries_twice_leaves_redis_identical_in_every_mode() {
    let (_server, exportd, mut c) = setup().await;
    for mode in [ExportMode::Hash, ExportMode::Flat, ExportMode::Stream] {
        let mut o = options();
        o.mode = mode as i32;
        o.env = format!("idem{}", mode as i32);
        let pattern = format!("{}:*", o.env);
        export(&exportd, o.clone(), &input()).await.unwrap();
        let first = dump(&mut c, &pattern);
        assert!(first.len() >= 6, "{mode:?}: {} keys", first.len());
        let again = export(&exportd, o, &input()).await.unwrap();
        assert_eq!(again.batches_failed, 0);
        assert_eq!(dump(&mut c, &pattern), first, "{mode:?}");
    }
    let streams = scan(&mut c, "idem3:bybit:shadow:stream:*");
    let total: u64 = streams
        .iter()
        .map(|k| redis::cmd("XLEN").arg(k).query::<u64>(&mut c).unwrap())
        .sum();
    assert_eq!(total, 6, "3 BTC + 2 ETH + 1 SOL windows, not doubled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregation_and_kpi_selection_are_honoured() {
    let (_server, exportd, mut c) = setup().await;
    let mut o = options();
    o.aggregation = Aggregation::Last as i32;
    o.kpis = vec!["net_bps".into(), "p95_latency_ms".into()];
    export(&exportd, o, &input()).await.unwrap();
    assert_eq!(
        hgetall(&mut c, "dev:bybit:shadow:latest:BTCUSDT"),
        map(&[("edge_bps", "4"), ("p95_latency_ms", "200")])
    );
    // `last` is the latest window *with* the KPI: ETH's p95 comes from window 1.
    assert_eq!(
        hgetall(&mut c, "dev:bybit:shadow:latest:ETHUSDT"),
        map(&[("edge_bps", "2"), ("p95_latency_ms", "100")])
    );
    assert_eq!(
        hgetall(&mut c, "dev:bybit:shadow:meta:BTCUSDT")["aggregation"],
        "last"
    );

    let mut o = options();
    o.env = "mean".into();
    o.aggregation = Aggregation::Mean as i32;
    export(&exportd, o, &input()).await.unwrap();
    let btc = hgetall(&mut c, "mean:bybit:shadow:latest:BTCUSDT");
    assert_eq!(btc["p95_latency_ms"], "250");
    let mean = shadowkpi_domain::stats::mean(&[3.2, 1.0, 4.0]).unwrap();
    assert_eq!(btc["edge_bps"], mean.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kpi_no_longer_measured_is_removed_not_left_stale() {
    let (_server, exportd, mut c) = setup().await;
    let with = [summary(
        "r1",
        1,
        &[("BTCUSDT", kpis(3.2, 0.85, Some(250.0), 0.3))],
    )];
    let without = [summary("r2", 1, &[("BTCUSDT", kpis(3.0, 0.8, None, 0.2))])];
    export(&exportd, options(), &with).await.unwrap();
    export(&exportd, options(), &without).await.unwrap();
    assert_eq!(
        hgetall(&mut c, "dev:bybit:shadow:latest:BTCUSDT"),
        map(&[
            ("edge_bps", "3"),
            ("maker_taker_ratio", "0.8"),
            ("risk_ratio", "0.2")
        ])
    );
    let mut flat = options();
    flat.mode = ExportMode::Flat as i32;
    export(&exportd, flat.clone(), &with).await.unwrap();
    let key = "dev:bybit:shadow:latest:BTCUSDT:p95_latency_ms";
    assert_eq!(
        redis::cmd("EXISTS").arg(key).query::<u32>(&mut c).unwrap(),
        1
    );
    export(&exportd, flat, &without).await.unwrap();
    assert_eq!(
        redis::cmd("EXISTS").arg(key).query::<u32>(&mut c).unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_returns_the_exact_commands_and_writes_nothing() {
    let (_server, exportd, mut c) = setup().await;
    let mut o = options();
    o.dry_run = true;
    o.kpis = vec!["edge_bps".into(), "p95_latency_ms".into()];
    let input = [summary("r1", 1, &[("eth-usdt", kpis(2.5, 0.9, None, 0.1))])];
    let report = export(&exportd, o, &input).await.unwrap();
    assert!(report.dry_run);
    assert_eq!(dbsize(&mut c), 0);
    let params = serde_json::to_string(&params())
        .unwrap()
        .replace('"', "\\\"");
    assert_eq!(
        report.dry_run_commands,
        [
            "HSET dev:bybit:shadow:latest:ETHUSDT edge_bps 2.5".to_string(),
            "HDEL dev:bybit:shadow:latest:ETHUSDT p95_latency_ms".to_string(),
            "EXPIRE dev:bybit:shadow:latest:ETHUSDT 3600".to_string(),
            format!(
                "HSET dev:bybit:shadow:meta:ETHUSDT run_id r1 windows 1 first_iteration 1 first_window_start_ms {T0} first_window_end_ms {e} last_iteration 1 last_window_start_ms {T0} last_window_end_ms {e} source synthetic profile default params \"{params}\" model null aggregation median mode hash schema_version 1.0 strategy \"{{\\\"name\\\":\\\"builtin\\\"}}\"",
                e = T0 + 60_000
            ),
            "EXPIRE dev:bybit:shadow:meta:ETHUSDT 3600".to_string(),
        ]
    );
    assert_eq!(report.keys_written, 2);
    assert_eq!(report.batches, 1);
    assert_eq!(report.batches_succeeded, 0, "nothing ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_invalid_argument_naming_the_field_and_write_nothing() {
    let (_server, exportd, mut c) = setup().await;
    let one = [summary(
        "r1",
        1,
        &[("BTCUSDT", kpis(3.2, 0.85, Some(250.0), 0.3))],
    )];
    let invalid = |r: Result<_, tonic::Status>| {
        let s = r.unwrap_err();
        assert_eq!(s.code(), tonic::Code::InvalidArgument, "{s:?}");
        assert_eq!(
            Reason::of_status(&s).map(Reason::as_str),
            Some("INVALID_ARGUMENT"),
            "{s:?}"
        );
        // The field the message starts with is the one the details name.
        let field = field_of(&s).expect("the field is named");
        assert!(s.message().starts_with(&format!("{field}: ")), "{s:?}");
        s.message().to_string()
    };

    let mut m = messages(options(), &one);
    m.remove(0);
    assert_eq!(
        invalid(send(&exportd, m).await),
        "options: the first message must carry the options, got a summary"
    );
    assert!(invalid(send(&exportd, vec![]).await).starts_with("options: missing"));
    let mut m = messages(options(), &one);
    m.push(messages(options(), &[]).remove(0));
    assert_eq!(
        invalid(send(&exportd, m).await),
        "options: sent again in message 3: only the first message may carry options"
    );
    assert_eq!(
        invalid(send(&exportd, messages(options(), &[])).await),
        "summaries: none received after the options: nothing to export"
    );
    let mut o = options();
    o.batch_size = 20_000;
    assert_eq!(
        invalid(export(&exportd, o, &one).await),
        "options.batch_size: must be at most 10000, got 20000"
    );
    let mut o = options();
    o.env = "dev:eu".into();
    assert!(
        invalid(export(&exportd, o, &one).await).starts_with("options.env: `dev:eu` contains `:`")
    );

    let bad_ratio = summary("r1", 2, &[("BTCUSDT", kpis(3.2, 1.5, None, 0.3))]);
    assert_eq!(
        invalid(export(&exportd, options(), &[one[0].clone(), bad_ratio]).await),
        "summaries[1].symbols.BTCUSDT.summary.maker_taker_ratio: must be between 0 and 1, got 1.5"
    );
    let twice = summary(
        "r1",
        1,
        &[
            ("BTC-USDT", kpis(3.2, 0.85, None, 0.3)),
            ("btcusdt", kpis(3.2, 0.85, None, 0.3)),
        ],
    );
    assert!(
        invalid(export(&exportd, options(), &[twice]).await)
            .starts_with("summaries[0].symbols.btcusdt: same symbol as `BTC-USDT`")
    );
    let empty = ExportSummariesRequest { payload: None };
    let mut m = messages(options(), &one);
    m.push(empty);
    assert_eq!(
        invalid(send(&exportd, m).await),
        "summaries[1]: empty message (neither options nor a summary)"
    );
    assert_eq!(dbsize(&mut c), 0);
}
