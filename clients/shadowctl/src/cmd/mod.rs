//! One module per subcommand; [`dispatch`] runs the chosen one.

pub mod audit;
pub mod autotune;
pub mod bench;
pub mod config;
pub mod export;
pub mod feed;
pub mod health;
pub mod keys;
pub mod pipeline;
pub mod simulate;
pub mod soak;
pub mod validate;

use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory};

use crate::cli::{Cli, Command};
use crate::config::ConfigFile;
use crate::error::CliResult;

/// Runs the parsed command.
pub async fn dispatch(cli: Cli, file: &ConfigFile, matches: &ArgMatches) -> CliResult<ExitCode> {
    let global = cli.global;
    match cli.command {
        Command::Audit(a) => audit::run(a, &global).await,
        Command::Autotune(a) => autotune::run(a, &global).await,
        Command::Keys(a) => keys::run(a, &global).await,
        Command::Bench(a) => bench::run(a, &global).await,
        Command::Config(c) => config::run(c, &global, file, matches),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "shadowctl",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Health(a) => health::run(a, &global).await,
        Command::Feed(a) => feed::run(a, &global).await,
        Command::Soak(a) => soak::run(a, &global).await,
        Command::Simulate(a) => simulate::run(a, &global).await,
        Command::Export(a) => export::run(a, &global).await,
        Command::Validate(a) => validate::run(a, &global).await,
        Command::Pipeline(mut a) => {
            if let Some(m) = matches.subcommand_matches("pipeline") {
                a.given = pipeline::GivenFlags::from_matches(m);
            }
            pipeline::run(a, &global).await
        }
    }
}
