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
use shadowkpi_store::{Store, StreamEntry, StreamId, StreamInfo};
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

/// One symbol of a positional subscription: its name and its guards.
#[derive(Debug)]
struct Slot {
    name: String,
    guard: SymbolGuard<Carried>,
}

/// Fetches the entries after `position`, chunk by chunk, into `chunks`: at
/// the end of the stream it polls; a store that fails transiently is asked
/// again from the same position (backing off); entries trimmed away after
/// the position end it with `FEED_TRIMMED`.
async fn fetch(
    store: Arc<dyn Store>,
    stream: String,
    count: usize,
    mut position: StreamId,
    chunks: mpsc::Sender<Result<Vec<StreamEntry>, IngestError>>,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    let pause = async |d: Duration| {
        tokio::select! {
            () = tokio::time::sleep(d) => false,
            () = chunks.closed() => true,
            () = stop.cancelled() => true,
        }
    };
    loop {
        if stop.is_cancelled() {
            return;
        }
        let read = store
            .stream_range(&stream, &format!("({position}"), "+", Some(count))
            .await;
        let entries = match read {
            Ok(e) => e,
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, %position, "feed read failed, retrying from the same position");
                if pause(backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
            Err(e) => {
                let _ = chunks.send(Err(e.into())).await;
                return;
            }
        };
        backoff = Duration::from_millis(100);
        if entries.is_empty() {
            if pause(POLL).await {
                return;
            }
            continue;
        }
        // Read, then check: trimming only ever moves the stream's start on,
        // so an extent that still holds the position now held it when the
        // entries were read.
        let kept = match store.stream_info(&stream).await {
            Ok(Some(info)) => check_kept(&stream, &info, position),
            Ok(None) => Ok(()),
            Err(e) if e.is_transient() => continue,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = kept {
            let _ = chunks.send(Err(e)).await;
            return;
        }
        if let Some(id) = entries.last().and_then(|e| StreamId::parse(&e.id)) {
            position = id;
        }
        if chunks.send(Ok(entries)).await.is_err() {
            return;
        }
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

    /// Reads ahead of the processing (one task fetches chunks while the
    /// other decodes, guards and sends), so a Redis round trip and the work
    /// on the previous chunk overlap.
    async fn read(
        &mut self,
        tx: &mpsc::Sender<Result<SubscribeResponse, Status>>,
        shutdown: &CancellationToken,
    ) -> Result<(), IngestError> {
        let (chunks_tx, mut chunks) = mpsc::channel::<Result<Vec<StreamEntry>, IngestError>>(2);
        let stop = shutdown.child_token();
        tokio::spawn(fetch(
            self.store.clone(),
            self.cfg.stream.clone(),
            self.cfg.read_count,
            self.position,
            chunks_tx,
            stop.clone(),
        ));
        let _stop_fetch = stop.drop_guard();
        let mut slots: Vec<Slot> = Vec::new();
        let mut by_raw: HashMap<String, Option<usize>> = HashMap::new();
        let mut out: Vec<Guarded<Carried>> = Vec::new();
        let mut batch = Batch::default();
        loop {
            let entries = tokio::select! {
                c = chunks.recv() => match c {
                    Some(Ok(e)) => e,
                    Some(Err(e)) => return Err(e),
                    None => return Ok(()),
                },
                () = tx.closed() => return Ok(()),
                () = shutdown.cancelled() => return Ok(()),
            };
            let read_at_ms = crate::reader::now_ms();
            for entry in entries {
                if let Some(id) = StreamId::parse(&entry.id) {
                    self.position = id;
                }
                let fields = entry.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                match decode_raw(fields) {
                    Ok(raw) => {
                        let slot = match by_raw.get(raw.symbol) {
                            Some(s) => *s,
                            None => {
                                let s = self.slot(raw.symbol, &mut slots);
                                by_raw.insert(raw.symbol.to_string(), s);
                                s
                            }
                        };
                        let Some(i) = slot else { continue };
                        let mut tick = wire_tick(&raw, read_at_ms);
                        tick.symbol.clone_from(&slots[i].name);
                        // Event time alone releases: arrival is always 0.
                        slots[i].guard.push(Carried(tick), 0, &mut out);
                        for g in out.drain(..) {
                            self.judge(&slots[i].name, g, &mut batch);
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

    /// The slot of a raw symbol spelling: `None` for a symbol this
    /// subscription does not want.
    fn slot(&self, raw: &str, slots: &mut Vec<Slot>) -> Option<usize> {
        let name = normalize_symbol(raw).filter(|s| self.wants(s))?;
        if let Some(i) = slots.iter().position(|s| s.name == name) {
            return Some(i);
        }
        slots.push(Slot {
            name,
            guard: SymbolGuard::new(self.cfg.reorder_window_ms),
        });
        Some(slots.len() - 1)
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
}
