//! A deterministic synthetic market: the stand-in for an order-book process,
//! so shadowkpi can be tried without an exchange, and a feed with faults
//! injected in exactly known numbers for tests and demos.
//!
//! # The market
//! Each symbol has a price level and tick size ([`SymbolModel`]: BTCUSDT
//! ~60 000 with tick 0.1, ETHUSDT ~3 000 with tick 0.01, any other symbol
//! derived from a hash of its name) and evolves on its own. Two scenarios
//! ([`Scenario`]) share the clock and the price process:
//! - updates arrive as a Poisson process (`rate` ticks per second of event time
//!   over all symbols, split evenly);
//! - an efficient price follows a Gaussian random walk in log space whose
//!   volatility itself wanders (a mean-reverting regime).
//!
//! [`Scenario::Calibrated`] (the default) has the shape of the Binance
//! BTCUSDT USD-M recording in `data/` (measured with
//! [`crate::feed::stats::MarketStats`]; `docs/synthetic-market.md` has the
//! table): a one-tick spread on ~94 % of updates with short wide-spread
//! episodes, lognormal touch and trade sizes, a trade on ~32 % of updates,
//! ~1.4 bp of 1 s volatility, no bid/ask bounce, and trades printed at,
//! through (sweeping the side they hit, which then quotes wide) or behind
//! (a trade message late after its quote) the touch in the recording's
//! proportions. Every tick is a quote update; the recording's ~192 quote
//! updates/s are `rate` 192 per symbol.
//!
//! [`Scenario::Bounce`] is the original demo market: on top of the walk, a
//! 4 bp mean-reverting microstructure noise with a 250 ms half-life (the
//! bid/ask bounce a market maker earns from), a spread redrawn uniformly up
//! to 4 ticks (wider when volatile), exponential sizes, and every trade
//! printed at the touch. A strategy tuned on it earns on the bounce, which
//! the real market does not offer.
//!
//! Prices and sizes are exact decimals on their grids (`60000.1`, not
//! `60000.100000000006`).
//!
//! # Determinism
//! Each symbol draws from its own ChaCha8 stream seeded from the seed and the
//! symbol name; faults draw from a separate stream. The same configuration
//! gives the same entries, bit for bit, on every run.
//!
//! # Faults, counted exactly
//! [`FaultRates`] injects, per clean tick: a gap (the tick is skipped; only the
//! first tick of a symbol is never skipped), a duplicate (the entry is written
//! twice in a row), a swap (the tick is written right after its successor, when
//! the two are at most `reorder_max_ms` apart in event time), and, as extra
//! entries, malformed copies with one defect each. [`SyntheticFeed::counts`]
//! says what a reader with a reorder window wider than `reorder_max_ms` will
//! count: gaps only once a later tick of the symbol shows them, reorders,
//! duplicates, rejects per reason, and the good ticks.

use std::collections::{BTreeMap, VecDeque};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::draw::{exponential, normal, unit};
use crate::feed::decode::{RejectReason, encode, field};
use crate::symbol::normalize_symbol;
use crate::tick::{Side, Tick};

/// The default event-time origin: 2023-11-14T22:13:20Z, a fixed instant so a
/// seed always gives the same feed.
pub const DEFAULT_START_MS: i64 = 1_700_000_000_000;

/// The default largest event-time distance of an injected swap, below the
/// 40 ms default reorder window of ingestd.
pub const DEFAULT_REORDER_MAX_MS: i64 = 20;

/// Invalid synthetic-feed configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyntheticError {
    /// No symbol was given, or one is empty once normalised.
    #[error("invalid symbols: {0}")]
    Symbols(String),
    /// The rate is not a positive number.
    #[error("rate must be a positive number of ticks per second, got {0}")]
    Rate(f64),
    /// The duration is negative.
    #[error("duration must not be negative, got {0} ms")]
    Duration(i64),
    /// A fault rate is outside `[0, 1]` or they add up to more than 1.
    #[error("invalid fault rate `{name}`: {message}")]
    FaultRate {
        /// The offending flag.
        name: &'static str,
        /// Why.
        message: String,
    },
}

/// Fault probabilities per clean tick (each in `[0, 1]`; gap + duplicate +
/// reorder at most 1).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct FaultRates {
    /// Probability that a tick is skipped (a sequence gap).
    pub gap: f64,
    /// Probability that a tick is written twice.
    pub duplicate: f64,
    /// Probability that a tick is written after its successor.
    pub reorder: f64,
    /// Probability that a malformed entry is written before a tick.
    pub malformed: f64,
}

impl FaultRates {
    fn validate(&self) -> Result<(), SyntheticError> {
        for (name, v) in [
            ("gap_rate", self.gap),
            ("dup_rate", self.duplicate),
            ("reorder_rate", self.reorder),
            ("malformed_rate", self.malformed),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(SyntheticError::FaultRate {
                    name,
                    message: format!("{v} is outside [0, 1]"),
                });
            }
        }
        if self.gap + self.duplicate + self.reorder > 1.0 {
            return Err(SyntheticError::FaultRate {
                name: "gap_rate",
                message: "gap, dup and reorder rates add up to more than 1".into(),
            });
        }
        Ok(())
    }
}

/// The kind of market a synthetic feed simulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Calibrated to the shape of the real BTCUSDT USD-M recording (spreads,
    /// sizes, 1 s volatility, trade share, prints through the touch).
    #[default]
    Calibrated,
    /// The original demo market with a 4 bp mean-reverting bid/ask bounce a
    /// market maker earns on (opt-in).
    Bounce,
}

impl Scenario {
    /// Every scenario, in the order `--help` lists them.
    pub const ALL: [Scenario; 2] = [Scenario::Calibrated, Scenario::Bounce];

