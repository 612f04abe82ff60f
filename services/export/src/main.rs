//! `exportd`: see the library crate for what it does.
#![warn(clippy::unwrap_used)]

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args = exportd::Args::parse();
    exportd::run(args).await
}
