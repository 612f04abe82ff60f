//! The ITER_SUMMARY document: the result of one shadow window.
//!
//! This is the on-disk format of `artifacts/soak/<run_id>/ITER_SUMMARY_NNN.json`
//! (JSON Schema in `schemas/iter_summary.schema.json`). Maps are ordered so the
//! same run serialises byte-identically.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::kpi::KpiSet;
use crate::params::StrategyParams;

/// Version written into every ITER_SUMMARY.
pub const SCHEMA_VERSION: &str = "1.0";

/// Event-time interval `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Window {
    /// First millisecond (inclusive).
    pub start_ms: i64,
    /// End (exclusive).
    pub end_ms: i64,
}

/// Feed-quality counters from ingestd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IngestCounters {
    /// Skipped sequence numbers.
    #[serde(default)]
    pub seq_gaps: u64,
    /// Ticks moved back into place by the reorder buffer.
    #[serde(default)]
    pub reordered: u64,
    /// Ticks dropped for a slow subscriber.
    #[serde(default)]
    pub bp_drops: u64,
    /// Repeated or older sequence numbers dropped.
    #[serde(default)]
    pub duplicates: u64,
    /// Entries sent to the dead-letter stream.
    #[serde(default)]
    pub rejected: u64,
}

impl IngestCounters {
    /// Adds another set of counters to this one.
    pub fn add(&mut self, other: &IngestCounters) {
        self.seq_gaps += other.seq_gaps;
        self.reordered += other.reordered;
        self.bp_drops += other.bp_drops;
        self.duplicates += other.duplicates;
        self.rejected += other.rejected;
    }
}

/// The execution model set a window was simulated with: its name and its
/// one-line description (`ModelSetSpec::describe`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSetInfo {
    /// The set's name (`shadow`, `dryrun`, or a profile's own set).
    pub name: String,
    /// Every parameter of the set, on one line.
    pub description: String,
}

/// One sample of a symbol's equity path: the strategy's mark-to-market PnL
/// and inventory at an event time. The engine takes one at the first event at
/// or after each step of event time ([`crate::engine::path_step_ms`]) and one
/// at the window's end.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathPoint {
    /// Event time of the sample, ms.
    pub t_ms: i64,
    /// Cash from every fill since the run started (fees and rebates included)
    /// plus the inventory marked at the mid, in quote units.
    pub equity: f64,
    /// Signed position at the exchange, base units.
    pub inventory: f64,
}

/// The largest fall of `equity` from an earlier peak along a path (0 for an
/// empty or never-falling path).
pub fn max_drawdown(path: &[PathPoint]) -> f64 {
    let mut peak = f64::NEG_INFINITY;
    let mut worst: f64 = 0.0;
    for p in path {
        peak = peak.max(p.equity);
        worst = worst.max(peak - p.equity);
    }
    worst
}

/// One symbol's result in one window.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SymbolSummary {
    /// The KPIs of the window.
    pub summary: KpiSet,
    /// Effective parameters for this symbol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<StrategyParams>,
    /// Ingest counters of this symbol in the window.
    #[serde(default)]
    pub counters: IngestCounters,
    /// Ticks processed for this symbol in the window.
    #[serde(default)]
    pub ticks: u64,
    /// Equity and inventory through the window, oldest first (absent in
    /// files written before the engine recorded it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<PathPoint>,
    /// Orders and cancels the exchange refused in the window, by reason
    /// (`RejectReason::as_str`); absent reasons are zero, and a window
    /// without refusals has no `rejects`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rejects: BTreeMap<String, u64>,
}

/// The strategy a run used, as its provenance records it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyInfo {
    /// [`BUILTIN_STRATEGY`] for the built-in market maker, otherwise the
    /// name the external strategy gave.
    pub name: String,
    /// The version the external strategy gave (empty for the built-in one).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Where the external strategy was dialled (empty for the built-in one).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
}

/// [`StrategyInfo::name`] of the built-in market maker.
pub const BUILTIN_STRATEGY: &str = "builtin";

impl StrategyInfo {
    /// The built-in market maker.
    pub fn builtin() -> Self {
        Self {
            name: BUILTIN_STRATEGY.into(),
            ..Self::default()
        }
    }

    /// True for the built-in market maker.
    pub fn is_builtin(&self) -> bool {
        self.name == BUILTIN_STRATEGY
    }
}

