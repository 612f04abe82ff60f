//! The exchange side of the simulation for one symbol.
//!
//! It keeps the last book seen, our resting quotes and the orders still
//! travelling to the exchange, and turns ticks into [`Fill`]s using the
//! injected [`ModelSet`]. It knows nothing about the strategy's intentions: the
//! strategy talks to it only through [`OrderAction`]s.
//!
//! Orders travel in sequence: an action never arrives before one sent earlier
//! (as on one exchange session), so a cancel/replace chain cannot leave two
//! quotes on one side.

use rand_chacha::ChaCha8Rng;

use crate::params::StrategyParams;
use crate::tick::Tick;

use super::fill::{Fill, Liquidity, OrderSide};
use super::models::{FillTrigger, LevelView, ModelSet, QuoteView, same_price};

/// An instruction from the strategy to the exchange.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderAction {
    /// Place a resting limit order, atomically cancelling `replaces` (when it is
    /// still resting) as it arrives.
    Place {
        /// New order id.
        id: u64,
        /// Our side.
        side: OrderSide,
        /// Limit price.
        price: f64,
        /// Size, base units.
        qty: f64,
        /// The order this one replaces, if any.
        replaces: Option<u64>,
    },
    /// Cancel a resting order.
    Cancel {
        /// Order to cancel.
        id: u64,
    },
    /// Take liquidity at the opposite touch for `qty` (the inventory hedge).
    Hedge {
        /// Order id.
        id: u64,
        /// Our side.
        side: OrderSide,
        /// Size, base units.
        qty: f64,
    },
}

/// An action on its way to the exchange.
#[derive(Debug, Clone)]
struct InFlight {
    arrive_ms: i64,
    sent_ms: i64,
    action: OrderAction,
}

/// One of our resting quotes.
#[derive(Debug, Clone)]
pub struct RestingOrder {
    /// Order id.
    pub id: u64,
    /// Our side.
    pub side: OrderSide,
    /// Limit price.
    pub price: f64,
    /// Unfilled size.
    pub remaining: f64,
    /// When the strategy sent it (age origin), ms.
    pub sent_ms: i64,
    /// When it became live at the exchange, ms.
    pub live_ms: i64,
    /// Since when it has been at or better than the touch, ms.
    pub at_touch_since_ms: Option<i64>,
    /// Volume queued ahead of us at our price (`None`: not known yet).
    pub queue_ahead: Option<f64>,
}

impl RestingOrder {
    fn view(&self) -> QuoteView {
        QuoteView {
            side: self.side,
            price: self.price,
            at_touch_since_ms: self.at_touch_since_ms,
        }
    }
}

/// Simulated exchange for one symbol.
#[derive(Debug)]
pub struct SimExchange {
    models: ModelSet,
    rng: ChaCha8Rng,
    book: Option<Tick>,
    resting: Vec<RestingOrder>,
    in_flight: Vec<InFlight>,
    last_arrival_ms: i64,
}

/// Fills smaller than this (base units) are rounding noise and are ignored.
const QTY_EPS: f64 = 1e-12;

impl SimExchange {
    /// A new exchange with its own random stream.
    pub fn new(models: ModelSet, rng: ChaCha8Rng) -> Self {
        Self {
            models,
            rng,
            book: None,
            resting: Vec::new(),
            in_flight: Vec::new(),
            last_arrival_ms: i64::MIN,
        }
    }

    /// Our resting quotes.
    pub fn resting(&self) -> &[RestingOrder] {
        &self.resting
    }

    /// The last tick applied.
    pub fn book(&self) -> Option<&Tick> {
        self.book.as_ref()
    }

    /// Event time of the earliest action still travelling, if any.
    pub fn next_arrival_ms(&self) -> Option<i64> {
        self.in_flight.first().map(|f| f.arrive_ms)
    }

    /// Draws the feed delay for a decision taken on a tick at `tick_ms`: the
    /// strategy acts (and stamps its orders) at the returned time.
    pub fn decision_time(&mut self, tick_ms: i64) -> i64 {
        tick_ms + self.models.latency.feed_delay_ms(&mut self.rng, tick_ms)
    }

    /// Sends an action at `sent_ms`; it arrives after the order-entry delay,
    /// never before an action sent earlier.
    pub fn submit(&mut self, action: OrderAction, sent_ms: i64) {
        let delay = self.models.latency.order_entry_ms(&mut self.rng, sent_ms);
        let arrive_ms = (sent_ms + delay).max(self.last_arrival_ms);
        self.last_arrival_ms = arrive_ms;
        // Arrivals are non-decreasing by construction, so pushing keeps order.
        self.in_flight.push(InFlight {
            arrive_ms,
            sent_ms,
            action,
        });
    }

