//! `shadowctl validate`: check stored predictions against a fresh, stricter
//! dry run and write the accuracy report.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use comfy_table::{Cell, Color, Table, presets::UTF8_FULL_CONDENSED};
use shadowkpi_domain::accuracy::AccuracyStatus;
use shadowkpi_domain::engine::model_spec::DEFAULT_DRYRUN_MODEL;
use shadowkpi_proto::v1::{self, ValidateRequest};

use crate::error::{CliError, CliResult, EXIT_GATE};
use crate::globals::GlobalArgs;
use shadowkpi_client::artifacts::update_latest;
use shadowkpi_client::report::{ReportDoc, fmt_pct, fmt_value};
use shadowkpi_client::services::Cluster;
use shadowkpi_client::validate::{DryRunCheckpoint, run_validate};

/// Flags shared by `validate` and `pipeline`.
#[derive(Debug, Clone, clap::Args)]
pub struct ValidateFlags {
    /// MAPE below this passes (percent).
    #[arg(long, default_value_t = 15.0)]
    pub pass_below: f64,
    /// MAPE above this fails (percent).
    #[arg(long, default_value_t = 30.0)]
    pub fail_above: f64,
}

/// Flags of `shadowctl validate`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  shadowctl validate --symbols BTCUSDT ETHUSDT --iterations 6 --duration 60s\n  shadowctl validate --env prod --exchange bybit      # every symbol with a prediction\n  shadowctl validate --profile profiles/shadow_profiles.json --model measured_example\n\nWrites artifacts/dryrun/<run_id>/DRYRUN_ACCURACY_REPORT.{md,json,html}; exits 1\nwhen any KPI fails (or has no prediction or no data), 3 when Redis is unreachable."
)]
pub struct ValidateArgs {
    /// Symbols to validate (default: every symbol with a prediction).
    #[arg(long, num_args = 1..)]
    pub symbols: Vec<String>,
    /// Dry-run iterations.
    #[arg(long, default_value_t = 6)]
    pub iterations: u32,
    /// Window length in event time.
    #[arg(long, default_value = "60s", value_parser = shadowkpi_runtime::parse_duration)]
    pub duration: Duration,
    /// `env` of the prediction keys.
    #[arg(long, env = "SHADOWKPI_ENV", default_value = "dev")]
    pub env: String,
    /// `exchange` of the prediction keys.
    #[arg(long, env = "SHADOWKPI_EXCHANGE", default_value = "bybit")]
    pub exchange: String,
    /// Seed of the dry run's random models.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    #[doc = "Execution model set of the dry run."]
    #[arg(long, value_name = "NAME", default_value = DEFAULT_DRYRUN_MODEL, long_help = crate::cmd::soak::MODEL_HELP)]
    pub model: String,
    /// Profile whose `models` the dry run may use and whose parameters apply
    /// to predictions without provenance (default: the server's).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// End early when no tick arrived for this long (wall clock).
    #[arg(long, default_value = "30s", value_parser = shadowkpi_runtime::parse_duration)]
    pub idle_timeout: Duration,
    /// Thresholds.
    #[command(flatten)]
    pub thresholds: ValidateFlags,
    /// Where artifacts go.
    #[arg(long, default_value = "artifacts")]
    pub artifacts: PathBuf,
    /// Dial the predictions' external strategy at ADDR instead of the address
    /// their provenance records (it must be the same strategy, by name).
    #[arg(long, value_name = "ADDR")]
    pub strategy: Option<String>,
    /// How long the external strategy may take to answer one decision.
    #[arg(long, default_value = "5s", value_parser = shadowkpi_runtime::parse_duration)]
    pub strategy_timeout: Duration,
    /// Where the dry run reads the feed from: `now` (entries added from now
    /// on: fresh data), `group`, `start`, an entry id, or `live` (through the
    /// consumer group); see `shadowctl soak --help`. All but `live` leave a
    /// CHECKPOINT.json for --resume.
    #[arg(long = "from", value_name = "POSITION", default_value = "now")]
    pub feed_from: String,
    /// Run an interrupted dry run again on exactly the same ticks, from its
    /// `<artifacts>/dryrun/RUN_ID/CHECKPOINT.json` (its own flags are taken
    /// from the checkpoint).
    #[arg(long, value_name = "RUN_ID")]
    pub resume: Option<String>,
}

/// A `--from` value as `feed_from`: `live` is the consumer group (empty).
pub fn feed_from(flag: &str) -> String {
    match flag.trim() {
        "live" | "" => String::new(),
        other => other.to_string(),
    }
}

