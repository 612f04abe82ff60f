//! The dry-run accuracy report as Markdown, JSON and a self-contained HTML page
//! with one SVG chart per symbol and KPI (prediction against the actual of
//! every iteration; no network needed to view it).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use shadowkpi_domain::accuracy::AccuracyStatus;
use shadowkpi_domain::summary::ModelSetInfo;
use shadowkpi_proto::convert::accuracy_status_from_wire;
use shadowkpi_proto::v1::{AccuracyReport, KpiAccuracy};

use crate::artifacts::{write_json, write_text};
use crate::error::CliResult;

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
    /// Per-symbol results.
    pub symbols: Vec<SymbolDoc>,
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
}

fn kpi_doc(k: &KpiAccuracy) -> KpiDoc {
    KpiDoc {
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
        ReportDoc {
            run_id: r.run_id.clone(),
            env: r.env.clone(),
            exchange: r.exchange.clone(),
            iterations: r.iterations,
            window_ms: r.window_ms,
            pass_below_pct: t.pass_below_pct.unwrap_or(15.0),
            fail_above_pct: t.fail_above_pct.unwrap_or(30.0),
            overall: accuracy_status_from_wire(r.overall),
            model: r.model.clone().map(Into::into),
            symbols: r
                .symbols
                .iter()
                .map(|s| SymbolDoc {
                    symbol: s.symbol.clone(),
                    has_prediction: s.has_prediction,
                    status: accuracy_status_from_wire(s.status),
                    prediction_run_id: s.prediction_run_id.clone(),
                    prediction_model: s.prediction_model.clone().map(Into::into),
                    kpis: s.kpis.iter().map(kpi_doc).collect(),
                })
                .collect(),
        }
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
        "| symbol | kpi | predicted | median actual | MAPE | status | actuals per iteration | note |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---|---|---|");
    for sym in &doc.symbols {
        for k in &sym.kpis {
            let actuals: Vec<String> = k.actuals.iter().map(|a| fmt_value(*a)).collect();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                sym.symbol,
                k.kpi,
                fmt_value(k.predicted),
                fmt_value(k.median_actual),
                fmt_pct(k.mape_pct),
                k.status.label(),
                actuals.join(", "),
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
         where the KPI was measured (floors: {}). NO_PREDICTION and NO_DATA block a go-live like FAIL.",
        floors.join(", ")
    );
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

/// One SVG chart: the actual per iteration as points joined by a line, the
/// prediction as a dashed horizontal line.
pub fn svg_chart(k: &KpiDoc) -> String {
    let (w, h, pad) = (360.0, 160.0, 30.0);
    let values: Vec<f64> = k
        .actuals
        .iter()
        .flatten()
        .copied()
        .chain(k.predicted)
        .collect();
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{} predicted vs actual">"#,
        esc(&k.kpi)
    );
    let _ = write!(
        s,
        r##"<rect x="0" y="0" width="{w}" height="{h}" fill="#fff" stroke="#d0d7de"/>"##
    );
    if values.is_empty() {
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#57606a" font-size="12">no data</text></svg>"##,
            w / 2.0,
            h / 2.0
        );
        return s;
    }
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if (hi - lo).abs() < 1e-12 {
        lo -= 1.0_f64.max(lo.abs() * 0.1);
        hi += 1.0_f64.max(hi.abs() * 0.1);
    }
    let n = k.actuals.len().max(2);
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / (n - 1) as f64;
    let y = |v: f64| h - pad - (h - 2.0 * pad) * (v - lo) / (hi - lo);
    let _ = write!(
        s,
        r##"<text x="4" y="{}" font-size="10" fill="#57606a">{}</text><text x="4" y="{}" font-size="10" fill="#57606a">{}</text>"##,
        pad - 4.0,
        esc(&fmt_value(Some(hi))),
        h - pad + 12.0,
        esc(&fmt_value(Some(lo)))
    );
    if let Some(p) = k.predicted {
        let _ = write!(
            s,
            r##"<line x1="{pad}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#0969da" stroke-dasharray="6 4" stroke-width="1.5"><title>predicted {2}</title></line>"##,
            y(p),
            w - pad,
            esc(&fmt_value(Some(p)))
        );
    }
    let pts: Vec<(f64, f64, f64)> = k
        .actuals
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (x(i), y(v), v)))
        .collect();
    if pts.len() > 1 {
        let path: Vec<String> = pts
            .iter()
            .map(|(px, py, _)| format!("{px:.1},{py:.1}"))
            .collect();
        let _ = write!(
            s,
            r##"<polyline points="{}" fill="none" stroke="#8250df" stroke-width="1.5"/>"##,
            path.join(" ")
        );
    }
    for (i, (px, py, v)) in pts.iter().enumerate() {
        let _ = write!(
            s,
            r##"<circle cx="{px:.1}" cy="{py:.1}" r="3.5" fill="#8250df"><title>iteration {} actual {}</title></circle>"##,
            i + 1,
            esc(&fmt_value(Some(*v)))
        );
    }
    s.push_str("</svg>");
    s
}

/// The HTML page.
pub fn html(doc: &ReportDoc) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dry-run accuracy {id}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328}}table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:right}}th{{background:#f6f8fa}}td:first-child,th:first-child{{text-align:left}}.charts{{display:flex;flex-wrap:wrap;gap:1rem}}figure{{margin:0}}figcaption{{font-size:.85rem}}.badge{{font-weight:700}}</style></head><body>
<h1>Dry-run accuracy report <code>{id}</code></h1>
<p>Namespace <code>{env}:{ex}</code>, {it} iterations of {wm} ms. PASS &lt; {p} %, WARN {p}–{f} %, FAIL &gt; {f} %.</p>
<p>Dry-run model set: <code>{dm}</code></p>
<p>Soak model set checked: {sm}</p>
<p class="badge" style="color:{c}">Overall: {o}</p>
<p><svg width="14" height="4"><line x1="0" y1="2" x2="14" y2="2" stroke="#0969da" stroke-dasharray="4 2" stroke-width="2"/></svg> predicted &nbsp; <svg width="10" height="10"><circle cx="5" cy="5" r="4" fill="#8250df"/></svg> actual per iteration</p>
"##,
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
        s.push_str("<table><tr><th>kpi</th><th>predicted</th><th>median actual</th><th>MAPE</th><th>status</th><th>note</th></tr>");
        for k in &sym.kpis {
            let _ = write!(
                s,
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style="color:{}">{}</td><td>{}</td></tr>"#,
                esc(&k.kpi),
                fmt_value(k.predicted),
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
    }
    s.push_str("</body></html>\n");
    s
}

/// Writes the three report files into `dir`.
pub fn write_all(dir: &Path, doc: &ReportDoc) -> CliResult<()> {
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
                }],
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
        let page = html(&d);
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
}