    /// The name users give it (`calibrated`, `bounce`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Calibrated => "calibrated",
            Scenario::Bounce => "bounce",
        }
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Scenario::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown scenario `{s}`, expected calibrated or bounce"))
    }
}

/// Configuration of a synthetic feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyntheticConfig {
    /// Symbols, any spelling (normalised; duplicates ignored).
    pub symbols: Vec<String>,
    /// Seed of every random draw.
    pub seed: u64,
    /// Event time of the start, ms since the epoch.
    pub start_ms: i64,
    /// Length of the feed in event time, ms.
    pub duration_ms: i64,
    /// Ticks per second of event time, over all symbols.
    pub rate: f64,
    /// Faults to inject.
    pub faults: FaultRates,
    /// Largest event-time distance of an injected swap; keep it below the
    /// reader's reorder window so every swap is repaired and counted.
    pub reorder_max_ms: i64,
    /// The market simulated.
    #[serde(default)]
    pub scenario: Scenario,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
            seed: 7,
            start_ms: DEFAULT_START_MS,
            duration_ms: 600_000,
            rate: 1_000.0,
            faults: FaultRates::default(),
            reorder_max_ms: DEFAULT_REORDER_MAX_MS,
            scenario: Scenario::default(),
        }
    }
}

/// Market parameters of one symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolModel {
    /// Normalised symbol.
    pub symbol: String,
    /// Starting mid price.
    pub start_price: f64,
    /// Decimals of prices.
    pub price_decimals: u32,
    /// Price increment in units of `10^-price_decimals`.
    pub tick_units: i64,
    /// Decimals of sizes (the lot is `10^-qty_decimals`).
    pub qty_decimals: u32,
    /// Volatility of the efficient price, bps per √second.
    pub vol_bps_per_sqrt_s: f64,
    /// Stationary standard deviation of the microstructure noise, bps.
    pub noise_bps: f64,
    /// Half-life of the noise, ms.
    pub noise_half_life_ms: f64,
    /// Widest spread in calm markets, ticks.
    pub max_spread_ticks: u32,
    /// Probability that an update carries a trade.
    pub trade_probability: f64,
    /// Mean trade size.
    pub mean_trade_qty: f64,
    /// Mean size at each touch.
    pub mean_level_qty: f64,
    /// The scenario whose process draws the ticks; the fields below are
    /// those of [`Scenario::Calibrated`] (the bounce uses the ones above).
    pub scenario: Scenario,
    /// Median trade size (lognormal).
    pub trade_qty_median: f64,
    /// Log-space standard deviation of trade sizes.
    pub trade_qty_sigma: f64,
    /// Median size at each touch (lognormal, persistent across updates).
    pub touch_qty_median: f64,
    /// Log-space standard deviation of touch sizes.
    pub touch_qty_sigma: f64,
    /// Share of updates quoting wider than one tick.
    pub wide_spread_share: f64,
    /// Mean spread of a wide update, ticks.
    pub wide_spread_mean_ticks: f64,
    /// Share of trades printed through the touch (sweeping the side hit,
    /// which then quotes wide).
    pub through_share: f64,
    /// Share of trades printed behind the touch (the trade message later
    /// than the quote it moved).
    pub behind_share: f64,
}

impl SymbolModel {
    /// The calibrated model of a normalised symbol: BTCUSDT and ETHUSDT
    /// have presets; any other symbol gets a price level, tick and sizes
    /// derived deterministically from its name.
    pub fn for_symbol(symbol: &str) -> Self {
        Self::for_scenario(symbol, Scenario::Calibrated)
    }

    /// The model of a normalised symbol in `scenario`.
    pub fn for_scenario(symbol: &str, scenario: Scenario) -> Self {
        let bounce = Self::bounce(symbol);
        match scenario {
            Scenario::Bounce => bounce,
            Scenario::Calibrated => {
                // The BTCUSDT USD-M recording: trade sizes median 0.016, mean
                // 0.114, p90 0.265; touch median 2.68, mean 4.20; 94 % of
                // updates at one tick, the rest ~19 ticks wide on average;
                // 62 trades per 192 quote updates; 1 s volatility 1.40 bp;
                // trades 50 % at, 35 % through, 15 % behind the touch.
                let scale = bounce.mean_level_qty / 1.5;
                // Wide spreads as wide in price as the recording's (~19
                // ticks of 0.1 at 60 000, 0.31 bp), at least two ticks.
                let tick_bps = bounce.tick_size() / bounce.start_price * 1e4;
                let wide_ticks = (19.0 * (0.1 / 60_000.0 * 1e4) / tick_bps).max(2.0);
                let vol = match symbol {
                    "BTCUSDT" => 1.2,
                    "ETHUSDT" => 1.6,
                    _ => bounce.vol_bps_per_sqrt_s * 0.8,
                };
                Self {
                    vol_bps_per_sqrt_s: vol,
                    noise_bps: 0.0,
                    trade_probability: 0.3225,
                    scenario,
                    trade_qty_median: 0.016 * scale,
                    trade_qty_sigma: 2.0,
                    touch_qty_median: 2.7 * scale,
                    touch_qty_sigma: 0.95,
                    wide_spread_share: 0.058,
                    wide_spread_mean_ticks: wide_ticks,
                    through_share: 0.345,
                    behind_share: 0.15,
                    ..bounce
                }
            }
        }
    }

