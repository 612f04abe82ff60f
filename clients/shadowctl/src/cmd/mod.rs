//! One module per subcommand; [`dispatch`] runs the chosen one.

pub mod export;
pub mod feed;
pub mod health;
pub mod pipeline;
pub mod soak;
pub mod validate;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::error::CliResult;

/// Runs the parsed command.
pub async fn dispatch(cli: Cli) -> CliResult<ExitCode> {
    let global = cli.global;
    match cli.command {
        Command::Health(a) => health::run(a, &global).await,
        Command::Feed(a) => feed::run(a, &global).await,
        Command::Soak(a) => soak::run(a, &global).await,
        Command::Export(a) => export::run(a, &global).await,
        Command::Validate(a) => validate::run(a, &global).await,
        Command::Pipeline(a) => pipeline::run(a, &global).await,
    }
}
