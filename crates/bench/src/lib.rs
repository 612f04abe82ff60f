//! The benchmark harness of `shadowctl bench`: how much feed shadowkpi keeps
//! up with and how fast it publishes, each figure next to a bare Redis client
//! doing the same Redis work in the same run (machines are shared and absolute
//! times drift; ratios hold).
//!
//! The services run in this process over real gRPC and a real Redis (a private
//! `redis-server` on a free port unless [`BenchOptions::redis_url`] is given);
//! the private server is testkit's
//! [`RedisServer`](shadowkpi_testkit::RedisServer), the same the tests use;
//! the memory part runs the real `ingestd` binary as a child process when it
//! sits next to the running executable. Each figure is the median of several
//! runs, shadowkpi and bare runs interleaved. [`run`] writes the report to
//! `<out>/BENCH_REPORT.md` and `<out>/BENCH_REPORT.json` and returns it; the
//! caller prints it ([`BenchReport::table`]). Progress goes to stderr.
//! Targets are checked by the report (PASS/BELOW), never by an error.
//!
//! # Layout
//! - [`run`], [`BenchOptions`], [`Part`]: what to run; `Env`, the Redis under
//!   test and a bare client of it, shared by the parts.
//! - `ingest`: ingest throughput, latency and scaling.
//! - `export`: export throughput and scaling.
//! - `engine`: engine replay throughput.
//! - `memory`: RSS of ingestd with a stalled subscriber.
//! - `strategy`: the strategy API, the built-in strategy against the Rust
//!   example over loopback gRPC.
//! - [`report`]: rows, sections, the table, Markdown and JSON.
//! - [`BenchError`]: why a benchmark stopped (Redis unreachable, bad input,
//!   a failed step).
#![warn(clippy::unwrap_used)]

mod engine;
mod error;
mod export;
mod ingest;
mod memory;
pub mod report;
mod strategy;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use shadowkpi_store::{RedisStore, Store, StoreOptions};

pub use error::{BenchError, BenchResult};
pub use report::BenchReport;
use report::{Machine, Section};

/// The parts of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// 1. Ingest throughput.
    Ingest,
    /// 2. Ingest latency.
    Latency,
    /// 3. Export throughput.
    Export,
    /// 4. Engine throughput.
    Engine,
    /// 5. Memory of ingestd.
    Memory,
    /// 6. Scaling with symbols and subscribers.
    Scaling,
    /// 7. The strategy API: events/s through an external strategy.
    Strategy,
}

/// What to run, as plain options (the CLI's flags, the defaults applied by
/// [`run`]).
#[derive(Debug, Clone, Default)]
pub struct BenchOptions {
    /// Small sizes and one run each: every part runs, the figures mean
    /// nothing.
    pub quick: bool,
    /// Folder for BENCH_REPORT.md and BENCH_REPORT.json.
    pub out: PathBuf,
    /// Runs per figure [default: 3; 1 with `quick`].
    pub runs: Option<usize>,
    /// Ticks in the ingest backlog [default: 1000000; 20000 with `quick`].
    pub ticks: Option<u64>,
    /// Only these parts [empty: all].
    pub only: Vec<Part>,
    /// The ingestd binary of the memory part [default: next to this
    /// executable].
    pub ingestd_bin: Option<PathBuf>,
    /// The Redis to benchmark (keys under `shadowkpi-bench:*`, removed after);
    /// unset: a private `redis-server` on a free port.
    pub redis_url: Option<String>,
    /// The hint of the error when that Redis cannot be reached.
    pub redis_hint: Option<String>,
}

/// What a benchmark produced.
#[derive(Debug, Clone)]
pub struct BenchRun {
    /// The report.
    pub report: BenchReport,
    /// Where its Markdown was written.
    pub markdown: PathBuf,
    /// Where its JSON was written.
    pub json: PathBuf,
}

