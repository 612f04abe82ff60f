//! Prediction accuracy: how far the dry run's actual KPIs are from the
//! predictions shadow mode published.
//!
//! Per KPI, the error is the MAPE of the per-iteration actuals against the
//! prediction: `mean(|actual − predicted| / scale) × 100` over the iterations
//! where the KPI was measured, with `scale = max(|predicted|, floor)`. The floor
//! ([`relative_floor`]) keeps a prediction of zero (or one very close to it)
//! from dividing by zero or turning a tiny absolute miss into a huge
//! percentage: below the floor the error is measured against the floor, and the
//! note says so.
//!
//! Grading with the default thresholds: `PASS` when MAPE < 15 %, `WARN` from
//! 15 % to 30 % inclusive, `FAIL` above 30 %. A KPI without a prediction is
//! `NO_PREDICTION`; one the dry run never measured (for example a ratio without
//! fills) is `NO_DATA`. Both block a go-live just like `FAIL` (see
//! [`AccuracyStatus::blocks`]): a prediction nobody could check is not a
//! validated prediction.

use serde::{Deserialize, Serialize};

use crate::kpi::{Kpi, KpiSet};
use crate::stats::median;

/// Grading thresholds in percent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccuracyThresholds {
    /// MAPE strictly below this passes.
    pub pass_below_pct: f64,
    /// MAPE strictly above this fails.
    pub fail_above_pct: f64,
}

impl Default for AccuracyThresholds {
    fn default() -> Self {
        Self {
            pass_below_pct: 15.0,
            fail_above_pct: 30.0,
        }
    }
}

impl AccuracyThresholds {
    /// Checks `0 <= pass <= fail`; the error names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.pass_below_pct.is_finite() && self.pass_below_pct >= 0.0) {
            return Err(format!(
                "thresholds.pass_below_pct must be a non-negative number, got {}",
                self.pass_below_pct
            ));
        }
        if !(self.fail_above_pct.is_finite() && self.fail_above_pct >= self.pass_below_pct) {
            return Err(format!(
                "thresholds.fail_above_pct must be >= pass_below_pct ({}), got {}",
                self.pass_below_pct, self.fail_above_pct
            ));
        }
        Ok(())
    }

    /// Grades a MAPE.
    pub fn grade(&self, mape_pct: f64) -> AccuracyStatus {
        if mape_pct < self.pass_below_pct {
            AccuracyStatus::Pass
        } else if mape_pct <= self.fail_above_pct {
            AccuracyStatus::Warn
        } else {
            AccuracyStatus::Fail
        }
    }
}

/// The grade of a KPI, a symbol or a whole run; ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccuracyStatus {
    /// Within the pass threshold.
    Pass,
    /// Between the thresholds.
    Warn,
    /// The dry run never measured the KPI.
    NoData,
    /// The store held no prediction.
    NoPrediction,
    /// Above the fail threshold.
    Fail,
}

impl AccuracyStatus {
    /// True when this status must stop a go-live (exit code 1 of `validate`).
    pub fn blocks(self) -> bool {
        !matches!(self, AccuracyStatus::Pass | AccuracyStatus::Warn)
    }

    /// Upper-case label used in reports (`PASS`, `NO_DATA`, …).
    pub fn label(self) -> &'static str {
        match self {
            AccuracyStatus::Pass => "PASS",
            AccuracyStatus::Warn => "WARN",
            AccuracyStatus::NoData => "NO_DATA",
            AccuracyStatus::NoPrediction => "NO_PREDICTION",
            AccuracyStatus::Fail => "FAIL",
        }
    }
}

/// Below this magnitude a prediction is compared on an absolute scale of this
/// size instead of relative to itself (see the module docs). Each floor is a
/// difference that matters next to the gate's threshold for the KPI (2.5 bps,
/// 0.83, 350 ms, 0.40): errors are never judged on a finer scale than that.
pub fn relative_floor(kpi: Kpi) -> f64 {
    match kpi {
        Kpi::EdgeBps => 1.0,
        Kpi::MakerTakerRatio => 0.05,
        Kpi::P95LatencyMs => 10.0,
        Kpi::RiskRatio => 0.1,
    }
}

