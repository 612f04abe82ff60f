//! `shadowctl export`, the real binary, against a real Redis: the keys it
//! writes, the lines it prints, dry runs, bad input, legacy files, and what
//! happens when Redis is down (WARNING, preview, exit 3, recovery without
//! restarting exportd). Also the exit codes of `export`, `validate` and
//! `pipeline` against real services whose Redis is down or refuses the
//! password: decided by the status's code and reason, never its message.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use shadowkpi_domain::kpi::KpiSet;
use shadowkpi_domain::params::StrategyParams;
use shadowkpi_domain::summary::{IterSummary, SymbolSummary, Window};
use shadowkpi_runtime::{ServingHandle, Shutdown};
use shadowkpi_store::{RedisStore, Store, StoreOptions};
use shadowkpi_testkit::{RedisConfig, RedisServer, wait_until};

const T0: i64 = 1_705_276_800_000;

fn kpis(edge: f64, p95: Option<f64>) -> KpiSet {
    KpiSet {
        edge_bps: Some(edge),
        maker_taker_ratio: Some(0.85),
        p95_latency_ms: p95,
        risk_ratio: Some(0.3),
        ..KpiSet::default()
    }
}

fn summary(iteration: u32, symbols: &[(&str, KpiSet)]) -> IterSummary {
    let start = T0 + i64::from(iteration - 1) * 60_000;
    IterSummary {
        schema_version: "1.0".into(),
        run_id: "run-1".into(),
        iteration,
        window: Window {
            start_ms: start,
            end_ms: start + 60_000,
        },
        source: "synthetic".into(),
        profile: "default".into(),
        symbols: symbols
            .iter()
            .map(|(s, k)| {
                (
                    s.to_string(),
                    SymbolSummary {
                        summary: k.clone(),
                        ..SymbolSummary::default()
                    },
                )
            })
            .collect(),
        params: Some(StrategyParams {
            touch_dwell_ms: 50.0,
            min_lot: 0.01,
            quote_offset_bps: 1.0,
            inventory_limit: 1.0,
            requote_threshold_bps: 0.5,
            maker_fee_bps: -0.5,
            taker_fee_bps: 5.5,
            markout_ms: 1000.0,
        }),
        ..IterSummary::default()
    }
}

/// `<tmp>/soak/run-1/ITER_SUMMARY_NNN.json` and `<tmp>/soak/latest` → `run-1`.
fn soak_folder(tmp: &Path, files: &[(String, String)]) -> PathBuf {
    let run = tmp.join("soak").join("run-1");
    std::fs::create_dir_all(&run).unwrap();
    for (name, text) in files {
        std::fs::write(run.join(name), text).unwrap();
    }
    let latest = tmp.join("soak").join("latest");
    std::os::unix::fs::symlink("run-1", &latest).unwrap();
    latest
}

fn iter_files(summaries: &[IterSummary]) -> Vec<(String, String)> {
    summaries
        .iter()
        .map(|s| {
            (
                format!("ITER_SUMMARY_{:03}.json", s.iteration),
                serde_json::to_string_pretty(s).unwrap(),
            )
        })
        .collect()
}

/// Three windows of BTC and ETH (ETH without p95 in window 2).
fn three_windows() -> Vec<IterSummary> {
    vec![
        summary(
            1,
            &[
                ("BTC-USDT", kpis(3.2, Some(250.0))),
                ("ETHUSDT", kpis(1.0, Some(100.0))),
            ],
        ),
        summary(
            2,
            &[
                ("BTCUSDT", kpis(1.0, Some(300.0))),
                ("eth/usdt", kpis(2.0, None)),
            ],
        ),
        summary(3, &[("btc_usdt", kpis(4.0, Some(200.0)))]),
    ]
}

