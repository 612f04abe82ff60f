//! `shadowctl pipeline`: soak → export → validate → gate, as one traced
//! operation with every phase's artifacts in one run folder.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use shadowkpi_proto::v1::{ExportMode, ExportOptions};
use tracing::Instrument;

use crate::cmd::feed::{ClockArg, FormatArg};
use crate::cmd::soak::{SoakFlags, print_table as print_soak};
use crate::cmd::validate::{ValidateFlags, print_table as print_accuracy};
use crate::error::{CliError, CliResult, EXIT_GATE};
use crate::globals::GlobalArgs;
use shadowkpi_client::feedplan::{
    FeedChoice, FeedPlan, REPLAY_TAIL_MARGIN_MS, ReplayFeed, ReplayRecording,
};
use shadowkpi_client::pipeline::{
    PipelineOutcome, PipelinePlan, PipelineSummary, ReplayDoc, run_pipeline,
};
use shadowkpi_client::services::Cluster;
use shadowkpi_domain::feed::split::{SplitAt, SplitRequest};

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

/// Plans the phases from the flags and runs them on `cluster`.
async fn phases(
    args: &PipelineArgs,
    global: &GlobalArgs,
    cluster: &Cluster,
    replay: Option<ReplayFeed>,
) -> CliResult<ExitCode> {
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
    let feed = if let Some(r) = replay {
        Some(FeedPlan::replay(r))
    } else if soak_windows + dry_windows == 0 {
        None
    } else {
        Some(FeedPlan::for_run(
            &args.soak.feed_spec(),
            soak_windows,
            dry_windows,
            args.validate_duration,
            cluster,
        )?)
    };
    let profile_json = match &args.soak.profile {
        Some(p) => crate::cmd::soak::read_profile(p)?,
        None => String::new(),
    };
    let plan = PipelinePlan {
        artifacts: args.soak.artifacts.join("pipeline"),
        soak: crate::cmd::soak::request(&args.soak, None)?,
        from_artifacts: args.from_artifacts.clone(),
        export: ExportOptions {
            env: args.env.clone(),
            exchange: args.exchange.clone(),
            ttl_seconds: args.ttl,
            mode: ExportMode::Hash as i32,
            batch_size: 50,
            ..Default::default()
        },
        validate: (!args.skip_validate)
            .then(|| {
                crate::cmd::validate::request(
                    &[],
                    args.validate_iterations,
                    args.validate_duration,
                    &args.env,
                    &args.exchange,
                    args.soak.seed,
                    args.soak.idle_timeout,
                    &args.thresholds,
                    &args.validate_model,
                    profile_json,
                    args.soak.strategy_endpoint(),
                )
            })
            .map(|mut r| {
                // The dry run reads fresh data from its own start, as the soak
                // does, unless the soak reads live.
                if !crate::cmd::validate::feed_from(&args.soak.feed_from).is_empty() {
                    r.feed_from = "now".into();
                }
                r
            }),
        feed,
        replay_doc,
    };
    let mut progress = crate::progress::RunProgress::new(global.json);
    let PipelineOutcome {
        summary,
        soak: soak_doc,
        accuracy,
        run_dir,
    } = run_pipeline(cluster, &plan, &mut progress).await?;
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
