//! Subscriptions from a feed position (`SubscribeRequest.from`): the stream
//! read directly, after an entry id, instead of through the consumer group.
//!
//! Such a subscription is what makes a soak or a dry run resumable: it gives
//! the same ticks for the same position every time. Every entry after the
//! position is read in stream order (`XRANGE (pos + COUNT n`), decoded and
//! guarded by guards of its own that start empty, so neither other
//! subscribers, nor wall-clock timing, nor a restart of ingestd change what
//! it delivers:
//! - the reorder buffer releases by event time only (never by wall clock);
//! - nothing is dropped: a slow client holds the reader back (the response
//!   channel is bounded), so `bp_drops` stays 0;
//! - nothing is acknowledged nor dead-lettered: the consumer group does that
//!   for live subscribers; rejects are only counted;
//! - a store that fails transiently (Redis restarting) is retried from the
//!   same position; entries trimmed away (MAXLEN) after the position end the
//!   subscription with `FEED_TRIMMED` saying how much is missing, never a
//!   silent hole.
//!
//! `skip_ticks` drops the first released ticks (and the counters met before
//! them): a reader that lost its subscription asks again from the same
//! position and skips what it already had.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use shadowkpi_domain::feed::decode::{decode_raw, field, has_symbol};
use shadowkpi_domain::feed::guard::{Guarded, Sequenced, SymbolGuard, Verdict};
use shadowkpi_domain::symbol::normalize_symbol;
use shadowkpi_proto::v1::{IngestCounters, SubscribeResponse, Tick};
use shadowkpi_store::{Store, StreamId, StreamInfo};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::config::IngestConfig;
use crate::error::IngestError;
use crate::pipeline::wire_tick;
use crate::stats::add_counters;

/// How often a reader at the end of the stream looks for new entries.
const POLL: Duration = Duration::from_millis(20);
/// Longest wait between retries while the store is unavailable.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Where a positional subscription starts: the entry id it reads after.
pub(crate) async fn resolve(
    store: &dyn Store,
    cfg: &IngestConfig,
    from: &str,
) -> Result<StreamId, IngestError> {
    let info = store.stream_info(&cfg.stream).await?;
    let position = match from.trim() {
        "group" => store
            .group_position(&cfg.stream, &cfg.group)
            .await?
            .unwrap_or(StreamId::ZERO),
        "now" => info.map_or(StreamId::ZERO, |i| i.last_generated_id),
        "start" => match info {
            Some(i) if i.lost_after(StreamId::ZERO) => i
                .first_id
                .map_or(i.last_generated_id, StreamId::predecessor),
            _ => StreamId::ZERO,
        },
        id => StreamId::parse(id).ok_or_else(|| {
            IngestError::invalid(
                "from",
                format!("`{id}` is not `group`, `now`, `start` or a stream entry id (<ms>-<seq>)"),
            )
        })?,
    };
    if let Some(info) = info {
        check_kept(&cfg.stream, &info, position)?;
    }
    Ok(position)
}

/// `FEED_TRIMMED` when entries after `position` are gone from the stream.
fn check_kept(stream: &str, info: &StreamInfo, position: StreamId) -> Result<(), IngestError> {
    if !info.lost_after(position) {
        return Ok(());
    }
    let missing = match info.first_id {
        Some(first) => format!(
            "the stream now starts at {first}: up to {:.3} s of feed after the position \
             ({} entries trimmed from the stream in all) are missing",
            first.ms.saturating_sub(position.ms) as f64 / 1000.0,
            info.entries_added.saturating_sub(info.length)
        ),
        None => format!(
            "the stream is empty; everything up to {} is gone",
            info.last_generated_id
        ),
    };
    Err(IngestError::FeedTrimmed(format!(
        "feed position {position} of `{stream}` has been trimmed away (MAXLEN): {missing}; \
         continuing would leave a hole in the run"
    )))
}

/// A tick on its way through a positional subscription's guards.
#[derive(Debug)]
struct Carried(Tick);

impl Sequenced for Carried {
    fn ts_ms(&self) -> i64 {
        self.0.ts_server_ms
    }
    fn seq(&self) -> u64 {
        self.0.seq
    }
}

/// One positional subscription.
#[derive(Debug)]
pub(crate) struct Positional {
    pub store: Arc<dyn Store>,
    pub cfg: IngestConfig,
    pub name: String,
    pub filter: Vec<String>,
    pub max_batch: usize,
    pub position: StreamId,
    pub skip: u64,
}

/// The batch being filled.
#[derive(Debug, Default)]
struct Batch {
    ticks: Vec<Tick>,
    counters: BTreeMap<String, IngestCounters>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.ticks.is_empty() && self.counters.is_empty()
    }
}

impl Positional {
    /// Serves the subscription into `tx` until the client leaves, ingestd
    /// shuts down, or the feed position is lost.
    pub async fn run(
        mut self,
        tx: mpsc::Sender<Result<SubscribeResponse, Status>>,
        shutdown: CancellationToken,
    ) {
        tracing::info!(
            subscriber = %self.name,
            position = %self.position,
            skip = self.skip,
            symbols = ?self.filter,
            "positional subscriber joined"
        );
        let first = SubscribeResponse {
            position: self.position.to_string(),
            ..SubscribeResponse::default()
        };
        if tx.send(Ok(first)).await.is_err() {
            return;
        }
        let end = self.read(&tx, &shutdown).await;
        match end {
            Ok(()) => {
                tracing::info!(subscriber = %self.name, position = %self.position, "positional subscriber left")
            }
            Err(e) => {
                tracing::warn!(subscriber = %self.name, position = %self.position, error = %e, "positional subscription ended");
                let _ = tx.send(Err(e.into())).await;
            }
        }
    }