    fn bounce(symbol: &str) -> Self {
        let base = Self {
            symbol: symbol.to_string(),
            start_price: 60_000.0,
            price_decimals: 1,
            tick_units: 1,
            qty_decimals: 3,
            vol_bps_per_sqrt_s: 1.5,
            // Microstructure bounce: quotes get pushed away and snap back
            // within a few hundred ms, which is what a market maker earns on.
            noise_bps: 4.0,
            noise_half_life_ms: 250.0,
            max_spread_ticks: 4,
            trade_probability: 0.4,
            mean_trade_qty: 0.05,
            mean_level_qty: 1.5,
            scenario: Scenario::Bounce,
            trade_qty_median: 0.016,
            trade_qty_sigma: 2.0,
            touch_qty_median: 2.7,
            touch_qty_sigma: 0.95,
            wide_spread_share: 0.058,
            wide_spread_mean_ticks: 19.0,
            through_share: 0.345,
            behind_share: 0.15,
        };
        match symbol {
            "BTCUSDT" => base,
            "ETHUSDT" => Self {
                start_price: 3_000.0,
                price_decimals: 2,
                qty_decimals: 2,
                vol_bps_per_sqrt_s: 2.0,
                mean_trade_qty: 1.0,
                mean_level_qty: 30.0,
                ..base
            },
            _ => {
                let h = fnv1a(symbol.as_bytes());
                // Price 0.1 … 9 999, a tick of about one basis point (a power
                // of ten), a notional of roughly 100k per touch.
                let exponent = (h % 5) as i32 - 1;
                let mantissa = 1.0 + ((h >> 8) % 900) as f64 / 100.0;
                let price = (mantissa * 10f64.powi(exponent) * 100.0).round() / 100.0;
                let tick_exp = (price * 1e-4).log10().floor() as i32;
                let (price_decimals, tick_units) = if tick_exp < 0 {
                    ((-tick_exp) as u32, 1)
                } else {
                    (0, 10i64.pow(tick_exp as u32))
                };
                let level = 100_000.0 / price;
                let qty_decimals = (3 - level.log10().floor() as i32).clamp(0, 8) as u32;
                Self {
                    start_price: price,
                    price_decimals,
                    tick_units,
                    qty_decimals,
                    vol_bps_per_sqrt_s: 1.5 + ((h >> 20) % 20) as f64 / 10.0,
                    mean_trade_qty: level / 30.0,
                    mean_level_qty: level,
                    ..base
                }
            }
        }
    }

    /// The price increment.
    pub fn tick_size(&self) -> f64 {
        self.tick_units as f64 / 10f64.powi(self.price_decimals as i32)
    }
}

/// FNV-1a, a hash with a fixed definition (std's hasher may change between
/// releases, which would change every derived market).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One entry of the feed, as it is written to the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedEntry {
    /// A good tick (ingest delivers it).
    Tick(Tick),
    /// A repeat of the previous tick (ingest drops it as a duplicate).
    Duplicate(Tick),
    /// A malformed entry (ingest rejects it to the dead-letter stream).
    Malformed {
        /// The fields as written.
        fields: Vec<(String, String)>,
        /// The reason ingest will give.
        reason: RejectReason,
        /// The symbol it belongs to, when its symbol field is readable.
        symbol: Option<String>,
        /// Event time of the tick it was made from.
        ts_ms: i64,
    },
}

impl FeedEntry {
    /// The stream fields of the entry.
    pub fn fields(&self) -> Vec<(String, String)> {
        match self {
            FeedEntry::Tick(t) | FeedEntry::Duplicate(t) => encode(t),
            FeedEntry::Malformed { fields, .. } => fields.clone(),
        }
    }

    /// Event time, for pacing.
    pub fn ts_ms(&self) -> i64 {
        match self {
            FeedEntry::Tick(t) | FeedEntry::Duplicate(t) => t.ts_server_ms,
            FeedEntry::Malformed { ts_ms, .. } => *ts_ms,
        }
    }
}

/// What a reader will count for one symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SymbolCounts {
    /// Good ticks written (each delivered once).
    pub ticks: u64,
    /// Sequence numbers skipped (visible ones only).
    pub seq_gaps: u64,
    /// Duplicates written.
    pub duplicates: u64,
    /// Ticks written after their successor.
    pub reordered: u64,
    /// Malformed entries with a readable symbol.
    pub rejected: u64,
}

/// What a reader will count for the whole feed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FeedCounts {
    /// Stream entries written.
    pub entries: u64,
    /// Per-symbol counts, ordered by symbol.
    pub symbols: BTreeMap<String, SymbolCounts>,
    /// Malformed entries per reject reason label.
    pub rejected: BTreeMap<String, u64>,
}

impl FeedCounts {
    /// Sums over symbols.
    pub fn totals(&self) -> SymbolCounts {
        self.symbols
            .values()
            .fold(SymbolCounts::default(), |mut a, c| {
                a.ticks += c.ticks;
                a.seq_gaps += c.seq_gaps;
                a.duplicates += c.duplicates;
                a.reordered += c.reordered;
                a.rejected += c.rejected;
                a
            })
    }

    /// Malformed entries over all reasons.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// Evolving state of one symbol.
#[derive(Debug)]
struct SymbolState {
    model: SymbolModel,
    rng: ChaCha8Rng,
    mean_interval_ms: f64,
    next_t: f64,
    last_t: f64,
    seq: u64,
    log_eff: f64,
    noise_bps: f64,
    log_vol: f64,
    spread_ticks: i64,
    bid_lots: i64,
    ask_lots: i64,
    last_mid: f64,
    // calibrated scenario: log-deviations of the touch sizes from their
    // median, and the extra width of a wide-spread episode (0: one tick)
    bid_z: f64,
    ask_z: f64,
    wide_ticks: i64,
    wide_on_ask: bool,
    // fault bookkeeping
    held: Option<Tick>,
    emitted_any: bool,
    unconfirmed_gaps: u64,
}

impl SymbolState {
    fn new(model: SymbolModel, seed: u64, mean_interval_ms: f64, start_ms: i64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fnv1a(model.symbol.as_bytes()));
        let first = start_ms as f64 + exponential(&mut rng, mean_interval_ms);
        let lots = |q: f64, d: u32| (q * 10f64.powi(d as i32)).round().max(1.0) as i64;
        let bid_lots = lots(model.mean_level_qty, model.qty_decimals);
        let spread = 1 + (unit(&mut rng) * f64::from(model.max_spread_ticks)) as i64;
        Self {
            mean_interval_ms,
            next_t: first,
            last_t: start_ms as f64,
            seq: 0,
            log_eff: 0.0,
            noise_bps: 0.0,
            log_vol: 0.0,
            spread_ticks: spread.max(1),
            bid_lots,
            ask_lots: bid_lots,
            last_mid: model.start_price,
            bid_z: 0.0,
            ask_z: 0.0,
            wide_ticks: 0,
            wide_on_ask: false,
            held: None,
            emitted_any: false,
            unconfirmed_gaps: 0,
            rng,
            model,
        }
    }

