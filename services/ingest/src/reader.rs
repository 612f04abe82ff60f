//! The reader task: consumer-group reads from Redis, only while someone is
//! subscribed.
//!
//! Each session (from the first subscriber to the last one leaving) starts
//! with: `XGROUP CREATE … MKSTREAM` (an existing group is fine), a flush of the
//! acknowledgements still queued, a drain of this consumer's own pending
//! entries (id `0`), and a sweep of entries idle in other consumers
//! (`XAUTOCLAIM`). Then it reads new entries (`>`) with `COUNT`/`BLOCK`,
//! sweeping again every `autoclaim_interval`. Without subscribers nothing is
//! read, so a backlog waits in Redis for the next subscriber.
//!
//! When Redis goes away the reader retries with backoff and, once it is back,
//! sets the session up again (the group may have to be recreated) and resumes
//! where the group left off; subscribers stay connected throughout.
//!
//! The lag task creates the group at start-up (so a backlog shows as lag before
//! anyone subscribes) and polls `XINFO GROUPS` for `shadow_ingest_lag_msgs`.

use std::sync::Arc;
use std::time::Duration;

use shadowkpi_store::{Store, StoreError, StreamEntry};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use shadowkpi_runtime::retry::Backoff;

use crate::ack::{Acks, note_error};
use crate::config::IngestConfig;
use crate::hub::{Hub, Session};
use crate::metrics::METRICS;
use crate::pipeline::Chunk;
use crate::stats::Stats;

/// Largest page when re-reading this consumer's pending entries.
const MAX_PENDING_PAGE: usize = 1 << 20;
/// Largest number of `XAUTOCLAIM` pages per sweep.
const MAX_CLAIM_PAGES: usize = 10_000;

/// Why a session step stopped.
enum Stop {
    /// Shutdown, or the pipeline is gone.
    Exit,
    /// The store failed; set the session up again after a backoff.
    Store(StoreError),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Store(e)
    }
}

/// The reader.
pub(crate) struct Reader {
    pub store: Arc<dyn Store>,
    pub cfg: IngestConfig,
    pub hub: Arc<Hub>,
    pub acks: Arc<Acks>,
    pub stats: Arc<Stats>,
    pub tx: mpsc::Sender<Chunk>,
    pub shutdown: CancellationToken,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Reader {
    /// Runs sessions until shutdown.
    pub async fn run(self) {
        let mut session = self.hub.session();
        loop {
            let s = *session.borrow_and_update();
            if s.active {
                self.session(s.epoch, &session).await;
                if self.shutdown.is_cancelled() || self.tx.is_closed() {
                    return;
                }
                continue;
            }
            tokio::select! {
                r = session.changed() => if r.is_err() { return },
                () = self.shutdown.cancelled() => return,
            }
        }
    }

    fn current(session: &watch::Receiver<Session>, epoch: u64) -> bool {
        let s = *session.borrow();
        s.active && s.epoch == epoch
    }

    /// One session: set up, then read until the last subscriber leaves.
    async fn session(&self, epoch: u64, session: &watch::Receiver<Session>) {
        tracing::info!(
            stream = %self.cfg.stream,
            group = %self.cfg.group,
            consumer = %self.cfg.consumer,
            epoch,
            "subscribers present, reading the feed"
        );
        let mut backoff = Backoff::default();
        let mut ready = false;
        let mut next_claim = tokio::time::Instant::now() + self.cfg.autoclaim_interval;
        while Self::current(session, epoch) && !self.shutdown.is_cancelled() {
            let Ok(count) = self.wait_for_room().await else {
                return;
            };
            if count == 0 {
                // Every subscriber is still full: look at the session again.
                continue;
            }
            let step = async {
                if !ready {
                    self.setup(epoch).await?;
                    ready = true;
                    next_claim = tokio::time::Instant::now() + self.cfg.autoclaim_interval;
                }
                if tokio::time::Instant::now() >= next_claim {
                    self.claim(epoch).await?;
                    next_claim = tokio::time::Instant::now() + self.cfg.autoclaim_interval;
                }
                self.read_new(epoch, count).await
            };
            let result = tokio::select! {
                r = step => r,
                () = self.shutdown.cancelled() => Err(Stop::Exit),
            };
            match result {
                Ok(()) => {
                    backoff.reset();
                    if !self.stats.set_redis_up(true) {
                        tracing::info!("redis reachable again, reading resumed");
                    }
                }
                Err(Stop::Exit) => return,
                Err(Stop::Store(e)) => {
                    note_error(&self.stats, &e, "feed read failed");
                    // Set up again: recreate the group if Redis lost it, and
                    // pick up entries whose read reply was lost.
                    ready = false;
                    let delay = backoff.fail();
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = self.shutdown.cancelled() => return,
                    }
                }
            }
        }
        tracing::info!(epoch, "no subscribers, reading paused");
    }

    async fn send(&self, epoch: u64, entries: Vec<StreamEntry>, backlog: bool) -> Result<(), Stop> {
        if entries.is_empty() {
            return Ok(());
        }
        self.hub.read_in_flight(entries.len());
        let chunk = Chunk {
            epoch,
            entries,
            read_at_ms: now_ms(),
            backlog,
        };
        self.tx.send(chunk).await.map_err(|_| Stop::Exit)
    }

