//! Readers of ITER_SUMMARY documents.
//!
//! [`parse_iter_summary`] accepts three shapes:
//!
//! - our format ([`IterSummary`], JSON Schema `schemas/iter_summary.schema.json`):
//!   `{"schema_version": "1.0", "run_id": …, "symbols": {"BTCUSDT": {"summary": {…}}}, …}`.
//!   Unknown fields are an error, so a typo never silently drops a KPI;
//! - the legacy single-symbol form with nested KPIs:
//!   `{"symbol": "BTC-USDT", "summary": {"net_bps": 3.2, …}}`;
//! - the legacy single-symbol form with the KPIs at the top level:
//!   `{"symbol": "BTC-USDT", "edge_bps": 3.2, …}`.
//!
//! Legacy files may also carry `run_id`, `iteration`, `window`, `source`,
//! `profile`, `params` and `notes`; other fields are ignored. A legacy file
//! without a window gets `window = {0, 0}`, without an iteration `iteration = 0`
//! (the caller may number files), and without a source `source = "legacy"`.
//! `net_bps` is accepted as an alias of `edge_bps` everywhere.
//!
//! Every error names the field it is about, as a dotted path from the root
//! (`symbols.BTCUSDT.summary.edge_bps: expected a number`). Symbols are
//! normalised (`BTC-USDT` → `BTCUSDT`); paths show the symbol as written.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::kpi::KpiSet;
use crate::params::StrategyParams;
use crate::summary::{
    IngestCounters, IterSummary, ModelSetInfo, PathPoint, SCHEMA_VERSION, StrategyInfo,
    SymbolSummary, Window,
};
use crate::symbol::{is_normalized, normalize_symbol};

/// An ITER_SUMMARY document that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SummaryError {
    /// The text is not JSON.
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the JSON parser said.
        message: String,
    },
    /// A field is missing, has the wrong type or an impossible value.
    #[error("{path}: {message}")]
    Field {
        /// Dotted path of the field (`symbols.BTCUSDT.summary.edge_bps`).
        path: String,
        /// What is wrong with it.
        message: String,
    },
}

impl SummaryError {
    fn field(path: impl Into<String>, message: impl Into<String>) -> Self {
        SummaryError::Field {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The path of the offending field, if the error is about one.
    pub fn path(&self) -> Option<&str> {
        match self {
            SummaryError::Field { path, .. } => Some(path),
            SummaryError::Json { .. } => None,
        }
    }

    /// Prefixes the path (`summaries[3]` + `symbols.X` → `summaries[3].symbols.X`).
    pub fn within(self, prefix: &str) -> Self {
        match self {
            SummaryError::Field { path, message } => SummaryError::Field {
                path: join(prefix, &path),
                message,
            },
            other => other,
        }
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else if key.is_empty() {
        parent.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

type Result<T> = std::result::Result<T, SummaryError>;

/// A JSON object being decoded, with its path for error messages.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn new(value: &'a Value, path: String) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Self { map, path }),
            other => Err(SummaryError::field(
                if path.is_empty() {
                    "(document)".into()
                } else {
                    path
                },
                format!("expected an object, got {}", kind(other)),
            )),
        }
    }

    fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn err<T>(&self, key: &str, message: impl Into<String>) -> Result<T> {
        Err(SummaryError::field(self.at(key), message))
    }

    /// The value of `key`, with JSON `null` treated as absent.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn deny_unknown(&self, allowed: &[&str]) -> Result<()> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => self.err(
                k,
                format!("unknown field (expected one of {})", allowed.join(", ")),
            ),
            None => Ok(()),
        }
    }

    fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(v) if v.is_finite() => Ok(Some(v)),
                _ => self.err(key, "expected a finite number"),
            },
            Some(other) => self.err(key, format!("expected a number, got {}", kind(other))),
        }
    }

    fn req_f64(&self, key: &str) -> Result<f64> {
        self.opt_f64(key)?
            .map_or_else(|| self.err(key, "missing"), Ok)
    }

    fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) => Ok(Some(v)),
                None => self.err(key, format!("expected a non-negative integer, got {n}")),
            },
            Some(other) => self.err(
                key,
                format!("expected a non-negative integer, got {}", kind(other)),
            ),
        }
    }

    fn opt_u32(&self, key: &str) -> Result<Option<u32>> {
        match self.opt_u64(key)? {
            None => Ok(None),
            Some(v) => u32::try_from(v)
                .map(Some)
                .or_else(|_| self.err(key, format!("{v} is too large (at most {})", u32::MAX))),
        }
    }

    fn req_i64(&self, key: &str) -> Result<i64> {
        match self.get(key) {
            None => self.err(key, "missing"),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) => Ok(v),
                None => self.err(key, format!("expected an integer, got {n}")),
            },
            Some(other) => self.err(key, format!("expected an integer, got {}", kind(other))),
        }
    }

    fn opt_str(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => self.err(key, format!("expected a string, got {}", kind(other))),
        }
    }

    fn req_str(&self, key: &str) -> Result<String> {
        self.opt_str(key)?
            .map_or_else(|| self.err(key, "missing"), Ok)
    }

    fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>> {
        self.get(key).map(|v| Obj::new(v, self.at(key))).transpose()
    }

    fn req_obj(&self, key: &str) -> Result<Obj<'a>> {
        self.opt_obj(key)?
            .map_or_else(|| self.err(key, "missing"), Ok)
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