    fn lot_scale(&self) -> f64 {
        10f64.powi(self.model.qty_decimals as i32)
    }

    fn price(&self, ticks: i64) -> f64 {
        // An exact integer divided by a power of ten: the nearest f64 to the
        // decimal, i.e. what parsing "60000.1" gives.
        (ticks * self.model.tick_units) as f64 / 10f64.powi(self.model.price_decimals as i32)
    }

    fn draw_lots(&mut self, mean_qty: f64) -> i64 {
        let scale = self.lot_scale();
        let q = exponential(&mut self.rng, mean_qty);
        ((q * scale).round() as i64).max(1)
    }

    /// Advances to the next update and returns it.
    fn step(&mut self) -> Tick {
        match self.model.scenario {
            Scenario::Bounce => self.step_bounce(),
            Scenario::Calibrated => self.step_calibrated(),
        }
    }

    /// A lognormal draw in whole lots (at least one).
    fn lognormal_lots(&mut self, median: f64, sigma: f64) -> i64 {
        let q = median * (sigma * normal(&mut self.rng)).exp();
        ((q * self.lot_scale()).round() as i64).max(1)
    }

    /// The calibrated scenario's update (see the module documentation).
    fn step_calibrated(&mut self) -> Tick {
        let t = self.next_t;
        let dt_ms = (t - self.last_t).max(0.0);
        self.last_t = t;
        self.next_t = t + exponential(&mut self.rng, self.mean_interval_ms);
        let m = self.model.clone();

        // The efficient price: the same regime-switching walk as the bounce.
        let phi_v = (-dt_ms * std::f64::consts::LN_2 / 60_000.0).exp();
        self.log_vol =
            phi_v * self.log_vol + 0.35 * (1.0 - phi_v * phi_v).sqrt() * normal(&mut self.rng);
        let vol = m.vol_bps_per_sqrt_s * self.log_vol.exp();
        self.log_eff += vol / 1e4 * (dt_ms / 1000.0).sqrt() * normal(&mut self.rng);

        // One tick, or a wide episode (a level taken and not yet refilled)
        // closing with probability 1/2 per update.
        const CLOSE: f64 = 0.5;
        if self.wide_ticks > 0 {
            if unit(&mut self.rng) < CLOSE {
                self.wide_ticks = 0;
            }
        } else {
            let w = m.wide_spread_share.clamp(0.0, 0.99);
            if unit(&mut self.rng) < CLOSE * w / (1.0 - w) {
                // 30 % two or three ticks, the rest four and more with an
                // exponential tail giving the mean.
                let tail = ((m.wide_spread_mean_ticks - 0.3 * 2.45) / 0.7 - 4.0).max(0.0);
                let spread = if unit(&mut self.rng) < 0.3 {
                    2 + i64::from(unit(&mut self.rng) < 0.45)
                } else {
                    4 + exponential(&mut self.rng, tail).floor() as i64
                };
                self.wide_ticks = spread - 1;
                self.wide_on_ask = unit(&mut self.rng) < 0.5;
            }
        }
        let tick = m.tick_size();
        let mid = m.start_price * self.log_eff.exp();
        let mut bid_ticks = ((mid / tick) - 0.5).round().max(1.0) as i64;
        let mut ask_ticks = bid_ticks + 1;
        if self.wide_on_ask {
            ask_ticks += self.wide_ticks;
        } else {
            bid_ticks = (bid_ticks - self.wide_ticks).max(1);
        }

        // Touch sizes: persistent lognormal.
        const PHI: f64 = 0.9;
        let innovation = (1.0 - PHI * PHI).sqrt() * m.touch_qty_sigma;
        self.bid_z = PHI * self.bid_z + innovation * normal(&mut self.rng);
        self.ask_z = PHI * self.ask_z + innovation * normal(&mut self.rng);
        let scale = self.lot_scale();
        let lots = |z: f64| ((m.touch_qty_median * z.exp() * scale).round() as i64).max(1);
        self.bid_lots = lots(self.bid_z);
        self.ask_lots = lots(self.ask_z);

        let move_bps = (mid - self.last_mid) / self.last_mid * 1e4;
        self.last_mid = mid;
        let (last_qty, last_px, side) = if unit(&mut self.rng) < m.trade_probability {
            let p_buy = 0.5 + 0.3 * (move_bps / 2.0).tanh();
            let lots = self.lognormal_lots(m.trade_qty_median, m.trade_qty_sigma);
            let buy = unit(&mut self.rng) < p_buy;
            let u = unit(&mut self.rng);
            // Ticks beyond the side taken: through (> 0), behind (< 0).
            let depth = 1 + exponential(&mut self.rng, 1.0).floor() as i64;
            let beyond = if u < m.through_share {
                depth
            } else if u < m.through_share + m.behind_share {
                -depth
            } else {
                0
            };
            if beyond >= 0 {
                // The trade takes liquidity from the side it hits.
                if buy {
                    self.ask_lots = (self.ask_lots - lots).max(1);
                } else {
                    self.bid_lots = (self.bid_lots - lots).max(1);
                }
            }
            let qty = lots as f64 / scale;
            if buy {
                (qty, Some(self.price(ask_ticks + beyond)), Side::Buy)
            } else {
                (
                    qty,
                    Some(self.price((bid_ticks - beyond).max(1))),
                    Side::Sell,
                )
            }
        } else {
            (0.0, None, Side::Unspecified)
        };
        self.seq += 1;
        Tick {
            symbol: m.symbol.clone(),
            seq: self.seq,
            ts_server_ms: t.floor() as i64,
            bid: self.price(bid_ticks),
            ask: self.price(ask_ticks),
            last_qty,
            bid_qty: Some(self.bid_lots as f64 / scale),
            ask_qty: Some(self.ask_lots as f64 / scale),
            last_px,
            side,
            ts_ingest_ms: 0,
            ts_recv_ms: None,
        }
    }

