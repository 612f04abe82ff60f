//! The market feed of a soak or pipeline: the synthetic feed run in-process
//! (all-in-one), a recording replayed from files (`pipeline --replay`), or an
//! external feed that is already flowing into the stream.
//!
//! Either feed this process publishes goes out in two parts: the soak's before
//! the soak, the rest once the dry run starts ([`FeedTask::continue_for_dry_run`]).
//! A recording is read and split by [`ReplayRecording`] (the `feed replay`
//! readers, [`shadowkpi_feed::read_replay`]) as
//! [`shadowkpi_domain::feed::split::plan_split`] plans it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use shadowkpi_domain::feed::decode::{TS_WALL_UNPACED, encode, field};
use shadowkpi_domain::feed::split::{
    ReplaySplit, SplitRequest, format_span, format_utc, plan_split,
};
use shadowkpi_domain::feed::synthetic::{
    DEFAULT_START_MS, Scenario, SyntheticConfig, SyntheticFeed,
};
use shadowkpi_domain::symbol::normalize_symbol;
use shadowkpi_domain::tick::Tick;
use shadowkpi_feed::{MergeClock, ReplayFormat, ReplaySource, read_replay};
use shadowkpi_store::{Store, StoreError, StreamId};
use tokio::task::JoinHandle;

use crate::error::{ClientError, ClientResult};
use crate::services::Cluster;

/// The stream the feed is written to (the contract's default).
pub const FEED_STREAM: &str = "lob:ticks";

/// Which feed to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum FeedChoice {
    /// Synthetic in all-in-one mode, external otherwise.
    Auto,
    /// Run the synthetic feed from this process into the stream.
    Synthetic,
    /// Do not publish: an order-book process feeds the stream.
    External,
}

/// The synthetic feed a soak asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticFeedSpec {
    /// Which feed.
    pub feed: FeedChoice,
    /// The soak's window length.
    pub window: Duration,
    /// Ticks per second per symbol (`--feed-rate`).
    pub rate: f64,
    /// The symbols.
    pub symbols: Vec<String>,
    /// Seed of the synthetic market.
    pub seed: u64,
    /// The market's scenario.
    pub scenario: Scenario,
}

/// A planned feed this process publishes (or none).
#[derive(Debug, Clone)]
pub struct FeedPlan {
    config: Option<SyntheticConfig>,
    /// Event time published before the soak; the rest waits for the dry run.
    soak_ms: i64,
    replay: Option<Arc<ReplayFeed>>,
}

impl FeedPlan {
    /// A feed for a soak of `soak_windows` windows followed by a dry run of
    /// `dry_windows` windows (0 for none) on fresh data.
    pub fn for_run(
        flags: &SyntheticFeedSpec,
        soak_windows: u32,
        dry_windows: u32,
        dry_window: Duration,
        cluster: &Cluster,
    ) -> ClientResult<FeedPlan> {
        let synthetic = match flags.feed {
            FeedChoice::Auto => cluster.in_process,
            FeedChoice::Synthetic => true,
            FeedChoice::External => false,
        };
        let window_ms = flags.window.as_millis() as i64;
        // Slack past the last window: the engine emits a window once its
        // mark-outs are known, so event time must run a little beyond it.
        let slack_ms = 10_000 + window_ms / 10;
        let soak_ms = window_ms * i64::from(soak_windows) + slack_ms;
        if !synthetic {
            return Ok(FeedPlan {
                config: None,
                soak_ms,
                replay: None,
            });
        }
        if !(flags.rate.is_finite() && flags.rate > 0.0) {
            return Err(ClientError::Usage(format!(
                "--feed-rate must be a positive number, got {}",
                flags.rate
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
                rate: flags.rate * flags.symbols.len() as f64,
                scenario: flags.scenario,
                ..SyntheticConfig::default()
            }),
            soak_ms,
            replay: None,
        })
    }

    /// A recording split in two: the soak's part, then the dry run's.
    pub fn replay(feed: ReplayFeed) -> FeedPlan {
        FeedPlan {
            config: None,
            soak_ms: 0,
            replay: Some(Arc::new(feed)),
        }
    }

    /// Starts publishing the soak's part of the feed in the background. `None`
    /// for an external feed.
    pub async fn start(&self, cluster: &Cluster) -> ClientResult<Option<FeedTask>> {
        if let Some(r) = &self.replay {
            return r.start(cluster).await.map(Some);
        }
        let Some(cfg) = self.config.clone() else {
            return Ok(None);
        };
        let store = cluster.store.clone().ok_or_else(|| {
            ClientError::Usage(
                "--feed synthetic with deployed services needs --redis-url (the services' Redis)"
                    .into(),
            )
        })?;
        let feed = SyntheticFeed::new(cfg.clone())
            .map_err(|e| ClientError::Usage(format!("synthetic feed: {e}")))?;
        eprintln!(
            "feed: synthetic ({}), {} symbols, {:.0} ticks/s of event time, {} of event time, seed {} → {FEED_STREAM}",
            cfg.scenario,
            cfg.symbols.len(),
            cfg.rate,
            humantime::format_duration(Duration::from_millis(cfg.duration_ms as u64)),
            cfg.seed
        );
        let cutoff = cfg.start_ms + self.soak_ms;
        let position = stream_end(&store).await?;
        let part = FeedPart {
            store,
            entries: Box::new(feed.map(|e| (e.ts_ms(), e.fields()))),
            held: None,
        };
        Ok(Some(FeedTask {
            position,
            running: tokio::spawn(part.publish_until(Some(cutoff))),
        }))
    }
}

