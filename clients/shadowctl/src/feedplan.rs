//! The market feed of a soak or pipeline: the synthetic feed run in-process
//! (all-in-one) or an external feed that is already flowing into the stream.

use std::time::Duration;

use ingestd::feed::{CancellationToken, PublishOptions, publish_synthetic};
use shadowkpi_domain::feed::synthetic::{DEFAULT_START_MS, SyntheticConfig, SyntheticFeed};
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
        SyntheticFeed::new(cfg.clone())
            .map_err(|e| CliError::Usage(format!("synthetic feed: {e}")))?;
        eprintln!(
            "feed: synthetic, {} symbols, {:.0} ticks/s of event time, {} of event time, seed {} → {FEED_STREAM}",
            cfg.symbols.len(),
            cfg.rate,
            humantime::format_duration(Duration::from_millis(cfg.duration_ms as u64)),
            cfg.seed
        );
        let opts = PublishOptions {
            stream: FEED_STREAM.into(),
            // Keep everything a soak and its dry run will read.
            maxlen: Some(10_000_000),
            speed: None,
            batch_size: 1000,
        };
        Ok(Some(tokio::spawn(async move {
            match publish_synthetic(&*store, cfg, &opts, CancellationToken::new()).await {
                Ok(r) => tracing::info!(entries = r.entries_written, "synthetic feed complete"),
                Err(e) => tracing::warn!(error = %e, "synthetic feed stopped"),
            }
        })))
    }
}
