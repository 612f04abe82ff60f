//! CLI errors and the exit codes of the contract: 0 success, 1 a gate or
//! validation failed, 2 usage or input error, 3 the store was unreachable.

use std::process::ExitCode;

/// Exit code: a gate or validation failed.
pub const EXIT_GATE: u8 = 1;
/// Exit code: usage or input error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the store (Redis) was unreachable.
pub const EXIT_STORE: u8 = 3;

/// An error that ends the command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad flags, bad files, bad input (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The store could not be reached (exit 3).
    #[error("{message}")]
    StoreUnreachable {
        /// What failed, naming the URL without password.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },
    /// A service failed or could not be reached (exit 1).
    #[error("{0}")]
    Service(String),
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::StoreUnreachable { .. } => EXIT_STORE,
            CliError::Service(_) => 1,
        })
    }

    /// A hint to print after the error, if any.
    pub fn hint(&self) -> Option<&str> {
        match self {
            CliError::StoreUnreachable { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }

    /// Maps a gRPC status to a CLI error (UNAVAILABLE from a service that talks
    /// to Redis means the store is down).
    pub fn from_status(what: &str, s: &tonic::Status) -> Self {
        match s.code() {
            tonic::Code::InvalidArgument
            | tonic::Code::FailedPrecondition
            | tonic::Code::NotFound => CliError::Usage(format!("{what}: {}", s.message())),
            _ => CliError::Service(format!("{what}: {} ({:?})", s.message(), s.code())),
        }
    }
}

/// Result alias of the CLI.
pub type CliResult<T> = Result<T, CliError>;
