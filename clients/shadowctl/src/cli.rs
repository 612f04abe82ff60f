//! The command tree (the options every command shares are in
//! [`crate::globals`]).

use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::cmd;
use crate::config::ConfigFile;
use crate::error::{CliError, CliResult};
use crate::globals::GlobalArgs;

/// shadowkpi: validate a market-making strategy before it trades real money.
#[derive(Debug, Parser)]
#[command(
    name = "shadowctl",
    version,
    about = "Validate a market-making strategy before it trades real money: soak → export → validate",
    after_help = "Examples:\n  shadowctl pipeline              # all-in-one, synthetic feed\n  shadowctl feed synthetic --symbols BTCUSDT ETHUSDT --duration 10m --rate 2000 --seed 7\n  shadowctl soak --symbols BTCUSDT --iterations 48 --duration 60s\n  shadowctl simulate data/binance-btcusdt-2024-08-08/usdm_*.csv.gz      # offline, on a recording\n  shadowctl export --src artifacts/soak/latest --env dev --exchange bybit\n  shadowctl validate --symbols BTCUSDT ETHUSDT --iterations 6 --duration 60s\n  shadowctl health\n\nExit codes: 0 success, 1 a gate or validation failed, 2 usage or input error,\n3 the store (Redis) was unreachable, timed out or refused the credentials,\n4 a service went away mid-run (the message says how to resume it)."
)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
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

/// Parses the command line with the config file's values as defaults.
pub fn parse_cli() -> (Cli, ConfigFile, ArgMatches) {
    let args: Vec<String> = std::env::args().collect();
    let file = match crate::config::load(&args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(i32::from(crate::error::EXIT_USAGE));
        }
    };
    let matches = crate::config::apply_defaults(Cli::command(), &file).get_matches();
    match Cli::from_arg_matches(&matches) {
        Ok(cli) => (cli, file, matches),
        Err(e) => e.exit(),
    }
}

/// Runs the parsed command.
pub async fn dispatch(cli: Cli, file: &ConfigFile, matches: &ArgMatches) -> CliResult<ExitCode> {
    let global = cli.global;
    global.use_token().map_err(CliError::Usage)?;
    match cli.command {
        Command::Audit(a) => cmd::audit::run(a, &global).await,
        Command::Autotune(a) => cmd::autotune::run(a, &global).await,
        Command::Keys(a) => cmd::keys::run(a, &global).await,
        Command::Bench(a) => cmd::bench::run(a, &global).await,
        Command::Config(c) => cmd::config::run(c, &global, file, matches),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "shadowctl",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Health(a) => cmd::health::run(a, &global).await,
        Command::Feed(a) => cmd::feed::run(a, &global).await,
        Command::Soak(a) => cmd::soak::run(a, &global).await,
        Command::Simulate(a) => cmd::simulate::run(a, &global).await,
        Command::Export(a) => cmd::export::run(a, &global).await,
        Command::Validate(a) => cmd::validate::run(a, &global).await,
        Command::Pipeline(mut a) => {
            if let Some(m) = matches.subcommand_matches("pipeline") {
                a.given = cmd::pipeline::GivenFlags::from_matches(m);
            }
            cmd::pipeline::run(a, &global).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_become_defaults_and_flags_still_win() {
        let file = crate::config::parse(
            "symbols = ['SOLUSDT', 'XRPUSDT']\niterations = 12\nenv = 'staging'\n",
            std::path::Path::new("f.toml"),
        )
        .unwrap();
        let cmd = crate::config::apply_defaults(Cli::command(), &file);
        let m = cmd
            .clone()
            .try_get_matches_from(["shadowctl", "pipeline"])
            .unwrap();
        let cli = Cli::from_arg_matches(&m).unwrap();
        let Command::Pipeline(p) = cli.command else {
            panic!("not pipeline")
        };
        assert_eq!(p.soak.symbols, ["SOLUSDT", "XRPUSDT"]);
        assert_eq!(p.soak.iterations, 12);

        let m = cmd
            .try_get_matches_from(["shadowctl", "pipeline", "--iterations", "3"])
            .unwrap();
        let Command::Pipeline(p) = Cli::from_arg_matches(&m).unwrap().command else {
            panic!("not pipeline")
        };
        assert_eq!(p.soak.iterations, 3, "a flag wins over the file");
    }
}
