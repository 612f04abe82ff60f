//! `quoting-strategy`: the Rust example strategy's server (the rules are in
//! `src/lib.rs`).

use std::io::Write as _;

use clap::{Parser, ValueEnum};
use shadowkpi_proto::v1::WakeOn;

/// Which decisions to be asked for (`SessionReady.wake_on`).
#[derive(Clone, Copy, ValueEnum)]
enum Wake {
    /// Every decision (one per millisecond of each symbol's feed).
    Every,
    /// Only when the book's touch, the grid or our orders changed: the same
    /// run for this strategy, with fewer round trips.
    Change,
}

/// The built-in quoting market maker as a StrategyService server.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:50060")]
    listen: String,
    /// Which decisions the exchange sends.
    #[arg(long, value_enum, default_value = "change")]
    wake_on: Wake,
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let wake_on = match cli.wake_on {
        Wake::Every => WakeOn::EveryDecision,
        Wake::Change => WakeOn::Change,
    };
    let listener = tokio::net::TcpListener::bind(&cli.listen).await?;
    // Tests and scripts read the actual address (port 0) from this line.
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;

    quoting_strategy::serve(listener, wake_on, shutdown_signal()).await?;
    Ok(())
}
