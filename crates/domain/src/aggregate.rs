//! Aggregation of per-window KPI sets into one, shared by the gate (median),
//! the export service and the soak summary.
//!
//! Each KPI (including `clock_drift_ms`) is aggregated over the windows where
//! it is present and finite: a window without fills has no `edge_bps`, and it
//! neither counts as zero nor drags the median down. A KPI present in no window
//! stays `None`. The counts (`maker_count`, `taker_count`, `total_fills`) are
//! summed over all windows whatever the aggregation, so they always describe
//! the whole run.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::kpi::KpiSet;
use crate::stats::{mean, median_in_place};

/// How per-window values are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// Median of the windows where the KPI is present (the gate's choice).
    #[default]
    Median,
    /// Arithmetic mean of the windows where the KPI is present.
    Mean,
    /// Value of the latest window where the KPI is present.
    Last,
}

impl Aggregation {
    /// The lowercase name (`median`, `mean`, `last`).
    pub fn name(self) -> &'static str {
        match self {
            Aggregation::Median => "median",
            Aggregation::Mean => "mean",
            Aggregation::Last => "last",
        }
    }

    /// Combines `values` (in window order); may reorder them.
    fn combine(self, values: &mut [f64]) -> Option<f64> {
        match self {
            Aggregation::Median => median_in_place(values),
            Aggregation::Mean => mean(values),
            Aggregation::Last => values.last().copied(),
        }
    }
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An aggregation name that is not `median`, `mean` or `last`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown aggregation `{0}` (expected median, mean or last)")]
pub struct UnknownAggregation(pub String);

impl FromStr for Aggregation {
    type Err = UnknownAggregation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "median" => Ok(Aggregation::Median),
            "mean" | "avg" | "average" => Ok(Aggregation::Mean),
            "last" | "latest" => Ok(Aggregation::Last),
            _ => Err(UnknownAggregation(s.to_string())),
        }
    }
}

/// Combines window KPI sets (oldest first) into one; see the module docs.
///
/// `windows` are KPI sets, or anything holding one (an export's per-window
/// series), oldest first.
pub fn aggregate<K: AsRef<KpiSet>>(windows: &[K], how: Aggregation) -> KpiSet {
    // One buffer for every column: this runs for every symbol of an export.
    let mut values: Vec<f64> = Vec::new();
    let mut column = |get: fn(&KpiSet) -> Option<f64>| -> Option<f64> {
        if let [only] = windows {
            // Median, mean and last of one value are that value.
            return get(only.as_ref()).filter(|v| v.is_finite());
        }
        values.clear();
        values.extend(
            windows
                .iter()
                .filter_map(|k| get(k.as_ref()))
                .filter(|v| v.is_finite()),
        );
        how.combine(&mut values)
    };
    let sets = || windows.iter().map(AsRef::as_ref);
    KpiSet {
        edge_bps: column(|k| k.edge_bps),
        maker_taker_ratio: column(|k| k.maker_taker_ratio),
        p95_latency_ms: column(|k| k.p95_latency_ms),
        risk_ratio: column(|k| k.risk_ratio),
        clock_drift_ms: column(|k| k.clock_drift_ms),
        maker_count: sets().map(|k: &KpiSet| k.maker_count).sum(),
        taker_count: sets().map(|k: &KpiSet| k.taker_count).sum(),
        total_fills: sets().map(|k: &KpiSet| k.total_fills).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(edge: Option<f64>, ratio: Option<f64>, fills: u64) -> KpiSet {
        KpiSet {
            edge_bps: edge,
            maker_taker_ratio: ratio,
            maker_count: fills,
            total_fills: fills,
            ..KpiSet::default()
        }
    }

    #[test]
    fn missing_values_are_skipped_not_zeroed() {
        let w = [
            k(Some(1.0), Some(0.9), 3),
            k(None, None, 0),
            k(Some(4.0), Some(0.7), 2),
            k(Some(2.0), Some(0.8), 5),
        ];
        let m = aggregate(&w, Aggregation::Median);
        assert_eq!(m.edge_bps, Some(2.0));
        assert_eq!(m.maker_taker_ratio, Some(0.8));
        assert_eq!(m.total_fills, 10);
        assert_eq!(m.p95_latency_ms, None);
        let a = aggregate(&w, Aggregation::Mean);
        assert!((a.edge_bps.unwrap() - 7.0 / 3.0).abs() < 1e-12);
        let l = aggregate(&w, Aggregation::Last);
        assert_eq!(l.edge_bps, Some(2.0));
        assert_eq!(l.maker_count, 10);
        // the latest window *with* the KPI, not the latest window
        let l2 = aggregate(&w[..2], Aggregation::Last);
        assert_eq!(l2.edge_bps, Some(1.0));
        assert_eq!(
            aggregate::<KpiSet>(&[], Aggregation::Median),
            KpiSet::default()
        );
    }

    #[test]
    fn names_parse_and_print() {
        for a in [Aggregation::Median, Aggregation::Mean, Aggregation::Last] {
            assert_eq!(a.name().parse::<Aggregation>(), Ok(a));
            assert_eq!(a.to_string(), a.name());
        }
        assert!("mode".parse::<Aggregation>().is_err());
    }
}
