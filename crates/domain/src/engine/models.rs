//! The swappable models of the simulated exchange.
//!
//! As in hftbacktest, the exchange does not hard-code how orders fill: it is
//! handed a [`ModelSet`] of four trait objects.
//!
//! - [`FillModel`]: *when* a resting quote may fill (touch dwell, triggers).
//! - [`QueueModel`]: *how much* of a trade at our price reaches us.
//! - [`LatencyModel`]: feed delay and order-entry delay.
//! - [`FeeModel`]: maker/taker fees in basis points.
//!
//! Shadow mode and the dry run differ only in the set they get:
//! [`ModelSet::lenient`] (no latency, front of the queue) and
//! [`ModelSet::strict`] (seeded 20–80 ms order entry, 2–10 ms feed delay,
//! conservative queue). Models are stateless and shared; randomness lives in a
//! per-symbol `ChaCha8Rng` owned by the exchange, so each symbol's draws depend
//! only on that symbol's ticks, never on how symbols interleave.

use std::fmt;
use std::sync::Arc;

use crate::params::StrategyParams;
use crate::tick::{Side, Tick};

use super::fill::{Liquidity, OrderSide};
use super::latency::{ConstantLatency, LatencyModel, UniformLatency};

/// Relative tolerance for "same price" comparisons of feed prices.
const PRICE_EPS: f64 = 1e-9;

/// True when two prices are equal up to a relative 1e-9 (feed prices are
/// decimals that may not round-trip exactly).
pub fn same_price(a: f64, b: f64) -> bool {
    (a - b).abs() <= PRICE_EPS * a.abs().max(b.abs()).max(1.0)
}

/// What a resting quote looks like to the fill and queue models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuoteView {
    /// Side of our order.
    pub side: OrderSide,
    /// Our limit price.
    pub price: f64,
    /// Event time since which the quote has been at (or better than) the touch
    /// without interruption; `None` when it is behind the touch.
    pub at_touch_since_ms: Option<i64>,
}

/// How a tick triggers a resting quote, as decided by a [`FillModel`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FillTrigger {
    /// Nothing reached our price.
    None,
    /// The market traded or moved through our price: the whole level was
    /// consumed, so the remaining size fills.
    Through,
    /// A trade of this size printed exactly at our price; the queue model
    /// decides how much of it reaches us.
    AtPrice(f64),
}

/// Decides when a resting quote is eligible to fill and what triggered it.
pub trait FillModel: fmt::Debug + Send + Sync {
    /// Short name for logs and reports.
    fn name(&self) -> &'static str;

    /// Whether the quote has rested long enough at the touch to be filled now.
    fn eligible(&self, quote: &QuoteView, now_ms: i64, params: &StrategyParams) -> bool;

    /// What the tick does to a quote at `quote.price`.
    fn trigger(&self, quote: &QuoteView, tick: &Tick) -> FillTrigger;
}

/// The contract's fill rule: a quote fills when the opposite touch crosses its
/// price or a trade prints at or through its price, but only once it has
/// dwelled `touch_dwell_ms` at the touch (a requote restarts the dwell).
///
/// A trade without `last_px` is assumed to have printed at the touch on its
/// aggressor's side; a trade without a side is attributed by price (at or below
/// the bid is a sell, at or above the ask a buy).
#[derive(Debug, Clone, Copy, Default)]
pub struct TouchDwellFill;

impl FillModel for TouchDwellFill {
    fn name(&self) -> &'static str {
        "touch_dwell"
    }

    fn eligible(&self, quote: &QuoteView, now_ms: i64, params: &StrategyParams) -> bool {
        if params.touch_dwell_ms <= 0.0 {
            return true;
        }
        match quote.at_touch_since_ms {
            Some(since) => (now_ms - since) as f64 >= params.touch_dwell_ms,
            None => false,
        }
    }

    fn trigger(&self, quote: &QuoteView, tick: &Tick) -> FillTrigger {
        let p = quote.price;
        // The opposite touch reached our price: the book moved through us.
        let crossed = match quote.side {
            OrderSide::Buy => tick.ask < p || same_price(tick.ask, p),
            OrderSide::Sell => tick.bid > p || same_price(tick.bid, p),
        };
        if crossed {
            return FillTrigger::Through;
        }
        let Some((px, aggressor)) = trade_of(tick) else {
            return FillTrigger::None;
        };
        // Sellers hit bids, buyers lift asks.
        let hits_us = matches!(
            (quote.side, aggressor),
            (OrderSide::Buy, Side::Sell) | (OrderSide::Sell, Side::Buy)
        );
        if !hits_us {
            return FillTrigger::None;
        }
        if same_price(px, p) {
            return FillTrigger::AtPrice(tick.last_qty);
        }
        let through = match quote.side {
            OrderSide::Buy => px < p,
            OrderSide::Sell => px > p,
        };
        if through {
            FillTrigger::Through
        } else {
            FillTrigger::None
        }
    }
}