const EMPTY_SYMBOL: &str =
    "symbol is empty after normalisation (use letters and digits, e.g. BTCUSDT)";

const KPI_FIELDS: [&str; 9] = [
    "edge_bps",
    "net_bps",
    "maker_taker_ratio",
    "p95_latency_ms",
    "risk_ratio",
    "maker_count",
    "taker_count",
    "total_fills",
    "clock_drift_ms",
];

fn read_kpis(o: &Obj<'_>) -> Result<KpiSet> {
    let edge = o.opt_f64("edge_bps")?;
    let net = o.opt_f64("net_bps")?;
    let edge_bps = match (edge, net) {
        (Some(e), Some(n)) if e != n => {
            return o.err(
                "net_bps",
                format!("is an alias of edge_bps but differs from it ({n} vs {e})"),
            );
        }
        (e, n) => e.or(n),
    };
    Ok(KpiSet {
        edge_bps,
        maker_taker_ratio: o.opt_f64("maker_taker_ratio")?,
        p95_latency_ms: o.opt_f64("p95_latency_ms")?,
        risk_ratio: o.opt_f64("risk_ratio")?,
        maker_count: o.opt_u64("maker_count")?.unwrap_or(0),
        taker_count: o.opt_u64("taker_count")?.unwrap_or(0),
        total_fills: o.opt_u64("total_fills")?.unwrap_or(0),
        clock_drift_ms: o.opt_f64("clock_drift_ms")?,
    })
}

fn read_params(o: &Obj<'_>) -> Result<StrategyParams> {
    o.deny_unknown(&StrategyParams::FIELDS)?;
    Ok(StrategyParams {
        touch_dwell_ms: o.req_f64("touch_dwell_ms")?,
        min_lot: o.req_f64("min_lot")?,
        quote_offset_bps: o.req_f64("quote_offset_bps")?,
        inventory_limit: o.req_f64("inventory_limit")?,
        requote_threshold_bps: o.req_f64("requote_threshold_bps")?,
        maker_fee_bps: o.req_f64("maker_fee_bps")?,
        taker_fee_bps: o.req_f64("taker_fee_bps")?,
        markout_ms: o.req_f64("markout_ms")?,
    })
}