/// The `Validate` request.
#[expect(
    clippy::too_many_arguments,
    reason = "each argument is a field of the Validate request"
)]
pub fn request(
    symbols: &[String],
    iterations: u32,
    duration: Duration,
    env: &str,
    exchange: &str,
    seed: u64,
    idle_timeout: Duration,
    t: &ValidateFlags,
    model_set: &str,
    profile_json: String,
    strategy: Option<v1::StrategyEndpoint>,
) -> ValidateRequest {
    ValidateRequest {
        symbols: symbols.to_vec(),
        env: env.to_string(),
        exchange: exchange.to_string(),
        iterations,
        window_ms: duration.as_millis() as u64,
        thresholds: Some(v1::AccuracyThresholds {
            pass_below_pct: Some(t.pass_below),
            fail_above_pct: Some(t.fail_above),
        }),
        run_id: String::new(),
        seed,
        idle_timeout_ms: idle_timeout.as_millis() as u64,
        model_set: model_set.to_string(),
        profile_json,
        strategy,
        feed_from: String::new(),
    }
}

fn color(s: AccuracyStatus) -> Color {
    match s {
        AccuracyStatus::Pass => Color::Green,
        AccuracyStatus::Warn => Color::Yellow,
        _ => Color::Red,
    }
}

/// Prints the accuracy table (coloured on a terminal).
pub fn print_table(doc: &ReportDoc) {
    let tty = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "symbol",
        "kpi",
        "predicted",
        "median actual",
        "MAPE",
        "status",
        "note",
    ]);
    for sym in &doc.symbols {
        for k in &sym.kpis {
            let mut status = Cell::new(k.status.label());
            if tty {
                status = status.fg(color(k.status));
            }
            table.add_row(vec![
                Cell::new(&sym.symbol),
                Cell::new(&k.kpi),
                Cell::new(fmt_value(k.predicted)),
                Cell::new(fmt_value(k.median_actual)),
                Cell::new(fmt_pct(k.mape_pct)),
                status,
                Cell::new(&k.note),
            ]);
        }
    }
    println!("{table}");
}

/// Runs the command.
pub async fn run(args: ValidateArgs, global: &GlobalArgs) -> CliResult<ExitCode> {
    if !(args.thresholds.pass_below >= 0.0
        && args.thresholds.fail_above >= args.thresholds.pass_below)
    {
        return Err(CliError::Usage(format!(
            "--fail-above ({}) must be >= --pass-below ({}) >= 0",
            args.thresholds.fail_above, args.thresholds.pass_below
        )));
    }
    let root = args.artifacts.join("dryrun");
    if let Some(id) = &args.resume {
        let checkpoint = DryRunCheckpoint::read(&root.join(id))?;
        let req = checkpoint.resume_request()?;
        eprintln!(
            "running dry run {id} again from its feed position {} ({} iterations)",
            checkpoint.feed_position, checkpoint.iterations
        );
        return finish(&root, global, req).await;
    }
    let profile_json = match &args.profile {
        Some(p) => crate::cmd::soak::read_profile(p)?,
        None => String::new(),
    };
    let mut req = request(
        &args.symbols,
        args.iterations,
        args.duration,
        &args.env,
        &args.exchange,
        args.seed,
        args.idle_timeout,
        &args.thresholds,
        &args.model,
        profile_json,
        crate::cmd::soak::strategy_endpoint(args.strategy.as_deref(), args.strategy_timeout),
    );
    req.feed_from = feed_from(&args.feed_from);
    finish(&root, global, req).await
}

/// Runs the dry run, writes its reports and decides the exit code.
async fn finish(root: &Path, global: &GlobalArgs, req: ValidateRequest) -> CliResult<ExitCode> {
    let cluster = Cluster::start(&global.services()).await?;
    eprintln!("{}", cluster.describe());
    let mut progress = crate::progress::RunProgress::new(global.json);
    let result = run_validate(&cluster, req, |id| root.join(id), &mut progress, None).await;
    cluster.stop().await;
    let (doc, dir) = result?;
    update_latest(root, &doc.run_id)?;
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| CliError::Service(e.to_string()))?
        );
    } else {
        print_table(&doc);
        println!(
            "overall: {} — reports in {}",
            doc.overall.label(),
            dir.display()
        );
    }
    Ok(if doc.blocks() {
        ExitCode::from(EXIT_GATE)
    } else {
        ExitCode::SUCCESS
    })
}
