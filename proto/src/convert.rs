//! Conversions between `shadowkpi.v1` messages and the domain types.
//!
//! The wire uses optional fields where the domain uses `Option`, and enums as
//! `i32`; an unknown enum value maps to the documented default.

use std::collections::BTreeMap;

use shadowkpi_domain as d;

use crate::v1;

impl From<d::tick::Side> for v1::Side {
    fn from(side: d::tick::Side) -> Self {
        match side {
            d::tick::Side::Unspecified => v1::Side::Unspecified,
            d::tick::Side::Buy => v1::Side::Buy,
            d::tick::Side::Sell => v1::Side::Sell,
        }
    }
}

impl From<&d::tick::Tick> for v1::Tick {
    fn from(t: &d::tick::Tick) -> Self {
        v1::Tick {
            symbol: t.symbol.clone(),
            seq: t.seq,
            ts_server_ms: t.ts_server_ms,
            bid: t.bid,
            ask: t.ask,
            last_qty: t.last_qty,
            bid_qty: t.bid_qty,
            ask_qty: t.ask_qty,
            last_px: t.last_px,
            side: v1::Side::from(t.side) as i32,
            ts_ingest_ms: t.ts_ingest_ms,
            ts_recv_ms: t.ts_recv_ms,
        }
    }
}

impl From<&v1::Tick> for d::tick::Tick {
    fn from(t: &v1::Tick) -> Self {
        d::tick::Tick {
            symbol: t.symbol.clone(),
            seq: t.seq,
            ts_server_ms: t.ts_server_ms,
            bid: t.bid,
            ask: t.ask,
            last_qty: t.last_qty,
            bid_qty: t.bid_qty,
            ask_qty: t.ask_qty,
            last_px: t.last_px,
            side: match v1::Side::try_from(t.side) {
                Ok(v1::Side::Buy) => d::tick::Side::Buy,
                Ok(v1::Side::Sell) => d::tick::Side::Sell,
                _ => d::tick::Side::Unspecified,
            },
            ts_ingest_ms: t.ts_ingest_ms,
            ts_recv_ms: t.ts_recv_ms,
        }
    }
}

impl From<&d::kpi::KpiSet> for v1::KpiSet {
    fn from(k: &d::kpi::KpiSet) -> Self {
        v1::KpiSet {
            edge_bps: k.edge_bps,
            maker_taker_ratio: k.maker_taker_ratio,
            p95_latency_ms: k.p95_latency_ms,
            risk_ratio: k.risk_ratio,
            maker_count: k.maker_count,
            taker_count: k.taker_count,
            total_fills: k.total_fills,
            clock_drift_ms: k.clock_drift_ms,
        }
    }
}

impl From<&v1::KpiSet> for d::kpi::KpiSet {
    fn from(k: &v1::KpiSet) -> Self {
        d::kpi::KpiSet {
            edge_bps: k.edge_bps,
            maker_taker_ratio: k.maker_taker_ratio,
            p95_latency_ms: k.p95_latency_ms,
            risk_ratio: k.risk_ratio,
            maker_count: k.maker_count,
            taker_count: k.taker_count,
            total_fills: k.total_fills,
            clock_drift_ms: k.clock_drift_ms,
        }
    }
}

impl From<&d::params::StrategyParams> for v1::StrategyParams {
    fn from(p: &d::params::StrategyParams) -> Self {
        (&d::params::ParamOverrides::from(p)).into()
    }
}

impl From<&d::params::ParamOverrides> for v1::StrategyParams {
    fn from(p: &d::params::ParamOverrides) -> Self {
        v1::StrategyParams {
            touch_dwell_ms: p.touch_dwell_ms,
            min_lot: p.min_lot,
            quote_offset_bps: p.quote_offset_bps,
            inventory_limit: p.inventory_limit,
            requote_threshold_bps: p.requote_threshold_bps,
            maker_fee_bps: p.maker_fee_bps,
            taker_fee_bps: p.taker_fee_bps,
            markout_ms: p.markout_ms,
        }
    }
}

