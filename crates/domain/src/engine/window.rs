//! KPI windows: what one symbol accumulates in one event-time window, and how
//! that becomes a [`KpiSet`].
//!
//! KPI definitions (docs/contract.md, "KPIs"):
//!
//! - `edge_bps`: Σ qtyᵢ·edgeᵢ / Σ qtyᵢ over the window's fills, with
//!   `edgeᵢ = side × (reference mid − price) / mid × 1e4 − fee_bps` (see
//!   [`Fill::edge_bps`]); the reference mid is the mid in force `markout_ms`
//!   after the fill. Summed in fill order, so the bits are reproducible.
//! - `maker_taker_ratio`: maker fills / all fills; `None` without fills.
//! - `p95_latency_ms`: [`p95_winsorized`] of the fills' order ages.
//! - `risk_ratio`: ∫ |inventory| / limit dt over the part of the window the
//!   symbol was live, divided by that time (event time). A window the symbol
//!   entered on its very last millisecond reports the instantaneous value.
//! - `clock_drift_ms`: the symbol's EWMA (α = [`DRIFT_EWMA_ALPHA`]) of
//!   `ts_ingest_ms − ts_server_ms` at the window's close, skipping ticks
//!   without an ingest time; it carries over from window to window.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::kpi::KpiSet;
use crate::stats::p95_winsorized;
use crate::summary::{PathPoint, Window};

use super::exchange::{ExchangeCounters, RejectReason};
use super::fill::Fill;

/// Smoothing factor of the clock-drift EWMA: each tick moves it 10 % of the
/// way, so it follows a drift change within a few dozen ticks but ignores one
/// slow read.
pub const DRIFT_EWMA_ALPHA: f64 = 0.1;

/// One symbol in one finished window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolWindow {
    /// The window's KPIs.
    pub kpis: KpiSet,
    /// Ticks applied in the window.
    pub ticks: u64,
    /// Ticks dropped as undecodable (non-finite, crossed, non-positive).
    pub skipped_ticks: u64,
    /// Every fill in the window, in event-time order, with its reference mid.
    pub fills: Vec<Fill>,
    /// Inventory at the end of the window, base units.
    pub inventory_end: f64,
    /// Orders the exchange rejected in the window (post-only orders that
    /// would have crossed, market orders without a book, malformed orders,
    /// requests over the bound of one decision: see
    /// [`RejectReason`](super::RejectReason)).
    #[serde(default)]
    pub rejected_orders: u64,
    /// Cancels that found their order already gone (filled or rejected).
    #[serde(default)]
    pub cancel_rejects: u64,
    /// Orders and cancels refused in the window, by reason
    /// ([`RejectReason::as_str`](super::RejectReason::as_str)); reasons
    /// without a refusal are absent.
    #[serde(default)]
    pub rejects: BTreeMap<String, u64>,
    /// Equity and inventory through the window (see the engine's docs, "Equity
    /// path").
    #[serde(default)]
    pub path: Vec<PathPoint>,
}

/// The result of one window over every symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowResult {
    /// 1-based window index.
    pub iteration: u32,
    /// The window's nominal interval `[t0 + (i-1)·w, t0 + i·w)`.
    pub window: Window,
    /// True for the last window closed early by `finish()`.
    pub partial: bool,
    /// Per-symbol results, ordered by symbol.
    pub symbols: BTreeMap<String, SymbolWindow>,
}

impl WindowResult {
    /// The KPIs of one symbol, if it took part.
    pub fn kpis(&self, symbol: &str) -> Option<&KpiSet> {
        self.symbols.get(symbol).map(|s| &s.kpis)
    }
}

/// What one symbol accumulates in an open window.
#[derive(Debug, Clone, Default)]
pub(crate) struct KpiWindow {
    pub ticks: u64,
    pub skipped_ticks: u64,
    pub fills: Vec<Fill>,
    /// ∫ |inventory| / limit dt, in ratio·ms.
    pub risk_integral: f64,
    /// Milliseconds integrated so far.
    pub covered_ms: i64,
    /// |inventory| / limit at the last integration point.
    pub last_risk: Option<f64>,
    pub drift_ms: Option<f64>,
    pub inventory_end: f64,
    /// The symbol's refusals in the window, by reason.
    pub rejects: ExchangeCounters,
    pub path: Vec<PathPoint>,
}

