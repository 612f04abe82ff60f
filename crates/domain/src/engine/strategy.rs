//! The local (strategy) side of one symbol: the [`Strategy`] interface the
//! engine drives, and the built-in quoting market maker that implements it.
//!
//! # The interface
//! The engine owns one strategy per symbol, built by the run's
//! [`StrategyFactory`] from the symbol and its parameters. In event time it
//! hands the strategy the exchange's responses ([`Strategy::on_event`], each
//! once it has arrived, after the response delay) and then asks for a decision
//! on the book it is shown ([`Strategy::decide`], after the feed delay, at most
//! one per millisecond); the orders a decision pushes reach the exchange after
//! the order-entry delay. A strategy sees nothing else of the exchange: its
//! position is what its fills told it. The built-in market maker is one
//! implementation ([`QuotingStrategy`], [`BuiltIn`]), so any other goes
//! through exactly the path it goes through.
//!
//! # The built-in market maker
//! It sees the market through the book it is shown (after the feed delay) and
//! its own orders only through the exchange's responses ([`OrderEvent`], after
//! the response delay), exactly as a strategy connected to a venue would. At
//! each decision it sends [`OrderAction`]s:
//!
//! - **quotes**: a post-only bid and ask of `min_lot` (rounded down to whole
//!   lots, at least one) at `quote_offset_bps` around the mid, skewed against
//!   inventory by `quote_offset_bps × inventory / limit` (long → both quotes
//!   lower), on the price grid: the bid rounded down and never above the best
//!   bid, the ask rounded up and never below the best ask.
//! - **inventory limit**: a side is not quoted when a full fill of it would take
//!   |inventory| beyond `inventory_limit`; a quote already resting on that side
//!   is cancelled.
//! - **requote**: a quote whose target price moved by more than
//!   `requote_threshold_bps` (and by at least one tick) is cancelled and a new
//!   one placed at the target in the same instant. A quote is never requoted to
//!   the price it already has (that would only lose its place in the queue),
//!   and an order is cancelled only once its acknowledgement has arrived (as on
//!   a venue, and in hftbacktest).
//! - **hedge**: when |inventory| exceeds the limit (possible with latency, when
//!   a fill lands before a cancel), a market order brings it back to half the
//!   limit. One hedge is in flight at a time.

use std::fmt;

use crate::instrument::Instrument;
use crate::params::StrategyParams;
use crate::tick::{Side, Tick};

use super::exchange::{OrderAction, OrderEvent, TimeInForce};
use super::fill::OrderSide;

/// Slack for inventory comparisons, so `n` lots of `0.01` reach a limit of
/// `n × 0.01` despite rounding.
const INV_EPS: f64 = 1e-9;

/// What the strategy is shown of the market at a decision: the book at the
/// end of the event-time millisecond it saw, and the trades of that
/// millisecond's ticks.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BookView {
    /// Best bid.
    pub bid: f64,
    /// Best ask.
    pub ask: f64,
    /// Size at the best bid (0 when the feed has none).
    pub bid_qty: f64,
    /// Size at the best ask (0 when the feed has none).
    pub ask_qty: f64,
    /// Traded size with a buyer as aggressor.
    pub bought: f64,
    /// Traded size with a seller as aggressor (or no side given).
    pub sold: f64,
    /// Price of the last of those trades (0 when none).
    pub last_trade_px: f64,
    /// Ticks behind the view.
    pub ticks: u32,
}

impl BookView {
    /// The view of one tick.
    pub fn of(tick: &Tick) -> Self {
        let mut v = Self::default();
        v.add(tick);
        v
    }

    /// Takes a later tick into the view: its book replaces the book, its
    /// trade adds to the trades.
    pub fn add(&mut self, tick: &Tick) {
        self.bid = tick.bid;
        self.ask = tick.ask;
        self.bid_qty = tick.bid_qty.unwrap_or(0.0);
        self.ask_qty = tick.ask_qty.unwrap_or(0.0);
        if tick.last_qty > 0.0 {
            match tick.side {
                Side::Buy => self.bought += tick.last_qty,
                Side::Sell | Side::Unspecified => self.sold += tick.last_qty,
            }
            if let Some(px) = tick.last_px {
                self.last_trade_px = px;
            }
        }
        self.ticks = self.ticks.saturating_add(1);
    }

    /// Folds a later view into this one (market data of decisions the
    /// strategy was not asked for).
    pub fn fold(&mut self, later: &BookView) {
        self.bid = later.bid;
        self.ask = later.ask;
        self.bid_qty = later.bid_qty;
        self.ask_qty = later.ask_qty;
        self.bought += later.bought;
        self.sold += later.sold;
        if later.last_trade_px > 0.0 {
            self.last_trade_px = later.last_trade_px;
        }
        self.ticks = self.ticks.saturating_add(later.ticks);
    }

