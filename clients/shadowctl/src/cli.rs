//! The command tree and the options every command shares.

use clap::{Parser, Subcommand};

use crate::cmd;

/// shadowkpi: validate a market-making strategy before it trades real money.
#[derive(Debug, Parser)]
#[command(
    name = "shadowctl",
    version,
    about = "Validate a market-making strategy before it trades real money: soak → export → validate",
    after_help = "Examples:\n  shadowctl pipeline              # all-in-one, synthetic feed\n  shadowctl feed synthetic --symbols BTCUSDT ETHUSDT --duration 10m --rate 2000 --seed 7\n  shadowctl soak --symbols BTCUSDT --iterations 48 --duration 60s\n  shadowctl simulate data/binance-btcusdt-2024-08-08/usdm_*.csv.gz      # offline, on a recording\n  shadowctl export --src artifacts/soak/latest --env dev --exchange bybit\n  shadowctl validate --symbols BTCUSDT ETHUSDT --iterations 6 --duration 60s\n  shadowctl health\n\nExit codes: 0 success, 1 a gate or validation failed, 2 usage or input error,\n3 the store (Redis) was unreachable."
)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Redis URL of the feed and KPI store. Unset: soak, validate and pipeline
    /// run all-in-one on the in-process store; feed and export use
    /// redis://127.0.0.1:6379; keys needs it.
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Address of ingestd; unset (with the others) means all-in-one mode.
    #[arg(long, env = "SHADOWKPI_INGEST_ADDR", global = true)]
    pub ingest_addr: Option<String>,
    /// Address of shadowd.
    #[arg(long, env = "SHADOWKPI_SHADOW_ADDR", global = true)]
    pub shadow_addr: Option<String>,
    /// Address of exportd.
    #[arg(long, env = "SHADOWKPI_EXPORT_ADDR", global = true)]
    pub export_addr: Option<String>,
    /// Address of dryrund.
    #[arg(long, env = "SHADOWKPI_DRYRUN_ADDR", global = true)]
    pub dryrun_addr: Option<String>,
    /// Print results as JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Configuration file (default: $SHADOWKPI_CONFIG, else ./shadowkpi.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Log filter for the CLI's own logs (stderr).
    #[arg(long, env = "SHADOWKPI_LOG", global = true, default_value = "warn")]
    pub log_level: String,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the health of the four services and print a table.
    Health(cmd::health::HealthArgs),
    /// Publish a market feed into the Redis Stream (synthetic or replayed).
    #[command(subcommand)]
    Feed(cmd::feed::FeedCommand),
    /// Run a shadow soak: KPIs per window and the Go/No-Go verdict.
    Soak(cmd::soak::SoakArgs),
    /// Run the engine offline on recorded files (no services, no Redis): KPIs
    /// per window and the Go/No-Go verdict.
    Simulate(cmd::simulate::SimulateArgs),
    /// Search strategy parameters on a recording and write a tuned profile.
    Autotune(cmd::autotune::AutotuneArgs),
    /// Export soak summaries to the KPI store.
    Export(cmd::export::ExportArgs),
    /// Validate stored predictions against a fresh, stricter dry run.
    Validate(cmd::validate::ValidateArgs),
    /// Soak → export → validate → gate, in one command.
    Pipeline(cmd::pipeline::PipelineArgs),
    /// Validate a soak's ITER_SUMMARY files against the schema and gate them.
    Audit(cmd::audit::AuditArgs),
    /// List what the KPI store holds, with TTLs.
    Keys(cmd::keys::KeysArgs),
    /// Measure throughput, latency and memory against a bare Redis client.
    Bench(cmd::bench::BenchArgs),
    /// Show the effective configuration.
    #[command(subcommand)]
    Config(cmd::config::ConfigCommand),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}
