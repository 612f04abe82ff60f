//! `shadowctl pipeline` as a user runs it: all-in-one with the in-process
//! store, and against a real Redis with the four real binaries as processes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use redis::Commands;
use shadowkpi_testkit::process::ServiceProcess;
use shadowkpi_testkit::{RedisServer, cargo_bin, free_port};

const ENV_VARS: [&str; 8] = [
    "REDIS_URL",
    "SHADOWKPI_INGEST_ADDR",
    "SHADOWKPI_SHADOW_ADDR",
    "SHADOWKPI_EXPORT_ADDR",
    "SHADOWKPI_DRYRUN_ADDR",
    "SHADOWKPI_CONFIG",
    "SHADOWKPI_ENV",
    "SHADOWKPI_EXCHANGE",
];

fn shadowctl(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shadowctl"));
    cmd.current_dir(dir).args(args);
    for v in ENV_VARS {
        cmd.env_remove(v);
    }
    cmd.env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
    cmd.envs(envs.iter().copied());
    cmd.output().expect("run shadowctl")
}

const SMALL: [&str; 10] = [
    "--iterations",
    "4",
    "--duration",
    "10s",
    "--validate-iterations",
    "2",
    "--min-windows",
    "4",
    "--idle-timeout",
    "10s",
];

fn run_dir(dir: &Path) -> PathBuf {
    let latest = dir.join("artifacts/pipeline/latest");
    let target = std::fs::read_link(&latest).expect("artifacts/pipeline/latest is a link");
    dir.join("artifacts/pipeline").join(target)
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn assert_exit_matches_decision(out: &Output, summary: &serde_json::Value) {
    let decision = summary["decision"].as_str().unwrap();
    let expected = if decision == "GO" { 0 } else { 1 };
    assert_eq!(
        out.status.code(),
        Some(expected),
        "decision {decision}; stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn all_in_one_pipeline_writes_every_artifact_and_exits_with_the_decision() {
    let tmp = tempfile::tempdir().unwrap();
    let mut args = vec!["pipeline", "--json"];
    args.extend(SMALL);
    let out = shadowctl(tmp.path(), &args, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("all-in-one"), "{stderr}");
    assert!(stderr.contains("in-process store"), "{stderr}");
    assert!(stderr.contains("feed: synthetic"), "{stderr}");

    let printed: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--json prints one JSON document");
    assert_exit_matches_decision(&out, &printed);
    assert_eq!(printed["windows"], 4);
    assert_eq!(printed["export_batches_failed"], 0);
    assert!(printed["exported_keys"].as_u64().unwrap() >= 4);

    let dir = run_dir(tmp.path());
    assert_eq!(json(&dir.join("PIPELINE_SUMMARY.json")), printed);
    let mut soak_points = 0;
    for i in 1..=4 {
        let f = dir.join(format!("soak/ITER_SUMMARY_{i:03}.json"));
        let it = json(&f);
        assert_eq!(it["iteration"], i);
        // Every window's equity path ends at the window's end.
        let path = it["symbols"]["BTCUSDT"]["path"].as_array().unwrap();
        assert_eq!(path.last().unwrap()["t_ms"], it["window"]["end_ms"]);
        soak_points += path.len();
    }
    let soak = json(&dir.join("soak/SOAK_SUMMARY.json"));
    assert_eq!(soak["windows"], 4);
    assert_eq!(
        soak["verdict"].as_str(),
        printed["soak_verdict"].as_str(),
        "one verdict"
    );
    assert_eq!(json(&dir.join("EXPORT_REPORT.json"))["batches_failed"], 0);
    let report = json(&dir.join("dryrun/DRYRUN_ACCURACY_REPORT.json"));
    assert_eq!(report["iterations"], 2);
    assert_eq!(report["overall"], printed["accuracy"]);
    // The soak's series sit next to the dry run's, with the equity of both.
    let btc = &report["symbols"][0];
    assert_eq!(btc["symbol"], "BTCUSDT");
    assert!(
        report["soak_series_source"]
            .as_str()
            .unwrap()
            .contains("ITER_SUMMARY")
    );
    for k in btc["kpis"].as_array().unwrap() {
        assert_eq!(k["soak_values"].as_array().unwrap().len(), 4, "{k}");
        assert_eq!(k["actuals"].as_array().unwrap().len(), 2, "{k}");
        assert!(
            k["bands"]["pass"][0].as_f64() < k["bands"]["pass"][1].as_f64(),
            "{k}"
        );
    }
    assert_eq!(btc["soak_equity"]["points"], soak_points);
    assert_eq!(
        btc["dry_run_equity"]["points"].as_u64().unwrap() as usize,
        btc["dry_run_path"].as_array().unwrap().len()
    );
    assert!(!btc["dry_run_path"].as_array().unwrap().is_empty());
    let md = std::fs::read_to_string(dir.join("dryrun/DRYRUN_ACCURACY_REPORT.md")).unwrap();
    assert!(md.contains("| BTCUSDT | edge_bps |"), "{md}");
    assert!(md.contains("| BTCUSDT | soak | "), "{md}");
    let html = std::fs::read_to_string(dir.join("dryrun/DRYRUN_ACCURACY_REPORT.html")).unwrap();
    assert_eq!(
        html.matches(r#"aria-label="edge_bps predicted vs actual""#)
            .count()
            + html
                .matches(r#"aria-label="maker_taker_ratio predicted vs actual""#)
                .count()
            + html
                .matches(r#"aria-label="p95_latency_ms predicted vs actual""#)
                .count()
            + html
                .matches(r#"aria-label="risk_ratio predicted vs actual""#)
                .count(),
        8,
        "a chart per symbol and KPI"
    );
    assert_eq!(
        html.matches("<svg xmlns").count(),
        8 + 4,
        "and an equity and an inventory chart per symbol"
    );

    // The soak's summaries are schema-valid: `audit` agrees with the soak.
    let soak_dir = dir.join("soak");
    let audit = shadowctl(
        tmp.path(),
        &[
            "audit",
            soak_dir.to_str().unwrap(),
            "--min-windows",
            "4",
            "--json",
        ],
        &[],
    );
    assert_eq!(
        audit.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&audit.stderr)
    );
    let audited: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(audited["files"], 4);
    assert_eq!(audited["schema_errors"].as_array().unwrap().len(), 0);
    assert_eq!(audited["verdict"]["verdict"], soak["verdict"]);
}

/// Redis and the four service binaries, wired as a deployment would be.
/// (Fields drop in order: the services stop before their Redis.)
struct Deployed {
    ingest: ServiceProcess,
    export: ServiceProcess,
    shadow: ServiceProcess,
    dryrun: ServiceProcess,
    redis: RedisServer,
}

impl Deployed {
    fn start() -> Self {
        let redis = RedisServer::start();
        let url = redis.url();
        let bin = |name: &str| {
            let p = cargo_bin(name);
            assert!(
                p.exists(),
                "{} is not built: run `cargo build --workspace --bins` (the workspace test run builds it)",
                p.display()
            );
            p
        };
        let redis_arg = ["--redis-url", url.as_str()];
        let ingest = ServiceProcess::start(&bin("ingestd"), &redis_arg, &[]);
        let export = ServiceProcess::start(&bin("exportd"), &redis_arg, &[]);
        let (ingest_url, export_url) = (ingest.url(), export.url());
        let shadow = ServiceProcess::start(
            &bin("shadowd"),
            &[
                "--redis-url",
                &url,
                "--ingest-addr",
                &ingest_url,
                "--export-addr",
                &export_url,
            ],
            &[],
        );
        let dryrun = ServiceProcess::start(
            &bin("dryrund"),
            &["--redis-url", &url, "--ingest-addr", &ingest_url],
            &[],
        );
        Deployed {
            ingest,
            export,
            shadow,
            dryrun,
            redis,
        }
    }

    /// The flags that point shadowctl at these services.
    fn flags(&self) -> Vec<String> {
        [
            ("--redis-url", self.redis.url()),
            ("--ingest-addr", self.ingest.url()),
            ("--shadow-addr", self.shadow.url()),
            ("--export-addr", self.export.url()),
            ("--dryrun-addr", self.dryrun.url()),
        ]
        .into_iter()
        .flat_map(|(f, v)| [f.to_string(), v])
        .collect()
    }
}

#[test]
fn pipeline_against_redis_and_the_four_real_binaries() {
    let d = Deployed::start();
    let flags = d.flags();
    let tmp = tempfile::tempdir().unwrap();
    let mut args = vec!["pipeline", "--json", "--feed", "synthetic"];
    args.extend(flags.iter().map(String::as_str));
    args.extend(SMALL);
    let out = shadowctl(tmp.path(), &args, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("services: ingestd http://"), "{stderr}");
    let printed: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}; stderr:\n{stderr}"));
    assert_exit_matches_decision(&out, &printed);
    assert_eq!(printed["windows"], 4);

    // The KPI store holds what the deployed exportd wrote.
    let mut c = d.redis.connection();
    for sym in ["BTCUSDT", "ETHUSDT"] {
        let key = format!("dev:bybit:shadow:latest:{sym}");
        let fields: Vec<String> = c.hkeys(&key).unwrap();
        assert!(
            fields.contains(&"p95_latency_ms".to_string()),
            "{key}: {fields:?}"
        );
        let meta: String = c
            .hget(format!("dev:bybit:shadow:meta:{sym}"), "windows")
            .unwrap();
        assert_eq!(meta, "4");
    }
    // The feed went through the real stream and consumer group.
    let len: u64 = c.xlen("lob:ticks").unwrap();
    assert!(len > 1000, "stream length {len}");
}

#[test]
fn replay_against_redis_and_the_four_real_binaries() {
    // With deployed services the CLI publishes the recording into lob:ticks,
    // the soak's part before the soak, the dry run's before the dry run.
    let d = Deployed::start();
    let flags = d.flags();
    let tmp = tempfile::tempdir().unwrap();
    let [q, t] = usdm();
    let mut files = vec![q.as_str(), t.as_str()];
    files.extend(flags.iter().map(String::as_str));
    let (printed, stderr) = replay_pipeline(tmp.path(), &files, "30s");
    assert!(stderr.contains("services: ingestd http://"), "{stderr}");
    assert!(stderr.contains("feed: replay of"), "{stderr}");
    let r = &printed["replay"];
    assert_eq!(
        (
            r["soak"]["windows"].as_i64(),
            r["dry_run"]["windows"].as_i64()
        ),
        (Some(7), Some(3)),
        "{r}"
    );
    assert_eq!(printed["windows"], 7);
    // The rows went through the real stream: all of the soak's part, and the
    // dry run's until its last window closed (publishing then stops).
    let mut c = d.redis.connection();
    let len: u64 = c.xlen("lob:ticks").unwrap();
    let soak_ticks = r["soak"]["ticks"].as_u64().unwrap();
    assert!(
        soak_ticks < len && len <= 66_089 + 21_313,
        "stream length {len}, soak part {soak_ticks}"
    );
    let meta: String = c.hget("dev:bybit:shadow:meta:BTCUSDT", "windows").unwrap();
    assert_eq!(meta, "7");
    let dir = run_dir(tmp.path());
    let soak_doc = json(&dir.join("soak/SOAK_SUMMARY.json"));
    let report = json(&dir.join("dryrun/DRYRUN_ACCURACY_REPORT.json"));
    assert_eq!(report["iterations"], 3);
    assert_verdict_is_about_the_strategy(&soak_doc, &report, &printed);
}

#[test]
fn configured_but_unreachable_redis_exits_3_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("redis://:s3cret@127.0.0.1:{}", free_port());
    let out = shadowctl(
        tmp.path(),
        &["pipeline", "--iterations", "1"],
        &[("REDIS_URL", &url)],
    );
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert!(stderr.contains("hint: start Redis"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "the password leaked: {stderr}");
    assert!(
        !tmp.path().join("artifacts").exists(),
        "nothing was written"
    );
}

#[test]
fn configuration_precedence_is_flag_then_env_then_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("shadowkpi.toml"),
        "redis_url = 'redis://ops:hunter2@file-host:6379'\nenv = 'fromfile'\nexchange = 'okx'\nsymbols = ['SOLUSDT']\n",
    )
    .unwrap();
    let show = |args: &[&str], envs: &[(&str, &str)]| -> serde_json::Value {
        let mut a = vec!["config", "show", "--json"];
        a.extend(args);
        let out = shadowctl(tmp.path(), &a, envs);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("hunter2"),
            "secret shown"
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let get = |v: &serde_json::Value, key: &str| -> (String, String) {
        let row = v["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("no {key}"));
        (
            row["value"].as_str().unwrap_or_default().to_string(),
            row["source"].as_str().unwrap().to_string(),
        )
    };
    let v = show(&[], &[]);
    assert_eq!(
        get(&v, "redis_url"),
        ("redis://ops:***@file-host:6379".into(), "file".into())
    );
    assert_eq!(get(&v, "env"), ("fromfile".into(), "file".into()));
    assert_eq!(get(&v, "symbols"), ("SOLUSDT".into(), "file".into()));

    let v = show(
        &[],
        &[
            ("REDIS_URL", "redis://env-host:6379"),
            ("SHADOWKPI_ENV", "fromenv"),
        ],
    );
    assert_eq!(
        get(&v, "redis_url"),
        ("redis://env-host:6379".into(), "env".into())
    );
    assert_eq!(get(&v, "env"), ("fromenv".into(), "env".into()));
    assert_eq!(get(&v, "exchange"), ("okx".into(), "file".into()));

    let v = show(
        &["--redis-url", "redis://flag-host:1"],
        &[("REDIS_URL", "redis://env-host:6379")],
    );
    assert_eq!(
        get(&v, "redis_url"),
        ("redis://flag-host:1".into(), "flag".into())
    );

    // A typo in the file is an error naming the key and the file.
    std::fs::write(tmp.path().join("bad.toml"), "redis_ulr = 'x'\n").unwrap();
    let out = shadowctl(tmp.path(), &["config", "show", "--config", "bad.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml: unknown key `redis_ulr`"),
        "{stderr}"
    );
}

/// The real recordings shipped in `data/`.
fn sample(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/binance-btcusdt-2024-08-08")
        .join(file)
        .display()
        .to_string()
}

/// Quotes and trades of the USD-M recording (66,089 + 21,313 rows, 344 s).
fn usdm() -> [String; 2] {
    [sample("usdm_quotes.csv.gz"), sample("usdm_trades.csv.gz")]
}

/// `pipeline --json --replay FILES…` (`args`: the files, then any other
/// flags) with soak and dry-run windows of `window`, at least 7 soak windows:
/// the printed summary (its exit code checked against its decision) and
/// stderr.
fn replay_pipeline(dir: &Path, args: &[&str], window: &str) -> (serde_json::Value, String) {
    let mut all = vec!["pipeline", "--json", "--replay"];
    all.extend(args);
    all.extend([
        "--duration",
        window,
        "--validate-duration",
        window,
        "--min-windows",
        "7",
        "--idle-timeout",
        "10s",
    ]);
    let out = shadowctl(dir, &all, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let printed: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}; stderr:\n{stderr}"));
    assert_exit_matches_decision(&out, &printed);
    (printed, stderr)
}

#[test]
fn replay_of_a_real_recording_gives_a_verdict_on_the_strategy() {
    let tmp = tempfile::tempdir().unwrap();
    let [q, t] = usdm();
    let (printed, stderr) = replay_pipeline(tmp.path(), &[&q, &t], "30s");
    assert!(stderr.contains("in-process store"), "{stderr}");
    assert!(stderr.contains("feed: replay of"), "{stderr}");
    assert!(!stderr.contains("feed: synthetic"), "{stderr}");

    // Where it split, printed before the run and in the summary.
    let r = &printed["replay"];
    let (first, last) = (
        r["span_ms"][0].as_i64().unwrap(),
        r["span_ms"][1].as_i64().unwrap(),
    );
    assert!((343_000..345_000).contains(&(last - first)), "{r}");
    let split = r["split_ms"].as_i64().unwrap();
    assert_eq!(split, first + ((last - first) as f64 * 0.7).round() as i64);
    assert_eq!(r["split"], "70%");
    assert!(
        stderr.contains(&format!("split at {split} (2024-08-")),
        "{stderr}"
    );
    let (soak, dry) = (&r["soak"], &r["dry_run"]);
    // Every row of both files is a tick, in one part or the other.
    assert_eq!(
        soak["ticks"].as_u64().unwrap() + dry["ticks"].as_u64().unwrap(),
        66_089 + 21_313
    );
    assert!(soak["last_ms"].as_i64().unwrap() < split);
    assert!(dry["first_ms"].as_i64().unwrap() >= split);
    // As many whole windows as each part holds, past the 1 s mark-out and
    // the 0.5 s margin: ⌊(240.8 s − 1.5 s) / 30 s⌋ = 7, ⌊(103 s − 1.5 s) / 30 s⌋ = 3.
    let fit = |p: &serde_json::Value| {
        (p["last_ms"].as_i64().unwrap() - p["first_ms"].as_i64().unwrap() - 1_500) / 30_000
    };
    assert_eq!((fit(soak), fit(dry)), (7, 3));
    assert_eq!(
        (soak["windows"].as_i64(), dry["windows"].as_i64()),
        (Some(7), Some(3))
    );

    assert_eq!(printed["windows"], 7);
    assert_eq!(printed["export_batches_failed"], 0);
    let dir = run_dir(tmp.path());
    assert_eq!(json(&dir.join("PIPELINE_SUMMARY.json")), printed);
    for i in 1..=7 {
        let f = json(&dir.join(format!("soak/ITER_SUMMARY_{i:03}.json")));
        assert_eq!(f["iteration"], i);
    }
    let soak_doc = json(&dir.join("soak/SOAK_SUMMARY.json"));
    assert_eq!(soak_doc["windows"], 7);
    let report = json(&dir.join("dryrun/DRYRUN_ACCURACY_REPORT.json"));
    assert_eq!(report["iterations"], 3);
    assert_verdict_is_about_the_strategy(&soak_doc, &report, &printed);
}

/// The recording's one symbol filled in the soak, no reason of the gate is
/// about missing fills, data or windows, and the dry run measured something.
fn assert_verdict_is_about_the_strategy(
    soak_doc: &serde_json::Value,
    report: &serde_json::Value,
    printed: &serde_json::Value,
) {
    let btc = &soak_doc["symbols"]["BTCUSDT"];
    assert_eq!(
        soak_doc["symbols"].as_object().unwrap().len(),
        1,
        "the recording's one symbol"
    );
    assert!(
        btc["aggregate"]["total_fills"].as_u64().unwrap() > 0,
        "{btc}"
    );
    for reason in btc["reasons"].as_array().unwrap() {
        let reason = reason.as_str().unwrap();
        assert!(
            !reason.contains("no fills") && !reason.contains("no data"),
            "{reason}"
        );
        assert!(!reason.starts_with("windows "), "{reason}");
    }
    assert!(btc["aggregate"]["edge_bps"].is_number(), "{btc}");
    assert_eq!(report["overall"], printed["accuracy"]);
    assert_ne!(report["overall"], "NO_DATA", "{report}");
    for kpi in report["symbols"][0]["kpis"].as_array().unwrap() {
        assert!(
            kpi["actuals"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a.is_number()),
            "measured in the dry run: {kpi}"
        );
    }
}

#[test]
fn replay_of_the_spot_recording_gives_a_verdict_on_the_strategy() {
    // Spot: 73,174 quotes and 19,904 trades over 650 s, merged by arrival
    // (its quotes carry no exchange time of their own).
    let tmp = tempfile::tempdir().unwrap();
    let (q, t) = (sample("spot_quotes.csv.gz"), sample("spot_trades.csv.gz"));
    let (printed, _) = replay_pipeline(tmp.path(), &[&q, &t], "60s");
    let r = &printed["replay"];
    assert_eq!(
        r["soak"]["ticks"].as_u64().unwrap() + r["dry_run"]["ticks"].as_u64().unwrap(),
        73_174 + 19_904
    );
    // 70 % of 650 s: 7 whole minutes for the soak, 3 for the dry run.
    assert_eq!(
        (
            r["soak"]["windows"].as_i64(),
            r["dry_run"]["windows"].as_i64()
        ),
        (Some(7), Some(3)),
        "{r}"
    );
    let dir = run_dir(tmp.path());
    let soak_doc = json(&dir.join("soak/SOAK_SUMMARY.json"));
    let report = json(&dir.join("dryrun/DRYRUN_ACCURACY_REPORT.json"));
    assert_eq!(report["iterations"], 3);
    assert_verdict_is_about_the_strategy(&soak_doc, &report, &printed);
}

#[test]
fn replay_refuses_bad_input_with_exit_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let [q, t] = usdm();
    std::fs::write(tmp.path().join("empty.csv"), "").unwrap();
    let refuse = |extra: &[&str], expected: &[&str]| {
        let mut args = vec!["pipeline"];
        args.extend(extra);
        if !args.contains(&"--duration") {
            args.extend(["--duration", "30s"]);
        }
        let out = shadowctl(tmp.path(), &args, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        for e in expected {
            assert!(stderr.contains(e), "{args:?}: `{e}` not in {stderr}");
        }
        assert!(
            !stderr.contains("all-in-one"),
            "no service started: {stderr}"
        );
        assert!(
            !tmp.path().join("artifacts").exists(),
            "{args:?}: nothing is written"
        );
    };
    // 48 windows of a minute in the first 70 % (241 s) of 344 s.
    refuse(
        &[
            "--replay",
            &q,
            &t,
            "--iterations",
            "48",
            "--duration",
            "60s",
        ],
        &[
            &format!("{q}, {t}: the soak part spans 4m 1."),
            "but 48 windows of 1m need 48m 1.5s",
        ],
    );
    // The rest (103 s) holds no three-minute dry-run window.
    refuse(
        &["--replay", &q, &t],
        &[
            "the dry-run part spans 1m 43.",
            "but 1 window of 3m needs 3m 1.5s",
        ],
    );
    refuse(
        &["--replay", "missing.csv.gz"],
        &["cannot open missing.csv.gz"],
    );
    refuse(&["--replay", "empty.csv"], &["empty.csv", "empty file"]);
    refuse(
        &["--replay", &q, &t, "--symbols", "ETHUSDT"],
        &[&format!(
            "{q} holds BTCUSDT but --symbols asks for ETHUSDT only: BTCUSDT not asked for"
        )],
    );
    refuse(
        &["--replay", &q, "--split", "100%"],
        &["--split", "strictly between 0 and 100"],
    );
}
