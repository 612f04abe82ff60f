//! `shadowctl soak`: run a shadow soak and write its artifacts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use shadowkpi_domain::engine::ModelSetSpec;
use shadowkpi_domain::engine::model_spec::DEFAULT_SOAK_MODEL;
use shadowkpi_domain::feed::synthetic::Scenario;
use shadowkpi_domain::params::StrategyParams;
use shadowkpi_domain::profile::Profile;
use shadowkpi_proto::v1::{self, ExecutionModel, RunSoakRequest};

use crate::error::{CliError, CliResult, EXIT_GATE};
use crate::globals::GlobalArgs;
use shadowkpi_client::artifacts::update_latest;
use shadowkpi_client::feedplan::{FeedChoice, FeedPlan, SyntheticFeedSpec};
use shadowkpi_client::services::Cluster;
use shadowkpi_client::soak::{Checkpoint, SoakSummaryDoc, run_soak};

/// Help of every `--model` flag.
pub const MODEL_HELP: &str = "Execution model set: a built-in one (lenient, shadow, dryrun) or one of the profile's `models` (list them with `shadowctl config show`)";

/// The model set `name` of `profile`; an unknown name is a usage error (exit 2)
/// naming `flag` and listing the available sets.
pub fn resolve_model(profile: &Profile, flag: &str, name: &str) -> CliResult<ModelSetSpec> {
    profile
        .model_set(name)
        .map_err(|e| CliError::Usage(format!("{flag}: {e}")))
}

/// Flags shared by `soak` and `pipeline`.
#[derive(Debug, Clone, clap::Args)]
pub struct SoakFlags {
    /// Symbols to run (any spelling: BTC-USDT, btc/usdt, BTCUSDT).
    #[arg(long, num_args = 1.., default_values = ["BTCUSDT", "ETHUSDT"])]
    pub symbols: Vec<String>,
    /// Number of windows.
    #[arg(long, default_value_t = 48)]
    pub iterations: u32,
    /// Window length in event time.
    #[arg(long, default_value = "60s", value_parser = shadowkpi_runtime::parse_duration)]
    pub duration: Duration,
    /// Strategy profile file (`profiles/shadow_profiles.json` format).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Preset of the profile (e.g. `maker_bias_uplift_v1`).
    #[arg(long)]
    pub preset: Option<String>,
    #[doc = "Execution model set of the soak."]
    #[arg(long, value_name = "NAME", default_value = DEFAULT_SOAK_MODEL, long_help = MODEL_HELP)]
    pub model: String,
    /// Seed of every random model (and of the synthetic feed).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// End the soak when no tick arrived for this long (wall clock).
    #[arg(long, default_value = "30s", value_parser = shadowkpi_runtime::parse_duration)]
    pub idle_timeout: Duration,
    /// Gate: fewest windows a symbol needs [default: 48].
    #[arg(long)]
    pub min_windows: Option<u32>,
    /// Where artifacts go.
    #[arg(long, default_value = "artifacts")]
    pub artifacts: PathBuf,
    /// Market feed: `auto` runs the synthetic feed in-process in all-in-one mode
    /// and expects an external feed otherwise.
    #[arg(long, value_enum, default_value_t = FeedChoice::Auto)]
    pub feed: FeedChoice,
    /// Ticks per second of event time per symbol for the synthetic feed.
    #[arg(long, default_value_t = 20.0)]
    pub feed_rate: f64,
    /// Synthetic market (`calibrated`: the shape of the real BTCUSDT USD-M recording;
    /// `bounce`: the original demo market with a 4 bp mean-reverting bid/ask bounce
    /// a market maker earns on; docs/synthetic-market.md).
    #[arg(long, default_value_t = Scenario::Calibrated)]
    pub scenario: Scenario,
    /// Run an external strategy instead of the built-in market maker: the
    /// StrategyService (proto/shadowkpi/v1/strategy.proto) at ADDR, in lockstep
    /// and event time (docs/strategy-api.md). The dry run checking the soak
    /// dials the same strategy.
    #[arg(long, value_name = "ADDR")]
    pub strategy: Option<String>,
    /// How long the external strategy may take to answer one decision (wall
    /// clock); one that does not ends the run with STRATEGY_FAILED.
    #[arg(long, default_value = "5s", value_parser = shadowkpi_runtime::parse_duration)]
    pub strategy_timeout: Duration,
    /// Where the soak reads the feed from: `now` (entries added from now on;
    /// when shadowctl publishes the feed itself, the entries it publishes),
    /// `group` (where ingestd's consumer group stands), `start` (everything
    /// the stream holds), an entry id (the entries after it), or `live`
    /// (through the consumer group, shared with other live subscribers).
    /// All but `live` read the stream in order, losslessly, the same ticks
    /// every time: such a soak survives a restart of ingestd and can be
    /// resumed (`shadowctl soak --resume RUN_ID`).
    #[arg(long = "from", value_name = "POSITION", default_value = "now")]
    pub feed_from: String,
}