    /// The bounce scenario's update (see the module documentation).
    fn step_bounce(&mut self) -> Tick {
        let t = self.next_t;
        let dt_ms = (t - self.last_t).max(0.0);
        self.last_t = t;
        self.next_t = t + exponential(&mut self.rng, self.mean_interval_ms);
        let m = &self.model;

        // Volatility regime: log-AR(1) with a one-minute half-life.
        let phi_v = (-dt_ms * std::f64::consts::LN_2 / 60_000.0).exp();
        self.log_vol =
            phi_v * self.log_vol + 0.35 * (1.0 - phi_v * phi_v).sqrt() * normal(&mut self.rng);
        let vol_factor = self.log_vol.exp();
        let vol = m.vol_bps_per_sqrt_s * vol_factor;
        self.log_eff += vol / 1e4 * (dt_ms / 1000.0).sqrt() * normal(&mut self.rng);
        if m.noise_bps > 0.0 && m.noise_half_life_ms > 0.0 {
            let phi = (-dt_ms * std::f64::consts::LN_2 / m.noise_half_life_ms).exp();
            self.noise_bps = phi * self.noise_bps
                + m.noise_bps * (1.0 - phi * phi).sqrt() * normal(&mut self.rng);
        }
        // The spread is redrawn on about 5 % of updates, so it widens and
        // narrows over seconds; volatile regimes quote wider.
        if unit(&mut self.rng) < 0.05 {
            let widest = (f64::from(m.max_spread_ticks) * vol_factor)
                .clamp(1.0, 4.0 * f64::from(m.max_spread_ticks));
            self.spread_ticks = 1 + (unit(&mut self.rng) * widest) as i64;
        }
        let tick = m.tick_size();
        let mid = m.start_price * self.log_eff.exp() * (1.0 + self.noise_bps / 1e4);
        let bid_ticks = ((mid / tick) - self.spread_ticks as f64 / 2.0)
            .round()
            .max(1.0) as i64;
        let ask_ticks = bid_ticks + self.spread_ticks;
        let (bid, ask) = (self.price(bid_ticks), self.price(ask_ticks));

        // Touch sizes drift towards fresh draws.
        let mean_level = m.mean_level_qty;
        let fresh_bid = self.draw_lots(mean_level);
        let fresh_ask = self.draw_lots(mean_level);
        self.bid_lots = ((self.bid_lots * 7 + fresh_bid * 3) / 10).max(1);
        self.ask_lots = ((self.ask_lots * 7 + fresh_ask * 3) / 10).max(1);

        let move_bps = (mid - self.last_mid) / self.last_mid * 1e4;
        self.last_mid = mid;
        let (last_qty, last_px, side) = if unit(&mut self.rng) < self.model.trade_probability {
            let p_buy = 0.5 + 0.3 * (move_bps / 2.0).tanh();
            let lots = self.draw_lots(self.model.mean_trade_qty);
            let buy = unit(&mut self.rng) < p_buy;
            // The trade takes liquidity from the side it hits.
            if buy {
                self.ask_lots = (self.ask_lots - lots).max(1);
            } else {
                self.bid_lots = (self.bid_lots - lots).max(1);
            }
            let qty = lots as f64 / self.lot_scale();
            if buy {
                (qty, Some(ask), Side::Buy)
            } else {
                (qty, Some(bid), Side::Sell)
            }
        } else {
            (0.0, None, Side::Unspecified)
        };
        self.seq += 1;
        Tick {
            symbol: self.model.symbol.clone(),
            seq: self.seq,
            ts_server_ms: t.floor() as i64,
            bid,
            ask,
            last_qty,
            bid_qty: Some(self.bid_lots as f64 / self.lot_scale()),
            ask_qty: Some(self.ask_lots as f64 / self.lot_scale()),
            last_px,
            side,
            ts_ingest_ms: 0,
            ts_recv_ms: None,
        }
    }
}

/// The synthetic feed: an iterator of [`FeedEntry`] in write order.
#[derive(Debug)]
pub struct SyntheticFeed {
    cfg: SyntheticConfig,
    states: Vec<SymbolState>,
    faults: ChaCha8Rng,
    end_ms: f64,
    out: VecDeque<FeedEntry>,
    counts: FeedCounts,
    finished: bool,
}

