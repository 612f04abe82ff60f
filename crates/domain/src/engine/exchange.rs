//! The exchange side of the simulation for one symbol.
//!
//! It keeps the book the feed shows, our resting orders, the requests still
//! travelling to the exchange and the responses still travelling back, and
//! turns ticks into [`Fill`]s with the rules of hftbacktest's exchange
//! processors (`NoPartialFillExchange`, `PartialFillExchange`). Every price is
//! an integer number of ticks of the symbol's [`Instrument`].
//!
//! # Rules
//! - **Arrival.** A request reaches the exchange after the order-entry delay,
//!   never before one sent earlier (one session). A limit order that would
//!   cross the book on arrival is *rejected* when it is post-only, and takes
//!   liquidity when it is GTC (see *taking*); otherwise it rests and joins the
//!   queue behind what the book shows at its price ([`QueueModel::new_order`]).
//!   A cancel removes a resting order; one for an order that is no longer
//!   resting (filled, rejected) is rejected.
//! - **Book through.** A resting buy fills in full, as maker at its own price,
//!   when the best ask comes down to or below it (sell: best bid up to it).
//! - **Trade through.** A sell-aggressor trade below a resting buy's price
//!   fills it in full (buy-aggressor above a sell's price likewise), whatever
//!   the trade's size — the level was swept.
//! - **Trade at the price.** A trade at the order's price first consumes the
//!   queue ahead ([`QueueModel::trade`]); once the volume past the front rounds
//!   to at least one lot, the order fills: whole, or with partial fills only
//!   that volume (the queue is then reset to the front: what went past was
//!   ours). The fill also needs the order to have rested `touch_dwell_ms` at or
//!   better than the touch; the queue advances regardless.
//! - **Displayed size.** When the size shown at an order's price changes, the
//!   queue model adjusts the position ([`QueueModel::depth`]). The exchange keeps
//!   the last size seen at each price (a BBO feed shows one level per side: when
//!   the best bid falls, the levels above it are gone; when it rises, the old
//!   level keeps its last size).
//! - **Taking.** Market orders (the strategy's hedges) and crossing GTC orders
//!   walk the book: the displayed size at the touch, then — a BBO feed shows no
//!   deeper level — one tick worse per further displayed size; a GTC order
//!   stops at its limit and takes the rest there. The fill is one taker fill at
//!   the volume-weighted price. Without displayed sizes everything takes at the
//!   touch.
//! - **Responses.** Acknowledgements, rejections, fills and cancel results
//!   reach the strategy after the response delay ([`OrderEvent`]).
//!
//! A tick that carries both a trade and a book is applied as the trade, then
//! the book.

use std::collections::VecDeque;

use rand_chacha::ChaCha8Rng;

use crate::instrument::Instrument;
use crate::params::StrategyParams;
use crate::tick::{Side, Tick};

use super::fill::{Fill, Liquidity, OrderSide};
use super::latency::RecordedFeed;
use super::models::ModelSet;
use super::queue::QueuePos;

/// How long a limit order may rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeInForce {
    /// Rests until filled or cancelled; takes liquidity when it crosses on
    /// arrival.
    Gtc,
    /// Rests until filled or cancelled; rejected when it would cross on arrival
    /// (hftbacktest's GTX).
    PostOnly,
}

/// An instruction from the strategy to the exchange.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderAction {
    /// Place a limit order.
    Place {
        /// New order id (per symbol, unique).
        id: u64,
        /// Our side.
        side: OrderSide,
        /// Limit price in ticks of the instrument.
        price_ticks: i64,
        /// Size, base units (whole lots).
        qty: f64,
        /// Time in force.
        tif: TimeInForce,
    },
    /// Cancel a resting order.
    Cancel {
        /// Order to cancel.
        id: u64,
    },
    /// Take liquidity for `qty` (the inventory hedge).
    Market {
        /// Order id.
        id: u64,
        /// Our side.
        side: OrderSide,
        /// Size, base units.
        qty: f64,
    },
    /// An order the strategy's gateway could not read as one (an external
    /// strategy's off-grid price, unknown symbol, missing field): it is
    /// answered rejected with `reason`, as a request over the bound of one
    /// decision is, and never reaches the book.
    Refused {
        /// The order's id.
        id: u64,
        /// Why.
        reason: RejectReason,
    },
}

