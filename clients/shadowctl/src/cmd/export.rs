//! `shadowctl export`: ITER_SUMMARY files → exportd → the KPI store.
//!
//! Reads every `ITER_SUMMARY_*.json` of `--src` (our format or the legacy
//! single-symbol forms), streams them to exportd and prints what the
//! established export tool printed: an `[INFO]` line with the settings, one
//! `[PIPELINE] batch=N symbols=… keys=… success=… fail=… duration_ms=…` line
//! per batch, a `[SUCCESS]` line with the totals, and with `--show-metrics` the
//! `redis_export_*` values of this export. `--dry-run` prints every command
//! (`[DRY-RUN] …`) and writes nothing. When Redis cannot be reached (or refuses
//! the credentials), it prints a WARNING naming the URL without password, the
//! commands that would have run (`[PREVIEW] …`, a dry run by exportd) and exits
//! 3; the files are only read, so nothing is lost.
//!
//! exportd is `--export-addr`/`SHADOWKPI_EXPORT_ADDR` when set; otherwise it
//! is started in this process ([`start_local_exportd`]) over the Redis of
//! `--redis-url`/`REDIS_URL` (default `redis://127.0.0.1:6379`).

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use shadowkpi_domain::summary::IterSummary;
use shadowkpi_proto::v1::{self, ExportOptions, ExportReport};
use shadowkpi_runtime::config::redact_url;
use shadowkpi_runtime::normalize_endpoint;

use crate::error::{CliError, CliResult, EXIT_STORE, exit_code_of};
use crate::globals::GlobalArgs;
use shadowkpi_client::export::{
    LoadedSummaries, export_summaries, failures_store_unusable, load_summaries, start_local_exportd,
};

/// Redis of an in-process exportd when `--redis-url`/`REDIS_URL` is unset.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// How windows are combined per symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AggregationArg {
    /// Median of the windows.
    Median,
    /// Arithmetic mean of the windows.
    Mean,
    /// The latest window.
    Last,
}

/// Flags of `shadowctl export`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    group(clap::ArgGroup::new("mode").args(["hash_mode", "flat_keys", "stream"]).multiple(false)),
    after_help = "Examples:\n  shadowctl export --src artifacts/soak/latest --env dev --exchange bybit\n  shadowctl export --dry-run                      # print the commands, write nothing\n  shadowctl export --flat-keys --ttl 600 --batch-size 100 --show-metrics\n  shadowctl export --stream --kpis edge_bps,p95_latency_ms\n  REDIS_URL=rediss://user:pass@redis:6380 shadowctl export --aggregation last\n\nKeys: {env}:{exchange}:shadow:latest:{SYMBOL} (hash), …:latest:{SYMBOL}:{kpi} (flat),\n…:shadow:stream:{SYMBOL} (stream), and …:shadow:meta:{SYMBOL} (provenance).\nExit codes: 0 written, 1 exportd failed, 2 bad flags or files, 3 Redis unreachable, timed out or\nrefusing the credentials (a preview of the commands is printed, nothing was written)."
)]
pub struct ExportArgs {
    /// Soak folder with ITER_SUMMARY_*.json files (or one summary file).
    #[arg(long, default_value = "artifacts/soak/latest")]
    pub src: PathBuf,
    /// First segment of every key.
    #[arg(long, default_value = "dev")]
    pub env: String,
    /// Second segment of every key.
    #[arg(long, default_value = "bybit")]
    pub exchange: String,
    /// Expiry of every written key, seconds.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub ttl: u64,
    /// One hash per symbol with the four KPIs (the default).
    #[arg(long)]
    pub hash_mode: bool,
    /// One key per KPI (legacy layout).
    #[arg(long)]
    pub flat_keys: bool,
    /// One stream entry per window (XADD with window-derived ids).
    #[arg(long)]
    pub stream: bool,
    /// Symbols per pipeline.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,
    /// Print the commands that would run; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the redis_export_* metrics of this export.
    #[arg(long)]
    pub show_metrics: bool,
    /// How the windows of a symbol are combined.
    #[arg(long, value_enum, default_value_t = AggregationArg::Median)]
    pub aggregation: AggregationArg,
    /// Export only these KPIs (default: edge_bps, maker_taker_ratio,
    /// p95_latency_ms, risk_ratio; `net_bps` means edge_bps).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub kpis: Vec<String>,
    /// Approximate length cap of each stream (MAXLEN ~), stream mode.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub stream_maxlen: u64,
}

