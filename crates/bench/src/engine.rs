//! Engine throughput: recorded ticks replayed through the shadow engine in
//! memory, on one thread (ticks/s per core).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use shadowkpi_domain::engine::testfeed::btc_like_symbols;
use shadowkpi_domain::engine::{
    EngineConfig, ModelSet, ProbFunc, ProbQueue, QueueModel, ShadowEngine,
};
use shadowkpi_domain::params::StrategyParams;
use shadowkpi_domain::tick::Tick;

use super::bench_err;
use super::report::{Row, Section, fmt_number};
use crate::error::BenchResult;

const T0: i64 = 1_700_000_000_000;

/// `symbols` BTC-like symbols (~40 ticks/s each) over `seconds` of event time,
/// merged in time order.
fn recording(symbols: usize, seconds: i64) -> Vec<Tick> {
    btc_like_symbols(symbols, T0, seconds * 1000)
}

/// Seconds to replay `ticks` once (one-minute windows, all windows emitted).
fn replay(ticks: &[Tick], models: &ModelSet) -> BenchResult<(f64, usize)> {
    let cfg = EngineConfig::new(60_000)
        .with_params(StrategyParams::default())
        .with_models(models.clone())
        .with_seed(1);
    let started = Instant::now();
    let mut engine = ShadowEngine::new(cfg).map_err(|e| bench_err("engine", e))?;
    let mut windows = 0;
    for t in ticks {
        windows += engine.on_tick(black_box(t)).len();
    }
    windows += engine.finish().len();
    Ok((started.elapsed().as_secs_f64(), windows))
}

/// Section 4: 1 and 100 symbols, lenient and strict model sets.
pub async fn throughput(
    runs: usize,
    one_symbol_s: i64,
    hundred_symbols_s: i64,
) -> BenchResult<Section> {
    tokio::task::spawn_blocking(move || measure(runs, one_symbol_s, hundred_symbols_s))
        .await
        .map_err(|e| bench_err("engine task", e))?
}

fn measure(runs: usize, one_symbol_s: i64, hundred_symbols_s: i64) -> BenchResult<Section> {
    let one = recording(1, one_symbol_s);
    let many = recording(100, hundred_symbols_s);
    let mut section = Section::new(
        "engine_throughput",
        "4. Engine throughput",
        format!(
            "Recorded ticks (the engine's deterministic test feed: BTC-like, ~40 ticks/s per symbol) replayed in memory \
             through `ShadowEngine` on one thread, one-minute windows: {} ticks of 1 symbol, {} ticks of 100 symbols. \
             No Redis involved, so no bare ratio: the figure is ticks/s per core.",
            fmt_number(one.len() as f64),
            fmt_number(many.len() as f64)
        ),
    );
    // The built-in sets, then the dry-run set with each other queue model and
    // with partial fills: what each model costs.
    let with = |queue: Option<Arc<dyn QueueModel>>, partial: bool| {
        let strict = ModelSet::strict(7);
        ModelSet {
            queue: queue.unwrap_or(strict.queue.clone()),
            partial_fills: partial,
            ..strict
        }
    };
    for (name, models) in [
        ("lenient (front of queue)", ModelSet::lenient()),
        (
            "shadow (front of queue, constant latency)",
            ModelSet::shadow(),
        ),
        (
            "strict (risk-averse queue, random latency)",
            ModelSet::strict(7),
        ),
        (
            "strict with a prob_power(n=3) queue",
            with(Some(Arc::new(ProbQueue::new(ProbFunc::Power(3.0)))), false),
        ),
        ("strict with partial fills", with(None, true)),
    ] {
        for (label, ticks) in [("1 symbol", &one), ("100 symbols", &many)] {
            let mut rates = Vec::new();
            let mut windows = 0;
            for _ in 0..runs {
                let (secs, w) = replay(ticks, &models)?;
                rates.push(ticks.len() as f64 / secs);
                windows = w;
            }
            section.rows.push(
                Row::plain(format!("engine, {label}, {name}"), "ticks/s", rates)
                    .note(format!("{windows} windows")),
            );
        }
    }
    Ok(section)
}
