//! The shadow engine: a simulated exchange and a strategy per symbol (the
//! built-in quoting market maker unless [`EngineConfig::strategy`] says else),
//! measured in event-time KPI windows.
//!
//! Feed it ticks one by one with [`ShadowEngine::on_tick`]; it returns every
//! [`WindowResult`] that became final. Call [`ShadowEngine::finish`] when the
//! feed ends or goes idle.
//!
//! # Event time and windows
//! All time is the feed's `ts_server_ms`. Window `i` (1-based) is
//! `[t0 + (i-1)·w, t0 + i·w)` where `t0` is the `ts_server_ms` of the first
//! accepted tick and `w` is [`EngineConfig::window_ms`]. A window closes when a
//! tick at or after its end arrives; windows the feed skipped entirely are
//! emitted too (no ticks, inventory carried), so iteration numbers always match
//! the grid. A gap of more than [`MAX_EMPTY_WINDOWS`] windows is jumped over
//! (numbers still follow the grid; the empty windows are not emitted), and a
//! tick so far ahead that its window number would overflow is rejected. Each
//! symbol's time never runs backwards: a tick older than the symbol's last
//! event, or than the start of the open window, is applied at that later time.
//!
//! # Mark-outs
//! A fill's reference mid is the symbol's mid in force `markout_ms` after it
//! (the last tick at or before the horizon). A closed window is *emitted* only
//! once every one of its fills has a reference mid, i.e. once event time passed
//! `end + markout_ms`; so results are final and exact when emitted.
//! [`ShadowEngine::finish`] marks the fills still waiting to the symbol's last
//! mid, closes the open window as `partial`, and emits everything.
//!
//! # Equity path
//! Each symbol keeps its cash: every fill adds `−side × price × qty` and pays
//! its fee (`price × qty × fee_bps / 10⁴`, a rebate when negative). Its
//! equity is that cash plus the position marked at the mid, i.e. the
//! mark-to-market PnL since the run started, fees included. A window records
//! a [`PathPoint`] (time, equity, inventory) at the symbol's first tick at or
//! after each boundary of a fixed event-time grid ([`path_step_ms`] apart,
//! from the first tick), after the tick is applied, and one at the window's
//! end (or at the last event for a partial window). So a one-minute window
//! holds about 61 points, and no window more than [`MAX_PATH_POINTS`] + 1,
//! and a tick between boundaries costs one comparison.
//!
//! # Determinism
//! State lives in ordered maps and vectors, sums run in event order, and each
//! symbol draws latencies from its own ChaCha8 stream seeded from
//! [`EngineConfig::seed`], the latency model's seed and the symbol name. The
//! same ticks in the same order and the same seed give bit-identical KPIs.
//!
//! # Layout
//! - [`models`]: fill, queue and fee models and [`ModelSet`].
//! - [`latency`]: feed, order-entry and response latency models.
//! - [`model_spec`]: model sets as configuration ([`ModelSetSpec`]).
//! - [`queue`]: queue position models (front, risk-averse, probabilistic).
//! - [`exchange`]: the exchange side for one symbol.
//! - [`strategy`]: the [`Strategy`] interface and the built-in quoting market
//!   maker for one symbol.
//! - [`fill`]: [`Fill`] and the per-fill edge.
//! - [`window`]: KPI accumulation and [`WindowResult`].
//! - [`testfeed`]: a small deterministic tick generator for tests and benches.

pub mod exchange;
pub mod fill;
pub mod latency;
pub mod model_spec;
pub mod models;
pub mod queue;
pub mod strategy;
pub mod testfeed;
pub mod window;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::instrument::{GridInference, Instrument, InstrumentError, InstrumentSource};
use crate::params::{ParamError, StrategyParams};
use crate::summary::{PathPoint, Window};
use crate::symbol::normalize_symbol;
use crate::tick::Tick;

pub use exchange::{
    ExchangeCounters, OrderAction, OrderEvent, RejectReason, SimExchange, TimeInForce,
};
pub use fill::{Fill, Liquidity, OrderSide};
pub use latency::{ConstantLatency, EmpiricalLatency, LatencyModel, UniformLatency};
pub use model_spec::{ModelSetSpec, ModelSpecError};
pub use models::{FeeModel, ModelSet, ModelSetBuilder, ParamsFee};
pub use queue::{FrontOfQueue, ProbFunc, ProbQueue, QueueModel, QueuePos, RiskAverseQueue};
pub use strategy::{BookView, BuiltIn, QuotingStrategy, Strategy, StrategyFactory, StrategyFault};
pub use window::{DRIFT_EWMA_ALPHA, SymbolWindow, WindowResult};