impl SyntheticFeed {
    /// A feed for `cfg`.
    pub fn new(cfg: SyntheticConfig) -> Result<Self, SyntheticError> {
        let mut symbols: Vec<String> = Vec::new();
        for raw in &cfg.symbols {
            let s = normalize_symbol(raw).ok_or_else(|| {
                SyntheticError::Symbols(format!("`{raw}` is empty once normalised"))
            })?;
            if !symbols.contains(&s) {
                symbols.push(s);
            }
        }
        if symbols.is_empty() {
            return Err(SyntheticError::Symbols("no symbol given".into()));
        }
        if !(cfg.rate.is_finite() && cfg.rate > 0.0) {
            return Err(SyntheticError::Rate(cfg.rate));
        }
        if cfg.duration_ms < 0 {
            return Err(SyntheticError::Duration(cfg.duration_ms));
        }
        cfg.faults.validate()?;
        let mean_interval_ms = 1000.0 * symbols.len() as f64 / cfg.rate;
        let states = symbols
            .iter()
            .map(|s| {
                SymbolState::new(
                    SymbolModel::for_scenario(s, cfg.scenario),
                    cfg.seed,
                    mean_interval_ms,
                    cfg.start_ms,
                )
            })
            .collect();
        let mut counts = FeedCounts::default();
        for s in &symbols {
            counts.symbols.insert(s.clone(), SymbolCounts::default());
        }
        Ok(Self {
            end_ms: cfg.start_ms as f64 + cfg.duration_ms as f64,
            faults: ChaCha8Rng::seed_from_u64(cfg.seed.rotate_left(17) ^ 0x5eed_fa17_0000_0001),
            cfg: SyntheticConfig { symbols, ..cfg },
            states,
            out: VecDeque::new(),
            counts,
            finished: false,
        })
    }

    /// The effective configuration (normalised symbols).
    pub fn config(&self) -> &SyntheticConfig {
        &self.cfg
    }

    /// The market models of the symbols.
    pub fn models(&self) -> impl Iterator<Item = &SymbolModel> {
        self.states.iter().map(|s| &s.model)
    }

    /// What a reader will count for the entries returned so far (final once
    /// the iterator is exhausted).
    pub fn counts(&self) -> &FeedCounts {
        &self.counts
    }

    fn emit_good(&mut self, i: usize, t: Tick, moved: bool) {
        let st = &mut self.states[i];
        st.emitted_any = true;
        let gaps = std::mem::take(&mut st.unconfirmed_gaps);
        if let Some(c) = self.counts.symbols.get_mut(&t.symbol) {
            c.ticks += 1;
            c.seq_gaps += gaps;
            c.reordered += u64::from(moved);
        }
        self.counts.entries += 1;
        self.out.push_back(FeedEntry::Tick(t));
    }

    fn emit_duplicate(&mut self, t: Tick) {
        if let Some(c) = self.counts.symbols.get_mut(&t.symbol) {
            c.duplicates += 1;
        }
        self.counts.entries += 1;
        self.out.push_back(FeedEntry::Duplicate(t));
    }

    fn emit_malformed(&mut self, t: &Tick) {
        let reason = RejectReason::ALL
            [(self.faults.next_u64_below(RejectReason::ALL.len() as u64)) as usize];
        let mut fields = encode(t);
        let set = |fields: &mut Vec<(String, String)>, name: &str, v: &str| match fields
            .iter_mut()
            .find(|(k, _)| k == name)
        {
            Some(slot) => slot.1 = v.to_string(),
            None => fields.push((name.to_string(), v.to_string())),
        };
        const NUMERIC: [&str; 5] = [
            field::SEQ,
            field::TS_SERVER,
            field::BID,
            field::ASK,
            field::LAST_QTY,
        ];
        let pick = NUMERIC[self.faults.next_u64_below(NUMERIC.len() as u64) as usize];
        let mut symbol = Some(t.symbol.clone());
        match reason {
            RejectReason::MissingField => fields.retain(|(k, _)| k != pick),
            RejectReason::NotANumber => set(&mut fields, pick, "n/a"),
            RejectReason::Nan => set(&mut fields, field::BID, "NaN"),
            RejectReason::Negative => set(&mut fields, field::LAST_QTY, "-1"),
            RejectReason::CrossedBook => {
                set(&mut fields, field::BID, &t.ask.to_string());
                set(&mut fields, field::ASK, &t.bid.to_string());
            }
            RejectReason::EmptySymbol => {
                set(&mut fields, field::SYMBOL, "--");
                symbol = None;
            }
            RejectReason::BadSide => set(&mut fields, field::SIDE, "hold"),
        }
        if let Some(c) = symbol.as_ref().and_then(|s| self.counts.symbols.get_mut(s)) {
            c.rejected += 1;
        }
        *self
            .counts
            .rejected
            .entry(reason.as_str().to_string())
            .or_default() += 1;
        self.counts.entries += 1;
        self.out.push_back(FeedEntry::Malformed {
            fields,
            reason,
            symbol,
            ts_ms: t.ts_server_ms,
        });
    }

    /// Produces the entries for the next clean tick; false at the end.
    fn advance(&mut self) -> bool {
        let Some(i) = self
            .states
            .iter()
            .enumerate()
            .filter(|(_, s)| s.next_t < self.end_ms)
            .min_by(|a, b| a.1.next_t.total_cmp(&b.1.next_t))
            .map(|(i, _)| i)
        else {
            return false;
        };
        let tick = self.states[i].step();
        let f = self.cfg.faults;

        if let Some(held) = self.states[i].held.take() {
            // `tick` is the successor of a held tick: write it first, then the
            // held one, when they are close enough for a reorder window.
            if tick.ts_server_ms - held.ts_server_ms <= self.cfg.reorder_max_ms {
                self.emit_good(i, tick, false);
                self.emit_good(i, held, true);
            } else {
                self.emit_good(i, held, false);
                self.emit_good(i, tick, false);
            }
            return true;
        }
        if f.malformed > 0.0 && unit(&mut self.faults) < f.malformed {
            self.emit_malformed(&tick);
        }
        let u = unit(&mut self.faults);
        if u < f.gap && self.states[i].emitted_any {
            self.states[i].unconfirmed_gaps += 1;
        } else if u < f.gap + f.duplicate {
            let dup = tick.clone();
            self.emit_good(i, tick, false);
            self.emit_duplicate(dup);
        } else if u < f.gap + f.duplicate + f.reorder {
            self.states[i].held = Some(tick);
        } else {
            self.emit_good(i, tick, false);
        }
        true
    }

