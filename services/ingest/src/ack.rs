//! Acknowledgements and the dead-letter stream.
//!
//! An entry is acknowledged only once it left the service: delivered to the
//! subscribers that wanted it, dropped deliberately (duplicate, backpressure)
//! and counted, or copied to the dead-letter stream. [`Acks`] collects those
//! ids from wherever that happens (the pipeline, subscriber streams, the drop of
//! the last reference to a tick) and the acker task writes them in batches:
//! dead letters first (`XADD <dlq> MAXLEN ~ n`), then `XACK` of everything.
//!
//! [`Acks`] also tracks the entries in flight (read, not acknowledged, not
//! handed back), so that re-reading this consumer's pending entries or
//! claiming idle ones never delivers an entry that is still on its way. An
//! entry handed back ([`Acks::release`]) stays pending in Redis and is read
//! again by the next session.
//!
//! When Redis is away, everything stays queued and is retried with backoff.

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shadowkpi_runtime::retry::Backoff;
use shadowkpi_store::{Store, StoreError, StreamEntry};
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

use crate::config::IngestConfig;
use crate::metrics::METRICS;
use crate::stats::Stats;

/// A stream id as two numbers (`<ms>-<seq>`), so the in-flight set hashes no
/// strings.
pub(crate) type EntryKey = (u64, u64);

/// The key of an entry id. Ids that are not `<ms>-<seq>` (never written by
/// Redis) hash into a separate range.
pub(crate) fn entry_key(id: &str) -> EntryKey {
    if let Some((a, b)) = id.split_once('-')
        && let (Ok(a), Ok(b)) = (a.parse(), b.parse())
    {
        return (a, b);
    }
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (u64::MAX, h)
}

/// An entry to copy to the dead-letter stream, then acknowledge.
#[derive(Debug)]
pub(crate) struct DeadLetter {
    pub id: String,
    pub fields: Vec<(String, String)>,
    pub reason: &'static str,
    pub detail: String,
}

#[derive(Debug, Default)]
struct AckState {
    acks: Vec<String>,
    dead: Vec<DeadLetter>,
    inflight: HashSet<EntryKey>,
    /// Entries acknowledged while a read was in flight: its reply may still
    /// list them as pending, so they are not admitted again.
    acked_during_read: HashSet<EntryKey>,
    waiters: Vec<oneshot::Sender<bool>>,
}

impl AckState {
    fn acknowledged(&mut self, id: &str) {
        let k = entry_key(id);
        if self.inflight.remove(&k) {
            self.acked_during_read.insert(k);
        }
    }
}

/// Pending acknowledgements, dead letters and the in-flight set.
#[derive(Debug, Default)]
pub(crate) struct Acks {
    state: Mutex<AckState>,
    notify: Notify,
}

impl Acks {
    fn lock(&self) -> std::sync::MutexGuard<'_, AckState> {
        // Every critical section leaves the state consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called right before a read: forgets what was acknowledged before it.
    pub fn begin_read(&self) {
        self.lock().acked_during_read.clear();
    }

    /// After a read: keeps the entries neither in flight nor acknowledged
    /// since the read began, and marks them in flight.
    pub fn admit(&self, mut entries: Vec<StreamEntry>) -> Vec<StreamEntry> {
        let mut st = self.lock();
        let AckState {
            inflight,
            acked_during_read,
            ..
        } = &mut *st;
        entries.retain(|e| {
            let k = entry_key(&e.id);
            !acked_during_read.contains(&k) && inflight.insert(k)
        });
        acked_during_read.clear();
        entries
    }

    /// Queues one id for `XACK`.
    pub fn ack(&self, id: String) {
        let was_empty = {
            let mut st = self.lock();
            let e = st.acks.is_empty();
            st.acks.push(id);
            e
        };
        if was_empty {
            self.notify.notify_one();
        }
    }

    /// Hands an entry back without acknowledging it: it stays pending and is
    /// read again later.
    pub fn release(&self, id: &str) {
        self.lock().inflight.remove(&entry_key(id));
    }

    /// Hands entries back (see [`Acks::release`]).
    pub fn release_many<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let mut st = self.lock();
        for id in ids {
            st.inflight.remove(&entry_key(id));
        }
    }

    /// Queues an entry for the dead-letter stream.
    pub fn dead_letter(&self, d: DeadLetter) {
        self.lock().dead.push(d);
        self.notify.notify_one();
    }

    /// Waits until the acker has written everything queued so far; false
    /// when it could not (Redis away) or is gone.
    pub async fn flush(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        self.lock().waiters.push(tx);
        self.notify.notify_one();
        rx.await.unwrap_or(false)
    }

    /// Entries in flight.
    pub fn inflight(&self) -> usize {
        self.lock().inflight.len()
    }

    fn is_idle(&self) -> bool {
        let st = self.lock();
        st.acks.is_empty() && st.dead.is_empty()
    }
}