use window::KpiWindow;

/// Why an engine could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// `window_ms` must be positive.
    #[error("window_ms must be positive, got {0}")]
    InvalidWindow(i64),
    /// A symbol's parameters are unusable.
    #[error("params for `{symbol}`: {source}")]
    InvalidParams {
        /// The symbol (`*` for the defaults).
        symbol: String,
        /// What is wrong.
        source: ParamError,
    },
    /// A configured symbol normalises to nothing.
    #[error("symbol `{0}` is empty after normalisation")]
    InvalidSymbol(String),
    /// A symbol's instrument is unusable.
    #[error("instrument of `{symbol}`: {source}")]
    InvalidInstrument {
        /// The symbol.
        symbol: String,
        /// What is wrong.
        source: InstrumentError,
    },
}

/// Configuration of a [`ShadowEngine`].
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Window length in event-time milliseconds (the contract default is 60 000).
    pub window_ms: i64,
    /// Parameters for symbols without an entry in `symbol_params`.
    pub default_params: StrategyParams,
    /// Per-symbol parameters (keys are normalised).
    pub symbol_params: BTreeMap<String, StrategyParams>,
    /// Symbols to run; empty means every symbol in the feed. Listed symbols are
    /// present in every window, even before their first tick.
    pub symbols: BTreeSet<String>,
    /// Per-symbol price and size grids (keys are normalised); a symbol without
    /// one gets its grid inferred from the feed.
    pub instruments: BTreeMap<String, Instrument>,
    /// Exchange models.
    pub models: ModelSet,
    /// Seed of every random model.
    pub seed: u64,
    /// Builds each symbol's strategy ([`BuiltIn`]: the quoting market maker).
    pub strategy: Arc<dyn StrategyFactory>,
    /// The most requests (places, cancels, market orders) the engine takes
    /// from one decision of a symbol's strategy; the rest are answered
    /// [`RejectReason::TooManyOrders`] and counted in `rejected_orders`
    /// ([`DEFAULT_MAX_ORDERS_PER_DECISION`]; the built-in strategy sends at
    /// most five).
    pub max_orders_per_decision: usize,
}

/// The default of [`EngineConfig::max_orders_per_decision`].
pub const DEFAULT_MAX_ORDERS_PER_DECISION: usize = 64;

impl EngineConfig {
    /// One-minute windows, default parameters, lenient models, seed 0.
    pub fn new(window_ms: i64) -> Self {
        Self {
            window_ms,
            default_params: StrategyParams::default(),
            symbol_params: BTreeMap::new(),
            symbols: BTreeSet::new(),
            instruments: BTreeMap::new(),
            models: ModelSet::lenient(),
            seed: 0,
            strategy: Arc::new(BuiltIn),
            max_orders_per_decision: DEFAULT_MAX_ORDERS_PER_DECISION,
        }
    }

    /// Sets what builds each symbol's strategy.
    pub fn with_strategy(mut self, factory: Arc<dyn StrategyFactory>) -> Self {
        self.strategy = factory;
        self
    }

    /// Sets one symbol's instrument (the symbol is normalised).
    pub fn with_instrument(mut self, symbol: &str, instrument: Instrument) -> Self {
        let s = normalize_symbol(symbol).unwrap_or_default();
        self.instruments.insert(s, instrument);
        self
    }

    /// Sets the default parameters.
    pub fn with_params(mut self, params: StrategyParams) -> Self {
        self.default_params = params;
        self
    }

    /// Sets one symbol's parameters (the symbol is normalised and added to
    /// `symbols`).
    pub fn with_symbol(mut self, symbol: &str, params: StrategyParams) -> Self {
        let s = normalize_symbol(symbol).unwrap_or_default();
        self.symbols.insert(s.clone());
        self.symbol_params.insert(s, params);
        self
    }