fn read_counters(o: &Obj<'_>) -> Result<IngestCounters> {
    o.deny_unknown(&[
        "seq_gaps",
        "reordered",
        "bp_drops",
        "duplicates",
        "rejected",
    ])?;
    Ok(IngestCounters {
        seq_gaps: o.opt_u64("seq_gaps")?.unwrap_or(0),
        reordered: o.opt_u64("reordered")?.unwrap_or(0),
        bp_drops: o.opt_u64("bp_drops")?.unwrap_or(0),
        duplicates: o.opt_u64("duplicates")?.unwrap_or(0),
        rejected: o.opt_u64("rejected")?.unwrap_or(0),
    })
}

fn read_window(o: &Obj<'_>) -> Result<Window> {
    o.deny_unknown(&["start_ms", "end_ms"])?;
    Ok(Window {
        start_ms: o.req_i64("start_ms")?,
        end_ms: o.req_i64("end_ms")?,
    })
}

fn check_version(o: &Obj<'_>) -> Result<String> {
    let v = o.req_str("schema_version")?;
    let major = v.split('.').next().unwrap_or_default();
    let ours = SCHEMA_VERSION.split('.').next().unwrap_or_default();
    if major != ours {
        return o.err(
            "schema_version",
            format!("unsupported version `{v}` (this reader understands {ours}.x)"),
        );
    }
    Ok(v)
}

fn read_ours(root: &Obj<'_>) -> Result<IterSummary> {
    root.deny_unknown(&[
        "schema_version",
        "run_id",
        "iteration",
        "window",
        "source",
        "profile",
        "symbols",
        "params",
        "seq_gaps",
        "reordered",
        "bp_drops",
        "model",
        "strategy",
        "notes",
    ])?;
    let schema_version = check_version(root)?;
    let symbols_obj = root.req_obj("symbols")?;
    let mut symbols = BTreeMap::new();
    for (raw, value) in symbols_obj.map {
        let s = Obj::new(value, symbols_obj.at(raw))?;
        s.deny_unknown(&["summary", "params", "counters", "ticks", "path", "rejects"])?;
        let k = s.req_obj("summary")?;
        k.deny_unknown(&KPI_FIELDS)?;
        let summary = SymbolSummary {
            summary: read_kpis(&k)?,
            params: s.opt_obj("params")?.map(|p| read_params(&p)).transpose()?,
            counters: s
                .opt_obj("counters")?
                .map(|c| read_counters(&c))
                .transpose()?
                .unwrap_or_default(),
            ticks: s.opt_u64("ticks")?.unwrap_or(0),
            path: read_path(&s)?,
            rejects: read_rejects(&s)?,
        };
        symbols.insert(raw.clone(), summary);
    }
    Ok(IterSummary {
        schema_version,
        run_id: root.req_str("run_id")?,
        iteration: root
            .opt_u32("iteration")?
            .map_or_else(|| root.err("iteration", "missing"), Ok)?,
        window: read_window(&root.req_obj("window")?)?,
        source: root.req_str("source")?,
        profile: root.opt_str("profile")?.unwrap_or_default(),
        symbols,
        params: root
            .opt_obj("params")?
            .map(|p| read_params(&p))
            .transpose()?,
        seq_gaps: root.opt_u64("seq_gaps")?.unwrap_or(0),
        reordered: root.opt_u64("reordered")?.unwrap_or(0),
        bp_drops: root.opt_u64("bp_drops")?.unwrap_or(0),
        model: root.opt_obj("model")?.map(|m| read_model(&m)).transpose()?,
        strategy: root
            .opt_obj("strategy")?
            .map(|m| read_strategy(&m))
            .transpose()?,
        notes: root.opt_str("notes")?.unwrap_or_default(),
    })
}

