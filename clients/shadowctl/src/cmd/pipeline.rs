//! `shadowctl pipeline`: soak → export → validate → gate, as one traced
//! operation with every phase's artifacts in one run folder.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use shadowkpi_domain::accuracy::AccuracyStatus;
use shadowkpi_domain::gate::Verdict;
use shadowkpi_domain::summary::IterSummary;
use shadowkpi_proto::v1::{self, ExportMode, ExportOptions};
use tracing::Instrument;

use crate::cmd::feed::{ClockArg, FormatArg};
use crate::cmd::soak::{SoakFlags, print_table as print_soak};
use crate::cmd::validate::{ValidateFlags, print_table as print_accuracy};
use crate::error::{CliError, CliResult, EXIT_GATE};
use crate::globals::GlobalArgs;
use shadowkpi_client::artifacts::{create_dir, update_latest, write_json};
use shadowkpi_client::feedplan::{
    FeedChoice, FeedPlan, REPLAY_TAIL_MARGIN_MS, ReplayFeed, ReplayRecording,
};
use shadowkpi_client::services::{Cluster, REDIS_HINT};
use shadowkpi_domain::feed::split::{ReplaySplit, SplitAt, SplitRequest};

/// Flags of `shadowctl pipeline`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  shadowctl pipeline                                   # all-in-one, synthetic feed, in-process store\n  shadowctl pipeline --symbols BTCUSDT ETHUSDT --iterations 48 --duration 60s --validate-iterations 6\n  REDIS_URL=redis://127.0.0.1:6379 shadowctl pipeline  # all-in-one on a real Redis\n  SHADOWKPI_INGEST_ADDR=ingestd:50051 SHADOWKPI_SHADOW_ADDR=shadowd:50052 \\\n  SHADOWKPI_EXPORT_ADDR=exportd:50053 SHADOWKPI_DRYRUN_ADDR=dryrund:50054 shadowctl pipeline\n  shadowctl pipeline --from-artifacts artifacts/soak/latest   # export + validate an earlier soak\n  shadowctl pipeline --replay data/binance-btcusdt-2024-08-08/usdm_*.csv.gz --duration 30s --validate-duration 30s --min-windows 7\n  shadowctl pipeline --replay day.jsonl --symbols BTCUSDT --split 1723161450000 --iterations 48   # a verdict on your own recording\n\nWith --replay the recording (JSON Lines or Tardis CSV, plain or gzipped, merged by --clock)\nsplits by event time (--split 70% of its span, or an event time in ms): the soak runs on the\nfirst part, the dry run on the rest, each on as many whole windows as its part holds unless\n--iterations/--validate-iterations say how many. The split and each part are printed first.\nWithout --symbols every symbol of the files runs; with it a file holding another symbol is\nrefused. All-in-one the recording goes to the in-process store; with deployed services it is\npublished into lob:ticks of --redis-url, one part per phase. A missing or empty file, or a\npart too short for its windows, is exit 2 with the numbers, before anything starts.\n\nArtifacts: artifacts/pipeline/<run_id>/{soak/,EXPORT_REPORT.json,dryrun/,PIPELINE_SUMMARY.json};\nartifacts/pipeline/latest points at the newest run. Exit codes: 0 GO and every KPI\nPASS/WARN, 1 HOLD or a KPI FAIL/NO_PREDICTION/NO_DATA, 2 usage, 3 Redis unreachable, timed out or refusing the credentials."
)]
pub struct PipelineArgs {
    /// Soak settings.
    #[command(flatten)]
    pub soak: SoakFlags,
    /// Dry-run iterations.
    #[arg(long, default_value_t = 6)]
    pub validate_iterations: u32,
    /// Dry-run window length. Longer than the soak's by default: each dry-run
    /// iteration is one sample of each KPI, and on one-minute windows the
    /// window-to-window noise of edge alone exceeds the 30 % FAIL mark; much
    /// longer windows bias the p95 order age upwards against a prediction
    /// made of one-minute p95s. Three minutes balances the two.
    #[arg(long, default_value = "3m", value_parser = shadowkpi_runtime::parse_duration)]
    pub validate_duration: Duration,
    /// `env` of the exported keys.
    #[arg(long, env = "SHADOWKPI_ENV", default_value = "dev")]
    pub env: String,
    /// `exchange` of the exported keys.
    #[arg(long, env = "SHADOWKPI_EXCHANGE", default_value = "bybit")]
    pub exchange: String,
    /// TTL of the exported keys, seconds.
    #[arg(long, default_value_t = 3600)]
    pub ttl: u64,
    /// Skip the soak and export the ITER_SUMMARY files of this folder.
    #[arg(long, value_name = "DIR")]
    pub from_artifacts: Option<PathBuf>,
    /// Stop after the export.
    #[arg(long)]
    pub skip_validate: bool,
    #[doc = "Execution model set of the dry run."]
    #[arg(long, value_name = "NAME", default_value = shadowkpi_domain::engine::model_spec::DEFAULT_DRYRUN_MODEL, long_help = crate::cmd::soak::MODEL_HELP)]
    pub validate_model: String,
    /// Accuracy thresholds.
    #[command(flatten)]
    pub thresholds: ValidateFlags,
    /// Replay these recorded files instead of the synthetic feed: the soak
    /// runs on the first part (by event time), the dry run on the rest. JSON
    /// Lines or Tardis CSV quotes/trades (merged by --clock), plain or gzipped.
    #[arg(long, num_args = 1.., value_name = "FILE", conflicts_with = "from_artifacts")]
    pub replay: Vec<PathBuf>,
    /// Where --replay splits the recording: a percentage of its event-time
    /// span (`70%`) or an event time in ms since the epoch (earlier ticks are
    /// the soak's).
    #[arg(long, default_value = "70%")]
    pub split: SplitAt,
    /// Clock --replay merges Tardis CSV files by (ignored for JSON Lines).
    #[arg(long, value_enum, default_value_t = ClockArg::Local)]
    pub clock: ClockArg,
    /// Format of the --replay files.
    #[arg(id = "replay_format", long = "format", value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// Which flags the user gave (set from the parsed matches).
    #[arg(skip)]
    pub given: GivenFlags,
}