impl ExportArgs {
    fn mode(&self) -> v1::ExportMode {
        if self.flat_keys {
            v1::ExportMode::Flat
        } else if self.stream {
            v1::ExportMode::Stream
        } else {
            v1::ExportMode::Hash
        }
    }

    /// The export options sent to exportd.
    pub fn options(&self, dry_run: bool) -> ExportOptions {
        ExportOptions {
            env: self.env.clone(),
            exchange: self.exchange.clone(),
            ttl_seconds: self.ttl,
            mode: self.mode() as i32,
            batch_size: self.batch_size,
            dry_run,
            kpis: self.kpis.clone(),
            aggregation: match self.aggregation {
                AggregationArg::Median => v1::Aggregation::Median,
                AggregationArg::Mean => v1::Aggregation::Mean,
                AggregationArg::Last => v1::Aggregation::Last,
            } as i32,
            stream_maxlen: self.stream_maxlen,
        }
    }
}

/// One batch in the JSON output.
#[derive(Debug, Serialize)]
struct BatchOut {
    batch: u32,
    symbols: Vec<String>,
    keys: u64,
    success: bool,
    attempts: u32,
    duration_ms: f64,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    /// The failure's reason (`STORE_UNREACHABLE`, …), empty on success.
    #[serde(skip_serializing_if = "String::is_empty")]
    reason: String,
}

/// The JSON output (`--json`).
#[derive(Debug, Serialize)]
struct ExportOutput {
    status: &'static str,
    src: String,
    files: usize,
    env: String,
    exchange: String,
    mode: &'static str,
    ttl: u64,
    batch_size: u32,
    aggregation: &'static str,
    dry_run: bool,
    exportd: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<String>,
    symbols: Vec<String>,
    keys_written: u64,
    batches: u32,
    batches_succeeded: u32,
    batches_failed: u32,
    failed_symbols: Vec<String>,
    duration_ms: f64,
    batch_reports: Vec<BatchOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    commands: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    preview: Vec<String>,
    metrics: Vec<(String, f64)>,
}

fn mode_name(m: v1::ExportMode) -> &'static str {
    match m {
        v1::ExportMode::Flat => "flat",
        v1::ExportMode::Stream => "stream",
        _ => "hash",
    }
}

/// The `redis_export_*` values of one export (what it added to the counters).
fn export_metrics(r: &ExportReport, mode: v1::ExportMode) -> Vec<(String, f64)> {
    let landed: usize = r
        .batch_reports
        .iter()
        .filter(|b| b.success)
        .map(|b| b.symbols.len())
        .sum();
    let mut out = vec![
        ("redis_export_success_total".to_string(), landed as f64),
        (
            "redis_export_fail_total".to_string(),
            r.failed_symbols.len() as f64,
        ),
        ("redis_export_duration_ms".to_string(), r.duration_ms),
        (
            "redis_export_batches_total".to_string(),
            f64::from(r.batches),
        ),
        (
            "redis_export_keys_written_total".to_string(),
            r.keys_written as f64,
        ),
        (
            "redis_export_batches_failed_total".to_string(),
            f64::from(r.batches_failed),
        ),
    ];
    for b in &r.batch_reports {
        out.push((
            format!("redis_export_batch_duration_ms{{batch=\"{}\"}}", b.batch),
            b.duration_ms,
        ));
    }
    for m in [
        v1::ExportMode::Hash,
        v1::ExportMode::Flat,
        v1::ExportMode::Stream,
    ] {
        out.push((
            format!("redis_export_mode{{type=\"{}\"}}", mode_name(m)),
            if m == mode { 1.0 } else { 0.0 },
        ));
    }
    out
}

fn print_pipeline(r: &ExportReport) {
    for b in &r.batch_reports {
        let n = b.symbols.len();
        let (ok, fail) = if b.success { (n, 0) } else { (0, n) };
        println!(
            "[PIPELINE] batch={} symbols={n} keys={} success={ok} fail={fail} duration_ms={:.2}",
            b.batch, b.keys, b.duration_ms
        );
    }
}