/// A symbol's `rejects`: absent is none; each value a count of a known
/// reason.
fn read_rejects(s: &Obj<'_>) -> Result<BTreeMap<String, u64>> {
    let Some(o) = s.opt_obj("rejects")? else {
        return Ok(BTreeMap::new());
    };
    let mut out = BTreeMap::new();
    for key in o.map.keys() {
        if crate::engine::RejectReason::from_name(key).is_none() {
            return o.err(key, "not a reject reason (docs/execution.md lists them)");
        }
        out.insert(key.clone(), o.opt_u64(key)?.unwrap_or(0));
    }
    Ok(out)
}

fn read_strategy(o: &Obj<'_>) -> Result<StrategyInfo> {
    o.deny_unknown(&["name", "version", "address"])?;
    Ok(StrategyInfo {
        name: o.req_str("name")?,
        version: o.opt_str("version")?.unwrap_or_default(),
        address: o.opt_str("address")?.unwrap_or_default(),
    })
}

/// A symbol's `path`: absent or `null` is empty; each point needs a `t_ms`
/// and finite `equity` and `inventory`.
fn read_path(s: &Obj<'_>) -> Result<Vec<PathPoint>> {
    let items = match s.get("path") {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => return s.err("path", format!("expected an array, got {}", kind(other))),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let o = Obj::new(v, format!("{}[{i}]", s.at("path")))?;
            o.deny_unknown(&["t_ms", "equity", "inventory"])?;
            Ok(PathPoint {
                t_ms: o.req_i64("t_ms")?,
                equity: o.req_f64("equity")?,
                inventory: o.req_f64("inventory")?,
            })
        })
        .collect()
}

fn read_model(o: &Obj<'_>) -> Result<ModelSetInfo> {
    o.deny_unknown(&["name", "description"])?;
    Ok(ModelSetInfo {
        name: o.req_str("name")?,
        description: o.req_str("description")?,
    })
}

fn read_legacy(root: &Obj<'_>) -> Result<IterSummary> {
    let raw = root.req_str("symbol")?;
    let Some(symbol) = normalize_symbol(&raw) else {
        return root.err("symbol", EMPTY_SYMBOL);
    };
    // Checked here so errors point at the legacy field, not at `symbols.…`.
    let kpis = match root.opt_obj("summary")? {
        Some(nested) => {
            let k = read_kpis(&nested)?;
            check_kpis(&k, || "summary".into())?;
            k
        }
        None => {
            let k = read_kpis(root)?;
            check_kpis(&k, String::new)?;
            k
        }
    };
    let mut symbols = BTreeMap::new();
    symbols.insert(
        symbol,
        SymbolSummary {
            summary: kpis,
            ..SymbolSummary::default()
        },
    );
    Ok(IterSummary {
        schema_version: SCHEMA_VERSION.to_string(),
        run_id: root.opt_str("run_id")?.unwrap_or_default(),
        iteration: root.opt_u32("iteration")?.unwrap_or(0),
        window: root
            .opt_obj("window")?
            .map(|w| read_window(&w))
            .transpose()?
            .unwrap_or_default(),
        source: root.opt_str("source")?.unwrap_or_else(|| "legacy".into()),
        profile: root.opt_str("profile")?.unwrap_or_default(),
        symbols,
        params: root
            .opt_obj("params")?
            .map(|p| read_params(&p))
            .transpose()?,
        seq_gaps: 0,
        reordered: 0,
        bp_drops: 0,
        model: None,
        strategy: None,
        notes: root.opt_str("notes")?.unwrap_or_default(),
    })
}