impl OrderAction {
    /// The strategy's id of the order the request is about.
    pub fn id(&self) -> u64 {
        match *self {
            OrderAction::Place { id, .. }
            | OrderAction::Market { id, .. }
            | OrderAction::Cancel { id }
            | OrderAction::Refused { id, .. } => id,
        }
    }
}

/// Why the exchange refused an order or a cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// A post-only order would have crossed the book on arrival.
    PostOnlyWouldCross,
    /// The exchange had no book yet for a market order.
    NoBook,
    /// The size is not finite, not positive, or not a whole number of the
    /// instrument's lots.
    InvalidSize,
    /// The limit price is not finite or not positive.
    InvalidPrice,
    /// An order with this id is already resting.
    DuplicateId,
    /// The decision sent more requests than the engine takes from one
    /// decision ([`EngineConfig::max_orders_per_decision`](super::EngineConfig::max_orders_per_decision)):
    /// the excess never reached the exchange.
    TooManyOrders,
    /// The limit price is not a whole number of the instrument's ticks (an
    /// external strategy's order; the built-in one prices in ticks).
    OffGrid,
    /// The order names a symbol other than the one deciding.
    UnknownSymbol,
    /// A cancel names no resting order ([`OrderEvent::CancelRejected`]).
    UnknownOrder,
    /// The order's kind, side, type or time in force is missing or does not
    /// fit (an external strategy's order).
    InvalidOrder,
}

impl RejectReason {
    /// Every reason, in the order of [`ExchangeCounters::by_reason`].
    pub const ALL: [RejectReason; 10] = [
        Self::PostOnlyWouldCross,
        Self::NoBook,
        Self::InvalidSize,
        Self::InvalidPrice,
        Self::DuplicateId,
        Self::TooManyOrders,
        Self::OffGrid,
        Self::UnknownSymbol,
        Self::UnknownOrder,
        Self::InvalidOrder,
    ];

    /// The reason's name as logs, summaries and metrics spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PostOnlyWouldCross => "post_only_would_cross",
            Self::NoBook => "no_book",
            Self::InvalidSize => "invalid_size",
            Self::InvalidPrice => "invalid_price",
            Self::DuplicateId => "duplicate_id",
            Self::TooManyOrders => "too_many_orders",
            Self::OffGrid => "off_grid",
            Self::UnknownSymbol => "unknown_symbol",
            Self::UnknownOrder => "unknown_order",
            Self::InvalidOrder => "invalid_order",
        }
    }

    /// The reason spelt `name` ([`as_str`](Self::as_str)).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What the exchange tells the strategy, after the response delay.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderEvent {
    /// The order rests on the book.
    Accepted {
        /// Order id.
        id: u64,
    },
    /// The order was refused.
    Rejected {
        /// Order id.
        id: u64,
        /// Why.
        reason: RejectReason,
    },
    /// (Part of) the order executed.
    Filled {
        /// Order id.
        id: u64,
        /// Our side.
        side: OrderSide,
        /// Executed size.
        qty: f64,
        /// Execution price (a taker fill through several levels: their
        /// size-weighted average).
        price: f64,
        /// Maker or taker.
        liquidity: Liquidity,
        /// Fee charged, basis points of the notional (negative: a rebate).
        fee_bps: f64,
        /// True when nothing of the order is left.
        done: bool,
    },
    /// The order was cancelled.
    Cancelled {
        /// Order id.
        id: u64,
    },
    /// A cancel found no resting order with that id
    /// ([`RejectReason::UnknownOrder`]).
    CancelRejected {
        /// Order id.
        id: u64,
    },
}

/// Counts of what the exchange refused, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExchangeCounters {
    /// Indexed like [`RejectReason::ALL`].
    pub by_reason: [u64; RejectReason::ALL.len()],
}

impl ExchangeCounters {
    /// Refusals for `reason`.
    pub fn get(&self, reason: RejectReason) -> u64 {
        self.by_reason[reason.index()]
    }