impl KpiWindow {
    /// Adds `ms` milliseconds at risk level `risk`.
    pub fn integrate(&mut self, risk: f64, ms: i64) {
        if ms > 0 {
            self.risk_integral += risk * ms as f64;
            self.covered_ms += ms;
        }
        self.last_risk = Some(risk);
    }

    /// The window's KPIs. Every fill must have its reference mid by now.
    pub fn kpis(&self) -> KpiSet {
        let maker = self.fills.iter().filter(|f| f.is_maker()).count() as u64;
        let total = self.fills.len() as u64;
        let (mut weighted, mut volume) = (0.0, 0.0);
        for f in &self.fills {
            if let Some(e) = f.edge_bps() {
                weighted += f.qty * e;
                volume += f.qty;
            }
        }
        let ages: Vec<f64> = self.fills.iter().map(|f| f.age_ms as f64).collect();
        let risk = if self.covered_ms > 0 {
            Some(self.risk_integral / self.covered_ms as f64)
        } else {
            self.last_risk
        };
        KpiSet {
            edge_bps: (volume > 0.0).then(|| weighted / volume),
            maker_taker_ratio: (total > 0).then(|| maker as f64 / total as f64),
            p95_latency_ms: p95_winsorized(&ages),
            risk_ratio: risk,
            maker_count: maker,
            taker_count: total - maker,
            total_fills: total,
            clock_drift_ms: self.drift_ms,
        }
    }

    /// Turns the accumulator into the published form.
    pub fn into_symbol_window(self) -> SymbolWindow {
        SymbolWindow {
            kpis: self.kpis(),
            ticks: self.ticks,
            skipped_ticks: self.skipped_ticks,
            inventory_end: self.inventory_end,
            rejected_orders: self.rejects.rejected_orders(),
            cancel_rejects: self.rejects.cancel_rejects(),
            rejects: RejectReason::ALL
                .into_iter()
                .filter(|&r| self.rejects.get(r) > 0)
                .map(|r| (r.as_str().to_owned(), self.rejects.get(r)))
                .collect(),
            fills: self.fills,
            path: self.path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fill::{Liquidity, OrderSide};

    fn fill(side: OrderSide, liq: Liquidity, price: f64, qty: f64, age: i64, fee: f64) -> Fill {
        Fill {
            order_id: 0,
            side,
            liquidity: liq,
            price,
            qty,
            ts_ms: 0,
            age_ms: age,
            mid: 100.0,
            fee_bps: fee,
            reference_mid: Some(100.0),
            inventory_after: 0.0,
            order_done: true,
        }
    }

    #[test]
    fn no_fill_window_has_no_ratio_edge_or_latency() {
        let mut w = KpiWindow::default();
        w.integrate(0.25, 1000);
        let k = w.kpis();
        assert_eq!(k.maker_taker_ratio, None);
        assert_eq!(k.edge_bps, None);
        assert_eq!(k.p95_latency_ms, None);
        assert_eq!(k.total_fills, 0);
        assert_eq!(k.risk_ratio, Some(0.25));
    }

    #[test]
    fn edge_is_volume_weighted_and_net_of_fees() {
        let mut w = KpiWindow::default();
        // maker buy 1 @ 99.99, ref 100, rebate 0.5: 1 + 0.5 = 1.5 bp
        w.fills.push(fill(
            OrderSide::Buy,
            Liquidity::Maker,
            99.99,
            1.0,
            100,
            -0.5,
        ));
        // taker sell 3 @ 99.99, ref 100, fee 5.5: −1 − 5.5 = −6.5 bp
        w.fills
            .push(fill(OrderSide::Sell, Liquidity::Taker, 99.99, 3.0, 40, 5.5));
        let k = w.kpis();
        // (1 × 1.5 + 3 × −6.5) / 4 = (1.5 − 19.5) / 4 = −4.5
        assert!((k.edge_bps.unwrap() + 4.5).abs() < 1e-9);
        assert_eq!(k.maker_taker_ratio, Some(0.5));
        assert_eq!((k.maker_count, k.taker_count, k.total_fills), (1, 1, 2));
        // ages [40, 100]: winsor limits 40.6 / 99.4, p95 = 40.6 + 0.95 × 58.8 = 96.46
        assert!((k.p95_latency_ms.unwrap() - 96.46).abs() < 1e-9);
    }
}
