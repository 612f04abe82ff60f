//! `shadowctl bench --quick`, the real binary, against a private Redis: every
//! part runs and the report holds every section with positive figures. Only
//! that it runs: no figure is compared with any speed.

use std::process::Command;

use serde_json::Value;
use shadowkpi_testkit::RedisServer;

const SECTIONS: [&str; 7] = [
    "ingest_throughput",
    "ingest_latency",
    "export_throughput",
    "engine_throughput",
    "memory",
    "scaling",
    "strategy_api",
];

/// The ids of the report's sections, in order.
fn section_ids(report: &Value) -> Vec<&str> {
    report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect()
}

#[test]
fn quick_bench_reports_every_section_with_positive_figures() {
    let redis = RedisServer::start();
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_shadowctl"))
        .args(["bench", "--quick", "--redis-url", &redis.url(), "--out"])
        .arg(out.path())
        .env_remove("SHADOWKPI_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed: {stderr}\n{stdout}");
    assert!(stdout.contains("ingest_throughput"), "no table: {stdout}");
    assert!(stdout.contains("targets met:"), "{stdout}");

    let md = std::fs::read_to_string(out.path().join("BENCH_REPORT.md")).unwrap();
    assert!(md.starts_with("# shadowkpi benchmark"));
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("BENCH_REPORT.json")).unwrap())
            .unwrap();
    assert_eq!(report["schema"], "shadowkpi.bench/1");
    assert_eq!(report["quick"], true);
    assert_eq!(report["runs"], 1);
    let ids = section_ids(&report);
    assert_eq!(ids, SECTIONS);

    for section in report["sections"].as_array().unwrap() {
        let id = section["id"].as_str().unwrap();
        let rows = section["rows"].as_array().unwrap();
        assert!(!rows.is_empty(), "{id} has no rows");
        for row in rows {
            let name = row["name"].as_str().unwrap();
            let value = row["value"].as_f64().unwrap();
            assert!(value > 0.0, "{id} / {name}: value {value}");
            if let Some(bare) = row.get("bare") {
                let bare = bare.as_f64().unwrap();
                assert!(bare > 0.0, "{id} / {name}: bare {bare}");
            }
            if let Some(ratio) = row.get("ratio") {
                assert!(ratio.as_f64().unwrap() > 0.0, "{id} / {name}: ratio");
            }
            if row.get("target").is_some() {
                let verdict = row["verdict"].as_str().unwrap();
                assert!(["PASS", "BELOW"].contains(&verdict), "{id} / {name}");
            }
        }
    }

    // The sizes the issue asks for, by name.
    let names = |id: &str| -> Vec<String> {
        report["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let latency = names("ingest_latency");
    for label in ["no reorder window", "reorder window 40 ms"] {
        for q in ["p50", "p99", "max"] {
            assert!(
                latency.iter().any(|n| n.contains(label) && n.ends_with(q)),
                "{label} {q} missing: {latency:?}"
            );
        }
    }
    let export = names("export_throughput");
    assert!(
        export
            .iter()
            .any(|n| n.contains("batch 50 vs bare same writes"))
    );
    assert!(
        export
            .iter()
            .any(|n| n.contains("batch 100 vs bare same writes"))
    );
    assert!(
        export
            .iter()
            .any(|n| n.contains("over the Python exporter"))
    );
    let engine = names("engine_throughput");
    // five model sets (one per queue model, and partial fills) × 1 and 100 symbols
    assert_eq!(engine.len(), 10, "{engine:?}");
    for m in [
        "front of queue",
        "risk-averse",
        "prob_power",
        "partial fills",
    ] {
        assert!(engine.iter().any(|n| n.contains(m)), "{m}: {engine:?}");
    }
    let scaling = names("scaling");
    for s in ["1 symbol,", "10 symbols", "100 symbols", "1000 symbols"] {
        assert!(scaling.iter().any(|n| n.contains(s)), "{s}: {scaling:?}");
    }
    for s in ["2 subscribers", "4 subscribers"] {
        assert!(scaling.iter().any(|n| n.contains(s)), "{s}: {scaling:?}");
    }

    // The strategy API: the built-in strategy and the Rust example both ways,
    // on the recording and the synthetic feed; the target on the recording.
    let strategy: Vec<&Value> = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "strategy_api")
        .unwrap()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(strategy.len(), 6, "{strategy:?}");
    for feed in ["USD-M recording", "synthetic, 2 symbols"] {
        for how in ["built-in strategy", "every decision", "on change"] {
            let row = strategy
                .iter()
                .find(|r| {
                    let n = r["name"].as_str().unwrap();
                    n.contains(how) && n.ends_with(feed)
                })
                .unwrap_or_else(|| panic!("{how}, {feed}: {strategy:?}"));
            let targeted = row.get("target").is_some();
            assert_eq!(
                targeted,
                how != "built-in strategy" && feed == "USD-M recording",
                "{how}, {feed}"
            );
            if targeted {
                assert_eq!(row["target"], 50_000.0);
                assert_eq!(row["at_least"], true);
            }
        }
    }
    // Waking on change takes fewer round trips on the recording.
    let trips = |how: &str| -> u64 {
        let row = strategy
            .iter()
            .find(|r| r["name"].as_str().unwrap().contains(how))
            .unwrap();
        row["note"]
            .as_str()
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(trips("on change") * 2 < trips("every decision"));

    // The benchmark removes what it wrote.
    let mut c = redis.connection();
    let left: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(left, 0, "keys left behind");
}

/// Without `--redis-url` the benchmark starts its own `redis-server` (the
/// testkit's), names it in the report and stops it again.
#[test]
fn without_a_redis_url_the_bench_runs_on_a_private_redis_server() {
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_shadowctl"))
        .args(["bench", "--quick", "--only", "export", "--out"])
        .arg(out.path())
        .env_remove("SHADOWKPI_CONFIG")
        .env_remove("REDIS_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed: {stderr}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("BENCH_REPORT.json")).unwrap())
            .unwrap();
    let redis = report["redis"].as_str().unwrap();
    assert!(
        redis.contains("a private redis-server started by the benchmark"),
        "{redis}"
    );
    let port: u16 = redis
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {redis}"));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the private redis-server on {port} is still listening after the bench"
    );
    let ids = section_ids(&report);
    assert_eq!(ids, ["export_throughput"]);
}

/// No `redis-server` on `PATH` and no `--redis-url`: exit 3 (the store is
/// unusable), naming the missing program and how to fix it.
#[test]
fn without_redis_server_on_path_the_bench_exits_3_and_says_why() {
    let out = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_shadowctl"))
        .args(["bench", "--quick", "--only", "export", "--out"])
        .arg(out.path())
        .env("PATH", empty.path())
        .env_remove("SHADOWKPI_CONFIG")
        .env_remove("REDIS_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("cannot start a private redis-server")
            && stderr.contains("cannot run redis-server (is it on PATH?)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: install redis-server") && stderr.contains("--redis-url"),
        "{stderr}"
    );
    assert!(!out.path().join("BENCH_REPORT.json").exists());
}