    /// `(bid + ask) / 2`.
    pub fn mid(&self) -> f64 {
        (self.bid + self.ask) / 2.0
    }
}

/// A strategy of one symbol, as the engine drives it (see the module docs).
///
/// Calls come in event-time order and `at_ms` never decreases. Order ids are
/// the strategy's own: the exchange answers with them, and an id it does not
/// know (a cancel of an order that is gone) is answered
/// [`OrderEvent::CancelRejected`].
pub trait Strategy: fmt::Debug + Send {
    /// An exchange response the strategy takes in at `at_ms`: the responses
    /// that have arrived (after the response delay) are handed over at the
    /// strategy's next decision, just before [`decide`](Self::decide), with
    /// that decision's time.
    fn on_event(&mut self, at_ms: i64, event: &OrderEvent);

    /// Decides at `at_ms` on the book it is shown, pushing the orders to send
    /// into `actions` (nothing is a valid decision). `instrument` is the
    /// symbol's grid as the engine knows it now: prices in actions are in its
    /// ticks, sizes in base units and whole lots. The exchange rejects a
    /// malformed order on arrival ([`RejectReason`](super::RejectReason):
    /// a size that is not a positive whole number of lots, a price of zero
    /// ticks or less, the id of an order still resting) and the run goes on.
    fn decide(
        &mut self,
        at_ms: i64,
        book: &BookView,
        instrument: &Instrument,
        actions: &mut Vec<OrderAction>,
    );

    /// The inferred grid became `factor` times finer: prices the strategy
    /// keeps in ticks must be multiplied by `factor` (the exchange rescales
    /// its own).
    fn refine_grid(&mut self, factor: i64);
}

/// Builds the strategy of each symbol of a run.
pub trait StrategyFactory: fmt::Debug + Send + Sync {
    /// The strategy of `symbol` (normalised), which runs with `params`.
    fn build(&self, symbol: &str, params: &StrategyParams) -> Box<dyn Strategy>;

    /// Why the run's strategies stopped deciding, for a strategy that can
    /// fail (one in another process: it timed out, went away, sent
    /// garbage); `None` while it works, and always for the built-in one.
    /// After a fault its strategies decide nothing, so the run must end:
    /// the windows that ended at or before [`StrategyFault::at_ms`] are
    /// whole, later ones are not.
    fn fault(&self) -> Option<StrategyFault> {
        None
    }

    /// True when a decision waits on something outside the engine (another
    /// process): callers on an async runtime run the engine where blocking
    /// is allowed.
    fn blocks(&self) -> bool {
        false
    }
}

/// Why a run's strategy stopped deciding ([`StrategyFactory::fault`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyFault {
    /// Event time of the decision it failed at, ms.
    pub at_ms: i64,
    /// What happened, naming the strategy, the decision and the cause.
    pub message: String,
}

impl fmt::Display for StrategyFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The built-in quoting market maker for every symbol, with each symbol's
/// parameters: the default of [`EngineConfig`](super::EngineConfig).
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltIn;

impl StrategyFactory for BuiltIn {
    fn build(&self, _symbol: &str, params: &StrategyParams) -> Box<dyn Strategy> {
        Box::new(QuotingStrategy::new(params.clone()))
    }
}

impl Strategy for QuotingStrategy {
    fn on_event(&mut self, _at_ms: i64, event: &OrderEvent) {
        QuotingStrategy::on_event(self, event);
    }

    fn decide(
        &mut self,
        _at_ms: i64,
        book: &BookView,
        instrument: &Instrument,
        actions: &mut Vec<OrderAction>,
    ) {
        QuotingStrategy::decide(self, book, instrument, actions);
    }

    fn refine_grid(&mut self, factor: i64) {
        QuotingStrategy::refine_grid(self, factor);
    }
}

/// A quote as the strategy last sent it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct WorkingQuote {
    id: u64,
    price_ticks: i64,
    /// The acknowledgement has arrived (it may be cancelled now).
    acked: bool,
}

/// The quoting market maker of one symbol.
#[derive(Debug, Clone)]
pub struct QuotingStrategy {
    params: StrategyParams,
    inventory: f64,
    bid: Option<WorkingQuote>,
    ask: Option<WorkingQuote>,
    /// Id and signed size of the hedge in flight.
    hedge: Option<(u64, f64)>,
    next_id: u64,
}

impl QuotingStrategy {
    /// A flat strategy with these parameters.
    pub fn new(params: StrategyParams) -> Self {
        Self {
            params,
            inventory: 0.0,
            bid: None,
            ask: None,
            hedge: None,
            next_id: 1,
        }
    }

    /// The parameters in use.
    pub fn params(&self) -> &StrategyParams {
        &self.params
    }

    /// Signed inventory as the strategy knows it (from the fills reported so
    /// far), base units.
    pub fn inventory(&self) -> f64 {
        self.inventory
    }

