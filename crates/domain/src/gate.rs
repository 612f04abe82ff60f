//! The Go/No-Go gate.
//!
//! A symbol's windows are aggregated with the median ([`aggregate`]) and
//! compared with [`GateThresholds`]. Every failing check becomes one
//! human-readable reason, so an operator sees all that is wrong at once:
//!
//! ```text
//! windows 12 < 48
//! maker_taker_ratio 0.71 < 0.83
//! edge_bps missing (no fills)
//! ```
//!
//! A symbol is `GO` when it has no reason; a soak is `GO` when it has at least
//! one symbol and every symbol is `GO`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregation, aggregate};
use crate::kpi::{Kpi, KpiSet};

/// Thresholds of the gate; the defaults are the contract's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GateThresholds {
    /// Lowest acceptable maker/taker ratio.
    pub min_maker_taker_ratio: f64,
    /// Lowest acceptable net edge, bps.
    pub min_edge_bps: f64,
    /// Highest acceptable winsorised p95 order age, ms.
    pub max_p95_latency_ms: f64,
    /// Highest acceptable risk ratio.
    pub max_risk_ratio: f64,
    /// Fewest windows a symbol needs.
    pub min_windows: u32,
}

impl Default for GateThresholds {
    fn default() -> Self {
        Self {
            min_maker_taker_ratio: 0.83,
            min_edge_bps: 2.5,
            max_p95_latency_ms: 350.0,
            max_risk_ratio: 0.40,
            min_windows: 48,
        }
    }
}

/// Outcome of the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Every threshold met.
    Go,
    /// At least one threshold missed.
    Hold,
}

impl Verdict {
    /// `GO` or `HOLD`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Go => "GO",
            Verdict::Hold => "HOLD",
        }
    }

    /// True for [`Verdict::Go`].
    pub fn is_go(self) -> bool {
        self == Verdict::Go
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The gate's decision for one symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolVerdict {
    /// Normalised symbol.
    pub symbol: String,
    /// GO or HOLD.
    pub verdict: Verdict,
    /// Every missed threshold; empty on GO.
    pub reasons: Vec<String>,
    /// The median KPIs over the windows.
    pub aggregate: KpiSet,
    /// Windows evaluated.
    pub windows: u32,
}

/// The gate's decision over a soak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoakVerdict {
    /// GO when every symbol is GO (and there is at least one).
    pub verdict: Verdict,
    /// Per-symbol decisions, ordered by symbol.
    pub symbols: Vec<SymbolVerdict>,
}

impl SoakVerdict {
    /// The decision of one symbol.
    pub fn symbol(&self, symbol: &str) -> Option<&SymbolVerdict> {
        self.symbols.iter().find(|s| s.symbol == symbol)
    }
}

impl GateThresholds {
    /// Gates one symbol from its window KPI sets (oldest first).
    pub fn evaluate_symbol(&self, symbol: &str, windows: &[KpiSet]) -> SymbolVerdict {
        let agg = aggregate(windows, Aggregation::Median);
        let n = u32::try_from(windows.len()).unwrap_or(u32::MAX);
        let mut reasons = Vec::new();
        if n < self.min_windows {
            reasons.push(format!("windows {n} < {}", self.min_windows));
        }
        let checks = [
            (Kpi::MakerTakerRatio, self.min_maker_taker_ratio, true),
            (Kpi::EdgeBps, self.min_edge_bps, true),
            (Kpi::P95LatencyMs, self.max_p95_latency_ms, false),
            (Kpi::RiskRatio, self.max_risk_ratio, false),
        ];
        for (kpi, limit, at_least) in checks {
            match agg.get(kpi) {
                None => {
                    let why = if kpi == Kpi::RiskRatio {
                        "no data"
                    } else {
                        "no fills"
                    };
                    reasons.push(format!("{kpi} missing ({why})"));
                }
                Some(v) if at_least && v < limit => {
                    let (v, l) = fmt_pair(v, limit);
                    reasons.push(format!("{kpi} {v} < {l}"));
                }
                Some(v) if !at_least && v > limit => {
                    let (v, l) = fmt_pair(v, limit);
                    reasons.push(format!("{kpi} {v} > {l}"));
                }
                Some(_) => {}
            }
        }
        SymbolVerdict {
            symbol: symbol.to_string(),
            verdict: if reasons.is_empty() {
                Verdict::Go
            } else {
                Verdict::Hold
            },
            reasons,
            aggregate: agg,
            windows: n,
        }
    }

    /// Gates every symbol; the soak is GO only if every symbol is.
    pub fn evaluate(&self, per_symbol: &BTreeMap<String, Vec<KpiSet>>) -> SoakVerdict {
        let symbols: Vec<SymbolVerdict> = per_symbol
            .iter()
            .map(|(s, w)| self.evaluate_symbol(s, w))
            .collect();
        let all_go = !symbols.is_empty() && symbols.iter().all(|s| s.verdict.is_go());
        SoakVerdict {
            verdict: if all_go { Verdict::Go } else { Verdict::Hold },
            symbols,
        }
    }
}

