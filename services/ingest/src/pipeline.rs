//! The pipeline task: decodes the entries the reader hands over, runs each
//! symbol's guards (reorder buffer, then sequence guard), counts, and fans the
//! released ticks out to the subscribers.
//!
//! It owns all per-symbol state, so the hot path takes no lock except each
//! subscriber's queue once per chunk. Rejected entries go to the acker for the
//! dead-letter stream; duplicates are acknowledged at once; delivered ticks are
//! acknowledged when the subscribers let go of them (see [`crate::hub`]).
//!
//! A chunk read for an earlier session (everyone left meanwhile) is handed
//! back unprocessed; when a session ends, ticks held in the reorder buffers are
//! handed back too and the guards start afresh with the next session.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use shadowkpi_domain::feed::decode::{
    RawTick, Reject, decode_raw, field, has_symbol, ingest_time_ms,
};
use shadowkpi_domain::feed::guard::{Guarded, Sequenced, SymbolGuard, Verdict};
use shadowkpi_domain::symbol::normalize_symbol;
use shadowkpi_proto::v1::{self, IngestCounters, Tick};
use shadowkpi_store::StreamEntry;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::ack::{Acks, DeadLetter};
use crate::config::IngestConfig;
use crate::hub::{Hub, Item, Released, Session, Subscriber};
use crate::metrics::METRICS;
use crate::stats::{Stats, SymbolMeta};

/// Entries read in one go, with the session they were read for.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub epoch: u64,
    pub entries: Vec<StreamEntry>,
    /// Wall-clock time of the read, ms since the epoch (`ts_ingest_ms`).
    pub read_at_ms: i64,
    /// More entries are known to follow right away (a full read, pending or
    /// claimed entries): event time is about to advance.
    pub backlog: bool,
}

/// A decoded entry on its way through the guards: the wire tick it becomes
/// (its symbol set on release, from the symbol's slot, so no name is
/// allocated per entry before then) and the stream entry id to acknowledge.
#[derive(Debug)]
struct Carrier {
    id: String,
    tick: Tick,
}

impl Sequenced for Carrier {
    fn ts_ms(&self) -> i64 {
        self.tick.ts_server_ms
    }
    fn seq(&self) -> u64 {
        self.tick.seq
    }
}

/// The wire tick of a decoded entry read at `read_at_ms`, its symbol left
/// empty (set on release).
pub(crate) fn wire_tick(raw: &RawTick<'_>, read_at_ms: i64) -> Tick {
    Tick {
        symbol: String::new(),
        seq: raw.seq,
        ts_server_ms: raw.ts_server_ms,
        bid: raw.bid,
        ask: raw.ask,
        last_qty: raw.last_qty,
        bid_qty: raw.bid_qty,
        ask_qty: raw.ask_qty,
        last_px: raw.last_px,
        side: v1::Side::from(raw.side) as i32,
        ts_ingest_ms: ingest_time_ms(raw.ts_wall_ms, raw.ts_server_ms, read_at_ms),
        ts_recv_ms: raw.ts_recv_ms,
    }
}

impl Carrier {
    fn new(raw: &RawTick<'_>, id: String, read_at_ms: i64) -> Self {
        Self {
            id,
            tick: wire_tick(raw, read_at_ms),
        }
    }

    fn into_tick(self, symbol: String) -> (Tick, String) {
        let mut tick = self.tick;
        tick.symbol = symbol;
        (tick, self.id)
    }
}

struct SymbolSlot {
    meta: Arc<SymbolMeta>,
    guard: SymbolGuard<Carrier>,
}

/// The pipeline state.
pub(crate) struct Pipeline {
    cfg: IngestConfig,
    hub: Arc<Hub>,
    acks: Arc<Acks>,
    stats: Arc<Stats>,
    session: watch::Receiver<Session>,
    current: Session,
    slots: Vec<SymbolSlot>,
    by_raw: HashMap<String, usize>,
    guarded: Vec<Guarded<Carrier>>,
    events: Vec<Item>,
    subs: (u64, Vec<Arc<Subscriber>>),
    origin: Instant,
    backlog: bool,
    /// When the last chunk arrived (`now_ms`).
    last_chunk_ms: i64,
    rejected_metrics: HashMap<&'static str, prometheus::IntCounter>,
}

