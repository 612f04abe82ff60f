//! `shadowctl feed`: publish a market feed into the Redis Stream.

use std::process::ExitCode;

use crate::cli::GlobalArgs;
use crate::error::{CliError, CliResult};

/// Feed sources.
#[derive(Debug, clap::Subcommand)]
pub enum FeedCommand {
    /// A deterministic synthetic market.
    Synthetic,
    /// Replay recorded ticks from a file.
    Replay,
}

/// Runs the command.
pub async fn run(_args: FeedCommand, _global: &GlobalArgs) -> CliResult<ExitCode> {
    Err(CliError::Usage(
        "`shadowctl feed` is not available yet".into(),
    ))
}
