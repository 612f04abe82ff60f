//! Memory of ingestd under a full-speed feed with one stalled subscriber: the
//! real `ingestd` binary as a child process (its own `/proc/<pid>/status`),
//! or, when the binary is not found, ingestd in this process (then the figure
//! is this whole process's RSS, and the report says so).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use ingestd::IngestConfig;
use shadowkpi_proto::v1::GetStatsRequest;
use shadowkpi_runtime::Shutdown;

use super::ingest::{READ_COUNT, client, subscribe, tick_fields};
use super::report::{Row, Section, fmt_number};
use super::{Env, bench_err, redis_err};
use crate::error::BenchResult;

/// `MAXLEN ~` of the feed stream, so Redis stays bounded too.
const STREAM_CAP: u64 = 200_000;
const SYMBOLS: u64 = 100;

/// `VmRSS` and `VmHWM` of a process, MiB.
fn rss_mib(pid: &str) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The child process, killed on drop.
struct ChildIngestd(Child);

impl Drop for ChildIngestd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where the ingestd binary is: the one given, else next to this executable.
fn find_binary(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = given {
        return Some(p.to_path_buf());
    }
    let exe = std::env::current_exe().ok()?;
    let p = exe
        .parent()?
        .join(format!("ingestd{}", std::env::consts::EXE_SUFFIX));
    p.is_file().then_some(p)
}