impl Pipeline {
    pub fn new(cfg: IngestConfig, hub: Arc<Hub>, acks: Arc<Acks>, stats: Arc<Stats>) -> Self {
        Self {
            session: hub.session(),
            current: Session::default(),
            cfg,
            hub,
            acks,
            stats,
            slots: Vec::new(),
            by_raw: HashMap::new(),
            guarded: Vec::new(),
            events: Vec::new(),
            subs: (u64::MAX, Vec::new()),
            origin: Instant::now(),
            backlog: false,
            last_chunk_ms: 0,
            rejected_metrics: HashMap::new(),
        }
    }

    /// Runs until shutdown or until the reader is gone, then releases what the
    /// reorder buffers hold and lets the streams drain.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Chunk>, shutdown: CancellationToken) {
        let mut timer = tokio::time::interval(Duration::from_millis(10));
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut ticks = 0u32;
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                chunk = rx.recv() => match chunk {
                    Some(c) => self.on_chunk(c),
                    None => break,
                },
                _ = timer.tick() => {
                    self.on_timer();
                    ticks = ticks.wrapping_add(1);
                    if ticks.is_multiple_of(10) {
                        METRICS.queued.set(self.hub.queued_ticks() as f64);
                    }
                }
            }
        }
        self.sync_session();
        if self.current.active {
            for i in 0..self.slots.len() {
                self.slots[i].guard.release_all(&mut self.guarded);
                self.judge(i);
            }
            self.fanout();
        }
        self.hub.set_done();
        tracing::debug!("ingest pipeline stopped");
    }

    fn now_ms(&self) -> i64 {
        self.origin.elapsed().as_millis() as i64
    }

    /// Follows the session; leaving one hands held ticks back and resets the
    /// guards.
    fn sync_session(&mut self) {
        let s = *self.session.borrow_and_update();
        if s == self.current {
            return;
        }
        if s.epoch != self.current.epoch || !s.active {
            let mut handed_back = 0;
            for slot in &mut self.slots {
                let held = slot.guard.reset();
                handed_back += held.len();
                self.acks.release_many(held.iter().map(|c| c.id.as_str()));
            }
            if handed_back > 0 {
                tracing::debug!(handed_back, "session ended, held ticks stay pending");
            }
        }
        self.current = s;
    }

    fn on_chunk(&mut self, chunk: Chunk) {
        let read = chunk.entries.len();
        self.on_chunk_entries(chunk);
        self.hub.offered(read);
    }

    fn on_chunk_entries(&mut self, chunk: Chunk) {
        self.sync_session();
        if !self.current.active || chunk.epoch != self.current.epoch {
            // Read for a session that is over: leave the entries pending.
            self.acks
                .release_many(chunk.entries.iter().map(|e| e.id.as_str()));
            return;
        }
        let n = chunk.entries.len() as u64;
        self.stats.entries_read.fetch_add(n, Relaxed);
        METRICS.entries_read.inc_by(n);
        let now = self.now_ms();
        for entry in chunk.entries {
            self.on_entry(entry, chunk.read_at_ms, now);
        }
        self.backlog = chunk.backlog;
        self.last_chunk_ms = now;
        self.fanout();
    }

    fn on_timer(&mut self) {
        self.sync_session();
        if !self.current.active {
            return;
        }
        let now = self.now_ms();
        let hold = self.cfg.reorder_max_hold.as_millis() as i64;
        // While a backlog is being read, event time is about to release the
        // ticks anyway; only a long stall warrants a wall-clock flush. A
        // backlog read to its very end leaves no short read to say so (the
        // next read just blocks): one without a chunk for `hold` is over, or
        // its last ticks would wait ten times longer than needed.
        let reading = self.backlog && now - self.last_chunk_ms < hold;
        let hold = if reading { hold * 10 } else { hold };
        for i in 0..self.slots.len() {
            if self.slots[i]
                .guard
                .oldest_arrival_ms()
                .is_some_and(|t| now - t >= hold)
            {
                self.slots[i]
                    .guard
                    .release_stale(now, hold, &mut self.guarded);
                self.judge(i);
            }
        }
        self.fanout();
    }

    fn on_entry(&mut self, entry: StreamEntry, read_at_ms: i64, now: i64) {
        let StreamEntry { id, fields } = entry;
        if fields.is_empty() {
            // A pending entry trimmed from the stream: nothing to deliver.
            tracing::debug!(%id, "pending entry no longer in the stream, acknowledged");
            self.acks.ack(id);
            return;
        }
        let decoded = decode_raw(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        match decoded {
            Ok(raw) => {
                let slot = self.slot(raw.symbol);
                let carrier = Carrier::new(&raw, id, read_at_ms);
                self.slots[slot].guard.push(carrier, now, &mut self.guarded);
                self.judge(slot);
            }
            Err(reject) => {
                let symbol = fields
                    .iter()
                    .find(|(k, _)| k == field::SYMBOL)
                    .map(|(_, v)| v.as_str())
                    .filter(|s| has_symbol(s))
                    .map(|s| self.slot(s));
                self.reject(id, fields, reject, symbol);
            }
        }
    }

    /// The slot of a raw symbol spelling, created on first sight.
    fn slot(&mut self, raw: &str) -> usize {
        if let Some(&i) = self.by_raw.get(raw) {
            return i;
        }
        let name = normalize_symbol(raw).unwrap_or_default();
        let i = match self.slots.iter().position(|s| s.meta.name == name) {
            Some(i) => i,
            None => {
                let meta = Arc::new(SymbolMeta::new(name));
                self.stats.add_symbol(meta.clone());
                self.slots.push(SymbolSlot {
                    meta,
                    guard: SymbolGuard::new(self.cfg.reorder_window_ms),
                });
                self.slots.len() - 1
            }
        };
        self.by_raw.insert(raw.to_string(), i);
        i
    }

    fn reject(
        &mut self,
        id: String,
        fields: Vec<(String, String)>,
        reject: Reject,
        symbol: Option<usize>,
    ) {
        let reason = reject.reason.as_str();
        self.stats.rejected.fetch_add(1, Relaxed);
        self.rejected_metrics
            .entry(reason)
            .or_insert_with(|| METRICS.rejected.with_label_values(&[reason]))
            .inc();
        if let Some(i) = symbol {
            let meta = self.slots[i].meta.clone();
            meta.rejected();
            self.events.push(Item::Counters(
                meta,
                IngestCounters {
                    rejected: 1,
                    ..IngestCounters::default()
                },
            ));
        }
        tracing::debug!(%id, reason, detail = %reject.message, "entry rejected to the dead-letter stream");
        self.acks.dead_letter(DeadLetter {
            id,
            fields,
            reason,
            detail: reject.message,
        });
    }

    /// Counts and queues what left slot `i`'s guards.
    fn judge(&mut self, i: usize) {
        if self.guarded.is_empty() {
            return;
        }
        let meta = &self.slots[i].meta;
        for g in self.guarded.drain(..) {
            match g.verdict {
                Verdict::Duplicate => {
                    meta.duplicate();
                    self.events.push(Item::Counters(
                        meta.clone(),
                        IngestCounters {
                            duplicates: 1,
                            ..IngestCounters::default()
                        },
                    ));
                    self.acks.ack(g.item.id);
                }
                Verdict::Deliver { missing, moved } => {
                    if missing > 0 || moved {
                        if missing > 0 {
                            meta.gaps(missing);
                        }
                        if moved {
                            meta.reordered();
                        }
                        self.events.push(Item::Counters(
                            meta.clone(),
                            IngestCounters {
                                seq_gaps: missing,
                                reordered: u64::from(moved),
                                ..IngestCounters::default()
                            },
                        ));
                    }
                    meta.delivered(g.item.tick.seq, g.item.tick.ts_server_ms);
                    let (tick, id) = g.item.into_tick(meta.name.clone());
                    self.events.push(Item::Tick(Released::new(
                        tick,
                        meta.clone(),
                        id,
                        self.acks.clone(),
                    )));
                }
            }
        }
    }

    /// Hands the queued events to every subscriber.
    fn fanout(&mut self) {
        if self.events.is_empty() {
            return;
        }
        self.hub.snapshot(&mut self.subs);
        let mut open = 0;
        for s in &self.subs.1 {
            if s.offer(&self.events) {
                open += 1;
            }
        }
        if open > 0 {
            // Nobody wanted these symbols: they left the service as well.
            for e in &self.events {
                if let Item::Tick(r) = e
                    && Arc::strong_count(r) == 1
                {
                    r.mark_delivered();
                }
            }
        }
        self.events.clear();
    }
}