    fn count(&mut self, reason: RejectReason) {
        self.by_reason[reason.index()] += 1;
    }

    /// Every order rejected (every reason but a cancel's
    /// [`RejectReason::UnknownOrder`]).
    pub fn rejected_orders(&self) -> u64 {
        self.by_reason.iter().sum::<u64>() - self.cancel_rejects()
    }

    /// Cancels that found no resting order.
    pub fn cancel_rejects(&self) -> u64 {
        self.get(RejectReason::UnknownOrder)
    }

    /// The increase since `earlier`, by reason.
    pub fn since(&self, earlier: &ExchangeCounters) -> ExchangeCounters {
        let mut d = *self;
        for (a, b) in d.by_reason.iter_mut().zip(earlier.by_reason) {
            *a -= b;
        }
        d
    }
}

/// A request on its way to the exchange.
#[derive(Debug, Clone)]
struct InFlight {
    arrive_ms: i64,
    sent_ms: i64,
    action: OrderAction,
}

/// One of our resting orders.
#[derive(Debug, Clone)]
pub struct RestingOrder {
    /// Order id.
    pub id: u64,
    /// Our side.
    pub side: OrderSide,
    /// Limit price, ticks.
    pub price_ticks: i64,
    /// Unfilled size.
    pub remaining: f64,
    /// When the strategy sent it (age origin), ms.
    pub sent_ms: i64,
    /// When it became live at the exchange, ms.
    pub live_ms: i64,
    /// Since when it has been at or better than the touch, ms.
    pub at_touch_since_ms: Option<i64>,
    /// Its place in the queue at its price.
    pub queue: QueuePos,
}

/// The book as the exchange keeps it: the touch in ticks with its sizes (0
/// when the feed has none).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Touch {
    bid: i64,
    ask: i64,
    bid_qty: f64,
    ask_qty: f64,
    mid: f64,
}

/// Levels kept per side: the nearest ones to the touch (a BBO feed shows a
/// far level again only after refreshing it, and memory stays bounded).
const MAX_LEVELS: usize = 512;

/// Simulated exchange for one symbol.
#[derive(Debug)]
pub struct SimExchange {
    models: ModelSet,
    rng: ChaCha8Rng,
    instrument: Instrument,
    touch: Option<Touch>,
    /// Last size seen at each bid / ask price (ticks).
    bid_levels: Levels,
    ask_levels: Levels,
    resting: Vec<RestingOrder>,
    in_flight: VecDeque<InFlight>,
    last_arrival_ms: i64,
    /// The clock offset of recorded feed delays (used with
    /// `ModelSet::recorded_feed`).
    recorded_feed: RecordedFeed,
    /// Responses to the strategy, by delivery time (stable for equal times).
    responses: VecDeque<(i64, OrderEvent)>,
    counters: ExchangeCounters,
}

/// Sizes below this (base units) are rounding noise.
const QTY_EPS: f64 = 1e-12;

impl SimExchange {
    /// A new exchange with its own random stream, on `instrument`'s grid.
    pub fn new(models: ModelSet, rng: ChaCha8Rng, instrument: Instrument) -> Self {
        Self {
            models,
            rng,
            instrument,
            touch: None,
            bid_levels: Levels::new(OrderSide::Buy),
            ask_levels: Levels::new(OrderSide::Sell),
            resting: Vec::new(),
            in_flight: VecDeque::new(),
            last_arrival_ms: i64::MIN,
            recorded_feed: RecordedFeed::new(),
            responses: VecDeque::new(),
            counters: ExchangeCounters::default(),
        }
    }

    /// Our resting orders.
    pub fn resting(&self) -> &[RestingOrder] {
        &self.resting
    }

    /// The grid in use.
    pub fn instrument(&self) -> Instrument {
        self.instrument
    }

    /// What the exchange refused so far.
    pub fn counters(&self) -> ExchangeCounters {
        self.counters
    }

