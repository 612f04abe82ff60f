//! Queue position models: how much volume is ahead of a resting order at its
//! price, and when trades at that price reach it.
//!
//! The shapes follow hftbacktest's `QueueModel` (`models/queue.rs`) so the two
//! can be compared rule for rule:
//!
//! - [`QueueModel::new_order`]: the order joins behind what the book shows at
//!   its price when it arrives (nothing shown: it is at the front);
//! - [`QueueModel::trade`]: a trade at the order's price consumes the queue
//!   ahead first;
//! - [`QueueModel::depth`]: the displayed size at the order's price changed;
//!   the model decides how much of a decrease was ahead of the order (never
//!   more than is displayed);
//! - [`QueueModel::filled_qty`]: the volume that went past the front of the
//!   queue, in whole lots — what may execute against the order.
//!
//! [`FrontOfQueue`] is the optimistic bound, [`RiskAverseQueue`] the
//! pessimistic one (only trades move it, cancellations never help, but the
//! position is capped by the displayed size), and [`ProbQueue`] the
//! probabilistic family in between.

use std::fmt;

/// Queue state of one resting order.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct QueuePos {
    /// Volume ahead of the order (negative once trades went past it).
    pub front: f64,
    /// Volume traded at the price since the last depth update (so a decrease
    /// of the displayed size caused by those trades is not counted twice).
    pub cum_trade: f64,
}

/// Estimates an order's place in the queue at its price; see the module docs.
pub trait QueueModel: fmt::Debug + Send + Sync {
    /// Short description with parameters, e.g. `prob_power(n=3)`.
    fn describe(&self) -> String;

    /// The position of an order accepted at a level showing `displayed`.
    fn new_order(&self, displayed: f64) -> QueuePos;

    /// A trade of `qty` printed at the order's price.
    fn trade(&self, q: &mut QueuePos, qty: f64) {
        q.front -= qty;
        q.cum_trade += qty;
    }

    /// The displayed size at the order's price went from `prev_qty` to `new_qty`.
    fn depth(&self, q: &mut QueuePos, prev_qty: f64, new_qty: f64);

    /// The volume that went past the front of the queue, in whole lots of
    /// `lot` (hftbacktest's `is_filled`: nothing until the excess rounds to at
    /// least one lot; the floor forgives float noise, so 0.003 past the front
    /// is three lots of 0.001, not two).
    fn filled_qty(&self, q: &QueuePos, lot: f64) -> f64 {
        if (q.front / lot).round() < 0.0 {
            (-q.front / lot + 1e-9).floor() * lot
        } else {
            0.0
        }
    }
}

/// Optimistic: the order is always at the front, so every trade at its price
/// reaches it.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrontOfQueue;

impl QueueModel for FrontOfQueue {
    fn describe(&self) -> String {
        "front".into()
    }

    fn new_order(&self, _displayed: f64) -> QueuePos {
        QueuePos::default()
    }

    fn depth(&self, q: &mut QueuePos, _prev_qty: f64, _new_qty: f64) {
        q.cum_trade = 0.0;
        q.front = q.front.min(0.0);
    }
}

/// Pessimistic (hftbacktest's `RiskAdverseQueueModel`): the order joins behind
/// the displayed size and advances only by volume traded at its price; a
/// shrinking level caps the position at what is still displayed.
#[derive(Debug, Clone, Copy, Default)]
pub struct RiskAverseQueue;

impl QueueModel for RiskAverseQueue {
    fn describe(&self) -> String {
        "risk_averse".into()
    }

    fn new_order(&self, displayed: f64) -> QueuePos {
        QueuePos {
            front: clean(displayed),
            cum_trade: 0.0,
        }
    }

    fn depth(&self, q: &mut QueuePos, _prev_qty: f64, new_qty: f64) {
        q.cum_trade = 0.0;
        q.front = q.front.min(clean(new_qty));
    }
}

/// The probability function of a [`ProbQueue`]: given the volume ahead
/// (`front`) and behind (`back`), the probability that a decrease of the level
/// happened *behind* the order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProbFunc {
    /// `f(back) / (f(back) + f(front))` with `f(x) = x^n`.
    Power(f64),
    /// `f(back) / f(back + front)` with `f(x) = x^n`.
    Power2(f64),
    /// `1 − (front / (front + back))^n`.
    Power3(f64),
    /// `f(back) / (f(back) + f(front))` with `f(x) = ln(1 + x)`.
    Log,
    /// `f(back) / f(back + front)` with `f(x) = ln(1 + x)`.
    Log2,
}

impl ProbFunc {
    /// The probability that a decrease happened behind the order.
    pub fn prob(&self, front: f64, back: f64) -> f64 {
        match *self {
            ProbFunc::Power(n) => back.powf(n) / (back.powf(n) + front.powf(n)),
            ProbFunc::Power2(n) => back.powf(n) / (back + front).powf(n),
            ProbFunc::Power3(n) => 1.0 - (front / (front + back)).powf(n),
            ProbFunc::Log => back.ln_1p() / (back.ln_1p() + front.ln_1p()),
            ProbFunc::Log2 => back.ln_1p() / (back + front).ln_1p(),
        }
    }
}