/// The endpoint of `--strategy ADDR` with `--strategy-timeout`.
pub fn strategy_endpoint(addr: Option<&str>, timeout: Duration) -> Option<v1::StrategyEndpoint> {
    addr.map(|a| v1::StrategyEndpoint {
        address: a.to_string(),
        timeout_ms: timeout.as_millis().max(1) as u64,
    })
}

impl SoakFlags {
    /// The external strategy these flags ask for, if any.
    pub fn strategy_endpoint(&self) -> Option<v1::StrategyEndpoint> {
        strategy_endpoint(self.strategy.as_deref(), self.strategy_timeout)
    }

    /// The synthetic feed these flags ask for.
    pub fn feed_spec(&self) -> SyntheticFeedSpec {
        SyntheticFeedSpec {
            feed: self.feed,
            window: self.duration,
            rate: self.feed_rate,
            symbols: self.symbols.clone(),
            seed: self.seed,
            scenario: self.scenario,
        }
    }
}

/// Flags of `shadowctl soak`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  shadowctl soak                                   # all-in-one, synthetic feed\n  shadowctl soak --symbols BTCUSDT ETHUSDT --iterations 48 --duration 60s --preset maker_bias_uplift_v1\n  shadowctl soak --auto-export --fail-on-hold\n  shadowctl soak --model dryrun                    # the dry run's model set\n  shadowctl soak --strategy 127.0.0.1:50060         # your own strategy (examples/strategies)\n  shadowctl soak --resume soak-20261207T153000Z-ab12  # continue one whose shadowd went away (exit 4)\n\nWrites artifacts/soak/<run_id>/ITER_SUMMARY_NNN.json and SOAK_SUMMARY.json and\npoints artifacts/soak/latest at the run."
)]
pub struct SoakArgs {
    /// Soak settings.
    #[command(flatten)]
    pub soak: SoakFlags,
    /// Stream every summary on to exportd as it is produced.
    #[arg(long)]
    pub auto_export: bool,
    /// `env` of the exported keys (with --auto-export).
    #[arg(long, env = "SHADOWKPI_ENV", default_value = "dev")]
    pub env: String,
    /// `exchange` of the exported keys (with --auto-export).
    #[arg(long, env = "SHADOWKPI_EXCHANGE", default_value = "bybit")]
    pub exchange: String,
    /// Exit 1 when the verdict is HOLD.
    #[arg(long)]
    pub fail_on_hold: bool,
    /// Run id (default: generated).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Resume an interrupted soak from its artifacts
    /// (`<artifacts>/soak/RUN_ID/CHECKPOINT.json`): the same request, read
    /// again from the soak's feed position; the windows on disk are computed
    /// again and must come out identical, then the soak goes on. The soak's
    /// own flags are taken from the checkpoint (only --artifacts and the
    /// service addresses apply), and no feed is started: the stream and
    /// whoever publishes it are expected to be there still.
    #[arg(long, value_name = "RUN_ID", conflicts_with = "run_id")]
    pub resume: Option<String>,
}