    /// Sets the models.
    pub fn with_models(mut self, models: ModelSet) -> Self {
        self.models = models;
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The parameters a symbol runs with.
    pub fn params_for(&self, symbol: &str) -> &StrategyParams {
        self.symbol_params
            .get(symbol)
            .unwrap_or(&self.default_params)
    }
}

/// The most consecutive empty windows a gap in the feed produces; beyond that
/// (a day of one-minute windows) the engine jumps to the tick's window instead
/// of emitting thousands of empty results.
pub const MAX_EMPTY_WINDOWS: u32 = 1_440;

/// The most path points a window takes at step boundaries (see the module
/// docs, "Equity path"); longer windows get a coarser step.
pub const MAX_PATH_POINTS: i64 = 240;

/// The event-time step between equity samples for windows of `window_ms`:
/// one second, or `window_ms / MAX_PATH_POINTS` (rounded up) when that is
/// longer.
pub fn path_step_ms(window_ms: i64) -> i64 {
    let per_window = (window_ms.max(1) + MAX_PATH_POINTS - 1) / MAX_PATH_POINTS;
    per_window.max(1_000)
}

/// A fill waiting for its mark-out horizon.
#[derive(Debug, Clone, Copy)]
struct PendingMarkout {
    horizon_ms: i64,
    iteration: u32,
    index: usize,
}

/// Everything the engine keeps for one symbol.
#[derive(Debug)]
struct SymbolState {
    name: String,
    /// Position in `ShadowEngine::symbols` and in every window's accumulators.
    slot: usize,
    params: StrategyParams,
    exchange: SimExchange,
    strategy: Box<dyn Strategy>,
    /// The grid being inferred (`None` when the instrument is configured).
    grid: Option<GridInference>,
    /// Signed position at the exchange (the truth the KPIs use; the strategy
    /// learns of it through responses).
    position: f64,
    /// Decisions the strategy will take, oldest first.
    decisions: VecDeque<Decision>,
    /// [`EngineConfig::max_orders_per_decision`].
    max_orders: usize,
    /// Exchange counters at the start of the open window.
    counters_mark: ExchangeCounters,
    /// Effective time of the symbol's last event (never decreases).
    clock_ms: i64,
    /// Inventory has been integrated up to here.
    risk_mark_ms: i64,
    started: bool,
    mid: Option<f64>,
    drift: Option<f64>,
    pending: VecDeque<PendingMarkout>,
    markout_ms: i64,
    /// Cash from every fill, fees included (quote units).
    cash: f64,
    /// The next equity sample is due at the first tick at or after this.
    next_sample_ms: i64,
}

/// A decision the strategy takes at `at_ms` (after the feed delay) on the book
/// it was shown at `seen_ms`. Ticks of one millisecond make one decision, on
/// the last book of that millisecond.
#[derive(Debug, Clone, Copy)]
struct Decision {
    at_ms: i64,
    seen_ms: i64,
    book: BookView,
}

impl SymbolState {
    fn risk(&self) -> f64 {
        self.position.abs() / self.params.inventory_limit
    }

    /// Equity and inventory now, stamped `t_ms`; `None` before the first mid.
    fn path_point(&self, t_ms: i64) -> Option<PathPoint> {
        self.mid.map(|mid| PathPoint {
            t_ms,
            equity: self.cash + self.position * mid,
            inventory: self.position,
        })
    }
}

/// Reusable buffers of the event loop (no allocation per tick).
#[derive(Debug, Default)]
struct Scratch {
    fills: Vec<Fill>,
    events: Vec<OrderEvent>,
    actions: Vec<OrderAction>,
}

/// One window that is open or waiting for mark-outs.
#[derive(Debug)]
struct OpenWindow {
    iteration: u32,
    window: Window,
    closed: bool,
    partial: bool,
    unresolved: usize,
    /// Indexed like `ShadowEngine::symbols`.
    symbols: Vec<KpiWindow>,
}

/// Multi-symbol shadow engine; see the [module docs](self).
#[derive(Debug)]
pub struct ShadowEngine {
    config: EngineConfig,
    symbols: Vec<SymbolState>,
    /// Symbol → position in `symbols` (looked up on every tick, never iterated).
    index: SymbolIndex,
    /// Oldest first; the last one is open unless `finished`.
    windows: VecDeque<OpenWindow>,
    t0_ms: Option<i64>,
    now_ms: i64,
    max_markout_ms: i64,
    rejected: u64,
    emitted: u32,
    finished: bool,
    scratch: Scratch,
    /// [`path_step_ms`] of the window length.
    path_step_ms: i64,
}

impl ShadowEngine {
    /// Builds an engine, validating the window and every parameter set.
    pub fn new(config: EngineConfig) -> Result<Self, EngineError> {
        if config.window_ms <= 0 {
            return Err(EngineError::InvalidWindow(config.window_ms));
        }
        config
            .default_params
            .validate()
            .map_err(|source| EngineError::InvalidParams {
                symbol: "*".into(),
                source,
            })?;
        let mut symbol_params = BTreeMap::new();
        for (s, p) in &config.symbol_params {
            let n = normalize_symbol(s).ok_or_else(|| EngineError::InvalidSymbol(s.clone()))?;
            p.validate().map_err(|source| EngineError::InvalidParams {
                symbol: n.clone(),
                source,
            })?;
            symbol_params.insert(n, p.clone());
        }
        let mut instruments = BTreeMap::new();
        for (s, i) in &config.instruments {
            let n = normalize_symbol(s).ok_or_else(|| EngineError::InvalidSymbol(s.clone()))?;
            i.validate()
                .map_err(|source| EngineError::InvalidInstrument {
                    symbol: n.clone(),
                    source,
                })?;
            instruments.insert(n, *i);
        }
        let mut symbols = BTreeSet::new();
        for s in &config.symbols {
            symbols
                .insert(normalize_symbol(s).ok_or_else(|| EngineError::InvalidSymbol(s.clone()))?);
        }
        let config = EngineConfig {
            symbol_params,
            symbols,
            instruments,
            ..config
        };
        let path_step = path_step_ms(config.window_ms);
        let mut engine = Self {
            config,
            symbols: Vec::new(),
            index: SymbolIndex::default(),
            windows: VecDeque::new(),
            t0_ms: None,
            now_ms: i64::MIN,
            max_markout_ms: 0,
            rejected: 0,
            emitted: 0,
            finished: false,
            scratch: Scratch::default(),
            path_step_ms: path_step,
        };
        let listed: Vec<String> = engine.config.symbols.iter().cloned().collect();
        for s in listed {
            engine.add_symbol(s, i64::MIN);
        }
        Ok(engine)
    }