/// Probabilistic (hftbacktest's `ProbQueueModel`): trades at the price move the
/// order forward; a decrease of the displayed size not explained by those
/// trades is split between ahead of and behind the order by [`ProbFunc`].
#[derive(Debug, Clone, Copy)]
pub struct ProbQueue {
    /// The probability function.
    pub func: ProbFunc,
}

impl ProbQueue {
    /// A probabilistic queue with this function.
    pub fn new(func: ProbFunc) -> Self {
        Self { func }
    }
}

impl QueueModel for ProbQueue {
    fn describe(&self) -> String {
        match self.func {
            ProbFunc::Power(n) => format!("prob_power(n={n})"),
            ProbFunc::Power2(n) => format!("prob_power2(n={n})"),
            ProbFunc::Power3(n) => format!("prob_power3(n={n})"),
            ProbFunc::Log => "prob_log".into(),
            ProbFunc::Log2 => "prob_log2".into(),
        }
    }

    fn new_order(&self, displayed: f64) -> QueuePos {
        QueuePos {
            front: clean(displayed),
            cum_trade: 0.0,
        }
    }

    fn depth(&self, q: &mut QueuePos, prev_qty: f64, new_qty: f64) {
        let new_qty = clean(new_qty);
        // A decrease already explained by trades at the price is not counted again.
        let chg = prev_qty - new_qty - q.cum_trade;
        q.cum_trade = 0.0;
        if chg < 0.0 {
            // The level grew: new orders join behind us.
            q.front = q.front.min(new_qty);
            return;
        }
        let front = q.front;
        let back = prev_qty - front;
        let mut prob = self.func.prob(front, back);
        if !prob.is_finite() {
            prob = 1.0;
        }
        let est_front = front - (1.0 - prob) * chg + (back - prob * chg).min(0.0);
        q.front = est_front.min(new_qty);
    }
}

/// A displayed size as a usable number (absent or invalid sizes are 0).
fn clean(x: f64) -> f64 {
    if x.is_finite() { x.max(0.0) } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOT: f64 = 0.001;

    #[test]
    fn risk_averse_needs_the_queue_ahead_to_trade_first_and_is_capped_by_the_display() {
        let m = RiskAverseQueue;
        let mut q = m.new_order(5.0);
        assert_eq!(q.front, 5.0);
        m.trade(&mut q, 3.0);
        assert_eq!(m.filled_qty(&q, LOT), 0.0);
        // the level shrinks to 0.5 displayed: at most 0.5 is still ahead of us
        m.depth(&mut q, 2.0, 0.5);
        assert_eq!(q.front, 0.5);
        // growth never moves us back
        m.depth(&mut q, 0.5, 9.0);
        assert_eq!(q.front, 0.5);
        m.trade(&mut q, 0.5004);
        // 0.0004 past the front is less than half a lot: nothing yet
        assert_eq!(m.filled_qty(&q, LOT), 0.0);
        m.trade(&mut q, 0.0026);
        assert!((m.filled_qty(&q, LOT) - 0.003).abs() < 1e-12);
    }

    #[test]
    fn front_of_queue_fills_on_every_trade_at_the_price() {
        let m = FrontOfQueue;
        let mut q = m.new_order(5.0);
        assert_eq!(q.front, 0.0);
        m.trade(&mut q, 0.002);
        assert!((m.filled_qty(&q, LOT) - 0.002).abs() < 1e-12);
    }

    #[test]
    fn prob_queue_splits_an_unexplained_decrease_by_its_probability() {
        // front 4, back 6 (level 10); 2 cancelled; power n=1: prob(back) = 6/10
        let m = ProbQueue::new(ProbFunc::Power(1.0));
        let mut q = m.new_order(4.0);
        m.depth(&mut q, 10.0, 8.0);
        // est = 4 − 0.4 × 2 + min(6 − 0.6 × 2, 0) = 3.2
        assert!((q.front - 3.2).abs() < 1e-12);
        // a trade of 1 then the level showing 1 less: the trade is not counted twice
        m.trade(&mut q, 1.0);
        m.depth(&mut q, 8.0, 7.0);
        assert!((q.front - 2.2).abs() < 1e-12);
        // log: f(x) = ln(1 + x)
        let p = ProbFunc::Log.prob(1.0, 3.0);
        assert!((p - 4f64.ln() / (4f64.ln() + 2f64.ln())).abs() < 1e-12);
        assert!((ProbFunc::Power3(2.0).prob(1.0, 3.0) - (1.0 - 0.0625)).abs() < 1e-12);
        assert!((ProbFunc::Power2(1.0).prob(1.0, 3.0) - 0.75).abs() < 1e-12);
        assert_eq!(m.describe(), "prob_power(n=1)");
    }
}
