//! `shadowctl validate`.

use std::process::ExitCode;

use crate::cli::GlobalArgs;
use crate::error::{CliError, CliResult};

/// Flags of `shadowctl validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {}

/// Runs the command.
pub async fn run(_args: ValidateArgs, _global: &GlobalArgs) -> CliResult<ExitCode> {
    Err(CliError::Usage(
        "`shadowctl validate` is not available yet".into(),
    ))
}