    fn finish(&mut self) {
        self.finished = true;
        for i in 0..self.states.len() {
            if let Some(held) = self.states[i].held.take() {
                self.emit_good(i, held, false);
            }
        }
    }
}

impl Iterator for SyntheticFeed {
    type Item = FeedEntry;

    fn next(&mut self) -> Option<FeedEntry> {
        loop {
            if let Some(e) = self.out.pop_front() {
                return Some(e);
            }
            if self.finished {
                return None;
            }
            if !self.advance() {
                self.finish();
            }
        }
    }
}

trait Below {
    fn next_u64_below(&mut self, n: u64) -> u64;
}

impl Below for ChaCha8Rng {
    fn next_u64_below(&mut self, n: u64) -> u64 {
        self.random_range(0..n.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::decode::decode_pairs;
    use crate::feed::guard::{SymbolGuard, Verdict};

    fn cfg(seed: u64, faults: FaultRates) -> SyntheticConfig {
        SyntheticConfig {
            seed,
            duration_ms: 60_000,
            rate: 400.0,
            faults,
            ..SyntheticConfig::default()
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_feed_and_another_seed_does_not() {
        let a: Vec<_> = SyntheticFeed::new(cfg(7, FaultRates::default()))
            .unwrap()
            .collect();
        let b: Vec<_> = SyntheticFeed::new(cfg(7, FaultRates::default()))
            .unwrap()
            .collect();
        let c: Vec<_> = SyntheticFeed::new(cfg(8, FaultRates::default()))
            .unwrap()
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // About rate × duration entries.
        assert!((20_000..28_000).contains(&a.len()), "{}", a.len());
    }

    #[test]
    fn prices_sit_on_the_tick_grid_and_books_are_never_crossed() {
        // The bounce prints every trade at the touch.
        let feed = SyntheticFeed::new(SyntheticConfig {
            scenario: Scenario::Bounce,
            ..cfg(3, FaultRates::default())
        })
        .unwrap();
        let mut trades = 0;
        let mut spreads = std::collections::BTreeSet::new();
        for e in feed {
            let FeedEntry::Tick(t) = e else {
                panic!("no faults asked")
            };
            let (decimals, near) = match t.symbol.as_str() {
                "BTCUSDT" => (1, 60_000.0),
                "ETHUSDT" => (2, 3_000.0),
                other => panic!("unexpected {other}"),
            };
            let f = 10f64.powi(decimals);
            assert_eq!((t.bid * f).round() / f, t.bid);
            assert!(t.bid < t.ask, "{t:?}");
            assert!((t.mid() / near - 1.0).abs() < 0.05, "{t:?}");
            assert!(t.bid_qty.unwrap() > 0.0 && t.ask_qty.unwrap() > 0.0);
            spreads.insert(((t.ask - t.bid) * f).round() as i64);
            if t.last_qty > 0.0 {
                trades += 1;
                let px = t.last_px.unwrap();
                match t.side {
                    Side::Buy => assert_eq!(px, t.ask),
                    Side::Sell => assert_eq!(px, t.bid),
                    Side::Unspecified => panic!("a trade without a side"),
                }
            } else {
                assert_eq!((t.last_px, t.side), (None, Side::Unspecified));
            }
            // The stream form reads back to the same tick.
            assert_eq!(decode_pairs(&encode(&t)).unwrap(), t);
        }
        assert!(trades > 1_000, "{trades}");
        assert!(
            spreads.len() >= 3,
            "the spread widens and narrows: {spreads:?}"
        );
    }

    #[test]
    fn the_calibrated_market_prints_at_through_and_behind_its_touch_on_the_grid() {
        let feed = SyntheticFeed::new(cfg(3, FaultRates::default())).unwrap();
        // Ticks beyond the touch of each trade: through > 0, behind < 0.
        let mut beyond: BTreeMap<i64, u64> = BTreeMap::new();
        let mut one_tick = 0u64;
        let mut n = 0u64;
        for e in feed {
            let FeedEntry::Tick(t) = e else {
                panic!("no faults asked")
            };
            let f = if t.symbol == "BTCUSDT" { 10.0 } else { 100.0 };
            assert!(t.bid < t.ask, "{t:?}");
            for px in [t.bid, t.ask, t.last_px.unwrap_or(t.bid)] {
                assert_eq!((px * f).round() / f, px, "{t:?}");
            }
            n += 1;
            one_tick += u64::from(((t.ask - t.bid) * f).round() as i64 == 1);
            if let Some(px) = t.last_px {
                let d = match t.side {
                    Side::Buy => px - t.ask,
                    Side::Sell => t.bid - px,
                    Side::Unspecified => panic!("a trade without a side"),
                };
                *beyond.entry((d * f).round() as i64).or_default() += 1;
            }
        }
        let trades: u64 = beyond.values().sum();
        let share = |pred: fn(i64) -> bool| {
            beyond
                .iter()
                .filter(|(k, _)| pred(**k))
                .map(|(_, v)| *v)
                .sum::<u64>() as f64
                / trades as f64
        };
        assert!((share(|k| k == 0) - 0.505).abs() < 0.02, "{beyond:?}");
        assert!((share(|k| k > 0) - 0.345).abs() < 0.02, "{beyond:?}");
        assert!(
            (share(|k| k > 2) - 0.345 * (-2f64).exp()).abs() < 0.02,
            "{beyond:?}"
        );
        assert!((trades as f64 / n as f64 - 0.3225).abs() < 0.01);
        assert!((one_tick as f64 / n as f64 - 0.942).abs() < 0.01);
    }

    #[test]
    fn scenarios_parse_and_print_by_name() {
        for s in Scenario::ALL {
            assert_eq!(s.as_str().parse::<Scenario>(), Ok(s));
        }
        assert_eq!(Scenario::default(), Scenario::Calibrated);
        let err = "bouncy".parse::<Scenario>().unwrap_err();
        assert!(
            err.contains("`bouncy`") && err.contains("calibrated or bounce"),
            "{err}"
        );
        assert_eq!(
            SymbolModel::for_scenario("BTCUSDT", Scenario::Bounce).noise_bps,
            4.0
        );
        assert_eq!(SymbolModel::for_symbol("BTCUSDT").noise_bps, 0.0);
    }

    #[test]
    fn other_symbols_get_a_stable_derived_market() {
        let a = SymbolModel::for_symbol("SOLUSDT");
        assert_eq!(a, SymbolModel::for_symbol("SOLUSDT"));
        assert_ne!(
            a.start_price,
            SymbolModel::for_symbol("XRPUSDT").start_price
        );
        let bps = a.tick_size() / a.start_price * 1e4;
        assert!((0.1..=1.0).contains(&bps), "{a:?}");
        assert_eq!(SymbolModel::for_symbol("ETHUSDT").tick_size(), 0.01);
        assert_eq!(SymbolModel::for_symbol("BTCUSDT").tick_size(), 0.1);
    }

    #[test]
    fn injected_faults_are_exactly_what_the_guards_count() {
        let faults = FaultRates {
            gap: 0.01,
            duplicate: 0.01,
            reorder: 0.02,
            malformed: 0.01,
        };
        let mut feed = SyntheticFeed::new(cfg(11, faults)).unwrap();
        let entries: Vec<_> = feed.by_ref().collect();
        let expected = feed.counts().clone();
        assert_eq!(expected.entries, entries.len() as u64);

        // Run the stream form through decode and the guards, as ingest does.
        let mut guards: BTreeMap<String, SymbolGuard<Tick>> = BTreeMap::new();
        let mut got: BTreeMap<String, SymbolCounts> = BTreeMap::new();
        let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
        let mut delivered: BTreeMap<String, Vec<Tick>> = BTreeMap::new();
        let mut out = Vec::new();
        for e in &entries {
            match decode_pairs(&e.fields()) {
                Err(r) => {
                    let FeedEntry::Malformed { reason, symbol, .. } = e else {
                        panic!("a good entry was rejected: {r}")
                    };
                    assert_eq!(r.reason, *reason);
                    *rejected.entry(r.reason.as_str().into()).or_default() += 1;
                    if let Some(s) = symbol {
                        got.entry(s.clone()).or_default().rejected += 1;
                    }
                }
                Ok(t) => {
                    let g = guards
                        .entry(t.symbol.clone())
                        .or_insert_with(|| SymbolGuard::new(40));
                    g.push(t, 0, &mut out);
                }
            }
        }
        for g in guards.values_mut() {
            g.release_all(&mut out);
        }
        for g in out {
            let c = got.entry(g.item.symbol.clone()).or_default();
            match g.verdict {
                Verdict::Duplicate => c.duplicates += 1,
                Verdict::Deliver { missing, moved } => {
                    c.ticks += 1;
                    c.seq_gaps += missing;
                    c.reordered += u64::from(moved);
                    delivered
                        .entry(g.item.symbol.clone())
                        .or_default()
                        .push(g.item);
                }
            }
        }
        assert_eq!(got, expected.symbols);
        assert_eq!(rejected, expected.rejected);
        let t = expected.totals();
        assert!(
            t.seq_gaps > 50 && t.duplicates > 50 && t.reordered > 100 && t.rejected > 50,
            "{t:?}"
        );
        for ticks in delivered.values() {
            assert!(
                ticks
                    .windows(2)
                    .all(|w| (w[0].ts_server_ms, w[0].seq) < (w[1].ts_server_ms, w[1].seq))
            );
        }
    }

    #[test]
    fn bad_configurations_are_refused() {
        let bad = |f: fn(&mut SyntheticConfig)| {
            let mut c = SyntheticConfig::default();
            f(&mut c);
            SyntheticFeed::new(c).unwrap_err()
        };
        assert!(matches!(
            bad(|c| c.symbols.clear()),
            SyntheticError::Symbols(_)
        ));
        assert!(matches!(
            bad(|c| c.symbols = vec!["--".into()]),
            SyntheticError::Symbols(_)
        ));
        assert!(matches!(bad(|c| c.rate = 0.0), SyntheticError::Rate(_)));
        assert!(matches!(
            bad(|c| c.duration_ms = -1),
            SyntheticError::Duration(_)
        ));
        assert!(matches!(
            bad(|c| c.faults.gap = 1.5),
            SyntheticError::FaultRate {
                name: "gap_rate",
                ..
            }
        ));
        assert!(matches!(
            bad(|c| {
                c.faults.gap = 0.6;
                c.faults.reorder = 0.6;
            }),
            SyntheticError::FaultRate { .. }
        ));
    }

    #[test]
    fn symbols_are_normalised_and_deduplicated() {
        let feed = SyntheticFeed::new(SyntheticConfig {
            symbols: vec!["btc-usdt".into(), "BTC_USDT".into(), "eth/usdt".into()],
            duration_ms: 1_000,
            ..SyntheticConfig::default()
        })
        .unwrap();
        assert_eq!(feed.config().symbols, vec!["BTCUSDT", "ETHUSDT"]);
    }
}
