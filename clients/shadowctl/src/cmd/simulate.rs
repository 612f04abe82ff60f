//! `shadowctl simulate FILE…`: the shadow engine offline on recorded files,
//! no services and no Redis. Reads the files with the `feed replay` readers
//! ([`shadowkpi_feed::read_replay`]), runs
//! [`shadowkpi_domain::simulate::simulate`], and prints a table per symbol
//! (one row per window) and the gate's verdict, or the report as one JSON
//! document with `--json`. This module only parses flags and prints.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use shadowkpi_domain::feed::split::format_utc;
use shadowkpi_domain::gate::GateThresholds;
use shadowkpi_domain::simulate::{
    DEFAULT_MODEL, Recording, SimulateConfig, SimulationReport, simulate,
};
use shadowkpi_feed::{ReplayFormat, ReplaySource, read_replay};

use crate::cmd::feed::{ClockArg, FormatArg};
use crate::error::{CliError, CliResult, EXIT_GATE};
use crate::globals::GlobalArgs;

const SIMULATE_HELP: &str = concat!(
    "Examples:\n  shadowctl simulate data/binance-btcusdt-2024-08-08/usdm_quotes.csv.gz data/binance-btcusdt-2024-08-08/usdm_trades.csv.gz\n  shadowctl simulate data/binance-btcusdt-2024-08-08/usdm_*.csv.gz --window 30s --model dryrun --min-windows 10 --json\n  shadowctl simulate day.jsonl --symbols BTCUSDT --profile profiles/tuned.json --preset maker_bias_uplift_v1 --fail-on-hold\n\nRuns the strategy on the simulated exchange over the files, in event-time windows\nfrom the first tick, and gates the windows as a soak does (median of the windows;\nthe contract's thresholds, --min-windows like soak). Nothing is written and no\nservice or Redis is needed. By default every window the data covers is kept, the\nlast one partial when the recording ends inside it. --json prints one document:\nsymbols.<SYMBOL>.{instrument, windows[], totals}, verdict, model, params.\n\nExit codes: 0 done (GO, or HOLD without --fail-on-hold), 1 HOLD with --fail-on-hold,\n2 bad input (a missing or empty file, a CSV header without the clock's column, a\nsymbol the files do not hold: the message names the files and the symbols they hold).\n\n",
    crate::clock_help!()
);

/// Flags of `shadowctl simulate`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = SIMULATE_HELP)]
pub struct SimulateArgs {
    /// Recorded files: JSON Lines of ticks (one after the other) or Tardis CSV
    /// quotes/trades (merged by --clock), plain or gzipped.
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Symbols to run (any spelling) [default: every symbol in the files].
    #[arg(id = "simulate_symbols", long = "symbols", value_name = "SYMBOL", num_args = 1..)]
    pub symbols: Vec<String>,
    /// Strategy profile file [default: the built-in profile].
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Preset of the profile.
    #[arg(long)]
    pub preset: Option<String>,
    /// Model set of the profile (built in: lenient, shadow, dryrun).
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: String,
    /// Window length in event time.
    #[arg(long, default_value = "60s", value_parser = shadowkpi_runtime::parse_duration)]
    pub window: Duration,
    /// Windows to keep [default: every window the data covers].
    #[arg(long)]
    pub iterations: Option<u32>,
    /// Clock Tardis CSV files are merged by (ignored for JSON Lines).
    #[arg(long, value_enum, default_value_t = ClockArg::Local)]
    pub clock: ClockArg,
    /// File format.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// Seed of every random model.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Gate: fewest windows a symbol needs [default: 48].
    #[arg(long)]
    pub min_windows: Option<u32>,
    /// Exit 1 when the verdict is HOLD.
    #[arg(long)]
    pub fail_on_hold: bool,
}