/// The trade carried by a tick, as `(price, aggressor)`, when there is one.
pub fn trade_of(tick: &Tick) -> Option<(f64, Side)> {
    if tick.last_qty.is_nan() || tick.last_qty <= 0.0 {
        return None;
    }
    let aggressor = match tick.side {
        Side::Unspecified => match tick.last_px {
            Some(px) if px <= tick.bid => Side::Sell,
            Some(px) if px >= tick.ask => Side::Buy,
            _ => return None,
        },
        s => s,
    };
    let px = tick.last_px.unwrap_or(match aggressor {
        Side::Sell => tick.bid,
        _ => tick.ask,
    });
    Some((px, aggressor))
}

/// Where our price sits relative to the same-side touch when the queue model
/// needs to know how much is ahead of us.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LevelView {
    /// Our price improves on the touch: nobody is displayed there.
    BetterThanTouch,
    /// Our price equals the touch, with its displayed size when the feed has it.
    AtTouch(Option<f64>),
    /// Our price is behind the touch: the feed does not show that level.
    BehindTouch,
}

/// Tracks how much volume is queued ahead of our quote at its price.
///
/// The position is a plain `Option<f64>` owned by the order: `None` means "not
/// known yet" (the level has not been visible since the order went live).
pub trait QueueModel: fmt::Debug + Send + Sync {
    /// Short name for logs and reports.
    fn name(&self) -> &'static str;

    /// Updates the queue ahead from what the book shows at our price; called
    /// when the order goes live and after every tick.
    fn observe(&self, ahead: &mut Option<f64>, level: LevelView);

    /// A trade of `traded` printed at our price: advances the queue and returns
    /// the part of the volume that reaches us.
    fn on_trade_at_price(&self, ahead: &mut Option<f64>, traded: f64) -> f64;
}

/// Lenient queue: we are always at the front, so every trade at our price
/// reaches us (still capped by its size).
#[derive(Debug, Clone, Copy, Default)]
pub struct FrontOfQueue;

impl QueueModel for FrontOfQueue {
    fn name(&self) -> &'static str {
        "front_of_queue"
    }

    fn observe(&self, ahead: &mut Option<f64>, _level: LevelView) {
        *ahead = Some(0.0);
    }

    fn on_trade_at_price(&self, _ahead: &mut Option<f64>, traded: f64) -> f64 {
        traded
    }
}

/// Conservative queue: we join behind the displayed size at our price and
/// advance only by volume traded at our price (cancellations ahead of us are
/// ignored, which is the pessimistic assumption).
///
/// - joining at the touch: ahead = displayed size (`bid_qty`/`ask_qty`; 0 when
///   the feed has no sizes);
/// - improving on the touch: ahead = 0 (we are alone at a new level);
/// - behind the touch: unknown until the level becomes the touch, and trades at
///   our price while unknown never reach us.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConservativeQueue;

impl QueueModel for ConservativeQueue {
    fn name(&self) -> &'static str {
        "conservative_queue"
    }

    fn observe(&self, ahead: &mut Option<f64>, level: LevelView) {
        if ahead.is_some() {
            // Once known, the position only moves by traded volume.
            return;
        }
        *ahead = match level {
            LevelView::BetterThanTouch => Some(0.0),
            LevelView::AtTouch(size) => {
                Some(size.filter(|s| s.is_finite()).unwrap_or(0.0).max(0.0))
            }
            LevelView::BehindTouch => None,
        };
    }

    fn on_trade_at_price(&self, ahead: &mut Option<f64>, traded: f64) -> f64 {
        match ahead {
            None => 0.0,
            Some(q) => {
                let reaches_us = (traded - *q).max(0.0);
                *q = (*q - traded).max(0.0);
                reaches_us
            }
        }
    }
}

