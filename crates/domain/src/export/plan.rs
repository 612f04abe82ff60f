//! The writes of one symbol: [`plan_symbol`].
//!
//! Per symbol, in this order:
//!
//! - **hash**: `HSET …:latest:{S}` with the measured KPIs (contract order),
//!   `HDEL` of the selected KPIs that were not measured (so an earlier value
//!   does not linger), `EXPIRE …:latest:{S} ttl`;
//! - **flat**: `SET …:latest:{S}:{kpi} value EX ttl` per measured KPI, `DEL` of
//!   the flat key of every selected KPI that was not measured;
//! - **stream**: one `XADD …:stream:{S} MAXLEN ~ n <id> …` per window, oldest
//!   first, with the window's KPIs and `run_id`, `iteration`,
//!   `window_start_ms`, `window_end_ms`; the id is [`stream_id`] of the window,
//!   and an entry whose id is already there is skipped, so a re-export adds
//!   nothing; then `EXPIRE …:stream:{S} ttl`;
//! - every mode: `HSET …:meta:{S}` with the provenance ([`meta_fields`]) and
//!   `EXPIRE …:meta:{S} ttl`.
//!
//! Every write is idempotent: running the same plan twice leaves the store as
//! one run did.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::kpi::{Kpi, KpiSet};
use crate::params::StrategyParams;
use crate::summary::StrategyInfo;

use super::keys::KeySchema;
use super::series::{SymbolExport, SymbolWindow};
use super::value::format_value;

/// The key layout of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportMode {
    /// One hash per symbol (the default).
    #[default]
    Hash,
    /// One string key per KPI (legacy).
    Flat,
    /// One stream entry per window.
    Stream,
}

impl ExportMode {
    /// Every mode.
    pub const ALL: [ExportMode; 3] = [ExportMode::Hash, ExportMode::Flat, ExportMode::Stream];

    /// `hash`, `flat` or `stream` (the `type` label of `redis_export_mode`).
    pub fn name(self) -> &'static str {
        match self {
            ExportMode::Hash => "hash",
            ExportMode::Flat => "flat",
            ExportMode::Stream => "stream",
        }
    }
}

impl fmt::Display for ExportMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ExportMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hash" => Ok(ExportMode::Hash),
            "flat" => Ok(ExportMode::Flat),
            "stream" => Ok(ExportMode::Stream),
            _ => Err(format!(
                "unknown mode `{s}` (expected hash, flat or stream)"
            )),
        }
    }
}

/// What to write and where, for every symbol of an export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSpec {
    /// Key names.
    pub keys: KeySchema,
    /// Key layout.
    pub mode: ExportMode,
    /// Time to live of every written key, seconds.
    pub ttl_seconds: u64,
    /// The KPIs to export, in contract order.
    pub kpis: Vec<Kpi>,
    /// `MAXLEN ~` of each stream (stream mode).
    pub stream_maxlen: u64,
}

/// A hash or stream field name. The names of the contract are fixed strings:
/// they are borrowed, not allocated for every write.
pub type FieldName = Cow<'static, str>;

/// One write of a plan. The service converts it into its store's command type;
/// it mirrors the Redis command it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyWrite {
    /// `HSET key field value …`.
    HSet {
        /// Key.
        key: String,
        /// Field/value pairs.
        fields: Vec<(FieldName, String)>,
    },
    /// `HDEL key field …`.
    HDel {
        /// Key.
        key: String,
        /// Fields to remove.
        fields: Vec<FieldName>,
    },
    /// `EXPIRE key seconds`.
    Expire {
        /// Key.
        key: String,
        /// Time to live.
        seconds: u64,
    },
    /// `SET key value EX seconds`.
    Set {
        /// Key.
        key: String,
        /// Value.
        value: String,
        /// Time to live.
        ttl_seconds: u64,
    },
    /// `DEL key`.
    Del {
        /// Key.
        key: String,
    },
    /// `XADD key MAXLEN ~ maxlen id field value …`, skipped when the id is
    /// already in the stream.
    XAdd {
        /// Stream key.
        key: String,
        /// Explicit entry id (`<ms>-<seq>`).
        id: String,
        /// Field/value pairs.
        fields: Vec<(FieldName, String)>,
        /// Approximate length cap.
        maxlen: u64,
    },
}

