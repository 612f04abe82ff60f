//! `shadowctl export`.

use std::process::ExitCode;

use crate::cli::GlobalArgs;
use crate::error::{CliError, CliResult};

/// Flags of `shadowctl export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {}

/// Runs the command.
pub async fn run(_args: ExportArgs, _global: &GlobalArgs) -> CliResult<ExitCode> {
    Err(CliError::Usage(
        "`shadowctl export` is not available yet".into(),
    ))
}