/// The actual values around one prediction that grade PASS, WARN or FAIL when
/// they are the only iteration: an actual `a` has the error
/// `|a − predicted| / scale` with the same `scale` as [`compare_kpi`]
/// (`max(|predicted|, floor)`), so `|a − predicted| < pass_half_width` is a
/// PASS, up to `fail_half_width` (inclusive) a WARN, and beyond a FAIL. The
/// MAPE of several iterations is the mean of their errors, so actuals all
/// inside the PASS band always pass.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AccuracyBands {
    /// The prediction the bands are centred on.
    pub predicted: f64,
    /// The scale errors are divided by: `max(|predicted|, floor)`.
    pub scale: f64,
    /// True when the floor, not the prediction, set the scale.
    pub floored: bool,
    /// Half width of the PASS band: `scale × pass_below_pct / 100`.
    pub pass_half_width: f64,
    /// Half width of the PASS and WARN bands together:
    /// `scale × fail_above_pct / 100`.
    pub fail_half_width: f64,
}

impl AccuracyBands {
    /// The bands of `kpi` around `predicted`; `None` for a non-finite prediction.
    pub fn new(kpi: Kpi, predicted: f64, thresholds: &AccuracyThresholds) -> Option<Self> {
        if !predicted.is_finite() {
            return None;
        }
        let floor = relative_floor(kpi);
        let scale = error_scale(kpi, predicted);
        Some(Self {
            predicted,
            scale,
            floored: predicted.abs() < floor,
            pass_half_width: scale * thresholds.pass_below_pct / 100.0,
            fail_half_width: scale * thresholds.fail_above_pct / 100.0,
        })
    }

    /// `(low, high)` edges of the PASS band (exclusive).
    pub fn pass(&self) -> (f64, f64) {
        (
            self.predicted - self.pass_half_width,
            self.predicted + self.pass_half_width,
        )
    }

    /// `(low, high)` edges of the WARN band's outer side (inclusive): beyond is FAIL.
    pub fn fail(&self) -> (f64, f64) {
        (
            self.predicted - self.fail_half_width,
            self.predicted + self.fail_half_width,
        )
    }
}

/// The scale an error against `predicted` is divided by:
/// `max(|predicted|, floor)`.
pub fn error_scale(kpi: Kpi, predicted: f64) -> f64 {
    predicted.abs().max(relative_floor(kpi))
}

/// One KPI's prediction against the dry run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiAccuracy {
    /// Which KPI.
    pub kpi: Kpi,
    /// The prediction read from the store.
    pub predicted: Option<f64>,
    /// The actual per iteration (1-based by position); `None` when unmeasured.
    pub actuals: Vec<Option<f64>>,
    /// Median of the measured actuals.
    pub median_actual: Option<f64>,
    /// Mean absolute percentage error; `None` when it cannot be computed.
    pub mape_pct: Option<f64>,
    /// The grade.
    pub status: AccuracyStatus,
    /// Explains special cases; empty otherwise.
    pub note: String,
}

/// Compares one KPI's prediction with its per-iteration actuals.
pub fn compare_kpi(
    kpi: Kpi,
    predicted: Option<f64>,
    actuals: Vec<Option<f64>>,
    thresholds: &AccuracyThresholds,
) -> KpiAccuracy {
    let present: Vec<f64> = actuals.iter().flatten().copied().collect();
    let median_actual = median(&present);
    let mut out = KpiAccuracy {
        kpi,
        predicted,
        actuals,
        median_actual,
        mape_pct: None,
        status: AccuracyStatus::NoPrediction,
        note: String::new(),
    };
    let Some(p) = predicted.filter(|p| p.is_finite()) else {
        out.note = "no prediction in the store".into();
        return out;
    };
    if present.is_empty() {
        out.status = AccuracyStatus::NoData;
        out.note = "not measured in any dry-run iteration".into();
        return out;
    }
    let floor = relative_floor(kpi);
    let scale = error_scale(kpi, p);
    if p.abs() < floor {
        out.note = format!("|prediction| below {floor}: error relative to {floor}");
    }
    let mape =
        present.iter().map(|a| (a - p).abs() / scale).sum::<f64>() / present.len() as f64 * 100.0;
    out.mape_pct = Some(mape);
    out.status = thresholds.grade(mape);
    if present.len() < out.actuals.len() {
        let missing = out.actuals.len() - present.len();
        let sep = if out.note.is_empty() { "" } else { "; " };
        out.note = format!("{}{sep}{missing} iteration(s) without a value", out.note);
    }
    out
}

/// Compares every exported KPI of a symbol. `predicted` is `None` when the
/// store held nothing for the symbol.
pub fn compare_symbol(
    predicted: Option<&KpiSet>,
    actuals: &[KpiSet],
    thresholds: &AccuracyThresholds,
) -> Vec<KpiAccuracy> {
    Kpi::ALL
        .iter()
        .map(|&kpi| {
            compare_kpi(
                kpi,
                predicted.and_then(|p| p.get(kpi)),
                actuals.iter().map(|a| a.get(kpi)).collect(),
                thresholds,
            )
        })
        .collect()
}

