//! The local (strategy) side: a quoting market maker for one symbol.
//!
//! On every tick it decides, from the book, its inventory and the quotes it
//! has sent, which [`OrderAction`]s to send:
//!
//! - **quotes**: a bid and an ask of `min_lot` at `quote_offset_bps` around the
//!   mid, skewed against inventory by `quote_offset_bps × inventory / limit`
//!   (long → both quotes lower). A quote never crosses the touch: a bid that
//!   would sit above the best bid joins the best bid (and likewise the ask).
//! - **inventory limit**: a side is not quoted when a full fill of it would take
//!   |inventory| beyond `inventory_limit`.
//! - **requote**: a quote is cancelled and replaced (new age, new dwell, back of
//!   the queue) when the mid moved more than `requote_threshold_bps` since it
//!   was placed, or its target price moved that far (a skew change).
//! - **hedge**: when |inventory| exceeds the limit (possible with order latency,
//!   when a fill lands before a cancel), a taker order at the opposite touch
//!   brings it back to half the limit. One hedge is in flight at a time.
//!
//! The strategy learns of fills as they happen; delays are modelled on the way
//! in (feed) and out (order entry) by the exchange's latency model.

use crate::params::StrategyParams;
use crate::tick::Tick;

use super::exchange::OrderAction;
use super::fill::{Fill, Liquidity, OrderSide};

/// Slack for inventory comparisons, so `n` lots of `0.01` reach a limit of
/// `n × 0.01` despite rounding.
const INV_EPS: f64 = 1e-9;

/// A quote as the strategy last sent it (it may still be in flight).
#[derive(Debug, Clone, Copy, PartialEq)]
struct WorkingQuote {
    id: u64,
    price: f64,
    ref_mid: f64,
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

    /// Signed inventory, base units.
    pub fn inventory(&self) -> f64 {
        self.inventory
    }

    /// Books a fill: updates inventory, forgets a quote that is now fully done
    /// and stamps `fill.inventory_after`.
    pub fn on_fill(&mut self, fill: &mut Fill) {
        self.inventory += fill.side.sign() * fill.qty;
        // Snap tiny rounding residue so a flat book is exactly flat.
        if self.inventory.abs() < INV_EPS {
            self.inventory = 0.0;
        }
        fill.inventory_after = self.inventory;
        if fill.liquidity == Liquidity::Taker {
            if self.hedge.is_some_and(|(id, _)| id == fill.order_id) {
                self.hedge = None;
            }
            return;
        }
        if fill.order_done {
            let slot = match fill.side {
                OrderSide::Buy => &mut self.bid,
                OrderSide::Sell => &mut self.ask,
            };
            if slot.is_some_and(|q| q.id == fill.order_id) {
                *slot = None;
            }
        }
    }

    /// Decides the actions for a tick. `book` is the tick the decision is based
    /// on.
    pub fn decide(&mut self, book: &Tick) -> Vec<OrderAction> {
        let mut actions = Vec::new();
        let p = self.params.clone();
        let limit = p.inventory_limit;
        let lot = p.min_lot;
        let mid = book.mid();

        if self.hedge.is_none() && self.inventory.abs() > limit + INV_EPS {
            let side = if self.inventory > 0.0 {
                OrderSide::Sell
            } else {
                OrderSide::Buy
            };
            let qty = self.inventory.abs() - limit / 2.0;
            let id = self.take_id();
            self.hedge = Some((id, side.sign() * qty));
            actions.push(OrderAction::Hedge { id, side, qty });
        }
        // Quote against the inventory we will have once the hedge lands.
        let inv = self.inventory + self.hedge.map_or(0.0, |(_, q)| q);

        let skew_bps = p.quote_offset_bps * (inv / limit).clamp(-1.0, 1.0);
        let bid_px = (mid * (1.0 - (p.quote_offset_bps + skew_bps) / 1e4)).min(book.bid);
        let ask_px = (mid * (1.0 + (p.quote_offset_bps - skew_bps) / 1e4)).max(book.ask);
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
                (false, Some(q)) => {
                    actions.push(OrderAction::Cancel { id: q.id });
                    None
                }
                (true, None) => Some(self.place(side, target, mid, None, &mut actions)),
                (true, Some(q)) => {
                    let mid_move = bps(mid - q.ref_mid, q.ref_mid);
                    let target_move = bps(target - q.price, mid);
                    let th = p.requote_threshold_bps;
                    if mid_move > th || target_move > th {
                        Some(self.place(side, target, mid, Some(q.id), &mut actions))
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
        actions
    }

    fn place(
        &mut self,
        side: OrderSide,
        price: f64,
        mid: f64,
        replaces: Option<u64>,
        actions: &mut Vec<OrderAction>,
    ) -> WorkingQuote {
        let id = self.take_id();
        actions.push(OrderAction::Place {
            id,
            side,
            price,
            qty: self.params.min_lot,
            replaces,
        });
        WorkingQuote {
            id,
            price,
            ref_mid: mid,
        }
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}

/// `|delta| / base` in basis points (0 for a non-positive base).
fn bps(delta: f64, base: f64) -> f64 {
    if base > 0.0 {
        delta.abs() / base * 1e4
    } else {
        0.0
    }
}