/// Stream entries with their event time, in publishing order.
type Entries = Box<dyn Iterator<Item = (i64, Vec<(String, String)>)> + Send>;

/// The rest of a feed, not yet published.
struct FeedPart {
    store: Arc<dyn Store>,
    entries: Entries,
    held: Option<(i64, Vec<(String, String)>)>,
}

impl FeedPart {
    /// Publishes entries before `cutoff` (all with `None`) in pipelined
    /// batches, and returns what is left.
    async fn publish_until(mut self, cutoff: Option<i64>) -> Result<FeedPart, StoreError> {
        const BATCH: usize = 1000;
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let next = self.held.take().or_else(|| self.entries.next());
            let Some((ts, mut fields)) = next else { break };
            if cutoff.is_some_and(|c| ts >= c) {
                self.held = Some((ts, fields));
                break;
            }
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

/// A feed being published.
pub struct FeedTask {
    running: JoinHandle<Result<FeedPart, StoreError>>,
    /// The id of the stream's last entry before this part was published:
    /// the feed position (`--from`) of the run that reads this part.
    pub position: String,
}

/// The id of the stream's last entry (`0-0` when it never held one): the
/// position a run that reads what is published next starts after.
async fn stream_end(store: &Arc<dyn Store>) -> ClientResult<String> {
    let info = store
        .stream_info(FEED_STREAM)
        .await
        .map_err(|e| ClientError::StoreUnreachable {
            message: format!("feed: {e}"),
            hint: Some(crate::services::REDIS_HINT.into()),
        })?;
    Ok(info
        .map_or(StreamId::ZERO, |i| i.last_generated_id)
        .to_string())
}

impl std::fmt::Debug for FeedTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedTask").finish_non_exhaustive()
    }
}

impl FeedTask {
    /// Publishes the rest of the feed (the dry run's fresh data) once the
    /// soak's part is written.
    pub async fn continue_for_dry_run(self) -> ClientResult<FeedTask> {
        let part = self
            .running
            .await
            .map_err(|e| ClientError::Service(format!("feed: {e}")))?
            .map_err(|e| ClientError::StoreUnreachable {
                message: format!("feed: {e}"),
                hint: Some(crate::services::REDIS_HINT.into()),
            })?;
        Ok(FeedTask {
            position: stream_end(&part.store).await?,
            running: tokio::spawn(part.publish_until(None)),
        })
    }

    /// Stops publishing.
    pub fn abort(&self) {
        self.running.abort();
    }
}

/// Mark-out margin of a replay part past its last window's mark-out horizon:
/// the ingest reorder window (40 ms) and some room.
pub const REPLAY_TAIL_MARGIN_MS: i64 = 500;

/// Recorded files read into memory, checked, for `pipeline --replay`.
#[derive(Debug, Clone)]
pub struct ReplayRecording {
    /// The files, as given, joined by `, ` (prefixes errors).
    pub label: String,
    /// The symbols the files hold (normalised, sorted).
    pub symbols: Vec<String>,
    /// Every usable tick, in feed order (the files merged as `feed replay`
    /// merges them).
    pub ticks: Vec<Tick>,
    /// Lines that could not be used (skipped).
    pub skipped: u64,
}

fn usage(e: shadowkpi_feed::FeedError) -> ClientError {
    ClientError::Usage(e.to_string())
}

fn open_all(files: &[PathBuf]) -> ClientResult<Vec<ReplaySource>> {
    files
        .iter()
        .map(|f| ReplaySource::open(f).map_err(usage))
        .collect()
}

