//! The CLI's errors are the client library's: decided from gRPC codes and
//! reasons only, each with the exit code of the contract (0 success, 1 a gate
//! or validation failed, 2 usage or input error, 3 the store unusable).

pub use shadowkpi_client::error::{EXIT_GATE, EXIT_STORE, EXIT_USAGE, exit_code_of};

/// An error that ends the command.
pub type CliError = shadowkpi_client::ClientError;

/// Result alias of the CLI.
pub type CliResult<T> = shadowkpi_client::ClientResult<T>;