    async fn read(
        &mut self,
        tx: &mpsc::Sender<Result<SubscribeResponse, Status>>,
        shutdown: &CancellationToken,
    ) -> Result<(), IngestError> {
        let mut guards: HashMap<String, SymbolGuard<Carried>> = HashMap::new();
        let mut names: HashMap<String, Option<String>> = HashMap::new();
        let mut out: Vec<Guarded<Carried>> = Vec::new();
        let mut batch = Batch::default();
        let mut backoff = Duration::from_millis(100);
        loop {
            if shutdown.is_cancelled() || tx.is_closed() {
                return Ok(());
            }
            let start = format!("({}", self.position);
            let read = self
                .store
                .stream_range(&self.cfg.stream, &start, "+", Some(self.cfg.read_count))
                .await;
            let entries = match read {
                Ok(e) => e,
                Err(e) if e.is_transient() => {
                    tracing::warn!(error = %e, position = %self.position, "feed read failed, retrying from the same position");
                    if self.pause(backoff, tx, shutdown).await {
                        return Ok(());
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            backoff = Duration::from_millis(100);
            if entries.is_empty() {
                if self.pause(POLL, tx, shutdown).await {
                    return Ok(());
                }
                continue;
            }
            // Read, then check: trimming only ever moves the stream's start
            // on, so an extent that still holds the position now held it
            // when the entries were read.
            if let Some(info) = self.store.stream_info(&self.cfg.stream).await? {
                check_kept(&self.cfg.stream, &info, self.position)?;
            }
            let read_at_ms = crate::reader::now_ms();
            for entry in entries {
                if let Some(id) = StreamId::parse(&entry.id) {
                    self.position = id;
                }
                let fields = entry.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                match decode_raw(fields) {
                    Ok(raw) => {
                        let Some(symbol) = names
                            .entry(raw.symbol.to_string())
                            .or_insert_with(|| {
                                normalize_symbol(raw.symbol).filter(|s| self.wants(s))
                            })
                            .clone()
                        else {
                            continue;
                        };
                        let mut tick = wire_tick(&raw, read_at_ms);
                        tick.symbol.clone_from(&symbol);
                        // Event time alone releases: arrival is always 0.
                        guards
                            .entry(symbol.clone())
                            .or_insert_with(|| SymbolGuard::new(self.cfg.reorder_window_ms))
                            .push(Carried(tick), 0, &mut out);
                        for g in out.drain(..) {
                            self.judge(&symbol, g, &mut batch);
                            if batch.ticks.len() >= self.max_batch
                                && !self.flush(&mut batch, tx).await
                            {
                                return Ok(());
                            }
                        }
                    }
                    Err(_) => {
                        let symbol = entry
                            .get(field::SYMBOL)
                            .filter(|s| has_symbol(s))
                            .and_then(normalize_symbol)
                            .filter(|s| self.wants(s));
                        if let Some(s) = symbol {
                            let c = IngestCounters {
                                rejected: 1,
                                ..IngestCounters::default()
                            };
                            self.count(&s, &c, &mut batch);
                        }
                    }
                }
            }
            if !self.flush(&mut batch, tx).await {
                return Ok(());
            }
        }
    }

    fn wants(&self, symbol: &str) -> bool {
        self.filter.is_empty() || self.filter.iter().any(|f| f == symbol)
    }

    /// Counters met before a skipped tick are skipped with it.
    fn count(&self, symbol: &str, c: &IngestCounters, batch: &mut Batch) {
        if self.skip > 0 {
            return;
        }
        match batch.counters.get_mut(symbol) {
            Some(slot) => add_counters(slot, c),
            None => {
                batch.counters.insert(symbol.to_string(), *c);
            }
        }
    }

    fn judge(&mut self, symbol: &str, g: Guarded<Carried>, batch: &mut Batch) {
        match g.verdict {
            Verdict::Duplicate => {
                let c = IngestCounters {
                    duplicates: 1,
                    ..IngestCounters::default()
                };
                self.count(symbol, &c, batch);
            }
            Verdict::Deliver { missing, moved } => {
                if missing > 0 || moved {
                    let c = IngestCounters {
                        seq_gaps: missing,
                        reordered: u64::from(moved),
                        ..IngestCounters::default()
                    };
                    self.count(symbol, &c, batch);
                }
                if self.skip > 0 {
                    self.skip -= 1;
                } else {
                    batch.ticks.push(g.item.0);
                }
            }
        }
    }

    /// Sends the batch (if it holds anything); false when the client left.
    async fn flush(
        &self,
        batch: &mut Batch,
        tx: &mpsc::Sender<Result<SubscribeResponse, Status>>,
    ) -> bool {
        if batch.is_empty() {
            return true;
        }
        let b = std::mem::take(batch);
        tx.send(Ok(SubscribeResponse {
            ticks: b.ticks,
            counters: b.counters.into_iter().collect(),
            position: self.position.to_string(),
        }))
        .await
        .is_ok()
    }

    /// Waits `d`; true when the client left or ingestd shuts down meanwhile.
    async fn pause(
        &self,
        d: Duration,
        tx: &mpsc::Sender<Result<SubscribeResponse, Status>>,
        shutdown: &CancellationToken,
    ) -> bool {
        tokio::select! {
            () = tokio::time::sleep(d) => false,
            () = tx.closed() => true,
            () = shutdown.cancelled() => true,
        }
    }
}
