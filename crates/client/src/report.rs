//! The dry-run accuracy report as Markdown, JSON and a self-contained HTML page
//! (no network needed to view it). Per symbol and KPI one SVG chart: the
//! prediction with its PASS / WARN / FAIL bands shaded (the grading's own
//! edges, [`AccuracyBands`]), the soak's value in each window and the dry run's
//! actual in each iteration side by side on one labelled axis. Per symbol two
//! more: equity (mark-to-market PnL, fees included) and inventory over event
//! time, soak and dry run together.
//!
//! The dry run's series come from dryrund's report. The soak's per-window
//! series come from its ITER_SUMMARY files, which only `shadowctl pipeline`
//! has at hand ([`ReportDoc::attach_soak`]); the store holds the aggregated
//! prediction only, so a report of `shadowctl validate` says they are not
//! available instead of drawing them.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use shadowkpi_domain::accuracy::{AccuracyBands, AccuracyStatus, AccuracyThresholds};
use shadowkpi_domain::kpi::Kpi;
use shadowkpi_domain::summary::{IterSummary, ModelSetInfo, PathPoint, StrategyInfo, max_drawdown};
use shadowkpi_proto::convert::accuracy_status_from_wire;
use shadowkpi_proto::v1::{AccuracyReport, KpiAccuracy};

use crate::artifacts::{write_json, write_text};
use crate::error::ClientResult;

/// `DRYRUN_ACCURACY_REPORT.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ReportDoc {
    /// Dry-run id.
    pub run_id: String,
    /// Key namespace.
    pub env: String,
    /// Key namespace.
    pub exchange: String,
    /// Iterations run.
    pub iterations: u32,
    /// Window length, ms.
    pub window_ms: u64,
    /// MAPE below this passes.
    pub pass_below_pct: f64,
    /// MAPE above this fails.
    pub fail_above_pct: f64,
    /// Worst status.
    pub overall: AccuracyStatus,
    /// The dry run's execution model set.
    pub model: Option<ModelSetInfo>,
    /// The strategy the dry run ran (the predictions' own: `builtin`, or the
    /// external strategy's name, version and address).
    pub strategy: Option<StrategyInfo>,
    /// Where the soak's per-window values and equity paths come from; `None`
    /// when the report could not get them (see [`SOAK_SERIES_UNAVAILABLE`]).
    pub soak_series_source: Option<String>,
    /// Per-symbol results.
    pub symbols: Vec<SymbolDoc>,
}

/// What the report says when the soak's per-window series are not at hand.
pub const SOAK_SERIES_UNAVAILABLE: &str = "soak per-window values and equity path not available: \
     `validate` reads only the aggregated prediction from the store; \
     `shadowctl pipeline` reports them from the soak's ITER_SUMMARY files";

/// The end of an equity path.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PathSummary {
    /// Equity at the last point, quote units.
    pub final_equity: f64,
    /// Inventory at the last point, base units.
    pub final_inventory: f64,
    /// Largest fall of equity from an earlier peak.
    pub max_drawdown: f64,
    /// Points in the path.
    pub points: usize,
}

impl PathSummary {
    /// `None` for an empty path.
    pub fn of(path: &[PathPoint]) -> Option<Self> {
        let last = path.last()?;
        Some(Self {
            final_equity: last.equity,
            final_inventory: last.inventory,
            max_drawdown: max_drawdown(path),
            points: path.len(),
        })
    }
}

/// The values of one KPI's bands (see [`AccuracyBands`]): an actual inside
/// `pass` (exclusive) grades PASS on its own, inside `warn` (inclusive) at
/// worst WARN, outside FAIL.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BandsDoc {
    /// `[low, high]` of the PASS band.
    pub pass: [f64; 2],
    /// `[low, high]` of the WARN band's outer edges.
    pub warn: [f64; 2],
    /// The scale errors are divided by: `max(|predicted|, floor)`.
    pub scale: f64,
    /// True when the KPI's floor set the scale.
    pub floored: bool,
}

impl BandsDoc {
    /// The bands of `kpi` (a KPI name) around `predicted`.
    pub fn new(kpi: &str, predicted: Option<f64>, t: &AccuracyThresholds) -> Option<Self> {
        let b = AccuracyBands::new(Kpi::parse(kpi)?, predicted?, t)?;
        let (pass, warn) = (b.pass(), b.fail());
        Some(Self {
            pass: [pass.0, pass.1],
            warn: [warn.0, warn.1],
            scale: b.scale,
            floored: b.floored,
        })
    }
}

/// One symbol of the report.
#[derive(Debug, Clone, Serialize)]
pub struct SymbolDoc {
    /// Symbol.
    pub symbol: String,
    /// False when the store held no prediction.
    pub has_prediction: bool,
    /// Worst KPI status.
    pub status: AccuracyStatus,
    /// The soak that produced the prediction.
    pub prediction_run_id: String,
    /// The model set of that soak, when its provenance says.
    pub prediction_model: Option<ModelSetInfo>,
    /// Per-KPI comparison.
    pub kpis: Vec<KpiDoc>,
    /// The dry run's equity and inventory over all its iterations.
    pub dry_run_path: Vec<PathPoint>,
    /// The end of [`SymbolDoc::dry_run_path`].
    pub dry_run_equity: Option<PathSummary>,
    /// The soak's equity and inventory over all its windows; `None` when not
    /// available.
    pub soak_path: Option<Vec<PathPoint>>,
    /// The end of [`SymbolDoc::soak_path`].
    pub soak_equity: Option<PathSummary>,
}

/// One KPI of the report.
#[derive(Debug, Clone, Serialize)]
pub struct KpiDoc {
    /// KPI name.
    pub kpi: String,
    /// Prediction.
    pub predicted: Option<f64>,
    /// Actual per iteration (`null` when unmeasured).
    pub actuals: Vec<Option<f64>>,
    /// Median of the measured actuals.
    pub median_actual: Option<f64>,
    /// MAPE, percent.
    pub mape_pct: Option<f64>,
    /// Grade.
    pub status: AccuracyStatus,
    /// Special cases.
    pub note: String,
    /// The PASS / WARN / FAIL bands around the prediction.
    pub bands: Option<BandsDoc>,
    /// The soak's value in each of its windows; `None` when not available.
    pub soak_values: Option<Vec<Option<f64>>>,
}

fn kpi_doc(k: &KpiAccuracy, t: &AccuracyThresholds) -> KpiDoc {
    KpiDoc {
        bands: BandsDoc::new(&k.kpi, k.predicted, t),
        soak_values: None,
        kpi: k.kpi.clone(),
        predicted: k.predicted,
        actuals: k.actuals.iter().map(|a| a.value).collect(),
        median_actual: k.median_actual,
        mape_pct: k.mape_pct,
        status: accuracy_status_from_wire(k.status),
        note: k.note.clone(),
    }
}

