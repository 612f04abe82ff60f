//! The export metrics, with the names of the contract (users alert on them).
//!
//! Counters count symbols (`success`/`fail`), batches and keys of real exports;
//! dry runs write nothing and count nothing.

use std::sync::LazyLock;

use prometheus::{GaugeVec, HistogramVec, IntCounterVec};
use shadowkpi_domain::export::ExportMode;
use shadowkpi_runtime::metrics::{
    register_counter_vec, register_gauge_vec, register_histogram_vec,
};

/// Buckets of the duration histograms, in milliseconds.
const MS_BUCKETS: [f64; 15] = [
    1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0,
];

/// Every export metric.
pub struct ExportMetrics {
    /// `redis_export_success_total`: symbols whose writes landed.
    pub success: IntCounterVec,
    /// `redis_export_fail_total`: symbols whose writes did not land.
    pub fail: IntCounterVec,
    /// `redis_export_duration_ms`: duration of whole exports.
    pub duration_ms: HistogramVec,
    /// `redis_export_batches_total`: pipelines run.
    pub batches: IntCounterVec,
    /// `redis_export_keys_written_total`: keys written by successful pipelines.
    pub keys_written: IntCounterVec,
    /// `redis_export_batches_failed_total`: pipelines that failed after retries.
    pub batches_failed: IntCounterVec,
    /// `redis_export_batch_duration_ms`: duration of each pipeline, retries included.
    pub batch_duration_ms: HistogramVec,
    /// `redis_export_mode{type}`: 1 for the mode of the latest export, 0 otherwise.
    pub mode: GaugeVec,
}

/// The export metrics, registered on first use.
pub static METRICS: LazyLock<ExportMetrics> = LazyLock::new(|| {
    let m = ExportMetrics {
        success: register_counter_vec(
            "redis_export_success_total",
            "symbols whose KPI writes landed in the store",
            &[],
        ),
        fail: register_counter_vec(
            "redis_export_fail_total",
            "symbols whose KPI writes did not land in the store",
            &[],
        ),
        duration_ms: register_histogram_vec(
            "redis_export_duration_ms",
            "duration of an export in milliseconds",
            &[],
            MS_BUCKETS.to_vec(),
        ),
        batches: register_counter_vec("redis_export_batches_total", "export pipelines run", &[]),
        keys_written: register_counter_vec(
            "redis_export_keys_written_total",
            "keys written by successful export pipelines",
            &[],
        ),
        batches_failed: register_counter_vec(
            "redis_export_batches_failed_total",
            "export pipelines that failed after retries",
            &[],
        ),
        batch_duration_ms: register_histogram_vec(
            "redis_export_batch_duration_ms",
            "duration of an export pipeline in milliseconds, retries included",
            &[],
            MS_BUCKETS.to_vec(),
        ),
        mode: register_gauge_vec(
            "redis_export_mode",
            "1 for the key layout of the latest export (hash, flat or stream), 0 otherwise",
            &["type"],
        ),
    };
    // Every series exists from the start, so dashboards see zeros, not gaps.
    for c in [
        &m.success,
        &m.fail,
        &m.batches,
        &m.keys_written,
        &m.batches_failed,
    ] {
        c.with_label_values(NO_LABELS);
    }
    for h in [&m.duration_ms, &m.batch_duration_ms] {
        h.with_label_values(NO_LABELS);
    }
    for mode in ExportMode::ALL {
        m.mode.with_label_values(&[mode.name()]);
    }
    m
});

/// Label values of the unlabelled metrics.
pub const NO_LABELS: &[&str] = &[];

impl ExportMetrics {
    /// Marks `mode` as the layout of the latest export.
    pub fn set_mode(&self, mode: ExportMode) {
        for m in ExportMode::ALL {
            self.mode
                .with_label_values(&[m.name()])
                .set(if m == mode { 1.0 } else { 0.0 });
        }
    }
}