impl KeyWrite {
    /// The key the write touches.
    pub fn key(&self) -> &str {
        match self {
            KeyWrite::HSet { key, .. }
            | KeyWrite::HDel { key, .. }
            | KeyWrite::Expire { key, .. }
            | KeyWrite::Set { key, .. }
            | KeyWrite::Del { key }
            | KeyWrite::XAdd { key, .. } => key,
        }
    }

    /// True when the write stores data (rather than removing or expiring it).
    pub fn stores_data(&self) -> bool {
        matches!(
            self,
            KeyWrite::HSet { .. } | KeyWrite::Set { .. } | KeyWrite::XAdd { .. }
        )
    }
}

/// Number of distinct keys that `writes` store data in (the `keys` of a batch).
pub fn keys_written(writes: &[KeyWrite]) -> usize {
    writes
        .iter()
        .filter(|w| w.stores_data())
        .map(KeyWrite::key)
        .collect::<BTreeSet<_>>()
        .len()
}

/// Parses a KPI selection (`edge_bps`, `net_bps` as its alias, …). Empty means
/// the four KPIs of the contract; the result is in contract order without
/// repeats. On error, returns the index and the message of the first unknown
/// name.
pub fn parse_kpis<S: AsRef<str>>(names: &[S]) -> Result<Vec<Kpi>, (usize, String)> {
    if names.is_empty() {
        return Ok(Kpi::ALL.to_vec());
    }
    let mut set = BTreeSet::new();
    for (i, n) in names.iter().enumerate() {
        let n = n.as_ref().trim();
        match Kpi::parse(n) {
            Some(k) => {
                set.insert(k);
            }
            None => {
                return Err((
                    i,
                    format!(
                        "unknown KPI `{n}` (expected edge_bps, maker_taker_ratio, p95_latency_ms or risk_ratio)"
                    ),
                ));
            }
        }
    }
    Ok(set.into_iter().collect())
}

/// The stream entry id of a window: `<start_ms>-0`, so a re-export of the same
/// window hits the same id. A window without event time (legacy files) gets
/// `0-<iteration>` (at least `0-1`, since `0-0` is not a valid id).
pub fn stream_id(w: &SymbolWindow) -> String {
    if w.window.start_ms > 0 {
        format!("{}-0", w.window.start_ms)
    } else {
        format!("0-{}", w.iteration.max(1))
    }
}

fn kpi_fields(kpis: &KpiSet, selected: &[Kpi]) -> (Vec<(FieldName, String)>, Vec<Kpi>) {
    let mut present = Vec::with_capacity(selected.len());
    let mut absent = Vec::new();
    for &k in selected {
        match kpis.get(k).and_then(format_value) {
            Some(v) => present.push((Cow::Borrowed(k.name()), v)),
            None => absent.push(k),
        }
    }
    (present, absent)
}

/// The `params` field of the meta hash: the parameters as JSON, `null` when
/// unknown.
fn params_json(params: Option<&StrategyParams>) -> String {
    params
        .and_then(|p| serde_json::to_string(p).ok())
        .unwrap_or_else(|| "null".into())
}

/// The provenance fields of the meta hash, in a fixed order: `run_id` (distinct
/// run ids joined by `,`), `windows`, `first_iteration`,
/// `first_window_start_ms`, `first_window_end_ms`, `last_iteration`,
/// `last_window_start_ms`, `last_window_end_ms`, `source`, `profile`, `params`
/// (JSON, `null` when unknown), `model` (the execution model set as JSON
/// `{"name":…,"description":…}`, `null` when unknown), `aggregation`, `mode`,
/// `schema_version`, `strategy` (the strategy as JSON `{"name":…}`, with
/// `version` and `address` for an external one; `{"name":"builtin"}` when
/// the summaries do not say).
pub fn meta_fields(sym: &SymbolExport, mode: ExportMode) -> Vec<(FieldName, String)> {
    meta_fields_with(sym, mode, params_json(sym.provenance.params.as_ref()))
}