/// Flags of `pipeline` given on the command line or in the environment (not
/// left at their default): with --replay an absent count means "as many
/// windows as the part holds" and absent symbols "every symbol of the files".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GivenFlags {
    /// `--symbols`.
    pub symbols: bool,
    /// `--iterations`.
    pub iterations: bool,
    /// `--validate-iterations`.
    pub validate_iterations: bool,
}

impl GivenFlags {
    /// Reads the value sources of the `pipeline` subcommand's matches.
    pub fn from_matches(m: &clap::ArgMatches) -> GivenFlags {
        let given = |id: &str| {
            matches!(
                m.value_source(id),
                Some(
                    clap::parser::ValueSource::CommandLine | clap::parser::ValueSource::EnvVariable
                )
            )
        };
        GivenFlags {
            symbols: given("symbols"),
            iterations: given("iterations"),
            validate_iterations: given("validate_iterations"),
        }
    }
}

/// `PIPELINE_SUMMARY.json`.
#[derive(Debug, Serialize)]
pub struct PipelineSummary {
    /// Pipeline run id (also the soak's).
    pub run_id: String,
    /// Where the services ran.
    pub services: String,
    /// Soak verdict (absent with --from-artifacts).
    pub soak_verdict: Option<Verdict>,
    /// Windows soaked or loaded.
    pub windows: usize,
    /// Keys written by the export.
    pub exported_keys: u64,
    /// Export batches that failed.
    pub export_batches_failed: u32,
    /// Overall accuracy (absent with --skip-validate).
    pub accuracy: Option<AccuracyStatus>,
    /// Per-symbol outcome.
    pub symbols: BTreeMap<String, SymbolOutcome>,
    /// Final decision: GO only when the soak is GO and no KPI blocks.
    pub decision: &'static str,
    /// Wall time of each phase, ms.
    pub phase_ms: BTreeMap<&'static str, u64>,
    /// With --replay: the files and where they split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplayDoc>,
}

/// The `replay` section of `PIPELINE_SUMMARY.json`.
#[derive(Debug, Serialize)]
pub struct ReplayDoc {
    /// The files, as given.
    pub files: Vec<String>,
    /// The split as asked (`70%` or an event time).
    pub split: String,
    /// Where it split and what each part ran.
    #[serde(flatten)]
    pub plan: ReplaySplit,
}