    /// Applies every action that arrives at or before `until_ms`, in arrival
    /// order, returning the hedge fills they cause.
    pub fn settle(&mut self, until_ms: i64, params: &StrategyParams) -> Vec<Fill> {
        let mut fills = Vec::new();
        let due = self.in_flight.partition_point(|f| f.arrive_ms <= until_ms);
        let arrived: Vec<InFlight> = self.in_flight.drain(..due).collect();
        for f in arrived {
            self.apply(f, params, &mut fills);
        }
        fills
    }

    fn apply(&mut self, f: InFlight, params: &StrategyParams, fills: &mut Vec<Fill>) {
        match f.action {
            OrderAction::Place {
                id,
                side,
                price,
                qty,
                replaces,
            } => {
                if let Some(old) = replaces {
                    self.resting.retain(|o| o.id != old);
                }
                let mut order = RestingOrder {
                    id,
                    side,
                    price,
                    remaining: qty,
                    sent_ms: f.sent_ms,
                    live_ms: f.arrive_ms,
                    at_touch_since_ms: None,
                    queue_ahead: None,
                };
                if let Some(book) = &self.book {
                    update_touch(&mut order, book, f.arrive_ms, &self.models);
                }
                self.resting.push(order);
            }
            OrderAction::Cancel { id } => self.resting.retain(|o| o.id != id),
            OrderAction::Hedge { id, side, qty } => {
                // A hedge with no book yet has nothing to trade against; it is
                // dropped and the strategy will hedge again on the next tick.
                let Some(book) = &self.book else { return };
                let price = match side {
                    OrderSide::Buy => book.ask,
                    OrderSide::Sell => book.bid,
                };
                fills.push(Fill {
                    order_id: id,
                    side,
                    liquidity: Liquidity::Taker,
                    price,
                    qty,
                    ts_ms: f.arrive_ms,
                    age_ms: f.arrive_ms - f.sent_ms,
                    mid: book.mid(),
                    fee_bps: self.models.fee.fee_bps(Liquidity::Taker, params),
                    reference_mid: None,
                    inventory_after: 0.0,
                    order_done: true,
                });
            }
        }
    }

    /// Applies a tick at event time `now_ms`: fills resting quotes the tick
    /// reaches, then records the new book and each quote's touch and queue state.
    pub fn on_tick(&mut self, tick: &Tick, now_ms: i64, params: &StrategyParams) -> Vec<Fill> {
        let mut fills = Vec::new();
        let mid = tick.mid();
        let models = &self.models;
        for order in &mut self.resting {
            let view = order.view();
            let eligible = models.fill.eligible(&view, now_ms, params);
            let qty = match models.fill.trigger(&view, tick) {
                FillTrigger::None => 0.0,
                FillTrigger::Through => order.remaining,
                FillTrigger::AtPrice(traded) => {
                    // The queue ahead advances whether or not we may fill yet.
                    let reaches_us = models
                        .queue
                        .on_trade_at_price(&mut order.queue_ahead, traded);
                    reaches_us.min(order.remaining)
                }
            };
            if eligible && qty > QTY_EPS {
                order.remaining -= qty;
                if order.remaining <= QTY_EPS {
                    order.remaining = 0.0;
                }
                let order_done = order.remaining == 0.0;
                fills.push(Fill {
                    order_id: order.id,
                    side: order.side,
                    liquidity: Liquidity::Maker,
                    price: order.price,
                    qty,
                    ts_ms: now_ms,
                    age_ms: now_ms - order.sent_ms,
                    mid,
                    fee_bps: models.fee.fee_bps(Liquidity::Maker, params),
                    reference_mid: None,
                    inventory_after: 0.0,
                    order_done,
                });
            }
        }
        self.resting.retain(|o| o.remaining > 0.0);
        for order in &mut self.resting {
            update_touch(order, tick, now_ms, &self.models);
        }
        self.book = Some(tick.clone());
        fills
    }
}

/// Refreshes the dwell clock and the queue knowledge of `order` against `book`.
fn update_touch(order: &mut RestingOrder, book: &Tick, now_ms: i64, models: &ModelSet) {
    let (touch, displayed) = match order.side {
        OrderSide::Buy => (book.bid, book.bid_qty),
        OrderSide::Sell => (book.ask, book.ask_qty),
    };
    let level = if same_price(order.price, touch) {
        LevelView::AtTouch(displayed)
    } else {
        let better = match order.side {
            OrderSide::Buy => order.price > touch,
            OrderSide::Sell => order.price < touch,
        };
        if better {
            LevelView::BetterThanTouch
        } else {
            LevelView::BehindTouch
        }
    };
    if level == LevelView::BehindTouch {
        order.at_touch_since_ms = None;
    } else if order.at_touch_since_ms.is_none() {
        order.at_touch_since_ms = Some(now_ms);
    }
    models.queue.observe(&mut order.queue_ahead, level);
}
