//! Replays the engine's deterministic test feed through `ShadowEngine`, as
//! `shadowctl bench --only engine` does, with one model set: a small driver to
//! profile the engine under `valgrind --tool=callgrind` or `perf`.
//!
//! ```text
//! cargo run --release -p shadowkpi-domain --example engine_replay -- \
//!     [--symbols N] [--seconds S] [--models strict|lenient|shadow] \
//!     [--queue front|risk_averse|prob_power3] [--partial] [--runs R] [--digest]
//! ```
//!
//! Prints ticks, windows and ticks/s (best and median of the runs). `--digest`
//! prints a hash of every emitted window instead (same replay, same digest).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use shadowkpi_domain::engine::testfeed::btc_like_symbols;
use shadowkpi_domain::engine::{
    EngineConfig, FrontOfQueue, ModelSet, ProbFunc, ProbQueue, QueueModel, RiskAverseQueue,
    ShadowEngine, WindowResult,
};
use shadowkpi_domain::params::StrategyParams;
use shadowkpi_domain::tick::Tick;

const T0: i64 = 1_700_000_000_000;

fn recording(symbols: usize, seconds: i64) -> Vec<Tick> {
    btc_like_symbols(symbols, T0, seconds * 1000)
}

fn replay(ticks: &[Tick], models: &ModelSet, mut sink: impl FnMut(WindowResult)) -> f64 {
    let cfg = EngineConfig::new(60_000)
        .with_params(StrategyParams::default())
        .with_models(models.clone())
        .with_seed(1);
    let started = Instant::now();
    let Ok(mut engine) = ShadowEngine::new(cfg) else {
        eprintln!("bad engine config");
        std::process::exit(2);
    };
    for t in ticks {
        for w in engine.on_tick(black_box(t)) {
            sink(w);
        }
    }
    for w in engine.finish() {
        sink(w);
    }
    started.elapsed().as_secs_f64()
}

/// FNV-1a over the windows' debug form: a cheap fingerprint of every KPI,
/// fill and counter.
fn digest(windows: &[WindowResult]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("{windows:?}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn main() {
    let (mut symbols, mut seconds, mut runs) = (1usize, 1_800i64, 1usize);
    let (mut models, mut queue, mut partial, mut show_digest) =
        ("strict".to_string(), None::<String>, false, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next().unwrap_or_else(|| {
                eprintln!("{a} needs a value");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--symbols" => symbols = value().parse().unwrap_or(1),
            "--seconds" => seconds = value().parse().unwrap_or(1_800),
            "--runs" => runs = value().parse().unwrap_or(1),
            "--models" => models = value(),
            "--queue" => queue = Some(value()),
            "--partial" => partial = true,
            "--digest" => show_digest = true,
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let mut set = match models.as_str() {
        "lenient" => ModelSet::lenient(),
        "shadow" => ModelSet::shadow(),
        "strict" => ModelSet::strict(7),
        other => {
            eprintln!("unknown model set {other}");
            std::process::exit(2);
        }
    };
    if let Some(q) = queue {
        let q: Arc<dyn QueueModel> = match q.as_str() {
            "front" => Arc::new(FrontOfQueue),
            "risk_averse" => Arc::new(RiskAverseQueue),
            "prob_power3" => Arc::new(ProbQueue::new(ProbFunc::Power(3.0))),
            other => {
                eprintln!("unknown queue {other}");
                std::process::exit(2);
            }
        };
        set.queue = q;
    }
    set.partial_fills |= partial;
    let ticks = recording(symbols, seconds);
    if show_digest {
        let mut out = Vec::new();
        replay(&ticks, &set, |w| out.push(w));
        println!(
            "{} ticks {} windows digest {:016x}",
            ticks.len(),
            out.len(),
            digest(&out)
        );
        return;
    }
    let mut rates = Vec::new();
    let mut windows = 0;
    for _ in 0..runs.max(1) {
        windows = 0;
        let secs = replay(&ticks, &set, |_| windows += 1);
        rates.push(ticks.len() as f64 / secs);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "{} ticks {} windows best {:.0} median {:.0} ticks/s ({})",
        ticks.len(),
        windows,
        rates[rates.len() - 1],
        rates[rates.len() / 2],
        set.describe()
    );
}