/// One symbol of the pipeline summary.
#[derive(Debug, Default, Serialize)]
pub struct SymbolOutcome {
    /// Soak verdict.
    pub soak: Option<Verdict>,
    /// Keys exported for the symbol.
    pub exported_keys: u64,
    /// Accuracy status.
    pub accuracy: Option<AccuracyStatus>,
}

/// Runs the command.
pub async fn run(args: PipelineArgs, global: &GlobalArgs) -> CliResult<ExitCode> {
    let span = tracing::info_span!("shadowctl.pipeline");
    async move { run_traced(args, global).await }
        .instrument(span)
        .await
}

async fn run_traced(mut args: PipelineArgs, global: &GlobalArgs) -> CliResult<ExitCode> {
    // A recording is read, checked and split before anything starts.
    let replay = if args.replay.is_empty() {
        None
    } else {
        let feed = replay_feed(&args)?;
        for line in feed.describe() {
            eprintln!("{line}");
        }
        args.soak.symbols = feed.symbols.clone();
        args.soak.iterations = feed.plan.soak.windows;
        if let Some(d) = &feed.plan.dry_run {
            args.validate_iterations = d.windows;
        }
        Some(feed)
    };
    let cluster = Cluster::start(&global.services()).await?;
    eprintln!("{}", cluster.describe());
    let result = phases(&args, global, &cluster, replay).await;
    cluster.stop().await;
    result
}

/// Reads, checks and splits the --replay files as the flags say.
fn replay_feed(args: &PipelineArgs) -> CliResult<ReplayFeed> {
    if args.soak.feed == FeedChoice::External {
        return Err(CliError::Usage(
            "--replay publishes the recording itself: drop --feed external".into(),
        ));
    }
    let format = match args.format {
        FormatArg::Auto => shadowkpi_feed::ReplayFormat::Auto,
        FormatArg::Jsonl => shadowkpi_feed::ReplayFormat::Jsonl,
        FormatArg::Tardis => shadowkpi_feed::ReplayFormat::Tardis,
    };
    let asked = args.given.symbols.then_some(args.soak.symbols.as_slice());
    let recording = ReplayRecording::load(&args.replay, format, args.clock.into(), asked)?;
    // The part must run past its last window by the longest mark-out.
    let profile = match &args.soak.profile {
        Some(p) => shadowd::load_profile(p).map_err(CliError::Usage)?,
        None => shadowd::builtin_profile(),
    };
    let preset = args.soak.preset.as_deref().filter(|p| !p.is_empty());
    let mut markout_ms = 0.0f64;
    for s in &recording.symbols {
        let p = profile
            .resolve(s, preset, &Default::default())
            .map_err(|e| CliError::Usage(e.to_string()))?;
        markout_ms = markout_ms.max(p.markout_ms);
    }
    let req = SplitRequest {
        at: args.split,
        soak_window_ms: args.soak.duration.as_millis() as i64,
        soak_windows: args.given.iterations.then_some(args.soak.iterations),
        dry_window_ms: args.validate_duration.as_millis() as i64,
        dry_windows: if args.skip_validate {
            Some(0)
        } else {
            args.given
                .validate_iterations
                .then_some(args.validate_iterations)
        },
        tail_ms: markout_ms.ceil() as i64 + REPLAY_TAIL_MARGIN_MS,
    };
    recording.split(&req)
}

