//! The benchmark report: sections of rows, each an absolute figure with the
//! bare-client figure of the same run and their ratio; printed as a table and
//! written as Markdown and JSON.

use std::fmt::Write as _;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use crate::error::{BenchError, BenchResult};

/// Whether a ratio meets its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// At or above the target.
    Pass,
    /// Under the target.
    Below,
}

impl Verdict {
    /// `PASS` or `BELOW`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Below => "BELOW",
        }
    }
}

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// What was measured.
    pub name: String,
    /// The median of the runs.
    pub value: f64,
    /// Unit of `value` and `bare` (`ticks/s`, `symbols/s`, `ms`, `MiB`).
    pub unit: &'static str,
    /// Every run, in order.
    pub runs: Vec<f64>,
    /// The bare client's median for the same Redis work, same run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bare: Option<f64>,
    /// Every bare run, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bare_runs: Vec<f64>,
    /// The median of the per-run ratios `run / bare run` (runs are paired,
    /// each next to a bare run); `value / bare` when they are not paired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    /// The ratio this figure must reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    /// True when `value` must stay at or under `target` (instead of the
    /// ratio reaching it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub at_most: bool,
    /// True when `value` itself must reach `target` (instead of the ratio).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub at_least: bool,
    /// Target met or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// A short remark shown next to the figure.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Row {
    /// A figure without a bare counterpart (the median of `runs`).
    pub fn plain(name: impl Into<String>, unit: &'static str, runs: Vec<f64>) -> Self {
        Self {
            name: name.into(),
            value: median(&runs),
            unit,
            runs,
            bare: None,
            bare_runs: Vec::new(),
            ratio: None,
            target: None,
            at_most: false,
            at_least: false,
            verdict: None,
            note: String::new(),
        }
    }

    /// A figure next to the bare client's (medians of both).
    pub fn versus(
        name: impl Into<String>,
        unit: &'static str,
        runs: Vec<f64>,
        bare_runs: Vec<f64>,
    ) -> Self {
        let mut r = Self::plain(name, unit, runs);
        let bare = median(&bare_runs);
        r.bare = Some(bare);
        // Each run sits next to a bare run: the median of their ratios
        // cancels the drift of a shared machine better than a ratio of
        // medians does.
        let pairs: Vec<f64> = r
            .runs
            .iter()
            .zip(&bare_runs)
            .filter(|(_, b)| **b > 0.0)
            .map(|(a, b)| a / b)
            .collect();
        r.ratio = if pairs.len() == r.runs.len() && !pairs.is_empty() {
            Some(median(&pairs))
        } else {
            (bare > 0.0).then(|| r.value / bare)
        };
        r.bare_runs = bare_runs;
        r
    }

    /// Sets the target ratio and the verdict.
    pub fn target(mut self, target: f64) -> Self {
        self.target = Some(target);
        self.verdict = self.ratio.map(|r| {
            if r >= target {
                Verdict::Pass
            } else {
                Verdict::Below
            }
        });
        self
    }

    /// Sets an upper bound on the value itself, and the verdict.
    pub fn at_most(mut self, limit: f64) -> Self {
        self.target = Some(limit);
        self.at_most = true;
        self.verdict = Some(if self.value <= limit {
            Verdict::Pass
        } else {
            Verdict::Below
        });
        self
    }

    /// Sets a lower bound on the value itself (not the ratio), and the
    /// verdict.
    pub fn at_least(mut self, limit: f64) -> Self {
        self.target = Some(limit);
        self.at_least = true;
        self.verdict = Some(if self.value >= limit {
            Verdict::Pass
        } else {
            Verdict::Below
        });
        self
    }

    /// The target as printed (`≥ 0.80`, `≤ 1.10`).
    pub fn target_text(&self) -> String {
        match self.target {
            Some(t) if self.at_most => format!("≤ {t:.2}"),
            Some(t) if self.at_least => format!("≥ {} {}", fmt_number(t), self.unit),
            Some(t) => format!("≥ {t:.2}"),
            None => String::new(),
        }
    }

    /// Adds a remark.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }
}

/// One part of the benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// Stable id (`ingest_throughput`, …).
    pub id: &'static str,
    /// Title for humans.
    pub title: &'static str,
    /// What was run, in one or two sentences.
    pub setup: String,
    /// The figures.
    pub rows: Vec<Row>,
    /// Observations (counters, fallbacks).
    pub notes: Vec<String>,
}

