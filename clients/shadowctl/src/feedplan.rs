//! The market feed of a soak or pipeline: the synthetic feed run in-process
//! (all-in-one) or an external feed that is already flowing into the stream.

use std::sync::Arc;
use std::time::Duration;

use shadowkpi_domain::feed::synthetic::{DEFAULT_START_MS, SyntheticConfig, SyntheticFeed};
use shadowkpi_store::Store;
use tokio::task::JoinHandle;

use crate::cluster::Cluster;
use crate::cmd::soak::SoakFlags;
use crate::error::{CliError, CliResult};

/// The stream the feed is written to (the contract's default).
pub const FEED_STREAM: &str = "lob:ticks";

/// Which feed to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FeedChoice {
    /// Synthetic in all-in-one mode, external otherwise.
    Auto,
    /// Run the synthetic feed from this process into the stream.
    Synthetic,
    /// Do not publish: an order-book process feeds the stream.
    External,
}

/// A planned synthetic feed (or none).
#[derive(Debug, Clone)]
pub struct FeedPlan {
    config: Option<SyntheticConfig>,
}

impl FeedPlan {
    /// A feed long enough for `windows` windows of the soak flags, plus slack
    /// for the mark-out of the last window.
    pub fn for_soak(flags: &SoakFlags, windows: u32, cluster: &Cluster) -> CliResult<FeedPlan> {
        let synthetic = match flags.feed {
            FeedChoice::Auto => cluster.in_process,
            FeedChoice::Synthetic => true,
            FeedChoice::External => false,
        };
        if !synthetic {
            return Ok(FeedPlan { config: None });
        }
        if !(flags.feed_rate.is_finite() && flags.feed_rate > 0.0) {
            return Err(CliError::Usage(format!(
                "--feed-rate must be a positive number, got {}",
                flags.feed_rate
            )));
        }
        let window_ms = flags.duration.as_millis() as i64;
        let duration_ms = window_ms * (i64::from(windows) + 1) + 10_000;
        Ok(FeedPlan {
            config: Some(SyntheticConfig {
                symbols: flags.symbols.clone(),
                seed: flags.seed,
                start_ms: DEFAULT_START_MS,
                duration_ms,
                rate: flags.feed_rate * flags.symbols.len() as f64,
                ..SyntheticConfig::default()
            }),
        })
    }

    /// Starts publishing in the background; the task ends when the feed is
    /// exhausted. `None` for an external feed.
    pub async fn start(&self, cluster: &Cluster) -> CliResult<Option<JoinHandle<()>>> {
        let Some(cfg) = self.config.clone() else {
            return Ok(None);
        };
        let store = cluster.store.clone().ok_or_else(|| {
            CliError::Usage(
                "--feed synthetic with deployed services needs --redis-url (the services' Redis)"
                    .into(),
            )
        })?;
        let feed = SyntheticFeed::new(cfg.clone())
            .map_err(|e| CliError::Usage(format!("synthetic feed: {e}")))?;
        eprintln!(
            "feed: synthetic, {} symbols, {:.0} ticks/s of event time, {} of event time, seed {} → {FEED_STREAM}",
            cfg.symbols.len(),
            cfg.rate,
            humantime::format_duration(Duration::from_millis(cfg.duration_ms as u64)),
            cfg.seed
        );
        Ok(Some(tokio::spawn(publish(store, feed))))
    }
}

/// Writes the feed into the stream in pipelined batches, as fast as the store
/// takes them.
async fn publish(store: Arc<dyn Store>, feed: SyntheticFeed) {
    const BATCH: usize = 1000;
    let mut batch = Vec::with_capacity(BATCH);
    let mut written = 0u64;
    for entry in feed {
        batch.push(entry.fields());
        if batch.len() == BATCH {
            if let Err(e) = store.append(FEED_STREAM, &batch, Some(5_000_000)).await {
                tracing::warn!(error = %e, written, "synthetic feed stopped");
                return;
            }
            written += batch.len() as u64;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        if let Err(e) = store.append(FEED_STREAM, &batch, Some(5_000_000)).await {
            tracing::warn!(error = %e, written, "synthetic feed stopped");
            return;
        }
        written += batch.len() as u64;
    }
    tracing::info!(written, "synthetic feed complete");
}