/// One shadow window over every symbol of a soak.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IterSummary {
    /// [`SCHEMA_VERSION`].
    pub schema_version: String,
    /// The soak that produced it.
    pub run_id: String,
    /// 1-based window index.
    pub iteration: u32,
    /// Event-time interval.
    pub window: Window,
    /// Feed description (`redis:lob:ticks`, `synthetic`, …).
    pub source: String,
    /// Profile or preset name.
    #[serde(default)]
    pub profile: String,
    /// Per-symbol results, ordered by symbol.
    pub symbols: BTreeMap<String, SymbolSummary>,
    /// Default parameters of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<StrategyParams>,
    /// Skipped sequence numbers over all symbols.
    #[serde(default)]
    pub seq_gaps: u64,
    /// Reordered ticks over all symbols.
    #[serde(default)]
    pub reordered: u64,
    /// Backpressure drops over all symbols.
    #[serde(default)]
    pub bp_drops: u64,
    /// The execution model set of the soak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSetInfo>,
    /// The strategy of the soak (absent: the built-in market maker, as in
    /// files written before strategies could be external).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<StrategyInfo>,
    /// `commit=… source=… profile=… model=… strategy=… seq_gaps=N reordered=N
    /// bp_drops=N` (`model=` only when the model set is known, `strategy=`
    /// only for an external strategy).
    #[serde(default)]
    pub notes: String,
}

impl IterSummary {
    /// Builds the `notes` line from the other fields.
    pub fn make_notes(&self, commit: &str) -> String {
        format!(
            "commit={commit} source={} profile={}{}{} seq_gaps={} reordered={} bp_drops={}",
            self.source,
            if self.profile.is_empty() {
                "default"
            } else {
                &self.profile
            },
            self.model
                .as_ref()
                .map(|m| format!(" model={}", m.name))
                .unwrap_or_default(),
            self.strategy
                .as_ref()
                .filter(|s| !s.is_builtin())
                .map(|s| format!(" strategy={}", s.name))
                .unwrap_or_default(),
            self.seq_gaps,
            self.reordered,
            self.bp_drops
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawdown_is_the_largest_fall_from_a_running_peak() {
        let p = |e: f64| PathPoint {
            t_ms: 0,
            equity: e,
            inventory: 0.0,
        };
        // peak 5, trough 1 (fall 4); later peak 6, trough 3 (fall 3)
        let path: Vec<_> = [0.0, 5.0, 2.0, 1.0, 6.0, 3.0].map(p).to_vec();
        assert_eq!(max_drawdown(&path), 4.0);
        assert_eq!(max_drawdown(&[p(1.0), p(2.0)]), 0.0);
        assert_eq!(max_drawdown(&[]), 0.0);
    }

    #[test]
    fn a_summary_without_a_path_still_reads_and_a_path_round_trips() {
        let old = r#"{"summary":{"edge_bps":1.0},"ticks":3}"#;
        let s: SymbolSummary = serde_json::from_str(old).unwrap();
        assert!(s.path.is_empty());
        assert!(!serde_json::to_string(&s).unwrap().contains("path"));
        let with = SymbolSummary {
            path: vec![PathPoint {
                t_ms: 1_000,
                equity: -0.25,
                inventory: 0.5,
            }],
            ..s
        };
        let json = serde_json::to_string(&with).unwrap();
        assert!(
            json.contains(r#""path":[{"t_ms":1000,"equity":-0.25,"inventory":0.5}]"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<SymbolSummary>(&json).unwrap(), with);
    }

    #[test]
    fn notes_name_the_model_set_when_known() {
        let mut s = IterSummary {
            schema_version: SCHEMA_VERSION.into(),
            run_id: "r".into(),
            iteration: 1,
            source: "synthetic".into(),
            seq_gaps: 2,
            ..IterSummary::default()
        };
        assert_eq!(
            s.make_notes("abc"),
            "commit=abc source=synthetic profile=default seq_gaps=2 reordered=0 bp_drops=0"
        );
        s.model = Some(ModelSetInfo {
            name: "dryrun".into(),
            description: "queue=front".into(),
        });
        assert_eq!(
            s.make_notes("abc"),
            "commit=abc source=synthetic profile=default model=dryrun seq_gaps=2 reordered=0 bp_drops=0"
        );
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.contains(r#""model":{"name":"dryrun","description":"queue=front"}"#),
            "{json}"
        );
        let back = crate::export::reader::parse_iter_summary(&json);
        assert_eq!(back.map(|b| b.model), Ok(s.model.clone()));
    }
}
