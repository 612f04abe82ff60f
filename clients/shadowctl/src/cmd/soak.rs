//! `shadowctl soak`.

use std::process::ExitCode;

use crate::cli::GlobalArgs;
use crate::error::{CliError, CliResult};

/// Flags of `shadowctl soak`.
#[derive(Debug, clap::Args)]
pub struct SoakArgs {}

/// Runs the command.
pub async fn run(_args: SoakArgs, _global: &GlobalArgs) -> CliResult<ExitCode> {
    Err(CliError::Usage(
        "`shadowctl soak` is not available yet".into(),
    ))
}
