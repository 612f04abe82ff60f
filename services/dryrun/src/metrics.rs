//! Dry-run accuracy gauges.

use std::sync::LazyLock;

use prometheus::GaugeVec;
use shadowkpi_runtime::metrics::register_gauge_vec;

/// The dry-run gauges.
pub struct DryRunMetrics {
    mape_pct: GaugeVec,
}

/// Registered on first use.
pub static METRICS: LazyLock<DryRunMetrics> = LazyLock::new(|| DryRunMetrics {
    mape_pct: register_gauge_vec(
        "shadow_dryrun_mape_pct",
        "MAPE of the last dry run's actuals against the prediction, percent",
        &["symbol", "kpi"],
    ),
});

impl DryRunMetrics {
    /// Publishes one KPI's MAPE.
    pub fn mape(&self, symbol: &str, kpi: &str, value: f64) {
        self.mape_pct.with_label_values(&[symbol, kpi]).set(value);
    }
}