/// Reads a profile file with its latency recordings (relative to the file)
/// and returns it as self-contained JSON for a service.
pub fn read_profile(path: &Path) -> CliResult<String> {
    let profile = shadowd::load_profile(path).map_err(CliError::Usage)?;
    Ok(profile.to_json_string())
}

/// The soak's first lines (stderr): its model set and each symbol's effective
/// parameters with where each came from.
pub fn print_started(s: &v1::SoakStarted) {
    let (run_id, profile, params, sources) = (&s.run_id, &s.profile, &s.params, &s.param_sources);
    let model: Option<shadowkpi_domain::summary::ModelSetInfo> = s.model.clone().map(Into::into);
    eprintln!("soak {run_id} (profile: {profile})");
    if let Some(m) = &model {
        eprintln!("model set {}: {}", m.name, m.description);
    }
    if let Some(st) = s.strategy.as_ref().filter(|st| st.name != "builtin") {
        eprintln!(
            "strategy {} {} at {} (external, lockstep)",
            st.name, st.version, st.address
        );
    }
    let base = StrategyParams::default();
    let rows: Vec<crate::cmd::config::SymbolParams> = params
        .iter()
        .map(|(sym, p)| {
            let src = sources.get(sym);
            crate::cmd::config::SymbolParams {
                symbol: sym.clone(),
                params: shadowkpi_proto::convert::params_over(&base, p),
                sources: src.map(|s| s.sources.clone()).unwrap_or_default(),
                grid: src.map_or_else(String::new, |s| s.grid.clone()),
            }
        })
        .collect();
    eprintln!("{}", crate::cmd::config::params_table(&rows));
}

/// The `RunSoak` request of the flags.
pub fn request(flags: &SoakFlags, run_id: Option<&str>) -> CliResult<RunSoakRequest> {
    let profile_json = match &flags.profile {
        Some(p) => read_profile(p)?,
        None => String::new(),
    };
    Ok(RunSoakRequest {
        symbols: flags.symbols.clone(),
        iterations: flags.iterations,
        window_ms: flags.duration.as_millis() as u64,
        profile_json,
        preset: flags.preset.clone().unwrap_or_default(),
        overrides: None,
        auto_export: false,
        export_options: None,
        run_id: run_id.unwrap_or_default().to_string(),
        thresholds: flags.min_windows.map(|m| v1::GateThresholds {
            min_windows: Some(m),
            ..Default::default()
        }),
        model: ExecutionModel::Unspecified as i32,
        model_set: flags.model.clone(),
        seed: flags.seed,
        idle_timeout_ms: flags.idle_timeout.as_millis() as u64,
        strategy: flags.strategy_endpoint(),
        feed_from: crate::cmd::validate::feed_from(&flags.feed_from),
        resume_windows: 0,
    })
}

/// Prints the per-symbol table of a soak.
pub fn print_table(doc: &SoakSummaryDoc) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "symbol",
        "verdict",
        "windows",
        "edge bps",
        "maker/taker",
        "p95 ms",
        "risk",
        "fills",
        "reasons",
    ]);
    let f = |v: Option<f64>, d: usize| v.map_or("—".to_string(), |v| format!("{v:.d$}"));
    for (sym, s) in &doc.symbols {
        table.add_row([
            sym.clone(),
            s.verdict.to_string(),
            s.windows.to_string(),
            f(s.aggregate.edge_bps, 2),
            f(s.aggregate.maker_taker_ratio, 3),
            f(s.aggregate.p95_latency_ms, 0),
            f(s.aggregate.risk_ratio, 3),
            s.aggregate.total_fills.to_string(),
            if s.reasons.is_empty() {
                "—".into()
            } else {
                s.reasons.join("; ")
            },
        ]);
    }
    println!("{table}");
}