impl ReplayRecording {
    /// Reads `files` (JSON Lines or Tardis CSV, plain or gzipped). A missing
    /// file, a file without a usable tick, or (when `asked` is given) a file
    /// holding a symbol not asked for or a symbol asked for that no file holds,
    /// is a usage error naming the file and the symbols found.
    pub fn load(
        files: &[PathBuf],
        format: ReplayFormat,
        clock: MergeClock,
        asked: Option<&[String]>,
    ) -> ClientResult<ReplayRecording> {
        let mut wanted = BTreeSet::new();
        for s in asked.unwrap_or_default() {
            wanted.insert(normalize_symbol(s).ok_or_else(|| {
                ClientError::Usage(format!("--symbols: `{s}` is empty once normalised"))
            })?);
        }
        // Each file alone first: which file holds what.
        let mut found = BTreeSet::new();
        let mut single = None;
        for f in files {
            let read =
                read_replay(open_all(std::slice::from_ref(f))?, format, clock).map_err(usage)?;
            // (A file without a usable row is already an error naming it.)
            let name = f.display();
            let held: BTreeSet<String> = read.ticks.iter().map(|t| t.symbol.clone()).collect();
            let extra: Vec<&str> = held
                .iter()
                .filter(|s| !wanted.is_empty() && !wanted.contains(*s))
                .map(String::as_str)
                .collect();
            if !extra.is_empty() {
                return Err(ClientError::Usage(format!(
                    "{name} holds {} but --symbols asks for {} only: {} not asked for (replay files of the symbols asked for, or drop --symbols to run every symbol of the files)",
                    join(&held),
                    join(&wanted),
                    extra.join(", ")
                )));
            }
            found.extend(held);
            single = Some(read);
        }
        let missing: Vec<&str> = wanted
            .iter()
            .filter(|s| !found.contains(*s))
            .map(String::as_str)
            .collect();
        let label = files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if !missing.is_empty() {
            return Err(ClientError::Usage(format!(
                "--symbols {}: not in {label}, which hold {}",
                missing.join(", "),
                join(&found)
            )));
        }
        let read = match single {
            Some(r) if files.len() == 1 => r,
            _ => read_replay(open_all(files)?, format, clock).map_err(usage)?,
        };
        for e in &read.errors {
            tracing::warn!(error = %e, "replay line skipped");
        }
        Ok(ReplayRecording {
            label,
            symbols: found.into_iter().collect(),
            ticks: read.ticks,
            skipped: read.skipped,
        })
    }

    /// Splits the recording as `req` says; a part too short for its windows,
    /// or a split outside the recording, is a usage error naming the numbers.
    pub fn split(self, req: &SplitRequest) -> ClientResult<ReplayFeed> {
        let ts: Vec<i64> = self.ticks.iter().map(|t| t.ts_server_ms).collect();
        let plan =
            plan_split(&ts, req, &self.label).map_err(|e| ClientError::Usage(e.to_string()))?;
        let (mut soak, mut dry) = (Vec::new(), Vec::new());
        for t in self.ticks {
            let ts = t.ts_server_ms;
            if plan.is_soak(ts) {
                if plan.soak.publishes(ts) {
                    soak.push(t);
                }
            } else if plan.dry_run.as_ref().is_some_and(|d| d.publishes(ts)) {
                dry.push(t);
            }
        }
        Ok(ReplayFeed {
            label: self.label,
            symbols: self.symbols,
            skipped: self.skipped,
            plan,
            soak,
            dry,
        })
    }
}

fn join(s: &BTreeSet<String>) -> String {
    s.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
}

/// A recording split for a soak and its dry run.
#[derive(Debug, Clone)]
pub struct ReplayFeed {
    /// The files.
    pub label: String,
    /// The symbols of the files.
    pub symbols: Vec<String>,
    /// Where it split and what each part runs.
    pub plan: ReplaySplit,
    /// Lines of the files that could not be used (skipped).
    pub skipped: u64,
    soak: Vec<Tick>,
    dry: Vec<Tick>,
}

impl ReplayFeed {
    /// Lines for people: the recording, where it split, each part.
    pub fn describe(&self) -> Vec<String> {
        let p = &self.plan;
        let (first, last) = p.span_ms;
        let mut out = vec![
            format!(
                "replay: {}: {} ticks of {}, {} to {} ({}){}",
                self.label,
                p.soak.ticks + p.dry_run.as_ref().map_or(0, |d| d.ticks),
                self.symbols.join(", "),
                format_utc(first),
                format_utc(last),
                format_span(last - first),
                if self.skipped > 0 {
                    format!(", {} lines skipped", self.skipped)
                } else {
                    String::new()
                }
            ),
            format!("split at {} ({})", p.split_ms, format_utc(p.split_ms)),
        ];
        let part = |name: &str, d: &shadowkpi_domain::feed::split::PartPlan| {
            format!(
                "  {name}: {} ticks, {} to {} ({}): {} windows of {} ({} ticks published)",
                d.ticks,
                format_utc(d.first_ms),
                format_utc(d.last_ms),
                format_span(d.span_ms()),
                d.windows,
                format_span(d.window_ms),
                d.published
            )
        };
        out.push(part("soak", &p.soak));
        if let Some(d) = &p.dry_run {
            out.push(part("dry run", d));
        }
        out
    }

    async fn start(&self, cluster: &Cluster) -> ClientResult<FeedTask> {
        let store = cluster.store.clone().ok_or_else(|| {
            ClientError::Usage(
                "--replay with deployed services needs --redis-url (the services' Redis) to publish the recording into the feed stream"
                    .into(),
            )
        })?;
        eprintln!(
            "feed: replay of {}, {} + {} ticks → {FEED_STREAM}",
            self.label,
            self.soak.len(),
            self.dry.len()
        );
        let ticks: Vec<Tick> = self.soak.iter().chain(&self.dry).cloned().collect();
        let position = stream_end(&store).await?;
        let part = FeedPart {
            store,
            entries: Box::new(ticks.into_iter().map(|t| (t.ts_server_ms, encode(&t)))),
            held: None,
        };
        Ok(FeedTask {
            position,
            running: tokio::spawn(part.publish_until(Some(self.plan.split_ms))),
        })
    }
}
