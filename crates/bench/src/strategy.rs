//! The strategy API's cost: ticks through the engine with the built-in market
//! maker, and with the same rules in the Rust example
//! (`examples/strategies/rust`) over loopback gRPC, in lockstep, once asked
//! for every decision and once only for decisions where something changed.
//! Two feeds: the real USD-M recording of the repository's `data/` (embedded
//! in the binary, so the figure does not depend on the working directory),
//! and the engine's synthetic test feed, whose every tick moves the touch
//! (the worst case of waking on change).
//!
//! The example serves on a thread of its own (its own single-threaded
//! runtime, a TCP listener on 127.0.0.1) and the engine dials it as shadowd
//! does, so every round trip crosses the loopback and both protobuf codecs.
//! Each external run must give the built-in run's windows exactly; a run that
//! does not is an error, not a figure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::read::MultiGzDecoder;
use shadowkpi_domain::engine::testfeed::btc_like_symbols;
use shadowkpi_domain::engine::{
    EngineConfig, ModelSet, ShadowEngine, StrategyFactory as _, WindowResult,
};
use shadowkpi_domain::feed::replay::{MergeClock, TardisMerge, tardis_csv};
use shadowkpi_domain::instrument::Instrument;
use shadowkpi_domain::params::ParamOverrides;
use shadowkpi_domain::params::StrategyParams;
use shadowkpi_domain::profile::Profile;
use shadowkpi_domain::tick::Tick;
use shadowkpi_proto::v1::WakeOn;
use shadowkpi_strategy::{Phase, RemoteStrategy, SessionConfig};
use tokio::sync::oneshot;

use super::bench_err;
use super::report::{Row, Section, fmt_number};
use crate::error::BenchResult;

const T0: i64 = 1_700_000_000_000;

/// Events per second the issue asks of one soak through an external
/// strategy.
pub const TARGET_EVENTS_PER_S: f64 = 50_000.0;

/// The Rust example serving on a free loopback port until dropped.
struct Example {
    addr: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Example {
    fn start(wake_on: WakeOn) -> BenchResult<Self> {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bench-strategy".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = addr_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = addr_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let addr = listener.local_addr().map_err(|e| e.to_string());
                    let _ = addr_tx.send(addr);
                    let shutdown = async {
                        let _ = stopped.await;
                    };
                    if let Err(e) = quoting_strategy::serve(listener, wake_on, shutdown).await {
                        eprintln!("the example strategy stopped: {e}");
                    }
                });
            })
            .map_err(|e| bench_err("the example strategy's thread", e))?;
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|e| bench_err("the example strategy's address", e))?
            .map_err(|e| bench_err("the example strategy's listener", e))?;
        Ok(Self {
            addr: format!("http://{addr}"),
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The embedded USD-M recording (Binance BTCUSDT perpetual, 2024-08-08,
/// every best bid/ask and trade; data/binance-btcusdt-2024-08-08, MIT).
const USDM_QUOTES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/binance-btcusdt-2024-08-08/usdm_quotes.csv.gz"
));
const USDM_TRADES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/binance-btcusdt-2024-08-08/usdm_trades.csv.gz"
));

/// The recording's ticks, merged on the exchange's clock; the first
/// `limit_s` seconds of it when given.
fn usdm(limit_s: Option<i64>) -> BenchResult<Vec<Tick>> {
    let sources = [
        ("usdm_quotes.csv.gz", USDM_QUOTES),
        ("usdm_trades.csv.gz", USDM_TRADES),
    ]
    .into_iter()
    .map(|(name, bytes)| {
        let reader = std::io::BufReader::new(MultiGzDecoder::new(bytes));
        tardis_csv(reader, name, MergeClock::Exchange)
            .map_err(|e| bench_err("the embedded recording", e))
    })
    .collect::<BenchResult<Vec<_>>>()?;
    let mut ticks: Vec<Tick> = TardisMerge::new(sources).filter_map(Result::ok).collect();
    let Some(t0) = ticks.first().map(|t| t.ts_server_ms) else {
        return Err(bench_err("the embedded recording", "no ticks"));
    };
    if let Some(s) = limit_s {
        ticks.retain(|t| t.ts_server_ms < t0 + s * 1000);
    }
    Ok(ticks)
}