fn meta_fields_with(
    sym: &SymbolExport,
    mode: ExportMode,
    params: String,
) -> Vec<(FieldName, String)> {
    let p = &sym.provenance;
    let model = p
        .model
        .as_deref()
        .and_then(|m| serde_json::to_string(m).ok())
        .unwrap_or_else(|| "null".into());
    let strategy = p.strategy.as_deref().map_or_else(
        || serde_json::to_string(&StrategyInfo::builtin()),
        serde_json::to_string,
    );
    let strategy = strategy.unwrap_or_else(|_| "null".into());
    let fields: [(&'static str, String); 16] = [
        ("run_id", p.run_ids.join(",")),
        ("windows", p.windows.to_string()),
        ("first_iteration", p.first_iteration.to_string()),
        ("first_window_start_ms", p.first_window.start_ms.to_string()),
        ("first_window_end_ms", p.first_window.end_ms.to_string()),
        ("last_iteration", p.last_iteration.to_string()),
        ("last_window_start_ms", p.last_window.start_ms.to_string()),
        ("last_window_end_ms", p.last_window.end_ms.to_string()),
        ("source", String::from(&*p.source)),
        ("profile", String::from(&*p.profile)),
        ("params", params),
        ("model", model),
        ("aggregation", p.aggregation.name().to_string()),
        ("mode", mode.name().to_string()),
        ("schema_version", String::from(&*p.schema_version)),
        ("strategy", strategy),
    ];
    fields
        .into_iter()
        .map(|(k, v)| (Cow::Borrowed(k), v))
        .collect()
}

/// The writes of one symbol (see the module docs for their order).
///
/// For many symbols, [`Planner`] does the same with less work per symbol.
pub fn plan_symbol(spec: &ExportSpec, sym: &SymbolExport) -> Vec<KeyWrite> {
    let mut out = Vec::new();
    Planner::new(spec).plan_into(sym, &mut out);
    out
}

/// Plans the writes of many symbols of one export. Same writes as
/// [`plan_symbol`], but the JSON of the strategy parameters, identical for
/// most symbols of an export, is serialised once per distinct parameter set
/// rather than once per symbol.
#[derive(Debug)]
pub struct Planner<'a> {
    spec: &'a ExportSpec,
    /// The last parameters seen and their JSON.
    params: Option<(Option<StrategyParams>, String)>,
}

impl<'a> Planner<'a> {
    /// A planner for `spec`.
    pub fn new(spec: &'a ExportSpec) -> Self {
        Self { spec, params: None }
    }

    fn params_json(&mut self, params: Option<&StrategyParams>) -> String {
        let same = |last: &Option<StrategyParams>| match (last, params) {
            (Some(a), Some(b)) => a.bitwise_eq(b),
            (None, None) => true,
            _ => false,
        };
        match &self.params {
            Some((last, json)) if same(last) => json.clone(),
            _ => {
                let json = params_json(params);
                self.params = Some((params.cloned(), json.clone()));
                json
            }
        }
    }