    /// Moves to a finer grid (an inferred tick size that refined by `factor`,
    /// a power of ten): every stored price is rescaled.
    pub fn refine_grid(&mut self, instrument: Instrument, factor: i64) {
        self.instrument = instrument;
        if factor <= 1 {
            return;
        }
        if let Some(t) = &mut self.touch {
            t.bid = t.bid.saturating_mul(factor);
            t.ask = t.ask.saturating_mul(factor);
        }
        for levels in [&mut self.bid_levels, &mut self.ask_levels] {
            for (p, _) in &mut levels.stack {
                *p = p.saturating_mul(factor);
            }
        }
        for o in &mut self.resting {
            o.price_ticks = o.price_ticks.saturating_mul(factor);
        }
        for f in &mut self.in_flight {
            if let OrderAction::Place { price_ticks, .. } = &mut f.action {
                *price_ticks = price_ticks.saturating_mul(factor);
            }
        }
    }

    /// Event time of the earliest request still travelling, if any.
    pub fn next_arrival_ms(&self) -> Option<i64> {
        self.in_flight.front().map(|f| f.arrive_ms)
    }

    /// Draws the feed delay for a decision taken on a tick at `tick_ms`
    /// (received by the recorder at `recv_ms`, when known): the strategy acts
    /// (and stamps its orders) at the returned time.
    pub fn decision_time(&mut self, tick_ms: i64, recv_ms: Option<i64>) -> i64 {
        let mut delay = self.models.latency.feed_delay_ms(&mut self.rng, tick_ms);
        if self.models.recorded_feed {
            delay = delay.saturating_add(self.recorded_feed.extra_ms(tick_ms, recv_ms));
        }
        tick_ms.saturating_add(delay)
    }

    /// Sends a request at `sent_ms`; it arrives after the order-entry delay,
    /// never before one sent earlier.
    pub fn submit(&mut self, action: OrderAction, sent_ms: i64) {
        if let OrderAction::Refused { id, reason } = action {
            self.refuse(id, reason, sent_ms);
            return;
        }
        let delay = self.models.latency.order_entry_ms(&mut self.rng, sent_ms);
        let arrive_ms = sent_ms.saturating_add(delay).max(self.last_arrival_ms);
        self.last_arrival_ms = arrive_ms;
        self.in_flight.push_back(InFlight {
            arrive_ms,
            sent_ms,
            action,
        });
    }

    /// Refuses order `id`, which the strategy sent at `sent_ms`, before it
    /// reaches the exchange (over the bound of one decision, or unreadable
    /// as an order): it is answered [`OrderEvent::Rejected`] with `reason`
    /// after the response delay, counted, and never reaches the book.
    pub fn refuse(&mut self, id: u64, reason: RejectReason, sent_ms: i64) {
        self.counters.count(reason);
        self.respond(sent_ms, OrderEvent::Rejected { id, reason });
    }

    /// Applies the requests that arrive at or before `until_ms`, in arrival
    /// order, appending the fills they cause to `fills`.
    pub fn settle(&mut self, until_ms: i64, params: &StrategyParams, fills: &mut Vec<Fill>) {
        while self
            .in_flight
            .front()
            .is_some_and(|f| f.arrive_ms <= until_ms)
        {
            if let Some(f) = self.in_flight.pop_front() {
                self.apply(f, params, fills);
            }
        }
    }

    /// Hands over the responses delivered at or before `until_ms`, in order.
    pub fn take_responses(&mut self, until_ms: i64, out: &mut Vec<OrderEvent>) {
        while self.responses.front().is_some_and(|(t, _)| *t <= until_ms) {
            if let Some((_, ev)) = self.responses.pop_front() {
                out.push(ev);
            }
        }
    }

    fn respond(&mut self, at_ms: i64, ev: OrderEvent) {
        let deliver = at_ms.saturating_add(self.models.latency.response_ms(&mut self.rng, at_ms));
        // Keep delivery order; equal times stay in the order they were produced.
        // The queue holds a few responses and most go last: search from the back.
        let mut pos = self.responses.len();
        while pos > 0 && self.responses[pos - 1].0 > deliver {
            pos -= 1;
        }
        if pos == self.responses.len() {
            self.responses.push_back((deliver, ev));
        } else {
            self.responses.insert(pos, (deliver, ev));
        }
    }