/// A feed of the section: its ticks and each symbol's parameters and grid.
struct Feed {
    label: String,
    ticks: Vec<Tick>,
    symbols: Vec<(String, StrategyParams, Option<Instrument>)>,
}

impl Feed {
    /// The engine of every run: one-minute windows, the soak's model set.
    fn config(&self) -> EngineConfig {
        let mut cfg = EngineConfig::new(60_000)
            .with_models(ModelSet::shadow())
            .with_seed(7);
        for (s, params, grid) in &self.symbols {
            cfg = cfg.with_symbol(s, params.clone());
            if let Some(g) = grid {
                cfg = cfg.with_instrument(s, *g);
            }
        }
        cfg
    }
}

/// The recording with the shipped profile's BTCUSDT parameters and the
/// exchange's grid.
fn recorded(limit_s: Option<i64>) -> BenchResult<Feed> {
    let params = Profile::builtin()
        .resolve("BTCUSDT", None, &ParamOverrides::default())
        .map_err(|e| bench_err("the shipped profile", e))?;
    let grid = Instrument::new(0.1, 0.001).map_err(|e| bench_err("the BTCUSDT grid", e))?;
    Ok(Feed {
        label: "USD-M recording".into(),
        ticks: usdm(limit_s)?,
        symbols: vec![("BTCUSDT".into(), params, Some(grid))],
    })
}

/// `n` synthetic BTC-like symbols over `seconds`, default parameters, the
/// grid inferred from the feed.
fn synthetic(n: usize, seconds: i64) -> Feed {
    let ticks = btc_like_symbols(n, T0, seconds * 1000);
    let mut names: Vec<String> = ticks.iter().map(|t| t.symbol.clone()).collect();
    names.sort();
    names.dedup();
    Feed {
        label: format!("synthetic, {n} symbol{}", if n == 1 { "" } else { "s" }),
        ticks,
        symbols: names
            .into_iter()
            .map(|s| (s, StrategyParams::default(), None))
            .collect(),
    }
}

/// Replays `ticks` through `cfg`; seconds taken and the windows.
fn replay(cfg: EngineConfig, ticks: &[Tick]) -> BenchResult<(f64, Vec<WindowResult>)> {
    let started = Instant::now();
    let mut engine = ShadowEngine::new(cfg).map_err(|e| bench_err("engine", e))?;
    let mut windows = Vec::new();
    for t in ticks {
        windows.extend(engine.on_tick(t));
    }
    windows.extend(engine.finish());
    Ok((started.elapsed().as_secs_f64(), windows))
}

/// A session with the example at `addr` for the feed's symbols.
fn session(addr: &str, feed: &Feed, cfg: &EngineConfig) -> BenchResult<RemoteStrategy> {
    shadowkpi_strategy::connect(SessionConfig {
        address: addr.to_string(),
        timeout: Duration::from_secs(30),
        run_id: "bench".into(),
        phase: Phase::Soak,
        symbols: feed
            .symbols
            .iter()
            .map(|(s, p, _)| (s.clone(), p.clone()))
            .collect(),
        max_orders_per_decision: cfg.max_orders_per_decision,
        model_set: "shadow".into(),
        seed: 7,
    })
    .map_err(|e| bench_err("a session with the example strategy", e))
}

/// One external run: seconds, round trips, decisions answered without one.
fn external(addr: &str, feed: &Feed, builtin: &[WindowResult]) -> BenchResult<(f64, u64, u64)> {
    let cfg = feed.config();
    let remote = session(addr, feed, &cfg)?;
    let (secs, windows) = replay(cfg.with_strategy(Arc::new(remote.clone())), &feed.ticks)?;
    if let Some(f) = remote.fault() {
        return Err(bench_err("the example strategy", f.message));
    }
    if windows != builtin {
        return Err(bench_err(
            "the example strategy",
            "its windows differ from the built-in strategy's on the same ticks",
        ));
    }
    let stats = remote.stats();
    Ok((secs, stats.requests, stats.skipped))
}

/// Sizes of section 7.
#[derive(Debug, Clone, Copy)]
pub struct StrategyPlan {
    /// Runs per figure.
    pub runs: usize,
    /// Seconds of the recording (all of it: `None`).
    pub recording_s: Option<i64>,
    /// Symbols of the synthetic feed.
    pub synthetic_symbols: usize,
    /// Seconds of the synthetic feed.
    pub synthetic_s: i64,
}