/// Runs the command.
pub async fn run(args: SoakArgs, global: &GlobalArgs) -> CliResult<ExitCode> {
    let root = args.soak.artifacts.join("soak");
    if let Some(id) = &args.resume {
        return resume(&args, global, &root, id).await;
    }
    let cluster = Cluster::start(&global.services()).await?;
    eprintln!("{}", cluster.describe());
    let feed = FeedPlan::for_run(
        &args.soak.feed_spec(),
        args.soak.iterations,
        0,
        Duration::ZERO,
        &cluster,
    )?;
    let feed_task = feed.start(&cluster).await?;
    let mut req = request(&args.soak, args.run_id.as_deref())?;
    // `now` for a feed published here is where its first entry goes: the
    // service's `now` would come after some of it.
    if let Some(t) = &feed_task
        && req.feed_from == "now"
    {
        req.feed_from.clone_from(&t.position);
    }
    if args.auto_export {
        req.auto_export = true;
        req.export_options = Some(v1::ExportOptions {
            env: args.env.clone(),
            exchange: args.exchange.clone(),
            ..Default::default()
        });
    }
    let mut progress = crate::progress::RunProgress::new(global.json);
    let result = run_soak(&cluster, req, |id| root.join(id), &mut progress).await;
    if let Some(t) = feed_task {
        t.abort();
    }
    cluster.stop().await;
    report(&args, global, &root, result?)
}

/// `shadowctl soak --resume RUN_ID`.
async fn resume(
    args: &SoakArgs,
    global: &GlobalArgs,
    root: &Path,
    id: &str,
) -> CliResult<ExitCode> {
    let dir = root.join(id);
    let checkpoint = Checkpoint::read(&dir)?;
    let services = global.services();
    if services.redis_url.is_none() && services.ingest_addr.is_none() {
        return Err(CliError::Usage(format!(
            "cannot resume soak {id} in all-in-one mode without REDIS_URL: its feed lived in \
             the in-process store of the run that stopped; resume against the services \
             (--ingest-addr, --shadow-addr) or the Redis it read"
        )));
    }
    let req = checkpoint.resume_request()?;
    let cluster = Cluster::start(&services).await?;
    eprintln!("{}", cluster.describe());
    eprintln!(
        "resuming soak {id}: {} of {} windows on disk, feed read again after {} (last window at {})",
        checkpoint.windows, checkpoint.iterations, checkpoint.feed_position, checkpoint.position
    );
    let mut progress = crate::progress::RunProgress::new(global.json);
    let result = run_soak(&cluster, req, |_| dir.clone(), &mut progress).await;
    cluster.stop().await;
    report(args, global, root, result?)
}

/// Points `latest` at the run, prints its table and decides the exit code.
fn report(
    args: &SoakArgs,
    global: &GlobalArgs,
    root: &Path,
    outcome: shadowkpi_client::soak::SoakOutcome,
) -> CliResult<ExitCode> {
    update_latest(root, &outcome.run_id)?;
    update_latest(root, &outcome.run_id)?;
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&outcome.doc)
                .map_err(|e| CliError::Service(e.to_string()))?
        );
    } else {
        print_table(&outcome.doc);
        if let Some(m) = &outcome.doc.model {
            println!("model set: {} ({})", m.name, m.description);
        }
        println!(
            "verdict: {} ({} windows) — artifacts in {}",
            outcome.doc.verdict,
            outcome.doc.windows,
            outcome.dir.display()
        );
        if let Some(r) = &outcome.export_report {
            println!(
                "auto-export: {} keys in {} batches, {} failed",
                r.keys_written, r.batches, r.batches_failed
            );
        }
    }
    Ok(if args.fail_on_hold && !outcome.verdict.verdict.is_go() {
        ExitCode::from(EXIT_GATE)
    } else {
        ExitCode::SUCCESS
    })
}