/// Section 5.
pub async fn measure(env: &Env, binary: Option<&Path>, duration: Duration) -> BenchResult<Section> {
    let stream = env.key("memory");
    let group = env.unique("group");
    let mut conn = env.conn.clone();
    redis::cmd("DEL")
        .arg(&stream)
        .query_async::<()>(&mut conn)
        .await
        .map_err(redis_err)?;

    // Start ingestd: the real binary when there is one.
    let bin = find_binary(binary);
    let mut _child = None;
    let mut in_process = None;
    let (url, pid, source) = match &bin {
        Some(bin) => {
            let port = shadowkpi_testkit::try_free_port()
                .map_err(|e| crate::bench_err("a free loopback port", e))?;
            let child = Command::new(bin)
                .args(["--redis-url", &env.url])
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(["--metrics-listen", "off", "--drain-timeout", "1s"])
                .args([
                    "--stream",
                    &stream,
                    "--group",
                    &group,
                    "--consumer",
                    "bench",
                ])
                .args(["--read-count", &READ_COUNT.to_string()])
                .env("SHADOWKPI_LOG", "warn")
                .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| bench_err(&format!("run {}", bin.display()), e))?;
            let pid = child.id().to_string();
            let mut child = ChildIngestd(child);
            let deadline = Instant::now() + Duration::from_secs(20);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Ok(Some(s)) = child.0.try_wait() {
                    return Err(bench_err("ingestd", format!("exited at start ({s})")));
                }
                if Instant::now() > deadline {
                    return Err(bench_err("ingestd", "did not listen within 20 s"));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            _child = Some(child);
            (
                format!("http://127.0.0.1:{port}"),
                pid,
                format!(
                    "the `ingestd` binary as a child process ({})",
                    bin.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ),
            )
        }
        None => {
            let mut cfg = IngestConfig::for_stream(&stream);
            cfg.group = group.clone();
            cfg.consumer = "bench".into();
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
                .await
                .map_err(|e| bench_err("bind a loopback port", e))?;
            let h = ingestd::spawn_with_config(env.fresh_store()?, cfg, listener, Shutdown::new())
                .map_err(|e| bench_err("start ingestd", e))?;
            let url = h.url();
            in_process = Some(h);
            (
                url,
                "self".to_string(),
                "ingestd in this process (no `ingestd` binary next to shadowctl; build it with `cargo build --release -p ingestd`): the figure is the whole benchmark process".to_string(),
            )
        }
    };

    // One subscriber that keeps up, one that never reads.
    let mut fast = client(&url, false).await?;
    let mut stalled = client(&url, true).await?;
    let fast_stream = subscribe(&mut fast, "bench-fast").await?;
    let stalled_stream = subscribe(&mut stalled, "bench-stalled").await?;
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let reader = {
        let stop = stop.clone();
        let received = received.clone();
        let mut s = fast_stream;
        tokio::spawn(async move {
            while !stop.load(Relaxed) {
                match tokio::time::timeout(Duration::from_millis(200), s.message()).await {
                    Ok(Ok(Some(r))) => {
                        received.fetch_add(r.ticks.len() as u64, Relaxed);
                    }
                    Ok(_) => break,
                    Err(_) => {}
                }
            }
        })
    };

    // The feed at full speed.
    let written = Arc::new(AtomicU64::new(0));
    let publisher = {
        let stop = stop.clone();
        let written = written.clone();
        let mut conn = env.publisher().await?;
        let stream = stream.clone();
        tokio::spawn(async move {
            let mut k = 0u64;
            let t0 = 1_700_000_000_000i64;
            while !stop.load(Relaxed) {
                let mut pipe = redis::pipe();
                for i in k..k + 1_000 {
                    let cmd = pipe
                        .cmd("XADD")
                        .arg(&stream)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(STREAM_CAP)
                        .arg("*");
                    for (f, v) in tick_fields(i, SYMBOLS, t0 + (i / 10) as i64) {
                        cmd.arg(f).arg(v);
                    }
                    cmd.ignore();
                }
                if pipe.query_async::<()>(&mut conn).await.is_err() {
                    break;
                }
                k += 1_000;
                written.store(k, Relaxed);
            }
        })
    };

    // Sample the RSS.
    let started = Instant::now();
    let mut samples: Vec<(f64, f64)> = Vec::new();
    let mut hwm = 0.0f64;
    while started.elapsed() < duration {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some((rss, h)) = rss_mib(&pid) {
            samples.push((started.elapsed().as_secs_f64(), rss));
            hwm = hwm.max(h);
        }
    }
    let stats = fast
        .get_stats(GetStatsRequest {})
        .await
        .map_err(|e| bench_err("GetStats", e))?
        .into_inner();
    stop.store(true, Relaxed);
    let _ = publisher.await;
    let _ = reader.await;
    drop(stalled_stream);
    drop(_child);
    if let Some(h) = in_process {
        let _ = tokio::time::timeout(Duration::from_secs(15), h.stop()).await;
    }
    redis::cmd("DEL")
        .arg(&stream)
        .query_async::<()>(&mut conn)
        .await
        .map_err(redis_err)?;

    if samples.len() < 4 {
        return Err(bench_err("memory", "too few RSS samples"));
    }
    let half = samples.len() / 2;
    let quarter = samples.len() / 4;
    let first_peak = samples[..half].iter().map(|s| s.1).fold(0.0, f64::max);
    let second_peak = samples[half..].iter().map(|s| s.1).fold(0.0, f64::max);
    let warm = samples[quarter].1;
    let end = samples[samples.len() - 1].1;
    let secs = started.elapsed().as_secs_f64();
    let bp_drops = stats.totals.as_ref().map_or(0, |t| t.bp_drops);

    let mut section = Section::new(
        "memory",
        "5. Memory",
        format!(
            "ingestd reading a feed written at full speed ({SYMBOLS} symbols, XADD pipelines of 1,000, `MAXLEN ~ {}`) for \
             {:.0} s with two subscribers: one that keeps up and one that never reads (HTTP/2 windows of 64 KiB). \
             RSS sampled every 100 ms from /proc of {source}.",
            fmt_number(STREAM_CAP as f64),
            duration.as_secs_f64()
        ),
    );
    section
        .rows
        .push(Row::plain("RSS after the first quarter", "MiB", vec![warm]));
    section
        .rows
        .push(Row::plain("RSS at the end", "MiB", vec![end]));
    section
        .rows
        .push(Row::plain("peak RSS (VmHWM)", "MiB", vec![hwm]));
    let growth = if first_peak > 0.0 {
        second_peak / first_peak
    } else {
        0.0
    };
    section.rows.push(
        Row::plain("peak RSS, second half ÷ first half", "×", vec![growth])
            .at_most(1.10)
            .note("flat: bounded buffers"),
    );
    section.rows.push(Row::plain(
        "feed read by ingestd",
        "ticks/s",
        vec![stats.entries_read as f64 / secs],
    ));
    section.notes.push(format!(
        "{} entries written, {} read by ingestd, {} delivered to the fast subscriber, {} dropped for the stalled one (drop-oldest, counted)",
        fmt_number(written.load(Relaxed) as f64),
        fmt_number(stats.entries_read as f64),
        fmt_number(received.load(Relaxed) as f64),
        fmt_number(bp_drops as f64),
    ));
    section.notes.push(format!(
        "RSS samples (s → MiB): {}",
        samples
            .iter()
            .step_by((samples.len() / 10).max(1))
            .map(|(t, r)| format!("{t:.1}→{r:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(section)
}
