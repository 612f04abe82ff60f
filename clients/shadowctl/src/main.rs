//! `shadowctl`: the command-line client of shadowkpi.
//!
//! A thin client: every command talks to the four services over gRPC. When no
//! service address is configured it starts them in-process on loopback ports
//! (all-in-one) and talks to them over real gRPC all the same.
//!
//! # Layout
//! - [`cli`]: the clap command tree and global options.
//! - [`cmd`]: one module per subcommand.
//! - [`error`]: the library's errors under the CLI's names, and the exit codes.
//! - [`config`]: the `shadowkpi.toml` file (flags > env > file > defaults).
//! - [`progress`]: progress bars.
//!
//! What is not parsing or printing lives in libraries: `shadowkpi-client`
//! (the services deployed or all-in-one, the export client, the feed of a
//! run, artifacts, the accuracy report), `shadowkpi-feed` (publishing) and
//! `shadowkpi-bench` (the benchmark).
#![warn(clippy::unwrap_used)]

mod cli;
mod cmd;
mod config;
mod error;
mod globals;
mod progress;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let (cli, file, matches) = cli::parse_cli();
    let mut telemetry_cfg = shadowkpi_runtime::telemetry::TelemetryConfig::new(
        "shadowctl",
        shadowkpi_runtime::config::LogFormat::Pretty,
        &cli.global.log_level,
    );
    telemetry_cfg.stderr = true;
    let telemetry = shadowkpi_runtime::telemetry::init(&telemetry_cfg).ok();
    let result = cli::dispatch(cli, &file, &matches).await;
    if let Some(t) = telemetry {
        t.shutdown();
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("hint: {hint}");
            }
            e.exit_code()
        }
    }
}