/// Reads one ITER_SUMMARY document (our format or a legacy single-symbol form;
/// see the module docs), normalises its symbols and checks its values with
/// [`normalize_summary`].
pub fn parse_iter_summary(text: &str) -> Result<IterSummary> {
    let value: Value = serde_json::from_str(text).map_err(|e| SummaryError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let root = Obj::new(&value, String::new())?;
    let summary = if root.map.contains_key("symbols") {
        read_ours(&root)?
    } else if root.map.contains_key("symbol") {
        read_legacy(&root)?
    } else {
        return Err(SummaryError::field(
            "symbols",
            "missing (expected an ITER_SUMMARY with `symbols`, or a legacy file with `symbol`)",
        ));
    };
    normalize_summary(summary)
}

fn check_kpis(k: &KpiSet, path: impl Fn() -> String) -> Result<()> {
    let field = |name: &str| join(&path(), name);
    for (name, v) in [
        ("edge_bps", k.edge_bps),
        ("maker_taker_ratio", k.maker_taker_ratio),
        ("p95_latency_ms", k.p95_latency_ms),
        ("risk_ratio", k.risk_ratio),
        ("clock_drift_ms", k.clock_drift_ms),
    ] {
        if v.is_some_and(|v| !v.is_finite()) {
            return Err(SummaryError::field(field(name), "expected a finite number"));
        }
    }
    if let Some(r) = k.maker_taker_ratio
        && !(0.0..=1.0).contains(&r)
    {
        return Err(SummaryError::field(
            field("maker_taker_ratio"),
            format!("must be between 0 and 1, got {r}"),
        ));
    }
    if let Some(p) = k.p95_latency_ms
        && p < 0.0
    {
        return Err(SummaryError::field(
            field("p95_latency_ms"),
            format!("must not be negative, got {p}"),
        ));
    }
    if let Some(r) = k.risk_ratio
        && r < 0.0
    {
        return Err(SummaryError::field(
            field("risk_ratio"),
            format!("must not be negative, got {r}"),
        ));
    }
    Ok(())
}

/// Normalises the symbol keys of a summary (`BTC-USDT` → `BTCUSDT`) and checks
/// the values a reader relies on: a symbol that is empty after normalisation,
/// two spellings of the same symbol, a window that ends before it starts or
/// starts before the epoch, a non-finite KPI, `maker_taker_ratio` outside
/// `[0, 1]`, a negative `p95_latency_ms` or `risk_ratio` are errors naming the
/// field. Used for files ([`parse_iter_summary`]) and for summaries received
/// over gRPC alike.
pub fn normalize_summary(mut summary: IterSummary) -> Result<IterSummary> {
    if summary.window.start_ms < 0 {
        return Err(SummaryError::field(
            "window.start_ms",
            format!("must not be negative, got {}", summary.window.start_ms),
        ));
    }
    if summary.window.end_ms < summary.window.start_ms {
        return Err(SummaryError::field(
            "window.end_ms",
            format!(
                "must not be before window.start_ms ({} < {})",
                summary.window.end_ms, summary.window.start_ms
            ),
        ));
    }
    if summary.symbols.keys().all(|k| is_normalized(k)) {
        // The usual case (our own summaries): nothing to rename, and a map
        // cannot hold a symbol twice, so the map is kept as it is.
        for (symbol, s) in &summary.symbols {
            check_kpis(&s.summary, || join(&join("symbols", symbol), "summary"))?;
        }
        return Ok(summary);
    }
    let mut symbols: BTreeMap<String, SymbolSummary> = BTreeMap::new();
    // Raw spellings that differ from their normalised symbol, for error messages.
    let mut spelled: BTreeMap<String, String> = BTreeMap::new();
    for (raw, s) in std::mem::take(&mut summary.symbols) {
        // Paths are built only on error: this runs for every symbol of every window.
        let path = || join("symbols", &raw);
        let already = is_normalized(&raw);
        let norm = if already {
            raw.clone()
        } else {
            match normalize_symbol(&raw) {
                Some(n) => n,
                None => return Err(SummaryError::field(path(), EMPTY_SYMBOL)),
            }
        };
        check_kpis(&s.summary, || join(&path(), "summary"))?;
        if symbols.contains_key(&norm) {
            let first = spelled.get(&norm).unwrap_or(&norm);
            return Err(SummaryError::field(
                path(),
                format!("same symbol as `{first}` after normalisation ({norm})"),
            ));
        }
        if !already {
            spelled.insert(norm.clone(), raw);
        }
        symbols.insert(norm, s);
    }
    summary.symbols = symbols;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A long decimal reads back exactly after being written again (the JSON
    /// parser's `float_roundtrip`; found by the `iter_summary` fuzz target).
    #[test]
    fn long_decimals_survive_write_and_read() {
        let text = r#"{"symbol": "BTC-USDT", "edge_bps": 2.7, "p95_latency_ms": 180.444444444444444444445}"#;
        let s = normalize_summary(parse_iter_summary(text).unwrap()).unwrap();
        let again = serde_json::to_string(&s).unwrap();
        let back = normalize_summary(parse_iter_summary(&again).unwrap()).unwrap();
        assert_eq!(back, s);
        let p95 = s.symbols["BTCUSDT"].summary.p95_latency_ms.unwrap();
        assert_eq!(
            p95.to_bits(),
            "180.444444444444444444445"
                .parse::<f64>()
                .unwrap()
                .to_bits()
        );
    }

    const OURS: &str = r#"{
      "schema_version": "1.0",
      "run_id": "run-7",
      "iteration": 3,
      "window": {"start_ms": 1700000120000, "end_ms": 1700000180000},
      "source": "synthetic",
      "profile": "default",
      "symbols": {
        "btc-usdt": {"summary": {"edge_bps": 3.2, "maker_taker_ratio": 0.85, "p95_latency_ms": 250,
                                  "risk_ratio": 0.3, "maker_count": 17, "taker_count": 3, "total_fills": 20},
                     "ticks": 1200, "counters": {"seq_gaps": 1}},
        "ETHUSDT": {"summary": {"net_bps": 2.5}}
      },
      "params": {"touch_dwell_ms": 50, "min_lot": 0.01, "quote_offset_bps": 1, "inventory_limit": 1,
                 "requote_threshold_bps": 0.5, "maker_fee_bps": -0.5, "taker_fee_bps": 5.5, "markout_ms": 1000},
      "seq_gaps": 1, "reordered": 0, "bp_drops": 0,
      "notes": "commit=abc source=synthetic profile=default seq_gaps=1 reordered=0 bp_drops=0"
    }"#;

    fn err(text: &str) -> String {
        parse_iter_summary(text).unwrap_err().to_string()
    }

    #[test]
    fn a_path_is_read_and_its_errors_name_the_point() {
        let with = OURS.replace(
            r#""ticks": 1200,"#,
            r#""ticks": 1200, "path": [{"t_ms": 1700000121000, "equity": -0.5, "inventory": 0.01},
                                       {"t_ms": 1700000180000, "equity": 1.25, "inventory": 0}],"#,
        );
        let s = parse_iter_summary(&with).unwrap();
        assert_eq!(
            s.symbols["BTCUSDT"].path,
            vec![
                PathPoint {
                    t_ms: 1_700_000_121_000,
                    equity: -0.5,
                    inventory: 0.01
                },
                PathPoint {
                    t_ms: 1_700_000_180_000,
                    equity: 1.25,
                    inventory: 0.0
                },
            ]
        );
        assert!(s.symbols["ETHUSDT"].path.is_empty());
        let bad = with.replace(r#""equity": 1.25"#, r#""equity": "x""#);
        assert!(err(&bad).contains("path[1].equity"), "{}", err(&bad));
    }

    #[test]
    fn our_format_is_read_and_symbols_normalised() {
        let s = parse_iter_summary(OURS).unwrap();
        assert_eq!(s.run_id, "run-7");
        assert_eq!(s.iteration, 3);
        assert_eq!(s.window.start_ms, 1_700_000_120_000);
        assert_eq!(s.symbols.keys().collect::<Vec<_>>(), ["BTCUSDT", "ETHUSDT"]);
        let btc = &s.symbols["BTCUSDT"];
        assert_eq!(btc.summary.edge_bps, Some(3.2));
        assert_eq!(btc.summary.p95_latency_ms, Some(250.0));
        assert_eq!(btc.summary.total_fills, 20);
        assert_eq!(btc.counters.seq_gaps, 1);
        assert_eq!(btc.ticks, 1200);
        assert_eq!(
            s.symbols["ETHUSDT"].summary.edge_bps,
            Some(2.5),
            "net_bps alias"
        );
        assert_eq!(s.symbols["ETHUSDT"].summary.risk_ratio, None);
        let p = s.params.expect("params");
        assert_eq!(
            (p.touch_dwell_ms, p.min_lot, p.maker_fee_bps),
            (50.0, 0.01, -0.5)
        );
    }

    #[test]
    fn our_format_round_trips_through_serde() {
        let s = parse_iter_summary(OURS).unwrap();
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(parse_iter_summary(&text).unwrap(), s);
    }

    #[test]
    fn legacy_nested_form_is_read() {
        let s = parse_iter_summary(
            r#"{"symbol": "BTC-USDT", "summary": {"net_bps": 3.2, "maker_taker_ratio": 0.9,
                "p95_latency_ms": 250, "risk_ratio": 0.25}, "timestamp": "2024-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(s.symbols.len(), 1);
        let k = &s.symbols["BTCUSDT"].summary;
        assert_eq!(k.edge_bps, Some(3.2));
        assert_eq!(k.maker_taker_ratio, Some(0.9));
        assert_eq!(s.source, "legacy");
        assert_eq!(s.iteration, 0);
        assert_eq!(s.window, Window::default());
    }

    #[test]
    fn legacy_top_level_form_is_read() {
        let s = parse_iter_summary(
            r#"{"symbol": "eth/usdt", "edge_bps": -1.5, "p95_latency_ms": 120.5, "run_id": "old",
                "iteration": 4, "window": {"start_ms": 60000, "end_ms": 120000}}"#,
        )
        .unwrap();
        let k = &s.symbols["ETHUSDT"].summary;
        assert_eq!(k.edge_bps, Some(-1.5));
        assert_eq!(k.p95_latency_ms, Some(120.5));
        assert_eq!(k.maker_taker_ratio, None);
        assert_eq!((s.run_id.as_str(), s.iteration), ("old", 4));
        assert_eq!(s.window.end_ms, 120_000);
    }

    #[test]
    fn errors_name_the_field() {
        let bad = OURS.replace(r#""edge_bps": 3.2"#, r#""edge_bps": "3.2""#);
        assert_eq!(
            err(&bad),
            "symbols.btc-usdt.summary.edge_bps: expected a number, got a string"
        );
        let bad = OURS.replace(r#""run_id": "run-7","#, "");
        assert_eq!(err(&bad), "run_id: missing");
        let bad = OURS.replace(r#""edge_bps": 3.2"#, r#""edge_bsp": 3.2"#);
        assert!(
            err(&bad).starts_with("symbols.btc-usdt.summary.edge_bsp: unknown field"),
            "{}",
            err(&bad)
        );
        let bad = OURS.replace(
            r#""maker_taker_ratio": 0.85"#,
            r#""maker_taker_ratio": 1.5"#,
        );
        assert_eq!(
            err(&bad),
            "symbols.btc-usdt.summary.maker_taker_ratio: must be between 0 and 1, got 1.5"
        );
        let bad = OURS.replace(r#""min_lot": 0.01, "#, "");
        assert_eq!(err(&bad), "params.min_lot: missing");
        let bad = OURS.replace(r#""iteration": 3"#, r#""iteration": -3"#);
        assert_eq!(
            err(&bad),
            "iteration: expected a non-negative integer, got -3"
        );
        let bad = OURS.replace(r#""end_ms": 1700000180000"#, r#""end_ms": 1"#);
        assert!(err(&bad).starts_with("window.end_ms: must not be before"));
        let bad = OURS.replace(r#""schema_version": "1.0""#, r#""schema_version": "2.0""#);
        assert_eq!(
            err(&bad),
            "schema_version: unsupported version `2.0` (this reader understands 1.x)"
        );
        let bad = OURS.replace(r#""ETHUSDT""#, r#""BTC_USDT""#);
        assert_eq!(
            err(&bad),
            "symbols.btc-usdt: same symbol as `BTC_USDT` after normalisation (BTCUSDT)"
        );
        let bad = OURS.replace(r#""ETHUSDT""#, r#""--""#);
        assert!(err(&bad).starts_with("symbols.--: symbol is empty"));
        assert!(err("[1, 2]").starts_with("(document): expected an object"));
        assert!(err("{\"x\": 1}").starts_with("symbols: missing"));
        assert!(err("{\"symbols\": ").starts_with("invalid JSON at line 1"));
    }

    #[test]
    fn legacy_errors_point_at_the_legacy_fields() {
        assert_eq!(
            err(r#"{"symbol": "BTCUSDT", "summary": {"edge_bps": true}}"#),
            "summary.edge_bps: expected a number, got a boolean"
        );
        assert_eq!(
            err(r#"{"symbol": "BTCUSDT", "p95_latency_ms": -1}"#),
            "p95_latency_ms: must not be negative, got -1"
        );
        assert_eq!(
            err(r#"{"symbol": "BTCUSDT", "summary": {"risk_ratio": -0.5}}"#),
            "summary.risk_ratio: must not be negative, got -0.5"
        );
        assert!(err(r#"{"symbol": "//"}"#).starts_with("symbol: symbol is empty"));
        assert_eq!(
            err(r#"{"symbol": 7}"#),
            "symbol: expected a string, got a number"
        );
        assert_eq!(
            err(r#"{"symbol": "X", "edge_bps": 1, "net_bps": 2}"#),
            "net_bps: is an alias of edge_bps but differs from it (2 vs 1)"
        );
    }

    #[test]
    fn errors_can_be_placed_within_a_stream() {
        let e = normalize_summary(IterSummary {
            window: Window {
                start_ms: -1,
                end_ms: 0,
            },
            ..IterSummary::default()
        })
        .unwrap_err()
        .within("summaries[2]");
        assert_eq!(e.path(), Some("summaries[2].window.start_ms"));
    }

    #[test]
    fn shipped_examples_are_read() {
        let ours = parse_iter_summary(include_str!(
            "../../../../schemas/examples/ITER_SUMMARY_001.json"
        ))
        .unwrap();
        assert_eq!(ours.symbols.len(), 2);
        assert_eq!(ours.symbols["BTCUSDT"].summary.p95_latency_ms, Some(250.0));
        assert_eq!(ours.symbols["ETHUSDT"].summary.p95_latency_ms, None);
        let path = &ours.symbols["BTCUSDT"].path;
        assert_eq!(path.len(), 3);
        assert_eq!(path[2].t_ms, ours.window.end_ms);
        assert_eq!((path[2].equity, path[2].inventory), (1.87, -0.02));
        assert_eq!(ours.model.as_ref().map(|m| m.name.as_str()), Some("shadow"));
        // the example's model set is the built-in one, as described today
        assert_eq!(
            ours.model.map(|m| m.description),
            Some(crate::engine::model_spec::builtin_sets()["shadow"].describe())
        );
        let nested = parse_iter_summary(include_str!(
            "../../../../schemas/examples/legacy_nested.json"
        ))
        .unwrap();
        assert_eq!(nested.symbols["BTCUSDT"].summary.edge_bps, Some(3.2));
        let top = parse_iter_summary(include_str!(
            "../../../../schemas/examples/legacy_top_level.json"
        ))
        .unwrap();
        assert_eq!(top.symbols["ETHUSDT"].summary.p95_latency_ms, Some(180.5));
    }
}