/// The worst status of a list (`Pass` for an empty list).
pub fn worst(statuses: impl IntoIterator<Item = AccuracyStatus>) -> AccuracyStatus {
    statuses.into_iter().max().unwrap_or(AccuracyStatus::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: AccuracyThresholds = AccuracyThresholds {
        pass_below_pct: 15.0,
        fail_above_pct: 30.0,
    };

    #[test]
    fn boundaries_are_warn_at_exactly_15_and_30() {
        assert_eq!(T.grade(14.999), AccuracyStatus::Pass);
        assert_eq!(T.grade(15.0), AccuracyStatus::Warn);
        assert_eq!(T.grade(30.0), AccuracyStatus::Warn);
        assert_eq!(T.grade(30.0001), AccuracyStatus::Fail);
    }

    #[test]
    fn mape_is_mean_of_relative_errors() {
        // |2-2.5|/2.5=0.2, |3-2.5|/2.5=0.2, |2.5-2.5|=0 → mean 0.1333… → 13.33 %
        let a = compare_kpi(
            Kpi::EdgeBps,
            Some(2.5),
            vec![Some(2.0), Some(3.0), Some(2.5)],
            &T,
        );
        assert!((a.mape_pct.unwrap() - 40.0 / 3.0).abs() < 1e-12);
        assert_eq!(a.median_actual, Some(2.5));
        assert_eq!(a.status, AccuracyStatus::Pass);
        assert!(a.note.is_empty());
    }

    #[test]
    fn exact_boundary_mapes_grade_as_warn() {
        // 100 → 115 is exactly 15 %; 100 → 130 exactly 30 %.
        let a = compare_kpi(Kpi::P95LatencyMs, Some(100.0), vec![Some(115.0)], &T);
        assert_eq!(a.mape_pct, Some(15.0));
        assert_eq!(a.status, AccuracyStatus::Warn);
        let b = compare_kpi(Kpi::P95LatencyMs, Some(100.0), vec![Some(130.0)], &T);
        assert_eq!(b.mape_pct, Some(30.0));
        assert_eq!(b.status, AccuracyStatus::Warn);
    }

    #[test]
    fn zero_prediction_uses_the_floor_not_a_division_by_zero() {
        // risk floor 0.1: actual 0.05 against 0 → 0.05/0.1 = 50 % → FAIL
        let a = compare_kpi(Kpi::RiskRatio, Some(0.0), vec![Some(0.05)], &T);
        assert_eq!(a.mape_pct, Some(50.0));
        assert_eq!(a.status, AccuracyStatus::Fail);
        assert!(a.note.contains("relative to 0.1"), "{}", a.note);
        // and an exact zero actual passes with 0 %
        let b = compare_kpi(Kpi::RiskRatio, Some(0.0), vec![Some(0.0)], &T);
        assert_eq!(b.mape_pct, Some(0.0));
        assert_eq!(b.status, AccuracyStatus::Pass);
    }

    #[test]
    fn missing_prediction_and_missing_data_block() {
        let a = compare_kpi(Kpi::EdgeBps, None, vec![Some(1.0)], &T);
        assert_eq!(a.status, AccuracyStatus::NoPrediction);
        assert_eq!(a.mape_pct, None);
        assert_eq!(a.median_actual, Some(1.0));
        let b = compare_kpi(Kpi::MakerTakerRatio, Some(0.9), vec![None, None], &T);
        assert_eq!(b.status, AccuracyStatus::NoData);
        assert!(b.status.blocks() && a.status.blocks());
        assert!(!AccuracyStatus::Warn.blocks());
    }

    #[test]
    fn unmeasured_iterations_are_left_out_of_mape_and_median() {
        let a = compare_kpi(
            Kpi::MakerTakerRatio,
            Some(0.8),
            vec![Some(0.8), None, Some(0.6), Some(1.0)],
            &T,
        );
        // errors 0, 0.25, 0.25 → 16.67 %
        assert!((a.mape_pct.unwrap() - 50.0 / 3.0).abs() < 1e-12);
        assert_eq!(a.median_actual, Some(0.8));
        assert_eq!(a.status, AccuracyStatus::Warn);
        assert!(a.note.contains("1 iteration(s) without a value"));
    }

    #[test]
    fn overall_is_the_worst_status() {
        use AccuracyStatus::*;
        assert_eq!(worst([Pass, Warn, Pass]), Warn);
        assert_eq!(worst([Pass, NoData]), NoData);
        assert_eq!(worst([NoPrediction, Fail, Warn]), Fail);
        assert_eq!(worst([]), Pass);
    }

    #[test]
    fn symbol_comparison_covers_every_kpi() {
        let pred = KpiSet {
            edge_bps: Some(3.0),
            maker_taker_ratio: Some(0.9),
            p95_latency_ms: Some(200.0),
            risk_ratio: Some(0.2),
            ..KpiSet::default()
        };
        let actual = KpiSet {
            edge_bps: Some(30.0),
            maker_taker_ratio: Some(0.9),
            p95_latency_ms: Some(210.0),
            risk_ratio: Some(0.2),
            ..KpiSet::default()
        };
        let r = compare_symbol(Some(&pred), &[actual], &T);
        let by: Vec<_> = r.iter().map(|k| (k.kpi, k.status)).collect();
        assert_eq!(
            by,
            vec![
                (Kpi::EdgeBps, AccuracyStatus::Fail),
                (Kpi::MakerTakerRatio, AccuracyStatus::Pass),
                (Kpi::P95LatencyMs, AccuracyStatus::Pass),
                (Kpi::RiskRatio, AccuracyStatus::Pass),
            ]
        );
        assert_eq!(r[0].mape_pct, Some(900.0));
    }

    #[test]
    fn thresholds_are_validated_with_the_field_named() {
        let bad = AccuracyThresholds {
            pass_below_pct: 20.0,
            fail_above_pct: 10.0,
        };
        assert!(bad.validate().unwrap_err().contains("fail_above_pct"));
        assert!(T.validate().is_ok());
    }

    #[test]
    fn bands_show_the_grade_an_actual_on_either_side_of_each_edge_gets() {
        // (kpi, prediction, expected scale): relative above the floor, the
        // floor below it (risk floor 0.1, edge floor 1 bp).
        for (kpi, p, scale) in [
            (Kpi::P95LatencyMs, 200.0, 200.0),
            (Kpi::EdgeBps, -4.0, 4.0),
            (Kpi::RiskRatio, 0.02, 0.1),
            (Kpi::EdgeBps, 0.0, 1.0),
        ] {
            let b = AccuracyBands::new(kpi, p, &T).unwrap();
            assert_eq!(b.scale, scale);
            assert_eq!(b.floored, p.abs() < relative_floor(kpi));
            assert!((b.pass_half_width - 0.15 * scale).abs() < 1e-12);
            assert!((b.fail_half_width - 0.30 * scale).abs() < 1e-12);
            let eps = scale * 1e-6;
            let grade = |a: f64| compare_kpi(kpi, Some(p), vec![Some(a)], &T).status;
            let (pl, ph) = b.pass();
            let (fl, fh) = b.fail();
            assert_eq!(grade(p), AccuracyStatus::Pass);
            assert_eq!(grade(ph - eps), AccuracyStatus::Pass, "{kpi} {p}");
            assert_eq!(grade(ph + eps), AccuracyStatus::Warn, "{kpi} {p}");
            assert_eq!(grade(pl + eps), AccuracyStatus::Pass, "{kpi} {p}");
            assert_eq!(grade(pl - eps), AccuracyStatus::Warn, "{kpi} {p}");
            assert_eq!(grade(fh - eps), AccuracyStatus::Warn, "{kpi} {p}");
            assert_eq!(grade(fh + eps), AccuracyStatus::Fail, "{kpi} {p}");
            assert_eq!(grade(fl + eps), AccuracyStatus::Warn, "{kpi} {p}");
            assert_eq!(grade(fl - eps), AccuracyStatus::Fail, "{kpi} {p}");
        }
        // The numbers a reader sees: 200 ms → PASS 170..230, WARN to 140..260.
        let b = AccuracyBands::new(Kpi::P95LatencyMs, 200.0, &T).unwrap();
        assert_eq!(b.pass(), (170.0, 230.0));
        assert_eq!(b.fail(), (140.0, 260.0));
        // risk 0.02 is below the 0.1 floor: ±0.015 and ±0.03 around it.
        let r = AccuracyBands::new(Kpi::RiskRatio, 0.02, &T).unwrap();
        assert!((r.pass().1 - 0.035).abs() < 1e-12 && (r.fail().0 + 0.01).abs() < 1e-12);
        assert_eq!(AccuracyBands::new(Kpi::EdgeBps, f64::NAN, &T), None);
    }
}
