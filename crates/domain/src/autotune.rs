//! Auto-tune: a grid search over the quoting parameters on a recording.
//!
//! For each candidate of the [`SearchSpace`] (a grid over `touch_dwell_ms`,
//! `min_lot` and `quote_offset_bps`, other parameters from the base set), the
//! recording is replayed through a fresh single-symbol [`ShadowEngine`] and the
//! resulting windows are gated. The winner is the passing candidate with the
//! highest median `edge_bps`; ties keep the earlier grid point, so the result is
//! deterministic.
//!
//! Windows: only full windows are gated (the trailing partial window is
//! dropped) unless the recording is shorter than one window, in which case the
//! partial window is all there is. A recording usually holds fewer windows than
//! a soak, so `min_windows` is lowered to the number of windows available
//! ([`AutotuneResult::min_windows_used`] says what was used); every other
//! threshold applies unchanged.
//!
//! When nothing passes, [`AutotuneResult::message`] says so plainly — "no
//! parameter set passes every threshold" — with the closest candidate and its
//! reasons.

use serde::{Deserialize, Serialize};

use crate::engine::{EngineConfig, EngineError, ModelSet, ShadowEngine, WindowResult};
use crate::gate::GateThresholds;
use crate::kpi::KpiSet;
use crate::params::{ParamOverrides, StrategyParams};
use crate::profile::Profile;
use crate::symbol::normalize_symbol;
use crate::tick::Tick;

/// The grid to search; every combination is tried, in the order
/// dwell × lot × offset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSpace {
    /// Values of `touch_dwell_ms`.
    pub touch_dwell_ms: Vec<f64>,
    /// Values of `min_lot`.
    pub min_lot: Vec<f64>,
    /// Values of `quote_offset_bps`.
    pub quote_offset_bps: Vec<f64>,
}

impl SearchSpace {
    /// The default grid around `base`: dwell 0/25/50/100 ms, lot ½×/1×/2× the
    /// base lot (lot sizes are per instrument, so the grid scales with it), and
    /// offsets 0–8 bps (0 joins the touch; deeper quotes wait for the mid to
    /// come to them and earn its reversion). 96 candidates.
    pub fn around(base: &StrategyParams) -> Self {
        Self {
            touch_dwell_ms: vec![0.0, 25.0, 50.0, 100.0],
            min_lot: vec![base.min_lot * 0.5, base.min_lot, base.min_lot * 2.0],
            quote_offset_bps: vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0],
        }
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.touch_dwell_ms.len() * self.min_lot.len() * self.quote_offset_bps.len()
    }

    /// True when the grid has no candidate.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every candidate parameter set, in grid order.
    pub fn candidates(&self, base: &StrategyParams) -> Vec<StrategyParams> {
        let mut out = Vec::with_capacity(self.len());
        for &touch_dwell_ms in &self.touch_dwell_ms {
            for &min_lot in &self.min_lot {
                for &quote_offset_bps in &self.quote_offset_bps {
                    out.push(StrategyParams {
                        touch_dwell_ms,
                        min_lot,
                        quote_offset_bps,
                        ..base.clone()
                    });
                }
            }
        }
        out
    }
}

/// Everything but the recording and the base parameters.
#[derive(Debug, Clone)]
pub struct AutotuneConfig {
    /// Window length, event-time ms.
    pub window_ms: i64,
    /// Exchange models to replay with.
    pub models: ModelSet,
    /// Gate thresholds (`min_windows` is capped by the recording).
    pub thresholds: GateThresholds,
    /// The grid; `None` means [`SearchSpace::around`] the base parameters.
    pub space: Option<SearchSpace>,
    /// Engine seed.
    pub seed: u64,
}

impl AutotuneConfig {
    /// One-minute windows, lenient models, default thresholds and grid, seed 0.
    pub fn new(window_ms: i64) -> Self {
        Self {
            window_ms,
            models: ModelSet::lenient(),
            thresholds: GateThresholds::default(),
            space: None,
            seed: 0,
        }
    }
}