    /// Why an arriving order is malformed, if it is.
    fn malformed(&self, action: &OrderAction) -> Option<RejectReason> {
        let (id, qty, price_ticks) = match *action {
            OrderAction::Place {
                id,
                qty,
                price_ticks,
                ..
            } => (id, qty, Some(price_ticks)),
            OrderAction::Market { id, qty, .. } => (id, qty, None),
            OrderAction::Cancel { .. } | OrderAction::Refused { .. } => return None,
        };
        let lot = self.instrument.lot_size;
        // `round_i64` is no library call (this runs for every order that
        // arrives).
        let whole_lots = qty.is_finite() && qty > 0.0 && {
            let lots = crate::instrument::round_i64(qty / lot);
            lots >= 1 && (qty - lots as f64 * lot).abs() <= lot * 1e-6
        };
        if !whole_lots {
            Some(RejectReason::InvalidSize)
        } else if price_ticks.is_some_and(|p| p <= 0) {
            Some(RejectReason::InvalidPrice)
        } else if self.resting.iter().any(|o| o.id == id) {
            Some(RejectReason::DuplicateId)
        } else {
            None
        }
    }

    fn apply(&mut self, f: InFlight, params: &StrategyParams, fills: &mut Vec<Fill>) {
        let now = f.arrive_ms;
        if let Some(reason) = self.malformed(&f.action) {
            self.counters.count(reason);
            self.respond(
                now,
                OrderEvent::Rejected {
                    id: f.action.id(),
                    reason,
                },
            );
            return;
        }
        match f.action {
            OrderAction::Place {
                id,
                side,
                price_ticks,
                qty,
                tif,
            } => {
                let crosses = self.touch.is_some_and(|t| match side {
                    OrderSide::Buy => price_ticks >= t.ask,
                    OrderSide::Sell => price_ticks <= t.bid,
                });
                if crosses {
                    match tif {
                        TimeInForce::PostOnly => {
                            self.counters.count(RejectReason::PostOnlyWouldCross);
                            self.respond(
                                now,
                                OrderEvent::Rejected {
                                    id,
                                    reason: RejectReason::PostOnlyWouldCross,
                                },
                            );
                        }
                        TimeInForce::Gtc => self.take(
                            id,
                            side,
                            qty,
                            Some(price_ticks),
                            now,
                            f.sent_ms,
                            params,
                            fills,
                        ),
                    }
                    return;
                }
                let levels = match side {
                    OrderSide::Buy => &self.bid_levels,
                    OrderSide::Sell => &self.ask_levels,
                };
                let displayed = levels.get(price_ticks);
                let at_touch = self
                    .touch
                    .is_some_and(|t| at_or_better(side, price_ticks, &t));
                self.resting.push(RestingOrder {
                    id,
                    side,
                    price_ticks,
                    remaining: qty,
                    sent_ms: f.sent_ms,
                    live_ms: now,
                    at_touch_since_ms: at_touch.then_some(now),
                    queue: self.models.queue.new_order(displayed),
                });
                self.respond(now, OrderEvent::Accepted { id });
            }
            OrderAction::Cancel { id } => {
                if let Some(i) = self.resting.iter().position(|o| o.id == id) {
                    self.resting.remove(i);
                    self.respond(now, OrderEvent::Cancelled { id });
                } else {
                    self.counters.count(RejectReason::UnknownOrder);
                    self.respond(now, OrderEvent::CancelRejected { id });
                }
            }
            OrderAction::Refused { id, reason } => self.refuse(id, reason, now),
            OrderAction::Market { id, side, qty } => {
                if self.touch.is_none() {
                    self.counters.count(RejectReason::NoBook);
                    self.respond(
                        now,
                        OrderEvent::Rejected {
                            id,
                            reason: RejectReason::NoBook,
                        },
                    );
                    return;
                }
                self.take(id, side, qty, None, now, f.sent_ms, params, fills);
            }
        }
    }

