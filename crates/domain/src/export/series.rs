//! Per-symbol window series: what one export knows about each symbol.
//!
//! [`collect_symbols`] regroups window summaries (one per window, every symbol)
//! into one series per symbol (every window of that symbol), aggregates the
//! KPIs and gathers the provenance written to the meta hash. Provenance comes
//! only from the data — run id, windows, params, source, profile — never from
//! the clock, so exporting the same summaries twice writes the same values.

use std::collections::BTreeMap;

use crate::aggregate::{Aggregation, aggregate};
use crate::kpi::KpiSet;
use crate::params::StrategyParams;
use crate::summary::{IterSummary, Window};
use crate::symbol::normalize_symbol;

/// One window of one symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolWindow {
    /// The soak the window belongs to.
    pub run_id: String,
    /// 1-based window index within the soak (0 when unknown).
    pub iteration: u32,
    /// Event-time interval.
    pub window: Window,
    /// The KPIs of the symbol in this window.
    pub kpis: KpiSet,
}

/// Where an export's numbers come from: written to `…:shadow:meta:{SYMBOL}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// Distinct run ids, in window order.
    pub run_ids: Vec<String>,
    /// Number of windows with data for the symbol.
    pub windows: usize,
    /// Iteration of the first window.
    pub first_iteration: u32,
    /// The first window.
    pub first_window: Window,
    /// Iteration of the last window.
    pub last_iteration: u32,
    /// The last window.
    pub last_window: Window,
    /// Parameters of the last window (the symbol's own, else the run's).
    pub params: Option<StrategyParams>,
    /// Feed of the last window.
    pub source: String,
    /// Profile of the last window.
    pub profile: String,
    /// ITER_SUMMARY schema version of the last window.
    pub schema_version: String,
    /// How the windows were combined.
    pub aggregation: Aggregation,
}

/// Everything an export writes for one symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolExport {
    /// Normalised symbol.
    pub symbol: String,
    /// The KPIs aggregated over [`SymbolExport::windows`].
    pub kpis: KpiSet,
    /// The windows, oldest first, without duplicates.
    pub windows: Vec<SymbolWindow>,
    /// Provenance for the meta hash.
    pub provenance: Provenance,
}

struct Entry<'a> {
    window: SymbolWindow,
    params: Option<&'a StrategyParams>,
    summary: &'a IterSummary,
}

/// Groups the summaries by symbol (normalised; empty symbols are skipped),
/// orders each symbol's windows by event time, drops repeated windows (same run,
/// iteration and window: the later summary wins) and aggregates the KPIs with
/// `how`. Returns one [`SymbolExport`] per symbol, ordered by symbol.
pub fn collect_symbols(summaries: &[IterSummary], how: Aggregation) -> Vec<SymbolExport> {
    let mut by_symbol: BTreeMap<String, Vec<Entry<'_>>> = BTreeMap::new();
    for summary in summaries {
        for (raw, s) in &summary.symbols {
            let Some(symbol) = normalize_symbol(raw) else {
                continue;
            };
            by_symbol.entry(symbol).or_default().push(Entry {
                window: SymbolWindow {
                    run_id: summary.run_id.clone(),
                    iteration: summary.iteration,
                    window: summary.window,
                    kpis: s.summary.clone(),
                },
                params: s.params.as_ref().or(summary.params.as_ref()),
                summary,
            });
        }
    }
    by_symbol
        .into_iter()
        .filter_map(|(symbol, entries)| build(symbol, entries, how))
        .collect()
}