/// One evaluated parameter set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The full parameter set.
    pub params: StrategyParams,
    /// Median KPIs over the gated windows.
    pub aggregate: KpiSet,
    /// Windows gated.
    pub windows: u32,
    /// True when no threshold was missed.
    pub passes: bool,
    /// Missed thresholds, as the gate words them.
    pub reasons: Vec<String>,
}

impl Candidate {
    /// `touch_dwell_ms=0 min_lot=0.01 quote_offset_bps=6`.
    pub fn describe_params(&self) -> String {
        format!(
            "touch_dwell_ms={} min_lot={} quote_offset_bps={}",
            self.params.touch_dwell_ms, self.params.min_lot, self.params.quote_offset_bps
        )
    }

    fn describe_kpis(&self) -> String {
        let k = &self.aggregate;
        let f = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.3}"));
        format!(
            "edge_bps {}, maker_taker_ratio {}, p95_latency_ms {}, risk_ratio {}, fills {}",
            f(k.edge_bps),
            f(k.maker_taker_ratio),
            f(k.p95_latency_ms),
            f(k.risk_ratio),
            k.total_fills
        )
    }
}

/// Outcome of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutotuneResult {
    /// Normalised symbol.
    pub symbol: String,
    /// The passing candidate with the highest median edge, if any passes.
    pub best: Option<Candidate>,
    /// Every candidate, in grid order.
    pub candidates: Vec<Candidate>,
    /// One plain sentence on the outcome.
    pub message: String,
    /// Windows the recording yields.
    pub windows_available: u32,
    /// The `min_windows` actually required.
    pub min_windows_used: u32,
}

impl AutotuneResult {
    /// The tuned fields of the best candidate as overrides.
    pub fn best_overrides(&self) -> Option<ParamOverrides> {
        self.best.as_ref().map(|b| ParamOverrides {
            touch_dwell_ms: Some(b.params.touch_dwell_ms),
            min_lot: Some(b.params.min_lot),
            quote_offset_bps: Some(b.params.quote_offset_bps),
            ..ParamOverrides::default()
        })
    }

    /// A profile with the best candidate written into the symbol's overrides:
    /// `base` (or an empty profile) with the three tuned fields set for this
    /// symbol, keeping the symbol's other overrides. `None` when nothing passed.
    pub fn to_profile(&self, base: Option<&Profile>) -> Option<Profile> {
        let tuned = self.best_overrides()?;
        let mut profile = base.cloned().unwrap_or_default();
        let mut o = profile.symbols.remove(&self.symbol).unwrap_or_default();
        o.touch_dwell_ms = tuned.touch_dwell_ms;
        o.min_lot = tuned.min_lot;
        o.quote_offset_bps = tuned.quote_offset_bps;
        profile.symbols.insert(self.symbol.clone(), o);
        if profile.description.is_none() {
            profile.description = Some(format!("auto-tuned {}: {}", self.symbol, self.message));
        }
        Some(profile)
    }
}

/// Why a search could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AutotuneError {
    /// The symbol normalises to nothing.
    #[error("symbol `{0}` is empty after normalisation")]
    InvalidSymbol(String),
    /// The recording has no tick of the symbol.
    #[error("the recording has no ticks for `{0}`")]
    NoTicks(String),
    /// The grid is empty.
    #[error("the search space is empty")]
    EmptySpace,
    /// A candidate could not be run (bad base parameters or window).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Searches the grid on `ticks` (ticks of other symbols are ignored); see the
