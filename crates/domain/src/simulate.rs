//! Offline simulation: the shadow engine run on recorded ticks, windowed and
//! gated exactly as a soak is, with no services and no store (what `shadowctl
//! simulate` prints).
//!
//! [`simulate`] takes the ticks of a recording (already decoded and merged, in
//! feed order: the replay readers of [`crate::feed::replay`] produce them),
//! resolves every symbol's parameters from a [`Profile`] (defaults → preset →
//! symbol) and its grid (the profile's `instruments`, else inferred from the
//! feed), builds the profile's model set by name, and runs one
//! [`ShadowEngine`] over the ticks of the chosen symbols. Each emitted window
//! becomes a [`SimWindow`] with its KPIs and its fills split by liquidity; the
//! per-window KPI sets are gated with [`GateThresholds::evaluate`] (median
//! aggregation, as shadowd does).
//!
//! # Windows
//! Event time, from the first tick of the chosen symbols: window `i` is
//! `[t0 + (i-1)·w, t0 + i·w)`. By default every window the data covers is
//! kept, the last one `partial` when the recording ends inside it (its
//! mark-outs are taken at the symbol's last mid); [`SimulateConfig::iterations`]
//! keeps the first N. [`SymbolReport::totals`] are the sums of the windows
//! kept, in window order.
//!
//! # Errors
//! No ticks at all, or a symbol asked for that the recording does not hold,
//! is a [`SimulateError`] naming the sources and the symbols found; an unknown
//! preset or model set names what is available.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::engine::{
    EngineConfig, EngineError, Liquidity, ModelSpecError, ShadowEngine, WindowResult,
};
use crate::gate::{GateThresholds, SoakVerdict};
use crate::instrument::InstrumentSource;
use crate::kpi::KpiSet;
use crate::params::StrategyParams;
use crate::profile::{Profile, ProfileError};
use crate::symbol::normalize_symbol;
use crate::tick::Tick;

/// The model set a simulation uses when none is named.
pub const DEFAULT_MODEL: &str = crate::engine::model_spec::DEFAULT_SOAK_MODEL;

/// What to simulate and how.
#[derive(Debug, Clone)]
pub struct SimulateConfig {
    /// Symbols to run (any spelling); empty runs every symbol of the recording.
    pub symbols: Vec<String>,
    /// The strategy profile (parameters, presets, model sets).
    pub profile: Profile,
    /// Preset of the profile, if any.
    pub preset: Option<String>,
    /// Name of the model set ([`Profile::model_set`]).
    pub model: String,
    /// Window length, event-time ms.
    pub window_ms: i64,
    /// Keep at most this many windows; `None` keeps every window the data
    /// covers.
    pub iterations: Option<u32>,
    /// Seed of every random model.
    pub seed: u64,
    /// The gate.
    pub thresholds: GateThresholds,
}

impl SimulateConfig {
    /// One-minute windows, the built-in profile's defaults, the default model
    /// set, seed 7, the contract's gate, every symbol and every window.
    pub fn new() -> Self {
        Self {
            symbols: Vec::new(),
            profile: Profile::builtin(),
            preset: None,
            model: DEFAULT_MODEL.to_string(),
            window_ms: 60_000,
            iterations: None,
            seed: 7,
            thresholds: GateThresholds::default(),
        }
    }
}

impl Default for SimulateConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The recording handed to [`simulate`].
#[derive(Debug, Clone, Copy)]
pub struct Recording<'a> {
    /// The ticks, in feed order.
    pub ticks: &'a [Tick],
    /// Where they came from (file names), for errors and the report.
    pub sources: &'a [String],
    /// Lines of the sources that could not be used (skipped by the reader).
    pub skipped: u64,
}

