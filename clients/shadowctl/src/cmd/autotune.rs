//! `shadowctl autotune`: search `touch_dwell_ms`, `min_lot` and the quote
//! offset on a recording, keep the set that maximises edge while passing every
//! threshold, and write it as a profile.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use shadowkpi_domain::autotune::{AutotuneConfig, AutotuneResult, autotune};
use shadowkpi_domain::feed::synthetic::{FeedEntry, Scenario, SyntheticConfig, SyntheticFeed};
use shadowkpi_domain::gate::GateThresholds;
use shadowkpi_domain::params::ParamOverrides;
use shadowkpi_domain::profile::Profile;
use shadowkpi_domain::tick::Tick;

use crate::cmd::soak::{MODEL_HELP, resolve_model};
use crate::error::{CliError, CliResult, EXIT_GATE};
use crate::globals::GlobalArgs;
use shadowkpi_client::artifacts::write_text;

/// Flags of `shadowctl autotune`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  shadowctl autotune --out profiles/tuned.json            # on the synthetic market (seed 7)\n  shadowctl autotune --ticks recording.jsonl --symbols BTCUSDT --out tuned.json\n  shadowctl soak --profile profiles/tuned.json            # then soak with it\n\nExits 1 when no parameter set passes every threshold (and says so); the\nprofile is written only when one does."
)]
pub struct AutotuneArgs {
    /// Symbols to tune.
    #[arg(long, num_args = 1.., default_values = ["BTCUSDT", "ETHUSDT"])]
    pub symbols: Vec<String>,
    /// A recording of ticks (JSON Lines, the `feed replay` format); default: the
    /// synthetic market the all-in-one soak uses.
    #[arg(long, value_name = "FILE")]
    pub ticks: Option<PathBuf>,
    /// Seed of the synthetic market (without --ticks).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Windows of synthetic market to tune on (without --ticks).
    #[arg(long, default_value_t = 48)]
    pub iterations: u32,
    /// Ticks per second per symbol of the synthetic market (without --ticks).
    #[arg(long, default_value_t = 20.0)]
    pub feed_rate: f64,
    /// Synthetic market (without --ticks) (`calibrated`: the shape of the real BTCUSDT USD-M recording;
    /// `bounce`: the original demo market with a 4 bp mean-reverting bid/ask bounce
    /// a market maker earns on; docs/synthetic-market.md).
    #[arg(long, default_value_t = Scenario::Calibrated)]
    pub scenario: Scenario,
    /// Window length in event time.
    #[arg(long, default_value = "60s", value_parser = shadowkpi_runtime::parse_duration)]
    pub duration: Duration,
    /// Base profile (its defaults and symbol overrides are kept).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    #[doc = "Execution model set to tune with."]
    #[arg(long, value_name = "NAME", default_value = shadowkpi_domain::engine::model_spec::DEFAULT_SOAK_MODEL, long_help = MODEL_HELP)]
    pub model: String,
    /// Where to write the tuned profile.
    #[arg(long, default_value = "profiles/tuned.json")]
    pub out: PathBuf,
}

/// The outcome printed with `--json`.
#[derive(Debug, Serialize)]
pub struct AutotuneDoc {
    /// Per-symbol search results.
    pub results: Vec<AutotuneResult>,
    /// Where the profile was written, when one passed.
    pub profile: Option<String>,
}

fn load_ticks(args: &AutotuneArgs) -> CliResult<Vec<Tick>> {
    match &args.ticks {
        Some(path) => {
            let f = std::fs::File::open(path)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
            let name = path.display().to_string();
            shadowkpi_domain::feed::replay::jsonl(std::io::BufReader::new(f), &name)
                .map(|r| r.map_err(|e| CliError::Usage(e.to_string())))
                .collect()
        }
        None => {
            let window_ms = args.duration.as_millis() as i64;
            let feed = SyntheticFeed::new(SyntheticConfig {
                symbols: args.symbols.clone(),
                seed: args.seed,
                duration_ms: window_ms * i64::from(args.iterations) + 10_000,
                rate: args.feed_rate * args.symbols.len() as f64,
                scenario: args.scenario,
                ..SyntheticConfig::default()
            })
            .map_err(|e| CliError::Usage(format!("synthetic feed: {e}")))?;
            Ok(feed
                .filter_map(|e| match e {
                    FeedEntry::Tick(t) => Some(t),
                    _ => None,
                })
                .collect())
        }
    }
}

/// Runs the command.
pub async fn run(args: AutotuneArgs, global: &GlobalArgs) -> CliResult<ExitCode> {
    let base_profile = match &args.profile {
        Some(p) => shadowd::load_profile(p).map_err(CliError::Usage)?,
        None => shadowd::builtin_profile(),
    };
    let spec = resolve_model(&base_profile, "--model", &args.model)?;
    let models = spec
        .build(args.seed)
        .map_err(|e| CliError::Usage(format!("--model {}: {e}", args.model)))?;
    let ticks = load_ticks(&args)?;
    let window_ms = args.duration.as_millis() as i64;
    let mut profile: Profile = base_profile.clone();
    let mut results = Vec::new();
    let mut any_passed = false;
    for sym in &args.symbols {
        let base = base_profile
            .resolve(sym, None, &ParamOverrides::default())
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let cfg = AutotuneConfig {
            window_ms,
            models: models.clone(),
            thresholds: GateThresholds::default(),
            space: None,
            seed: args.seed,
        };
        // A grid search re-runs the engine per candidate: off the async runtime.
        let (sym_c, ticks_c) = (sym.clone(), ticks.clone());
        let result = tokio::task::spawn_blocking(move || autotune(&sym_c, &ticks_c, &base, &cfg))
            .await
            .map_err(|e| CliError::Service(e.to_string()))?
            .map_err(|e| CliError::Usage(e.to_string()))?;
        if !global.json {
            println!("{}: {}", result.symbol, result.message);
        }
        if let Some(p) = result.to_profile(Some(&profile)) {
            profile = p;
            any_passed = true;
        }
        results.push(result);
    }
    let written = if any_passed {
        if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
            shadowkpi_client::artifacts::create_dir(dir)?;
        }
        write_text(&args.out, &profile.to_json_string())?;
        Some(args.out.display().to_string())
    } else {
        None
    };
    if global.json {
        let doc = AutotuneDoc {
            results,
            profile: written.clone(),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| CliError::Service(e.to_string()))?
        );
    } else {
        match &written {
            Some(p) => {
                println!("tuned profile written to {p}; use it with `shadowctl soak --profile {p}`")
            }
            None => println!(
                "no parameter set passes every threshold for any symbol; no profile written"
            ),
        }
    }
    Ok(if any_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_GATE)
    })
}