/// Sizes of one benchmark run.
#[derive(Debug, Clone)]
struct Plan {
    runs: usize,
    ingest_ticks: u64,
    ingest_symbols: u64,
    latency_rate: f64,
    latency_duration: Duration,
    export_symbols: usize,
    engine_one_symbol_s: i64,
    engine_hundred_symbols_s: i64,
    memory_duration: Duration,
    scale_ticks: u64,
    scale_symbols: Vec<u64>,
    scale_subscribers: Vec<usize>,
    scale_export: Vec<usize>,
    strategy: strategy::StrategyPlan,
}

impl Plan {
    fn new(opts: &BenchOptions) -> Self {
        let mut p = if opts.quick {
            Self {
                runs: 1,
                ingest_ticks: 20_000,
                ingest_symbols: 100,
                latency_rate: 5_000.0,
                latency_duration: Duration::from_millis(600),
                export_symbols: 2_000,
                engine_one_symbol_s: 60,
                engine_hundred_symbols_s: 5,
                memory_duration: Duration::from_millis(1_200),
                scale_ticks: 5_000,
                scale_symbols: vec![1, 10, 100, 1_000],
                scale_subscribers: vec![1, 2, 4],
                scale_export: vec![100, 1_000, 2_000],
                strategy: strategy::StrategyPlan {
                    runs: 1,
                    recording_s: Some(30),
                    synthetic_symbols: 2,
                    synthetic_s: 30,
                },
            }
        } else {
            Self {
                runs: 3,
                ingest_ticks: 1_000_000,
                ingest_symbols: 100,
                latency_rate: 20_000.0,
                latency_duration: Duration::from_secs(4),
                export_symbols: 10_000,
                engine_one_symbol_s: 1_800,
                engine_hundred_symbols_s: 120,
                memory_duration: Duration::from_secs(10),
                scale_ticks: 200_000,
                scale_symbols: vec![1, 10, 100, 1_000],
                scale_subscribers: vec![1, 2, 4],
                scale_export: vec![100, 1_000, 10_000, 100_000],
                strategy: strategy::StrategyPlan {
                    runs: 3,
                    recording_s: None,
                    synthetic_symbols: 10,
                    synthetic_s: 300,
                },
            }
        };
        if let Some(r) = opts.runs {
            p.runs = r;
            p.strategy.runs = r;
        }
        if let Some(t) = opts.ticks {
            p.ingest_ticks = t;
        }
        p
    }
}

/// What every part shares: the Redis under test and a bare client of it.
pub(crate) struct Env {
    /// Redis URL.
    pub url: String,
    /// The store the services use.
    pub store: Arc<dyn Store>,
    /// The bare client's connection.
    pub conn: MultiplexedConnection,
    client: redis::Client,
    prefix: String,
    /// Runs per figure.
    pub runs: usize,
    counter: AtomicU64,
}

impl Env {
    async fn open(url: &str, runs: usize, hint: Option<&str>) -> BenchResult<Self> {
        let unreachable = |e: String| BenchError::StoreUnreachable {
            message: format!(
                "redis at {} is unreachable: {e}",
                shadowkpi_runtime::config::redact_url(url)
            ),
            hint: hint.map(str::to_string),
        };
        let store = RedisStore::connect(url, StoreOptions::default())
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let client =
            redis::Client::open(url).map_err(|e| unreachable(format!("{:?}", e.kind())))?;
        let conn = connection(&client, Duration::from_secs(30))
            .await
            .map_err(|e| unreachable(format!("{:?}", e.kind())))?;
        Ok(Self {
            url: url.to_string(),
            store: Arc::new(store),
            conn,
            client,
            prefix: format!("shadowkpi-bench:{}", std::process::id()),
            runs,
            counter: AtomicU64::new(0),
        })
    }

    /// A new store on the same Redis (its own connections).
    pub fn fresh_store(&self) -> BenchResult<Arc<dyn Store>> {
        Ok(Arc::new(
            RedisStore::open(&self.url, StoreOptions::default())
                .map_err(|e| bench_err("store", e))?,
        ))
    }

    /// A key under this run's prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// A name not used before in this run (`group-7`).
    pub fn unique(&self, name: &str) -> String {
        format!("{name}-{}", self.counter.fetch_add(1, Relaxed))
    }