    /// Runs a whole recording: every tick, then [`finish`](Self::finish).
    pub fn run(config: EngineConfig, ticks: &[Tick]) -> Result<Vec<WindowResult>, EngineError> {
        let mut engine = Self::new(config)?;
        let mut out = Vec::new();
        for t in ticks {
            out.extend(engine.on_tick(t));
        }
        out.extend(engine.finish());
        Ok(out)
    }

    /// The configuration in use (symbols normalised).
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// `ts_server_ms` of the first accepted tick: the origin of the window grid.
    pub fn t0_ms(&self) -> Option<i64> {
        self.t0_ms
    }

    /// Latest event time seen.
    pub fn now_ms(&self) -> Option<i64> {
        (self.now_ms != i64::MIN).then_some(self.now_ms)
    }

    /// Windows emitted so far.
    pub fn windows_emitted(&self) -> u32 {
        self.emitted
    }

    /// Ticks dropped as undecodable or for an unlisted symbol.
    pub fn rejected_ticks(&self) -> u64 {
        self.rejected
    }

    /// Current position of a symbol at the exchange.
    pub fn inventory(&self, symbol: &str) -> Option<f64> {
        self.index.get(symbol).map(|&i| self.symbols[i].position)
    }

    /// The grid a symbol runs on and where it came from.
    pub fn instrument(&self, symbol: &str) -> Option<(Instrument, InstrumentSource)> {
        self.index.get(symbol).map(|&i| {
            let s = &self.symbols[i];
            let source = if s.grid.is_some() {
                InstrumentSource::Inferred
            } else {
                InstrumentSource::Configured
            };
            (s.exchange.instrument(), source)
        })
    }

    /// True after [`finish`](Self::finish); later ticks are ignored.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Applies one tick and returns the windows that became final.
    ///
    /// Ticks with a non-finite or non-positive price, a crossed book
    /// (`bid > ask`), a negative or non-finite size, or an unlisted symbol are
    /// skipped and counted, never a panic.
    pub fn on_tick(&mut self, tick: &Tick) -> Vec<WindowResult> {
        if self.finished {
            return Vec::new();
        }
        // Every key of the index is normalised, so a symbol found as it is
        // needs no normalisation (the common case: one lookup per tick).
        let (name, known) = match self.index.get(tick.symbol.as_str()) {
            Some(&i) => (Cow::Borrowed(tick.symbol.as_str()), Some(i)),
            None => match symbol_key(&tick.symbol) {
                Some(n) => {
                    let known = self.index.get(n.as_ref()).copied();
                    (n, known)
                }
                None => {
                    self.rejected += 1;
                    return Vec::new();
                }
            },
        };
        // Listed symbols are all in the index from the start.
        if known.is_none() && !self.config.symbols.is_empty() {
            self.rejected += 1;
            return Vec::new();
        }
        if !tick_is_valid(tick) {
            self.rejected += 1;
            if let (Some(i), Some(w)) = (known, self.windows.back_mut()) {
                w.symbols[i].skipped_ticks += 1;
            }
            return Vec::new();
        }
        if self.t0_ms.is_none() {
            self.t0_ms = Some(tick.ts_server_ms);
            self.open_window(1);
        }
        let idx = match known {
            Some(i) => i,
            None => {
                let start = self.windows.back().map_or(i64::MIN, |w| w.window.start_ms);
                self.add_symbol(name.into_owned(), start)
            }
        };

        // A symbol's time never runs backwards, and nothing lands in a window
        // that is already closed.
        let floor = self.windows.back().map_or(i64::MIN, |w| w.window.start_ms);
        let te = tick.ts_server_ms.max(self.symbols[idx].clock_ms).max(floor);
        // A tick inside the open window (nearly all of them) has a window
        // number: only one beyond it needs the division.
        let in_open = self.windows.back().is_some_and(|w| te < w.window.end_ms);
        if !in_open && self.window_index(te).is_none() {
            // So far ahead that the window number would not fit: a corrupt
            // timestamp, not a gap worth billions of windows.
            self.rejected += 1;
            return Vec::new();
        }
        self.close_windows_before(te);
        self.now_ms = self.now_ms.max(te);

        // Mark-outs due before this tick see the mid in force until now.
        resolve_due(&mut self.symbols[idx], &mut self.windows, te);
        self.sweep_markouts();

        self.apply_tick(idx, tick, te);
        self.emit_ready()
    }