impl From<&v1::StrategyParams> for d::params::ParamOverrides {
    fn from(p: &v1::StrategyParams) -> Self {
        d::params::ParamOverrides {
            touch_dwell_ms: p.touch_dwell_ms,
            min_lot: p.min_lot,
            quote_offset_bps: p.quote_offset_bps,
            inventory_limit: p.inventory_limit,
            requote_threshold_bps: p.requote_threshold_bps,
            maker_fee_bps: p.maker_fee_bps,
            taker_fee_bps: p.taker_fee_bps,
            markout_ms: p.markout_ms,
        }
    }
}

/// Full parameters from a wire message; absent fields take `base`'s values.
pub fn params_over(
    base: &d::params::StrategyParams,
    p: &v1::StrategyParams,
) -> d::params::StrategyParams {
    base.with_overrides(&p.into())
}

impl From<&d::summary::Window> for v1::Window {
    fn from(w: &d::summary::Window) -> Self {
        v1::Window {
            start_ms: w.start_ms,
            end_ms: w.end_ms,
        }
    }
}

impl From<&v1::Window> for d::summary::Window {
    fn from(w: &v1::Window) -> Self {
        d::summary::Window {
            start_ms: w.start_ms,
            end_ms: w.end_ms,
        }
    }
}

impl From<&d::summary::IngestCounters> for v1::IngestCounters {
    fn from(c: &d::summary::IngestCounters) -> Self {
        v1::IngestCounters {
            seq_gaps: c.seq_gaps,
            reordered: c.reordered,
            bp_drops: c.bp_drops,
            duplicates: c.duplicates,
            rejected: c.rejected,
        }
    }
}

impl From<&v1::IngestCounters> for d::summary::IngestCounters {
    fn from(c: &v1::IngestCounters) -> Self {
        d::summary::IngestCounters {
            seq_gaps: c.seq_gaps,
            reordered: c.reordered,
            bp_drops: c.bp_drops,
            duplicates: c.duplicates,
            rejected: c.rejected,
        }
    }
}

impl From<&d::summary::IterSummary> for v1::IterSummary {
    fn from(s: &d::summary::IterSummary) -> Self {
        v1::IterSummary {
            schema_version: s.schema_version.clone(),
            run_id: s.run_id.clone(),
            iteration: s.iteration,
            window: Some((&s.window).into()),
            source: s.source.clone(),
            symbols: s
                .symbols
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v1::SymbolSummary {
                            summary: Some((&v.summary).into()),
                            params: v.params.as_ref().map(Into::into),
                            counters: Some((&v.counters).into()),
                            ticks: v.ticks,
                            path: v.path.iter().map(Into::into).collect(),
                            rejects: v.rejects.clone(),
                        },
                    )
                })
                .collect(),
            params: s.params.as_ref().map(Into::into),
            counters: Some(v1::IngestCounters {
                seq_gaps: s.seq_gaps,
                reordered: s.reordered,
                bp_drops: s.bp_drops,
                ..Default::default()
            }),
            notes: s.notes.clone(),
            profile: s.profile.clone(),
            model: s.model.as_ref().map(Into::into),
            strategy: s.strategy.as_ref().map(Into::into),
        }
    }
}

impl From<&d::summary::StrategyInfo> for v1::StrategyInfo {
    fn from(s: &d::summary::StrategyInfo) -> Self {
        v1::StrategyInfo {
            name: s.name.clone(),
            version: s.version.clone(),
            address: s.address.clone(),
        }
    }
}

impl From<v1::StrategyInfo> for d::summary::StrategyInfo {
    fn from(s: v1::StrategyInfo) -> Self {
        d::summary::StrategyInfo {
            name: s.name,
            version: s.version,
            address: s.address,
        }
    }
}

impl From<&d::summary::PathPoint> for v1::PathPoint {
    fn from(p: &d::summary::PathPoint) -> Self {
        v1::PathPoint {
            t_ms: p.t_ms,
            equity: p.equity,
            inventory: p.inventory,
        }
    }
}