/// Formats a value and its threshold for a reason: up to four decimals with
/// trailing zeros trimmed (`0.71`, `350`), falling back to the shortest
/// round-trip form when rounding would make a failing value look equal to the
/// threshold (`0.82999`, not `0.83 < 0.83`).
fn fmt_pair(value: f64, limit: f64) -> (String, String) {
    let (v, l) = (fmt_short(value), fmt_short(limit));
    if v == l {
        (format!("{value}"), format!("{limit}"))
    } else {
        (v, l)
    }
}

fn fmt_short(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(edge: f64, ratio: f64, p95: f64, risk: f64) -> KpiSet {
        KpiSet {
            edge_bps: Some(edge),
            maker_taker_ratio: Some(ratio),
            p95_latency_ms: Some(p95),
            risk_ratio: Some(risk),
            maker_count: 9,
            taker_count: 1,
            total_fills: 10,
            clock_drift_ms: None,
        }
    }

    #[test]
    fn every_failing_reason_is_listed() {
        let g = GateThresholds::default();
        let w: Vec<KpiSet> = (0..12).map(|_| window(1.2, 0.71, 420.0, 0.55)).collect();
        let v = g.evaluate_symbol("BTCUSDT", &w);
        assert_eq!(v.verdict, Verdict::Hold);
        assert_eq!(
            v.reasons,
            vec![
                "windows 12 < 48",
                "maker_taker_ratio 0.71 < 0.83",
                "edge_bps 1.2 < 2.5",
                "p95_latency_ms 420 > 350",
                "risk_ratio 0.55 > 0.4",
            ]
        );
        assert_eq!(v.windows, 12);
        assert_eq!(v.aggregate.total_fills, 120);
    }

    #[test]
    fn missing_kpis_are_reasons_not_zeros() {
        let g = GateThresholds::default();
        let empty = KpiSet {
            risk_ratio: Some(0.0),
            ..KpiSet::default()
        };
        let v = g.evaluate_symbol("ETHUSDT", &vec![empty; 48]);
        assert_eq!(
            v.reasons,
            vec![
                "maker_taker_ratio missing (no fills)",
                "edge_bps missing (no fills)",
                "p95_latency_ms missing (no fills)",
            ]
        );
        let none = g.evaluate_symbol("ETHUSDT", &[]);
        assert_eq!(none.reasons[0], "windows 0 < 48");
        assert_eq!(none.reasons[4], "risk_ratio missing (no data)");
    }

    #[test]
    fn go_needs_every_symbol_and_uses_the_median() {
        let g = GateThresholds::default();
        let mut good: Vec<KpiSet> = (0..48).map(|_| window(3.0, 0.95, 250.0, 0.2)).collect();
        // a few bad windows do not move the median
        good[0] = window(-10.0, 0.1, 5000.0, 0.9);
        good[1] = window(-10.0, 0.1, 5000.0, 0.9);
        let mut per = BTreeMap::new();
        per.insert("BTCUSDT".to_string(), good.clone());
        let v = g.evaluate(&per);
        assert_eq!(v.verdict, Verdict::Go);
        assert!(v.symbols[0].reasons.is_empty());
        per.insert("ETHUSDT".to_string(), good[..10].to_vec());
        let v = g.evaluate(&per);
        assert_eq!(v.verdict, Verdict::Hold);
        assert_eq!(v.symbol("BTCUSDT").map(|s| s.verdict), Some(Verdict::Go));
        assert_eq!(
            v.symbol("ETHUSDT").map(|s| s.reasons.clone()),
            Some(vec!["windows 10 < 48".to_string()])
        );
        assert_eq!(g.evaluate(&BTreeMap::new()).verdict, Verdict::Hold);
    }

    #[test]
    fn near_threshold_values_are_not_rounded_into_the_threshold() {
        let g = GateThresholds {
            min_windows: 1,
            ..GateThresholds::default()
        };
        let v = g.evaluate_symbol("X", &[window(3.0, 0.82999, 100.0, 0.1)]);
        assert_eq!(v.reasons, vec!["maker_taker_ratio 0.82999 < 0.83"]);
    }

    #[test]
    fn thresholds_reject_unknown_fields_and_default_missing_ones() {
        let t: GateThresholds = serde_json::from_str(r#"{"min_edge_bps": 1.0}"#).unwrap();
        assert_eq!(t.min_edge_bps, 1.0);
        assert_eq!(t.min_windows, 48);
        let err = serde_json::from_str::<GateThresholds>(r#"{"min_edge": 1.0}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `min_edge`"),
            "{err}"
        );
        assert_eq!(serde_json::to_string(&Verdict::Go).unwrap(), "\"GO\"");
    }
}
