//! Per-symbol window series: what one export knows about each symbol.
//!
//! [`collect_symbols`] regroups window summaries (one per window, every symbol)
//! into one series per symbol (every window of that symbol), aggregates the
//! KPIs and gathers the provenance written to the meta hash. Provenance comes
//! only from the data — run id, windows, params, source, profile — never from
//! the clock, so exporting the same summaries twice writes the same values.

use std::borrow::Cow;
use std::sync::Arc;

use crate::aggregate::{Aggregation, aggregate};
use crate::kpi::KpiSet;
use crate::params::StrategyParams;
use crate::summary::{IterSummary, ModelSetInfo, StrategyInfo, Window};
use crate::symbol::{is_normalized, normalize_symbol};

/// One window of one symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolWindow {
    /// The soak the window belongs to (shared by every symbol of the window).
    pub run_id: Arc<str>,
    /// 1-based window index within the soak (0 when unknown).
    pub iteration: u32,
    /// Event-time interval.
    pub window: Window,
    /// The KPIs of the symbol in this window.
    pub kpis: KpiSet,
}

impl AsRef<KpiSet> for SymbolWindow {
    fn as_ref(&self) -> &KpiSet {
        &self.kpis
    }
}

/// Where an export's numbers come from: written to `…:shadow:meta:{SYMBOL}`.
///
/// The text fields are shared (`Arc<str>`) between the symbols of a summary:
/// an export of 10,000 symbols does not copy its run id 10,000 times.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// Distinct run ids, in window order.
    pub run_ids: Vec<Arc<str>>,
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
    pub source: Arc<str>,
    /// Profile of the last window.
    pub profile: Arc<str>,
    /// ITER_SUMMARY schema version of the last window.
    pub schema_version: Arc<str>,
    /// Execution model set of the last window, when its summary says.
    pub model: Option<Arc<ModelSetInfo>>,
    /// Strategy of the last window, when its summary says (absent: the
    /// built-in market maker).
    pub strategy: Option<Arc<StrategyInfo>>,
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

/// The text of one summary, shared by all its symbols.
struct Shared {
    run_id: Arc<str>,
    source: Arc<str>,
    profile: Arc<str>,
    schema_version: Arc<str>,
    model: Option<Arc<ModelSetInfo>>,
    strategy: Option<Arc<StrategyInfo>>,
}

/// One symbol of one summary.
struct Entry<'a> {
    symbol: Cow<'a, str>,
    /// Index of the summary (in `summaries` and the shared texts).
    summary: usize,
    run_id: &'a str,
    iteration: u32,
    window: Window,
    kpis: &'a KpiSet,
    params: Option<&'a StrategyParams>,
}

impl Entry<'_> {
    /// Event-time order of a symbol's windows; equal keys are the same window.
    fn key(&self) -> (i64, i64, u32, &str) {
        (
            self.window.start_ms,
            self.window.end_ms,
            self.iteration,
            self.run_id,
        )
    }
}

/// Groups the summaries by symbol (normalised; empty symbols are skipped),
/// orders each symbol's windows by event time, drops repeated windows (same run,
/// iteration and window: the later summary wins) and aggregates the KPIs with
/// `how`. Returns one [`SymbolExport`] per symbol, ordered by symbol.
pub fn collect_symbols(summaries: &[IterSummary], how: Aggregation) -> Vec<SymbolExport> {
    let shared: Vec<Shared> = summaries
        .iter()
        .map(|s| Shared {
            run_id: s.run_id.as_str().into(),
            source: s.source.as_str().into(),
            profile: s.profile.as_str().into(),
            schema_version: s.schema_version.as_str().into(),
            model: s.model.clone().map(Arc::new),
            strategy: s.strategy.clone().map(Arc::new),
        })
        .collect();
    // One flat list sorted by symbol, then event time, rather than a map of
    // lists: this runs for every symbol of every window of an export.
    let mut entries: Vec<Entry<'_>> =
        Vec::with_capacity(summaries.iter().map(|s| s.symbols.len()).sum());
    for (index, summary) in summaries.iter().enumerate() {
        for (raw, s) in &summary.symbols {
            let symbol = if is_normalized(raw) {
                Cow::Borrowed(raw.as_str())
            } else {
                match normalize_symbol(raw) {
                    Some(n) => Cow::Owned(n),
                    None => continue,
                }
            };
            entries.push(Entry {
                symbol,
                summary: index,
                run_id: &summary.run_id,
                iteration: summary.iteration,
                window: summary.window,
                kpis: &s.summary,
                params: s.params.as_ref().or(summary.params.as_ref()),
            });
        }
    }
    // Stable: copies of one window stay in input order, so the later is last.
    entries.sort_by(|a, b| a.symbol.cmp(&b.symbol).then_with(|| a.key().cmp(&b.key())));
    entries
        .chunk_by(|a, b| a.symbol == b.symbol)
        .map(|group| build(group, &shared, how))
        .collect()
}

/// The export of one symbol from its entries (non-empty, in window order).
fn build(group: &[Entry<'_>], shared: &[Shared], how: Aggregation) -> SymbolExport {
    // Of the copies of a window, keep the last (the later summary).
    let kept = || {
        group
            .iter()
            .enumerate()
            .filter(|(i, e)| group.get(i + 1).is_none_or(|next| next.key() != e.key()))
            .map(|(_, e)| e)
    };
    let mut windows = Vec::with_capacity(group.len());
    let mut run_ids: Vec<Arc<str>> = Vec::with_capacity(1);
    for e in kept() {
        let run_id = &shared[e.summary].run_id;
        if !run_ids.iter().any(|r| r == run_id) {
            run_ids.push(run_id.clone());
        }
        windows.push(SymbolWindow {
            run_id: run_id.clone(),
            iteration: e.iteration,
            window: e.window,
            kpis: e.kpis.clone(),
        });
    }
    let first = kept().next().unwrap_or(&group[0]);
    let last = &group[group.len() - 1];
    let texts = &shared[last.summary];
    let provenance = Provenance {
        run_ids,
        windows: windows.len(),
        first_iteration: first.iteration,
        first_window: first.window,
        last_iteration: last.iteration,
        last_window: last.window,
        params: last.params.cloned(),
        source: texts.source.clone(),
        profile: texts.profile.clone(),
        schema_version: texts.schema_version.clone(),
        model: texts.model.clone(),
        strategy: texts.strategy.clone(),
        aggregation: how,
    };
    SymbolExport {
        symbol: group[0].symbol.clone().into_owned(),
        kpis: aggregate(&windows, how),
        windows,
        provenance,
    }
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
        assert_eq!(btc.provenance.run_ids, [Arc::from("r1")]);
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
