//! KPI sets and the KPI names of the contract.

use serde::{Deserialize, Serialize};

/// The four exported KPIs, in contract order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kpi {
    /// Net edge per fill in basis points.
    EdgeBps,
    /// Maker fills / all fills.
    MakerTakerRatio,
    /// Winsorised p95 order age at fill.
    P95LatencyMs,
    /// Time-weighted mean |inventory| / limit.
    RiskRatio,
}

impl Kpi {
    /// Every exported KPI, in contract order.
    pub const ALL: [Kpi; 4] = [
        Kpi::EdgeBps,
        Kpi::MakerTakerRatio,
        Kpi::P95LatencyMs,
        Kpi::RiskRatio,
    ];

    /// The field name used in Redis and in ITER_SUMMARY files.
    pub fn name(self) -> &'static str {
        match self {
            Kpi::EdgeBps => "edge_bps",
            Kpi::MakerTakerRatio => "maker_taker_ratio",
            Kpi::P95LatencyMs => "p95_latency_ms",
            Kpi::RiskRatio => "risk_ratio",
        }
    }

    /// Parses a KPI name, accepting the `net_bps` alias of `edge_bps`.
    pub fn parse(name: &str) -> Option<Kpi> {
        match name {
            "edge_bps" | "net_bps" => Some(Kpi::EdgeBps),
            "maker_taker_ratio" => Some(Kpi::MakerTakerRatio),
            "p95_latency_ms" => Some(Kpi::P95LatencyMs),
            "risk_ratio" => Some(Kpi::RiskRatio),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The KPIs of one symbol over one window. A KPI that could not be measured is
/// `None`, never zero.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct KpiSet {
    /// Net edge per fill in basis points (input alias `net_bps`).
    #[serde(default, alias = "net_bps", skip_serializing_if = "Option::is_none")]
    pub edge_bps: Option<f64>,
    /// Maker fills / all fills; `None` without fills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maker_taker_ratio: Option<f64>,
    /// Winsorised p95 of order age at fill, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_latency_ms: Option<f64>,
    /// Time-weighted mean of |inventory| / inventory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_ratio: Option<f64>,
    /// Maker fills.
    #[serde(default)]
    pub maker_count: u64,
    /// Taker fills.
    #[serde(default)]
    pub taker_count: u64,
    /// All fills.
    #[serde(default)]
    pub total_fills: u64,
    /// EWMA of receive time − exchange time (wall-clock observation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_drift_ms: Option<f64>,
}

impl AsRef<KpiSet> for KpiSet {
    fn as_ref(&self) -> &KpiSet {
        self
    }
}

impl KpiSet {
    /// The value of one exported KPI.
    pub fn get(&self, kpi: Kpi) -> Option<f64> {
        match kpi {
            Kpi::EdgeBps => self.edge_bps,
            Kpi::MakerTakerRatio => self.maker_taker_ratio,
            Kpi::P95LatencyMs => self.p95_latency_ms,
            Kpi::RiskRatio => self.risk_ratio,
        }
    }

    /// Sets one exported KPI.
    pub fn set(&mut self, kpi: Kpi, value: Option<f64>) {
        match kpi {
            Kpi::EdgeBps => self.edge_bps = value,
            Kpi::MakerTakerRatio => self.maker_taker_ratio = value,
            Kpi::P95LatencyMs => self.p95_latency_ms = value,
            Kpi::RiskRatio => self.risk_ratio = value,
        }
    }
}
