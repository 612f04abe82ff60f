//! `shadowctl pipeline`.

use std::process::ExitCode;

use crate::cli::GlobalArgs;
use crate::error::{CliError, CliResult};

/// Flags of `shadowctl pipeline`.
#[derive(Debug, clap::Args)]
pub struct PipelineArgs {}

/// Runs the command.
pub async fn run(_args: PipelineArgs, _global: &GlobalArgs) -> CliResult<ExitCode> {
    Err(CliError::Usage(
        "`shadowctl pipeline` is not available yet".into(),
    ))
}