fn print_metrics(metrics: &[(String, f64)]) {
    println!("[METRICS] this export:");
    for (name, v) in metrics {
        println!("  {name} {v}");
    }
}

/// Runs the command.
pub async fn run(args: ExportArgs, global: &GlobalArgs) -> CliResult<ExitCode> {
    let loaded = load_summaries(&args.src)?;
    let mode = args.mode();
    let (url, redis, local) = match &global.export_addr {
        Some(addr) => (normalize_endpoint(addr), None, None),
        None => {
            let redis_url = global.redis_url.as_deref().unwrap_or(DEFAULT_REDIS_URL);
            let handle = start_local_exportd(redis_url).await?;
            (handle.url(), Some(redact_url(redis_url)), Some(handle))
        }
    };
    let result = run_export(&args, global, &loaded, &url, redis, mode).await;
    if let Some(h) = local {
        let _ = h.stop().await;
    }
    result
}

async fn run_export(
    args: &ExportArgs,
    global: &GlobalArgs,
    loaded: &LoadedSummaries,
    url: &str,
    redis: Option<String>,
    mode: v1::ExportMode,
) -> CliResult<ExitCode> {
    let target = match &redis {
        Some(r) => format!("redis={r} (exportd in-process)"),
        None => format!("exportd={url} (its own redis)"),
    };
    let aggregation = match args.aggregation {
        AggregationArg::Median => "median",
        AggregationArg::Mean => "mean",
        AggregationArg::Last => "last",
    };
    if !global.json {
        println!(
            "[INFO] src={} files={} {target} env={} exchange={} mode={} ttl={} batch_size={} aggregation={aggregation}{}{}",
            loaded.dir.display(),
            loaded.files.len(),
            args.env,
            args.exchange,
            mode_name(mode),
            args.ttl,
            args.batch_size,
            if args.kpis.is_empty() {
                String::new()
            } else {
                format!(" kpis={}", args.kpis.join(","))
            },
            if args.dry_run { " dry_run=true" } else { "" },
        );
    }
    let mut out = ExportOutput {
        status: "ok",
        src: loaded.dir.display().to_string(),
        files: loaded.files.len(),
        env: args.env.clone(),
        exchange: args.exchange.clone(),
        mode: mode_name(mode),
        ttl: args.ttl,
        batch_size: args.batch_size,
        aggregation,
        dry_run: args.dry_run,
        exportd: url.to_string(),
        redis: redis.clone(),
        symbols: Vec::new(),
        keys_written: 0,
        batches: 0,
        batches_succeeded: 0,
        batches_failed: 0,
        failed_symbols: Vec::new(),
        duration_ms: 0.0,
        batch_reports: Vec::new(),
        commands: Vec::new(),
        warning: None,
        preview: Vec::new(),
        metrics: Vec::new(),
    };
    let where_ = redis
        .as_ref()
        .map_or_else(|| format!("via exportd at {url}"), |r| format!("at {r}"));

    let code = match export_summaries(
        url,
        args.options(args.dry_run),
        loaded.summaries.iter().map(Into::into),
    )
    .await
    {
        Ok(report) => {
            fill(&mut out, &report, mode);
            if args.dry_run {
                out.status = "dry_run";
                out.commands = report.dry_run_commands.clone();
                if !global.json {
                    for c in &report.dry_run_commands {
                        println!("[DRY-RUN] {c}");
                    }
                    println!(
                        "[SUCCESS] dry run: symbols={} keys={} batches={} commands={} (nothing written)",
                        report.symbols.len(),
                        report.keys_written,
                        report.batches,
                        report.dry_run_commands.len()
                    );
                }
                0
            } else if report.batches_failed == 0 {
                if !global.json {
                    print_pipeline(&report);
                    println!(
                        "[SUCCESS] exported symbols={} keys={} batches={} failed=0 mode={} duration_ms={:.2}",
                        report.symbols.len(),
                        report.keys_written,
                        report.batches,
                        mode_name(mode),
                        report.duration_ms
                    );
                    if args.show_metrics {
                        print_metrics(&out.metrics);
                    }
                }
                0
            } else {
                // Some batches did not land: never claim them.
                if !global.json {
                    print_pipeline(&report);
                }
                let reason = report
                    .batch_reports
                    .iter()
                    .find(|b| !b.success)
                    .map(|b| b.error.clone())
                    .unwrap_or_default();
                let unusable = failures_store_unusable(&report);
                let warning = format!(
                    "{} of {} symbols did not land ({} of {} batches failed): {}; failed symbols: {}",
                    report.failed_symbols.len(),
                    report.symbols.len(),
                    report.batches_failed,
                    report.batches,
                    reason,
                    report.failed_symbols.join(",")
                );
                if !global.json {
                    println!(
                        "[FAILED] exported symbols={} keys={} batches={} failed={} mode={} duration_ms={:.2}",
                        report.symbols.len() - report.failed_symbols.len(),
                        report.keys_written,
                        report.batches,
                        report.batches_failed,
                        mode_name(mode),
                        report.duration_ms
                    );
                    if args.show_metrics {
                        print_metrics(&out.metrics);
                    }
                }
                if unusable {
                    out.status = "partial";
                    let only: Vec<IterSummary> =
                        restrict(&loaded.summaries, &report.failed_symbols);
                    warn_and_preview(args, global, &mut out, url, &where_, &warning, &only).await;
                    i32::from(EXIT_STORE)
                } else {
                    out.status = "failed";
                    eprintln!("error: {warning}");
                    out.warning = Some(warning);
                    1
                }
            }
        }
        Err(status) => {
            if exit_code_of(&status) == EXIT_STORE {
                out.status = "store_unreachable";
                let warning = format!(
                    "{}; the files in {} are untouched",
                    status.message(),
                    loaded.dir.display()
                );
                warn_and_preview(
                    args,
                    global,
                    &mut out,
                    url,
                    &where_,
                    &warning,
                    &loaded.summaries,
                )
                .await;
                i32::from(EXIT_STORE)
            } else {
                return Err(CliError::from_status("export", &status));
            }
        }
    };
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| CliError::Service(e.to_string()))?
        );
    }
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

