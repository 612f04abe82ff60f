//! Live KPI gauges per symbol, for the alert rules.

use std::sync::LazyLock;

use prometheus::GaugeVec;
use shadowkpi_domain::kpi::KpiSet;
use shadowkpi_runtime::metrics::{register_counter_vec, register_gauge_vec};

/// The shadow gauges of the contract.
pub struct ShadowMetrics {
    edge_bps: GaugeVec,
    maker_taker_ratio: GaugeVec,
    p95_latency_ms: GaugeVec,
    risk_ratio: GaugeVec,
    clock_drift_ms: GaugeVec,
    windows: prometheus::IntCounterVec,
    rejects: prometheus::IntCounterVec,
}

/// Registered on first use.
pub static METRICS: LazyLock<ShadowMetrics> = LazyLock::new(|| ShadowMetrics {
    edge_bps: register_gauge_vec(
        "shadow_edge_bps",
        "net edge per fill of the last window, bps",
        &["symbol"],
    ),
    maker_taker_ratio: register_gauge_vec(
        "shadow_maker_taker_ratio",
        "maker fills / all fills of the last window",
        &["symbol"],
    ),
    p95_latency_ms: register_gauge_vec(
        "shadow_p95_latency_ms",
        "winsorised p95 order age at fill of the last window, ms",
        &["symbol"],
    ),
    risk_ratio: register_gauge_vec(
        "shadow_risk_ratio",
        "time-weighted mean |inventory| / limit of the last window",
        &["symbol"],
    ),
    clock_drift_ms: register_gauge_vec(
        "shadow_clock_drift_ms",
        "EWMA of receive time minus exchange time, ms",
        &["symbol"],
    ),
    windows: register_counter_vec(
        "shadow_windows_total",
        "shadow windows completed",
        &["symbol"],
    ),
    rejects: register_counter_vec(
        "shadow_order_rejects_total",
        "orders and cancels the simulated exchange refused, by reason",
        &["symbol", "reason"],
    ),
});

impl ShadowMetrics {
    /// Publishes one window's KPIs; an unmeasured KPI keeps its last value.
    pub fn observe(&self, symbol: &str, k: &KpiSet) {
        let set = |g: &GaugeVec, v: Option<f64>| {
            if let Some(v) = v {
                g.with_label_values(&[symbol]).set(v);
            }
        };
        set(&self.edge_bps, k.edge_bps);
        set(&self.maker_taker_ratio, k.maker_taker_ratio);
        set(&self.p95_latency_ms, k.p95_latency_ms);
        set(&self.risk_ratio, k.risk_ratio);
        set(&self.clock_drift_ms, k.clock_drift_ms);
        self.windows.with_label_values(&[symbol]).inc();
    }

    /// Counts one window's refusals by reason.
    pub fn rejects(&self, symbol: &str, rejects: &std::collections::BTreeMap<String, u64>) {
        for (reason, n) in rejects {
            self.rejects
                .with_label_values(&[symbol, reason.as_str()])
                .inc_by(*n);
        }
    }
}