    /// Takes an exchange response into account.
    pub fn on_event(&mut self, ev: &OrderEvent) {
        match *ev {
            OrderEvent::Accepted { id } => {
                for q in [&mut self.bid, &mut self.ask].into_iter().flatten() {
                    if q.id == id {
                        q.acked = true;
                    }
                }
            }
            OrderEvent::Rejected { id, .. } => {
                self.forget(id);
                if self.hedge.is_some_and(|(h, _)| h == id) {
                    self.hedge = None;
                }
            }
            OrderEvent::Filled {
                id,
                side,
                qty,
                done,
                ..
            } => {
                self.inventory += side.sign() * qty;
                // Snap rounding residue so a flat book is exactly flat.
                if self.inventory.abs() < INV_EPS {
                    self.inventory = 0.0;
                }
                if done {
                    self.forget(id);
                    if self.hedge.is_some_and(|(h, _)| h == id) {
                        self.hedge = None;
                    }
                }
            }
            OrderEvent::Cancelled { .. } | OrderEvent::CancelRejected { .. } => {}
        }
    }

    fn forget(&mut self, id: u64) {
        for slot in [&mut self.bid, &mut self.ask] {
            if slot.is_some_and(|q| q.id == id) {
                *slot = None;
            }
        }
    }

    /// Decides the actions for what the strategy is shown of the book.
    pub fn decide(&mut self, book: &BookView, inst: &Instrument, actions: &mut Vec<OrderAction>) {
        let p = &self.params;
        let limit = p.inventory_limit;
        let lot = inst.order_qty(p.min_lot);
        let (offset, threshold) = (p.quote_offset_bps, p.requote_threshold_bps);
        let mid = book.mid();

        if self.hedge.is_none() && self.inventory.abs() > limit + INV_EPS {
            let side = if self.inventory > 0.0 {
                OrderSide::Sell
            } else {
                OrderSide::Buy
            };
            let qty = inst.order_qty(self.inventory.abs() - limit / 2.0);
            let id = self.take_id();
            self.hedge = Some((id, side.sign() * qty));
            actions.push(OrderAction::Market { id, side, qty });
        }
        // Quote against the inventory we will have once the hedge lands.
        let inv = self.inventory + self.hedge.map_or(0.0, |(_, q)| q);

        let skew_bps = offset * (inv / limit).clamp(-1.0, 1.0);
        let best_bid = inst.ticks(book.bid);
        let best_ask = inst.ticks(book.ask);
        let bid_px = inst
            .ticks_floor(mid * (1.0 - (offset + skew_bps) / 1e4))
            .min(best_bid);
        let ask_px = inst
            .ticks_ceil(mid * (1.0 + (offset - skew_bps) / 1e4))
            .max(best_ask);
        let bid_ok = inv + lot <= limit + INV_EPS;
        let ask_ok = inv - lot >= -limit - INV_EPS;

        for (side, target, allowed) in [
            (OrderSide::Buy, bid_px, bid_ok),
            (OrderSide::Sell, ask_px, ask_ok),
        ] {
            let current = match side {
                OrderSide::Buy => self.bid,
                OrderSide::Sell => self.ask,
            };
            let next = match (allowed, current) {
                (false, None) => None,
                // An order is cancelled only once it is acknowledged.
                (_, Some(q)) if !q.acked => Some(q),
                (false, Some(q)) => {
                    actions.push(OrderAction::Cancel { id: q.id });
                    None
                }
                (true, None) => Some(self.place(side, target, lot, actions)),
                (true, Some(q)) => {
                    let moved_bps = if mid > 0.0 {
                        inst.price((target - q.price_ticks).abs()) / mid * 1e4
                    } else {
                        0.0
                    };
                    if target != q.price_ticks && moved_bps > threshold {
                        actions.push(OrderAction::Cancel { id: q.id });
                        Some(self.place(side, target, lot, actions))
                    } else {
                        Some(q)
                    }
                }
            };
            match side {
                OrderSide::Buy => self.bid = next,
                OrderSide::Sell => self.ask = next,
            }
        }
    }

    fn place(
        &mut self,
        side: OrderSide,
        price_ticks: i64,
        qty: f64,
        actions: &mut Vec<OrderAction>,
    ) -> WorkingQuote {
        let id = self.take_id();
        actions.push(OrderAction::Place {
            id,
            side,
            price_ticks,
            qty,
            tif: TimeInForce::PostOnly,
        });
        WorkingQuote {
            id,
            price_ticks,
            acked: false,
        }
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Rescales the prices of the working quotes to a finer grid.
    pub fn refine_grid(&mut self, factor: i64) {
        for q in [&mut self.bid, &mut self.ask].into_iter().flatten() {
            q.price_ticks = q.price_ticks.saturating_mul(factor);
        }
    }
}