fn fill(out: &mut ExportOutput, r: &ExportReport, mode: v1::ExportMode) {
    out.symbols = r.symbols.clone();
    out.keys_written = r.keys_written;
    out.batches = r.batches;
    out.batches_succeeded = r.batches_succeeded;
    out.batches_failed = r.batches_failed;
    out.failed_symbols = r.failed_symbols.clone();
    out.duration_ms = r.duration_ms;
    out.batch_reports = r
        .batch_reports
        .iter()
        .map(|b| BatchOut {
            batch: b.batch,
            symbols: b.symbols.clone(),
            keys: b.keys,
            success: b.success,
            attempts: b.attempts,
            duration_ms: b.duration_ms,
            error: b.error.clone(),
            reason: b.reason.clone(),
        })
        .collect();
    if !r.dry_run {
        out.metrics = export_metrics(r, mode);
    }
}

/// The summaries cut down to `symbols` (for the preview of what did not land).
fn restrict(summaries: &[IterSummary], symbols: &[String]) -> Vec<IterSummary> {
    summaries
        .iter()
        .filter_map(|s| {
            let mut s = s.clone();
            s.symbols.retain(|k, _| symbols.contains(k));
            (!s.symbols.is_empty()).then_some(s)
        })
        .collect()
}

/// Prints the WARNING and the commands that would have run (a dry run by
/// exportd, which needs no Redis).
async fn warn_and_preview(
    args: &ExportArgs,
    global: &GlobalArgs,
    out: &mut ExportOutput,
    url: &str,
    where_: &str,
    warning: &str,
    summaries: &[IterSummary],
) {
    eprintln!("WARNING: Redis unreachable {where_}: {warning}");
    out.warning = Some(format!("Redis unreachable {where_}: {warning}"));
    match export_summaries(url, args.options(true), summaries.iter().map(Into::into)).await {
        Ok(preview) => {
            if !global.json {
                println!(
                    "[PREVIEW] nothing was written; these {} commands would have run:",
                    preview.dry_run_commands.len()
                );
                for c in &preview.dry_run_commands {
                    println!("[PREVIEW] {c}");
                }
            }
            out.preview = preview.dry_run_commands;
        }
        Err(e) => eprintln!("WARNING: no preview either: {}", e.message()),
    }
}