    async fn setup(&self, epoch: u64) -> Result<(), Stop> {
        let c = &self.cfg;
        self.store.create_group(&c.stream, &c.group).await?;
        // Acknowledge what earlier sessions delivered before re-reading the
        // pending list, or it would come back as duplicates.
        if !self.acks.flush().await {
            return Err(Stop::Store(StoreError::Unavailable(
                "acknowledgements could not be written".into(),
            )));
        }
        self.drain_pending(epoch).await?;
        self.claim(epoch).await
    }

    /// Re-reads this consumer's pending entries (id `0`), skipping those still
    /// in flight. The pending list is read from its start each time, so when a
    /// page holds only entries in flight the page grows.
    async fn drain_pending(&self, epoch: u64) -> Result<(), Stop> {
        let c = &self.cfg;
        let mut count = c.read_count;
        let mut total = 0usize;
        loop {
            self.acks.begin_read();
            let page = self
                .store
                .read_group(&c.stream, &c.group, &c.consumer, count, None, true)
                .await?;
            let n = page.len();
            let fresh = self.acks.admit(page);
            total += fresh.len();
            let none_fresh = fresh.is_empty();
            self.send(epoch, fresh, true).await?;
            if n < count {
                break;
            }
            if none_fresh {
                count *= 2;
                if count > MAX_PENDING_PAGE {
                    tracing::warn!(
                        count,
                        "pending list too long to re-read; the rest will be claimed when idle"
                    );
                    break;
                }
            }
        }
        if total > 0 {
            tracing::info!(entries = total, consumer = %c.consumer, "re-delivering this consumer's pending entries");
        }
        Ok(())
    }

    /// Claims entries idle longer than `autoclaim_idle` in any consumer.
    async fn claim(&self, epoch: u64) -> Result<(), Stop> {
        let c = &self.cfg;
        let mut start = "0-0".to_string();
        let mut claimed = 0u64;
        for _ in 0..MAX_CLAIM_PAGES {
            self.acks.begin_read();
            let r = self
                .store
                .autoclaim(
                    &c.stream,
                    &c.group,
                    &c.consumer,
                    c.autoclaim_idle,
                    &start,
                    c.read_count,
                )
                .await?;
            if !r.deleted.is_empty() {
                tracing::warn!(
                    entries = r.deleted.len(),
                    "pending entries were trimmed from the stream before delivery"
                );
            }
            let fresh = self.acks.admit(r.entries);
            claimed += fresh.len() as u64;
            self.send(epoch, fresh, true).await?;
            if r.next == "0-0" || r.next.is_empty() {
                break;
            }
            start = r.next;
        }
        if claimed > 0 {
            self.stats
                .claimed
                .fetch_add(claimed, std::sync::atomic::Ordering::Relaxed);
            METRICS.claimed.inc_by(claimed);
            tracing::info!(
                entries = claimed,
                idle_ms = c.autoclaim_idle.as_millis() as u64,
                "claimed idle entries"
            );
        }
        Ok(())
    }

    /// Waits until the emptiest subscriber queue has room for a read, and
    /// returns how many entries to read: a backlog is read at the pace of the
    /// fastest subscriber, which therefore never drops. 0 after a while
    /// without room, so the caller can look at the session again.
    async fn wait_for_room(&self) -> Result<usize, Stop> {
        let c = &self.cfg;
        let half = (c.subscriber_buffer / 2).max(1);
        loop {
            let changed = self.hub.room_changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let room = self.hub.room();
            if room >= half {
                return Ok(c.read_count.min(room / 2).max(1));
            }
            tokio::select! {
                () = changed => {}
                // Re-check now and then (a session may have ended meanwhile).
                () = tokio::time::sleep(std::time::Duration::from_millis(200)) => return Ok(0),
                () = self.shutdown.cancelled() => return Err(Stop::Exit),
            }
        }
    }

    async fn read_new(&self, epoch: u64, count: usize) -> Result<(), Stop> {
        let c = &self.cfg;
        self.acks.begin_read();
        let entries = self
            .store
            .read_group(
                &c.stream,
                &c.group,
                &c.consumer,
                count,
                Some(c.block),
                false,
            )
            .await?;
        let full = entries.len() >= count;
        let entries = self.acks.admit(entries);
        self.send(epoch, entries, full).await
    }
}

/// Polls the consumer-group lag until shutdown (creating the group when it
/// does not exist yet).
pub(crate) async fn run_lag(
    store: Arc<dyn Store>,
    cfg: IngestConfig,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
) {
    let mut timer = tokio::time::interval(cfg.lag_interval.max(Duration::from_millis(50)));
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = timer.tick() => {}
            () = shutdown.cancelled() => return,
        }
        match store.group_lag(&cfg.stream, &cfg.group).await {
            Ok(None) => {
                // Create the group (and the stream) now, so the backlog of a
                // feed published before anyone subscribes shows as lag.
                if let Err(e) = store.create_group(&cfg.stream, &cfg.group).await {
                    note_error(&stats, &e, "consumer group creation failed");
                }
            }
            Ok(Some(lag)) => {
                stats.lag.store(lag, std::sync::atomic::Ordering::Relaxed);
                METRICS.lag.set(lag as f64);
                stats.set_redis_up(true);
            }
            Err(e) => note_error(&stats, &e, "lag poll failed"),
        }
    }
}