/// Reads the files and simulates; every input problem is a usage error (2).
pub fn report(args: &SimulateArgs) -> CliResult<SimulationReport> {
    let profile = match &args.profile {
        Some(p) => shadowd::load_profile(p).map_err(CliError::Usage)?,
        None => shadowd::builtin_profile(),
    };
    let mut sources = Vec::with_capacity(args.files.len());
    for f in &args.files {
        sources.push(ReplaySource::open(f).map_err(|e| CliError::Usage(e.to_string()))?);
    }
    let format = match args.format {
        FormatArg::Auto => ReplayFormat::Auto,
        FormatArg::Jsonl => ReplayFormat::Jsonl,
        FormatArg::Tardis => ReplayFormat::Tardis,
    };
    let read = read_replay(sources, format, args.clock.into())
        .map_err(|e| CliError::Usage(e.to_string()))?;
    for e in &read.errors {
        tracing::warn!(error = %e, "line skipped");
    }
    let window_ms = i64::try_from(args.window.as_millis()).unwrap_or(i64::MAX);
    let mut thresholds = GateThresholds::default();
    if let Some(m) = args.min_windows {
        thresholds.min_windows = m;
    }
    let config = SimulateConfig {
        symbols: args.symbols.clone(),
        profile,
        preset: args.preset.clone(),
        model: args.model.clone(),
        window_ms,
        iterations: args.iterations,
        seed: args.seed,
        thresholds,
    };
    let recording = Recording {
        ticks: &read.ticks,
        sources: &read.names,
        skipped: read.skipped,
    };
    simulate(recording, &config).map_err(|e| CliError::Usage(e.to_string()))
}

/// A summed quantity without the float noise of the sum (`17.8`, not
/// `17.799999999999883`); `--json` keeps the exact value.
fn qty(x: f64) -> String {
    let s = format!("{x:.9}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn print_tables(r: &SimulationReport) {
    let f = |v: Option<f64>, d: usize| v.map_or("—".to_string(), |v| format!("{v:.d$}"));
    for (sym, s) in &r.symbols {
        let grid = s.instrument.map_or(String::new(), |i| {
            format!(
                ", tick {} lot {} ({})",
                i.tick_size,
                i.lot_size,
                serde_json::to_value(i.source)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            )
        });
        println!("{sym}{grid}");
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED).set_header([
            "iteration",
            "window start (UTC)",
            "ticks",
            "fills maker/taker",
            "edge bps",
            "maker/taker",
            "p95 ms",
            "risk",
        ]);
        for w in &s.windows {
            table.add_row([
                format!(
                    "{}{}",
                    w.iteration,
                    if w.partial { " (partial)" } else { "" }
                ),
                format_utc(w.start_ms),
                w.ticks.to_string(),
                format!("{}/{}", w.maker_fills, w.taker_fills),
                f(w.kpis.edge_bps, 2),
                f(w.kpis.maker_taker_ratio, 3),
                f(w.kpis.p95_latency_ms, 0),
                f(w.kpis.risk_ratio, 3),
            ]);
        }
        println!("{table}");
        let t = &s.totals;
        println!(
            "total: {} ticks, {} maker fills ({} filled), {} taker fills ({} filled)\n",
            t.ticks,
            t.maker_fills,
            qty(t.maker_volume),
            t.taker_fills,
            qty(t.taker_volume)
        );
    }
    for v in &r.verdict.symbols {
        if v.reasons.is_empty() {
            println!("{}: {}", v.symbol, v.verdict);
        } else {
            println!("{}: {} ({})", v.symbol, v.verdict, v.reasons.join("; "));
        }
    }
    println!(
        "verdict: {} (model {}: {}; {} ticks read{})",
        r.verdict.verdict,
        r.model.name,
        r.model.describe,
        r.ticks_read,
        if r.lines_skipped > 0 {
            format!(", {} lines skipped", r.lines_skipped)
        } else {
            String::new()
        }
    );
}

/// Runs the command.
pub async fn run(args: SimulateArgs, global: &GlobalArgs) -> CliResult<ExitCode> {
    // Reading and simulating are CPU work: off the async runtime.
    let a = args.clone();
    let r = tokio::task::spawn_blocking(move || report(&a))
        .await
        .map_err(|e| CliError::Service(e.to_string()))??;
    if global.json {
        let doc = serde_json::to_string_pretty(&r)
            .map_err(|e| CliError::Service(format!("json: {e}")))?;
        println!("{doc}");
    } else {
        print_tables(&r);
    }
    Ok(if args.fail_on_hold && !r.verdict.verdict.is_go() {
        ExitCode::from(EXIT_GATE)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_print_without_float_noise() {
        assert_eq!(qty(17.799999999999883), "17.8");
        assert_eq!(qty(0.0), "0");
        assert_eq!(qty(0.001), "0.001");
    }
}