impl ReportDoc {
    /// The document of a wire report.
    pub fn from_wire(r: &AccuracyReport) -> Self {
        let t = r.thresholds.unwrap_or_default();
        let thresholds = AccuracyThresholds {
            pass_below_pct: t.pass_below_pct.unwrap_or(15.0),
            fail_above_pct: t.fail_above_pct.unwrap_or(30.0),
        };
        ReportDoc {
            run_id: r.run_id.clone(),
            env: r.env.clone(),
            exchange: r.exchange.clone(),
            iterations: r.iterations,
            window_ms: r.window_ms,
            pass_below_pct: thresholds.pass_below_pct,
            fail_above_pct: thresholds.fail_above_pct,
            overall: accuracy_status_from_wire(r.overall),
            model: r.model.clone().map(Into::into),
            strategy: r.strategy.clone().map(Into::into),
            soak_series_source: None,
            symbols: r
                .symbols
                .iter()
                .map(|s| {
                    let path: Vec<PathPoint> = s.path.iter().map(Into::into).collect();
                    SymbolDoc {
                        symbol: s.symbol.clone(),
                        has_prediction: s.has_prediction,
                        status: accuracy_status_from_wire(s.status),
                        prediction_run_id: s.prediction_run_id.clone(),
                        prediction_model: s.prediction_model.clone().map(Into::into),
                        kpis: s.kpis.iter().map(|k| kpi_doc(k, &thresholds)).collect(),
                        dry_run_equity: PathSummary::of(&path),
                        dry_run_path: path,
                        soak_path: None,
                        soak_equity: None,
                    }
                })
                .collect(),
        }
    }

    /// Adds the soak's per-window KPI values and equity path of every symbol
    /// from the soak's window summaries (any order; sorted by iteration).
    /// `source` says where they came from. A symbol the soak did not run gets
    /// empty series.
    pub fn attach_soak(&mut self, summaries: &[IterSummary], source: impl Into<String>) {
        let mut ordered: Vec<&IterSummary> = summaries.iter().collect();
        ordered.sort_by_key(|s| (s.iteration, s.window.start_ms));
        for sym in &mut self.symbols {
            let windows: Vec<_> = ordered
                .iter()
                .filter_map(|s| s.symbols.get(&sym.symbol))
                .collect();
            for k in &mut sym.kpis {
                k.soak_values = Some(match Kpi::parse(&k.kpi) {
                    Some(kpi) => windows.iter().map(|w| w.summary.get(kpi)).collect(),
                    None => Vec::new(),
                });
            }
            let path: Vec<PathPoint> = windows
                .iter()
                .flat_map(|w| w.path.iter().copied())
                .collect();
            sym.soak_equity = PathSummary::of(&path);
            sym.soak_path = Some(path);
        }
        self.soak_series_source = Some(source.into());
    }

    /// True when a KPI failed, had no prediction or was never measured.
    pub fn blocks(&self) -> bool {
        self.overall.blocks()
    }

    /// `dryrun (fill=… latency=…)`, or `unknown model set` for a report of a
    /// dryrund that does not say.
    pub fn model_line(&self) -> String {
        model_line(self.model.as_ref())
    }

    /// The strategy as one line: `builtin`, or `NAME VERSION at ADDRESS`.
    pub fn strategy_line(&self) -> String {
        match &self.strategy {
            None => "unknown strategy".into(),
            Some(st) if st.address.is_empty() => st.name.clone(),
            Some(st) => format!("{} {} at {}", st.name, st.version, st.address),
        }
    }

    /// The distinct model sets of the soaks checked, e.g. `shadow (…)`; one
    /// line per set, `unknown` when the provenance did not say.
    pub fn prediction_models(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self.symbols.iter().filter(|s| s.has_prediction) {
            let line = model_line(s.prediction_model.as_ref());
            if !out.contains(&line) {
                out.push(line);
            }
        }
        out
    }
}

fn model_line(m: Option<&ModelSetInfo>) -> String {
    match m {
        Some(m) => format!("{} ({})", m.name, m.description),
        None => "unknown model set".into(),
    }
}

/// Formats a value compactly (`—` when absent).
pub fn fmt_value(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 1.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.3}"),
    }
}

/// Values joined with `, ` (`—` for each absent one).
pub fn fmt_values(v: &[Option<f64>]) -> String {
    v.iter()
        .map(|a| fmt_value(*a))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `low..high`.
pub fn fmt_range(r: [f64; 2]) -> String {
    format!("{}..{}", fmt_value(Some(r[0])), fmt_value(Some(r[1])))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Formats a MAPE (`—` when absent).
pub fn fmt_pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.1} %"))
}