    /// A fresh connection for a feed publisher.
    pub async fn publisher(&self) -> BenchResult<MultiplexedConnection> {
        connection(&self.client, Duration::from_secs(30))
            .await
            .map_err(redis_err)
    }

    /// A fresh connection for blocking reads.
    pub async fn dedicated(&self, timeout: Duration) -> BenchResult<MultiplexedConnection> {
        connection(&self.client, timeout).await.map_err(redis_err)
    }

    /// The longest a pass over `n` ticks may take before it counts as hung.
    pub fn hang_guard(&self, n: u64) -> Duration {
        Duration::from_secs(60 + n / 5_000)
    }

    /// Deletes every key of this run (streams, groups with them).
    async fn cleanup(&self) -> BenchResult<()> {
        let mut conn = self.conn.clone();
        for pattern in [
            format!("{}:*", self.prefix),
            "shadowkpibench:*".to_string(),
            "shadowkpibare:*".to_string(),
        ] {
            let keys = self
                .store
                .scan(&pattern)
                .await
                .map_err(|e| bench_err("cleanup", e))?;
            for chunk in keys.chunks(1_000) {
                redis::cmd("DEL")
                    .arg(chunk)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(redis_err)?;
            }
        }
        Ok(())
    }

    async fn redis_version(&self) -> String {
        let mut conn = self.conn.clone();
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        info.lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .map_or_else(|| "unknown".into(), |v| v.trim().to_string())
    }
}

async fn connection(
    client: &redis::Client,
    timeout: Duration,
) -> Result<MultiplexedConnection, redis::RedisError> {
    let cfg = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(timeout));
    client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await
}

/// A benchmark step failed.
pub(crate) fn bench_err(what: &str, e: impl std::fmt::Display) -> BenchError {
    BenchError::Failed(format!("bench: {what}: {e}"))
}

/// A bare-client Redis error (no URL in it).
pub(crate) fn redis_err(e: redis::RedisError) -> BenchError {
    if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() || e.is_timeout() {
        BenchError::StoreUnreachable {
            message: format!("bench: redis went away: {:?}", e.kind()),
            hint: None,
        }
    } else {
        BenchError::Failed(format!(
            "bench: redis refused a command: {}",
            e.detail().unwrap_or("unknown error")
        ))
    }
}

/// Runs `ours` and `bare` `runs` times each, alternating which goes first,
/// and returns both lists of figures.
pub(crate) async fn interleave(
    runs: usize,
    mut ours: impl AsyncFnMut() -> BenchResult<f64>,
    mut bare: impl AsyncFnMut() -> BenchResult<f64>,
) -> BenchResult<(Vec<f64>, Vec<f64>)> {
    let mut a = Vec::with_capacity(runs);
    let mut b = Vec::with_capacity(runs);
    for i in 0..runs {
        if i % 2 == 0 {
            a.push(ours().await?);
            b.push(bare().await?);
        } else {
            b.push(bare().await?);
            a.push(ours().await?);
        }
    }
    Ok((a, b))
}