/// Fee in basis points of notional for a fill; negative is a rebate.
pub trait FeeModel: fmt::Debug + Send + Sync {
    /// Short name for logs and reports.
    fn name(&self) -> &'static str;

    /// Fee for a fill with this liquidity under these parameters.
    fn fee_bps(&self, liquidity: Liquidity, params: &StrategyParams) -> f64;
}

/// Fees straight from the parameters: `maker_fee_bps` / `taker_fee_bps`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParamsFee;

impl FeeModel for ParamsFee {
    fn name(&self) -> &'static str {
        "params"
    }

    fn fee_bps(&self, liquidity: Liquidity, params: &StrategyParams) -> f64 {
        match liquidity {
            Liquidity::Maker => params.maker_fee_bps,
            Liquidity::Taker => params.taker_fee_bps,
        }
    }
}

/// The four models handed to the simulated exchange. Cloning is cheap (shared
/// `Arc`s).
#[derive(Debug, Clone)]
pub struct ModelSet {
    /// When quotes fill.
    pub fill: Arc<dyn FillModel>,
    /// How much of a trade at our price reaches us.
    pub queue: Arc<dyn QueueModel>,
    /// Feed and order-entry delays.
    pub latency: Arc<dyn LatencyModel>,
    /// Fees.
    pub fee: Arc<dyn FeeModel>,
}

impl ModelSet {
    /// The shadow default: no latency, front of the queue, touch-dwell fills,
    /// fees from the parameters.
    pub fn lenient() -> Self {
        ModelSetBuilder::default().build()
    }

    /// The dry-run model: order entry 20–80 ms and feed delay 2–10 ms drawn from
    /// a ChaCha8 stream seeded with `seed`, conservative queue position.
    pub fn strict(seed: u64) -> Self {
        ModelSet::builder()
            .latency(UniformLatency {
                feed_ms: (2, 10),
                entry_ms: (20, 80),
                response_ms: (0, 0),
                seed,
            })
            .queue(ConservativeQueue)
            .build()
    }

    /// The shadow default: front of the queue like [`ModelSet::lenient`], but
    /// with the *expected* latency of [`ModelSet::strict`] as a constant (feed
    /// 6 ms, order entry 50 ms, the means of its ranges). Shadow and dry run then
    /// differ only in what the strict set adds on purpose — random latency and
    /// queue position — so a prediction is not off by the mean latency alone.
    pub fn shadow() -> Self {
        ModelSet::builder()
            .latency(ConstantLatency {
                feed_ms: 6,
                entry_ms: 50,
                response_ms: 0,
            })
            .build()
    }

    /// A builder starting from the lenient models.
    pub fn builder() -> ModelSetBuilder {
        ModelSetBuilder::default()
    }

    /// One-line description, e.g.
    /// `fill=touch_dwell queue=front_of_queue latency=constant(feed=0ms,entry=0ms) fee=params`.
    pub fn describe(&self) -> String {
        format!(
            "fill={} queue={} latency={} fee={}",
            self.fill.name(),
            self.queue.name(),
            self.latency.describe(),
            self.fee.name()
        )
    }
}

impl Default for ModelSet {
    fn default() -> Self {
        Self::lenient()
    }
}

/// Builds a [`ModelSet`]; every model not set stays lenient.
#[derive(Debug)]
pub struct ModelSetBuilder {
    fill: Arc<dyn FillModel>,
    queue: Arc<dyn QueueModel>,
    latency: Arc<dyn LatencyModel>,
    fee: Arc<dyn FeeModel>,
}

impl Default for ModelSetBuilder {
    fn default() -> Self {
        Self {
            fill: Arc::new(TouchDwellFill),
            queue: Arc::new(FrontOfQueue),
            latency: Arc::new(ConstantLatency::default()),
            fee: Arc::new(ParamsFee),
        }
    }
}

impl ModelSetBuilder {
    /// Sets the fill model.
    pub fn fill(mut self, m: impl FillModel + 'static) -> Self {
        self.fill = Arc::new(m);
        self
    }

    /// Sets the queue model.
    pub fn queue(mut self, m: impl QueueModel + 'static) -> Self {
        self.queue = Arc::new(m);
        self
    }

    /// Sets the latency model.
    pub fn latency(mut self, m: impl LatencyModel + 'static) -> Self {
        self.latency = Arc::new(m);
        self
    }