async fn shadowctl(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_shadowctl"));
    cmd.args(args)
        .env_remove("REDIS_URL")
        .env_remove("SHADOWKPI_INGEST_ADDR")
        .env_remove("SHADOWKPI_SHADOW_ADDR")
        .env_remove("SHADOWKPI_EXPORT_ADDR")
        .env_remove("SHADOWKPI_DRYRUN_ADDR")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("shadowctl hung")
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

async fn store(server: &RedisServer) -> RedisStore {
    RedisStore::connect(&server.url(), StoreOptions::default())
        .await
        .unwrap()
}

fn fields(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_the_contract_keys_and_prints_the_established_lines() {
    let server = RedisServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = soak_folder(tmp.path(), &iter_files(&three_windows()));
    let src = src.to_str().unwrap();
    let out = shadowctl(
        &[
            "export",
            "--src",
            src,
            "--redis-url",
            &server.url(),
            "--env",
            "dev",
            "--exchange",
            "bybit",
            "--show-metrics",
        ],
        &[],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("[INFO] src={src} files=3 redis={}", server.url())),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].ends_with(
            "env=dev exchange=bybit mode=hash ttl=3600 batch_size=50 aggregation=median"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("[PIPELINE] batch=1 symbols=2 keys=4 success=2 fail=0 duration_ms="),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with(
            "[SUCCESS] exported symbols=2 keys=4 batches=1 failed=0 mode=hash duration_ms="
        ),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3], "[METRICS] this export:");
    for m in [
        "  redis_export_success_total 2",
        "  redis_export_fail_total 0",
        "  redis_export_batches_total 1",
        "  redis_export_keys_written_total 4",
        "  redis_export_batches_failed_total 0",
        "  redis_export_mode{type=\"hash\"} 1",
    ] {
        assert!(lines.contains(&m), "{m} missing in\n{text}");
    }

    let s = store(&server).await;
    assert_eq!(
        s.scan("*").await.unwrap(),
        [
            "dev:bybit:shadow:latest:BTCUSDT",
            "dev:bybit:shadow:latest:ETHUSDT",
            "dev:bybit:shadow:meta:BTCUSDT",
            "dev:bybit:shadow:meta:ETHUSDT",
        ]
    );
    assert_eq!(
        s.hgetall("dev:bybit:shadow:latest:BTCUSDT").await.unwrap(),
        fields(&[
            ("edge_bps", "3.2"),
            ("maker_taker_ratio", "0.85"),
            ("p95_latency_ms", "250"),
            ("risk_ratio", "0.3"),
        ])
    );
    assert_eq!(
        s.hgetall("dev:bybit:shadow:latest:ETHUSDT").await.unwrap()["p95_latency_ms"],
        "100"
    );
    let meta = s.hgetall("dev:bybit:shadow:meta:BTCUSDT").await.unwrap();
    assert_eq!(
        (meta["windows"].as_str(), meta["run_id"].as_str()),
        ("3", "run-1")
    );
    let pttl = s
        .pttl("dev:bybit:shadow:latest:BTCUSDT")
        .await
        .unwrap()
        .unwrap();
    assert!((3_590_000..=3_600_000).contains(&pttl), "{pttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_size_splits_symbols_into_pipelines_and_json_reports_them() {
    let server = RedisServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let syms: Vec<(String, KpiSet)> = (0..5)
        .map(|i| (format!("SYM{i}"), kpis(f64::from(i), Some(10.0))))
        .collect();
    let refs: Vec<(&str, KpiSet)> = syms.iter().map(|(s, k)| (s.as_str(), k.clone())).collect();
    let src = soak_folder(tmp.path(), &iter_files(&[summary(1, &refs)]));
    let src = src.to_str().unwrap();
    let out = shadowctl(
        &[
            "export",
            "--src",
            src,
            "--batch-size",
            "2",
            "--flat-keys",
            "--ttl",
            "600",
        ],
        &[("REDIS_URL", &server.url())],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pipeline: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| l.starts_with("[PIPELINE]"))
        .map(|l| l.split(" duration_ms=").next().unwrap().to_string())
        .collect();
    assert_eq!(
        pipeline,
        [
            "[PIPELINE] batch=1 symbols=2 keys=10 success=2 fail=0",
            "[PIPELINE] batch=2 symbols=2 keys=10 success=2 fail=0",
            "[PIPELINE] batch=3 symbols=1 keys=5 success=1 fail=0",
        ]
    );
    let s = store(&server).await;
    assert_eq!(
        s.get("dev:bybit:shadow:latest:SYM3:edge_bps")
            .await
            .unwrap()
            .as_deref(),
        Some("3")
    );
    let pttl = s
        .pttl("dev:bybit:shadow:latest:SYM3:edge_bps")
        .await
        .unwrap()
        .unwrap();
    assert!((590_000..=600_000).contains(&pttl), "{pttl}");

    let out = shadowctl(
        &["export", "--src", src, "--batch-size", "4", "--json"],
        &[("REDIS_URL", &server.url())],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["mode"], "hash");
    assert_eq!(v["batches"], 2);
    assert_eq!(v["keys_written"], 10);
    assert_eq!(v["symbols"].as_array().unwrap().len(), 5);
    assert_eq!(
        v["batch_reports"][1]["symbols"],
        serde_json::json!(["SYM4"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_every_command_and_writes_nothing() {
    let server = RedisServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = soak_folder(
        tmp.path(),
        &iter_files(&[summary(1, &[("BTC-USDT", kpis(3.2, Some(250.0)))])]),
    );
    let out = shadowctl(
        &[
            "export",
            "--src",
            src.to_str().unwrap(),
            "--redis-url",
            &server.url(),
            "--flat-keys",
            "--dry-run",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let commands: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("[DRY-RUN] "))
        .collect();
    assert_eq!(commands.len(), 6);
    assert_eq!(
        commands[..4],
        [
            "SET dev:bybit:shadow:latest:BTCUSDT:edge_bps 3.2 EX 3600",
            "SET dev:bybit:shadow:latest:BTCUSDT:maker_taker_ratio 0.85 EX 3600",
            "SET dev:bybit:shadow:latest:BTCUSDT:p95_latency_ms 250 EX 3600",
            "SET dev:bybit:shadow:latest:BTCUSDT:risk_ratio 0.3 EX 3600",
        ]
    );
    assert!(commands[4].starts_with("HSET dev:bybit:shadow:meta:BTCUSDT run_id run-1 windows 1 "));
    assert_eq!(commands[5], "EXPIRE dev:bybit:shadow:meta:BTCUSDT 3600");
    assert!(
        text.contains("[SUCCESS] dry run: symbols=1 keys=5 batches=1 commands=6 (nothing written)")
    );
    assert_eq!(
        store(&server).await.scan("*").await.unwrap(),
        Vec::<String>::new()
    );
}

async fn exportd_with_short_cooldown(url: &str) -> ServingHandle {
    let store: Arc<dyn Store> = Arc::new(RedisStore::open(url, StoreOptions::default()).unwrap());
    let config = exportd::ExportConfig {
        breaker: exportd::BreakerConfig {
            threshold: 3,
            cooldown: Duration::from_millis(200),
        },
        ..exportd::ExportConfig::default()
    };
    exportd::spawn_local(store, config, Shutdown::new())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_prints_a_warning_and_the_preview_exits_3_and_the_next_export_succeeds() {
    let mut server = RedisServer::start_with(RedisConfig::acl_user("exporter", "cli-s3cret"));
    let exportd = exportd_with_short_cooldown(&server.url()).await;
    let tmp = tempfile::tempdir().unwrap();
    let src = soak_folder(tmp.path(), &iter_files(&three_windows()));
    let before: Vec<Vec<u8>> = (1..=3)
        .map(|i| {
            std::fs::read(
                tmp.path()
                    .join(format!("soak/run-1/ITER_SUMMARY_00{i}.json")),
            )
            .unwrap()
        })
        .collect();
    let args = ["export", "--src", src.to_str().unwrap()];
    let env = [("SHADOWKPI_EXPORT_ADDR", exportd.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    server.stop();
    let out = shadowctl(&args, &env).await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let (text, err) = (stdout(&out), stderr(&out));
    let warning = err
        .lines()
        .find(|l| l.starts_with("WARNING: Redis unreachable"))
        .unwrap_or_else(|| panic!("no WARNING in\n{err}"));
    assert!(
        warning.contains(&format!("redis://exporter:***@127.0.0.1:{}", server.port())),
        "{warning}"
    );
    assert!(!err.contains("cli-s3cret") && !text.contains("cli-s3cret"));
    assert!(!text.contains("[SUCCESS]"), "nothing claimed:\n{text}");
    assert!(text.contains(
        "[PREVIEW] HSET dev:bybit:shadow:latest:BTCUSDT edge_bps 3.2 maker_taker_ratio 0.85 p95_latency_ms 250 risk_ratio 0.3"
    ), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("[PREVIEW] ")).count(),
        9,
        "{text}"
    );
    let after: Vec<Vec<u8>> = (1..=3)
        .map(|i| {
            std::fs::read(
                tmp.path()
                    .join(format!("soak/run-1/ITER_SUMMARY_00{i}.json")),
            )
            .unwrap()
        })
        .collect();
    assert_eq!(before, after, "artifacts untouched");

    // Redis back: the same exportd (not restarted) takes the next export.
    server.restart();
    let ok = wait_until(Duration::from_secs(30), || async {
        let out = shadowctl(&args, &env).await;
        (out.status.code() == Some(0)).then_some(out)
    })
    .await
    .expect("export succeeds once Redis is back");
    assert!(stdout(&ok).contains("[SUCCESS] exported symbols=2 keys=4"));
    let s = store(&server).await;
    assert_eq!(
        s.hgetall("dev:bybit:shadow:latest:BTCUSDT").await.unwrap()["edge_bps"],
        "3.2"
    );
    exportd.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_exportd_with_unreachable_redis_exits_3_with_the_preview() {
    let port = shadowkpi_testkit::free_port();
    let tmp = tempfile::tempdir().unwrap();
    let src = soak_folder(tmp.path(), &iter_files(&three_windows()));
    let url = format!("redis://127.0.0.1:{port}");
    let out = shadowctl(
        &[
            "export",
            "--src",
            src.to_str().unwrap(),
            "--redis-url",
            &url,
            "--json",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("WARNING: Redis unreachable at {url}")));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "store_unreachable");
    // 2 symbols × (HSET + EXPIRE of latest and of meta); ETH's p95 comes from
    // window 1 alone, so nothing is HDEL'd.
    assert_eq!(v["preview"].as_array().unwrap().len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_an_error_naming_the_file_and_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files = iter_files(&three_windows()[..1]);
    files.push((
        "ITER_SUMMARY_002.json".into(),
        files[0]
            .1
            .replace("\"edge_bps\": 3.2", "\"edge_bps\": \"3.2\""),
    ));
    let src = soak_folder(tmp.path(), &files);
    let out = shadowctl(
        &[
            "export",
            "--src",
            src.to_str().unwrap(),
            "--redis-url",
            "redis://127.0.0.1:1",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let bad = src.join("ITER_SUMMARY_002.json");
    assert_eq!(
        stderr(&out).trim(),
        format!(
            "error: {}: symbols.BTC-USDT.summary.edge_bps: expected a number, got a string",
            bad.display()
        )
    );

    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = shadowctl(&["export", "--src", empty.to_str().unwrap()], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no ITER_SUMMARY_*.json files in this folder"),
        "{}",
        stderr(&out)
    );

    let missing = tmp.path().join("nope");
    let out = shadowctl(&["export", "--src", missing.to_str().unwrap()], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("run `shadowctl soak` first"));

    let out = shadowctl(&["export", "--flat-keys", "--stream"], &[]).await;
    assert_eq!(out.status.code(), Some(2), "mutually exclusive modes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_single_symbol_files_are_exported() {
    let server = RedisServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let files = vec![
        (
            "ITER_SUMMARY_001.json".to_string(),
            r#"{"symbol": "BTC-USDT", "summary": {"net_bps": 3.25, "maker_taker_ratio": 0.875, "p95_latency_ms": 250, "risk_ratio": 0.25}}"#.to_string(),
        ),
        (
            "ITER_SUMMARY_002.json".to_string(),
            r#"{"symbol": "btc/usdt", "edge_bps": 3.75, "maker_taker_ratio": 0.625, "p95_latency_ms": 150, "risk_ratio": 0.75}"#.to_string(),
        ),
    ];
    let src = soak_folder(tmp.path(), &files);
    let out = shadowctl(
        &[
            "export",
            "--src",
            src.to_str().unwrap(),
            "--redis-url",
            &server.url(),
            "--stream",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = store(&server).await;
    let entries = s
        .stream_range("dev:bybit:shadow:stream:BTCUSDT", "-", "+", None)
        .await
        .unwrap();
    let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["0-1", "0-2"], "ids from the file order");
    assert_eq!(entries[0].get("edge_bps"), Some("3.25"));
    assert_eq!(entries[1].get("p95_latency_ms"), Some("150"));
    let meta = s.hgetall("dev:bybit:shadow:meta:BTCUSDT").await.unwrap();
    assert_eq!(
        (
            meta["windows"].as_str(),
            meta["source"].as_str(),
            meta["mode"].as_str()
        ),
        ("2", "legacy", "stream")
    );

    let out = shadowctl(
        &[
            "export",
            "--src",
            src.to_str().unwrap(),
            "--redis-url",
            &server.url(),
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        s.hgetall("dev:bybit:shadow:latest:BTCUSDT").await.unwrap(),
        fields(&[
            ("edge_bps", "3.5"),
            ("maker_taker_ratio", "0.75"),
            ("p95_latency_ms", "200"),
            ("risk_ratio", "0.5"),
        ])
    );
}

/// Exit 3 with the hint to start Redis.
fn assert_store_unusable(out: &Output) {
    assert_eq!(out.status.code(), Some(3), "{}", stderr(out));
    assert!(stderr(out).contains("hint: start Redis"), "{}", stderr(out));
}

/// A dryrund on a loopback port over the Redis at `url` (connected lazily),
/// with an ingestd address where nothing listens.
async fn dryrund_over(url: &str) -> ServingHandle {
    let store: Arc<dyn Store> = Arc::new(RedisStore::open(url, StoreOptions::default()).unwrap());
    let nothing = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ingest_addr = format!("http://{}", nothing.local_addr().unwrap());
    drop(nothing);
    dryrund::spawn(
        dryrund::DryRunConfig { ingest_addr },
        store,
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        Shutdown::new(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_exits_3_when_dryrunds_redis_is_down_or_refuses_the_password_and_2_on_a_bad_argument()
 {
    let mut server = RedisServer::start_with(RedisConfig::acl_user("grader", "val-s3cret"));
    let tmp = tempfile::tempdir().unwrap();
    let artifacts = tmp.path().join("artifacts");
    let args = [
        "validate",
        "--symbols",
        "BTCUSDT",
        "--artifacts",
        artifacts.to_str().unwrap(),
    ];

    // A wrong password: STORE_AUTH (FAILED_PRECONDITION), the store unusable.
    let wrong = dryrund_over(&server.url().replace("val-s3cret", "wrong-s3cret")).await;
    let wrong_url = wrong.url();
    let env = [("SHADOWKPI_DRYRUN_ADDR", wrong_url.as_str())];
    let out = shadowctl(&args, &env).await;
    assert_store_unusable(&out);
    assert!(!stderr(&out).contains("s3cret"), "{}", stderr(&out));

    // An unknown model set: INVALID_ARGUMENT from dryrund, a usage error.
    let dryrun = dryrund_over(&server.url()).await;
    let dryrun_url = dryrun.url();
    let env = [("SHADOWKPI_DRYRUN_ADDR", dryrun_url.as_str())];
    let mut bad = args.to_vec();
    bad.extend(["--model", "no_such_set"]);
    let out = shadowctl(&bad, &env).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no_such_set"), "{}", stderr(&out));

    // Redis down: STORE_UNREACHABLE (UNAVAILABLE).
    server.stop();
    let out = shadowctl(&args, &env).await;
    assert_store_unusable(&out);
    assert!(
        !artifacts.join("dryrun").join("latest").exists(),
        "no report"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_exits_3_when_exportds_redis_refuses_the_password_with_the_preview() {
    let server = RedisServer::start_with(RedisConfig::acl_user("exporter", "exp-s3cret"));
    let exportd = exportd_with_short_cooldown(&server.url().replace("exp-s3cret", "nope")).await;
    let tmp = tempfile::tempdir().unwrap();
    let src = soak_folder(tmp.path(), &iter_files(&three_windows()));
    let exportd_url = exportd.url();
    let env = [("SHADOWKPI_EXPORT_ADDR", exportd_url.as_str())];
    let out = shadowctl(&["export", "--src", src.to_str().unwrap(), "--json"], &env).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "store_unreachable");
    assert_eq!(v["preview"].as_array().unwrap().len(), 8);
    assert!(!stderr(&out).contains("exp-s3cret") && !stdout(&out).contains("exp-s3cret"));
    exportd.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_exits_3_when_exportds_redis_is_down() {
    let mut server = RedisServer::start();
    let exportd = exportd_with_short_cooldown(&server.url()).await;
    server.stop();
    let tmp = tempfile::tempdir().unwrap();
    let src = soak_folder(tmp.path(), &iter_files(&three_windows()));
    let artifacts = tmp.path().join("artifacts");
    let exportd_url = exportd.url();
    let env = [("SHADOWKPI_EXPORT_ADDR", exportd_url.as_str())];
    let out = shadowctl(
        &[
            "pipeline",
            "--from-artifacts",
            src.to_str().unwrap(),
            "--skip-validate",
            "--artifacts",
            artifacts.to_str().unwrap(),
        ],
        &env,
    )
    .await;
    assert_store_unusable(&out);
    exportd.stop().await.unwrap();
}