/// Why a simulation could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimulateError {
    /// The sources hold no usable tick.
    #[error("no ticks in {}", .sources.join(", "))]
    NoTicks {
        /// The sources.
        sources: Vec<String>,
    },
    /// A symbol asked for is not in the recording.
    #[error(
        "{} not in {}: the recording holds {}",
        .missing.join(", "),
        .sources.join(", "),
        .found.join(", ")
    )]
    UnknownSymbols {
        /// The symbols asked for that are absent (normalised).
        missing: Vec<String>,
        /// The symbols the recording holds.
        found: Vec<String>,
        /// The sources.
        sources: Vec<String>,
    },
    /// A symbol asked for normalises to nothing.
    #[error("symbol `{0}` is empty once normalised")]
    InvalidSymbol(String),
    /// `window_ms` or `iterations` is unusable.
    #[error("{field}: {message}")]
    Invalid {
        /// `window_ms` or `iterations`.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The profile: an unknown preset or model set, or bad parameters.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The model set cannot be built.
    #[error("model set `{name}`: {source}")]
    Models {
        /// The set's name.
        name: String,
        /// What is wrong.
        source: ModelSpecError,
    },
    /// The engine refused its configuration.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// One symbol's grid and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InstrumentReport {
    /// Price increment.
    pub tick_size: f64,
    /// Size increment.
    pub lot_size: f64,
    /// `configured` or `inferred` (from the feed).
    pub source: InstrumentSource,
}

/// One symbol in one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimWindow {
    /// 1-based window number.
    pub iteration: u32,
    /// Window start, event-time ms (inclusive).
    pub start_ms: i64,
    /// Window end, event-time ms (exclusive).
    pub end_ms: i64,
    /// True for a last window the recording ends inside.
    pub partial: bool,
    /// Ticks of the symbol applied in the window.
    pub ticks: u64,
    /// The window's KPIs.
    pub kpis: KpiSet,
    /// Maker fills.
    pub maker_fills: u64,
    /// Taker fills (hedges and crossing orders).
    pub taker_fills: u64,
    /// Filled maker quantity, base units.
    pub maker_volume: f64,
    /// Filled taker quantity, base units.
    pub taker_volume: f64,
}

/// Sums over a symbol's windows.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SimTotals {
    /// Maker fills.
    pub maker_fills: u64,
    /// Taker fills.
    pub taker_fills: u64,
    /// Filled maker quantity.
    pub maker_volume: f64,
    /// Filled taker quantity.
    pub taker_volume: f64,
    /// Ticks applied.
    pub ticks: u64,
}

/// One symbol's simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolReport {
    /// The grid it ran on (absent when the symbol never ticked).
    pub instrument: Option<InstrumentReport>,
    /// Its windows, oldest first.
    pub windows: Vec<SimWindow>,
    /// Sums of `windows`.
    pub totals: SimTotals,
}

/// The model set used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReport {
    /// Its name.
    pub name: String,
    /// Every parameter on one line.
    pub describe: String,
}

/// The outcome of [`simulate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationReport {
    /// Per symbol.
    pub symbols: BTreeMap<String, SymbolReport>,
    /// The gate over every symbol's windows.
    pub verdict: SoakVerdict,
    /// The gate's thresholds.
    pub thresholds: GateThresholds,
    /// The model set.
    pub model: ModelReport,
    /// Each symbol's resolved parameters.
    pub params: BTreeMap<String, StrategyParams>,
    /// The preset, if any.
    pub preset: Option<String>,
    /// Window length, ms.
    pub window_ms: i64,
    /// Seed.
    pub seed: u64,
    /// The sources.
    pub sources: Vec<String>,
    /// Ticks of the recording (every symbol).
    pub ticks_read: u64,
    /// Lines the reader skipped.
    pub lines_skipped: u64,
    /// Event time of the first and last tick of the chosen symbols, ms.
    pub span_ms: (i64, i64),
}