/// The Markdown report.
pub fn markdown(doc: &ReportDoc) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Dry-run accuracy report `{}`\n", doc.run_id);
    let _ = writeln!(
        s,
        "Namespace `{}:{}`, {} iterations of {} ms. \
         PASS < {} %, WARN {}–{} %, FAIL > {} %.\n",
        doc.env,
        doc.exchange,
        doc.iterations,
        doc.window_ms,
        doc.pass_below_pct,
        doc.pass_below_pct,
        doc.fail_above_pct,
        doc.fail_above_pct
    );
    let _ = writeln!(s, "Dry-run model set: `{}`\n", doc.model_line());
    let _ = writeln!(s, "Strategy: `{}`\n", doc.strategy_line());
    let preds = doc.prediction_models();
    if !preds.is_empty() {
        let _ = writeln!(
            s,
            "Soak model set checked: {}\n",
            preds
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(s, "**Overall: {}**\n", doc.overall.label());
    let _ = writeln!(
        s,
        "| symbol | kpi | predicted | median actual | MAPE | status | actuals per iteration | PASS band | WARN band | note |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---|---|---|---|---|");
    for sym in &doc.symbols {
        for k in &sym.kpis {
            let (pass, warn) = k.bands.map_or(("—".into(), "—".into()), |b| {
                (fmt_range(b.pass), fmt_range(b.warn))
            });
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                sym.symbol,
                k.kpi,
                fmt_value(k.predicted),
                fmt_value(k.median_actual),
                fmt_pct(k.mape_pct),
                k.status.label(),
                fmt_values(&k.actuals),
                pass,
                warn,
                k.note
            );
        }
    }
    let floors: Vec<String> = shadowkpi_domain::kpi::Kpi::ALL
        .iter()
        .map(|k| format!("{k} {}", shadowkpi_domain::accuracy::relative_floor(*k)))
        .collect();
    let _ = writeln!(
        s,
        "\nMAPE is the mean of |actual − predicted| / max(|predicted|, floor) over the iterations \
         where the KPI was measured (floors: {}). The bands are the actuals that grade PASS / WARN \
         when alone: predicted ± pass % (exclusive) and ± fail % (inclusive) of that scale. \
         NO_PREDICTION and NO_DATA block a go-live like FAIL.",
        floors.join(", ")
    );
    let _ = writeln!(s, "\n## Soak windows next to dry-run iterations\n");
    match &doc.soak_series_source {
        None => {
            let _ = writeln!(s, "{}.", capitalise(SOAK_SERIES_UNAVAILABLE));
        }
        Some(src) => {
            let _ = writeln!(s, "Soak values from {src}.\n");
            let _ = writeln!(
                s,
                "| symbol | kpi | soak per window | dry run per iteration |"
            );
            let _ = writeln!(s, "|---|---|---|---|");
            for sym in &doc.symbols {
                for k in &sym.kpis {
                    let soak = k.soak_values.as_deref().unwrap_or_default();
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {} |",
                        sym.symbol,
                        k.kpi,
                        if soak.is_empty() {
                            "none (symbol not in the soak)".into()
                        } else {
                            fmt_values(soak)
                        },
                        fmt_values(&k.actuals)
                    );
                }
            }
        }
    }
    let _ = writeln!(
        s,
        "\n## Equity and inventory\n\nEquity is the mark-to-market PnL at the mid, fees included, \
         from the start of each run (quote units); drawdown is its largest fall from an earlier peak.\n"
    );
    let _ = writeln!(
        s,
        "| symbol | run | final equity | final inventory | max drawdown | samples |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|");
    for sym in &doc.symbols {
        let soak = match (&sym.soak_path, sym.soak_equity) {
            (None, _) => None,
            (Some(_), e) => Some(e),
        };
        for (run, e) in [("soak", soak), ("dry run", Some(sym.dry_run_equity))] {
            let cells = match e {
                None => "not available | — | — | —".to_string(),
                Some(None) => "no path recorded | — | — | —".to_string(),
                Some(Some(e)) => format!(
                    "{} | {} | {} | {}",
                    fmt_value(Some(e.final_equity)),
                    fmt_value(Some(e.final_inventory)),
                    fmt_value(Some(e.max_drawdown)),
                    e.points
                ),
            };
            let _ = writeln!(s, "| {} | {run} | {cells} |", sym.symbol);
        }
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn status_color(s: AccuracyStatus) -> &'static str {
    match s {
        AccuracyStatus::Pass => "#1a7f37",
        AccuracyStatus::Warn => "#9a6700",
        _ => "#cf222e",
    }
}

/// Round tick values covering `[lo, hi]` (about five) and their step.
pub fn nice_ticks(lo: f64, hi: f64) -> (Vec<f64>, f64) {
    let raw = ((hi - lo) / 5.0).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let step = mag
        * match raw / mag {
            n if n < 1.5 => 1.0,
            n if n < 3.0 => 2.0,
            n if n < 7.0 => 5.0,
            _ => 10.0,
        };
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    ((first..=last).map(|i| i as f64 * step).collect(), step)
}

/// A tick label with as many decimals as the step needs.
pub fn fmt_tick(v: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).clamp(0.0, 6.0) as usize;
    let s = format!("{v:.decimals$}");
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

/// The plot area of a chart and its value scale.
struct Plot {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    lo: f64,
    hi: f64,
}

impl Plot {
    /// A plot whose y range covers `values`, padded by 6 %.
    fn new(w: f64, h: f64, values: impl IntoIterator<Item = f64>) -> Option<Self> {
        let (mut lo, mut hi) = values
            .into_iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        if lo > hi {
            return None;
        }
        if hi - lo < 1e-12 {
            let d = 1.0_f64.max(lo.abs() * 0.1);
            lo -= d;
            hi += d;
        }
        let pad = (hi - lo) * 0.06;
        Some(Self {
            w,
            h,
            left: 58.0,
            right: w - 12.0,
            top: 20.0,
            bottom: h - 42.0,
            lo: lo - pad,
            hi: hi + pad,
        })
    }

    fn y(&self, v: f64) -> f64 {
        self.bottom - (self.bottom - self.top) * (v - self.lo) / (self.hi - self.lo)
    }

    /// The y of `v` clamped into the plot.
    fn y_in(&self, v: f64) -> f64 {
        self.y(v.clamp(self.lo, self.hi))
    }

    /// Opens the SVG: frame, horizontal grid, y tick labels and the axis titles.
    fn open(&self, aria: &str, y_title: &str, x_title: &str) -> String {
        let (w, h) = (self.w, self.h);
        let mut s = format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{}" font-family="system-ui,sans-serif">"##,
            esc(aria)
        );
        let _ = write!(
            s,
            r##"<rect x="0" y="0" width="{w}" height="{h}" fill="#fff"/>"##
        );
        let _ = write!(
            s,
            r##"<text x="12" y="{:.1}" font-size="11" fill="#57606a" text-anchor="middle" transform="rotate(-90 12 {:.1})">{}</text>"##,
            (self.top + self.bottom) / 2.0,
            (self.top + self.bottom) / 2.0,
            esc(y_title)
        );
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#57606a" text-anchor="middle" class="x-title">{}</text>"##,
            (self.left + self.right) / 2.0,
            h - 6.0,
            esc(x_title)
        );
        s
    }

    /// Grid lines and labelled y ticks (drawn over the bands).
    fn y_axis(&self, s: &mut String) {
        let (ticks, step) = nice_ticks(self.lo, self.hi);
        for t in ticks {
            let y = self.y(t);
            let _ = write!(
                s,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#8c959f" stroke-opacity="0.35"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#57606a" text-anchor="end" class="y-tick">{}</text>"##,
                self.left,
                self.right,
                self.left - 4.0,
                y + 3.5,
                fmt_tick(t, step)
            );
        }
        let _ = write!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#8c959f"/>"##,
            self.left,
            self.top,
            self.right - self.left,
            self.bottom - self.top
        );
    }

    /// An x tick with its label under the plot.
    fn x_tick(&self, s: &mut String, x: f64, label: &str) {
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#8c959f"/><text x="{x:.1}" y="{:.1}" font-size="10" fill="#57606a" text-anchor="middle" class="x-tick">{}</text>"##,
            self.bottom,
            self.bottom + 4.0,
            self.bottom + 15.0,
            esc(label)
        );
    }

    /// A horizontal band between two values, clipped to the plot.
    fn band(&self, s: &mut String, lo: f64, hi: f64, fill: &str, title: &str) {
        let (y0, y1) = (self.y_in(hi), self.y_in(lo));
        if y1 - y0 <= 0.0 {
            return;
        }
        let _ = write!(
            s,
            r##"<rect x="{:.1}" y="{y0:.1}" width="{:.1}" height="{:.1}" fill="{fill}" class="band"><title>{}</title></rect>"##,
            self.left,
            self.right - self.left,
            y1 - y0,
            esc(title)
        );
    }
}

