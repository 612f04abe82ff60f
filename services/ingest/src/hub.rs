//! Subscribers: their bounded buffers, the fan-out of released ticks, and the
//! `Subscribe` response stream.
//!
//! Each subscriber has a bounded queue (drop-oldest). The pipeline pushes every
//! tick a subscriber wants into its queue, with counter markers (gaps,
//! reordering, duplicates, rejects) right before the tick they belong to. The
//! response stream *pulls*: when tonic asks for the next message it takes up to
//! a batch of ticks and the counters met on the way. A slow client therefore
//! never blocks anyone: HTTP/2 flow control stops the pulling, its queue fills,
//! the oldest ticks are dropped and counted, and memory stays bounded.
//!
//! The reader paces itself on the emptiest queue ([`Hub::room`]): a backlog is
//! read as fast as the fastest subscriber takes it, so only slower ones drop.
//!
//! A tick is shared (`Arc<Released>`) by every queue that holds it. It is
//! acknowledged when the last reference goes, provided someone took it, dropped
//! it on purpose, or left while others remained; when the last subscriber
//! leaves with ticks still queued, they are handed back unacknowledged and the
//! next subscriber gets them from Redis.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use shadowkpi_proto::v1::{IngestCounters, SubscribeResponse, Tick};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::ack::Acks;
use crate::error::IngestError;
use crate::metrics::METRICS;
use crate::stats::{SymbolMeta, add_counters};

/// A tick that passed the guards, shared by the queues that hold it.
pub(crate) struct Released {
    tick: Tick,
    pub sym: Arc<SymbolMeta>,
    id: String,
    delivered: AtomicBool,
    acks: Arc<Acks>,
}

impl std::fmt::Debug for Released {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Released")
            .field("id", &self.id)
            .field("symbol", &self.sym.name)
            .finish()
    }
}

impl Released {
    pub fn new(tick: Tick, sym: Arc<SymbolMeta>, id: String, acks: Arc<Acks>) -> Arc<Self> {
        Arc::new(Self {
            tick,
            sym,
            id,
            delivered: AtomicBool::new(false),
            acks,
        })
    }

    /// The tick left the service (or was dropped on purpose): acknowledge it
    /// once the last holder lets go.
    pub fn mark_delivered(&self) {
        self.delivered.store(true, Relaxed);
    }

    /// Takes the tick out for the wire (no copy when this is the last holder).
    fn take(mut this: Arc<Self>) -> Tick {
        this.mark_delivered();
        match Arc::get_mut(&mut this) {
            Some(r) => std::mem::take(&mut r.tick),
            None => this.tick.clone(),
        }
    }
}

impl Drop for Released {
    fn drop(&mut self) {
        if self.delivered.load(Relaxed) {
            self.acks.ack(std::mem::take(&mut self.id));
        } else {
            self.acks.release(&self.id);
        }
    }
}

/// One element of a subscriber queue.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// A tick.
    Tick(Arc<Released>),
    /// Counter increments that belong right before the next tick.
    Counters(Arc<SymbolMeta>, IngestCounters),
}

impl Item {
    fn symbol(&self) -> &str {
        match self {
            Item::Tick(r) => &r.sym.name,
            Item::Counters(m, _) => &m.name,
        }
    }
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Item>,
    ticks: usize,
    carry: BTreeMap<String, IngestCounters>,
    closed: bool,
}

/// Adds `c` to the counters of `sym` (allocating the key only once).
fn add_into(map: &mut BTreeMap<String, IngestCounters>, sym: &str, c: &IngestCounters) {
    match map.get_mut(sym) {
        Some(slot) => add_counters(slot, c),
        None => {
            map.insert(sym.to_string(), *c);
        }
    }
}

impl Queue {
    fn push(&mut self, item: Item, capacity: usize) {
        while self.items.len() >= capacity {
            match self.items.pop_front() {
                Some(Item::Tick(r)) => {
                    self.ticks -= 1;
                    r.mark_delivered();
                    r.sym.bp_drop();
                    let drop = IngestCounters {
                        bp_drops: 1,
                        ..IngestCounters::default()
                    };
                    add_into(&mut self.carry, &r.sym.name, &drop);
                }
                Some(Item::Counters(m, c)) => add_into(&mut self.carry, &m.name, &c),
                None => break,
            }
        }
        if matches!(item, Item::Tick(_)) {
            self.ticks += 1;
        }
        self.items.push_back(item);
    }
}