/// Section 7: the recording, and the synthetic feed.
pub async fn throughput(plan: StrategyPlan) -> BenchResult<Section> {
    tokio::task::spawn_blocking(move || measure(plan))
        .await
        .map_err(|e| bench_err("strategy task", e))?
}

fn measure(plan: StrategyPlan) -> BenchResult<Section> {
    let every = Example::start(WakeOn::EveryDecision)?;
    let change = Example::start(WakeOn::Change)?;
    let feeds = [
        recorded(plan.recording_s)?,
        synthetic(plan.synthetic_symbols, plan.synthetic_s),
    ];
    let mut section = Section::new(
        "strategy_api",
        "7. Strategy API",
        format!(
            "Ticks through the engine (one-minute windows, the `shadow` model set) with the built-in market maker, \
             then with the Rust example (`examples/strategies/rust`, the same rules) over loopback gRPC in lockstep: \
             a `DecideRequest` per decision (one per millisecond of a symbol's feed) with every decision \
             (`WAKE_ON_EVERY_DECISION`), or only where the touch, the grid or the strategy's orders changed \
             (`WAKE_ON_CHANGE`: the engine answers the rest itself and counts them into the next request). Feeds: \
             the real USD-M recording of `data/` ({} ticks, BTCUSDT, the shipped profile, embedded in the \
             binary), and the synthetic test feed ({} ticks, {} symbols, {} s), whose every tick moves the \
             touch, so waking on change saves nothing there (the worst case; no target). The example serves on a \
             thread of its own with its own runtime. Every external run gave the built-in run's windows exactly \
             (checked). `bare` is the built-in strategy on the same ticks in the same run; the target is events \
             (ticks) per second of one soak.",
            fmt_number(feeds[0].ticks.len() as f64),
            fmt_number(feeds[1].ticks.len() as f64),
            plan.synthetic_symbols,
            plan.synthetic_s
        ),
    );
    for (i, feed) in feeds.iter().enumerate() {
        let (mut builtin_rates, mut builtin_secs) = (Vec::new(), Vec::new());
        let mut ext: [(Vec<f64>, Vec<f64>, u64, u64); 2] = Default::default();
        let mut reference = None;
        for _ in 0..plan.runs {
            let (secs, windows) = replay(feed.config(), &feed.ticks)?;
            builtin_rates.push(feed.ticks.len() as f64 / secs);
            builtin_secs.push(secs);
            let reference = reference.get_or_insert(windows);
            for (slot, example) in ext.iter_mut().zip([&every, &change]) {
                let (secs, trips, skipped) = external(&example.addr, feed, reference)?;
                slot.0.push(feed.ticks.len() as f64 / secs);
                slot.1.push(secs);
                (slot.2, slot.3) = (trips, skipped);
            }
        }
        let fills: usize = reference
            .iter()
            .flatten()
            .map(|w| w.symbols.values().map(|s| s.fills.len()).sum::<usize>())
            .sum();
        let ticks = feed.ticks.len() as f64;
        section.rows.push(
            Row::plain(
                format!("built-in strategy, {}", feed.label),
                "ticks/s",
                builtin_rates.clone(),
            )
            .note(format!("{} ticks, {fills} fills", fmt_number(ticks))),
        );
        for ((rates, secs, trips, skipped), how) in
            ext.into_iter().zip(["every decision", "on change"])
        {
            // What a round trip costs: the external run's time over the
            // built-in run's, per request.
            let per_trip: Vec<f64> = secs
                .iter()
                .zip(&builtin_secs)
                .map(|(e, b)| (e - b).max(0.0) / trips.max(1) as f64 * 1e6)
                .collect();
            let lockstep = crate::report::median(&per_trip);
            let row = Row::versus(
                format!("Rust example over loopback, {how}, {}", feed.label),
                "ticks/s",
                rates,
                builtin_rates.clone(),
            )
            .note(format!(
                "{trips} round trips ({:.2} per tick), {skipped} decisions answered by the engine; \
                 {lockstep:.1} µs per round trip",
                trips as f64 / ticks,
            ));
            // The target is for a soak's feed: the recording.
            section.rows.push(if i == 0 {
                row.at_least(TARGET_EVENTS_PER_S)
            } else {
                row
            });
        }
    }
    Ok(section)
}
