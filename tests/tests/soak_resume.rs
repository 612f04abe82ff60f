//! A soak survives a crash (issue 18, part 2), with real processes on the
//! real recording (USD-M BTCUSDT, 9 s, 1 s windows):
//!
//! - shadowd killed with SIGKILL mid-window: `shadowctl soak` exits 4 naming
//!   shadowd, the last completed window, the artifacts and the resume command;
//!   `shadowctl soak --resume` then finishes the soak;
//! - ingestd killed with SIGKILL mid-soak and started again: shadowd
//!   subscribes again from the feed position and the soak finishes on its own;
//! - Redis killed with SIGKILL mid-soak and started again from its AOF:
//!   ingestd reads on from the same position and the soak finishes on its own;
//! - the three soaks' ITER_SUMMARY files equal those of an uninterrupted soak on the
//!   same feed, but for `clock_drift_ms` and the run id;
//! - dryrund killed mid-run: `shadowctl validate` exits 4 with the resume
//!   command, and `--resume` measures exactly what an uninterrupted dry run
//!   from the same position does;
//! - once the stream has been trimmed past the soak's position, a resume is
//!   refused with exit 2 saying how much of the feed is missing.

mod recording;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use recording::usdm;
use serde_json::Value;
use shadowkpi_domain::feed::decode::encode;
use shadowkpi_domain::tick::Tick;
use shadowkpi_store::{RedisStore, Store, StoreOptions};
use shadowkpi_testkit::process::ServiceProcess;
use shadowkpi_testkit::{RedisConfig, RedisServer, cargo_bin};

const WINDOWS: &str = "6";

async fn publish(store: &RedisStore, ticks: &[Tick]) {
    for chunk in ticks.chunks(500) {
        let entries: Vec<_> = chunk.iter().map(encode).collect();
        store.append("lob:ticks", &entries, None).await.unwrap();
    }
}

fn ingestd(redis: &RedisServer, on: Option<std::net::SocketAddr>) -> ServiceProcess {
    let bin = cargo_bin("ingestd");
    let url = redis.url();
    let env = [("REDIS_URL", url.as_str())];
    match on {
        Some(addr) => ServiceProcess::start_on(&bin, addr, &[], &env),
        None => ServiceProcess::start(&bin, &[], &env),
    }
}

fn shadowd(ingest: &ServiceProcess) -> ServiceProcess {
    ServiceProcess::start(
        &cargo_bin("shadowd"),
        &["--ingest-addr", &ingest.url()],
        &[],
    )
}