    /// Appends the writes of `sym` to `out` (see the module docs for their
    /// order).
    pub fn plan_into(&mut self, sym: &SymbolExport, out: &mut Vec<KeyWrite>) {
        let spec = self.spec;
        let s = sym.symbol.as_str();
        match spec.mode {
            ExportMode::Hash => {
                let key = spec.keys.latest(s);
                let (present, absent) = kpi_fields(&sym.kpis, &spec.kpis);
                let stored = !present.is_empty();
                if stored {
                    out.push(KeyWrite::HSet {
                        key: key.clone(),
                        fields: present,
                    });
                }
                if !absent.is_empty() {
                    out.push(KeyWrite::HDel {
                        key: key.clone(),
                        fields: absent.iter().map(|k| Cow::Borrowed(k.name())).collect(),
                    });
                }
                if stored {
                    out.push(KeyWrite::Expire {
                        key,
                        seconds: spec.ttl_seconds,
                    });
                }
            }
            ExportMode::Flat => {
                for &k in &spec.kpis {
                    let key = spec.keys.flat(s, k);
                    match sym.kpis.get(k).and_then(format_value) {
                        Some(value) => out.push(KeyWrite::Set {
                            key,
                            value,
                            ttl_seconds: spec.ttl_seconds,
                        }),
                        None => out.push(KeyWrite::Del { key }),
                    }
                }
            }
            ExportMode::Stream => {
                let key = spec.keys.stream(s);
                for w in &sym.windows {
                    let (mut fields, _) = kpi_fields(&w.kpis, &spec.kpis);
                    fields.extend([
                        (Cow::Borrowed("run_id"), String::from(&*w.run_id)),
                        (Cow::Borrowed("iteration"), w.iteration.to_string()),
                        (
                            Cow::Borrowed("window_start_ms"),
                            w.window.start_ms.to_string(),
                        ),
                        (Cow::Borrowed("window_end_ms"), w.window.end_ms.to_string()),
                    ]);
                    out.push(KeyWrite::XAdd {
                        key: key.clone(),
                        id: stream_id(w),
                        fields,
                        maxlen: spec.stream_maxlen,
                    });
                }
                if !sym.windows.is_empty() {
                    out.push(KeyWrite::Expire {
                        key,
                        seconds: spec.ttl_seconds,
                    });
                }
            }
        }
        let meta = spec.keys.meta(s);
        let params = self.params_json(sym.provenance.params.as_ref());
        out.push(KeyWrite::HSet {
            key: meta.clone(),
            fields: meta_fields_with(sym, spec.mode, params),
        });
        out.push(KeyWrite::Expire {
            key: meta,
            seconds: spec.ttl_seconds,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Aggregation;
    use crate::export::series::collect_symbols;
    use crate::params::StrategyParams;
    use crate::summary::{IterSummary, SymbolSummary, Window};

    fn input() -> Vec<IterSummary> {
        let kpis = |edge: f64, p95: Option<f64>| KpiSet {
            edge_bps: Some(edge),
            maker_taker_ratio: Some(0.85),
            p95_latency_ms: p95,
            risk_ratio: Some(0.3),
            ..KpiSet::default()
        };
        (1..=3)
            .map(|i| IterSummary {
                schema_version: "1.0".into(),
                run_id: "run-1".into(),
                iteration: i,
                window: Window {
                    start_ms: 1_700_000_000_000 + i64::from(i - 1) * 60_000,
                    end_ms: 1_700_000_000_000 + i64::from(i) * 60_000,
                },
                source: "synthetic".into(),
                profile: "default".into(),
                symbols: [(
                    "BTCUSDT".to_string(),
                    SymbolSummary {
                        summary: kpis(3.2 * f64::from(i), (i == 2).then_some(250.0)),
                        ..SymbolSummary::default()
                    },
                )]
                .into(),
                params: Some(StrategyParams::default()),
                ..IterSummary::default()
            })
            .collect()
    }

    fn spec(mode: ExportMode) -> ExportSpec {
        ExportSpec {
            keys: KeySchema::new("dev", "bybit").unwrap(),
            mode,
            ttl_seconds: 3600,
            kpis: Kpi::ALL.to_vec(),
            stream_maxlen: 10_000,
        }
    }

    fn render(w: &KeyWrite) -> String {
        match w {
            KeyWrite::HSet { key, fields } => format!(
                "HSET {key}{}",
                fields
                    .iter()
                    .map(|(f, v)| format!(" {f} {v}"))
                    .collect::<String>()
            ),
            KeyWrite::HDel { key, fields } => format!("HDEL {key} {}", fields.join(" ")),
            KeyWrite::Expire { key, seconds } => format!("EXPIRE {key} {seconds}"),
            KeyWrite::Set {
                key,
                value,
                ttl_seconds,
            } => format!("SET {key} {value} EX {ttl_seconds}"),
            KeyWrite::Del { key } => format!("DEL {key}"),
            KeyWrite::XAdd {
                key,
                id,
                fields,
                maxlen,
            } => format!(
                "XADD {key} MAXLEN ~ {maxlen} {id}{}",
                fields
                    .iter()
                    .map(|(f, v)| format!(" {f} {v}"))
                    .collect::<String>()
            ),
        }
    }

    #[test]
    fn hash_mode_writes_the_four_fields_then_expire_then_meta() {
        let syms = collect_symbols(&input(), Aggregation::Median);
        let w = plan_symbol(&spec(ExportMode::Hash), &syms[0]);
        let text: Vec<String> = w.iter().map(render).collect();
        assert_eq!(
            text[0],
            "HSET dev:bybit:shadow:latest:BTCUSDT edge_bps 6.4 maker_taker_ratio 0.85 p95_latency_ms 250 risk_ratio 0.3"
        );
        assert_eq!(text[1], "EXPIRE dev:bybit:shadow:latest:BTCUSDT 3600");
        assert!(text[2].starts_with(
            "HSET dev:bybit:shadow:meta:BTCUSDT run_id run-1 windows 3 first_iteration 1 first_window_start_ms 1700000000000"
        ), "{}", text[2]);
        assert!(
            text[2].contains(" params {\"touch_dwell_ms\":"),
            "{}",
            text[2]
        );
        assert!(
            text[2].ends_with(" model null aggregation median mode hash schema_version 1.0 strategy {\"name\":\"builtin\"}"),
            "{}",
            text[2]
        );
        assert_eq!(text[3], "EXPIRE dev:bybit:shadow:meta:BTCUSDT 3600");
        assert_eq!(w.len(), 4);
        assert_eq!(keys_written(&w), 2);
    }

    #[test]
    fn meta_names_the_model_set_of_the_last_window() {
        let mut summaries = input();
        let info = |name: &str| crate::summary::ModelSetInfo {
            name: name.into(),
            description: format!("queue={name}"),
        };
        summaries[0].model = Some(info("lenient"));
        summaries[2].model = Some(info("shadow"));
        let syms = collect_symbols(&summaries, Aggregation::Median);
        let meta = meta_fields(&syms[0], ExportMode::Hash);
        let model = meta
            .iter()
            .find(|(k, _)| k == "model")
            .map(|(_, v)| v.as_str());
        assert_eq!(
            model,
            Some(r#"{"name":"shadow","description":"queue=shadow"}"#)
        );
        let names: Vec<&str> = meta.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(names[10..13], ["params", "model", "aggregation"]);
    }

    #[test]
    fn an_unmeasured_kpi_is_not_written_and_its_old_value_is_removed() {
        let mut syms = collect_symbols(&input(), Aggregation::Median);
        syms[0].kpis.p95_latency_ms = None;
        let w = plan_symbol(&spec(ExportMode::Hash), &syms[0]);
        assert_eq!(
            render(&w[0]),
            "HSET dev:bybit:shadow:latest:BTCUSDT edge_bps 6.4 maker_taker_ratio 0.85 risk_ratio 0.3"
        );
        assert_eq!(
            render(&w[1]),
            "HDEL dev:bybit:shadow:latest:BTCUSDT p95_latency_ms"
        );
        let f = plan_symbol(&spec(ExportMode::Flat), &syms[0]);
        assert_eq!(
            f.iter().take(4).map(render).collect::<Vec<_>>(),
            [
                "SET dev:bybit:shadow:latest:BTCUSDT:edge_bps 6.4 EX 3600",
                "SET dev:bybit:shadow:latest:BTCUSDT:maker_taker_ratio 0.85 EX 3600",
                "DEL dev:bybit:shadow:latest:BTCUSDT:p95_latency_ms",
                "SET dev:bybit:shadow:latest:BTCUSDT:risk_ratio 0.3 EX 3600",
            ]
        );
        assert_eq!(keys_written(&f), 4, "three KPI keys and the meta hash");
    }

    #[test]
    fn kpi_selection_limits_the_fields_and_never_deletes_unselected_ones() {
        let syms = collect_symbols(&input(), Aggregation::Last);
        let mut s = spec(ExportMode::Hash);
        s.kpis = parse_kpis(&["p95_latency_ms", "net_bps"]).unwrap();
        assert_eq!(s.kpis, [Kpi::EdgeBps, Kpi::P95LatencyMs]);
        let w = plan_symbol(&s, &syms[0]);
        // `last` takes the latest window *with* the KPI: p95 only in window 2.
        assert_eq!(
            render(&w[0]),
            "HSET dev:bybit:shadow:latest:BTCUSDT edge_bps 9.600000000000001 p95_latency_ms 250"
        );
        assert_eq!(render(&w[1]), "EXPIRE dev:bybit:shadow:latest:BTCUSDT 3600");
        assert_eq!(parse_kpis(&["edge_bps", "pnl"]).unwrap_err().0, 1);
        assert_eq!(parse_kpis::<&str>(&[]).unwrap(), Kpi::ALL);
    }

    #[test]
    fn stream_mode_adds_one_entry_per_window_with_window_ids() {
        let syms = collect_symbols(&input(), Aggregation::Median);
        let w = plan_symbol(&spec(ExportMode::Stream), &syms[0]);
        let text: Vec<String> = w.iter().map(render).collect();
        assert_eq!(
            text[0],
            "XADD dev:bybit:shadow:stream:BTCUSDT MAXLEN ~ 10000 1700000000000-0 edge_bps 3.2 maker_taker_ratio 0.85 risk_ratio 0.3 run_id run-1 iteration 1 window_start_ms 1700000000000 window_end_ms 1700000060000"
        );
        assert!(
            text[1].contains(
                " 1700000060000-0 edge_bps 6.4 maker_taker_ratio 0.85 p95_latency_ms 250 "
            )
        );
        assert!(text[2].contains(" 1700000120000-0 "));
        assert_eq!(text[3], "EXPIRE dev:bybit:shadow:stream:BTCUSDT 3600");
        assert!(text[4].contains(" mode stream "));
        assert_eq!(keys_written(&w), 2);
    }

    #[test]
    fn the_planner_writes_each_symbols_own_params() {
        let base = input();
        let own = StrategyParams {
            quote_offset_bps: 8.0,
            ..StrategyParams::default()
        };
        let mut eth = base[0].clone();
        eth.symbols = [(
            "ETHUSDT".to_string(),
            SymbolSummary {
                params: Some(own.clone()),
                ..base[0].symbols["BTCUSDT"].clone()
            },
        )]
        .into();
        let mut none = base[0].clone();
        none.params = None;
        none.symbols = [("SOLUSDT".to_string(), base[0].symbols["BTCUSDT"].clone())].into();
        let syms = collect_symbols(&[base[0].clone(), eth, none], Aggregation::Median);
        let names: Vec<&str> = syms.iter().map(|s| s.symbol.as_str()).collect();
        assert_eq!(names, ["BTCUSDT", "ETHUSDT", "SOLUSDT"]);
        let spec = spec(ExportMode::Hash);
        let mut planner = Planner::new(&spec);
        let params_of = |w: &[KeyWrite]| {
            w.iter()
                .find_map(|c| match c {
                    KeyWrite::HSet { key, fields } if key.contains(":meta:") => fields
                        .iter()
                        .find(|(f, _)| f == "params")
                        .map(|(_, v)| v.clone()),
                    _ => None,
                })
                .expect("a meta hash with params")
        };
        let json = |p: &StrategyParams| serde_json::to_string(p).unwrap();
        // Alternating symbols: the cached JSON must follow the params.
        for sym in [&syms[0], &syms[1], &syms[0], &syms[2], &syms[1]] {
            let mut w = Vec::new();
            planner.plan_into(sym, &mut w);
            assert_eq!(w, plan_symbol(&spec, sym), "{}", sym.symbol);
            let expected = match sym.symbol.as_str() {
                "BTCUSDT" => json(&StrategyParams::default()),
                "ETHUSDT" => json(&own),
                _ => "null".to_string(),
            };
            assert_eq!(params_of(&w), expected, "{}", sym.symbol);
        }
        assert!(
            json(&own).contains("\"quote_offset_bps\":8.0"),
            "{}",
            json(&own)
        );
        // `-0.0 == 0.0`, but their JSON differs: the cache must not mix them.
        let signed = |fee: f64| StrategyParams {
            maker_fee_bps: fee,
            ..StrategyParams::default()
        };
        assert!(signed(0.0).bitwise_eq(&signed(0.0)));
        assert!(!signed(0.0).bitwise_eq(&signed(-0.0)));
        let mut a = syms[0].clone();
        a.provenance.params = Some(signed(-0.0));
        let mut b = syms[0].clone();
        b.provenance.params = Some(signed(0.0));
        for sym in [&a, &b] {
            let mut w = Vec::new();
            planner.plan_into(sym, &mut w);
            assert_eq!(w, plan_symbol(&spec, sym));
        }
        assert_ne!(
            params_of(&plan_symbol(&spec, &a)),
            params_of(&plan_symbol(&spec, &b))
        );
    }

    #[test]
    fn windows_without_event_time_get_ids_from_their_iteration() {
        let w = |start_ms, iteration| SymbolWindow {
            run_id: "".into(),
            iteration,
            window: Window {
                start_ms,
                end_ms: start_ms,
            },
            kpis: KpiSet::default(),
        };
        assert_eq!(stream_id(&w(1_700_000_000_000, 9)), "1700000000000-0");
        assert_eq!(stream_id(&w(0, 4)), "0-4");
        assert_eq!(stream_id(&w(0, 0)), "0-1");
    }

    #[test]
    fn modes_parse_and_print() {
        for m in ExportMode::ALL {
            assert_eq!(m.name().parse::<ExportMode>(), Ok(m));
        }
        assert!("hashes".parse::<ExportMode>().is_err());
    }
}