/// One open `Subscribe` stream.
#[derive(Debug)]
pub(crate) struct Subscriber {
    pub id: u64,
    pub name: String,
    filter: Vec<String>,
    max_batch: usize,
    capacity: usize,
    queue: Mutex<Queue>,
    notify: Notify,
    room: Arc<Notify>,
}

impl Subscriber {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wants(&self, symbol: &str) -> bool {
        self.filter.is_empty() || self.filter.iter().any(|f| f == symbol)
    }

    /// Pushes the events this subscriber wants; false when it is closed.
    pub fn offer(&self, events: &[Item]) -> bool {
        let mut q = self.lock();
        if q.closed {
            return false;
        }
        let mut any = false;
        for e in events {
            if self.wants(e.symbol()) {
                q.push(e.clone(), self.capacity);
                any = true;
            }
        }
        drop(q);
        if any {
            self.notify.notify_one();
        }
        true
    }

    /// Takes the next batch: pending counters and up to `max_batch` ticks.
    fn take_batch(&self) -> Option<SubscribeResponse> {
        let mut q = self.lock();
        if q.items.is_empty() && q.carry.is_empty() {
            return None;
        }
        let mut counters = std::mem::take(&mut q.carry);
        let mut taken = Vec::with_capacity(q.ticks.min(self.max_batch));
        while taken.len() < self.max_batch {
            match q.items.pop_front() {
                Some(Item::Tick(r)) => taken.push(r),
                Some(Item::Counters(m, c)) => add_into(&mut counters, &m.name, &c),
                None => break,
            }
        }
        q.ticks -= taken.len();
        drop(q);
        self.room.notify_waiters();
        Some(SubscribeResponse {
            ticks: taken.into_iter().map(Released::take).collect(),
            counters,
            position: String::new(),
        })
    }

    fn queued_ticks(&self) -> usize {
        self.lock().ticks
    }

    /// Free slots in the queue; `None` once closed.
    fn room(&self) -> Option<usize> {
        let q = self.lock();
        (!q.closed).then(|| self.capacity.saturating_sub(q.items.len()))
    }

    /// Closes the queue; queued ticks count as delivered when `deliver` (the
    /// subscriber left while others remain) and are handed back otherwise.
    fn close(&self, deliver: bool) {
        let items = {
            let mut q = self.lock();
            q.closed = true;
            q.ticks = 0;
            q.carry.clear();
            std::mem::take(&mut q.items)
        };
        if deliver {
            for i in &items {
                if let Item::Tick(r) = i {
                    r.mark_delivered();
                }
            }
        }
        drop(items);
    }
}

/// The subscription state the reader and the pipeline follow: a new epoch
/// starts whenever the first subscriber arrives; `active` is false while
/// nobody is subscribed (and nothing is read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Session {
    pub epoch: u64,
    pub active: bool,
}

/// The set of subscribers.
#[derive(Debug)]
pub(crate) struct Hub {
    subs: Mutex<Vec<Arc<Subscriber>>>,
    generation: AtomicU64,
    next_id: AtomicU64,
    session: watch::Sender<Session>,
    done: AtomicBool,
    room: Arc<Notify>,
    in_flight: std::sync::atomic::AtomicUsize,
}

impl Hub {
    pub fn new() -> Self {
        METRICS.subscribers.set(0.0);
        Self {
            subs: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
            session: watch::Sender::new(Session::default()),
            done: AtomicBool::new(false),
            room: Arc::new(Notify::new()),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Free slots of the emptiest queue (`usize::MAX` without subscribers).
    /// The reader paces itself on it, so a backlog is read as fast as the
    /// fastest subscriber takes it and only slower ones drop.
    pub fn room(&self) -> usize {
        self.lock()
            .iter()
            .filter_map(|s| s.room())
            .max()
            .unwrap_or(usize::MAX)
            .saturating_sub(self.in_flight.load(Relaxed))
    }

    /// Entries read from Redis but not yet handed to the queues (on their way
    /// through the pipeline): they will take room, so [`Hub::room`] counts
    /// them as taken. Without this a fast reader overfills a lone subscriber.
    pub fn read_in_flight(&self, n: usize) {
        self.in_flight.fetch_add(n, Relaxed);
    }

    /// The pipeline has offered `n` in-flight entries to the queues.
    pub fn offered(&self, n: usize) {
        // Never below zero, even if a chunk of an old session is dropped.
        let _ = self
            .in_flight
            .fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(n)));
        self.room.notify_waiters();
    }