/// Colours of the bands and series.
const PASS_FILL: &str = "#dafbe1";
const WARN_FILL: &str = "#fff1c2";
const FAIL_FILL: &str = "#ffebe9";
const SOAK_COLOR: &str = "#0550ae";
const DRY_COLOR: &str = "#8250df";

/// How far from the prediction a KPI chart's y axis reaches at most, in half
/// widths of the WARN band.
const CLIP_WARN_WIDTHS: f64 = 10.0;

/// Labels every `k`-th of `n` slots so at most about 12 labels show.
fn label_every(n: usize) -> usize {
    n.div_ceil(12).max(1)
}

/// One KPI's chart: the PASS / WARN / FAIL bands around the prediction (the
/// dashed line), then on one axis the soak's value per window (`W1…`, squares)
/// and the dry run's actual per iteration (`I1…`, circles), with labelled y
/// ticks.
pub fn svg_chart(k: &KpiDoc) -> String {
    let soak = k.soak_values.as_deref().unwrap_or_default();
    let n_soak = soak.len();
    let slots = (n_soak + k.actuals.len()).max(1);
    // The y range: every value, but no further from the prediction than
    // CLIP_WARN_WIDTHS times the WARN band's half width, so one far outlier
    // does not squash the bands to a line; values beyond are drawn at the edge.
    let clip = match (k.bands, k.predicted) {
        (Some(b), Some(p)) => {
            let reach = (b.warn[1] - b.warn[0]) / 2.0 * CLIP_WARN_WIDTHS;
            (p - reach, p + reach)
        }
        _ => (f64::NEG_INFINITY, f64::INFINITY),
    };
    let mut values: Vec<f64> = soak
        .iter()
        .chain(&k.actuals)
        .flatten()
        .map(|v| v.clamp(clip.0, clip.1))
        .chain(k.predicted)
        .collect();
    if let Some(b) = k.bands {
        // Room for the FAIL zone beyond the WARN band's edges.
        let margin = (b.warn[1] - b.warn[0]) * 0.15;
        values.extend([b.warn[0] - margin, b.warn[1] + margin]);
    }
    let x_title = if n_soak > 0 {
        "soak window (W) · dry-run iteration (I)"
    } else {
        "dry-run iteration (I)"
    };
    let Some(plot) = Plot::new(420.0, 230.0, values) else {
        let (w, h) = (420.0, 230.0);
        return format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{} predicted vs actual"><rect x="0" y="0" width="{w}" height="{h}" fill="#fff" stroke="#d0d7de"/><text x="{}" y="{}" text-anchor="middle" fill="#57606a" font-size="12">no data</text></svg>"##,
            esc(&k.kpi),
            w / 2.0,
            h / 2.0
        );
    };
    let mut s = plot.open(&format!("{} predicted vs actual", k.kpi), &k.kpi, x_title);
    if let Some(b) = k.bands {
        plot.band(&mut s, plot.lo, plot.hi, FAIL_FILL, "FAIL");
        plot.band(
            &mut s,
            b.warn[0],
            b.warn[1],
            WARN_FILL,
            &format!("WARN {}", fmt_range(b.warn)),
        );
        plot.band(
            &mut s,
            b.pass[0],
            b.pass[1],
            PASS_FILL,
            &format!("PASS {}", fmt_range(b.pass)),
        );
    }
    plot.y_axis(&mut s);
    let step = (plot.right - plot.left) / slots as f64;
    let x = |i: usize| plot.left + step * (i as f64 + 0.5);
    let every = label_every(slots);
    for i in 0..slots {
        let (label, nth) = if i < n_soak {
            (format!("W{}", i + 1), i)
        } else {
            (format!("I{}", i - n_soak + 1), i - n_soak)
        };
        // The first of each run is always labelled.
        if nth % every == 0 && (i < n_soak || i - n_soak < k.actuals.len()) {
            plot.x_tick(&mut s, x(i), &label);
        }
    }
    if n_soak > 0 {
        let xd = plot.left + step * n_soak as f64;
        let _ = write!(
            s,
            r##"<line x1="{xd:.1}" y1="{:.1}" x2="{xd:.1}" y2="{:.1}" stroke="#57606a" stroke-width="1"/><text x="{:.1}" y="{:.1}" font-size="10" fill="{SOAK_COLOR}" text-anchor="end">soak ◀</text><text x="{:.1}" y="{:.1}" font-size="10" fill="{DRY_COLOR}">▶ dry run</text>"##,
            plot.top,
            plot.bottom,
            xd - 3.0,
            plot.top - 6.0,
            xd + 3.0,
            plot.top - 6.0
        );
    }
    if let Some(p) = k.predicted {
        let y = plot.y(p);
        let _ = write!(
            s,
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#0969da" stroke-dasharray="6 4" stroke-width="1.5"><title>predicted {}</title></line>"##,
            plot.left,
            plot.right,
            esc(&fmt_value(Some(p)))
        );
    }
    let series = |vals: &[Option<f64>], offset: usize| -> Vec<(f64, f64, usize, f64)> {
        vals.iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (x(offset + i), plot.y_in(v), i + 1, v)))
            .collect()
    };
    let polyline = |s: &mut String, pts: &[(f64, f64, usize, f64)], color: &str| {
        if pts.len() > 1 {
            let path: Vec<String> = pts
                .iter()
                .map(|p| format!("{:.1},{:.1}", p.0, p.1))
                .collect();
            let _ = write!(
                s,
                r##"<polyline points="{}" fill="none" stroke="{color}" stroke-width="1.5"/>"##,
                path.join(" ")
            );
        }
    };
    // A value off the chart is drawn hollow at the edge, its value beside it.
    let off = |s: &mut String, px: f64, py: f64, v: f64, color: &str| -> bool {
        if (plot.lo..=plot.hi).contains(&v) {
            return false;
        }
        let (arrow, ty) = if v > plot.hi {
            ("↑", py + 12.0)
        } else {
            ("↓", py - 5.0)
        };
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{ty:.1}" font-size="9" fill="{color}" class="off-chart">{arrow}{}</text>"##,
            px + 5.0,
            esc(&fmt_value(Some(v)))
        );
        true
    };
    let soak_pts = series(soak, 0);
    polyline(&mut s, &soak_pts, SOAK_COLOR);
    for (px, py, i, v) in &soak_pts {
        let hollow = off(&mut s, *px, *py, *v, SOAK_COLOR);
        let _ = write!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="6" height="6" fill="{}" stroke="{SOAK_COLOR}" class="soak"><title>window {i} soak {}</title></rect>"##,
            px - 3.0,
            py - 3.0,
            if hollow { "#fff" } else { SOAK_COLOR },
            esc(&fmt_value(Some(*v)))
        );
    }
    let dry_pts = series(&k.actuals, n_soak);
    polyline(&mut s, &dry_pts, DRY_COLOR);
    for (px, py, i, v) in &dry_pts {
        let hollow = off(&mut s, *px, *py, *v, DRY_COLOR);
        let _ = write!(
            s,
            r##"<circle cx="{px:.1}" cy="{py:.1}" r="3.5" fill="{}" stroke="{DRY_COLOR}"><title>iteration {i} actual {}</title></circle>"##,
            if hollow { "#fff" } else { DRY_COLOR },
            esc(&fmt_value(Some(*v)))
        );
    }
    s.push_str("</svg>");
    s
}