fn build(symbol: String, entries: Vec<Entry<'_>>, how: Aggregation) -> Option<SymbolExport> {
    // Later summaries replace earlier ones with the same identity.
    let mut unique: BTreeMap<(i64, i64, u32, String), Entry<'_>> = BTreeMap::new();
    for e in entries {
        let w = &e.window;
        unique.insert(
            (
                w.window.start_ms,
                w.window.end_ms,
                w.iteration,
                w.run_id.clone(),
            ),
            e,
        );
    }
    let entries: Vec<Entry<'_>> = unique.into_values().collect();
    let first = entries.first()?;
    let last = entries.last()?;
    let mut run_ids: Vec<String> = Vec::new();
    for e in &entries {
        if !run_ids.contains(&e.window.run_id) {
            run_ids.push(e.window.run_id.clone());
        }
    }
    let provenance = Provenance {
        run_ids,
        windows: entries.len(),
        first_iteration: first.window.iteration,
        first_window: first.window.window,
        last_iteration: last.window.iteration,
        last_window: last.window.window,
        params: last.params.cloned(),
        source: last.summary.source.clone(),
        profile: last.summary.profile.clone(),
        schema_version: last.summary.schema_version.clone(),
        aggregation: how,
    };
    let windows: Vec<SymbolWindow> = entries.into_iter().map(|e| e.window).collect();
    let kpi_sets: Vec<KpiSet> = windows.iter().map(|w| w.kpis.clone()).collect();
    Some(SymbolExport {
        symbol,
        kpis: aggregate(&kpi_sets, how),
        windows,
        provenance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::SymbolSummary;

    fn summary(run: &str, iteration: u32, start: i64, kpis: &[(&str, f64)]) -> IterSummary {
        IterSummary {
            schema_version: "1.0".into(),
            run_id: run.into(),
            iteration,
            window: Window {
                start_ms: start,
                end_ms: start + 60_000,
            },
            source: "synthetic".into(),
            profile: "default".into(),
            symbols: kpis
                .iter()
                .map(|(s, edge)| {
                    (
                        s.to_string(),
                        SymbolSummary {
                            summary: KpiSet {
                                edge_bps: Some(*edge),
                                ..KpiSet::default()
                            },
                            ..SymbolSummary::default()
                        },
                    )
                })
                .collect(),
            params: Some(StrategyParams::default()),
            ..IterSummary::default()
        }
    }

    #[test]
    fn windows_are_grouped_ordered_and_aggregated_per_symbol() {
        // Out of order on purpose; BTC-USDT and BTCUSDT are the same symbol.
        let input = [
            summary("r1", 3, 120_000, &[("BTCUSDT", 5.0)]),
            summary("r1", 1, 0, &[("BTC-USDT", 1.0), ("ETHUSDT", 7.0)]),
            summary("r1", 2, 60_000, &[("BTCUSDT", 2.0)]),
        ];
        let out = collect_symbols(&input, Aggregation::Median);
        assert_eq!(out.len(), 2);
        let btc = &out[0];
        assert_eq!(btc.symbol, "BTCUSDT");
        assert_eq!(
            btc.windows.iter().map(|w| w.iteration).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(btc.kpis.edge_bps, Some(2.0));
        assert_eq!(btc.provenance.windows, 3);
        assert_eq!(btc.provenance.first_window.start_ms, 0);
        assert_eq!(btc.provenance.last_window.end_ms, 180_000);
        assert_eq!(btc.provenance.run_ids, ["r1"]);
        assert_eq!(out[1].symbol, "ETHUSDT");
        assert_eq!(out[1].provenance.windows, 1);

        let last = collect_symbols(&input, Aggregation::Last);
        assert_eq!(last[0].kpis.edge_bps, Some(5.0), "last in event time");
        let mean = collect_symbols(&input, Aggregation::Mean);
        assert_eq!(mean[0].kpis.edge_bps, Some(8.0 / 3.0));
    }

    #[test]
    fn a_repeated_window_counts_once_and_the_later_copy_wins() {
        let input = [
            summary("r1", 1, 0, &[("BTCUSDT", 1.0)]),
            summary("r1", 1, 0, &[("BTCUSDT", 9.0)]),
        ];
        let out = collect_symbols(&input, Aggregation::Median);
        assert_eq!(out[0].provenance.windows, 1);
        assert_eq!(out[0].kpis.edge_bps, Some(9.0));
    }
}
