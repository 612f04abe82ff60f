//! The market feed of a soak or pipeline: the synthetic feed run in-process
//! (all-in-one) or an external feed that is already flowing into the stream.

use std::sync::Arc;
use std::time::Duration;

use shadowkpi_domain::feed::decode::{TS_WALL_UNPACED, field};
use shadowkpi_domain::feed::synthetic::{
    DEFAULT_START_MS, FeedEntry, SyntheticConfig, SyntheticFeed,
};
use shadowkpi_store::{Store, StoreError};
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
    /// Event time published before the soak; the rest waits for the dry run.
    soak_ms: i64,
}

impl FeedPlan {
    /// A feed for a soak of `soak_windows` windows followed by a dry run of
    /// `dry_windows` windows (0 for none) on fresh data.
    pub fn for_run(
        flags: &SoakFlags,
        soak_windows: u32,
        dry_windows: u32,
        dry_window: Duration,
        cluster: &Cluster,
    ) -> CliResult<FeedPlan> {
        let synthetic = match flags.feed {
            FeedChoice::Auto => cluster.in_process,
            FeedChoice::Synthetic => true,
            FeedChoice::External => false,
        };
        let window_ms = flags.duration.as_millis() as i64;
        // Slack past the last window: the engine emits a window once its
        // mark-outs are known, so event time must run a little beyond it.
        let slack_ms = 10_000 + window_ms / 10;
        let soak_ms = window_ms * i64::from(soak_windows) + slack_ms;
        if !synthetic {
            return Ok(FeedPlan {
                config: None,
                soak_ms,
            });
        }
        if !(flags.feed_rate.is_finite() && flags.feed_rate > 0.0) {
            return Err(CliError::Usage(format!(
                "--feed-rate must be a positive number, got {}",
                flags.feed_rate
            )));
        }
        let dry_ms = if dry_windows == 0 {
            0
        } else {
            dry_window.as_millis() as i64 * i64::from(dry_windows + 1) + slack_ms
        };
        Ok(FeedPlan {
            config: Some(SyntheticConfig {
                symbols: flags.symbols.clone(),
                seed: flags.seed,
                start_ms: DEFAULT_START_MS,
                duration_ms: soak_ms + dry_ms,
                rate: flags.feed_rate * flags.symbols.len() as f64,
                ..SyntheticConfig::default()
            }),
            soak_ms,
        })
    }

    /// Starts publishing the soak's part of the feed in the background. `None`
    /// for an external feed.
    pub async fn start(&self, cluster: &Cluster) -> CliResult<Option<FeedTask>> {
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
        let cutoff = cfg.start_ms + self.soak_ms;
        let part = FeedPart {
            store,
            feed,
            held: None,
        };
        Ok(Some(FeedTask {
            running: tokio::spawn(part.publish_until(Some(cutoff))),
        }))
    }
}

/// The rest of a feed, not yet published.
struct FeedPart {
    store: Arc<dyn Store>,
    feed: SyntheticFeed,
    held: Option<FeedEntry>,
}

impl FeedPart {
    /// Publishes entries before `cutoff` (all with `None`) in pipelined
    /// batches, and returns what is left.
    async fn publish_until(mut self, cutoff: Option<i64>) -> Result<FeedPart, StoreError> {
        const BATCH: usize = 1000;
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let next = self.held.take().or_else(|| self.feed.next());
            let Some(entry) = next else { break };
            if cutoff.is_some_and(|c| entry.ts_ms() >= c) {
                self.held = Some(entry);
                break;
            }
            let mut fields = entry.fields();
            // Unpaced event time from a fixed instant: clock drift does not apply.
            fields.push((field::TS_WALL.into(), TS_WALL_UNPACED.into()));
            batch.push(fields);
            if batch.len() == BATCH {
                self.store.append(FEED_STREAM, &batch, MAXLEN).await?;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            self.store.append(FEED_STREAM, &batch, MAXLEN).await?;
        }
        Ok(self)
    }
}

/// Keep everything a soak and its dry run read.
const MAXLEN: Option<u64> = Some(10_000_000);

/// A synthetic feed being published.
pub struct FeedTask {
    running: JoinHandle<Result<FeedPart, StoreError>>,
}

impl std::fmt::Debug for FeedTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedTask").finish_non_exhaustive()
    }
}

impl FeedTask {
    /// Publishes the rest of the feed (the dry run's fresh data) once the
    /// soak's part is written.
    pub async fn continue_for_dry_run(self) -> CliResult<FeedTask> {
        let part = self
            .running
            .await
            .map_err(|e| CliError::Service(format!("synthetic feed: {e}")))?
            .map_err(|e| CliError::StoreUnreachable {
                message: format!("synthetic feed: {e}"),
                hint: Some(crate::cluster::REDIS_HINT.into()),
            })?;
        Ok(FeedTask {
            running: tokio::spawn(part.publish_until(None)),
        })
    }

    /// Stops publishing.
    pub fn abort(&self) {
        self.running.abort();
    }
}