/// The acker task: writes dead letters and acknowledgements in batches until
/// shutdown, then until every subscriber is gone (`no_subscribers`, the hub's
/// answer) and everything is written (at most `drain` longer).
pub(crate) async fn run_acker(
    acks: Arc<Acks>,
    store: Arc<dyn Store>,
    cfg: IngestConfig,
    stats: Arc<Stats>,
    no_subscribers: impl Fn() -> bool,
    shutdown: CancellationToken,
    drain: Duration,
) {
    const ACK_BATCH: usize = 2_000;
    let mut backoff = Backoff::default();
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let wait = backoff.current().unwrap_or(Duration::from_millis(200));
        tokio::select! {
            () = acks.notify.notified() => {}
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled(), if deadline.is_none() => {
                deadline = Some(tokio::time::Instant::now() + drain);
            }
        }
        if backoff.current().is_some() && !backoff.due() {
            continue;
        }
        let (ids, dead, waiters) = {
            let mut st = acks.lock();
            (
                std::mem::take(&mut st.acks),
                std::mem::take(&mut st.dead),
                std::mem::take(&mut st.waiters),
            )
        };
        let ok = write(&*store, &cfg, &stats, &acks, ids, dead, ACK_BATCH).await;
        if ok {
            backoff.reset();
        } else {
            backoff.fail();
        }
        for w in waiters {
            let _ = w.send(ok);
        }
        if let Some(d) = deadline {
            let finished = no_subscribers() && acks.is_idle();
            if finished || tokio::time::Instant::now() >= d {
                if !finished {
                    tracing::warn!(
                        inflight = acks.inflight(),
                        "acknowledgements left pending at shutdown; they will be re-read"
                    );
                }
                return;
            }
        }
    }
}

/// Writes one round; on failure puts back what was not written.
async fn write(
    store: &dyn Store,
    cfg: &IngestConfig,
    stats: &Stats,
    acks: &Acks,
    mut ids: Vec<String>,
    dead: Vec<DeadLetter>,
    batch: usize,
) -> bool {
    if !dead.is_empty() {
        let rows: Vec<Vec<(String, String)>> = dead
            .iter()
            .map(|d| {
                let mut f = d.fields.clone();
                f.push(("source_id".into(), d.id.clone()));
                f.push(("reason".into(), d.reason.into()));
                f.push(("detail".into(), d.detail.clone()));
                f
            })
            .collect();
        match store
            .append(&cfg.dlq_stream, &rows, Some(cfg.dlq_maxlen))
            .await
        {
            Ok(_) => ids.extend(dead.into_iter().map(|d| d.id)),
            Err(e) => {
                note_error(stats, &e, "dead-letter write failed");
                let mut st = acks.lock();
                st.dead.splice(0..0, dead);
                st.acks.splice(0..0, ids);
                return false;
            }
        }
    }
    let mut done = 0;
    while done < ids.len() {
        let end = (done + batch).min(ids.len());
        match store.ack(&cfg.stream, &cfg.group, &ids[done..end]).await {
            Ok(n) => {
                stats.set_redis_up(true);
                stats.acked.fetch_add(n, Relaxed);
                METRICS.acked.inc_by(n);
            }
            // The group is gone (Redis restarted empty): nothing to acknowledge.
            Err(StoreError::Command(m)) if m.contains("NOGROUP") => {}
            Err(e) => {
                note_error(stats, &e, "acknowledgement failed");
                acks.lock().acks.splice(0..0, ids.drain(done..));
                let mut st = acks.lock();
                for id in &ids {
                    st.acknowledged(id);
                }
                return false;
            }
        }
        done = end;
    }
    let mut st = acks.lock();
    for id in &ids {
        st.acknowledged(id);
    }
    true
}

/// Records a store error: Redis down is logged once per outage.
pub(crate) fn note_error(stats: &Stats, e: &StoreError, what: &str) {
    if e.is_transient() {
        if stats.set_redis_up(false) {
            tracing::warn!(error = %e, "redis unreachable, retrying with backoff");
        } else {
            tracing::debug!(error = %e, "{what}");
        }
    } else {
        tracing::warn!(error = %e, "{what}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_become_number_pairs() {
        assert_eq!(entry_key("1700000000000-3"), (1_700_000_000_000, 3));
        assert_eq!(entry_key("odd").0, u64::MAX);
        assert_ne!(entry_key("odd"), entry_key("odder"));
    }

    #[test]
    fn admitted_entries_are_not_admitted_twice_until_released() {
        let acks = Acks::default();
        let e = |id: &str| StreamEntry {
            id: id.into(),
            fields: vec![],
        };
        assert_eq!(acks.admit(vec![e("1-1"), e("1-2")]).len(), 2);
        assert_eq!(acks.admit(vec![e("1-1"), e("1-3")]).len(), 1);
        acks.release("1-1");
        assert_eq!(acks.admit(vec![e("1-1")]).len(), 1);
        assert_eq!(acks.inflight(), 3);
    }

    #[test]
    fn an_entry_acknowledged_during_a_read_is_not_admitted_by_it() {
        let acks = Acks::default();
        let e = |id: &str| StreamEntry {
            id: id.into(),
            fields: vec![],
        };
        assert_eq!(acks.admit(vec![e("1-1"), e("1-2")]).len(), 2);
        acks.begin_read();
        // The read's reply was computed before this acknowledgement landed.
        acks.lock().acknowledged("1-1");
        assert_eq!(acks.admit(vec![e("1-1"), e("1-2"), e("1-3")]).len(), 1);
        // A later read starts afresh.
        acks.begin_read();
        assert_eq!(acks.admit(vec![e("1-1")]).len(), 1);
    }

    #[tokio::test]
    async fn backoff_doubles_up_to_two_seconds() {
        let mut b = Backoff::default();
        let ds: Vec<_> = (0..7).map(|_| b.fail().as_millis()).collect();
        assert_eq!(ds, vec![100, 200, 400, 800, 1600, 2000, 2000]);
        b.reset();
        assert_eq!(b.current(), None);
        assert!(b.due());
    }
}