/// Runs the engine over `recording` as `config` says.
pub fn simulate(
    recording: Recording<'_>,
    config: &SimulateConfig,
) -> Result<SimulationReport, SimulateError> {
    if config.window_ms <= 0 {
        return Err(SimulateError::Invalid {
            field: "window_ms",
            message: format!("must be positive, got {}", config.window_ms),
        });
    }
    if config.iterations == Some(0) {
        return Err(SimulateError::Invalid {
            field: "iterations",
            message: "must be at least 1".into(),
        });
    }
    let sources = recording.sources.to_vec();
    if recording.ticks.is_empty() {
        return Err(SimulateError::NoTicks { sources });
    }
    let found: BTreeSet<&str> = recording.ticks.iter().map(|t| t.symbol.as_str()).collect();
    let mut chosen = BTreeSet::new();
    for s in &config.symbols {
        chosen.insert(normalize_symbol(s).ok_or_else(|| SimulateError::InvalidSymbol(s.clone()))?);
    }
    let missing: Vec<String> = chosen
        .iter()
        .filter(|s| !found.contains(s.as_str()))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(SimulateError::UnknownSymbols {
            missing,
            found: found.iter().map(|s| s.to_string()).collect(),
            sources,
        });
    }
    if chosen.is_empty() {
        chosen = found.iter().map(|s| s.to_string()).collect();
    }

    let preset = config.preset.as_deref().filter(|p| !p.is_empty());
    let spec = config.profile.model_set(&config.model)?;
    let models = spec
        .build(config.seed)
        .map_err(|source| SimulateError::Models {
            name: config.model.clone(),
            source,
        })?;
    let mut params = BTreeMap::new();
    let mut engine_config = EngineConfig::new(config.window_ms)
        .with_models(models)
        .with_seed(config.seed);
    // The profile's grids; symbols without one are inferred from the feed.
    engine_config.instruments = config.profile.instruments.clone();
    for s in &chosen {
        let p = config.profile.resolve(s, preset, &Default::default())?;
        engine_config = engine_config.with_symbol(s, p.clone());
        if let Some(i) = config.profile.instrument(s) {
            engine_config = engine_config.with_instrument(s, i);
        }
        params.insert(s.clone(), p);
    }
    let mut engine = ShadowEngine::new(engine_config)?;

    let limit = config.iterations.unwrap_or(u32::MAX);
    let mut windows: Vec<WindowResult> = Vec::new();
    let mut span: Option<(i64, i64)> = None;
    for t in recording.ticks {
        if !chosen.contains(&t.symbol) {
            continue;
        }
        span = Some(span.map_or((t.ts_server_ms, t.ts_server_ms), |(a, b)| {
            (a.min(t.ts_server_ms), b.max(t.ts_server_ms))
        }));
        windows.extend(engine.on_tick(t));
        if windows.iter().any(|w| w.iteration >= limit) {
            break;
        }
    }
    if !windows.iter().any(|w| w.iteration >= limit) {
        windows.extend(engine.finish());
    }
    windows.retain(|w| w.iteration <= limit);

    let mut symbols = BTreeMap::new();
    let mut per_symbol: BTreeMap<String, Vec<KpiSet>> = BTreeMap::new();
    for s in &chosen {
        let mut report = SymbolReport {
            instrument: engine.instrument(s).map(|(i, source)| InstrumentReport {
                tick_size: i.tick_size,
                lot_size: i.lot_size,
                source,
            }),
            windows: Vec::with_capacity(windows.len()),
            totals: SimTotals::default(),
        };
        let kpis = per_symbol.entry(s.clone()).or_default();
        for w in &windows {
            let Some(sw) = w.symbols.get(s) else {
                continue;
            };
            let mut win = SimWindow {
                iteration: w.iteration,
                start_ms: w.window.start_ms,
                end_ms: w.window.end_ms,
                partial: w.partial,
                ticks: sw.ticks,
                kpis: sw.kpis.clone(),
                maker_fills: 0,
                taker_fills: 0,
                maker_volume: 0.0,
                taker_volume: 0.0,
            };
            for f in &sw.fills {
                match f.liquidity {
                    Liquidity::Maker => {
                        win.maker_fills += 1;
                        win.maker_volume += f.qty;
                    }
                    Liquidity::Taker => {
                        win.taker_fills += 1;
                        win.taker_volume += f.qty;
                    }
                }
            }
            let t = &mut report.totals;
            t.maker_fills += win.maker_fills;
            t.taker_fills += win.taker_fills;
            t.maker_volume += win.maker_volume;
            t.taker_volume += win.taker_volume;
            t.ticks += win.ticks;
            kpis.push(win.kpis.clone());
            report.windows.push(win);
        }
        symbols.insert(s.clone(), report);
    }
    let verdict = config.thresholds.evaluate(&per_symbol);
    Ok(SimulationReport {
        symbols,
        verdict,
        thresholds: config.thresholds.clone(),
        model: ModelReport {
            name: config.model.clone(),
            describe: spec.describe(),
        },
        params,
        preset: preset.map(str::to_string),
        window_ms: config.window_ms,
        seed: config.seed,
        sources: recording.sources.to_vec(),
        ticks_read: recording.ticks.len() as u64,
        lines_skipped: recording.skipped,
        span_ms: span.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testfeed::{FeedSpec, merge};

    const T0: i64 = 1_700_000_000_000;

    fn ticks() -> Vec<Tick> {
        merge(vec![
            FeedSpec::btc_like(1, T0, 150_000).generate(),
            FeedSpec::eth_like(2, T0, 150_000).generate(),
        ])
    }

    fn run(config: &SimulateConfig, ticks: &[Tick]) -> Result<SimulationReport, SimulateError> {
        let sources = ["a.jsonl".to_string(), "b.jsonl".to_string()];
        simulate(
            Recording {
                ticks,
                sources: &sources,
                skipped: 0,
            },
            config,
        )
    }

    #[test]
    fn every_window_is_kept_and_totals_are_their_sums() {
        let ticks = ticks();
        let r = run(&SimulateConfig::new(), &ticks).unwrap();
        assert_eq!(r.symbols.keys().collect::<Vec<_>>(), ["BTCUSDT", "ETHUSDT"]);
        assert_eq!(r.ticks_read, ticks.len() as u64);
        let mut applied = 0;
        for (sym, s) in &r.symbols {
            // 150 s in 60 s windows: two full windows and a partial third.
            let iters: Vec<(u32, bool)> =
                s.windows.iter().map(|w| (w.iteration, w.partial)).collect();
            assert_eq!(iters, [(1, false), (2, false), (3, true)], "{sym}");
            let sum: u64 = s.windows.iter().map(|w| w.maker_fills).sum();
            assert_eq!(s.totals.maker_fills, sum);
            let vol: f64 = s.windows.iter().map(|w| w.maker_volume).sum();
            assert_eq!(s.totals.maker_volume, vol);
            for w in &s.windows {
                assert_eq!(w.maker_fills + w.taker_fills, w.kpis.total_fills);
            }
            applied += s.totals.ticks;
        }
        assert_eq!(applied, ticks.len() as u64);
        assert_eq!(r.verdict.symbols.len(), 2);
        assert!(r.verdict.symbols.iter().all(|v| v.windows == 3));
        assert_eq!(r.model.name, "shadow");
    }

    #[test]
    fn iterations_and_symbols_narrow_the_run() {
        let ticks = ticks();
        let config = SimulateConfig {
            symbols: vec!["eth-usdt".into()],
            iterations: Some(2),
            ..SimulateConfig::new()
        };
        let r = run(&config, &ticks).unwrap();
        assert_eq!(r.symbols.keys().collect::<Vec<_>>(), ["ETHUSDT"]);
        let w = &r.symbols["ETHUSDT"].windows;
        assert_eq!(w.len(), 2);
        assert!(!w[1].partial);
        assert_eq!(r.verdict.symbols[0].windows, 2);
    }

    #[test]
    fn bad_input_names_the_sources_and_the_symbols_found() {
        let ticks = ticks();
        let config = SimulateConfig {
            symbols: vec!["SOLUSDT".into(), "BTCUSDT".into()],
            ..SimulateConfig::new()
        };
        let e = run(&config, &ticks).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SOLUSDT not in a.jsonl, b.jsonl: the recording holds BTCUSDT, ETHUSDT"
        );
        let e = run(&SimulateConfig::new(), &[]).unwrap_err();
        assert_eq!(e.to_string(), "no ticks in a.jsonl, b.jsonl");
        let config = SimulateConfig {
            model: "nope".into(),
            ..SimulateConfig::new()
        };
        assert!(
            run(&config, &ticks)
                .unwrap_err()
                .to_string()
                .contains("`nope`")
        );
        let config = SimulateConfig {
            iterations: Some(0),
            ..SimulateConfig::new()
        };
        assert!(matches!(
            run(&config, &ticks),
            Err(SimulateError::Invalid {
                field: "iterations",
                ..
            })
        ));
    }

    #[test]
    fn a_configured_instrument_is_used_and_reported() {
        let ticks = ticks();
        let mut config = SimulateConfig::new();
        let grid = crate::instrument::Instrument::new(0.5, 0.01).unwrap();
        config.profile.instruments.insert("BTCUSDT".into(), grid);
        let r = run(&config, &ticks).unwrap();
        let i = r.symbols["BTCUSDT"].instrument.unwrap();
        assert_eq!(
            (i.tick_size, i.lot_size, i.source),
            (0.5, 0.01, InstrumentSource::Configured)
        );
        let e = r.symbols["ETHUSDT"].instrument.unwrap();
        assert_eq!(e.source, InstrumentSource::Inferred);
    }
}