    /// Moves event time forward to `ts_ms` without a tick (a watermark),
    /// closing the windows that end at or before it and emitting those whose
    /// mark-outs are complete.
    pub fn advance_to(&mut self, ts_ms: i64) -> Vec<WindowResult> {
        if self.finished || self.t0_ms.is_none() || ts_ms <= self.now_ms {
            return Vec::new();
        }
        if self.window_index(ts_ms).is_none() {
            return Vec::new();
        }
        self.close_windows_before(ts_ms);
        self.now_ms = ts_ms;
        self.sweep_markouts();
        self.emit_ready()
    }

    /// Ends the run: closes the open window as `partial` (when it saw a tick),
    /// marks every fill still waiting for its horizon to its symbol's last mid,
    /// and returns every window not yet emitted. Later ticks are ignored.
    pub fn finish(&mut self) -> Vec<WindowResult> {
        if self.finished {
            return Vec::new();
        }
        self.finished = true;
        let now = self.now_ms;
        if let Some(mut open) = self.windows.pop_back() {
            if open.closed {
                self.windows.push_back(open);
            } else {
                for (i, sym) in self.symbols.iter_mut().enumerate() {
                    if !sym.started {
                        continue;
                    }
                    let acc = &mut open.symbols[i];
                    run_until(
                        sym,
                        acc,
                        &mut open.unresolved,
                        open.iteration,
                        now,
                        true,
                        &mut self.scratch,
                    );
                    acc.integrate(sym.risk(), now - sym.risk_mark_ms);
                    sym.risk_mark_ms = now;
                    acc.path.extend(sym.path_point(now));
                    close_symbol(sym, acc);
                }
                open.closed = true;
                open.partial = true;
                if open
                    .symbols
                    .iter()
                    .any(|s| s.ticks > 0 || !s.fills.is_empty())
                {
                    self.windows.push_back(open);
                }
            }
        }
        // Whatever is still waiting is marked to the last mid of its symbol.
        for sym in &mut self.symbols {
            while let Some(p) = sym.pending.pop_front() {
                set_reference(&mut self.windows, sym, p);
            }
        }
        self.emit_ready()
    }

    fn add_symbol(&mut self, name: String, start_ms: i64) -> usize {
        let params = self.config.params_for(&name).clone();
        let seed = mix_seed(self.config.seed, self.config.models.latency.seed(), &name);
        let idx = self.symbols.len();
        let markout_ms = params.markout_ms.max(0.0).floor() as i64;
        self.max_markout_ms = self.max_markout_ms.max(markout_ms);
        let (instrument, grid) = match self.config.instruments.get(&name) {
            Some(i) => (*i, None),
            None => {
                let g = GridInference::new();
                (g.instrument(), Some(g))
            }
        };
        self.symbols.push(SymbolState {
            name: name.clone(),
            slot: idx,
            exchange: SimExchange::new(
                self.config.models.clone(),
                ChaCha8Rng::seed_from_u64(seed),
                instrument,
            ),
            strategy: self.config.strategy.build(&name, &params),
            params,
            grid,
            position: 0.0,
            decisions: VecDeque::new(),
            max_orders: self.config.max_orders_per_decision,
            counters_mark: ExchangeCounters::default(),
            clock_ms: start_ms,
            risk_mark_ms: start_ms,
            started: false,
            mid: None,
            drift: None,
            pending: VecDeque::new(),
            markout_ms,
            cash: 0.0,
            next_sample_ms: i64::MIN,
        });
        self.index.insert(name, idx);
        for w in &mut self.windows {
            if !w.closed {
                w.symbols.push(KpiWindow::default());
            }
        }
        idx
    }