async fn phases(
    args: &PipelineArgs,
    global: &GlobalArgs,
    cluster: &Cluster,
    replay: Option<ReplayFeed>,
) -> CliResult<ExitCode> {
    let quiet = global.json;
    let mut phase_ms = BTreeMap::new();
    let soak_windows = if args.from_artifacts.is_some() {
        0
    } else {
        args.soak.iterations
    };
    let dry_windows = if args.skip_validate {
        0
    } else {
        args.validate_iterations
    };
    let replay_doc = replay.as_ref().map(|r| ReplayDoc {
        files: args
            .replay
            .iter()
            .map(|f| f.display().to_string())
            .collect(),
        split: args.split.to_string(),
        plan: r.plan.clone(),
    });
    let mut feed = if let Some(r) = replay {
        FeedPlan::replay(r).start(cluster).await?
    } else if soak_windows + dry_windows == 0 {
        None
    } else {
        FeedPlan::for_run(
            &args.soak.feed_spec(),
            soak_windows,
            dry_windows,
            args.validate_duration,
            cluster,
        )?
        .start(cluster)
        .await?
    };

    // Phase 1: soak (or load).
    let t = Instant::now();
    let root = args.soak.artifacts.join("pipeline");
    let (run_id, run_dir, summaries, soak_doc) = match &args.from_artifacts {
        Some(dir) => {
            let loaded = shadowkpi_client::export::load_summaries(dir)?.summaries;
            let run_id = crate::cmd::soak::new_run_id("pipeline");
            let run_dir = root.join(&run_id);
            create_dir(&run_dir)?;
            eprintln!(
                "soak: skipped, {} summaries loaded from {}",
                loaded.len(),
                dir.display()
            );
            let wire: Vec<v1::IterSummary> = loaded.iter().map(Into::into).collect();
            (run_id, run_dir, wire, None)
        }
        None => {
            let req = crate::cmd::soak::request(&args.soak, None)?;
            let mut run_dir = PathBuf::new();
            let mut progress =
                crate::progress::RunProgress::new(u64::from(req.iterations), "soak", quiet);
            let outcome = shadowkpi_client::soak::run_soak(
                cluster,
                req,
                |id| {
                    run_dir = root.join(id);
                    run_dir.join("soak")
                },
                &mut progress,
            )
            .await?;
            eprintln!(
                "soak: {} after {} windows",
                outcome.doc.verdict, outcome.doc.windows
            );
            (
                outcome.run_id.clone(),
                run_dir,
                outcome.summaries.clone(),
                Some(outcome.doc),
            )
        }
    };
    phase_ms.insert("soak", t.elapsed().as_millis() as u64);

    // Phase 2: export.
    let t = Instant::now();
    let options = ExportOptions {
        env: args.env.clone(),
        exchange: args.exchange.clone(),
        ttl_seconds: args.ttl,
        mode: ExportMode::Hash as i32,
        batch_size: 50,
        ..Default::default()
    };
    let report = shadowkpi_client::export::export_summaries(
        &cluster.export,
        options,
        summaries.iter().cloned(),
    )
    .await
    .map_err(|s| CliError::from_status("export", &s))?;
    write_json(
        &run_dir.join("EXPORT_REPORT.json"),
        &ExportReportDoc::from(&report),
    )?;
    eprintln!(
        "export: {} keys for {} symbols in {} batches, {} failed",
        report.keys_written,
        report.symbols.len(),
        report.batches,
        report.batches_failed
    );
    phase_ms.insert("export", t.elapsed().as_millis() as u64);
    if report.batches_failed > 0 {
        let message = format!(
            "export: {} batches failed, symbols not written: {}",
            report.batches_failed,
            report.failed_symbols.join(", ")
        );
        // Exit 3 when the store could not be used (by the batches' reasons);
        // a command the store refused is a failure of the export (exit 1).
        return Err(
            if shadowkpi_client::export::failures_store_unusable(&report) {
                CliError::StoreUnreachable {
                    message,
                    hint: Some(REDIS_HINT.into()),
                }
            } else {
                CliError::Service(message)
            },
        );
    }

    // Phase 3: validate.
    let accuracy = if args.skip_validate {
        None
    } else {
        let t = Instant::now();
        // The dry run gets fresh data: the rest of the feed goes out now.
        if let Some(f) = feed.take() {
            feed = Some(f.continue_for_dry_run().await?);
        }
        let symbols: Vec<String> = report.symbols.clone();
        let req = crate::cmd::validate::request(
            &symbols,
            args.validate_iterations,
            args.validate_duration,
            &args.env,
            &args.exchange,
            args.soak.seed,
            args.soak.idle_timeout,
            &args.thresholds,
            &args.validate_model,
            match &args.soak.profile {
                Some(p) => crate::cmd::soak::read_profile(p)?,
                None => String::new(),
            },
        );
        let soak: Vec<IterSummary> = summaries.iter().map(Into::into).collect();
        let source = match &args.from_artifacts {
            Some(dir) => format!("the ITER_SUMMARY files in {}", dir.display()),
            None => format!("the ITER_SUMMARY files of soak {run_id}"),
        };
        let mut progress =
            crate::progress::RunProgress::new(u64::from(req.iterations), "dry run", quiet);
        let (doc, _) = shadowkpi_client::validate::run_validate(
            cluster,
            req,
            |_| run_dir.join("dryrun"),
            &mut progress,
            Some((&soak, source)),
        )
        .await?;
        phase_ms.insert("validate", t.elapsed().as_millis() as u64);
        Some(doc)
    };
    if let Some(t) = feed {
        t.abort();
    }

    // Gate.
    let mut symbols: BTreeMap<String, SymbolOutcome> = BTreeMap::new();
    if let Some(doc) = &soak_doc {
        for (s, d) in &doc.symbols {
            symbols.entry(s.clone()).or_default().soak = Some(d.verdict);
        }
    }
    for b in &report.batch_reports {
        let per = if b.symbols.is_empty() {
            0
        } else {
            b.keys / b.symbols.len() as u64
        };
        for s in &b.symbols {
            symbols.entry(s.clone()).or_default().exported_keys = per;
        }
    }
    if let Some(doc) = &accuracy {
        for s in &doc.symbols {
            symbols.entry(s.symbol.clone()).or_default().accuracy = Some(s.status);
        }
    }
    let soak_go = soak_doc.as_ref().is_none_or(|d| d.verdict.is_go());
    let accuracy_ok = accuracy.as_ref().is_none_or(|d| !d.blocks());
    let summary = PipelineSummary {
        run_id: run_id.clone(),
        services: cluster.describe(),
        soak_verdict: soak_doc.as_ref().map(|d| d.verdict),
        windows: summaries.len(),
        exported_keys: report.keys_written,
        export_batches_failed: report.batches_failed,
        accuracy: accuracy.as_ref().map(|d| d.overall),
        symbols,
        decision: if soak_go && accuracy_ok { "GO" } else { "HOLD" },
        phase_ms,
        replay: replay_doc,
    };
    write_json(&run_dir.join("PIPELINE_SUMMARY.json"), &summary)?;
    update_latest(&root, &run_id)?;
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).map_err(|e| CliError::Service(e.to_string()))?
        );
    } else {
        if let Some(doc) = &soak_doc {
            print_soak(doc);
        }
        if let Some(doc) = &accuracy {
            print_accuracy(doc);
        }
        print_summary(&summary);
        println!("artifacts: {}", run_dir.display());
    }
    Ok(if summary.decision == "GO" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_GATE)
    })
}