/// One path series of [`svg_path_chart`]: a label, a colour and the path.
pub struct PathSeries<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Stroke colour.
    pub color: &'a str,
    /// The points, oldest first.
    pub path: &'a [PathPoint],
}

/// Equity (`inventory = false`) or inventory over event time, one line per
/// series, each from its own start (x = seconds since the series' first
/// point); `None` when no series has a point.
pub fn svg_path_chart(series: &[PathSeries<'_>], inventory: bool) -> Option<String> {
    let value = |p: &PathPoint| if inventory { p.inventory } else { p.equity };
    let span_s = series
        .iter()
        .filter_map(|s| Some((s.path.last()?.t_ms - s.path.first()?.t_ms) as f64 / 1000.0))
        .fold(0.0_f64, f64::max)
        .max(1e-3);
    let plot = Plot::new(
        420.0,
        230.0,
        series
            .iter()
            .flat_map(|s| s.path.iter().map(value))
            .chain([0.0]),
    )
    .filter(|_| series.iter().any(|s| !s.path.is_empty()))?;
    let (y_title, what) = if inventory {
        ("inventory (base units)", "inventory")
    } else {
        ("equity, MTM incl. fees (quote)", "equity")
    };
    let mut s = plot.open(
        &format!("{what} over event time"),
        y_title,
        "event time since the run's first sample (s)",
    );
    plot.y_axis(&mut s);
    let x = |t_s: f64| plot.left + (plot.right - plot.left) * t_s / span_s;
    let (ticks, step) = nice_ticks(0.0, span_s);
    for t in ticks {
        plot.x_tick(&mut s, x(t), &fmt_tick(t, step));
    }
    for (n, se) in series.iter().enumerate() {
        let Some(first) = se.path.first() else {
            continue;
        };
        let pts: Vec<String> = se
            .path
            .iter()
            .map(|p| {
                format!(
                    "{:.1},{:.1}",
                    x((p.t_ms - first.t_ms) as f64 / 1000.0),
                    plot.y(value(p))
                )
            })
            .collect();
        let last = se.path.last().map_or(0.0, value);
        let _ = write!(
            s,
            r##"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5" class="path"><title>{} {what}, last {}</title></polyline>"##,
            pts.join(" "),
            se.color,
            esc(se.label),
            esc(&fmt_value(Some(last)))
        );
        let _ = write!(
            s,
            r##"<rect x="{lx:.1}" y="{ly:.1}" width="10" height="3" fill="{c}"/><text x="{tx:.1}" y="{ty:.1}" font-size="10" fill="{c}" class="legend">{label}</text>"##,
            lx = plot.left + 70.0 * n as f64,
            ly = plot.top - 9.0,
            tx = plot.left + 14.0 + 70.0 * n as f64,
            ty = plot.top - 6.0,
            c = se.color,
            label = esc(se.label)
        );
    }
    s.push_str("</svg>");
    Some(s)
}

/// The HTML page.
pub fn html(doc: &ReportDoc) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dry-run accuracy {id}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328}}table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:right}}th{{background:#f6f8fa}}td:first-child,th:first-child,td:last-child,th:last-child{{text-align:left}}td{{white-space:nowrap}}td:last-child{{white-space:normal}}.charts{{display:flex;flex-wrap:wrap;gap:1rem}}figure{{margin:0}}figcaption{{font-size:.85rem}}.badge{{font-weight:700}}.note{{color:#57606a;font-size:.9rem;max-width:60rem}}.sw{{display:inline-block;width:12px;height:10px;border:1px solid #d0d7de;vertical-align:middle}}</style></head><body>
<h1>Dry-run accuracy report <code>{id}</code></h1>
<p>Namespace <code>{env}:{ex}</code>, {it} iterations of {wm} ms. PASS &lt; {p} %, WARN {p}–{f} %, FAIL &gt; {f} %.</p>
<p>Dry-run model set: <code>{dm}</code></p>
<p>Strategy: <code>{st}</code></p>
<p>Soak model set checked: {sm}</p>
<p class="badge" style="color:{c}">Overall: {o}</p>
<p class="legend"><svg width="14" height="4"><line x1="0" y1="2" x2="14" y2="2" stroke="#0969da" stroke-dasharray="4 2" stroke-width="2"/></svg> predicted &nbsp; <svg width="10" height="10"><rect x="2" y="2" width="6" height="6" fill="{soak_c}"/></svg> soak per window (W) &nbsp; <svg width="10" height="10"><circle cx="5" cy="5" r="4" fill="{dry_c}"/></svg> dry-run actual per iteration (I) &nbsp; <span class="sw" style="background:{pass_f}"></span> PASS band &nbsp; <span class="sw" style="background:{warn_f}"></span> WARN band &nbsp; <span class="sw" style="background:{fail_f}"></span> FAIL</p>
<p class="note">Bands: an actual inside PASS grades PASS on its own (error &lt; {p} % of max(|predicted|, floor)), inside WARN at worst WARN (≤ {f} %); the KPI's MAPE is the mean of its iterations' errors. {soak_note}</p>
"##,
        soak_c = SOAK_COLOR,
        dry_c = DRY_COLOR,
        pass_f = PASS_FILL,
        warn_f = WARN_FILL,
        fail_f = FAIL_FILL,
        soak_note = match &doc.soak_series_source {
            Some(src) => format!("Soak values from {}.", esc(src)),
            None => format!(
                "<strong>{}.</strong>",
                esc(&capitalise(SOAK_SERIES_UNAVAILABLE))
            ),
        },
        id = esc(&doc.run_id),
        env = esc(&doc.env),
        ex = esc(&doc.exchange),
        it = doc.iterations,
        wm = doc.window_ms,
        p = doc.pass_below_pct,
        f = doc.fail_above_pct,
        c = status_color(doc.overall),
        o = doc.overall.label(),
        dm = esc(&doc.model_line()),
        st = esc(&doc.strategy_line()),
        sm = {
            let p = doc.prediction_models();
            if p.is_empty() {
                "none (no prediction)".to_string()
            } else {
                p.iter()
                    .map(|l| format!("<code>{}</code>", esc(l)))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }
    );
    for sym in &doc.symbols {
        let _ = write!(
            s,
            r#"<h2>{} <span class="badge" style="color:{}">{}</span></h2>"#,
            esc(&sym.symbol),
            status_color(sym.status),
            sym.status.label()
        );
        if !sym.has_prediction {
            s.push_str("<p>No prediction in the store for this symbol.</p>");
        }
        s.push_str("<table><tr><th>kpi</th><th>predicted</th><th>PASS band</th><th>WARN band</th><th>median actual</th><th>MAPE</th><th>status</th><th>note</th></tr>");
        for k in &sym.kpis {
            let (pass, warn) = k.bands.map_or(("—".into(), "—".into()), |b| {
                (fmt_range(b.pass), fmt_range(b.warn))
            });
            let _ = write!(
                s,
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style="color:{}">{}</td><td>{}</td></tr>"#,
                esc(&k.kpi),
                fmt_value(k.predicted),
                pass,
                warn,
                fmt_value(k.median_actual),
                fmt_pct(k.mape_pct),
                status_color(k.status),
                k.status.label(),
                esc(&k.note)
            );
        }
        s.push_str("</table><div class=\"charts\">");
        for k in &sym.kpis {
            let _ = write!(
                s,
                "<figure>{}<figcaption>{} — {}</figcaption></figure>",
                svg_chart(k),
                esc(&k.kpi),
                k.status.label()
            );
        }
        s.push_str("</div>");
        html_paths(&mut s, sym);
    }
    s.push_str("</body></html>\n");
    s
}

/// A symbol's equity and inventory charts with their numbers, or what is
/// missing.
fn html_paths(s: &mut String, sym: &SymbolDoc) {
    s.push_str("<h3>Equity and inventory</h3>");
    let soak = sym.soak_path.as_deref().unwrap_or_default();
    let series = [
        PathSeries {
            label: "soak",
            color: SOAK_COLOR,
            path: soak,
        },
        PathSeries {
            label: "dry run",
            color: DRY_COLOR,
            path: &sym.dry_run_path,
        },
    ];
    let line = |run: &str, e: Option<PathSummary>, known: bool| match (known, e) {
        (false, _) => format!("{run}: not available"),
        (true, None) => format!("{run}: no path recorded"),
        (true, Some(e)) => format!(
            "{run}: final equity {}, final inventory {}, max drawdown {}",
            fmt_value(Some(e.final_equity)),
            fmt_value(Some(e.final_inventory)),
            fmt_value(Some(e.max_drawdown))
        ),
    };
    let _ = write!(
        s,
        r#"<p class="note">{} · {}</p>"#,
        esc(&line("soak", sym.soak_equity, sym.soak_path.is_some())),
        esc(&line("dry run", sym.dry_run_equity, true))
    );
    match (
        svg_path_chart(&series, false),
        svg_path_chart(&series, true),
    ) {
        (Some(eq), Some(inv)) => {
            let _ = write!(
                s,
                r#"<div class="charts"><figure>{eq}<figcaption>equity — soak and dry run</figcaption></figure><figure>{inv}<figcaption>inventory — soak and dry run</figcaption></figure></div>"#
            );
        }
        _ => s.push_str("<p>No equity path in this report.</p>"),
    }
}

/// Writes the three report files into `dir`.
pub fn write_all(dir: &Path, doc: &ReportDoc) -> ClientResult<()> {
    crate::artifacts::create_dir(dir)?;
    write_json(&dir.join("DRYRUN_ACCURACY_REPORT.json"), doc)?;
    write_text(&dir.join("DRYRUN_ACCURACY_REPORT.md"), &markdown(doc))?;
    write_text(&dir.join("DRYRUN_ACCURACY_REPORT.html"), &html(doc))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> ReportDoc {
        ReportDoc {
            run_id: "dryrun-1".into(),
            env: "dev".into(),
            exchange: "bybit".into(),
            iterations: 3,
            window_ms: 60_000,
            pass_below_pct: 15.0,
            fail_above_pct: 30.0,
            overall: AccuracyStatus::Fail,
            model: Some(ModelSetInfo {
                name: "dryrun".into(),
                description: "fill=touch_dwell queue=risk_averse".into(),
            }),
            strategy: Some(StrategyInfo {
                name: "quoting-strategy-rust".into(),
                version: "0.1.0".into(),
                address: "127.0.0.1:50060".into(),
            }),
            soak_series_source: None,
            symbols: vec![SymbolDoc {
                symbol: "BTCUSDT".into(),
                has_prediction: true,
                status: AccuracyStatus::Fail,
                prediction_run_id: "soak-1".into(),
                prediction_model: Some(ModelSetInfo {
                    name: "shadow".into(),
                    description: "fill=touch_dwell queue=front".into(),
                }),
                kpis: vec![KpiDoc {
                    kpi: "edge_bps".into(),
                    predicted: Some(30.0),
                    actuals: vec![Some(2.0), None, Some(4.0)],
                    median_actual: Some(3.0),
                    mape_pct: Some(90.0),
                    status: AccuracyStatus::Fail,
                    note: "1 iteration(s) without a value".into(),
                    bands: BandsDoc::new("edge_bps", Some(30.0), &AccuracyThresholds::default()),
                    soak_values: None,
                }],
                dry_run_path: Vec::new(),
                dry_run_equity: None,
                soak_path: None,
                soak_equity: None,
            }],
        }
    }

    #[test]
    fn svg_has_a_point_per_measured_iteration_and_the_prediction_line() {
        let svg = svg_chart(&doc().symbols[0].kpis[0]);
        assert_eq!(svg.matches("<circle").count(), 2);
        assert_eq!(svg.matches("stroke-dasharray").count(), 1);
        assert!(svg.contains("<title>predicted 30.00</title>"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn markdown_and_html_carry_the_numbers() {
        let d = doc();
        let md = markdown(&d);
        assert!(
            md.contains("| BTCUSDT | edge_bps | 30.00 | 3.00 | 90.0 % | FAIL | 2.00, —, 4.00 |"),
            "{md}"
        );
        assert!(md.contains("**Overall: FAIL**"));
        assert!(
            md.contains("Dry-run model set: `dryrun (fill=touch_dwell queue=risk_averse)`"),
            "{md}"
        );
        assert!(
            md.contains("Soak model set checked: `shadow (fill=touch_dwell queue=front)`"),
            "{md}"
        );
        assert!(
            md.contains("Strategy: `quoting-strategy-rust 0.1.0 at 127.0.0.1:50060`"),
            "{md}"
        );
        let page = html(&d);
        assert!(page.contains(
            "<p>Strategy: <code>quoting-strategy-rust 0.1.0 at 127.0.0.1:50060</code></p>"
        ));
        assert!(page.contains("Overall: FAIL"));
        assert!(page.contains(
            "<p>Dry-run model set: <code>dryrun (fill=touch_dwell queue=risk_averse)</code></p>"
        ));
        assert!(page.contains(
            "<p>Soak model set checked: <code>shadow (fill=touch_dwell queue=front)</code></p>"
        ));
        assert_eq!(page.matches("<svg xmlns").count(), 1);
        assert!(
            !page.contains("http://")
                || page.matches("http://").count()
                    == page.matches("xmlns=\"http://www.w3.org/2000/svg\"").count(),
            "no external resources"
        );
    }

    /// The texts of the `<text class="{class}">` elements of an SVG.
    fn texts(svg: &str, class: &str) -> Vec<String> {
        let tag = format!(r#"class="{class}">"#);
        svg.match_indices(&tag)
            .map(|(i, _)| {
                let rest = &svg[i + tag.len()..];
                rest[..rest.find("</text>").unwrap()].to_string()
            })
            .collect()
    }

    /// The numeric attribute `name` of the first element starting with `start`.
    fn attr(svg: &str, start: &str, name: &str) -> f64 {
        let el = &svg[svg.find(start).unwrap()..];
        let key = format!(r#" {name}=""#);
        let v = &el[el.find(&key).unwrap() + key.len()..];
        v[..v.find('"').unwrap()].parse().unwrap()
    }

    #[test]
    fn bands_follow_the_grading_edges_in_the_doc_and_the_chart() {
        let d = doc();
        let k = &d.symbols[0].kpis[0];
        // edge_bps 30: scale 30, PASS ± 4.5, WARN ± 9.
        let b = k.bands.unwrap();
        assert_eq!(
            (b.pass, b.warn, b.scale, b.floored),
            ([25.5, 34.5], [21.0, 39.0], 30.0, false)
        );
        // Below its floor a prediction's bands are the floor's: risk 0.02 → ± 0.015 / ± 0.03.
        let r = BandsDoc::new("risk_ratio", Some(0.02), &AccuracyThresholds::default()).unwrap();
        assert!(r.floored && r.scale == 0.1);
        assert!((r.pass[1] - 0.035).abs() < 1e-12 && (r.warn[0] + 0.01).abs() < 1e-12);

        let svg = svg_chart(k);
        assert!(svg.contains("<title>PASS 25.50..34.50</title>"), "{svg}");
        assert!(svg.contains("<title>WARN 21.00..39.00</title>"));
        assert!(svg.contains("<title>FAIL</title>"));
        // Values 2 and 4 and the FAIL margin beyond 21..39: ticks every 10.
        assert_eq!(texts(&svg, "y-tick"), ["0", "10", "20", "30", "40"]);
        assert_eq!(texts(&svg, "x-tick"), ["I1", "I2", "I3"]);
        assert_eq!(texts(&svg, "x-title"), ["dry-run iteration (I)"]);
        // The PASS band spans y(34.5)..y(25.5) and the actual 4 is drawn below
        // the WARN band (in the FAIL zone), the y of 30 on the dashed line.
        let y_tick = |label: &str| {
            let at = svg
                .find(&format!(r#"class="y-tick">{label}</text>"#))
                .unwrap();
            let line = svg[..at].rfind("<line").unwrap();
            attr(&svg[line..], "<line", "y1")
        };
        let (y20, y30) = (y_tick("20"), y_tick("30"));
        let per = (y20 - y30) / 10.0;
        let pass_at = svg.find(r##"fill="#dafbe1""##).unwrap();
        let pass_rect = &svg[svg[..pass_at].rfind("<rect").unwrap()..];
        let (py, ph) = (
            attr(pass_rect, "<rect", "y"),
            attr(pass_rect, "<rect", "height"),
        );
        assert!(
            (py - (y30 - 4.5 * per)).abs() < 0.11,
            "{py} vs {}",
            y30 - 4.5 * per
        );
        assert!((ph - 9.0 * per).abs() < 0.11, "{ph}");
        let warn_at = svg.find(r##"fill="#fff1c2""##).unwrap();
        let warn_rect = &svg[svg[..warn_at].rfind("<rect").unwrap()..];
        let warn_bottom = attr(warn_rect, "<rect", "y") + attr(warn_rect, "<rect", "height");
        let circles: Vec<f64> = svg
            .match_indices("<circle")
            .map(|(i, _)| attr(&svg[i..], "<circle", "cy"))
            .collect();
        assert_eq!(circles.len(), 2);
        assert!(
            circles.iter().all(|&cy| cy > warn_bottom),
            "{circles:?} {warn_bottom}"
        );
        let dash = svg.find("stroke-dasharray").unwrap();
        let dashed = &svg[svg[..dash].rfind("<line").unwrap()..];
        assert!((attr(dashed, "<line", "y1") - y30).abs() < 0.11);
    }

    fn soak_summaries() -> Vec<IterSummary> {
        use shadowkpi_domain::kpi::KpiSet;
        use shadowkpi_domain::summary::SymbolSummary;
        let window = |iteration: u32, edge: f64, path: Vec<PathPoint>| {
            let mut s = IterSummary {
                iteration,
                ..IterSummary::default()
            };
            s.symbols.insert(
                "BTCUSDT".into(),
                SymbolSummary {
                    summary: KpiSet {
                        edge_bps: Some(edge),
                        ..KpiSet::default()
                    },
                    path,
                    ..SymbolSummary::default()
                },
            );
            s
        };
        let pt = |t_ms: i64, equity: f64, inventory: f64| PathPoint {
            t_ms,
            equity,
            inventory,
        };
        // Given out of order: the report sorts by iteration.
        vec![
            window(2, 28.0, vec![pt(2_000, 1.0, 0.5), pt(3_000, -2.0, 0.25)]),
            window(1, 31.0, vec![pt(0, 0.0, 0.0), pt(1_000, 3.0, 1.0)]),
        ]
    }

    #[test]
    fn soak_windows_sit_next_to_the_dry_run_on_one_axis() {
        let mut d = doc();
        d.attach_soak(&soak_summaries(), "the ITER_SUMMARY files of soak s1");
        let sym = &d.symbols[0];
        assert_eq!(sym.kpis[0].soak_values, Some(vec![Some(31.0), Some(28.0)]));
        let e = sym.soak_equity.unwrap();
        // peak 3 then −2: drawdown 5
        assert_eq!(
            (e.final_equity, e.final_inventory, e.max_drawdown, e.points),
            (-2.0, 0.25, 5.0, 4)
        );
        let svg = svg_chart(&sym.kpis[0]);
        assert_eq!(texts(&svg, "x-tick"), ["W1", "W2", "I1", "I2", "I3"]);
        assert_eq!(
            texts(&svg, "x-title"),
            ["soak window (W) · dry-run iteration (I)"]
        );
        assert_eq!(svg.matches(r#"class="soak""#).count(), 2);
        assert!(svg.contains("<title>window 1 soak 31.00</title>"));
        assert_eq!(svg.matches("<circle").count(), 2);

        let md = markdown(&d);
        assert!(
            md.contains("Soak values from the ITER_SUMMARY files of soak s1."),
            "{md}"
        );
        assert!(
            md.contains("| BTCUSDT | edge_bps | 31.00, 28.00 | 2.00, —, 4.00 |"),
            "{md}"
        );
        assert!(
            md.contains("| BTCUSDT | soak | -2.00 | 0.250 | 5.00 | 4 |"),
            "{md}"
        );
        assert!(
            md.contains("| BTCUSDT | dry run | no path recorded | — | — | — |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| 2.00, —, 4.00 | 25.50..34.50 | 21.00..39.00 | 1 iteration(s) without a value |"
            ),
            "{md}"
        );
        let page = html(&d);
        assert_eq!(
            page.matches("<svg xmlns").count(),
            3,
            "a KPI chart, equity and inventory"
        );
        assert!(
            page.contains("soak: final equity -2.00, final inventory 0.250, max drawdown 5.00")
        );
    }

    #[test]
    fn a_report_without_the_soak_series_says_so() {
        let d = doc();
        let md = markdown(&d);
        assert!(
            md.contains(
                "Soak per-window values and equity path not available: `validate` reads only"
            ),
            "{md}"
        );
        assert!(
            md.contains("| BTCUSDT | soak | not available | — | — | — |"),
            "{md}"
        );
        let page = html(&d);
        assert!(page.contains("<strong>Soak per-window values and equity path not available"));
        assert!(page.contains("<p>No equity path in this report.</p>"));
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["soak_series_source"], serde_json::Value::Null);
        let k = &json["symbols"][0]["kpis"][0];
        assert_eq!(k["bands"]["pass"], serde_json::json!([25.5, 34.5]));
        assert_eq!(k["bands"]["warn"], serde_json::json!([21.0, 39.0]));
        assert_eq!(k["soak_values"], serde_json::Value::Null);
        assert_eq!(json["symbols"][0]["soak_path"], serde_json::Value::Null);
        assert_eq!(json["symbols"][0]["dry_run_path"], serde_json::json!([]));
    }

    #[test]
    fn the_equity_chart_has_labelled_axes_and_a_line_per_run() {
        let soak = [
            PathPoint {
                t_ms: 10_000,
                equity: 0.0,
                inventory: 0.0,
            },
            PathPoint {
                t_ms: 11_000,
                equity: 5.0,
                inventory: 1.0,
            },
            PathPoint {
                t_ms: 12_000,
                equity: -5.0,
                inventory: -1.0,
            },
        ];
        let dry = [PathPoint {
            t_ms: 90_000,
            equity: 1.0,
            inventory: 0.5,
        }];
        let series = [
            PathSeries {
                label: "soak",
                color: SOAK_COLOR,
                path: &soak,
            },
            PathSeries {
                label: "dry run",
                color: DRY_COLOR,
                path: &dry,
            },
        ];
        let eq = svg_path_chart(&series, false).unwrap();
        // −5..5 padded: ticks every 2; 2 s of event time: ticks every 0.5 s.
        assert_eq!(texts(&eq, "y-tick"), ["-4", "-2", "0", "2", "4"]);
        assert_eq!(texts(&eq, "x-tick"), ["0.0", "0.5", "1.0", "1.5", "2.0"]);
        assert_eq!(texts(&eq, "legend"), ["soak", "dry run"]);
        assert_eq!(eq.matches(r#"class="path""#).count(), 2);
        assert!(eq.contains("<title>soak equity, last -5.00</title>"));
        let inv = svg_path_chart(&series, true).unwrap();
        assert!(inv.contains("inventory (base units)"));
        assert!(inv.contains("<title>dry run inventory, last 0.500</title>"));
        let none = [PathSeries {
            label: "soak",
            color: SOAK_COLOR,
            path: &[],
        }];
        assert_eq!(svg_path_chart(&none, false), None);
    }

    #[test]
    fn a_far_outlier_is_drawn_at_the_edge_with_its_value_not_squashing_the_bands() {
        let mut d = doc();
        let k = &mut d.symbols[0].kpis[0];
        // WARN half width 9: the axis reaches at most 30 ± 90.
        k.actuals = vec![Some(2.0), Some(3000.0), Some(4.0)];
        let svg = svg_chart(k);
        assert_eq!(texts(&svg, "off-chart"), ["↑3000"]);
        let ticks = texts(&svg, "y-tick");
        let top: f64 = ticks.last().unwrap().parse().unwrap();
        assert!(top <= 130.0, "{ticks:?}");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("<title>iteration 2 actual 3000</title>"));
    }

    #[test]
    fn ticks_are_round_and_labelled_with_the_decimals_they_need() {
        assert_eq!(
            nice_ticks(-0.38, 44.08),
            (vec![0.0, 10.0, 20.0, 30.0, 40.0], 10.0)
        );
        let (t, step) = nice_ticks(0.1, 0.95);
        assert_eq!(step, 0.2);
        assert_eq!(
            t.iter().map(|v| fmt_tick(*v, step)).collect::<Vec<_>>(),
            ["0.2", "0.4", "0.6", "0.8"]
        );
        assert_eq!(fmt_tick(-0.0, 1.0), "0");
        assert_eq!(fmt_tick(2500.0, 500.0), "2500");
    }
}