    /// Sets the fee model.
    pub fn fee(mut self, m: impl FeeModel + 'static) -> Self {
        self.fee = Arc::new(m);
        self
    }

    /// The finished set.
    pub fn build(self) -> ModelSet {
        ModelSet {
            fill: self.fill,
            queue: self.queue,
            latency: self.latency,
            fee: self.fee,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bid_quote(price: f64, since: Option<i64>) -> QuoteView {
        QuoteView {
            side: OrderSide::Buy,
            price,
            at_touch_since_ms: since,
        }
    }

    fn tick(bid: f64, ask: f64, trade: Option<(f64, f64, Side)>) -> Tick {
        let (last_px, last_qty, side) = match trade {
            Some((px, q, s)) => (Some(px), q, s),
            None => (None, 0.0, Side::Unspecified),
        };
        Tick {
            symbol: "T".into(),
            bid,
            ask,
            last_px,
            last_qty,
            side,
            ..Tick::default()
        }
    }

    #[test]
    fn quote_that_has_not_dwelled_is_not_eligible() {
        let params = StrategyParams {
            touch_dwell_ms: 50.0,
            ..StrategyParams::default()
        };
        let m = TouchDwellFill;
        assert!(!m.eligible(&bid_quote(100.0, None), 1_000, &params));
        assert!(!m.eligible(&bid_quote(100.0, Some(960)), 1_000, &params));
        assert!(m.eligible(&bid_quote(100.0, Some(950)), 1_000, &params));
        let no_dwell = StrategyParams {
            touch_dwell_ms: 0.0,
            ..params
        };
        assert!(m.eligible(&bid_quote(100.0, None), 1_000, &no_dwell));
    }

    #[test]
    fn triggers_at_through_and_crossed() {
        let m = TouchDwellFill;
        let q = bid_quote(100.0, Some(0));
        // seller hits 100 with 3: at our price
        assert_eq!(
            m.trigger(&q, &tick(100.0, 100.1, Some((100.0, 3.0, Side::Sell)))),
            FillTrigger::AtPrice(3.0)
        );
        // a buyer lifting the ask never fills a bid
        assert_eq!(
            m.trigger(&q, &tick(100.0, 100.1, Some((100.1, 3.0, Side::Buy)))),
            FillTrigger::None
        );
        // seller prints below our price: through
        assert_eq!(
            m.trigger(&q, &tick(99.9, 100.0, Some((99.9, 1.0, Side::Sell)))),
            FillTrigger::Through
        );
        // ask came down to our bid
        assert_eq!(
            m.trigger(&q, &tick(99.9, 100.0, None)),
            FillTrigger::Through
        );
        // sell above our (deeper) bid
        assert_eq!(
            m.trigger(&q, &tick(100.2, 100.3, Some((100.2, 1.0, Side::Sell)))),
            FillTrigger::None
        );
        // unspecified side inferred from price at the bid
        assert_eq!(
            m.trigger(
                &q,
                &tick(100.0, 100.1, Some((100.0, 2.0, Side::Unspecified)))
            ),
            FillTrigger::AtPrice(2.0)
        );
    }

    #[test]
    fn conservative_queue_needs_the_displayed_size_to_trade_first() {
        let m = ConservativeQueue;
        let mut ahead = None;
        m.observe(&mut ahead, LevelView::AtTouch(Some(5.0)));
        assert_eq!(ahead, Some(5.0));
        assert_eq!(m.on_trade_at_price(&mut ahead, 3.0), 0.0);
        assert_eq!(ahead, Some(2.0));
        // displayed size changes do not move us (cancellations are ignored)
        m.observe(&mut ahead, LevelView::AtTouch(Some(0.5)));
        assert_eq!(ahead, Some(2.0));
        assert_eq!(m.on_trade_at_price(&mut ahead, 2.5), 0.5);
        assert_eq!(ahead, Some(0.0));
        // unknown level: nothing reaches us
        let mut unknown = None;
        m.observe(&mut unknown, LevelView::BehindTouch);
        assert_eq!(m.on_trade_at_price(&mut unknown, 10.0), 0.0);
        let mut front = None;
        FrontOfQueue.observe(&mut front, LevelView::AtTouch(Some(5.0)));
        assert_eq!(FrontOfQueue.on_trade_at_price(&mut front, 3.0), 3.0);
    }
}