    /// Resolves when a subscriber took a batch or the set changed; enable it
    /// before checking [`Hub::room`].
    pub fn room_changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.room.notified()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Subscriber>>> {
        self.subs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows the session.
    pub fn session(&self) -> watch::Receiver<Session> {
        self.session.subscribe()
    }

    /// Open subscriptions.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nobody is subscribed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ticks waiting in all queues.
    pub fn queued_ticks(&self) -> usize {
        self.lock().iter().map(|s| s.queued_ticks()).sum()
    }

    /// Registers a subscriber.
    pub fn add(
        &self,
        name: String,
        filter: Vec<String>,
        max_batch: usize,
        capacity: usize,
        limit: usize,
    ) -> Result<Arc<Subscriber>, IngestError> {
        if self.done.load(Relaxed) {
            return Err(IngestError::ShuttingDown);
        }
        let sub = Arc::new(Subscriber {
            id: self.next_id.fetch_add(1, Relaxed),
            name,
            filter,
            max_batch: max_batch.max(1),
            capacity: capacity.max(1),
            queue: Mutex::new(Queue::default()),
            notify: Notify::new(),
            room: self.room.clone(),
        });
        let n = {
            let mut subs = self.lock();
            if subs.len() >= limit {
                return Err(IngestError::TooManySubscribers { limit });
            }
            subs.push(sub.clone());
            self.generation.fetch_add(1, Relaxed);
            if subs.len() == 1 {
                self.session.send_modify(|s| {
                    s.epoch += 1;
                    s.active = true;
                });
            }
            subs.len()
        };
        METRICS.subscribers.set(n as f64);
        self.room.notify_waiters();
        Ok(sub)
    }

    /// Removes a subscriber (its stream ended or the client went away).
    pub fn remove(&self, id: u64) {
        let (sub, last) = {
            let mut subs = self.lock();
            let Some(pos) = subs.iter().position(|s| s.id == id) else {
                return;
            };
            let sub = subs.remove(pos);
            self.generation.fetch_add(1, Relaxed);
            (sub, subs.is_empty())
        };
        // Hand the queue back before the session ends, so the next session's
        // re-read of pending entries finds them.
        sub.close(!last);
        let n = {
            let subs = self.lock();
            if subs.is_empty() {
                self.session.send_if_modified(|s| {
                    let changed = s.active;
                    s.active = false;
                    changed
                });
            }
            subs.len()
        };
        METRICS.subscribers.set(n as f64);
        self.room.notify_waiters();
        tracing::info!(subscriber = %sub.name, id, remaining = n, "subscriber left");
    }

    /// The current subscribers, refreshed into `cache` when they changed.
    pub fn snapshot(&self, cache: &mut (u64, Vec<Arc<Subscriber>>)) {
        let g = self.generation.load(Relaxed);
        if g != cache.0 {
            let subs = self.lock();
            cache.1.clear();
            cache.1.extend(subs.iter().cloned());
            cache.0 = self.generation.load(Relaxed);
        }
    }

    /// The pipeline has stopped: streams drain their queues and end.
    pub fn set_done(&self) {
        self.done.store(true, Relaxed);
        for s in self.lock().iter() {
            s.notify.notify_one();
        }
    }

    fn is_done(&self) -> bool {
        self.done.load(Relaxed)
    }
}

/// Removes the subscriber when the response stream is dropped (client gone,
/// stream ended), so its resources are freed at once.
struct Registration {
    hub: Arc<Hub>,
    sub: Arc<Subscriber>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.remove(self.sub.id);
    }
}

/// The response stream of one subscription.
pub(crate) fn response_stream(
    hub: Arc<Hub>,
    sub: Arc<Subscriber>,
    shutdown: CancellationToken,
) -> impl futures::Stream<Item = Result<SubscribeResponse, tonic::Status>> + Send + 'static {
    let reg = Registration { hub, sub };
    futures::stream::unfold(
        (reg, shutdown, false),
        |(reg, shutdown, stopping)| async move {
            let mut stopping = stopping;
            loop {
                if let Some(batch) = reg.sub.take_batch() {
                    return Some((Ok(batch), (reg, shutdown, stopping)));
                }
                if reg.hub.is_done() {
                    return None;
                }
                if stopping {
                    // Shutdown: wait for the pipeline's last flush, then drain.
                    reg.sub.notify.notified().await;
                    continue;
                }
                tokio::select! {
                    () = reg.sub.notify.notified() => {}
                    () = shutdown.cancelled() => stopping = true,
                }
            }
        },
    )
}