    fn window_start(&self, iteration: u32) -> i64 {
        let (t0, w) = (self.t0_ms.unwrap_or(0), self.config.window_ms);
        t0.saturating_add(w.saturating_mul(i64::from(iteration) - 1))
    }

    fn open_window(&mut self, iteration: u32) {
        let start_ms = self.window_start(iteration);
        let w = self.config.window_ms;
        self.windows.push_back(OpenWindow {
            iteration,
            window: Window {
                start_ms,
                end_ms: start_ms.saturating_add(w),
            },
            closed: false,
            partial: false,
            unresolved: 0,
            symbols: (0..self.symbols.len())
                .map(|_| KpiWindow::default())
                .collect(),
        });
    }

    /// The 1-based number of the window containing `t`, if it fits a `u32`.
    fn window_index(&self, t: i64) -> Option<u32> {
        let t0 = self.t0_ms?;
        let i = (i128::from(t) - i128::from(t0)).div_euclid(i128::from(self.config.window_ms)) + 1;
        u32::try_from(i.max(1)).ok()
    }

    /// Closes the open window (and opens the next) while `t` is at or past its
    /// end. Gaps of more than [`MAX_EMPTY_WINDOWS`] windows are jumped over:
    /// iteration numbers keep following the grid, but the empty windows in
    /// between are not emitted.
    fn close_windows_before(&mut self, t: i64) {
        loop {
            let Some(open) = self.windows.back_mut() else {
                return;
            };
            if open.closed || t < open.window.end_ms {
                return;
            }
            let end = open.window.end_ms;
            for (i, sym) in self.symbols.iter_mut().enumerate() {
                let acc = &mut open.symbols[i];
                if sym.started {
                    // Orders and decisions before the end belong here.
                    run_until(
                        sym,
                        acc,
                        &mut open.unresolved,
                        open.iteration,
                        end - 1,
                        true,
                        &mut self.scratch,
                    );
                    acc.integrate(sym.risk(), end - sym.risk_mark_ms);
                    sym.risk_mark_ms = end;
                    acc.path.extend(sym.path_point(end));
                }
                sym.clock_ms = sym.clock_ms.max(end);
                close_symbol(sym, acc);
            }
            open.closed = true;
            let mut next = open.iteration + 1;
            let target = self.window_index(t).unwrap_or(next);
            if target > next && target - next > MAX_EMPTY_WINDOWS {
                next = target;
                let start = self.window_start(next);
                for sym in &mut self.symbols {
                    // The skipped span is reported in no window.
                    sym.clock_ms = sym.clock_ms.max(start);
                    sym.risk_mark_ms = sym.risk_mark_ms.max(start);
                }
            }
            self.open_window(next);
        }
    }

    fn apply_tick(&mut self, idx: usize, tick: &Tick, te: i64) {
        let Some(open) = self.windows.back_mut() else {
            return;
        };
        let iteration = open.iteration;
        let sym = &mut self.symbols[idx];
        let acc = &mut open.symbols[idx];
        let unresolved = &mut open.unresolved;
        let scratch = &mut self.scratch;
        if !sym.started {
            sym.started = true;
            sym.risk_mark_ms = te;
        }
        sym.clock_ms = te;
        infer_grid(sym, tick);

        // Orders that arrived and decisions taken since the last event, then
        // the tick itself.
        run_until(sym, acc, unresolved, iteration, te, false, scratch);
        sym.exchange
            .on_tick(tick, te, &sym.params, &mut scratch.fills);
        for f in scratch.fills.drain(..) {
            book_fill(sym, acc, unresolved, iteration, f);
        }
        sym.mid = Some(tick.mid());
        if tick.ts_ingest_ms != 0 {
            let d = (tick.ts_ingest_ms - tick.ts_server_ms) as f64;
            sym.drift = Some(match sym.drift {
                None => d,
                Some(e) => e + DRIFT_EWMA_ALPHA * (d - e),
            });
        }
        acc.ticks += 1;

        // The strategy decides once per millisecond, on its last book, after
        // the feed delay.
        match sym.decisions.back_mut() {
            Some(d) if d.seen_ms == te => d.book.add(tick),
            last => {
                let floor = last.map_or(i64::MIN, |d| d.at_ms);
                let at_ms = sym.exchange.decision_time(te, tick.ts_recv_ms).max(floor);
                sym.decisions.push_back(Decision {
                    at_ms,
                    seen_ms: te,
                    book: BookView::of(tick),
                });
            }
        }
        acc.integrate(sym.risk(), 0);

        // The first tick at or after a step boundary samples the equity.
        if te >= sym.next_sample_ms {
            acc.path.extend(sym.path_point(te));
            let (t0, step) = (self.t0_ms.unwrap_or(te), self.path_step_ms);
            sym.next_sample_ms = t0.saturating_add(((te - t0).div_euclid(step) + 1) * step);
        }
    }