    /// Walks the book for `qty` (see the module docs) and books one taker fill
    /// at the volume-weighted price.
    #[expect(
        clippy::too_many_arguments,
        reason = "one order's fields, taken apart once"
    )]
    fn take(
        &mut self,
        id: u64,
        side: OrderSide,
        qty: f64,
        limit: Option<i64>,
        now: i64,
        sent_ms: i64,
        params: &StrategyParams,
        fills: &mut Vec<Fill>,
    ) {
        let Some(t) = self.touch else { return };
        let (mut level, displayed, step) = match side {
            OrderSide::Buy => (t.ask, t.ask_qty, 1),
            OrderSide::Sell => (t.bid, t.bid_qty, -1),
        };
        let touch_level = level;
        let (mut left, mut notional) = (qty, 0.0);
        if displayed > QTY_EPS {
            while left > QTY_EPS && limit.is_none_or(|l| (l - level) * step >= 0) {
                let take = left.min(displayed);
                notional += take * self.instrument.price(level);
                left -= take;
                level += step;
            }
        }
        if left > QTY_EPS {
            // No size shown: everything at the touch; a limit reached: the
            // rest at the limit.
            let px = if displayed > QTY_EPS {
                limit.unwrap_or(level)
            } else {
                touch_level
            };
            notional += left * self.instrument.price(px);
        }
        let fee_bps = self.models.fee.fee_bps(Liquidity::Taker, params);
        fills.push(Fill {
            order_id: id,
            side,
            liquidity: Liquidity::Taker,
            price: notional / qty,
            qty,
            ts_ms: now,
            age_ms: now - sent_ms,
            mid: t.mid,
            fee_bps,
            reference_mid: None,
            inventory_after: 0.0,
            order_done: true,
        });
        self.respond(
            now,
            OrderEvent::Filled {
                id,
                side,
                qty,
                price: notional / qty,
                liquidity: Liquidity::Taker,
                fee_bps,
                done: true,
            },
        );
    }

    /// Applies a tick at event time `now_ms`: its trade against our resting
    /// orders, then its book (fills through the touch, queue and dwell
    /// updates). Fills are appended to `fills`.
    pub fn on_tick(
        &mut self,
        tick: &Tick,
        now_ms: i64,
        params: &StrategyParams,
        fills: &mut Vec<Fill>,
    ) {
        let prev = self.touch;
        let inst = self.instrument;
        let new = Touch {
            bid: inst.ticks(tick.bid),
            ask: inst.ticks(tick.ask),
            bid_qty: size(tick.bid_qty),
            ask_qty: size(tick.ask_qty),
            mid: tick.mid(),
        };
        // The trade is read against the tick's own book (a trade without a
        // price printed at its touch), but executes before that book moves
        // resting orders.
        if let Some((px, aggressor)) = trade_of(tick, &new, &inst) {
            self.on_trade(px, aggressor, tick.last_qty, now_ms, new.mid, params, fills);
        }
        if prev != Some(new) {
            self.on_book(new, now_ms, params, fills);
            self.touch = Some(new);
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one trade's fields, taken apart once"
    )]
    fn on_trade(
        &mut self,
        px: i64,
        aggressor: Side,
        qty: f64,
        now_ms: i64,
        mid: f64,
        params: &StrategyParams,
        fills: &mut Vec<Fill>,
    ) {
        let inst = self.instrument;
        let lot = inst.lot_size;
        let queue = &self.models.queue;
        let partial = self.models.partial_fills;
        let fee = self.models.fee.fee_bps(Liquidity::Maker, params);
        let start = fills.len();
        for order in &mut self.resting {
            // Sellers hit bids, buyers lift asks.
            let through = match (order.side, aggressor) {
                (OrderSide::Buy, Side::Sell) => order.price_ticks > px,
                (OrderSide::Sell, Side::Buy) => order.price_ticks < px,
                _ => continue,
            };
            let exec = if through {
                order.remaining
            } else if order.price_ticks == px {
                queue.trade(&mut order.queue, qty);
                let past_front = queue.filled_qty(&order.queue, lot);
                if past_front <= 0.0 || !dwelled(order, now_ms, params) {
                    continue;
                }
                if partial {
                    order.queue.front = 0.0;
                    past_front.min(order.remaining)
                } else {
                    order.remaining
                }
            } else {
                continue;
            };
            fills.push(execute(order, exec, now_ms, mid, fee, &inst));
        }
        self.finish_fills(start, fills);
    }

    fn on_book(&mut self, new: Touch, now_ms: i64, params: &StrategyParams, fills: &mut Vec<Fill>) {
        let fee = self.models.fee.fee_bps(Liquidity::Maker, params);
        let inst = self.instrument;
        let start = fills.len();
        for order in &mut self.resting {
            let through = match order.side {
                OrderSide::Buy => new.ask <= order.price_ticks,
                OrderSide::Sell => new.bid >= order.price_ticks,
            };
            if through {
                let exec = order.remaining;
                fills.push(execute(order, exec, now_ms, new.mid, fee, &inst));
            }
        }
        self.finish_fills(start, fills);

        // Displayed sizes: what changed at which price, and the queues there.
        let Self {
            bid_levels,
            ask_levels,
            resting,
            models,
            ..
        } = self;
        let queue = &models.queue;
        let mut on_change = |side: OrderSide, price: i64, before: f64, after: f64| {
            for o in resting
                .iter_mut()
                .filter(|o| o.side == side && o.price_ticks == price)
            {
                queue.depth(&mut o.queue, before, after);
            }
        };
        bid_levels.update(new.bid, new.bid_qty, |p, a, b| {
            on_change(OrderSide::Buy, p, a, b)
        });
        ask_levels.update(new.ask, new.ask_qty, |p, a, b| {
            on_change(OrderSide::Sell, p, a, b)
        });
        for o in &mut self.resting {
            if at_or_better(o.side, o.price_ticks, &new) {
                o.at_touch_since_ms.get_or_insert(now_ms);
            } else {
                o.at_touch_since_ms = None;
            }
        }
    }

    /// After the fills from `start` on were appended to `fills`: removes
    /// finished orders and queues the strategy's responses to those fills.
    #[inline]
    fn finish_fills(&mut self, start: usize, fills: &[Fill]) {
        if fills.len() == start {
            return;
        }
        self.resting.retain(|o| o.remaining > 0.0);
        for f in &fills[start..] {
            self.respond(
                f.ts_ms,
                OrderEvent::Filled {
                    id: f.order_id,
                    side: f.side,
                    qty: f.qty,
                    price: f.price,
                    liquidity: f.liquidity,
                    fee_bps: f.fee_bps,
                    done: f.order_done,
                },
            );
        }
    }
}