impl From<&v1::PathPoint> for d::summary::PathPoint {
    fn from(p: &v1::PathPoint) -> Self {
        d::summary::PathPoint {
            t_ms: p.t_ms,
            equity: p.equity,
            inventory: p.inventory,
        }
    }
}

impl From<&d::summary::ModelSetInfo> for v1::ModelSetInfo {
    fn from(m: &d::summary::ModelSetInfo) -> Self {
        v1::ModelSetInfo {
            name: m.name.clone(),
            description: m.description.clone(),
        }
    }
}

impl From<v1::ModelSetInfo> for d::summary::ModelSetInfo {
    fn from(m: v1::ModelSetInfo) -> Self {
        d::summary::ModelSetInfo {
            name: m.name,
            description: m.description,
        }
    }
}

impl From<&v1::IterSummary> for d::summary::IterSummary {
    fn from(s: &v1::IterSummary) -> Self {
        s.clone().into()
    }
}

/// Moves the strings (exportd converts every summary it receives); absent
/// parameters of a symbol or window take the contract defaults.
impl From<v1::IterSummary> for d::summary::IterSummary {
    fn from(s: v1::IterSummary) -> Self {
        let base = d::params::StrategyParams::default();
        let counters = s.counters.unwrap_or_default();
        d::summary::IterSummary {
            schema_version: s.schema_version,
            run_id: s.run_id,
            iteration: s.iteration,
            window: s.window.as_ref().map(Into::into).unwrap_or_default(),
            source: s.source,
            profile: s.profile,
            symbols: s
                .symbols
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        d::summary::SymbolSummary {
                            summary: v.summary.as_ref().map(Into::into).unwrap_or_default(),
                            params: v.params.as_ref().map(|p| params_over(&base, p)),
                            counters: v.counters.as_ref().map(Into::into).unwrap_or_default(),
                            ticks: v.ticks,
                            path: v.path.iter().map(Into::into).collect(),
                            rejects: v.rejects,
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
            params: s.params.as_ref().map(|p| params_over(&base, p)),
            seq_gaps: counters.seq_gaps,
            reordered: counters.reordered,
            bp_drops: counters.bp_drops,
            model: s.model.map(Into::into),
            strategy: s.strategy.map(Into::into),
            notes: s.notes,
        }
    }
}

impl From<&v1::GateThresholds> for d::gate::GateThresholds {
    fn from(t: &v1::GateThresholds) -> Self {
        let def = d::gate::GateThresholds::default();
        d::gate::GateThresholds {
            min_maker_taker_ratio: t.min_maker_taker_ratio.unwrap_or(def.min_maker_taker_ratio),
            min_edge_bps: t.min_edge_bps.unwrap_or(def.min_edge_bps),
            max_p95_latency_ms: t.max_p95_latency_ms.unwrap_or(def.max_p95_latency_ms),
            max_risk_ratio: t.max_risk_ratio.unwrap_or(def.max_risk_ratio),
            min_windows: t.min_windows.unwrap_or(def.min_windows),
        }
    }
}

impl From<&d::gate::GateThresholds> for v1::GateThresholds {
    fn from(t: &d::gate::GateThresholds) -> Self {
        v1::GateThresholds {
            min_maker_taker_ratio: Some(t.min_maker_taker_ratio),
            min_edge_bps: Some(t.min_edge_bps),
            max_p95_latency_ms: Some(t.max_p95_latency_ms),
            max_risk_ratio: Some(t.max_risk_ratio),
            min_windows: Some(t.min_windows),
        }
    }
}

fn verdict(v: d::gate::Verdict) -> i32 {
    match v {
        d::gate::Verdict::Go => v1::GateVerdict::Go as i32,
        d::gate::Verdict::Hold => v1::GateVerdict::Hold as i32,
    }
}

/// The domain verdict of a wire verdict (anything but GO is HOLD).
pub fn verdict_from_wire(v: i32) -> d::gate::Verdict {
    if v == v1::GateVerdict::Go as i32 {
        d::gate::Verdict::Go
    } else {
        d::gate::Verdict::Hold
    }
}

impl From<&d::gate::SymbolVerdict> for v1::SymbolVerdict {
    fn from(s: &d::gate::SymbolVerdict) -> Self {
        v1::SymbolVerdict {
            symbol: s.symbol.clone(),
            verdict: verdict(s.verdict),
            reasons: s.reasons.clone(),
            aggregate: Some((&s.aggregate).into()),
            windows: s.windows,
        }
    }
}

impl From<&v1::SymbolVerdict> for d::gate::SymbolVerdict {
    fn from(s: &v1::SymbolVerdict) -> Self {
        d::gate::SymbolVerdict {
            symbol: s.symbol.clone(),
            verdict: verdict_from_wire(s.verdict),
            reasons: s.reasons.clone(),
            aggregate: s.aggregate.as_ref().map(Into::into).unwrap_or_default(),
            windows: s.windows,
        }
    }
}

impl From<d::export::ExportMode> for v1::ExportMode {
    fn from(mode: d::export::ExportMode) -> Self {
        match mode {
            d::export::ExportMode::Hash => v1::ExportMode::Hash,
            d::export::ExportMode::Flat => v1::ExportMode::Flat,
            d::export::ExportMode::Stream => v1::ExportMode::Stream,
        }
    }
}

impl From<d::aggregate::Aggregation> for v1::Aggregation {
    fn from(a: d::aggregate::Aggregation) -> Self {
        match a {
            d::aggregate::Aggregation::Median => v1::Aggregation::Median,
            d::aggregate::Aggregation::Mean => v1::Aggregation::Mean,
            d::aggregate::Aggregation::Last => v1::Aggregation::Last,
        }
    }
}

/// The wire form of a soak verdict.
pub fn soak_verdict_to_wire(
    run_id: &str,
    v: &d::gate::SoakVerdict,
    windows: u32,
    thresholds: &d::gate::GateThresholds,
) -> v1::SoakVerdict {
    v1::SoakVerdict {
        run_id: run_id.to_string(),
        verdict: verdict(v.verdict),
        symbols: v.symbols.iter().map(Into::into).collect(),
        windows,
        thresholds: Some(thresholds.into()),
    }
}

impl From<&v1::SoakVerdict> for d::gate::SoakVerdict {
    fn from(v: &v1::SoakVerdict) -> Self {
        d::gate::SoakVerdict {
            verdict: verdict_from_wire(v.verdict),
            symbols: v.symbols.iter().map(Into::into).collect(),
        }
    }
}

impl From<&v1::AccuracyThresholds> for d::accuracy::AccuracyThresholds {
    fn from(t: &v1::AccuracyThresholds) -> Self {
        let def = d::accuracy::AccuracyThresholds::default();
        d::accuracy::AccuracyThresholds {
            pass_below_pct: t.pass_below_pct.unwrap_or(def.pass_below_pct),
            fail_above_pct: t.fail_above_pct.unwrap_or(def.fail_above_pct),
        }
    }
}

impl From<&d::accuracy::AccuracyThresholds> for v1::AccuracyThresholds {
    fn from(t: &d::accuracy::AccuracyThresholds) -> Self {
        v1::AccuracyThresholds {
            pass_below_pct: Some(t.pass_below_pct),
            fail_above_pct: Some(t.fail_above_pct),
        }
    }
}

/// The wire value of an accuracy status.
pub fn accuracy_status_to_wire(s: d::accuracy::AccuracyStatus) -> i32 {
    use d::accuracy::AccuracyStatus as A;
    (match s {
        A::Pass => v1::AccuracyStatus::Pass,
        A::Warn => v1::AccuracyStatus::Warn,
        A::Fail => v1::AccuracyStatus::Fail,
        A::NoPrediction => v1::AccuracyStatus::NoPrediction,
        A::NoData => v1::AccuracyStatus::NoData,
    }) as i32
}

/// The domain accuracy status of a wire value (unknown values are `FAIL`).
pub fn accuracy_status_from_wire(s: i32) -> d::accuracy::AccuracyStatus {
    use d::accuracy::AccuracyStatus as A;
    match v1::AccuracyStatus::try_from(s) {
        Ok(v1::AccuracyStatus::Pass) => A::Pass,
        Ok(v1::AccuracyStatus::Warn) => A::Warn,
        Ok(v1::AccuracyStatus::NoPrediction) => A::NoPrediction,
        Ok(v1::AccuracyStatus::NoData) => A::NoData,
        _ => A::Fail,
    }
}

impl From<&d::accuracy::KpiAccuracy> for v1::KpiAccuracy {
    fn from(k: &d::accuracy::KpiAccuracy) -> Self {
        v1::KpiAccuracy {
            kpi: k.kpi.name().to_string(),
            predicted: k.predicted,
            actuals: k
                .actuals
                .iter()
                .enumerate()
                .map(|(i, v)| v1::IterationActual {
                    iteration: i as u32 + 1,
                    value: *v,
                })
                .collect(),
            median_actual: k.median_actual,
            mape_pct: k.mape_pct,
            status: accuracy_status_to_wire(k.status),
            note: k.note.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iter_summary_round_trips_through_the_wire() {
        let mut s = d::summary::IterSummary {
            schema_version: d::summary::SCHEMA_VERSION.into(),
            run_id: "r1".into(),
            iteration: 3,
            window: d::summary::Window {
                start_ms: 120_000,
                end_ms: 180_000,
            },
            source: "synthetic".into(),
            profile: "maker_bias_uplift_v1".into(),
            params: Some(d::params::StrategyParams::default()),
            seq_gaps: 2,
            reordered: 1,
            bp_drops: 0,
            model: Some(d::summary::ModelSetInfo {
                name: "dryrun".into(),
                description: "queue=risk_averse".into(),
            }),
            notes: "n".into(),
            ..Default::default()
        };
        s.symbols.insert(
            "BTCUSDT".into(),
            d::summary::SymbolSummary {
                summary: d::kpi::KpiSet {
                    edge_bps: Some(3.2),
                    maker_taker_ratio: None,
                    p95_latency_ms: Some(250.0),
                    risk_ratio: Some(0.1),
                    maker_count: 9,
                    taker_count: 1,
                    total_fills: 10,
                    clock_drift_ms: Some(4.5),
                },
                params: Some(d::params::StrategyParams::default()),
                counters: d::summary::IngestCounters {
                    seq_gaps: 2,
                    ..Default::default()
                },
                ticks: 1200,
                path: vec![d::summary::PathPoint {
                    t_ms: 121_000,
                    equity: -1.5,
                    inventory: 0.25,
                }],
                rejects: [
                    ("off_grid".to_string(), 2),
                    ("unknown_order".to_string(), 1),
                ]
                .into_iter()
                .collect(),
            },
        );
        s.strategy = Some(d::summary::StrategyInfo {
            name: "mine".into(),
            version: "1.2".into(),
            address: "http://127.0.0.1:50060".into(),
        });
        let wire: v1::IterSummary = (&s).into();
        assert_eq!(wire.symbols["BTCUSDT"].rejects["off_grid"], 2);
        assert_eq!(
            wire.strategy.as_ref().map(|x| x.name.as_str()),
            Some("mine")
        );
        assert_eq!(wire.symbols["BTCUSDT"].path[0].equity, -1.5);
        let back: d::summary::IterSummary = (&wire).into();
        assert_eq!(back, s);
        let moved: d::summary::IterSummary = wire.into();
        assert_eq!(moved, s, "by value, the same as by reference");
    }

    #[test]
    fn absent_gate_fields_take_the_contract_defaults() {
        let t: d::gate::GateThresholds = (&v1::GateThresholds {
            min_edge_bps: Some(1.0),
            ..Default::default()
        })
            .into();
        assert_eq!(t.min_edge_bps, 1.0);
        assert_eq!(t.min_maker_taker_ratio, 0.83);
        assert_eq!(t.max_p95_latency_ms, 350.0);
        assert_eq!(t.max_risk_ratio, 0.40);
        assert_eq!(t.min_windows, 48);
    }
}