    /// Resolves, for every symbol, the mark-outs whose horizon is before `now`,
    /// once the oldest closed window is waiting only for them.
    fn sweep_markouts(&mut self) {
        let Some(front) = self.windows.front() else {
            return;
        };
        if !(front.closed && front.unresolved > 0) {
            return;
        }
        if self.now_ms <= front.window.end_ms.saturating_add(self.max_markout_ms) {
            return;
        }
        let now = self.now_ms;
        for sym in &mut self.symbols {
            resolve_due(sym, &mut self.windows, now);
        }
    }

    fn emit_ready(&mut self) -> Vec<WindowResult> {
        let mut out = Vec::new();
        while let Some(front) = self.windows.front() {
            if !(front.closed && front.unresolved == 0) {
                break;
            }
            let Some(w) = self.windows.pop_front() else {
                break;
            };
            let symbols = self
                .symbols
                .iter()
                .zip(w.symbols)
                .map(|(s, acc)| (s.name.clone(), acc.into_symbol_window()))
                .collect();
            self.emitted += 1;
            out.push(WindowResult {
                iteration: w.iteration,
                window: w.window,
                partial: w.partial,
                symbols,
            });
        }
        out
    }
}

/// Integrates inventory up to the fill, books it with the strategy and the
/// window, and queues its mark-out.
fn book_fill(
    sym: &mut SymbolState,
    acc: &mut KpiWindow,
    unresolved: &mut usize,
    iteration: u32,
    mut f: Fill,
) {
    acc.integrate(sym.risk(), f.ts_ms - sym.risk_mark_ms);
    sym.risk_mark_ms = sym.risk_mark_ms.max(f.ts_ms);
    sym.position += f.side.sign() * f.qty;
    let notional = f.price * f.qty;
    sym.cash -= f.side.sign() * notional + notional * f.fee_bps / 1e4;
    // Snap rounding residue so a flat book is exactly flat.
    if sym.position.abs() < 1e-9 {
        sym.position = 0.0;
    }
    f.inventory_after = sym.position;
    sym.pending.push_back(PendingMarkout {
        horizon_ms: f.ts_ms.saturating_add(sym.markout_ms),
        iteration,
        index: acc.fills.len(),
    });
    acc.fills.push(f);
    *unresolved += 1;
}

/// Runs one symbol's exchange arrivals and strategy decisions up to `until`,
/// in event-time order. Within one millisecond the order is: the feed rows,
/// then the requests arriving at the exchange, then the strategy's decision on
/// what it was shown (as in hftbacktest). So unless `closing`, a request due
/// at `until` and a decision on a book of `until` itself wait (more ticks of
/// that millisecond may still come).
fn run_until(
    sym: &mut SymbolState,
    acc: &mut KpiWindow,
    unresolved: &mut usize,
    iteration: u32,
    until: i64,
    closing: bool,
    scratch: &mut Scratch,
) {
    loop {
        // Requests reaching the exchange in a millisecond meet the book after
        // that millisecond's rows (hftbacktest's order at a tie), so the ones
        // due at `until` wait for its ticks unless `closing`.
        let arrival = sym
            .exchange
            .next_arrival_ms()
            .filter(|&a| a < until || (closing && a == until));
        // The due decision's time, looked at in place (the decision, with its
        // view of the market, is moved out only when it is taken).
        let decision = sym
            .decisions
            .front()
            .filter(|d| d.at_ms < until || (d.at_ms == until && (closing || d.seen_ms < until)))
            .map(|d| d.at_ms);
        let arrival_first = match (arrival, decision) {
            (None, None) => return,
            (Some(a), Some(at)) => a <= at,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        if arrival_first {
            if let Some(a) = arrival {
                sym.exchange.settle(a, &sym.params, &mut scratch.fills);
            }
            for f in scratch.fills.drain(..) {
                book_fill(sym, acc, unresolved, iteration, f);
            }
        } else if let Some(d) = sym.decisions.pop_front() {
            sym.exchange.take_responses(d.at_ms, &mut scratch.events);
            for ev in scratch.events.drain(..) {
                sym.strategy.on_event(d.at_ms, &ev);
            }
            let inst = sym.exchange.instrument();
            sym.strategy
                .decide(d.at_ms, &d.book, &inst, &mut scratch.actions);
            for (i, a) in scratch.actions.drain(..).enumerate() {
                if i < sym.max_orders {
                    sym.exchange.submit(a, d.at_ms);
                } else {
                    sym.exchange
                        .refuse(a.id(), RejectReason::TooManyOrders, d.at_ms);
                }
            }
        }
    }
}

/// Refines an inferred grid with what the tick shows, rescaling every stored
/// price when the tick size gets finer.
fn infer_grid(sym: &mut SymbolState, tick: &Tick) {
    let Some(g) = &mut sym.grid else { return };
    g.observe_price(tick.bid);
    g.observe_price(tick.ask);
    if let Some(p) = tick.last_px {
        g.observe_price(p);
    }
    for q in [tick.bid_qty, tick.ask_qty].into_iter().flatten() {
        g.observe_size(q);
    }
    if tick.last_qty > 0.0 {
        g.observe_size(tick.last_qty);
    }
    let old = sym.exchange.instrument();
    let new = g.instrument();
    if new == old {
        return;
    }
    let factor = (old.tick_size / new.tick_size).round().max(1.0) as i64;
    sym.exchange.refine_grid(new, factor);
    sym.strategy.refine_grid(factor);
}

/// What a symbol's window records when it closes.
fn close_symbol(sym: &mut SymbolState, acc: &mut KpiWindow) {
    acc.drift_ms = sym.drift;
    acc.inventory_end = sym.position;
    let c = sym.exchange.counters();
    acc.rejects = c.since(&sym.counters_mark);
    sym.counters_mark = c;
}

/// Gives every fill of `sym` whose horizon is before `now` the symbol's current mid.
fn resolve_due(sym: &mut SymbolState, windows: &mut VecDeque<OpenWindow>, now: i64) {
    while sym.pending.front().is_some_and(|p| p.horizon_ms < now) {
        if let Some(p) = sym.pending.pop_front() {
            set_reference(windows, sym, p);
        }
    }
}

/// Sets the reference mid of one pending fill to the symbol's current mid
/// (the fill's own mid if the symbol has none, which cannot happen after a tick).
fn set_reference(windows: &mut VecDeque<OpenWindow>, sym: &SymbolState, p: PendingMarkout) {
    let Some(first) = windows.front().map(|w| w.iteration) else {
        return;
    };
    let Some(offset) = p.iteration.checked_sub(first) else {
        return;
    };
    let Some(w) = windows.get_mut(offset as usize) else {
        return;
    };
    let Some(f) = w
        .symbols
        .get_mut(sym.slot)
        .and_then(|acc| acc.fills.get_mut(p.index))
    else {
        return;
    };
    if f.reference_mid.is_none() {
        f.reference_mid = Some(sym.mid.unwrap_or(f.mid));
        w.unresolved = w.unresolved.saturating_sub(1);
    }
}

/// The symbol as a map key: borrowed when the feed already normalised it.
fn symbol_key(raw: &str) -> Option<Cow<'_, str>> {
    let clean = !raw.is_empty()
        && raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if clean {
        Some(Cow::Borrowed(raw))
    } else {
        normalize_symbol(raw).map(Cow::Owned)
    }
}

/// The checks of the feed contract that matter to the simulation.
fn tick_is_valid(t: &Tick) -> bool {
    let price_ok = |p: f64| p.is_finite() && p > 0.0;
    let size_ok = |q: f64| q.is_finite() && q >= 0.0;
    price_ok(t.bid)
        && price_ok(t.ask)
        && t.bid <= t.ask
        && size_ok(t.last_qty)
        && t.bid_qty.is_none_or(size_ok)
        && t.ask_qty.is_none_or(size_ok)
        && t.last_px.is_none_or(price_ok)
}

/// Symbol → slot. Only looked up (iteration order never matters), with a
/// fixed hash that is cheap on short keys: nothing random, nothing to defend
/// against (the keys are the feed's symbols).
type SymbolIndex = HashMap<String, usize, BuildHasherDefault<SymbolHasher>>;

/// Eight bytes per step (multiply-rotate, as rustc's `FxHasher`), finished with
/// SplitMix64's mixer so every input bit reaches the low bits the table
/// indexes by (symbols differ in a few middle bytes).
#[derive(Debug, Default, Clone, Copy)]
struct SymbolHasher(u64);

impl SymbolHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for SymbolHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Per-symbol seed: the engine seed and the model seed, mixed with an FNV-1a
/// hash of the symbol (stable across Rust releases, unlike `DefaultHasher`)
/// and finished with SplitMix64 so nearby seeds give unrelated streams.
fn mix_seed(engine_seed: u64, model_seed: u64, symbol: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in symbol.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = h ^ engine_seed.rotate_left(17) ^ model_seed.rotate_left(41);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