impl Section {
    /// An empty section.
    pub fn new(id: &'static str, title: &'static str, setup: impl Into<String>) -> Self {
        Self {
            id,
            title,
            setup: setup.into(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// The machine the benchmark ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPU model.
    pub cpu: String,
    /// Cores available to this process.
    pub cores: usize,
    /// Total memory, GiB.
    pub memory_gib: f64,
    /// Operating system and kernel.
    pub os: String,
    /// `release` or `debug`.
    pub build: &'static str,
}

impl Machine {
    /// Reads what `/proc` tells (best effort; unknown fields say so).
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_gib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / (1024.0 * 1024.0));
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Self {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: (memory_gib * 10.0).round() / 10.0,
            os: format!("{} {kernel}", std::env::consts::OS)
                .trim()
                .to_string(),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Format of this file.
    pub schema: &'static str,
    /// True for the `--quick` smoke run (small sizes, figures not meaningful).
    pub quick: bool,
    /// The command that produced it.
    pub command: String,
    /// When it started (UTC).
    pub started_at: String,
    /// Wall time of the whole benchmark, seconds.
    pub elapsed_s: f64,
    /// The machine.
    pub machine: Machine,
    /// Redis version and whether the benchmark started its own server.
    pub redis: String,
    /// Runs per measurement (the median is reported).
    pub runs: usize,
    /// The parts, in order.
    pub sections: Vec<Section>,
}

impl BenchReport {
    /// Rows with a target, and how many of them pass.
    pub fn targets(&self) -> (usize, usize) {
        let with: Vec<&Row> = self
            .sections
            .iter()
            .flat_map(|s| &s.rows)
            .filter(|r| r.verdict.is_some())
            .collect();
        let pass = with
            .iter()
            .filter(|r| r.verdict == Some(Verdict::Pass))
            .count();
        (with.len(), pass)
    }

    /// The table for the terminal.
    pub fn table(&self) -> String {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header([
            "section",
            "measurement",
            "value",
            "bare",
            "ratio",
            "target",
            "",
        ]);
        for s in &self.sections {
            for r in &s.rows {
                t.add_row([
                    s.id.to_string(),
                    r.name.clone(),
                    fmt_value(r.value, r.unit),
                    r.bare.map(|b| fmt_value(b, r.unit)).unwrap_or_default(),
                    r.ratio.map(|x| format!("{x:.2}")).unwrap_or_default(),
                    r.target_text(),
                    r.verdict
                        .map(|v| v.as_str().to_string())
                        .unwrap_or_default(),
                ]);
            }
        }
        t.to_string()
    }

    /// The JSON report, pretty-printed.
    pub fn json(&self) -> BenchResult<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| BenchError::Failed(format!("bench: report: {e}")))
    }

    /// The Markdown report.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let m = &self.machine;
        let _ = writeln!(md, "# shadowkpi benchmark\n");
        if self.quick {
            let _ = writeln!(
                md,
                "> `--quick` smoke run: sizes are tiny, the figures only show that every part runs.\n"
            );
        }
        let _ = writeln!(md, "- command: `{}`", self.command);
        let _ = writeln!(md, "- started: {}", self.started_at);
        let _ = writeln!(
            md,
            "- machine: {} ({} cores), {:.1} GiB, {}; {} build",
            m.cpu, m.cores, m.memory_gib, m.os, m.build
        );
        let _ = writeln!(md, "- redis: {}", self.redis);
        let _ = writeln!(
            md,
            "- runs per figure: {} (median reported; each run next to a bare run, alternating which goes first; ratio = median of the per-run ratios)",
            self.runs
        );
        let _ = writeln!(md, "- total time: {:.0} s", self.elapsed_s);
        let (n, pass) = self.targets();
        let _ = writeln!(md, "- targets met: {pass} of {n}\n");
        for s in &self.sections {
            let _ = writeln!(md, "## {}\n", s.title);
            let _ = writeln!(md, "{}\n", s.setup);
            let _ = writeln!(
                md,
                "| measurement | value | bare | ratio | target | verdict | runs | note |"
            );
            let _ = writeln!(md, "|---|---:|---:|---:|---:|---|---|---|");
            for r in &s.rows {
                let runs: Vec<String> = r.runs.iter().map(|v| fmt_number(*v)).collect();
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    r.name,
                    fmt_value(r.value, r.unit),
                    r.bare.map(|b| fmt_value(b, r.unit)).unwrap_or_default(),
                    r.ratio.map(|x| format!("{x:.2}")).unwrap_or_default(),
                    r.target_text(),
                    r.verdict.map(|v| v.as_str()).unwrap_or_default(),
                    runs.join(" / "),
                    r.note,
                );
            }
            if !s.notes.is_empty() {
                md.push('\n');
                for n in &s.notes {
                    let _ = writeln!(md, "- {n}");
                }
            }
            md.push('\n');
        }
        md
    }
}

/// The median (the mean of the middle two for an even count); 0 when empty.
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The `q`-quantile (0..=1) of sorted values, nearest rank.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A number with thousands separators or a few decimals, as it reads best.
pub fn fmt_number(v: f64) -> String {
    if v.abs() >= 1000.0 {
        let s = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if v < 0.0 { format!("-{out}") } else { out }
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn fmt_value(v: f64, unit: &str) -> String {
    format!("{} {unit}", fmt_number(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_quantiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&s, 0.5), 50.0);
        assert_eq!(quantile(&s, 0.99), 99.0);
        assert_eq!(quantile(&s, 1.0), 100.0);
    }

    #[test]
    fn ratios_get_verdicts() {
        let r = Row::versus("x", "ticks/s", vec![80.0], vec![100.0]).target(0.8);
        assert_eq!(r.ratio, Some(0.8));
        assert_eq!(r.verdict, Some(Verdict::Pass));
        let r = Row::versus("x", "ticks/s", vec![79.0], vec![100.0]).target(0.8);
        assert_eq!(r.verdict, Some(Verdict::Below));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(fmt_number(1_234_567.4), "1,234,567");
        assert_eq!(fmt_number(123.4), "123");
        assert_eq!(fmt_number(12.34), "12.3");
        assert_eq!(fmt_number(0.834), "0.83");
    }
}