fn print_summary(s: &PipelineSummary) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "symbol",
        "soak verdict",
        "exported keys",
        "accuracy",
    ]);
    for (sym, o) in &s.symbols {
        table.add_row([
            sym.clone(),
            o.soak.map_or("—".into(), |v| v.to_string()),
            o.exported_keys.to_string(),
            o.accuracy.map_or("—".into(), |a| a.label().to_string()),
        ]);
    }
    println!("{table}");
    println!(
        "decision: {} (soak {}, accuracy {})",
        s.decision,
        s.soak_verdict.map_or("skipped".into(), |v| v.to_string()),
        s.accuracy
            .map_or("skipped".into(), |a| a.label().to_string())
    );
}

/// `EXPORT_REPORT.json`.
#[derive(Debug, Serialize)]
pub struct ExportReportDoc {
    /// Symbols exported.
    pub symbols: Vec<String>,
    /// Keys written.
    pub keys_written: u64,
    /// Pipelines.
    pub batches: u32,
    /// Pipelines that succeeded.
    pub batches_succeeded: u32,
    /// Pipelines that failed.
    pub batches_failed: u32,
    /// Symbols that did not land.
    pub failed_symbols: Vec<String>,
    /// Wall time, ms.
    pub duration_ms: f64,
    /// Summaries received.
    pub summaries: u32,
}

impl From<&v1::ExportReport> for ExportReportDoc {
    fn from(r: &v1::ExportReport) -> Self {
        Self {
            symbols: r.symbols.clone(),
            keys_written: r.keys_written,
            batches: r.batches,
            batches_succeeded: r.batches_succeeded,
            batches_failed: r.batches_failed,
            failed_symbols: r.failed_symbols.clone(),
            duration_ms: r.duration_ms,
            summaries: r.summaries,
        }
    }
}
