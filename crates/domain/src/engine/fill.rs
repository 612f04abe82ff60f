//! Fills of the simulated exchange and the per-fill edge.

use serde::{Deserialize, Serialize};

/// Side of one of our orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderSide {
    /// We buy (a bid, or a hedge that covers a short).
    Buy,
    /// We sell (an ask, or a hedge that sells a long).
    Sell,
}

impl OrderSide {
    /// `+1` for a buy, `-1` for a sell: the sign of the edge formula and of the
    /// inventory change.
    pub fn sign(self) -> f64 {
        match self {
            OrderSide::Buy => 1.0,
            OrderSide::Sell => -1.0,
        }
    }
}

/// Whether a fill added liquidity (a resting quote) or took it (a hedge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Liquidity {
    /// A resting quote was filled.
    Maker,
    /// We crossed the spread.
    Taker,
}

/// One (possibly partial) execution of one of our orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    /// Exchange-side order id (per symbol, increasing).
    pub order_id: u64,
    /// Our side.
    pub side: OrderSide,
    /// Maker or taker.
    pub liquidity: Liquidity,
    /// Execution price.
    pub price: f64,
    /// Executed size, base units.
    pub qty: f64,
    /// Event time of the execution, ms.
    pub ts_ms: i64,
    /// Order age at the fill: execution time − the time the strategy sent the
    /// order (its decision, after the feed delay; so the age holds the
    /// order-entry delay and the time the order rested), ms.
    pub age_ms: i64,
    /// Mid price at the execution.
    pub mid: f64,
    /// Fee charged, basis points (negative: rebate).
    pub fee_bps: f64,
    /// Mid `markout_ms` after the execution, once known.
    pub reference_mid: Option<f64>,
    /// Inventory after this fill, base units.
    pub inventory_after: f64,
    /// True when this fill completed the order.
    #[serde(default)]
    pub order_done: bool,
}

impl Fill {
    /// Net edge of this fill in basis points:
    /// `side × (reference mid − price) / mid × 1e4 − fee_bps`, with `mid` the mid
    /// at the execution. `None` until the reference mid is known.
    pub fn edge_bps(&self) -> Option<f64> {
        let reference = self.reference_mid?;
        if self.mid.is_nan() || self.mid <= 0.0 {
            return None;
        }
        Some(self.side.sign() * (reference - self.price) / self.mid * 1e4 - self.fee_bps)
    }

    /// True for maker fills.
    pub fn is_maker(&self) -> bool {
        self.liquidity == Liquidity::Maker
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_adds_the_rebate_and_subtracts_the_taker_fee() {
        let mut f = Fill {
            order_id: 1,
            side: OrderSide::Buy,
            liquidity: Liquidity::Maker,
            price: 99.99,
            qty: 1.0,
            ts_ms: 0,
            age_ms: 0,
            mid: 100.0,
            fee_bps: -0.5,
            reference_mid: None,
            inventory_after: 1.0,
            order_done: true,
        };
        assert_eq!(f.edge_bps(), None);
        // bought 1 bp under the reference mid with a 0.5 bp rebate: 1.5 bp
        f.reference_mid = Some(100.0);
        assert!((f.edge_bps().unwrap() - 1.5).abs() < 1e-9);
        // a sell at 100.02 with the mid at 100.0 and a 5.5 bp taker fee:
        // -1 × (100 − 100.02) / 100 × 1e4 − 5.5 = 2 − 5.5 = −3.5
        f.side = OrderSide::Sell;
        f.liquidity = Liquidity::Taker;
        f.price = 100.02;
        f.fee_bps = 5.5;
        assert!((f.edge_bps().unwrap() + 3.5).abs() < 1e-9);
    }
}