/// `shadowctl ARGS --artifacts DIR` against `ingest` and `peer` (shadowd or
/// dryrund, by its address flag).
fn shadowctl<S: AsRef<std::ffi::OsStr>>(
    ingest: &ServiceProcess,
    peer: (&str, &ServiceProcess),
    dir: &Path,
    args: &[S],
) -> Command {
    let mut cmd = Command::new(cargo_bin("shadowctl"));
    cmd.args(["--ingest-addr", &ingest.url(), peer.0, &peer.1.url()])
        .args(args)
        .arg("--artifacts")
        .arg(dir)
        .env_remove("REDIS_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn dryrund(ingest: &ServiceProcess, redis: &RedisServer) -> ServiceProcess {
    let url = redis.url();
    ServiceProcess::start(
        &cargo_bin("dryrund"),
        &["--ingest-addr", &ingest.url()],
        &[("REDIS_URL", url.as_str())],
    )
}

/// The flags of every soak and dry run of the test: the same symbol,
/// windows and feed position.
const RUN_FLAGS: [&str; 10] = [
    "--symbols",
    "BTCUSDT",
    "--iterations",
    WINDOWS,
    "--duration",
    "1s",
    "--idle-timeout",
    "30s",
    "--from",
    "start",
];

fn soak_args(run_id: &str) -> Vec<String> {
    let mut args = vec!["soak".to_string()];
    args.extend(RUN_FLAGS.map(String::from));
    args.extend(["--run-id".to_string(), run_id.to_string()]);
    args
}

/// `validate` over the same feed as the soaks; `validate EXTRA` when
/// `extra` is given (a resume takes its flags from the checkpoint).
fn dry_args(extra: &[&str]) -> Vec<String> {
    let mut args = vec!["validate".to_string()];
    if extra.is_empty() {
        args.extend(RUN_FLAGS.map(String::from));
    } else {
        args.extend(extra.iter().map(|a| a.to_string()));
    }
    args
}

/// Waits until `service`'s gRPC health on `process` is SERVING.
async fn serving(process: &ServiceProcess, service: &str) {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let url = process.url();
    shadowkpi_testkit::wait_until(Duration::from_secs(30), || async {
        let channel = tonic::transport::Endpoint::from_shared(url.clone())
            .ok()?
            .connect()
            .await
            .ok()?;
        let status = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .ok()?
            .into_inner()
            .status;
        (status == ServingStatus::Serving as i32).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("{service} never became SERVING again"));
}

/// Waits until a dry run has left its checkpoint; its run id.
async fn dry_run_checkpointed(dir: &Path, child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(entries) = std::fs::read_dir(dir.join("dryrun")) {
            for e in entries {
                let e = e.unwrap();
                if e.path().join("CHECKPOINT.json").exists() {
                    return e.file_name().into_string().unwrap();
                }
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the dry run ended with {status} before its first iteration");
        }
        assert!(
            Instant::now() < deadline,
            "the dry run never left a checkpoint"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every KPI's median actual value in a dry run's report, but
/// `clock_drift_ms`.
fn measured(dir: &Path, run_id: &str) -> Vec<(String, Option<f64>)> {
    let path = dir
        .join("dryrun")
        .join(run_id)
        .join("DRYRUN_ACCURACY_REPORT.json");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    report["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["kpis"].as_array().unwrap().iter())
        .filter(|k| k["kpi"] != "clock_drift_ms")
        .map(|k| {
            (
                k["kpi"].as_str().unwrap().to_string(),
                k["median_actual"].as_f64(),
            )
        })
        .collect()
}

/// `shadowctl soak --resume RUN_ID`: its output, and all of it as text.
fn resume(
    ingest: &ServiceProcess,
    shadow: &ServiceProcess,
    dir: &Path,
    run_id: &str,
) -> (Output, String) {
    let out = run(shadowctl(
        ingest,
        ("--shadow-addr", shadow),
        dir,
        &["soak", "--resume", run_id],
    ));
    let said = text(&out);
    (out, said)
}

fn run(mut cmd: Command) -> Output {
    cmd.output().expect("shadowctl runs")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Waits until the soak `run_id` has written window `n`.
async fn window_written(dir: &Path, run_id: &str, n: u32, child: &mut Child) {
    let file = dir
        .join("soak")
        .join(run_id)
        .join(format!("ITER_SUMMARY_{n:03}.json"));
    let deadline = Instant::now() + Duration::from_secs(90);
    while !file.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("soak {run_id} ended with {status} before window {n}");
        }
        assert!(
            Instant::now() < deadline,
            "soak {run_id} never wrote window {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The ITER_SUMMARY documents of a soak, without what may differ between two
/// soaks on the same feed: the run id and each symbol's `clock_drift_ms`.
fn summaries(dir: &Path, run_id: &str) -> Vec<Value> {
    let folder = dir.join("soak").join(run_id);
    let mut names: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ITER_SUMMARY_"))
        })
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| {
            let mut v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            v["run_id"] = Value::Null;
            for (_, s) in v["symbols"].as_object_mut().unwrap() {
                s["summary"]
                    .as_object_mut()
                    .unwrap()
                    .remove("clock_drift_ms");
            }
            v
        })
        .collect()
}

fn fills(docs: &[Value]) -> u64 {
    docs.iter()
        .map(|d| {
            d["symbols"]["BTCUSDT"]["summary"]["total_fills"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soak_survives_shadowd_and_ingestd_dying_and_comes_out_identical() {
    // Every write on disk before it is acknowledged: a restart loses nothing.
    let mut redis = RedisServer::start_with(RedisConfig {
        args: ["--appendonly", "yes", "--appendfsync", "always"]
            .map(String::from)
            .to_vec(),
        ..RedisConfig::default()
    });
    let store = RedisStore::connect(&redis.url(), StoreOptions::default())
        .await
        .unwrap();
    let ticks = usdm(9);
    let t0 = ticks[0].ts_server_ms;
    let half = ticks
        .iter()
        .position(|t| t.ts_server_ms >= t0 + 3_500)
        .unwrap();
    assert!(
        half > 100 && ticks.len() - half > 100,
        "{half} of {}",
        ticks.len()
    );
    publish(&store, &ticks[..half]).await;

    let dir = tempfile::tempdir().unwrap();
    let mut ingest = ingestd(&redis, None);
    let mut shadow = shadowd(&ingest);

    // 1. shadowd dies mid-window.
    let mut b = shadowctl(
        &ingest,
        ("--shadow-addr", &shadow),
        dir.path(),
        &soak_args("killed-shadowd"),
    )
    .spawn()
    .unwrap();
    window_written(dir.path(), "killed-shadowd", 2, &mut b).await;
    shadow.kill();
    let out = b.wait_with_output().unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(4), "{said}");
    for part in [
        "soak killed-shadowd: shadowd went away",
        "the last completed window is",
        "of 6",
        "artifacts in",
        "shadowctl soak --resume killed-shadowd",
    ] {
        assert!(said.contains(part), "`{part}` missing:\n{said}");
    }
    let checkpoint: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("soak/killed-shadowd/CHECKPOINT.json")).unwrap(),
    )
    .unwrap();
    let done = checkpoint["windows"].as_u64().unwrap();
    assert!((2..6).contains(&done), "{checkpoint}");
    assert_eq!(
        checkpoint["feed_position"], "0-0",
        "--from start on a stream never trimmed"
    );

    // 2. ingestd dies mid-soak and comes back where shadowd looks for it.
    let mut shadow = shadowd(&ingest);
    let mut c = shadowctl(
        &ingest,
        ("--shadow-addr", &shadow),
        dir.path(),
        &soak_args("killed-ingestd"),
    )
    .spawn()
    .unwrap();
    window_written(dir.path(), "killed-ingestd", 2, &mut c).await;
    let addr = ingest.grpc;
    ingest.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    ingest = ingestd(&redis, Some(addr));

    // 3. Redis dies mid-soak and comes back from its append-only file.
    let mut d = shadowctl(
        &ingest,
        ("--shadow-addr", &shadow),
        dir.path(),
        &soak_args("killed-redis"),
    )
    .spawn()
    .unwrap();
    window_written(dir.path(), "killed-redis", 2, &mut d).await;
    redis.restart();
    // A dry run started before ingestd has seen Redis back (its readiness
    // probe runs every 2 s) would be refused as unavailable.
    serving(&ingest, "shadowkpi.v1.IngestService").await;

    // 3b. dryrund dies mid-run.
    let dryrun = dryrund(&ingest, &redis);
    let mut e = shadowctl(
        &ingest,
        ("--dryrun-addr", &dryrun),
        dir.path(),
        &dry_args(&[]),
    )
    .spawn()
    .unwrap();
    let dry_id = dry_run_checkpointed(dir.path(), &mut e).await;
    let mut dryrun = dryrun;
    dryrun.kill();
    let out = e.wait_with_output().unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(4), "{said}");
    for part in [
        format!("dry run {dry_id}: dryrund went away"),
        "its checkpoint is in".to_string(),
        format!("shadowctl validate --resume {dry_id}"),
    ] {
        assert!(said.contains(&part), "`{part}` missing:\n{said}");
    }

    // The rest of the feed (the publisher connects again too); both soaks
    // go on from where they were.
    let store = RedisStore::connect(&redis.url(), StoreOptions::default())
        .await
        .unwrap();
    publish(&store, &ticks[half..]).await;
    for (run_id, child) in [("killed-ingestd", c), ("killed-redis", d)] {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{run_id}: {}", text(&out));
    }

    // 4. The first soak, resumed.
    let (out, said) = resume(&ingest, &shadow, dir.path(), "killed-shadowd");
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!(
            "resuming soak killed-shadowd: {done} of 6 windows"
        )),
        "{said}"
    );

    // 5. The same soak, uninterrupted.
    let out = run(shadowctl(
        &ingest,
        ("--shadow-addr", &shadow),
        dir.path(),
        &soak_args("uninterrupted"),
    ));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let reference = summaries(dir.path(), "uninterrupted");
    assert_eq!(reference.len(), 6);
    assert!(
        fills(&reference) > 0,
        "the soak traded: the comparison means something"
    );
    for run_id in ["killed-shadowd", "killed-ingestd", "killed-redis"] {
        let got = summaries(dir.path(), run_id);
        assert_eq!(got.len(), 6, "{run_id}");
        for (i, (g, r)) in got.iter().zip(&reference).enumerate() {
            assert_eq!(
                g,
                r,
                "{run_id}: window {} differs from the uninterrupted soak",
                i + 1
            );
        }
    }
    let verdict = |run_id: &str| -> Value {
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(
                dir.path()
                    .join("soak")
                    .join(run_id)
                    .join("SOAK_SUMMARY.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let mut a = v["symbols"]["BTCUSDT"]["aggregate"].clone();
        a.as_object_mut().unwrap().remove("clock_drift_ms");
        a
    };
    assert_eq!(verdict("killed-shadowd"), verdict("uninterrupted"));

    // 5b. The dry run, run again from its checkpoint, and uninterrupted.
    let dryrun = dryrund(&ingest, &redis);
    let resumed = run(shadowctl(
        &ingest,
        ("--dryrun-addr", &dryrun),
        dir.path(),
        &dry_args(&["--resume", &dry_id]),
    ));
    assert_eq!(
        resumed.status.code(),
        Some(1),
        "NO_PREDICTION blocks: {}",
        text(&resumed)
    );
    assert!(text(&resumed).contains(&format!(
        "running dry run {dry_id} again from its feed position 0-0"
    )));
    let before: Vec<_> = std::fs::read_dir(dir.path().join("dryrun"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let whole = run(shadowctl(
        &ingest,
        ("--dryrun-addr", &dryrun),
        dir.path(),
        &dry_args(&[]),
    ));
    assert_eq!(whole.status.code(), Some(1), "{}", text(&whole));
    let whole_id = std::fs::read_dir(dir.path().join("dryrun"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .find(|n| !before.contains(n) && n != "latest")
        .expect("the uninterrupted dry run's folder")
        .into_string()
        .unwrap();
    let resumed_kpis = measured(dir.path(), &dry_id);
    assert_eq!(resumed_kpis, measured(dir.path(), &whole_id));
    assert!(
        resumed_kpis
            .iter()
            .any(|(k, v)| k == "edge_bps" && v.is_some()),
        "{resumed_kpis:?}"
    );

    // 6. The stream trimmed past the soak's start: a resume would leave a
    //    hole, so it is refused, saying how much is missing.
    let trimmed: u64 = redis::cmd("XTRIM")
        .arg("lob:ticks")
        .arg("MAXLEN")
        .arg("=")
        .arg(100)
        .query(&mut redis.connection())
        .unwrap();
    assert!(trimmed > 0);
    let (out, said) = resume(&ingest, &shadow, dir.path(), "killed-shadowd");
    assert_eq!(out.status.code(), Some(2), "{said}");
    for part in [
        "has been trimmed away",
        "s of feed after the position",
        "entries trimmed",
    ] {
        assert!(said.contains(part), "`{part}` missing:\n{said}");
    }
    shadow.kill();
}