/// Runs the parts `opts` asks for, removes the keys it wrote, writes the
/// report to `opts.out` and returns it.
pub async fn run(opts: &BenchOptions) -> BenchResult<BenchRun> {
    let plan = Plan::new(opts);
    let started = Instant::now();
    let started_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let private;
    let (url, private_note) = match &opts.redis_url {
        Some(u) => (u.clone(), false),
        None => {
            private = shadowkpi_testkit::RedisServer::try_start().map_err(|e| {
                BenchError::StoreUnreachable {
                    message: format!("cannot start a private redis-server: {e}"),
                    hint: Some(
                        "install redis-server (it must be on PATH), or pass --redis-url to benchmark an existing Redis"
                            .into(),
                    ),
                }
            })?;
            (private.url(), true)
        }
    };
    let env = Env::open(&url, plan.runs, opts.redis_hint.as_deref()).await?;
    let version = env.redis_version().await;
    let redis = format!(
        "{version} on {}{}",
        shadowkpi_runtime::config::redact_url(&url),
        if private_note {
            " (a private redis-server started by the benchmark, no persistence)"
        } else {
            ""
        }
    );
    let wants = |p: Part| opts.only.is_empty() || opts.only.contains(&p);
    eprintln!(
        "benchmarking against redis {redis}{}",
        if opts.quick { " (quick)" } else { "" }
    );

    let mut sections: Vec<Section> = Vec::new();
    let step = |name: &str| eprintln!("[{:>5.1} s] {name}", started.elapsed().as_secs_f64());
    let result: BenchResult<()> = async {
        if wants(Part::Ingest) {
            step("ingest throughput");
            sections.push(ingest::throughput(&env, plan.ingest_ticks, plan.ingest_symbols).await?);
        }
        if wants(Part::Latency) {
            step("ingest latency");
            let lp = ingest::LatencyPlan::new(plan.latency_rate, plan.latency_duration, 100);
            sections.push(ingest::latency(&env, &lp).await?);
        }
        if wants(Part::Export) {
            step("export throughput");
            sections.push(export::throughput(&env, plan.export_symbols).await?);
        }
        if wants(Part::Engine) {
            step("engine throughput");
            sections.push(
                engine::throughput(plan.runs, plan.engine_one_symbol_s, plan.engine_hundred_symbols_s)
                    .await?,
            );
        }
        if wants(Part::Memory) {
            step("memory");
            sections.push(
                memory::measure(&env, opts.ingestd_bin.as_deref(), plan.memory_duration).await?,
            );
        }
        if wants(Part::Scaling) {
            step("scaling");
            let mut s = Section::new(
                "scaling",
                "6. Scaling",
                format!(
                    "Ingest: backlogs of {} ticks through ingestd for 1–1,000 symbols (1 subscriber) and 1, 2, 4 \
                     subscribers (100 symbols; each subscriber gets every tick), against the bare XREADGROUP + XACK \
                     loop on the same stream. Export: one summary of 100 to 100,000 symbols, batch 50, against the \
                     bare pipelines of the same writes.",
                    report::fmt_number(plan.scale_ticks as f64)
                ),
            );
            ingest::scaling(
                &env,
                plan.scale_ticks,
                &plan.scale_symbols,
                &plan.scale_subscribers,
                &mut s,
            )
            .await?;
            export::scaling(&env, &plan.scale_export, &mut s).await?;
            sections.push(s);
        }
        if wants(Part::Strategy) {
            step("strategy API");
            sections.push(
                strategy::throughput(plan.strategy)
                    .await?,
            );
        }
        Ok(())
    }
    .await;
    let cleaned = env.cleanup().await;
    result?;
    cleaned?;
    step("done");

    let report = BenchReport {
        schema: "shadowkpi.bench/1",
        quick: opts.quick,
        command: command_line(),
        started_at,
        elapsed_s: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        machine: Machine::detect(),
        redis,
        runs: plan.runs,
        sections,
    };
    std::fs::create_dir_all(&opts.out)
        .map_err(|e| BenchError::Usage(format!("cannot create {}: {e}", opts.out.display())))?;
    let md = opts.out.join("BENCH_REPORT.md");
    let json = opts.out.join("BENCH_REPORT.json");
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, text)
            .map_err(|e| BenchError::Usage(format!("cannot write {}: {e}", path.display())))
    };
    write(&md, report.markdown())?;
    write(&json, report.json()?)?;
    Ok(BenchRun {
        report,
        markdown: md,
        json,
    })
}

/// The command line as typed, without a password in a Redis URL.
fn command_line() -> String {
    let args: Vec<String> = std::env::args()
        .map(|a| {
            if a.contains("://") {
                shadowkpi_runtime::config::redact_url(&a)
            } else {
                a
            }
        })
        .collect();
    let mut parts = args.into_iter();
    let exe = parts.next().unwrap_or_default();
    let name = std::path::Path::new(&exe)
        .file_name()
        .map_or_else(|| "shadowctl".into(), |n| n.to_string_lossy().into_owned());
    std::iter::once(name)
        .chain(parts)
        .collect::<Vec<_>>()
        .join(" ")
}