/// Executes `qty` of a resting order as a maker fill at its price.
fn execute(
    order: &mut RestingOrder,
    qty: f64,
    now_ms: i64,
    mid: f64,
    fee_bps: f64,
    inst: &Instrument,
) -> Fill {
    order.remaining -= qty;
    if order.remaining <= QTY_EPS {
        order.remaining = 0.0;
    }
    Fill {
        order_id: order.id,
        side: order.side,
        liquidity: Liquidity::Maker,
        price: inst.price(order.price_ticks),
        qty,
        ts_ms: now_ms,
        age_ms: now_ms - order.sent_ms,
        mid,
        fee_bps,
        reference_mid: None,
        inventory_after: 0.0,
        order_done: order.remaining == 0.0,
    }
}

/// True when a buy at `price` is at or above the best bid (a sell at or
/// below the best ask).
fn at_or_better(side: OrderSide, price: i64, t: &Touch) -> bool {
    match side {
        OrderSide::Buy => price >= t.bid,
        OrderSide::Sell => price <= t.ask,
    }
}

/// Whether the order has rested long enough at the touch for a trade at its
/// price to count.
fn dwelled(order: &RestingOrder, now_ms: i64, params: &StrategyParams) -> bool {
    if params.touch_dwell_ms <= 0.0 {
        return true;
    }
    order
        .at_touch_since_ms
        .is_some_and(|since| (now_ms - since) as f64 >= params.touch_dwell_ms)
}

/// A displayed size as a usable number (absent or invalid: 0).
fn size(q: Option<f64>) -> f64 {
    q.filter(|q| q.is_finite() && *q > 0.0).unwrap_or(0.0)
}

/// The last size seen at each price of one side, as a stack with the touch
/// on top (bids ascending, asks descending). A new touch closer to the market
/// is pushed (the old one keeps its last size); one further away pops every
/// level it passed (they are gone from the book). So the common update is O(1)
/// and a lookup a binary search.
#[derive(Debug, Clone)]
struct Levels {
    side: OrderSide,
    stack: Vec<(i64, f64)>,
}