/// module docs.
pub fn autotune(
    symbol: &str,
    ticks: &[Tick],
    base: &StrategyParams,
    config: &AutotuneConfig,
) -> Result<AutotuneResult, AutotuneError> {
    let sym =
        normalize_symbol(symbol).ok_or_else(|| AutotuneError::InvalidSymbol(symbol.into()))?;
    let mine: Vec<&Tick> = ticks
        .iter()
        .filter(|t| t.symbol == sym || normalize_symbol(&t.symbol).as_deref() == Some(sym.as_str()))
        .collect();
    if mine.is_empty() {
        return Err(AutotuneError::NoTicks(sym));
    }
    let space = config
        .space
        .clone()
        .unwrap_or_else(|| SearchSpace::around(base));
    if space.is_empty() {
        return Err(AutotuneError::EmptySpace);
    }

    let mut candidates = Vec::with_capacity(space.len());
    let mut windows_available = 0;
    let mut min_windows_used = config.thresholds.min_windows;
    for params in space.candidates(base) {
        let windows = replay(&sym, &mine, &params, config)?;
        let n = u32::try_from(windows.len()).unwrap_or(u32::MAX);
        windows_available = n;
        let thresholds = GateThresholds {
            min_windows: config.thresholds.min_windows.min(n),
            ..config.thresholds.clone()
        };
        min_windows_used = thresholds.min_windows;
        let v = thresholds.evaluate_symbol(&sym, &windows);
        candidates.push(Candidate {
            params,
            aggregate: v.aggregate,
            windows: v.windows,
            passes: v.verdict.is_go(),
            reasons: v.reasons,
        });
    }

    let best = pick_best(&candidates).cloned();
    let passing = candidates.iter().filter(|c| c.passes).count();
    let relaxed = if min_windows_used < config.thresholds.min_windows {
        format!(
            " (min_windows lowered to {min_windows_used}: the recording holds {windows_available} windows)"
        )
    } else {
        String::new()
    };
    let message = match &best {
        Some(b) => format!(
            "{passing} of {} parameter sets pass every threshold; best: {} ({}){relaxed}",
            candidates.len(),
            b.describe_params(),
            b.describe_kpis()
        ),
        None => {
            let closest = candidates.iter().min_by(|a, b| {
                a.reasons
                    .len()
                    .cmp(&b.reasons.len())
                    .then_with(|| edge_key(b).total_cmp(&edge_key(a)))
            });
            match closest {
                Some(c) => format!(
                    "no parameter set passes every threshold ({} tried){relaxed}; closest: {} ({}) fails: {}",
                    candidates.len(),
                    c.describe_params(),
                    c.describe_kpis(),
                    c.reasons.join("; ")
                ),
                None => "no parameter set passes every threshold".to_string(),
            }
        }
    };
    Ok(AutotuneResult {
        symbol: sym,
        best,
        candidates,
        message,
        windows_available,
        min_windows_used,
    })
}

/// Median edge as a sort key; a missing edge sorts last.
fn edge_key(c: &Candidate) -> f64 {
    c.aggregate.edge_bps.unwrap_or(f64::NEG_INFINITY)
}

/// The passing candidate with the highest edge; the first one wins ties.
fn pick_best(candidates: &[Candidate]) -> Option<&Candidate> {
    let mut best: Option<&Candidate> = None;
    for c in candidates.iter().filter(|c| c.passes) {
        if best.is_none_or(|b| edge_key(c) > edge_key(b)) {
            best = Some(c);
        }
    }
    best
}

/// Replays the recording with one parameter set and returns the KPI sets of
/// the windows to gate.
fn replay(
    symbol: &str,
    ticks: &[&Tick],
    params: &StrategyParams,
    config: &AutotuneConfig,
) -> Result<Vec<KpiSet>, EngineError> {
    let engine_config = EngineConfig::new(config.window_ms)
        .with_symbol(symbol, params.clone())
        .with_params(params.clone())
        .with_models(config.models.clone())
        .with_seed(config.seed);
    let mut engine = ShadowEngine::new(engine_config)?;
    let mut results: Vec<WindowResult> = Vec::new();
    for t in ticks {
        results.extend(engine.on_tick(t));
    }
    results.extend(engine.finish());
    let full = results.iter().filter(|w| !w.partial).count();
    let kpis = results
        .iter()
        .filter(|w| full == 0 || !w.partial)
        .filter_map(|w| w.kpis(symbol).cloned())
        .collect();
    Ok(kpis)
}
