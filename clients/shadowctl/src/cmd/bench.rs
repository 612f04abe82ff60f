//! `shadowctl bench`: the flags of the benchmark and its output. The harness
//! (the parts, the private `redis-server`, the report) is `shadowkpi-bench`;
//! this prints its table (or the JSON report with `--json`) on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use shadowkpi_bench::{BenchError, BenchOptions, Part};

use crate::error::{CliError, CliResult};
use crate::globals::GlobalArgs;

/// Flags of `shadowctl bench`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  shadowctl bench                                  # full run, private redis-server, under 5 minutes\n  shadowctl bench --quick --out /tmp/bench         # smoke test: every part runs, figures mean nothing\n  shadowctl bench --only ingest,export --runs 5\n  shadowctl bench --only strategy                  # the strategy API: built-in vs the Rust example over loopback\n  shadowctl bench --redis-url redis://127.0.0.1:6379   # an existing Redis (keys under shadowkpi-bench:*, removed after)\n\nRun a release build for real figures: cargo run --release -p shadowctl -- bench\nThe memory part runs the ingestd binary found next to shadowctl (cargo build --release -p ingestd).\nThe strategy part serves the Rust example strategy in-process and replays the USD-M recording\nembedded in the binary; every external run must give the built-in strategy's windows exactly."
)]
pub struct BenchArgs {
    /// Small sizes and one run each: checks that every part runs (CI smoke
    /// test); the figures mean nothing.
    #[arg(long)]
    pub quick: bool,
    /// Folder for BENCH_REPORT.md and BENCH_REPORT.json.
    #[arg(long, default_value = "artifacts/bench", value_name = "DIR")]
    pub out: PathBuf,
    /// Runs per figure, the median is reported [default: 3; 1 with --quick].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=20))]
    pub runs: Option<u16>,
    /// Ticks in the ingest backlog [default: 1000000; 20000 with --quick].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1_000..))]
    pub ticks: Option<u64>,
    /// Only these parts (comma-separated) [default: all].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Part>,
    /// The ingestd binary of the memory part [default: next to shadowctl].
    #[arg(long, value_name = "PATH")]
    pub ingestd_bin: Option<PathBuf>,
}

impl BenchArgs {
    fn options(self, global: &GlobalArgs) -> BenchOptions {
        BenchOptions {
            quick: self.quick,
            out: self.out,
            runs: self.runs.map(usize::from),
            ticks: self.ticks,
            only: self.only,
            ingestd_bin: self.ingestd_bin,
            redis_url: global.redis_url.clone(),
            redis_hint: Some(shadowkpi_client::services::REDIS_HINT.into()),
        }
    }
}

/// The CLI's error (and so its exit code: 3, 2, 1) of a benchmark error.
fn cli_error(e: BenchError) -> CliError {
    match e {
        BenchError::StoreUnreachable { message, hint } => {
            CliError::StoreUnreachable { message, hint }
        }
        BenchError::Usage(m) => CliError::Usage(m),
        BenchError::Failed(m) => CliError::Service(m),
    }
}

/// Runs the command.
pub async fn run(args: BenchArgs, global: &GlobalArgs) -> CliResult<ExitCode> {
    let done = shadowkpi_bench::run(&args.options(global))
        .await
        .map_err(cli_error)?;
    let report = &done.report;
    if global.json {
        println!("{}", report.json().map_err(cli_error)?);
    } else {
        println!("{}", report.table());
        let (n, pass) = report.targets();
        println!(
            "targets met: {pass} of {n}{}",
            if report.quick {
                " (quick run: sizes too small for the figures to mean anything)"
            } else {
                ""
            }
        );
        println!(
            "report: {} and {}",
            done.markdown.display(),
            done.json.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