impl Levels {
    fn new(side: OrderSide) -> Self {
        Self {
            side,
            stack: Vec::new(),
        }
    }

    /// True when `a` is closer to the market than `b` on this side.
    fn better(&self, a: i64, b: i64) -> bool {
        match self.side {
            OrderSide::Buy => a > b,
            OrderSide::Sell => a < b,
        }
    }

    /// The last size seen at `price` (0 when never seen or gone).
    fn get(&self, price: i64) -> f64 {
        let found = match self.side {
            OrderSide::Buy => self.stack.binary_search_by(|(p, _)| p.cmp(&price)),
            OrderSide::Sell => self.stack.binary_search_by(|(p, _)| price.cmp(p)),
        };
        found.map_or(0.0, |i| self.stack[i].1)
    }

    /// Records the new touch `best` showing `qty` and reports every price whose
    /// size changed as `(price, before, after)`.
    fn update(&mut self, best: i64, qty: f64, mut changed: impl FnMut(i64, f64, f64)) {
        while let Some(&(p, q)) = self.stack.last() {
            if !self.better(p, best) {
                break;
            }
            self.stack.pop();
            if q != 0.0 {
                changed(p, q, 0.0);
            }
        }
        match self.stack.last_mut() {
            Some((p, q)) if *p == best => {
                if *q != qty {
                    let before = std::mem::replace(q, qty);
                    changed(best, before, qty);
                }
            }
            _ => {
                self.stack.push((best, qty));
                if qty != 0.0 {
                    changed(best, 0.0, qty);
                }
            }
        }
        // Only the far end accumulates (a trending market): forget it.
        if self.stack.len() > 2 * MAX_LEVELS {
            let excess = self.stack.len() - MAX_LEVELS;
            self.stack.drain(..excess);
        }
    }
}

/// The trade carried by a tick as `(price in ticks, aggressor)`, when there is
/// one. A trade without `last_px` printed at the touch on its aggressor's side
/// of `book`; one without a side is attributed by price (at or below the bid a
/// sell, at or above the ask a buy).
fn trade_of(tick: &Tick, book: &Touch, inst: &Instrument) -> Option<(i64, Side)> {
    if tick.last_qty.is_nan() || tick.last_qty <= 0.0 {
        return None;
    }
    let px = tick.last_px.map(|p| inst.ticks(p));
    let aggressor = match tick.side {
        Side::Unspecified => match px {
            Some(p) if p <= book.bid => Side::Sell,
            Some(p) if p >= book.ask => Side::Buy,
            _ => return None,
        },
        s => s,
    };
    let px = px.unwrap_or(match aggressor {
        Side::Sell => book.bid,
        _ => book.ask,
    });
    Some((px, aggressor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_falling_bid_removes_the_levels_above_and_a_rising_one_keeps_them() {
        let mut levels = Levels::new(OrderSide::Buy);
        let mut seen = Vec::new();
        levels.update(100, 5.0, |p, a, b| seen.push((p, a, b)));
        levels.update(102, 1.0, |p, a, b| seen.push((p, a, b)));
        assert_eq!(levels.get(100), 5.0, "the old best keeps its size");
        assert_eq!(levels.get(101), 0.0, "never seen");
        levels.update(100, 4.0, |p, a, b| seen.push((p, a, b)));
        assert_eq!(
            seen,
            [
                (100, 0.0, 5.0),
                (102, 0.0, 1.0),
                (102, 1.0, 0.0),
                (100, 5.0, 4.0)
            ]
        );
        assert_eq!(levels.get(102), 0.0, "gone");
        // asks mirror it: a rising best ask pops the levels below
        let mut asks = Levels::new(OrderSide::Sell);
        asks.update(105, 2.0, |_, _, _| {});
        asks.update(103, 1.0, |_, _, _| {});
        assert_eq!((asks.get(105), asks.get(103)), (2.0, 1.0));
        asks.update(104, 3.0, |_, _, _| {});
        assert_eq!(
            (asks.get(105), asks.get(104), asks.get(103)),
            (2.0, 3.0, 0.0)
        );
    }
}
